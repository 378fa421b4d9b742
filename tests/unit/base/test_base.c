/* Unit tests of the base layer: buffers, the hash map, text rules, UUIDs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/map.h"
#include "base/text.h"
#include "base/uuid.h"

static void buf_refuses_growth_past_its_maximum(void **state) {
  (void)state;
  qs_buf_t buf;
  qs_buf_init(&buf, 8);
  assert_int_equal(qs_buf_append_cstr(&buf, "12345"), 0);
  assert_int_equal(qs_buf_append_cstr(&buf, "6789"), QS_ETOOBIG);
  assert_string_equal(buf.ptr, "12345");
  assert_int_equal(qs_buf_appendf(&buf, "%d", 678), 0);
  assert_string_equal(buf.ptr, "12345678");
  qs_buf_dispose(&buf);
}

static void map_puts_gets_and_removes_many_keys(void **state) {
  (void)state;
  qs_map_t map;
  qs_map_init(&map);
  char key[32];
  static int values[5000];
  for (int i = 0; i < 5000; i++) {
    snprintf(key, sizeof key, "topic/%d", i);
    values[i] = i;
    assert_int_equal(qs_map_put(&map, qs_slice_from_cstr(key), &values[i]), 0);
  }
  assert_int_equal(qs_map_count(&map), 5000);
  for (int i = 0; i < 5000; i += 2) {
    snprintf(key, sizeof key, "topic/%d", i);
    assert_ptr_equal(qs_map_remove(&map, qs_slice_from_cstr(key)), &values[i]);
  }
  for (int i = 0; i < 5000; i++) {
    snprintf(key, sizeof key, "topic/%d", i);
    void *found = qs_map_get(&map, qs_slice_from_cstr(key));
    if (i % 2)
      assert_ptr_equal(found, &values[i]);
    else
      assert_null(found);
  }
  assert_int_equal(qs_map_count(&map), 2500);
  qs_map_dispose(&map);
}

static void text_rules_follow_the_draft(void **state) {
  (void)state;
  assert_true(qs_text_allowed(qs_slice_from_cstr("access/42"), NULL));
  assert_true(qs_text_allowed(qs_slice_from_cstr("caf\xc3\xa9"), NULL));
  const char *reason = NULL;
  assert_false(qs_text_allowed(qs_slice_from_cstr("a\nb"), &reason));
  assert_non_null(reason);
  assert_false(qs_text_allowed(qs_slice_from_cstr("a\x7f"), NULL));
  assert_false(qs_text_allowed(qs_slice_from_cstr("a\xc2\x85"), NULL));     /* C1 NEL */
  assert_false(qs_text_allowed(qs_slice_from_cstr("a\xe2\x80\x8b"), NULL)); /* U+200B, Cf */
  assert_false(qs_text_allowed(qs_slice_from_cstr("\xef\xbb\xbf"), NULL));  /* BOM, Cf */
  assert_false(qs_text_allowed(qs_slice_from_cstr("\xc0\xaf"), NULL));      /* overlong */
  assert_false(qs_text_allowed(qs_slice_from_cstr("\xed\xa0\x80"), NULL));  /* surrogate */
  assert_false(qs_text_allowed(qs_slice("a\0b", 3), NULL));
}

static void uuid_v7_ids_are_time_ordered_and_well_formed(void **state) {
  (void)state;
  char previous[QS_UUID_URN_LEN + 1] = "";
  for (int i = 0; i < 10000; i++) {
    char id[QS_UUID_URN_LEN + 1];
    qs_uuid_v7_urn(id);
    assert_int_equal(strlen(id), QS_UUID_URN_LEN);
    assert_memory_equal(id, "urn:uuid:", 9);
    assert_int_equal(id[9 + 14], '7');
    assert_true(strcmp(previous, id) < 0);
    memcpy(previous, id, sizeof id);
  }
  assert_true(qs_uuid_v7_timestamp_ms(previous, QS_UUID_URN_LEN) > 1700000000000LL);
  /* A floor in the future keeps the order even though the clock is behind it. */
  int64_t future = qs_uuid_v7_timestamp_ms(previous, QS_UUID_URN_LEN) + 60000;
  qs_uuid_v7_floor(future);
  char after[QS_UUID_URN_LEN + 1];
  qs_uuid_v7_urn(after);
  assert_true(strcmp(previous, after) < 0);
  assert_true(qs_uuid_v7_timestamp_ms(after, QS_UUID_URN_LEN) >= future);
}

static void uuid_v4_ids_differ(void **state) {
  (void)state;
  char a[QS_UUID_URN_LEN + 1], b[QS_UUID_URN_LEN + 1];
  qs_uuid_v4_urn(a);
  qs_uuid_v4_urn(b);
  assert_string_not_equal(a, b);
  assert_int_equal(a[9 + 14], '4');
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(buf_refuses_growth_past_its_maximum),
      cmocka_unit_test(map_puts_gets_and_removes_many_keys),
      cmocka_unit_test(text_rules_follow_the_draft),
      cmocka_unit_test(uuid_v7_ids_are_time_ordered_and_well_formed),
      cmocka_unit_test(uuid_v4_ids_differ),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
