/* Plain TCP (transport.h): one batch is one writev; what the kernel does
 * not take at once is handed to uv_write as the connection's write in
 * flight. */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "http/conn.h"
#include "http/conn_read.h"
#include "http/conn_write.h"
#include "http/transport.h"
#include "http/write_queue.h"

static int tcp_open(qs_http_conn_t *c) {
  (void)c;
  return 0;
}

static void tcp_read(qs_http_conn_t *c, const char *bytes, size_t len) { qs_http_conn_input(c, bytes, len); }

static bool tcp_write(qs_http_conn_t *c, const uv_buf_t *iov, unsigned n, size_t total, seg_t *taken,
                      char hdr[QS_HTTP_MAX_RUNS][20]) {
  int w = uv_try_write((uv_stream_t *)&c->tcp, iov, n);
  if (w == UV_EAGAIN) w = 0;
  if (w < 0) {
    qs_http_conn_release_segs(c, taken);
    qs_http_conn_fail(c, QS_EIO);
    return false;
  }
  if ((size_t)w == total) {
    qs_http_conn_release_segs(c, taken);
    return true;
  }
  /* The kernel took part: hand the rest to uv_write. */
  size_t skip = (size_t)w;
  unsigned first = 0;
  while (first < n && skip >= iov[first].len) skip -= iov[first++].len;
  unsigned rest = n - first;
  batch_t *b = malloc(sizeof *b + rest * sizeof(uv_buf_t));
  if (!b) {
    qs_http_conn_release_segs(c, taken);
    qs_http_conn_fail(c, QS_ENOMEM);
    return false;
  }
  b->conn = c;
  b->segs = taken;
  b->cipher = NULL;
  b->nbufs = rest;
  memcpy(b->hdr, hdr, sizeof b->hdr);
  const char *hdr_start = (const char *)hdr, *hdr_end = hdr_start + sizeof b->hdr;
  for (unsigned i = 0; i < rest; i++) {
    uv_buf_t buf = iov[first + i];
    if (buf.base >= hdr_start && buf.base < hdr_end) buf.base = (char *)b->hdr + (buf.base - hdr_start);
    b->bufs[i] = buf;
  }
  b->bufs[0].base += skip;
  b->bufs[0].len -= skip;
  b->req.data = b;
  c->inflight = b;
  c->blocked = true;
  if (uv_write(&b->req, (uv_stream_t *)&c->tcp, b->bufs, b->nbufs, qs_http_conn_on_write) != 0) {
    c->inflight = NULL;
    qs_http_conn_release_segs(c, b->segs);
    free(b);
    qs_http_conn_fail(c, QS_EIO);
  }
  return false;
}

static bool tcp_shutdown(qs_http_conn_t *c) {
  (void)c;
  return true;
}

static void tcp_close(qs_http_conn_t *c) { (void)c; }

static bool tcp_handshake_done(const qs_http_conn_t *c) {
  (void)c;
  return true;
}

const qs_http_transport_t *const qs_http_transports[QS_HTTP_TRANSPORTS] = {
    [QS_HTTP_TRANSPORT_TCP] = &qs_http_transport_tcp,
    [QS_HTTP_TRANSPORT_TLS] = &qs_http_transport_tls,
};

const qs_http_transport_t qs_http_transport_tcp = {
    .name = "tcp",
    .open = tcp_open,
    .read = tcp_read,
    .write = tcp_write,
    .shutdown = tcp_shutdown,
    .close = tcp_close,
    .handshake_done = tcp_handshake_done,
};
