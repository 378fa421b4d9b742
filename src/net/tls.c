#include "net/tls.h"

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

struct qs_tls_context {
  pthread_mutex_t lock; /* guards `ssl_ctx` (the pointer, not the object) */
  SSL_CTX *ssl_ctx;
};

/* The memory BIOs belong to `ssl`: SSL_get_rbio() is the ciphertext fed in,
 * SSL_get_wbio() the ciphertext to send. */
struct qs_tls_session {
  SSL *ssl;
};

/* A memory BIO keeps the largest size it ever reached. Once one is empty and
 * has grown past this (a large response, a burst of requests) it is replaced
 * by a fresh one, so an idle connection does not keep that memory. */
#define SHRINK_BIO_ABOVE_BYTES (32 * 1024)

static const unsigned char alpn_h2[] = "h2";
static const unsigned char alpn_http11[] = "http/1.1";

/* Whether the client's ALPN list offers `proto`; points *out at it. */
static bool alpn_offers(const unsigned char *in, unsigned int in_len, const unsigned char *proto, size_t len,
                        const unsigned char **out) {
  unsigned int i = 0;
  while (i < in_len) {
    unsigned int n = in[i++];
    if (n > in_len - i) return false; /* a malformed list offers nothing more */
    if (n == len && memcmp(in + i, proto, len) == 0) {
      *out = in + i;
      return true;
    }
    i += n;
  }
  return false;
}

/* Picks "h2", else "http/1.1", from the client's ALPN list (RFC 7301,
 * section 3.2: a server that supports none of the offered protocols answers
 * with the no_application_protocol alert). */
static int on_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *out_len,
                          const unsigned char *in, unsigned int in_len, void *arg) {
  if (alpn_offers(in, in_len, alpn_h2, sizeof alpn_h2 - 1, out)) {
    *out_len = (unsigned char)(sizeof alpn_h2 - 1);
    return SSL_TLSEXT_ERR_OK;
  }
  if (alpn_offers(in, in_len, alpn_http11, sizeof alpn_http11 - 1, out)) {
    *out_len = (unsigned char)(sizeof alpn_http11 - 1);
    return SSL_TLSEXT_ERR_OK;
  }
  return in_len > 0 ? SSL_TLSEXT_ERR_ALERT_FATAL : SSL_TLSEXT_ERR_NOACK;
}

/* An encrypted private key must fail to load, not prompt on the terminal. */
static int on_password(char *buf, int size, int rwflag, void *arg) { return 0; }

static EVP_PKEY *read_private_key(const char *path) {
  BIO *bio = BIO_new_file(path, "r");
  if (!bio) return NULL;
  EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, on_password, NULL);
  BIO_free(bio);
  return key;
}

static bool file_readable(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return false;
  fclose(f);
  return true;
}

/* Builds a complete server SSL_CTX from the PEM files, or fails with a reason. */
static int build_ssl_ctx(const char *cert_path, const char *key_path, SSL_CTX **out, const char **reason) {
  *reason = NULL;
  if (!cert_path || !key_path) {
    *reason = !cert_path ? "tls_cert: no certificate file given" : "tls_key: no private key file given";
    return QS_EINVAL;
  }
  if (!file_readable(cert_path)) {
    *reason = "tls_cert: cannot open the certificate file (missing or unreadable)";
    return QS_EINVAL;
  }
  if (!file_readable(key_path)) {
    *reason = "tls_key: cannot open the private key file (missing or unreadable)";
    return QS_EINVAL;
  }
  SSL_CTX *c = SSL_CTX_new(TLS_server_method());
  if (!c) {
    ERR_clear_error();
    *reason = "tls: out of memory";
    return QS_ENOMEM;
  }
  if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1) {
    *reason = "tls: cannot restrict the protocol to TLS 1.2 and later";
    goto fail;
  }
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION);
  /* Without SSL_MODE_ENABLE_PARTIAL_WRITE a write takes all of its bytes. */
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_alpn_select_cb(c, on_alpn_select, NULL);
  /* Long-lived connections resume rarely: no server-side session cache (a
   * stored session per connection), and one TLS 1.3 ticket instead of two. */
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(c, 1);
  if (SSL_CTX_use_certificate_chain_file(c, cert_path) != 1) {
    *reason = "tls_cert: cannot read the certificate chain (not PEM, malformed or too weak a key)";
    goto fail;
  }
  /* The key is parsed here rather than by SSL_CTX_use_PrivateKey_file(),
   * which also fails on a key that does not match: the reason tells apart. */
  EVP_PKEY *key = read_private_key(key_path);
  if (!key) {
    *reason = "tls_key: cannot read the private key (not PEM, encrypted or malformed)";
    goto fail;
  }
  int used = SSL_CTX_use_PrivateKey(c, key);
  EVP_PKEY_free(key);
  if (used != 1 || SSL_CTX_check_private_key(c) != 1) {
    *reason = "tls_key: the private key does not match the certificate";
    goto fail;
  }
  *out = c;
  return 0;

