/* A shard's inbox: the queue through which the hub's fan-out, on whatever
 * thread the store reports from, hands updates and answers to the shard's
 * loop, in order. Pushing appends under the inbox's mutex and wakes the loop
 * when the inbox was empty; the loop takes everything at once by swapping
 * buffers, so the mutex is held for a few instructions per update.
 *
 * Dependencies: the bottom of hub/ beside the topic index (ARCHITECTURE.md,
 * the hub's files); calls no other file of hub/. */
#include <stdlib.h>

#include "base/error.h"
#include "base/log.h"
#include "hub/hub_internal.h"

int qs_hub_inbox_init(qs_hub_inbox_t *inbox, uv_async_t *wake) {
  *inbox = (qs_hub_inbox_t){.wake = wake};
  return pthread_mutex_init(&inbox->mutex, NULL) == 0 ? 0 : QS_ENOMEM;
}

void qs_hub_inbox_dispose(qs_hub_inbox_t *inbox) {
  free(inbox->entries);
  free(inbox->spare);
  pthread_mutex_destroy(&inbox->mutex);
  *inbox = (qs_hub_inbox_t){0};
}

void qs_hub_inbox_push(qs_hub_inbox_t *inbox, qs_update_t *update, qs_publish_rec_t *rec, int status,
                       bool deliver) {
  pthread_mutex_lock(&inbox->mutex);
  if (inbox->len == inbox->cap) {
    size_t cap = inbox->cap ? inbox->cap * 2 : 64;
    qs_inbox_entry_t *entries = realloc(inbox->entries, cap * sizeof *entries);
    if (!entries) {
      pthread_mutex_unlock(&inbox->mutex);
      /* Dropping an entry would break the order every shard relies on and
       * could strand a publisher: there is no safe way on. */
      QS_LOG_ERROR("out of memory in the hub's fan-out");
      abort();
    }
    inbox->entries = entries;
    inbox->cap = cap;
  }
  bool was_empty = inbox->len == 0;
  /* Counted in the backlog from now on when the shard's audience is large
   * (backlog.c settles it at the dispatch). */
  bool counted = deliver && atomic_load_explicit(&inbox->large_fanouts, memory_order_relaxed);
  if (counted) atomic_fetch_add(&inbox->unwritten, 1);
  inbox->entries[inbox->len++] =
      (qs_inbox_entry_t){update ? qs_update_retain(update) : NULL, rec, status, deliver, counted};
  pthread_mutex_unlock(&inbox->mutex);
  if (was_empty) uv_async_send(inbox->wake);
}

qs_inbox_batch_t qs_hub_inbox_take(qs_hub_inbox_t *inbox) {
  pthread_mutex_lock(&inbox->mutex);
  qs_inbox_batch_t batch = {inbox->entries, inbox->len, inbox->cap};
  inbox->entries = inbox->spare;
  inbox->cap = inbox->spare_cap;
  inbox->len = 0;
  pthread_mutex_unlock(&inbox->mutex);
  inbox->spare = NULL;
  inbox->spare_cap = 0;
  return batch;
}

void qs_hub_inbox_recycle(qs_hub_inbox_t *inbox, qs_inbox_batch_t batch) {
  /* Keep one buffer for the next swap (a take nested in the processing may
   * already have put one back). */
  if (inbox->spare) {
    free(batch.entries);
  } else {
    inbox->spare = batch.entries;
    inbox->spare_cap = batch.cap;
  }
}
