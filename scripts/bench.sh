#!/usr/bin/env bash
# Runs the standard hub benchmarks (BENCHMARKS.md) against a fresh Release
# build: one fresh hub per scenario, on 127.0.0.1 with an ephemeral port, then
# bench/loadgen against it. Prints each scenario's command and results; the
# JSON summaries and hub logs stay in $OUT_DIR.
#
#   scripts/bench.sh [SCENARIO...]     (default: all, in the order below)
#
# Scenarios: idle-memory fanout-1k fanout-10k fanout-15k fanout-15k-paced
#            fanout-15k-coalesced throughput latency-25k latency-half durable
#            matchers-urlpattern redis-throughput redis-throughput-pipelined
#            redis-unix-throughput redis-latency redis-cross-node
#            cluster-fanout memory-latency
#            (the redis-*, cluster-* and memory-latency ones are not in the
#            default list; redis-* and cluster-* start Debian's redis-server
#            on a free loopback port and a Unix socket, files in a
#            temporary folder (redis-unix-throughput reaches it by the
#            socket); the *-latency and cross-node ones publish RATE updates
#            per second, default 10000 (half of what redis-throughput
#            measures), for one second, from 32 connections with one publish
#            in flight each; cluster-fanout runs its load on three nodes,
#            then on one)
#            peer-1k peer-10k peer-paced-1k (the same load against nchan, then
#            the hub: bench/nchan.sh installs nginx + nchan from Debian)
# Other processes on the machine skew every figure: each scenario prints the
# load average before it and the CPU other processes took during it.
# Environment: BUILD_DIR (default build-bench), OUT_DIR (default a new
# /tmp/qs-bench.XXXXXX), WORKERS (hub worker threads, default 2), REPEAT
# (default 1: run the whole list that many times with the same build; on a
# shared machine, compare the runs rather than trusting one), BASELINE (the
# peer-* scenarios also run this other quicksilver binary, as NAME-baseline,
# between nchan and this build: before/after figures from one run), HUB_ARGS
# (more options for every hub started, split on spaces, e.g.
# HUB_ARGS="--fanout_backlog 16").
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-bench}
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/qs-bench.XXXXXX)}
WORKERS=${WORKERS:-2}
REPEAT=${REPEAT:-1}
mkdir -p "$OUT_DIR"

cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -j2 -C "$BUILD_DIR" quicksilver loadgen >/dev/null
QS=$BUILD_DIR/quicksilver
LOADGEN=$BUILD_DIR/bench/loadgen

# Both the hub and the load generator hold one descriptor per connection.
ulimit -n "$(ulimit -Hn)"

KEY="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
PUB_TOKEN=$("$QS" token --key "$KEY" --publish '*')

HUB_PID=
HUB_PORT=
HISTORY_DIR=
REDIS_PID=
REDIS_DIR=

stop_redis() {
  [ -n "$REDIS_PID" ] || return 0
  kill -TERM "$REDIS_PID" 2>/dev/null || true
  wait "$REDIS_PID" 2>/dev/null || true
  REDIS_PID=
  rm -rf "$REDIS_DIR"
  REDIS_DIR=
}

# start_redis: a redis-server of our own on a loopback port and on the Unix
# socket $REDIS_DIR/redis.sock; sets REDIS_PORT. REDIS_ARGS adds
# options (e.g. "--appendonly yes --appendfsync always").
start_redis() {
  REDIS_DIR=$(mktemp -d /tmp/qs-bench-redis.XXXXXX)
  REDIS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # shellcheck disable=SC2086
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --unixsocket "$REDIS_DIR/redis.sock" --unixsocketperm 700 \
    --dir "$REDIS_DIR" --save '' --protected-mode no \
    --logfile "$REDIS_DIR/redis.log" ${REDIS_ARGS:-} &
  REDIS_PID=$!
  for _ in $(seq 100); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "bench: redis-server did not start" >&2
  exit 1
}

