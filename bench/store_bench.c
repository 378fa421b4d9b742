/* History micro benchmark: durable appends per second with group commit, the
 * latency of one durable append, and replay latency from the newest and from
 * the oldest entry of a large history, for LMDB and for the memory ring.
 *
 *   store_bench [--count N] [--data-bytes B] [--flush-ms MS] [--batch N]
 *               [--async] [--dir PATH] [--backend lmdb|memory|both]
 *
 * Defaults: 1,000,000 updates of 100 data bytes, 2 ms / 512 per batch, sync
 * durability, a fresh directory under /tmp (deleted afterwards). */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "base/uuid.h"
#include "store/store.h"

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint64_t durable;
  uint64_t failed;
} progress_t;

static void on_durable(void *ctx, qs_update_t *u, int status) {
  progress_t *p = ctx;
  pthread_mutex_lock(&p->mu);
  p->durable++;
  if (status) p->failed++;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

static void wait_durable(progress_t *p, uint64_t n) {
  pthread_mutex_lock(&p->mu);
  while (p->durable < n) pthread_cond_wait(&p->cv, &p->mu);
  pthread_mutex_unlock(&p->mu);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static char *data;
static char (*ids)[QS_UUID_URN_LEN + 1];

static qs_update_t *make(uint64_t seq) {
  char topic[64];
  snprintf(topic, sizeof topic, "https://example.com/books/%" PRIu64, seq % 1000);
  qs_slice_t topics[1] = {qs_slice_from_cstr(topic)};
  qs_update_fields_t f = {.id = qs_slice_from_cstr(ids[seq]),
                          .topics = topics,
                          .topic_count = 1,
                          .data = qs_slice_from_cstr(data)};
  qs_update_t *u = qs_update_create(&f, qs_clock_wall_ms());
  u->seq = seq;
  return u;
}

typedef struct {
  double first_s; /* time to the first update */
  uint64_t n;
  double start;
} replay_probe_t;

static bool probe_each(void *ctx, qs_update_t *u) {
  replay_probe_t *p = ctx;
  if (p->n++ == 0) p->first_s = now_s() - p->start;
  return true;
}

static void bench_store(const char *label, qs_store_t *s, progress_t *p, uint64_t count) {
  /* 1. Bulk appends, pipelined as the sequencer would (it does not wait). */
  double t0 = now_s();
  for (uint64_t seq = 1; seq <= count; seq++) {
    qs_update_t *u = make(seq);
    int rc;
    while ((rc = qs_store_append(s, u)) == QS_EFULL) sched_yield();
    if (rc) {
      fprintf(stderr, "append failed: %s\n", qs_strerror(rc));
      exit(1);
    }
    qs_update_release(u);
  }
  wait_durable(p, count);
  double bulk = now_s() - t0;
  qs_store_stats_t st;
  qs_store_stats(s, &st);
  printf("%-6s appends: %" PRIu64 " durable in %.2f s = %.0f appends/s (commits %" PRIu64
         ", %.1f updates/commit, failed %" PRIu64 ")\n",
         label, count, bulk, count / bulk, st.commits, st.commits ? (double)count / st.commits : 0.0,
         p->failed);

  /* 2. Replay from the newest entry: one update after it. */
  enum { NEWEST_RUNS = 2000 };
  static double lat[NEWEST_RUNS];
  for (int i = 0; i < NEWEST_RUNS; i++) {
    replay_probe_t probe = {.start = now_s()};
    qs_store_replay(s, qs_slice_from_cstr(ids[count - 1]), count, probe_each, &probe);
    lat[i] = (now_s() - probe.start) * 1e6;
    if (probe.n != 1) {
      fprintf(stderr, "replay from newest gave %" PRIu64 " updates\n", probe.n);
      exit(1);
    }
  }
  qsort(lat, NEWEST_RUNS, sizeof lat[0], cmp_double);
  printf("%-6s replay after the newest-but-one (1 update): p50 %.1f us, p99 %.1f us, max %.1f us\n", label,
         lat[NEWEST_RUNS / 2], lat[NEWEST_RUNS * 99 / 100], lat[NEWEST_RUNS - 1]);

  /* 3. Replay from the oldest entry: the whole history after it. */
  for (int i = 0; i < 2; i++) {
    replay_probe_t probe = {.start = now_s()};
    qs_store_replay(s, qs_slice_from_cstr(ids[1]), count, probe_each, &probe);
    double total = now_s() - probe.start;
    printf("%-6s replay after the oldest (%" PRIu64
           " updates): first after %.1f us, all in %.2f s (%.0f/s)\n",
           label, probe.n, probe.first_s * 1e6, total, probe.n / total);
  }
}

static void bench_latency(qs_store_t *s, progress_t *p, uint64_t next_seq) {
  enum { RUNS = 300 };
  static double lat[RUNS];
  for (int i = 0; i < RUNS; i++) {
    qs_update_t *u = make(next_seq + i);
    double t = now_s();
    if (qs_store_append(s, u)) exit(1);
    wait_durable(p, next_seq + i);
    lat[i] = (now_s() - t) * 1e3;
    qs_update_release(u);
  }
  qsort(lat, RUNS, sizeof lat[0], cmp_double);
  printf("lmdb   one durable append at a time (%d): p50 %.2f ms, p99 %.2f ms\n", RUNS, lat[RUNS / 2],
         lat[RUNS * 99 / 100]);
}

int main(int argc, char **argv) {
  uint64_t count = 1000000;
  size_t data_bytes = 100;
  qs_store_group_commit_t gc = {.flush_interval_ms = 2, .max_batch = 512};
  qs_store_durability_t durability = QS_STORE_DURABILITY_SYNC;
  const char *dir = NULL, *backend = "both";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--async")) {
      durability = QS_STORE_DURABILITY_ASYNC;
      continue;
    }
    if (!v) goto usage;
    i++;
    if (!strcmp(a, "--count"))
      count = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--data-bytes"))
      data_bytes = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--flush-ms"))
      gc.flush_interval_ms = (uint32_t)strtoul(v, NULL, 10);
    else if (!strcmp(a, "--batch"))
      gc.max_batch = (uint32_t)strtoul(v, NULL, 10);
    else if (!strcmp(a, "--dir"))
      dir = v;
    else if (!strcmp(a, "--backend"))
      backend = v;
    else
      goto usage;
  }
  if (count < 2) goto usage;
  qs_log_set_level(QS_LOG_WARN);

  printf("command:");
  for (int i = 0; i < argc; i++) printf(" %s", argv[i]);
  printf("\nhistory: %" PRIu64 " updates, %zu data bytes, flush %u ms, batch %u, %s\n", count, data_bytes,
         gc.flush_interval_ms, gc.max_batch, durability == QS_STORE_DURABILITY_SYNC ? "sync" : "async");

  data = malloc(data_bytes + 1);
  memset(data, 'd', data_bytes);
  data[data_bytes] = '\0';
  enum { LATENCY_EXTRA = 301 };
  ids = malloc((count + LATENCY_EXTRA + 1) * sizeof *ids);
  for (uint64_t i = 0; i <= count + LATENCY_EXTRA; i++) qs_uuid_v7_urn(ids[i]);

  if (!strcmp(backend, "lmdb") || !strcmp(backend, "both")) {
    char tmp[] = "/tmp/qs_store_bench_XXXXXX";
    const char *path = dir ? dir : mkdtemp(tmp);
    progress_t p = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    qs_store_t *s;
    qs_store_retention_t keep_all = {0};
    int rc = qs_store_lmdb_create(path, 4096ULL << 20, &keep_all, &gc, durability, on_durable, &p, &s);
    if (rc) {
      fprintf(stderr, "lmdb open failed: %s\n", qs_strerror(rc));
      return 1;
    }
    if (qs_store_last_seq(s)) {
      fprintf(stderr, "%s already holds a history; use an empty directory\n", path);
      return 1;
    }
    bench_store("lmdb", s, &p, count);
    bench_latency(s, &p, count + 1);
    qs_store_destroy(s);
    if (!dir) {
      char f[256];
      snprintf(f, sizeof f, "%s/data.mdb", path);
      unlink(f);
      snprintf(f, sizeof f, "%s/lock.mdb", path);
      unlink(f);
      rmdir(path);
    }
  }
  if (!strcmp(backend, "memory") || !strcmp(backend, "both")) {
    progress_t p = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    qs_store_t *s;
    qs_store_retention_t keep_all = {0};
    if (qs_store_memory_create(&keep_all, on_durable, &p, &s)) return 1;
    bench_store("memory", s, &p, count);
    qs_store_destroy(s);
  }
  free(ids);
  free(data);
  return 0;

usage:
  fprintf(stderr,
          "usage: %s [--count N>=2] [--data-bytes B] [--flush-ms MS] [--batch N] [--async] [--dir PATH]"
          " [--backend lmdb|memory|both]\n",
          argv[0]);
  return 2;
}
