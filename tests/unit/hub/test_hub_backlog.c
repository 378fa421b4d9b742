/* The fan-out backlog (fanout_backlog): a publisher's answer waits while
 * large fan-outs of earlier updates are unwritten, in order, never for small
 * fan-outs, and never longer than QS_BACKLOG_MAX_WAIT_MS; closing a shard
 * answers what waits. Two shards on one loop stand for two workers; the
 * test plays their transports (qs_hub_shard_written). */
#include "hub/hub_internal.h"
#include "hub_test_util.h"

#define AUDIENCE QS_BACKLOG_LARGE_FANOUT

typedef struct {
  uv_loop_t loop;
  qs_hub_t *hub;
  qs_hub_shard_t *a;                   /* the publishers' */
  qs_hub_shard_t *b;                   /* the other worker's */
  fake_conn_t *audience[2 * AUDIENCE]; /* started subscribers to everything */
  int audience_len;
} fixture_t;

typedef struct {
  int calls;
  int status;
  uint64_t seq;
  int order; /* of all the answers so far, this one's (1 = first) */
  bool done;
} ack_t;

static int answers;

static void on_published(void *ctx, qs_update_t *update, int status) {
  ack_t *ack = ctx;
  ack->calls++;
  ack->order = ++answers;
  ack->status = status;
  ack->seq = update->seq;
  ack->done = true;
}

static void on_shard_closed(void *ctx) { *(bool *)ctx = true; }

static fixture_t *fixture_new(uint32_t backlog) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_non_null(f);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  qs_hub_settings_t settings = {.fanout_backlog = backlog, .tick_ms = 10};
  assert_int_equal(qs_hub_create(&settings, open_memory_store, NULL, &f->hub), 0);
  assert_int_equal(qs_hub_shard_create(f->hub, &f->loop, &f->a), 0);
  assert_int_equal(qs_hub_shard_create(f->hub, &f->loop, &f->b), 0);
  return f;
}

/* Adds `n` started subscribers to everything on `shard`. */
static void add_audience(fixture_t *f, qs_hub_shard_t *shard, int n) {
  for (int i = 0; i < n; i++) {
    fake_conn_t *c = fake_conn_new();
    assert_int_equal(subscribe_conn(shard, c, NULL, NULL, (const char *const[]){"*"}, 1), 0);
    qs_hub_subscriber_start(c->sub);
    f->audience[f->audience_len++] = c;
  }
}

/* A hub with fanout_backlog `backlog` and a large audience on shard b. */
static fixture_t *fixture_with_audience(uint32_t backlog) {
  fixture_t *f = fixture_new(backlog);
  add_audience(f, f->b, AUDIENCE);
  return f;
}

static void fixture_free(fixture_t *f) {
  for (int i = 0; i < f->audience_len; i++) fake_conn_free(f->audience[i]);
  bool a_closed = false, b_closed = false;
  qs_hub_shard_close(f->a, on_shard_closed, &a_closed);
  qs_hub_shard_close(f->b, on_shard_closed, &b_closed);
  assert_true(run_until(&f->loop, &a_closed, 2000));
  assert_true(run_until(&f->loop, &b_closed, 2000));
  qs_hub_destroy(f->hub);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
}

/* Publishes one update from shard a; its answer lands in `ack`. */
static void publish(fixture_t *f, const char *id, ack_t *ack) {
  qs_update_t *u = make_update(id, (const char *const[]){"https://x/a"}, 1, false);
  assert_int_equal(qs_hub_publish(f->a, u, on_published, ack), 0);
  qs_update_release(u);
}

static uint64_t waits(fixture_t *f) {
  qs_hub_stats_t st;
  qs_hub_stats(f->hub, &st);
  return st.backlog_waits_total;
}

/* With a large audience on shard b and fanout_backlog 2: publish 1 is
 * answered at once; once b has dispatched it (a large fan-out, unwritten),
 * publish 2 makes two unwritten there and waits, delivered all the same. */
static void publish_until_one_waits(fixture_t *f, ack_t *acks) {
  const fake_conn_t *subscriber = f->audience[0];
  publish(f, "1", &acks[0]);
  assert_true(run_until(&f->loop, &acks[0].done, 2000));
  run_for(&f->loop, 20);
  assert_int_equal(subscriber->count, 1);
  publish(f, "2", &acks[1]);
  run_for(&f->loop, 30);
  assert_int_equal(acks[1].calls, 0);
  assert_int_equal(subscriber->count, 2);
  assert_int_equal(waits(f), 1);
}

