#include "auth/key.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

#define MAX_SECRET_BYTES 4096
#define MAX_PEM_BYTES 16384
#define MIN_RSA_BITS 2048

struct qs_jwt_key {
  qs_jwt_alg_t alg;
  unsigned char *secret; /* HS*: owned copy */
  size_t secret_len;
  EVP_MAC *mac;   /* HS*: fetched once, shared by every verification */
  EVP_PKEY *pkey; /* others: the public key */
};

static const struct {
  const char *name;
  qs_jwt_alg_t alg;
} alg_names[] = {
    {"HS256", QS_JWT_HS256}, {"HS384", QS_JWT_HS384}, {"HS512", QS_JWT_HS512}, {"RS256", QS_JWT_RS256},
    {"RS384", QS_JWT_RS384}, {"RS512", QS_JWT_RS512}, {"PS256", QS_JWT_PS256}, {"PS384", QS_JWT_PS384},
    {"PS512", QS_JWT_PS512}, {"ES256", QS_JWT_ES256}, {"ES384", QS_JWT_ES384}, {"ES512", QS_JWT_ES512},
    {"EdDSA", QS_JWT_EDDSA},
};

int qs_jwt_alg_parse(qs_slice_t name, qs_jwt_alg_t *out) {
  for (size_t i = 0; i < sizeof alg_names / sizeof alg_names[0]; i++) {
    if (qs_slice_eq_cstr(name, alg_names[i].name)) {
      *out = alg_names[i].alg;
      return 0;
    }
  }
  return QS_EUNSUPPORTED;
}

const char *qs_jwt_alg_name(qs_jwt_alg_t alg) {
  for (size_t i = 0; i < sizeof alg_names / sizeof alg_names[0]; i++)
    if (alg_names[i].alg == alg) return alg_names[i].name;
  return "invalid";
}

bool qs_jwt_alg_is_hmac(qs_jwt_alg_t alg) {
  return alg == QS_JWT_HS256 || alg == QS_JWT_HS384 || alg == QS_JWT_HS512;
}

/* The digest name an algorithm hashes with; NULL for EdDSA (which hashes internally). */
static const char *digest_name(qs_jwt_alg_t alg) {
  switch (alg) {
    case QS_JWT_HS256:
    case QS_JWT_RS256:
    case QS_JWT_PS256:
    case QS_JWT_ES256:
      return "SHA256";
    case QS_JWT_HS384:
    case QS_JWT_RS384:
    case QS_JWT_PS384:
    case QS_JWT_ES384:
      return "SHA384";
    case QS_JWT_HS512:
    case QS_JWT_RS512:
    case QS_JWT_PS512:
    case QS_JWT_ES512:
      return "SHA512";
    default:
      return NULL;
  }
}

static bool is_rsa(qs_jwt_alg_t alg) { return alg >= QS_JWT_RS256 && alg <= QS_JWT_PS512; }
static bool is_pss(qs_jwt_alg_t alg) { return alg >= QS_JWT_PS256 && alg <= QS_JWT_PS512; }
static bool is_ec(qs_jwt_alg_t alg) { return alg >= QS_JWT_ES256 && alg <= QS_JWT_ES512; }

/* RFC 7518 §3.4: the curve each ES* algorithm requires, as a field size in bits. */
static int ec_bits(qs_jwt_alg_t alg) { return alg == QS_JWT_ES256 ? 256 : alg == QS_JWT_ES384 ? 384 : 521; }

static bool looks_like_pem(qs_slice_t s) {
  static const char marker[] = "-----BEGIN";
  if (s.len < sizeof marker - 1) return false;
  for (size_t i = 0; i + sizeof marker - 1 <= s.len; i++)
    if (memcmp(s.ptr + i, marker, sizeof marker - 1) == 0) return true;
  return false;
}

/* Reads a PEM public key, or the public key of a PEM certificate. */
static EVP_PKEY *read_public_key(qs_slice_t pem) {
  BIO *bio = BIO_new_mem_buf(pem.ptr, (int)pem.len);
  if (!bio) return NULL;
  EVP_PKEY *pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
  if (!pkey) {
    (void)BIO_reset(bio);
    X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (cert) {
      pkey = X509_get_pubkey(cert);
      X509_free(cert);
    }
  }
  BIO_free(bio);
  return pkey;
}

