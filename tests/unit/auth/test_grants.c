/* Grants semantics: publish needs every topic, private delivery needs any,
 * payloads come from the first matching grant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "auth/claims.h"
#include "auth/jws.h"
#include "base/error.h"

static const qs_match_options_t options = {.hub_url = {"https://localhost/.well-known/mercure", 37},
                                           .max_pattern_bytes = 4096};

static qs_grants_t *build(const char *claims_json, bool legacy) {
  json_t *claims = qs_json_parse_object(claims_json, strlen(claims_json));
  assert_non_null(claims);
  qs_grants_t *g = NULL;
  const char *reason = NULL;
  int rc = qs_grants_from_claims(claims, legacy, &options, &g, &reason);
  json_decref(claims);
  if (rc) fail_msg("%s refused: %s", claims_json, reason);
  return g;
}

static int build_rc(const char *claims_json, bool legacy) {
  json_t *claims = qs_json_parse_object(claims_json, strlen(claims_json));
  assert_non_null(claims);
  qs_grants_t *g = (qs_grants_t *)1;
  const char *reason = NULL;
  int rc = qs_grants_from_claims(claims, legacy, &options, &g, &reason);
  json_decref(claims);
  if (rc) {
    assert_null(g);
    assert_non_null(reason);
  } else {
    qs_grants_release(g);
  }
  return rc;
}

#define DETAIL(actions, topics, extra)                                            \
  "{\"type\":\"https://mercure.rocks/authorization-detail\",\"actions\":" actions \
  ",\"topics\":" topics extra "}"

static void test_publish_needs_every_topic(void **state) {
  (void)state;
  qs_grants_t *g = build("{\"authorization_details\":[" DETAIL(
                             "[\"publish\"]", "[{\"match\":\"a\"},{\"match\":\"b\"}]", "") "]}",
                         false);
  qs_slice_t ab[] = {{"a", 1}, {"b", 1}};
  qs_slice_t ac[] = {{"a", 1}, {"c", 1}};
  assert_true(qs_grants_can_publish(g, ab, 2));
  assert_false(qs_grants_can_publish(g, ac, 2));
  assert_false(qs_grants_can_publish(g, ab, 0));
  assert_false(qs_grants_can_receive(g, ab, 2));
  qs_grants_release(g);
}

static void test_private_delivery_needs_any_topic(void **state) {
  (void)state;
  qs_grants_t *g =
      build("{\"authorization_details\":[" DETAIL("[\"subscribe\"]", "[{\"match\":\"b\"}]", "") "]}", false);
  qs_slice_t ab[] = {{"a", 1}, {"b", 1}};
  qs_slice_t ac[] = {{"a", 1}, {"c", 1}};
  assert_true(qs_grants_can_receive(g, ab, 2));
  assert_false(qs_grants_can_receive(g, ac, 2));
  assert_false(qs_grants_can_publish(g, ab + 1, 1));
  qs_grants_release(g);
}

static void test_empty_grants_allow_nothing(void **state) {
  (void)state;
  qs_grants_t *g = qs_grants_create_empty();
  qs_slice_t t = {"a", 1};
  assert_false(qs_grants_can_publish(g, &t, 1));
  assert_false(qs_grants_can_receive(g, &t, 1));
  assert_int_equal(qs_grants_payload_for(g, t).len, 0);
  assert_ptr_equal(qs_grants_retain(g), g);
  qs_grants_release(g);
  qs_grants_release(g);
  qs_grants_release(NULL);
  assert_false(qs_grants_can_publish(NULL, &t, 1));
}

static void test_wildcard_and_urlpattern_grants(void **state) {
  (void)state;
  qs_grants_t *g = build("{\"authorization_details\":[" DETAIL(
                             "[\"publish\",\"subscribe\"]",
                             "[{\"match\":\"https://example.com/books/:id\",\"match_type\":\"urlpattern\"}]",
                             "") "," DETAIL("[\"subscribe\"]", "[{\"match\":\"*\"}]", "") "]}",
                         false);
  qs_slice_t book = qs_slice_from_cstr("https://example.com/books/1");
  qs_slice_t other = qs_slice_from_cstr("https://example.com/authors/1");
  assert_true(qs_grants_can_publish(g, &book, 1));
  assert_false(qs_grants_can_publish(g, &other, 1));
  assert_true(qs_grants_can_receive(g, &other, 1));
  assert_int_equal(g->publish_count, 1);
  assert_int_equal(g->subscribe_count, 2);
  qs_grants_release(g);
}

static void test_payload_of_the_first_matching_detail(void **state) {
  (void)state;
  qs_grants_t *g = build(
      "{\"authorization_details\":[" DETAIL(
          "[\"subscribe\"]", "[{\"match\":\"a\"}]",
          ",\"payload\":{\"user\":1, \"x\":[true]}") "," DETAIL("[\"subscribe\"]", "[{\"match\":\"*\"}]",
                                                                ",\"payload\":{\"user\":"
                                                                "2}") "," DETAIL("[\"subsc"
                                                                                 "ribe\"]",
                                                                                 "[{"
                                                                                 "\"match"
                                                                                 "\":"
                                                                                 "\"c\"}]",
                                                                                 "") "]}",
      false);
  qs_slice_t p = qs_grants_payload_for(g, qs_slice_from_cstr("a"));
  assert_true(qs_slice_eq_cstr(p, "{\"user\":1,\"x\":[true]}"));
  p = qs_grants_payload_for(g, qs_slice_from_cstr("b"));
  assert_true(qs_slice_eq_cstr(p, "{\"user\":2}"));
  qs_grants_release(g);
  /* The first matching detail has no payload: none, even if a later one has. */
  g = build("{\"authorization_details\":[" DETAIL("[\"subscribe\"]", "[{\"match\":\"a\"}]", "") "," DETAIL(
                "[\"subscribe\"]", "[{\"match\":\"*\"}]", ",\"payload\":{\"user\":2}") "]}",
            false);
  assert_int_equal(qs_grants_payload_for(g, qs_slice_from_cstr("a")).len, 0);
  assert_int_equal(qs_grants_payload_for(g, qs_slice_from_cstr("z")).len, 10);
  qs_grants_release(g);
}

