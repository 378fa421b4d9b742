/* An HTTP/2 session on a connection (h2_conn.h). */
#include <stdlib.h>

#include "base/error.h"
#include "http/conn.h"
#include "http/conn_read.h"
#include "http/deadline.h"
#include "http/h2_conn.h"
#include "http/protocol.h"
#include "http/write_queue.h"
#include "http/write_schedule.h"

/* Moves HTTP/2 frames into the queue (bounded). False after conn_fail. */
bool qs_http_h2_pump(qs_http_conn_t *c) {
  c->pumping = true;
  int rc = qs_h2_session_pump(c->h2, QS_HTTP_H2_PUMP_BYTES);
  c->pumping = false;
  if (rc) {
    qs_http_conn_fail(c, rc);
    return false;
  }
  /* Streams the frames just sent closed (a reset, an end): their callbacks,
   * now that the session is off the stack. */
  if (qs_h2_session_has_due(c->h2)) qs_h2_session_run_due(c->h2);
  return c->state == ST_H2;
}

/* ---- HTTP/2 ------------------------------------------------------------ */

static int h2_send(void *conn, const char *bytes, size_t len) {
  int rc = qs_http_conn_queue_copy(conn, bytes, len, false);
  return rc == QS_ETOOBIG ? QS_ENOMEM : rc;
}

/* New frames: flush soon. A new answer's frames go into the queue at once
 * (unless the session is processing input, where it cannot be pumped, or a
 * write is in flight), so that they are written before the events that the
 * rest of this fan-out queues on the same connection's streams. */
static void h2_wake(void *conn) {
  qs_http_conn_t *c = conn;
  if (c->state == ST_H2 && !c->pumping && !c->inflight && !c->server->h2_feeding &&
      qs_h2_session_answer_due(c->h2)) {
    c->answer_queued = true;
    c->pumping = true;
    /* A failure shows again at the flush's pump, which closes the connection
     * (not from here: the session is on the caller's stack). */
    (void)qs_h2_session_pump(c->h2, QS_HTTP_H2_PUMP_BYTES);
    c->pumping = false;
  }
  qs_http_conn_mark_dirty(c);
}

/* Feeds input to the session; false when the peer broke the protocol. */
bool qs_http_h2_feed(qs_http_conn_t *c, const char *data, size_t len) {
  c->server->h2_feeding = true;
  int rc = qs_h2_session_feed(c->h2, data, len);
  c->server->h2_feeding = false;
  return rc == 0;
}

static void h2_handle(void *conn, qs_http_request_t *req) {
  qs_http_conn_t *c = conn;
  c->server->handler(req, c->server->ctx);
}

static void h2_phase_changed(void *conn) {
  qs_http_conn_t *c = conn;
  if (c->state == ST_H2) qs_http_deadline_refresh(c);
}

static const char *h2_date(void *conn) { return qs_http_date(((qs_http_conn_t *)conn)->server); }

static const qs_h2_conn_ops_t h2_ops = {h2_send, h2_wake, h2_handle, h2_phase_changed, h2_date};

/* The input starts with the HTTP/2 preface: the connection becomes an
 * HTTP/2 one, and what was read so far goes to its session. */
void qs_http_h2_switch(qs_http_conn_t *c) {
  char addr[QS_NET_ADDR_TEXT_MAX];
  qs_net_addr_format(&c->addr, addr, sizeof addr);
  qs_h2_session_t *h2 = qs_h2_session_create(c, &h2_ops, &c->server->limits, addr);
  if (!h2) {
    qs_http_conn_fail(c, QS_ENOMEM);
    return;
  }
  c->is_h2 = true;
  c->h2 = h2;
  qs_h1_parser_destroy(c->parser);
  c->parser = NULL;
  c->preface_checked = true;
  qs_http_conn_enter(c, ST_H2);
  input_t *in = c->in;
  c->in = NULL;
  if (in && !qs_http_h2_feed(c, in->data, in->len)) c->close_after = true;
  free(in);
  qs_http_conn_mark_dirty(c);
}

/* ---- The HTTP/2 protocol table (protocol.h) ---------------------------- */

/* Queued bytes wait for the peer: its flow-control window, or a write in
 * flight on the connection (or the connection is gone). */
static bool h2_stream_write_waits(const qs_http_stream_t *stream) {
  if (!qs_h2_stream_queued_bytes(stream)) return false;
  const qs_http_conn_t *c = qs_h2_stream_conn(stream);
  return !c || qs_http_conn_write_waits(c) || qs_h2_stream_window_closed(stream);
}

const qs_http_protocol_t qs_http_protocol_h2 = {
    .name = "HTTP/2",
    .request_on_abort = qs_h2_request_on_abort,
    .respond = qs_h2_respond,
    .stream_start = qs_h2_stream_start,
    .stream_write = qs_h2_stream_write_ref,
    .stream_queued_bytes = qs_h2_stream_queued_bytes,
    .stream_write_waits = h2_stream_write_waits,
    .stream_drain_blocked_only = qs_h2_stream_drain_blocked_only,
    .stream_close = qs_h2_stream_close,
    .stream_abort = qs_h2_stream_abort,
};
