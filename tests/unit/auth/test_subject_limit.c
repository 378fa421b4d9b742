/* qs_subject_limiter: concurrent connections per (iss, sub). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auth/subject_limit.h"
#include "base/error.h"

static qs_grants_t *grants_of(const char *iss, const char *sub) {
  qs_grants_t *g = qs_grants_create_empty();
  assert_non_null(g);
  assert_int_equal(qs_grants_set_text(g, &g->issuer, qs_slice_from_cstr(iss)), 0);
  assert_int_equal(qs_grants_set_text(g, &g->subject, qs_slice_from_cstr(sub)), 0);
  return g;
}

static void subjects_are_capped_and_released(void **state) {
  (void)state;
  qs_subject_limiter_t *l = NULL;
  assert_int_equal(qs_subject_limiter_create(2, &l), 0);
  qs_grants_t *alice = grants_of("https://a", "alice"), *alice_b = grants_of("https://b", "alice");
  qs_subject_lease_t *l1, *l2, *l3, *other;
  assert_int_equal(qs_subject_limiter_acquire(l, alice, &l1), 0);
  assert_int_equal(qs_subject_limiter_acquire(l, alice, &l2), 0);
  assert_int_equal(qs_subject_limiter_acquire(l, alice, &l3), QS_EBUSY);
  assert_null(l3);
  /* The same `sub` from another issuer is another principal. */
  assert_int_equal(qs_subject_limiter_acquire(l, alice_b, &other), 0);
  assert_int_equal(qs_subject_limiter_count(l, alice), 2);
  qs_subject_limiter_release(l1);
  assert_int_equal(qs_subject_limiter_count(l, alice), 1);
  assert_int_equal(qs_subject_limiter_acquire(l, alice, &l3), 0);
  qs_subject_limiter_release(l2);
  qs_subject_limiter_release(l3);
  qs_subject_limiter_release(other);
  assert_int_equal(qs_subject_limiter_count(l, alice), 0);
  qs_grants_release(alice);
  qs_grants_release(alice_b);
  qs_subject_limiter_destroy(l);
}

/* A token without `sub` is its own principal, keyed by its digest. */
static void tokens_without_subject_count_as_themselves(void **state) {
  (void)state;
  qs_subject_limiter_t *l = NULL;
  assert_int_equal(qs_subject_limiter_create(1, &l), 0);
  qs_grants_t *a = qs_grants_create_empty(), *b = qs_grants_create_empty();
  a->token_digest = malloc(QS_GRANTS_DIGEST_BYTES);
  b->token_digest = malloc(QS_GRANTS_DIGEST_BYTES);
  assert_non_null(a->token_digest);
  assert_non_null(b->token_digest);
  memset(a->token_digest, 1, QS_GRANTS_DIGEST_BYTES);
  memset(b->token_digest, 2, QS_GRANTS_DIGEST_BYTES);
  qs_subject_lease_t *la, *la2, *lb;
  assert_int_equal(qs_subject_limiter_acquire(l, a, &la), 0);
  assert_non_null(la);
  assert_int_equal(qs_subject_limiter_acquire(l, a, &la2), QS_EBUSY);
  assert_int_equal(qs_subject_limiter_acquire(l, b, &lb), 0);
  assert_int_equal(qs_subject_limiter_count(l, a), 1);
  qs_subject_limiter_release(la);
  qs_subject_limiter_release(lb);
  assert_int_equal(qs_subject_limiter_count(l, a), 0);
  qs_grants_release(a);
  qs_grants_release(b);
  qs_subject_limiter_destroy(l);
}

/* Issuer and subject bytes cannot be shifted from one to the other. */
static void issuer_and_subject_do_not_run_together(void **state) {
  (void)state;
  qs_subject_limiter_t *l = NULL;
  assert_int_equal(qs_subject_limiter_create(1, &l), 0);
  qs_grants_t *x = grants_of("a\nb", "c"), *y = grants_of("a", "b\nc");
  qs_subject_lease_t *lx, *ly;
  assert_int_equal(qs_subject_limiter_acquire(l, x, &lx), 0);
  assert_int_equal(qs_subject_limiter_acquire(l, y, &ly), 0);
  qs_subject_limiter_release(lx);
  qs_subject_limiter_release(ly);
  qs_grants_release(x);
  qs_grants_release(y);
  qs_subject_limiter_destroy(l);
}

/* Anonymous subscribers (no token) are not counted. */
static void anonymous_grants_are_not_counted(void **state) {
  (void)state;
  qs_subject_limiter_t *l = NULL;
  assert_int_equal(qs_subject_limiter_create(1, &l), 0);
  qs_grants_t *none = qs_grants_create_empty();
  for (int i = 0; i < 3; i++) {
    qs_subject_lease_t *lease = (qs_subject_lease_t *)1;
    assert_int_equal(qs_subject_limiter_acquire(l, none, &lease), 0);
    assert_null(lease);
  }
  qs_grants_release(none);
  qs_subject_limiter_destroy(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(subjects_are_capped_and_released),
      cmocka_unit_test(tokens_without_subject_count_as_themselves),
      cmocka_unit_test(issuer_and_subject_do_not_run_together),
      cmocka_unit_test(anonymous_grants_are_not_counted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
