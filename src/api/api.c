/* Shared state, workers, routing and the response helpers of every endpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"

static char *format_alloc(const char *fmt, const char *a, const char *b) {
  size_t n = (size_t)snprintf(NULL, 0, fmt, a, b) + 1;
  char *s = malloc(n);
  if (s) snprintf(s, n, fmt, a, b);
  return s;
}

/* Splits the hub URL into its origin ("https://host:port") and path. */
static int split_hub_url(const char *url, qs_slice_t *origin, qs_slice_t *path) {
  const char *scheme_end = strstr(url, "://");
  if (!scheme_end) return QS_EINVAL;
  const char *path_start = strchr(scheme_end + 3, '/');
  if (!path_start) return QS_EINVAL;
  *origin = qs_slice(url, (size_t)(path_start - url));
  size_t path_len = strcspn(path_start, "?#");
  *path = qs_slice(path_start, path_len);
  return 0;
}

int qs_api_create(const qs_config_t *config, qs_hub_t *hub, qs_api_t **out) {
  qs_api_t *api = calloc(1, sizeof *api);
  if (!api) return QS_ENOMEM;
  api->config = config;
  if (qs_http_admission_create((size_t)config->max_connections, (size_t)config->max_connections_per_client,
                               &api->admission) != 0) {
    free(api);
    return QS_ENOMEM;
  }
  if (!(api->anonymous = qs_grants_create_empty())) {
    qs_http_admission_destroy(api->admission);
    free(api);
    return QS_ENOMEM;
  }
  if (qs_api_panel_init(api) != 0) {
    qs_grants_release(api->anonymous);
    qs_http_admission_destroy(api->admission);
    free(api);
    return QS_ENOMEM;
  }
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  int rc = pthread_rwlock_init(&api->auth_lock, &attr);
  pthread_rwlockattr_destroy(&attr);
  if (rc != 0) {
    qs_api_panel_dispose(api);
    qs_grants_release(api->anonymous);
    qs_http_admission_destroy(api->admission);
    free(api);
    return QS_ENOMEM;
  }
  api->hub = hub;
  *out = api;
  return 0;
}

/* Builds a token verifier from the keys, with the settings of the
 * configuration. Returns 0, QS_EINVAL with `*reason`, or QS_ENOMEM. */
static int create_auth(const qs_api_t *api, const qs_auth_key_config_t *publisher_keys,
                       size_t publisher_key_count, const qs_auth_key_config_t *subscriber_keys,
                       size_t subscriber_key_count, qs_auth_t **out, const char **reason) {
  const qs_config_t *config = api->config;
  qs_auth_config_t auth_config = {
      .publisher_keys = publisher_keys,
      .publisher_key_count = publisher_key_count,
      .subscriber_keys = subscriber_keys,
      .subscriber_key_count = subscriber_key_count,
      .resource_identifier =
          qs_slice_from_cstr(config->resource_identifier[0] ? config->resource_identifier : api->hub_url),
      .match = api->match_options,
      .max_token_bytes = config->max_token_bytes,
      .cache_max_entries = QS_AUTH_DEFAULT_CACHE_ENTRIES,
      .jwks_refresh_interval_ms = (int64_t)config->jwks_refresh_interval_ms,
      .jwks_unknown_kid_interval_ms = (int64_t)config->jwks_unknown_kid_interval_ms,
  };
  return qs_auth_create(&auth_config, out, reason);
}

int qs_api_replace_keys(qs_api_t *api, const qs_auth_key_config_t *publisher_keys, size_t publisher_key_count,
                        const qs_auth_key_config_t *subscriber_keys, size_t subscriber_key_count,
                        const char **reason) {
  qs_auth_t *fresh = NULL;
  int rc = create_auth(api, publisher_keys, publisher_key_count, subscriber_keys, subscriber_key_count,
                       &fresh, reason);
  if (rc) return rc;
  pthread_rwlock_wrlock(&api->auth_lock);
  qs_auth_t *old = api->auth;
  api->auth = fresh;
  pthread_rwlock_unlock(&api->auth_lock);
  /* No worker holds the old verifier any more: they only use it under the
   * read lock. Its JWKS threads stop here, on the caller's thread. */
  qs_auth_destroy(old);
  return 0;
}

