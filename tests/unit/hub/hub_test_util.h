/* Test helpers for the hub: a fake sink that records what it is given, test
 * stores, and update/matcher/grants builders. Header-only, one copy per test
 * executable. */
#ifndef QS_TEST_HUB_TEST_UTIL_H
#define QS_TEST_HUB_TEST_UTIL_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka needs the headers above first. */
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auth/grants.h"
#include "base/clock.h"
#include "base/error.h"
#include "hub/hub.h"

/* ---- Fake sink ---- */

#define FAKE_MAX_EVENTS 4096

typedef struct fake_conn {
  qs_subscriber_t *sub;
  char *ids[FAKE_MAX_EVENTS]; /* ids of the updates written, in order */
  uint64_t seqs[FAKE_MAX_EVENTS];
  size_t count;
  size_t heartbeats;
  size_t queued;             /* simulated queued bytes */
  size_t queue_per_write;    /* bytes each write adds to `queued` (slow reader) */
  size_t write_calls;        /* write_update calls, refused ones included */
  bool fail_writes;          /* write_update refuses (QS_EIO): the connection broke */
  bool closed_by_hub;        /* the hub called close */
  bool unsubscribe_on_close; /* like a real transport: unsubscribe from the loop once asked to close */
  bool closing;              /* on fake_closing: the unsubscribe waits for the loop */
  struct fake_conn *closing_next;
  pthread_t writer; /* thread of the last write */
} fake_conn_t;

/* Connections the hub asked to close whose unsubscribe waits for the loop,
 * as the HTTP layer runs a stream's close callback from the loop, never
 * inside the call that asked for it (http.h). One list per thread: each
 * test loop runs on one thread; run_until and run_for empty it. */
static _Thread_local fake_conn_t *fake_closing;

/* The close callbacks the loop owes: each waiting connection unsubscribes. */
static inline void fake_run_closes(void) {
  while (fake_closing) {
    fake_conn_t *c = fake_closing;
    fake_closing = c->closing_next;
    c->closing_next = NULL;
    c->closing = false;
    if (c->sub) {
      qs_hub_unsubscribe(c->sub);
      c->sub = NULL;
    }
  }
}

static inline int fake_write_update(void *ctx, qs_update_t *update) {
  fake_conn_t *c = ctx;
  c->write_calls++;
  if (c->fail_writes) return QS_EIO;
  assert_true(c->count < FAKE_MAX_EVENTS);
  c->ids[c->count] = strndup(update->id.ptr, update->id.len);
  c->seqs[c->count] = update->seq;
  c->count++;
  c->queued += c->queue_per_write;
  c->writer = pthread_self();
  return 0;
}

static inline int fake_write_bytes(void *ctx, const char *ptr, size_t len) {
  fake_conn_t *c = ctx;
  if (len == 2 && memcmp(ptr, ":\n", 2) == 0) c->heartbeats++;
  return 0;
}

static inline size_t fake_queued_bytes(void *ctx) { return ((fake_conn_t *)ctx)->queued; }

static inline void fake_close(void *ctx) {
  fake_conn_t *c = ctx;
  assert_false(c->closed_by_hub); /* at most once */
  c->closed_by_hub = true;
  if (c->unsubscribe_on_close) {
    c->closing = true;
    c->closing_next = fake_closing;
    fake_closing = c;
  }
}

static const qs_sink_vtable_t fake_sink_vtable = {
    .write_update = fake_write_update,
    .write_bytes = fake_write_bytes,
    .queued_bytes = fake_queued_bytes,
    .close = fake_close,
};

static inline fake_conn_t *fake_conn_new(void) {
  fake_conn_t *c = calloc(1, sizeof *c);
  assert_non_null(c);
  c->unsubscribe_on_close = true;
  return c;
}