/* Checks that a public key's type fits the algorithm. */
static const char *check_pkey(qs_jwt_alg_t alg, EVP_PKEY *pkey) {
  if (is_rsa(alg)) {
    if (!EVP_PKEY_is_a(pkey, "RSA") && !(is_pss(alg) && EVP_PKEY_is_a(pkey, "RSA-PSS")))
      return "RS* and PS* need an RSA public key";
    if (EVP_PKEY_get_bits(pkey) < MIN_RSA_BITS) return "RSA keys must have at least 2048 bits";
    return NULL;
  }
  if (is_ec(alg)) {
    if (!EVP_PKEY_is_a(pkey, "EC")) return "ES* needs an EC public key";
    if (EVP_PKEY_get_bits(pkey) != ec_bits(alg)) return "the EC key's curve does not fit the algorithm";
    return NULL;
  }
  if (alg == QS_JWT_EDDSA) {
    if (!EVP_PKEY_is_a(pkey, "ED25519")) return "EdDSA needs an Ed25519 public key";
    return NULL;
  }
  return "unsupported algorithm";
}

int qs_jwt_key_create(qs_jwt_alg_t alg, qs_slice_t material, qs_jwt_key_t **out, const char **reason) {
  *out = NULL;
  const char *why = NULL;
  if (alg == QS_JWT_ALG_INVALID || (!qs_jwt_alg_is_hmac(alg) && !digest_name(alg) && alg != QS_JWT_EDDSA)) {
    why = "unsupported algorithm";
  } else if (material.len == 0) {
    why = "the key is empty";
  } else if (qs_jwt_alg_is_hmac(alg) && looks_like_pem(material)) {
    /* RFC 8725 §3.1: a public key used as an HMAC secret lets anyone forge tokens. */
    why = "HS* algorithms need a shared secret, not a PEM key";
  } else if (qs_jwt_alg_is_hmac(alg) && material.len > MAX_SECRET_BYTES) {
    why = "the secret is too long";
  } else if (!qs_jwt_alg_is_hmac(alg) && (!looks_like_pem(material) || material.len > MAX_PEM_BYTES)) {
    why = "this algorithm needs a PEM public key or certificate";
  }
  if (why) {
    if (reason) *reason = why;
    return QS_EINVAL;
  }
  qs_jwt_key_t *key = calloc(1, sizeof *key);
  if (!key) return QS_ENOMEM;
  key->alg = alg;
  if (qs_jwt_alg_is_hmac(alg)) {
    key->secret = malloc(material.len);
    if (!key->secret) {
      free(key);
      return QS_ENOMEM;
    }
    memcpy(key->secret, material.ptr, material.len);
    key->secret_len = material.len;
    if (!(key->mac = EVP_MAC_fetch(NULL, "HMAC", NULL))) {
      qs_jwt_key_destroy(key);
      return QS_ENOMEM;
    }
  } else {
    key->pkey = read_public_key(material);
    why = key->pkey ? check_pkey(alg, key->pkey) : "the PEM public key or certificate cannot be read";
    if (why) {
      qs_jwt_key_destroy(key);
      if (reason) *reason = why;
      return QS_EINVAL;
    }
  }
  *out = key;
  return 0;
}

void qs_jwt_key_destroy(qs_jwt_key_t *key) {
  if (!key) return;
  if (key->secret) {
    OPENSSL_cleanse(key->secret, key->secret_len);
    free(key->secret);
  }
  EVP_MAC_free(key->mac);
  EVP_PKEY_free(key->pkey);
  free(key);
}

qs_jwt_alg_t qs_jwt_key_alg(const qs_jwt_key_t *key) { return key->alg; }

/* Computes HMAC-SHA2 into `tag` (at least EVP_MAX_MD_SIZE bytes); returns its length or 0. */
static size_t hmac(EVP_MAC *mac, qs_jwt_alg_t alg, const unsigned char *secret, size_t secret_len,
                   qs_slice_t data, unsigned char *tag) {
  size_t tag_len = 0;
  EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
  if (ctx) {
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest_name(alg), 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_init(ctx, secret, secret_len, params) != 1 ||
        EVP_MAC_update(ctx, (const unsigned char *)data.ptr, data.len) != 1 ||
        EVP_MAC_final(ctx, tag, &tag_len, EVP_MAX_MD_SIZE) != 1)
      tag_len = 0;
  }
  EVP_MAC_CTX_free(ctx);
  return tag_len;
}

int qs_jwt_hmac(qs_jwt_alg_t alg, qs_slice_t secret, qs_slice_t data, qs_buf_t *out) {
  if (!qs_jwt_alg_is_hmac(alg) || secret.len == 0) return QS_EINVAL;
  unsigned char tag[EVP_MAX_MD_SIZE];
  EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  size_t tag_len = hmac(mac, alg, (const unsigned char *)secret.ptr, secret.len, data, tag);
  EVP_MAC_free(mac);
  if (tag_len == 0) return QS_ENOMEM;
  return qs_buf_append(out, tag, tag_len);
}

