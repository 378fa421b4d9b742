/* Where an idle TLS connection's bytes go: drives N server sessions of
 * net/tls.h through a full handshake, one request and one response with a
 * real OpenSSL client in the same process (memory buffers, no sockets),
 * frees the clients, and prints what the N idle server sessions hold.
 *
 *   tls_mem [--sessions N] [--tls12] [--alpn h2|http/1.1] [--resume]
 *
 * Every OpenSSL allocation goes through counting hooks
 * (CRYPTO_set_mem_functions) that remember the source file and line that
 * asked for it; the allocations made while a server call runs are the
 * server's. The report lists those still live per session, by OpenSSL
 * source file and by call site, then the heap's own view (glibc
 * mallinfo2: bytes in use including the session object and malloc's
 * headers, and the heap's size, which also counts the holes that freed
 * handshake memory leaves). --resume first makes one full handshake, then
 * resumes every session with its TLS 1.3 ticket. */
#include <malloc.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "net/tls.h"

/* ---- counting allocator ---- */

#define MAX_SITES 4096
typedef struct {
  const char *file;
  int line;
  int64_t live_bytes;
  int64_t live_blocks;
} site_t;

static site_t sites[MAX_SITES];
static unsigned site_count;
static bool counting; /* true while a server call runs */

/* Placed before every block: which site asked (or -1), and its size. */
typedef struct {
  int32_t site;
  uint32_t pad;
  uint64_t size;
} header_t;

static int32_t site_of(const char *file, int line) {
  if (!file) file = "?";
  for (unsigned i = 0; i < site_count; i++)
    if (sites[i].line == line && (sites[i].file == file || strcmp(sites[i].file, file) == 0))
      return (int32_t)i;
  if (site_count == MAX_SITES) return -1;
  sites[site_count] = (site_t){.file = file, .line = line};
  return (int32_t)site_count++;
}

static void account(int32_t site, int64_t bytes, int64_t blocks) {
  if (site < 0) return;
  sites[site].live_bytes += bytes;
  sites[site].live_blocks += blocks;
}

static void *hook_malloc(size_t n, const char *file, int line) {
  header_t *h = malloc(sizeof *h + n);
  if (!h) return NULL;
  h->site = counting ? site_of(file, line) : -1;
  h->size = n;
  account(h->site, (int64_t)n, 1);
  return h + 1;
}

static void hook_free(void *p, const char *file, int line) {
  (void)file;
  (void)line;
  if (!p) return;
  header_t *h = (header_t *)p - 1;
  account(h->site, -(int64_t)h->size, -1);
  free(h);
}

static void *hook_realloc(void *p, size_t n, const char *file, int line) {
  if (!p) return hook_malloc(n, file, line);
  if (n == 0) {
    hook_free(p, file, line);
    return NULL;
  }
  header_t *old = (header_t *)p - 1;
  int32_t site = old->site;
  uint64_t old_size = old->size;
  header_t *h = realloc(old, sizeof *h + n);
  if (!h) return NULL;
  account(site, -(int64_t)old_size, -1);
  h->site = counting ? site_of(file, line) : site;
  h->size = n;
  account(h->site, (int64_t)n, 1);
  return h + 1;
}

/* ---- a certificate, made here (self-signed P-256, as the hub's tests) ---- */

static bool write_certificate(const char *cert_path, const char *key_path) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  if (!key || !x) return false;
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
  X509_set_issuer_name(x, name);
  bool ok = X509_sign(x, key, EVP_sha256()) > 0;
  FILE *f = fopen(cert_path, "w");
  ok = ok && f && PEM_write_X509(f, x) == 1;
  if (f) fclose(f);
  f = fopen(key_path, "w");
  ok = ok && f && PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
  if (f) fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
  return ok;
}

/* ---- one connection: client and server over memory ---- */

typedef struct {
  SSL_CTX *client_ctx;
  qs_tls_context_t *server_ctx;
  const char *alpn;
  SSL_SESSION *resume; /* NULL for full handshakes */
} setup_t;

/* Moves the client's ciphertext to the server and the server's back. */
static bool shuttle(SSL *client, qs_tls_session_t *server, char *plain, size_t cap, size_t *plain_len) {
  char cipher[16 * 1024];
  BIO *out = SSL_get_wbio(client);
  size_t n;
  while (BIO_read_ex(out, cipher, sizeof cipher, &n) == 1 && n > 0) {
    counting = true;
    int rc = qs_tls_session_feed(server, cipher, n);
    counting = false;
    if (rc != 0) return false;
  }
  qs_tls_status_t st;
  do {
    size_t got = 0;
    counting = true;
    st = qs_tls_session_read(server, plain + *plain_len, cap - *plain_len, &got);
    counting = false;
    *plain_len += got;
  } while (st == QS_TLS_OK && *plain_len < cap);
  if (st == QS_TLS_ERROR) return false;
  qs_buf_t back;
  qs_buf_init(&back, 1 << 20);
  counting = true;
  int rc = qs_tls_session_take_output(server, &back);
  counting = false;
  if (rc == 0 && back.len > 0) BIO_write_ex(SSL_get_rbio(client), back.ptr, back.len, &n);
  qs_buf_dispose(&back);
  return rc == 0;
}

