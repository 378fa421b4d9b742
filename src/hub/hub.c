/* The hub: sequencer, fan-out to the shards' inboxes, shard lifecycle, and
 * the entry points of hub.h that can call out (a sink, a hook, a callback),
 * each bracketed with the re-entrancy guards (shard_enter, shard_leave).
 * See hub.h for the threading model. Lock order: seq_mutex, then
 * fanout_mutex, then a shard's inbox_mutex.
 *
 * Dependencies: the top of hub/ (ARCHITECTURE.md, the hub's files): uses
 * subscriber.c, the topic index and reentry.c; nothing below calls back into
 * this file. */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "hub/hub_internal.h"

/* ---- The hub ---- */

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
  int rc = open_store(open_arg, qs_hub_on_durable, hub, &hub->store);
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
  if (hub->shards) QS_LOG_ERROR("hub destroyed with shards still open");
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
}

/* ---- Fan-out ---- */

/* Appends an entry to a shard's inbox and wakes its loop. Called under
 * fanout_mutex, which keeps the shard (and its async handle) alive. */
static void inbox_push(qs_hub_shard_t *shard, qs_update_t *update, qs_publish_rec_t *rec, int status,
                       bool deliver) {
  pthread_mutex_lock(&shard->inbox_mutex);
  if (shard->inbox_len == shard->inbox_cap) {
    size_t cap = shard->inbox_cap ? shard->inbox_cap * 2 : 64;
    qs_inbox_entry_t *entries = realloc(shard->inbox, cap * sizeof *entries);
    if (!entries) {
      pthread_mutex_unlock(&shard->inbox_mutex);
      /* Dropping an entry would break the order every shard relies on and
       * could strand a publisher: there is no safe way on. */
      QS_LOG_ERROR("out of memory in the hub's fan-out");
      abort();
    }
    shard->inbox = entries;
    shard->inbox_cap = cap;
  }
  bool was_empty = shard->inbox_len == 0;
  shard->inbox[shard->inbox_len++] =
      (qs_inbox_entry_t){update ? qs_update_retain(update) : NULL, rec, status, deliver};
  pthread_mutex_unlock(&shard->inbox_mutex);
  if (was_empty) uv_async_send(&shard->async);
}

void qs_hub_on_durable(void *ctx, qs_update_t *update, int status) {
  qs_hub_t *hub = ctx;
  /* Every node's subscriptions, from the shared order (before the fan-out:
   * the API's cursor never runs ahead of what it lists). */
  if (status == 0 && hub->settings.on_update) hub->settings.on_update(hub->settings.on_update_ctx, update);
  pthread_mutex_lock(&hub->fanout_mutex);
  /* The store reports appends in seq order, so the oldest pending publish is
   * this one. An ordering store reports every node's updates here and
   * answers its publishers through qs_hub_on_ordered instead. */
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
    /* Read rec->shard once: as soon as rec is pushed, its shard may drain
     * and free it on its own thread. */
    qs_hub_shard_t *rec_shard = rec ? rec->shard : NULL;
    for (qs_hub_shard_t *shard = hub->shards; shard; shard = shard->next)
      inbox_push(shard, update, shard == rec_shard ? rec : NULL, 0, true);
  } else if (rec) {
    /* A failed update is delivered nowhere; only its publisher hears of it. */
    inbox_push(rec->shard, update, rec, status, false);
  }
  pthread_mutex_unlock(&hub->fanout_mutex);
}

void qs_hub_on_ordered(void *ctx, qs_update_t *update, int status) {
  qs_publish_rec_t *rec = ctx;
  qs_hub_t *hub = rec->shard->hub;
  /* The publishing shard stays open while its publish is pending, and
   * fanout_mutex keeps its inbox from being torn down meanwhile. */
  pthread_mutex_lock(&hub->fanout_mutex);
  inbox_push(rec->shard, update, rec, status, false);
  pthread_mutex_unlock(&hub->fanout_mutex);
}

/* The transport's answer about an awaited cursor: to its shard's loop, after
 * every update the transport reported before it (the inbox keeps the order). */
