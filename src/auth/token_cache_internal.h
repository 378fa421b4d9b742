/* A bounded, thread-safe cache of verified tokens (auth/ only). Verifying a
 * token is deterministic given the token bytes, the role, the resource
 * identifier and the keys (JWK Sets change), except for time; since a verified token stays valid until its
 * `exp`, an entry is kept at most until then. Failures are never cached. */
#ifndef QS_AUTH_TOKEN_CACHE_INTERNAL_H
#define QS_AUTH_TOKEN_CACHE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "auth/grants.h"
#include "base/slice.h"

/* Tokens longer than this are verified every time, to bound the cache's memory. */
#define QS_TOKEN_CACHE_MAX_TOKEN_BYTES 2048

typedef struct qs_token_cache qs_token_cache_t;

/* A cache of at most `max_entries` tokens (rounded up to a multiple of its
 * shard count). NULL when out of memory. */
qs_token_cache_t *qs_token_cache_create(size_t max_entries);

/* Frees the cache and drops its grant references (NULL is fine). */
void qs_token_cache_destroy(qs_token_cache_t *cache);

/* The grants of a cached token still valid at `now_ms`, with one reference
 * for the caller; NULL when absent or expired. `key_epoch` names the keys a
 * token was verified with: an entry put under another epoch is never
 * returned (it ages out when its shard fills). */
qs_grants_t *qs_token_cache_get(qs_token_cache_t *cache, int role, qs_slice_t resource, qs_slice_t token,
                                uint64_t key_epoch, int64_t now_ms);

/* Remembers the grants of a token verified under `key_epoch` (taking its own
 * reference). A full shard is emptied first. Out of memory just skips
 * caching. */
void qs_token_cache_put(qs_token_cache_t *cache, int role, qs_slice_t resource, qs_slice_t token,
                        uint64_t key_epoch, qs_grants_t *grants);

#endif
