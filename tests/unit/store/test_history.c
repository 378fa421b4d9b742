/* The history contract (store.h), checked through the vtable against every
 * back end: each test runs once with the memory ring and once with LMDB. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/clock.h"
#include "store_fixture.h"

static const backend_kind_t memory_kind = BACKEND_MEMORY;
static const backend_kind_t lmdb_kind = BACKEND_LMDB;

static int setup(void **state) {
  fx_t *fx = fx_new(*(const backend_kind_t *)*state);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fx_free(*state);
  qs_clock_set_wall_override_ms(0);
  return 0;
}

static collect_t *new_collect(void) { return calloc(1, sizeof(collect_t)); }
static void free_collect(collect_t *c) {
  collect_dispose(c);
  free(c);
}

/* Appends ids id-1..id-n (seq i gets id-i) and checks each was durable. */
static void append_n(fx_t *fx, int n) {
  for (int i = 1; i <= n; i++) {
    char id[32];
    snprintf(id, sizeof id, "id-%d", (int)fx->next_seq + 1);
    assert_int_equal(fx_append(fx, id, "payload", 1000 + i), 0);
  }
}

static void assert_seqs(const collect_t *c, uint64_t first, uint64_t last) {
  assert_int_equal(c->n, last >= first ? last - first + 1 : 0);
  for (size_t i = 0; i < c->n; i++) assert_int_equal(c->seqs[i], first + i);
}

static void replay_after_id_returns_the_later_updates_in_order(void **state) {
  fx_t *fx = *state;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  append_n(fx, 10);
  collect_t *c = new_collect();
  assert_int_equal(replay_collect(fx->store, "id-4", UINT64_MAX, c), 0);
  assert_seqs(c, 5, 10);
  assert_string_equal(c->ids[0], "id-5");
  assert_int_equal(replay_collect(fx->store, "id-10", UINT64_MAX, c), 0);
  assert_int_equal(c->n, 0);
  free_collect(c);
}

static void replayed_update_keeps_every_field_and_its_sse_bytes(void **state) {
  fx_t *fx = *state;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  assert_int_equal(fx_append(fx, "a", "x", 5), 0);
  assert_int_equal(fx_append(fx, "b", "line 1\nline 2\r\nline 3", 77), 0);
  collect_t *c = new_collect();
  assert_int_equal(replay_collect(fx->store, "a", UINT64_MAX, c), 0);
  assert_int_equal(c->n, 1);
  qs_update_t *want = make_update("b", "line 1\nline 2\r\nline 3", 77), *got = c->first;
  assert_int_equal(got->seq, 2);
  assert_int_equal(got->created_ms, 77);
  assert_int_equal(got->topic_count, 2);
  assert_true(qs_slice_eq(got->topics[0], want->topics[0]));
  assert_true(qs_slice_eq(got->topics[1], want->topics[1]));
  assert_true(qs_slice_eq(got->type, want->type));
  assert_int_equal(got->retry_ms, 1500);
  assert_true(got->is_private);
  assert_true(qs_slice_eq(got->data, want->data));
  assert_int_equal(got->sse.len, want->sse.len);
  assert_memory_equal(got->sse.ptr, want->sse.ptr, want->sse.len);
  qs_update_release(want);
  free_collect(c);
}

static void earliest_replays_everything_retained(void **state) {
  fx_t *fx = *state;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  collect_t *c = new_collect();
  assert_int_equal(replay_collect(fx->store, "earliest", UINT64_MAX, c), 0);
  assert_int_equal(c->n, 0);
  append_n(fx, 7);
  assert_int_equal(replay_collect(fx->store, "earliest", UINT64_MAX, c), 0);
  assert_seqs(c, 1, 7);
  free_collect(c);
}

static void unknown_or_empty_id_is_not_found(void **state) {
  fx_t *fx = *state;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  collect_t *c = new_collect();
  assert_int_equal(replay_collect(fx->store, "nope", UINT64_MAX, c), QS_ENOTFOUND);
  append_n(fx, 3);
  assert_int_equal(replay_collect(fx->store, "nope", UINT64_MAX, c), QS_ENOTFOUND);
  assert_int_equal(replay_collect(fx->store, "", UINT64_MAX, c), QS_ENOTFOUND);
  assert_int_equal(replay_collect(fx->store, "id-", UINT64_MAX, c), QS_ENOTFOUND);
  assert_int_equal(c->n, 0);
  free_collect(c);
}

/* §Reconciliation: a cursor matching several events resolves to the earliest,
 * and later events reusing the id are sent. */