static void on_awaited(void *ctx, int status) {
  qs_publish_rec_t *rec = ctx;
  qs_hub_t *hub = rec->shard->hub;
  pthread_mutex_lock(&hub->fanout_mutex);
  inbox_push(rec->shard, NULL, rec, status, false);
  pthread_mutex_unlock(&hub->fanout_mutex);
}

int qs_hub_await_cursor(qs_hub_shard_t *shard, qs_slice_t last_event_id, qs_hub_on_cursor_fn on_ready,
                        void *ctx, bool *pending) {
  *pending = false;
  if (shard->closing) return QS_ECLOSED;
  if (!shard->hub->store_orders || !on_ready) return 0;
  qs_publish_rec_t *rec = malloc(sizeof *rec);
  if (!rec) return QS_ENOMEM;
  *rec = (qs_publish_rec_t){.shard = shard, .on_cursor = on_ready, .ctx = ctx};
  /* Counted first, as a publish: the answer may reach the inbox at once. */
  shard->pending_publishes++;
  int rc = qs_store_await_id(shard->hub->store, last_event_id, on_awaited, rec, pending);
  if (rc < 0 || !*pending) {
    shard->pending_publishes--;
    free(rec);
  }
  return rc;
}

/* Publishing through an ordering store: it decides the order, the hub only
 * waits for its answer. */
static int publish_ordered(qs_hub_shard_t *shard, qs_update_t *update, qs_hub_on_published_fn on_published,
                           void *ctx) {
  qs_publish_rec_t *rec = malloc(sizeof *rec);
  if (!rec) return QS_ENOMEM;
  *rec = (qs_publish_rec_t){.shard = shard, .on_published = on_published, .ctx = ctx};
  /* Counted first: the answer may reach the inbox before publish returns. */
  shard->pending_publishes++;
  int rc = qs_store_publish(shard->hub->store, update, qs_hub_on_ordered, rec);
  if (rc < 0) {
    shard->pending_publishes--;
    free(rec);
  }
  return rc;
}

int qs_hub_publish(qs_hub_shard_t *shard, qs_update_t *update, qs_hub_on_published_fn on_published,
                   void *ctx) {
  if (!update || !on_published || update->seq != 0) return QS_EINVAL;
  if (shard->closing) return QS_ECLOSED;
  qs_hub_t *hub = shard->hub;
  if (hub->store_orders) return publish_ordered(shard, update, on_published, ctx);
  qs_publish_rec_t *rec = malloc(sizeof *rec);
  if (!rec) return QS_ENOMEM;
  *rec = (qs_publish_rec_t){.shard = shard, .on_published = on_published, .ctx = ctx};

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
  shard->pending_publishes++;
  return 0;
}

/* ---- Shards ---- */

static void maybe_finish(qs_hub_shard_t *shard);

/* Every entry point that may call out brackets itself with these, so that
 * subscribers are freed, and leave the index, only when nothing of the hub
 * is on the stack (the re-entrancy guards, hub_internal.h). */
static void shard_enter(qs_hub_shard_t *shard) {
  qs_hub_guard_enter(shard);
  shard->now_ms = uv_now(shard->loop);
}

static void shard_leave(qs_hub_shard_t *shard) {
  if (!qs_hub_guard_leave(shard)) return;
  for (qs_subscriber_t *sub; (sub = qs_hub_guard_next_deferred(shard));) qs_subscriber_reap(sub);
  if (shard->deliveries) {
    atomic_fetch_add_explicit(&shard->hub->deliveries_total, shard->deliveries, memory_order_relaxed);
    shard->deliveries = 0;
  }
  maybe_finish(shard);
}

static void shard_free(qs_hub_shard_t *shard) {
  qs_topic_index_dispose(&shard->index);
  free(shard->all);
  free(shard->inbox);
  free(shard->spare);
  free(shard->resume);
  pthread_mutex_destroy(&shard->inbox_mutex);
  free(shard);
}

static void on_handle_closed(uv_handle_t *handle) {
  qs_hub_shard_t *shard = handle->data;
  if (--shard->open_handles > 0) return;
  qs_hub_shard_on_close_fn on_close = shard->on_close;
  void *ctx = shard->on_close_ctx;
  shard_free(shard);
  if (on_close) on_close(ctx);
}

