/* HTTP/2 sessions with nghttp2: streams become requests for the handler,
 * answers and event streams become frames (http2_internal.h).
 *
 * A stream's object (h2_stream_t) holds the request while it is built and
 * handled, then the response data waiting for the peer's flow-control
 * window. It lives until nghttp2 has closed the stream and nobody outside
 * holds it (the handler before it answers, the producer of an event stream
 * before its on_close). */
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/list.h"
#include "base/log.h"
#include "http/http2_internal.h"
#include "net/listener.h"

/* SETTINGS_MAX_CONCURRENT_STREAMS: event streams per connection (a browser
 * multiplexes every EventSource of an origin over one connection). */
#define H2_MAX_CONCURRENT_STREAMS 128
/* Reference chunks (one per delivered event) a session keeps for reuse. */
#define H2_CHUNK_POOL 1024
/* Most response headers (those given plus :status, content-length, date). */
#define H2_MAX_RESPONSE_HEADERS 64

/* Response bytes waiting for the peer's window: a copy, or a reference
 * released once framed. */
typedef struct chunk {
  struct chunk *next;
  const char *ptr;
  size_t len;
  void (*release)(void *owner);
  void *owner;
  char data[];
} chunk_t;

typedef enum {
  S_RECEIVING = 0, /* headers and body arriving */
  S_HANDLING,      /* the handler has the request */
  S_ANSWERED,      /* a complete answer is being sent */
  S_STREAMING,     /* an event stream is open */
  S_ENDING,        /* the event stream ends once its data left */
} stream_state_t;

typedef struct h2_stream {
  qs_http_request_t pub;
  struct qs_http_stream stream;
  qs_h2_session_t *session; /* NULL once the session is gone */
  qs_link_t link;           /* in the session's `streams` while it has a session */
  int32_t id;
  uint8_t state;
  bool closed;      /* nghttp2 closed the stream, or the session is gone */
  bool handler_has; /* the handler holds `pub` */
  bool stream_open; /* the event stream's on_close is still to come */
  bool is_head;
  bool deferred;  /* the data source is paused: resume it on the next write */
  bool drain_due; /* every queued byte was framed since the last drain */
  bool blocked;   /* some bytes waited for the window or the kernel */
  bool drain_blocked_only;
  bool reason_closed; /* ends because of the server's shutdown */
  bool due;           /* on the session's `due` list: a callback waits for qs_h2_session_run_due */
  bool due_abort;     /* that callback is the request's on_abort (else the stream's on_close) */
  int due_reason;     /* on_close's reason */
  struct h2_stream *due_next;
  bool receiving;    /* counted in the session's `receiving` */
  int refuse_status; /* answered without the handler (431, 413, 400) */
  const char *refuse_reason;
  /* The request: header names and values (and the pseudo-headers) in one
   * arena, placed by offsets until it is complete. */
  qs_buf_t arena;
  uint32_t *spans; /* per header: name offset, name length, value offset, value length */
  size_t span_count, span_cap;
  size_t header_bytes;
  uint32_t method_off, method_len, path_off, path_len, authority_off, authority_len;
  bool has_method, has_path, has_authority;
  qs_http_header_t *headers;
  qs_buf_t cookies; /* the cookie fields joined into one (RFC 9113, 8.2.3) */
  qs_buf_t body;
  void (*on_abort)(qs_http_request_t *req, void *ctx);
  void *abort_ctx;
  /* The response's data. */
  chunk_t *q_head, *q_tail;
  size_t q_off; /* bytes of q_head already framed */
  size_t queued;
  char remote_addr[QS_NET_ADDR_TEXT_MAX];
} h2_stream_t;

struct qs_h2_session {
  nghttp2_session *ng;
  void *conn;
  qs_h2_conn_ops_t ops;
  qs_http_limits_t limits;
  qs_link_t streams;    /* every stream object the session still knows (h2_stream_t.link), newest first */
  size_t open;          /* nghttp2 streams with an object */
  size_t receiving;     /* streams whose request is still incomplete */
  chunk_t *free_chunks; /* reference chunks for reuse */
  size_t free_chunk_count;
  bool destroying;
  bool answer_due;                  /* a response head was submitted since the last pump */
  h2_stream_t *due_head, *due_tail; /* streams whose callback is due, in order */
  char remote_addr[QS_NET_ADDR_TEXT_MAX];
};

/* ---- Stream objects ----------------------------------------------------- */

