/* Load generator for a Mercure hub: many subscribers, a few publishers,
 * publish-to-delivery latency and loss, the hub's memory per subscriber.
 *
 *   loadgen --url http://127.0.0.1:PORT/.well-known/mercure [--subscribers N]
 *           [--topics T] [--match-mode exact|urlpattern|legacy]
 *           [--publishes M] [--rate R] [--publishers P] [--pipeline D]
 *           [--pub-token JWT] [--sub-token JWT] [--sources K]
 *           [--data-bytes B] [--connect-concurrency C] [--settle-ms MS]
 *           [--drain-ms MS] [--idle-ms MS] [--duration-limit S]
 *           [--hub-pid PID[,PID...]] [--pub-port PORT] [--target mercure|nchan] [--json]
 *           [--json-out FILE]
 *
 * Phases, in order, all on one libuv loop:
 *  1. the hub's RSS (VmRSS of --hub-pid) is read;
 *  2. N subscribers connect, from 127.0.0.1 .. 127.0.0.K (bound before
 *     connect, so each source address has its own ephemeral port range), at
 *     most C connecting at once; the phase ends when every one has its
 *     response headers (or failed);
 *  3. after --settle-ms the hub's RSS is read again: (after - before) / N is
 *     the hub's user-space memory per subscriber;
 *  4. P publisher connections (keep-alive) send M form-encoded POSTs, flat
 *     out (--rate 0) or at R per second overall, at most D in flight per
 *     connection. Update i goes to topic i % T and its data is
 *     "<i>.<monotonic send time in ns>", padded to B bytes;
 *  5. subscribers parse their SSE streams (chunked framing, `data:` lines,
 *     comments ignored) and record, per delivery, now - send time; the run
 *     ends when every subscriber has every update it subscribed to, when no
 *     delivery arrived for --drain-ms after the last publish was answered, or
 *     at --duration-limit (a hard stop, reported as such).
 *
 * Subscriber j (0-based) subscribes to topic k = j % T:
 *   exact       match=https://example.com/users/<k>            (draft-08)
 *   legacy      topic=https://example.com/users/<k>            (pre-draft)
 *   urlpattern  match_urlpattern=https://example.com/users/<k>/ then "*"
 *               and updates go to https://example.com/users/<i % T>/events
 * so it must receive exactly the updates i with i % T == k, each once.
 *
 * With --target nchan the same load goes to an nginx + nchan peer: --url is
 * http://127.0.0.1:PORT/ and subscriber k opens GET /sub/<k> (EventSource),
 * update i is a plain POST of its data to /pub/<i % T>, and any 2xx answer
 * counts as published (nchan answers 201 or 202). --hub-pid then takes the
 * master and worker PIDs, comma-separated: their CPU and RSS are summed.
 *
 * TCP segments: /proc/net/snmp's Tcp OutSegs is read when publishing starts
 * and at the end. It counts every segment sent on the machine (both ends of
 * loopback, ACKs and other processes' traffic included), so it is comparable
 * between runs side by side, not an exact count of the hub's writes.
 *
 * Exit status: 0 when every subscriber connected and got every update it
 * subscribed to exactly once and every publish was answered 200; 1 otherwise;
 * 2 on a usage error. Only loopback addresses (127.0.0.0/8) are accepted. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define LINE_MAX_BYTES 64
#define MAX_PIPELINE 64
#define READ_BUFFER_BYTES (256 * 1024)
#define MAX_STATUS_KINDS 8

/* ---- latency histogram: log-linear buckets, 32 per power of two (~3%) ---- */

#define HIST_BUCKETS 1920
typedef struct {
  uint64_t count, max;
  uint64_t buckets[HIST_BUCKETS];
} hist_t;

static unsigned hist_index(uint64_t v) {
  if (v < 64) return (unsigned)v;
  unsigned shift = (unsigned)(63 - __builtin_clzll(v)) - 5;
  return shift * 32 + (unsigned)(v >> shift);
}

/* The middle of bucket i's range. */
static uint64_t hist_value(unsigned i) {
  if (i < 64) return i;
  unsigned shift = i / 32 - 1;
  uint64_t mantissa = i % 32 + 32;
  return (mantissa << shift) + ((1ull << shift) >> 1);
}

static void hist_add(hist_t *h, uint64_t v) {
  h->buckets[hist_index(v)]++;
  h->count++;
  if (v > h->max) h->max = v;
}

static uint64_t hist_percentile(const hist_t *h, double q) {
  if (!h->count) return 0;
  uint64_t target = (uint64_t)(q * (double)h->count + 0.999999);
  if (target < 1) target = 1;
  uint64_t seen = 0;
  for (unsigned i = 0; i < HIST_BUCKETS; i++) {
    seen += h->buckets[i];
    if (seen >= target) {
      uint64_t v = hist_value(i);
      return v < h->max ? v : h->max;
    }
  }
  return h->max;
}

/* ---- incremental line splitting: keeps the first LINE_MAX_BYTES-1 bytes ---- */

typedef struct {
  uint8_t len;
  char buf[LINE_MAX_BYTES];
} line_t;

/* Consumes bytes up to and including the next '\n'; returns how many were
 * consumed and sets *complete when l->buf holds a whole line (NUL-terminated,
 * without its "\r\n"). The caller resets l->len after using a complete line. */
static size_t line_feed(line_t *l, const char *p, size_t n, bool *complete) {
  const char *nl = memchr(p, '\n', n);
  size_t take = nl ? (size_t)(nl - p) : n;
  size_t room = sizeof l->buf - 1 - l->len;
  size_t copy = take < room ? take : room;
  memcpy(l->buf + l->len, p, copy);
  l->len = (uint8_t)(l->len + copy);
  *complete = nl != NULL;
  if (nl) {
    if (l->len && l->buf[l->len - 1] == '\r') l->len--;
    l->buf[l->len] = 0;
    return take + 1;
  }
  return n;
}

/* ---- HTTP/1.1 response framing (status, headers, chunked or length body) ---- */

enum { R_STATUS, R_HEADERS, R_CHUNK_SIZE, R_CHUNK_DATA, R_CHUNK_END, R_TRAILERS, R_LENGTH, R_UNTIL_EOF };

typedef struct {
  uint8_t state;
  bool chunked;
  int16_t status;
  int64_t remaining; /* content-length, or bytes left in the current chunk; -1 = none */
  line_t line;
} response_t;

typedef struct {
  void (*on_head)(void *ctx, int status);
  /* Returns false to stop parsing (the connection was closed). */
  bool (*on_body)(void *ctx, const char *p, size_t n);
  bool (*on_complete)(void *ctx, int status);
} response_handler_t;

static void response_reset(response_t *r) {
  r->state = R_STATUS;
  r->chunked = false;
  r->status = 0;
  r->remaining = -1;
  r->line.len = 0;
}

/* Case-insensitive "name:" prefix test; returns the value (spaces skipped) or NULL. */
static const char *header_value(const char *line, const char *name) {
  size_t n = strlen(name);
  if (strncasecmp(line, name, n) != 0 || line[n] != ':') return NULL;
  const char *v = line + n + 1;
  while (*v == ' ' || *v == '\t') v++;
  return v;
}

/* Feeds bytes; returns -1 on a framing error, 0 otherwise (also when a
 * callback asked to stop, in which case the connection is gone). */
