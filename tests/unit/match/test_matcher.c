/* Topic matchers: exact, wildcard, legacy selectors, URL patterns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/error.h"
#include "match/match_cache.h"
#include "match/matcher.h"

static const qs_match_options_t options = {
    .hub_url = {"https://example.com/.well-known/mercure", 39},
    .max_pattern_bytes = 64,
};

static qs_matcher_t *make(qs_match_type_t type, const char *pattern) {
  qs_matcher_t *m = NULL;
  const char *reason = NULL;
  int rc = qs_matcher_create(type, qs_slice_from_cstr(pattern), &options, &m, &reason);
  if (rc != 0)
    fail_msg("qs_matcher_create(%s, \"%s\") = %d (%s)", qs_match_type_name(type), pattern, rc,
             reason ? reason : "");
  return m;
}

static bool matches(const qs_matcher_t *m, const char *topic) {
  return qs_matcher_match(m, qs_slice_from_cstr(topic));
}

static void expect_match(qs_match_type_t type, const char *pattern, const char *topic, bool want) {
  qs_matcher_t *m = make(type, pattern);
  bool got = matches(m, topic);
  if (got != want)
    fail_msg("%s pattern \"%s\" topic \"%s\": got %d, want %d", qs_match_type_name(type), pattern, topic, got,
             want);
  qs_matcher_destroy(m);
}

static void expect_create_error(qs_match_type_t type, const char *pattern, size_t len, int want) {
  qs_matcher_t *m = (qs_matcher_t *)&m;
  const char *reason = NULL;
  int rc = qs_matcher_create(type, qs_slice(pattern, len), &options, &m, &reason);
  if (rc != want) fail_msg("create \"%.*s\": got %d, want %d", (int)len, pattern, rc, want);
  assert_null(m);
  assert_non_null(reason);
}

static void test_type_names_round_trip(void **state) {
  (void)state;
  qs_match_type_t t;
  assert_int_equal(qs_match_type_parse(qs_slice_from_cstr("exact"), &t), 0);
  assert_int_equal(t, QS_MATCH_EXACT);
  assert_int_equal(qs_match_type_parse(qs_slice_from_cstr("urlpattern"), &t), 0);
  assert_int_equal(t, QS_MATCH_URLPATTERN);
  assert_int_equal(qs_match_type_parse(qs_slice_from_cstr("URLPattern"), &t), -1);
  assert_int_equal(qs_match_type_parse(qs_slice_from_cstr("regex"), &t), -1);
  assert_int_equal(qs_match_type_parse(qs_slice_from_cstr(""), &t), -1);
  assert_string_equal(qs_match_type_name(QS_MATCH_EXACT), "exact");
  assert_string_equal(qs_match_type_name(QS_MATCH_URLPATTERN), "urlpattern");
  assert_string_equal(qs_match_type_name(QS_MATCH_LEGACY), "topic");
}

static void test_exact_is_byte_for_byte(void **state) {
  (void)state;
  expect_match(QS_MATCH_EXACT, "https://example.com/books/1", "https://example.com/books/1", true);
  expect_match(QS_MATCH_EXACT, "https://example.com/books/1", "https://EXAMPLE.com/books/1", false);
  expect_match(QS_MATCH_EXACT, "https://example.com/books/1", "https://example.com/books/1/", false);
  expect_match(QS_MATCH_EXACT, "https://example.com/books/1", "https://example.com/books/", false);
  /* No resolution against the hub URL, no normalization. */
  expect_match(QS_MATCH_EXACT, "books/1", "https://example.com/.well-known/books/1", false);
  expect_match(QS_MATCH_EXACT, "caf\xc3\xa9", "cafe\xcc\x81", false);
  expect_match(QS_MATCH_EXACT, "a%2Fb", "a/b", false);
  expect_match(QS_MATCH_EXACT, "{id}", "{id}", true);
  expect_match(QS_MATCH_EXACT, "{id}", "42", false);
  expect_match(QS_MATCH_EXACT, "", "", true);
  expect_match(QS_MATCH_EXACT, "", "x", false);
}

static void test_wildcard_matches_everything_under_every_type(void **state) {
  (void)state;
  qs_match_type_t types[] = {QS_MATCH_EXACT, QS_MATCH_LEGACY, QS_MATCH_URLPATTERN};
  for (size_t i = 0; i < 3; i++) {
    qs_matcher_t *m = make(types[i], "*");
    assert_true(qs_matcher_is_wildcard(m));
    assert_false(qs_matcher_is_exact(m));
    assert_true(matches(m, "https://example.com/books/1"));
    assert_true(matches(m, "urn:uuid:123"));
    assert_true(matches(m, ""));
    assert_true(matches(m, "*"));
    assert_int_equal(qs_matcher_literal_prefix(m).len, 0);
    qs_matcher_destroy(m);
  }
  /* `**` or ` *` are not the wildcard. */
  expect_match(QS_MATCH_EXACT, "**", "anything", false);
  expect_match(QS_MATCH_LEGACY, "*/x", "a/x", false);
}

