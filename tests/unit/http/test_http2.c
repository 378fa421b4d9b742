/* The HTTP/2 plug-in on its own: a server session (http2.c, through the
 * protocol table of protocol.h) driven by a real nghttp2 client session,
 * the bytes of each side handed to the other in memory. No socket, no
 * loop: the test plays the connection (http2_internal.h's qs_h2_conn_ops_t),
 * and its flush (run the due callbacks, pump, hand the frames over). */
#include <nghttp2/nghttp2.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/error.h"
#include "http/http.h"
#include "http/http2_internal.h"

/* What the handler does with the next request. */
typedef enum { ANSWER, STREAM, KEEP } action_t;

/* One client stream's view: what came back on it. */
typedef struct {
  int status;
  char content_length[24];
  char body[4096];
  size_t body_len;
  bool closed;
  uint32_t close_error;
  bool reset; /* closed by a RST_STREAM from the server */
} client_stream_t;

typedef struct {
  qs_h2_session_t *server;
  nghttp2_session *client;
  qs_buf_t to_client; /* what the server queued (its "write queue") */
  action_t action;
  /* what the handler saw */
  int requests;
  char method[16], path[64], host[64];
  int version_major;
  qs_http_request_t *kept;
  qs_http_stream_t *stream;
  /* what the stream callbacks saw */
  int closes, close_reason, drains;
  /* what the client saw */
  client_stream_t streams[8]; /* by (stream id - 1) / 2 */
  bool goaway;
  uint32_t goaway_error;
  int phase_changes;
} fixture_t;

static fixture_t fx;

static client_stream_t *client_stream(int32_t id) {
  size_t i = (size_t)(id - 1) / 2;
  return i < sizeof fx.streams / sizeof *fx.streams ? &fx.streams[i] : NULL;
}

/* ---- The connection the session sees -------------------------------------- */

static int conn_send(void *conn, const char *bytes, size_t len) {
  (void)conn;
  return qs_buf_append(&fx.to_client, bytes, len);
}

static void conn_wake(void *conn) { (void)conn; }

static void on_stream_close(qs_http_stream_t *stream, int reason, void *ctx) {
  (void)stream;
  (void)ctx;
  fx.closes++;
  fx.close_reason = reason;
  fx.stream = NULL;
}

static void on_stream_drain(qs_http_stream_t *stream, void *ctx) {
  (void)stream;
  (void)ctx;
  fx.drains++;
}

static void copy_slice(char *out, size_t cap, qs_slice_t s) {
  size_t n = s.len < cap - 1 ? s.len : cap - 1;
  memcpy(out, s.ptr, n);
  out[n] = '\0';
}

static void conn_handle(void *conn, qs_http_request_t *req) {
  (void)conn;
  fx.requests++;
  copy_slice(fx.method, sizeof fx.method, req->method);
  copy_slice(fx.path, sizeof fx.path, req->path);
  qs_slice_t host = {0};
  if (qs_http_request_header(req, "host", &host)) copy_slice(fx.host, sizeof fx.host, host);
  fx.version_major = req->version_major;
  qs_http_header_t h = {qs_slice_from_cstr("Content-Type"), qs_slice_from_cstr("text/plain")};
  switch (fx.action) {
    case ANSWER:
      assert_int_equal(qs_http_respond(req, 200, &h, 1, qs_slice_from_cstr("hello\n")), 0);
      break;
    case STREAM:
      assert_int_equal(qs_http_stream_start(req, 200, &h, 1, &fx.stream), 0);
      qs_http_stream_on_close(fx.stream, on_stream_close, NULL);
      qs_http_stream_on_drain(fx.stream, on_stream_drain);
      break;
    case KEEP:
      fx.kept = req;
      break;
  }
}

static void conn_phase_changed(void *conn) {
  (void)conn;
  fx.phase_changes++;
}

static const char *conn_date(void *conn) {
  (void)conn;
  return "Mon, 07 Dec 2026 10:00:00 GMT";
}

