/* TLS sessions over memory buffers, driven by a real OpenSSL client: the
 * handshake and ALPN, plaintext both ways, close_notify, garbage input,
 * context errors and certificate reloads. The certificates are made here. */
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/error.h"
#include "net/tls.h"

/* ---- files: two self-signed certificates and a file that is not PEM ---- */

typedef struct {
  char dir[64];
  char a_cert[128], a_key[128]; /* CN a.test */
  char b_cert[128], b_key[128]; /* CN b.test */
  char not_pem[128];
  char missing[128];
} files_t;

static files_t files;

static void write_self_signed(const char *cert_path, const char *key_path, const char *cn, long serial) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  assert_non_null(key);
  X509 *x = X509_new();
  assert_non_null(x);
  assert_int_equal(X509_set_version(x, 2), 1);
  assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
  assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -60));
  assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
  assert_int_equal(X509_set_pubkey(x, key), 1);
  X509_NAME *name = X509_get_subject_name(x);
  assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0),
                   1);
  assert_int_equal(X509_set_issuer_name(x, name), 1);
  assert_true(X509_sign(x, key, EVP_sha256()) > 0);

  FILE *f = fopen(cert_path, "w");
  assert_non_null(f);
  assert_int_equal(PEM_write_X509(f, x), 1);
  fclose(f);
  f = fopen(key_path, "w");
  assert_non_null(f);
  assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
  fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
}

static int make_files(void **state) {
  snprintf(files.dir, sizeof files.dir, "/tmp/qs_tls_XXXXXX");
  if (!mkdtemp(files.dir)) return -1;
  snprintf(files.a_cert, sizeof files.a_cert, "%s/a.crt", files.dir);
  snprintf(files.a_key, sizeof files.a_key, "%s/a.key", files.dir);
  snprintf(files.b_cert, sizeof files.b_cert, "%s/b.crt", files.dir);
  snprintf(files.b_key, sizeof files.b_key, "%s/b.key", files.dir);
  snprintf(files.not_pem, sizeof files.not_pem, "%s/not.pem", files.dir);
  snprintf(files.missing, sizeof files.missing, "%s/missing.pem", files.dir);
  write_self_signed(files.a_cert, files.a_key, "a.test", 1);
  write_self_signed(files.b_cert, files.b_key, "b.test", 2);
  FILE *f = fopen(files.not_pem, "w");
  if (!f) return -1;
  fputs("this is not a PEM file\n", f);
  fclose(f);
  return 0;
}

static int remove_files(void **state) {
  const char *paths[] = {files.a_cert, files.a_key, files.b_cert, files.b_key, files.not_pem};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) unlink(paths[i]);
  return rmdir(files.dir);
}

static qs_tls_context_t *context_a(void) {
  qs_tls_context_t *ctx = NULL;
  const char *reason = NULL;
  int rc = qs_tls_context_create(files.a_cert, files.a_key, &ctx, &reason);
  if (rc != 0) fail_msg("context: %d %s", rc, reason ? reason : "(no reason)");
  return ctx;
}

/* ---- a client (OpenSSL, memory BIOs) connected to a server session ---- */

typedef struct {
  const unsigned char *alpn; /* wire format, NULL for no ALPN */
  unsigned int alpn_len;
  int max_version; /* 0: the library's default */
  bool legacy;     /* allow TLS 1.0 and 1.1 on the client */
} client_opts_t;

typedef struct {
  SSL_CTX *client_ctx;
  SSL *client;
  BIO *client_in;  /* ciphertext from the server, read by the client */
  BIO *client_out; /* ciphertext written by the client, for the server */
  unsigned long client_error;
  qs_tls_session_t *server;
  qs_buf_t received;      /* plaintext the server read */
  qs_tls_status_t status; /* the server's last read status other than QS_TLS_OK */
  size_t piece;           /* the most ciphertext given to the server in one feed */
} pair_t;

