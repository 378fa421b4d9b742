/* The protocol-neutral HTTP API: a server, requests, complete responses and
 * streaming responses (Server-Sent Events).
 *
 * Nothing here names an HTTP/1.1 or HTTP/2 detail (chunked encoding,
 * Connection headers, streams, flow control): those belong to the protocol
 * code behind it (http1_parser.c and h1_response.c for HTTP/1.x, http2.c
 * and h2_conn.c for HTTP/2, each plugged in through protocol.h), which
 * chooses the framing itself. A connection speaks HTTP/2 when
 * it starts with the HTTP/2 preface: h2c with prior knowledge (what reverse
 * proxies use) or TLS after ALPN "h2". Requests of one HTTP/2 connection are
 * handled concurrently, each on its own stream.
 *
 * Threading: a server and everything it hands out belong to the loop it was
 * created on and are used from that loop's thread only. A hub with N workers
 * creates N servers on the same address (SO_REUSEPORT). Limits apply per server.
 * The process must ignore SIGPIPE (main.c): a write to a vanished peer
 * then fails with EPIPE and ends the connection instead of the process.
 *
 * Lifetimes, in short:
 * - A request is lent to the handler and stays valid until the handler calls
 *   qs_http_respond() or qs_http_stream_start() (which consume it), or until
 *   its abort callback returns.
 * - A stream stays valid until its on_close callback returns. */
#ifndef QS_HTTP_HTTP_H
#define QS_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/slice.h"

/* One header line. In requests the slices point into the request; in
 * responses they are borrowed for the duration of the call. */
typedef struct {
  qs_slice_t name;
  qs_slice_t value;
} qs_http_header_t;

/* A parsed request. Every field is read-only and borrowed from the server;
 * all of it stays valid as long as the request does. No slice is
 * NUL-terminated (remote_addr is). */
typedef struct qs_http_protocol qs_http_protocol_t;

typedef struct qs_http_request {
  qs_slice_t method; /* as sent: "GET", "HEAD", "POST", "OPTIONS", "QUERY", ... */
  qs_slice_t target; /* the raw request target, e.g. "/.well-known/mercure?topic=a%2Fb" */
  qs_slice_t path;   /* the target's path, undecoded, without query or fragment */
  qs_slice_t query;  /* after the first '?' and before any '#', without the '?'; empty when none */
  bool has_query;    /* true when the target has a '?', even an empty query */
  const qs_http_header_t *headers; /* in arrival order, names as sent */
  size_t header_count;
  qs_slice_t body;         /* complete, de-chunked; empty when none */
  qs_slice_t origin;       /* the Origin header's value, empty when absent */
  bool has_origin;         /* true when an Origin header was sent */
  const char *remote_addr; /* peer address as text: "203.0.113.5", "2001:db8::1" */
  uint8_t version_major;   /* 1 for HTTP/1.x, 2 for HTTP/2 */
  uint8_t version_minor;
  const qs_http_protocol_t *protocol; /* the protocol that answers it (internal to http/) */
} qs_http_request_t;

/* Called once per request, from the loop. The handler must eventually either
 * answer (qs_http_respond or qs_http_stream_start), now or later from the
 * same loop, or learn through qs_http_request_on_abort() that it no longer
 * has to. Requests of one HTTP/1.x connection are handled strictly one at a
 * time; those of an HTTP/2 connection, one per stream, at once. */
typedef void (*qs_http_handler_fn)(qs_http_request_t *req, void *ctx);

/* Caps on what a client may send or hold. A field left 0 takes the default
 * shown. Every limit applies per server, that is per loop. */