# stop_pid PID SIGNAL WHAT: stops a process this script started, by its PID:
# SIGNAL, then SIGKILL if it is still there 5 s later (WHAT names it in the
# message), and reaps it.
stop_pid() {
  local pid=$1 signal=$2 what=$3 _
  kill "-$signal" "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "bench: $what did not stop within 5 s of SIG$signal; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

stop_hub() {
  [ -n "$HUB_PID" ] || return 0
  stop_pid "$HUB_PID" TERM "the hub"
  HUB_PID=
  if [ -n "$HISTORY_DIR" ]; then rm -rf "$HISTORY_DIR"; HISTORY_DIR=; fi
  [ -n "${REDIS_KEEP:-}" ] || stop_redis
}
# shellcheck source=../bench/nchan.sh
. "$ROOT/bench/nchan.sh"
trap 'stop_hub; nchan_stop' EXIT

# start_hub NAME TRANSPORT: starts a hub, sets HUB_PID and HUB_PORT.
start_hub() {
  local name=$1 transport=$2 extra=()
  if [ "$transport" = redis-unix ]; then
    [ -n "$REDIS_PID" ] || start_redis
    transport=redis
    extra=(--redis_url "unix://$REDIS_DIR/redis.sock")
  elif [ "$transport" = lmdb ]; then
    HISTORY_DIR=$(mktemp -d /tmp/qs-bench-history.XXXXXX)
    extra=(--history_path "$HISTORY_DIR/quicksilver.lmdb")
  elif [ "$transport" = redis ]; then
    [ -n "$REDIS_PID" ] || start_redis
    extra=(--redis_url "redis://127.0.0.1:$REDIS_PORT")
  fi
  # The "listening on" line is logged at info level, so info it is (the hub
  # logs nothing per request at info).
  HUB_CMD=("${HUB_BINARY:-$QS}" --listen 127.0.0.1:0 --transport "$transport" --workers "$WORKERS"
           --publisher_jwt "$KEY" --anonymous --log_level info --max_connections 16000 "${extra[@]}"
           ${HUB_ARGS:-})
  "${HUB_CMD[@]}" >"$OUT_DIR/hub-$name.out" 2>"$OUT_DIR/hub-$name.log" &
  HUB_PID=$!
  HUB_PORT=
  for _ in $(seq 100); do
    HUB_PORT=$(grep -o 'listening on 127\.0\.0\.1:[0-9]*' "$OUT_DIR/hub-$name.log" | head -1 | cut -d: -f2 || true)
    [ -n "$HUB_PORT" ] && break
    kill -0 "$HUB_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$HUB_PORT" ]; then
    echo "bench: the hub did not start; its log:" >&2
    cat "$OUT_DIR/hub-$name.log" >&2
    exit 1
  fi
}

FAILED=()
# measure NAME HUBS PORT PIDS LOADGEN-ARGS...: prints the scenario's header
# (the load average, HUBS then the hub command, the load generator's
# command), then runs bench/loadgen against the hub on PORT, counting the
# CPU and memory of PIDS; a failed run is added to FAILED.
measure() {
  local name=$1 hubs=$2 port=$3 pids=$4
  shift 4
  echo
  echo "=== $name"
  echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (load average 1/5/15 min, before the run)"
  echo "$hubs${HUB_CMD[*]/$KEY/<key>}" | sed "s|$ROOT/||g"
  echo "command: bench/loadgen --url http://127.0.0.1:$port/.well-known/mercure $* --hub-pid $pids" \
    | sed "s|$PUB_TOKEN|<publisher token>|g"
  if ! "$LOADGEN" --url "http://127.0.0.1:$port/.well-known/mercure" "$@" --hub-pid "$pids" \
      --json-out "$OUT_DIR/$name.json" 2>&1 | grep -v '^loadgen --url'; then
    FAILED+=("$name")
  fi
}

# run NAME TRANSPORT LOADGEN-ARGS...: one scenario on a fresh hub.
run() {
  local name=$1 transport=$2
  shift 2
  start_hub "$name" "$transport"
  measure "$name" "hub:     " "$HUB_PORT" "$HUB_PID" "$@"
  if ! kill -0 "$HUB_PID" 2>/dev/null; then
    echo "bench: THE HUB DIED during $name; the end of its log:"
    tail -20 "$OUT_DIR/hub-$name.log"
    FAILED+=("$name (hub died)")
  fi
  stop_hub
}

