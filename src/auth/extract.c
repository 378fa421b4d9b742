#include "auth/extract.h"

#include "base/error.h"

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

static qs_slice_t trim(qs_slice_t s) {
  while (s.len && is_ows(s.ptr[0])) s.ptr++, s.len--;
  while (s.len && is_ows(s.ptr[s.len - 1])) s.len--;
  return s;
}

int qs_cookie_find(qs_slice_t header, qs_slice_t name, qs_slice_t *value) {
  size_t pos = 0;
  while (pos < header.len) {
    size_t end = pos;
    while (end < header.len && header.ptr[end] != ';') end++;
    qs_slice_t pair = trim(qs_slice(header.ptr + pos, end - pos));
    pos = end + 1;
    const char *eq = pair.len ? memchr(pair.ptr, '=', pair.len) : NULL;
    if (!eq) continue;
    qs_slice_t key = trim(qs_slice(pair.ptr, (size_t)(eq - pair.ptr)));
    if (!qs_slice_eq(key, name)) continue;
    qs_slice_t v = trim(qs_slice(eq + 1, (size_t)(pair.ptr + pair.len - eq - 1)));
    if (v.len >= 2 && v.ptr[0] == '"' && v.ptr[v.len - 1] == '"') v = qs_slice(v.ptr + 1, v.len - 2);
    *value = v;
    return 0;
  }
  return QS_ENOTFOUND;
}

/* RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static bool is_b64token(qs_slice_t s) {
  size_t i = 0;
  for (; i < s.len; i++) {
    char c = s.ptr[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
    if (!ok) break;
  }
  if (i == 0) return false;
  for (; i < s.len; i++)
    if (s.ptr[i] != '=') return false;
  return true;
}

static int invalid_request(qs_auth_failure_t *why, const char *reason) {
  why->error = "invalid_request";
  why->reason = reason;
  return QS_EPARSE;
}

/* Mercure draft, Authorization: `Bearer` (case-insensitive), whitespace, token. */
static int parse_bearer(qs_slice_t header, qs_slice_t *token, qs_auth_failure_t *why) {
  static const char scheme[] = "Bearer";
  header = trim(header);
  size_t n = sizeof scheme - 1;
  if (header.len < n || !qs_slice_eq_nocase(qs_slice(header.ptr, n), qs_slice(scheme, n)) ||
      (header.len > n && !is_ows(header.ptr[n])))
    return invalid_request(why, "the Authorization scheme is not Bearer");
  qs_slice_t t = trim(qs_slice(header.ptr + n, header.len - n));
  if (t.len == 0) return invalid_request(why, "the bearer token is empty");
  if (!is_b64token(t)) return invalid_request(why, "the bearer token is malformed");
  *token = t;
  return 0;
}

int qs_token_extract(const qs_token_request_t *request, qs_slice_t *token, qs_token_source_t *source,
                     qs_auth_failure_t *why) {
  *token = (qs_slice_t){NULL, 0};
  *source = QS_TOKEN_NONE;
  *why = (qs_auth_failure_t){0};
  /* REF authorization.go: a present header wins, even when it is unusable. */
  if (request->authorization_count > 1) return invalid_request(why, "repeated Authorization header");
  if (request->authorization_count == 1) {
    int rc = parse_bearer(request->authorization[0], token, why);
    if (rc) return rc;
    *source = QS_TOKEN_HEADER;
    return 0;
  }
  /* Legacy hub: `?authorization=<jwt>`, the first value; REF ignores an unusable one. */
  if (request->legacy) {
    for (size_t i = 0; i < request->query_authorization_count; i++) {
      if (request->query_authorization[i].len == 0) continue;
      *token = request->query_authorization[i];
      *source = QS_TOKEN_QUERY;
      return 0;
    }
  }
  qs_slice_t names[2] = {
      request->cookie_name.len ? request->cookie_name : qs_slice_from_cstr(QS_AUTH_DEFAULT_COOKIE_NAME),
      qs_slice_from_cstr(QS_AUTH_LEGACY_COOKIE_NAME)};
  size_t name_count = request->legacy ? 2 : 1;
  for (size_t n = 0; n < name_count; n++) {
    for (size_t i = 0; i < request->cookie_count; i++) {
      qs_slice_t value;
      if (qs_cookie_find(request->cookie[i], names[n], &value) == 0 && value.len) {
        *token = value;
        *source = QS_TOKEN_COOKIE;
        return 0;
      }
    }
  }
  return 0;
}
