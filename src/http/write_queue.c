/* The write queue (write_queue.h): segments, the pool of reference blocks,
 * and the assembly of one writev's iovecs with chunked framing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "http/write_queue.h"
#include "http/write_schedule.h"

/* Smallest allocation for copied stream bytes, so small writes share one block. */
#define COPY_SEG_MIN 512
/* Queued references (delivered events) live in blocks of SEG_REFS, one block
 * per connection filled in order, so a connection's queued events are
 * contiguous; the blocks come from a per-server pool, allocated SEG_SLAB at
 * a time and reused: no malloc/free per delivery. */
#define SEG_REFS 8
#define SEG_SLAB 128

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
static void seg_release(qs_http_server_t *srv, qs_http_conn_t *c, seg_t *s) {
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

void qs_http_queue_release(qs_http_server_t *srv, qs_http_conn_t *c, seg_t *s) {
  while (s) {
    seg_t *next = s->next;
    seg_release(srv, c, s);
    s = next;
  }
}

static void enqueue(qs_http_conn_t *c, seg_t *s) {
  s->next = NULL;
  if (c->q_tail)
    c->q_tail->next = s;
  else
    c->q_head = s;
  c->q_tail = s;
  c->queued_bytes += s->len;
  qs_http_conn_mark_dirty(c);
}

/* Queues static bytes (never freed). */
int qs_http_conn_queue_static(qs_http_conn_t *c, const char *bytes, size_t len) {
  seg_t *s = calloc(1, sizeof *s);
  if (!s) return QS_ENOMEM;
  s->ptr = bytes;
  s->len = len;
  enqueue(c, s);
  return 0;
}

/* Queues a copy of `len` bytes (framed as stream body when `chunk`),
 * appending to the last copy block when it has room. */
int qs_http_conn_queue_copy(qs_http_conn_t *c, const char *bytes, size_t len, bool chunk) {
  seg_t *t = c->q_tail;
  if (t && t->cap && t->chunk == chunk && t->cap - t->len >= len) {
    memcpy(t->data + t->len, bytes, len);
    t->len += len;
    c->queued_bytes += len;
    qs_http_conn_mark_dirty(c);
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

int qs_http_conn_queue_ref(qs_http_conn_t *c, qs_slice_t bytes, bool chunk, void (*release)(void *owner),
                           void *owner) {
  /* Into the connection's last block when it has room, else a new one. */
  seg_t *s = c->q_tail;
  if (s && s->pooled && s->nrefs < SEG_REFS && s->release == release && s->chunk == chunk) {
    s->len += bytes.len;
    c->queued_bytes += bytes.len;
    qs_http_conn_mark_dirty(c);
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

seg_t *qs_http_queue_take(qs_http_conn_t *c, uv_buf_t *iov, char hdr[QS_HTTP_MAX_RUNS][20], unsigned *n_out,
                          size_t *total_out) {
  unsigned n = 0, runs = 0;
  size_t total = 0;
  seg_t *s = c->q_head, *last = NULL;
  while (s) {
    if (s->chunk) {
      /* A run of body bytes becomes one chunk: header, bytes, CRLF. */
      if (runs == QS_HTTP_MAX_RUNS || n + 2 + seg_iovs(s) > QS_HTTP_MAX_IOV) break;
      size_t run = 0;
      unsigned k = 0;
      seg_t *end = s;
      for (; end && end->chunk && n + 2 + k + seg_iovs(end) <= QS_HTTP_MAX_IOV; end = end->next)
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
      if (n + seg_iovs(s) > QS_HTTP_MAX_IOV) break;
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
  *n_out = n;
  *total_out = total;
  return taken;
}

void qs_http_queue_pool_dispose(qs_http_server_t *srv) {
  while (srv->slabs) {
    seg_slab_t *next = srv->slabs->next;
    free(srv->slabs);
    srv->slabs = next;
  }
}
