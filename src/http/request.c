/* Protocol-independent helpers of http.h: header lookup, status texts, limits. */
#include <string.h>

#include "http/http.h"
#include "http/protocol.h"

void qs_http_limits_default(qs_http_limits_t *limits) {
  *limits = (qs_http_limits_t){
      .max_header_bytes = 16 * 1024,
      .max_header_count = 100,
      .max_body_bytes = 1024 * 1024,
      .header_timeout_ms = 10 * 1000,
      .idle_timeout_ms = 60 * 1000,
      .max_connections = 0,
      .max_connections_per_address = 0,
  };
}

bool qs_http_request_header(const qs_http_request_t *req, const char *name, qs_slice_t *value) {
  qs_slice_t want = qs_slice_from_cstr(name);
  for (size_t i = 0; i < req->header_count; i++) {
    if (qs_slice_eq_nocase(req->headers[i].name, want)) {
      if (value) *value = req->headers[i].value;
      return true;
    }
  }
  if (value) *value = qs_slice("", 0);
  return false;
}

size_t qs_http_request_header_values(const qs_http_request_t *req, const char *name, qs_slice_t *out,
                                     size_t max) {
  qs_slice_t want = qs_slice_from_cstr(name);
  size_t found = 0;
  for (size_t i = 0; i < req->header_count; i++) {
    if (!qs_slice_eq_nocase(req->headers[i].name, want)) continue;
    if (found < max) out[found] = req->headers[i].value;
    found++;
  }
  return found;
}

bool qs_http_request_method_is(const qs_http_request_t *req, const char *method) {
  return qs_slice_eq_cstr(req->method, method);
}

const char *qs_http_status_text(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "";
  }
}

static bool starts_with_nocase(qs_slice_t s, const char *prefix) {
  size_t n = strlen(prefix);
  return s.len >= n && qs_slice_eq_nocase(qs_slice(s.ptr, n), qs_slice(prefix, n));
}

/* RFC 9112 §3.2: origin-form, or absolute-form whose path starts after the authority. */
void qs_http_split_target(qs_http_request_t *pub) {
  qs_slice_t t = pub->target;
  size_t start = 0;
  if (starts_with_nocase(t, "http://") || starts_with_nocase(t, "https://")) {
    size_t i = starts_with_nocase(t, "http://") ? 7 : 8;
    while (i < t.len && t.ptr[i] != '/' && t.ptr[i] != '?' && t.ptr[i] != '#') i++;
    start = i;
  }
  size_t end = start;
  while (end < t.len && t.ptr[end] != '?' && t.ptr[end] != '#') end++;
  pub->path = qs_slice(t.ptr + start, end - start);
  pub->query = qs_slice(t.ptr + end, 0);
  if (end < t.len && t.ptr[end] == '?') {
    size_t q = end + 1, qend = q;
    while (qend < t.len && t.ptr[qend] != '#') qend++;
    pub->query = qs_slice(t.ptr + q, qend - q);
    pub->has_query = true;
  }
}

bool qs_http_is_tchar(unsigned char ch) {
  if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) return true;
  return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

bool qs_http_headers_valid(const qs_http_header_t *headers, size_t count) {
  for (size_t i = 0; i < count; i++) {
    const qs_http_header_t *h = &headers[i];
    if (!h->name.len) return false;
    for (size_t j = 0; j < h->name.len; j++)
      if (!qs_http_is_tchar((unsigned char)h->name.ptr[j])) return false;
    for (size_t j = 0; j < h->value.len; j++) {
      unsigned char ch = (unsigned char)h->value.ptr[j];
      if (ch == '\r' || ch == '\n' || ch == '\0') return false;
    }
  }
  return true;
}