/* Releases the subscriber (when still held) and frees the recording. */
static inline void fake_conn_free(fake_conn_t *c) {
  /* Freed before the loop ran its close callback: off the list. */
  for (fake_conn_t **p = &fake_closing; c->closing && *p;) {
    if (*p == c) {
      *p = c->closing_next;
      c->closing = false;
    } else {
      p = &(*p)->closing_next;
    }
  }
  if (c->sub) qs_hub_unsubscribe(c->sub);
  for (size_t i = 0; i < c->count; i++) free(c->ids[i]);
  free(c);
}

/* The ids received, joined with ',' (static buffer per call site use). */
static inline const char *fake_ids(const fake_conn_t *c, char *out, size_t out_size) {
  size_t n = 0;
  out[0] = '\0';
  for (size_t i = 0; i < c->count && n + 1 < out_size; i++)
    n += (size_t)snprintf(out + n, out_size - n, "%s%s", i ? "," : "", c->ids[i]);
  return out;
}

/* ---- Builders ---- */

static inline qs_update_t *make_update(const char *id, const char *const *topics, size_t topic_count,
                                       bool is_private) {
  qs_slice_t t[8];
  assert_true(topic_count <= 8);
  for (size_t i = 0; i < topic_count; i++) t[i] = qs_slice_from_cstr(topics[i]);
  qs_update_fields_t f = {.id = qs_slice_from_cstr(id),
                          .topics = t,
                          .topic_count = topic_count,
                          .data = qs_slice_from_cstr("payload"),
                          .is_private = is_private};
  qs_update_t *u = qs_update_create(&f, 0);
  assert_non_null(u);
  return u;
}

static inline qs_matcher_t *make_matcher(qs_match_type_t type, const char *pattern) {
  qs_match_options_t opt = {.hub_url = qs_slice_from_cstr("https://hub.example/.well-known/mercure"),
                            .max_pattern_bytes = 4096};
  qs_matcher_t *m = NULL;
  const char *reason = NULL;
  assert_int_equal(qs_matcher_create(type, qs_slice_from_cstr(pattern), &opt, &m, &reason), 0);
  return m;
}

/* Grants with one subscribe grant per exact topic given. */
static inline qs_grants_t *make_grants(const char *const *topics, size_t count) {
  qs_grants_t *g = qs_grants_create_empty();
  assert_non_null(g);
  for (size_t i = 0; i < count; i++)
    assert_int_equal(qs_grants_add_subscribe(g, make_matcher(QS_MATCH_EXACT, topics[i]), qs_slice(NULL, 0)),
                     0);
  return g;
}

/* Subscribes `c` with exact/legacy/urlpattern matchers "type:pattern"
 * (e.g. "exact:a", "topic:https://x/{id}", "urlpattern:https://x/b" with a star) or "*". */
static inline int subscribe_conn(qs_hub_shard_t *shard, fake_conn_t *c, qs_grants_t *grants,
                                 const char *cursor, const char *const *selectors, size_t count) {
  qs_matcher_t *ms[8];
  assert_true(count <= 8);
  for (size_t i = 0; i < count; i++) {
    const char *s = selectors[i];
    if (strncmp(s, "exact:", 6) == 0)
      ms[i] = make_matcher(QS_MATCH_EXACT, s + 6);
    else if (strncmp(s, "topic:", 6) == 0)
      ms[i] = make_matcher(QS_MATCH_LEGACY, s + 6);
    else if (strncmp(s, "urlpattern:", 11) == 0)
      ms[i] = make_matcher(QS_MATCH_URLPATTERN, s + 11);
    else
      ms[i] = make_matcher(QS_MATCH_EXACT, s);
  }
  qs_grants_t *g = grants ? grants : qs_grants_create_empty();
  qs_hub_subscribe_params_t p = {.matchers = ms,
                                 .matcher_count = count,
                                 .grants = g,
                                 .has_last_event_id = cursor != NULL,
                                 .last_event_id = qs_slice_from_cstr(cursor)};
  qs_sink_t sink = {&fake_sink_vtable, c};
  int rc = qs_hub_subscribe(shard, &p, &sink, &c->sub);
  if (rc < 0)
    for (size_t i = 0; i < count; i++) qs_matcher_destroy(ms[i]);
  qs_grants_release(g); /* the hub holds its own reference */
  return rc;
}