static int response_feed(response_t *r, const char *p, size_t n, const response_handler_t *h, void *ctx) {
  while (n) {
    bool complete = false;
    size_t used;
    switch (r->state) {
      case R_CHUNK_DATA:
      case R_LENGTH: {
        size_t take = (int64_t)n < r->remaining ? n : (size_t)r->remaining;
        if (!h->on_body(ctx, p, take)) return 0;
        p += take, n -= take;
        r->remaining -= (int64_t)take;
        if (r->remaining == 0) {
          if (r->state == R_CHUNK_DATA) {
            r->state = R_CHUNK_END;
          } else {
            int status = r->status;
            response_reset(r);
            if (!h->on_complete(ctx, status)) return 0;
          }
        }
        continue;
      }
      case R_UNTIL_EOF:
        h->on_body(ctx, p, n);
        return 0;
      default:
        break;
    }
    used = line_feed(&r->line, p, n, &complete);
    p += used, n -= used;
    if (!complete) continue;
    const char *line = r->line.buf;
    switch (r->state) {
      case R_STATUS:
        if (strncmp(line, "HTTP/1.", 7) != 0 || strlen(line) < 12) return -1;
        r->status = (int16_t)atoi(line + 9);
        r->state = R_HEADERS;
        break;
      case R_HEADERS:
        if (*line) {
          const char *v;
          if ((v = header_value(line, "content-length")))
            r->remaining = strtoll(v, NULL, 10);
          else if ((v = header_value(line, "transfer-encoding")) && strstr(v, "chunked"))
            r->chunked = true;
          break;
        }
        h->on_head(ctx, r->status);
        if (r->chunked) {
          r->state = R_CHUNK_SIZE;
        } else if (r->remaining > 0) {
          r->state = R_LENGTH;
        } else if (r->remaining == 0 || r->status == 204 || r->status == 304) {
          int status = r->status;
          r->line.len = 0;
          response_reset(r);
          if (!h->on_complete(ctx, status)) return 0;
          continue;
        } else {
          r->state = R_UNTIL_EOF;
        }
        break;
      case R_CHUNK_SIZE: {
        char *end;
        r->remaining = (int64_t)strtoull(line, &end, 16);
        if (end == line) return -1;
        r->state = r->remaining ? R_CHUNK_DATA : R_TRAILERS;
        break;
      }
      case R_CHUNK_END:
        if (*line) return -1;
        r->state = R_CHUNK_SIZE;
        break;
      case R_TRAILERS:
        if (!*line) {
          int status = r->status;
          r->line.len = 0;
          response_reset(r);
          if (!h->on_complete(ctx, status)) return 0;
          continue;
        }
        break;
    }
    r->line.len = 0;
  }
  return 0;
}

/* ---- options and global state ---- */

enum { MODE_EXACT, MODE_URLPATTERN, MODE_LEGACY };
enum { TARGET_MERCURE, TARGET_NCHAN };
#define MAX_HUB_PIDS 8
#define MAX_SUB_PORTS 8
static const char *const mode_names[] = {"exact", "urlpattern", "legacy"};

typedef struct {
  const char *url;
  char host[64];
  int port;
  char path[256];
  uint32_t subscribers, topics, publishers, pipeline, sources, connect_concurrency;
  uint64_t publishes;
  double rate;
  int mode;
  const char *pub_token, *sub_token;
  size_t data_bytes;
  uint64_t settle_ms, drain_ms, idle_ms;
  double duration_limit_s;
  int hub_pid; /* the first of hub_pids, 0 when none */
  int hub_pids[MAX_HUB_PIDS];
  unsigned n_hub_pids;
  int target;
  int pub_port;                 /* publishers connect here (another node of a cluster); 0: the --url port */
  int sub_ports[MAX_SUB_PORTS]; /* subscriber j connects to sub_ports[j % n]; none: the --url port */
  unsigned n_sub_ports;
  bool json;
  const char *json_out;
} options_t;

typedef struct {
  uv_tcp_t tcp;
  uint32_t index;
  uint32_t topic;
  uint32_t received;
  uint32_t expected;
  bool ready, failed, closed;
  bool has_data;
  uint64_t data_seq, data_ts;
  response_t response;
  line_t sse_line;
} subscriber_t;

typedef struct {
  uv_tcp_t tcp;
  uint32_t index;
  bool connected, dead;
  uint32_t inflight, head;
  uint64_t sent_ns[MAX_PIPELINE];
  response_t response;
} publisher_t;

typedef struct {
  uv_write_t req;
  uv_buf_t buf;
  char data[];
} write_t;

typedef struct {
  int status;
  uint64_t count;
} status_count_t;

static struct {
  options_t opt;
  uv_loop_t *loop;
  uv_timer_t tick, hard_stop, phase_timer;
  struct sockaddr_in hub_addr;
  struct sockaddr_in pub_addr;                 /* where publishers connect: hub_addr unless --pub-port */
  struct sockaddr_in sub_addrs[MAX_SUB_PORTS]; /* --sub-ports, in order */
  subscriber_t *subs;
  publisher_t *pubs;
  char *query_prefix; /* "GET <path>?<param>=https%3A%2F%2Fexample.com%2Fusers%2F" */
  char *request_suffix;

  /* connect phase */
  uint32_t next_to_connect, connecting, ready, failed, disconnected;
  status_count_t sub_statuses[MAX_STATUS_KINDS];
  uint64_t t_start_ns, t_connected_ns;
  long rss_before_kib, rss_connected_kib, rss_end_kib;
  long long out_segs_start, out_segs_end;

  /* publish phase */
  uint32_t publishers_connected, publishers_dead;
  bool publishing, finished, aborted;
  uint64_t sent, acked, pub_failed;
  status_count_t pub_statuses[MAX_STATUS_KINDS];
  uint64_t t_pub_start_ns, t_last_ack_ns, t_last_delivery_ns, t_last_progress_ns;
  uint64_t read_now_ns; /* when the read being parsed arrived */
  uint64_t behind_max;  /* most publishes due but not yet sent, with --rate */
  hist_t pub_latency;
  double hub_cpu_start_s, hub_cpu_end_s;
  double machine_busy_start_s, machine_busy_end_s;
  struct rusage usage_start, usage_end;

  /* deliveries */
  uint64_t expected, received, duplicates, wrong, malformed, subs_complete;
  uint64_t expected_per_sub_max;
  uint8_t *seen; /* bitmap: subscriber j, update i -> bit j * expected_per_sub_max + i / T */
  hist_t latency;
  char read_buffer[READ_BUFFER_BYTES];
} g;

static uint64_t now_ns(void) { return uv_hrtime(); }

static void count_status(status_count_t *table, int status) {
  for (int i = 0; i < MAX_STATUS_KINDS; i++) {
    if (table[i].status == status || table[i].count == 0) {
      table[i].status = status;
      table[i].count++;
      return;
    }
  }
}

static long pid_rss_kib(int pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long kib = -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmRSS:", 6) == 0) kib = strtol(line + 6, NULL, 10);
  fclose(f);
  return kib;
}

