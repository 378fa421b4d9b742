/* A hash map from byte-string keys to pointers (open addressing, linear
 * probing). The map copies keys; values are borrowed and never freed by it.
 * Not thread-safe: one owner. */
#ifndef QS_BASE_MAP_H
#define QS_BASE_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"

typedef struct qs_map_entry qs_map_entry_t;

typedef struct {
  qs_map_entry_t *entries;
  size_t cap;   /* power of two, or 0 */
  size_t count; /* live entries */
  size_t used;  /* live + deleted slots */
} qs_map_t;

/* Initializes an empty map. Allocates nothing. */
void qs_map_init(qs_map_t *map);

/* Frees the map's memory (keys included, values untouched). */
void qs_map_dispose(qs_map_t *map);

/* The value stored under `key`, or NULL. */
void *qs_map_get(const qs_map_t *map, qs_slice_t key);

/* Stores `value` (not NULL) under `key`, replacing any previous value.
 * Returns 0 or QS_ENOMEM. */
int qs_map_put(qs_map_t *map, qs_slice_t key, void *value);

/* Removes `key`; returns the value it had, or NULL. */
void *qs_map_remove(qs_map_t *map, qs_slice_t key);

/* Number of keys. */
static inline size_t qs_map_count(const qs_map_t *map) { return map->count; }

/* Calls `fn(key, value, ctx)` for every entry, in no particular order. The map
 * must not change during the walk. */
void qs_map_each(const qs_map_t *map, void (*fn)(qs_slice_t key, void *value, void *ctx), void *ctx);

/* 64-bit FNV-1a hash of the bytes. */
uint64_t qs_hash_bytes(const void *data, size_t len);

#endif
