/* The topic index on its own: a differential test (random patterns of many
 * shapes and random topics: what the index offers == what testing every
 * matcher gives) and bucket bookkeeping. The index's owners are the test's
 * own (it knows nothing of subscribers), so only topic_index.c of the hub
 * library is linked in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka needs the headers above first. */
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/error.h"
#include "hub/topic_index.h"
#include "match/matcher.h"

#define HUB_URL "https://example.com/.well-known/mercure"
#define OTHER_HUB_URL "https://other.example/hub"

/* ---- Owners that record and dedupe offers like the hub's subscribers ---- */

typedef struct {
  uint64_t last_seq;
  uint32_t member_count;
  qs_index_member_t members[];
} owner_t;

static uint64_t offered_count;

static void offer(void *ctx, qs_update_t *update) {
  owner_t *sub = ctx;
  if (sub->last_seq >= update->seq) return;
  sub->last_seq = update->seq;
  offered_count++;
}

static bool wants(const void *ctx, uint64_t seq) { return ((const owner_t *)ctx)->last_seq < seq; }

static const qs_topic_index_ops_t ops = {.wants = wants, .offer = offer};

static int index_add(qs_topic_index_t *ix, owner_t *sub) {
  return qs_topic_index_add(ix, sub, sub->members, sub->member_count);
}

static void index_remove(qs_topic_index_t *ix, owner_t *sub) {
  qs_topic_index_remove(ix, sub->members, sub->member_count);
}

/* ---- Helpers ---- */

static owner_t *sub_new(qs_matcher_t **matchers, uint32_t count) {
  owner_t *sub = calloc(1, sizeof *sub + count * sizeof(qs_index_member_t));
  assert_non_null(sub);
  sub->member_count = count;
  for (uint32_t i = 0; i < count; i++) sub->members[i].matcher = matchers[i];
  return sub;
}

static void sub_free(owner_t *sub) {
  for (uint32_t i = 0; i < sub->member_count; i++) qs_matcher_destroy(sub->members[i].matcher);
  free(sub);
}

static qs_matcher_t *matcher(qs_match_type_t type, const char *pattern, const char *hub_url) {
  qs_match_options_t opt = {.hub_url = qs_slice_from_cstr(hub_url), .max_pattern_bytes = 0};
  qs_matcher_t *m = NULL;
  const char *reason = NULL;
  int rc = qs_matcher_create(type, qs_slice_from_cstr(pattern), &opt, &m, &reason);
  if (rc != 0) fail_msg("pattern %s: %d %s", pattern, rc, reason ? reason : "");
  return m;
}

/* ---- Random patterns and topics ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state % n);
}

/* Pattern templates: %d is replaced by a small random number. */
static const char *const url_patterns[] = {
    "https://example.com/users/:id/*",
    "https://example.com/users/%d/*",
    "https://example.com/users/%d",
    "https://example.com/users{/:id}?",
    "https://example.com/users/:id?",
    "https://example.com/users/*?",
    "https://example.com/users/:id+",
    "https://example.com/users/:id*",
    "https://example.com/users/%d{/:rest}*",
    "https://example.com/*",
    "https://example.com/u(se)?rs/:id",
    "https://example.com/users/(\\d+)",
    "https://example.com/users/\\:id",
    "https://example.com/users/%d/events",
    "https://example.com/users/%d/*?q=:q",
    "https://example.com/users/%d/*#frag",
    "https://example.com/users/%d*",
    "https://example.com/users/%d{/}?",
    "https://example.com/a/b/c/:x",
    "https://example.com/a/b/*",
    "https://example.com/users/%41/*",
    "https://example.com/users/\xc3\xa4/*",
    "https://EXAMPLE.com/Users/:id",
    "https://example.com:443/users/:id",
    "https://example.com:8443/users/:id",
    "https://example.com:8443/*",
    "http://example.com/users/:id",
    "https://*.example.com/users/:id",
    "https://:sub.example.com/users/:id",
    "*://example.com/users/:id",
    "http{s}?://example.com/users/:id",
    "https://example.com{:port}?/users/:id",
    "https://user@example.com/users/:id",
    "/users/:id",
    "/users/%d/*",
    "/*",
    "urn:example\\:users\\:*",
    "urn\\:*",
    "foo://bar/baz/*",
    "foo://bar/baz/%d",
    "https://example.com/",
    "https://example.com",
};

