/* Replay in slices and the dispatch timeout: a resume over a history much
 * larger than a slice, with live publishes from another thread meanwhile,
 * delivers everything once and in order while the hub holds at most a slice;
 * history discarded during a catch-up ends the stream; a sink that never
 * drains is closed after dispatch_timeout, one that drains is kept. */
#include <stdatomic.h>
#include <unistd.h>

#include "hub/hub_internal.h"
#include "hub_test_util.h"

#define HISTORY 10000
#define LIVE 2000
#define SLICE 64
#define SOFT 4096

static void on_shard_closed(void *ctx) { *(bool *)ctx = true; }

typedef struct {
  int acked;
  int errors;
} acks_t;

static void on_acked(void *ctx, qs_update_t *update, int status) {
  acks_t *a = ctx;
  a->acked++;
  if (status) a->errors++;
}

static const char *topic_of(int i) { return i % 2 ? "https://x/b" : "https://x/a"; }

/* Publishes n updates from `shard` (topics alternate a, b) and waits until
 * every one is acknowledged. */
static void publish_many(uv_loop_t *loop, qs_hub_shard_t *shard, const char *prefix, int n) {
  acks_t acks = {0};
  for (int i = 0; i < n; i++) {
    char id[32];
    snprintf(id, sizeof id, "%s-%d", prefix, i);
    const char *topic = topic_of(i);
    qs_update_t *u = make_update(id, &topic, 1, false);
    int rc;
    while ((rc = qs_hub_publish(shard, u, on_acked, &acks)) == QS_EFULL) uv_run(loop, UV_RUN_NOWAIT);
    assert_int_equal(rc, 0);
    qs_update_release(u);
  }
  int64_t end = qs_clock_mono_ms() + 60000;
  while (acks.acked < n && qs_clock_mono_ms() < end) {
    uv_run(loop, UV_RUN_NOWAIT);
    if (acks.acked < n) uv_sleep(1);
  }
  assert_int_equal(acks.acked, n);
  assert_int_equal(acks.errors, 0);
}

/* ---- A counting sink: any number of events, order checked on the fly ---- */

typedef struct {
  qs_subscriber_t *sub;
  size_t count;
  uint64_t last_seq;
  int out_of_order;
  int wrong_topic;
  size_t queued;     /* simulated: every write stays queued until the test drains it */
  size_t max_queued; /* while replaying */
  bool closed_by_hub;
} counter_t;

static int counter_write_update(void *ctx, qs_update_t *update) {
  counter_t *c = ctx;
  if (update->seq <= c->last_seq) c->out_of_order++;
  c->last_seq = update->seq;
  if (!qs_slice_eq_cstr(update->topics[0], "https://x/a")) c->wrong_topic++;
  c->count++;
  c->queued += update->sse.len;
  /* While catching up (live updates are not paced). */
  if (c->sub && qs_hub_subscriber_needs_writable(c->sub) && c->queued > c->max_queued)
    c->max_queued = c->queued;
  return 0;
}

static int counter_write_bytes(void *ctx, const char *ptr, size_t len) { return 0; }
static size_t counter_queued_bytes(void *ctx) { return ((counter_t *)ctx)->queued; }
static void counter_close(void *ctx) { ((counter_t *)ctx)->closed_by_hub = true; }

static const qs_sink_vtable_t counter_sink = {
    .write_update = counter_write_update,
    .write_bytes = counter_write_bytes,
    .queued_bytes = counter_queued_bytes,
    .close = counter_close,
};

/* ---- Stores ---- */

typedef struct {
  bool lmdb;
  char dir[64];
} store_arg_t;

static int open_store(void *arg, qs_store_on_durable_fn on_durable, void *ctx, qs_store_t **out) {
  store_arg_t *a = arg;
  qs_store_retention_t retention = {0};
  if (!a->lmdb) return qs_store_memory_create(&retention, on_durable, ctx, out);
  return qs_store_lmdb_create(a->dir, 0, &retention, NULL, QS_STORE_DURABILITY_SYNC, on_durable, ctx, out);
}

