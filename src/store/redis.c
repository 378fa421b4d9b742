/* The Redis transport (redis.h): publishes through one Lua script, every
 * node reading the stream on its own connection, a memory ring per node for
 * replays. Everything Redis happens on the store's thread, on a libuv loop of
 * its own, through hiredis' asynchronous API and the adapter of
 * redis_libuv.h.
 *
 * The state and the threads' rules are in redis_store.h; publishes (the
 * script, batches, answering publishers) are in redis_publish.c, resumes from
 * an id this node has not read in redis_await.c, node heartbeats in
 * redis_nodes.c, finding the primary through Sentinel in redis_sentinel.c. */
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "base/error.h"
#include "base/log.h"
#include "store/redis.h"
#include "store/redis_internal.h"
#include "store/redis_libuv.h"
#include "store/redis_store.h"

typedef qs_redis_store_t redis_store_t;
typedef qs_redis_op_t op_t;
typedef qs_redis_conn_t conn_t;

static void conn_start(conn_t *c);
static void conn_drop(conn_t *c, const char *why);
static void send_read(redis_store_t *rs);
static void on_stream_end(redisAsyncContext *ac, void *r, void *privdata);

/* Entries per XREAD, and how long one blocks waiting for new ones. */
#define READ_COUNT 512
#define READ_BLOCK_MS 2000
/* Unused read buffer a connection keeps between replies (bytes). */
#define READ_BUFFER_KEEP (1024 * 1024)
#define STALL_MS QS_REDIS_STALL_MS
#define TICK_MS QS_REDIS_TICK_MS
/* A connection attempt that has not completed in time is abandoned (a host
 * that drops the SYN answers nothing; a refused connect fails at once). */
#define CONNECT_TIMEOUT_MS 1000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

/* ---- Reading the stream ---- */

static void signal_started(redis_store_t *rs) {
  pthread_mutex_lock(&rs->mutex);
  if (!rs->started) {
    rs->started = true;
    pthread_cond_broadcast(&rs->started_cond);
  }
  pthread_mutex_unlock(&rs->mutex);
}

/* Hands one entry to the ring (which tells the hub). */
static void take_entry(redis_store_t *rs, const redisReply *entry) {
  if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
      entry->element[0]->type != REDIS_REPLY_STRING)
    return;
  const redisReply *id = entry->element[0], *kv = entry->element[1];
  size_t idlen = id->len < sizeof rs->last_id ? id->len : sizeof rs->last_id - 1;
  memcpy(rs->last_id, id->str, idlen);
  rs->last_id[idlen] = '\0';
  if (!qs_redis_stream_id_parse(qs_slice(id->str, id->len), &rs->last_sid))
    QS_LOG_WARN("redis: odd stream entry id %s", rs->last_id);
  if (kv->type != REDIS_REPLY_ARRAY) return;
  size_t count = kv->elements / 2;
  if (count * 2 > rs->pairs_cap) {
    qs_slice_t *pairs = realloc(rs->pairs, count * 2 * sizeof *pairs);
    if (!pairs) {
      QS_LOG_ERROR("redis: out of memory reading entry %s; skipped", rs->last_id);
      return;
    }
    rs->pairs = pairs;
    rs->pairs_cap = count * 2;
  }
  for (size_t i = 0; i < count; i++) {
    const redisReply *f = kv->element[2 * i], *v = kv->element[2 * i + 1];
    rs->pairs[i] = f->type == REDIS_REPLY_STRING ? qs_slice(f->str, f->len) : qs_slice("", 0);
    rs->pairs[count + i] = v->type == REDIS_REPLY_STRING ? qs_slice(v->str, v->len) : qs_slice("", 0);
  }
  qs_update_t *update = NULL;
  const char *reason = "";
  int rc = qs_redis_entry_decode(rs->pairs, rs->pairs + count, count, &update, &reason);
  if (rc < 0) {
    QS_LOG_WARN("redis: stream entry %s skipped: %s", rs->last_id,
                rc == QS_EPARSE ? reason : qs_strerror(rc));
    return;
  }
  update->seq = ++rs->next_seq;
  rc = qs_store_append(rs->ring, update);
  if (rc < 0) QS_LOG_ERROR("redis: entry %s not kept for replay: %s", rs->last_id, qs_strerror(rc));
  qs_update_release(update);
}