static const char *const topics[] = {
    "https://example.com/users/%d/events",
    "https://example.com/users/%d",
    "https://example.com/users/%d/",
    "https://example.com/users",
    "https://example.com/users/",
    "https://example.com/users//x",
    "https://example.com/users/%d/a/b",
    "/users/%d",
    "/users/%d/events",
    "users/%d",
    "https://EXAMPLE.COM/users/%d/x",
    "https://example.com:443/users/%d",
    "https://example.com:8443/users/%d",
    "http://example.com/users/%d",
    "https://a.example.com/users/%d",
    "https://example.com/Users/%d",
    "https://example.com/users/%41/x",
    "https://example.com/users/A/x",
    "https://example.com/users/\xc3\xa4/x",
    "https://example.com/users/../users/%d/x",
    "https://example.com/users/%d/x?q=2",
    "https://example.com/users/%d/x#frag",
    "https://user@example.com/users/%d",
    "https://example.com/u/%d",
    "https://example.com/usrs/%d",
    "https://example.com/a/b/c/d",
    "https://example.com/a/b/",
    "https://example.com/users/:id",
    "https://example.com/",
    "https://example.com",
    "urn:example:users:%d",
    "urn:other",
    "foo://bar/baz/%d",
    "foo://bar/baz",
    "not a url %d",
    "https://exa mple.com/",
    "https://other.example/users/%d",
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof *(a))

/* The range of the numbers put in patterns and topics: a small one makes
 * many subscribers share a pattern (one interned matcher). */
static uint32_t num_range = 12;

static void fill(char *out, size_t size, const char *tmpl) {
  snprintf(out, size, tmpl, (int)rnd(num_range)); /* NOLINT: templates come from the tables above */
}

/* A random matcher: mostly URL patterns (some against another hub URL),
 * some exact topics, URI templates and the wildcard. */
static qs_matcher_t *random_matcher(void) {
  char buf[256];
  uint32_t r = rnd(100);
  if (r < 4) return matcher(QS_MATCH_EXACT, "*", HUB_URL);
  if (r < 12) {
    fill(buf, sizeof buf, topics[rnd(ARRAY_LEN(topics))]);
    return matcher(QS_MATCH_EXACT, buf, HUB_URL);
  }
  if (r < 18) {
    static const char *const templates[] = {"https://example.com/users/{id}",
                                            "https://example.com/users/%d/{x}",
                                            "{scheme}://example.com/users/{id}"};
    fill(buf, sizeof buf, templates[rnd(ARRAY_LEN(templates))]);
    return matcher(QS_MATCH_LEGACY, buf, HUB_URL);
  }
  fill(buf, sizeof buf, url_patterns[rnd(ARRAY_LEN(url_patterns))]);
  return matcher(QS_MATCH_URLPATTERN, buf, r < 25 ? OTHER_HUB_URL : HUB_URL);
}

static bool brute_force(const owner_t *sub, const qs_update_t *u) {
  for (uint32_t i = 0; i < sub->member_count; i++)
    for (size_t t = 0; t < u->topic_count; t++)
      if (qs_matcher_match(sub->members[i].matcher, u->topics[t])) return true;
  return false;
}

enum { SUBS = 150, ROUNDS = 400 };