/* The stream's request is complete, refused or gone. */
static void stop_receiving(h2_stream_t *st) {
  if (!st->receiving) return;
  st->receiving = false;
  if (st->session) st->session->receiving--;
}

static void unlink_stream(h2_stream_t *st) {
  stop_receiving(st);
  qs_h2_session_t *s = st->session;
  if (!s) return;
  qs_link_remove(&st->link);
  st->session = NULL;
}

/* Done with a chunk: its reference is released, and a reference chunk goes
 * back to the session's pool (no allocation per delivered event). */
static void chunk_done(qs_h2_session_t *s, chunk_t *c) {
  if (c->release) c->release(c->owner);
  if (s && c->ptr != c->data && s->free_chunk_count < H2_CHUNK_POOL) {
    c->next = s->free_chunks;
    s->free_chunks = c;
    s->free_chunk_count++;
    return;
  }
  free(c);
}

static void release_chunks(h2_stream_t *st) {
  for (chunk_t *c = st->q_head, *next; c; c = next) {
    next = c->next;
    chunk_done(st->session, c);
  }
  st->q_head = st->q_tail = NULL;
  st->q_off = st->queued = 0;
}

static void free_stream(h2_stream_t *st) {
  unlink_stream(st);
  release_chunks(st);
  qs_buf_dispose(&st->cookies);
  qs_buf_dispose(&st->arena);
  qs_buf_dispose(&st->body);
  free(st->spans);
  free(st->headers);
  free(st);
}

/* The request is consumed once answered (http.h): its memory goes, which
 * is most of what an idle event stream would otherwise keep. */
static void drop_request(h2_stream_t *st) {
  qs_buf_dispose(&st->cookies);
  qs_buf_dispose(&st->arena);
  qs_buf_dispose(&st->body);
  free(st->spans);
  free(st->headers);
  st->spans = NULL;
  st->headers = NULL;
  st->span_count = st->span_cap = 0;
  memset(&st->pub, 0, sizeof st->pub);
  st->pub.version_major = 2;
  st->pub.protocol = &qs_http_protocol_h2;
}

static h2_stream_t *stream_of_id(qs_h2_session_t *s, int32_t id) {
  return nghttp2_session_get_stream_user_data(s->ng, id);
}

static h2_stream_t *request_of(qs_http_request_t *req) { return QS_CONTAINER_OF(req, h2_stream_t, pub); }

static h2_stream_t *h2_of(const qs_http_stream_t *stream) {
  return QS_CONTAINER_OF(stream, h2_stream_t, stream);
}

static void fire_on_close(h2_stream_t *st, int reason) {
  if (!st->stream_open) return;
  st->stream_open = false;
  if (st->stream.on_close) st->stream.on_close(&st->stream, reason, st->stream.ctx);
}

/* Puts the stream's on_close (or, `abort`, its request's on_abort) on the
 * session's due list: it runs from the loop (qs_h2_session_run_due), never
 * inside the call that ended the stream. */
static void defer_callback(h2_stream_t *st, bool abort, int reason) {
  qs_h2_session_t *s = st->session;
  st->due = true;
  st->due_abort = abort;
  st->due_reason = reason;
  st->due_next = NULL;
  if (s->due_tail)
    s->due_tail->due_next = st;
  else
    s->due_head = st;
  s->due_tail = st;
  s->ops.wake(s->conn);
}

/* ---- Answers ----------------------------------------------------------- */

/* The data source of every response: the stream's chunks, then EOF once the
 * answer is complete or the event stream ends. */
static ssize_t read_data(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                         nghttp2_data_source *source, void *user_data) {
  (void)ng;
  (void)id;
  (void)user_data;
  h2_stream_t *st = source->ptr;
  size_t copied = 0;
  while (st->q_head && copied < length) {
    chunk_t *c = st->q_head;
    size_t n = c->len - st->q_off;
    if (n > length - copied) n = length - copied;
    memcpy(buf + copied, c->ptr + st->q_off, n);
    copied += n;
    st->q_off += n;
    if (st->q_off == c->len) {
      st->q_head = c->next;
      if (!st->q_head) st->q_tail = NULL;
      st->q_off = 0;
      chunk_done(st->session, c);
    }
  }
  st->queued -= copied;
  if (st->q_head) {
    st->blocked = true;
    return (ssize_t)copied;
  }
  if (copied) st->drain_due = true;
  if (st->state == S_ANSWERED || st->state == S_ENDING) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)copied;
  }
  if (copied) return (ssize_t)copied;
  st->deferred = true;
  return NGHTTP2_ERR_DEFERRED;
}

