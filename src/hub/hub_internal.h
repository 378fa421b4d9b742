/* The hub's internal structures, shared by hub.c (sequencer, fan-out, shard
 * lifecycle), subscriber.c (subscriptions, delivery) and topic_index.c. */
#ifndef QS_HUB_HUB_INTERNAL_H
#define QS_HUB_HUB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "base/map.h"
#include "hub/hub.h"
#include "match/match_cache.h"
#include "match/url.h"

/* ---- Topic index (one per shard, used on its loop only) ---- */

/* One registration: which subscriber, and which of its members (matchers). */
typedef struct {
  qs_subscriber_t *sub;
  uint32_t member;
} qs_index_entry_t;

/* A compact array of registrations; order does not matter (swap-remove). */
typedef struct {
  qs_index_entry_t *items;
  uint32_t len;
  uint32_t cap;
} qs_index_vec_t;

/* Where a member is registered, so that it can be removed in constant time. */
typedef enum {
  QS_INDEX_NONE = 0, /* not registered (e.g. a subscriber with `*` registers only that) */
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

typedef struct {
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

/* A subscriber's matcher and where it sits in the index. */
typedef struct {
  qs_matcher_t *matcher;
  qs_index_vec_t *vec; /* NULL when not registered */
  uint32_t pos;        /* its entry's index in vec */
  uint8_t kind;        /* qs_index_kind_t */
} qs_member_t;

void qs_topic_index_init(qs_topic_index_t *ix);

/* Sets the size of the (matcher, topic) result cache (the
 * `topic_matcher_cache` option; 0 disables it). Call before the first
 * dispatch; the default is QS_TOPIC_INDEX_DEFAULT_CACHE. */
#define QS_TOPIC_INDEX_DEFAULT_CACHE 100000
void qs_topic_index_set_cache_size(qs_topic_index_t *ix, size_t entries);

/* Frees the index's memory; every subscriber must have been removed. */
void qs_topic_index_dispose(qs_topic_index_t *ix);

/* Registers every member of `sub`. Returns 0 or QS_ENOMEM (nothing registered). */
int qs_topic_index_add(qs_topic_index_t *ix, qs_subscriber_t *sub);

/* Removes every registered member of `sub`. Must not run during a walk. */
void qs_topic_index_remove(qs_topic_index_t *ix, qs_subscriber_t *sub);

/* Offers `update` (seq set) to every subscriber that may want it: those in
 * the exact buckets of its topics, the wildcard ones, and the patterns that
 * match one of its topics. A subscriber may be offered it more than once;
 * qs_hub_offer dedupes. Offers may close subscribers but must not change the
 * index (removals are deferred by the shard). */
void qs_topic_index_dispatch(qs_topic_index_t *ix, qs_update_t *update);

/* ---- Subscribers ---- */

/* The first slice of replayed history, read at subscribe and held until the
 * sink takes it (at most the shard's replay slice). The rest of a replay is
 * read from the store straight into the sink; the hub holds nothing more. */
typedef struct {
  uint32_t head;
  uint32_t len;
  uint32_t cap;
  size_t bytes; /* SSE bytes of items[head..len) */
  qs_update_t *items[];
} qs_held_t;

struct qs_subscriber {
  qs_hub_shard_t *shard;
  qs_sink_t sink;
  qs_grants_t *grants;
  qs_held_t *held; /* NULL when nothing is held */
  qs_subscriber_t *reap_next;
  uint64_t id;
  /* The last update decided for it (delivered or refused): while catching up,
   * its position in history (everything up to it is decided); live updates
   * are offered only once it is live. */
  uint64_t last_seq;
  uint64_t stall_since_ms; /* loop time a tick first saw bytes queued without a drain; 0 = none */
  int64_t deadline_ms;     /* wall clock; 0 = none */
  uint64_t last_write_ms;  /* loop time of the last write */
  uint32_t all_pos;        /* index in shard->all while connected */
  uint32_t replayed;
  uint32_t held_peak; /* most updates the hub held for it at once (for tests) */
  uint32_t member_count;
  uint8_t cursor; /* qs_hub_cursor_t */
  bool started;
  bool closed;   /* no more sink calls; leaving the index */
  bool released; /* qs_hub_unsubscribe was called */
  bool indexed;  /* in the index and shard->all */
  bool reaping;  /* on shard->reap */
  bool live;     /* caught up: receives updates from the dispatch (set once, after start) */
  bool pumping;  /* replay is on the stack (no re-entry) */
  bool resuming; /* on shard->resume */
  qs_member_t members[];
};

/* Offers a live update to `sub` (called by the index walk): dedupes, checks
 * private grants, writes or queues, enforces the hard limit. */
void qs_hub_offer(qs_subscriber_t *sub, qs_update_t *update);

/* Frees a subscriber that has left the index and been released. */
void qs_hub_subscriber_free(qs_subscriber_t *sub);

/* Continues the replays that stopped at their per-call budget with nothing
 * queued to wait for (shard->resume); called from the shard's async. */
void qs_hub_shard_resume_replays(qs_hub_shard_t *shard);

/* ---- Shards and the hub ---- */

/* A publish waiting for its update to be durable, or (on_cursor set) a
 * resume waiting for the transport (qs_hub_await_cursor). */
typedef struct qs_publish_rec {
  struct qs_publish_rec *next;
  uint64_t seq;
  qs_hub_shard_t *shard;
  qs_hub_on_published_fn on_published;
  qs_hub_on_cursor_fn on_cursor;
  void *ctx;
} qs_publish_rec_t;

/* One inbox entry: a durable update (status 0) for every shard, or a failed
 * one (status < 0) for its publishing shard only. */
typedef struct {
  qs_update_t *update; /* one reference, owned by the entry */
  qs_publish_rec_t *rec;
  int status;
  /* Dispatched to this shard's subscribers. False for an answer alone: a
   * failed update, or the acknowledgement of an ordering transport, whose
   * update arrives (as every node's) through on_durable. */
  bool deliver;
} qs_inbox_entry_t;

struct qs_hub_shard {
  qs_hub_t *hub;
  uv_loop_t *loop;
  uv_async_t async;
  uv_timer_t timer;
  struct qs_hub_shard *next; /* in the hub's fan-out list, under fanout_mutex */

  pthread_mutex_t inbox_mutex; /* guards inbox only */
  qs_inbox_entry_t *inbox;
  size_t inbox_len;
  size_t inbox_cap;
  qs_inbox_entry_t *spare; /* the drained buffer, kept for reuse (loop only) */
  size_t spare_cap;

  /* Everything below is used on the shard's loop only. */
  uint64_t drained_seq; /* the last durable update this shard dispatched (or the start point) */
  qs_topic_index_t index;
  qs_subscriber_t **all; /* connected (indexed) subscribers */
  uint32_t all_len;
  uint32_t all_cap;
  qs_subscriber_t *reap;    /* subscribers to take out of the index and/or free (via reap_next) */
  size_t sub_count;         /* allocated subscribers (not yet freed) */
  size_t pending_publishes; /* publishes (and awaited cursors) from this shard not yet answered */
  uint64_t deliveries;      /* not yet added to the hub's counter */
  uint64_t now_ms;          /* loop time of the current callback */
  qs_subscriber_t **resume; /* catching-up subscribers to continue at the next async */
  uint32_t resume_len;
  uint32_t resume_cap;
  int64_t tick_ms;
  int depth;      /* nesting of hub entry points on the stack */
  bool walking;   /* the index or `all` is being iterated: defer removals */
  bool closing;   /* qs_hub_shard_close was called */
  bool finishing; /* left the fan-out, handles closing */
  int open_handles;
  qs_hub_shard_on_close_fn on_close;
  void *on_close_ctx;
  /* Per-update cache of qs_grants_can_receive, since many connections share
   * one grants object. */
  const qs_grants_t *cache_grants;
  uint64_t cache_seq;
  bool cache_ok;
};

struct qs_hub {
  qs_hub_settings_t settings;
  qs_store_t *store;
  bool store_orders;         /* the store orders updates itself (qs_store_orders): no sequencer */
  pthread_mutex_t seq_mutex; /* the sequencer: assigns seq and appends, one at a time */
  uint64_t last_seq;         /* last seq assigned (under seq_mutex) */
  pthread_mutex_t fanout_mutex;
  qs_hub_shard_t *shards;    /* under fanout_mutex */
  uint64_t fanned_seq;       /* last durable seq pushed to the shards (under fanout_mutex) */
  qs_publish_rec_t *pending; /* head: oldest publish not yet durable (under fanout_mutex) */
  qs_publish_rec_t *pending_tail;
  atomic_uint_fast64_t next_subscriber_id;
  atomic_uint_fast64_t subscribers_connected;
  atomic_uint_fast64_t subscribers_total;
  atomic_uint_fast64_t updates_total;
  atomic_uint_fast64_t deliveries_total;
  atomic_uint_fast64_t slow_disconnects_total;
};

/* Every hub entry point that may call out (sinks, hooks, callbacks) brackets
 * itself with these, so that objects are freed only when nothing of the hub
 * is on the stack. */
void qs_hub_shard_enter(qs_hub_shard_t *shard);
void qs_hub_shard_leave(qs_hub_shard_t *shard);

/* Puts `sub` on the shard's reap list (once). */
void qs_hub_shard_defer(qs_hub_shard_t *shard, qs_subscriber_t *sub);

/* Disconnects every connected subscriber (shard close). */
void qs_hub_shard_close_all(qs_hub_shard_t *shard);

/* Processes the inbox now (outside any other hub callback only: batches
 * must not nest, or the order would break). */
void qs_hub_shard_drain(qs_hub_shard_t *shard);

/* Housekeeping tick: expiries and heartbeats. */
void qs_hub_shard_tick(qs_hub_shard_t *shard);

/* The hub's on_durable (store callback). */
void qs_hub_on_durable(void *ctx, qs_update_t *update, int status);

/* The hub's on_published for an ordering store (ctx: the publish record). */
void qs_hub_on_ordered(void *ctx, qs_update_t *update, int status);

#endif