/* Processes one drained batch in order: dispatch, then answer the publisher. */
static void process_batch(qs_hub_shard_t *shard, qs_inbox_entry_t *entries, size_t count) {
  for (size_t i = 0; i < count; i++) {
    qs_inbox_entry_t *e = &entries[i];
    /* The update is durable and in every shard's inbox: the publisher is
     * answered first, so the size of the fan-out never delays its 200. */
    if (e->rec) {
      shard->pending_publishes--;
      if (e->rec->on_cursor)
        e->rec->on_cursor(e->rec->ctx, e->status);
      else
        e->rec->on_published(e->rec->ctx, e->update, e->status);
      free(e->rec);
    }
    if (e->deliver) {
      if (e->update->seq > shard->drained_seq) shard->drained_seq = e->update->seq;
      if (!shard->finishing) {
        qs_hub_guard_walk_begin(shard);
        qs_topic_index_dispatch(&shard->index, e->update);
        qs_hub_guard_walk_end(shard);
      }
    }
    qs_update_release(e->update);
  }
}

static void drain_inbox(qs_hub_shard_t *shard) {
  pthread_mutex_lock(&shard->inbox_mutex);
  qs_inbox_entry_t *entries = shard->inbox;
  size_t count = shard->inbox_len, cap = shard->inbox_cap;
  shard->inbox = shard->spare;
  shard->inbox_cap = shard->spare_cap;
  shard->inbox_len = 0;
  pthread_mutex_unlock(&shard->inbox_mutex);
  shard->spare = NULL;
  shard->spare_cap = 0;
  process_batch(shard, entries, count);
  /* Keep the bigger buffer for the next swap. */
  if (shard->spare) {
    free(entries);
  } else {
    shard->spare = entries;
    shard->spare_cap = cap;
  }
}

/* Processes the inbox now (outside any other hub callback only: batches
 * must not nest, or the order would break). */
static void drain(qs_hub_shard_t *shard) {
  shard_enter(shard);
  drain_inbox(shard);
  shard_leave(shard);
}

void qs_hub_shard_poll(qs_hub_shard_t *shard) {
  if (!qs_hub_guard_entered(shard)) drain(shard);
}

static void on_async(uv_async_t *handle) {
  qs_hub_shard_t *shard = handle->data;
  shard_enter(shard);
  drain_inbox(shard);
  qs_subscribers_resume_replays(shard);
  shard_leave(shard);
}

static void on_timer(uv_timer_t *handle) {
  qs_hub_shard_t *shard = handle->data;
  shard_enter(shard);
  qs_subscribers_tick(shard);
  shard_leave(shard);
}

int qs_hub_shard_create(qs_hub_t *hub, uv_loop_t *loop, qs_hub_shard_t **out) {
  *out = NULL;
  qs_hub_shard_t *shard = calloc(1, sizeof *shard);
  if (!shard) return QS_ENOMEM;
  shard->hub = hub;
  shard->loop = loop;
  qs_topic_index_init(&shard->index, &qs_subscriber_index_ops);
  qs_topic_index_set_cache_size(&shard->index, hub->settings.topic_matcher_cache_entries);
  if (pthread_mutex_init(&shard->inbox_mutex, NULL) != 0) {
    free(shard);
    return QS_ENOMEM;
  }
  int64_t hb = hub->settings.heartbeat_ms;
  shard->tick_ms = hub->settings.tick_ms > 0 ? hub->settings.tick_ms
                   : hb > 0                  ? (hb / 4 < 10     ? 10
                                                : hb / 4 > 1000 ? 1000
                                                                : hb / 4)
                                             : 1000;
  int64_t dispatch = hub->settings.dispatch_timeout_ms;
  if (hub->settings.tick_ms <= 0 && dispatch > 0 && shard->tick_ms > dispatch / 4)
    shard->tick_ms = dispatch / 4 < 10 ? 10 : dispatch / 4;
  if (uv_async_init(loop, &shard->async, on_async) != 0) {
    pthread_mutex_destroy(&shard->inbox_mutex);
    free(shard);
    return QS_EIO;
  }
  shard->async.data = shard;
  shard->open_handles = 1;
  if (uv_timer_init(loop, &shard->timer) != 0) {
    /* The async handle is initialized: it must be closed through the loop. */
    shard->closing = shard->finishing = true;
    uv_close((uv_handle_t *)&shard->async, on_handle_closed);
    return QS_EIO;
  }
  shard->timer.data = shard;
  shard->open_handles = 2;
  uv_timer_start(&shard->timer, on_timer, (uint64_t)shard->tick_ms, (uint64_t)shard->tick_ms);
  /* Housekeeping alone must not keep a loop running. */
  uv_unref((uv_handle_t *)&shard->timer);
  shard->now_ms = uv_now(loop);

  pthread_mutex_lock(&hub->fanout_mutex);
  /* Everything up to fanned_seq is in history; everything after reaches the inbox. */
  shard->drained_seq = hub->fanned_seq;
  shard->next = hub->shards;
  hub->shards = shard;
  pthread_mutex_unlock(&hub->fanout_mutex);
  *out = shard;
  return 0;
}

