/* Active subscriptions: the registry and the subscription events. See
 * subscriptions.h. Lock order: the registry's mutex, then the hub's
 * (seq_mutex, fanout_mutex, ...) and the store's, never the other way.
 *
 * Dependencies (ARCHITECTURE.md, the hub's files): above the hub, which it
 * reaches through hub.h only (it is the hub's on_subscription and on_update
 * hooks, and publishes with qs_hub_publish); the hub knows nothing of it. */
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "base/map.h"
#include "base/uuid.h"
#include "hub/subscriptions.h"
#include "store/store.h"

/* A subscription's topic: the hub path, "/subscriptions/", the match
 * percent-encoded (at most three bytes per byte of a max_pattern_length
 * pattern) and the subscriber id. */
#define TOPIC_MAX_BYTES (1u << 20)

/* One matcher of a connection, as listed by the API. Immutable once the
 * record is in the registry. */
typedef struct {
  qs_match_type_t type;
  char *match;
  size_t match_len;
  char *payload; /* JSON text; NULL when the grants give none */
  size_t payload_len;
  char *topic; /* the event topic, also the document's id */
  size_t topic_len;
  char *doc; /* the `active: true` document */
  size_t doc_len;
  bool listed; /* its start event was published (so it is listed and its end is due) */
} entry_t;

/* One connection. */
typedef struct record {
  struct record *prev, *next; /* the registry's list, in start order */
  uint64_t hub_id;            /* qs_hub_subscriber_id */
  char subscriber[QS_UUID_URN_LEN + 1];
  size_t entry_count;
  entry_t entries[];
} record_t;

/* Shared transport: one subscription (matcher) of any node, as its events in
 * the shared order say. */
typedef struct observed {
  struct observed *prev, *next; /* in the order their start events were read */
  qs_match_type_t type;
  char *match; /* NUL-terminated copies */
  char *subscriber;
  char *topic; /* the event topic: the document's id, the key of `observed` */
  char *doc;   /* the `active: true` document, as published */
  size_t doc_len;
} observed_t;

struct qs_subscriptions {
  char *hub_path;
  size_t hub_path_len;
  /* Shared transport (qs_subscriptions_share): every node's subscriptions,
   * read from the shared order (under the mutex). */
  bool shared;
  qs_store_t *store; /* to publish the ends of a gone node's subscriptions */
  char node[9];      /* this node's name: the first 8 hex digits of its subscriber URNs */
  qs_map_t observed; /* topic -> observed_t* */
  observed_t *observed_head, *observed_tail;
  char *observed_id; /* id of the newest update read from the shared order ("" at first) */
  size_t observed_id_cap;
  pthread_mutex_t mutex;  /* guards everything below */
  qs_map_t by_hub_id;     /* 8-byte hub id -> record_t* */
  qs_map_t by_subscriber; /* subscriber URN -> record_t* */
  record_t *head, *tail;
  size_t listed;           /* listed entries */
  uint64_t last_event_seq; /* seq of the newest event published under the mutex */
};

/* ---- Creation ---- */

int qs_subscriptions_create(const char *hub_url, qs_subscriptions_t **out) {
  *out = NULL;
  const char *scheme_end = hub_url ? strstr(hub_url, "://") : NULL;
  const char *path = scheme_end ? strchr(scheme_end + 3, '/') : NULL;
  if (!path) return QS_EINVAL;
  qs_subscriptions_t *s = calloc(1, sizeof *s);
  if (!s) return QS_ENOMEM;
  s->hub_path_len = strcspn(path, "?#");
  s->hub_path = qs_slice_strdup(qs_slice(path, s->hub_path_len));
  if (!s->hub_path || pthread_mutex_init(&s->mutex, NULL) != 0) {
    free(s->hub_path);
    free(s);
    return QS_ENOMEM;
  }
  qs_map_init(&s->by_hub_id);
  qs_map_init(&s->by_subscriber);
  qs_map_init(&s->observed);
  *out = s;
  return 0;
}

static void record_free(record_t *r) {
  for (size_t i = 0; i < r->entry_count; i++) {
    entry_t *e = &r->entries[i];
    free(e->match);
    free(e->payload);
    free(e->topic);
    free(e->doc);
  }
  free(r);
}

