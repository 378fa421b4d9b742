/* Helpers shared by the auth unit tests: minting tokens from literal JSON. */
#ifndef QS_TESTS_AUTH_TEST_UTIL_H
#define QS_TESTS_AUTH_TEST_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "auth/mint.h"
#include "base/buf.h"

#define DEV_SECRET "!ChangeThisMercureHubJWTSecretKey!"
#define HUB_URL "https://localhost/.well-known/mercure"

/* A token signed with `secret` over the literal header and claims; the caller frees it. */
static inline char *sign_with(const char *secret, const char *header, const char *claims) {
  qs_buf_t out;
  qs_buf_init(&out, 1 << 16);
  if (qs_jwt_sign_hs(QS_JWT_HS256, qs_slice_from_cstr(secret), qs_slice_from_cstr(header),
                     qs_slice_from_cstr(claims), &out) != 0) {
    qs_buf_dispose(&out);
    return NULL;
  }
  return qs_buf_steal(&out, NULL);
}

/* A token signed with the dev secret. */
static inline char *sign(const char *header, const char *claims) {
  return sign_with(DEV_SECRET, header, claims);
}

#endif
