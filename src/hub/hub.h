/* The hub: orders published updates, makes them durable and fans them out to
 * the subscribers of every worker loop. Knows nothing of HTTP or sockets: a
 * subscriber's connection is reached through a sink (below).
 *
 * Threading. One `qs_hub_t` per process holds the sequencer, the history
 * store and the settings. Each worker thread runs one libuv loop and owns one
 * `qs_hub_shard_t`: its subscribers and its part of the topic index. Every
 * shard function, and every subscriber function, must be called on the
 * shard's loop thread; only qs_hub_create/destroy and qs_hub_stats are
 * process-wide.
 *
 * The hot path (DESIGN.md): qs_hub_publish takes the sequencer (a mutex),
 * assigns update->seq and appends the update to the store. When the store
 * reports it durable (in seq order, on the appending thread or on the
 * store's writer thread), the hub pushes it into every shard's inbox (a
 * mutex-protected queue woken by a uv_async_t). Each shard drains its inbox
 * on its own loop, in seq order: on the shard that published the update it
 * first calls on_published (the fan-out never delays the answer), then it
 * delivers the update to its matching subscribers.
 * History order and delivery order are therefore the same order. */
#ifndef QS_HUB_HUB_H
#define QS_HUB_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "auth/grants.h"
#include "base/slice.h"
#include "match/matcher.h"
#include "store/store.h"
#include "store/update.h"

typedef struct qs_hub qs_hub_t;
typedef struct qs_hub_shard qs_hub_shard_t;
typedef struct qs_subscriber qs_subscriber_t;

/* ---- Sinks: how the hub writes to a subscriber's connection ---- */

/* Implemented by the transport (api/). Every function is called on the
 * shard's loop thread, only between qs_hub_subscriber_start and the moment the
 * hub calls `close` or the transport calls qs_hub_unsubscribe. None may call
 * back into the hub: the transport unsubscribes from its own loop callbacks
 * (the stream's close callback, which the HTTP layer never runs inside the
 * call that asked for it), never from inside one of these. */
typedef struct {
  /* Queues the update's SSE bytes (update->sse) for writing; the transport
   * retains the update until written (the hub keeps no copy). Returns 0, or a
   * negative QS_E* code when the connection cannot take it any more (the hub
   * then disconnects the subscriber as with close). */
  int (*write_update)(void *sink_ctx, qs_update_t *update);
  /* Queues a copy of (ptr, len) (a heartbeat comment). Same return as above. */
  int (*write_bytes)(void *sink_ctx, const char *ptr, size_t len);
  /* Bytes queued and not yet written to the socket. */
  size_t (*queued_bytes)(void *sink_ctx);
  /* True when queued bytes wait for the peer, not merely for the transport
   * to write them (a coalescing window): what dispatch_timeout measures.
   * NULL: any queued byte counts. */
  bool (*write_waits)(void *sink_ctx);
  /* The hub asks the transport to end the connection (token expired, max
   * lifetime, too slow, hub shutting down). Called at most once. The hub writes
   * nothing more; the transport still calls qs_hub_unsubscribe (now or later). */
  void (*close)(void *sink_ctx);
  /* Like close, but at once, dropping what is queued: for a subscriber too
   * slow to keep up (it resumes with its last event id). NULL: close. */
  void (*abort)(void *sink_ctx);
} qs_sink_vtable_t;

/* A sink: a vtable (static, lives forever) and the transport's context. */
typedef struct {
  const qs_sink_vtable_t *vtable;
  void *ctx;
} qs_sink_t;

/* ---- Settings and statistics ---- */

/* Seam for active subscriptions (draft §Active Subscriptions, a later issue):
 * called on the subscriber's shard when it starts (active = true, from
 * qs_hub_subscriber_start) and when it ends (active = false, once, for a
 * started subscriber: unsubscribed or disconnected by the hub). `sub` is
 * borrowed for the call; its matchers and grants can be read through the
 * accessors below. */