static const char request[] =
    "GET /.well-known/mercure?topic=https%3A%2F%2Fexample.com%2Fbench HTTP/1.1\r\nHost: localhost\r\n"
    "Accept: text/event-stream\r\n\r\n";
static const char response[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
    "Transfer-Encoding: chunked\r\n\r\n3\r\n:\n\n\r\n";

/* One session, handshake to idle; NULL on failure. Keeps the client's
 * session in *ticket when asked (the client is freed). */
static qs_tls_session_t *open_one(const setup_t *st, SSL_SESSION **ticket) {
  SSL *client = SSL_new(st->client_ctx);
  BIO *crd = BIO_new(BIO_s_mem()), *cwr = BIO_new(BIO_s_mem());
  SSL_set_bio(client, crd, cwr);
  SSL_set_connect_state(client);
  SSL_set_tlsext_host_name(client, "localhost");
  unsigned char wire[16];
  size_t alpn_len = strlen(st->alpn);
  wire[0] = (unsigned char)alpn_len;
  memcpy(wire + 1, st->alpn, alpn_len);
  SSL_set_alpn_protos(client, wire, (unsigned)(alpn_len + 1));
  if (st->resume) SSL_set_session(client, st->resume);
  counting = true;
  qs_tls_session_t *server = qs_tls_session_create(st->server_ctx);
  counting = false;
  char plain[4096];
  size_t plain_len = 0;
  bool ok = server != NULL;
  for (int round = 0; ok && round < 8 && !SSL_is_init_finished(client); round++) {
    SSL_do_handshake(client);
    ok = shuttle(client, server, plain, sizeof plain, &plain_len);
  }
  ok = ok && SSL_is_init_finished(client) && (!st->resume || SSL_session_reused(client));
  size_t n = 0;
  ok = ok && SSL_write_ex(client, request, sizeof request - 1, &n) == 1;
  ok = ok && shuttle(client, server, plain, sizeof plain, &plain_len) && plain_len == sizeof request - 1;
  counting = true;
  ok = ok && qs_tls_session_write(server, response, sizeof response - 1) == 0;
  counting = false;
  plain_len = 0;
  ok = ok && shuttle(client, server, plain, sizeof plain, &plain_len);
  char got[4096];
  ok = ok && SSL_read_ex(client, got, sizeof got, &n) == 1 && n == sizeof response - 1;
  if (ok && ticket) *ticket = SSL_get1_session(client);
  SSL_free(client);
  if (!ok) {
    counting = true;
    qs_tls_session_destroy(server);
    counting = false;
    return NULL;
  }
  return server;
}

/* ---- report ---- */

typedef struct {
  const char *file;
  int64_t bytes, blocks;
} file_total_t;

static int by_bytes_desc(const void *a, const void *b) {
  int64_t x = ((const file_total_t *)a)->bytes, y = ((const file_total_t *)b)->bytes;
  return (x < y) - (x > y);
}

static int sites_by_bytes_desc(const void *a, const void *b) {
  int64_t x = ((const site_t *)a)->live_bytes, y = ((const site_t *)b)->live_bytes;
  return (x < y) - (x > y);
}

static void report(const site_t *base, unsigned base_count, size_t n) {
  static site_t delta[MAX_SITES];
  static file_total_t files[MAX_SITES];
  unsigned file_count = 0;
  int64_t total = 0, blocks = 0;
  for (unsigned i = 0; i < site_count; i++) {
    delta[i] = sites[i];
    if (i < base_count) {
      delta[i].live_bytes -= base[i].live_bytes;
      delta[i].live_blocks -= base[i].live_blocks;
    }
    total += delta[i].live_bytes;
    blocks += delta[i].live_blocks;
    unsigned f = 0;
    while (f < file_count && strcmp(files[f].file, delta[i].file) != 0) f++;
    if (f == file_count) files[file_count++] = (file_total_t){.file = delta[i].file};
    files[f].bytes += delta[i].live_bytes;
    files[f].blocks += delta[i].live_blocks;
  }
  printf("OpenSSL allocations live per idle session: %.0f B in %.1f blocks\n", (double)total / n,
         (double)blocks / n);
  qsort(files, file_count, sizeof *files, by_bytes_desc);
  printf("  by OpenSSL source file (B per session, blocks):\n");
  for (unsigned f = 0; f < file_count; f++)
    if (files[f].bytes / (int64_t)n >= 8)
      printf("    %7.0f  %5.1f  %s\n", (double)files[f].bytes / n, (double)files[f].blocks / n,
             files[f].file);
  qsort(delta, site_count, sizeof *delta, sites_by_bytes_desc);
  printf("  largest call sites (B per session, blocks):\n");
  for (unsigned i = 0; i < site_count && i < 16; i++)
    if (delta[i].live_bytes / (int64_t)n >= 8)
      printf("    %7.0f  %5.1f  %s:%d\n", (double)delta[i].live_bytes / n, (double)delta[i].live_blocks / n,
             delta[i].file, delta[i].line);
}

int main(int argc, char **argv) {
  if (!CRYPTO_set_mem_functions(hook_malloc, hook_realloc, hook_free)) {
    fprintf(stderr, "tls_mem: OpenSSL allocated before main(): cannot count its memory\n");
    return 2;
  }
  size_t n = 2000;
  bool tls12 = false, resume = false;
  const char *alpn = "http/1.1";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--sessions") == 0 && i + 1 < argc) {
      n = strtoul(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--tls12") == 0) {
      tls12 = true;
    } else if (strcmp(argv[i], "--resume") == 0) {
      resume = true;
    } else if (strcmp(argv[i], "--alpn") == 0 && i + 1 < argc) {
      alpn = argv[++i];
    } else {
      fprintf(stderr, "usage: tls_mem [--sessions N] [--tls12] [--alpn h2|http/1.1] [--resume]\n");
      return 2;
    }
  }
  if (n == 0 || n > 100000 || strlen(alpn) > 14) {
    fprintf(stderr, "tls_mem: --sessions takes 1 to 100000, --alpn a short protocol name\n");
    return 2;
  }
  char dir[] = "/tmp/tls_mem.XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char cert[64], key[64];
  snprintf(cert, sizeof cert, "%s/cert.pem", dir);
  snprintf(key, sizeof key, "%s/key.pem", dir);
  bool made = write_certificate(cert, key);
  const char *reason = NULL;
  setup_t st = {.alpn = alpn};
  int rc = made ? qs_tls_context_create(cert, key, &st.server_ctx, &reason) : -1;
  unlink(cert);
  unlink(key);
  rmdir(dir);
  if (rc != 0) {
    fprintf(stderr, "tls_mem: no server context: %s\n", reason ? reason : "cannot write the certificate");
    return 1;
  }
  st.client_ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(st.client_ctx, SSL_VERIFY_NONE, NULL);
  if (tls12) SSL_CTX_set_max_proto_version(st.client_ctx, TLS1_2_VERSION);
  if (resume) SSL_CTX_set_session_cache_mode(st.client_ctx, SSL_SESS_CACHE_CLIENT);

  /* Warm-up: OpenSSL fills its per-thread and per-context caches once. */
  qs_tls_session_t *warm[4];
  SSL_SESSION *ticket = NULL;
  for (int i = 0; i < 4; i++) {
    warm[i] = open_one(&st, i == 3 && resume ? &ticket : NULL);
    if (!warm[i]) {
      fprintf(stderr, "tls_mem: the warm-up handshake failed\n");
      return 1;
    }
  }
  if (resume) {
    st.resume = ticket;
    qs_tls_session_t *again = open_one(&st, NULL);
    if (!again) {
      fprintf(stderr, "tls_mem: the ticket was not accepted\n");
      return 1;
    }
    qs_tls_session_destroy(again);
  }

  static site_t base[MAX_SITES];
  unsigned base_count = site_count;
  memcpy(base, sites, sizeof sites[0] * site_count);
  struct mallinfo2 before = mallinfo2();
  qs_tls_session_t **open = calloc(n, sizeof *open);
  if (!open) return 1;
  for (size_t i = 0; i < n; i++) {
    if (!(open[i] = open_one(&st, NULL))) {
      fprintf(stderr, "tls_mem: handshake %zu failed\n", i);
      return 1;
    }
  }
  struct mallinfo2 after = mallinfo2();
  printf("tls_mem --sessions %zu%s --alpn %s%s: %zu idle server sessions (%s, %s)\n", n,
         tls12 ? " --tls12" : "", alpn, resume ? " --resume" : "", n, tls12 ? "TLS 1.2" : "TLS 1.3",
         resume ? "resumed with a ticket" : "full handshakes");
  report(base, base_count, n);
  /* The hooks' own 16-byte headers are in the heap's figures: take them out. */
  double headers = 0;
  for (unsigned i = 0; i < site_count; i++) headers += (double)sites[i].live_blocks;
  for (unsigned i = 0; i < base_count; i++) headers -= (double)base[i].live_blocks;
  headers *= sizeof(header_t);
  printf(
      "heap in use per session (malloc's view, with the session object and malloc's own headers): %.0f B\n",
      ((double)after.uordblks - (double)before.uordblks + (double)after.hblkhd - (double)before.hblkhd -
       headers) /
          n);
  printf("heap size per session (in use plus the holes freed handshake memory left): %.0f B\n",
         ((double)after.arena - (double)before.arena + (double)after.hblkhd - (double)before.hblkhd) / n);

  for (size_t i = 0; i < n; i++) qs_tls_session_destroy(open[i]);
  free(open);
  for (int i = 0; i < 4; i++) qs_tls_session_destroy(warm[i]);
  SSL_SESSION_free(ticket);
  SSL_CTX_free(st.client_ctx);
  qs_tls_context_destroy(st.server_ctx);
  return 0;
}
