/* The durable history in LMDB.
 *
 * Three databases in one environment:
 *   updates  8-byte big-endian seq -> the serialized update (layout below),
 *            so a cursor walks in seq order;
 *   ids      id -> 8-byte big-endian seq, DUPSORT: every retained occurrence
 *            of an id, sorted, so the first duplicate is the earliest one
 *            still in history (§Reconciliation), also after the oldest one is
 *            evicted; resuming from an id is one B-tree lookup;
 *   meta     "last_seq" (numbering continues after a restart even when
 *            retention emptied the history) and "bytes" (retained bytes).
 *
 * Appends go to a bounded queue; one writer thread commits them in groups
 * (one write transaction per batch, fsynced by LMDB at commit), enforces
 * retention in the same transaction and then calls on_durable in seq order.
 * The environment keeps LMDB's default, fully synchronous commit (no
 * MDB_NOSYNC, MDB_NOMETASYNC, MDB_MAPASYNC or MDB_WRITEMAP): the data pages
 * are written and fdatasync'ed, then the meta page that makes them current is
 * written through an O_DSYNC descriptor, before mdb_txn_commit returns; see
 * README.md ("Crash safety") for what that guarantees and what it costs.
 * Replays use read-only transactions (MDB_NOTLS: any thread, several at once)
 * plus the queued updates that are already acknowledged (asynchronous mode).
 *
 * Ids longer than LMDB's key limit (511 bytes) are indexed under a prefix, a
 * LF (which no id contains) and a 64-bit hash; a lookup checks the stored id,
 * so a hash collision can only make the later long id unfindable. */
#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "base/map.h"
#include "store/store.h"

#define DEFAULT_MAX_BATCH 512
#define DEFAULT_MAX_PENDING 65536
/* Commit as soon as the writer is free: appends that arrive during a commit
 * (its fsyncs) form the next batch, so batches grow with the load and no
 * update waits for a timer. */
#define DEFAULT_FLUSH_INTERVAL_MS 0
#define MIB (1024ULL * 1024ULL)
/* Retention deletes at most this many updates per transaction beyond the
 * batch size, so one transaction never dirties an unbounded number of pages;
 * the writer loops until the backlog is gone. */
#define EVICT_STEP 4096
/* Attempts to make room (evict, then retry the batch) when the map is full. */
#define MAP_FULL_ATTEMPTS 4
#define KEY_BUF 512

/* Record layout, little-endian:
 *   0 u8 version (1) | 1 u8 flags (bit 0: private) | 2 u16 0 | 4 u32 topic_count
 *   8 i64 created_ms | 16 u64 retry_ms | 24 u32 id_len | 28 u32 type_len | 32 u32 data_len
 *   36 topic_count x (u32 len, bytes), then id, type, data. */
#define RECORD_VERSION 1
#define RECORD_HEADER 36

typedef struct {
  uint64_t count, bytes, first_seq, last_seq, evicted, commits, failed;
} committed_t;

typedef struct {
  qs_store_t base;
  char *path;
  MDB_env *env;
  MDB_dbi db_updates, db_ids, db_meta;
  size_t max_key;
  qs_store_group_commit_t gc;
  qs_store_durability_t durability;
  pthread_t writer;
  qs_update_t **batch; /* the writer's current batch (max_batch slots) */

  pthread_mutex_t mu; /* guards everything below */
  pthread_cond_t wake;
  qs_update_t **queue; /* appended, not yet committed, in seq order: a ring of max_pending */
  int64_t *queued_ns;  /* monotonic enqueue time of each queued update */
  size_t q_head, q_len;
  bool stopping;
  uint64_t appended_seq; /* newest seq accepted by append */
  uint64_t acked_seq;    /* newest seq whose on_durable got 0 (or is about to) */
  qs_update_t *newest;   /* newest acknowledged update, for last_id; may be NULL */
  committed_t committed; /* what the last commit left; written by the writer only */
} lmdb_t;

/* --- encoding --- */

