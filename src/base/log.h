/* Logging: one line per event on stderr, `time level message key=value...`
 * (values with spaces in double quotes: key="a b"), or one JSON object per
 * line: {"time", "level", "message", "fields": {key: value}} where the
 * key=value words of the message (lower-case keys; words split at spaces
 * and newlines) become fields, numbers when they are JSON integers.
 * Never pass a token, a cookie or the data of a private update to it. */
#ifndef QS_BASE_LOG_H
#define QS_BASE_LOG_H

#include <stddef.h>

typedef enum { QS_LOG_DEBUG = 0, QS_LOG_INFO, QS_LOG_WARN, QS_LOG_ERROR, QS_LOG_OFF } qs_log_level_t;

/* Sets the minimum level written (process-wide; set once at start-up). */
void qs_log_set_level(qs_log_level_t level);

typedef enum { QS_LOG_FORMAT_TEXT = 0, QS_LOG_FORMAT_JSON } qs_log_format_t;

/* Sets the line format (process-wide; set once at start-up). */
void qs_log_set_format(qs_log_format_t format);

/* Writes to `out` (capacity `cap`, at least 64) the JSON line of one
 * message: `time` and `level` as given, the message's key=value words as
 * fields, and a newline. Returns the length written (the message is cut
 * short to fit). For qs_log and its tests. */
size_t qs_log_format_json(char *out, size_t cap, const char *time, const char *level, const char *message);

/* Writes `value` into `out` (capacity `cap`, at least 3) as a quoted field
 * value, `"..."` with `"` and `\` escaped and control characters replaced
 * by `?`, cut short to fit; returns `out`. For `key=%s` in a log line
 * whose value may hold spaces. */
const char *qs_log_quote(const char *value, char *out, size_t cap);

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
