#include "net/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"

struct qs_net_listener {
  uv_tcp_t tcp; /* first: the handle's memory is the listener's */
  qs_net_on_connection_fn on_connection;
  void *ctx;
  void (*on_closed)(void *ctx);
  void *closed_ctx;
  int port;
  int closing;
};

/* Resolves `host` to one socket address. "localhost" is looked up without
 * touching the network and IPv4 is preferred, so it means 127.0.0.1 where it can. */
static int resolve(const char *host, int port, struct sockaddr_storage *out, socklen_t *out_len) {
  if (!host || !*host) host = "0.0.0.0";
  memset(out, 0, sizeof *out);
  struct sockaddr_in *v4 = (struct sockaddr_in *)out;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    *out_len = sizeof *v4;
    return 0;
  }
  if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    *out_len = sizeof *v6;
    return 0;
  }
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
  struct addrinfo *res = NULL;
  if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res) return QS_EINVAL;
  const struct addrinfo *pick = res;
  for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
    if (ai->ai_family == AF_INET) {
      pick = ai;
      break;
    }
  memcpy(out, pick->ai_addr, pick->ai_addrlen);
  *out_len = pick->ai_addrlen;
  if (out->ss_family == AF_INET)
    v4->sin_port = htons((uint16_t)port);
  else
    v6->sin6_port = htons((uint16_t)port);
  freeaddrinfo(res);
  return 0;
}

static void on_uv_connection(uv_stream_t *server, int status) {
  qs_net_listener_t *l = server->data;
  if (status < 0) {
    QS_LOG_WARN("accept failed error=%s", uv_strerror(status));
    return;
  }
  if (!l->closing) l->on_connection(l, l->ctx);
}

static void on_listener_closed(uv_handle_t *handle) {
  qs_net_listener_t *l = handle->data;
  void (*cb)(void *) = l->on_closed;
  void *ctx = l->closed_ctx;
  free(l);
  if (cb) cb(ctx);
}

static void on_init_failed_closed(uv_handle_t *handle) { free(handle->data); }

int qs_net_listener_create(uv_loop_t *loop, const char *host, int port, int backlog,
                           qs_net_on_connection_fn on_connection, void *ctx, qs_net_listener_t **out) {
  if (!loop || !on_connection || !out || port < 0 || port > 65535) return QS_EINVAL;
  struct sockaddr_storage addr;
  socklen_t addr_len = 0;
  if (resolve(host, port, &addr, &addr_len) != 0) return QS_EINVAL;

  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return QS_EIO;
  int one = 1, zero = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    close(fd);
    return QS_EIO;
  }
  if (addr.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (bind(fd, (struct sockaddr *)&addr, addr_len) != 0 || listen(fd, backlog > 0 ? backlog : 511) != 0) {
    QS_LOG_ERROR("listen failed host=%s port=%d error=%s", host ? host : "", port, strerror(errno));
    close(fd);
    return QS_EIO;
  }
  struct sockaddr_storage bound;
  socklen_t bound_len = sizeof bound;
  getsockname(fd, (struct sockaddr *)&bound, &bound_len);

  qs_net_listener_t *l = calloc(1, sizeof *l);
  if (!l) {
    close(fd);
    return QS_ENOMEM;
  }
  l->on_connection = on_connection;
  l->ctx = ctx;
  l->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                             : ((struct sockaddr_in6 *)&bound)->sin6_port);
  uv_tcp_init(loop, &l->tcp);
  l->tcp.data = l;
  if (uv_tcp_open(&l->tcp, fd) != 0 ||
      uv_listen((uv_stream_t *)&l->tcp, backlog > 0 ? backlog : 511, on_uv_connection) != 0) {
    /* uv_tcp_open took the descriptor (or failed before); closing the handle closes it. */
    uv_close((uv_handle_t *)&l->tcp, on_init_failed_closed);
    return QS_EIO;
  }
  *out = l;
  return 0;
}

int qs_net_listener_port(const qs_net_listener_t *listener) { return listener->port; }

int qs_net_listener_accept(qs_net_listener_t *listener, uv_tcp_t *client, uv_close_cb on_failed_close) {
  uv_tcp_init(listener->tcp.loop, client);
  if (uv_accept((uv_stream_t *)&listener->tcp, (uv_stream_t *)client) != 0) {
    uv_close((uv_handle_t *)client, on_failed_close);
    return QS_EIO;
  }
  /* Small SSE events must leave at once; Nagle would hold them back. */
  uv_tcp_nodelay(client, 1);
  return 0;
}

void qs_net_listener_close(qs_net_listener_t *listener, void (*on_closed)(void *ctx), void *ctx) {
  if (!listener || listener->closing) return;
  listener->closing = 1;
  listener->on_closed = on_closed;
  listener->closed_ctx = ctx;
  uv_close((uv_handle_t *)&listener->tcp, on_listener_closed);
}

int qs_net_peer_addr(const uv_tcp_t *tcp, qs_net_addr_t *out) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  memset(out, 0, sizeof *out);
  if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) != 0) return QS_EIO;
  if (ss.ss_family == AF_INET) {
    memcpy(out->bytes, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    out->len = 4;
  } else if (ss.ss_family == AF_INET6) {
    const uint8_t *a = ((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, mapped, 12) == 0) {
      memcpy(out->bytes, a + 12, 4);
      out->len = 4;
    } else {
      memcpy(out->bytes, a, 16);
      out->len = 16;
    }
  } else {
    return QS_EIO;
  }
  return 0;
}

size_t qs_net_addr_format(const qs_net_addr_t *addr, char *out, size_t cap) {
  if (!cap) return 0;
  out[0] = '\0';
  if (addr->len == 4 || addr->len == 16) {
    if (!inet_ntop(addr->len == 4 ? AF_INET : AF_INET6, addr->bytes, out, (socklen_t)cap)) out[0] = '\0';
  }
  return strlen(out);
}