static const unsigned char alpn_h2_http11[] = "\x02h2\x08http/1.1";
static const unsigned char alpn_h2[] = "\x02h2";
static const unsigned char alpn_http11[] = "\x08http/1.1";
static const unsigned char alpn_other[] = "\x08spdy/3.1";

static void pair_init(pair_t *p, qs_tls_context_t *ctx, const client_opts_t *opts) {
  static const client_opts_t defaults = {0};
  if (!opts) opts = &defaults;
  memset(p, 0, sizeof *p);
  p->client_ctx = SSL_CTX_new(TLS_client_method());
  assert_non_null(p->client_ctx);
  SSL_CTX_set_verify(p->client_ctx, SSL_VERIFY_NONE, NULL);
  if (opts->legacy) {
    assert_int_equal(SSL_CTX_set_min_proto_version(p->client_ctx, TLS1_VERSION), 1);
    assert_int_equal(SSL_CTX_set_cipher_list(p->client_ctx, "DEFAULT:@SECLEVEL=0"), 1);
  }
  if (opts->max_version) {
    assert_int_equal(SSL_CTX_set_max_proto_version(p->client_ctx, opts->max_version), 1);
  }
  p->client = SSL_new(p->client_ctx);
  assert_non_null(p->client);
  p->client_in = BIO_new(BIO_s_mem());
  p->client_out = BIO_new(BIO_s_mem());
  assert_non_null(p->client_in);
  assert_non_null(p->client_out);
  SSL_set_bio(p->client, p->client_in, p->client_out);
  SSL_set_connect_state(p->client);
  if (opts->alpn) assert_int_equal(SSL_set_alpn_protos(p->client, opts->alpn, opts->alpn_len), 0);
  p->server = qs_tls_session_create(ctx);
  assert_non_null(p->server);
  qs_buf_init(&p->received, 8u << 20);
  p->status = QS_TLS_WANT_READ;
  p->piece = SIZE_MAX;
}

static void pair_dispose(pair_t *p) {
  SSL_free(p->client); /* frees both BIOs */
  SSL_CTX_free(p->client_ctx);
  qs_tls_session_destroy(p->server);
  qs_buf_dispose(&p->received);
}

/* Reads every plaintext byte the server can give, with a small buffer so the
 * "call until not QS_TLS_OK" loop runs. */
static void server_read(pair_t *p) {
  char plain[100];
  size_t n = 0;
  qs_tls_status_t st;
  while ((st = qs_tls_session_read(p->server, plain, sizeof plain, &n)) == QS_TLS_OK) {
    assert_true(n > 0 && n <= sizeof plain);
    assert_int_equal(qs_buf_append(&p->received, plain, n), 0);
  }
  assert_int_equal(n, 0);
  p->status = st;
}

/* Gives the server what the client wrote, `p->piece` bytes at a time. */
static size_t client_to_server(pair_t *p) {
  size_t moved = 0;
  char chunk[4096];
  int k;
  while ((k = BIO_read(p->client_out, chunk, sizeof chunk)) > 0) {
    for (size_t off = 0; off < (size_t)k; off += p->piece) {
      size_t len = (size_t)k - off < p->piece ? (size_t)k - off : p->piece;
      assert_int_equal(qs_tls_session_feed(p->server, chunk + off, len), 0);
      server_read(p);
    }
    moved += (size_t)k;
  }
  return moved;
}

static size_t server_to_client(pair_t *p) {
  qs_buf_t out;
  qs_buf_init(&out, 8u << 20);
  size_t pending = qs_tls_session_output_len(p->server);
  assert_int_equal(qs_tls_session_take_output(p->server, &out), 0);
  assert_int_equal(out.len, pending);
  assert_int_equal(qs_tls_session_output_len(p->server), 0);
  if (out.len) assert_int_equal(BIO_write(p->client_in, out.ptr, (int)out.len), (int)out.len);
  size_t moved = out.len;
  qs_buf_dispose(&out);
  return moved;
}