static void on_read(redisAsyncContext *ac, void *r, void *privdata) {
  (void)privdata;
  conn_t *c = ac->data;
  redis_store_t *rs = c->rs;
  redisReply *reply = r;
  rs->read_pending = false;
  if (!reply) return; /* disconnected: the reconnection reads on from last_id */
  if (reply->type == REDIS_REPLY_ERROR) {
    QS_LOG_ERROR("redis: reading stream %s failed: %s", rs->stream, reply->str);
    atomic_store(&rs->reason, "reading the stream failed (see the log)");
    redisAsyncDisconnect(ac);
    return;
  }
  if (!c->ready) {
    c->ready = true;
    c->backoff_ms = 0;
    if (c->ever_ready) {
      atomic_fetch_add_explicit(&rs->reconnects, 1, memory_order_relaxed);
      QS_LOG_INFO("redis: reading stream %s again from %s", rs->stream, rs->last_id);
    }
    c->ever_ready = true;
    c->warned = false;
  }
  size_t taken = 0;
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1) {
    const redisReply *s = reply->element[0];
    if (s->type == REDIS_REPLY_ARRAY && s->elements == 2 && s->element[1]->type == REDIS_REPLY_ARRAY) {
      const redisReply *entries = s->element[1];
      for (size_t i = 0; i < entries->elements; i++) take_entry(rs, entries->element[i]);
      taken = entries->elements;
    }
  }
  qs_redis_publish_release(rs, false, 0);
  qs_redis_await_release(rs, 0, 0);
  if (taken < READ_COUNT) {
    atomic_store(&rs->caught_up, true);
    signal_started(rs);
  } else {
    atomic_store(&rs->caught_up, false);
  }
  /* Block only once caught up: a full batch means more is waiting. */
  rs->read_block = taken < READ_COUNT;
  if (!rs->shutting_down) send_read(rs);
}

static void send_read(redis_store_t *rs) {
  if (!rs->rd.ac || rs->read_pending) return;
  const char *argv[] = {"XREAD", "COUNT", "512", "BLOCK", "2000", "STREAMS", rs->stream, rs->last_id};
  size_t lens[] = {5, 5, 3, 5, 4, 7, strlen(rs->stream), strlen(rs->last_id)};
  _Static_assert(READ_COUNT == 512 && READ_BLOCK_MS == 2000, "the XREAD arguments spell these");
  /* Without BLOCK while catching up (the first read of a connection, or
   * after a full batch): Redis answers at once, even with nothing new. */
  if (!rs->read_block) {
    argv[3] = "STREAMS", lens[3] = 7;
    argv[4] = rs->stream, lens[4] = strlen(rs->stream);
    argv[5] = rs->last_id, lens[5] = strlen(rs->last_id);
  }
  if (redisAsyncCommandArgv(rs->rd.ac, on_read, NULL, rs->read_block ? 8 : 6, argv, lens) == REDIS_OK) {
    rs->read_pending = true;
    rs->read_sent_ms = uv_now(&rs->loop);
  }
}

/* The read connection's first reply: the stream's last entry. A stream
 * that ends before the last entry this node read has lost entries: a
 * failover to a replica that lacked the newest (unacknowledged) ones, or a
 * Redis restarted without its data. New entries may then get ids below
 * what this node read (the new primary's clock, or an empty stream's), so
 * the reader goes on from the stream's end: everything up to it was read
 * already (a replica holds a prefix of its primary's stream), nothing new
 * is skipped. */
static void on_stream_end(redisAsyncContext *ac, void *r, void *privdata) {
  (void)privdata;
  conn_t *c = ac->data;
  redis_store_t *rs = c->rs;
  redisReply *reply = r;
  if (!reply || c->ac != ac) return;
  if (reply->type == REDIS_REPLY_ARRAY) {
    qs_redis_stream_id_t end = {0, 0};
    char end_id[sizeof rs->last_id] = "0-0";
    const redisReply *e = reply->elements == 1 ? reply->element[0] : NULL;
    bool ok = reply->elements == 0;
    if (e && e->type == REDIS_REPLY_ARRAY && e->elements == 2 && e->element[0]->type == REDIS_REPLY_STRING &&
        e->element[0]->len < sizeof end_id &&
        qs_redis_stream_id_parse(qs_slice(e->element[0]->str, e->element[0]->len), &end)) {
      memcpy(end_id, e->element[0]->str, e->element[0]->len);
      end_id[e->element[0]->len] = '\0';
      ok = true;
    }
    if (ok && !qs_redis_sid_le(rs->last_sid, end)) {
      QS_LOG_WARN(
          "redis: stream %s ends at %s, before the last entry this node read (%s): entries were lost "
          "(a failover to a replica that lacked them, or Redis restarted without its data); reading "
          "on from its end",
          rs->stream, end_id, rs->last_id);
      memcpy(rs->last_id, end_id, sizeof end_id);
      rs->last_sid = end;
    }
  }
  send_read(rs);
}

