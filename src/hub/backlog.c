/* Answers that wait for the fan-out backlog (hub.h, fanout_backlog).
 *
 * A publisher going flat out is answered as soon as its update is durable,
 * before the fan-out; without a bound it can publish far faster than the
 * workers write to a large audience, and each new update then waits behind
 * the fan-out of all those before it. So a successful publish's answer
 * waits, on the publishing shard, until at most fanout_backlog updates (its
 * own included) are left unwritten by some shard: the hub's written_min
 * (hub.c), raised as each shard reports its writes done
 * (qs_hub_shard_written). Connections that wait for their peer do not count
 * as unwritten, so one slow subscriber never throttles the publishers. At
 * low load the fan-out of the update before is long written and nothing
 * waits.
 *
 * A shard that holds answers sets its inbox's `awaiting`; a shard whose
 * progress raises written_min wakes those (their async handle), and the
 * woken shard releases what is now allowed. Answers keep their order, and
 * none waits longer than QS_BACKLOG_MAX_WAIT_MS.
 *
 * Dependencies: hub.c's written_min and settings; called by shard.c. */
#include <stdlib.h>
#include <string.h>

#include "hub/hub_internal.h"

struct qs_waiting_answer {
  qs_inbox_entry_t entry; /* holds a reference to its update */
  uint64_t since_ms;      /* loop time it started waiting */
};

void qs_hub_answer(qs_hub_shard_t *shard, qs_inbox_entry_t *e) {
  shard->pending_publishes--;
  if (e->rec->on_cursor)
    e->rec->on_cursor(e->rec->ctx, e->status);
  else
    e->rec->on_published(e->rec->ctx, e->update, e->status);
  free(e->rec);
}

/* True when `seq` would leave more than fanout_backlog updates unwritten. */
static bool beyond_backlog(const qs_hub_shard_t *shard, uint64_t seq) {
  uint64_t written = atomic_load(&shard->hub->written_min);
  return seq >= written + shard->hub->settings.fanout_backlog;
}

bool qs_backlog_holds(const qs_hub_shard_t *shard, const qs_inbox_entry_t *e) {
  if (shard->hub->settings.fanout_backlog == 0 || shard->closing || e->rec->on_cursor || e->status != 0 ||
      shard->hub->store_orders)
    return false;
  return qs_backlog_any(shard) || beyond_backlog(shard, e->update->seq);
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
  atomic_store(&shard->inbox.awaiting, true);
}

/* Answers waiting answers, oldest first, while `may_leave` allows. */
static void release(qs_hub_shard_t *shard,
                    bool (*may_leave)(const qs_hub_shard_t *, const struct qs_waiting_answer *)) {
  while (qs_backlog_any(shard)) {
    struct qs_waiting_answer *w = &shard->waiting[shard->waiting_head];
    if (!may_leave(shard, w)) return;
    shard->waiting_head++;
    qs_inbox_entry_t e = w->entry;
    qs_hub_answer(shard, &e);
    qs_update_release(e.update);
  }
  shard->waiting_head = shard->waiting_len = 0;
  /* A shard that raised written_min before this store sent no wake-up, and
   * nothing waits now that could miss it: the next keep sets it again and
   * its caller releases right after (drain, then qs_backlog_release). */
  atomic_store(&shard->inbox.awaiting, false);
}

static bool allowed(const qs_hub_shard_t *shard, const struct qs_waiting_answer *w) {
  return shard->closing || !beyond_backlog(shard, w->entry.update->seq);
}

static bool expired(const qs_hub_shard_t *shard, const struct qs_waiting_answer *w) {
  return allowed(shard, w) || shard->now_ms - w->since_ms >= QS_BACKLOG_MAX_WAIT_MS;
}

void qs_backlog_release(qs_hub_shard_t *shard) { release(shard, allowed); }

void qs_backlog_expire(qs_hub_shard_t *shard) { release(shard, expired); }

void qs_backlog_dispose(qs_hub_shard_t *shard) {
  free(shard->waiting);
  shard->waiting = NULL;
  shard->waiting_head = shard->waiting_len = shard->waiting_cap = 0;
}