static void index_equals_brute_force(void) {
  qs_topic_index_t ix;
  qs_topic_index_init(&ix, &ops);
  owner_t *subs[SUBS];
  for (int i = 0; i < SUBS; i++) {
    qs_matcher_t *ms[3];
    uint32_t n = 1 + rnd(3);
    for (uint32_t k = 0; k < n; k++) ms[k] = random_matcher();
    subs[i] = sub_new(ms, n);
    assert_int_equal(index_add(&ix, subs[i]), 0);
  }
  assert_true(qs_map_count(&ix.url) > 0);
  assert_true(ix.patterns.len > 0);
  uint64_t matched = 0;
  for (uint64_t round = 1; round <= ROUNDS; round++) {
    char bufs[3][256];
    qs_slice_t ts[3];
    size_t count = 1 + rnd(3);
    for (size_t t = 0; t < count; t++) {
      fill(bufs[t], sizeof bufs[t], topics[rnd(ARRAY_LEN(topics))]);
      ts[t] = qs_slice_from_cstr(bufs[t]);
    }
    qs_update_t u = {.seq = round, .topics = ts, .topic_count = count};
    qs_topic_index_dispatch(&ix, &u);
    for (int i = 0; i < SUBS; i++) {
      bool want = brute_force(subs[i], &u);
      bool got = subs[i]->last_seq == round;
      if (want != got) {
        for (uint32_t k = 0; k < subs[i]->member_count; k++)
          print_error("member %s\n", qs_matcher_pattern(subs[i]->members[k].matcher).ptr);
        for (size_t t = 0; t < count; t++) print_error("topic %s\n", bufs[t]);
        fail_msg("round %llu subscriber %d: index %d, brute force %d", (unsigned long long)round, i, got,
                 want);
      }
      matched += want;
    }
    /* Churn: replace a subscriber now and then, so buckets come and go. */
    if (round % 7 == 0) {
      int i = (int)rnd(SUBS);
      index_remove(&ix, subs[i]);
      sub_free(subs[i]);
      qs_matcher_t *m = random_matcher();
      subs[i] = sub_new(&m, 1);
      subs[i]->last_seq = round;
      assert_int_equal(index_add(&ix, subs[i]), 0);
    }
  }
  assert_true(matched > ROUNDS); /* the shapes do overlap with the topics */
  for (int i = 0; i < SUBS; i++) {
    index_remove(&ix, subs[i]);
    sub_free(subs[i]);
  }
  assert_int_equal(qs_map_count(&ix.exact), 0);
  assert_int_equal(qs_map_count(&ix.prefixed), 0);
  assert_int_equal(qs_map_count(&ix.url), 0);
  assert_int_equal(ix.url_len_count, 0);
  assert_int_equal(ix.prefix_len_count, 0);
  assert_int_equal(ix.patterns.len, 0);
  assert_int_equal(ix.wildcard.len, 0);
  qs_topic_index_dispose(&ix);
}

static void test_index_equals_brute_force(void **state) {
  num_range = 12;
  index_equals_brute_force();
}

static void test_index_equals_brute_force_with_shared_patterns(void **state) {
  num_range = 2;
  index_equals_brute_force();
}

/* 10,000 distinct patterns of the benchmark's shape: a publish tests only
 * the bucket its path selects. */
static void test_url_patterns_are_bucketed_by_origin_and_path(void **state) {
  qs_topic_index_t ix;
  qs_topic_index_init(&ix, &ops);
  enum { N = 2000 };
  owner_t *subs[N];
  for (int i = 0; i < N; i++) {
    char buf[128];
    snprintf(buf, sizeof buf, "https://example.com/users/%d/*", i);
    qs_matcher_t *m = matcher(QS_MATCH_URLPATTERN, buf, HUB_URL);
    subs[i] = sub_new(&m, 1);
    assert_int_equal(index_add(&ix, subs[i]), 0);
  }
  assert_int_equal(qs_map_count(&ix.url), N);
  assert_int_equal(ix.url_len_count, 4); /* 1 to 4 digits */
  assert_int_equal(ix.patterns.len, 0);
  for (int i = 0; i < N; i += 97) {
    char buf[128];
    snprintf(buf, sizeof buf, "https://example.com/users/%d/events", i);
    qs_slice_t topic = qs_slice_from_cstr(buf);
    qs_update_t u = {.seq = (uint64_t)i + 1, .topics = &topic, .topic_count = 1};
    offered_count = 0;
    qs_topic_index_dispatch(&ix, &u);
    assert_int_equal(offered_count, 1);
    assert_int_equal(subs[i]->last_seq, (uint64_t)i + 1);
  }
  for (int i = 0; i < N; i++) {
    index_remove(&ix, subs[i]);
    sub_free(subs[i]);
  }
  assert_int_equal(qs_map_count(&ix.url), 0);
  qs_topic_index_dispose(&ix);
}

