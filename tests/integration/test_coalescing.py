"""Adaptive coalescing (coalesce_max_delay): one publisher, one publish in
flight, flat out to hundreds of subscribers saturates the workers, and their
events then leave several per write, without loss, duplicate or reordering;
at low load every event leaves at once in a write of its own and nothing is
ever held. The fan-out backlog (fanout_backlog): under the same load the
answers wait for the fan-out of earlier updates, but never for a subscriber
that does not read."""
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubtest import (HubTestCase, main, metric, open_subscribers, php_urlencode, publish, publisher_token,
                     pump_subscribers, raise_fd_limit, subscribe_request, subscriber_token)

raise_fd_limit(8192)  # before the hub starts: it inherits the limit

# The publisher runs in a process of its own, so that it publishes as fast as
# the answers come back, whatever the subscribers' reading costs this one.
PUBLISHER = r"""
import http.client, sys, time, urllib.parse
port, token, topic, count, gap = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
pad = "x" * int(sys.argv[6])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
for i in range(count):
    body = urllib.parse.urlencode({"topic": topic, "data": "%d %d %s" % (i, time.monotonic_ns(), pad)})
    conn.request("POST", "/.well-known/mercure", body, {"Authorization": "Bearer " + token,
                                                        "Content-Type": "application/x-www-form-urlencoded"})
    r = conn.getresponse()
    text = r.read().decode()
    if r.status != 200:
        sys.exit("publish %d: %d %s" % (i, r.status, text))
    print(text, flush=True)
    if gap:
        time.sleep(gap)
"""


