/* The request, response and stream API of http.h, protocol-neutral: each
 * function goes through the table of the protocol that carries the request
 * or stream (protocol.h). */
#include "base/buf.h"
#include "base/error.h"
#include "http/protocol.h"

void qs_http_request_on_abort(qs_http_request_t *req, void (*fn)(qs_http_request_t *req, void *ctx),
                              void *ctx) {
  req->protocol->request_on_abort(req, fn, ctx);
}

int qs_http_respond(qs_http_request_t *req, int status, const qs_http_header_t *headers, size_t header_count,
                    qs_slice_t body) {
  if (!req) return QS_EINVAL;
  return req->protocol->respond(req, status, headers, header_count, body);
}

int qs_http_respond_text(qs_http_request_t *req, int status, const char *text) {
  qs_buf_t body;
  qs_buf_init(&body, (size_t)-1);
  if (qs_buf_append_cstr(&body, text) || qs_buf_append(&body, "\n", 1)) {
    qs_buf_dispose(&body);
    return QS_ENOMEM;
  }
  qs_http_header_t h = {qs_slice_from_cstr("Content-Type"), qs_slice_from_cstr("text/plain; charset=utf-8")};
  int rc = qs_http_respond(req, status, &h, 1, qs_buf_slice(&body));
  qs_buf_dispose(&body);
  return rc;
}

int qs_http_stream_start(qs_http_request_t *req, int status, const qs_http_header_t *headers,
                         size_t header_count, qs_http_stream_t **out) {
  if (!req || !out) return QS_EINVAL;
  return req->protocol->stream_start(req, status, headers, header_count, out);
}

int qs_http_stream_write(qs_http_stream_t *stream, qs_slice_t bytes) {
  return stream->protocol->stream_write(stream, bytes, NULL, NULL, true);
}

int qs_http_stream_write_ref(qs_http_stream_t *stream, qs_slice_t bytes, void (*release)(void *owner),
                             void *owner) {
  return stream->protocol->stream_write(stream, bytes, release, owner, false);
}

size_t qs_http_stream_queued_bytes(const qs_http_stream_t *stream) {
  return stream->protocol->stream_queued_bytes(stream);
}

bool qs_http_stream_write_waits(const qs_http_stream_t *stream) {
  return stream->protocol->stream_write_waits(stream);
}

void qs_http_stream_on_drain(qs_http_stream_t *stream,
                             void (*on_drain)(qs_http_stream_t *stream, void *ctx)) {
  stream->on_drain = on_drain;
}

void qs_http_stream_drain_blocked_only(qs_http_stream_t *stream, bool only) {
  stream->protocol->stream_drain_blocked_only(stream, only);
}

void qs_http_stream_on_close(qs_http_stream_t *stream,
                             void (*on_close)(qs_http_stream_t *stream, int reason, void *ctx), void *ctx) {
  stream->on_close = on_close;
  stream->ctx = ctx;
}

void qs_http_stream_close(qs_http_stream_t *stream) {
  if (stream) stream->protocol->stream_close(stream);
}

void qs_http_stream_abort(qs_http_stream_t *stream) {
  if (stream) stream->protocol->stream_abort(stream);
}
