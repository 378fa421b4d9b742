/* URL Pattern Standard: tokenizer, pattern parser, and the generation of a
 * component's regular expression and pattern string. Section names in
 * comments are the standard's. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/text.h"
#include "match/urlpattern_internal.h"

/* ---- Tokenizing ---- */

typedef struct {
  qs_slice_t input;
  bool strict;
  qs_urlp_token_t *tokens;
  size_t count, cap;
  size_t index, next_index;
  int32_t code_point;
} tokenizer_t;

/* "get the next code point" on UTF-8: invalid bytes read as U+FFFD. */
static void get_next_code_point(tokenizer_t *t) {
  size_t pos = t->next_index;
  int32_t cp = qs_utf8_next(t->input, &pos);
  if (cp < 0) {
    cp = 0xfffd;
    pos = t->next_index + 1;
  }
  t->code_point = cp;
  t->next_index = pos;
}

static void seek_and_get_next_code_point(tokenizer_t *t, size_t index) {
  t->next_index = index;
  get_next_code_point(t);
}

static int add_token(tokenizer_t *t, qs_urlp_token_type_t type, size_t next_pos, size_t value_pos,
                     size_t value_len) {
  if (t->count == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    qs_urlp_token_t *n = realloc(t->tokens, cap * sizeof *n);
    if (!n) return QS_ENOMEM;
    t->tokens = n;
    t->cap = cap;
  }
  t->tokens[t->count++] = (qs_urlp_token_t){type, t->index, {t->input.ptr + value_pos, value_len}};
  t->index = next_pos;
  return 0;
}

static int add_token_default_length(tokenizer_t *t, qs_urlp_token_type_t type, size_t next_pos,
                                    size_t value_pos) {
  return add_token(t, type, next_pos, value_pos, next_pos - value_pos);
}

static int add_token_default(tokenizer_t *t, qs_urlp_token_type_t type) {
  return add_token_default_length(t, type, t->next_index, t->index);
}

static int tokenizing_error(tokenizer_t *t, size_t next_pos, size_t value_pos) {
  if (t->strict) return QS_EPARSE;
  return add_token_default_length(t, QS_URLP_TOK_INVALID_CHAR, next_pos, value_pos);
}

static pthread_once_t name_once = PTHREAD_ONCE_INIT;
static pcre2_code *id_start_re, *id_continue_re;

static void init_name_regexes(void) {
  int err;
  PCRE2_SIZE off;
  id_start_re =
      pcre2_compile((PCRE2_SPTR) "^\\p{ID_Start}$", PCRE2_ZERO_TERMINATED, PCRE2_UTF, &err, &off, NULL);
  id_continue_re =
      pcre2_compile((PCRE2_SPTR) "^\\p{ID_Continue}$", PCRE2_ZERO_TERMINATED, PCRE2_UTF, &err, &off, NULL);
}

