/* The hub's key policy: what keys a configuration's sources resolve to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "auth/key_set.h"
#include "base/error.h"

#define S(text) qs_slice_from_cstr(text)

static int resolve(const qs_key_sources_t *sources, qs_key_set_t *set, char *err) {
  err[0] = '\0';
  return qs_key_set_resolve(sources, set, err, 256);
}

static void test_nothing_named_makes_one_development_key_for_both_roles(void **state) {
  (void)state;
  qs_key_sources_t sources = {0};
  qs_key_set_t set;
  char err[256];
  assert_false(qs_key_sources_named(&sources));
  assert_int_equal(resolve(&sources, &set, err), 0);
  assert_int_equal(strlen(set.dev_secret), 64);
  assert_int_equal(set.publisher_count, 1);
  assert_int_equal(set.subscriber_count, 1);
  assert_int_equal(set.publisher[0].alg, QS_JWT_HS256);
  assert_true(set.publisher[0].legacy);
  assert_memory_equal(set.publisher[0].material.ptr, set.dev_secret, 64);
  assert_memory_equal(set.subscriber[0].material.ptr, set.dev_secret, 64);
  char first[65];
  memcpy(first, set.dev_secret, sizeof first);
  qs_key_set_dispose(&set);
  assert_int_equal(resolve(&sources, &set, err), 0);
  assert_string_not_equal(first, set.dev_secret); /* random each run */
  qs_key_set_dispose(&set);
  qs_key_set_dispose(&set); /* twice is harmless */
}

static void test_one_role_named_serves_both(void **state) {
  (void)state;
  qs_key_set_t set;
  char err[256];
  qs_key_sources_t publisher_only = {.publisher = {.jwt = S("secret-p"), .jwt_alg = S("HS384")}};
  assert_true(qs_key_sources_named(&publisher_only));
  assert_int_equal(resolve(&publisher_only, &set, err), 0);
  assert_int_equal(set.dev_secret[0], '\0');
  assert_int_equal(set.subscriber_count, 1);
  assert_int_equal(set.subscriber[0].alg, QS_JWT_HS384);
  assert_memory_equal(set.subscriber[0].material.ptr, "secret-p", 8);
  qs_key_set_dispose(&set);
  qs_key_sources_t subscriber_only = {.subscriber = {.jwks_url = S("https://idp.example/jwks")}};
  assert_int_equal(resolve(&subscriber_only, &set, err), 0);
  assert_int_equal(set.publisher_count, 1);
  assert_int_equal(set.publisher[0].jwks_url.len, strlen("https://idp.example/jwks"));
  assert_int_equal(set.publisher[0].material.len, 0);
  qs_key_set_dispose(&set);
  /* Both named: each its own. */
  qs_key_sources_t both = {.publisher = {.jwt = S("p")}, .subscriber = {.jwt = S("s")}};
  assert_int_equal(resolve(&both, &set, err), 0);
  assert_memory_equal(set.publisher[0].material.ptr, "p", 1);
  assert_memory_equal(set.subscriber[0].material.ptr, "s", 1);
  assert_int_equal(set.publisher[0].alg, QS_JWT_HS256); /* the default */
  qs_key_set_dispose(&set);
}

static void test_a_jwk_with_the_default_algorithm_keeps_its_own(void **state) {
  (void)state;
  qs_key_set_t set;
  char err[256];
  const char *jwk = "{\"kty\":\"oct\",\"alg\":\"HS512\",\"k\":\"c2VjcmV0LXNlY3JldC1zZWNyZXQ\"}";
  qs_key_sources_t sources = {.publisher = {.jwt = S(jwk), .jwt_alg = S("HS256")}};
  assert_int_equal(resolve(&sources, &set, err), 0);
  assert_int_equal(set.publisher[0].alg, QS_JWT_ALG_INVALID);
  qs_key_set_dispose(&set);
  /* The same JWK from a file. */
  char path[] = "/tmp/qs-key-set-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, jwk, strlen(jwk)), (ssize_t)strlen(jwk));
  close(fd);
  char at_path[64];
  snprintf(at_path, sizeof at_path, "@%s", path);
  sources.publisher.jwt = S(at_path);
  assert_int_equal(resolve(&sources, &set, err), 0);
  assert_int_equal(set.publisher[0].alg, QS_JWT_ALG_INVALID);
  assert_memory_equal(set.publisher[0].material.ptr, jwk, strlen(jwk));
  qs_key_set_dispose(&set);
  unlink(path);
}

