"""Draining on SIGTERM: /readyz answers 503 while the hub drains, new
connections are refused, requests on open connections are still served, and
event streams end spread over drain_timeout; a thousand subscribers drained
that way resume without loss from the same LMDB history once the hub is
started again."""
import http.client
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hubtest  # noqa: E402
from hubtest import (open_subscribers, php_urlencode, pump_subscribers, raise_fd_limit,  # noqa: E402
                     subscribe_request, subscriber_token)

raise_fd_limit(8192)  # before a hub starts: it inherits the limit


def wait_log(hub, text, timeout=10):
    deadline = time.time() + timeout
    while text not in hub.stderr():
        if time.time() > deadline:
            raise AssertionError("no %r in the log:\n%s" % (text, hub.stderr()[-3000:]))
        time.sleep(0.02)


class KeepAlive:
    """One HTTP/1.1 keep-alive connection, opened before the drain."""

    def __init__(self, hub):
        self.conn = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=10)

    def get(self, path, headers=None):
        self.conn.request("GET", path, headers=headers or {})
        r = self.conn.getresponse()
        return r.status, r.read().decode()

    def publish(self, topic, data):
        body = "topic=%s&data=%s" % (php_urlencode(topic), php_urlencode(data))
        self.conn.request("POST", hubtest.HUB_PATH, body=body,
                          headers={"Authorization": "Bearer " + hubtest.publisher_token(),
                                   "Content-Type": "application/x-www-form-urlencoded"})
        r = self.conn.getresponse()
        return r.status, r.read().decode()

    def close(self):
        self.conn.close()


class ReadyDuringDrain(unittest.TestCase):
    def test_readyz_flips_during_a_drain(self):
        hub = hubtest.Hub(args=["--drain_timeout", "3s"])
        self.addCleanup(hub.kill)
        topic = "https://example.test/drain/ready"
        client = KeepAlive(hub)
        self.addCleanup(client.close)
        self.assertEqual(client.get("/readyz"), (200, "ready\n"))
        sub = hubtest.SSEClient(hub, "topic=" + php_urlencode(topic),
                                [("Authorization", "Bearer " + subscriber_token([topic]))])
        self.addCleanup(sub.close)
        self.assertEqual(sub.status, 200)

        started = time.time()
        hub.send_signal(signal.SIGTERM)
        wait_log(hub, "draining: 1 event streams end over 3000 ms")
        status, text = client.get("/readyz")
        self.assertEqual(status, 503, text)
        self.assertIn("draining", text)
        # Liveness is another question: the process is fine.
        self.assertEqual(client.get("/healthz"), (200, "ok\n"))
        # No new connection, no new subscription; publishes are still answered.
        with self.assertRaises(OSError):
            socket.create_connection(hub.addr, timeout=2).close()
        status, text = client.get(hubtest.HUB_PATH + "?topic=x")
        self.assertEqual(status, 503, text)
        self.assertIn("draining", text)
        status, update_id = client.publish(topic, "during the drain")
        self.assertEqual(status, 200, update_id)
        self.assertEqual([e.data for e in sub.wait_events(1)], ["during the drain"])
        # The one stream ends cleanly within the drain (its last chunk), then the hub exits 0.
        self.assertTrue(sub.wait_ended(timeout=10))
        self.assertTrue(sub.http.complete, "the stream did not end cleanly")
        self.assertLess(time.time() - started, 3.0 + 2.0)
        self.assertEqual(hub.wait_exit(15), 0, hub.stderr()[-3000:])


def pump(sel, until, timeout):
    """Reads the subscribers; a stream that ends cleanly (or a connection
    that ends) is closed and its end time noted."""
    return pump_subscribers(sel, until, timeout, tick=0.05, end_on_complete=True)


