/* A shard's topic index: exact topics by hash, `*` in a list, patterns with
 * a literal prefix bucketed by that prefix, URL patterns with a fixed origin
 * bucketed by origin and path prefix, the other patterns in a list (DESIGN.md,
 * the hot path, step 4). Used on the shard's loop only.
 *
 * Dependencies: the bottom of hub/ (ARCHITECTURE.md, the hub's files): it
 * includes no other header of hub/ and offers updates through the ops its
 * owner gives (subscriber.c's), so it knows nothing of subscribers, shards
 * or the hub. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "hub/topic_index.h"

static int vec_push(qs_index_vec_t *vec, void *owner, qs_index_member_t *member) {
  if (vec->len == vec->cap) {
    uint32_t cap = vec->cap ? vec->cap * 2 : 4;
    qs_index_entry_t *items = realloc(vec->items, cap * sizeof *items);
    if (!items) return QS_ENOMEM;
    vec->items = items;
    vec->cap = cap;
  }
  vec->items[vec->len] = (qs_index_entry_t){owner, member};
  member->vec = vec;
  member->pos = vec->len++;
  return 0;
}

/* Swap-remove: the last entry takes the hole and its member learns its new place. */
static void vec_remove(qs_index_vec_t *vec, uint32_t pos) {
  qs_index_entry_t last = vec->items[--vec->len];
  if (pos != vec->len) {
    vec->items[pos] = last;
    last.member->pos = pos;
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

void qs_topic_index_init(qs_topic_index_t *ix, const qs_topic_index_ops_t *ops) {
  *ix = (qs_topic_index_t){.ops = ops};
  qs_map_init(&ix->exact);
  qs_map_init(&ix->prefixed);
  qs_map_init(&ix->url);
  ix->cache_entries = QS_TOPIC_INDEX_DEFAULT_CACHE;
}

void qs_topic_index_set_cache_size(qs_topic_index_t *ix, size_t entries) {
  qs_match_cache_destroy(ix->cache);
  ix->cache = NULL;
  ix->cache_failed = false;
  ix->cache_entries = entries;
}

void qs_topic_index_dispose(qs_topic_index_t *ix) {
  qs_map_each(&ix->exact, free_bucket, NULL);
  qs_map_dispose(&ix->exact);
  qs_map_each(&ix->prefixed, free_bucket, NULL);
  qs_map_dispose(&ix->prefixed);
  qs_map_each(&ix->url, free_bucket, NULL);
  qs_map_dispose(&ix->url);
  vec_dispose(&ix->wildcard);
  vec_dispose(&ix->patterns);
  free(ix->prefix_lens);
  free(ix->url_lens);
  free(ix->url_base);
  qs_url_dispose(&ix->url_base_parsed);
  qs_match_cache_destroy(ix->cache);
  *ix = (qs_topic_index_t){.ops = ix->ops};
}

/* A set of key lengths in use, each with how many buckets have it. */
typedef struct {
  qs_prefix_len_t **lens;
  uint32_t *count;
  uint32_t *cap;
} len_set_t;

static len_set_t prefix_set(qs_topic_index_t *ix) {
  return (len_set_t){&ix->prefix_lens, &ix->prefix_len_count, &ix->prefix_len_cap};
}

static len_set_t url_set(qs_topic_index_t *ix) {
  return (len_set_t){&ix->url_lens, &ix->url_len_count, &ix->url_len_cap};
}

static int len_ref(len_set_t set, uint32_t len) {
  for (uint32_t i = 0; i < *set.count; i++) {
    if ((*set.lens)[i].len == len) {
      (*set.lens)[i].buckets++;
      return 0;
    }
  }
  if (*set.count == *set.cap) {
    uint32_t cap = *set.cap ? *set.cap * 2 : 4;
    qs_prefix_len_t *lens = realloc(*set.lens, cap * sizeof *lens);
    if (!lens) return QS_ENOMEM;
    *set.lens = lens;
    *set.cap = cap;
  }
  (*set.lens)[(*set.count)++] = (qs_prefix_len_t){len, 1};
  return 0;
}

static void len_unref(len_set_t set, uint32_t len) {
  for (uint32_t i = 0; i < *set.count; i++) {
    if ((*set.lens)[i].len == len) {
      if (--(*set.lens)[i].buckets == 0) (*set.lens)[i] = (*set.lens)[--(*set.count)];
      return;
    }
  }
}

/* The bucket under `key`, created (and its length counted in `lens`, when
 * given) when missing. */
static qs_index_vec_t *bucket_for(qs_map_t *map, qs_slice_t key, const len_set_t *lens) {
  qs_index_vec_t *vec = qs_map_get(map, key);
  if (vec) return vec;
  vec = calloc(1, sizeof *vec);
  if (!vec) return NULL;
  if (lens && len_ref(*lens, (uint32_t)key.len) < 0) {
    free(vec);
    return NULL;
  }
  if (qs_map_put(map, key, vec) < 0) {
    if (lens) len_unref(*lens, (uint32_t)key.len);
    free(vec);
    return NULL;
  }
  return vec;
}

/* ---- URL pattern keys ---- */

/* The length of "scheme NUL host NUL port NUL" for these values. */
static size_t origin_len(qs_slice_t scheme, qs_slice_t host, qs_slice_t port) {
  return scheme.len + host.len + port.len + 3;
}

/* Writes "scheme NUL host NUL port NUL" then `path` into a new `*key`
 * (freed by the caller). Returns the origin part's length, or 0 when out of
 * memory. */
static size_t make_url_key(qs_slice_t scheme, qs_slice_t host, qs_slice_t port, qs_slice_t path, char **key) {
  size_t olen = origin_len(scheme, host, port);
  char *k = malloc(olen + path.len + 1);
  if (!k) return 0;
  char *p = k;
  memcpy(p, scheme.ptr, scheme.len);
  p += scheme.len;
  *p++ = 0;
  memcpy(p, host.ptr, host.len);
  p += host.len;
  *p++ = 0;
  memcpy(p, port.ptr, port.len);
  p += port.len;
  *p++ = 0;
  if (path.len) memcpy(p, path.ptr, path.len);
  *key = k;
  return olen;
}

/* The bucket key of an indexable URL pattern: its origin, and its path
 * prefix cut after the last '/' (so that a topic needs a lookup only at the
 * '/'s of its path). Sets `*key` (freed by the caller) and returns its
 * length, 0 when out of memory. */
static size_t url_member_key(const qs_matcher_url_key_t *k, char **key) {
  qs_slice_t path = k->path_prefix;
  while (path.len > 0 && path.ptr[path.len - 1] != '/') path.len--;
  size_t olen = make_url_key(k->scheme, k->host, k->port, path, key);
  return olen ? olen + path.len : 0;
}

/* Whether URL pattern `m` can go in the url map of `ix`, i.e. its origin is
 * fixed and it resolves topics against the index's base URL (set by the
 * first one). */
static bool url_indexable(qs_topic_index_t *ix, const qs_matcher_t *m, qs_matcher_url_key_t *key) {
  if (!qs_matcher_url_key(m, key)) return false;
  if (!ix->url_base_set) {
    char *copy = malloc(key->base.len + 1);
    if (!copy) return false;
    memcpy(copy, key->base.ptr, key->base.len);
    copy[key->base.len] = 0;
    ix->url_base = copy;
    ix->url_base_len = key->base.len;
    ix->url_base_set = true;
    ix->url_base_ok = key->base.len == 0 || qs_url_parse(key->base, NULL, &ix->url_base_parsed) == 0;
  }
  return ix->url_base_ok && qs_slice_eq(key->base, (qs_slice_t){ix->url_base, ix->url_base_len});
}

/* ---- Members ---- */

/* The map a member's bucket is in, NULL for the vecs held by the index. */
static qs_map_t *member_map(qs_topic_index_t *ix, uint8_t kind) {
  switch (kind) {
    case QS_INDEX_EXACT:
      return &ix->exact;
    case QS_INDEX_PREFIXED:
      return &ix->prefixed;
    case QS_INDEX_URL:
      return &ix->url;
    default:
      return NULL;
  }
}

/* Frees a bucket of a map once its last entry is gone. */
static void drop_bucket_if_empty(qs_topic_index_t *ix, uint8_t kind, qs_slice_t key, qs_index_vec_t *vec) {
  qs_map_t *map = member_map(ix, kind);
  if (vec->len != 0 || !map) return;
  qs_map_remove(map, key);
  if (kind == QS_INDEX_PREFIXED) len_unref(prefix_set(ix), (uint32_t)key.len);
  if (kind == QS_INDEX_URL) len_unref(url_set(ix), (uint32_t)key.len);
  vec_dispose(vec);
  free(vec);
}

/* Drops the bucket of member `m` if it became empty. */
static void drop_member_bucket_if_empty(qs_topic_index_t *ix, const qs_index_member_t *m,
                                        qs_index_vec_t *vec) {
  if (vec->len != 0) return;
  if (m->kind == QS_INDEX_URL) {
    qs_matcher_url_key_t k;
    char *key = NULL;
    size_t len = qs_matcher_url_key(m->matcher, &k) ? url_member_key(&k, &key) : 0;
    if (len) {
      drop_bucket_if_empty(ix, m->kind, (qs_slice_t){key, len}, vec);
    }
    /* Out of memory: the empty bucket stays until the index is disposed. */
    free(key);
    return;
  }
  qs_slice_t key =
      m->kind == QS_INDEX_EXACT ? qs_matcher_pattern(m->matcher) : qs_matcher_literal_prefix(m->matcher);
  drop_bucket_if_empty(ix, m->kind, key, vec);
}

static void remove_member(qs_topic_index_t *ix, qs_index_member_t *m) {
  qs_index_vec_t *vec = m->vec;
  if (!vec) return;
  vec_remove(vec, m->pos);
  drop_member_bucket_if_empty(ix, m, vec);
  m->vec = NULL;
  m->kind = QS_INDEX_NONE;
}

void qs_topic_index_remove(qs_topic_index_t *ix, qs_index_member_t *members, uint32_t count) {
  for (uint32_t i = 0; i < count; i++) remove_member(ix, &members[i]);
}

static int add_member(qs_topic_index_t *ix, void *owner, qs_index_member_t *m) {
  qs_index_vec_t *vec;
  qs_matcher_url_key_t url_key;
  if (url_indexable(ix, m->matcher, &url_key)) {
    m->kind = QS_INDEX_URL;
    char *key = NULL;
    size_t len = url_member_key(&url_key, &key);
    len_set_t lens = url_set(ix);
    vec = len ? bucket_for(&ix->url, (qs_slice_t){key, len}, &lens) : NULL;
    free(key);
    if (!vec || vec_push(vec, owner, m) < 0) {
      if (vec) drop_member_bucket_if_empty(ix, m, vec);
      m->vec = NULL;
      m->kind = QS_INDEX_NONE;
      return QS_ENOMEM;
    }
    return 0;
  }
  if (qs_matcher_is_wildcard(m->matcher)) {
    m->kind = QS_INDEX_WILDCARD;
    vec = &ix->wildcard;
  } else if (qs_matcher_is_exact(m->matcher)) {
    m->kind = QS_INDEX_EXACT;
    vec = bucket_for(&ix->exact, qs_matcher_pattern(m->matcher), NULL);
  } else if (qs_matcher_literal_prefix(m->matcher).len > 0) {
    m->kind = QS_INDEX_PREFIXED;
    len_set_t lens = prefix_set(ix);
    vec = bucket_for(&ix->prefixed, qs_matcher_literal_prefix(m->matcher), &lens);
  } else {
    m->kind = QS_INDEX_PATTERN;
    vec = &ix->patterns;
  }
  if (!vec || vec_push(vec, owner, m) < 0) {
    if (vec) drop_member_bucket_if_empty(ix, m, vec);
    m->vec = NULL;
    m->kind = QS_INDEX_NONE;
    return QS_ENOMEM;
  }
  return 0;
}

int qs_topic_index_add(qs_topic_index_t *ix, void *owner, qs_index_member_t *members, uint32_t count) {
  for (uint32_t i = 0; i < count; i++) {
    members[i].vec = NULL;
    members[i].kind = QS_INDEX_NONE;
  }
  /* An owner with `*` receives everything: register only that. */
  for (uint32_t i = 0; i < count; i++) {
    if (qs_matcher_is_wildcard(members[i].matcher)) return add_member(ix, owner, &members[i]);
  }
  for (uint32_t i = 0; i < count; i++) {
    if (add_member(ix, owner, &members[i]) < 0) {
      qs_topic_index_remove(ix, members, count);
      return QS_ENOMEM;
    }
  }
  return 0;
}

static void offer_all(const qs_topic_index_t *ix, const qs_index_vec_t *vec, qs_update_t *update) {
  void (*offer)(void *, qs_update_t *) = ix->ops->offer;
  for (uint32_t i = 0; i < vec->len; i++) offer(vec->items[i].owner, update);
}

/* The result cache, created on first use (none when disabled or out of memory). */
static qs_match_cache_t *index_cache(qs_topic_index_t *ix) {
  if (!ix->cache && !ix->cache_failed && ix->cache_entries > 0)
    ix->cache_failed = qs_match_cache_create(ix->cache_entries, &ix->cache) != 0;
  return ix->cache;
}

/* Offers `update` to each subscriber of `vec` whose member matches `topic`
 * (through the result cache when `cache` is not NULL). */
static void offer_matching(const qs_topic_index_t *ix, const qs_index_vec_t *vec, qs_update_t *update,
                           qs_slice_t topic, qs_match_cache_t *cache) {
  const qs_topic_index_ops_t ops = *ix->ops;
  /* Owners with the same pattern share one (interned) matcher, and are
   * often next to each other: the last result is reused. */
  const qs_matcher_t *last = NULL;
  bool last_match = false;
  for (uint32_t i = 0; i < vec->len; i++) {
    void *owner = vec->items[i].owner;
    if (!ops.wants(owner, update->seq)) continue; /* already decided */
    const qs_matcher_t *m = vec->items[i].member->matcher;
    if (m != last) {
      last = m;
      last_match = qs_match_cache_match(cache, m, topic);
    }
    if (last_match) ops.offer(owner, update);
  }
}

/* Offers `update` to each subscriber of a url bucket whose pattern matches
 * `url` (the topic parsed against the index's base URL). */
static void offer_matching_url(const qs_topic_index_t *ix, const qs_index_vec_t *vec, qs_update_t *update,
                               qs_slice_t topic, const qs_url_t *url) {
  const qs_topic_index_ops_t ops = *ix->ops;
  const qs_matcher_t *last = NULL; /* as in offer_matching */
  bool last_match = false;
  for (uint32_t i = 0; i < vec->len; i++) {
    void *owner = vec->items[i].owner;
    if (!ops.wants(owner, update->seq)) continue;
    const qs_matcher_t *m = vec->items[i].member->matcher;
    if (m != last) {
      last = m;
      last_match = qs_matcher_match_url(m, topic, url);
    }
    if (last_match) ops.offer(owner, update);
  }
}

/* Looks up the url buckets `url` selects: its origin's, for each prefix of
 * its path ending with '/' (or empty) whose key length is in use. */
static void dispatch_url(qs_topic_index_t *ix, qs_update_t *update, qs_slice_t topic, const qs_url_t *url) {
  char port[16] = "";
  if (url->port >= 0) snprintf(port, sizeof port, "%d", url->port);
  qs_slice_t path = qs_slice_from_cstr(url->path ? url->path : "");
  qs_slice_t scheme = qs_slice_from_cstr(url->scheme ? url->scheme : "");
  qs_slice_t host = qs_slice_from_cstr(url->host ? url->host : "");
  char stack[512];
  char *key = stack;
  size_t olen = origin_len(scheme, host, qs_slice_from_cstr(port));
  if (olen + path.len > sizeof stack) {
    if (!make_url_key(scheme, host, qs_slice_from_cstr(port), path, &key)) return; /* out of memory */
  } else {
    char *p = key;
    memcpy(p, scheme.ptr, scheme.len);
    p += scheme.len;
    *p++ = 0;
    memcpy(p, host.ptr, host.len);
    p += host.len;
    *p++ = 0;
    memcpy(p, port, strlen(port));
    p += strlen(port);
    *p++ = 0;
    if (path.len) memcpy(p, path.ptr, path.len);
  }
  for (uint32_t l = 0; l < ix->url_len_count; l++) {
    size_t len = ix->url_lens[l].len;
    if (len < olen || len > olen + path.len) continue;
    if (len > olen && key[len - 1] != '/') continue;
    const qs_index_vec_t *vec = qs_map_get(&ix->url, qs_slice(key, len));
    if (vec) offer_matching_url(ix, vec, update, topic, url);
  }
  if (key != stack) free(key);
}

void qs_topic_index_dispatch(qs_topic_index_t *ix, qs_update_t *update) {
  /* Each topic is parsed once against the base URL of the indexed URL
   * patterns, for the url buckets and the other URL patterns with that base. */
  bool parse = ix->url_base_set && ix->url_base_ok && (qs_map_count(&ix->url) || ix->patterns.len);
  qs_url_t urls_stack[4];
  qs_url_t *urls = urls_stack;
  int *parsed = NULL, parsed_stack[4];
  if (parse) {
    parsed = parsed_stack;
    if (update->topic_count > 4) {
      urls = calloc(update->topic_count, sizeof *urls);
      parsed = calloc(update->topic_count, sizeof *parsed);
      if (!urls || !parsed) {
        free(urls != urls_stack ? urls : NULL);
        free(parsed);
        urls = urls_stack;
        parsed = NULL; /* out of memory: test every pattern the slow way */
        parse = false;
      }
    }
  }
  const qs_url_t *base = ix->url_base_len ? &ix->url_base_parsed : NULL;
  qs_match_cache_t *cache = NULL;
  if (ix->prefix_len_count || ix->patterns.len) cache = index_cache(ix);
  for (size_t t = 0; t < update->topic_count; t++) {
    qs_slice_t topic = update->topics[t];
    const qs_index_vec_t *vec = qs_map_count(&ix->exact) ? qs_map_get(&ix->exact, topic) : NULL;
    if (vec) offer_all(ix, vec, update);
    for (uint32_t l = 0; l < ix->prefix_len_count; l++) {
      uint32_t len = ix->prefix_lens[l].len;
      if (len > topic.len) continue;
      vec = qs_map_get(&ix->prefixed, qs_slice(topic.ptr, len));
      if (vec) offer_matching(ix, vec, update, topic, cache);
    }
    if (parse) {
      /* A topic that does not parse matches no URL pattern with this base. */
      parsed[t] = qs_url_parse(topic, base, &urls[t]) == 0;
      if (parsed[t] && qs_map_count(&ix->url)) dispatch_url(ix, update, topic, &urls[t]);
    }
  }
  offer_all(ix, &ix->wildcard, update);
  /* The other patterns: tested against every topic (for a one-topic
   * update, the last matcher's result is reused as in offer_matching). */
  const qs_topic_index_ops_t ops = *ix->ops;
  const qs_matcher_t *last = NULL;
  bool last_match = false;
  for (uint32_t i = 0; i < ix->patterns.len; i++) {
    void *owner = ix->patterns.items[i].owner;
    if (!ops.wants(owner, update->seq)) continue;
    const qs_matcher_t *matcher = ix->patterns.items[i].member->matcher;
    if (update->topic_count == 1 && matcher == last) {
      if (last_match) ops.offer(owner, update);
      continue;
    }
    last = matcher;
    last_match = false;
    bool same_base = parse && qs_matcher_type(matcher) == QS_MATCH_URLPATTERN &&
                     qs_slice_eq(qs_matcher_base_url(matcher), (qs_slice_t){ix->url_base, ix->url_base_len});
    for (size_t t = 0; t < update->topic_count; t++) {
      bool match;
      if (same_base)
        match = parsed[t] && qs_match_cache_match_url(cache, matcher, update->topics[t], &urls[t]);
      else
        match = qs_match_cache_match(cache, matcher, update->topics[t]);
      if (match) {
        last_match = true;
        ops.offer(owner, update);
        break;
      }
    }
  }
  if (parse) {
    for (size_t t = 0; t < update->topic_count; t++)
      if (parsed[t]) qs_url_dispose(&urls[t]);
  }
  if (urls != urls_stack) {
    free(urls);
    free(parsed);
  }
}