static void put_be64(unsigned char *p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (unsigned char)v;
}
static uint64_t get_be64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}
static void put_le(unsigned char *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++, v >>= 8) p[i] = (unsigned char)v;
}
static uint64_t get_le(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static size_t record_size(const qs_update_t *u) {
  size_t size = RECORD_HEADER + u->id.len + u->type.len + u->data.len;
  for (size_t i = 0; i < u->topic_count; i++) size += 4 + u->topics[i].len;
  return size;
}

static unsigned char *put_bytes(unsigned char *p, qs_slice_t s) {
  if (s.len) memcpy(p, s.ptr, s.len);
  return p + s.len;
}

static void record_write(unsigned char *p, const qs_update_t *u) {
  p[0] = RECORD_VERSION;
  p[1] = u->is_private ? 1 : 0;
  p[2] = p[3] = 0;
  put_le(p + 4, u->topic_count, 4);
  put_le(p + 8, (uint64_t)u->created_ms, 8);
  put_le(p + 16, u->retry_ms, 8);
  put_le(p + 24, u->id.len, 4);
  put_le(p + 28, u->type.len, 4);
  put_le(p + 32, u->data.len, 4);
  p += RECORD_HEADER;
  for (size_t i = 0; i < u->topic_count; i++) {
    put_le(p, u->topics[i].len, 4);
    p = put_bytes(p + 4, u->topics[i]);
  }
  p = put_bytes(p, u->id);
  p = put_bytes(p, u->type);
  put_bytes(p, u->data);
}

/* A parsed record, borrowing the LMDB value. */
typedef struct {
  int64_t created_ms;
  uint64_t retry_ms;
  bool is_private;
  size_t topic_count;
  const unsigned char *topics; /* the raw (len, bytes) list */
  qs_slice_t id, type, data;
} record_t;

static int record_parse(const MDB_val *v, record_t *r) {
  const unsigned char *p = v->mv_data, *end = p + v->mv_size;
  if (v->mv_size < RECORD_HEADER || p[0] != RECORD_VERSION) return QS_EIO;
  r->is_private = p[1] & 1;
  r->topic_count = get_le(p + 4, 4);
  r->created_ms = (int64_t)get_le(p + 8, 8);
  r->retry_ms = get_le(p + 16, 8);
  size_t id_len = get_le(p + 24, 4), type_len = get_le(p + 28, 4), data_len = get_le(p + 32, 4);
  p += RECORD_HEADER;
  r->topics = p;
  for (size_t i = 0; i < r->topic_count; i++) {
    if ((size_t)(end - p) < 4) return QS_EIO;
    size_t len = get_le(p, 4);
    if ((size_t)(end - p) - 4 < len) return QS_EIO;
    p += 4 + len;
  }
  if ((size_t)(end - p) != id_len + type_len + data_len || id_len == 0) return QS_EIO;
  r->id = qs_slice((const char *)p, id_len);
  r->type = qs_slice((const char *)p + id_len, type_len);
  r->data = qs_slice((const char *)p + id_len + type_len, data_len);
  return 0;
}

/* Re-creates the update a record holds (one reference, owned by the caller). */
static int record_to_update(const MDB_val *v, uint64_t seq, qs_update_t **out) {
  record_t r;
  int rc = record_parse(v, &r);
  if (rc) return rc;
  if (r.topic_count == 0) return QS_EIO;
  qs_slice_t stack_topics[16];
  qs_slice_t *topics = r.topic_count <= 16 ? stack_topics : malloc(r.topic_count * sizeof *topics);
  if (!topics) return QS_ENOMEM;
  const unsigned char *p = r.topics;
  for (size_t i = 0; i < r.topic_count; i++) {
    size_t len = get_le(p, 4);
    topics[i] = qs_slice((const char *)p + 4, len);
    p += 4 + len;
  }
  qs_update_fields_t f = {.id = r.id,
                          .topics = topics,
                          .topic_count = r.topic_count,
                          .type = r.type,
                          .retry_ms = r.retry_ms,
                          .data = r.data,
                          .is_private = r.is_private};
  qs_update_t *u = qs_update_create(&f, r.created_ms);
  if (topics != stack_topics) free(topics);
  if (!u) return QS_ENOMEM;
  u->seq = seq;
  *out = u;
  return 0;
}

/* The ids database key of `id`, in buf (KEY_BUF bytes). */
static MDB_val id_key(const lmdb_t *s, qs_slice_t id, char *buf) {
  if (id.len <= s->max_key) return (MDB_val){id.len, (void *)id.ptr};
  size_t prefix = s->max_key - 17;
  memcpy(buf, id.ptr, prefix);
  snprintf(buf + prefix, 18, "\n%016" PRIx64, qs_hash_bytes(id.ptr, id.len));
  return (MDB_val){s->max_key, buf};
}

static int map_mdb_error(int rc) {
  if (rc == 0) return 0;
  if (rc == ENOMEM) return QS_ENOMEM;
  if (rc == MDB_MAP_FULL) return QS_EFULL;
  return QS_EIO;
}

static int64_t age_cutoff_ms(const lmdb_t *s) {
  return s->base.retention.max_age_ms > 0 ? qs_clock_wall_ms() - s->base.retention.max_age_ms : INT64_MIN;
}

/* --- the writer's transactions --- */

static int put_meta_u64(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t value) {
  unsigned char buf[8];
  put_be64(buf, value);
  MDB_val k = {strlen(name), (void *)name}, v = {8, buf};
  return mdb_put(txn, dbi, &k, &v, 0);
}

static int get_meta_u64(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t *value) {
  MDB_val k = {strlen(name), (void *)name}, v;
  int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == 0 && v.mv_size == 8) *value = get_be64(v.mv_data);
  return rc;
}

/* Deletes the oldest update and its index entry. Returns 0, MDB_NOTFOUND when
 * the history is empty, or another LMDB error. */
static int evict_oldest(lmdb_t *s, MDB_txn *txn, MDB_cursor *cur, committed_t *st) {
  MDB_val k, v;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  if (rc) return rc;
  record_t r;
  size_t size = v.mv_size;
  if (record_parse(&v, &r) == 0) {
    char buf[KEY_BUF];
    MDB_val ik = id_key(s, r.id, buf), iv = {8, k.mv_data};
    rc = mdb_del(txn, s->db_ids, &ik, &iv);
    if (rc && rc != MDB_NOTFOUND) return rc;
  }
  rc = mdb_cursor_del(cur, 0);
  if (rc) return rc;
  st->count--;
  st->bytes -= size < st->bytes ? size : st->bytes;
  st->evicted++;
  return 0;
}

