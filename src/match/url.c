/* The basic URL parser, the URL serializer, the URL API getters and the URL
 * Pattern canonicalizers (URL Standard, "URL parsing"; URL Pattern Standard,
 * "Canonicalization"). The state machine works on UTF-8 bytes: every decision
 * it takes is on ASCII code points, and every non-ASCII byte is in every
 * percent-encode set, so byte-wise processing gives the code-point result. */
#include "match/url.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "match/url_internal.h"

/* A URL record while it is being built. The path list is kept serialized:
 * each segment is preceded by '/', so segments are the bytes between
 * slashes (a segment never holds '/'). An opaque path is kept as it is. */
typedef struct {
  qs_buf_t scheme, username, password, host, path, query, fragment;
  bool has_host, has_query, has_fragment, opaque;
  int port;
} rec_t;

typedef enum {
  ST_NONE = 0,
  ST_SCHEME_START,
  ST_SCHEME,
  ST_NO_SCHEME,
  ST_SPECIAL_RELATIVE_OR_AUTHORITY,
  ST_PATH_OR_AUTHORITY,
  ST_RELATIVE,
  ST_RELATIVE_SLASH,
  ST_SPECIAL_AUTHORITY_SLASHES,
  ST_SPECIAL_AUTHORITY_IGNORE_SLASHES,
  ST_AUTHORITY,
  ST_HOST,
  ST_HOSTNAME,
  ST_PORT,
  ST_FILE,
  ST_FILE_SLASH,
  ST_FILE_HOST,
  ST_PATH_START,
  ST_PATH,
  ST_OPAQUE_PATH,
  ST_QUERY,
  ST_FRAGMENT,
} state_t;

static void rec_init(rec_t *r) {
  qs_buf_t *bufs[] = {&r->scheme, &r->username, &r->password, &r->host, &r->path, &r->query, &r->fragment};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) qs_buf_init(bufs[i], URL_MAX_WORK_BYTES);
  r->has_host = r->has_query = r->has_fragment = r->opaque = false;
  r->port = -1;
}

static void rec_dispose(rec_t *r) {
  qs_buf_t *bufs[] = {&r->scheme, &r->username, &r->password, &r->host, &r->path, &r->query, &r->fragment};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) qs_buf_dispose(bufs[i]);
}

/* Replaces the contents of `dst` with `src`. */
static int set_buf(qs_buf_t *dst, const char *src, size_t len) {
  qs_buf_reset(dst);
  return qs_buf_append(dst, src, len);
}

static int copy_buf(qs_buf_t *dst, const qs_buf_t *src) {
  return set_buf(dst, src->ptr ? src->ptr : "", src->len);
}

bool qs_url_is_special_scheme(qs_slice_t s) {
  return qs_slice_eq_cstr(s, "http") || qs_slice_eq_cstr(s, "https") || qs_slice_eq_cstr(s, "ws") ||
         qs_slice_eq_cstr(s, "wss") || qs_slice_eq_cstr(s, "ftp") || qs_slice_eq_cstr(s, "file");
}

int qs_url_default_port(qs_slice_t s) {
  if (qs_slice_eq_cstr(s, "http") || qs_slice_eq_cstr(s, "ws")) return 80;
  if (qs_slice_eq_cstr(s, "https") || qs_slice_eq_cstr(s, "wss")) return 443;
  if (qs_slice_eq_cstr(s, "ftp")) return 21;
  return -1;
}

static bool rec_special(const rec_t *r) { return qs_url_is_special_scheme(qs_buf_slice(&r->scheme)); }
static bool rec_is_file(const rec_t *r) { return qs_slice_eq_cstr(qs_buf_slice(&r->scheme), "file"); }
static bool rec_has_credentials(const rec_t *r) { return r->username.len > 0 || r->password.len > 0; }

/* URL Standard, "Windows drive letter": an ASCII alpha followed by ':' or '|'
 * (normalized: ':' only). */
static bool is_drive_letter(const char *s, size_t n, bool normalized) {
  return n == 2 && url_is_alpha((unsigned char)s[0]) && (s[1] == ':' || (!normalized && s[1] == '|'));
}

/* "starts with a Windows drive letter". */
static bool starts_with_drive_letter(const char *s, size_t n) {
  if (n < 2 || !is_drive_letter(s, 2, false)) return false;
  return n == 2 || s[2] == '/' || s[2] == '\\' || s[2] == '?' || s[2] == '#';
}

/* The first segment of a non-empty list path. */
static qs_slice_t path_first(const rec_t *r) {
  size_t end = 1;
  while (end < r->path.len && r->path.ptr[end] != '/') end++;
  return qs_slice(r->path.ptr + 1, end - 1);
}

static int path_append(rec_t *r, const char *seg, size_t n) {
  int rc = qs_buf_append(&r->path, "/", 1);
  return rc ? rc : qs_buf_append(&r->path, seg, n);
}

