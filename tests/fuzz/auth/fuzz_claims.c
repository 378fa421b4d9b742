/* Fuzzes claims -> grants on arbitrary JSON (what a signed token may carry),
 * with and without the legacy claim, then exercises the grants. */
#include <stddef.h>
#include <stdint.h>

#include "auth/claims.h"
#include "auth/jws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 16384) return 0;
  json_t *claims = qs_json_parse_object((const char *)data, size);
  if (!claims) return 0;
  static const qs_match_options_t options = {.hub_url = {"https://localhost/.well-known/mercure", 37},
                                             .max_pattern_bytes = 4096};
  static const qs_slice_t topics[] = {{"access/42", 9}, {"https://example.com/books/1", 27}, {"", 0}};
  for (int legacy = 0; legacy < 2; legacy++) {
    qs_grants_t *grants = NULL;
    const char *reason = NULL;
    if (qs_grants_from_claims(claims, legacy, &options, &grants, &reason) != 0) continue;
    (void)qs_grants_can_publish(grants, topics, 3);
    (void)qs_grants_can_receive(grants, topics, 3);
    for (int i = 0; i < 3; i++) (void)qs_grants_payload_for(grants, topics[i]);
    qs_grants_release(grants);
  }
  json_decref(claims);
  return 0;
}
