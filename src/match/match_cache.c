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
  char *key; /* see make_key */
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

/* Writes the key (type, pattern length, base URL length, pattern, base URL,
 * topic) into `buf` (at least QS_MATCH_CACHE_MAX_KEY_BYTES); 0 when it does
 * not fit. The base URL is part of it: a relative URL pattern or topic means
 * different things against different hub URLs. */
static size_t make_key(const qs_matcher_t *m, qs_slice_t topic, char *buf) {
  qs_slice_t pattern = qs_matcher_pattern(m);
  qs_slice_t base = qs_matcher_base_url(m);
  size_t len = 1 + 2 * sizeof(size_t) + pattern.len + base.len + topic.len;
  if (len > QS_MATCH_CACHE_MAX_KEY_BYTES) return 0;
  char *p = buf;
  *p++ = (char)qs_matcher_type(m);
  memcpy(p, &pattern.len, sizeof(size_t));
  p += sizeof(size_t);
  memcpy(p, &base.len, sizeof(size_t));
  p += sizeof(size_t);
  if (pattern.len) memcpy(p, pattern.ptr, pattern.len);
  p += pattern.len;
  if (base.len) memcpy(p, base.ptr, base.len);
  p += base.len;
  if (topic.len) memcpy(p, topic.ptr, topic.len);
  return len;
}

/* Evaluates the matcher: on the parsed topic when `parsed`, else on the text. */
static bool evaluate(const qs_matcher_t *matcher, qs_slice_t topic, bool parsed, const struct qs_url *url) {
  return parsed ? qs_matcher_match_url(matcher, topic, url) : qs_matcher_match(matcher, topic);
}

static bool cached_match(qs_match_cache_t *cache, const qs_matcher_t *matcher, qs_slice_t topic, bool parsed,
                         const struct qs_url *url) {
  if (!cache || cache->cap == 0 || qs_matcher_is_exact(matcher) || qs_matcher_is_wildcard(matcher))
    return evaluate(matcher, topic, parsed, url);
  char key[QS_MATCH_CACHE_MAX_KEY_BYTES];
  size_t key_len = make_key(matcher, topic, key);
  if (key_len == 0) return evaluate(matcher, topic, parsed, url);
  uint64_t hash = qs_hash_bytes(key, key_len);
  slot_t *slot = &cache->slots[hash % cache->cap];
  if (slot->key && slot->hash == hash && slot->key_len == key_len && memcmp(slot->key, key, key_len) == 0) {
    cache->hits++;
    return slot->matched;
  }
  cache->misses++;
  bool matched = evaluate(matcher, topic, parsed, url);
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

bool qs_match_cache_match(qs_match_cache_t *cache, const qs_matcher_t *matcher, qs_slice_t topic) {
  return cached_match(cache, matcher, topic, false, NULL);
}

bool qs_match_cache_match_url(qs_match_cache_t *cache, const qs_matcher_t *matcher, qs_slice_t topic,
                              const struct qs_url *url) {
  return cached_match(cache, matcher, topic, true, url);
}

size_t qs_match_cache_count(const qs_match_cache_t *cache) { return cache ? cache->count : 0; }
size_t qs_match_cache_hits(const qs_match_cache_t *cache) { return cache ? cache->hits : 0; }
size_t qs_match_cache_misses(const qs_match_cache_t *cache) { return cache ? cache->misses : 0; }
