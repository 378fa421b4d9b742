#include "api/subscribe_params.h"

#include <stdlib.h>

#include "base/error.h"

static int refuse(qs_api_refusal_t *refusal, int status, const char *reason) {
  refusal->status = status;
  refusal->reason = reason;
  return QS_EINVAL;
}

/* Maps a parameter name to a matcher type: 1 and *type when it selects one,
 * 0 when it is no matcher parameter, -1 when it is in the reserved `match`
 * namespace without being a supported parameter (draft, Subscription). */
static int matcher_param(qs_slice_t name, qs_match_type_t *type) {
  if (qs_slice_eq_cstr(name, "topic")) {
    *type = QS_MATCH_LEGACY;
    return 1;
  }
  if (qs_slice_eq_cstr(name, "match") || qs_slice_eq_cstr(name, "match_exact")) {
    *type = QS_MATCH_EXACT;
    return 1;
  }
  if (qs_slice_eq_cstr(name, "match_urlpattern")) {
    *type = QS_MATCH_URLPATTERN;
    return 1;
  }
  if (name.len >= 5 && qs_slice_eq_nocase(qs_slice(name.ptr, 5), qs_slice_from_cstr("match"))) return -1;
  return 0;
}

/* The rank of a query parameter carrying the cursor (lower wins), 0 for
 * others: last_event_id (draft), lastEventID (legacy hub, symfony/mercure),
 * lastEventId (event-source-polyfill's default), Last-Event-ID (reference hub v7). */
static int cursor_param_rank(qs_slice_t name) {
  if (qs_slice_eq_cstr(name, "last_event_id")) return 1;
  if (qs_slice_eq_cstr(name, "lastEventID") || qs_slice_eq_cstr(name, "lastEventId")) return 2;
  if (qs_slice_eq_cstr(name, "Last-Event-ID")) return 3;
  return 0;
}

int qs_subscribe_params_parse(const qs_form_field_t *fields, size_t field_count,
                              qs_slice_t last_event_id_header, bool has_last_event_id_header,
                              size_t max_matchers, const qs_match_options_t *match_options,
                              qs_subscribe_params_t *out, qs_api_refusal_t *refusal) {
  *out = (qs_subscribe_params_t){0};
  size_t wanted = 0;
  for (size_t i = 0; i < field_count; i++) {
    qs_match_type_t type;
    int kind = matcher_param(fields[i].name, &type);
    if (kind < 0) return refuse(refusal, 400, "unknown topic matcher query parameter");
    if (kind > 0) wanted++;
  }
  if (wanted == 0)
    return refuse(refusal, 400, "missing \"match\" (or legacy \"topic\") subscription parameter");
  if (wanted > max_matchers) return refuse(refusal, 400, "too many topic matchers");
  out->matchers = calloc(wanted, sizeof *out->matchers);
  if (!out->matchers) return refuse(refusal, 503, "out of memory");

  /* Cursor precedence: header, then the query parameters by rank. */
  int cursor_rank = has_last_event_id_header && last_event_id_header.len ? 0 : 4;
  if (cursor_rank == 0) {
    out->has_cursor = true;
    out->last_event_id = last_event_id_header;
  } else if (has_last_event_id_header) {
    out->has_cursor = true; /* an empty header still asks for the response field */
  }
  for (size_t i = 0; i < field_count; i++) {
    qs_slice_t name = fields[i].name, value = fields[i].value;
    qs_match_type_t type;
    if (matcher_param(name, &type) > 0) {
      const char *reason = "invalid topic matcher pattern";
      int rc = qs_matcher_create(type, value, match_options, &out->matchers[out->matcher_count], &reason);
      if (rc == QS_ETOOBIG) return refuse(refusal, 400, "a topic matcher pattern is too long");
      if (rc != 0) return refuse(refusal, 400, reason);
      out->matcher_count++;
      if (type == QS_MATCH_LEGACY) out->legacy = true;
      continue;
    }
    int rank = cursor_param_rank(name);
    if (rank && rank < cursor_rank) {
      cursor_rank = rank;
      out->has_cursor = true;
      out->last_event_id = value;
    }
    if (qs_slice_eq_cstr(name, "authorization") && out->authorization.len == 0) out->authorization = value;
  }
  return 0;
}

void qs_subscribe_params_dispose(qs_subscribe_params_t *params) {
  for (size_t i = 0; i < params->matcher_count; i++) qs_matcher_destroy(params->matchers[i]);
  free(params->matchers);
  *params = (qs_subscribe_params_t){0};
}
