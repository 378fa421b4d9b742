/* Process start: configuration, keys, history, workers, signals. The only
 * place with process-wide state. */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "api/api.h"
#include "auth/jwk.h"
#include "auth/mint.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/log.h"
#include "base/uuid.h"
#include "config/config.h"
#include "hub/subscriptions.h"
#include "keys.h"
#include "net/tls.h"
#include "service_notify.h"
#include "store/redis.h"
#include "token_command.h"
#include "version_info.h"

extern char **environ;

#define MAX_WORKERS 64

typedef struct {
  uv_loop_t loop;
  uv_async_t stop;
  pthread_t thread;
  qs_api_worker_t *api_worker;
} worker_t;

static worker_t workers[MAX_WORKERS];
static size_t worker_count;

/* ---- History ---- */

static int open_store(void *arg, qs_store_on_durable_fn on_durable, void *ctx, qs_store_t **out) {
  const qs_config_t *cfg = arg;
  qs_store_retention_t retention = {.max_count = (uint64_t)cfg->history_size,
                                    .max_bytes = cfg->history_max_bytes,
                                    .max_age_ms = (int64_t)cfg->history_max_age_ms};
  if (cfg->transport == QS_TRANSPORT_MEMORY) return qs_store_memory_create(&retention, on_durable, ctx, out);
  if (cfg->transport == QS_TRANSPORT_REDIS) {
    qs_redis_settings_t redis = {.url = cfg->redis_url,
                                 .stream = cfg->redis_stream,
                                 .retention = retention,
                                 .wait_replicas = (uint32_t)cfg->redis_wait_replicas,
                                 .wait_timeout_ms = (uint32_t)cfg->redis_wait_timeout_ms,
                                 .sentinels = cfg->redis_sentinels,
                                 .master_name = cfg->redis_master_name,
                                 .sentinel_password = cfg->redis_sentinel_password,
                                 .start_timeout_ms = 5000};
    return qs_store_redis_create(&redis, on_durable, ctx, out);
  }
  qs_store_group_commit_t group = {.flush_interval_ms = (uint32_t)cfg->commit_interval_ms,
                                   .max_batch = (uint32_t)cfg->commit_max_updates};
  qs_store_durability_t durability =
      cfg->durability == QS_DURABILITY_ASYNC ? QS_STORE_DURABILITY_ASYNC : QS_STORE_DURABILITY_SYNC;
  return qs_store_lmdb_create(cfg->history_path, cfg->lmdb_map_bytes, &retention, &group, durability,
                              on_durable, ctx, out);
}

/* ---- Keys (keys.c) ---- */

static void print_dev_banner(const qs_key_set_t *keys, const char *hub_url, bool json) {
  qs_slice_t all = qs_slice_from_cstr("*");
  qs_token_spec_t spec = {.format = QS_TOKEN_FORMAT_LEGACY,
                          .alg = QS_JWT_HS256,
                          .secret = qs_slice_from_cstr(keys->dev_secret),
                          .lifetime_s = 24 * 3600};
  qs_buf_t publisher, subscriber;
  qs_buf_init(&publisher, 4096);
  qs_buf_init(&subscriber, 4096);
  spec.publish = &all;
  spec.publish_count = 1;
  qs_token_mint(&spec, &publisher);
  spec.publish_count = 0;
  spec.subscribe = &all;
  spec.subscribe_count = 1;
  qs_token_mint(&spec, &subscriber);
  if (json) {
    /* log_format json: every line of stderr is a JSON object, the banner too
     * (its values become fields). The tokens are the point of it. */
    QS_LOG_WARN(
        "no key configured: using a development key for this run only (HS256, tokens valid 24 h); set "
        "publisher_jwt / subscriber_jwt for real use development_key=%s publisher_token=%s "
        "subscriber_token=%s hub=%s",
        keys->dev_secret, publisher.ptr, subscriber.ptr, hub_url);
  } else {
    fprintf(
        stderr,
        "\nNo key configured: using a development key for this run only (HS256, valid 24 h tokens below).\n"
        "Set publisher_jwt / subscriber_jwt (or MERCURE_PUBLISHER_JWT_KEY / MERCURE_SUBSCRIBER_JWT_KEY) "
        "for real use.\n\n"
        "  development key:   %s\n"
        "  publisher token:   %s\n"
        "  subscriber token:  %s\n\n"
        "Try it, in two terminals:\n"
        "  curl -N -H 'Authorization: Bearer %s' '%s?topic=https://example.com/books/1'\n"
        "  curl -H 'Authorization: Bearer %s' -d 'topic=https://example.com/books/1' -d "
        "'data={\"hello\":\"world\"}' "
        "-d private=on '%s'\n\n",
        keys->dev_secret, publisher.ptr, subscriber.ptr, subscriber.ptr, hub_url, publisher.ptr, hub_url);
  }
  qs_buf_dispose(&publisher);
  qs_buf_dispose(&subscriber);
}

