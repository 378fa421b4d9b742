/* What only the LMDB history promises: persistence across reopen and crash,
 * group commit, asynchronous acknowledgement, a full map, long ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/wait.h>
#include <cmocka.h>

#include "store_fixture.h"

static int setup(void **state) {
  *state = fx_new(BACKEND_LMDB);
  return 0;
}

static int teardown(void **state) {
  fx_free(*state);
  return 0;
}

static void reopen_keeps_the_history_and_the_last_seq(void **state) {
  fx_t *fx = *state;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  for (int i = 1; i <= 10; i++) {
    char id[16];
    snprintf(id, sizeof id, "id-%d", i == 7 ? 3 : i); /* seq 7 reuses id-3 */
    assert_int_equal(fx_append(fx, id, "kept", 100 + i), 0);
  }
  fx_close(fx);

  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  assert_int_equal(qs_store_last_seq(fx->store), 10);
  char out[32];
  assert_int_equal(qs_store_last_id(fx->store, out, sizeof out), 5);
  assert_string_equal(out, "id-10");
  qs_store_stats_t st;
  qs_store_stats(fx->store, &st);
  assert_int_equal(st.count, 10);
  assert_int_equal(st.first_seq, 1);
  assert_int_equal(st.last_created_ms, 110);
  collect_t *c = calloc(1, sizeof *c);
  assert_int_equal(replay_collect(fx->store, "id-3", UINT64_MAX, c), 0);
  assert_int_equal(c->n, 7); /* after the earliest id-3: seqs 4..10 */
  assert_int_equal(c->seqs[0], 4);
  /* Numbering continues; going back is refused. */
  qs_update_t *u = make_update("old", "d", 1);
  u->seq = 10;
  assert_int_equal(qs_store_append(fx->store, u), QS_EINVAL);
  qs_update_release(u);
  assert_int_equal(fx_append(fx, "id-11", "more", 111), 0);
  assert_int_equal(qs_store_last_seq(fx->store), 11);
  collect_dispose(c);
  free(c);
}

static void last_seq_survives_a_history_emptied_by_retention(void **state) {
  fx_t *fx = *state;
  const int64_t now = 50000000;
  qs_clock_set_wall_override_ms(now);
  assert_int_equal(fx_open(fx, (qs_store_retention_t){.max_age_ms = 1000}), 0);
  assert_int_equal(fx_append(fx, "a", "d", now), 0);
  assert_int_equal(fx_append(fx, "b", "d", now), 0);
  fx_close(fx);
  qs_clock_set_wall_override_ms(now + 5000);
  assert_int_equal(fx_open(fx, (qs_store_retention_t){.max_age_ms = 1000}), 0);
  assert_int_equal(qs_store_last_seq(fx->store), 2);
  collect_t *c = calloc(1, sizeof *c);
  assert_int_equal(replay_collect(fx->store, "earliest", UINT64_MAX, c), 0);
  assert_int_equal(c->n, 0);
  collect_dispose(c);
  free(c);
  qs_clock_set_wall_override_ms(0);
}

static void group_commit_batches_and_calls_on_durable_in_seq_order(void **state) {
  fx_t *fx = *state;
  fx->gc = (qs_store_group_commit_t){.flush_interval_ms = 50, .max_batch = 1000};
  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  for (int i = 1; i <= 200; i++) {
    char id[16];
    snprintf(id, sizeof id, "id-%d", i);
    assert_int_equal(fx_append_nowait(fx, id, "batched", i), 0);
  }
  assert_true(fx_wait_durable(fx, 200));
  assert_false(fx->out_of_order);
  assert_int_equal(fx->failures, 0);
  assert_int_equal(fx->last_durable_seq, 200);
  qs_store_stats_t st;
  qs_store_stats(fx->store, &st);
  assert_int_equal(st.count, 200);
  /* 200 appends within the 50 ms window: a handful of transactions, not 200. */
  print_message("commits for 200 appends: %" PRIu64 "\n", st.commits);
  assert_true(st.commits >= 1 && st.commits <= 5);
}

static void a_full_batch_is_committed_without_waiting_for_the_interval(void **state) {
  fx_t *fx = *state;
  fx->gc = (qs_store_group_commit_t){.flush_interval_ms = 60000, .max_batch = 10};
  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  for (int i = 1; i <= 100; i++) {
    char id[16];
    snprintf(id, sizeof id, "id-%d", i);
    assert_int_equal(fx_append_nowait(fx, id, "batched", i), 0);
  }
  assert_true(fx_wait_durable(fx, 100)); /* 10 s, far below the 60 s interval */
  qs_store_stats_t st;
  qs_store_stats(fx->store, &st);
  assert_int_equal(st.commits, 10);
  assert_false(fx->out_of_order);
}

