#include "auth/jwk.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#include "auth/base64url.h"
#include "auth/jws.h"
#include "base/error.h"

#define MAX_JWKS_KEYS 256
#define MAX_MEMBER_BYTES 2048 /* decoded bytes of one key member: RSA-16384 at most */

static qs_slice_t member(const json_t *jwk, const char *name) {
  const json_t *v = json_object_get(jwk, name);
  return json_is_string(v) ? qs_slice(json_string_value(v), json_string_length(v)) : (qs_slice_t){NULL, 0};
}

bool qs_jwk_looks_like_jwk(qs_slice_t material) {
  size_t i = 0;
  while (i < material.len && (material.ptr[i] == ' ' || material.ptr[i] == '\t' || material.ptr[i] == '\r' ||
                              material.ptr[i] == '\n'))
    i++;
  if (i == material.len || material.ptr[i] != '{') return false;
  json_t *doc = qs_json_parse_object(material.ptr, material.len);
  bool yes = doc && json_is_string(json_object_get(doc, "kty"));
  json_decref(doc);
  return yes;
}

/* The algorithms a key type (and curve) can serve. */
static qs_jwt_alg_set_t kty_algorithms(const json_t *jwk) {
  qs_slice_t kty = member(jwk, "kty"), crv = member(jwk, "crv");
  if (qs_slice_eq_cstr(kty, "RSA"))
    return qs_jwt_alg_bit(QS_JWT_RS256) | qs_jwt_alg_bit(QS_JWT_RS384) | qs_jwt_alg_bit(QS_JWT_RS512) |
           qs_jwt_alg_bit(QS_JWT_PS256) | qs_jwt_alg_bit(QS_JWT_PS384) | qs_jwt_alg_bit(QS_JWT_PS512);
  if (qs_slice_eq_cstr(kty, "EC")) {
    if (qs_slice_eq_cstr(crv, "P-256")) return qs_jwt_alg_bit(QS_JWT_ES256);
    if (qs_slice_eq_cstr(crv, "P-384")) return qs_jwt_alg_bit(QS_JWT_ES384);
    if (qs_slice_eq_cstr(crv, "P-521")) return qs_jwt_alg_bit(QS_JWT_ES512);
    return 0;
  }
  if (qs_slice_eq_cstr(kty, "OKP"))
    return qs_slice_eq_cstr(crv, "Ed25519") ? qs_jwt_alg_bit(QS_JWT_EDDSA) : 0;
  if (qs_slice_eq_cstr(kty, "oct"))
    return qs_jwt_alg_bit(QS_JWT_HS256) | qs_jwt_alg_bit(QS_JWT_HS384) | qs_jwt_alg_bit(QS_JWT_HS512);
  return 0;
}

qs_jwt_alg_set_t qs_jwk_algorithms(const json_t *jwk, qs_jwt_alg_set_t allowed) {
  if (!json_is_object(jwk)) return 0;
  /* RFC 7517 §4.2, §4.3: a key meant for encryption is not a signature key. */
  const json_t *use = json_object_get(jwk, "use");
  if (use && !(json_is_string(use) && strcmp(json_string_value(use), "sig") == 0)) return 0;
  const json_t *ops = json_object_get(jwk, "key_ops");
  if (ops) {
    bool verify = false;
    size_t i;
    const json_t *op;
    json_array_foreach(ops, i, op) verify |=
        json_is_string(op) && strcmp(json_string_value(op), "verify") == 0;
    if (!verify) return 0;
  }
  qs_jwt_alg_set_t algs = kty_algorithms(jwk) & allowed;
  const json_t *alg = json_object_get(jwk, "alg");
  if (alg) {
    qs_jwt_alg_t pinned;
    if (!json_is_string(alg) ||
        qs_jwt_alg_parse(qs_slice(json_string_value(alg), json_string_length(alg)), &pinned) != 0)
      return 0;
    algs &= qs_jwt_alg_bit(pinned);
  }
  return algs;
}

/* Decodes a base64url member into `out` (at most MAX_MEMBER_BYTES). */
static int decode_member(const json_t *jwk, const char *name, qs_buf_t *out) {
  qs_slice_t value = member(jwk, name);
  if (!value.len) return QS_EPARSE;
  return qs_base64url_decode(value, out);
}

static EVP_PKEY *from_params(const char *type, OSSL_PARAM_BLD *bld) {
  OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
  EVP_PKEY *pkey = NULL;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
      EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    pkey = NULL;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return pkey;
}

