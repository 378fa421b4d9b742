/* Active subscriptions (Mercure draft §Active Subscriptions): the
 * process-wide registry of the subscriptions that are active now, and the
 * subscription events that announce their start and end.
 *
 * The registry is installed as the hub's on_subscription and on_update
 * hooks (qs_hub_settings_t). On each start and end, on the subscriber's shard, it
 * publishes one private update per matcher of the connection through
 * qs_hub_publish (so events are sequenced, stored in history and delivered
 * like any update), with SSE `event: mercure`, and records or forgets the
 * subscription. Both happen under the registry's mutex, so the registry always
 * reflects exactly the events sequenced so far: a snapshot read under the same
 * mutex, together with the history's newest id as its cursor, lets a client
 * read the API and then follow the events from that cursor without missing or
 * repeating anything (§Subscription API, reconciliation).
 *
 * Subscriber identifiers are `urn:uuid:` UUIDv4 generated per connection;
 * nothing a client sends can choose them.
 *
 * Legacy `topic=` subscriptions (QS_MATCH_LEGACY) use the 0.x / reference
 * compatibility shapes: topic `<hub path>/subscriptions/{topic}/{subscriber}`
 * and document {"id","type":"subscription","subscriber","topic","active",
 * "payload"?}.
 *
 * Several nodes (qs_subscriptions_share): the registry lists what the
 * subscription events of the shared order say, for every node, and the
 * heartbeat of qs_subscriptions_watch_nodes ends a gone node's ones.
 *
 * Restarts: subscriptions do not survive the process. At start-up,
 * qs_subscriptions_recover reads the history (a persistent one, LMDB) and
 * publishes `active: false` for every subscription it shows as still active,
 * whether the previous process was killed or stopped gracefully (a closing
 * shard refuses publishes, so a graceful stop cannot announce its own ends). */
#ifndef QS_HUB_SUBSCRIPTIONS_H
#define QS_HUB_SUBSCRIPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/slice.h"
#include "hub/hub.h"
#include "match/matcher.h"

typedef struct qs_subscriptions qs_subscriptions_t;

/* Creates an empty registry for the hub at `hub_url` (absolute URL; only its
 * path is used, copied). Returns 0, QS_EINVAL (no path in the URL) or
 * QS_ENOMEM. Destroy it with qs_subscriptions_destroy after the hub. */
int qs_subscriptions_create(const char *hub_url, qs_subscriptions_t **out);

/* Frees the registry and whatever it still lists. NULL is fine. */
void qs_subscriptions_destroy(qs_subscriptions_t *subs);

/* The hook to put in qs_hub_settings_t.on_subscription, with the registry as
 * on_subscription_ctx. Runs on the subscriber's shard. */
void qs_subscriptions_on_subscription(void *ctx, qs_subscriber_t *sub, bool active);

/* The registry installed as `hub`'s hook, or NULL when the feature is off. */
qs_subscriptions_t *qs_subscriptions_of(qs_hub_t *hub);

/* At start-up, before any shard exists: replays the whole history and
 * publishes `active: false` for every subscription event of this hub path
 * whose `active: true` has no matching end (the previous process ended
 * without announcing it). Runs a temporary shard on a private loop and
 * returns when every event is durable. Returns 0 or a negative QS_E* code;
 * *ended (may be NULL) is the number of events published. */
int qs_subscriptions_recover(qs_subscriptions_t *subs, qs_hub_t *hub, size_t *ended);

/* ---- Several nodes on a shared transport (docs/cluster.md) ---- */

/* Makes the registry list every node's subscriptions: call before the hub
 * is created (the hub feeds it the shared order from its creation on, see
 * qs_subscriptions_observe). The subscriber URNs of this node then start
 * with a random node name (8 hex digits) that its heartbeat carries. */
void qs_subscriptions_share(qs_subscriptions_t *subs);

/* Starts this node's heartbeat on the hub's store (qs_store_watch_nodes):
 * when another node's heartbeat stops, the one node that notices publishes
 * `active: false` for each of that node's subscriptions, and every node
 * stops listing them when it reads those events. Returns 0, QS_EINVAL (not
 * shared) or the store's error. */
