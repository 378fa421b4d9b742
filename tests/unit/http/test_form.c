/* application/x-www-form-urlencoded parsing (WHATWG URL Standard §5.1) and
 * the form Content-Type check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/error.h"
#include "http/form.h"

static const qs_form_limits_t limits = {.max_pairs = 100, .max_bytes = 4096};

static void assert_pair(const qs_form_t *f, size_t i, const char *name, const char *value) {
  assert_true(i < f->count);
  qs_slice_t n = f->pairs[i].name, v = f->pairs[i].value;
  if (!qs_slice_eq_cstr(n, name) || !qs_slice_eq_cstr(v, value))
    fail_msg("pair %zu: expected \"%s\"=\"%s\", got \"%.*s\"=\"%.*s\"", i, name, value, (int)n.len, n.ptr,
             (int)v.len, v.ptr);
}

static qs_form_t parse(const char *input) {
  qs_form_t f;
  qs_form_init(&f);
  assert_int_equal(qs_form_parse(qs_slice_from_cstr(input), &limits, &f), 0);
  return f;
}

static void plus_is_space_and_percent_is_decoded(void **state) {
  qs_form_t f = parse("match=https%3A%2F%2Fexample.com%2Fbooks%2F1&q=a+b%20c");
  assert_int_equal(f.count, 2);
  assert_pair(&f, 0, "match", "https://example.com/books/1");
  assert_pair(&f, 1, "q", "a b c");
  qs_form_dispose(&f);
}

static void encoded_plus_stays_plus(void **state) {
  qs_form_t f = parse("a=1%2B1");
  assert_pair(&f, 0, "a", "1+1");
  qs_form_dispose(&f);
}

static void name_without_equals_has_empty_value(void **state) {
  qs_form_t f = parse("private&topic=x&=v&e=");
  assert_int_equal(f.count, 4);
  assert_pair(&f, 0, "private", "");
  assert_pair(&f, 1, "topic", "x");
  assert_pair(&f, 2, "", "v");
  assert_pair(&f, 3, "e", "");
  qs_form_dispose(&f);
}

static void empty_pieces_are_skipped(void **state) {
  qs_form_t f = parse("&&a=1&&b=2&");
  assert_int_equal(f.count, 2);
  assert_pair(&f, 0, "a", "1");
  assert_pair(&f, 1, "b", "2");
  qs_form_dispose(&f);
  f = parse("");
  assert_int_equal(f.count, 0);
  qs_form_dispose(&f);
}

static void only_first_equals_splits(void **state) {
  qs_form_t f = parse("a==b=c");
  assert_pair(&f, 0, "a", "=b=c");
  qs_form_dispose(&f);
}

static void bad_percent_sequences_stay_as_they_are(void **state) {
  qs_form_t f = parse("a=%&b=%4&c=%zz&d=%4a%4A&e=100%");
  assert_pair(&f, 0, "a", "%");
  assert_pair(&f, 1, "b", "%4");
  assert_pair(&f, 2, "c", "%zz");
  assert_pair(&f, 3, "d", "JJ");
  assert_pair(&f, 4, "e", "100%");
  qs_form_dispose(&f);
}

static void percent_decoding_can_produce_any_byte(void **state) {
  /* no U+FFFD replacement: invalid UTF-8 and NUL reach the caller, who rejects them */
  qs_form_t f = parse("a=%FF%00x");
  assert_int_equal(f.pairs[0].value.len, 3);
  assert_memory_equal(f.pairs[0].value.ptr, "\xff\0x", 3);
  qs_form_dispose(&f);
}

static void names_are_case_sensitive_and_repeatable(void **state) {
  qs_form_t f = parse("topic=a&Topic=b&topic=c");
  qs_slice_t v;
  assert_true(qs_form_get(&f, "topic", &v));
  assert_true(qs_slice_eq_cstr(v, "a"));
  assert_int_equal(qs_form_count(&f, "topic"), 2);
  assert_int_equal(qs_form_count(&f, "Topic"), 1);
  assert_false(qs_form_get(&f, "TOPIC", NULL));
  qs_form_dispose(&f);
}

static void append_merges_query_then_body(void **state) {
  qs_form_t f = parse("match=a&last_event_id=q");
  assert_int_equal(qs_form_parse_append(qs_slice_from_cstr("match=b&last_event_id=body"), &limits, &f), 0);
  assert_int_equal(f.count, 4);
  assert_pair(&f, 0, "match", "a");
  assert_pair(&f, 1, "last_event_id", "q");
  assert_pair(&f, 2, "match", "b");
  assert_pair(&f, 3, "last_event_id", "body");
  qs_slice_t v;
  assert_true(qs_form_get(&f, "last_event_id", &v));
  assert_true(qs_slice_eq_cstr(v, "q"));
  qs_form_dispose(&f);
}

