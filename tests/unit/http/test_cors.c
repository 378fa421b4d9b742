/* CORS: allowlist, credentials, preflight, never reflecting unknown origins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/error.h"
#include "http/cors.h"

typedef struct {
  qs_http_request_t req;
  qs_http_header_t headers[4];
} fake_request_t;

/* Fills *f; the request points into *f, so f must not move afterwards. */
static void request(fake_request_t *out, const char *method, const char *origin, bool preflight) {
  fake_request_t f = {0};
  f.req.method = qs_slice_from_cstr(method);
  size_t n = 0;
  if (origin) {
    f.headers[n++] = (qs_http_header_t){qs_slice_from_cstr("Origin"), qs_slice_from_cstr(origin)};
    f.req.origin = qs_slice_from_cstr(origin);
    f.req.has_origin = true;
  }
  if (preflight)
    f.headers[n++] =
        (qs_http_header_t){qs_slice_from_cstr("Access-Control-Request-Method"), qs_slice_from_cstr("GET")};
  f.req.header_count = n;
  *out = f;
  out->req.headers = out->headers;
}

/* The value of `name` among out[0..n), or NULL. */
static const char *find(const qs_http_header_t *out, int n, const char *name) {
  static char value[256];
  for (int i = 0; i < n; i++)
    if (qs_slice_eq_nocase(out[i].name, qs_slice_from_cstr(name))) {
      snprintf(value, sizeof value, "%.*s", (int)out[i].value.len, out[i].value.ptr);
      return value;
    }
  return NULL;
}

static qs_cors_t *policy(const char *const *origins, size_t n) {
  qs_cors_t *c = NULL;
  assert_int_equal(qs_cors_create(origins, n, 0, &c), 0);
  return c;
}

static void allowed_origin_is_echoed_with_credentials(void **state) {
  const char *origins[] = {"https://app.example.com", "http://localhost:3000/"};
  qs_cors_t *c = policy(origins, 2);
  fake_request_t r;
  request(&r, "GET", "http://localhost:3000", false);
  qs_http_header_t out[QS_CORS_MAX_HEADERS];
  bool pre = true;
  int n = qs_cors_apply(c, &r.req, out, QS_CORS_MAX_HEADERS, &pre);
  assert_false(pre);
  assert_string_equal(find(out, n, "Access-Control-Allow-Origin"), "http://localhost:3000");
  assert_string_equal(find(out, n, "Access-Control-Allow-Credentials"), "true");
  assert_string_equal(find(out, n, "Vary"), "Origin");
  const char *expose = find(out, n, "Access-Control-Expose-Headers");
  assert_non_null(expose);
  assert_non_null(strstr(expose, "Link"));
  assert_non_null(strstr(expose, "Mercure-Last-Event-ID"));
  assert_non_null(strstr(expose, "WWW-Authenticate"));
  assert_null(find(out, n, "Access-Control-Allow-Methods"));
  qs_cors_destroy(c);
}

static void unknown_origin_is_never_reflected(void **state) {
  const char *origins[] = {"https://app.example.com"};
  qs_cors_t *c = policy(origins, 1);
  const char *bad[] = {"https://evil.example.com", "https://app.example.com.evil.com",
                       "http://app.example.com", "null", "https://app.example.com:443"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    fake_request_t r;
    request(&r, "GET", bad[i], false);
    qs_http_header_t out[QS_CORS_MAX_HEADERS];
    int n = qs_cors_apply(c, &r.req, out, QS_CORS_MAX_HEADERS, NULL);
    if (find(out, n, "Access-Control-Allow-Origin")) fail_msg("origin %s was allowed", bad[i]);
    assert_null(find(out, n, "Access-Control-Allow-Credentials"));
    assert_string_equal(find(out, n, "Vary"), "Origin");
  }
  qs_cors_destroy(c);
}

static void null_origin_only_when_listed(void **state) {
  const char *origins[] = {"null"};
  qs_cors_t *c = policy(origins, 1);
  fake_request_t r;
  request(&r, "GET", "null", false);
  qs_http_header_t out[QS_CORS_MAX_HEADERS];
  int n = qs_cors_apply(c, &r.req, out, QS_CORS_MAX_HEADERS, NULL);
  assert_string_equal(find(out, n, "Access-Control-Allow-Origin"), "null");
  qs_cors_destroy(c);
}

