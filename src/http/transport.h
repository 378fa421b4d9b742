/* What carries a connection's bytes: plain TCP (transport_tcp.c) or TLS
 * over TCP (transport_tls.c), behind one operations table, so that the
 * connection code never asks which one it has. A connection has the
 * transport its server had when it was accepted (qs_http_server_use_tls
 * switches it for later ones), by its index in qs_http_transports (a byte
 * where a pointer would make every connection 16 bytes bigger), and the
 * transport's state, if any, in qs_http_conn_t.tx. Not part of the folder's contract.
 *
 * A new transport (QUIC, say) provides such a table: it turns what its
 * socket reads into plaintext for qs_http_conn_input, writes a batch of the
 * connection's queue (encrypting it if need be), ends the write side and
 * frees its state. The queue, the schedule, the deadlines and the protocols
 * above stay as they are. */
#ifndef QS_HTTP_TRANSPORT_H
#define QS_HTTP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "http/server_internal.h"

struct qs_http_transport {
  const char *name; /* for logs: "tcp", "tls" */
  /* Sets up the transport's state for a connection just accepted and
   * admitted. Returns 0 or QS_ENOMEM (the caller then closes it). */
  int (*open)(qs_http_conn_t *c);
  /* Bytes read from the socket (borrowed for the call): their plaintext
   * goes to qs_http_conn_input, whatever the transport has to say in
   * return (a handshake) is sent. May close the connection. */
  void (*read)(qs_http_conn_t *c, const char *bytes, size_t len);
  /* Writes one batch taken off the queue: iov[n] (total bytes; chunk
   * headers in hdr) made of the segments `taken`, which the transport now
   * owns. Returns true when everything left at once and the flush may go on;
   * false when a write is in flight (c->inflight, whose completion calls
   * qs_http_conn_on_write) or the connection failed. Called once per batch:
   * the hot path of a fan-out pays this one indirect call per connection. */
  bool (*write)(qs_http_conn_t *c, const uv_buf_t *iov, unsigned n, size_t total, seg_t *taken,
                char hdr[QS_HTTP_MAX_RUNS][20]);
  /* Ends what the transport has to end before the socket's write side is
   * shut (TLS: close_notify). False after qs_http_conn_fail. */
  bool (*shutdown)(qs_http_conn_t *c);
  /* Frees the transport's state (from the handle's close callback). */
  void (*close)(qs_http_conn_t *c);
  /* True once the transport can carry an answer (TLS: the handshake is
   * done; always for TCP). A request deadline that expires before that
   * closes the connection without one. */
  bool (*handshake_done)(const qs_http_conn_t *c);
};

/* The transports, by their index in qs_http_conn_t.transport. */
enum {
  QS_HTTP_TRANSPORT_TCP = 0, /* plain TCP: writev with uv_try_write, the rest with uv_write */
  QS_HTTP_TRANSPORT_TLS,     /* TLS (net/tls.h on memory BIOs) over the same TCP socket */
  QS_HTTP_TRANSPORTS,
};

/* Each transport's table (transport_tcp.c, transport_tls.c). */
extern const qs_http_transport_t qs_http_transport_tcp;
extern const qs_http_transport_t qs_http_transport_tls;

/* Every transport, by index (transport_tcp.c). */
extern const qs_http_transport_t *const qs_http_transports[QS_HTTP_TRANSPORTS];

/* The transport the connection's bytes go through. */
static inline const qs_http_transport_t *qs_http_conn_transport(const qs_http_conn_t *c) {
  return qs_http_transports[c->transport];
}

#endif
