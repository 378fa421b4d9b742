/* The SSE encoding of updates (Mercure draft, Publication: one `data:` line
 * per line of data, split on CR, LF and CRLF). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "store/update.h"

static qs_update_t *make(const char *id, const char *type, uint64_t retry, const char *data) {
  qs_slice_t topics[2] = {qs_slice_from_cstr("access/42"), qs_slice_from_cstr("https://example.com/a")};
  qs_update_fields_t f = {.id = qs_slice_from_cstr(id),
                          .topics = topics,
                          .topic_count = 2,
                          .type = qs_slice_from_cstr(type),
                          .retry_ms = retry,
                          .data = qs_slice_from_cstr(data),
                          .is_private = true};
  return qs_update_create(&f, 1234);
}

static void assert_sse(qs_update_t *u, const char *expected) {
  assert_int_equal(u->sse.len, strlen(expected));
  assert_memory_equal(u->sse.ptr, expected, u->sse.len);
}

static void data_lines_split_on_cr_lf_and_crlf(void **state) {
  (void)state;
  qs_update_t *u = make("urn:x", "", 0, "a\rb\nc\r\nd");
  assert_sse(u, "id: urn:x\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
  qs_update_release(u);
}

static void empty_lines_and_trailing_newlines_are_kept(void **state) {
  (void)state;
  qs_update_t *u = make("1", "", 0, "data for\n\n        x\n");
  assert_sse(u, "id: 1\ndata: data for\ndata: \ndata:         x\ndata: \n\n");
  qs_update_release(u);
}

static void absent_data_is_one_empty_data_line(void **state) {
  (void)state;
  qs_update_t *u = make("1", "", 0, "");
  assert_sse(u, "id: 1\ndata: \n\n");
  qs_update_release(u);
}

static void type_and_retry_come_first(void **state) {
  (void)state;
  qs_update_t *u = make("1", "note", 5000, "{\"a\":1}");
  assert_sse(u, "event: note\nretry: 5000\nid: 1\ndata: {\"a\":1}\n\n");
  assert_true(u->is_private);
  assert_int_equal(u->topic_count, 2);
  assert_memory_equal(u->topics[1].ptr, "https://example.com/a", u->topics[1].len);
  assert_int_equal(u->created_ms, 1234);
  qs_update_retain(u);
  qs_update_release(u);
  qs_update_release(u);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(data_lines_split_on_cr_lf_and_crlf),
      cmocka_unit_test(empty_lines_and_trailing_newlines_are_kept),
      cmocka_unit_test(absent_data_is_one_empty_data_line),
      cmocka_unit_test(type_and_retry_come_first),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
