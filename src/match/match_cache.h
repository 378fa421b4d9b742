/* A bounded cache of (matcher, topic) → matched results, so that a topic
 * published again is not run through the same URL Pattern or URI Template
 * regexes twice. Size from the `topic_matcher_cache` setting.
 *
 * Not thread-safe: each worker loop owns one cache (DESIGN.md "hot path":
 * no locks on the per-subscriber path). Entries are keyed by the matcher's
 * type, pattern and base (hub) URL (not its address), so destroying a
 * matcher never leaves a stale entry that could answer for another one. */
#ifndef QS_MATCH_MATCH_CACHE_H
#define QS_MATCH_MATCH_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/slice.h"
#include "match/matcher.h"

/* Keys (pattern + topic) longer than this are evaluated but never cached. */
#define QS_MATCH_CACHE_MAX_KEY_BYTES 2048

typedef struct qs_match_cache qs_match_cache_t;

/* Creates a cache holding at most `max_entries` results (0 disables caching:
 * every lookup evaluates the matcher). Memory stays below max_entries *
 * (QS_MATCH_CACHE_MAX_KEY_BYTES + a small header). Returns 0 or QS_ENOMEM;
 * the caller destroys the cache. */
int qs_match_cache_create(size_t max_entries, qs_match_cache_t **out);

/* Frees the cache (NULL is fine). */
void qs_match_cache_destroy(qs_match_cache_t *cache);

/* qs_matcher_match(matcher, topic), answered from the cache when possible.
 * Exact and wildcard matchers are evaluated directly (cheaper than a lookup).
 * A result that hit an evaluation limit is cached as "no match". `cache` may
 * be NULL (no caching). Out of memory only means the result is not stored. */
bool qs_match_cache_match(qs_match_cache_t *cache, const qs_matcher_t *matcher, qs_slice_t topic);

/* qs_match_cache_match, but a miss evaluates qs_matcher_match_url(matcher,
 * topic, url): `url` is the topic already parsed against the matcher's base
 * URL (NULL when that parse failed). */
struct qs_url;
bool qs_match_cache_match_url(qs_match_cache_t *cache, const qs_matcher_t *matcher, qs_slice_t topic,
                              const struct qs_url *url);

/* Forgets every entry. */
void qs_match_cache_clear(qs_match_cache_t *cache);

/* Statistics: entries held, lookups answered from the cache, lookups that
 * evaluated a matcher. */
size_t qs_match_cache_count(const qs_match_cache_t *cache);
size_t qs_match_cache_hits(const qs_match_cache_t *cache);
size_t qs_match_cache_misses(const qs_match_cache_t *cache);

#endif
