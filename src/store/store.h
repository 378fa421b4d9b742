/* History and ordering: the hub-wide, ordered record of updates that
 * reconnecting subscribers replay from, and the transport that decides that
 * order and tells every node about it. One interface, several back ends:
 *
 *   - local (memory ring, LMDB): the hub's in-process sequencer orders the
 *     updates (`seq`), appends them one at a time, and the store reports each
 *     one durable through on_durable;
 *   - ordering (Redis): the back end orders updates itself (`publish`); every
 *     update of the hub-wide order, published on this node or on another,
 *     reaches on_durable in that order, with a seq the back end assigned.
 *
 * Reads may come from any thread. */
#ifndef QS_STORE_STORE_H
#define QS_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/slice.h"
#include "store/update.h"

typedef struct qs_store qs_store_t;

/* Called once per appended update, in `seq` order, when it is durable
 * (status 0) or could not be stored (status < 0; the update must not be
 * acknowledged). Runs on the appending thread (memory) or on the store's
 * writer thread (LMDB; inside append with QS_STORE_DURABILITY_ASYNC); it must
 * not call back into the store's append or destroy. */
typedef void (*qs_store_on_durable_fn)(void *ctx, qs_update_t *update, int status);

/* Receives one replayed update, borrowed for the call (retain it to keep it).
 * Returns false to stop the replay. */
typedef bool (*qs_store_each_fn)(void *ctx, qs_update_t *update);

/* Called once per qs_store_publish, from any thread, when the ordering back
 * end has stored the update (status 0: it may be acknowledged) or could not
 * (status < 0, for instance QS_EUNAVAILABLE: the transport is unreachable).
 * `update` is the one given to publish, borrowed for the call. The update
 * itself reaches on_durable separately, as every other update does. */
typedef void (*qs_store_on_published_fn)(void *ctx, qs_update_t *update, int status);

/* Called once per qs_store_await_id that returned with *pending set, from
 * any thread: status 0 once this node has read the shared order up to the
 * awaited update (a replay from its id now finds it), QS_ENOTFOUND when the
 * shared order does not know the id either (unknown or trimmed),
 * QS_EUNAVAILABLE when the transport could not tell or this node did not read
 * up to it in time, QS_ECLOSED when the store is being destroyed. */
typedef void (*qs_store_on_awaited_fn)(void *ctx, int status);

/* Called, on the store's thread, for a node of the shared transport whose
 * heartbeat stopped (`node` is its name, NUL-terminated, borrowed for the
 * call): on exactly one of the nodes still alive, the first to notice. */
typedef void (*qs_store_on_node_gone_fn)(void *ctx, const char *node);

/* The state of a transport shared by several nodes (all 0 for local ones). */
typedef struct {
  bool shared;         /* the back end is a shared transport (the fields below mean something) */
  bool connected;      /* publishes can be stored now */
  bool caught_up;      /* this node has read the shared order up to its head (as last seen) */
  uint64_t reconnects; /* connections re-established since start */
  uint64_t lag_ms;     /* stream time between the head of the order and what this node has read */
  uint64_t publishes;  /* publishes acknowledged by the transport */
  uint64_t failures;   /* publishes that failed (unreachable, refused, not replicated) */
  const char *name;    /* "redis"; static */
  const char *reason;  /* why it is not connected, static; "" when connected */
} qs_store_transport_t;

/* Bounds on what the history keeps; 0 means unbounded for that dimension. */
typedef struct {
  uint64_t max_count;
  uint64_t max_bytes;
  int64_t max_age_ms;
} qs_store_retention_t;

