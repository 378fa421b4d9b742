/* qs_auth_verify(): the tokens our deployments send, and every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "auth/auth.h"
#include "auth_test_util.h"
#include "base/error.h"

#define NOW_MS 1767225600000LL /* 2026-01-01T00:00:00Z */
#define SYMFONY_HEADER "{\"typ\":\"JWT\",\"alg\":\"HS256\"}"
#define DRAFT_HEADER "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}"
#define CONFORMANCE_CLAIMS                                                   \
  "{\"aud\":\"https://localhost/.well-known/mercure\",\"iss\":\"https://"    \
  "localhost\",\"authorization_details\":["                                  \
  "{\"type\":\"https://mercure.rocks/"                                       \
  "authorization-detail\",\"actions\":[\"publish\"],\"topics\":[{\"match\":" \
  "\"*\"}]},{\"type\":\"https://mercure.rocks/"                              \
  "authorization-detail\",\"actions\":[\"subscribe\"],\"topics\":[{"         \
  "\"match\":\"*\"}]}],\"exp\":4102444800}"

static const qs_slice_t issuers[] = {{"https://localhost", 17}};

/* A hub with one key per role, legacy-capable or not. */
static qs_auth_t *make_auth(bool legacy) {
  qs_auth_key_config_t key = {
      .alg = QS_JWT_HS256, .material = qs_slice_from_cstr(DEV_SECRET), .legacy = legacy};
  qs_auth_config_t config = {
      .publisher_keys = &key,
      .publisher_key_count = 1,
      .subscriber_keys = &key,
      .subscriber_key_count = 1,
      .resource_identifier = qs_slice_from_cstr(HUB_URL),
      .issuers = issuers,
      .issuer_count = 1,
      .match = {.hub_url = qs_slice_from_cstr(HUB_URL), .max_pattern_bytes = 4096},
  };
  qs_auth_t *auth = NULL;
  const char *reason = NULL;
  assert_int_equal(qs_auth_create(&config, &auth, &reason), 0);
  return auth;
}

static qs_grants_t *accept(qs_auth_t *auth, qs_auth_role_t role, const char *header, const char *claims) {
  char *token = sign(header, claims);
  qs_grants_t *grants = NULL;
  qs_auth_failure_t why;
  int rc = qs_auth_verify(auth, role, qs_slice_from_cstr(token), NOW_MS, &grants, &why);
  if (rc) fail_msg("refused %s: %s", claims, why.reason);
  free(token);
  return grants;
}

static void refuse_token(qs_auth_t *auth, const char *token, const char *reason) {
  qs_grants_t *grants = (qs_grants_t *)1;
  qs_auth_failure_t why;
  int rc = qs_auth_verify(auth, QS_AUTH_PUBLISHER, qs_slice_from_cstr(token), NOW_MS, &grants, &why);
  if (rc != QS_EAUTH) fail_msg("accepted (%d) a token that should fail with: %s", rc, reason);
  assert_null(grants);
  assert_string_equal(why.error, "invalid_token");
  if (strcmp(why.reason, reason) != 0) fail_msg("reason \"%s\", expected \"%s\"", why.reason, reason);
}

static void refuse(qs_auth_t *auth, const char *header, const char *claims, const char *reason) {
  char *token = sign(header, claims);
  refuse_token(auth, token, reason);
  free(token);
}

/* The refusal's detail, for a token signed with the dev secret. */
static void refuse_detail(qs_auth_t *auth, qs_auth_role_t role, const char *header, const char *claims,
                          const char *detail) {
  char *token = sign(header, claims);
  qs_grants_t *grants = NULL;
  qs_auth_failure_t why;
  assert_int_equal(qs_auth_verify(auth, role, qs_slice_from_cstr(token), NOW_MS, &grants, &why), QS_EAUTH);
  free(token);
  if (strcmp(qs_auth_failure_text(&why), detail) != 0)
    fail_msg("detail \"%s\", expected \"%s\"", qs_auth_failure_text(&why), detail);
}

static bool can_publish(const qs_grants_t *g, const char *topic) {
  qs_slice_t t = qs_slice_from_cstr(topic);
  return qs_grants_can_publish(g, &t, 1);
}

static bool can_receive(const qs_grants_t *g, const char *topic) {
  qs_slice_t t = qs_slice_from_cstr(topic);
  return qs_grants_can_receive(g, &t, 1);
}

