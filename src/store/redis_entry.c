/* An update as a Redis Stream entry, and back (redis_internal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "store/redis_internal.h"

size_t qs_redis_entry_encode(const qs_update_t *update, const char **argv, size_t *lens, size_t cap,
                             char *numbers) {
  if (cap < QS_REDIS_ENTRY_FIXED_FIELDS + 2 * update->topic_count) return 0;
  size_t n = 0;
#define PAIR(name, ptr_, len_) \
  do {                         \
    argv[n] = (name);          \
    lens[n++] = strlen(name);  \
    argv[n] = (ptr_);          \
    lens[n++] = (len_);        \
  } while (0)
  PAIR("id", update->id.ptr, update->id.len);
  for (size_t i = 0; i < update->topic_count; i++)
    PAIR("topic", update->topics[i].ptr, update->topics[i].len);
  if (update->type.len) PAIR("type", update->type.ptr, update->type.len);
  char *retry = numbers, *created = numbers + 24;
  if (update->retry_ms) {
    int len = snprintf(retry, 24, "%llu", (unsigned long long)update->retry_ms);
    PAIR("retry", retry, (size_t)len);
  }
  if (update->is_private) PAIR("private", "1", 1);
  int len = snprintf(created, 24, "%lld", (long long)update->created_ms);
  PAIR("created", created, (size_t)len);
  PAIR("data", update->data.ptr ? update->data.ptr : "", update->data.len);
#undef PAIR
  return n;
}

static bool parse_u64(qs_slice_t s, uint64_t *out) {
  if (s.len == 0 || s.len > 19) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < s.len; i++) {
    if (s.ptr[i] < '0' || s.ptr[i] > '9') return false;
    v = v * 10 + (uint64_t)(s.ptr[i] - '0');
  }
  *out = v;
  return true;
}

static bool is_line(qs_slice_t s) { return !memchr(s.ptr, '\n', s.len) && !memchr(s.ptr, '\r', s.len); }

bool qs_redis_stream_id_parse(qs_slice_t text, qs_redis_stream_id_t *out) {
  const char *dash = memchr(text.ptr, '-', text.len);
  if (!dash) return false;
  return parse_u64(qs_slice(text.ptr, (size_t)(dash - text.ptr)), &out->ms) &&
         parse_u64(qs_slice(dash + 1, text.len - (size_t)(dash - text.ptr) - 1), &out->seq);
}

int qs_redis_entry_decode(const qs_slice_t *fields, const qs_slice_t *values, size_t count, qs_update_t **out,
                          const char **reason) {
  *out = NULL;
  qs_update_fields_t f = {0};
  uint64_t created = 0;
  size_t topic_count = 0;
  for (size_t i = 0; i < count; i++)
    if (qs_slice_eq_cstr(fields[i], "topic")) topic_count++;
  if (topic_count == 0 || topic_count > QS_REDIS_MAX_TOPICS) {
    *reason = topic_count ? "too many topics" : "no topic";
    return QS_EPARSE;
  }
  qs_slice_t *topics = malloc(topic_count * sizeof *topics);
  if (!topics) return QS_ENOMEM;
  size_t t = 0;
  int rc = 0;
  for (size_t i = 0; i < count && rc == 0; i++) {
    qs_slice_t name = fields[i], v = values[i];
    if (qs_slice_eq_cstr(name, "id")) {
      f.id = v;
      if (!is_line(v)) *reason = "CR or LF in the id", rc = QS_EPARSE;
    } else if (qs_slice_eq_cstr(name, "topic")) {
      topics[t++] = v;
      if (!is_line(v)) *reason = "CR or LF in a topic", rc = QS_EPARSE;
    } else if (qs_slice_eq_cstr(name, "type")) {
      f.type = v;
      if (!is_line(v)) *reason = "CR or LF in the type", rc = QS_EPARSE;
    } else if (qs_slice_eq_cstr(name, "retry")) {
      if (!parse_u64(v, &f.retry_ms)) *reason = "bad retry", rc = QS_EPARSE;
    } else if (qs_slice_eq_cstr(name, "private")) {
      f.is_private = qs_slice_eq_cstr(v, "1");
    } else if (qs_slice_eq_cstr(name, "created")) {
      if (!parse_u64(v, &created)) *reason = "bad created", rc = QS_EPARSE;
    } else if (qs_slice_eq_cstr(name, "data")) {
      f.data = v;
    }
  }
  if (rc == 0 && f.id.len == 0) *reason = "no id", rc = QS_EPARSE;
  if (rc == 0) {
    f.topics = topics;
    f.topic_count = topic_count;
    *out = qs_update_create(&f, (int64_t)created);
    if (!*out) rc = QS_ENOMEM;
  }
  free(topics);
  return rc;
}
