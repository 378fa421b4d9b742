/* The process-wide hub: settings, store, the sequencer, and the fan-out of
 * durable updates (and of publishers' answers) into the shards' inboxes.
 * See hub.h for the threading model. Lock order: seq_mutex, then
 * fanout_mutex, then an inbox's mutex.
 *
 * Dependencies (ARCHITECTURE.md, the hub's files): uses inbox.c only, and
 * knows the shards only as the inboxes of its fan-out list; shard.c, above
 * it, joins and leaves that list and publishes through qs_hub_sequence. */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "hub/hub_internal.h"

/* ---- The hub ---- */

static void on_durable(void *ctx, qs_update_t *update, int status);

int qs_hub_create(const qs_hub_settings_t *settings, qs_hub_open_store_fn open_store, void *open_arg,
                  qs_hub_t **out) {
  *out = NULL;
  if (!settings || !open_store) return QS_EINVAL;
  qs_hub_t *hub = calloc(1, sizeof *hub);
  if (!hub) return QS_ENOMEM;
  hub->settings = *settings;
  if (pthread_mutex_init(&hub->seq_mutex, NULL) != 0) {
    free(hub);
    return QS_ENOMEM;
  }
  if (pthread_mutex_init(&hub->fanout_mutex, NULL) != 0) {
    pthread_mutex_destroy(&hub->seq_mutex);
    free(hub);
    return QS_ENOMEM;
  }
  atomic_init(&hub->next_subscriber_id, 1);
  int rc = open_store(open_arg, on_durable, hub, &hub->store);
  if (rc < 0 || !hub->store) {
    pthread_mutex_destroy(&hub->fanout_mutex);
    pthread_mutex_destroy(&hub->seq_mutex);
    free(hub);
    return rc < 0 ? rc : QS_EINVAL;
  }
  hub->store_orders = qs_store_orders(hub->store);
  /* The sequence continues the history, so ids and seqs stay ordered across
   * restarts. An ordering store may already be reporting updates from its
   * own thread: take the newest of both. */
  pthread_mutex_lock(&hub->fanout_mutex);
  hub->last_seq = qs_store_last_seq(hub->store);
  if (hub->last_seq > hub->fanned_seq) hub->fanned_seq = hub->last_seq;
  pthread_mutex_unlock(&hub->fanout_mutex);
  *out = hub;
  return 0;
}

void qs_hub_destroy(qs_hub_t *hub) {
  if (!hub) return;
  if (hub->inboxes) QS_LOG_ERROR("hub destroyed with shards still open");
  /* Flushing the store may still call on_durable; with no shard left the
   * updates only go to history. */
  qs_store_destroy(hub->store);
  hub->store = NULL;
  while (hub->pending) {
    qs_publish_rec_t *rec = hub->pending;
    hub->pending = rec->next;
    free(rec);
  }
  pthread_mutex_destroy(&hub->fanout_mutex);
  pthread_mutex_destroy(&hub->seq_mutex);
  free(hub);
}

qs_store_t *qs_hub_store(qs_hub_t *hub) { return hub->store; }

const qs_hub_settings_t *qs_hub_settings(const qs_hub_t *hub) { return &hub->settings; }

uint64_t qs_hub_fanned_seq(qs_hub_t *hub) {
  pthread_mutex_lock(&hub->fanout_mutex);
  uint64_t seq = hub->fanned_seq;
  pthread_mutex_unlock(&hub->fanout_mutex);
  return seq;
}

void qs_hub_stats(qs_hub_t *hub, qs_hub_stats_t *out) {
  out->subscribers_connected = atomic_load_explicit(&hub->subscribers_connected, memory_order_relaxed);
  out->subscribers_total = atomic_load_explicit(&hub->subscribers_total, memory_order_relaxed);
  out->updates_total = atomic_load_explicit(&hub->updates_total, memory_order_relaxed);
  out->deliveries_total = atomic_load_explicit(&hub->deliveries_total, memory_order_relaxed);
  out->slow_disconnects_total = atomic_load_explicit(&hub->slow_disconnects_total, memory_order_relaxed);
  out->backlog_waits_total = atomic_load_explicit(&hub->backlog_waits_total, memory_order_relaxed);
}

