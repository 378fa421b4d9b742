/* Fuzzes the HTTP/2 session: the input is what a client sends after the
 * connection preface. Requests are answered as the hub would: most with a
 * complete response, some as event streams that get a write and then end,
 * some left to the connection's end. Output frames are produced and dropped. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http2_internal.h"

typedef struct {
  qs_h2_session_t *session;
  unsigned requests;
} fuzz_conn_t;

static int on_send(void *conn, const char *bytes, size_t len) {
  (void)conn;
  (void)bytes;
  (void)len;
  return 0;
}

static void on_wake(void *conn) { (void)conn; }

static void on_stream_close(qs_http_stream_t *stream, int reason, void *ctx) {
  (void)stream;
  (void)reason;
  (void)ctx;
}

static void on_abort(qs_http_request_t *req, void *ctx) {
  (void)req;
  (void)ctx;
}

static void on_handle(void *conn, qs_http_request_t *req) {
  fuzz_conn_t *c = conn;
  unsigned n = c->requests++;
  if (n % 3 == 0) {
    qs_http_header_t h = {qs_slice_from_cstr("Content-Type"), qs_slice_from_cstr("text/plain")};
    (void)qs_h2_respond(req, 200, &h, 1, qs_slice_from_cstr("answer\n"));
  } else if (n % 3 == 1) {
    qs_http_stream_t *stream = NULL;
    if (qs_h2_stream_start(req, 200, NULL, 0, &stream) == 0) {
      qs_h2_stream_write_ref(stream, qs_slice_from_cstr("data: event\n\n"), NULL, NULL, true);
      /* Every other stream stays open until the session ends. */
      if (n % 2)
        qs_h2_stream_close(stream);
      else
        stream->on_close = on_stream_close;
    }
  } else {
    /* Never answered: the end of the session aborts it. */
    qs_h2_request_on_abort(req, on_abort, NULL);
  }
}

/* The phase must always be one of the three, whatever the input did. */
static void on_phase_changed(void *conn) {
  fuzz_conn_t *fc = conn;
  qs_h2_phase_t phase = qs_h2_session_phase(fc->session);
  if (phase != QS_H2_IDLE && phase != QS_H2_RECEIVING && phase != QS_H2_BUSY) abort();
}

static const char *on_date(void *conn) {
  (void)conn;
  return "Sat, 28 Nov 2026 10:00:00 GMT";
}

static const qs_h2_conn_ops_t ops = {on_send, on_wake, on_handle, on_phase_changed, on_date};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_conn_t conn = {0};
  qs_http_limits_t limits;
  qs_http_limits_default(&limits);
  limits.max_body_bytes = 4096;
  conn.session = qs_h2_session_create(&conn, &ops, &limits, "127.0.0.1");
  if (!conn.session) return 0;
  int rc = qs_h2_session_feed(conn.session, QS_H2_PREFACE, QS_H2_PREFACE_LEN);
  /* Fed in two pieces, so that frames split across reads are exercised. */
  size_t half = size / 2;
  if (!rc) rc = qs_h2_session_feed(conn.session, (const char *)data, half);
  if (!rc) rc = qs_h2_session_feed(conn.session, (const char *)data + half, size - half);
  for (int i = 0; i < 64 && qs_h2_session_pump(conn.session, 64 * 1024) == 0; i++) {
    qs_h2_session_drained(conn.session, false);
    if (!qs_h2_session_wants_write(conn.session)) break;
  }
  qs_h2_session_destroy(conn.session, -1);
  return 0;
}