static void remove_store(store_arg_t *a) {
  if (!a->lmdb) return;
  char path[128];
  snprintf(path, sizeof path, "%s/data.mdb", a->dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/lock.mdb", a->dir);
  unlink(path);
  rmdir(a->dir);
}

/* ---- Another thread publishing live updates ---- */

typedef struct {
  qs_hub_t *hub;
  pthread_t thread;
  atomic_bool started;
  atomic_bool done;
} live_publisher_t;

static void *live_main(void *arg) {
  live_publisher_t *p = arg;
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  qs_hub_shard_t *shard;
  assert_int_equal(qs_hub_shard_create(p->hub, &loop, &shard), 0);
  atomic_store(&p->started, true);
  publish_many(&loop, shard, "live", LIVE);
  bool closed = false;
  qs_hub_shard_close(shard, on_shard_closed, &closed);
  assert_true(run_until(&loop, &closed, 5000));
  assert_int_equal(uv_loop_close(&loop), 0);
  atomic_store(&p->done, true);
  return NULL;
}

static void resume_over_a_long_history(bool lmdb) {
  store_arg_t arg = {.lmdb = lmdb};
  snprintf(arg.dir, sizeof arg.dir, "/tmp/qs_hub_replay_XXXXXX");
  if (lmdb) assert_non_null(mkdtemp(arg.dir));
  qs_hub_settings_t settings = {.replay_slice = SLICE, .replay_queued_bytes = SOFT};
  qs_hub_t *hub;
  assert_int_equal(qs_hub_create(&settings, open_store, &arg, &hub), 0);
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  qs_hub_shard_t *shard;
  assert_int_equal(qs_hub_shard_create(hub, &loop, &shard), 0);
  publish_many(&loop, shard, "old", HISTORY);

  /* Resume from the oldest entry: everything after it is replayed. */
  counter_t c = {0};
  qs_matcher_t *m = make_matcher(QS_MATCH_EXACT, "https://x/a");
  qs_grants_t *g = qs_grants_create_empty();
  qs_hub_subscribe_params_t p = {.matchers = &m,
                                 .matcher_count = 1,
                                 .grants = g,
                                 .has_last_event_id = true,
                                 .last_event_id = qs_slice_from_cstr("old-0")};
  qs_sink_t sink = {&counter_sink, &c};
  assert_int_equal(qs_hub_subscribe(shard, &p, &sink, &c.sub), 0);
  qs_grants_release(g);
  assert_int_equal(qs_hub_subscriber_cursor(c.sub), QS_HUB_CURSOR_FOUND);
  /* Only the first slice was read (every other update matches). */
  assert_true(qs_hub_subscriber_replayed(c.sub) <= SLICE / 2);
  assert_true(c.sub->held_peak <= SLICE);

  live_publisher_t live = {.hub = hub};
  assert_int_equal(pthread_create(&live.thread, NULL, live_main, &live), 0);
  while (!atomic_load(&live.started)) uv_sleep(1);
  qs_hub_subscriber_start(c.sub);

  /* The "kernel" takes what is queued, one loop iteration at a time. */
  const size_t expected = (HISTORY - 2) / 2 + LIVE / 2; /* old-2, old-4, ...: "old-0" is the cursor */
  size_t drains = 0;
  int64_t end = qs_clock_mono_ms() + 60000;
  while ((c.count < expected || !atomic_load(&live.done)) && qs_clock_mono_ms() < end && !c.closed_by_hub) {
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_true(c.sub->held_peak <= SLICE);
    if (c.queued) {
      c.queued = 0;
      drains++;
      qs_hub_subscriber_on_writable(c.sub);
    }
  }
  pthread_join(live.thread, NULL);
  run_for(&loop, 20);
  assert_false(c.closed_by_hub);
  if (c.count != expected) fail_msg("got %zu updates, expected %zu", c.count, expected);
  assert_int_equal(c.out_of_order, 0);
  assert_int_equal(c.wrong_topic, 0);
  /* Paced by the sink, holding at most a slice: never the whole backlog. */
  assert_true(c.sub->held_peak > 0 && c.sub->held_peak <= SLICE);
  assert_true(c.max_queued < SOFT + 256);
  assert_true(drains > 10);                              /* in many steps, as the sink drained */
  assert_false(qs_hub_subscriber_needs_writable(c.sub)); /* live now */

  /* Live from here. */
  publish_many(&loop, shard, "after", 1);
  assert_int_equal(c.count, expected + 1);
  assert_int_equal(c.out_of_order, 0);

  qs_hub_unsubscribe(c.sub);
  bool closed = false;
  qs_hub_shard_close(shard, on_shard_closed, &closed);
  assert_true(run_until(&loop, &closed, 5000));
  qs_hub_destroy(hub);
  assert_int_equal(uv_loop_close(&loop), 0);
  remove_store(&arg);
}

static void test_resume_over_a_long_history_in_slices_memory(void **state) {
  resume_over_a_long_history(false);
}

static void test_resume_over_a_long_history_in_slices_lmdb(void **state) { resume_over_a_long_history(true); }

/* ---- History discarded during a catch-up ---- */

static void test_history_discarded_during_a_catch_up_ends_the_stream(void **state) {
  qs_hub_settings_t settings = {.replay_slice = 10, .replay_queued_bytes = 1};
  uint64_t max_count = 100;
  qs_hub_t *hub;
  assert_int_equal(qs_hub_create(&settings, open_memory_store, &max_count, &hub), 0);
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  qs_hub_shard_t *shard;
  assert_int_equal(qs_hub_shard_create(hub, &loop, &shard), 0);
  publish_many(&loop, shard, "h", 100);

  fake_conn_t *c = fake_conn_new();
  c->queue_per_write = 1; /* one update per drain */
  const char *sel = "*";
  assert_int_equal(subscribe_conn(shard, c, NULL, "earliest", &sel, 1), 0);
  qs_hub_subscriber_start(c->sub);
  for (int i = 0; i < 30; i++) {
    c->queued = 0;
    qs_hub_subscriber_on_writable(c->sub);
  }
  assert_int_equal(c->count, 31);
  assert_false(c->closed_by_hub);
  /* Retention overtakes the subscriber's position. */
  publish_many(&loop, shard, "n", 100);
  assert_int_equal(c->count, 31);
  for (int i = 0; i < 5 && !c->closed_by_hub; i++) {
    c->queued = 0;
    qs_hub_subscriber_on_writable(c->sub);
  }
  assert_true(c->closed_by_hub);
  /* Nothing was skipped before the end. */
  for (size_t k = 0; k < c->count; k++) assert_int_equal(c->seqs[k], k + 1);

  fake_conn_free(c);
  bool closed = false;
  qs_hub_shard_close(shard, on_shard_closed, &closed);
  assert_true(run_until(&loop, &closed, 5000));
  qs_hub_destroy(hub);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- A replay where the filter rejects most updates still progresses ---- */

static void test_a_replay_with_nothing_to_write_continues_on_its_own(void **state) {
  qs_hub_settings_t settings = {.replay_slice = 16, .replay_queued_bytes = 100};
  qs_hub_t *hub;
  assert_int_equal(qs_hub_create(&settings, open_memory_store, NULL, &hub), 0);
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  qs_hub_shard_t *shard;
  assert_int_equal(qs_hub_shard_create(hub, &loop, &shard), 0);
  publish_many(&loop, shard, "h", 1000); /* h-0 a, h-1 b, ... */
  fake_conn_t *c = fake_conn_new();
  const char *sel = "exact:https://x/none";
  assert_int_equal(subscribe_conn(shard, c, NULL, "earliest", &sel, 1), 0);
  qs_hub_subscriber_start(c->sub);
  /* No write, so no drain: the shard's own wake-ups carry the replay on. */
  assert_true(qs_hub_subscriber_needs_writable(c->sub));
  int64_t end = qs_clock_mono_ms() + 5000;
  while (qs_hub_subscriber_needs_writable(c->sub) && qs_clock_mono_ms() < end) uv_run(&loop, UV_RUN_NOWAIT);
  assert_false(qs_hub_subscriber_needs_writable(c->sub));
  assert_int_equal(c->count, 0);
  fake_conn_free(c);
  bool closed = false;
  qs_hub_shard_close(shard, on_shard_closed, &closed);
  assert_true(run_until(&loop, &closed, 5000));
  qs_hub_destroy(hub);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- dispatch_timeout ---- */

static void dispatch_timeout_case(int64_t timeout_ms, bool expect_stuck_closed) {
  qs_hub_settings_t settings = {.dispatch_timeout_ms = timeout_ms, .tick_ms = 10};
  qs_hub_t *hub;
  assert_int_equal(qs_hub_create(&settings, open_memory_store, NULL, &hub), 0);
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  qs_hub_shard_t *shard;
  assert_int_equal(qs_hub_shard_create(hub, &loop, &shard), 0);
  fake_conn_t *stuck = fake_conn_new(), *draining = fake_conn_new(), *idle = fake_conn_new();
  const char *sel = "*";
  assert_int_equal(subscribe_conn(shard, stuck, NULL, NULL, &sel, 1), 0);
  assert_int_equal(subscribe_conn(shard, draining, NULL, NULL, &sel, 1), 0);
  assert_int_equal(subscribe_conn(shard, idle, NULL, NULL, &sel, 1), 0);
  qs_hub_subscriber_start(stuck->sub);
  qs_hub_subscriber_start(draining->sub);
  qs_hub_subscriber_start(idle->sub);
  stuck->queue_per_write = 100;    /* nothing ever leaves */
  draining->queue_per_write = 100; /* always some queued, but drains keep coming */
  publish_many(&loop, shard, "x", 1);
  assert_int_equal(stuck->queued, 100);
  assert_int_equal(draining->queued, 100);
  assert_int_equal(idle->queued, 0);
  int64_t end = qs_clock_mono_ms() + 300;
  while (qs_clock_mono_ms() < end) {
    run_for(&loop, 15);
    if (draining->sub) qs_hub_subscriber_on_writable(draining->sub);
  }
  assert_int_equal(stuck->closed_by_hub, expect_stuck_closed);
  assert_false(draining->closed_by_hub);
  assert_false(idle->closed_by_hub);
  qs_hub_stats_t st;
  qs_hub_stats(hub, &st);
  assert_int_equal(st.slow_disconnects_total, expect_stuck_closed ? 1 : 0);
  fake_conn_free(stuck);
  fake_conn_free(draining);
  fake_conn_free(idle);
  bool closed = false;
  qs_hub_shard_close(shard, on_shard_closed, &closed);
  assert_true(run_until(&loop, &closed, 5000));
  qs_hub_destroy(hub);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_a_sink_that_never_drains_is_closed_after_the_dispatch_timeout(void **state) {
  dispatch_timeout_case(60, true);
}

static void test_dispatch_timeout_zero_is_off(void **state) { dispatch_timeout_case(0, false); }

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resume_over_a_long_history_in_slices_memory),
      cmocka_unit_test(test_resume_over_a_long_history_in_slices_lmdb),
      cmocka_unit_test(test_history_discarded_during_a_catch_up_ends_the_stream),
      cmocka_unit_test(test_a_replay_with_nothing_to_write_continues_on_its_own),
      cmocka_unit_test(test_a_sink_that_never_drains_is_closed_after_the_dispatch_timeout),
      cmocka_unit_test(test_dispatch_timeout_zero_is_off),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
