/* The flush schedule (write_schedule.h).
 *
 * Writes go through one queue per connection and leave at the end of the
 * loop iteration (a uv_check handle): everything queued meanwhile goes out
 * in one writev per connection. That is the hot path of fan-out. Under
 * saturation the stream writes of a loop turn are held for a short, bounded
 * window so that the events of several updates leave together
 * ("Coalescing" below); answers are never held. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/conn.h"
#include "http/conn_write.h"
#include "http/write_schedule.h"

/* At most this many answer/on_flush rounds per loop iteration (pipelined
 * publishes each take one round), and on_flush only while no connection has
 * more than FLUSH_ROUND_BYTES queued since its last write: queueing big
 * events for a whole iteration must not push a healthy subscriber past its
 * queue limit. */
#define FLUSH_ROUNDS 32
#define FLUSH_ROUND_BYTES (64 * 1024)
/* Coalescing starts when writing streams takes at least 1/SATURATED_SHARE
 * of the worker's time, and stops below 1/CALM_SHARE. */
#define SATURATED_SHARE 2
#define CALM_SHARE 4
/* A burst of stream writes that new events keep joining is judged every
 * this long. */
#define MEASURE_MIN_NS (10 * 1000000ull)
/* A window ends early once a connection has this much queued: the write is
 * worth its system call by then, and a subscriber with a small queue limit
 * is not pushed towards it. */
#define COALESCE_MAX_BYTES (16 * 1024)
/* A check writes streams for about this long at most (judged every
 * WRITE_SLICE_CONNS connections); the rest stay on the dirty list for the
 * next loop turn, after the poll has read (and answered) what arrived
 * meanwhile: a publisher is not kept waiting for a whole fan-out's writes,
 * and the events it publishes join the writes still to come. */
#define WRITE_SLICE_NS (1 * 1000000ull)
#define WRITE_SLICE_CONNS 64

static void on_idle_noop(uv_idle_t *idle) { (void)idle; }

/* ---- Generations --------------------------------------------------------
 *
 * What the producer's on_written is told: a connection joins the current
 * write generation when it gets on the dirty or held list, and leaves it
 * when taken off to be flushed (or closed). Once no connection of the
 * generation before the current one is left, every byte queued before the
 * current one began has been handed to the kernel (or waits on a write
 * the peer has not taken, off the lists): on_written(all = whether the
 * current one is empty too), and a new generation begins. At low load that
 * is every loop turn; under a continuous fan-out, about once per pass over
 * the connections, never waiting for the lists to be empty. */

static void pend(qs_http_server_t *s, qs_http_conn_t *c) {
  if (c->pending) return;
  c->pending = true;
  c->pending_gen = s->write_gen & 1;
  s->gen_pending[c->pending_gen]++;
}

void qs_http_conn_unlink_dirty(qs_http_conn_t *c) {
  if (qs_link_linked(&c->dirty_link)) qs_link_remove(&c->dirty_link);
  if (!c->pending) return;
  c->pending = false;
  c->server->gen_pending[c->pending_gen]--;
}

/* At the end of a check: ends the generation before the current one when
 * none of its connections is left. */
static void close_generation(qs_http_server_t *s) {
  if (s->gen_pending[(s->write_gen - 1) & 1] != 0) return;
  bool all = s->gen_pending[s->write_gen & 1] == 0;
  s->write_gen++;
  if (s->on_written) s->on_written(s->on_written_ctx, all);
}

static void open_window(qs_http_server_t *s);
static void judge_load(qs_http_server_t *s, uint64_t period, uint64_t now);

/* True for a connection whose queue holds only event-stream bytes: an
 * HTTP/1.x stream, or an HTTP/2 connection with no answer to send. */
static bool carries_streams_only(const qs_http_conn_t *c) {
  return c->state == ST_STREAMING ||
         (c->state == ST_H2 && !c->answer_queued && !qs_h2_session_answer_due(c->h2));
}

/* A verdict of saturation speaks of the last cycle measured. When events
 * come after a pause of MEASURE_MIN_NS or more with no stream written (the
 * publisher stopped, or the load was the streams' own opening), the load is
 * judged again over that pause, which counts as idle, before anything is
 * held on the old verdict: the first event after a pause leaves at once. */
static void rejudge_after_pause(qs_http_server_t *s) {
  uint64_t now = uv_hrtime();
  if (now - s->measured_ns >= MEASURE_MIN_NS) judge_load(s, now - s->measured_ns, now);
}

/* Answers leave before event streams: a publisher waiting for its 200 can
 * send its next request while this iteration's fan-out is still being
 * written, so the next iteration has more events per connection to coalesce.
 * An HTTP/2 connection counts as an answer while it has one to send, even
 * when it was queued (or held) for its streams before. While the server is
 * saturated, stream connections wait on the `held` list for the window. */
