/* Publishes of the Redis transport (redis_store.h): the vtable's publish
 * queues the update for the store's thread, which sends what queued as one
 * call of the publish script (then WAIT when replicas are required) and
 * answers each publisher once Redis replied and this node's reader has read
 * its entry. */
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/error.h"
#include "base/log.h"
#include "store/redis_internal.h"
#include "store/redis_store.h"

typedef qs_redis_store_t redis_store_t;
typedef qs_redis_op_t op_t;
typedef qs_redis_conn_t conn_t;

/* The publish script: the appends, the id index and the trimming in one
 * atomic step, so no crash or concurrent publish can see half of it. One
 * call appends a batch of updates, in order (the publishes that queued
 * while the store's thread was busy): under load Redis runs the script, and
 * reads a command and writes a reply, once per batch rather than once per
 * update.
 *
 * KEYS[1]: the stream; KEYS[2]: the id index, a hash from each update id to
 * the stream entry of its earliest retained occurrence; KEYS[3]: the bytes
 * the stream's entries hold (field names and values). ARGV[1..3]: most
 * entries, most age in ms (against Redis' clock), most bytes ("0": no
 * bound); then, for each update of the batch, the number of its entry's
 * field/value slots followed by the pairs, the update id first.
 *
 * Trimming is exact and drops the index entries of what it drops; the
 * batch's own entries are always kept (a bound may be passed by a batch
 * until the next call), so that no node's reader can miss an acknowledged
 * update. It removes at most TRIM_MAX entries per call, more than a batch
 * holds (BATCH_MAX), so lowering a bound on a long stream never stalls
 * Redis and the next publishes finish the job. Returns the new entries'
 * ids, in the batch's order. */
#define TRIM_MAX "1000"
const char qs_redis_publish_script[] =
    "local stream, index, sizes = KEYS[1], KEYS[2], KEYS[3]\n"
    "local max_count, max_age, max_bytes = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local sids, size, i, last = {}, 0, 4, #ARGV\n"
    "while i <= last do\n"
    "  local n = tonumber(ARGV[i])\n"
    "  for j = i + 1, i + n do size = size + #ARGV[j] end\n"
    "  local sid = redis.call('XADD', stream, '*', unpack(ARGV, i + 1, i + n))\n"
    "  redis.call('HSETNX', index, ARGV[i + 2], sid)\n"
    "  sids[#sids + 1] = sid\n"
    "  i = i + n + 1\n"
    "end\n"
    "local len = redis.call('XLEN', stream)\n"
    "local bytes\n"
    "if len == #sids then redis.call('SET', sizes, size); bytes = size\n"
    "else bytes = redis.call('INCRBY', sizes, size) end\n"
    "local budget = " TRIM_MAX
    "\n"
    "local function drop(e)\n"
    "  local f, n, uid = e[2], 0, nil\n"
    "  for j = 1, #f, 2 do\n"
    "    n = n + #f[j] + #f[j + 1]\n"
    "    if uid == nil and f[j] == 'id' then uid = f[j + 1] end\n"
    "  end\n"
    "  if uid ~= nil and redis.call('HGET', index, uid) == e[1] then redis.call('HDEL', index, uid) end\n"
    "  redis.call('XDEL', stream, e[1])\n"
    "  bytes = redis.call('DECRBY', sizes, n)\n"
    "  len = len - 1\n"
    "  budget = budget - 1\n"
    "end\n"
    "local keep = math.max(max_count, #sids)\n"
    "if max_count > 0 and len > keep then\n"
    "  for _, e in ipairs(redis.call('XRANGE', stream, '-', '+', 'COUNT', math.min(len - keep, budget))) do\n"
    "    drop(e)\n"
    "  end\n"
    "end\n"
    "if max_age > 0 and len > #sids and budget > 0 then\n"
    "  local t = redis.call('TIME')\n"
    "  local floor = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - max_age\n"
    "  if floor > 0 then\n"
    "    for _, e in ipairs(redis.call('XRANGE', stream, '-', string.format('%.0f', floor - 1), 'COUNT',\n"
    "                                  math.min(len - #sids, budget))) do\n"
    "      drop(e)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "while max_bytes > 0 and bytes > max_bytes and len > #sids and budget > 0 do\n"
    "  drop(redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1])\n"
    "end\n"
    "return sids\n";