void qs_subscriptions_destroy(qs_subscriptions_t *s) {
  if (!s) return;
  while (s->head) {
    record_t *r = s->head;
    s->head = r->next;
    record_free(r);
  }
  while (s->observed_head) {
    observed_t *o = s->observed_head;
    s->observed_head = o->next;
    free(o->match);
    free(o->subscriber);
    free(o->topic);
    free(o->doc);
    free(o);
  }
  qs_map_dispose(&s->observed);
  free(s->observed_id);
  qs_map_dispose(&s->by_hub_id);
  qs_map_dispose(&s->by_subscriber);
  pthread_mutex_destroy(&s->mutex);
  free(s->hub_path);
  free(s);
}

qs_subscriptions_t *qs_subscriptions_of(qs_hub_t *hub) {
  const qs_hub_settings_t *settings = qs_hub_settings(hub);
  return settings->on_subscription == qs_subscriptions_on_subscription ? settings->on_subscription_ctx : NULL;
}

/* ---- Topics and documents ---- */

int qs_subscriptions_encode(qs_slice_t in, qs_buf_t *out) {
  static const char hex[] = "0123456789ABCDEF";
  char chunk[256];
  size_t n = 0;
  for (size_t i = 0; i < in.len; i++) {
    unsigned char c = (unsigned char)in.ptr[i];
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (n + 3 > sizeof chunk) {
      int rc = qs_buf_append(out, chunk, n);
      if (rc < 0) return rc;
      n = 0;
    }
    if (unreserved) {
      chunk[n++] = (char)c;
    } else {
      chunk[n++] = '%';
      chunk[n++] = hex[c >> 4];
      chunk[n++] = hex[c & 15];
    }
  }
  return n ? qs_buf_append(out, chunk, n) : qs_buf_append(out, "", 0);
}

int qs_subscriptions_topic(const qs_subscriptions_t *s, qs_match_type_t type, qs_slice_t match,
                           qs_slice_t subscriber, qs_buf_t *out) {
  int rc = qs_buf_append(out, s->hub_path, s->hub_path_len);
  if (rc == 0) rc = qs_buf_append_cstr(out, "/subscriptions/");
  /* §Subscription Events: {match_type}/{match}/{subscriber}; legacy (0.x and
   * the reference hub's compatibility mode): {topic}/{subscriber}. */
  if (rc == 0 && type != QS_MATCH_LEGACY) {
    rc = qs_subscriptions_encode(qs_slice_from_cstr(qs_match_type_name(type)), out);
    if (rc == 0) rc = qs_buf_append(out, "/", 1);
  }
  if (rc == 0) rc = qs_subscriptions_encode(match, out);
  if (rc == 0) rc = qs_buf_append(out, "/", 1);
  if (rc == 0) rc = qs_subscriptions_encode(subscriber, out);
  return rc;
}

/* Sets `key` to a new string; false when it is not valid UTF-8 or out of memory. */
static bool set_string(json_t *obj, const char *key, qs_slice_t value) {
  json_t *str = json_stringn(value.ptr ? value.ptr : "", value.len);
  return str && json_object_set_new(obj, key, str) == 0;
}

char *qs_subscriptions_document(qs_slice_t topic, qs_match_type_t type, qs_slice_t match,
                                qs_slice_t subscriber, bool active, qs_slice_t payload_json) {
  json_t *doc = json_object();
  if (!doc) return NULL;
  bool ok = set_string(doc, "id", topic) && set_string(doc, "type", qs_slice_from_cstr("subscription"));
  if (type == QS_MATCH_LEGACY) {
    ok = ok && set_string(doc, "subscriber", subscriber) && set_string(doc, "topic", match);
  } else {
    ok = ok && set_string(doc, "match_type", qs_slice_from_cstr(qs_match_type_name(type))) &&
         set_string(doc, "match", match) && set_string(doc, "subscriber", subscriber);
  }
  ok = ok && json_object_set_new(doc, "active", json_boolean(active)) == 0;
  if (ok && payload_json.len > 0) {
    /* §Payloads: the detail's payload, as the token carried it. */
    json_t *payload = json_loadb(payload_json.ptr, payload_json.len, JSON_DECODE_ANY, NULL);
    if (payload) ok = json_object_set_new(doc, "payload", payload) == 0;
  }
  char *text = ok ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(doc);
  return text;
}

