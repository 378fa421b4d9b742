/* Reading a connection (conn_read.h). A connection's life: READING (llhttp
 * parses into a request) -> HANDLING (the handler has the request) ->
 * RESPONDING (a complete answer is queued) or STREAMING -> STREAM_ENDING,
 * then back to READING for the next request, or DRAINING -> CLOSED (conn.c).
 * Requests of one connection are strictly sequential: bytes that arrive
 * early wait, bounded, in the connection's input buffer. A connection whose
 * first bytes are the HTTP/2 preface (h2c with prior knowledge, or TLS after
 * ALPN "h2") becomes an HTTP/2 connection (h2_conn.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "http/conn.h"
#include "http/conn_read.h"
#include "http/deadline.h"
#include "http/h2_conn.h"
#include "http/protocol.h"
#include "http/transport.h"
#include "http/write_queue.h"

/* ---- Reading ----------------------------------------------------------- */

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  qs_http_conn_t *c = handle->data;
  qs_http_server_t *s = c->server;
  /* libuv calls on_read right after on_alloc, and on_read copies what it
   * keeps, so one buffer serves every connection of the loop. */
  if (s->read_buf_busy) {
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  s->read_buf_busy = true;
  *buf = uv_buf_init(s->read_buf, QS_HTTP_READ_BUF_BYTES);
}

/* Appends to the connection's input buffer. */
static int keep_input(qs_http_conn_t *c, const char *data, size_t len) {
  if (!len) return 0;
  size_t have = qs_http_input_len(c->in), cap = c->in ? c->in->cap : 0;
  if (have + len > UINT32_MAX) return QS_ETOOBIG;
  if (have + len > cap) {
    size_t grown = cap ? cap : 1024;
    while (grown < have + len) grown *= 2;
    input_t *in = realloc(c->in, sizeof *in + grown);
    if (!in) return QS_ENOMEM;
    in->len = (uint32_t)have;
    in->cap = (uint32_t)grown;
    c->in = in;
  }
  memcpy(c->in->data + have, data, len);
  c->in->len += (uint32_t)len;
  return 0;
}

void qs_http_conn_drop_input(qs_http_conn_t *c) {
  free(c->in);
  c->in = NULL;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

void qs_http_conn_read_start(qs_http_conn_t *c) {
  if (c->reading || c->state == ST_CLOSED) return;
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = true;
}

static void read_stop(qs_http_conn_t *c) {
  if (!c->reading) return;
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = false;
}

static void dispatch(qs_http_conn_t *c) {
  qs_h1_request_t *req = qs_h1_parser_take(c->parser);
  req->conn = c;
  req->pub.protocol = &qs_http_protocol_h1;
  qs_net_addr_format(&c->addr, req->remote_addr, sizeof req->remote_addr);
  c->req = req;
  c->served = true;
  qs_http_conn_enter(c, ST_HANDLING);
  if (req->upgrade || !req->keep_alive) c->close_after = true;
  c->server->handler(&req->pub, c->server->ctx);
}

/* Parses what can be parsed: `data` plus whatever waited in c->in. */
void qs_http_conn_process_input(qs_http_conn_t *c, const char *data, size_t len) {
  if (keep_input(c, data, len) != 0) {
    qs_http_conn_fail(c, QS_ENOMEM);
    return;
  }
  if (!c->preface_checked && c->in) {
    size_t n = c->in->len < QS_H2_PREFACE_LEN ? c->in->len : QS_H2_PREFACE_LEN;
    if (memcmp(c->in->data, QS_H2_PREFACE, n) != 0) {
      c->preface_checked = true;
    } else if (n < QS_H2_PREFACE_LEN) {
      return; /* maybe the preface: wait for the rest */
    } else {
      qs_http_h2_switch(c);
      return;
    }
  }
  size_t off = 0;
  while (c->state == ST_READING && off < qs_http_input_len(c->in)) {
    size_t used = 0;
    qs_h1_event_t ev = qs_h1_parser_feed(c->parser, c->in->data + off, c->in->len - off, &used);
    off += used;
    qs_http_deadline_refresh(c); /* a request may have begun */
    if (ev == QS_H1_NEED_MORE) break;
    if (ev == QS_H1_CONTINUE) {
      if (qs_http_conn_queue_static(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 0)
        qs_http_conn_fail(c, QS_ENOMEM);
      continue;
    }
    if (ev == QS_H1_ERROR) {
      const char *reason;
      int status = qs_h1_parser_status(c->parser, &reason);
      qs_http_conn_drop_input(c);
      qs_http_conn_send_error(c, status, reason);
      return;
    }
    /* QS_H1_REQUEST: keep the rest for later, then hand the request over. */
    memmove(c->in->data, c->in->data + off, c->in->len - off);
    c->in->len -= (uint32_t)off;
    off = 0;
    if (!c->in->len) qs_http_conn_drop_input(c);
    dispatch(c);
    return;
  }
  if (c->state == ST_CLOSED) return;
  if (off) {
    memmove(c->in->data, c->in->data + off, c->in->len - off);
    c->in->len -= (uint32_t)off;
  }
  if (!qs_http_input_len(c->in)) qs_http_conn_drop_input(c);
}

/* Input bytes (decrypted, with TLS), in the connection's current state. */
void qs_http_conn_input(qs_http_conn_t *c, const char *data, size_t len) {
  qs_http_server_t *s = c->server;
  switch (c->state) {
    case ST_READING:
      qs_http_conn_process_input(c, data, len);
      break;
    case ST_H2:
      /* A protocol error queues a GOAWAY: close once it is out. */
      if (!qs_http_h2_feed(c, data, len)) c->close_after = true;
      break;
    case ST_DRAINING:
    case ST_ERRORING:
      break; /* discarded */
    default:
      /* A request is being answered: keep early input, bounded. */
      if (keep_input(c, data, len) != 0) {
        qs_http_conn_fail(c, QS_ENOMEM);
        return;
      }
      if (qs_http_input_len(c->in) >= s->limits.max_header_bytes) {
        if (c->state == ST_STREAMING || c->state == ST_STREAM_ENDING)
          qs_http_conn_fail(c, QS_ECLOSED); /* nobody sends requests behind an event stream */
        else
          read_stop(c);
      }
      break;
  }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  qs_http_conn_t *c = stream->data;
  qs_http_server_t *s = c->server;
  if (buf->base == s->read_buf) s->read_buf_busy = false;
  if (nread == 0 || c->state == ST_CLOSED) return;
  if (nread < 0) {
    /* EOF or error: the peer is gone (HTTP/1.1 has no half-closed requests worth keeping). */
    qs_http_conn_fail(c, QS_ECLOSED);
    return;
  }
  qs_http_conn_transport(c)->read(c, buf->base, (size_t)nread);
  qs_http_deadline_refresh(c); /* whatever the input changed */
}