/* ---- Connections ---- */

static void on_retry(uv_timer_t *t) {
  conn_t *c = t->data;
  c->retry_armed = false;
  if (!c->rs->shutting_down) conn_start(c);
}

static void schedule_retry(conn_t *c) {
  if (c->retry_armed || c->rs->shutting_down) return;
  c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
  if (c->backoff_ms > BACKOFF_MAX_MS) c->backoff_ms = BACKOFF_MAX_MS;
  c->retry_armed = true;
  uv_timer_start(&c->retry, on_retry, c->backoff_ms, 0);
}

static void conn_lost(conn_t *c, const char *why) {
  redis_store_t *rs = c->rs;
  bool was_ready = c->ready;
  c->ac = NULL;
  c->ready = false;
  c->tcp_up = false;
  if (c == &rs->cmd) {
    atomic_store_explicit(&rs->connected, false, memory_order_release);
    atomic_store(&rs->reason, rs->switching ? "Redis failed over; connecting to the new primary"
                              : rs->sentinel_count
                                  ? "the Redis primary is unreachable; asking Sentinel, reconnecting"
                                  : "Redis is unreachable; reconnecting");
  } else {
    rs->read_pending = false;
    rs->read_block = false;
  }
  if (rs->shutting_down) return;
  /* The primary may have moved: Sentinel is asked again on any failure. */
  if (rs->sentinel && !rs->switching) qs_redis_sentinel_refresh(rs->sentinel);
  QS_LOG_DEBUG("redis: %s connection down: %s", c->role, why ? why : "");
  if (was_ready || !c->warned) {
    QS_LOG_WARN("redis: %s connection to %s %s (%s); reconnecting", c->role,
                rs->sentinel_count     ? rs->primary_host
                : rs->url.unix_path[0] ? rs->url.unix_path
                                       : rs->url.host,
                was_ready ? "lost" : "failed", why && *why ? why : "no reason given");
    c->warned = true;
  }
  schedule_retry(c);
}

static void on_connect(const redisAsyncContext *ac, int status) {
  conn_t *c = ac->data;
  if (status != REDIS_OK)
    conn_lost(c, ac->errstr); /* hiredis frees the context */
  else
    c->tcp_up = true;
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
  conn_t *c = ac->data;
  (void)status;
  if (c->ac == ac) conn_lost(c, ac->errstr);
}

/* Handshake replies (AUTH, SELECT): an error ends the connection. */
static void on_handshake(redisAsyncContext *ac, void *r, void *privdata) {
  conn_t *c = ac->data;
  redisReply *reply = r;
  if (reply && reply->type == REDIS_REPLY_ERROR) {
    QS_LOG_ERROR("redis: %s connection refused by Redis (%s): %s", c->role, (const char *)privdata,
                 reply->str);
    atomic_store(&c->rs->reason, "Redis refused the connection (credentials or database; see the log)");
    redisAsyncDisconnect(ac);
  }
}

static void on_script_loaded(redisAsyncContext *ac, void *r, void *privdata) {
  (void)privdata;
  conn_t *c = ac->data;
  redis_store_t *rs = c->rs;
  redisReply *reply = r;
  if (!reply) return;
  if (reply->type != REDIS_REPLY_STRING || reply->len != 40) {
    QS_LOG_ERROR("redis: SCRIPT LOAD failed: %s",
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "odd reply");
    redisAsyncDisconnect(ac);
    return;
  }
  memcpy(rs->sha, reply->str, 40);
  rs->sha[40] = '\0';
  c->ready = true;
  c->backoff_ms = 0;
  c->warned = false;
  if (c->ever_ready) {
    atomic_fetch_add_explicit(&rs->reconnects, 1, memory_order_relaxed);
    QS_LOG_INFO("redis: publish connection restored");
  }
  c->ever_ready = true;
  qs_redis_nodes_heartbeat(rs);
  atomic_store(&rs->reason, "");
  atomic_store_explicit(&rs->connected, true, memory_order_release);
}

