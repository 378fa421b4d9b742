/* Subscribers: subscription with replay, delivery to sinks, slow-subscriber
 * and lifetime enforcement, heartbeats. Everything runs on the shard's loop. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "hub/hub_internal.h"

/* ---- Held updates ---- */

/* Holds `update`; `live` tells a live update from a replayed one (replayed
 * ones all come first, at subscribe). */
static int pending_push(qs_subscriber_t *sub, qs_update_t *update, bool live) {
  qs_pending_t *p = sub->pending;
  if (!p) {
    p = calloc(1, sizeof *p);
    if (!p) return QS_ENOMEM;
    p->snapshot_seq = live ? update->seq - 1 : sub->shard->drained_seq;
    sub->pending = p;
  }
  if (p->len == p->cap) {
    if (p->head > 0) {
      /* Reclaim the written front before growing. */
      memmove(p->items, p->items + p->head, (p->len - p->head) * sizeof *p->items);
      p->len -= p->head;
      p->head = 0;
    }
    if (p->len == p->cap) {
      uint32_t cap = p->cap ? p->cap * 2 : 16;
      qs_update_t **items = realloc(p->items, cap * sizeof *items);
      if (!items) return QS_ENOMEM;
      p->items = items;
      p->cap = cap;
    }
  }
  p->items[p->len++] = qs_update_retain(update);
  if (update->seq > p->snapshot_seq) p->live_bytes += update->sse.len;
  return 0;
}

static void pending_drop(qs_subscriber_t *sub) {
  qs_pending_t *p = sub->pending;
  if (!p) return;
  sub->pending = NULL;
  for (uint32_t i = p->head; i < p->len; i++) qs_update_release(p->items[i]);
  free(p->items);
  free(p);
}

/* ---- Closing ---- */

/* Marks `sub` closed: no more sink calls; it leaves the index at the next reap. */
static void mark_closed(qs_subscriber_t *sub) {
  qs_hub_shard_t *shard = sub->shard;
  sub->closed = true;
  pending_drop(sub);
  atomic_fetch_sub_explicit(&shard->hub->subscribers_connected, 1, memory_order_relaxed);
  qs_hub_shard_defer(shard, sub);
  if (sub->started && shard->hub->settings.on_subscription)
    shard->hub->settings.on_subscription(shard->hub->settings.on_subscription_ctx, sub, false);
}

/* The hub ends the connection (must be within enter/leave). */
static void disconnect(qs_subscriber_t *sub, const char *why) {
  if (sub->closed) return;
  mark_closed(sub);
  QS_LOG_INFO("%s id=%" PRIu64, why, sub->id);
  sub->sink.vtable->close(sub->sink.ctx);
}

static void disconnect_slow(qs_subscriber_t *sub) {
  if (sub->closed) return;
  atomic_fetch_add_explicit(&sub->shard->hub->slow_disconnects_total, 1, memory_order_relaxed);
  mark_closed(sub);
  QS_LOG_WARN("subscriber too slow, disconnected id=%" PRIu64, sub->id);
  sub->sink.vtable->close(sub->sink.ctx);
}

/* ---- Writing ---- */

static size_t queued_bytes(const qs_subscriber_t *sub) {
  return sub->started ? sub->sink.vtable->queued_bytes(sub->sink.ctx) : 0;
}

/* Hands one update to the sink. Returns false when the subscriber was closed. */
static bool write_update(qs_subscriber_t *sub, qs_update_t *update) {
  qs_hub_shard_t *shard = sub->shard;
  if (sub->sink.vtable->write_update(sub->sink.ctx, update) < 0) {
    disconnect(sub, "subscriber write failed, disconnected");
    return false;
  }
  if (sub->closed) return false; /* unsubscribed from inside the sink */
  shard->deliveries++;
  sub->last_write_ms = shard->now_ms;
  size_t max = shard->hub->settings.max_queued_bytes;
  if (max && sub->sink.vtable->queued_bytes(sub->sink.ctx) > max) {
    disconnect_slow(sub);
    return false;
  }
  return true;
}

