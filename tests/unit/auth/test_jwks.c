/* JWK Sets fetched from a URL: a small HTTP server on a thread serves a
 * document the tests rotate, break and count requests of. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "auth/auth.h"
#include "auth/base64url.h"
#include "auth/jwks_source.h"
#include "auth/mint.h"
#include "base/clock.h"
#include "base/error.h"

#define HUB "https://hub.example/.well-known/mercure"

/* ---- A one-document HTTP server ---- */

typedef struct {
  int fd;
  int port;
  pthread_t thread;
  pthread_mutex_t lock;
  char doc[16384];
  int status; /* answered status */
  atomic_int requests;
  atomic_bool stop;
} server_t;

static void *serve(void *arg) {
  server_t *s = arg;
  while (!atomic_load(&s->stop)) {
    struct pollfd p = {.fd = s->fd, .events = POLLIN};
    if (poll(&p, 1, 50) <= 0) continue;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0) continue;
    char req[4096];
    ssize_t n = read(c, req, sizeof req); /* one read holds a curl GET */
    (void)n;
    pthread_mutex_lock(&s->lock);
    char resp[20000];
    int len = snprintf(resp, sizeof resp,
                       "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                       "Connection: close\r\n\r\n%s",
                       s->status, strlen(s->doc), s->doc);
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add(&s->requests, 1);
    ssize_t w = write(c, resp, (size_t)len);
    (void)w;
    close(c);
  }
  return NULL;
}

static void server_start(server_t *s) {
  memset(s, 0, sizeof *s);
  s->status = 200;
  pthread_mutex_init(&s->lock, NULL);
  s->fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(s->fd, 16), 0);
  socklen_t alen = sizeof a;
  getsockname(s->fd, (struct sockaddr *)&a, &alen);
  s->port = ntohs(a.sin_port);
  pthread_create(&s->thread, NULL, serve, s);
}

static void server_stop(server_t *s) {
  atomic_store(&s->stop, true);
  pthread_join(s->thread, NULL);
  close(s->fd);
  pthread_mutex_destroy(&s->lock);
}

static void server_set(server_t *s, int status, const char *doc) {
  pthread_mutex_lock(&s->lock);
  s->status = status;
  if (doc) snprintf(s->doc, sizeof s->doc, "%s", doc);
  pthread_mutex_unlock(&s->lock);
}

/* ---- Keys ---- */

typedef struct {
  char *private_pem;
  char jwk[1024];
} key_t_;

static key_t_ make_ec_key(const char *kid) {
  EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  assert_non_null(pkey);
  key_t_ k;
  BIO *bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
  char *data;
  long len = BIO_get_mem_data(bio, &data);
  k.private_pem = strndup(data, (size_t)len);
  BIO_free(bio);
  char xy[2][64];
  const char *names[2] = {OSSL_PKEY_PARAM_EC_PUB_X, OSSL_PKEY_PARAM_EC_PUB_Y};
  for (int i = 0; i < 2; i++) {
    BIGNUM *bn = NULL;
    EVP_PKEY_get_bn_param(pkey, names[i], &bn);
    unsigned char raw[32];
    BN_bn2binpad(bn, raw, 32);
    BN_free(bn);
    qs_buf_t b;
    qs_buf_init(&b, 128);
    qs_base64url_encode(raw, 32, &b);
    snprintf(xy[i], sizeof xy[i], "%s", b.ptr);
    qs_buf_dispose(&b);
  }
  snprintf(k.jwk, sizeof k.jwk,
           "{\"kty\":\"EC\",\"crv\":\"P-256\",\"use\":\"sig\",\"kid\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}", kid,
           xy[0], xy[1]);
  EVP_PKEY_free(pkey);
  return k;
}

static char *mint(const key_t_ *k, const char *kid) {
  qs_slice_t all = qs_slice_from_cstr("*");
  qs_token_spec_t spec = {.format = QS_TOKEN_FORMAT_DRAFT08,
                          .alg = QS_JWT_ES256,
                          .secret = qs_slice_from_cstr(k->private_pem),
                          .subscribe = &all,
                          .subscribe_count = 1,
                          .lifetime_s = 600,
                          .audience = qs_slice_from_cstr(HUB),
                          .issuer = qs_slice_from_cstr("https://idp.example"),
                          .kid = qs_slice_from_cstr(kid)};
  qs_buf_t out;
  qs_buf_init(&out, 1 << 16);
  assert_int_equal(qs_token_mint(&spec, &out), 0);
  return qs_buf_steal(&out, NULL);
}

static int verify(qs_auth_t *auth, const char *token, const char **reason) {
  qs_grants_t *grants = NULL;
  qs_auth_failure_t why = {0};
  int rc =
      qs_auth_verify(auth, QS_AUTH_SUBSCRIBER, qs_slice_from_cstr(token), qs_clock_wall_ms(), &grants, &why);
  qs_grants_release(grants);
  if (reason) *reason = why.reason;
  return rc;
}

