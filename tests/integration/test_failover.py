"""No single point of failure: three quicksilver nodes on the redis
transport, behind a real HAProxy, finding their Redis primary through three
real sentinels (Debian's redis-server and redis-sentinel, on free loopback
ports, in temporary directories, stopped by their PIDs), with one replica
and redis_wait_replicas 1.

Publishers run all along (one per node, one through HAProxy) and record
every id acknowledged with a 200; subscribers on every node (and one
through HAProxy) reconnect with Last-Event-ID whenever their stream ends.
Faults, one after the other: kill -9 of the Redis primary (Sentinel fails
over; the old primary comes back as a replica), the same with the sentinel
the nodes listen to stopped (they find the new primary by asking), kill -9 of a node (started
again), SIGSTOP of a node for 10 s, and every node restarted in turn
(SIGTERM drain, then started again). Afterwards every subscriber must have
every acknowledged id exactly once, each publisher's ids in order.

StreamLost: Redis back without the stream's newest entries; the node reads
on from the end of the stream it finds.

SentinelPassword: a sentinel with requirepass; the node with the right
redis_sentinel_password finds the primary, one with a wrong one is not ready.

QS_FAILOVER_ROUNDS=N repeats the faults N times (bench/failover_soak.sh);
the counts are printed at the end either way."""
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import types
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubtest import (HUB_PATH, Hub, RedisServer, SSEClient, free_port, main, php_urlencode, publisher_token,
                     stop_process, subscriber_token, symfony_body)

MASTER = "qsmaster"
TOPIC = "https://example.com/failover"
REDIS_ARGS = ["--repl-diskless-sync-delay", "0"]
ROUNDS = max(1, int(os.environ.get("QS_FAILOVER_ROUNDS", "1")))


