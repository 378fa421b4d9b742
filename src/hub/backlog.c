/* Answers that wait for the fan-out backlog (hub.h, fanout_backlog).
 *
 * A publisher going flat out is answered as soon as its update is durable,
 * before the fan-out; without a bound it can publish far faster than the
 * workers write to a large audience, and each new update then waits behind
 * the fan-out of all those before it. So each shard's inbox counts in
 * `unwritten` its large fan-outs (QS_BACKLOG_LARGE_FANOUT deliveries or more
 * on the shard) not yet written: from their dispatch, or from their push
 * into the inbox while the shard's last fan-out was large (a shard busy
 * writing drains its inbox late, and that is backlog too), until its
 * transport reports them written (qs_hub_shard_written: what was given
 * before its previous report, or everything). A successful publish's answer
 * waits, on the publishing shard, while some shard's `unwritten` is
 * fanout_backlog or more (the publish's own update included), on top of one
 * per other publish in flight. Connections that wait for their peer do not
 * count as unwritten, so one slow subscriber never throttles the
 * publishers; small fan-outs (one subscriber per topic) never count, and at
 * low load every fan-out is written before the next publish.
 *
 * A shard that holds answers sets its inbox's `awaiting` and wakes the
 * others: while any answer waits, the transports stop holding writes back
 * for coalescing (qs_hub_shard_answers_wait), since the answers wait for
 * exactly those writes. A shard whose writes lower `unwritten` wakes the
 * others while any shard awaits, and a woken shard releases what is now
 * allowed. Answers keep their order, and none waits longer than
 * QS_BACKLOG_MAX_WAIT_MS.
 *
 * Dependencies: hub.c (the counters, settings and wake-ups); called by
 * shard.c. */
#include <stdlib.h>
#include <string.h>

#include "hub/hub_internal.h"

struct qs_waiting_answer {
  qs_inbox_entry_t entry; /* holds a reference to its update */
  uint64_t since_ms;      /* loop time it started waiting */
};

void qs_hub_answer(qs_hub_shard_t *shard, qs_inbox_entry_t *e) {
  shard->pending_publishes--;
  if (e->rec->on_cursor) {
    e->rec->on_cursor(e->rec->ctx, e->status);
  } else {
    atomic_fetch_sub_explicit(&shard->hub->publishes_in_flight, 1, memory_order_relaxed);
    e->rec->on_published(e->rec->ctx, e->update, e->status);
  }
  free(e->rec);
}

/* True when answering now would leave more updates unwritten on some shard
 * than fanout_backlog allows (the publish's own included), on top of one per
 * other publish in flight: concurrent publishers each keep one update in the
 * system, as they would if every answer came after the fan-out, and only
 * what they would run ahead of that is bounded. */
static bool beyond_backlog(const qs_hub_shard_t *shard) {
  qs_hub_t *hub = shard->hub;
  uint64_t in_flight = atomic_load_explicit(&hub->publishes_in_flight, memory_order_relaxed);
  uint64_t allowed = hub->settings.fanout_backlog + (in_flight ? in_flight - 1 : 0);
  return qs_hub_most_unwritten(hub) >= allowed;
}

bool qs_backlog_holds(const qs_hub_shard_t *shard, const qs_inbox_entry_t *e) {
  if (shard->hub->settings.fanout_backlog == 0 || shard->closing || e->rec->on_cursor || e->status != 0 ||
      shard->hub->store_orders)
    return false;
  return qs_backlog_any(shard) || beyond_backlog(shard);
}

bool qs_backlog_any(const qs_hub_shard_t *shard) { return shard->waiting_head < shard->waiting_len; }

/* Makes room for one more waiting answer; false when memory runs out. */
static bool make_room(qs_hub_shard_t *shard) {
  if (shard->waiting_len < shard->waiting_cap) return true;
  if (shard->waiting_head > 0) {
    shard->waiting_len -= shard->waiting_head;
    memmove(shard->waiting, shard->waiting + shard->waiting_head,
            shard->waiting_len * sizeof *shard->waiting);
    shard->waiting_head = 0;
    return true;
  }
  size_t cap = shard->waiting_cap ? shard->waiting_cap * 2 : 16;
  struct qs_waiting_answer *grown = realloc(shard->waiting, cap * sizeof *grown);
  if (!grown) return false;
  shard->waiting = grown;
  shard->waiting_cap = cap;
  return true;
}

