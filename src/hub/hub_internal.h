/* The hub's internal structures and the functions its files give each
 * other. The files of hub/ call one another one way only (ARCHITECTURE.md,
 * the hub's files):
 *
 *   topic_index.c    the index (topic_index.h): includes nothing of hub/
 *   inbox.c          a shard's inbox: a queue between threads
 *   subscriber.c     one subscriber: replay, delivery, closing; uses the
 *                    index
 *   hub.c            the process-wide hub: sequencer and fan-out into the
 *                    inboxes; uses inbox.c, knows shards only as inboxes
 *   backlog.c        answers waiting until the fan-out backlog allows them
 *                    (fanout_backlog); uses hub.c
 *   shard.c          a shard on its loop, and every entry point of hub.h
 *                    that can call out; uses all of the above
 *   subscriptions.c  active subscriptions, through hub.h only
 *
 * Functions declared here are called only by the files above their own. */
#ifndef QS_HUB_HUB_INTERNAL_H
#define QS_HUB_HUB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "hub/hub.h"
#include "hub/topic_index.h"

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
  /* No more sink calls; still in the index and shard->all (skipped) until
   * qs_hub_unsubscribe frees it (subscriber.c). */
  bool closed;
  bool live;     /* caught up: receives updates from the dispatch (set once, after start) */
  bool pumping;  /* replay is on the stack (no re-entry) */
  bool resuming; /* on shard->resume */
  qs_index_member_t members[];
};

/* ---- Shards and the hub ---- */

typedef struct qs_hub_inbox qs_hub_inbox_t;

/* A publish waiting for its update to be durable, or (on_cursor set) a
 * resume waiting for the transport (qs_hub_await_cursor). */
typedef struct qs_publish_rec {
  struct qs_publish_rec *next;
  uint64_t seq;
  qs_hub_t *hub;
  qs_hub_inbox_t *inbox; /* the publishing shard's: where the answer goes */
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
  bool counted; /* in the inbox's `unwritten` since the push */
} qs_inbox_entry_t;

/* A shard's inbox (inbox.c): filled by the hub's fan-out from any thread,
 * emptied on the shard's loop. */
struct qs_hub_inbox {
  struct qs_hub_inbox *next; /* in the hub's fan-out list, under fanout_mutex */
  uv_async_t *wake;          /* sent when the inbox stops being empty */
  pthread_mutex_t mutex;     /* guards entries, len and cap only */
  qs_inbox_entry_t *entries;
  size_t len;
  size_t cap;
  qs_inbox_entry_t *spare; /* the drained buffer, kept for reuse (loop only) */
  size_t spare_cap;
  /* The fan-out backlog (backlog.c): updates pushed here and not yet either
   * dispatched to a small audience or written; whether the shard's last
   * fan-out was large (then pushes count at once: they will be large too,
   * most likely); whether the shard holds answers waiting for the backlog
   * (the other shards' progress then wakes it). */
  atomic_uint_fast64_t unwritten;
  atomic_bool large_fanouts;
  atomic_bool awaiting;
};

/* A batch taken out of an inbox, to process in order then give back. */
typedef struct {
  qs_inbox_entry_t *entries;
  size_t count;
  size_t cap;
} qs_inbox_batch_t;

struct qs_hub_shard {
  qs_hub_t *hub;
  uv_loop_t *loop;
  uv_async_t async;
  uv_timer_t timer;
  qs_hub_inbox_t inbox;