typedef void (*qs_hub_on_subscription_fn)(void *ctx, qs_subscriber_t *sub, bool active);

/* Seam for what follows the hub-wide order (the active subscriptions of
 * several nodes, hub/subscriptions.c): called with every update once it is
 * durable, in order, before it is fanned out, on the thread that reports it
 * (the store's). `update` is borrowed for the call. */
typedef void (*qs_hub_on_update_fn)(void *ctx, const qs_update_t *update);

#define QS_HUB_DEFAULT_REPLAY_SLICE 256

typedef struct {
  /* Idle subscribers get ":\n" after this long without a write (draft
   * §Subscription keep-alive; REF `heartbeat`, 40 s). 0 = off. */
  int64_t heartbeat_ms;
  /* Hard limit on a subscriber's queued bytes (the sink's plus those of
   * updates the hub holds for it); past it the subscriber is disconnected.
   * 0 = unlimited. */
  size_t max_queued_bytes;
  /* Soft limit: replayed history is handed to the sink only while its queue
   * holds less than this (then on each qs_hub_subscriber_on_writable).
   * 0 = as fast as the hub reads it (still in slices, see below). */
  size_t replay_queued_bytes;
  /* Replayed history is read from the store in slices of at most this many
   * updates (0 = QS_HUB_DEFAULT_REPLAY_SLICE), on the shard's loop, one slice
   * after another as the sink drains: the hub holds at most one slice per
   * subscriber (the first, read at subscribe), never the whole backlog, and
   * one loop iteration reads a bounded number of slices. */
  uint32_t replay_slice;
  /* REF `dispatch_timeout`: a subscriber whose queued bytes have not all been
   * handed to the kernel for this long (its sink never drained: queued bytes
   * seen on every tick and no qs_hub_subscriber_on_writable meanwhile) is
   * disconnected and counted as slow. Checked on each tick, so it acts
   * between this and one tick later. 0 = off. */
  int64_t dispatch_timeout_ms;
  /* Maximum connection lifetime independent of the token (draft
   * §Authorization, "SHOULD enforce a maximum lifetime"); 0 = none. A
   * subscription may ask for a shorter one. */
  int64_t max_lifetime_ms;
  /* Period of each shard's housekeeping timer (heartbeats, expiries,
   * dispatch timeouts); 0 = derived: min(1000, max(10, heartbeat_ms / 4)),
   * and at most max(10, dispatch_timeout_ms / 4). Expiring connections
   * are closed at most one period before their deadline, never after. */
  int64_t tick_ms;
  /* Optional subscription events hook (see above); NULL = none. */
  qs_hub_on_subscription_fn on_subscription;
  void *on_subscription_ctx;
  /* Optional order hook (see above); NULL = none. */
  qs_hub_on_update_fn on_update;
  void *on_update_ctx;
  /* Entries of each shard's (pattern, topic) match-result cache, for the
   * patterns the topic index cannot bucket (`topic_matcher_cache`); 0 = no
   * cache. */
  size_t topic_matcher_cache_entries;
  /* REF `fanout_backlog`: a successful publish's answer (200) waits while
   * some shard has this many updates or more with a large fan-out
   * (QS_BACKLOG_LARGE_FANOUT deliveries or more there) not yet written, as
   * its transport reports them (qs_hub_shard_written), the publish's own
   * included, on top of one per other publish in flight; at most
   * QS_BACKLOG_MAX_WAIT_MS. A publisher going flat out then stays that close
   * to what subscribers have been sent; at low load nothing waits. Not
   * applied with an ordering store. 0 = off (answers never wait). */
  uint32_t fanout_backlog;
} qs_hub_settings_t;

/* Counters for metrics; each is read atomically (the set is not a snapshot). */
typedef struct {
  uint64_t subscribers_connected; /* now, summed over shards */
  uint64_t subscribers_total;     /* ever subscribed */
  uint64_t updates_total;         /* durable updates fanned out */
  uint64_t deliveries_total;      /* updates handed to sinks (replay included) */
  uint64_t slow_disconnects_total;
  uint64_t backlog_waits_total; /* answers that waited for the fan-out backlog */
} qs_hub_stats_t;

