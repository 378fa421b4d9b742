/* Matcher micro benchmark: the cost of one test of a URL pattern and of a
 * URI Template, interpreted and JIT-compiled, the memory each takes, and the
 * time the evaluation limits allow a pathological pattern.
 *
 *   match_bench [--iterations N]
 *
 * Default: 1,000,000 tests per measured case. Single thread; numbers are
 * nanoseconds per test (median of 5 rounds). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "match/uritemplate.h"
#include "match/url.h"
#include "match/urlpattern.h"

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

enum { ROUNDS = 5 };

/* Median over ROUNDS of the nanoseconds per qs_urlpattern_test_url, the
 * topic parsed once beforehand as the hub does for every pattern. */
static double time_urlpattern(const qs_urlpattern_t *up, const char *topic, long iterations, int *result) {
  qs_url_t url;
  if (qs_url_parse(qs_slice_from_cstr(topic), NULL, &url) != 0) {
    fprintf(stderr, "topic %s is not a URL\n", topic);
    exit(1);
  }
  double per[ROUNDS];
  for (int r = 0; r < ROUNDS; r++) {
    double start = now_ns();
    for (long i = 0; i < iterations; i++) *result = qs_urlpattern_test_url(up, &url);
    per[r] = (now_ns() - start) / (double)iterations;
  }
  qs_url_dispose(&url);
  qsort(per, ROUNDS, sizeof *per, compare_doubles);
  return per[ROUNDS / 2];
}

static double time_uritemplate(const qs_uritemplate_t *t, const char *topic, long iterations, int *result) {
  double per[ROUNDS];
  qs_slice_t input = qs_slice_from_cstr(topic);
  for (int r = 0; r < ROUNDS; r++) {
    double start = now_ns();
    for (long i = 0; i < iterations; i++) *result = qs_uritemplate_match(t, input);
    per[r] = (now_ns() - start) / (double)iterations;
  }
  qsort(per, ROUNDS, sizeof *per, compare_doubles);
  return per[ROUNDS / 2];
}

/* A URL pattern tested as the hub tests one the topic index cannot bucket:
 * interpreted, then JIT-compiled (qs_urlpattern_jit). */
static void bench_urlpattern(const char *pattern, const char *topic, long iterations) {
  qs_urlpattern_t *up = NULL;
  const char *why = NULL;
  if (qs_urlpattern_create(qs_slice_from_cstr(pattern), NULL, &up, &why) != 0) {
    fprintf(stderr, "pattern %s refused: %s\n", pattern, why ? why : "?");
    exit(1);
  }
  int interpreted_result = 0, jit_result = 0;
  size_t interpreted_size = qs_urlpattern_size(up);
  double interpreted = time_urlpattern(up, topic, iterations, &interpreted_result);
  qs_urlpattern_jit(up);
  size_t jit_size = qs_urlpattern_size(up);
  double jit = time_urlpattern(up, topic, iterations, &jit_result);
  printf("| URL pattern `%s` | `%s` | %d | %.0f ns, %zu B | %.0f ns, %zu B |\n", pattern, topic, jit_result,
         interpreted, interpreted_size, jit, jit_size);
  if (interpreted_result != jit_result) {
    fprintf(stderr, "interpreted and JIT results differ\n");
    exit(1);
  }
  qs_urlpattern_destroy(up);
}

/* URI Templates are always JIT-compiled (uritemplate.c). */
static void bench_uritemplate(const char *tmpl, const char *topic, long iterations) {
  qs_uritemplate_t *t = NULL;
  if (qs_uritemplate_create(qs_slice_from_cstr(tmpl), &t) != 0) {
    fprintf(stderr, "template %s refused\n", tmpl);
    exit(1);
  }
  int result = 0;
  double jit = time_uritemplate(t, topic, iterations, &result);
  printf("| URI Template `%s` | `%s` | %d | – | %.0f ns |\n", tmpl, topic, result, jit);
  qs_uritemplate_destroy(t);
}

/* Thirty adjacent reserved expressions against a run of 'a' ending in a
 * character none allows: backtracking gives up at match_limit, then the DFA
 * matcher decides within its workspace. Prints the time of one evaluation. */
static void bench_pathological(void) {
  char tmpl[256] = "";
  for (int i = 0; i < 30; i++) strcat(tmpl, "{+a}");
  qs_uritemplate_t *t = NULL;
  if (qs_uritemplate_create(qs_slice_from_cstr(tmpl), &t) != 0) exit(1);
  printf("\nPathological template `{+a}` x 30, topic 'a' x L then '\"' (never matches):\n\n");
  printf("| L | result | one evaluation |\n|---|---|---|\n");
  static const size_t lengths[] = {50, 100, 200, 400, 1000, 4000};
  for (size_t k = 0; k < sizeof lengths / sizeof *lengths; k++) {
    size_t len = lengths[k];
    char *topic = malloc(len + 2);
    if (!topic) exit(1);
    memset(topic, 'a', len);
    topic[len] = '"';
    topic[len + 1] = '\0';
    int result = 0;
    double ns = time_uritemplate(t, topic, 20, &result);
    printf("| %zu | %s | %.2f ms |\n", len,
           result == 1   ? "match"
           : result == 0 ? "no match"
                         : (result == QS_ELIMIT ? "limit (no match)" : "error"),
           ns / 1e6);
    free(topic);
  }
  qs_uritemplate_destroy(t);
}

int main(int argc, char **argv) {
  long iterations = 1000000;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
      iterations = strtol(argv[++i], NULL, 10);
    } else {
      fprintf(stderr, "usage: %s [--iterations N]\n", argv[0]);
      return 2;
    }
  }
  if (iterations < 1) iterations = 1;
  printf("match_bench --iterations %ld (median of %d rounds, one thread)\n\n", iterations, ROUNDS);
  printf("| matcher | topic | result | interpreted | JIT |\n|---|---|---|---|---|\n");
  bench_urlpattern("https://*.example.com/users/:id/*", "https://api.example.com/users/12345/orders/7",
                   iterations);
  bench_urlpattern("http{s}?://example.com/books/:id", "https://example.com/books/978-3-16-148410-0",
                   iterations);
  bench_urlpattern("https://:tenant.example.com/:section/:id(\\d+)", "https://acme.example.com/orders/42",
                   iterations);
  bench_uritemplate("https://example.com/books/{id}", "https://example.com/books/978-3-16-148410-0",
                    iterations);
  bench_uritemplate("https://example.com/users/{id}{?fields*}",
                    "https://example.com/users/7?fields=a&fields=b", iterations);
  bench_pathological();
  return 0;
}
