#include "base/uuid.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>

#include "base/clock.h"

static pthread_mutex_t v7_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t v7_last_ms;
static uint16_t v7_counter;

static void fill_random(unsigned char *b, int n) {
  if (RAND_bytes(b, n) != 1) {
    /* OpenSSL's DRBG failing is fatal for security; fall back to the clock mix
     * only to keep ids unique, never for secrets. */
    int64_t t = qs_clock_mono_ms();
    for (int i = 0; i < n; i++) b[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)i;
  }
}

/* Ids take their random bits from a per-thread pool refilled from the DRBG
 * 512 bytes at a time: one RAND_bytes call per 32 ids instead of one per id.
 * Every byte is used once. */
#define POOL_BYTES 512
static _Thread_local unsigned char pool[POOL_BYTES];
static _Thread_local int pool_used = POOL_BYTES;

static void random_bytes(unsigned char *b, int n) {
  if (n > POOL_BYTES) {
    fill_random(b, n);
    return;
  }
  if (POOL_BYTES - pool_used < n) {
    fill_random(pool, POOL_BYTES);
    pool_used = 0;
  }
  memcpy(b, pool + pool_used, (size_t)n);
  memset(pool + pool_used, 0, (size_t)n);
  pool_used += n;
}

static void format_urn(const unsigned char b[16], char out[QS_UUID_URN_LEN + 1]) {
  static const char hex[] = "0123456789abcdef";
  memcpy(out, "urn:uuid:", 9);
  char *o = out + 9;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
    *o++ = hex[b[i] >> 4];
    *o++ = hex[b[i] & 0x0f];
  }
  *o = '\0';
}

void qs_uuid_v4_urn(char out[QS_UUID_URN_LEN + 1]) {
  unsigned char b[16];
  random_bytes(b, 16);
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  format_urn(b, out);
}

void qs_uuid_v7_floor(int64_t unix_ms) {
  pthread_mutex_lock(&v7_lock);
  if (unix_ms > v7_last_ms) {
    v7_last_ms = unix_ms;
    v7_counter = 0x0fff; /* the next id moves to the next millisecond */
  }
  pthread_mutex_unlock(&v7_lock);
}

void qs_uuid_v7_urn(char out[QS_UUID_URN_LEN + 1]) {
  unsigned char b[16];
  random_bytes(b, 16);
  pthread_mutex_lock(&v7_lock);
  int64_t now = qs_clock_wall_ms();
  if (now > v7_last_ms) {
    v7_last_ms = now;
    v7_counter = 0;
  } else if (++v7_counter > 0x0fff) {
    v7_last_ms++; /* counter exhausted (or clock went back): borrow the next millisecond */
    v7_counter = 0;
  }
  int64_t ms = v7_last_ms;
  uint16_t counter = v7_counter;
  pthread_mutex_unlock(&v7_lock);
  for (int i = 0; i < 6; i++) b[i] = (unsigned char)(ms >> (40 - 8 * i));
  b[6] = (unsigned char)(0x70 | ((counter >> 8) & 0x0f));
  b[7] = (unsigned char)(counter & 0xff);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  format_urn(b, out);
}

int64_t qs_uuid_v7_timestamp_ms(const char *urn, unsigned long len) {
  if (len != QS_UUID_URN_LEN || memcmp(urn, "urn:uuid:", 9) != 0 || urn[9 + 14] != '7') return -1;
  int64_t ms = 0;
  int digits = 0;
  for (unsigned long i = 9; i < 9 + 13 && digits < 12; i++) {
    char c = urn[i];
    if (c == '-') continue;
    int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (v < 0) return -1;
    ms = ms * 16 + v;
    digits++;
  }
  return ms;
}
