/* The verified-token cache behind qs_auth_verify(). */
#include <pthread.h>
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

#define NOW_MS 1767225600000LL

static qs_auth_t *make_auth(size_t cache_entries, const char *subscriber_secret) {
  qs_auth_key_config_t pub = {
      .alg = QS_JWT_HS256, .material = qs_slice_from_cstr(DEV_SECRET), .legacy = true};
  qs_auth_key_config_t sub = {
      .alg = QS_JWT_HS256, .material = qs_slice_from_cstr(subscriber_secret), .legacy = true};
  qs_auth_config_t config = {.publisher_keys = &pub,
                             .publisher_key_count = 1,
                             .subscriber_keys = &sub,
                             .subscriber_key_count = 1,
                             .resource_identifier = qs_slice_from_cstr(HUB_URL),
                             .match = {.hub_url = qs_slice_from_cstr(HUB_URL), .max_pattern_bytes = 4096},
                             .cache_max_entries = cache_entries};
  qs_auth_t *auth = NULL;
  const char *reason = NULL;
  assert_int_equal(qs_auth_create(&config, &auth, &reason), 0);
  return auth;
}

static int verify(qs_auth_t *auth, qs_auth_role_t role, const char *token, int64_t now_ms, qs_grants_t **g,
                  qs_auth_failure_t *why) {
  return qs_auth_verify(auth, role, qs_slice_from_cstr(token), now_ms, g, why);
}

static void test_second_verification_shares_the_grants(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(QS_AUTH_DEFAULT_CACHE_ENTRIES, DEV_SECRET);
  char *token = sign("{\"alg\":\"HS256\"}", "{\"exp\":1767229200.5,\"mercure\":{\"publish\":[\"*\"]}}");
  qs_grants_t *a = NULL, *b = NULL;
  qs_auth_failure_t why;
  assert_int_equal(verify(auth, QS_AUTH_PUBLISHER, token, NOW_MS, &a, &why), 0);
  assert_int_equal(verify(auth, QS_AUTH_PUBLISHER, token, NOW_MS + 1000, &b, &why), 0);
  assert_ptr_equal(a, b);
  qs_grants_release(a);
  qs_grants_release(b);
  free(token);
  qs_auth_destroy(auth);
}

static void test_cached_token_still_expires(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(QS_AUTH_DEFAULT_CACHE_ENTRIES, DEV_SECRET);
  char *token = sign("{\"alg\":\"HS256\"}", "{\"exp\":1767225601,\"mercure\":{\"publish\":[\"*\"]}}");
  qs_grants_t *g = NULL;
  qs_auth_failure_t why;
  assert_int_equal(verify(auth, QS_AUTH_PUBLISHER, token, NOW_MS, &g, &why), 0);
  qs_grants_release(g);
  assert_int_equal(verify(auth, QS_AUTH_PUBLISHER, token, NOW_MS + 1000, &g, &why), QS_EAUTH);
  assert_string_equal(why.reason, "expired");
  assert_null(g);
  free(token);
  qs_auth_destroy(auth);
}

static void test_cache_is_per_role_and_resource(void **state) {
  (void)state;
  /* The subscriber key differs: a publisher-verified token must not pass as a subscriber one. */
  qs_auth_t *auth = make_auth(QS_AUTH_DEFAULT_CACHE_ENTRIES, "subscriber secret");
  char *token = sign("{\"alg\":\"HS256\"}", "{\"mercure\":{\"subscribe\":[\"*\"]}}");
  qs_grants_t *g = NULL;
  qs_auth_failure_t why;
  assert_int_equal(verify(auth, QS_AUTH_PUBLISHER, token, NOW_MS, &g, &why), 0);
  qs_grants_release(g);
  assert_int_equal(verify(auth, QS_AUTH_SUBSCRIBER, token, NOW_MS, &g, &why), QS_EAUTH);
  assert_string_equal(why.reason, "wrong signature");
  free(token);
  /* A draft-08 token checked against one resource is not reused for another. */
  token = sign("{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}",
               "{\"aud\":\"" HUB_URL "\",\"exp\":4102444800,\"authorization_details\":[]}");
  assert_int_equal(verify(auth, QS_AUTH_PUBLISHER, token, NOW_MS, &g, &why), 0);
  qs_grants_release(g);
  assert_int_equal(
      qs_auth_verify_for(auth, QS_AUTH_PUBLISHER, qs_slice_from_cstr(token),
                         qs_slice_from_cstr("https://other/.well-known/mercure"), NOW_MS, &g, &why),
      QS_EAUTH);
  assert_string_equal(why.reason, "wrong aud");
  free(token);
  qs_auth_destroy(auth);
}

static void test_full_cache_keeps_verifying(void **state) {
  (void)state;
  qs_auth_t *auth = make_auth(16, DEV_SECRET);
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 200; i++) {
      char claims[128];
      snprintf(claims, sizeof claims, "{\"mercure\":{\"publish\":[\"t%d\"]}}", i);
      char *token = sign("{\"alg\":\"HS256\"}", claims);
      qs_grants_t *g = NULL;
      qs_auth_failure_t why;
      assert_int_equal(verify(auth, QS_AUTH_PUBLISHER, token, NOW_MS, &g, &why), 0);
      char topic[16];
      snprintf(topic, sizeof topic, "t%d", i);
      qs_slice_t t = qs_slice_from_cstr(topic);
      assert_true(qs_grants_can_publish(g, &t, 1));
      qs_grants_release(g);
      free(token);
    }
  }
  qs_auth_destroy(auth);
}

typedef struct {
  qs_auth_t *auth;
  char *tokens[4];
  int failures;
} race_t;

static void *verify_many(void *arg) {
  race_t *race = arg;
  for (int i = 0; i < 2000; i++) {
    qs_grants_t *g = NULL;
    qs_auth_failure_t why;
    if (verify(race->auth, QS_AUTH_PUBLISHER, race->tokens[i % 4], NOW_MS, &g, &why) != 0) {
      __atomic_add_fetch(&race->failures, 1, __ATOMIC_RELAXED);
      continue;
    }
    qs_grants_release(g);
  }
  return NULL;
}

static void test_concurrent_verification(void **state) {
  (void)state;
  race_t race = {.auth = make_auth(2, DEV_SECRET)};
  for (int i = 0; i < 4; i++) {
    char claims[128];
    snprintf(claims, sizeof claims, "{\"mercure\":{\"publish\":[\"t%d\"]}}", i);
    race.tokens[i] = sign("{\"alg\":\"HS256\"}", claims);
  }
  pthread_t threads[8];
  for (int i = 0; i < 8; i++) assert_int_equal(pthread_create(&threads[i], NULL, verify_many, &race), 0);
  for (int i = 0; i < 8; i++) pthread_join(threads[i], NULL);
  assert_int_equal(race.failures, 0);
  for (int i = 0; i < 4; i++) free(race.tokens[i]);
  qs_auth_destroy(race.auth);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_second_verification_shares_the_grants),
      cmocka_unit_test(test_cached_token_still_expires),
      cmocka_unit_test(test_cache_is_per_role_and_resource),
      cmocka_unit_test(test_full_cache_keeps_verifying),
      cmocka_unit_test(test_concurrent_verification),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
