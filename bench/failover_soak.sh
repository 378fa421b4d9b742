#!/usr/bin/env bash
# The long version of tests/integration/test_failover.py (BENCHMARKS.md,
# "Failover soak"): the same cluster (a Redis primary and replica, three
# sentinels, three nodes with redis_wait_replicas 1 behind HAProxy, all on
# loopback, started and stopped by the test), the same continuous publishers
# and checking subscribers, with every fault repeated ROUNDS times: kill -9
# of the primary, kill -9 of a node, SIGSTOP of a node for 10 s, a rolling
# restart. Prints what was acknowledged, delivered, lost and duplicated.
#
#   bench/failover_soak.sh            (ROUNDS=5, at most LIMIT=900 s)
#   ROUNDS=10 LIMIT=1800 bench/failover_soak.sh
#
# Uses the sanitizer build (make build-test), so a memory error in a fault
# path fails the run too; QS_BINARY picks another binary.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${ROUNDS:-5}"
limit="${LIMIT:-900}"
export QS_BINARY="${QS_BINARY:-$root/build/sanitize/quicksilver}"
if [ ! -x "$QS_BINARY" ]; then
  echo "failover_soak: $QS_BINARY is missing: run make build-test" >&2
  exit 2
fi
echo "failover_soak: $rounds rounds, at most $limit s, binary $QS_BINARY; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
cd "$(mktemp -d /tmp/qs-failover-soak.XXXXXX)"
# timeout sends SIGTERM to the test, whose teardown stops what it started.
QS_FAILOVER_ROUNDS="$rounds" timeout --kill-after=60 "$limit" python3 "$root/tests/integration/test_failover.py"
