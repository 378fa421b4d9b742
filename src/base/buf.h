/* Growable byte buffers with a maximum size fixed at creation. Appending past
 * the maximum fails with QS_ETOOBIG and leaves the buffer unchanged. */
#ifndef QS_BASE_BUF_H
#define QS_BASE_BUF_H

#include <stddef.h>

#include "base/slice.h"

typedef struct {
  char *ptr; /* owned; NUL-terminated after every successful append */
  size_t len;
  size_t cap;
  size_t max_bytes; /* hard limit on len */
} qs_buf_t;

/* Initializes an empty buffer that may grow up to `max_bytes`. Allocates nothing. */
void qs_buf_init(qs_buf_t *buf, size_t max_bytes);

/* Frees the bytes; the buffer may be initialized again. */
void qs_buf_dispose(qs_buf_t *buf);

/* Appends bytes: 0, QS_ETOOBIG past max_bytes, or QS_ENOMEM. */
int qs_buf_append(qs_buf_t *buf, const void *data, size_t len);

/* Makes room for `extra` more bytes at once (QS_ETOOBIG past max_bytes). */
int qs_buf_reserve(qs_buf_t *buf, size_t extra);

/* Appends a NUL-terminated string. */
int qs_buf_append_cstr(qs_buf_t *buf, const char *s);

/* Appends printf-formatted text. */
int qs_buf_appendf(qs_buf_t *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Empties the buffer, keeping its memory. */
static inline void qs_buf_reset(qs_buf_t *buf) {
  buf->len = 0;
  if (buf->ptr) buf->ptr[0] = '\0';
}

/* The contents as a slice, valid until the next change of the buffer. */
static inline qs_slice_t qs_buf_slice(const qs_buf_t *buf) { return (qs_slice_t){buf->ptr, buf->len}; }

/* Hands the bytes to the caller (who frees them) and leaves the buffer empty.
 * Returns a NUL-terminated string even when nothing was appended (NULL when out of memory). */
char *qs_buf_steal(qs_buf_t *buf, size_t *len_out);

#endif
