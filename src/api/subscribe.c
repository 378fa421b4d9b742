/* GET (or QUERY) /.well-known/mercure (Mercure draft, Subscription; legacy `topic=`):
 * parameters, authorization, then a Server-Sent Events stream fed by the hub
 * through a sink. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "api/subscribe_params.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "http/form.h"
#include "net/listener.h"

/* One subscriber's connection: the bridge between its HTTP stream and the hub. */
typedef struct {
  qs_http_stream_t *stream;
  qs_subscriber_t *subscriber;
  qs_subject_lease_t *lease;   /* max_connections_per_subject; NULL when not counted */
  qs_api_stream_entry_t entry; /* on the worker's list while the stream is open (draining) */
  int64_t started_ms;          /* monotonic, for the access log */
  char remote[QS_NET_ADDR_TEXT_MAX];
} sse_connection_t;

/* The queued references to one update from the connections of one thread.
 * A fan-out queues the same update on thousands of streams of one loop: they
 * share one holder, counted without atomics (a stream's queued bytes are
 * released on its own loop's thread, the thread that queued them), and the
 * holder keeps one reference to the update, so the update's atomic count is
 * touched once per loop and update instead of twice per delivery. */
typedef struct {
  qs_update_t *update;
  size_t refs;
} shared_update_t;

/* The holder of the update this thread queued last; NULL once it is released. */
static _Thread_local shared_update_t *last_shared;

static void release_shared(void *owner) {
  shared_update_t *shared = owner;
  if (--shared->refs) return;
  if (last_shared == shared) last_shared = NULL;
  qs_update_release(shared->update);
  free(shared);
}

static int sink_write_update(void *ctx, qs_update_t *update) {
  sse_connection_t *conn = ctx;
  shared_update_t *shared = last_shared;
  if (!shared || shared->update != update) {
    shared = malloc(sizeof *shared);
    if (!shared) return QS_ENOMEM;
    shared->update = qs_update_retain(update);
    shared->refs = 0;
    last_shared = shared;
  }
  shared->refs++;
  /* On failure write_ref has not taken the reference: give it back. */
  int rc = qs_http_stream_write_ref(conn->stream, update->sse, release_shared, shared);
  if (rc) release_shared(shared);
  return rc;
}

static int sink_write_bytes(void *ctx, const char *ptr, size_t len) {
  sse_connection_t *conn = ctx;
  return qs_http_stream_write(conn->stream, qs_slice(ptr, len));
}

static size_t sink_queued_bytes(void *ctx) {
  return qs_http_stream_queued_bytes(((sse_connection_t *)ctx)->stream);
}

static bool sink_write_waits(void *ctx) {
  return qs_http_stream_write_waits(((sse_connection_t *)ctx)->stream);
}

static void sink_close(void *ctx) { qs_http_stream_close(((sse_connection_t *)ctx)->stream); }

static void sink_abort(void *ctx) { qs_http_stream_abort(((sse_connection_t *)ctx)->stream); }

static const qs_sink_vtable_t sse_sink = {
    .write_update = sink_write_update,
    .write_bytes = sink_write_bytes,
    .queued_bytes = sink_queued_bytes,
    .write_waits = sink_write_waits,
    .close = sink_close,
    .abort = sink_abort,
};

/* Ends and frees a connection: from its stream's close callback, or when no
 * stream opened. The HTTP layer runs that callback from the loop, never
 * inside qs_http_stream_close or _abort (http.h), so never inside the hub's
 * call to the sink's close or abort: qs_hub_unsubscribe frees the
 * subscriber at once, and nothing of the hub still holds it. */
static void connection_free(sse_connection_t *conn) {
  qs_hub_unsubscribe(conn->subscriber);
  qs_subject_limiter_release(conn->lease);
  free(conn);
}

static void on_stream_closed(qs_http_stream_t *stream, int reason, void *ctx) {
  (void)stream;
  sse_connection_t *conn = ctx;
  char quoted[128];
  QS_LOG_INFO("subscription ended remote=%s subscriber=%llu duration_ms=%lld reason=%s", conn->remote,
              (unsigned long long)qs_hub_subscriber_id(conn->subscriber),
              (long long)(qs_clock_mono_ms() - conn->started_ms),
              qs_log_quote(reason == 0            ? "ended by the hub"
                           : reason == QS_ECLOSED ? "closed by the client"
                                                  : qs_strerror(reason),
                           quoted, sizeof quoted));
  qs_api_stream_untrack(&conn->entry);
  connection_free(conn);
}