/* URL Standard, "shorten a URL's path". A path whose only segment is a
 * normalized Windows drive letter is exactly "/X:" (checked in constant time
 * so that many ".." segments stay linear). */
static void path_shorten(rec_t *r) {
  if (r->path.len == 0) return;
  if (rec_is_file(r) && r->path.len == 3 && is_drive_letter(r->path.ptr + 1, 2, true)) return;
  size_t i = r->path.len;
  while (i > 0 && r->path.ptr[i - 1] != '/') i--;
  r->path.len = i - 1;
  r->path.ptr[r->path.len] = '\0';
}

static bool seg_eq_nocase(const char *s, size_t n, const char *lit) {
  return qs_slice_eq_nocase(qs_slice(s, n), qs_slice_from_cstr(lit));
}

/* URL Standard, "single-dot URL path segment" and "double-dot URL path segment". */
static bool single_dot(const char *s, size_t n) {
  return seg_eq_nocase(s, n, ".") || seg_eq_nocase(s, n, "%2e");
}
static bool double_dot(const char *s, size_t n) {
  return seg_eq_nocase(s, n, "..") || seg_eq_nocase(s, n, ".%2e") || seg_eq_nocase(s, n, "%2e.") ||
         seg_eq_nocase(s, n, "%2e%2e");
}

/* Copies the base's fields named by the relative state. */
static int inherit_authority(rec_t *url, const rec_t *base) {
  int rc = copy_buf(&url->username, &base->username);
  if (rc == 0) rc = copy_buf(&url->password, &base->password);
  if (rc == 0) rc = copy_buf(&url->host, &base->host);
  url->has_host = base->has_host;
  url->port = base->port;
  return rc;
}

static int set_host(rec_t *url, qs_slice_t buffer) {
  qs_buf_t host;
  qs_buf_init(&host, URL_MAX_WORK_BYTES);
  int rc = qs_url_host_parse(buffer, !rec_special(url), &host);
  if (rc == 0) rc = set_buf(&url->host, host.ptr ? host.ptr : "", host.len);
  if (rc == 0) url->has_host = true;
  qs_buf_dispose(&host);
  return rc;
}

#define EOF_C (-1)

/* "Set url's query to the empty string" and go to the query state. */
static state_t begin_query(rec_t *url) {
  qs_buf_reset(&url->query);
  url->has_query = true;
  return ST_QUERY;
}

/* "Set url's fragment to the empty string" and go to the fragment state. */
static state_t begin_fragment(rec_t *url) {
  qs_buf_reset(&url->fragment);
  url->has_fragment = true;
  return ST_FRAGMENT;
}

/* URL Standard, "basic URL parser". `override` is ST_NONE or the state
 * override. Returns 0 (including the spec's early "return"), QS_EPARSE for
 * failure, QS_ETOOBIG or QS_ENOMEM. */