/* Verifies until accepted, for at most `ms`. */
static int verify_eventually(qs_auth_t *auth, const char *token, int ms) {
  for (int waited = 0;; waited += 20) {
    if (verify(auth, token, NULL) == 0) return 0;
    if (waited >= ms) return QS_EAUTH;
    usleep(20 * 1000);
  }
}

static qs_auth_t *make_auth_cached(const char *url, int64_t refresh_ms, int64_t unknown_kid_ms,
                                   size_t cache_entries);

static qs_auth_t *make_auth(const char *url, int64_t refresh_ms, int64_t unknown_kid_ms) {
  return make_auth_cached(url, refresh_ms, unknown_kid_ms, 0);
}

static qs_auth_t *make_auth_cached(const char *url, int64_t refresh_ms, int64_t unknown_kid_ms,
                                   size_t cache_entries) {
  qs_auth_key_config_t key = {.jwks_url = qs_slice_from_cstr(url),
                              .issuer = qs_slice_from_cstr("https://idp.example")};
  qs_auth_config_t config = {
      .subscriber_keys = &key,
      .subscriber_key_count = 1,
      .resource_identifier = qs_slice_from_cstr(HUB),
      .match = {.hub_url = qs_slice_from_cstr(HUB), .max_pattern_bytes = 4096},
      .jwks_refresh_interval_ms = refresh_ms,
      .jwks_unknown_kid_interval_ms = unknown_kid_ms,
      .cache_max_entries = cache_entries,
  };
  qs_auth_t *auth = NULL;
  const char *reason = NULL;
  int rc = qs_auth_create(&config, &auth, &reason);
  if (rc) fail_msg("qs_auth_create: %s", reason);
  return auth;
}

/* With the verified-token cache on, a token verified (and cached) with a
 * key is refused as soon as a refresh installs a set without that key; a
 * refresh that returns the same document keeps the cache. */
static void cached_tokens_follow_key_removal(void **state) {
  (void)state;
  server_t srv;
  server_start(&srv);
  key_t_ k1 = make_ec_key("k1"), k2 = make_ec_key("k2");
  char doc[8192], url[128];
  snprintf(doc, sizeof doc, "{\"keys\":[%s,%s]}", k1.jwk, k2.jwk);
  server_set(&srv, 200, doc);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/jwks.json", srv.port);
  /* Only unknown kids refresh, at most every 100 ms. */
  qs_auth_t *auth = make_auth_cached(url, 3600 * 1000, 100, 1024);
  char *t1 = mint(&k1, "k1"), *t2 = mint(&k2, "k2");
  const char *reason = NULL;
  assert_int_equal(verify(auth, t1, &reason), 0);
  assert_int_equal(verify(auth, t1, &reason), 0); /* from the cache */
  assert_int_equal(verify(auth, t2, &reason), 0);

  /* The same document again: nothing changes. */
  char *unknown = mint(&k2, "k-unknown");
  usleep(150 * 1000);
  int before = atomic_load(&srv.requests);
  verify(auth, unknown, NULL); /* an unknown kid asks for a fetch */
  for (int i = 0; i < 150 && atomic_load(&srv.requests) == before; i++) usleep(20 * 1000);
  assert_int_equal(atomic_load(&srv.requests), before + 1);
  usleep(100 * 1000);
  assert_int_equal(verify(auth, t1, &reason), 0);

  /* k1 is withdrawn: its cached token must go with it; k2's still verifies. */
  snprintf(doc, sizeof doc, "{\"keys\":[%s]}", k2.jwk);
  server_set(&srv, 200, doc);
  usleep(150 * 1000);
  before = atomic_load(&srv.requests);
  verify(auth, unknown, NULL);
  for (int i = 0; i < 150 && atomic_load(&srv.requests) == before; i++) usleep(20 * 1000);
  int refused = QS_EAUTH - 1;
  for (int i = 0; i < 150 && (refused = verify(auth, t1, &reason)) == 0; i++) usleep(20 * 1000);
  assert_int_equal(refused, QS_EAUTH);
  assert_int_equal(verify(auth, t2, &reason), 0);

  qs_auth_destroy(auth);
  server_stop(&srv);
  free(t1);
  free(t2);
  free(unknown);
  free(k1.private_pem);
  free(k2.private_pem);
}