/* ---- Stores ---- */

static inline int open_memory_store(void *arg, qs_store_on_durable_fn on_durable, void *ctx,
                                    qs_store_t **out) {
  qs_store_retention_t retention = {.max_count = arg ? *(uint64_t *)arg : 0};
  return qs_store_memory_create(&retention, on_durable, ctx, out);
}

/* A test store that holds appends until test_store_flush(), then reports
 * them durable (or failed) in order; replay knows nothing. */
typedef struct {
  qs_store_t base;
  pthread_mutex_t mutex;
  qs_update_t *held[256];
  size_t held_count;
  uint64_t last_seq;
  int fail_status; /* status reported at flush; 0 = durable */
  int append_rc;   /* returned by append when < 0 */
} test_store_t;

static inline int test_append(qs_store_t *s, qs_update_t *u) {
  test_store_t *t = (test_store_t *)s;
  if (t->append_rc < 0) return t->append_rc;
  pthread_mutex_lock(&t->mutex);
  t->held[t->held_count++] = qs_update_retain(u);
  pthread_mutex_unlock(&t->mutex);
  return 0;
}

static inline int test_replay(qs_store_t *s, qs_slice_t id, uint64_t up_to, qs_store_each_fn each,
                              void *ctx) {
  return QS_ENOTFOUND;
}

static inline uint64_t test_last_seq(qs_store_t *s) { return ((test_store_t *)s)->last_seq; }

static inline size_t test_last_id(qs_store_t *s, char *out, size_t size) {
  if (size) out[0] = '\0';
  return 0;
}

/* Reports every held append, in order (from the calling thread). */
static inline void test_store_flush(test_store_t *t) {
  pthread_mutex_lock(&t->mutex);
  size_t n = t->held_count;
  qs_update_t *held[256];
  memcpy(held, t->held, n * sizeof *held);
  t->held_count = 0;
  pthread_mutex_unlock(&t->mutex);
  for (size_t i = 0; i < n; i++) {
    if (t->fail_status == 0) t->last_seq = held[i]->seq;
    t->base.on_durable(t->base.on_durable_ctx, held[i], t->fail_status);
    qs_update_release(held[i]);
  }
}

static inline void test_destroy(qs_store_t *s) {
  test_store_t *t = (test_store_t *)s;
  test_store_flush(t);
  pthread_mutex_destroy(&t->mutex);
  free(t);
}

static const qs_store_vtable_t test_store_vtable = {
    .name = "test",
    .append = test_append,
    .replay = test_replay,
    .last_seq = test_last_seq,
    .last_id = test_last_id,
    .destroy = test_destroy,
};

static inline int open_test_store(void *arg, qs_store_on_durable_fn on_durable, void *ctx, qs_store_t **out) {
  test_store_t *t = calloc(1, sizeof *t);
  if (!t) return QS_ENOMEM;
  t->base = (qs_store_t){.vtable = &test_store_vtable, .on_durable = on_durable, .on_durable_ctx = ctx};
  pthread_mutex_init(&t->mutex, NULL);
  t->last_seq = arg ? *(uint64_t *)arg : 0;
  *out = &t->base;
  return 0;
}

/* ---- Loop driving ---- */

/* Runs `loop` until *flag is true or `timeout_ms` passes; returns *flag. */
static inline bool run_until(uv_loop_t *loop, volatile bool *flag, int64_t timeout_ms) {
  int64_t end = qs_clock_mono_ms() + timeout_ms;
  while (!*flag && qs_clock_mono_ms() < end) {
    uv_run(loop, UV_RUN_NOWAIT);
    fake_run_closes();
    if (!*flag) uv_sleep(1);
  }
  return *flag;
}

/* Runs `loop` for about `ms` milliseconds. */
static inline void run_for(uv_loop_t *loop, int64_t ms) {
  volatile bool never = false;
  run_until(loop, &never, ms);
}

#endif
