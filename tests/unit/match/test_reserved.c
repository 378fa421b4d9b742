/* Reserved topic namespace: the examples of requirements-digest 1.4.2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "match/reserved.h"

static const char *hub = "https://example.com/.well-known/mercure";

static void check(const char *topic, bool want) {
  bool got = qs_topic_is_reserved(qs_slice_from_cstr(topic), qs_slice_from_cstr(hub));
  if (got != want) fail_msg("topic \"%s\": reserved %d, want %d", topic, got, want);
}

static void test_digest_examples_reserved(void **state) {
  (void)state;
  check("", true);
  check("mercure", true);
  check("mercure/x", true);
  check("/.well-known/%6Dercure/x", true);
  check("/.well-known/mercure", true);
  check("https://example.com/.well-known/mercure/subscriptions", true);
  /* Scheme and authority are ignored. */
  check("http://other.example/.well-known/mercure", true);
  /* Dot segments and their encodings are resolved, "\" is "/" for https. */
  check("/a/../.well-known/mercure/x", true);
  check("/a/%2e%2E/.well-known/mercure", true);
  check("\\.well-known\\mercure\\x", true);
  check("./mercure?query#hash", true);
  check("/.well-known/%6d%65rcure", true);
}

static void test_digest_examples_allowed(void **state) {
  (void)state;
  check("access/42", false);
  check("urn:uuid:6a0d0a4c-7e4f-4a5c-9b52-2fb4b5c6d7e8", false);
  check("/.well-known/mercure%2Fx", false);
  check("/.well-known/mercurex", false);
  check("/.well-known/mercure-x", false);
  check("https://example.com/books/1", false);
  check("/.well-known/", false);
  check("http://[::1", false); /* unparsable: not reserved */
}

static void test_unparsable_hub_url_reserves_nothing(void **state) {
  (void)state;
  assert_false(
      qs_topic_is_reserved(qs_slice_from_cstr("/.well-known/mercure"), qs_slice_from_cstr("not a url")));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_digest_examples_reserved),
      cmocka_unit_test(test_digest_examples_allowed),
      cmocka_unit_test(test_unparsable_hub_url_reserves_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
