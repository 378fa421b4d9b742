#include "auth/auth.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/claims.h"
#include "auth/jwk.h"
#include "auth/jwks_source.h"
#include "auth/jws.h"
#include "auth/token_cache_internal.h"
#include "base/error.h"

typedef struct {
  qs_jwt_key_t *key;      /* a static key, or NULL for a JWK Set */
  qs_jwks_source_t *jwks; /* borrowed from qs_auth.sources */
  qs_jwt_alg_t jwks_alg;  /* JWK Set: the only algorithm, or QS_JWT_ALG_INVALID for any */
  char *kid;              /* static JWK with a `kid`: tokens naming another kid skip it */
  bool legacy;
  char *issuer; /* NULL: any issuer without keys of its own */
  size_t issuer_len;
} auth_key_t;

typedef struct {
  auth_key_t *keys;
  size_t count;
} key_set_t;

struct qs_auth {
  key_set_t roles[2];
  qs_jwks_source_t **sources; /* one per distinct JWKS URL */
  size_t source_count;
  char *resource_identifier;
  size_t resource_identifier_len;
  qs_slice_t *issuers; /* each ptr owned */
  size_t issuer_count;
  char *hub_url;
  qs_match_options_t match;
  size_t max_token_bytes;
  qs_token_cache_t *cache; /* NULL: disabled */
};

static const char INVALID_TOKEN[] = "invalid_token";

static int copy_slice(qs_slice_t in, char **out, size_t *len) {
  *out = NULL;
  *len = 0;
  if (in.len == 0) return 0;
  if (!(*out = qs_slice_strdup(in))) return QS_ENOMEM;
  *len = in.len;
  return 0;
}

/* The fetcher of `url`, shared by every key naming it. */
static int find_source(qs_auth_t *auth, const qs_auth_config_t *config, qs_slice_t url,
                       qs_jwks_source_t **out, const char **reason) {
  for (size_t i = 0; i < auth->source_count; i++) {
    if (qs_slice_eq_cstr(url, qs_jwks_source_url(auth->sources[i]))) {
      *out = auth->sources[i];
      return 0;
    }
  }
  qs_jwks_source_t **grown = realloc(auth->sources, (auth->source_count + 1) * sizeof *grown);
  if (!grown) return QS_ENOMEM;
  auth->sources = grown;
  qs_jwks_source_config_t source_config = {
      .url = url,
      .refresh_interval_ms = config->jwks_refresh_interval_ms,
      .unknown_kid_interval_ms = config->jwks_unknown_kid_interval_ms,
  };
  int rc = qs_jwks_source_create(&source_config, out, reason);
  if (!rc) auth->sources[auth->source_count++] = *out;
  return rc;
}

static int load_static_key(auth_key_t *k, const qs_auth_key_config_t *config, const char **reason) {
  if (!qs_jwk_looks_like_jwk(config->material))
    return qs_jwt_key_create(config->alg, config->material, &k->key, reason);
  json_t *jwk = qs_json_parse_object(config->material.ptr, config->material.len);
  if (!jwk) return QS_ENOMEM;
  qs_jwt_alg_t alg = config->alg;
  const json_t *jwk_alg = json_object_get(jwk, "alg");
  /* No algorithm configured: the JWK's own `alg` (RFC 7517 §4.4). */
  if (alg == QS_JWT_ALG_INVALID && json_is_string(jwk_alg))
    (void)qs_jwt_alg_parse(qs_slice(json_string_value(jwk_alg), json_string_length(jwk_alg)), &alg);
  int rc = QS_EINVAL;
  if (alg == QS_JWT_ALG_INVALID)
    *reason = "a JWK without `alg` needs an algorithm in the configuration";
  else
    rc = qs_jwk_key_create(jwk, alg, &k->key, reason);
  const json_t *kid = json_object_get(jwk, "kid");
  if (!rc && json_is_string(kid) && !(k->kid = strdup(json_string_value(kid)))) rc = QS_ENOMEM;
  json_decref(jwk);
  return rc;
}

