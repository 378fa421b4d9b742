/* Host parsing and serialization (URL Standard, "Hosts (domains and IP
 * addresses)"): IPv6, IPv4 with its number forms, opaque hosts, and domains
 * through UTS #46 ToASCII (libidn2). */
#include <idn2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "match/url.h"
#include "match/url_internal.h"

bool qs_url_forbidden_host_code_point(unsigned char c) {
  static const char set[] = "\t\n\r #/:<>?@[\\]^|";
  return c == 0 || memchr(set, c, sizeof set - 1) != NULL;
}

static bool forbidden_host(unsigned char c) { return qs_url_forbidden_host_code_point(c); }

/* URL Standard, "forbidden domain code point". */
static bool forbidden_domain(unsigned char c) {
  return forbidden_host(c) || c <= 0x1F || c == '%' || c == 0x7F;
}

/* ---- IPv6 (URL Standard, "IPv6 parser" and "IPv6 serializer") ---- */

static int ipv6_parse(const char *s, size_t n, uint16_t address[8]) {
  memset(address, 0, 8 * sizeof address[0]);
  size_t piece = 0, p = 0;
  int compress = -1;
#define C (p < n ? (unsigned char)s[p] : -1)
  if (C == ':') {
    if (p + 1 >= n || s[p + 1] != ':') return QS_EPARSE;
    p += 2;
    piece++;
    compress = (int)piece;
  }
  while (C != -1) {
    if (piece == 8) return QS_EPARSE;
    if (C == ':') {
      if (compress != -1) return QS_EPARSE;
      p++;
      piece++;
      compress = (int)piece;
      continue;
    }
    unsigned value = 0, length = 0;
    while (length < 4 && C != -1 && url_is_hex(C)) {
      value = value * 16 + (unsigned)qs_hex_digit_value(C);
      p++;
      length++;
    }
    if (C == '.') {
      if (length == 0) return QS_EPARSE;
      p -= length;
      if (piece > 6) return QS_EPARSE;
      int seen = 0;
      while (C != -1) {
        int v4 = -1;
        if (seen > 0) {
          if (C == '.' && seen < 4)
            p++;
          else
            return QS_EPARSE;
        }
        if (C == -1 || !url_is_digit(C)) return QS_EPARSE;
        while (C != -1 && url_is_digit(C)) {
          int digit = C - '0';
          if (v4 == -1)
            v4 = digit;
          else if (v4 == 0)
            return QS_EPARSE;
          else
            v4 = v4 * 10 + digit;
          if (v4 > 255) return QS_EPARSE;
          p++;
        }
        address[piece] = (uint16_t)(address[piece] * 0x100 + v4);
        seen++;
        if (seen == 2 || seen == 4) piece++;
      }
      if (seen != 4) return QS_EPARSE;
      break;
    } else if (C == ':') {
      p++;
      if (C == -1) return QS_EPARSE;
    } else if (C != -1) {
      return QS_EPARSE;
    }
    address[piece] = (uint16_t)value;
    piece++;
  }
#undef C
  if (compress != -1) {
    size_t swaps = piece - (size_t)compress;
    piece = 7;
    while (piece != 0 && swaps > 0) {
      uint16_t t = address[piece];
      address[piece] = address[(size_t)compress + swaps - 1];
      address[(size_t)compress + swaps - 1] = t;
      piece--;
      swaps--;
    }
  } else if (piece != 8) {
    return QS_EPARSE;
  }
  return 0;
}

static int ipv6_serialize(const uint16_t address[8], qs_buf_t *out) {
  /* The first longest run of two or more zero pieces is compressed. */
  int compress = -1, best = 1;
  for (int i = 0; i < 8;) {
    if (address[i] != 0) {
      i++;
      continue;
    }
    int j = i;
    while (j < 8 && address[j] == 0) j++;
    if (j - i > best) {
      best = j - i;
      compress = i;
    }
    i = j;
  }
  int rc = qs_buf_append(out, "[", 1);
  bool ignore0 = false;
  for (int i = 0; i < 8 && rc == 0; i++) {
    if (ignore0 && address[i] == 0) continue;
    ignore0 = false;
    if (compress == i) {
      rc = qs_buf_append_cstr(out, i == 0 ? "::" : ":");
      ignore0 = true;
      continue;
    }
    rc = qs_buf_appendf(out, "%x%s", address[i], i != 7 ? ":" : "");
  }
  return rc ? rc : qs_buf_append(out, "]", 1);
}

