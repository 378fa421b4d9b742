/* The Sentinel client's pure parts (redis_sentinel.h): the redis_sentinels
 * list and the master name. The client itself runs against real sentinels
 * in tests/integration/test_failover.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/error.h"
#include "store/redis_sentinel.h"

static void lists_of_host_port_entries(void **state) {
  (void)state;
  qs_redis_sentinel_addr_t a[QS_REDIS_SENTINELS_MAX];
  size_t n = 0;
  const char *reason = NULL;
  assert_int_equal(qs_redis_sentinel_parse("127.0.0.1:26379, s2.internal:26380 ,[::1]:7000", a, &n, &reason),
                   0);
  assert_int_equal(n, 3);
  assert_string_equal(a[0].host, "127.0.0.1");
  assert_int_equal(a[0].port, 26379);
  assert_string_equal(a[1].host, "s2.internal");
  assert_int_equal(a[1].port, 26380);
  assert_string_equal(a[2].host, "::1");
  assert_int_equal(a[2].port, 7000);
  /* The port defaults to Sentinel's. */
  assert_int_equal(qs_redis_sentinel_parse("s1,[::1]", a, &n, &reason), 0);
  assert_int_equal(n, 2);
  assert_int_equal(a[0].port, 26379);
  assert_string_equal(a[1].host, "::1");
  assert_int_equal(a[1].port, 26379);
}

static void bad_lists_say_why(void **state) {
  (void)state;
  static const char *const bad[] = {
      "",    ",",      "a:1,",       ",a:1",   "a:1,,b:2", "a:0",   "a:65536",
      "a:x", ":26379", "[::1:26379", "[::1]x", "a b:1",    "a:1:2", "a:-1",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    qs_redis_sentinel_addr_t a[QS_REDIS_SENTINELS_MAX];
    size_t n = 0;
    const char *reason = NULL;
    if (qs_redis_sentinel_parse(bad[i], a, &n, &reason) != QS_EINVAL) fail_msg("accepted: \"%s\"", bad[i]);
    assert_non_null(reason);
    assert_true(strncmp(reason, "redis_sentinels: ", 17) == 0);
  }
}

static void at_most_sixteen_sentinels(void **state) {
  (void)state;
  char list[512] = "";
  for (int i = 0; i < QS_REDIS_SENTINELS_MAX; i++) strcat(list, i ? ",h:1" : "h:1");
  qs_redis_sentinel_addr_t a[QS_REDIS_SENTINELS_MAX];
  size_t n = 0;
  const char *reason = NULL;
  assert_int_equal(qs_redis_sentinel_parse(list, a, &n, &reason), 0);
  assert_int_equal(n, QS_REDIS_SENTINELS_MAX);
  strcat(list, ",h:1");
  assert_int_equal(qs_redis_sentinel_parse(list, a, &n, &reason), QS_EINVAL);
  assert_string_equal(reason, "redis_sentinels: at most 16 sentinels");
}

static void master_names(void **state) {
  (void)state;
  assert_true(qs_redis_sentinel_name_ok("mymaster"));
  assert_false(qs_redis_sentinel_name_ok(""));
  assert_false(qs_redis_sentinel_name_ok("my master"));
  assert_false(qs_redis_sentinel_name_ok("a\nb"));
  char long_name[130];
  memset(long_name, 'n', 129);
  long_name[129] = '\0';
  assert_false(qs_redis_sentinel_name_ok(long_name));
  long_name[128] = '\0';
  assert_true(qs_redis_sentinel_name_ok(long_name));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(lists_of_host_port_entries),
      cmocka_unit_test(bad_lists_say_why),
      cmocka_unit_test(at_most_sixteen_sentinels),
      cmocka_unit_test(master_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
