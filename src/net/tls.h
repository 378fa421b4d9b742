/* TLS as a transport (OpenSSL 3): a server context made from a certificate
 * chain and a private key, and per-connection sessions that work on memory
 * buffers only (no socket, no libuv): the caller feeds the ciphertext it
 * read, takes the plaintext out, hands plaintext in and sends the ciphertext
 * the session produced, in the order it was produced.
 *
 * Threading: a context may be used from any thread (its certificate can be
 * replaced while connections are accepted elsewhere). A session belongs to
 * one thread at a time. */
#ifndef QS_NET_TLS_H
#define QS_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

typedef struct qs_tls_context qs_tls_context_t;
typedef struct qs_tls_session qs_tls_session_t;

/* A server context from PEM files: `cert_path` (the certificate, then its
 * chain) and `key_path` (the matching private key). TLS 1.2 and 1.3 only;
 * ALPN picks "h2" when the client offers it, else "http/1.1". Returns 0, or
 * QS_EINVAL with `*reason` (static text saying which file and why:
 * unreadable, not PEM, key does not match the certificate), or QS_ENOMEM. */
int qs_tls_context_create(const char *cert_path, const char *key_path, qs_tls_context_t **out,
                          const char **reason);

/* Loads new PEM files into the context: sessions started from now on use
 * them; sessions already running keep the old ones. On failure (return
 * values as for create) the context is unchanged. Thread-safe. */
int qs_tls_context_reload(qs_tls_context_t *ctx, const char *cert_path, const char *key_path,
                          const char **reason);

/* Frees the context (NULL is fine). Sessions made from it must be gone. */
void qs_tls_context_destroy(qs_tls_context_t *ctx);

/* A server-side session for one accepted connection. NULL when out of
 * memory. Thread-safe with respect to the context. */
qs_tls_session_t *qs_tls_session_create(qs_tls_context_t *ctx);

/* Frees a session (NULL is fine). */
void qs_tls_session_destroy(qs_tls_session_t *s);

/* What qs_tls_session_read() reports. */
typedef enum {
  QS_TLS_OK = 0,    /* `*n` plaintext bytes were written to `out` (n > 0) */
  QS_TLS_WANT_READ, /* no plaintext until more ciphertext is fed */
  QS_TLS_CLOSED,    /* the peer sent close_notify: no more plaintext */
  QS_TLS_ERROR,     /* handshake or record failure: close the connection */
} qs_tls_status_t;

/* Gives the session `len` bytes of ciphertext read from the peer (copied).
 * Returns 0 or QS_ENOMEM. */
int qs_tls_session_feed(qs_tls_session_t *s, const char *cipher, size_t len);

/* Decrypts what was fed into at most `cap` bytes at `out`, driving the
 * handshake first. Call until it returns something other than QS_TLS_OK;
 * then send qs_tls_session_take_output() (the handshake and session tickets
 * produce ciphertext while reading). */
qs_tls_status_t qs_tls_session_read(qs_tls_session_t *s, char *out, size_t cap, size_t *n);

/* Encrypts `len` bytes of plaintext (all of them: the output buffer grows).
 * Only once established (a request arrives after the handshake). Returns 0,
 * QS_ENOMEM, or QS_EIO (not established, or the session failed). */
int qs_tls_session_write(qs_tls_session_t *s, const char *plain, size_t len);

/* Queues a close_notify alert (idempotent). */
void qs_tls_session_shutdown(qs_tls_session_t *s);

/* Bytes of ciphertext waiting to be sent. */
size_t qs_tls_session_output_len(const qs_tls_session_t *s);

/* Appends every waiting byte of ciphertext to `out` and forgets it.
 * Returns 0 or QS_ENOMEM (then nothing is taken). */
int qs_tls_session_take_output(qs_tls_session_t *s, qs_buf_t *out);

/* True once the handshake is complete. */
bool qs_tls_session_established(const qs_tls_session_t *s);

/* The ALPN protocol agreed ("h2" or "http/1.1"), or "" when none was. For
 * diagnostics and tests: the server tells HTTP/2 by its connection preface,
 * which also covers h2c, so it does not need to ask. */
const char *qs_tls_session_alpn(const qs_tls_session_t *s);

#endif
