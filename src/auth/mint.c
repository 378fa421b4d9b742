#include "auth/mint.h"

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#include "auth/base64url.h"
#include "auth/claims.h"
#include "base/clock.h"
#include "base/error.h"

int qs_jwt_sign_hs(qs_jwt_alg_t alg, qs_slice_t secret, qs_slice_t header_json, qs_slice_t claims_json,
                   qs_buf_t *out) {
  if (!qs_jwt_alg_is_hmac(alg) || secret.len == 0) return QS_EINVAL;
  size_t start = out->len;
  qs_buf_t tag;
  qs_buf_init(&tag, 64);
  int rc = qs_base64url_encode(header_json.ptr, header_json.len, out);
  if (!rc) rc = qs_buf_append(out, ".", 1);
  if (!rc) rc = qs_base64url_encode(claims_json.ptr, claims_json.len, out);
  if (!rc) rc = qs_jwt_hmac(alg, secret, qs_slice(out->ptr + start, out->len - start), &tag);
  if (!rc) rc = qs_buf_append(out, ".", 1);
  if (!rc) rc = qs_base64url_encode(tag.ptr, tag.len, out);
  qs_buf_dispose(&tag);
  if (rc) {
    out->len = start;
    if (out->ptr) out->ptr[start] = '\0';
  }
  return rc;
}

static bool alg_in(qs_jwt_alg_t alg, qs_jwt_alg_t first, qs_jwt_alg_t last) {
  return alg >= first && alg <= last;
}

static const char *sign_digest(qs_jwt_alg_t alg) {
  if (alg == QS_JWT_EDDSA) return NULL;
  int bits = (alg - QS_JWT_RS256) % 3;
  return bits == 0 ? "SHA256" : bits == 1 ? "SHA384" : "SHA512";
}

/* Checks that a private key fits the algorithm (same rules as verification keys). */
static const char *check_private(qs_jwt_alg_t alg, EVP_PKEY *pkey) {
  if (alg_in(alg, QS_JWT_RS256, QS_JWT_PS512)) {
    if (!EVP_PKEY_is_a(pkey, "RSA") && !EVP_PKEY_is_a(pkey, "RSA-PSS")) return "RS* and PS* need an RSA key";
    if (EVP_PKEY_get_bits(pkey) < 2048) return "RSA keys must have at least 2048 bits";
    return NULL;
  }
  if (alg_in(alg, QS_JWT_ES256, QS_JWT_ES512)) {
    int bits = alg == QS_JWT_ES256 ? 256 : alg == QS_JWT_ES384 ? 384 : 521;
    if (!EVP_PKEY_is_a(pkey, "EC") || EVP_PKEY_get_bits(pkey) != bits)
      return "ES256/ES384/ES512 need an EC key on P-256/P-384/P-521";
    return NULL;
  }
  if (alg == QS_JWT_EDDSA) return EVP_PKEY_is_a(pkey, "ED25519") ? NULL : "EdDSA needs an Ed25519 key";
  return "unsupported algorithm";
}

/* RFC 7518 §3.4: DER SEQUENCE { r, s } to R || S, each padded to the curve's size. */
static int der_to_jose(qs_jwt_alg_t alg, const unsigned char *der, size_t der_len, qs_buf_t *out) {
  size_t half = alg == QS_JWT_ES256 ? 32 : alg == QS_JWT_ES384 ? 48 : 66;
  ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &der, (long)der_len);
  if (!sig) return QS_EINVAL;
  unsigned char rs[2 * 66];
  const BIGNUM *r, *s;
  ECDSA_SIG_get0(sig, &r, &s);
  int ok = BN_bn2binpad(r, rs, (int)half) == (int)half && BN_bn2binpad(s, rs + half, (int)half) == (int)half;
  ECDSA_SIG_free(sig);
  return ok ? qs_buf_append(out, rs, 2 * half) : QS_EINVAL;
}

