/* Bytes -> requests for HTTP/1.x on llhttp, with every limit of
 * qs_http_limits_t that concerns the request itself. No socket here: the
 * connection code and the fuzz target drive it the same way. */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "http/http1_internal.h"
#include "http/http1_syntax.h"
#include "http/protocol.h"

struct qs_h1_parser {
  llhttp_t ll;
  qs_h1_syntax_t syntax; /* the current message head's RFC 9112 syntax */
  qs_http_limits_t limits;
  qs_h1_request_t *req;  /* being parsed */
  qs_h1_request_t *done; /* complete, waiting for qs_h1_parser_take() */
  size_t header_bytes;   /* request line + headers + trailers of the current message */
  int status;            /* after an error */
  const char *reason;
  bool in_message;
  bool in_body; /* headers complete */
  bool in_field;
  bool expect_continue;
  bool next_is_query; /* the message about to start was sent as "QUERY" */
  bool paused_upgrade;
  llhttp_errno_t line_error; /* llhttp refused the request line before its end: decided at the end */
};

static int fail(qs_h1_parser_t *p, int status, const char *reason) {
  if (!p->status) {
    p->status = status;
    p->reason = reason;
  }
  return -1;
}

void qs_h1_request_destroy(qs_h1_request_t *req) {
  if (!req) return;
  qs_buf_dispose(&req->arena);
  qs_buf_dispose(&req->body);
  free(req->spans);
  free(req->headers);
  free(req);
}

/* Counts request-line and header bytes against max_header_bytes. */
static int count_header_bytes(qs_h1_parser_t *p, size_t len) {
  p->header_bytes += len;
  if (p->header_bytes > p->limits.max_header_bytes) return fail(p, 431, "request header fields too large");
  return 0;
}

static int on_message_begin(llhttp_t *ll) {
  qs_h1_parser_t *p = ll->data;
  qs_h1_request_t *req = calloc(1, sizeof *req);
  if (!req) return fail(p, 503, "out of memory");
  /* The arena holds at most the counted header bytes plus the method. */
  qs_buf_init(&req->arena, p->limits.max_header_bytes + 32);
  qs_buf_init(&req->body, p->limits.max_body_bytes);
  p->req = req;
  p->header_bytes = 0;
  p->in_message = true;
  p->in_body = false;
  p->in_field = false;
  p->expect_continue = false;
  return 0;
}

static int arena_append(qs_h1_parser_t *p, const char *at, size_t len) {
  int rc = qs_buf_append(&p->req->arena, at, len);
  if (rc == QS_ETOOBIG) return fail(p, 431, "request header fields too large");
  if (rc) return fail(p, 503, "out of memory");
  return 0;
}

static int on_url(llhttp_t *ll, const char *at, size_t len) {
  qs_h1_parser_t *p = ll->data;
  p->header_bytes += len;
  if (p->header_bytes > p->limits.max_header_bytes) return fail(p, 414, "request target too long");
  if (arena_append(p, at, len)) return -1;
  p->req->target_len += (uint32_t)len;
  return 0;
}

static int on_header_field(llhttp_t *ll, const char *at, size_t len) {
  qs_h1_parser_t *p = ll->data;
  if (count_header_bytes(p, len)) return -1;
  if (p->in_body) return 0; /* trailers are counted, then dropped */
  qs_h1_request_t *req = p->req;
  if (!p->in_field) {
    if (req->span_count >= p->limits.max_header_count) return fail(p, 431, "too many header fields");
    if (req->span_count == req->span_cap) {
      uint32_t cap = req->span_cap ? req->span_cap * 2 : 16;
      qs_h1_header_span_t *spans = realloc(req->spans, cap * sizeof *spans);
      if (!spans) return fail(p, 503, "out of memory");
      req->spans = spans;
      req->span_cap = cap;
    }
    req->spans[req->span_count++] =
        (qs_h1_header_span_t){.name_off = (uint32_t)req->arena.len, .name_len = 0};
    p->in_field = true;
  }
  if (arena_append(p, at, len)) return -1;
  req->spans[req->span_count - 1].name_len += (uint32_t)len;
  return 0;
}

