/* The hub across worker threads: two loops in two threads publishing
 * concurrently see one global order; acknowledgements run on the publisher's
 * loop; a subscriber joining with a cursor while the other thread publishes
 * gets its replay and the live stream without gap or duplicate. */
#include <stdatomic.h>

#include "hub_test_util.h"

#define PUBLISHES_PER_THREAD 300

typedef struct worker worker_t;

struct worker {
  int index;
  qs_hub_t *hub;
  pthread_barrier_t *ready;
  pthread_barrier_t *published; /* both workers have had every publish acknowledged */
  uv_loop_t loop;
  qs_hub_shard_t *shard;
  pthread_t thread;
  uv_idle_t idle;
  int next_publish;
  atomic_int *progress; /* publishes made by each worker, shared: keeps the two in step */
  int acked;
  int ack_wrong_thread;
  int ack_errors;
  fake_conn_t *all; /* a `*` subscriber from the start */
  /* Join test: subscribe with a cursor once `join_after` updates were seen. */
  fake_conn_t *joiner;
  size_t join_after;
  char join_cursor[64];
  bool shard_closed;
};

static void on_published(void *ctx, qs_update_t *update, int status) {
  worker_t *w = ctx;
  if (!pthread_equal(pthread_self(), w->thread)) w->ack_wrong_thread++;
  if (status != 0) w->ack_errors++;
  w->acked++;
}

static void on_idle(uv_idle_t *idle) {
  worker_t *w = idle->data;
  /* Publish in step with the other worker (at most 2 ahead), so that the two
   * threads' publishes interleave in the global order. */
  for (int k = 0; k < 3 && w->next_publish < PUBLISHES_PER_THREAD; k++) {
    if (w->next_publish > atomic_load(&w->progress[1 - w->index]) + 2) break;
    char id[32];
    snprintf(id, sizeof id, "w%d-%d", w->index, w->next_publish++);
    const char *topic = w->next_publish % 2 ? "https://x/odd" : "https://x/even";
    qs_update_t *u = make_update(id, &topic, 1, false);
    assert_int_equal(qs_hub_publish(w->shard, u, on_published, w), 0);
    qs_update_release(u);
    atomic_fetch_add(&w->progress[w->index], 1);
  }
  if (w->joiner && !w->joiner->sub && w->all->count >= w->join_after) {
    snprintf(w->join_cursor, sizeof w->join_cursor, "%s", w->all->ids[w->join_after - 1]);
    const char *sel = "*";
    assert_int_equal(subscribe_conn(w->shard, w->joiner, NULL, w->join_cursor, &sel, 1), 0);
    assert_int_equal(qs_hub_subscriber_cursor(w->joiner->sub), QS_HUB_CURSOR_FOUND);
    qs_hub_subscriber_start(w->joiner->sub);
  }
  if (w->next_publish == PUBLISHES_PER_THREAD && w->all->count == 2 * PUBLISHES_PER_THREAD &&
      w->acked == PUBLISHES_PER_THREAD && (!w->joiner || w->joiner->sub)) {
    uv_idle_stop(idle);
    uv_stop(&w->loop); /* the shard's async handle would keep the loop running */
  }
}

static void on_shard_closed(void *ctx) { *(bool *)ctx = true; }

static void *worker_main(void *arg) {
  worker_t *w = arg;
  assert_int_equal(uv_loop_init(&w->loop), 0);
  assert_int_equal(qs_hub_shard_create(w->hub, &w->loop, &w->shard), 0);
  w->all = fake_conn_new();
  const char *sel = "*";
  assert_int_equal(subscribe_conn(w->shard, w->all, NULL, NULL, &sel, 1), 0);
  qs_hub_subscriber_start(w->all->sub);
  /* Both shards exist before anyone publishes, so both see every update. */
  pthread_barrier_wait(w->ready);
  uv_idle_init(&w->loop, &w->idle);
  w->idle.data = w;
  uv_idle_start(&w->idle, on_idle);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  pthread_barrier_wait(w->published);
  uv_close((uv_handle_t *)&w->idle, NULL);
  qs_hub_shard_close(w->shard, on_shard_closed, &w->shard_closed);
  /* The loop runs the fake transport's close callbacks too (run_until). */
  assert_true(run_until(&w->loop, &w->shard_closed, 5000));
  assert_int_equal(uv_loop_close(&w->loop), 0);
  return NULL;
}