static void test_legacy_string_selectors_are_uri_templates(void **state) {
  (void)state;
  qs_grants_t *g = build(
      "{\"mercure\":{\"publish\":[\"https://example.com/books/{id}\"],\"subscribe\":[\"access/42\"]}}", true);
  assert_true(g->legacy);
  qs_slice_t book = qs_slice_from_cstr("https://example.com/books/1");
  qs_slice_t nested = qs_slice_from_cstr("https://example.com/books/1/2");
  assert_true(qs_grants_can_publish(g, &book, 1));
  assert_false(qs_grants_can_publish(g, &nested, 1));
  qs_slice_t access = qs_slice_from_cstr("access/42");
  assert_true(qs_grants_can_receive(g, &access, 1));
  qs_grants_release(g);
}

static void test_legacy_publish_missing_or_null_grants_nothing(void **state) {
  (void)state;
  qs_slice_t t = qs_slice_from_cstr("a");
  const char *claims[] = {"{\"mercure\":{\"subscribe\":[\"*\"]}}", "{\"mercure\":{\"publish\":null}}",
                          "{\"mercure\":{\"publish\":[]}}", "{\"mercure\":null}", "{}"};
  for (size_t i = 0; i < 5; i++) {
    qs_grants_t *g = build(claims[i], true);
    assert_false(qs_grants_can_publish(g, &t, 1));
    qs_grants_release(g);
  }
}

static void test_legacy_claim_ignored_without_legacy_key(void **state) {
  (void)state;
  qs_grants_t *g = build("{\"mercure\":{\"publish\":[\"*\"],\"subscribe\":[\"*\"]}}", false);
  assert_false(g->legacy);
  assert_int_equal(g->publish_count + g->subscribe_count, 0);
  qs_grants_release(g);
}

static void test_legacy_object_entries_and_payload_fallback(void **state) {
  (void)state;
  qs_grants_t *g = build(
      "{\"mercure\":{\"subscribe\":[{\"match\":\"a\",\"payload\":\"pa\"},"
      "{\"match\":\"c\",\"match_type\":\"exact\"},\"b\"],"
      "\"payload\":{\"global\":true}}}",
      true);
  assert_true(qs_slice_eq_cstr(qs_grants_payload_for(g, qs_slice_from_cstr("a")), "\"pa\""));
  assert_true(qs_slice_eq_cstr(qs_grants_payload_for(g, qs_slice_from_cstr("b")), "{\"global\":true}"));
  assert_true(
      qs_slice_eq_cstr(qs_grants_payload_for(g, qs_slice_from_cstr("unmatched")), "{\"global\":true}"));
  qs_slice_t c = qs_slice_from_cstr("c");
  assert_true(qs_grants_can_receive(g, &c, 1));
  qs_grants_release(g);
  /* A legacy object entry may be a URL pattern. */
  g = build(
      "{\"mercure\":{\"subscribe\":[{\"match\":\"https://x.test/:id\",\"match_type\":\"urlpattern\"}]}}",
      true);
  qs_slice_t u = qs_slice_from_cstr("https://x.test/7");
  assert_true(qs_grants_can_receive(g, &u, 1));
  qs_grants_release(g);
}

