/* Shared by the endpoint files of src/api/ only. */
#ifndef QS_API_API_INTERNAL_H
#define QS_API_API_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "api/api.h"
#include "api/publish_fields.h"
#include "auth/extract.h"
#include "auth/subject_limit.h"
#include "http/admission.h"
#include "http/cors.h"
#include "http/http.h"
#include "match/matcher.h"

struct qs_api {
  const qs_config_t *config;
  /* The token verifier. Workers hold auth_lock for reading while they use
   * it; qs_api_replace_keys swaps it under the write lock (writers first, so
   * a steady stream of requests cannot hold a reload off). */
  qs_auth_t *auth;
  pthread_rwlock_t auth_lock;
  qs_hub_t *hub;
  char *hub_url;       /* public URL of the hub */
  qs_slice_t hub_path; /* path part of hub_url, e.g. "/.well-known/mercure" */
  char *metadata_url;  /* RFC 9728 metadata URL, for `resource_metadata` */
  char *metadata_path; /* its path */
  qs_match_options_t match_options;
  qs_publish_limits_t publish_limits;
  qs_http_admission_t *admission;        /* connection counts shared by every worker */
  qs_cors_t *cors;                       /* NULL when cors_origins is empty */
  qs_subject_limiter_t *subject_limiter; /* NULL when max_connections_per_subject is 0 */
  struct qs_tls_context *tls;            /* borrowed; NULL: plain HTTP */
  _Atomic uint64_t token_refusals;       /* 401 answers (metrics) */
  qs_http_counters_t http_counters;      /* every worker's public server adds to these (metrics) */
  qs_grants_t *anonymous;                /* the grants every anonymous subscriber shares */
  atomic_bool draining;                  /* a worker began draining: /readyz answers 503 */
  /* Wall time (ms) of the last update the history could not store, 0 once
   * one is stored again: /readyz answers 503 meanwhile. */
  _Atomic int64_t store_failed_ms;
  atomic_int store_error; /* the QS_E* code of that failure */
  /* Event streams open across every worker: a drain ends on every worker
   * together, once none is left (or drain_timeout is over). */
  _Atomic size_t streams_open;
  /* POST /panel/token's rate limit (api/panel.c), a token bucket. */
  pthread_mutex_t panel_lock;
  double panel_tokens;
  int64_t panel_refill_ms;
};

/* Token checks of the panel (POST /panel/token): so many per second across
 * the process, in bursts of at most so many. */
#define QS_API_PANEL_CHECKS_PER_S 5
#define QS_API_PANEL_CHECK_BURST 10

/* Sets up and frees the panel's state in `api` (api/panel.c). Init returns 0 or QS_ENOMEM. */
int qs_api_panel_init(qs_api_t *api);
void qs_api_panel_dispose(qs_api_t *api);

/* One open event stream of a worker, on the worker's list (for draining). */
typedef struct qs_api_stream_entry {
  struct qs_api_stream_entry *prev, *next; /* both point to itself when not listed */
  qs_http_stream_t *stream;
  struct qs_api_worker *worker;
} qs_api_stream_entry_t;

struct qs_api_worker {
  qs_api_t *api;
  uv_loop_t *loop;
  qs_hub_shard_t *shard;
  qs_http_server_t *server;
  qs_http_server_t *admin_server; /* admin_listen, on one worker only; NULL elsewhere */
  void (*on_closed)(void *ctx);
  void *on_closed_ctx;
  qs_api_stream_entry_t streams; /* list head: the worker's open event streams, oldest first */
  size_t stream_count;
  /* Draining (api/drain.c): new subscriptions are refused, streams end over drain_ms. */
  bool draining;
  uv_timer_t drain_timer;
  uint64_t drain_started_ms, drain_ms;
  size_t drain_initial;
  void (*on_drained)(void *ctx);
  void *on_drained_ctx;
};

/* Puts `stream` on `worker`'s list through `entry` (owned by the caller,
 * which keeps it until qs_api_stream_untrack). Call on the worker's loop. */
void qs_api_stream_track(qs_api_worker_t *worker, qs_api_stream_entry_t *entry, qs_http_stream_t *stream);

/* Takes `entry` off its worker's list; harmless when it is not listed. */
void qs_api_stream_untrack(qs_api_stream_entry_t *entry);

/* GET /readyz: 200 "ready", or 503 with the reason (draining, or the history
 * store failing to store updates). */
void qs_api_readyz(qs_api_worker_t *worker, qs_http_request_t *req);

/* Records the outcome of storing one update, for /readyz (0 or a QS_E* code). */
void qs_api_note_store_result(const qs_api_t *api, int status);