static void destroy_commits_pending_appends(void **state) {
  fx_t *fx = *state;
  fx->gc = (qs_store_group_commit_t){.flush_interval_ms = 60000, .max_batch = 1000};
  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  for (int i = 1; i <= 5; i++) {
    char id[16];
    snprintf(id, sizeof id, "id-%d", i);
    assert_int_equal(fx_append_nowait(fx, id, "pending", i), 0);
  }
  assert_int_equal(fx->durable_count, 0);
  fx_close(fx);
  assert_int_equal(fx->durable_count, 5);
  assert_int_equal(fx->failures, 0);
  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  assert_int_equal(qs_store_last_seq(fx->store), 5);
  collect_t *c = calloc(1, sizeof *c);
  assert_int_equal(replay_collect(fx->store, "earliest", UINT64_MAX, c), 0);
  assert_int_equal(c->n, 5);
  collect_dispose(c);
  free(c);
}

static void async_mode_acknowledges_in_append_and_replays_the_queue(void **state) {
  fx_t *fx = *state;
  fx->gc = (qs_store_group_commit_t){.flush_interval_ms = 60000, .max_batch = 1000};
  fx->durability = QS_STORE_DURABILITY_ASYNC;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  assert_int_equal(fx_append_nowait(fx, "a", "1", 1), 0);
  assert_int_equal(fx->durable_count, 1); /* called inside append */
  assert_int_equal(fx_append_nowait(fx, "b", "2", 2), 0);
  assert_int_equal(fx_append_nowait(fx, "c", "3", 3), 0);
  assert_int_equal(fx->durable_count, 3);
  assert_int_equal(qs_store_last_seq(fx->store), 3);
  collect_t *c = calloc(1, sizeof *c);
  /* Nothing is committed yet (60 s interval); replay finds the queue. */
  assert_int_equal(replay_collect(fx->store, "a", UINT64_MAX, c), 0);
  assert_int_equal(c->n, 2);
  assert_string_equal(c->ids[1], "c");
  qs_store_stats_t st;
  qs_store_stats(fx->store, &st);
  assert_int_equal(st.commits, 0);
  fx_close(fx);
  assert_int_equal(fx->durable_count, 3); /* not called twice */
  fx->durability = QS_STORE_DURABILITY_SYNC;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  assert_int_equal(replay_collect(fx->store, "earliest", UINT64_MAX, c), 0);
  assert_int_equal(c->n, 3);
  collect_dispose(c);
  free(c);
}

/* DESIGN.md Durability: after kill -9, every acknowledged update is there.
 * The child exits abruptly from inside the last on_durable call. */
#define CRASH_APPENDS 500

static void exit_after_last(void *ctx, qs_update_t *u, int status) {
  if (status) _exit(2);
  if (u->seq == CRASH_APPENDS) _exit(0);
}

static void acknowledged_updates_survive_a_crash(void **state) {
  fx_t *fx = *state;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    qs_store_t *s;
    qs_store_group_commit_t gc = {.flush_interval_ms = 1, .max_batch = 64};
    if (qs_store_lmdb_create(fx->dir, 0, NULL, &gc, QS_STORE_DURABILITY_SYNC, exit_after_last, NULL, &s))
      _exit(3);
    for (uint64_t seq = 1; seq <= CRASH_APPENDS; seq++) {
      char id[32];
      snprintf(id, sizeof id, "crash-%" PRIu64, seq);
      qs_update_t *u = make_update(id, "survives", (int64_t)seq);
      u->seq = seq;
      if (qs_store_append(s, u)) _exit(4);
      qs_update_release(u);
    }
    pause(); /* the writer thread exits the process */
    _exit(5);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);

  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  assert_int_equal(qs_store_last_seq(fx->store), CRASH_APPENDS);
  char out[32];
  qs_store_last_id(fx->store, out, sizeof out);
  assert_string_equal(out, "crash-500");
  collect_t *c = calloc(1, sizeof *c);
  assert_int_equal(replay_collect(fx->store, "earliest", UINT64_MAX, c), 0);
  assert_int_equal(c->n, CRASH_APPENDS);
  for (size_t i = 0; i < c->n; i++) assert_int_equal(c->seqs[i], i + 1);
  assert_int_equal(replay_collect(fx->store, "crash-250", UINT64_MAX, c), 0);
  assert_int_equal(c->n, 250);
  collect_dispose(c);
  free(c);
}

static char big_data[8192];