static bool is_connection_header(qs_slice_t name) {
  static const char *const names[] = {"connection",        "keep-alive", "proxy-connection",
                                      "transfer-encoding", "upgrade",    "content-length"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (qs_slice_eq_nocase(name, qs_slice_from_cstr(names[i]))) return true;
  return false;
}

/* Submits the response head, then the stream's queue as its body when
 * `with_data` (else the head ends the stream), with a content-length when
 * given. Names are lowercased (RFC 9113, section 8.2.1). */
static int submit_head(h2_stream_t *st, int status, const qs_http_header_t *headers, size_t count,
                       const size_t *content_length, bool with_data) {
  qs_h2_session_t *s = st->session;
  nghttp2_nv nv[H2_MAX_RESPONSE_HEADERS];
  size_t n = 0;
  char status_text[4] = {(char)('0' + status / 100 % 10), (char)('0' + status / 10 % 10),
                         (char)('0' + status % 10), 0};
  qs_buf_t names;
  qs_buf_init(&names, (size_t)-1);
  size_t names_len = 0;
  for (size_t i = 0; i < count; i++) names_len += headers[i].name.len;
  if (qs_buf_reserve(&names, names_len + 1) != 0) return QS_ENOMEM;
  nv[n++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)status_text, 7, 3, NGHTTP2_NV_FLAG_NONE};
  for (size_t i = 0; i < count && n < H2_MAX_RESPONSE_HEADERS - 2; i++) {
    if (is_connection_header(headers[i].name)) continue;
    char *lower = names.ptr + names.len;
    for (size_t j = 0; j < headers[i].name.len; j++) {
      char ch = headers[i].name.ptr[j];
      lower[j] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    names.len += headers[i].name.len;
    nv[n++] = (nghttp2_nv){(uint8_t *)lower, (uint8_t *)headers[i].value.ptr, headers[i].name.len,
                           headers[i].value.len, NGHTTP2_NV_FLAG_NONE};
  }
  char length_text[24];
  if (content_length) {
    int len = snprintf(length_text, sizeof length_text, "%zu", *content_length);
    nv[n++] = (nghttp2_nv){(uint8_t *)"content-length", (uint8_t *)length_text, 14, (size_t)len,
                           NGHTTP2_NV_FLAG_NONE};
  }
  const char *date = s->ops.date(s->conn);
  nv[n++] = (nghttp2_nv){(uint8_t *)"date", (uint8_t *)date, 4, strlen(date), NGHTTP2_NV_FLAG_NONE};
  nghttp2_data_provider provider = {.source.ptr = st, .read_callback = read_data};
  int rc = nghttp2_submit_response(s->ng, st->id, nv, n, with_data ? &provider : NULL);
  qs_buf_dispose(&names);
  if (rc == 0) s->answer_due = true;
  if (rc == NGHTTP2_ERR_NOMEM) return QS_ENOMEM;
  return rc < 0 ? QS_EIO : 0;
}

/* Queues `len` bytes (copied, or referenced until framed). */
static int queue_bytes(h2_stream_t *st, const char *bytes, size_t len, void (*release)(void *), void *owner,
                       bool copy) {
  qs_h2_session_t *s = st->session;
  chunk_t *c;
  if (!copy && s && s->free_chunks) {
    c = s->free_chunks;
    s->free_chunks = c->next;
    s->free_chunk_count--;
  } else if (!(c = malloc(sizeof *c + (copy ? len : 0)))) {
    return QS_ENOMEM;
  }
  *c = (chunk_t){.ptr = copy ? c->data : bytes, .len = len, .release = release, .owner = owner};
  if (copy) memcpy(c->data, bytes, len);
  if (st->q_tail)
    st->q_tail->next = c;
  else
    st->q_head = c;
  st->q_tail = c;
  st->queued += len;
  return 0;
}

/* Answers without the handler (a request refused by a limit); what the peer
 * still sends on the stream is dropped. */
static void answer_refusal(h2_stream_t *st) {
  char body[160];
  int n = snprintf(body, sizeof body, "%s\n", st->refuse_reason);
  qs_http_header_t h = {qs_slice_from_cstr("content-type"), qs_slice_from_cstr("text/plain; charset=utf-8")};
  size_t length = (size_t)n;
  stop_receiving(st);
  st->state = S_ANSWERED;
  if (queue_bytes(st, body, (size_t)n, NULL, NULL, true) != 0 ||
      submit_head(st, st->refuse_status, &h, 1, &length, true) != 0) {
    nghttp2_submit_rst_stream(st->session->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
  }
  QS_LOG_DEBUG("http/2 refusal status=%d reason=\"%s\" remote=%s", st->refuse_status, st->refuse_reason,
               st->remote_addr);
  st->session->ops.wake(st->session->conn);
}

static void refuse(h2_stream_t *st, int status, const char *reason) {
  if (st->refuse_status) return;
  st->refuse_status = status;
  st->refuse_reason = reason;
}

/* ---- Requests ----------------------------------------------------------- */

static qs_slice_t arena_slice(const h2_stream_t *st, uint32_t off, uint32_t len) {
  return qs_slice(st->arena.ptr ? st->arena.ptr + off : "", len);
}

/* Hands the complete request to the handler. */
static void dispatch(h2_stream_t *st) {
  qs_h2_session_t *s = st->session;
  if (!st->has_method || !st->has_path) refuse(st, 400, "missing :method or :path");
  if (st->refuse_status) {
    answer_refusal(st);
    return;
  }
  /* A client may send each cookie in a field of its own (RFC 9113, 8.2.3):
   * they are joined with "; " into one, as an HTTP/1.1 request carries them. */
  size_t cookie_fields = 0;
  for (size_t i = 0; i < st->span_count; i += 4)
    if (qs_slice_eq_cstr(arena_slice(st, st->spans[i], st->spans[i + 1]), "cookie")) cookie_fields++;
  if (cookie_fields > 1) {
    qs_buf_init(&st->cookies, (size_t)-1);
    for (size_t i = 0; i < st->span_count; i += 4) {
      if (!qs_slice_eq_cstr(arena_slice(st, st->spans[i], st->spans[i + 1]), "cookie")) continue;
      if ((st->cookies.len && qs_buf_append(&st->cookies, "; ", 2) != 0) ||
          qs_buf_append(&st->cookies, st->arena.ptr + st->spans[i + 2], st->spans[i + 3]) != 0) {
        refuse(st, 503, "out of memory");
        answer_refusal(st);
        return;
      }
    }
  }
  /* The authority becomes a Host header, first, for handlers that read it. */
  size_t count =
      st->span_count / 4 + (st->has_authority ? 1 : 0) - (cookie_fields > 1 ? cookie_fields - 1 : 0);
  if (count) {
    st->headers = malloc(count * sizeof *st->headers);
    if (!st->headers) {
      refuse(st, 503, "out of memory");
      answer_refusal(st);
      return;
    }
  }
  size_t k = 0;
  if (st->has_authority)
    st->headers[k++] =
        (qs_http_header_t){qs_slice_from_cstr("host"), arena_slice(st, st->authority_off, st->authority_len)};
  bool cookies_placed = false;
  for (size_t i = 0; i < st->span_count; i += 4) {
    qs_slice_t name = arena_slice(st, st->spans[i], st->spans[i + 1]);
    qs_slice_t value = arena_slice(st, st->spans[i + 2], st->spans[i + 3]);
    if (cookie_fields > 1 && qs_slice_eq_cstr(name, "cookie")) {
      if (cookies_placed) continue;
      cookies_placed = true;
      value = qs_buf_slice(&st->cookies);
    }
    st->headers[k++] = (qs_http_header_t){name, value};
  }
  qs_http_request_t *pub = &st->pub;
  pub->method = arena_slice(st, st->method_off, st->method_len);
  pub->target = arena_slice(st, st->path_off, st->path_len);
  qs_http_split_target(pub);
  pub->headers = st->headers;
  pub->header_count = count;
  pub->body = qs_buf_slice(&st->body);
  pub->has_origin = qs_http_request_header(pub, "origin", &pub->origin);
  pub->remote_addr = st->remote_addr;
  pub->version_major = 2;
  pub->version_minor = 0;
  pub->protocol = &qs_http_protocol_h2;
  st->is_head = qs_slice_eq_cstr(pub->method, "HEAD");
  stop_receiving(st);
  st->state = S_HANDLING;
  st->handler_has = true;
  s->ops.handle(s->conn, pub);
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *user_data) {
  qs_h2_session_t *s = user_data;
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  h2_stream_t *st = calloc(1, sizeof *st);
  if (!st) return NGHTTP2_ERR_CALLBACK_FAILURE;
  qs_link_init(&st->link);
  st->id = frame->hd.stream_id;
  qs_buf_init(&st->arena, s->limits.max_header_bytes + 64);
  qs_buf_init(&st->body, s->limits.max_body_bytes);
  memcpy(st->remote_addr, s->remote_addr, sizeof st->remote_addr);
  st->session = s;
  qs_link_prepend(&s->streams, &st->link);
  if (nghttp2_session_set_stream_user_data(ng, st->id, st) != 0) {
    free_stream(st);
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  s->open++;
  st->receiving = true;
  s->receiving++;
  s->ops.phase_changed(s->conn);
  return 0;
}

/* Stores `bytes` in the arena; false when it does not fit (the limit). */
static bool arena_put(h2_stream_t *st, const uint8_t *bytes, size_t len, uint32_t *off) {
  *off = (uint32_t)st->arena.len;
  return qs_buf_append(&st->arena, bytes, len) == 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data) {
  (void)flags;
  qs_h2_session_t *s = user_data;
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0; /* trailers */
  h2_stream_t *st = stream_of_id(s, frame->hd.stream_id);
  if (!st || st->refuse_status) return 0;
  (void)ng;
  /* The accounting of SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113, 6.5.2). */
  st->header_bytes += namelen + valuelen + 32;
  if (st->header_bytes > s->limits.max_header_bytes) {
    refuse(st, 431, "request header fields too large");
    return 0;
  }
  uint32_t name_off, value_off;
  if (namelen && name[0] == ':') {
    uint32_t *off = NULL, *len = NULL;
    bool *has = NULL;
    if (namelen == 7 && memcmp(name, ":method", 7) == 0)
      off = &st->method_off, len = &st->method_len, has = &st->has_method;
    else if (namelen == 5 && memcmp(name, ":path", 5) == 0)
      off = &st->path_off, len = &st->path_len, has = &st->has_path;
    else if (namelen == 10 && memcmp(name, ":authority", 10) == 0)
      off = &st->authority_off, len = &st->authority_len, has = &st->has_authority;
    if (!off) return 0; /* :scheme */
    if (!arena_put(st, value, valuelen, off)) {
      refuse(st, 431, "request header fields too large");
      return 0;
    }
    *len = (uint32_t)valuelen;
    *has = true;
    return 0;
  }
  if (st->span_count / 4 + 1 > s->limits.max_header_count) {
    refuse(st, 431, "too many request header fields");
    return 0;
  }
  if (namelen == 14 && memcmp(name, "content-length", 14) == 0) {
    char digits[24];
    size_t n = valuelen < sizeof digits - 1 ? valuelen : sizeof digits - 1;
    memcpy(digits, value, n);
    digits[n] = '\0';
    if (valuelen >= sizeof digits - 1 || strtoull(digits, NULL, 10) > s->limits.max_body_bytes) {
      refuse(st, 413, "request body too large");
      return 0;
    }
  }
  if (st->span_count + 4 > st->span_cap) {
    size_t cap = st->span_cap ? st->span_cap * 2 : 32;
    uint32_t *spans = realloc(st->spans, cap * sizeof *spans);
    if (!spans) return NGHTTP2_ERR_CALLBACK_FAILURE;
    st->spans = spans;
    st->span_cap = cap;
  }
  if (!arena_put(st, name, namelen, &name_off) || !arena_put(st, value, valuelen, &value_off)) {
    refuse(st, 431, "request header fields too large");
    return 0;
  }
  st->spans[st->span_count++] = name_off;
  st->spans[st->span_count++] = (uint32_t)namelen;
  st->spans[st->span_count++] = value_off;
  st->spans[st->span_count++] = (uint32_t)valuelen;
  return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                         void *user_data) {
  (void)ng;
  (void)flags;
  qs_h2_session_t *s = user_data;
  h2_stream_t *st = stream_of_id(s, id);
  if (!st || st->state != S_RECEIVING) return 0;
  if (st->refuse_status) return 0;
  if (qs_buf_append(&st->body, data, len) != 0) {
    refuse(st, 413, "request body too large");
    answer_refusal(st);
  }
  return 0;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *user_data) {
  (void)ng;
  qs_h2_session_t *s = user_data;
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  h2_stream_t *st = stream_of_id(s, frame->hd.stream_id);
  if (!st || st->state != S_RECEIVING) return 0;
  if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
    dispatch(st);
  } else if (frame->hd.type == NGHTTP2_HEADERS && st->refuse_status) {
    answer_refusal(st); /* no need to wait for a body we refuse */
  }
  return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t error_code, void *user_data) {
  qs_h2_session_t *s = user_data;
  h2_stream_t *st = nghttp2_session_get_stream_user_data(ng, id);
  if (!st || s->destroying) return 0;
  st->closed = true;
  stop_receiving(st);
  s->open--;
  s->ops.phase_changed(s->conn);
  if (st->due) return 0; /* its callback is due already; the object goes after it */
  if (st->handler_has) {
    if (st->on_abort)
      defer_callback(st, true, QS_ECLOSED);
    else
      unlink_stream(st); /* lingers until answered; the answer returns QS_ECLOSED */
    return 0;
  }
  if (st->stream_open) {
    /* The head was the whole response; it ends with qs_http_stream_close(),
     * whose on_close the session still defers (it keeps the object). */
    if (st->is_head && st->state == S_STREAMING) return 0;
    bool clean = st->state == S_ENDING && error_code == NGHTTP2_NO_ERROR && !st->q_head && !st->reason_closed;
    defer_callback(st, false, clean ? 0 : QS_ECLOSED);
    return 0;
  }
  free_stream(st);
  return 0;
}

/* ---- The session --------------------------------------------------------- */

qs_h2_phase_t qs_h2_session_phase(const qs_h2_session_t *s) {
  if (!s || s->open == 0) return QS_H2_IDLE;
  if (s->receiving) return QS_H2_RECEIVING;
  /* At most H2_MAX_CONCURRENT_STREAMS open streams are in the list. */
  for (const qs_link_t *l = s->streams.next; l != &s->streams; l = l->next) {
    const h2_stream_t *st = QS_CONTAINER_OF(l, h2_stream_t, link);
    if (!st->closed && st->state != S_STREAMING) return QS_H2_SERVING;
  }
  return QS_H2_STREAMING;
}

qs_h2_session_t *qs_h2_session_create(void *conn, const qs_h2_conn_ops_t *ops, const qs_http_limits_t *limits,
                                      const char *remote_addr) {
  qs_h2_session_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->conn = conn;
  qs_link_init(&s->streams);
  s->ops = *ops;
  s->limits = *limits;
  snprintf(s->remote_addr, sizeof s->remote_addr, "%s", remote_addr ? remote_addr : "");
  nghttp2_session_callbacks *cb = NULL;
  if (nghttp2_session_callbacks_new(&cb) != 0) {
    free(s);
    return NULL;
  }
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  int rc = nghttp2_session_server_new(&s->ng, cb, s);
  nghttp2_session_callbacks_del(cb);
  if (rc != 0) {
    free(s);
    return NULL;
  }
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MAX_CONCURRENT_STREAMS},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)limits->max_header_bytes},
  };
  if (nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, settings, sizeof settings / sizeof *settings) != 0) {
    nghttp2_session_del(s->ng);
    free(s);
    return NULL;
  }
  return s;
}

