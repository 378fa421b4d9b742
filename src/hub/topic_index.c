/* A shard's topic index: exact topics by hash, `*` in a list, patterns with
 * a literal prefix bucketed by that prefix, the other patterns in a list
 * (DESIGN.md, the hot path, step 4). Used on the shard's loop only. */
#include <stdlib.h>

#include "base/error.h"
#include "hub/hub_internal.h"

static int vec_push(qs_index_vec_t *vec, qs_subscriber_t *sub, uint32_t member) {
  if (vec->len == vec->cap) {
    uint32_t cap = vec->cap ? vec->cap * 2 : 4;
    qs_index_entry_t *items = realloc(vec->items, cap * sizeof *items);
    if (!items) return QS_ENOMEM;
    vec->items = items;
    vec->cap = cap;
  }
  vec->items[vec->len] = (qs_index_entry_t){sub, member};
  sub->members[member].vec = vec;
  sub->members[member].pos = vec->len++;
  return 0;
}

/* Swap-remove: the last entry takes the hole and its member learns its new place. */
static void vec_remove(qs_index_vec_t *vec, uint32_t pos) {
  qs_index_entry_t last = vec->items[--vec->len];
  if (pos != vec->len) {
    vec->items[pos] = last;
    last.sub->members[last.member].pos = pos;
  }
}

static void vec_dispose(qs_index_vec_t *vec) {
  free(vec->items);
  *vec = (qs_index_vec_t){0};
}

static void free_bucket(qs_slice_t key, void *value, void *ctx) {
  vec_dispose(value);
  free(value);
}

void qs_topic_index_init(qs_topic_index_t *ix) {
  *ix = (qs_topic_index_t){0};
  qs_map_init(&ix->exact);
  qs_map_init(&ix->prefixed);
}

void qs_topic_index_dispose(qs_topic_index_t *ix) {
  qs_map_each(&ix->exact, free_bucket, NULL);
  qs_map_dispose(&ix->exact);
  qs_map_each(&ix->prefixed, free_bucket, NULL);
  qs_map_dispose(&ix->prefixed);
  vec_dispose(&ix->wildcard);
  vec_dispose(&ix->patterns);
  free(ix->prefix_lens);
  *ix = (qs_topic_index_t){0};
}

static int prefix_len_ref(qs_topic_index_t *ix, uint32_t len) {
  for (uint32_t i = 0; i < ix->prefix_len_count; i++) {
    if (ix->prefix_lens[i].len == len) {
      ix->prefix_lens[i].buckets++;
      return 0;
    }
  }
  if (ix->prefix_len_count == ix->prefix_len_cap) {
    uint32_t cap = ix->prefix_len_cap ? ix->prefix_len_cap * 2 : 4;
    qs_prefix_len_t *lens = realloc(ix->prefix_lens, cap * sizeof *lens);
    if (!lens) return QS_ENOMEM;
    ix->prefix_lens = lens;
    ix->prefix_len_cap = cap;
  }
  ix->prefix_lens[ix->prefix_len_count++] = (qs_prefix_len_t){len, 1};
  return 0;
}

static void prefix_len_unref(qs_topic_index_t *ix, uint32_t len) {
  for (uint32_t i = 0; i < ix->prefix_len_count; i++) {
    if (ix->prefix_lens[i].len == len) {
      if (--ix->prefix_lens[i].buckets == 0) ix->prefix_lens[i] = ix->prefix_lens[--ix->prefix_len_count];
      return;
    }
  }
}

/* The bucket under `key`, created (and its prefix length counted) when missing. */
static qs_index_vec_t *bucket_for(qs_topic_index_t *ix, qs_map_t *map, qs_slice_t key, bool prefixed) {
  qs_index_vec_t *vec = qs_map_get(map, key);
  if (vec) return vec;
  vec = calloc(1, sizeof *vec);
  if (!vec) return NULL;
  if (prefixed && prefix_len_ref(ix, (uint32_t)key.len) < 0) {
    free(vec);
    return NULL;
  }
  if (qs_map_put(map, key, vec) < 0) {
    if (prefixed) prefix_len_unref(ix, (uint32_t)key.len);
    free(vec);
    return NULL;
  }
  return vec;
}

static qs_slice_t member_key(const qs_member_t *m) {
  return m->kind == QS_INDEX_EXACT ? qs_matcher_pattern(m->matcher) : qs_matcher_literal_prefix(m->matcher);
}

/* Frees an exact or prefixed bucket once its last entry is gone. */
static void drop_bucket_if_empty(qs_topic_index_t *ix, uint8_t kind, qs_slice_t key, qs_index_vec_t *vec) {
  if (vec->len != 0 || (kind != QS_INDEX_EXACT && kind != QS_INDEX_PREFIXED)) return;
  qs_map_remove(kind == QS_INDEX_EXACT ? &ix->exact : &ix->prefixed, key);
  if (kind == QS_INDEX_PREFIXED) prefix_len_unref(ix, (uint32_t)key.len);
  vec_dispose(vec);
  free(vec);
}

