/* JWKs, signing with every algorithm, RFC 7515/8037 vectors, per-issuer keys,
 * `kid` selection and algorithm confusion. */
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "auth/auth.h"
#include "auth/base64url.h"
#include "auth/jwk.h"
#include "auth/mint.h"
#include "base/error.h"

#define NOW_MS 1767225600000LL /* 2026-01-01T00:00:00Z */
#define HUB "https://hub.example/.well-known/mercure"

/* ---- RFC vectors ---- */

#define RFC7515_PAYLOAD \
  "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"

/* RFC 7515 A.2 (RS256). */
static const char a2_jwk[] =
    "{\"kty\":\"RSA\",\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-"
    "4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-"
    "bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_"
    "I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ\",\"e\":\"AQAB\"}";
static const char a2_input[] = "eyJhbGciOiJSUzI1NiJ9." RFC7515_PAYLOAD;
static const char a2_sig[] =
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_"
    "O8W2Fp5jujGbds9uJdbF9"
    "CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383Lc"
    "OLn6_dO--xi12jzDwusC-"
    "eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlV"
    "mtVrBp0igcN_IoypGlUPQGe77Rw";

/* RFC 7515 A.3 (ES256). */
static const char a3_jwk[] =
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}";
static const char a3_input[] = "eyJhbGciOiJFUzI1NiJ9." RFC7515_PAYLOAD;
static const char a3_sig[] =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

/* RFC 8037 A.1, A.4 (Ed25519). */
static const char ed_jwk[] =
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}";
static const char ed_input[] = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
static const char ed_sig[] =
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

static qs_jwt_key_t *jwk_key(const char *text, qs_jwt_alg_t alg) {
  json_error_t e;
  json_t *jwk = json_loads(text, 0, &e);
  assert_non_null(jwk);
  qs_jwt_key_t *key = NULL;
  const char *reason = NULL;
  int rc = qs_jwk_key_create(jwk, alg, &key, &reason);
  if (rc) fail_msg("JWK refused: %s", reason);
  json_decref(jwk);
  return key;
}

static int verify_vector(qs_jwt_key_t *key, qs_jwt_alg_t alg, const char *input, const char *sig_b64) {
  qs_buf_t sig;
  qs_buf_init(&sig, 1024);
  assert_int_equal(qs_base64url_decode(qs_slice_from_cstr(sig_b64), &sig), 0);
  int rc = qs_jwt_key_verify(key, alg, qs_slice_from_cstr(input), qs_buf_slice(&sig));
  qs_buf_dispose(&sig);
  return rc;
}

static void check_vector(const char *jwk, qs_jwt_alg_t alg, const char *input, const char *sig) {
  qs_jwt_key_t *key = jwk_key(jwk, alg);
  assert_int_equal(verify_vector(key, alg, input, sig), 0);
  /* Tampered signing input and signature. */
  char tampered_input[1024];
  snprintf(tampered_input, sizeof tampered_input, "%sA", input);
  assert_int_equal(verify_vector(key, alg, tampered_input, sig), QS_EAUTH);
  char tampered_sig[1024];
  snprintf(tampered_sig, sizeof tampered_sig, "%s", sig);
  tampered_sig[5] = tampered_sig[5] == 'A' ? 'B' : 'A';
  assert_int_equal(verify_vector(key, alg, input, tampered_sig), QS_EAUTH);
  qs_jwt_key_destroy(key);
}

static void rfc7515_a2_rs256_verifies(void **state) {
  (void)state;
  check_vector(a2_jwk, QS_JWT_RS256, a2_input, a2_sig);
}

static void rfc7515_a3_es256_verifies(void **state) {
  (void)state;
  check_vector(a3_jwk, QS_JWT_ES256, a3_input, a3_sig);
}

static void rfc8037_ed25519_verifies(void **state) {
  (void)state;
  check_vector(ed_jwk, QS_JWT_EDDSA, ed_input, ed_sig);
}

