/* Fuzzes JWK Set documents (what a JWKS URL serves) and single JWKs as
 * configured keys: qs_jwks_set_parse() with every asymmetric algorithm and
 * qs_jwk_key_create() for each algorithm the JWK claims to fit. */
#include <stddef.h>
#include <stdint.h>

#include "auth/jwk.h"
#include "auth/jws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  qs_jwks_set_t *set = NULL;
  const char *reason = NULL;
  if (qs_jwks_set_parse(text, size, QS_JWT_ALGS_ASYMMETRIC, &set, &reason) == 0) qs_jwks_set_release(set);
  (void)qs_jwk_looks_like_jwk(qs_slice(text, size));
  json_t *jwk = qs_json_parse_object(text, size);
  if (jwk) {
    qs_jwt_alg_set_t algs = qs_jwk_algorithms(jwk, ~(qs_jwt_alg_set_t)0);
    for (int a = QS_JWT_HS256; a <= QS_JWT_EDDSA; a++) {
      if (!(algs & qs_jwt_alg_bit((qs_jwt_alg_t)a))) continue;
      qs_jwt_key_t *key = NULL;
      if (qs_jwk_key_create(jwk, (qs_jwt_alg_t)a, &key, &reason) == 0) qs_jwt_key_destroy(key);
    }
    json_decref(jwk);
  }
  return 0;
}
