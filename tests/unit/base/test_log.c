/* Unit tests of the JSON log line: message words and key=value fields,
 * escaping, numbers, and lines cut short that stay one valid object. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "base/log.h"

static void check_line(size_t cap, const char *message, const char *expected) {
  char line[1024];
  assert_true(cap <= sizeof line);
  size_t len = qs_log_format_json(line, cap, "2026-01-02T03:04:05.006Z", "info", message);
  assert_true(len <= cap);
  line[len < sizeof line ? len : sizeof line - 1] = 0;
  assert_string_equal(line, expected);
}

static void fields_leave_the_message_and_numbers_stay_numbers(void **state) {
  (void)state;
  check_line(1024,
             "publish remote=127.0.0.1:4000 status=200 topics=2 reason=\"not \\\"granted\\\" here\" id=",
             "{\"time\":\"2026-01-02T03:04:05.006Z\",\"level\":\"info\",\"message\":\"publish\",\"fields\":{"
             "\"remote\":\"127.0.0.1:4000\",\"status\":200,\"topics\":2,\"reason\":\"not \\\"granted\\\" "
             "here\",\"id\":\"\"}}\n");
}

static void words_that_are_no_fields_stay_in_the_message(void **state) {
  (void)state;
  /* Upper-case keys, a quote left open and a bare "=" are words of the message. */
  check_line(
      1024, "JWKS x=1 Key=2 a=\"open =3 done",
      "{\"time\":\"2026-01-02T03:04:05.006Z\",\"level\":\"info\",\"message\":\"JWKS Key=2 a=\\\"open =3 "
      "done\",\"fields\":{\"x\":1}}\n");
}

static void only_json_integers_become_numbers(void **state) {
  (void)state;
  check_line(
      1024, "n a=-5 b=007 c=-01 d=0 e=- f=1e3 g=1234567890123456789",
      "{\"time\":\"2026-01-02T03:04:05.006Z\",\"level\":\"info\",\"message\":\"n\",\"fields\":{\"a\":-5,"
      "\"b\":\"007\",\"c\":\"-01\",\"d\":0,\"e\":\"-\",\"f\":\"1e3\",\"g\":\"1234567890123456789\"}}\n");
}

static void control_characters_and_bad_utf8_are_escaped(void **state) {
  (void)state;
  check_line(
      1024, "settings:\nline\t\\ caf\xc3\xa9 \xff\xc3 v=\xe2\x82\xac",
      "{\"time\":\"2026-01-02T03:04:05.006Z\",\"level\":\"info\",\"message\":\"settings: line\\u0009\\\\ "
      "caf\xc3\xa9 \\ufffd\\ufffd\",\"fields\":{\"v\":\"\xe2\x82\xac\"}}\n");
}

static void a_line_cut_short_is_still_one_object(void **state) {
  (void)state;
  /* 64 bytes: 38 for the prefix, 15 kept for the end, so 11 for the message. */
  char line[64];
  size_t len = qs_log_format_json(line, sizeof line, "T", "info", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa k=v");
  assert_int_equal(len, 64);
  assert_memory_equal(line, "{\"time\":\"T\",\"level\":\"info\",\"message\":\"aaaaaaaaaaa\",\"fields\":{}}\n",
                      64);
  /* An escape that does not fit is left out whole, never cut after its backslash. */
  len = qs_log_format_json(line, sizeof line, "T", "info", "\"\"\"\"\"\"\"\"\"\"");
  const char *expected =
      "{\"time\":\"T\",\"level\":\"info\",\"message\":\"\\\"\\\"\\\"\\\"\\\"\",\"fields\":{}}\n";
  assert_int_equal(len, strlen(expected));
  assert_memory_equal(line, expected, len);
  /* A field that does not fit whole is left out; the ones before it stay. */
  len = qs_log_format_json(line, sizeof line, "T", "info", "m a=1 b=22222222");
  expected = "{\"time\":\"T\",\"level\":\"info\",\"message\":\"m\",\"fields\":{\"a\":1}}\n";
  assert_int_equal(len, strlen(expected));
  assert_memory_equal(line, expected, len);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fields_leave_the_message_and_numbers_stay_numbers),
      cmocka_unit_test(words_that_are_no_fields_stay_in_the_message),
      cmocka_unit_test(only_json_integers_become_numbers),
      cmocka_unit_test(control_characters_and_bad_utf8_are_escaped),
      cmocka_unit_test(a_line_cut_short_is_still_one_object),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