static void duplicate_id_resolves_to_the_earliest_occurrence(void **state) {
  fx_t *fx = *state;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  assert_int_equal(fx_append(fx, "x", "1", 1), 0);
  assert_int_equal(fx_append(fx, "y", "2", 2), 0);
  assert_int_equal(fx_append(fx, "x", "3", 3), 0);
  assert_int_equal(fx_append(fx, "z", "4", 4), 0);
  assert_int_equal(fx_append(fx, "x", "5", 5), 0);
  collect_t *c = new_collect();
  assert_int_equal(replay_collect(fx->store, "x", UINT64_MAX, c), 0);
  assert_seqs(c, 2, 5);
  assert_string_equal(c->ids[1], "x");
  free_collect(c);
}

static void duplicate_id_after_eviction_resolves_to_the_earliest_retained(void **state) {
  fx_t *fx = *state;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){.max_count = 4}), 0);
  assert_int_equal(fx_append(fx, "x", "1", 1), 0);
  assert_int_equal(fx_append(fx, "y", "2", 2), 0);
  assert_int_equal(fx_append(fx, "x", "3", 3), 0);
  assert_int_equal(fx_append(fx, "z", "4", 4), 0);
  assert_int_equal(fx_append(fx, "x", "5", 5), 0); /* evicts seq 1, the first x */
  collect_t *c = new_collect();
  assert_int_equal(replay_collect(fx->store, "x", UINT64_MAX, c), 0);
  assert_seqs(c, 4, 5);
  assert_int_equal(fx_append(fx, "w", "6", 6), 0);
  assert_int_equal(fx_append(fx, "v", "7", 7), 0); /* evicts seq 2 and 3: x is now seq 5 */
  assert_int_equal(replay_collect(fx->store, "x", UINT64_MAX, c), 0);
  assert_seqs(c, 6, 7);
  assert_int_equal(replay_collect(fx->store, "y", UINT64_MAX, c), QS_ENOTFOUND);
  assert_int_equal(fx_append(fx, "u", "8", 8), 0);
  assert_int_equal(fx_append(fx, "t", "9", 9), 0); /* evicts seq 5, the last x */
  assert_int_equal(replay_collect(fx->store, "x", UINT64_MAX, c), QS_ENOTFOUND);
  assert_int_equal(fx_append(fx, "x", "10", 10), 0); /* a fresh x after all were evicted */
  assert_int_equal(replay_collect(fx->store, "x", UINT64_MAX, c), 0);
  assert_int_equal(c->n, 0);
  free_collect(c);
}

static void up_to_seq_bounds_the_replay(void **state) {
  fx_t *fx = *state;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  append_n(fx, 10);
  collect_t *c = new_collect();
  assert_int_equal(replay_collect(fx->store, "id-2", 6, c), 0);
  assert_seqs(c, 3, 6);
  assert_int_equal(replay_collect(fx->store, "earliest", 1, c), 0);
  assert_seqs(c, 1, 1);
  assert_int_equal(replay_collect(fx->store, "earliest", 0, c), 0);
  assert_int_equal(c->n, 0);
  free_collect(c);
}

static void each_returning_false_stops_the_replay(void **state) {
  fx_t *fx = *state;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  append_n(fx, 600); /* more than one chunk of the memory ring */
  collect_t *c = new_collect();
  c->stop_after = 300;
  assert_int_equal(replay_collect(fx->store, "earliest", UINT64_MAX, c), 0);
  assert_int_equal(c->n, 300);
  c->stop_after = 0;
  assert_int_equal(replay_collect(fx->store, "earliest", UINT64_MAX, c), 0);
  assert_seqs(c, 1, 600);
  free_collect(c);
}

static void retention_by_count_keeps_the_newest(void **state) {
  fx_t *fx = *state;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){.max_count = 5}), 0);
  append_n(fx, 12);
  collect_t *c = new_collect();
  assert_int_equal(replay_collect(fx->store, "earliest", UINT64_MAX, c), 0);
  assert_seqs(c, 8, 12);
  assert_int_equal(replay_collect(fx->store, "id-7", UINT64_MAX, c), QS_ENOTFOUND);
  assert_int_equal(replay_collect(fx->store, "id-8", UINT64_MAX, c), 0);
  assert_seqs(c, 9, 12);
  qs_store_stats_t st;
  qs_store_stats(fx->store, &st);
  assert_int_equal(st.count, 5);
  assert_int_equal(st.first_seq, 8);
  assert_int_equal(st.evicted, 7);
  free_collect(c);
}

