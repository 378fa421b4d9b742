/* The endpoints: the only layer that joins HTTP, authorization and the hub,
 * and the only one that chooses HTTP status codes.
 *
 * One qs_api_t per process (read-only once created, shared by every worker
 * thread); one qs_api_worker_t per worker loop, holding that loop's HTTP
 * server and hub shard. */
#ifndef QS_API_API_H
#define QS_API_API_H

#include <uv.h>

#include "auth/auth.h"
#include "config/config.h"
#include "hub/hub.h"

typedef struct qs_api qs_api_t;
typedef struct qs_api_worker qs_api_worker_t;

/* Creates the endpoints' shared state (the connection limits hold across
 * every worker). `config` and `hub` are borrowed and must outlive the api.
 * Workers may then be started; no request is served before qs_api_ready.
 * Returns 0 or QS_ENOMEM. */
int qs_api_create(const qs_config_t *config, qs_hub_t *hub, qs_api_t **out);

/* Completes the api once the first worker is bound to `bound_port` (which a
 * `listen` port of 0 makes known only then): derives the hub URL and the
 * metadata URL, builds the CORS allowlist and the token verifier from the
 * given keys (copied), expecting the hub URL as `aud` unless
 * `resource_identifier` is set. Call before any loop runs. Returns 0,
 * QS_EINVAL with `*reason` (a static explanation) for an unusable setting or
 * key, or QS_ENOMEM. */
int qs_api_ready(qs_api_t *api, int bound_port, const qs_auth_key_config_t *publisher_keys,
                 size_t publisher_key_count, const qs_auth_key_config_t *subscriber_keys,
                 size_t subscriber_key_count, const char **reason);

/* Replaces the token verifier with one built from the given keys (copied),
 * for a reload (SIGHUP): requests verified from then on use the new keys;
 * tokens already verified (open streams) keep their grants. Call after
 * qs_api_ready, from any thread but a worker's (it waits for requests in
 * progress and for the old verifier's JWKS fetches to stop). Returns 0, or
 * QS_EINVAL with `*reason` / QS_ENOMEM, the old keys then staying. */
int qs_api_replace_keys(qs_api_t *api, const qs_auth_key_config_t *publisher_keys, size_t publisher_key_count,
                        const qs_auth_key_config_t *subscriber_keys, size_t subscriber_key_count,
                        const char **reason);

/* Frees the shared state (and its verifier); every worker must have closed. */
void qs_api_destroy(qs_api_t *api);

/* The hub's public URL (e.g. "http://localhost:3000/.well-known/mercure"). */
const char *qs_api_hub_url(const qs_api_t *api);

struct qs_tls_context;

/* Makes the workers started from now on serve HTTPS with `tls` (net/tls.h;
 * borrowed: it must outlive the api). Call before qs_api_worker_start. */
void qs_api_use_tls(qs_api_t *api, struct qs_tls_context *tls);

/* Starts serving on `loop` (call on the loop's thread or before it runs):
 * creates the loop's hub shard and an HTTP server on host:port (SO_REUSEPORT,
 * so every worker listens on the same address). Returns 0 or the error of the
 * server or the shard. */
int qs_api_worker_start(qs_api_t *api, uv_loop_t *loop, const char *host, int port, qs_api_worker_t **out);

/* The bound port of the worker's server. */
int qs_api_worker_port(const qs_api_worker_t *worker);

/* Makes `worker` also serve /healthz, /readyz and /metrics on host:port
 * (admin_listen: plain HTTP, its own connection count; call once, on one
 * worker, before its loop runs). It keeps accepting while the worker drains
 * and closes with the worker. Returns 0 or the error of the server. */
int qs_api_worker_serve_admin(qs_api_worker_t *worker, const char *host, int port);

/* The bound port of the worker's admin server, 0 when it has none. */
int qs_api_worker_admin_port(const qs_api_worker_t *worker);

/* Begins draining one worker, on its loop: marks the hub not ready
 * (/readyz answers 503 from then on, for every worker), stops accepting
 * connections, refuses new subscriptions (503) and ends the worker's event
 * streams cleanly, evenly spread over `drain_ms` (so that subscribers
 * reconnect with their last event id a few at a time); requests on open
 * connections are still served. Calls on_drained(ctx) from the loop once
 * every stream has ended or `drain_ms` is over; the caller then closes the
 * worker with qs_api_worker_close. A second call does nothing and never calls
 * its callback. */
void qs_api_worker_drain(qs_api_worker_t *worker, uint64_t drain_ms, void (*on_drained)(void *ctx),
                         void *ctx);

/* Graceful shutdown of one worker, on its loop: stops accepting, ends every
 * stream cleanly, lets pending publishes finish, closes the shard, frees the
 * worker, then calls on_closed(ctx). */
void qs_api_worker_close(qs_api_worker_t *worker, void (*on_closed)(void *ctx), void *ctx);

#endif
