/* The deadline every condition of a connection is under (deadline.c). Not
 * part of the folder's contract. */
#ifndef QS_HTTP_DEADLINE_H
#define QS_HTTP_DEADLINE_H

#include <stdint.h>

#include "http/server_internal.h"

/* Moves the connection to `state` and puts it under the deadline that state
 * calls for: every state change goes through here, so none can be left
 * without one. */
void qs_http_conn_enter(qs_http_conn_t *c, conn_state_t state);

/* Puts the connection under the deadline its current condition calls for,
 * when that changed (a deadline is never pushed back while the condition
 * lasts). Called after every read and every flush, besides state changes. */
void qs_http_deadline_refresh(qs_http_conn_t *c);

/* Acts on every deadline at or before `now_ms`: a late HTTP/1.x request
 * is answered 408, anything else closed. The sweep timer calls it with the
 * loop's time; the connection fuzz target with a later time, to let time pass. */
void qs_http_server_expire(qs_http_server_t *server, uint64_t now_ms);

#endif
