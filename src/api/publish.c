/* POST /.well-known/mercure (Mercure draft, Publication). Checks run in the
 * reference hub's order: authentication (401/400), the form (400; 413 for a body over max_request_body_size),
 * the publish grant (403), the token-independent rules (400), then the hub. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "base/uuid.h"
#include "http/form.h"
#include "net/listener.h"

/* A publish waiting for the hub; freed by on_published, which always comes. */
typedef struct {
  qs_http_request_t *req; /* NULL once the connection died */
  const qs_api_t *api;
  char remote[QS_NET_ADDR_TEXT_MAX]; /* for the access log, which outlives req */
} pending_publish_t;

static void on_request_aborted(qs_http_request_t *req, void *ctx) {
  (void)req;
  ((pending_publish_t *)ctx)->req = NULL;
}

static void on_published(void *ctx, qs_update_t *update, int status) {
  pending_publish_t *pending = ctx;
  qs_http_request_t *req = pending->req;
  qs_api_note_store_result(pending->api, status);
  /* The access log: who published how many topics, never the data. */
  QS_LOG_INFO("publish remote=%s status=%d topics=%zu private=%s answered=%s", pending->remote,
              status == 0 ? 200 : 503, update->topic_count, update->is_private ? "true" : "false",
              req ? "true" : "false");
  if (req) {
    qs_http_request_on_abort(req, NULL, NULL);
    qs_api_headers_t h;
    qs_api_headers_init(&h, pending->api, req);
    if (status == 0) {
      qs_api_headers_add(&h, "Content-Type", qs_slice_from_cstr("text/plain; charset=utf-8"));
      qs_http_respond(req, 200, h.items, h.count, update->id);
    } else {
      QS_LOG_ERROR("update %.*s not stored: %s", (int)update->id.len, update->id.ptr, qs_strerror(status));
      /* The transport reconnects (or fails over) within seconds. */
      if (status == QS_EUNAVAILABLE) qs_api_headers_add(&h, "Retry-After", qs_slice_from_cstr("1"));
      qs_api_respond_text(
          req, &h, 503,
          status == QS_EUNAVAILABLE
              ? "the update was not acknowledged by the shared transport (Redis unreachable or "
                "not replicated in time); retry later with the same id"
              : "the update could not be stored; retry later");
    }
  }
  free(pending);
}

/* A publish_origins entry: an exact origin, `*` for every origin, or one `*`
 * inside an entry standing for any run of characters (as the reference hub:
 * a scheme, then "*.example.com"). */
static bool origin_matches(qs_slice_t entry, qs_slice_t origin) {
  const char *star = memchr(entry.ptr, '*', entry.len);
  if (!star) return qs_slice_eq(entry, origin);
  size_t prefix = (size_t)(star - entry.ptr), suffix = entry.len - prefix - 1;
  return origin.len >= prefix + suffix && memcmp(origin.ptr, entry.ptr, prefix) == 0 &&
         memcmp(origin.ptr + origin.len - suffix, star + 1, suffix) == 0;
}

/* Mercure draft, Security Considerations (CSRF): a cookie-authenticated
 * publish must come from an allowed origin, taken from Origin or Referer. */
static int check_publish_origin(const qs_api_t *api, const qs_http_request_t *req, const char **reason) {
  qs_slice_t origin = req->origin;
  qs_slice_t referer;
  if (!req->has_origin || origin.len == 0) {
    if (!qs_http_request_header(req, "Referer", &referer)) {
      *reason = "a cookie-authenticated publish needs an Origin or Referer header";
      return 400;
    }
    const char *scheme_end = memmem(referer.ptr, referer.len, "://", 3);
    if (!scheme_end) {
      *reason = "the Referer header is not an absolute URL";
      return 400;
    }
    const char *host = scheme_end + 3;
    const char *end = referer.ptr + referer.len;
    const char *slash = memchr(host, '/', (size_t)(end - host));
    origin = qs_slice(referer.ptr, (size_t)((slash ? slash : end) - referer.ptr));
  }
  const qs_config_list_t *allowed = &api->config->publish_origins;
  for (size_t i = 0; i < allowed->count; i++)
    if (origin_matches(qs_slice_from_cstr(allowed->items[i]), origin)) return 0;
  *reason = "this origin is not allowed to publish with cookie authentication (publish_origins)";
  return 400;
}

/* 1 for a form body, 0 for none or another media type (an empty form then:
 * "missing topic"), QS_EPARSE for a Content-Type that is no media type. */
static int form_content_type(const qs_http_request_t *req) {
  qs_slice_t type;
  if (!qs_http_request_header(req, "Content-Type", &type)) return 0;
  return qs_form_content_type(type);
}

