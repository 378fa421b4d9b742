/* The HTTP server: accepting, limits and timeouts, and the connections:
 * reading, the write queue, closing. HTTP/1.x answers and event streams are
 * built in h1_response.c, HTTP/2 sessions in http2.c.
 *
 * A connection's life: READING (llhttp parses into a request) -> HANDLING (the
 * handler has the request) -> RESPONDING (a complete answer is queued) or
 * STREAMING -> STREAM_ENDING, then back to READING for the next request, or
 * DRAINING (write side shut, input discarded until EOF or a short linger) ->
 * CLOSED. Requests of one connection are strictly sequential: bytes that
 * arrive early wait, bounded, in the connection's input buffer.
 *
 * Writes go through one queue per connection and leave at the end of the
 * loop iteration (a uv_check handle): everything queued meanwhile goes out
 * in one uv_try_write (a writev), and only what the kernel did not take is
 * handed to uv_write. That is the hot path of fan-out.
 *
 * A connection whose first bytes are the HTTP/2 preface (h2c with prior
 * knowledge, or TLS after ALPN "h2") becomes an HTTP/2 connection: state H2,
 * its input goes to an nghttp2 session (http2.c), which fills the same write
 * queue at flush time.
 *
 * Under saturation the stream writes of a loop turn are held for a short,
 * bounded window so that the events of several updates leave in one writev
 * per connection ("Coalescing" below); answers are never held.
 *
 * With TLS (qs_http_server_use_tls), the same queue is encrypted at flush
 * time (net/tls.h works on memory only): the plaintext segments are released
 * once encrypted and the ciphertext takes their place in the batch; what the
 * session produces on its own (handshake, tickets, close_notify) is written
 * as it appears. libuv keeps writes in order, so records leave in order. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "http/admission.h"
#include "http/server_internal.h"
#include "net/tls.h"

/* Shared per-loop read buffer: connections own no read memory. */
#define READ_BUF_BYTES (64 * 1024)
/* Iovecs per writev; a longer queue leaves in several batches. */
#define MAX_IOV 256
/* Chunk headers per batch (stream bytes are framed as one chunk per run). */
#define MAX_RUNS 4
/* How long a connection that is being closed waits for its peer's EOF (or,
 * on shutdown, for a pending answer) before it is closed hard. */
#define LINGER_MS 2000
/* Smallest allocation for copied stream bytes, so small writes share one block. */
#define COPY_SEG_MIN 512
/* Queued references (delivered events) live in blocks of SEG_REFS, one block
 * per connection filled in order, so a connection's queued events are
 * contiguous; the blocks come from a per-server pool, allocated SEG_SLAB at
 * a time and reused: no malloc/free per delivery. */
#define SEG_REFS 8
#define SEG_SLAB 128
/* HTTP/2 frames moved into a connection's queue per flush (the session
 * keeps the rest, within the streams' flow-control windows). */
#define H2_PUMP_BYTES (64 * 1024)
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

static void link_init(qs_link_t *l) { l->prev = l->next = l; }
static bool link_linked(const qs_link_t *l) { return l->next != l; }
static void link_remove(qs_link_t *l) {
  l->prev->next = l->next;
  l->next->prev = l->prev;
  link_init(l);
}
static void link_prepend(qs_link_t *head, qs_link_t *l) {
  l->next = head->next;
  l->prev = head;
  head->next->prev = l;
  head->next = l;
}
static void link_append(qs_link_t *head, qs_link_t *l) {
  l->prev = head->prev;
  l->next = head;
  head->prev->next = l;
  head->prev = l;
}

/* One queued piece of output: a single span (copies live in data[], static
 * bytes elsewhere), or, for a pooled block, up to SEG_REFS references, each
 * given back with release(owner) once written or dropped. */
struct seg {
  struct seg *next;
  const char *ptr; /* single span */
  size_t len;      /* bytes of the whole segment */
  void (*release)(void *owner);
  void *owner;  /* single span; a block's owners are in its refs */
  uint32_t cap; /* room in data[] for copies; 0 otherwise */
  bool chunk;   /* stream body bytes that need chunked framing */
  bool pooled;  /* a reference block from the server's pool */
  uint8_t nrefs;
  char data[];
};

typedef struct {
  const char *ptr;
  size_t len;
  void *owner;
} seg_ref_t;

/* A pooled block of references sharing one release function: a seg_t
 * followed by its refs, on cache-line boundaries. */
#define BLOCK_BYTES 256
_Static_assert(sizeof(seg_t) + SEG_REFS * sizeof(seg_ref_t) <= BLOCK_BYTES, "a block holds its references");
_Static_assert(sizeof(seg_t) % _Alignof(seg_ref_t) == 0, "references are aligned");

/* A slab of blocks; freed with the server. */
struct seg_slab {
  _Alignas(64) unsigned char blocks[SEG_SLAB][BLOCK_BYTES];
  struct seg_slab *next;
};

static seg_ref_t *seg_refs(seg_t *s) { return (seg_ref_t *)(void *)((char *)s + sizeof(seg_t)); }

/* The iovecs a segment takes in a writev. */
static unsigned seg_iovs(const seg_t *s) { return s->pooled ? s->nrefs : 1; }

/* What uv_write still has to send after uv_try_write took only part. */
struct batch {
  uv_write_t req;
  qs_h1_conn_t *conn;
  seg_t *segs;  /* owned; released when the write completes */
  char *cipher; /* owned TLS output the bufs point into, or NULL */
  char hdr[MAX_RUNS][20];
  unsigned nbufs;
  uv_buf_t bufs[];
};

/* Input kept for later (allocated only while there is some). */
struct input {
  uint32_t len, cap;
  char data[];
};

static size_t input_len(const input_t *in) { return in ? in->len : 0; }

static void conn_flush(qs_h1_conn_t *c);
static void process_input(qs_h1_conn_t *c, const char *data, size_t len);
static void maybe_finish_close(qs_http_server_t *s);
static bool h2_feed(qs_h1_conn_t *c, const char *data, size_t len);

