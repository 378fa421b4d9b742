/* Topic matchers (requirements-digest 1.3 and 2.3). */
#include "match/matcher.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/map.h"
#include "base/text.h"
#include "match/uritemplate.h"
#include "match/url.h"
#include "match/urlpattern.h"

struct qs_matcher {
  /* URL patterns and URI templates are interned: one compiled matcher per
   * (type, hub URL, pattern), shared by every subscriber and grant that uses
   * it, freed with its last reference. */
  atomic_uint refs;
  bool interned; /* in the intern table (its key is recomputed from the fields below) */
  qs_match_type_t type;
  char *pattern; /* owned copy, NUL-terminated */
  size_t pattern_len;
  bool wildcard;
  bool exact;                    /* matched by byte comparison only */
  qs_uritemplate_t *uritemplate; /* QS_MATCH_LEGACY with a valid template */
  qs_urlpattern_t *urlpattern;   /* QS_MATCH_URLPATTERN */
  char *hub_url;                 /* owned copy of options->hub_url (URL patterns only) */
  size_t hub_url_len;
};

const char *qs_match_type_name(qs_match_type_t type) {
  switch (type) {
    case QS_MATCH_EXACT:
      return "exact";
    case QS_MATCH_URLPATTERN:
      return "urlpattern";
    case QS_MATCH_LEGACY:
      return "topic";
  }
  return "unknown";
}

/* draft-08 §Matcher Types: the type names are the canonical lowercase ones;
 * `match_URLPattern` and friends are not aliases. */
int qs_match_type_parse(qs_slice_t name, qs_match_type_t *out) {
  if (qs_slice_eq_cstr(name, "exact")) {
    *out = QS_MATCH_EXACT;
    return 0;
  }
  if (qs_slice_eq_cstr(name, "urlpattern")) {
    *out = QS_MATCH_URLPATTERN;
    return 0;
  }
  return -1;
}

static qs_slice_t hub_url_of(const qs_match_options_t *options) {
  return options ? options->hub_url : (qs_slice_t){NULL, 0};
}

/* ---- Interning ---- */

static pthread_mutex_t intern_mutex = PTHREAD_MUTEX_INITIALIZER;
static qs_map_t intern_table; /* key -> qs_matcher_t*; zero-initialized is an empty map */

/* The intern key of (type, hub URL, pattern) in a new allocation. */
static char *intern_key_make(qs_match_type_t type, qs_slice_t hub, qs_slice_t pattern, size_t *len) {
  *len = 1 + sizeof(size_t) + hub.len + pattern.len;
  char *key = malloc(*len);
  if (!key) return NULL;
  key[0] = (char)type;
  memcpy(key + 1, &hub.len, sizeof(size_t));
  if (hub.len) memcpy(key + 1 + sizeof(size_t), hub.ptr, hub.len);
  if (pattern.len) memcpy(key + 1 + sizeof(size_t) + hub.len, pattern.ptr, pattern.len);
  return key;
}

/* The interned matcher under `key` with one more reference, or NULL. */
static qs_matcher_t *intern_get(const char *key, size_t len) {
  pthread_mutex_lock(&intern_mutex);
  qs_matcher_t *m = qs_map_get(&intern_table, (qs_slice_t){key, len});
  if (m) atomic_fetch_add(&m->refs, 1);
  pthread_mutex_unlock(&intern_mutex);
  return m;
}

/* Interns the new matcher `m` under `key` (copied), or, when another
 * thread interned the same one meanwhile, destroys `m` and returns that one. */
static qs_matcher_t *intern_put(qs_matcher_t *m, char *key, size_t len) {
  pthread_mutex_lock(&intern_mutex);
  qs_matcher_t *other = qs_map_get(&intern_table, (qs_slice_t){key, len});
  if (other) {
    atomic_fetch_add(&other->refs, 1);
  } else if (qs_map_put(&intern_table, (qs_slice_t){key, len}, m) == 0) {
    m->interned = true;
  }
  pthread_mutex_unlock(&intern_mutex);
  if (other) {
    qs_matcher_destroy(m);
    return other;
  }
  return m; /* not interned when out of memory: still a valid private matcher */
}

