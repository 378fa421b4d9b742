"""Several nodes, one hub: three real quicksilver processes on the redis
transport, sharing one real redis-server (Debian's, started on a free
loopback port by the test and stopped by its PID).

Publish on one node, receive on the others; private updates only where the
token allows; resume on another node through every cursor carrier, with
publishes in the gap and while resuming; one order on every node; and Redis
going away: 503 with a reason, /healthz and the metrics say so, open streams
stay open, and everything works again once Redis is back; retention trims
the stream and its id index together; kill -9 of a node under publish load
loses nothing."""
import os
import re
import signal
import socket
import sys
import threading
import time
import types
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubtest import (HUB_PATH, Hub, Publisher, PublishFlood, RedisServer, SSEClient, main, metric, php_urlencode,
                     publish, publisher_token, read_response, request, run_binary, subscriber_token, symfony_body)


def auth(topics=("*",)):
    return [("Authorization", "Bearer " + subscriber_token(list(topics)))]


class ClusterBase(unittest.TestCase):
    nodes_count = 3
    appendonly = False
    node_args = ()

    @classmethod
    def setUpClass(cls):
        cls.redis = RedisServer(appendonly=cls.appendonly)
        cls.stream = "qs-test-%d" % time.monotonic_ns()
        cls.nodes = []
        try:
            for _ in range(cls.nodes_count):
                cls.nodes.append(Hub(cls.node_args, transport="redis", redis=cls.redis, stream=cls.stream,
                                     workers=1))
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        problems = []
        for node in cls.nodes:
            rc = node.stop()
            if rc != 0:
                problems.append("node exit code %r\n%s" % (rc, node.stderr()[-4000:]))
        cls.redis.close()
        if problems:
            raise AssertionError("\n".join(problems))

    def tearDown(self):
        for i, node in enumerate(self.nodes):
            if not node.alive():
                self.fail("node %d died (exit %r)\n%s" % (i + 1, node.proc.returncode, node.stderr()[-4000:]))

    def topic(self):
        return "https://example.com/cluster/%s/%d" % (self.id().split(".")[-1], time.monotonic_ns())

    def q(self, topic):
        return "topic=" + php_urlencode(topic)


