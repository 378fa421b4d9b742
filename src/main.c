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

static void print_dev_banner(const qs_keys_t *keys, const char *hub_url) {
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
  fprintf(stderr,
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
  static qs_keys_t keys; /* static: large */
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
  qs_keys_dispose(&keys);
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

static int serve(qs_config_t *cfg) {
  char err[256];
  /* Checked before anything is opened, so that a refusal leaves nothing behind. */
  char admin_host[256];
  int admin_port = 0;
  if (cfg->admin_listen[0]) {
    if (split_listen(cfg->admin_listen, admin_host, sizeof admin_host, &admin_port) != 0) {
      QS_LOG_ERROR("admin_listen: cannot read '%s' (use host:port)", cfg->admin_listen);
      return 1;
    }
    /* Every server binds with SO_REUSEPORT: the same port would share connections. */
    char public_host[256];
    int public_port = 0;
    if (split_listen(cfg->listen, public_host, sizeof public_host, &public_port) == 0 && admin_port != 0 &&
        admin_port == public_port) {
      QS_LOG_ERROR("admin_listen: port %d is also listen's; give the admin endpoints a port of their own",
                   public_port);
      return 1;
    }
  }
  static qs_keys_t keys; /* static: large, and reachable until disposed */
  if (qs_keys_resolve(cfg, &keys, err, sizeof err) != 0) {
    QS_LOG_ERROR("%s", err);
    return 1;
  }
  if (cfg->transport == QS_TRANSPORT_LMDB && mkdir_parents(cfg->history_path) != 0) {
    QS_LOG_ERROR("cannot create the folder of history_path %s: %s", cfg->history_path, strerror(errno));
    return 1;
  }
  qs_hub_settings_t settings = {.heartbeat_ms = (int64_t)cfg->heartbeat_ms,
                                .max_queued_bytes = cfg->subscriber_queue_max_bytes,
                                /* replay is paced well below the hard limit */
                                .replay_queued_bytes = cfg->subscriber_queue_max_bytes / 4,
                                .max_lifetime_ms = (int64_t)cfg->write_timeout_ms,
                                .topic_matcher_cache_entries = (size_t)cfg->topic_matcher_cache,
                                .dispatch_timeout_ms = (int64_t)cfg->dispatch_timeout_ms};
  /* Active subscriptions (draft §Active Subscriptions): the registry is the hub's hook. */
  qs_subscriptions_t *subscriptions = NULL;
  if (cfg->subscriptions) {
    qs_buf_t url;
    qs_buf_init(&url, 4096);
    int src = qs_config_hub_url(cfg, 0, &url);
    if (src == 0) src = qs_subscriptions_create(url.ptr, &subscriptions);
    qs_buf_dispose(&url);
    if (src) {
      QS_LOG_ERROR("subscriptions: %s", qs_strerror(src));
      return 1;
    }
    settings.on_subscription = qs_subscriptions_on_subscription;
    settings.on_subscription_ctx = subscriptions;
    /* Several nodes: the API lists every node's subscriptions. */
    if (cfg->transport == QS_TRANSPORT_REDIS) qs_subscriptions_share(subscriptions);
  }
  qs_hub_t *hub = NULL;
  int rc = qs_hub_create(&settings, open_store, cfg, &hub);
  if (rc) {
    if (cfg->transport == QS_TRANSPORT_REDIS)
      QS_LOG_ERROR("cannot start the redis transport (stream %s): %s", cfg->redis_stream, qs_strerror(rc));
    else
      QS_LOG_ERROR("cannot open the history (%s at %s): %s",
                   cfg->transport == QS_TRANSPORT_LMDB ? "lmdb" : "memory", cfg->history_path,
                   qs_strerror(rc));
    qs_subscriptions_destroy(subscriptions);
    return 1;
  }
  /* Ids keep their time order across restarts, even if the clock went back. */
  qs_store_stats_t history;
  qs_store_stats(qs_hub_store(hub), &history);
  qs_uuid_v7_floor(history.last_created_ms);
  /* With a shared transport the subscriptions of the history may be other
   * nodes' live ones: those of a gone node are ended by the node that sees
   * its heartbeat stop (docs/cluster.md). */
  if (subscriptions && cfg->transport == QS_TRANSPORT_REDIS &&
      (rc = qs_subscriptions_watch_nodes(subscriptions, hub)) != 0)
    QS_LOG_ERROR("subscriptions: no node heartbeat: %s", qs_strerror(rc));
  rc = 0;
  if (subscriptions && cfg->transport != QS_TRANSPORT_REDIS) {
    /* Subscriptions a previous run left active end now (subscriptions.h). */
    size_t ended = 0;
    rc = qs_subscriptions_recover(subscriptions, hub, &ended);
    if (rc)
      QS_LOG_ERROR("subscriptions: cannot end those of the previous run: %s", qs_strerror(rc));
    else if (ended)
      QS_LOG_INFO("subscriptions: %zu left active by the previous run marked inactive", ended);
    rc = 0;
  }
  char host[256];
  int port;
  if (split_listen(cfg->listen, host, sizeof host, &port) != 0) {
    QS_LOG_ERROR("listen: cannot read '%s' (use host:port)", cfg->listen);
    return 1;
  }
  worker_count = cfg->workers > 0 ? (size_t)cfg->workers : (size_t)uv_available_parallelism();
  if (worker_count > MAX_WORKERS) worker_count = MAX_WORKERS;
  qs_api_t *api = NULL;
  if (qs_api_create(cfg, hub, &api) != 0) {
    qs_hub_destroy(hub);
    qs_subscriptions_destroy(subscriptions);
    return 1;
  }
  if (cfg->tls_cert[0]) {
    const char *reason = "out of memory";
    if (qs_tls_context_create(cfg->tls_cert, cfg->tls_key, &tls_context, &reason) != 0) {
      QS_LOG_ERROR("HTTPS: %s", reason);
      qs_api_destroy(api);
      qs_hub_destroy(hub);
      qs_subscriptions_destroy(subscriptions);
      return 1;
    }
    qs_api_use_tls(api, tls_context);
  }
  const char *reason = NULL;
  size_t started = 0;
  for (; started < worker_count; started++) {
    worker_t *w = &workers[started];
    uv_loop_init(&w->loop);
    uv_async_init(&w->loop, &w->stop, on_stop);
    w->stop.data = w;
    rc = qs_api_worker_start(api, &w->loop, host, port, &w->api_worker);
    if (rc) {
      QS_LOG_ERROR("cannot listen on %s: %s", cfg->listen, qs_strerror(rc));
      break;
    }
    if (started == 0) {
      port = qs_api_worker_port(w->api_worker); /* the others share the port chosen for :0 */
      rc = qs_api_ready(api, port, keys.publisher, keys.publisher_count, keys.subscriber,
                        keys.subscriber_count, &reason);
      qs_keys_dispose(&keys); /* the verifier holds its own copies */
      if (rc) {
        QS_LOG_ERROR("configuration refused: %s", reason ? reason : qs_strerror(rc));
        started++;
        break;
      }
      if (cfg->admin_listen[0] &&
          (rc = qs_api_worker_serve_admin(w->api_worker, admin_host, admin_port)) != 0) {
        QS_LOG_ERROR("cannot listen on admin_listen %s: %s", cfg->admin_listen, qs_strerror(rc));
        started++;
        break;
      }
    }
  }
  if (rc) {
    /* Nothing serves yet: close what was started, on this thread, and leave. */
    for (size_t i = 0; i <= started && i < worker_count; i++) {
      if (workers[i].api_worker)
        qs_api_worker_close(workers[i].api_worker, on_worker_closed, &workers[i]);
      else
        uv_close((uv_handle_t *)&workers[i].stop, NULL);
      uv_run(&workers[i].loop, UV_RUN_DEFAULT);
      uv_loop_close(&workers[i].loop);
    }
    qs_api_destroy(api);
    qs_tls_context_destroy(tls_context);
    qs_hub_destroy(hub);
    qs_subscriptions_destroy(subscriptions);
    return 1;
  }
  qs_buf_t dump;
  qs_buf_init(&dump, 16384);
  if (qs_config_dump(cfg, &dump) == 0) QS_LOG_INFO("settings:\n%s", dump.ptr);
  qs_buf_dispose(&dump);
  if (keys.dev_secret[0]) print_dev_banner(&keys, qs_api_hub_url(api));
  QS_LOG_INFO("quicksilver %s listening on %s:%d (hub %s, %zu workers)", QS_VERSION, host, port,
              qs_api_hub_url(api), worker_count);
  if (cfg->admin_listen[0])
    QS_LOG_INFO("admin endpoints (/healthz, /readyz, /metrics) at http://%s:%d/", admin_host,
                qs_api_worker_admin_port(workers[0].api_worker));

  uv_loop_t main_loop;
  uv_loop_init(&main_loop);
  uv_signal_init(&main_loop, &sigint);
  uv_signal_init(&main_loop, &sigterm);
  uv_signal_init(&main_loop, &sighup);
  sighup.data = api;
  sigterm.data = cfg;
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
  qs_api_destroy(api);
  qs_tls_context_destroy(tls_context);
  qs_hub_destroy(hub);
  qs_subscriptions_destroy(subscriptions);
  QS_LOG_INFO("stopped");
  return 0;
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
