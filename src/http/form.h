/* application/x-www-form-urlencoded, as the WHATWG URL Standard parses it
 * (what URLSearchParams does), for query strings and form bodies, with caps.
 * Mercure: draft §Subscription (query and QUERY body), §Publication (POST body). */
#ifndef QS_HTTP_FORM_H
#define QS_HTTP_FORM_H

#include <stdbool.h>
#include <stddef.h>

#include "base/slice.h"

typedef struct {
  qs_slice_t name;
  qs_slice_t value;
} qs_form_pair_t;

/* Parsed pairs, in input order. Owns its memory (pairs and decoded bytes);
 * every slice stays valid until qs_form_dispose(). */
typedef struct {
  qs_form_pair_t *pairs;
  size_t count;
  char *bytes; /* decoded names and values */
} qs_form_t;

typedef struct {
  size_t max_pairs; /* more pairs: QS_ETOOBIG */
  size_t max_bytes; /* longer input: QS_ETOOBIG */
} qs_form_limits_t;

/* Initializes an empty form (allocates nothing); disposing it is allowed. */
void qs_form_init(qs_form_t *form);

/* Parses `input` (borrowed for the call) into *form, which must be
 * initialized or disposed; on error *form is left empty. Rules: split on
 * '&', skip empty pieces, split each at the first '=' (no '=' means an empty
 * value), '+' becomes a space, %XX is decoded (a '%' not followed by two hex
 * digits stays as it is). Decoded bytes are not checked for UTF-8 and never
 * replaced with U+FFFD: the caller validates them (Mercure rejects invalid
 * UTF-8 with 400 rather than repairing it). Returns 0, QS_ETOOBIG or QS_ENOMEM. */
int qs_form_parse(qs_slice_t input, const qs_form_limits_t *limits, qs_form_t *form);

/* Appends the pairs of `input` after those already in *form (query first,
 * then body, as Mercure merges them). The caps apply to the combined form.
 * On error *form is unchanged. */
int qs_form_parse_append(qs_slice_t input, const qs_form_limits_t *limits, qs_form_t *form);

/* Frees what the form owns and leaves it empty. */
void qs_form_dispose(qs_form_t *form);

/* The value of the first pair named exactly `name` (case-sensitive), or false. */
bool qs_form_get(const qs_form_t *form, const char *name, qs_slice_t *value);

/* How many pairs are named exactly `name`. */
size_t qs_form_count(const qs_form_t *form, const char *name);

/* Checks a Content-Type value: 1 when its media type is
 * application/x-www-form-urlencoded (ASCII case-insensitive, parameters
 * allowed), 0 for another well-formed media type, QS_EPARSE when the value
 * is not a media type (type "/" subtype, both tokens). */
int qs_form_content_type(qs_slice_t content_type);

#endif