/* Pumps bytes both ways until neither side has anything to say; true when
 * both sides finished the handshake. */
static bool handshake(pair_t *p) {
  for (int round = 0; round < 20; round++) {
    ERR_clear_error();
    int r = SSL_do_handshake(p->client);
    if (r != 1 && SSL_get_error(p->client, r) == SSL_ERROR_SSL && !p->client_error)
      p->client_error = ERR_peek_error();
    if (client_to_server(p) + server_to_client(p) == 0) break;
  }
  ERR_clear_error();
  return SSL_is_init_finished(p->client) && qs_tls_session_established(p->server);
}

static void connect_pair(pair_t *p, qs_tls_context_t *ctx, const client_opts_t *opts) {
  pair_init(p, ctx, opts);
  assert_true(handshake(p));
  assert_int_equal(p->status, QS_TLS_WANT_READ);
}

/* Reads every plaintext byte the client can get; returns the SSL_get_error() code that ended it. */
static int client_read(pair_t *p, qs_buf_t *into) {
  static char chunk[16384];
  size_t n = 0;
  int r;
  ERR_clear_error();
  while ((r = SSL_read_ex(p->client, chunk, sizeof chunk, &n)) == 1)
    assert_int_equal(qs_buf_append(into, chunk, n), 0);
  return SSL_get_error(p->client, r);
}

static void client_write(pair_t *p, const void *data, size_t len) {
  size_t done = 0;
  assert_int_equal(SSL_write_ex(p->client, data, len, &done), 1);
  assert_int_equal(done, len);
}

static void peer_cn(pair_t *p, char *cn, int cap) {
  X509 *peer = SSL_get0_peer_certificate(p->client);
  assert_non_null(peer);
  assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, cap) > 0);
}

static void fill_pattern(char *buf, size_t len, unsigned seed) {
  for (size_t i = 0; i < len; i++) buf[i] = (char)((i * 31u + seed) % 251u);
}

/* ---- handshake and ALPN ---- */

static void handshake_prefers_h2_when_offered(void **state) {
  qs_tls_context_t *ctx = context_a();
  pair_t p;
  client_opts_t opts = {.alpn = alpn_h2_http11, .alpn_len = sizeof alpn_h2_http11 - 1};
  pair_init(&p, ctx, &opts);
  assert_false(qs_tls_session_established(p.server));
  assert_string_equal(qs_tls_session_alpn(p.server), "");
  assert_true(handshake(&p));
  assert_true(qs_tls_session_established(p.server));
  assert_int_equal(p.status, QS_TLS_WANT_READ);
  assert_string_equal(qs_tls_session_alpn(p.server), "h2");
  const unsigned char *proto = NULL;
  unsigned int proto_len = 0;
  SSL_get0_alpn_selected(p.client, &proto, &proto_len);
  assert_int_equal(proto_len, 2);
  assert_memory_equal(proto, "h2", 2);
  assert_int_equal(SSL_version(p.client), TLS1_3_VERSION);
  char cn[64];
  peer_cn(&p, cn, sizeof cn);
  assert_string_equal(cn, "a.test");
  pair_dispose(&p);
  qs_tls_context_destroy(ctx);
}

static void handshake_agrees_on_http11_when_only_it_is_offered(void **state) {
  qs_tls_context_t *ctx = context_a();
  pair_t p;
  client_opts_t opts = {.alpn = alpn_http11, .alpn_len = sizeof alpn_http11 - 1};
  connect_pair(&p, ctx, &opts);
  assert_string_equal(qs_tls_session_alpn(p.server), "http/1.1");
  pair_dispose(&p);
  qs_tls_context_destroy(ctx);
}

