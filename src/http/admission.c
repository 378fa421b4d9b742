#include "http/admission.h"

#include <pthread.h>
#include <stdlib.h>

#include "base/error.h"
#include "base/keyed_count.h"

struct qs_http_admission {
  pthread_mutex_t lock;
  size_t max_connections, max_per_address;
  size_t total;
  qs_keyed_count_t per_address; /* by raw address bytes */
};

int qs_http_admission_create(size_t max_connections, size_t max_per_address, qs_http_admission_t **out) {
  qs_http_admission_t *a = calloc(1, sizeof *a);
  if (!a) return QS_ENOMEM;
  pthread_mutex_init(&a->lock, NULL);
  a->max_connections = max_connections;
  a->max_per_address = max_per_address;
  qs_keyed_count_init(&a->per_address);
  *out = a;
  return 0;
}

void qs_http_admission_destroy(qs_http_admission_t *a) {
  if (!a) return;
  qs_keyed_count_dispose(&a->per_address);
  pthread_mutex_destroy(&a->lock);
  free(a);
}

int qs_http_admission_take(qs_http_admission_t *a, qs_slice_t address) {
  int status = 0;
  pthread_mutex_lock(&a->lock);
  if (a->max_connections && a->total >= a->max_connections) {
    status = 503;
  } else if (address.len) {
    int rc = qs_keyed_count_take(&a->per_address, address, a->max_per_address);
    status = rc == QS_EBUSY ? 429 : rc ? 503 : 0;
  }
  if (status == 0) a->total++;
  pthread_mutex_unlock(&a->lock);
  return status;
}

void qs_http_admission_release(qs_http_admission_t *a, qs_slice_t address) {
  pthread_mutex_lock(&a->lock);
  a->total--;
  if (address.len) qs_keyed_count_release(&a->per_address, address);
  pthread_mutex_unlock(&a->lock);
}

size_t qs_http_admission_count(qs_http_admission_t *a) {
  pthread_mutex_lock(&a->lock);
  size_t n = a->total;
  pthread_mutex_unlock(&a->lock);
  return n;
}
