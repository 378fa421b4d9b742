/* Counts per key (see keyed_count.h), on the hash map. */
#include "base/keyed_count.h"

#include <stdint.h>

#include "base/error.h"

void qs_keyed_count_init(qs_keyed_count_t *c) { qs_map_init(&c->counts); }

void qs_keyed_count_dispose(qs_keyed_count_t *c) { qs_map_dispose(&c->counts); }

size_t qs_keyed_count_get(const qs_keyed_count_t *c, qs_slice_t key) {
  return (size_t)(uintptr_t)qs_map_get(&c->counts, key);
}

int qs_keyed_count_take(qs_keyed_count_t *c, qs_slice_t key, size_t limit) {
  size_t count = qs_keyed_count_get(c, key);
  if (limit && count >= limit) return QS_EBUSY;
  return qs_map_put(&c->counts, key, (void *)(uintptr_t)(count + 1));
}

void qs_keyed_count_release(qs_keyed_count_t *c, qs_slice_t key) {
  size_t count = qs_keyed_count_get(c, key);
  if (count <= 1)
    qs_map_remove(&c->counts, key);
  else
    qs_map_put(&c->counts, key, (void *)(uintptr_t)(count - 1)); /* replacing never allocates */
}
