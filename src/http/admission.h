/* Connection admission shared by the HTTP servers of every worker loop, so
 * that `max_connections` and `max_connections_per_address` hold for the whole
 * process and not per loop (the kernel spreads one client's connections over
 * the workers' sockets). Thread-safe: one mutex, taken once per accept and
 * once per close. */
#ifndef QS_HTTP_ADMISSION_H
#define QS_HTTP_ADMISSION_H

#include <stddef.h>

#include "base/slice.h"

typedef struct qs_http_admission qs_http_admission_t;

/* Creates counters for at most `max_connections` in total and
 * `max_per_address` from one address (0: unlimited). Returns 0 or QS_ENOMEM.
 * The caller destroys it after every server using it has closed. */
int qs_http_admission_create(size_t max_connections, size_t max_per_address, qs_http_admission_t **out);

/* Frees the counters (NULL is fine). */
void qs_http_admission_destroy(qs_http_admission_t *admission);

/* Counts one more connection from `address` (raw address bytes, borrowed;
 * empty when unknown). Returns 0, or the status to refuse it with: 503 when
 * the total is reached, 429 when the address's share is; nothing is counted
 * then. */
int qs_http_admission_take(qs_http_admission_t *admission, qs_slice_t address);

/* Forgets a connection counted by a successful take with the same address. */
void qs_http_admission_release(qs_http_admission_t *admission, qs_slice_t address);

/* Connections counted now. */
size_t qs_http_admission_count(qs_http_admission_t *admission);

#endif
