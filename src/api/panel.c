/* The operator's panel (the page at /, api/ui.c) asks the hub two things:
 *
 *   GET  /panel/hub    what the page needs to know of this hub (JSON): its
 *                      URL, version, the `aud` it expects, whether /metrics
 *                      and the subscriptions API are on this address.
 *   POST /panel/token  explains a token with this hub's keys, the way
 *                      `quicksilver token inspect` does (JSON): for each role,
 *                      accepted by which key under which rules, or precisely
 *                      why not, the grants, and for the `topic` values given
 *                      the grant that decides.
 *
 * The token comes in a form body (`token`, `topic`...), never in the URL, is
 * never logged nor cached, and the checks are rate limited process-wide: an
 * open page can try keys, not burn the hub's CPU on signatures. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "http/form.h"

#define PANEL_MAX_TOPICS 16
/* Room in the form besides the token: the names, and the topics. */
#define PANEL_FORM_SLACK_BYTES 1024

int qs_api_panel_init(qs_api_t *api) {
  api->panel_tokens = QS_API_PANEL_CHECK_BURST;
  api->panel_refill_ms = 0;
  return pthread_mutex_init(&api->panel_lock, NULL) == 0 ? 0 : QS_ENOMEM;
}

void qs_api_panel_dispose(qs_api_t *api) { pthread_mutex_destroy(&api->panel_lock); }

/* A token bucket: QS_API_PANEL_CHECKS_PER_S, bursts of QS_API_PANEL_CHECK_BURST. */
static bool take_check(qs_api_t *api, int64_t now_ms) {
  pthread_mutex_lock(&api->panel_lock);
  if (api->panel_refill_ms == 0) api->panel_refill_ms = now_ms;
  if (now_ms > api->panel_refill_ms) {
    api->panel_tokens += (double)(now_ms - api->panel_refill_ms) * QS_API_PANEL_CHECKS_PER_S / 1000.0;
    if (api->panel_tokens > QS_API_PANEL_CHECK_BURST) api->panel_tokens = QS_API_PANEL_CHECK_BURST;
    api->panel_refill_ms = now_ms;
  }
  bool ok = api->panel_tokens >= 1.0;
  if (ok) api->panel_tokens -= 1.0;
  pthread_mutex_unlock(&api->panel_lock);
  return ok;
}

static void respond_json(qs_http_request_t *req, const qs_api_t *api, int status, json_t *doc) {
  char *body = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(doc);
  qs_api_headers_t h;
  qs_api_headers_init(&h, api, req);
  qs_api_headers_add(&h, "Cache-Control", qs_slice_from_cstr("no-store"));
  if (!body) {
    qs_api_respond_text(req, &h, 503, "out of memory");
    return;
  }
  qs_api_headers_add(&h, "Content-Type", qs_slice_from_cstr("application/json"));
  qs_http_respond(req, status, h.items, h.count, qs_slice_from_cstr(body));
  free(body);
}

/* A string value from bytes that may not be UTF-8 (a pattern, a claim): a
 * non-UTF-8 byte becomes '?', so the value is never silently dropped. */
static json_t *text(qs_slice_t value) {
  json_t *s = json_stringn(value.ptr ? value.ptr : "", value.len);
  if (s) return s;
  char *copy = malloc(value.len + 1);
  if (!copy) return NULL;
  for (size_t i = 0; i < value.len; i++) {
    unsigned char c = (unsigned char)value.ptr[i];
    copy[i] = c < 0x80 ? (char)c : '?';
  }
  s = json_stringn(copy, value.len);
  free(copy);
  return s;
}

void qs_api_panel_hub(qs_api_worker_t *worker, qs_http_request_t *req) {
  const qs_api_t *api = worker->api;
  const qs_config_t *config = api->config;
  json_t *doc = json_object();
  json_object_set_new(doc, "version", json_string(QS_VERSION));
  json_object_set_new(doc, "hub_url", json_string(api->hub_url));
  json_object_set_new(doc, "hub_path", text(api->hub_path));
  pthread_rwlock_rdlock((pthread_rwlock_t *)&api->auth_lock);
  json_object_set_new(doc, "resource_identifier", text(qs_auth_resource_identifier(api->auth)));
  json_object_set_new(doc, "publisher_keys",
                      json_integer((json_int_t)qs_auth_key_count(api->auth, QS_AUTH_PUBLISHER)));
  json_object_set_new(doc, "subscriber_keys",
                      json_integer((json_int_t)qs_auth_key_count(api->auth, QS_AUTH_SUBSCRIBER)));
  pthread_rwlock_unlock((pthread_rwlock_t *)&api->auth_lock);
  json_object_set_new(doc, "anonymous", json_boolean(config->anonymous));
  /* With admin_listen, /metrics is not served here: the page says so. */
  json_object_set_new(doc, "metrics", config->admin_listen[0] ? json_null() : json_string("/metrics"));
  json_object_set_new(doc, "subscriptions", json_boolean(config->subscriptions));
  respond_json(req, api, 200, doc);
}

