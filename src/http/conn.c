/* A connection's life around its answers (conn.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "http/admission.h"
#include "http/conn.h"
#include "http/conn_read.h"
#include "http/deadline.h"
#include "http/transport.h"
#include "http/write_queue.h"
#include "http/write_schedule.h"

static void on_shutdown(uv_shutdown_t *req, int status) {
  (void)status;
  free(req);
}

/* Closes the write side once everything queued is out, then waits (bounded)
 * for the peer's EOF, so that input still in flight does not turn the close
 * into a reset that could destroy the answer before the client reads it. */
void qs_http_conn_start_drain(qs_http_conn_t *c) {
  qs_h1_parser_destroy(c->parser);
  c->parser = NULL;
  qs_http_conn_drop_input(c);
  qs_http_conn_enter(c, ST_DRAINING);
  if (!qs_http_conn_transport(c)->shutdown(c)) return;
  uv_shutdown_t *req = malloc(sizeof *req);
  if (!req || uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
    free(req);
    qs_http_conn_fail(c, QS_ECLOSED);
    return;
  }
  qs_http_conn_read_start(c);
}

/* Queues a short error answer and closes afterwards. */
void qs_http_conn_send_error(qs_http_conn_t *c, int status, const char *reason) {
  if (c->req) {
    qs_h1_request_destroy(c->req);
    c->req = NULL;
  }
  c->close_after = true;
  qs_http_conn_enter(c, ST_ERRORING);
  char head[256];
  int body_len = (int)strlen(reason) + 1;
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
                   "Connection: close\r\n\r\n%s\n",
                   status, qs_http_status_text(status), body_len, reason);
  if (n < 0 || (size_t)n >= sizeof head || qs_http_conn_queue_copy(c, head, (size_t)n, false) != 0) {
    qs_http_conn_fail(c, QS_ENOMEM);
    return;
  }
  QS_LOG_DEBUG("http error status=%d reason=\"%s\"", status, reason);
}

/* ---- Closing ----------------------------------------------------------- */

static void fire_stream_close(qs_http_conn_t *c, int reason) {
  if (!c->stream_open) return;
  c->stream_open = false;
  if (c->stream.on_close) c->stream.on_close(&c->stream, reason, c->stream.ctx);
}

static void on_conn_closed(uv_handle_t *handle) {
  qs_http_conn_t *c = (qs_http_conn_t *)handle;
  qs_http_server_t *s = c->server;
  qs_http_conn_unlink_dirty(c); /* done by qs_http_conn_fail; a generation must never wait for it */
  qs_http_queue_release(s, NULL, c->q_head);
  qs_h1_parser_destroy(c->parser);
  qs_http_conn_transport(c)->close(c);
  free(c->in);
  if (c->addr_counted)
    qs_http_admission_release(s->admission, qs_slice((const char *)c->addr.bytes, c->addr.len));
  qs_link_remove(&c->all_link);
  s->conn_count--;
  free(c);
  qs_http_server_maybe_finish_close(s);
}

void qs_http_conn_fail(qs_http_conn_t *c, int reason) {
  if (c->state == ST_CLOSED) return;
  qs_http_conn_enter(c, ST_CLOSED); /* clears its deadline: timeout_link is free */
  qs_http_conn_unlink_dirty(c);
  if (c->reading) uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = false;
  c->fail_reason = reason;
  qs_link_append(&c->server->failed, &c->timeout_link);
  qs_http_schedule_wake(c->server);
}

/* What a failed connection owes: the request's abort callback, the
 * stream's on_close, the HTTP/2 session's callbacks; then the handle's close. */
static void finish_failed(qs_http_conn_t *c) {
  int reason = c->fail_reason;
  qs_h1_request_t *req = c->req;
  c->req = NULL;
  if (req) {
    req->conn = NULL;
    if (req->on_abort) {
      req->on_abort(&req->pub, req->abort_ctx);
      qs_h1_request_destroy(req);
    } /* else it lingers until answered (the answer returns QS_ECLOSED) */
  }
  fire_stream_close(c, c->stream_reason_closed ? QS_ECLOSED : reason);
  if (c->is_h2 && c->h2) {
    qs_h2_session_t *h2 = c->h2;
    c->h2 = NULL;
    qs_h2_session_destroy(h2, reason);
  }
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

void qs_http_conn_run_failed(qs_http_server_t *s) {
  while (qs_link_linked(&s->failed)) {
    qs_http_conn_t *c = QS_CONTAINER_OF(s->failed.next, qs_http_conn_t, timeout_link);
    qs_link_remove(&c->timeout_link);
    finish_failed(c);
  }
}

/* The current answer is out: go on with the next request, or close. */
static void finish_exchange(qs_http_conn_t *c) {
  if (c->close_after || c->server->closing) {
    qs_http_conn_start_drain(c);
    return;
  }
  c->chunked = c->head_only = false;
  if (!c->parser) {
    c->parser = qs_h1_parser_create(&c->server->limits);
    if (!c->parser) {
      qs_http_conn_fail(c, QS_ENOMEM);
      return;
    }
  }
  qs_http_conn_enter(c, ST_READING);
  qs_http_conn_read_start(c);
  if (c->in) qs_http_conn_process_input(c, NULL, 0);
}

void qs_http_conn_after_flush(qs_http_conn_t *c) {
  switch (c->state) {
    case ST_RESPONDING:
      finish_exchange(c);
      break;
    case ST_ERRORING:
      qs_http_conn_start_drain(c);
      break;
    case ST_STREAM_ENDING:
      qs_http_conn_enter(c, ST_RESPONDING); /* the stream is no longer writable */
      fire_stream_close(c, c->stream_reason_closed ? QS_ECLOSED : 0);
      if (c->state == ST_RESPONDING) finish_exchange(c);
      break;
    case ST_STREAMING: {
      bool blocked = c->blocked;
      c->blocked = false;
      if ((blocked || !c->drain_blocked_only) && c->stream.on_drain)
        c->stream.on_drain(&c->stream, c->stream.ctx);
      break;
    }
    case ST_H2: {
      bool blocked = c->blocked;
      c->blocked = false;
      qs_h2_session_drained(c->h2, blocked);
      if (c->state != ST_H2) break;
      if (qs_h2_session_wants_write(c->h2))
        qs_http_conn_mark_dirty(c); /* more frames than one pump took */
      else if (qs_h2_session_finished(c->h2) || (c->close_after && !c->q_head))
        qs_http_conn_start_drain(c);
      break;
    }
    default:
      break;
  }
  qs_http_deadline_refresh(c); /* whatever the flush changed */
}
