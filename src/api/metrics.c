/* GET /metrics: Prometheus text exposition format 0.0.4, written by hand
 * (no good C library does it). The three metrics of the reference hub keep
 * their names; ours are prefixed `quicksilver_`. */
#include "api/api_internal.h"
#include "base/buf.h"

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
  qs_api_headers_t h;
  qs_api_headers_init(&h, worker->api, req);
  qs_api_headers_add(&h, "Content-Type", qs_slice_from_cstr("text/plain; version=0.0.4; charset=utf-8"));
  qs_http_respond(req, 200, h.items, h.count, qs_buf_slice(&body));
  qs_buf_dispose(&body);
}
