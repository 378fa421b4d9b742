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
  qs_grants_t *anonymous;                /* the grants every anonymous subscriber shares */
};

struct qs_api_worker {
  qs_api_t *api;
  uv_loop_t *loop;
  qs_hub_shard_t *shard;
  qs_http_server_t *server;
  void (*on_closed)(void *ctx);
  void *on_closed_ctx;
};

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
void qs_api_ui(qs_api_worker_t *worker, qs_http_request_t *req);
/* GET <hub path>/subscriptions[/...] (subscriptions_api.c); 404 when the
 * `subscriptions` feature is off. */
void qs_api_subscriptions(qs_api_worker_t *worker, qs_http_request_t *req);
/* True when `path` is <hub path>/subscriptions or below it. */
bool qs_api_is_subscriptions_path(const qs_api_t *api, qs_slice_t path);

#endif
