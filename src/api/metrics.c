/* GET /metrics: Prometheus text exposition format 0.0.4, written by hand
 * (no good C library does it). The three metrics of the reference hub keep
 * their names; ours are prefixed `quicksilver_`. */
#include <stdio.h>

#include "api/api_internal.h"
#include "base/buf.h"
#include "store/store.h"

static void metric(qs_buf_t *out, const char *name, const char *type, const char *help, uint64_t value) {
  qs_buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
                 (unsigned long long)value);
}

void qs_api_metrics(qs_api_worker_t *worker, qs_http_request_t *req) {
  qs_hub_stats_t stats;
  qs_hub_stats(worker->api->hub, &stats);
  qs_buf_t body;
  qs_buf_init(&body, 64 * 1024);
  metric(&body, "mercure_subscribers_total", "counter", "Subscriptions accepted since start.",
         stats.subscribers_total);
  metric(&body, "mercure_subscribers_connected", "gauge", "Subscribers connected now.",
         stats.subscribers_connected);
  metric(&body, "mercure_updates_total", "counter", "Updates published since start.", stats.updates_total);
  metric(&body, "quicksilver_deliveries_total", "counter", "Updates handed to subscriber connections.",
         stats.deliveries_total);
  metric(&body, "quicksilver_slow_subscriber_disconnects_total", "counter",
         "Subscribers disconnected because they did not read fast enough.", stats.slow_disconnects_total);
  metric(&body, "quicksilver_fanout_backlog_waits_total", "counter",
         "Publishes whose answer waited for the fan-out of earlier updates to be written "
         "(fanout_backlog): a publisher outpacing the fan-out.",
         stats.backlog_waits_total);
  const qs_api_t *api = worker->api;
  metric(&body, "quicksilver_connections", "gauge", "Client connections open now (every protocol).",
         qs_http_admission_count(api->admission));
  metric(&body, "quicksilver_token_refusals_total", "counter",
         "Requests answered 401: no token where one is needed, or a token that does not verify.",
         atomic_load_explicit(&api->token_refusals, memory_order_relaxed));
  metric(&body, "quicksilver_stream_writes_total", "counter",
         "Writes to the socket (one writev, or one batch of TLS records) that carried event-stream bytes; "
         "deliveries per write tell how well events coalesce.",
         atomic_load_explicit(&api->http_counters.stream_writes, memory_order_relaxed));
  metric(&body, "quicksilver_coalesce_windows_total", "counter",
         "Times a saturated worker held event-stream writes for up to coalesce_max_delay to write "
         "several events at once.",
         atomic_load_explicit(&api->http_counters.coalesce_windows, memory_order_relaxed));
  qs_store_stats_t history = {0};
  qs_store_stats(qs_hub_store(api->hub), &history);
  metric(&body, "quicksilver_history_updates", "gauge", "Updates kept for reconnection.", history.count);
  metric(&body, "quicksilver_history_bytes", "gauge", "Bytes of the updates kept, as retention counts them.",
         history.bytes);
  metric(&body, "quicksilver_history_evicted_total", "counter",
         "Updates dropped from the history by retention or to make room.", history.evicted);
  qs_store_transport_t transport;
  qs_store_transport(qs_hub_store(api->hub), &transport);
  if (transport.shared) {
    metric(&body, "quicksilver_redis_connected", "gauge",
           "1 when this node can publish to Redis now, 0 while it reconnects.", transport.connected);
    metric(&body, "quicksilver_redis_caught_up", "gauge",
           "1 when this node has read the stream up to its head (as last seen).", transport.caught_up);
    metric(&body, "quicksilver_redis_lag_milliseconds", "gauge",
           "Stream time between the stream's head and the last entry this node read (sampled each second).",
           transport.lag_ms);
    metric(&body, "quicksilver_redis_reconnects_total", "counter",
           "Connections to Redis re-established after a loss.", transport.reconnects);
    metric(&body, "quicksilver_redis_publishes_total", "counter", "Publishes Redis acknowledged.",
           transport.publishes);
    metric(&body, "quicksilver_redis_publish_failures_total", "counter",
           "Publishes not acknowledged (Redis unreachable, refused, or not replicated in time).",
           transport.failures);
  }
  qs_api_headers_t h;
  qs_api_headers_init(&h, worker->api, req);
  qs_api_headers_add(&h, "Content-Type", qs_slice_from_cstr("text/plain; version=0.0.4; charset=utf-8"));
  qs_http_respond(req, 200, h.items, h.count, qs_buf_slice(&body));
  qs_buf_dispose(&body);
}

void qs_api_health(qs_api_worker_t *worker, qs_http_request_t *req, qs_api_headers_t *h) {
  qs_store_transport_t transport;
  qs_store_transport(qs_hub_store(worker->api->hub), &transport);
  if (!transport.shared) {
    qs_api_respond_text(req, h, 200, "ok");
  } else if (transport.connected) {
    qs_api_respond_text(req, h, 200,
                        transport.caught_up ? "ok: redis connected" : "ok: redis connected, catching up");
  } else {
    char text[256];
    snprintf(text, sizeof text, "unavailable: %s (%s)", transport.name, transport.reason);
    qs_api_respond_text(req, h, 503, text);
  }
}
