/* RFC 6570 URI Templates (level 4) as legacy Mercure topic selectors
 * (requirements-digest 2.3): a template matches the topics its expansion
 * could produce, through an anchored regular expression built from it. */
#ifndef QS_MATCH_URITEMPLATE_H
#define QS_MATCH_URITEMPLATE_H

#include <stdbool.h>

#include "base/slice.h"

typedef struct qs_uritemplate qs_uritemplate_t;

/* Parses `tmpl` (borrowed during the call) as an RFC 6570 level-4 template
 * and compiles its matching regular expression. Returns 0, QS_EPARSE when
 * `tmpl` is not a valid template (unbalanced braces, bad variable names,
 * bad modifiers, an unknown or reserved operator), or QS_ENOMEM. The caller
 * destroys the template; it is immutable and may be matched from any thread. */
int qs_uritemplate_create(qs_slice_t tmpl, qs_uritemplate_t **out);

/* Frees a template (NULL is fine). */
void qs_uritemplate_destroy(qs_uritemplate_t *tmpl);

/* Returns 1 when `topic` matches the template's anchored regular expression,
 * 0 when it does not, QS_ELIMIT when evaluation hit its limit (callers treat
 * it as no match) or QS_ENOMEM. */
int qs_uritemplate_match(const qs_uritemplate_t *tmpl, qs_slice_t topic);

/* The literal text before the first expression: every matching topic starts
 * with it. Borrowed from the template. */
qs_slice_t qs_uritemplate_literal_prefix(const qs_uritemplate_t *tmpl);

/* The generated regular expression (PCRE2 syntax), for tests and debugging.
 * Borrowed from the template. */
qs_slice_t qs_uritemplate_regex_source(const qs_uritemplate_t *tmpl);

#endif