static void retention_by_bytes_keeps_what_fits(void **state) {
  fx_t *fx = *state;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  assert_int_equal(fx_append(fx, "id-00", "0123456789", 1), 0);
  qs_store_stats_t st;
  qs_store_stats(fx->store, &st);
  uint64_t one = st.bytes;
  assert_true(one > 10);
  fx_reset(fx);
  assert_int_equal(fx_open(fx, (qs_store_retention_t){.max_bytes = 3 * one + one / 2}), 0);
  for (int i = 1; i <= 10; i++) {
    char id[16];
    snprintf(id, sizeof id, "id-%02d", i);
    assert_int_equal(fx_append(fx, id, "0123456789", i), 0);
  }
  collect_t *c = new_collect();
  assert_int_equal(replay_collect(fx->store, "earliest", UINT64_MAX, c), 0);
  assert_seqs(c, 8, 10);
  qs_store_stats(fx->store, &st);
  assert_int_equal(st.bytes, 3 * one);
  free_collect(c);
}

static void retention_by_age_discards_old_updates(void **state) {
  fx_t *fx = *state;
  const int64_t now = 10000000;
  qs_clock_set_wall_override_ms(now);
  assert_int_equal(fx_open(fx, (qs_store_retention_t){.max_age_ms = 5000}), 0);
  for (int i = 0; i < 10; i++) {
    char id[16];
    snprintf(id, sizeof id, "id-%d", i + 1);
    assert_int_equal(fx_append(fx, id, "d", now - 9000 + i * 1000), 0);
  }
  collect_t *c = new_collect();
  assert_int_equal(replay_collect(fx->store, "earliest", UINT64_MAX, c), 0);
  assert_seqs(c, 5, 10); /* created at now-5000 and later */
  assert_int_equal(replay_collect(fx->store, "id-4", UINT64_MAX, c), QS_ENOTFOUND);
  /* Time passes with no append: replay still honours the age. */
  qs_clock_set_wall_override_ms(now + 3000);
  assert_int_equal(replay_collect(fx->store, "earliest", UINT64_MAX, c), 0);
  assert_seqs(c, 8, 10);
  assert_int_equal(replay_collect(fx->store, "id-6", UINT64_MAX, c), QS_ENOTFOUND);
  assert_int_equal(replay_collect(fx->store, "id-8", UINT64_MAX, c), 0);
  assert_seqs(c, 9, 10);
  free_collect(c);
}

static void last_seq_and_last_id_follow_the_newest(void **state) {
  fx_t *fx = *state;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){.max_count = 3}), 0);
  char out[64] = "junk";
  assert_int_equal(qs_store_last_seq(fx->store), 0);
  assert_int_equal(qs_store_last_id(fx->store, out, sizeof out), 0);
  assert_string_equal(out, "");
  append_n(fx, 9);
  assert_int_equal(qs_store_last_seq(fx->store), 9);
  assert_int_equal(qs_store_last_id(fx->store, out, sizeof out), 4);
  assert_string_equal(out, "id-9");
  char small[3];
  assert_int_equal(qs_store_last_id(fx->store, small, sizeof small), 4);
  assert_string_equal(small, "id");
  qs_store_stats_t st;
  qs_store_stats(fx->store, &st);
  assert_int_equal(st.last_seq, 9);
  assert_int_equal(st.last_created_ms, 1009);
}

static void append_rejects_a_seq_out_of_order(void **state) {
  fx_t *fx = *state;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  append_n(fx, 2);
  qs_update_t *u = make_update("late", "d", 1);
  u->seq = 2;
  assert_int_equal(qs_store_append(fx->store, u), QS_EINVAL);
  u->seq = 0;
  assert_int_equal(qs_store_append(fx->store, u), QS_EINVAL);
  qs_update_release(u);
  assert_int_equal(qs_store_last_seq(fx->store), 2);
  assert_int_equal(fx->durable_count, 2);
}

/* ---- The range replay (replay_after_seq) ---- */