fail:
  ERR_clear_error();
  SSL_CTX_free(c);
  return QS_EINVAL;
}

int qs_tls_context_create(const char *cert_path, const char *key_path, qs_tls_context_t **out,
                          const char **reason) {
  const char *ignored;
  if (!reason) reason = &ignored;
  *out = NULL;
  SSL_CTX *ssl_ctx = NULL;
  int rc = build_ssl_ctx(cert_path, key_path, &ssl_ctx, reason);
  if (rc) return rc;
  qs_tls_context_t *ctx = malloc(sizeof *ctx);
  if (!ctx || pthread_mutex_init(&ctx->lock, NULL) != 0) {
    free(ctx);
    SSL_CTX_free(ssl_ctx);
    *reason = "tls: out of memory";
    return QS_ENOMEM;
  }
  ctx->ssl_ctx = ssl_ctx;
  *out = ctx;
  return 0;
}

int qs_tls_context_reload(qs_tls_context_t *ctx, const char *cert_path, const char *key_path,
                          const char **reason) {
  const char *ignored;
  if (!reason) reason = &ignored;
  SSL_CTX *fresh = NULL;
  int rc = build_ssl_ctx(cert_path, key_path, &fresh, reason);
  if (rc) return rc;
  pthread_mutex_lock(&ctx->lock);
  SSL_CTX *old = ctx->ssl_ctx;
  ctx->ssl_ctx = fresh;
  pthread_mutex_unlock(&ctx->lock);
  /* Sessions made from the old context hold their own references to it. */
  SSL_CTX_free(old);
  return 0;
}

void qs_tls_context_destroy(qs_tls_context_t *ctx) {
  if (!ctx) return;
  SSL_CTX_free(ctx->ssl_ctx);
  pthread_mutex_destroy(&ctx->lock);
  free(ctx);
}

qs_tls_session_t *qs_tls_session_create(qs_tls_context_t *ctx) {
  qs_tls_session_t *s = malloc(sizeof *s);
  if (!s) return NULL;
  pthread_mutex_lock(&ctx->lock);
  s->ssl = SSL_new(ctx->ssl_ctx);
  pthread_mutex_unlock(&ctx->lock);
  BIO *rbio = BIO_new(BIO_s_mem());
  BIO *wbio = BIO_new(BIO_s_mem());
  if (!s->ssl || !rbio || !wbio) {
    BIO_free(rbio);
    BIO_free(wbio);
    SSL_free(s->ssl);
    free(s);
    ERR_clear_error();
    return NULL;
  }
  SSL_set_bio(s->ssl, rbio, wbio);
  SSL_set_accept_state(s->ssl);
  return s;
}

void qs_tls_session_destroy(qs_tls_session_t *s) {
  if (!s) return;
  SSL_free(s->ssl);
  free(s);
}

/* True for an empty memory BIO whose buffer has grown past the limit. */
static bool bio_should_shrink(BIO *bio) {
  if (BIO_ctrl_pending(bio) != 0) return false;
  BUF_MEM *mem = NULL;
  BIO_get_mem_ptr(bio, &mem);
  return mem && mem->max > SHRINK_BIO_ABOVE_BYTES;
}