class Cluster(ClusterBase):
    def test_publish_on_one_node_reaches_every_node(self):
        topic = self.topic()
        subs = [SSEClient(node, self.q(topic), auth()) for node in self.nodes]
        try:
            for s in subs:
                self.assertEqual(s.status, 200)
            r = publish(self.nodes[0], [topic], data="from node 1")
            self.assertEqual(r.status, 200, r)
            for i, s in enumerate(subs):
                got = s.wait_events(1)
                self.assertEqual([(e.id, e.data) for e in got], [(r.text, "from node 1")], "node %d" % (i + 1))
        finally:
            for s in subs:
                s.close()

    def test_private_updates_only_to_authorized_subscribers_on_every_node(self):
        topic = self.topic()
        other = self.topic() + "/other"
        allowed = [SSEClient(node, self.q(topic), auth([topic])) for node in self.nodes[1:]]
        refused = [SSEClient(node, self.q(topic), auth([other])) for node in self.nodes[1:]]
        try:
            secret = publish(self.nodes[0], [topic], data="secret", private=True)
            self.assertEqual(secret.status, 200, secret)
            public = publish(self.nodes[0], [topic], data="public")
            self.assertEqual(public.status, 200, public)
            for s in allowed:
                self.assertEqual([e.data for e in s.wait_events(2)], ["secret", "public"])
            for s in refused:
                # The public update arriving after the private one proves the private one was withheld.
                self.assertEqual([e.data for e in s.wait_events(1)], ["public"])
                s.read_for(0.2)
                self.assertEqual([e.id for e in s.events], [public.text])
        finally:
            for s in allowed + refused:
                s.close()

    def resume_on_another_node(self, carrier):
        topic = self.topic()
        first = SSEClient(self.nodes[1], self.q(topic), auth())
        ids = [publish(self.nodes[0], [topic], data="before%d" % i).text for i in range(2)]
        seen = [e.id for e in first.wait_events(2)]
        self.assertEqual(seen, ids)
        first.close()
        # Published while the subscriber is away, on two different nodes.
        gap = [publish(self.nodes[i % 3], [topic], data="gap%d" % i).text for i in range(4)]
        headers = auth()
        query = self.q(topic)
        if carrier == "header":
            headers = headers + [("Last-Event-ID", seen[-1])]
        else:
            query += "&%s=%s" % (carrier, php_urlencode(seen[-1]))
        with SSEClient(self.nodes[2], query, headers) as again:
            self.assertEqual(again.status, 200)
            self.assertEqual(again.header("Mercure-Last-Event-ID"), seen[-1])
            self.assertEqual([e.id for e in again.wait_events(4)], gap)
            live = publish(self.nodes[1], [topic], data="live").text
            again.wait_events(5)
            again.read_for(0.3)
            self.assertEqual([e.id for e in again.events], gap + [live], "exactly what was missed, then live")

    def test_resume_on_another_node_with_the_header(self):
        self.resume_on_another_node("header")

    def test_resume_on_another_node_with_last_event_id(self):
        self.resume_on_another_node("last_event_id")

    def test_resume_on_another_node_with_legacy_lastEventID(self):
        self.resume_on_another_node("lastEventID")

    def test_resume_on_another_node_while_publishing(self):
        topic = self.topic()
        cursor = publish(self.nodes[0], [topic], data="cursor").text
        flood = PublishFlood(self.nodes[0], topic, count=150).start()
        time.sleep(0.05)
        with SSEClient(self.nodes[2], self.q(topic), auth() + [("Last-Event-ID", cursor)]) as sub:
            self.assertEqual(sub.header("Mercure-Last-Event-ID"), cursor)
            flood.join(60)
            self.assertFalse(flood.errors, flood.errors)
            sub.wait_events(len(flood.acknowledged), timeout=20)
            sub.read_for(0.3)
            self.assertEqual([e.id for e in sub.events], flood.acknowledged, "no gap, no duplicate")

    def test_one_order_on_every_node(self):
        topic = self.topic()
        subs = [SSEClient(node, self.q(topic), auth()) for node in self.nodes]
        errors = []

        def run(node, tag):
            p = Publisher(node)
            try:
                for i in range(40):
                    p.publish([topic], data="%s%d" % (tag, i))
            except Exception as e:  # reported below
                errors.append(e)
            finally:
                p.close()

        threads = [threading.Thread(target=run, args=(node, "n%d-" % i)) for i, node in enumerate(self.nodes)]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            self.assertFalse(errors, errors)
            orders = []
            for s in subs:
                s.wait_events(120, timeout=20)
                s.read_for(0.2)
                orders.append([e.id for e in s.events])
            self.assertEqual(len(orders[0]), 120)
            self.assertEqual(len(set(orders[0])), 120)
            self.assertEqual(orders[1], orders[0], "node 2 saw another order than node 1")
            self.assertEqual(orders[2], orders[0], "node 3 saw another order than node 1")
        finally:
            for s in subs:
                s.close()

    def test_unknown_id_and_earliest_on_any_node(self):
        topic = self.topic()
        ids = [publish(self.nodes[0], [topic], data="e%d" % i).text for i in range(3)]
        with SSEClient(self.nodes[1], self.q(topic), auth() + [("Last-Event-ID", "urn:uuid:nope")]) as sub:
            self.assertEqual(sub.header("Mercure-Last-Event-ID"), "earliest")
            sub.read_for(0.2)
            self.assertEqual(sub.events, [])
        with SSEClient(self.nodes[2], self.q(topic), auth() + [("Last-Event-ID", "earliest")]) as sub:
            self.assertEqual([e.id for e in sub.wait_events(3)], ids)

    def test_health_and_metrics_report_the_transport(self):
        for node in self.nodes:
            r = request(node, "GET", "/healthz")
            self.assertEqual(r.status, 200, r)
            self.assertIn("redis connected", r.text)
            self.assertEqual(metric(node, "quicksilver_redis_connected"), 1)
            self.assertEqual(metric(node, "quicksilver_redis_caught_up"), 1)


class ClusterRetention(ClusterBase):
    """history_size trims the shared stream and its id index together, in
    the publish script; every node's mirror keeps the same window."""
    nodes_count = 2
    node_args = ("--history_size", "5")

    def test_stream_and_index_are_trimmed_together(self):
        topic = self.topic()
        ids = ["urn:qs:retention:%d:%d" % (time.monotonic_ns(), i) for i in range(8)]
        for i, uid in enumerate(ids):
            r = publish(self.nodes[i % 2], [topic], data="r%d" % i, id=uid)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.text, uid)
        self.assertEqual(self.redis.call("XLEN", self.stream), 5)
        index = self.stream + ":ids"
        self.assertEqual(self.redis.call("HLEN", index), 5)
        entries = self.redis.call("XRANGE", self.stream, "-", "+")
        kept = []
        for entry_id, fields in entries:
            pairs = dict(zip(fields[::2], fields[1::2]))
            uid = pairs[b"id"]
            kept.append(uid.decode())
            # The index resolves the update id to its stream entry.
            self.assertEqual(self.redis.call("HGET", index, uid), entry_id)
        self.assertEqual(kept, ids[3:])
        for gone in ids[:3]:
            self.assertIsNone(self.redis.call("HGET", index, gone), "trimmed with the stream")
        total = sum(len(f) for _, fields in entries for f in fields)
        self.assertEqual(self.redis.call("GET", self.stream + ":bytes"), b"%d" % total)
        # Every node resumes from the oldest kept id; a trimmed id is `earliest`.
        for node in self.nodes:
            with SSEClient(node, self.q(topic), auth() + [("Last-Event-ID", ids[3])]) as sub:
                self.assertEqual(sub.header("Mercure-Last-Event-ID"), ids[3])
                self.assertEqual([e.id for e in sub.wait_events(4)], ids[4:])
            with SSEClient(node, self.q(topic), auth() + [("Last-Event-ID", ids[1])]) as sub:
                self.assertEqual(sub.header("Mercure-Last-Event-ID"), "earliest")
                sub.read_for(0.2)
                self.assertEqual(sub.events, [])


