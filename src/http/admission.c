#include "http/admission.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/error.h"
#include "base/map.h"

struct qs_http_admission {
  pthread_mutex_t lock;
  size_t max_connections, max_per_address;
  size_t total;
  qs_map_t per_address; /* address bytes -> (void *)(uintptr_t)count */
};

int qs_http_admission_create(size_t max_connections, size_t max_per_address, qs_http_admission_t **out) {
  qs_http_admission_t *a = calloc(1, sizeof *a);
  if (!a) return QS_ENOMEM;
  pthread_mutex_init(&a->lock, NULL);
  a->max_connections = max_connections;
  a->max_per_address = max_per_address;
  qs_map_init(&a->per_address);
  *out = a;
  return 0;
}

void qs_http_admission_destroy(qs_http_admission_t *a) {
  if (!a) return;
  qs_map_dispose(&a->per_address);
  pthread_mutex_destroy(&a->lock);
  free(a);
}

int qs_http_admission_take(qs_http_admission_t *a, qs_slice_t address) {
  int status = 0;
  pthread_mutex_lock(&a->lock);
  uintptr_t count = address.len ? (uintptr_t)qs_map_get(&a->per_address, address) : 0;
  if (a->max_connections && a->total >= a->max_connections) {
    status = 503;
  } else if (a->max_per_address && address.len && count >= a->max_per_address) {
    status = 429;
  } else if (address.len && qs_map_put(&a->per_address, address, (void *)(count + 1)) != 0) {
    status = 503;
  } else {
    a->total++;
  }
  pthread_mutex_unlock(&a->lock);
  return status;
}

void qs_http_admission_release(qs_http_admission_t *a, qs_slice_t address) {
  pthread_mutex_lock(&a->lock);
  a->total--;
  if (address.len) {
    uintptr_t count = (uintptr_t)qs_map_get(&a->per_address, address);
    if (count <= 1)
      qs_map_remove(&a->per_address, address);
    else
      qs_map_put(&a->per_address, address, (void *)(count - 1));
  }
  pthread_mutex_unlock(&a->lock);
}

size_t qs_http_admission_count(qs_http_admission_t *a) {
  pthread_mutex_lock(&a->lock);
  size_t n = a->total;
  pthread_mutex_unlock(&a->lock);
  return n;
}
