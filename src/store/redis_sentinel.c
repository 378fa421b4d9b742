/* The Redis transport's Sentinel client (redis_sentinel.h).
 *
 * Two kinds of connection, both to sentinels: a short one per question
 * (`ask`: connect, SENTINEL get-master-addr-by-name, disconnect) and a long
 * one subscribed to `+switch-master` (`watch`). A subscribed connection
 * cannot ask (RESP2), hence the two. Each tries the sentinels in turn when
 * one fails; a timer bounds how long a connection may take to answer. */
#include "store/redis_sentinel.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "store/redis_libuv.h"

#define TICK_MS 250
/* A sentinel that has not answered a question (or confirmed the
 * subscription) in this long is given up for the next one. */
#define ANSWER_TIMEOUT_MS 1000
/* After every sentinel failed, the next round waits this long. */
#define ROUND_RETRY_MS 500
#define DEFAULT_PORT 26379
#define NAME_MAX_LEN 128

struct qs_redis_sentinel {
  uv_loop_t *loop;
  uv_timer_t tick;
  qs_redis_sentinel_addr_t addrs[QS_REDIS_SENTINELS_MAX];
  size_t count;
  char master_name[NAME_MAX_LEN + 1];
  char password[QS_REDIS_SENTINEL_PASSWORD_MAX + 1]; /* "" = no AUTH */
  qs_redis_sentinel_on_primary_fn on_primary;
  void *ctx;
  bool closing;

  /* The question in progress (ask_ac), to addrs[ask_index]. */
  redisAsyncContext *ask_ac;
  size_t ask_index;
  size_t ask_failed; /* sentinels that failed in this round */
  uint64_t ask_started_ms;
  uint64_t ask_at_ms; /* when to ask next (0: no question due) */
  bool ask_wanted;    /* a refresh came while a question was in progress */
  bool round_warned;

  /* The subscribed connection, to addrs[watch_index]. */
  redisAsyncContext *watch_ac;
  size_t watch_index;
  uint64_t watch_started_ms;
  uint64_t watch_at_ms; /* when to connect it again (0: connected or connecting) */
  size_t watch_failed;  /* sentinels that failed since the last confirmation */
  bool watch_up;        /* the subscription is confirmed */
  bool watch_was_up;    /* a later confirmation may have missed an announcement */

  char host[256]; /* the primary, as last heard ("" not yet) */
  int port;
};

/* ---- Parsing ---- */

static bool parse_port(const char *p, size_t n, int *out) {
  if (n == 0 || n > 5) return false;
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return false;
    v = v * 10 + (p[i] - '0');
  }
  if (v < 1 || v > 65535) return false;
  *out = v;
  return true;
}

static int parse_one(const char *p, size_t n, qs_redis_sentinel_addr_t *out, const char **reason) {
  const char *host = p, *colon = NULL;
  size_t host_len;
  if (n > 0 && p[0] == '[') {
    const char *close = memchr(p, ']', n);
    if (!close) {
      *reason = "redis_sentinels: an IPv6 address lacks its closing `]`";
      return QS_EINVAL;
    }
    host = p + 1;
    host_len = (size_t)(close - host);
    if (close + 1 < p + n) {
      if (close[1] != ':') {
        *reason = "redis_sentinels: expected `:PORT` after `]`";
        return QS_EINVAL;
      }
      colon = close + 1;
    }
  } else {
    colon = memchr(p, ':', n);
    host_len = colon ? (size_t)(colon - p) : n;
  }
  if (host_len == 0 || host_len >= sizeof out->host) {
    *reason = "redis_sentinels: each entry needs a host of 1 to 255 characters (host:port)";
    return QS_EINVAL;
  }
  for (size_t i = 0; i < host_len; i++)
    if ((unsigned char)host[i] <= ' ' || host[i] == ',' || host[i] == 0x7f) {
      *reason = "redis_sentinels: a host holds a space or a control character";
      return QS_EINVAL;
    }
  memcpy(out->host, host, host_len);
  out->host[host_len] = '\0';
  out->port = DEFAULT_PORT;
  if (colon && !parse_port(colon + 1, (size_t)(p + n - colon - 1), &out->port)) {
    *reason = "redis_sentinels: a port must be a number from 1 to 65535";
    return QS_EINVAL;
  }
  return 0;
}