static void test_symfony_publisher_token_with_fractional_exp(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(true);
  qs_grants_t *g = accept(auth, QS_AUTH_PUBLISHER, SYMFONY_HEADER,
                          "{\"exp\":1767229200.123456,\"mercure\":{\"publish\":[\"*\"],\"subscribe\":[]}}");
  assert_true(g->legacy);
  assert_true(can_publish(g, "access/42"));
  assert_false(can_receive(g, "access/42"));
  assert_int_equal(g->expires_ms, 1767229200123LL);
  qs_grants_release(g);
  qs_auth_destroy(auth);
}

static void test_symfony_subscriber_cookie_token(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(true);
  qs_grants_t *g =
      accept(auth, QS_AUTH_SUBSCRIBER, SYMFONY_HEADER,
             "{\"exp\":1767229200.5,\"mercure\":{\"publish\":[],\"subscribe\":[\"access/42\"]}}");
  assert_true(can_receive(g, "access/42"));
  assert_false(can_receive(g, "access/43"));
  assert_false(can_publish(g, "access/42"));
  qs_grants_release(g);
  /* Without exp at all, a legacy token is still accepted. */
  g = accept(auth, QS_AUTH_SUBSCRIBER, SYMFONY_HEADER, "{\"mercure\":{\"subscribe\":[\"access/42\"]}}");
  assert_int_equal(g->expires_ms, 0);
  assert_true(can_receive(g, "access/42"));
  qs_grants_release(g);
  qs_auth_destroy(auth);
}

static void test_namespaced_legacy_claim_wins(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(true);
  qs_grants_t *g =
      accept(auth, QS_AUTH_SUBSCRIBER, SYMFONY_HEADER,
             "{\"mercure\":{\"subscribe\":[\"a\"]},\"https://mercure.rocks/\":{\"subscribe\":[\"b\"]}}");
  assert_false(can_receive(g, "a"));
  assert_true(can_receive(g, "b"));
  qs_grants_release(g);
  qs_auth_destroy(auth);
}

static void test_legacy_key_ignores_aud_typ_and_iss_of_legacy_tokens(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(true);
  qs_grants_t *g =
      accept(auth, QS_AUTH_PUBLISHER, "{\"alg\":\"HS256\",\"typ\":\"whatever\"}",
             "{\"aud\":\"https://elsewhere\",\"iss\":\"https://unknown\",\"mercure\":{\"publish\":[\"*\"]}}");
  assert_true(can_publish(g, "x"));
  assert_true(qs_slice_eq_cstr(g->issuer, "https://unknown"));
  qs_grants_release(g);
  qs_auth_destroy(auth);
}

static void test_conformance_suite_token(void **state) {
  (void)state;
  for (int legacy = 0; legacy < 2; legacy++) {
    qs_auth_t *auth = make_auth(legacy);
    qs_grants_t *g = accept(auth, QS_AUTH_PUBLISHER, DRAFT_HEADER, CONFORMANCE_CLAIMS);
    assert_false(g->legacy);
    assert_true(can_publish(g, "https://example.net/foo/1"));
    assert_true(can_receive(g, "anything"));
    assert_int_equal(g->expires_ms, 4102444800000LL);
    assert_true(qs_slice_eq_cstr(g->issuer, "https://localhost"));
    assert_int_equal(g->subject.len, 0);
    qs_grants_release(g);
    qs_auth_destroy(auth);
  }
}

static void test_typ_variants_are_accepted(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(false);
  const char *headers[] = {"{\"alg\":\"HS256\",\"typ\":\"AT+JWT\"}",
                           "{\"alg\":\"HS256\",\"typ\":\"application/at+jwt\"}",
                           "{\"alg\":\"HS256\",\"typ\":\"Application/At+Jwt\"}"};
  for (size_t i = 0; i < 3; i++)
    qs_grants_release(accept(auth, QS_AUTH_PUBLISHER, headers[i], CONFORMANCE_CLAIMS));
  qs_auth_destroy(auth);
}

static void test_aud_array_containing_the_resource_is_accepted(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(false);
  qs_grants_t *g = accept(auth, QS_AUTH_PUBLISHER, DRAFT_HEADER,
                          "{\"aud\":[\"other\",\"" HUB_URL
                          "\"],\"iss\":\"https://localhost\",\"exp\":4102444800,"
                          "\"sub\":\"user-1\",\"authorization_details\":[]}");
  assert_int_equal(g->publish_count + g->subscribe_count, 0);
  assert_true(qs_slice_eq_cstr(g->subject, "user-1"));
  qs_grants_release(g);
  qs_auth_destroy(auth);
}

