/* Resumes from an id this node has not read yet (redis_store.h): the id
 * index in Redis (`<stream>:ids`) says where the update is in the shared
 * order, and the resume waits until this node's reader has reached it. */
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "store/redis_store.h"

void qs_redis_await_done(qs_redis_lookup_t *l, int status) {
  l->done(l->done_ctx, status);
  free(l);
}

/* Answers the awaited resumes whose entry this node has read, and with
 * `status` < 0 all of them (shutting down), or with `now` set those waiting
 * longer than QS_REDIS_AWAIT_MS. */
void qs_redis_await_release(qs_redis_store_t *rs, int status, uint64_t now) {
  qs_redis_lookup_t **p = &rs->awaiting;
  while (*p) {
    qs_redis_lookup_t *l = *p;
    int answer = 1;
    if (qs_redis_sid_le(l->sid, rs->last_sid)) {
      answer = 0;
    } else if (status < 0) {
      answer = status;
    } else if (now && now - l->since_ms > QS_REDIS_AWAIT_MS) {
      QS_LOG_WARN(
          "redis: a resume from update %.*s waited %d ms for this node to read its entry; served "
          "with what this node has",
          (int)l->id_len, l->id, QS_REDIS_AWAIT_MS);
      answer = QS_EUNAVAILABLE;
    }
    if (answer > 0) {
      p = &l->next;
      continue;
    }
    *p = l->next;
    qs_redis_await_done(l, answer);
  }
}

/* The id index answered (HGET): the entry, nil, or nothing (connection lost). */
static void on_lookup(redisAsyncContext *ac, void *r, void *privdata) {
  qs_redis_store_t *rs = ((qs_redis_conn_t *)ac->data)->rs;
  qs_redis_lookup_t *l = privdata;
  redisReply *reply = r;
  if (!reply) {
    qs_redis_await_done(l, QS_EUNAVAILABLE);
  } else if (reply->type == REDIS_REPLY_NIL) {
    qs_redis_await_done(l, QS_ENOTFOUND);
  } else if (reply->type != REDIS_REPLY_STRING ||
             !qs_redis_stream_id_parse(qs_slice(reply->str, reply->len), &l->sid)) {
    QS_LOG_ERROR("redis: the id index %s gave no entry for a resume: %s", rs->index_key,
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "odd reply");
    qs_redis_await_done(l, QS_EUNAVAILABLE);
  } else if (qs_redis_sid_le(l->sid, rs->last_sid)) {
    qs_redis_await_done(l, 0); /* read already: the ring decides (it may have dropped it since) */
  } else {
    l->since_ms = uv_now(&rs->loop);
    l->next = rs->awaiting;
    rs->awaiting = l;
  }
}

void qs_redis_await_send(qs_redis_store_t *rs, qs_redis_lookup_t *l) {
  if (!rs->cmd.ready ||
      redisAsyncCommand(rs->cmd.ac, on_lookup, l, "HGET %s %b", rs->index_key, l->id, l->id_len) != REDIS_OK)
    qs_redis_await_done(l, QS_EUNAVAILABLE);
}

static bool replay_nothing(void *ctx, qs_update_t *update) {
  (void)ctx, (void)update;
  return false;
}

int qs_redis_await_id(qs_store_t *store, qs_slice_t id, qs_store_on_awaited_fn done, void *ctx,
                      bool *pending) {
  qs_redis_store_t *rs = (qs_redis_store_t *)store;
  *pending = false;
  if (id.len == 0 || qs_slice_eq_cstr(id, "earliest")) return 0;
  /* Known here: the ring serves the resume (up to seq 0: nothing is replayed). */
  if (qs_store_replay(rs->ring, id, 0, replay_nothing, NULL) != QS_ENOTFOUND) return 0;
  if (!atomic_load_explicit(&rs->connected, memory_order_acquire)) return 0;
  qs_redis_lookup_t *l = malloc(sizeof *l + id.len);
  if (!l) return QS_ENOMEM;
  *l = (qs_redis_lookup_t){.done = done, .done_ctx = ctx, .id_len = id.len};
  memcpy(l->id, id.ptr, id.len);
  pthread_mutex_lock(&rs->mutex);
  if (rs->stopping) {
    pthread_mutex_unlock(&rs->mutex);
    free(l);
    return QS_ECLOSED;
  }
  l->next = rs->lookups;
  rs->lookups = l;
  pthread_mutex_unlock(&rs->mutex);
  uv_async_send(&rs->wake);
  *pending = true;
  return 0;
}
