/* The HTTP server in-process: the test drives the server's loop itself and
 * talks to it over plain non-blocking sockets on 127.0.0.1. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/error.h"
#include "http/http.h"

/* ---- Fixture ------------------------------------------------------------ */

typedef struct {
  uv_loop_t loop;
  qs_http_server_t *server;
  int port;
  bool closed;
  /* what handlers saw and did */
  int requests;
  qs_http_request_t *pending; /* /later */
  int aborts;
  qs_http_stream_t *stream;
  int stream_closes;
  int stream_reason;
  int releases;
  char last_remote[64];
} fixture_t;

static fixture_t *fx;

static void on_stream_close(qs_http_stream_t *stream, int reason, void *ctx) {
  fixture_t *f = ctx;
  f->stream_closes++;
  f->stream_reason = reason;
  if (f->stream == stream) f->stream = NULL;
}

static void on_abort(qs_http_request_t *req, void *ctx) {
  fixture_t *f = ctx;
  f->aborts++;
  if (f->pending == req) f->pending = NULL;
}

static void handler(qs_http_request_t *req, void *ctx) {
  fixture_t *f = ctx;
  f->requests++;
  snprintf(f->last_remote, sizeof f->last_remote, "%s", req->remote_addr);
  if (qs_slice_eq_cstr(req->path, "/hello")) {
    qs_http_respond_text(req, 200, "hello");
  } else if (qs_slice_eq_cstr(req->path, "/echo")) {
    /* method, query and body, so tests can see what arrived */
    char text[4096];
    int n = snprintf(text, sizeof text, "%.*s|%.*s|%.*s", (int)req->method.len, req->method.ptr,
                     (int)req->query.len, req->query.ptr, (int)req->body.len, req->body.ptr);
    qs_http_header_t h = {qs_slice_from_cstr("X-Test"), qs_slice_from_cstr("yes")};
    assert_int_equal(qs_http_respond(req, 200, &h, 1, qs_slice(text, (size_t)n)), 0);
  } else if (qs_slice_eq_cstr(req->path, "/later")) {
    f->pending = req;
    qs_http_request_on_abort(req, on_abort, f);
  } else if (qs_slice_eq_cstr(req->path, "/stream")) {
    qs_http_header_t h[] = {{qs_slice_from_cstr("Content-Type"), qs_slice_from_cstr("text/event-stream")},
                            {qs_slice_from_cstr("Cache-Control"), qs_slice_from_cstr("no-cache")}};
    qs_http_stream_t *s = NULL;
    assert_int_equal(qs_http_stream_start(req, 200, h, 2, &s), 0);
    qs_http_stream_on_close(s, on_stream_close, f);
    assert_int_equal(qs_http_stream_write(s, qs_slice_from_cstr(":\n")), 0);
    f->stream = s;
  } else {
    qs_http_respond_text(req, 404, "not found");
  }
}

static void on_server_closed(void *ctx) { ((fixture_t *)ctx)->closed = true; }

static void start(const qs_http_limits_t *limits) {
  fx = calloc(1, sizeof *fx);
  assert_int_equal(uv_loop_init(&fx->loop), 0);
  assert_int_equal(qs_http_server_create(&fx->loop, "127.0.0.1", 0, limits, handler, fx, &fx->server), 0);
  fx->port = qs_http_server_port(fx->server);
  assert_true(fx->port > 0);
}

static void pump_ms(int ms);

static void stop(void) {
  qs_http_server_close(fx->server, on_server_closed, fx);
  for (int i = 0; i < 5000 && !fx->closed; i++) pump_ms(1);
  assert_true(fx->closed);
  uv_run(&fx->loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&fx->loop), 0);
  free(fx);
  fx = NULL;
}

static void pump_ms(int ms) {
  uv_run(&fx->loop, UV_RUN_NOWAIT);
  struct timespec ts = {0, (long)ms * 1000000L};
  nanosleep(&ts, NULL);
  uv_run(&fx->loop, UV_RUN_NOWAIT);
}

/* ---- Client helpers ----------------------------------------------------- */

static int client_connect(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fx->port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  pump_ms(1);
  return fd;
}