static bool over_retention(const lmdb_t *s, const committed_t *st, MDB_cursor *cur, int64_t cutoff) {
  const qs_store_retention_t *r = &s->base.retention;
  /* The newest update is always kept, as in the memory ring. */
  if (st->count <= 1) return false;
  if (r->max_count && st->count > r->max_count) return true;
  if (r->max_bytes && st->bytes > r->max_bytes) return true;
  if (r->max_age_ms > 0) {
    MDB_val k, v;
    record_t rec;
    if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 && record_parse(&v, &rec) == 0)
      return rec.created_ms < cutoff;
  }
  return false;
}

/* Evicts `force` oldest updates, then whatever retention asks for, at most
 * `limit` in all. Sets *more when retention still wants more. */
static int evict_in_txn(lmdb_t *s, MDB_txn *txn, committed_t *st, uint64_t force, uint64_t limit,
                        bool *more) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(txn, s->db_updates, &cur);
  if (rc) return rc;
  int64_t cutoff = age_cutoff_ms(s);
  uint64_t done = 0;
  *more = false;
  while (done < limit && st->count > 0 && (done < force || over_retention(s, st, cur, cutoff))) {
    rc = evict_oldest(s, txn, cur, st);
    if (rc) break;
    done++;
  }
  if (rc == 0 && done == limit && over_retention(s, st, cur, cutoff)) *more = true;
  if (rc == 0 || rc == MDB_NOTFOUND) {
    MDB_val k, v;
    st->first_seq = mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 ? get_be64(k.mv_data) : 0;
    rc = 0;
  }
  mdb_cursor_close(cur);
  return rc;
}

static int commit_state(lmdb_t *s, MDB_txn *txn, const committed_t *st) {
  int rc = put_meta_u64(txn, s->db_meta, "last_seq", st->last_seq);
  if (!rc) rc = put_meta_u64(txn, s->db_meta, "bytes", st->bytes);
  if (rc) {
    mdb_txn_abort(txn);
    return rc;
  }
  return mdb_txn_commit(txn);
}

/* One write transaction: the batch, then retention. Returns an LMDB code. */
static int write_batch(lmdb_t *s, qs_update_t **batch, size_t n, committed_t *st, bool *more) {
  MDB_txn *txn;
  int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
  if (rc) return rc;
  for (size_t i = 0; i < n && !rc; i++) {
    qs_update_t *u = batch[i];
    unsigned char seq_be[8];
    put_be64(seq_be, u->seq);
    MDB_val k = {8, seq_be}, v = {record_size(u), NULL};
    rc = mdb_put(txn, s->db_updates, &k, &v, MDB_RESERVE | MDB_APPEND);
    if (rc) break;
    record_write(v.mv_data, u);
    char buf[KEY_BUF];
    MDB_val ik = id_key(s, u->id, buf), iv = {8, seq_be};
    rc = mdb_put(txn, s->db_ids, &ik, &iv, MDB_NODUPDATA);
    if (rc == MDB_KEYEXIST) rc = 0;
    st->count++;
    st->bytes += v.mv_size;
    st->last_seq = u->seq;
    if (!st->first_seq) st->first_seq = u->seq;
  }
  if (!rc) rc = evict_in_txn(s, txn, st, 0, n + EVICT_STEP, more);
  if (rc) {
    mdb_txn_abort(txn);
    return rc;
  }
  return commit_state(s, txn, st);
}

/* A transaction that only evicts. Returns an LMDB code; *evicted says how many. */
static int evict_txn(lmdb_t *s, uint64_t force, committed_t *st, bool *more, uint64_t *evicted) {
  MDB_txn *txn;
  uint64_t before = st->evicted;
  *evicted = 0;
  int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
  if (rc) return rc;
  rc = evict_in_txn(s, txn, st, force, force + EVICT_STEP, more);
  if (rc || st->evicted == before) {
    mdb_txn_abort(txn);
    return rc;
  }
  rc = commit_state(s, txn, st);
  if (!rc) *evicted = st->evicted - before;
  return rc;
}

static void publish_committed(lmdb_t *s, const committed_t *st) {
  pthread_mutex_lock(&s->mu);
  s->committed = *st;
  pthread_mutex_unlock(&s->mu);
}

