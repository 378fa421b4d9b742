/* Claims -> grants: reads the Mercure authorization of a verified JWT claims
 * set, either the draft-08 `authorization_details` (Mercure draft,
 * Authorization Details) or the legacy `mercure` claim (requirements digest
 * 2.2). Nothing here checks signatures or times: see qs_auth_verify(). */
#ifndef QS_AUTH_CLAIMS_H
#define QS_AUTH_CLAIMS_H

#include <jansson.h>
#include <stdbool.h>

#include "auth/grants.h"
#include "match/matcher.h"

/* REF limits (requirements digest 1.5.21, 2.2). */
#define QS_CLAIMS_MAX_DETAILS 100         /* Mercure authorization details per token */
#define QS_CLAIMS_MAX_DETAIL_TOPICS 100   /* topic matchers summed over all details */
#define QS_CLAIMS_MAX_LEGACY_ENTRIES 1000 /* entries per legacy publish/subscribe array */
#define QS_CLAIMS_MAX_PATTERN_BYTES 4096  /* bytes per pattern */

/* The `type` of Mercure authorization details, compared byte for byte. */
#define QS_CLAIMS_DETAIL_TYPE "https://mercure.rocks/authorization-detail"

/* Builds the grants of `claims` (a JSON object, borrowed for the call).
 *
 * With an `authorization_details` member, only it is read (the legacy claim
 * is then ignored): it must be an array of objects; objects whose `type` is
 * not QS_CLAIMS_DETAIL_TYPE are ignored whatever their shape; a Mercure
 * detail needs `actions` (non-empty array of strings; "publish" and
 * "subscribe" grant, other strings grant nothing) and `topics` (non-empty
 * array of {"match": non-empty string, "match_type"?: "exact"|"urlpattern"},
 * default exact); its `payload` (any JSON) is kept as compact JSON text on its
 * subscribe grants. Any bad Mercure detail invalidates the whole token.
 *
 * Without it and when `accept_legacy` is true, the legacy claim is read:
 * "https://mercure.rocks/" if present, else "mercure"; an object whose
 * `publish` and `subscribe` members are absent, null or arrays of selector
 * strings (legacy matchers: exact or URI Template) or of objects
 * {"match", "match_type"?, "payload"?} (match_type absent means a legacy
 * selector); `payload` (any JSON) becomes the legacy payload. Without either,
 * the grants allow nothing (still a valid token).
 *
 * Patterns are compiled with `match` (max_pattern_bytes is further capped at
 * QS_CLAIMS_MAX_PATTERN_BYTES). Returns 0 with `*out` holding one reference
 * (the caller releases it), QS_EAUTH for a bad shape, QS_ETOOBIG past a limit,
 * QS_ENOMEM; `*reason` is set to a static, token-free explanation on failure.
 * The subject, issuer and expiry fields are left for the caller to fill. */
int qs_grants_from_claims(const json_t *claims, bool accept_legacy, const qs_match_options_t *match,
                          qs_grants_t **out, const char **reason);

#endif