/* ---- Workers and signals ---- */

static void on_worker_closed(void *ctx) {
  worker_t *w = ctx;
  w->api_worker = NULL;
  uv_close((uv_handle_t *)&w->stop, NULL);
}

/* SIGTERM drains over drain_timeout first; SIGINT stops at once. Set by
 * on_signal before it wakes the workers. */
static _Atomic uint64_t drain_ms;

static void on_drained(void *ctx) {
  worker_t *w = ctx;
  if (w->api_worker) qs_api_worker_close(w->api_worker, on_worker_closed, w);
}

static void on_stop(uv_async_t *handle) {
  worker_t *w = handle->data;
  if (w->api_worker) qs_api_worker_drain(w->api_worker, atomic_load(&drain_ms), on_drained, w);
}

static void *run_worker(void *arg) {
  worker_t *w = arg;
  uv_run(&w->loop, UV_RUN_DEFAULT);
  return NULL;
}

/* The main loop's signal handles; closing them all lets it end. */
static uv_signal_t sigint, sigterm, sighup;

static void on_signal(uv_signal_t *handle, int signum) {
  if (signum == SIGTERM) atomic_store(&drain_ms, ((const qs_config_t *)handle->data)->drain_timeout_ms);
  QS_LOG_INFO("%s received: shutting down gracefully (drain %llu ms)",
              signum == SIGINT ? "SIGINT" : "SIGTERM", (unsigned long long)atomic_load(&drain_ms));
  (void)qs_service_notify("STOPPING=1");
  for (size_t i = 0; i < worker_count; i++) uv_async_send(&workers[i].stop);
  uv_signal_t *all[] = {&sigint, &sigterm, &sighup};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++)
    if (!uv_is_closing((uv_handle_t *)all[i])) uv_close((uv_handle_t *)all[i], NULL);
}

/* The HTTPS certificate and key (tls_cert, tls_key), NULL for plain HTTP. */
static qs_tls_context_t *tls_context;

/* The command line, kept for SIGHUP: a reload reads the configuration
 * (file, environment, flags) again the way the process start did. */
static int saved_argc;
static char **saved_argv;

/* SIGHUP, for the certificate: new connections get the files' current
 * content; a failure keeps the current certificate. */
static void reload_certificate(const qs_config_t *fresh) {
  if (!tls_context) {
    if (fresh->tls_cert[0]) QS_LOG_WARN("SIGHUP: tls_cert is set, but turning HTTPS on needs a restart");
    return;
  }
  if (!fresh->tls_cert[0]) {
    QS_LOG_WARN("SIGHUP: tls_cert is empty, but turning HTTPS off needs a restart; keeping the certificate");
    return;
  }
  const char *reason = NULL;
  if (qs_tls_context_reload(tls_context, fresh->tls_cert, fresh->tls_key, &reason) != 0)
    QS_LOG_ERROR("SIGHUP: %s; keeping the current certificate", reason ? reason : "cannot load it");
  else
    QS_LOG_INFO("SIGHUP: certificate reloaded from %s", fresh->tls_cert);
}

