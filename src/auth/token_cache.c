#include "auth/token_cache_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/map.h"

/* Shards keep lock contention low when many workers verify at once (the
 * shard is the top 4 bits of a 64-bit product: 16). */
#define SHARDS 16
_Static_assert(SHARDS == 16, "shard_of() takes the top 4 bits");

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
 * (unambiguous). Built on the stack when it fits (the usual case: a lookup
 * allocates nothing). */
typedef struct {
  char *ptr;
  size_t len;
  char stack[QS_TOKEN_CACHE_MAX_TOKEN_BYTES + 256];
} cache_key_t;

static int make_key(int role, uint64_t key_epoch, qs_slice_t resource, qs_slice_t token, cache_key_t *key) {
  uint64_t resource_len = resource.len;
  size_t len = 1 + 2 * sizeof(uint64_t) + resource.len + token.len;
  key->ptr = len <= sizeof key->stack ? key->stack : malloc(len);
  if (!key->ptr) return QS_ENOMEM;
  char *p = key->ptr;
  *p++ = (char)role;
  memcpy(p, &key_epoch, sizeof key_epoch);
  p += sizeof key_epoch;
  memcpy(p, &resource_len, sizeof resource_len);
  p += sizeof resource_len;
  if (resource.len) memcpy(p, resource.ptr, resource.len);
  p += resource.len;
  memcpy(p, token.ptr, token.len);
  key->len = len;
  return 0;
}

static void dispose_key(cache_key_t *key) {
  if (key->ptr != key->stack) free(key->ptr);
}

static qs_slice_t key_slice(const cache_key_t *key) { return qs_slice(key->ptr, key->len); }

/* The shard from the key's last bytes (the token's signature: already
 * random), so that only the map hashes the whole key. */
static shard_t *shard_of(qs_token_cache_t *cache, const cache_key_t *key) {
  uint64_t tail = 0;
  size_t n = key->len < sizeof tail ? key->len : sizeof tail;
  memcpy(&tail, key->ptr + key->len - n, n);
  return &cache->shards[(tail * 0x9E3779B97F4A7C15ull) >> 60];
}

qs_grants_t *qs_token_cache_get(qs_token_cache_t *cache, int role, qs_slice_t resource, qs_slice_t token,
                                uint64_t key_epoch, int64_t now_ms) {
  if (!cache || token.len > QS_TOKEN_CACHE_MAX_TOKEN_BYTES) return NULL;
  cache_key_t key;
  if (make_key(role, key_epoch, resource, token, &key)) return NULL;
  shard_t *shard = shard_of(cache, &key);
  pthread_mutex_lock(&shard->lock);
  qs_grants_t *grants = qs_map_get(&shard->entries, key_slice(&key));
  if (grants && grants->expires_ms != 0 && now_ms >= grants->expires_ms) {
    qs_map_remove(&shard->entries, key_slice(&key));
    qs_grants_release(grants);
    grants = NULL;
  } else if (grants) {
    qs_grants_retain(grants);
  }
  pthread_mutex_unlock(&shard->lock);
  dispose_key(&key);
  return grants;
}

void qs_token_cache_put(qs_token_cache_t *cache, int role, qs_slice_t resource, qs_slice_t token,
                        uint64_t key_epoch, qs_grants_t *grants) {
  if (!cache || token.len > QS_TOKEN_CACHE_MAX_TOKEN_BYTES) return;
  cache_key_t key;
  if (make_key(role, key_epoch, resource, token, &key)) return;
  shard_t *shard = shard_of(cache, &key);
  pthread_mutex_lock(&shard->lock);
  if (!qs_map_get(&shard->entries, key_slice(&key))) {
    /* Emptying a full shard keeps the bound simple; tokens come back on their next use. */
    if (qs_map_count(&shard->entries) >= cache->max_per_shard) clear_shard(shard);
    if (qs_map_put(&shard->entries, key_slice(&key), grants) == 0) qs_grants_retain(grants);
  }
  pthread_mutex_unlock(&shard->lock);
  dispose_key(&key);
}
