/* A shard on its loop: creation and closing, draining its inbox in order
 * (answer the publisher, then dispatch through the topic index), its
 * wake-up and housekeeping timer, and every entry point of hub.h that can
 * call out (a sink, a hook, a callback), each bracketed with shard_enter
 * and shard_leave. See hub.h for the threading model.
 *
 * Dependencies: the top of hub/ (ARCHITECTURE.md, the hub's files): uses
 * hub.c (the fan-out and the sequencer), backlog.c (answers that wait),
 * subscriber.c, the topic index and inbox.c; none of them calls back into
 * this file. */
#include <stdlib.h>

#include "base/error.h"
#include "base/log.h"
#include "hub/hub_internal.h"

/* ---- Shards ---- */

static void maybe_finish(qs_hub_shard_t *shard);

/* Every entry point that may call out brackets itself with these: a hook or
 * callback that calls back into hub.h then finds depth > 0, and neither
 * drains the inbox (batches would nest) nor finishes the shard under its
 * caller; the outermost leave does what they left. */
static void shard_enter(qs_hub_shard_t *shard) {
  shard->depth++;
  shard->now_ms = uv_now(shard->loop);
}

static void shard_leave(qs_hub_shard_t *shard) {
  if (--shard->depth > 0) return;
  if (shard->deliveries) {
    atomic_fetch_add_explicit(&shard->hub->deliveries_total, shard->deliveries, memory_order_relaxed);
    shard->deliveries = 0;
  }
  maybe_finish(shard);
}

