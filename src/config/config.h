/* The hub's settings. One declarative table of options (config.c) feeds the
 * defaults, the configuration file, the environment, the command-line flags,
 * `--help` and docs/configuration.md. Sources are applied in this order, a
 * later one overriding an earlier one:
 *
 *   defaults < configuration file (--config FILE) < environment < flags
 *
 * Option names are the reference hub's directive spellings (snake_case). */
#ifndef QS_CONFIG_CONFIG_H
#define QS_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/slice.h"

/* A list of strings. `items` and every string in it are owned by the
 * configuration that holds the list; `items` is NULL when `count` is 0. */
typedef struct {
  char **items;
  size_t count;
} qs_config_list_t;

/* Most rows the options table may have (qs_config_t.set_rows holds a bit each). */
#define QS_CONFIG_MAX_OPTIONS 128

/* Where history is kept (option `transport`). */
typedef enum { QS_TRANSPORT_MEMORY = 0, QS_TRANSPORT_LMDB = 1, QS_TRANSPORT_REDIS = 2 } qs_config_transport_t;

/* When a publish is answered (option `durability`): after the history commit
 * (sync) or as soon as the update is sequenced (async). */
typedef enum { QS_DURABILITY_SYNC = 0, QS_DURABILITY_ASYNC = 1 } qs_config_durability_t;

/* Every setting. Strings are heap copies owned by the configuration and are
 * never NULL after qs_config_init_defaults (an unset string is ""); durations
 * are in milliseconds, sizes in bytes. Free with qs_config_dispose. */
typedef struct {
  /* Network */
  char *listen;       /* host:port, [v6]:port or :port; port 0 picks a free one */
  char *admin_listen; /* like listen, for /healthz, /readyz and /metrics; "" = on listen */
  int64_t workers;    /* 0 = one per core */
  char *hub_url;      /* "" = derived from listen (qs_config_hub_url) */
  char *tls_cert;     /* PEM file path, "" = plain HTTP */
  char *tls_key;      /* PEM file path, "" = plain HTTP */

  /* Authorization */
  bool anonymous;
  char *publisher_jwt; /* secret: never log it */
  char *publisher_jwt_alg;
  char *subscriber_jwt; /* secret: never log it */
  char *subscriber_jwt_alg;
  char *resource_identifier; /* "" = the hub URL */
  char *cookie_name;
  char *publisher_jwks_url;  /* legacy-role JWK Set URL, "" = none */
  char *subscriber_jwks_url; /* legacy-role JWK Set URL, "" = none */
  qs_config_list_t issuers;  /* option `issuer`: qs_config_issuer_parse() reads each item; secret */
  uint64_t jwks_refresh_interval_ms;
  uint64_t jwks_unknown_kid_interval_ms;

  /* CORS */
  qs_config_list_t cors_origins;
  qs_config_list_t publish_origins;

  /* Timeouts (0 = off unless said otherwise) */
  uint64_t heartbeat_ms;
  uint64_t write_timeout_ms;
  uint64_t dispatch_timeout_ms;
  uint64_t coalesce_max_delay_ms;
  uint64_t drain_timeout_ms;
  uint64_t header_read_timeout_ms;
  uint64_t idle_timeout_ms;

  /* Limits */
  uint64_t max_request_body_bytes;
  uint64_t max_header_bytes;
  int64_t fanout_backlog; /* updates; 0 = answers never wait for the fan-out */
  int64_t max_topics_per_update;
  int64_t max_matchers;
  uint64_t max_pattern_bytes;
  uint64_t max_token_bytes;
  uint64_t max_field_bytes;
  uint64_t subscriber_queue_max_bytes;
  int64_t max_connections;
  int64_t max_connections_per_client;  /* 0 = no limit */
  int64_t max_connections_per_subject; /* 0 = no limit */

  /* History */
  qs_config_transport_t transport;
  char *history_path;
  int64_t history_size; /* updates kept, 0 = unbounded */
  uint64_t history_max_bytes;
  uint64_t history_max_age_ms; /* 0 = no age limit */
  uint64_t lmdb_map_bytes;
  uint64_t commit_interval_ms;
  int64_t commit_max_updates;
  qs_config_durability_t durability;
  char *redis_url;    /* transport redis: where Redis is (may hold a password: never log it) */
  char *redis_stream; /* the stream's key */
  int64_t redis_wait_replicas;
  uint64_t redis_wait_timeout_ms;
  char *redis_sentinels;         /* transport redis: "host:port,..." ("" = redis_url's host is the primary) */
  char *redis_master_name;       /* the primary's name at the sentinels */
  char *redis_sentinel_password; /* AUTH on sentinel connections; "" = none */
  char *transport_url; /* the reference hub's spelling of transport + redis_url (see qs_config_load) */

  /* Features and logging */
  bool subscriptions;
  int64_t topic_matcher_cache; /* entries, 0 = no cache */
  bool ui;
  qs_log_level_t log_level;
  qs_log_format_t log_format;

  /* Set by the command line only (not options of the table). */
  char *config_path;      /* --config FILE, NULL when not given */
  bool help_requested;    /* --help or -h was given */
  bool version_requested; /* --version was given */

  /* Which table rows a source (file, environment, flag) set, one bit per row
   * in table order: the rules between options tell a default from a choice. */
  uint64_t set_rows[QS_CONFIG_MAX_OPTIONS / 64];
} qs_config_t;

