/* The hub on one loop: delivery, filtering, replay, acknowledgement, slow
 * subscribers, heartbeats, expiry, subscribers closed during a fan-out,
 * shutdown. */
#include "hub/hub_internal.h"
#include "hub_test_util.h"

typedef struct {
  uv_loop_t loop;
  qs_hub_t *hub;
  qs_hub_shard_t *shard;
  bool shard_closed;
  test_store_t *test_store; /* when the fixture uses the test store */
} fixture_t;

typedef struct {
  int calls;
  int status;
  uint64_t seq;
  bool done;
} ack_t;

static void on_published(void *ctx, qs_update_t *update, int status) {
  ack_t *a = ctx;
  a->calls++;
  a->status = status;
  a->seq = update->seq;
  a->done = true;
}

static void on_shard_closed(void *ctx) { *(bool *)ctx = true; }

static fixture_t *fixture_new(const qs_hub_settings_t *settings, bool test_store) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_non_null(f);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  qs_hub_settings_t defaults = {0};
  assert_int_equal(qs_hub_create(settings ? settings : &defaults,
                                 test_store ? open_test_store : open_memory_store, NULL, &f->hub),
                   0);
  if (test_store) f->test_store = (test_store_t *)qs_hub_store(f->hub);
  assert_int_equal(qs_hub_shard_create(f->hub, &f->loop, &f->shard), 0);
  return f;
}

static void fixture_free(fixture_t *f) {
  qs_hub_shard_close(f->shard, on_shard_closed, &f->shard_closed);
  assert_true(run_until(&f->loop, &f->shard_closed, 2000));
  qs_hub_destroy(f->hub);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
}

/* Publishes and waits for the acknowledgement; returns its status. */
static int publish(fixture_t *f, const char *id, const char *const *topics, size_t n, bool is_private) {
  qs_update_t *u = make_update(id, topics, n, is_private);
  ack_t ack = {0};
  int rc = qs_hub_publish(f->shard, u, on_published, &ack);
  if (rc == 0) {
    assert_true(run_until(&f->loop, &ack.done, 2000));
    assert_int_equal(ack.calls, 1);
    rc = ack.status;
  }
  qs_update_release(u);
  return rc;
}

#define TOPICS(...) \
  ((const char *const[]){__VA_ARGS__}), (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *))

static void assert_ids(const fake_conn_t *c, const char *expected) {
  char buf[4096];
  const char *got = fake_ids(c, buf, sizeof buf);
  if (strcmp(got, expected) != 0) fail_msg("ids: got \"%s\", expected \"%s\"", got, expected);
}

static void test_exact_and_wildcard_subscribers_receive_matching_updates_only(void **state) {
  fixture_t *f = fixture_new(NULL, false);
  fake_conn_t *a = fake_conn_new(), *b = fake_conn_new(), *all = fake_conn_new(), *tpl = fake_conn_new(),
              *up = fake_conn_new();
  assert_int_equal(subscribe_conn(f->shard, a, NULL, NULL, TOPICS("exact:https://x/a")), 0);
  assert_int_equal(subscribe_conn(f->shard, b, NULL, NULL, TOPICS("exact:https://x/b")), 0);
  assert_int_equal(subscribe_conn(f->shard, all, NULL, NULL, TOPICS("*")), 0);
  assert_int_equal(subscribe_conn(f->shard, tpl, NULL, NULL, TOPICS("topic:https://x/books/{id}")), 0);
  assert_int_equal(subscribe_conn(f->shard, up, NULL, NULL, TOPICS("urlpattern:https://x/books/*")), 0);
  qs_hub_subscriber_start(a->sub);
  qs_hub_subscriber_start(b->sub);
  qs_hub_subscriber_start(all->sub);
  qs_hub_subscriber_start(tpl->sub);
  qs_hub_subscriber_start(up->sub);

  assert_int_equal(publish(f, "1", TOPICS("https://x/a"), false), 0);
  assert_int_equal(publish(f, "2", TOPICS("https://x/c"), false), 0);
  assert_int_equal(publish(f, "3", TOPICS("https://x/c", "https://x/b"), false), 0);
  assert_int_equal(publish(f, "4", TOPICS("https://x/books/7"), false), 0);

  assert_ids(a, "1");
  assert_ids(b, "3");
  assert_ids(all, "1,2,3,4");
  assert_ids(tpl, "4");
  assert_ids(up, "4");
  qs_hub_stats_t st;
  qs_hub_stats(f->hub, &st);
  assert_int_equal(st.subscribers_connected, 5);
  assert_int_equal(st.updates_total, 4);
  assert_int_equal(st.deliveries_total, 8);
  fake_conn_free(a);
  fake_conn_free(b);
  fake_conn_free(all);
  fake_conn_free(tpl);
  fake_conn_free(up);
  qs_hub_stats(f->hub, &st);
  assert_int_equal(st.subscribers_connected, 0);
  assert_int_equal(st.subscribers_total, 5);
  fixture_free(f);
}