/* The VmRSS of every --hub-pid, summed; -1 when one is unknown. */
static long hub_rss_kib(void) {
  if (!g.opt.n_hub_pids) return -1;
  long sum = 0;
  for (unsigned i = 0; i < g.opt.n_hub_pids; i++) {
    long kib = pid_rss_kib(g.opt.hub_pids[i]);
    if (kib < 0) return -1;
    sum += kib;
  }
  return sum;
}

/* Tcp OutSegs from /proc/net/snmp (machine-wide), or -1. */
static long long tcp_out_segs(void) {
  FILE *f = fopen("/proc/net/snmp", "r");
  if (!f) return -1;
  char names[1024], values[1024];
  long long result = -1;
  while (fgets(names, sizeof names, f) && fgets(values, sizeof values, f)) {
    if (strncmp(names, "Tcp:", 4) != 0 || strncmp(values, "Tcp:", 4) != 0) continue;
    char *ns = NULL, *vs = NULL;
    char *n = strtok_r(names + 4, " \n", &ns), *v = strtok_r(values + 4, " \n", &vs);
    for (; n && v; n = strtok_r(NULL, " \n", &ns), v = strtok_r(NULL, " \n", &vs))
      if (!strcmp(n, "OutSegs")) result = strtoll(v, NULL, 10);
    break;
  }
  fclose(f);
  return result;
}

/* The hub's user + system CPU seconds, or -1 when unknown (no --hub-pid, or the hub is gone). */
static double pid_cpu_s(int pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  /* Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15. */
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  unsigned long utime = 0, stime = 0;
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2) return -1;
  return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* Summed over every --hub-pid; -1 when one is unknown. */
static double hub_cpu_s(void) {
  if (!g.opt.n_hub_pids) return -1;
  double sum = 0;
  for (unsigned i = 0; i < g.opt.n_hub_pids; i++) {
    double s = pid_cpu_s(g.opt.hub_pids[i]);
    if (s < 0) return -1;
    sum += s;
  }
  return sum;
}

/* CPU seconds spent by every process on the machine (all of /proc/stat's
 * "cpu" line but idle and iowait): others = this - hub - loadgen tells how
 * much of the machine other work took during the measurement. */
static double machine_busy_s(void) {
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return 0;
  unsigned long long v[10] = {0};
  int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                 &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
  fclose(f);
  if (n < 8) return 0;
  /* user nice system idle iowait irq softirq steal (guest time is inside user) */
  unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  return (double)busy / (double)sysconf(_SC_CLK_TCK);
}

static double rusage_cpu_s(const struct rusage *u) {
  return (double)u->ru_utime.tv_sec + u->ru_utime.tv_usec / 1e6 + (double)u->ru_stime.tv_sec +
         u->ru_stime.tv_usec / 1e6;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h, (void)suggested;
  /* One loop, and every read is parsed before the next: one buffer serves all. */
  *buf = uv_buf_init(g.read_buffer, sizeof g.read_buffer);
}

static void on_write_done(uv_write_t *req, int status) {
  (void)status; /* a failed write shows up as a read error or a missing answer */
  free(req);
}

static int write_bytes(uv_stream_t *stream, const char *p, size_t n) {
  write_t *w = malloc(sizeof *w + n);
  if (!w) return UV_ENOMEM;
  memcpy(w->data, p, n);
  w->buf = uv_buf_init(w->data, (unsigned)n);
  int rc = uv_write(&w->req, stream, &w->buf, 1, on_write_done);
  if (rc) free(w);
  return rc;
}

static void finish(void);
static void maybe_finish_deliveries(void);
static void start_publishers(uv_timer_t *t);
static void on_idle_done(uv_timer_t *t) { (void)t, finish(); }
static void connect_more_subscribers(void);

/* ---- subscribers ---- */

static void on_sub_closed(uv_handle_t *h) { (void)h; }

static void sub_close(subscriber_t *s) {
  if (s->closed) return;
  s->closed = true;
  uv_close((uv_handle_t *)&s->tcp, on_sub_closed);
}

/* A subscriber left the connect phase (ready or failed). */
static void sub_connect_done(subscriber_t *s, bool ok) {
  if (ok) {
    s->ready = true;
    g.ready++;
  } else {
    s->failed = true;
    g.failed++;
  }
  g.connecting--;
  connect_more_subscribers();
}

/* A subscriber lost its stream: after the connect phase, it will miss updates. */
static void sub_lost(subscriber_t *s, const char *why) {
  if (!s->ready && !s->failed) {
    if (!g.opt.json && g.failed < 5) fprintf(stderr, "loadgen: subscriber %u failed: %s\n", s->index, why);
    sub_close(s);
    sub_connect_done(s, false);
    return;
  }
  if (s->ready && !s->closed) {
    g.disconnected++;
    if (!g.opt.json && g.disconnected <= 5)
      fprintf(stderr, "loadgen: subscriber %u disconnected: %s\n", s->index, why);
  }
  sub_close(s);
}

static void sub_on_head(void *ctx, int status) {
  subscriber_t *s = ctx;
  if (status != 200) {
    count_status(g.sub_statuses, status);
    return; /* the body (the reason) is read, then the subscriber is failed */
  }
  sub_connect_done(s, true);
}

static void sub_on_event(subscriber_t *s) {
  uint64_t seq = s->data_seq;
  if (seq >= g.opt.publishes || seq % g.opt.topics != s->topic) {
    g.wrong++;
    return;
  }
  if (g.seen) {
    uint64_t bit = (uint64_t)s->index * g.expected_per_sub_max + seq / g.opt.topics;
    if (g.seen[bit >> 3] & (1u << (bit & 7))) {
      g.duplicates++;
      return;
    }
    g.seen[bit >> 3] |= (uint8_t)(1u << (bit & 7));
  }
  uint64_t t = g.read_now_ns;
  hist_add(&g.latency, t > s->data_ts ? t - s->data_ts : 0);
  s->received++;
  g.received++;
  if (s->received == s->expected) g.subs_complete++;
}

static void sub_on_sse_line(subscriber_t *s, const char *line) {
  if (!*line) { /* blank line: the event is complete */
    if (s->has_data) sub_on_event(s);
    s->has_data = false;
    return;
  }
  if (strncmp(line, "data:", 5) != 0) return; /* id:, event:, retry:, comments */
  const char *p = line + 5;
  if (*p == ' ') p++;
  char *end;
  s->data_seq = strtoull(p, &end, 10);
  if (end == p || *end != '.') {
    g.malformed++;
    return;
  }
  s->data_ts = strtoull(end + 1, NULL, 10);
  s->has_data = true;
}

static bool sub_on_body(void *ctx, const char *p, size_t n) {
  subscriber_t *s = ctx;
  if (!s->ready) return true; /* a refusal's body */
  while (n) {
    bool complete;
    size_t used = line_feed(&s->sse_line, p, n, &complete);
    p += used, n -= used;
    if (complete) {
      sub_on_sse_line(s, s->sse_line.buf);
      s->sse_line.len = 0;
    }
  }
  return true;
}

static bool sub_on_complete(void *ctx, int status) {
  subscriber_t *s = ctx;
  sub_lost(s, status == 200 ? "the hub ended the stream" : "refused");
  return false;
}

static const response_handler_t sub_handler = {sub_on_head, sub_on_body, sub_on_complete};

