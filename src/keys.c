/* The verification keys named by the configuration (see keys.h). */
#include "keys.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "auth/jwk.h"

void qs_keys_dispose(qs_keys_t *keys) {
  for (size_t i = 0; i < keys->material_count; i++) qs_buf_dispose(&keys->material[i]);
  keys->material_count = 0;
}

/* Adds one verification key of `role` (0 publisher, 1 subscriber): a key
 * (`value`, possibly @FILE) with the algorithm `alg` ("" = HS256, or the
 * JWK's own), or a JWK Set URL. Slices stay borrowed from the configuration. */
static int add_key(qs_keys_t *keys, int role, const char *value, qs_slice_t alg, qs_slice_t jwks_url,
                   qs_slice_t issuer, bool legacy, char *err, size_t errlen) {
  size_t *count = role ? &keys->subscriber_count : &keys->publisher_count;
  if (*count == QS_KEYS_MAX || keys->material_count == 2 * QS_KEYS_MAX) {
    snprintf(err, errlen, "more than %d keys", QS_KEYS_MAX);
    return -1;
  }
  qs_auth_key_config_t *k = role ? &keys->subscriber[*count] : &keys->publisher[*count];
  *k = (qs_auth_key_config_t){.legacy = legacy, .issuer = issuer, .jwks_url = jwks_url};
  if (!jwks_url.len) {
    qs_buf_t *material = &keys->material[keys->material_count++];
    qs_buf_init(material, QS_JWT_KEY_MAX_FILE_BYTES);
    const char *reason = "out of memory";
    if (qs_jwt_key_read(value, material, &reason) != 0) {
      snprintf(err, errlen, "%s key %s: %s", role ? "subscriber" : "publisher", value[0] == '@' ? value : "",
               reason);
      return -1;
    }
    k->material = qs_buf_slice(material);
    if (!alg.len && !qs_jwk_looks_like_jwk(k->material)) alg = qs_slice_from_cstr("HS256");
  }
  if (alg.len && qs_jwt_alg_parse(alg, &k->alg) != 0) {
    snprintf(err, errlen, "unsupported JWT algorithm '%.*s'", (int)alg.len, alg.ptr);
    return -1;
  }
  (*count)++;
  return 0;
}

bool qs_keys_configured(const qs_config_t *cfg) {
  return cfg->publisher_jwt[0] || cfg->subscriber_jwt[0] || cfg->publisher_jwks_url[0] ||
         cfg->subscriber_jwks_url[0] || cfg->issuers.count > 0;
}

int qs_keys_resolve(const qs_config_t *cfg, qs_keys_t *keys, char *err, size_t errlen) {
  memset(keys, 0, sizeof *keys);
  const char *publisher = cfg->publisher_jwt, *subscriber = cfg->subscriber_jwt;
  const char *publisher_alg = cfg->publisher_jwt_alg, *subscriber_alg = cfg->subscriber_jwt_alg;
  const char *publisher_jwks = cfg->publisher_jwks_url, *subscriber_jwks = cfg->subscriber_jwks_url;
  if (!qs_keys_configured(cfg)) {
    unsigned char random[32];
    if (RAND_bytes(random, sizeof random) != 1) {
      snprintf(err, errlen, "cannot generate a development key");
      return -1;
    }
    for (size_t i = 0; i < sizeof random; i++) sprintf(keys->dev_secret + 2 * i, "%02x", random[i]);
    publisher = subscriber = keys->dev_secret;
    publisher_alg = subscriber_alg = "HS256";
  } else if (!subscriber[0] && !subscriber_jwks[0]) {
    subscriber = publisher; /* one key for both roles, as the legacy hub's jwt_key */
    subscriber_alg = publisher_alg;
    subscriber_jwks = publisher_jwks;
  } else if (!publisher[0] && !publisher_jwks[0]) {
    publisher = subscriber;
    publisher_alg = subscriber_alg;
    publisher_jwks = subscriber_jwks;
  }
  /* A JWK configured with the default algorithm uses its own `alg`. */
  qs_slice_t none = {NULL, 0};
  const char *values[2] = {publisher, subscriber}, *algs[2] = {publisher_alg, subscriber_alg};
  const char *jwks[2] = {publisher_jwks, subscriber_jwks};
  for (int role = 0; role < 2; role++) {
    if (!values[role][0] && !jwks[role][0]) continue;
    bool jwk_default =
        strcmp(algs[role], "HS256") == 0 && qs_jwk_looks_like_jwk(qs_slice_from_cstr(values[role]));
    qs_slice_t alg = jwks[role][0] || jwk_default ? none : qs_slice_from_cstr(algs[role]);
    if (add_key(keys, role, values[role], alg, qs_slice_from_cstr(jwks[role]), none, true, err, errlen))
      return -1;
  }
  /* Trusted issuers: their keys enforce the full draft-08 profile. */
  for (size_t i = 0; i < cfg->issuers.count; i++) {
    qs_config_issuer_t is;
    const char *reason = NULL;
    if (qs_config_issuer_parse(cfg->issuers.items[i], &is, &reason) != 0) {
      snprintf(err, errlen, "issuer %zu: %s", i + 1, reason);
      return -1;
    }
    for (size_t j = 0; j < i; j++) {
      qs_config_issuer_t other;
      if (qs_config_issuer_parse(cfg->issuers.items[j], &other, &reason) == 0 &&
          qs_slice_eq(other.id, is.id)) {
        snprintf(err, errlen, "issuer '%.*s' is configured twice", (int)is.id.len, is.id.ptr);
        return -1;
      }
    }
    qs_slice_t jwt[2] = {is.publisher_jwt, is.subscriber_jwt},
               alg[2] = {is.publisher_jwt_alg, is.subscriber_jwt_alg};
    qs_slice_t url[2] = {is.publisher_jwks_url, is.subscriber_jwks_url};
    for (int role = 0; role < 2; role++) {
      if (!jwt[role].len && !url[role].len) continue;
      char value[4096];
      snprintf(value, sizeof value, "%.*s", (int)jwt[role].len, jwt[role].ptr ? jwt[role].ptr : "");
      int rc = add_key(keys, role, value, alg[role], url[role], is.id, false, err, errlen);
      OPENSSL_cleanse(value, sizeof value);
      if (rc) return -1;
    }
  }
  if (keys->publisher_count == 0) {
    snprintf(err, errlen, "publishers: a JWT key or the URL of a JWK Set must be provided");
    return -1;
  }
  if (keys->subscriber_count == 0 && !cfg->anonymous) {
    snprintf(err, errlen,
             "subscribers: a JWT key or the URL of a JWK Set must be provided (or set anonymous)");
    return -1;
  }
  return 0;
}