static void test_legacy_entry_limit(void **state) {
  (void)state;
  static char claims[16000];
  size_t n = (size_t)snprintf(claims, sizeof claims, "{\"mercure\":{\"subscribe\":[");
  for (int i = 0; i < 1001; i++)
    n += (size_t)snprintf(claims + n, sizeof claims - n, "%s\"t\"", i ? "," : "");
  snprintf(claims + n, sizeof claims - n, "]}}");
  assert_int_equal(build_rc(claims, true), QS_ETOOBIG);
  /* Exactly 1000 is fine. */
  n = (size_t)snprintf(claims, sizeof claims, "{\"mercure\":{\"subscribe\":[");
  for (int i = 0; i < 1000; i++)
    n += (size_t)snprintf(claims + n, sizeof claims - n, "%s\"t\"", i ? "," : "");
  snprintf(claims + n, sizeof claims - n, "]}}");
  assert_int_equal(build_rc(claims, true), 0);
}

static void test_mercure_detail_limit(void **state) {
  (void)state;
  static char claims[32000];
  size_t n = (size_t)snprintf(claims, sizeof claims, "{\"authorization_details\":[");
  for (int i = 0; i < 101; i++)
    n += (size_t)snprintf(claims + n, sizeof claims - n, "%s" DETAIL("[\"x\"]", "[{\"match\":\"t\"}]", ""),
                          i ? "," : "");
  snprintf(claims + n, sizeof claims - n, "]}");
  /* 101 details of one topic each: the topic cap (100) or the detail cap trips. */
  assert_int_equal(build_rc(claims, false), QS_ETOOBIG);
}

static void test_programmatic_builders(void **state) {
  (void)state;
  qs_grants_t *g = qs_grants_create_empty();
  for (int i = 0; i < 20; i++) {
    qs_matcher_t *m = NULL;
    char topic[8];
    snprintf(topic, sizeof topic, "t%d", i);
    assert_int_equal(qs_matcher_create(QS_MATCH_EXACT, qs_slice_from_cstr(topic), &options, &m, NULL), 0);
    assert_int_equal(qs_grants_add_subscribe(g, m, qs_slice_from_cstr(i == 7 ? "{\"n\":7}" : "")), 0);
  }
  assert_int_equal(g->subscribe_count, 20);
  assert_true(qs_slice_eq_cstr(qs_grants_payload_for(g, qs_slice_from_cstr("t7")), "{\"n\":7}"));
  assert_int_equal(qs_grants_set_text(g, &g->subject, qs_slice_from_cstr("me")), 0);
  assert_int_equal(qs_grants_set_text(g, &g->subject, qs_slice_from_cstr("you")), 0);
  assert_true(qs_slice_eq_cstr(g->subject, "you"));
  qs_grants_release(g);
}

static void test_the_deciding_grant_is_named(void **state) {
  (void)state;
  qs_grants_t *g = build(
      "{\"mercure\":{\"publish\":[\"https://example.com/a\",\"https://example.com/books/{id}\"],"
      "\"subscribe\":[{\"match\":\"https://example.com/x\"},{\"match\":\"https://example.com/"
      "books/:id\",\"match_type\":\"urlpattern\"}]}}",
      true);
  size_t index = 99;
  assert_true(qs_grants_publish_grant_for(g, qs_slice_from_cstr("https://example.com/books/7"), &index));
  assert_int_equal(index, 1);
  assert_true(qs_grants_publish_grant_for(g, qs_slice_from_cstr("https://example.com/a"), &index));
  assert_int_equal(index, 0);
  assert_false(qs_grants_publish_grant_for(g, qs_slice_from_cstr("https://example.com/b"), &index));
  qs_slice_t topics[3] = {qs_slice_from_cstr("https://example.com/a"),
                          qs_slice_from_cstr("https://example.com/b"),
                          qs_slice_from_cstr("https://example.com/c")};
  assert_true(qs_grants_first_unpublishable(g, topics, 3, &index));
  assert_int_equal(index, 1);
  assert_false(qs_grants_first_unpublishable(g, topics, 1, &index));
  assert_true(qs_grants_first_unpublishable(NULL, topics, 1, &index));
  assert_int_equal(index, 0);
  assert_true(qs_grants_subscribe_grant_for(g, qs_slice_from_cstr("https://example.com/books/7"), &index));
  assert_int_equal(index, 1);
  assert_false(qs_grants_subscribe_grant_for(g, qs_slice_from_cstr("https://example.com/books/7/x"), &index));
  qs_grants_release(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_the_deciding_grant_is_named),
      cmocka_unit_test(test_publish_needs_every_topic),
      cmocka_unit_test(test_private_delivery_needs_any_topic),
      cmocka_unit_test(test_empty_grants_allow_nothing),
      cmocka_unit_test(test_wildcard_and_urlpattern_grants),
      cmocka_unit_test(test_payload_of_the_first_matching_detail),
      cmocka_unit_test(test_legacy_string_selectors_are_uri_templates),
      cmocka_unit_test(test_legacy_publish_missing_or_null_grants_nothing),
      cmocka_unit_test(test_legacy_claim_ignored_without_legacy_key),
      cmocka_unit_test(test_legacy_object_entries_and_payload_fallback),
      cmocka_unit_test(test_legacy_entry_limit),
      cmocka_unit_test(test_mercure_detail_limit),
      cmocka_unit_test(test_programmatic_builders),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