static void test_private_updates_reach_only_granted_subscribers(void **state) {
  fixture_t *f = fixture_new(NULL, false);
  fake_conn_t *anon = fake_conn_new(), *granted = fake_conn_new(), *other = fake_conn_new();
  assert_int_equal(subscribe_conn(f->shard, anon, NULL, NULL, TOPICS("*")), 0);
  assert_int_equal(
      subscribe_conn(f->shard, granted, make_grants(TOPICS("https://x/secret")), NULL, TOPICS("*")), 0);
  assert_int_equal(subscribe_conn(f->shard, other, make_grants(TOPICS("https://x/else")), NULL,
                                  TOPICS("exact:https://x/secret")),
                   0);
  qs_hub_subscriber_start(anon->sub);
  qs_hub_subscriber_start(granted->sub);
  qs_hub_subscriber_start(other->sub);

  assert_int_equal(publish(f, "p1", TOPICS("https://x/secret"), true), 0);
  /* A grant on an alternate topic is enough (§Authorization: at least one topic). */
  assert_int_equal(publish(f, "p2", TOPICS("https://x/public", "https://x/secret"), true), 0);
  assert_int_equal(publish(f, "pub", TOPICS("https://x/secret"), false), 0);

  assert_ids(anon, "pub");
  assert_ids(granted, "p1,p2,pub");
  assert_ids(other, "pub");
  fake_conn_free(anon);
  fake_conn_free(granted);
  fake_conn_free(other);
  fixture_free(f);
}

static void test_update_matching_several_matchers_is_delivered_once(void **state) {
  fixture_t *f = fixture_new(NULL, false);
  fake_conn_t *c = fake_conn_new(), *w = fake_conn_new();
  assert_int_equal(subscribe_conn(f->shard, c, NULL, NULL,
                                  TOPICS("exact:https://x/a", "exact:https://x/b", "exact:https://x/a",
                                         "topic:https://x/{x}", "urlpattern:https://x/*")),
                   0);
  assert_int_equal(subscribe_conn(f->shard, w, NULL, NULL, TOPICS("exact:https://x/a", "*")), 0);
  qs_hub_subscriber_start(c->sub);
  qs_hub_subscriber_start(w->sub);
  assert_int_equal(publish(f, "1", TOPICS("https://x/a", "https://x/b"), false), 0);
  assert_int_equal(publish(f, "2", TOPICS("https://x/b"), false), 0);
  assert_ids(c, "1,2");
  assert_ids(w, "1,2");
  fake_conn_free(c);
  fake_conn_free(w);
  fixture_free(f);
}