/* Commits a batch, making room when the map is full. Returns 0 or a QS_E* code. */
static int commit_batch(lmdb_t *s, qs_update_t **batch, size_t n, bool *more) {
  committed_t st = s->committed;
  int rc = write_batch(s, batch, n, &st, more);
  for (int attempt = 0; rc == MDB_MAP_FULL && attempt < MAP_FULL_ATTEMPTS; attempt++) {
    /* Make room beyond retention: a quarter of the history, or twice the
     * batch, whichever is more; then try the batch again. */
    st = s->committed;
    uint64_t force = st.count / 4 > 2 * n ? st.count / 4 : 2 * n;
    uint64_t evicted = 0;
    int erc = evict_txn(s, force, &st, more, &evicted);
    QS_LOG_WARN("store: lmdb map full, evicting oldest updates to make room path=%s evicted=%" PRIu64
                " retained=%" PRIu64 " status=%s",
                s->path, evicted, st.count, erc ? mdb_strerror(erc) : "ok");
    if (erc || evicted == 0) break;
    st.commits++;
    publish_committed(s, &st);
    st = s->committed;
    rc = write_batch(s, batch, n, &st, more);
  }
  if (rc) {
    st = s->committed;
    st.failed += n;
    publish_committed(s, &st);
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    if (rc == MDB_MAP_FULL)
      QS_LOG_ERROR("store: lmdb map full, batch not stored path=%s updates=%zu first_seq=%" PRIu64
                   " map_size=%zu hint=raise the map size or lower retention",
                   s->path, n, batch[0]->seq, info.me_mapsize);
    else
      QS_LOG_ERROR("store: lmdb write failed path=%s updates=%zu first_seq=%" PRIu64 " reason=%s", s->path, n,
                   batch[0]->seq, mdb_strerror(rc));
    return map_mdb_error(rc);
  }
  st.commits++;
  publish_committed(s, &st);
  return 0;
}

#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL

/* The monotonic clock in nanoseconds (the clock the condition variable uses). */
static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* Waits for a signal or until the monotonic clock reads deadline_ns. */
static void wait_until(lmdb_t *s, int64_t deadline_ns) {
  struct timespec ts = {.tv_sec = deadline_ns / NS_PER_S, .tv_nsec = deadline_ns % NS_PER_S};
  pthread_cond_timedwait(&s->wake, &s->mu, &ts);
}

static void *writer_main(void *arg) {
  lmdb_t *s = arg;
  size_t cap = s->gc.max_pending;
  qs_update_t **batch = s->batch;
  bool more = false;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    if (s->q_len == 0) {
      if (more) {
        /* A retention backlog (for instance after lowering max_count). */
        pthread_mutex_unlock(&s->mu);
        committed_t st = s->committed;
        uint64_t evicted;
        if (evict_txn(s, 0, &st, &more, &evicted) == 0 && evicted) {
          st.commits++;
          publish_committed(s, &st);
        } else {
          more = false;
        }
        pthread_mutex_lock(&s->mu);
        continue;
      }
      if (s->stopping) break;
      if (s->base.retention.max_age_ms > 0 && s->committed.count > 1) {
        /* Age is enforced while idle too, a few times per max_age. */
        int64_t tick = s->base.retention.max_age_ms / 4;
        wait_until(s, mono_ns() + (tick < 50 ? 50 : tick > 1000 ? 1000 : tick) * NS_PER_MS);
        if (s->q_len == 0 && !s->stopping) more = true;
      } else {
        pthread_cond_wait(&s->wake, &s->mu);
      }
      continue;
    }
    /* With flush_interval_ms 0 (the default) whatever is queued is committed
     * now. Otherwise the batch may linger until its first update has waited
     * that long; in sync mode that wait is added to every publish, and
     * publishers that wait for their answer then send fewer updates. */
    if (!s->stopping && s->q_len < s->gc.max_batch && s->gc.flush_interval_ms) {
      int64_t deadline = s->queued_ns[s->q_head] + (int64_t)s->gc.flush_interval_ms * NS_PER_MS;
      if (mono_ns() < deadline) {
        wait_until(s, deadline);
        continue;
      }
    }
    size_t n = s->q_len < s->gc.max_batch ? s->q_len : s->gc.max_batch;
    for (size_t i = 0; i < n; i++) batch[i] = s->queue[(s->q_head + i) % cap];
    pthread_mutex_unlock(&s->mu);

    int rc = commit_batch(s, batch, n, &more);

    pthread_mutex_lock(&s->mu);
    /* Popped only now, so a replay meanwhile finds them in the queue. */
    s->q_head = (s->q_head + n) % cap;
    s->q_len -= n;
    qs_update_t *old_newest = NULL;
    if (s->durability == QS_STORE_DURABILITY_SYNC && rc == 0) {
      s->acked_seq = batch[n - 1]->seq;
      old_newest = s->newest;
      s->newest = qs_update_retain(batch[n - 1]);
    }
    pthread_mutex_unlock(&s->mu);
    if (old_newest) qs_update_release(old_newest);

    if (s->durability == QS_STORE_DURABILITY_SYNC) {
      for (size_t i = 0; i < n; i++)
        if (s->base.on_durable) s->base.on_durable(s->base.on_durable_ctx, batch[i], rc);
    } else if (rc) {
      QS_LOG_ERROR("store: lmdb lost %zu acknowledged updates (asynchronous durability) first_seq=%" PRIu64
                   " reason=%s",
                   n, batch[0]->seq, qs_strerror(rc));
    }
    for (size_t i = 0; i < n; i++) qs_update_release(batch[i]);
    pthread_mutex_lock(&s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

/* --- the vtable --- */

static int lmdb_append(qs_store_t *store, qs_update_t *u) {
  lmdb_t *s = (lmdb_t *)store;
  if (!u || u->id.len == 0 || u->id.len > UINT32_MAX || u->type.len > UINT32_MAX ||
      u->data.len > UINT32_MAX || u->topic_count == 0 || u->topic_count > UINT32_MAX)
    return QS_EINVAL;
  for (size_t i = 0; i < u->topic_count; i++)
    if (u->topics[i].len > UINT32_MAX) return QS_EINVAL;
  qs_update_t *old_newest = NULL;
  pthread_mutex_lock(&s->mu);
  int rc = 0;
  if (s->stopping)
    rc = QS_ECLOSED;
  else if (u->seq == 0 || u->seq <= s->appended_seq)
    rc = QS_EINVAL;
  else if (s->q_len == s->gc.max_pending)
    rc = QS_EFULL;
  if (rc) {
    pthread_mutex_unlock(&s->mu);
    return rc;
  }
  size_t at = (s->q_head + s->q_len) % s->gc.max_pending;
  s->queue[at] = qs_update_retain(u);
  s->queued_ns[at] = s->gc.flush_interval_ms ? mono_ns() : 0;
  s->q_len++;
  s->appended_seq = u->seq;
  bool async = s->durability == QS_STORE_DURABILITY_ASYNC;
  if (async) {
    s->acked_seq = u->seq;
    old_newest = s->newest;
    s->newest = qs_update_retain(u);
  }
  if (s->q_len == 1 || s->q_len == s->gc.max_batch) pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->mu);
  if (old_newest) qs_update_release(old_newest);
  if (async && store->on_durable) store->on_durable(store->on_durable_ctx, u, 0);
  return 0;
}

/* Finds the earliest retained, unexpired occurrence of `id` in the ids
 * database. Returns 0 with *seq, MDB_NOTFOUND, or an LMDB error. */
static int find_id(lmdb_t *s, MDB_txn *txn, qs_slice_t id, int64_t cutoff, uint64_t *seq) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(txn, s->db_ids, &cur);
  if (rc) return rc;
  char buf[KEY_BUF];
  MDB_val k = id_key(s, id, buf), v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
    if (v.mv_size != 8) continue;
    MDB_val uk = {8, v.mv_data}, uv;
    record_t r;
    if (mdb_get(txn, s->db_updates, &uk, &uv) || record_parse(&uv, &r)) continue;
    /* An expired occurrence counts as discarded; a later one may remain. */
    if (qs_slice_eq(r.id, id) && r.created_ms >= cutoff) {
      *seq = get_be64(v.mv_data);
      break;
    }
  }
  mdb_cursor_close(cur);
  return rc;
}

