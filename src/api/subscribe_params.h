/* The subscription request's parameters (Mercure draft, Subscription, and the
 * legacy format): matcher selectors, the last event id cursor and the legacy
 * `authorization` query parameter. */
#ifndef QS_API_SUBSCRIBE_PARAMS_H
#define QS_API_SUBSCRIBE_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

#include "api/publish_fields.h"
#include "match/matcher.h"

typedef struct {
  qs_matcher_t **matchers; /* owned until handed to the hub */
  size_t matcher_count;
  bool legacy;              /* at least one legacy `topic=` selector */
  bool has_cursor;          /* a last event id was given (even empty) */
  qs_slice_t last_event_id; /* borrowed */
  qs_slice_t authorization; /* legacy `authorization` query parameter; empty when absent */
} qs_subscribe_params_t;

/* Reads the decoded query fields. `last_event_id_header` (empty when absent)
 * wins over `last_event_id`, which wins over the legacy `lastEventID` (or
 * `lastEventId`, event-source-polyfill's) and `Last-Event-ID` query parameters. Returns 0, or QS_EINVAL with
 * a 400 refusal: no matcher, too many, an invalid pattern, or an unknown `match*` parameter. */
int qs_subscribe_params_parse(const qs_form_field_t *fields, size_t field_count,
                              qs_slice_t last_event_id_header, bool has_last_event_id_header,
                              size_t max_matchers, const qs_match_options_t *match_options,
                              qs_subscribe_params_t *out, qs_api_refusal_t *refusal);

/* Frees the matchers still owned by `params`. */
void qs_subscribe_params_dispose(qs_subscribe_params_t *params);

#endif