static const qs_h2_conn_ops_t conn_ops = {
    .send = conn_send,
    .wake = conn_wake,
    .handle = conn_handle,
    .phase_changed = conn_phase_changed,
    .date = conn_date,
};

/* ---- The client ------------------------------------------------------------ */

static int on_client_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
                            size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                            void *user_data) {
  (void)ng;
  (void)flags;
  (void)user_data;
  client_stream_t *cs = client_stream(frame->hd.stream_id);
  if (!cs) return 0;
  if (namelen == 7 && memcmp(name, ":status", 7) == 0) cs->status = atoi((const char *)value);
  if (namelen == 14 && memcmp(name, "content-length", 14) == 0 && valuelen < sizeof cs->content_length) {
    memcpy(cs->content_length, value, valuelen);
    cs->content_length[valuelen] = '\0';
  }
  return 0;
}

static int on_client_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                          void *user_data) {
  (void)ng;
  (void)flags;
  (void)user_data;
  client_stream_t *cs = client_stream(id);
  if (!cs || cs->body_len + len > sizeof cs->body) return NGHTTP2_ERR_CALLBACK_FAILURE;
  memcpy(cs->body + cs->body_len, data, len);
  cs->body_len += len;
  return 0;
}

static int on_client_frame(nghttp2_session *ng, const nghttp2_frame *frame, void *user_data) {
  (void)ng;
  (void)user_data;
  if (frame->hd.type == NGHTTP2_GOAWAY) {
    fx.goaway = true;
    fx.goaway_error = frame->goaway.error_code;
  } else if (frame->hd.type == NGHTTP2_RST_STREAM) {
    client_stream_t *cs = client_stream(frame->hd.stream_id);
    if (cs) cs->reset = true;
  }
  return 0;
}

static int on_client_stream_close(nghttp2_session *ng, int32_t id, uint32_t error_code, void *user_data) {
  (void)ng;
  (void)user_data;
  client_stream_t *cs = client_stream(id);
  if (cs) {
    cs->closed = true;
    cs->close_error = error_code;
  }
  return 0;
}

/* Starts a server session with `limits` and a client whose initial stream
 * window is `window` bytes (0: nghttp2's default). */
static void start(const qs_http_limits_t *limits, uint32_t window) {
  memset(&fx, 0, sizeof fx);
  qs_buf_init(&fx.to_client, 16 * 1024 * 1024);
  qs_http_limits_t lim;
  qs_http_limits_default(&lim);
  if (limits) lim = *limits;
  fx.server = qs_h2_session_create(&fx, &conn_ops, &lim, "192.0.2.7");
  assert_non_null(fx.server);

  nghttp2_session_callbacks *cb;
  assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_client_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_client_data);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_client_frame);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_client_stream_close);
  assert_int_equal(nghttp2_session_client_new(&fx.client, cb, NULL), 0);
  nghttp2_session_callbacks_del(cb);
  nghttp2_settings_entry settings[1] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window}};
  assert_int_equal(nghttp2_submit_settings(fx.client, NGHTTP2_FLAG_NONE, settings, window ? 1 : 0), 0);
}

static void stop(void) {
  qs_h2_session_destroy(fx.server, QS_ECLOSED);
  nghttp2_session_del(fx.client);
  qs_buf_dispose(&fx.to_client);
}

/* Hands each side's output to the other until neither has more to say. The
 * server's queue counts as written once the client has read it. */
