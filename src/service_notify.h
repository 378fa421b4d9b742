/* Readiness and state for a service manager: systemd's notification
 * protocol (sd_notify(3)), written against the socket directly. */
#ifndef QS_SERVICE_NOTIFY_H
#define QS_SERVICE_NOTIFY_H

/* Sends `state` ("READY=1", "STOPPING=1", newline-separated "KEY=value"
 * assignments; borrowed for the call) as one datagram to the AF_UNIX socket
 * named by $NOTIFY_SOCKET: a path, or an abstract name written with a leading
 * '@'. Does nothing and returns 0 when the variable is unset or empty (the
 * hub was not started by a service manager). Returns 0, QS_EINVAL (the name
 * is not a usable socket address, or `state` is longer than 4 KiB) or QS_EIO
 * (the message could not be sent); a failure leaves the hub running. */
int qs_service_notify(const char *state);

/* Sends "RELOADING=1" with the CLOCK_MONOTONIC time the reload started
 * (MONOTONIC_USEC, which systemd expects with it). A "READY=1" must follow
 * once the reload is done. Returns as qs_service_notify does. */
int qs_service_notify_reloading(void);

#endif
