"""Fan-out: a thousand concurrent subscribers each get every update in order;
a subscriber that never reads neither blocks the others nor grows without
bound (it is disconnected past subscriber_queue_limit); heartbeats."""
import os
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubtest import (HubTestCase, Publisher, SSEClient, main, metric, open_subscribers, php_urlencode,
                     pump_subscribers, raise_fd_limit, subscribe_request, subscriber_token)

raise_fd_limit(8192)  # before the hub starts: it inherits the limit


class ThousandSubscribers(HubTestCase):
    hub_workers = 2
    N = 1000
    UPDATES = 50

    def test_every_subscriber_gets_every_update_in_order(self):
        self.assertGreaterEqual(raise_fd_limit(8192), self.N + 100, "file descriptor limit too low")
        topic = "https://example.test/rooms/%d" % time.monotonic_ns()
        token = subscriber_token([topic])
        legacy = subscribe_request(self.hub, "topic=" + php_urlencode(topic), [("Cookie", "mercureAuthorization="
                                                                                + token)])
        modern = subscribe_request(self.hub, "match=" + php_urlencode(topic), [("Authorization", "Bearer " + token)])
        sel, conns = open_subscribers(self.hub, [modern, legacy], self.N)
        try:
            opened = pump_subscribers(sel, lambda: all(c.opened or c.eof for c in conns), 60)
            statuses = {}
            for c in conns:
                statuses[c.http.status] = statuses.get(c.http.status, 0) + 1
            self.assertTrue(opened, "not every stream opened in time: statuses %r" % statuses)
            self.assertEqual(statuses, {200: self.N})
            self.assertEqual(metric(self.hub, "mercure_subscribers_connected"), self.N)

            published = []
            errors = []

            def publisher():
                p = Publisher(self.hub)
                try:
                    for i in range(self.UPDATES):
                        published.append(p.publish([topic], data='{"n":%d}' % i, private=(i % 5 == 0)))
                except Exception as e:  # reported below
                    errors.append(e)
                finally:
                    p.close()

            t = threading.Thread(target=publisher)
            t.start()
            done = pump_subscribers(sel, lambda: all(len(c.sse.events) >= self.UPDATES or c.eof for c in conns), 90)
            t.join(30)
            self.assertFalse(errors, errors)
            self.assertEqual(len(published), self.UPDATES)
            short = [i for i, c in enumerate(conns) if len(c.sse.events) < self.UPDATES]
            self.assertTrue(done and not short, "%d subscribers short of %d events (first: #%s with %s)"
                            % (len(short), self.UPDATES, short[:1],
                               [len(conns[i].sse.events) for i in short[:1]]))
            want = [(uid, '{"n":%d}' % i) for i, uid in enumerate(published)]
            for i, c in enumerate(conns):
                got = [(e.id, e.data) for e in c.sse.events]
                self.assertEqual(got, want, "subscriber %d" % i)
            self.assertFalse([i for i, c in enumerate(conns) if c.eof], "streams closed early")
        finally:
            for c in conns:
                c.sock.close()
            sel.close()
        # The hub notices the departures.
        deadline = time.time() + 10
        while metric(self.hub, "mercure_subscribers_connected") != 0 and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(metric(self.hub, "mercure_subscribers_connected"), 0)


class ConcurrentPublishers(HubTestCase):
    hub_workers = 2

    def test_every_subscriber_sees_one_order_and_replay_agrees(self):
        topic = "order/%d" % time.monotonic_ns()
        q = "topic=" + php_urlencode(topic)
        auth = [("Authorization", "Bearer " + subscriber_token([topic]))]
        subs = [SSEClient(self.hub, q, auth) for _ in range(20)]
        per_thread = 100
        published = {0: [], 1: [], 2: []}
        errors = []

        def publisher(k):
            p = Publisher(self.hub)
            try:
                for i in range(per_thread):
                    published[k].append(p.publish([topic], data="%d-%d" % (k, i), private=(i % 3 == 0)))
            except Exception as e:  # reported below
                errors.append(e)
            finally:
                p.close()

        threads = [threading.Thread(target=publisher, args=(k,)) for k in published]
        try:
            for t in threads:
                t.start()
            total = per_thread * len(published)
            seqs = []
            for s in subs:
                s.wait_events(total, timeout=30)
            for t in threads:
                t.join(30)
            self.assertFalse(errors, errors)
            for i, s in enumerate(subs):
                seqs.append([e.id for e in s.events])
                self.assertEqual(len(seqs[-1]), total, "subscriber %d" % i)
            for i, seq in enumerate(seqs[1:], 1):
                self.assertEqual(seq, seqs[0], "subscriber %d saw another order than subscriber 0" % i)
            # Each publisher's own updates keep their order.
            for k, ids in published.items():
                self.assertEqual([x for x in seqs[0] if x in set(ids)], ids, "publisher %d" % k)
            with SSEClient(self.hub, q + "&lastEventID=earliest", auth) as replay:
                replay.wait_events(total, timeout=20)
                self.assertEqual([e.id for e in replay.events], seqs[0], "replay order differs from live order")
        finally:
            for s in subs:
                s.close()


class ConcurrentPublishersLmdb(ConcurrentPublishers):
    hub_transport = "lmdb"