/* ---- The hub ---- */

/* Opens the hub's history store with the hub's durability callback, which
 * the store must call as store.h describes. `arg` is qs_hub_create's. */
typedef int (*qs_hub_open_store_fn)(void *arg, qs_store_on_durable_fn on_durable, void *on_durable_ctx,
                                    qs_store_t **out);

/* Creates the hub: copies `settings`, opens the store through `open_store`
 * (the hub owns it and destroys it with itself) and starts the sequence after
 * qs_store_last_seq. Returns 0, QS_ENOMEM or open_store's error. The caller
 * destroys the hub with qs_hub_destroy. */
int qs_hub_create(const qs_hub_settings_t *settings, qs_hub_open_store_fn open_store, void *open_arg,
                  qs_hub_t **out);

/* Destroys the store (flushing pending appends) and frees the hub. Every
 * shard must have finished closing. */
void qs_hub_destroy(qs_hub_t *hub);

/* The hub's store, borrowed (for last-id lookups and the like); lives as long as the hub. */
qs_store_t *qs_hub_store(qs_hub_t *hub);

/* Reads the counters; thread-safe. */
void qs_hub_stats(qs_hub_t *hub, qs_hub_stats_t *out);

/* The hub's copy of its settings, borrowed; lives as long as the hub. */
const qs_hub_settings_t *qs_hub_settings(const qs_hub_t *hub);

/* The seq of the newest durable update the hub has pushed to every shard's
 * inbox: a subscriber that subscribes from now on after a cursor at or
 * before it gets everything after the cursor. Thread-safe. */
uint64_t qs_hub_fanned_seq(qs_hub_t *hub);

/* ---- Shards ---- */

/* Creates the shard of `loop` (call on the loop's thread, or before the loop
 * runs) and joins it to the fan-out: it receives every update made durable
 * from now on. Returns 0, QS_ENOMEM, or QS_EIO when a libuv handle cannot be
 * initialized. The shard's handles keep `loop` alive until qs_hub_shard_close
 * completes. */
int qs_hub_shard_create(qs_hub_t *hub, uv_loop_t *loop, qs_hub_shard_t **out);

typedef void (*qs_hub_shard_on_close_fn)(void *ctx);

/* Closes the shard asynchronously: asks every connected subscriber's sink to
 * close, refuses new subscriptions and publishes (QS_ECLOSED), then waits
 * until every subscriber has been unsubscribed and every publish made from
 * this shard has been answered; it leaves the fan-out, closes its handles,
 * frees itself and calls on_close(ctx) on its loop. Idempotent: a second call
 * does nothing. */
void qs_hub_shard_close(qs_hub_shard_t *shard, qs_hub_shard_on_close_fn on_close, void *ctx);

/* Delivers now what waits in the shard's inbox (updates made durable since
 * the last delivery), as the shard's own wake-up would at the next loop
 * iteration: the transport calls it just before writing its event streams
 * (qs_http_server_on_flush), so that updates published during this
 * iteration leave in the same write. Does nothing when called from inside a
 * hub callback. */
void qs_hub_shard_poll(qs_hub_shard_t *shard);

/* Tells the shard that its transport has written every byte its sinks were
 * given before the previous call, and with `all` every byte given so far,
 * apart from connections that wait for their peer: answers waiting for the
 * fan-out backlog (qs_hub_settings_t.fanout_backlog) may leave. Call on the
 * shard's loop, at the end of each round of the transport's writes (cheap
 * when nothing changed). */
void qs_hub_shard_written(qs_hub_shard_t *shard, bool all);

/* True while some shard holds answers for the fan-out backlog: they wait
 * for writes, so the transport should write now what it holds back (for
 * coalescing) rather than at the end of its window. The shard's loop is
 * woken when this turns true. Any shard's loop; one atomic load. */
