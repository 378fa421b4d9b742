/* JWS parsing and signature verification, HMAC and public keys. */
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "auth/base64url.h"
#include "auth/jws.h"
#include "auth/key.h"
#include "auth_test_util.h"
#include "base/error.h"

/* RFC 7515 Appendix A.1. */
static const char A1_TOKEN[] =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char A1_KEY_B64[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

static qs_jwt_key_t *a1_key(void) {
  qs_buf_t secret;
  qs_buf_init(&secret, 256);
  assert_int_equal(qs_base64url_decode(qs_slice_from_cstr(A1_KEY_B64), &secret), 0);
  qs_jwt_key_t *key = NULL;
  const char *reason = NULL;
  assert_int_equal(qs_jwt_key_create(QS_JWT_HS256, qs_buf_slice(&secret), &key, &reason), 0);
  qs_buf_dispose(&secret);
  return key;
}

static int parse(const char *token, qs_jws_t *jws, const char **reason) {
  return qs_jws_parse(qs_slice_from_cstr(token), 0, jws, reason);
}

static void test_rfc7515_a1_parses_and_verifies(void **state) {
  (void)state;
  qs_jws_t jws;
  const char *reason = NULL;
  assert_int_equal(parse(A1_TOKEN, &jws, &reason), 0);
  assert_int_equal(jws.alg, QS_JWT_HS256);
  assert_true(qs_slice_eq_cstr(jws.typ, "JWT"));
  assert_string_equal(json_string_value(json_object_get(jws.claims, "iss")), "joe");
  assert_int_equal(jws.signature.len, 32);
  qs_jwt_key_t *key = a1_key();
  assert_int_equal(qs_jwt_key_verify(key, jws.alg, jws.signing_input, qs_buf_slice(&jws.signature)), 0);
  qs_jwt_key_destroy(key);
  qs_jws_dispose(&jws);
}

static void test_rfc7515_a1_tampered_signature_fails(void **state) {
  (void)state;
  char token[sizeof A1_TOKEN];
  memcpy(token, A1_TOKEN, sizeof token);
  token[sizeof token - 3] = token[sizeof token - 3] == 'A' ? 'B' : 'A';
  qs_jws_t jws;
  const char *reason = NULL;
  assert_int_equal(parse(token, &jws, &reason), 0);
  qs_jwt_key_t *key = a1_key();
  assert_int_equal(qs_jwt_key_verify(key, jws.alg, jws.signing_input, qs_buf_slice(&jws.signature)),
                   QS_EAUTH);
  /* A truncated tag never verifies either. */
  assert_int_equal(qs_jwt_key_verify(key, jws.alg, jws.signing_input, qs_slice(jws.signature.ptr, 16)),
                   QS_EAUTH);
  qs_jwt_key_destroy(key);
  qs_jws_dispose(&jws);
}

static void test_key_refuses_other_alg_than_its_own(void **state) {
  (void)state;
  qs_jws_t jws;
  const char *reason = NULL;
  assert_int_equal(parse(A1_TOKEN, &jws, &reason), 0);
  qs_jwt_key_t *key = a1_key();
  assert_int_equal(qs_jwt_key_verify(key, QS_JWT_HS512, jws.signing_input, qs_buf_slice(&jws.signature)),
                   QS_EAUTH);
  qs_jwt_key_destroy(key);
  qs_jws_dispose(&jws);
}

static void expect_parse_failure(const char *header, const char *claims, int rc,
                                 const char *reason_expected) {
  char *token = sign(header, claims);
  assert_non_null(token);
  qs_jws_t jws;
  const char *reason = NULL;
  int got = parse(token, &jws, &reason);
  if (got != rc || strcmp(reason, reason_expected) != 0)
    fail_msg("header %s: got %d (%s), expected %d (%s)", header, got, reason ? reason : "-", rc,
             reason_expected);
  free(token);
}

static void test_alg_none_is_refused(void **state) {
  (void)state;
  expect_parse_failure("{\"alg\":\"none\"}", "{}", QS_EUNSUPPORTED, "alg none is refused");
  expect_parse_failure("{\"alg\":\"None\"}", "{}", QS_EUNSUPPORTED, "alg none is refused");
  /* An unsigned token (empty third part) is malformed as well. */
  qs_jws_t jws;
  const char *reason = NULL;
  assert_int_equal(parse("eyJhbGciOiJub25lIn0.e30.", &jws, &reason), QS_EUNSUPPORTED);
}

static void test_unknown_or_missing_alg_is_refused(void **state) {
  (void)state;
  expect_parse_failure("{\"alg\":\"hs256\"}", "{}", QS_EUNSUPPORTED, "unknown alg");
  expect_parse_failure("{\"typ\":\"JWT\"}", "{}", QS_EPARSE, "the header has no alg");
  expect_parse_failure("{\"alg\":256}", "{}", QS_EPARSE, "the header has no alg");
}

static void test_crit_is_refused(void **state) {
  (void)state;
  expect_parse_failure("{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"b64\":false}", "{}", QS_EUNSUPPORTED,
                       "crit header parameters are not supported");
}

static void test_non_object_json_and_duplicates_are_malformed(void **state) {
  (void)state;
  expect_parse_failure("[\"HS256\"]", "{}", QS_EPARSE, "the header is not a JSON object");
  expect_parse_failure("{\"alg\":\"HS256\"}", "[1]", QS_EPARSE, "the claims are not a JSON object");
  expect_parse_failure("{\"alg\":\"HS256\"}", "{\"exp\":1,\"exp\":2}", QS_EPARSE,
                       "the claims are not a JSON object");
  expect_parse_failure("{\"alg\":\"HS256\",\"alg\":\"none\"}", "{}", QS_EPARSE,
                       "the header is not a JSON object");
  expect_parse_failure("{\"alg\":\"HS256\"}", "{\"a\":1} x", QS_EPARSE, "the claims are not a JSON object");
  expect_parse_failure("{\"alg\":\"HS256\",\"typ\":1}", "{}", QS_EPARSE, "typ and kid must be strings");
}

static void test_wrong_part_count_and_bad_base64_are_malformed(void **state) {
  (void)state;
  qs_jws_t jws;
  const char *reason = NULL;
  assert_int_equal(parse("eyJhbGciOiJIUzI1NiJ9.e30", &jws, &reason), QS_EPARSE);
  assert_int_equal(parse("eyJhbGciOiJIUzI1NiJ9.e30.AAAA.AAAA", &jws, &reason), QS_EPARSE);
  assert_int_equal(parse("", &jws, &reason), QS_EPARSE);
  assert_int_equal(parse("..", &jws, &reason), QS_EPARSE);
  assert_int_equal(parse("eyJhbGciOiJIUzI1NiJ9.e30=.AAAA", &jws, &reason), QS_EPARSE);
  assert_string_equal(reason, "malformed base64url in the claims");
  assert_int_equal(parse("eyJhbGciOiJIUzI1NiJ9.e30.AA+A", &jws, &reason), QS_EPARSE);
  assert_string_equal(reason, "malformed base64url in the signature");
  assert_int_equal(parse("eyJhbGciOiJIUzI1NiJ9=.e30.AAAA", &jws, &reason), QS_EPARSE);
  assert_string_equal(reason, "malformed base64url in the header");
}

static void test_token_over_the_cap_is_too_big(void **state) {
  (void)state;
  qs_jws_t jws;
  const char *reason = NULL;
  assert_int_equal(qs_jws_parse(qs_slice_from_cstr(A1_TOKEN), 64, &jws, &reason), QS_ETOOBIG);
  assert_string_equal(reason, "token too large");
}

static void test_hmac_key_refuses_pem_material(void **state) {
  (void)state;
  qs_jwt_key_t *key = NULL;
  const char *reason = NULL;
  assert_int_equal(
      qs_jwt_key_create(QS_JWT_HS256,
                        qs_slice_from_cstr("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"),
                        &key, &reason),
      QS_EINVAL);
  assert_null(key);
  assert_int_equal(qs_jwt_key_create(QS_JWT_HS256, qs_slice_from_cstr(""), &key, &reason), QS_EINVAL);
  assert_int_equal(qs_jwt_key_create(QS_JWT_RS256, qs_slice_from_cstr("secret"), &key, &reason), QS_EINVAL);
  assert_int_equal(qs_jwt_key_create(QS_JWT_ALG_INVALID, qs_slice_from_cstr("secret"), &key, &reason),
                   QS_EINVAL);
}

/* Public-key algorithms, with keys generated for the test. */

static char *public_pem(EVP_PKEY *pkey) {
  BIO *bio = BIO_new(BIO_s_mem());
  assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
  char *data;
  long len = BIO_get_mem_data(bio, &data);
  char *pem = strndup(data, (size_t)len);
  BIO_free(bio);
  return pem;
}

static const char *md_of(qs_jwt_alg_t alg) {
  switch (alg) {
    case QS_JWT_RS256:
    case QS_JWT_PS256:
    case QS_JWT_ES256:
      return "SHA256";
    case QS_JWT_RS384:
    case QS_JWT_PS384:
    case QS_JWT_ES384:
      return "SHA384";
    case QS_JWT_EDDSA:
      return NULL;
    default:
      return "SHA512";
  }
}

/* Signs `input` as JWS `alg` would (ES*: R || S). */
static void jws_sign(EVP_PKEY *pkey, qs_jwt_alg_t alg, qs_slice_t input, qs_buf_t *sig) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  assert_int_equal(EVP_DigestSignInit_ex(ctx, &pctx, md_of(alg), NULL, NULL, pkey, NULL), 1);
  if (alg >= QS_JWT_PS256 && alg <= QS_JWT_PS512) {
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1);
  }
  size_t len = 0;
  assert_int_equal(EVP_DigestSign(ctx, NULL, &len, (const unsigned char *)input.ptr, input.len), 1);
  unsigned char *raw = malloc(len);
  assert_int_equal(EVP_DigestSign(ctx, raw, &len, (const unsigned char *)input.ptr, input.len), 1);
  if (alg >= QS_JWT_ES256 && alg <= QS_JWT_ES512) {
    const unsigned char *p = raw;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
    int half = alg == QS_JWT_ES256 ? 32 : alg == QS_JWT_ES384 ? 48 : 66;
    unsigned char rs[132];
    BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, half);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), rs + half, half);
    assert_int_equal(qs_buf_append(sig, rs, (size_t)(2 * half)), 0);
    ECDSA_SIG_free(es);
  } else {
    assert_int_equal(qs_buf_append(sig, raw, len), 0);
  }
  free(raw);
  EVP_MD_CTX_free(ctx);
}