typedef struct {
  size_t max_header_bytes;    /* request line + headers (16 KiB): 431, or 414 for the target */
  size_t max_header_count;    /* (100): 431 */
  size_t max_body_bytes;      /* (1 MiB): 413, answered from Content-Length before the body */
  uint64_t header_timeout_ms; /* from the first byte (or the accept) to the end of headers (10 s): 408 */
  uint64_t idle_timeout_ms;   /* keep-alive idle time, and body inactivity (60 s): closed */
  size_t max_connections;     /* open connections in total (0: unlimited): 503 then close */
  size_t max_connections_per_address; /* from one client address (0: unlimited): 429 then close */
  /* Counters shared with other servers (http/admission.h), borrowed: the two
   * connection limits above then hold across them and are not used. NULL:
   * this server counts its own connections against those limits. */
  struct qs_http_admission *admission;
  /* Adaptive coalescing (0: off): when the loop spends most of its time
   * writing event streams (each update's fan-out takes longer than the gap
   * to the next), events to one connection are held up to this long and
   * leave in one write. At low load nothing is held and no timer runs. */
  uint64_t coalesce_max_delay_ms;
  /* Write counters shared with other servers, borrowed; NULL: the server's
   * own (qs_http_server_counters). */
  struct qs_http_counters *counters;
} qs_http_limits_t;

/* What the servers' writes did, for metrics: updated from each server's
 * loop, readable from any thread (relaxed atomics). */
typedef struct qs_http_counters {
  _Atomic uint64_t stream_writes;    /* writes (writev or TLS records) that carried event-stream bytes */
  _Atomic uint64_t coalesce_windows; /* times stream writes were held for coalescing */
} qs_http_counters_t;

/* Fills *limits with the defaults above. */
void qs_http_limits_default(qs_http_limits_t *limits);

typedef struct qs_http_server qs_http_server_t;

/* Starts listening on host:port ("localhost", "127.0.0.1", "0.0.0.0", "::";
 * port 0 = ephemeral) on `loop`, calling handler(req, ctx) for each request.
 * `host` and `limits` (may be NULL for the defaults) are copied. On success
 * *out is owned by the caller until qs_http_server_close() completes.
 * Returns 0, QS_EINVAL, QS_EIO (bind/listen failed) or QS_ENOMEM. */
int qs_http_server_create(uv_loop_t *loop, const char *host, int port, const qs_http_limits_t *limits,
                          qs_http_handler_fn handler, void *ctx, qs_http_server_t **out);

struct qs_tls_context;

/* Serves TLS (net/tls.h) on the connections accepted from now on, with the
 * context's current certificate; `tls` is borrowed and must outlive the
 * server. Call on the loop's thread (or before it runs). A connection
 * refused for the connection limits is then closed without an answer (one
 * would need a handshake first). Returns 0 or QS_ENOMEM. */
int qs_http_server_use_tls(qs_http_server_t *server, struct qs_tls_context *tls);

/* The bound port. */
int qs_http_server_port(const qs_http_server_t *server);

/* Registers fn(ctx) (NULL removes it) for the end of each loop iteration,
 * where queued output is written: answers (responses) are written first,
 * then fn is called, then event streams are written. It is the moment for a
 * producer to queue whatever became ready meanwhile (updates published by
 * the requests just answered), so that it leaves in the same writev per
 * stream as what was already queued. fn may write to streams and answer
 * requests; while it keeps producing answers, answers and fn alternate, a
 * bounded number of times per iteration. fn is not called while a
 * connection already has 64 KiB or more queued since its last write (the
 * producer then catches up at its own next wake-up, after the writes). */
void qs_http_server_on_flush(qs_http_server_t *server, void (*fn)(void *ctx), void *ctx);

/* Registers `fn`, called at the end of a loop iteration's writes: every
 * byte queued on the server's connections before the previous call has
 * been handed to the kernel, and with `all`, every byte queued so far.
 * Bytes on connections whose earlier write still waits for the peer (slow
 * readers) do not count. Called at every iteration at low load; under a
 * continuous fan-out about once per pass over the connections. fn may
 * answer requests (they leave at the next iteration, which does not
 * block). */
void qs_http_server_on_written(qs_http_server_t *server, void (*fn)(void *ctx, bool all), void *ctx);

/* Ends an open coalescing window now: the connections it holds are written
 * by this iteration's writes (called from on_flush) or the next one's. */
