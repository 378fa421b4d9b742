/* Token verification: the configured keys of each role, and the one entry
 * point that turns a presented token into grants (Mercure draft,
 * Authorization and Token Validation; legacy rules of requirements digest
 * 2.2). Immutable after creation: one qs_auth_t serves every thread. */
#ifndef QS_AUTH_AUTH_H
#define QS_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/grants.h"
#include "auth/key.h"
#include "base/slice.h"
#include "match/matcher.h"

typedef enum { QS_AUTH_PUBLISHER, QS_AUTH_SUBSCRIBER } qs_auth_role_t;

/* One configured verification key.
 *
 * A legacy key (from `publisher_jwt`/`subscriber_jwt` or
 * MERCURE_*_JWT_KEY) accepts legacy tokens: the `mercure` claim, no
 * `typ`/`aud`/`iss` requirement, `exp` optional but enforced when present.
 * It also accepts draft-08 tokens (with `authorization_details`), for which
 * `exp` is required and `aud`, when present, must contain the resource
 * identifier; `typ` and `iss` are not checked (REF compat mode).
 *
 * A non-legacy key accepts draft-08 tokens only, fully checked: `typ` at+jwt,
 * `exp` required, `nbf`, `aud` containing the resource identifier, `iss`
 * among the configured issuers when there are any. A `mercure` claim in a
 * token it verifies is ignored. */
typedef struct {
  qs_jwt_alg_t alg; /* the only algorithm the key accepts */
  /* Copied: secret bytes (HS*), a PEM public key or certificate, or a JWK
   * (a JSON object with `kty`, see auth/jwk.h; its `kid` then selects it). */
  qs_slice_t material;
  bool legacy;
  /* Per-issuer keys: when not empty, this key only verifies tokens whose
   * `iss` equals it (copied), and a token whose `iss` is the issuer of some
   * key (of either role) is verified with that issuer's keys only, never
   * with keys of another issuer or with issuer-less keys. Empty: the key
   * verifies the tokens of every other `iss` (or none). */
  qs_slice_t issuer;
  /* A JWK Set URL (http, https or file; copied): the keys come from it,
   * fetched and refreshed in the background (auth/jwks_source.h) and chosen
   * by the token's `kid`; `material` is then ignored and `alg`, unless
   * QS_JWT_ALG_INVALID, is the only algorithm accepted (else every
   * asymmetric one). Keys with the same URL share one fetcher. */
  qs_slice_t jwks_url;
} qs_auth_key_config_t;

typedef struct {
  const qs_auth_key_config_t *publisher_keys;
  size_t publisher_key_count;
  const qs_auth_key_config_t *subscriber_keys;
  size_t subscriber_key_count;
  /* Expected `aud` (copied); may be overridden per request with qs_auth_verify_for(). */
  qs_slice_t resource_identifier;
  /* Trusted `iss` values for non-legacy keys (copied); none: `iss` unchecked. */
  const qs_slice_t *issuers;
  size_t issuer_count;
  /* Used to compile grants; hub_url is copied. */
  qs_match_options_t match;
  size_t max_token_bytes; /* 0: QS_JWS_DEFAULT_MAX_TOKEN_BYTES (8192) */
  /* Verified tokens remembered (until their `exp`) so a token presented
   * again skips signature and claims work; 0 disables the cache. Tokens
   * over 2 KB are never cached. QS_AUTH_DEFAULT_CACHE_ENTRIES is a sensible value. */
  size_t cache_max_entries;
  /* JWK Sets: refresh period and least time between two fetches asked by
   * an unknown `kid` (0: auth/jwks_source.h defaults). */
  int64_t jwks_refresh_interval_ms;
  int64_t jwks_unknown_kid_interval_ms;
} qs_auth_config_t;

#define QS_AUTH_DEFAULT_CACHE_ENTRIES 4096

#define QS_AUTH_DETAIL_BYTES 320

/* Why a token was refused. `error` is the RFC 6750 error code to answer
 * with ("invalid_token": 401, "invalid_request": 400); `reason` is a static,
 * precise explanation for the log. `detail`, when not empty, says the same
 * with the decisive values (since when the token expired, the `aud` this hub
 * expects, the token's `alg` and the ones accepted, an unknown `kid`): it is
 * what refusals answer and what `quicksilver token inspect` prints. None of
 * them ever contains a key or the token's signature; header and claim values
 * quoted in `detail` are cut short and stripped of control characters. */
