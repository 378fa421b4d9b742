/* The hub's reserved topic namespace (requirements-digest 1.4.2): topics
 * under the hub's own path (/.well-known/mercure...) cannot be published. */
#ifndef QS_MATCH_RESERVED_H
#define QS_MATCH_RESERVED_H

#include <stdbool.h>

#include "base/slice.h"

/* True when `topic`, resolved against `hub_url` with the WHATWG URL parser
 * (dot segments removed, `%2e` read as a dot, `\` as `/` for special schemes)
 * and with percent-encoded RFC 3986 unreserved characters decoded in its path,
 * has a path equal to the hub URL's path or starting with it followed by "/".
 * Scheme and authority are ignored. A topic (or hub URL) that cannot be
 * parsed is not reserved. Both slices are borrowed for the call; thread-safe. */
bool qs_topic_is_reserved(qs_slice_t topic, qs_slice_t hub_url);

#endif
