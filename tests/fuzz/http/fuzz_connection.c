/* Fuzzes whole HTTP/1 connections (and h2c sessions they turn into) through
 * the real server on 127.0.0.1: the input is a script of operations on two
 * client sockets and on the clock. The handler answers at once, starts an
 * event stream, or keeps the request until the script answers it.
 *
 * Script: one operation byte, then its operands. Low three bits: the kind;
 * bit 3: which client (0 or 1).
 *   0 SEND      2-byte big-endian length, then that many bytes (truncated to
 *               what the input has) sent on the client, connecting it first
 *   1 ADVANCE   1 byte t: every deadline up to t x 100 ms from now expires
 *   2 RUN       the loop runs; what the server sent is read
 *   3 CLOSE     the client closes its socket
 *   4 SHUTDOWN  the client ends its sending side (half close)
 *   5 ANSWER    the kept request, if any, is answered 200
 *   6, 7        as RUN
 *
 * Invariants checked after every input (abort() when broken, so the fuzzer
 * reports it):
 *   - the server never answers 500 by itself;
 *   - once time has passed every deadline, the only connections left open
 *     are those carrying an event stream: no other state can hold one;
 *   - once the clients are gone, no connection is left at all. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/deadline.h"
#include "http/http.h"

#define CLIENTS 2
#define MAX_STREAMS 8
#define FAR_FUTURE_MS (1000ull * 60 * 60 * 24)

typedef struct {
  int fd;
  char seen[8]; /* the last bytes read, so a status line split across reads is still found */
  size_t seen_len;
} client_t;

static struct {
  uv_loop_t loop;
  qs_http_server_t *server;
  int port;
  qs_http_request_t *kept;
  qs_http_stream_t *streams[MAX_STREAMS];
  client_t clients[CLIENTS];
} fz;

static void fail(const char *what) {
  fprintf(stderr, "fuzz_connection: %s\n", what);
  abort();
}

/* A system call of the harness itself failed. */
static void fail_call(const char *call) {
  fprintf(stderr, "fuzz_connection: %s: %s\n", call, strerror(errno));
  abort();
}

static void forget_stream(qs_http_stream_t *stream, int reason, void *ctx) {
  (void)reason;
  (void)ctx;
  for (int i = 0; i < MAX_STREAMS; i++)
    if (fz.streams[i] == stream) fz.streams[i] = NULL;
}

static void forget_kept(qs_http_request_t *req, void *ctx) {
  (void)ctx;
  if (fz.kept == req) fz.kept = NULL;
}

static void handle(qs_http_request_t *req, void *ctx) {
  (void)ctx;
  if (qs_slice_eq_cstr(req->path, "/stream")) {
    int slot = -1;
    for (int i = 0; i < MAX_STREAMS && slot < 0; i++)
      if (!fz.streams[i]) slot = i;
    qs_http_stream_t *stream = NULL;
    if (slot < 0 || qs_http_stream_start(req, 200, NULL, 0, &stream) != 0) {
      qs_http_respond_text(req, 503, "no stream");
      return;
    }
    fz.streams[slot] = stream;
    qs_http_stream_on_close(stream, forget_stream, NULL);
    qs_http_stream_write(stream, qs_slice_from_cstr(":\n"));
  } else if (qs_slice_eq_cstr(req->path, "/later") && !fz.kept) {
    fz.kept = req;
    qs_http_request_on_abort(req, forget_kept, NULL);
  } else {
    qs_http_respond_text(req, 200, "ok");
  }
}

static void setup_once(void) {
  static bool ready;
  if (ready) return;
  ready = true;
  if (uv_loop_init(&fz.loop) != 0) fail("loop");
  qs_http_limits_t limits;
  qs_http_limits_default(&limits);
  limits.max_header_bytes = 4096;
  limits.max_body_bytes = 8192;
  limits.header_timeout_ms = 1000;
  limits.idle_timeout_ms = 3000;
  if (qs_http_server_create(&fz.loop, "127.0.0.1", 0, &limits, handle, NULL, &fz.server) != 0) fail("server");
  fz.port = qs_http_server_port(fz.server);
  for (int i = 0; i < CLIENTS; i++) fz.clients[i].fd = -1;
}

static void run_loop(void) {
  for (int i = 0; i < 3; i++) uv_run(&fz.loop, UV_RUN_NOWAIT);
}