static int basic_parse(qs_slice_t raw, const rec_t *base, rec_t *url, state_t override) {
  if (raw.len > QS_URL_MAX_INPUT_BYTES) return QS_ETOOBIG;
  qs_buf_t clean, buffer;
  qs_buf_init(&clean, URL_MAX_WORK_BYTES);
  qs_buf_init(&buffer, URL_MAX_WORK_BYTES);
  int rc = qs_url_utf8_sanitize(raw, &clean);
  if (rc) goto done;
  /* Leading and trailing C0 controls and spaces go when no URL is given (no
   * override); ASCII tab and newline go everywhere. */
  size_t lo = 0, hi = clean.len;
  if (override == ST_NONE) {
    while (lo < hi && (unsigned char)clean.ptr[lo] <= 0x20) lo++;
    while (hi > lo && (unsigned char)clean.ptr[hi - 1] <= 0x20) hi--;
  }
  size_t len = 0;
  for (size_t i = lo; i < hi; i++) {
    char ch = clean.ptr[i];
    if (ch != '\t' && ch != '\n' && ch != '\r') clean.ptr[len++] = ch;
  }
  const char *in = clean.ptr ? clean.ptr : "";
  state_t state = override != ST_NONE ? override : ST_SCHEME_START;
  bool at_sign_seen = false, inside_brackets = false, password_token_seen = false;
  ptrdiff_t p = 0;
  const ptrdiff_t n = (ptrdiff_t)len;

  for (;;) {
    int c = p < n ? (unsigned char)in[p] : EOF_C;
    /* remaining: the bytes after c. */
    const char *rem = p + 1 <= n ? in + p + 1 : in + n;
    size_t rem_len = p + 1 <= n ? (size_t)(n - p - 1) : 0;
    bool special = rec_special(url);
    switch (state) {
      case ST_NONE:
        rc = QS_EINVAL;
        goto done;

      case ST_SCHEME_START:
        if (c != EOF_C && url_is_alpha(c)) {
          char lc = (char)url_lower(c);
          if ((rc = qs_buf_append(&buffer, &lc, 1))) goto done;
          state = ST_SCHEME;
        } else if (override == ST_NONE) {
          state = ST_NO_SCHEME;
          p--;
        } else {
          rc = QS_EPARSE;
          goto done;
        }
        break;

      case ST_SCHEME:
        if (c != EOF_C && (url_is_alpha(c) || url_is_digit(c) || c == '+' || c == '-' || c == '.')) {
          char lc = (char)url_lower(c);
          if ((rc = qs_buf_append(&buffer, &lc, 1))) goto done;
        } else if (c == ':') {
          if (override != ST_NONE) {
            bool buffer_special = qs_url_is_special_scheme(qs_buf_slice(&buffer));
            if (special != buffer_special) goto done;
            if ((rec_has_credentials(url) || url->port != -1) &&
                qs_slice_eq_cstr(qs_buf_slice(&buffer), "file"))
              goto done;
            if (rec_is_file(url) && url->has_host && url->host.len == 0) goto done;
          }
          if ((rc = copy_buf(&url->scheme, &buffer))) goto done;
          special = rec_special(url);
          if (override != ST_NONE) {
            if (url->port == qs_url_default_port(qs_buf_slice(&url->scheme))) url->port = -1;
            goto done;
          }
          qs_buf_reset(&buffer);
          if (rec_is_file(url)) {
            state = ST_FILE;
          } else if (special && base &&
                     qs_slice_eq(qs_buf_slice(&base->scheme), qs_buf_slice(&url->scheme))) {
            state = ST_SPECIAL_RELATIVE_OR_AUTHORITY;
          } else if (special) {
            state = ST_SPECIAL_AUTHORITY_SLASHES;
          } else if (rem_len > 0 && rem[0] == '/') {
            state = ST_PATH_OR_AUTHORITY;
            p++;
          } else {
            url->opaque = true;
            qs_buf_reset(&url->path);
            state = ST_OPAQUE_PATH;
          }
        } else if (override == ST_NONE) {
          qs_buf_reset(&buffer);
          state = ST_NO_SCHEME;
          p = -1; /* start over from the first code point */
        } else {
          rc = QS_EPARSE;
          goto done;
        }
        break;

      case ST_NO_SCHEME:
        if (!base || (base->opaque && c != '#')) {
          rc = QS_EPARSE;
          goto done;
        } else if (base->opaque && c == '#') {
          if ((rc = copy_buf(&url->scheme, &base->scheme))) goto done;
          if ((rc = copy_buf(&url->path, &base->path))) goto done;
          url->opaque = true;
          if ((rc = copy_buf(&url->query, &base->query))) goto done;
          url->has_query = base->has_query;
          state = begin_fragment(url);
        } else if (!qs_slice_eq_cstr(qs_buf_slice(&base->scheme), "file")) {
          state = ST_RELATIVE;
          p--;
        } else {
          state = ST_FILE;
          p--;
        }
        break;

      case ST_SPECIAL_RELATIVE_OR_AUTHORITY:
        if (c == '/' && rem_len > 0 && rem[0] == '/') {
          state = ST_SPECIAL_AUTHORITY_IGNORE_SLASHES;
          p++;
        } else {
          state = ST_RELATIVE;
          p--;
        }
        break;

      case ST_PATH_OR_AUTHORITY:
        if (c == '/') {
          state = ST_AUTHORITY;
        } else {
          state = ST_PATH;
          p--;
        }
        break;

      case ST_RELATIVE:
        if ((rc = copy_buf(&url->scheme, &base->scheme))) goto done;
        special = rec_special(url);
        if (c == '/' || (special && c == '\\')) {
          state = ST_RELATIVE_SLASH;
        } else {
          if ((rc = inherit_authority(url, base))) goto done;
          if ((rc = copy_buf(&url->path, &base->path))) goto done;
          if ((rc = copy_buf(&url->query, &base->query))) goto done;
          url->has_query = base->has_query;
          if (c == '?') {
            state = begin_query(url);
          } else if (c == '#') {
            state = begin_fragment(url);
          } else if (c != EOF_C) {
            qs_buf_reset(&url->query);
            url->has_query = false;
            path_shorten(url);
            state = ST_PATH;
            p--;
          }
        }
        break;

      case ST_RELATIVE_SLASH:
        if (special && (c == '/' || c == '\\')) {
          state = ST_SPECIAL_AUTHORITY_IGNORE_SLASHES;
        } else if (c == '/') {
          state = ST_AUTHORITY;
        } else {
          if ((rc = inherit_authority(url, base))) goto done;
          state = ST_PATH;
          p--;
        }
        break;

      case ST_SPECIAL_AUTHORITY_SLASHES:
        if (c == '/' && rem_len > 0 && rem[0] == '/') {
          state = ST_SPECIAL_AUTHORITY_IGNORE_SLASHES;
          p++;
        } else {
          state = ST_SPECIAL_AUTHORITY_IGNORE_SLASHES;
          p--;
        }
        break;

      case ST_SPECIAL_AUTHORITY_IGNORE_SLASHES:
        if (c != '/' && c != '\\') {
          state = ST_AUTHORITY;
          p--;
        }
        break;

      case ST_AUTHORITY:
        if (c == '@') {
          if (at_sign_seen) {
            /* The earlier '@' belongs to the userinfo: prepend "%40". */
            qs_buf_t tmp;
            qs_buf_init(&tmp, URL_MAX_WORK_BYTES);
            rc = qs_buf_append(&tmp, "%40", 3);
            if (rc == 0) rc = qs_buf_append(&tmp, buffer.ptr, buffer.len);
            if (rc == 0) rc = copy_buf(&buffer, &tmp);
            qs_buf_dispose(&tmp);
            if (rc) goto done;
          }
          at_sign_seen = true;
          for (size_t i = 0; i < buffer.len; i++) {
            if (buffer.ptr[i] == ':' && !password_token_seen) {
              password_token_seen = true;
              continue;
            }
            qs_buf_t *dst = password_token_seen ? &url->password : &url->username;
            if ((rc = qs_url_percent_encode(qs_slice(buffer.ptr + i, 1), QS_URL_SET_USERINFO, dst)))
              goto done;
          }
          qs_buf_reset(&buffer);
        } else if (c == EOF_C || c == '/' || c == '?' || c == '#' || (special && c == '\\')) {
          if (at_sign_seen && buffer.len == 0) {
            rc = QS_EPARSE;
            goto done;
          }
          p -= (ptrdiff_t)buffer.len + 1;
          qs_buf_reset(&buffer);
          state = ST_HOST;
        } else {
          char ch = (char)c;
          if ((rc = qs_buf_append(&buffer, &ch, 1))) goto done;
        }
        break;

      case ST_HOST:
      case ST_HOSTNAME:
        if (override != ST_NONE && rec_is_file(url)) {
          p--;
          state = ST_FILE_HOST;
        } else if (c == ':' && !inside_brackets) {
          if (buffer.len == 0 || override == ST_HOSTNAME) {
            rc = QS_EPARSE;
            goto done;
          }
          if ((rc = set_host(url, qs_buf_slice(&buffer)))) goto done;
          qs_buf_reset(&buffer);
          state = ST_PORT;
        } else if (c == EOF_C || c == '/' || c == '?' || c == '#' || (special && c == '\\')) {
          p--;
          if (special && buffer.len == 0) {
            rc = QS_EPARSE;
            goto done;
          } else if (override != ST_NONE && buffer.len == 0 &&
                     (rec_has_credentials(url) || url->port != -1)) {
            rc = QS_EPARSE; /* whatwg/url#863 made this a failure for URL Pattern */
            goto done;
          }
          if ((rc = set_host(url, qs_buf_slice(&buffer)))) goto done;
          qs_buf_reset(&buffer);
          state = ST_PATH_START;
          if (override != ST_NONE) goto done;
        } else {
          if (c == '[') inside_brackets = true;
          if (c == ']') inside_brackets = false;
          char ch = (char)c;
          if ((rc = qs_buf_append(&buffer, &ch, 1))) goto done;
        }
        break;

      case ST_PORT:
        if (c != EOF_C && url_is_digit(c)) {
          char ch = (char)c;
          if ((rc = qs_buf_append(&buffer, &ch, 1))) goto done;
        } else if (c == EOF_C || c == '/' || c == '?' || c == '#' || (special && c == '\\') ||
                   override != ST_NONE) {
          if (buffer.len != 0) {
            long port = 0;
            for (size_t i = 0; i < buffer.len && port <= 65535; i++) port = port * 10 + (buffer.ptr[i] - '0');
            if (port > 65535) {
              rc = QS_EPARSE;
              goto done;
            }
            url->port = port == qs_url_default_port(qs_buf_slice(&url->scheme)) ? -1 : (int)port;
            qs_buf_reset(&buffer);
            if (override != ST_NONE) goto done;
          }
          if (override != ST_NONE) {
            rc = QS_EPARSE;
            goto done;
          }
          state = ST_PATH_START;
          p--;
        } else {
          rc = QS_EPARSE;
          goto done;
        }
        break;

      case ST_FILE:
        if ((rc = set_buf(&url->scheme, "file", 4))) goto done;
        special = true;
        qs_buf_reset(&url->host);
        url->has_host = true;
        if (c == '/' || c == '\\') {
          state = ST_FILE_SLASH;
        } else if (base && qs_slice_eq_cstr(qs_buf_slice(&base->scheme), "file")) {
          if ((rc = copy_buf(&url->host, &base->host))) goto done;
          url->has_host = base->has_host;
          if ((rc = copy_buf(&url->path, &base->path))) goto done;
          if ((rc = copy_buf(&url->query, &base->query))) goto done;
          url->has_query = base->has_query;
          if (c == '?') {
            state = begin_query(url);
          } else if (c == '#') {
            state = begin_fragment(url);
          } else if (c != EOF_C) {
            qs_buf_reset(&url->query);
            url->has_query = false;
            if (!starts_with_drive_letter(in + p, (size_t)(n - p)))
              path_shorten(url);
            else
              qs_buf_reset(&url->path);
            state = ST_PATH;
            p--;
          }
        } else {
          state = ST_PATH;
          p--;
        }
        break;

      case ST_FILE_SLASH:
        if (c == '/' || c == '\\') {
          state = ST_FILE_HOST;
        } else {
          if (base && qs_slice_eq_cstr(qs_buf_slice(&base->scheme), "file")) {
            if ((rc = copy_buf(&url->host, &base->host))) goto done;
            url->has_host = base->has_host;
            if (!starts_with_drive_letter(in + p, (size_t)(n - p)) && base->path.len > 0) {
              qs_slice_t first = path_first(base);
              if (is_drive_letter(first.ptr, first.len, true) &&
                  (rc = path_append(url, first.ptr, first.len)))
                goto done;
            }
          }
          state = ST_PATH;
          p--;
        }
        break;

      case ST_FILE_HOST:
        if (c == EOF_C || c == '/' || c == '\\' || c == '?' || c == '#') {
          p--;
          if (override == ST_NONE && is_drive_letter(buffer.ptr, buffer.len, false)) {
            /* Windows drive letter quirk: the buffer is kept for the path state. */
            state = ST_PATH;
          } else if (buffer.len == 0) {
            qs_buf_reset(&url->host);
            url->has_host = true;
            if (override != ST_NONE) goto done;
            state = ST_PATH_START;
          } else {
            if ((rc = set_host(url, qs_buf_slice(&buffer)))) goto done;
            if (qs_slice_eq_cstr(qs_buf_slice(&url->host), "localhost")) qs_buf_reset(&url->host);
            if (override != ST_NONE) goto done;
            qs_buf_reset(&buffer);
            state = ST_PATH_START;
          }
        } else {
          char ch = (char)c;
          if ((rc = qs_buf_append(&buffer, &ch, 1))) goto done;
        }
        break;

      case ST_PATH_START:
        if (special) {
          state = ST_PATH;
          if (c != '/' && c != '\\') p--;
        } else if (override == ST_NONE && c == '?') {
          state = begin_query(url);
        } else if (override == ST_NONE && c == '#') {
          state = begin_fragment(url);
        } else if (c != EOF_C) {
          state = ST_PATH;
          if (c != '/') p--;
        } else if (override != ST_NONE && !url->has_host) {
          if ((rc = path_append(url, "", 0))) goto done;
        }
        break;

      case ST_PATH:
        if (c == EOF_C || c == '/' || (special && c == '\\') ||
            (override == ST_NONE && (c == '?' || c == '#'))) {
          bool slash = c == '/' || (special && c == '\\');
          if (double_dot(buffer.ptr, buffer.len)) {
            path_shorten(url);
            if (!slash && (rc = path_append(url, "", 0))) goto done;
          } else if (single_dot(buffer.ptr, buffer.len) && !slash) {
            if ((rc = path_append(url, "", 0))) goto done;
          } else if (!single_dot(buffer.ptr, buffer.len)) {
            if (rec_is_file(url) && url->path.len == 0 && is_drive_letter(buffer.ptr, buffer.len, false))
              buffer.ptr[1] = ':';
            if ((rc = path_append(url, buffer.ptr, buffer.len))) goto done;
          }
          qs_buf_reset(&buffer);
          if (c == '?') {
            state = begin_query(url);
          } else if (c == '#') {
            state = begin_fragment(url);
          }
        } else {
          char ch = (char)c;
          if ((rc = qs_url_percent_encode(qs_slice(&ch, 1), QS_URL_SET_PATH, &buffer))) goto done;
        }
        break;

      case ST_OPAQUE_PATH:
        if (c == '?') {
          state = begin_query(url);
        } else if (c == '#') {
          state = begin_fragment(url);
        } else if (c == ' ') {
          /* A space right before the query or fragment is encoded so that it
           * survives serialization round trips. */
          bool before = rem_len > 0 && (rem[0] == '?' || rem[0] == '#');
          if ((rc = qs_buf_append_cstr(&url->path, before ? "%20" : " "))) goto done;
        } else if (c != EOF_C) {
          char ch = (char)c;
          if ((rc = qs_url_percent_encode(qs_slice(&ch, 1), QS_URL_SET_C0_CONTROL, &url->path))) goto done;
        }
        break;

      case ST_QUERY:
        if ((override == ST_NONE && c == '#') || c == EOF_C) {
          qs_url_encode_set_t set = special ? QS_URL_SET_SPECIAL_QUERY : QS_URL_SET_QUERY;
          if ((rc = qs_url_percent_encode(qs_buf_slice(&buffer), set, &url->query))) goto done;
          qs_buf_reset(&buffer);
          if (c == '#') {
            state = begin_fragment(url);
          }
        } else if (c != EOF_C) {
          char ch = (char)c;
          if ((rc = qs_buf_append(&buffer, &ch, 1))) goto done;
        }
        break;

      case ST_FRAGMENT:
        if (c != EOF_C) {
          char ch = (char)c;
          if ((rc = qs_url_percent_encode(qs_slice(&ch, 1), QS_URL_SET_FRAGMENT, &url->fragment))) goto done;
        }
        break;
    }
    if (p == n) break;
    p++;
  }
done:
  qs_buf_dispose(&clean);
  qs_buf_dispose(&buffer);
  return rc;
}

