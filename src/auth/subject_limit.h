/* Concurrent connections per token subject (option
 * max_connections_per_subject; Mercure draft, Authorization: "hubs MAY cap
 * concurrent subscriptions per token", answered 429). A subject is the
 * token's `iss` and `sub` together (the same `sub` from two issuers is two
 * principals). A token without `sub` is its own principal (the draft's
 * "concurrent subscriptions established under a single token"), keyed by its
 * digest. Anonymous subscribers are not counted: other limits (per client
 * address, in total) apply to them.
 * Thread-safe: one limiter serves every worker. */
#ifndef QS_AUTH_SUBJECT_LIMIT_H
#define QS_AUTH_SUBJECT_LIMIT_H

#include <stddef.h>

#include "auth/grants.h"
#include "base/slice.h"

typedef struct qs_subject_limiter qs_subject_limiter_t;

/* One counted connection; give it back with qs_subject_limiter_release(). */
typedef struct qs_subject_lease qs_subject_lease_t;

/* A limiter of `max_per_subject` connections (at least 1). Returns 0 or QS_ENOMEM. */
int qs_subject_limiter_create(size_t max_per_subject, qs_subject_limiter_t **out);

/* Frees the limiter (NULL is fine); every lease must have been released. */
void qs_subject_limiter_destroy(qs_subject_limiter_t *limiter);

/* Counts one more connection of the principal of `grants`. Returns 0 with
 * `*lease` set (NULL for anonymous grants: nothing is counted),
 * QS_EBUSY when the subject already has max_per_subject connections (answer
 * 429), or QS_ENOMEM. */
int qs_subject_limiter_acquire(qs_subject_limiter_t *limiter, const qs_grants_t *grants,
                               qs_subject_lease_t **lease);

/* Gives a connection back (from any thread) and frees the lease. NULL is fine. */
void qs_subject_limiter_release(qs_subject_lease_t *lease);

/* Connections currently counted for the subject of `grants` (tests). */
size_t qs_subject_limiter_count(qs_subject_limiter_t *limiter, const qs_grants_t *grants);

#endif
