/* Minting HMAC-signed JWTs, for development (`quicksilver token`, the
 * dev-key banner at start-up) and tests. Never used to verify. */
#ifndef QS_AUTH_MINT_H
#define QS_AUTH_MINT_H

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

typedef enum {
  QS_TOKEN_FORMAT_LEGACY,  /* {"typ":"JWT"}, claims {"exp"?, "mercure":{"publish","subscribe","payload"?}} */
  QS_TOKEN_FORMAT_DRAFT08, /* {"typ":"at+jwt"}, claims with `authorization_details` */
} qs_token_format_t;

/* What to put in a minted token; every slice is borrowed for the call. */
typedef struct {
  qs_token_format_t format;
  qs_jwt_alg_t alg;          /* HS256 when QS_JWT_ALG_INVALID (0) */
  qs_slice_t secret;         /* the HMAC secret */
  const qs_slice_t *publish; /* topic selectors granted for publishing */
  size_t publish_count;
  const qs_slice_t *subscribe; /* topic selectors granted for subscribing */
  size_t subscribe_count;
  qs_match_type_t match_type; /* draft-08: the match_type of every topic (exact is not written) */
  qs_slice_t
      payload_json;    /* optional JSON value: legacy `mercure.payload` or the subscribe detail's payload */
  int64_t now_ms;      /* issue time; 0: qs_clock_wall_ms() */
  int64_t lifetime_s;  /* exp = now + lifetime; 0: no exp (legacy only; draft-08 requires one) */
  qs_slice_t audience; /* draft-08 `aud`, optional */
  qs_slice_t issuer;   /* `iss`, optional */
  qs_slice_t subject;  /* `sub`, optional */
} qs_token_spec_t;

/* Builds and signs a token for `spec`, appending it to `out`. A draft-08
 * token holds a subscribe detail (if any subscribe selector) then a publish
 * detail (if any publish selector), like symfony/mercure 0.8. Returns 0,
 * QS_EINVAL (bad alg, empty secret, payload that is not JSON, draft-08
 * without lifetime), QS_ENOMEM, or the error of qs_buf_append. */
int qs_token_mint(const qs_token_spec_t *spec, qs_buf_t *out);

#endif
