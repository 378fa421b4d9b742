/* Fuzzes the token path: strict base64url, JWS compact parsing, full
 * verification with a legacy and a strict key (claims -> grants included),
 * and the Cookie header parser. The input is the token (or header) bytes. */
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "auth/base64url.h"
#include "auth/extract.h"
#include "auth/jws.h"

#define SECRET "!ChangeThisMercureHubJWTSecretKey!"
#define HUB_URL "https://localhost/.well-known/mercure"

static qs_auth_t *verifier(bool legacy) {
  qs_auth_key_config_t key = {.alg = QS_JWT_HS256, .material = qs_slice_from_cstr(SECRET), .legacy = legacy};
  qs_slice_t issuer = qs_slice_from_cstr("https://localhost");
  qs_auth_config_t config = {.publisher_keys = &key,
                             .publisher_key_count = 1,
                             .subscriber_keys = &key,
                             .subscriber_key_count = 1,
                             .resource_identifier = qs_slice_from_cstr(HUB_URL),
                             .issuers = &issuer,
                             .issuer_count = 1,
                             .match = {.hub_url = qs_slice_from_cstr(HUB_URL), .max_pattern_bytes = 4096}};
  qs_auth_t *auth = NULL;
  const char *reason;
  qs_auth_create(&config, &auth, &reason);
  return auth;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static qs_auth_t *legacy, *strict;
  if (!legacy) legacy = verifier(true);
  if (!strict) strict = verifier(false);
  qs_slice_t input = qs_slice((const char *)data, size);

  qs_buf_t decoded;
  qs_buf_init(&decoded, 16384);
  (void)qs_base64url_decode(input, &decoded);
  qs_buf_dispose(&decoded);

  qs_jws_t jws;
  const char *reason;
  if (qs_jws_parse(input, 0, &jws, &reason) == 0) qs_jws_dispose(&jws);

  qs_auth_t *auths[] = {legacy, strict};
  for (int i = 0; i < 2; i++) {
    if (!auths[i]) continue;
    qs_grants_t *grants = NULL;
    qs_auth_failure_t why;
    /* A time before any plausible exp, so claims reach the grants builder. */
    if (qs_auth_verify(auths[i], i ? QS_AUTH_PUBLISHER : QS_AUTH_SUBSCRIBER, input, 1000, &grants, &why) ==
        0) {
      qs_slice_t topic = qs_slice_from_cstr("access/42");
      (void)qs_grants_can_publish(grants, &topic, 1);
      (void)qs_grants_can_receive(grants, &topic, 1);
      (void)qs_grants_payload_for(grants, topic);
      qs_grants_release(grants);
    }
  }

  qs_slice_t value;
  (void)qs_cookie_find(input, qs_slice_from_cstr(QS_AUTH_LEGACY_COOKIE_NAME), &value);
  qs_token_request_t request = {.authorization = &input, .authorization_count = 1};
  qs_token_source_t source;
  qs_auth_failure_t why;
  (void)qs_token_extract(&request, &value, &source, &why);
  return 0;
}