int qs_api_ready(qs_api_t *api, int bound_port, const qs_auth_key_config_t *publisher_keys,
                 size_t publisher_key_count, const qs_auth_key_config_t *subscriber_keys,
                 size_t subscriber_key_count, const char **reason) {
  const qs_config_t *config = api->config;
  qs_buf_t url;
  qs_buf_init(&url, 4096);
  if (qs_config_hub_url(config, (uint16_t)bound_port, &url) != 0) {
    qs_buf_dispose(&url);
    return QS_ENOMEM;
  }
  api->hub_url = qs_buf_steal(&url, NULL);
  qs_slice_t origin;
  if (!api->hub_url) return QS_ENOMEM;
  if (split_hub_url(api->hub_url, &origin, &api->hub_path) != 0) {
    *reason = "hub_url must be an absolute URL with a path, e.g. https://example.com/.well-known/mercure";
    return QS_EINVAL;
  }
  char *origin_text = qs_slice_strdup(origin);
  char *path_text = qs_slice_strdup(api->hub_path);
  if (origin_text && path_text) {
    api->metadata_path = format_alloc("/.well-known/oauth-protected-resource%s%s", path_text, "");
    if (api->metadata_path) api->metadata_url = format_alloc("%s%s", origin_text, api->metadata_path);
  }
  free(origin_text);
  free(path_text);
  if (!api->metadata_path || !api->metadata_url) return QS_ENOMEM;
  api->match_options = (qs_match_options_t){.hub_url = qs_slice_from_cstr(api->hub_url),
                                            .max_pattern_bytes = config->max_pattern_bytes};
  api->publish_limits = (qs_publish_limits_t){.max_topics = (size_t)config->max_topics_per_update,
                                              .max_topic_bytes = config->max_pattern_bytes,
                                              .max_field_bytes = config->max_field_bytes,
                                              .hub_url = qs_slice_from_cstr(api->hub_url)};
  if (config->cors_origins.count) {
    int rc = qs_cors_create((const char *const *)config->cors_origins.items, config->cors_origins.count, 0,
                            &api->cors);
    if (rc) {
      *reason = "cors_origins: each entry must be scheme://host[:port], null or *";
      return rc;
    }
  }
  if (config->max_connections_per_subject > 0 &&
      qs_subject_limiter_create((size_t)config->max_connections_per_subject, &api->subject_limiter) != 0)
    return QS_ENOMEM;
  return create_auth(api, publisher_keys, publisher_key_count, subscriber_keys, subscriber_key_count,
                     &api->auth, reason);
}

void qs_api_destroy(qs_api_t *api) {
  if (!api) return;
  qs_auth_destroy(api->auth);
  pthread_rwlock_destroy(&api->auth_lock);
  qs_api_panel_dispose(api);
  qs_grants_release(api->anonymous);
  qs_http_admission_destroy(api->admission);
  qs_subject_limiter_destroy(api->subject_limiter);
  qs_cors_destroy(api->cors);
  free(api->metadata_url);
  free(api->metadata_path);
  free(api->hub_url);
  free(api);
}

const char *qs_api_hub_url(const qs_api_t *api) { return api->hub_url; }

/* ---- Response helpers ---- */

void qs_api_headers_add(qs_api_headers_t *h, const char *name, qs_slice_t value) {
  if (h->count == QS_API_MAX_HEADERS || value.len > sizeof h->storage - h->used) return;
  char *copy = h->storage + h->used;
  if (value.len) memcpy(copy, value.ptr, value.len);
  h->used += value.len;
  h->items[h->count++] = (qs_http_header_t){qs_slice_from_cstr(name), qs_slice(copy, value.len)};
}

