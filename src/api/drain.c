/* Draining (SIGTERM): the worker stops taking subscribers and ends its event
 * streams a few at a time over drain_timeout, then hands over to the usual
 * graceful close. Also /readyz, which says whether this hub should get
 * traffic: not while draining, not while its history fails to store. */
#include <stdio.h>

#include "api/api_internal.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"

/* A tick often enough that closes look continuous, rarely enough to cost nothing. */
#define DRAIN_TICK_MS 20

static void list_init(qs_api_stream_entry_t *head) { head->prev = head->next = head; }

void qs_api_stream_track(qs_api_worker_t *worker, qs_api_stream_entry_t *entry, qs_http_stream_t *stream) {
  if (!worker->streams.next) list_init(&worker->streams);
  entry->stream = stream;
  entry->worker = worker;
  entry->prev = worker->streams.prev;
  entry->next = &worker->streams;
  worker->streams.prev->next = entry;
  worker->streams.prev = entry;
  worker->stream_count++;
  atomic_fetch_add_explicit(&worker->api->streams_open, 1, memory_order_relaxed);
}

void qs_api_stream_untrack(qs_api_stream_entry_t *entry) {
  if (!entry->next || entry->next == entry) return;
  entry->prev->next = entry->next;
  entry->next->prev = entry->prev;
  list_init(entry);
  entry->worker->stream_count--;
  atomic_fetch_sub_explicit(&entry->worker->api->streams_open, 1, memory_order_relaxed);
}

/* Ends the oldest tracked stream cleanly (its queued events go out first). */
static void end_one(qs_api_worker_t *worker) {
  qs_api_stream_entry_t *entry = worker->streams.next;
  qs_api_stream_untrack(entry);
  /* on_close follows, from the loop: the entry is not touched again here. */
  qs_http_stream_close(entry->stream);
}

static void on_drain_timer_closed(uv_handle_t *handle) {
  qs_api_worker_t *worker = handle->data;
  if (worker->on_drained) worker->on_drained(worker->on_drained_ctx);
}

static void on_drain_tick(uv_timer_t *timer) {
  qs_api_worker_t *worker = timer->data;
  uint64_t elapsed = uv_now(worker->loop) - worker->drain_started_ms;
  /* The streams still allowed at this point of a linear ramp down to none. */
  size_t allowed = 0;
  if (elapsed < worker->drain_ms) {
    uint64_t left = worker->drain_ms - elapsed;
    allowed = (size_t)(((uint64_t)worker->drain_initial * left + worker->drain_ms - 1) / worker->drain_ms);
  }
  while (worker->stream_count > allowed && worker->streams.next != &worker->streams) end_one(worker);
  /* Every worker keeps serving its open connections (publishers) until the
   * streams of all are gone: a worker without streams does not close early. */
  if (atomic_load_explicit(&worker->api->streams_open, memory_order_relaxed) > 0 &&
      elapsed < worker->drain_ms)
    return;
  QS_LOG_INFO("drain done after %llu ms", (unsigned long long)elapsed);
  uv_timer_stop(timer);
  uv_close((uv_handle_t *)timer, on_drain_timer_closed);
}

void qs_api_worker_drain(qs_api_worker_t *worker, uint64_t drain_ms, void (*on_drained)(void *ctx),
                         void *ctx) {
  if (worker->draining) return;
  worker->draining = true;
  atomic_store_explicit(&worker->api->draining, true, memory_order_relaxed);
  if (!worker->streams.next) list_init(&worker->streams);
  qs_http_server_stop_accepting(worker->server);
  worker->on_drained = on_drained;
  worker->on_drained_ctx = ctx;
  worker->drain_ms = drain_ms;
  worker->drain_initial = worker->stream_count;
  uv_update_time(worker->loop);
  worker->drain_started_ms = uv_now(worker->loop);
  if (worker->stream_count)
    QS_LOG_INFO("draining: %zu event streams end over %llu ms", worker->stream_count,
                (unsigned long long)drain_ms);
  uv_timer_init(worker->loop, &worker->drain_timer);
  worker->drain_timer.data = worker;
  /* The first tick comes at once: with drain_ms 0 or no stream, the drain ends there. */
  uv_timer_start(&worker->drain_timer, on_drain_tick, 0, DRAIN_TICK_MS);
}

void qs_api_note_store_result(const qs_api_t *api, int status) {
  qs_api_t *shared = (qs_api_t *)api;
  if (status == 0) {
    /* Most publishes succeed: read before writing, so the line stays shared. */
    if (atomic_load_explicit(&shared->store_failed_ms, memory_order_relaxed))
      atomic_store_explicit(&shared->store_failed_ms, 0, memory_order_relaxed);
    return;
  }
  if (status == QS_ECLOSED) return; /* shutting down, not a store failure */
  atomic_store_explicit(&shared->store_error, status, memory_order_relaxed);
  int64_t now = qs_clock_wall_ms();
  atomic_store_explicit(&shared->store_failed_ms, now > 0 ? now : 1, memory_order_relaxed);
}

void qs_api_readyz(qs_api_worker_t *worker, qs_http_request_t *req) {
  const qs_api_t *api = worker->api;
  qs_api_headers_t h;
  qs_api_headers_init(&h, api, req);
  qs_api_headers_add(&h, "Cache-Control", qs_slice_from_cstr("no-store"));
  if (atomic_load_explicit(&((qs_api_t *)api)->draining, memory_order_relaxed)) {
    qs_api_respond_text(req, &h, 503, "draining: the hub is shutting down");
    return;
  }
  /* A node that cannot reach the shared transport (Redis away, or failing
   * over) would answer every publish 503: the balancer should pick another. */
  qs_store_transport_t transport;
  qs_store_transport(qs_hub_store(api->hub), &transport);
  if (transport.shared && !transport.connected) {
    char text[256];
    snprintf(text, sizeof text, "not ready: %s unreachable (%s)", transport.name, transport.reason);
    qs_api_respond_text(req, &h, 503, text);
    return;
  }
  int64_t failed_ms = atomic_load_explicit(&((qs_api_t *)api)->store_failed_ms, memory_order_relaxed);
  if (failed_ms) {
    char text[256];
    int64_t ago = qs_clock_wall_ms() - failed_ms;
    snprintf(text, sizeof text,
             "the history store failed to store an update %lld s ago (%s); ready again once one is stored",
             (long long)(ago > 0 ? ago / 1000 : 0),
             qs_strerror(atomic_load_explicit(&((qs_api_t *)api)->store_error, memory_order_relaxed)));
    qs_api_respond_text(req, &h, 503, text);
    return;
  }
  qs_api_respond_text(req, &h, 200, "ready");
}
