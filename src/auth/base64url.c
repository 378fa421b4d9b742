#include "auth/base64url.h"

#include <stdint.h>

#include "base/error.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The 6-bit value of a base64url character, or -1. */
static int sextet(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

size_t qs_base64url_decoded_len(size_t in_len) {
  if (in_len % 4 == 1) return SIZE_MAX;
  return in_len / 4 * 3 + (in_len % 4 ? in_len % 4 - 1 : 0);
}

/* Drops what was appended since `start`, so a failed call leaves `out` as it was. */
static int rollback(qs_buf_t *out, size_t start, int rc) {
  out->len = start;
  if (out->ptr) out->ptr[start] = '\0';
  return rc;
}

int qs_base64url_decode(qs_slice_t in, qs_buf_t *out) {
  if (qs_base64url_decoded_len(in.len) == SIZE_MAX) return QS_EPARSE;
  size_t start = out->len;
  uint32_t acc = 0;
  int bits = 0;
  unsigned char chunk[192];
  size_t used = 0;
  for (size_t i = 0; i < in.len; i++) {
    int v = sextet((unsigned char)in.ptr[i]);
    if (v < 0) return rollback(out, start, QS_EPARSE);
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      chunk[used++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
      if (used == sizeof chunk) {
        int rc = qs_buf_append(out, chunk, used);
        if (rc) return rollback(out, start, rc);
        used = 0;
      }
    }
  }
  /* RFC 4648 §3.5: the unused low bits of the last character must be zero,
   * otherwise two encodings would decode to the same bytes. */
  if (acc != 0) return rollback(out, start, QS_EPARSE);
  if (used) {
    int rc = qs_buf_append(out, chunk, used);
    if (rc) return rollback(out, start, rc);
  }
  return 0;
}

int qs_base64url_encode(const void *data, size_t len, qs_buf_t *out) {
  const unsigned char *p = data;
  char chunk[256];
  size_t used = 0;
  size_t start = out->len;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t n = (uint32_t)p[i] << 16;
    size_t rest = len - i;
    if (rest > 1) n |= (uint32_t)p[i + 1] << 8;
    if (rest > 2) n |= p[i + 2];
    chunk[used++] = alphabet[(n >> 18) & 63];
    chunk[used++] = alphabet[(n >> 12) & 63];
    if (rest > 1) chunk[used++] = alphabet[(n >> 6) & 63];
    if (rest > 2) chunk[used++] = alphabet[n & 63];
    if (used > sizeof chunk - 4 || i + 3 >= len) {
      int rc = qs_buf_append(out, chunk, used);
      if (rc) return rollback(out, start, rc);
      used = 0;
    }
  }
  return 0;
}