/* ---- Events ---- */

static void on_event_published(void *ctx, qs_update_t *update, int status) {
  (void)ctx;
  if (status < 0)
    QS_LOG_ERROR("subscription event %.*s not stored: %s", (int)update->id.len, update->id.ptr,
                 qs_strerror(status));
}

/* A private update on `topic` carrying `doc`, with SSE event type `mercure`
 * (§Subscription Events). Legacy-form events (of `topic=` subscriptions) have
 * no event type, as the 0.x hub sent them: its presence clients listen with
 * `onmessage`. NULL when out of memory. */
static qs_update_t *make_event(qs_slice_t topic, qs_slice_t doc, bool legacy) {
  char id[QS_UUID_URN_LEN + 1];
  qs_uuid_v7_urn(id);
  qs_update_fields_t fields = {.id = qs_slice_from_cstr(id),
                               .topics = &topic,
                               .topic_count = 1,
                               .type = qs_slice_from_cstr(legacy ? "" : "mercure"),
                               .data = doc,
                               .is_private = true};
  return qs_update_create(&fields, qs_clock_wall_ms());
}

/* Publishes one event; must hold the registry's mutex. True when sequenced. */
static bool publish_locked(qs_subscriptions_t *s, qs_hub_shard_t *shard, qs_update_t *update) {
  int rc = qs_hub_publish(shard, update, on_event_published, NULL);
  if (rc < 0) {
    /* A closing shard (shutdown) refuses publishes: the ends are announced
     * at the next start (qs_subscriptions_recover). */
    if (rc != QS_ECLOSED) QS_LOG_ERROR("subscription event not published: %s", qs_strerror(rc));
    return false;
  }
  s->last_event_seq = update->seq;
  return true;
}

static qs_slice_t hub_id_key(const uint64_t *id) { return qs_slice((const char *)id, sizeof *id); }

/* Builds the record of a starting connection and its events (outside the mutex). */
static record_t *build_record(qs_subscriptions_t *s, qs_subscriber_t *sub, qs_update_t **events) {
  size_t n = qs_hub_subscriber_matcher_count(sub);
  record_t *r = calloc(1, sizeof *r + n * sizeof(entry_t));
  if (!r) return NULL;
  r->hub_id = qs_hub_subscriber_id(sub);
  /* §Subscription Events: a random identifier per connection, never from the
   * client. With a shared transport its first 8 hex digits name the node
   * (the other 90 bits stay random), so that another node can end it when
   * this one is gone. */
  qs_uuid_v4_urn(r->subscriber);
  if (s->shared) memcpy(r->subscriber + 9, s->node, 8);
  r->entry_count = n;
  qs_slice_t subscriber = qs_slice_from_cstr(r->subscriber);
  const qs_grants_t *grants = qs_hub_subscriber_grants(sub);
  qs_buf_t topic;
  qs_buf_init(&topic, TOPIC_MAX_BYTES);
  for (size_t i = 0; i < n; i++) {
    entry_t *e = &r->entries[i];
    events[i] = NULL;
    const qs_matcher_t *m = qs_hub_subscriber_matcher(sub, i);
    qs_slice_t match = qs_matcher_pattern(m);
    qs_slice_t payload = qs_grants_payload_for(grants, match);
    e->type = qs_matcher_type(m);
    e->match = qs_slice_strdup(match);
    e->match_len = match.len;
    if (payload.len) {
      e->payload = qs_slice_strdup(payload);
      e->payload_len = e->payload ? payload.len : 0;
    }
    qs_buf_reset(&topic);
    if (!e->match || qs_subscriptions_topic(s, e->type, match, subscriber, &topic) < 0) continue;
    e->topic = qs_slice_strdup(qs_buf_slice(&topic));
    e->topic_len = topic.len;
    e->doc = qs_subscriptions_document(qs_buf_slice(&topic), e->type, match, subscriber, true, payload);
    if (!e->topic || !e->doc) continue;
    e->doc_len = strlen(e->doc);
    events[i] = make_event(qs_slice(e->topic, e->topic_len), qs_slice(e->doc, e->doc_len),
                           e->type == QS_MATCH_LEGACY);
  }
  qs_buf_dispose(&topic);
  return r;
}

