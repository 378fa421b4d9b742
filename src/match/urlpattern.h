/* WHATWG URL Pattern (URL Pattern Standard): the `urlpattern` matcher type of
 * draft-08. Each component is compiled to a bounded PCRE2 regular
 * expression; `ignoreCase` is never enabled and back-references are refused. */
#ifndef QS_MATCH_URLPATTERN_H
#define QS_MATCH_URLPATTERN_H

#include <stdbool.h>

#include "base/buf.h"
#include "base/slice.h"

typedef enum {
  QS_URLPATTERN_PROTOCOL,
  QS_URLPATTERN_USERNAME,
  QS_URLPATTERN_PASSWORD,
  QS_URLPATTERN_HOSTNAME,
  QS_URLPATTERN_PORT,
  QS_URLPATTERN_PATHNAME,
  QS_URLPATTERN_SEARCH,
  QS_URLPATTERN_HASH,
  QS_URLPATTERN_COMPONENTS
} qs_urlpattern_component_t;

/* A URLPatternInit dictionary: components absent unless `present[i]`. The
 * slices are borrowed for the duration of the call they are passed to. */
typedef struct {
  qs_slice_t value[QS_URLPATTERN_COMPONENTS];
  bool present[QS_URLPATTERN_COMPONENTS];
  qs_slice_t base_url;
  bool has_base_url;
} qs_urlpattern_init_t;

typedef struct qs_urlpattern qs_urlpattern_t;
struct qs_url;

/* Lowercase component name ("protocol", "username", ... "hash"). */
const char *qs_urlpattern_component_name(qs_urlpattern_component_t c);

/* Creates a pattern from a constructor string (URL Pattern Standard
 * "create" with a string input), resolved against `base_url` when it is not
 * NULL. Returns 0, QS_EPARSE (invalid pattern, invalid base URL, a relative
 * pattern without base, a regexp group using back-references), QS_ETOOBIG or
 * QS_ENOMEM. On error `*reason` (if not NULL) is set to a static text.
 * Arguments are borrowed for the call; the caller destroys the pattern, which
 * is immutable and may be tested from any thread. */
int qs_urlpattern_create(qs_slice_t pattern, const qs_slice_t *base_url, qs_urlpattern_t **out,
                         const char **reason);

/* Creates a pattern from a URLPatternInit dictionary. Same contract as
 * qs_urlpattern_create. */
int qs_urlpattern_create_from_init(const qs_urlpattern_init_t *init, qs_urlpattern_t **out,
                                   const char **reason);

/* JIT-compiles the regexes of the pattern's components, for a pattern that
 * is tested often (about 1 KB each, 3-4x faster tests). Only before the
 * pattern is shared with other threads. */
void qs_urlpattern_jit(qs_urlpattern_t *pattern);

/* Frees a pattern (NULL is fine). */
void qs_urlpattern_destroy(qs_urlpattern_t *pattern);

/* The component's normalized pattern string (URLPattern's `protocol`,
 * `pathname`... getters). Borrowed from the pattern. */
qs_slice_t qs_urlpattern_component_pattern(const qs_urlpattern_t *pattern, qs_urlpattern_component_t c);

/* True when some component uses a custom regexp group (`hasRegExpGroups`). */
bool qs_urlpattern_has_regexp_groups(const qs_urlpattern_t *pattern);

/* One named group of a component match. Slices borrow the result. */
typedef struct {
  qs_slice_t name;
  qs_slice_t value;
  bool matched; /* false for an optional group that did not participate ("undefined") */
} qs_urlpattern_group_t;

/* The outcome of qs_urlpattern_exec: per component, the canonicalized input
 * and its groups. Owns its memory; dispose with qs_urlpattern_result_dispose. */
typedef struct {
  qs_buf_t input[QS_URLPATTERN_COMPONENTS];
  qs_urlpattern_group_t *groups[QS_URLPATTERN_COMPONENTS];
  size_t group_count[QS_URLPATTERN_COMPONENTS];
} qs_urlpattern_result_t;

/* URLPattern test(input, baseURL) with a string input: returns 1 on a match,
 * 0 when it does not match (including an input that cannot be parsed as a
 * URL against `base_url`), QS_ELIMIT when a component regex hit its
 * evaluation limit (to be treated as no match), or QS_ENOMEM. */
int qs_urlpattern_test(const qs_urlpattern_t *pattern, qs_slice_t input, const qs_slice_t *base_url);

/* qs_urlpattern_test on an input already parsed with qs_url_parse against
 * the base URL (so that one parse serves many patterns): 1, 0, QS_ELIMIT or
 * QS_ENOMEM. `url` is borrowed for the call; NULL never matches. */
int qs_urlpattern_test_url(const qs_urlpattern_t *pattern, const struct qs_url *url);

/* The literal constraints every URL the pattern matches satisfies, for
 * indexing: fixed[c] when component c only matches the value prefix[c]
 * (e.g. a protocol "https", a hostname "example.com", a port "" for the
 * default one), and otherwise prefix[c], the literal text every matching
 * value of c starts with (possibly empty), e.g. "/users/" for the pathname
 * "/users/:id/(wildcard)". Values compare with the components of a URL parsed by
 * qs_url_parse (scheme, host or "", port in decimal or "", path). Slices
 * borrow the pattern. Returns true when protocol, hostname and port are all
 * fixed (the URL's origin is known). */
typedef struct {
  bool fixed[QS_URLPATTERN_COMPONENTS];
  qs_slice_t prefix[QS_URLPATTERN_COMPONENTS];
} qs_urlpattern_literals_t;
bool qs_urlpattern_literals(const qs_urlpattern_t *pattern, qs_urlpattern_literals_t *out);

/* An estimate of the bytes the compiled pattern holds (regexes included). */
size_t qs_urlpattern_size(const qs_urlpattern_t *pattern);

/* URLPattern test() with a URLPatternInit input (its base_url field is the
 * base). Returns as qs_urlpattern_test, or QS_EPARSE when the dictionary
 * cannot be processed. */
int qs_urlpattern_test_init(const qs_urlpattern_t *pattern, const qs_urlpattern_init_t *input);

/* URLPattern exec(): like qs_urlpattern_test (string input when `init` is
 * NULL, else the dictionary) but on a match fills `*result`, which the
 * caller then disposes. On any other return `*result` holds nothing. */
int qs_urlpattern_exec(const qs_urlpattern_t *pattern, qs_slice_t input, const qs_slice_t *base_url,
                       const qs_urlpattern_init_t *init, qs_urlpattern_result_t *result);

/* Frees the memory of an exec result. */
void qs_urlpattern_result_dispose(qs_urlpattern_result_t *result);

#endif
