#include "api/publish_fields.h"

#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "match/reserved.h"

static int refuse(qs_api_refusal_t *refusal, int status, const char *reason) {
  refusal->status = status;
  refusal->reason = reason;
  return -1;
}

/* Digits only (draft, Publication: `retry`), without overflowing 64 bits. */
static int parse_retry(qs_slice_t value, uint64_t *out) {
  if (value.len == 0) return -1;
  uint64_t n = 0;
  for (size_t i = 0; i < value.len; i++) {
    char c = value.ptr[i];
    if (c < '0' || c > '9') return -1;
    if (n > (UINT64_MAX - (uint64_t)(c - '0')) / 10) return -1;
    n = n * 10 + (uint64_t)(c - '0');
  }
  *out = n;
  return 0;
}

int qs_publish_fields_collect(const qs_form_field_t *fields, size_t field_count,
                              const qs_publish_limits_t *limits, qs_publish_fields_t *out,
                              qs_api_refusal_t *refusal) {
  *out = (qs_publish_fields_t){0};
  bool seen_data = false, seen_id = false, seen_type = false, seen_retry = false;
  size_t topic_count = 0;
  for (size_t i = 0; i < field_count; i++)
    if (qs_slice_eq_cstr(fields[i].name, "topic")) topic_count++;
  if (topic_count == 0) return refuse(refusal, 400, "missing \"topic\" parameter");
  if (topic_count > limits->max_topics)
    return refuse(refusal, 400, "too many \"topic\" parameters (at most max_topics_per_update)");
  out->topics = malloc(topic_count * sizeof *out->topics);
  if (!out->topics) return refuse(refusal, 503, "out of memory");

  for (size_t i = 0; i < field_count; i++) {
    qs_slice_t name = fields[i].name, value = fields[i].value;
    if (qs_slice_eq_cstr(name, "topic")) {
      if (value.len > limits->max_topic_bytes)
        return refuse(refusal, 400, "a \"topic\" parameter is too long (at most max_pattern_length bytes)");
      if (!qs_text_allowed(value, NULL))
        return refuse(refusal, 400,
                      "invalid \"topic\" parameter: not UTF-8, or a control or format character");
      out->topics[out->topic_count++] = value;
    } else if (qs_slice_eq_cstr(name, "data") && !seen_data) {
      seen_data = true;
      out->data = value;
    } else if (qs_slice_eq_cstr(name, "private")) {
      out->is_private = true; /* presence alone makes it private; the value is never interpreted */
    } else if (qs_slice_eq_cstr(name, "id") && !seen_id) {
      seen_id = true;
      if (value.len > limits->max_field_bytes)
        return refuse(refusal, 400, "the \"id\" parameter is too long (at most max_field_size bytes)");
      out->id = value;
    } else if (qs_slice_eq_cstr(name, "type") && !seen_type) {
      seen_type = true;
      if (value.len > limits->max_field_bytes)
        return refuse(refusal, 400, "the \"type\" parameter is too long (at most max_field_size bytes)");
      out->type = value;
    } else if (qs_slice_eq_cstr(name, "retry") && !seen_retry) {
      seen_retry = true;
      if (value.len > limits->max_field_bytes)
        return refuse(refusal, 400, "the \"retry\" parameter is too long (at most max_field_size bytes)");
      if (parse_retry(value, &out->retry_ms) != 0)
        return refuse(refusal, 400, "invalid \"retry\" parameter: ASCII digits only");
      out->has_retry = true;
    }
  }
  return 0;
}

/* The hub path's last segment, when it is plain enough for the fast test
 * below (letters, digits, `-`, `_`, `~`); empty otherwise. */
static qs_slice_t hub_last_segment(qs_slice_t hub_url) {
  size_t end = 0;
  while (end < hub_url.len && hub_url.ptr[end] != '?' && hub_url.ptr[end] != '#') end++;
  size_t start = end;
  while (start > 0 && hub_url.ptr[start - 1] != '/') start--;
  if (start == 0) return (qs_slice_t){"", 0};
  for (size_t i = start; i < end; i++) {
    char c = hub_url.ptr[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '~'))
      return (qs_slice_t){"", 0};
  }
  return qs_slice(hub_url.ptr + start, end - start);
}

/* True when the topic certainly is outside the reserved namespace, without
 * parsing it: an absolute `scheme://` URL takes nothing from the hub URL, and
 * with no `%`, tab, CR, LF or `\` in it, its parsed path can only hold the hub
 * path's last segment if the topic itself does. A reserved path (the hub's
 * path, or below it) always holds that segment. Otherwise: the full test. */
static bool surely_not_reserved(qs_slice_t topic, qs_slice_t last_segment) {
  if (last_segment.len == 0) return false;
  size_t i = 0;
  while (i < topic.len &&
         ((topic.ptr[i] >= 'a' && topic.ptr[i] <= 'z') || (topic.ptr[i] >= 'A' && topic.ptr[i] <= 'Z') ||
          (i > 0 && ((topic.ptr[i] >= '0' && topic.ptr[i] <= '9') || topic.ptr[i] == '+' ||
                     topic.ptr[i] == '-' || topic.ptr[i] == '.'))))
    i++;
  if (i == 0 || topic.len - i < 3 || memcmp(topic.ptr + i, "://", 3) != 0) return false;
  for (size_t j = 0; j < topic.len; j++) {
    char c = topic.ptr[j];
    if (c == '%' || c == '\t' || c == '\r' || c == '\n' || c == '\\') return false;
  }
  return memmem(topic.ptr, topic.len, last_segment.ptr, last_segment.len) == NULL;
}

int qs_publish_fields_validate(const qs_publish_fields_t *f, const qs_publish_limits_t *limits,
                               qs_api_refusal_t *refusal) {
  qs_slice_t last_segment = hub_last_segment(limits->hub_url);
  for (size_t i = 0; i < f->topic_count; i++) {
    if (qs_slice_eq_cstr(f->topics[i], "*"))
      return refuse(refusal, 400, "the topic \"*\" is reserved for the wildcard matcher");
    /* Draft, Publication: the resolved path, never a substring test (the
     * substring test only skips the parse when it cannot match). */
    if (!surely_not_reserved(f->topics[i], last_segment) &&
        qs_topic_is_reserved(f->topics[i], limits->hub_url))
      return refuse(refusal, 400, "a topic addresses the hub's reserved namespace");
  }
  if (f->id.len) {
    if (f->id.ptr[0] == '#')
      return refuse(refusal, 400, "invalid \"id\" parameter: must not start with \"#\"");
    if (qs_slice_eq_cstr(f->id, "earliest"))
      return refuse(refusal, 400, "invalid \"id\" parameter: \"earliest\" is reserved");
    if (!qs_text_allowed(f->id, NULL))
      return refuse(refusal, 400, "invalid \"id\" parameter: not UTF-8, or a control or format character");
  }
  if (f->type.len) {
    if (!qs_text_allowed(f->type, NULL))
      return refuse(refusal, 400, "invalid \"type\" parameter: not UTF-8, or a control or format character");
    if (qs_slice_eq_cstr(f->type, "mercure"))
      return refuse(refusal, 400, "invalid \"type\" parameter: \"mercure\" is reserved for the hub");
  }
  if (!qs_utf8_valid(f->data)) return refuse(refusal, 400, "invalid \"data\" parameter: not UTF-8");
  return 0;
}

void qs_publish_fields_dispose(qs_publish_fields_t *fields) {
  free(fields->topics);
  fields->topics = NULL;
}
