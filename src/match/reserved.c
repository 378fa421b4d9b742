/* Reserved topic namespace (requirements-digest 1.4.2). */
#include "match/reserved.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "match/url.h"

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

static bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

/* Decodes %XX only where XX encodes an unreserved character: `%2F` stays. */
static int decode_unreserved(const char *path, qs_buf_t *out) {
  size_t len = strlen(path);
  for (size_t i = 0; i < len; i++) {
    if (path[i] == '%' && i + 2 < len) {
      int hi = hex_value(path[i + 1]), lo = hex_value(path[i + 2]);
      if (hi >= 0 && lo >= 0 && is_unreserved((unsigned char)(hi * 16 + lo))) {
        char c = (char)(hi * 16 + lo);
        int rc = qs_buf_append(out, &c, 1);
        if (rc) return rc;
        i += 2;
        continue;
      }
    }
    int rc = qs_buf_append(out, path + i, 1);
    if (rc) return rc;
  }
  return 0;
}

bool qs_topic_is_reserved(qs_slice_t topic, qs_slice_t hub_url) {
  qs_url_t hub, url;
  memset(&hub, 0, sizeof hub);
  memset(&url, 0, sizeof url);
  if (qs_url_parse(hub_url, NULL, &hub) != 0) return false;
  bool reserved = false;
  if (qs_url_parse(topic, &hub, &url) == 0) {
    qs_buf_t hub_path, path;
    qs_buf_init(&hub_path, QS_URL_MAX_INPUT_BYTES);
    qs_buf_init(&path, QS_URL_MAX_INPUT_BYTES * 3);
    if (decode_unreserved(hub.path ? hub.path : "", &hub_path) == 0 &&
        decode_unreserved(url.path ? url.path : "", &path) == 0) {
      qs_slice_t h = {hub_path.ptr ? hub_path.ptr : "", hub_path.len};
      qs_slice_t p = {path.ptr ? path.ptr : "", path.len};
      reserved = qs_slice_eq(p, h) || (qs_slice_starts_with(p, h) && p.len > h.len && p.ptr[h.len] == '/');
    }
    qs_buf_dispose(&hub_path);
    qs_buf_dispose(&path);
  }
  qs_url_dispose(&url);
  qs_url_dispose(&hub);
  return reserved;
}