static void client_read(client_t *c) {
  if (c->fd < 0) return;
  char buf[16384 + sizeof c->seen];
  for (;;) {
    memcpy(buf, c->seen, c->seen_len);
    ssize_t n = recv(c->fd, buf + c->seen_len, 16384, 0);
    if (n <= 0) return;
    size_t len = c->seen_len + (size_t)n;
    if (memmem(buf, len, "HTTP/1.1 500", 12)) fail("the server answered 500");
    c->seen_len = len < sizeof c->seen ? len : sizeof c->seen;
    memcpy(c->seen, buf + len - c->seen_len, c->seen_len);
  }
}

static void read_all(void) {
  for (int i = 0; i < CLIENTS; i++) client_read(&fz.clients[i]);
}

static void client_close(client_t *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->seen_len = 0;
}

static void client_connect(client_t *c) {
  if (c->fd >= 0) return;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail_call("socket");
  /* Each connection from its own loopback address, so the closed ones
   * waiting out TIME_WAIT never use up the ports of one address. */
  static uint32_t next_source;
  next_source = next_source % 0xfffffe + 1;
  struct sockaddr_in source = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000000u | next_source)};
  if (bind(fd, (struct sockaddr *)&source, sizeof source) != 0) fail_call("bind");
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fz.port)};
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  /* Loopback connects at once or soon; a signal (the fuzzer's timer) may
   * interrupt the call without stopping the connection. */
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0 && errno != EINPROGRESS && errno != EINTR)
    fail_call("connect");
  c->fd = fd;
  run_loop();
}

/* Sends what the socket takes, letting the server read in between; what a
 * server that stopped reading leaves unsent is dropped. */
static void client_send(client_t *c, const uint8_t *bytes, size_t len) {
  client_connect(c);
  for (int tries = 0; len > 0 && tries < 8; tries++) {
    ssize_t n = send(c->fd, bytes, len, MSG_NOSIGNAL);
    if (n > 0) {
      bytes += n;
      len -= (size_t)n;
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      return;
    }
    run_loop();
    client_read(c);
  }
}

static void advance(uint64_t ms) {
  qs_http_server_expire(fz.server, uv_now(&fz.loop) + ms);
  run_loop();
  read_all();
}

static size_t open_streams(void) {
  size_t n = 0;
  for (int i = 0; i < MAX_STREAMS; i++) n += fz.streams[i] != NULL;
  return n;
}

/* Lets every deadline pass, a few times over since an expiry can start the
 * next state (a 408 then lingering), and checks what is left. */
static void check_nothing_held(void) {
  for (int i = 0; i < 6; i++) advance(FAR_FUTURE_MS);
  if (fz.kept) fail("a request kept by the handler outlived every deadline");
  if (qs_http_server_connection_count(fz.server) != open_streams())
    fail("a connection without an event stream outlived every deadline");
}

static void finish(void) {
  check_nothing_held();
  for (int i = 0; i < MAX_STREAMS; i++)
    if (fz.streams[i]) qs_http_stream_close(fz.streams[i]);
  for (int i = 0; i < CLIENTS; i++) client_close(&fz.clients[i]);
  for (int i = 0; i < 50 && qs_http_server_connection_count(fz.server) > 0; i++) advance(FAR_FUTURE_MS);
  if (qs_http_server_connection_count(fz.server) != 0) fail("a connection outlived its client");
  if (open_streams() != 0) fail("a closed event stream was not reported closed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup_once();
  size_t at = 0;
  while (at < size) {
    uint8_t op = data[at++];
    client_t *c = &fz.clients[(op >> 3) & 1];
    switch (op & 7) {
      case 0: {
        size_t len = 0;
        if (at + 2 <= size) len = (size_t)data[at] << 8 | data[at + 1];
        at = at + 2 <= size ? at + 2 : size;
        if (len > size - at) len = size - at;
        client_send(c, data + at, len);
        at += len;
        break;
      }
      case 1:
        advance(at < size ? (uint64_t)data[at++] * 100 : 0);
        break;
      case 3:
        client_close(c);
        run_loop();
        break;
      case 4:
        if (c->fd >= 0) shutdown(c->fd, SHUT_WR);
        run_loop();
        break;
      case 5:
        if (fz.kept) {
          qs_http_request_t *req = fz.kept;
          fz.kept = NULL;
          qs_http_respond_text(req, 200, "answered later");
        }
        run_loop();
        break;
      default:
        run_loop();
        read_all();
        break;
    }
  }
  finish();
  return 0;
}