int qs_h2_session_feed(qs_h2_session_t *s, const char *data, size_t len) {
  ssize_t n = nghttp2_session_mem_recv(s->ng, (const uint8_t *)data, len);
  s->ops.wake(s->conn);
  if (n >= 0) return 0;
  QS_LOG_DEBUG("http/2 session from %s ends: %s", s->remote_addr, nghttp2_strerror((int)n));
  nghttp2_session_terminate_session(s->ng, NGHTTP2_PROTOCOL_ERROR);
  return QS_EIO;
}

int qs_h2_session_pump(qs_h2_session_t *s, size_t budget) {
  size_t sent = 0;
  s->answer_due = false;
  while (sent < budget) {
    const uint8_t *data = NULL;
    ssize_t n = nghttp2_session_mem_send(s->ng, &data);
    if (n < 0) return n == NGHTTP2_ERR_NOMEM ? QS_ENOMEM : QS_EIO;
    if (n == 0) break;
    if (s->ops.send(s->conn, (const char *)data, (size_t)n) != 0) return QS_ENOMEM;
    sent += (size_t)n;
  }
  return 0;
}

bool qs_h2_session_answer_due(const qs_h2_session_t *s) { return s->answer_due; }

bool qs_h2_stream_window_closed(const qs_http_stream_t *stream) {
  const h2_stream_t *st = h2_of(stream);
  if (!st->session || st->closed) return false;
  return nghttp2_session_get_stream_remote_window_size(st->session->ng, st->id) <= 0 ||
         nghttp2_session_get_remote_window_size(st->session->ng) <= 0;
}

