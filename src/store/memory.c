/* The in-memory history: a ring of update references bounded by retention,
 * with a hash map from id to the earliest retained position of that id.
 *
 * Positions are a private, gap-free counter (seqs may have gaps when an append
 * failed elsewhere), so a position finds its slot in O(1): slot = pos & mask.
 * The occurrences of one id are chained oldest to newest through their slots,
 * which keeps "the earliest occurrence still in history" exact when the oldest
 * one is evicted, in O(1) and without scanning. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/map.h"
#include "store/store.h"

_Static_assert(sizeof(uintptr_t) >= sizeof(uint64_t), "positions are stored in map values");

/* Updates copied per lock hold during a replay; keeps the read lock short and
 * the stack bounded. */
#define REPLAY_CHUNK 256

typedef struct {
  qs_update_t *update;
  uint64_t next_dup; /* position + 1 of the next occurrence of the same id; 0 when none */
  uint64_t last_dup; /* on the earliest occurrence only: position of the newest one */
  size_t bytes;
} slot_t;

typedef struct {
  qs_store_t base;
  pthread_rwlock_t lock;
  slot_t *slots;
  uint64_t cap;                /* power of two, or 0 */
  uint64_t first_pos, end_pos; /* retained positions: [first_pos, end_pos) */
  qs_map_t ids;                /* id -> earliest retained position + 1 */
  uint64_t bytes;
  uint64_t last_seq;
  uint64_t evicted;
  uint64_t discarded_seq; /* seq of the newest evicted update (0 when none) */
} memory_t;

static inline slot_t *slot_at(memory_t *m, uint64_t pos) { return &m->slots[pos & (m->cap - 1)]; }

/* What max_bytes counts for one update: its single allocation. */
static size_t update_bytes(const qs_update_t *u) {
  size_t bytes = sizeof *u + u->topic_count * sizeof(qs_slice_t) + u->id.len + u->type.len + u->data.len +
                 u->sse.len + 3;
  for (size_t i = 0; i < u->topic_count; i++) bytes += u->topics[i].len + 1;
  return bytes;
}

static void *pos_value(uint64_t pos) { return (void *)(uintptr_t)(pos + 1); }

/* The earliest retained position of `id`, or UINT64_MAX. */
static uint64_t find_pos(memory_t *m, qs_slice_t id) {
  void *v = qs_map_get(&m->ids, id);
  return v ? (uint64_t)(uintptr_t)v - 1 : UINT64_MAX;
}

/* Drops the oldest update (the earliest occurrence of its id, since eviction
 * goes oldest first) and hands the id's index to its next occurrence. */
static void evict_oldest(memory_t *m) {
  uint64_t pos = m->first_pos;
  slot_t *s = slot_at(m, pos);
  qs_update_t *u = s->update;
  if (find_pos(m, u->id) == pos) {
    if (s->next_dup) {
      slot_at(m, s->next_dup - 1)->last_dup = s->last_dup;
      qs_map_put(&m->ids, u->id, (void *)(uintptr_t)s->next_dup); /* key exists: never allocates */
    } else {
      qs_map_remove(&m->ids, u->id);
    }
  }
  m->bytes -= s->bytes;
  if (u->seq > m->discarded_seq) m->discarded_seq = u->seq;
  *s = (slot_t){0};
  m->first_pos++;
  m->evicted++;
  qs_update_release(u);
}

static bool expired(const qs_update_t *u, int64_t cutoff_ms) { return u->created_ms < cutoff_ms; }

static int64_t age_cutoff_ms(const memory_t *m) {
  return m->base.retention.max_age_ms > 0 ? qs_clock_wall_ms() - m->base.retention.max_age_ms : INT64_MIN;
}

/* Doubles the ring, re-placing each slot by its position. */
static int grow(memory_t *m) {
  uint64_t cap = m->cap ? m->cap * 2 : 64;
  slot_t *slots = calloc(cap, sizeof *slots);
  if (!slots) return QS_ENOMEM;
  for (uint64_t pos = m->first_pos; pos < m->end_pos; pos++) slots[pos & (cap - 1)] = *slot_at(m, pos);
  free(m->slots);
  m->slots = slots;
  m->cap = cap;
  return 0;
}