static void shard_free(qs_hub_shard_t *shard) {
  qs_topic_index_dispose(&shard->index);
  free(shard->all);
  qs_hub_inbox_dispose(&shard->inbox);
  free(shard->resume);
  qs_backlog_dispose(shard);
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

/* Processes one drained batch in order: answer the publisher (now, or once
 * the backlog allows), then dispatch. */
static void process_batch(qs_hub_shard_t *shard, qs_inbox_entry_t *entries, size_t count) {
  for (size_t i = 0; i < count; i++) {
    qs_inbox_entry_t *e = &entries[i];
    /* The update is durable and in every shard's inbox: the publisher is
     * answered first, so the size of its own fan-out never delays its 200
     * (the fan-out of earlier ones may, past fanout_backlog). */
    if (e->rec) {
      if (qs_backlog_holds(shard, e))
        qs_backlog_keep(shard, e); /* with a reference of its own */
      else
        qs_hub_answer(shard, e);
    }
    if (e->deliver) {
      if (e->update->seq > shard->drained_seq) shard->drained_seq = e->update->seq;
      /* Sinks cannot unsubscribe from inside their calls (hub.h): the
       * index does not change under the dispatch. */
      uint64_t before = shard->deliveries;
      if (!shard->finishing) qs_topic_index_dispatch(&shard->index, e->update);
      qs_backlog_dispatched(shard, e, shard->deliveries - before);
    }
    qs_update_release(e->update);
  }
}

static void drain_inbox(qs_hub_shard_t *shard) {
  qs_inbox_batch_t batch = qs_hub_inbox_take(&shard->inbox);
  process_batch(shard, batch.entries, batch.count);
  qs_hub_inbox_recycle(&shard->inbox, batch);
}

/* Processes the inbox now (outside any other hub callback only: batches
 * must not nest, or the order would break). */
static void drain(qs_hub_shard_t *shard) {
  shard_enter(shard);
  drain_inbox(shard);
  qs_backlog_release(shard);
  shard_leave(shard);
}

void qs_hub_shard_poll(qs_hub_shard_t *shard) {
  if (shard->depth == 0) drain(shard);
}

static void on_async(uv_async_t *handle) {
  qs_hub_shard_t *shard = handle->data;
  shard_enter(shard);
  drain_inbox(shard);
  qs_backlog_release(shard);
  qs_subscribers_resume_replays(shard);
  shard_leave(shard);
}

static void on_timer(uv_timer_t *handle) {
  qs_hub_shard_t *shard = handle->data;
  shard_enter(shard);
  qs_subscribers_tick(shard);
  qs_backlog_expire(shard);
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
  if (qs_hub_inbox_init(&shard->inbox, &shard->async) != 0) {
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
    qs_hub_inbox_dispose(&shard->inbox);
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

  /* Everything up to the join is in history; everything after reaches the inbox. */
  shard->drained_seq = qs_hub_join(hub, &shard->inbox);
  *out = shard;
  return 0;
}

/* Leaves the fan-out and closes the handles once nothing is left to wait for. */
static void maybe_finish(qs_hub_shard_t *shard) {
  if (!shard->closing || shard->finishing || shard->depth > 0) return;
  if (shard->sub_count > 0 || shard->pending_publishes > 0) return;
  shard->finishing = true;
  qs_backlog_written(shard, true); /* what it still counts holds nobody back */
  qs_hub_part(shard->hub, &shard->inbox);
  /* Nobody pushes any more; release what is left (no publish of ours is
   * pending and nothing is dispatched). Depth keeps a callback from
   * draining again under us. */
  shard->depth++;
  drain_inbox(shard);
  shard->depth--;
  uv_timer_stop(&shard->timer);
  uv_close((uv_handle_t *)&shard->async, on_handle_closed);
  uv_close((uv_handle_t *)&shard->timer, on_handle_closed);
}

void qs_hub_shard_close(qs_hub_shard_t *shard, qs_hub_shard_on_close_fn on_close, void *ctx) {
  if (shard->closing) return;
  shard->closing = true;
  shard->on_close = on_close;
  shard->on_close_ctx = ctx;
  shard_enter(shard);
  qs_backlog_release(shard); /* closing: every waiting answer leaves */
  qs_subscribers_close_all(shard);
  shard_leave(shard);
}

void qs_hub_shard_written(qs_hub_shard_t *shard, bool all) {
  qs_backlog_written(shard, all);
  if (shard->depth > 0 || !qs_backlog_any(shard)) return;
  shard_enter(shard);
  qs_backlog_release(shard);
  shard_leave(shard);
}

/* ---- Publishing and awaiting a cursor (the work is hub.c's) ---- */

int qs_hub_publish(qs_hub_shard_t *shard, qs_update_t *update, qs_hub_on_published_fn on_published,
                   void *ctx) {
  if (!update || !on_published || update->seq != 0) return QS_EINVAL;
  if (shard->closing) return QS_ECLOSED;
  /* Counted first: the shard stays open until the answer has been drained. */
  shard->pending_publishes++;
  atomic_fetch_add_explicit(&shard->hub->publishes_in_flight, 1, memory_order_relaxed);
  int rc = qs_hub_sequence(shard->hub, &shard->inbox, update, on_published, ctx);
  if (rc < 0) {
    shard->pending_publishes--;
    atomic_fetch_sub_explicit(&shard->hub->publishes_in_flight, 1, memory_order_relaxed);
  }
  return rc;
}

int qs_hub_await_cursor(qs_hub_shard_t *shard, qs_slice_t last_event_id, qs_hub_on_cursor_fn on_ready,
                        void *ctx, bool *pending) {
  *pending = false;
  if (shard->closing) return QS_ECLOSED;
  /* Counted first, as a publish. */
  shard->pending_publishes++;
  int rc = qs_hub_await(shard->hub, &shard->inbox, last_event_id, on_ready, ctx, pending);
  if (rc < 0 || !*pending) shard->pending_publishes--;
  return rc;
}

/* ---- Subscribers' entry points (the work is subscriber.c's) ---- */

int qs_hub_subscribe(qs_hub_shard_t *shard, const qs_hub_subscribe_params_t *params, const qs_sink_t *sink,
                     qs_subscriber_t **out) {
  *out = NULL;
  if (!params || !sink || !sink->vtable || !params->matchers || params->matcher_count == 0 ||
      params->matcher_count > UINT32_MAX || !params->grants)
    return QS_EINVAL;
  if (shard->closing) return QS_ECLOSED;
  /* Catch up with the fan-out first, so that the subscriber's snapshot is as
   * fresh as possible: a cursor naming an update that is durable but not yet
   * dispatched here would otherwise be found beyond the snapshot and that
   * update delivered live again. */
  if (shard->depth == 0) {
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
  if (!sub) return;
  qs_hub_shard_t *shard = sub->shard;
  shard_enter(shard);
  qs_subscriber_release(sub);
  shard_leave(shard);
}
