/* Grants: what a verified token allows, computed once per token and shared
 * (reference-counted, immutable) by every connection that presented it. */
#ifndef QS_AUTH_GRANTS_H
#define QS_AUTH_GRANTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"
#include "match/matcher.h"

/* One `subscribe` grant: a matcher and the payload of the authorization detail
 * it came from (JSON text, or an empty slice when the detail has none). */
typedef struct {
  qs_matcher_t *matcher;
  qs_slice_t payload_json;
} qs_subscribe_grant_t;

typedef struct qs_grants {
  atomic_uint refs;
  bool legacy;            /* the grants came from the legacy `mercure` claim */
  qs_matcher_t **publish; /* publish matchers */
  size_t publish_count;
  qs_subscribe_grant_t *subscribe; /* subscribe grants, in token order */
  size_t subscribe_count;
  qs_slice_t legacy_payload_json; /* legacy `mercure.payload`, empty when absent */
  int64_t expires_ms;             /* token `exp` in ms, 0 when the token has none */
  qs_slice_t subject;             /* `sub`, empty when absent */
  qs_slice_t issuer;              /* `iss`, empty when absent */
  /* The SHA-256 of a token without `sub` (QS_GRANTS_DIGEST_BYTES, owned): it
   * is then its own principal for max_connections_per_subject. NULL for a
   * token with `sub`, and for anonymous grants. */
  unsigned char *token_digest;
} qs_grants_t;

#define QS_GRANTS_DIGEST_BYTES 32

/* Grants that allow nothing (anonymous subscribers); one reference. NULL when out of memory. */
qs_grants_t *qs_grants_create_empty(void);

/* Takes one more reference; returns `g`. */
static inline qs_grants_t *qs_grants_retain(qs_grants_t *g) {
  atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
  return g;
}

/* Drops a reference; frees the grants and their matchers with the last one. NULL is fine. */
void qs_grants_release(qs_grants_t *g);

/* Mercure draft, Publishers: true when every topic is matched by some publish grant.
 * False when `topic_count` is 0 (nothing to authorize is not an authorization). */
bool qs_grants_can_publish(const qs_grants_t *g, const qs_slice_t *topics, size_t topic_count);

/* The grant that decides a publish to `topic`: true with `*index` the first
 * publish grant whose matcher accepts it, false when none does. */
bool qs_grants_publish_grant_for(const qs_grants_t *g, qs_slice_t topic, size_t *index);

/* The first topic a publish is refused for: true with `*index` the position in
 * `topics` of the first topic no publish grant matches; false when every topic
 * is granted (or there is none). */
bool qs_grants_first_unpublishable(const qs_grants_t *g, const qs_slice_t *topics, size_t topic_count,
                                   size_t *index);

/* The grant that lets a subscriber receive the private updates of `topic`:
 * true with `*index` the first subscribe grant whose matcher accepts it. */
bool qs_grants_subscribe_grant_for(const qs_grants_t *g, qs_slice_t topic, size_t *index);

/* Mercure draft, Subscribers: true when some subscribe grant matches at least
 * one of the topics (the rule for delivering a private update). */
bool qs_grants_can_receive(const qs_grants_t *g, const qs_slice_t *topics, size_t topic_count);

/* Mercure draft, Payloads: the payload of the first subscribe grant whose
 * matcher accepts `match` (a subscription's selector taken as a topic); falls
 * back to the legacy payload for legacy grants; empty when none. */
qs_slice_t qs_grants_payload_for(const qs_grants_t *g, qs_slice_t match);

/* Building grants (auth/ and tests). Every field of a qs_grants_t is owned by
 * it: matchers, payload and subject/issuer bytes are freed with the last
 * reference. Grants must not change once shared. */

/* Appends a publish grant; takes ownership of `matcher` even on failure.
 * Returns 0 or QS_ENOMEM. */
int qs_grants_add_publish(qs_grants_t *g, qs_matcher_t *matcher);

/* Appends a subscribe grant with `payload_json` (copied; empty for none);
 * takes ownership of `matcher` even on failure. Returns 0 or QS_ENOMEM. */
int qs_grants_add_subscribe(qs_grants_t *g, qs_matcher_t *matcher, qs_slice_t payload_json);

/* Replaces one of the owned text fields (`legacy_payload_json`, `subject`,
 * `issuer`) of `g` with a copy of `value`. Returns 0 or QS_ENOMEM. */
int qs_grants_set_text(qs_grants_t *g, qs_slice_t *field, qs_slice_t value);

#endif