/* The handshake is done (and, with Sentinel, the server is the primary):
 * what the connection is for. */
static void conn_begin(conn_t *c) {
  redis_store_t *rs = c->rs;
  if (c == &rs->cmd)
    redisAsyncCommand(c->ac, on_script_loaded, NULL, "SCRIPT LOAD %s", qs_redis_publish_script);
  else
    redisAsyncCommand(c->ac, on_stream_end, NULL, "XREVRANGE %s + - COUNT 1", rs->stream);
}

/* ROLE's reply, with Sentinel: a server that is not (or no longer) the
 * primary is not used, whatever the sentinel asked last said; a demoted
 * primary still has an old copy of the stream. */
static void on_role(redisAsyncContext *ac, void *r, void *privdata) {
  (void)privdata;
  conn_t *c = ac->data;
  redis_store_t *rs = c->rs;
  redisReply *reply = r;
  if (!reply || c->ac != ac) return;
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
      reply->element[0]->type == REDIS_REPLY_STRING && strcmp(reply->element[0]->str, "master") == 0) {
    conn_begin(c);
    return;
  }
  QS_LOG_WARN(
      "redis: %s:%d is not the primary of %s (ROLE: %s); asking Sentinel again", rs->primary_host,
      rs->primary_port, rs->master_name,
      reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 && reply->element[0]->type == REDIS_REPLY_STRING
          ? reply->element[0]->str
      : reply->type == REDIS_REPLY_ERROR ? reply->str
                                         : "odd reply");
  atomic_store(&rs->reason, "Redis failing over: the server Sentinel named is not the primary (yet)");
  redisAsyncDisconnect(ac);
}

static void conn_start(conn_t *c) {
  redis_store_t *rs = c->rs;
  if (rs->sentinel_count && !rs->primary_port) {
    /* Connected once Sentinel names the primary (on_primary). */
    atomic_store(&rs->reason, "asking Sentinel where the Redis primary is");
    return;
  }
  QS_LOG_DEBUG("redis: %s connection: connecting", c->role);
  redisAsyncContext *ac = rs->sentinel_count     ? redisAsyncConnect(rs->primary_host, rs->primary_port)
                          : rs->url.unix_path[0] ? redisAsyncConnectUnix(rs->url.unix_path)
                                                 : redisAsyncConnect(rs->url.host, rs->url.port);
  if (!ac || ac->err) {
    conn_lost(c, ac ? ac->errstr : "out of memory");
    if (ac) redisAsyncFree(ac);
    return;
  }
  ac->data = c;
  if (qs_redis_libuv_attach(ac, &rs->loop) < 0) {
    conn_lost(c, "cannot attach to the event loop");
    redisAsyncFree(ac);
    return;
  }
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  /* hiredis frees its read buffer whenever more than 16 KiB of it is unused,
   * which a stream read of a few dozen entries passes every time: keep up to
   * READ_BUFFER_KEEP instead of freeing and growing it again on every reply. */
  ac->c.reader->maxbuf = READ_BUFFER_KEEP;
  c->ac = ac;
  c->started_ms = uv_now(&rs->loop);
  /* Commands queue until the connection is up. */
  if (rs->url.user[0])
    redisAsyncCommand(ac, on_handshake, (void *)"AUTH", "AUTH %s %s", rs->url.user, rs->url.password);
  else if (rs->url.password[0])
    redisAsyncCommand(ac, on_handshake, (void *)"AUTH", "AUTH %s", rs->url.password);
  if (rs->url.db) redisAsyncCommand(ac, on_handshake, (void *)"SELECT", "SELECT %d", rs->url.db);
  if (rs->sentinel_count)
    redisAsyncCommand(ac, on_role, NULL, "ROLE");
  else
    conn_begin(c);
}

/* Sentinel named a primary (the first, or a new one after a failover):
 * both connections start over there. The reader goes on from the last
 * entry it read, so subscribers get neither a gap nor a repeat. */
