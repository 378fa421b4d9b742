/* The verification keys named by the configuration (see keys.h). */
#include "keys.h"

#include <stdio.h>

#include "base/error.h"

static qs_key_source_t source(const char *jwt, const char *alg, const char *jwks_url) {
  return (qs_key_source_t){qs_slice_from_cstr(jwt), qs_slice_from_cstr(alg), qs_slice_from_cstr(jwks_url)};
}

static qs_key_sources_t sources_of(const qs_config_t *cfg) {
  return (qs_key_sources_t){
      .publisher = source(cfg->publisher_jwt, cfg->publisher_jwt_alg, cfg->publisher_jwks_url),
      .subscriber = source(cfg->subscriber_jwt, cfg->subscriber_jwt_alg, cfg->subscriber_jwks_url),
      .issuer_count = cfg->issuers.count,
      .anonymous = cfg->anonymous};
}

bool qs_keys_configured(const qs_config_t *cfg) {
  qs_key_sources_t sources = sources_of(cfg);
  return qs_key_sources_named(&sources);
}

int qs_keys_resolve(const qs_config_t *cfg, qs_key_set_t *keys, char *err, size_t errlen) {
  qs_key_issuer_t issuers[QS_KEY_SET_MAX]; /* their slices point into cfg */
  qs_key_sources_t sources = sources_of(cfg);
  if (sources.issuer_count > QS_KEY_SET_MAX) {
    snprintf(err, errlen, "more than %d issuers", QS_KEY_SET_MAX);
    return QS_EINVAL;
  }
  for (size_t i = 0; i < sources.issuer_count; i++) {
    qs_config_issuer_t is;
    const char *reason = NULL;
    if (qs_config_issuer_parse(cfg->issuers.items[i], &is, &reason) != 0) {
      snprintf(err, errlen, "issuer %zu: %s", i + 1, reason);
      return QS_EINVAL;
    }
    issuers[i] =
        (qs_key_issuer_t){.id = is.id,
                          .publisher = {is.publisher_jwt, is.publisher_jwt_alg, is.publisher_jwks_url},
                          .subscriber = {is.subscriber_jwt, is.subscriber_jwt_alg, is.subscriber_jwks_url}};
  }
  sources.issuers = issuers;
  return qs_key_set_resolve(&sources, keys, err, errlen);
}
