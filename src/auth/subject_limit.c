#include "auth/subject_limit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/keyed_count.h"

struct qs_subject_limiter {
  pthread_mutex_t lock;
  qs_keyed_count_t counts; /* by subject_key() */
  size_t max_per_subject;
};

struct qs_subject_lease {
  qs_subject_limiter_t *limiter;
  size_t key_len;
  char key[]; /* iss "\n" sub */
};

int qs_subject_limiter_create(size_t max_per_subject, qs_subject_limiter_t **out) {
  qs_subject_limiter_t *l = calloc(1, sizeof *l);
  if (!l) return QS_ENOMEM;
  pthread_mutex_init(&l->lock, NULL);
  qs_keyed_count_init(&l->counts);
  l->max_per_subject = max_per_subject ? max_per_subject : 1;
  *out = l;
  return 0;
}

void qs_subject_limiter_destroy(qs_subject_limiter_t *l) {
  if (!l) return;
  qs_keyed_count_dispose(&l->counts);
  pthread_mutex_destroy(&l->lock);
  free(l);
}

/* The principal's key, in `out`: "S", the length of `iss`, `iss`, `sub` for
 * a token with a subject; "T" and the token's digest for one without. */
static int subject_key(const qs_grants_t *g, qs_buf_t *out) {
  if (g->subject.len == 0) {
    int rc = qs_buf_append(out, "T", 1);
    if (!rc) rc = qs_buf_append(out, g->token_digest, QS_GRANTS_DIGEST_BYTES);
    return rc;
  }
  uint64_t issuer_len = g->issuer.len;
  int rc = qs_buf_append(out, "S", 1);
  if (!rc) rc = qs_buf_append(out, &issuer_len, sizeof issuer_len);
  if (!rc) rc = qs_buf_append(out, g->issuer.ptr, g->issuer.len);
  if (!rc) rc = qs_buf_append(out, g->subject.ptr, g->subject.len);
  return rc;
}

/* Whether the grants name a principal to count. */
static bool counted(const qs_grants_t *g) { return g && (g->subject.len || g->token_digest); }

int qs_subject_limiter_acquire(qs_subject_limiter_t *l, const qs_grants_t *grants,
                               qs_subject_lease_t **lease) {
  *lease = NULL;
  if (!counted(grants)) return 0;
  qs_buf_t key;
  qs_buf_init(&key, 16384);
  int rc = subject_key(grants, &key);
  qs_subject_lease_t *out = rc ? NULL : malloc(sizeof *out + key.len);
  if (!out) {
    qs_buf_dispose(&key);
    return rc ? rc : QS_ENOMEM;
  }
  out->limiter = l;
  out->key_len = key.len;
  memcpy(out->key, key.ptr, key.len);
  qs_buf_dispose(&key);
  qs_slice_t k = qs_slice(out->key, out->key_len);
  pthread_mutex_lock(&l->lock);
  rc = qs_keyed_count_take(&l->counts, k, l->max_per_subject);
  pthread_mutex_unlock(&l->lock);
  if (rc) {
    free(out);
    return rc;
  }
  *lease = out;
  return 0;
}

void qs_subject_limiter_release(qs_subject_lease_t *lease) {
  if (!lease) return;
  qs_subject_limiter_t *l = lease->limiter;
  qs_slice_t k = qs_slice(lease->key, lease->key_len);
  pthread_mutex_lock(&l->lock);
  qs_keyed_count_release(&l->counts, k);
  pthread_mutex_unlock(&l->lock);
  free(lease);
}

size_t qs_subject_limiter_count(qs_subject_limiter_t *l, const qs_grants_t *grants) {
  if (!counted(grants)) return 0;
  qs_buf_t key;
  qs_buf_init(&key, 16384);
  size_t count = 0;
  if (subject_key(grants, &key) == 0) {
    pthread_mutex_lock(&l->lock);
    count = qs_keyed_count_get(&l->counts, qs_buf_slice(&key));
    pthread_mutex_unlock(&l->lock);
  }
  qs_buf_dispose(&key);
  return count;
}
