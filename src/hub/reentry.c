/* The re-entrancy guards of a shard: the nesting depth of the hub's entry
 * points, the flag of a walk in progress, and the list of subscribers whose
 * removal from the index and freeing wait for the outermost entry point to
 * leave. Why they exist, and who uses them: hub_internal.h, section
 * "Re-entrancy guards".
 *
 * Dependencies: reads and changes the shard's and the subscribers' guard
 * fields only, and calls no other file of hub/ (ARCHITECTURE.md, the hub's
 * files). Removing the guards means removing this file and its callers'
 * brackets. */
#include "hub/hub_internal.h"

void qs_hub_guard_enter(qs_hub_shard_t *shard) { shard->guard.depth++; }

bool qs_hub_guard_leave(qs_hub_shard_t *shard) { return --shard->guard.depth == 0; }

bool qs_hub_guard_entered(const qs_hub_shard_t *shard) { return shard->guard.depth > 0; }

void qs_hub_guard_walk_begin(qs_hub_shard_t *shard) { shard->guard.walking = true; }

void qs_hub_guard_walk_end(qs_hub_shard_t *shard) { shard->guard.walking = false; }

bool qs_hub_guard_walking(const qs_hub_shard_t *shard) { return shard->guard.walking; }

void qs_hub_guard_defer(qs_hub_shard_t *shard, qs_subscriber_t *sub) {
  if (sub->deferred) return;
  sub->deferred = true;
  sub->defer_next = shard->guard.deferred;
  shard->guard.deferred = sub;
}

qs_subscriber_t *qs_hub_guard_next_deferred(qs_hub_shard_t *shard) {
  qs_subscriber_t *sub = shard->guard.deferred;
  if (!sub) return NULL;
  shard->guard.deferred = sub->defer_next;
  sub->defer_next = NULL;
  sub->deferred = false;
  return sub;
}