int qs_redis_sentinel_parse(const char *list, qs_redis_sentinel_addr_t out[QS_REDIS_SENTINELS_MAX],
                            size_t *count, const char **reason) {
  *count = 0;
  const char *p = list;
  for (;;) {
    while (*p == ' ' || *p == '\t') p++;
    const char *end = strchr(p, ',');
    if (!end) end = p + strlen(p);
    const char *last = end;
    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) last--;
    if (last == p) {
      *reason = *list ? "redis_sentinels: an empty entry (two commas, or one at an end)"
                      : "redis_sentinels: empty; list host:port entries separated by commas";
      return QS_EINVAL;
    }
    if (*count == QS_REDIS_SENTINELS_MAX) {
      *reason = "redis_sentinels: at most 16 sentinels";
      return QS_EINVAL;
    }
    if (parse_one(p, (size_t)(last - p), &out[*count], reason) < 0) return QS_EINVAL;
    (*count)++;
    if (!*end) return 0;
    p = end + 1;
  }
}

bool qs_redis_sentinel_name_ok(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > NAME_MAX_LEN) return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)name[i] <= ' ' || name[i] == 0x7f) return false;
  return true;
}

/* ---- The primary ---- */

static void set_primary(qs_redis_sentinel_t *s, const char *host, size_t host_len, int port,
                        const char *how) {
  if (host_len == 0 || host_len >= sizeof s->host) return;
  if (s->port == port && strlen(s->host) == host_len && memcmp(s->host, host, host_len) == 0) return;
  bool first = s->port == 0;
  memcpy(s->host, host, host_len);
  s->host[host_len] = '\0';
  s->port = port;
  if (first)
    QS_LOG_INFO("redis: Sentinel: the primary of %s is %s:%d", s->master_name, s->host, port);
  else
    QS_LOG_WARN("redis: Sentinel: the primary of %s is now %s:%d (%s)", s->master_name, s->host, port, how);
  s->on_primary(s->ctx, s->host, port);
}

/* ---- Connections ---- */

static redisAsyncContext *connect_to(qs_redis_sentinel_t *s, const qs_redis_sentinel_addr_t *a);

/* The question failed (no connection, no answer, a refusal): the next
 * sentinel now, or after every one failed, a new round a little later. */
static void ask_fail(qs_redis_sentinel_t *s, const char *why) {
  const qs_redis_sentinel_addr_t *a = &s->addrs[s->ask_index];
  s->ask_ac = NULL;
  QS_LOG_DEBUG("redis: Sentinel %s:%d did not answer: %s", a->host, a->port, why);
  s->ask_index = (s->ask_index + 1) % s->count;
  if (++s->ask_failed < s->count) {
    s->ask_at_ms = uv_now(s->loop);
    return;
  }
  if (!s->round_warned)
    QS_LOG_WARN("redis: no sentinel told where the primary of %s is (last: %s:%d, %s); asking again",
                s->master_name, a->host, a->port, why);
  s->round_warned = true;
  s->ask_failed = 0;
  s->ask_at_ms = uv_now(s->loop) + ROUND_RETRY_MS;
}

static void on_ask(redisAsyncContext *ac, void *r, void *privdata) {
  (void)privdata;
  qs_redis_sentinel_t *s = ac->data;
  redisReply *reply = r;
  if (s->ask_ac != ac) return; /* already given up */
  if (!reply) {
    ask_fail(s, "connection lost");
    return;
  }
  int port = 0;
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
      reply->element[0]->type == REDIS_REPLY_STRING && reply->element[1]->type == REDIS_REPLY_STRING &&
      parse_port(reply->element[1]->str, reply->element[1]->len, &port) && reply->element[0]->len > 0 &&
      reply->element[0]->len < sizeof s->host) {
    s->ask_ac = NULL;
    s->ask_failed = 0;
    s->round_warned = false;
    if (s->ask_wanted) s->ask_at_ms = uv_now(s->loop);
    s->ask_wanted = false;
    set_primary(s, reply->element[0]->str, reply->element[0]->len, port, "asked after a connection failed");
  } else {
    ask_fail(s, reply->type == REDIS_REPLY_NIL     ? "it does not monitor that master name"
                : reply->type == REDIS_REPLY_ERROR ? reply->str
                                                   : "odd reply");
  }
  redisAsyncDisconnect(ac); /* once this callback returns */
}