def wait_for(what, cond, timeout=30.0, step=0.1):
    """Polls cond() until it is true; fails the test with `what` otherwise."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if cond():
                return
        except (OSError, RuntimeError, http.client.HTTPException):
            pass
        time.sleep(step)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


def get(port, path, timeout=3.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        conn.close()


class Sentinel:
    """Debian's redis-sentinel on a free loopback port, monitoring MASTER;
    with `password`, clients must AUTH with it (requirepass)."""

    def __init__(self, primary_port, quorum=2, password=None):
        self.dir = tempfile.mkdtemp(prefix="qs-sentinel-")
        self.port = free_port()
        self.conf = os.path.join(self.dir, "sentinel.conf")
        with open(self.conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\nprotected-mode no\ndaemonize no\ndir %s\nlogfile %s\n"
                    "sentinel monitor %s 127.0.0.1 %d %d\n"
                    "sentinel down-after-milliseconds %s 1000\n"
                    "sentinel failover-timeout %s 4000\n"
                    "sentinel parallel-syncs %s 1\n"
                    % (self.port, self.dir, os.path.join(self.dir, "sentinel.log"), MASTER, primary_port, quorum,
                       MASTER, MASTER, MASTER))
            if password:
                f.write("requirepass %s\n" % password)
        exe = shutil.which("redis-sentinel") or "/usr/bin/redis-sentinel"
        if not os.path.exists(exe):
            raise RuntimeError("redis-sentinel is missing: run scripts/install-deps.sh --test")
        self.proc = subprocess.Popen([exe, self.conf], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.client = types.SimpleNamespace(port=self.port, password=password)
        wait_for("sentinel on port %d" % self.port, lambda: self.call("PING") == b"PONG", timeout=10)

    def call(self, *args):
        return RedisServer.call(self.client, *args)

    def primary_port(self):
        reply = self.call("SENTINEL", "get-master-addr-by-name", MASTER)
        return int(reply[1]) if reply else None

    def log(self):
        try:
            with open(os.path.join(self.dir, "sentinel.log"), errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def close(self):
        stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


class HAProxy:
    """Debian's haproxy in the foreground, round robin over the nodes, which
    it checks on /readyz."""

    def __init__(self, node_ports):
        self.dir = tempfile.mkdtemp(prefix="qs-haproxy-")
        self.port = free_port()
        cfg = os.path.join(self.dir, "haproxy.cfg")
        servers = "".join("  server n%d 127.0.0.1:%d check inter 500ms fall 2 rise 1\n" % (i + 1, p)
                          for i, p in enumerate(node_ports))
        with open(cfg, "w") as f:
            f.write("global\n  maxconn 512\ndefaults\n  mode http\n  timeout connect 2s\n"
                    "  timeout client 1h\n  timeout server 1h\n  timeout tunnel 1h\n  retries 2\n"
                    "  option redispatch\nfrontend mercure\n  bind 127.0.0.1:%d\n  default_backend nodes\n"
                    "backend nodes\n  balance roundrobin\n  option httpchk GET /readyz\n"
                    "  http-check expect status 200\n%s" % (self.port, servers))
        exe = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not os.path.exists(exe):
            raise RuntimeError("haproxy is missing: run scripts/install-test-tools.sh")
        self.proc = subprocess.Popen([exe, "-db", "-f", cfg], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.addr = ("127.0.0.1", self.port)
        self.ssl_context = None
        wait_for("haproxy on port %d" % self.port, lambda: get(self.port, "/readyz")[0] == 200, timeout=15)

    def close(self):
        stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


class Endpoint:
    """Where a client connects: a node (by its fixed port) or HAProxy."""

    def __init__(self, port, name):
        self.port = port
        self.name = name
        self.addr = ("127.0.0.1", port)
        self.ssl_context = None


class PublisherLoop(threading.Thread):
    """Publishes one update at a time to `endpoint`, each with a new id
    `<name>-<n>`, until stopped; records the acknowledged ones in order."""

    def __init__(self, name, endpoint):
        super().__init__(daemon=True)
        self.name = name
        self.endpoint = endpoint
        self.acked = []
        self.attempts = 0
        self.refused = 0  # 503 answers of a node
        self.balancer_refused = 0  # 503 answers of HAProxy itself: no node ready
        self.errors = 0  # no answer (connection refused, reset, timed out)
        self.bad_503 = []  # 503s without Retry-After or a reason
        self.stop = threading.Event()
        self.token = publisher_token()

    def run(self):
        conn = None
        n = 0
        while not self.stop.is_set():
            n += 1
            uid = "%s-%d" % (self.name, n)
            self.attempts += 1
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.endpoint.port, timeout=20)
                conn.request("POST", HUB_PATH, symfony_body([TOPIC], data=uid, id=uid),
                             {"Authorization": "Bearer " + self.token,
                              "Content-Type": "application/x-www-form-urlencoded"})
                r = conn.getresponse()
                body = r.read().decode("utf-8", "replace")
                if r.status == 200 and body == uid:
                    self.acked.append(uid)
                    time.sleep(0.01)
                    continue
                if r.status == 503 and "No server is available" in body:
                    self.balancer_refused += 1
                elif r.status == 503:
                    self.refused += 1
                    # Never a 200 for what is not stored: a 503 that says why, and when to retry.
                    if not r.getheader("Retry-After") or ("not stored" not in body and "not acknowledged" not in body):
                        self.bad_503.append((r.getheader("Retry-After"), body))
                else:
                    self.bad_503.append((r.status, body))
            except (OSError, http.client.HTTPException):
                self.errors += 1
                if conn is not None:
                    conn.close()
                conn = None
            time.sleep(0.1)
        if conn is not None:
            conn.close()


class SubscriberLoop(threading.Thread):
    """Subscribes to TOPIC on `endpoints[0]`, and whenever the stream ends
    reconnects with Last-Event-ID (to the next endpoint when one refuses);
    records every id received, in order."""

    def __init__(self, name, endpoints):
        super().__init__(daemon=True)
        self.name = name
        self.endpoints = endpoints
        self.ids = []
        self.reconnects = 0
        self.earliest = 0  # resumes answered Mercure-Last-Event-ID: earliest
        self.stop = threading.Event()
        self.connected = threading.Event()
        self.headers = [("Authorization", "Bearer " + subscriber_token([TOPIC]))]

    def run(self):
        i = 0
        while not self.stop.is_set():
            ep = self.endpoints[i % len(self.endpoints)]
            headers = list(self.headers)
            if self.ids:
                headers.append(("Last-Event-ID", self.ids[-1]))
            try:
                c = SSEClient(ep, "topic=" + php_urlencode(TOPIC), headers, timeout=5)
            except (OSError, AssertionError):
                i += 1
                time.sleep(0.2)
                continue
            if c.status != 200:
                c.sock.close()
                i += 1
                time.sleep(0.2)
                continue
            if self.ids:
                self.reconnects += 1
                if c.header("Mercure-Last-Event-ID") == "earliest":
                    self.earliest += 1
            self.connected.set()
            try:
                while not self.stop.is_set():
                    ev = c.next_event(timeout=0.5)
                    if ev is None:
                        if c.eof or c.http.complete:
                            break
                        continue
                    if ev.id:
                        self.ids.append(ev.id)
            except OSError:
                pass
            c.sock.close()
            i = 0  # home first again; the next one if it refuses


class Failover(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.started = time.time()
        cls.primary = cls.replica = cls.haproxy = None
        cls.sentinels, cls.nodes, cls.publishers, cls.subscribers = [], [], [], []
        cls.retired = []  # nodes stopped or killed by a fault, for their logs
        try:
            # Redis 7 waits 5 s for more replicas before a (diskless) full
            # sync; here a replica is to be online at once.
            cls.primary = RedisServer(args=REDIS_ARGS)
            cls.replica = RedisServer(args=REDIS_ARGS + ["--replicaof", "127.0.0.1", str(cls.primary.port)])
            wait_for("the replica to be online",
                     lambda: "state=online" in cls.primary.call("INFO", "replication").decode(), timeout=30)
            cls.sentinels = [Sentinel(cls.primary.port) for _ in range(3)]
            # A failover needs every sentinel to know the replica and the others.
            for s in cls.sentinels:
                wait_for("sentinel %d to know the replica and the other sentinels" % s.port,
                         lambda s=s: len(s.call("SENTINEL", "replicas", MASTER)) == 1
                         and len(s.call("SENTINEL", "sentinels", MASTER)) == 2, timeout=40, step=0.25)
            cls.stream = "qs-failover-%d" % time.monotonic_ns()
            cls.node_ports = [free_port() for _ in range(3)]
            cls.nodes = [cls.start_node(i) for i in range(3)]
            cls.haproxy = HAProxy(cls.node_ports)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def start_node(cls, i):
        sentinels = ",".join("127.0.0.1:%d" % s.port for s in cls.sentinels)
        args = ["--listen", "127.0.0.1:%d" % cls.node_ports[i], "--redis_sentinels", sentinels,
                "--redis_master_name", MASTER, "--redis_wait_replicas", "1", "--redis_wait_timeout", "1s",
                "--drain_timeout", "1s", "--history_size", "100000"]
        node = Hub(args, transport="redis", redis=types.SimpleNamespace(url="redis://127.0.0.1:1"),
                   stream=cls.stream, workers=1)
        wait_for("node %d ready" % (i + 1), lambda: get(node.port, "/readyz")[0] == 200, timeout=30)
        return node

    @classmethod
    def tearDownClass(cls):
        for t in cls.publishers + cls.subscribers:
            t.stop.set()
        for t in cls.publishers + cls.subscribers:
            t.join(30)
        if cls.haproxy:
            cls.haproxy.close()
        problems = []
        for i, node in enumerate(cls.nodes):
            node.send_signal(signal.SIGCONT)  # in case a failure left one stopped
            rc = node.stop()
            if rc != 0:
                problems.append("node %d exit code %r\n%s" % (i + 1, rc, node.stderr()[-4000:]))
        if os.environ.get("QS_FAILOVER_LOGS"):
            for node in cls.retired + cls.nodes:
                print("---- node on port %d: the transport's log\n%s" % (node.port, "".join(
                    line for line in node.stderr().splitlines(True) if "redis:" in line)))
        for s in cls.sentinels:
            s.proc.send_signal(signal.SIGCONT)  # in case a failure left one stopped
            s.close()
        for r in (cls.replica, cls.primary):
            if r:
                r.close()
        if problems:
            raise AssertionError("\n".join(problems))

    # ---- helpers

    def endpoints(self):
        return [Endpoint(p, "node %d" % (i + 1)) for i, p in enumerate(self.node_ports)]

    def acked(self):
        return sum(len(p.acked) for p in self.publishers)

    def wait_publishing(self, what, more=3, timeout=60):
        """Every publisher has had `more` further acknowledgements: the hub
        has recovered from `what` everywhere."""
        base = [len(p.acked) for p in self.publishers]
        wait_for("publishes acknowledged again on every node after " + what,
                 lambda: all(len(p.acked) >= b + more for p, b in zip(self.publishers, base)), timeout=timeout)

    def wait_all_ready(self, what):
        wait_for("every node ready after " + what,
                 lambda: all(get(n.port, "/readyz")[0] == 200 for n in self.nodes), timeout=60)

    def log(self, text):
        print("[%5.1f s] %s" % (time.time() - self.started, text), flush=True)

    # ---- faults

    def fault_primary_crash(self, missed=False):
        """kill -9 of the primary. With `missed`, the sentinel every node
        follows for announcements (the first of the list) is stopped first,
        so no node hears `+switch-master`: they find the new primary by
        asking the other sentinels again after their connections fail."""
        # Whichever Sentinel has as the primary now (a loaded machine may have
        # seen a failover of its own).
        wait_for("the sentinels to agree on the primary",
                 lambda: len({s.primary_port() for s in self.sentinels}) == 1, timeout=30)
        if self.sentinels[0].primary_port() == self.replica.port:
            self.primary, self.replica = self.replica, self.primary
        old, new = self.primary, self.replica
        deaf = self.sentinels[0] if missed else None
        if deaf:
            self.log("SIGSTOP the sentinel the nodes listen to (port %d)" % deaf.port)
            deaf.proc.send_signal(signal.SIGSTOP)
        self.log("kill -9 the Redis primary (port %d)" % old.port)
        old.kill()
        # Until Sentinel has promoted the replica (at least its 1 s
        # down-after-milliseconds), every node says it is not ready.
        not_ready = set()

        def all_seen_not_ready():
            for n in self.nodes:
                status, text = get(n.port, "/readyz")
                if status == 503 and "redis unreachable" in text:
                    not_ready.add(n.port)
            return len(not_ready) == len(self.nodes)

        wait_for("every node's /readyz to say not ready", all_seen_not_ready, timeout=15, step=0.05)
        awake = [s for s in self.sentinels if s is not deaf]
        wait_for("Sentinel to promote the replica",
                 lambda: all(s.primary_port() == new.port for s in awake), timeout=60, step=0.2)
        self.log("Sentinel promoted port %d" % new.port)
        # While the transport fails over, a node says not ready: seen on at
        # least one node, or the switch was faster than the poll.
        # The old primary comes back as the new one's replica (with no data:
        # it resynchronises), so WAIT 1 can be met again.
        old.args = REDIS_ARGS + ["--replicaof", "127.0.0.1", str(new.port)]
        old.start()
        wait_for("the old primary to be an online replica",
                 lambda: "state=online" in new.call("INFO", "replication").decode(), timeout=60, step=0.2)
        self.primary, self.replica = new, old
        # Heard at once from the announcement; without it, on the first
        # reconnection attempt after the promotion (backoff: at most 2 s).
        how = "(asked after a connection failed)" if deaf else ""
        for i, node in enumerate(self.nodes):
            wait_for("node %d to follow Sentinel to the new primary %s" % (i + 1, how),
                     lambda: "is now 127.0.0.1:%d %s" % (new.port, how) in node.stderr(), timeout=30)
        if deaf:
            deaf.proc.send_signal(signal.SIGCONT)
            self.log("SIGCONT the sentinel")
        self.wait_publishing("the primary's crash")

    def fault_node_crash(self, i):
        self.log("kill -9 node %d" % (i + 1))
        self.nodes[i].kill()
        self.retired.append(self.nodes[i])
        self.nodes[i] = self.start_node(i)
        self.wait_publishing("node %d's crash" % (i + 1))

    def fault_node_hang(self, i):
        self.log("SIGSTOP node %d for 10 s" % (i + 1))
        self.nodes[i].send_signal(signal.SIGSTOP)
        time.sleep(10)  # the fault itself lasts 10 s
        self.nodes[i].send_signal(signal.SIGCONT)
        self.log("SIGCONT node %d" % (i + 1))
        self.wait_publishing("node %d's hang" % (i + 1))

    def fault_rolling_restart(self):
        for i in range(3):
            self.log("restart node %d (SIGTERM drain)" % (i + 1))
            rc = self.nodes[i].stop()
            self.assertEqual(rc, 0, self.nodes[i].stderr()[-3000:])
            self.retired.append(self.nodes[i])
            self.nodes[i] = self.start_node(i)
            self.wait_all_ready("node %d's restart" % (i + 1))
        self.wait_publishing("the rolling restart")

    # ---- the test

    def test_every_acknowledged_update_reaches_every_subscriber_once_in_order(self):
        eps = self.endpoints()
        lb = Endpoint(self.haproxy.port, "haproxy")
        for i in range(3):
            self.subscribers.append(SubscriberLoop("sub-node%d" % (i + 1), eps[i:] + eps[:i]))
        self.subscribers.append(SubscriberLoop("sub-haproxy", [lb]))
        for s in self.subscribers:
            s.start()
        for s in self.subscribers:
            self.assertTrue(s.connected.wait(15), "%s never connected" % s.name)
        for i in range(3):
            self.publishers.append(PublisherLoop("p%d" % (i + 1), eps[i]))
        self.publishers.append(PublisherLoop("plb", lb))
        for p in self.publishers:
            p.start()
        self.wait_publishing("the start")

        for r in range(ROUNDS):
            self.log("round %d of %d" % (r + 1, ROUNDS))
            self.fault_primary_crash()
            self.fault_primary_crash(missed=True)
            self.fault_node_crash(r % 3)
            self.fault_node_hang((r + 1) % 3)
            self.fault_rolling_restart()

        for p in self.publishers:
            p.stop.set()
        for p in self.publishers:
            p.join(30)
        acked = {uid for p in self.publishers for uid in p.acked}
        wait_for("every subscriber to receive every acknowledged update",
                 lambda: all(acked <= set(s.ids) for s in self.subscribers), timeout=60, step=0.25)
        for s in self.subscribers:
            s.stop.set()
        for s in self.subscribers:
            s.join(10)

        attempts = sum(p.attempts for p in self.publishers)
        refused = sum(p.refused for p in self.publishers)
        balancer = sum(p.balancer_refused for p in self.publishers)
        errors = sum(p.errors for p in self.publishers)
        self.log("publishes: %d attempted, %d acknowledged, %d answered 503 by a node, %d by HAProxy "
                 "(no node ready), %d unanswered" % (attempts, len(acked), refused, balancer, errors))
        for s in self.subscribers:
            got = set(s.ids)
            lost = len(acked - got)
            dups = len(s.ids) - len(got)
            self.log("%s: delivered %d (%d acknowledged), lost %d, duplicates %d, reconnects %d, "
                     "resumed from earliest %d" % (s.name, len(s.ids), len(acked & got), lost, dups,
                                                   s.reconnects, s.earliest))
            self.assertEqual(lost, 0, "%s lost %s" % (s.name, sorted(acked - got)[:20]))
            self.assertEqual(dups, 0, "%s got duplicates" % s.name)
            # Each publisher's updates in the order it published them.
            for p in self.publishers:
                seq = [int(uid.rsplit("-", 1)[1]) for uid in s.ids if uid.rsplit("-", 1)[0] == p.name]
                self.assertEqual(seq, sorted(seq), "%s: %s's updates out of order" % (s.name, p.name))
        for p in self.publishers:
            self.assertEqual(p.bad_503, [], "%s: answers other than 200 or 503 with Retry-After" % p.name)
            self.assertGreater(len(p.acked), 0)
        self.log("total: %d acknowledged, %d delivered, lost 0, duplicates 0"
                 % (len(acked), sum(len(s.ids) for s in self.subscribers)))


class StreamLost(unittest.TestCase):
    """Redis comes back without the stream's newest entries (here: without
    persistence, from an older snapshot). The node reads on from the end of
    the stream it finds, not from its own last entry: entries added after
    that end are delivered even when their ids are below what the node had
    read (a new primary's clock, or a stream started again)."""

    def test_node_reads_on_from_the_end_of_a_stream_that_went_back(self):
        redis = RedisServer()
        stream = "qs-lost-%d" % time.monotonic_ns()
        node = fresh = None
        try:
            node = Hub([], transport="redis", redis=redis, stream=stream, workers=1)
            sub = SSEClient(node, "topic=" + php_urlencode(TOPIC),
                            [("Authorization", "Bearer " + subscriber_token([TOPIC]))])
            conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=10)

            def publish(uid):
                conn.request("POST", HUB_PATH, symfony_body([TOPIC], data=uid, id=uid),
                             {"Authorization": "Bearer " + publisher_token(),
                              "Content-Type": "application/x-www-form-urlencoded"})
                r = conn.getresponse()
                return r.status, r.read().decode()

            self.assertEqual(publish("urn:before"), (200, "urn:before"))
            self.assertEqual(sub.next_event(timeout=10).id, "urn:before")
            # The stream as an older snapshot had it: one entry, id 1-1.
            redis.kill()
            snap = RedisServer(args=["--dir", redis.dir])
            snap.call("XADD", stream, "1-1", "id", "urn:snapshot", "topic", TOPIC, "data", "old")
            snap.call("SAVE")
            snap.kill()
            shutil.rmtree(snap.dir, ignore_errors=True)
            redis.start()  # loads the snapshot (dump.rdb)
            wait_for("the node to reconnect",
                     lambda: get(node.port, "/readyz")[0] == 200, timeout=20)
            wait_for("the node to say it reads on from the stream's end",
                     lambda: "ends at 1-1, before the last entry this node read" in node.stderr(), timeout=20)
            # An entry below what the node had read, above the stream's end.
            redis.call("XADD", stream, "2-1", "id", "urn:after-restart", "topic", TOPIC, "data", "x")
            ev = sub.next_event(timeout=10)
            self.assertIsNotNone(ev, "the entry added after the restart was skipped")
            self.assertEqual(ev.id, "urn:after-restart")
            self.assertEqual(publish("urn:after"), (200, "urn:after"))
            self.assertEqual(sub.next_event(timeout=10).id, "urn:after")
            # A node started now has never seen urn:before: unknown, as documented.
            fresh = Hub([], transport="redis", redis=redis, stream=stream, workers=1)
            resumed = SSEClient(fresh, "topic=" + php_urlencode(TOPIC),
                                [("Authorization", "Bearer " + subscriber_token([TOPIC])),
                                 ("Last-Event-ID", "urn:before")])
            self.assertEqual(resumed.header("Mercure-Last-Event-ID"), "earliest")
            conn.close()
        finally:
            for n in (fresh, node):
                if n:
                    self.assertEqual(n.stop(), 0, n.stderr()[-3000:])
            redis.close()