void qs_api_headers_init(qs_api_headers_t *h, const qs_api_t *api, const qs_http_request_t *req) {
  h->count = 0;
  h->used = 0;
  qs_api_headers_add(h, "X-Content-Type-Options", qs_slice_from_cstr("nosniff"));
  qs_api_headers_add(h, "X-Frame-Options", qs_slice_from_cstr("DENY"));
  qs_api_headers_add(h, "Content-Security-Policy", qs_slice_from_cstr("default-src 'self'"));
  if (api->cors && req->has_origin) {
    qs_http_header_t cors[QS_CORS_MAX_HEADERS];
    int n = qs_cors_apply(api->cors, req, cors, QS_CORS_MAX_HEADERS, NULL);
    /* CORS names and values are borrowed from the policy and the request. */
    for (int i = 0; i < n && h->count < QS_API_MAX_HEADERS; i++) h->items[h->count++] = cors[i];
  }
}

void qs_api_respond_text(qs_http_request_t *req, qs_api_headers_t *h, int status, const char *text) {
  qs_api_headers_add(h, "Content-Type", qs_slice_from_cstr("text/plain; charset=utf-8"));
  qs_buf_t body;
  qs_buf_init(&body, 4096);
  qs_buf_appendf(&body, "%s\n", text);
  qs_http_respond(req, status, h->items, h->count, qs_buf_slice(&body));
  qs_buf_dispose(&body);
}

void qs_api_quote_topic(qs_slice_t topic, char *out, size_t cap, const char *prefix) {
  char quoted[QS_API_TOPIC_QUOTE_BYTES + 4];
  size_t n = topic.len < QS_API_TOPIC_QUOTE_BYTES ? topic.len : QS_API_TOPIC_QUOTE_BYTES, i;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)topic.ptr[i];
    quoted[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
  }
  if (topic.len > n) {
    memcpy(quoted + i, "...", 3);
    i += 3;
  }
  quoted[i] = 0;
  snprintf(out, cap, "%s `%s`", prefix, quoted);
}

void qs_api_refuse_bearer(qs_http_request_t *req, const qs_api_t *api, int status, const char *error,
                          const char *reason, const char *what) {
  if (status == 401) atomic_fetch_add_explicit(&((qs_api_t *)api)->token_refusals, 1, memory_order_relaxed);
  char quoted[512];
  QS_LOG_INFO("%s refused remote=%s status=%d error=%s reason=%s", what, req->remote_addr, status,
              error ? error : "no_token", qs_log_quote(reason, quoted, sizeof quoted));
  qs_api_headers_t h;
  qs_api_headers_init(&h, api, req);
  char challenge[1024];
  if (error)
    snprintf(challenge, sizeof challenge, "Bearer error=\"%s\", resource_metadata=\"%s\"", error,
             api->metadata_url);
  else
    snprintf(challenge, sizeof challenge, "Bearer resource_metadata=\"%s\"", api->metadata_url);
  qs_api_headers_add(&h, "WWW-Authenticate", qs_slice_from_cstr(challenge));
  qs_api_respond_text(req, &h, status, reason);
}

#define MAX_AUTH_VALUES 4

/* A refused Authorization header hides a cookie that the client may have
 * meant (Mercure draft, Authorization: the header wins): says so. */
static void append_ignored_cookie(const qs_api_t *api, const qs_slice_t *cookies, size_t cookie_count,
                                  char *text, size_t cap) {
  const char *names[2] = {
      api->config->cookie_name[0] ? api->config->cookie_name : QS_AUTH_DEFAULT_COOKIE_NAME,
      QS_AUTH_LEGACY_COOKIE_NAME};
  for (int n = 0; n < 2; n++) {
    for (size_t i = 0; i < cookie_count; i++) {
      qs_slice_t value;
      if (qs_cookie_find(cookies[i], qs_slice_from_cstr(names[n]), &value) != 0 || value.len == 0) continue;
      size_t used = strlen(text);
      snprintf(text + used, cap - used,
               "; the %s cookie was ignored because the Authorization header carried a token", names[n]);
      return;
    }
  }
}

