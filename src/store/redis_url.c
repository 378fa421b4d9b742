/* Parsing of the redis_url option (redis.h). */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "store/redis.h"

static int fail(const char **reason, const char *why) {
  if (reason) *reason = why;
  return QS_EINVAL;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Copies [p, p + len) into out (size `size`), decoding %XX; false when it
 * does not fit or an escape is malformed. */
static bool copy_decoded(const char *p, size_t len, char *out, size_t size) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    char c = p[i];
    if (c == '%') {
      if (i + 2 >= len) return false;
      int hi = hex_value(p[i + 1]);
      int lo = hex_value(p[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = (char)(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0' || n + 1 >= size) return false;
    out[n++] = c;
  }
  out[n] = '\0';
  return true;
}

/* A decimal number in [0, max]; false otherwise. */
static bool parse_number(const char *p, size_t len, long max, int *out) {
  if (len == 0 || len > 9) return false;
  long v = 0;
  for (size_t i = 0; i < len; i++) {
    if (p[i] < '0' || p[i] > '9') return false;
    v = v * 10 + (p[i] - '0');
  }
  if (v > max) return false;
  *out = (int)v;
  return true;
}

static int parse_unix(const char *rest, qs_redis_url_t *out, const char **reason) {
  /* unix:///path and unix:/path name the same socket. */
  if (strncmp(rest, "//", 2) == 0) rest += 2;
  const char *query = strchr(rest, '?');
  size_t len = query ? (size_t)(query - rest) : strlen(rest);
  if (len == 0 || rest[0] != '/') return fail(reason, "a unix: redis_url needs an absolute socket path");
  if (!copy_decoded(rest, len, out->unix_path, sizeof out->unix_path))
    return fail(reason, "the unix socket path of redis_url is too long or malformed");
  if (query) {
    if (strncmp(query, "?db=", 4) != 0 || !parse_number(query + 4, strlen(query + 4), 1000000, &out->db))
      return fail(reason, "redis_url: the only query parameter is db=<number>");
  }
  return 0;
}

int qs_redis_url_parse(const char *url, qs_redis_url_t *out, const char **reason) {
  memset(out, 0, sizeof *out);
  out->port = 6379;
  if (!url) return fail(reason, "redis_url is empty");
  if (strncmp(url, "unix:", 5) == 0) return parse_unix(url + 5, out, reason);
  if (strncmp(url, "redis://", 8) != 0)
    return fail(reason, "redis_url must start with redis:// or unix: (TLS, rediss://, is not supported)");
  const char *rest = url + 8;
  const char *slash = strchr(rest, '/');
  const char *end = slash ? slash : rest + strlen(rest);
  /* The password may hold '@': the host starts after the last one. */
  const char *at = NULL;
  for (const char *p = rest; p < end; p++)
    if (*p == '@') at = p;
  const char *host = rest;
  if (at) {
    const char *colon = memchr(rest, ':', (size_t)(at - rest));
    if (colon) {
      if (!copy_decoded(rest, (size_t)(colon - rest), out->user, sizeof out->user) ||
          !copy_decoded(colon + 1, (size_t)(at - colon - 1), out->password, sizeof out->password))
        return fail(reason, "the user or password of redis_url is too long or malformed");
    } else if (!copy_decoded(rest, (size_t)(at - rest), out->password, sizeof out->password)) {
      return fail(reason, "the password of redis_url is too long or malformed");
    }
    host = at + 1;
  }
  const char *port = NULL;
  const char *host_end = end;
  if (host < end && *host == '[') {
    const char *close = memchr(host, ']', (size_t)(end - host));
    if (!close) return fail(reason, "redis_url: unterminated [IPv6] host");
    host_end = close;
    host++;
    if (close + 1 < end) {
      if (close[1] != ':') return fail(reason, "redis_url: expected :port after the [IPv6] host");
      port = close + 2;
    }
  } else {
    const char *colon = memchr(host, ':', (size_t)(end - host));
    if (colon) {
      host_end = colon;
      port = colon + 1;
    }
  }
  size_t host_len = (size_t)(host_end - host);
  if (host_len == 0) return fail(reason, "redis_url has no host");
  if (host_len >= sizeof out->host) return fail(reason, "the host of redis_url is too long");
  memcpy(out->host, host, host_len);
  out->host[host_len] = '\0';
  if (port && !(parse_number(port, (size_t)(end - port), 65535, &out->port) && out->port > 0))
    return fail(reason, "the port of redis_url must be a number from 1 to 65535");
  if (slash && slash[1] != '\0' && !parse_number(slash + 1, strlen(slash + 1), 1000000, &out->db))
    return fail(reason, "the database of redis_url (after /) must be a number");
  return 0;
}