static void run_workers(worker_t *w, qs_hub_t *hub) {
  pthread_barrier_t ready, published;
  pthread_barrier_init(&ready, NULL, 2);
  pthread_barrier_init(&published, NULL, 2);
  static atomic_int progress[2];
  atomic_store(&progress[0], 0);
  atomic_store(&progress[1], 0);
  for (int i = 0; i < 2; i++) {
    w[i].index = i;
    w[i].hub = hub;
    w[i].ready = &ready;
    w[i].published = &published;
    w[i].progress = progress;
    assert_int_equal(pthread_create(&w[i].thread, NULL, worker_main, &w[i]), 0);
  }
  for (int i = 0; i < 2; i++) pthread_join(w[i].thread, NULL);
  pthread_barrier_destroy(&ready);
  pthread_barrier_destroy(&published);
}

static void test_two_shards_publishing_concurrently_see_one_order(void **state) {
  qs_hub_settings_t settings = {0};
  qs_hub_t *hub;
  assert_int_equal(qs_hub_create(&settings, open_memory_store, NULL, &hub), 0);
  worker_t w[2];
  memset(w, 0, sizeof w);
  run_workers(w, hub);

  for (int i = 0; i < 2; i++) {
    assert_int_equal(w[i].acked, PUBLISHES_PER_THREAD);
    assert_int_equal(w[i].ack_wrong_thread, 0);
    assert_int_equal(w[i].ack_errors, 0);
    assert_int_equal(w[i].all->count, 2 * PUBLISHES_PER_THREAD);
  }
  /* The same order on both shards, and it is the seq order; the two
   * publishers did interleave. */
  int switches = 0;
  for (size_t k = 1; k < 2 * PUBLISHES_PER_THREAD; k++)
    switches += w[0].all->ids[k][1] != w[0].all->ids[k - 1][1];
  assert_true(switches >= 20);
  for (size_t k = 0; k < 2 * PUBLISHES_PER_THREAD; k++) {
    if (strcmp(w[0].all->ids[k], w[1].all->ids[k]) != 0)
      fail_msg("order differs at %zu: %s vs %s", k, w[0].all->ids[k], w[1].all->ids[k]);
    assert_int_equal(w[0].all->seqs[k], k + 1);
  }
  qs_hub_stats_t st;
  qs_hub_stats(hub, &st);
  assert_int_equal(st.updates_total, 2 * PUBLISHES_PER_THREAD);
  assert_int_equal(st.subscribers_connected, 0);
  for (int i = 0; i < 2; i++) fake_conn_free(w[i].all);
  qs_hub_destroy(hub);
}

static void test_joining_with_a_cursor_while_another_thread_publishes_has_no_gap_or_duplicate(void **state) {
  qs_hub_settings_t settings = {0};
  qs_hub_t *hub;
  assert_int_equal(qs_hub_create(&settings, open_memory_store, NULL, &hub), 0);
  worker_t w[2];
  memset(w, 0, sizeof w);
  w[0].joiner = fake_conn_new();
  w[0].join_after = 50;
  run_workers(w, hub);

  fake_conn_t *all = w[0].all, *joiner = w[0].joiner;
  assert_int_equal(all->count, 2 * PUBLISHES_PER_THREAD);
  /* Exactly what followed the cursor, in the global order. */
  size_t expected = 2 * PUBLISHES_PER_THREAD - w[0].join_after;
  if (joiner->count != expected) fail_msg("joiner got %zu updates, expected %zu", joiner->count, expected);
  for (size_t k = 0; k < expected; k++) assert_string_equal(joiner->ids[k], all->ids[w[0].join_after + k]);
  fake_conn_free(joiner);
  for (int i = 0; i < 2; i++) fake_conn_free(w[i].all);
  qs_hub_destroy(hub);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_two_shards_publishing_concurrently_see_one_order),
      cmocka_unit_test(test_joining_with_a_cursor_while_another_thread_publishes_has_no_gap_or_duplicate),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
