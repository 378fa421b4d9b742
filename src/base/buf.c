#include "base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

void qs_buf_init(qs_buf_t *buf, size_t max_bytes) {
  *buf = (qs_buf_t){.ptr = NULL, .len = 0, .cap = 0, .max_bytes = max_bytes};
}

void qs_buf_dispose(qs_buf_t *buf) {
  free(buf->ptr);
  buf->ptr = NULL;
  buf->len = buf->cap = 0;
}

static int reserve(qs_buf_t *buf, size_t extra) {
  if (extra > buf->max_bytes || buf->len > buf->max_bytes - extra) return QS_ETOOBIG;
  size_t need = buf->len + extra + 1;
  if (need <= buf->cap) return 0;
  size_t cap = buf->cap ? buf->cap : 64;
  while (cap < need) cap *= 2;
  char *p = realloc(buf->ptr, cap);
  if (!p) return QS_ENOMEM;
  buf->ptr = p;
  buf->cap = cap;
  return 0;
}

int qs_buf_reserve(qs_buf_t *buf, size_t extra) { return reserve(buf, extra); }

int qs_buf_append(qs_buf_t *buf, const void *data, size_t len) {
  int rc = reserve(buf, len);
  if (rc) return rc;
  if (len) memcpy(buf->ptr + buf->len, data, len);
  buf->len += len;
  buf->ptr[buf->len] = '\0';
  return 0;
}

int qs_buf_append_cstr(qs_buf_t *buf, const char *s) { return qs_buf_append(buf, s, strlen(s)); }

int qs_buf_appendf(qs_buf_t *buf, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char small[256];
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return QS_EINVAL;
  if ((size_t)n < sizeof small) return qs_buf_append(buf, small, (size_t)n);
  int rc = reserve(buf, (size_t)n);
  if (rc) return rc;
  va_start(ap, fmt);
  vsnprintf(buf->ptr + buf->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  buf->len += (size_t)n;
  return 0;
}

char *qs_buf_steal(qs_buf_t *buf, size_t *len_out) {
  if (!buf->ptr && qs_buf_append(buf, "", 0) != 0) return NULL;
  char *p = buf->ptr;
  if (len_out) *len_out = buf->len;
  buf->ptr = NULL;
  buf->len = buf->cap = 0;
  return p;
}
