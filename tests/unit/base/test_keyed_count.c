/* Counts per key with a limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/error.h"
#include "base/keyed_count.h"

static void test_counts_up_to_the_limit_and_back(void **state) {
  (void)state;
  qs_keyed_count_t c;
  qs_keyed_count_init(&c);
  qs_slice_t a = qs_slice_from_cstr("a"), b = qs_slice_from_cstr("b");
  assert_int_equal(qs_keyed_count_get(&c, a), 0);
  assert_int_equal(qs_keyed_count_take(&c, a, 2), 0);
  assert_int_equal(qs_keyed_count_take(&c, a, 2), 0);
  assert_int_equal(qs_keyed_count_take(&c, a, 2), QS_EBUSY);
  assert_int_equal(qs_keyed_count_get(&c, a), 2);
  assert_int_equal(qs_keyed_count_take(&c, b, 2), 0); /* keys are apart */
  qs_keyed_count_release(&c, a);
  assert_int_equal(qs_keyed_count_get(&c, a), 1);
  assert_int_equal(qs_keyed_count_take(&c, a, 2), 0);
  qs_keyed_count_release(&c, a);
  qs_keyed_count_release(&c, a);
  qs_keyed_count_release(&c, a); /* at zero stays zero */
  assert_int_equal(qs_keyed_count_get(&c, a), 0);
  assert_int_equal(qs_keyed_count_get(&c, b), 1);
  qs_keyed_count_dispose(&c);
}

static void test_no_limit_and_binary_keys(void **state) {
  (void)state;
  qs_keyed_count_t c;
  qs_keyed_count_init(&c);
  const char raw[4] = {0, 1, 0, 2};
  qs_slice_t k = qs_slice(raw, sizeof raw), prefix = qs_slice(raw, 2);
  for (int i = 0; i < 1000; i++) assert_int_equal(qs_keyed_count_take(&c, k, 0), 0);
  assert_int_equal(qs_keyed_count_get(&c, k), 1000);
  assert_int_equal(qs_keyed_count_get(&c, prefix), 0);
  qs_keyed_count_dispose(&c); /* with counts left: frees them */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_counts_up_to_the_limit_and_back),
      cmocka_unit_test(test_no_limit_and_binary_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