/* Writes held updates while the sink's queue is below the soft limit. */
static void pump(qs_subscriber_t *sub) {
  size_t soft = sub->shard->hub->settings.replay_queued_bytes;
  while (sub->started && !sub->closed && sub->pending) {
    qs_pending_t *p = sub->pending;
    if (p->head == p->len) {
      pending_drop(sub);
      return;
    }
    if (soft && sub->sink.vtable->queued_bytes(sub->sink.ctx) >= soft) return;
    qs_update_t *update = p->items[p->head++];
    if (update->seq > p->snapshot_seq) p->live_bytes -= update->sse.len;
    write_update(sub, update); /* may close sub and drop p */
    qs_update_release(update);
  }
}

/* §Subscription, §Authorization: a private update needs a subscribe grant
 * matching one of its topics (cached per update and grants object). */
static bool can_receive(qs_subscriber_t *sub, qs_update_t *update) {
  if (!update->is_private) return true;
  qs_hub_shard_t *shard = sub->shard;
  if (shard->cache_grants == sub->grants && shard->cache_seq == update->seq) return shard->cache_ok;
  bool ok = qs_grants_can_receive(sub->grants, update->topics, update->topic_count);
  shard->cache_grants = sub->grants;
  shard->cache_seq = update->seq;
  shard->cache_ok = ok;
  return ok;
}

void qs_hub_offer(qs_subscriber_t *sub, qs_update_t *update) {
  if (sub->closed || sub->last_seq >= update->seq) return;
  sub->last_seq = update->seq;
  if (!can_receive(sub, update)) return;
  if (sub->pending || !sub->started) {
    /* Behind queued replay (or before start): hold it, within the hard limit. */
    size_t max = sub->shard->hub->settings.max_queued_bytes;
    size_t live = sub->pending ? sub->pending->live_bytes : 0;
    if ((max && queued_bytes(sub) + live + update->sse.len > max) || pending_push(sub, update, true) < 0) {
      disconnect_slow(sub);
      return;
    }
    pump(sub);
    return;
  }
  write_update(sub, update);
}

/* ---- Subscribing ---- */

/* The subscriber's filter, for replay (the index does the matcher part live). */
static bool filter(const qs_subscriber_t *sub, const qs_update_t *update) {
  bool any = false;
  for (uint32_t m = 0; m < sub->member_count && !any; m++) {
    for (size_t t = 0; t < update->topic_count && !any; t++)
      any = qs_matcher_match(sub->members[m].matcher, update->topics[t]);
  }
  return any &&
         (!update->is_private || qs_grants_can_receive(sub->grants, update->topics, update->topic_count));
}

typedef struct {
  qs_subscriber_t *sub;
  int rc;
} replay_ctx_t;

static bool on_replayed(void *ctx, qs_update_t *update) {
  replay_ctx_t *r = ctx;
  if (update->seq <= r->sub->last_seq || !filter(r->sub, update)) return true;
  r->rc = pending_push(r->sub, update, false);
  if (r->rc < 0) return false;
  r->sub->last_seq = update->seq;
  r->sub->replayed++;
  return true;
}

static int64_t deadline_for(const qs_hub_shard_t *shard, const qs_hub_subscribe_params_t *params) {
  int64_t deadline = params->grants->expires_ms > 0 ? params->grants->expires_ms : 0;
  int64_t lifetime = shard->hub->settings.max_lifetime_ms;
  if (params->max_lifetime_ms > 0 && (lifetime <= 0 || params->max_lifetime_ms < lifetime))
    lifetime = params->max_lifetime_ms;
  if (lifetime > 0) {
    int64_t end = qs_clock_wall_ms() + lifetime;
    if (!deadline || end < deadline) deadline = end;
  }
  return deadline;
}