static void test_replay_after_id_then_live_without_gap_or_duplicate(void **state) {
  fixture_t *f = fixture_new(NULL, false);
  for (int i = 1; i <= 5; i++) {
    char id[8];
    snprintf(id, sizeof id, "%d", i);
    assert_int_equal(publish(f, id, TOPICS(i % 2 ? "https://x/a" : "https://x/b"), false), 0);
  }
  fake_conn_t *c = fake_conn_new();
  assert_int_equal(subscribe_conn(f->shard, c, NULL, "2", TOPICS("exact:https://x/a")), 0);
  assert_int_equal(qs_hub_subscriber_cursor(c->sub), QS_HUB_CURSOR_FOUND);
  assert_int_equal(qs_hub_subscriber_replayed(c->sub), 2);
  /* Nothing is written before the caller has sent its headers... */
  assert_int_equal(c->count, 0);
  /* ...and a live update published in between joins after the replay. */
  qs_update_t *u = make_update("7", TOPICS("https://x/a"), false);
  ack_t ack = {0};
  assert_int_equal(qs_hub_publish(f->shard, u, on_published, &ack), 0);
  assert_true(run_until(&f->loop, &ack.done, 2000));
  qs_update_release(u);
  assert_int_equal(c->count, 0);
  qs_hub_subscriber_start(c->sub);
  assert_ids(c, "3,5,7");
  assert_int_equal(publish(f, "9", TOPICS("https://x/a"), false), 0);
  assert_ids(c, "3,5,7,9");
  fake_conn_free(c);
  fixture_free(f);
}

static void test_replay_rechecks_private_updates_against_current_grants(void **state) {
  fixture_t *f = fixture_new(NULL, false);
  assert_int_equal(publish(f, "1", TOPICS("https://x/a"), false), 0);
  assert_int_equal(publish(f, "2", TOPICS("https://x/a"), true), 0);
  assert_int_equal(publish(f, "3", TOPICS("https://x/a"), false), 0);
  fake_conn_t *anon = fake_conn_new(), *granted = fake_conn_new();
  assert_int_equal(subscribe_conn(f->shard, anon, NULL, "earliest", TOPICS("*")), 0);
  assert_int_equal(
      subscribe_conn(f->shard, granted, make_grants(TOPICS("https://x/a")), "earliest", TOPICS("*")), 0);
  assert_int_equal(qs_hub_subscriber_cursor(anon->sub), QS_HUB_CURSOR_EARLIEST);
  qs_hub_subscriber_start(anon->sub);
  qs_hub_subscriber_start(granted->sub);
  assert_ids(anon, "1,3");
  assert_ids(granted, "1,2,3");
  fake_conn_free(anon);
  fake_conn_free(granted);
  fixture_free(f);
}

static void test_unknown_or_empty_cursor_answers_earliest_and_replays_nothing(void **state) {
  fixture_t *f = fixture_new(NULL, false);
  assert_int_equal(publish(f, "1", TOPICS("https://x/a"), false), 0);
  fake_conn_t *unknown = fake_conn_new(), *empty = fake_conn_new(), *none = fake_conn_new();
  assert_int_equal(subscribe_conn(f->shard, unknown, NULL, "nope", TOPICS("*")), 0);
  assert_int_equal(subscribe_conn(f->shard, empty, NULL, "", TOPICS("*")), 0);
  assert_int_equal(subscribe_conn(f->shard, none, NULL, NULL, TOPICS("*")), 0);
  assert_int_equal(qs_hub_subscriber_cursor(unknown->sub), QS_HUB_CURSOR_EARLIEST);
  assert_int_equal(qs_hub_subscriber_cursor(empty->sub), QS_HUB_CURSOR_EARLIEST);
  assert_int_equal(qs_hub_subscriber_cursor(none->sub), QS_HUB_CURSOR_NONE);
  assert_int_equal(qs_hub_subscriber_replayed(unknown->sub), 0);
  qs_hub_subscriber_start(unknown->sub);
  qs_hub_subscriber_start(empty->sub);
  qs_hub_subscriber_start(none->sub);
  assert_int_equal(publish(f, "2", TOPICS("https://x/a"), false), 0);
  assert_ids(unknown, "2");
  assert_ids(empty, "2");
  assert_ids(none, "2");
  fake_conn_free(unknown);
  fake_conn_free(empty);
  fake_conn_free(none);
  fixture_free(f);
}