static void list_insert(qs_subscriptions_t *s, record_t *r) {
  r->prev = s->tail;
  r->next = NULL;
  if (s->tail)
    s->tail->next = r;
  else
    s->head = r;
  s->tail = r;
}

static void list_remove(qs_subscriptions_t *s, record_t *r) {
  if (r->prev)
    r->prev->next = r->next;
  else
    s->head = r->next;
  if (r->next)
    r->next->prev = r->prev;
  else
    s->tail = r->prev;
}

static void on_start(qs_subscriptions_t *s, qs_subscriber_t *sub) {
  size_t n = qs_hub_subscriber_matcher_count(sub);
  qs_update_t *stack_events[16];
  qs_update_t **events = n <= 16 ? stack_events : calloc(n, sizeof *events);
  record_t *r = events ? build_record(s, sub, events) : NULL;
  if (!r) {
    QS_LOG_ERROR("out of memory: subscription events of subscriber %" PRIu64 " not published",
                 qs_hub_subscriber_id(sub));
    if (events != stack_events) free(events);
    return;
  }
  size_t listed = 0;
  pthread_mutex_lock(&s->mutex);
  /* The events and the registry change together, under the mutex, so any
   * snapshot sees the registry exactly as the events sequenced so far say. */
  for (size_t i = 0; i < n; i++) {
    r->entries[i].listed = events[i] && publish_locked(s, qs_hub_subscriber_shard(sub), events[i]);
    if (r->entries[i].listed) listed++;
  }
  bool kept = false;
  if (listed) {
    uint64_t key = r->hub_id;
    if (qs_map_put(&s->by_hub_id, hub_id_key(&key), r) == 0) {
      if (qs_map_put(&s->by_subscriber, qs_slice_from_cstr(r->subscriber), r) == 0) {
        list_insert(s, r);
        s->listed += listed;
        kept = true;
      } else {
        qs_map_remove(&s->by_hub_id, hub_id_key(&key));
      }
    }
    if (!kept) QS_LOG_ERROR("out of memory: subscriber %" PRIu64 " published but not listed", r->hub_id);
  }
  pthread_mutex_unlock(&s->mutex);
  for (size_t i = 0; i < n; i++)
    if (events[i]) qs_update_release(events[i]);
  if (events != stack_events) free(events);
  if (!kept) record_free(r);
}

static void on_end(qs_subscriptions_t *s, qs_subscriber_t *sub) {
  uint64_t key = qs_hub_subscriber_id(sub);
  pthread_mutex_lock(&s->mutex);
  record_t *r = qs_map_get(&s->by_hub_id, hub_id_key(&key));
  pthread_mutex_unlock(&s->mutex);
  if (!r) return;
  /* Only this subscriber's end removes its record, and only here, on its
   * shard: it can be read without the mutex while the events are built. */
  size_t n = r->entry_count;
  qs_update_t *stack_events[16];
  qs_update_t **events = n <= 16 ? stack_events : calloc(n, sizeof *events);
  qs_slice_t subscriber = qs_slice_from_cstr(r->subscriber);
  for (size_t i = 0; events && i < n; i++) {
    entry_t *e = &r->entries[i];
    events[i] = NULL;
    if (!e->listed) continue;
    char *doc =
        qs_subscriptions_document(qs_slice(e->topic, e->topic_len), e->type, qs_slice(e->match, e->match_len),
                                  subscriber, false, qs_slice(e->payload, e->payload_len));
    if (doc)
      events[i] =
          make_event(qs_slice(e->topic, e->topic_len), qs_slice_from_cstr(doc), e->type == QS_MATCH_LEGACY);
    free(doc);
    if (!events[i]) QS_LOG_ERROR("out of memory: end of subscription %" PRIu64 " not published", r->hub_id);
  }
  pthread_mutex_lock(&s->mutex);
  for (size_t i = 0; events && i < n; i++)
    if (events[i]) publish_locked(s, qs_hub_subscriber_shard(sub), events[i]);
  qs_map_remove(&s->by_hub_id, hub_id_key(&key));
  qs_map_remove(&s->by_subscriber, subscriber);
  list_remove(s, r);
  for (size_t i = 0; i < n; i++)
    if (r->entries[i].listed) s->listed--;
  pthread_mutex_unlock(&s->mutex);
  for (size_t i = 0; events && i < n; i++)
    if (events[i]) qs_update_release(events[i]);
  if (events != stack_events) free(events);
  record_free(r);
}

