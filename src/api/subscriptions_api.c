/* GET <hub path>/subscriptions[/...] (Mercure draft §Subscription API; the
 * legacy 0.x routes too): the active subscriptions, read from the registry of
 * hub/subscriptions.h, with the reconciliation cursor on the Link header.
 *
 * Routes, after `<hub path>/subscriptions`:
 *   (nothing)                              the collection
 *   /{match_type}/{match}                  the collection of one matcher
 *   /{match_type}/{match}/{subscriber}     one subscription (404 when unknown)
 *   /{topic}                               legacy: the collection of one topic= selector
 *   /{topic}/{subscriber}                  legacy: one subscription
 * A 2-segment path is {match_type}/{match} only when its first segment is
 * `exact` or `urlpattern` (as the reference hub decides). Segments are
 * percent-decoded once (`+` stays `+`); a bad escape or an unknown match type
 * is a 400.
 *
 * Collections are truncated at QS_SUBSCRIPTIONS_API_MAX_DOCS documents (or
 * QS_SUBSCRIPTIONS_API_MAX_BYTES of JSON); a truncated collection carries
 * `"truncated": true` (the draft allows truncation; it defines no paging). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "base/percent.h"
#include "http/form.h"
#include "hub/subscriptions.h"

#define QS_SUBSCRIPTIONS_API_MAX_DOCS 10000
#define QS_SUBSCRIPTIONS_API_MAX_BYTES (64u << 20)
/* A cursor is an update id; the Link header carries the hub URL and it. */
#define CURSOR_MAX_BYTES 1024
#define HEADER_MAX_BYTES (16u << 10)
/* While the newest event is not yet durable (LMDB group commit), the answer
 * waits: retried every RETRY_MS, for at most RETRY_LIMIT_MS. */
#define RETRY_MS 2
#define RETRY_LIMIT_MS 5000

static const char subscriptions_route[] = "/subscriptions";

bool qs_api_is_subscriptions_path(const qs_api_t *api, qs_slice_t path) {
  size_t base = api->hub_path.len + sizeof subscriptions_route - 1;
  if (path.len < base || !qs_slice_starts_with(path, api->hub_path) ||
      memcmp(path.ptr + api->hub_path.len, subscriptions_route, sizeof subscriptions_route - 1) != 0)
    return false;
  return path.len == base || path.ptr[base] == '/';
}

/* ---- Parsing the route ---- */

typedef struct {
  qs_subscriptions_query_t query;
  char *decoded; /* backing store of query.match and query.subscriber */
  int status;    /* 0, or the refusal */
  const char *reason;
} parsed_route_t;

static void parse_route(const qs_api_t *api, qs_slice_t path, parsed_route_t *out) {
  memset(out, 0, sizeof *out);
  size_t base = api->hub_path.len + sizeof subscriptions_route - 1;
  qs_slice_t rest = qs_slice(path.ptr + base, path.len - base);
  if (rest.len == 0) {
    out->query.scope = QS_SUBSCRIPTIONS_ALL;
    return;
  }
  qs_slice_t seg[3];
  size_t count = 0;
  size_t start = 1; /* rest starts with '/' */
  for (size_t i = 1; i <= rest.len; i++) {
    if (i < rest.len && rest.ptr[i] != '/') continue;
    if (count == 3 || i == start) {
      out->status = 404;
      out->reason = "Not Found";
      return;
    }
    seg[count++] = qs_slice(rest.ptr + start, i - start);
    start = i + 1;
  }
  out->decoded = malloc(rest.len + 1);
  if (!out->decoded) {
    out->status = 503;
    out->reason = "out of memory";
    return;
  }
  qs_slice_t dec[3];
  char *p = out->decoded;
  for (size_t i = 0; i < count; i++) {
    size_t len;
    if (qs_percent_decode(seg[i], QS_PERCENT_STRICT, p, &len) != 0) {
      out->status = 400;
      out->reason = "malformed percent-encoding in the subscription path";
      return;
    }
    dec[i] = qs_slice(p, len);
    p += len;
  }
  qs_subscriptions_query_t *q = &out->query;
  bool modern_pair =
      count == 2 && (qs_slice_eq_cstr(dec[0], "exact") || qs_slice_eq_cstr(dec[0], "urlpattern"));
  if (count == 3 || modern_pair) {
    if (qs_match_type_parse(dec[0], &q->type) != 0) {
      out->status = 400;
      out->reason = "unknown match type";
      return;
    }
    q->match = dec[1];
    q->scope = QS_SUBSCRIPTIONS_MATCH;
    if (count == 3) {
      q->scope = QS_SUBSCRIPTIONS_ONE;
      q->subscriber = dec[2];
    }
  } else {
    /* Legacy: /{topic} or /{topic}/{subscriber}. */
    q->type = QS_MATCH_LEGACY;
    q->match = dec[0];
    q->scope = QS_SUBSCRIPTIONS_MATCH;
    if (count == 2) {
      q->scope = QS_SUBSCRIPTIONS_ONE;
      q->subscriber = dec[1];
    }
  }
}

