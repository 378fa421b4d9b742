/* JWS compact serialization (RFC 7515 §7.1) for JWTs: splits a token into
 * its three parts, decodes them, parses the header and the claims as JSON
 * objects and checks the protected header. It verifies nothing: see
 * qs_jwt_key_verify() and qs_auth_verify(). */
#ifndef QS_AUTH_JWS_H
#define QS_AUTH_JWS_H

#include <jansson.h>
#include <stddef.h>

#include "auth/key.h"
#include "base/buf.h"
#include "base/slice.h"

/* Default cap on a whole token, in bytes. */
#define QS_JWS_DEFAULT_MAX_TOKEN_BYTES 8192

typedef struct {
  json_t *header;           /* owned: the protected header, a JSON object */
  json_t *claims;           /* owned: the JWT claims set, a JSON object */
  qs_jwt_alg_t alg;         /* the header's `alg`, known and not "none" */
  qs_slice_t typ;           /* the header's `typ`, empty when absent; borrowed from `header` */
  qs_slice_t kid;           /* the header's `kid`, empty when absent; borrowed from `header` */
  qs_slice_t signing_input; /* borrowed from the token: header '.' payload */
  qs_buf_t signature;       /* owned: the decoded signature */
} qs_jws_t;

/* Parses `token` (at most `max_token_bytes`, 0 meaning the default) into
 * `jws`. Checks: exactly three dot-separated parts, strict base64url in each,
 * header and claims are JSON objects without duplicate members, `alg` is a
 * known algorithm ("none" refused), `crit` absent (RFC 7515 §4.1.11: no
 * extension is understood), `typ`/`kid` strings when present. `jku`, `jwk`,
 * `x5u`, `x5c` are ignored: keys come only from configuration. Returns 0,
 * QS_ETOOBIG, QS_EPARSE (malformed), QS_EUNSUPPORTED (alg or crit) or
 * QS_ENOMEM, with `*reason` set to a static explanation on failure. `token`
 * must outlive `jws`; on success the caller disposes `jws`, on failure there is
 * nothing to dispose. */
int qs_jws_parse(qs_slice_t token, size_t max_token_bytes, qs_jws_t *jws, const char **reason);

/* Frees what qs_jws_parse() allocated. */
void qs_jws_dispose(qs_jws_t *jws);

/* Parses (ptr, len) as one JSON object, rejecting duplicate members and NUL
 * characters in strings. Returns the object (caller decrefs) or NULL. */
json_t *qs_json_parse_object(const char *ptr, size_t len);

#endif
