#include "store/update.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes needed by the SSE encoding of `f` (an upper bound). */
static size_t sse_size(const qs_update_fields_t *f) {
  size_t lines = 1;
  for (size_t i = 0; i < f->data.len; i++)
    if (f->data.ptr[i] == '\n' || f->data.ptr[i] == '\r') lines++;
  return sizeof "event: \n" + f->type.len + sizeof "retry: 18446744073709551615\n" + sizeof "id: \n" +
         f->id.len + lines * sizeof "data: \n" + f->data.len + 2;
}

/* HTML Living Standard, Server-sent events: each line of data gets its own
 * `data:` field, otherwise a CR or LF in the data would inject fields. */
static size_t encode_sse(char *out, const qs_update_fields_t *f) {
  char *p = out;
  if (f->type.len) {
    p += sprintf(p, "event: ");
    memcpy(p, f->type.ptr, f->type.len);
    p += f->type.len;
    *p++ = '\n';
  }
  if (f->retry_ms) p += sprintf(p, "retry: %" PRIu64 "\n", f->retry_ms);
  p += sprintf(p, "id: ");
  memcpy(p, f->id.ptr, f->id.len);
  p += f->id.len;
  *p++ = '\n';
  size_t start = 0;
  for (size_t i = 0;; i++) {
    bool end = i == f->data.len;
    if (end || f->data.ptr[i] == '\n' || f->data.ptr[i] == '\r') {
      memcpy(p, "data: ", 6);
      p += 6;
      if (i > start) memcpy(p, f->data.ptr + start, i - start);
      p += i - start;
      *p++ = '\n';
      if (end) break;
      if (f->data.ptr[i] == '\r' && i + 1 < f->data.len && f->data.ptr[i + 1] == '\n') i++;
      start = i + 1;
    }
  }
  *p++ = '\n';
  return (size_t)(p - out);
}

static qs_slice_t copy_into(char **cursor, qs_slice_t s) {
  qs_slice_t copy = {*cursor, s.len};
  if (s.len) memcpy(*cursor, s.ptr, s.len);
  *cursor += s.len;
  *(*cursor)++ = '\0'; /* a NUL after each field eases logging; slices never rely on it */
  return copy;
}

qs_update_t *qs_update_create(const qs_update_fields_t *f, int64_t created_ms) {
  size_t bytes = sizeof(qs_update_t) + f->topic_count * sizeof(qs_slice_t) + f->id.len + f->type.len +
                 f->data.len + 3 + sse_size(f);
  for (size_t i = 0; i < f->topic_count; i++) bytes += f->topics[i].len + 1;
  qs_update_t *u = malloc(bytes);
  if (!u) return NULL;
  atomic_init(&u->refs, 1);
  u->seq = 0;
  u->created_ms = created_ms;
  u->topics = (qs_slice_t *)(u + 1);
  u->topic_count = f->topic_count;
  char *cursor = (char *)(u->topics + f->topic_count);
  for (size_t i = 0; i < f->topic_count; i++) u->topics[i] = copy_into(&cursor, f->topics[i]);
  u->id = copy_into(&cursor, f->id);
  u->type = copy_into(&cursor, f->type);
  u->data = copy_into(&cursor, f->data);
  u->retry_ms = f->retry_ms;
  u->is_private = f->is_private;
  u->sse = (qs_slice_t){cursor, encode_sse(cursor, f)};
  return u;
}

void qs_update_release(qs_update_t *u) {
  if (u && atomic_fetch_sub_explicit(&u->refs, 1, memory_order_acq_rel) == 1) free(u);
}