static void test_on_published_waits_for_durability_and_store_failure_delivers_nothing(void **state) {
  fixture_t *f = fixture_new(NULL, true);
  fake_conn_t *c = fake_conn_new();
  assert_int_equal(subscribe_conn(f->shard, c, NULL, NULL, TOPICS("*")), 0);
  qs_hub_subscriber_start(c->sub);

  qs_update_t *u = make_update("1", TOPICS("https://x/a"), false);
  ack_t ack = {0};
  assert_int_equal(qs_hub_publish(f->shard, u, on_published, &ack), 0);
  assert_int_equal(u->seq, 1);
  run_for(&f->loop, 20);
  assert_int_equal(ack.calls, 0); /* not durable yet */
  assert_int_equal(c->count, 0);
  test_store_flush(f->test_store);
  assert_true(run_until(&f->loop, &ack.done, 2000));
  assert_int_equal(ack.status, 0);
  assert_int_equal(ack.seq, 1);
  assert_ids(c, "1");
  qs_update_release(u);

  f->test_store->fail_status = QS_EIO;
  u = make_update("2", TOPICS("https://x/a"), false);
  ack = (ack_t){0};
  assert_int_equal(qs_hub_publish(f->shard, u, on_published, &ack), 0);
  test_store_flush(f->test_store);
  assert_true(run_until(&f->loop, &ack.done, 2000));
  assert_int_equal(ack.status, QS_EIO);
  assert_ids(c, "1");
  qs_update_release(u);

  /* A synchronous append failure returns the error and never calls back. */
  f->test_store->append_rc = QS_EFULL;
  u = make_update("3", TOPICS("https://x/a"), false);
  ack = (ack_t){0};
  assert_int_equal(qs_hub_publish(f->shard, u, on_published, &ack), QS_EFULL);
  assert_int_equal(u->seq, 0);
  run_for(&f->loop, 10);
  assert_int_equal(ack.calls, 0);
  qs_update_release(u);
  fake_conn_free(c);
  fixture_free(f);
}

