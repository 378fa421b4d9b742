/* Listeners: binding, ephemeral ports, SO_REUSEPORT sharing, accepting,
 * peer addresses, closing. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/error.h"
#include "net/listener.h"

typedef struct {
  int accepted;
  int closed;
  qs_net_addr_t peer;
} counts_t;

static void on_client_closed(uv_handle_t *h) { free(h); }

static void on_connection(qs_net_listener_t *l, void *ctx) {
  counts_t *c = ctx;
  uv_tcp_t *client = malloc(sizeof *client);
  if (qs_net_listener_accept(l, client, on_client_closed) == 0) {
    c->accepted++;
    assert_int_equal(qs_net_peer_addr(client, &c->peer), 0);
    uv_close((uv_handle_t *)client, on_client_closed);
  }
}

static void on_closed(void *ctx) { ((counts_t *)ctx)->closed++; }

static int connect_to(int family, const char *addr, int port) {
  int fd = socket(family, SOCK_STREAM, 0);
  struct sockaddr_storage ss = {0};
  socklen_t len;
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, addr, &a->sin_addr);
    len = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    inet_pton(AF_INET6, addr, &a->sin6_addr);
    len = sizeof *a;
  }
  if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void run_until(uv_loop_t *loop, const int *value, int want) {
  for (int i = 0; i < 2000 && *value < want; i++) {
    uv_run(loop, UV_RUN_NOWAIT);
    usleep(1000);
  }
}

static void ephemeral_port_accepts_and_reports_peer(void **state) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  counts_t c = {0};
  qs_net_listener_t *l = NULL;
  assert_int_equal(qs_net_listener_create(&loop, "127.0.0.1", 0, 16, on_connection, &c, &l), 0);
  int port = qs_net_listener_port(l);
  assert_true(port > 0 && port < 65536);
  int fd = connect_to(AF_INET, "127.0.0.1", port);
  assert_true(fd >= 0);
  run_until(&loop, &c.accepted, 1);
  assert_int_equal(c.accepted, 1);
  char text[QS_NET_ADDR_TEXT_MAX];
  assert_int_equal(qs_net_addr_format(&c.peer, text, sizeof text), 9);
  assert_string_equal(text, "127.0.0.1");
  close(fd);
  qs_net_listener_close(l, on_closed, &c);
  qs_net_listener_close(l, on_closed, &c); /* idempotent */
  run_until(&loop, &c.closed, 1);
  assert_int_equal(c.closed, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void two_loops_share_a_port(void **state) {
  uv_loop_t a, b;
  uv_loop_init(&a);
  uv_loop_init(&b);
  counts_t ca = {0}, cb = {0};
  qs_net_listener_t *la = NULL, *lb = NULL;
  assert_int_equal(qs_net_listener_create(&a, "127.0.0.1", 0, 16, on_connection, &ca, &la), 0);
  int port = qs_net_listener_port(la);
  assert_int_equal(qs_net_listener_create(&b, "127.0.0.1", port, 16, on_connection, &cb, &lb), 0);
  assert_int_equal(qs_net_listener_port(lb), port);
  qs_net_listener_close(la, on_closed, &ca);
  qs_net_listener_close(lb, on_closed, &cb);
  run_until(&a, &ca.closed, 1);
  run_until(&b, &cb.closed, 1);
  assert_int_equal(uv_loop_close(&a), 0);
  assert_int_equal(uv_loop_close(&b), 0);
}

static void localhost_and_any_addresses_bind(void **state) {
  const char *hosts[] = {"localhost", "0.0.0.0", "::", NULL};
  for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    counts_t c = {0};
    qs_net_listener_t *l = NULL;
    int rc = qs_net_listener_create(&loop, hosts[i], 0, 16, on_connection, &c, &l);
    if (rc != 0 && hosts[i] && strcmp(hosts[i], "::") == 0) {
      uv_loop_close(&loop);
      continue; /* no IPv6 in this environment */
    }
    assert_int_equal(rc, 0);
    int fd = connect_to(AF_INET, "127.0.0.1", qs_net_listener_port(l));
    assert_true(fd >= 0);
    run_until(&loop, &c.accepted, 1);
    assert_int_equal(c.accepted, 1);
    char text[QS_NET_ADDR_TEXT_MAX];
    qs_net_addr_format(&c.peer, text, sizeof text);
    assert_string_equal(text, "127.0.0.1"); /* IPv4-mapped peers are folded to IPv4 */
    close(fd);
    qs_net_listener_close(l, on_closed, &c);
    run_until(&loop, &c.closed, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
  }
}

static void bad_host_or_port_is_refused(void **state) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  qs_net_listener_t *l = NULL;
  counts_t c = {0};
  assert_int_equal(qs_net_listener_create(&loop, "not a host name!", 0, 16, on_connection, &c, &l),
                   QS_EINVAL);
  assert_int_equal(qs_net_listener_create(&loop, "127.0.0.1", 70000, 16, on_connection, &c, &l), QS_EINVAL);
  assert_int_equal(qs_net_listener_create(&loop, "192.0.2.1", 0, 16, on_connection, &c, &l), QS_EIO);
  uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void unknown_address_formats_empty(void **state) {
  qs_net_addr_t a = {0};
  char text[QS_NET_ADDR_TEXT_MAX] = "x";
  assert_int_equal(qs_net_addr_format(&a, text, sizeof text), 0);
  assert_string_equal(text, "");
  a.len = 16;
  a.bytes[15] = 1;
  qs_net_addr_format(&a, text, sizeof text);
  assert_string_equal(text, "::1");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ephemeral_port_accepts_and_reports_peer),
      cmocka_unit_test(two_loops_share_a_port),
      cmocka_unit_test(localhost_and_any_addresses_bind),
      cmocka_unit_test(bad_host_or_port_is_refused),
      cmocka_unit_test(unknown_address_formats_empty),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
