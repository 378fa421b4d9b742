#include "auth/claims.h"

#include <stdlib.h>

#include "base/error.h"

typedef struct {
  qs_grants_t *grants;
  qs_match_options_t match;
  const char *reason;
} builder_t;

static int fail(builder_t *b, int rc, const char *reason) {
  b->reason = reason;
  return rc;
}

static qs_slice_t string_slice(const json_t *s) {
  return qs_slice(json_string_value(s), json_string_length(s));
}

static int compile(builder_t *b, qs_match_type_t type, const json_t *pattern, qs_matcher_t **out) {
  if (json_string_length(pattern) > b->match.max_pattern_bytes)
    return fail(b, QS_ETOOBIG, "a topic matcher in the token is too long");
  const char *why = NULL;
  int rc = qs_matcher_create(type, string_slice(pattern), &b->match, out, &why);
  if (rc == QS_ENOMEM) return fail(b, rc, "out of memory");
  if (rc == QS_ETOOBIG) return fail(b, rc, "a topic matcher in the token is too long");
  if (rc == QS_EUNSUPPORTED) return fail(b, QS_EAUTH, "unsupported match_type in the token");
  if (rc) return fail(b, QS_EAUTH, "a topic matcher in the token is invalid");
  return 0;
}

/* Compact JSON text of any value; NULL when out of memory. */
static char *dump(const json_t *value) {
  return json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
}

/* Adds one grant for `pattern` to the publish or subscribe list. */
static int add_grant(builder_t *b, bool publish, qs_match_type_t type, const json_t *pattern,
                     const char *payload) {
  qs_matcher_t *matcher = NULL;
  int rc = compile(b, type, pattern, &matcher);
  if (rc) return rc;
  rc = publish ? qs_grants_add_publish(b->grants, matcher)
               : qs_grants_add_subscribe(b->grants, matcher, qs_slice_from_cstr(payload));
  return rc ? fail(b, rc, "out of memory") : 0;
}

/* Reads `match_type` of a topic matcher object; `fallback` when absent. */
static int topic_type(builder_t *b, const json_t *topic, qs_match_type_t fallback, qs_match_type_t *out) {
  const json_t *type = json_object_get(topic, "match_type");
  *out = fallback;
  if (!type) return 0;
  qs_match_type_t parsed;
  if (!json_is_string(type) || qs_match_type_parse(string_slice(type), &parsed) != 0 ||
      parsed == QS_MATCH_LEGACY)
    return fail(b, QS_EAUTH, "unsupported match_type in the token");
  *out = parsed;
  return 0;
}

/* A topic matcher object's `match`: a non-empty string. */
static const json_t *topic_match(builder_t *b, const json_t *topic) {
  const json_t *match = json_is_object(topic) ? json_object_get(topic, "match") : NULL;
  if (!json_is_string(match) || json_string_length(match) == 0) {
    fail(b, QS_EAUTH, "a topic matcher in the token has no match string");
    return NULL;
  }
  return match;
}

/* Mercure draft, Authorization Details: one detail of the Mercure type. */
static int read_detail(builder_t *b, const json_t *detail, size_t *topics_seen) {
  const json_t *actions = json_object_get(detail, "actions");
  const json_t *topics = json_object_get(detail, "topics");
  const json_t *payload = json_object_get(detail, "payload");
  if (!json_is_array(actions) || json_array_size(actions) == 0)
    return fail(b, QS_EAUTH, "an authorization detail has no actions");
  if (!json_is_array(topics) || json_array_size(topics) == 0)
    return fail(b, QS_EAUTH, "an authorization detail has no topics");
  bool publish = false, subscribe = false;
  size_t i;
  const json_t *value;
  json_array_foreach(actions, i, value) {
    if (!json_is_string(value)) return fail(b, QS_EAUTH, "an authorization detail action is not a string");
    if (qs_slice_eq_cstr(string_slice(value), "publish")) publish = true;
    if (qs_slice_eq_cstr(string_slice(value), "subscribe")) subscribe = true;
  }
  *topics_seen += json_array_size(topics);
  if (*topics_seen > QS_CLAIMS_MAX_DETAIL_TOPICS)
    return fail(b, QS_ETOOBIG, "too many topic matchers in the authorization details");
  char *payload_text = NULL;
  if (payload && subscribe && !(payload_text = dump(payload))) return fail(b, QS_ENOMEM, "out of memory");
  int rc = 0;
  json_array_foreach(topics, i, value) {
    const json_t *match = topic_match(b, value);
    qs_match_type_t type;
    if (!match) {
      rc = QS_EAUTH;
      break;
    }
    if ((rc = topic_type(b, value, QS_MATCH_EXACT, &type))) break;
    /* Every pattern is validated even when no known action uses it: a bad
     * Mercure detail invalidates the token. */
    if (!publish && !subscribe) {
      qs_matcher_t *probe = NULL;
      if ((rc = compile(b, type, match, &probe))) break;
      qs_matcher_destroy(probe);
    }
    if (publish && (rc = add_grant(b, true, type, match, NULL))) break;
    if (subscribe && (rc = add_grant(b, false, type, match, payload_text))) break;
  }
  free(payload_text);
  return rc;
}

