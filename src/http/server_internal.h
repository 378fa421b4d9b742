/* The two objects every file of the HTTP server shares: the server (one per
 * loop) and its connections. Not part of the folder's contract. Each file's
 * functions are declared in its own header:
 *   accept.h          accepting and admission (connection limits)
 *   conn_read.h       reading, the input buffer, HTTP/1.x request parsing
 *   conn.h            a connection's life after an answer: keep-alive, drain, close
 *   deadline.h        the deadline every condition of a connection is under
 *   write_queue.h     the per-connection queue of output segments
 *   write_schedule.h  when connections are flushed: answers first, coalescing
 *   conn_write.h      flushing one connection's queue to its socket
 *   transport.h       what carries the bytes: plain TCP, TLS (net/tls.h on memory BIOs)
 *   h2_conn.h         an HTTP/2 session (http2.c) on a connection
 *   h1_response.c     HTTP/1.x answers and event streams behind http.h */
#ifndef QS_HTTP_SERVER_INTERNAL_H
#define QS_HTTP_SERVER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/list.h"
#include "http/admission.h"
#include "http/http1_internal.h"
#include "http/http2_internal.h"
#include "net/listener.h"
#include "net/tls.h"

/* Shared per-loop read buffer: connections own no read memory. */
#define QS_HTTP_READ_BUF_BYTES (64 * 1024)
/* How long a connection that is being closed waits for its peer's EOF (or,
 * on shutdown, for a pending answer) before it is closed hard. */
#define QS_HTTP_LINGER_MS 2000
/* HTTP/2 frames moved into a connection's queue per flush (the session
 * keeps the rest, within the streams' flow-control windows). */
#define QS_HTTP_H2_PUMP_BYTES (64 * 1024)
/* Chunk headers per batch (stream bytes are framed as one chunk per run). */
#define QS_HTTP_MAX_RUNS 4

typedef struct seg seg_t;                             /* a queued piece of output (write_queue.c) */
typedef struct seg_slab seg_slab_t;                   /* a slab of pooled reference blocks (write_queue.c) */
typedef struct batch batch_t;                         /* a write in flight (conn_write.h) */
typedef struct input input_t;                         /* input kept for later (conn_read.h) */
typedef struct qs_http_transport qs_http_transport_t; /* plain TCP or TLS (transport.h) */

/* The deadline a connection is under: every condition has one but an open
 * event stream (deadline.c, deadline_wanted, says which is which). */
typedef enum {
  DL_NONE = 0,  /* an event stream (heartbeats and dispatch_timeout keep it honest), or closed */
  DL_REQUEST,   /* a request is incomplete (or the TLS handshake, or an HTTP/2 stream's request) */
  DL_KEEPALIVE, /* between requests; an HTTP/2 connection without streams */
  DL_SERVER,    /* the handler has the request, or an answer waits for the client to read it */
  DL_LINGER,    /* closing: the last bytes leave, the peer's EOF is awaited */
} deadline_t;

/* The timeout lists, one per duration, so each is ordered by deadline. */
enum { TIMEOUT_HEADER = 0, TIMEOUT_IDLE, TIMEOUT_LINGER, TIMEOUT_LISTS };

typedef enum {
  ST_READING = 0,
  ST_HANDLING,
  ST_RESPONDING,
  ST_ERRORING, /* an error answer is queued; input is discarded */
  ST_STREAMING,
  ST_STREAM_ENDING,
  ST_DRAINING,
  ST_H2, /* an HTTP/2 connection: its streams live in the session */
  ST_CLOSED,
} conn_state_t;

struct qs_http_conn {
  uv_tcp_t tcp; /* first: the handle's memory is the connection's */
  qs_http_server_t *server;
  /* What every queued write and every flush touches, together on one cache
   * line (a fan-out goes through thousands of connections per update). */
  qs_link_t dirty_link;
  seg_t *q_head, *q_tail;
  size_t queued_bytes;
  batch_t *inflight;
  uint8_t state;
  bool chunked;
  bool head_only;
  bool drain_blocked_only; /* qs_http_stream_drain_blocked_only */
  bool blocked;            /* a write waited for the kernel since the last drain */
  bool is_h2;              /* an HTTP/2 connection: `h2` is set, `stream` unused */
  bool preface_checked;    /* the first bytes are known not to be the HTTP/2 preface */
  bool pumping;            /* the HTTP/2 session is filling the queue: no need to mark dirty */
  qs_link_t all_link;
  qs_link_t timeout_link;
  union {
    uint64_t deadline_ms; /* under a deadline */
    int fail_reason;      /* CLOSED (no deadline): the reason its callbacks get (conn.c) */
  };
  qs_h1_parser_t *parser; /* NULL while a stream runs */
  qs_h1_request_t *req;   /* while HANDLING */
  input_t *in;            /* input that arrived before it could be parsed; NULL when empty */
  union {
    struct qs_http_stream stream; /* HTTP/1.x */
    qs_h2_session_t *h2;          /* HTTP/2 (is_h2) */
  };
  qs_net_addr_t addr;
  uint8_t deadline;             /* deadline_t */
  uint8_t stream_reason_closed; /* the stream ends because of the server's shutdown */
  bool reading;
  bool close_after; /* close instead of keeping alive once the current answer is out */
  bool stream_open; /* on_close not yet called */
  bool addr_counted : 1;
  bool served : 1;        /* a request was answered: between requests, the keep-alive deadline applies */
  bool held : 1;          /* on the server's `held` list: its stream bytes wait for the coalescing window */
  bool answer_queued : 1; /* HTTP/2: an answer's frames are in the queue, not yet written */
  bool pending : 1;       /* counted in the server's write generation (`pending_gen`) */
  bool pending_gen : 1;   /* the parity of that generation */
  uint8_t transport;      /* which of qs_http_transports (transport.h) carries its bytes */
  void *tx;               /* the transport's state (TLS: its qs_tls_session_t), or NULL */
};

