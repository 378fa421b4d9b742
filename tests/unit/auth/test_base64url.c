#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "auth/base64url.h"
#include "base/error.h"

static void decode_ok(const char *in, const char *expected, size_t expected_len) {
  qs_buf_t out;
  qs_buf_init(&out, 1024);
  assert_int_equal(qs_base64url_decode(qs_slice_from_cstr(in), &out), 0);
  assert_int_equal(out.len, expected_len);
  if (expected_len) assert_memory_equal(out.ptr, expected, expected_len);
  qs_buf_dispose(&out);
}

static int decode_rc(const char *in) {
  qs_buf_t out;
  qs_buf_init(&out, 1024);
  assert_int_equal(qs_buf_append_cstr(&out, "kept"), 0);
  int rc = qs_base64url_decode(qs_slice_from_cstr(in), &out);
  if (rc) assert_string_equal(out.ptr, "kept");
  qs_buf_dispose(&out);
  return rc;
}

static void test_rfc4648_vectors_decode_without_padding(void **state) {
  (void)state;
  decode_ok("", "", 0);
  decode_ok("Zg", "f", 1);
  decode_ok("Zm8", "fo", 2);
  decode_ok("Zm9v", "foo", 3);
  decode_ok("Zm9vYg", "foob", 4);
  decode_ok("Zm9vYmE", "fooba", 5);
  decode_ok("Zm9vYmFy", "foobar", 6);
}

static void test_url_alphabet_decodes_dash_and_underscore(void **state) {
  (void)state;
  decode_ok("-_8", "\xfb\xff", 2);
}

static void test_padding_is_refused(void **state) {
  (void)state;
  assert_int_equal(decode_rc("Zg=="), QS_EPARSE);
  assert_int_equal(decode_rc("Zm8="), QS_EPARSE);
}

static void test_standard_alphabet_and_whitespace_are_refused(void **state) {
  (void)state;
  assert_int_equal(decode_rc("+/8"), QS_EPARSE);
  assert_int_equal(decode_rc("Zm9v Yg"), QS_EPARSE);
  assert_int_equal(decode_rc("Zm9v\nYg"), QS_EPARSE);
}

static void test_impossible_length_is_refused(void **state) {
  (void)state;
  assert_int_equal(decode_rc("Z"), QS_EPARSE);
  assert_int_equal(decode_rc("Zm9vY"), QS_EPARSE);
}

static void test_nonzero_trailing_bits_are_refused(void **state) {
  (void)state;
  /* "Zh" would decode to "f" too if the low bits were ignored. */
  assert_int_equal(decode_rc("Zh"), QS_EPARSE);
  assert_int_equal(decode_rc("Zm9"), QS_EPARSE);
}

static void test_decode_past_buffer_maximum_is_too_big(void **state) {
  (void)state;
  qs_buf_t out;
  qs_buf_init(&out, 4);
  assert_int_equal(qs_base64url_decode(qs_slice_from_cstr("Zm9vYmFy"), &out), QS_ETOOBIG);
  assert_int_equal(out.len, 0);
  qs_buf_dispose(&out);
}

static void test_encode_round_trips_every_length(void **state) {
  (void)state;
  unsigned char data[600];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (unsigned char)(i * 37 + 11);
  for (size_t len = 0; len <= sizeof data; len += (len < 10 ? 1 : 97)) {
    qs_buf_t enc, dec;
    qs_buf_init(&enc, 2048);
    qs_buf_init(&dec, 2048);
    assert_int_equal(qs_base64url_encode(data, len, &enc), 0);
    assert_null(memchr(enc.ptr ? enc.ptr : "", '=', enc.len));
    assert_int_equal(qs_base64url_decode(qs_buf_slice(&enc), &dec), 0);
    assert_int_equal(dec.len, len);
    if (len) assert_memory_equal(dec.ptr, data, len);
    qs_buf_dispose(&enc);
    qs_buf_dispose(&dec);
  }
}

static void test_encode_matches_rfc4648(void **state) {
  (void)state;
  qs_buf_t enc;
  qs_buf_init(&enc, 64);
  assert_int_equal(qs_base64url_encode("foobar", 6, &enc), 0);
  assert_int_equal(qs_base64url_encode("fooba", 5, &enc), 0);
  assert_int_equal(qs_base64url_encode("\xfb\xff", 2, &enc), 0);
  assert_string_equal(enc.ptr, "Zm9vYmFyZm9vYmE-_8");
  qs_buf_dispose(&enc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc4648_vectors_decode_without_padding),
      cmocka_unit_test(test_url_alphabet_decodes_dash_and_underscore),
      cmocka_unit_test(test_padding_is_refused),
      cmocka_unit_test(test_standard_alphabet_and_whitespace_are_refused),
      cmocka_unit_test(test_impossible_length_is_refused),
      cmocka_unit_test(test_nonzero_trailing_bits_are_refused),
      cmocka_unit_test(test_decode_past_buffer_maximum_is_too_big),
      cmocka_unit_test(test_encode_round_trips_every_length),
      cmocka_unit_test(test_encode_matches_rfc4648),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
