/* Subscribers: subscription with replay, delivery to sinks, slow-subscriber
 * and lifetime enforcement, heartbeats. Everything runs on the shard's loop.
 *
 * Replay in slices: qs_hub_subscribe resolves the cursor and reads the first
 * slice (held until the sink takes it); the subscriber then only keeps its
 * position (last_seq). Each time its sink drains, the next slice is read from
 * the store after the position, up to the shard's drained_seq (which only
 * grows, and everything up to it is in the store), and written straight to
 * the sink. The dispatch skips a subscriber that is not live; the slice that
 * ends at drained_seq makes it live. Both run on the shard's loop, so no
 * update falls between the two and none is given twice.
 *
 * Closing and freeing: the hub's walks (the dispatch, close-all, the tick)
 * close subscribers as they go but never change what they walk: a closed
 * subscriber only stops getting sink calls, and stays in the index and in
 * shard->all, skipped, until its transport calls qs_hub_unsubscribe, which
 * takes it out and frees it at once. That call runs from the transport's
 * own loop callbacks, never from inside a sink call (hub.h), so never during
 * a walk, nor under any other frame of the hub that holds the subscriber.
 *
 * Dependencies (ARCHITECTURE.md, the hub's files): uses the topic index
 * (topic_index.h) and the store; called by shard.c. Calls nothing of
 * shard.c or hub.c. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "hub/hub_internal.h"

/* ---- The first slice ---- */

/* Slices read per pump call at most (then the loop gets a turn). */
#define SLICES_PER_PUMP 8

/* The first slice, read before the response headers, is kept short: the
 * first event of a resume then leaves in about the time a short history
 * takes, whatever the size of the backlog; later slices are full size. */
#define FIRST_SLICE_MAX 32

static uint32_t slice_size(const qs_hub_shard_t *shard) {
  uint32_t n = shard->hub->settings.replay_slice;
  return n ? n : QS_HUB_DEFAULT_REPLAY_SLICE;
}

static int held_push(qs_subscriber_t *sub, qs_update_t *update) {
  qs_held_t *h = sub->held;
  if (!h) {
    uint32_t cap = slice_size(sub->shard);
    h = malloc(sizeof *h + cap * sizeof *h->items);
    if (!h) return QS_ENOMEM;
    *h = (qs_held_t){.cap = cap};
    sub->held = h;
  }
  if (h->len == h->cap) return QS_ELIMIT; /* the slice is full: the caller stops first */
  h->items[h->len++] = qs_update_retain(update);
  h->bytes += update->sse.len;
  if (h->len - h->head > sub->held_peak) sub->held_peak = h->len - h->head;
  return 0;
}

static void held_drop(qs_subscriber_t *sub) {
  qs_held_t *h = sub->held;
  if (!h) return;
  sub->held = NULL;
  for (uint32_t i = h->head; i < h->len; i++) qs_update_release(h->items[i]);
  free(h);
}

/* Takes `sub` off shard->resume (it is being freed). */
static void resume_forget(qs_subscriber_t *sub) {
  qs_hub_shard_t *shard = sub->shard;
  if (!sub->resuming) return;
  sub->resuming = false;
  for (uint32_t i = 0; i < shard->resume_len; i++) {
    if (shard->resume[i] == sub) {
      shard->resume[i] = shard->resume[--shard->resume_len];
      return;
    }
  }
}

/* ---- Closing ---- */

/* Marks `sub` closed: no more sink calls. It stays in the index, skipped,
 * until qs_hub_unsubscribe (see the top of this file). */
static void mark_closed(qs_subscriber_t *sub) {
  qs_hub_shard_t *shard = sub->shard;
  sub->closed = true;
  held_drop(sub);
  atomic_fetch_sub_explicit(&shard->hub->subscribers_connected, 1, memory_order_relaxed);
  if (sub->started && shard->hub->settings.on_subscription)
    shard->hub->settings.on_subscription(shard->hub->settings.on_subscription_ctx, sub, false);
}

/* The hub ends the connection; the transport's unsubscribe follows from the loop. */
static void disconnect(qs_subscriber_t *sub, const char *why) {
  if (sub->closed) return;
  mark_closed(sub);
  QS_LOG_INFO("%s id=%" PRIu64, why, sub->id);
  sub->sink.vtable->close(sub->sink.ctx);
}

static void disconnect_slow_because(qs_subscriber_t *sub, const char *why) {
  if (sub->closed) return;
  atomic_fetch_add_explicit(&sub->shard->hub->slow_disconnects_total, 1, memory_order_relaxed);
  mark_closed(sub);
  QS_LOG_WARN("%s id=%" PRIu64, why, sub->id);
  if (sub->sink.vtable->abort)
    sub->sink.vtable->abort(sub->sink.ctx);
  else
    sub->sink.vtable->close(sub->sink.ctx);
}

