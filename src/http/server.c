/* The HTTP server (http.h): creating it, its handles and the sweep timer,
 * and its graceful close. What its connections do is in the files that
 * server_internal.h lists. */
#include <stdlib.h>

#include "base/error.h"
#include "http/accept.h"
#include "http/conn.h"
#include "http/deadline.h"
#include "http/transport.h"
#include "http/write_queue.h"
#include "http/write_schedule.h"

static void on_sweep(uv_timer_t *timer) {
  qs_http_server_t *s = timer->data;
  qs_http_server_expire(s, uv_now(s->loop));
}

static void on_handle_closed(uv_handle_t *handle) {
  qs_http_server_t *s = handle->data;
  if (--s->handles_open > 0) return;
  void (*cb)(void *) = s->on_closed;
  void *ctx = s->closed_ctx;
  qs_http_admission_destroy(s->own_admission);
  qs_http_queue_pool_dispose(s);
  free(s->read_buf);
  free(s->tls_plain);
  free(s);
  if (cb) cb(ctx);
}

void qs_http_server_maybe_finish_close(qs_http_server_t *s) {
  if (!s->closing || s->listener || s->conn_count || s->handles_closing) return;
  s->handles_closing = true;
  s->handles_open = 4;
  uv_close((uv_handle_t *)&s->sweep, on_handle_closed);
  uv_close((uv_handle_t *)&s->coalesce_timer, on_handle_closed);
  uv_close((uv_handle_t *)&s->flush_check, on_handle_closed);
  uv_close((uv_handle_t *)&s->flush_idle, on_handle_closed);
}

static void on_listener_closed(void *ctx) {
  qs_http_server_t *s = ctx;
  s->listener = NULL;
  qs_http_server_maybe_finish_close(s);
}

int qs_http_server_create(uv_loop_t *loop, const char *host, int port, const qs_http_limits_t *limits,
                          qs_http_handler_fn handler, void *ctx, qs_http_server_t **out) {
  if (!loop || !handler || !out) return QS_EINVAL;
  qs_http_limits_t lim, def;
  qs_http_limits_default(&def);
  lim = limits ? *limits : def;
  if (!lim.max_header_bytes) lim.max_header_bytes = def.max_header_bytes;
  if (!lim.max_header_count) lim.max_header_count = def.max_header_count;
  if (!lim.max_body_bytes) lim.max_body_bytes = def.max_body_bytes;
  if (!lim.header_timeout_ms) lim.header_timeout_ms = def.header_timeout_ms;
  if (!lim.idle_timeout_ms) lim.idle_timeout_ms = def.idle_timeout_ms;
  if (lim.max_header_bytes > UINT32_MAX / 2 || lim.max_header_count > UINT32_MAX / 2) return QS_EINVAL;

  qs_http_server_t *s = calloc(1, sizeof *s);
  if (!s) return QS_ENOMEM;
  s->read_buf = malloc(QS_HTTP_READ_BUF_BYTES);
  if (!s->read_buf) {
    free(s);
    return QS_ENOMEM;
  }
  s->loop = loop;
  s->transport = QS_HTTP_TRANSPORT_TCP;
  s->limits = lim;
  s->handler = handler;
  s->ctx = ctx;
  qs_link_init(&s->all);
  qs_link_init(&s->dirty);
  qs_link_init(&s->held);
  qs_link_init(&s->failed);
  s->coalesce_ns = lim.coalesce_max_delay_ms * 1000000;
  s->counters = lim.counters ? lim.counters : &s->own_counters;
  for (int i = 0; i < TIMEOUT_LISTS; i++) qs_link_init(&s->timeouts[i]);
  s->admission = s->limits.admission;
  if (!s->admission) {
    if (qs_http_admission_create(s->limits.max_connections, s->limits.max_connections_per_address,
                                 &s->own_admission) != 0) {
      free(s->read_buf);
      free(s);
      return QS_ENOMEM;
    }
    s->admission = s->own_admission;
  }
  int rc = qs_net_listener_create(loop, host, port, 0, qs_http_accept, s, &s->listener);
  if (rc) {
    qs_http_admission_destroy(s->own_admission);
    free(s->read_buf);
    free(s);
    return rc;
  }
  s->port = qs_net_listener_port(s->listener);
  uv_timer_init(loop, &s->sweep);
  s->sweep.data = s;
  qs_http_schedule_init(s);
  /* The sweep runs a few times per shortest timeout; deadlines are kept to that resolution. */
  uint64_t shortest =
      lim.header_timeout_ms < lim.idle_timeout_ms ? lim.header_timeout_ms : lim.idle_timeout_ms;
  if (shortest > QS_HTTP_LINGER_MS) shortest = QS_HTTP_LINGER_MS;
  uint64_t period = shortest / 4;
  if (period < 5) period = 5;
  if (period > 1000) period = 1000;
  uv_timer_start(&s->sweep, on_sweep, period, period);
  uv_unref((uv_handle_t *)&s->sweep);
  *out = s;
  return 0;
}

int qs_http_server_use_tls(qs_http_server_t *server, qs_tls_context_t *tls) {
  if (!server->tls_plain && !(server->tls_plain = malloc(QS_HTTP_READ_BUF_BYTES))) return QS_ENOMEM;
  server->tls = tls;
  server->transport = QS_HTTP_TRANSPORT_TLS;
  return 0;
}

int qs_http_server_port(const qs_http_server_t *server) { return server->port; }

size_t qs_http_server_connection_count(const qs_http_server_t *server) { return server->conn_count; }

const qs_http_counters_t *qs_http_server_counters(const qs_http_server_t *server) { return server->counters; }

void qs_http_server_stop_accepting(qs_http_server_t *s) {
  /* on_listener_closed clears s->listener; qs_http_server_close then waits for it as usual. */
  if (s && !s->closing) qs_net_listener_close(s->listener, on_listener_closed, s);
}

void qs_http_server_close(qs_http_server_t *s, void (*on_closed)(void *ctx), void *ctx) {
  if (!s || s->closing) return;
  s->closing = true;
  s->on_closed = on_closed;
  s->closed_ctx = ctx;
  qs_net_listener_close(s->listener, on_listener_closed, s);
  /* conn_fail frees nothing synchronously, so walking the list is safe. */
  for (qs_link_t *l = s->all.next, *next; l != &s->all; l = next) {
    next = l->next;
    qs_http_conn_t *c = QS_CONTAINER_OF(l, qs_http_conn_t, all_link);
    c->close_after = true;
    switch (c->state) {
      case ST_READING:
        qs_http_conn_fail(c, QS_ECLOSED);
        break;
      case ST_STREAMING:
        c->stream_reason_closed = 1;
        qs_h1_stream_end(c);
        qs_http_deadline_refresh(c);
        break;
      case ST_STREAM_ENDING:
        c->stream_reason_closed = 1;
        qs_http_deadline_refresh(c);
        break;
      case ST_HANDLING:
      case ST_RESPONDING:
        qs_http_deadline_refresh(c);
        break;
      case ST_H2:
        qs_h2_session_shutdown(c->h2);
        qs_http_deadline_refresh(c);
        break;
      default:
        break;
    }
  }
  uv_ref((uv_handle_t *)&s->sweep);
  qs_http_schedule_shutdown(s);
  qs_http_server_maybe_finish_close(s);
}