static void on_primary(void *ctx, const char *host, int port) {
  redis_store_t *rs = ctx;
  snprintf(rs->primary_host, sizeof rs->primary_host, "%s", host);
  rs->primary_port = port;
  rs->switching = true;
  conn_t *conns[] = {&rs->cmd, &rs->rd};
  for (size_t i = 0; i < 2; i++) {
    conn_t *c = conns[i];
    if (c->ac) conn_drop(c, "the primary changed");
    uv_timer_stop(&c->retry);
    c->retry_armed = false;
    c->backoff_ms = 0;
    if (!rs->shutting_down) conn_start(c);
  }
  rs->switching = false;
}

/* Drops a connection that stopped answering (not from a hiredis callback). */
static void conn_drop(conn_t *c, const char *why) {
  redisAsyncContext *ac = c->ac;
  if (!ac) return;
  conn_lost(c, why);
  /* Pending callbacks run now with no reply (publishes fail). */
  redisAsyncFree(ac);
}

/* ---- The store's loop ---- */

static void on_head(redisAsyncContext *ac, void *r, void *privdata) {
  (void)privdata;
  redis_store_t *rs = ((conn_t *)ac->data)->rs;
  redisReply *reply = r;
  if (!reply || reply->type != REDIS_REPLY_ARRAY) return;
  uint64_t lag = 0;
  qs_redis_stream_id_t head, last;
  if (reply->elements == 1 && reply->element[0]->type == REDIS_REPLY_ARRAY &&
      reply->element[0]->elements == 2 && reply->element[0]->element[0]->type == REDIS_REPLY_STRING &&
      qs_redis_stream_id_parse(
          qs_slice(reply->element[0]->element[0]->str, reply->element[0]->element[0]->len), &head) &&
      qs_redis_stream_id_parse(qs_slice_from_cstr(rs->last_id), &last) && head.ms > last.ms)
    lag = head.ms - last.ms;
  atomic_store_explicit(&rs->lag_ms, lag, memory_order_relaxed);
}

static void on_tick(uv_timer_t *t) {
  redis_store_t *rs = t->data;
  uint64_t now = uv_now(&rs->loop);
  uint64_t publish_limit = STALL_MS + rs->settings.wait_timeout_ms;
  if (rs->cmd.ac && rs->inflight && now - rs->inflight->sent_ms > publish_limit)
    conn_drop(&rs->cmd, "no reply to a publish in time");
  if (rs->rd.ac && rs->read_pending && now - rs->read_sent_ms > READ_BLOCK_MS + STALL_MS)
    conn_drop(&rs->rd, "no reply to a read in time");
  conn_t *conns[] = {&rs->cmd, &rs->rd};
  for (size_t i = 0; i < 2; i++) {
    conn_t *c = conns[i];
    if (c->ac && !c->tcp_up && now - c->started_ms > CONNECT_TIMEOUT_MS)
      conn_drop(c, "connection refused or timed out");
    else if (c->ac && !c->ready && now - c->started_ms > READ_BLOCK_MS + STALL_MS)
      conn_drop(c, "no answer to the handshake in time");
  }
  qs_redis_publish_release(rs, false, now);
  qs_redis_await_release(rs, 0, now);
  /* Lag: how far the head of the stream is ahead of what this node read. */
  if (rs->cmd.ready && ++rs->ticks % (1000 / TICK_MS) == 0)
    redisAsyncCommand(rs->cmd.ac, on_head, NULL, "XREVRANGE %s + - COUNT 1", rs->stream);
  if (rs->ticks % (QS_REDIS_HEARTBEAT_MS / TICK_MS) == 1) qs_redis_nodes_heartbeat(rs);
  if (!rs->rd.ready && !rs->rd.ac) atomic_store_explicit(&rs->caught_up, false, memory_order_relaxed);
}

static void on_handle_closed(uv_handle_t *h) { (void)h; }

static void shut_down(redis_store_t *rs) {
  rs->shutting_down = true;
  qs_redis_sentinel_close(rs->sentinel);
  rs->sentinel = NULL;
  if (rs->cmd.ac) conn_drop(&rs->cmd, "shutting down");
  if (rs->rd.ac) conn_drop(&rs->rd, "shutting down");
  qs_redis_publish_release(rs, true, 0);
  qs_redis_await_release(rs, QS_ECLOSED, 0);
  uv_close((uv_handle_t *)&rs->wake, on_handle_closed);
  uv_close((uv_handle_t *)&rs->tick, on_handle_closed);
  uv_close((uv_handle_t *)&rs->cmd.retry, on_handle_closed);
  uv_close((uv_handle_t *)&rs->rd.retry, on_handle_closed);
}