static void jwks_that_do_not_fit_are_refused(void **state) {
  (void)state;
  static const struct {
    const char *jwk;
    qs_jwt_alg_t alg;
  } cases[] = {
      {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
       "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}",
       QS_JWT_ES384}, /* wrong curve for the algorithm */
      {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVE\","
       "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}",
       QS_JWT_ES256}, /* x too short */
      {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
       "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1\"}",
       QS_JWT_ES256}, /* not on the curve */
      {"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"use\":\"enc\",\"x\":\"11qYAYKxCrfVS_"
       "7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
       QS_JWT_EDDSA}, /* an encryption key */
      {"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"ES256\",\"x\":\"11qYAYKxCrfVS_"
       "7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
       QS_JWT_EDDSA},                                                    /* its own alg says otherwise */
      {"{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", QS_JWT_RS256}, /* far too small */
      {"{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}", QS_JWT_RS256},            /* a secret for an RSA algorithm */
      {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
       "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}",
       QS_JWT_HS256}, /* algorithm confusion: a public key as an HMAC secret */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *jwk = json_loads(cases[i].jwk, 0, NULL);
    assert_non_null(jwk);
    qs_jwt_key_t *key = NULL;
    const char *reason = NULL;
    int rc = qs_jwk_key_create(jwk, cases[i].alg, &key, &reason);
    if (rc != QS_EINVAL) fail_msg("case %zu accepted", i);
    assert_null(key);
    assert_non_null(reason);
    json_decref(jwk);
  }
}

/* ---- Generated keys ---- */

typedef struct {
  qs_jwt_alg_t alg;
  char *private_pem;
  char *public_pem;
  char *public_jwk; /* with kid = the algorithm's name */
} test_key_t;

static char *pem_of(EVP_PKEY *pkey, bool private_key) {
  BIO *bio = BIO_new(BIO_s_mem());
  if (private_key)
    assert_int_equal(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
  else
    assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
  char *data;
  long len = BIO_get_mem_data(bio, &data);
  char *copy = strndup(data, (size_t)len);
  BIO_free(bio);
  return copy;
}

static void b64(const unsigned char *data, size_t len, char *out, size_t size) {
  qs_buf_t buf;
  qs_buf_init(&buf, 4096);
  assert_int_equal(qs_base64url_encode(data, len, &buf), 0);
  snprintf(out, size, "%s", buf.ptr);
  qs_buf_dispose(&buf);
}

static char *bn_b64(EVP_PKEY *pkey, const char *name, size_t pad) {
  BIGNUM *bn = NULL;
  assert_int_equal(EVP_PKEY_get_bn_param(pkey, name, &bn), 1);
  unsigned char bytes[1024];
  int n = pad ? BN_bn2binpad(bn, bytes, (int)pad) : BN_bn2bin(bn, bytes);
  BN_free(bn);
  static char out[2048];
  b64(bytes, (size_t)n, out, sizeof out);
  return out;
}

static test_key_t make_key(qs_jwt_alg_t alg, const char *kid) {
  EVP_PKEY *pkey = NULL;
  const char *crv = NULL;
  size_t size = 0;
  if (alg >= QS_JWT_RS256 && alg <= QS_JWT_PS512) {
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  } else if (alg == QS_JWT_EDDSA) {
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  } else {
    crv = alg == QS_JWT_ES256 ? "P-256" : alg == QS_JWT_ES384 ? "P-384" : "P-521";
    size = alg == QS_JWT_ES256 ? 32 : alg == QS_JWT_ES384 ? 48 : 66;
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", crv);
  }
  assert_non_null(pkey);
  test_key_t k = {.alg = alg, .private_pem = pem_of(pkey, true), .public_pem = pem_of(pkey, false)};
  char jwk[4096];
  if (alg == QS_JWT_EDDSA) {
    unsigned char raw[32];
    size_t raw_len = sizeof raw;
    assert_int_equal(EVP_PKEY_get_raw_public_key(pkey, raw, &raw_len), 1);
    char x[64];
    b64(raw, raw_len, x, sizeof x);
    snprintf(jwk, sizeof jwk, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"%s\",\"x\":\"%s\"}", kid, x);
  } else if (crv) {
    char x[128];
    snprintf(x, sizeof x, "%s", bn_b64(pkey, OSSL_PKEY_PARAM_EC_PUB_X, size));
    snprintf(jwk, sizeof jwk, "{\"kty\":\"EC\",\"crv\":\"%s\",\"kid\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}", crv,
             kid, x, bn_b64(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, size));
  } else {
    char n[1024];
    snprintf(n, sizeof n, "%s", bn_b64(pkey, OSSL_PKEY_PARAM_RSA_N, 0));
    snprintf(jwk, sizeof jwk, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"alg\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"}",
             kid, qs_jwt_alg_name(alg), n, bn_b64(pkey, OSSL_PKEY_PARAM_RSA_E, 0));
  }
  k.public_jwk = strdup(jwk);
  EVP_PKEY_free(pkey);
  return k;
}