static void test_tampered_signature_is_refused(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(true);
  char *token = sign(DRAFT_HEADER, CONFORMANCE_CLAIMS);
  size_t len = strlen(token);
  token[len - 2] = token[len - 2] == 'A' ? 'B' : 'A';
  refuse_token(auth, token, "wrong signature");
  free(token);
  token = sign_with("another secret", DRAFT_HEADER, CONFORMANCE_CLAIMS);
  refuse_token(auth, token, "wrong signature");
  free(token);
  qs_auth_destroy(auth);
}

static void test_tampered_claims_are_refused(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(true);
  char *good = sign(SYMFONY_HEADER, "{\"mercure\":{\"publish\":[]}}");
  char *evil = sign(SYMFONY_HEADER, "{\"mercure\":{\"publish\":[\"*\"]}}");
  /* Splice the claims of one token with the signature of another. */
  char spliced[1024];
  const char *good_sig = strrchr(good, '.');
  snprintf(spliced, sizeof spliced, "%.*s%s", (int)(strrchr(evil, '.') - evil), evil, good_sig);
  refuse_token(auth, spliced, "wrong signature");
  free(good);
  free(evil);
  qs_auth_destroy(auth);
}

static void test_alg_none_and_disallowed_alg_are_refused(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(true);
  refuse_token(auth, "eyJhbGciOiJub25lIn0.eyJtZXJjdXJlIjp7InB1Ymxpc2giOlsiKiJdfX0.", "alg none is refused");
  refuse_token(auth, "eyJhbGciOiJub25lIn0.eyJtZXJjdXJlIjp7InB1Ymxpc2giOlsiKiJdfX0.AAAA",
               "alg none is refused");
  /* HS512 signed with the right secret is still refused: the key pins HS256. */
  qs_buf_t out;
  qs_buf_init(&out, 4096);
  assert_int_equal(
      qs_jwt_sign_hs(QS_JWT_HS512, qs_slice_from_cstr(DEV_SECRET), qs_slice_from_cstr("{\"alg\":\"HS512\"}"),
                     qs_slice_from_cstr("{\"mercure\":{\"publish\":[\"*\"]}}"), &out),
      0);
  refuse_token(auth, out.ptr, "algorithm not allowed for this key");
  qs_buf_dispose(&out);
  /* A header lying about its alg (HS384 header, HS256 signature). */
  refuse(auth, "{\"alg\":\"HS384\"}", "{}", "algorithm not allowed for this key");
  qs_auth_destroy(auth);
}

static void test_hs_token_against_an_rsa_key_is_refused(void **state) {
  (void)state;
  static const char pem[] =
      "-----BEGIN PUBLIC KEY-----\n"
      "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n"
      "4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u\n"
      "+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyeh\n"
      "kd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ\n"
      "0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdg\n"
      "cKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbc\n"
      "mwIDAQAB\n"
      "-----END PUBLIC KEY-----\n";
  qs_auth_key_config_t key = {.alg = QS_JWT_RS256, .material = qs_slice_from_cstr(pem), .legacy = true};
  qs_auth_config_t config = {.publisher_keys = &key, .publisher_key_count = 1};
  qs_auth_t *auth = NULL;
  const char *reason = NULL;
  assert_int_equal(qs_auth_create(&config, &auth, &reason), 0);
  /* The classic confusion attack: HMAC with the public key's PEM as secret. */
  char *token = sign_with(pem, SYMFONY_HEADER, "{\"mercure\":{\"publish\":[\"*\"]}}");
  refuse_token(auth, token, "algorithm not allowed for this key");
  free(token);
  qs_auth_destroy(auth);
  /* And the configuration cannot pair that PEM with HS256. */
  key.alg = QS_JWT_HS256;
  assert_int_equal(qs_auth_create(&config, &auth, &reason), QS_EINVAL);
  assert_null(auth);
}

static void test_expired_and_not_yet_valid_are_refused(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(true);
  refuse(auth, SYMFONY_HEADER, "{\"exp\":1767225599.999,\"mercure\":{}}", "expired");
  refuse(auth, SYMFONY_HEADER, "{\"exp\":1767225600,\"mercure\":{}}", "expired");
  refuse(auth, SYMFONY_HEADER, "{\"exp\":\"4102444800\",\"mercure\":{}}", "exp is not a number");
  refuse(auth, SYMFONY_HEADER, "{\"nbf\":1767225600.001,\"mercure\":{}}", "not yet valid (nbf)");
  qs_grants_release(
      accept(auth, QS_AUTH_PUBLISHER, SYMFONY_HEADER, "{\"nbf\":1767225600,\"exp\":1767225600.001}"));
  qs_auth_destroy(auth);
}

