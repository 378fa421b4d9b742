/* The Redis transport's state, shared by the files that implement it:
 * redis.c (the stream reader, connections, the loop), redis_publish.c
 * (publishes: the script, batches, answering publishers), redis_await.c
 * (resumes from an id this node has not read yet) and redis_nodes.c (node
 * heartbeats). Not a public interface: the store's users go through
 * store.h and redis.h.
 *
 * Threads. Workers call the publish and await_id entries of the vtable,
 * which queue the publish or the id lookup under `mutex` and wake the
 * store's thread; every field below the mutex's is used on the store's
 * thread only, except the atomics of the transport state. The ring is
 * thread-safe (memory.c). */
#ifndef QS_STORE_REDIS_STORE_H
#define QS_STORE_REDIS_STORE_H

#include <hiredis/async.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/buf.h"
#include "store/redis.h"
#include "store/redis_internal.h"
#include "store/redis_sentinel.h"

/* A connection whose oldest command has had no reply for this long (beyond
 * what the command itself may take) is considered dead and dropped. */
#define QS_REDIS_STALL_MS 5000
/* The store's timer: timeouts, heartbeats and lag samples are checked on it. */
#define QS_REDIS_TICK_MS 250
/* How long a resume waits for this node to read up to the update it names
 * (published on another node, in the shared order already). */
#define QS_REDIS_AWAIT_MS 5000
/* Node heartbeats (watch_nodes): sent this often; a node silent for
 * QS_REDIS_NODE_TTL_MS is gone. */
#define QS_REDIS_HEARTBEAT_MS 2000
#define QS_REDIS_NODE_TTL_MS 10000
#define QS_REDIS_NODE_NAME_MAX 32

typedef struct qs_redis_store qs_redis_store_t;

/* One publish, from the worker's call to its answer. */
typedef struct qs_redis_op {
  struct qs_redis_op *next;
  qs_update_t *update;
  qs_store_on_published_fn done;
  void *done_ctx;
  uint64_t sent_ms;
  qs_redis_stream_id_t sid; /* its entry, once Redis replied */
  int replies;              /* replies still expected (EVALSHA, and WAIT) */
  int status;
} qs_redis_op_t;

/* A resume whose id this node's ring does not know (yet): its entry in the
 * shared order is asked from the id index, then awaited from the reader. */
typedef struct qs_redis_lookup {
  struct qs_redis_lookup *next;
  qs_store_on_awaited_fn done;
  void *done_ctx;
  uint64_t since_ms;
  qs_redis_stream_id_t sid; /* its entry, once the index answered */
  size_t id_len;
  char id[]; /* the update id */
} qs_redis_lookup_t;

/* One of the two connections to the primary (publish, read). */
typedef struct {
  qs_redis_store_t *rs;
  const char *role; /* "publish" or "read", for logs */
  redisAsyncContext *ac;
  uv_timer_t retry;
  uint64_t backoff_ms;
  bool retry_armed;
  bool tcp_up; /* the connect callback said so */
  uint64_t started_ms;
  bool ready;      /* handshake done: usable */
  bool ever_ready; /* a later ready counts as a reconnect */
  bool warned;     /* the current outage was logged */
} qs_redis_conn_t;

struct qs_redis_store {
  qs_store_t base;
  qs_store_t *ring;
  qs_redis_url_t url;
  char *stream;
  qs_redis_settings_t settings; /* url, stream, sentinels, master_name, sentinel_password point nowhere */
  char *index_key;              /* "<stream>:ids" */
  char *sizes_key;              /* "<stream>:bytes" */
  char max_count[24];
  char max_age[24];
  char max_bytes[24];

  pthread_t thread;
  uv_loop_t loop;
  uv_async_t wake;
  uv_timer_t tick;

  pthread_mutex_t mutex; /* guards queue, lookups, node, stopping and the start handshake */
  pthread_cond_t started_cond;
  qs_redis_op_t *queue;
  qs_redis_op_t *queue_tail;
  qs_redis_lookup_t *lookups;            /* asked by workers, not yet sent */
  char node[QS_REDIS_NODE_NAME_MAX + 1]; /* watch_nodes: this node's name ("" until then) */
  bool heartbeat_now;                    /* watch_nodes was called: the first heartbeat is due */
  qs_store_on_node_gone_fn on_node_gone;
  void *on_node_gone_ctx;
  char *nodes_key; /* "<stream>:nodes" */
  bool stopping;
  bool started; /* first catch-up done (or given up waiting) */