class Base(HubTestCase):
    hub_workers = 2

    def counters(self):
        return {name: metric(self.hub, "quicksilver_" + name)
                for name in ("deliveries_total", "stream_writes_total", "coalesce_windows_total",
                             "fanout_backlog_waits_total", "slow_subscriber_disconnects_total")}

    def run_load(self, n, updates, gap, pad=0, idle=0, stall_idle=None):
        """n subscribers (and `idle` more, also subscribed to <topic>/bulk,
        that are never read once their streams opened), `updates` publishes
        of `pad` more bytes one at a time `gap` s apart (0: flat out);
        stall_idle(bulk topic, idle subscribers) runs before the publishes;
        returns (conns, ids published, what each counter grew by)."""
        self.assertGreaterEqual(raise_fd_limit(8192), n + 100, "file descriptor limit too low")
        topic = "https://example.test/coalescing/%d" % time.monotonic_ns()
        token = subscriber_token([topic])
        req = subscribe_request(self.hub, "match=" + php_urlencode(topic), [("Authorization", "Bearer " + token)])
        sel, conns = open_subscribers(self.hub, [req], n)
        idlers = []
        try:
            bulk = topic + "/bulk"
            idle_req = subscribe_request(self.hub, "match=%s&match=%s" % (php_urlencode(topic), php_urlencode(bulk)),
                                         [("Authorization", "Bearer " + subscriber_token([topic, bulk]))])
            if idle:
                idle_sel, idlers = open_subscribers(self.hub, [idle_req], idle)
                opened = pump_subscribers(idle_sel, lambda: all(c.opened or c.eof for c in idlers), 30)
                idle_sel.close()  # read no further
                self.assertTrue(opened and not any(c.eof for c in idlers), "the idle streams did not open")
            opened = pump_subscribers(sel, lambda: all(c.opened or c.eof for c in conns), 60)
            self.assertTrue(opened, "not every stream opened in time")
            self.assertEqual(sorted({c.http.status for c in conns}), [200])
            if stall_idle:
                stall_idle(bulk, idlers)
            before = self.counters()
            proc = subprocess.Popen([sys.executable, "-c", PUBLISHER, str(self.hub.port), publisher_token(), topic,
                                     str(updates), str(gap), str(pad)], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            done = pump_subscribers(sel, lambda: all(len(c.sse.events) >= updates or c.eof for c in conns), 120)
            out, err = proc.communicate(timeout=60)
            self.assertEqual(proc.returncode, 0, err.decode())
            ids = out.decode().split()
            self.assertEqual(len(ids), updates)
            self.assertTrue(done, "%d subscribers short of %d events" %
                            (sum(len(c.sse.events) < updates for c in conns), updates))
            # Deliveries are counted when the hub hands them over: let the counters settle.
            deadline = time.time() + 5
            while self.counters()["deliveries_total"] - before["deliveries_total"] < n * updates and \
                    time.time() < deadline:
                time.sleep(0.05)
            after = self.counters()
            # No loss, no duplicate, no reordering, no stream cut.
            for i, c in enumerate(conns):
                got = [(e.id, e.data.split()[0]) for e in c.sse.events]
                self.assertEqual(got, [(uid, str(k)) for k, uid in enumerate(ids)], "subscriber %d" % i)
            self.assertFalse([i for i, c in enumerate(conns) if c.eof], "streams closed early")
            return conns, ids, {name: after[name] - before[name] for name in after}
        finally:
            for c in conns:
                c.sock.close()
            for c in idlers:
                c.sock.close()
            sel.close()


class SaturatedFanOut(Base):
    # A short dispatch_timeout (a tick every 125 ms): bytes waiting for the
    # server's own flush (a slice or a window) must never count as a stall.
    hub_args = ("--dispatch_timeout", "500ms")
    N = 400
    UPDATES = 1000

    def test_events_coalesce_under_saturation_without_loss(self):
        _, _, grew = self.run_load(self.N, self.UPDATES, 0)
        deliveries, writes = grew["deliveries_total"], grew["stream_writes_total"]
        windows = grew["coalesce_windows_total"]
        self.assertEqual(deliveries, self.N * self.UPDATES)
        self.assertGreater(windows, 0, "the workers never held their writes")
        # One write per delivery without coalescing; several events per write with it.
        self.assertGreaterEqual(deliveries / writes, 1.5, "%d deliveries in %d writes" % (deliveries, writes))
        self.assertNotIn("stalled past dispatch_timeout", self.hub.stderr())


class LowLoad(Base):
    N = 200
    UPDATES = 10

    def test_each_event_leaves_at_once_at_low_load(self):
        conns, _, grew = self.run_load(self.N, self.UPDATES, 0.1)
        deliveries, writes = grew["deliveries_total"], grew["stream_writes_total"]
        self.assertEqual(deliveries, self.N * self.UPDATES)
        self.assertEqual(grew["coalesce_windows_total"], 0,
                         "nothing may be held at 10 updates/s")
        self.assertEqual(writes, deliveries, "each event in a write of its own")
        # And at once: every subscriber reads update k soon after the first one
        # that did (the fan-out itself, on a shared machine).
        for k in range(self.UPDATES):
            times = [c.read_ns[k] for c in conns]
            spread_ms = (max(times) - min(times)) / 1e6
            self.assertLess(spread_ms, 250, "update %d reached the subscribers over %.1f ms" % (k, spread_ms))


def unsent_bytes(local_port, remote_port):
    """The send queue of the loopback TCP socket local_port -> remote_port
    (/proc/net/tcp), or None when there is none."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, remote, queues = fields[1], fields[2], fields[4]
            if int(local.split(":")[1], 16) == local_port and int(remote.split(":")[1], 16) == remote_port:
                return int(queues.split(":")[0], 16)
    return None


class FanoutBacklog(Base):
    # Answers wait for the fan-out of earlier updates (backlog 1, hundreds of
    # subscribers: large fan-outs). The idle subscriber is first sent more
    # than the kernel takes for it (big updates on a topic of its own), so
    # that its writes wait for it throughout; it must not hold anyone back:
    # if it counted, each answer would wait the full second, and the run
    # would take minutes. Nothing cuts it here (no dispatch timeout, a large
    # queue).
    hub_args = ("--fanout_backlog", "1", "--dispatch_timeout", "0", "--subscriber_queue_limit", "64MiB")
    N = 300
    UPDATES = 300
    PAD = 512
    BULK = 16          # updates of
    BULK_BYTES = 512 * 1024  # each: 8 MiB, more than a socket's largest send buffer (tcp_wmem, 4 MiB)

    def test_answers_wait_for_the_fan_out_but_not_for_a_subscriber_that_does_not_read(self):
        seen = {}

        def stall(bulk, idlers):
            port = idlers[0].sock.getsockname()[1]
            for _ in range(self.BULK):
                r = publish(self.hub, [bulk], "y" * self.BULK_BYTES)
                self.assertEqual(r.status, 200, r.text)
            # The kernel holds what it took for the idle subscriber; the rest
            # waits in the hub, behind a write the peer never takes.
            deadline = time.time() + 10
            while (unsent_bytes(self.hub.port, port) or 0) < 1024 * 1024 and time.time() < deadline:
                time.sleep(0.05)
            seen["stalled"] = unsent_bytes(self.hub.port, port)
            seen["start"] = time.monotonic()

        _, _, grew = self.run_load(self.N, self.UPDATES, 0, pad=self.PAD, idle=1, stall_idle=stall)
        took = time.monotonic() - seen["start"]
        self.assertGreater(seen["stalled"] or 0, 1024 * 1024, "the idle subscriber's socket never filled")
        self.assertGreater(grew["fanout_backlog_waits_total"], 0, "no answer waited for the fan-out")
        self.assertEqual(grew["slow_subscriber_disconnects_total"], 0)
        self.assertLess(took, 60, "publishing waited for the subscriber that does not read")
        # Every update reached the subscribers that read (run_load checks
        # them); the idle one's wait in its queue.


class CoalescingOff(Base):
    hub_args = ("--coalesce_max_delay", "0")
    N = 200
    UPDATES = 100

    def test_off_holds_nothing_even_when_saturated(self):
        _, _, grew = self.run_load(self.N, self.UPDATES, 0)
        self.assertEqual(grew["coalesce_windows_total"], 0)
        self.assertEqual(grew["deliveries_total"], self.N * self.UPDATES)


if __name__ == "__main__":
    main()
