/* Minting JWTs, for development (`quicksilver token`, the dev-key banner at
 * start-up) and tests: HMAC with a shared secret, or RS/PS/ES/EdDSA with a
 * PEM private key. Never used to verify. */
#ifndef QS_AUTH_MINT_H
#define QS_AUTH_MINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/key.h"
#include "base/buf.h"
#include "base/slice.h"
#include "match/matcher.h"

/* Appends the JWS compact serialization of `claims_json` under
 * `header_json`, signed with `alg` (HS256/HS384/HS512) and `secret`, to
 * `out`. Both JSON texts are encoded as given, byte for byte. Returns 0,
 * QS_EINVAL (not an HS alg, empty secret) or the error of qs_buf_append;
 * `out` is unchanged on failure. */
int qs_jwt_sign_hs(qs_jwt_alg_t alg, qs_slice_t secret, qs_slice_t header_json, qs_slice_t claims_json,
                   qs_buf_t *out);

/* Appends the JWS compact serialization of `claims_json` under
 * `header_json` (both encoded byte for byte) signed with `alg` to `out`:
 * `key` is the HMAC secret for HS*, else a PEM private key ("BEGIN PRIVATE
 * KEY", "BEGIN RSA/EC PRIVATE KEY") fitting `alg` (RSA for RS* and PS*, the
 * curve of ES*, Ed25519 for EdDSA). ES* signatures are written as JOSE
 * R || S (RFC 7518 §3.4). Returns 0, QS_EINVAL with `*reason` set (the key
 * does not fit), QS_ENOMEM or the error of qs_buf_append; `out` is unchanged
 * on failure. */
int qs_jwt_sign(qs_jwt_alg_t alg, qs_slice_t key, qs_slice_t header_json, qs_slice_t claims_json,
                qs_buf_t *out, const char **reason);

typedef enum {
  QS_TOKEN_FORMAT_LEGACY,  /* {"typ":"JWT"}, claims {"exp"?, "mercure":{"publish","subscribe","payload"?}} */
  QS_TOKEN_FORMAT_DRAFT08, /* {"typ":"at+jwt"}, claims with `authorization_details` */
} qs_token_format_t;

/* What to put in a minted token; every slice is borrowed for the call. */
typedef struct {
  qs_token_format_t format;
  qs_jwt_alg_t alg;          /* HS256 when QS_JWT_ALG_INVALID (0) */
  qs_slice_t secret;         /* the HMAC secret, or a PEM private key for other algorithms */
  const qs_slice_t *publish; /* topic selectors granted for publishing */
  size_t publish_count;
  const qs_slice_t *subscribe; /* topic selectors granted for subscribing */
  size_t subscribe_count;
  qs_match_type_t match_type; /* draft-08: the match_type of every topic (exact is not written) */
  qs_slice_t
      payload_json;     /* optional JSON value: legacy `mercure.payload` or the subscribe detail's payload */
  int64_t now_ms;       /* issue time; 0: qs_clock_wall_ms() */
  int64_t lifetime_s;   /* exp = now + lifetime; 0: no exp (legacy only; draft-08 requires one) */
  qs_slice_t audience;  /* draft-08 `aud`, optional */
  qs_slice_t issuer;    /* `iss`, optional */
  qs_slice_t subject;   /* `sub`, optional */
  qs_slice_t kid;       /* header `kid`, optional */
  qs_slice_t client_id; /* draft-08 `client_id` (RFC 9068), optional */
  qs_slice_t jti;       /* draft-08 `jti`, optional */
  int64_t expires_s;    /* absolute `exp` (NumericDate); overrides lifetime_s when not 0 */
  /* Optional per-selector match types (draft-08), parallel to publish and
   * subscribe; NULL: every selector has `match_type`. */
  const qs_match_type_t *publish_match_types;
  const qs_match_type_t *subscribe_match_types;
  bool publish_first; /* draft-08: the publish detail before the subscribe one (as the reference hub) */
} qs_token_spec_t;

/* Builds and signs a token for `spec`, appending it to `out`. A draft-08
 * token holds a subscribe detail (if any subscribe selector) then a publish
 * detail (if any publish selector), like symfony/mercure 0.8. Returns 0,
 * QS_EINVAL (bad alg, empty secret, a key that does not fit, payload that
 * is not JSON, draft-08 without lifetime), QS_ENOMEM, or the error of
 * qs_buf_append. */
int qs_token_mint(const qs_token_spec_t *spec, qs_buf_t *out);

#endif