/* SIGHUP: reads the configuration again, replaces the token verifier with
 * its keys (key files re-read, JWK Sets fetched again) and reloads the
 * certificate. Other settings need a restart. A configuration that does not
 * load, or keys or a certificate that do not work, leave the current ones
 * serving. */
static void reload(qs_api_t *api) {
  qs_config_t fresh;
  char err[512] = "";
  if (qs_config_load(&fresh, saved_argc, saved_argv, environ, err, sizeof err) != 0) {
    QS_LOG_ERROR("SIGHUP: the configuration does not load (%s); keeping the current keys", err);
    qs_config_dispose(&fresh);
    return;
  }
  reload_certificate(&fresh);
  static qs_key_set_t keys; /* static: large */
  if (!qs_keys_configured(&fresh)) {
    QS_LOG_WARN("SIGHUP: no key is configured; keeping the current keys");
  } else if (qs_keys_resolve(&fresh, &keys, err, sizeof err) != 0) {
    QS_LOG_ERROR("SIGHUP: %s; keeping the current keys", err);
  } else {
    const char *reason = NULL;
    int rc = qs_api_replace_keys(api, keys.publisher, keys.publisher_count, keys.subscriber,
                                 keys.subscriber_count, &reason);
    if (rc)
      QS_LOG_ERROR("SIGHUP: keys refused (%s); keeping the current keys", reason ? reason : qs_strerror(rc));
    else
      QS_LOG_INFO("SIGHUP: keys reloaded (%zu publisher, %zu subscriber); other settings apply at restart",
                  keys.publisher_count, keys.subscriber_count);
  }
  qs_key_set_dispose(&keys);
  qs_config_dispose(&fresh);
}

/* SIGHUP, reported to the service manager as a reload (RELOADING=1, then READY=1). */
static void on_reload(uv_signal_t *handle, int signum) {
  (void)signum;
  (void)qs_service_notify_reloading();
  reload(handle->data);
  (void)qs_service_notify("READY=1");
}

/* Splits "host:port", "[v6]:port" or ":port". */
static int split_listen(const char *listen, char *host, size_t host_len, int *port) {
  const char *colon = strrchr(listen, ':');
  if (!colon) return -1;
  const char *h = listen;
  size_t n = (size_t)(colon - listen);
  if (n >= 2 && h[0] == '[' && h[n - 1] == ']') h++, n -= 2;
  if (n >= host_len) return -1;
  memcpy(host, h, n);
  host[n] = '\0';
  if (n == 0) snprintf(host, host_len, "0.0.0.0");
  *port = atoi(colon + 1);
  return 0;
}

static int mkdir_parents(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0700) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  return 0;
}

/* What serve() opens, released in one place (close_process). */
typedef struct {
  const qs_config_t *cfg;
  char host[256], admin_host[256];
  int port, admin_port;
  qs_key_set_t keys;
  qs_subscriptions_t *subscriptions;
  qs_hub_t *hub;
  qs_api_t *api;
} process_t;

/* Reads listen and admin_listen before anything is opened, so that a refusal
 * leaves nothing behind; 0, or -1 after logging why. */
static int read_addresses(process_t *p) {
  const qs_config_t *cfg = p->cfg;
  if (split_listen(cfg->listen, p->host, sizeof p->host, &p->port) != 0) {
    QS_LOG_ERROR("listen: cannot read '%s' (use host:port)", cfg->listen);
    return -1;
  }
  if (!cfg->admin_listen[0]) return 0;
  if (split_listen(cfg->admin_listen, p->admin_host, sizeof p->admin_host, &p->admin_port) != 0) {
    QS_LOG_ERROR("admin_listen: cannot read '%s' (use host:port)", cfg->admin_listen);
    return -1;
  }
  /* Every server binds with SO_REUSEPORT: the same port would share connections. */
  if (p->admin_port != 0 && p->admin_port == p->port) {
    QS_LOG_ERROR("admin_listen: port %d is also listen's; give the admin endpoints a port of their own",
                 p->port);
    return -1;
  }
  return 0;
}

