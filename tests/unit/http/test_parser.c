/* The connection-less HTTP/1.x request parser: fields, incremental input,
 * pipelining, the QUERY method, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/error.h"
#include "http/http1_internal.h"

static qs_http_limits_t limits(void) {
  qs_http_limits_t l;
  qs_http_limits_default(&l);
  l.max_header_bytes = 512;
  l.max_header_count = 8;
  l.max_body_bytes = 64;
  return l;
}

/* Feeds `text` in pieces of `step` bytes (carrying unconsumed bytes over, as
 * the connection does) until a request or an error; *rest gets the offset
 * of the first byte not consumed. */
static qs_h1_event_t feed(qs_h1_parser_t *p, const char *text, size_t step, size_t *rest) {
  size_t len = strlen(text), off = 0, avail = 0;
  char *buf = strdup(text);
  qs_h1_event_t ev = QS_H1_NEED_MORE;
  while (off < len) {
    avail = avail + step > len - off ? len - off : avail + step;
    size_t used = 0;
    ev = qs_h1_parser_feed(p, buf + off, avail, &used);
    off += used;
    avail -= used;
    if (ev == QS_H1_REQUEST || ev == QS_H1_ERROR) break;
  }
  free(buf);
  if (rest) *rest = off;
  return ev;
}

static void assert_slice(qs_slice_t s, const char *want) {
  if (!qs_slice_eq_cstr(s, want)) fail_msg("expected \"%s\", got \"%.*s\"", want, (int)s.len, s.ptr);
}

static const char simple[] =
    "GET /.well-known/mercure?match=a%2Fb&x HTTP/1.1\r\n"
    "Host: example.com\r\n"
    "Origin:   https://app.example.com  \r\n"
    "X-Multi: one\r\n"
    "x-multi: two\r\n"
    "Empty:\r\n"
    "\r\n";

static void check_simple(qs_h1_parser_t *p) {
  qs_h1_request_t *r = qs_h1_parser_take(p);
  assert_non_null(r);
  const qs_http_request_t *q = &r->pub;
  assert_slice(q->method, "GET");
  assert_slice(q->target, "/.well-known/mercure?match=a%2Fb&x");
  assert_slice(q->path, "/.well-known/mercure");
  assert_slice(q->query, "match=a%2Fb&x");
  assert_true(q->has_query);
  assert_true(q->has_origin);
  assert_slice(q->origin, "https://app.example.com");
  assert_int_equal(q->header_count, 5);
  qs_slice_t vals[4];
  assert_int_equal(qs_http_request_header_values(q, "X-MULTI", vals, 4), 2);
  assert_slice(vals[0], "one");
  assert_slice(vals[1], "two");
  qs_slice_t v;
  assert_true(qs_http_request_header(q, "empty", &v));
  assert_int_equal(v.len, 0);
  assert_false(qs_http_request_header(q, "missing", NULL));
  assert_int_equal(q->version_major, 1);
  assert_int_equal(q->version_minor, 1);
  assert_int_equal(q->body.len, 0);
  assert_true(r->keep_alive);
  qs_h1_request_destroy(r);
}

static void request_fields_are_parsed(void **state) {
  qs_http_limits_t l = limits();
  qs_h1_parser_t *p = qs_h1_parser_create(&l);
  assert_int_equal(feed(p, simple, 4096, NULL), QS_H1_REQUEST);
  check_simple(p);
  qs_h1_parser_destroy(p);
}

static void byte_by_byte_gives_the_same_request(void **state) {
  qs_http_limits_t l = limits();
  qs_h1_parser_t *p = qs_h1_parser_create(&l);
  assert_int_equal(feed(p, simple, 1, NULL), QS_H1_REQUEST);
  check_simple(p);
  qs_h1_parser_destroy(p);
}