static void test_issuers_add_keys_bound_to_them(void **state) {
  (void)state;
  qs_key_set_t set;
  char err[256];
  qs_key_issuer_t issuers[] = {
      {.id = S("https://a.example"), .subscriber = {.jwt = S("sa")}},
      {.id = S("https://b.example"), .publisher = {.jwt = S("pb"), .jwt_alg = S("HS512")}},
  };
  qs_key_sources_t sources = {.publisher = {.jwt = S("hub")}, .issuers = issuers, .issuer_count = 2};
  assert_int_equal(resolve(&sources, &set, err), 0);
  assert_int_equal(set.publisher_count, 2);  /* the hub's, then b's */
  assert_int_equal(set.subscriber_count, 2); /* the hub's (from publisher), then a's */
  assert_true(set.publisher[0].legacy);
  assert_int_equal(set.publisher[0].issuer.len, 0);
  assert_false(set.publisher[1].legacy);
  assert_true(qs_slice_eq_cstr(set.publisher[1].issuer, "https://b.example"));
  assert_int_equal(set.publisher[1].alg, QS_JWT_HS512);
  assert_true(qs_slice_eq_cstr(set.subscriber[1].issuer, "https://a.example"));
  qs_key_set_dispose(&set);
  /* Issuers alone are enough to be "named", and give publishers a key. */
  qs_key_sources_t only_issuers = {.issuers = issuers + 1, .issuer_count = 1, .anonymous = true};
  assert_true(qs_key_sources_named(&only_issuers));
  assert_int_equal(resolve(&only_issuers, &set, err), 0);
  assert_int_equal(set.dev_secret[0], '\0');
  assert_int_equal(set.publisher_count, 1);
  assert_int_equal(set.subscriber_count, 0);
  qs_key_set_dispose(&set);
}

static void test_refusals_say_why_without_key_bytes(void **state) {
  (void)state;
  qs_key_set_t set;
  char err[256];
  qs_key_issuer_t twice[] = {{.id = S("https://a.example"), .publisher = {.jwt = S("x")}},
                             {.id = S("https://a.example"), .publisher = {.jwt = S("y")}}};
  qs_key_sources_t duplicate = {.issuers = twice, .issuer_count = 2, .anonymous = true};
  assert_int_equal(resolve(&duplicate, &set, err), QS_EINVAL);
  assert_non_null(strstr(err, "issuer 'https://a.example' is configured twice"));
  qs_key_set_dispose(&set);

  qs_key_sources_t bad_alg = {.publisher = {.jwt = S("top-secret-bytes"), .jwt_alg = S("HS999")}};
  assert_int_equal(resolve(&bad_alg, &set, err), QS_EINVAL);
  assert_non_null(strstr(err, "unsupported JWT algorithm 'HS999'"));
  assert_null(strstr(err, "top-secret-bytes"));
  qs_key_set_dispose(&set);

  qs_key_sources_t missing_file = {.publisher = {.jwt = S("@/nonexistent/qs-key")}};
  assert_int_equal(resolve(&missing_file, &set, err), QS_EINVAL);
  assert_non_null(strstr(err, "publisher key @/nonexistent/qs-key"));
  qs_key_set_dispose(&set);

  /* Subscribers only through an issuer: publishers have no key. */
  qs_key_issuer_t subscriber_issuer[] = {{.id = S("https://a.example"), .subscriber = {.jwt = S("s")}}};
  qs_key_sources_t no_publisher = {.issuers = subscriber_issuer, .issuer_count = 1};
  assert_int_equal(resolve(&no_publisher, &set, err), QS_EINVAL);
  assert_non_null(strstr(err, "publishers: a JWT key or the URL of a JWK Set must be provided"));
  qs_key_set_dispose(&set);

  qs_key_issuer_t publisher_issuer[] = {{.id = S("https://a.example"), .publisher = {.jwt = S("p")}}};
  qs_key_sources_t no_subscriber = {.issuers = publisher_issuer, .issuer_count = 1};
  assert_int_equal(resolve(&no_subscriber, &set, err), QS_EINVAL);
  assert_non_null(strstr(err, "(or set anonymous)"));
  qs_key_set_dispose(&set);
}

static void test_more_than_the_maximum_is_refused(void **state) {
  (void)state;
  static qs_key_issuer_t many[QS_KEY_SET_MAX + 1];
  static char ids[QS_KEY_SET_MAX + 1][32];
  for (size_t i = 0; i < QS_KEY_SET_MAX + 1; i++) {
    snprintf(ids[i], sizeof ids[i], "https://%zu.example", i);
    many[i] = (qs_key_issuer_t){.id = S(ids[i]), .publisher = {.jwt = S("p")}, .subscriber = {.jwt = S("s")}};
  }
  qs_key_set_t set;
  char err[256];
  qs_key_sources_t sources = {.issuers = many, .issuer_count = QS_KEY_SET_MAX + 1};
  assert_int_equal(resolve(&sources, &set, err), QS_EINVAL);
  assert_non_null(strstr(err, "more than 64 keys"));
  qs_key_set_dispose(&set);
  sources.issuer_count = QS_KEY_SET_MAX;
  assert_int_equal(resolve(&sources, &set, err), 0);
  assert_int_equal(set.publisher_count, QS_KEY_SET_MAX);
  qs_key_set_dispose(&set);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nothing_named_makes_one_development_key_for_both_roles),
      cmocka_unit_test(test_one_role_named_serves_both),
      cmocka_unit_test(test_a_jwk_with_the_default_algorithm_keeps_its_own),
      cmocka_unit_test(test_issuers_add_keys_bound_to_them),
      cmocka_unit_test(test_refusals_say_why_without_key_bytes),
      cmocka_unit_test(test_more_than_the_maximum_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