static void free_key(test_key_t *k) {
  free(k->private_pem);
  free(k->public_pem);
  free(k->public_jwk);
}

/* A draft-08 token for the hub, signed with `key` (secret or PEM). */
static char *mint(qs_jwt_alg_t alg, const char *key, const char *iss, const char *kid, const char *aud,
                  int64_t lifetime_s) {
  qs_slice_t all = qs_slice_from_cstr("*");
  qs_token_spec_t spec = {.format = QS_TOKEN_FORMAT_DRAFT08,
                          .alg = alg,
                          .secret = qs_slice_from_cstr(key),
                          .publish = &all,
                          .publish_count = 1,
                          .now_ms = NOW_MS,
                          .lifetime_s = lifetime_s,
                          .audience = qs_slice_from_cstr(aud),
                          .issuer = qs_slice_from_cstr(iss),
                          .kid = qs_slice_from_cstr(kid)};
  qs_buf_t out;
  qs_buf_init(&out, 1 << 16);
  const int rc = qs_token_mint(&spec, &out);
  if (rc) fail_msg("cannot mint %s: %s", qs_jwt_alg_name(alg), qs_strerror(rc));
  return qs_buf_steal(&out, NULL);
}

static int verify(qs_auth_t *auth, const char *token, const char **reason) {
  qs_grants_t *grants = NULL;
  qs_auth_failure_t why = {0};
  int rc = qs_auth_verify(auth, QS_AUTH_PUBLISHER, qs_slice_from_cstr(token), NOW_MS, &grants, &why);
  qs_grants_release(grants);
  if (reason) *reason = why.reason;
  return rc;
}

static qs_auth_t *make_auth(const qs_auth_key_config_t *keys, size_t count) {
  qs_auth_config_t config = {
      .publisher_keys = keys,
      .publisher_key_count = count,
      .subscriber_keys = keys,
      .subscriber_key_count = count,
      .resource_identifier = qs_slice_from_cstr(HUB),
      .match = {.hub_url = qs_slice_from_cstr(HUB), .max_pattern_bytes = 4096},
  };
  qs_auth_t *auth = NULL;
  const char *reason = NULL;
  int rc = qs_auth_create(&config, &auth, &reason);
  if (rc) fail_msg("qs_auth_create: %s", reason);
  return auth;
}

static void every_algorithm_signs_and_verifies(void **state) {
  (void)state;
  static const qs_jwt_alg_t algs[] = {QS_JWT_RS256, QS_JWT_RS384, QS_JWT_RS512, QS_JWT_PS256, QS_JWT_PS384,
                                      QS_JWT_PS512, QS_JWT_ES256, QS_JWT_ES384, QS_JWT_ES512, QS_JWT_EDDSA};
  for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
    test_key_t k = make_key(algs[i], qs_jwt_alg_name(algs[i]));
    for (int form = 0; form < 2; form++) {
      /* The same key as a PEM and as a JWK. */
      qs_auth_key_config_t key = {.alg = algs[i],
                                  .material = qs_slice_from_cstr(form ? k.public_jwk : k.public_pem)};
      qs_auth_t *auth = make_auth(&key, 1);
      char *token = mint(algs[i], k.private_pem, "", form ? qs_jwt_alg_name(algs[i]) : "", HUB, 60);
      const char *reason = NULL;
      if (verify(auth, token, &reason))
        fail_msg("%s (%s) refused: %s", qs_jwt_alg_name(algs[i]), form ? "JWK" : "PEM", reason);
      /* A flipped bit in the signature is refused. */
      char *last = token + strlen(token) - 2;
      *last = *last == 'A' ? 'B' : 'A';
      assert_int_equal(verify(auth, token, &reason), QS_EAUTH);
      free(token);
      qs_auth_destroy(auth);
    }
    free_key(&k);
  }
}