static void range_replay_returns_the_updates_after_a_seq_up_to_a_bound(void **state) {
  fx_t *fx = *state;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  append_n(fx, 10);
  collect_t *c = new_collect();
  assert_int_equal(replay_after_collect(fx->store, 0, UINT64_MAX, c), 0);
  assert_seqs(c, 1, 10);
  assert_int_equal(replay_after_collect(fx->store, 4, UINT64_MAX, c), 0);
  assert_seqs(c, 5, 10);
  assert_string_equal(c->ids[0], "id-5");
  assert_int_equal(replay_after_collect(fx->store, 4, 7, c), 0);
  assert_seqs(c, 5, 7);
  assert_int_equal(replay_after_collect(fx->store, 10, UINT64_MAX, c), 0);
  assert_int_equal(c->n, 0);
  assert_int_equal(replay_after_collect(fx->store, 7, 7, c), 0);
  assert_int_equal(c->n, 0);
  assert_int_equal(replay_after_collect(fx->store, 20, UINT64_MAX, c), 0); /* beyond the newest */
  assert_int_equal(c->n, 0);
  /* The replayed update is complete. */
  assert_int_equal(replay_after_collect(fx->store, 2, 3, c), 0);
  assert_non_null(c->first);
  assert_int_equal(c->first->seq, 3);
  assert_int_equal(c->first->topic_count, 2);
  assert_true(c->first->is_private);
  assert_true(qs_slice_eq_cstr(c->first->type, "note"));
  free_collect(c);
}

static void range_replay_in_slices_covers_everything_once(void **state) {
  fx_t *fx = *state;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){0}), 0);
  append_n(fx, 1000); /* several chunks of the memory ring */
  collect_t *c = new_collect();
  uint64_t pos = 0, expected = 1;
  int slices = 0;
  c->stop_after = 64;
  for (;;) {
    assert_int_equal(replay_after_collect(fx->store, pos, 1000, c), 0);
    if (c->n == 0) break;
    for (size_t i = 0; i < c->n; i++) assert_int_equal(c->seqs[i], expected++);
    pos = c->seqs[c->n - 1];
    slices++;
  }
  assert_int_equal(expected, 1001);
  assert_int_equal(slices, 16);
  free_collect(c);
}

static void range_replay_reports_updates_discarded_before_being_replayed(void **state) {
  fx_t *fx = *state;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){.max_count = 5}), 0);
  append_n(fx, 12); /* 8..12 retained */
  collect_t *c = new_collect();
  /* Positions at or after the oldest retained update's predecessor are fine. */
  assert_int_equal(replay_after_collect(fx->store, 7, UINT64_MAX, c), 0);
  assert_seqs(c, 8, 12);
  assert_int_equal(replay_after_collect(fx->store, 9, UINT64_MAX, c), 0);
  assert_seqs(c, 10, 12);
  /* Seqs 4..7 are gone: never skip them silently. */
  assert_int_equal(replay_after_collect(fx->store, 3, UINT64_MAX, c), QS_ELIMIT);
  assert_int_equal(c->n, 0);
  assert_int_equal(replay_after_collect(fx->store, 6, UINT64_MAX, c), QS_ELIMIT);
  assert_int_equal(c->n, 0);
  /* ...unless nothing is asked for. */
  assert_int_equal(replay_after_collect(fx->store, 3, 3, c), 0);
  free_collect(c);
}

static void range_replay_reports_updates_expired_before_being_replayed(void **state) {
  fx_t *fx = *state;
  const int64_t now = 10000000;
  qs_clock_set_wall_override_ms(now);
  assert_int_equal(fx_open(fx, (qs_store_retention_t){.max_age_ms = 5000}), 0);
  for (int i = 0; i < 10; i++) {
    char id[16];
    snprintf(id, sizeof id, "id-%d", i + 1);
    assert_int_equal(fx_append(fx, id, "d", now - 4000 + i * 100), 0);
  }
  collect_t *c = new_collect();
  assert_int_equal(replay_after_collect(fx->store, 2, UINT64_MAX, c), 0);
  assert_seqs(c, 3, 10);
  /* Time passes with no append: 1..5 expire (created before now + 1500 - 5000). */
  qs_clock_set_wall_override_ms(now + 1500);
  assert_int_equal(replay_after_collect(fx->store, 2, UINT64_MAX, c), QS_ELIMIT);
  assert_int_equal(replay_after_collect(fx->store, 5, UINT64_MAX, c), 0);
  assert_seqs(c, 6, 10);
  free_collect(c);
}

/* Replays from other threads while the sequencer appends and retention
 * evicts: every replay is in seq order with no gap. */
#define CONCURRENT_APPENDS 5000
#define READERS 2

typedef struct {
  fx_t *fx;
  _Atomic bool done;
  _Atomic int bad;
  _Atomic int replays;
} race_t;

static bool check_order(void *ctx, qs_update_t *u) {
  uint64_t *prev = ctx;
  if (*prev && u->seq != *prev + 1) return (*prev = UINT64_MAX), false;
  *prev = u->seq;
  return true;
}

