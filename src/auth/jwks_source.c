#include "auth/jwks_source.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"

struct qs_jwks_source {
  char *url;
  qs_jwt_alg_set_t algorithms;
  int64_t refresh_ms, unknown_kid_ms, timeout_ms;
  pthread_t thread;
  pthread_mutex_t lock; /* guards everything below */
  pthread_cond_t wake;  /* the thread waits on it; create waits on it for the first fetch */
  qs_jwks_set_t *set;   /* last good set, NULL before the first success */
  unsigned char document_sha256[SHA256_DIGEST_LENGTH]; /* of the document `set` came from */
  bool stop;
  bool refresh_requested;
  bool first_attempt_done;
  int64_t last_fetch_ms;     /* monotonic time of the last attempt */
  int64_t last_requested_ms; /* monotonic time of the last unknown-kid fetch */
  uint64_t fetches;          /* successful fetches */
  _Atomic uint64_t changes;  /* fetches that installed different keys (read without the lock) */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void init_curl(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

typedef struct {
  qs_buf_t body;
  qs_jwks_source_t *source;
} fetch_t;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ctx) {
  fetch_t *f = ctx;
  size_t n = size * nmemb;
  /* Returning less than n aborts the transfer (too big, or out of memory). */
  return qs_buf_append(&f->body, ptr, n) == 0 ? n : 0;
}

/* Aborts a transfer when the source is being destroyed. */
static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
  qs_jwks_source_t *s = ctx;
  pthread_mutex_lock(&s->lock);
  bool stop = s->stop;
  pthread_mutex_unlock(&s->lock);
  return stop ? 1 : 0;
}

/* One fetch, on the source's thread, without the lock held. Returns the new
 * set or NULL (logged), and the SHA-256 of the document it came from. */
static qs_jwks_set_t *fetch(qs_jwks_source_t *s, unsigned char sha256[SHA256_DIGEST_LENGTH]) {
  fetch_t f = {.source = s};
  qs_buf_init(&f.body, QS_JWKS_MAX_DOCUMENT_BYTES);
  CURL *curl = curl_easy_init();
  qs_jwks_set_t *set = NULL;
  if (!curl) {
    QS_LOG_WARN("JWKS %s: cannot start a fetch (out of memory); keeping the last key set", s->url);
    return NULL;
  }
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl, CURLOPT_URL, s->url);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)s->timeout_ms);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https,file");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "https");
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 3L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "quicksilver/" QS_VERSION);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &f);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, s);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  bool is_file = strncmp(s->url, "file:", 5) == 0;
  if (rc != CURLE_OK) {
    QS_LOG_WARN("JWKS %s: fetch failed: %s; keeping the last key set", s->url,
                error[0] ? error : curl_easy_strerror(rc));
  } else if (!is_file && status != 200) {
    QS_LOG_WARN("JWKS %s: HTTP status %ld; keeping the last key set", s->url, status);
  } else {
    const char *reason = "out of memory";
    const char *body = f.body.ptr ? f.body.ptr : "";
    int prc = qs_jwks_set_parse(body, f.body.len, s->algorithms, &set, &reason);
    if (!prc && !EVP_Digest(body, f.body.len, sha256, NULL, EVP_sha256(), NULL)) {
      qs_jwks_set_release(set);
      set = NULL;
      prc = QS_ENOMEM;
      reason = "cannot hash the document";
    }
    if (prc) {
      QS_LOG_WARN("JWKS %s: %s; keeping the last key set", s->url, reason);
    } else if (set->count == 0) {
      QS_LOG_WARN("JWKS %s: no usable key (%zu skipped); keeping the last key set", s->url, set->skipped);
      qs_jwks_set_release(set);
      set = NULL;
    }
  }
  curl_easy_cleanup(curl);
  qs_buf_dispose(&f.body);
  return set;
}

static void deadline_after(int64_t ms, struct timespec *ts) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

