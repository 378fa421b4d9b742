/* The Redis transport's hiredis event adapter for libuv (redis_libuv.h). */
#include "store/redis_libuv.h"

#include <stdlib.h>

#include "base/error.h"

/* One context's watcher. hiredis calls the functions below with it as
 * `privdata`; `ac` is cleared by cleanup, after which the handle is closing. */
typedef struct {
  redisAsyncContext *ac;
  uv_poll_t poll;
  int events; /* UV_READABLE | UV_WRITABLE, as hiredis asked */
} watch_t;

static void on_poll(uv_poll_t *handle, int status, int events) {
  watch_t *w = handle->data;
  if (status < 0) {
    /* POLLERR: libuv has stopped watching. Reading makes hiredis fetch the
     * socket's error (a reset, a refused connect) and fail the connection;
     * hiredis may free the context (and clear w->ac) from inside. */
    if (w->ac) redisAsyncHandleRead(w->ac);
    /* Still alive (the error was gone by the time it read): keep watching
     * whatever hiredis waits for. */
    if (w->ac && w->events) uv_poll_start(&w->poll, w->events, on_poll);
    return;
  }
  if (w->ac && (events & UV_READABLE)) redisAsyncHandleRead(w->ac);
  if (w->ac && (events & UV_WRITABLE)) redisAsyncHandleWrite(w->ac);
}

static void watch_update(watch_t *w) {
  if (w->events)
    uv_poll_start(&w->poll, w->events, on_poll);
  else
    uv_poll_stop(&w->poll);
}

static void add_read(void *privdata) {
  watch_t *w = privdata;
  w->events |= UV_READABLE;
  watch_update(w);
}

static void del_read(void *privdata) {
  watch_t *w = privdata;
  w->events &= ~UV_READABLE;
  watch_update(w);
}

static void add_write(void *privdata) {
  watch_t *w = privdata;
  w->events |= UV_WRITABLE;
  watch_update(w);
}

static void del_write(void *privdata) {
  watch_t *w = privdata;
  w->events &= ~UV_WRITABLE;
  watch_update(w);
}

static void on_closed(uv_handle_t *handle) { free(handle->data); }

/* hiredis is freeing the context: it must not be touched any more. */
static void cleanup(void *privdata) {
  watch_t *w = privdata;
  w->ac = NULL;
  uv_close((uv_handle_t *)&w->poll, on_closed);
}

int qs_redis_libuv_attach(redisAsyncContext *ac, uv_loop_t *loop) {
  if (ac->ev.data) return QS_EINVAL;
  watch_t *w = calloc(1, sizeof *w);
  if (!w) return QS_ENOMEM;
  if (uv_poll_init(loop, &w->poll, ac->c.fd) != 0) {
    free(w); /* uv_poll_init registers nothing when it fails */
    return QS_EIO;
  }
  w->ac = ac;
  w->poll.data = w;
  ac->ev.data = w;
  ac->ev.addRead = add_read;
  ac->ev.delRead = del_read;
  ac->ev.addWrite = add_write;
  ac->ev.delWrite = del_write;
  ac->ev.cleanup = cleanup;
  return 0;
}
