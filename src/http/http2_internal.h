/* The HTTP/2 session (RFC 9113, nghttp2; http2.c), and what the connection
 * (h2_conn.c) and the session share. Not part of the folder's contract.
 *
 * The connection code owns the connection (socket, transport, write queue,
 * timeouts) and
 * switches it to HTTP/2 when its first bytes are the connection preface
 * (h2c with prior knowledge, or TLS after ALPN "h2"). From then on it feeds
 * the input to the session, lets the session fill the write queue at flush
 * time, and tells it when the queue has been written. The session turns
 * streams into requests for the handler and answers and event streams into
 * frames. */
#ifndef QS_HTTP_HTTP2_INTERNAL_H
#define QS_HTTP_HTTP2_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"
#include "http/protocol.h"

/* The client connection preface (RFC 9113, section 3.4). */
#define QS_H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define QS_H2_PREFACE_LEN 24

/* ---- The session --------------------------------------------------------- */

typedef struct qs_h2_session qs_h2_session_t;

/* What a session needs from its connection. `conn` is the connection as
 * given to qs_h2_session_create. */
typedef struct {
  /* Appends bytes to the connection's write queue: 0 or QS_ENOMEM. */
  int (*send)(void *conn, const char *bytes, size_t len);
  /* Frames became ready to send (an answer, a stream write): flush soon. */
  void (*wake)(void *conn);
  /* Hands a complete request to the server's handler. */
  void (*handle)(void *conn, qs_http_request_t *req);
  /* What the session waits for (qs_h2_session_phase) may have changed. */
  void (*phase_changed)(void *conn);
  /* The Date header's value for now. */
  const char *(*date)(void *conn);
} qs_h2_conn_ops_t;

/* What a session waits for, which decides its connection's deadline. */
typedef enum {
  QS_H2_IDLE = 0,  /* no open stream */
  QS_H2_RECEIVING, /* some stream's request (header block or body) is incomplete */
  QS_H2_SERVING,   /* every request is whole; some stream is with the handler, or its answer is leaving */
  QS_H2_STREAMING, /* every open stream is an event stream */
} qs_h2_phase_t;

/* A server session for one connection: sends its SETTINGS (concurrent
 * streams, header list size from `limits`) at the next pump. `limits` and
 * `remote_addr` are copied. NULL when out of memory. */
qs_h2_session_t *qs_h2_session_create(void *conn, const qs_h2_conn_ops_t *ops, const qs_http_limits_t *limits,
                                      const char *remote_addr);

/* Processes input bytes (the preface included). Requests complete on the
 * way are handed to ops->handle. Returns 0, or QS_EIO when the peer broke
 * the protocol (a GOAWAY is queued: send it, then close). */
int qs_h2_session_feed(qs_h2_session_t *s, const char *data, size_t len);

/* Moves up to about `budget` bytes of frames to the connection (ops->send),
 * pulling stream data within the peer's flow-control windows. Returns 0, or
 * QS_ENOMEM / QS_EIO (close the connection). */
int qs_h2_session_pump(qs_h2_session_t *s, size_t budget);

/* True when a response head (an answer, a refusal or an event stream's
 * head) was submitted since the last pump: the connection's queue then
 * leaves with the answers, before the fan-out of the updates behind it. */
bool qs_h2_session_answer_due(const qs_h2_session_t *s);

/* True when the peer's flow-control window (the stream's or the
 * connection's) lets no more of the stream's data go. */
bool qs_h2_stream_window_closed(const qs_http_stream_t *stream);

/* The connection (as given to qs_h2_session_create) of the stream's session;
 * NULL once the session is gone. */
void *qs_h2_stream_conn(const qs_http_stream_t *stream);

/* True when frames wait to be pumped. */
bool qs_h2_session_wants_write(const qs_h2_session_t *s);

/* True when the session is over (GOAWAY exchanged or sent after an error,
 * nothing left to send): the connection may close. */
bool qs_h2_session_finished(const qs_h2_session_t *s);

/* The connection wrote everything queued: streams whose data all left get
 * their on_drain. `blocked` tells that some of it had to wait for the kernel. */
void qs_h2_session_drained(qs_h2_session_t *s, bool blocked);

/* Runs the callbacks that ending streams made due (on_close, a request's
 * on_abort), in order, and frees the stream objects they leave. From the
 * loop only (the connection's flush), never inside a call of http.h: that
 * is what keeps those calls from re-entering their callers. */
void qs_h2_session_run_due(qs_h2_session_t *s);

/* True when callbacks wait for qs_h2_session_run_due. */
bool qs_h2_session_has_due(const qs_h2_session_t *s);

/* What the session waits for now. */
qs_h2_phase_t qs_h2_session_phase(const qs_h2_session_t *session);

/* Graceful end (server shutdown): no new streams (GOAWAY), event streams end
 * cleanly (on_close with QS_ECLOSED once their data left), requests being
 * handled may still be answered. */
void qs_h2_session_shutdown(qs_h2_session_t *s);

/* The connection is gone: due callbacks run first, then requests with their
 * handler get their abort callback (or linger until answered), open streams
 * their on_close with `reason`; then the session is freed. From the loop. */
void qs_h2_session_destroy(qs_h2_session_t *s, int reason);

/* ---- The HTTP/2 entries of qs_http_protocol_h2 (protocol.h) ------------ *
 * Each has the contract of the http.h function of the same name. */

void qs_h2_request_on_abort(qs_http_request_t *req, void (*fn)(qs_http_request_t *req, void *ctx), void *ctx);
int qs_h2_respond(qs_http_request_t *req, int status, const qs_http_header_t *headers, size_t header_count,
                  qs_slice_t body);
int qs_h2_stream_start(qs_http_request_t *req, int status, const qs_http_header_t *headers,
                       size_t header_count, qs_http_stream_t **out);
int qs_h2_stream_write_ref(qs_http_stream_t *stream, qs_slice_t bytes, void (*release)(void *owner),
                           void *owner, bool copy);
size_t qs_h2_stream_queued_bytes(const qs_http_stream_t *stream);
void qs_h2_stream_drain_blocked_only(qs_http_stream_t *stream, bool only);
void qs_h2_stream_close(qs_http_stream_t *stream);
void qs_h2_stream_abort(qs_http_stream_t *stream);

#endif
