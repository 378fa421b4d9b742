/* The options table: the single source for the loaders, --help and the docs. */
#include <stddef.h>
#include <string.h>

#include "config/config.h"
#include "config/config_internal.h"

#define OFF(field) offsetof(qs_config_t, field)

/* Enum fields are written through an int pointer; the enums must be int-sized. */
_Static_assert(sizeof(qs_config_transport_t) == sizeof(int), "enum size");
_Static_assert(sizeof(qs_config_durability_t) == sizeof(int), "enum size");
_Static_assert(sizeof(qs_log_level_t) == sizeof(int), "enum size");
_Static_assert(QS_LOG_DEBUG == 0 && QS_LOG_OFF == 4, "log_level choices follow qs_log_level_t");

static const char *const transport_choices[] = {"memory", "lmdb", "redis", NULL};
static const char *const durability_choices[] = {"sync", "async", NULL};
static const char *const log_level_choices[] = {"debug", "info", "warn", "error", "off", NULL};
_Static_assert(sizeof(qs_log_format_t) == sizeof(int), "enum size");
_Static_assert(QS_LOG_FORMAT_TEXT == 0 && QS_LOG_FORMAT_JSON == 1,
               "log_format choices follow qs_log_format_t");
static const char *const log_format_choices[] = {"text", "json", NULL};
static const char *const jwt_alg_choices[] = {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256",
                                              "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA", NULL};

#define S_NETWORK "Network"
#define S_AUTH "Authorization"
#define S_CORS "CORS"
#define S_TIMEOUTS "Timeouts"
#define S_LIMITS "Limits"
#define S_HISTORY "History"
#define S_FEATURES "Features and logging"

#define KIB 1024LL
#define MIB (1024LL * 1024)