/* A response's header list, with room for formatted values. */
#define QS_API_MAX_HEADERS 24
typedef struct {
  qs_http_header_t items[QS_API_MAX_HEADERS];
  size_t count;
  char storage[2048];
  size_t used;
} qs_api_headers_t;

/* Starts a header list with the security headers every response carries and
 * the CORS headers the request's Origin earns. */
void qs_api_headers_init(qs_api_headers_t *h, const qs_api_t *api, const qs_http_request_t *req);

/* Adds a header; the value is copied into the list's storage. Silently
 * drops it when the list is full (the fixed headers fit with room to spare). */
void qs_api_headers_add(qs_api_headers_t *h, const char *name, qs_slice_t value);

/* Answers with a text/plain body (`text` and a newline) and the list's headers. */
void qs_api_respond_text(qs_http_request_t *req, qs_api_headers_t *h, int status, const char *text);

#define QS_API_TOPIC_QUOTE_BYTES 200

/* Writes "<prefix> `<topic>`" to out[0..cap), the topic cut at
 * QS_API_TOPIC_QUOTE_BYTES bytes ("..." then) and its control and non-ASCII
 * bytes shown as '?', so that a refusal can name it in a text body and a log line. */
void qs_api_quote_topic(qs_slice_t topic, char *out, size_t cap, const char *prefix);

/* RFC 6750 refusals with a `WWW-Authenticate: Bearer` challenge carrying
 * `resource_metadata`; `error` NULL gives the bare challenge (no token).
 * `reason` goes in the log line and the body, never token bytes. */
void qs_api_refuse_bearer(qs_http_request_t *req, const qs_api_t *api, int status, const char *error,
                          const char *reason, const char *what);

/* Authenticates a request for `role` (Mercure draft, Authorization): the
 * token comes from the Authorization header, else the legacy `authorization`
 * query values given (may be NULL), else the cookie, and is verified. Returns
 * one reference to its grants, or NULL after answering the refusal: 400
 * invalid_request for a malformed presentation, 401 with the bare challenge
 * when there is no token (or, when `anonymous_ok`, empty grants instead),
 * 401 invalid_token for a token that fails. A presented token that fails is
 * refused even when anonymous access is allowed: silently downgrading would
 * hide the error from the user. `*source` (may be NULL) tells where the token
 * came from; `what` names the endpoint in the log. */
qs_grants_t *qs_api_authenticate(qs_http_request_t *req, const qs_api_t *api, qs_auth_role_t role,
                                 const qs_slice_t *query_authorization, size_t query_authorization_count,
                                 bool anonymous_ok, const char *what, qs_token_source_t *source);

/* Endpoints. Each answers (now or later) the request it is given. */
void qs_api_publish(qs_api_worker_t *worker, qs_http_request_t *req);
void qs_api_subscribe(qs_api_worker_t *worker, qs_http_request_t *req);
void qs_api_metadata(qs_api_worker_t *worker, qs_http_request_t *req);
void qs_api_metrics(qs_api_worker_t *worker, qs_http_request_t *req);
/* GET /healthz (metrics.c): 200 "ok", or 503 with the reason when the shared
 * transport is not connected (a balancer then sends clients to other nodes).
 * `h` holds the response's common headers. */
void qs_api_health(qs_api_worker_t *worker, qs_http_request_t *req, qs_api_headers_t *h);
/* GET /, /ui.js, /ui.css, /panel.js: the page and its assets (api/ui.c, embedded). */
void qs_api_ui(qs_api_worker_t *worker, qs_http_request_t *req);
/* True for the paths qs_api_ui serves. */
bool qs_api_is_ui_path(qs_slice_t path);
/* GET /panel/hub and POST /panel/token, for the page (api/panel.c). */
void qs_api_panel_hub(qs_api_worker_t *worker, qs_http_request_t *req);
void qs_api_panel_token(qs_api_worker_t *worker, qs_http_request_t *req);
/* The page's files (src/api/assets/), embedded at build time by
 * cmake/embed_assets.cmake: NUL-terminated, with their lengths. */
extern const char qs_asset_index_html[], qs_asset_ui_css[], qs_asset_ui_js[], qs_asset_panel_js[];
extern const size_t qs_asset_index_html_len, qs_asset_ui_css_len, qs_asset_ui_js_len, qs_asset_panel_js_len;
/* GET <hub path>/subscriptions[/...] (subscriptions_api.c); 404 when the
 * `subscriptions` feature is off. */
void qs_api_subscriptions(qs_api_worker_t *worker, qs_http_request_t *req);
/* True when `path` is <hub path>/subscriptions or below it. */
bool qs_api_is_subscriptions_path(const qs_api_t *api, qs_slice_t path);

#endif
