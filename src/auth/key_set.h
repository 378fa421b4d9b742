/* The verification keys of a hub, resolved from where an operator names them
 * (a key or JWK Set URL per role, trusted issuers with keys of their own)
 * into the form the verifier takes (auth.h): the key policy of the hub and of
 * `quicksilver token inspect`, so that both see the same keys. */
#ifndef QS_AUTH_KEY_SET_H
#define QS_AUTH_KEY_SET_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/auth.h"
#include "base/buf.h"
#include "base/slice.h"

#define QS_KEY_SET_MAX 64

/* Where one role's key comes from: a key (`jwt`, possibly "@FILE") with its
 * algorithm (`jwt_alg`; empty means HS256, or the JWK's own `alg` when the
 * key is a JWK), or a JWK Set URL. All empty: none. Borrowed. */
typedef struct {
  qs_slice_t jwt, jwt_alg, jwks_url;
} qs_key_source_t;

/* A trusted issuer: tokens whose `iss` is `id` are verified with its keys
 * only, under the full draft-08 profile. Borrowed. */
typedef struct {
  qs_slice_t id;
  qs_key_source_t publisher, subscriber;
} qs_key_issuer_t;

/* Everything a configuration says about keys. Borrowed. */
typedef struct {
  qs_key_source_t publisher, subscriber; /* the hub's own (legacy-compatible) keys */
  const qs_key_issuer_t *issuers;
  size_t issuer_count;
  bool anonymous; /* subscribers may have no key */
} qs_key_sources_t;

typedef struct {
  qs_auth_key_config_t publisher[QS_KEY_SET_MAX];
  qs_auth_key_config_t subscriber[QS_KEY_SET_MAX];
  size_t publisher_count, subscriber_count;
  qs_buf_t material[2 * QS_KEY_SET_MAX]; /* key bytes read (@FILE or inline) */
  size_t material_count;
  char dev_secret[65]; /* hex; set when no key was named at all */
} qs_key_set_t;

/* Whether `sources` names any key (else qs_key_set_resolve makes a
 * development key). */
bool qs_key_sources_named(const qs_key_sources_t *sources);

/* Resolves `sources` into `set`, reading key files now. The policy:
 * - no key named at all: a random development secret (set->dev_secret,
 *   HS256) serves both roles;
 * - only one role named: its key serves the other role too (as the legacy
 *   hub's single jwt_key);
 * - a JWK given with the default algorithm uses the JWK's own `alg`;
 * - each issuer adds its keys, bound to its id (the draft-08 profile); an
 *   issuer named twice is refused;
 * - publishers need a key, and subscribers too unless `anonymous`.
 * The key configs borrow from `sources` and from `set`, which must outlive
 * their use. Returns 0, or QS_EINVAL with `err` set to a message that names
 * no key bytes (a key file by its @FILE name); dispose `set` in both cases. */
int qs_key_set_resolve(const qs_key_sources_t *sources, qs_key_set_t *set, char *err, size_t errlen);

/* Frees the key bytes read by qs_key_set_resolve; `set` may be disposed twice. */
void qs_key_set_dispose(qs_key_set_t *set);

#endif
