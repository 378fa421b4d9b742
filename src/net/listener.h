/* TCP listeners and peer addresses: the libuv glue under http/.
 *
 * Threading: every object here belongs to the loop it was created on and is
 * used from that loop's thread only. Several loops may each create a listener
 * on the same address: the socket is opened with SO_REUSEPORT, so the kernel
 * spreads incoming connections over them. */
#ifndef QS_NET_LISTENER_H
#define QS_NET_LISTENER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct qs_net_listener qs_net_listener_t;

/* Called once per pending connection; the callee should call
 * qs_net_listener_accept() (or the connection stays in the kernel backlog). */
typedef void (*qs_net_on_connection_fn)(qs_net_listener_t *listener, void *ctx);

/* Opens a listening TCP socket on `host` ("localhost", "127.0.0.1",
 * "0.0.0.0", "::" or any numeric address; NULL or "" means "0.0.0.0") and
 * `port` (0 picks an ephemeral port), with SO_REUSEADDR and SO_REUSEPORT.
 * "::" also accepts IPv4 (IPV6_V6ONLY off). `host` is borrowed for the call.
 * On success *out is a listener owned by the caller, to be released with
 * qs_net_listener_close(). Returns 0, QS_EINVAL (bad host or port), QS_EIO
 * (socket, bind or listen failed) or QS_ENOMEM; on failure nothing is left open. */
int qs_net_listener_create(uv_loop_t *loop, const char *host, int port, int backlog,
                           qs_net_on_connection_fn on_connection, void *ctx, qs_net_listener_t **out);

/* The port the socket is bound to (the real one when 0 was asked for). */
int qs_net_listener_port(const qs_net_listener_t *listener);

/* Accepts one pending connection into `client`, which must be an
 * uninitialized uv_tcp_t owned by the caller: on success it is initialized on
 * the listener's loop and the caller must uv_close() it; on failure it is
 * closed already with `on_failed_close` (may be NULL) as its close callback,
 * so the caller frees its memory there. Returns 0 or QS_EIO. */
int qs_net_listener_accept(qs_net_listener_t *listener, uv_tcp_t *client, uv_close_cb on_failed_close);

/* Stops accepting and closes the socket; `on_closed(ctx)` (may be NULL) runs
 * from the loop once the listener's memory is freed. Idempotent: a second
 * call does nothing and never calls its callback. */
void qs_net_listener_close(qs_net_listener_t *listener, void (*on_closed)(void *ctx), void *ctx);

/* A peer address in binary form: 4 bytes for IPv4 (IPv4-mapped IPv6
 * addresses are folded to IPv4), 16 for IPv6, 0 when unknown. Compact on
 * purpose: a connection keeps one for its whole life. */
typedef struct {
  uint8_t bytes[16];
  uint8_t len;
} qs_net_addr_t;

/* Longest text qs_net_addr_format() writes, NUL included. */
#define QS_NET_ADDR_TEXT_MAX 46

/* Reads the peer address of a connected socket. Returns 0 or QS_EIO. */
int qs_net_peer_addr(const uv_tcp_t *tcp, qs_net_addr_t *out);

/* Writes the address as text ("203.0.113.5", "2001:db8::1", or "" when
 * unknown) into `out` (at least QS_NET_ADDR_TEXT_MAX bytes); returns its length. */
size_t qs_net_addr_format(const qs_net_addr_t *addr, char *out, size_t cap);

#endif
