#include "token_inspect.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/claims.h"
#include "auth/jws.h"
#include "base/buf.h"
#include "base/clock.h"
#include "config/config.h"
#include "keys.h"

#define MAX_TOPICS 16
#define MAX_STDIN_TOKEN_BYTES (64 * 1024)
#define JWKS_WAIT_MS 5000

static const char usage[] =
    "Usage: quicksilver token inspect [OPTIONS] [HUB OPTIONS] TOKEN|-\n"
    "Explains a token the way this hub sees it, with the hub's configuration (configuration file,\n"
    "environment and HUB OPTIONS, as `quicksilver --help` lists them): its header and claims, which\n"
    "key verifies it for each role or precisely why none does, and the grants it gives. `-` reads\n"
    "the token from standard input. No key is ever printed.\n\n"
    "  --topic TOPIC   also say whether the token allows TOPIC and which grant decides (repeatable:\n"
    "                  a publish needs every topic, a private update is delivered for any)\n"
    "  --publish       check the publisher role only (publishing to the topics)\n"
    "  --subscribe     check the subscriber role only (receiving private updates of the topics)\n\n"
    "Exit status: 0 when the token is accepted (for the role asked, or for either role) and, with\n"
    "--topic, allows what was asked; 1 when refused; 2 for a usage or configuration error.\n";

/* A value of the token fit for the terminal: printable ASCII, cut at 200 bytes. */
static void print_quoted(qs_slice_t value) {
  size_t n = value.len < 200 ? value.len : 200;
  putchar('`');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)value.ptr[i];
    putchar(c >= 0x20 && c < 0x7f ? c : '?');
  }
  if (value.len > n) fputs("...", stdout);
  putchar('`');
}