static void *run(void *arg) {
  qs_jwks_source_t *s = arg;
  pthread_mutex_lock(&s->lock);
  bool due = true; /* the first fetch happens at once */
  while (!s->stop) {
    if (!due) {
      int64_t wait = s->last_fetch_ms + s->refresh_ms - qs_clock_mono_ms();
      if (wait > 0 && !s->refresh_requested) {
        struct timespec ts;
        deadline_after(wait, &ts);
        pthread_cond_timedwait(&s->wake, &s->lock, &ts);
        if (s->stop) break;
      }
      due = s->refresh_requested || qs_clock_mono_ms() >= s->last_fetch_ms + s->refresh_ms;
      if (!due) continue;
    }
    s->refresh_requested = false;
    s->last_fetch_ms = qs_clock_mono_ms();
    pthread_mutex_unlock(&s->lock);
    unsigned char sha256[SHA256_DIGEST_LENGTH];
    qs_jwks_set_t *set = fetch(s, sha256);
    pthread_mutex_lock(&s->lock);
    if (set) {
      /* A refresh that returns the same document changes nothing: not
       * worth a line at info level, nor re-verifying tokens. */
      bool same = s->set && memcmp(sha256, s->document_sha256, sizeof sha256) == 0;
      memcpy(s->document_sha256, sha256, sizeof sha256);
      qs_log(same ? QS_LOG_DEBUG : QS_LOG_INFO, "JWKS %s: %zu usable keys (%zu skipped)", s->url, set->count,
             set->skipped);
      qs_jwks_set_t *old = s->set;
      s->set = set;
      s->fetches++;
      if (!same) atomic_fetch_add(&s->changes, 1);
      qs_jwks_set_release(old);
    }
    if (!s->first_attempt_done) {
      s->first_attempt_done = true;
      pthread_cond_broadcast(&s->wake);
    }
    due = false;
  }
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

int qs_jwks_source_create(const qs_jwks_source_config_t *config, qs_jwks_source_t **out,
                          const char **reason) {
  *out = NULL;
  qs_slice_t url = config->url;
  if (!qs_slice_starts_with(url, qs_slice_from_cstr("https://")) &&
      !qs_slice_starts_with(url, qs_slice_from_cstr("http://")) &&
      !qs_slice_starts_with(url, qs_slice_from_cstr("file://"))) {
    if (reason) *reason = "a JWKS URL must start with https://, http:// or file://";
    return QS_EINVAL;
  }
  pthread_once(&curl_once, init_curl);
  qs_jwks_source_t *s = calloc(1, sizeof *s);
  if (!s || !(s->url = qs_slice_strdup(url))) {
    free(s);
    return QS_ENOMEM;
  }
  s->algorithms = config->algorithms ? config->algorithms : QS_JWT_ALGS_ASYMMETRIC;
  s->refresh_ms = config->refresh_interval_ms > 0 ? config->refresh_interval_ms : QS_JWKS_DEFAULT_REFRESH_MS;
  s->unknown_kid_ms =
      config->unknown_kid_interval_ms > 0 ? config->unknown_kid_interval_ms : QS_JWKS_DEFAULT_UNKNOWN_KID_MS;
  s->timeout_ms = config->timeout_ms > 0 ? config->timeout_ms : QS_JWKS_DEFAULT_TIMEOUT_MS;
  s->last_requested_ms = INT64_MIN / 2;
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->wake, &attr);
  pthread_condattr_destroy(&attr);
  if (pthread_create(&s->thread, NULL, run, s) != 0) {
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s->url);
    free(s);
    return QS_ENOMEM;
  }
  int64_t wait = config->initial_wait_ms > 0 ? config->initial_wait_ms : s->timeout_ms;
  struct timespec ts;
  deadline_after(wait, &ts);
  pthread_mutex_lock(&s->lock);
  while (!s->first_attempt_done)
    if (pthread_cond_timedwait(&s->wake, &s->lock, &ts) == ETIMEDOUT) break;
  bool ready = s->set != NULL;
  pthread_mutex_unlock(&s->lock);
  if (!ready)
    QS_LOG_WARN("JWKS %s: no key set yet; tokens needing it are refused until a fetch succeeds", s->url);
  *out = s;
  return 0;
}

void qs_jwks_source_destroy(qs_jwks_source_t *s) {
  if (!s) return;
  pthread_mutex_lock(&s->lock);
  s->stop = true;
  pthread_cond_broadcast(&s->wake);
  pthread_mutex_unlock(&s->lock);
  pthread_join(s->thread, NULL);
  qs_jwks_set_release(s->set);
  pthread_cond_destroy(&s->wake);
  pthread_mutex_destroy(&s->lock);
  free(s->url);
  free(s);
}

qs_jwks_set_t *qs_jwks_source_get(qs_jwks_source_t *s) {
  pthread_mutex_lock(&s->lock);
  qs_jwks_set_t *set = s->set ? qs_jwks_set_retain(s->set) : NULL;
  pthread_mutex_unlock(&s->lock);
  return set;
}

void qs_jwks_source_request_refresh(qs_jwks_source_t *s) {
  int64_t now = qs_clock_mono_ms();
  pthread_mutex_lock(&s->lock);
  if (now - s->last_requested_ms >= s->unknown_kid_ms) {
    s->last_requested_ms = now;
    s->refresh_requested = true;
    pthread_cond_signal(&s->wake);
  }
  pthread_mutex_unlock(&s->lock);
}

const char *qs_jwks_source_url(const qs_jwks_source_t *s) { return s->url; }

uint64_t qs_jwks_source_fetch_count(qs_jwks_source_t *s) {
  pthread_mutex_lock(&s->lock);
  uint64_t n = s->fetches;
  pthread_mutex_unlock(&s->lock);
  return n;
}

uint64_t qs_jwks_source_changes(const qs_jwks_source_t *s) { return atomic_load(&s->changes); }
