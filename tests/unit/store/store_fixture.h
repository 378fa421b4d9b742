/* Shared by the store tests: a fixture that opens either back end and records
 * on_durable calls, plus helpers to append and to collect a replay. Included
 * by test_history.c and test_lmdb.c (each is its own executable). */
#ifndef QS_TESTS_STORE_FIXTURE_H
#define QS_TESTS_STORE_FIXTURE_H

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "store/store.h"

typedef enum { BACKEND_MEMORY, BACKEND_LMDB } backend_kind_t;

typedef struct {
  backend_kind_t kind;
  qs_store_t *store;
  char dir[128];
  uint64_t map_size_bytes;
  qs_store_group_commit_t gc;
  qs_store_durability_t durability;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint64_t durable_count;
  uint64_t last_durable_seq;
  int last_status;
  uint64_t failures;
  bool out_of_order;
  uint64_t next_seq;
} fx_t;

static inline void fx_on_durable(void *ctx, qs_update_t *u, int status) {
  fx_t *fx = ctx;
  pthread_mutex_lock(&fx->mu);
  if (u->seq <= fx->last_durable_seq) fx->out_of_order = true;
  fx->last_durable_seq = u->seq;
  fx->last_status = status;
  if (status) fx->failures++;
  fx->durable_count++;
  pthread_cond_broadcast(&fx->cv);
  pthread_mutex_unlock(&fx->mu);
}

static inline fx_t *fx_new(backend_kind_t kind) {
  fx_t *fx = calloc(1, sizeof *fx);
  fx->kind = kind;
  pthread_mutex_init(&fx->mu, NULL);
  pthread_cond_init(&fx->cv, NULL);
  snprintf(fx->dir, sizeof fx->dir, "/tmp/qs_store_test_XXXXXX");
  if (!mkdtemp(fx->dir)) abort();
  fx->gc = (qs_store_group_commit_t){.flush_interval_ms = 0, .max_batch = 64};
  return fx;
}

static inline int fx_open(fx_t *fx, qs_store_retention_t retention) {
  if (fx->kind == BACKEND_MEMORY) return qs_store_memory_create(&retention, fx_on_durable, fx, &fx->store);
  return qs_store_lmdb_create(fx->dir, fx->map_size_bytes, &retention, &fx->gc, fx->durability, fx_on_durable,
                              fx, &fx->store);
}

static inline void fx_close(fx_t *fx) {
  qs_store_destroy(fx->store);
  fx->store = NULL;
}

static inline void fx_wipe(fx_t *fx) {
  char path[256];
  snprintf(path, sizeof path, "%s/data.mdb", fx->dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/lock.mdb", fx->dir);
  unlink(path);
}

/* Closes, deletes the files, and resets the counters (seq numbering included). */
static inline void fx_reset(fx_t *fx) {
  fx_close(fx);
  fx_wipe(fx);
  fx->durable_count = fx->last_durable_seq = fx->failures = fx->next_seq = 0;
  fx->out_of_order = false;
}

static inline void fx_free(fx_t *fx) {
  fx_close(fx);
  fx_wipe(fx);
  rmdir(fx->dir);
  pthread_cond_destroy(&fx->cv);
  pthread_mutex_destroy(&fx->mu);
  free(fx);
}

/* Waits (up to 10 s) until on_durable has been called `count` times in all. */
static inline bool fx_wait_durable(fx_t *fx, uint64_t count) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 10;
  pthread_mutex_lock(&fx->mu);
  int rc = 0;
  while (fx->durable_count < count && rc == 0) rc = pthread_cond_timedwait(&fx->cv, &fx->mu, &deadline);
  bool ok = fx->durable_count >= count;
  pthread_mutex_unlock(&fx->mu);
  return ok;
}

static inline qs_update_t *make_update(const char *id, const char *data, int64_t created_ms) {
  qs_slice_t topics[2] = {qs_slice_from_cstr("https://example.com/books/1"), qs_slice_from_cstr("urn:other")};
  qs_update_fields_t f = {.id = qs_slice_from_cstr(id),
                          .topics = topics,
                          .topic_count = 2,
                          .type = qs_slice_from_cstr("note"),
                          .retry_ms = 1500,
                          .data = qs_slice_from_cstr(data),
                          .is_private = true};
  return qs_update_create(&f, created_ms);
}

/* Appends an update with the next seq without waiting; returns append's code. */
static inline int fx_append_nowait(fx_t *fx, const char *id, const char *data, int64_t created_ms) {
  qs_update_t *u = make_update(id, data, created_ms);
  if (!u) return QS_ENOMEM;
  u->seq = ++fx->next_seq;
  int rc = qs_store_append(fx->store, u);
  if (rc) fx->next_seq--;
  qs_update_release(u);
  return rc;
}

/* Appends and waits for its on_durable; returns append's code, or the status
 * on_durable reported. */
static inline int fx_append(fx_t *fx, const char *id, const char *data, int64_t created_ms) {
  pthread_mutex_lock(&fx->mu);
  uint64_t before = fx->durable_count;
  pthread_mutex_unlock(&fx->mu);
  int rc = fx_append_nowait(fx, id, data, created_ms);
  if (rc) return rc;
  if (!fx_wait_durable(fx, before + 1)) return QS_EIO;
  pthread_mutex_lock(&fx->mu);
  rc = fx->last_status;
  pthread_mutex_unlock(&fx->mu);
  return rc;
}

#define MAX_COLLECT 4096

/* What a replay delivered. */
typedef struct {
  size_t n;
  size_t stop_after; /* 0: never stop */
  uint64_t seqs[MAX_COLLECT];
  char ids[MAX_COLLECT][32];
  qs_update_t *first; /* retained */
} collect_t;

static inline bool collect_each(void *ctx, qs_update_t *u) {
  collect_t *c = ctx;
  if (c->n < MAX_COLLECT) {
    c->seqs[c->n] = u->seq;
    snprintf(c->ids[c->n], sizeof c->ids[c->n], "%.*s", (int)u->id.len, u->id.ptr);
  }
  if (c->n == 0) c->first = qs_update_retain(u);
  c->n++;
  return !(c->stop_after && c->n >= c->stop_after);
}

static inline int replay_collect(qs_store_t *store, const char *last_event_id, uint64_t up_to_seq,
                                 collect_t *c) {
  if (c->first) qs_update_release(c->first);
  c->n = 0;
  c->first = NULL;
  return qs_store_replay(store, qs_slice_from_cstr(last_event_id), up_to_seq, collect_each, c);
}

/* The range replay (replay_after_seq) into `c`. */
static inline int replay_after_collect(qs_store_t *store, uint64_t after_seq, uint64_t up_to_seq,
                                       collect_t *c) {
  if (c->first) qs_update_release(c->first);
  c->n = 0;
  c->first = NULL;
  return qs_store_replay_after_seq(store, after_seq, up_to_seq, collect_each, c);
}

static inline void collect_dispose(collect_t *c) {
  if (c->first) qs_update_release(c->first);
  c->first = NULL;
}

#endif