static void *reader_main(void *arg) {
  race_t *r = arg;
  while (!atomic_load(&r->done)) {
    uint64_t prev = 0;
    uint64_t up_to = qs_store_last_seq(r->fx->store);
    int rc = qs_store_replay(r->fx->store, qs_slice_from_cstr("earliest"), up_to, check_order, &prev);
    /* The memory ring may be overtaken between chunks (QS_ELIMIT), or
     * before the replay starts: when retention has already gone past up_to,
     * "earliest" rightly replays nothing. */
    bool overtaken = false;
    if (rc == 0 && prev == 0 && up_to) {
      qs_store_stats_t st;
      qs_store_stats(r->fx->store, &st);
      overtaken = st.first_seq > up_to;
    }
    if ((rc != 0 && rc != QS_ELIMIT) || prev == UINT64_MAX ||
        (rc == 0 && up_to && prev != up_to && !overtaken))
      atomic_fetch_add(&r->bad, 1);
    char id[32];
    snprintf(id, sizeof id, "id-%" PRIu64, up_to > 500 ? up_to - 500 : 1);
    prev = 0;
    rc = qs_store_replay(r->fx->store, qs_slice_from_cstr(id), up_to, check_order, &prev);
    if ((rc != 0 && rc != QS_ENOTFOUND && rc != QS_ELIMIT) || prev == UINT64_MAX)
      atomic_fetch_add(&r->bad, 1);
    atomic_fetch_add(&r->replays, 1);
  }
  return NULL;
}

static void replay_runs_concurrently_with_appends(void **state) {
  fx_t *fx = *state;
  assert_int_equal(fx_open(fx, (qs_store_retention_t){.max_count = 1000}), 0);
  race_t race = {.fx = fx};
  pthread_t readers[READERS];
  for (int i = 0; i < READERS; i++) pthread_create(&readers[i], NULL, reader_main, &race);
  for (int i = 0; i < CONCURRENT_APPENDS; i++) {
    char id[32];
    snprintf(id, sizeof id, "id-%d", i + 1);
    int rc;
    while ((rc = fx_append_nowait(fx, id, "concurrent", i)) == QS_EFULL) usleep(100);
    assert_int_equal(rc, 0);
  }
  assert_true(fx_wait_durable(fx, CONCURRENT_APPENDS));
  atomic_store(&race.done, true);
  for (int i = 0; i < READERS; i++) pthread_join(readers[i], NULL);
  assert_int_equal(atomic_load(&race.bad), 0);
  assert_true(atomic_load(&race.replays) > 0);
  assert_false(fx->out_of_order);
  assert_int_equal(fx->failures, 0);
  collect_t *c = new_collect();
  assert_int_equal(replay_collect(fx->store, "earliest", UINT64_MAX, c), 0);
  assert_seqs(c, CONCURRENT_APPENDS - 999, CONCURRENT_APPENDS);
  free_collect(c);
}

#define ON(test, kind, label)                                                                        \
  {                                                                                                  \
    .name = #test " (" label ")", .test_func = test, .setup_func = setup, .teardown_func = teardown, \
    .initial_state = (void *)&kind                                                                   \
  }
#define BOTH(test) ON(test, memory_kind, "memory"), ON(test, lmdb_kind, "lmdb")

int main(void) {
  const struct CMUnitTest tests[] = {
      BOTH(replay_after_id_returns_the_later_updates_in_order),
      BOTH(replayed_update_keeps_every_field_and_its_sse_bytes),
      BOTH(earliest_replays_everything_retained),
      BOTH(unknown_or_empty_id_is_not_found),
      BOTH(duplicate_id_resolves_to_the_earliest_occurrence),
      BOTH(duplicate_id_after_eviction_resolves_to_the_earliest_retained),
      BOTH(up_to_seq_bounds_the_replay),
      BOTH(each_returning_false_stops_the_replay),
      BOTH(retention_by_count_keeps_the_newest),
      BOTH(retention_by_bytes_keeps_what_fits),
      BOTH(retention_by_age_discards_old_updates),
      BOTH(last_seq_and_last_id_follow_the_newest),
      BOTH(append_rejects_a_seq_out_of_order),
      BOTH(replay_runs_concurrently_with_appends),
      BOTH(range_replay_returns_the_updates_after_a_seq_up_to_a_bound),
      BOTH(range_replay_in_slices_covers_everything_once),
      BOTH(range_replay_reports_updates_discarded_before_being_replayed),
      BOTH(range_replay_reports_updates_expired_before_being_replayed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