static json_t *grants_json(const qs_grants_t *g) {
  json_t *doc = json_object(), *publish = json_array(), *subscribe = json_array();
  for (size_t i = 0; i < g->publish_count; i++)
    json_array_append_new(
        publish, json_pack("{s:s,s:o}", "type", qs_match_type_name(qs_matcher_type(g->publish[i])), "pattern",
                           text(qs_matcher_pattern(g->publish[i]))));
  for (size_t i = 0; i < g->subscribe_count; i++) {
    const qs_subscribe_grant_t *s = &g->subscribe[i];
    json_t *item = json_pack("{s:s,s:o}", "type", qs_match_type_name(qs_matcher_type(s->matcher)), "pattern",
                             text(qs_matcher_pattern(s->matcher)));
    if (item && s->payload_json.len) json_object_set_new(item, "payload", text(s->payload_json));
    json_array_append_new(subscribe, item);
  }
  json_object_set_new(doc, "publish", publish);
  json_object_set_new(doc, "subscribe", subscribe);
  json_object_set_new(doc, "legacy", json_boolean(g->legacy));
  if (g->legacy && g->legacy_payload_json.len)
    json_object_set_new(doc, "payload", text(g->legacy_payload_json));
  if (g->subject.len) json_object_set_new(doc, "subject", text(g->subject));
  if (g->expires_ms) json_object_set_new(doc, "expires_ms", json_integer((json_int_t)g->expires_ms));
  return doc;
}

/* Mercure draft, Publishers (every topic granted) and Subscribers (a
 * private update is delivered when a grant matches one of its topics): the
 * grant that decides each topic, 0 for none. */
static json_t *topics_json(const qs_grants_t *g, qs_auth_role_t role, const qs_slice_t *topics,
                           size_t count) {
  json_t *list = json_array();
  for (size_t i = 0; i < count; i++) {
    size_t index = 0;
    bool yes = g && (role == QS_AUTH_PUBLISHER ? qs_grants_publish_grant_for(g, topics[i], &index)
                                               : qs_grants_subscribe_grant_for(g, topics[i], &index));
    json_array_append_new(list, json_pack("{s:o,s:b,s:I}", "topic", text(topics[i]), "allowed", yes, "grant",
                                          (json_int_t)(yes ? index + 1 : 0)));
  }
  return list;
}

static json_t *role_json(const qs_auth_t *auth, qs_auth_role_t role, qs_slice_t token,
                         const qs_slice_t *topics, size_t topic_count, int64_t now_ms, bool *accepted) {
  json_t *doc = json_object();
  *accepted = false;
  if (!qs_auth_has_keys(auth, role)) {
    json_object_set_new(doc, "accepted", json_false());
    json_object_set_new(doc, "reason",
                        json_string(role == QS_AUTH_PUBLISHER ? "no publisher key is configured"
                                                              : "no subscriber key is configured (anonymous "
                                                                "subscribers only)"));
    if (topic_count) json_object_set_new(doc, "topics", topics_json(NULL, role, topics, topic_count));
    return doc;
  }
  qs_auth_failure_t why = {0};
  qs_auth_explain_t explain = {0};
  qs_grants_t *grants = NULL;
  int rc = qs_auth_verify_explain(auth, role, token, (qs_slice_t){NULL, 0}, now_ms, &grants, &why, &explain);
  json_object_set_new(doc, "accepted", json_boolean(rc == 0));
  if (rc != 0) {
    /* The detail quotes claim values cut short, maybe in the middle of a character. */
    const char *reason = rc == QS_ENOMEM ? "out of memory" : qs_auth_failure_text(&why);
    json_object_set_new(doc, "reason", text(qs_slice_from_cstr(reason)));
  } else {
    *accepted = true;
    json_object_set_new(doc, "key", json_integer((json_int_t)explain.key_index + 1));
    json_object_set_new(doc, "key_count", json_integer((json_int_t)qs_auth_key_count(auth, role)));
    json_object_set_new(doc, "alg", json_string(qs_jwt_alg_name(explain.alg)));
    json_object_set_new(doc, "jwks", json_boolean(explain.jwks));
    json_object_set_new(doc, "legacy_key", json_boolean(explain.key_legacy));
    if (explain.issuer.len) json_object_set_new(doc, "issuer", text(explain.issuer));
    json_object_set_new(
        doc, "rules",
        json_string(explain.legacy_rules ? "legacy rules: exp optional, aud, typ and iss not checked"
                    : explain.key_legacy
                        ? "draft-08 rules (legacy key): exp required, aud checked when present"
                        : "draft-08 rules: typ at+jwt, exp required, aud checked, trusted iss"));
    json_object_set_new(doc, "grants", grants_json(grants));
  }
  if (topic_count) json_object_set_new(doc, "topics", topics_json(grants, role, topics, topic_count));
  qs_grants_release(grants);
  return doc;
}