/* ---- Fan-out ---- */

uint64_t qs_hub_join(qs_hub_t *hub, qs_hub_inbox_t *inbox) {
  pthread_mutex_lock(&hub->fanout_mutex);
  /* Everything up to fanned_seq is in history; everything after reaches the inbox. */
  uint64_t seq = hub->fanned_seq;
  inbox->next = hub->inboxes;
  hub->inboxes = inbox;
  pthread_mutex_unlock(&hub->fanout_mutex);
  return seq;
}

void qs_hub_part(qs_hub_t *hub, qs_hub_inbox_t *inbox) {
  pthread_mutex_lock(&hub->fanout_mutex);
  for (qs_hub_inbox_t **p = &hub->inboxes; *p; p = &(*p)->next) {
    if (*p == inbox) {
      *p = inbox->next;
      break;
    }
  }
  pthread_mutex_unlock(&hub->fanout_mutex);
}

uint64_t qs_hub_most_unwritten(qs_hub_t *hub) {
  uint64_t most = 0;
  pthread_mutex_lock(&hub->fanout_mutex);
  for (qs_hub_inbox_t *inbox = hub->inboxes; inbox; inbox = inbox->next) {
    uint64_t n = atomic_load(&inbox->unwritten);
    if (n > most) most = n;
  }
  pthread_mutex_unlock(&hub->fanout_mutex);
  return most;
}

void qs_hub_wake_others(qs_hub_t *hub, qs_hub_inbox_t *inbox) {
  pthread_mutex_lock(&hub->fanout_mutex);
  for (qs_hub_inbox_t *other = hub->inboxes; other; other = other->next)
    if (other != inbox) uv_async_send(other->wake);
  pthread_mutex_unlock(&hub->fanout_mutex);
}

/* The store's on_durable: in seq order, on the appending thread or the store's own. */
static void on_durable(void *ctx, qs_update_t *update, int status) {
  qs_hub_t *hub = ctx;
  /* Every node's subscriptions, from the shared order (before the fan-out:
   * the API's cursor never runs ahead of what it lists). */
  if (status == 0 && hub->settings.on_update) hub->settings.on_update(hub->settings.on_update_ctx, update);
  pthread_mutex_lock(&hub->fanout_mutex);
  /* The store reports appends in seq order, so the oldest pending publish is
   * this one. An ordering store reports every node's updates here and
   * answers its publishers through on_ordered instead. */
  qs_publish_rec_t *rec = NULL;
  if (hub->store_orders) {
    /* no publish record to match */
  } else if (hub->pending && hub->pending->seq == update->seq) {
    rec = hub->pending;
    hub->pending = rec->next;
    if (!hub->pending) hub->pending_tail = NULL;
    rec->next = NULL;
  } else {
    QS_LOG_ERROR("store reported seq %llu out of order", (unsigned long long)update->seq);
  }
  if (status == 0) {
    if (update->seq > hub->fanned_seq) hub->fanned_seq = update->seq;
    atomic_fetch_add_explicit(&hub->updates_total, 1, memory_order_relaxed);
    /* Read rec->inbox once: as soon as rec is pushed, its shard may drain
     * and free it on its own thread. Under fanout_mutex, every inbox of the
     * list, and its shard's async handle, stays alive. */
    qs_hub_inbox_t *rec_inbox = rec ? rec->inbox : NULL;
    for (qs_hub_inbox_t *inbox = hub->inboxes; inbox; inbox = inbox->next)
      qs_hub_inbox_push(inbox, update, inbox == rec_inbox ? rec : NULL, 0, true);
  } else if (rec) {
    /* A failed update is delivered nowhere; only its publisher hears of it. */
    qs_hub_inbox_push(rec->inbox, update, rec, status, false);
  }
  pthread_mutex_unlock(&hub->fanout_mutex);
}