class SlowSubscriber(HubTestCase):
    hub_args = ("--subscriber_queue_limit", "64KiB")
    # ~9.4 MiB in all: more than the kernel can buffer for the stalled socket
    # (tcp_wmem max is typically 4 MiB), so the hub's own queue must overflow.
    UPDATES = 600
    SIZE = 16 * 1024
    WINDOW = 2  # the publisher never runs more than this ahead of the readers (3 x 16KiB < 64KiB)

    def test_a_subscriber_that_never_reads_does_not_stall_the_others(self):
        topic = "slow/%d" % time.monotonic_ns()
        q = "topic=" + php_urlencode(topic)
        auth = [("Authorization", "Bearer " + subscriber_token([topic]))]
        slow = SSEClient(self.hub, q, auth, rcvbuf=4096)
        readers = [SSEClient(self.hub, q, auth) for _ in range(3)]
        self.assertEqual(metric(self.hub, "mercure_subscribers_connected"), 4)
        before = metric(self.hub, "quicksilver_slow_subscriber_disconnects_total") or 0
        published = []
        errors = []
        stop = threading.Event()

        def publisher():
            # Paced by the readers (they are Python threads sharing one GIL; the
            # hub would rightly cut them off too if they fell 64KiB behind).
            p = Publisher(self.hub)
            try:
                for i in range(self.UPDATES):
                    limit = time.time() + 20
                    while min(len(r.events) for r in readers) < i - self.WINDOW and not stop.is_set():
                        if time.time() > limit:
                            raise AssertionError("readers stuck at %r events, publishing #%d"
                                                 % ([len(r.events) for r in readers], i))
                        time.sleep(0.001)
                    published.append(p.publish([topic], data=("%05d" % i) + "x" * (self.SIZE - 5)))
            except Exception as e:  # reported below
                errors.append(e)
            finally:
                p.close()

        got = {}

        def read(i, r):
            limit = time.time() + 60
            while len(r.events) < self.UPDATES and time.time() < limit and not r.eof and not r.http.complete:
                r.wait_events(self.UPDATES, timeout=0.5)
            got[i] = [e.id for e in r.events]

        threads = [threading.Thread(target=read, args=(i, r)) for i, r in enumerate(readers)]
        for th in threads:
            th.start()
        t = threading.Thread(target=publisher)
        t.start()
        for th in threads:
            th.join(70)
        stop.set()
        t.join(30)
        try:
            self.assertFalse(errors, errors)
            self.assertEqual(len(published), self.UPDATES)
            for i, r in enumerate(readers):
                self.assertEqual(len(got.get(i) or []), self.UPDATES, "reader %d got %d of %d (ended: %s)\n%s"
                                 % (i, len(got.get(i) or []), self.UPDATES, r.eof or r.http.complete,
                                    self.hub.stderr()[-2000:]))
                self.assertEqual(got[i], published, "reader %d" % i)
            # The slow one is cut off, and counted.
            deadline = time.time() + 15
            while time.time() < deadline:
                if (metric(self.hub, "quicksilver_slow_subscriber_disconnects_total") or 0) > before:
                    break
                time.sleep(0.1)
            self.assertEqual(metric(self.hub, "quicksilver_slow_subscriber_disconnects_total"), before + 1)
            self.assertEqual(metric(self.hub, "mercure_subscribers_connected"), 3)
            # What it did get is a clean prefix, then the stream ends.
            # (The response ends with its last chunk; the connection may stay open for keep-alive.)
            self.assertTrue(slow.wait_ended(timeout=20), "the slow subscriber's stream did not end")
            ids = [e.id for e in slow.events]
            self.assertLess(len(ids), self.UPDATES, "the slow subscriber was not cut off")
            self.assertEqual(ids, published[:len(ids)], "the slow subscriber's events are not a prefix")
            for e in slow.events:
                self.assertEqual(len(e.data), self.SIZE)
        finally:
            slow.close()
            for r in readers:
                r.close()


class Heartbeat(HubTestCase):
    hub_args = ("--heartbeat", "1s")

    def test_heartbeat_comments_during_silence(self):
        topic = "hb/%d" % time.monotonic_ns()
        with SSEClient(self.hub, "topic=" + php_urlencode(topic),
                       [("Authorization", "Bearer " + subscriber_token([topic]))]) as sub:
            self.assertEqual(sub.status, 200)
            t0 = time.time()
            n = sub.wait_comments(4, timeout=6)  # the opening one + 3 heartbeats
            elapsed = time.time() - t0
            self.assertGreaterEqual(n, 4, "only %d comments in %.1fs" % (n, elapsed))
            self.assertGreater(elapsed, 1.5, "heartbeats came faster than configured (%.1fs)" % elapsed)
            self.assertEqual(sub.body_bytes(), b":\n" * n, "heartbeat is the comment ':\\n'")
            self.assertEqual(sub.events, [])
            self.assertFalse(sub.eof)

    def test_updates_reset_the_heartbeat_timer(self):
        topic = "hb2/%d" % time.monotonic_ns()
        with SSEClient(self.hub, "topic=" + php_urlencode(topic),
                       [("Authorization", "Bearer " + subscriber_token([topic]))]) as sub:
            p = Publisher(self.hub)
            try:
                for i in range(8):  # an update every 0.4 s: never a full second of silence
                    p.publish([topic], data="tick%d" % i)
                    sub.read_for(0.4)
            finally:
                p.close()
            self.assertEqual(len(sub.events), 8)
            self.assertEqual(sub.sse.comments, 1, "heartbeats sent although the stream was never silent for 1s")


if __name__ == "__main__":
    main()