static void test_draft08_token_needs_exp_even_with_a_legacy_key(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(true);
  refuse(auth, DRAFT_HEADER, "{\"authorization_details\":[]}", "missing exp");
  qs_auth_destroy(auth);
  auth = make_auth(false);
  refuse(auth, DRAFT_HEADER, "{\"aud\":\"" HUB_URL "\",\"iss\":\"https://localhost\"}", "missing exp");
  qs_auth_destroy(auth);
}

static void test_wrong_aud_is_refused(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(false);
  refuse(auth, DRAFT_HEADER,
         "{\"aud\":\"https://evil/.well-known/mercure\",\"iss\":\"https://localhost\",\"exp\":4102444800}",
         "wrong aud");
  refuse(auth, DRAFT_HEADER, "{\"aud\":[\"https://evil\"],\"iss\":\"https://localhost\",\"exp\":4102444800}",
         "wrong aud");
  refuse(auth, DRAFT_HEADER, "{\"iss\":\"https://localhost\",\"exp\":4102444800}", "missing aud");
  refuse(auth, DRAFT_HEADER, "{\"aud\":42,\"iss\":\"https://localhost\",\"exp\":4102444800}",
         "aud is neither a string nor an array");
  qs_auth_destroy(auth);
  /* A legacy key checks the aud of a draft-08 token when it is present. */
  auth = make_auth(true);
  refuse(auth, DRAFT_HEADER, "{\"aud\":\"https://evil\",\"exp\":4102444800,\"authorization_details\":[]}",
         "wrong aud");
  qs_grants_release(
      accept(auth, QS_AUTH_PUBLISHER, DRAFT_HEADER, "{\"exp\":4102444800,\"authorization_details\":[]}"));
  qs_auth_destroy(auth);
}

static void test_refusal_details_name_the_decisive_values(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(false);
  refuse_detail(auth, QS_AUTH_PUBLISHER, DRAFT_HEADER,
                "{\"aud\":\"https://evil/\",\"iss\":\"https://localhost\",\"exp\":4102444800}",
                "wrong aud: the token's aud is `https://evil/`, this hub expects `" HUB_URL "`");
  refuse_detail(auth, QS_AUTH_PUBLISHER, DRAFT_HEADER, "{\"iss\":\"https://localhost\",\"exp\":4102444800}",
                "missing aud: this hub expects `" HUB_URL "`");
  refuse_detail(auth, QS_AUTH_SUBSCRIBER, DRAFT_HEADER,
                "{\"aud\":\"" HUB_URL "\",\"exp\":1767225475,\"authorization_details\":[]}",
                "expired since 2025-12-31T23:57:55Z (2 min 5 s ago)");
  refuse_detail(auth, QS_AUTH_PUBLISHER, DRAFT_HEADER,
                "{\"aud\":\"" HUB_URL "\",\"exp\":4102444800,\"nbf\":1767229200}",
                "not yet valid: nbf is 2026-01-01T01:00:00Z (in 1 h 0 min)");
  refuse_detail(
      auth, QS_AUTH_PUBLISHER, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "{}",
      "wrong typ: the header says `JWT`, and keys of trusted issuers apply the draft-08 rules, which "
      "need typ at+jwt");
  refuse_detail(
      auth, QS_AUTH_PUBLISHER, "{\"alg\":\"HS384\"}", "{}",
      "algorithm not allowed: the token is signed with HS384, the publisher keys that apply accept HS256");
  qs_auth_destroy(auth);
  /* A legacy key: a draft-08 token must still expire. */
  auth = make_auth(true);
  refuse_detail(auth, QS_AUTH_PUBLISHER, DRAFT_HEADER, "{\"authorization_details\":[]}",
                "missing exp: draft-08 tokens (with authorization_details) must expire");
  /* Token values are quoted without control characters. */
  refuse_detail(auth, QS_AUTH_PUBLISHER, DRAFT_HEADER,
                "{\"aud\":\"a\\nb\",\"exp\":4102444800,\"authorization_details\":[]}",
                "wrong aud: the token's aud is `a?b`, this hub expects `" HUB_URL "`");
  char *token = sign_with("another secret", SYMFONY_HEADER, "{}");
  qs_grants_t *grants = NULL;
  qs_auth_failure_t why;
  assert_int_equal(qs_auth_verify(auth, QS_AUTH_SUBSCRIBER, qs_slice_from_cstr(token), NOW_MS, &grants, &why),
                   QS_EAUTH);
  assert_string_equal(why.reason, "wrong signature");
  assert_string_equal(qs_auth_failure_text(&why),
                      "wrong signature: no subscriber HS256 key of this hub verifies "
                      "it (signed with another key, or altered since)");
  free(token);
  qs_auth_destroy(auth);
}