static int memory_append(qs_store_t *store, qs_update_t *u) {
  memory_t *m = (memory_t *)store;
  const qs_store_retention_t *r = &store->retention;
  if (!u || u->id.len == 0) return QS_EINVAL;
  size_t bytes = update_bytes(u);
  int64_t cutoff = age_cutoff_ms(m);

  pthread_rwlock_wrlock(&m->lock);
  if (u->seq == 0 || u->seq <= m->last_seq) {
    pthread_rwlock_unlock(&m->lock);
    return QS_EINVAL;
  }
  /* Make room first: the newest update is always kept, even when it alone is
   * bigger than max_bytes, so last_id stays meaningful. */
  while (m->end_pos > m->first_pos) {
    uint64_t count = m->end_pos - m->first_pos;
    const qs_update_t *oldest = slot_at(m, m->first_pos)->update;
    if ((r->max_count && count + 1 > r->max_count) || (r->max_bytes && m->bytes + bytes > r->max_bytes) ||
        expired(oldest, cutoff))
      evict_oldest(m);
    else
      break;
  }
  if (m->end_pos - m->first_pos == m->cap) {
    int rc = grow(m);
    if (rc) {
      pthread_rwlock_unlock(&m->lock);
      return rc;
    }
  }
  uint64_t pos = m->end_pos;
  uint64_t earliest = find_pos(m, u->id);
  if (earliest == UINT64_MAX) {
    int rc = qs_map_put(&m->ids, u->id, pos_value(pos));
    if (rc) {
      pthread_rwlock_unlock(&m->lock);
      return rc;
    }
  }
  slot_t *s = slot_at(m, pos);
  *s = (slot_t){.update = qs_update_retain(u), .last_dup = pos, .bytes = bytes};
  if (earliest != UINT64_MAX) {
    /* §Reconciliation: a reused id keeps resolving to its earliest occurrence;
     * chain the new one after the newest so eviction can hand the index on. */
    slot_t *first = slot_at(m, earliest);
    slot_at(m, first->last_dup)->next_dup = pos + 1;
    first->last_dup = pos;
  }
  m->end_pos++;
  m->bytes += bytes;
  m->last_seq = u->seq;
  pthread_rwlock_unlock(&m->lock);

  if (store->on_durable) store->on_durable(store->on_durable_ctx, u, 0);
  return 0;
}

/* Copies into chunk (retaining them) at most REPLAY_CHUNK updates from
 * position *pos on, advancing *pos past them, and sets *done at the end of
 * history or past up_to_seq. Expired updates are skipped, or, when `strict`,
 * end the copy with QS_ELIMIT (discarded by age, lazily). Call with the lock
 * held. Returns 0 or QS_ELIMIT, with *n updates copied either way. */
static int copy_chunk(memory_t *m, uint64_t *pos, uint64_t up_to_seq, int64_t cutoff, bool strict,
                      qs_update_t **chunk, size_t *n, bool *done) {
  for (*n = 0; *n < REPLAY_CHUNK; ++*pos) {
    if (*pos >= m->end_pos || slot_at(m, *pos)->update->seq > up_to_seq) {
      *done = true;
      return 0;
    }
    qs_update_t *u = slot_at(m, *pos)->update;
    if (!expired(u, cutoff))
      chunk[(*n)++] = qs_update_retain(u);
    else if (strict)
      return QS_ELIMIT;
  }
  return 0;
}

/* Hands the n copied updates to `each` in order until it returns false, and
 * releases them all. Sets *last (when not NULL) to the seq of the last one
 * handed out. Returns false when `each` stopped the replay. */
static bool hand_out(qs_update_t **chunk, size_t n, qs_store_each_fn each, void *ctx, uint64_t *last) {
  size_t i = 0;
  bool stop = false;
  for (; i < n && !stop; i++) {
    stop = !each(ctx, chunk[i]);
    if (last) *last = chunk[i]->seq;
    qs_update_release(chunk[i]);
  }
  for (; i < n; i++) qs_update_release(chunk[i]);
  return !stop;
}

/* The position after the earliest retained, unexpired occurrence of `id` (the
 * oldest position for "earliest"), or UINT64_MAX when there is none. Call
 * with the lock held. */
static uint64_t resume_pos(memory_t *m, qs_slice_t id, int64_t cutoff) {
  if (qs_slice_eq_cstr(id, "earliest")) return m->first_pos;
  uint64_t pos = find_pos(m, id);
  /* An expired occurrence counts as discarded; a later one may remain. */
  while (pos != UINT64_MAX && expired(slot_at(m, pos)->update, cutoff)) {
    uint64_t next = slot_at(m, pos)->next_dup;
    pos = next ? next - 1 : UINT64_MAX;
  }
  return pos == UINT64_MAX ? pos : pos + 1;
}

/* Replays by position, skipping expired updates; QS_ELIMIT when the next
 * position to replay was evicted while `each` ran. */
static int memory_replay(qs_store_t *store, qs_slice_t last_event_id, uint64_t up_to_seq,
                         qs_store_each_fn each, void *ctx) {
  memory_t *m = (memory_t *)store;
  qs_update_t *chunk[REPLAY_CHUNK];
  int64_t cutoff = age_cutoff_ms(m);
  uint64_t pos = 0;
  bool first_chunk = true, done = false;

  while (!done) {
    size_t n = 0;
    int rc = 0;
    pthread_rwlock_rdlock(&m->lock);
    if (first_chunk) {
      pos = resume_pos(m, last_event_id, cutoff);
      if (pos == UINT64_MAX) rc = QS_ENOTFOUND;
      first_chunk = false;
    } else if (pos < m->first_pos) {
      rc = QS_ELIMIT;
    }
    if (rc == 0) copy_chunk(m, &pos, up_to_seq, cutoff, false, chunk, &n, &done);
    pthread_rwlock_unlock(&m->lock);
    if (rc) return rc;
    if (!hand_out(chunk, n, each, ctx, NULL)) return 0;
  }
  return 0;
}