static bool has_property(pcre2_code *re, int32_t cp) {
  if (!re) return false;
  unsigned char b[4];
  size_t n;
  uint32_t c = (uint32_t)cp;
  if (c < 0x800) {
    b[0] = (unsigned char)(0xc0 | (c >> 6)), b[1] = (unsigned char)(0x80 | (c & 0x3f)), n = 2;
  } else if (c < 0x10000) {
    if (c >= 0xd800 && c <= 0xdfff) return false;
    b[0] = (unsigned char)(0xe0 | (c >> 12)), b[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
    b[2] = (unsigned char)(0x80 | (c & 0x3f)), n = 3;
  } else {
    b[0] = (unsigned char)(0xf0 | (c >> 18)), b[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
    b[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3f)), b[3] = (unsigned char)(0x80 | (c & 0x3f)), n = 4;
  }
  pcre2_match_data *md = pcre2_match_data_create(1, NULL);
  if (!md) return false;
  int rc = pcre2_match(re, b, n, 0, 0, md, NULL);
  pcre2_match_data_free(md);
  return rc >= 0;
}

/* "is a valid name code point" */
static bool valid_name_code_point(int32_t cp, bool first) {
  if (cp < 0x80) {
    if ((cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z') || cp == '$' || cp == '_') return true;
    return !first && cp >= '0' && cp <= '9';
  }
  pthread_once(&name_once, init_name_regexes);
  if (first) return has_property(id_start_re, cp);
  return cp == 0x200c || cp == 0x200d || has_property(id_continue_re, cp);
}

int qs_urlp_tokenize(qs_slice_t input, bool strict, qs_urlp_token_t **tokens, size_t *count) {
  tokenizer_t t = {.input = input, .strict = strict};
  int rc = 0;
  *tokens = NULL;
  *count = 0;
  while (!rc && t.index < input.len) {
    seek_and_get_next_code_point(&t, t.index);
    int32_t cp = t.code_point;
    if (cp == '*') {
      rc = add_token_default(&t, QS_URLP_TOK_ASTERISK);
    } else if (cp == '+' || cp == '?') {
      rc = add_token_default(&t, QS_URLP_TOK_OTHER_MODIFIER);
    } else if (cp == '\\') {
      if (t.next_index >= input.len) {
        rc = tokenizing_error(&t, t.next_index, t.index);
        continue;
      }
      size_t escaped_index = t.next_index;
      get_next_code_point(&t);
      rc = add_token_default_length(&t, QS_URLP_TOK_ESCAPED_CHAR, t.next_index, escaped_index);
    } else if (cp == '{') {
      rc = add_token_default(&t, QS_URLP_TOK_OPEN);
    } else if (cp == '}') {
      rc = add_token_default(&t, QS_URLP_TOK_CLOSE);
    } else if (cp == ':') {
      size_t name_pos = t.next_index, name_start = name_pos;
      while (name_pos < input.len) {
        seek_and_get_next_code_point(&t, name_pos);
        if (!valid_name_code_point(t.code_point, name_pos == name_start)) break;
        name_pos = t.next_index;
      }
      if (name_pos <= name_start) {
        rc = tokenizing_error(&t, name_start, t.index);
        continue;
      }
      rc = add_token(&t, QS_URLP_TOK_NAME, name_pos, name_start, name_pos - name_start);
    } else if (cp == '(') {
      int depth = 1;
      size_t re_pos = t.next_index, re_start = re_pos;
      bool error = false;
      while (re_pos < input.len) {
        seek_and_get_next_code_point(&t, re_pos);
        if (t.code_point > 0x7f || (re_pos == re_start && t.code_point == '?')) {
          error = true;
          break;
        }
        if (t.code_point == '\\') {
          if (t.next_index >= input.len) {
            error = true;
            break;
          }
          get_next_code_point(&t);
          if (t.code_point > 0x7f) {
            error = true;
            break;
          }
          re_pos = t.next_index;
          continue;
        }
        if (t.code_point == ')') {
          depth--;
          if (depth == 0) {
            re_pos = t.next_index;
            break;
          }
        } else if (t.code_point == '(') {
          depth++;
          if (t.next_index >= input.len) {
            error = true;
            break;
          }
          size_t temporary = t.next_index;
          get_next_code_point(&t);
          if (t.code_point != '?') {
            error = true;
            break;
          }
          t.next_index = temporary;
        }
        re_pos = t.next_index;
      }
      if (error) {
        rc = tokenizing_error(&t, re_start, t.index);
        continue;
      }
      if (depth != 0 || re_pos - re_start - 1 == 0) {
        rc = tokenizing_error(&t, re_start, t.index);
        continue;
      }
      rc = add_token(&t, QS_URLP_TOK_REGEXP, re_pos, re_start, re_pos - re_start - 1);
    } else {
      rc = add_token_default(&t, QS_URLP_TOK_CHAR);
    }
  }
  if (!rc) rc = add_token_default_length(&t, QS_URLP_TOK_END, t.index, t.index);
  if (rc) {
    free(t.tokens);
    return rc;
  }
  *tokens = t.tokens;
  *count = t.count;
  return 0;
}

/* ---- Parsing ---- */

typedef enum { PART_FIXED_TEXT, PART_REGEXP, PART_SEGMENT_WILDCARD, PART_FULL_WILDCARD } part_type_t;
typedef enum { MOD_NONE, MOD_OPTIONAL, MOD_ZERO_OR_MORE, MOD_ONE_OR_MORE } part_modifier_t;

typedef struct {
  part_type_t type;
  part_modifier_t modifier;
  qs_buf_t value, name, prefix, suffix;
} part_t;

typedef struct {
  qs_urlp_token_t *tokens;
  size_t count, index;
  qs_urlp_encode_fn encode;
  const void *ctx;
  const qs_urlp_options_t *options;
  qs_buf_t segment_wildcard;
  part_t *parts;
  size_t part_count, part_cap;
  qs_buf_t pending;
  unsigned next_numeric_name;
} parser_t;

static const char FULL_WILDCARD[] = ".*";

static bool contains(const char *set, char c) { return c != 0 && strchr(set, c) != NULL; }

/* "escape a regexp string" */
static int escape_regexp(qs_slice_t in, qs_buf_t *out) {
  int rc = 0;
  for (size_t i = 0; !rc && i < in.len; i++) {
    if (contains(".+*?^${}()[]|/\\", in.ptr[i])) rc = qs_buf_append(out, "\\", 1);
    if (!rc) rc = qs_buf_append(out, in.ptr + i, 1);
  }
  return rc;
}

int qs_urlp_escape_pattern_string(qs_slice_t in, qs_buf_t *out) {
  int rc = 0;
  for (size_t i = 0; !rc && i < in.len; i++) {
    if (contains("+*?:{}()\\", in.ptr[i])) rc = qs_buf_append(out, "\\", 1);
    if (!rc) rc = qs_buf_append(out, in.ptr + i, 1);
  }
  return rc;
}

/* "generate a segment wildcard regexp" */
static int segment_wildcard_regexp(const qs_urlp_options_t *o, qs_buf_t *out) {
  int rc = qs_buf_append_cstr(out, "[^");
  char d = o->delimiter;
  if (!rc && d) rc = escape_regexp((qs_slice_t){&d, 1}, out);
  if (!rc) rc = qs_buf_append_cstr(out, "]+?");
  return rc;
}

static qs_urlp_token_t *try_consume(parser_t *p, qs_urlp_token_type_t type) {
  if (p->index >= p->count) return NULL;
  qs_urlp_token_t *t = &p->tokens[p->index];
  if (t->type != type) return NULL;
  p->index++;
  return t;
}

static qs_urlp_token_t *try_consume_modifier(parser_t *p) {
  qs_urlp_token_t *t = try_consume(p, QS_URLP_TOK_OTHER_MODIFIER);
  return t ? t : try_consume(p, QS_URLP_TOK_ASTERISK);
}

static qs_urlp_token_t *try_consume_regexp_or_wildcard(parser_t *p, const qs_urlp_token_t *name) {
  qs_urlp_token_t *t = try_consume(p, QS_URLP_TOK_REGEXP);
  if (!name && !t) t = try_consume(p, QS_URLP_TOK_ASTERISK);
  return t;
}

static int consume_text(parser_t *p, qs_buf_t *out) {
  for (;;) {
    qs_urlp_token_t *t = try_consume(p, QS_URLP_TOK_CHAR);
    if (!t) t = try_consume(p, QS_URLP_TOK_ESCAPED_CHAR);
    if (!t) return 0;
    int rc = qs_buf_append(out, t->value.ptr, t->value.len);
    if (rc) return rc;
  }
}

static int encode(parser_t *p, qs_slice_t in, qs_buf_t *out) {
  if (in.len == 0) return 0;
  return p->encode(in, p->ctx, out);
}

static part_t *new_part(parser_t *p) {
  if (p->part_count == p->part_cap) {
    size_t cap = p->part_cap ? p->part_cap * 2 : 8;
    part_t *n = realloc(p->parts, cap * sizeof *n);
    if (!n) return NULL;
    p->parts = n;
    p->part_cap = cap;
  }
  part_t *part = &p->parts[p->part_count++];
  memset(part, 0, sizeof *part);
  qs_buf_init(&part->value, QS_URLP_MAX_BYTES);
  qs_buf_init(&part->name, QS_URLP_MAX_BYTES);
  qs_buf_init(&part->prefix, QS_URLP_MAX_BYTES);
  qs_buf_init(&part->suffix, QS_URLP_MAX_BYTES);
  return part;
}

/* "maybe add a part from the pending fixed value" */
static int flush_pending(parser_t *p) {
  if (p->pending.len == 0) return 0;
  part_t *part = new_part(p);
  if (!part) return QS_ENOMEM;
  part->type = PART_FIXED_TEXT;
  int rc = encode(p, qs_buf_slice(&p->pending), &part->value);
  qs_buf_reset(&p->pending);
  p->pending.len = 0;
  return rc;
}

static bool is_duplicate_name(parser_t *p, qs_slice_t name) {
  for (size_t i = 0; i < p->part_count; i++)
    if (p->parts[i].type != PART_FIXED_TEXT && qs_slice_eq(qs_buf_slice(&p->parts[i].name), name))
      return true;
  return false;
}

/* "add a part" */
static int add_part(parser_t *p, qs_slice_t prefix, const qs_urlp_token_t *name_token,
                    const qs_urlp_token_t *regexp_or_wildcard, qs_slice_t suffix,
                    const qs_urlp_token_t *modifier_token) {
  part_modifier_t modifier = MOD_NONE;
  if (modifier_token) {
    char m = modifier_token->value.ptr[0];
    modifier = m == '?' ? MOD_OPTIONAL : m == '*' ? MOD_ZERO_OR_MORE : MOD_ONE_OR_MORE;
  }
  int rc;
  if (!name_token && !regexp_or_wildcard && modifier == MOD_NONE)
    return qs_buf_append(&p->pending, prefix.ptr, prefix.len);
  if ((rc = flush_pending(p))) return rc;
  if (!name_token && !regexp_or_wildcard) {
    if (prefix.len == 0) return 0;
    part_t *part = new_part(p);
    if (!part) return QS_ENOMEM;
    part->type = PART_FIXED_TEXT;
    part->modifier = modifier;
    return encode(p, prefix, &part->value);
  }
  qs_slice_t regexp_value;
  if (!regexp_or_wildcard) {
    regexp_value = qs_buf_slice(&p->segment_wildcard);
  } else if (regexp_or_wildcard->type == QS_URLP_TOK_ASTERISK) {
    regexp_value = qs_slice_from_cstr(FULL_WILDCARD);
  } else {
    regexp_value = regexp_or_wildcard->value;
  }
  part_type_t type = PART_REGEXP;
  if (qs_slice_eq(regexp_value, qs_buf_slice(&p->segment_wildcard))) {
    type = PART_SEGMENT_WILDCARD;
    regexp_value = (qs_slice_t){"", 0};
  } else if (qs_slice_eq_cstr(regexp_value, FULL_WILDCARD)) {
    type = PART_FULL_WILDCARD;
    regexp_value = (qs_slice_t){"", 0};
  }
  char numeric[16];
  qs_slice_t name = {"", 0};
  if (name_token) {
    name = name_token->value;
  } else if (regexp_or_wildcard) {
    int n = snprintf(numeric, sizeof numeric, "%u", p->next_numeric_name++);
    name = (qs_slice_t){numeric, (size_t)n};
  }
  if (is_duplicate_name(p, name)) return QS_EPARSE;
  part_t *part = new_part(p);
  if (!part) return QS_ENOMEM;
  part->type = type;
  part->modifier = modifier;
  rc = qs_buf_append(&part->value, regexp_value.ptr, regexp_value.len);
  if (!rc) rc = qs_buf_append(&part->name, name.ptr, name.len);
  if (!rc) rc = encode(p, prefix, &part->prefix);
  if (!rc) rc = encode(p, suffix, &part->suffix);
  return rc;
}

static void parser_dispose(parser_t *p) {
  for (size_t i = 0; i < p->part_count; i++) {
    qs_buf_dispose(&p->parts[i].value);
    qs_buf_dispose(&p->parts[i].name);
    qs_buf_dispose(&p->parts[i].prefix);
    qs_buf_dispose(&p->parts[i].suffix);
  }
  free(p->parts);
  free(p->tokens);
  qs_buf_dispose(&p->pending);
  qs_buf_dispose(&p->segment_wildcard);
}

/* "parse a pattern string" */
static int parse_pattern_string(parser_t *p, qs_slice_t input, qs_urlp_encode_fn enc, const void *ctx,
                                const qs_urlp_options_t *options) {
  memset(p, 0, sizeof *p);
  p->encode = enc;
  p->ctx = ctx;
  p->options = options;
  qs_buf_init(&p->pending, QS_URLP_MAX_BYTES);
  qs_buf_init(&p->segment_wildcard, 64);
  int rc = qs_urlp_tokenize(input, true, &p->tokens, &p->count);
  if (!rc) rc = segment_wildcard_regexp(options, &p->segment_wildcard);
  while (!rc && p->index < p->count) {
    qs_urlp_token_t *char_token = try_consume(p, QS_URLP_TOK_CHAR);
    qs_urlp_token_t *name_token = try_consume(p, QS_URLP_TOK_NAME);
    qs_urlp_token_t *re_token = try_consume_regexp_or_wildcard(p, name_token);
    if (name_token || re_token) {
      qs_slice_t prefix = {"", 0};
      if (char_token) prefix = char_token->value;
      if (prefix.len > 0 && !(prefix.len == 1 && prefix.ptr[0] == options->prefix)) {
        rc = qs_buf_append(&p->pending, prefix.ptr, prefix.len);
        prefix = (qs_slice_t){"", 0};
      }
      if (!rc) rc = flush_pending(p);
      qs_urlp_token_t *modifier = try_consume_modifier(p);
      if (!rc) rc = add_part(p, prefix, name_token, re_token, (qs_slice_t){"", 0}, modifier);
      continue;
    }
    qs_urlp_token_t *fixed = char_token;
    if (!fixed) fixed = try_consume(p, QS_URLP_TOK_ESCAPED_CHAR);
    if (fixed) {
      rc = qs_buf_append(&p->pending, fixed->value.ptr, fixed->value.len);
      continue;
    }
    if (try_consume(p, QS_URLP_TOK_OPEN)) {
      qs_buf_t prefix, suffix;
      qs_buf_init(&prefix, QS_URLP_MAX_BYTES);
      qs_buf_init(&suffix, QS_URLP_MAX_BYTES);
      rc = consume_text(p, &prefix);
      name_token = try_consume(p, QS_URLP_TOK_NAME);
      re_token = try_consume_regexp_or_wildcard(p, name_token);
      if (!rc) rc = consume_text(p, &suffix);
      if (!rc && !try_consume(p, QS_URLP_TOK_CLOSE)) rc = QS_EPARSE;
      qs_urlp_token_t *modifier = try_consume_modifier(p);
      if (!rc) rc = add_part(p, qs_buf_slice(&prefix), name_token, re_token, qs_buf_slice(&suffix), modifier);
      qs_buf_dispose(&prefix);
      qs_buf_dispose(&suffix);
      continue;
    }
    rc = flush_pending(p);
    if (!rc && !try_consume(p, QS_URLP_TOK_END)) rc = QS_EPARSE;
  }
  return rc;
}

static const char *modifier_string(part_modifier_t m) {
  return m == MOD_OPTIONAL ? "?" : m == MOD_ZERO_OR_MORE ? "*" : m == MOD_ONE_OR_MORE ? "+" : "";
}

/* Whether re.ptr[*i], a '{' outside a class, opens an ECMAScript quantifier
 * ("{n}", "{n,}" or "{n,m}"); if so, moves *i to its closing '}'. With the
 * `u` flag a '{' that does not is a SyntaxError, where PCRE2 reads it as a
 * literal. */
static bool braced_quantifier(qs_slice_t re, size_t *i) {
  size_t j = *i + 1;
  size_t digits = 0;
  while (j < re.len && re.ptr[j] >= '0' && re.ptr[j] <= '9') j++, digits++;
  if (digits == 0) return false;
  if (j < re.len && re.ptr[j] == ',') {
    j++;
    while (j < re.len && re.ptr[j] >= '0' && re.ptr[j] <= '9') j++;
  }
  if (j >= re.len || re.ptr[j] != '}') return false;
  *i = j;
  return true;
}

/* A user's regexp group must be a plain ECMAScript pattern without
 * back-references, capturing groups of its own (they would shift the group
 * numbering) or PCRE-only syntax (verbs, recursion, inline options). With the
 * `u` flag a lone '{', '}' or ']' is a SyntaxError (PCRE2 takes it as a
 * literal), so it is refused too. */
static bool user_regexp_allowed(qs_slice_t re) {
  bool in_class = false;
  for (size_t i = 0; i < re.len; i++) {
    char c = re.ptr[i];
    if (in_class) {
      /* The `v` flag's nested classes and set operations (`--`, `&&`) have
       * no PCRE2 10.42 equivalent: refuse them rather than misread them. */
      char n = i + 1 < re.len ? re.ptr[i + 1] : 0;
      if (c == '\\') {
        i++;
      } else if (c == '[' || (c == '-' && n == '-') || (c == '&' && n == '&')) {
        return false;
      } else if (c == ']') {
        in_class = false;
      }
      continue;
    }
    if (c == '[') {
      in_class = true;
      if (i + 1 < re.len && re.ptr[i + 1] == '^') i++;
      continue;
    }
    if (c == ']' || c == '}') return false;
    if (c == '{') {
      if (!braced_quantifier(re, &i)) return false;
      continue;
    }
    if (c == '\\' && i + 1 < re.len) {
      char e = re.ptr[++i];
      if (e >= '1' && e <= '9') return false;
      if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) {
        if (!strchr("dDwWsSbBfnrtvcxupP", e)) return false;
      }
      /* "\p{L}", "\P{L}" and "\u{41}": the braces belong to the escape. */
      if ((e == 'p' || e == 'P' || e == 'u') && i + 1 < re.len && re.ptr[i + 1] == '{') {
        const char *close = memchr(re.ptr + i + 1, '}', re.len - i - 1);
        if (!close) return false;
        for (size_t k = i + 2; e == 'u' && re.ptr + k < close; k++)
          if (!strchr("0123456789abcdefABCDEF", re.ptr[k])) return false;
        i = (size_t)(close - re.ptr);
      }
    } else if (c == '(' && i + 1 < re.len) {
      if (re.ptr[i + 1] == '*') return false;
      if (re.ptr[i + 1] == '?') {
        char k = i + 2 < re.len ? re.ptr[i + 2] : 0;
        char k2 = i + 3 < re.len ? re.ptr[i + 3] : 0;
        if (k == ':' || k == '=' || k == '!') continue;
        if (k == '<' && (k2 == '=' || k2 == '!')) continue;
        return false;
      }
    }
  }
  return true;
}

/* A wildcard repeated without prefix or suffix: the Standard's
 * "((?:[^/]+?)+)" or "((?:.*)*)". Its repetition of a repetition backtracks
 * exponentially on a subject it does not match at once (every split of the
 * text into iterations is tried), so it is written as one repetition of the
 * character class: "([^/]+)", "([^/]*)", "(.*)". Same strings, same capture:
 * with single-character iterations the outer loop tries end positions
 * longest first, exactly as the greedy class does. */
static int repeated_wildcard_regexp(const part_t *part, qs_slice_t value, qs_buf_t *out) {
  if (part->type == PART_FULL_WILDCARD) return qs_buf_append_cstr(out, "(.*)");
  /* The segment wildcard is "[^d]+?": keep its class. */
  qs_slice_t cls = {value.ptr, value.len - 2};
  return qs_buf_appendf(out, "(%.*s%s)", (int)cls.len, cls.ptr,
                        part->modifier == MOD_ONE_OR_MORE ? "+" : "*");
}

/* "generate a regular expression and name list" */
static int generate_regexp(parser_t *p, qs_buf_t *out) {
  int rc = qs_buf_append_cstr(out, "^");
  unsigned group = 0; /* the capture group number of the current part */
  for (size_t i = 0; !rc && i < p->part_count; i++) {
    part_t *part = &p->parts[i];
    const char *mod = modifier_string(part->modifier);
    if (part->type == PART_FIXED_TEXT) {
      if (part->modifier == MOD_NONE) {
        rc = escape_regexp(qs_buf_slice(&part->value), out);
      } else {
        rc = qs_buf_append_cstr(out, "(?:");
        if (!rc) rc = escape_regexp(qs_buf_slice(&part->value), out);
        if (!rc) rc = qs_buf_appendf(out, ")%s", mod);
      }
      continue;
    }
    qs_slice_t value = qs_buf_slice(&part->value);
    if (part->type == PART_SEGMENT_WILDCARD)
      value = qs_buf_slice(&p->segment_wildcard);
    else if (part->type == PART_FULL_WILDCARD)
      value = qs_slice_from_cstr(FULL_WILDCARD);
    else if (!user_regexp_allowed(value))
      return QS_EPARSE;
    group++;
    if (part->prefix.len == 0 && part->suffix.len == 0) {
      if (part->modifier == MOD_OPTIONAL && group <= QS_REGEX_MAX_CALLOUT)
        /* ECMAScript's `?` rejects an iteration that matches the empty
         * string (RepeatMatcher), leaving the group undefined; PCRE2 takes
         * it and captures "". The callout fails the empty iteration. */
        rc = qs_buf_appendf(out, "(?:(%.*s)(?C%u))?", (int)value.len, value.ptr, group);
      else if (part->modifier == MOD_NONE || part->modifier == MOD_OPTIONAL)
        rc = qs_buf_appendf(out, "(%.*s)%s", (int)value.len, value.ptr, mod);
      else if (part->type != PART_REGEXP)
        rc = repeated_wildcard_regexp(part, value, out);
      else
        rc = qs_buf_appendf(out, "((?:%.*s)%s)", (int)value.len, value.ptr, mod);
      continue;
    }
    if (part->modifier == MOD_NONE || part->modifier == MOD_OPTIONAL) {
      rc = qs_buf_append_cstr(out, "(?:");
      if (!rc) rc = escape_regexp(qs_buf_slice(&part->prefix), out);
      if (!rc) rc = qs_buf_appendf(out, "(%.*s)", (int)value.len, value.ptr);
      if (!rc) rc = escape_regexp(qs_buf_slice(&part->suffix), out);
      if (!rc) rc = qs_buf_appendf(out, ")%s", mod);
      continue;
    }
    rc = qs_buf_append_cstr(out, "(?:");
    if (!rc) rc = escape_regexp(qs_buf_slice(&part->prefix), out);
    if (!rc) rc = qs_buf_appendf(out, "((?:%.*s)(?:", (int)value.len, value.ptr);
    if (!rc) rc = escape_regexp(qs_buf_slice(&part->suffix), out);
    if (!rc) rc = escape_regexp(qs_buf_slice(&part->prefix), out);
    if (!rc) rc = qs_buf_appendf(out, "(?:%.*s))*)", (int)value.len, value.ptr);
    if (!rc) rc = escape_regexp(qs_buf_slice(&part->suffix), out);
    if (!rc) rc = qs_buf_append_cstr(out, ")");
    if (!rc && part->modifier == MOD_ZERO_OR_MORE) rc = qs_buf_append_cstr(out, "?");
  }
  if (!rc) rc = qs_buf_append_cstr(out, "$");
  return rc;
}

static int32_t first_code_point(qs_slice_t s) {
  size_t pos = 0;
  return s.len ? qs_utf8_next(s, &pos) : -1;
}

static int32_t last_code_point(qs_slice_t s) {
  if (s.len == 0) return -1;
  size_t start = s.len - 1;
  while (start > 0 && ((unsigned char)s.ptr[start] & 0xc0) == 0x80) start--;
  size_t pos = start;
  return qs_utf8_next(s, &pos);
}

static bool is_digit_start(const qs_buf_t *name) {
  return name->len > 0 && name->ptr[0] >= '0' && name->ptr[0] <= '9';
}

/* "generate a pattern string" */
static int generate_pattern_string(parser_t *p, qs_buf_t *out) {
  int rc = 0;
  const qs_urlp_options_t *o = p->options;
  for (size_t i = 0; !rc && i < p->part_count; i++) {
    part_t *part = &p->parts[i];
    part_t *previous = i > 0 ? &p->parts[i - 1] : NULL;
    part_t *next = i + 1 < p->part_count ? &p->parts[i + 1] : NULL;
    const char *mod = modifier_string(part->modifier);
    if (part->type == PART_FIXED_TEXT) {
      if (part->modifier == MOD_NONE) {
        rc = qs_urlp_escape_pattern_string(qs_buf_slice(&part->value), out);
      } else {
        rc = qs_buf_append_cstr(out, "{");
        if (!rc) rc = qs_urlp_escape_pattern_string(qs_buf_slice(&part->value), out);
        if (!rc) rc = qs_buf_appendf(out, "}%s", mod);
      }
      continue;
    }
    bool custom_name = !is_digit_start(&part->name);
    bool needs_grouping =
        part->suffix.len > 0 ||
        (part->prefix.len > 0 && !(part->prefix.len == 1 && part->prefix.ptr[0] == o->prefix));
    if (!needs_grouping && custom_name && part->type == PART_SEGMENT_WILDCARD && part->modifier == MOD_NONE &&
        next && next->prefix.len == 0 && next->suffix.len == 0) {
      if (next->type == PART_FIXED_TEXT) {
        int32_t cp = first_code_point(qs_buf_slice(&next->value));
        needs_grouping = cp >= 0 && valid_name_code_point(cp, false);
      } else {
        needs_grouping = is_digit_start(&next->name);
      }
    }
    if (!needs_grouping && part->prefix.len == 0 && previous && previous->type == PART_FIXED_TEXT &&
        o->prefix != 0 && last_code_point(qs_buf_slice(&previous->value)) == o->prefix)
      needs_grouping = true;
    if (needs_grouping) rc = qs_buf_append_cstr(out, "{");
    if (!rc) rc = qs_urlp_escape_pattern_string(qs_buf_slice(&part->prefix), out);
    if (!rc && custom_name) rc = qs_buf_appendf(out, ":%.*s", (int)part->name.len, part->name.ptr);
    if (rc) continue;
    if (part->type == PART_REGEXP) {
      rc = qs_buf_appendf(out, "(%.*s)", (int)part->value.len, part->value.ptr);
    } else if (part->type == PART_SEGMENT_WILDCARD && !custom_name) {
      rc = qs_buf_appendf(out, "(%.*s)", (int)p->segment_wildcard.len, p->segment_wildcard.ptr);
    } else if (part->type == PART_FULL_WILDCARD) {
      if (!custom_name && (!previous || previous->type == PART_FIXED_TEXT || previous->modifier != MOD_NONE ||
                           needs_grouping || part->prefix.len > 0))
        rc = qs_buf_append_cstr(out, "*");
      else
        rc = qs_buf_appendf(out, "(%s)", FULL_WILDCARD);
    }
    if (!rc && part->type == PART_SEGMENT_WILDCARD && custom_name && part->suffix.len > 0) {
      int32_t cp = first_code_point(qs_buf_slice(&part->suffix));
      if (cp >= 0 && valid_name_code_point(cp, false)) rc = qs_buf_append_cstr(out, "\\");
    }
    if (!rc) rc = qs_urlp_escape_pattern_string(qs_buf_slice(&part->suffix), out);
    if (!rc && needs_grouping) rc = qs_buf_append_cstr(out, "}");
    if (!rc) rc = qs_buf_append_cstr(out, mod);
  }
  return rc;
}

/* The regex `^(.*)$` that the rest of a QS_URLP_MATCH_PREFIX component's
 * value must match, shared (never freed). */
static pthread_once_t any_once = PTHREAD_ONCE_INIT;
static qs_regex_t *any_regex;

static void init_any_regex(void) {
  static const char source[] = "^(.*)$"; /* what generate_regexp makes for a lone `*` */
  if (qs_regex_compile((qs_slice_t){source, sizeof source - 1}, QS_REGEX_JS | QS_REGEX_JIT, &any_regex) != 0)
    any_regex = NULL;
}

/* Decides how the component is matched and its literal prefix, from its
 * parts: the leading fixed texts without modifier, then the prefix of the
 * next part when that part must occur (no modifier, or `+`). */
static int classify(parser_t *p, qs_urlp_component_t *out) {
  qs_buf_t lit;
  qs_buf_init(&lit, QS_URLP_MAX_BYTES);
  size_t i = 0;
  int rc = 0;
  for (; !rc && i < p->part_count; i++) {
    part_t *part = &p->parts[i];
    if (part->type != PART_FIXED_TEXT || part->modifier != MOD_NONE) break;
    rc = qs_buf_append(&lit, part->value.ptr, part->value.len);
  }
  out->kind = QS_URLP_MATCH_REGEX;
  if (!rc && i == p->part_count) {
    out->kind = QS_URLP_MATCH_LITERAL;
  } else if (!rc) {
    part_t *part = &p->parts[i];
    if (part->modifier == MOD_NONE || part->modifier == MOD_ONE_OR_MORE)
      rc = qs_buf_append(&lit, part->prefix.ptr, part->prefix.len);
    /* generate_regexp made "^" literal "(?:" prefix "(.*))$": the value
     * starts with literal + prefix and the rest matches ^(.*)$. */
    if (i + 1 == p->part_count && part->type == PART_FULL_WILDCARD && part->modifier == MOD_NONE &&
        part->suffix.len == 0)
      out->kind = QS_URLP_MATCH_PREFIX;
  }
  if (!rc && lit.len > 0) {
    size_t len = 0;
    out->literal = qs_buf_steal(&lit, &len);
    out->literal_len = (uint32_t)len;
    if (!out->literal) rc = QS_ENOMEM;
  }
  qs_buf_dispose(&lit);
  return rc;
}

/* Whether `value` cannot hold a line terminator (whatever newline convention
 * PCRE2 was built with) nor invalid UTF-8, so that `^(.*)$` surely matches
 * it: only ASCII other than CR, LF and NUL. */
static bool plain_ascii(qs_slice_t value) {
  for (size_t i = 0; i < value.len; i++) {
    unsigned char c = (unsigned char)value.ptr[i];
    if (c >= 0x80 || c == '\n' || c == '\r' || c == 0) return false;
  }
  return true;
}

int qs_urlp_component_match(const qs_urlp_component_t *c, qs_slice_t value, qs_slice_t *groups,
                            size_t max_groups) {
  switch (c->kind) {
    case QS_URLP_MATCH_LITERAL:
      /* The literal is valid UTF-8 (its regex compiled in UTF mode), so equal
       * bytes are exactly what `^literal$` matches. */
      return value.len == c->literal_len && (value.len == 0 || memcmp(value.ptr, c->literal, value.len) == 0);
    case QS_URLP_MATCH_PREFIX: {
      /* The literal is valid UTF-8 and ends on a character boundary, so
       * `^literal(.*)$` matches exactly when the value starts with it and
       * the rest matches `^(.*)$`. */
      if (value.len < c->literal_len ||
          (c->literal_len && memcmp(value.ptr, c->literal, c->literal_len) != 0))
        return 0;
      qs_slice_t rest = {(value.ptr ? value.ptr : "") + c->literal_len, value.len - c->literal_len};
      if (plain_ascii(rest)) {
        if (groups && max_groups > 0) {
          groups[0] = rest;
          for (size_t i = 1; i < max_groups; i++) groups[i] = (qs_slice_t){NULL, 0};
        }
        return 1;
      }
      return qs_regex_match(c->regex, rest, groups, max_groups);
    }
    default:
      return qs_regex_match(c->regex, value, groups, max_groups);
  }
}

/* The strings of every lone `*` component (most components of most
 * patterns) and of every empty one. */
static char empty_pattern_string[] = "";
static char any_pattern_string[] = "*";
static char any_name[] = "0";
static char *any_names[] = {any_name};

/* Shares what many components hold the same: a lone `*` component's strings,
 * and a literal that is also its pattern string. Saves a few allocations per
 * component (a few hundred bytes per URL pattern). */
static void share_strings(qs_urlp_component_t *c) {
  if (c->pattern_string_len <= 1 && (c->pattern_string_len == 0 || c->pattern_string[0] == '*')) {
    free(c->pattern_string);
    c->pattern_string = c->pattern_string_len ? any_pattern_string : empty_pattern_string;
    c->static_pattern = true;
  }
  if (c->name_count == 0 || (c->name_count == 1 && strcmp(c->names[0], "0") == 0)) {
    if (c->name_count) free(c->names[0]);
    free(c->names);
    c->names = c->name_count ? any_names : NULL;
    c->static_names = true;
  }
  if (c->literal && c->literal_len == c->pattern_string_len &&
      memcmp(c->literal, c->pattern_string, c->literal_len) == 0) {
    free(c->literal);
    c->literal = c->pattern_string;
    c->literal_in_pattern = true;
  }
}

void qs_urlp_component_dispose(qs_urlp_component_t *c) {
  if (!c) return;
  if (!c->literal_in_pattern) free(c->literal);
  if (c->kind != QS_URLP_MATCH_PREFIX) qs_regex_destroy(c->regex);
  if (!c->static_pattern) free(c->pattern_string);
  if (!c->static_names) {
    for (size_t i = 0; i < c->name_count; i++) free(c->names[i]);
    free(c->names);
  }
  memset(c, 0, sizeof *c);
}

/* "compile a component" */
int qs_urlp_compile_component(qs_slice_t input, qs_urlp_encode_fn enc, const void *ctx,
                              const qs_urlp_options_t *options, qs_urlp_component_t *out) {
  memset(out, 0, sizeof *out);
  parser_t p;
  int rc = parse_pattern_string(&p, input, enc, ctx, options);
  qs_buf_t regexp, pattern;
  qs_buf_init(&regexp, QS_URLP_MAX_BYTES);
  qs_buf_init(&pattern, QS_URLP_MAX_BYTES);
  if (!rc) rc = generate_regexp(&p, &regexp);
  if (!rc) rc = qs_regex_compile(qs_buf_slice(&regexp), QS_REGEX_JS, &out->regex);
  if (!rc) rc = generate_pattern_string(&p, &pattern);
  if (!rc) {
    size_t len = 0;
    out->pattern_string = qs_buf_steal(&pattern, &len);
    out->pattern_string_len = (uint32_t)len;
    if (!out->pattern_string) rc = QS_ENOMEM;
  }
  size_t names = 0;
  for (size_t i = 0; i < p.part_count; i++) {
    if (p.parts[i].type == PART_REGEXP) out->has_regexp_groups = true;
    if (p.parts[i].type != PART_FIXED_TEXT) names++;
  }
  if (!rc && names > 0) {
    out->names = calloc(names, sizeof *out->names);
    if (!out->names) rc = QS_ENOMEM;
    for (size_t i = 0; !rc && i < p.part_count; i++) {
      if (p.parts[i].type == PART_FIXED_TEXT) continue;
      char *name = qs_slice_strdup(qs_buf_slice(&p.parts[i].name));
      if (!name)
        rc = QS_ENOMEM;
      else
        out->names[out->name_count++] = name;
    }
  }
  /* The standard throws a TypeError for a regexp that does not compile, or
   * whose groups would not line up with the name list. */
  if (!rc && qs_regex_group_count(out->regex) != out->name_count) rc = QS_EPARSE;
  if (!rc) rc = classify(&p, out);
  if (!rc && out->kind == QS_URLP_MATCH_LITERAL) {
    qs_regex_destroy(out->regex);
    out->regex = NULL;
  } else if (!rc && out->kind == QS_URLP_MATCH_PREFIX) {
    pthread_once(&any_once, init_any_regex);
    if (any_regex) {
      qs_regex_destroy(out->regex);
      out->regex = any_regex;
    } else {
      out->kind = QS_URLP_MATCH_REGEX;
    }
  }
  if (!rc) share_strings(out);
  qs_buf_dispose(&regexp);
  qs_buf_dispose(&pattern);
  parser_dispose(&p);
  if (rc) {
    qs_urlp_component_dispose(out);
    if (rc == QS_ETOOBIG) rc = QS_ETOOBIG;
  }
  return rc;
}

int qs_urlp_matches_special_scheme(const qs_urlp_component_t *c) {
  static const char *const special[] = {"ftp", "file", "http", "https", "ws", "wss"};
  for (size_t i = 0; i < sizeof special / sizeof *special; i++) {
    int rc = qs_urlp_component_match(c, qs_slice_from_cstr(special[i]), NULL, 0);
    if (rc != 0) return rc;
  }
  return 0;
}