static void test_explain_names_the_key_and_the_rules(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(true);
  char *token = sign(SYMFONY_HEADER, "{\"mercure\":{\"publish\":[\"*\"]}}");
  qs_grants_t *grants = NULL;
  qs_auth_failure_t why;
  qs_auth_explain_t explain;
  assert_int_equal(qs_auth_verify_explain(auth, QS_AUTH_PUBLISHER, qs_slice_from_cstr(token), (qs_slice_t){0},
                                          NOW_MS, &grants, &why, &explain),
                   0);
  assert_int_equal(explain.key_index, 0);
  assert_true(explain.key_legacy);
  assert_true(explain.legacy_rules);
  assert_int_equal(explain.alg, QS_JWT_HS256);
  assert_true(can_publish(grants, "https://example.com/a"));
  qs_grants_release(grants);
  free(token);
  token = sign(DRAFT_HEADER, "{\"exp\":4102444800,\"authorization_details\":[]}");
  assert_int_equal(qs_auth_verify_explain(auth, QS_AUTH_PUBLISHER, qs_slice_from_cstr(token), (qs_slice_t){0},
                                          NOW_MS, &grants, &why, &explain),
                   0);
  assert_false(explain.legacy_rules);
  qs_grants_release(grants);
  free(token);
  assert_int_equal(qs_auth_key_count(auth, QS_AUTH_PUBLISHER), 1);
  assert_true(qs_auth_keys_loaded(auth));
  assert_true(qs_slice_eq_cstr(qs_auth_resource_identifier(auth), HUB_URL));
  qs_auth_destroy(auth);
}

static void test_per_request_resource_identifier(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(false);
  char *token = sign(DRAFT_HEADER, CONFORMANCE_CLAIMS);
  qs_grants_t *g = NULL;
  qs_auth_failure_t why;
  assert_int_equal(
      qs_auth_verify_for(auth, QS_AUTH_PUBLISHER, qs_slice_from_cstr(token),
                         qs_slice_from_cstr("https://other.example/.well-known/mercure"), NOW_MS, &g, &why),
      QS_EAUTH);
  assert_string_equal(why.reason, "wrong aud");
  free(token);
  qs_auth_destroy(auth);
}

static void test_wrong_typ_is_refused_by_non_legacy_keys(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(false);
  refuse(auth, SYMFONY_HEADER, CONFORMANCE_CLAIMS, "wrong typ (at+jwt expected)");
  refuse(auth, "{\"alg\":\"HS256\"}", CONFORMANCE_CLAIMS, "wrong typ (at+jwt expected)");
  refuse(auth, "{\"alg\":\"HS256\",\"typ\":\"application/jwt\"}", CONFORMANCE_CLAIMS,
         "wrong typ (at+jwt expected)");
  /* A Symfony legacy token never passes a non-legacy key. */
  refuse(auth, SYMFONY_HEADER, "{\"exp\":4102444800,\"mercure\":{\"publish\":[\"*\"]}}",
         "wrong typ (at+jwt expected)");
  qs_auth_destroy(auth);
}

static void test_untrusted_issuer_is_refused(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(false);
  refuse(auth, DRAFT_HEADER, "{\"aud\":\"" HUB_URL "\",\"iss\":\"https://evil\",\"exp\":4102444800}",
         "untrusted iss");
  refuse(auth, DRAFT_HEADER, "{\"aud\":\"" HUB_URL "\",\"exp\":4102444800}", "untrusted iss");
  qs_auth_destroy(auth);
}

static void test_malformed_tokens_are_invalid_token(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(true);
  refuse_token(auth, "not a token", "not a JWS compact serialization (three parts expected)");
  refuse_token(auth, "eyJhbGciOiJIUzI1NiJ9.e30=.AAAA", "malformed base64url in the claims");
  refuse_token(auth, "eyJhbGciOiJIUzI1NiJ9.!!!!.AAAA", "malformed base64url in the claims");
  refuse_token(auth, "e30.e30.AAAA", "the header has no alg");
  refuse(auth, SYMFONY_HEADER, "{\"mercure\":[\"*\"]}", "the mercure claim is not an object");
  refuse(auth, SYMFONY_HEADER, "{\"mercure\":{\"publish\":\"*\"}}", "a mercure claim list is not an array");
  refuse(auth, SYMFONY_HEADER, "{\"mercure\":{\"publish\":[1]}}",
         "a mercure claim entry is neither a string nor an object");
  qs_auth_destroy(auth);
}

