/* Minting: RFC 7515 A.1 byte for byte, and minted tokens verify. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "auth/auth.h"
#include "auth/base64url.h"
#include "auth/jws.h"
#include "auth/mint.h"
#include "auth_test_util.h"
#include "base/error.h"

#define NOW_MS 1767225600000LL

static void test_sign_hs_reproduces_rfc7515_a1(void **state) {
  (void)state;
  qs_buf_t secret, out;
  qs_buf_init(&secret, 256);
  qs_buf_init(&out, 1024);
  assert_int_equal(
      qs_base64url_decode(
          qs_slice_from_cstr(
              "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"),
          &secret),
      0);
  assert_int_equal(
      qs_jwt_sign_hs(
          QS_JWT_HS256, qs_buf_slice(&secret), qs_slice_from_cstr("{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}"),
          qs_slice_from_cstr(
              "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}"),
          &out),
      0);
  assert_string_equal(
      out.ptr,
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
      ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
      ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
  qs_buf_dispose(&secret);
  qs_buf_dispose(&out);
}

static void test_sign_hs_refuses_other_algs(void **state) {
  (void)state;
  qs_buf_t out;
  qs_buf_init(&out, 1024);
  assert_int_equal(qs_jwt_sign_hs(QS_JWT_RS256, qs_slice_from_cstr("k"), qs_slice_from_cstr("{}"),
                                  qs_slice_from_cstr("{}"), &out),
                   QS_EINVAL);
  assert_int_equal(qs_jwt_sign_hs(QS_JWT_HS256, qs_slice_from_cstr(""), qs_slice_from_cstr("{}"),
                                  qs_slice_from_cstr("{}"), &out),
                   QS_EINVAL);
  qs_buf_t small;
  qs_buf_init(&small, 10);
  assert_int_equal(qs_jwt_sign_hs(QS_JWT_HS256, qs_slice_from_cstr("k"), qs_slice_from_cstr("{}"),
                                  qs_slice_from_cstr("{}"), &small),
                   QS_ETOOBIG);
  assert_int_equal(small.len, 0);
  qs_buf_dispose(&small);
  qs_buf_dispose(&out);
}

static qs_auth_t *make_auth(bool legacy) {
  qs_auth_key_config_t key = {
      .alg = QS_JWT_HS256, .material = qs_slice_from_cstr(DEV_SECRET), .legacy = legacy};
  qs_auth_config_t config = {.publisher_keys = &key,
                             .publisher_key_count = 1,
                             .subscriber_keys = &key,
                             .subscriber_key_count = 1,
                             .resource_identifier = qs_slice_from_cstr(HUB_URL),
                             .match = {.hub_url = qs_slice_from_cstr(HUB_URL), .max_pattern_bytes = 4096}};
  qs_auth_t *auth = NULL;
  const char *reason = NULL;
  assert_int_equal(qs_auth_create(&config, &auth, &reason), 0);
  return auth;
}

static void test_minted_legacy_token_verifies_with_a_legacy_key(void **state) {
  (void)state;
  qs_slice_t subscribe[] = {qs_slice_from_cstr("access/42")};
  qs_token_spec_t spec = {.format = QS_TOKEN_FORMAT_LEGACY,
                          .secret = qs_slice_from_cstr(DEV_SECRET),
                          .subscribe = subscribe,
                          .subscribe_count = 1,
                          .payload_json = qs_slice_from_cstr("{\"user\":42}"),
                          .now_ms = NOW_MS,
                          .lifetime_s = 3600};
  qs_buf_t out;
  qs_buf_init(&out, 8192);
  assert_int_equal(qs_token_mint(&spec, &out), 0);
  qs_auth_t *auth = make_auth(true);
  qs_grants_t *g = NULL;
  qs_auth_failure_t why;
  assert_int_equal(qs_auth_verify(auth, QS_AUTH_SUBSCRIBER, qs_buf_slice(&out), NOW_MS, &g, &why), 0);
  assert_true(g->legacy);
  assert_int_equal(g->expires_ms, NOW_MS + 3600 * 1000);
  assert_true(qs_grants_can_receive(g, subscribe, 1));
  assert_true(qs_slice_eq_cstr(qs_grants_payload_for(g, subscribe[0]), "{\"user\":42}"));
  qs_grants_release(g);
  /* The Symfony header, and the same token fails a non-legacy key (typ JWT). */
  qs_jws_t jws;
  const char *reason;
  assert_int_equal(qs_jws_parse(qs_buf_slice(&out), 0, &jws, &reason), 0);
  assert_true(qs_slice_eq_cstr(jws.typ, "JWT"));
  qs_jws_dispose(&jws);
  qs_auth_destroy(auth);
  auth = make_auth(false);
  assert_int_equal(qs_auth_verify(auth, QS_AUTH_SUBSCRIBER, qs_buf_slice(&out), NOW_MS, &g, &why), QS_EAUTH);
  qs_auth_destroy(auth);
  qs_buf_dispose(&out);
}

static void test_minted_draft08_token_verifies_with_a_strict_key(void **state) {
  (void)state;
  qs_slice_t topics[] = {qs_slice_from_cstr("*")};
  qs_token_spec_t spec = {.format = QS_TOKEN_FORMAT_DRAFT08,
                          .secret = qs_slice_from_cstr(DEV_SECRET),
                          .publish = topics,
                          .publish_count = 1,
                          .subscribe = topics,
                          .subscribe_count = 1,
                          .now_ms = NOW_MS,
                          .lifetime_s = 60,
                          .audience = qs_slice_from_cstr(HUB_URL),
                          .issuer = qs_slice_from_cstr("https://localhost"),
                          .subject = qs_slice_from_cstr("dev")};
  qs_buf_t out;
  qs_buf_init(&out, 8192);
  assert_int_equal(qs_token_mint(&spec, &out), 0);
  qs_auth_t *auth = make_auth(false);
  qs_grants_t *g = NULL;
  qs_auth_failure_t why;
  int rc = qs_auth_verify(auth, QS_AUTH_PUBLISHER, qs_buf_slice(&out), NOW_MS, &g, &why);
  if (rc) fail_msg("refused: %s", why.reason);
  qs_slice_t t = qs_slice_from_cstr("anything");
  assert_true(qs_grants_can_publish(g, &t, 1));
  assert_true(qs_grants_can_receive(g, &t, 1));
  assert_true(qs_slice_eq_cstr(g->subject, "dev"));
  qs_grants_release(g);
  /* It expires after its lifetime. */
  assert_int_equal(qs_auth_verify(auth, QS_AUTH_PUBLISHER, qs_buf_slice(&out), NOW_MS + 60000, &g, &why),
                   QS_EAUTH);
  assert_string_equal(why.reason, "expired");
  qs_auth_destroy(auth);
  /* A draft-08 token needs a lifetime; a payload must be JSON. */
  qs_buf_reset(&out);
  spec.lifetime_s = 0;
  assert_int_equal(qs_token_mint(&spec, &out), QS_EINVAL);
  spec.lifetime_s = 60;
  spec.payload_json = qs_slice_from_cstr("{not json");
  assert_int_equal(qs_token_mint(&spec, &out), QS_EINVAL);
  qs_buf_dispose(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sign_hs_reproduces_rfc7515_a1),
      cmocka_unit_test(test_sign_hs_refuses_other_algs),
      cmocka_unit_test(test_minted_legacy_token_verifies_with_a_legacy_key),
      cmocka_unit_test(test_minted_draft08_token_verifies_with_a_strict_key),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