/* ---- Deadlines ----------------------------------------------------------
 *
 * Every condition of a connection has a deadline but one: an open event
 * stream, which heartbeats keep honest (and dispatch_timeout cuts when it
 * stops reading). deadline_wanted() is the whole policy, and
 * deadline_refresh() applies it: it runs on every state change
 * (qs_h1_conn_enter), and again after every read and every flush, so a state
 * or a protocol added later cannot be left without one. A deadline is armed
 * when the connection enters its condition and is not pushed back while it
 * stays there: trickling bytes does not keep a request alive. Each duration
 * has its own FIFO, ordered by deadline, which the sweep timer walks. */

static int deadline_list(uint8_t deadline) {
  switch (deadline) {
    case DL_REQUEST:
      return TIMEOUT_HEADER;
    case DL_KEEPALIVE:
    case DL_SERVER:
      return TIMEOUT_IDLE;
    default:
      return TIMEOUT_LINGER;
  }
}

static uint64_t timeout_duration(const qs_http_server_t *s, int list) {
  switch (list) {
    case TIMEOUT_HEADER:
      return s->limits.header_timeout_ms;
    case TIMEOUT_IDLE:
      return s->limits.idle_timeout_ms;
    default:
      return LINGER_MS;
  }
}

static bool tls_pending(const qs_h1_conn_t *c) { return c->tls && !qs_tls_session_established(c->tls); }

static uint8_t deadline_wanted(const qs_h1_conn_t *c) {
  if (c->state == ST_CLOSED) return DL_NONE;
  if (c->server->closing) return DL_LINGER;
  switch ((conn_state_t)c->state) {
    case ST_READING:
      /* From the accept (the TLS handshake included) to the first request's
       * end, and from a later request's first byte to its end. */
      if (!c->served || tls_pending(c) || input_len(c->in) ||
          (c->parser && qs_h1_parser_in_message(c->parser)))
        return DL_REQUEST;
      return DL_KEEPALIVE;
    case ST_HANDLING:
    case ST_RESPONDING:
    case ST_STREAM_ENDING:
      return DL_SERVER;
    case ST_STREAMING:
      return DL_NONE;
    case ST_H2:
      switch (qs_h2_session_phase(c->h2)) {
        case QS_H2_IDLE:
          return DL_KEEPALIVE;
        case QS_H2_RECEIVING:
          return DL_REQUEST;
        case QS_H2_SERVING:
          return DL_SERVER;
        default:
          return DL_NONE; /* only event streams */
      }
    default:
      return DL_LINGER; /* ERRORING, DRAINING */
  }
}

static void timeout_clear(qs_h1_conn_t *c) {
  if (c->deadline) link_remove(&c->timeout_link);
  c->deadline = DL_NONE;
}

static void deadline_refresh(qs_h1_conn_t *c) {
  uint8_t want = deadline_wanted(c);
  if (want == c->deadline) return;
  timeout_clear(c);
  if (want == DL_NONE) return;
  qs_http_server_t *s = c->server;
  int list = deadline_list(want);
  c->deadline_ms = uv_now(s->loop) + timeout_duration(s, list);
  c->deadline = want;
  link_append(&s->timeouts[list], &c->timeout_link);
}

void qs_h1_conn_enter(qs_h1_conn_t *c, conn_state_t state) {
  c->state = (uint8_t)state;
  deadline_refresh(c);
}

/* ---- Output queue ------------------------------------------------------ */

static void on_idle_noop(uv_idle_t *idle) { (void)idle; }

static void open_window(qs_http_server_t *s);

/* True for a connection whose queue holds only event-stream bytes: an
 * HTTP/1.x stream, or an HTTP/2 connection with no answer to send. */
static bool carries_streams_only(const qs_h1_conn_t *c) {
  return c->state == ST_STREAMING ||
         (c->state == ST_H2 && !c->answer_queued && !qs_h2_session_answer_due(c->h2));
}

/* Answers leave before event streams: a publisher waiting for its 200 can
 * send its next request while this iteration's fan-out is still being
 * written, so the next iteration has more events per connection to coalesce.
 * An HTTP/2 connection counts as an answer while it has one to send, even
 * when it was queued (or held) for its streams before. While the server is
 * saturated, stream connections wait on the `held` list for the window. */
void qs_h1_mark_dirty(qs_h1_conn_t *c) {
  qs_http_server_t *s = c->server;
  if (!c->inflight && c->queued_bytes > s->burst_max) s->burst_max = c->queued_bytes;
  if (c->state == ST_CLOSED || c->pumping) return;
  bool streams_only = carries_streams_only(c);
  if (link_linked(&c->dirty_link)) {
    if (streams_only || (!c->held && c->state != ST_H2)) return;
    link_remove(&c->dirty_link); /* an HTTP/2 answer moves ahead of the streams */
    c->held = false;
  }
  if (streams_only && s->saturated && !s->closing) {
    c->held = true;
    link_append(&s->held, &c->dirty_link);
    if (!s->window_end_ns) open_window(s);
    return;
  }
  if (!link_linked(&s->dirty)) uv_idle_start(&s->flush_idle, on_idle_noop);
  if (streams_only) {
    /* Events that come while an earlier fan-out is still being written. */
    if (s->burst_ns && s->turn != s->burst_turn) s->fresh = true;
    link_append(&s->dirty, &c->dirty_link);
  } else {
    link_prepend(&s->dirty, &c->dirty_link);
  }
}

/* An empty reference block from the pool. */
static seg_t *block_take(qs_http_server_t *srv) {
  seg_t *s = srv->free_segs;
  if (!s) {
    seg_slab_t *slab = aligned_alloc(_Alignof(seg_slab_t), sizeof *slab);
    if (!slab) return NULL;
    slab->next = srv->slabs;
    srv->slabs = slab;
    for (size_t i = SEG_SLAB; i-- > 0;) {
      seg_t *b = (seg_t *)(void *)slab->blocks[i];
      b->next = srv->free_segs;
      srv->free_segs = b;
    }
    s = srv->free_segs;
  }
  srv->free_segs = s->next;
  s->next = NULL;
  s->len = 0;
  s->nrefs = 0;
  s->pooled = true;
  s->cap = 0;
  return s;
}

/* Gives a segment's bytes back (release(owner)) and its memory to the pool
 * or the allocator. `c` is NULL when the connection is already closed. */