class ClusterBytesAndAge(ClusterBase):
    """history_max_bytes and history_max_age trim the shared stream too."""
    nodes_count = 1
    node_args = ("--history_max_bytes", "3000", "--history_max_age", "1s")

    def test_bytes_and_age_bounds(self):
        topic = self.topic()
        for i in range(20):
            self.assertEqual(publish(self.nodes[0], [topic], data="%02d" % i + "x" * 300).status, 200)
        length = self.redis.call("XLEN", self.stream)
        self.assertLess(length, 20)
        self.assertGreater(length, 1)
        self.assertEqual(self.redis.call("HLEN", self.stream + ":ids"), length)
        self.assertLessEqual(int(self.redis.call("GET", self.stream + ":bytes")), 3000)
        time.sleep(1.2)
        last = publish(self.nodes[0], [topic], data="after the others expired")
        self.assertEqual(last.status, 200, last)
        entries = self.redis.call("XRANGE", self.stream, "-", "+")
        self.assertEqual([dict(zip(f[::2], f[1::2]))[b"id"].decode() for _, f in entries], [last.text])
        self.assertEqual(self.redis.call("HLEN", self.stream + ":ids"), 1)


class LaggingNode(ClusterBase):
    """A subscriber that saw an update on node 1 and reconnects to node 2
    before node 2 has read it: node 2 finds the id in the stream's index in
    Redis and serves the resume once its reader has reached the entry (no
    `earliest`, no gap, no duplicate). Node 2 is made to lag by a Redis ACL
    user of its own whose XREAD is revoked for the time of the test."""
    nodes_count = 0

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.redis.call("ACL", "SETUSER", "lagging", "on", ">lagging-node-password", "~*", "&*", "+@all")
            cls.nodes.append(Hub(transport="redis", redis=cls.redis, stream=cls.stream, workers=1))
            url = "redis://lagging:lagging-node-password@127.0.0.1:%d" % cls.redis.port
            cls.nodes.append(Hub(transport="redis", redis=types.SimpleNamespace(url=url), stream=cls.stream,
                                 workers=1))
        except Exception:
            cls.tearDownClass()
            raise

    def hget_calls(self):
        stats = self.redis.call("INFO", "commandstats").decode()
        m = re.search(r"^cmdstat_hget:calls=(\d+)", stats, re.M)
        return int(m.group(1)) if m else 0

    def wait_until(self, what, cond, timeout=20):
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                self.fail("timed out waiting for " + what)
            time.sleep(0.02)

    def test_resume_on_a_node_that_has_not_read_the_id_yet(self):
        topic = self.topic()
        node1, node2 = self.nodes
        warm = publish(node1, [topic], data="warm")
        self.assertEqual(warm.status, 200, warm)
        with SSEClient(node2, self.q(topic), auth() + [("Last-Event-ID", "earliest")]) as seen:
            self.assertEqual([e.id for e in seen.wait_events(1)], [warm.text], "node 2 reads the stream")
        try:
            # Node 2's reader stops: XREAD refused (NOPERM), its connections cut.
            reconnects = metric(node2, "quicksilver_redis_reconnects_total") or 0
            self.redis.call("ACL", "SETUSER", "lagging", "-xread")
            self.redis.call("CLIENT", "KILL", "USER", "lagging")
            # Only the publish connection comes back (the reader is refused).
            self.wait_until("node 2's publish connection back",
                            lambda: (metric(node2, "quicksilver_redis_reconnects_total") or 0) > reconnects
                            and metric(node2, "quicksilver_redis_connected") == 1)
            ids = []
            for i in range(3):
                r = publish(node1, [topic], data="b%d" % i)
                self.assertEqual(r.status, 200, r)
                ids.append(r.text)
            hgets = self.hget_calls()
            sub = SSEClient(node2, self.q(topic), auth() + [("Last-Event-ID", ids[0])], wait_open=False)
            # Node 2 does not know ids[0]: it asks the index in Redis...
            self.wait_until("node 2 to look the id up in Redis", lambda: self.hget_calls() > hgets)
        finally:
            # ...and once its reader may go on, it serves the resume.
            self.redis.call("ACL", "SETUSER", "lagging", "+xread")
        with sub:
            got = sub.wait_events(2, timeout=20)
            self.assertEqual(sub.status, 200)
            self.assertEqual(sub.header("Mercure-Last-Event-ID"), ids[0])
            self.assertEqual([e.id for e in got], ids[1:])
            live = publish(node1, [topic], data="live")
            self.assertEqual(live.status, 200, live)
            sub.wait_id(live.text)
            sub.read_for(0.2)
            self.assertEqual([e.id for e in sub.events], ids[1:] + [live.text], "no gap, no duplicate")
        # An id the stream does not know is still `earliest`, at once.
        with SSEClient(node2, self.q(topic), auth() + [("Last-Event-ID", "urn:qs:never-published")]) as sub:
            self.assertEqual(sub.header("Mercure-Last-Event-ID"), "earliest")