static void ask_start(qs_redis_sentinel_t *s) {
  s->ask_at_ms = 0;
  if (s->closing) return;
  if (s->ask_ac) {
    s->ask_wanted = true;
    return;
  }
  redisAsyncContext *ac = connect_to(s, &s->addrs[s->ask_index]);
  if (!ac) {
    ask_fail(s, "cannot connect");
    return;
  }
  s->ask_ac = ac;
  s->ask_started_ms = uv_now(s->loop);
  if (redisAsyncCommand(ac, on_ask, NULL, "SENTINEL get-master-addr-by-name %s", s->master_name) !=
      REDIS_OK) {
    ask_fail(s, "cannot send");
    redisAsyncFree(ac); /* its callbacks see it given up */
  }
}

/* The subscribed connection is gone: the next sentinel on the next tick, or
 * after every one failed, a little later. */
static void watch_lost(qs_redis_sentinel_t *s) {
  if (s->watch_up)
    QS_LOG_WARN("redis: Sentinel %s:%d: announcements connection lost; trying the next sentinel",
                s->addrs[s->watch_index].host, s->addrs[s->watch_index].port);
  s->watch_ac = NULL;
  s->watch_up = false;
  s->watch_index = (s->watch_index + 1) % s->count;
  bool round_done = ++s->watch_failed >= s->count;
  if (round_done) s->watch_failed = 0;
  s->watch_at_ms = uv_now(s->loop) + (round_done ? ROUND_RETRY_MS : 1);
}

/* `+switch-master` carries "<name> <old host> <old port> <new host> <new port>". */
static void on_switch(qs_redis_sentinel_t *s, const char *text, size_t len) {
  const char *f[5];
  size_t n[5], k = 0;
  const char *p = text, *end = text + len;
  while (k < 5 && p < end) {
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    const char *stop = sp ? sp : end;
    f[k] = p;
    n[k++] = (size_t)(stop - p);
    p = sp ? sp + 1 : end;
  }
  int port;
  if (k != 5 || n[0] != strlen(s->master_name) || memcmp(f[0], s->master_name, n[0]) != 0 ||
      !parse_port(f[4], n[4], &port))
    return;
  set_primary(s, f[3], n[3], port, "Sentinel announced a failover");
}

static void on_watch(redisAsyncContext *ac, void *r, void *privdata) {
  (void)privdata;
  qs_redis_sentinel_t *s = ac->data;
  redisReply *reply = r;
  if (s->watch_ac != ac) return;
  if (!reply) {
    watch_lost(s);
    return;
  }
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
      reply->element[0]->type != REDIS_REPLY_STRING)
    return;
  const redisReply *kind = reply->element[0];
  if (kind->len == 9 && memcmp(kind->str, "subscribe", 9) == 0) {
    s->watch_up = true;
    s->watch_failed = 0;
    QS_LOG_DEBUG("redis: Sentinel %s:%d: following its announcements", s->addrs[s->watch_index].host,
                 s->addrs[s->watch_index].port);
    /* An announcement may have gone by while no connection listened. */
    if (s->watch_was_up) qs_redis_sentinel_refresh(s);
    s->watch_was_up = true;
  } else if (kind->len == 7 && memcmp(kind->str, "message", 7) == 0 &&
             reply->element[2]->type == REDIS_REPLY_STRING) {
    on_switch(s, reply->element[2]->str, reply->element[2]->len);
  }
}

static void watch_start(qs_redis_sentinel_t *s) {
  s->watch_at_ms = 0;
  if (s->closing) return;
  redisAsyncContext *ac = connect_to(s, &s->addrs[s->watch_index]);
  if (!ac) {
    watch_lost(s);
    return;
  }
  s->watch_ac = ac;
  s->watch_started_ms = uv_now(s->loop);
  if (redisAsyncCommand(ac, on_watch, NULL, "SUBSCRIBE +switch-master") != REDIS_OK) {
    s->watch_ac = NULL;
    redisAsyncFree(ac);
    watch_lost(s);
  }
}

static void on_connect(const redisAsyncContext *ac, int status) {
  qs_redis_sentinel_t *s = ac->data;
  if (status == REDIS_OK) return;
  /* hiredis frees the context after this; its pending callbacks may not run. */
  if (s->ask_ac == ac) ask_fail(s, ac->errstr);
  if (s->watch_ac == ac) watch_lost(s);
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
  (void)status;
  qs_redis_sentinel_t *s = ac->data;
  if (s->ask_ac == ac) ask_fail(s, "connection closed");
  if (s->watch_ac == ac) watch_lost(s);
}

/* AUTH's reply. A refusal is said here, with the sentinel's words; the
 * command queued behind AUTH is refused too (NOAUTH), which fails the
 * question or the subscription the usual way: the next sentinel is tried. */
