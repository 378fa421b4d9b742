/* Node heartbeats (redis_store.h, watch_nodes in store.h): every node
 * records itself in the sorted set `<stream>:nodes` and learns which nodes
 * went silent, for the subscriptions registry. */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "store/redis_store.h"

/* The heartbeat: KEYS[1] is the sorted set of nodes by their last heartbeat
 * (Redis' clock, ms); ARGV[1] this node, ARGV[2] QS_REDIS_NODE_TTL_MS. Records this
 * node's heartbeat, removes the nodes silent for longer and returns them:
 * the script is atomic, so each gone node is returned to one caller only. */
static const char HEARTBEAT_SCRIPT[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('ZADD', KEYS[1], now, ARGV[1])\n"
    "local floor = '(' .. string.format('%.0f', now - tonumber(ARGV[2]))\n"
    "local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', floor)\n"
    "if #gone > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', floor) end\n"
    "return gone\n";

/* The heartbeat's reply: the nodes this call found gone. */
static void on_heartbeat(redisAsyncContext *ac, void *r, void *privdata) {
  (void)privdata;
  qs_redis_store_t *rs = ((qs_redis_conn_t *)ac->data)->rs;
  redisReply *reply = r;
  if (!reply) return;
  if (reply->type != REDIS_REPLY_ARRAY) {
    QS_LOG_ERROR("redis: node heartbeat failed: %s",
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "odd reply");
    return;
  }
  pthread_mutex_lock(&rs->mutex);
  qs_store_on_node_gone_fn on_gone = rs->on_node_gone;
  void *ctx = rs->on_node_gone_ctx;
  pthread_mutex_unlock(&rs->mutex);
  for (size_t i = 0; i < reply->elements; i++) {
    const redisReply *name = reply->element[i];
    if (name->type != REDIS_REPLY_STRING || name->len == 0 || name->len > QS_REDIS_NODE_NAME_MAX) continue;
    char node[QS_REDIS_NODE_NAME_MAX + 1];
    memcpy(node, name->str, name->len);
    node[name->len] = '\0';
    QS_LOG_WARN("redis: node %s sent no heartbeat for %d ms: gone", node, QS_REDIS_NODE_TTL_MS);
    if (on_gone) on_gone(ctx, node);
  }
}

/* Sent at once when the node starts watching and on every new publish
 * connection, before anything else it sends: no subscription event of this
 * node reaches the stream before its heartbeat is in Redis. */
void qs_redis_nodes_heartbeat(qs_redis_store_t *rs) {
  pthread_mutex_lock(&rs->mutex);
  char node[QS_REDIS_NODE_NAME_MAX + 1];
  memcpy(node, rs->node, sizeof node);
  rs->heartbeat_now = false;
  pthread_mutex_unlock(&rs->mutex);
  if (!node[0] || !rs->cmd.ready) return;
  redisAsyncCommand(rs->cmd.ac, on_heartbeat, NULL, "EVAL %s 1 %s %s %d", HEARTBEAT_SCRIPT, rs->nodes_key,
                    node, QS_REDIS_NODE_TTL_MS);
}

int qs_redis_nodes_watch(qs_store_t *store, const char *node, qs_store_on_node_gone_fn on_gone, void *ctx) {
  qs_redis_store_t *rs = (qs_redis_store_t *)store;
  size_t n = strlen(node);
  if (n == 0 || n > QS_REDIS_NODE_NAME_MAX ||
      strspn(node, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") != n)
    return QS_EINVAL;
  pthread_mutex_lock(&rs->mutex);
  bool twice = rs->node[0] != '\0';
  if (!twice) {
    memcpy(rs->node, node, n + 1);
    rs->on_node_gone = on_gone;
    rs->on_node_gone_ctx = ctx;
    rs->heartbeat_now = true;
  }
  pthread_mutex_unlock(&rs->mutex);
  if (!twice) uv_async_send(&rs->wake);
  return twice ? QS_EINVAL : 0;
}