static void refuse(qs_http_request_t *req, const qs_api_t *api, int status, const char *reason) {
  qs_api_headers_t h;
  qs_api_headers_init(&h, api, req);
  qs_api_headers_add(&h, "Cache-Control", qs_slice_from_cstr("no-store"));
  if (status == 429) qs_api_headers_add(&h, "Retry-After", qs_slice_from_cstr("1"));
  qs_api_respond_text(req, &h, status, reason);
}

void qs_api_panel_token(qs_api_worker_t *worker, qs_http_request_t *req) {
  qs_api_t *api = worker->api;
  size_t max_bytes = api->config->max_token_bytes + PANEL_MAX_TOPICS * api->config->max_pattern_bytes +
                     PANEL_FORM_SLACK_BYTES;
  if (req->body.len > max_bytes) {
    refuse(req, api, 413, "the form is too large: a token of at most max_token_size and a few topics");
    return;
  }
  qs_slice_t content_type;
  if (!qs_http_request_header(req, "Content-Type", &content_type) ||
      qs_form_content_type(content_type) != 1) {
    refuse(req, api, 415, "send the token as an application/x-www-form-urlencoded form: token=...");
    return;
  }
  if (!take_check(api, qs_clock_mono_ms())) {
    QS_LOG_DEBUG("panel token check refused remote=%s status=429 reason=\"rate limited\"", req->remote_addr);
    refuse(req, api, 429, "too many token checks: try again in a second");
    return;
  }
  qs_form_t form;
  qs_form_init(&form);
  qs_form_limits_t limits = {.max_pairs = PANEL_MAX_TOPICS + 8, .max_bytes = max_bytes};
  int rc = qs_form_parse(req->body, &limits, &form);
  qs_slice_t token;
  if (rc != 0 || !qs_form_get(&form, "token", &token) || token.len == 0) {
    qs_form_dispose(&form);
    refuse(req, api, 400,
           rc == QS_ETOOBIG ? "the form has too many fields" : "the form has no token field (token=...)");
    return;
  }
  qs_slice_t topics[PANEL_MAX_TOPICS];
  size_t topic_count = 0;
  for (size_t i = 0; i < form.count; i++) {
    if (!qs_slice_eq_cstr(form.pairs[i].name, "topic") || form.pairs[i].value.len == 0) continue;
    if (topic_count == PANEL_MAX_TOPICS) {
      qs_form_dispose(&form);
      refuse(req, api, 400, "at most 16 topics");
      return;
    }
    topics[topic_count++] = form.pairs[i].value;
  }
  int64_t now_ms = qs_clock_wall_ms();
  json_t *doc = json_object();
  bool publisher = false, subscriber = false;
  pthread_rwlock_rdlock(&api->auth_lock);
  json_object_set_new(doc, "resource_identifier", text(qs_auth_resource_identifier(api->auth)));
  json_object_set_new(
      doc, "publisher",
      role_json(api->auth, QS_AUTH_PUBLISHER, token, topics, topic_count, now_ms, &publisher));
  json_object_set_new(
      doc, "subscriber",
      role_json(api->auth, QS_AUTH_SUBSCRIBER, token, topics, topic_count, now_ms, &subscriber));
  pthread_rwlock_unlock(&api->auth_lock);
  json_object_set_new(doc, "now_ms", json_integer((json_int_t)now_ms));
  qs_form_dispose(&form);
  /* The outcome only: never the token. */
  QS_LOG_DEBUG("panel token check remote=%s publisher=%s subscriber=%s topics=%zu", req->remote_addr,
               publisher ? "accepted" : "refused", subscriber ? "accepted" : "refused", topic_count);
  respond_json(req, api, 200, doc);
}
