/* A JWK Set fetched from a URL (the JWKS half of the key-source seam;
 * requirements digest 3.2 `jwks_uri`). One background thread per source
 * fetches the document with libcurl, so no request ever waits on the
 * network: verification reads the last good set, which is swapped atomically
 * when a fetch succeeds. The set is refreshed on a timer and, rate-limited,
 * when a token names a `kid` the set lacks (key rotation). A failed fetch
 * keeps the last good set and is logged. */
#ifndef QS_AUTH_JWKS_SOURCE_H
#define QS_AUTH_JWKS_SOURCE_H

#include <stdint.h>

#include "auth/jwk.h"
#include "base/slice.h"

typedef struct {
  qs_slice_t url;                  /* http://, https:// or file:// (copied) */
  qs_jwt_alg_set_t algorithms;     /* 0: QS_JWT_ALGS_ASYMMETRIC */
  int64_t refresh_interval_ms;     /* 0: QS_JWKS_DEFAULT_REFRESH_MS */
  int64_t unknown_kid_interval_ms; /* least time between fetches asked by an unknown kid; 0: default */
  int64_t timeout_ms;              /* per fetch; 0: QS_JWKS_DEFAULT_TIMEOUT_MS */
  int64_t initial_wait_ms;         /* how long create waits for the first fetch; 0: timeout_ms */
} qs_jwks_source_config_t;

#define QS_JWKS_DEFAULT_REFRESH_MS (10 * 60 * 1000)
#define QS_JWKS_DEFAULT_UNKNOWN_KID_MS (30 * 1000)
#define QS_JWKS_DEFAULT_TIMEOUT_MS (10 * 1000)
#define QS_JWKS_MAX_DOCUMENT_BYTES (1024 * 1024)

typedef struct qs_jwks_source qs_jwks_source_t;

/* Starts the source's thread, which fetches at once; waits for that first
 * fetch (up to initial_wait_ms) so that a reachable JWKS is in use when the
 * hub starts. A first fetch that fails is logged, not fatal: the thread
 * retries on the timer and on unknown kids. Returns 0, QS_EINVAL (`*reason`:
 * a URL scheme other than http, https or file) or QS_ENOMEM. */
int qs_jwks_source_create(const qs_jwks_source_config_t *config, qs_jwks_source_t **out, const char **reason);

/* Stops and joins the thread (an in-flight fetch is aborted), frees the
 * source. Sets still held by callers stay valid. NULL is fine. */
void qs_jwks_source_destroy(qs_jwks_source_t *source);

/* The current set with one reference for the caller (release it), or NULL
 * when no fetch has succeeded yet. Thread-safe; never blocks on a fetch. */
qs_jwks_set_t *qs_jwks_source_get(qs_jwks_source_t *source);

/* Asks for a fetch soon because a token named an unknown `kid`; ignored
 * when the last fetch asked this way is more recent than
 * unknown_kid_interval_ms. Thread-safe; returns at once. */
void qs_jwks_source_request_refresh(qs_jwks_source_t *source);

/* The URL (for logs), borrowed from the source. */
const char *qs_jwks_source_url(const qs_jwks_source_t *source);

/* How many times a fetch installed keys different from the set before it
 * (the first set counts): a value that moves means keys may have been
 * removed, so what was verified with the old set must be verified again.
 * Thread-safe, lock-free. */
uint64_t qs_jwks_source_changes(const qs_jwks_source_t *source);

/* Successful fetches so far (tests and metrics). */
uint64_t qs_jwks_source_fetch_count(qs_jwks_source_t *source);

#endif
