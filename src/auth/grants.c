#include "auth/grants.h"

#include <stdlib.h>

#include "base/error.h"

qs_grants_t *qs_grants_create_empty(void) {
  qs_grants_t *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  atomic_init(&g->refs, 1);
  return g;
}

static void free_text(qs_slice_t *s) {
  free((char *)s->ptr);
  *s = (qs_slice_t){NULL, 0};
}

void qs_grants_release(qs_grants_t *g) {
  if (!g) return;
  if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) != 1) return;
  for (size_t i = 0; i < g->publish_count; i++) qs_matcher_destroy(g->publish[i]);
  free(g->publish);
  for (size_t i = 0; i < g->subscribe_count; i++) {
    qs_matcher_destroy(g->subscribe[i].matcher);
    free_text(&g->subscribe[i].payload_json);
  }
  free(g->subscribe);
  free_text(&g->legacy_payload_json);
  free_text(&g->subject);
  free_text(&g->issuer);
  free(g->token_digest);
  free(g);
}

/* Arrays grow to 4, 8, 16... elements: growth is due when `count` is 0 or a
 * power of two of at least 4, so no capacity field is needed. */
static void *grow(void *array, size_t count, size_t elem_size) {
  if (count != 0 && (count < 4 || (count & (count - 1)) != 0)) return array;
  size_t cap = count < 4 ? 4 : count * 2;
  return realloc(array, cap * elem_size);
}

int qs_grants_add_publish(qs_grants_t *g, qs_matcher_t *matcher) {
  qs_matcher_t **publish = grow(g->publish, g->publish_count, sizeof *publish);
  if (!publish) {
    qs_matcher_destroy(matcher);
    return QS_ENOMEM;
  }
  g->publish = publish;
  g->publish[g->publish_count++] = matcher;
  return 0;
}

static int copy_text(qs_slice_t value, qs_slice_t *out) {
  *out = (qs_slice_t){NULL, 0};
  if (value.len == 0) return 0;
  char *copy = qs_slice_strdup(value);
  if (!copy) return QS_ENOMEM;
  *out = qs_slice(copy, value.len);
  return 0;
}

int qs_grants_add_subscribe(qs_grants_t *g, qs_matcher_t *matcher, qs_slice_t payload_json) {
  qs_subscribe_grant_t *subscribe = grow(g->subscribe, g->subscribe_count, sizeof *subscribe);
  if (!subscribe) {
    qs_matcher_destroy(matcher);
    return QS_ENOMEM;
  }
  g->subscribe = subscribe;
  qs_subscribe_grant_t grant = {.matcher = matcher};
  if (copy_text(payload_json, &grant.payload_json)) {
    qs_matcher_destroy(matcher);
    return QS_ENOMEM;
  }
  g->subscribe[g->subscribe_count++] = grant;
  return 0;
}

int qs_grants_set_text(qs_grants_t *g, qs_slice_t *field, qs_slice_t value) {
  (void)g;
  qs_slice_t copy;
  if (copy_text(value, &copy)) return QS_ENOMEM;
  free_text(field);
  *field = copy;
  return 0;
}

static bool publish_matches(const qs_grants_t *g, qs_slice_t topic) {
  for (size_t i = 0; i < g->publish_count; i++)
    if (qs_matcher_match(g->publish[i], topic)) return true;
  return false;
}

bool qs_grants_can_publish(const qs_grants_t *g, const qs_slice_t *topics, size_t topic_count) {
  if (!g || topic_count == 0) return false;
  for (size_t i = 0; i < topic_count; i++)
    if (!publish_matches(g, topics[i])) return false;
  return true;
}

bool qs_grants_can_receive(const qs_grants_t *g, const qs_slice_t *topics, size_t topic_count) {
  if (!g) return false;
  for (size_t i = 0; i < g->subscribe_count; i++)
    for (size_t t = 0; t < topic_count; t++)
      if (qs_matcher_match(g->subscribe[i].matcher, topics[t])) return true;
  return false;
}

qs_slice_t qs_grants_payload_for(const qs_grants_t *g, qs_slice_t match) {
  if (!g) return (qs_slice_t){NULL, 0};
  /* Mercure draft, Payloads: the first matching grant decides; REF falls back
   * to the legacy `mercure.payload` when that grant carries none, and the
   * legacy hub copied `mercure.payload` into every subscription. */
  for (size_t i = 0; i < g->subscribe_count; i++) {
    if (!qs_matcher_match(g->subscribe[i].matcher, match)) continue;
    if (g->subscribe[i].payload_json.len) return g->subscribe[i].payload_json;
    break;
  }
  if (g->legacy) return g->legacy_payload_json;
  return (qs_slice_t){NULL, 0};
}

bool qs_grants_publish_grant_for(const qs_grants_t *g, qs_slice_t topic, size_t *index) {
  for (size_t i = 0; g && i < g->publish_count; i++) {
    if (qs_matcher_match(g->publish[i], topic)) {
      *index = i;
      return true;
    }
  }
  return false;
}

bool qs_grants_first_unpublishable(const qs_grants_t *g, const qs_slice_t *topics, size_t topic_count,
                                   size_t *index) {
  for (size_t i = 0; i < topic_count; i++) {
    if (!g || !publish_matches(g, topics[i])) {
      *index = i;
      return true;
    }
  }
  return false;
}

bool qs_grants_subscribe_grant_for(const qs_grants_t *g, qs_slice_t topic, size_t *index) {
  for (size_t i = 0; g && i < g->subscribe_count; i++) {
    if (qs_matcher_match(g->subscribe[i].matcher, topic)) {
      *index = i;
      return true;
    }
  }
  return false;
}