static void test_sequence_continues_after_the_store_last_seq(void **state) {
  qs_hub_settings_t settings = {0};
  uint64_t start = 41;
  qs_hub_t *hub;
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(qs_hub_create(&settings, open_test_store, &start, &hub), 0);
  qs_hub_shard_t *shard;
  assert_int_equal(qs_hub_shard_create(hub, &loop, &shard), 0);
  qs_update_t *u = make_update("x", TOPICS("t"), false);
  ack_t ack = {0};
  assert_int_equal(qs_hub_publish(shard, u, on_published, &ack), 0);
  assert_int_equal(u->seq, 42);
  assert_int_equal(qs_hub_publish(shard, u, on_published, &ack), QS_EINVAL); /* seq already set */
  test_store_flush((test_store_t *)qs_hub_store(hub));
  assert_true(run_until(&loop, &ack.done, 2000));
  qs_update_release(u);
  bool closed = false;
  qs_hub_shard_close(shard, on_shard_closed, &closed);
  assert_true(run_until(&loop, &closed, 2000));
  qs_hub_destroy(hub);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_slow_subscriber_is_disconnected_past_the_hard_limit(void **state) {
  qs_hub_settings_t settings = {.max_queued_bytes = 1000};
  fixture_t *f = fixture_new(&settings, false);
  fake_conn_t *slow = fake_conn_new(), *fast = fake_conn_new();
  slow->queue_per_write = 400;
  assert_int_equal(subscribe_conn(f->shard, slow, NULL, NULL, TOPICS("*")), 0);
  assert_int_equal(subscribe_conn(f->shard, fast, NULL, NULL, TOPICS("*")), 0);
  qs_hub_subscriber_start(slow->sub);
  qs_hub_subscriber_start(fast->sub);
  for (int i = 1; i <= 5; i++) {
    char id[8];
    snprintf(id, sizeof id, "%d", i);
    assert_int_equal(publish(f, id, TOPICS("https://x/a"), false), 0);
  }
  assert_true(slow->closed_by_hub);
  assert_null(slow->sub); /* the fake transport unsubscribed when asked to close */
  assert_ids(slow, "1,2,3");
  assert_false(fast->closed_by_hub);
  assert_ids(fast, "1,2,3,4,5");
  qs_hub_stats_t st;
  qs_hub_stats(f->hub, &st);
  assert_int_equal(st.slow_disconnects_total, 1);
  assert_int_equal(st.subscribers_connected, 1);
  fake_conn_free(slow);
  fake_conn_free(fast);
  fixture_free(f);
}

static void test_replay_is_paced_by_the_soft_limit(void **state) {
  qs_hub_settings_t settings = {.replay_queued_bytes = 100, .max_queued_bytes = 10000};
  fixture_t *f = fixture_new(&settings, false);
  for (int i = 1; i <= 4; i++) {
    char id[8];
    snprintf(id, sizeof id, "%d", i);
    assert_int_equal(publish(f, id, TOPICS("https://x/a"), false), 0);
  }
  fake_conn_t *c = fake_conn_new();
  c->queue_per_write = 60;
  assert_int_equal(subscribe_conn(f->shard, c, NULL, "earliest", TOPICS("*")), 0);
  qs_hub_subscriber_start(c->sub);
  assert_ids(c, "1,2"); /* 120 bytes queued >= 100: wait */
  assert_int_equal(publish(f, "5", TOPICS("https://x/a"), false), 0);
  assert_ids(c, "1,2"); /* live waits behind the replay */
  c->queued = 0;
  qs_hub_subscriber_on_writable(c->sub);
  assert_ids(c, "1,2,3,4");
  c->queued = 0;
  qs_hub_subscriber_on_writable(c->sub);
  assert_ids(c, "1,2,3,4,5");
  c->queued = 0;
  assert_int_equal(publish(f, "6", TOPICS("https://x/a"), false), 0);
  assert_ids(c, "1,2,3,4,5,6");
  fake_conn_free(c);
  fixture_free(f);
}

static void test_idle_subscribers_get_heartbeats(void **state) {
  qs_hub_settings_t settings = {.heartbeat_ms = 40, .tick_ms = 10};
  fixture_t *f = fixture_new(&settings, false);
  fake_conn_t *c = fake_conn_new(), *unstarted = fake_conn_new();
  assert_int_equal(subscribe_conn(f->shard, c, NULL, NULL, TOPICS("*")), 0);
  assert_int_equal(subscribe_conn(f->shard, unstarted, NULL, NULL, TOPICS("*")), 0);
  qs_hub_subscriber_start(c->sub);
  run_for(&f->loop, 25);
  assert_int_equal(c->heartbeats, 0);
  run_for(&f->loop, 200);
  assert_true(c->heartbeats >= 2);
  assert_true(c->heartbeats <= 6);
  assert_int_equal(unstarted->heartbeats, 0);
  fake_conn_free(c);
  fake_conn_free(unstarted);
  fixture_free(f);
}

static void test_token_expiry_and_max_lifetime_close_the_connection(void **state) {
  qs_hub_settings_t settings = {.tick_ms = 10, .max_lifetime_ms = 60000};
  fixture_t *f = fixture_new(&settings, false);
  fake_conn_t *expiring = fake_conn_new(), *lifetime = fake_conn_new(), *forever = fake_conn_new();
  qs_grants_t *g = qs_grants_create_empty();
  g->expires_ms = qs_clock_wall_ms() + 80;
  assert_int_equal(subscribe_conn(f->shard, expiring, g, NULL, TOPICS("*")), 0);
  qs_matcher_t *m = make_matcher(QS_MATCH_EXACT, "*");
  qs_grants_t *anon = qs_grants_create_empty();
  qs_hub_subscribe_params_t p = {.matchers = &m, .matcher_count = 1, .grants = anon, .max_lifetime_ms = 80};
  qs_sink_t sink = {&fake_sink_vtable, lifetime};
  assert_int_equal(qs_hub_subscribe(f->shard, &p, &sink, &lifetime->sub), 0);
  qs_grants_release(anon);
  assert_int_equal(subscribe_conn(f->shard, forever, NULL, NULL, TOPICS("*")), 0);
  qs_hub_subscriber_start(expiring->sub);
  qs_hub_subscriber_start(lifetime->sub);
  qs_hub_subscriber_start(forever->sub);
  run_for(&f->loop, 30);
  assert_false(expiring->closed_by_hub);
  assert_false(lifetime->closed_by_hub);
  volatile bool *closed = (volatile bool *)&expiring->closed_by_hub;
  assert_true(run_until(&f->loop, (volatile bool *)closed, 1000));
  assert_true(run_until(&f->loop, (volatile bool *)&lifetime->closed_by_hub, 1000));
  assert_false(forever->closed_by_hub);
  fake_conn_free(expiring);
  fake_conn_free(lifetime);
  fake_conn_free(forever);
  fixture_free(f);
}

/* Publishes `n` updates "<first>".."<first + n - 1>" to https://x/a at once,
 * so that the shard dispatches them in one batch, and waits for every answer. */
static void publish_batch(fixture_t *f, int first, int n) {
  ack_t acks[8] = {0};
  assert_true(n <= 8);
  for (int i = 0; i < n; i++) {
    char id[16];
    snprintf(id, sizeof id, "%d", first + i);
    qs_update_t *u = make_update(id, TOPICS("https://x/a"), false);
    assert_int_equal(qs_hub_publish(f->shard, u, on_published, &acks[i]), 0);
    qs_update_release(u);
  }
  assert_true(run_until(&f->loop, &acks[n - 1].done, 2000));
  for (int i = 0; i < n; i++) assert_int_equal(acks[i].status, 0);
}

#define FANOUT_SUBS 400

static void test_subscribers_closed_during_a_fan_out_unsubscribe_from_the_loop_safely(void **state) {
  /* One in four breaks (its writes fail), one in four is too slow (cut on
   * its second update), the rest receive everything; half of those in
   * another bucket of the index. The hub closes the broken and slow ones in
   * the middle of the dispatch; their transport unsubscribes later, from
   * the loop (fake_run_closes), between batches. Under ASan a subscriber
   * freed while still reachable from the index or `all` fails here. */
  qs_hub_settings_t settings = {.max_queued_bytes = 1000};
  fixture_t *f = fixture_new(&settings, false);
  fake_conn_t *c[FANOUT_SUBS];
  size_t healthy = 0, slow = 0;
  for (int i = 0; i < FANOUT_SUBS; i++) {
    c[i] = fake_conn_new();
    if (i % 4 == 1) c[i]->fail_writes = true;
    if (i % 4 == 2) c[i]->queue_per_write = 600;
    healthy += i % 4 == 0 || i % 4 == 3;
    slow += i % 4 == 2;
    const char *sel = i % 4 == 3 ? "exact:https://x/a" : "*";
    assert_int_equal(subscribe_conn(f->shard, c[i], NULL, NULL, &sel, 1), 0);
    qs_hub_subscriber_start(c[i]->sub);
  }

  /* One batch: a subscriber closed at update 1 or 2 is still in the index
   * (nobody unsubscribed yet) and must get no further sink call. */
  publish_batch(f, 1, 3);
  for (int i = 0; i < FANOUT_SUBS; i++) {
    if (i % 4 == 1) {
      assert_true(c[i]->closed_by_hub);
      assert_int_equal(c[i]->write_calls, 1);
      assert_ids(c[i], "");
    } else if (i % 4 == 2) {
      assert_true(c[i]->closed_by_hub);
      assert_int_equal(c[i]->write_calls, 2);
      assert_ids(c[i], "1,2");
    } else {
      assert_false(c[i]->closed_by_hub);
      assert_ids(c[i], "1,2,3");
    }
  }
  /* The loop ran the close callbacks: the closed ones are gone. */
  for (int i = 0; i < FANOUT_SUBS; i++) assert_true((c[i]->sub == NULL) == c[i]->closed_by_hub);
  assert_int_equal(f->shard->sub_count, healthy);
  assert_int_equal(f->shard->all_len, healthy);

  /* The fan-out goes on over the index they left. */
  publish_batch(f, 4, 2);
  for (int i = 0; i < FANOUT_SUBS; i++) {
    if (i % 4 == 0 || i % 4 == 3) assert_ids(c[i], "1,2,3,4,5");
    if (i % 4 == 1) assert_int_equal(c[i]->write_calls, 1);
    if (i % 4 == 2) assert_int_equal(c[i]->write_calls, 2);
  }
  qs_hub_stats_t st;
  qs_hub_stats(f->hub, &st);
  assert_int_equal(st.subscribers_connected, healthy);
  assert_int_equal(st.slow_disconnects_total, slow);
  assert_int_equal(st.deliveries_total, 5 * healthy + 2 * slow);

  /* Shutting down closes the rest the same way: close-all walks `all` while
   * nothing leaves it; the shard finishes once the loop unsubscribed them. */
  qs_hub_shard_close(f->shard, on_shard_closed, &f->shard_closed);
  for (int i = 0; i < FANOUT_SUBS; i++) assert_true(c[i]->closed_by_hub);
  assert_true(run_until(&f->loop, &f->shard_closed, 2000));
  qs_hub_destroy(f->hub);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
  for (int i = 0; i < FANOUT_SUBS; i++) {
    assert_null(c[i]->sub);
    fake_conn_free(c[i]);
  }
}

typedef struct {
  int starts;
  int ends;
} hook_counts_t;

static void on_subscription(void *ctx, qs_subscriber_t *sub, bool active) {
  hook_counts_t *h = ctx;
  if (active)
    h->starts++;
  else
    h->ends++;
  assert_true(qs_hub_subscriber_matcher_count(sub) >= 1);
  assert_non_null(qs_hub_subscriber_matcher(sub, 0));
}

static void test_shutdown_closes_subscribers_and_calls_the_subscription_hook(void **state) {
  hook_counts_t hooks = {0};
  qs_hub_settings_t settings = {.on_subscription = on_subscription, .on_subscription_ctx = &hooks};
  fixture_t *f = fixture_new(&settings, false);
  fake_conn_t *a = fake_conn_new(), *b = fake_conn_new(), *late = fake_conn_new();
  assert_int_equal(subscribe_conn(f->shard, a, NULL, NULL, TOPICS("exact:https://x/a", "urlpattern:/b/*")),
                   0);
  assert_int_equal(subscribe_conn(f->shard, b, NULL, NULL, TOPICS("*")), 0);
  qs_hub_subscriber_start(a->sub);
  qs_hub_subscriber_start(b->sub);
  qs_hub_subscriber_start(b->sub); /* idempotent */
  assert_int_equal(hooks.starts, 2);
  assert_int_equal(publish(f, "1", TOPICS("https://x/a"), false), 0);

  /* A transport that unsubscribes later, not from inside close. */
  b->unsubscribe_on_close = false;
  qs_hub_shard_close(f->shard, on_shard_closed, &f->shard_closed);
  assert_true(a->closed_by_hub);
  assert_true(b->closed_by_hub);
  assert_int_equal(hooks.ends, 2);
  assert_int_equal(subscribe_conn(f->shard, late, NULL, NULL, TOPICS("*")), QS_ECLOSED);
  run_for(&f->loop, 10);
  assert_false(f->shard_closed); /* waits for the transport */
  qs_hub_unsubscribe(b->sub);
  b->sub = NULL;
  assert_true(run_until(&f->loop, &f->shard_closed, 2000));
  qs_hub_destroy(f->hub);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
  fake_conn_free(a);
  fake_conn_free(b);
  fake_conn_free(late);
}

static void test_subscribe_rejects_bad_parameters(void **state) {
  fixture_t *f = fixture_new(NULL, false);
  fake_conn_t *c = fake_conn_new();
  qs_grants_t *g = qs_grants_create_empty();
  qs_hub_subscribe_params_t p = {.matchers = NULL, .matcher_count = 0, .grants = g};
  qs_sink_t sink = {&fake_sink_vtable, c};
  assert_int_equal(qs_hub_subscribe(f->shard, &p, &sink, &c->sub), QS_EINVAL);
  assert_null(c->sub);
  qs_grants_release(g);
  fake_conn_free(c);
  fixture_free(f);
}

static void test_index_buckets_are_freed_when_emptied_and_subscribers_stay_compact(void **state) {
  /* DESIGN.md: at most 1 KiB per idle subscriber, the connection included. */
  assert_true(sizeof(qs_subscriber_t) + sizeof(qs_index_member_t) <= 160);
  fixture_t *f = fixture_new(NULL, false);
  fake_conn_t *c[6];
  const char *sel[6][2] = {{"exact:https://x/a", "exact:https://x/b"},
                           {"exact:https://x/a", "topic:https://x/books/{id}"},
                           {"topic:https://x/books/{id}", "topic:https://x/authors/{id}"},
                           {"urlpattern:https://x/*", "exact:https://x/c"},
                           {"*", "exact:https://x/d"},
                           {"topic:https://y/{id}", "exact:https://x/e"}};
  for (int i = 0; i < 6; i++) {
    c[i] = fake_conn_new();
    assert_int_equal(subscribe_conn(f->shard, c[i], NULL, NULL, sel[i], 2), 0);
    qs_hub_subscriber_start(c[i]->sub);
  }
  qs_topic_index_t *ix = &f->shard->index;
  assert_int_equal(qs_map_count(&ix->exact), 4); /* a, b, c, e: `*` registers alone */
  assert_int_equal(qs_map_count(&ix->prefixed), 3);
  assert_int_equal(ix->wildcard.len, 1);
  assert_int_equal(qs_map_count(&ix->url), 1); /* a URL pattern with a fixed origin */
  assert_int_equal(ix->patterns.len, 0);
  assert_int_equal(publish(f, "1", TOPICS("https://x/books/1"), false), 0);
  assert_int_equal(publish(f, "2", TOPICS("https://y/z"), false), 0);
  assert_ids(c[1], "1");
  assert_ids(c[2], "1");
  assert_ids(c[3], "1");
  assert_ids(c[4], "1,2");
  assert_ids(c[5], "2");
  assert_ids(c[0], "");
  for (int i = 0; i < 6; i += 2) fake_conn_free(c[i]);
  for (int i = 1; i < 6; i += 2) fake_conn_free(c[i]);
  assert_int_equal(qs_map_count(&ix->exact), 0);
  assert_int_equal(qs_map_count(&ix->prefixed), 0);
  assert_int_equal(ix->prefix_len_count, 0);
  assert_int_equal(ix->wildcard.len, 0);
  assert_int_equal(ix->patterns.len, 0);
  assert_int_equal(qs_map_count(&ix->url), 0);
  assert_int_equal(ix->url_len_count, 0);
  assert_int_equal(f->shard->all_len, 0);
  fixture_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exact_and_wildcard_subscribers_receive_matching_updates_only),
      cmocka_unit_test(test_private_updates_reach_only_granted_subscribers),
      cmocka_unit_test(test_update_matching_several_matchers_is_delivered_once),
      cmocka_unit_test(test_replay_after_id_then_live_without_gap_or_duplicate),
      cmocka_unit_test(test_replay_rechecks_private_updates_against_current_grants),
      cmocka_unit_test(test_unknown_or_empty_cursor_answers_earliest_and_replays_nothing),
      cmocka_unit_test(test_on_published_waits_for_durability_and_store_failure_delivers_nothing),
      cmocka_unit_test(test_sequence_continues_after_the_store_last_seq),
      cmocka_unit_test(test_slow_subscriber_is_disconnected_past_the_hard_limit),
      cmocka_unit_test(test_replay_is_paced_by_the_soft_limit),
      cmocka_unit_test(test_idle_subscribers_get_heartbeats),
      cmocka_unit_test(test_token_expiry_and_max_lifetime_close_the_connection),
      cmocka_unit_test(test_subscribers_closed_during_a_fan_out_unsubscribe_from_the_loop_safely),
      cmocka_unit_test(test_shutdown_closes_subscribers_and_calls_the_subscription_hook),
      cmocka_unit_test(test_subscribe_rejects_bad_parameters),
      cmocka_unit_test(test_index_buckets_are_freed_when_emptied_and_subscribers_stay_compact),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
