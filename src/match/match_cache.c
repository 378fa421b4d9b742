/* Bounded (matcher, topic) result cache: a direct-mapped table of
 * `max_entries` slots; a new result replaces whatever held its slot, which
 * bounds memory without any bookkeeping on the hot path. */
#include "match/match_cache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/map.h"

typedef struct {
  uint64_t hash;
  char *key; /* type byte, pattern length (size_t), pattern, topic */
  size_t key_len;
  bool matched;
} slot_t;

struct qs_match_cache {
  slot_t *slots;
  size_t cap;
  size_t count;
  size_t hits, misses;
};

int qs_match_cache_create(size_t max_entries, qs_match_cache_t **out) {
  *out = NULL;
  qs_match_cache_t *c = calloc(1, sizeof *c);
  if (!c) return QS_ENOMEM;
  if (max_entries > 0) {
    c->slots = calloc(max_entries, sizeof *c->slots);
    if (!c->slots) {
      free(c);
      return QS_ENOMEM;
    }
  }
  c->cap = max_entries;
  *out = c;
  return 0;
}

void qs_match_cache_clear(qs_match_cache_t *cache) {
  if (!cache) return;
  for (size_t i = 0; i < cache->cap; i++) {
    free(cache->slots[i].key);
    cache->slots[i] = (slot_t){0};
  }
  cache->count = 0;
}

void qs_match_cache_destroy(qs_match_cache_t *cache) {
  if (!cache) return;
  qs_match_cache_clear(cache);
  free(cache->slots);
  free(cache);
}

/* Writes the key into `buf` (at least QS_MATCH_CACHE_MAX_KEY_BYTES); 0 when
 * it does not fit. */
static size_t make_key(const qs_matcher_t *m, qs_slice_t topic, char *buf) {
  qs_slice_t pattern = qs_matcher_pattern(m);
  size_t len = 1 + sizeof(size_t) + pattern.len + topic.len;
  if (len > QS_MATCH_CACHE_MAX_KEY_BYTES) return 0;
  buf[0] = (char)qs_matcher_type(m);
  memcpy(buf + 1, &pattern.len, sizeof(size_t));
  if (pattern.len) memcpy(buf + 1 + sizeof(size_t), pattern.ptr, pattern.len);
  if (topic.len) memcpy(buf + 1 + sizeof(size_t) + pattern.len, topic.ptr, topic.len);
  return len;
}

bool qs_match_cache_match(qs_match_cache_t *cache, const qs_matcher_t *matcher, qs_slice_t topic) {
  if (!cache || cache->cap == 0 || qs_matcher_is_exact(matcher) || qs_matcher_is_wildcard(matcher))
    return qs_matcher_match(matcher, topic);
  char key[QS_MATCH_CACHE_MAX_KEY_BYTES];
  size_t key_len = make_key(matcher, topic, key);
  if (key_len == 0) return qs_matcher_match(matcher, topic);
  uint64_t hash = qs_hash_bytes(key, key_len);
  slot_t *slot = &cache->slots[hash % cache->cap];
  if (slot->key && slot->hash == hash && slot->key_len == key_len && memcmp(slot->key, key, key_len) == 0) {
    cache->hits++;
    return slot->matched;
  }
  cache->misses++;
  bool matched = qs_matcher_match(matcher, topic);
  char *copy = malloc(key_len);
  if (!copy) return matched;
  memcpy(copy, key, key_len);
  if (slot->key)
    free(slot->key);
  else
    cache->count++;
  *slot = (slot_t){hash, copy, key_len, matched};
  return matched;
}

size_t qs_match_cache_count(const qs_match_cache_t *cache) { return cache ? cache->count : 0; }
size_t qs_match_cache_hits(const qs_match_cache_t *cache) { return cache ? cache->hits : 0; }
size_t qs_match_cache_misses(const qs_match_cache_t *cache) { return cache ? cache->misses : 0; }