/* What a back end reports about itself (all fields 0 when unknown). */
typedef struct qs_store_stats {
  uint64_t count;          /* updates retained */
  uint64_t bytes;          /* bytes retained, as the back end counts them for max_bytes */
  uint64_t first_seq;      /* seq of the oldest retained update (0 when empty) */
  uint64_t last_seq;       /* same as last_seq() */
  int64_t last_created_ms; /* created_ms of the newest retained update (0 when empty); with
                            * qs_uuid_v7_timestamp_ms(last_id) it floors the id generator */
  uint64_t commits;        /* write transactions committed (LMDB) */
  uint64_t evicted;        /* updates discarded by retention or to make room */
  uint64_t failed;         /* updates whose on_durable got a status < 0 */
} qs_store_stats_t;

typedef struct {
  const char *name;
  /* Takes a reference to `update` (whose seq is set) and makes it durable,
   * then calls on_durable. Returns 0, or an error without calling on_durable:
   * QS_EINVAL (seq 0 or not above the previous append's, empty id), QS_EFULL
   * (LMDB: max_pending updates already wait for the writer), QS_ENOMEM,
   * QS_ECLOSED (being destroyed). */
  int (*append)(qs_store_t *store, qs_update_t *update);
  /* Replays the updates after the earliest one whose id is `last_event_id`
   * (every update when it is "earliest"), up to and including `up_to_seq`.
   * Returns 0, or QS_ENOTFOUND (nothing replayed) when the id is unknown or
   * was discarded. Only acknowledged updates are replayed. Safe from any
   * thread, concurrently with append; `each` runs on the calling thread with
   * no store lock held. Also QS_ELIMIT when retention discarded the next
   * update to replay while `each` was running (the memory ring replays in
   * chunks; the subscriber has missed updates), QS_EIO or QS_ENOMEM. */
  int (*replay)(qs_store_t *store, qs_slice_t last_event_id, uint64_t up_to_seq, qs_store_each_fn each,
                void *ctx);
  /* Replays, in seq order, the acknowledged, retained and unexpired updates
   * with after_seq < seq <= up_to_seq: the range read of a subscriber that
   * catches up in slices (the position is a seq, found in O(1) or
   * O(log n), not an id). `each` may stop the replay early (returns false).
   * Returns 0; QS_ELIMIT when updates in the range that the caller has not
   * been given were discarded (retention, age, or to make room): the oldest
   * one still retained is beyond after_seq + 1, an expired one is met, or
   * retention overtook the replay between chunks; the caller has missed
   * updates and must not skip them silently. Also QS_EIO or QS_ENOMEM. Same
   * thread safety as `replay`. Optional (NULL when a back end lacks it). */
  int (*replay_after_seq)(qs_store_t *store, uint64_t after_seq, uint64_t up_to_seq, qs_store_each_fn each,
                          void *ctx);
  /* The seq of the newest acknowledged update (0 when nothing was ever
   * appended). It stays after retention empties the history, and is recovered
   * on reopen, so the sequencer can continue numbering from it. */
  uint64_t (*last_seq)(qs_store_t *store);
  /* Copies the id of the newest update into out (NUL-terminated, truncated to
   * out_size); returns its length, 0 when the history is empty. */
  size_t (*last_id)(qs_store_t *store, char *out, size_t out_size);
  /* Flushes pending appends (calling their on_durable) and frees the store. */
  void (*destroy)(qs_store_t *store);
  /* Optional (may be NULL): fills *out with the back end's counters. */
  void (*stats)(qs_store_t *store, struct qs_store_stats *out);
  /* Ordering back ends only (NULL for local ones, whose `append` the hub's
   * sequencer calls): takes a reference to `update` (seq 0) and hands it to
   * the shared order. Returns 0 (done will be called once, from any thread),
   * or an error without calling done: QS_EUNAVAILABLE (the transport is not
   * connected), QS_ENOMEM, QS_ECLOSED. */
  int (*publish)(qs_store_t *store, qs_update_t *update, qs_store_on_published_fn done, void *done_ctx);
  /* Optional: fills *out with the transport's state (thread-safe). */
  void (*transport)(qs_store_t *store, qs_store_transport_t *out);
  /* Ordering back ends (optional): a resume from `last_event_id` (borrowed
   * for the call) is about to be served on this node. When this node's copy
   * of the order knows the id already, or the id is empty or "earliest",
   * sets *pending to false (done is not called). Otherwise it asks the shared
   * order's id index, sets *pending to true and calls done once: the id may
   * name an update published on another node that this node has not read
   * yet. Returns 0, or an error without calling done (QS_ENOMEM, QS_ECLOSED);
   * with the transport unreachable it returns 0 with *pending false (the
   * resume goes on with what this node has). Thread-safe. */
  int (*await_id)(qs_store_t *store, qs_slice_t last_event_id, qs_store_on_awaited_fn done, void *ctx,
                  bool *pending);
  /* Shared back ends (optional): from now on this node sends a heartbeat
   * under the name `node` (1 to 32 characters from [A-Za-z0-9-], copied),
   * and on_gone is called for the nodes whose heartbeat stopped (see
   * qs_store_on_node_gone_fn; the timings are the back end's). Call once.
   * Returns 0, QS_EINVAL (bad name, or called twice) or QS_EUNSUPPORTED. */
  int (*watch_nodes)(qs_store_t *store, const char *node, qs_store_on_node_gone_fn on_gone, void *ctx);
} qs_store_vtable_t;