void qs_backlog_keep(qs_hub_shard_t *shard, const qs_inbox_entry_t *e) {
  if (!make_room(shard)) {
    /* Answering now only lets the backlog grow: better than stranding a publisher. */
    qs_inbox_entry_t now = *e;
    qs_hub_answer(shard, &now);
    return;
  }
  shard->waiting[shard->waiting_len++] = (struct qs_waiting_answer){.entry = *e, .since_ms = shard->now_ms};
  qs_update_retain(e->update);
  atomic_fetch_add_explicit(&shard->hub->backlog_waits_total, 1, memory_order_relaxed);
  if (!atomic_exchange(&shard->inbox.awaiting, true)) {
    /* The other workers stop holding writes back for coalescing
     * (qs_hub_shard_answers_wait): the answers wait for those writes. */
    atomic_fetch_add(&shard->hub->awaiting_shards, 1);
    qs_hub_wake_others(shard->hub, &shard->inbox);
  }
}

/* Answers the waiting answers, oldest first, while the backlog allows (all
 * of them once the shard closes), or, with `expire`, while they have waited
 * QS_BACKLOG_MAX_WAIT_MS. */
static void release(qs_hub_shard_t *shard, bool expire) {
  while (qs_backlog_any(shard)) {
    struct qs_waiting_answer *w = &shard->waiting[shard->waiting_head];
    bool leaves = shard->closing || !beyond_backlog(shard) ||
                  (expire && shard->now_ms - w->since_ms >= QS_BACKLOG_MAX_WAIT_MS);
    if (!leaves) return;
    shard->waiting_head++;
    qs_inbox_entry_t e = w->entry;
    qs_hub_answer(shard, &e);
    qs_update_release(e.update);
  }
  shard->waiting_head = shard->waiting_len = 0;
  /* Nothing waits: the next keep sets `awaiting` again, and its caller
   * releases right after (drain, then qs_backlog_release), which sees any
   * writes reported before. */
  if (atomic_exchange(&shard->inbox.awaiting, false)) atomic_fetch_sub(&shard->hub->awaiting_shards, 1);
}

void qs_backlog_release(qs_hub_shard_t *shard) { release(shard, false); }

void qs_backlog_expire(qs_hub_shard_t *shard) { release(shard, true); }

void qs_backlog_dispatched(qs_hub_shard_t *shard, const qs_inbox_entry_t *e, uint64_t deliveries) {
  bool large =
      deliveries >= QS_BACKLOG_LARGE_FANOUT && !shard->finishing && shard->hub->settings.fanout_backlog;
  if (large != atomic_load_explicit(&shard->inbox.large_fanouts, memory_order_relaxed))
    atomic_store_explicit(&shard->inbox.large_fanouts, large, memory_order_relaxed);
  if (large) {
    if (!e->counted) atomic_fetch_add(&shard->inbox.unwritten, 1);
    shard->unwritten_since++; /* until its writes are reported */
  } else if (e->counted) {
    atomic_fetch_sub(&shard->inbox.unwritten, 1);
  }
}

void qs_backlog_written(qs_hub_shard_t *shard, bool all) {
  uint64_t written = shard->unwritten_before + (all ? shard->unwritten_since : 0);
  shard->unwritten_before = all ? 0 : shard->unwritten_since;
  shard->unwritten_since = 0;
  if (!written) return;
  atomic_fetch_sub(&shard->inbox.unwritten, written);
  if (atomic_load(&shard->hub->awaiting_shards) > 0) qs_hub_wake_others(shard->hub, &shard->inbox);
}

bool qs_hub_shard_answers_wait(const qs_hub_shard_t *shard) {
  return atomic_load_explicit(&shard->hub->awaiting_shards, memory_order_relaxed) > 0;
}

void qs_backlog_dispose(qs_hub_shard_t *shard) {
  free(shard->waiting);
  shard->waiting = NULL;
  shard->waiting_head = shard->waiting_len = shard->waiting_cap = 0;
}