static int load_keys(qs_auth_t *auth, const qs_auth_config_t *config, key_set_t *set,
                     const qs_auth_key_config_t *configs, size_t count, const char **reason) {
  if (count == 0) return 0;
  if (!(set->keys = calloc(count, sizeof *set->keys))) return QS_ENOMEM;
  for (size_t i = 0; i < count; i++) {
    auth_key_t *k = &set->keys[set->count];
    int rc = configs[i].jwks_url.len ? find_source(auth, config, configs[i].jwks_url, &k->jwks, reason)
                                     : load_static_key(k, &configs[i], reason);
    if (rc) return rc;
    set->count++;
    k->jwks_alg = configs[i].jwks_url.len ? configs[i].alg : QS_JWT_ALG_INVALID;
    k->legacy = configs[i].legacy;
    if (copy_slice(configs[i].issuer, &k->issuer, &k->issuer_len)) return QS_ENOMEM;
  }
  return 0;
}

int qs_auth_create(const qs_auth_config_t *config, qs_auth_t **out, const char **reason) {
  *out = NULL;
  qs_auth_t *auth = calloc(1, sizeof *auth);
  if (!auth) return QS_ENOMEM;
  const char *why = "out of memory";
  int rc = load_keys(auth, config, &auth->roles[QS_AUTH_PUBLISHER], config->publisher_keys,
                     config->publisher_key_count, &why);
  if (!rc)
    rc = load_keys(auth, config, &auth->roles[QS_AUTH_SUBSCRIBER], config->subscriber_keys,
                   config->subscriber_key_count, &why);
  if (!rc)
    rc = copy_slice(config->resource_identifier, &auth->resource_identifier, &auth->resource_identifier_len);
  if (!rc && config->issuer_count) {
    auth->issuers = calloc(config->issuer_count, sizeof *auth->issuers);
    if (!auth->issuers) rc = QS_ENOMEM;
    for (size_t i = 0; !rc && i < config->issuer_count; i++) {
      char *copy;
      size_t len;
      rc = copy_slice(config->issuers[i], &copy, &len);
      auth->issuers[i] = qs_slice(copy, len);
      if (!rc) auth->issuer_count++;
    }
  }
  size_t hub_url_len = 0;
  if (!rc) rc = copy_slice(config->match.hub_url, &auth->hub_url, &hub_url_len);
  if (!rc && config->cache_max_entries && !(auth->cache = qs_token_cache_create(config->cache_max_entries)))
    rc = QS_ENOMEM;
  if (rc) {
    qs_auth_destroy(auth);
    if (reason) *reason = why;
    return rc;
  }
  auth->match = config->match;
  auth->match.hub_url = qs_slice(auth->hub_url, hub_url_len);
  auth->max_token_bytes = config->max_token_bytes ? config->max_token_bytes : QS_JWS_DEFAULT_MAX_TOKEN_BYTES;
  *out = auth;
  return 0;
}

void qs_auth_destroy(qs_auth_t *auth) {
  if (!auth) return;
  qs_token_cache_destroy(auth->cache);
  for (int r = 0; r < 2; r++) {
    for (size_t i = 0; i < auth->roles[r].count; i++) {
      qs_jwt_key_destroy(auth->roles[r].keys[i].key);
      free(auth->roles[r].keys[i].kid);
      free(auth->roles[r].keys[i].issuer);
    }
    free(auth->roles[r].keys);
  }
  for (size_t i = 0; i < auth->source_count; i++) qs_jwks_source_destroy(auth->sources[i]);
  free(auth->sources);
  for (size_t i = 0; i < auth->issuer_count; i++) free((char *)auth->issuers[i].ptr);
  free(auth->issuers);
  free(auth->resource_identifier);
  free(auth->hub_url);
  free(auth);
}

bool qs_auth_has_keys(const qs_auth_t *auth, qs_auth_role_t role) { return auth->roles[role].count > 0; }

uint32_t qs_auth_algorithms(const qs_auth_t *auth, qs_auth_role_t role) {
  uint32_t algs = 0;
  for (size_t i = 0; i < auth->roles[role].count; i++) {
    const auth_key_t *k = &auth->roles[role].keys[i];
    if (k->key)
      algs |= qs_jwt_alg_bit(qs_jwt_key_alg(k->key));
    else
      algs |= k->jwks_alg ? qs_jwt_alg_bit(k->jwks_alg) : QS_JWT_ALGS_ASYMMETRIC;
  }
  return algs;
}