/* The kinds of values an option takes. */
typedef enum {
  QS_OPT_BOOL,     /* bool: true/false, on/off, yes/no, 1/0 */
  QS_OPT_INT,      /* int64_t, within [min, max] */
  QS_OPT_SIZE,     /* uint64_t bytes: 4096, 512KB, 1MiB, 1.5GiB */
  QS_OPT_DURATION, /* uint64_t milliseconds: 0, 500ms, 25s, 10m, 1h30m */
  QS_OPT_STRING,   /* char *, optionally restricted to `choices` */
  QS_OPT_LIST,     /* qs_config_list_t */
  QS_OPT_ENUM,     /* an enum field holding the index of the value in `choices` */
} qs_config_type_t;

/* Option flags. */
enum {
  QS_OPT_SECRET = 1u << 0, /* the value is a key: never printed or echoed in errors */
};

/* One row of the options table. Everything it points to is static. */
typedef struct {
  const char *name;           /* directive and flag name (snake_case) */
  const char *section;        /* heading in --help and the docs */
  qs_config_type_t type;      /* how values are parsed */
  size_t offset;              /* offsetof the field in qs_config_t */
  const char *default_value;  /* in the syntax users write; parsed like user input */
  const char *help;           /* one or two sentences */
  const char *metavar;        /* placeholder in --help, NULL for the type's own */
  const char *env_alias;      /* another environment variable, or NULL */
  const char *companion;      /* option set by an optional 2nd value in the file, or NULL */
  const char *const *choices; /* NULL-terminated allowed values (ENUM, some STRING), or NULL */
  int64_t min, max;           /* bounds for INT, SIZE and DURATION (ms); max 0 = none */
  unsigned flags;             /* QS_OPT_* flags */
  /* Extra check of a STRING or LIST item; returns NULL when fine, else a static reason. */
  const char *(*validate)(const char *value);
} qs_config_option_t;

/* The options table, `*count` rows. Static; valid for the life of the process. */
const qs_config_option_t *qs_config_options(size_t *count);

/* The row for `name` (underscores or dashes), or NULL. Static. */
const qs_config_option_t *qs_config_find_option(const char *name);

/* Sets every option to its default and clears the command-line fields.
 * Returns 0 or QS_ENOMEM; on failure the configuration may be disposed. */
int qs_config_init_defaults(qs_config_t *cfg);

/* Frees every string and list the configuration owns. Idempotent: the
 * configuration may be disposed again or initialized again. */
void qs_config_dispose(qs_config_t *cfg);

/* Initializes `cfg` with the defaults, then applies the configuration file
 * named by `--config` (if any), the environment `environ_like` (a
 * NULL-terminated array of "NAME=value" strings, borrowed for the call; NULL
 * means none) and the flags `argv[1..argc-1]`. Environment variables are
 * QUICKSILVER_<NAME> plus each option's alias; an empty variable counts as
 * unset. Then `transport_url` (the reference hub's MERCURE_TRANSPORT_URL) is
 * resolved: a redis:// URL means `transport redis` and is the redis_url unless
 * a source set redis_url itself (redis_url wins); a source that set transport
 * to another value contradicts it (an error). When --help or --version is present, sets help_requested or
 * version_requested and returns 0 without reading the file, the environment or
 * the other flags. Returns 0, QS_EINVAL with a one-line reason in `err` (NUL
 * terminated, truncated to `errlen`), or QS_ENOMEM. `cfg` always needs
 * qs_config_dispose afterwards, success or not. */
