/* Token extraction: header > legacy query > cookie, and the Cookie parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "auth/extract.h"
#include "base/error.h"

#define JWT "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"

static void expect_token(const qs_token_request_t *req, const char *token, qs_token_source_t source) {
  qs_slice_t got;
  qs_token_source_t got_source;
  qs_auth_failure_t why;
  int rc = qs_token_extract(req, &got, &got_source, &why);
  if (rc) fail_msg("refused: %s", why.reason);
  assert_int_equal(got_source, source);
  if (!qs_slice_eq_cstr(got, token))
    fail_msg("got \"%.*s\", expected \"%s\"", (int)got.len, got.ptr ? got.ptr : "", token);
}

static void expect_invalid_request(const qs_token_request_t *req, const char *reason) {
  qs_slice_t got;
  qs_token_source_t got_source;
  qs_auth_failure_t why;
  assert_int_equal(qs_token_extract(req, &got, &got_source, &why), QS_EPARSE);
  assert_string_equal(why.error, "invalid_request");
  assert_string_equal(why.reason, reason);
  assert_int_equal(got.len, 0);
}

static void test_bearer_header_scheme_is_case_insensitive(void **state) {
  (void)state;
  const char *values[] = {"Bearer " JWT, "bearer " JWT, "BEARER   " JWT "  ", "  Bearer\t" JWT};
  for (size_t i = 0; i < 4; i++) {
    qs_slice_t h = qs_slice_from_cstr(values[i]);
    qs_token_request_t req = {.authorization = &h, .authorization_count = 1};
    expect_token(&req, JWT, QS_TOKEN_HEADER);
  }
}

static void test_header_wins_over_cookie_and_query(void **state) {
  (void)state;
  qs_slice_t h = qs_slice_from_cstr("Bearer header.token.x");
  qs_slice_t c = qs_slice_from_cstr("mercureAuthorization=cookie.token.x");
  qs_slice_t q = qs_slice_from_cstr("query.token.x");
  qs_token_request_t req = {.authorization = &h,
                            .authorization_count = 1,
                            .cookie = &c,
                            .cookie_count = 1,
                            .query_authorization = &q,
                            .query_authorization_count = 1,
                            .legacy = true};
  expect_token(&req, "header.token.x", QS_TOKEN_HEADER);
  req.authorization_count = 0;
  expect_token(&req, "query.token.x", QS_TOKEN_QUERY);
  req.query_authorization_count = 0;
  expect_token(&req, "cookie.token.x", QS_TOKEN_COOKIE);
}

static void test_bad_header_is_invalid_request_without_fallback(void **state) {
  (void)state;
  qs_slice_t c = qs_slice_from_cstr("__Secure-mercure_access_token=" JWT);
  qs_slice_t two[] = {qs_slice_from_cstr("Bearer " JWT), qs_slice_from_cstr("Bearer " JWT)};
  qs_token_request_t req = {.authorization = two, .authorization_count = 2, .cookie = &c, .cookie_count = 1};
  expect_invalid_request(&req, "repeated Authorization header");
  static const struct {
    const char *value, *reason;
  } cases[] = {
      {"Basic dXNlcjpwYXNz", "the Authorization scheme is not Bearer"},
      {"Bearer", "the bearer token is empty"},
      {"Bearer   ", "the bearer token is empty"},
      {"", "the Authorization scheme is not Bearer"},
      {"BearerX " JWT, "the Authorization scheme is not Bearer"},
      {"Bearer a b", "the bearer token is malformed"},
      {"Bearer " JWT "=x", "the bearer token is malformed"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    qs_slice_t h = qs_slice_from_cstr(cases[i].value);
    req.authorization = &h;
    req.authorization_count = 1;
    expect_invalid_request(&req, cases[i].reason);
  }
}

static void test_cookie_names_and_legacy_fallback(void **state) {
  (void)state;
  qs_slice_t c = qs_slice_from_cstr(
      "theme=dark; mercureAuthorization=legacy.jwt.x; __Secure-mercure_access_token=new.jwt.x");
  qs_token_request_t req = {.cookie = &c, .cookie_count = 1};
  expect_token(&req, "new.jwt.x", QS_TOKEN_COOKIE);
  req.cookie_name = qs_slice_from_cstr("custom");
  /* Without legacy mode, neither the custom-named (absent) nor the legacy cookie is read. */
  expect_token(&req, "", QS_TOKEN_NONE);
  req.legacy = true;
  expect_token(&req, "legacy.jwt.x", QS_TOKEN_COOKIE);
}