qs_grants_t *qs_api_authenticate(qs_http_request_t *req, const qs_api_t *api, qs_auth_role_t role,
                                 const qs_slice_t *query_authorization, size_t query_authorization_count,
                                 bool anonymous_ok, const char *what, qs_token_source_t *source) {
  qs_slice_t authorization[MAX_AUTH_VALUES], cookies[MAX_AUTH_VALUES];
  size_t auth_count = qs_http_request_header_values(req, "Authorization", authorization, MAX_AUTH_VALUES);
  size_t cookie_count = qs_http_request_header_values(req, "Cookie", cookies, MAX_AUTH_VALUES);
  qs_token_request_t token_request = {
      .authorization = authorization,
      /* More Authorization headers than fit still count as "repeated". */
      .authorization_count = auth_count < MAX_AUTH_VALUES ? auth_count : MAX_AUTH_VALUES,
      .cookie = cookies,
      .cookie_count = cookie_count < MAX_AUTH_VALUES ? cookie_count : MAX_AUTH_VALUES,
      .query_authorization = query_authorization,
      .query_authorization_count = query_authorization_count,
      .cookie_name = qs_slice_from_cstr(api->config->cookie_name),
      .legacy = true,
  };
  qs_slice_t token;
  qs_token_source_t from = QS_TOKEN_NONE;
  qs_auth_failure_t why = {0};
  if (qs_token_extract(&token_request, &token, &from, &why) != 0) {
    qs_api_refuse_bearer(req, api, 400, why.error, why.reason, what);
    return NULL;
  }
  if (source) *source = from;
  if (from == QS_TOKEN_NONE) {
    if (anonymous_ok) {
      /* Grants are immutable once made: anonymous subscribers share one. */
      return qs_grants_retain(api->anonymous);
    }
    qs_api_refuse_bearer(req, api, 401, NULL,
                         role == QS_AUTH_PUBLISHER
                             ? "a publisher token is required"
                             : "a subscriber token is required (anonymous access is off)",
                         what);
    return NULL;
  }
  qs_grants_t *grants = NULL;
  pthread_rwlock_rdlock((pthread_rwlock_t *)&api->auth_lock);
  int rc = qs_auth_verify(api->auth, role, token, qs_clock_wall_ms(), &grants, &why);
  pthread_rwlock_unlock((pthread_rwlock_t *)&api->auth_lock);
  if (rc != 0) {
    char text[QS_AUTH_DETAIL_BYTES + 256];
    snprintf(text, sizeof text, "%s", qs_auth_failure_text(&why));
    if (from == QS_TOKEN_HEADER)
      append_ignored_cookie(api, cookies, token_request.cookie_count, text, sizeof text);
    qs_api_refuse_bearer(req, api, rc == QS_ENOMEM ? 503 : 401, why.error ? why.error : "invalid_token", text,
                         what);
    return NULL;
  }
  return grants;
}

/* ---- Routing ---- */

static void respond_method_not_allowed(qs_http_request_t *req, const qs_api_t *api, const char *allow) {
  qs_api_headers_t h;
  qs_api_headers_init(&h, api, req);
  qs_api_headers_add(&h, "Allow", qs_slice_from_cstr(allow));
  qs_api_respond_text(req, &h, 405, "Method Not Allowed");
}

static void handle_preflight(qs_http_request_t *req, const qs_api_t *api) {
  if (!api->cors) {
    respond_method_not_allowed(req, api, "GET, HEAD, POST, QUERY");
    return;
  }
  qs_api_headers_t h;
  qs_api_headers_init(&h, api, req);
  qs_http_respond(req, 204, h.items, h.count, qs_slice(NULL, 0));
}

/* /healthz (liveness), /readyz and /metrics, on the public address or on
 * admin_listen. Returns false, answering nothing, for another path. */
static bool operator_endpoint(qs_api_worker_t *worker, qs_http_request_t *req, qs_slice_t path, bool get) {
  if (qs_slice_eq_cstr(path, "/healthz")) {
    qs_api_headers_t h;
    qs_api_headers_init(&h, worker->api, req);
    qs_api_health(worker, req, &h);
  } else if (qs_slice_eq_cstr(path, "/readyz")) {
    qs_api_readyz(worker, req);
  } else if (qs_slice_eq_cstr(path, "/metrics") && get) {
    qs_api_metrics(worker, req);
  } else {
    return false;
  }
  return true;
}