static void exchange(void) {
  for (int round = 0; round < 64; round++) {
    bool moved = false;
    const uint8_t *data;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(fx.client, &data)) > 0) {
      moved = true;
      if (qs_h2_session_feed(fx.server, (const char *)data, (size_t)n) != 0) break;
    }
    assert_true(n >= 0);
    qs_h2_session_run_due(fx.server); /* what the connection's flush does first */
    assert_int_equal(qs_h2_session_pump(fx.server, 64 * 1024), 0);
    if (qs_h2_session_has_due(fx.server)) moved = true;
    if (fx.to_client.len) {
      moved = true;
      ssize_t used = nghttp2_session_mem_recv(fx.client, (const uint8_t *)fx.to_client.ptr, fx.to_client.len);
      assert_int_equal(used, (ssize_t)fx.to_client.len);
      fx.to_client.len = 0;
      qs_h2_session_drained(fx.server, false);
    }
    if (!moved) return;
  }
  fail_msg("the two sessions kept talking");
}

static int32_t get(const char *path, const nghttp2_nv *extra, size_t extra_count) {
  nghttp2_nv nv[8] = {
      {(uint8_t *)":method", (uint8_t *)"GET", 7, 3, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)":authority", (uint8_t *)"hub.example", 10, 11, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), NGHTTP2_NV_FLAG_NONE},
  };
  size_t n = 4;
  for (size_t i = 0; i < extra_count && n < 8; i++) nv[n++] = extra[i];
  int32_t id = nghttp2_submit_request(fx.client, NULL, nv, n, NULL, NULL);
  assert_true(id > 0);
  return id;
}

/* ---- Tests ----------------------------------------------------------------- */

static void settings_carry_the_limits(void **state) {
  (void)state;
  qs_http_limits_t lim;
  qs_http_limits_default(&lim);
  lim.max_header_bytes = 8192;
  start(&lim, 0);
  exchange();
  assert_int_equal(nghttp2_session_get_remote_settings(fx.client, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS),
                   128);
  assert_int_equal(nghttp2_session_get_remote_settings(fx.client, NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE),
                   8192);
  assert_int_equal(qs_h2_session_phase(fx.server), QS_H2_IDLE);
  stop();
}

static void get_is_answered_through_the_public_api(void **state) {
  (void)state;
  start(NULL, 0);
  fx.action = ANSWER;
  int32_t id = get("/hello?x=1", NULL, 0);
  exchange();
  assert_int_equal(fx.requests, 1);
  assert_string_equal(fx.method, "GET");
  assert_string_equal(fx.path, "/hello");
  assert_string_equal(fx.host, "hub.example"); /* :authority becomes Host */
  assert_int_equal(fx.version_major, 2);
  client_stream_t *cs = client_stream(id);
  assert_int_equal(cs->status, 200);
  assert_string_equal(cs->content_length, "6");
  assert_int_equal(cs->body_len, 6);
  assert_memory_equal(cs->body, "hello\n", 6);
  assert_true(cs->closed);
  assert_int_equal(cs->close_error, NGHTTP2_NO_ERROR);
  assert_int_equal(qs_h2_session_phase(fx.server), QS_H2_IDLE);
  stop();
}

static void event_stream_waits_for_the_flow_control_window(void **state) {
  (void)state;
  start(NULL, 16); /* the client takes 16 bytes per stream before it updates the window */
  fx.action = STREAM;
  int32_t id = get("/events", NULL, 0);
  exchange();
  assert_non_null(fx.stream);
  assert_int_equal(qs_h2_session_phase(fx.server), QS_H2_STREAMING);
  /* Before the client reads and updates its window, 16 bytes leave and the rest waits. */
  char event[100];
  memset(event, 'e', sizeof event);
  assert_int_equal(qs_http_stream_write(fx.stream, qs_slice(event, sizeof event)), 0);
  assert_int_equal(qs_http_stream_queued_bytes(fx.stream), 100);
  assert_int_equal(qs_h2_session_pump(fx.server, 64 * 1024), 0);
  assert_int_equal(nghttp2_session_mem_recv(fx.client, (const uint8_t *)fx.to_client.ptr, fx.to_client.len),
                   (ssize_t)fx.to_client.len);
  fx.to_client.len = 0;
  client_stream_t *cs = client_stream(id);
  assert_int_equal(cs->body_len, 16);
  assert_int_equal(qs_http_stream_queued_bytes(fx.stream), 84);
  assert_true(qs_h2_stream_window_closed(fx.stream));
  /* The client's WINDOW_UPDATEs let the rest go, 16 bytes at a time. */
  exchange();
  assert_int_equal(cs->body_len, 100);
  assert_memory_equal(cs->body, event, 100);
  assert_int_equal(qs_http_stream_queued_bytes(fx.stream), 0);
  assert_true(fx.drains > 0);
  /* A clean end: END_STREAM, then on_close with 0. */
  qs_http_stream_close(fx.stream);
  exchange();
  assert_int_equal(fx.closes, 1);
  assert_int_equal(fx.close_reason, 0);
  assert_true(cs->closed);
  assert_int_equal(cs->close_error, NGHTTP2_NO_ERROR);
  stop();
}