static void keys_rotate_on_unknown_kid(void **state) {
  (void)state;
  server_t srv;
  server_start(&srv);
  key_t_ k1 = make_ec_key("k1"), k2 = make_ec_key("k2");
  char doc[4096], url[128];
  snprintf(doc, sizeof doc, "{\"keys\":[%s]}", k1.jwk);
  server_set(&srv, 200, doc);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/jwks.json", srv.port);
  /* The timer never fires during the test: only unknown kids refresh. */
  qs_auth_t *auth = make_auth(url, 3600 * 1000, 300);
  assert_int_equal(atomic_load(&srv.requests), 1); /* the first fetch happened before create returned */
  char *t1 = mint(&k1, "k1"), *t2 = mint(&k2, "k2");
  const char *reason = NULL;
  assert_int_equal(verify(auth, t1, &reason), 0);

  /* The issuer rotates to k2: the first k2 token is refused and asks for a fetch. */
  snprintf(doc, sizeof doc, "{\"keys\":[%s]}", k2.jwk);
  server_set(&srv, 200, doc);
  assert_int_equal(verify(auth, t2, &reason), QS_EAUTH);
  assert_string_equal(reason, "unknown kid");
  assert_int_equal(verify_eventually(auth, t2, 3000), 0);
  assert_int_equal(atomic_load(&srv.requests), 2);
  /* k1 is gone from the set, so its tokens are refused now (nothing is cached: cache off). */
  assert_int_equal(verify(auth, t1, &reason), QS_EAUTH);

  /* Unknown kids are rate-limited: a burst asks for at most one more fetch. */
  usleep(350 * 1000);
  int before = atomic_load(&srv.requests);
  char *t9 = mint(&k2, "k9");
  for (int i = 0; i < 50; i++) verify(auth, t9, NULL);
  usleep(200 * 1000);
  int burst = atomic_load(&srv.requests) - before;
  if (burst > 1) fail_msg("a burst of unknown kids made %d fetches", burst);

  /* A failing server keeps the last good set. */
  server_set(&srv, 500, NULL);
  usleep(350 * 1000);
  before = atomic_load(&srv.requests);
  verify(auth, t9, NULL); /* asks for a fetch, which fails */
  for (int i = 0; i < 100 && atomic_load(&srv.requests) == before; i++) usleep(20 * 1000);
  assert_int_equal(atomic_load(&srv.requests), before + 1);
  usleep(50 * 1000);
  assert_int_equal(verify(auth, t2, &reason), 0);

  qs_auth_destroy(auth);
  server_stop(&srv);
  free(t1);
  free(t2);
  free(t9);
  free(k1.private_pem);
  free(k2.private_pem);
}

static void sets_refresh_on_a_timer(void **state) {
  (void)state;
  server_t srv;
  server_start(&srv);
  key_t_ k1 = make_ec_key("k1");
  char doc[4096], url[128];
  snprintf(doc, sizeof doc, "{\"keys\":[%s]}", k1.jwk);
  server_set(&srv, 200, doc);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", srv.port);
  qs_jwks_source_config_t config = {.url = qs_slice_from_cstr(url), .refresh_interval_ms = 100};
  qs_jwks_source_t *source = NULL;
  const char *reason = NULL;
  assert_int_equal(qs_jwks_source_create(&config, &source, &reason), 0);
  usleep(650 * 1000);
  uint64_t fetches = qs_jwks_source_fetch_count(source);
  if (fetches < 4 || fetches > 9)
    fail_msg("%llu fetches in 650 ms at a 100 ms period", (unsigned long long)fetches);
  qs_jwks_set_t *set = qs_jwks_source_get(source);
  assert_non_null(set);
  assert_int_equal(set->count, 1);
  assert_string_equal(set->entries[0].kid, "k1");
  qs_jwks_set_release(set);
  qs_jwks_source_destroy(source);
  server_stop(&srv);
  free(k1.private_pem);
}

static void an_unreachable_url_is_not_fatal(void **state) {
  (void)state;
  /* Port 9 (discard) on loopback refuses at once. */
  qs_auth_t *auth = make_auth("http://127.0.0.1:9/jwks.json", 3600 * 1000, 1000);
  key_t_ k1 = make_ec_key("k1");
  char *t1 = mint(&k1, "k1");
  const char *reason = NULL;
  assert_int_equal(verify(auth, t1, &reason), QS_EAUTH);
  assert_string_equal(reason, "unknown kid");
  qs_auth_destroy(auth);
  free(t1);
  free(k1.private_pem);
}

static void bad_urls_are_refused(void **state) {
  (void)state;
  qs_jwks_source_config_t config = {.url = qs_slice_from_cstr("ftp://example.com/jwks")};
  qs_jwks_source_t *source = NULL;
  const char *reason = NULL;
  assert_int_equal(qs_jwks_source_create(&config, &source, &reason), QS_EINVAL);
  assert_null(source);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(keys_rotate_on_unknown_kid), cmocka_unit_test(cached_tokens_follow_key_removal),
      cmocka_unit_test(sets_refresh_on_a_timer),    cmocka_unit_test(an_unreachable_url_is_not_fatal),
      cmocka_unit_test(bad_urls_are_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
