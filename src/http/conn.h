/* A connection's life around its answers (conn.c): what follows a flush
 * (the next request, the next drain callback, the close), error answers,
 * the graceful drain and the close. Not part of the folder's contract. */
#ifndef QS_HTTP_CONN_H
#define QS_HTTP_CONN_H

#include "http/server_internal.h"

/* Closes the connection now; idempotent. A request still with its handler
 * gets its abort callback, a stream its on_close. The memory goes in the
 * handle's close callback. */
void qs_http_conn_fail(qs_http_conn_t *c, int reason);

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