bool qs_hub_shard_answers_wait(const qs_hub_shard_t *shard);

/* ---- Publishing ---- */

/* Called on the publishing shard's loop, once, with status 0 when the update
 * is durable and has been handed to every shard (the moment to answer 200),
 * or a negative QS_E* code when the store failed (nothing was delivered).
 * `update` is borrowed for the call. */
typedef void (*qs_hub_on_published_fn)(void *ctx, qs_update_t *update, int status);

/* Publishes `update` (fresh from qs_update_create, seq 0, validated and
 * authorized by the caller): assigns its seq, appends it to history and fans
 * it out. The hub takes its own references; the caller keeps its own. Returns
 * 0 (on_published will be called), or QS_ECLOSED (shard closing), QS_EINVAL
 * (seq already set) or the store's append error, without calling on_published. */
int qs_hub_publish(qs_hub_shard_t *shard, qs_update_t *update, qs_hub_on_published_fn on_published,
                   void *ctx);

/* ---- Subscribing ---- */

/* Called once, on the shard's loop, when a cursor awaited through
 * qs_hub_await_cursor can be handed to qs_hub_subscribe. `status` says what
 * the transport found (store.h, qs_store_on_awaited_fn); whatever it is, the
 * subscription goes on: qs_hub_subscribe resolves the cursor. */
typedef void (*qs_hub_on_cursor_fn)(void *ctx, int status);

/* Ordering transports (draft §Reconciliation across nodes): a subscriber
 * that reconnects to this node may name an update another node published and
 * that this node has not read yet. Called before qs_hub_subscribe with the
 * cursor (borrowed for the call): *pending false means subscribe now (the
 * cursor is known here, is "earliest" or empty, the transport is local or
 * unreachable); *pending true means on_ready will be called, then subscribe
 * (the shard stays open until then). Returns 0, or QS_ECLOSED (shard
 * closing) or QS_ENOMEM without calling on_ready. */
int qs_hub_await_cursor(qs_hub_shard_t *shard, qs_slice_t last_event_id, qs_hub_on_cursor_fn on_ready,
                        void *ctx, bool *pending);

typedef struct {
  /* The subscription's selectors, at least one. On success the hub owns
   * every matcher (destroyed with the subscriber); the array itself is
   * borrowed for the call. On failure the caller still owns them. */
  qs_matcher_t *const *matchers;
  size_t matcher_count;
  /* The subscriber's grants (empty grants for anonymous), retained by the
   * hub. Their expires_ms, when not 0, is when the hub closes the connection
   * (draft §Authorization: no later than `exp`). */
  qs_grants_t *grants;
  /* The reconnection cursor (draft §Reconciliation): `Last-Event-ID`
   * header or `last_event_id` parameter. Borrowed for the call. A present but
   * empty cursor counts as present (the header is still due). */
  bool has_last_event_id;
  qs_slice_t last_event_id;
  /* Lifetime for this connection; 0 = the hub's max_lifetime_ms. */
  int64_t max_lifetime_ms;
} qs_hub_subscribe_params_t;

/* What the `Mercure-Last-Event-ID` response header must say (draft
 * §Reconciliation): nothing, the requested id, or `earliest`. */
typedef enum {
  QS_HUB_CURSOR_NONE,     /* no cursor was sent: no header */
  QS_HUB_CURSOR_FOUND,    /* the requested id was found: header = the requested id */
  QS_HUB_CURSOR_EARLIEST, /* `earliest` requested, or the id is empty, unknown or discarded */
} qs_hub_cursor_t;

