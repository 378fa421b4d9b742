/* HTTP/1.1 internals shared by http1_parser.c (bytes -> requests, no socket)
 * and server.c (listener, connections, responses, streams). Not part of the
 * folder's contract: only http/ files and the http fuzz target include it. */
#ifndef QS_HTTP_HTTP1_INTERNAL_H
#define QS_HTTP_HTTP1_INTERNAL_H

#include <llhttp.h>

#include "base/buf.h"
#include "http/http.h"
#include "net/listener.h"

typedef struct qs_http_conn qs_http_conn_t;

/* Where one header line sits in a request's arena while it is parsed (the
 * arena may move while growing, so slices are made at the end of the headers). */
typedef struct {
  uint32_t name_off, name_len, value_off, value_len;
} qs_h1_header_span_t;

/* One request with everything it owns. `pub` is what handlers see. */
typedef struct qs_h1_request {
  qs_http_request_t pub;
  qs_buf_t arena;             /* method, target and header bytes (max: max_header_bytes) */
  qs_h1_header_span_t *spans; /* header positions in the arena */
  uint32_t span_count, span_cap;
  qs_http_header_t *headers; /* made from spans once the headers are complete */
  qs_buf_t body;             /* max: max_body_bytes */
  uint32_t target_off, target_len;
  bool keep_alive; /* llhttp_should_keep_alive() at message end */
  bool is_head;
  bool upgrade;         /* an Upgrade/CONNECT request: the connection closes after the answer */
  qs_http_conn_t *conn; /* NULL once the connection is gone */
  void (*on_abort)(qs_http_request_t *req, void *ctx);
  void *abort_ctx;
  char remote_addr[QS_NET_ADDR_TEXT_MAX];
} qs_h1_request_t;

/* Frees a request and everything it owns. */
void qs_h1_request_destroy(qs_h1_request_t *req);

/* What qs_h1_parser_feed() stopped on. */
typedef enum {
  QS_H1_NEED_MORE = 0, /* everything usable consumed; feed the rest again with more bytes */
  QS_H1_REQUEST,       /* a request is complete: take it with qs_h1_parser_take() */
  QS_H1_CONTINUE,      /* headers done and the client expects "100 Continue" before the body */
  QS_H1_ERROR,         /* malformed or over a limit: answer qs_h1_parser_status() and close */
} qs_h1_event_t;

typedef struct qs_h1_parser qs_h1_parser_t;

/* Creates a request parser with the given limits (copied). NULL when out of memory. */
qs_h1_parser_t *qs_h1_parser_create(const qs_http_limits_t *limits);

/* Frees the parser and any request it is building. NULL is allowed. */
void qs_h1_parser_destroy(qs_h1_parser_t *parser);

/* Feeds `len` bytes at `ptr` (which the parser may modify in place: it
 * rewrites a leading "QUERY " method, which llhttp does not know). Sets
 * *consumed to the bytes used; unused bytes must be fed again later,
 * followed by more input. After QS_H1_REQUEST the parser stays paused
 * (returns QS_H1_NEED_MORE consuming nothing) until qs_h1_parser_take(). */
qs_h1_event_t qs_h1_parser_feed(qs_h1_parser_t *parser, char *ptr, size_t len, size_t *consumed);

/* Hands over the completed request (owned by the caller) and lets the parser
 * go on with the next one. NULL when no request is complete. */
qs_h1_request_t *qs_h1_parser_take(qs_h1_parser_t *parser);

/* After QS_H1_ERROR: the status to answer (400, 413, 414, 431, 501, 505)
 * and a static reason. */
int qs_h1_parser_status(const qs_h1_parser_t *parser, const char **reason);

/* True when bytes of a request (not yet complete) have been consumed. */
bool qs_h1_parser_in_message(const qs_h1_parser_t *parser);

/* True when the current request's headers are complete (its body is being read). */
bool qs_h1_parser_in_body(const qs_h1_parser_t *parser);

#endif