static int on_header_field_complete(llhttp_t *ll) {
  qs_h1_parser_t *p = ll->data;
  if (p->in_body) return 0;
  p->in_field = false;
  qs_h1_request_t *req = p->req;
  /* A value may be empty, and then on_header_value never runs. */
  req->spans[req->span_count - 1].value_off = (uint32_t)req->arena.len;
  req->spans[req->span_count - 1].value_len = 0;
  return 0;
}

static int on_header_value(llhttp_t *ll, const char *at, size_t len) {
  qs_h1_parser_t *p = ll->data;
  if (count_header_bytes(p, len)) return -1;
  if (p->in_body) return 0;
  if (arena_append(p, at, len)) return -1;
  p->req->spans[p->req->span_count - 1].value_len += (uint32_t)len;
  return 0;
}

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

static qs_slice_t trim_ows(qs_slice_t s) {
  while (s.len && is_ows(s.ptr[0])) s.ptr++, s.len--;
  while (s.len && is_ows(s.ptr[s.len - 1])) s.len--;
  return s;
}

/* RFC 3986 3.2.2-3.2.3: uri-host [ ":" port ], as a Host value may be
 * (empty is allowed: a target without authority). */
static bool host_value_valid(qs_slice_t v) {
  for (size_t i = 0; i < v.len; i++) {
    unsigned char ch = (unsigned char)v.ptr[i];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              (ch && strchr("-._~%!$&'()*+,;=[]:", ch));
    if (!ok) return false;
  }
  return true;
}

/* The fields whose misreading lets a request be smuggled past a proxy:
 * exactly one valid Host on HTTP/1.1 (RFC 9112 3.2), at most one on 1.0, and
 * no transfer coding but a lone "chunked" (6.1: other codings are not
 * implemented, and "chunked" must be the final one). NULL when they are
 * fine, else why not. Content-Length is llhttp's (digits only, one value,
 * not with Transfer-Encoding). */
static const char *check_framing_fields(const qs_http_request_t *req) {
  size_t hosts = 0, codings = 0;
  qs_slice_t host = {0}, coding = {0};
  for (size_t i = 0; i < req->header_count; i++) {
    const qs_http_header_t *h = &req->headers[i];
    if (qs_slice_eq_nocase(h->name, qs_slice_from_cstr("host"))) {
      hosts++;
      host = h->value;
    } else if (qs_slice_eq_nocase(h->name, qs_slice_from_cstr("transfer-encoding"))) {
      codings++;
      coding = h->value;
    }
  }
  if (hosts > 1) return "more than one Host header field";
  if (hosts == 0 && req->version_minor >= 1) return "an HTTP/1.1 request must have a Host header field";
  if (hosts == 1 && !host_value_valid(host)) return "the Host header field is not a valid host and port";
  if (codings > 1 || (codings == 1 && !qs_slice_eq_nocase(coding, qs_slice_from_cstr("chunked"))))
    return "unsupported Transfer-Encoding (only a single \"chunked\" is accepted)";
  return NULL;
}

