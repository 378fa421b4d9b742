#include "token_command.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/mint.h"
#include "base/buf.h"
#include "base/uuid.h"
#include "token_inspect.h"

#define MAX_SELECTORS 64
#define DEV_KEY "!ChangeThisMercureHubJWTSecretKey!"
#define DEV_ISSUER "https://localhost"
#define DEV_AUDIENCE "https://localhost/.well-known/mercure"
#define DEV_EXPIRES_S 4102444800LL /* 2100-01-01T00:00:00Z */

static const char usage[] =
    "Usage: quicksilver token [OPTIONS]\n"
    "       quicksilver token inspect [--help] ... TOKEN|-\n"
    "Mints a signed JWT (draft-08 access token by default) for this hub and prints it;\n"
    "`inspect` explains why this hub accepts or refuses a token.\n\n"
    "  --publish SELECTOR       grant publishing to a topic selector (repeatable; * = every topic)\n"
    "  --subscribe SELECTOR     grant subscribing to a topic selector (repeatable)\n"
    "  --publish-urlpattern P   grant publishing to a URL pattern (repeatable)\n"
    "  --subscribe-urlpattern P grant subscribing to a URL pattern (repeatable)\n"
    "  --urlpattern             every --publish/--subscribe selector is a URL pattern (default: exact)\n"
    "  --legacy                 legacy format: {\"mercure\": {\"publish\", \"subscribe\"}} (as "
    "symfony/mercure 0.x)\n"
    "  --payload JSON           payload attached to the subscribe grant\n"
    "  --ttl SECONDS            lifetime (default 3600; 0 = no exp, legacy only)\n"
    "  --aud URL                draft-08 audience (the hub's resource identifier)\n"
    "  --iss ID                 issuer\n"
    "  --sub ID                 subject (draft-08 default: a random urn:uuid)\n"
    "  --client-id ID           draft-08 client_id (default: the issuer)\n"
    "  --kid ID                 key id written in the header\n"
    "  --alg ALG                HS256 (default), HS384, HS512, RS256, RS384, RS512, PS256, PS384,\n"
    "                           PS512, ES256, ES384, ES512 or EdDSA\n"
    "  --key KEY                HS*: the shared secret; others: a PEM private key. @FILE reads it\n"
    "                           from FILE, @- from standard input (default: $QUICKSILVER_PUBLISHER_JWT\n"
    "                           or $MERCURE_PUBLISHER_JWT_KEY; with only subscribe grants, the\n"
    "                           subscriber ones)\n"
    "  --dev                    development token as the reference hub's: iss https://localhost, aud\n"
    "                           https://localhost/.well-known/mercure, key $MERCURE_PUBLISHER_JWT_KEY or\n"
    "                           " DEV_KEY ", exp 4102444800, `*` grants when none given\n";

static const char *env_get(char **env, const char *name) {
  size_t n = strlen(name);
  for (char **e = env; e && *e; e++)
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=' && (*e)[n + 1]) return *e + n + 1;
  return NULL;
}

static const char *env_either(char **env, const char *a, const char *b) {
  return env_get(env, a) ? env_get(env, a) : env_get(env, b);
}

typedef struct {
  qs_slice_t items[MAX_SELECTORS];
  qs_match_type_t types[MAX_SELECTORS];
  size_t count;
} selectors_t;

static int add_selector(selectors_t *list, const char *value, qs_match_type_t type) {
  if (list->count == MAX_SELECTORS) {
    fprintf(stderr, "quicksilver token: at most %d selectors per action\n", MAX_SELECTORS);
    return -1;
  }
  list->items[list->count] = qs_slice_from_cstr(value);
  list->types[list->count++] = type;
  return 0;
}

/* What the command line asked for, before defaults are applied. */
typedef struct {
  selectors_t publish, subscribe;
  qs_token_spec_t spec;
  const char *key, *iss, *aud, *sub, *client_id;
  bool urlpattern, dev, ttl_given;
} request_t;