static const qs_config_option_t options[] = {
    /* Network */
    {.name = "listen",
     .section = S_NETWORK,
     .type = QS_OPT_STRING,
     .offset = OFF(listen),
     .default_value = "localhost:3000",
     .metavar = "HOST:PORT",
     .validate = qs_config_check_listen,
     .help = "Address and port to listen on; an IPv6 host goes in brackets ([::1]:3000), an empty host "
             "(:3000) means every interface and port 0 picks a free port."},
    {.name = "admin_listen",
     .section = S_NETWORK,
     .type = QS_OPT_STRING,
     .offset = OFF(admin_listen),
     .default_value = "",
     .metavar = "HOST:PORT",
     .validate = qs_config_check_admin_listen,
     .help = "Address and port of the operator's endpoints, /healthz, /readyz and /metrics, which the "
             "public address then no longer serves (plain HTTP; keep it private, e.g. 127.0.0.1:9090). "
             "It keeps answering while the hub drains, so /readyz shows the drain. Its port must "
             "differ from listen's. Empty serves them on listen."},
    {.name = "workers",
     .section = S_NETWORK,
     .type = QS_OPT_INT,
     .offset = OFF(workers),
     .default_value = "0",
     .max = 1024,
     .help = "Worker threads, each running one event loop; 0 means one per core."},
    {.name = "hub_url",
     .section = S_NETWORK,
     .type = QS_OPT_STRING,
     .offset = OFF(hub_url),
     .default_value = "",
     .metavar = "URL",
     .validate = qs_config_check_http_url,
     .help = "Public URL of the hub, the base of relative topics and URL patterns and of the reserved "
             "namespace. Empty means `http://<listen>/.well-known/mercure` (https with tls_cert)."},
    {.name = "tls_cert",
     .section = S_NETWORK,
     .type = QS_OPT_STRING,
     .offset = OFF(tls_cert),
     .default_value = "",
     .metavar = "FILE",
     .help = "PEM certificate, then its chain, for HTTPS (TLS 1.2 and 1.3; HTTP/2 through ALPN, else "
             "HTTP/1.1); needs tls_key. Read again on SIGHUP. Empty means plain HTTP (HTTP/1.1, and HTTP/2 "
             "with prior knowledge)."},
    {.name = "tls_key",
     .section = S_NETWORK,
     .type = QS_OPT_STRING,
     .offset = OFF(tls_key),
     .default_value = "",
     .metavar = "FILE",
     .help = "PEM private key (not encrypted) matching tls_cert; needs tls_cert. Read again on SIGHUP."},

    /* Authorization */
    {.name = "anonymous",
     .section = S_AUTH,
     .type = QS_OPT_BOOL,
     .offset = OFF(anonymous),
     .default_value = "false",
     .help = "Allow subscribers without a token; they receive public updates only."},
    {.name = "publisher_jwt",
     .section = S_AUTH,
     .type = QS_OPT_STRING,
     .offset = OFF(publisher_jwt),
     .default_value = "",
     .metavar = "KEY",
     .env_alias = "MERCURE_PUBLISHER_JWT_KEY",
     .companion = "publisher_jwt_alg",
     .flags = QS_OPT_SECRET,
     .help = "Key that verifies publisher tokens: an HMAC secret, a PEM public key or certificate, a "
             "JWK, or `@FILE` to read one of them from FILE. Tokens signed with it may use the legacy "
             "`mercure` claim. In the file, `publisher_jwt KEY ALG` also sets the algorithm. Empty (and "
             "no publisher_jwks_url nor issuer) means the hub starts with a development key, which it "
             "prints."},
    {.name = "publisher_jwt_alg",
     .section = S_AUTH,
     .type = QS_OPT_STRING,
     .offset = OFF(publisher_jwt_alg),
     .default_value = "HS256",
     .metavar = "ALG",
     .env_alias = "MERCURE_PUBLISHER_JWT_ALG",
     .choices = jwt_alg_choices,
     .help = "Signature algorithm of publisher tokens; a PEM key or a JWK needs one that fits it (RS*, "
             "PS*, ES* or EdDSA)."},
    {.name = "subscriber_jwt",
     .section = S_AUTH,
     .type = QS_OPT_STRING,
     .offset = OFF(subscriber_jwt),
     .default_value = "",
     .metavar = "KEY",
     .env_alias = "MERCURE_SUBSCRIBER_JWT_KEY",
     .companion = "subscriber_jwt_alg",
     .flags = QS_OPT_SECRET,
     .help = "Key that verifies subscriber tokens, in the forms publisher_jwt takes. Tokens signed "
             "with it may use the legacy `mercure` claim. In the file, `subscriber_jwt KEY ALG` also "
             "sets the algorithm. Empty means the publisher key."},
    {.name = "subscriber_jwt_alg",
     .section = S_AUTH,
     .type = QS_OPT_STRING,
     .offset = OFF(subscriber_jwt_alg),
     .default_value = "HS256",
     .metavar = "ALG",
     .env_alias = "MERCURE_SUBSCRIBER_JWT_ALG",
     .choices = jwt_alg_choices,
     .help = "Signature algorithm of subscriber tokens; a PEM key needs one that is not HS*."},
    {.name = "resource_identifier",
     .section = S_AUTH,
     .type = QS_OPT_STRING,
     .offset = OFF(resource_identifier),
     .default_value = "",
     .metavar = "URL",
     .validate = qs_config_check_http_url,
     .help = "Expected `aud` of draft-08 tokens and the `resource` of the protected resource metadata. "
             "Empty means the hub URL."},
    {.name = "cookie_name",
     .section = S_AUTH,
     .type = QS_OPT_STRING,
     .offset = OFF(cookie_name),
     .default_value = "__Secure-mercure_access_token",
     .metavar = "NAME",
     .validate = qs_config_check_cookie_name,
     .help = "Name of the authorization cookie. The legacy `mercureAuthorization` cookie is always "
             "accepted too."},

    {.name = "publisher_jwks_url",
     .section = S_AUTH,
     .type = QS_OPT_STRING,
     .offset = OFF(publisher_jwks_url),
     .default_value = "",
     .metavar = "URL",
     .validate = qs_config_check_jwks_url,
     .help = "JWK Set (http://, https:// or file://) whose keys verify publisher tokens, like "
             "publisher_jwt (legacy tokens accepted); the token's `kid` picks the key. Fetched in the "
             "background and refreshed (see jwks_refresh_interval). Replaces publisher_jwt."},
    {.name = "subscriber_jwks_url",
     .section = S_AUTH,
     .type = QS_OPT_STRING,
     .offset = OFF(subscriber_jwks_url),
     .default_value = "",
     .metavar = "URL",
     .validate = qs_config_check_jwks_url,
     .help = "JWK Set whose keys verify subscriber tokens, like subscriber_jwt. Replaces subscriber_jwt."},
    {.name = "issuer",
     .section = S_AUTH,
     .type = QS_OPT_LIST,
     .offset = OFF(issuers),
     .default_value = "",
     .metavar = "ID;SETTING=VALUE;...",
     .validate = qs_config_check_issuer,
     .flags = QS_OPT_SECRET,
     .help = "A trusted token issuer and its keys, one item per issuer (repeat the directive or the "
             "flag, or separate items with commas). A token whose `iss` is ID is verified with this "
             "issuer's keys only, under the full draft-08 rules (`typ` at+jwt, `exp`, `aud` = "
             "resource_identifier); the keys of publisher_jwt and subscriber_jwt keep verifying the "
             "tokens of any other issuer, legacy ones included. Settings, separated by `;`: "
             "`publisher_jwt=KEY`, `publisher_jwt_alg=ALG`, `publisher_jwks_url=URL`, the same three "
             "with `subscriber_`, `jwt=KEY`, `jwt_alg=ALG` and `jwks_url=URL` for both roles, and "
             "`authorization_server` to list ID in the protected resource metadata. A role left out "
             "accepts no token of this issuer. KEY is an HMAC secret (ALG defaults to HS256), a PEM "
             "public key or certificate (ALG required), a JWK (its `alg` is the default), or `@FILE` to "
             "read any of them from FILE, the way to pass PEM keys, JWKs and secrets containing `;` or "
             "`,`. Examples: `issuer https://idp.example;jwt=@/etc/idp.pem;jwt_alg=ES256` in the file, "
             "`--issuer 'https://idp.example;jwks_url=https://idp.example/jwks'`."},
    {.name = "jwks_refresh_interval",
     .section = S_AUTH,
     .type = QS_OPT_DURATION,
     .offset = OFF(jwks_refresh_interval_ms),
     .default_value = "10m",
     .min = 1000,
     .help = "How often JWK Sets are fetched again. A failed fetch keeps the last good keys; a fetch that "
             "changes the set makes every token verified before it be verified again, so a withdrawn key "
             "stops working at once."},
    {.name = "jwks_unknown_kid_interval",
     .section = S_AUTH,
     .type = QS_OPT_DURATION,
     .offset = OFF(jwks_unknown_kid_interval_ms),
     .default_value = "30s",
     .min = 100,
     .help = "A token naming a `kid` missing from its JWK Set triggers a fetch (for key rotation), at "
             "most once per this interval; the token itself is refused."},

    /* CORS */
    {.name = "cors_origins",
     .section = S_CORS,
     .type = QS_OPT_LIST,
     .offset = OFF(cors_origins),
     .default_value = "",
     .metavar = "ORIGIN,...",
     .validate = qs_config_check_origin,
     .help = "Origins allowed to use the hub from a browser (scheme://host[:port], `null` or `*`). `*` "
             "allows every origin but disables credentials. Empty means no CORS headers."},
    {.name = "publish_origins",
     .section = S_CORS,
     .type = QS_OPT_LIST,
     .offset = OFF(publish_origins),
     .default_value = "",
     .metavar = "ORIGIN,...",
     .help = "Origins allowed to publish with cookie authentication (`*` allows all)."},

    /* Timeouts */
    {.name = "heartbeat",
     .section = S_TIMEOUTS,
     .type = QS_OPT_DURATION,
     .offset = OFF(heartbeat_ms),
     .default_value = "25s",
     .help = "Send an SSE comment after this much silence on a subscription, so proxies keep it "
             "open; 0 turns it off."},
    {.name = "write_timeout",
     .section = S_TIMEOUTS,
     .type = QS_OPT_DURATION,
     .offset = OFF(write_timeout_ms),
     .default_value = "0",
     .help = "Maximum lifetime of a subscription connection; clients reconnect with their last event "
             "id. 0 turns it off."},
    {.name = "dispatch_timeout",
     .section = S_TIMEOUTS,
     .type = QS_OPT_DURATION,
     .offset = OFF(dispatch_timeout_ms),
     .default_value = "5s",
     .help = "Disconnect a subscriber whose pending writes make no progress for this long; 0 turns it "
             "off."},
    {.name = "coalesce_max_delay",
     .section = S_TIMEOUTS,
     .type = QS_OPT_DURATION,
     .offset = OFF(coalesce_max_delay_ms),
     .default_value = "5ms",
     .max = 100,
     .help = "Longest a worker holds events back to write several at once when it is saturated: "
             "when writing each update's fan-out takes longer than the gap to the next update, "
             "events to one connection gather for up to this long and leave in one write (fewer "
             "TCP segments and system calls per delivery). At low load every event leaves at once "
             "and nothing waits. Answers to publishes are never held. Rounded up to whole "
             "milliseconds; 0 turns it off."},
    {.name = "drain_timeout",
     .section = S_TIMEOUTS,
     .type = QS_OPT_DURATION,
     .offset = OFF(drain_timeout_ms),
     .default_value = "5s",
     .help = "On SIGTERM, the hub stops accepting connections, answers /readyz with 503 and ends its "
             "event streams progressively over this long (evenly spread), so that subscribers "
             "reconnect elsewhere with their last event id rather than all at once; publishes in "
             "progress are answered. Then it stops. 0 ends every stream at once (as SIGINT does)."},
    {.name = "header_read_timeout",
     .section = S_TIMEOUTS,
     .type = QS_OPT_DURATION,
     .offset = OFF(header_read_timeout_ms),
     .default_value = "10s",
     .min = 1,
     .help = "Time allowed to receive a whole request (headers and body; over HTTP/2 each stream's "
             "request, and the TLS handshake on a new connection), counted from the accept or the "
             "request's first byte; a late one is answered 408 and closed."},
    {.name = "idle_timeout",
     .section = S_TIMEOUTS,
     .type = QS_OPT_DURATION,
     .offset = OFF(idle_timeout_ms),
     .default_value = "60s",
     .min = 1,
     .help = "Close a keep-alive connection (or an HTTP/2 connection without streams) with no request "
             "in progress after this long; also the longest an answer may wait for the client to read "
             "it. Event streams have no such limit (heartbeats and dispatch_timeout look after them)."},

    /* Limits */
    {.name = "max_request_body_size",
     .section = S_LIMITS,
     .type = QS_OPT_SIZE,
     .offset = OFF(max_request_body_bytes),
     .default_value = "1MiB",
     .min = 1,
     .help = "Largest request body (a publish); a larger one is answered 413."},
    {.name = "max_header_size",
     .section = S_LIMITS,
     .type = QS_OPT_SIZE,
     .offset = OFF(max_header_bytes),
     .default_value = "16KiB",
     .min = 1 * KIB,
     .help = "Largest request line plus headers; a larger one is answered 431."},
    {.name = "fanout_backlog",
     .section = S_LIMITS,
     .type = QS_OPT_INT,
     .offset = OFF(fanout_backlog),
     .default_value = "16",
     .max = 1000000,
     .help = "Most updates with a large fan-out (64 or more subscribers on a worker) that one "
             "worker may have left to write when a publish is answered, the publish's own included, "
             "on top of one per other publish in flight: past it, the answer (200) waits until the "
             "workers have written them, so that a publisher going flat out to a large audience "
             "stays that close to what subscribers have been sent instead of queueing updates "
             "behind each other. The update itself is durable and delivered either way; "
             "subscribers that do not read (a full socket) do not count, small fan-outs never wait, "
             "and no answer waits more than 1 s. A publisher that pipelines many requests per "
             "connection gets fewer events per write from it: raise it, or 0 turns it off. Not "
             "applied with transport redis."},
    {.name = "max_topics_per_update",
     .section = S_LIMITS,
     .type = QS_OPT_INT,
     .offset = OFF(max_topics_per_update),
     .default_value = "100",
     .min = 1,
     .help = "Most topics one publish may name."},
    {.name = "max_matchers",
     .section = S_LIMITS,
     .type = QS_OPT_INT,
     .offset = OFF(max_matchers),
     .default_value = "100",
     .min = 1,
     .help = "Most topic matchers (match, match_urlpattern, topic) one subscription may give."},
    {.name = "max_pattern_length",
     .section = S_LIMITS,
     .type = QS_OPT_SIZE,
     .offset = OFF(max_pattern_bytes),
     .default_value = "4096",
     .min = 1,
     .help = "Longest topic or topic matcher, in bytes."},
    {.name = "max_token_size",
     .section = S_LIMITS,
     .type = QS_OPT_SIZE,
     .offset = OFF(max_token_bytes),
     .default_value = "8192",
     .min = 256,
     .help = "Longest JWT accepted, in bytes."},
    {.name = "max_field_size",
     .section = S_LIMITS,
     .type = QS_OPT_SIZE,
     .offset = OFF(max_field_bytes),
     .default_value = "1024",
     .min = 1,
     .help = "Longest `id`, `type` or `retry` field of a publish, in bytes."},
    {.name = "subscriber_queue_limit",
     .section = S_LIMITS,
     .type = QS_OPT_SIZE,
     .offset = OFF(subscriber_queue_max_bytes),
     .default_value = "4MiB",
     .min = 1 * KIB,
     .help = "Bytes queued for a slow subscriber past which it is disconnected (it can resume with its "
             "last event id)."},
    {.name = "max_connections",
     .section = S_LIMITS,
     .type = QS_OPT_INT,
     .offset = OFF(max_connections),
     .default_value = "15000",
     .min = 1,
     .help = "Most open client connections; further ones are refused."},
    {.name = "max_connections_per_client",
     .section = S_LIMITS,
     .type = QS_OPT_INT,
     .offset = OFF(max_connections_per_client),
     .default_value = "0",
     .help = "Most open connections from one client address (answered 429 past it); 0 means no limit."},
    {.name = "max_connections_per_subject",
     .section = S_LIMITS,
     .type = QS_OPT_INT,
     .offset = OFF(max_connections_per_subject),
     .default_value = "0",
     .help = "Most concurrent subscriptions of one token subject (its `iss` and `sub`), answered 429 "
             "past it; a token without `sub` counts as its own subject. 0 means no limit. Counted per "
             "process: with `transport redis` each node counts its own."},

    /* History */
    {.name = "transport",
     .section = S_HISTORY,
     .type = QS_OPT_ENUM,
     .offset = OFF(transport),
     .default_value = "lmdb",
     .choices = transport_choices,
     .help = "History store and ordering: `lmdb` (durable, on disk), `memory` (lost on restart), or "
             "`redis` (one Redis Stream shared by several nodes, which then act as one hub; see "
             "docs/cluster.md)."},
    {.name = "history_path",
     .section = S_HISTORY,
     .type = QS_OPT_STRING,
     .offset = OFF(history_path),
     .default_value = "./var/quicksilver.lmdb",
     .metavar = "PATH",
     .help = "Where the LMDB history lives."},
    {.name = "history_size",
     .section = S_HISTORY,
     .type = QS_OPT_INT,
     .offset = OFF(history_size),
     .default_value = "100000",
     .help = "Updates kept for reconnection; 0 means unbounded (other limits still apply)."},
    {.name = "history_max_bytes",
     .section = S_HISTORY,
     .type = QS_OPT_SIZE,
     .offset = OFF(history_max_bytes),
     .default_value = "1GiB",
     .min = 1,
     .help = "Most bytes of updates kept; the oldest are dropped first."},
    {.name = "history_max_age",
     .section = S_HISTORY,
     .type = QS_OPT_DURATION,
     .offset = OFF(history_max_age_ms),
     .default_value = "0",
     .help = "Drop updates older than this; 0 keeps them regardless of age."},
    {.name = "lmdb_map_size",
     .section = S_HISTORY,
     .type = QS_OPT_SIZE,
     .offset = OFF(lmdb_map_bytes),
     .default_value = "2GiB",
     .min = 1 * MIB,
     .help = "Size of the LMDB memory map, the hard ceiling of the history file."},
    {.name = "commit_interval",
     .section = S_HISTORY,
     .type = QS_OPT_DURATION,
     .offset = OFF(commit_interval_ms),
     .default_value = "0",
     .help = "Longest wait to group publishes into one history commit; 0 commits as soon as the "
             "writer is free (publishes that arrive during a commit form the next one)."},
    {.name = "commit_max_updates",
     .section = S_HISTORY,
     .type = QS_OPT_INT,
     .offset = OFF(commit_max_updates),
     .default_value = "1000",
     .min = 1,
     .help = "Most updates in one history commit."},
    {.name = "durability",
     .section = S_HISTORY,
     .type = QS_OPT_ENUM,
     .offset = OFF(durability),
     .default_value = "sync",
     .choices = durability_choices,
     .help = "`sync` answers a publish after its history commit (it survives a crash); `async` answers "
             "before. With `transport redis` a publish is always answered after Redis stored it."},
    {.name = "redis_url",
     .section = S_HISTORY,
     .type = QS_OPT_STRING,
     .offset = OFF(redis_url),
     .default_value = "redis://127.0.0.1:6379",
     .metavar = "URL",
     .flags = QS_OPT_SECRET,
     .help = "Redis for `transport redis`: `redis://[[user]:password@]host[:port][/db]` or "
             "`unix:/path/to/socket[?db=N]` (no TLS). Percent-escape `@`, `:` and `%` in the password."},
    {.name = "redis_stream",
     .section = S_HISTORY,
     .type = QS_OPT_STRING,
     .offset = OFF(redis_stream),
     .default_value = "mercure",
     .metavar = "KEY",
     .help = "Key of the Redis Stream every node shares (its id index is `KEY:ids`, its size `KEY:bytes`); "
             "history_size, history_max_bytes and history_max_age trim it."},
    {.name = "redis_wait_replicas",
     .section = S_HISTORY,
     .type = QS_OPT_INT,
     .offset = OFF(redis_wait_replicas),
     .default_value = "0",
     .max = 100,
     .help = "Replicas that must have a publish (Redis WAIT) before it is answered 200; 0 means the "
             "primary's reply is enough."},
    {.name = "redis_wait_timeout",
     .section = S_HISTORY,
     .type = QS_OPT_DURATION,
     .offset = OFF(redis_wait_timeout_ms),
     .default_value = "1s",
     .min = 1,
     .help = "Longest wait for redis_wait_replicas; a publish not replicated in time is answered 503."},
    {.name = "redis_sentinels",
     .section = S_HISTORY,
     .type = QS_OPT_STRING,
     .offset = OFF(redis_sentinels),
     .default_value = "",
     .metavar = "HOST:PORT,...",
     .help = "Redis Sentinel for `transport redis`: the sentinels to ask where the primary of "
             "redis_master_name is (port 26379 when omitted, IPv6 in brackets, at most 16). The node "
             "follows a failover (`+switch-master`, and asking again whenever the primary fails) and "
             "reads the stream on from where it was; redis_url then gives only the password and the "
             "database. Empty: Redis is redis_url's host."},
    {.name = "redis_master_name",
     .section = S_HISTORY,
     .type = QS_OPT_STRING,
     .offset = OFF(redis_master_name),
     .default_value = "mymaster",
     .metavar = "NAME",
     .help = "Name under which the sentinels of redis_sentinels monitor the Redis primary."},
    {.name = "redis_sentinel_password",
     .section = S_HISTORY,
     .type = QS_OPT_STRING,
     .offset = OFF(redis_sentinel_password),
     .default_value = "",
     .metavar = "PASSWORD",
     .flags = QS_OPT_SECRET,
     .help = "Password of the sentinels of redis_sentinels (their `requirepass`), sent with AUTH on "
             "every sentinel connection. Empty: the sentinels ask for none. The primary's own "
             "password is redis_url's."},
    {.name = "transport_url",
     .section = S_HISTORY,
     .type = QS_OPT_STRING,
     .offset = OFF(transport_url),
     .default_value = "",
     .metavar = "URL",
     .env_alias = "MERCURE_TRANSPORT_URL",
     .validate = qs_config_check_transport_url,
     .flags = QS_OPT_SECRET,
     .help = "The reference hub's way to name its transport, read for compatibility: a "
             "`redis://[[user]:password@]host[:port][/db]` URL means `transport redis` with that URL as "
             "redis_url. A redis_url set anywhere wins over it, and a transport other than redis set "
             "anywhere is an error. Other schemes are refused with the option to use instead (`bolt://` "
             "is lmdb, `local://` is memory). Empty: not used."},

    /* Features and logging */
    {.name = "subscriptions",
     .section = S_FEATURES,
     .type = QS_OPT_BOOL,
     .offset = OFF(subscriptions),
     .default_value = "false",
     .help = "Publish subscription events and serve the active subscriptions API."},
    {.name = "topic_matcher_cache",
     .section = S_FEATURES,
     .type = QS_OPT_INT,
     .offset = OFF(topic_matcher_cache),
     .default_value = "100000",
     .help = "Entries of the (matcher, topic) result cache; 0 turns it off."},
    {.name = "ui",
     .section = S_FEATURES,
     .type = QS_OPT_BOOL,
     .offset = OFF(ui),
     .default_value = "true",
     .help = "Serve the operator's panel at `/` (live charts from /metrics, the active subscriptions, a box "
             "that explains a token with this hub's keys through POST /panel/token) and forms to subscribe "
             "and publish."},
    {.name = "log_level",
     .section = S_FEATURES,
     .type = QS_OPT_ENUM,
     .offset = OFF(log_level),
     .default_value = "info",
     .choices = log_level_choices,
     .help = "Least severe log level written."},
    {.name = "log_format",
     .section = S_FEATURES,
     .type = QS_OPT_ENUM,
     .offset = OFF(log_format),
     .default_value = "text",
     .choices = log_format_choices,
     .help = "Log lines as text (`time level message key=value...`) or as one JSON object per line "
             "(`time`, `level`, `message`, and `fields` such as remote, status, reason, topics, "
             "subscriber). At info, publishes and subscription starts and ends are logged (an access "
             "log); tokens, cookies and update data never are."},
};

_Static_assert(sizeof options / sizeof options[0] <= QS_CONFIG_MAX_OPTIONS,
               "qs_config_t.set_rows needs a bit per row: raise QS_CONFIG_MAX_OPTIONS");

const qs_config_option_t *qs_config_options(size_t *count) {
  *count = sizeof options / sizeof options[0];
  return options;
}

const qs_config_option_t *qs_config_find_option(const char *name) {
  for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
    const char *a = options[i].name, *b = name;
    while (*a && (*a == *b || (*a == '_' && *b == '-'))) a++, b++;
    if (*a == '\0' && *b == '\0') return &options[i];
  }
  return NULL;
}
