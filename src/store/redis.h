/* The Redis transport: one Redis Stream is the hub-wide order shared by every
 * node (docs/cluster.md; README.md of this folder).
 *
 * A publish on any node is appended to the stream by one Lua script, which
 * in the same atomic step indexes the update id (hash `<stream>:ids`, id ->
 * stream entry of its earliest retained occurrence) and trims the stream and
 * the index together to the retention bounds. It is acknowledged once Redis
 * has replied (and, with wait_replicas, once that many replicas have it).
 * Every node reads the stream on a connection of its own (XREAD BLOCK), from
 * its start, and hands each entry, in stream order, to a memory ring of its
 * own with the next local seq: the ring is the node's mirror of the stream
 * and of its index (id lookup in O(1), never a scan), serves replays and
 * resumes, and calls the hub's on_durable, so the publishing node delivers
 * its own updates exactly as the others do. A resume from an id the ring
 * does not know yet (published on a node ahead of this one) is looked up in
 * `<stream>:ids` and waits until the reader has reached its entry (the
 * vtable's await_id).
 *
 * Both connections live on one thread of the store's own, on a libuv loop
 * through hiredis' asynchronous API (redis_libuv.h): no Redis call ever
 * blocks a worker. */
#ifndef QS_STORE_REDIS_H
#define QS_STORE_REDIS_H

#include <stdint.h>

#include "store/store.h"

/* Where Redis is: redis://[[user]:password@]host[:port][/db] or
 * unix:/path/to/socket[?db=N] (also unix:///path). */
typedef struct {
  char host[256];
  int port;
  char unix_path[108];
  char user[128];
  char password[256];
  int db;
} qs_redis_url_t;

/* Parses `url` (NUL-terminated) into *out. Returns 0, or QS_EINVAL with a
 * static reason in *reason (never naming the password). */
int qs_redis_url_parse(const char *url, qs_redis_url_t *out, const char **reason);

typedef struct {
  const char *url;    /* qs_redis_url_parse syntax; borrowed for the call */
  const char *stream; /* the stream's key ("mercure"); borrowed for the call */
  /* Retention, enforced exactly on the stream and its index by the publish
   * script (count; age against Redis' clock; bytes as the entries' field
   * names and values) and on each node's ring (count, bytes, age). */
  qs_store_retention_t retention;
  /* Replicas that must have a publish before it is acknowledged (WAIT); 0 =
   * the primary's reply is enough. */
  uint32_t wait_replicas;
  /* How long WAIT may take before the publish is answered as failed. */
  uint32_t wait_timeout_ms;
  /* With Sentinel: "host:port,..." (qs_redis_sentinel_parse) and the
   * master name the sentinels monitor; the primary is then theirs, and
   * url gives only the credentials and the database. NULL or "": url's
   * host. Both borrowed for the call. */
  const char *sentinels;
  const char *master_name;
  /* The sentinels' password (AUTH on each sentinel connection); NULL or "":
   * none. Borrowed for the call. */
  const char *sentinel_password;
  /* How long create waits for the first connection and the first read of
   * the whole stream; past it the node starts anyway and keeps trying. */
  uint32_t start_timeout_ms;
} qs_redis_settings_t;

/* Creates the Redis transport: starts its thread, connects, and waits (at
 * most start_timeout_ms) until this node has read the retained stream, so
 * that resumes work from the first request. on_durable receives every
 * update of the stream, in order, on the store's thread. Returns 0,
 * QS_EINVAL (bad URL or stream name, logged) or QS_ENOMEM; an unreachable
 * Redis is not an error (publishes are refused with QS_EUNAVAILABLE until it
 * answers). *out is freed with qs_store_destroy(). */
int qs_store_redis_create(const qs_redis_settings_t *settings, qs_store_on_durable_fn on_durable, void *ctx,
                          qs_store_t **out);

#endif
