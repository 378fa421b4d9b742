/* TLS on a connection (transport.h): ciphertext read is decrypted into the
 * connection's input; queued plaintext is encrypted at flush time and the
 * ciphertext takes its place; what the session says on its own (handshake,
 * tickets, close_notify) is written as it appears. net/tls.h works on
 * memory only: the
 * plaintext segments of a batch are released once encrypted and the
 * ciphertext takes their place; libuv keeps writes in order, so records
 * leave in order. */
#include <stdint.h>
#include <stdlib.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/log.h"
#include "http/conn.h"
#include "http/conn_read.h"
#include "http/conn_write.h"
#include "http/transport.h"
#include "http/write_queue.h"

static qs_tls_session_t *session(const qs_http_conn_t *c) { return c->tx; }

/* Takes the session's ciphertext into a malloc'd block; NULL when there is
 * none (or no memory: *failed then). */
static char *tls_take(qs_http_conn_t *c, size_t *len, bool *failed) {
  *failed = false;
  *len = 0;
  if (qs_tls_session_output_len(session(c)) == 0) return NULL;
  qs_buf_t out;
  qs_buf_init(&out, SIZE_MAX);
  if (qs_tls_session_take_output(session(c), &out) != 0) {
    qs_buf_dispose(&out);
    *failed = true;
    return NULL;
  }
  return qs_buf_steal(&out, len);
}

static void on_tls_write(uv_write_t *req, int status) {
  batch_t *b = req->data;
  qs_http_conn_t *c = b->conn;
  free(b->cipher);
  free(b);
  if (status < 0 && c->state != ST_CLOSED) qs_http_conn_fail(c, QS_EIO);
}

/* Writes `len` bytes of ciphertext (taking `cipher`): what the kernel takes
 * at once, the rest with uv_write, either as the connection's in-flight batch
 * (`as_inflight`, for queued output: after_flush then waits for it) or on its
 * own (what the session produced while reading). False after conn_fail. */
static bool tls_write(qs_http_conn_t *c, char *cipher, size_t len, bool as_inflight) {
  uv_buf_t buf = uv_buf_init(cipher, (unsigned)len);
  int w = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
  if (w == UV_EAGAIN) w = 0;
  if (w < 0) {
    free(cipher);
    qs_http_conn_fail(c, QS_EIO);
    return false;
  }
  if ((size_t)w == len) {
    free(cipher);
    return true;
  }
  batch_t *b = malloc(sizeof *b + sizeof(uv_buf_t));
  if (!b) {
    free(cipher);
    qs_http_conn_fail(c, QS_ENOMEM);
    return false;
  }
  b->conn = c;
  b->segs = NULL;
  b->cipher = cipher;
  b->nbufs = 1;
  b->bufs[0] = uv_buf_init(cipher + w, (unsigned)(len - (size_t)w));
  b->req.data = b;
  if (as_inflight) {
    c->inflight = b;
    c->blocked = true;
  }
  if (uv_write(&b->req, (uv_stream_t *)&c->tcp, b->bufs, 1,
               as_inflight ? qs_http_conn_on_write : on_tls_write) != 0) {
    if (as_inflight) c->inflight = NULL;
    free(cipher);
    free(b);
    qs_http_conn_fail(c, QS_EIO);
    return false;
  }
  return true;
}

/* Writes the ciphertext the session holds, as the in-flight batch or on its
 * own (what it produced by itself: handshake, tickets, close_notify). False
 * after conn_fail. */
static bool send_output(qs_http_conn_t *c, bool as_inflight) {
  size_t len;
  bool failed;
  char *cipher = tls_take(c, &len, &failed);
  if (failed) {
    qs_http_conn_fail(c, QS_ENOMEM);
    return false;
  }
  return !cipher || tls_write(c, cipher, len, as_inflight);
}

/* Encrypts one batch of queued plaintext (its segments are released at once)
 * and writes it. True when the flush may go on at once; false when it must
 * wait (a write in flight, or the connection failed). */
static bool tls_write_batch(qs_http_conn_t *c, const uv_buf_t *iov, unsigned n, size_t total, seg_t *taken,
                            char hdr[QS_HTTP_MAX_RUNS][20]) {
  (void)total;
  (void)hdr;
  int rc = 0;
  for (unsigned i = 0; !rc && i < n; i++) rc = qs_tls_session_write(session(c), iov[i].base, iov[i].len);
  qs_http_conn_release_segs(c, taken);
  if (rc) {
    qs_http_conn_fail(c, rc == QS_ENOMEM ? QS_ENOMEM : QS_EIO);
    return false;
  }
  return send_output(c, true) && !c->inflight;
}

/* Ciphertext read: everything the session can decrypt goes to on_input now
 * (what waits is kept, bounded, in the connection's input buffer, so nothing
 * is left inside the session when reading stops), then what the session has
 * to say (handshake) is sent. */
static void tls_read(qs_http_conn_t *c, const char *cipher, size_t len) {
  qs_http_server_t *s = c->server;
  if (qs_tls_session_feed(session(c), cipher, len) != 0) {
    qs_http_conn_fail(c, QS_ENOMEM);
    return;
  }
  while (c->state != ST_CLOSED) {
    size_t n = 0;
    qs_tls_status_t st = qs_tls_session_read(session(c), s->tls_plain, QS_HTTP_READ_BUF_BYTES, &n);
    if (st == QS_TLS_OK) {
      qs_http_conn_input(c, s->tls_plain, n);
      continue;
    }
    if (st == QS_TLS_WANT_READ) break;
    if (st == QS_TLS_ERROR) {
      char text[QS_NET_ADDR_TEXT_MAX];
      qs_net_addr_format(&c->addr, text, sizeof text);
      QS_LOG_DEBUG("TLS failure from %s: closing the connection", text);
    }
    qs_http_conn_fail(c, QS_ECLOSED); /* close_notify or failure: no more input */
    return;
  }
  if (c->state != ST_CLOSED) send_output(c, false);
}

static int tls_open(qs_http_conn_t *c) {
  c->tx = qs_tls_session_create(c->server->tls);
  return c->tx ? 0 : QS_ENOMEM;
}

static bool tls_shutdown(qs_http_conn_t *c) {
  if (!session(c) || !qs_tls_session_established(session(c))) return true;
  qs_tls_session_shutdown(session(c));
  return send_output(c, false);
}

static void tls_close(qs_http_conn_t *c) {
  qs_tls_session_destroy(session(c));
  c->tx = NULL;
}

static bool tls_handshake_done(const qs_http_conn_t *c) {
  return session(c) && qs_tls_session_established(session(c));
}

const qs_http_transport_t qs_http_transport_tls = {
    .name = "tls",
    .open = tls_open,
    .read = tls_read,
    .write = tls_write_batch,
    .shutdown = tls_shutdown,
    .close = tls_close,
    .handshake_done = tls_handshake_done,
};
