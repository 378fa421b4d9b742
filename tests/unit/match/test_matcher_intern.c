/* Interned matchers (URL patterns and URI Templates compiled once per
 * (type, hub URL, pattern)) shared and released by several threads at once,
 * and the compiled components' fast paths. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka needs the headers above first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "match/matcher.h"
#include "match/urlpattern.h"

#define HUB_URL "https://example.com/.well-known/mercure"

static qs_matcher_t *make(qs_match_type_t type, const char *pattern) {
  qs_match_options_t opt = {.hub_url = qs_slice_from_cstr(HUB_URL)};
  qs_matcher_t *m = NULL;
  assert_int_equal(qs_matcher_create(type, qs_slice_from_cstr(pattern), &opt, &m, NULL), 0);
  return m;
}

static const char *const patterns[] = {"https://example.com/users/:id/*", "/users/:id",
                                       "https://example.com/a/*"};
static const char *const topic = "https://example.com/users/7/events";
static const bool expected[] = {true, false, false};

enum { THREADS = 4, ITERATIONS = 3000 };

static void *worker(void *arg) {
  uintptr_t seed = (uintptr_t)arg;
  qs_matcher_t *held[8] = {0};
  for (int i = 0; i < ITERATIONS; i++) {
    seed = seed * 6364136223846793005u + 1442695040888963407u;
    size_t slot = (seed >> 33) % 8, p = (seed >> 40) % 3;
    if (held[slot]) {
      qs_matcher_destroy(held[slot]);
      held[slot] = NULL;
    } else {
      qs_match_options_t opt = {.hub_url = qs_slice_from_cstr(HUB_URL)};
      if (qs_matcher_create(QS_MATCH_URLPATTERN, qs_slice_from_cstr(patterns[p]), &opt, &held[slot], NULL) !=
          0)
        return (void *)1;
      if (qs_matcher_match(held[slot], qs_slice_from_cstr(topic)) != expected[p]) return (void *)2;
      if (!qs_slice_eq_cstr(qs_matcher_pattern(held[slot]), patterns[p])) return (void *)3;
    }
  }
  for (int i = 0; i < 8; i++) qs_matcher_destroy(held[i]);
  return NULL;
}

static void test_interned_matchers_are_shared_across_threads(void **state) {
  pthread_t threads[THREADS];
  for (uintptr_t i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&threads[i], NULL, worker, (void *)(i + 1)), 0);
  for (int i = 0; i < THREADS; i++) {
    void *rc = NULL;
    pthread_join(threads[i], &rc);
    assert_null(rc);
  }
  /* Every reference was dropped: a new matcher is compiled afresh. */
  qs_matcher_t *m = make(QS_MATCH_URLPATTERN, patterns[0]);
  assert_int_equal(qs_matcher_shared_count(m), 1);
  qs_matcher_destroy(m);
}

static void test_templates_are_interned_but_not_exact_matchers(void **state) {
  qs_matcher_t *a = make(QS_MATCH_LEGACY, "https://example.com/books/{id}");
  qs_matcher_t *b = make(QS_MATCH_LEGACY, "https://example.com/books/{id}");
  qs_matcher_t *c = make(QS_MATCH_LEGACY, "https://example.com/books/{id"); /* invalid: an exact selector */
  qs_matcher_t *d = make(QS_MATCH_LEGACY, "https://example.com/books/{id");
  qs_matcher_t *w1 = make(QS_MATCH_URLPATTERN, "*");
  qs_matcher_t *w2 = make(QS_MATCH_URLPATTERN, "*");
  assert_ptr_equal(a, b);
  assert_ptr_not_equal(c, d);
  assert_ptr_not_equal(w1, w2);
  assert_true(qs_matcher_match(b, qs_slice_from_cstr("https://example.com/books/1")));
  assert_true(qs_matcher_match(d, qs_slice_from_cstr("https://example.com/books/{id")));
  qs_matcher_destroy(a);
  assert_true(qs_matcher_match(b, qs_slice_from_cstr("https://example.com/books/1")));
  qs_matcher_destroy(b);
  qs_matcher_destroy(c);
  qs_matcher_destroy(d);
  qs_matcher_destroy(w1);
  qs_matcher_destroy(w2);
}

