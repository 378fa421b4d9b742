/* Time sources. Wall-clock time (for token lifetimes and ids) can be replaced
 * in tests; monotonic time is for timeouts. */
#ifndef QS_BASE_CLOCK_H
#define QS_BASE_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (or the test override). */
int64_t qs_clock_wall_ms(void);

/* Monotonic milliseconds from an arbitrary origin. */
int64_t qs_clock_mono_ms(void);

/* Tests only: makes qs_clock_wall_ms() return `ms`; 0 restores the real clock. */
void qs_clock_set_wall_override_ms(int64_t ms);

#endif