/* A max_pattern_bytes of 0 means no limit. */
int qs_matcher_create(qs_match_type_t type, qs_slice_t pattern, const qs_match_options_t *options,
                      qs_matcher_t **out, const char **reason) {
  const char *unused;
  if (!reason) reason = &unused;
  *out = NULL;
  *reason = NULL;
  if (type != QS_MATCH_EXACT && type != QS_MATCH_URLPATTERN && type != QS_MATCH_LEGACY) {
    *reason = "unsupported matcher type";
    return QS_EUNSUPPORTED;
  }
  if (options && options->max_pattern_bytes > 0 && pattern.len > options->max_pattern_bytes) {
    *reason = "topic matcher pattern too long";
    return QS_ETOOBIG;
  }
  /* Terminology: matchers obey the same character rules as topics. */
  if (!qs_text_allowed(pattern, reason)) {
    if (!*reason) *reason = "forbidden character in topic matcher pattern";
    return QS_EPARSE;
  }
  bool interned = !qs_slice_eq_cstr(pattern, "*") &&
                  (type == QS_MATCH_URLPATTERN ||
                   (type == QS_MATCH_LEGACY && pattern.len && memchr(pattern.ptr, '{', pattern.len)));
  char *key = NULL;
  size_t key_len = 0;
  if (interned) {
    key = intern_key_make(type, type == QS_MATCH_URLPATTERN ? hub_url_of(options) : (qs_slice_t){NULL, 0},
                          pattern, &key_len);
    if (!key) {
      *reason = "out of memory";
      return QS_ENOMEM;
    }
    qs_matcher_t *shared = intern_get(key, key_len);
    if (shared) {
      free(key);
      *out = shared;
      return 0;
    }
  }
  qs_matcher_t *m = calloc(1, sizeof *m);
  if (!m) {
    free(key);
    *reason = "out of memory";
    return QS_ENOMEM;
  }
  atomic_init(&m->refs, 1);
  m->type = type;
  m->pattern = qs_slice_strdup(pattern);
  if (!m->pattern) {
    free(key);
    free(m);
    *reason = "out of memory";
    return QS_ENOMEM;
  }
  m->pattern_len = pattern.len;
  int rc = 0;
  if (qs_slice_eq_cstr(pattern, "*")) {
    /* §Matcher Types: `*` matches every topic under any type. */
    m->wildcard = true;
  } else if (type == QS_MATCH_EXACT) {
    m->exact = true;
  } else if (type == QS_MATCH_LEGACY) {
    m->exact = true;
    if (memchr(m->pattern, '{', m->pattern_len)) {
      /* requirements-digest 2.3: an invalid template is an exact selector. */
      rc = qs_uritemplate_create(pattern, &m->uritemplate);
      if (rc == 0) {
        m->exact = false;
      } else if (rc == QS_EPARSE) {
        rc = 0;
      }
    }
  } else {
    qs_slice_t hub = hub_url_of(options);
    m->hub_url = qs_slice_strdup(hub);
    if (!m->hub_url) {
      rc = QS_ENOMEM;
    } else {
      m->hub_url_len = hub.len;
      qs_slice_t base = {m->hub_url, m->hub_url_len};
      const char *why = NULL;
      rc = qs_urlpattern_create(pattern, hub.len ? &base : NULL, &m->urlpattern, &why);
      if (rc != 0) *reason = why ? why : "invalid topic matcher pattern";
      /* A pattern without a fixed origin cannot be bucketed by the topic
       * index (qs_matcher_url_key): every publish tests it, so its regexes
       * are worth JIT code. Bucketed ones are tested rarely; they stay
       * interpreted and small. */
      qs_urlpattern_literals_t lit;
      if (rc == 0 && !qs_urlpattern_literals(m->urlpattern, &lit)) qs_urlpattern_jit(m->urlpattern);
    }
  }
  if (rc != 0) {
    if (rc == QS_ENOMEM) *reason = "out of memory";
    free(key);
    qs_matcher_destroy(m);
    return rc;
  }
  /* An invalid template is an exact selector: nothing worth sharing. */
  if (key && m->exact) {
    free(key);
    key = NULL;
  }
  *out = m;
  if (key) {
    *out = intern_put(m, key, key_len);
    free(key);
  }
  return 0;
}

