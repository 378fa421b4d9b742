/* Topic matchers: the compiled form of a subscriber's selector or of a token
 * grant. Immutable after creation and safe to test from any thread. */
#ifndef QS_MATCH_MATCHER_H
#define QS_MATCH_MATCHER_H

#include <stdbool.h>

#include "base/slice.h"

typedef enum {
  QS_MATCH_EXACT,      /* draft-08 `exact`: byte-for-byte */
  QS_MATCH_URLPATTERN, /* draft-08 `urlpattern`: WHATWG URL Pattern against the hub URL */
  QS_MATCH_LEGACY,     /* legacy `topic=` / `mercure` claim selector: exact, or RFC 6570 URI Template */
} qs_match_type_t;

typedef struct qs_matcher qs_matcher_t;

/* Settings shared by every matcher of a hub. */
typedef struct {
  qs_slice_t hub_url;       /* absolute URL of the hub, the base for relative urlpatterns/topics */
  size_t max_pattern_bytes; /* longer patterns are refused */
} qs_match_options_t;

/* The canonical lowercase name of `type` ("exact", "urlpattern", "topic" for legacy). */
const char *qs_match_type_name(qs_match_type_t type);

/* Parses a draft-08 matcher type name ("exact", "urlpattern"); -1 when unsupported. */
int qs_match_type_parse(qs_slice_t name, qs_match_type_t *out);

/* Compiles `pattern` (copied). `*` is the wildcard under every type. Returns 0,
 * QS_ETOOBIG past max_pattern_bytes, or QS_EPARSE for a pattern invalid for its
 * type (forbidden characters included), with `*reason` set to a static,
 * user-safe explanation. The caller destroys the matcher. */
int qs_matcher_create(qs_match_type_t type, qs_slice_t pattern, const qs_match_options_t *options,
                      qs_matcher_t **out, const char **reason);

/* Frees a matcher (NULL is fine). URL patterns and URI templates are
 * interned: creating the same (type, hub URL, pattern) again returns the
 * same compiled matcher with one more reference, and destroy drops one. */
void qs_matcher_destroy(qs_matcher_t *matcher);

/* True when the matcher selects `topic`. A pattern that reaches its
 * evaluation limit does not match. */
bool qs_matcher_match(const qs_matcher_t *matcher, qs_slice_t topic);

/* True for the `*` wildcard. */
bool qs_matcher_is_wildcard(const qs_matcher_t *matcher);

/* True when the matcher is an exact string (no pattern syntax): its topic
 * can be looked up by hash instead of tested. */
bool qs_matcher_is_exact(const qs_matcher_t *matcher);

/* The matcher's type and its pattern as given (borrowed, lives as long as the matcher). */
qs_match_type_t qs_matcher_type(const qs_matcher_t *matcher);
qs_slice_t qs_matcher_pattern(const qs_matcher_t *matcher);

/* The literal string every topic this matcher selects starts with, so a topic
 * index can bucket matchers by prefix: the whole pattern for an exact matcher,
 * the text before the first expression of a legacy URI Template, and empty
 * when unknown (the wildcard, URL patterns, whose topics are compared after
 * URL parsing). Borrowed; lives as long as the matcher. */
qs_slice_t qs_matcher_literal_prefix(const qs_matcher_t *matcher);

/* ---- Indexing URL patterns (additive) ---- */

struct qs_url;

/* What every topic a URL pattern matcher selects satisfies once parsed with
 * qs_url_parse against `base` (the hub URL the matcher was created with):
 * its scheme, host ("" when null) and port (decimal, "" when null or the
 * default) equal these, and its path starts with path_prefix (possibly
 * empty). Slices borrow the matcher. */
typedef struct {
  qs_slice_t base;
  qs_slice_t scheme, host, port;
  qs_slice_t path_prefix;
} qs_matcher_url_key_t;

/* Fills `*out` and returns true for a URL pattern matcher whose protocol,
 * hostname and port are fixed strings; false ("unindexable": test it on
 * every topic) otherwise, including every other matcher type. */
bool qs_matcher_url_key(const qs_matcher_t *matcher, qs_matcher_url_key_t *out);

/* The hub URL a URL pattern matcher resolves topics against ("" for other
 * types). Borrowed. */
qs_slice_t qs_matcher_base_url(const qs_matcher_t *matcher);

/* qs_matcher_match(matcher, topic) for a URL pattern matcher, given the
 * topic already parsed by qs_url_parse against qs_matcher_base_url(matcher)
 * (`url` NULL when that parse failed: no match); other matchers ignore `url`
 * and test `topic`. */
bool qs_matcher_match_url(const qs_matcher_t *matcher, qs_slice_t topic, const struct qs_url *url);

/* How many holders share this matcher (URL patterns and URI templates with
 * the same type, hub URL and pattern are compiled once; see
 * qs_matcher_create). For tests and statistics. */
size_t qs_matcher_shared_count(const qs_matcher_t *matcher);

#endif