static void on_auth(redisAsyncContext *ac, void *r, void *privdata) {
  const qs_redis_sentinel_addr_t *a = privdata;
  redisReply *reply = r;
  (void)ac;
  if (reply && reply->type == REDIS_REPLY_ERROR)
    QS_LOG_WARN("redis: Sentinel %s:%d refused redis_sentinel_password: %s", a->host, a->port, reply->str);
}

static redisAsyncContext *connect_to(qs_redis_sentinel_t *s, const qs_redis_sentinel_addr_t *a) {
  redisAsyncContext *ac = redisAsyncConnect(a->host, a->port);
  if (!ac) return NULL;
  if (ac->err) {
    QS_LOG_DEBUG("redis: Sentinel %s:%d: %s", a->host, a->port, ac->errstr);
    redisAsyncFree(ac);
    return NULL;
  }
  ac->data = s;
  if (qs_redis_libuv_attach(ac, s->loop) < 0) {
    redisAsyncFree(ac);
    return NULL;
  }
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  /* Sent before the connection's command, which waits behind it. */
  if (s->password[0] && redisAsyncCommand(ac, on_auth, (void *)a, "AUTH %s", s->password) != REDIS_OK) {
    redisAsyncFree(ac);
    return NULL;
  }
  return ac;
}

static void on_tick(uv_timer_t *t) {
  qs_redis_sentinel_t *s = t->data;
  uint64_t now = uv_now(s->loop);
  if (s->ask_ac && now - s->ask_started_ms > ANSWER_TIMEOUT_MS) {
    redisAsyncContext *ac = s->ask_ac;
    ask_fail(s, "no answer in time");
    redisAsyncFree(ac); /* its callbacks see it given up */
  }
  if (s->watch_ac && !s->watch_up && now - s->watch_started_ms > ANSWER_TIMEOUT_MS) {
    redisAsyncContext *ac = s->watch_ac;
    watch_lost(s);
    redisAsyncFree(ac);
  }
  if (!s->ask_ac && s->ask_at_ms && now >= s->ask_at_ms) ask_start(s);
  if (!s->watch_ac && s->watch_at_ms && now >= s->watch_at_ms) watch_start(s);
}

/* ---- Lifecycle ---- */

int qs_redis_sentinel_create(uv_loop_t *loop, const qs_redis_sentinel_addr_t *addrs, size_t count,
                             const char *master_name, const char *password,
                             qs_redis_sentinel_on_primary_fn on_primary, void *ctx,
                             qs_redis_sentinel_t **out) {
  *out = NULL;
  if (count == 0 || count > QS_REDIS_SENTINELS_MAX || !qs_redis_sentinel_name_ok(master_name) ||
      (password && strlen(password) > QS_REDIS_SENTINEL_PASSWORD_MAX))
    return QS_EINVAL;
  qs_redis_sentinel_t *s = calloc(1, sizeof *s);
  if (!s) return QS_ENOMEM;
  s->loop = loop;
  memcpy(s->addrs, addrs, count * sizeof *addrs);
  s->count = count;
  snprintf(s->master_name, sizeof s->master_name, "%s", master_name);
  if (password) snprintf(s->password, sizeof s->password, "%s", password);
  s->on_primary = on_primary;
  s->ctx = ctx;
  uv_timer_init(loop, &s->tick);
  s->tick.data = s;
  uv_timer_start(&s->tick, on_tick, TICK_MS, TICK_MS);
  ask_start(s);
  watch_start(s);
  *out = s;
  return 0;
}

void qs_redis_sentinel_refresh(qs_redis_sentinel_t *s) {
  if (s->closing) return;
  if (s->ask_ac)
    s->ask_wanted = true;
  else if (!s->ask_at_ms || s->ask_at_ms > uv_now(s->loop) + TICK_MS)
    s->ask_at_ms = uv_now(s->loop); /* on the next tick: never from inside a caller's callback */
}

static void on_closed(uv_handle_t *h) { free(h->data); }

void qs_redis_sentinel_close(qs_redis_sentinel_t *s) {
  if (!s || s->closing) return;
  s->closing = true;
  redisAsyncContext *ask = s->ask_ac, *watch = s->watch_ac;
  s->ask_ac = s->watch_ac = NULL;
  if (ask) redisAsyncFree(ask);
  if (watch) redisAsyncFree(watch);
  uv_timer_stop(&s->tick);
  uv_close((uv_handle_t *)&s->tick, on_closed);
}