# run_cross_node NAME LOADGEN-ARGS...: two redis nodes on one Redis; the
# subscribers on the second, the publishers on the first (--pub-port).
run_cross_node() {
  local name=$1
  shift
  start_hub "$name-publish-node" redis
  local pub_pid=$HUB_PID pub_port=$HUB_PORT
  start_hub "$name" redis
  measure "$name" "hubs:    two of: " "$HUB_PORT" "$HUB_PID" --pub-port "$pub_port" "$@"
  local sub_pid=$HUB_PID
  HUB_PID=$pub_pid
  REDIS_KEEP=1 stop_hub
  HUB_PID=$sub_pid
  stop_hub
}

# run_cluster NAME NODES LOADGEN-ARGS...: NODES redis nodes on one Redis;
# the subscribers spread over every node (loadgen --sub-ports, subscriber j
# on node j mod NODES), the publishers on the first. CPU and RSS are summed
# over the nodes, so bytes per subscriber is what one node holds for each of
# its own.
run_cluster() {
  local name=$1 nodes=$2 i
  shift 2
  local pids=() ports=()
  for i in $(seq "$nodes"); do
    start_hub "$name-node$i" redis
    pids+=("$HUB_PID")
    ports+=("$HUB_PORT")
  done
  local pid_list port_list
  pid_list=$(IFS=,; echo "${pids[*]}")
  port_list=$(IFS=,; echo "${ports[*]}")
  measure "$name" "hubs:    $nodes of: " "${ports[0]}" "$pid_list" --sub-ports "$port_list" "$@"
  for i in "${!pids[@]}"; do
    kill -0 "${pids[$i]}" 2>/dev/null || FAILED+=("$name (node $((i + 1)) died)")
  done
  for i in "${!pids[@]}"; do
    HUB_PID=${pids[$i]}
    if [ "$i" -lt $((nodes - 1)) ]; then REDIS_KEEP=1 stop_hub; else stop_hub; fi
  done
}

# run_peer NAME LOADGEN-ARGS...: the same load against nchan (NAME-nchan),
# then against a fresh hub (NAME), then one line for each from their JSON.
run_peer() {
  local name=$1
  shift
  nchan_install || { FAILED+=("$name-nchan (not installed)"); return; }
  local dir
  dir=$(mktemp -d /tmp/qs-bench-nchan.XXXXXX)
  if nchan_start "$name" "$dir"; then
    echo
    echo "=== $name-nchan"
    echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (load average 1/5/15 min, before the run)"
    echo "nchan:   ${NCHAN_CMD[*]} (nginx $(nginx -v 2>&1 | sed 's|.*/||'), $NCHAN_WORKERS workers; config in $OUT_DIR/$name-nchan.conf)"
    echo "command: bench/loadgen --url http://127.0.0.1:$NCHAN_PORT/ --target nchan $* --hub-pid $NCHAN_PIDS"
    cp "$dir/nginx.conf" "$OUT_DIR/$name-nchan.conf"
    if ! "$LOADGEN" --url "http://127.0.0.1:$NCHAN_PORT/" --target nchan "$@" --hub-pid "$NCHAN_PIDS" \
        --json-out "$OUT_DIR/$name-nchan.json" 2>&1 | grep -v '^loadgen --url'; then
      FAILED+=("$name-nchan")
    fi
    kill -0 "$NCHAN_PID" 2>/dev/null || FAILED+=("$name-nchan (nginx died)")
    nchan_stop
    cp "$dir/error.log" "$OUT_DIR/$name-nchan.log" 2>/dev/null || true
  else
    FAILED+=("$name-nchan (did not start)")
  fi
  rm -rf "$dir"
  if [ -n "${BASELINE:-}" ]; then
    HUB_BINARY=$BASELINE run "$name-baseline" memory "$@" --pub-token "$PUB_TOKEN"
  fi
  run "$name" memory "$@" --pub-token "$PUB_TOKEN"
  echo
  echo "--- $name side by side: deliveries/s, delivery p99 (us), TCP segments per delivery, CPU per delivery (us)"
  local who
  for who in "$name-nchan" "$name-baseline" "$name"; do
    [ -f "$OUT_DIR/$who.json" ] || continue
    printf '%-22s %10s/s  p99 %10s  segs %6s  cpu %6s\n' "$who" "$(json_field "$who" deliveries_per_s)" \
      "$(sed -n 's/.*"latency_us": {[^}]*"p99": \([0-9.]*\).*/\1/p' "$OUT_DIR/$who.json")" \
      "$(json_field "$who" tcp_segs_per_delivery)" "$(json_field "$who" hub_cpu_us_per_delivery)"
  done
}