static int refuse(qs_auth_failure_t *why, const char *reason) {
  why->error = INVALID_TOKEN;
  why->reason = reason;
  return QS_EAUTH;
}

/* refuse() with `detail` formatted from `fmt`. */
__attribute__((format(printf, 3, 4))) static int refuse_detail(qs_auth_failure_t *why, const char *reason,
                                                               const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why->detail, sizeof why->detail, fmt, ap);
  va_end(ap);
  return refuse(why, reason);
}

/* A value of the token (or of the configuration) fit for a message: at most
 * 96 bytes, printable ASCII only (anything else becomes '?'), "..." when cut. */
typedef struct {
  char text[104];
} quoted_t;

static quoted_t quote(qs_slice_t value) {
  quoted_t q;
  size_t n = value.len < 96 ? value.len : 96, i;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)value.ptr[i];
    q.text[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
  }
  if (value.len > n) memcpy(q.text + i, "...", 3), i += 3;
  q.text[i] = 0;
  return q;
}

/* RFC 3339 UTC time of a wall time in ms ("2026-01-01T00:00:00Z"). */
typedef struct {
  char text[40];
} when_t;

static when_t format_time(double ms) {
  when_t w = {"(out of range)"};
  if (!(ms > -6.0e16 && ms < 2.5e17)) return w;
  time_t t = (time_t)floor(ms / 1000.0);
  struct tm tm;
  if (gmtime_r(&t, &tm)) strftime(w.text, sizeof w.text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return w;
}

/* "3 s", "2 min 5 s", "4 h 1 min", "12 d 3 h". */
typedef struct {
  char text[48];
} span_t;

static span_t format_span(double ms) {
  span_t s;
  double sec = floor(fabs(ms) / 1000.0);
  if (sec < 60)
    snprintf(s.text, sizeof s.text, "%.0f s", sec);
  else if (sec < 3600)
    snprintf(s.text, sizeof s.text, "%.0f min %.0f s", floor(sec / 60), fmod(sec, 60));
  else if (sec < 86400)
    snprintf(s.text, sizeof s.text, "%.0f h %.0f min", floor(sec / 3600), floor(fmod(sec, 3600) / 60));
  else
    snprintf(s.text, sizeof s.text, "%.0f d %.0f h", floor(sec / 86400), floor(fmod(sec, 86400) / 3600));
  return s;
}

/* The names of the algorithms of `algs` (bits of qs_jwt_alg_bit), ", "-separated. */
typedef struct {
  char text[160];
} alg_list_t;

static alg_list_t format_algs(uint32_t algs) {
  alg_list_t l = {""};
  size_t used = 0;
  for (int a = QS_JWT_HS256; a <= QS_JWT_EDDSA; a++) {
    if (!(algs & qs_jwt_alg_bit((qs_jwt_alg_t)a))) continue;
    int n = snprintf(l.text + used, sizeof l.text - used, "%s%s", used ? ", " : "",
                     qs_jwt_alg_name((qs_jwt_alg_t)a));
    if (n < 0 || (size_t)n >= sizeof l.text - used) break;
    used += (size_t)n;
  }
  return l;
}

static const char *role_name(qs_auth_role_t role) {
  return role == QS_AUTH_PUBLISHER ? "publisher" : "subscriber";
}

static qs_slice_t string_slice(const json_t *s) {
  return qs_slice(json_string_value(s), json_string_length(s));
}

/* RFC 7519 §2 NumericDate, in milliseconds; non-integer values are allowed
 * (PHP's lcobucci/jwt writes microseconds). QS_EAUTH when not a number. */
static int numeric_date_ms(const json_t *value, double *out_ms) {
  if (!json_is_number(value)) return QS_EAUTH;
  double seconds = json_number_value(value);
  if (!isfinite(seconds)) return QS_EAUTH;
  *out_ms = seconds * 1000.0;
  return 0;
}

/* Mercure draft, Token Validation: `typ` is at+jwt, case-insensitively,
 * with an optional "application/" prefix (RFC 9068 §2.1, RFC 7515 §4.1.9). */
static bool typ_is_access_token(qs_slice_t typ) {
  qs_slice_t prefix = qs_slice_from_cstr("application/");
  if (typ.len > prefix.len && qs_slice_eq_nocase(qs_slice(typ.ptr, prefix.len), prefix)) {
    typ.ptr += prefix.len;
    typ.len -= prefix.len;
  }
  return qs_slice_eq_nocase(typ, qs_slice_from_cstr("at+jwt"));
}

/* RFC 7519 §4.1.3: `aud` is a string or an array of strings, one of which
 * must be the resource identifier. */
static const char *check_aud(const json_t *aud, qs_slice_t resource) {
  if (resource.len == 0) return "no resource identifier to check aud against";
  if (json_is_string(aud)) return qs_slice_eq(string_slice(aud), resource) ? NULL : "wrong aud";
  if (!json_is_array(aud)) return "aud is neither a string nor an array";
  size_t i;
  const json_t *entry;
  json_array_foreach(aud, i, entry) {
    if (!json_is_string(entry)) return "aud is neither a string nor an array";
    if (qs_slice_eq(string_slice(entry), resource)) return NULL;
  }
  return "wrong aud";
}

static bool issuer_trusted(const qs_auth_t *auth, qs_slice_t iss) {
  for (size_t i = 0; i < auth->issuer_count; i++)
    if (qs_slice_eq(auth->issuers[i], iss)) return true;
  return false;
}

/* True when some key of either role is bound to `iss`. */
static bool issuer_has_keys(const qs_auth_t *auth, qs_slice_t iss) {
  if (iss.len == 0) return false;
  for (int r = 0; r < 2; r++)
    for (size_t i = 0; i < auth->roles[r].count; i++) {
      const auth_key_t *k = &auth->roles[r].keys[i];
      if (k->issuer && qs_slice_eq(qs_slice(k->issuer, k->issuer_len), iss)) return true;
    }
  return false;
}

typedef struct {
  bool alg_allowed, issuer_known, kid_known;
} search_t;

/* Verifies with one key; 0, QS_EAUTH (try the next) or QS_ENOMEM. */
static int try_key(const qs_jwt_key_t *key, const char *kid, const qs_jws_t *jws, search_t *search) {
  if (qs_jwt_key_alg(key) != jws->alg) return QS_EAUTH;
  search->alg_allowed = true;
  /* RFC 7515 §4.1.4: `kid` is a hint that selects among the trusted keys only. */
  if (jws->kid.len && kid && !qs_slice_eq_cstr(jws->kid, kid)) return QS_EAUTH;
  search->kid_known = true;
  return qs_jwt_key_verify(key, jws->alg, jws->signing_input, qs_buf_slice(&jws->signature));
}

/* A JWK Set: the keys whose `kid` is the token's (every key of the right
 * algorithm when the token has none); an unknown kid asks for a refresh. */
static int try_jwks(const auth_key_t *k, const qs_jws_t *jws, search_t *search) {
  if (k->jwks_alg && k->jwks_alg != jws->alg) return QS_EAUTH;
  qs_jwks_set_t *set = qs_jwks_source_get(k->jwks);
  int rc = QS_EAUTH;
  bool kid_seen = false;
  for (size_t i = 0; set && i < set->count && rc == QS_EAUTH; i++) {
    const qs_jwks_entry_t *e = &set->entries[i];
    if (jws->kid.len && !(e->kid && qs_slice_eq_cstr(jws->kid, e->kid))) continue;
    kid_seen = true;
    rc = try_key(e->key, NULL, jws, search);
  }
  if (jws->kid.len && !kid_seen) qs_jwks_source_request_refresh(k->jwks);
  if (!jws->kid.len || kid_seen) search->kid_known = true;
  /* The set's algorithms count as allowed even when its keys do not match. */
  search->alg_allowed = true;
  qs_jwks_set_release(set);
  return rc;
}

/* Mercure draft, Token Validation (key selection): keys come only from the
 * configuration; the token's `alg` must be the key's own; a token whose
 * `iss` is a configured issuer is verified with that issuer's keys only
 * (never pooled across issuers), any other token with the issuer-less keys. */
static int find_key(const qs_auth_t *auth, qs_auth_role_t role, const qs_jws_t *jws, qs_slice_t iss,
                    const auth_key_t **out, size_t *index, qs_auth_failure_t *why) {
  const key_set_t *set = &auth->roles[role];
  bool bound = issuer_has_keys(auth, iss);
  search_t search = {0};
  for (size_t i = 0; i < set->count; i++) {
    const auth_key_t *k = &set->keys[i];
    if (bound ? !(k->issuer && qs_slice_eq(qs_slice(k->issuer, k->issuer_len), iss)) : k->issuer != NULL)
      continue;
    search.issuer_known = true;
    int rc = k->jwks ? try_jwks(k, jws, &search) : try_key(k->key, k->kid, jws, &search);
    if (rc == 0) {
      *out = k;
      *index = i;
      return 0;
    }
    if (rc == QS_ENOMEM) {
      why->error = NULL;
      why->reason = "out of memory";
      return rc;
    }
  }
  if (set->count == 0)
    return refuse_detail(why, "no key is configured for this role", "no %s key is configured on this hub",
                         role_name(role));
  if (!search.issuer_known) {
    if (bound)
      return refuse_detail(why, "the token's issuer has no key for this role",
                           "the token's issuer `%s` has keys on this hub, but no %s key", quote(iss).text,
                           role_name(role));
    return refuse_detail(why, "no key for this issuer",
                         "no %s key verifies tokens of issuer `%s`: every %s key is bound to another issuer",
                         role_name(role), quote(iss).text, role_name(role));
  }
  uint32_t accepted = 0;
  for (size_t i = 0; i < set->count; i++) {
    const auth_key_t *k = &set->keys[i];
    if (bound ? !(k->issuer && qs_slice_eq(qs_slice(k->issuer, k->issuer_len), iss)) : k->issuer != NULL)
      continue;
    accepted |= k->key ? qs_jwt_alg_bit(qs_jwt_key_alg(k->key))
                       : (k->jwks_alg ? qs_jwt_alg_bit(k->jwks_alg) : QS_JWT_ALGS_ASYMMETRIC);
  }
  if (!search.alg_allowed)
    return refuse_detail(
        why, "algorithm not allowed for this key",
        "algorithm not allowed: the token is signed with %s, the %s keys that apply accept %s",
        qs_jwt_alg_name(jws->alg), role_name(role), format_algs(accepted).text);
  if (!search.kid_known)
    return refuse_detail(why, "unknown kid", "unknown kid: no %s key has the kid `%s`", role_name(role),
                         quote(jws->kid).text);
  return refuse_detail(why, "wrong signature",
                       "wrong signature: no %s %s key of this hub verifies it (signed with another key, or "
                       "altered since)",
                       role_name(role), qs_jwt_alg_name(jws->alg));
}

static int check_claims(const qs_auth_t *auth, const auth_key_t *key, const qs_jws_t *jws,
                        qs_slice_t resource, int64_t now_ms, double *exp_ms, qs_auth_failure_t *why) {
  const json_t *claims = jws->claims;
  bool draft08 = json_object_get(claims, "authorization_details") != NULL;
  /* A legacy key verifying a legacy token applies the legacy hub's relaxed
   * rules; everything else is a draft-08 token. */
  bool strict = draft08 || !key->legacy;
  const json_t *exp = json_object_get(claims, "exp");
  const json_t *nbf = json_object_get(claims, "nbf");
  const json_t *aud = json_object_get(claims, "aud");
  double nbf_ms;
  *exp_ms = 0;
  if (!key->legacy && !typ_is_access_token(jws->typ)) {
    if (jws->typ.len == 0)
      return refuse_detail(why, "wrong typ (at+jwt expected)",
                           "wrong typ: the header has none, and keys of trusted issuers apply the draft-08 "
                           "rules, which need typ at+jwt");
    return refuse_detail(why, "wrong typ (at+jwt expected)",
                         "wrong typ: the header says `%s`, and keys of trusted issuers apply the draft-08 "
                         "rules, which need typ at+jwt",
                         quote(jws->typ).text);
  }
  if (exp) {
    if (numeric_date_ms(exp, exp_ms)) return refuse(why, "exp is not a number");
    /* RFC 7519 §4.1.4: the token is valid strictly before exp; no leeway (REF). */
    if (!((double)now_ms < *exp_ms))
      return refuse_detail(why, "expired", "expired since %s (%s ago)", format_time(*exp_ms).text,
                           format_span((double)now_ms - *exp_ms).text);
  } else if (strict) {
    return refuse_detail(why, "missing exp",
                         draft08 ? "missing exp: draft-08 tokens (with authorization_details) must expire"
                                 : "missing exp: keys of trusted issuers apply the draft-08 rules, and "
                                   "draft-08 tokens must expire");
  }
  if (nbf) {
    if (numeric_date_ms(nbf, &nbf_ms)) return refuse(why, "nbf is not a number");
    if ((double)now_ms < nbf_ms)
      return refuse_detail(why, "not yet valid (nbf)", "not yet valid: nbf is %s (in %s)",
                           format_time(nbf_ms).text, format_span(nbf_ms - (double)now_ms).text);
  }
  /* Legacy keys: the legacy hub and REF compat ignore `aud`; a draft-08
   * token's `aud`, when present, must still name this hub. */
  if (!key->legacy || (draft08 && aud)) {
    const char *bad = aud ? check_aud(aud, resource) : "missing aud";
    if (bad && resource.len == 0) return refuse(why, bad);
    if (bad && !aud)
      return refuse_detail(why, bad, "missing aud: this hub expects `%s`", quote(resource).text);
    if (bad && json_is_string(aud))
      return refuse_detail(why, bad, "wrong aud: the token's aud is `%s`, this hub expects `%s`",
                           quote(string_slice(aud)).text, quote(resource).text);
    if (bad) return refuse_detail(why, bad, "%s: this hub expects `%s`", bad, quote(resource).text);
  }
  const json_t *iss = json_object_get(claims, "iss");
  const json_t *sub = json_object_get(claims, "sub");
  if ((iss && !json_is_string(iss)) || (sub && !json_is_string(sub)))
    return refuse(why, "iss and sub must be strings");
  /* A key bound to an issuer was chosen because `iss` is that issuer. */
  if (!key->legacy && !key->issuer && auth->issuer_count &&
      (!iss || !issuer_trusted(auth, string_slice(iss))))
    return refuse_detail(why, "untrusted iss", "untrusted iss: `%s` is not among the configured issuers",
                         iss ? quote(string_slice(iss)).text : "");
  return 0;
}

/* Names the keys in use: moves whenever a JWK Set changes, so that tokens
 * verified with a key since removed are verified again. */
static uint64_t key_epoch(const qs_auth_t *auth) {
  uint64_t epoch = 0;
  for (size_t i = 0; i < auth->source_count; i++) epoch += qs_jwks_source_changes(auth->sources[i]);
  return epoch;
}

static int verify(const qs_auth_t *auth, qs_auth_role_t role, qs_slice_t token,
                  qs_slice_t resource_identifier, int64_t now_ms, qs_grants_t **out, qs_auth_failure_t *why,
                  qs_auth_explain_t *explain) {
  *out = NULL;
  why->error = NULL;
  why->reason = NULL;
  why->detail[0] = 0;
  if (role != QS_AUTH_PUBLISHER && role != QS_AUTH_SUBSCRIBER) return refuse(why, "unknown role");
  if (resource_identifier.len == 0)
    resource_identifier = qs_slice(auth->resource_identifier, auth->resource_identifier_len);
  /* Read before verifying: a set that changes meanwhile makes this entry stale. */
  uint64_t epoch = key_epoch(auth);
  if (!explain && token.len <= auth->max_token_bytes &&
      (*out = qs_token_cache_get(auth->cache, (int)role, resource_identifier, token, epoch, now_ms)))
    return 0;
  qs_jws_t jws;
  const char *reason = NULL;
  int rc = qs_jws_parse(token, auth->max_token_bytes, &jws, &reason);
  if (rc == QS_ENOMEM) {
    why->reason = "out of memory";
    return rc;
  }
  if (rc) return refuse(why, reason);
  /* `iss` is read before verification only to select the key (REF selectVerifier). */
  const json_t *iss = json_object_get(jws.claims, "iss");
  qs_slice_t iss_slice = json_is_string(iss) ? string_slice(iss) : (qs_slice_t){NULL, 0};
  const auth_key_t *key = NULL;
  size_t key_index = 0;
  double exp_ms = 0;
  rc = find_key(auth, role, &jws, iss_slice, &key, &key_index, why);
  if (!rc) rc = check_claims(auth, key, &jws, resource_identifier, now_ms, &exp_ms, why);
  qs_grants_t *grants = NULL;
  if (!rc) {
    rc = qs_grants_from_claims(jws.claims, key->legacy, &auth->match, &grants, &reason);
    if (rc == QS_ENOMEM) {
      why->reason = reason;
    } else if (rc) {
      rc = refuse(why, reason);
    }
  }
  if (!rc) {
    const json_t *sub = json_object_get(jws.claims, "sub");
    if (exp_ms > 0) grants->expires_ms = exp_ms >= 9.0e15 ? (int64_t)9.0e15 : (int64_t)floor(exp_ms);
    if (!sub && (grants->token_digest = malloc(QS_GRANTS_DIGEST_BYTES)) &&
        EVP_Digest(token.ptr, token.len, grants->token_digest, NULL, EVP_sha256(), NULL) != 1) {
      free(grants->token_digest);
      grants->token_digest = NULL; /* not counted then, as before the digest existed */
    }
    if ((sub && qs_grants_set_text(grants, &grants->subject, string_slice(sub))) ||
        qs_grants_set_text(grants, &grants->issuer, iss_slice)) {
      qs_grants_release(grants);
      grants = NULL;
      why->reason = "out of memory";
      rc = QS_ENOMEM;
    }
  }
  if (!rc && explain)
    *explain = (qs_auth_explain_t){
        .key_index = key_index,
        .key_legacy = key->legacy,
        .legacy_rules = key->legacy && !json_object_get(jws.claims, "authorization_details"),
        .jwks = key->jwks != NULL,
        .alg = jws.alg,
        .issuer = qs_slice(key->issuer, key->issuer_len),
    };
  qs_jws_dispose(&jws);
  if (!rc && !explain) qs_token_cache_put(auth->cache, (int)role, resource_identifier, token, epoch, grants);
  *out = grants;
  return rc;
}

int qs_auth_verify_for(const qs_auth_t *auth, qs_auth_role_t role, qs_slice_t token,
                       qs_slice_t resource_identifier, int64_t now_ms, qs_grants_t **out,
                       qs_auth_failure_t *why) {
  return verify(auth, role, token, resource_identifier, now_ms, out, why, NULL);
}

int qs_auth_verify_explain(const qs_auth_t *auth, qs_auth_role_t role, qs_slice_t token,
                           qs_slice_t resource_identifier, int64_t now_ms, qs_grants_t **out,
                           qs_auth_failure_t *why, qs_auth_explain_t *explain) {
  qs_auth_explain_t ignored;
  return verify(auth, role, token, resource_identifier, now_ms, out, why, explain ? explain : &ignored);
}

qs_slice_t qs_auth_resource_identifier(const qs_auth_t *auth) {
  return qs_slice(auth->resource_identifier, auth->resource_identifier_len);
}

bool qs_auth_keys_loaded(const qs_auth_t *auth) {
  for (size_t i = 0; i < auth->source_count; i++)
    if (qs_jwks_source_fetch_count(auth->sources[i]) == 0) return false;
  return true;
}

size_t qs_auth_key_count(const qs_auth_t *auth, qs_auth_role_t role) { return auth->roles[role].count; }

int qs_auth_verify(const qs_auth_t *auth, qs_auth_role_t role, qs_slice_t token, int64_t now_ms,
                   qs_grants_t **out, qs_auth_failure_t *why) {
  return qs_auth_verify_for(auth, role, token, (qs_slice_t){NULL, 0}, now_ms, out, why);
}