static int sign_pkey(qs_jwt_alg_t alg, qs_slice_t pem, qs_slice_t input, qs_buf_t *out, const char **reason) {
  BIO *bio = BIO_new_mem_buf(pem.ptr, (int)pem.len);
  EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
  BIO_free(bio);
  if (!pkey) {
    *reason = "the key is not a PEM private key";
    return QS_EINVAL;
  }
  const char *why = check_private(alg, pkey);
  if (why) {
    EVP_PKEY_free(pkey);
    *reason = why;
    return QS_EINVAL;
  }
  int rc = QS_ENOMEM;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  unsigned char *sig = NULL;
  size_t sig_len = 0;
  if (ctx && EVP_DigestSignInit_ex(ctx, &pctx, sign_digest(alg), NULL, NULL, pkey, NULL) == 1) {
    bool ready = true;
    if (alg_in(alg, QS_JWT_PS256, QS_JWT_PS512)) {
      ready = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
              EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
    } else if (alg_in(alg, QS_JWT_RS256, QS_JWT_RS512)) {
      ready = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
    }
    const unsigned char *data = (const unsigned char *)input.ptr;
    if (ready && EVP_DigestSign(ctx, NULL, &sig_len, data, input.len) == 1 &&
        (sig = OPENSSL_malloc(sig_len)) && EVP_DigestSign(ctx, sig, &sig_len, data, input.len) == 1) {
      qs_buf_t raw;
      qs_buf_init(&raw, 1024);
      rc = alg_in(alg, QS_JWT_ES256, QS_JWT_ES512) ? der_to_jose(alg, sig, sig_len, &raw)
                                                   : qs_buf_append(&raw, sig, sig_len);
      if (!rc) rc = qs_base64url_encode(raw.ptr, raw.len, out);
      qs_buf_dispose(&raw);
    } else {
      *reason = "signing failed";
      rc = QS_EINVAL;
    }
  }
  OPENSSL_free(sig);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  return rc;
}

int qs_jwt_sign(qs_jwt_alg_t alg, qs_slice_t key, qs_slice_t header_json, qs_slice_t claims_json,
                qs_buf_t *out, const char **reason) {
  const char *why = "out of memory";
  if (qs_jwt_alg_is_hmac(alg)) {
    int rc = qs_jwt_sign_hs(alg, key, header_json, claims_json, out);
    if (rc == QS_EINVAL) why = "HS* algorithms need a non-empty secret";
    if (rc && reason) *reason = why;
    return rc;
  }
  if (alg == QS_JWT_ALG_INVALID) {
    if (reason) *reason = "unsupported algorithm";
    return QS_EINVAL;
  }
  size_t start = out->len;
  int rc = qs_base64url_encode(header_json.ptr, header_json.len, out);
  if (!rc) rc = qs_buf_append(out, ".", 1);
  if (!rc) rc = qs_base64url_encode(claims_json.ptr, claims_json.len, out);
  if (!rc) rc = qs_buf_append(out, ".", 1);
  if (!rc) {
    /* The signing input is copied: `out` may move while the signature is appended. */
    char *input = qs_slice_strdup(qs_slice(out->ptr + start, out->len - start - 1));
    rc = input ? sign_pkey(alg, key, qs_slice(input, out->len - start - 1), out, &why) : QS_ENOMEM;
    free(input);
  }
  if (rc) {
    out->len = start;
    if (out->ptr) out->ptr[start] = '\0';
    if (reason) *reason = why;
  }
  return rc;
}

static json_t *string_array(const qs_slice_t *items, size_t count) {
  json_t *array = json_array();
  for (size_t i = 0; array && i < count; i++) {
    if (json_array_append_new(array, json_stringn(items[i].ptr, items[i].len))) {
      json_decref(array);
      return NULL;
    }
  }
  return array;
}

static json_t *topic_array(const qs_slice_t *items, size_t count, qs_match_type_t default_type,
                           const qs_match_type_t *types) {
  json_t *array = json_array();
  for (size_t i = 0; array && i < count; i++) {
    qs_match_type_t type = types ? types[i] : default_type;
    json_t *topic = json_object();
    if (!topic || json_object_set_new(topic, "match", json_stringn(items[i].ptr, items[i].len)) ||
        (type != QS_MATCH_EXACT &&
         json_object_set_new(topic, "match_type", json_string(qs_match_type_name(type)))) ||
        json_array_append_new(array, topic)) {
      json_decref(array);
      return NULL;
    }
  }
  return array;
}

static json_t *detail(const char *action, const qs_slice_t *items, size_t count, qs_match_type_t type,
                      const qs_match_type_t *types, json_t *payload) {
  json_t *d = json_object();
  if (!d || json_object_set_new(d, "type", json_string(QS_CLAIMS_DETAIL_TYPE)) ||
      json_object_set_new(d, "actions", json_pack("[s]", action)) ||
      json_object_set_new(d, "topics", topic_array(items, count, type, types)) ||
      (payload && json_object_set(d, "payload", payload))) {
    json_decref(d);
    return NULL;
  }
  return d;
}