static int on_headers_complete(llhttp_t *ll) {
  qs_h1_parser_t *p = ll->data;
  qs_h1_request_t *req = p->req;
  qs_http_request_t *pub = &req->pub;
  p->in_body = true;

  /* Spans become slices now that the arena no longer moves. */
  const char *method = p->next_is_query ? "QUERY" : llhttp_method_name((llhttp_method_t)ll->method);
  p->next_is_query = false;
  pub->method = qs_slice_from_cstr(method);
  const char *base = req->arena.ptr ? req->arena.ptr : "";
  pub->target = qs_slice(base + req->target_off, req->target_len);
  qs_http_split_target(pub);
  if (req->span_count) {
    req->headers = malloc(req->span_count * sizeof *req->headers);
    if (!req->headers) return fail(p, 503, "out of memory");
    for (uint32_t i = 0; i < req->span_count; i++) {
      const qs_h1_header_span_t *s = &req->spans[i];
      req->headers[i].name = qs_slice(base + s->name_off, s->name_len);
      req->headers[i].value = trim_ows(qs_slice(base + s->value_off, s->value_len));
    }
  }
  free(req->spans);
  req->spans = NULL;
  req->span_cap = 0;
  pub->headers = req->headers;
  pub->header_count = req->span_count;
  pub->has_origin = qs_http_request_header(pub, "origin", &pub->origin);
  pub->version_major = ll->http_major;
  pub->version_minor = ll->http_minor;
  pub->remote_addr = req->remote_addr;
  req->is_head = ll->method == HTTP_HEAD;
  req->upgrade = ll->upgrade || ll->method == HTTP_CONNECT;
  const char *why = check_framing_fields(pub);
  if (why) return fail(p, 400, why);

  if ((ll->flags & F_CONTENT_LENGTH) && ll->content_length > p->limits.max_body_bytes)
    return fail(p, 413, "request body too large");
  if ((ll->flags & F_CONTENT_LENGTH) && ll->content_length > 0) {
    /* Reserve the whole body at once (it is within max_body_bytes). */
    size_t want = (size_t)ll->content_length + 1;
    req->body.ptr = malloc(want);
    if (!req->body.ptr) return fail(p, 503, "out of memory");
    req->body.ptr[0] = '\0';
    req->body.cap = want;
  }
  qs_slice_t expect;
  if (ll->http_major == 1 && ll->http_minor >= 1 && qs_http_request_header(pub, "expect", &expect)) {
    if (!qs_slice_eq_nocase(expect, qs_slice_from_cstr("100-continue")))
      return fail(p, 417, "unsupported expectation");
    if ((ll->flags & (F_CONTENT_LENGTH | F_CHUNKED)) &&
        !((ll->flags & F_CONTENT_LENGTH) && ll->content_length == 0)) {
      p->expect_continue = true;
      return HPE_PAUSED;
    }
  }
  return 0;
}

static int on_body(llhttp_t *ll, const char *at, size_t len) {
  qs_h1_parser_t *p = ll->data;
  int rc = qs_buf_append(&p->req->body, at, len);
  if (rc == QS_ETOOBIG) return fail(p, 413, "request body too large");
  if (rc) return fail(p, 503, "out of memory");
  return 0;
}