static void signing_refuses_keys_that_do_not_fit(void **state) {
  (void)state;
  test_key_t ec = make_key(QS_JWT_ES256, "ec");
  qs_buf_t out;
  qs_buf_init(&out, 1 << 16);
  const char *reason = NULL;
  qs_slice_t h = qs_slice_from_cstr("{}"), c = qs_slice_from_cstr("{}");
  assert_int_equal(qs_jwt_sign(QS_JWT_ES384, qs_slice_from_cstr(ec.private_pem), h, c, &out, &reason),
                   QS_EINVAL);
  assert_int_equal(qs_jwt_sign(QS_JWT_RS256, qs_slice_from_cstr(ec.private_pem), h, c, &out, &reason),
                   QS_EINVAL);
  assert_int_equal(qs_jwt_sign(QS_JWT_ES256, qs_slice_from_cstr(ec.public_pem), h, c, &out, &reason),
                   QS_EINVAL);
  assert_int_equal(qs_jwt_sign(QS_JWT_ES256, qs_slice_from_cstr("secret"), h, c, &out, &reason), QS_EINVAL);
  assert_int_equal(out.len, 0);
  qs_buf_dispose(&out);
  free_key(&ec);
}

/* ---- Issuers ---- */

static void issuers_never_share_keys(void **state) {
  (void)state;
  test_key_t a = make_key(QS_JWT_ES256, "a");
  qs_auth_key_config_t keys[] = {
      /* Legacy key: tokens of any issuer that has no keys of its own. */
      {.alg = QS_JWT_HS256, .material = qs_slice_from_cstr("legacy-secret"), .legacy = true},
      {.alg = QS_JWT_ES256,
       .material = qs_slice_from_cstr(a.public_pem),
       .issuer = qs_slice_from_cstr("https://a")},
      {.alg = QS_JWT_HS256,
       .material = qs_slice_from_cstr("b-secret"),
       .issuer = qs_slice_from_cstr("https://b")},
  };
  qs_auth_t *auth = make_auth(keys, 3);
  const char *reason = NULL;
  struct {
    qs_jwt_alg_t alg;
    const char *key, *iss, *aud;
    int64_t lifetime_s;
    int rc;
    const char *reason;
  } cases[] = {
      {QS_JWT_ES256, a.private_pem, "https://a", HUB, 60, 0, NULL},
      {QS_JWT_HS256, "b-secret", "https://b", HUB, 60, 0, NULL},
      {QS_JWT_HS256, "legacy-secret", "https://elsewhere", HUB, 60, 0, NULL},
      /* A's key with B's name, B's secret with A's name, the legacy key with A's name. */
      {QS_JWT_ES256, a.private_pem, "https://b", HUB, 60, QS_EAUTH, "algorithm not allowed for this key"},
      {QS_JWT_HS256, "b-secret", "https://a", HUB, 60, QS_EAUTH, "algorithm not allowed for this key"},
      {QS_JWT_HS256, "legacy-secret", "https://b", HUB, 60, QS_EAUTH, "wrong signature"},
      {QS_JWT_ES256, a.private_pem, "https://elsewhere", HUB, 60, QS_EAUTH,
       "algorithm not allowed for this key"},
      /* Issuer keys enforce the draft-08 profile: aud and exp. */
      {QS_JWT_ES256, a.private_pem, "https://a", "https://other.example/.well-known/mercure", 60, QS_EAUTH,
       "wrong aud"},
      {QS_JWT_ES256, a.private_pem, "https://a", HUB, -10, QS_EAUTH, "expired"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *token = NULL;
    if (cases[i].lifetime_s < 0) {
      /* Minted in the past: expired at NOW_MS. */
      qs_slice_t all = qs_slice_from_cstr("*");
      qs_token_spec_t spec = {.format = QS_TOKEN_FORMAT_DRAFT08,
                              .alg = cases[i].alg,
                              .secret = qs_slice_from_cstr(cases[i].key),
                              .publish = &all,
                              .publish_count = 1,
                              .now_ms = NOW_MS - 3600 * 1000,
                              .lifetime_s = 60,
                              .audience = qs_slice_from_cstr(cases[i].aud),
                              .issuer = qs_slice_from_cstr(cases[i].iss)};
      qs_buf_t out;
      qs_buf_init(&out, 1 << 16);
      assert_int_equal(qs_token_mint(&spec, &out), 0);
      token = qs_buf_steal(&out, NULL);
    } else {
      token = mint(cases[i].alg, cases[i].key, cases[i].iss, "", cases[i].aud, cases[i].lifetime_s);
    }
    int rc = verify(auth, token, &reason);
    if (rc != cases[i].rc || (cases[i].reason && strcmp(reason, cases[i].reason) != 0))
      fail_msg("case %zu: rc %d (%s), expected %d (%s)", i, rc, reason ? reason : "", cases[i].rc,
               cases[i].reason ? cases[i].reason : "");
    free(token);
  }
  qs_auth_destroy(auth);
  free_key(&a);
}

static void issuer_keys_require_at_jwt(void **state) {
  (void)state;
  qs_auth_key_config_t key = {
      .alg = QS_JWT_HS256, .material = qs_slice_from_cstr("s"), .issuer = qs_slice_from_cstr("https://a")};
  qs_auth_t *auth = make_auth(&key, 1);
  qs_buf_t out;
  qs_buf_init(&out, 4096);
  assert_int_equal(qs_jwt_sign_hs(QS_JWT_HS256, qs_slice_from_cstr("s"),
                                  qs_slice_from_cstr("{\"alg\":\"HS256\",\"typ\":\"JWT\"}"),
                                  qs_slice_from_cstr("{\"iss\":\"https://a\",\"aud\":\"" HUB
                                                     "\",\"exp\":4102444800,\"authorization_details\":[]}"),
                                  &out),
                   0);
  const char *reason = NULL;
  assert_int_equal(verify(auth, out.ptr, &reason), QS_EAUTH);
  assert_string_equal(reason, "wrong typ (at+jwt expected)");
  qs_buf_dispose(&out);
  qs_auth_destroy(auth);
}

/* RFC 8725 §3.1: an HS256 token whose secret is the RSA public key PEM. */
static void public_key_as_hmac_secret_is_refused(void **state) {
  (void)state;
  test_key_t rsa = make_key(QS_JWT_RS256, "r");
  qs_auth_key_config_t key = {
      .alg = QS_JWT_RS256, .material = qs_slice_from_cstr(rsa.public_pem), .legacy = true};
  qs_auth_t *auth = make_auth(&key, 1);
  char *forged = mint(QS_JWT_HS256, rsa.public_pem, "", "", HUB, 60);
  const char *reason = NULL;
  assert_int_equal(verify(auth, forged, &reason), QS_EAUTH);
  assert_string_equal(reason, "algorithm not allowed for this key");
  /* And the PEM can never be configured as an HMAC secret. */
  qs_jwt_key_t *k = NULL;
  assert_int_equal(qs_jwt_key_create(QS_JWT_HS256, qs_slice_from_cstr(rsa.public_pem), &k, &reason),
                   QS_EINVAL);
  free(forged);
  qs_auth_destroy(auth);
  free_key(&rsa);
}

static void kid_selects_among_configured_keys(void **state) {
  (void)state;
  test_key_t k1 = make_key(QS_JWT_ES256, "k1"), k2 = make_key(QS_JWT_ES256, "k2");
  qs_auth_key_config_t keys[] = {
      {.alg = QS_JWT_ES256, .material = qs_slice_from_cstr(k1.public_jwk)},
      {.alg = QS_JWT_ES256, .material = qs_slice_from_cstr(k2.public_jwk)},
  };
  qs_auth_t *auth = make_auth(keys, 2);
  const char *reason = NULL;
  char *t = mint(QS_JWT_ES256, k2.private_pem, "", "k2", HUB, 60);
  assert_int_equal(verify(auth, t, &reason), 0);
  free(t);
  t = mint(QS_JWT_ES256, k2.private_pem, "", "", HUB, 60); /* no kid: every key is tried */
  assert_int_equal(verify(auth, t, &reason), 0);
  free(t);
  t = mint(QS_JWT_ES256, k2.private_pem, "", "k1", HUB, 60); /* k1 is not the signer */
  assert_int_equal(verify(auth, t, &reason), QS_EAUTH);
  assert_string_equal(reason, "wrong signature");
  free(t);
  t = mint(QS_JWT_ES256, k2.private_pem, "", "k9", HUB, 60);
  assert_int_equal(verify(auth, t, &reason), QS_EAUTH);
  assert_string_equal(reason, "unknown kid");
  free(t);
  qs_auth_destroy(auth);
  free_key(&k1);
  free_key(&k2);
}

static void jwk_alg_is_the_default_algorithm(void **state) {
  (void)state;
  test_key_t k = make_key(QS_JWT_PS384, "p");
  qs_auth_key_config_t key = {.alg = QS_JWT_ALG_INVALID, .material = qs_slice_from_cstr(k.public_jwk)};
  qs_auth_t *auth = make_auth(&key, 1);
  char *t = mint(QS_JWT_PS384, k.private_pem, "", "p", HUB, 60);
  const char *reason = NULL;
  assert_int_equal(verify(auth, t, &reason), 0);
  assert_int_equal(qs_auth_algorithms(auth, QS_AUTH_PUBLISHER), qs_jwt_alg_bit(QS_JWT_PS384));
  free(t);
  qs_auth_destroy(auth);
  free_key(&k);
}

static void jwks_documents_parse_leniently(void **state) {
  (void)state;
  char doc[8192];
  snprintf(
      doc, sizeof doc,
      "{\"keys\":[%s,%s,{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"x\"},{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"},"
      "{\"kty\":\"unknown\"}]}",
      a2_jwk, ed_jwk);
  qs_jwks_set_t *set = NULL;
  const char *reason = NULL;
  assert_int_equal(qs_jwks_set_parse(doc, strlen(doc), QS_JWT_ALGS_ASYMMETRIC, &set, &reason), 0);
  /* The RSA key without alg serves six algorithms; oct keys never come from a JWKS. */
  assert_int_equal(set->count, 7);
  assert_int_equal(set->skipped, 3);
  qs_jwks_set_release(set);
  assert_int_equal(qs_jwks_set_parse("{\"keys\":{}}", 11, QS_JWT_ALGS_ASYMMETRIC, &set, &reason), QS_EPARSE);
  assert_int_equal(qs_jwks_set_parse("[]", 2, QS_JWT_ALGS_ASYMMETRIC, &set, &reason), QS_EPARSE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(rfc7515_a2_rs256_verifies),
      cmocka_unit_test(rfc7515_a3_es256_verifies),
      cmocka_unit_test(rfc8037_ed25519_verifies),
      cmocka_unit_test(jwks_that_do_not_fit_are_refused),
      cmocka_unit_test(every_algorithm_signs_and_verifies),
      cmocka_unit_test(signing_refuses_keys_that_do_not_fit),
      cmocka_unit_test(issuers_never_share_keys),
      cmocka_unit_test(issuer_keys_require_at_jwt),
      cmocka_unit_test(public_key_as_hmac_secret_is_refused),
      cmocka_unit_test(kid_selects_among_configured_keys),
      cmocka_unit_test(jwk_alg_is_the_default_algorithm),
      cmocka_unit_test(jwks_documents_parse_leniently),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