void qs_subscriptions_on_subscription(void *ctx, qs_subscriber_t *sub, bool active) {
  if (active)
    on_start(ctx, sub);
  else
    on_end(ctx, sub);
}

/* ---- Every node's subscriptions (shared transport) ---- */

static void observed_free(observed_t *o) {
  free(o->match);
  free(o->subscriber);
  free(o->topic);
  free(o->doc);
  free(o);
}

static void observed_unlink(qs_subscriptions_t *s, observed_t *o) {
  if (o->prev)
    o->prev->next = o->next;
  else
    s->observed_head = o->next;
  if (o->next)
    o->next->prev = o->prev;
  else
    s->observed_tail = o->prev;
}

static char *json_string_copy(json_t *doc, const char *key) {
  json_t *v = json_object_get(doc, key);
  return json_is_string(v) ? qs_slice_strdup(qs_slice(json_string_value(v), json_string_length(v))) : NULL;
}

/* Records a start event, or forgets the subscription an end event names
 * (must hold the mutex). */
static void observe_event(qs_subscriptions_t *s, const qs_update_t *u) {
  json_t *doc = json_loadb(u->data.ptr, u->data.len, 0, NULL);
  json_t *active = doc ? json_object_get(doc, "active") : NULL;
  if (!json_is_boolean(active)) {
    json_decref(doc);
    return;
  }
  observed_t *old = qs_map_remove(&s->observed, u->topics[0]);
  if (old) {
    observed_unlink(s, old);
    observed_free(old);
  }
  if (json_is_true(active)) {
    observed_t *o = calloc(1, sizeof *o);
    json_t *type_name = json_object_get(doc, "match_type");
    if (o) {
      o->type = QS_MATCH_LEGACY;
      if (json_is_string(type_name) &&
          qs_match_type_parse(qs_slice_from_cstr(json_string_value(type_name)), &o->type) != 0)
        o->type = QS_MATCH_EXACT;
      o->match = json_string_copy(doc, o->type == QS_MATCH_LEGACY ? "topic" : "match");
      o->subscriber = json_string_copy(doc, "subscriber");
      o->topic = qs_slice_strdup(u->topics[0]);
      o->doc = qs_slice_strdup(u->data);
      o->doc_len = u->data.len;
    }
    if (!o || !o->match || !o->subscriber || !o->topic || !o->doc ||
        qs_map_put(&s->observed, u->topics[0], o) != 0) {
      QS_LOG_ERROR("out of memory: a subscription of another node is not listed");
      if (o) observed_free(o);
    } else {
      o->prev = s->observed_tail;
      if (s->observed_tail)
        s->observed_tail->next = o;
      else
        s->observed_head = o;
      s->observed_tail = o;
    }
  }
  json_decref(doc);
}

void qs_subscriptions_on_update(void *ctx, const qs_update_t *update) {
  qs_subscriptions_observe(ctx, update);
}

void qs_subscriptions_observe(qs_subscriptions_t *s, const qs_update_t *update) {
  if (!s || !s->shared) return;
  size_t prefix = s->hub_path_len + sizeof "/subscriptions/" - 1;
  pthread_mutex_lock(&s->mutex);
  if (update->id.len + 1 > s->observed_id_cap) {
    char *id = realloc(s->observed_id, update->id.len + 1);
    if (id) {
      s->observed_id = id;
      s->observed_id_cap = update->id.len + 1;
    }
  }
  if (s->observed_id && update->id.len + 1 <= s->observed_id_cap) {
    memcpy(s->observed_id, update->id.ptr, update->id.len);
    s->observed_id[update->id.len] = '\0';
  }
  /* Publishers cannot publish in the reserved namespace: the prefix alone
   * identifies the hub's own events. */
  if (update->topic_count > 0 && update->topics[0].len > prefix &&
      memcmp(update->topics[0].ptr, s->hub_path, s->hub_path_len) == 0 &&
      memcmp(update->topics[0].ptr + s->hub_path_len, "/subscriptions/", prefix - s->hub_path_len) == 0)
    observe_event(s, update);
  pthread_mutex_unlock(&s->mutex);
}