/* ---- Records and serialization ---- */

/* URL Standard, "URL serializer" (without excluding the fragment). */
static int serialize(const rec_t *r, qs_buf_t *out) {
  int rc = qs_buf_append(out, r->scheme.ptr, r->scheme.len);
  if (rc == 0) rc = qs_buf_append(out, ":", 1);
  if (rc == 0 && r->has_host) {
    rc = qs_buf_append(out, "//", 2);
    if (rc == 0 && rec_has_credentials(r)) {
      rc = qs_buf_append(out, r->username.ptr, r->username.len);
      if (rc == 0 && r->password.len) rc = qs_buf_append(out, ":", 1);
      if (rc == 0) rc = qs_buf_append(out, r->password.ptr, r->password.len);
      if (rc == 0) rc = qs_buf_append(out, "@", 1);
    }
    if (rc == 0) rc = qs_buf_append(out, r->host.ptr, r->host.len);
    if (rc == 0 && r->port != -1) rc = qs_buf_appendf(out, ":%d", r->port);
  }
  /* A path starting with an empty segment and no host gets "/." so that it
   * does not read as an authority. */
  if (rc == 0 && !r->has_host && !r->opaque && r->path.len > 1 && r->path.ptr[1] == '/')
    rc = qs_buf_append(out, "/.", 2);
  if (rc == 0) rc = qs_buf_append(out, r->path.ptr, r->path.len);
  if (rc == 0 && r->has_query) {
    rc = qs_buf_append(out, "?", 1);
    if (rc == 0) rc = qs_buf_append(out, r->query.ptr, r->query.len);
  }
  if (rc == 0 && r->has_fragment) {
    rc = qs_buf_append(out, "#", 1);
    if (rc == 0) rc = qs_buf_append(out, r->fragment.ptr, r->fragment.len);
  }
  return rc;
}