void *qs_h2_stream_conn(const qs_http_stream_t *stream) {
  const h2_stream_t *st = h2_of(stream);
  return st->session ? st->session->conn : NULL;
}

bool qs_h2_session_wants_write(const qs_h2_session_t *s) { return nghttp2_session_want_write(s->ng) != 0; }

bool qs_h2_session_finished(const qs_h2_session_t *s) {
  return !nghttp2_session_want_read(s->ng) && !nghttp2_session_want_write(s->ng);
}

void qs_h2_session_drained(qs_h2_session_t *s, bool blocked) {
  for (qs_link_t *l = s->streams.next, *next; l != &s->streams; l = next) {
    next = l->next;
    h2_stream_t *st = QS_CONTAINER_OF(l, h2_stream_t, link);
    if (!st->drain_due || st->due) continue;
    st->drain_due = false;
    bool waited = st->blocked || blocked;
    st->blocked = false;
    if (st->stream_open && st->state == S_STREAMING && st->stream.on_drain &&
        (waited || !st->drain_blocked_only))
      st->stream.on_drain(&st->stream, st->stream.ctx);
  }
}

void qs_h2_session_shutdown(qs_h2_session_t *s) {
  nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(s->ng),
                        NGHTTP2_NO_ERROR, NULL, 0);
  for (qs_link_t *l = s->streams.next, *next; l != &s->streams; l = next) {
    next = l->next;
    h2_stream_t *st = QS_CONTAINER_OF(l, h2_stream_t, link);
    if (st->state != S_STREAMING || st->due) continue;
    st->reason_closed = true;
    qs_h2_stream_close(&st->stream);
  }
  s->ops.wake(s->conn);
}