/* RFC 7518 §3.4: an ES* signature is R || S, each padded to the curve's
 * byte size; OpenSSL verifies the DER SEQUENCE { INTEGER r, INTEGER s }. */
static unsigned char *jose_to_der(qs_jwt_alg_t alg, qs_slice_t signature, int *der_len) {
  size_t half = (size_t)(ec_bits(alg) + 7) / 8;
  if (signature.len != 2 * half) return NULL;
  ECDSA_SIG *sig = ECDSA_SIG_new();
  BIGNUM *r = BN_bin2bn((const unsigned char *)signature.ptr, (int)half, NULL);
  BIGNUM *s = BN_bin2bn((const unsigned char *)signature.ptr + half, (int)half, NULL);
  unsigned char *der = NULL;
  if (sig && r && s && ECDSA_SIG_set0(sig, r, s) == 1) {
    r = s = NULL; /* owned by sig now */
    *der_len = i2d_ECDSA_SIG(sig, &der);
    if (*der_len <= 0) der = NULL;
  }
  BN_free(r);
  BN_free(s);
  ECDSA_SIG_free(sig);
  return der;
}

static int verify_pkey(const qs_jwt_key_t *key, qs_slice_t signing_input, qs_slice_t signature) {
  const unsigned char *sig = (const unsigned char *)signature.ptr;
  size_t sig_len = signature.len;
  unsigned char *der = NULL;
  if (is_ec(key->alg)) {
    int der_len = 0;
    der = jose_to_der(key->alg, signature, &der_len);
    if (!der) return QS_EAUTH;
    sig = der;
    sig_len = (size_t)der_len;
  } else if (key->alg == QS_JWT_EDDSA && signature.len != 64) {
    return QS_EAUTH;
  }
  int rc = QS_EAUTH;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  const char *md = digest_name(key->alg);
  if (ctx && EVP_DigestVerifyInit_ex(ctx, &pctx, md, NULL, NULL, key->pkey, NULL) == 1) {
    bool ready = true;
    if (is_pss(key->alg)) {
      /* RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash. */
      ready = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
              EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
    } else if (is_rsa(key->alg)) {
      ready = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
    }
    if (ready &&
        EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)signing_input.ptr, signing_input.len) == 1)
      rc = 0;
  } else if (!ctx) {
    rc = QS_ENOMEM;
  }
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  return rc;
}

int qs_jwt_key_verify(const qs_jwt_key_t *key, qs_jwt_alg_t alg, qs_slice_t signing_input,
                      qs_slice_t signature) {
  /* RFC 8725 §3.1: the key decides the algorithm, never the token. */
  if (alg != key->alg) return QS_EAUTH;
  if (qs_jwt_alg_is_hmac(alg)) {
    unsigned char tag[EVP_MAX_MD_SIZE];
    size_t tag_len = hmac(key->mac, alg, key->secret, key->secret_len, signing_input, tag);
    if (tag_len == 0) return QS_ENOMEM;
    if (signature.len != tag_len) return QS_EAUTH;
    return CRYPTO_memcmp(tag, signature.ptr, tag_len) == 0 ? 0 : QS_EAUTH;
  }
  return verify_pkey(key, signing_input, signature);
}

int qs_jwt_key_read(const char *value, qs_buf_t *out, const char **reason) {
  if (value[0] != '@') return qs_buf_append_cstr(out, value);
  bool is_stdin = strcmp(value, "@-") == 0;
  FILE *f = is_stdin ? stdin : fopen(value + 1, "rb");
  if (!f) {
    *reason = "cannot open the key file";
    return QS_EIO;
  }
  char chunk[4096];
  size_t total = 0, n;
  int rc = 0;
  while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    total += n;
    if (total > QS_JWT_KEY_MAX_FILE_BYTES) {
      *reason = "the key file is larger than 64 KiB";
      rc = QS_EIO;
    } else {
      rc = qs_buf_append(out, chunk, n);
    }
  }
  if (!rc && ferror(f)) {
    *reason = "cannot read the key file";
    rc = QS_EIO;
  }
  if (!is_stdin) fclose(f);
  /* A secret in a file usually ends with a newline that is not part of it. */
  while (!rc && out->len && (out->ptr[out->len - 1] == '\n' || out->ptr[out->len - 1] == '\r') &&
         !looks_like_pem(qs_buf_slice(out)))
    out->ptr[--out->len] = '\0';
  return rc;
}