class ClusterSubscriptionEvents(ClusterBase):
    """With `subscriptions`, a subscription's events go through the stream:
    a watcher on node 1 sees a subscription made on node 3 start and end
    (ClusterSubscriptionsApi checks what the API of every node lists)."""
    node_args = ("--subscriptions",)

    def test_events_of_a_subscription_on_node_3_reach_a_watcher_on_node_1(self):
        template = "/.well-known/mercure/subscriptions{/topic}{/subscriber}"
        topic = self.topic()
        with SSEClient(self.nodes[0], "topic=" + php_urlencode(template), auth([template])) as watcher:
            self.assertEqual(watcher.status, 200)
            sub = SSEClient(self.nodes[2], self.q(topic), auth([topic]))
            self.assertEqual(sub.status, 200)
            docs = []
            deadline = time.time() + 10
            while time.time() < deadline and not any(d.get("topic") == topic for d in docs):
                e = watcher.next_event(timeout=max(0.1, deadline - time.time()))
                if e:
                    docs.append(e.json())
            started = [d for d in docs if d.get("topic") == topic]
            self.assertEqual(len(started), 1, docs)
            self.assertIs(started[0]["active"], True)
            # Node 3 lists what its own reader has read of the stream, which
            # may come a little after node 1's: it lists it within moments.
            deadline = time.time() + 5
            while True:
                listed = request(self.nodes[2], "GET", "/.well-known/mercure/subscriptions", auth([template]))
                self.assertEqual(listed.status, 200, listed)
                if started[0]["subscriber"] in listed.text or time.time() > deadline:
                    break
                time.sleep(0.02)
            self.assertIn(started[0]["subscriber"], listed.text, "the node holding it lists it")
            sub.close()
            ended = None
            deadline = time.time() + 10
            while time.time() < deadline and ended is None:
                e = watcher.next_event(timeout=max(0.1, deadline - time.time()))
                if e and e.json().get("topic") == topic:
                    ended = e.json()
            self.assertIsNotNone(ended, "no end event on node 1")
            self.assertIs(ended["active"], False)
            self.assertEqual(ended["subscriber"], started[0]["subscriber"])


