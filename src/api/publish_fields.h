/* The publish request's form fields (Mercure draft, Publication): collected
 * from the decoded form, then validated, with the exact status the draft
 * names for each violation. */
#ifndef QS_API_PUBLISH_FIELDS_H
#define QS_API_PUBLISH_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"
#include "http/form.h"
#include "store/update.h"

/* One decoded form field (borrowed from the parsed form). */
typedef qs_form_pair_t qs_form_field_t;

/* Caps on a publish request (400 beyond them: RFC 9110 keeps 413 for a body
 * too large). */
typedef struct {
  size_t max_topics;      /* topic fields per update */
  size_t max_topic_bytes; /* each topic */
  size_t max_field_bytes; /* each of id, type, retry */
  qs_slice_t hub_url;     /* for the reserved-namespace test */
} qs_publish_limits_t;

/* Why a request was refused: an HTTP status (400, 413, 503) and a static reason
 * that is safe to show the client. */
typedef struct {
  int status;
  const char *reason;
} qs_api_refusal_t;

/* The fields of one publish request. Slices borrow from the form fields;
 * `topics` is owned (free with qs_publish_fields_dispose). */
typedef struct {
  qs_slice_t *topics;
  size_t topic_count;
  qs_slice_t data;
  qs_slice_t id; /* empty when absent (an empty `id=` counts as absent) */
  qs_slice_t type;
  uint64_t retry_ms;
  bool has_retry;
  bool is_private;
} qs_publish_fields_t;

/* Collects the recognized fields (first value of data/id/type/retry; every
 * topic; private by presence; unknown fields ignored), checking presence,
 * counts, sizes, characters and `retry` syntax. Returns 0, or -1 with
 * `refusal` set (400, or 503 when out of memory). On success the caller disposes `out`. */
int qs_publish_fields_collect(const qs_form_field_t *fields, size_t field_count,
                              const qs_publish_limits_t *limits, qs_publish_fields_t *out,
                              qs_api_refusal_t *refusal);

/* The checks the draft applies regardless of the token, run after the publish
 * grant check: `*` and the reserved namespace as topics, the id rules, the
 * reserved `mercure` type, UTF-8 data. Returns 0 or -1 with a 400 refusal. */
int qs_publish_fields_validate(const qs_publish_fields_t *fields, const qs_publish_limits_t *limits,
                               qs_api_refusal_t *refusal);

/* Frees what collect allocated. */
void qs_publish_fields_dispose(qs_publish_fields_t *fields);

#endif