static void seg_release(qs_http_server_t *srv, qs_h1_conn_t *c, seg_t *s) {
  if (c) c->queued_bytes -= s->len;
  if (s->pooled) {
    seg_ref_t *refs = seg_refs(s);
    if (s->release)
      for (unsigned i = 0; i < s->nrefs; i++) s->release(refs[i].owner);
    s->next = srv->free_segs;
    srv->free_segs = s;
    return;
  }
  if (s->release) s->release(s->owner);
  free(s);
}

static void release_segs(qs_http_server_t *srv, qs_h1_conn_t *c, seg_t *s) {
  while (s) {
    seg_t *next = s->next;
    seg_release(srv, c, s);
    s = next;
  }
}

static void release_list(qs_h1_conn_t *c, seg_t *s) { release_segs(c->server, c, s); }

static void enqueue(qs_h1_conn_t *c, seg_t *s) {
  s->next = NULL;
  if (c->q_tail)
    c->q_tail->next = s;
  else
    c->q_head = s;
  c->q_tail = s;
  c->queued_bytes += s->len;
  qs_h1_mark_dirty(c);
}

/* Queues static bytes (never freed). */
int qs_h1_enqueue_static(qs_h1_conn_t *c, const char *bytes, size_t len) {
  seg_t *s = calloc(1, sizeof *s);
  if (!s) return QS_ENOMEM;
  s->ptr = bytes;
  s->len = len;
  enqueue(c, s);
  return 0;
}

/* Queues a copy of `len` bytes (framed as stream body when `chunk`),
 * appending to the last copy block when it has room. */
int qs_h1_enqueue_copy(qs_h1_conn_t *c, const char *bytes, size_t len, bool chunk) {
  seg_t *t = c->q_tail;
  if (t && t->cap && t->chunk == chunk && t->cap - t->len >= len) {
    memcpy(t->data + t->len, bytes, len);
    t->len += len;
    c->queued_bytes += len;
    qs_h1_mark_dirty(c);
    return 0;
  }
  size_t cap = len < COPY_SEG_MIN ? COPY_SEG_MIN : len;
  if (cap > UINT32_MAX) return QS_ETOOBIG;
  seg_t *s = malloc(sizeof *s + cap);
  if (!s) return QS_ENOMEM;
  *s = (seg_t){.ptr = s->data, .len = len, .cap = (uint32_t)cap, .chunk = chunk};
  memcpy(s->data, bytes, len);
  enqueue(c, s);
  return 0;
}

int qs_h1_enqueue_ref(qs_h1_conn_t *c, qs_slice_t bytes, bool chunk, void (*release)(void *owner),
                      void *owner) {
  /* Into the connection's last block when it has room, else a new one. */
  seg_t *s = c->q_tail;
  if (s && s->pooled && s->nrefs < SEG_REFS && s->release == release && s->chunk == chunk) {
    s->len += bytes.len;
    c->queued_bytes += bytes.len;
    qs_h1_mark_dirty(c);
  } else {
    s = block_take(c->server);
    if (!s) return QS_ENOMEM;
    s->release = release;
    s->chunk = chunk;
    s->len = bytes.len;
    enqueue(c, s);
  }
  seg_refs(s)[s->nrefs++] = (seg_ref_t){bytes.ptr, bytes.len, owner};
  return 0;
}

static void after_flush(qs_h1_conn_t *c);

static void on_write(uv_write_t *req, int status) {
  batch_t *b = req->data;
  qs_h1_conn_t *c = b->conn;
  c->inflight = NULL;
  release_list(c, b->segs);
  free(b->cipher);
  free(b);
  if (c->state == ST_CLOSED) return;
  if (status < 0) {
    qs_h1_conn_fail(c, QS_EIO);
    return;
  }
  /* What was queued while this write was in flight leaves at this loop
   * iteration's flush, together with whatever is queued until then. */
  qs_h1_mark_dirty(c);
}

/* Writes "<hex size>\r\n" into `out` (at least 18 bytes); returns its length. */
static size_t chunk_header(char *out, size_t size) {
  static const char digits[] = "0123456789abcdef";
  char tmp[16];
  size_t n = 0;
  do {
    tmp[n++] = digits[size & 15];
    size >>= 4;
  } while (size);
  for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  out[n] = '\r';
  out[n + 1] = '\n';
  return n + 2;
}

/* Writes a segment's iovecs; returns how many. */
static unsigned seg_fill(seg_t *s, uv_buf_t *iov) {
  if (!s->pooled) {
    iov[0] = uv_buf_init((char *)s->ptr, (unsigned)s->len);
    return 1;
  }
  seg_ref_t *refs = seg_refs(s);
  for (unsigned i = 0; i < s->nrefs; i++) iov[i] = uv_buf_init((char *)refs[i].ptr, (unsigned)refs[i].len);
  return s->nrefs;
}

/* ---- TLS output ------------------------------------------------------- */

/* Takes the session's ciphertext into a malloc'd block; NULL when there is
 * none (or no memory: *failed then). */
static char *tls_take(qs_h1_conn_t *c, size_t *len, bool *failed) {
  *failed = false;
  *len = 0;
  if (qs_tls_session_output_len(c->tls) == 0) return NULL;
  qs_buf_t out;
  qs_buf_init(&out, SIZE_MAX);
  if (qs_tls_session_take_output(c->tls, &out) != 0) {
    qs_buf_dispose(&out);
    *failed = true;
    return NULL;
  }
  return qs_buf_steal(&out, len);
}

static void on_tls_write(uv_write_t *req, int status) {
  batch_t *b = req->data;
  qs_h1_conn_t *c = b->conn;
  free(b->cipher);
  free(b);
  if (status < 0 && c->state != ST_CLOSED) qs_h1_conn_fail(c, QS_EIO);
}

/* Writes `len` bytes of ciphertext (taking `cipher`): what the kernel takes
 * at once, the rest with uv_write, either as the connection's in-flight batch
 * (`as_inflight`, for queued output: after_flush then waits for it) or on its
 * own (what the session produced while reading). False after conn_fail. */