typedef struct {
  const char *error;
  const char *reason;
  char detail[QS_AUTH_DETAIL_BYTES];
} qs_auth_failure_t;

/* `detail` when set, else `reason` (else "invalid token"). */
static inline const char *qs_auth_failure_text(const qs_auth_failure_t *why) {
  return why->detail[0] ? why->detail : why->reason ? why->reason : "invalid token";
}

typedef struct qs_auth qs_auth_t;

/* Builds the verifier from `config` (everything copied; `config` may go
 * away afterwards). Returns 0, QS_EINVAL with `*reason` set to a static
 * explanation (a key that does not fit its algorithm, ...), or QS_ENOMEM.
 * The caller destroys the verifier. */
int qs_auth_create(const qs_auth_config_t *config, qs_auth_t **out, const char **reason);

/* Frees the verifier (NULL is fine). Grants it produced stay valid. */
void qs_auth_destroy(qs_auth_t *auth);

/* True when `role` has at least one key. */
bool qs_auth_has_keys(const qs_auth_t *auth, qs_auth_role_t role);

/* The algorithms `role` accepts (bit 1u << alg per qs_jwt_alg_t), static keys
 * and JWK Sets together. */
uint32_t qs_auth_algorithms(const qs_auth_t *auth, qs_auth_role_t role);

/* Verifies `token` (borrowed for the call) for `role` at wall time `now_ms`
 * with the configured resource identifier. On success returns 0 and stores
 * one reference to the token's grants in `*out` (the caller releases it),
 * with expires_ms, subject and issuer filled in; grants may be shared with
 * earlier calls for the same token (cache). Thread-safe. On failure returns QS_EAUTH
 * (or QS_ENOMEM: answer 500) and fills `*why`; `*out` is NULL.
 * Every failure of a presented token is "invalid_token". */
int qs_auth_verify(const qs_auth_t *auth, qs_auth_role_t role, qs_slice_t token, int64_t now_ms,
                   qs_grants_t **out, qs_auth_failure_t *why);

/* qs_auth_verify() with the resource identifier of this request (for example
 * derived from its scheme and Host); an empty slice means the configured one.
 * With no resource identifier at all, non-legacy keys refuse every token. */
int qs_auth_verify_for(const qs_auth_t *auth, qs_auth_role_t role, qs_slice_t token,
                       qs_slice_t resource_identifier, int64_t now_ms, qs_grants_t **out,
                       qs_auth_failure_t *why);

/* Which configured key accepted a token, and by which rules, for
 * explanations (`quicksilver token inspect`). */
typedef struct {
  size_t key_index;  /* in the role's keys, in configuration order */
  bool key_legacy;   /* a legacy key (publisher_jwt/subscriber_jwt) */
  bool legacy_rules; /* the legacy hub's rules applied (legacy key, legacy token) */
  bool jwks;         /* the key came from a JWK Set */
  qs_jwt_alg_t alg;  /* the token's algorithm */
  qs_slice_t issuer; /* the key's issuer (borrowed from the verifier), empty for none */
} qs_auth_explain_t;

/* qs_auth_verify_for() that never uses the token cache and, on success, also
 * fills `*explain` (when not NULL). Same contract otherwise. */
int qs_auth_verify_explain(const qs_auth_t *auth, qs_auth_role_t role, qs_slice_t token,
                           qs_slice_t resource_identifier, int64_t now_ms, qs_grants_t **out,
                           qs_auth_failure_t *why, qs_auth_explain_t *explain);

/* The resource identifier the verifier expects as `aud` (borrowed). */
qs_slice_t qs_auth_resource_identifier(const qs_auth_t *auth);

/* True when every JWK Set of the verifier has been fetched at least once
 * (always true without JWK Sets). */
bool qs_auth_keys_loaded(const qs_auth_t *auth);

/* The number of keys configured for `role` (static keys and JWK Sets). */
size_t qs_auth_key_count(const qs_auth_t *auth, qs_auth_role_t role);

#endif
