/* Validators of string values named in the options table. */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "config/config_internal.h"

static bool parse_port(const char *s, uint16_t *port) {
  size_t n = strlen(s);
  if (n == 0 || n > 5 || strspn(s, "0123456789") != n) return false;
  unsigned long v = strtoul(s, NULL, 10);
  if (v > 65535) return false;
  *port = (uint16_t)v;
  return true;
}

static bool host_chars_ok(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= ' ' || c == 0x7f || strchr("/?#@[]", c)) return false;
  }
  return true;
}

int qs_config_split_listen(const char *listen, char *host, size_t host_size, uint16_t *port) {
  const char *host_start, *host_end, *colon;
  if (listen[0] == '[') {
    host_start = listen + 1;
    host_end = strchr(host_start, ']');
    if (!host_end || host_end == host_start || host_end[1] != ':') return QS_EINVAL;
    for (const char *c = host_start; c < host_end; c++) {
      if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.' && *c != '%') return QS_EINVAL;
    }
    colon = host_end + 1;
  } else {
    host_start = listen;
    colon = strrchr(listen, ':');
    if (!colon) return QS_EINVAL;
    host_end = colon;
    if (memchr(host_start, ':', (size_t)(host_end - host_start))) return QS_EINVAL;
    if (!host_chars_ok(host_start, (size_t)(host_end - host_start))) return QS_EINVAL;
  }
  size_t host_len = (size_t)(host_end - host_start);
  if (host_len >= host_size) return QS_EINVAL;
  if (!parse_port(colon + 1, port)) return QS_EINVAL;
  memcpy(host, host_start, host_len);
  host[host_len] = '\0';
  return 0;
}

const char *qs_config_check_admin_listen(const char *value) {
  return value[0] ? qs_config_check_listen(value) : NULL;
}

const char *qs_config_check_listen(const char *value) {
  char host[256];
  uint16_t port;
  if (qs_config_split_listen(value, host, sizeof host, &port) == 0) return NULL;
  if (value[0] != '[' && strchr(value, ':') != strrchr(value, ':'))
    return "an IPv6 host goes in brackets, e.g. [::1]:3000";
  return "use host:port, e.g. localhost:3000, :3000 or [::1]:3000";
}

const char *qs_config_check_http_url(const char *value) {
  if (value[0] == '\0') return NULL;
  const char *rest;
  if (strncmp(value, "https://", 8) == 0) {
    rest = value + 8;
  } else if (strncmp(value, "http://", 7) == 0) {
    rest = value + 7;
  } else {
    return "must be an absolute http:// or https:// URL";
  }
  if (rest[0] == '\0' || rest[0] == '/') return "the URL has no host";
  for (const char *c = value; *c; c++) {
    if ((unsigned char)*c <= ' ' || *c == 0x7f) return "the URL contains a space or a control character";
  }
  if (strchr(value, '#')) return "the URL must not have a fragment";
  return NULL;
}

const char *qs_config_check_cookie_name(const char *value) {
  if (value[0] == '\0') return "must not be empty";
  for (const char *c = value; *c; c++) {
    /* RFC 6265 section 4.1.1: a cookie name is an RFC 7230 token. */
    if (!isalnum((unsigned char)*c) && !strchr("!#$%&'*+-.^_`|~", *c))
      return "a cookie name may hold only letters, digits and !#$%&'*+-.^_`|~";
  }
  return NULL;
}

const char *qs_config_check_origin(const char *value) {
  if (strcmp(value, "*") == 0 || strcmp(value, "null") == 0) return NULL;
  const char *sep = strstr(value, "://");
  const char *reason = "use scheme://host[:port], `null` or `*`";
  if (!sep || sep == value || !isalpha((unsigned char)value[0])) return reason;
  for (const char *c = value; c < sep; c++) {
    if (!isalnum((unsigned char)*c) && !strchr("+-.", *c)) return reason;
  }
  const char *host = sep + 3, *end;
  if (host[0] == '[') {
    end = strchr(host, ']');
    if (!end) return reason;
    end++;
  } else {
    end = host + strcspn(host, ":/?#");
    if (!host_chars_ok(host, (size_t)(end - host))) return reason;
  }
  if (end == host) return reason;
  if (*end == ':') {
    uint16_t port;
    const char *port_end = end + 1 + strspn(end + 1, "0123456789");
    char digits[8];
    size_t n = (size_t)(port_end - end - 1);
    if (n == 0 || n >= sizeof digits) return reason;
    memcpy(digits, end + 1, n);
    digits[n] = '\0';
    if (!parse_port(digits, &port)) return reason;
    end = port_end;
  }
  if (*end == '/' && end[1] == '\0') return "an origin has no path: remove the trailing /";
  if (*end != '\0') return "an origin has no path, query or fragment";
  return NULL;
}

static const char *const jwt_algs[] = {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256",
                                       "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", NULL};

const char *qs_config_check_jwks_url(const char *value) {
  if (value[0] == '\0') return NULL;
  if (strncmp(value, "file://", 7) == 0) return value[7] ? NULL : "the file:// URL has no path";
  return qs_config_check_http_url(value);
}

const char *qs_config_check_transport_url(const char *value) {
  if (value[0] == '\0' || strncmp(value, "redis://", 8) == 0) return NULL;
  if (strncmp(value, "rediss://", 9) == 0)
    return "TLS to Redis (rediss://) is not supported; reach Redis over a private network or set "
           "transport redis with a unix: redis_url";
  if (strncmp(value, "bolt://", 7) == 0)
    return "the reference hub's BoltDB file cannot be read here; use transport lmdb with history_path "
           "(its history starts empty)";
  if (strncmp(value, "local://", 8) == 0)
    return "the reference hub's local transport is transport memory here (history_size 1 comes closest)";
  return "only redis:// URLs are supported (transport redis); for a unix socket set transport redis and "
         "redis_url unix:/path";
}