static void on_stream_drained(qs_http_stream_t *stream, void *ctx) {
  qs_subscriber_t *sub = ((sse_connection_t *)ctx)->subscriber;
  /* Once the replay is out, only drains that end a blocked write matter (the
   * hub's stall detection); the usual drain then costs no callback. Asked
   * before on_writable, which may end the connection. */
  if (!qs_hub_subscriber_needs_writable(sub)) qs_http_stream_drain_blocked_only(stream, true);
  qs_hub_subscriber_on_writable(sub);
}

static void refuse_params(qs_http_request_t *req, const qs_api_t *api, const qs_api_refusal_t *refusal) {
  char quoted[512];
  QS_LOG_INFO("subscribe refused remote=%s status=%d reason=%s", req->remote_addr, refusal->status,
              qs_log_quote(refusal->reason, quoted, sizeof quoted));
  qs_api_headers_t h;
  qs_api_headers_init(&h, api, req);
  qs_api_respond_text(req, &h, refusal->status, refusal->reason);
}

/* The subscription's name/value pairs: the query component, then, for a
 * QUERY request, its form-encoded body (draft, Subscription: the union of
 * both, the query's `last_event_id` first so that it wins). Returns 0 or
 * QS_EINVAL with `refusal` set. */
static int read_params(const qs_http_request_t *req, const qs_config_t *config, qs_form_t *form,
                       qs_api_refusal_t *refusal) {
  bool query_method = qs_http_request_method_is(req, "QUERY");
  qs_form_limits_t limits = {.max_pairs = (size_t)config->max_matchers + 16,
                             .max_bytes = config->max_header_bytes};
  if (query_method) limits.max_bytes += config->max_request_body_bytes;
  if (qs_form_parse(req->query, &limits, form) != 0) {
    *refusal = (qs_api_refusal_t){400, "malformed or too large query string"};
    return QS_EINVAL;
  }
  if (!query_method || req->body.len == 0) return 0;
  qs_slice_t type;
  if (!qs_http_request_header(req, "Content-Type", &type) || qs_form_content_type(type) != 1) {
    *refusal =
        (qs_api_refusal_t){415, "a QUERY subscription's body must be application/x-www-form-urlencoded"};
    return QS_EINVAL;
  }
  if (qs_form_parse_append(req->body, &limits, form) != 0) {
    *refusal = (qs_api_refusal_t){400, "malformed body, or more parameters than max_matchers allows"};
    return QS_EINVAL;
  }
  return 0;
}

static void subscribe(qs_api_worker_t *worker, qs_http_request_t *req, bool cursor_awaited);

/* A resume waiting for the transport to read up to its cursor. */
typedef struct {
  qs_api_worker_t *worker;
  qs_http_request_t *req; /* NULL once the connection died */
} awaited_resume_t;

static void on_resume_aborted(qs_http_request_t *req, void *ctx) {
  (void)req;
  ((awaited_resume_t *)ctx)->req = NULL;
}

static void on_cursor_ready(void *ctx, int status) {
  awaited_resume_t *a = ctx;
  if (a->req) {
    qs_http_request_on_abort(a->req, NULL, NULL);
    if (status == QS_EUNAVAILABLE)
      QS_LOG_DEBUG(
          "subscribe remote=%s resumes with what this node has read (the transport could not tell "
          "where its last event id is)",
          a->req->remote_addr);
    subscribe(a->worker, a->req, true);
  }
  free(a);
}

/* With a shared transport, the cursor may name an update published on
 * another node that this one has not read yet: then the request is handled
 * again once it has (or the transport said the id is unknown, or gave up).
 * Returns true when the request now waits for that. */
static bool await_cursor(qs_api_worker_t *worker, qs_http_request_t *req, qs_slice_t last_event_id) {
  awaited_resume_t *a = malloc(sizeof *a);
  if (!a) return false; /* the resume goes on with what this node has */
  *a = (awaited_resume_t){.worker = worker, .req = req};
  bool pending = false;
  if (qs_hub_await_cursor(worker->shard, last_event_id, on_cursor_ready, a, &pending) != 0 || !pending) {
    free(a);
    return false;
  }
  qs_http_request_on_abort(req, on_resume_aborted, a);
  return true;
}

void qs_api_subscribe(qs_api_worker_t *worker, qs_http_request_t *req) { subscribe(worker, req, false); }

/* A subscription request while it is read and checked: what steps 1 to 3
 * of subscribe() give the next ones. */
