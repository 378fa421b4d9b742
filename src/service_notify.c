/* sd_notify(3) by hand: one datagram of "KEY=value" lines to
 * $NOTIFY_SOCKET. */
#include "service_notify.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"

#define MAX_STATE_BYTES 4096

int qs_service_notify(const char *state) {
  const char *name = getenv("NOTIFY_SOCKET");
  if (!name || !name[0]) return 0;
  size_t name_len = strlen(name), state_len = strlen(state);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  /* A path must be absolute; '@' names a socket in the abstract namespace,
   * whose address starts with a NUL byte and is not NUL-terminated. */
  if ((name[0] != '/' && name[0] != '@') || name_len >= sizeof addr.sun_path || state_len > MAX_STATE_BYTES)
    return QS_EINVAL;
  memcpy(addr.sun_path, name, name_len);
  if (name[0] == '@') addr.sun_path[0] = '\0';
  socklen_t addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + name_len + (name[0] == '/'));
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return QS_EIO;
  ssize_t sent;
  do {
    sent = sendto(fd, state, state_len, MSG_NOSIGNAL, (const struct sockaddr *)&addr, addr_len);
  } while (sent < 0 && errno == EINTR);
  close(fd);
  return sent == (ssize_t)state_len ? 0 : QS_EIO;
}

int qs_service_notify_reloading(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  char state[64];
  snprintf(state, sizeof state, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
           (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u);
  return qs_service_notify(state);
}