/* Reads one option that takes a value; 0, or 2 after saying why on stderr. */
static int parse_valued_option(request_t *r, const char *arg, const char *value) {
  if (strcmp(arg, "--publish") == 0) return add_selector(&r->publish, value, QS_MATCH_EXACT) ? 2 : 0;
  if (strcmp(arg, "--subscribe") == 0) return add_selector(&r->subscribe, value, QS_MATCH_EXACT) ? 2 : 0;
  if (strcmp(arg, "--publish-urlpattern") == 0)
    return add_selector(&r->publish, value, QS_MATCH_URLPATTERN) ? 2 : 0;
  if (strcmp(arg, "--subscribe-urlpattern") == 0)
    return add_selector(&r->subscribe, value, QS_MATCH_URLPATTERN) ? 2 : 0;
  if (strcmp(arg, "--payload") == 0) {
    r->spec.payload_json = qs_slice_from_cstr(value);
  } else if (strcmp(arg, "--ttl") == 0) {
    char *end;
    r->spec.lifetime_s = strtoll(value, &end, 10);
    r->ttl_given = true;
    if (*end || end == value || r->spec.lifetime_s < 0) {
      fprintf(stderr, "quicksilver token: --ttl takes a number of seconds\n");
      return 2;
    }
  } else if (strcmp(arg, "--aud") == 0) {
    r->aud = value;
  } else if (strcmp(arg, "--iss") == 0) {
    r->iss = value;
  } else if (strcmp(arg, "--sub") == 0) {
    r->sub = value;
  } else if (strcmp(arg, "--client-id") == 0) {
    r->client_id = value;
  } else if (strcmp(arg, "--kid") == 0) {
    r->spec.kid = qs_slice_from_cstr(value);
  } else if (strcmp(arg, "--alg") == 0) {
    if (qs_jwt_alg_parse(qs_slice_from_cstr(value), &r->spec.alg) != 0) {
      fprintf(stderr, "quicksilver token: unsupported --alg %s\n", value);
      return 2;
    }
  } else if (strcmp(arg, "--key") == 0) {
    r->key = value;
  } else {
    fprintf(stderr, "quicksilver token: unknown option %s\n%s", arg, usage);
    return 2;
  }
  return 0;
}

/* Reads argv into `r`; -1 to go on, else the exit status (0 after --help). */
static int parse_arguments(request_t *r, int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      fputs(usage, stdout);
      return 0;
    } else if (strcmp(arg, "--legacy") == 0) {
      r->spec.format = QS_TOKEN_FORMAT_LEGACY;
    } else if (strcmp(arg, "--urlpattern") == 0) {
      r->urlpattern = true;
    } else if (strcmp(arg, "--dev") == 0) {
      r->dev = true;
    } else if (i + 1 == argc) {
      fprintf(stderr, "quicksilver token: %s needs a value\n%s", arg, usage);
      return 2;
    } else {
      int rc = parse_valued_option(r, arg, argv[++i]);
      if (rc) return rc;
    }
  }
  return -1;
}

/* --urlpattern, --dev and the key from the environment; 0, or 2 after saying why. */
static int apply_defaults(request_t *r, char **env) {
  if (r->urlpattern) {
    for (size_t i = 0; i < r->publish.count; i++) r->publish.types[i] = QS_MATCH_URLPATTERN;
    for (size_t i = 0; i < r->subscribe.count; i++) r->subscribe.types[i] = QS_MATCH_URLPATTERN;
  }
  if (r->dev) {
    if (!r->iss) r->iss = DEV_ISSUER;
    if (!r->aud) r->aud = DEV_AUDIENCE;
    if (!r->key) r->key = env_get(env, "MERCURE_PUBLISHER_JWT_KEY");
    if (!r->key) r->key = DEV_KEY;
    if (!r->ttl_given) r->spec.expires_s = DEV_EXPIRES_S;
    if (r->publish.count == 0 && r->subscribe.count == 0) {
      add_selector(&r->publish, "*", QS_MATCH_EXACT);
      add_selector(&r->subscribe, "*", QS_MATCH_EXACT);
    }
  }
  bool subscriber_only = r->publish.count == 0 && r->subscribe.count > 0;
  if (!r->key && subscriber_only)
    r->key = env_either(env, "QUICKSILVER_SUBSCRIBER_JWT", "MERCURE_SUBSCRIBER_JWT_KEY");
  if (!r->key) r->key = env_either(env, "QUICKSILVER_PUBLISHER_JWT", "MERCURE_PUBLISHER_JWT_KEY");
  if (!r->key) {
    fprintf(stderr, "quicksilver token: no key: pass --key (or --dev) or set MERCURE_PUBLISHER_JWT_KEY\n");
    return 2;
  }
  if (r->publish.count == 0 && r->subscribe.count == 0) {
    fprintf(stderr, "quicksilver token: grant something with --publish or --subscribe\n");
    return 2;
  }
  if (r->spec.format == QS_TOKEN_FORMAT_LEGACY) {
    for (size_t i = 0; i < r->publish.count + r->subscribe.count; i++) {
      qs_match_type_t t =
          i < r->publish.count ? r->publish.types[i] : r->subscribe.types[i - r->publish.count];
      if (t == QS_MATCH_URLPATTERN) {
        fprintf(stderr, "quicksilver token: URL patterns need the draft-08 format (drop --legacy)\n");
        return 2;
      }
    }
  }
  return 0;
}