typedef struct {
  qs_form_t form;               /* the decoded pairs; params' slices point into it */
  qs_subscribe_params_t params; /* matchers owned until handed to the hub */
  qs_grants_t *grants;          /* one reference; NULL before authorization */
} subscription_t;

static void subscription_dispose(subscription_t *s) {
  if (s->grants) qs_grants_release(s->grants);
  s->grants = NULL;
  qs_subscribe_params_dispose(&s->params);
  qs_form_dispose(&s->form);
}

/* Step 1: the query (and QUERY body) into matchers and a cursor. Returns
 * false after answering the refusal. */
static bool read_subscription(qs_http_request_t *req, const qs_api_t *api, subscription_t *s) {
  const qs_config_t *config = api->config;
  qs_api_refusal_t refusal;
  if (read_params(req, config, &s->form, &refusal) != 0) {
    refuse_params(req, api, &refusal);
    return false;
  }
  qs_slice_t header_cursor = {0};
  bool has_header_cursor = qs_http_request_header(req, "Last-Event-ID", &header_cursor);
  if (qs_subscribe_params_parse(s->form.pairs, s->form.count, header_cursor, has_header_cursor,
                                (size_t)config->max_matchers, &api->match_options, &s->params,
                                &refusal) != 0) {
    refuse_params(req, api, &refusal);
    return false;
  }
  return true;
}

/* Step 2: the token (or anonymity, when allowed) gives grants. Returns
 * false after answering the refusal. */
static bool authorize(qs_http_request_t *req, const qs_api_t *api, subscription_t *s) {
  const qs_subscribe_params_t *p = &s->params;
  s->grants = qs_api_authenticate(req, api, QS_AUTH_SUBSCRIBER, &p->authorization,
                                  p->authorization.len ? 1 : 0, api->config->anonymous, "subscribe", NULL);
  return s->grants != NULL;
}

/* Step 3, draft, Reconciliation, on any node: asked only for an
 * authenticated subscriber, before it holds a connection slot of its
 * subject. Returns true when the request now waits for the transport
 * (subscribe() runs again once it has read up to the cursor). */
static bool awaits_cursor(qs_api_worker_t *worker, qs_http_request_t *req, const subscription_t *s,
                          bool cursor_awaited) {
  const qs_subscribe_params_t *p = &s->params;
  return !cursor_awaited && p->has_cursor && p->last_event_id.len > 0 &&
         await_cursor(worker, req, p->last_event_id);
}

static void refuse_subject(qs_http_request_t *req, const qs_api_t *api, int rc) {
  int status = rc == QS_EBUSY ? 429 : 503;
  const char *reason =
      rc == QS_EBUSY ? "too many connections for this token subject" : "cannot subscribe now";
  char quoted[128];
  QS_LOG_INFO("subscribe refused remote=%s status=%d reason=%s", req->remote_addr, status,
              qs_log_quote(reason, quoted, sizeof quoted));
  qs_api_headers_t h;
  qs_api_headers_init(&h, api, req);
  qs_api_respond_text(req, &h, status, reason);
}

/* Step 4: a connection slot of the token's subject, and the hub's
 * subscriber (which takes the matchers and its own grants reference).
 * Returns the connection, or NULL after answering the refusal. */
static sse_connection_t *open_connection(qs_api_worker_t *worker, qs_http_request_t *req, subscription_t *s) {
  const qs_api_t *api = worker->api;
  sse_connection_t *conn = calloc(1, sizeof *conn);
  int rc;
  /* Draft, Authorization: concurrent subscriptions per token subject, 429 past the cap. */
  if (conn && api->subject_limiter &&
      (rc = qs_subject_limiter_acquire(api->subject_limiter, s->grants, &conn->lease)) != 0) {
    free(conn);
    refuse_subject(req, api, rc);
    return NULL;
  }
  qs_hub_subscribe_params_t hub_params = {
      .matchers = s->params.matchers,
      .matcher_count = s->params.matcher_count,
      .grants = s->grants,
      .has_last_event_id = s->params.has_cursor,
      .last_event_id = s->params.last_event_id,
  };
  qs_sink_t sink = {.vtable = &sse_sink, .ctx = conn};
  rc = conn ? qs_hub_subscribe(worker->shard, &hub_params, &sink, &conn->subscriber) : QS_ENOMEM;
  qs_grants_release(s->grants); /* the hub holds its own reference */
  s->grants = NULL;
  if (rc != 0) {
    if (conn) qs_subject_limiter_release(conn->lease);
    free(conn);
    qs_api_headers_t h;
    qs_api_headers_init(&h, api, req);
    qs_api_respond_text(req, &h, 503, rc == QS_ECLOSED ? "the hub is shutting down" : "cannot subscribe now");
    return NULL;
  }
  conn->started_ms = qs_clock_mono_ms();
  snprintf(conn->remote, sizeof conn->remote, "%s", req->remote_addr);
  free(s->params.matchers); /* the matchers now belong to the hub */
  s->params.matchers = NULL;
  s->params.matcher_count = 0;
  return conn;
}