/* Answers the publisher. */
static void op_answer(redis_store_t *rs, op_t *op) {
  if (op->status == 0)
    atomic_fetch_add_explicit(&rs->publishes, 1, memory_order_relaxed);
  else
    atomic_fetch_add_explicit(&rs->failures, 1, memory_order_relaxed);
  op->done(op->done_ctx, op->update, op->status);
  qs_update_release(op->update);
  free(op);
}

/* Answers an op that never reached Redis. */
void qs_redis_publish_fail(redis_store_t *rs, op_t *op, int status) {
  op->status = status;
  atomic_fetch_add_explicit(&rs->failures, 1, memory_order_relaxed);
  op->done(op->done_ctx, op->update, op->status);
  qs_update_release(op->update);
  free(op);
}

/* Answers the stored publishes this node has read, and with `all` (or
 * those older than QS_REDIS_STALL_MS when `now` is set) the others too: they
 * are in Redis either way, the wait only gives read-your-writes on this node. */
void qs_redis_publish_release(redis_store_t *rs, bool all, uint64_t now) {
  while (rs->stored) {
    op_t *op = rs->stored;
    bool read = qs_redis_sid_le(op->sid, rs->last_sid);
    if (!read && !all && !(now && now - op->sent_ms > QS_REDIS_STALL_MS)) break;
    rs->stored = op->next;
    if (!rs->stored) rs->stored_tail = NULL;
    op_answer(rs, op);
  }
}

/* The last reply of an op came: answer it, or wait for the reader. */
static void op_complete(redis_store_t *rs, op_t *op) {
  /* Replies come in order, so the completed op is the oldest in flight. */
  op_t **p = &rs->inflight, *prev = NULL;
  while (*p && *p != op) {
    prev = *p;
    p = &(*p)->next;
  }
  if (*p) {
    *p = op->next;
    if (rs->inflight_tail == op) rs->inflight_tail = prev;
  }
  op->next = NULL;
  if (op->status < 0 || rs->shutting_down || qs_redis_sid_le(op->sid, rs->last_sid)) {
    op_answer(rs, op);
    return;
  }
  if (rs->stored_tail)
    rs->stored_tail->next = op;
  else
    rs->stored = op;
  rs->stored_tail = op;
}

static void op_reply(redis_store_t *rs, op_t *op, int status) {
  if (status < 0 && op->status == 0) op->status = status;
  if (--op->replies == 0) op_complete(rs, op);
}

/* Most publishes in one script call, and the bytes of updates past which a
 * batch takes no more (one larger update still goes alone). A batch is what
 * queued while the store's thread was busy; nothing waits for company, so
 * a lone publish goes at once. */
#define BATCH_MAX 64
#define BATCH_MAX_BYTES (256 * 1024)
/* The command buffer kept between batches (bytes); a larger one is freed. */
#define COMMAND_KEEP (1024 * 1024)

/* The publishes of one script call, in the order the script appends them. */
typedef struct {
  int pending; /* callbacks still to come: the script's reply, and WAIT's */
  size_t count;
  op_t *ops[];
} batch_t;

static void batch_release(batch_t *b) {
  if (--b->pending == 0) free(b);
}

static void on_eval(redisAsyncContext *ac, void *r, void *privdata) {
  redis_store_t *rs = ((conn_t *)ac->data)->rs;
  batch_t *b = privdata;
  redisReply *reply = r;
  const qs_update_t *first = b->ops[0]->update;
  /* No reply: the connection went down with the batch in flight. Redis may
   * or may not have it, so none of it is acknowledged (a retry with the same
   * id is the publisher's way on). */
  int status = reply ? 0 : QS_EUNAVAILABLE;
  if (reply && reply->type == REDIS_REPLY_ERROR) {
    QS_LOG_ERROR("redis: publish of %zu update(s) from %.*s on refused: %s", b->count, (int)first->id.len,
                 first->id.ptr, reply->str);
    /* NOSCRIPT: the script cache was flushed; a new connection loads it
     * again. READONLY: the primary was demoted; a new connection finds the
     * new one. */
    if (strncmp(reply->str, "NOSCRIPT", 8) == 0 || strncmp(reply->str, "READONLY", 8) == 0)
      redisAsyncDisconnect(ac);
    status = QS_EUNAVAILABLE;
  } else if (reply && (reply->type != REDIS_REPLY_ARRAY || reply->elements != b->count)) {
    QS_LOG_ERROR("redis: the publish script gave no entry ids for the %zu update(s) from %.*s on", b->count,
                 (int)first->id.len, first->id.ptr);
    status = QS_EUNAVAILABLE;
  }
  for (size_t i = 0; i < b->count; i++) {
    op_t *op = b->ops[i];
    int op_status = status;
    if (status == 0) {
      const redisReply *e = reply->element[i];
      if (e->type != REDIS_REPLY_STRING || !qs_redis_stream_id_parse(qs_slice(e->str, e->len), &op->sid)) {
        QS_LOG_ERROR("redis: the publish script gave no entry id for update %.*s", (int)op->update->id.len,
                     op->update->id.ptr);
        op_status = QS_EUNAVAILABLE;
      }
    }
    op_reply(rs, op, op_status);
  }
  batch_release(b);
}

