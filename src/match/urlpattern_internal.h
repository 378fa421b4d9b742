/* Folder-internal helpers shared by the URL Pattern and URI Template
 * matchers: a bounded PCRE2 regular expression. */
#ifndef QS_MATCH_URLPATTERN_INTERNAL_H
#define QS_MATCH_URLPATTERN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"

/* Evaluation bounds applied to every match (requirements-digest 1.3.5): a
 * pattern that reaches one of them is treated as not matching. */
enum {
  QS_REGEX_MATCH_LIMIT = 100000, /* PCRE2 match_limit (backtracking steps) */
  QS_REGEX_DEPTH_LIMIT = 2000,   /* PCRE2 depth_limit (nested backtracking frames) */
  QS_REGEX_HEAP_LIMIT_KB = 4096, /* PCRE2 heap_limit */
};

typedef struct qs_regex qs_regex_t;

/* Flags of qs_regex_compile. */
enum {
  QS_REGEX_JS = 1u << 0,  /* ECMAScript escapes: \uHHHH, \u{H...}, \xHH */
  QS_REGEX_JIT = 1u << 1, /* also JIT-compile (faster matching, a few KB more) */
};

/* A callout "(?Cn)" with 1 <= n <= QS_REGEX_MAX_CALLOUT placed right after
 * capture group n fails the match path when group n has just captured the
 * empty string: "(?:(X)(?Cn))?" is ECMAScript's "(X)?", whose RepeatMatcher
 * rejects an empty iteration. */
enum { QS_REGEX_MAX_CALLOUT = 255 };

/* Compiles `source` (UTF-8, not NUL-terminated) in UTF mode, anchored at
 * the subject's start, `$` matching only at the end, JIT-compiled when asked
 * (QS_REGEX_JIT) and the platform allows. Returns 0,
 * QS_EPARSE for a syntax error or a pattern using back-references, or
 * QS_ENOMEM. The caller destroys the regex; it is immutable and may be used
 * from several threads at once. */
int qs_regex_compile(qs_slice_t source, unsigned flags, qs_regex_t **out);

/* JIT-compiles `re` (3-4x faster matching for about 1 KB of executable
 * memory), where the platform allows; otherwise the interpreter keeps
 * matching it. Only before the regex is shared: it is not thread-safe. */
void qs_regex_jit(qs_regex_t *re);

/* Frees a regex (NULL is fine). */
void qs_regex_destroy(qs_regex_t *re);

/* Bytes the compiled regex takes (PCRE2 code and JIT code included). */
size_t qs_regex_size(const qs_regex_t *re);

/* Number of capture groups. */
uint32_t qs_regex_group_count(const qs_regex_t *re);

/* Matches `subject` from its start. Returns 1 on a match, 0 on no match,
 * QS_ELIMIT when an evaluation limit was hit (the caller treats it as no
 * match), QS_ENOMEM. When `groups` is not NULL, groups[i] (i < max_groups)
 * receives capture group i+1, {NULL, 0} when it did not participate; the
 * slices borrow `subject`. */
int qs_regex_match(const qs_regex_t *re, qs_slice_t subject, qs_slice_t *groups, size_t max_groups);

/* ---- URL Pattern Standard internals (urlpattern_parser.c) ---- */

#include <stdbool.h>

#include "base/buf.h"

/* Longest string any step of pattern compilation may build. */
#define QS_URLP_MAX_BYTES ((size_t)1 << 20)

/* "tokenize" token types. */
typedef enum {
  QS_URLP_TOK_OPEN,
  QS_URLP_TOK_CLOSE,
  QS_URLP_TOK_REGEXP,
  QS_URLP_TOK_NAME,
  QS_URLP_TOK_CHAR,
  QS_URLP_TOK_ESCAPED_CHAR,
  QS_URLP_TOK_OTHER_MODIFIER,
  QS_URLP_TOK_ASTERISK,
  QS_URLP_TOK_END,
  QS_URLP_TOK_INVALID_CHAR,
} qs_urlp_token_type_t;

/* A token; `index` is a byte offset into the input and `value` borrows it. */
typedef struct {
  qs_urlp_token_type_t type;
  size_t index;
  qs_slice_t value;
} qs_urlp_token_t;

/* "tokenize" with the strict (`strict`) or lenient policy. On success
 * `*tokens` (freed by the caller with free()) ends with an end token. Returns
 * 0, QS_EPARSE (a tokenizing error under the strict policy) or QS_ENOMEM. */
int qs_urlp_tokenize(qs_slice_t input, bool strict, qs_urlp_token_t **tokens, size_t *count);

/* An "encoding callback": appends the canonical form of `value` to `out`;
 * `ctx` is what was given to qs_urlp_compile_component. */
typedef int (*qs_urlp_encode_fn)(qs_slice_t value, const void *ctx, qs_buf_t *out);

/* "options": a delimiter and prefix code point, 0 for none. */
typedef struct {
  char delimiter;
  char prefix;
} qs_urlp_options_t;

/* How a compiled component is matched. */
typedef enum {
  QS_URLP_MATCH_REGEX,   /* by its regex */
  QS_URLP_MATCH_LITERAL, /* only fixed text: byte equality with `literal`; no regex */
  /* fixed text then one `*` (e.g. the pathname "/users/5/" then `*`, or a lone `*`): the value
   * starts with `literal` and the rest matches `^(.*)$`, tested by a fast
   * path or by that regex, shared by every such component */
  QS_URLP_MATCH_PREFIX,
} qs_urlp_match_kind_t;

/* A compiled component. Everything is owned by it, except the regex of a
 * QS_URLP_MATCH_PREFIX component (shared by all of them). */
typedef struct {
  char *pattern_string;
  qs_regex_t *regex; /* NULL for QS_URLP_MATCH_LITERAL */
  char **names;      /* name_count NUL-terminated names */
  /* The literal text every value this component matches starts with (for a
   * QS_URLP_MATCH_LITERAL component: the whole value). NULL when empty. */
  char *literal;
  uint32_t pattern_string_len;
  uint32_t literal_len;
  uint32_t name_count;
  uint8_t kind; /* qs_urlp_match_kind_t */
  bool has_regexp_groups;
  bool static_pattern;     /* pattern_string is static ("*" or "") */
  bool static_names;       /* names is static ({"0"} or none) */
  bool literal_in_pattern; /* literal points into pattern_string */
} qs_urlp_component_t;

/* Matches `value` against the component, as qs_regex_match on its regex
 * (same returns; `groups` receive its named groups in order). */
int qs_urlp_component_match(const qs_urlp_component_t *c, qs_slice_t value, qs_slice_t *groups,
                            size_t max_groups);

/* "compile a component". Returns 0, QS_EPARSE (TypeError), QS_ETOOBIG or
 * QS_ENOMEM; on error `out` holds nothing. */
int qs_urlp_compile_component(qs_slice_t input, qs_urlp_encode_fn encode, const void *ctx,
                              const qs_urlp_options_t *options, qs_urlp_component_t *out);

/* Frees a compiled component (a zeroed one is fine). */
void qs_urlp_component_dispose(qs_urlp_component_t *c);

/* "protocol component matches a special scheme": 1, 0 or QS_ELIMIT. */
int qs_urlp_matches_special_scheme(const qs_urlp_component_t *c);

/* "escape a pattern string": appends `in` with +*?:{}()\ escaped. */
int qs_urlp_escape_pattern_string(qs_slice_t in, qs_buf_t *out);

#endif
