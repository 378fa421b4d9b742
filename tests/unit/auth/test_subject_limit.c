/* qs_subject_limiter: concurrent connections per (iss, sub). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

static void tokens_without_subject_are_not_counted(void **state) {
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
      cmocka_unit_test(tokens_without_subject_are_not_counted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
