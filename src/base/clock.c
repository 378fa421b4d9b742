#include "base/clock.h"

#include <stdatomic.h>
#include <time.h>

static _Atomic int64_t wall_override_ms;

int64_t qs_clock_wall_ms(void) {
  int64_t forced = atomic_load_explicit(&wall_override_ms, memory_order_relaxed);
  if (forced) return forced;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t qs_clock_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void qs_clock_set_wall_override_ms(int64_t ms) { atomic_store(&wall_override_ms, ms); }
