#include "token_command.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/mint.h"
#include "base/buf.h"

#define MAX_SELECTORS 64

static const char usage[] =
    "Usage: quicksilver token [OPTIONS]\n"
    "Mints an HMAC-signed JWT for this hub and prints it.\n\n"
    "  --publish SELECTOR       grant publishing to a topic selector (repeatable; * = every topic)\n"
    "  --subscribe SELECTOR     grant subscribing to a topic selector (repeatable)\n"
    "  --urlpattern             draft-08 selectors are URL patterns (default: exact)\n"
    "  --legacy                 legacy format: {\"mercure\": {\"publish\", \"subscribe\"}} (as "
    "symfony/mercure 0.x)\n"
    "  --payload JSON           payload attached to the subscribe grant\n"
    "  --ttl SECONDS            lifetime (default 3600; 0 = no exp, legacy only)\n"
    "  --aud URL                draft-08 audience (the hub's resource identifier)\n"
    "  --iss ID                 issuer\n"
    "  --sub ID                 subject\n"
    "  --alg HS256|HS384|HS512  algorithm (default HS256)\n"
    "  --key SECRET             the shared secret (default: $QUICKSILVER_PUBLISHER_JWT or\n"
    "                           $MERCURE_PUBLISHER_JWT_KEY; with only --subscribe, the subscriber ones)\n";

static const char *env_get(char **env, const char *name) {
  size_t n = strlen(name);
  for (char **e = env; e && *e; e++)
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=' && (*e)[n + 1]) return *e + n + 1;
  return NULL;
}

int qs_token_command(int argc, char **argv, char **environ_like) {
  qs_slice_t publish[MAX_SELECTORS], subscribe[MAX_SELECTORS];
  qs_token_spec_t spec = {.format = QS_TOKEN_FORMAT_DRAFT08, .alg = QS_JWT_HS256, .lifetime_s = 3600};
  const char *key = NULL;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char *value = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      fputs(usage, stdout);
      return 0;
    } else if (strcmp(arg, "--legacy") == 0) {
      spec.format = QS_TOKEN_FORMAT_LEGACY;
      continue;
    } else if (strcmp(arg, "--urlpattern") == 0) {
      spec.match_type = QS_MATCH_URLPATTERN;
      continue;
    }
    if (!value) {
      fprintf(stderr, "quicksilver token: %s needs a value\n%s", arg, usage);
      return 2;
    }
    i++;
    if (strcmp(arg, "--publish") == 0 && spec.publish_count < MAX_SELECTORS) {
      publish[spec.publish_count++] = qs_slice_from_cstr(value);
    } else if (strcmp(arg, "--subscribe") == 0 && spec.subscribe_count < MAX_SELECTORS) {
      subscribe[spec.subscribe_count++] = qs_slice_from_cstr(value);
    } else if (strcmp(arg, "--payload") == 0) {
      spec.payload_json = qs_slice_from_cstr(value);
    } else if (strcmp(arg, "--ttl") == 0) {
      char *end;
      spec.lifetime_s = strtoll(value, &end, 10);
      if (*end || spec.lifetime_s < 0) {
        fprintf(stderr, "quicksilver token: --ttl takes a number of seconds\n");
        return 2;
      }
    } else if (strcmp(arg, "--aud") == 0) {
      spec.audience = qs_slice_from_cstr(value);
    } else if (strcmp(arg, "--iss") == 0) {
      spec.issuer = qs_slice_from_cstr(value);
    } else if (strcmp(arg, "--sub") == 0) {
      spec.subject = qs_slice_from_cstr(value);
    } else if (strcmp(arg, "--alg") == 0) {
      if (qs_jwt_alg_parse(qs_slice_from_cstr(value), &spec.alg) != 0 || !qs_jwt_alg_is_hmac(spec.alg)) {
        fprintf(stderr, "quicksilver token: --alg must be HS256, HS384 or HS512\n");
        return 2;
      }
    } else if (strcmp(arg, "--key") == 0) {
      key = value;
    } else {
      fprintf(stderr, "quicksilver token: unknown option %s\n%s", arg, usage);
      return 2;
    }
  }
  bool subscriber_only = spec.publish_count == 0 && spec.subscribe_count > 0;
  if (!key && subscriber_only)
    key = env_get(environ_like, "QUICKSILVER_SUBSCRIBER_JWT")
              ? env_get(environ_like, "QUICKSILVER_SUBSCRIBER_JWT")
              : env_get(environ_like, "MERCURE_SUBSCRIBER_JWT_KEY");
  if (!key)
    key = env_get(environ_like, "QUICKSILVER_PUBLISHER_JWT")
              ? env_get(environ_like, "QUICKSILVER_PUBLISHER_JWT")
              : env_get(environ_like, "MERCURE_PUBLISHER_JWT_KEY");
  if (!key) {
    fprintf(stderr, "quicksilver token: no key: pass --key or set MERCURE_PUBLISHER_JWT_KEY\n");
    return 2;
  }
  if (spec.publish_count == 0 && spec.subscribe_count == 0) {
    fprintf(stderr, "quicksilver token: grant something with --publish or --subscribe\n");
    return 2;
  }
  spec.secret = qs_slice_from_cstr(key);
  spec.publish = publish;
  spec.subscribe = subscribe;
  qs_buf_t out;
  qs_buf_init(&out, 64 * 1024);
  int rc = qs_token_mint(&spec, &out);
  if (rc != 0) {
    fprintf(stderr,
            "quicksilver token: cannot mint this token (check --payload is JSON, and --ttl for draft-08)\n");
    qs_buf_dispose(&out);
    return 1;
  }
  printf("%s\n", out.ptr);
  qs_buf_dispose(&out);
  return 0;
}
