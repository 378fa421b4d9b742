/* Percent-encode sets and percent-encoding (URL Standard, "Percent-encoded
 * bytes"), and the UTF-8 clean-up every input goes through. */
#include <stdint.h>

#include "base/error.h"
#include "base/percent.h"
#include "match/url.h"
#include "match/url_internal.h"

bool qs_url_in_encode_set(unsigned char c, qs_url_encode_set_t set) {
  /* C0 control percent-encode set: C0 controls and everything above '~'. */
  if (c < 0x20 || c > 0x7E) return true;
  switch (set) {
    case QS_URL_SET_C0_CONTROL:
      return false;
    case QS_URL_SET_FRAGMENT:
      return c == ' ' || c == '"' || c == '<' || c == '>' || c == '`';
    case QS_URL_SET_QUERY:
      return c == ' ' || c == '"' || c == '#' || c == '<' || c == '>';
    case QS_URL_SET_SPECIAL_QUERY:
      return qs_url_in_encode_set(c, QS_URL_SET_QUERY) || c == '\'';
    case QS_URL_SET_PATH:
      /* '^' is not in the set: urltestdata.json expects it kept as is in paths. */
      return qs_url_in_encode_set(c, QS_URL_SET_QUERY) || c == '?' || c == '`' || c == '{' || c == '}';
    case QS_URL_SET_USERINFO:
      return qs_url_in_encode_set(c, QS_URL_SET_PATH) || c == '/' || c == ':' || c == ';' || c == '=' ||
             c == '@' || (c >= '[' && c <= '^') || c == '|';
    case QS_URL_SET_COMPONENT:
      return qs_url_in_encode_set(c, QS_URL_SET_USERINFO) || (c >= '$' && c <= '&') || c == '+' || c == ',';
    case QS_URL_SET_FORM_URLENCODED:
      return qs_url_in_encode_set(c, QS_URL_SET_COMPONENT) || c == '!' || (c >= '\'' && c <= ')') || c == '~';
  }
  return true;
}

int qs_url_percent_encode(qs_slice_t in, qs_url_encode_set_t set, qs_buf_t *out) {
  static const char hex[] = "0123456789ABCDEF";
  if (in.len == 0) return qs_buf_append(out, "", 0);
  size_t run = 0; /* start of the pending run of bytes copied as they are */
  for (size_t i = 0; i < in.len; i++) {
    unsigned char c = (unsigned char)in.ptr[i];
    if (!qs_url_in_encode_set(c, set)) continue;
    int rc = qs_buf_append(out, in.ptr + run, i - run);
    if (rc) return rc;
    char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
    if ((rc = qs_buf_append(out, esc, 3))) return rc;
    run = i + 1;
  }
  return qs_buf_append(out, in.ptr + run, in.len - run);
}

int qs_url_percent_decode(qs_slice_t in, qs_buf_t *out) { return qs_percent_decode_append(in, 0, out); }

/* Length of the well-formed UTF-8 sequence at s[0..n), or 0 when malformed
 * (overlongs, surrogates and values past U+10FFFF are malformed). */
static size_t utf8_seq_len(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (n < len) return 0;
  if (s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  return len;
}

int qs_url_utf8_sanitize(qs_slice_t in, qs_buf_t *out) {
  if (in.len == 0) return qs_buf_append(out, "", 0);
  const unsigned char *s = (const unsigned char *)in.ptr;
  size_t run = 0, i = 0;
  while (i < in.len) {
    size_t len = utf8_seq_len(s + i, in.len - i);
    if (len) {
      i += len;
      continue;
    }
    int rc = qs_buf_append(out, in.ptr + run, i - run);
    if (rc) return rc;
    if ((rc = qs_buf_append(out, "\xEF\xBF\xBD", 3))) return rc;
    /* WHATWG decoding replaces a maximal ill-formed prefix by one U+FFFD:
     * skip the lead byte and the continuation bytes that were still valid. */
    size_t skip = 1;
    unsigned char c = s[i];
    size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 1;
    if (want > 1 && c <= 0xF4) {
      unsigned char lo = 0x80, hi = 0xBF;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
      for (size_t k = 1; k < want && i + k < in.len; k++) {
        unsigned char b = s[i + k];
        if (k == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80) break;
        skip = k + 1;
      }
    }
    i += skip;
    run = i;
  }
  return qs_buf_append(out, in.ptr + run, in.len - run);
}
