/* Flushing a connection (conn_write.h). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "http/conn.h"
#include "http/conn_write.h"
#include "http/h2_conn.h"
#include "http/transport.h"
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

void qs_http_conn_flush(qs_http_conn_t *c) {
  if (c->state == ST_H2) {
    /* Callbacks of streams that ended since the last flush (an abort, a
     * reset read from the peer): from the loop, whatever the writes do. */
    if (qs_h2_session_has_due(c->h2)) qs_h2_session_run_due(c->h2);
    if (c->state != ST_H2) return;
    if (!c->inflight && c->queued_bytes < QS_HTTP_H2_PUMP_BYTES && !qs_http_h2_pump(c)) return;
  }
  const qs_http_transport_t *transport = qs_http_conn_transport(c);
  while (c->q_head && !c->inflight && c->state != ST_CLOSED) {
    uv_buf_t iov[QS_HTTP_MAX_IOV];
    char hdr[QS_HTTP_MAX_RUNS][20];
    unsigned n;
    size_t total;
    seg_t *taken = qs_http_queue_take(c, iov, hdr, &n, &total);
    if (c->state == ST_STREAMING || c->state == ST_H2)
      atomic_fetch_add_explicit(&c->server->counters->stream_writes, 1, memory_order_relaxed);
    c->answer_queued = false; /* this batch starts at the queue's head, where the answer is */
    if (!transport->write(c, iov, n, total, taken, hdr)) return;
  }
  if (!c->q_head && !c->inflight && c->state != ST_CLOSED) {
    c->answer_queued = false;
    qs_http_conn_after_flush(c);
  }
}