static void handshake_with_only_h2_agrees_on_h2(void **state) {
  qs_tls_context_t *ctx = context_a();
  pair_t p;
  client_opts_t opts = {.alpn = alpn_h2, .alpn_len = sizeof alpn_h2 - 1};
  connect_pair(&p, ctx, &opts);
  assert_string_equal(qs_tls_session_alpn(p.server), "h2");
  pair_dispose(&p);
  qs_tls_context_destroy(ctx);
}

static void handshake_without_alpn_agrees_on_nothing(void **state) {
  qs_tls_context_t *ctx = context_a();
  pair_t p;
  connect_pair(&p, ctx, NULL);
  assert_string_equal(qs_tls_session_alpn(p.server), "");
  pair_dispose(&p);
  qs_tls_context_destroy(ctx);
}

static void client_offering_no_known_protocol_is_refused(void **state) {
  qs_tls_context_t *ctx = context_a();
  pair_t p;
  client_opts_t opts = {.alpn = alpn_other, .alpn_len = sizeof alpn_other - 1};
  pair_init(&p, ctx, &opts);
  assert_false(handshake(&p));
  assert_int_equal(p.status, QS_TLS_ERROR);
  assert_false(qs_tls_session_established(p.server));
  assert_string_equal(qs_tls_session_alpn(p.server), "");
  /* RFC 7301, section 3.2: the no_application_protocol alert. */
  assert_int_equal(ERR_GET_REASON(p.client_error), SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL);
  assert_int_equal(qs_tls_session_write(p.server, "x", 1), QS_EIO);
  pair_dispose(&p);
  qs_tls_context_destroy(ctx);
}

static void tls12_client_is_served(void **state) {
  qs_tls_context_t *ctx = context_a();
  pair_t p;
  client_opts_t opts = {
      .alpn = alpn_h2_http11, .alpn_len = sizeof alpn_h2_http11 - 1, .max_version = TLS1_2_VERSION};
  connect_pair(&p, ctx, &opts);
  assert_int_equal(SSL_version(p.client), TLS1_2_VERSION);
  assert_string_equal(qs_tls_session_alpn(p.server), "h2");
  pair_dispose(&p);
  qs_tls_context_destroy(ctx);
}

static void tls11_client_is_refused(void **state) {
  qs_tls_context_t *ctx = context_a();
  pair_t p;
  client_opts_t opts = {.max_version = TLS1_1_VERSION, .legacy = true};
  pair_init(&p, ctx, &opts);
  assert_false(handshake(&p));
  assert_int_equal(p.status, QS_TLS_ERROR);
  assert_false(qs_tls_session_established(p.server));
  pair_dispose(&p);
  qs_tls_context_destroy(ctx);
}

static void handshake_fed_in_small_pieces_completes(void **state) {
  qs_tls_context_t *ctx = context_a();
  pair_t p;
  pair_init(&p, ctx, NULL);
  p.piece = 5;
  assert_true(handshake(&p));
  pair_dispose(&p);
  qs_tls_context_destroy(ctx);
}

static void tls12_renegotiation_is_refused(void **state) {
  qs_tls_context_t *ctx = context_a();
  pair_t p;
  client_opts_t opts = {.max_version = TLS1_2_VERSION};
  connect_pair(&p, ctx, &opts);
  assert_int_equal(SSL_renegotiate(p.client), 1);
  assert_false(handshake(&p));
  /* The server answered no_renegotiation; the client gives up on the
   * connection, which the server sees as an error. */
  assert_int_equal(ERR_GET_REASON(p.client_error), SSL_R_NO_RENEGOTIATION);
  assert_int_equal(p.status, QS_TLS_ERROR);
  pair_dispose(&p);
  qs_tls_context_destroy(ctx);
}

/* ---- plaintext ---- */