void qs_h2_session_destroy(qs_h2_session_t *s, int reason) {
  if (!s) return;
  qs_h2_session_run_due(s); /* from the loop: the connection's callbacks are being run */
  s->destroying = true;
  while (qs_link_linked(&s->streams)) {
    h2_stream_t *st = QS_CONTAINER_OF(s->streams.next, h2_stream_t, link);
    unlink_stream(st);
    st->closed = true;
    if (st->handler_has) {
      if (st->on_abort) {
        st->handler_has = false;
        st->on_abort(&st->pub, st->abort_ctx);
        free_stream(st);
      } /* else it lingers until answered (QS_ECLOSED) */
      continue;
    }
    fire_on_close(st, reason);
    free_stream(st);
  }
  nghttp2_session_del(s->ng);
  while (s->free_chunks) {
    chunk_t *c = s->free_chunks;
    s->free_chunks = c->next;
    free(c);
  }
  free(s);
}

/* ---- The entries of qs_http_protocol_h2 (protocol.h, h2_conn.c) -------- */

void qs_h2_request_on_abort(qs_http_request_t *req, void (*fn)(qs_http_request_t *req, void *ctx),
                            void *ctx) {
  h2_stream_t *st = request_of(req);
  st->on_abort = fn;
  st->abort_ctx = ctx;
}

