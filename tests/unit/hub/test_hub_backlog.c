/* The fan-out backlog (fanout_backlog): a publisher's answer waits until the
 * fan-out of earlier updates has been written by every shard, in order, and
 * never longer than QS_BACKLOG_MAX_WAIT_MS; closing a shard answers what
 * waits. Two shards on one loop stand for two workers. */
#include "hub/hub_internal.h"
#include "hub_test_util.h"

typedef struct {
  uv_loop_t loop;
  qs_hub_t *hub;
  qs_hub_shard_t *a; /* the publishers' */
  qs_hub_shard_t *b; /* the other worker's */
} fixture_t;

typedef struct {
  int calls;
  int status;
  uint64_t seq;
  bool done;
} ack_t;

static void on_published(void *ctx, qs_update_t *update, int status) {
  ack_t *ack = ctx;
  ack->calls++;
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

static void fixture_free(fixture_t *f) {
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

static void test_an_answer_waits_until_every_shard_has_written(void **state) {
  fixture_t *f = fixture_new(1);
  fake_conn_t *c = fake_conn_new();
  assert_int_equal(subscribe_conn(f->b, c, NULL, NULL, (const char *const[]){"*"}, 1), 0);
  qs_hub_subscriber_start(c->sub);
  ack_t ack = {0};
  publish(f, "1", &ack);
  run_for(&f->loop, 30);
  /* Delivered (and durable), but nobody has written its fan-out yet. */
  assert_int_equal(c->count, 1);
  assert_int_equal(ack.calls, 0);
  assert_int_equal(waits(f), 1);
  qs_hub_shard_written(f->a);
  run_for(&f->loop, 30);
  assert_int_equal(ack.calls, 0); /* shard b still has it queued */
  qs_hub_shard_written(f->b);     /* b's progress wakes a */
  assert_true(run_until(&f->loop, &ack.done, 2000));
  assert_int_equal(ack.calls, 1);
  assert_int_equal(ack.status, 0);
  assert_int_equal(ack.seq, 1);
  fake_conn_free(c);
  fixture_free(f);
}

static void test_answers_within_the_backlog_leave_at_once_and_the_rest_in_order(void **state) {
  fixture_t *f = fixture_new(2);
  ack_t acks[4] = {{0}};
  publish(f, "1", &acks[0]);
  assert_true(run_until(&f->loop, &acks[0].done, 2000)); /* one unwritten update is within 2 */
  publish(f, "2", &acks[1]);
  publish(f, "3", &acks[2]);
  run_for(&f->loop, 30);
  assert_int_equal(acks[1].calls + acks[2].calls, 0);
  /* Shard b writes; shard a has written nothing: still 1 and 2 unwritten by a. */
  qs_hub_shard_written(f->b);
  run_for(&f->loop, 30);
  assert_int_equal(acks[1].calls + acks[2].calls, 0);
  qs_hub_shard_written(f->a);
  assert_true(run_until(&f->loop, &acks[2].done, 2000));
  assert_int_equal(acks[1].calls, 1);
  assert_int_equal(acks[1].seq, 2);
  assert_int_equal(acks[2].seq, 3);
  /* Written everywhere: the next publish is answered without waiting. */
  uint64_t before = waits(f);
  publish(f, "4", &acks[3]);
  assert_true(run_until(&f->loop, &acks[3].done, 2000));
  assert_int_equal(waits(f), before);
  fixture_free(f);
}

static void test_no_answer_waits_longer_than_the_bound(void **state) {
  fixture_t *f = fixture_new(1);
  ack_t ack = {0};
  uint64_t start = uv_hrtime();
  publish(f, "1", &ack);
  /* Nobody ever reports writes: the housekeeping tick lets it go. */
  assert_true(run_until(&f->loop, &ack.done, 3 * QS_BACKLOG_MAX_WAIT_MS));
  uint64_t waited_ms = (uv_hrtime() - start) / 1000000;
  assert_true(waited_ms >= QS_BACKLOG_MAX_WAIT_MS - 20);
  assert_int_equal(ack.status, 0);
  fixture_free(f);
}

static void test_closing_the_shard_answers_what_waits(void **state) {
  fixture_t *f = fixture_new(1);
  ack_t ack = {0};
  publish(f, "1", &ack);
  run_for(&f->loop, 20);
  assert_int_equal(ack.calls, 0);
  fixture_free(f);
  assert_int_equal(ack.calls, 1);
  assert_int_equal(ack.status, 0);
}

static void test_off_answers_at_once(void **state) {
  fixture_t *f = fixture_new(0);
  ack_t ack = {0};
  publish(f, "1", &ack);
  assert_true(run_until(&f->loop, &ack.done, 2000));
  assert_int_equal(waits(f), 0);
  fixture_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_an_answer_waits_until_every_shard_has_written),
      cmocka_unit_test(test_answers_within_the_backlog_leave_at_once_and_the_rest_in_order),
      cmocka_unit_test(test_no_answer_waits_longer_than_the_bound),
      cmocka_unit_test(test_closing_the_shard_answers_what_waits),
      cmocka_unit_test(test_off_answers_at_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
