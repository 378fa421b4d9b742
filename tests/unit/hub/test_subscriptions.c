/* Active subscriptions: topic encoding, documents, the events published by
 * the hook, the registry the API reads, its cursor, recovery at start-up. */
#include <jansson.h>

#include "base/uuid.h"
#include "hub/hub_internal.h"
#include "hub/subscriptions.h"
#include "hub_test_util.h"

#define HUB_URL "https://hub.example/.well-known/mercure"

#define TOPICS_ARR(...) \
  ((const char *const[]){__VA_ARGS__}), (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *))

typedef struct {
  uv_loop_t loop;
  qs_subscriptions_t *subs;
  qs_hub_t *hub;
  qs_hub_shard_t *shard;
  bool shard_closed;
} fixture_t;

static void on_shard_closed(void *ctx) { *(bool *)ctx = true; }

static fixture_t *fixture_new(bool test_store) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_non_null(f);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  assert_int_equal(qs_subscriptions_create(HUB_URL, &f->subs), 0);
  qs_hub_settings_t settings = {.on_subscription = qs_subscriptions_on_subscription,
                                .on_subscription_ctx = f->subs};
  assert_int_equal(qs_hub_create(&settings, test_store ? open_test_store : open_memory_store, NULL, &f->hub),
                   0);
  assert_ptr_equal(qs_subscriptions_of(f->hub), f->subs);
  assert_int_equal(qs_hub_shard_create(f->hub, &f->loop, &f->shard), 0);
  return f;
}

static void fixture_close_shard(fixture_t *f) {
  if (!f->shard) return;
  qs_hub_shard_close(f->shard, on_shard_closed, &f->shard_closed);
  assert_true(run_until(&f->loop, &f->shard_closed, 2000));
  f->shard = NULL;
}

static void fixture_free(fixture_t *f) {
  fixture_close_shard(f);
  qs_hub_destroy(f->hub);
  qs_subscriptions_destroy(f->subs);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
}

/* ---- History helpers ---- */

#define MAX_SEEN 64

typedef struct {
  char *topic[MAX_SEEN];
  char *data[MAX_SEEN];
  char *id[MAX_SEEN];
  bool is_private[MAX_SEEN];
  char *type[MAX_SEEN];
  size_t count;
} seen_t;

static bool collect(void *ctx, qs_update_t *u) {
  seen_t *s = ctx;
  assert_true(s->count < MAX_SEEN);
  s->topic[s->count] = strndup(u->topics[0].ptr, u->topics[0].len);
  s->data[s->count] = strndup(u->data.ptr, u->data.len);
  s->id[s->count] = strndup(u->id.ptr, u->id.len);
  s->type[s->count] = strndup(u->type.ptr, u->type.len);
  s->is_private[s->count] = u->is_private;
  s->count++;
  return true;
}

static void history(qs_hub_t *hub, seen_t *s) {
  memset(s, 0, sizeof *s);
  qs_store_t *store = qs_hub_store(hub);
  if (qs_store_last_seq(store) == 0) return;
  assert_int_equal(
      qs_store_replay(store, qs_slice_from_cstr("earliest"), qs_store_last_seq(store), collect, s), 0);
}

static void seen_free(seen_t *s) {
  for (size_t i = 0; i < s->count; i++) {
    free(s->topic[i]);
    free(s->data[i]);
    free(s->id[i]);
    free(s->type[i]);
  }
  s->count = 0;
}

static json_t *parse(const char *text) {
  json_error_t err;
  json_t *j = json_loads(text, JSON_DECODE_ANY, &err);
  if (!j) fail_msg("not JSON (%s): %s", err.text, text);
  return j;
}

