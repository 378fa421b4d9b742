/* Connection deadlines (deadline.h).
 *
 * Every condition of a connection has a deadline but one: an open event
 * stream, which heartbeats keep honest (and dispatch_timeout cuts when it
 * stops reading). deadline_wanted() is the whole policy, and
 * qs_http_deadline_refresh() applies it: it runs on every state change
 * (qs_http_conn_enter), and again after every read and every flush, so a
 * state or a protocol added later cannot be left without one. A deadline is
 * armed when the connection enters its condition and is not pushed back
 * while it stays there: trickling bytes does not keep a request alive. Each
 * duration has its own FIFO, ordered by deadline, which the sweep timer walks. */
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "http/conn.h"
#include "http/conn_read.h"
#include "http/deadline.h"
#include "http/transport.h"

/* ---- Deadlines ----------------------------------------------------------
 *
 * Every condition of a connection has a deadline but one: an open event
 * stream, which heartbeats keep honest (and dispatch_timeout cuts when it
 * stops reading). deadline_wanted() is the whole policy, and
 * qs_http_deadline_refresh() applies it: it runs on every state change
 * (qs_http_conn_enter), and again after every read and every flush, so a state
 * or a protocol added later cannot be left without one. A deadline is armed
 * when the connection enters its condition and is not pushed back while it
 * stays there: trickling bytes does not keep a request alive. Each duration
 * has its own FIFO, ordered by deadline, which the sweep timer walks. */

static int deadline_list(uint8_t deadline) {
  switch (deadline) {
    case DL_REQUEST:
      return TIMEOUT_HEADER;
    case DL_KEEPALIVE:
    case DL_SERVER:
      return TIMEOUT_IDLE;
    default:
      return TIMEOUT_LINGER;
  }
}

static uint64_t timeout_duration(const qs_http_server_t *s, int list) {
  switch (list) {
    case TIMEOUT_HEADER:
      return s->limits.header_timeout_ms;
    case TIMEOUT_IDLE:
      return s->limits.idle_timeout_ms;
    default:
      return QS_HTTP_LINGER_MS;
  }
}

/* The transport cannot carry an answer yet (a TLS handshake is under way). */
static bool handshake_pending(const qs_http_conn_t *c) {
  return !qs_http_conn_transport(c)->handshake_done(c);
}

static uint8_t deadline_wanted(const qs_http_conn_t *c) {
  if (c->state == ST_CLOSED) return DL_NONE;
  if (c->server->closing) return DL_LINGER;
  switch ((conn_state_t)c->state) {
    case ST_READING:
      /* From the accept (the TLS handshake included) to the first request's
       * end, and from a later request's first byte to its end. */
      if (!c->served || handshake_pending(c) || qs_http_input_len(c->in) ||
          (c->parser && qs_h1_parser_in_message(c->parser)))
        return DL_REQUEST;
      return DL_KEEPALIVE;
    case ST_HANDLING:
    case ST_RESPONDING:
    case ST_STREAM_ENDING:
      return DL_SERVER;
    case ST_STREAMING:
      return DL_NONE;
    case ST_H2:
      switch (qs_h2_session_phase(c->h2)) {
        case QS_H2_IDLE:
          return DL_KEEPALIVE;
        case QS_H2_RECEIVING:
          return DL_REQUEST;
        case QS_H2_SERVING:
          return DL_SERVER;
        default:
          return DL_NONE; /* only event streams */
      }
    default:
      return DL_LINGER; /* ERRORING, DRAINING */
  }
}

static void timeout_clear(qs_http_conn_t *c) {
  if (c->deadline) qs_link_remove(&c->timeout_link);
  c->deadline = DL_NONE;
}

void qs_http_deadline_refresh(qs_http_conn_t *c) {
  uint8_t want = deadline_wanted(c);
  if (want == c->deadline) return;
  timeout_clear(c);
  if (want == DL_NONE) return;
  qs_http_server_t *s = c->server;
  int list = deadline_list(want);
  c->deadline_ms = uv_now(s->loop) + timeout_duration(s, list);
  c->deadline = want;
  qs_link_append(&s->timeouts[list], &c->timeout_link);
}

void qs_http_conn_enter(qs_http_conn_t *c, conn_state_t state) {
  c->state = (uint8_t)state;
  qs_http_deadline_refresh(c);
}

void qs_http_server_expire(qs_http_server_t *s, uint64_t now) {
  for (int list = TIMEOUT_HEADER; list < TIMEOUT_LISTS; list++) {
    while (qs_link_linked(&s->timeouts[list])) {
      qs_http_conn_t *c = QS_CONTAINER_OF(s->timeouts[list].next, qs_http_conn_t, timeout_link);
      if (c->deadline_ms > now) break;
      uint8_t expired = c->deadline;
      timeout_clear(c);
      /* A late HTTP/1.x request is told why; anything else just closes. */
      if (expired == DL_REQUEST && c->state == ST_READING && !handshake_pending(c))
        qs_http_conn_send_error(c, 408, "request timeout (header_read_timeout)");
      else
        qs_http_conn_fail(c, QS_ECLOSED);
    }
  }
}
