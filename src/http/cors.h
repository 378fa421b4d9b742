/* Cross-origin resource sharing for the hub (Mercure draft §Security
 * Considerations; requirements digest 1.10.6): an allowlist of origins, the
 * response headers for an allowed Origin, and preflight answers. */
#ifndef QS_HTTP_CORS_H
#define QS_HTTP_CORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

typedef struct qs_cors qs_cors_t;

/* Most headers qs_cors_apply() appends. */
#define QS_CORS_MAX_HEADERS 7

/* Creates a policy from `origins` (copied): exact origins such as
 * "https://example.com" or "http://localhost:3000" (a trailing '/' is
 * dropped; compared ASCII case-insensitively), "null" for opaque origins,
 * or "*" for any origin without credentials. `max_age_s` is sent as
 * Access-Control-Max-Age on preflights (0: 600). Returns 0, QS_EINVAL (an
 * entry that is empty or not of those forms) or QS_ENOMEM. With no origins
 * the policy adds nothing. */
int qs_cors_create(const char *const *origins, size_t count, uint32_t max_age_s, qs_cors_t **out);

/* Frees the policy (NULL allowed). */
void qs_cors_destroy(qs_cors_t *cors);

/* True when `origin` (an Origin header value) is allowed. */
bool qs_cors_origin_allowed(const qs_cors_t *cors, qs_slice_t origin);

/* Appends to out[] (room for `cap`, at least QS_CORS_MAX_HEADERS) the CORS
 * headers the answer to `req` needs, and returns how many (or QS_EINVAL when
 * cap is too small). The slices point into `cors` and `req`: they live as long
 * as both. For an allowed Origin: Access-Control-Allow-Origin (the exact
 * origin; or "*" when the list has "*", then without credentials),
 * Access-Control-Allow-Credentials: true, Access-Control-Expose-Headers; and
 * for a preflight also Allow-Methods, Allow-Headers and Max-Age. An unknown
 * origin is never reflected. Vary: Origin is added whenever the answer
 * depends on the Origin. *is_preflight (may be NULL) is set when `req` is a
 * CORS preflight (OPTIONS with Origin and Access-Control-Request-Method),
 * which the caller answers 204 with these headers, whatever the origin. */
int qs_cors_apply(const qs_cors_t *cors, const qs_http_request_t *req, qs_http_header_t *out, size_t cap,
                  bool *is_preflight);

#endif