/* What a replay reads: a read snapshot plus the acknowledged updates still
 * queued, taken together so an update committed meanwhile is in one or the
 * other (or both: seqs dedupe). */
typedef struct {
  lmdb_t *s;
  bool range;            /* replay_after_seq: discarded updates give QS_ELIMIT */
  int64_t cutoff;        /* updates created before it are expired */
  uint64_t limit;        /* replay seqs <= limit: up_to_seq, at most the acknowledged seq */
  uint64_t queue_first;  /* seq of the oldest queued update, 0 when none */
  MDB_txn *txn;          /* NULL once the stored updates were walked */
  qs_update_t **pending; /* retained copies of the queued updates in (after, limit] */
  size_t pending_len;
} view_t;

/* view_open's answer when a range read has nothing in (after, limit]. */
#define VIEW_EMPTY 1

/* Copies the queued updates with after < seq <= limit into v->pending.
 * Called with s->mu held. Returns 0 or ENOMEM. */
static int copy_queue(lmdb_t *s, uint64_t after, view_t *v) {
  size_t cap = s->gc.max_pending, skip = 0, n = 0;
  if (s->q_len) v->queue_first = s->queue[s->q_head]->seq;
  while (skip < s->q_len && s->queue[(s->q_head + skip) % cap]->seq <= after) skip++;
  while (skip + n < s->q_len && s->queue[(s->q_head + skip + n) % cap]->seq <= v->limit) n++;
  if (n && (v->pending = malloc(n * sizeof *v->pending)) == NULL) return ENOMEM;
  for (size_t i = 0; i < n; i++)
    v->pending[v->pending_len++] = qs_update_retain(s->queue[(s->q_head + skip + i) % cap]);
  return 0;
}

/* Opens the view of the updates after `after` (0 when not known yet) up to
 * up_to_seq. Returns 0; VIEW_EMPTY, having opened nothing, when `range` and
 * there is nothing to read; or QS_ENOMEM or QS_EIO (logged). */
static int view_open(lmdb_t *s, uint64_t after, uint64_t up_to_seq, bool range, view_t *v) {
  *v = (view_t){.s = s, .range = range, .cutoff = age_cutoff_ms(s)};
  pthread_mutex_lock(&s->mu);
  v->limit = up_to_seq < s->acked_seq ? up_to_seq : s->acked_seq;
  if (range && after >= v->limit) {
    pthread_mutex_unlock(&s->mu);
    return VIEW_EMPTY;
  }
  int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &v->txn);
  if (rc == 0 && (rc = copy_queue(s, after, v)) != 0) {
    mdb_txn_abort(v->txn);
    v->txn = NULL;
  }
  pthread_mutex_unlock(&s->mu);
  if (rc) {
    QS_LOG_ERROR("store: lmdb replay cannot start path=%s reason=%s", s->path, mdb_strerror(rc));
    return map_mdb_error(rc);
  }
  return 0;
}

