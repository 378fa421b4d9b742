/* Percent-decoding (RFC 3986 section 2.1, the URL Standard's
 * "percent-decode"), the one decoder every layer uses. */
#ifndef QS_BASE_PERCENT_H
#define QS_BASE_PERCENT_H

#include <stddef.h>

#include "base/buf.h"
#include "base/slice.h"

/* The value of the hexadecimal digit `c` (0 to 15), or -1. */
int qs_hex_digit_value(int c);

/* How qs_percent_decode reads its input; flags may be combined. */
enum {
  /* application/x-www-form-urlencoded: '+' is a space. */
  QS_PERCENT_PLUS_IS_SPACE = 1u << 0,
  /* A '%' not followed by two hexadecimal digits is an error (without this
   * flag it stays as it is, as the URL Standard says). */
  QS_PERCENT_STRICT = 1u << 1,
  /* Only escapes of RFC 3986 unreserved characters (letters, digits, "-._~")
   * are decoded; "%2F" and the like stay encoded. */
  QS_PERCENT_UNRESERVED_ONLY = 1u << 2,
};

/* Decodes `in` into `out`, which has room for in.len bytes (decoding never
 * grows), and sets *out_len. Returns 0, or QS_EPARSE on a bad escape with
 * QS_PERCENT_STRICT (then `out` holds a partial result). */
int qs_percent_decode(qs_slice_t in, unsigned flags, char *out, size_t *out_len);

/* Appends the decoding of `in` to `out`, as qs_percent_decode. Returns 0,
 * QS_ETOOBIG when in.len more bytes would pass out's limit, QS_ENOMEM, or
 * QS_EPARSE (QS_PERCENT_STRICT; `out` is then unchanged). */
int qs_percent_decode_append(qs_slice_t in, unsigned flags, qs_buf_t *out);

#endif