/* Subscribes a connection, in two steps so the caller can send its response
 * headers (which depend on the cursor) before any event:
 *
 *   1. qs_hub_subscribe registers the subscriber, resolves the cursor and
 *      reads the first slice of the replayed history (updates after the
 *      cursor, up to what this shard has already delivered, through the
 *      subscriber's filter with its current grants). The sink is not called.
 *   2. After sending headers (qs_hub_subscriber_cursor tells the header
 *      value), the caller calls qs_hub_subscriber_start: the hub starts
 *      writing to the sink.
 *
 * Until it has caught up, a subscriber only holds its position (the last seq
 * decided for it): the rest of the history, and the live updates that arrive
 * meanwhile (including before step 2), are read from the store slice by slice
 * as the sink drains, up to what the shard has dispatched; the slice that
 * reaches it turns the subscriber live, on the shard's thread, so replay and
 * live updates join without gap or duplicate. When retention discards
 * updates the subscriber has not been given yet, the hub closes the
 * connection (the client reconnects and learns `earliest`).
 *
 * The filter (draft §Subscription, §Authorization): an update is delivered
 * when ANY matcher matches ANY of its topics and, for a private update, when
 * qs_grants_can_receive(grants, topics) holds; at most once per update.
 *
 * `sink` is copied. Returns 0 and *out (owned by the transport until it calls
 * qs_hub_unsubscribe), QS_EINVAL (no matcher, no grants), QS_ECLOSED (shard
 * closing), QS_ENOMEM, or the store's replay error. */
int qs_hub_subscribe(qs_hub_shard_t *shard, const qs_hub_subscribe_params_t *params, const qs_sink_t *sink,
                     qs_subscriber_t **out);

/* The value of the `Mercure-Last-Event-ID` header for this subscription. */
qs_hub_cursor_t qs_hub_subscriber_cursor(const qs_subscriber_t *sub);

/* Number of replayed updates: right after qs_hub_subscribe, those of the first
 * slice it read; then every replayed update handed to the sink so far. */
size_t qs_hub_subscriber_replayed(const qs_subscriber_t *sub);

/* Step 2 above: starts writing (replay, then live updates) to the sink and
 * calls the on_subscription hook. Idempotent. */
void qs_hub_subscriber_start(qs_subscriber_t *sub);

/* The transport calls this when the sink's queue has shrunk (a write
 * completed), so queued replay can continue. Cheap when nothing is queued. */
void qs_hub_subscriber_on_writable(qs_subscriber_t *sub);

/* Whether qs_hub_subscriber_on_writable can still have replay to write: true
 * until the subscriber is live. Once it returns false it stays false for the
 * subscriber's life, and the transport may then report only the drains that
 * end a blocked write (bytes waited for the kernel), which is all the
 * dispatch_timeout check needs: a live fan-out then costs no drain callback
 * per write. */
bool qs_hub_subscriber_needs_writable(const qs_subscriber_t *sub);

/* The connection is gone (or the transport is done with it): the hub stops
 * using the sink and frees the subscriber (its matchers, its grants
 * reference) before this returns. Call it once, from a loop callback of the
 * transport or from a hub callback (on_published, on_cursor), never from
 * inside a sink function or the on_subscription hook: the handle is invalid
 * when it returns. */
void qs_hub_unsubscribe(qs_subscriber_t *sub);

/* A process-unique number for logs and subscription ids. */
uint64_t qs_hub_subscriber_id(const qs_subscriber_t *sub);

/* The number of matchers of the subscription. */
size_t qs_hub_subscriber_matcher_count(const qs_subscriber_t *sub);

/* The subscription's matcher `i` (< count), in the order given at subscribe;
 * borrowed, lives as long as the subscriber. */
const qs_matcher_t *qs_hub_subscriber_matcher(const qs_subscriber_t *sub, size_t i);

/* The subscriber's grants, borrowed; live as long as the subscriber. */
qs_grants_t *qs_hub_subscriber_grants(const qs_subscriber_t *sub);

/* The sink context given at subscribe. */
void *qs_hub_subscriber_sink_ctx(const qs_subscriber_t *sub);

/* The shard the subscriber belongs to (to publish from its loop). */
qs_hub_shard_t *qs_hub_subscriber_shard(const qs_subscriber_t *sub);

#endif
