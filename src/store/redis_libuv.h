/* hiredis' asynchronous context on a libuv loop: the transport's own event
 * adapter, used instead of the one hiredis ships (adapters/libuv.h).
 *
 * Why our own: the shipped adapter (hiredis 0.14, Debian 12) returns from its
 * poll callback as soon as libuv reports an error. libuv reports POLLERR that
 * way, after stopping the watcher, and a socket reset by its peer (a Redis
 * killed with a command still unread in its buffer answers with a TCP RST,
 * not a FIN) or a refused connect both raise POLLERR. With the shipped
 * adapter hiredis never hears of it: the connection looks alive, its
 * commands never get a reply, and only a stall timer notices, seconds later.
 * Here an error is handed to hiredis as a read event, so it reads the socket
 * error at once and fails the connection: pending callbacks get no reply,
 * the connect or disconnect callback runs, and the transport reconnects. */
#ifndef QS_STORE_REDIS_LIBUV_H
#define QS_STORE_REDIS_LIBUV_H

#include <hiredis/async.h>
#include <uv.h>

/* Attaches `ac` (just created, not yet attached to any event library) to
 * `loop`, which must be run on the thread that uses `ac`. The adapter's
 * state is freed by hiredis' cleanup call, through a uv_close on `loop`
 * (so the loop must run once more after the context is freed). Returns 0,
 * or without attaching (the context stays the caller's to free): QS_EINVAL
 * (already attached), QS_ENOMEM, or QS_EIO (libuv cannot watch the socket). */
int qs_redis_libuv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
