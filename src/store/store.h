/* History: the hub-wide, ordered record of updates that reconnecting
 * subscribers replay from. One interface, several back ends (memory ring,
 * LMDB; Redis later). Appends are made by one sequencer at a time, in `seq`
 * order; reads may come from any thread. */
#ifndef QS_STORE_STORE_H
#define QS_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"
#include "store/update.h"

typedef struct qs_store qs_store_t;

/* Called once per appended update, in `seq` order, when it is durable
 * (status 0) or could not be stored (status < 0; the update must not be
 * acknowledged). Runs on the appending thread (memory) or on the store's
 * writer thread (LMDB); it must not call back into the store's append. */
typedef void (*qs_store_on_durable_fn)(void *ctx, qs_update_t *update, int status);

/* Receives one replayed update, borrowed for the call (retain it to keep it).
 * Returns false to stop the replay. */
typedef bool (*qs_store_each_fn)(void *ctx, qs_update_t *update);

/* Bounds on what the history keeps; 0 means unbounded for that dimension. */
typedef struct {
  uint64_t max_count;
  uint64_t max_bytes;
  int64_t max_age_ms;
} qs_store_retention_t;

typedef struct {
  const char *name;
  /* Takes a reference to `update` (whose seq is set) and makes it durable,
   * then calls on_durable. Returns 0, or an error without calling on_durable. */
  int (*append)(qs_store_t *store, qs_update_t *update);
  /* Replays the updates after the earliest one whose id is `last_event_id`
   * (every update when it is "earliest"), up to and including `up_to_seq`.
   * Returns 0, or QS_ENOTFOUND (nothing replayed) when the id is unknown or
   * was discarded. */
  int (*replay)(qs_store_t *store, qs_slice_t last_event_id, uint64_t up_to_seq, qs_store_each_fn each,
                void *ctx);
  /* The seq of the newest update (0 when empty). */
  uint64_t (*last_seq)(qs_store_t *store);
  /* Copies the id of the newest update into out (NUL-terminated, truncated to
   * out_size); returns its length, 0 when the history is empty. */
  size_t (*last_id)(qs_store_t *store, char *out, size_t out_size);
  /* Flushes pending appends (calling their on_durable) and frees the store. */
  void (*destroy)(qs_store_t *store);
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
static inline uint64_t qs_store_last_seq(qs_store_t *s) { return s->vtable->last_seq(s); }
static inline size_t qs_store_last_id(qs_store_t *s, char *out, size_t out_size) {
  return s->vtable->last_id(s, out, out_size);
}
static inline void qs_store_destroy(qs_store_t *s) {
  if (s) s->vtable->destroy(s);
}

/* Creates the in-memory ring (bounded by `retention`). Returns 0 or QS_ENOMEM. */
int qs_store_memory_create(const qs_store_retention_t *retention, qs_store_on_durable_fn on_durable,
                           void *ctx, qs_store_t **out);

#endif
