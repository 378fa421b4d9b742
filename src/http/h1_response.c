/* HTTP/1.x answers and event streams (complete responses with their
 * Content-Length, chunked event streams): the qs_http_protocol_h1 table
 * (protocol.h) behind the API of http.h, on the connection of
 * server_internal.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "http/conn.h"
#include "http/deadline.h"
#include "http/protocol.h"
#include "http/write_queue.h"
#include "http/write_schedule.h"

/* Framing headers belong to this layer. */
static bool is_framing_header(qs_slice_t name) {
  return qs_slice_eq_nocase(name, qs_slice_from_cstr("content-length")) ||
         qs_slice_eq_nocase(name, qs_slice_from_cstr("transfer-encoding")) ||
         qs_slice_eq_nocase(name, qs_slice_from_cstr("connection"));
}

const char *qs_http_date(qs_http_server_t *s) {
  int64_t sec = qs_clock_wall_ms() / 1000;
  if (sec != s->date_sec) {
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(s->date, sizeof s->date, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    s->date_sec = sec;
  }
  return s->date;
}

/* Writes the status line and headers (without the final CRLF). */
static int build_head(qs_buf_t *out, qs_http_conn_t *c, int status, const qs_http_header_t *headers,
                      size_t count) {
  /* One allocation for the usual head (no realloc as it grows), and no printf:
   * the status is a checked 3-digit number (check_answer). */
  size_t need = 128;
  for (size_t i = 0; i < count; i++) need += headers[i].name.len + headers[i].value.len + 4;
  int rc = qs_buf_reserve(out, need);
  char line[] = {'H',
                 'T',
                 'T',
                 'P',
                 '/',
                 '1',
                 '.',
                 '1',
                 ' ',
                 (char)('0' + status / 100 % 10),
                 (char)('0' + status / 10 % 10),
                 (char)('0' + status % 10),
                 ' '};
  if (!rc) rc = qs_buf_append(out, line, sizeof line);
  if (!rc) rc = qs_buf_append_cstr(out, qs_http_status_text(status));
  if (!rc) rc = qs_buf_append(out, "\r\n", 2);
  for (size_t i = 0; !rc && i < count; i++) {
    if (is_framing_header(headers[i].name)) continue;
    rc = qs_buf_append(out, headers[i].name.ptr, headers[i].name.len);
    if (!rc) rc = qs_buf_append(out, ": ", 2);
    if (!rc) rc = qs_buf_append(out, headers[i].value.ptr, headers[i].value.len);
    if (!rc) rc = qs_buf_append(out, "\r\n", 2);
  }
  if (!rc) rc = qs_buf_append(out, "Date: ", 6);
  if (!rc) rc = qs_buf_append_cstr(out, qs_http_date(c->server));
  if (!rc) rc = qs_buf_append(out, "\r\n", 2);
  return rc;
}

static int append_content_length(qs_buf_t *out, size_t len) {
  char digits[24];
  size_t n = sizeof digits;
  do {
    digits[--n] = (char)('0' + len % 10);
    len /= 10;
  } while (len);
  int rc = qs_buf_append(out, "Content-Length: ", 16);
  if (!rc) rc = qs_buf_append(out, digits + n, sizeof digits - n);
  if (!rc) rc = qs_buf_append(out, "\r\n", 2);
  return rc;
}

static qs_h1_request_t *request_of(qs_http_request_t *req) {
  return QS_CONTAINER_OF(req, qs_h1_request_t, pub);
}

static void h1_request_on_abort(qs_http_request_t *req, void (*fn)(qs_http_request_t *req, void *ctx),
                                void *ctx) {
  qs_h1_request_t *r = request_of(req);
  r->on_abort = fn;
  r->abort_ctx = ctx;
}

/* Checks an answer; on QS_ECLOSED the request is already freed. */
static int check_answer(qs_h1_request_t *r, int status, const qs_http_header_t *headers, size_t count) {
  if (status < 200 || status > 599 || (count && !headers) || !qs_http_headers_valid(headers, count))
    return QS_EINVAL;
  if (r->conn && r->conn->state == ST_CLOSED && r->conn->req == r) {
    r->conn->req = NULL; /* answered before its abort callback was due: it gets none */
    r->conn = NULL;
  }
  if (!r->conn) {
    qs_h1_request_destroy(r);
    return QS_ECLOSED;
  }
  if (r->conn->req != r) return QS_EINVAL;
  return 0;
}

static int h1_respond(qs_http_request_t *req, int status, const qs_http_header_t *headers,
                      size_t header_count, qs_slice_t body) {
  qs_h1_request_t *r = request_of(req);
  int rc = check_answer(r, status, headers, header_count);
  if (rc) return rc;
  qs_http_conn_t *c = r->conn;
  bool close = c->close_after || c->server->closing;
  bool no_body = status == 204 || status == 304;
  qs_buf_t head;
  qs_buf_init(&head, (size_t)-1);
  rc = build_head(&head, c, status, headers, header_count);
  if (!rc && !r->is_head && !no_body) rc = qs_buf_reserve(&head, body.len + 64);
  if (!rc && !no_body) rc = append_content_length(&head, body.len);
  if (!rc && close) rc = qs_buf_append_cstr(&head, "Connection: close\r\n");
  if (!rc && !close && req->version_major == 1 && req->version_minor == 0)
    rc = qs_buf_append_cstr(&head, "Connection: keep-alive\r\n");
  if (!rc) rc = qs_buf_append(&head, "\r\n", 2);
  if (!rc && !r->is_head && !no_body) rc = qs_buf_append(&head, body.ptr, body.len);
  if (!rc) rc = qs_http_conn_queue_copy(c, head.ptr, head.len, false);
  qs_buf_dispose(&head);
  if (rc) return rc == QS_ETOOBIG ? QS_ENOMEM : rc;
  c->close_after = close;
  c->req = NULL;
  qs_http_conn_enter(c, ST_RESPONDING);
  qs_h1_request_destroy(r);
  return 0;
}

/* ---- Streams ----------------------------------------------------------- */

static qs_http_conn_t *conn_of(const qs_http_stream_t *stream) {
  return QS_CONTAINER_OF(stream, qs_http_conn_t, stream);
}

static int h1_stream_start(qs_http_request_t *req, int status, const qs_http_header_t *headers,
                           size_t header_count, qs_http_stream_t **out) {
  qs_h1_request_t *r = request_of(req);
  int rc = check_answer(r, status, headers, header_count);
  if (rc) return rc;
  qs_http_conn_t *c = r->conn;
  /* HTTP/1.1 frames the open-ended body with chunks and may keep the
   * connection afterwards; HTTP/1.0 has only the close to end it. */
  bool chunked = req->version_major == 1 && req->version_minor >= 1;
  if (!chunked) c->close_after = true;
  qs_buf_t head;
  qs_buf_init(&head, (size_t)-1);
  rc = build_head(&head, c, status, headers, header_count);
  if (!rc && chunked) rc = qs_buf_append_cstr(&head, "Transfer-Encoding: chunked\r\n");
  if (!rc && (c->close_after || c->server->closing)) rc = qs_buf_append_cstr(&head, "Connection: close\r\n");
  if (!rc) rc = qs_buf_append(&head, "\r\n", 2);
  if (!rc) rc = qs_http_conn_queue_copy(c, head.ptr, head.len, false);
  qs_buf_dispose(&head);
  if (rc) return rc == QS_ETOOBIG ? QS_ENOMEM : rc;
  c->head_only = r->is_head;
  c->chunked = chunked && !r->is_head;
  c->req = NULL;
  qs_http_conn_enter(c, ST_STREAMING);
  c->stream = (struct qs_http_stream){.protocol = &qs_http_protocol_h1};
  c->stream_open = true;
  c->stream_reason_closed = 0;
  c->drain_blocked_only = c->blocked = false;
  qs_h1_request_destroy(r);
  /* An idle subscriber should cost little: the parser goes until the stream ends. */
  qs_h1_parser_destroy(c->parser);
  c->parser = NULL;
  if (c->server->closing) {
    c->stream_reason_closed = 1;
    qs_h1_stream_end(c);
  }
  *out = &c->stream;
  return 0;
}

static int h1_stream_write(qs_http_stream_t *stream, qs_slice_t bytes, void (*release)(void *owner),
                           void *owner, bool copy) {
  qs_http_conn_t *c = conn_of(stream);
  if (c->state != ST_STREAMING) return QS_ECLOSED;
  if (!bytes.len || c->head_only) {
    if (release) release(owner);
    return 0;
  }
  if (copy) return qs_http_conn_queue_copy(c, bytes.ptr, bytes.len, c->chunked);
  return qs_http_conn_queue_ref(c, bytes, c->chunked, release, owner);
}

static size_t h1_stream_queued_bytes(const qs_http_stream_t *stream) { return conn_of(stream)->queued_bytes; }

static bool h1_stream_write_waits(const qs_http_stream_t *stream) {
  const qs_http_conn_t *c = conn_of(stream);
  return c->queued_bytes && qs_http_conn_write_waits(c);
}

static void h1_stream_drain_blocked_only(qs_http_stream_t *stream, bool only) {
  conn_of(stream)->drain_blocked_only = only;
}

void qs_h1_stream_end(qs_http_conn_t *c) {
  if (c->state != ST_STREAMING) return;
  qs_http_conn_enter(c, ST_STREAM_ENDING);
  if (c->chunked && qs_http_conn_queue_static(c, "0\r\n\r\n", 5) != 0) {
    qs_http_conn_fail(c, QS_ENOMEM);
    return;
  }
  qs_http_conn_mark_dirty(c); /* even with nothing queued, the end is noticed at the flush */
}

static void h1_stream_close(qs_http_stream_t *stream) { qs_h1_stream_end(conn_of(stream)); }

static void h1_stream_abort(qs_http_stream_t *stream) {
  qs_http_conn_t *c = conn_of(stream);
  if (c->stream_open) qs_http_conn_fail(c, QS_ECLOSED);
}

const qs_http_protocol_t qs_http_protocol_h1 = {
    .name = "HTTP/1.1",
    .request_on_abort = h1_request_on_abort,
    .respond = h1_respond,
    .stream_start = h1_stream_start,
    .stream_write = h1_stream_write,
    .stream_queued_bytes = h1_stream_queued_bytes,
    .stream_write_waits = h1_stream_write_waits,
    .stream_drain_blocked_only = h1_stream_drain_blocked_only,
    .stream_close = h1_stream_close,
    .stream_abort = h1_stream_abort,
};
