/* Logging: one line per event on stderr, `time level message key=value...`.
 * Never pass a token, a cookie or the data of a private update to it. */
#ifndef QS_BASE_LOG_H
#define QS_BASE_LOG_H

typedef enum { QS_LOG_DEBUG = 0, QS_LOG_INFO, QS_LOG_WARN, QS_LOG_ERROR, QS_LOG_OFF } qs_log_level_t;

/* Sets the minimum level written (process-wide; set once at start-up). */
void qs_log_set_level(qs_log_level_t level);

/* Parses "debug", "info", "warn", "error" or "off"; returns -1 when unknown. */
int qs_log_level_parse(const char *name, qs_log_level_t *out);

/* True when `level` would be written. */
int qs_log_enabled(qs_log_level_t level);

/* Writes one printf-formatted line at `level`; thread-safe (one write(2) per line). */
void qs_log(qs_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define QS_LOG_DEBUG(...) qs_log(QS_LOG_DEBUG, __VA_ARGS__)
#define QS_LOG_INFO(...) qs_log(QS_LOG_INFO, __VA_ARGS__)
#define QS_LOG_WARN(...) qs_log(QS_LOG_WARN, __VA_ARGS__)
#define QS_LOG_ERROR(...) qs_log(QS_LOG_ERROR, __VA_ARGS__)

#endif