class SentinelPassword(unittest.TestCase):
    """Sentinels that ask for a password (requirepass): a node with the right
    redis_sentinel_password finds the primary through them; a node with a
    wrong one says that the sentinel refused it, and is not ready."""

    def node(self, redis, sentinel, password, stream):
        # redis_url names no Redis: the primary can only come from the sentinel.
        return Hub(["--redis_sentinels", "127.0.0.1:%d" % sentinel.port, "--redis_master_name", MASTER,
                    "--redis_sentinel_password", password],
                   transport="redis", redis=types.SimpleNamespace(url="redis://127.0.0.1:1"), stream=stream,
                   workers=1)

    def test_the_sentinels_password(self):
        redis = RedisServer()
        stream = "qs-sentinel-auth-%d" % time.monotonic_ns()
        sentinel = good = bad = None
        try:
            sentinel = Sentinel(redis.port, quorum=1, password="sentinel-secret")
            with self.assertRaisesRegex(RuntimeError, "NOAUTH"):
                Sentinel.call(types.SimpleNamespace(client=types.SimpleNamespace(port=sentinel.port)), "PING")
            good = self.node(redis, sentinel, "sentinel-secret", stream)
            wait_for("the node with the password ready", lambda: get(good.port, "/readyz")[0] == 200, timeout=20)
            conn = http.client.HTTPConnection("127.0.0.1", good.port, timeout=10)
            conn.request("POST", HUB_PATH, symfony_body([TOPIC], data="x", id="urn:through-sentinel"),
                         {"Authorization": "Bearer " + publisher_token(),
                          "Content-Type": "application/x-www-form-urlencoded"})
            r = conn.getresponse()
            self.assertEqual((r.status, r.read().decode()), (200, "urn:through-sentinel"))
            conn.close()
            self.assertEqual(redis.call("XLEN", stream), 1, "the update is in the primary the sentinel named")

            bad = self.node(redis, sentinel, "not-the-sentinel-secret", stream)
            wait_for("the refusal in the log", lambda: "refused redis_sentinel_password" in bad.stderr(), timeout=20)
            status, body = get(bad.port, "/readyz")
            self.assertEqual(status, 503, body)
            self.assertIn("Sentinel", body)
            self.assertNotIn("not-the-sentinel-secret", bad.stderr(), "the password is not logged")
        finally:
            for n in (bad, good):
                if n:
                    self.assertEqual(n.stop(), 0, n.stderr()[-3000:])
            if sentinel:
                sentinel.close()
            redis.close()


def on_sigterm(signum, frame):
    # timeout(1) and the soak's bound stop the test this way: fail the test
    # where it is, so tearDownClass stops what it started.
    raise AssertionError("stopped by SIGTERM")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_sigterm)
    main()