class ClusterSubscriptionsApi(ClusterBase):
    """With `subscriptions`, the API of any node lists the subscriptions of
    every node (read from the subscription events of the shared stream);
    a node killed with its subscriptions open has them ended by another node
    once its heartbeat stops, so no node keeps listing ghosts."""
    node_args = ("--subscriptions",)
    template = "/.well-known/mercure/subscriptions{/topic}{/subscriber}"

    def listed(self, node, topic):
        r = request(node, "GET", "/.well-known/mercure/subscriptions", auth([self.template]))
        self.assertEqual(r.status, 200, r)
        return [d for d in r.json()["subscriptions"] if d.get("topic") == topic]

    def wait_listed(self, topic, count, nodes, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            found = [self.listed(node, topic) for node in nodes]
            if all(len(f) == count for f in found):
                return found
            if time.monotonic() > deadline:
                self.fail("not %d subscription(s) of %s on every node: %r" % (count, topic, found))
            time.sleep(0.05)

    def test_every_node_lists_every_subscription_and_a_dead_nodes_expire(self):
        topic = self.topic()
        with SSEClient(self.nodes[0], "topic=" + php_urlencode(self.template), auth([self.template])) as watcher:
            self.assertEqual(watcher.status, 200)
            on_3 = SSEClient(self.nodes[2], self.q(topic), auth([topic]))
            on_2 = SSEClient(self.nodes[1], self.q(topic), auth([topic]))
            self.assertEqual((on_3.status, on_2.status), (200, 200))
            found = self.wait_listed(topic, 2, self.nodes)
            subscribers = {d["subscriber"] for d in found[0]}
            for f in found[1:]:
                self.assertEqual({d["subscriber"] for d in f}, subscribers, "every node lists the same ones")
            # A subscription that ends normally leaves every list.
            on_2.close()
            found = self.wait_listed(topic, 1, self.nodes)
            dead = found[0][0]["subscriber"]
            # Node 3 dies with its subscription open: another node ends it.
            self.nodes[2].kill()
            on_3.close()
            self.wait_listed(topic, 0, self.nodes[:2], timeout=40)
            ended = None
            deadline = time.monotonic() + 10
            while ended is None and time.monotonic() < deadline:
                e = watcher.next_event(timeout=max(0.1, deadline - time.monotonic()))
                if e and e.json().get("subscriber") == dead and e.json().get("active") is False:
                    ended = e.json()
            self.assertIsNotNone(ended, "no end event for the dead node's subscription")
            self.assertEqual(ended["topic"], topic)
        self.nodes[2] = Hub(self.node_args, transport="redis", redis=self.redis, stream=self.stream, workers=1)
        self.assertEqual(self.listed(self.nodes[2], topic), [], "a node started later lists no ghost")


class NodeCrash(ClusterBase):
    """kill -9 of a node under publish load: its subscribers reconnect to the
    others and miss nothing, and a node started in its place catches up."""

    def test_kill_9_a_node_under_publish_load(self):
        topic = self.topic()
        victim = SSEClient(self.nodes[2], self.q(topic), auth())
        flood = PublishFlood(self.nodes[0], topic, count=400, data="load%d").start()
        acknowledged = flood.acknowledged
        try:
            got = victim.wait_events(40, timeout=20)
            self.assertGreaterEqual(len(got), 40)
            self.nodes[2].kill()
            self.assertTrue(victim.wait_ended(10), "the killed node's stream did not end")
            before = [e.id for e in victim.events]
            # The subscriber reconnects to another node while publishes go on.
            with SSEClient(self.nodes[1], self.q(topic), auth() + [("Last-Event-ID", before[-1])]) as again:
                self.assertEqual(again.header("Mercure-Last-Event-ID"), before[-1])
                flood.join(60)
                self.assertFalse(flood.errors, flood.errors)
                self.assertGreater(len(acknowledged), len(before), "publishes went on after the kill")
                again.wait_events(len(acknowledged) - len(before), timeout=20)
                again.read_for(0.3)
                self.assertEqual(before + [e.id for e in again.events], acknowledged, "no gap, no duplicate")
        finally:
            flood.stop()
            victim.close()
        # Every acknowledged update is in the stream, in order.
        stream_ids = [dict(zip(f[::2], f[1::2]))[b"id"].decode()
                      for _, f in self.redis.call("XRANGE", self.stream, "-", "+")]
        in_topic = [i for i in stream_ids if i in set(acknowledged)]
        self.assertEqual(in_topic, acknowledged)
        # A node started in the dead one's place reads the stream and resumes too.
        self.nodes[2] = Hub(transport="redis", redis=self.redis, stream=self.stream, workers=1)
        with SSEClient(self.nodes[2], self.q(topic), auth() + [("Last-Event-ID", acknowledged[-5])]) as sub:
            self.assertEqual([e.id for e in sub.wait_events(4)], acknowledged[-4:])


class WaitReplicas(ClusterBase):
    """redis_wait_replicas: a publish is answered 200 only once a replica has
    it (WAIT), and 503 when no replica confirms within redis_wait_timeout."""
    nodes_count = 1
    node_args = ("--redis_wait_replicas", "1", "--redis_wait_timeout", "3s")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.replica = None
        try:
            cls.redis.call("CONFIG", "SET", "repl-diskless-sync-delay", "0")
            cls.replica = RedisServer(args=("--replicaof", "127.0.0.1", str(cls.redis.port)))
            deadline = time.time() + 20
            while b"master_link_status:up" not in cls.replica.call("INFO", "replication"):
                if time.time() > deadline:
                    raise RuntimeError("the replica did not sync:\n" + cls.replica.log())
                time.sleep(0.05)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.replica:
            cls.replica.close()
        super().tearDownClass()

    def test_publish_waits_for_a_replica(self):
        topic = self.topic()
        r = publish(self.nodes[0], [topic], data="replicated")
        self.assertEqual(r.status, 200, r)
        entries = self.replica.call("XRANGE", self.stream, "-", "+")
        self.assertIn(r.text.encode(), [dict(zip(f[::2], f[1::2]))[b"id"] for _, f in entries],
                      "acknowledged, so the replica has it")
        self.replica.kill()
        # The primary notices the lost replica only later; meanwhile WAIT times out.
        r = publish(self.nodes[0], [topic], data="not replicated")
        self.assertEqual(r.status, 503, r)
        self.assertIn("not replicated in time", r.text)
        self.assertGreaterEqual(metric(self.nodes[0], "quicksilver_redis_publish_failures_total"), 1)


class RedisOutage(ClusterBase):
    """Redis with appendonly yes and appendfsync always, killed (-9) and
    restarted, idle and under publish load from every node. Every wait is on
    something observable (a metric, an answer, an event), and the
    subscribers are read all along, so that a busy machine only slows the
    tests down: a subscriber left unread for dispatch_timeout would be
    disconnected as a slow one."""
    nodes_count = 2
    appendonly = True

    def setUp(self):
        # Each test starts with Redis up, whatever the one before it left.
        if self.redis.proc.poll() is not None:
            self.redis.start()

    def wait_until(self, what, cond, timeout=20, pump=()):
        """Polls cond() until true, reading the subscribers in `pump` meanwhile;
        `what` is text or a function giving it (for the failure message)."""
        deadline = time.monotonic() + timeout
        text = what if callable(what) else lambda: what
        while not cond():
            if time.monotonic() > deadline:
                self.fail("timed out waiting for " + text())
            for s in pump:
                s.read_for(0.02)
            if not pump:
                time.sleep(0.02)
        for s in pump:
            self.assertFalse(s.eof or s.http.complete, "the subscriber's stream ended while waiting for " + text())

    def wait_metric(self, node, name, value, timeout=20, pump=()):
        last = []

        def reached():
            last[:] = [metric(node, name)]
            return last[0] == value

        self.wait_until(lambda: "%s to become %r (last %r)" % (name, value, last[0]), reached, timeout, pump)

    def redis_backlog(self):
        """Bytes received by Redis' sockets that it has not read (/proc/net/tcp rx_queue)."""
        total = 0
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                local, queues, state = fields[1], fields[4], fields[3]
                if int(local.split(":")[1], 16) == self.redis.port and state == "01":
                    total += int(queues.split(":")[1], 16)
        return total

    def test_a_reset_connection_is_noticed_at_once(self):
        """A Redis killed while a publish sits unread in its socket resets the
        connection (RST, not FIN): the node must hear it from the socket, not
        from a timer seconds later, and answer the publish 503 at once."""
        topic = self.topic()
        node = self.nodes[0]
        self.assertEqual(publish(node, [topic], data="warm").status, 200)
        answers = []
        os.kill(self.redis.proc.pid, signal.SIGSTOP)
        try:
            t = threading.Thread(target=lambda: answers.append(publish(node, [topic], data="unread", timeout=30)))
            t.start()
            self.wait_until("the publish to reach Redis' socket", lambda: self.redis_backlog() > 0)
            self.redis.kill()
        finally:
            if self.redis.proc.poll() is None:
                os.kill(self.redis.proc.pid, signal.SIGCONT)
        t.join(30)
        self.assertEqual(len(answers), 1, "no answer to the publish")
        self.assertEqual(answers[0].status, 503, answers[0])
        self.assertIn("not acknowledged by the shared transport", answers[0].text)
        # hiredis fails the waiting publish before it reports the disconnection,
        # so the warning may be written just after the answer.
        lost = "publish connection to 127.0.0.1 lost (Connection reset by peer)"
        redis_log = lambda: "\n".join(line for line in node.stderr().splitlines() if "redis:" in line)
        self.wait_until(lambda: "the log to say %r (log: %s)" % (lost, redis_log()), lambda: lost in redis_log(), 2)
        self.assertNotIn("no reply to a publish in time", redis_log(), redis_log())
        self.redis.start()
        for n in self.nodes:
            self.wait_metric(n, "quicksilver_redis_connected", 1)
        self.assertEqual(publish(node, [topic], data="again").status, 200)

    def test_unreachable_redis_is_503_then_recovers(self):
        topic = self.topic()
        for n in self.nodes:
            self.wait_metric(n, "quicksilver_redis_connected", 1)
        failures = metric(self.nodes[0], "quicksilver_redis_publish_failures_total") or 0
        with SSEClient(self.nodes[1], self.q(topic), auth()) as sub:
            before = []
            for i in range(3):
                r = publish(self.nodes[0], [topic], data="b%d" % i)
                self.assertEqual(r.status, 200, r)
                before.append(r.text)
            self.assertEqual([e.id for e in sub.wait_events(3)], before)
            self.redis.kill()
            for node in self.nodes:
                self.wait_metric(node, "quicksilver_redis_connected", 0, pump=[sub])
            r = publish(self.nodes[0], [topic], data="lost")
            self.assertEqual(r.status, 503, r)
            self.assertIn("Redis", r.text)
            self.assertIn("Redis is unreachable; reconnecting", r.text)
            self.assertEqual(r.header("Retry-After"), "1", r)
            health = request(self.nodes[1], "GET", "/healthz")
            self.assertEqual(health.status, 503, health)
            self.assertIn("redis", health.text)
            ready = request(self.nodes[1], "GET", "/readyz")
            self.assertEqual(ready.status, 503, ready)
            self.assertIn("not ready: redis unreachable", ready.text)
            # The open stream stays open while Redis is away.
            sub.read_for(0.3)
            self.assertFalse(sub.eof or sub.http.complete, "the stream was closed during the outage")

            self.redis.start()
            for node in self.nodes:
                self.wait_metric(node, "quicksilver_redis_connected", 1, pump=[sub])
            self.assertGreaterEqual(metric(self.nodes[0], "quicksilver_redis_reconnects_total"), 1)
            after = publish(self.nodes[0], [topic], data="after")
            self.assertEqual(after.status, 200, after)
            # The same stream gets updates again: exactly the acknowledged ones.
            sub.wait_id(after.text, timeout=20)
            sub.read_for(0.2)
            self.assertEqual([e.id for e in sub.events], before + [after.text])
            self.assertEqual(request(self.nodes[1], "GET", "/healthz").status, 200)
            self.assertEqual(request(self.nodes[1], "GET", "/readyz").status, 200)
        # Acknowledged before the kill: still in Redis (appendfsync always).
        # A node started now knows only what Redis kept, and resumes from it.
        fresh = Hub(transport="redis", redis=self.redis, stream=self.stream, workers=1)
        try:
            with SSEClient(fresh, self.q(topic), auth() + [("Last-Event-ID", before[0])]) as again:
                self.assertEqual(again.header("Mercure-Last-Event-ID"), before[0])
                self.assertEqual([e.id for e in again.wait_events(3)], before[1:] + [after.text])
                again.read_for(0.2)
                self.assertEqual(len(again.events), 3, "nothing stored that was refused")
        finally:
            self.assertEqual(fresh.stop(), 0, fresh.stderr()[-4000:])
        self.assertEqual(metric(self.nodes[0], "quicksilver_redis_publish_failures_total") or 0, failures,
                         "a publish refused at once is not a transport failure")

    def test_kill_9_redis_under_publish_load_keeps_every_acknowledged_update(self):
        topic = self.topic()
        for n in self.nodes:
            self.wait_metric(n, "quicksilver_redis_connected", 1)
        outcomes = []  # (status, id) of every publish, in order
        errors = []
        stop = threading.Event()

        def flood(node, tag):
            p = Publisher(node)
            try:
                i = 0
                while not stop.is_set():
                    uid = "urn:qs:flood:%s:%d:%d" % (tag, time.monotonic_ns(), i)
                    status, _ = p.post([topic], data="x", id=uid)
                    outcomes.append((status, uid))
                    i += 1
                    if status != 200:
                        time.sleep(0.01)
            except Exception as e:  # reported below
                errors.append(e)
            finally:
                p.close()

        def acknowledged_since(mark):
            return sum(1 for st, _ in outcomes[mark:] if st == 200)

        sub = SSEClient(self.nodes[1], self.q(topic), auth())
        threads = [threading.Thread(target=flood, args=(node, "n%d" % i)) for i, node in enumerate(self.nodes)]
        try:
            for t in threads:
                t.start()
            self.wait_until("publishes before the kill", lambda: acknowledged_since(0) >= 20 or errors,
                            pump=[sub])
            self.redis.kill()
            for node in self.nodes:
                self.wait_metric(node, "quicksilver_redis_connected", 0, pump=[sub])
            self.wait_until("a publish refused during the outage",
                            lambda: any(st != 200 for st, _ in outcomes) or errors, pump=[sub])
            self.redis.start()
            for node in self.nodes:
                self.wait_metric(node, "quicksilver_redis_connected", 1, pump=[sub])
            mark = len(outcomes)
            self.wait_until("publishes after the restart", lambda: acknowledged_since(mark) >= 20 or errors,
                            pump=[sub])
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertFalse(errors, errors)
        statuses = {st for st, _ in outcomes}
        self.assertLessEqual(statuses, {200, 503}, "only stored (200) or refused (503)")
        acknowledged = [uid for st, uid in outcomes if st == 200]
        stream_ids = {dict(zip(f[::2], f[1::2]))[b"id"].decode()
                      for _, f in self.redis.call("XRANGE", self.stream, "-", "+")}
        missing = [uid for uid in acknowledged if uid not in stream_ids]
        self.assertEqual(missing, [], "acknowledged (200) but not in Redis after kill -9 and restart")
        # The subscriber's stream stayed open and got every acknowledged update.
        # A publish answered 503 may still have been stored (the reply was
        # lost with Redis), so count the acknowledged ones, not all events.
        try:
            self.wait_until("every acknowledged update at the subscriber",
                            lambda: set(acknowledged) <= {e.id for e in sub.events}, pump=[sub])
        finally:
            got = {e.id for e in sub.events}
            sub.close()
        self.assertEqual([uid for uid in acknowledged if uid not in got], [])


class ClusterBurst(ClusterBase):
    """Publishes that arrive together share script calls (one EVALSHA for
    several updates): each is still answered with its own id, indexed to its
    own entry, and every node delivers them in the stream's order."""
    nodes_count = 2
    N = 48

    def evalsha_calls(self):
        stats = self.redis.call("INFO", "commandstats").decode()
        m = re.search(r"cmdstat_evalsha:calls=(\d+)", stats)
        return int(m.group(1)) if m else 0

    def test_a_burst_of_publishes_keeps_ids_index_and_order(self):
        topic = self.topic()
        subs = [SSEClient(node, self.q(topic), auth()) for node in self.nodes]
        ids = ["urn:qs:burst:%d:%d" % (time.monotonic_ns(), i) for i in range(self.N)]
        token = publisher_token()
        socks = []
        try:
            calls_before = self.evalsha_calls()
            for uid in ids:
                body = symfony_body([topic], data="burst", id=uid)
                head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n"
                        "Connection: close\r\n\r\n" % (HUB_PATH, token, len(body))).encode()
                sock = socket.create_connection(self.nodes[0].addr, timeout=10)
                socks.append((sock, head + body))
            # Every request at once: the node queues them faster than Redis answers.
            for sock, data in socks:
                sock.sendall(data)
            for (sock, _), uid in zip(socks, ids):
                dec = read_response(sock)
                self.assertEqual((dec.status, bytes(dec.body).decode()), (200, uid))
            calls = self.evalsha_calls() - calls_before
            self.assertGreaterEqual(calls, 1)
            self.assertLessEqual(calls, self.N)
            # One entry per update, and the index points each id at its own entry.
            index = self.stream + ":ids"
            order = []
            for entry_id, fields in self.redis.call("XRANGE", self.stream, "-", "+"):
                uid = dict(zip(fields[::2], fields[1::2]))[b"id"].decode()
                if uid in ids:
                    order.append(uid)
                    self.assertEqual(self.redis.call("HGET", index, uid), entry_id, uid)
            self.assertEqual(sorted(order), sorted(ids), "each update once in the stream")
            for i, sub in enumerate(subs):
                sub.wait_events(self.N, timeout=20)
                sub.read_for(0.2)
                self.assertEqual([e.id for e in sub.events], order, "node %d: not the stream's order" % (i + 1))
            print("burst of %d publishes: %d script calls" % (self.N, calls), file=sys.stderr)
        finally:
            for sock, _ in socks:
                sock.close()
            for sub in subs:
                sub.close()


