/* RFC 6570 URI Templates as legacy topic selectors (requirements-digest 2.3).
 *
 * A template is turned into one anchored regular expression: literals are
 * quoted, and each expression becomes an optional group accepting what its
 * expansion (RFC 6570 §3.2) could produce for any variable values. The
 * groups are written so that no two quantifiers compete for the same
 * characters inside one expression (separators are excluded from value
 * classes whenever they are also repeated), which keeps matching close to
 * linear; PCRE2's limits bound the rest. */
#include "match/uritemplate.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "match/urlpattern_internal.h"

struct qs_uritemplate {
  char *source; /* the generated regex, NUL-terminated */
  size_t source_len;
  char *prefix; /* literal text before the first expression */
  size_t prefix_len;
  qs_regex_t *regex;
};

/* The generated regex may be several times longer than the template. */
#define REGEX_MAX_BYTES ((size_t)1 << 20)

static bool is_alpha(unsigned char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_hex(unsigned char c) {
  return is_digit(c) || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

/* RFC 6570 §2.1 literals: any character except CTL, SP, DQUOTE, "'", "%"
 * (unless pct-encoded), "<", ">", "\", "^", "`", "{", "|", "}". Bytes of
 * 0x80 and above (ucschar, iprivate) are accepted; the caller validated UTF-8. */
static bool literal_ok(unsigned char c) {
  if (c >= 0x80) return true;
  if (c <= 0x20 || c == 0x7f) return false;
  return strchr("\"'<>\\^`{|}", c) == NULL;
}

/* Quotes one literal byte for PCRE2: a backslash before any ASCII
 * punctuation is always a literal in PCRE2. */
static int quote_byte(qs_buf_t *re, unsigned char c) {
  if (c < 0x80 && !is_alpha(c) && !is_digit(c)) {
    char esc[2] = {'\\', (char)c};
    return qs_buf_append(re, esc, 2);
  }
  return qs_buf_append(re, &c, 1);
}

typedef struct {
  char op; /* 0 for a simple expression */
  const char *first;
  char sep;
  bool named;
  bool reserved; /* `+` and `#`: reserved characters pass unencoded */
} op_info_t;

/* RFC 6570 Appendix A table. */
static bool operator_info(char op, op_info_t *info) {
  switch (op) {
    case 0:
      *info = (op_info_t){0, "", ',', false, false};
      return true;
    case '+':
      *info = (op_info_t){'+', "", ',', false, true};
      return true;
    case '#':
      *info = (op_info_t){'#', "#", ',', false, true};
      return true;
    case '.':
      *info = (op_info_t){'.', ".", '.', false, false};
      return true;
    case '/':
      *info = (op_info_t){'/', "/", '/', false, false};
      return true;
    case ';':
      *info = (op_info_t){';', ";", ';', true, false};
      return true;
    case '?':
      *info = (op_info_t){'?', "?", '&', true, false};
      return true;
    case '&':
      *info = (op_info_t){'&', "&", '&', true, false};
      return true;
  }
  return false;
}

typedef struct {
  const char *name;
  size_t name_len;
  bool explode;
} varspec_t;

enum { MAX_VARS = 256 };

/* Parses the inside of one expression (between the braces). §2.2-2.4. */
static int parse_expression(const char *p, size_t len, op_info_t *info, varspec_t *vars, size_t *nvars) {
  size_t i = 0;
  char op = 0;
  if (len > 0 && strchr("+#./;?&=,!@|", p[0])) {
    op = p[0];
    i = 1;
  }
  /* "=", ",", "!", "@" and "|" are reserved for future extensions. */
  if (!operator_info(op, info)) return QS_EPARSE;
  *nvars = 0;
  for (;;) {
    /* varname = varchar *( ["."] varchar ); varchar = ALPHA / DIGIT / "_" / pct-encoded */
    size_t start = i;
    bool need_char = true;
    while (i < len) {
      unsigned char c = (unsigned char)p[i];
      if (is_alpha(c) || is_digit(c) || c == '_') {
        i++;
        need_char = false;
      } else if (c == '%' && i + 2 < len && is_hex((unsigned char)p[i + 1]) &&
                 is_hex((unsigned char)p[i + 2])) {
        i += 3;
        need_char = false;
      } else if (c == '.' && !need_char) {
        i++;
        need_char = true;
      } else {
        break;
      }
    }
    if (need_char) return QS_EPARSE;
    if (*nvars == MAX_VARS) return QS_EPARSE;
    varspec_t *v = &vars[(*nvars)++];
    v->name = p + start;
    v->name_len = i - start;
    v->explode = false;
    if (i < len && p[i] == '*') {
      v->explode = true;
      i++;
    } else if (i < len && p[i] == ':') {
      /* max-length = %x31-39 0*3DIGIT */
      i++;
      size_t digits = 0;
      if (i >= len || p[i] < '1' || p[i] > '9') return QS_EPARSE;
      while (i < len && is_digit((unsigned char)p[i])) i++, digits++;
      if (digits > 4) return QS_EPARSE;
    }
    if (i == len) return 0;
    if (p[i] != ',') return QS_EPARSE;
    i++;
  }
}

/* Appends the bracket expression of value characters: `extra` holds
 * additional ASCII characters (already safe inside a bracket expression or
 * escaped). '%' is never in it. */
static int append_value_class(qs_buf_t *re, const op_info_t *info, const char *extra) {
  int rc = qs_buf_append_cstr(re, "[A-Za-z0-9\\-._~");
  /* RFC 3986 reserved = gen-delims / sub-delims */
  if (!rc && info->reserved) rc = qs_buf_append_cstr(re, ":/?#\\[\\]@!$&'()*+,;=");
  if (!rc) rc = qs_buf_append_cstr(re, extra);
  if (!rc) rc = qs_buf_append_cstr(re, "]");
  return rc;
}

/* Appends a run of value characters and pct-encoded octets: zero or more
 * (one or more with `at_least_one`). The loop is unrolled, C*(?:%XX C*)*,
 * rather than (?:C|%XX)*: every iteration starts with '%', which C never
 * holds, so the run is unambiguous, and a long value is one iterative
 * character-class repeat instead of one backtracking frame per character,
 * which kept long valid values under PCRE2's evaluation limits. */
static int append_value_run(qs_buf_t *re, const op_info_t *info, const char *extra, bool at_least_one) {
  int rc = 0;
  if (at_least_one) {
    rc = qs_buf_append_cstr(re, "(?:");
    if (!rc) rc = append_value_class(re, info, extra);
    if (!rc) rc = qs_buf_append_cstr(re, "|%[0-9A-Fa-f]{2})");
  }
  if (!rc) rc = append_value_class(re, info, extra);
  if (!rc) rc = qs_buf_append_cstr(re, "*(?:%[0-9A-Fa-f]{2}");
  if (!rc) rc = append_value_class(re, info, extra);
  if (!rc) rc = qs_buf_append_cstr(re, "*)*");
  return rc;
}

static int append_sep(qs_buf_t *re, char sep) { return quote_byte(re, (unsigned char)sep); }

/* One expression as an optional group. Undefined variables are skipped by
 * the expansion, so an expression may produce the empty string. */
static int append_expression(qs_buf_t *re, const op_info_t *info, const varspec_t *vars, size_t nvars) {
  bool explode = false;
  for (size_t i = 0; i < nvars; i++) explode |= vars[i].explode;
  int rc = qs_buf_append_cstr(re, "(?:");
  for (const char *f = info->first; !rc && *f; f++) rc = quote_byte(re, (unsigned char)*f);
  if (rc) return rc;
  if (!info->named) {
    /* Values, list items (joined by ","), exploded items and pairs (joined by
     * the separator, pairs written k=v): one run of value characters, which
     * takes in the separator when several values may be joined by it. */
    char extra[8] = ",";
    size_t n = 1;
    if (explode) extra[n++] = '=';
    if ((explode || nvars > 1) && info->sep != ',') {
      if (info->sep == '.') {
        /* "." is unreserved already. */
      } else {
        extra[n++] = '\\';
        extra[n++] = info->sep;
      }
    }
    extra[n] = '\0';
    rc = append_value_run(re, info, extra, false);
  } else {
    /* name[=value] items joined by the separator (";" or "&", never a value
     * character, so the repetition is unambiguous). Names are the variable
     * names, or any key for an exploded variable. */
    qs_buf_t item;
    qs_buf_init(&item, REGEX_MAX_BYTES);
    rc = qs_buf_append_cstr(&item, "(?:");
    if (explode) {
      if (!rc) rc = append_value_run(&item, info, "", true);
    } else {
      for (size_t i = 0; !rc && i < nvars; i++) {
        if (i > 0) rc = qs_buf_append_cstr(&item, "|");
        for (size_t k = 0; !rc && k < vars[i].name_len; k++)
          rc = quote_byte(&item, (unsigned char)vars[i].name[k]);
      }
    }
    if (!rc) rc = qs_buf_append_cstr(&item, ")(?:=");
    if (!rc) rc = append_value_run(&item, info, ",", false);
    if (!rc) rc = qs_buf_append_cstr(&item, ")?");
    if (!rc) rc = qs_buf_append(re, item.ptr, item.len);
    if (!rc) rc = qs_buf_append_cstr(re, "(?:");
    if (!rc) rc = append_sep(re, info->sep);
    if (!rc) rc = qs_buf_append(re, item.ptr, item.len);
    if (!rc) rc = qs_buf_append_cstr(re, ")*");
    qs_buf_dispose(&item);
  }
  if (!rc) rc = qs_buf_append_cstr(re, ")?");
  return rc;
}

static int build_regex(qs_slice_t t, qs_buf_t *re, size_t *prefix_len) {
  varspec_t *specs = malloc(MAX_VARS * sizeof *specs);
  if (!specs) return QS_ENOMEM;
  int rc = qs_buf_append_cstr(re, "^");
  bool seen_expression = false;
  *prefix_len = t.len;
  size_t i = 0;
  while (!rc && i < t.len) {
    unsigned char c = (unsigned char)t.ptr[i];
    if (c == '{') {
      const char *close = memchr(t.ptr + i + 1, '}', t.len - i - 1);
      if (!close) {
        rc = QS_EPARSE;
        break;
      }
      size_t inner = (size_t)(close - (t.ptr + i + 1));
      if (memchr(t.ptr + i + 1, '{', inner)) {
        rc = QS_EPARSE;
        break;
      }
      op_info_t info;
      size_t nvars;
      rc = parse_expression(t.ptr + i + 1, inner, &info, specs, &nvars);
      if (!rc) rc = append_expression(re, &info, specs, nvars);
      if (!seen_expression) *prefix_len = i;
      seen_expression = true;
      i += inner + 2;
    } else if (c == '}') {
      rc = QS_EPARSE;
    } else if (c == '%') {
      /* pct-encoded literal */
      if (i + 2 >= t.len || !is_hex((unsigned char)t.ptr[i + 1]) || !is_hex((unsigned char)t.ptr[i + 2])) {
        rc = QS_EPARSE;
        break;
      }
      for (int k = 0; !rc && k < 3; k++) rc = quote_byte(re, (unsigned char)t.ptr[i + k]);
      i += 3;
    } else if (!literal_ok(c)) {
      rc = QS_EPARSE;
    } else {
      rc = quote_byte(re, c);
      i++;
    }
  }
  if (!rc) rc = qs_buf_append_cstr(re, "$");
  free(specs);
  if (rc == QS_ETOOBIG) rc = QS_EPARSE;
  return rc;
}

int qs_uritemplate_create(qs_slice_t tmpl, qs_uritemplate_t **out) {
  *out = NULL;
  qs_uritemplate_t *t = calloc(1, sizeof *t);
  if (!t) return QS_ENOMEM;
  qs_buf_t re;
  qs_buf_init(&re, REGEX_MAX_BYTES);
  size_t prefix_len = 0;
  int rc = build_regex(tmpl, &re, &prefix_len);
  if (!rc) {
    t->source = qs_buf_steal(&re, &t->source_len);
    t->prefix = qs_slice_strdup(qs_slice(tmpl.ptr, prefix_len));
    if (!t->source || !t->prefix) rc = QS_ENOMEM;
  }
  qs_buf_dispose(&re);
  /* The topic index offers a template to every publish whose topic starts
   * with the template's literal prefix: tested often, so JIT-compiled. */
  if (!rc) rc = qs_regex_compile((qs_slice_t){t->source, t->source_len}, QS_REGEX_JIT, &t->regex);
  if (rc) {
    qs_uritemplate_destroy(t);
    return rc;
  }
  t->prefix_len = prefix_len;
  *out = t;
  return 0;
}

void qs_uritemplate_destroy(qs_uritemplate_t *tmpl) {
  if (!tmpl) return;
  qs_regex_destroy(tmpl->regex);
  free(tmpl->source);
  free(tmpl->prefix);
  free(tmpl);
}

int qs_uritemplate_match(const qs_uritemplate_t *tmpl, qs_slice_t topic) {
  return qs_regex_match(tmpl->regex, topic, NULL, 0);
}

qs_slice_t qs_uritemplate_literal_prefix(const qs_uritemplate_t *tmpl) {
  return (qs_slice_t){tmpl->prefix, tmpl->prefix_len};
}

qs_slice_t qs_uritemplate_regex_source(const qs_uritemplate_t *tmpl) {
  return (qs_slice_t){tmpl->source, tmpl->source_len};
}