static bool tls_write(qs_h1_conn_t *c, char *cipher, size_t len, bool as_inflight) {
  uv_buf_t buf = uv_buf_init(cipher, (unsigned)len);
  int w = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
  if (w == UV_EAGAIN) w = 0;
  if (w < 0) {
    free(cipher);
    qs_h1_conn_fail(c, QS_EIO);
    return false;
  }
  if ((size_t)w == len) {
    free(cipher);
    return true;
  }
  batch_t *b = malloc(sizeof *b + sizeof(uv_buf_t));
  if (!b) {
    free(cipher);
    qs_h1_conn_fail(c, QS_ENOMEM);
    return false;
  }
  b->conn = c;
  b->segs = NULL;
  b->cipher = cipher;
  b->nbufs = 1;
  b->bufs[0] = uv_buf_init(cipher + w, (unsigned)(len - (size_t)w));
  b->req.data = b;
  if (as_inflight) {
    c->inflight = b;
    c->blocked = true;
  }
  if (uv_write(&b->req, (uv_stream_t *)&c->tcp, b->bufs, 1, as_inflight ? on_write : on_tls_write) != 0) {
    if (as_inflight) c->inflight = NULL;
    free(cipher);
    free(b);
    qs_h1_conn_fail(c, QS_EIO);
    return false;
  }
  return true;
}

/* Writes the ciphertext the session holds, as the in-flight batch or on its
 * own (what it produced by itself: handshake, tickets, close_notify). False
 * after conn_fail. */
static bool tls_send_output(qs_h1_conn_t *c, bool as_inflight) {
  size_t len;
  bool failed;
  char *cipher = tls_take(c, &len, &failed);
  if (failed) {
    qs_h1_conn_fail(c, QS_ENOMEM);
    return false;
  }
  return !cipher || tls_write(c, cipher, len, as_inflight);
}

/* Encrypts one batch of queued plaintext (its segments are released at once)
 * and writes it. True when the flush may go on at once; false when it must
 * wait (a write in flight, or the connection failed). */
static bool tls_flush(qs_h1_conn_t *c, const uv_buf_t *iov, unsigned n, seg_t *taken) {
  int rc = 0;
  for (unsigned i = 0; !rc && i < n; i++) rc = qs_tls_session_write(c->tls, iov[i].base, iov[i].len);
  release_list(c, taken);
  if (rc) {
    qs_h1_conn_fail(c, rc == QS_ENOMEM ? QS_ENOMEM : QS_EIO);
    return false;
  }
  return tls_send_output(c, true) && !c->inflight;
}

/* Moves HTTP/2 frames into the queue (bounded). False after conn_fail. */
static bool h2_pump(qs_h1_conn_t *c) {
  c->pumping = true;
  int rc = qs_h2_session_pump(c->h2, H2_PUMP_BYTES);
  c->pumping = false;
  if (rc) qs_h1_conn_fail(c, rc);
  return rc == 0;
}

/* Sends the queue: as much as possible in one writev, the rest with uv_write. */
static void conn_flush(qs_h1_conn_t *c) {
  if (c->state == ST_H2 && !c->inflight && c->queued_bytes < H2_PUMP_BYTES && !h2_pump(c)) return;
  while (c->q_head && !c->inflight && c->state != ST_CLOSED) {
    uv_buf_t iov[MAX_IOV];
    char hdr[MAX_RUNS][20];
    unsigned n = 0, runs = 0;
    size_t total = 0;
    seg_t *s = c->q_head, *last = NULL;
    while (s) {
      if (s->chunk) {
        /* A run of body bytes becomes one chunk: header, bytes, CRLF. */
        if (runs == MAX_RUNS || n + 2 + seg_iovs(s) > MAX_IOV) break;
        size_t run = 0;
        unsigned k = 0;
        seg_t *end = s;
        for (; end && end->chunk && n + 2 + k + seg_iovs(end) <= MAX_IOV; end = end->next)
          run += end->len, k += seg_iovs(end);
        size_t hl = chunk_header(hdr[runs], run);
        iov[n++] = uv_buf_init(hdr[runs], (unsigned)hl);
        runs++;
        total += hl + run + 2;
        for (; s != end; s = s->next) {
          n += seg_fill(s, iov + n);
          last = s;
        }
        iov[n++] = uv_buf_init((char *)"\r\n", 2);
      } else {
        if (n + seg_iovs(s) > MAX_IOV) break;
        n += seg_fill(s, iov + n);
        total += s->len;
        last = s;
        s = s->next;
      }
    }
    seg_t *taken = c->q_head;
    c->q_head = last->next;
    last->next = NULL;
    if (!c->q_head) c->q_tail = NULL;
    if (c->state == ST_STREAMING || c->state == ST_H2)
      atomic_fetch_add_explicit(&c->server->counters->stream_writes, 1, memory_order_relaxed);
    c->answer_queued = false; /* this batch starts at the queue's head, where the answer is */
    if (c->tls) {
      if (!tls_flush(c, iov, n, taken)) return;
      continue;
    }

    int w = uv_try_write((uv_stream_t *)&c->tcp, iov, n);
    if (w == UV_EAGAIN) w = 0;
    if (w < 0) {
      release_list(c, taken);
      qs_h1_conn_fail(c, QS_EIO);
      return;
    }
    if ((size_t)w == total) {
      release_list(c, taken);
      continue;
    }
    /* The kernel took part: hand the rest to uv_write. */
    size_t skip = (size_t)w;
    unsigned first = 0;
    while (first < n && skip >= iov[first].len) skip -= iov[first++].len;
    unsigned rest = n - first;
    batch_t *b = malloc(sizeof *b + rest * sizeof(uv_buf_t));
    if (!b) {
      release_list(c, taken);
      qs_h1_conn_fail(c, QS_ENOMEM);
      return;
    }
    b->conn = c;
    b->segs = taken;
    b->cipher = NULL;
    b->nbufs = rest;
    memcpy(b->hdr, hdr, sizeof hdr);
    for (unsigned i = 0; i < rest; i++) {
      uv_buf_t buf = iov[first + i];
      if (buf.base >= (char *)hdr && buf.base < (char *)hdr + sizeof hdr)
        buf.base = (char *)b->hdr + (buf.base - (char *)hdr);
      b->bufs[i] = buf;
    }
    b->bufs[0].base += skip;
    b->bufs[0].len -= skip;
    b->req.data = b;
    c->inflight = b;
    c->blocked = true;
    if (uv_write(&b->req, (uv_stream_t *)&c->tcp, b->bufs, b->nbufs, on_write) != 0) {
      c->inflight = NULL;
      release_list(c, b->segs);
      free(b);
      qs_h1_conn_fail(c, QS_EIO);
      return;
    }
    return;
  }
  if (!c->q_head && !c->inflight && c->state != ST_CLOSED) {
    c->answer_queued = false;
    after_flush(c);
  }
}