/* Every back end's object starts with this header. */
struct qs_store {
  const qs_store_vtable_t *vtable;
  qs_store_on_durable_fn on_durable;
  void *on_durable_ctx;
  qs_store_retention_t retention;
};

static inline int qs_store_append(qs_store_t *s, qs_update_t *u) { return s->vtable->append(s, u); }
static inline int qs_store_replay(qs_store_t *s, qs_slice_t last_event_id, uint64_t up_to_seq,
                                  qs_store_each_fn each, void *ctx) {
  return s->vtable->replay(s, last_event_id, up_to_seq, each, ctx);
}
/* QS_EINVAL when the back end has no range replay. */
static inline int qs_store_replay_after_seq(qs_store_t *s, uint64_t after_seq, uint64_t up_to_seq,
                                            qs_store_each_fn each, void *ctx) {
  return s->vtable->replay_after_seq ? s->vtable->replay_after_seq(s, after_seq, up_to_seq, each, ctx)
                                     : QS_EINVAL;
}
static inline uint64_t qs_store_last_seq(qs_store_t *s) { return s->vtable->last_seq(s); }
static inline size_t qs_store_last_id(qs_store_t *s, char *out, size_t out_size) {
  return s->vtable->last_id(s, out, out_size);
}
static inline void qs_store_destroy(qs_store_t *s) {
  if (s) s->vtable->destroy(s);
}
/* Whether the back end orders updates itself (see the top of this file). */
static inline bool qs_store_orders(const qs_store_t *s) { return s->vtable->publish != NULL; }
/* See the vtable's publish; QS_EINVAL for a local back end. */
static inline int qs_store_publish(qs_store_t *s, qs_update_t *u, qs_store_on_published_fn done, void *ctx) {
  return s->vtable->publish ? s->vtable->publish(s, u, done, ctx) : QS_EINVAL;
}
/* Fills *out with the transport's state (all zero for a local back end). */
static inline void qs_store_transport(qs_store_t *s, qs_store_transport_t *out) {
  *out = (qs_store_transport_t){0};
  if (s->vtable->transport) s->vtable->transport(s, out);
}
/* See the vtable's await_id; *pending false for a back end without it. */
static inline int qs_store_await_id(qs_store_t *s, qs_slice_t id, qs_store_on_awaited_fn done, void *ctx,
                                    bool *pending) {
  *pending = false;
  return s->vtable->await_id ? s->vtable->await_id(s, id, done, ctx, pending) : 0;
}
/* See the vtable's watch_nodes; QS_EUNSUPPORTED for a back end without it. */
static inline int qs_store_watch_nodes(qs_store_t *s, const char *node, qs_store_on_node_gone_fn on_gone,
                                       void *ctx) {
  return s->vtable->watch_nodes ? s->vtable->watch_nodes(s, node, on_gone, ctx) : QS_EUNSUPPORTED;
}
/* Fills *out with the store's counters (zeros when the back end has none). */
static inline void qs_store_stats(qs_store_t *s, qs_store_stats_t *out) {
  *out = (qs_store_stats_t){0};
  if (s->vtable->stats) s->vtable->stats(s, out);
}

