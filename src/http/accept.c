/* Accepting connections (accept.h). */
#include <stdlib.h>

#include "base/error.h"
#include "base/log.h"
#include "http/accept.h"
#include "http/conn.h"
#include "http/conn_read.h"
#include "http/deadline.h"
#include "http/transport.h"

static void on_reject_closed(uv_handle_t *handle) { free(handle); }

static bool admit(qs_http_server_t *s, qs_http_conn_t *c, int *status) {
  *status = qs_http_admission_take(s->admission, qs_slice((const char *)c->addr.bytes, c->addr.len));
  c->addr_counted = *status == 0;
  return c->addr_counted;
}

void qs_http_accept(qs_net_listener_t *listener, void *ctx) {
  qs_http_server_t *s = ctx;
  qs_http_conn_t *c = calloc(1, sizeof *c);
  if (!c) return;
  if (qs_net_listener_accept(listener, &c->tcp, on_reject_closed) != 0) return;
  c->tcp.data = c;
  c->server = s;
  c->transport = s->transport;
  qs_link_init(&c->timeout_link);
  qs_link_init(&c->dirty_link);
  qs_link_append(&s->all, &c->all_link);
  s->conn_count++;
  qs_net_peer_addr(&c->tcp, &c->addr);
  int status = 0;
  if (!admit(s, c, &status)) {
    char text[QS_NET_ADDR_TEXT_MAX];
    qs_net_addr_format(&c->addr, text, sizeof text);
    /* The counts are the process's (every worker shares the admission), not this loop's. */
    if (status == 429)
      QS_LOG_WARN(
          "connection refused status=429 remote=%s: max_connections_per_client (%zu) reached for "
          "this address",
          text, s->limits.max_connections_per_address);
    else
      QS_LOG_WARN("connection refused status=%d remote=%s: max_connections reached (open=%zu max=%zu)",
                  status, text, qs_http_admission_count(s->admission), s->limits.max_connections);
    if (!qs_http_conn_transport(c)->handshake_done(c)) {
      qs_http_conn_fail(c, QS_ECLOSED); /* an answer would need a handshake first */
      return;
    }
    qs_http_conn_read_start(c);
    qs_http_conn_send_error(
        c, status, status == 429 ? "too many connections from this address" : "too many connections");
    return;
  }
  c->parser = qs_h1_parser_create(&s->limits);
  if (!c->parser || qs_http_conn_transport(c)->open(c) != 0) {
    qs_http_conn_fail(c, QS_ENOMEM);
    return;
  }
  qs_http_conn_enter(c, ST_READING); /* the request deadline runs from now, TLS handshake included */
  qs_http_conn_read_start(c);
}
