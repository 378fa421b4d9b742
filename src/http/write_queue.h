/* A connection's output queue (write_queue.c): copied, static and referenced
 * segments in order, referenced ones in pooled blocks so that a delivery
 * costs no allocation, and the assembly of a batch of iovecs (with chunked
 * framing for event-stream bytes) for one writev. Not part of the folder's
 * contract. */
#ifndef QS_HTTP_WRITE_QUEUE_H
#define QS_HTTP_WRITE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/slice.h"
#include "http/server_internal.h"

/* Iovecs per writev; a longer queue leaves in several batches. */
#define QS_HTTP_MAX_IOV 256

/* Queues a copy of `bytes` (`chunk`: stream body bytes needing chunked
 * framing) and marks the connection dirty. Returns 0, QS_ENOMEM or QS_ETOOBIG. */
int qs_http_conn_queue_copy(qs_http_conn_t *c, const char *bytes, size_t len, bool chunk);

/* Queues static bytes (never freed). Returns 0 or QS_ENOMEM. */
int qs_http_conn_queue_static(qs_http_conn_t *c, const char *bytes, size_t len);

/* Queues a reference to `bytes`, given back with release(owner) once written
 * or dropped, in the connection's pooled blocks. Returns 0 or QS_ENOMEM. */
int qs_http_conn_queue_ref(qs_http_conn_t *c, qs_slice_t bytes, bool chunk, void (*release)(void *owner),
                           void *owner);

/* Takes the first batch off the connection's queue (which must not be
 * empty): fills iov[QS_HTTP_MAX_IOV] with its bytes, each run of stream
 * bytes framed as one chunk whose header is written into hdr. Sets *n to
 * the iovecs used and *total to their bytes. The returned segments are the
 * caller's, to give back with qs_http_conn_release_segs once written. */
seg_t *qs_http_queue_take(qs_http_conn_t *c, uv_buf_t *iov, char hdr[QS_HTTP_MAX_RUNS][20], unsigned *n,
                          size_t *total);

/* Gives a list of segments back: their references are released and their
 * memory goes to the server's pool or the allocator. `c` (NULL once the
 * connection is closed) has its queued_bytes lowered. */
void qs_http_queue_release(qs_http_server_t *srv, qs_http_conn_t *c, seg_t *segs);

/* qs_http_queue_release for a connection that is still open. */
static inline void qs_http_conn_release_segs(qs_http_conn_t *c, seg_t *segs) {
  qs_http_queue_release(c->server, c, segs);
}

/* Frees the server's pool of reference blocks (at the server's end, once
 * no connection holds one). */
void qs_http_queue_pool_dispose(qs_http_server_t *srv);

#endif