/* admin_listen: the operator's endpoints and nothing else. */
static void on_admin_request(qs_http_request_t *req, void *ctx) {
  qs_api_worker_t *worker = ctx;
  bool get = qs_http_request_method_is(req, "GET") || qs_http_request_method_is(req, "HEAD");
  if (operator_endpoint(worker, req, req->path, get)) return;
  qs_api_headers_t h;
  qs_api_headers_init(&h, worker->api, req);
  qs_api_respond_text(req, &h, 404, "Not Found: this address serves /healthz, /readyz and /metrics");
}

static void on_request(qs_http_request_t *req, void *ctx) {
  qs_api_worker_t *worker = ctx;
  const qs_api_t *api = worker->api;
  qs_slice_t path = req->path;
  bool get = qs_http_request_method_is(req, "GET") || qs_http_request_method_is(req, "HEAD");

  if (qs_slice_eq(path, api->hub_path)) {
    if (worker->draining && !qs_http_request_method_is(req, "POST") &&
        !qs_http_request_method_is(req, "OPTIONS")) {
      /* Draining: subscribers go to another instance (or to this one once restarted). */
      qs_api_headers_t h;
      qs_api_headers_init(&h, api, req);
      qs_api_headers_add(&h, "Retry-After", qs_slice_from_cstr("1"));
      qs_api_respond_text(req, &h, 503, "the hub is shutting down (draining): reconnect");
      return;
    }
    /* Draft, Subscription: QUERY carries the parameters in its body. */
    if (get || qs_http_request_method_is(req, "QUERY"))
      qs_api_subscribe(worker, req);
    else if (qs_http_request_method_is(req, "POST"))
      qs_api_publish(worker, req);
    else if (qs_http_request_method_is(req, "OPTIONS"))
      handle_preflight(req, api);
    else
      respond_method_not_allowed(req, api, "GET, HEAD, POST, QUERY");
    return;
  }
  if (qs_api_is_subscriptions_path(api, path)) {
    qs_api_subscriptions(worker, req);
    return;
  }
  if (qs_slice_eq_cstr(path, api->metadata_path)) {
    if (get)
      qs_api_metadata(worker, req);
    else if (qs_http_request_method_is(req, "OPTIONS"))
      handle_preflight(req, api);
    else
      respond_method_not_allowed(req, api, "GET, HEAD");
    return;
  }
  qs_api_headers_t h;
  qs_api_headers_init(&h, api, req);
  if (!api->config->admin_listen[0] && operator_endpoint(worker, req, path, get)) {
    /* answered */
  } else if (qs_api_is_ui_path(path) && get && api->config->ui) {
    qs_api_ui(worker, req);
  } else if (qs_slice_eq_cstr(path, "/panel/hub") && api->config->ui) {
    if (get)
      qs_api_panel_hub(worker, req);
    else
      respond_method_not_allowed(req, api, "GET, HEAD");
  } else if (qs_slice_eq_cstr(path, "/panel/token") && api->config->ui) {
    if (qs_http_request_method_is(req, "POST"))
      qs_api_panel_token(worker, req);
    else
      respond_method_not_allowed(req, api, "POST");
  } else if (qs_slice_eq_cstr(path, "/favicon.ico") && get && api->config->ui) {
    qs_http_respond(req, 204, h.items, h.count, qs_slice(NULL, 0)); /* no icon, and no 404 in consoles */
  } else if (qs_slice_eq_cstr(path, "/robots.txt")) {
    qs_api_respond_text(req, &h, 200, "User-agent: *\nDisallow: /");
  } else {
    qs_api_respond_text(req, &h, 404, "Not Found");
  }
}

/* ---- Workers ---- */

