#include "base/text.h"

int32_t qs_utf8_next(qs_slice_t s, size_t *pos) {
  const unsigned char *p = (const unsigned char *)s.ptr + *pos;
  size_t left = s.len - *pos;
  if (left == 0) return -1;
  uint32_t c = p[0];
  if (c < 0x80) {
    *pos += 1;
    return (int32_t)c;
  }
  size_t n;
  uint32_t min;
  if ((c & 0xe0) == 0xc0)
    n = 2, c &= 0x1f, min = 0x80;
  else if ((c & 0xf0) == 0xe0)
    n = 3, c &= 0x0f, min = 0x800;
  else if ((c & 0xf8) == 0xf0)
    n = 4, c &= 0x07, min = 0x10000;
  else
    return -1;
  if (left < n) return -1;
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80) return -1;
    c = (c << 6) | (p[i] & 0x3f);
  }
  if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return -1;
  *pos += n;
  return (int32_t)c;
}

bool qs_utf8_valid(qs_slice_t s) {
  for (size_t pos = 0; pos < s.len;)
    if (qs_utf8_next(s, &pos) < 0) return false;
  return true;
}

/* Unicode general category Cf (Unicode 15.1). */
static const uint32_t format_ranges[][2] = {
    {0x00ad, 0x00ad},   {0x0600, 0x0605},   {0x061c, 0x061c},   {0x06dd, 0x06dd},   {0x070f, 0x070f},
    {0x0890, 0x0891},   {0x08e2, 0x08e2},   {0x180e, 0x180e},   {0x200b, 0x200f},   {0x202a, 0x202e},
    {0x2060, 0x2064},   {0x2066, 0x206f},   {0xfeff, 0xfeff},   {0xfff9, 0xfffb},   {0x110bd, 0x110bd},
    {0x110cd, 0x110cd}, {0x13430, 0x1343f}, {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0xe0001, 0xe0001},
    {0xe0020, 0xe007f},
};

bool qs_codepoint_forbidden(uint32_t cp) {
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return true;
  for (size_t i = 0; i < sizeof format_ranges / sizeof format_ranges[0]; i++)
    if (cp >= format_ranges[i][0] && cp <= format_ranges[i][1]) return true;
  return false;
}

bool qs_text_allowed(qs_slice_t s, const char **reason) {
  for (size_t pos = 0; pos < s.len;) {
    int32_t cp = qs_utf8_next(s, &pos);
    if (cp < 0) {
      if (reason) *reason = "is not valid UTF-8";
      return false;
    }
    if (qs_codepoint_forbidden((uint32_t)cp)) {
      if (reason) *reason = "contains a control or format character";
      return false;
    }
  }
  return true;
}
