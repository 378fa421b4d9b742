/* What the HTTP server's files share (server.c: accepting, reading, the
 * write queue, timeouts and closing; h1_response.c: HTTP/1.x answers and
 * event streams behind http.h). Not part of the folder's contract. */
#ifndef QS_HTTP_SERVER_INTERNAL_H
#define QS_HTTP_SERVER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "http/admission.h"
#include "http/http1_internal.h"
#include "http/http2_internal.h"
#include "net/listener.h"
#include "net/tls.h"

typedef struct qs_link {
  struct qs_link *prev, *next;
} qs_link_t;

#define CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

typedef struct seg seg_t;           /* a queued piece of output (server.c) */
typedef struct seg_slab seg_slab_t; /* a slab of pooled reference blocks (server.c) */
typedef struct batch batch_t;       /* a write in flight (server.c) */
typedef struct input input_t;       /* input kept for later (server.c) */

/* The deadline a connection is under: every condition has one but an open
 * event stream (server.c, deadline_wanted, says which is which). */
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

struct qs_h1_conn {
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
  uint64_t deadline_ms;
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
  qs_tls_session_t *tls;  /* NULL for plaintext */
};

/* DESIGN: at most 1 KiB of user-space memory per idle subscriber; this
 * struct (plus the allocator's header) is all an idle HTTP/1.1 stream costs
 * here. glibc serves up to 440 bytes from a 448-byte chunk: 8 bytes more
 * cost 16. */
_Static_assert(sizeof(qs_h1_conn_t) <= 440, "keep idle connections small");

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
  size_t burst_max; /* most bytes queued on a connection with no write in flight, this iteration */
  /* Adaptive coalescing (server.c, "Coalescing"). */
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
  uv_timer_t coalesce_timer;    /* the window's end, armed only while one is open */
  qs_http_counters_t *counters; /* limits.counters, or own_counters */
  qs_http_counters_t own_counters;
  char *read_buf;
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

/* ---- Between the files (server.c unless said otherwise) ---- */

/* Moves the connection to `state` and puts it under the deadline that state
 * calls for: every state change goes through here, so none can be left
 * without one. */
void qs_h1_conn_enter(qs_h1_conn_t *c, conn_state_t state);

/* Acts on every deadline at or before `now_ms`: a late HTTP/1.x request
 * is answered 408, anything else closed. The sweep timer calls it with the
 * loop's time; the connection fuzz target with a later time, to let time pass. */
void qs_h1_server_expire(qs_http_server_t *server, uint64_t now_ms);

/* Queues the connection for the flush at the end of the loop iteration. */
void qs_h1_mark_dirty(qs_h1_conn_t *c);

/* Queues a copy of `bytes` (`chunk`: stream body bytes needing chunked
 * framing). Returns 0, QS_ENOMEM or QS_ETOOBIG. */
int qs_h1_enqueue_copy(qs_h1_conn_t *c, const char *bytes, size_t len, bool chunk);

/* Queues static bytes (never freed). Returns 0 or QS_ENOMEM. */
int qs_h1_enqueue_static(qs_h1_conn_t *c, const char *bytes, size_t len);

/* Queues a reference to `bytes`, given back with release(owner) once written
 * or dropped, in the connection's pooled blocks. Returns 0 or QS_ENOMEM. */
int qs_h1_enqueue_ref(qs_h1_conn_t *c, qs_slice_t bytes, bool chunk, void (*release)(void *owner),
                      void *owner);

/* Closes the connection now; idempotent. A request still with its handler
 * gets its abort callback, a stream its on_close. */
void qs_h1_conn_fail(qs_h1_conn_t *c, int reason);

/* Ends the connection's event stream after what is queued (h1_response.c). */
void qs_h1_stream_end(qs_h1_conn_t *c);

/* The Date header's value for now, cached per second (h1_response.c). */
const char *qs_h1_http_date(qs_http_server_t *s);

#endif