static void client_send(int fd, const char *data, size_t len) {
  size_t off = 0;
  while (off < len) {
    ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL);
    if (n > 0)
      off += (size_t)n;
    else if (n < 0 && errno != EAGAIN)
      fail_msg("send failed: %s", strerror(errno));
    pump_ms(1);
  }
}

static void client_send_str(int fd, const char *s) { client_send(fd, s, strlen(s)); }

typedef struct {
  char data[65536];
  size_t len;
  bool eof;
} inbox_t;

/* Pumps the loop and reads until `needle` arrived (NULL: until EOF) or ~3 s passed. */
static bool client_read_until(int fd, inbox_t *in, const char *needle) {
  for (int i = 0; i < 3000; i++) {
    if (needle && strstr(in->data, needle)) return true;
    if (in->eof) return needle == NULL;
    ssize_t n = recv(fd, in->data + in->len, sizeof in->data - 1 - in->len, 0);
    if (n > 0) {
      in->len += (size_t)n;
      in->data[in->len] = '\0';
      continue;
    }
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
      in->eof = true;
      continue;
    }
    pump_ms(1);
  }
  return false;
}

#define EXPECT_READ(fd, in, needle)                                                                     \
  do {                                                                                                  \
    if (!client_read_until(fd, in, needle))                                                             \
      fail_msg("expected \"%s\" in response, got (%zu bytes):\n%s", needle ? needle : "EOF", (in)->len, \
               (in)->data);                                                                             \
  } while (0)

/* Sends `request` on a new connection to a server with `limits` (NULL: the
 * defaults) and checks that it is refused with `status_line` (and holds
 * `also`, when not NULL) without reaching the handler. */
static void expect_refusal(const qs_http_limits_t *limits, const char *request, const char *status_line,
                           const char *also) {
  start(limits);
  int fd = client_connect();
  inbox_t in = {0};
  client_send_str(fd, request);
  EXPECT_READ(fd, &in, NULL);
  assert_non_null(strstr(in.data, status_line));
  if (also) assert_non_null(strstr(in.data, also));
  assert_int_equal(fx->requests, 0);
  close(fd);
  stop();
}

static qs_http_limits_t small_limits(void) {
  qs_http_limits_t l;
  qs_http_limits_default(&l);
  l.max_header_bytes = 1024;
  l.max_body_bytes = 1000;
  return l;
}

/* ---- Tests -------------------------------------------------------------- */