static int read_details(builder_t *b, const json_t *details) {
  if (!json_is_array(details)) return fail(b, QS_EAUTH, "authorization_details is not an array");
  size_t mercure_details = 0, topics_seen = 0, i;
  const json_t *detail;
  json_array_foreach(details, i, detail) {
    /* RFC 9396 §2: every element is an object with a `type`. */
    if (!json_is_object(detail)) return fail(b, QS_EAUTH, "an authorization detail is not an object");
    const json_t *type = json_object_get(detail, "type");
    if (!json_is_string(type) || !qs_slice_eq_cstr(string_slice(type), QS_CLAIMS_DETAIL_TYPE)) continue;
    if (++mercure_details > QS_CLAIMS_MAX_DETAILS)
      return fail(b, QS_ETOOBIG, "too many Mercure authorization details");
    int rc = read_detail(b, detail, &topics_seen);
    if (rc) return rc;
  }
  return 0;
}

/* Legacy `mercure.publish` / `mercure.subscribe`: absent or null grants nothing. */
static int read_legacy_list(builder_t *b, const json_t *list, bool publish) {
  if (!list || json_is_null(list)) return 0;
  if (!json_is_array(list)) return fail(b, QS_EAUTH, "a mercure claim list is not an array");
  if (json_array_size(list) > QS_CLAIMS_MAX_LEGACY_ENTRIES)
    return fail(b, QS_ETOOBIG, "too many entries in a mercure claim list");
  size_t i;
  const json_t *entry;
  json_array_foreach(list, i, entry) {
    int rc;
    if (json_is_string(entry)) {
      rc = add_grant(b, publish, QS_MATCH_LEGACY, entry, NULL);
    } else if (json_is_object(entry)) {
      const json_t *match = topic_match(b, entry);
      qs_match_type_t type;
      if (!match) return QS_EAUTH;
      if ((rc = topic_type(b, entry, QS_MATCH_LEGACY, &type))) return rc;
      const json_t *payload = json_object_get(entry, "payload");
      char *payload_text = NULL;
      if (payload && !publish && !(payload_text = dump(payload))) return fail(b, QS_ENOMEM, "out of memory");
      rc = add_grant(b, publish, type, match, payload_text);
      free(payload_text);
    } else {
      rc = fail(b, QS_EAUTH, "a mercure claim entry is neither a string nor an object");
    }
    if (rc) return rc;
  }
  return 0;
}

static int read_legacy(builder_t *b, const json_t *claim) {
  if (json_is_null(claim)) return 0;
  if (!json_is_object(claim)) return fail(b, QS_EAUTH, "the mercure claim is not an object");
  b->grants->legacy = true;
  int rc = read_legacy_list(b, json_object_get(claim, "publish"), true);
  if (!rc) rc = read_legacy_list(b, json_object_get(claim, "subscribe"), false);
  if (rc) return rc;
  const json_t *payload = json_object_get(claim, "payload");
  if (payload) {
    char *text = dump(payload);
    if (!text) return fail(b, QS_ENOMEM, "out of memory");
    rc = qs_grants_set_text(b->grants, &b->grants->legacy_payload_json, qs_slice_from_cstr(text));
    free(text);
    if (rc) return fail(b, rc, "out of memory");
  }
  return 0;
}

int qs_grants_from_claims(const json_t *claims, bool accept_legacy, const qs_match_options_t *match,
                          qs_grants_t **out, const char **reason) {
  *out = NULL;
  builder_t b = {.match = *match};
  if (b.match.max_pattern_bytes == 0 || b.match.max_pattern_bytes > QS_CLAIMS_MAX_PATTERN_BYTES)
    b.match.max_pattern_bytes = QS_CLAIMS_MAX_PATTERN_BYTES;
  if (!(b.grants = qs_grants_create_empty())) {
    *reason = "out of memory";
    return QS_ENOMEM;
  }
  int rc = 0;
  const json_t *details = json_object_get(claims, "authorization_details");
  if (details) {
    rc = read_details(&b, details);
  } else if (accept_legacy) {
    /* Legacy hub: the namespaced claim wins over the short one. */
    const json_t *claim = json_object_get(claims, "https://mercure.rocks/");
    if (!claim) claim = json_object_get(claims, "mercure");
    if (claim) rc = read_legacy(&b, claim);
  }
  if (rc) {
    qs_grants_release(b.grants);
    *reason = b.reason;
    return rc;
  }
  *out = b.grants;
  return 0;
}
