/* The publish and subscribe parameter rules of the Mercure draft, through
 * the functions the endpoints use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "api/publish_fields.h"
#include "api/subscribe_params.h"

static const qs_publish_limits_t limits = {.max_topics = 3,
                                           .max_topic_bytes = 64,
                                           .max_field_bytes = 64,
                                           .hub_url = {"https://hub.example.com/.well-known/mercure", 43}};

static qs_form_pair_t pair(const char *name, const char *value) {
  return (qs_form_pair_t){qs_slice_from_cstr(name), qs_slice_from_cstr(value)};
}

/* Runs collect then validate; returns 0 or the refusal status. */
static int publish_status(const qs_form_pair_t *fields, size_t n, qs_publish_fields_t *out) {
  qs_api_refusal_t refusal = {0};
  qs_publish_fields_t local;
  qs_publish_fields_t *f = out ? out : &local;
  int status = 0;
  if (qs_publish_fields_collect(fields, n, &limits, f, &refusal) != 0 ||
      qs_publish_fields_validate(f, &limits, &refusal) != 0) {
    assert_non_null(refusal.reason);
    status = refusal.status;
  }
  if (!out || status) qs_publish_fields_dispose(f);
  return status;
}

static void symfony_publish_is_accepted(void **state) {
  (void)state;
  qs_form_pair_t fields[] = {pair("topic", "access/42"), pair("data", "{\"a\":1}"), pair("private", "on"),
                             pair("unknown", "ignored")};
  qs_publish_fields_t f;
  assert_int_equal(publish_status(fields, 4, &f), 0);
  assert_int_equal(f.topic_count, 1);
  assert_true(f.is_private);
  assert_int_equal(f.id.len, 0);
  assert_memory_equal(f.data.ptr, "{\"a\":1}", f.data.len);
  qs_publish_fields_dispose(&f);
}

static void private_is_decided_by_presence_alone(void **state) {
  (void)state;
  qs_form_pair_t fields[] = {pair("topic", "a"), pair("private", "")};
  qs_publish_fields_t f;
  assert_int_equal(publish_status(fields, 2, &f), 0);
  assert_true(f.is_private);
  qs_publish_fields_dispose(&f);
}

static void first_value_wins_and_topics_repeat(void **state) {
  (void)state;
  qs_form_pair_t fields[] = {pair("topic", "a"), pair("id", "first"), pair("topic", "b"),
                             pair("id", "second"), pair("retry", "5000")};
  qs_publish_fields_t f;
  assert_int_equal(publish_status(fields, 5, &f), 0);
  assert_int_equal(f.topic_count, 2);
  assert_memory_equal(f.id.ptr, "first", 5);
  assert_int_equal(f.retry_ms, 5000);
  qs_publish_fields_dispose(&f);
}

static void bad_publishes_get_the_status_the_draft_names(void **state) {
  (void)state;
  struct {
    qs_form_pair_t fields[5];
    size_t n;
    int status;
  } cases[] = {
      {{pair("data", "x")}, 1, 400},                                         /* no topic */
      {{pair("topic", "*")}, 1, 400},                                        /* the wildcard */
      {{pair("topic", "a\nb")}, 1, 400},                                     /* control character */
      {{pair("topic", "a"), pair("id", "#frag")}, 2, 400},                   /* id starting with # */
      {{pair("topic", "a"), pair("id", "earliest")}, 2, 400},                /* reserved id */
      {{pair("topic", "a"), pair("type", "mercure")}, 2, 400},               /* reserved type */
      {{pair("topic", "a"), pair("type", "a\rb")}, 2, 400},                  /* type injection */
      {{pair("topic", "a"), pair("retry", "12a")}, 2, 400},                  /* retry not digits */
      {{pair("topic", "a"), pair("retry", "99999999999999999999")}, 2, 400}, /* overflow */
      {{pair("topic", "a"), pair("data", "\xff")}, 2, 400},                  /* data not UTF-8 */
      {{pair("topic", "a"), pair("topic", "b"), pair("topic", "c"), pair("topic", "d")},
       4,
       400}, /* a count, not a body size */
      {{pair("topic", "0123456789012345678901234567890123456789012345678901234567890123456789")}, 1, 400},
      {{pair("topic", "/.well-known/mercure/subscriptions/x")}, 1, 400}, /* reserved namespace */
      {{pair("topic", "mercure")}, 1, 400},                              /* resolves into it */
      {{pair("topic", "")}, 1, 400},                                     /* resolves to the hub itself */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int status = publish_status(cases[i].fields, cases[i].n, NULL);
    if (status != cases[i].status) fail_msg("case %zu: status %d, expected %d", i, status, cases[i].status);
  }
}

