#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile qs_log_level_t min_level = QS_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void qs_log_set_level(qs_log_level_t level) { min_level = level; }

int qs_log_level_parse(const char *name, qs_log_level_t *out) {
  for (int i = 0; i <= QS_LOG_OFF; i++) {
    if (strcmp(name, level_names[i]) == 0) {
      *out = (qs_log_level_t)i;
      return 0;
    }
  }
  return -1;
}

int qs_log_enabled(qs_log_level_t level) { return level >= min_level && level < QS_LOG_OFF; }

void qs_log(qs_log_level_t level, const char *fmt, ...) {
  if (!qs_log_enabled(level)) return;
  char line[2048];
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct tm tm;
  gmtime_r(&now.tv_sec, &tm);
  int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ", tm.tm_year + 1900,
                   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000,
                   level_names[level]);
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  size_t len =
      (size_t)n +
      (m < 0 ? 0 : ((size_t)m < sizeof line - (size_t)n - 1 ? (size_t)m : sizeof line - (size_t)n - 2));
  line[len++] = '\n';
  ssize_t ignored = write(STDERR_FILENO, line, len);
  (void)ignored;
}