void qs_http_conn_mark_dirty(qs_http_conn_t *c) {
  qs_http_server_t *s = c->server;
  if (!c->inflight && c->queued_bytes > s->burst_max) s->burst_max = c->queued_bytes;
  if (c->state == ST_CLOSED || c->pumping) return;
  bool streams_only = carries_streams_only(c);
  if (qs_link_linked(&c->dirty_link)) {
    if (streams_only || (!c->held && c->state != ST_H2)) return;
    qs_link_remove(&c->dirty_link); /* an HTTP/2 answer moves ahead of the streams */
    c->held = false;
  }
  if (streams_only && s->saturated && !s->burst_ns) rejudge_after_pause(s);
  pend(s, c);
  if (streams_only && s->saturated && !s->closing) {
    c->held = true;
    qs_link_append(&s->held, &c->dirty_link);
    if (!s->window_end_ns) open_window(s);
    return;
  }
  if (!qs_link_linked(&s->dirty)) uv_idle_start(&s->flush_idle, on_idle_noop);
  if (streams_only) {
    /* Events that come while an earlier fan-out is still being written. */
    if (s->burst_ns && s->turn != s->burst_turn) s->fresh = true;
    qs_link_append(&s->dirty, &c->dirty_link);
  } else {
    qs_link_prepend(&s->dirty, &c->dirty_link);
  }
}

/* The first dirty connection when it holds an answer rather than a stream. */
qs_http_conn_t *dirty_answer(qs_http_server_t *s) {
  if (!qs_link_linked(&s->dirty)) return NULL;
  qs_http_conn_t *c = QS_CONTAINER_OF(s->dirty.next, qs_http_conn_t, dirty_link);
  return carries_streams_only(c) ? NULL : c;
}

/* ---- Coalescing --------------------------------------------------------
 *
 * With one publish in flight, each update's fan-out is one writev per
 * subscriber connection: the kernel's per-write cost dominates, and while a
 * worker writes one fan-out the next publish waits to be read. So the server
 * measures the share of its time that flushes writing event streams take
 * (answers, on_flush's deliveries and the writes): over each cycle from
 * the start of one burst of stream writes (until the dirty list is empty)
 * to the start of the next, and every MEASURE_MIN_NS in a burst that new
 * events keep joining. At least 1/SATURATED_SHARE means updates come
 * faster than their fan-out is written: the server is saturated, and
 * stream connections that get bytes are held (the `held` list) until a
 * window of coalesce_max_delay, opened by the first of them, ends. Answers
 * still leave at once, so publishers keep publishing meanwhile, and the
 * events of the updates they publish leave together, one writev per
 * connection. Below 1/CALM_SHARE (the window itself counts as idle time)
 * the server stops holding: at low load nothing waits and no timer runs.
 *
 * The window also ends early when a connection has COALESCE_MAX_BYTES
 * queued (bounded memory, far below the subscriber queue limits) or the
 * server closes. Held bytes are not a stall (qs_http_stream_write_waits). */

static void on_window_end(uv_timer_t *timer) {
  qs_http_server_t *s = timer->data;
  /* The check after this turn's poll writes the held connections (the
   * timer counts in the loop's milliseconds, which may run a little ahead
   * of window_end_ns: the timer decides). */
  s->window_end_ns = 1;
  uv_idle_start(&s->flush_idle, on_idle_noop);
}

static void open_window(qs_http_server_t *s) {
  s->window_end_ns = uv_hrtime() + s->coalesce_ns;
  atomic_fetch_add_explicit(&s->counters->coalesce_windows, 1, memory_order_relaxed);
  uv_timer_start(&s->coalesce_timer, on_window_end, s->coalesce_ns / 1000000, 0);
}

/* Moves the held connections behind the dirty ones, for this flush. */
static void release_held(qs_http_server_t *s) {
  while (qs_link_linked(&s->held)) {
    qs_http_conn_t *c = QS_CONTAINER_OF(s->held.next, qs_http_conn_t, dirty_link);
    qs_link_remove(&c->dirty_link);
    c->held = false;
    qs_link_append(&s->dirty, &c->dirty_link);
  }
  s->window_end_ns = 0;
  uv_timer_stop(&s->coalesce_timer);
}

/* Judges the share of busy_ns in `period`, then starts a new one at `now`. */
static void judge_load(qs_http_server_t *s, uint64_t period, uint64_t now) {
  s->saturated = s->coalesce_ns && !s->closing && period &&
                 s->busy_ns * (s->saturated ? CALM_SHARE : SATURATED_SHARE) >= period;
  s->busy_ns = 0;
  s->measured_ns = now;
}