static void on_wait(redisAsyncContext *ac, void *r, void *privdata) {
  redis_store_t *rs = ((conn_t *)ac->data)->rs;
  batch_t *b = privdata;
  redisReply *reply = r;
  int status = 0;
  if (!reply) {
    status = QS_EUNAVAILABLE;
  } else if (reply->type != REDIS_REPLY_INTEGER || reply->integer < (long long)rs->settings.wait_replicas) {
    const qs_update_t *first = b->ops[0]->update;
    QS_LOG_ERROR(
        "redis: %zu update(s) from %.*s on reached %lld of the %u replicas required within %u ms; not "
        "acknowledged",
        b->count, (int)first->id.len, first->id.ptr,
        reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1LL, rs->settings.wait_replicas,
        rs->settings.wait_timeout_ms);
    status = QS_EUNAVAILABLE;
  }
  for (size_t i = 0; i < b->count; i++) op_reply(rs, b->ops[i], status);
  batch_release(b);
}

/* Fails the queued publishes from `ops` up to `rest` (not included) with
 * `status`; returns `rest`. */
static op_t *fail_until(redis_store_t *rs, op_t *ops, op_t *rest, int status) {
  while (ops != rest) {
    op_t *op = ops;
    ops = op->next;
    qs_redis_publish_fail(rs, op, status);
  }
  return rest;
}

/* Appends one RESP bulk string ("$<len>\r\n<bytes>\r\n") to the command. */
static int append_bulk(qs_buf_t *cmd, const char *ptr, size_t len) {
  char head[32];
  int n = snprintf(head, sizeof head, "$%zu\r\n", len);
  if (qs_buf_reserve(cmd, (size_t)n + len + 2) < 0) return QS_ENOMEM;
  char *at = cmd->ptr + cmd->len;
  memcpy(at, head, (size_t)n);
  memcpy(at + n, ptr, len);
  memcpy(at + n + len, "\r\n", 3); /* keeps the buffer NUL-terminated */
  cmd->len += (size_t)n + len + 2;
  return 0;
}

/* Room left before the command for its array header ("*<count>\r\n"). */
#define HEADER_ROOM 24

/* Writes the script call for the updates of ops up to `rest` into rs->command
 * as RESP and points `out` at it; false when out of memory. The arguments go
 * after HEADER_ROOM bytes, and the array header, whose length depends on
 * their count, is written just before them once they are known. hiredis
 * copies the finished command into its output buffer. */
static bool format_call(redis_store_t *rs, op_t *ops, const op_t *rest, qs_slice_t *out) {
  qs_buf_t *cmd = &rs->command;
  qs_buf_reset(cmd);
  if (qs_buf_reserve(cmd, HEADER_ROOM) < 0) return false;
  cmd->len = HEADER_ROOM;
  const char *fixed[] = {"EVALSHA",     rs->sha,       "3",         rs->stream,   rs->index_key,
                         rs->sizes_key, rs->max_count, rs->max_age, rs->max_bytes};
  size_t n = 0;
  for (; n < sizeof fixed / sizeof fixed[0]; n++)
    if (append_bulk(cmd, fixed[n], strlen(fixed[n])) < 0) return false;
  for (op_t *op = ops; op != rest; op = op->next) {
    const qs_update_t *u = op->update;
    size_t cap = QS_REDIS_ENTRY_FIXED_FIELDS + 2 * u->topic_count;
    if (cap > rs->encode_cap) {
      const char **argv = realloc(rs->encode_argv, cap * sizeof *argv);
      if (argv) rs->encode_argv = argv;
      size_t *lens = argv ? realloc(rs->encode_lens, cap * sizeof *lens) : NULL;
      if (!lens) return false;
      rs->encode_lens = lens;
      rs->encode_cap = cap;
    }
    char numbers[48], slots[24];
    /* The script takes the update id from the second slot: the encoding starts with it. */
    size_t k = qs_redis_entry_encode(u, rs->encode_argv, rs->encode_lens, rs->encode_cap, numbers);
    int slots_len = snprintf(slots, sizeof slots, "%zu", k);
    if (append_bulk(cmd, slots, (size_t)slots_len) < 0) return false;
    for (size_t j = 0; j < k; j++)
      if (append_bulk(cmd, rs->encode_argv[j], rs->encode_lens[j]) < 0) return false;
    n += 1 + k;
  }
  char header[HEADER_ROOM];
  int header_len = snprintf(header, sizeof header, "*%zu\r\n", n);
  memcpy(cmd->ptr + HEADER_ROOM - header_len, header, (size_t)header_len);
  *out = qs_slice(cmd->ptr + HEADER_ROOM - header_len, cmd->len - HEADER_ROOM + (size_t)header_len);
  return true;
}