static void on_wake(uv_async_t *a) {
  redis_store_t *rs = a->data;
  pthread_mutex_lock(&rs->mutex);
  op_t *ops = rs->queue;
  rs->queue = rs->queue_tail = NULL;
  qs_redis_lookup_t *lookups = rs->lookups;
  rs->lookups = NULL;
  bool stopping = rs->stopping;
  bool heartbeat = rs->heartbeat_now;
  pthread_mutex_unlock(&rs->mutex);
  if (heartbeat && !stopping) qs_redis_nodes_heartbeat(rs);
  while (lookups) {
    qs_redis_lookup_t *l = lookups;
    lookups = l->next;
    l->next = NULL;
    if (stopping)
      qs_redis_await_done(l, QS_ECLOSED);
    else
      qs_redis_await_send(rs, l);
  }
  while (ops && (stopping || !rs->cmd.ready)) {
    op_t *op = ops;
    ops = op->next;
    qs_redis_publish_fail(rs, op, stopping ? QS_ECLOSED : QS_EUNAVAILABLE);
  }
  while (ops) ops = qs_redis_publish_send(rs, ops);
  if (stopping && !rs->shutting_down) shut_down(rs);
}

static void *thread_main(void *arg) {
  redis_store_t *rs = arg;
  if (rs->sentinel_count &&
      qs_redis_sentinel_create(&rs->loop, rs->sentinel_addrs, rs->sentinel_count, rs->master_name,
                               rs->sentinel_password, on_primary, rs, &rs->sentinel) < 0)
    QS_LOG_ERROR("redis: cannot start the Sentinel client: out of memory");
  conn_start(&rs->cmd);
  conn_start(&rs->rd);
  uv_run(&rs->loop, UV_RUN_DEFAULT);
  return NULL;
}

/* ---- The vtable: replays are the ring's ---- */

static int redis_append(qs_store_t *store, qs_update_t *update) {
  (void)store, (void)update;
  return QS_EINVAL; /* the hub publishes through qs_redis_publish */
}

static int redis_replay(qs_store_t *store, qs_slice_t last_event_id, uint64_t up_to_seq,
                        qs_store_each_fn each, void *ctx) {
  return qs_store_replay(((redis_store_t *)store)->ring, last_event_id, up_to_seq, each, ctx);
}

static int redis_replay_after_seq(qs_store_t *store, uint64_t after_seq, uint64_t up_to_seq,
                                  qs_store_each_fn each, void *ctx) {
  return qs_store_replay_after_seq(((redis_store_t *)store)->ring, after_seq, up_to_seq, each, ctx);
}

static uint64_t redis_last_seq(qs_store_t *store) {
  return qs_store_last_seq(((redis_store_t *)store)->ring);
}

static size_t redis_last_id(qs_store_t *store, char *out, size_t out_size) {
  return qs_store_last_id(((redis_store_t *)store)->ring, out, out_size);
}

static void redis_stats(qs_store_t *store, qs_store_stats_t *out) {
  qs_store_stats(((redis_store_t *)store)->ring, out);
}

static void redis_transport(qs_store_t *store, qs_store_transport_t *out) {
  redis_store_t *rs = (redis_store_t *)store;
  out->shared = true;
  out->name = "redis";
  out->connected = atomic_load_explicit(&rs->connected, memory_order_acquire);
  out->caught_up = atomic_load_explicit(&rs->caught_up, memory_order_relaxed);
  out->reconnects = atomic_load_explicit(&rs->reconnects, memory_order_relaxed);
  out->lag_ms = atomic_load_explicit(&rs->lag_ms, memory_order_relaxed);
  out->publishes = atomic_load_explicit(&rs->publishes, memory_order_relaxed);
  out->failures = atomic_load_explicit(&rs->failures, memory_order_relaxed);
  out->reason = out->connected ? "" : atomic_load(&rs->reason);
}

static void free_store(redis_store_t *rs) {
  qs_store_destroy(rs->ring);
  pthread_cond_destroy(&rs->started_cond);
  pthread_mutex_destroy(&rs->mutex);
  free(rs->pairs);
  free(rs->encode_argv);
  free(rs->encode_lens);
  qs_buf_dispose(&rs->command);
  free(rs->stream);
  free(rs->index_key);
  free(rs->sizes_key);
  free(rs->nodes_key);
  free(rs);
}

