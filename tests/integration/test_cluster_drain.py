"""Draining one node of a cluster: three quicksilver processes on one real
redis-server; subscribers on node 1, a publisher on node 3 that never stops.
SIGTERM node 1: it ends its streams a few at a time over drain_timeout, each
subscriber reconnects to node 2 with the last id it got, and gets exactly
what it missed (no gap, no duplicate, publication order) while the publishes
go on. Its own file so that the cluster suite stays within its time limit."""
import os
import select
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubtest import Hub, PublishFlood, SSEClient, main  # noqa: E402
from test_cluster import ClusterBase, auth  # noqa: E402


def pump(clients, seconds):
    """Reads whatever the clients have for about `seconds`, one select at a time."""
    deadline = time.time() + seconds
    while True:
        live = [c for c in clients if not (c.eof or c.http.complete)]
        left = deadline - time.time()
        if not live or left <= 0:
            return
        readable, _, _ = select.select([c.sock for c in live], [], [], min(left, 0.05))
        for c in live:
            if c.sock in readable:
                c.read_for(0.002)


class DrainToAnotherNode(ClusterBase):
    N = 30
    DRAIN_MS = 2000
    node_args = ("--drain_timeout", "%dms" % DRAIN_MS)

    def test_subscribers_of_a_draining_node_resume_on_another_without_gap(self):
        topic = self.topic()
        subs = [SSEClient(self.nodes[0], self.q(topic), auth()) for _ in range(self.N)]
        moved = {}
        flood = PublishFlood(self.nodes[2], topic, data="drain%d", pause=0.002).start()
        acknowledged = flood.acknowledged
        try:
            deadline = time.time() + 20
            while min(len(s.events) for s in subs) < 5 and time.time() < deadline:
                pump(subs, 0.1)
            self.assertGreaterEqual(min(len(s.events) for s in subs), 5, "updates before the drain")

            published_at_sigterm = len(acknowledged)
            started = time.time()
            self.nodes[0].send_signal(signal.SIGTERM)
            while len(moved) < self.N and time.time() - started < self.DRAIN_MS / 1000 + 10:
                pump([s for i, s in enumerate(subs) if i not in moved] + list(moved.values()), 0.05)
                for i, s in enumerate(subs):
                    if i in moved or not (s.eof or s.http.complete):
                        continue
                    self.assertTrue(s.http.complete, "stream %d did not end cleanly" % i)
                    last = s.events[-1].id
                    again = SSEClient(self.nodes[1], self.q(topic), auth() + [("Last-Event-ID", last)])
                    self.assertEqual(again.status, 200)
                    self.assertEqual(again.header("Mercure-Last-Event-ID"), last)
                    moved[i] = again
            self.assertEqual(len(moved), self.N, "streams of node 1 still open after its drain")
            drain_s = time.time() - started
            published_during_drain = len(acknowledged) - published_at_sigterm
            self.assertEqual(self.nodes[0].wait_exit(15), 0, self.nodes[0].stderr()[-3000:])
            # The closes are spread over the drain, with publishes all along.
            self.assertGreater(drain_s, 0.5 * self.DRAIN_MS / 1000, "the drain did not spread the closes")
            self.assertGreater(published_during_drain, 20, "too few publishes during the drain")

            pump(list(moved.values()), 0.3)
        finally:
            flood.stop()
        try:
            self.assertFalse(flood.errors, flood.errors)
            for i, s in enumerate(subs):
                first = [e.id for e in s.events]
                again = moved[i]
                again.wait_events(len(acknowledged) - len(first), timeout=20)
                again.read_for(0.2)
                ids = first + [e.id for e in again.events]
                self.assertEqual(len(ids), len(set(ids)), "subscriber %d got an update twice" % i)
                self.assertEqual(ids, acknowledged, "subscriber %d: a gap or another order" % i)
        finally:
            for s in subs + list(moved.values()):
                s.close()
            # The cluster's teardown expects three live nodes: node 1 comes back.
            self.nodes[0] = Hub(self.node_args, transport="redis", redis=self.redis, stream=self.stream, workers=1)


if __name__ == "__main__":
    main()