static int add_connected(qs_hub_shard_t *shard, qs_subscriber_t *sub) {
  if (shard->all_len == shard->all_cap) {
    uint32_t cap = shard->all_cap ? shard->all_cap * 2 : 64;
    qs_subscriber_t **all = realloc(shard->all, cap * sizeof *all);
    if (!all) return QS_ENOMEM;
    shard->all = all;
    shard->all_cap = cap;
  }
  if (qs_topic_index_add(&shard->index, sub) < 0) return QS_ENOMEM;
  sub->all_pos = shard->all_len;
  shard->all[shard->all_len++] = sub;
  sub->indexed = true;
  return 0;
}

int qs_hub_subscribe(qs_hub_shard_t *shard, const qs_hub_subscribe_params_t *params, const qs_sink_t *sink,
                     qs_subscriber_t **out) {
  *out = NULL;
  if (!params || !sink || !sink->vtable || !params->matchers || params->matcher_count == 0 ||
      params->matcher_count > UINT32_MAX || !params->grants)
    return QS_EINVAL;
  /* Registering would change the index under a walk. */
  if (shard->walking) return QS_EINVAL;
  if (shard->closing) return QS_ECLOSED;
  /* Catch up with the fan-out first, so that the snapshot below is as fresh
   * as possible: a cursor naming an update that is durable but not yet
   * dispatched here would otherwise be found beyond the snapshot and that
   * update delivered live again. */
  if (shard->depth == 0) {
    qs_hub_shard_drain(shard);
    if (shard->closing) return QS_ECLOSED;
  }
  qs_hub_t *hub = shard->hub;
  qs_subscriber_t *sub = calloc(1, sizeof *sub + params->matcher_count * sizeof(qs_member_t));
  if (!sub) return QS_ENOMEM;
  sub->shard = shard;
  sub->sink = *sink;
  sub->member_count = (uint32_t)params->matcher_count;
  for (uint32_t i = 0; i < sub->member_count; i++) sub->members[i].matcher = params->matchers[i];
  sub->grants = params->grants;
  sub->last_write_ms = shard->now_ms = uv_now(shard->loop);
  sub->deadline_ms = deadline_for(shard, params);

  /* §Reconciliation: replay what this shard has already dispatched; what
   * follows is still in its inbox and reaches the subscriber live. */
  int rc = 0;
  sub->cursor = QS_HUB_CURSOR_NONE;
  if (params->has_last_event_id) {
    sub->cursor = QS_HUB_CURSOR_EARLIEST;
    if (params->last_event_id.len > 0) {
      replay_ctx_t r = {sub, 0};
      rc = qs_store_replay(hub->store, params->last_event_id, shard->drained_seq, on_replayed, &r);
      if (rc == 0) rc = r.rc;
      if (rc == 0 && !qs_slice_eq_cstr(params->last_event_id, "earliest")) sub->cursor = QS_HUB_CURSOR_FOUND;
      if (rc == QS_ENOTFOUND) {
        /* Unknown or discarded id: live only, header `earliest`. */
        pending_drop(sub);
        sub->replayed = 0;
        rc = 0;
      }
    }
  }
  /* Whatever was replayed, live updates start after the snapshot. */
  if (rc == 0 && sub->last_seq < shard->drained_seq) sub->last_seq = shard->drained_seq;
  if (rc == 0) rc = add_connected(shard, sub);
  if (rc < 0) {
    pending_drop(sub);
    free(sub); /* the matchers and grants stay the caller's */
    return rc;
  }
  qs_grants_retain(sub->grants);
  sub->id = atomic_fetch_add_explicit(&hub->next_subscriber_id, 1, memory_order_relaxed);
  shard->sub_count++;
  atomic_fetch_add_explicit(&hub->subscribers_connected, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&hub->subscribers_total, 1, memory_order_relaxed);
  *out = sub;
  return 0;
}