static void client_reset_closes_the_stream(void **state) {
  (void)state;
  start(NULL, 0);
  fx.action = STREAM;
  int32_t id = get("/events", NULL, 0);
  exchange();
  assert_non_null(fx.stream);
  assert_int_equal(nghttp2_submit_rst_stream(fx.client, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL), 0);
  exchange();
  assert_int_equal(fx.closes, 1);
  assert_int_equal(fx.close_reason, QS_ECLOSED);
  assert_int_equal(qs_h2_session_phase(fx.server), QS_H2_IDLE);
  stop();
}

static void abort_resets_only_that_stream(void **state) {
  (void)state;
  start(NULL, 0);
  fx.action = STREAM;
  int32_t first = get("/events", NULL, 0);
  exchange();
  qs_http_stream_t *aborted = fx.stream;
  assert_int_equal(qs_http_stream_write(aborted, qs_slice_from_cstr("data: dropped\n\n")), 0);
  qs_http_stream_abort(aborted);
  assert_int_equal(fx.closes, 0); /* on_close comes from the loop, never inside abort */
  fx.action = ANSWER;
  int32_t second = get("/after", NULL, 0);
  exchange();
  assert_int_equal(fx.closes, 1);
  assert_int_equal(fx.close_reason, QS_ECLOSED);
  assert_true(client_stream(first)->reset);
  assert_int_equal(client_stream(first)->close_error, NGHTTP2_CANCEL);
  assert_int_equal(client_stream(first)->body_len, 0); /* what was queued is dropped */
  /* The connection goes on. */
  assert_int_equal(client_stream(second)->status, 200);
  assert_false(fx.goaway);
  stop();
}

static void shutdown_sends_goaway_and_ends_streams(void **state) {
  (void)state;
  start(NULL, 0);
  fx.action = STREAM;
  int32_t id = get("/events", NULL, 0);
  exchange();
  assert_int_equal(qs_http_stream_write(fx.stream, qs_slice_from_cstr("data: last\n\n")), 0);
  qs_h2_session_shutdown(fx.server);
  exchange();
  assert_true(fx.goaway);
  assert_int_equal(fx.goaway_error, NGHTTP2_NO_ERROR);
  client_stream_t *cs = client_stream(id);
  assert_int_equal(cs->body_len, 12); /* queued events still leave */
  assert_true(cs->closed);
  assert_int_equal(fx.closes, 1);
  assert_int_equal(fx.close_reason, QS_ECLOSED); /* the server's shutdown ended it */
  assert_int_equal(qs_h2_session_phase(fx.server), QS_H2_IDLE);
  stop();
}

static void protocol_error_sends_goaway(void **state) {
  (void)state;
  start(NULL, 0);
  exchange();
  /* A DATA frame on stream 0 is a connection error (RFC 9113, 6.1). */
  static const char bad[] = {0, 0, 1, 0, 0, 0, 0, 0, 0, 'x'};
  (void)qs_h2_session_feed(fx.server, bad, sizeof bad); /* nghttp2 answers it itself, or reports it */
  assert_int_equal(qs_h2_session_pump(fx.server, 64 * 1024), 0);
  nghttp2_session_mem_recv(fx.client, (const uint8_t *)fx.to_client.ptr, fx.to_client.len);
  assert_true(fx.goaway);
  assert_int_equal(fx.goaway_error, NGHTTP2_PROTOCOL_ERROR);
  stop();
}