static void on_end_published(void *ctx, qs_update_t *update, int status) {
  (void)ctx;
  if (status < 0)
    QS_LOG_ERROR("end of subscription %.*s of a gone node not stored: %s", (int)update->topics[0].len,
                 update->topics[0].ptr, qs_strerror(status));
}

/* The store says `node` is gone (on this node only): its subscriptions end. */
static void on_node_gone(void *ctx, const char *node) {
  qs_subscriptions_t *s = ctx;
  size_t ended = 0;
  pthread_mutex_lock(&s->mutex);
  for (observed_t *o = s->observed_head; o; o = o->next) {
    if (strlen(o->subscriber) < 17 || memcmp(o->subscriber + 9, node, 8) != 0) continue;
    json_t *doc = json_loadb(o->doc, o->doc_len, 0, NULL);
    if (doc) json_object_set_new(doc, "active", json_false());
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    qs_update_t *u =
        text ? make_event(qs_slice_from_cstr(o->topic), qs_slice_from_cstr(text), o->type == QS_MATCH_LEGACY)
             : NULL;
    free(text);
    /* Listed until the end event comes back through the shared order, as on
     * every other node. */
    if (u && qs_store_publish(s->store, u, on_end_published, NULL) == 0) ended++;
    qs_update_release(u);
  }
  pthread_mutex_unlock(&s->mutex);
  if (ended) QS_LOG_INFO("subscriptions: %zu of gone node %s marked inactive", ended, node);
}

void qs_subscriptions_share(qs_subscriptions_t *s) {
  char urn[QS_UUID_URN_LEN + 1];
  qs_uuid_v4_urn(urn);
  memcpy(s->node, urn + 9, 8);
  s->node[8] = '\0';
  s->shared = true;
}

int qs_subscriptions_watch_nodes(qs_subscriptions_t *s, qs_hub_t *hub) {
  if (!s->shared) return QS_EINVAL;
  s->store = qs_hub_store(hub);
  return qs_store_watch_nodes(s->store, s->node, on_node_gone, s);
}

static bool observed_selected(const observed_t *o, const qs_subscriptions_query_t *q) {
  if (q->scope == QS_SUBSCRIPTIONS_ALL) return true;
  if (o->type != q->type || !qs_slice_eq_cstr(q->match, o->match)) return false;
  return q->scope == QS_SUBSCRIPTIONS_MATCH || qs_slice_eq_cstr(q->subscriber, o->subscriber);
}

/* The snapshot of a shared registry: every node's subscriptions as the
 * shared order says up to the newest update read, which is the cursor
 * (must hold the mutex). */
static int snapshot_observed(qs_subscriptions_t *s, const qs_subscriptions_query_t *query, size_t max_docs,
                             qs_buf_t *docs, size_t *count, bool *truncated, qs_buf_t *cursor) {
  int rc = query->scope == QS_SUBSCRIPTIONS_ONE ? QS_ENOTFOUND : 0;
  for (observed_t *o = s->observed_head; o; o = o->next) {
    if (!observed_selected(o, query)) continue;
    if (query->scope == QS_SUBSCRIPTIONS_ONE) {
      rc = qs_buf_append(docs, o->doc, o->doc_len);
      if (rc == 0) *count = 1;
      break;
    }
    if (*count == max_docs || docs->len + 1 + o->doc_len > docs->max_bytes) {
      *truncated = true;
      break;
    }
    if (*count) rc = qs_buf_append(docs, ",", 1);
    if (rc == 0) rc = qs_buf_append(docs, o->doc, o->doc_len);
    if (rc < 0) break;
    (*count)++;
  }
  if (rc == 0 || rc == QS_ENOTFOUND) {
    int crc = s->observed_id && s->observed_id[0] ? qs_buf_append_cstr(cursor, s->observed_id)
                                                  : qs_buf_append_cstr(cursor, "earliest");
    if (crc < 0) rc = crc;
  }
  return rc;
}

/* ---- Snapshots ---- */

static bool entry_selected(const entry_t *e, const qs_subscriptions_query_t *q) {
  if (!e->listed) return false;
  if (q->scope == QS_SUBSCRIPTIONS_ALL) return true;
  return e->type == q->type && qs_slice_eq(qs_slice(e->match, e->match_len), q->match);
}