static void pipelined_requests_come_one_at_a_time(void **state) {
  qs_http_limits_t l = limits();
  qs_h1_parser_t *p = qs_h1_parser_create(&l);
  const char *two =
      "GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi";
  size_t rest = 0;
  assert_int_equal(feed(p, two, 4096, &rest), QS_H1_REQUEST);
  assert_int_equal(rest, strlen("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"));
  /* paused until taken */
  size_t used = 99;
  char *copy = strdup(two + rest);
  assert_int_equal(qs_h1_parser_feed(p, copy, strlen(copy), &used), QS_H1_NEED_MORE);
  assert_int_equal(used, 0);
  qs_h1_request_t *a = qs_h1_parser_take(p);
  assert_slice(a->pub.path, "/a");
  assert_int_equal(qs_h1_parser_feed(p, copy, strlen(copy), &used), QS_H1_REQUEST);
  assert_int_equal(used, strlen(copy));
  qs_h1_request_t *b = qs_h1_parser_take(p);
  assert_slice(b->pub.method, "POST");
  assert_slice(b->pub.body, "hi");
  free(copy);
  qs_h1_request_destroy(a);
  qs_h1_request_destroy(b);
  qs_h1_parser_destroy(p);
}

static void query_method_is_recognized_even_when_split(void **state) {
  qs_http_limits_t l = limits();
  for (size_t step = 1; step <= 8; step++) {
    qs_h1_parser_t *p = qs_h1_parser_create(&l);
    assert_int_equal(feed(p, "QUERY /q HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\nmatch=x", step, NULL),
                     QS_H1_REQUEST);
    qs_h1_request_t *r = qs_h1_parser_take(p);
    assert_slice(r->pub.method, "QUERY");
    assert_slice(r->pub.body, "match=x");
    qs_h1_request_destroy(r);
    qs_h1_parser_destroy(p);
  }
}

static void absolute_form_target_has_its_path(void **state) {
  qs_http_limits_t l = limits();
  qs_h1_parser_t *p = qs_h1_parser_create(&l);
  assert_int_equal(
      feed(p, "GET http://hub.example/.well-known/mercure?a=1#f HTTP/1.1\r\nHost: hub.example\r\n\r\n", 4096,
           NULL),
      QS_H1_REQUEST);
  qs_h1_request_t *r = qs_h1_parser_take(p);
  assert_slice(r->pub.path, "/.well-known/mercure");
  assert_slice(r->pub.query, "a=1");
  qs_h1_request_destroy(r);
  qs_h1_parser_destroy(p);
}

static void chunked_body_with_trailers(void **state) {
  qs_http_limits_t l = limits();
  qs_h1_parser_t *p = qs_h1_parser_create(&l);
  assert_int_equal(feed(p,
                        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n",
                        3, NULL),
                   QS_H1_REQUEST);
  qs_h1_request_t *r = qs_h1_parser_take(p);
  assert_slice(r->pub.body, "abcde");
  assert_int_equal(r->pub.header_count, 2); /* trailers are dropped */
  qs_h1_request_destroy(r);
  qs_h1_parser_destroy(p);
}

static int error_status(const char *text) {
  qs_http_limits_t l = limits();
  qs_h1_parser_t *p = qs_h1_parser_create(&l);
  int status = 0;
  if (feed(p, text, 4096, NULL) == QS_H1_ERROR) status = qs_h1_parser_status(p, NULL);
  qs_h1_parser_destroy(p);
  return status;
}