/* ---- Authorization ---- */

/* §Subscription API: the token must grant `subscribe` on the request's path
 * taken as a topic. It is presented as to subscribe: header, then the legacy
 * `authorization` query parameter (Mercure 0.x read it here too), then the
 * cookie. No token is a 401 even when anonymous subscribers are allowed.
 * Returns true when authorized; otherwise answers. */
static bool authorize(qs_http_request_t *req, const qs_api_t *api) {
  static const char what[] = "subscriptions API";
  qs_form_t form;
  qs_form_init(&form);
  qs_form_limits_t limits = {.max_pairs = 64, .max_bytes = api->config->max_header_bytes};
  if (qs_form_parse(req->query, &limits, &form) != 0) {
    qs_form_dispose(&form);
    qs_api_headers_t h;
    qs_api_headers_init(&h, api, req);
    qs_api_respond_text(req, &h, 400, "malformed or too large query string");
    return false;
  }
  const qs_slice_t *query_token = NULL;
  for (size_t i = 0; i < form.count && !query_token; i++)
    if (qs_slice_eq_cstr(form.pairs[i].name, "authorization") && form.pairs[i].value.len)
      query_token = &form.pairs[i].value;
  qs_grants_t *grants =
      qs_api_authenticate(req, api, QS_AUTH_SUBSCRIBER, query_token, query_token ? 1 : 0, false, what, NULL);
  qs_form_dispose(&form);
  if (!grants) return false;
  qs_slice_t path = req->path;
  bool ok = qs_grants_can_receive(grants, &path, 1);
  qs_grants_release(grants);
  if (!ok) {
    /* Name the path the token's subscribe selectors must match. */
    char text[QS_API_TOPIC_QUOTE_BYTES + 96];
    qs_api_quote_topic(path, text, sizeof text, "the token grants subscribing to no selector matching");
    qs_api_refuse_bearer(req, api, 403, "insufficient_scope", text, what);
  }
  return ok;
}

/* ---- Answering ---- */

/* The ETag of a cursor: quoted, with bytes below 0x21, '"', '%' and DEL
 * percent-encoded (as the reference hub). */
static void make_etag(qs_slice_t cursor, qs_buf_t *out) {
  static const char hex[] = "0123456789ABCDEF";
  qs_buf_append(out, "\"", 1);
  for (size_t i = 0; i < cursor.len; i++) {
    unsigned char c = (unsigned char)cursor.ptr[i];
    if (c < 0x21 || c == '"' || c == '%' || c == 0x7f) {
      char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
      qs_buf_append(out, esc, 3);
    } else {
      qs_buf_append(out, &cursor.ptr[i], 1);
    }
  }
  qs_buf_append(out, "\"", 1);
}

/* True when an If-None-Match header lists `etag` (or is `*`). */
static bool not_modified(const qs_http_request_t *req, qs_slice_t etag) {
  qs_slice_t values[4];
  size_t n = qs_http_request_header_values(req, "If-None-Match", values, 4);
  for (size_t v = 0; v < n && v < 4; v++) {
    qs_slice_t s = values[v];
    size_t i = 0;
    while (i < s.len) {
      while (i < s.len && (s.ptr[i] == ' ' || s.ptr[i] == '\t' || s.ptr[i] == ',')) i++;
      size_t start = i;
      bool quoted = false;
      while (i < s.len && (quoted || s.ptr[i] != ',')) {
        if (s.ptr[i] == '"') quoted = !quoted;
        i++;
      }
      size_t end = i;
      while (end > start && (s.ptr[end - 1] == ' ' || s.ptr[end - 1] == '\t')) end--;
      qs_slice_t tag = qs_slice(s.ptr + start, end - start);
      if (tag.len >= 2 && tag.ptr[0] == 'W' && tag.ptr[1] == '/') tag = qs_slice(tag.ptr + 2, tag.len - 2);
      if (qs_slice_eq_cstr(tag, "*") || qs_slice_eq(tag, etag)) return true;
    }
  }
  return false;
}