static void too_many_pairs_is_refused(void **state) {
  qs_form_limits_t small = {.max_pairs = 2, .max_bytes = 100};
  qs_form_t f;
  qs_form_init(&f);
  assert_int_equal(qs_form_parse(qs_slice_from_cstr("a=1&b=2&c=3"), &small, &f), QS_ETOOBIG);
  assert_int_equal(f.count, 0);
  assert_int_equal(qs_form_parse(qs_slice_from_cstr("a=1&&&b=2&"), &small, &f), 0);
  assert_int_equal(qs_form_parse_append(qs_slice_from_cstr("c=3"), &small, &f), QS_ETOOBIG);
  assert_int_equal(f.count, 2); /* unchanged */
  qs_form_dispose(&f);
}

static void too_many_bytes_is_refused(void **state) {
  qs_form_limits_t small = {.max_pairs = 10, .max_bytes = 8};
  qs_form_t f;
  qs_form_init(&f);
  assert_int_equal(qs_form_parse(qs_slice_from_cstr("a=123456"), &small, &f), 0);
  assert_int_equal(qs_form_parse(qs_slice_from_cstr("a=1234567"), &small, &f), QS_ETOOBIG);
  assert_int_equal(f.count, 0);
  qs_form_dispose(&f);
}

static void input_needs_no_nul(void **state) {
  const char raw[] = {'a', '=', '%', '4',
                      '1'}; /* "a=%41" without NUL; a '%4' at the very end must not read past */
  qs_form_t f;
  qs_form_init(&f);
  assert_int_equal(qs_form_parse(qs_slice(raw, 4), &limits, &f), 0);
  assert_pair(&f, 0, "a", "%4");
  assert_int_equal(qs_form_parse(qs_slice(raw, 5), &limits, &f), 0);
  assert_pair(&f, 0, "a", "A");
  qs_form_dispose(&f);
}

static void form_content_type_is_recognized(void **state) {
  assert_int_equal(qs_form_content_type(qs_slice_from_cstr("application/x-www-form-urlencoded")), 1);
  assert_int_equal(
      qs_form_content_type(qs_slice_from_cstr("Application/X-WWW-Form-URLEncoded; charset=UTF-8")), 1);
  assert_int_equal(
      qs_form_content_type(qs_slice_from_cstr(" application/x-www-form-urlencoded ;charset=utf-8")), 1);
  assert_int_equal(qs_form_content_type(qs_slice_from_cstr("text/plain")), 0);
  assert_int_equal(qs_form_content_type(qs_slice_from_cstr("multipart/form-data; boundary=x")), 0);
  assert_int_equal(qs_form_content_type(qs_slice_from_cstr("application/x-www-form-urlencodedx")), 0);
  assert_int_equal(qs_form_content_type(qs_slice_from_cstr("")), QS_EPARSE);
  assert_int_equal(qs_form_content_type(qs_slice_from_cstr("application")), QS_EPARSE);
  assert_int_equal(qs_form_content_type(qs_slice_from_cstr("application/")), QS_EPARSE);
  assert_int_equal(qs_form_content_type(qs_slice_from_cstr("/x")), QS_EPARSE);
  assert_int_equal(qs_form_content_type(qs_slice_from_cstr("application/x-www-form-urlencoded garbage")),
                   QS_EPARSE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(plus_is_space_and_percent_is_decoded),
      cmocka_unit_test(encoded_plus_stays_plus),
      cmocka_unit_test(name_without_equals_has_empty_value),
      cmocka_unit_test(empty_pieces_are_skipped),
      cmocka_unit_test(only_first_equals_splits),
      cmocka_unit_test(bad_percent_sequences_stay_as_they_are),
      cmocka_unit_test(percent_decoding_can_produce_any_byte),
      cmocka_unit_test(names_are_case_sensitive_and_repeatable),
      cmocka_unit_test(append_merges_query_then_body),
      cmocka_unit_test(too_many_pairs_is_refused),
      cmocka_unit_test(too_many_bytes_is_refused),
      cmocka_unit_test(input_needs_no_nul),
      cmocka_unit_test(form_content_type_is_recognized),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