static void sub_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  subscriber_t *s = stream->data;
  if (nread < 0) {
    sub_lost(s, nread == UV_EOF ? "connection closed by the hub" : uv_strerror((int)nread));
    maybe_finish_deliveries();
    return;
  }
  if (nread == 0) return;
  uint64_t before = g.received;
  g.read_now_ns = now_ns(); /* every event in this read arrived now */
  if (response_feed(&s->response, buf->base, (size_t)nread, &sub_handler, s) != 0)
    sub_lost(s, "bad HTTP framing");
  if (g.received != before) {
    g.t_last_delivery_ns = g.t_last_progress_ns = g.read_now_ns;
    if (g.publishing) maybe_finish_deliveries();
  }
}

static void sub_on_connect(uv_connect_t *req, int status) {
  subscriber_t *s = req->data;
  free(req);
  if (status < 0) {
    if (!g.opt.json && g.failed < 5)
      fprintf(stderr, "loadgen: subscriber %u: connect: %s\n", s->index, uv_strerror(status));
    sub_close(s);
    sub_connect_done(s, false);
    return;
  }
  char request[4096];
  const char *suffix = g.opt.mode == MODE_URLPATTERN && g.opt.target == TARGET_MERCURE ? "%2F*" : "";
  int n = snprintf(request, sizeof request, "%s%u%s%s", g.query_prefix, s->topic, suffix, g.request_suffix);
  if (n <= 0 || (size_t)n >= sizeof request || write_bytes((uv_stream_t *)&s->tcp, request, (size_t)n) != 0 ||
      uv_read_start((uv_stream_t *)&s->tcp, on_alloc, sub_on_read) != 0) {
    sub_close(s);
    sub_connect_done(s, false);
  }
}

/* Opens a TCP socket bound to 127.0.0.<source>, port chosen at connect time. */
static int open_socket(uv_tcp_t *tcp, uint32_t source) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  /* Without this, bind() picks the port from the source address alone and
   * the range runs out at ~28k sockets per address whatever the destination. */
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = 0};
  src.sin_addr.s_addr = htonl(0x7f000001u + source);
  if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  int rc = uv_tcp_init(g.loop, tcp);
  if (rc == 0) rc = uv_tcp_open(tcp, fd);
  if (rc) close(fd);
  return rc;
}

static void connect_more_subscribers(void) {
  while (g.next_to_connect < g.opt.subscribers && g.connecting < g.opt.connect_concurrency) {
    subscriber_t *s = &g.subs[g.next_to_connect];
    s->index = g.next_to_connect++;
    s->topic = s->index % g.opt.topics;
    s->expected = (uint32_t)(g.opt.publishes / g.opt.topics + (s->topic < g.opt.publishes % g.opt.topics));
    response_reset(&s->response);
    g.connecting++;
    int rc = open_socket(&s->tcp, s->index % g.opt.sources);
    uv_connect_t *req = rc ? NULL : malloc(sizeof *req);
    if (!req) {
      if (!rc) uv_close((uv_handle_t *)&s->tcp, on_sub_closed);
      if (!g.opt.json && g.failed < 5)
        fprintf(stderr, "loadgen: subscriber %u: socket: %s\n", s->index,
                rc ? uv_strerror(rc) : "out of memory");
      s->closed = true;
      s->failed = true;
      g.failed++;
      g.connecting--;
      continue;
    }
    s->tcp.data = s;
    req->data = s;
    const struct sockaddr_in *to =
        g.opt.n_sub_ports ? &g.sub_addrs[s->index % g.opt.n_sub_ports] : &g.hub_addr;
    rc = uv_tcp_connect(req, &s->tcp, (const struct sockaddr *)to, sub_on_connect);
    if (rc) {
      free(req);
      sub_close(s);
      s->failed = true;
      g.failed++;
      g.connecting--;
    }
  }
  if (g.ready + g.failed == g.opt.subscribers && !g.t_connected_ns) {
    g.t_connected_ns = now_ns();
    for (uint32_t i = 0; i < g.opt.subscribers; i++) {
      if (!g.subs[i].ready) continue;
      g.expected += g.subs[i].expected;
      if (!g.subs[i].expected) g.subs_complete++;
    }
    if (!g.opt.json)
      fprintf(stderr, "loadgen: %u subscribers ready, %u failed, in %.3f s\n", g.ready, g.failed,
              (g.t_connected_ns - g.t_start_ns) / 1e9);
    /* Let the hub settle (and its allocator return what it borrowed for the
     * handshakes) before measuring its memory. */
    uv_timer_start(&g.phase_timer, start_publishers, g.opt.settle_ms, 0);
  }
}

/* ---- publishers ---- */

static void send_publishes(void);

static void on_pub_closed(uv_handle_t *h) { (void)h; }

static void pub_dead(publisher_t *p, const char *why) {
  if (p->dead) return;
  p->dead = true;
  g.publishers_dead++;
  g.pub_failed += p->inflight; /* sent but never answered */
  if (!g.opt.json) fprintf(stderr, "loadgen: publisher %u: %s\n", p->index, why);
  uv_close((uv_handle_t *)&p->tcp, on_pub_closed);
  send_publishes();
  maybe_finish_deliveries();
}

static void pub_on_head(void *ctx, int status) { (void)ctx, (void)status; }
static bool pub_on_body(void *ctx, const char *p, size_t n) { return (void)ctx, (void)p, (void)n, true; }

static bool pub_on_complete(void *ctx, int status) {
  publisher_t *p = ctx;
  if (!p->inflight) {
    pub_dead(p, "an answer to no request");
    return false;
  }
  uint64_t t = now_ns();
  uint64_t sent = p->sent_ns[p->head];
  p->head = (p->head + 1) % MAX_PIPELINE;
  p->inflight--;
  if (status == 200 || (g.opt.target == TARGET_NCHAN && status / 100 == 2)) {
    g.acked++;
    hist_add(&g.pub_latency, t - sent);
    g.t_last_ack_ns = t;
  } else {
    g.pub_failed++;
    count_status(g.pub_statuses, status);
  }
  g.t_last_progress_ns = t;
  send_publishes();
  maybe_finish_deliveries();
  return !p->dead;
}

static const response_handler_t pub_handler = {pub_on_head, pub_on_body, pub_on_complete};

static void pub_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  publisher_t *p = stream->data;
  if (nread < 0) {
    pub_dead(p, nread == UV_EOF ? "connection closed by the hub" : uv_strerror((int)nread));
    return;
  }
  if (nread && response_feed(&p->response, buf->base, (size_t)nread, &pub_handler, p) != 0)
    pub_dead(p, "bad HTTP framing");
}