  /* Everything below is used on the shard's loop only. */
  uint64_t drained_seq; /* the last durable update this shard dispatched (or the start point) */
  /* Large fan-outs counted in inbox.unwritten until written (backlog.c):
   * those dispatched before the last qs_hub_shard_written, and since. */
  uint64_t unwritten_before;
  uint64_t unwritten_since;
  /* Answers waiting for the fan-out backlog to shrink (backlog.c), oldest
   * first: [waiting_head, waiting_len) of `waiting`. */
  struct qs_waiting_answer *waiting;
  size_t waiting_head;
  size_t waiting_len;
  size_t waiting_cap;
  qs_topic_index_t index;
  qs_subscriber_t **all; /* every subscriber not yet unsubscribed (in the index) */
  uint32_t all_len;
  uint32_t all_cap;
  size_t sub_count;         /* allocated subscribers (not yet freed) */
  size_t pending_publishes; /* publishes (and awaited cursors) from this shard not yet answered */
  uint64_t deliveries;      /* not yet added to the hub's counter */
  uint64_t now_ms;          /* loop time of the current callback */
  qs_subscriber_t **resume; /* catching-up subscribers to continue at the next async */
  uint32_t resume_len;
  uint32_t resume_cap;
  int64_t tick_ms;
  /* Entry points of the hub on the stack (shard.c). A hook or callback the
   * hub calls (on_published, on_cursor, on_subscription) may call back into
   * hub.h; while depth > 0 the inbox is not drained (batches must not nest,
   * or the order would break) and the shard does not finish. */
  int depth;
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
  qs_hub_inbox_t *inboxes;   /* the shards' (the fan-out list), under fanout_mutex */
  uint64_t fanned_seq;       /* last durable seq pushed to the shards (under fanout_mutex) */
  qs_publish_rec_t *pending; /* head: oldest publish not yet durable (under fanout_mutex) */
  qs_publish_rec_t *pending_tail;
  atomic_uint_fast64_t next_subscriber_id;
  atomic_uint_fast64_t subscribers_connected;
  atomic_uint_fast64_t subscribers_total;
  atomic_uint_fast64_t updates_total;
  atomic_uint_fast64_t deliveries_total;
  atomic_uint_fast64_t slow_disconnects_total;
  atomic_uint_fast64_t backlog_waits_total;
  atomic_uint awaiting_shards; /* shards whose inbox's `awaiting` is set (backlog.c) */
  /* Publishes taken by qs_hub_publish and not yet answered, on every shard:
   * the publishers' own concurrency, which the backlog allows on top. */
  atomic_uint_fast64_t publishes_in_flight;
};

/* ---- Subscribers (subscriber.c), called by shard.c within shard_enter/leave ---- */

/* How the shard's topic index offers updates to subscribers. */
extern const qs_topic_index_ops_t qs_subscriber_index_ops;

/* qs_hub_subscribe once its arguments and the shard's state are checked:
 * creates the subscriber, resolves its cursor, reads the first slice and
 * registers it in the index. Same returns. */
int qs_subscriber_create(qs_hub_shard_t *shard, const qs_hub_subscribe_params_t *params,
                         const qs_sink_t *sink, qs_subscriber_t **out);

/* qs_hub_subscriber_start's work (`sub` not started, not closed): calls the
 * on_subscription hook and starts the replay. */
void qs_subscriber_start(qs_subscriber_t *sub);

/* The sink drained: resets the stall clock. Returns true when a replay
 * waits for it (then call qs_subscriber_pump). */
bool qs_subscriber_drained(qs_subscriber_t *sub);

/* Hands the sink the next part of a replay (see subscriber.c). */
void qs_subscriber_pump(qs_subscriber_t *sub);

/* qs_hub_unsubscribe's work: closes `sub` if the hub had not, takes it out
 * of the index and shard->all, and frees it. Never during a walk of either
 * (subscriber.c). */
void qs_subscriber_release(qs_subscriber_t *sub);

/* Continues the replays that stopped at their per-call budget with nothing
 * queued to wait for (shard->resume); called from the shard's async. */
void qs_subscribers_resume_replays(qs_hub_shard_t *shard);

/* Disconnects every connected subscriber (shard close). */
void qs_subscribers_close_all(qs_hub_shard_t *shard);

/* Housekeeping tick: expiries, stalled writes and heartbeats. */
void qs_subscribers_tick(qs_hub_shard_t *shard);

/* ---- Inboxes (inbox.c), used by hub.c and shard.c ---- */

/* Initializes an empty inbox that wakes `wake` (borrowed, lives longer).
 * Returns 0 or QS_ENOMEM. */
int qs_hub_inbox_init(qs_hub_inbox_t *inbox, uv_async_t *wake);

/* Frees the inbox's buffers; nothing may push any more. Entries left are
 * not released (take and process them first). */
void qs_hub_inbox_dispose(qs_hub_inbox_t *inbox);

/* Appends an entry (retaining `update`, which may be NULL) and wakes the
 * loop when the inbox was empty. Any thread, while the inbox is in the
 * fan-out list or its shard is known to be open. Out of memory aborts: a
 * dropped entry would break the order every shard relies on. */