json_field() { sed -n "s/.*\"$2\": \([0-9.]*\).*/\1/p" "$OUT_DIR/$1.json" | head -1; }

SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(idle-memory fanout-1k fanout-10k fanout-15k fanout-15k-paced fanout-15k-coalesced
                                         throughput latency-25k latency-half durable matchers-urlpattern)
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r)"
echo "source:  $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown) (built $(date -u -r "$QS" +%FT%TZ))"
echo "results: $OUT_DIR"
# `set -o pipefail` makes run's `loadgen | grep` report loadgen's status.
for rep in $(seq "$REPEAT"); do
  suffix=
  [ "$REPEAT" -eq 1 ] || suffix="-$rep"
  for scenario in "${SCENARIOS[@]}"; do
    s=$scenario$suffix
    case $scenario in
    idle-memory) # the hub's RSS growth per idle subscriber
      run "$s" memory --subscribers 15000 --topics 1 --publishes 0 --idle-ms 2000 --duration-limit 60 ;;
    fanout-1k) # every update to everybody, 4 publishes in flight
      run "$s" memory --subscribers 1000 --topics 1 --publishes 200 --publishers 4 --pub-token "$PUB_TOKEN" \
        --duration-limit 60 ;;
    fanout-10k)
      run "$s" memory --subscribers 10000 --topics 1 --publishes 200 --publishers 4 --pub-token "$PUB_TOKEN" \
        --duration-limit 90 ;;
    fanout-15k) # as fanout-10k, to 15,000: what the hub sustains flat out, 4 publishes in flight
      run "$s" memory --subscribers 15000 --topics 1 --publishes 200 --publishers 4 --pub-token "$PUB_TOKEN" \
        --duration-limit 90 ;;
    fanout-15k-paced) # DESIGN.md's 300,000 deliveries/s to 15,000 subscribers: 20 updates/s, one at a time
      run "$s" memory --subscribers 15000 --topics 1 --publishes 200 --rate 20 --publishers 4 \
        --pub-token "$PUB_TOKEN" --duration-limit 90 ;;
    fanout-15k-coalesced) # 128 publishes in flight: several events per connection per write
      run "$s" memory --subscribers 15000 --topics 1 --publishes 200 --publishers 8 --pipeline 16 \
        --pub-token "$PUB_TOKEN" --duration-limit 90 ;;
    throughput) # one subscriber per topic: publishes/s with in-memory history
      run "$s" memory --subscribers 10000 --topics 10000 --publishes 20000 --publishers 8 --pipeline 8 \
        --pub-token "$PUB_TOKEN" --duration-limit 60 ;;
    latency-25k) # half of DESIGN.md's 50,000/s target
      run "$s" memory --subscribers 10000 --topics 10000 --publishes 20000 --rate 25000 --publishers 8 --pipeline 4 \
        --pub-token "$PUB_TOKEN" --duration-limit 60 ;;
    latency-half) # half of the rate the throughput scenario measured
      max=$(json_field "throughput$suffix" publish_rate_per_s 2>/dev/null || true)
      [ -n "$max" ] || max=20000
      half=$(( ${max%.*} / 2 ))
      run "$s" memory --subscribers 10000 --topics 10000 --publishes "$half" --rate "$half" --publishers 8 \
        --pipeline 4 --pub-token "$PUB_TOKEN" --duration-limit 60 ;;
    durable) # throughput with LMDB history (group commit)
      run "$s" lmdb --subscribers 10000 --topics 10000 --publishes 10000 --publishers 16 --pipeline 8 \
        --pub-token "$PUB_TOKEN" --duration-limit 60 ;;
    redis-throughput) # publishes/s through Redis (sync: answered once Redis has it), 128 publishers
      # One publish in flight per connection: an HTTP/1.1 connection gets one
      # answer at a time, so pipelined publishes would each wait for the
      # Redis round trip of the one before (redis-throughput-pipelined).
      run "$s" redis --subscribers 10000 --topics 10000 --publishes 60000 --publishers 128 --pipeline 1 \
        --pub-token "$PUB_TOKEN" --duration-limit 60 ;;
    redis-throughput-pipelined) # 16 connections with 8 pipelined publishes each: 16 in flight
      run "$s" redis --subscribers 10000 --topics 10000 --publishes 60000 --publishers 16 --pipeline 8 \
        --pub-token "$PUB_TOKEN" --duration-limit 60 ;;
    redis-unix-throughput) # redis-throughput with Redis on this host reached through its Unix socket
      run "$s" redis-unix --subscribers 10000 --topics 10000 --publishes 60000 --publishers 128 --pipeline 1 \
        --pub-token "$PUB_TOKEN" --duration-limit 60 ;;
    redis-latency) # publish-to-delivery at a fixed rate, subscribers on the publishing node
      run "$s" redis --subscribers 10000 --topics 10000 --publishes "${RATE:-10000}" --rate "${RATE:-10000}" \
        --publishers 32 --pipeline 1 --pub-token "$PUB_TOKEN" --duration-limit 60 ;;
    redis-cross-node) # the same, subscribers on another node than the publishers
      run_cross_node "$s" --subscribers 10000 --topics 10000 --publishes "${RATE:-10000}" --rate "${RATE:-10000}" \
        --publishers 32 --pipeline 1 --pub-token "$PUB_TOKEN" --duration-limit 60 ;;
    cluster-fanout) # every update to 15,000 subscribers: 5,000 on each of three redis nodes, then all on one
      for nodes in 3 1; do
        run_cluster "$s-$nodes-node" "$nodes" --subscribers 15000 --topics 1 --publishes 200 --publishers 4 \
          --pub-token "$PUB_TOKEN" --duration-limit 90
      done ;;
    memory-latency) # the same rate on one node with the memory ring, for comparison
      run "$s" memory --subscribers 10000 --topics 10000 --publishes "${RATE:-10000}" --rate "${RATE:-10000}" \
        --publishers 32 --pipeline 1 --pub-token "$PUB_TOKEN" --duration-limit 60 ;;
    matchers-urlpattern) # 10,000 distinct match_urlpattern subscriptions
      run "$s" memory --subscribers 10000 --topics 10000 --match-mode urlpattern --publishes 200 --publishers 4 \
        --pipeline 4 --pub-token "$PUB_TOKEN" --duration-limit 90 ;;
    peer-1k) # issue 15: one publisher, one publish in flight, flat out, 1,000 subscribers
      run_peer "$s" --subscribers 1000 --topics 1 --publishes 2000 --publishers 1 --pipeline 1 --duration-limit 60 ;;
    peer-10k) # the same to 10,000 subscribers (2,000,000 deliveries)
      run_peer "$s" --subscribers 10000 --topics 1 --publishes 200 --publishers 1 --pipeline 1 --duration-limit 90 ;;
    peer-paced-1k) # low load: 10 publishes/s to 1,000 subscribers for 10 s
      run_peer "$s" --subscribers 1000 --topics 1 --publishes 100 --rate 10 --publishers 1 --pipeline 1 \
        --duration-limit 60 ;;
    *)
      echo "bench: unknown scenario $scenario" >&2
      exit 2 ;;
    esac
  done
done

echo
if [ ${#FAILED[@]} -eq 0 ]; then
  echo "bench: all scenarios passed (no loss, no errors)"
else
  echo "bench: FAILED: ${FAILED[*]}"
  exit 1
fi