static void plaintext_round_trip(void **state) {
  qs_tls_context_t *ctx = context_a();
  pair_t p;
  connect_pair(&p, ctx, NULL);

  char request[1000];
  fill_pattern(request, sizeof request, 7);
  client_write(&p, request, sizeof request);
  client_to_server(&p);
  assert_int_equal(p.status, QS_TLS_WANT_READ);
  assert_int_equal(p.received.len, sizeof request);
  assert_memory_equal(p.received.ptr, request, sizeof request);

  static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  assert_int_equal(qs_tls_session_write(p.server, response, sizeof response - 1), 0);
  assert_true(qs_tls_session_output_len(p.server) > sizeof response - 1);
  server_to_client(&p);
  qs_buf_t got;
  qs_buf_init(&got, 4096);
  assert_int_equal(client_read(&p, &got), SSL_ERROR_WANT_READ);
  assert_int_equal(got.len, sizeof response - 1);
  assert_memory_equal(got.ptr, response, sizeof response - 1);
  qs_buf_dispose(&got);

  assert_int_equal(qs_tls_session_write(p.server, "", 0), 0);
  pair_dispose(&p);
  qs_tls_context_destroy(ctx);
}

static void megabyte_goes_through_both_ways(void **state) {
  const size_t size = 1u << 20;
  char *data = malloc(size);
  assert_non_null(data);
  fill_pattern(data, size, 3);
  qs_tls_context_t *ctx = context_a();
  pair_t p;
  connect_pair(&p, ctx, NULL);

  assert_int_equal(qs_tls_session_write(p.server, data, size), 0);
  assert_true(qs_tls_session_output_len(p.server) > size);
  assert_true(server_to_client(&p) > size);
  qs_buf_t got;
  qs_buf_init(&got, 2 * size);
  assert_int_equal(client_read(&p, &got), SSL_ERROR_WANT_READ);
  assert_int_equal(got.len, size);
  assert_memory_equal(got.ptr, data, size);

  /* The session keeps working after its output memory was released. */
  qs_buf_reset(&got);
  assert_int_equal(qs_tls_session_write(p.server, "after", 5), 0);
  server_to_client(&p);
  assert_int_equal(client_read(&p, &got), SSL_ERROR_WANT_READ);
  assert_int_equal(got.len, 5);
  assert_memory_equal(got.ptr, "after", 5);
  qs_buf_dispose(&got);

  /* All the ciphertext in one feed, then more once it was read. */
  client_write(&p, data, size);
  qs_buf_t cipher;
  qs_buf_init(&cipher, 2 * size);
  char chunk[4096];
  int k;
  while ((k = BIO_read(p.client_out, chunk, sizeof chunk)) > 0)
    assert_int_equal(qs_buf_append(&cipher, chunk, (size_t)k), 0);
  assert_true(cipher.len > size);
  assert_int_equal(qs_tls_session_feed(p.server, cipher.ptr, cipher.len), 0);
  qs_buf_dispose(&cipher);
  server_read(&p);
  assert_int_equal(p.status, QS_TLS_WANT_READ);
  assert_int_equal(p.received.len, size);
  assert_memory_equal(p.received.ptr, data, size);
  client_write(&p, "more", 4);
  client_to_server(&p);
  assert_int_equal(p.received.len, size + 4);
  assert_memory_equal(p.received.ptr + size, "more", 4);

  pair_dispose(&p);
  qs_tls_context_destroy(ctx);
  free(data);
}

static void client_data_fed_in_small_pieces_is_read_whole(void **state) {
  qs_tls_context_t *ctx = context_a();
  pair_t p;
  connect_pair(&p, ctx, NULL);
  char data[3000];
  fill_pattern(data, sizeof data, 11);
  client_write(&p, data, 1000);
  client_write(&p, data + 1000, 1000);
  client_write(&p, data + 2000, 1000);
  p.piece = 3;
  assert_true(client_to_server(&p) > sizeof data);
  assert_int_equal(p.status, QS_TLS_WANT_READ);
  assert_int_equal(p.received.len, sizeof data);
  assert_memory_equal(p.received.ptr, data, sizeof data);
  pair_dispose(&p);
  qs_tls_context_destroy(ctx);
}

