/* TLS on a connection (tls_io.c): ciphertext read is decrypted into the
 * connection's input; queued plaintext is encrypted at flush time and the
 * ciphertext takes its place; what the session says on its own (handshake,
 * tickets, close_notify) is written as it appears. Not part of the folder's
 * contract. */
#ifndef QS_HTTP_TLS_IO_H
#define QS_HTTP_TLS_IO_H

#include <stdbool.h>

#include "http/server_internal.h"

/* Ciphertext read: what decrypts goes to qs_http_conn_input now, then the
 * session's own output is sent. May close the connection. */
void qs_http_tls_input(qs_http_conn_t *c, const char *cipher, size_t len);

/* Writes the ciphertext the session holds, as the in-flight batch
 * (`as_inflight`, for queued output) or on its own. False after
 * qs_http_conn_fail. */
bool qs_http_tls_send_output(qs_http_conn_t *c, bool as_inflight);

/* Encrypts one batch of queued plaintext (`taken` is released at once) and
 * writes it. True when the flush may go on at once; false when it must
 * wait (a write in flight, or the connection failed). */
bool qs_http_tls_flush(qs_http_conn_t *c, const uv_buf_t *iov, unsigned n, seg_t *taken);

#endif