/* ---- IPv4 (URL Standard, "IPv4 parser") ---- */

/* Values are saturated here: anything this large fails the range checks. */
#define IPV4_BIG ((uint64_t)1 << 40)

/* "IPv4 number parser": 0 with *out set, or QS_EPARSE. */
static int ipv4_number(const char *s, size_t n, uint64_t *out) {
  if (n == 0) return QS_EPARSE;
  unsigned radix = 10;
  if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s += 2;
    n -= 2;
    radix = 16;
  } else if (n >= 2 && s[0] == '0') {
    s += 1;
    n -= 1;
    radix = 8;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)s[i];
    unsigned d;
    if (radix == 16 && url_is_hex(c))
      d = (unsigned)qs_hex_digit_value(c);
    else if (url_is_digit(c) && (unsigned)(c - '0') < radix)
      d = (unsigned)(c - '0');
    else
      return QS_EPARSE;
    v = v * radix + d;
    if (v > IPV4_BIG) v = IPV4_BIG;
  }
  *out = v;
  return 0;
}

/* "ends in a number checker". */
static bool ends_in_number(const char *s, size_t n) {
  if (n > 0 && s[n - 1] == '.') {
    n--;
    /* A single empty part ("." removed leaves nothing before it) is not a number. */
    if (n == 0) return false;
  }
  size_t start = n;
  while (start > 0 && s[start - 1] != '.') start--;
  const char *last = s + start;
  size_t len = n - start;
  if (len == 0) return false;
  bool digits = true;
  for (size_t i = 0; i < len; i++) digits = digits && url_is_digit((unsigned char)last[i]);
  if (digits) return true;
  uint64_t ignored;
  return ipv4_number(last, len, &ignored) == 0;
}

static int ipv4_parse(const char *s, size_t n, uint32_t *out) {
  uint64_t numbers[4];
  size_t count = 0, start = 0;
  if (n > 0 && s[n - 1] == '.') n--; /* a trailing empty part is dropped */
  for (size_t i = 0; i <= n; i++) {
    if (i < n && s[i] != '.') continue;
    if (count == 4) return QS_EPARSE;
    if (ipv4_number(s + start, i - start, &numbers[count])) return QS_EPARSE;
    count++;
    start = i + 1;
  }
  for (size_t i = 0; i + 1 < count; i++)
    if (numbers[i] > 255) return QS_EPARSE;
  uint64_t limit = (uint64_t)1 << (8 * (5 - count));
  if (numbers[count - 1] >= limit) return QS_EPARSE;
  uint64_t ipv4 = numbers[count - 1];
  for (size_t i = 0; i + 1 < count; i++) ipv4 += numbers[i] << (8 * (3 - i));
  *out = (uint32_t)ipv4;
  return 0;
}

/* ---- Punycode (RFC 3492, decoding only, to validate "xn--" labels) ---- */

