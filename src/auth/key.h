/* JWS algorithms and verification keys (RFC 7515, RFC 7518, RFC 8037) on
 * OpenSSL 3 EVP. A key is bound to exactly one algorithm at creation, so the
 * accepted algorithm never comes from the token; its material must fit that
 * algorithm (a PEM key is never used as an HMAC secret). A key is immutable
 * after creation and may verify from several threads at once.
 *
 * This is the key-source seam: static keys come from configuration through
 * qs_jwt_key_create(); a JWKS source would build the same objects from JWKs. */
#ifndef QS_AUTH_KEY_H
#define QS_AUTH_KEY_H

#include <stdbool.h>

#include "base/buf.h"
#include "base/slice.h"

typedef enum {
  QS_JWT_ALG_INVALID = 0,
  QS_JWT_HS256,
  QS_JWT_HS384,
  QS_JWT_HS512,
  QS_JWT_RS256,
  QS_JWT_RS384,
  QS_JWT_RS512,
  QS_JWT_PS256,
  QS_JWT_PS384,
  QS_JWT_PS512,
  QS_JWT_ES256,
  QS_JWT_ES384,
  QS_JWT_ES512,
  QS_JWT_EDDSA, /* Ed25519 only */
} qs_jwt_alg_t;

/* Parses a JWS `alg` name (case-sensitive, RFC 7518 §3.1). Returns 0, or
 * QS_EUNSUPPORTED for "none" and every name not listed above. */
int qs_jwt_alg_parse(qs_slice_t name, qs_jwt_alg_t *out);

/* The `alg` name of `alg` ("HS256"...); "invalid" for QS_JWT_ALG_INVALID. */
const char *qs_jwt_alg_name(qs_jwt_alg_t alg);

/* True for HS256/HS384/HS512 (keys are shared secrets). */
bool qs_jwt_alg_is_hmac(qs_jwt_alg_t alg);

typedef struct qs_jwt_key qs_jwt_key_t;

/* Creates a verification key for `alg` from `material` (copied): the raw
 * secret bytes for HS* (at least 1 byte, at most 4096, and not a PEM
 * document), or a PEM public key ("BEGIN PUBLIC KEY") or certificate
 * ("BEGIN CERTIFICATE") whose type fits `alg` otherwise: RSA of at least 2048
 * bits for RS* and PS*, EC P-256/P-384/P-521 for ES256/ES384/ES512, Ed25519
 * for EdDSA. Returns 0, QS_EINVAL with `*reason` set to a static explanation,
 * or QS_ENOMEM. The caller destroys the key. */
int qs_jwt_key_create(qs_jwt_alg_t alg, qs_slice_t material, qs_jwt_key_t **out, const char **reason);

/* Frees a key (NULL is fine). */
void qs_jwt_key_destroy(qs_jwt_key_t *key);

/* The one algorithm the key accepts. */
qs_jwt_alg_t qs_jwt_key_alg(const qs_jwt_key_t *key);

/* Verifies the JWS `signature` (raw bytes, after base64url decoding) over
 * `signing_input` (ASCII(BASE64URL(header) || '.' || BASE64URL(payload))).
 * Returns 0 when valid, QS_EAUTH when not (including an `alg` other than the
 * key's own and a signature of the wrong length), QS_ENOMEM. HMAC tags are
 * compared in constant time. */
int qs_jwt_key_verify(const qs_jwt_key_t *key, qs_jwt_alg_t alg, qs_slice_t signing_input,
                      qs_slice_t signature);

/* Reads a configured key: "@PATH" is the content of the file PATH ("@-":
 * standard input), anything else is the key itself. Appends the bytes to
 * `out` (at most QS_JWT_KEY_MAX_FILE_BYTES from a file; the trailing line
 * breaks of a file that is not PEM are dropped, as editors add one after a
 * secret). Returns 0, QS_EIO
 * with `*reason` set (unreadable or too large; the reason names no key
 * bytes) or the error of qs_buf_append. */
#define QS_JWT_KEY_MAX_FILE_BYTES (64 * 1024)
int qs_jwt_key_read(const char *value, qs_buf_t *out, const char **reason);

/* Appends the raw HMAC tag of `data` under `secret` for an HS* `alg` to `out`.
 * Returns 0, QS_EINVAL for a non-HMAC alg or an empty secret, or the error of
 * qs_buf_append. For minting development tokens and for tests. */
int qs_jwt_hmac(qs_jwt_alg_t alg, qs_slice_t secret, qs_slice_t data, qs_buf_t *out);

#endif