/* The HTTP limits the configuration sets, the defaults for the rest. */
static void http_limits(const qs_config_t *c, qs_http_limits_t *limits) {
  qs_http_limits_default(limits);
  limits->max_header_bytes = c->max_header_bytes;
  limits->max_body_bytes = c->max_request_body_bytes;
  limits->header_timeout_ms = c->header_read_timeout_ms;
  limits->idle_timeout_ms = c->idle_timeout_ms;
  limits->coalesce_max_delay_ms = c->coalesce_max_delay_ms;
}

static void on_flush(void *ctx) {
  qs_api_worker_t *worker = ctx;
  qs_hub_shard_poll(worker->shard);
  /* Publishers wait for this worker's writes: hold nothing back for coalescing. */
  if (qs_hub_shard_answers_wait(worker->shard)) qs_http_server_end_window(worker->server);
}

static void on_written(void *ctx, bool all) { qs_hub_shard_written(((qs_api_worker_t *)ctx)->shard, all); }

int qs_api_worker_start(qs_api_t *api, uv_loop_t *loop, const char *host, int port, qs_api_worker_t **out) {
  qs_api_worker_t *worker = calloc(1, sizeof *worker);
  if (!worker) return QS_ENOMEM;
  worker->api = api;
  worker->loop = loop;
  int rc = qs_hub_shard_create(api->hub, loop, &worker->shard);
  if (rc) {
    free(worker);
    return rc;
  }
  qs_http_limits_t limits;
  http_limits(api->config, &limits);
  limits.admission = api->admission; /* the limits hold for the process, not per worker */
  limits.counters = &api->http_counters;
  rc = qs_http_server_create(loop, host, port, &limits, on_request, worker, &worker->server);
  if (rc) {
    qs_hub_shard_close(worker->shard, free, worker);
    return rc;
  }
  if (api->tls && (rc = qs_http_server_use_tls(worker->server, api->tls)) != 0) {
    qs_http_server_close(worker->server, NULL, NULL);
    qs_hub_shard_close(worker->shard, free, worker);
    return rc;
  }
  /* Updates published during an iteration join the streams' writes of that iteration. */
  qs_http_server_on_flush(worker->server, on_flush, worker);
  qs_http_server_on_written(worker->server, on_written, worker);
  *out = worker;
  return 0;
}

void qs_api_use_tls(qs_api_t *api, struct qs_tls_context *tls) { api->tls = tls; }

int qs_api_worker_port(const qs_api_worker_t *worker) { return qs_http_server_port(worker->server); }

int qs_api_worker_serve_admin(qs_api_worker_t *worker, const char *host, int port) {
  qs_http_limits_t limits;
  http_limits(worker->api->config, &limits);
  return qs_http_server_create(worker->loop, host, port, &limits, on_admin_request, worker,
                               &worker->admin_server);
}

int qs_api_worker_admin_port(const qs_api_worker_t *worker) {
  return worker->admin_server ? qs_http_server_port(worker->admin_server) : 0;
}

static void on_shard_closed(void *ctx) {
  qs_api_worker_t *worker = ctx;
  void (*cb)(void *) = worker->on_closed;
  void *cb_ctx = worker->on_closed_ctx;
  free(worker);
  if (cb) cb(cb_ctx);
}

static void on_server_closed(void *ctx) {
  qs_api_worker_t *worker = ctx;
  qs_hub_shard_close(worker->shard, on_shard_closed, worker);
}

/* The admin server closes first (the drain is over by then), then the public one. */
static void on_admin_server_closed(void *ctx) {
  qs_api_worker_t *worker = ctx;
  worker->admin_server = NULL;
  qs_http_server_close(worker->server, on_server_closed, worker);
}

void qs_api_worker_close(qs_api_worker_t *worker, void (*on_closed)(void *ctx), void *ctx) {
  worker->on_closed = on_closed;
  worker->on_closed_ctx = ctx;
  if (worker->admin_server)
    qs_http_server_close(worker->admin_server, on_admin_server_closed, worker);
  else
    qs_http_server_close(worker->server, on_server_closed, worker);
}
