#!/usr/bin/env bash
# nchan (nginx + libnginx-mod-nchan from Debian) as a peer for the hub
# benchmarks: sourced by scripts/bench.sh, which runs the same loadgen load
# against it and against the hub in one run (BENCHMARKS.md, "Side by side
# with nchan").
#
#   nchan_install            apt-get installs nginx and the nchan module if missing
#   nchan_start NAME DIR     writes DIR/nginx.conf (127.0.0.1, an ephemeral
#                            port, 2 workers), starts nginx in the foreground
#                            and sets NCHAN_PID (master), NCHAN_PORT and
#                            NCHAN_PIDS (master and workers, comma-separated)
#   nchan_stop               stops that nginx by its PID (SIGQUIT, then
#                            SIGKILL after 5 s)
#
# Run on its own (bash bench/nchan.sh) it installs, starts nginx, publishes
# one message to one EventSource subscriber with curl, and stops.
#
# The config: GET /sub/<channel> is an EventSource subscriber, POST
# /pub/<channel> publishes the request body as one message. nchan keeps Nagle
# on (no TCP_NODELAY) and writes each message to each subscriber at once.
# keepalive_requests is raised so one publisher connection can carry a whole
# run (nginx closes a keep-alive connection after 1,000 requests by default).

NCHAN_WORKERS=${NCHAN_WORKERS:-2}
NCHAN_MODULE=/usr/lib/nginx/modules/ngx_nchan_module.so
NCHAN_PID=
NCHAN_PORT=
NCHAN_PIDS=
NCHAN_DIR=

nchan_install() {
  if command -v nginx >/dev/null 2>&1 && [ -e "$NCHAN_MODULE" ]; then return 0; fi
  echo "bench: installing nginx and libnginx-mod-nchan from Debian" >&2
  # The package's post-install script must not start a system nginx on port 80.
  local policy=/usr/sbin/policy-rc.d added=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added=1
  fi
  local rc=0
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      nginx libnginx-mod-nchan; } >&2 || rc=$?
  [ -z "$added" ] || rm -f "$policy"
  if [ "$rc" -ne 0 ] || [ ! -e "$NCHAN_MODULE" ]; then
    echo "bench: could not install nginx + nchan (apt-get exit $rc)" >&2
    return 1
  fi
}

# A free loopback port (the kernel's choice, released at once).
nchan_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

nchan_start() {
  local name=$1 dir=$2
  NCHAN_DIR=$dir
  mkdir -p "$dir/tmp"
  NCHAN_PORT=$(nchan_free_port)
  cat >"$dir/nginx.conf" <<EOF
load_module $NCHAN_MODULE;
worker_processes $NCHAN_WORKERS;
worker_rlimit_nofile $(ulimit -Hn);
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
  worker_connections 19000;
}
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  keepalive_requests 100000000;
  nchan_shared_memory_size 256M;
  server {
    listen 127.0.0.1:$NCHAN_PORT;
    location ~ ^/sub/(\w+)$ {
      nchan_subscriber eventsource;
      nchan_channel_id \$1;
    }
    location ~ ^/pub/(\w+)$ {
      nchan_publisher;
      nchan_channel_id \$1;
      nchan_message_buffer_length 16;
      nchan_message_timeout 60s;
    }
  }
}
EOF
  NCHAN_CMD=(nginx -p "$dir" -c "$dir/nginx.conf" -g "daemon off;")
  "${NCHAN_CMD[@]}" >"$dir/nginx-$name.out" 2>&1 &
  NCHAN_PID=$!
  local _
  for _ in $(seq 100); do
    if ! kill -0 "$NCHAN_PID" 2>/dev/null; then
      echo "bench: nginx did not start:" >&2
      cat "$dir/nginx-$name.out" "$dir/error.log" >&2 2>/dev/null
      NCHAN_PID=
      return 1
    fi
    local workers
    workers=$(tr ' ' '\n' <"/proc/$NCHAN_PID/task/$NCHAN_PID/children" 2>/dev/null | grep -c . || true)
    if [ "$workers" -ge "$NCHAN_WORKERS" ] &&
        (exec 3<>"/dev/tcp/127.0.0.1/$NCHAN_PORT") 2>/dev/null; then
      NCHAN_PIDS=$NCHAN_PID,$(tr ' ' '\n' <"/proc/$NCHAN_PID/task/$NCHAN_PID/children" | grep . | paste -sd,)
      return 0
    fi
    sleep 0.1
  done
  echo "bench: nginx did not listen on 127.0.0.1:$NCHAN_PORT within 10 s" >&2
  nchan_stop
  return 1
}

nchan_stop() {
  [ -n "$NCHAN_PID" ] || return 0
  stop_pid "$NCHAN_PID" QUIT nginx # scripts/bench.sh, which sources this file
  NCHAN_PID=
  NCHAN_PIDS=
}

# Standalone: a smoke test of the peer.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  nchan_install
  dir=$(mktemp -d /tmp/qs-nchan.XXXXXX)
  trap 'nchan_stop; rm -rf "$dir"' EXIT
  nchan_start smoke "$dir"
  echo "nchan: nginx $NCHAN_PIDS on 127.0.0.1:$NCHAN_PORT"
  curl -sN --max-time 2 -H "Accept: text/event-stream" "http://127.0.0.1:$NCHAN_PORT/sub/smoke" >"$dir/events" &
  curl_pid=$!
  sleep 0.5
  curl -s -o /dev/null -w 'publish: %{http_code}\n' -X POST --data 'hello' "http://127.0.0.1:$NCHAN_PORT/pub/smoke"
  wait "$curl_pid" || true
  grep -q '^data: hello' "$dir/events" && echo "nchan: the subscriber got the message"
fi