/* The Link value of §Subscription API: the hub, the cursor, and the type and
 * content type of subscription events. */
static void make_link(const qs_api_t *api, qs_slice_t cursor, qs_buf_t *out) {
  qs_buf_append(out, "<", 1);
  qs_buf_append(out, api->hub_path.ptr, api->hub_path.len);
  qs_buf_append_cstr(out, ">; rel=\"mercure\"; last-event-id=\"");
  for (size_t i = 0; i < cursor.len; i++) {
    if (cursor.ptr[i] == '"' || cursor.ptr[i] == '\\') qs_buf_append(out, "\\", 1);
    qs_buf_append(out, &cursor.ptr[i], 1);
  }
  qs_buf_append_cstr(out, "\"; type=\"mercure\"; content-type=\"application/json\"");
}

typedef struct {
  qs_api_worker_t *worker;
  qs_http_request_t *req;
  parsed_route_t route;
  uv_timer_t timer;
  int64_t deadline_ms;
} pending_t;

static void pending_free(uv_handle_t *handle) {
  pending_t *p = handle->data;
  free(p->route.decoded);
  free(p);
}

static void respond_plain(qs_http_request_t *req, const qs_api_t *api, int status, const char *text) {
  qs_api_headers_t h;
  qs_api_headers_init(&h, api, req);
  qs_api_headers_add(&h, "Cache-Control", qs_slice_from_cstr("must-revalidate"));
  qs_api_respond_text(req, &h, status, text);
}

/* Answers from a snapshot; returns false when it must be tried again later. */
static bool try_answer(qs_api_worker_t *worker, qs_http_request_t *req, const parsed_route_t *route,
                       bool last_try) {
  const qs_api_t *api = worker->api;
  qs_subscriptions_t *subs = qs_subscriptions_of(api->hub);
  qs_buf_t docs, cursor;
  qs_buf_init(&docs, QS_SUBSCRIPTIONS_API_MAX_BYTES);
  qs_buf_init(&cursor, CURSOR_MAX_BYTES);
  size_t count = 0;
  bool truncated = false;
  int rc = qs_subscriptions_snapshot(subs, api->hub, &route->query, QS_SUBSCRIPTIONS_API_MAX_DOCS, &docs,
                                     &count, &truncated, &cursor);
  if (rc == QS_EBUSY && !last_try) {
    qs_buf_dispose(&docs);
    qs_buf_dispose(&cursor);
    return false;
  }
  if (rc != 0 && rc != QS_ENOTFOUND) {
    respond_plain(req, api, 503, rc == QS_EBUSY ? "history not ready, try again" : qs_strerror(rc));
    qs_buf_dispose(&docs);
    qs_buf_dispose(&cursor);
    return true;
  }
  qs_buf_t link, etag, body;
  qs_buf_init(&link, HEADER_MAX_BYTES);
  qs_buf_init(&etag, HEADER_MAX_BYTES);
  qs_buf_init(&body, QS_SUBSCRIPTIONS_API_MAX_BYTES + HEADER_MAX_BYTES); /* docs and the collection's id */
  make_link(api, qs_buf_slice(&cursor), &link);
  make_etag(qs_buf_slice(&cursor), &etag);
  qs_api_headers_t h;
  qs_api_headers_init(&h, api, req);
  qs_api_headers_add(&h, "Link", qs_buf_slice(&link));
  qs_api_headers_add(&h, "Cache-Control", qs_slice_from_cstr("must-revalidate"));
  int status = 200;
  if (rc == QS_ENOTFOUND) {
    status = 404;
    qs_api_headers_add(&h, "Content-Type", qs_slice_from_cstr("text/plain; charset=utf-8"));
    qs_buf_append_cstr(&body, "Not Found\n");
  } else {
    qs_api_headers_add(&h, "ETag", qs_buf_slice(&etag));
    if (not_modified(req, qs_buf_slice(&etag))) {
      status = 304;
    } else if (route->query.scope == QS_SUBSCRIPTIONS_ONE) {
      qs_api_headers_add(&h, "Content-Type", qs_slice_from_cstr("application/json"));
      qs_buf_append(&body, docs.ptr, docs.len);
    } else {
      qs_api_headers_add(&h, "Content-Type", qs_slice_from_cstr("application/json"));
      /* The request path as the collection's id; a path that is not UTF-8
       * cannot be a JSON string and gets its id replaced by the hub's path. */
      json_t *id = json_stringn(req->path.ptr, req->path.len);
      char *id_json = id ? json_dumps(id, JSON_ENCODE_ANY) : NULL;
      json_decref(id);
      qs_buf_appendf(&body, "{\"id\":%s,\"type\":\"subscriptions\",\"subscriptions\":[",
                     id_json ? id_json : "null");
      free(id_json);
      qs_buf_append(&body, docs.ptr, docs.len);
      qs_buf_append_cstr(&body, truncated ? "],\"truncated\":true}" : "]}");
      if (truncated) QS_LOG_WARN("subscriptions API: collection truncated at %zu documents", count);
    }
  }
  qs_http_respond(req, status, h.items, h.count, qs_buf_slice(&body));
  qs_buf_dispose(&body);
  qs_buf_dispose(&etag);
  qs_buf_dispose(&link);
  qs_buf_dispose(&docs);
  qs_buf_dispose(&cursor);
  return true;
}