static EVP_PKEY *rsa_key(const json_t *jwk, const char **why) {
  qs_buf_t n, e;
  qs_buf_init(&n, MAX_MEMBER_BYTES);
  qs_buf_init(&e, 16);
  EVP_PKEY *pkey = NULL;
  BIGNUM *bn_n = NULL, *bn_e = NULL;
  OSSL_PARAM_BLD *bld = NULL;
  if (decode_member(jwk, "n", &n) || decode_member(jwk, "e", &e)) {
    *why = "an RSA JWK needs base64url `n` and `e`";
  } else if (!(bn_n = BN_bin2bn((const unsigned char *)n.ptr, (int)n.len, NULL)) ||
             !(bn_e = BN_bin2bn((const unsigned char *)e.ptr, (int)e.len, NULL)) ||
             !(bld = OSSL_PARAM_BLD_new()) || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
             !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) || !(pkey = from_params("RSA", bld))) {
    *why = "the RSA JWK is not a valid public key";
  }
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn_n);
  BN_free(bn_e);
  qs_buf_dispose(&n);
  qs_buf_dispose(&e);
  return pkey;
}

static EVP_PKEY *ec_key(const json_t *jwk, const char **why) {
  qs_slice_t crv = member(jwk, "crv");
  const char *group = qs_slice_eq_cstr(crv, "P-256")   ? "P-256"
                      : qs_slice_eq_cstr(crv, "P-384") ? "P-384"
                      : qs_slice_eq_cstr(crv, "P-521") ? "P-521"
                                                       : NULL;
  size_t size = qs_slice_eq_cstr(crv, "P-256") ? 32 : qs_slice_eq_cstr(crv, "P-384") ? 48 : 66;
  if (!group) {
    *why = "an EC JWK needs crv P-256, P-384 or P-521";
    return NULL;
  }
  qs_buf_t point;
  qs_buf_init(&point, 1 + 2 * 66);
  EVP_PKEY *pkey = NULL;
  OSSL_PARAM_BLD *bld = NULL;
  /* RFC 7518 §6.2.1.2: x and y are the full field size; the point is 0x04 || x || y. */
  size_t x_end = 0;
  int rc = qs_buf_append(&point, "\x04", 1);
  if (!rc) rc = decode_member(jwk, "x", &point);
  x_end = point.len;
  if (!rc) rc = decode_member(jwk, "y", &point);
  if (rc || x_end != 1 + size || point.len != 1 + 2 * size) {
    *why = "an EC JWK needs base64url `x` and `y` of the curve's size";
  } else if (!(bld = OSSL_PARAM_BLD_new()) ||
             !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
             !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.ptr, point.len) ||
             !(pkey = from_params("EC", bld))) {
    *why = "the EC JWK is not a point of its curve";
  }
  OSSL_PARAM_BLD_free(bld);
  qs_buf_dispose(&point);
  return pkey;
}

static EVP_PKEY *okp_key(const json_t *jwk, const char **why) {
  if (!qs_slice_eq_cstr(member(jwk, "crv"), "Ed25519")) {
    *why = "an OKP JWK needs crv Ed25519";
    return NULL;
  }
  qs_buf_t x;
  qs_buf_init(&x, 64);
  EVP_PKEY *pkey = NULL;
  if (decode_member(jwk, "x", &x) || x.len != 32)
    *why = "an Ed25519 JWK needs a 32-byte base64url `x`";
  else if (!(pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, (const unsigned char *)x.ptr, 32)))
    *why = "the Ed25519 JWK is not a valid public key";
  qs_buf_dispose(&x);
  return pkey;
}

/* Creates the key through its PEM form, so that every check of
 * qs_jwt_key_create() applies to JWKs too. */
static int key_from_pkey(EVP_PKEY *pkey, qs_jwt_alg_t alg, qs_jwt_key_t **out, const char **reason) {
  BIO *bio = BIO_new(BIO_s_mem());
  int rc = QS_ENOMEM;
  if (bio && PEM_write_bio_PUBKEY(bio, pkey) == 1) {
    char *pem = NULL;
    long len = BIO_get_mem_data(bio, &pem);
    rc = qs_jwt_key_create(alg, qs_slice(pem, (size_t)len), out, reason);
  }
  BIO_free(bio);
  return rc;
}