static const char *str_member(json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

static void assert_str(const char *got, const char *expected) {
  if (!got || strcmp(got, expected) != 0)
    fail_msg("got \"%s\", expected \"%s\"", got ? got : "(null)", expected);
}

/* Reads a snapshot into a JSON array (the documents) and the cursor. */
static int snapshot(fixture_t *f, const qs_subscriptions_query_t *q, size_t max, json_t **docs, char *cursor,
                    size_t cursor_size, bool *truncated) {
  qs_buf_t buf, cur;
  qs_buf_init(&buf, SIZE_MAX);
  qs_buf_init(&cur, SIZE_MAX);
  size_t count = 0;
  bool trunc = false;
  int rc = qs_subscriptions_snapshot(f->subs, f->hub, q, max, &buf, &count, &trunc, &cur);
  if (rc == 0) {
    qs_buf_t arr;
    qs_buf_init(&arr, SIZE_MAX);
    qs_buf_appendf(&arr, "[%s]", buf.ptr ? buf.ptr : "");
    *docs = parse(arr.ptr);
    assert_int_equal(json_array_size(*docs), count);
    qs_buf_dispose(&arr);
    snprintf(cursor, cursor_size, "%s", cur.ptr);
  }
  if (truncated) *truncated = trunc;
  qs_buf_dispose(&buf);
  qs_buf_dispose(&cur);
  return rc;
}

/* ---- Encoding, topics, documents ---- */

static void test_encode_percent_encodes_every_byte_but_unreserved_once(void **state) {
  qs_buf_t out;
  qs_buf_init(&out, 4096);
  assert_int_equal(qs_subscriptions_encode(qs_slice_from_cstr("Az09-._~ /:%2F+?#é*"), &out), 0);
  assert_str(out.ptr, "Az09-._~%20%2F%3A%252F%2B%3F%23%C3%A9%2A");
  qs_buf_dispose(&out);
}

static void test_topic_has_the_draft_shape_and_the_legacy_shape(void **state) {
  qs_subscriptions_t *s;
  assert_int_equal(qs_subscriptions_create("https://h.example:8443/hub/path?x=1", &s), 0);
  qs_buf_t out;
  qs_buf_init(&out, 4096);
  assert_int_equal(
      qs_subscriptions_topic(s, QS_MATCH_URLPATTERN, qs_slice_from_cstr("https://example.com/:selector"),
                             qs_slice_from_cstr("urn:uuid:bb3de268-05b0-4c65-b44e-8f9acefc29d6"), &out),
      0);
  assert_str(out.ptr,
             "/hub/path/subscriptions/urlpattern/https%3A%2F%2Fexample.com%2F%3Aselector/"
             "urn%3Auuid%3Abb3de268-05b0-4c65-b44e-8f9acefc29d6");
  qs_buf_reset(&out);
  assert_int_equal(qs_subscriptions_topic(s, QS_MATCH_LEGACY, qs_slice_from_cstr("access/42"),
                                          qs_slice_from_cstr("urn:uuid:5e94c686"), &out),
                   0);
  assert_str(out.ptr, "/hub/path/subscriptions/access%2F42/urn%3Auuid%3A5e94c686");
  qs_buf_dispose(&out);
  qs_subscriptions_destroy(s);
  assert_int_equal(qs_subscriptions_create("no-scheme", &s), QS_EINVAL);
}

static void test_document_has_the_draft_members_and_the_payload_when_present(void **state) {
  char *text = qs_subscriptions_document(qs_slice_from_cstr("/t"), QS_MATCH_EXACT,
                                         qs_slice_from_cstr("https://x/a"), qs_slice_from_cstr("urn:uuid:1"),
                                         true, qs_slice_from_cstr("{\"foo\":\"bar\"}"));
  assert_non_null(text);
  assert_str(text,
             "{\"id\":\"/t\",\"type\":\"subscription\",\"match_type\":\"exact\",\"match\":\"https://x/a\","
             "\"subscriber\":\"urn:uuid:1\",\"active\":true,\"payload\":{\"foo\":\"bar\"}}");
  free(text);
  text = qs_subscriptions_document(qs_slice_from_cstr("/t"), QS_MATCH_URLPATTERN, qs_slice_from_cstr("/b/*"),
                                   qs_slice_from_cstr("urn:uuid:1"), false, qs_slice(NULL, 0));
  assert_str(text,
             "{\"id\":\"/t\",\"type\":\"subscription\",\"match_type\":\"urlpattern\",\"match\":\"/b/*\","
             "\"subscriber\":\"urn:uuid:1\",\"active\":false}");
  free(text);
  /* Legacy: topic instead of match/match_type. */
  text = qs_subscriptions_document(qs_slice_from_cstr("/t"), QS_MATCH_LEGACY, qs_slice_from_cstr("access/42"),
                                   qs_slice_from_cstr("urn:uuid:1"), true, qs_slice_from_cstr("7"));
  assert_str(text,
             "{\"id\":\"/t\",\"type\":\"subscription\",\"subscriber\":\"urn:uuid:1\",\"topic\":\"access/42\","
             "\"active\":true,\"payload\":7}");
  free(text);
}

/* ---- The hook, the events and the registry ---- */

static void test_start_and_end_publish_one_private_mercure_event_per_matcher(void **state) {
  fixture_t *f = fixture_new(false);
  qs_grants_t *g = qs_grants_create_empty();
  assert_int_equal(qs_grants_add_subscribe(g, make_matcher(QS_MATCH_EXACT, "https://x/a"),
                                           qs_slice_from_cstr("{\"foo\":\"bar\"}")),
                   0);
  fake_conn_t *a = fake_conn_new();
  assert_int_equal(subscribe_conn(f->shard, a, qs_grants_retain(g), NULL,
                                  TOPICS_ARR("exact:https://x/a", "topic:access/42")),
                   0);
  qs_hub_subscriber_start(a->sub);
  assert_int_equal(qs_subscriptions_count(f->subs), 2);

  seen_t s;
  history(f->hub, &s);
  assert_int_equal(s.count, 2);
  json_t *d0 = parse(s.data[0]), *d1 = parse(s.data[1]);
  const char *subscriber = str_member(d0, "subscriber");
  assert_non_null(subscriber);
  assert_int_equal(strncmp(subscriber, "urn:uuid:", 9), 0);
  assert_int_equal(strlen(subscriber), QS_UUID_URN_LEN);
  assert_str(str_member(d1, "subscriber"), subscriber); /* one identifier per connection */
  for (size_t i = 0; i < 2; i++) {
    assert_true(s.is_private[i]);
    /* The legacy-form event (second) has no type: 0.x clients use onmessage. */
    assert_str(s.type[i], i ? "" : "mercure");
    assert_str(str_member(i ? d1 : d0, "id"), s.topic[i]); /* id == topic */
  }
  assert_str(str_member(d0, "match_type"), "exact");
  assert_str(str_member(d0, "match"), "https://x/a");
  assert_str(str_member(json_object_get(d0, "payload"), "foo"), "bar");
  assert_str(str_member(d1, "topic"), "access/42");
  assert_null(json_object_get(d1, "payload")); /* no grant matches access/42 */
  assert_true(strncmp(s.topic[1], "/.well-known/mercure/subscriptions/access%2F42/urn%3Auuid%3A", 60) == 0);
  char first_subscriber[64];
  snprintf(first_subscriber, sizeof first_subscriber, "%s", subscriber);
  json_decref(d0);
  json_decref(d1);
  seen_free(&s);

  /* A second connection with the same token gets another identifier. */
  fake_conn_t *b = fake_conn_new();
  assert_int_equal(subscribe_conn(f->shard, b, qs_grants_retain(g), NULL, TOPICS_ARR("exact:https://x/a")),
                   0);
  qs_hub_subscriber_start(b->sub);
  history(f->hub, &s);
  assert_int_equal(s.count, 3);
  json_t *d2 = parse(s.data[2]);
  if (strcmp(str_member(d2, "subscriber"), first_subscriber) == 0) fail_msg("identifier reused");
  json_decref(d2);
  seen_free(&s);

  qs_hub_unsubscribe(a->sub);
  a->sub = NULL;
  assert_int_equal(qs_subscriptions_count(f->subs), 1);
  history(f->hub, &s);
  assert_int_equal(s.count, 5);
  for (size_t i = 3; i < 5; i++) {
    json_t *d = parse(s.data[i]);
    assert_true(json_is_false(json_object_get(d, "active")));
    assert_str(str_member(d, "subscriber"), first_subscriber);
    assert_str(s.topic[i], s.topic[i - 3]);
    json_decref(d);
  }
  seen_free(&s);
  qs_grants_release(g);
  fake_conn_free(a);
  fake_conn_free(b);
  fixture_free(f);
}

static void test_a_watcher_receives_the_events_its_grants_allow(void **state) {
  fixture_t *f = fixture_new(false);
  fake_conn_t *watcher = fake_conn_new(), *outsider = fake_conn_new(), *a = fake_conn_new();
  qs_grants_t *allowed = qs_grants_create_empty();
  assert_int_equal(qs_grants_add_subscribe(
                       allowed, make_matcher(QS_MATCH_URLPATTERN, "/.well-known/mercure/subscriptions/*"),
                       qs_slice(NULL, 0)),
                   0);
  assert_int_equal(subscribe_conn(f->shard, watcher, allowed, NULL,
                                  TOPICS_ARR("urlpattern:/.well-known/mercure/subscriptions/*")),
                   0);
  assert_int_equal(subscribe_conn(f->shard, outsider, NULL, NULL,
                                  TOPICS_ARR("urlpattern:/.well-known/mercure/subscriptions/*")),
                   0);
  qs_hub_subscriber_start(watcher->sub);
  qs_hub_subscriber_start(outsider->sub);
  assert_int_equal(subscribe_conn(f->shard, a, NULL, NULL, TOPICS_ARR("exact:https://x/a")), 0);
  qs_hub_subscriber_start(a->sub);
  qs_hub_unsubscribe(a->sub);
  a->sub = NULL;
  run_for(&f->loop, 20);
  /* Its own start (it is allowed), the outsider's start, a's start and a's end. */
  assert_int_equal(watcher->count, 4);
  assert_int_equal(outsider->count, 0); /* private: no grant */
  fake_conn_free(watcher);
  fake_conn_free(outsider);
  fake_conn_free(a);
  fixture_free(f);
}

static void test_snapshot_lists_filters_and_finds_with_the_newest_id_as_cursor(void **state) {
  fixture_t *f = fixture_new(false);
  fake_conn_t *a = fake_conn_new(), *b = fake_conn_new();
  char cursor[128];
  json_t *docs = NULL;
  qs_subscriptions_query_t all = {.scope = QS_SUBSCRIPTIONS_ALL};
  assert_int_equal(snapshot(f, &all, 100, &docs, cursor, sizeof cursor, NULL), 0);
  assert_int_equal(json_array_size(docs), 0);
  assert_str(cursor, "earliest");
  json_decref(docs);

  assert_int_equal(
      subscribe_conn(f->shard, a, NULL, NULL, TOPICS_ARR("exact:https://x/a", "urlpattern:/b/*")), 0);
  qs_hub_subscriber_start(a->sub);
  assert_int_equal(subscribe_conn(f->shard, b, NULL, NULL, TOPICS_ARR("exact:https://x/a")), 0);
  qs_hub_subscriber_start(b->sub);
  seen_t s;
  history(f->hub, &s);
  assert_int_equal(s.count, 3);

  assert_int_equal(snapshot(f, &all, 100, &docs, cursor, sizeof cursor, NULL), 0);
  assert_int_equal(json_array_size(docs), 3);
  assert_str(cursor, s.id[2]);
  for (size_t i = 0; i < 3; i++)
    assert_str(str_member(json_array_get(docs, i), "id"), s.topic[i]); /* start order */
  json_t *ev = parse(s.data[1]);
  char a_subscriber[64];
  snprintf(a_subscriber, sizeof a_subscriber, "%s", str_member(ev, "subscriber"));
  json_decref(ev);
  json_decref(docs);

  bool truncated = false;
  assert_int_equal(snapshot(f, &all, 2, &docs, cursor, sizeof cursor, &truncated), 0);
  assert_int_equal(json_array_size(docs), 2);
  assert_true(truncated);
  json_decref(docs);

  qs_subscriptions_query_t by_match = {
      .scope = QS_SUBSCRIPTIONS_MATCH, .type = QS_MATCH_EXACT, .match = qs_slice_from_cstr("https://x/a")};
  assert_int_equal(snapshot(f, &by_match, 100, &docs, cursor, sizeof cursor, NULL), 0);
  assert_int_equal(json_array_size(docs), 2);
  json_decref(docs);
  by_match.type = QS_MATCH_URLPATTERN; /* the type is part of the filter */
  assert_int_equal(snapshot(f, &by_match, 100, &docs, cursor, sizeof cursor, NULL), 0);
  assert_int_equal(json_array_size(docs), 0);
  json_decref(docs);

  qs_subscriptions_query_t one = {.scope = QS_SUBSCRIPTIONS_ONE,
                                  .type = QS_MATCH_URLPATTERN,
                                  .match = qs_slice_from_cstr("/b/*"),
                                  .subscriber = qs_slice_from_cstr(a_subscriber)};
  assert_int_equal(snapshot(f, &one, 100, &docs, cursor, sizeof cursor, NULL), 0);
  assert_int_equal(json_array_size(docs), 1);
  assert_str(str_member(json_array_get(docs, 0), "id"), s.topic[1]);
  json_decref(docs);
  one.match = qs_slice_from_cstr("/c/*");
  assert_int_equal(snapshot(f, &one, 100, &docs, cursor, sizeof cursor, NULL), QS_ENOTFOUND);

  qs_hub_unsubscribe(a->sub);
  a->sub = NULL;
  one.match = qs_slice_from_cstr("/b/*");
  assert_int_equal(snapshot(f, &one, 100, &docs, cursor, sizeof cursor, NULL), QS_ENOTFOUND);
  assert_int_equal(snapshot(f, &all, 100, &docs, cursor, sizeof cursor, NULL), 0);
  assert_int_equal(json_array_size(docs), 1);
  json_decref(docs);
  seen_free(&s);
  history(f->hub, &s);
  assert_str(cursor, s.id[s.count - 1]); /* a's last end event */
  seen_free(&s);
  fake_conn_free(a);
  fake_conn_free(b);
  fixture_free(f);
}

static void test_snapshot_waits_until_the_events_it_reflects_are_durable(void **state) {
  fixture_t *f = fixture_new(true); /* appends are held until flushed */
  test_store_t *store = (test_store_t *)qs_hub_store(f->hub);
  fake_conn_t *a = fake_conn_new();
  assert_int_equal(subscribe_conn(f->shard, a, NULL, NULL, TOPICS_ARR("exact:https://x/a")), 0);
  qs_hub_subscriber_start(a->sub);
  qs_buf_t docs, cursor;
  qs_buf_init(&docs, SIZE_MAX);
  qs_buf_init(&cursor, SIZE_MAX);
  size_t count;
  bool truncated;
  qs_subscriptions_query_t all = {.scope = QS_SUBSCRIPTIONS_ALL};
  assert_int_equal(qs_subscriptions_snapshot(f->subs, f->hub, &all, 10, &docs, &count, &truncated, &cursor),
                   QS_EBUSY);
  test_store_flush(store);
  assert_int_equal(qs_subscriptions_snapshot(f->subs, f->hub, &all, 10, &docs, &count, &truncated, &cursor),
                   0);
  assert_int_equal(count, 1);
  qs_buf_dispose(&docs);
  qs_buf_dispose(&cursor);
  qs_hub_unsubscribe(a->sub);
  a->sub = NULL;
  test_store_flush(store);
  run_for(&f->loop, 10);
  fake_conn_free(a);
  fixture_free(f);
}

static void test_shutdown_empties_the_registry_without_events(void **state) {
  fixture_t *f = fixture_new(false);
  fake_conn_t *a = fake_conn_new();
  assert_int_equal(subscribe_conn(f->shard, a, NULL, NULL, TOPICS_ARR("exact:https://x/a")), 0);
  qs_hub_subscriber_start(a->sub);
  fixture_close_shard(f);
  assert_int_equal(qs_subscriptions_count(f->subs), 0);
  seen_t s;
  history(f->hub, &s);
  assert_int_equal(s.count, 1); /* the start only: a closing shard publishes nothing */
  seen_free(&s);

  /* The next start (same history) ends what the previous run left active. */
  size_t ended = 0;
  assert_int_equal(qs_subscriptions_recover(f->subs, f->hub, &ended), 0);
  assert_int_equal(ended, 1);
  history(f->hub, &s);
  assert_int_equal(s.count, 2);
  assert_str(s.topic[1], s.topic[0]);
  assert_str(s.type[1], "mercure");
  assert_true(s.is_private[1]);
  json_t *start = parse(s.data[0]), *end = parse(s.data[1]);
  assert_true(json_is_false(json_object_get(end, "active")));
  json_object_set_new(start, "active", json_false());
  assert_true(json_equal(start, end)); /* the same document, ended */
  json_decref(start);
  json_decref(end);
  seen_free(&s);
  /* Nothing is left open: a second recovery does nothing. */
  assert_int_equal(qs_subscriptions_recover(f->subs, f->hub, &ended), 0);
  assert_int_equal(ended, 0);
  fake_conn_free(a);
  fixture_free(f);
}

static void test_recovery_ignores_ended_subscriptions_and_other_updates(void **state) {
  fixture_t *f = fixture_new(false);
  fake_conn_t *a = fake_conn_new();
  assert_int_equal(subscribe_conn(f->shard, a, NULL, NULL, TOPICS_ARR("exact:https://x/a")), 0);
  qs_hub_subscriber_start(a->sub);
  qs_hub_unsubscribe(a->sub);
  a->sub = NULL;
  fixture_close_shard(f);
  size_t ended = 7;
  assert_int_equal(qs_subscriptions_recover(f->subs, f->hub, &ended), 0);
  assert_int_equal(ended, 0);
  fake_conn_free(a);
  fixture_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_encode_percent_encodes_every_byte_but_unreserved_once),
      cmocka_unit_test(test_topic_has_the_draft_shape_and_the_legacy_shape),
      cmocka_unit_test(test_document_has_the_draft_members_and_the_payload_when_present),
      cmocka_unit_test(test_start_and_end_publish_one_private_mercure_event_per_matcher),
      cmocka_unit_test(test_a_watcher_receives_the_events_its_grants_allow),
      cmocka_unit_test(test_snapshot_lists_filters_and_finds_with_the_newest_id_as_cursor),
      cmocka_unit_test(test_snapshot_waits_until_the_events_it_reflects_are_durable),
      cmocka_unit_test(test_shutdown_empties_the_registry_without_events),
      cmocka_unit_test(test_recovery_ignores_ended_subscriptions_and_other_updates),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