/* The literal and `literal then *` fast paths agree with the regexes they
 * replace, including their groups and non-ASCII or multi-line values. */
static void test_component_fast_paths(void **state) {
  qs_urlpattern_t *p = NULL;
  qs_slice_t base = qs_slice_from_cstr(HUB_URL);
  assert_int_equal(qs_urlpattern_create(qs_slice_from_cstr("https://example.com/users/5/*"), &base, &p, NULL),
                   0);
  assert_int_equal(qs_urlpattern_test(p, qs_slice_from_cstr("https://example.com/users/5/a/b?x#y"), NULL), 1);
  assert_int_equal(qs_urlpattern_test(p, qs_slice_from_cstr("https://example.com/users/5/"), NULL), 1);
  assert_int_equal(qs_urlpattern_test(p, qs_slice_from_cstr("https://example.com/users/5"), NULL), 0);
  assert_int_equal(qs_urlpattern_test(p, qs_slice_from_cstr("https://example.com/users/50/x"), NULL), 0);
  assert_int_equal(qs_urlpattern_test(p, qs_slice_from_cstr("https://example.com:444/users/5/x"), NULL), 0);
  assert_int_equal(qs_urlpattern_test(p, qs_slice_from_cstr("http://example.com/users/5/x"), NULL), 0);
  qs_urlpattern_result_t r;
  assert_int_equal(
      qs_urlpattern_exec(p, qs_slice_from_cstr("https://u:pw@example.com/users/5/a/b?q#h"), NULL, NULL, &r),
      1);
  assert_int_equal(r.group_count[QS_URLPATTERN_PATHNAME], 1);
  assert_true(qs_slice_eq_cstr(r.groups[QS_URLPATTERN_PATHNAME][0].name, "0"));
  assert_true(qs_slice_eq_cstr(r.groups[QS_URLPATTERN_PATHNAME][0].value, "a/b"));
  assert_true(qs_slice_eq_cstr(r.groups[QS_URLPATTERN_USERNAME][0].value, "u"));
  assert_true(qs_slice_eq_cstr(r.groups[QS_URLPATTERN_SEARCH][0].value, "q"));
  assert_int_equal(r.group_count[QS_URLPATTERN_HOSTNAME], 0);
  qs_urlpattern_result_dispose(&r);
  /* Dictionary inputs are not percent-encoded by a URL parse: non-ASCII and
   * line breaks take the regex path. */
  qs_urlpattern_init_t in = {0};
  in.present[QS_URLPATTERN_PROTOCOL] = in.present[QS_URLPATTERN_HOSTNAME] =
      in.present[QS_URLPATTERN_PATHNAME] = true;
  in.value[QS_URLPATTERN_PROTOCOL] = qs_slice_from_cstr("https");
  in.value[QS_URLPATTERN_HOSTNAME] = qs_slice_from_cstr("example.com");
  in.value[QS_URLPATTERN_PATHNAME] = qs_slice_from_cstr("/users/5/\xc3\xa4");
  assert_int_equal(qs_urlpattern_test_init(p, &in), 1);
  in.present[QS_URLPATTERN_HASH] = true;
  in.value[QS_URLPATTERN_HASH] = qs_slice_from_cstr("a\nb");
  assert_int_equal(qs_urlpattern_test_init(p, &in), 1); /* the hash setter drops the newline */
  qs_urlpattern_destroy(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_interned_matchers_are_shared_across_threads),
      cmocka_unit_test(test_templates_are_interned_but_not_exact_matchers),
      cmocka_unit_test(test_component_fast_paths),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