/* Signs the token `r` describes with `key` and prints it; the exit status. */
static int mint_and_print(request_t *r, qs_slice_t key) {
  qs_token_spec_t *spec = &r->spec;
  char subject[QS_UUID_URN_LEN + 1], jti[QS_UUID_URN_LEN + 1];
  if (spec->format == QS_TOKEN_FORMAT_DRAFT08) {
    /* As the reference hub: a random subject, client_id = issuer, a jti. */
    if (!r->sub) {
      qs_uuid_v4_urn(subject);
      r->sub = subject;
    }
    if (!r->client_id) r->client_id = r->iss;
    qs_uuid_v4_urn(jti);
    spec->jti = qs_slice_from_cstr(jti);
    spec->client_id = qs_slice_from_cstr(r->client_id);
    spec->publish_first = true;
  }
  spec->issuer = qs_slice_from_cstr(r->iss);
  spec->audience = qs_slice_from_cstr(r->aud);
  spec->subject = qs_slice_from_cstr(r->sub);
  spec->secret = key;
  spec->publish = r->publish.items;
  spec->publish_count = r->publish.count;
  spec->publish_match_types = r->publish.types;
  spec->subscribe = r->subscribe.items;
  spec->subscribe_count = r->subscribe.count;
  spec->subscribe_match_types = r->subscribe.types;
  qs_buf_t out;
  qs_buf_init(&out, 64 * 1024);
  if (qs_token_mint(spec, &out) != 0) {
    fprintf(stderr,
            "quicksilver token: cannot mint this token (check that --key fits --alg: a secret for HS*, a PEM "
            "private key otherwise; that --payload is JSON; and --ttl for draft-08)\n");
    qs_buf_dispose(&out);
    return 1;
  }
  printf("%s\n", out.ptr);
  qs_buf_dispose(&out);
  return 0;
}

int qs_token_command(int argc, char **argv, char **environ_like) {
  if (argc > 1 && strcmp(argv[1], "inspect") == 0)
    return qs_token_inspect_command(argc - 1, argv + 1, environ_like);
  request_t r = {.spec = {.format = QS_TOKEN_FORMAT_DRAFT08, .alg = QS_JWT_HS256, .lifetime_s = 3600}};
  int rc = parse_arguments(&r, argc, argv);
  if (rc >= 0) return rc;
  if ((rc = apply_defaults(&r, environ_like)) != 0) return rc;
  qs_buf_t key_bytes;
  qs_buf_init(&key_bytes, QS_JWT_KEY_MAX_FILE_BYTES);
  const char *reason = "out of memory";
  if (qs_jwt_key_read(r.key, &key_bytes, &reason) != 0) {
    fprintf(stderr, "quicksilver token: --key %s: %s\n", r.key[0] == '@' ? r.key : "", reason);
    rc = 2;
  } else {
    rc = mint_and_print(&r, qs_buf_slice(&key_bytes));
  }
  qs_buf_dispose(&key_bytes);
  return rc;
}
