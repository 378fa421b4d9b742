/* An update: what a publisher sent, as the hub delivers and remembers it.
 * Immutable once created and shared by reference between the history, the
 * sequencer and every subscriber queue of every worker thread. Its SSE bytes
 * are encoded once, at creation. */
#ifndef QS_STORE_UPDATE_H
#define QS_STORE_UPDATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/slice.h"

typedef struct qs_update {
  atomic_uint refs;
  uint64_t seq;       /* position in the hub-wide order; 0 until the sequencer assigns it */
  int64_t created_ms; /* wall clock at creation */
  qs_slice_t id;      /* never empty */
  qs_slice_t *topics; /* topics[0] is the canonical topic */
  size_t topic_count; /* >= 1 */
  qs_slice_t type;    /* SSE `event`; empty when none */
  uint64_t retry_ms;  /* SSE `retry`; 0 when none */
  qs_slice_t data;    /* as published (may hold CR/LF) */
  bool is_private;
  qs_slice_t sse; /* the encoded event: [event:][retry:]id:data:...\n\n */
} qs_update_t;

/* What a publisher supplied; every slice is borrowed for the call only. */
typedef struct {
  qs_slice_t id; /* must be non-empty (the caller generates one if needed) */
  const qs_slice_t *topics;
  size_t topic_count;
  qs_slice_t type;
  uint64_t retry_ms;
  qs_slice_t data;
  bool is_private;
} qs_update_fields_t;

/* Creates an update holding one reference, copying every field into one
 * allocation and encoding its SSE bytes (data split into one `data:` line per
 * line on CR, LF and CRLF, per the draft's Publication section). The caller
 * must have validated the fields (no CR/LF in id, type or topics).
 * Returns NULL when out of memory. */
qs_update_t *qs_update_create(const qs_update_fields_t *fields, int64_t created_ms);

/* Takes one more reference; returns `u`. Thread-safe. */
static inline qs_update_t *qs_update_retain(qs_update_t *u) {
  atomic_fetch_add_explicit(&u->refs, 1, memory_order_relaxed);
  return u;
}

/* Drops one reference, freeing the update with the last one. Thread-safe. */
void qs_update_release(qs_update_t *u);

#endif