/* The same pattern text is compiled once and shared. */
static void test_url_patterns_are_interned(void **state) {
  qs_matcher_t *a = matcher(QS_MATCH_URLPATTERN, "https://example.com/users/:id/*", HUB_URL);
  qs_matcher_t *b = matcher(QS_MATCH_URLPATTERN, "https://example.com/users/:id/*", HUB_URL);
  qs_matcher_t *c = matcher(QS_MATCH_URLPATTERN, "https://example.com/users/:id/*", OTHER_HUB_URL);
  qs_matcher_t *d = matcher(QS_MATCH_EXACT, "https://example.com/users/:id/*", HUB_URL);
  assert_ptr_equal(a, b);
  assert_ptr_not_equal(a, c);
  assert_int_equal(qs_matcher_shared_count(a), 2);
  assert_int_equal(qs_matcher_shared_count(c), 1);
  assert_int_equal(qs_matcher_shared_count(d), 1);
  qs_matcher_destroy(b);
  assert_int_equal(qs_matcher_shared_count(a), 1);
  assert_true(qs_matcher_match(a, qs_slice_from_cstr("https://example.com/users/1/x")));
  qs_matcher_destroy(a);
  qs_matcher_destroy(c);
  qs_matcher_destroy(d);
  /* After the last reference, a new one is compiled again. */
  a = matcher(QS_MATCH_URLPATTERN, "https://example.com/users/:id/*", HUB_URL);
  assert_int_equal(qs_matcher_shared_count(a), 1);
  qs_matcher_destroy(a);
}

/* The index keys a URL pattern exposes. */
static void test_url_keys(void **state) {
  struct {
    const char *pattern;
    bool indexable;
    const char *scheme, *host, *port, *path_prefix;
  } cases[] = {
      {"https://example.com/users/:id/*", true, "https", "example.com", "", "/users/"},
      {"https://EXAMPLE.com:443/a/b", true, "https", "example.com", "", "/a/b"},
      {"https://example.com:8443/users{/:id}?", true, "https", "example.com", "8443", "/users"},
      {"/users/:id?", true, "https", "example.com", "", "/users"},
      {"https://example.com/*", true, "https", "example.com", "", "/"},
      {"https://example.com/:x*", true, "https", "example.com", "", ""},
      {"urn:example\\:x\\:*", false, NULL, NULL, NULL, NULL}, /* hostname `*` */
      {"https://*.example.com/x", false, NULL, NULL, NULL, NULL},
      {"http{s}?://example.com/x", false, NULL, NULL, NULL, NULL},
      {"https://example.com{:port}?/x", false, NULL, NULL, NULL, NULL},
  };
  for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
    qs_matcher_t *m = matcher(QS_MATCH_URLPATTERN, cases[i].pattern, HUB_URL);
    qs_matcher_url_key_t k;
    bool ok = qs_matcher_url_key(m, &k);
    if (ok != cases[i].indexable) fail_msg("%s: indexable %d", cases[i].pattern, ok);
    if (ok) {
      assert_true(qs_slice_eq_cstr(k.scheme, cases[i].scheme));
      assert_true(qs_slice_eq_cstr(k.host, cases[i].host));
      assert_true(qs_slice_eq_cstr(k.port, cases[i].port));
      if (!qs_slice_eq_cstr(k.path_prefix, cases[i].path_prefix))
        fail_msg("%s: path prefix %.*s", cases[i].pattern, (int)k.path_prefix.len, k.path_prefix.ptr);
      assert_true(qs_slice_eq_cstr(k.base, HUB_URL));
    }
    qs_matcher_destroy(m);
  }
  qs_matcher_t *e = matcher(QS_MATCH_EXACT, "https://example.com/x", HUB_URL);
  qs_matcher_url_key_t k;
  assert_false(qs_matcher_url_key(e, &k));
  qs_matcher_destroy(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_index_equals_brute_force),
      cmocka_unit_test(test_index_equals_brute_force_with_shared_patterns),
      cmocka_unit_test(test_url_patterns_are_bucketed_by_origin_and_path),
      cmocka_unit_test(test_url_patterns_are_interned),
      cmocka_unit_test(test_url_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
