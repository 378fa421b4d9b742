/* The hub's key policy (see key_set.h). */
#include "auth/key_set.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "auth/jwk.h"
#include "base/error.h"

void qs_key_set_dispose(qs_key_set_t *set) {
  for (size_t i = 0; i < set->material_count; i++) qs_buf_dispose(&set->material[i]);
  set->material_count = 0;
}

static bool source_named(const qs_key_source_t *s) { return s->jwt.len || s->jwks_url.len; }

bool qs_key_sources_named(const qs_key_sources_t *sources) {
  return source_named(&sources->publisher) || source_named(&sources->subscriber) || sources->issuer_count > 0;
}

/* Reads the key `jwt` (possibly @FILE) into a new material buffer of `set`. */
static int read_material(qs_key_set_t *set, const char *role, qs_slice_t jwt, qs_slice_t *out, char *err,
                         size_t errlen) {
  qs_buf_t value; /* NUL-terminated copy for qs_jwt_key_read, cleansed after */
  qs_buf_init(&value, QS_JWT_KEY_MAX_FILE_BYTES);
  qs_buf_t *material = &set->material[set->material_count++];
  qs_buf_init(material, QS_JWT_KEY_MAX_FILE_BYTES);
  const char *reason = "out of memory";
  int rc = qs_buf_append(&value, jwt.ptr, jwt.len); /* jwt is not empty */
  if (rc == 0) rc = qs_jwt_key_read(value.ptr, material, &reason);
  if (rc == 0) {
    *out = qs_buf_slice(material);
  } else {
    bool file = jwt.len && jwt.ptr[0] == '@';
    snprintf(err, errlen, "%s key %.*s: %s", role, file ? (int)jwt.len : 0, file ? jwt.ptr : "", reason);
  }
  if (value.cap) OPENSSL_cleanse(value.ptr, value.cap);
  qs_buf_dispose(&value);
  return rc ? QS_EINVAL : 0;
}

/* Adds the key of `source` for `role` (0 publisher, 1 subscriber), bound to
 * `issuer` when not empty. `legacy` keys also accept the legacy claims. */
static int add_key(qs_key_set_t *set, int role, const qs_key_source_t *source, qs_slice_t issuer, bool legacy,
                   char *err, size_t errlen) {
  size_t *count = role ? &set->subscriber_count : &set->publisher_count;
  if (*count == QS_KEY_SET_MAX || set->material_count == 2 * QS_KEY_SET_MAX) {
    snprintf(err, errlen, "more than %d keys", QS_KEY_SET_MAX);
    return QS_EINVAL;
  }
  qs_auth_key_config_t *k = role ? &set->subscriber[*count] : &set->publisher[*count];
  *k = (qs_auth_key_config_t){.legacy = legacy, .issuer = issuer, .jwks_url = source->jwks_url};
  qs_slice_t alg = source->jwt_alg;
  if (!source->jwks_url.len) {
    if (read_material(set, role ? "subscriber" : "publisher", source->jwt, &k->material, err, errlen) != 0)
      return QS_EINVAL;
    /* A JWK with the default algorithm uses its own `alg`. */
    bool default_alg = !alg.len || qs_slice_eq_cstr(alg, "HS256");
    bool jwk = qs_jwk_looks_like_jwk(k->material);
    if (default_alg) alg = jwk ? (qs_slice_t){NULL, 0} : qs_slice_from_cstr("HS256");
  } else {
    alg = (qs_slice_t){NULL, 0}; /* a JWK Set's keys carry their own */
  }
  if (alg.len && qs_jwt_alg_parse(alg, &k->alg) != 0) {
    snprintf(err, errlen, "unsupported JWT algorithm '%.*s'", (int)alg.len, alg.ptr);
    return QS_EINVAL;
  }
  (*count)++;
  return 0;
}

/* A development secret for both roles, when nothing is named. */
static int make_dev_key(qs_key_set_t *set, qs_key_source_t *both, char *err, size_t errlen) {
  unsigned char random[32];
  if (RAND_bytes(random, sizeof random) != 1) {
    snprintf(err, errlen, "cannot generate a development key");
    return QS_EINVAL;
  }
  for (size_t i = 0; i < sizeof random; i++) sprintf(set->dev_secret + 2 * i, "%02x", random[i]);
  OPENSSL_cleanse(random, sizeof random);
  *both =
      (qs_key_source_t){.jwt = qs_slice_from_cstr(set->dev_secret), .jwt_alg = qs_slice_from_cstr("HS256")};
  return 0;
}

static int add_issuers(const qs_key_sources_t *sources, qs_key_set_t *set, char *err, size_t errlen) {
  for (size_t i = 0; i < sources->issuer_count; i++) {
    const qs_key_issuer_t *is = &sources->issuers[i];
    for (size_t j = 0; j < i; j++) {
      if (qs_slice_eq(sources->issuers[j].id, is->id)) {
        snprintf(err, errlen, "issuer '%.*s' is configured twice", (int)is->id.len, is->id.ptr);
        return QS_EINVAL;
      }
    }
    const qs_key_source_t *role_source[2] = {&is->publisher, &is->subscriber};
    for (int role = 0; role < 2; role++)
      if (source_named(role_source[role]) &&
          add_key(set, role, role_source[role], is->id, false, err, errlen))
        return QS_EINVAL;
  }
  return 0;
}

int qs_key_set_resolve(const qs_key_sources_t *sources, qs_key_set_t *set, char *err, size_t errlen) {
  memset(set, 0, sizeof *set);
  qs_key_source_t publisher = sources->publisher, subscriber = sources->subscriber;
  if (!qs_key_sources_named(sources)) {
    if (make_dev_key(set, &publisher, err, errlen) != 0) return QS_EINVAL;
    subscriber = publisher;
  } else if (!source_named(&subscriber)) {
    subscriber = publisher; /* one key for both roles, as the legacy hub's jwt_key */
  } else if (!source_named(&publisher)) {
    publisher = subscriber;
  }
  qs_slice_t none = {NULL, 0};
  if (source_named(&publisher) && add_key(set, 0, &publisher, none, true, err, errlen)) return QS_EINVAL;
  if (source_named(&subscriber) && add_key(set, 1, &subscriber, none, true, err, errlen)) return QS_EINVAL;
  if (add_issuers(sources, set, err, errlen) != 0) return QS_EINVAL;
  if (set->publisher_count == 0) {
    snprintf(err, errlen, "publishers: a JWT key or the URL of a JWK Set must be provided");
    return QS_EINVAL;
  }
  if (set->subscriber_count == 0 && !sources->anonymous) {
    snprintf(err, errlen,
             "subscribers: a JWT key or the URL of a JWK Set must be provided (or set anonymous)");
    return QS_EINVAL;
  }
  return 0;
}