static const qs_match_options_t match_options = {
    .hub_url = {"https://hub.example.com/.well-known/mercure", 43}, .max_pattern_bytes = 64};

static int subscribe_status(const qs_form_pair_t *fields, size_t n, qs_slice_t header, bool has_header,
                            qs_subscribe_params_t *out) {
  qs_api_refusal_t refusal = {0};
  qs_subscribe_params_t local;
  qs_subscribe_params_t *p = out ? out : &local;
  int status = 0;
  if (qs_subscribe_params_parse(fields, n, header, has_header, 3, &match_options, p, &refusal) != 0)
    status = refusal.status;
  if (!out || status) qs_subscribe_params_dispose(p);
  return status;
}

static void legacy_and_draft_selectors_mix(void **state) {
  (void)state;
  qs_form_pair_t fields[] = {pair("topic", "access/42"), pair("match", "https://example.com/a"),
                             pair("lastEventID", "legacy"), pair("authorization", "tok")};
  qs_subscribe_params_t p;
  assert_int_equal(subscribe_status(fields, 4, qs_slice(NULL, 0), false, &p), 0);
  assert_int_equal(p.matcher_count, 2);
  assert_true(p.legacy);
  assert_true(p.has_cursor);
  assert_memory_equal(p.last_event_id.ptr, "legacy", 6);
  assert_memory_equal(p.authorization.ptr, "tok", 3);
  assert_int_equal(qs_matcher_type(p.matchers[1]), QS_MATCH_EXACT);
  qs_subscribe_params_dispose(&p);
}

static void cursor_precedence_header_then_query_then_legacy(void **state) {
  (void)state;
  qs_form_pair_t fields[] = {pair("match", "a"), pair("lastEventID", "legacy"),
                             pair("last_event_id", "draft")};
  qs_subscribe_params_t p;
  assert_int_equal(subscribe_status(fields, 3, qs_slice_from_cstr("header"), true, &p), 0);
  assert_memory_equal(p.last_event_id.ptr, "header", 6);
  qs_subscribe_params_dispose(&p);
  /* An empty header counts as absent for the value but still asks for the field. */
  assert_int_equal(subscribe_status(fields, 3, qs_slice_from_cstr(""), true, &p), 0);
  assert_int_equal(p.last_event_id.len, 5);
  assert_memory_equal(p.last_event_id.ptr, "draft", 5);
  qs_subscribe_params_dispose(&p);
  assert_int_equal(subscribe_status(fields, 2, qs_slice(NULL, 0), false, &p), 0);
  assert_memory_equal(p.last_event_id.ptr, "legacy", 6);
  qs_subscribe_params_dispose(&p);
  /* event-source-polyfill's default parameter name. */
  qs_form_pair_t polyfill[] = {pair("topic", "a"), pair("lastEventId", "from-polyfill")};
  assert_int_equal(subscribe_status(polyfill, 2, qs_slice(NULL, 0), false, &p), 0);
  assert_true(p.has_cursor);
  assert_int_equal(p.last_event_id.len, 13);
  qs_subscribe_params_dispose(&p);
}

static void bad_subscriptions_get_400(void **state) {
  (void)state;
  struct {
    qs_form_pair_t fields[4];
    size_t n;
  } cases[] = {
      {{pair("last_event_id", "x")}, 1},             /* no matcher */
      {{pair("match", "a"), pair("Match", "b")}, 2}, /* reserved prefix */
      {{pair("matches", "a")}, 1},                   /* reserved prefix */
      {{pair("match_regex", "a")}, 1},               /* unsupported type */
      {{pair("match_URLPattern", "a")}, 1},          /* not the canonical name */
      {{pair("match", "a\x01")}, 1},                 /* control character */
      {{pair("match", "a"), pair("match", "b"), pair("match", "c"), pair("topic", "d")}, 4}, /* too many */
      {{pair("match", "0123456789012345678901234567890123456789012345678901234567890123456789")}, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int status = subscribe_status(cases[i].fields, cases[i].n, qs_slice(NULL, 0), false, NULL);
    if (status != 400) fail_msg("case %zu: status %d, expected 400", i, status);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(symfony_publish_is_accepted),
      cmocka_unit_test(private_is_decided_by_presence_alone),
      cmocka_unit_test(first_value_wins_and_topics_repeat),
      cmocka_unit_test(bad_publishes_get_the_status_the_draft_names),
      cmocka_unit_test(legacy_and_draft_selectors_mix),
      cmocka_unit_test(cursor_precedence_header_then_query_then_legacy),
      cmocka_unit_test(bad_subscriptions_get_400),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