void qs_http_server_end_window(qs_http_server_t *server);

/* The counters the server adds to (limits.counters, or its own). */
const qs_http_counters_t *qs_http_server_counters(const qs_http_server_t *server);

/* Number of open connections (for metrics and tests). */
size_t qs_http_server_connection_count(const qs_http_server_t *server);

/* Closes the listening socket (new connections are refused from then on)
 * and keeps serving the open connections, for a drain before
 * qs_http_server_close(). Idempotent; nothing once closing. */
void qs_http_server_stop_accepting(qs_http_server_t *server);

/* Graceful shutdown: stops accepting, closes idle connections, lets a
 * request whose handler has not answered yet finish (its connection closes
 * after the answer), ends every stream cleanly (each gets its on_close with
 * QS_ECLOSED), and force-closes whatever is still open after a 2 s
 * linger (pending requests then get their abort callback). Then calls
 * on_closed(ctx) (may be NULL) from the loop and frees the server. Idempotent:
 * a second call does nothing and never calls its callback. */
void qs_http_server_close(qs_http_server_t *server, void (*on_closed)(void *ctx), void *ctx);

/* ---- Requests ---------------------------------------------------------- */

/* The first value of header `name` (ASCII case-insensitive), or false. */
bool qs_http_request_header(const qs_http_request_t *req, const char *name, qs_slice_t *value);

/* Every value of header `name`, in arrival order: writes up to `max` of them
 * to out[] and returns how many there are in all (which may exceed max). */
size_t qs_http_request_header_values(const qs_http_request_t *req, const char *name, qs_slice_t *out,
                                     size_t max);

/* True when the method is exactly `method` ("GET", "HEAD", ...). */
bool qs_http_request_method_is(const qs_http_request_t *req, const char *method);

/* Registers fn(req, ctx), called once if the connection dies (peer gone,
 * timeout, server shutdown) before the handler answered. It runs from the
 * loop, never inside a call of this API. The request is freed when fn
 * returns: the handler must forget it there and must not answer it. An
 * answer given after the connection died but before fn ran returns
 * QS_ECLOSED (the request is consumed) and fn is not called. Without a
 * registered callback the request instead lingers until answered, and the
 * answer returns QS_ECLOSED. A later call replaces the earlier
 * registration; fn NULL removes it. */
void qs_http_request_on_abort(qs_http_request_t *req, void (*fn)(qs_http_request_t *req, void *ctx),
                              void *ctx);

/* ---- Complete responses ------------------------------------------------ */

/* Answers `req` with `status` (200..599), the given headers (borrowed for the
 * call; count may be 0 with headers NULL) and `body` (copied). The protocol
 * layer adds the framing headers itself (Content-Length, Date, and whatever
 * connection management needs); a Content-Length, Transfer-Encoding or
 * Connection header passed in is ignored. A HEAD request gets the headers
 * only. On success, and on QS_ECLOSED (the connection died meanwhile), the
 * request is consumed: do not touch it again. QS_EINVAL (bad status, or a
 * header name or value that is not a valid token/field text, e.g. holds CR or
 * LF) or QS_ENOMEM leave the request untouched, so the caller can answer again. */
int qs_http_respond(qs_http_request_t *req, int status, const qs_http_header_t *headers, size_t header_count,
                    qs_slice_t body);

/* Convenience: a text/plain response whose body is `text` plus a newline. */
int qs_http_respond_text(qs_http_request_t *req, int status, const char *text);

/* The standard reason phrase for `status` ("Not Found"), or "" when unknown. */
const char *qs_http_status_text(int status);

/* True when `ch` may appear in a token (RFC 9110 5.6.2: methods, field names, media types). */
bool qs_http_is_tchar(unsigned char ch);

/* ---- Streaming responses ----------------------------------------------- */

typedef struct qs_http_stream qs_http_stream_t;