static void test_legacy_without_brace_is_exact(void **state) {
  (void)state;
  qs_matcher_t *m = make(QS_MATCH_LEGACY, "https://example.com/books/1");
  assert_true(qs_matcher_is_exact(m));
  assert_false(qs_matcher_is_wildcard(m));
  assert_true(matches(m, "https://example.com/books/1"));
  assert_false(matches(m, "https://example.com/books/2"));
  qs_slice_t prefix = qs_matcher_literal_prefix(m);
  assert_true(qs_slice_eq_cstr(prefix, "https://example.com/books/1"));
  qs_matcher_destroy(m);
}

static void test_legacy_invalid_template_falls_back_to_exact(void **state) {
  (void)state;
  const char *bad[] = {"https://example.com/{id", "https://example.com/{}", "https://example.com/{a b}",
                       "https://example.com/{=x}", "https://example.com/{x:0}"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    qs_matcher_t *m = make(QS_MATCH_LEGACY, bad[i]);
    if (!qs_matcher_is_exact(m)) fail_msg("\"%s\" should be an exact selector", bad[i]);
    assert_true(matches(m, bad[i]));
    assert_false(matches(m, "https://example.com/1"));
    qs_matcher_destroy(m);
  }
}

static void test_legacy_template_matches_expansions(void **state) {
  (void)state;
  qs_matcher_t *m = make(QS_MATCH_LEGACY, "https://example.com/books/{id}");
  assert_false(qs_matcher_is_exact(m));
  assert_true(matches(m, "https://example.com/books/1"));
  assert_true(matches(m, "https://example.com/books/"));
  assert_true(matches(m, "https://example.com/books/{id}"));
  assert_true(matches(m, "https://example.com/books/caf%C3%A9"));
  assert_false(matches(m, "https://example.com/books/1/reviews"));
  assert_false(matches(m, "https://example.com/books/caf\xc3\xa9"));
  assert_false(matches(m, "https://example.com/authors/1"));
  assert_true(qs_slice_eq_cstr(qs_matcher_literal_prefix(m), "https://example.com/books/"));
  qs_matcher_destroy(m);

  m = make(QS_MATCH_LEGACY, "/.well-known/mercure/subscriptions{/topic}{/subscriber}");
  assert_true(matches(m, "/.well-known/mercure/subscriptions"));
  assert_true(matches(m, "/.well-known/mercure/subscriptions/a%2Fb"));
  assert_true(matches(m, "/.well-known/mercure/subscriptions/a%2Fb/urn%3Auuid%3A1"));
  assert_false(matches(m, "/.well-known/mercure/subscriptions/a/b/c"));
  qs_matcher_destroy(m);
}

static void test_forbidden_characters_are_refused(void **state) {
  (void)state;
  qs_match_type_t types[] = {QS_MATCH_EXACT, QS_MATCH_LEGACY, QS_MATCH_URLPATTERN};
  for (size_t i = 0; i < 3; i++) {
    expect_create_error(types[i], "a\x01z", 3, QS_EPARSE);         /* C0 */
    expect_create_error(types[i], "a\x7fz", 3, QS_EPARSE);         /* DEL */
    expect_create_error(types[i], "a\xc2\x85z", 4, QS_EPARSE);     /* C1 NEL */
    expect_create_error(types[i], "a\xe2\x80\x8bz", 5, QS_EPARSE); /* U+200B ZWSP (Cf) */
    expect_create_error(types[i], "a\xff", 2, QS_EPARSE);          /* invalid UTF-8 */
    expect_create_error(types[i], "a\0b", 3, QS_EPARSE);           /* NUL */
  }
}

static void test_pattern_length_limit(void **state) {
  (void)state;
  char big[66];
  memset(big, 'a', sizeof big);
  expect_create_error(QS_MATCH_EXACT, big, 65, QS_ETOOBIG);
  expect_create_error(QS_MATCH_LEGACY, big, 65, QS_ETOOBIG);
  expect_create_error(QS_MATCH_URLPATTERN, big, 65, QS_ETOOBIG);
  qs_matcher_t *m = NULL;
  assert_int_equal(qs_matcher_create(QS_MATCH_EXACT, qs_slice(big, 64), &options, &m, NULL), 0);
  assert_true(qs_matcher_match(m, qs_slice(big, 64)));
  qs_matcher_destroy(m);
  /* max_pattern_bytes == 0 means no limit. */
  qs_match_options_t unlimited = options;
  unlimited.max_pattern_bytes = 0;
  assert_int_equal(qs_matcher_create(QS_MATCH_EXACT, qs_slice(big, 66), &unlimited, &m, NULL), 0);
  qs_matcher_destroy(m);
}