/* Writes the history's newest id, or `earliest`. */
static int read_cursor(qs_store_t *store, qs_buf_t *cursor) {
  char small[256];
  size_t len = qs_store_last_id(store, small, sizeof small);
  if (len == 0) return qs_buf_append_cstr(cursor, "earliest");
  if (len < sizeof small) return qs_buf_append(cursor, small, len);
  char *big = malloc(len + 1);
  if (!big) return QS_ENOMEM;
  /* Under the registry's mutex no subscription event is sequenced, but other
   * updates may be: a newer id is as good a cursor. */
  size_t again = qs_store_last_id(store, big, len + 1);
  int rc = qs_buf_append(cursor, big, again <= len ? again : len);
  free(big);
  return rc;
}

int qs_subscriptions_snapshot(qs_subscriptions_t *s, qs_hub_t *hub, const qs_subscriptions_query_t *query,
                              size_t max_docs, qs_buf_t *docs, size_t *count, bool *truncated,
                              qs_buf_t *cursor) {
  *count = 0;
  *truncated = false;
  int rc = 0;
  pthread_mutex_lock(&s->mutex);
  if (s->shared) {
    rc = snapshot_observed(s, query, max_docs, docs, count, truncated, cursor);
    pthread_mutex_unlock(&s->mutex);
    return rc;
  }
  /* §Subscription API, reconciliation: the cursor must cover every event the
   * registry reflects. Until the newest one is fanned out (LMDB commits in
   * groups), a subscriber resuming from the cursor could see it again. */
  if (qs_hub_fanned_seq(hub) < s->last_event_seq) {
    pthread_mutex_unlock(&s->mutex);
    return QS_EBUSY;
  }
  if (query->scope == QS_SUBSCRIPTIONS_ONE) {
    record_t *r = qs_map_get(&s->by_subscriber, query->subscriber);
    rc = QS_ENOTFOUND;
    for (size_t i = 0; r && i < r->entry_count; i++) {
      if (!entry_selected(&r->entries[i], query)) continue;
      rc = qs_buf_append(docs, r->entries[i].doc, r->entries[i].doc_len);
      if (rc == 0) *count = 1;
      break;
    }
  } else {
    for (record_t *r = s->head; r && rc == 0; r = r->next) {
      for (size_t i = 0; i < r->entry_count && rc == 0; i++) {
        const entry_t *e = &r->entries[i];
        if (!entry_selected(e, query)) continue;
        /* Past either cap the collection ends here (documents stay whole). */
        if (*count == max_docs || docs->len + 1 + e->doc_len > docs->max_bytes) {
          *truncated = true;
          break;
        }
        if (*count) rc = qs_buf_append(docs, ",", 1);
        if (rc == 0) rc = qs_buf_append(docs, e->doc, e->doc_len);
        if (rc == 0) (*count)++;
      }
      if (*truncated) break;
    }
  }
  if (rc == 0) rc = read_cursor(qs_hub_store(hub), cursor);
  pthread_mutex_unlock(&s->mutex);
  return rc;
}

size_t qs_subscriptions_count(qs_subscriptions_t *s) {
  pthread_mutex_lock(&s->mutex);
  size_t n = s->listed;
  pthread_mutex_unlock(&s->mutex);
  return n;
}

/* ---- Recovery at start-up ---- */

typedef struct {
  qs_slice_t prefix; /* "<hub path>/subscriptions/" */
  qs_map_t open;     /* topic -> json_t* (an `active: true` document without its end) */
} recover_ctx_t;

static bool on_recovered_update(void *ctx, qs_update_t *u) {
  recover_ctx_t *rc = ctx;
  /* Publishers cannot publish in the reserved namespace: the prefix alone
   * identifies the hub's own events (legacy ones have no event type). */
  if (u->topic_count == 0 || !qs_slice_starts_with(u->topics[0], rc->prefix)) return true;
  json_t *doc = json_loadb(u->data.ptr, u->data.len, 0, NULL);
  json_t *active = doc ? json_object_get(doc, "active") : NULL;
  if (!json_is_boolean(active)) {
    json_decref(doc);
    return true;
  }
  json_t *old = qs_map_remove(&rc->open, u->topics[0]);
  json_decref(old);
  if (json_is_true(active)) {
    if (qs_map_put(&rc->open, u->topics[0], doc) == 0) return true;
    QS_LOG_ERROR("out of memory while reading subscription events from history");
  }
  json_decref(doc);
  return true;
}

