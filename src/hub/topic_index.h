/* A shard's topic index: finds, for a published update, the registered
 * owners (a shard's subscribers) that may want it. The bottom of hub/: it
 * knows matchers and updates, nothing of subscribers, shards or the hub.
 *
 * An owner registers an array of members, one per matcher, that it keeps
 * (each member says where it sits, so that removal takes constant time). The
 * index offers updates back to the owners through the two functions of its
 * ops, given at init: the subscribers' ones are in subscriber.c. Used on the
 * shard's loop only. */
#ifndef QS_HUB_TOPIC_INDEX_H
#define QS_HUB_TOPIC_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "base/map.h"
#include "match/match_cache.h"
#include "match/matcher.h"
#include "match/url.h"
#include "store/update.h"

typedef struct qs_index_vec qs_index_vec_t;

/* One member of an owner: its matcher, and where it sits in the index. The
 * owner sets `matcher`; the index sets the rest. */
typedef struct {
  qs_matcher_t *matcher;
  qs_index_vec_t *vec; /* NULL when not registered */
  uint32_t pos;        /* its entry's index in vec */
  uint8_t kind;        /* qs_index_kind_t */
} qs_index_member_t;

/* One registration: which owner, and which of its members. */
typedef struct {
  void *owner;
  qs_index_member_t *member;
} qs_index_entry_t;

/* A compact array of registrations; order does not matter (swap-remove). */
struct qs_index_vec {
  qs_index_entry_t *items;
  uint32_t len;
  uint32_t cap;
};

/* Where a member is registered, so that it can be removed in constant time. */
typedef enum {
  QS_INDEX_NONE = 0, /* not registered (e.g. an owner with `*` registers only that) */
  QS_INDEX_EXACT,    /* exact map, key = the matcher's pattern */
  QS_INDEX_WILDCARD, /* wildcard vec */
  QS_INDEX_PREFIXED, /* prefixed map, key = the matcher's literal prefix */
  QS_INDEX_PATTERN,  /* patterns with no literal prefix, tested on every update */
  QS_INDEX_URL,      /* url map, key = the URL pattern's origin and path prefix (topic_index.c) */
} qs_index_kind_t;

/* One distinct literal-prefix length in use, with how many buckets use it. */
typedef struct {
  uint32_t len;
  uint32_t buckets;
} qs_prefix_len_t;

/* How the index hands updates to the owners (a static table). */
typedef struct {
  /* Whether `owner` may still want the update of `seq`; false skips it
   * before any matcher is tested (it was already offered the update, or is
   * closed). Cheap: called for candidates of the pattern buckets. */
  bool (*wants)(const void *owner, uint64_t seq);
  /* Offers `update` to `owner`, which may be offered it more than once (it
   * dedupes). May close the owner, must not change the index. */
  void (*offer)(void *owner, qs_update_t *update);
} qs_topic_index_ops_t;

typedef struct {
  const qs_topic_index_ops_t *ops;
  qs_map_t exact;          /* topic -> qs_index_vec_t* */
  qs_index_vec_t wildcard; /* `*` */
  /* Patterns with a literal prefix (legacy URI Templates): bucketed by that
   * prefix, looked up for each prefix length in use, so a publish tests only
   * the patterns whose prefix the topic starts with. */
  qs_map_t prefixed; /* literal prefix -> qs_index_vec_t* */
  qs_prefix_len_t *prefix_lens;
  uint32_t prefix_len_count;
  uint32_t prefix_len_cap;
  /* URL patterns with a fixed scheme, host and port (qs_matcher_url_key)
   * resolved against `url_base`: bucketed by "scheme NUL host NUL port NUL"
   * and their path prefix cut after its last '/'. A publish parses each
   * topic once against url_base and looks up the buckets of that origin for
   * each '/'-ending prefix of its path whose length is in use. */
  qs_map_t url; /* key -> qs_index_vec_t* */
  qs_prefix_len_t *url_lens;
  uint32_t url_len_count;
  uint32_t url_len_cap;
  char *url_base; /* the hub URL of the first indexed URL pattern (owned) */
  size_t url_base_len;
  bool url_base_set;
  bool url_base_ok; /* url_base parsed (into url_base_parsed), or empty (no base) */
  qs_url_t url_base_parsed;
  qs_index_vec_t patterns; /* every other pattern (no literal prefix, no fixed origin) */
  /* (matcher, topic) results for the patterns tested on every update and the
   * URI Templates (the `topic_matcher_cache` option); created on first use. */
  qs_match_cache_t *cache;
  size_t cache_entries;
  bool cache_failed;
} qs_topic_index_t;

/* Initializes an empty index that offers through `ops` (borrowed, static). */
void qs_topic_index_init(qs_topic_index_t *ix, const qs_topic_index_ops_t *ops);

/* Sets the size of the (matcher, topic) result cache (the
 * `topic_matcher_cache` option; 0 disables it). Call before the first
 * dispatch; the default is QS_TOPIC_INDEX_DEFAULT_CACHE. */
#define QS_TOPIC_INDEX_DEFAULT_CACHE 100000
void qs_topic_index_set_cache_size(qs_topic_index_t *ix, size_t entries);

/* Frees the index's memory; every owner must have been removed. */
void qs_topic_index_dispose(qs_topic_index_t *ix);

/* Registers the `count` members of `owner` (kept by the owner until
 * qs_topic_index_remove). Returns 0 or QS_ENOMEM (nothing registered). */
int qs_topic_index_add(qs_topic_index_t *ix, void *owner, qs_index_member_t *members, uint32_t count);

/* Removes every registered member of `members`. Must not run during a dispatch. */
void qs_topic_index_remove(qs_topic_index_t *ix, qs_index_member_t *members, uint32_t count);

/* Offers `update` (seq set) to every owner that may want it: those in the
 * exact buckets of its topics, the wildcard ones, and those whose patterns
 * match one of its topics. An owner may be offered it more than once. */
void qs_topic_index_dispatch(qs_topic_index_t *ix, qs_update_t *update);

#endif
