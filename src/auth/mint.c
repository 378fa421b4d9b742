#include "auth/mint.h"

#include <jansson.h>
#include <stdlib.h>

#include "auth/base64url.h"
#include "auth/claims.h"
#include "base/clock.h"
#include "base/error.h"

int qs_jwt_sign_hs(qs_jwt_alg_t alg, qs_slice_t secret, qs_slice_t header_json, qs_slice_t claims_json,
                   qs_buf_t *out) {
  if (!qs_jwt_alg_is_hmac(alg) || secret.len == 0) return QS_EINVAL;
  size_t start = out->len;
  qs_buf_t tag;
  qs_buf_init(&tag, 64);
  int rc = qs_base64url_encode(header_json.ptr, header_json.len, out);
  if (!rc) rc = qs_buf_append(out, ".", 1);
  if (!rc) rc = qs_base64url_encode(claims_json.ptr, claims_json.len, out);
  if (!rc) rc = qs_jwt_hmac(alg, secret, qs_slice(out->ptr + start, out->len - start), &tag);
  if (!rc) rc = qs_buf_append(out, ".", 1);
  if (!rc) rc = qs_base64url_encode(tag.ptr, tag.len, out);
  qs_buf_dispose(&tag);
  if (rc) {
    out->len = start;
    if (out->ptr) out->ptr[start] = '\0';
  }
  return rc;
}

static json_t *string_array(const qs_slice_t *items, size_t count) {
  json_t *array = json_array();
  for (size_t i = 0; array && i < count; i++) {
    if (json_array_append_new(array, json_stringn(items[i].ptr, items[i].len))) {
      json_decref(array);
      return NULL;
    }
  }
  return array;
}

static json_t *topic_array(const qs_slice_t *items, size_t count, qs_match_type_t type) {
  json_t *array = json_array();
  for (size_t i = 0; array && i < count; i++) {
    json_t *topic = json_object();
    if (!topic || json_object_set_new(topic, "match", json_stringn(items[i].ptr, items[i].len)) ||
        (type != QS_MATCH_EXACT &&
         json_object_set_new(topic, "match_type", json_string(qs_match_type_name(type)))) ||
        json_array_append_new(array, topic)) {
      json_decref(array);
      return NULL;
    }
  }
  return array;
}

static json_t *detail(const char *action, const qs_slice_t *items, size_t count, qs_match_type_t type,
                      json_t *payload) {
  json_t *d = json_object();
  if (!d || json_object_set_new(d, "type", json_string(QS_CLAIMS_DETAIL_TYPE)) ||
      json_object_set_new(d, "actions", json_pack("[s]", action)) ||
      json_object_set_new(d, "topics", topic_array(items, count, type)) ||
      (payload && json_object_set(d, "payload", payload))) {
    json_decref(d);
    return NULL;
  }
  return d;
}

static json_t *build_claims(const qs_token_spec_t *spec, int64_t now_ms, json_t *payload) {
  json_t *claims = json_object();
  if (!claims) return NULL;
  bool ok = true;
  if (spec->lifetime_s > 0)
    ok = !json_object_set_new(claims, "exp", json_integer(now_ms / 1000 + spec->lifetime_s));
  if (ok && spec->issuer.len)
    ok = !json_object_set_new(claims, "iss", json_stringn(spec->issuer.ptr, spec->issuer.len));
  if (ok && spec->subject.len)
    ok = !json_object_set_new(claims, "sub", json_stringn(spec->subject.ptr, spec->subject.len));
  if (spec->format == QS_TOKEN_FORMAT_LEGACY) {
    json_t *mercure = json_object();
    ok = ok && mercure &&
         !json_object_set_new(mercure, "publish", string_array(spec->publish, spec->publish_count)) &&
         !json_object_set_new(mercure, "subscribe", string_array(spec->subscribe, spec->subscribe_count)) &&
         !(payload && json_object_set(mercure, "payload", payload));
    ok = ok && !json_object_set_new(claims, "mercure", mercure);
  } else {
    if (ok && spec->audience.len)
      ok = !json_object_set_new(claims, "aud", json_stringn(spec->audience.ptr, spec->audience.len));
    if (ok) ok = !json_object_set_new(claims, "iat", json_integer(now_ms / 1000));
    json_t *details = json_array();
    if (ok && details && spec->subscribe_count)
      ok = !json_array_append_new(
          details, detail("subscribe", spec->subscribe, spec->subscribe_count, spec->match_type, payload));
    if (ok && details && spec->publish_count)
      ok = !json_array_append_new(
          details, detail("publish", spec->publish, spec->publish_count, spec->match_type, NULL));
    ok = ok && details && !json_object_set_new(claims, "authorization_details", details);
  }
  if (!ok) {
    json_decref(claims);
    return NULL;
  }
  return claims;
}

int qs_token_mint(const qs_token_spec_t *spec, qs_buf_t *out) {
  qs_jwt_alg_t alg = spec->alg ? spec->alg : QS_JWT_HS256;
  if (!qs_jwt_alg_is_hmac(alg) || spec->secret.len == 0) return QS_EINVAL;
  if (spec->format == QS_TOKEN_FORMAT_DRAFT08 && spec->lifetime_s <= 0) return QS_EINVAL;
  int64_t now_ms = spec->now_ms ? spec->now_ms : qs_clock_wall_ms();
  json_t *payload = NULL;
  if (spec->payload_json.len) {
    json_error_t error;
    payload = json_loadb(spec->payload_json.ptr, spec->payload_json.len, JSON_DECODE_ANY, &error);
    if (!payload) return QS_EINVAL;
  }
  json_t *claims = build_claims(spec, now_ms, payload);
  json_decref(payload);
  if (!claims) return QS_ENOMEM;
  char *claims_text = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(claims);
  if (!claims_text) return QS_ENOMEM;
  const char *header = spec->format == QS_TOKEN_FORMAT_LEGACY ? "{\"typ\":\"JWT\",\"alg\":\"%s\"}"
                                                              : "{\"typ\":\"at+jwt\",\"alg\":\"%s\"}";
  qs_buf_t header_buf;
  qs_buf_init(&header_buf, 64);
  int rc = qs_buf_appendf(&header_buf, header, qs_jwt_alg_name(alg));
  if (!rc)
    rc = qs_jwt_sign_hs(alg, spec->secret, qs_buf_slice(&header_buf), qs_slice_from_cstr(claims_text), out);
  qs_buf_dispose(&header_buf);
  free(claims_text);
  return rc;
}