int qs_jwk_key_create(const json_t *jwk, qs_jwt_alg_t alg, qs_jwt_key_t **out, const char **reason) {
  *out = NULL;
  const char *why = NULL;
  if (!json_is_object(jwk)) {
    why = "a JWK is a JSON object";
  } else if (!(qs_jwk_algorithms(jwk, qs_jwt_alg_bit(alg)) & qs_jwt_alg_bit(alg))) {
    why = "the JWK does not fit the algorithm (kty, crv, alg, use or key_ops)";
  }
  if (why) {
    if (reason) *reason = why;
    return QS_EINVAL;
  }
  qs_slice_t kty = member(jwk, "kty");
  if (qs_slice_eq_cstr(kty, "oct")) {
    qs_buf_t k;
    qs_buf_init(&k, 4096);
    int rc = decode_member(jwk, "k", &k);
    if (rc) {
      if (reason) *reason = "an oct JWK needs a base64url `k`";
      rc = QS_EINVAL;
    } else {
      rc = qs_jwt_key_create(alg, qs_buf_slice(&k), out, reason);
    }
    if (k.ptr) OPENSSL_cleanse(k.ptr, k.len);
    qs_buf_dispose(&k);
    return rc;
  }
  EVP_PKEY *pkey = qs_slice_eq_cstr(kty, "RSA")  ? rsa_key(jwk, &why)
                   : qs_slice_eq_cstr(kty, "EC") ? ec_key(jwk, &why)
                                                 : okp_key(jwk, &why);
  if (!pkey) {
    if (reason) *reason = why ? why : "unsupported JWK";
    return QS_EINVAL;
  }
  int rc = key_from_pkey(pkey, alg, out, reason);
  EVP_PKEY_free(pkey);
  return rc;
}

void qs_jwks_set_release(qs_jwks_set_t *set) {
  if (!set || atomic_fetch_sub_explicit(&set->refs, 1, memory_order_acq_rel) != 1) return;
  for (size_t i = 0; i < set->count; i++) {
    free(set->entries[i].kid);
    qs_jwt_key_destroy(set->entries[i].key);
  }
  free(set->entries);
  free(set);
}

/* Adds one entry per usable algorithm of `jwk`; a JWK that gives nothing is counted as skipped. */
static int add_jwk(qs_jwks_set_t *set, const json_t *jwk, qs_jwt_alg_set_t allowed) {
  qs_jwt_alg_set_t algs = qs_jwk_algorithms(jwk, allowed);
  qs_slice_t kid = member(jwk, "kid");
  size_t before = set->count;
  for (int a = QS_JWT_HS256; a <= QS_JWT_EDDSA; a++) {
    if (!(algs & qs_jwt_alg_bit((qs_jwt_alg_t)a))) continue;
    qs_jwt_key_t *key = NULL;
    const char *why = NULL;
    int rc = qs_jwk_key_create(jwk, (qs_jwt_alg_t)a, &key, &why);
    if (rc == QS_ENOMEM) return rc;
    if (rc) break; /* the key material itself is unusable: same for every algorithm */
    qs_jwks_entry_t *e = &set->entries[set->count];
    e->key = key;
    e->kid = kid.len ? qs_slice_strdup(kid) : NULL;
    set->count++;
    if (kid.len && !e->kid) return QS_ENOMEM;
  }
  if (set->count == before) set->skipped++;
  return 0;
}

int qs_jwks_set_parse(const char *text, size_t len, qs_jwt_alg_set_t allowed, qs_jwks_set_t **out,
                      const char **reason) {
  *out = NULL;
  json_t *doc = qs_json_parse_object(text, len);
  const json_t *keys = doc ? json_object_get(doc, "keys") : NULL;
  if (!json_is_array(keys)) {
    json_decref(doc);
    if (reason) *reason = "not a JWK Set: a JSON object with a `keys` array expected";
    return QS_EPARSE;
  }
  if (json_array_size(keys) > MAX_JWKS_KEYS) {
    json_decref(doc);
    if (reason) *reason = "the JWK Set has more than 256 keys";
    return QS_EPARSE;
  }
  qs_jwks_set_t *set = calloc(1, sizeof *set);
  /* At most six entries per JWK (an RSA key without `alg`). */
  if (set && json_array_size(keys)) set->entries = calloc(json_array_size(keys) * 6, sizeof *set->entries);
  if (!set || (json_array_size(keys) && !set->entries)) {
    free(set);
    json_decref(doc);
    return QS_ENOMEM;
  }
  atomic_init(&set->refs, 1);
  int rc = 0;
  size_t i;
  const json_t *jwk;
  json_array_foreach(keys, i, jwk) {
    if ((rc = add_jwk(set, jwk, allowed)) != 0) break;
  }
  json_decref(doc);
  if (rc) {
    qs_jwks_set_release(set);
    return rc;
  }
  *out = set;
  return 0;
}