  /* The store's thread only. */
  qs_redis_conn_t cmd, rd;
  /* With Sentinel: who finds the primary, and where it is now
   * (primary_port 0: not known yet, nothing to connect to). */
  qs_redis_sentinel_t *sentinel;
  qs_redis_sentinel_addr_t sentinel_addrs[QS_REDIS_SENTINELS_MAX];
  size_t sentinel_count; /* 0: no Sentinel, the primary is url's */
  char master_name[129];
  char sentinel_password[QS_REDIS_SENTINEL_PASSWORD_MAX + 1]; /* "" = none */
  char primary_host[256];
  int primary_port;
  bool switching; /* dropping the connections for a new primary: no need to ask again */
  char sha[41];
  qs_redis_op_t *inflight; /* sent, oldest first */
  qs_redis_op_t *inflight_tail;
  /* Stored in Redis, waiting for this node's reader to reach their entry,
   * so that a publisher that got 200 finds its update on this node at once
   * (oldest first, which is stream order). */
  qs_redis_op_t *stored;
  qs_redis_op_t *stored_tail;
  /* Resumes whose entry is beyond what this node has read (any order). */
  qs_redis_lookup_t *awaiting;
  char last_id[48]; /* the last entry read ("0-0": none yet) */
  qs_redis_stream_id_t last_sid;
  uint64_t next_seq;
  bool read_pending;
  bool read_block; /* the next XREAD waits for new entries (caught up) */
  uint64_t read_sent_ms;
  bool shutting_down;
  uint64_t ticks;
  qs_slice_t *pairs; /* reused by entry decoding: fields, then values */
  size_t pairs_cap;
  qs_buf_t command;         /* reused for each call of the publish script (RESP) */
  const char **encode_argv; /* reused by entry encoding, encode_cap slots */
  size_t *encode_lens;
  size_t encode_cap;

  atomic_bool connected;
  atomic_bool caught_up;
  atomic_uint_fast64_t reconnects;
  atomic_uint_fast64_t lag_ms;
  atomic_uint_fast64_t publishes;
  atomic_uint_fast64_t failures;
  _Atomic(const char *) reason;
};

/* Whether stream entry a comes before b or is b. */
static inline bool qs_redis_sid_le(qs_redis_stream_id_t a, qs_redis_stream_id_t b) {
  return a.ms < b.ms || (a.ms == b.ms && a.seq <= b.seq);
}

/* ---- redis_publish.c: publishes ---- */

/* The publish script's text (Lua), loaded with SCRIPT LOAD on each new
 * publish connection; its SHA1 goes in `sha`. Static storage. */
extern const char qs_redis_publish_script[];

/* The vtable's publish (store.h), called by workers: queues `update`
 * (retained until answered) for the store's thread and wakes it. Returns 0
 * (`done` is then called once, on the store's thread), QS_EUNAVAILABLE when
 * the publish connection is down, QS_ECLOSED when the store is stopping or
 * QS_ENOMEM; on an error `done` is never called. */
int qs_redis_publish(qs_store_t *store, qs_update_t *update, qs_store_on_published_fn done, void *ctx);

/* Store's thread: sends the first publishes of the chain `ops` (oldest
 * first, taken from `queue`) as one script call on the publish connection,
 * which must be ready, then WAIT when replicas are required; they are then
 * in flight. Those it cannot send are answered at once. Returns the rest of
 * the chain, not sent yet. */
qs_redis_op_t *qs_redis_publish_send(qs_redis_store_t *rs, qs_redis_op_t *ops);

/* Store's thread: answers `op`, which never reached Redis, with `status`
 * (< 0) and frees it. */
void qs_redis_publish_fail(qs_redis_store_t *rs, qs_redis_op_t *op, int status);

/* Store's thread: answers the stored publishes (in Redis, waiting for the
 * reader) whose entry this node has read, and with `all` the others too
 * (shutting down), or with `now` set those stored longer than
 * QS_REDIS_STALL_MS. Call it after each read and on each tick. */
void qs_redis_publish_release(qs_redis_store_t *rs, bool all, uint64_t now);

/* ---- redis_await.c: resumes from an id this node has not read yet ---- */

/* The vtable's await_id (store.h), called by workers. */
int qs_redis_await_id(qs_store_t *store, qs_slice_t id, qs_store_on_awaited_fn done, void *ctx,
                      bool *pending);

/* Store's thread: asks the id index for `l`'s entry on the publish
 * connection, or answers it QS_EUNAVAILABLE when that is down. Takes `l`. */
void qs_redis_await_send(qs_redis_store_t *rs, qs_redis_lookup_t *l);

/* Store's thread: answers `l` with `status` and frees it. */
void qs_redis_await_done(qs_redis_lookup_t *l, int status);

/* Store's thread: answers the awaited resumes whose entry this node has
 * read, and with `status` < 0 all of them (shutting down), or with `now` set
 * those waiting longer than QS_REDIS_AWAIT_MS. */
void qs_redis_await_release(qs_redis_store_t *rs, int status, uint64_t now);

/* ---- redis_nodes.c: node heartbeats ---- */

/* The vtable's watch_nodes (store.h), called by workers once. */
int qs_redis_nodes_watch(qs_store_t *store, const char *node, qs_store_on_node_gone_fn on_gone, void *ctx);

/* Store's thread: sends this node's heartbeat on the publish connection
 * (nothing when watch_nodes was not called or the connection is down), and
 * reports the nodes it finds gone to on_node_gone. */
void qs_redis_nodes_heartbeat(qs_redis_store_t *rs);

#endif
