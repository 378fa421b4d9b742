#include "auth/jws.h"

#include <string.h>

#include "auth/base64url.h"
#include "base/error.h"

json_t *qs_json_parse_object(const char *ptr, size_t len) {
  json_error_t error;
  json_t *value = json_loadb(ptr, len, JSON_REJECT_DUPLICATES, &error);
  if (value && !json_is_object(value)) {
    json_decref(value);
    return NULL;
  }
  return value;
}

/* Decodes a base64url part and parses it as a JSON object. */
static int decode_object(qs_slice_t part, size_t max_bytes, json_t **out, const char **reason,
                         const char *what_b64, const char *what_json) {
  qs_buf_t buf;
  qs_buf_init(&buf, max_bytes);
  int rc = qs_base64url_decode(part, &buf);
  if (rc) {
    qs_buf_dispose(&buf);
    *reason = rc == QS_EPARSE ? what_b64 : "token too large";
    return rc;
  }
  *out = buf.len ? qs_json_parse_object(buf.ptr, buf.len) : NULL;
  qs_buf_dispose(&buf);
  if (!*out) {
    *reason = what_json;
    return QS_EPARSE;
  }
  return 0;
}

/* A string member as a slice borrowed from the object; QS_EPARSE if present but not a string. */
static int string_member(json_t *object, const char *name, qs_slice_t *out) {
  json_t *value = json_object_get(object, name);
  *out = (qs_slice_t){NULL, 0};
  if (!value) return 0;
  if (!json_is_string(value)) return QS_EPARSE;
  *out = qs_slice(json_string_value(value), json_string_length(value));
  return 0;
}

int qs_jws_parse(qs_slice_t token, size_t max_token_bytes, qs_jws_t *jws, const char **reason) {
  const char *why = NULL;
  memset(jws, 0, sizeof *jws);
  if (max_token_bytes == 0) max_token_bytes = QS_JWS_DEFAULT_MAX_TOKEN_BYTES;
  if (token.len > max_token_bytes) {
    *reason = "token too large";
    return QS_ETOOBIG;
  }
  /* RFC 7515 §7.1: BASE64URL(header) '.' BASE64URL(payload) '.' BASE64URL(signature). */
  const char *dot1 = token.len ? memchr(token.ptr, '.', token.len) : NULL;
  const char *dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(token.ptr + token.len - dot1 - 1)) : NULL;
  const char *end = token.ptr + token.len;
  if (!dot2 || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1))) {
    *reason = "not a JWS compact serialization (three parts expected)";
    return QS_EPARSE;
  }
  qs_slice_t header_part = qs_slice(token.ptr, (size_t)(dot1 - token.ptr));
  qs_slice_t claims_part = qs_slice(dot1 + 1, (size_t)(dot2 - dot1 - 1));
  qs_slice_t signature_part = qs_slice(dot2 + 1, (size_t)(end - dot2 - 1));
  int rc = decode_object(header_part, max_token_bytes, &jws->header, &why,
                         "malformed base64url in the header", "the header is not a JSON object");
  if (rc) goto failed;
  qs_slice_t alg_name;
  if (string_member(jws->header, "alg", &alg_name) || !alg_name.ptr) {
    why = "the header has no alg";
    rc = QS_EPARSE;
    goto failed;
  }
  if (qs_jwt_alg_parse(alg_name, &jws->alg)) {
    why = qs_slice_eq_nocase(alg_name, qs_slice_from_cstr("none")) ? "alg none is refused" : "unknown alg";
    rc = QS_EUNSUPPORTED;
    goto failed;
  }
  if (json_object_get(jws->header, "crit")) {
    why = "crit header parameters are not supported";
    rc = QS_EUNSUPPORTED;
    goto failed;
  }
  if (string_member(jws->header, "typ", &jws->typ) || string_member(jws->header, "kid", &jws->kid)) {
    why = "typ and kid must be strings";
    rc = QS_EPARSE;
    goto failed;
  }
  rc = decode_object(claims_part, max_token_bytes, &jws->claims, &why, "malformed base64url in the claims",
                     "the claims are not a JSON object");
  if (rc) goto failed;
  qs_buf_init(&jws->signature, max_token_bytes);
  rc = qs_base64url_decode(signature_part, &jws->signature);
  if (rc) {
    why = "malformed base64url in the signature";
    goto failed;
  }
  if (jws->signature.len == 0) {
    why = "the signature is empty";
    rc = QS_EPARSE;
    goto failed;
  }
  jws->signing_input = qs_slice(token.ptr, (size_t)(dot2 - token.ptr));
  return 0;
failed:
  qs_jws_dispose(jws);
  *reason = why;
  return rc;
}

void qs_jws_dispose(qs_jws_t *jws) {
  if (jws->header) json_decref(jws->header);
  if (jws->claims) json_decref(jws->claims);
  qs_buf_dispose(&jws->signature);
  memset(jws, 0, sizeof *jws);
}