/* The response headers of an event stream. Draft, Reconciliation: the
 * cursor field is due whenever one was sent. */
static void stream_headers(qs_http_request_t *req, const qs_api_t *api, const subscription_t *s,
                           const sse_connection_t *conn, qs_api_headers_t *h) {
  qs_api_headers_init(h, api, req);
  qs_api_headers_add(h, "Content-Type", qs_slice_from_cstr("text/event-stream"));
  qs_api_headers_add(h, "Cache-Control",
                     qs_slice_from_cstr("private, no-cache, no-store, must-revalidate, max-age=0"));
  qs_api_headers_add(h, "X-Accel-Buffering", qs_slice_from_cstr("no"));
  qs_hub_cursor_t cursor = qs_hub_subscriber_cursor(conn->subscriber);
  if (cursor != QS_HUB_CURSOR_NONE) {
    qs_slice_t value =
        cursor == QS_HUB_CURSOR_FOUND ? s->params.last_event_id : qs_slice_from_cstr("earliest");
    qs_api_headers_add(h, "Mercure-Last-Event-ID", value);
    /* The legacy hub answered its own `Last-Event-ID` response header. */
    if (s->params.legacy) qs_api_headers_add(h, "Last-Event-ID", value);
  }
}

/* Step 5: the response headers, then the stream, then the hub starts
 * writing to it. Takes `conn` (freed here when no stream opens). */
static void start_stream(qs_api_worker_t *worker, qs_http_request_t *req, subscription_t *s,
                         sse_connection_t *conn) {
  const qs_api_t *api = worker->api;
  qs_api_headers_t h;
  stream_headers(req, api, s, conn, &h);
  int rc;
  if (qs_http_request_method_is(req, "HEAD")) {
    /* HEAD shows the headers a GET would get; there is no stream to keep. */
    qs_http_respond(req, 200, h.items, h.count, qs_slice(NULL, 0));
    rc = QS_ECLOSED;
  } else {
    rc = qs_http_stream_start(req, 200, h.items, h.count, &conn->stream);
    if (rc == QS_EINVAL || rc == QS_ENOMEM) {
      qs_api_headers_init(&h, api, req);
      qs_api_respond_text(req, &h, 500, "cannot open the event stream");
    }
  }
  bool resumed = s->params.has_cursor;
  size_t matcher_count = qs_hub_subscriber_matcher_count(conn->subscriber);
  subscription_dispose(s); /* params' slices pointed into the form: unused from here */
  if (rc != 0) {
    connection_free(conn);
    return;
  }
  qs_http_stream_on_close(conn->stream, on_stream_closed, conn);
  qs_http_stream_on_drain(conn->stream, on_stream_drained);
  qs_api_stream_track(worker, &conn->entry, conn->stream);
  /* A comment right away flushes the headers: EventSource fires onopen. */
  qs_http_stream_write(conn->stream, qs_slice(":\n", 2));
  /* The access log: who subscribes with how many selectors, never the token or the topics. */
  QS_LOG_INFO("subscription started remote=%s subscriber=%llu status=200 topics=%zu resumed=%s", conn->remote,
              (unsigned long long)qs_hub_subscriber_id(conn->subscriber), matcher_count,
              resumed ? "true" : "false");
  qs_hub_subscriber_start(conn->subscriber);
}

/* The subscription, step by step; `cursor_awaited` when it runs again after
 * step 3 waited for the transport. */
static void subscribe(qs_api_worker_t *worker, qs_http_request_t *req, bool cursor_awaited) {
  const qs_api_t *api = worker->api;
  subscription_t s = {0};
  qs_form_init(&s.form);
  if (!read_subscription(req, api, &s) || !authorize(req, api, &s) ||
      awaits_cursor(worker, req, &s, cursor_awaited)) {
    subscription_dispose(&s);
    return;
  }
  sse_connection_t *conn = open_connection(worker, req, &s);
  if (!conn) {
    subscription_dispose(&s);
    return;
  }
  start_stream(worker, req, &s, conn);
}