/* Ends the snapshot, if still open, and releases the queued copies. */
static void view_close(view_t *v) {
  if (v->txn) mdb_txn_abort(v->txn);
  for (size_t i = 0; i < v->pending_len; i++) qs_update_release(v->pending[i]);
  free(v->pending);
}

/* Resolves `id` to the seq of its earliest retained, unexpired occurrence,
 * stored or else queued. Returns 0 with *seq, QS_ENOTFOUND, or QS_EIO or
 * QS_ENOMEM. */
static int view_find_id(view_t *v, qs_slice_t id, uint64_t *seq) {
  int rc = find_id(v->s, v->txn, id, v->cutoff, seq);
  if (rc != MDB_NOTFOUND) return map_mdb_error(rc);
  for (size_t i = 0; i < v->pending_len; i++)
    if (qs_slice_eq(v->pending[i]->id, id) && v->pending[i]->created_ms >= v->cutoff) {
      *seq = v->pending[i]->seq;
      return 0;
    }
  return QS_ENOTFOUND;
}

/* Whether updates after `after` were discarded. Eviction goes oldest first,
 * so exactly when the oldest one still stored (else queued) is beyond
 * after + 1 (or, conservatively, a failed batch left a gap there). */
static bool discarded_after(view_t *v, MDB_cursor *cur, uint64_t after) {
  MDB_val k, val;
  uint64_t oldest = mdb_cursor_get(cur, &k, &val, MDB_FIRST) == 0 ? get_be64(k.mv_data)
                    : v->queue_first                              ? v->queue_first
                                                                  : v->limit + 1;
  return oldest > after + 1;
}

/* Decodes one stored update and hands it to `each` (*stop when it returns
 * false). An unreadable record is logged and skipped; returns 0, or QS_ENOMEM
 * which ends the replay. */
static int each_record(view_t *v, uint64_t seq, const MDB_val *val, qs_store_each_fn each, void *ctx,
                       bool *stop) {
  qs_update_t *u;
  int rc = record_to_update(val, seq, &u);
  if (rc) {
    QS_LOG_ERROR("store: lmdb unreadable update skipped in replay path=%s seq=%" PRIu64 " reason=%s",
                 v->s->path, seq, qs_strerror(rc));
    return rc == QS_ENOMEM ? rc : 0;
  }
  *stop = !each(ctx, u);
  qs_update_release(u);
  return 0;
}

/* Walks the snapshot from seq after + 1 to the limit with a cursor, setting
 * *walked to the last seq reached. Expired updates are skipped, except in a
 * range read, which ends with QS_ELIMIT at the first one (discarded by age)
 * or, before walking, when discarded_after. */
static int walk_stored(view_t *v, uint64_t after, qs_store_each_fn each, void *ctx, uint64_t *walked,
                       bool *stop) {
  MDB_cursor *cur;
  int rc = map_mdb_error(mdb_cursor_open(v->txn, v->s->db_updates, &cur));
  if (rc) return rc;
  if (v->range && discarded_after(v, cur, after)) rc = QS_ELIMIT;
  unsigned char from[8];
  put_be64(from, after + 1);
  MDB_val k = {8, from}, val;
  for (int mrc = rc ? MDB_NOTFOUND : mdb_cursor_get(cur, &k, &val, MDB_SET_RANGE); mrc == 0 && !*stop;
       mrc = mdb_cursor_get(cur, &k, &val, MDB_NEXT)) {
    uint64_t seq = get_be64(k.mv_data);
    if (seq > v->limit) break;
    *walked = seq;
    record_t r;
    if (record_parse(&val, &r) == 0 && r.created_ms < v->cutoff) {
      if (!v->range) continue;
      rc = QS_ELIMIT; /* discarded by age */
      break;
    }
    if ((rc = each_record(v, seq, &val, each, ctx, stop)) != 0) break;
  }
  mdb_cursor_close(cur);
  return rc;
}

/* Replays the view's updates after `after`: the stored ones, then the queued
 * ones the walk did not reach (an expired one is skipped, or is QS_ELIMIT in
 * a range read), until `each` returns false. Ends the snapshot first and
 * releases the queued copies as it goes. */
static int view_walk(view_t *v, uint64_t after, qs_store_each_fn each, void *ctx) {
  bool stop = false;
  uint64_t walked = after;
  int rc = walk_stored(v, after, each, ctx, &walked, &stop);
  mdb_txn_abort(v->txn);
  v->txn = NULL;
  for (size_t i = 0; i < v->pending_len; i++) {
    qs_update_t *u = v->pending[i];
    if (rc == 0 && !stop && u->seq > walked) {
      if (u->created_ms >= v->cutoff)
        stop = !each(ctx, u);
      else if (v->range)
        rc = QS_ELIMIT;
    }
    qs_update_release(u);
  }
  v->pending_len = 0;
  return rc;
}

