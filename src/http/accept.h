/* Accepting connections (accept.c): admission against the connection
 * limits (shared across a hub's servers, http/admission.h), with a 503/429
 * answer for a refused plaintext connection. Not part of the folder's
 * contract. */
#ifndef QS_HTTP_ACCEPT_H
#define QS_HTTP_ACCEPT_H

#include "http/server_internal.h"

/* The listener's callback (ctx: the server): accepts one connection. */
void qs_http_accept(qs_net_listener_t *listener, void *ctx);

#endif