static void simple_get_is_answered(void **state) {
  start(NULL);
  int fd = client_connect();
  inbox_t in = {0};
  client_send_str(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_READ(fd, &in, "hello\n");
  assert_non_null(strstr(in.data, "HTTP/1.1 200 OK\r\n"));
  assert_non_null(strstr(in.data, "Content-Length: 6\r\n"));
  assert_non_null(strstr(in.data, "Date: "));
  assert_null(strstr(in.data, "Connection: close"));
  assert_string_equal(fx->last_remote, "127.0.0.1");
  close(fd);
  stop();
}

static void pipelined_requests_are_answered_in_order(void **state) {
  start(NULL);
  int fd = client_connect();
  inbox_t in = {0};
  client_send_str(fd,
                  "GET /echo?first HTTP/1.1\r\nHost: x\r\n\r\n"
                  "GET /later HTTP/1.1\r\nHost: x\r\n\r\n"
                  "GET /echo?third HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_READ(fd, &in, "GET|first|");
  pump_ms(20);
  /* The third request waits behind the unanswered second one. */
  assert_int_equal(fx->requests, 2);
  assert_null(strstr(in.data, "third"));
  assert_non_null(fx->pending);
  assert_int_equal(qs_http_respond_text(fx->pending, 202, "second"), 0);
  fx->pending = NULL;
  EXPECT_READ(fd, &in, "GET|third|");
  char *a = strstr(in.data, "first"), *b = strstr(in.data, "second"), *c = strstr(in.data, "third");
  assert_true(a && b && c && a < b && b < c);
  assert_int_equal(fx->requests, 3);
  close(fd);
  stop();
}

static void chunked_post_body_is_complete(void **state) {
  start(NULL);
  int fd = client_connect();
  inbox_t in = {0};
  client_send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
  pump_ms(5);
  assert_int_equal(fx->requests, 0);
  client_send_str(fd, "6\r\n world\r\n0\r\n\r\n");
  EXPECT_READ(fd, &in, "POST||hello world");
  close(fd);
  stop();
}

static void query_method_with_body(void **state) {
  start(NULL);
  int fd = client_connect();
  inbox_t in = {0};
  client_send_str(fd, "QUERY /echo?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\nmatch=a");
  EXPECT_READ(fd, &in, "QUERY|q=1|match=a");
  close(fd);
  stop();
}

static void expect_continue_gets_100(void **state) {
  start(NULL);
  int fd = client_connect();
  inbox_t in = {0};
  client_send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_READ(fd, &in, "HTTP/1.1 100 Continue\r\n\r\n");
  client_send_str(fd, "abc");
  EXPECT_READ(fd, &in, "POST||abc");
  close(fd);
  stop();
}

static void head_gets_no_body(void **state) {
  start(NULL);
  int fd = client_connect();
  inbox_t in = {0};
  client_send_str(fd, "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_READ(fd, &in, "hello\n");
  /* the first answer has Content-Length 6 and no body: the second status line follows it directly */
  assert_non_null(strstr(in.data, "Content-Length: 6\r\n\r\nHTTP/1.1 200 OK"));
  close(fd);
  stop();
}

static void http10_closes_after_answer(void **state) {
  start(NULL);
  int fd = client_connect();
  inbox_t in = {0};
  client_send_str(fd, "GET /hello HTTP/1.0\r\n\r\n");
  EXPECT_READ(fd, &in, NULL);
  assert_non_null(strstr(in.data, "Connection: close\r\n"));
  assert_non_null(strstr(in.data, "hello\n"));
  close(fd);
  stop();
}

static void huge_headers_get_431(void **state) {
  qs_http_limits_t l = small_limits();
  char req[4096];
  int n = snprintf(req, sizeof req, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: ");
  memset(req + n, 'a', 3000);
  strcpy(req + n + 3000, "\r\n\r\n");
  expect_refusal(&l, req, "HTTP/1.1 431 ", "Connection: close");
}

static void long_target_gets_414(void **state) {
  qs_http_limits_t l = small_limits();
  char req[4096] = "GET /";
  memset(req + 5, 'a', 2000);
  strcpy(req + 2005, " HTTP/1.1\r\n\r\n");
  expect_refusal(&l, req, "HTTP/1.1 414 ", NULL);
}

static void big_content_length_gets_413_before_body(void **state) {
  qs_http_limits_t l = small_limits();
  expect_refusal(&l, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", "HTTP/1.1 413 ",
                 NULL);
}

static void big_chunked_body_gets_413(void **state) {
  qs_http_limits_t l = small_limits();
  start(&l);
  int fd = client_connect();
  inbox_t in = {0};
  client_send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  char chunk[700];
  memset(chunk, 'z', sizeof chunk);
  client_send_str(fd, "2bc\r\n");
  client_send(fd, chunk, sizeof chunk);
  client_send_str(fd, "\r\n2bc\r\n");
  client_send(fd, chunk, sizeof chunk);
  EXPECT_READ(fd, &in, NULL);
  assert_non_null(strstr(in.data, "HTTP/1.1 413 "));
  close(fd);
  stop();
}

static void malformed_request_gets_400(void **state) {
  expect_refusal(NULL, "GET / HTTP/1.1\r\nBad Header\r\n\r\n", "HTTP/1.1 400 ", NULL);
}

static void slow_headers_time_out_with_408(void **state) {
  qs_http_limits_t l = small_limits();
  l.header_timeout_ms = 100;
  expect_refusal(&l, "GET /hello HTTP/1.1\r\nHo", "HTTP/1.1 408 ", NULL);
}

static void idle_keep_alive_connection_is_closed(void **state) {
  qs_http_limits_t l = small_limits();
  l.idle_timeout_ms = 100;
  start(&l);
  int fd = client_connect();
  inbox_t in = {0};
  client_send_str(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_READ(fd, &in, "hello\n");
  EXPECT_READ(fd, &in, NULL); /* closed silently after the idle time */
  assert_null(strstr(in.data, "408"));
  close(fd);
  stop();
}

static void stream_receives_writes_immediately(void **state) {
  start(NULL);
  int fd = client_connect();
  inbox_t in = {0};
  client_send_str(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_READ(fd, &in, "\r\n2\r\n:\n\r\n");
  assert_non_null(strstr(in.data, "HTTP/1.1 200 OK\r\n"));
  assert_non_null(strstr(in.data, "Content-Type: text/event-stream\r\n"));
  assert_non_null(strstr(in.data, "Transfer-Encoding: chunked\r\n"));
  assert_non_null(fx->stream);
  /* two writes in one iteration leave as one chunk */
  assert_int_equal(qs_http_stream_write(fx->stream, qs_slice_from_cstr("data: a\n\n")), 0);
  assert_int_equal(qs_http_stream_write(fx->stream, qs_slice_from_cstr("data: b\n\n")), 0);
  assert_int_equal(qs_http_stream_queued_bytes(fx->stream), 18);
  EXPECT_READ(fd, &in, "12\r\ndata: a\n\ndata: b\n\n\r\n");
  assert_int_equal(qs_http_stream_queued_bytes(fx->stream), 0);
  close(fd);
  stop();
}

static void release_count(void *owner) { ((fixture_t *)owner)->releases++; }

static void write_ref_is_released_exactly_once(void **state) {
  start(NULL);
  int fd = client_connect();
  inbox_t in = {0};
  client_send_str(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_READ(fd, &in, ":\n\r\n");
  static const char event[] = "id: 1\ndata: shared\n\n";
  assert_int_equal(qs_http_stream_write_ref(fx->stream, qs_slice(event, sizeof event - 1), release_count, fx),
                   0);
  assert_int_equal(fx->releases, 0);
  EXPECT_READ(fd, &in, "data: shared\n\n\r\n");
  pump_ms(5);
  assert_int_equal(fx->releases, 1);
  /* queued but never written: released when the connection goes */
  assert_int_equal(qs_http_stream_write_ref(fx->stream, qs_slice(event, sizeof event - 1), release_count, fx),
                   0);
  close(fd);
  for (int i = 0; i < 500 && fx->stream_closes == 0; i++) pump_ms(1);
  for (int i = 0; i < 20; i++) pump_ms(1);
  assert_int_equal(fx->stream_closes, 1);
  assert_int_equal(fx->releases, 2);
  stop();
}

/* Many references in one iteration (more than a pooled block holds), mixed
 * with copies: one chunk, in order, each released once after the write. */
static void many_refs_leave_in_order_as_one_chunk(void **state) {
  start(NULL);
  int fd = client_connect();
  inbox_t in = {0};
  client_send_str(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_READ(fd, &in, ":\n\r\n");
  static const char *events[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j",
                                 "k", "l", "m", "n", "o", "p", "q", "r", "s", "t"};
  size_t n = sizeof events / sizeof *events;
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(qs_http_stream_write_ref(fx->stream, qs_slice(events[i], 1), release_count, fx), 0);
    if (i == 9) assert_int_equal(qs_http_stream_write(fx->stream, qs_slice_from_cstr("-")), 0);
  }
  /* a reference without a release function */
  assert_int_equal(qs_http_stream_write_ref(fx->stream, qs_slice_from_cstr("!"), NULL, NULL), 0);
  assert_int_equal(qs_http_stream_queued_bytes(fx->stream), n + 2);
  assert_int_equal(fx->releases, 0);
  EXPECT_READ(fd, &in, "16\r\nabcdefghij-klmnopqrst!\r\n");
  assert_int_equal(fx->releases, (int)n);
  assert_int_equal(qs_http_stream_queued_bytes(fx->stream), 0);
  close(fd);
  stop();
}

static int drains;
static void count_drain(qs_http_stream_t *stream, void *ctx) {
  (void)stream;
  (void)ctx;
  drains++;
}

/* on_drain after every flush, or with drain_blocked_only only after a write
 * that had to wait for a slow reader. */
static void drain_blocked_only_reports_only_waits(void **state) {
  start(NULL);
  int fd = client_connect();
  inbox_t in = {0};
  client_send_str(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_READ(fd, &in, ":\n\r\n");
  drains = 0;
  qs_http_stream_on_drain(fx->stream, count_drain);
  assert_int_equal(qs_http_stream_write(fx->stream, qs_slice_from_cstr("data: 1\n\n")), 0);
  EXPECT_READ(fd, &in, "data: 1\n\n\r\n");
  assert_int_equal(drains, 1);
  qs_http_stream_drain_blocked_only(fx->stream, true);
  assert_int_equal(qs_http_stream_write(fx->stream, qs_slice_from_cstr("data: 2\n\n")), 0);
  EXPECT_READ(fd, &in, "data: 2\n\n\r\n");
  pump_ms(2);
  assert_int_equal(drains, 1);
  /* more than the socket buffers hold, while the client reads nothing */
  static char block[65536];
  memset(block, 'x', sizeof block);
  for (int i = 0; i < 128; i++)
    assert_int_equal(qs_http_stream_write(fx->stream, qs_slice(block, sizeof block)), 0);
  pump_ms(5);
  assert_true(qs_http_stream_queued_bytes(fx->stream) > 0);
  assert_int_equal(drains, 1);
  char buf[65536];
  for (int i = 0; i < 20000 && qs_http_stream_queued_bytes(fx->stream) > 0; i++) {
    if (recv(fd, buf, sizeof buf, 0) <= 0) pump_ms(0);
  }
  pump_ms(2);
  assert_int_equal(qs_http_stream_queued_bytes(fx->stream), 0);
  assert_int_equal(drains, 2);
  close(fd);
  stop();
}

typedef struct {
  int calls;
  bool armed;
  bool stream_bytes_seen_queued; /* a stream write queued before the hook was still queued at it */
} flush_hook_t;

static flush_hook_t hook;

static void on_flush_hook(void *ctx) {
  (void)ctx;
  hook.calls++;
  if (hook.armed && fx->stream && qs_http_stream_queued_bytes(fx->stream) > 0) {
    hook.armed = false;
    hook.stream_bytes_seen_queued = true;
    /* queued here, it joins the stream's write of this iteration */
    assert_int_equal(qs_http_stream_write(fx->stream, qs_slice_from_cstr("data: hook\n\n")), 0);
  }
}

/* The server calls the producer's hook at the end of each iteration, after
 * answers and before streams: what the hook queues leaves with the rest. */
static void flush_hook_runs_before_streams_are_written(void **state) {
  start(NULL);
  hook = (flush_hook_t){0};
  qs_http_server_on_flush(fx->server, on_flush_hook, NULL);
  int fd = client_connect();
  inbox_t in = {0};
  client_send_str(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_READ(fd, &in, ":\n\r\n");
  assert_true(hook.calls > 0);
  hook.armed = true;
  assert_int_equal(qs_http_stream_write(fx->stream, qs_slice_from_cstr("data: a\n\n")), 0);
  EXPECT_READ(fd, &in, "15\r\ndata: a\n\ndata: hook\n\n\r\n");
  assert_true(hook.stream_bytes_seen_queued);
  qs_http_server_on_flush(fx->server, NULL, NULL);
  close(fd);
  stop();
}

static void stream_on_close_fires_when_client_leaves(void **state) {
  start(NULL);
  int fd = client_connect();
  inbox_t in = {0};
  client_send_str(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_READ(fd, &in, ":\n\r\n");
  close(fd);
  for (int i = 0; i < 2000 && fx->stream_closes == 0; i++) pump_ms(1);
  assert_int_equal(fx->stream_closes, 1);
  assert_int_equal(fx->stream_reason, QS_ECLOSED);
  assert_null(fx->stream);
  for (int i = 0; i < 20; i++) pump_ms(1);
  assert_int_equal(qs_http_server_connection_count(fx->server), 0);
  stop();
}

static void stream_close_ends_body_and_keeps_connection(void **state) {
  start(NULL);
  int fd = client_connect();
  inbox_t in = {0};
  client_send_str(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_READ(fd, &in, ":\n\r\n");
  qs_http_stream_t *s = fx->stream;
  assert_int_equal(qs_http_stream_write(s, qs_slice_from_cstr("data: last\n\n")), 0);
  qs_http_stream_close(s);
  assert_int_equal(qs_http_stream_write(s, qs_slice_from_cstr("late")), QS_ECLOSED);
  EXPECT_READ(fd, &in, "data: last\n\n\r\n0\r\n\r\n");
  assert_int_equal(fx->stream_closes, 1);
  assert_int_equal(fx->stream_reason, 0);
  /* the connection serves the next request */
  client_send_str(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_READ(fd, &in, "hello\n");
  close(fd);
  stop();
}

/* qs_http_stream_abort: on_close(QS_ECLOSED) from the loop, never before
 * abort returns (libuv's contract for closing), queued bytes and references
 * dropped (released), the connection closed. */
static void stream_abort_drops_queue_and_closes_connection(void **state) {
  start(NULL);
  int fd = client_connect();
  inbox_t in = {0};
  client_send_str(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_READ(fd, &in, ":\n\r\n");
  qs_http_stream_t *s = fx->stream;
  fx->releases = 0;
  assert_int_equal(qs_http_stream_write_ref(s, qs_slice_from_cstr("data: dropped\n\n"), release_count, fx),
                   0);
  qs_http_stream_abort(s);
  assert_int_equal(fx->stream_closes, 0);
  for (int i = 0; i < 200 && fx->stream_closes == 0; i++) pump_ms(1);
  assert_int_equal(fx->stream_closes, 1);
  assert_int_equal(fx->stream_reason, QS_ECLOSED);
  for (int i = 0; i < 200 && (fx->releases == 0 || qs_http_server_connection_count(fx->server)); i++)
    pump_ms(1);
  assert_int_equal(fx->releases, 1);
  assert_int_equal(qs_http_server_connection_count(fx->server), 0);
  /* The client sees the end of the connection, without the dropped event. */
  EXPECT_READ(fd, &in, NULL);
  assert_null(strstr(in.data, "dropped"));
  close(fd);
  stop();
}

static void abort_fires_when_client_leaves_before_answer(void **state) {
  start(NULL);
  int fd = client_connect();
  client_send_str(fd, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
  for (int i = 0; i < 500 && !fx->pending; i++) pump_ms(1);
  assert_non_null(fx->pending);
  close(fd);
  for (int i = 0; i < 2000 && fx->aborts == 0; i++) pump_ms(1);
  assert_int_equal(fx->aborts, 1);
  assert_null(fx->pending);
  stop();
}

static void graceful_close_ends_streams_and_waits_for_answers(void **state) {
  start(NULL);
  int sfd = client_connect(), lfd = client_connect(), ifd = client_connect();
  inbox_t sin = {0}, lin = {0}, iin = {0};
  client_send_str(sfd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_READ(sfd, &sin, ":\n\r\n");
  client_send_str(lfd, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
  for (int i = 0; i < 500 && !fx->pending; i++) pump_ms(1);
  assert_non_null(fx->pending);
  qs_http_server_close(fx->server, on_server_closed, fx);
  EXPECT_READ(sfd, &sin, NULL); /* stream ended cleanly, then closed */
  assert_non_null(strstr(sin.data, "0\r\n\r\n"));
  assert_int_equal(fx->stream_closes, 1);
  assert_int_equal(fx->stream_reason, QS_ECLOSED);
  EXPECT_READ(ifd, &iin, NULL); /* idle connection closed */
  assert_false(fx->closed);
  /* the pending answer still goes out, with Connection: close */
  assert_int_equal(qs_http_respond_text(fx->pending, 200, "done"), 0);
  fx->pending = NULL;
  EXPECT_READ(lfd, &lin, NULL);
  assert_non_null(strstr(lin.data, "Connection: close\r\n"));
  assert_non_null(strstr(lin.data, "done\n"));
  for (int i = 0; i < 3000 && !fx->closed; i++) pump_ms(1);
  assert_true(fx->closed);
  assert_int_equal(fx->aborts, 0);
  close(sfd);
  close(lfd);
  close(ifd);
  uv_run(&fx->loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&fx->loop), 0);
  free(fx);
  fx = NULL;
}

static void per_address_limit_gets_429(void **state) {
  qs_http_limits_t l = small_limits();
  l.max_connections_per_address = 1;
  start(&l);
  int a = client_connect();
  int b = client_connect();
  inbox_t in = {0};
  client_send_str(b, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_READ(b, &in, NULL);
  assert_non_null(strstr(in.data, "HTTP/1.1 429 "));
  inbox_t ain = {0};
  client_send_str(a, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_READ(a, &ain, "hello\n");
  close(a);
  close(b);
  stop();
}

static void total_limit_gets_503(void **state) {
  qs_http_limits_t l = small_limits();
  l.max_connections = 1;
  start(&l);
  int a = client_connect();
  int b = client_connect();
  inbox_t in = {0};
  EXPECT_READ(b, &in, NULL);
  assert_non_null(strstr(in.data, "HTTP/1.1 503 "));
  close(a);
  close(b);
  stop();
}

static void bad_response_header_is_refused(void **state) {
  start(NULL);
  int fd = client_connect();
  inbox_t in = {0};
  client_send_str(fd, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
  for (int i = 0; i < 500 && !fx->pending; i++) pump_ms(1);
  qs_http_header_t bad = {qs_slice_from_cstr("X-Evil"), qs_slice_from_cstr("a\r\nSet-Cookie: x")};
  assert_int_equal(qs_http_respond(fx->pending, 200, &bad, 1, qs_slice("", 0)), QS_EINVAL);
  assert_int_equal(qs_http_respond(fx->pending, 99, NULL, 0, qs_slice("", 0)), QS_EINVAL);
  assert_int_equal(qs_http_respond(fx->pending, 204, NULL, 0, qs_slice("", 0)), 0);
  fx->pending = NULL;
  EXPECT_READ(fd, &in, "\r\n\r\n");
  assert_non_null(strstr(in.data, "HTTP/1.1 204 No Content\r\n"));
  assert_null(strstr(in.data, "Content-Length"));
  close(fd);
  stop();
}

/* Decodes a chunked body incrementally; checks every byte against the pattern. */
typedef struct {
  char buf[8192];
  size_t len;
  size_t body_bytes;
  bool bad;
} dechunker_t;

static void dechunk(dechunker_t *d) {
  for (;;) {
    char *crlf = memmem(d->buf, d->len, "\r\n", 2);
    if (!crlf) return;
    size_t size = strtoul(d->buf, NULL, 16);
    size_t head = (size_t)(crlf - d->buf) + 2;
    size_t have = d->len - head;
    size_t take = have < size ? have : size;
    for (size_t i = 0; i < take; i++)
      if ((unsigned char)d->buf[head + i] != (unsigned char)((d->body_bytes + i) % 251)) d->bad = true;
    d->body_bytes += take;
    if (take < size) {
      /* keep a fake header for the rest of this chunk */
      int n = snprintf(d->buf, sizeof d->buf, "%zx\r\n", size - take);
      d->len = (size_t)n;
      return;
    }
    if (have < size + 2) { /* wait for the CRLF after the data */
      int n = snprintf(d->buf, sizeof d->buf, "0\r\n");
      memmove(d->buf + n, d->buf + head + size, have - size);
      d->len = (size_t)n + have - size;
      return;
    }
    size_t used = head + size + 2;
    memmove(d->buf, d->buf + used, d->len - used);
    d->len -= used;
  }
}

static void slow_reader_gets_every_byte_in_order(void **state) {
  start(NULL);
  int fd = client_connect();
  inbox_t in = {0};
  client_send_str(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_READ(fd, &in, ":\n\r\n");
  /* skip the ":\n" chunk: the pattern starts after it */
  static char block[65536];
  size_t total = 0;
  const size_t want = 16u << 20;
  /* write far more than the socket buffers hold while the client reads nothing */
  for (int round = 0; round < 256; round++) {
    for (size_t i = 0; i < sizeof block; i++) block[i] = (char)((total + i) % 251);
    if (round % 2)
      assert_int_equal(qs_http_stream_write(fx->stream, qs_slice(block, sizeof block)), 0);
    else {
      char *copy = malloc(sizeof block);
      memcpy(copy, block, sizeof block);
      assert_int_equal(qs_http_stream_write_ref(fx->stream, qs_slice(copy, sizeof block), free, copy), 0);
    }
    total += sizeof block;
    if (round % 16 == 0) pump_ms(1);
  }
  assert_int_equal(total, want);
  pump_ms(5);
  assert_true(qs_http_stream_queued_bytes(fx->stream) > 0); /* the kernel could not take it all */
  dechunker_t *d = calloc(1, sizeof *d);
  for (int i = 0; i < 20000 && d->body_bytes < want && !d->bad; i++) {
    ssize_t n = recv(fd, d->buf + d->len, sizeof d->buf - d->len, 0);
    if (n > 0) {
      d->len += (size_t)n;
      dechunk(d);
    } else {
      pump_ms(0);
    }
  }
  assert_false(d->bad);
  assert_int_equal(d->body_bytes, want);
  assert_int_equal(qs_http_stream_queued_bytes(fx->stream), 0);
  free(d);
  close(fd);
  stop();
}

/* Thousands of small references (several per pooled block) to a slow
 * reader: partial writes cut blocks anywhere, yet every byte arrives once, in
 * order, and every reference is released once. */
static void slow_reader_gets_many_small_refs_in_order(void **state) {
  start(NULL);
  int fd = client_connect();
  inbox_t in = {0};
  client_send_str(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_READ(fd, &in, ":\n\r\n");
  static char pattern[8u << 20];
  for (size_t i = 0; i < sizeof pattern; i++) pattern[i] = (char)(i % 251);
  const size_t piece = 997;
  size_t total = 0, refs = 0;
  fx->releases = 0;
  while (total + piece <= sizeof pattern) {
    assert_int_equal(
        qs_http_stream_write_ref(fx->stream, qs_slice(pattern + total, piece), release_count, fx), 0);
    total += piece;
    if (++refs % 512 == 0) pump_ms(0);
  }
  pump_ms(5);
  assert_true(qs_http_stream_queued_bytes(fx->stream) > 0); /* the kernel could not take it all */
  dechunker_t *d = calloc(1, sizeof *d);
  for (int i = 0; i < 40000 && d->body_bytes < total && !d->bad; i++) {
    ssize_t n = recv(fd, d->buf + d->len, sizeof d->buf - d->len, 0);
    if (n > 0) {
      d->len += (size_t)n;
      dechunk(d);
    } else {
      pump_ms(0);
    }
  }
  pump_ms(2);
  assert_false(d->bad);
  assert_int_equal(d->body_bytes, total);
  assert_int_equal(qs_http_stream_queued_bytes(fx->stream), 0);
  assert_int_equal(fx->releases, (int)refs);
  free(d);
  close(fd);
  stop();
}

int main(void) {
  signal(SIGPIPE, SIG_IGN); /* as main.c does: a vanished peer must not kill the process */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(simple_get_is_answered),
      cmocka_unit_test(pipelined_requests_are_answered_in_order),
      cmocka_unit_test(chunked_post_body_is_complete),
      cmocka_unit_test(query_method_with_body),
      cmocka_unit_test(expect_continue_gets_100),
      cmocka_unit_test(head_gets_no_body),
      cmocka_unit_test(http10_closes_after_answer),
      cmocka_unit_test(huge_headers_get_431),
      cmocka_unit_test(long_target_gets_414),
      cmocka_unit_test(big_content_length_gets_413_before_body),
      cmocka_unit_test(big_chunked_body_gets_413),
      cmocka_unit_test(malformed_request_gets_400),
      cmocka_unit_test(slow_headers_time_out_with_408),
      cmocka_unit_test(idle_keep_alive_connection_is_closed),
      cmocka_unit_test(stream_receives_writes_immediately),
      cmocka_unit_test(write_ref_is_released_exactly_once),
      cmocka_unit_test(many_refs_leave_in_order_as_one_chunk),
      cmocka_unit_test(drain_blocked_only_reports_only_waits),
      cmocka_unit_test(flush_hook_runs_before_streams_are_written),
      cmocka_unit_test(slow_reader_gets_every_byte_in_order),
      cmocka_unit_test(slow_reader_gets_many_small_refs_in_order),
      cmocka_unit_test(stream_on_close_fires_when_client_leaves),
      cmocka_unit_test(stream_close_ends_body_and_keeps_connection),
      cmocka_unit_test(stream_abort_drops_queue_and_closes_connection),
      cmocka_unit_test(abort_fires_when_client_leaves_before_answer),
      cmocka_unit_test(graceful_close_ends_streams_and_waits_for_answers),
      cmocka_unit_test(per_address_limit_gets_429),
      cmocka_unit_test(total_limit_gets_503),
      cmocka_unit_test(bad_response_header_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