static void test_token_size_cap(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(true);
  char claims[9000];
  int n = snprintf(claims, sizeof claims, "{\"mercure\":{\"publish\":[\"");
  memset(claims + n, 'a', 7000);
  strcpy(claims + n + 7000, "\"]}}");
  refuse(auth, SYMFONY_HEADER, claims, "token too large");
  qs_auth_destroy(auth);
}

static void test_bad_authorization_details_invalidate_the_token(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(false);
  static const struct {
    const char *details;
    const char *reason;
  } cases[] = {
      {"{}", "authorization_details is not an array"},
      {"[\"x\"]", "an authorization detail is not an object"},
      {"[{\"type\":\"https://mercure.rocks/authorization-detail\",\"topics\":[{\"match\":\"*\"}]}]",
       "an authorization detail has no actions"},
      {"[{\"type\":\"https://mercure.rocks/"
       "authorization-detail\",\"actions\":[],\"topics\":[{\"match\":\"*\"}]}]",
       "an authorization detail has no actions"},
      {"[{\"type\":\"https://mercure.rocks/"
       "authorization-detail\",\"actions\":[\"publish\",1],\"topics\":[{\"match\":\"*\"}]}]",
       "an authorization detail action is not a string"},
      {"[{\"type\":\"https://mercure.rocks/authorization-detail\",\"actions\":[\"publish\"]}]",
       "an authorization detail has no topics"},
      {"[{\"type\":\"https://mercure.rocks/authorization-detail\",\"actions\":[\"publish\"],\"topics\":[]}]",
       "an authorization detail has no topics"},
      {"[{\"type\":\"https://mercure.rocks/"
       "authorization-detail\",\"actions\":[\"publish\"],\"topics\":[\"*\"]}]",
       "a topic matcher in the token has no match string"},
      {"[{\"type\":\"https://mercure.rocks/"
       "authorization-detail\",\"actions\":[\"publish\"],\"topics\":[{}]}]",
       "a topic matcher in the token has no match string"},
      {"[{\"type\":\"https://mercure.rocks/"
       "authorization-detail\",\"actions\":[\"publish\"],\"topics\":[{\"match\":\"\"}]}]",
       "a topic matcher in the token has no match string"},
      {"[{\"type\":\"https://mercure.rocks/"
       "authorization-detail\",\"actions\":[\"publish\"],\"topics\":[{\"match\":null}]}]",
       "a topic matcher in the token has no match string"},
      {"[{\"type\":\"https://mercure.rocks/"
       "authorization-detail\",\"actions\":[\"publish\"],\"topics\":[{\"match\":\"a\","
       "\"match_type\":\"regex\"}]}]",
       "unsupported match_type in the token"},
      {"[{\"type\":\"https://mercure.rocks/"
       "authorization-detail\",\"actions\":[\"publish\"],\"topics\":[{\"match\":\"a\","
       "\"match_type\":\"Exact\"}]}]",
       "unsupported match_type in the token"},
      {"[{\"type\":\"https://mercure.rocks/"
       "authorization-detail\",\"actions\":[\"read\"],\"topics\":[{\"match\":\"a\\u0001\"}]}]",
       "a topic matcher in the token is invalid"},
      /* One good detail does not save a bad one. */
      {"[{\"type\":\"https://mercure.rocks/"
       "authorization-detail\",\"actions\":[\"publish\"],\"topics\":[{\"match\":\"*\"}]},"
       "{\"type\":\"https://mercure.rocks/"
       "authorization-detail\",\"actions\":[\"subscribe\"],\"topics\":[5]}]",
       "a topic matcher in the token has no match string"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char claims[2048];
    snprintf(claims, sizeof claims,
             "{\"aud\":\"" HUB_URL
             "\",\"iss\":\"https://localhost\",\"exp\":4102444800,\"authorization_details\":%s}",
             cases[i].details);
    refuse(auth, DRAFT_HEADER, claims, cases[i].reason);
  }
  qs_auth_destroy(auth);
}

static void test_other_detail_types_and_unknown_actions_grant_nothing(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(false);
  qs_grants_t *g = accept(auth, QS_AUTH_PUBLISHER, DRAFT_HEADER,
                          "{\"aud\":\"" HUB_URL
                          "\",\"iss\":\"https://localhost\",\"exp\":4102444800,\"authorization_details\":["
                          "{\"type\":\"payment_initiation\",\"actions\":42,\"topics\":\"anything\"},"
                          "{\"type\":\"https://mercure.rocks/authorization-detail/"
                          "\",\"actions\":[\"publish\"],\"topics\":[{\"match\":\"*\"}]},"
                          "{\"type\":\"https://mercure.rocks/"
                          "authorization-detail\",\"actions\":[\"delete\"],\"topics\":[{\"match\":\"*\"}]}],"
                          "\"mercure\":{\"publish\":[\"*\"]}}");
  assert_int_equal(g->publish_count, 0);
  assert_int_equal(g->subscribe_count, 0);
  assert_false(can_publish(g, "x"));
  qs_grants_release(g);
  qs_auth_destroy(auth);
}

static void test_authorization_details_win_over_the_legacy_claim(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(true);
  qs_grants_t *g =
      accept(auth, QS_AUTH_PUBLISHER, DRAFT_HEADER,
             "{\"exp\":4102444800,\"mercure\":{\"publish\":[\"*\"],\"payload\":{\"a\":1}},"
             "\"authorization_details\":[{\"type\":\"https://mercure.rocks/authorization-detail\","
             "\"actions\":[\"publish\"],\"topics\":[{\"match\":\"only/this\"}]}]}");
  assert_false(g->legacy);
  assert_true(can_publish(g, "only/this"));
  assert_false(can_publish(g, "other"));
  assert_int_equal(g->legacy_payload_json.len, 0);
  qs_grants_release(g);
  qs_auth_destroy(auth);
}

static void test_detail_limits(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(false);
  static char claims[200000];
  /* 101 topics over two details. */
  size_t n = (size_t)snprintf(claims, sizeof claims,
                              "{\"aud\":\"" HUB_URL
                              "\",\"iss\":\"https://localhost\",\"exp\":4102444800,"
                              "\"authorization_details\":[");
  for (int d = 0; d < 2; d++) {
    n += (size_t)snprintf(
        claims + n, sizeof claims - n,
        "%s{\"type\":\"https://mercure.rocks/authorization-detail\",\"actions\":[\"publish\"],"
        "\"topics\":[",
        d ? "," : "");
    for (int t = 0; t < (d ? 51 : 50); t++)
      n += (size_t)snprintf(claims + n, sizeof claims - n, "%s{\"match\":\"t%d\"}", t ? "," : "", t);
    n += (size_t)snprintf(claims + n, sizeof claims - n, "]}");
  }
  snprintf(claims + n, sizeof claims - n, "]}");
  qs_auth_key_config_t key = {.alg = QS_JWT_HS256, .material = qs_slice_from_cstr(DEV_SECRET)};
  qs_auth_config_t config = {.publisher_keys = &key,
                             .publisher_key_count = 1,
                             .resource_identifier = qs_slice_from_cstr(HUB_URL),
                             .max_token_bytes = 1 << 17,
                             .match = {.hub_url = qs_slice_from_cstr(HUB_URL), .max_pattern_bytes = 4096}};
  qs_auth_t *big = NULL;
  const char *reason;
  assert_int_equal(qs_auth_create(&config, &big, &reason), 0);
  refuse(big, DRAFT_HEADER, claims, "too many topic matchers in the authorization details");
  /* A pattern past 4096 bytes. */
  n = (size_t)snprintf(
      claims, sizeof claims,
      "{\"aud\":\"" HUB_URL
      "\",\"exp\":4102444800,\"authorization_details\":[{\"type\":"
      "\"https://mercure.rocks/authorization-detail\",\"actions\":[\"subscribe\"],\"topics\":[{\"match\":\"");
  memset(claims + n, 'p', 4097);
  snprintf(claims + n + 4097, sizeof claims - n - 4097, "\"}]}]}");
  refuse(big, DRAFT_HEADER, claims, "a topic matcher in the token is too long");
  qs_auth_destroy(big);
  qs_auth_destroy(auth);
}

static void test_role_without_keys_refuses(void **state) {
  (void)state;
  qs_auth_key_config_t key = {
      .alg = QS_JWT_HS256, .material = qs_slice_from_cstr(DEV_SECRET), .legacy = true};
  qs_auth_config_t config = {.publisher_keys = &key, .publisher_key_count = 1};
  qs_auth_t *auth = NULL;
  const char *reason;
  assert_int_equal(qs_auth_create(&config, &auth, &reason), 0);
  assert_true(qs_auth_has_keys(auth, QS_AUTH_PUBLISHER));
  assert_false(qs_auth_has_keys(auth, QS_AUTH_SUBSCRIBER));
  char *token = sign(SYMFONY_HEADER, "{\"mercure\":{\"subscribe\":[\"*\"]}}");
  qs_grants_t *g = NULL;
  qs_auth_failure_t why;
  assert_int_equal(qs_auth_verify(auth, QS_AUTH_SUBSCRIBER, qs_slice_from_cstr(token), NOW_MS, &g, &why),
                   QS_EAUTH);
  assert_string_equal(why.reason, "no key is configured for this role");
  free(token);
  qs_auth_destroy(auth);
}

static void test_key_bound_to_an_issuer(void **state) {
  (void)state;
  qs_auth_key_config_t keys[] = {
      {.alg = QS_JWT_HS256,
       .material = qs_slice_from_cstr("secret of a"),
       .issuer = qs_slice_from_cstr("https://a")},
      {.alg = QS_JWT_HS256,
       .material = qs_slice_from_cstr(DEV_SECRET),
       .issuer = qs_slice_from_cstr("https://b")},
  };
  qs_auth_config_t config = {.publisher_keys = keys,
                             .publisher_key_count = 2,
                             .resource_identifier = qs_slice_from_cstr(HUB_URL),
                             .match = {.hub_url = qs_slice_from_cstr(HUB_URL)}};
  qs_auth_t *auth = NULL;
  const char *reason;
  assert_int_equal(qs_auth_create(&config, &auth, &reason), 0);
  qs_grants_release(accept(auth, QS_AUTH_PUBLISHER, DRAFT_HEADER,
                           "{\"aud\":\"" HUB_URL "\",\"iss\":\"https://b\",\"exp\":4102444800}"));
  /* The dev secret belongs to issuer b: a token claiming issuer a is not verified with it. */
  refuse(auth, DRAFT_HEADER, "{\"aud\":\"" HUB_URL "\",\"iss\":\"https://a\",\"exp\":4102444800}",
         "wrong signature");
  refuse(auth, DRAFT_HEADER, "{\"aud\":\"" HUB_URL "\",\"iss\":\"https://c\",\"exp\":4102444800}",
         "no key for this issuer");
  qs_auth_destroy(auth);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_symfony_publisher_token_with_fractional_exp),
      cmocka_unit_test(test_symfony_subscriber_cookie_token),
      cmocka_unit_test(test_namespaced_legacy_claim_wins),
      cmocka_unit_test(test_legacy_key_ignores_aud_typ_and_iss_of_legacy_tokens),
      cmocka_unit_test(test_conformance_suite_token),
      cmocka_unit_test(test_typ_variants_are_accepted),
      cmocka_unit_test(test_aud_array_containing_the_resource_is_accepted),
      cmocka_unit_test(test_tampered_signature_is_refused),
      cmocka_unit_test(test_tampered_claims_are_refused),
      cmocka_unit_test(test_alg_none_and_disallowed_alg_are_refused),
      cmocka_unit_test(test_hs_token_against_an_rsa_key_is_refused),
      cmocka_unit_test(test_expired_and_not_yet_valid_are_refused),
      cmocka_unit_test(test_draft08_token_needs_exp_even_with_a_legacy_key),
      cmocka_unit_test(test_wrong_aud_is_refused),
      cmocka_unit_test(test_refusal_details_name_the_decisive_values),
      cmocka_unit_test(test_explain_names_the_key_and_the_rules),
      cmocka_unit_test(test_per_request_resource_identifier),
      cmocka_unit_test(test_wrong_typ_is_refused_by_non_legacy_keys),
      cmocka_unit_test(test_untrusted_issuer_is_refused),
      cmocka_unit_test(test_malformed_tokens_are_invalid_token),
      cmocka_unit_test(test_token_size_cap),
      cmocka_unit_test(test_bad_authorization_details_invalidate_the_token),
      cmocka_unit_test(test_other_detail_types_and_unknown_actions_grant_nothing),
      cmocka_unit_test(test_authorization_details_win_over_the_legacy_claim),
      cmocka_unit_test(test_detail_limits),
      cmocka_unit_test(test_role_without_keys_refuses),
      cmocka_unit_test(test_key_bound_to_an_issuer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