static json_t *build_claims(const qs_token_spec_t *spec, int64_t now_ms, json_t *payload) {
  json_t *claims = json_object();
  if (!claims) return NULL;
  bool ok = true;
  bool draft08 = spec->format == QS_TOKEN_FORMAT_DRAFT08;
  /* Member order of the reference hub's mercure-token: iss, aud, sub, client_id, iat, exp, jti. */
  if (spec->issuer.len)
    ok = !json_object_set_new(claims, "iss", json_stringn(spec->issuer.ptr, spec->issuer.len));
  if (ok && draft08 && spec->audience.len)
    ok = !json_object_set_new(claims, "aud", json_stringn(spec->audience.ptr, spec->audience.len));
  if (ok && spec->subject.len)
    ok = !json_object_set_new(claims, "sub", json_stringn(spec->subject.ptr, spec->subject.len));
  if (ok && draft08 && spec->client_id.len)
    ok = !json_object_set_new(claims, "client_id", json_stringn(spec->client_id.ptr, spec->client_id.len));
  if (ok && draft08) ok = !json_object_set_new(claims, "iat", json_integer(now_ms / 1000));
  if (ok && spec->expires_s > 0)
    ok = !json_object_set_new(claims, "exp", json_integer(spec->expires_s));
  else if (ok && spec->lifetime_s > 0)
    ok = !json_object_set_new(claims, "exp", json_integer(now_ms / 1000 + spec->lifetime_s));
  if (ok && draft08 && spec->jti.len)
    ok = !json_object_set_new(claims, "jti", json_stringn(spec->jti.ptr, spec->jti.len));
  if (spec->format == QS_TOKEN_FORMAT_LEGACY) {
    json_t *mercure = json_object();
    ok = ok && mercure &&
         !json_object_set_new(mercure, "publish", string_array(spec->publish, spec->publish_count)) &&
         !json_object_set_new(mercure, "subscribe", string_array(spec->subscribe, spec->subscribe_count)) &&
         !(payload && json_object_set(mercure, "payload", payload));
    ok = ok && !json_object_set_new(claims, "mercure", mercure);
  } else {
    json_t *details = json_array();
    json_t *sub = spec->subscribe_count ? detail("subscribe", spec->subscribe, spec->subscribe_count,
                                                 spec->match_type, spec->subscribe_match_types, payload)
                                        : NULL;
    json_t *pub = spec->publish_count ? detail("publish", spec->publish, spec->publish_count,
                                               spec->match_type, spec->publish_match_types, NULL)
                                      : NULL;
    ok = ok && details && (sub || !spec->subscribe_count) && (pub || !spec->publish_count);
    json_t *first = spec->publish_first ? pub : sub, *second = spec->publish_first ? sub : pub;
    if (ok && first) ok = !json_array_append(details, first);
    if (ok && second) ok = !json_array_append(details, second);
    json_decref(sub);
    json_decref(pub);
    ok = ok && details && !json_object_set_new(claims, "authorization_details", details);
  }
  if (!ok) {
    json_decref(claims);
    return NULL;
  }
  return claims;
}

int qs_token_mint(const qs_token_spec_t *spec, qs_buf_t *out) {
  qs_jwt_alg_t alg = spec->alg ? spec->alg : QS_JWT_HS256;
  if (spec->secret.len == 0) return QS_EINVAL;
  if (spec->format == QS_TOKEN_FORMAT_DRAFT08 && spec->lifetime_s <= 0 && spec->expires_s <= 0)
    return QS_EINVAL;
  int64_t now_ms = spec->now_ms ? spec->now_ms : qs_clock_wall_ms();
  json_t *payload = NULL;
  if (spec->payload_json.len) {
    json_error_t error;
    payload = json_loadb(spec->payload_json.ptr, spec->payload_json.len, JSON_DECODE_ANY, &error);
    if (!payload) return QS_EINVAL;
  }
  json_t *claims = build_claims(spec, now_ms, payload);
  json_decref(payload);
  if (!claims) return QS_ENOMEM;
  char *claims_text = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(claims);
  if (!claims_text) return QS_ENOMEM;
  json_t *header = json_pack("{s:s,s:s}", "typ", spec->format == QS_TOKEN_FORMAT_LEGACY ? "JWT" : "at+jwt",
                             "alg", qs_jwt_alg_name(alg));
  if (header && spec->kid.len) json_object_set_new(header, "kid", json_stringn(spec->kid.ptr, spec->kid.len));
  char *header_text = header ? json_dumps(header, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(header);
  const char *reason = NULL;
  int rc = header_text ? qs_jwt_sign(alg, spec->secret, qs_slice_from_cstr(header_text),
                                     qs_slice_from_cstr(claims_text), out, &reason)
                       : QS_ENOMEM;
  free(header_text);
  free(claims_text);
  return rc;
}