/* Checks an answer; on QS_ECLOSED the request is already freed. */
static int check_answer(h2_stream_t *st, int status, const qs_http_header_t *headers, size_t count) {
  if (status < 200 || status > 599 || (count && !headers) || !qs_http_headers_valid(headers, count) ||
      count > H2_MAX_RESPONSE_HEADERS - 3)
    return QS_EINVAL;
  if (!st->handler_has) return QS_EINVAL;
  if (st->due) {
    /* Answered before its abort callback was due: it gets none, and the
     * object goes when the due list gets to it. */
    st->handler_has = false;
    return QS_ECLOSED;
  }
  if (st->closed || !st->session) {
    free_stream(st);
    return QS_ECLOSED;
  }
  return 0;
}

int qs_h2_respond(qs_http_request_t *req, int status, const qs_http_header_t *headers, size_t header_count,
                  qs_slice_t body) {
  h2_stream_t *st = request_of(req);
  int rc = check_answer(st, status, headers, header_count);
  if (rc) return rc;
  bool no_body = status == 204 || status == 304;
  bool with_data = !no_body && !st->is_head && body.len > 0;
  if (with_data && (rc = queue_bytes(st, body.ptr, body.len, NULL, NULL, true)) != 0) return rc;
  size_t length = no_body ? 0 : body.len;
  st->state = S_ANSWERED;
  rc = submit_head(st, status, headers, header_count, no_body ? NULL : &length, with_data);
  if (rc) {
    release_chunks(st);
    st->state = S_HANDLING;
    return rc == QS_ENOMEM ? QS_ENOMEM : QS_EINVAL;
  }
  st->handler_has = false;
  drop_request(st);
  st->session->ops.wake(st->session->conn);
  return 0;
}