/* After a flush that wrote streams from `start` to `now`; `done` when no
 * connection is left on the dirty list (the burst is over). */
static void measure_load(qs_http_server_t *s, uint64_t start, uint64_t now, bool done) {
  if (!s->burst_ns) {
    /* A burst begins: the cycle since the previous one began is complete. */
    if (s->measured_ns)
      judge_load(s, start - s->measured_ns, start);
    else
      s->measured_ns = start;
    s->burst_ns = start;
    s->burst_turn = s->turn;
    s->fresh = false;
  }
  s->busy_ns += now - start;
  if (done) {
    s->burst_ns = 0;
  } else if (s->fresh && now - s->measured_ns >= MEASURE_MIN_NS) {
    judge_load(s, now - s->measured_ns, now); /* updates keep coming during the writes */
    s->fresh = false;
    s->burst_turn = s->turn;
  }
}

/* The end of the loop iteration: answers (mark_dirty puts them first), then
 * the producer's on_flush, again while that produces answers, then streams:
 * one writev per connection carries everything queued until then (or, while
 * saturated, until the coalescing window ends), for WRITE_SLICE_NS at most
 * per turn. */
static void on_flush_check(uv_check_t *check) {
  qs_http_server_t *s = check->data;
  qs_http_conn_run_failed(s); /* failed since the last check, from timers and reads */
  uint64_t start = uv_hrtime();
  for (int round = 0; s->on_flush && round < FLUSH_ROUNDS; round++) {
    for (qs_http_conn_t *c; (c = dirty_answer(s)) != NULL;) {
      qs_http_conn_unlink_dirty(c);
      qs_http_conn_flush(c);
    }
    if (s->burst_max >= FLUSH_ROUND_BYTES) break; /* the rest waits for the next iteration */
    s->on_flush(s->on_flush_ctx);
    if (!dirty_answer(s)) break;
  }
  if (s->window_end_ns && (start >= s->window_end_ns || s->burst_max >= COALESCE_MAX_BYTES || s->closing))
    release_held(s);
  bool streams = false;
  uint64_t end = 0;
  for (unsigned n = 1; qs_link_linked(&s->dirty); n++) {
    if (n % WRITE_SLICE_CONNS == 0 && (end = uv_hrtime()) - start >= WRITE_SLICE_NS) break;
    qs_http_conn_t *c = QS_CONTAINER_OF(s->dirty.next, qs_http_conn_t, dirty_link);
    qs_http_conn_unlink_dirty(c);
    streams = streams || c->state == ST_STREAMING || c->state == ST_H2;
    qs_http_conn_flush(c);
  }
  if (streams) {
    end = uv_hrtime();
    measure_load(s, start, end, !qs_link_linked(&s->dirty));
  }
  qs_http_conn_run_failed(s); /* failed by on_flush's producer or by the writes */
  close_generation(s);
  s->turn++;
  s->burst_max = 0;
  /* Connections left for the next turn (a slice's rest, or held ones just
   * released) keep its poll from blocking. */
  if (qs_link_linked(&s->dirty))
    uv_idle_start(&s->flush_idle, on_idle_noop);
  else
    uv_idle_stop(&s->flush_idle);
}

void qs_http_server_on_flush(qs_http_server_t *server, void (*fn)(void *ctx), void *ctx) {
  server->on_flush = fn;
  server->on_flush_ctx = ctx;
}

void qs_http_server_end_window(qs_http_server_t *s) {
  if (!s->window_end_ns) return;
  s->window_end_ns = 1; /* in the past: the check releases the held connections */
  uv_idle_start(&s->flush_idle, on_idle_noop);
}

void qs_http_server_on_written(qs_http_server_t *server, void (*fn)(void *ctx, bool all), void *ctx) {
  server->on_written = fn;
  server->on_written_ctx = ctx;
}

void qs_http_schedule_init(qs_http_server_t *s) {
  uv_check_init(s->loop, &s->flush_check);
  uv_idle_init(s->loop, &s->flush_idle);
  uv_timer_init(s->loop, &s->coalesce_timer);
  s->flush_check.data = s->flush_idle.data = s->coalesce_timer.data = s;
  uv_check_start(&s->flush_check, on_flush_check);
}

void qs_http_schedule_shutdown(qs_http_server_t *s) {
  s->saturated = false;
  if (s->window_end_ns) {
    release_held(s);
    uv_idle_start(&s->flush_idle, on_idle_noop);
  }
}

bool qs_http_conn_write_waits(const qs_http_conn_t *c) {
  return c->inflight || !qs_link_linked(&c->dirty_link);
}

void qs_http_schedule_wake(qs_http_server_t *s) { uv_idle_start(&s->flush_idle, on_idle_noop); }