/* The subscriptions registry, the hub and its history; 0, or -1 after logging why. */
static int open_hub(process_t *p) {
  const qs_config_t *cfg = p->cfg;
  qs_hub_settings_t settings = {.heartbeat_ms = (int64_t)cfg->heartbeat_ms,
                                .max_queued_bytes = cfg->subscriber_queue_max_bytes,
                                /* replay is paced well below the hard limit */
                                .replay_queued_bytes = cfg->subscriber_queue_max_bytes / 4,
                                .max_lifetime_ms = (int64_t)cfg->write_timeout_ms,
                                .topic_matcher_cache_entries = (size_t)cfg->topic_matcher_cache,
                                .dispatch_timeout_ms = (int64_t)cfg->dispatch_timeout_ms,
                                .fanout_backlog = (uint32_t)cfg->fanout_backlog};
  /* Active subscriptions (draft §Active Subscriptions): the registry is the hub's hook. */
  if (cfg->subscriptions) {
    qs_buf_t url;
    qs_buf_init(&url, 4096);
    int rc = qs_config_hub_url(cfg, 0, &url);
    if (rc == 0) rc = qs_subscriptions_create(url.ptr, &p->subscriptions);
    qs_buf_dispose(&url);
    if (rc) {
      QS_LOG_ERROR("subscriptions: %s", qs_strerror(rc));
      return -1;
    }
    settings.on_subscription = qs_subscriptions_on_subscription;
    settings.on_subscription_ctx = p->subscriptions;
    settings.on_update = qs_subscriptions_on_update;
    settings.on_update_ctx = p->subscriptions;
    /* Several nodes: the API lists every node's subscriptions. */
    if (cfg->transport == QS_TRANSPORT_REDIS) qs_subscriptions_share(p->subscriptions);
  }
  if (cfg->transport == QS_TRANSPORT_LMDB && mkdir_parents(cfg->history_path) != 0) {
    QS_LOG_ERROR("cannot create the folder of history_path %s: %s", cfg->history_path, strerror(errno));
    return -1;
  }
  int rc = qs_hub_create(&settings, open_store, (void *)cfg, &p->hub);
  if (rc) {
    if (cfg->transport == QS_TRANSPORT_REDIS)
      QS_LOG_ERROR("cannot start the redis transport (stream %s): %s", cfg->redis_stream, qs_strerror(rc));
    else
      QS_LOG_ERROR("cannot open the history (%s at %s): %s",
                   cfg->transport == QS_TRANSPORT_LMDB ? "lmdb" : "memory", cfg->history_path,
                   qs_strerror(rc));
    return -1;
  }
  /* Ids keep their time order across restarts, even if the clock went back. */
  qs_store_stats_t history;
  qs_store_stats(qs_hub_store(p->hub), &history);
  qs_uuid_v7_floor(history.last_created_ms);
  /* With a shared transport the subscriptions of the history may be other
   * nodes' live ones: those of a gone node are ended by the node that sees
   * its heartbeat stop (docs/cluster.md). */
  if (p->subscriptions && cfg->transport == QS_TRANSPORT_REDIS &&
      (rc = qs_subscriptions_watch_nodes(p->subscriptions, p->hub)) != 0)
    QS_LOG_ERROR("subscriptions: no node heartbeat: %s", qs_strerror(rc));
  if (p->subscriptions && cfg->transport != QS_TRANSPORT_REDIS) {
    /* Subscriptions a previous run left active end now (subscriptions.h). */
    size_t ended = 0;
    rc = qs_subscriptions_recover(p->subscriptions, p->hub, &ended);
    if (rc)
      QS_LOG_ERROR("subscriptions: cannot end those of the previous run: %s", qs_strerror(rc));
    else if (ended)
      QS_LOG_INFO("subscriptions: %zu left active by the previous run marked inactive", ended);
  }
  return 0;
}

