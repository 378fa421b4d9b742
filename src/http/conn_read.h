/* Reading a connection (conn_read.c): the loop's shared read buffer, the
 * input kept (bounded) while a request is being answered, HTTP/1.x parsing
 * and dispatch to the handler, and the switch to HTTP/2 on its preface. Not
 * part of the folder's contract. */
#ifndef QS_HTTP_CONN_READ_H
#define QS_HTTP_CONN_READ_H

#include <stddef.h>
#include <stdint.h>

#include "http/server_internal.h"

/* Input kept for later (allocated only while there is some). */
struct input {
  uint32_t len, cap;
  char data[];
};

/* The bytes of kept input; 0 for none (NULL). */
static inline size_t qs_http_input_len(const input_t *in) { return in ? in->len : 0; }

/* Starts reading (idempotent; nothing once closed). */
void qs_http_conn_read_start(qs_http_conn_t *c);

/* Drops the kept input. */
void qs_http_conn_drop_input(qs_http_conn_t *c);

/* Input bytes (decrypted, with TLS), acted on in the connection's current
 * state: parsed, fed to the HTTP/2 session, kept or discarded. */
void qs_http_conn_input(qs_http_conn_t *c, const char *data, size_t len);

/* Parses what can be parsed of `data` plus the kept input (READING only):
 * at most one request is handed to the handler. */
void qs_http_conn_process_input(qs_http_conn_t *c, const char *data, size_t len);

#endif
