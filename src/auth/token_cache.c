#include "auth/token_cache_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/map.h"

/* Shards keep lock contention low when many workers verify at once. */
#define SHARDS 16

typedef struct {
  pthread_mutex_t lock;
  qs_map_t entries; /* key -> qs_grants_t* (one reference each) */
} shard_t;

struct qs_token_cache {
  size_t max_per_shard;
  shard_t shards[SHARDS];
};

qs_token_cache_t *qs_token_cache_create(size_t max_entries) {
  qs_token_cache_t *cache = calloc(1, sizeof *cache);
  if (!cache) return NULL;
  cache->max_per_shard = (max_entries + SHARDS - 1) / SHARDS;
  if (cache->max_per_shard == 0) cache->max_per_shard = 1;
  for (int i = 0; i < SHARDS; i++) {
    pthread_mutex_init(&cache->shards[i].lock, NULL);
    qs_map_init(&cache->shards[i].entries);
  }
  return cache;
}

static void release_entry(qs_slice_t key, void *value, void *ctx) {
  (void)key;
  (void)ctx;
  qs_grants_release(value);
}

static void clear_shard(shard_t *shard) {
  qs_map_each(&shard->entries, release_entry, NULL);
  qs_map_dispose(&shard->entries);
  qs_map_init(&shard->entries);
}

void qs_token_cache_destroy(qs_token_cache_t *cache) {
  if (!cache) return;
  for (int i = 0; i < SHARDS; i++) {
    clear_shard(&cache->shards[i]);
    pthread_mutex_destroy(&cache->shards[i].lock);
  }
  free(cache);
}

/* The cache key: role byte, key epoch, resource length, resource, token
 * (unambiguous). */
static int make_key(int role, uint64_t key_epoch, qs_slice_t resource, qs_slice_t token, qs_buf_t *key) {
  qs_buf_init(key, 24 + resource.len + token.len);
  unsigned char prefix[1 + 2 * sizeof(uint64_t)];
  uint64_t len = resource.len;
  prefix[0] = (unsigned char)role;
  memcpy(prefix + 1, &key_epoch, sizeof key_epoch);
  memcpy(prefix + 1 + sizeof key_epoch, &len, sizeof len);
  int rc = qs_buf_append(key, prefix, sizeof prefix);
  if (!rc && resource.len) rc = qs_buf_append(key, resource.ptr, resource.len);
  if (!rc) rc = qs_buf_append(key, token.ptr, token.len);
  return rc;
}

static shard_t *shard_of(qs_token_cache_t *cache, qs_slice_t key) {
  return &cache->shards[qs_hash_bytes(key.ptr, key.len) % SHARDS];
}

qs_grants_t *qs_token_cache_get(qs_token_cache_t *cache, int role, qs_slice_t resource, qs_slice_t token,
                                uint64_t key_epoch, int64_t now_ms) {
  if (!cache || token.len > QS_TOKEN_CACHE_MAX_TOKEN_BYTES) return NULL;
  qs_buf_t key;
  if (make_key(role, key_epoch, resource, token, &key)) {
    qs_buf_dispose(&key);
    return NULL;
  }
  shard_t *shard = shard_of(cache, qs_buf_slice(&key));
  pthread_mutex_lock(&shard->lock);
  qs_grants_t *grants = qs_map_get(&shard->entries, qs_buf_slice(&key));
  if (grants && grants->expires_ms != 0 && now_ms >= grants->expires_ms) {
    qs_map_remove(&shard->entries, qs_buf_slice(&key));
    qs_grants_release(grants);
    grants = NULL;
  } else if (grants) {
    qs_grants_retain(grants);
  }
  pthread_mutex_unlock(&shard->lock);
  qs_buf_dispose(&key);
  return grants;
}

void qs_token_cache_put(qs_token_cache_t *cache, int role, qs_slice_t resource, qs_slice_t token,
                        uint64_t key_epoch, qs_grants_t *grants) {
  if (!cache || token.len > QS_TOKEN_CACHE_MAX_TOKEN_BYTES) return;
  qs_buf_t key;
  if (make_key(role, key_epoch, resource, token, &key)) {
    qs_buf_dispose(&key);
    return;
  }
  shard_t *shard = shard_of(cache, qs_buf_slice(&key));
  pthread_mutex_lock(&shard->lock);
  if (!qs_map_get(&shard->entries, qs_buf_slice(&key))) {
    /* Emptying a full shard keeps the bound simple; tokens come back on their next use. */
    if (qs_map_count(&shard->entries) >= cache->max_per_shard) clear_shard(shard);
    if (qs_map_put(&shard->entries, qs_buf_slice(&key), grants) == 0) qs_grants_retain(grants);
  }
  pthread_mutex_unlock(&shard->lock);
  qs_buf_dispose(&key);
}
