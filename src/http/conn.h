/* A connection's life around its answers (conn.c): what follows a flush
 * (the next request, the next drain callback, the close), error answers,
 * the graceful drain and the close. Not part of the folder's contract. */
#ifndef QS_HTTP_CONN_H
#define QS_HTTP_CONN_H

#include "http/server_internal.h"

/* Closes the connection; idempotent. It stops reading and writing at once
 * (CLOSED) and goes on its server's `failed` list: a request still with its
 * handler gets its abort callback, a stream its on_close (HTTP/2: every
 * stream's), from the loop (qs_http_conn_run_failed), never before this
 * returns (libuv's contract for closing). The memory goes in the handle's
 * close callback after that. */
void qs_http_conn_fail(qs_http_conn_t *c, int reason);

/* Calls the callbacks of every connection on the server's `failed` list and
 * closes their handles, including those failed meanwhile. From the flush
 * check only, where nothing of the producer is on the stack. */
void qs_http_conn_run_failed(qs_http_server_t *s);

/* Everything queued has been written: goes on with the connection's state
 * (the next request, a stream's on_drain or end, the drain). */
void qs_http_conn_after_flush(qs_http_conn_t *c);

/* Closes the write side once everything queued is out, then waits (bounded)
 * for the peer's EOF, so that input still in flight does not turn the close
 * into a reset that could destroy the answer before the client reads it. */
void qs_http_conn_start_drain(qs_http_conn_t *c);

/* Queues a short HTTP/1.1 error answer (`reason`: static text, also logged)
 * and closes afterwards. */
void qs_http_conn_send_error(qs_http_conn_t *c, int status, const char *reason);

#endif