/* Sends the status line and headers now and opens a response body of
 * unknown length (HTTP/1.1: chunked; HTTP/1.0: delimited by the close).
 * Headers as for qs_http_respond(). On success the request is consumed (its
 * memory is freed: copy what you need from it before calling) and *out is
 * the stream, valid until its on_close callback returns; register that
 * callback right away. Errors as for qs_http_respond(). For a HEAD request
 * the headers are sent and later writes are accepted and dropped. */
int qs_http_stream_start(qs_http_request_t *req, int status, const qs_http_header_t *headers,
                         size_t header_count, qs_http_stream_t **out);

/* Appends a copy of `bytes` to the body. Writes made during one loop
 * iteration leave together in one writev, at the end of the iteration.
 * Returns 0, QS_ECLOSED (the stream is closing or closed) or QS_ENOMEM. */
int qs_http_stream_write(qs_http_stream_t *stream, qs_slice_t bytes);

/* Appends `bytes` without copying: the stream keeps the pointer until the
 * bytes are written or dropped, then calls release(owner) exactly once (from
 * the loop, possibly before this returns when len is 0). On failure
 * (QS_ECLOSED, QS_ENOMEM) release is not called and the caller keeps its
 * reference. Typical use: the bytes of a reference-counted update, with
 * release dropping that reference. */
int qs_http_stream_write_ref(qs_http_stream_t *stream, qs_slice_t bytes, void (*release)(void *owner),
                             void *owner);

/* Bytes accepted by the stream and not yet handed to the kernel: the
 * backpressure measure for slow subscribers. */
size_t qs_http_stream_queued_bytes(const qs_http_stream_t *stream);

/* True when queued bytes wait for the peer: a write the kernel did not take
 * whole, or an HTTP/2 flow-control window. False when nothing is queued or
 * the bytes only wait for the server's own flush (a later slice of a long
 * one, or a coalescing window, qs_http_limits_t.coalesce_max_delay_ms). The
 * measure for stalled subscribers. */
bool qs_http_stream_write_waits(const qs_http_stream_t *stream);

/* Registers on_close(stream, reason, ctx), called exactly once when the
 * stream ends, from the loop and never inside a call of this API (libuv's
 * contract for closing): reason 0 after qs_http_stream_close() flushed everything,
 * QS_ECLOSED when the peer went away or the server shut down, QS_EIO when a
 * write failed. The stream is freed when the callback returns. Queued
 * zero-copy bytes are released no later than the connection's close. */
void qs_http_stream_on_close(qs_http_stream_t *stream,
                             void (*on_close)(qs_http_stream_t *stream, int reason, void *ctx), void *ctx);

/* Registers on_drain(stream, ctx) (ctx as given to qs_http_stream_on_close),
 * called each time every queued byte has been handed to the kernel: the
 * moment to queue more when a producer paces itself (replayed history).
 * It may write to or close the stream. NULL removes it. */
void qs_http_stream_on_drain(qs_http_stream_t *stream, void (*on_drain)(qs_http_stream_t *stream, void *ctx));

/* With `only` true, on_drain is called only for the drains that end a wait:
 * some queued bytes could not be handed to the kernel at once (the peer was
 * slow) and every byte has now left. A producer that no longer paces itself
 * (live events) but still wants to know that writes progress sets it; the
 * common drain, where the kernel takes everything at the end of the loop
 * iteration, then costs no callback. Off when the stream starts. */
void qs_http_stream_drain_blocked_only(qs_http_stream_t *stream, bool only);

/* Ends the body cleanly after the queued bytes; on_close(…, 0, …) follows
 * once they are written. Idempotent; later writes return QS_ECLOSED. */
void qs_http_stream_close(qs_http_stream_t *stream);

/* Ends the stream at once, dropping what is queued (a reader too slow to
 * keep up holds nothing more): HTTP/1.x closes the connection, HTTP/2 resets
 * the stream (CANCEL) and the connection's other streams go on. on_close
 * follows with QS_ECLOSED from the loop, never before this returns; until
 * then writes return QS_ECLOSED. Does nothing once on_close was called or
 * is due. */
void qs_http_stream_abort(qs_http_stream_t *stream);

#endif