/* Creates the in-memory ring (bounded by `retention`; a bound of 0 leaves that
 * dimension unbounded, so all three at 0 let it grow without limit).
 * on_durable runs synchronously inside append, after the update is stored.
 * Age is enforced on each append and, lazily, by replay (which skips expired
 * updates). `retention` is copied. Returns 0 or QS_ENOMEM; *out is freed with
 * qs_store_destroy(). */
int qs_store_memory_create(const qs_store_retention_t *retention, qs_store_on_durable_fn on_durable,
                           void *ctx, qs_store_t **out);

/* When an LMDB append is acknowledged (its on_durable called with status 0). */
typedef enum {
  /* After the write transaction holding it is committed and fsynced, on the
   * writer thread: an acknowledged update survives kill -9 and power loss. */
  QS_STORE_DURABILITY_SYNC = 0,
  /* At once, inside append (on the appending thread); the writer commits it
   * later. A crash may lose the last flush interval of acknowledged updates;
   * a failed commit is logged, it cannot be reported any more. */
  QS_STORE_DURABILITY_ASYNC,
} qs_store_durability_t;

/* Group commit: the writer commits one write transaction per batch. */
typedef struct {
  /* How long the first queued update may wait for others before the batch is
   * committed; 0 commits whatever is queued as soon as the writer is free
   * (updates appended during a commit form the next batch). In sync mode a
   * non-zero wait is added to every acknowledgement (README.md). */
  uint32_t flush_interval_ms;
  /* A batch is committed as soon as it holds this many updates (0: 512). */
  uint32_t max_batch;
  /* Appended updates not yet committed; append fails with QS_EFULL beyond it,
   * which bounds memory when the disk is slower than publishers (0: 65536). */
  uint32_t max_pending;
} qs_store_group_commit_t;

/* Opens (creating it if needed) the LMDB history in directory `path` (created
 * with mode 0700 if missing; LMDB keeps data.mdb and lock.mdb there) and starts
 * its writer thread. On open the last seq, the newest update (last_id, stats'
 * last_created_ms) and the retained count and bytes are recovered.
 *
 * `map_size_bytes` is the size of LMDB's memory map, which is the hard limit of
 * the database file (address space only: the file grows as needed). 0 derives
 * it from retention: 4 * max_bytes + 16 MiB (copy-on-write pages, the id index
 * and the free list need room beside the data) with a floor of 64 MiB, or 1 GiB
 * when max_bytes is 0. A smaller value than the data already in the file is
 * raised to fit it. When the map fills, the writer evicts the oldest updates
 * beyond retention to make room; when that is not enough the batch fails with
 * QS_EFULL (each on_durable gets it) and the store stays usable.
 *
 * Retention bytes count the stored record (serialized update) of each update.
 * `group_commit` may be NULL (0 ms, 512, 65536). Every argument is copied.
 * on_durable is called once per appended update, in seq order (see
 * qs_store_durability_t for the thread). Returns 0, QS_EINVAL, QS_ENOMEM or
 * QS_EIO (the reason is logged); *out is freed with qs_store_destroy(), which
 * commits pending appends first. */
int qs_store_lmdb_create(const char *path, uint64_t map_size_bytes, const qs_store_retention_t *retention,
                         const qs_store_group_commit_t *group_commit, qs_store_durability_t durability,
                         qs_store_on_durable_fn on_durable, void *ctx, qs_store_t **out);

#endif
