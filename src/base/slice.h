/* Borrowed byte ranges. A slice never owns its bytes and is never assumed to be
 * NUL-terminated; whoever hands one out says how long the bytes stay valid. */
#ifndef QS_BASE_SLICE_H
#define QS_BASE_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct {
  const char *ptr;
  size_t len;
} qs_slice_t;

/* A slice over a NUL-terminated string (the NUL is not included). */
static inline qs_slice_t qs_slice_from_cstr(const char *s) { return (qs_slice_t){s, s ? strlen(s) : 0}; }

/* A slice over (ptr, len). */
static inline qs_slice_t qs_slice(const char *ptr, size_t len) { return (qs_slice_t){ptr, len}; }

/* True when both slices hold the same bytes. */
static inline bool qs_slice_eq(qs_slice_t a, qs_slice_t b) {
  return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* True when the slice holds exactly the bytes of the NUL-terminated `s`. */
static inline bool qs_slice_eq_cstr(qs_slice_t a, const char *s) {
  return qs_slice_eq(a, qs_slice_from_cstr(s));
}

/* ASCII case-insensitive equality. */
bool qs_slice_eq_nocase(qs_slice_t a, qs_slice_t b);

/* True when `s` starts with `prefix`. */
static inline bool qs_slice_starts_with(qs_slice_t s, qs_slice_t prefix) {
  return s.len >= prefix.len && (prefix.len == 0 || memcmp(s.ptr, prefix.ptr, prefix.len) == 0);
}

/* A heap copy of the bytes, NUL-terminated; the caller frees it. NULL when out of memory. */
char *qs_slice_strdup(qs_slice_t s);

#endif