void qs_hub_inbox_push(qs_hub_inbox_t *inbox, qs_update_t *update, qs_publish_rec_t *rec, int status,
                       bool deliver);

/* Takes every entry pushed so far (the shard's loop only). */
qs_inbox_batch_t qs_hub_inbox_take(qs_hub_inbox_t *inbox);

/* Gives back a processed batch's buffer, kept for the next take. */
void qs_hub_inbox_recycle(qs_hub_inbox_t *inbox, qs_inbox_batch_t batch);

/* ---- The hub (hub.c), used by shard.c and backlog.c ---- */

/* Joins `inbox` to the fan-out: it receives every update made durable from
 * now on. Returns the seq of the last update it will not receive (every
 * update up to it is in the store). */
uint64_t qs_hub_join(qs_hub_t *hub, qs_hub_inbox_t *inbox);

/* Takes `inbox` out of the fan-out: nothing pushes to it once this returns. */
void qs_hub_part(qs_hub_t *hub, qs_hub_inbox_t *inbox);

/* Wakes every shard of the fan-out list but the one of `inbox` (their loops
 * then see qs_hub_shard_answers_wait). Any thread. */
void qs_hub_wake_others(qs_hub_t *hub, qs_hub_inbox_t *inbox);

/* The largest `unwritten` of the fan-out list's inboxes. Any thread. */
uint64_t qs_hub_most_unwritten(qs_hub_t *hub);

/* qs_hub_publish once the shard has checked its state: sequences and
 * appends `update` (or hands it to an ordering store); the answer goes to
 * `inbox`. Same returns. */
int qs_hub_sequence(qs_hub_t *hub, qs_hub_inbox_t *inbox, qs_update_t *update,
                    qs_hub_on_published_fn on_published, void *ctx);

/* qs_hub_await_cursor once the shard has checked its state; the answer goes
 * to `inbox`. Same returns. */
int qs_hub_await(qs_hub_t *hub, qs_hub_inbox_t *inbox, qs_slice_t last_event_id, qs_hub_on_cursor_fn on_ready,
                 void *ctx, bool *pending);

/* ---- Answers and the fan-out backlog (backlog.c), used by shard.c ---- */

/* Longest an answer waits for the backlog. */
#define QS_BACKLOG_MAX_WAIT_MS 1000
/* A fan-out counts towards the backlog from this many deliveries on a shard
 * on: smaller ones cost less than the publishes themselves. */
#define QS_BACKLOG_LARGE_FANOUT 64

/* Answers the publisher (or the cursor's waiter) of `e` and frees its record
 * (the update's reference stays the caller's). */
void qs_hub_answer(qs_hub_shard_t *shard, qs_inbox_entry_t *e);

/* True when the answer of `e` (an entry with a record) must wait: a
 * successful publish that would leave more than fanout_backlog updates
 * unwritten by some shard, or one behind an answer that waits. */
bool qs_backlog_holds(const qs_hub_shard_t *shard, const qs_inbox_entry_t *e);

/* Keeps `e`, with a reference to its update, until qs_backlog_release or
 * qs_backlog_expire answers it (at once when memory runs out). */
void qs_backlog_keep(qs_hub_shard_t *shard, const qs_inbox_entry_t *e);

/* True while answers wait. */
bool qs_backlog_any(const qs_hub_shard_t *shard);

/* After the update of `e` was dispatched to `deliveries` subscribers (or
 * dropped, the shard finishing): a large fan-out stays in the backlog until
 * written, a small one leaves it. */
void qs_backlog_dispatched(qs_hub_shard_t *shard, const qs_inbox_entry_t *e, uint64_t deliveries);

/* qs_hub_shard_written's accounting: the fan-outs written leave the backlog,
 * and while answers wait the other shards are woken. */
void qs_backlog_written(qs_hub_shard_t *shard, bool all);

/* Answers the waiting publishes the backlog now allows, oldest first (every
 * one once the shard is closing). Within shard_enter/leave. */
void qs_backlog_release(qs_hub_shard_t *shard);

/* Answers the ones that have waited QS_BACKLOG_MAX_WAIT_MS: the bound is
 * there to pace publishers, never to strand one. Within shard_enter/leave. */
void qs_backlog_expire(qs_hub_shard_t *shard);

/* Frees what backlog.c holds (nothing waits by then). */
void qs_backlog_dispose(qs_hub_shard_t *shard);

#endif
