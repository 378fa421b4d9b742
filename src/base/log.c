#include "base/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile qs_log_level_t min_level = QS_LOG_INFO;
static volatile qs_log_format_t line_format = QS_LOG_FORMAT_TEXT;
static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void qs_log_set_level(qs_log_level_t level) { min_level = level; }

void qs_log_set_format(qs_log_format_t format) { line_format = format; }

typedef struct {
  char *ptr;
  size_t len, cap;
  bool full; /* a piece did not fit: nothing more is written until the cap is raised */
} out_t;

/* Writes all of `s` or, when it does not fit, nothing (so an escape is never cut in two). */
static void put(out_t *o, const char *s, size_t n) {
  if (o->full || n > o->cap - o->len) {
    o->full = true;
    return;
  }
  memcpy(o->ptr + o->len, s, n);
  o->len += n;
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (RFC 3629 §4), 0 when it is not one. */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
  size_t len;
  unsigned lo = 0x80, hi = 0xbf;
  if (s[0] >= 0xc2 && s[0] <= 0xdf) {
    len = 2;
  } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
    len = 3;
    if (s[0] == 0xe0) lo = 0xa0;
    if (s[0] == 0xed) hi = 0x9f;
  } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
    len = 4;
    if (s[0] == 0xf0) lo = 0x90;
    if (s[0] == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (len > n || s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if (s[i] < 0x80 || s[i] > 0xbf) return 0;
  return len;
}

/* A JSON string body (RFC 8259 §7): quotes, backslashes and control
 * characters escaped; bytes that are not UTF-8 become U+FFFD, so every line
 * decodes (a message cut by its buffer may end inside a character). */
static void put_escaped(out_t *o, const char *s, size_t n) {
  for (size_t i = 0; i < n && !o->full; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      put(o, esc, 2);
    } else if (c < 0x20 || c == 0x7f) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      put(o, esc, 6);
    } else if (c < 0x80) {
      put(o, (const char *)&c, 1);
    } else {
      size_t len = utf8_sequence((const unsigned char *)s + i, n - i);
      if (len == 0) {
        put(o, "\\ufffd", 6);
      } else {
        put(o, s + i, len);
        i += len - 1;
      }
    }
  }
}

/* Words are separated by spaces and newlines (a multi-line message such as
 * the settings dump becomes one line of words and fields). */
#define SPACES " \n"
static bool is_space(char c) { return c == ' ' || c == '\n' || c == 0; }

static bool is_key_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

/* A field word at `s`: key=value or key="value with \" escapes", the key in
 * lower case. Returns its length, 0 when the word is no field. */
static size_t field_word(const char *s, size_t *key_len, const char **value, size_t *value_len,
                         bool *quoted) {
  if (!(s[0] >= 'a' && s[0] <= 'z')) return 0;
  size_t k = 0;
  while (is_key_char(s[k])) k++;
  if (s[k] != '=') return 0;
  *key_len = k;
  const char *v = s + k + 1;
  *quoted = *v == '"';
  if (*quoted) {
    const char *p = v + 1;
    while (*p && !(*p == '"' && is_space(p[1]))) p += (*p == '\\' && p[1]) ? 2 : 1;
    if (*p != '"') return 0;
    *value = v + 1;
    *value_len = (size_t)(p - v - 1);
    return (size_t)(p + 1 - s);
  }
  size_t n = strcspn(v, SPACES);
  *value = v;
  *value_len = n;
  return k + 1 + n;
}