static void check_public_alg(EVP_PKEY *pkey, qs_jwt_alg_t alg) {
  char *pem = public_pem(pkey);
  qs_jwt_key_t *key = NULL;
  const char *reason = NULL;
  int rc = qs_jwt_key_create(alg, qs_slice_from_cstr(pem), &key, &reason);
  if (rc) fail_msg("%s: %s", qs_jwt_alg_name(alg), reason);
  qs_slice_t input = qs_slice_from_cstr("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0");
  qs_buf_t sig;
  qs_buf_init(&sig, 4096);
  jws_sign(pkey, alg, input, &sig);
  if (qs_jwt_key_verify(key, alg, input, qs_buf_slice(&sig)) != 0)
    fail_msg("%s: valid signature refused", qs_jwt_alg_name(alg));
  /* Another input, a flipped bit, or another alg are refused. */
  assert_int_equal(
      qs_jwt_key_verify(key, alg, qs_slice_from_cstr("eyJhbGciOiJSUzI1NiJ9.e30"), qs_buf_slice(&sig)),
      QS_EAUTH);
  sig.ptr[sig.len / 2] ^= 1;
  assert_int_equal(qs_jwt_key_verify(key, alg, input, qs_buf_slice(&sig)), QS_EAUTH);
  assert_int_equal(qs_jwt_key_verify(key, QS_JWT_HS256, input, qs_buf_slice(&sig)), QS_EAUTH);
  /* The same PEM can never serve as an HMAC secret. */
  qs_jwt_key_t *hs = NULL;
  assert_int_equal(qs_jwt_key_create(QS_JWT_HS256, qs_slice_from_cstr(pem), &hs, &reason), QS_EINVAL);
  qs_buf_dispose(&sig);
  qs_jwt_key_destroy(key);
  free(pem);
}