static void errors_get_their_status(void **state) {
  char big[1024];
  snprintf(big, sizeof big, "GET / HTTP/1.1\r\nX: %0600d\r\n\r\n", 0);
  assert_int_equal(error_status(big), 431);
  assert_int_equal(
      error_status("GET / HTTP/1.1\r\na:1\r\nb:1\r\nc:1\r\nd:1\r\ne:1\r\nf:1\r\ng:1\r\nh:1\r\ni:1\r\n\r\n"),
      431);
  char target[1024] = "GET /";
  memset(target + 5, 'x', 600);
  strcpy(target + 605, " HTTP/1.1\r\n\r\n");
  assert_int_equal(error_status(target), 414);
  assert_int_equal(error_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 65\r\n\r\n"), 413);
  assert_int_equal(error_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n"
                                "01234567890123456789012345678901234567890123456789012345678901234\r\n"),
                   413);
  assert_int_equal(error_status("BREW / HTTP/1.1\r\n\r\n"), 501);
  assert_int_equal(error_status("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), 400);
  assert_int_equal(error_status("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n"),
                   400);
  assert_int_equal(error_status("GET / HTTP/1.1\r\nHost: h\r\nExpect: magic\r\n\r\n"), 417);
  assert_int_equal(error_status("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
}

static void expect_continue_pauses_before_body(void **state) {
  qs_http_limits_t l = limits();
  qs_h1_parser_t *p = qs_h1_parser_create(&l);
  char text[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nExpect: 100-Continue\r\n\r\nok";
  size_t used = 0, len = strlen(text);
  assert_int_equal(qs_h1_parser_feed(p, text, len, &used), QS_H1_CONTINUE);
  assert_int_equal(used, len - 2);
  assert_true(qs_h1_parser_in_body(p));
  size_t used2 = 0;
  assert_int_equal(qs_h1_parser_feed(p, text + used, len - used, &used2), QS_H1_REQUEST);
  qs_h1_request_t *r = qs_h1_parser_take(p);
  assert_slice(r->pub.body, "ok");
  qs_h1_request_destroy(r);
  qs_h1_parser_destroy(p);
}

static void connection_close_and_http10_are_not_kept_alive(void **state) {
  qs_http_limits_t l = limits();
  const char *texts[] = {"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "GET / HTTP/1.0\r\n\r\n"};
  for (int i = 0; i < 2; i++) {
    qs_h1_parser_t *p = qs_h1_parser_create(&l);
    assert_int_equal(feed(p, texts[i], 4096, NULL), QS_H1_REQUEST);
    qs_h1_request_t *r = qs_h1_parser_take(p);
    assert_false(r->keep_alive);
    qs_h1_request_destroy(r);
    qs_h1_parser_destroy(p);
  }
}

/* Each RFC 9112 rule the parser enforces (in http1_syntax.c or on the
 * fields), fed whole and byte by byte: a split never changes the verdict. */
static void strict_syntax_is_enforced_however_the_bytes_arrive(void **state) {
  static const struct {
    const char *text;
    int status; /* 0: a request */
  } cases[] = {
      {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 0},
      {"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 0}, /* an empty line first is allowed (2.2) */
      {"GET / HTTP/1.0\r\n\r\n", 0},
      {"GET / HTTP/1.1\r\nHost: h\r\nX:\t a b \t\r\n\r\n", 0},
      {"GET / HTTP/1.1\r\nHost: [::1]:3000\r\n\r\n", 0},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n", 0},
      {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
      {"GET / HTTP/1.2\r\n", 505},
      {"GET / HTTP/3.0\r\n", 505},
      {"GET /\r\n\r\n", 400},
      {"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"GET /  HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400},
      {"GET / http/1.1\r\nHost: h\r\n\r\n", 400},
      {"GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400},
      {"GARBAGE\r\n\r\n", 400},
      {"\x16\x03\x01\x00", 400},
      {"GET / HTTP/1.1\nHost: h\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\r\n\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\r\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\r\nX Y: z\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\r\nX : z\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\r\n: z\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\r\nX\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400},
      {"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX0\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\n0\r\n\r\n", 400},
  };
  qs_http_limits_t l = limits();
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    for (size_t step = 1; step <= 4096; step = step == 1 ? 4096 : step + 1) {
      qs_h1_parser_t *p = qs_h1_parser_create(&l);
      qs_h1_event_t ev = feed(p, cases[i].text, step, NULL);
      int status = ev == QS_H1_ERROR ? qs_h1_parser_status(p, NULL) : 0;
      if (cases[i].status == 0 && ev != QS_H1_REQUEST)
        fail_msg("case %zu (step %zu): no request (event %d, status %d)", i, step, ev, status);
      if (status != cases[i].status)
        fail_msg("case %zu (step %zu): status %d, expected %d", i, step, status, cases[i].status);
      qs_h1_request_destroy(qs_h1_parser_take(p));
      qs_h1_parser_destroy(p);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(request_fields_are_parsed),
      cmocka_unit_test(byte_by_byte_gives_the_same_request),
      cmocka_unit_test(pipelined_requests_come_one_at_a_time),
      cmocka_unit_test(query_method_is_recognized_even_when_split),
      cmocka_unit_test(absolute_form_target_has_its_path),
      cmocka_unit_test(chunked_body_with_trailers),
      cmocka_unit_test(errors_get_their_status),
      cmocka_unit_test(expect_continue_pauses_before_body),
      cmocka_unit_test(connection_close_and_http10_are_not_kept_alive),
      cmocka_unit_test(strict_syntax_is_enforced_however_the_bytes_arrive),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