/* A JSON integer (RFC 8259 §6): an optional minus, then 0 or digits without a leading zero. */
static bool is_number(const char *s, size_t n) {
  size_t i = (n > 0 && s[0] == '-') ? 1 : 0;
  if (n == i || n - i > 18) return false;
  if (s[i] == '0' && n - i > 1) return false;
  for (; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

/* What closes a line in every case: the end of the message, an empty field object, the braces. */
#define TAIL_FIELDS "\",\"fields\":{"
#define TAIL_CLOSE "}}\n"
#define TAIL_LEN (sizeof TAIL_FIELDS - 1 + sizeof TAIL_CLOSE - 1)

/* One word of a message: a `key=value` field, or a word of the text. */
typedef struct {
  const char *start;
  size_t len; /* the whole word */
  bool field;
  size_t key_len;
  const char *value;
  size_t value_len;
  bool quoted;
} word_t;

/* Reads the word at or after *p (skipping spaces) and moves *p past it;
 * false at the end of the message. */
static bool next_word(const char **p, word_t *w) {
  while (**p && is_space(**p)) (*p)++;
  if (!**p) return false;
  w->start = *p;
  w->len = field_word(*p, &w->key_len, &w->value, &w->value_len, &w->quoted);
  w->field = w->len != 0;
  if (!w->field) w->len = strcspn(*p, SPACES);
  *p += w->len;
  return true;
}

/* A field as a JSON member; a quoted value's \" stands for a quote, so it
 * is unescaped before being escaped for JSON. Unquoted numbers stay numbers. */
static void put_field(out_t *o, const word_t *w) {
  put(o, "\"", 1);
  put_escaped(o, w->start, w->key_len);
  put(o, "\":", 2);
  if (!w->quoted && is_number(w->value, w->value_len)) {
    put(o, w->value, w->value_len);
    return;
  }
  put(o, "\"", 1);
  const char *v = w->value;
  for (size_t i = 0; i < w->value_len;) {
    if (w->quoted && v[i] == '\\' && i + 1 < w->value_len) i++;
    size_t run = 1;
    while (i + run < w->value_len && !(w->quoted && v[i + run] == '\\')) run++;
    put_escaped(o, v + i, run);
    i += run;
  }
  put(o, "\"", 1);
}

size_t qs_log_format_json(char *buf, size_t cap, const char *time, const char *level, const char *message) {
  out_t o = {buf, 0, cap - TAIL_LEN, false};
  put(&o, "{\"time\":\"", 9);
  put_escaped(&o, time, strlen(time));
  put(&o, "\",\"level\":\"", 11);
  put_escaped(&o, level, strlen(level));
  put(&o, "\",\"message\":\"", 13);
  /* The message is the words that are not fields; fields follow. */
  word_t w;
  bool first = true;
  for (const char *p = message; !o.full && next_word(&p, &w);) {
    if (w.field) continue;
    if (!first) put(&o, " ", 1);
    put_escaped(&o, w.start, w.len);
    first = false;
  }
  /* From here the room kept at the start is usable; a field that does not fit is left out whole. */
  o.cap = cap - (sizeof TAIL_CLOSE - 1);
  o.full = false;
  put(&o, TAIL_FIELDS, sizeof TAIL_FIELDS - 1);
  first = true;
  for (const char *p = message; !o.full && next_word(&p, &w);) {
    if (!w.field) continue;
    size_t mark = o.len;
    if (!first) put(&o, ",", 1);
    put_field(&o, &w);
    if (o.full) o.len = mark;
    first = false;
  }
  o.cap = cap;
  o.full = false;
  put(&o, TAIL_CLOSE, sizeof TAIL_CLOSE - 1);
  return o.len;
}

const char *qs_log_quote(const char *value, char *out, size_t cap) {
  size_t n = 0;
  out[n++] = '"';
  for (const char *p = value; *p && n + 3 < cap; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '"' || c == '\\') {
      out[n++] = '\\';
      out[n++] = (char)c;
    } else {
      out[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
  }
  out[n++] = '"';
  out[n] = 0;
  return out;
}

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

static void log_json(qs_log_level_t level, const char *time, const char *fmt, va_list ap) {
  /* Escaping grows a byte to at most six (\u00XX), fields add a few bytes
   * each: a message of this size always fits the line whole. */
  char message[2048], line[6 * 2048 + 256];
  vsnprintf(message, sizeof message, fmt, ap);
  size_t len = qs_log_format_json(line, sizeof line, time, level_names[level], message);
  ssize_t ignored = write(STDERR_FILENO, line, len);
  (void)ignored;
}

void qs_log(qs_log_level_t level, const char *fmt, ...) {
  if (!qs_log_enabled(level)) return;
  char line[2048];
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct tm tm;
  gmtime_r(&now.tv_sec, &tm);
  if (line_format == QS_LOG_FORMAT_JSON) {
    char time[96];
    snprintf(time, sizeof time, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
    va_list ap;
    va_start(ap, fmt);
    log_json(level, time, fmt, ap);
    va_end(ap);
    return;
  }
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