static void test_rsa_pkcs1_and_pss_verify(void **state) {
  (void)state;
  EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  assert_non_null(rsa);
  for (qs_jwt_alg_t alg = QS_JWT_RS256; alg <= QS_JWT_PS512; alg++) check_public_alg(rsa, alg);
  /* An RSA key does not fit ES256 or EdDSA. */
  char *pem = public_pem(rsa);
  qs_jwt_key_t *key = NULL;
  const char *reason = NULL;
  assert_int_equal(qs_jwt_key_create(QS_JWT_ES256, qs_slice_from_cstr(pem), &key, &reason), QS_EINVAL);
  assert_int_equal(qs_jwt_key_create(QS_JWT_EDDSA, qs_slice_from_cstr(pem), &key, &reason), QS_EINVAL);
  free(pem);
  EVP_PKEY_free(rsa);
}

static void test_ecdsa_verifies_jose_signatures_on_the_right_curve(void **state) {
  (void)state;
  static const struct {
    const char *curve;
    qs_jwt_alg_t alg;
  } cases[] = {{"P-256", QS_JWT_ES256}, {"P-384", QS_JWT_ES384}, {"P-521", QS_JWT_ES512}};
  for (size_t i = 0; i < 3; i++) {
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", cases[i].curve);
    assert_non_null(ec);
    check_public_alg(ec, cases[i].alg);
    char *pem = public_pem(ec);
    qs_jwt_key_t *key = NULL;
    const char *reason = NULL;
    qs_jwt_alg_t other = cases[i].alg == QS_JWT_ES256 ? QS_JWT_ES384 : QS_JWT_ES256;
    assert_int_equal(qs_jwt_key_create(other, qs_slice_from_cstr(pem), &key, &reason), QS_EINVAL);
    free(pem);
    EVP_PKEY_free(ec);
  }
}

