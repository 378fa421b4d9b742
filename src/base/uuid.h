/* UUID generation (RFC 9562) as `urn:uuid:` strings. */
#ifndef QS_BASE_UUID_H
#define QS_BASE_UUID_H

#include <stdint.h>

/* Length of "urn:uuid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" without the NUL. */
#define QS_UUID_URN_LEN 45

/* Writes a random (version 4) UUID URN into `out` (NUL-terminated). Thread-safe. */
void qs_uuid_v4_urn(char out[QS_UUID_URN_LEN + 1]);

/* Writes a time-ordered (version 7) UUID URN into `out`. Successive calls in
 * one process are strictly increasing even if the wall clock goes backwards
 * (the generator never goes below the largest timestamp it has used, and a
 * 12-bit counter orders ids within one millisecond). Thread-safe. */
void qs_uuid_v7_urn(char out[QS_UUID_URN_LEN + 1]);

/* Makes future v7 ids sort after `unix_ms` (used at start-up with the newest
 * id of the history, so ids keep their order across restarts). */
void qs_uuid_v7_floor(int64_t unix_ms);

/* The millisecond timestamp in a v7 UUID URN, or -1 when `urn` is not one. */
int64_t qs_uuid_v7_timestamp_ms(const char *urn, unsigned long len);

#endif
