/* When connections are flushed (write_schedule.c): a dirty list written at
 * the end of each loop iteration from a uv_check, answers before event
 * streams, the producer's on_flush between them, stream writes sliced per
 * turn, and adaptive coalescing under saturation. Not part of the folder's
 * contract. */
#ifndef QS_HTTP_WRITE_SCHEDULE_H
#define QS_HTTP_WRITE_SCHEDULE_H

#include <stdbool.h>

#include "http/server_internal.h"

/* Queues the connection for the flush at the end of the loop iteration
 * (answers first; stream bytes may be held for a coalescing window). */
void qs_http_conn_mark_dirty(qs_http_conn_t *c);

/* True when the connection's queued bytes wait for the peer (a write in
 * flight) rather than for the server's own flush (the connection is on the
 * dirty or the held list). */
bool qs_http_conn_write_waits(const qs_http_conn_t *c);

/* Takes `c` off its server's dirty or held list (when on one), and out of
 * its write generation. */
void qs_http_conn_unlink_dirty(qs_http_conn_t *c);

/* Initialises and starts the server's flush check, and initialises the idle
 * handle and coalescing timer it uses (4 handles in all, closed by
 * qs_http_server_maybe_finish_close). */
void qs_http_schedule_init(qs_http_server_t *s);

/* Keeps the loop from blocking in its poll until the next flush check
 * (something is due there: a failed connection's callbacks). */
void qs_http_schedule_wake(qs_http_server_t *s);

/* The server is closing: nothing is held any more, and what was held leaves
 * at this iteration's flush. */
void qs_http_schedule_shutdown(qs_http_server_t *s);

#endif
