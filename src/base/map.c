#include "base/map.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"

struct qs_map_entry {
  char *key; /* NULL: empty; TOMBSTONE: deleted */
  size_t key_len;
  uint64_t hash;
  void *value;
};

static char tombstone_byte;
#define TOMBSTONE (&tombstone_byte)

uint64_t qs_hash_bytes(const void *data, size_t len) {
  const unsigned char *p = data;
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

void qs_map_init(qs_map_t *map) { *map = (qs_map_t){0}; }

void qs_map_dispose(qs_map_t *map) {
  for (size_t i = 0; i < map->cap; i++)
    if (map->entries[i].key && map->entries[i].key != TOMBSTONE) free(map->entries[i].key);
  free(map->entries);
  *map = (qs_map_t){0};
}

static qs_map_entry_t *find(const qs_map_t *map, qs_slice_t key, uint64_t hash) {
  if (!map->cap) return NULL;
  for (size_t i = hash & (map->cap - 1);; i = (i + 1) & (map->cap - 1)) {
    qs_map_entry_t *e = &map->entries[i];
    if (!e->key) return NULL;
    if (e->key != TOMBSTONE && e->hash == hash && e->key_len == key.len &&
        (key.len == 0 || memcmp(e->key, key.ptr, key.len) == 0))
      return e;
  }
}

void *qs_map_get(const qs_map_t *map, qs_slice_t key) {
  qs_map_entry_t *e = find(map, key, qs_hash_bytes(key.ptr, key.len));
  return e ? e->value : NULL;
}

static int grow(qs_map_t *map) {
  size_t cap = map->cap ? map->cap * 2 : 16;
  if (map->count * 4 < map->cap) cap = map->cap; /* mostly tombstones: rehash in place size */
  qs_map_entry_t *entries = calloc(cap, sizeof *entries);
  if (!entries) return QS_ENOMEM;
  for (size_t i = 0; i < map->cap; i++) {
    qs_map_entry_t *e = &map->entries[i];
    if (!e->key || e->key == TOMBSTONE) continue;
    size_t j = e->hash & (cap - 1);
    while (entries[j].key) j = (j + 1) & (cap - 1);
    entries[j] = *e;
  }
  free(map->entries);
  map->entries = entries;
  map->cap = cap;
  map->used = map->count;
  return 0;
}

int qs_map_put(qs_map_t *map, qs_slice_t key, void *value) {
  uint64_t hash = qs_hash_bytes(key.ptr, key.len);
  qs_map_entry_t *e = find(map, key, hash);
  if (e) {
    e->value = value;
    return 0;
  }
  if ((map->used + 1) * 4 > map->cap * 3) {
    int rc = grow(map);
    if (rc) return rc;
  }
  char *copy = malloc(key.len + 1);
  if (!copy) return QS_ENOMEM;
  if (key.len) memcpy(copy, key.ptr, key.len);
  copy[key.len] = '\0';
  size_t i = hash & (map->cap - 1);
  while (map->entries[i].key && map->entries[i].key != TOMBSTONE) i = (i + 1) & (map->cap - 1);
  if (!map->entries[i].key) map->used++;
  map->entries[i] = (qs_map_entry_t){copy, key.len, hash, value};
  map->count++;
  return 0;
}

void *qs_map_remove(qs_map_t *map, qs_slice_t key) {
  qs_map_entry_t *e = find(map, key, qs_hash_bytes(key.ptr, key.len));
  if (!e) return NULL;
  void *value = e->value;
  free(e->key);
  e->key = TOMBSTONE;
  e->value = NULL;
  map->count--;
  return value;
}

void qs_map_each(const qs_map_t *map, void (*fn)(qs_slice_t, void *, void *), void *ctx) {
  for (size_t i = 0; i < map->cap; i++) {
    qs_map_entry_t *e = &map->entries[i];
    if (e->key && e->key != TOMBSTONE) fn((qs_slice_t){e->key, e->key_len}, e->value, ctx);
  }
}