/* Decodes `s` into code points (at most `cap`); 0 with *count set, or QS_EPARSE. */
static int punycode_decode(const char *s, size_t n, uint32_t *cps, size_t cap, size_t *count) {
  const uint32_t base = 36, tmin = 1, tmax = 26, skew = 38, damp = 700;
  size_t b = 0;
  for (size_t j = 0; j < n; j++)
    if (s[j] == '-') b = j;
  size_t out = 0;
  if (b > 0) {
    for (size_t j = 0; j < b; j++) {
      if ((unsigned char)s[j] >= 0x80 || out >= cap) return QS_EPARSE;
      cps[out++] = (unsigned char)s[j];
    }
  }
  uint32_t nn = 128, bias = 72;
  uint64_t i = 0;
  size_t in = b > 0 ? b + 1 : 0;
  while (in < n) {
    uint64_t oldi = i, w = 1;
    for (uint32_t k = base;; k += base) {
      if (in >= n) return QS_EPARSE;
      int c = (unsigned char)s[in++];
      uint32_t digit;
      if (c >= '0' && c <= '9')
        digit = (uint32_t)(c - '0' + 26);
      else if (c >= 'a' && c <= 'z')
        digit = (uint32_t)(c - 'a');
      else if (c >= 'A' && c <= 'Z')
        digit = (uint32_t)(c - 'A');
      else
        return QS_EPARSE;
      i += digit * w;
      if (i > 0x7FFFFFFF) return QS_EPARSE;
      uint32_t t = k <= bias ? tmin : k >= bias + tmax ? tmax : k - bias;
      if (digit < t) break;
      w *= base - t;
      if (w > 0x7FFFFFFF) return QS_EPARSE;
    }
    /* adapt(i - oldi, out + 1, oldi == 0) */
    uint64_t delta = (i - oldi) / (oldi == 0 ? damp : 2);
    delta += delta / (out + 1);
    uint32_t k = 0;
    while (delta > ((base - tmin) * tmax) / 2) {
      delta /= base - tmin;
      k += base;
    }
    bias = (uint32_t)(k + (base - tmin + 1) * delta / (delta + skew));
    nn += (uint32_t)(i / (out + 1));
    if (nn > 0x10FFFF || (nn >= 0xD800 && nn <= 0xDFFF)) return QS_EPARSE;
    i %= (out + 1);
    if (out >= cap) return QS_EPARSE;
    memmove(cps + i + 1, cps + i, (out - i) * sizeof *cps);
    cps[i++] = nn;
    out++;
  }
  *count = out;
  return 0;
}