typedef struct {
  json_t **docs;
  size_t count;
} doc_list_t;

static void collect_doc(qs_slice_t key, void *value, void *ctx) {
  (void)key;
  doc_list_t *list = ctx;
  list->docs[list->count++] = value;
}

typedef struct {
  size_t outstanding;
  int failures;
} recover_acks_t;

static void on_recovery_published(void *ctx, qs_update_t *update, int status) {
  recover_acks_t *acks = ctx;
  acks->outstanding--;
  if (status < 0) acks->failures++;
  (void)update;
}

static void on_recovery_shard_closed(void *ctx) { *(bool *)ctx = true; }

int qs_subscriptions_recover(qs_subscriptions_t *s, qs_hub_t *hub, size_t *ended) {
  if (ended) *ended = 0;
  qs_buf_t prefix;
  qs_buf_init(&prefix, TOPIC_MAX_BYTES);
  int rc = qs_buf_append(&prefix, s->hub_path, s->hub_path_len);
  if (rc == 0) rc = qs_buf_append_cstr(&prefix, "/subscriptions/");
  recover_ctx_t ctx = {.prefix = qs_buf_slice(&prefix)};
  qs_map_init(&ctx.open);
  qs_store_t *store = qs_hub_store(hub);
  uint64_t last = qs_store_last_seq(store);
  if (rc == 0 && last > 0) {
    rc = qs_store_replay(store, qs_slice_from_cstr("earliest"), last, on_recovered_update, &ctx);
    if (rc == QS_ENOTFOUND) rc = 0;
  }
  doc_list_t list = {calloc(qs_map_count(&ctx.open) + 1, sizeof(json_t *)), 0};
  if (!list.docs && rc == 0) rc = QS_ENOMEM;
  if (list.docs) qs_map_each(&ctx.open, collect_doc, &list);
  qs_map_dispose(&ctx.open);
  qs_buf_dispose(&prefix);

  if (rc == 0 && list.count > 0) {
    /* A private loop and shard, before the workers' shards exist. */
    uv_loop_t loop;
    qs_hub_shard_t *shard = NULL;
    if (uv_loop_init(&loop) != 0) {
      rc = QS_EIO;
    } else {
      rc = qs_hub_shard_create(hub, &loop, &shard);
      recover_acks_t acks = {0};
      for (size_t i = 0; rc == 0 && i < list.count; i++) {
        json_t *id = json_object_get(list.docs[i], "id");
        json_object_set_new(list.docs[i], "active", json_false());
        char *doc = json_dumps(list.docs[i], JSON_COMPACT | JSON_PRESERVE_ORDER);
        qs_update_t *u =
            doc && json_is_string(id)
                ? make_event(qs_slice(json_string_value(id), json_string_length(id)), qs_slice_from_cstr(doc),
                             json_object_get(list.docs[i], "match_type") == NULL)
                : NULL;
        free(doc);
        if (!u) {
          rc = QS_ENOMEM;
          break;
        }
        int prc;
        while ((prc = qs_hub_publish(shard, u, on_recovery_published, &acks)) == QS_EFULL && acks.outstanding)
          uv_run(&loop, UV_RUN_ONCE); /* let the writer catch up */
        if (prc == 0) {
          acks.outstanding++;
          if (ended) (*ended)++;
        } else {
          rc = prc;
        }
        qs_update_release(u);
      }
      while (acks.outstanding > 0) uv_run(&loop, UV_RUN_ONCE);
      if (rc == 0 && acks.failures) rc = QS_EIO;
      if (shard) {
        bool closed = false;
        qs_hub_shard_close(shard, on_recovery_shard_closed, &closed);
        while (!closed) uv_run(&loop, UV_RUN_ONCE);
      }
      uv_loop_close(&loop);
    }
  }
  for (size_t i = 0; list.docs && i < list.count; i++) json_decref(list.docs[i]);
  free(list.docs);
  return rc;
}