static void take_output_into_a_small_buffer_takes_nothing(void **state) {
  qs_tls_context_t *ctx = context_a();
  pair_t p;
  connect_pair(&p, ctx, NULL);
  assert_int_equal(qs_tls_session_write(p.server, "hello", 5), 0);
  size_t pending = qs_tls_session_output_len(p.server);
  assert_true(pending > 5);
  qs_buf_t small;
  qs_buf_init(&small, pending - 1);
  assert_int_equal(qs_buf_append(&small, "x", 1), 0);
  assert_int_equal(qs_tls_session_take_output(p.server, &small), QS_ENOMEM);
  assert_int_equal(small.len, 1);
  assert_int_equal(qs_tls_session_output_len(p.server), pending);
  qs_buf_dispose(&small);
  /* Nothing was lost: the client still reads the bytes. */
  server_to_client(&p);
  qs_buf_t got;
  qs_buf_init(&got, 64);
  assert_int_equal(client_read(&p, &got), SSL_ERROR_WANT_READ);
  assert_int_equal(got.len, 5);
  assert_memory_equal(got.ptr, "hello", 5);
  qs_buf_dispose(&got);
  pair_dispose(&p);
  qs_tls_context_destroy(ctx);
}

/* ---- closing ---- */

static void client_close_notify_reads_as_closed(void **state) {
  qs_tls_context_t *ctx = context_a();
  pair_t p;
  connect_pair(&p, ctx, NULL);
  client_write(&p, "bye", 3);
  SSL_shutdown(p.client);
  client_to_server(&p);
  assert_int_equal(p.received.len, 3);
  assert_memory_equal(p.received.ptr, "bye", 3);
  assert_int_equal(p.status, QS_TLS_CLOSED);
  server_read(&p);
  assert_int_equal(p.status, QS_TLS_CLOSED);
  pair_dispose(&p);
  qs_tls_context_destroy(ctx);
}

static void server_shutdown_reaches_the_client(void **state) {
  qs_tls_context_t *ctx = context_a();
  pair_t p;
  connect_pair(&p, ctx, NULL);
  server_to_client(&p); /* whatever the handshake left (session tickets) */
  assert_int_equal(qs_tls_session_output_len(p.server), 0);
  qs_tls_session_shutdown(p.server);
  size_t alert = qs_tls_session_output_len(p.server);
  assert_true(alert > 0);
  qs_tls_session_shutdown(p.server);
  assert_int_equal(qs_tls_session_output_len(p.server), alert);
  assert_int_equal(qs_tls_session_write(p.server, "late", 4), QS_EIO);
  assert_int_equal(ERR_peek_error(), 0);
  server_to_client(&p);
  qs_buf_t got;
  qs_buf_init(&got, 64);
  assert_int_equal(client_read(&p, &got), SSL_ERROR_ZERO_RETURN);
  assert_int_equal(got.len, 0);
  qs_buf_dispose(&got);
  pair_dispose(&p);
  qs_tls_context_destroy(ctx);
}

/* ---- failures ---- */

static void plaintext_http_is_an_error(void **state) {
  qs_tls_context_t *ctx = context_a();
  qs_tls_session_t *s = qs_tls_session_create(ctx);
  assert_non_null(s);
  static const char http[] = "GET / HTTP/1.1\r\n\r\n";
  assert_int_equal(qs_tls_session_feed(s, http, sizeof http - 1), 0);
  char out[64];
  size_t n = 99;
  assert_int_equal(qs_tls_session_read(s, out, sizeof out, &n), QS_TLS_ERROR);
  assert_int_equal(n, 0);
  assert_int_equal(ERR_peek_error(), 0);
  assert_false(qs_tls_session_established(s));
  qs_tls_session_destroy(s);
  qs_tls_context_destroy(ctx);
}