static void disconnect_slow(qs_subscriber_t *sub) {
  disconnect_slow_because(sub, "subscriber too slow, disconnected");
}

/* ---- Writing ---- */

/* Hands one update to the sink. Returns false when the subscriber was closed. */
static bool write_update(qs_subscriber_t *sub, qs_update_t *update) {
  qs_hub_shard_t *shard = sub->shard;
  if (sub->sink.vtable->write_update(sub->sink.ctx, update) < 0) {
    disconnect(sub, "subscriber write failed, disconnected");
    return false;
  }
  shard->deliveries++;
  sub->last_write_ms = shard->now_ms;
  size_t max = shard->hub->settings.max_queued_bytes;
  if (max && sub->sink.vtable->queued_bytes(sub->sink.ctx) > max) {
    disconnect_slow(sub);
    return false;
  }
  return true;
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

/* Offers a live update to `sub` (called by the index walk): dedupes, checks
 * private grants, writes or queues, enforces the hard limit. */
static void offer(void *owner, qs_update_t *update) {
  qs_subscriber_t *sub = owner;
  /* A subscriber still catching up reads this update from the store later. */
  if (sub->closed || !sub->live || sub->last_seq >= update->seq) return;
  sub->last_seq = update->seq;
  if (!can_receive(sub, update)) return;
  write_update(sub, update);
}

static bool wants(const void *owner, uint64_t seq) {
  const qs_subscriber_t *sub = owner;
  return !sub->closed && sub->last_seq < seq;
}

const qs_topic_index_ops_t qs_subscriber_index_ops = {.wants = wants, .offer = offer};

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

/* ---- Replay ---- */

/* The first slice, read at subscribe through the cursor lookup. */
typedef struct {
  qs_subscriber_t *sub;
  uint32_t walked;
  uint32_t max;
  size_t soft;
  int rc;
  bool stopped; /* the slice is full: history goes on after last_seq */
} first_slice_t;

static bool on_first_slice(void *ctx, qs_update_t *update) {
  first_slice_t *r = ctx;
  qs_subscriber_t *sub = r->sub;
  if (update->seq <= sub->last_seq) return true;
  sub->last_seq = update->seq;
  if (filter(sub, update)) {
    r->rc = held_push(sub, update);
    if (r->rc < 0) return false;
    sub->replayed++;
  }
  if (++r->walked >= r->max || (r->soft && sub->held && sub->held->bytes >= r->soft)) {
    r->stopped = true;
    return false;
  }
  return true;
}

/* A later slice, read from the store straight into the sink. */
typedef struct {
  qs_subscriber_t *sub;
  uint32_t walked;
  uint32_t max;
  size_t soft;
  bool stopped; /* full, soft limit reached, or the subscriber closed */
} slice_t;

static bool on_slice(void *ctx, qs_update_t *update) {
  slice_t *c = ctx;
  qs_subscriber_t *sub = c->sub;
  if (update->seq <= sub->last_seq) return true;
  sub->last_seq = update->seq;
  c->walked++;
  if (filter(sub, update)) {
    sub->replayed++;
    if (!write_update(sub, update)) {
      c->stopped = true;
      return false;
    }
  }
  if (c->walked >= c->max || (c->soft && sub->sink.vtable->queued_bytes(sub->sink.ctx) >= c->soft)) {
    c->stopped = true;
    return false;
  }
  return true;
}

/* Continues `sub`'s replay at the shard's next wake-up. */
static void resume_later(qs_subscriber_t *sub) {
  qs_hub_shard_t *shard = sub->shard;
  if (sub->resuming || shard->finishing) return;
  if (shard->resume_len == shard->resume_cap) {
    uint32_t cap = shard->resume_cap ? shard->resume_cap * 2 : 16;
    qs_subscriber_t **resume = realloc(shard->resume, cap * sizeof *resume);
    if (!resume) {
      disconnect(sub, "out of memory, replaying subscriber closed");
      return;
    }
    shard->resume = resume;
    shard->resume_cap = cap;
  }
  shard->resume[shard->resume_len++] = sub;
  sub->resuming = true;
  uv_async_send(&shard->async);
}

/* Hands replayed history to the sink while its queue is below the soft
 * limit: the first slice, then slices read from the store after last_seq up
 * to the shard's drained_seq; reaching it makes the subscriber live. At most
 * SLICES_PER_PUMP slices per call: the next drain, or the shard's next
 * wake-up when nothing is queued, goes on. */
void qs_subscriber_pump(qs_subscriber_t *sub) {
  if (sub->pumping) return;
  sub->pumping = true;
  qs_hub_shard_t *shard = sub->shard;
  size_t soft = shard->hub->settings.replay_queued_bytes;
  uint32_t slice = slice_size(shard);
  uint32_t budget = SLICES_PER_PUMP;
  while (sub->started && !sub->closed && !sub->live) {
    if (soft && sub->sink.vtable->queued_bytes(sub->sink.ctx) >= soft) break; /* the next drain goes on */
    qs_held_t *h = sub->held;
    if (h) {
      if (h->head == h->len) {
        held_drop(sub);
        continue;
      }
      qs_update_t *update = h->items[h->head++];
      h->bytes -= update->sse.len;
      write_update(sub, update); /* may close sub and drop h */
      qs_update_release(update);
      continue;
    }
    if (sub->last_seq >= shard->drained_seq) {
      sub->live = true; /* the dispatch takes over after drained_seq */
      break;
    }
    if (budget-- == 0) {
      if (!soft || sub->sink.vtable->queued_bytes(sub->sink.ctx) == 0) resume_later(sub);
      break;
    }
    slice_t c = {.sub = sub, .max = slice, .soft = soft};
    uint64_t up_to = shard->drained_seq;
    int rc = qs_store_replay_after_seq(shard->hub->store, sub->last_seq, up_to, on_slice, &c);
    if (sub->closed) break;
    if (rc == QS_ELIMIT) {
      /* §Reconciliation: never skip silently; on reconnection the client
       * learns that its id is gone (`earliest`). */
      disconnect(sub, "history discarded during replay, subscriber closed");
      break;
    }
    if (rc < 0) {
      QS_LOG_ERROR("replay failed id=%" PRIu64 " reason=%s", sub->id, qs_strerror(rc));
      disconnect(sub, "replay failed, subscriber closed");
      break;
    }
    if (!c.stopped && sub->last_seq < up_to) sub->last_seq = up_to;
  }
  sub->pumping = false;
}

void qs_subscribers_resume_replays(qs_hub_shard_t *shard) {
  if (shard->resume_len == 0) return;
  qs_subscriber_t **list = shard->resume;
  uint32_t len = shard->resume_len;
  shard->resume = NULL;
  shard->resume_len = shard->resume_cap = 0;
  /* A pump frees nobody (sink calls cannot unsubscribe): `list` stays valid. */
  for (uint32_t i = 0; i < len; i++) {
    list[i]->resuming = false;
    qs_subscriber_pump(list[i]);
  }
  free(list);
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
  if (qs_topic_index_add(&shard->index, sub, sub->members, sub->member_count) < 0) return QS_ENOMEM;
  sub->all_pos = shard->all_len;
  shard->all[shard->all_len++] = sub;
  return 0;
}

int qs_subscriber_create(qs_hub_shard_t *shard, const qs_hub_subscribe_params_t *params,
                         const qs_sink_t *sink, qs_subscriber_t **out) {
  qs_hub_t *hub = shard->hub;
  qs_subscriber_t *sub = calloc(1, sizeof *sub + params->matcher_count * sizeof(qs_index_member_t));
  if (!sub) return QS_ENOMEM;
  sub->shard = shard;
  sub->sink = *sink;
  sub->member_count = (uint32_t)params->matcher_count;
  for (uint32_t i = 0; i < sub->member_count; i++) sub->members[i].matcher = params->matchers[i];
  sub->grants = params->grants;
  sub->last_write_ms = shard->now_ms = uv_now(shard->loop);
  sub->deadline_ms = deadline_for(shard, params);

  /* §Reconciliation: resolve the cursor and read the first slice of what
   * this shard has already dispatched; the rest, and what is still in its
   * inbox, is read from the store as the sink drains (pump). */
  int rc = 0;
  bool complete = true; /* everything up to drained_seq was read */
  sub->cursor = QS_HUB_CURSOR_NONE;
  if (params->has_last_event_id) {
    sub->cursor = QS_HUB_CURSOR_EARLIEST;
    if (params->last_event_id.len > 0) {
      uint32_t first = slice_size(shard) < FIRST_SLICE_MAX ? slice_size(shard) : FIRST_SLICE_MAX;
      first_slice_t r = {.sub = sub, .max = first, .soft = hub->settings.replay_queued_bytes};
      rc = qs_store_replay(hub->store, params->last_event_id, shard->drained_seq, on_first_slice, &r);
      if (rc == 0) rc = r.rc;
      complete = !r.stopped;
      if (rc == 0 && !qs_slice_eq_cstr(params->last_event_id, "earliest")) sub->cursor = QS_HUB_CURSOR_FOUND;
      if (rc == QS_ENOTFOUND) {
        /* Unknown or discarded id: live only, header `earliest`. */
        held_drop(sub);
        sub->replayed = 0;
        sub->last_seq = 0;
        complete = true;
        rc = 0;
      }
    }
  }
  /* Without more history to read, the position is what the shard has dispatched. */
  if (rc == 0 && complete && sub->last_seq < shard->drained_seq) sub->last_seq = shard->drained_seq;
  if (rc == 0) rc = add_connected(shard, sub);
  if (rc < 0) {
    held_drop(sub);
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

void qs_subscriber_start(qs_subscriber_t *sub) {
  qs_hub_shard_t *shard = sub->shard;
  sub->started = true;
  sub->last_write_ms = shard->now_ms;
  if (shard->hub->settings.on_subscription)
    shard->hub->settings.on_subscription(shard->hub->settings.on_subscription_ctx, sub, true);
  qs_subscriber_pump(sub);
}

bool qs_subscriber_drained(qs_subscriber_t *sub) {
  if (sub->closed) return false;
  sub->stall_since_ms = 0; /* the sink drained: writes make progress */
  return sub->started && !sub->live;
}

bool qs_hub_subscriber_needs_writable(const qs_subscriber_t *sub) { return !sub->closed && !sub->live; }

static void remove_connected(qs_hub_shard_t *shard, qs_subscriber_t *sub) {
  qs_topic_index_remove(&shard->index, sub->members, sub->member_count);
  qs_subscriber_t *last = shard->all[--shard->all_len];
  shard->all[sub->all_pos] = last;
  last->all_pos = sub->all_pos;
}

void qs_subscriber_release(qs_subscriber_t *sub) {
  qs_hub_shard_t *shard = sub->shard;
  if (!sub->closed) mark_closed(sub);
  remove_connected(shard, sub);
  resume_forget(sub);
  for (uint32_t i = 0; i < sub->member_count; i++) qs_matcher_destroy(sub->members[i].matcher);
  qs_grants_release(sub->grants);
  shard->sub_count--;
  free(sub);
}

uint64_t qs_hub_subscriber_id(const qs_subscriber_t *sub) { return sub->id; }

size_t qs_hub_subscriber_matcher_count(const qs_subscriber_t *sub) { return sub->member_count; }

const qs_matcher_t *qs_hub_subscriber_matcher(const qs_subscriber_t *sub, size_t i) {
  return i < sub->member_count ? sub->members[i].matcher : NULL;
}

qs_grants_t *qs_hub_subscriber_grants(const qs_subscriber_t *sub) { return sub->grants; }

void *qs_hub_subscriber_sink_ctx(const qs_subscriber_t *sub) { return sub->sink.ctx; }

qs_hub_shard_t *qs_hub_subscriber_shard(const qs_subscriber_t *sub) { return sub->shard; }

/* ---- Shard-wide walks ----
 *
 * Both close subscribers as they go; a closed one stays in shard->all until
 * its transport unsubscribes from the loop, so `all` does not change under
 * them (see the top of this file). */

void qs_subscribers_close_all(qs_hub_shard_t *shard) {
  for (uint32_t i = 0; i < shard->all_len; i++)
    disconnect(shard->all[i], "hub shutting down, subscriber closed");
}

void qs_subscribers_tick(qs_hub_shard_t *shard) {
  const qs_hub_settings_t *settings = &shard->hub->settings;
  int64_t now_wall = qs_clock_wall_ms();
  uint64_t hb = settings->heartbeat_ms > 0 ? (uint64_t)settings->heartbeat_ms : 0;
  uint64_t dispatch = settings->dispatch_timeout_ms > 0 ? (uint64_t)settings->dispatch_timeout_ms : 0;
  for (uint32_t i = 0; i < shard->all_len; i++) {
    qs_subscriber_t *sub = shard->all[i];
    if (sub->closed) continue;
    /* §Authorization: closed no later than the token's `exp` (or the
     * lifetime): at most one tick early, never late. */
    if (sub->deadline_ms && sub->deadline_ms <= now_wall + shard->tick_ms) {
      disconnect(sub, "subscription expired, closed");
      continue;
    }
    /* REF `dispatch_timeout`: queued bytes that have not left for that long
     * (no drain in between) make the subscriber a slow one. */
    if (dispatch && sub->started) {
      bool waits = sub->sink.vtable->write_waits ? sub->sink.vtable->write_waits(sub->sink.ctx)
                                                 : sub->sink.vtable->queued_bytes(sub->sink.ctx) != 0;
      if (!waits) {
        sub->stall_since_ms = 0;
      } else if (!sub->stall_since_ms) {
        sub->stall_since_ms = shard->now_ms ? shard->now_ms : 1;
      } else if (shard->now_ms - sub->stall_since_ms >= dispatch) {
        disconnect_slow_because(sub, "subscriber writes stalled past dispatch_timeout, disconnected");
        continue;
      }
    }
    if (hb && sub->live && shard->now_ms - sub->last_write_ms >= hb) {
      sub->last_write_ms = shard->now_ms;
      if (sub->sink.vtable->write_bytes(sub->sink.ctx, ":\n", 2) < 0)
        disconnect(sub, "subscriber heartbeat failed, disconnected");
    }
  }
}