static int append_utf8(qs_buf_t *out, uint32_t cp) {
  char b[4];
  size_t n;
  if (cp < 0x80) {
    b[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    b[0] = (char)(0xC0 | (cp >> 6));
    b[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    b[0] = (char)(0xE0 | (cp >> 12));
    b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    b[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    b[0] = (char)(0xF0 | (cp >> 18));
    b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    b[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  return qs_buf_append(out, b, n);
}

/* ---- Domains (URL Standard, "domain to ASCII", beStrict false) ---- */

static bool starts_with_xn(const char *s, size_t n) {
  return n >= 4 && url_lower((unsigned char)s[0]) == 'x' && url_lower((unsigned char)s[1]) == 'n' &&
         s[2] == '-' && s[3] == '-';
}

/* RFC 3492 encoding of `n` code points into `out` (after "xn--"). */
static int punycode_encode(const uint32_t *cps, size_t n, qs_buf_t *out) {
  const uint32_t base = 36, tmin = 1, tmax = 26, skew = 38, damp = 700;
  static const char digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  int rc = 0;
  size_t basic = 0;
  for (size_t j = 0; j < n && rc == 0; j++) {
    if (cps[j] >= 0x80) continue;
    char ch = (char)cps[j];
    rc = qs_buf_append(out, &ch, 1);
    basic++;
  }
  if (rc == 0 && basic > 0) rc = qs_buf_append(out, "-", 1);
  uint32_t m_min = 128, bias = 72;
  uint64_t delta = 0;
  size_t h = basic;
  while (rc == 0 && h < n) {
    uint32_t m = UINT32_MAX;
    for (size_t j = 0; j < n; j++)
      if (cps[j] >= m_min && cps[j] < m) m = cps[j];
    delta += (uint64_t)(m - m_min) * (h + 1);
    m_min = m;
    for (size_t j = 0; j < n && rc == 0; j++) {
      if (cps[j] < m_min) delta++;
      if (cps[j] != m_min) continue;
      uint64_t q = delta;
      for (uint32_t k = base;; k += base) {
        uint32_t t = k <= bias ? tmin : k >= bias + tmax ? tmax : k - bias;
        if (q < t) break;
        char ch = digits[t + (q - t) % (base - t)];
        if ((rc = qs_buf_append(out, &ch, 1))) break;
        q = (q - t) / (base - t);
      }
      if (rc) break;
      char ch = digits[q];
      rc = qs_buf_append(out, &ch, 1);
      /* adapt(delta, h + 1, h == basic) */
      uint64_t d = delta / (h == basic ? damp : 2);
      d += d / (h + 1);
      uint32_t k = 0;
      while (d > ((base - tmin) * tmax) / 2) {
        d /= base - tmin;
        k += base;
      }
      bias = (uint32_t)(k + (base - tmin + 1) * d / (d + skew));
      delta = 0;
      h++;
    }
    delta++;
    m_min++;
  }
  return rc;
}

/* Decodes one UTF-8 code point (input is well-formed) at s[*i]. */
static uint32_t next_cp(const char *s, size_t n, size_t *i) {
  const unsigned char *u = (const unsigned char *)s;
  uint32_t c = u[*i];
  size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  if (*i + len > n) len = n - *i;
  uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < len; k++) cp = (cp << 6) | (u[*i + k] & 0x3F);
  *i += len;
  return cp;
}

/* Symbol blocks whose code points UTS #46 keeps as valid although IDNA2008,
 * which libidn2 enforces, disallows them (UTS #46 status "valid NV8"):
 * arrows, mathematical operators, technical symbols, box drawing, geometric
 * shapes, miscellaneous symbols, dingbats, Braille, and the emoji planes. */
static bool uts46_symbol(uint32_t cp) {
  return (cp >= 0x2190 && cp <= 0x23FF) || (cp >= 0x2400 && cp <= 0x243F) || (cp >= 0x2500 && cp <= 0x2BFF) ||
         (cp >= 0x1F000 && cp <= 0x1FAFF);
}

/* Appends the UTS #46 mapping of one non-ASCII code point, learned from
 * libidn2 on that code point alone; symbols libidn2 disallows map to
 * themselves when uts46_symbol() holds. QS_EPARSE when it is not valid. */
static int map_code_point(uint32_t cp, uint32_t *cps, size_t cap, size_t *count) {
  qs_buf_t one;
  qs_buf_init(&one, 16);
  int rc = append_utf8(&one, cp);
  char *ascii = NULL;
  int irc = rc ? IDN2_MALLOC : idn2_to_ascii_8z(one.ptr, &ascii, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
  qs_buf_dispose(&one);
  if (rc) return rc;
  if (irc != IDN2_OK) {
    if ((irc != IDN2_DISALLOWED && irc != IDN2_UNASSIGNED) || !uts46_symbol(cp) || *count >= cap)
      return QS_EPARSE;
    cps[(*count)++] = cp;
    return 0;
  }
  size_t len = strlen(ascii);
  if (starts_with_xn(ascii, len)) {
    size_t got = 0;
    rc = punycode_decode(ascii + 4, len - 4, cps + *count, cap - *count, &got);
    *count += got;
  } else {
    for (size_t i = 0; i < len && rc == 0; i++) {
      if (*count >= cap)
        rc = QS_EPARSE;
      else
        cps[(*count)++] = (unsigned char)ascii[i];
    }
  }
  idn2_free(ascii);
  return rc;
}

/* The label's ToASCII when libidn2 refuses it for a rule UTS #46 does not
 * apply with beStrict false (hyphen placement, DNS lengths) or for an IDNA2008
 * symbol restriction: maps code point by code point, then Punycode-encodes. */
static int label_to_ascii_fallback(const char *label, size_t n, qs_buf_t *out) {
  size_t cap = n * 18 + 16; /* UTS #46 mappings are at most 18 code points */
  uint32_t *cps = malloc(cap * sizeof *cps);
  if (!cps) return QS_ENOMEM;
  size_t count = 0;
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0;) {
    uint32_t cp = next_cp(label, n, &i);
    if (cp < 0x80) {
      if (count >= cap)
        rc = QS_EPARSE;
      else
        cps[count++] = (uint32_t)url_lower((int)cp);
    } else {
      rc = map_code_point(cp, cps, cap, &count);
    }
  }
  bool ascii = true;
  for (size_t i = 0; i < count; i++) ascii = ascii && cps[i] < 0x80;
  if (rc == 0 && !ascii) rc = qs_buf_append(out, "xn--", 4);
  if (rc == 0 && !ascii) rc = punycode_encode(cps, count, out);
  for (size_t i = 0; rc == 0 && ascii && i < count; i++) {
    char ch = (char)cps[i];
    rc = qs_buf_append(out, &ch, 1);
  }
  free(cps);
  return rc;
}

/* Whether the label holds an ASCII code point other than a letter, a digit or
 * '-'. With UseSTD3ASCIIRules=false UTS #46 keeps such code points ("ü~x" ->
 * "xn--~x-wka"; the forbidden domain code points are refused later), but
 * IDNA2008 does not: libidn2 encodes the label, then refuses the A-label when
 * checking it back (IDN2_ALABEL_ROUNDTRIP_FAILED). */
static bool has_ascii_symbol(const char *label, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)label[i];
    if (c < 0x80 && c != '-' && !(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z'))
      return true;
  }
  return false;
}

/* UTS #46 ToASCII of one non-ASCII label through libidn2, non-transitional.
 * Appends the A-label (lowercase ASCII) to `out`. */
static int label_to_ascii(const char *label, size_t n, qs_buf_t *out) {
  if (n > URL_MAX_IDN_LABEL_BYTES) return QS_EPARSE;
  /* U+0000 is a forbidden domain code point, and libidn2 reads C strings: a
   * NUL would silently cut the label short ("a\0ü.com" -> "a.com"). */
  if (memchr(label, '\0', n)) return QS_EPARSE;
  char *copy = malloc(n + 1);
  if (!copy) return QS_ENOMEM;
  memcpy(copy, label, n);
  copy[n] = '\0';
  char *ascii = NULL;
  int rc = idn2_to_ascii_8z(copy, &ascii, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
  free(copy);
  if (rc == IDN2_DISALLOWED || rc == IDN2_UNASSIGNED || rc == IDN2_2HYPHEN || rc == IDN2_HYPHEN_STARTEND ||
      rc == IDN2_TOO_BIG_LABEL || rc == IDN2_TOO_BIG_DOMAIN ||
      (rc == IDN2_ALABEL_ROUNDTRIP_FAILED && has_ascii_symbol(label, n)))
    return label_to_ascii_fallback(label, n, out);
  if (rc != IDN2_OK) return QS_EPARSE;
  rc = qs_buf_append_cstr(out, ascii);
  idn2_free(ascii);
  return rc;
}

/* UTS #46 processing of an "xn--" label: the Punycode must decode to a label
 * that is already valid (UTS #46 "Validity Criteria"), which holds exactly when
 * ToASCII of the decoded label gives back the same A-label. */
static int check_alabel(const char *label, size_t n) {
  if (n > URL_MAX_IDN_LABEL_BYTES) return QS_EPARSE;
  size_t cap = n;
  uint32_t *cps = malloc((cap + 1) * sizeof *cps);
  if (!cps) return QS_ENOMEM;
  size_t count = 0;
  int rc = punycode_decode(label + 4, n - 4, cps, cap, &count);
  bool ascii = true;
  for (size_t i = 0; rc == 0 && i < count; i++) ascii = ascii && cps[i] < 0x80;
  /* An empty or all-ASCII decoding is an error (UTS #46, Processing step 4). */
  if (rc == 0 && (count == 0 || ascii)) rc = QS_EPARSE;
  qs_buf_t u, a;
  qs_buf_init(&u, URL_MAX_WORK_BYTES);
  qs_buf_init(&a, URL_MAX_WORK_BYTES);
  for (size_t i = 0; rc == 0 && i < count; i++) rc = append_utf8(&u, cps[i]);
  free(cps);
  if (rc == 0) rc = label_to_ascii(u.ptr, u.len, &a);
  if (rc == 0 && a.len != n) rc = QS_EPARSE;
  for (size_t i = 0; rc == 0 && i < n; i++)
    if (url_lower((unsigned char)label[i]) != (unsigned char)a.ptr[i]) rc = QS_EPARSE;
  qs_buf_dispose(&u);
  qs_buf_dispose(&a);
  return rc;
}

int qs_url_domain_to_ascii(qs_slice_t domain, qs_buf_t *out) {
  size_t start_len = out->len;
  /* UTS #46 maps these three full stops to '.' before splitting labels. */
  qs_buf_t d;
  qs_buf_init(&d, URL_MAX_WORK_BYTES);
  int rc = 0;
  for (size_t i = 0; i < domain.len && rc == 0;) {
    const unsigned char *s = (const unsigned char *)domain.ptr + i;
    size_t left = domain.len - i;
    if (left >= 3 && ((s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x82) ||  /* U+3002 */
                      (s[0] == 0xEF && s[1] == 0xBC && s[2] == 0x8E) ||  /* U+FF0E */
                      (s[0] == 0xEF && s[1] == 0xBD && s[2] == 0xA1))) { /* U+FF61 */
      rc = qs_buf_append(&d, ".", 1);
      i += 3;
    } else {
      rc = qs_buf_append(&d, s, 1);
      i++;
    }
  }
  if (rc == 0 && d.len == 0) rc = qs_buf_append(&d, "", 0);
  size_t start = 0;
  for (size_t i = 0; rc == 0 && i <= d.len; i++) {
    if (i < d.len && d.ptr[i] != '.') continue;
    const char *label = d.ptr + start;
    size_t n = i - start;
    bool ascii = true;
    for (size_t k = 0; k < n; k++) ascii = ascii && (unsigned char)label[k] < 0x80;
    if (start > 0) rc = qs_buf_append(out, ".", 1);
    if (rc == 0 && ascii) {
      /* UTS #46 mapping of ASCII with UseSTD3ASCIIRules=false is lowercasing. */
      size_t at = out->len;
      rc = qs_buf_append(out, label, n);
      for (size_t k = 0; rc == 0 && k < n; k++)
        out->ptr[at + k] = (char)url_lower((unsigned char)out->ptr[at + k]);
      if (rc == 0 && starts_with_xn(label, n)) rc = check_alabel(label, n);
    } else if (rc == 0) {
      rc = label_to_ascii(label, n, out);
    }
    start = i + 1;
  }
  qs_buf_dispose(&d);
  if (rc) return rc;
  /* URL Standard, "domain to ASCII" steps 3 and 4. */
  if (out->len == start_len) return QS_EPARSE;
  for (size_t i = start_len; i < out->len; i++)
    if (forbidden_domain((unsigned char)out->ptr[i])) return QS_EPARSE;
  return 0;
}

/* ---- The host parser ---- */

static int opaque_host_parse(qs_slice_t input, qs_buf_t *out) {
  for (size_t i = 0; i < input.len; i++)
    if (forbidden_host((unsigned char)input.ptr[i])) return QS_EPARSE;
  return qs_url_percent_encode(input, QS_URL_SET_C0_CONTROL, out);
}

int qs_url_host_parse(qs_slice_t input, bool is_opaque, qs_buf_t *out) {
  if (input.len > 0 && input.ptr[0] == '[') {
    if (input.ptr[input.len - 1] != ']' || input.len < 2) return QS_EPARSE;
    uint16_t address[8];
    int rc = ipv6_parse(input.ptr + 1, input.len - 2, address);
    return rc ? rc : ipv6_serialize(address, out);
  }
  if (is_opaque) return opaque_host_parse(input, out);
  qs_buf_t decoded, domain, ascii;
  qs_buf_init(&decoded, URL_MAX_WORK_BYTES);
  qs_buf_init(&domain, URL_MAX_WORK_BYTES);
  qs_buf_init(&ascii, URL_MAX_WORK_BYTES);
  int rc = qs_url_percent_decode(input, &decoded);
  if (rc == 0) rc = qs_url_utf8_sanitize(qs_buf_slice(&decoded), &domain);
  if (rc == 0) rc = qs_url_domain_to_ascii(qs_buf_slice(&domain), &ascii);
  if (rc == 0 && ends_in_number(ascii.ptr, ascii.len)) {
    uint32_t v4;
    rc = ipv4_parse(ascii.ptr, ascii.len, &v4);
    if (rc == 0)
      rc = qs_buf_appendf(out, "%u.%u.%u.%u", (unsigned)(v4 >> 24), (unsigned)((v4 >> 16) & 255),
                          (unsigned)((v4 >> 8) & 255), (unsigned)(v4 & 255));
  } else if (rc == 0) {
    rc = qs_buf_append(out, ascii.ptr, ascii.len);
  }
  qs_buf_dispose(&decoded);
  qs_buf_dispose(&domain);
  qs_buf_dispose(&ascii);
  return rc;
}