static void write_before_the_handshake_is_refused(void **state) {
  qs_tls_context_t *ctx = context_a();
  pair_t p;
  pair_init(&p, ctx, NULL);
  assert_int_equal(qs_tls_session_write(p.server, "early", 5), QS_EIO);
  qs_tls_session_shutdown(p.server); /* nothing to close yet */
  assert_int_equal(qs_tls_session_output_len(p.server), 0);
  assert_int_equal(ERR_peek_error(), 0);

  /* Halfway: the server has answered the ClientHello but not seen Finished. */
  SSL_do_handshake(p.client);
  client_to_server(&p);
  assert_int_equal(p.status, QS_TLS_WANT_READ);
  assert_true(qs_tls_session_output_len(p.server) > 0);
  assert_false(qs_tls_session_established(p.server));
  assert_int_equal(qs_tls_session_write(p.server, "early", 5), QS_EIO);
  pair_dispose(&p);
  qs_tls_context_destroy(ctx);
}

static void expect_context_error(const char *cert, const char *key, const char *word, const char *word2) {
  qs_tls_context_t *ctx = (qs_tls_context_t *)&files; /* must be overwritten */
  const char *reason = NULL;
  int rc = qs_tls_context_create(cert, key, &ctx, &reason);
  if (rc != QS_EINVAL || !reason || !strstr(reason, word) || (word2 && !strstr(reason, word2)))
    fail_msg("cert=%s key=%s: rc=%d reason=%s, expected %d and \"%s\"", cert, key, rc,
             reason ? reason : "(null)", QS_EINVAL, word);
  assert_null(ctx);
  assert_int_equal(ERR_peek_error(), 0);
}

static void bad_files_are_refused_with_a_reason(void **state) {
  expect_context_error(files.missing, files.a_key, "tls_cert", NULL);
  expect_context_error(files.not_pem, files.a_key, "tls_cert", NULL);
  expect_context_error(files.a_key, files.a_key, "tls_cert", NULL);
  expect_context_error(files.a_cert, files.missing, "tls_key", NULL);
  expect_context_error(files.a_cert, files.not_pem, "tls_key", NULL);
  expect_context_error(files.a_cert, files.a_cert, "tls_key", NULL);
  expect_context_error(files.a_cert, files.b_key, "tls_key", "match");
  qs_tls_context_destroy(NULL);
  qs_tls_session_destroy(NULL);
}

/* ---- reload ---- */

static void reload_serves_the_new_certificate_to_new_sessions(void **state) {
  qs_tls_context_t *ctx = context_a();
  pair_t before, created_before, after;
  connect_pair(&before, ctx, NULL);
  pair_init(&created_before, ctx, NULL);

  const char *reason = "unset";
  assert_int_equal(qs_tls_context_reload(ctx, files.b_cert, files.b_key, &reason), 0);

  connect_pair(&after, ctx, NULL);
  char cn[64];
  peer_cn(&after, cn, sizeof cn);
  assert_string_equal(cn, "b.test");

  /* A session made before the reload keeps the old certificate, even when
   * its handshake happens after it. */
  assert_true(handshake(&created_before));
  peer_cn(&created_before, cn, sizeof cn);
  assert_string_equal(cn, "a.test");

  /* An established session goes on working. */
  client_write(&before, "ping", 4);
  client_to_server(&before);
  assert_int_equal(before.received.len, 4);
  assert_memory_equal(before.received.ptr, "ping", 4);
  assert_int_equal(qs_tls_session_write(before.server, "pong", 4), 0);
  server_to_client(&before);
  qs_buf_t got;
  qs_buf_init(&got, 64);
  assert_int_equal(client_read(&before, &got), SSL_ERROR_WANT_READ);
  assert_int_equal(got.len, 4);
  assert_memory_equal(got.ptr, "pong", 4);
  qs_buf_dispose(&got);

  pair_dispose(&after);
  pair_dispose(&created_before);
  pair_dispose(&before);
  qs_tls_context_destroy(ctx);
}