static int lmdb_replay(qs_store_t *store, qs_slice_t last_event_id, uint64_t up_to_seq, qs_store_each_fn each,
                       void *ctx) {
  if (last_event_id.len == 0) return QS_ENOTFOUND; /* no update has an empty id; LMDB keys are never empty */
  view_t v;
  int rc = view_open((lmdb_t *)store, 0, up_to_seq, false, &v);
  if (rc) return rc;
  uint64_t after = 0; /* replay seqs > after */
  if (!qs_slice_eq_cstr(last_event_id, "earliest")) rc = view_find_id(&v, last_event_id, &after);
  if (rc == 0) rc = view_walk(&v, after, each, ctx);
  view_close(&v);
  return rc;
}

/* The range replay (store.h, replay_after_seq): a cursor from after_seq + 1,
 * with the same snapshot-plus-queue as lmdb_replay; QS_ELIMIT when updates in
 * the range were discarded (discarded_after, or an expired one is met). */
static int lmdb_replay_after_seq(qs_store_t *store, uint64_t after_seq, uint64_t up_to_seq,
                                 qs_store_each_fn each, void *ctx) {
  view_t v;
  int rc = view_open((lmdb_t *)store, after_seq, up_to_seq, true, &v);
  if (rc) return rc == VIEW_EMPTY ? 0 : rc;
  rc = view_walk(&v, after_seq, each, ctx);
  view_close(&v);
  return rc;
}

static uint64_t lmdb_last_seq(qs_store_t *store) {
  lmdb_t *s = (lmdb_t *)store;
  pthread_mutex_lock(&s->mu);
  uint64_t seq = s->acked_seq;
  pthread_mutex_unlock(&s->mu);
  return seq;
}

static size_t lmdb_last_id(qs_store_t *store, char *out, size_t out_size) {
  lmdb_t *s = (lmdb_t *)store;
  size_t len = 0;
  if (out_size) out[0] = '\0';
  pthread_mutex_lock(&s->mu);
  if (s->newest) {
    len = s->newest->id.len;
    if (out_size) {
      size_t n = len < out_size - 1 ? len : out_size - 1;
      memcpy(out, s->newest->id.ptr, n);
      out[n] = '\0';
    }
  }
  pthread_mutex_unlock(&s->mu);
  return len;
}

static void lmdb_stats(qs_store_t *store, qs_store_stats_t *out) {
  lmdb_t *s = (lmdb_t *)store;
  pthread_mutex_lock(&s->mu);
  out->count = s->committed.count;
  out->bytes = s->committed.bytes;
  out->first_seq = s->committed.first_seq;
  out->last_seq = s->acked_seq;
  out->last_created_ms = s->newest ? s->newest->created_ms : 0;
  out->commits = s->committed.commits;
  out->evicted = s->committed.evicted;
  out->failed = s->committed.failed;
  pthread_mutex_unlock(&s->mu);
}

static void free_store(lmdb_t *s) {
  if (s->env) mdb_env_close(s->env);
  if (s->newest) qs_update_release(s->newest);
  pthread_cond_destroy(&s->wake);
  pthread_mutex_destroy(&s->mu);
  free(s->queue);
  free(s->queued_ns);
  free(s->batch);
  free(s->path);
  free(s);
}

static void lmdb_destroy(qs_store_t *store) {
  lmdb_t *s = (lmdb_t *)store;
  pthread_mutex_lock(&s->mu);
  s->stopping = true;
  pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->writer, NULL);
  free_store(s);
}

static const qs_store_vtable_t lmdb_vtable = {
    .name = "lmdb",
    .append = lmdb_append,
    .replay = lmdb_replay,
    .replay_after_seq = lmdb_replay_after_seq,
    .last_seq = lmdb_last_seq,
    .last_id = lmdb_last_id,
    .destroy = lmdb_destroy,
    .stats = lmdb_stats,
};

/* --- opening --- */

static uint64_t choose_map_size(uint64_t configured, const qs_store_retention_t *r) {
  uint64_t size = configured;
  if (!size) {
    if (r->max_bytes) {
      size = r->max_bytes > (UINT64_MAX - 16 * MIB) / 4 ? UINT64_MAX / 2 : 4 * r->max_bytes + 16 * MIB;
      if (size < 64 * MIB) size = 64 * MIB;
    } else {
      size = 1024 * MIB;
    }
  }
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  return (size + page - 1) / page * page;
}

