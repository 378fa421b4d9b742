/* The Redis transport's hiredis event adapter for libuv (redis_libuv.h). */
#include "store/redis_libuv.h"

#include <stdbool.h>
#include <stdlib.h>

#include "base/error.h"

/* One context's watcher. hiredis calls the functions below with it as
 * `privdata`; `ac` is cleared by cleanup, after which the handles are closing
 * and the watcher is freed once both have closed.
 *
 * hiredis asks for read interest again after every read and write, and for
 * write interest each time it queues a command, then drops it once the
 * command is written. Each change of a uv_poll's events costs two epoll_ctl
 * calls (libuv removes the descriptor and adds it again), so the watcher
 * changes the poll only when what it watches changes, and does not watch
 * for writability at all while the socket has room: a connected context's
 * output is written by `flush`, a prepare handle that runs once the loop
 * has run its callbacks, just before it polls. Every command queued in one
 * loop turn goes out in one write, with no epoll_ctl. Only while connecting,
 * or when a write leaves output behind (the socket was full), does the poll
 * watch for writability. */
typedef struct {
  redisAsyncContext *ac;
  uv_poll_t poll;
  uv_prepare_t flush;
  int watched;      /* the poll's events: UV_READABLE, UV_WRITABLE */
  bool reading;     /* hiredis wants to read */
  bool writing;     /* hiredis has output to write */
  bool flushing;    /* inside on_flush's write */
  int open_handles; /* closed with the context; the watcher is freed at 0 */
} watch_t;

static void on_poll(uv_poll_t *handle, int status, int events);

/* Makes the poll watch what hiredis waits for: reading, and writing only
 * while the output cannot wait for the flush (connecting, or a full socket). */
static void watch_update(watch_t *w, bool poll_for_write) {
  int want = (w->reading ? UV_READABLE : 0) | (poll_for_write ? UV_WRITABLE : 0);
  if (want == w->watched) return;
  w->watched = want;
  if (want)
    uv_poll_start(&w->poll, want, on_poll);
  else
    uv_poll_stop(&w->poll);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  watch_t *w = handle->data;
  if (status < 0) {
    /* POLLERR: libuv has stopped watching. Reading makes hiredis fetch the
     * socket's error (a reset, a refused connect) and fail the connection;
     * hiredis may free the context (and clear w->ac) from inside. */
    w->watched = 0;
    if (w->ac) redisAsyncHandleRead(w->ac);
    /* Still alive (the error was gone by the time it read): keep watching
     * whatever hiredis waits for. */
    if (w->ac) watch_update(w, w->writing);
    return;
  }
  if (w->ac && (events & UV_READABLE)) redisAsyncHandleRead(w->ac);
  if (w->ac && (events & UV_WRITABLE)) redisAsyncHandleWrite(w->ac);
}

static void on_flush(uv_prepare_t *handle) {
  watch_t *w = handle->data;
  uv_prepare_stop(&w->flush);
  if (!w->ac || !w->writing) return;
  /* hiredis asks for write interest again from inside if output is left. */
  w->flushing = true;
  redisAsyncHandleWrite(w->ac);
  w->flushing = false;
}

static void add_read(void *privdata) {
  watch_t *w = privdata;
  w->reading = true;
  watch_update(w, w->watched & UV_WRITABLE);
}

static void del_read(void *privdata) {
  watch_t *w = privdata;
  w->reading = false;
  watch_update(w, w->watched & UV_WRITABLE);
}

static void add_write(void *privdata) {
  watch_t *w = privdata;
  w->writing = true;
  if (w->flushing || !(w->ac->c.flags & REDIS_CONNECTED))
    watch_update(w, true);
  else if (!(w->watched & UV_WRITABLE))
    uv_prepare_start(&w->flush, on_flush);
}

static void del_write(void *privdata) {
  watch_t *w = privdata;
  w->writing = false;
  uv_prepare_stop(&w->flush);
  watch_update(w, false);
}

static void on_closed(uv_handle_t *handle) {
  watch_t *w = handle->data;
  if (--w->open_handles == 0) free(w);
}

/* hiredis is freeing the context: it must not be touched any more. */
static void cleanup(void *privdata) {
  watch_t *w = privdata;
  w->ac = NULL;
  uv_close((uv_handle_t *)&w->poll, on_closed);
  uv_close((uv_handle_t *)&w->flush, on_closed);
}

int qs_redis_libuv_attach(redisAsyncContext *ac, uv_loop_t *loop) {
  if (ac->ev.data) return QS_EINVAL;
  watch_t *w = calloc(1, sizeof *w);
  if (!w) return QS_ENOMEM;
  if (uv_poll_init(loop, &w->poll, ac->c.fd) != 0) {
    free(w); /* uv_poll_init registers nothing when it fails */
    return QS_EIO;
  }
  uv_prepare_init(loop, &w->flush); /* cannot fail */
  w->open_handles = 2;
  w->ac = ac;
  w->poll.data = w;
  w->flush.data = w;
  ac->ev.data = w;
  ac->ev.addRead = add_read;
  ac->ev.delRead = del_read;
  ac->ev.addWrite = add_write;
  ac->ev.delWrite = del_write;
  ac->ev.cleanup = cleanup;
  return 0;
}
