/* Connection admission shared by every worker's server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/admission.h"

static void per_address_and_total_limits_hold(void **state) {
  (void)state;
  qs_http_admission_t *a = NULL;
  assert_int_equal(qs_http_admission_create(3, 2, &a), 0);
  qs_slice_t one = qs_slice("\x7f\0\0\x01", 4), two = qs_slice("\x7f\0\0\x02", 4);
  assert_int_equal(qs_http_admission_take(a, one), 0);
  assert_int_equal(qs_http_admission_take(a, one), 0);
  assert_int_equal(qs_http_admission_take(a, one), 429); /* the address's share */
  assert_int_equal(qs_http_admission_take(a, two), 0);
  assert_int_equal(qs_http_admission_take(a, two), 503); /* the total */
  qs_http_admission_release(a, one);
  assert_int_equal(qs_http_admission_take(a, two), 0); /* a refused take counted nothing */
  assert_int_equal(qs_http_admission_take(a, one), 503);
  qs_http_admission_release(a, two);
  qs_http_admission_release(a, two);
  assert_int_equal(qs_http_admission_take(a, one), 0);
  assert_int_equal(qs_http_admission_take(a, one), 429);
  qs_http_admission_destroy(a);
}

static void zero_means_unlimited(void **state) {
  (void)state;
  qs_http_admission_t *a = NULL;
  assert_int_equal(qs_http_admission_create(0, 0, &a), 0);
  for (int i = 0; i < 1000; i++) assert_int_equal(qs_http_admission_take(a, qs_slice("ab", 2)), 0);
  for (int i = 0; i < 1000; i++) qs_http_admission_release(a, qs_slice("ab", 2));
  qs_http_admission_destroy(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(per_address_and_total_limits_hold),
      cmocka_unit_test(zero_means_unlimited),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