qs_hub_cursor_t qs_hub_subscriber_cursor(const qs_subscriber_t *sub) { return (qs_hub_cursor_t)sub->cursor; }

size_t qs_hub_subscriber_replayed(const qs_subscriber_t *sub) { return sub->replayed; }

void qs_hub_subscriber_start(qs_subscriber_t *sub) {
  if (sub->started || sub->closed) return;
  qs_hub_shard_t *shard = sub->shard;
  qs_hub_shard_enter(shard);
  shard->now_ms = uv_now(shard->loop);
  sub->started = true;
  sub->last_write_ms = shard->now_ms;
  if (shard->hub->settings.on_subscription)
    shard->hub->settings.on_subscription(shard->hub->settings.on_subscription_ctx, sub, true);
  pump(sub);
  qs_hub_shard_leave(shard);
}

void qs_hub_subscriber_on_writable(qs_subscriber_t *sub) {
  if (!sub->pending || !sub->started || sub->closed) return;
  qs_hub_shard_t *shard = sub->shard;
  qs_hub_shard_enter(shard);
  shard->now_ms = uv_now(shard->loop);
  pump(sub);
  qs_hub_shard_leave(shard);
}

void qs_hub_unsubscribe(qs_subscriber_t *sub) {
  if (!sub || sub->released) return;
  qs_hub_shard_t *shard = sub->shard;
  qs_hub_shard_enter(shard);
  sub->released = true;
  if (!sub->closed) mark_closed(sub);
  qs_hub_shard_defer(shard, sub);
  qs_hub_shard_leave(shard);
}

void qs_hub_subscriber_free(qs_subscriber_t *sub) {
  pending_drop(sub);
  for (uint32_t i = 0; i < sub->member_count; i++) qs_matcher_destroy(sub->members[i].matcher);
  qs_grants_release(sub->grants);
  free(sub);
}

uint64_t qs_hub_subscriber_id(const qs_subscriber_t *sub) { return sub->id; }

size_t qs_hub_subscriber_matcher_count(const qs_subscriber_t *sub) { return sub->member_count; }

const qs_matcher_t *qs_hub_subscriber_matcher(const qs_subscriber_t *sub, size_t i) {
  return i < sub->member_count ? sub->members[i].matcher : NULL;
}

qs_grants_t *qs_hub_subscriber_grants(const qs_subscriber_t *sub) { return sub->grants; }

void *qs_hub_subscriber_sink_ctx(const qs_subscriber_t *sub) { return sub->sink.ctx; }

/* ---- Shard-wide walks ---- */

void qs_hub_shard_close_all(qs_hub_shard_t *shard) {
  shard->walking = true;
  for (uint32_t i = 0; i < shard->all_len; i++)
    disconnect(shard->all[i], "hub shutting down, subscriber closed");
  shard->walking = false;
}

void qs_hub_shard_tick(qs_hub_shard_t *shard) {
  const qs_hub_settings_t *settings = &shard->hub->settings;
  int64_t now_wall = qs_clock_wall_ms();
  uint64_t hb = settings->heartbeat_ms > 0 ? (uint64_t)settings->heartbeat_ms : 0;
  shard->walking = true;
  for (uint32_t i = 0; i < shard->all_len; i++) {
    qs_subscriber_t *sub = shard->all[i];
    if (sub->closed) continue;
    /* §Authorization: closed no later than the token's `exp` (or the
     * lifetime): at most one tick early, never late. */
    if (sub->deadline_ms && sub->deadline_ms <= now_wall + shard->tick_ms) {
      disconnect(sub, "subscription expired, closed");
      continue;
    }
    if (hb && sub->started && !sub->pending && shard->now_ms - sub->last_write_ms >= hb) {
      sub->last_write_ms = shard->now_ms;
      if (sub->sink.vtable->write_bytes(sub->sink.ctx, ":\n", 2) < 0)
        disconnect(sub, "subscriber heartbeat failed, disconnected");
    }
  }
  shard->walking = false;
}