int qs_config_load(qs_config_t *cfg, int argc, char **argv, char **environ_like, char *err, size_t errlen);

/* Applies configuration-file text (text[0..len), need not be NUL-terminated)
 * to an initialized configuration: one directive per line, `name value...`,
 * `#` starts a comment at the start of a word, "double quotes" (with \" and
 * \\) or `backticks` (raw) hold values with spaces. A list directive given
 * more than once appends; the first occurrence replaces what earlier sources
 * set. `origin` (e.g. the file name) prefixes error messages:
 * "<origin> line 3: unknown directive 'foo'". Returns 0, QS_EINVAL with `err`
 * set, or QS_ENOMEM. */
int qs_config_parse_text(qs_config_t *cfg, const char *text, size_t len, const char *origin, char *err,
                         size_t errlen);

/* Reads the file at `path` (at most 1 MiB) and applies it as
 * qs_config_parse_text does. Returns 0, QS_EINVAL (unreadable or invalid, `err`
 * set) or QS_ENOMEM. */
int qs_config_load_file(qs_config_t *cfg, const char *path, char *err, size_t errlen);

/* Parses a duration: "0", or one or more <number><unit> with units ns, us, ms,
 * s, m, h, d (e.g. 25s, 500ms, 1h30m, 1.5s). Sub-millisecond remainders round
 * up. Returns 0 with *out_ms set, or QS_EINVAL. */
int qs_config_parse_duration(const char *s, uint64_t *out_ms);

/* Parses a size: a number with an optional unit, case-insensitive, with an
 * optional space: B, KB/K (1000), KiB/Ki (1024), MB, MiB, GB, GiB, TB, TiB
 * (e.g. 4096, 512KB, 1MiB, 1.5GiB). Returns 0 with *out set, or QS_EINVAL. */
int qs_config_parse_size(const char *s, uint64_t *out);

/* Writes the --help text, generated from the table, to `out`. */
void qs_config_print_help(FILE *out);

/* Writes the Markdown reference (the content of docs/configuration.md),
 * generated from the table, to `out`. */
void qs_config_write_markdown(FILE *out);

/* Writes the manual page quicksilver(1) in roff (the content of
 * docs/quicksilver.1), generated from the table, to `out`. */
void qs_config_write_man(FILE *out);

/* Writes the example configuration file (the content of docs/quicksilver.conf,
 * installed as /etc/quicksilver/quicksilver.conf), generated from the table, to
 * `out`: every option commented out at its default, except history_path, which
 * names /var/lib/quicksilver. */
void qs_config_write_example(FILE *out);

/* Appends the effective settings for the start-up log to `out`: one line per
 * section, "section: name=value name=value...\n". Keys are masked ("<set>" or
 * ""). Returns 0 or a qs_buf_append error. */
int qs_config_dump(const qs_config_t *cfg, qs_buf_t *out);

/* One item of the `issuer` option:
 *   ID;name=value;name=value...[;authorization_server]
 * with names publisher_jwt, publisher_jwt_alg, publisher_jwks_url,
 * subscriber_jwt, subscriber_jwt_alg, subscriber_jwks_url, and jwt, jwt_alg,
 * jwks_url for both roles. Every slice is borrowed from the item; an absent
 * value is empty. A key may be "@FILE". */
typedef struct {
  qs_slice_t id;
  qs_slice_t publisher_jwt, publisher_jwt_alg, publisher_jwks_url;
  qs_slice_t subscriber_jwt, subscriber_jwt_alg, subscriber_jwks_url;
  bool authorization_server; /* listed in the metadata's authorization_servers */
} qs_config_issuer_t;

/* Parses one `issuer` item (NUL-terminated, borrowed by `out`). Returns 0,
 * or QS_EINVAL with `*reason` set to a static explanation that never
 * contains key bytes: empty id, unknown name, a role with both a key and a
 * JWKS URL, an issuer with no role, an unknown algorithm, a JWKS URL that is
 * not http(s):// or file://. */
int qs_config_issuer_parse(const char *item, qs_config_issuer_t *out, const char **reason);

/* Appends the hub's public URL to `out`: hub_url when set, else
 * "<scheme>://<host>:<port>/.well-known/mercure" derived from listen (https
 * when tls_cert is set; an empty or wildcard host becomes localhost).
 * `bound_port` replaces the configured port when not 0 (for `listen :0`).
 * Returns 0 or a qs_buf_append error. */
int qs_config_hub_url(const qs_config_t *cfg, uint16_t bound_port, qs_buf_t *out);

#endif