/* Leaves the fan-out and closes the handles once nothing is left to wait for. */
static void maybe_finish(qs_hub_shard_t *shard) {
  if (!shard->closing || shard->finishing || qs_hub_guard_entered(shard)) return;
  if (shard->sub_count > 0 || shard->pending_publishes > 0) return;
  shard->finishing = true;
  qs_hub_t *hub = shard->hub;
  pthread_mutex_lock(&hub->fanout_mutex);
  for (qs_hub_shard_t **p = &hub->shards; *p; p = &(*p)->next) {
    if (*p == shard) {
      *p = shard->next;
      break;
    }
  }
  pthread_mutex_unlock(&hub->fanout_mutex);
  /* Nobody pushes any more; release what is left (no publish of ours is
   * pending and nothing is dispatched: there is nothing to reap after). */
  qs_hub_guard_enter(shard);
  drain_inbox(shard);
  (void)qs_hub_guard_leave(shard);
  uv_timer_stop(&shard->timer);
  uv_close((uv_handle_t *)&shard->async, on_handle_closed);
  uv_close((uv_handle_t *)&shard->timer, on_handle_closed);
}

void qs_hub_shard_close(qs_hub_shard_t *shard, qs_hub_shard_on_close_fn on_close, void *ctx) {
  if (shard->closing) return;
  shard->closing = true;
  shard->on_close = on_close;
  shard->on_close_ctx = ctx;
  qs_hub_guard_enter(shard);
  qs_subscribers_close_all(shard);
  shard_leave(shard);
}

/* ---- Subscribers' entry points (the work is subscriber.c's) ---- */

int qs_hub_subscribe(qs_hub_shard_t *shard, const qs_hub_subscribe_params_t *params, const qs_sink_t *sink,
                     qs_subscriber_t **out) {
  *out = NULL;
  if (!params || !sink || !sink->vtable || !params->matchers || params->matcher_count == 0 ||
      params->matcher_count > UINT32_MAX || !params->grants)
    return QS_EINVAL;
  /* Registering would change the index under a walk. */
  if (qs_hub_guard_walking(shard)) return QS_EINVAL;
  if (shard->closing) return QS_ECLOSED;
  /* Catch up with the fan-out first, so that the subscriber's snapshot is as
   * fresh as possible: a cursor naming an update that is durable but not yet
   * dispatched here would otherwise be found beyond the snapshot and that
   * update delivered live again. */
  if (!qs_hub_guard_entered(shard)) {
    drain(shard);
    if (shard->closing) return QS_ECLOSED;
  }
  return qs_subscriber_create(shard, params, sink, out);
}

void qs_hub_subscriber_start(qs_subscriber_t *sub) {
  if (sub->started || sub->closed) return;
  qs_hub_shard_t *shard = sub->shard;
  shard_enter(shard);
  qs_subscriber_start(sub);
  shard_leave(shard);
}

void qs_hub_subscriber_on_writable(qs_subscriber_t *sub) {
  if (!qs_subscriber_drained(sub)) return;
  qs_hub_shard_t *shard = sub->shard;
  shard_enter(shard);
  qs_subscriber_pump(sub);
  shard_leave(shard);
}

void qs_hub_unsubscribe(qs_subscriber_t *sub) {
  if (!sub || sub->released) return;
  qs_hub_shard_t *shard = sub->shard;
  qs_hub_guard_enter(shard);
  qs_subscriber_release(sub);
  shard_leave(shard);
}
