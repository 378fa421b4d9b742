/* Finding the Redis primary through Redis Sentinel, for the Redis transport
 * (redis_sentinels, redis_master_name; docs/cluster.md).
 *
 * The client asks the sentinels, one after the other until one answers,
 * `SENTINEL get-master-addr-by-name <name>`, and keeps one sentinel
 * connection subscribed to `+switch-master`, Sentinel's announcement of a
 * failover. Whenever the answer or an announcement names another primary
 * than the last one, on_primary is called. The transport also asks again
 * (qs_redis_sentinel_refresh) whenever a connection to the primary fails or
 * the primary turns out to be a replica: a failover whose announcement was
 * missed is found that way.
 *
 * Everything runs on the loop given at creation, through hiredis'
 * asynchronous API (redis_libuv.h): nothing blocks the loop. Sentinels are
 * reached over TCP, with AUTH first when they have a password. */
#ifndef QS_STORE_REDIS_SENTINEL_H
#define QS_STORE_REDIS_SENTINEL_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

/* Most sentinels one list may name. */
#define QS_REDIS_SENTINELS_MAX 16
/* Longest sentinel password (bytes). */
#define QS_REDIS_SENTINEL_PASSWORD_MAX 256

/* One sentinel's address. */
typedef struct {
  char host[256];
  int port;
} qs_redis_sentinel_addr_t;

/* Parses `list` (NUL-terminated): `host:port` entries separated by commas
 * (spaces around them allowed), an IPv6 host in brackets, the port 26379 when
 * omitted. Fills out[0..count) and sets *count. Returns 0, or QS_EINVAL with
 * a static reason in *reason (empty list, an empty or too long host, a bad
 * port, more than QS_REDIS_SENTINELS_MAX entries). */
int qs_redis_sentinel_parse(const char *list, qs_redis_sentinel_addr_t out[QS_REDIS_SENTINELS_MAX],
                            size_t *count, const char **reason);

/* A master name as Sentinel accepts it in our commands: 1 to 128 printable
 * characters without spaces. */
bool qs_redis_sentinel_name_ok(const char *name);

typedef struct qs_redis_sentinel qs_redis_sentinel_t;

/* The primary is (now) host:port. Called on the loop's thread; `host` is
 * borrowed for the call. */
typedef void (*qs_redis_sentinel_on_primary_fn)(void *ctx, const char *host, int port);

/* Creates the client on `loop` (run on the calling thread from then on) and
 * starts asking; `addrs` (count entries, from qs_redis_sentinel_parse),
 * `master_name` and `password` (sent with AUTH on every sentinel
 * connection; NULL or "": none) are copied. on_primary is first called when
 * a sentinel first answers. Returns 0, QS_EINVAL (no address, a bad name, a
 * password over QS_REDIS_SENTINEL_PASSWORD_MAX bytes) or QS_ENOMEM. */
int qs_redis_sentinel_create(uv_loop_t *loop, const qs_redis_sentinel_addr_t *addrs, size_t count,
                             const char *master_name, const char *password,
                             qs_redis_sentinel_on_primary_fn on_primary, void *ctx,
                             qs_redis_sentinel_t **out);

/* Asks the sentinels again (at once, or when the question in progress is
 * answered). On the loop's thread. */
void qs_redis_sentinel_refresh(qs_redis_sentinel_t *s);

/* Closes the client's connections; on_primary is not called any more. The
 * memory is freed once `loop` has run again (uv_close). On the loop's thread. */
void qs_redis_sentinel_close(qs_redis_sentinel_t *s);

#endif