static int rec_from_url(const qs_url_t *u, rec_t *r) {
  rec_init(r);
  int rc = set_buf(&r->scheme, u->scheme ? u->scheme : "", u->scheme ? strlen(u->scheme) : 0);
  if (rc == 0 && u->username) rc = qs_buf_append_cstr(&r->username, u->username);
  if (rc == 0 && u->password) rc = qs_buf_append_cstr(&r->password, u->password);
  if (rc == 0 && u->host) rc = qs_buf_append_cstr(&r->host, u->host);
  if (rc == 0 && u->path) rc = qs_buf_append_cstr(&r->path, u->path);
  if (rc == 0 && u->query) rc = qs_buf_append_cstr(&r->query, u->query);
  if (rc == 0 && u->fragment) rc = qs_buf_append_cstr(&r->fragment, u->fragment);
  r->has_host = u->host != NULL;
  r->has_query = u->query != NULL;
  r->has_fragment = u->fragment != NULL;
  r->opaque = u->opaque_path;
  r->port = u->port;
  if (rc) rec_dispose(r);
  return rc;
}

static char *steal(qs_buf_t *b) {
  if (!b->ptr && qs_buf_append(b, "", 0)) return NULL;
  return qs_buf_steal(b, NULL);
}

static int url_from_rec(rec_t *r, qs_url_t *u) {
  qs_buf_t href;
  qs_buf_init(&href, URL_MAX_WORK_BYTES * 2);
  int rc = serialize(r, &href);
  *u = (qs_url_t){.port = r->port, .opaque_path = r->opaque};
  if (rc == 0) {
    u->href = steal(&href);
    u->scheme = steal(&r->scheme);
    u->username = steal(&r->username);
    u->password = steal(&r->password);
    u->host = r->has_host ? steal(&r->host) : NULL;
    u->path = steal(&r->path);
    u->query = r->has_query ? steal(&r->query) : NULL;
    u->fragment = r->has_fragment ? steal(&r->fragment) : NULL;
    if (!u->href || !u->scheme || !u->username || !u->password || !u->path || (r->has_host && !u->host) ||
        (r->has_query && !u->query) || (r->has_fragment && !u->fragment)) {
      qs_url_dispose(u);
      rc = QS_ENOMEM;
    }
  }
  qs_buf_dispose(&href);
  return rc;
}