/* Sends the first publishes of the chain `ops` (oldest first) as one script
 * call, then WAIT when replicas are required; returns the rest of the chain. */
op_t *qs_redis_publish_send(redis_store_t *rs, op_t *ops) {
  size_t count = 0, bytes = 0;
  op_t *rest = ops;
  while (rest && count < BATCH_MAX && (count == 0 || bytes < BATCH_MAX_BYTES)) {
    const qs_update_t *u = rest->update;
    bytes += u->data.len + u->id.len + u->type.len;
    for (size_t t = 0; t < u->topic_count; t++) bytes += u->topics[t].len;
    count++;
    rest = rest->next;
  }
  batch_t *b = malloc(sizeof *b + count * sizeof b->ops[0]);
  qs_slice_t call;
  if (!b || !format_call(rs, ops, rest, &call)) {
    free(b);
    return fail_until(rs, ops, rest, QS_ENOMEM);
  }
  size_t i = 0;
  for (op_t *op = ops; op != rest; op = op->next) b->ops[i++] = op;
  b->count = count;
  b->pending = 1;
  int rc = redisAsyncFormattedCommand(rs->cmd.ac, on_eval, b, call.ptr, call.len);
  /* A large batch leaves a large buffer: give it back rather than keep it. */
  if (rs->command.cap > COMMAND_KEEP) {
    qs_buf_dispose(&rs->command);
    qs_buf_init(&rs->command, SIZE_MAX);
  }
  if (rc != REDIS_OK) {
    free(b);
    return fail_until(rs, ops, rest, QS_EUNAVAILABLE);
  }
  bool waits = rs->settings.wait_replicas > 0 &&
               redisAsyncCommand(rs->cmd.ac, on_wait, b, "WAIT %u %u", rs->settings.wait_replicas,
                                 rs->settings.wait_timeout_ms) == REDIS_OK;
  if (waits) b->pending = 2;
  uint64_t now = uv_now(&rs->loop);
  while (ops != rest) {
    op_t *op = ops;
    ops = op->next;
    op->replies = waits ? 2 : 1;
    if (rs->settings.wait_replicas > 0 && !waits) op->status = QS_EUNAVAILABLE;
    op->sent_ms = now;
    op->next = NULL;
    if (rs->inflight_tail)
      rs->inflight_tail->next = op;
    else
      rs->inflight = op;
    rs->inflight_tail = op;
  }
  return rest;
}

int qs_redis_publish(qs_store_t *store, qs_update_t *update, qs_store_on_published_fn done, void *ctx) {
  redis_store_t *rs = (redis_store_t *)store;
  /* Refused at once when Redis is known to be away: the publisher hears why
   * now rather than after a timeout. */
  if (!atomic_load_explicit(&rs->connected, memory_order_acquire)) return QS_EUNAVAILABLE;
  op_t *op = calloc(1, sizeof *op);
  if (!op) return QS_ENOMEM;
  op->update = qs_update_retain(update);
  op->done = done;
  op->done_ctx = ctx;
  pthread_mutex_lock(&rs->mutex);
  if (rs->stopping) {
    pthread_mutex_unlock(&rs->mutex);
    qs_update_release(update);
    free(op);
    return QS_ECLOSED;
  }
  bool was_empty = rs->queue == NULL;
  if (rs->queue_tail)
    rs->queue_tail->next = op;
  else
    rs->queue = op;
  rs->queue_tail = op;
  pthread_mutex_unlock(&rs->mutex);
  if (was_empty) uv_async_send(&rs->wake);
  return 0;
}