static int pub_send_one(publisher_t *p) {
  static char request[8192], body[8192];
  uint64_t seq = g.sent;
  uint64_t topic = seq % g.opt.topics;
  uint64_t t = now_ns();
  int data_at = 0;
  int n = g.opt.target == TARGET_NCHAN
              ? snprintf(body, sizeof body, "%" PRIu64 ".%" PRIu64, seq, t)
              : snprintf(body, sizeof body,
                         "topic=https%%3A%%2F%%2Fexample.com%%2Fusers%%2F%" PRIu64 "%s&data=%n%" PRIu64
                         ".%" PRIu64,
                         topic, g.opt.mode == MODE_URLPATTERN ? "%2Fevents" : "", &data_at, seq, t);
  size_t len = (size_t)n;
  while (len - (size_t)data_at < g.opt.data_bytes && len < sizeof body - 1) body[len++] = 'x';
  body[len] = 0;
  int m =
      g.opt.target == TARGET_NCHAN
          ? snprintf(request, sizeof request,
                     "POST %spub/%" PRIu64
                     " HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     g.opt.path, topic, g.opt.host, g.opt.port, len, body)
          : snprintf(
                request, sizeof request,
                "POST %s HTTP/1.1\r\nHost: %s:%d\r\n%s%s%sContent-Type: application/x-www-form-urlencoded\r\n"
                "Content-Length: %zu\r\n\r\n%s",
                g.opt.path, g.opt.host, g.opt.port, g.opt.pub_token ? "Authorization: Bearer " : "",
                g.opt.pub_token ? g.opt.pub_token : "", g.opt.pub_token ? "\r\n" : "", len, body);
  if (m <= 0 || (size_t)m >= sizeof request) return -1;
  if (write_bytes((uv_stream_t *)&p->tcp, request, (size_t)m) != 0) return -1;
  p->sent_ns[(p->head + p->inflight) % MAX_PIPELINE] = t;
  p->inflight++;
  g.sent++;
  return 0;
}

/* Sends what is due (all of it flat out; rate * elapsed otherwise) on
 * publishers with room in their pipeline, round robin. */
static void send_publishes(void) {
  if (!g.publishing || g.finished) return;
  uint64_t due = g.opt.publishes;
  if (g.opt.rate > 0) {
    double elapsed = (now_ns() - g.t_pub_start_ns) / 1e9;
    uint64_t by_rate = (uint64_t)(elapsed * g.opt.rate) + 1;
    if (by_rate < due) due = by_rate;
  }
  static uint32_t next;
  uint32_t idle_rounds = 0;
  while (g.sent < due && idle_rounds < g.opt.publishers) {
    publisher_t *p = &g.pubs[next];
    next = (next + 1) % g.opt.publishers;
    if (p->dead || !p->connected || p->inflight >= g.opt.pipeline) {
      idle_rounds++;
      continue;
    }
    idle_rounds = 0;
    if (pub_send_one(p) != 0) pub_dead(p, "cannot write");
  }
  if (g.opt.rate > 0 && due > g.sent && due - g.sent > g.behind_max) g.behind_max = due - g.sent;
}

static void on_tick(uv_timer_t *t) {
  (void)t;
  send_publishes();
  maybe_finish_deliveries();
}

static void begin_publishing(void) {
  g.publishing = true;
  g.t_pub_start_ns = g.t_last_progress_ns = now_ns();
  g.hub_cpu_start_s = hub_cpu_s();
  g.machine_busy_start_s = machine_busy_s();
  g.out_segs_start = tcp_out_segs();
  getrusage(RUSAGE_SELF, &g.usage_start);
  uv_timer_start(&g.tick, on_tick, 1, 1);
  send_publishes();
  maybe_finish_deliveries();
}

static void pub_on_connect(uv_connect_t *req, int status) {
  publisher_t *p = req->data;
  free(req);
  if (status < 0 || uv_read_start((uv_stream_t *)&p->tcp, on_alloc, pub_on_read) != 0) {
    pub_dead(p, status < 0 ? uv_strerror(status) : "cannot read");
  } else {
    p->connected = true;
    uv_tcp_nodelay(&p->tcp, 1);
  }
  if (++g.publishers_connected == g.opt.publishers) begin_publishing();
}

static void start_publishers(uv_timer_t *t) {
  (void)t;
  g.rss_connected_kib = hub_rss_kib();
  if (g.opt.publishes == 0) {
    /* Idle measurement: hold the subscribers, then measure again. */
    g.publishing = true;
    g.t_pub_start_ns = now_ns();
    g.hub_cpu_start_s = hub_cpu_s();
    g.machine_busy_start_s = machine_busy_s();
    getrusage(RUSAGE_SELF, &g.usage_start);
    uv_timer_start(&g.phase_timer, on_idle_done, g.opt.idle_ms, 0);
    return;
  }
  for (uint32_t i = 0; i < g.opt.publishers; i++) {
    publisher_t *p = &g.pubs[i];
    p->index = i;
    response_reset(&p->response);
    uv_connect_t *req = malloc(sizeof *req);
    int rc = req ? open_socket(&p->tcp, 0) : UV_ENOMEM;
    if (rc == 0) {
      p->tcp.data = p;
      req->data = p;
      rc = uv_tcp_connect(req, &p->tcp, (const struct sockaddr *)&g.pub_addr, pub_on_connect);
      if (rc) uv_close((uv_handle_t *)&p->tcp, on_pub_closed);
    }
    if (rc) {
      free(req);
      fprintf(stderr, "loadgen: publisher %u: %s\n", i, uv_strerror(rc));
      p->dead = true;
      g.publishers_dead++;
      if (++g.publishers_connected == g.opt.publishers) begin_publishing();
    }
  }
}

/* ---- the end ---- */

static void maybe_finish_deliveries(void) {
  if (!g.publishing || g.finished || g.opt.publishes == 0) return;
  bool publishes_done = g.acked + g.pub_failed >= g.opt.publishes || g.publishers_dead == g.opt.publishers;
  if (!publishes_done) return;
  if (g.received >= g.expected) {
    finish();
    return;
  }
  if (now_ns() - g.t_last_progress_ns > g.opt.drain_ms * 1000000ull) finish();
}

static void on_hard_stop(uv_timer_t *t) {
  (void)t;
  g.aborted = true;
  if (!g.opt.json) fprintf(stderr, "loadgen: --duration-limit reached, stopping\n");
  finish();
}

static void print_statuses(FILE *f, const status_count_t *table, bool json) {
  bool first = true;
  for (int i = 0; i < MAX_STATUS_KINDS && table[i].count; i++) {
    fprintf(f, json ? "%s\"%d\": %" PRIu64 : "%s%d x%" PRIu64, first ? "" : ", ", table[i].status,
            table[i].count);
    first = false;
  }
}

static void finish(void) {
  if (g.finished) return;
  g.finished = true;
  uint64_t t_end = now_ns();
  g.rss_end_kib = hub_rss_kib();
  g.hub_cpu_end_s = hub_cpu_s();
  g.machine_busy_end_s = machine_busy_s();
  g.out_segs_end = tcp_out_segs();
  getrusage(RUSAGE_SELF, &g.usage_end);
  if (!g.t_pub_start_ns) {
    g.t_pub_start_ns = t_end;
    g.hub_cpu_start_s = g.hub_cpu_end_s;
    g.machine_busy_start_s = g.machine_busy_end_s;
    g.usage_start = g.usage_end;
  }
  if (!g.t_connected_ns) g.t_connected_ns = t_end;
  const options_t *o = &g.opt;

  double connect_s = (g.t_connected_ns - g.t_start_ns) / 1e9;
  double pub_span_s = g.t_last_ack_ns > g.t_pub_start_ns ? (g.t_last_ack_ns - g.t_pub_start_ns) / 1e9 : 0;
  double delivery_span_s = g.received && g.t_last_delivery_ns > g.t_pub_start_ns
                               ? (g.t_last_delivery_ns - g.t_pub_start_ns) / 1e9
                               : 0;
  double publish_rate = pub_span_s > 0 ? g.acked / pub_span_s : 0;
  double delivery_rate = delivery_span_s > 0 ? g.received / delivery_span_s : 0;
  uint64_t lost = g.expected > g.received ? g.expected - g.received : 0;
  long rss_delta =
      g.rss_before_kib >= 0 && g.rss_connected_kib >= 0 ? g.rss_connected_kib - g.rss_before_kib : 0;
  double bytes_per_sub = g.ready && g.opt.hub_pid ? rss_delta * 1024.0 / g.ready : 0;
  double phase_s = (t_end - g.t_pub_start_ns) / 1e9;
  bool hub_cpu_known = g.hub_cpu_start_s >= 0 && g.hub_cpu_end_s >= 0;
  double hub_cpu = hub_cpu_known ? g.hub_cpu_end_s - g.hub_cpu_start_s : 0;
  if (hub_cpu < 0) hub_cpu_known = false, hub_cpu = 0; /* a zombie's counters */
  double own_cpu = rusage_cpu_s(&g.usage_end) - rusage_cpu_s(&g.usage_start);
  /* Without the hub's figure, "others" includes the hub. */
  double others_cpu = g.machine_busy_end_s - g.machine_busy_start_s - hub_cpu - own_cpu;
  if (others_cpu < 0) others_cpu = 0; /* tick rounding */
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  /* Hub CPU per unit of work: comparable across runs even when other
   * processes share the machine. */
  double hub_us_per_delivery = g.received ? hub_cpu * 1e6 / g.received : 0;
  double hub_us_per_publish = g.acked ? hub_cpu * 1e6 / g.acked : 0;
  long long out_segs =
      g.out_segs_start >= 0 && g.out_segs_end >= g.out_segs_start ? g.out_segs_end - g.out_segs_start : -1;
  double segs_per_delivery = out_segs >= 0 && g.received ? (double)out_segs / (double)g.received : 0;
  bool ok = !g.aborted && g.failed == 0 && lost == 0 && g.duplicates == 0 && g.wrong == 0 &&
            g.pub_failed == 0 && g.acked == o->publishes && g.disconnected == 0;
  const double q[] = {0.50, 0.90, 0.99};

  FILE *js = o->json ? stdout : o->json_out ? fopen(o->json_out, "w") : NULL;
  if (o->json_out && !js) fprintf(stderr, "loadgen: cannot write %s\n", o->json_out);
  if (js) {
    fprintf(js,
            "{\"subscribers\": %u, \"topics\": %u, \"match_mode\": \"%s\", \"publishes\": %" PRIu64
            ", \"rate\": %.0f, \"publishers\": %u, \"pipeline\": %u, \"sources\": %u, \"data_bytes\": %zu,\n",
            o->subscribers, o->topics, mode_names[o->mode], o->publishes, o->rate, o->publishers, o->pipeline,
            o->sources, o->data_bytes);
    fprintf(js,
            " \"ok\": %s, \"aborted\": %s, \"subscribers_ready\": %u, \"subscribers_failed\": %u, "
            "\"subscribers_disconnected\": %u, \"subscribe_statuses\": {",
            ok ? "true" : "false", g.aborted ? "true" : "false", g.ready, g.failed, g.disconnected);
    print_statuses(js, g.sub_statuses, true);
    fprintf(js,
            "},\n \"connect_s\": %.3f, \"hub_rss_before_kib\": %ld, \"hub_rss_connected_kib\": %ld, "
            "\"hub_rss_end_kib\": %ld, \"hub_bytes_per_subscriber\": %.0f,\n",
            connect_s, g.rss_before_kib, g.rss_connected_kib, g.rss_end_kib, bytes_per_sub);
    fprintf(js, " \"publishes_ok\": %" PRIu64 ", \"publishes_failed\": %" PRIu64 ", \"publish_statuses\": {",
            g.acked, g.pub_failed);
    print_statuses(js, g.pub_statuses, true);
    fprintf(js,
            "}, \"publish_rate_per_s\": %.0f, \"publish_behind_max\": %" PRIu64 ", \"publish_latency_us\": {",
            publish_rate, g.behind_max);
    for (int i = 0; i < 3; i++)
      fprintf(js, "\"p%.0f\": %.1f, ", q[i] * 100, hist_percentile(&g.pub_latency, q[i]) / 1e3);
    fprintf(js, "\"max\": %.1f},\n", g.pub_latency.max / 1e3);
    fprintf(js,
            " \"deliveries_expected\": %" PRIu64 ", \"deliveries_received\": %" PRIu64
            ", \"deliveries_lost\": %" PRIu64 ", \"duplicates\": %" PRIu64 ", \"wrong_topic\": %" PRIu64
            ", \"malformed\": %" PRIu64 ", \"subscribers_complete\": %" PRIu64 ",\n",
            g.expected, g.received, lost, g.duplicates, g.wrong, g.malformed, g.subs_complete);
    fprintf(js, " \"deliveries_per_s\": %.0f, \"delivery_span_s\": %.3f, \"latency_us\": {", delivery_rate,
            delivery_span_s);
    for (int i = 0; i < 3; i++)
      fprintf(js, "\"p%.0f\": %.1f, ", q[i] * 100, hist_percentile(&g.latency, q[i]) / 1e3);
    fprintf(js, "\"max\": %.1f},\n", g.latency.max / 1e3);
    fprintf(js,
            " \"phase_s\": %.3f, \"cpus\": %ld, \"hub_cpu_s\": %.2f, \"loadgen_cpu_s\": %.2f, "
            "\"others_cpu_s\": %.2f,\n"
            "  \"hub_cpu_us_per_delivery\": %.2f, \"hub_cpu_us_per_publish\": %.2f,\n"
            "  \"target\": \"%s\", \"tcp_out_segs\": %lld, \"tcp_segs_per_delivery\": %.3f}\n",
            phase_s, cpus, hub_cpu, own_cpu, others_cpu, hub_us_per_delivery, hub_us_per_publish,
            o->target == TARGET_NCHAN ? "nchan" : "mercure", out_segs, segs_per_delivery);
    if (js != stdout) fclose(js);
  }
  if (!o->json) {
    printf("subscribers   %u ready, %u failed", g.ready, g.failed);
    if (g.sub_statuses[0].count) {
      printf(" (statuses: ");
      print_statuses(stdout, g.sub_statuses, false);
      printf(")");
    }
    printf(", %u disconnected; %u topics, match mode %s, %u source addresses\n", g.disconnected, o->topics,
           mode_names[o->mode], o->sources);
    printf("connect       %.3f s (%.0f subscribers/s)\n", connect_s, connect_s > 0 ? g.ready / connect_s : 0);
    if (o->hub_pid)
      printf("hub RSS       %ld KiB before, %ld KiB connected, %ld KiB at end -> %.0f bytes per subscriber\n",
             g.rss_before_kib, g.rss_connected_kib, g.rss_end_kib, bytes_per_sub);
    if (o->publishes) {
      printf("publishes     %" PRIu64 " ok, %" PRIu64 " failed", g.acked, g.pub_failed);
      if (g.pub_statuses[0].count) {
        printf(" (statuses: ");
        print_statuses(stdout, g.pub_statuses, false);
        printf(")");
      }
      printf(" from %u publishers x %u in flight; %.0f/s achieved (asked %s%.0f)\n", o->publishers,
             o->pipeline, publish_rate, o->rate > 0 ? "" : "flat out, ", o->rate);
      printf("publish lat.  p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms\n",
             hist_percentile(&g.pub_latency, 0.5) / 1e6, hist_percentile(&g.pub_latency, 0.9) / 1e6,
             hist_percentile(&g.pub_latency, 0.99) / 1e6, g.pub_latency.max / 1e6);
      printf("deliveries    %" PRIu64 " of %" PRIu64 " expected, lost %" PRIu64 ", duplicates %" PRIu64
             ", wrong topic %" PRIu64 ", malformed %" PRIu64 "; %" PRIu64 " subscribers complete\n",
             g.received, g.expected, lost, g.duplicates, g.wrong, g.malformed, g.subs_complete);
      printf("delivery rate %.0f deliveries/s over %.3f s\n", delivery_rate, delivery_span_s);
      printf("delivery lat. p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms\n",
             hist_percentile(&g.latency, 0.5) / 1e6, hist_percentile(&g.latency, 0.9) / 1e6,
             hist_percentile(&g.latency, 0.99) / 1e6, g.latency.max / 1e6);
    }
    printf("cpu           hub %.2f s, loadgen %.2f s, other processes %.2f s, over %.3f s x %ld CPUs%s\n",
           hub_cpu, own_cpu, others_cpu, phase_s, cpus,
           hub_cpu_known ? "" : " (hub: unknown, counted in others: no --hub-pid, or the hub is gone)");
    if (hub_cpu_known && o->publishes)
      printf("hub cpu       %.2f us per delivery, %.2f us per publish\n", hub_us_per_delivery,
             hub_us_per_publish);
    if (out_segs >= 0 && o->publishes)
      printf("tcp segments  %lld sent on the machine, %.3f per delivery\n", out_segs, segs_per_delivery);
    printf("result        %s%s\n", ok ? "OK" : "FAILED", g.aborted ? " (stopped by --duration-limit)" : "");
  }
  fflush(stdout);
  /* Exiting closes every socket; the hub sees the subscribers go at once. */
  exit(ok ? 0 : 1);
}

/* ---- command line ---- */

static void usage(FILE *f) {
  fputs(
      "Usage: loadgen --url http://127.0.0.1:PORT/.well-known/mercure [OPTIONS]\n"
      "  --subscribers N          subscriber connections (default 1000)\n"
      "  --topics T               distinct topics; subscriber j takes topic j %% T (default 1)\n"
      "  --match-mode MODE        exact (match=), urlpattern (match_urlpattern=.../<k>/*), legacy (topic=)\n"
      "  --publishes M            updates to publish (default 200; 0 = measure idle memory only)\n"
      "  --rate R                 publishes per second overall (default 0 = flat out)\n"
      "  --publishers P           publisher connections, keep-alive (default 4)\n"
      "  --pipeline D             requests in flight per publisher connection (default 1, max 64)\n"
      "  --pub-token JWT          publisher token (Authorization: Bearer)\n"
      "  --sub-token JWT          subscriber token (default: anonymous)\n"
      "  --sources K              source addresses 127.0.0.1 .. 127.0.0.K (default 4)\n"
      "  --data-bytes B           pad each update's data to about B bytes (default 0)\n"
      "  --connect-concurrency C  subscribers connecting at once (default 500)\n"
      "  --settle-ms MS           pause after connecting, before measuring RSS (default 500)\n"
      "  --drain-ms MS            give up on missing deliveries after MS without progress (default 3000)\n"
      "  --idle-ms MS             with --publishes 0: hold the subscribers MS (default 1000)\n"
      "  --duration-limit S       hard stop after S seconds (default 120)\n"
      "  --hub-pid PID[,PID...]   read the hub's VmRSS and CPU time from /proc/PID (summed)\n"
      "  --target T               mercure (default), or nchan: GET <url>sub/<k>, POST <url>pub/<k>\n"
      "  --pub-port PORT          publishers connect to PORT on the same host (another node of a\n"
      "                           cluster; default: the --url port)\n"
      "  --sub-ports P1,P2,...    subscriber j connects to port P(j mod n) on the same host (the\n"
      "                           nodes of a cluster; default: the --url port)\n"
      "  --json                   one JSON object on stdout instead of the text report\n"
      "  --json-out FILE          also write that JSON object to FILE\n",
      f);
}

static int parse_url(options_t *o) {
  const char *p = o->url;
  if (strncmp(p, "http://", 7) != 0) return -1;
  p += 7;
  const char *colon = strchr(p, ':'), *slash = strchr(p, '/');
  if (!colon || (slash && slash < colon) || (size_t)(colon - p) >= sizeof o->host) return -1;
  memcpy(o->host, p, (size_t)(colon - p));
  o->host[colon - p] = 0;
  o->port = atoi(colon + 1);
  snprintf(o->path, sizeof o->path, "%s", slash ? slash : "/.well-known/mercure");
  struct in_addr a;
  if (o->target == TARGET_NCHAN && o->path[strlen(o->path) - 1] != '/' &&
      strlen(o->path) < sizeof o->path - 1)
    strcat(o->path, "/");
  if (o->port <= 0 || o->port > 65535 || inet_pton(AF_INET, o->host, &a) != 1) return -1;
  if ((ntohl(a.s_addr) >> 24) != 127) return -2; /* loopback only */
  uv_ip4_addr(o->host, o->port, &g.hub_addr);
  uv_ip4_addr(o->host, o->pub_port ? o->pub_port : o->port, &g.pub_addr);
  for (unsigned i = 0; i < o->n_sub_ports; i++) uv_ip4_addr(o->host, o->sub_ports[i], &g.sub_addrs[i]);
  return 0;
}

static int parse_options(int argc, char **argv, options_t *o) {
  *o = (options_t){.subscribers = 1000,
                   .topics = 1,
                   .publishers = 4,
                   .pipeline = 1,
                   .sources = 4,
                   .connect_concurrency = 500,
                   .publishes = 200,
                   .settle_ms = 500,
                   .drain_ms = 3000,
                   .idle_ms = 1000,
                   .duration_limit_s = 120};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--json")) {
      o->json = true;
      continue;
    }
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      exit(0);
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "loadgen: %s needs a value\n", a);
      return -1;
    }
    const char *v = argv[++i];
    char *end = NULL;
    unsigned long long n = strtoull(v, &end, 10);
    bool numeric = end && end != v && *end == 0;
    if (!strcmp(a, "--url"))
      o->url = v;
    else if (!strcmp(a, "--pub-token"))
      o->pub_token = v;
    else if (!strcmp(a, "--sub-token"))
      o->sub_token = v;
    else if (!strcmp(a, "--json-out"))
      o->json_out = v;
    else if (!strcmp(a, "--target")) {
      if (!strcmp(v, "mercure"))
        o->target = TARGET_MERCURE;
      else if (!strcmp(v, "nchan"))
        o->target = TARGET_NCHAN;
      else {
        fprintf(stderr, "loadgen: --target is mercure or nchan\n");
        return -1;
      }
    } else if (!strcmp(a, "--hub-pid")) {
      o->n_hub_pids = 0;
      for (const char *p = v; *p;) {
        char *e;
        long pid = strtol(p, &e, 10);
        if (e == p || pid <= 0 || (*e && *e != ',') || o->n_hub_pids == MAX_HUB_PIDS) {
          fprintf(stderr, "loadgen: --hub-pid takes up to %d PIDs, comma-separated\n", MAX_HUB_PIDS);
          return -1;
        }
        o->hub_pids[o->n_hub_pids++] = (int)pid;
        p = *e ? e + 1 : e;
      }
      o->hub_pid = o->n_hub_pids ? o->hub_pids[0] : 0;
    } else if (!strcmp(a, "--sub-ports")) {
      o->n_sub_ports = 0;
      for (const char *p = v; *p;) {
        char *e;
        long port = strtol(p, &e, 10);
        if (e == p || port <= 0 || port > 65535 || (*e && *e != ',') || o->n_sub_ports == MAX_SUB_PORTS) {
          fprintf(stderr, "loadgen: --sub-ports takes up to %d ports, comma-separated\n", MAX_SUB_PORTS);
          return -1;
        }
        o->sub_ports[o->n_sub_ports++] = (int)port;
        p = *e ? e + 1 : e;
      }
    } else if (!strcmp(a, "--match-mode")) {
      o->mode = -1;
      for (int m = 0; m < 3; m++)
        if (!strcmp(v, mode_names[m])) o->mode = m;
      if (o->mode < 0) {
        fprintf(stderr, "loadgen: --match-mode is exact, urlpattern or legacy\n");
        return -1;
      }
    } else if (!strcmp(a, "--rate") || !strcmp(a, "--duration-limit")) {
      double d = strtod(v, &end);
      if (*end || d < 0) {
        fprintf(stderr, "loadgen: %s takes a number\n", a);
        return -1;
      }
      if (!strcmp(a, "--rate"))
        o->rate = d;
      else
        o->duration_limit_s = d;
    } else if (!numeric) {
      fprintf(stderr, "loadgen: unknown option %s, or %s is not a number\n", a, v);
      return -1;
    } else if (!strcmp(a, "--subscribers"))
      o->subscribers = (uint32_t)n;
    else if (!strcmp(a, "--topics"))
      o->topics = (uint32_t)n;
    else if (!strcmp(a, "--publishes"))
      o->publishes = n;
    else if (!strcmp(a, "--publishers"))
      o->publishers = (uint32_t)n;
    else if (!strcmp(a, "--pipeline"))
      o->pipeline = (uint32_t)n;
    else if (!strcmp(a, "--sources"))
      o->sources = (uint32_t)n;
    else if (!strcmp(a, "--data-bytes"))
      o->data_bytes = (size_t)n;
    else if (!strcmp(a, "--connect-concurrency"))
      o->connect_concurrency = (uint32_t)n;
    else if (!strcmp(a, "--settle-ms"))
      o->settle_ms = n;
    else if (!strcmp(a, "--drain-ms"))
      o->drain_ms = n;
    else if (!strcmp(a, "--idle-ms"))
      o->idle_ms = n;
    else if (!strcmp(a, "--pub-port") && n > 0 && n <= 65535)
      o->pub_port = (int)n;
    else {
      fprintf(stderr, "loadgen: unknown option %s\n", a);
      return -1;
    }
  }
  if (!o->url) {
    fprintf(stderr, "loadgen: --url is required\n");
    return -1;
  }
  int rc = parse_url(o);
  if (rc) {
    fprintf(stderr, rc == -2 ? "loadgen: only loopback addresses (127.0.0.0/8) are allowed\n"
                             : "loadgen: --url must look like http://127.0.0.1:PORT/.well-known/mercure\n");
    return -1;
  }
  if (!o->topics || !o->publishers || !o->sources || o->sources > 254 || !o->pipeline ||
      o->pipeline > MAX_PIPELINE || !o->connect_concurrency || o->data_bytes > 4000) {
    fprintf(stderr,
            "loadgen: --topics, --publishers, --sources (<= 254), --pipeline (<= %d) and "
            "--connect-concurrency must be positive, --data-bytes at most 4000\n",
            MAX_PIPELINE);
    return -1;
  }
  return 0;
}

