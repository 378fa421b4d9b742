/* Percent-decoding (see percent.h). */
#include "base/percent.h"

#include <stdbool.h>

#include "base/error.h"

int qs_hex_digit_value(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

int qs_percent_decode(qs_slice_t in, unsigned flags, char *out, size_t *out_len) {
  size_t n = 0;
  for (size_t i = 0; i < in.len; i++) {
    char c = in.ptr[i];
    if (c == '+' && (flags & QS_PERCENT_PLUS_IS_SPACE)) {
      out[n++] = ' ';
      continue;
    }
    if (c != '%') {
      out[n++] = c;
      continue;
    }
    int hi = i + 2 < in.len ? qs_hex_digit_value(in.ptr[i + 1]) : -1;
    int lo = hi >= 0 ? qs_hex_digit_value(in.ptr[i + 2]) : -1;
    if (lo < 0) {
      if (flags & QS_PERCENT_STRICT) {
        *out_len = n;
        return QS_EPARSE;
      }
      out[n++] = c;
      continue;
    }
    unsigned char byte = (unsigned char)(hi * 16 + lo);
    if ((flags & QS_PERCENT_UNRESERVED_ONLY) && !is_unreserved(byte)) {
      out[n++] = c;
      continue;
    }
    out[n++] = (char)byte;
    i += 2;
  }
  *out_len = n;
  return 0;
}

int qs_percent_decode_append(qs_slice_t in, unsigned flags, qs_buf_t *out) {
  int rc = qs_buf_reserve(out, in.len);
  if (rc) return rc;
  size_t n = 0;
  rc = qs_percent_decode(in, flags, out->ptr + out->len, &n);
  if (rc == 0) out->len += n;
  out->ptr[out->len] = '\0';
  return rc;
}