void qs_matcher_destroy(qs_matcher_t *matcher) {
  if (!matcher) return;
  if (matcher->interned) {
    /* The references of an interned matcher change under the table's lock
     * only, so that intern_get never revives one being freed. Its key is
     * rebuilt first (out of memory: it stays in the table, never freed). */
    size_t len;
    char *key = intern_key_make(matcher->type, (qs_slice_t){matcher->hub_url, matcher->hub_url_len},
                                (qs_slice_t){matcher->pattern, matcher->pattern_len}, &len);
    pthread_mutex_lock(&intern_mutex);
    bool last = key && atomic_load(&matcher->refs) == 1;
    if (last) {
      qs_map_remove(&intern_table, (qs_slice_t){key, len});
      if (qs_map_count(&intern_table) == 0) qs_map_dispose(&intern_table);
    }
    if (key) atomic_fetch_sub(&matcher->refs, 1);
    pthread_mutex_unlock(&intern_mutex);
    free(key);
    if (!last) return;
  } else if (atomic_fetch_sub(&matcher->refs, 1) != 1) {
    return;
  }
  qs_uritemplate_destroy(matcher->uritemplate);
  qs_urlpattern_destroy(matcher->urlpattern);
  free(matcher->hub_url);
  free(matcher->pattern);
  free(matcher);
}

bool qs_matcher_match(const qs_matcher_t *matcher, qs_slice_t topic) {
  if (!matcher) return false;
  if (matcher->wildcard) return true;
  qs_slice_t pattern = {matcher->pattern, matcher->pattern_len};
  switch (matcher->type) {
    case QS_MATCH_EXACT:
      return qs_slice_eq(pattern, topic);
    case QS_MATCH_LEGACY:
      /* requirements-digest 2.3: equal bytes first, then the template. */
      if (qs_slice_eq(pattern, topic)) return true;
      return matcher->uritemplate && qs_uritemplate_match(matcher->uritemplate, topic) == 1;
    case QS_MATCH_URLPATTERN: {
      /* A topic that cannot be parsed against the hub URL never matches;
       * a limit hit (QS_ELIMIT) is no match. */
      qs_slice_t base = {matcher->hub_url, matcher->hub_url_len};
      return qs_urlpattern_test(matcher->urlpattern, topic, base.len ? &base : NULL) == 1;
    }
  }
  return false;
}

bool qs_matcher_is_wildcard(const qs_matcher_t *matcher) { return matcher->wildcard; }

bool qs_matcher_is_exact(const qs_matcher_t *matcher) { return matcher->exact; }

qs_match_type_t qs_matcher_type(const qs_matcher_t *matcher) { return matcher->type; }

qs_slice_t qs_matcher_pattern(const qs_matcher_t *matcher) {
  return (qs_slice_t){matcher->pattern, matcher->pattern_len};
}

qs_slice_t qs_matcher_literal_prefix(const qs_matcher_t *matcher) {
  if (matcher->wildcard) return (qs_slice_t){"", 0};
  if (matcher->exact) return qs_matcher_pattern(matcher);
  if (matcher->uritemplate) return qs_uritemplate_literal_prefix(matcher->uritemplate);
  /* A URL pattern is compared with the topic after URL parsing against the
   * hub URL, so no prefix of the raw topic is known. */
  return (qs_slice_t){"", 0};
}

bool qs_matcher_url_key(const qs_matcher_t *matcher, qs_matcher_url_key_t *out) {
  memset(out, 0, sizeof *out);
  if (!matcher || matcher->type != QS_MATCH_URLPATTERN || matcher->wildcard || !matcher->urlpattern)
    return false;
  qs_urlpattern_literals_t lit;
  if (!qs_urlpattern_literals(matcher->urlpattern, &lit)) return false;
  out->base = (qs_slice_t){matcher->hub_url, matcher->hub_url_len};
  out->scheme = lit.prefix[QS_URLPATTERN_PROTOCOL];
  out->host = lit.prefix[QS_URLPATTERN_HOSTNAME];
  out->port = lit.prefix[QS_URLPATTERN_PORT];
  out->path_prefix = lit.prefix[QS_URLPATTERN_PATHNAME];
  return true;
}

qs_slice_t qs_matcher_base_url(const qs_matcher_t *matcher) {
  if (!matcher || matcher->type != QS_MATCH_URLPATTERN) return (qs_slice_t){"", 0};
  return (qs_slice_t){matcher->hub_url ? matcher->hub_url : "", matcher->hub_url_len};
}

bool qs_matcher_match_url(const qs_matcher_t *matcher, qs_slice_t topic, const qs_url_t *url) {
  if (!matcher) return false;
  if (matcher->type != QS_MATCH_URLPATTERN || matcher->wildcard || !matcher->urlpattern)
    return qs_matcher_match(matcher, topic);
  return url && qs_urlpattern_test_url(matcher->urlpattern, url) == 1;
}

size_t qs_matcher_shared_count(const qs_matcher_t *matcher) {
  return matcher ? atomic_load(&matcher->refs) : 0;
}
