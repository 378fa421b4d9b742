/* The one percent-decoder: lenient, strict, form and unreserved-only readings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/error.h"
#include "base/percent.h"

static void expect(const char *in, unsigned flags, int rc, const char *want) {
  char out[64];
  size_t n = 99;
  assert_int_equal(qs_percent_decode(qs_slice_from_cstr(in), flags, out, &n), rc);
  if (rc == 0) {
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
  }
}

static void test_hex_digits(void **state) {
  (void)state;
  assert_int_equal(qs_hex_digit_value('0'), 0);
  assert_int_equal(qs_hex_digit_value('9'), 9);
  assert_int_equal(qs_hex_digit_value('a'), 10);
  assert_int_equal(qs_hex_digit_value('F'), 15);
  assert_int_equal(qs_hex_digit_value('g'), -1);
  assert_int_equal(qs_hex_digit_value('%'), -1);
  assert_int_equal(qs_hex_digit_value(-1), -1);
}

static void test_lenient_keeps_bad_escapes(void **state) {
  (void)state;
  expect("a%41b", 0, 0, "aAb");
  expect("%41%zz%4", 0, 0, "A%zz%4");
  expect("%", 0, 0, "%");
  expect("%2", 0, 0, "%2");
  expect("%%41", 0, 0, "%A");
  expect("%e2%82%ac", 0, 0, "\xe2\x82\xac");
  expect("a+b", 0, 0, "a+b");
  expect("", 0, 0, "");
}

static void test_strict_refuses_bad_escapes(void **state) {
  (void)state;
  expect("a%41b", QS_PERCENT_STRICT, 0, "aAb");
  expect("%zz", QS_PERCENT_STRICT, QS_EPARSE, NULL);
  expect("ab%4", QS_PERCENT_STRICT, QS_EPARSE, NULL);
  expect("%", QS_PERCENT_STRICT, QS_EPARSE, NULL);
  expect("a+b", QS_PERCENT_STRICT, 0, "a+b");
}

static void test_form_reads_plus_as_space(void **state) {
  (void)state;
  expect("a+b%2Bc", QS_PERCENT_PLUS_IS_SPACE, 0, "a b+c");
  expect("+%zz", QS_PERCENT_PLUS_IS_SPACE, 0, " %zz");
}

static void test_unreserved_only_keeps_delimiters_encoded(void **state) {
  (void)state;
  expect("%7Euser%2Fx%41%2d%5F%2e", QS_PERCENT_UNRESERVED_ONLY, 0, "~user%2FxA-_.");
  expect("%20%3F", QS_PERCENT_UNRESERVED_ONLY, 0, "%20%3F");
}

static void test_append_respects_the_buffer_limit(void **state) {
  (void)state;
  qs_buf_t out;
  qs_buf_init(&out, 8);
  assert_int_equal(qs_percent_decode_append(qs_slice_from_cstr("x%41"), 0, &out), 0);
  assert_string_equal(out.ptr, "xA");
  assert_int_equal(qs_percent_decode_append(qs_slice_from_cstr("%42%43"), 0, &out), 0);
  assert_string_equal(out.ptr, "xABC");
  assert_int_equal(qs_percent_decode_append(qs_slice_from_cstr("123456789"), 0, &out), QS_ETOOBIG);
  assert_int_equal(qs_percent_decode_append(qs_slice_from_cstr("%zz"), QS_PERCENT_STRICT, &out), QS_EPARSE);
  assert_string_equal(out.ptr, "xABC"); /* unchanged after a refusal */
  qs_buf_dispose(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hex_digits),
      cmocka_unit_test(test_lenient_keeps_bad_escapes),
      cmocka_unit_test(test_strict_refuses_bad_escapes),
      cmocka_unit_test(test_form_reads_plus_as_space),
      cmocka_unit_test(test_unreserved_only_keeps_delimiters_encoded),
      cmocka_unit_test(test_append_respects_the_buffer_limit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
