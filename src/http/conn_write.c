/* Flushing a connection (conn_write.h). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "http/conn.h"
#include "http/conn_write.h"
#include "http/h2_conn.h"
#include "http/tls_io.h"
#include "http/write_queue.h"
#include "http/write_schedule.h"

void qs_http_conn_on_write(uv_write_t *req, int status) {
  batch_t *b = req->data;
  qs_http_conn_t *c = b->conn;
  c->inflight = NULL;
  qs_http_conn_release_segs(c, b->segs);
  free(b->cipher);
  free(b);
  if (c->state == ST_CLOSED) return;
  if (status < 0) {
    qs_http_conn_fail(c, QS_EIO);
    return;
  }
  /* What was queued while this write was in flight leaves at this loop
   * iteration's flush, together with whatever is queued until then. */
  qs_http_conn_mark_dirty(c);
}

/* Sends the queue: as much as possible in one writev, the rest with uv_write. */
void qs_http_conn_flush(qs_http_conn_t *c) {
  if (c->state == ST_H2 && !c->inflight && c->queued_bytes < QS_HTTP_H2_PUMP_BYTES && !qs_http_h2_pump(c))
    return;
  while (c->q_head && !c->inflight && c->state != ST_CLOSED) {
    uv_buf_t iov[QS_HTTP_MAX_IOV];
    char hdr[QS_HTTP_MAX_RUNS][20];
    unsigned n;
    size_t total;
    seg_t *taken = qs_http_queue_take(c, iov, hdr, &n, &total);
    if (c->state == ST_STREAMING || c->state == ST_H2)
      atomic_fetch_add_explicit(&c->server->counters->stream_writes, 1, memory_order_relaxed);
    c->answer_queued = false; /* this batch starts at the queue's head, where the answer is */
    if (c->tls) {
      if (!qs_http_tls_flush(c, iov, n, taken)) return;
      continue;
    }

    int w = uv_try_write((uv_stream_t *)&c->tcp, iov, n);
    if (w == UV_EAGAIN) w = 0;
    if (w < 0) {
      qs_http_conn_release_segs(c, taken);
      qs_http_conn_fail(c, QS_EIO);
      return;
    }
    if ((size_t)w == total) {
      qs_http_conn_release_segs(c, taken);
      continue;
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
      return;
    }
    b->conn = c;
    b->segs = taken;
    b->cipher = NULL;
    b->nbufs = rest;
    memcpy(b->hdr, hdr, sizeof hdr);
    for (unsigned i = 0; i < rest; i++) {
      uv_buf_t buf = iov[first + i];
      if (buf.base >= (char *)hdr && buf.base < (char *)hdr + sizeof hdr)
        buf.base = (char *)b->hdr + (buf.base - (char *)hdr);
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
      return;
    }
    return;
  }
  if (!c->q_head && !c->inflight && c->state != ST_CLOSED) {
    c->answer_queued = false;
    qs_http_conn_after_flush(c);
  }
}