int qs_url_parse(qs_slice_t input, const qs_url_t *base, qs_url_t *out) {
  *out = (qs_url_t){.port = -1};
  rec_t b, url;
  if (base) {
    int rc = rec_from_url(base, &b);
    if (rc) return rc;
  }
  rec_init(&url);
  int rc = basic_parse(input, base ? &b : NULL, &url, ST_NONE);
  if (rc == 0) rc = url_from_rec(&url, out);
  rec_dispose(&url);
  if (base) rec_dispose(&b);
  return rc;
}

void qs_url_dispose(qs_url_t *url) {
  if (!url) return;
  free(url->scheme);
  free(url->username);
  free(url->password);
  free(url->host);
  free(url->path);
  free(url->query);
  free(url->fragment);
  free(url->href);
  *url = (qs_url_t){.port = -1};
}

/* ---- URL API getters ---- */

static int append_str(qs_buf_t *out, const char *s) {
  return s ? qs_buf_append_cstr(out, s) : qs_buf_append(out, "", 0);
}

int qs_url_get_protocol(const qs_url_t *url, qs_buf_t *out) {
  int rc = append_str(out, url->scheme);
  return rc ? rc : qs_buf_append(out, ":", 1);
}

int qs_url_get_hostname(const qs_url_t *url, qs_buf_t *out) { return append_str(out, url->host); }