void qs_api_publish(qs_api_worker_t *worker, qs_http_request_t *req) {
  const qs_api_t *api = worker->api;
  qs_token_source_t source;
  qs_grants_t *grants = qs_api_authenticate(req, api, QS_AUTH_PUBLISHER, NULL, 0, false, "publish", &source);
  if (!grants) return;
  int rc;
  qs_api_headers_t h;
  if (source == QS_TOKEN_COOKIE) {
    const char *reason = NULL;
    int status = check_publish_origin(api, req, &reason);
    if (status) {
      qs_grants_release(grants);
      qs_api_refuse_bearer(req, api, status, "invalid_request", reason, "publish");
      return;
    }
  }

  qs_form_t form;
  qs_form_init(&form);
  qs_api_refusal_t refusal = {0};
  qs_publish_fields_t pub = {0};
  int content_type = form_content_type(req);
  if (content_type < 0) {
    refusal = (qs_api_refusal_t){400, "the Content-Type header is not a media type"};
    goto refuse;
  }
  if (content_type == 1) {
    qs_form_limits_t limits = {.max_pairs = (size_t)api->config->max_topics_per_update + 64,
                               .max_bytes = api->config->max_request_body_bytes};
    rc = qs_form_parse(req->body, &limits, &form);
    if (rc != 0) {
      refusal = (qs_api_refusal_t){400, rc == QS_ETOOBIG ? "too many form fields" : "malformed form body"};
      goto refuse;
    }
  }
  if (qs_publish_fields_collect(form.pairs, form.count, &api->publish_limits, &pub, &refusal) != 0)
    goto refuse;
  size_t refused_topic;
  if (qs_grants_first_unpublishable(grants, pub.topics, pub.topic_count, &refused_topic)) {
    char text[QS_API_TOPIC_QUOTE_BYTES + 64];
    qs_api_quote_topic(pub.topics[refused_topic], text, sizeof text,
                       "the token does not grant publishing to topic");
    qs_grants_release(grants);
    qs_publish_fields_dispose(&pub);
    qs_form_dispose(&form);
    qs_api_refuse_bearer(req, api, 403, "insufficient_scope", text, "publish");
    return;
  }
  if (qs_publish_fields_validate(&pub, &api->publish_limits, &refusal) != 0) goto refuse;

  char generated_id[QS_UUID_URN_LEN + 1];
  qs_slice_t id = pub.id;
  if (id.len == 0) {
    qs_uuid_v7_urn(generated_id);
    id = qs_slice(generated_id, QS_UUID_URN_LEN);
  }
  qs_update_fields_t update_fields = {.id = id,
                                      .topics = pub.topics,
                                      .topic_count = pub.topic_count,
                                      .type = pub.type,
                                      .retry_ms = pub.retry_ms,
                                      .data = pub.data,
                                      .is_private = pub.is_private};
  qs_update_t *update = qs_update_create(&update_fields, qs_clock_wall_ms());
  qs_publish_fields_dispose(&pub);
  qs_form_dispose(&form);
  qs_grants_release(grants);
  pending_publish_t *pending = malloc(sizeof *pending);
  if (!update || !pending) {
    qs_update_release(update);
    free(pending);
    qs_api_headers_init(&h, api, req);
    qs_api_respond_text(req, &h, 503, "out of memory");
    return;
  }
  *pending = (pending_publish_t){.req = req, .api = api};
  snprintf(pending->remote, sizeof pending->remote, "%s", req->remote_addr);
  qs_http_request_on_abort(req, on_request_aborted, pending);
  rc = qs_hub_publish(worker->shard, update, on_published, pending);
  if (rc != 0) {
    qs_api_note_store_result(api, rc);
    QS_LOG_INFO("publish remote=%s status=503 topics=%zu reason=%s", req->remote_addr, update->topic_count,
                rc == QS_ECLOSED ? "shutting_down" : "not_stored");
    qs_http_request_on_abort(req, NULL, NULL);
    free(pending);
    qs_api_headers_init(&h, api, req);
    char text[320];
    if (rc == QS_EUNAVAILABLE) {
      /* Why, as the transport knows it (reconnecting, failing over...). */
      qs_store_transport_t transport;
      qs_store_transport(qs_hub_store(api->hub), &transport);
      snprintf(text, sizeof text,
               "the shared transport (Redis) is unreachable (%s); the update was not stored, retry later",
               transport.reason && *transport.reason ? transport.reason : "reconnecting");
      qs_api_headers_add(&h, "Retry-After", qs_slice_from_cstr("1"));
    }
    qs_api_respond_text(req, &h, 503,
                        rc == QS_ECLOSED        ? "the hub is shutting down"
                        : rc == QS_EUNAVAILABLE ? text
                                                : "the update could not be stored");
  } else if (qs_log_enabled(QS_LOG_DEBUG)) {
    QS_LOG_DEBUG("update published id=%.*s topics=%zu private=%d", (int)update->id.len, update->id.ptr,
                 update->topic_count, update->is_private);
  }
  qs_update_release(update);
  return;

refuse:
  char quoted[512];
  QS_LOG_INFO("publish refused remote=%s status=%d reason=%s", req->remote_addr, refusal.status,
              qs_log_quote(refusal.reason, quoted, sizeof quoted));
  qs_grants_release(grants);
  qs_publish_fields_dispose(&pub);
  qs_form_dispose(&form);
  qs_api_headers_init(&h, api, req);
  qs_api_respond_text(req, &h, refusal.status, refusal.reason);
}