/* The first dirty connection when it holds an answer rather than a stream. */
static qs_h1_conn_t *dirty_answer(qs_http_server_t *s) {
  if (!link_linked(&s->dirty)) return NULL;
  qs_h1_conn_t *c = CONTAINER_OF(s->dirty.next, qs_h1_conn_t, dirty_link);
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
  while (link_linked(&s->held)) {
    qs_h1_conn_t *c = CONTAINER_OF(s->held.next, qs_h1_conn_t, dirty_link);
    link_remove(&c->dirty_link);
    c->held = false;
    link_append(&s->dirty, &c->dirty_link);
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
  uint64_t start = uv_hrtime();
  for (int round = 0; s->on_flush && round < FLUSH_ROUNDS; round++) {
    for (qs_h1_conn_t *c; (c = dirty_answer(s)) != NULL;) {
      link_remove(&c->dirty_link);
      conn_flush(c);
    }
    if (s->burst_max >= FLUSH_ROUND_BYTES) break; /* the rest waits for the next iteration */
    s->on_flush(s->on_flush_ctx);
    if (!dirty_answer(s)) break;
  }
  if (s->window_end_ns && (start >= s->window_end_ns || s->burst_max >= COALESCE_MAX_BYTES || s->closing))
    release_held(s);
  bool streams = false;
  uint64_t end = 0;
  for (unsigned n = 1; link_linked(&s->dirty); n++) {
    if (n % WRITE_SLICE_CONNS == 0 && (end = uv_hrtime()) - start >= WRITE_SLICE_NS) break;
    qs_link_t *l = s->dirty.next;
    link_remove(l);
    qs_h1_conn_t *c = CONTAINER_OF(l, qs_h1_conn_t, dirty_link);
    streams = streams || c->state == ST_STREAMING || c->state == ST_H2;
    conn_flush(c);
  }
  if (streams) {
    end = uv_hrtime();
    measure_load(s, start, end, !link_linked(&s->dirty));
  }
  s->turn++;
  s->burst_max = 0;
  /* Connections left for the next turn (a slice's rest, or held ones just
   * released) keep its poll from blocking. */
  if (link_linked(&s->dirty))
    uv_idle_start(&s->flush_idle, on_idle_noop);
  else
    uv_idle_stop(&s->flush_idle);
}

void qs_http_server_on_flush(qs_http_server_t *server, void (*fn)(void *ctx), void *ctx) {
  server->on_flush = fn;
  server->on_flush_ctx = ctx;
}

/* ---- Reading ----------------------------------------------------------- */

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  qs_h1_conn_t *c = handle->data;
  qs_http_server_t *s = c->server;
  /* libuv calls on_read right after on_alloc, and on_read copies what it
   * keeps, so one buffer serves every connection of the loop. */
  if (s->read_buf_busy) {
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  s->read_buf_busy = true;
  *buf = uv_buf_init(s->read_buf, READ_BUF_BYTES);
}

/* Appends to the connection's input buffer. */
static int keep_input(qs_h1_conn_t *c, const char *data, size_t len) {
  if (!len) return 0;
  size_t have = input_len(c->in), cap = c->in ? c->in->cap : 0;
  if (have + len > UINT32_MAX) return QS_ETOOBIG;
  if (have + len > cap) {
    size_t grown = cap ? cap : 1024;
    while (grown < have + len) grown *= 2;
    input_t *in = realloc(c->in, sizeof *in + grown);
    if (!in) return QS_ENOMEM;
    in->len = (uint32_t)have;
    in->cap = (uint32_t)grown;
    c->in = in;
  }
  memcpy(c->in->data + have, data, len);
  c->in->len += (uint32_t)len;
  return 0;
}

static void drop_input(qs_h1_conn_t *c) {
  free(c->in);
  c->in = NULL;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void read_start(qs_h1_conn_t *c) {
  if (c->reading || c->state == ST_CLOSED) return;
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = true;
}

static void read_stop(qs_h1_conn_t *c) {
  if (!c->reading) return;
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = false;
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  (void)status;
  free(req);
}

/* Closes the write side once everything queued is out, then waits (bounded)
 * for the peer's EOF, so that input still in flight does not turn the close
 * into a reset that could destroy the answer before the client reads it. */
static void start_drain(qs_h1_conn_t *c) {
  qs_h1_parser_destroy(c->parser);
  c->parser = NULL;
  drop_input(c);
  qs_h1_conn_enter(c, ST_DRAINING);
  if (c->tls && qs_tls_session_established(c->tls)) {
    qs_tls_session_shutdown(c->tls);
    if (!tls_send_output(c, false)) return;
  }
  uv_shutdown_t *req = malloc(sizeof *req);
  if (!req || uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
    free(req);
    qs_h1_conn_fail(c, QS_ECLOSED);
    return;
  }
  read_start(c);
}

/* Queues a short error answer and closes afterwards. */
static void send_error(qs_h1_conn_t *c, int status, const char *reason) {
  if (c->req) {
    qs_h1_request_destroy(c->req);
    c->req = NULL;
  }
  c->close_after = true;
  qs_h1_conn_enter(c, ST_ERRORING);
  char head[256];
  int body_len = (int)strlen(reason) + 1;
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
                   "Connection: close\r\n\r\n%s\n",
                   status, qs_http_status_text(status), body_len, reason);
  if (n < 0 || (size_t)n >= sizeof head || qs_h1_enqueue_copy(c, head, (size_t)n, false) != 0) {
    qs_h1_conn_fail(c, QS_ENOMEM);
    return;
  }
  QS_LOG_DEBUG("http error status=%d reason=\"%s\"", status, reason);
}

static void dispatch(qs_h1_conn_t *c) {
  qs_h1_request_t *req = qs_h1_parser_take(c->parser);
  req->conn = c;
  qs_net_addr_format(&c->addr, req->remote_addr, sizeof req->remote_addr);
  c->req = req;
  c->served = true;
  qs_h1_conn_enter(c, ST_HANDLING);
  if (req->upgrade || !req->keep_alive) c->close_after = true;
  c->server->handler(&req->pub, c->server->ctx);
}

static void switch_to_h2(qs_h1_conn_t *c);

/* Parses what can be parsed: `data` plus whatever waited in c->in. */
static void process_input(qs_h1_conn_t *c, const char *data, size_t len) {
  if (keep_input(c, data, len) != 0) {
    qs_h1_conn_fail(c, QS_ENOMEM);
    return;
  }
  if (!c->preface_checked && c->in) {
    size_t n = c->in->len < QS_H2_PREFACE_LEN ? c->in->len : QS_H2_PREFACE_LEN;
    if (memcmp(c->in->data, QS_H2_PREFACE, n) != 0) {
      c->preface_checked = true;
    } else if (n < QS_H2_PREFACE_LEN) {
      return; /* maybe the preface: wait for the rest */
    } else {
      switch_to_h2(c);
      return;
    }
  }
  size_t off = 0;
  while (c->state == ST_READING && off < input_len(c->in)) {
    size_t used = 0;
    qs_h1_event_t ev = qs_h1_parser_feed(c->parser, c->in->data + off, c->in->len - off, &used);
    off += used;
    deadline_refresh(c); /* a request may have begun */
    if (ev == QS_H1_NEED_MORE) break;
    if (ev == QS_H1_CONTINUE) {
      if (qs_h1_enqueue_static(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 0) qs_h1_conn_fail(c, QS_ENOMEM);
      continue;
    }
    if (ev == QS_H1_ERROR) {
      const char *reason;
      int status = qs_h1_parser_status(c->parser, &reason);
      drop_input(c);
      send_error(c, status, reason);
      return;
    }
    /* QS_H1_REQUEST: keep the rest for later, then hand the request over. */
    memmove(c->in->data, c->in->data + off, c->in->len - off);
    c->in->len -= (uint32_t)off;
    off = 0;
    if (!c->in->len) drop_input(c);
    dispatch(c);
    return;
  }
  if (c->state == ST_CLOSED) return;
  if (off) {
    memmove(c->in->data, c->in->data + off, c->in->len - off);
    c->in->len -= (uint32_t)off;
  }
  if (!input_len(c->in)) drop_input(c);
}

/* Input bytes (decrypted, with TLS), in the connection's current state. */
static void on_input(qs_h1_conn_t *c, const char *data, size_t len) {
  qs_http_server_t *s = c->server;
  switch (c->state) {
    case ST_READING:
      process_input(c, data, len);
      break;
    case ST_H2:
      /* A protocol error queues a GOAWAY: close once it is out. */
      if (!h2_feed(c, data, len)) c->close_after = true;
      break;
    case ST_DRAINING:
    case ST_ERRORING:
      break; /* discarded */
    default:
      /* A request is being answered: keep early input, bounded. */
      if (keep_input(c, data, len) != 0) {
        qs_h1_conn_fail(c, QS_ENOMEM);
        return;
      }
      if (input_len(c->in) >= s->limits.max_header_bytes) {
        if (c->state == ST_STREAMING || c->state == ST_STREAM_ENDING)
          qs_h1_conn_fail(c, QS_ECLOSED); /* nobody sends requests behind an event stream */
        else
          read_stop(c);
      }
      break;
  }
}

/* Ciphertext read: everything the session can decrypt goes to on_input now
 * (what waits is kept, bounded, in the connection's input buffer, so nothing
 * is left inside the session when reading stops), then what the session has
 * to say (handshake) is sent. */
static void on_tls_input(qs_h1_conn_t *c, const char *cipher, size_t len) {
  qs_http_server_t *s = c->server;
  if (qs_tls_session_feed(c->tls, cipher, len) != 0) {
    qs_h1_conn_fail(c, QS_ENOMEM);
    return;
  }
  while (c->state != ST_CLOSED) {
    size_t n = 0;
    qs_tls_status_t st = qs_tls_session_read(c->tls, s->tls_plain, READ_BUF_BYTES, &n);
    if (st == QS_TLS_OK) {
      on_input(c, s->tls_plain, n);
      continue;
    }
    if (st == QS_TLS_WANT_READ) break;
    if (st == QS_TLS_ERROR) {
      char text[QS_NET_ADDR_TEXT_MAX];
      qs_net_addr_format(&c->addr, text, sizeof text);
      QS_LOG_DEBUG("TLS failure from %s: closing the connection", text);
    }
    qs_h1_conn_fail(c, QS_ECLOSED); /* close_notify or failure: no more input */
    return;
  }
  if (c->state != ST_CLOSED) tls_send_output(c, false);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  qs_h1_conn_t *c = stream->data;
  qs_http_server_t *s = c->server;
  if (buf->base == s->read_buf) s->read_buf_busy = false;
  if (nread == 0 || c->state == ST_CLOSED) return;
  if (nread < 0) {
    /* EOF or error: the peer is gone (HTTP/1.1 has no half-closed requests worth keeping). */
    qs_h1_conn_fail(c, QS_ECLOSED);
    return;
  }
  if (c->tls)
    on_tls_input(c, buf->base, (size_t)nread);
  else
    on_input(c, buf->base, (size_t)nread);
  deadline_refresh(c); /* whatever the input changed */
}

/* ---- HTTP/2 ------------------------------------------------------------ */

static int h2_send(void *conn, const char *bytes, size_t len) {
  int rc = qs_h1_enqueue_copy(conn, bytes, len, false);
  return rc == QS_ETOOBIG ? QS_ENOMEM : rc;
}

/* New frames: flush soon. A new answer's frames go into the queue at once
 * (unless the session is processing input, where it cannot be pumped, or a
 * write is in flight), so that they are written before the events that the
 * rest of this fan-out queues on the same connection's streams. */
static void h2_wake(void *conn) {
  qs_h1_conn_t *c = conn;
  if (c->state == ST_H2 && !c->pumping && !c->inflight && !c->server->h2_feeding &&
      qs_h2_session_answer_due(c->h2)) {
    c->answer_queued = true;
    c->pumping = true;
    /* A failure shows again at the flush's pump, which closes the connection
     * (not from here: the session is on the caller's stack). */
    (void)qs_h2_session_pump(c->h2, H2_PUMP_BYTES);
    c->pumping = false;
  }
  qs_h1_mark_dirty(c);
}

/* Feeds input to the session; false when the peer broke the protocol. */
static bool h2_feed(qs_h1_conn_t *c, const char *data, size_t len) {
  c->server->h2_feeding = true;
  int rc = qs_h2_session_feed(c->h2, data, len);
  c->server->h2_feeding = false;
  return rc == 0;
}

static void h2_handle(void *conn, qs_http_request_t *req) {
  qs_h1_conn_t *c = conn;
  c->server->handler(req, c->server->ctx);
}

static void h2_phase_changed(void *conn) {
  qs_h1_conn_t *c = conn;
  if (c->state == ST_H2) deadline_refresh(c);
}

static const char *h2_date(void *conn) { return qs_h1_http_date(((qs_h1_conn_t *)conn)->server); }

static const qs_h2_conn_ops_t h2_ops = {h2_send, h2_wake, h2_handle, h2_phase_changed, h2_date};

/* The input starts with the HTTP/2 preface: the connection becomes an
 * HTTP/2 one, and what was read so far goes to its session. */
static void switch_to_h2(qs_h1_conn_t *c) {
  char addr[QS_NET_ADDR_TEXT_MAX];
  qs_net_addr_format(&c->addr, addr, sizeof addr);
  qs_h2_session_t *h2 = qs_h2_session_create(c, &h2_ops, &c->server->limits, addr);
  if (!h2) {
    qs_h1_conn_fail(c, QS_ENOMEM);
    return;
  }
  c->is_h2 = true;
  c->h2 = h2;
  qs_h1_parser_destroy(c->parser);
  c->parser = NULL;
  c->preface_checked = true;
  qs_h1_conn_enter(c, ST_H2);
  input_t *in = c->in;
  c->in = NULL;
  if (in && !h2_feed(c, in->data, in->len)) c->close_after = true;
  free(in);
  qs_h1_mark_dirty(c);
}

/* ---- Closing ----------------------------------------------------------- */

static void fire_stream_close(qs_h1_conn_t *c, int reason) {
  if (!c->stream_open) return;
  c->stream_open = false;
  if (c->stream.on_close) c->stream.on_close(&c->stream, reason, c->stream.ctx);
}

static void on_conn_closed(uv_handle_t *handle) {
  qs_h1_conn_t *c = (qs_h1_conn_t *)handle;
  qs_http_server_t *s = c->server;
  release_segs(s, NULL, c->q_head);
  qs_h1_parser_destroy(c->parser);
  qs_tls_session_destroy(c->tls);
  free(c->in);
  if (c->addr_counted)
    qs_http_admission_release(s->admission, qs_slice((const char *)c->addr.bytes, c->addr.len));
  link_remove(&c->all_link);
  s->conn_count--;
  free(c);
  maybe_finish_close(s);
}

/* Closes the connection now; idempotent. A request still with its handler
 * gets its abort callback, a stream its on_close. */
void qs_h1_conn_fail(qs_h1_conn_t *c, int reason) {
  if (c->state == ST_CLOSED) return;
  qs_h1_conn_enter(c, ST_CLOSED);
  if (link_linked(&c->dirty_link)) link_remove(&c->dirty_link);
  c->reading = false;
  qs_h1_request_t *req = c->req;
  c->req = NULL;
  if (req) {
    req->conn = NULL;
    if (req->on_abort) {
      req->on_abort(&req->pub, req->abort_ctx);
      qs_h1_request_destroy(req);
    } /* else it lingers until answered (the answer returns QS_ECLOSED) */
  }
  fire_stream_close(c, c->stream_reason_closed ? QS_ECLOSED : reason);
  if (c->is_h2 && c->h2) {
    qs_h2_session_t *h2 = c->h2;
    c->h2 = NULL;
    qs_h2_session_destroy(h2, reason);
  }
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* The current answer is out: go on with the next request, or close. */
static void finish_exchange(qs_h1_conn_t *c) {
  if (c->close_after || c->server->closing) {
    start_drain(c);
    return;
  }
  c->chunked = c->head_only = false;
  if (!c->parser) {
    c->parser = qs_h1_parser_create(&c->server->limits);
    if (!c->parser) {
      qs_h1_conn_fail(c, QS_ENOMEM);
      return;
    }
  }
  qs_h1_conn_enter(c, ST_READING);
  read_start(c);
  if (c->in) process_input(c, NULL, 0);
}

static void after_flush(qs_h1_conn_t *c) {
  switch (c->state) {
    case ST_RESPONDING:
      finish_exchange(c);
      break;
    case ST_ERRORING:
      start_drain(c);
      break;
    case ST_STREAM_ENDING:
      qs_h1_conn_enter(c, ST_RESPONDING); /* the stream is no longer writable */
      fire_stream_close(c, c->stream_reason_closed ? QS_ECLOSED : 0);
      if (c->state == ST_RESPONDING) finish_exchange(c);
      break;
    case ST_STREAMING: {
      bool blocked = c->blocked;
      c->blocked = false;
      if ((blocked || !c->drain_blocked_only) && c->stream.on_drain)
        c->stream.on_drain(&c->stream, c->stream.ctx);
      break;
    }
    case ST_H2: {
      bool blocked = c->blocked;
      c->blocked = false;
      qs_h2_session_drained(c->h2, blocked);
      if (c->state != ST_H2) break;
      if (qs_h2_session_wants_write(c->h2))
        qs_h1_mark_dirty(c); /* more frames than one pump took */
      else if (qs_h2_session_finished(c->h2) || (c->close_after && !c->q_head))
        start_drain(c);
      break;
    }
    default:
      break;
  }
  deadline_refresh(c); /* whatever the flush changed */
}

/* ---- Server ------------------------------------------------------------ */

static void on_reject_closed(uv_handle_t *handle) { free(handle); }

static bool admit(qs_http_server_t *s, qs_h1_conn_t *c, int *status) {
  *status = qs_http_admission_take(s->admission, qs_slice((const char *)c->addr.bytes, c->addr.len));
  c->addr_counted = *status == 0;
  return c->addr_counted;
}

static void on_connection(qs_net_listener_t *listener, void *ctx) {
  qs_http_server_t *s = ctx;
  qs_h1_conn_t *c = calloc(1, sizeof *c);
  if (!c) return;
  if (qs_net_listener_accept(listener, &c->tcp, on_reject_closed) != 0) return;
  c->tcp.data = c;
  c->server = s;
  link_init(&c->timeout_link);
  link_init(&c->dirty_link);
  link_append(&s->all, &c->all_link);
  s->conn_count++;
  qs_net_peer_addr(&c->tcp, &c->addr);
  int status = 0;
  if (!admit(s, c, &status)) {
    char text[QS_NET_ADDR_TEXT_MAX];
    qs_net_addr_format(&c->addr, text, sizeof text);
    /* The counts are the process's (every worker shares the admission), not this loop's. */
    if (status == 429)
      QS_LOG_WARN(
          "connection refused status=429 remote=%s: max_connections_per_client (%zu) reached for "
          "this address",
          text, s->limits.max_connections_per_address);
    else
      QS_LOG_WARN("connection refused status=%d remote=%s: max_connections reached (open=%zu max=%zu)",
                  status, text, qs_http_admission_count(s->admission), s->limits.max_connections);
    if (s->tls) {
      qs_h1_conn_fail(c, QS_ECLOSED); /* an answer would need a handshake first */
      return;
    }
    read_start(c);
    send_error(c, status, status == 429 ? "too many connections from this address" : "too many connections");
    return;
  }
  c->parser = qs_h1_parser_create(&s->limits);
  if (!c->parser || (s->tls && !(c->tls = qs_tls_session_create(s->tls)))) {
    qs_h1_conn_fail(c, QS_ENOMEM);
    return;
  }
  qs_h1_conn_enter(c, ST_READING); /* the request deadline runs from now, TLS handshake included */
  read_start(c);
}

void qs_h1_server_expire(qs_http_server_t *s, uint64_t now) {
  for (int list = TIMEOUT_HEADER; list < TIMEOUT_LISTS; list++) {
    while (link_linked(&s->timeouts[list])) {
      qs_h1_conn_t *c = CONTAINER_OF(s->timeouts[list].next, qs_h1_conn_t, timeout_link);
      if (c->deadline_ms > now) break;
      uint8_t expired = c->deadline;
      timeout_clear(c);
      /* A late HTTP/1.x request is told why; anything else just closes. */
      if (expired == DL_REQUEST && c->state == ST_READING && !tls_pending(c))
        send_error(c, 408, "request timeout (header_read_timeout)");
      else
        qs_h1_conn_fail(c, QS_ECLOSED);
    }
  }
}

static void on_sweep(uv_timer_t *timer) {
  qs_http_server_t *s = timer->data;
  qs_h1_server_expire(s, uv_now(s->loop));
}

static void on_handle_closed(uv_handle_t *handle) {
  qs_http_server_t *s = handle->data;
  if (--s->handles_open > 0) return;
  void (*cb)(void *) = s->on_closed;
  void *ctx = s->closed_ctx;
  qs_http_admission_destroy(s->own_admission);
  while (s->slabs) {
    seg_slab_t *next = s->slabs->next;
    free(s->slabs);
    s->slabs = next;
  }
  free(s->read_buf);
  free(s->tls_plain);
  free(s);
  if (cb) cb(ctx);
}

static void maybe_finish_close(qs_http_server_t *s) {
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
  maybe_finish_close(s);
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
  s->read_buf = malloc(READ_BUF_BYTES);
  if (!s->read_buf) {
    free(s);
    return QS_ENOMEM;
  }
  s->loop = loop;
  s->limits = lim;
  s->handler = handler;
  s->ctx = ctx;
  link_init(&s->all);
  link_init(&s->dirty);
  link_init(&s->held);
  s->coalesce_ns = lim.coalesce_max_delay_ms * 1000000;
  s->counters = lim.counters ? lim.counters : &s->own_counters;
  for (int i = 0; i < TIMEOUT_LISTS; i++) link_init(&s->timeouts[i]);
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
  int rc = qs_net_listener_create(loop, host, port, 0, on_connection, s, &s->listener);
  if (rc) {
    qs_http_admission_destroy(s->own_admission);
    free(s->read_buf);
    free(s);
    return rc;
  }
  s->port = qs_net_listener_port(s->listener);
  uv_timer_init(loop, &s->sweep);
  uv_check_init(loop, &s->flush_check);
  uv_idle_init(loop, &s->flush_idle);
  uv_timer_init(loop, &s->coalesce_timer);
  s->sweep.data = s->flush_check.data = s->flush_idle.data = s->coalesce_timer.data = s;
  uv_check_start(&s->flush_check, on_flush_check);
  /* The sweep runs a few times per shortest timeout; deadlines are kept to that resolution. */
  uint64_t shortest =
      lim.header_timeout_ms < lim.idle_timeout_ms ? lim.header_timeout_ms : lim.idle_timeout_ms;
  if (shortest > LINGER_MS) shortest = LINGER_MS;
  uint64_t period = shortest / 4;
  if (period < 5) period = 5;
  if (period > 1000) period = 1000;
  uv_timer_start(&s->sweep, on_sweep, period, period);
  uv_unref((uv_handle_t *)&s->sweep);
  *out = s;
  return 0;
}

int qs_http_server_use_tls(qs_http_server_t *server, qs_tls_context_t *tls) {
  if (!server->tls_plain && !(server->tls_plain = malloc(READ_BUF_BYTES))) return QS_ENOMEM;
  server->tls = tls;
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
    qs_h1_conn_t *c = CONTAINER_OF(l, qs_h1_conn_t, all_link);
    c->close_after = true;
    switch (c->state) {
      case ST_READING:
        qs_h1_conn_fail(c, QS_ECLOSED);
        break;
      case ST_STREAMING:
        c->stream_reason_closed = 1;
        qs_h1_stream_end(c);
        deadline_refresh(c);
        break;
      case ST_STREAM_ENDING:
        c->stream_reason_closed = 1;
        deadline_refresh(c);
        break;
      case ST_HANDLING:
      case ST_RESPONDING:
        deadline_refresh(c);
        break;
      case ST_H2:
        qs_h2_session_shutdown(c->h2);
        deadline_refresh(c);
        break;
      default:
        break;
    }
  }
  uv_ref((uv_handle_t *)&s->sweep);
  s->saturated = false;
  if (s->window_end_ns) {
    release_held(s);
    uv_idle_start(&s->flush_idle, on_idle_noop);
  }
  maybe_finish_close(s);
}