/* Reads what the history already holds: counters, last seq, newest update. */
static int recover(lmdb_t *s, MDB_txn *txn) {
  committed_t st = {0};
  MDB_stat ms;
  int rc = mdb_stat(txn, s->db_updates, &ms);
  if (rc) return rc;
  st.count = ms.ms_entries;
  get_meta_u64(txn, s->db_meta, "last_seq", &st.last_seq);
  MDB_cursor *cur;
  rc = mdb_cursor_open(txn, s->db_updates, &cur);
  if (rc) return rc;
  MDB_val k, v;
  if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0) st.first_seq = get_be64(k.mv_data);
  if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0) {
    uint64_t seq = get_be64(k.mv_data);
    if (seq > st.last_seq) st.last_seq = seq;
    rc = record_to_update(&v, seq, &s->newest);
    if (rc) QS_LOG_WARN("store: lmdb newest update unreadable path=%s seq=%" PRIu64, s->path, seq);
  }
  if (get_meta_u64(txn, s->db_meta, "bytes", &st.bytes) != 0 && st.count) {
    /* No counter (written by another tool?): count once. */
    for (int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
      st.bytes += v.mv_size;
  }
  mdb_cursor_close(cur);
  s->committed = st;
  s->appended_seq = s->acked_seq = st.last_seq;
  return 0;
}

static int open_env(lmdb_t *s, uint64_t map_size) {
  if (mkdir(s->path, 0700) && errno != EEXIST) {
    QS_LOG_ERROR("store: cannot create history directory path=%s reason=%s", s->path, strerror(errno));
    return QS_EIO;
  }
  int rc = mdb_env_create(&s->env);
  if (!rc) rc = mdb_env_set_maxdbs(s->env, 3);
  if (!rc) rc = mdb_env_set_maxreaders(s->env, 256);
  if (!rc) rc = mdb_env_set_mapsize(s->env, map_size);
  if (!rc) rc = mdb_env_open(s->env, s->path, MDB_NOTLS, 0600);
  if (rc) {
    QS_LOG_ERROR("store: cannot open lmdb history path=%s reason=%s", s->path, mdb_strerror(rc));
    return map_mdb_error(rc) == QS_ENOMEM ? QS_ENOMEM : QS_EIO;
  }
  int dead = 0;
  mdb_reader_check(s->env, &dead); /* slots left by a crashed process */
  int key = mdb_env_get_maxkeysize(s->env);
  s->max_key = key > 0 && key < KEY_BUF ? (size_t)key : KEY_BUF - 1;

  MDB_txn *txn;
  rc = mdb_txn_begin(s->env, NULL, 0, &txn);
  if (!rc) rc = mdb_dbi_open(txn, "updates", MDB_CREATE, &s->db_updates);
  if (!rc) rc = mdb_dbi_open(txn, "ids", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &s->db_ids);
  if (!rc) rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->db_meta);
  if (!rc) rc = recover(s, txn);
  if (!rc) {
    rc = mdb_txn_commit(txn);
  } else if (txn) {
    mdb_txn_abort(txn);
  }
  if (rc) {
    QS_LOG_ERROR("store: cannot read lmdb history path=%s reason=%s", s->path, mdb_strerror(rc));
    return map_mdb_error(rc) == QS_ENOMEM ? QS_ENOMEM : QS_EIO;
  }
  MDB_envinfo info;
  mdb_env_info(s->env, &info);
  QS_LOG_INFO("store: lmdb history open path=%s updates=%" PRIu64 " bytes=%" PRIu64 " last_seq=%" PRIu64
              " map_size=%zu",
              s->path, s->committed.count, s->committed.bytes, s->committed.last_seq, info.me_mapsize);
  return 0;
}

int qs_store_lmdb_create(const char *path, uint64_t map_size_bytes, const qs_store_retention_t *retention,
                         const qs_store_group_commit_t *group_commit, qs_store_durability_t durability,
                         qs_store_on_durable_fn on_durable, void *ctx, qs_store_t **out) {
  if (!path || !*path || !out) return QS_EINVAL;
  lmdb_t *s = calloc(1, sizeof *s);
  if (!s) return QS_ENOMEM;
  s->base = (qs_store_t){
      .vtable = &lmdb_vtable,
      .on_durable = on_durable,
      .on_durable_ctx = ctx,
      .retention = retention ? *retention : (qs_store_retention_t){0},
  };
  s->gc = group_commit ? *group_commit
                       : (qs_store_group_commit_t){.flush_interval_ms = DEFAULT_FLUSH_INTERVAL_MS};
  if (!s->gc.max_batch) s->gc.max_batch = DEFAULT_MAX_BATCH;
  if (!s->gc.max_pending) s->gc.max_pending = DEFAULT_MAX_PENDING;
  if (s->gc.max_pending < s->gc.max_batch) s->gc.max_pending = s->gc.max_batch;
  s->durability = durability;
  pthread_mutex_init(&s->mu, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&s->wake, &attr);
  pthread_condattr_destroy(&attr);
  s->path = strdup(path);
  s->queue = malloc(s->gc.max_pending * sizeof *s->queue);
  s->queued_ns = malloc(s->gc.max_pending * sizeof *s->queued_ns);
  s->batch = malloc(s->gc.max_batch * sizeof *s->batch);
  if (!s->path || !s->queue || !s->queued_ns || !s->batch) {
    free_store(s);
    return QS_ENOMEM;
  }
  int rc = open_env(s, choose_map_size(map_size_bytes, &s->base.retention));
  if (rc) {
    free_store(s);
    return rc;
  }
  if (pthread_create(&s->writer, NULL, writer_main, s)) {
    free_store(s);
    return QS_ENOMEM;
  }
  *out = &s->base;
  return 0;
}
