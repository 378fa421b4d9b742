/* base64url (RFC 4648 §5) without padding, as JWS compact serialization uses
 * it (RFC 7515 §2). Decoding is strict: no `=`, no whitespace, no characters
 * outside [A-Za-z0-9_-], no impossible length, no non-zero trailing bits. */
#ifndef QS_AUTH_BASE64URL_H
#define QS_AUTH_BASE64URL_H

#include <stddef.h>

#include "base/buf.h"
#include "base/slice.h"

/* Number of bytes `in_len` base64url characters decode to; SIZE_MAX when no
 * valid input has that length (len % 4 == 1). */
size_t qs_base64url_decoded_len(size_t in_len);

/* Appends the decoded bytes of `in` to `out`. Returns 0, QS_EPARSE for input
 * that is not strict unpadded base64url (`out` is then unchanged), or the
 * error of qs_buf_append (QS_ETOOBIG past the buffer's maximum, QS_ENOMEM). */
int qs_base64url_decode(qs_slice_t in, qs_buf_t *out);

/* Appends the unpadded base64url encoding of (data, len) to `out`. Returns 0
 * or the error of qs_buf_append. */
int qs_base64url_encode(const void *data, size_t len, qs_buf_t *out);

#endif