static void on_retry(uv_timer_t *timer) {
  pending_t *p = timer->data;
  bool last_try = qs_clock_mono_ms() >= p->deadline_ms;
  if (!try_answer(p->worker, p->req, &p->route, last_try)) return;
  uv_timer_stop(timer);
  uv_close((uv_handle_t *)timer, pending_free);
}

void qs_api_subscriptions(qs_api_worker_t *worker, qs_http_request_t *req) {
  const qs_api_t *api = worker->api;
  /* With the feature off the routes do not exist. */
  if (!qs_subscriptions_of(api->hub)) {
    qs_api_headers_t h;
    qs_api_headers_init(&h, api, req);
    qs_api_respond_text(req, &h, 404, "Not Found");
    return;
  }
  bool get = qs_http_request_method_is(req, "GET") || qs_http_request_method_is(req, "HEAD");
  if (!get) {
    qs_api_headers_t h;
    qs_api_headers_init(&h, api, req);
    if (qs_http_request_method_is(req, "OPTIONS") && api->cors) {
      qs_http_respond(req, 204, h.items, h.count, qs_slice(NULL, 0));
      return;
    }
    qs_api_headers_add(&h, "Allow", qs_slice_from_cstr("GET, HEAD"));
    qs_api_respond_text(req, &h, 405, "Method Not Allowed");
    return;
  }
  parsed_route_t parsed;
  parse_route(api, req->path, &parsed);
  if (parsed.status == 404) {
    free(parsed.decoded);
    respond_plain(req, api, 404, "Not Found");
    return;
  }
  /* Authorization comes before any other answer about the namespace. */
  if (!authorize(req, api)) {
    free(parsed.decoded);
    return;
  }
  if (parsed.status) {
    respond_plain(req, api, parsed.status, parsed.reason);
    free(parsed.decoded);
    return;
  }
  if (try_answer(worker, req, &parsed, false)) {
    free(parsed.decoded);
    return;
  }
  pending_t *p = calloc(1, sizeof *p);
  if (!p || uv_timer_init(worker->loop, &p->timer) != 0) {
    free(p);
    try_answer(worker, req, &parsed, true);
    free(parsed.decoded);
    return;
  }
  p->worker = worker;
  p->req = req;
  p->route = parsed;
  p->deadline_ms = qs_clock_mono_ms() + RETRY_LIMIT_MS;
  p->timer.data = p;
  uv_timer_start(&p->timer, on_retry, RETRY_MS, RETRY_MS);
}