static int on_message_complete(llhttp_t *ll) {
  qs_h1_parser_t *p = ll->data;
  qs_h1_request_t *req = p->req;
  req->pub.body = qs_buf_slice(&req->body);
  if (!req->pub.body.ptr) req->pub.body.ptr = "";
  req->keep_alive = llhttp_should_keep_alive(ll) != 0;
  p->done = req;
  p->req = NULL;
  p->in_message = false;
  p->in_body = false;
  qs_h1_syntax_reset(&p->syntax);
  /* One request at a time: the next one is parsed only after this one is answered. */
  return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

qs_h1_parser_t *qs_h1_parser_create(const qs_http_limits_t *limits) {
  qs_h1_parser_t *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->limits = *limits;
  llhttp_init(&p->ll, HTTP_REQUEST, &settings);
  p->ll.data = p;
  return p;
}

void qs_h1_parser_destroy(qs_h1_parser_t *parser) {
  if (!parser) return;
  qs_h1_request_destroy(parser->req);
  qs_h1_request_destroy(parser->done);
  free(parser);
}

/* llhttp refused the request line before its end (the method, or the
 * version, at their first unexpected byte): the rest of the line goes to the
 * syntax checker alone (which has seen `len` more bytes), so that the answer
 * is the same however the bytes arrive: 400 when the line is malformed, 505
 * for a version other than 1.x, and at the line's end, 501 for a well-formed
 * request whose method is not implemented here. */
static qs_h1_event_t line_verdict(qs_h1_parser_t *p, size_t len, size_t *consumed) {
  *consumed += len;
  p->header_bytes += len;
  if (qs_h1_syntax_line_done(&p->syntax)) {
    if (p->line_error == HPE_INVALID_METHOD)
      fail(p, 501, "the request method is not implemented by this server");
    else
      fail(p, 400, "malformed request line");
    return QS_H1_ERROR;
  }
  if (p->header_bytes > p->limits.max_header_bytes) {
    fail(p, 414, "request line too long");
    return QS_H1_ERROR;
  }
  return QS_H1_NEED_MORE;
}

qs_h1_event_t qs_h1_parser_feed(qs_h1_parser_t *p, char *ptr, size_t len, size_t *consumed) {
  *consumed = 0;
  if (p->status) return QS_H1_ERROR;
  if (p->done || len == 0) return QS_H1_NEED_MORE;
  if (!p->in_message) {
    /* llhttp 8 does not know the QUERY method (draft-ietf-httpbis-safe-method-w-body),
     * which Mercure subscribers may use. It has the shape of PATCH (a method with a
     * body), so the bytes are rewritten and the real name restored at the headers. */
    static const char query[] = "QUERY ";
    size_t n = len < 6 ? len : 6;
    if (memcmp(ptr, query, n) == 0) {
      if (len < 6) return QS_H1_NEED_MORE;
      memcpy(ptr, "PATCH ", 6);
      p->next_is_query = true;
    }
  }
  /* Bytes are checked once each: everything fed here is consumed or the
   * message is complete (and the checker reset for what follows). */
  if (!qs_h1_syntax_head_done(&p->syntax)) {
    const char *why;
    int status = qs_h1_syntax_check(&p->syntax, ptr, len, &why);
    if (status) {
      fail(p, status, why);
      *consumed = len;
      return QS_H1_ERROR;
    }
  }
  if (p->line_error) return line_verdict(p, len, consumed);
  llhttp_errno_t err = llhttp_execute(&p->ll, ptr, len);
  if (err != HPE_OK && err != HPE_PAUSED && err != HPE_PAUSED_UPGRADE && !p->status &&
      !qs_h1_syntax_line_done(&p->syntax)) {
    p->line_error = err;
    p->header_bytes = 0;
    return line_verdict(p, len, consumed);
  }
  if (err == HPE_OK) {
    *consumed = len;
    return QS_H1_NEED_MORE;
  }
  if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
    const char *pos = llhttp_get_error_pos(&p->ll);
    *consumed = pos ? (size_t)(pos - ptr) : len;
    if (p->done) {
      p->paused_upgrade = err == HPE_PAUSED_UPGRADE;
      if (p->paused_upgrade) p->done->upgrade = true;
      return QS_H1_REQUEST;
    }
    if (p->expect_continue) {
      p->expect_continue = false;
      llhttp_resume(&p->ll);
      return QS_H1_CONTINUE;
    }
  }
  *consumed = len;
  if (err == HPE_INVALID_METHOD && !p->status) {
    p->status = 501;
    p->reason = "the request method is not implemented by this server";
  }
  if (!p->status) {
    p->status = 400;
    p->reason = llhttp_get_error_reason(&p->ll);
    if (!p->reason) p->reason = "malformed request";
  }
  return QS_H1_ERROR;
}

qs_h1_request_t *qs_h1_parser_take(qs_h1_parser_t *parser) {
  qs_h1_request_t *req = parser->done;
  if (!req) return NULL;
  parser->done = NULL;
  if (parser->paused_upgrade)
    llhttp_resume_after_upgrade(&parser->ll);
  else
    llhttp_resume(&parser->ll);
  parser->paused_upgrade = false;
  return req;
}

int qs_h1_parser_status(const qs_h1_parser_t *parser, const char **reason) {
  if (reason) *reason = parser->reason ? parser->reason : "";
  return parser->status;
}

bool qs_h1_parser_in_message(const qs_h1_parser_t *parser) { return parser->in_message; }

bool qs_h1_parser_in_body(const qs_h1_parser_t *parser) { return parser->in_body; }