/* The API over the hub, with TLS when configured; 0, or -1 after logging why. */
static int open_api(process_t *p) {
  if (qs_api_create(p->cfg, p->hub, &p->api) != 0) return -1;
  if (!p->cfg->tls_cert[0]) return 0;
  const char *reason = "out of memory";
  if (qs_tls_context_create(p->cfg->tls_cert, p->cfg->tls_key, &tls_context, &reason) != 0) {
    QS_LOG_ERROR("HTTPS: %s", reason);
    return -1;
  }
  qs_api_use_tls(p->api, tls_context);
  return 0;
}

/* The first worker's listener fixes the port (for :0), hands the keys to the
 * verifier and serves the admin endpoints; 0 or a QS_E* code after logging why. */
static int ready_first_worker(process_t *p, worker_t *w) {
  p->port = qs_api_worker_port(w->api_worker); /* the others share the port chosen for :0 */
  const char *reason = NULL;
  int rc = qs_api_ready(p->api, p->port, p->keys.publisher, p->keys.publisher_count, p->keys.subscriber,
                        p->keys.subscriber_count, &reason);
  qs_key_set_dispose(&p->keys); /* the verifier holds its own copies */
  if (rc) {
    QS_LOG_ERROR("configuration refused: %s", reason ? reason : qs_strerror(rc));
    return rc;
  }
  if (p->cfg->admin_listen[0] &&
      (rc = qs_api_worker_serve_admin(w->api_worker, p->admin_host, p->admin_port)) != 0)
    QS_LOG_ERROR("cannot listen on admin_listen %s: %s", p->cfg->admin_listen, qs_strerror(rc));
  return rc;
}

/* Every worker's loop and listener; on failure what was started is closed
 * again on this thread. 0, or -1 after logging why. */
static int start_workers(process_t *p) {
  worker_count = p->cfg->workers > 0 ? (size_t)p->cfg->workers : (size_t)uv_available_parallelism();
  if (worker_count > MAX_WORKERS) worker_count = MAX_WORKERS;
  int rc = 0;
  size_t started = 0;
  for (; started < worker_count && rc == 0; started++) {
    worker_t *w = &workers[started];
    uv_loop_init(&w->loop);
    uv_async_init(&w->loop, &w->stop, on_stop);
    w->stop.data = w;
    rc = qs_api_worker_start(p->api, &w->loop, p->host, p->port, &w->api_worker);
    if (rc)
      QS_LOG_ERROR("cannot listen on %s: %s", p->cfg->listen, qs_strerror(rc));
    else if (started == 0)
      rc = ready_first_worker(p, w);
  }
  if (rc == 0) return 0;
  /* Nothing serves yet: close what was started and leave. */
  for (size_t i = 0; i < started; i++) {
    if (workers[i].api_worker)
      qs_api_worker_close(workers[i].api_worker, on_worker_closed, &workers[i]);
    else
      uv_close((uv_handle_t *)&workers[i].stop, NULL);
    uv_run(&workers[i].loop, UV_RUN_DEFAULT);
    uv_loop_close(&workers[i].loop);
  }
  return -1;
}