static void test_an_answer_waits_until_the_large_fan_outs_are_written(void **state) {
  fixture_t *f = fixture_with_audience(2);
  ack_t acks[3] = {{0}};
  publish_until_one_waits(f, acks);
  qs_hub_shard_written(f->a, true); /* a has nothing of its own to write */
  run_for(&f->loop, 30);
  assert_int_equal(acks[1].calls, 0);
  qs_hub_shard_written(f->b, true); /* b's writes wake a */
  assert_true(run_until(&f->loop, &acks[1].done, 2000));
  assert_int_equal(acks[1].calls, 1);
  assert_int_equal(acks[1].status, 0);
  assert_int_equal(acks[1].seq, 2);
  /* Written everywhere: the next publish (one unwritten, its own) is
   * answered without waiting. */
  publish(f, "3", &acks[2]);
  assert_true(run_until(&f->loop, &acks[2].done, 2000));
  assert_int_equal(waits(f), 1);
  fixture_free(f);
}

static void test_waiting_answers_leave_in_order(void **state) {
  fixture_t *f = fixture_with_audience(2);
  ack_t acks[3] = {{0}};
  publish_until_one_waits(f, acks);
  /* A second publish in flight allows one more unwritten update (3), and
   * its own makes it 3: both wait, the second behind the first. */
  publish(f, "3", &acks[2]);
  run_for(&f->loop, 30);
  assert_int_equal(acks[1].calls + acks[2].calls, 0);
  qs_hub_shard_written(f->b, true);
  assert_true(run_until(&f->loop, &acks[2].done, 2000));
  assert_int_equal(acks[1].calls, 1);
  assert_int_equal(acks[1].seq, 2);
  assert_int_equal(acks[2].seq, 3);
  assert_true(acks[1].order < acks[2].order);
  fixture_free(f);
}

static void test_a_partial_report_covers_what_came_before_the_previous_one(void **state) {
  fixture_t *f = fixture_with_audience(2);
  ack_t acks[2] = {{0}};
  publish_until_one_waits(f, acks);
  /* "Everything given before the previous report is written": the first
   * such report covers nothing... */
  qs_hub_shard_written(f->b, false);
  run_for(&f->loop, 30);
  assert_int_equal(acks[1].calls, 0);
  /* ...the next one both fan-outs, dispatched before the first. */
  qs_hub_shard_written(f->b, false);
  assert_true(run_until(&f->loop, &acks[1].done, 2000));
  assert_int_equal(acks[1].seq, 2);
  fixture_free(f);
}

static void test_small_fan_outs_never_wait(void **state) {
  fixture_t *f = fixture_new(1); /* the tightest bound */
  add_audience(f, f->a, AUDIENCE - 1);
  add_audience(f, f->b, AUDIENCE - 1);
  for (int i = 0; i < 10; i++) {
    ack_t ack = {0};
    publish(f, "x", &ack);
    assert_true(run_until(&f->loop, &ack.done, 2000));
  }
  assert_int_equal(waits(f), 0);
  fixture_free(f);
}

static void test_no_answer_waits_longer_than_the_bound(void **state) {
  fixture_t *f = fixture_with_audience(2);
  ack_t acks[2] = {{0}};
  uint64_t start = uv_hrtime();
  publish_until_one_waits(f, acks);
  /* Nobody ever reports writes: the housekeeping tick lets it go. */
  assert_true(run_until(&f->loop, &acks[1].done, 3 * QS_BACKLOG_MAX_WAIT_MS));
  uint64_t waited_ms = (uv_hrtime() - start) / 1000000;
  assert_true(waited_ms >= QS_BACKLOG_MAX_WAIT_MS - 20);
  assert_int_equal(acks[1].status, 0);
  fixture_free(f);
}

static void test_closing_the_shard_answers_what_waits(void **state) {
  fixture_t *f = fixture_with_audience(2);
  ack_t acks[2] = {{0}};
  publish_until_one_waits(f, acks);
  fixture_free(f);
  assert_int_equal(acks[1].calls, 1);
  assert_int_equal(acks[1].status, 0);
}

static void test_off_answers_at_once(void **state) {
  fixture_t *f = fixture_with_audience(0);
  for (int i = 0; i < 5; i++) {
    ack_t ack = {0};
    publish(f, "x", &ack);
    assert_true(run_until(&f->loop, &ack.done, 2000));
  }
  assert_int_equal(waits(f), 0);
  fixture_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_an_answer_waits_until_the_large_fan_outs_are_written),
      cmocka_unit_test(test_waiting_answers_leave_in_order),
      cmocka_unit_test(test_a_partial_report_covers_what_came_before_the_previous_one),
      cmocka_unit_test(test_small_fan_outs_never_wait),
      cmocka_unit_test(test_no_answer_waits_longer_than_the_bound),
      cmocka_unit_test(test_closing_the_shard_answers_what_waits),
      cmocka_unit_test(test_off_answers_at_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