class ReferenceTransportUrl(ClusterBase):
    """MERCURE_TRANSPORT_URL, the reference hub's variable: a node given only
    that (no transport, no redis_url) joins the cluster of the nodes started
    with our own options; a bolt:// URL stops the start with what to use."""
    nodes_count = 1

    def test_a_node_started_from_mercure_transport_url_joins_the_cluster(self):
        joined = Hub(["--redis_stream", self.stream], transport="env", workers=1,
                     env={"MERCURE_TRANSPORT_URL": self.redis.url})
        try:
            topic = self.topic()
            with SSEClient(joined, self.q(topic), auth()) as sub:
                uid = publish(self.nodes[0], [topic], data="from node 1").text
                self.assertEqual([e.id for e in sub.wait_events(1)], [uid])
            uid = publish(joined, [topic], data="from the joined node").text
            with SSEClient(self.nodes[0], self.q(topic), auth() + [("Last-Event-ID", "earliest")]) as sub:
                self.assertIn(uid, [e.id for e in sub.wait_events(2)])
        finally:
            self.assertEqual(joined.stop(), 0, joined.stderr()[-3000:])

    def test_a_bolt_url_is_refused_with_what_to_use(self):
        r = run_binary(["--listen", "127.0.0.1:0"], env={"MERCURE_TRANSPORT_URL": "bolt:///data/mercure.db"})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"MERCURE_TRANSPORT_URL", r.stderr)
        self.assertIn(b"use transport lmdb with history_path", r.stderr)


if __name__ == "__main__":
    main()