static bool slice_is_alg(qs_slice_t s) {
  for (size_t i = 0; jwt_algs[i]; i++)
    if (qs_slice_eq_cstr(s, jwt_algs[i])) return true;
  return false;
}

static const char *check_role(qs_slice_t jwt, qs_slice_t alg, qs_slice_t jwks_url) {
  if (jwt.len && jwks_url.len) return "a role takes a key or a JWKS URL, not both";
  if (alg.len && !slice_is_alg(alg)) return "unknown algorithm (use HS256...HS512, RS*, PS*, ES* or EdDSA)";
  if (jwks_url.len) {
    char url[2048];
    if (jwks_url.len >= sizeof url) return "the JWKS URL is too long";
    memcpy(url, jwks_url.ptr, jwks_url.len);
    url[jwks_url.len] = '\0';
    const char *why = qs_config_check_jwks_url(url);
    if (why) return "a JWKS URL must be an absolute http://, https:// or file:// URL";
  }
  return NULL;
}

int qs_config_issuer_parse(const char *item, qs_config_issuer_t *out, const char **reason) {
  memset(out, 0, sizeof *out);
  const char *p = item, *end = item + strlen(item);
  const char *semi = memchr(p, ';', (size_t)(end - p));
  out->id = qs_slice(p, (size_t)((semi ? semi : end) - p));
  *reason = NULL;
  if (out->id.len == 0) *reason = "an issuer needs an identifier before the first ';'";
  for (size_t i = 0; i < out->id.len && !*reason; i++)
    if ((unsigned char)out->id.ptr[i] <= ' ' || out->id.ptr[i] == '=')
      *reason = "the identifier has a space or '='";
  p = semi ? semi + 1 : end;
  while (!*reason && p < end) {
    const char *next = memchr(p, ';', (size_t)(end - p));
    qs_slice_t field = qs_slice(p, (size_t)((next ? next : end) - p));
    p = next ? next + 1 : end;
    if (field.len == 0) continue;
    const char *eq = memchr(field.ptr, '=', field.len);
    qs_slice_t name = qs_slice(field.ptr, eq ? (size_t)(eq - field.ptr) : field.len);
    qs_slice_t value = eq ? qs_slice(eq + 1, field.len - name.len - 1) : qs_slice(NULL, 0);
    qs_slice_t *targets[2] = {NULL, NULL};
    if (qs_slice_eq_cstr(name, "authorization_server")) {
      if (!eq || qs_slice_eq_cstr(value, "true"))
        out->authorization_server = true;
      else if (!qs_slice_eq_cstr(value, "false"))
        *reason = "authorization_server takes true or false";
      continue;
    } else if (qs_slice_eq_cstr(name, "publisher_jwt")) {
      targets[0] = &out->publisher_jwt;
    } else if (qs_slice_eq_cstr(name, "publisher_jwt_alg")) {
      targets[0] = &out->publisher_jwt_alg;
    } else if (qs_slice_eq_cstr(name, "publisher_jwks_url")) {
      targets[0] = &out->publisher_jwks_url;
    } else if (qs_slice_eq_cstr(name, "subscriber_jwt")) {
      targets[0] = &out->subscriber_jwt;
    } else if (qs_slice_eq_cstr(name, "subscriber_jwt_alg")) {
      targets[0] = &out->subscriber_jwt_alg;
    } else if (qs_slice_eq_cstr(name, "subscriber_jwks_url")) {
      targets[0] = &out->subscriber_jwks_url;
    } else if (qs_slice_eq_cstr(name, "jwt")) {
      targets[0] = &out->publisher_jwt, targets[1] = &out->subscriber_jwt;
    } else if (qs_slice_eq_cstr(name, "jwt_alg")) {
      targets[0] = &out->publisher_jwt_alg, targets[1] = &out->subscriber_jwt_alg;
    } else if (qs_slice_eq_cstr(name, "jwks_url")) {
      targets[0] = &out->publisher_jwks_url, targets[1] = &out->subscriber_jwks_url;
    } else {
      *reason =
          "unknown setting (use publisher_jwt, publisher_jwt_alg, publisher_jwks_url, the subscriber_ "
          "ones, jwt, jwt_alg, jwks_url or authorization_server)";
      break;
    }
    if (!eq || value.len == 0) {
      *reason = "a setting needs a value: name=value";
      break;
    }
    for (int t = 0; t < 2; t++)
      if (targets[t]) *targets[t] = value;
  }
  if (!*reason && !out->publisher_jwt.len && !out->publisher_jwks_url.len && !out->subscriber_jwt.len &&
      !out->subscriber_jwks_url.len)
    *reason = "an issuer needs a key or a JWKS URL for at least one role";
  if (!*reason) *reason = check_role(out->publisher_jwt, out->publisher_jwt_alg, out->publisher_jwks_url);
  if (!*reason) *reason = check_role(out->subscriber_jwt, out->subscriber_jwt_alg, out->subscriber_jwks_url);
  return *reason ? QS_EINVAL : 0;
}

const char *qs_config_check_issuer(const char *value) {
  qs_config_issuer_t issuer;
  const char *reason = NULL;
  return qs_config_issuer_parse(value, &issuer, &reason) ? reason : NULL;
}