/* The position of the first retained update whose seq is above `after`
 * (end_pos when none). Seqs only have gaps where an append failed, so the
 * position is usually direct; otherwise a binary search (seqs increase with
 * positions). */
static uint64_t pos_after_seq(memory_t *m, uint64_t after) {
  uint64_t lo = m->first_pos, hi = m->end_pos;
  if (lo == hi) return hi;
  uint64_t first_seq = slot_at(m, lo)->update->seq;
  if (after < first_seq) return lo;
  if (after - first_seq < hi - lo && slot_at(m, lo + (after - first_seq))->update->seq == after)
    return lo + (after - first_seq) + 1;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (slot_at(m, mid)->update->seq <= after)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static int memory_replay_after_seq(qs_store_t *store, uint64_t after_seq, uint64_t up_to_seq,
                                   qs_store_each_fn each, void *ctx) {
  memory_t *m = (memory_t *)store;
  qs_update_t *chunk[REPLAY_CHUNK];
  int64_t cutoff = age_cutoff_ms(m);
  uint64_t after = after_seq; /* the caller has been given everything up to here */
  for (;;) {
    if (after >= up_to_seq) return 0;
    size_t n = 0;
    bool done = false;
    int rc = 0;
    pthread_rwlock_rdlock(&m->lock);
    if (m->discarded_seq > after) {
      rc = QS_ELIMIT; /* evicted before the caller saw it (eviction goes oldest first) */
    } else {
      uint64_t pos = pos_after_seq(m, after);
      rc = copy_chunk(m, &pos, up_to_seq, cutoff, true, chunk, &n, &done);
    }
    pthread_rwlock_unlock(&m->lock);
    if (!hand_out(chunk, n, each, ctx, &after)) return 0;
    if (rc || done) return rc;
  }
}

static uint64_t memory_last_seq(qs_store_t *store) {
  memory_t *m = (memory_t *)store;
  pthread_rwlock_rdlock(&m->lock);
  uint64_t seq = m->last_seq;
  pthread_rwlock_unlock(&m->lock);
  return seq;
}

static size_t memory_last_id(qs_store_t *store, char *out, size_t out_size) {
  memory_t *m = (memory_t *)store;
  size_t len = 0;
  pthread_rwlock_rdlock(&m->lock);
  if (m->end_pos > m->first_pos) {
    qs_slice_t id = slot_at(m, m->end_pos - 1)->update->id;
    len = id.len;
    if (out_size) {
      size_t n = len < out_size - 1 ? len : out_size - 1;
      memcpy(out, id.ptr, n);
      out[n] = '\0';
    }
  } else if (out_size) {
    out[0] = '\0';
  }
  pthread_rwlock_unlock(&m->lock);
  return len;
}

static void memory_stats(qs_store_t *store, qs_store_stats_t *out) {
  memory_t *m = (memory_t *)store;
  pthread_rwlock_rdlock(&m->lock);
  out->count = m->end_pos - m->first_pos;
  out->bytes = m->bytes;
  out->last_seq = m->last_seq;
  out->evicted = m->evicted;
  if (out->count) {
    out->first_seq = slot_at(m, m->first_pos)->update->seq;
    out->last_created_ms = slot_at(m, m->end_pos - 1)->update->created_ms;
  }
  pthread_rwlock_unlock(&m->lock);
}

static void memory_destroy(qs_store_t *store) {
  memory_t *m = (memory_t *)store;
  for (uint64_t pos = m->first_pos; pos < m->end_pos; pos++) qs_update_release(slot_at(m, pos)->update);
  free(m->slots);
  qs_map_dispose(&m->ids);
  pthread_rwlock_destroy(&m->lock);
  free(m);
}

static const qs_store_vtable_t memory_vtable = {
    .name = "memory",
    .append = memory_append,
    .replay = memory_replay,
    .replay_after_seq = memory_replay_after_seq,
    .last_seq = memory_last_seq,
    .last_id = memory_last_id,
    .destroy = memory_destroy,
    .stats = memory_stats,
};

int qs_store_memory_create(const qs_store_retention_t *retention, qs_store_on_durable_fn on_durable,
                           void *ctx, qs_store_t **out) {
  memory_t *m = calloc(1, sizeof *m);
  if (!m) return QS_ENOMEM;
  m->base = (qs_store_t){
      .vtable = &memory_vtable,
      .on_durable = on_durable,
      .on_durable_ctx = ctx,
      .retention = retention ? *retention : (qs_store_retention_t){0},
  };
  if (pthread_rwlock_init(&m->lock, NULL)) {
    free(m);
    return QS_ENOMEM;
  }
  qs_map_init(&m->ids);
  *out = &m->base;
  return 0;
}