static void test_eddsa_verifies_ed25519(void **state) {
  (void)state;
  EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  assert_non_null(ed);
  check_public_alg(ed, QS_JWT_EDDSA);
  EVP_PKEY_free(ed);
}

static void test_alg_names_round_trip(void **state) {
  (void)state;
  for (qs_jwt_alg_t alg = QS_JWT_HS256; alg <= QS_JWT_EDDSA; alg++) {
    qs_jwt_alg_t parsed;
    assert_int_equal(qs_jwt_alg_parse(qs_slice_from_cstr(qs_jwt_alg_name(alg)), &parsed), 0);
    assert_int_equal(parsed, alg);
  }
  qs_jwt_alg_t parsed;
  assert_int_equal(qs_jwt_alg_parse(qs_slice_from_cstr("none"), &parsed), QS_EUNSUPPORTED);
  assert_int_equal(qs_jwt_alg_parse(qs_slice_from_cstr("EDDSA"), &parsed), QS_EUNSUPPORTED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc7515_a1_parses_and_verifies),
      cmocka_unit_test(test_rfc7515_a1_tampered_signature_fails),
      cmocka_unit_test(test_key_refuses_other_alg_than_its_own),
      cmocka_unit_test(test_alg_none_is_refused),
      cmocka_unit_test(test_unknown_or_missing_alg_is_refused),
      cmocka_unit_test(test_crit_is_refused),
      cmocka_unit_test(test_non_object_json_and_duplicates_are_malformed),
      cmocka_unit_test(test_wrong_part_count_and_bad_base64_are_malformed),
      cmocka_unit_test(test_token_over_the_cap_is_too_big),
      cmocka_unit_test(test_hmac_key_refuses_pem_material),
      cmocka_unit_test(test_rsa_pkcs1_and_pss_verify),
      cmocka_unit_test(test_ecdsa_verifies_jose_signatures_on_the_right_curve),
      cmocka_unit_test(test_eddsa_verifies_ed25519),
      cmocka_unit_test(test_alg_names_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