static void wildcard_allows_any_without_credentials(void **state) {
  const char *origins[] = {"*"};
  qs_cors_t *c = policy(origins, 1);
  fake_request_t r;
  request(&r, "GET", "https://anything.example", false);
  qs_http_header_t out[QS_CORS_MAX_HEADERS];
  int n = qs_cors_apply(c, &r.req, out, QS_CORS_MAX_HEADERS, NULL);
  assert_string_equal(find(out, n, "Access-Control-Allow-Origin"), "*");
  assert_null(find(out, n, "Access-Control-Allow-Credentials"));
  qs_cors_destroy(c);
}

static void preflight_lists_methods_headers_and_max_age(void **state) {
  const char *origins[] = {"https://app.example.com"};
  qs_cors_t *c = NULL;
  assert_int_equal(qs_cors_create(origins, 1, 3600, &c), 0);
  fake_request_t r;
  request(&r, "OPTIONS", "https://app.example.com", true);
  qs_http_header_t out[QS_CORS_MAX_HEADERS];
  bool pre = false;
  int n = qs_cors_apply(c, &r.req, out, QS_CORS_MAX_HEADERS, &pre);
  assert_true(pre);
  assert_string_equal(find(out, n, "Access-Control-Allow-Origin"), "https://app.example.com");
  assert_string_equal(find(out, n, "Access-Control-Allow-Credentials"), "true");
  const char *methods = find(out, n, "Access-Control-Allow-Methods");
  assert_non_null(methods);
  assert_non_null(strstr(methods, "GET"));
  assert_non_null(strstr(methods, "POST"));
  assert_non_null(strstr(methods, "OPTIONS"));
  const char *hdrs = find(out, n, "Access-Control-Allow-Headers");
  assert_non_null(strstr(hdrs, "authorization"));
  assert_non_null(strstr(hdrs, "last-event-id"));
  assert_non_null(strstr(hdrs, "content-type"));
  assert_string_equal(find(out, n, "Access-Control-Max-Age"), "3600");
  qs_cors_destroy(c);
}

static void options_without_request_method_is_not_preflight(void **state) {
  const char *origins[] = {"https://app.example.com"};
  qs_cors_t *c = policy(origins, 1);
  fake_request_t r;
  request(&r, "OPTIONS", "https://app.example.com", false);
  qs_http_header_t out[QS_CORS_MAX_HEADERS];
  bool pre = true;
  qs_cors_apply(c, &r.req, out, QS_CORS_MAX_HEADERS, &pre);
  assert_false(pre);
  qs_cors_destroy(c);
}

static void empty_policy_adds_nothing(void **state) {
  qs_cors_t *c = policy(NULL, 0);
  fake_request_t r;
  request(&r, "GET", "https://app.example.com", false);
  qs_http_header_t out[QS_CORS_MAX_HEADERS];
  assert_int_equal(qs_cors_apply(c, &r.req, out, QS_CORS_MAX_HEADERS, NULL), 0);
  assert_int_equal(qs_cors_apply(NULL, &r.req, out, QS_CORS_MAX_HEADERS, NULL), 0);
  assert_int_equal(qs_cors_apply(c, &r.req, out, 2, NULL), QS_EINVAL);
  qs_cors_destroy(c);
}

static void no_origin_header_gets_only_vary(void **state) {
  const char *origins[] = {"https://app.example.com"};
  qs_cors_t *c = policy(origins, 1);
  fake_request_t r;
  request(&r, "GET", NULL, false);
  qs_http_header_t out[QS_CORS_MAX_HEADERS];
  int n = qs_cors_apply(c, &r.req, out, QS_CORS_MAX_HEADERS, NULL);
  assert_int_equal(n, 1);
  assert_string_equal(find(out, n, "Vary"), "Origin");
  qs_cors_destroy(c);
}

static void malformed_entries_are_refused(void **state) {
  const char *bad[] = {"", "example.com", "https://", "https://example.com/path", "https://a b"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    qs_cors_t *c = NULL;
    if (qs_cors_create(&bad[i], 1, 0, &c) != QS_EINVAL) fail_msg("entry \"%s\" was accepted", bad[i]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(allowed_origin_is_echoed_with_credentials),
      cmocka_unit_test(unknown_origin_is_never_reflected),
      cmocka_unit_test(null_origin_only_when_listed),
      cmocka_unit_test(wildcard_allows_any_without_credentials),
      cmocka_unit_test(preflight_lists_methods_headers_and_max_age),
      cmocka_unit_test(options_without_request_method_is_not_preflight),
      cmocka_unit_test(empty_policy_adds_nothing),
      cmocka_unit_test(no_origin_header_gets_only_vary),
      cmocka_unit_test(malformed_entries_are_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