int qs_tls_session_feed(qs_tls_session_t *s, const char *cipher, size_t len) {
  if (len == 0) return 0;
  BIO *rbio = SSL_get_rbio(s->ssl);
  if (bio_should_shrink(rbio)) {
    BIO *fresh = BIO_new(BIO_s_mem());
    if (fresh) SSL_set0_rbio(s->ssl, fresh); /* frees the old one */
    rbio = SSL_get_rbio(s->ssl);
  }
  size_t written = 0;
  if (BIO_write_ex(rbio, cipher, len, &written) != 1 || written != len) {
    ERR_clear_error();
    return QS_ENOMEM;
  }
  return 0;
}

qs_tls_status_t qs_tls_session_read(qs_tls_session_t *s, char *out, size_t cap, size_t *n) {
  *n = 0;
  /* SSL_get_error() trusts the thread's error queue: an error another
   * OpenSSL user on this thread left there would turn WANT_READ into a failure. */
  ERR_clear_error();
  size_t got = 0;
  if (SSL_read_ex(s->ssl, out, cap, &got) == 1) {
    *n = got;
    return QS_TLS_OK;
  }
  switch (SSL_get_error(s->ssl, 0)) {
    case SSL_ERROR_WANT_READ:
      return QS_TLS_WANT_READ;
    case SSL_ERROR_ZERO_RETURN:
      return QS_TLS_CLOSED;
    default:
      ERR_clear_error();
      return QS_TLS_ERROR;
  }
}

static bool out_of_memory(void) {
  unsigned long e;
  while ((e = ERR_get_error()) != 0)
    if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE) return true;
  return false;
}

int qs_tls_session_write(qs_tls_session_t *s, const char *plain, size_t len) {
  if (!SSL_is_init_finished(s->ssl)) return QS_EIO;
  ERR_clear_error();
  while (len > 0) {
    size_t done = 0;
    if (SSL_write_ex(s->ssl, plain, len, &done) != 1) {
      int rc = out_of_memory() ? QS_ENOMEM : QS_EIO;
      ERR_clear_error();
      return rc;
    }
    plain += done;
    len -= done;
  }
  return 0;
}

void qs_tls_session_shutdown(qs_tls_session_t *s) {
  if (SSL_get_shutdown(s->ssl) & SSL_SENT_SHUTDOWN) return;
  ERR_clear_error();
  /* Before the handshake is done this fails and queues nothing: there is no
   * session to close yet. */
  SSL_shutdown(s->ssl);
  ERR_clear_error();
}

size_t qs_tls_session_output_len(const qs_tls_session_t *s) { return BIO_ctrl_pending(SSL_get_wbio(s->ssl)); }

int qs_tls_session_take_output(qs_tls_session_t *s, qs_buf_t *out) {
  BIO *wbio = SSL_get_wbio(s->ssl);
  size_t pending = BIO_ctrl_pending(wbio);
  if (pending == 0) return 0;
  if (qs_buf_reserve(out, pending) != 0) return QS_ENOMEM;
  /* A memory BIO hands over everything it reports pending. */
  size_t got = 0;
  if (BIO_read_ex(wbio, out->ptr + out->len, pending, &got) != 1) ERR_clear_error();
  out->len += got;
  out->ptr[out->len] = '\0';
  if (bio_should_shrink(wbio)) {
    BIO *fresh = BIO_new(BIO_s_mem());
    if (fresh) SSL_set0_wbio(s->ssl, fresh); /* frees the old one */
  }
  return 0;
}

bool qs_tls_session_established(const qs_tls_session_t *s) { return SSL_is_init_finished(s->ssl); }

const char *qs_tls_session_alpn(const qs_tls_session_t *s) {
  const unsigned char *proto = NULL;
  unsigned int len = 0;
  SSL_get0_alpn_selected(s->ssl, &proto, &len);
  if (proto && len == sizeof alpn_http11 - 1 && memcmp(proto, alpn_http11, len) == 0) return "http/1.1";
  if (proto && len == sizeof alpn_h2 - 1 && memcmp(proto, alpn_h2, len) == 0) return "h2";
  return "";
}
