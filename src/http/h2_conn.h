/* An HTTP/2 session (http2.c) on a connection (h2_conn.c): the connection
 * switches to it on the preface, feeds it input, lets it fill the write
 * queue at flush time. Not part of the folder's contract. */
#ifndef QS_HTTP_H2_CONN_H
#define QS_HTTP_H2_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include "http/server_internal.h"

/* The kept input starts with the HTTP/2 preface: the connection becomes an
 * HTTP/2 one (state H2) and that input goes to its new session. */
void qs_http_h2_switch(qs_http_conn_t *c);

/* Feeds input to the session; false when the peer broke the protocol (a
 * GOAWAY is queued: close once it is out). */
bool qs_http_h2_feed(qs_http_conn_t *c, const char *data, size_t len);

/* Moves HTTP/2 frames into the queue (bounded), then runs the callbacks
 * that became due. False once the connection is no longer an open HTTP/2
 * one (qs_http_conn_fail, or a callback closed it). */
bool qs_http_h2_pump(qs_http_conn_t *c);

#endif