static void oversized_headers_get_431_without_the_handler(void **state) {
  (void)state;
  qs_http_limits_t lim;
  qs_http_limits_default(&lim);
  lim.max_header_bytes = 1024;
  start(&lim, 0);
  fx.action = ANSWER;
  char big[2000];
  memset(big, 'a', sizeof big);
  nghttp2_nv extra = {(uint8_t *)"x-big", (uint8_t *)big, 5, sizeof big, NGHTTP2_NV_FLAG_NONE};
  /* Sent before the server's SETTINGS reach the client, which would
   * otherwise hold the header list to the advertised size itself. */
  int32_t id = get("/big", &extra, 1);
  exchange();
  assert_int_equal(fx.requests, 0);
  assert_int_equal(client_stream(id)->status, 431);
  stop();
}

static ssize_t read_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                         nghttp2_data_source *source, void *user_data) {
  (void)ng;
  (void)id;
  (void)user_data;
  size_t *left = source->ptr;
  size_t n = *left < length ? *left : length;
  memset(buf, 'b', n);
  *left -= n;
  if (!*left) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

static void oversized_body_gets_413_without_the_handler(void **state) {
  (void)state;
  qs_http_limits_t lim;
  qs_http_limits_default(&lim);
  lim.max_body_bytes = 16;
  start(&lim, 0);
  fx.action = ANSWER;
  size_t left = 100;
  nghttp2_data_provider body = {.source.ptr = &left, .read_callback = read_body};
  nghttp2_nv nv[] = {
      {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)":authority", (uint8_t *)"hub.example", 10, 11, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)":path", (uint8_t *)"/.well-known/mercure", 5, 20, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)"content-length", (uint8_t *)"100", 14, 3, NGHTTP2_NV_FLAG_NONE},
  };
  int32_t id = nghttp2_submit_request(fx.client, NULL, nv, sizeof nv / sizeof *nv, &body, NULL);
  assert_true(id > 0);
  exchange();
  assert_int_equal(fx.requests, 0);
  assert_int_equal(client_stream(id)->status, 413);
  stop();
}

static void on_abort(qs_http_request_t *req, void *ctx) {
  (void)req;
  (*(int *)ctx)++;
}

static void session_end_aborts_pending_requests(void **state) {
  (void)state;
  start(NULL, 0);
  fx.action = KEEP;
  get("/slow", NULL, 0);
  exchange();
  assert_non_null(fx.kept);
  assert_int_equal(qs_h2_session_phase(fx.server), QS_H2_SERVING);
  int aborts = 0;
  qs_http_request_on_abort(fx.kept, on_abort, &aborts);
  qs_h2_session_destroy(fx.server, QS_ECLOSED);
  fx.server = NULL;
  assert_int_equal(aborts, 1);
  nghttp2_session_del(fx.client);
  qs_buf_dispose(&fx.to_client);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(settings_carry_the_limits),
      cmocka_unit_test(get_is_answered_through_the_public_api),
      cmocka_unit_test(event_stream_waits_for_the_flow_control_window),
      cmocka_unit_test(client_reset_closes_the_stream),
      cmocka_unit_test(abort_resets_only_that_stream),
      cmocka_unit_test(shutdown_sends_goaway_and_ends_streams),
      cmocka_unit_test(protocol_error_sends_goaway),
      cmocka_unit_test(oversized_headers_get_431_without_the_handler),
      cmocka_unit_test(oversized_body_gets_413_without_the_handler),
      cmocka_unit_test(session_end_aborts_pending_requests),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