/* Says what serves where, then runs the workers until a signal stops them. */
static void run_until_stopped(process_t *p) {
  const qs_config_t *cfg = p->cfg;
  qs_buf_t dump;
  qs_buf_init(&dump, 16384);
  if (qs_config_dump(cfg, &dump) == 0) QS_LOG_INFO("settings:\n%s", dump.ptr);
  qs_buf_dispose(&dump);
  if (p->keys.dev_secret[0])
    print_dev_banner(&p->keys, qs_api_hub_url(p->api), cfg->log_format == QS_LOG_FORMAT_JSON);
  QS_LOG_INFO("quicksilver %s listening on %s:%d (hub %s, %zu workers)", QS_VERSION, p->host, p->port,
              qs_api_hub_url(p->api), worker_count);
  if (cfg->admin_listen[0])
    QS_LOG_INFO("admin endpoints (/healthz, /readyz, /metrics) at http://%s:%d/", p->admin_host,
                qs_api_worker_admin_port(workers[0].api_worker));

  uv_loop_t main_loop;
  uv_loop_init(&main_loop);
  uv_signal_init(&main_loop, &sigint);
  uv_signal_init(&main_loop, &sigterm);
  uv_signal_init(&main_loop, &sighup);
  sighup.data = p->api;
  sigterm.data = (void *)cfg;
  uv_signal_start(&sigint, on_signal, SIGINT);
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  uv_signal_start(&sighup, on_reload, SIGHUP);
  signal(SIGPIPE, SIG_IGN);
  for (size_t i = 0; i < worker_count; i++) pthread_create(&workers[i].thread, NULL, run_worker, &workers[i]);
  if (qs_service_notify("READY=1") != 0)
    QS_LOG_WARN("NOTIFY_SOCKET is set, but the readiness message cannot be sent");
  uv_run(&main_loop, UV_RUN_DEFAULT);
  for (size_t i = 0; i < worker_count; i++) {
    pthread_join(workers[i].thread, NULL);
    uv_loop_close(&workers[i].loop);
  }
  uv_loop_close(&main_loop);
}

/* Releases whatever serve() opened, in reverse order; each part may be absent. */
static void close_process(process_t *p) {
  qs_api_destroy(p->api);
  qs_tls_context_destroy(tls_context);
  qs_hub_destroy(p->hub);
  qs_subscriptions_destroy(p->subscriptions);
  qs_key_set_dispose(&p->keys);
}

static int serve(qs_config_t *cfg) {
  static process_t p; /* static: large (the keys), and reachable until closed */
  p.cfg = cfg;
  char err[256];
  int status = 1;
  if (read_addresses(&p) != 0) return 1;
  if (qs_keys_resolve(cfg, &p.keys, err, sizeof err) != 0) {
    QS_LOG_ERROR("%s", err);
  } else if (open_hub(&p) == 0 && open_api(&p) == 0 && start_workers(&p) == 0) {
    run_until_stopped(&p);
    status = 0;
  }
  close_process(&p);
  if (status == 0) QS_LOG_INFO("stopped");
  return status;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "token") == 0) return qs_token_command(argc - 1, argv + 1, environ);
  saved_argc = argc;
  saved_argv = argv;
  qs_config_t cfg;
  char err[512] = "";
  int rc = qs_config_load(&cfg, argc, argv, environ, err, sizeof err);
  int status = 0;
  if (rc != 0) {
    fprintf(stderr, "quicksilver: %s\nRun 'quicksilver --help' for the options.\n",
            err[0] ? err : qs_strerror(rc));
    status = 2;
  } else if (cfg.help_requested) {
    qs_config_print_help(stdout);
    printf(
        "\nSubcommands:\n  quicksilver token [--help] ...   mint a token for development and scripts\n"
        "  quicksilver token inspect ... TOKEN|-   explain why this hub accepts or refuses a token\n");
    printf(
        "\nSignals:\n  SIGTERM           drain, then stop: /readyz answers 503, no new connections, event\n"
        "                    streams end cleanly spread over drain_timeout, publishes are answered\n"
        "  SIGINT            stop gracefully at once (streams end cleanly, publishes are answered)\n"
        "                    a second SIGTERM or SIGINT ends the process at once\n"
        "  SIGHUP            reload the keys: configuration read again, key files re-read,\n"
        "                    JWK Sets fetched again (other settings apply at the next start)\n");
  } else if (cfg.version_requested) {
    qs_version_info_print(stdout);
  } else {
    qs_log_set_level(cfg.log_level);
    qs_log_set_format(cfg.log_format);
    status = serve(&cfg);
  }
  qs_config_dispose(&cfg);
  return status;
}