static void remove_member(qs_topic_index_t *ix, qs_member_t *m) {
  qs_index_vec_t *vec = m->vec;
  if (!vec) return;
  vec_remove(vec, m->pos);
  drop_bucket_if_empty(ix, m->kind, member_key(m), vec);
  m->vec = NULL;
  m->kind = QS_INDEX_NONE;
}

void qs_topic_index_remove(qs_topic_index_t *ix, qs_subscriber_t *sub) {
  for (uint32_t i = 0; i < sub->member_count; i++) remove_member(ix, &sub->members[i]);
}

static int add_member(qs_topic_index_t *ix, qs_subscriber_t *sub, uint32_t i) {
  qs_member_t *m = &sub->members[i];
  qs_index_vec_t *vec;
  if (qs_matcher_is_wildcard(m->matcher)) {
    m->kind = QS_INDEX_WILDCARD;
    vec = &ix->wildcard;
  } else if (qs_matcher_is_exact(m->matcher)) {
    m->kind = QS_INDEX_EXACT;
    vec = bucket_for(ix, &ix->exact, qs_matcher_pattern(m->matcher), false);
  } else if (qs_matcher_literal_prefix(m->matcher).len > 0) {
    m->kind = QS_INDEX_PREFIXED;
    vec = bucket_for(ix, &ix->prefixed, qs_matcher_literal_prefix(m->matcher), true);
  } else {
    m->kind = QS_INDEX_PATTERN;
    vec = &ix->patterns;
  }
  if (!vec || vec_push(vec, sub, i) < 0) {
    if (vec) drop_bucket_if_empty(ix, m->kind, member_key(m), vec);
    m->vec = NULL;
    m->kind = QS_INDEX_NONE;
    return QS_ENOMEM;
  }
  return 0;
}

int qs_topic_index_add(qs_topic_index_t *ix, qs_subscriber_t *sub) {
  for (uint32_t i = 0; i < sub->member_count; i++) {
    sub->members[i].vec = NULL;
    sub->members[i].kind = QS_INDEX_NONE;
  }
  /* A subscriber with `*` receives everything: register only that. */
  for (uint32_t i = 0; i < sub->member_count; i++) {
    if (qs_matcher_is_wildcard(sub->members[i].matcher)) return add_member(ix, sub, i);
  }
  for (uint32_t i = 0; i < sub->member_count; i++) {
    if (add_member(ix, sub, i) < 0) {
      qs_topic_index_remove(ix, sub);
      return QS_ENOMEM;
    }
  }
  return 0;
}

static void offer_all(const qs_index_vec_t *vec, qs_update_t *update) {
  for (uint32_t i = 0; i < vec->len; i++) qs_hub_offer(vec->items[i].sub, update);
}

/* Offers `update` to each subscriber of `vec` whose member matches `topic`. */
static void offer_matching(const qs_index_vec_t *vec, qs_update_t *update, qs_slice_t topic) {
  for (uint32_t i = 0; i < vec->len; i++) {
    qs_subscriber_t *sub = vec->items[i].sub;
    if (sub->closed || sub->last_seq >= update->seq) continue; /* already decided */
    if (qs_matcher_match(sub->members[vec->items[i].member].matcher, topic)) qs_hub_offer(sub, update);
  }
}

void qs_topic_index_dispatch(qs_topic_index_t *ix, qs_update_t *update) {
  for (size_t t = 0; t < update->topic_count; t++) {
    qs_slice_t topic = update->topics[t];
    const qs_index_vec_t *vec = qs_map_count(&ix->exact) ? qs_map_get(&ix->exact, topic) : NULL;
    if (vec) offer_all(vec, update);
    for (uint32_t l = 0; l < ix->prefix_len_count; l++) {
      uint32_t len = ix->prefix_lens[l].len;
      if (len > topic.len) continue;
      vec = qs_map_get(&ix->prefixed, qs_slice(topic.ptr, len));
      if (vec) offer_matching(vec, update, topic);
    }
  }
  offer_all(&ix->wildcard, update);
  /* Prefix-less patterns (URL patterns): tested against every topic. */
  for (uint32_t i = 0; i < ix->patterns.len; i++) {
    qs_subscriber_t *sub = ix->patterns.items[i].sub;
    if (sub->closed || sub->last_seq >= update->seq) continue;
    const qs_matcher_t *matcher = sub->members[ix->patterns.items[i].member].matcher;
    for (size_t t = 0; t < update->topic_count; t++) {
      if (qs_matcher_match(matcher, update->topics[t])) {
        qs_hub_offer(sub, update);
        break;
      }
    }
  }
}