class ThousandSubscribersDrain(unittest.TestCase):
    N = 1000
    DRAIN_S = 2.0

    def connect_all(self, hub, topic, last_ids=None):
        token = subscriber_token([topic])
        requests = []
        for i in range(self.N if last_ids is not None else 1):
            headers = [("Authorization", "Bearer " + token)]
            if last_ids is not None:
                headers.append(("Last-Event-ID", last_ids[i]))
            requests.append(subscribe_request(hub, "topic=" + php_urlencode(topic), headers))
        sel, subs = open_subscribers(hub, requests, self.N)

        def is_open(s):
            return s.http.status == 200 and s.opened
        self.assertTrue(pump(sel, lambda: all(is_open(s) for s in subs), 60),
                        "%d of %d subscriptions open" % (sum(is_open(s) for s in subs), self.N))
        return sel, subs

    def test_a_thousand_subscribers_drain_and_resume_without_loss(self):
        self.assertGreaterEqual(raise_fd_limit(8192), self.N + 200, "file descriptor limit too low")
        tmp = tempfile.mkdtemp(prefix="qs-drain-")
        self.addCleanup(shutil.rmtree, tmp, True)
        history = os.path.join(tmp, "history.lmdb")
        topic = "https://example.test/drain/%d" % time.monotonic_ns()

        hub = hubtest.Hub(args=["--drain_timeout", "%dms" % (self.DRAIN_S * 1000), "--lmdb_map_size", "64MiB"],
                          history=history)
        self.addCleanup(hub.kill)
        sel, subs = self.connect_all(hub, topic)
        publisher = KeepAlive(hub)
        acknowledged = []
        for i in range(10):
            status, update_id = publisher.publish(topic, "before %d" % i)
            self.assertEqual(status, 200, update_id)
            acknowledged.append(update_id)
        self.assertTrue(pump(sel, lambda: all(len(s.sse.events) >= 10 for s in subs), 60),
                        "not every subscriber got the first updates")

        # SIGTERM; updates keep coming while the streams end a few at a time.
        started = time.time()
        hub.send_signal(signal.SIGTERM)
        i = 0
        while any(s.ended_at is None for s in subs) and time.time() - started < self.DRAIN_S + 10:
            try:
                status, update_id = publisher.publish(topic, "during %d" % i)
            except (OSError, http.client.HTTPException):
                break  # the drain is over: the hub closed the publisher's connection
            if status == 200:
                acknowledged.append(update_id)
            i += 1
            pump(sel, lambda: False, 0.05)
        self.assertTrue(pump(sel, lambda: all(s.ended_at is not None for s in subs), 15),
                        "%d streams still open after the drain" % sum(s.ended_at is None for s in subs))
        self.assertEqual(hub.wait_exit(30), 0, hub.stderr()[-3000:])
        publisher.close()
        self.assertGreater(i, 5, "too few publishes during the drain to tell anything")

        # Every stream ended cleanly, and the ends are spread over the drain.
        self.assertEqual([s for s in subs if not s.http.complete], [], "streams that did not end cleanly")
        ends = sorted(s.ended_at - started for s in subs)
        span = ends[-1] - ends[0]
        self.assertGreater(span, 0.5 * self.DRAIN_S, "closes not spread: %.3f s .. %.3f s" % (ends[0], ends[-1]))
        self.assertLess(ends[-1], self.DRAIN_S + 3.0, "the drain overran: last close at %.3f s" % ends[-1])
        busiest = max(sum(1 for e in ends if t <= e < t + 0.1) for t in ends)
        self.assertLess(busiest, 0.3 * self.N, "%d closes within 100 ms" % busiest)
        half = ends[self.N // 2] - ends[0]
        self.assertGreater(half, 0.2 * self.DRAIN_S, "half of the streams closed within %.3f s" % half)

        # Started again on the same history: each subscriber resumes from its last event id.
        first_life = [[e.id for e in s.sse.events] for s in subs]
        hub2 = hubtest.Hub(args=["--lmdb_map_size", "64MiB"], history=history)
        self.addCleanup(hub2.kill)
        sel2, subs2 = self.connect_all(hub2, topic, last_ids=[ids[-1] for ids in first_life])
        want = set(acknowledged)

        def caught_up():
            return all(want <= set(first + [e.id for e in s.sse.events]) for first, s in zip(first_life, subs2))
        self.assertTrue(pump(sel2, caught_up, 60), "subscribers missing acknowledged updates after the restart")
        for first, s in zip(first_life, subs2):
            ids = first + [e.id for e in s.sse.events]
            self.assertEqual(len(ids), len(set(ids)), "an update delivered twice")
            # In publication order: the acknowledged ids appear in the order they were answered.
            seen = [x for x in ids if x in want]
            self.assertEqual(seen, acknowledged)
        for s in subs2:
            s.sock.close()
        self.assertEqual(hub2.stop(), 0, hub2.stderr()[-3000:])


if __name__ == "__main__":
    unittest.main(verbosity=2)
