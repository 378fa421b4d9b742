/* The Redis transport's pure parts: redis_url parsing (redis.h) and an
 * update as a stream entry and back (redis_internal.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/error.h"
#include "store/redis.h"
#include "store/redis_internal.h"

static void urls_with_host_port_credentials_and_db(void **state) {
  (void)state;
  qs_redis_url_t u;
  const char *reason = NULL;
  assert_int_equal(qs_redis_url_parse("redis://127.0.0.1", &u, &reason), 0);
  assert_string_equal(u.host, "127.0.0.1");
  assert_int_equal(u.port, 6379);
  assert_int_equal(u.db, 0);
  assert_string_equal(u.password, "");

  assert_int_equal(qs_redis_url_parse("redis://alice:p%40ss:w@redis.internal:6380/3", &u, &reason), 0);
  assert_string_equal(u.user, "alice");
  assert_string_equal(u.password, "p@ss:w");
  assert_string_equal(u.host, "redis.internal");
  assert_int_equal(u.port, 6380);
  assert_int_equal(u.db, 3);

  /* A password alone, and the last '@' ends the credentials. */
  assert_int_equal(qs_redis_url_parse("redis://:secret@h", &u, &reason), 0);
  assert_string_equal(u.user, "");
  assert_string_equal(u.password, "secret");
  assert_int_equal(qs_redis_url_parse("redis://x@y@h:1", &u, &reason), 0);
  assert_string_equal(u.password, "x@y");
  assert_string_equal(u.host, "h");

  assert_int_equal(qs_redis_url_parse("redis://[::1]:7000/", &u, &reason), 0);
  assert_string_equal(u.host, "::1");
  assert_int_equal(u.port, 7000);
}

static void unix_socket_urls(void **state) {
  (void)state;
  qs_redis_url_t u;
  const char *reason = NULL;
  assert_int_equal(qs_redis_url_parse("unix:/run/redis/redis.sock", &u, &reason), 0);
  assert_string_equal(u.unix_path, "/run/redis/redis.sock");
  assert_int_equal(qs_redis_url_parse("unix:///tmp/r.sock?db=2", &u, &reason), 0);
  assert_string_equal(u.unix_path, "/tmp/r.sock");
  assert_int_equal(u.db, 2);
}

static void bad_urls_say_why_without_the_password(void **state) {
  (void)state;
  static const char *const bad[] = {
      "rediss://h",      "http://h",           "redis://",        "redis://h:0",
      "redis://h:65536", "redis://h:x",        "redis://h/db",    "redis://[::1",
      "unix:relative",   "unix:/s?database=1", "redis://u:%zz@h", "redis://:p%00@h",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    qs_redis_url_t u;
    const char *reason = NULL;
    assert_int_equal(qs_redis_url_parse(bad[i], &u, &reason), QS_EINVAL);
    assert_non_null(reason);
    assert_null(strstr(reason, "zz"));
  }
}

/* Encodes `in` and decodes the pairs back. */
static qs_update_t *round_trip(const qs_update_t *in) {
  const char *argv[64];
  size_t lens[64];
  char numbers[48];
  size_t n = qs_redis_entry_encode(in, argv, lens, 64, numbers);
  assert_true(n > 0 && n % 2 == 0);
  assert_string_equal(argv[0], "id"); /* the publish script reads the id as the first value */
  qs_slice_t fields[32], values[32];
  for (size_t i = 0; i < n / 2; i++) {
    fields[i] = qs_slice(argv[2 * i], lens[2 * i]);
    values[i] = qs_slice(argv[2 * i + 1], lens[2 * i + 1]);
  }
  qs_update_t *out = NULL;
  const char *reason = NULL;
  assert_int_equal(qs_redis_entry_decode(fields, values, n / 2, &out, &reason), 0);
  return out;
}

static void entries_round_trip(void **state) {
  (void)state;
  qs_slice_t topics[2] = {qs_slice_from_cstr("https://example.com/books/1"), qs_slice_from_cstr("urn:b")};
  qs_update_fields_t f = {.id = qs_slice_from_cstr("urn:uuid:1"),
                          .topics = topics,
                          .topic_count = 2,
                          .type = qs_slice_from_cstr("message"),
                          .retry_ms = 2500,
                          .data = qs_slice("a\nb\0c", 5),
                          .is_private = true};
  qs_update_t *in = qs_update_create(&f, 1700000000123);
  qs_update_t *out = round_trip(in);
  assert_int_equal(out->topic_count, 2);
  assert_true(qs_slice_eq_cstr(out->topics[1], "urn:b"));
  assert_true(qs_slice_eq_cstr(out->type, "message"));
  assert_int_equal(out->retry_ms, 2500);
  assert_true(out->is_private);
  assert_int_equal(out->created_ms, 1700000000123);
  assert_int_equal(out->data.len, 5);
  assert_memory_equal(out->data.ptr, "a\nb\0c", 5);
  /* The same SSE bytes, so every node sends what the publishing one would. */
  assert_int_equal(out->sse.len, in->sse.len);
  assert_memory_equal(out->sse.ptr, in->sse.ptr, in->sse.len);
  qs_update_release(in);
  qs_update_release(out);
}

static void entries_that_are_not_updates_are_refused(void **state) {
  (void)state;
  qs_update_t *out = NULL;
  const char *reason = NULL;
  qs_slice_t f1[] = {qs_slice_from_cstr("id"), qs_slice_from_cstr("data")};
  qs_slice_t v1[] = {qs_slice_from_cstr("x"), qs_slice_from_cstr("d")};
  assert_int_equal(qs_redis_entry_decode(f1, v1, 2, &out, &reason), QS_EPARSE);
  assert_string_equal(reason, "no topic");
  qs_slice_t f2[] = {qs_slice_from_cstr("id"), qs_slice_from_cstr("topic")};
  qs_slice_t v2[] = {qs_slice_from_cstr("x\ny"), qs_slice_from_cstr("t")};
  assert_int_equal(qs_redis_entry_decode(f2, v2, 2, &out, &reason), QS_EPARSE);
  assert_string_equal(reason, "CR or LF in the id");
  qs_slice_t f3[] = {qs_slice_from_cstr("topic"), qs_slice_from_cstr("retry")};
  qs_slice_t v3[] = {qs_slice_from_cstr("t"), qs_slice_from_cstr("-1")};
  assert_int_equal(qs_redis_entry_decode(f3, v3, 2, &out, &reason), QS_EPARSE);
  assert_string_equal(reason, "bad retry");
  assert_null(out);
}

static void stream_ids(void **state) {
  (void)state;
  qs_redis_stream_id_t id;
  assert_true(qs_redis_stream_id_parse(qs_slice_from_cstr("1700000000000-42"), &id));
  assert_int_equal(id.ms, 1700000000000u);
  assert_int_equal(id.seq, 42);
  assert_false(qs_redis_stream_id_parse(qs_slice_from_cstr("12"), &id));
  assert_false(qs_redis_stream_id_parse(qs_slice_from_cstr("1-"), &id));
  assert_false(qs_redis_stream_id_parse(qs_slice_from_cstr("a-1"), &id));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(urls_with_host_port_credentials_and_db),   cmocka_unit_test(unix_socket_urls),
      cmocka_unit_test(bad_urls_say_why_without_the_password),    cmocka_unit_test(entries_round_trip),
      cmocka_unit_test(entries_that_are_not_updates_are_refused), cmocka_unit_test(stream_ids),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