static void test_pattern_is_copied(void **state) {
  (void)state;
  char pattern[] = "https://example.com/a";
  qs_matcher_t *m = make(QS_MATCH_EXACT, pattern);
  memset(pattern, 'x', sizeof pattern - 1);
  assert_true(matches(m, "https://example.com/a"));
  assert_true(qs_slice_eq_cstr(qs_matcher_pattern(m), "https://example.com/a"));
  assert_int_equal(qs_matcher_type(m), QS_MATCH_EXACT);
  qs_matcher_destroy(m);
  qs_matcher_destroy(NULL);
}

static void test_urlpattern_matcher_resolves_against_hub(void **state) {
  (void)state;
  qs_matcher_t *m = make(QS_MATCH_URLPATTERN, "/books/:id");
  assert_false(qs_matcher_is_exact(m));
  assert_int_equal(qs_matcher_literal_prefix(m).len, 0);
  assert_true(matches(m, "https://example.com/books/1"));
  assert_true(matches(m, "/books/1"));
  assert_true(matches(m, "../books/1"));
  assert_false(matches(m, "https://example.com/books/1/2"));
  assert_false(matches(m, "https://example.org/books/1"));
  assert_false(matches(m, "http://[::1"));
  qs_matcher_destroy(m);
  m = make(QS_MATCH_URLPATTERN, "https://example.com/books/*");
  assert_true(matches(m, "https://EXAMPLE.com/books/1/2"));
  assert_false(matches(m, "urn:uuid:1"));
  qs_matcher_destroy(m);
  expect_create_error(QS_MATCH_URLPATTERN, "https://example.com/(", 21, QS_EPARSE);
  expect_create_error(QS_MATCH_URLPATTERN, "https://example.com/(a)(\\1)", 27, QS_EPARSE);
}

static void test_match_cache_returns_matcher_results(void **state) {
  (void)state;
  qs_match_cache_t *cache = NULL;
  assert_int_equal(qs_match_cache_create(4, &cache), 0);
  qs_matcher_t *tmpl = make(QS_MATCH_LEGACY, "https://example.com/books/{id}");
  qs_matcher_t *exact = make(QS_MATCH_EXACT, "https://example.com/books/1");
  qs_slice_t yes = qs_slice_from_cstr("https://example.com/books/1");
  qs_slice_t no = qs_slice_from_cstr("https://example.com/books/1/2");
  for (int round = 0; round < 3; round++) {
    assert_true(qs_match_cache_match(cache, tmpl, yes));
    assert_false(qs_match_cache_match(cache, tmpl, no));
    assert_true(qs_match_cache_match(cache, exact, yes));
  }
  assert_int_equal(qs_match_cache_misses(cache), 2);
  assert_int_equal(qs_match_cache_hits(cache), 4);
  assert_true(qs_match_cache_count(cache) <= 4);
  /* Bounded: many distinct topics never hold more than 4 entries. */
  char topic[64];
  for (int i = 0; i < 100; i++) {
    snprintf(topic, sizeof topic, "https://example.com/books/%d", i);
    assert_true(qs_match_cache_match(cache, tmpl, qs_slice_from_cstr(topic)));
  }
  assert_true(qs_match_cache_count(cache) <= 4);
  /* A matcher with the same pattern gives the same answers after the first is gone. */
  qs_matcher_destroy(tmpl);
  tmpl = make(QS_MATCH_LEGACY, "https://example.com/authors/{id}");
  assert_false(qs_match_cache_match(cache, tmpl, yes));
  qs_match_cache_clear(cache);
  assert_int_equal(qs_match_cache_count(cache), 0);
  qs_matcher_destroy(tmpl);
  qs_matcher_destroy(exact);
  qs_match_cache_destroy(cache);
  /* A disabled cache still answers. */
  assert_int_equal(qs_match_cache_create(0, &cache), 0);
  qs_matcher_t *m = make(QS_MATCH_LEGACY, "{+any}");
  assert_true(qs_match_cache_match(cache, m, yes));
  assert_true(qs_match_cache_match(NULL, m, yes));
  assert_int_equal(qs_match_cache_count(cache), 0);
  qs_matcher_destroy(m);
  qs_match_cache_destroy(cache);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_type_names_round_trip),
      cmocka_unit_test(test_exact_is_byte_for_byte),
      cmocka_unit_test(test_wildcard_matches_everything_under_every_type),
      cmocka_unit_test(test_legacy_without_brace_is_exact),
      cmocka_unit_test(test_legacy_invalid_template_falls_back_to_exact),
      cmocka_unit_test(test_legacy_template_matches_expansions),
      cmocka_unit_test(test_forbidden_characters_are_refused),
      cmocka_unit_test(test_pattern_length_limit),
      cmocka_unit_test(test_pattern_is_copied),
      cmocka_unit_test(test_urlpattern_matcher_resolves_against_hub),
      cmocka_unit_test(test_match_cache_returns_matcher_results),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