static void failed_reload_keeps_the_old_certificate(void **state) {
  qs_tls_context_t *ctx = context_a();
  const char *reason = NULL;
  assert_int_equal(qs_tls_context_reload(ctx, files.missing, files.b_key, &reason), QS_EINVAL);
  assert_non_null(reason);
  assert_non_null(strstr(reason, "tls_cert"));
  assert_int_equal(qs_tls_context_reload(ctx, files.b_cert, files.a_key, &reason), QS_EINVAL);
  assert_non_null(strstr(reason, "tls_key"));
  assert_int_equal(ERR_peek_error(), 0);

  pair_t p;
  connect_pair(&p, ctx, NULL);
  char cn[64];
  peer_cn(&p, cn, sizeof cn);
  assert_string_equal(cn, "a.test");
  pair_dispose(&p);
  qs_tls_context_destroy(ctx);
}

typedef struct {
  qs_tls_context_t *ctx;
  int reloads;
  int failures;
} reloader_t;

static void *reload_repeatedly(void *arg) {
  reloader_t *r = arg;
  for (int i = 0; i < 20; i++) {
    const char *reason = NULL;
    bool b = i % 2 == 0;
    if (qs_tls_context_reload(r->ctx, b ? files.b_cert : files.a_cert, b ? files.b_key : files.a_key,
                              &reason) == 0)
      r->reloads++;
    else
      r->failures++;
  }
  return NULL;
}

static void reload_while_sessions_start_on_another_thread(void **state) {
  qs_tls_context_t *ctx = context_a();
  reloader_t r = {.ctx = ctx};
  pthread_t thread;
  assert_int_equal(pthread_create(&thread, NULL, reload_repeatedly, &r), 0);
  int seen_a = 0, seen_b = 0;
  for (int i = 0; i < 20; i++) {
    pair_t p;
    connect_pair(&p, ctx, NULL);
    char cn[64];
    peer_cn(&p, cn, sizeof cn);
    if (strcmp(cn, "a.test") == 0)
      seen_a++;
    else if (strcmp(cn, "b.test") == 0)
      seen_b++;
    pair_dispose(&p);
  }
  assert_int_equal(pthread_join(thread, NULL), 0);
  assert_int_equal(r.reloads, 20);
  assert_int_equal(r.failures, 0);
  assert_int_equal(seen_a + seen_b, 20);
  qs_tls_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(handshake_prefers_h2_when_offered),
      cmocka_unit_test(handshake_without_alpn_agrees_on_nothing),
      cmocka_unit_test(client_offering_no_known_protocol_is_refused),
      cmocka_unit_test(handshake_agrees_on_http11_when_only_it_is_offered),
      cmocka_unit_test(handshake_with_only_h2_agrees_on_h2),
      cmocka_unit_test(tls12_client_is_served),
      cmocka_unit_test(tls11_client_is_refused),
      cmocka_unit_test(handshake_fed_in_small_pieces_completes),
      cmocka_unit_test(tls12_renegotiation_is_refused),
      cmocka_unit_test(plaintext_round_trip),
      cmocka_unit_test(megabyte_goes_through_both_ways),
      cmocka_unit_test(client_data_fed_in_small_pieces_is_read_whole),
      cmocka_unit_test(take_output_into_a_small_buffer_takes_nothing),
      cmocka_unit_test(client_close_notify_reads_as_closed),
      cmocka_unit_test(server_shutdown_reaches_the_client),
      cmocka_unit_test(plaintext_http_is_an_error),
      cmocka_unit_test(write_before_the_handshake_is_refused),
      cmocka_unit_test(bad_files_are_refused_with_a_reason),
      cmocka_unit_test(reload_serves_the_new_certificate_to_new_sessions),
      cmocka_unit_test(failed_reload_keeps_the_old_certificate),
      cmocka_unit_test(reload_while_sessions_start_on_another_thread),
  };
  return cmocka_run_group_tests(tests, make_files, remove_files);
}
