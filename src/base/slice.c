#include "base/slice.h"

#include <stdlib.h>

static inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c; }

bool qs_slice_eq_nocase(qs_slice_t a, qs_slice_t b) {
  if (a.len != b.len) return false;
  for (size_t i = 0; i < a.len; i++)
    if (ascii_lower(a.ptr[i]) != ascii_lower(b.ptr[i])) return false;
  return true;
}

char *qs_slice_strdup(qs_slice_t s) {
  char *copy = malloc(s.len + 1);
  if (!copy) return NULL;
  if (s.len) memcpy(copy, s.ptr, s.len);
  copy[s.len] = '\0';
  return copy;
}