static void a_full_map_evicts_the_oldest_to_make_room(void **state) {
  fx_t *fx = *state;
  memset(big_data, 'x', sizeof big_data - 1);
  fx->map_size_bytes = 512 * 1024;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  for (int i = 1; i <= 300; i++) { /* 2.4 MB through a 512 KiB map */
    char id[16];
    snprintf(id, sizeof id, "id-%d", i);
    assert_int_equal(fx_append(fx, id, big_data, i), 0);
  }
  qs_store_stats_t st;
  qs_store_stats(fx->store, &st);
  print_message("retained %" PRIu64 " of 300, evicted %" PRIu64 "\n", st.count, st.evicted);
  assert_true(st.evicted > 0);
  assert_int_equal(st.count + st.evicted, 300);
  assert_int_equal(st.failed, 0);
  collect_t *c = calloc(1, sizeof *c);
  assert_int_equal(replay_collect(fx->store, "earliest", UINT64_MAX, c), 0);
  assert_int_equal(c->n, st.count);
  assert_int_equal(c->seqs[c->n - 1], 300);
  collect_dispose(c);
  free(c);
}

static void an_update_bigger_than_the_map_fails_with_efull_and_the_store_goes_on(void **state) {
  fx_t *fx = *state;
  fx->map_size_bytes = 256 * 1024;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  assert_int_equal(fx_append(fx, "small-1", "d", 1), 0);
  size_t huge_len = 1024 * 1024;
  char *huge = malloc(huge_len + 1);
  memset(huge, 'h', huge_len);
  huge[huge_len] = '\0';
  assert_int_equal(fx_append(fx, "huge", huge, 2), QS_EFULL);
  free(huge);
  assert_int_equal(fx_append(fx, "small-3", "d", 3), 0);
  assert_int_equal(qs_store_last_seq(fx->store), 3);
  qs_store_stats_t st;
  qs_store_stats(fx->store, &st);
  assert_int_equal(st.failed, 1);
  collect_t *c = calloc(1, sizeof *c);
  assert_int_equal(replay_collect(fx->store, "earliest", UINT64_MAX, c), 0);
  assert_int_equal(c->n, 1); /* small-1 was evicted while making room */
  assert_string_equal(c->ids[0], "small-3");
  assert_int_equal(replay_collect(fx->store, "huge", UINT64_MAX, c), QS_ENOTFOUND);
  collect_dispose(c);
  free(c);
}

static void ids_longer_than_an_lmdb_key_are_found(void **state) {
  fx_t *fx = *state;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  char a[2001], b[2001];
  memset(a, 'i', 2000);
  memcpy(b, a, 2000);
  a[2000] = b[2000] = '\0';
  a[1999] = 'a';
  b[1999] = 'b';
  assert_int_equal(fx_append(fx, a, "1", 1), 0);
  assert_int_equal(fx_append(fx, b, "2", 2), 0);
  assert_int_equal(fx_append(fx, "short", "3", 3), 0);
  assert_int_equal(fx_append(fx, a, "4", 4), 0);
  collect_t *c = calloc(1, sizeof *c);
  assert_int_equal(replay_collect(fx->store, a, UINT64_MAX, c), 0);
  assert_int_equal(c->n, 3);
  assert_int_equal(replay_collect(fx->store, b, UINT64_MAX, c), 0);
  assert_int_equal(c->n, 2);
  b[1999] = 'c';
  assert_int_equal(replay_collect(fx->store, b, UINT64_MAX, c), QS_ENOTFOUND);
  collect_dispose(c);
  free(c);
}

static void the_pending_queue_is_bounded(void **state) {
  fx_t *fx = *state;
  fx->gc = (qs_store_group_commit_t){.flush_interval_ms = 60000, .max_batch = 8, .max_pending = 8};
  fx->durability = QS_STORE_DURABILITY_ASYNC;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  int full = 0;
  for (int i = 1; i <= 1000; i++) {
    char id[16];
    snprintf(id, sizeof id, "id-%d", i);
    int rc = fx_append_nowait(fx, id, "d", i);
    if (rc == QS_EFULL)
      full++;
    else
      assert_int_equal(rc, 0);
  }
  fx_close(fx);
  assert_int_equal(fx->durable_count + (uint64_t)full, 1000);
  assert_int_equal(fx->failures, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(reopen_keeps_the_history_and_the_last_seq, setup, teardown),
      cmocka_unit_test_setup_teardown(last_seq_survives_a_history_emptied_by_retention, setup, teardown),
      cmocka_unit_test_setup_teardown(group_commit_batches_and_calls_on_durable_in_seq_order, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(a_full_batch_is_committed_without_waiting_for_the_interval, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(destroy_commits_pending_appends, setup, teardown),
      cmocka_unit_test_setup_teardown(async_mode_acknowledges_in_append_and_replays_the_queue, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(acknowledged_updates_survive_a_crash, setup, teardown),
      cmocka_unit_test_setup_teardown(a_full_map_evicts_the_oldest_to_make_room, setup, teardown),
      cmocka_unit_test_setup_teardown(an_update_bigger_than_the_map_fails_with_efull_and_the_store_goes_on,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(ids_longer_than_an_lmdb_key_are_found, setup, teardown),
      cmocka_unit_test_setup_teardown(the_pending_queue_is_bounded, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