static void print_json(const char *label, const json_t *value) {
  char *text = json_dumps(value, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
  printf("%s %s\n", label, text ? text : "(out of memory)");
  free(text);
}

static void print_time_claim(const json_t *claims, const char *name, const char *label, int64_t now_ms) {
  const json_t *value = json_object_get(claims, name);
  if (!json_is_number(value)) return;
  double ms = json_number_value(value) * 1000.0;
  char when[40] = "(out of range)";
  if (isfinite(ms) && ms > -6.0e16 && ms < 2.5e17) {
    time_t t = (time_t)floor(ms / 1000.0);
    struct tm tm;
    if (gmtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  }
  double delta_s = (ms - (double)now_ms) / 1000.0;
  printf("%-12s %s (%s %.0f s)\n", label, when, delta_s >= 0 ? "in" : "since", fabs(delta_s));
}

static const char *format_of(const json_t *claims) {
  if (json_object_get(claims, "authorization_details")) return "draft-08 (authorization_details)";
  if (json_object_get(claims, "https://mercure.rocks/")) return "legacy (https://mercure.rocks/ claim)";
  if (json_object_get(claims, "mercure")) return "legacy (mercure claim)";
  return "no Mercure claim (grants nothing)";
}

static void print_matcher(const char *action, size_t index, const qs_matcher_t *m) {
  printf("  %-9s #%zu %-11s ", action, index + 1, qs_match_type_name(qs_matcher_type(m)));
  print_quoted(qs_matcher_pattern(m));
  putchar('\n');
}

static void print_grants(const qs_grants_t *g) {
  if (g->publish_count == 0 && g->subscribe_count == 0) printf("  (none)\n");
  for (size_t i = 0; i < g->publish_count; i++) print_matcher("publish", i, g->publish[i]);
  for (size_t i = 0; i < g->subscribe_count; i++) {
    print_matcher("subscribe", i, g->subscribe[i].matcher);
    if (g->subscribe[i].payload_json.len) {
      fputs("              payload ", stdout);
      print_quoted(g->subscribe[i].payload_json);
      putchar('\n');
    }
  }
  if (g->legacy && g->legacy_payload_json.len) {
    fputs("  payload   ", stdout);
    print_quoted(g->legacy_payload_json);
    putchar('\n');
  }
}

typedef struct {
  bool accepted;
  qs_grants_t *grants; /* when accepted */
} role_result_t;

static role_result_t check_role(const qs_auth_t *auth, qs_auth_role_t role, qs_slice_t token,
                                int64_t now_ms) {
  role_result_t result = {0};
  const char *name = role == QS_AUTH_PUBLISHER ? "publisher" : "subscriber";
  if (!qs_auth_has_keys(auth, role)) {
    printf("%-12s refused: no %s key is configured%s\n", name, name,
           role == QS_AUTH_SUBSCRIBER ? " (anonymous subscribers only)" : "");
    return result;
  }
  qs_auth_failure_t why;
  qs_auth_explain_t explain;
  int rc = qs_auth_verify_explain(auth, role, token, (qs_slice_t){NULL, 0}, now_ms, &result.grants, &why,
                                  &explain);
  if (rc) {
    printf("%-12s refused: %s\n", name, qs_auth_failure_text(&why));
    return result;
  }
  result.accepted = true;
  printf("%-12s accepted by %s key %zu of %zu (%s%s", name, name, explain.key_index + 1,
         qs_auth_key_count(auth, role), qs_jwt_alg_name(explain.alg), explain.jwks ? ", from a JWK Set" : "");
  if (explain.issuer.len) {
    fputs(", of issuer ", stdout);
    print_quoted(explain.issuer);
  } else {
    fputs(explain.key_legacy ? ", legacy key" : "", stdout);
  }
  printf(")\n%-12s %s\n", "",
         explain.legacy_rules ? "legacy rules: exp optional, aud, typ and iss not checked"
         : explain.key_legacy ? "draft-08 rules (legacy key): exp required, aud checked when present"
                              : "draft-08 rules: typ at+jwt, exp required, aud checked, trusted iss");
  return result;
}

/* Mercure draft, Publishers: every topic must be granted; names the grant of each. */
static bool check_publish(const qs_grants_t *g, const qs_slice_t *topics, size_t count) {
  bool all = true;
  for (size_t i = 0; i < count; i++) {
    size_t index;
    fputs("publish to   ", stdout);
    print_quoted(topics[i]);
    if (g && qs_grants_publish_grant_for(g, topics[i], &index)) {
      printf(": allowed by publish grant #%zu (%s ", index + 1,
             qs_match_type_name(qs_matcher_type(g->publish[index])));
      print_quoted(qs_matcher_pattern(g->publish[index]));
      puts(")");
    } else {
      all = false;
      puts(g ? ": refused: the token does not grant publishing to this topic"
             : ": refused: the token is not accepted for publishing");
    }
  }
  return all;
}

/* Mercure draft, Subscribers: a private update is delivered when some grant matches any topic. */
static bool check_subscribe(const qs_grants_t *g, const qs_slice_t *topics, size_t count) {
  bool any = false;
  for (size_t i = 0; i < count; i++) {
    size_t index;
    fputs("private      ", stdout);
    print_quoted(topics[i]);
    if (g && qs_grants_subscribe_grant_for(g, topics[i], &index)) {
      any = true;
      printf(": delivered through subscribe grant #%zu (%s ", index + 1,
             qs_match_type_name(qs_matcher_type(g->subscribe[index].matcher)));
      print_quoted(qs_matcher_pattern(g->subscribe[index].matcher));
      puts(")");
    } else {
      puts(g ? ": not delivered: no subscribe grant of the token matches this topic"
             : ": not delivered: the token is not accepted for subscribing");
    }
  }
  if (count > 1)
    printf("%-12s %s\n", "",
           any ? "an update with these topics is delivered" : "an update with these topics is not delivered");
  return any;
}

static int read_stdin_token(qs_buf_t *out) {
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
    if (qs_buf_append(out, chunk, n) != 0) return -1;
  /* Trailing white space (a line break from echo or a file) is not part of the token. */
  while (out->len && (out->ptr[out->len - 1] == '\n' || out->ptr[out->len - 1] == '\r' ||
                      out->ptr[out->len - 1] == ' ' || out->ptr[out->len - 1] == '\t'))
    out->len--;
  return 0;
}

static int build_auth(const qs_config_t *cfg, const qs_key_set_t *keys, qs_buf_t *hub_url, qs_auth_t **out,
                      const char **reason) {
  if (qs_config_hub_url(cfg, 0, hub_url) != 0) {
    *reason = "cannot derive the hub URL from listen (set hub_url)";
    return -1;
  }
  const char *url = hub_url->ptr;
  qs_auth_config_t config = {
      .publisher_keys = keys->publisher,
      .publisher_key_count = keys->publisher_count,
      .subscriber_keys = keys->subscriber,
      .subscriber_key_count = keys->subscriber_count,
      .resource_identifier = qs_slice_from_cstr(cfg->resource_identifier[0] ? cfg->resource_identifier : url),
      .match = {.hub_url = qs_slice_from_cstr(url), .max_pattern_bytes = cfg->max_pattern_bytes},
      .max_token_bytes = cfg->max_token_bytes,
      .jwks_refresh_interval_ms = (int64_t)cfg->jwks_refresh_interval_ms,
      .jwks_unknown_kid_interval_ms = (int64_t)cfg->jwks_unknown_kid_interval_ms,
  };
  return qs_auth_create(&config, out, reason);
}

typedef struct {
  const char *token_arg;
  qs_slice_t topics[MAX_TOPICS];
  size_t topic_count;
  bool publish, subscribe;
  char *config_argv[256];
  int config_argc;
} args_t;

static int parse_args(int argc, char **argv, args_t *a) {
  a->config_argv[a->config_argc++] = "quicksilver";
  if (argc < 2) {
    fputs(usage, stderr);
    return 2;
  }
  for (int i = 1; i < argc - 1; i++) {
    if (strcmp(argv[i], "--topic") == 0) {
      if (a->topic_count == MAX_TOPICS || i + 1 >= argc - 1) {
        fprintf(stderr, "quicksilver token inspect: --topic needs a value (at most %d topics)\n", MAX_TOPICS);
        return 2;
      }
      a->topics[a->topic_count++] = qs_slice_from_cstr(argv[++i]);
    } else if (strcmp(argv[i], "--publish") == 0) {
      a->publish = true;
    } else if (strcmp(argv[i], "--subscribe") == 0) {
      a->subscribe = true;
    } else if (a->config_argc < (int)(sizeof a->config_argv / sizeof *a->config_argv) - 1) {
      a->config_argv[a->config_argc++] = argv[i];
    } else {
      fprintf(stderr, "quicksilver token inspect: too many options\n");
      return 2;
    }
  }
  a->config_argv[a->config_argc] = NULL;
  a->token_arg = argv[argc - 1];
  if (strcmp(a->token_arg, "--help") == 0 || strcmp(a->token_arg, "-h") == 0) {
    fputs(usage, stdout);
    return -1;
  }
  if (!a->publish && !a->subscribe) a->publish = a->subscribe = true;
  return 0;
}

int qs_token_inspect_command(int argc, char **argv, char **environ_like) {
  static args_t a; /* static: large */
  memset(&a, 0, sizeof a);
  int rc = parse_args(argc, argv, &a);
  if (rc) return rc < 0 ? 0 : rc;

  qs_config_t cfg;
  char err[512] = "";
  if (qs_config_load(&cfg, a.config_argc, a.config_argv, environ_like, err, sizeof err) != 0) {
    fprintf(stderr, "quicksilver token inspect: %s\n", err[0] ? err : "the configuration does not load");
    qs_config_dispose(&cfg);
    return 2;
  }
  static qs_key_set_t keys; /* static: large */
  if (!qs_keys_configured(&cfg)) {
    fprintf(stderr,
            "quicksilver token inspect: no key is configured (publisher_jwt, subscriber_jwt, issuer...): "
            "the hub would make a random development key for its run, which no other token matches\n");
    qs_config_dispose(&cfg);
    return 2;
  }
  if (qs_keys_resolve(&cfg, &keys, err, sizeof err) != 0) {
    fprintf(stderr, "quicksilver token inspect: %s\n", err);
    qs_key_set_dispose(&keys);
    qs_config_dispose(&cfg);
    return 2;
  }
  qs_buf_t hub_url, stdin_token;
  qs_buf_init(&hub_url, 4096);
  qs_buf_init(&stdin_token, MAX_STDIN_TOKEN_BYTES);
  qs_auth_t *auth = NULL;
  const char *reason = "out of memory";
  int status = 2;
  if (build_auth(&cfg, &keys, &hub_url, &auth, &reason) != 0) {
    fprintf(stderr, "quicksilver token inspect: %s\n", reason);
    goto done;
  }
  qs_slice_t token = qs_slice_from_cstr(a.token_arg);
  if (strcmp(a.token_arg, "-") == 0) {
    if (read_stdin_token(&stdin_token) != 0) {
      fprintf(stderr, "quicksilver token inspect: the token on standard input is over %d bytes\n",
              MAX_STDIN_TOKEN_BYTES);
      goto done;
    }
    token = qs_buf_slice(&stdin_token);
  }
  /* JWK Sets are fetched in the background: give the first fetch a moment. */
  for (int waited = 0; !qs_auth_keys_loaded(auth) && waited < JWKS_WAIT_MS; waited += 50) usleep(50 * 1000);

  status = 1;
  qs_jws_t jws;
  if (qs_jws_parse(token, cfg.max_token_bytes, &jws, &reason) != 0) {
    printf("token        refused: %s\n", reason);
    goto done;
  }
  int64_t now_ms = qs_clock_wall_ms();
  print_json("header      ", jws.header);
  print_json("claims      ", jws.claims);
  printf("%-12s %s\n", "format", format_of(jws.claims));
  print_time_claim(jws.claims, "exp", "expires", now_ms);
  print_time_claim(jws.claims, "nbf", "not before", now_ms);
  printf("%-12s ", "expected aud");
  print_quoted(qs_auth_resource_identifier(auth));
  putchar('\n');

  role_result_t publisher = {0}, subscriber = {0};
  if (a.publish) publisher = check_role(auth, QS_AUTH_PUBLISHER, token, now_ms);
  if (a.subscribe) subscriber = check_role(auth, QS_AUTH_SUBSCRIBER, token, now_ms);
  const qs_grants_t *shown = publisher.grants ? publisher.grants : subscriber.grants;
  qs_grants_t *unverified = NULL;
  if (shown) {
    puts("grants");
  } else if (qs_grants_from_claims(jws.claims, true, &(qs_match_options_t){.hub_url = qs_buf_slice(&hub_url)},
                                   &unverified, &reason) == 0) {
    puts("grants       (of an unverified token)");
    shown = unverified;
  } else {
    printf("grants       none: %s\n", reason);
  }
  if (shown) print_grants(shown);
  bool ok = (a.publish && publisher.accepted) || (a.subscribe && subscriber.accepted);
  if (a.topic_count) {
    bool allowed = false;
    if (a.publish) allowed |= check_publish(publisher.grants, a.topics, a.topic_count) && publisher.accepted;
    if (a.subscribe)
      allowed |= check_subscribe(subscriber.grants, a.topics, a.topic_count) && subscriber.accepted;
    ok = allowed;
  }
  status = ok ? 0 : 1;
  qs_grants_release(unverified);
  qs_grants_release(publisher.grants);
  qs_grants_release(subscriber.grants);
  qs_jws_dispose(&jws);
done:
  qs_auth_destroy(auth);
  qs_buf_dispose(&stdin_token);
  qs_buf_dispose(&hub_url);
  qs_key_set_dispose(&keys);
  qs_config_dispose(&cfg);
  return status;
}