int qs_subscriptions_watch_nodes(qs_subscriptions_t *subs, qs_hub_t *hub);

/* Called for every update of the shared order, in order, on the store's
 * thread (NULL or an unshared registry: nothing). Subscription events (of
 * any node) start and end what the API lists; every update moves the API's
 * cursor. */
void qs_subscriptions_observe(qs_subscriptions_t *subs, const qs_update_t *update);

/* The hook to put in qs_hub_settings_t.on_update, with the registry as
 * on_update_ctx (beside on_subscription): qs_subscriptions_observe. */
void qs_subscriptions_on_update(void *ctx, const qs_update_t *update);

/* ---- Building blocks (exposed for the API and tests) ---- */

/* Appends `in` percent-encoded once: every byte except A-Z a-z 0-9 - . _ ~
 * becomes %XX (uppercase). Returns 0 or qs_buf_append's error. */
int qs_subscriptions_encode(qs_slice_t in, qs_buf_t *out);

/* Appends the event topic (and document id) of one subscription:
 * `<hub path>/subscriptions/{match_type}/{match}/{subscriber}`, or
 * `<hub path>/subscriptions/{topic}/{subscriber}` for a legacy matcher. */
int qs_subscriptions_topic(const qs_subscriptions_t *subs, qs_match_type_t type, qs_slice_t match,
                           qs_slice_t subscriber, qs_buf_t *out);

/* The subscription document (compact JSON) of the draft, or the legacy one
 * for a legacy matcher; `payload_json` (empty for none) is embedded when it
 * parses as JSON. Returns a heap string the caller frees, NULL when out of
 * memory or when a string is not valid UTF-8. */
char *qs_subscriptions_document(qs_slice_t topic, qs_match_type_t type, qs_slice_t match,
                                qs_slice_t subscriber, bool active, qs_slice_t payload_json);

/* ---- Reading the registry (the subscription API) ---- */

typedef enum {
  QS_SUBSCRIPTIONS_ALL,   /* every active subscription */
  QS_SUBSCRIPTIONS_MATCH, /* those whose matcher is exactly (type, match) */
  QS_SUBSCRIPTIONS_ONE,   /* the one of `subscriber` with matcher (type, match) */
} qs_subscriptions_scope_t;

typedef struct {
  qs_subscriptions_scope_t scope;
  qs_match_type_t type;  /* MATCH, ONE (QS_MATCH_LEGACY for the legacy routes) */
  qs_slice_t match;      /* MATCH, ONE: the decoded pattern */
  qs_slice_t subscriber; /* ONE: the decoded identifier */
} qs_subscriptions_query_t;

/* Appends to `docs` the documents the query selects, comma-separated, in the
 * order the subscriptions started, at most `max_docs` of them (*truncated is
 * set when more matched, or when the next document would not fit in
 * `docs`'s max_bytes), and writes the cursor (the id of the newest update
 * of the history, or `earliest`) into `cursor`. Everything is read under the
 * registry's mutex, so the documents are exactly the state after the events
 * up to the cursor. Returns 0; QS_ENOTFOUND for a ONE query that selects
 * nothing; QS_EBUSY when an event already reflected in the registry is not yet
 * durable and fanned out (LMDB group commit): try again a little later;
 * QS_ENOMEM or QS_ETOOBIG from the buffers. Thread-safe. A shared registry
 * lists every node's subscriptions in the order this node read their start
 * events, and its cursor is the newest update it read. */
int qs_subscriptions_snapshot(qs_subscriptions_t *subs, qs_hub_t *hub, const qs_subscriptions_query_t *query,
                              size_t max_docs, qs_buf_t *docs, size_t *count, bool *truncated,
                              qs_buf_t *cursor);

/* Number of subscriptions (matchers) listed now. Thread-safe. */
size_t qs_subscriptions_count(qs_subscriptions_t *subs);

#endif