/* An ordering store's answer to a publish (ctx: the publish record). */
static void on_ordered(void *ctx, qs_update_t *update, int status) {
  qs_publish_rec_t *rec = ctx;
  qs_hub_t *hub = rec->hub;
  /* The publishing shard stays open while its publish is pending, and
   * fanout_mutex keeps its inbox from being torn down meanwhile. */
  pthread_mutex_lock(&hub->fanout_mutex);
  qs_hub_inbox_push(rec->inbox, update, rec, status, false);
  pthread_mutex_unlock(&hub->fanout_mutex);
}

/* The transport's answer about an awaited cursor: to its shard's loop, after
 * every update the transport reported before it (the inbox keeps the order). */
static void on_awaited(void *ctx, int status) {
  qs_publish_rec_t *rec = ctx;
  qs_hub_t *hub = rec->hub;
  pthread_mutex_lock(&hub->fanout_mutex);
  qs_hub_inbox_push(rec->inbox, NULL, rec, status, false);
  pthread_mutex_unlock(&hub->fanout_mutex);
}

int qs_hub_await(qs_hub_t *hub, qs_hub_inbox_t *inbox, qs_slice_t last_event_id, qs_hub_on_cursor_fn on_ready,
                 void *ctx, bool *pending) {
  *pending = false;
  if (!hub->store_orders || !on_ready) return 0;
  qs_publish_rec_t *rec = malloc(sizeof *rec);
  if (!rec) return QS_ENOMEM;
  *rec = (qs_publish_rec_t){.hub = hub, .inbox = inbox, .on_cursor = on_ready, .ctx = ctx};
  int rc = qs_store_await_id(hub->store, last_event_id, on_awaited, rec, pending);
  if (rc < 0 || !*pending) free(rec);
  return rc;
}

/* Publishing through an ordering store: it decides the order, the hub only
 * waits for its answer. */
static int publish_ordered(qs_hub_t *hub, qs_hub_inbox_t *inbox, qs_update_t *update,
                           qs_hub_on_published_fn on_published, void *ctx) {
  qs_publish_rec_t *rec = malloc(sizeof *rec);
  if (!rec) return QS_ENOMEM;
  *rec = (qs_publish_rec_t){.hub = hub, .inbox = inbox, .on_published = on_published, .ctx = ctx};
  int rc = qs_store_publish(hub->store, update, on_ordered, rec);
  if (rc < 0) free(rec);
  return rc;
}

int qs_hub_sequence(qs_hub_t *hub, qs_hub_inbox_t *inbox, qs_update_t *update,
                    qs_hub_on_published_fn on_published, void *ctx) {
  if (hub->store_orders) return publish_ordered(hub, inbox, update, on_published, ctx);
  qs_publish_rec_t *rec = malloc(sizeof *rec);
  if (!rec) return QS_ENOMEM;
  *rec = (qs_publish_rec_t){.hub = hub, .inbox = inbox, .on_published = on_published, .ctx = ctx};

  pthread_mutex_lock(&hub->seq_mutex);
  rec->seq = update->seq = hub->last_seq + 1;
  pthread_mutex_lock(&hub->fanout_mutex);
  if (hub->pending_tail)
    hub->pending_tail->next = rec;
  else
    hub->pending = rec;
  hub->pending_tail = rec;
  pthread_mutex_unlock(&hub->fanout_mutex);
  /* The store may call on_durable from here (memory) or from its writer thread. */
  int rc = qs_store_append(hub->store, update);
  if (rc < 0) {
    /* The store did not take it: forget the record (the newest pending one,
     * since the sequencer is held) and give the seq back. */
    pthread_mutex_lock(&hub->fanout_mutex);
    qs_publish_rec_t **p = &hub->pending;
    hub->pending_tail = NULL;
    while (*p && *p != rec) {
      hub->pending_tail = *p;
      p = &(*p)->next;
    }
    if (*p) *p = rec->next;
    pthread_mutex_unlock(&hub->fanout_mutex);
    update->seq = 0;
  } else {
    hub->last_seq = rec->seq;
  }
  pthread_mutex_unlock(&hub->seq_mutex);
  if (rc < 0) {
    free(rec);
    return rc;
  }
  return 0;
}
