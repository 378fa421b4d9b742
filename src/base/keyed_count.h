/* Counts per key with a limit: how many connections an address or a token
 * subject holds now. A key at zero takes no memory. Not thread-safe: callers
 * hold their own lock (they often update other state with it). */
#ifndef QS_BASE_KEYED_COUNT_H
#define QS_BASE_KEYED_COUNT_H

#include <stddef.h>

#include "base/map.h"
#include "base/slice.h"

typedef struct {
  qs_map_t counts; /* key -> (void *)(uintptr_t)count, absent when 0 */
} qs_keyed_count_t;

/* An empty set of counts. Allocates nothing. */
void qs_keyed_count_init(qs_keyed_count_t *counts);

/* Frees the counts. */
void qs_keyed_count_dispose(qs_keyed_count_t *counts);

/* The count of `key` (0 when absent). */
size_t qs_keyed_count_get(const qs_keyed_count_t *counts, qs_slice_t key);

/* Adds one to the count of `key` (copied) unless it is already `limit`
 * (0: no limit). Returns 0, QS_EBUSY at the limit, or QS_ENOMEM; the count
 * is unchanged on failure. */
int qs_keyed_count_take(qs_keyed_count_t *counts, qs_slice_t key, size_t limit);

/* Takes one from the count of `key` (a count of 0 stays 0). Never allocates. */
void qs_keyed_count_release(qs_keyed_count_t *counts, qs_slice_t key);

#endif