static void redis_destroy(qs_store_t *store) {
  redis_store_t *rs = (redis_store_t *)store;
  pthread_mutex_lock(&rs->mutex);
  rs->stopping = true;
  pthread_mutex_unlock(&rs->mutex);
  uv_async_send(&rs->wake);
  pthread_join(rs->thread, NULL);
  if (uv_loop_close(&rs->loop) != 0) QS_LOG_ERROR("redis: event loop closed with handles open");
  free_store(rs);
}
static const qs_store_vtable_t redis_vtable = {
    .name = "redis",
    .append = redis_append,
    .replay = redis_replay,
    .replay_after_seq = redis_replay_after_seq,
    .last_seq = redis_last_seq,
    .last_id = redis_last_id,
    .destroy = redis_destroy,
    .stats = redis_stats,
    .publish = qs_redis_publish,
    .transport = redis_transport,
    .await_id = qs_redis_await_id,
    .watch_nodes = qs_redis_nodes_watch,
};

/* A stream key is any Redis key; we keep it printable for logs and tools. */
static bool stream_name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 200) return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f) return false;
  return true;
}

/* Checks the settings qs_store_redis_create takes, logging what is wrong;
 * fills the parsed URL and sentinel list. Returns 0 or QS_EINVAL. */
static int check_settings(const qs_redis_settings_t *settings, qs_redis_url_t *url,
                          qs_redis_sentinel_addr_t sentinels[QS_REDIS_SENTINELS_MAX],
                          size_t *sentinel_count) {
  const char *reason = NULL;
  *sentinel_count = 0;
  if (qs_redis_url_parse(settings->url, url, &reason) < 0) {
    QS_LOG_ERROR("redis_url: %s", reason);
    return QS_EINVAL;
  }
  if (!settings->stream || !stream_name_ok(settings->stream)) {
    QS_LOG_ERROR("redis_stream must be 1 to 200 printable characters without spaces");
    return QS_EINVAL;
  }
  if (!settings->sentinels || !settings->sentinels[0]) return 0;
  if (qs_redis_sentinel_parse(settings->sentinels, sentinels, sentinel_count, &reason) < 0) {
    QS_LOG_ERROR("%s", reason);
    return QS_EINVAL;
  }
  if (!settings->master_name || !qs_redis_sentinel_name_ok(settings->master_name)) {
    QS_LOG_ERROR(
        "redis_master_name must be 1 to 128 printable characters without spaces with redis_sentinels");
    return QS_EINVAL;
  }
  if (settings->sentinel_password && strlen(settings->sentinel_password) > QS_REDIS_SENTINEL_PASSWORD_MAX) {
    QS_LOG_ERROR("redis_sentinel_password is longer than %d bytes", QS_REDIS_SENTINEL_PASSWORD_MAX);
    return QS_EINVAL;
  }
  return 0;
}

/* "<stream><suffix>", allocated (NULL when out of memory). */
static char *key_of(const char *stream, const char *suffix) {
  size_t len = strlen(stream) + strlen(suffix) + 1;
  char *key = malloc(len);
  if (key) snprintf(key, len, "%s%s", stream, suffix);
  return key;
}

/* Starts the store's loop and thread. Returns 0 or QS_ENOMEM (nothing left
 * running; the caller frees rs). */
static int start_thread(redis_store_t *rs) {
  if (uv_loop_init(&rs->loop) != 0) return QS_ENOMEM;
  uv_async_init(&rs->loop, &rs->wake, on_wake);
  rs->wake.data = rs;
  uv_timer_init(&rs->loop, &rs->tick);
  rs->tick.data = rs;
  uv_timer_start(&rs->tick, on_tick, TICK_MS, TICK_MS);
  uv_timer_init(&rs->loop, &rs->cmd.retry);
  rs->cmd.retry.data = &rs->cmd;
  uv_timer_init(&rs->loop, &rs->rd.retry);
  rs->rd.retry.data = &rs->rd;
  if (pthread_create(&rs->thread, NULL, thread_main, rs) == 0) return 0;
  uv_close((uv_handle_t *)&rs->wake, NULL);
  uv_close((uv_handle_t *)&rs->tick, NULL);
  uv_close((uv_handle_t *)&rs->cmd.retry, NULL);
  uv_close((uv_handle_t *)&rs->rd.retry, NULL);
  uv_run(&rs->loop, UV_RUN_DEFAULT);
  uv_loop_close(&rs->loop);
  return QS_ENOMEM;
}

