/* JSON Web Keys (RFC 7517, RFC 7518 §6, RFC 8037 §2) and JWK Sets as
 * verification keys. Every JWK becomes ordinary qs_jwt_key_t objects, each
 * pinned to one algorithm, so verification never takes its algorithm from
 * the token. Private members ("d", "p", ...) are ignored: only the public
 * part is used. */
#ifndef QS_AUTH_JWK_H
#define QS_AUTH_JWK_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/key.h"
#include "base/slice.h"

/* A set of algorithms, bit (1u << alg) for each qs_jwt_alg_t. */
typedef uint32_t qs_jwt_alg_set_t;

static inline qs_jwt_alg_set_t qs_jwt_alg_bit(qs_jwt_alg_t alg) { return (qs_jwt_alg_set_t)1u << alg; }

/* Every asymmetric algorithm: the default of JWK Sets fetched from a URL
 * (REF defaultJWTAlgorithms). HMAC keys never come from a URL. */
#define QS_JWT_ALGS_ASYMMETRIC                                                                  \
  (qs_jwt_alg_bit(QS_JWT_RS256) | qs_jwt_alg_bit(QS_JWT_RS384) | qs_jwt_alg_bit(QS_JWT_RS512) | \
   qs_jwt_alg_bit(QS_JWT_PS256) | qs_jwt_alg_bit(QS_JWT_PS384) | qs_jwt_alg_bit(QS_JWT_PS512) | \
   qs_jwt_alg_bit(QS_JWT_ES256) | qs_jwt_alg_bit(QS_JWT_ES384) | qs_jwt_alg_bit(QS_JWT_ES512) | \
   qs_jwt_alg_bit(QS_JWT_EDDSA))

/* True when `material` (after optional whitespace) is a JSON object with a
 * string `kty` member: a JWK rather than a secret or a PEM document. */
bool qs_jwk_looks_like_jwk(qs_slice_t material);

/* The algorithms a JWK can verify, among `allowed`: its `alg` member when
 * present (and allowed), else every allowed algorithm fitting its key type
 * and curve. 0 when none (or when the JWK is unusable for signatures: `use`
 * other than "sig", `key_ops` without "verify"). */
qs_jwt_alg_set_t qs_jwk_algorithms(const json_t *jwk, qs_jwt_alg_set_t allowed);

/* Creates a verification key for `alg` from the JWK `jwk` (borrowed): kty
 * RSA (n, e), EC (crv P-256/P-384/P-521, x, y), OKP (crv Ed25519, x) or oct
 * (k, for HS* only). The key must fit `alg` exactly as qs_jwt_key_create()
 * demands (RSA of 2048 bits at least, the curve of the ES* algorithm...), and
 * the JWK's own `alg`, when present, must be `alg`. Returns 0, QS_EINVAL with
 * `*reason` set to a static explanation, or QS_ENOMEM. */
int qs_jwk_key_create(const json_t *jwk, qs_jwt_alg_t alg, qs_jwt_key_t **out, const char **reason);

/* One usable key of a JWK Set. */
typedef struct {
  char *kid; /* owned; NULL when the JWK has none */
  qs_jwt_key_t *key;
} qs_jwks_entry_t;

/* An immutable, reference-counted JWK Set: its usable keys, one entry per
 * (JWK, algorithm) pair. Shared by the threads that verify with it. */
typedef struct qs_jwks_set {
  atomic_uint refs;
  qs_jwks_entry_t *entries;
  size_t count;
  size_t skipped; /* JWKs that gave no usable key (unknown kty, bad fields, `use` enc...) */
} qs_jwks_set_t;

/* Parses a JWK Set document {"keys": [...]} (text[0..len), borrowed) into a
 * set of the keys usable with `allowed` algorithms. JWKs that cannot be used
 * are skipped and counted, not fatal (RFC 7517 §5: ignore what is not
 * understood); a document that is not a JWK Set is QS_EPARSE. Returns 0 with
 * `*out` holding one reference, QS_EPARSE with `*reason`, or QS_ENOMEM. */
int qs_jwks_set_parse(const char *text, size_t len, qs_jwt_alg_set_t allowed, qs_jwks_set_t **out,
                      const char **reason);

/* Takes one more reference; returns `set`. */
static inline qs_jwks_set_t *qs_jwks_set_retain(qs_jwks_set_t *set) {
  atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
  return set;
}

/* Drops a reference; frees the set and its keys with the last one. NULL is fine. */
void qs_jwks_set_release(qs_jwks_set_t *set);

#endif
