/* Options table loaders: defaults, file, environment, flags, value parsers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/error.h"
#include "config/config.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static char err[512];

/* Loads with argv (the program name is added) and env; returns the code. */
static int load(qs_config_t *cfg, char **env, int argc, const char *const *args) {
  char *argv[32] = {"quicksilver"};
  for (int i = 0; i < argc; i++) argv[i + 1] = (char *)args[i];
  err[0] = '\0';
  return qs_config_load(cfg, argc + 1, argv, env, err, sizeof err);
}

static int parse(qs_config_t *cfg, const char *text) {
  err[0] = '\0';
  return qs_config_parse_text(cfg, text, strlen(text), "test.conf", err, sizeof err);
}

static void assert_err(const char *expected) {
  if (strcmp(err, expected) != 0)
    print_error("error message\n  got:      %s\n  expected: %s\n", err, expected);
  assert_string_equal(err, expected);
}

/* Writes `text` to a fresh temporary file whose name goes to `path`. */
static void write_temp(char *path, size_t size, const char *text) {
  snprintf(path, size, "/tmp/qs_config_test_XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
}

static void defaults_match_the_documented_values(void **state) {
  (void)state;
  qs_config_t cfg;
  assert_int_equal(qs_config_init_defaults(&cfg), 0);
  assert_string_equal(cfg.listen, "localhost:3000");
  assert_int_equal(cfg.workers, 0);
  assert_string_equal(cfg.hub_url, "");
  assert_string_equal(cfg.resource_identifier, "");
  assert_false(cfg.anonymous);
  assert_int_equal(cfg.cors_origins.count, 0);
  assert_null(cfg.cors_origins.items);
  assert_int_equal(cfg.publish_origins.count, 0);
  assert_string_equal(cfg.cookie_name, "__Secure-mercure_access_token");
  assert_string_equal(cfg.publisher_jwt, "");
  assert_string_equal(cfg.publisher_jwt_alg, "HS256");
  assert_string_equal(cfg.subscriber_jwt, "");
  assert_string_equal(cfg.subscriber_jwt_alg, "HS256");
  assert_int_equal(cfg.heartbeat_ms, 25000);
  assert_int_equal(cfg.write_timeout_ms, 0);
  assert_int_equal(cfg.dispatch_timeout_ms, 5000);
  assert_int_equal(cfg.max_request_body_bytes, 1024 * 1024);
  assert_int_equal(cfg.max_header_bytes, 16 * 1024);
  assert_int_equal(cfg.header_read_timeout_ms, 10000);
  assert_int_equal(cfg.idle_timeout_ms, 60000);
  assert_int_equal(cfg.max_topics_per_update, 100);
  assert_int_equal(cfg.max_matchers, 100);
  assert_int_equal(cfg.max_pattern_bytes, 4096);
  assert_int_equal(cfg.max_token_bytes, 8192);
  assert_int_equal(cfg.max_field_bytes, 1024);
  assert_int_equal(cfg.subscriber_queue_max_bytes, 4 * 1024 * 1024);
  assert_int_equal(cfg.max_connections, 15000);
  assert_int_equal(cfg.max_connections_per_client, 0);
  assert_int_equal(cfg.transport, QS_TRANSPORT_LMDB);
  assert_string_equal(cfg.history_path, "./var/quicksilver.lmdb");
  assert_int_equal(cfg.history_size, 100000);
  assert_int_equal(cfg.history_max_bytes, 1024ull * 1024 * 1024);
  assert_int_equal(cfg.history_max_age_ms, 0);
  assert_int_equal(cfg.lmdb_map_bytes, 2048ull * 1024 * 1024);
  assert_int_equal(cfg.commit_interval_ms, 0);
  assert_int_equal(cfg.commit_max_updates, 1000);
  assert_int_equal(cfg.durability, QS_DURABILITY_SYNC);
  assert_false(cfg.subscriptions);
  assert_int_equal(cfg.topic_matcher_cache, 100000);
  assert_true(cfg.ui);
  assert_int_equal(cfg.log_level, QS_LOG_INFO);
  assert_string_equal(cfg.tls_cert, "");
  assert_string_equal(cfg.tls_key, "");
  assert_null(cfg.config_path);
  assert_false(cfg.help_requested);
  qs_config_dispose(&cfg);
  qs_config_dispose(&cfg); /* idempotent */
}

static void load_without_sources_gives_defaults(void **state) {
  (void)state;
  qs_config_t cfg;
  assert_int_equal(load(&cfg, NULL, 0, NULL), 0);
  assert_string_equal(err, "");
  assert_int_equal(cfg.heartbeat_ms, 25000);
  qs_config_dispose(&cfg);
}

static void file_parses_comments_quotes_and_lists(void **state) {
  (void)state;
  qs_config_t cfg;
  assert_int_equal(qs_config_init_defaults(&cfg), 0);
  const char *text =
      "# a comment line\n"
      "\n"
      "   listen [::1]:8080   # trailing comment\n"
      "anonymous\n"
      "ui off\r\n"
      "cookie_name my#cookie\n"
      "publisher_jwt \"a secret with \\\"quotes\\\" and \\\\ spaces\"\n"
      "subscriber_jwt `raw \\ value` RS256\n"
      "cors_origins https://a.example https://b.example,https://c.example\n"
      "cors_origins \"https://d.example\"\n"
      "heartbeat 40s\n"
      "max_request_body_size 512KB\n"
      "transport memory\n"
      "durability async\n"
      "log_level debug\n"
      "history_path \"/data/with space/q.lmdb\"";
  int rc = parse(&cfg, text);
  if (rc) print_error("%s\n", err);
  assert_int_equal(rc, 0);
  assert_string_equal(cfg.listen, "[::1]:8080");
  assert_true(cfg.anonymous);
  assert_false(cfg.ui);
  assert_string_equal(cfg.cookie_name, "my#cookie");
  assert_string_equal(cfg.publisher_jwt, "a secret with \"quotes\" and \\ spaces");
  assert_string_equal(cfg.publisher_jwt_alg, "HS256");
  assert_string_equal(cfg.subscriber_jwt, "raw \\ value");
  assert_string_equal(cfg.subscriber_jwt_alg, "RS256");
  assert_int_equal(cfg.cors_origins.count, 4);
  assert_string_equal(cfg.cors_origins.items[0], "https://a.example");
  assert_string_equal(cfg.cors_origins.items[1], "https://b.example");
  assert_string_equal(cfg.cors_origins.items[2], "https://c.example");
  assert_string_equal(cfg.cors_origins.items[3], "https://d.example");
  assert_int_equal(cfg.heartbeat_ms, 40000);
  assert_int_equal(cfg.max_request_body_bytes, 512000);
  assert_int_equal(cfg.transport, QS_TRANSPORT_MEMORY);
  assert_int_equal(cfg.durability, QS_DURABILITY_ASYNC);
  assert_int_equal(cfg.log_level, QS_LOG_DEBUG);
  assert_string_equal(cfg.history_path, "/data/with space/q.lmdb");
  qs_config_dispose(&cfg);
}

static void file_errors_name_the_line(void **state) {
  (void)state;
  static const struct {
    const char *text, *error;
  } cases[] = {
      {"anonymous\n# ok\nfoo bar\n", "test.conf line 3: unknown directive 'foo'"},
      {"heartbeat x", "test.conf line 1: heartbeat: invalid duration 'x' (use e.g. 25s)"},
      {"\nheartbeat", "test.conf line 2: heartbeat: missing value"},
      {"heartbeat 1s 2s", "test.conf line 1: heartbeat: expects one value, got 2"},
      {"publisher_jwt k HS256 x", "test.conf line 1: publisher_jwt: expects one or two value, got 3"},
      {"publisher_jwt k HS999",
       "test.conf line 1: publisher_jwt_alg: invalid value 'HS999' (use one of HS256, HS384, HS512, RS256, "
       "RS384, RS512, ES256, ES384, ES512, PS256, PS384, PS512, EdDSA)"},
      {"cookie_name \"unterminated", "test.conf line 1: unterminated quote"},
      {"cookie_name \"a\"b", "test.conf line 1: a closing quote must end the value"},
      {"anonymous maybe", "test.conf line 1: anonymous: invalid boolean 'maybe' (use true or false)"},
      {"transport bolt",
       "test.conf line 1: transport: invalid value 'bolt' (use one of memory, lmdb, redis)"},
      {"cors_origins", "test.conf line 1: cors_origins: missing value"},
      {"cors_origins https://a.example/",
       "test.conf line 1: cors_origins: invalid item 'https://a.example/': an origin has no path: remove the "
       "trailing /"},
      {"workers 2000", "test.conf line 1: workers: '2000' is above the maximum 1024"},
      {"max_header_size 100", "test.conf line 1: max_header_size: '100' is below the minimum 1KiB"},
      {"max_connections -5", "test.conf line 1: max_connections: '-5' is below the minimum 1"},
      {"listen 3000",
       "test.conf line 1: listen: invalid value '3000': use host:port, e.g. localhost:3000, :3000 or "
       "[::1]:3000"},
      {"listen ::1:3000",
       "test.conf line 1: listen: invalid value '::1:3000': an IPv6 host goes in brackets, e.g. [::1]:3000"},
      {"hub_url example.com",
       "test.conf line 1: hub_url: invalid value 'example.com': must be an absolute http:// or https:// URL"},
      {"cookie_name a;b",
       "test.conf line 1: cookie_name: invalid value 'a;b': a cookie name may hold only letters, digits and "
       "!#$%&'*+-.^_`|~"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    qs_config_t cfg;
    assert_int_equal(qs_config_init_defaults(&cfg), 0);
    assert_int_equal(parse(&cfg, cases[i].text), QS_EINVAL);
    assert_err(cases[i].error);
    qs_config_dispose(&cfg);
  }
}

static void file_with_a_nul_byte_is_refused(void **state) {
  (void)state;
  qs_config_t cfg;
  assert_int_equal(qs_config_init_defaults(&cfg), 0);
  assert_int_equal(qs_config_parse_text(&cfg, "ui\nui\0x", 8, "f", err, sizeof err), QS_EINVAL);
  assert_err("f line 2: NUL byte");
  qs_config_dispose(&cfg);
}

static void missing_config_file_is_an_error(void **state) {
  (void)state;
  qs_config_t cfg;
  const char *args[] = {"--config", "/nonexistent/quicksilver.conf"};
  assert_int_equal(load(&cfg, NULL, ARGC(args), args), QS_EINVAL);
  assert_string_equal(err, "/nonexistent/quicksilver.conf: cannot open: No such file or directory");
  qs_config_dispose(&cfg);
}

static void environment_overrides_defaults_and_aliases_apply(void **state) {
  (void)state;
  char *env[] = {"PATH=/bin",
                 "QUICKSILVER_HEARTBEAT=1m",
                 "QUICKSILVER_ANONYMOUS=yes",
                 "QUICKSILVER_CORS_ORIGINS=https://a.example, https://b.example https://c.example",
                 "MERCURE_PUBLISHER_JWT_KEY=pub-secret",
                 "MERCURE_PUBLISHER_JWT_ALG=HS512",
                 "MERCURE_SUBSCRIBER_JWT_KEY=alias-loses",
                 "QUICKSILVER_SUBSCRIBER_JWT=direct-wins",
                 "MERCURE_SUBSCRIBER_JWT_ALG=ES256",
                 "QUICKSILVER_WORKERS=",
                 NULL};
  qs_config_t cfg;
  int rc = load(&cfg, env, 0, NULL);
  if (rc) print_error("%s\n", err);
  assert_int_equal(rc, 0);
  assert_int_equal(cfg.heartbeat_ms, 60000);
  assert_true(cfg.anonymous);
  assert_int_equal(cfg.cors_origins.count, 3);
  assert_string_equal(cfg.cors_origins.items[2], "https://c.example");
  assert_string_equal(cfg.publisher_jwt, "pub-secret");
  assert_string_equal(cfg.publisher_jwt_alg, "HS512");
  assert_string_equal(cfg.subscriber_jwt, "direct-wins");
  assert_string_equal(cfg.subscriber_jwt_alg, "ES256");
  assert_int_equal(cfg.workers, 0); /* empty counts as unset */
  qs_config_dispose(&cfg);
}

static void environment_errors_name_the_variable(void **state) {
  (void)state;
  char *env[] = {"QUICKSILVER_MAX_HEADER_SIZE=lots", NULL};
  qs_config_t cfg;
  assert_int_equal(load(&cfg, env, 0, NULL), QS_EINVAL);
  assert_err("QUICKSILVER_MAX_HEADER_SIZE: invalid size 'lots' (use e.g. 1MiB, 512KB or 4096)");
  qs_config_dispose(&cfg);

  char *alias_env[] = {"MERCURE_SUBSCRIBER_JWT_ALG=none", NULL};
  assert_int_equal(load(&cfg, alias_env, 0, NULL), QS_EINVAL);
  assert_true(strncmp(err, "MERCURE_SUBSCRIBER_JWT_ALG: invalid value 'none'", 48) == 0);
  qs_config_dispose(&cfg);
}

static void transport_url_means_redis_and_yields_to_our_options(void **state) {
  (void)state;
  qs_config_t cfg;
  /* The reference hub's variable alone: transport redis with that URL. */
  char *env[] = {"MERCURE_TRANSPORT_URL=redis://:s3cret@10.0.0.5:6380/2", NULL};
  assert_int_equal(load(&cfg, env, 0, NULL), 0);
  assert_int_equal(cfg.transport, QS_TRANSPORT_REDIS);
  assert_string_equal(cfg.redis_url, "redis://:s3cret@10.0.0.5:6380/2");
  qs_config_dispose(&cfg);

  /* Our own spelling of the variable works the same. */
  char *own_env[] = {"QUICKSILVER_TRANSPORT_URL=redis://127.0.0.1:7000", NULL};
  assert_int_equal(load(&cfg, own_env, 0, NULL), 0);
  assert_int_equal(cfg.transport, QS_TRANSPORT_REDIS);
  assert_string_equal(cfg.redis_url, "redis://127.0.0.1:7000");
  qs_config_dispose(&cfg);

  /* redis_url set by any source wins; transport redis set as well agrees. */
  const char *url_flag[] = {"--redis_url", "redis://b.example:2", "--transport", "redis"};
  assert_int_equal(load(&cfg, env, ARGC(url_flag), url_flag), 0);
  assert_int_equal(cfg.transport, QS_TRANSPORT_REDIS);
  assert_string_equal(cfg.redis_url, "redis://b.example:2");
  qs_config_dispose(&cfg);

  /* Set to its default value, redis_url is still a choice that wins. */
  const char *default_url[] = {"--redis_url", "redis://127.0.0.1:6379"};
  assert_int_equal(load(&cfg, env, ARGC(default_url), default_url), 0);
  assert_string_equal(cfg.redis_url, "redis://127.0.0.1:6379");
  qs_config_dispose(&cfg);

  /* Another transport chosen anywhere, even the default lmdb, contradicts it. */
  char path[64];
  write_temp(path, sizeof path, "transport lmdb\n");
  const char *file_flag[] = {"--config", path};
  assert_int_equal(load(&cfg, env, ARGC(file_flag), file_flag), QS_EINVAL);
  assert_err(
      "transport_url (MERCURE_TRANSPORT_URL) names a Redis transport, but transport is set to lmdb; "
      "unset one of them");
  qs_config_dispose(&cfg);
  unlink(path);
  const char *memory_flag[] = {"--transport", "memory"};
  assert_int_equal(load(&cfg, env, ARGC(memory_flag), memory_flag), QS_EINVAL);
  assert_true(strstr(err, "transport is set to memory") != NULL);
  assert_null(strstr(err, "s3cret"));
  qs_config_dispose(&cfg);

  /* Unset, nothing changes: the default transport and redis_url stay. */
  assert_int_equal(load(&cfg, NULL, 0, NULL), 0);
  assert_int_equal(cfg.transport, QS_TRANSPORT_LMDB);
  assert_string_equal(cfg.redis_url, "redis://127.0.0.1:6379");
  assert_string_equal(cfg.transport_url, "");
  qs_config_dispose(&cfg);
}

static void transport_url_refuses_other_schemes_and_says_why(void **state) {
  (void)state;
  static const struct {
    const char *value, *reason;
  } cases[] = {
      {"MERCURE_TRANSPORT_URL=rediss://:pw@redis.example:6380", "TLS to Redis (rediss://) is not supported"},
      {"MERCURE_TRANSPORT_URL=bolt:///data/mercure.db?size=1000", "use transport lmdb with history_path"},
      {"MERCURE_TRANSPORT_URL=local://local", "transport memory here"},
      {"MERCURE_TRANSPORT_URL=postgres://u:pw@db/mercure", "only redis:// URLs are supported"},
      {"MERCURE_TRANSPORT_URL=unix:/run/redis.sock", "redis_url unix:/path"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *env[] = {(char *)cases[i].value, NULL};
    qs_config_t cfg;
    assert_int_equal(load(&cfg, env, 0, NULL), QS_EINVAL);
    if (!strstr(err, cases[i].reason)) print_error("%s\n  got: %s\n", cases[i].value, err);
    assert_non_null(strstr(err, cases[i].reason));
    assert_true(strncmp(err, "MERCURE_TRANSPORT_URL: ", 23) == 0);
    /* The value may hold a password: never echoed. */
    assert_null(strstr(err, "pw@"));
    qs_config_dispose(&cfg);
  }
  qs_config_t cfg;
  qs_config_init_defaults(&cfg);
  assert_int_equal(parse(&cfg, "transport_url bolt:///var/lib/mercure.db\n"), QS_EINVAL);
  assert_true(strncmp(err, "test.conf line 1: transport_url: ", 33) == 0);
  qs_config_dispose(&cfg);
}

static void sources_apply_in_order_file_env_flags(void **state) {
  (void)state;
  char path[64];
  write_temp(path, sizeof path,
             "heartbeat 10s\n"
             "dispatch_timeout 7s\n"
             "idle_timeout 8s\n"
             "cors_origins https://file.example\n"
             "publish_origins https://file.example\n");
  char *env[] = {"QUICKSILVER_DISPATCH_TIMEOUT=20s", "QUICKSILVER_IDLE_TIMEOUT=21s",
                 "QUICKSILVER_CORS_ORIGINS=https://env.example", NULL};
  const char *args[] = {"--idle_timeout",
                        "30s",
                        "--config",
                        path,
                        "--cors-origins=https://flag1.example",
                        "--cors_origins",
                        "https://flag2.example,https://flag3.example"};
  qs_config_t cfg;
  int rc = load(&cfg, env, ARGC(args), args);
  unlink(path);
  if (rc) print_error("%s\n", err);
  assert_int_equal(rc, 0);
  assert_string_equal(cfg.config_path, path);
  assert_int_equal(cfg.heartbeat_ms, 10000);        /* file */
  assert_int_equal(cfg.dispatch_timeout_ms, 20000); /* env over file */
  assert_int_equal(cfg.idle_timeout_ms, 30000);     /* flag over env, though given before --config */
  /* A later source replaces a list; flags repeated within one source append. */
  assert_int_equal(cfg.cors_origins.count, 3);
  assert_string_equal(cfg.cors_origins.items[0], "https://flag1.example");
  assert_string_equal(cfg.cors_origins.items[1], "https://flag2.example");
  assert_string_equal(cfg.cors_origins.items[2], "https://flag3.example");
  assert_int_equal(cfg.publish_origins.count, 1);
  assert_string_equal(cfg.publish_origins.items[0], "https://file.example");
  qs_config_dispose(&cfg);
}

static void flags_forms_for_booleans_and_values(void **state) {
  (void)state;
  char *env[] = {"QUICKSILVER_UI=true", "QUICKSILVER_SUBSCRIPTIONS=1", NULL};
  const char *args[] = {
      "--anonymous", "--no-ui", "--no_subscriptions", "--workers=4",     "--max-matchers",  "7",
      "--log_level", "warn",    "--write_timeout=0",  "--cors_origins=", "--history_size=0"};
  qs_config_t cfg;
  int rc = load(&cfg, env, ARGC(args), args);
  if (rc) print_error("%s\n", err);
  assert_int_equal(rc, 0);
  assert_true(cfg.anonymous);
  assert_false(cfg.ui);
  assert_false(cfg.subscriptions);
  assert_int_equal(cfg.workers, 4);
  assert_int_equal(cfg.max_matchers, 7);
  assert_int_equal(cfg.log_level, QS_LOG_WARN);
  assert_int_equal(cfg.write_timeout_ms, 0);
  assert_int_equal(cfg.cors_origins.count, 0);
  assert_int_equal(cfg.history_size, 0);
  qs_config_dispose(&cfg);

  const char *explicit_bool[] = {"--anonymous=false", "--ui=on"};
  assert_int_equal(load(&cfg, NULL, ARGC(explicit_bool), explicit_bool), 0);
  assert_false(cfg.anonymous);
  assert_true(cfg.ui);
  qs_config_dispose(&cfg);
}

static void flag_errors_are_precise(void **state) {
  (void)state;
  static const struct {
    const char *args[3];
    int argc;
    const char *error;
  } cases[] = {
      {{"--heartbeat", "x"}, 2, "--heartbeat: invalid duration 'x' (use e.g. 25s)"},
      {{"--heartbeat=25"}, 1, "--heartbeat: invalid duration '25' (use e.g. 25s)"},
      {{"--heartbeat"}, 1, "--heartbeat: missing value"},
      {{"--config"}, 1, "--config: missing value"},
      {{"--bogus", "1"}, 2, "--bogus: unknown option (see --help)"},
      {{"--no-workers"}, 1, "--no-workers: unknown option (see --help)"},
      {{"--no-ui=1"}, 1, "--no-ui: takes no value"},
      {{"stray"}, 1, "unexpected argument 'stray' (options start with --)"},
      {{"--tls_cert", "/c.pem"}, 2, "tls_cert and tls_key must be set together"},
      {{"--history_path="}, 1, "history_path: must not be empty with transport lmdb"},
      {{"--max_request_body_size", "0"}, 2, "--max_request_body_size: '0' is below the minimum 1"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    qs_config_t cfg;
    assert_int_equal(load(&cfg, NULL, cases[i].argc, cases[i].args), QS_EINVAL);
    assert_err(cases[i].error);
    qs_config_dispose(&cfg);
  }
}

static void help_and_version_skip_every_source(void **state) {
  (void)state;
  char *env[] = {"QUICKSILVER_HEARTBEAT=broken", NULL};
  const char *args[] = {"--bogus", "--config", "/nonexistent", "--help"};
  qs_config_t cfg;
  assert_int_equal(load(&cfg, env, ARGC(args), args), 0);
  assert_true(cfg.help_requested);
  assert_false(cfg.version_requested);
  qs_config_dispose(&cfg);

  const char *version[] = {"--version"};
  assert_int_equal(load(&cfg, env, ARGC(version), version), 0);
  assert_true(cfg.version_requested);
  qs_config_dispose(&cfg);
}

static void secrets_are_never_shown(void **state) {
  (void)state;
  const char *args[] = {"--publisher_jwt", "TOPSECRET", "--subscriber_jwt=OTHERSECRET"};
  qs_config_t cfg;
  assert_int_equal(load(&cfg, NULL, ARGC(args), args), 0);
  qs_buf_t out;
  qs_buf_init(&out, 1 << 20);
  assert_int_equal(qs_config_dump(&cfg, &out), 0);
  assert_null(strstr(out.ptr, "TOPSECRET"));
  assert_null(strstr(out.ptr, "OTHERSECRET"));
  assert_non_null(strstr(out.ptr, " publisher_jwt=<set>"));
  assert_non_null(strstr(out.ptr, " subscriber_jwt=<set>"));
  assert_non_null(strstr(out.ptr, " heartbeat=25s"));
  assert_non_null(strstr(out.ptr, " lmdb_map_size=2GiB"));
  assert_non_null(strstr(out.ptr, " hub_url=\"\""));
  assert_non_null(strstr(out.ptr, "Network: listen=localhost:3000"));
  qs_buf_dispose(&out);
  qs_config_dispose(&cfg);
}

static void durations_parse(void **state) {
  (void)state;
  static const struct {
    const char *text;
    uint64_t ms;
  } good[] = {{"0", 0},           {"25s", 25000}, {"500ms", 500},   {"10m", 600000},  {"1h", 3600000},
              {"1h30m", 5400000}, {"1.5s", 1500}, {"2ms", 2},       {"1d", 86400000}, {"1500us", 2},
              {"1ns", 1},         {"0s", 0},      {"0.25m", 15000}, {"1m0.5s", 60500}};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    uint64_t ms = 12345;
    if (qs_config_parse_duration(good[i].text, &ms) != 0) print_error("refused '%s'\n", good[i].text);
    assert_int_equal(qs_config_parse_duration(good[i].text, &ms), 0);
    if (ms != good[i].ms) print_error("'%s' gave %llu\n", good[i].text, (unsigned long long)ms);
    assert_int_equal(ms, good[i].ms);
  }
  static const char *const bad[] = {"",  "x",   "25",   "-5s", "5 s", "5sec",
                                    "s", "5s ", "1.s5", ".s",  "5S",  "99999999999999999999h"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint64_t ms;
    if (qs_config_parse_duration(bad[i], &ms) == 0) print_error("accepted '%s'\n", bad[i]);
    assert_int_equal(qs_config_parse_duration(bad[i], &ms), QS_EINVAL);
  }
}

static void sizes_parse(void **state) {
  (void)state;
  static const struct {
    const char *text;
    uint64_t bytes;
  } good[] = {
      {"4096", 4096},     {"0", 0},         {"1MiB", 1048576},         {"512KB", 512000}, {"512kb", 512000},
      {"1 MiB", 1048576}, {"16KiB", 16384}, {"2GiB", 2147483648ull},   {"1.5KiB", 1536},  {"10B", 10},
      {"1k", 1000},       {"1Mi", 1048576}, {"1TiB", 1099511627776ull}};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    uint64_t v = 12345;
    if (qs_config_parse_size(good[i].text, &v) != 0) print_error("refused '%s'\n", good[i].text);
    assert_int_equal(qs_config_parse_size(good[i].text, &v), 0);
    if (v != good[i].bytes) print_error("'%s' gave %llu\n", good[i].text, (unsigned long long)v);
    assert_int_equal(v, good[i].bytes);
  }
  static const char *const bad[] = {
      "", "MiB", "-1", "1XB", "1 MiB extra", "1MiBs", "99999999999999999999", "20000000TiB"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint64_t v;
    if (qs_config_parse_size(bad[i], &v) == 0) print_error("accepted '%s'\n", bad[i]);
    assert_int_equal(qs_config_parse_size(bad[i], &v), QS_EINVAL);
  }
}

static void list_items_are_split_and_validated(void **state) {
  (void)state;
  qs_config_t cfg;
  assert_int_equal(qs_config_init_defaults(&cfg), 0);
  assert_int_equal(parse(&cfg, "cors_origins * null,http://[::1]:8000 ,, https://x.example:443"), 0);
  assert_int_equal(cfg.cors_origins.count, 4);
  assert_string_equal(cfg.cors_origins.items[0], "*");
  assert_string_equal(cfg.cors_origins.items[1], "null");
  assert_string_equal(cfg.cors_origins.items[2], "http://[::1]:8000");
  assert_string_equal(cfg.cors_origins.items[3], "https://x.example:443");
  /* A quoted value is one item, commas included. */
  assert_int_equal(parse(&cfg, "publish_origins \"https://a.example,x\""), 0);
  assert_int_equal(cfg.publish_origins.count, 1);
  assert_string_equal(cfg.publish_origins.items[0], "https://a.example,x");
  /* A second parse is a new source: it replaces the list. */
  assert_int_equal(parse(&cfg, "cors_origins https://y.example"), 0);
  assert_int_equal(cfg.cors_origins.count, 1);
  assert_string_equal(cfg.cors_origins.items[0], "https://y.example");
  assert_int_equal(parse(&cfg, "cors_origins ftp:/x"), QS_EINVAL);
  assert_err(
      "test.conf line 1: cors_origins: invalid item 'ftp:/x': use scheme://host[:port], `null` or `*`");
  qs_config_dispose(&cfg);
}

static void hub_url_is_derived_from_listen(void **state) {
  (void)state;
  static const struct {
    const char *args[4];
    int argc;
    uint16_t bound_port;
    const char *url;
  } cases[] = {
      {{0}, 0, 0, "http://localhost:3000/.well-known/mercure"},
      {{"--listen", ":0"}, 2, 41234, "http://localhost:41234/.well-known/mercure"},
      {{"--listen", "0.0.0.0:80"}, 2, 0, "http://localhost:80/.well-known/mercure"},
      {{"--listen", "[::1]:8443", "--tls_cert=c.pem", "--tls_key=k.pem"},
       4,
       0,
       "https://[::1]:8443/.well-known/mercure"},
      {{"--listen", "hub.local:3000", "--hub_url", "https://example.com/.well-known/mercure"},
       4,
       0,
       "https://example.com/.well-known/mercure"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    qs_config_t cfg;
    int rc = load(&cfg, NULL, cases[i].argc, cases[i].args);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
    qs_buf_t url;
    qs_buf_init(&url, 1024);
    assert_int_equal(qs_config_hub_url(&cfg, cases[i].bound_port, &url), 0);
    assert_string_equal(url.ptr, cases[i].url);
    qs_buf_dispose(&url);
    qs_config_dispose(&cfg);
  }
}

static void table_rows_are_well_formed(void **state) {
  (void)state;
  size_t count;
  const qs_config_option_t *opts = qs_config_options(&count);
  assert_int_equal(count, 61);
  for (size_t i = 0; i < count; i++) {
    assert_non_null(opts[i].name);
    assert_non_null(opts[i].help);
    assert_non_null(opts[i].section);
    assert_non_null(opts[i].default_value);
    assert_true(opts[i].offset < offsetof(qs_config_t, config_path));
    assert_ptr_equal(qs_config_find_option(opts[i].name), &opts[i]);
    for (size_t j = 0; j < i; j++) {
      if (opts[j].offset == opts[i].offset)
        print_error("%s and %s share a field\n", opts[j].name, opts[i].name);
      assert_true(opts[j].offset != opts[i].offset);
    }
    if (opts[i].type == QS_OPT_ENUM) assert_non_null(opts[i].choices);
    if (opts[i].companion) assert_non_null(qs_config_find_option(opts[i].companion));
  }
  assert_null(qs_config_find_option("jwt_key"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(defaults_match_the_documented_values),
      cmocka_unit_test(load_without_sources_gives_defaults),
      cmocka_unit_test(file_parses_comments_quotes_and_lists),
      cmocka_unit_test(file_errors_name_the_line),
      cmocka_unit_test(file_with_a_nul_byte_is_refused),
      cmocka_unit_test(missing_config_file_is_an_error),
      cmocka_unit_test(environment_overrides_defaults_and_aliases_apply),
      cmocka_unit_test(environment_errors_name_the_variable),
      cmocka_unit_test(transport_url_means_redis_and_yields_to_our_options),
      cmocka_unit_test(transport_url_refuses_other_schemes_and_says_why),
      cmocka_unit_test(sources_apply_in_order_file_env_flags),
      cmocka_unit_test(flags_forms_for_booleans_and_values),
      cmocka_unit_test(flag_errors_are_precise),
      cmocka_unit_test(help_and_version_skip_every_source),
      cmocka_unit_test(secrets_are_never_shown),
      cmocka_unit_test(durations_parse),
      cmocka_unit_test(sizes_parse),
      cmocka_unit_test(list_items_are_split_and_validated),
      cmocka_unit_test(hub_url_is_derived_from_listen),
      cmocka_unit_test(table_rows_are_well_formed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