static void test_cookie_across_several_headers(void **state) {
  (void)state;
  qs_slice_t c[] = {qs_slice_from_cstr("a=1"), qs_slice_from_cstr("mercureAuthorization=" JWT)};
  qs_token_request_t req = {.cookie = c, .cookie_count = 2, .legacy = true};
  expect_token(&req, JWT, QS_TOKEN_COOKIE);
}

static void test_empty_query_and_cookie_count_as_absent(void **state) {
  (void)state;
  qs_slice_t q = qs_slice_from_cstr("");
  qs_slice_t c = qs_slice_from_cstr("mercureAuthorization=; other=x");
  qs_token_request_t req = {.query_authorization = &q,
                            .query_authorization_count = 1,
                            .cookie = &c,
                            .cookie_count = 1,
                            .legacy = true};
  expect_token(&req, "", QS_TOKEN_NONE);
  /* The query parameter is not read outside legacy mode (RFC 9700). */
  q = qs_slice_from_cstr(JWT);
  req.legacy = false;
  expect_token(&req, "", QS_TOKEN_NONE);
}

static void test_cookie_find_parses_pairs(void **state) {
  (void)state;
  qs_slice_t v;
  qs_slice_t header = qs_slice_from_cstr(" a=1 ;b = 2;;noequals; c=\"quoted\" ;d=x=y;e=");
  assert_int_equal(qs_cookie_find(header, qs_slice_from_cstr("a"), &v), 0);
  assert_true(qs_slice_eq_cstr(v, "1"));
  assert_int_equal(qs_cookie_find(header, qs_slice_from_cstr("b"), &v), 0);
  assert_true(qs_slice_eq_cstr(v, "2"));
  assert_int_equal(qs_cookie_find(header, qs_slice_from_cstr("c"), &v), 0);
  assert_true(qs_slice_eq_cstr(v, "quoted"));
  assert_int_equal(qs_cookie_find(header, qs_slice_from_cstr("d"), &v), 0);
  assert_true(qs_slice_eq_cstr(v, "x=y"));
  assert_int_equal(qs_cookie_find(header, qs_slice_from_cstr("e"), &v), 0);
  assert_int_equal(v.len, 0);
  assert_int_equal(qs_cookie_find(header, qs_slice_from_cstr("noequals"), &v), QS_ENOTFOUND);
  assert_int_equal(qs_cookie_find(header, qs_slice_from_cstr("A"), &v), QS_ENOTFOUND);
  assert_int_equal(qs_cookie_find(qs_slice_from_cstr(""), qs_slice_from_cstr("a"), &v), QS_ENOTFOUND);
  /* A name that is a suffix of another cookie's name does not match. */
  assert_int_equal(qs_cookie_find(qs_slice_from_cstr("xmercureAuthorization=1"),
                                  qs_slice_from_cstr("mercureAuthorization"), &v),
                   QS_ENOTFOUND);
}

static void test_cookie_find_never_reads_past_the_slice(void **state) {
  (void)state;
  const char bytes[] = "a=12345";
  qs_slice_t v;
  assert_int_equal(qs_cookie_find(qs_slice(bytes, 4), qs_slice_from_cstr("a"), &v), 0);
  assert_true(qs_slice_eq_cstr(v, "12"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bearer_header_scheme_is_case_insensitive),
      cmocka_unit_test(test_header_wins_over_cookie_and_query),
      cmocka_unit_test(test_bad_header_is_invalid_request_without_fallback),
      cmocka_unit_test(test_cookie_names_and_legacy_fallback),
      cmocka_unit_test(test_cookie_across_several_headers),
      cmocka_unit_test(test_empty_query_and_cookie_count_as_absent),
      cmocka_unit_test(test_cookie_find_parses_pairs),
      cmocka_unit_test(test_cookie_find_never_reads_past_the_slice),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