int qs_url_get_host(const qs_url_t *url, qs_buf_t *out) {
  int rc = append_str(out, url->host);
  if (rc == 0 && url->host && url->port != -1) rc = qs_buf_appendf(out, ":%d", url->port);
  return rc;
}

int qs_url_get_port(const qs_url_t *url, qs_buf_t *out) {
  return url->port == -1 ? qs_buf_append(out, "", 0) : qs_buf_appendf(out, "%d", url->port);
}

int qs_url_get_search(const qs_url_t *url, qs_buf_t *out) {
  if (!url->query || !url->query[0]) return qs_buf_append(out, "", 0);
  int rc = qs_buf_append(out, "?", 1);
  return rc ? rc : qs_buf_append_cstr(out, url->query);
}

int qs_url_get_hash(const qs_url_t *url, qs_buf_t *out) {
  if (!url->fragment || !url->fragment[0]) return qs_buf_append(out, "", 0);
  int rc = qs_buf_append(out, "#", 1);
  return rc ? rc : qs_buf_append_cstr(out, url->fragment);
}

/* ---- URL Pattern canonicalizers (URL Pattern Standard, "Canonicalization") ---- */

/* Runs the basic URL parser on `value` with `override` over a dummy URL whose
 * scheme is `protocol`, leaving the result in `dummy` (initialized here; the
 * caller disposes it). */
static int run_override(qs_slice_t value, qs_slice_t protocol, state_t override, rec_t *dummy) {
  rec_init(dummy);
  int rc = set_buf(&dummy->scheme, protocol.ptr ? protocol.ptr : "", protocol.len);
  if (rc == 0) rc = set_buf(&dummy->path, "", 0);
  if (rc == 0 && override == ST_OPAQUE_PATH) dummy->opaque = true;
  if (rc == 0 && override == ST_QUERY) dummy->has_query = true;
  if (rc == 0 && override == ST_FRAGMENT) dummy->has_fragment = true;
  if (rc == 0) rc = basic_parse(value, NULL, dummy, override);
  return rc;
}

int qs_url_canonicalize_protocol(qs_slice_t value, qs_buf_t *out) {
  if (value.len == 0) return 0;
  if (value.len > QS_URL_MAX_INPUT_BYTES) return QS_ETOOBIG;
  qs_buf_t input;
  qs_buf_init(&input, QS_URL_MAX_INPUT_BYTES + 64);
  int rc = qs_buf_append(&input, value.ptr, value.len);
  if (rc == 0) rc = qs_buf_append_cstr(&input, "://dummy.invalid/");
  rec_t dummy;
  rec_init(&dummy);
  if (rc == 0) rc = basic_parse(qs_buf_slice(&input), NULL, &dummy, ST_NONE);
  if (rc == 0) rc = qs_buf_append(out, dummy.scheme.ptr, dummy.scheme.len);
  rec_dispose(&dummy);
  qs_buf_dispose(&input);
  return rc;
}