/* Room for N subscribers + P publishers + a margin, up to the hard limit. */
static void raise_fd_limit(const options_t *o) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  uint64_t need = (uint64_t)o->subscribers + o->publishers + 32;
  if (need > rl.rlim_cur)
    fprintf(stderr, "loadgen: warning: %" PRIu64 " descriptors needed, the limit is %llu\n", need,
            (unsigned long long)rl.rlim_cur);
}

int main(int argc, char **argv) {
  if (parse_options(argc, argv, &g.opt) != 0) {
    usage(stderr);
    return 2;
  }
  const options_t *o = &g.opt;
  raise_fd_limit(o);
  signal(SIGPIPE, SIG_IGN);

  g.subs = calloc(o->subscribers ? o->subscribers : 1, sizeof *g.subs);
  g.pubs = calloc(o->publishers, sizeof *g.pubs);
  g.expected_per_sub_max = (o->publishes + o->topics - 1) / o->topics;
  uint64_t bits = (uint64_t)o->subscribers * g.expected_per_sub_max;
  if (bits && bits <= (1ull << 33))
    g.seen = calloc(bits / 8 + 1, 1); /* up to 1 GiB: else no duplicate check */
  if (!g.subs || !g.pubs) {
    fprintf(stderr, "loadgen: out of memory\n");
    return 1;
  }

  const char *param = o->mode == MODE_EXACT        ? "match"
                      : o->mode == MODE_URLPATTERN ? "match_urlpattern"
                                                   : "topic";
  size_t need = strlen(o->path) + 128;
  g.query_prefix = malloc(need);
  if (o->target == TARGET_NCHAN)
    snprintf(g.query_prefix, need, "GET %ssub/", o->path);
  else
    snprintf(g.query_prefix, need, "GET %s?%s=https%%3A%%2F%%2Fexample.com%%2Fusers%%2F", o->path, param);
  need = strlen(o->host) + (o->sub_token ? strlen(o->sub_token) : 0) + 128;
  g.request_suffix = malloc(need);
  snprintf(g.request_suffix, need, " HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n%s%s%s\r\n",
           o->host, o->port, o->sub_token ? "Authorization: Bearer " : "", o->sub_token ? o->sub_token : "",
           o->sub_token ? "\r\n" : "");

  g.loop = uv_default_loop();
  uv_timer_init(g.loop, &g.tick);
  uv_timer_init(g.loop, &g.phase_timer);
  uv_timer_init(g.loop, &g.hard_stop);
  if (o->duration_limit_s > 0)
    uv_timer_start(&g.hard_stop, on_hard_stop, (uint64_t)(o->duration_limit_s * 1e3), 0);

  if (!o->json) {
    printf("loadgen");
    for (int i = 1; i < argc; i++) {
      bool secret = i > 1 && (!strcmp(argv[i - 1], "--pub-token") || !strcmp(argv[i - 1], "--sub-token"));
      printf(" %s", secret ? "<token>" : argv[i]); /* never print a token */
    }
    printf("\n");
    fflush(stdout);
  }
  g.rss_before_kib = hub_rss_kib();
  g.t_start_ns = now_ns();
  connect_more_subscribers();
  uv_run(g.loop, UV_RUN_DEFAULT);
  finish(); /* not reached: finish() exits */
  return 1;
}
