/* Reserved topic namespace (requirements-digest 1.4.2). */
#include "match/reserved.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/percent.h"
#include "match/url.h"

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
    if (qs_percent_decode_append(qs_slice_from_cstr(hub.path ? hub.path : ""), QS_PERCENT_UNRESERVED_ONLY,
                                 &hub_path) == 0 &&
        qs_percent_decode_append(qs_slice_from_cstr(url.path ? url.path : ""), QS_PERCENT_UNRESERVED_ONLY,
                                 &path) == 0) {
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
