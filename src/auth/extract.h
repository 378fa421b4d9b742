/* Where a request's token comes from (Mercure draft, Authorization; legacy
 * rules of requirements digest 2.2): the Authorization header wins; else, in
 * legacy mode, the `authorization` query parameter; else the cookie. */
#ifndef QS_AUTH_EXTRACT_H
#define QS_AUTH_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/auth.h"
#include "base/slice.h"

/* The recommended cookie name (Mercure draft, Authorization). */
#define QS_AUTH_DEFAULT_COOKIE_NAME "__Secure-mercure_access_token"
/* The cookie name of the legacy hub and of symfony/mercure 0.x. */
#define QS_AUTH_LEGACY_COOKIE_NAME "mercureAuthorization"

typedef enum {
  QS_TOKEN_NONE = 0, /* no token: anonymous */
  QS_TOKEN_HEADER,   /* Authorization: Bearer */
  QS_TOKEN_QUERY,    /* legacy `authorization` query parameter */
  QS_TOKEN_COOKIE,   /* a cookie: publish must then pass the CSRF (Origin/Referer) check */
} qs_token_source_t;

/* What the request presented; every slice is borrowed for the call. */
typedef struct {
  const qs_slice_t *authorization; /* values of every Authorization header */
  size_t authorization_count;
  const qs_slice_t *cookie; /* values of every Cookie header (HTTP/2 may split them) */
  size_t cookie_count;
  const qs_slice_t *query_authorization; /* values of the `authorization` query parameter (decoded) */
  size_t query_authorization_count;
  qs_slice_t cookie_name; /* empty: QS_AUTH_DEFAULT_COOKIE_NAME */
  bool legacy;            /* accept the query parameter and the QS_AUTH_LEGACY_COOKIE_NAME cookie */
} qs_token_request_t;

/* Finds the token of a request. Returns 0 with `*token` (borrowed from the
 * request's bytes) and `*source` set; `*source` is QS_TOKEN_NONE and `*token`
 * empty when nothing was presented. Returns QS_EPARSE with `why->error`
 * "invalid_request" when the Authorization header is repeated, uses another
 * scheme than Bearer (case-insensitive), or carries an empty or malformed
 * token (RFC 6750 §2.1 b64token); there is then no fallback to the query or
 * the cookie. An empty query value or cookie counts as absent. */
int qs_token_extract(const qs_token_request_t *request, qs_slice_t *token, qs_token_source_t *source,
                     qs_auth_failure_t *why);

/* Finds the first cookie called `name` (case-sensitive) in one Cookie header
 * value (RFC 6265 §4.2.1: `name=value` pairs separated by ';' and optional
 * whitespace; a value in double quotes is returned without them). Returns 0
 * with `*value` borrowed from `header`, or QS_ENOTFOUND. */
int qs_cookie_find(qs_slice_t header, qs_slice_t name, qs_slice_t *value);

#endif
