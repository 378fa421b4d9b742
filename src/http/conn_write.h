/* Flushing one connection (conn_write.c): its queue leaves batch by batch,
 * each in one writev (or one TLS write); what the kernel does not take at
 * once is handed to uv_write as the connection's write in flight. Not part
 * of the folder's contract. */
#ifndef QS_HTTP_CONN_WRITE_H
#define QS_HTTP_CONN_WRITE_H

#include "http/server_internal.h"

/* What uv_write still has to send after uv_try_write took only part. */
struct batch {
  uv_write_t req;
  qs_http_conn_t *conn;
  seg_t *segs;  /* owned; released when the write completes */
  char *cipher; /* owned TLS output the bufs point into, or NULL */
  char hdr[QS_HTTP_MAX_RUNS][20];
  unsigned nbufs;
  uv_buf_t bufs[];
};

/* Sends the connection's queue (after pumping HTTP/2 frames into it) until
 * it is empty or a write is in flight; once everything is out,
 * qs_http_conn_after_flush decides what comes next. */
void qs_http_conn_flush(qs_http_conn_t *c);

/* The uv_write callback of a connection's write in flight (req->data: its
 * batch_t): releases the batch and flushes again at the next check. */
void qs_http_conn_on_write(uv_write_t *req, int status);

#endif