static int canonicalize_userinfo(qs_slice_t value, qs_buf_t *out) {
  if (value.len == 0) return 0;
  if (value.len > QS_URL_MAX_INPUT_BYTES) return QS_ETOOBIG;
  qs_buf_t clean;
  qs_buf_init(&clean, URL_MAX_WORK_BYTES);
  int rc = qs_url_utf8_sanitize(value, &clean);
  if (rc == 0) rc = qs_url_percent_encode(qs_buf_slice(&clean), QS_URL_SET_USERINFO, out);
  qs_buf_dispose(&clean);
  return rc;
}

int qs_url_canonicalize_username(qs_slice_t value, qs_buf_t *out) {
  return canonicalize_userinfo(value, out);
}

int qs_url_canonicalize_password(qs_slice_t value, qs_buf_t *out) {
  return canonicalize_userinfo(value, out);
}

int qs_url_canonicalize_hostname(qs_slice_t value, qs_slice_t protocol, qs_buf_t *out) {
  if (value.len == 0) return 0;
  rec_t dummy;
  int rc = run_override(value, protocol, ST_HOSTNAME, &dummy);
  if (rc == 0 && dummy.has_host) rc = qs_buf_append(out, dummy.host.ptr, dummy.host.len);
  rec_dispose(&dummy);
  return rc;
}

int qs_url_canonicalize_ipv6_hostname(qs_slice_t value, qs_buf_t *out) {
  for (size_t i = 0; i < value.len; i++) {
    int c = (unsigned char)value.ptr[i];
    if (!url_is_hex(c) && c != '[' && c != ']' && c != ':') return QS_EPARSE;
  }
  for (size_t i = 0; i < value.len; i++) {
    char lc = (char)url_lower((unsigned char)value.ptr[i]);
    int rc = qs_buf_append(out, &lc, 1);
    if (rc) return rc;
  }
  return 0;
}

int qs_url_canonicalize_port(qs_slice_t value, qs_slice_t protocol, qs_buf_t *out) {
  if (value.len == 0) return 0;
  rec_t dummy;
  int rc = run_override(value, protocol, ST_PORT, &dummy);
  if (rc == 0 && dummy.port != -1) rc = qs_buf_appendf(out, "%d", dummy.port);
  rec_dispose(&dummy);
  return rc;
}

int qs_url_canonicalize_pathname(qs_slice_t value, qs_buf_t *out) {
  if (value.len == 0) return 0;
  if (value.len > QS_URL_MAX_INPUT_BYTES) return QS_ETOOBIG;
  bool leading_slash = value.ptr[0] == '/';
  qs_buf_t input;
  qs_buf_init(&input, QS_URL_MAX_INPUT_BYTES + 64);
  int rc = leading_slash ? 0 : qs_buf_append(&input, "/-", 2);
  if (rc == 0) rc = qs_buf_append(&input, value.ptr, value.len);
  rec_t dummy;
  rec_init(&dummy);
  if (rc == 0) {
    rec_dispose(&dummy);
    rc = run_override(qs_buf_slice(&input), qs_slice("", 0), ST_PATH_START, &dummy);
  }
  if (rc == 0) {
    size_t skip = leading_slash ? 0 : 2;
    if (dummy.path.len >= skip) rc = qs_buf_append(out, dummy.path.ptr + skip, dummy.path.len - skip);
  }
  rec_dispose(&dummy);
  qs_buf_dispose(&input);
  return rc;
}

int qs_url_canonicalize_opaque_pathname(qs_slice_t value, qs_buf_t *out) {
  if (value.len == 0) return 0;
  rec_t dummy;
  int rc = run_override(value, qs_slice("", 0), ST_OPAQUE_PATH, &dummy);
  if (rc == 0) rc = qs_buf_append(out, dummy.path.ptr, dummy.path.len);
  rec_dispose(&dummy);
  return rc;
}

int qs_url_canonicalize_search(qs_slice_t value, qs_slice_t protocol, qs_buf_t *out) {
  if (value.len == 0) return 0;
  rec_t dummy;
  int rc = run_override(value, protocol, ST_QUERY, &dummy);
  if (rc == 0) rc = qs_buf_append(out, dummy.query.ptr, dummy.query.len);
  rec_dispose(&dummy);
  return rc;
}

int qs_url_canonicalize_hash(qs_slice_t value, qs_buf_t *out) {
  if (value.len == 0) return 0;
  rec_t dummy;
  int rc = run_override(value, qs_slice("", 0), ST_FRAGMENT, &dummy);
  if (rc == 0) rc = qs_buf_append(out, dummy.fragment.ptr, dummy.fragment.len);
  rec_dispose(&dummy);
  return rc;
}