/* DESIGN: at most 1 KiB of user-space memory per idle subscriber; this
 * struct (plus the allocator's header) is all an idle HTTP/1.1 stream costs
 * here. glibc serves up to 440 bytes from a 448-byte chunk: 8 bytes more
 * cost 16. */
_Static_assert(sizeof(qs_http_conn_t) <= 440, "keep idle connections small");

struct qs_http_server {
  uv_loop_t *loop;
  qs_net_listener_t *listener;
  qs_http_limits_t limits;
  qs_http_handler_fn handler;
  void *ctx;
  uv_timer_t sweep;
  uv_check_t flush_check;
  uv_idle_t flush_idle; /* keeps the poll from blocking while output waits for the check */
  qs_link_t all;
  qs_link_t timeouts[TIMEOUT_LISTS];
  qs_link_t dirty;
  size_t conn_count;
  qs_http_admission_t *admission; /* limits.admission, or own_admission */
  qs_http_admission_t *own_admission;
  void (*on_flush)(void *ctx); /* called between answers and streams */
  void *on_flush_ctx;
  void (*on_written)(void *ctx, bool all); /* a write generation is done (write_schedule.c) */
  void *on_written_ctx;
  /* Write generations (write_schedule.c, "Generations"): the current one,
   * and the connections waiting on the lists counted by the parity of the
   * generation they joined them in. */
  uint64_t write_gen;
  uint32_t gen_pending[2];
  size_t burst_max; /* most bytes queued on a connection with no write in flight, this iteration */
  /* Adaptive coalescing (write_schedule.c, "Coalescing"). */
  uint64_t coalesce_ns;         /* limits.coalesce_max_delay_ms; 0: never */
  uint64_t window_end_ns;       /* the open window's end (uv_hrtime); 0: none open */
  uint64_t measured_ns;         /* when the load was last judged (uv_hrtime) */
  uint64_t busy_ns;             /* time in flushes that wrote streams since then */
  uint64_t burst_ns;            /* when the current burst of stream writes began; 0: none */
  uint32_t turn;                /* loop turns (flush checks) so far */
  uint32_t burst_turn;          /* the turn the current burst began in */
  bool fresh;                   /* streams were queued in a later turn than the burst's first */
  bool saturated;               /* stream writes take most of the loop's time: hold them */
  qs_link_t held;               /* stream connections waiting for the window's end */
  qs_link_t failed;             /* closed connections whose callbacks are due (by timeout_link; conn.c) */
  uv_timer_t coalesce_timer;    /* the window's end, armed only while one is open */
  qs_http_counters_t *counters; /* limits.counters, or own_counters */
  qs_http_counters_t own_counters;
  char *read_buf;
  uint8_t transport;     /* the transport of the connections it accepts (transport.h) */
  qs_tls_context_t *tls; /* borrowed; NULL for plaintext */
  char *tls_plain;       /* decrypted input, READ_BUF_BYTES, shared like read_buf */
  seg_t *free_segs;      /* the segment pool's free list */
  seg_slab_t *slabs;     /* every block of the pool */
  bool read_buf_busy;
  bool h2_feeding; /* an HTTP/2 session is processing input: it cannot be pumped now */
  bool closing;
  bool handles_closing;
  int handles_open;
  void (*on_closed)(void *ctx);
  void *closed_ctx;
  int port;
  int64_t date_sec;
  char date[64];
};

/* ---- Between the files ---- */

/* Ends the connection's event stream after what is queued (h1_response.c). */
void qs_h1_stream_end(qs_http_conn_t *c);

/* The Date header's value for now, cached per second (h1_response.c). */
const char *qs_http_date(qs_http_server_t *s);

/* Frees the server once it is closing and its listener, connections and
 * handles are gone (server.c); called as each of them goes. */
void qs_http_server_maybe_finish_close(qs_http_server_t *s);

#endif