/* Waits at most timeout_ms for the retained stream to be read, so resumes
 * work from the first request, and says how it went. */
static void wait_started(redis_store_t *rs, uint32_t timeout_ms) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  uint64_t ns = (uint64_t)deadline.tv_nsec + (uint64_t)timeout_ms * 1000000u;
  deadline.tv_sec += (time_t)(ns / 1000000000u);
  deadline.tv_nsec = (long)(ns % 1000000000u);
  pthread_mutex_lock(&rs->mutex);
  while (!rs->started)
    if (pthread_cond_timedwait(&rs->started_cond, &rs->mutex, &deadline) != 0) break;
  bool started = rs->started;
  rs->started = true;
  pthread_mutex_unlock(&rs->mutex);
  if (started)
    QS_LOG_INFO("redis: stream %s read up to its head (%llu entries)", rs->stream,
                (unsigned long long)qs_store_last_seq(rs->ring));
  else
    QS_LOG_WARN(
        "redis: stream %s not read within %u ms; starting anyway (publishes answer 503 until Redis "
        "answers, resumes may say `earliest` until the stream is read)",
        rs->stream, timeout_ms);
}

int qs_store_redis_create(const qs_redis_settings_t *settings, qs_store_on_durable_fn on_durable, void *ctx,
                          qs_store_t **out) {
  *out = NULL;
  qs_redis_url_t url;
  qs_redis_sentinel_addr_t sentinels[QS_REDIS_SENTINELS_MAX];
  size_t sentinel_count;
  if (check_settings(settings, &url, sentinels, &sentinel_count) < 0) return QS_EINVAL;
  redis_store_t *rs = calloc(1, sizeof *rs);
  if (!rs) return QS_ENOMEM;
  memcpy(rs->sentinel_addrs, sentinels, sentinel_count * sizeof *sentinels);
  rs->sentinel_count = sentinel_count;
  qs_buf_init(&rs->command, SIZE_MAX); /* a batch's size is bounded by qs_redis_publish_send */
  if (sentinel_count) snprintf(rs->master_name, sizeof rs->master_name, "%s", settings->master_name);
  if (settings->sentinel_password)
    snprintf(rs->sentinel_password, sizeof rs->sentinel_password, "%s", settings->sentinel_password);
  rs->base = (qs_store_t){.vtable = &redis_vtable,
                          .on_durable = on_durable,
                          .on_durable_ctx = ctx,
                          .retention = settings->retention};
  rs->url = url;
  rs->settings = *settings;
  rs->settings.url = rs->settings.stream = rs->settings.sentinels = rs->settings.master_name =
      rs->settings.sentinel_password = NULL;
  rs->stream = strdup(settings->stream);
  snprintf(rs->max_count, sizeof rs->max_count, "%llu", (unsigned long long)settings->retention.max_count);
  snprintf(rs->max_age, sizeof rs->max_age, "%lld", (long long)settings->retention.max_age_ms);
  snprintf(rs->max_bytes, sizeof rs->max_bytes, "%llu", (unsigned long long)settings->retention.max_bytes);
  rs->index_key = key_of(settings->stream, ":ids");
  rs->sizes_key = key_of(settings->stream, ":bytes");
  rs->nodes_key = key_of(settings->stream, ":nodes");
  strcpy(rs->last_id, "0-0");
  rs->cmd = (conn_t){.rs = rs, .role = "publish"};
  rs->rd = (conn_t){.rs = rs, .role = "read"};
  atomic_init(&rs->reason, "connecting to Redis");
  if (!rs->stream || !rs->index_key || !rs->sizes_key || !rs->nodes_key ||
      pthread_mutex_init(&rs->mutex, NULL) != 0) {
    free(rs->stream);
    free(rs->index_key);
    free(rs->sizes_key);
    free(rs->nodes_key);
    free(rs);
    return QS_ENOMEM;
  }
  pthread_cond_init(&rs->started_cond, NULL);
  int rc = qs_store_memory_create(&settings->retention, on_durable, ctx, &rs->ring);
  if (rc == 0) rc = start_thread(rs);
  if (rc < 0) {
    free_store(rs);
    return rc;
  }
  wait_started(rs, settings->start_timeout_ms);
  *out = &rs->base;
  return 0;
}
