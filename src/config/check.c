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