int qs_h2_stream_start(qs_http_request_t *req, int status, const qs_http_header_t *headers,
                       size_t header_count, qs_http_stream_t **out) {
  h2_stream_t *st = request_of(req);
  int rc = check_answer(st, status, headers, header_count);
  if (rc) return rc;
  st->state = S_STREAMING;
  rc = submit_head(st, status, headers, header_count, NULL, !st->is_head);
  if (rc) {
    st->state = S_HANDLING;
    return rc == QS_ENOMEM ? QS_ENOMEM : QS_EINVAL;
  }
  st->handler_has = false;
  drop_request(st);
  st->stream = (struct qs_http_stream){.protocol = &qs_http_protocol_h2};
  st->stream_open = true;
  qs_h2_session_t *s = st->session;
  s->ops.wake(s->conn);
  *out = &st->stream;
  return 0;
}

int qs_h2_stream_write_ref(qs_http_stream_t *stream, qs_slice_t bytes, void (*release)(void *owner),
                           void *owner, bool copy) {
  h2_stream_t *st = h2_of(stream);
  if (st->state != S_STREAMING || st->closed || !st->session) return QS_ECLOSED;
  if (!bytes.len || st->is_head) {
    if (release) release(owner);
    return 0;
  }
  int rc = queue_bytes(st, bytes.ptr, bytes.len, release, owner, copy);
  if (rc) return rc;
  if (st->deferred) {
    st->deferred = false;
    nghttp2_session_resume_data(st->session->ng, st->id);
  }
  st->session->ops.wake(st->session->conn);
  return 0;
}

size_t qs_h2_stream_queued_bytes(const qs_http_stream_t *stream) { return h2_of(stream)->queued; }

void qs_h2_stream_drain_blocked_only(qs_http_stream_t *stream, bool only) {
  h2_of(stream)->drain_blocked_only = only;
}

void qs_h2_stream_abort(qs_http_stream_t *stream) {
  h2_stream_t *st = h2_of(stream);
  if (!st->stream_open || st->due) return;
  release_chunks(st);
  st->state = S_ENDING;
  if (!st->session) {
    /* The session is gone (it already called every open stream's on_close,
     * so this is only a guard). */
    fire_on_close(st, QS_ECLOSED);
    free_stream(st);
    return;
  }
  if (!st->closed) nghttp2_submit_rst_stream(st->session->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
  /* on_close from the loop; the object goes once nghttp2 has closed the stream too. */
  defer_callback(st, false, QS_ECLOSED);
}

void qs_h2_stream_close(qs_http_stream_t *stream) {
  h2_stream_t *st = h2_of(stream);
  if (st->state != S_STREAMING) return;
  st->state = S_ENDING;
  if (st->due) return; /* its on_close is due already */
  int reason = st->reason_closed || (st->closed && !st->is_head) ? QS_ECLOSED : 0;
  if (!st->session) {
    /* The session is gone (it already called every open stream's on_close,
     * so this is only a guard). */
    fire_on_close(st, reason);
    free_stream(st);
    return;
  }
  if (st->is_head || st->closed) {
    defer_callback(st, false, reason); /* nothing more will be framed: it ends now, from the loop */
    return;
  }
  if (st->deferred) {
    st->deferred = false;
    nghttp2_session_resume_data(st->session->ng, st->id);
  }
  st->session->ops.wake(st->session->conn);
}

bool qs_h2_session_has_due(const qs_h2_session_t *s) { return s->due_head != NULL; }

void qs_h2_session_run_due(qs_h2_session_t *s) {
  while (s->due_head) {
    h2_stream_t *st = s->due_head;
    s->due_head = st->due_next;
    if (!s->due_head) s->due_tail = NULL;
    st->due = false;
    if (st->due_abort) {
      if (st->handler_has && st->on_abort) {
        st->handler_has = false;
        st->on_abort(&st->pub, st->abort_ctx);
      }
      free_stream(st); /* nghttp2 has closed it */
      continue;
    }
    fire_on_close(st, st->due_reason);
    /* Else nghttp2 has yet to close it (a reset on its way): on_stream_close frees it. */
    if (st->closed || !st->session) free_stream(st);
  }
}
