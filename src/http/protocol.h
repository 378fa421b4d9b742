/* The seam between the protocol-neutral API of http.h (response.c) and the
 * protocols that implement it: HTTP/1.x (h1_response.c, on the connection
 * of server_internal.h) and HTTP/2 (http2.c, with h2_conn.c). Not part of
 * the folder's contract.
 *
 * Every request a protocol hands to the handler carries its protocol's
 * table (qs_http_request_t.protocol), and every response stream starts with
 * struct qs_http_stream, which does too: the public functions go through
 * the table and never ask which protocol they speak. A new protocol (HTTP/3)
 * provides one such table, fills qs_http_request_t (version_major, and
 * protocol) for each request it parses, embeds a struct qs_http_stream in
 * each of its streams, and calls on_close / on_drain as their contracts in
 * http.h say. */
#ifndef QS_HTTP_PROTOCOL_H
#define QS_HTTP_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

/* What every protocol's response stream starts with. */
struct qs_http_stream {
  void (*on_close)(qs_http_stream_t *stream, int reason, void *ctx);
  void (*on_drain)(qs_http_stream_t *stream, void *ctx);
  void *ctx;
  const qs_http_protocol_t *protocol; /* the protocol that carries it */
};

/* A protocol's answers and streams. Each entry implements the http.h
 * function of the same name, with that function's contract; arguments are
 * already checked not to be NULL. */
struct qs_http_protocol {
  const char *name; /* for logs: "HTTP/1.1", "HTTP/2" */
  void (*request_on_abort)(qs_http_request_t *req, void (*fn)(qs_http_request_t *req, void *ctx), void *ctx);
  int (*respond)(qs_http_request_t *req, int status, const qs_http_header_t *headers, size_t header_count,
                 qs_slice_t body);
  int (*stream_start)(qs_http_request_t *req, int status, const qs_http_header_t *headers,
                      size_t header_count, qs_http_stream_t **out);
  /* Both writes: `copy` for qs_http_stream_write (release is NULL then),
   * else the zero-copy qs_http_stream_write_ref. One call per delivery. */
  int (*stream_write)(qs_http_stream_t *stream, qs_slice_t bytes, void (*release)(void *owner), void *owner,
                      bool copy);
  size_t (*stream_queued_bytes)(const qs_http_stream_t *stream);
  bool (*stream_write_waits)(const qs_http_stream_t *stream);
  void (*stream_drain_blocked_only)(qs_http_stream_t *stream, bool only);
  void (*stream_close)(qs_http_stream_t *stream);
  void (*stream_abort)(qs_http_stream_t *stream);
};

/* HTTP/1.x (h1_response.c). */
extern const qs_http_protocol_t qs_http_protocol_h1;

/* HTTP/2 (h2_conn.c, over http2.c's session). */
extern const qs_http_protocol_t qs_http_protocol_h2;

/* Shared request helpers (request.c). */

/* Splits pub->target into path and query (origin-form, or absolute-form
 * whose path starts after the authority). */
void qs_http_split_target(qs_http_request_t *pub);

/* True when every name is a token and no value holds CR, LF or NUL. */
bool qs_http_headers_valid(const qs_http_header_t *headers, size_t count);

#endif
