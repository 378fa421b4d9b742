"""Reconnection from history: every cursor carrier, earliest, unknown ids,
private updates re-checked on replay, and a resume racing with publishes.
Runs against every history store (memory, lmdb, and one node on the redis
transport; tests/integration/test_cluster.py has the several-node cases)."""
import os
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubtest import (HubTestCase, Publisher, SSEClient, main, metric, php_urlencode, publish,
                     subscriber_token)


class ReconnectBase(HubTestCase):
    def auth(self, topics=("*",)):
        return [("Authorization", "Bearer " + subscriber_token(list(topics)))]

    def publish_n(self, topic, n, prefix="u"):
        ids = []
        for i in range(n):
            r = publish(self.hub, [topic], data="%s%d" % (prefix, i))
            self.assertEqual(r.status, 200, r)
            ids.append(r.text)
        return ids

    def q(self, topic, key="topic"):
        return "%s=%s" % (key, php_urlencode(topic))

    def check_resume(self, topic, ids, sub, cursor):
        """sub resumed after ids[1]: gets ids[2:], then live updates, nothing twice."""
        self.assertEqual(sub.status, 200, sub.body_bytes())
        self.assertEqual(sub.header("Mercure-Last-Event-ID"), cursor)
        got = sub.wait_events(3)
        self.assertEqual([e.id for e in got], ids[2:], "replay after %s" % cursor)
        self.assertEqual([e.data for e in got], ["u2", "u3", "u4"])
        live = self.publish_n(topic, 2, prefix="live")
        got = sub.wait_events(5)
        self.assertEqual([e.id for e in got], ids[2:] + live)
        sub.read_for(0.3)
        self.assertEqual([e.id for e in sub.events], ids[2:] + live, "no duplicate, nothing extra")

    def test_last_event_id_header(self):
        topic = self.topic()
        ids = self.publish_n(topic, 5)
        with SSEClient(self.hub, self.q(topic), self.auth() + [("Last-Event-ID", ids[1])]) as sub:
            self.assertEqual(sub.header("Last-Event-ID"), ids[1], "legacy topic= response header")
            self.check_resume(topic, ids, sub, ids[1])

    def test_last_event_id_query(self):
        topic = self.topic()
        ids = self.publish_n(topic, 5)
        with SSEClient(self.hub, self.q(topic) + "&last_event_id=" + php_urlencode(ids[1]), self.auth()) as sub:
            self.assertEqual(sub.header("Last-Event-ID"), ids[1])
            self.check_resume(topic, ids, sub, ids[1])

    def test_legacy_lastEventID_query(self):
        topic = self.topic()
        ids = self.publish_n(topic, 5)
        with SSEClient(self.hub, self.q(topic) + "&lastEventID=" + php_urlencode(ids[1]), self.auth()) as sub:
            self.assertEqual(sub.header("Last-Event-ID"), ids[1])
            self.check_resume(topic, ids, sub, ids[1])

    def test_twig_mercure_url_with_last_event_id(self):
        """symfony Twig mercure(topics, {lastEventId}) appends lastEventID= and Last-Event-ID= (rawurlencode)."""
        topic = self.topic()
        ids = self.publish_n(topic, 5)
        cursor = php_urlencode(ids[1]).replace("+", "%20")
        q = "topic=%s&lastEventID=%s&Last-Event-ID=%s" % (php_urlencode(topic).replace("+", "%20"), cursor, cursor)
        with SSEClient(self.hub, q, [("Cookie", "mercureAuthorization=" + subscriber_token([topic]))]) as sub:
            self.check_resume(topic, ids, sub, ids[1])

    def test_match_subscription_with_cursor(self):
        topic = self.topic()
        ids = self.publish_n(topic, 5)
        with SSEClient(self.hub, self.q(topic, "match") + "&last_event_id=" + php_urlencode(ids[1]),
                       self.auth()) as sub:
            self.check_resume(topic, ids, sub, ids[1])

    def test_cursor_precedence(self):
        topic = self.topic()
        ids = self.publish_n(topic, 5)
        # Header beats both queries.
        q = self.q(topic) + "&last_event_id=%s&lastEventID=%s" % (php_urlencode(ids[0]), php_urlencode(ids[0]))
        with SSEClient(self.hub, q, self.auth() + [("Last-Event-ID", ids[3])]) as sub:
            self.assertEqual(sub.header("Mercure-Last-Event-ID"), ids[3])
            self.assertEqual([e.id for e in sub.wait_events(1)], ids[4:])
            sub.read_for(0.2)
            self.assertEqual([e.id for e in sub.events], ids[4:])
        # last_event_id beats lastEventID.
        q = self.q(topic) + "&lastEventID=%s&last_event_id=%s" % (php_urlencode(ids[0]), php_urlencode(ids[2]))
        with SSEClient(self.hub, q, self.auth()) as sub:
            self.assertEqual(sub.header("Mercure-Last-Event-ID"), ids[2])
            self.assertEqual([e.id for e in sub.wait_events(2)], ids[3:])

    def test_earliest(self):
        topic = self.topic()
        ids = self.publish_n(topic, 5)
        other = self.topic("other")
        self.publish_n(other, 2)
        for carrier in ("header", "last_event_id", "lastEventID"):
            headers = self.auth()
            q = self.q(topic)
            if carrier == "header":
                headers.append(("Last-Event-ID", "earliest"))
            else:
                q += "&%s=earliest" % carrier
            with SSEClient(self.hub, q, headers) as sub:
                self.assertEqual(sub.header("Mercure-Last-Event-ID"), "earliest", carrier)
                self.assertEqual(sub.header("Last-Event-ID"), "earliest", carrier)
                self.assertEqual([e.id for e in sub.wait_events(5)], ids, carrier)
                sub.read_for(0.2)
                self.assertEqual(len(sub.events), 5, "only the subscribed topic (%s): %r" % (carrier, sub.events))

    def test_unknown_id_replays_nothing(self):
        topic = self.topic()
        self.publish_n(topic, 3)
        with SSEClient(self.hub, self.q(topic), self.auth() + [("Last-Event-ID", "urn:uuid:not-a-known-id")]) as sub:
            self.assertEqual(sub.status, 200)
            self.assertEqual(sub.header("Mercure-Last-Event-ID"), "earliest")
            live = self.publish_n(topic, 1, prefix="live")
            self.assertEqual([e.id for e in sub.wait_events(1)], live)
            sub.read_for(0.2)
            self.assertEqual([e.id for e in sub.events], live)

    def test_duplicate_ids_resolve_to_the_earliest(self):
        topic = self.topic()
        dup = "dup-%d" % time.monotonic_ns()
        first = publish(self.hub, [topic], data="d0", id=dup).text
        mid = publish(self.hub, [topic], data="d1").text
        second = publish(self.hub, [topic], data="d2", id=dup).text
        last = publish(self.hub, [topic], data="d3").text
        self.assertEqual((first, second), (dup, dup))
        with SSEClient(self.hub, self.q(topic), self.auth() + [("Last-Event-ID", dup)]) as sub:
            self.assertEqual(sub.header("Mercure-Last-Event-ID"), dup)
            self.assertEqual([(e.id, e.data) for e in sub.wait_events(3)], [(mid, "d1"), (dup, "d2"), (last, "d3")])

    def test_no_cursor_no_cursor_header(self):
        topic = self.topic()
        with SSEClient(self.hub, self.q(topic), self.auth()) as sub:
            self.assertEqual(sub.status, 200)
            self.assertIsNone(sub.header("Mercure-Last-Event-ID"), sub.http.headers)
            self.assertIsNone(sub.header("Last-Event-ID"), sub.http.headers)

    def test_private_updates_replayed_only_to_authorized_tokens(self):
        topic = self.topic("access")
        p1 = publish(self.hub, [topic], data="public 1").text
        secret = publish(self.hub, [topic], data="secret", private=True).text
        secret_alt = publish(self.hub, ["elsewhere/%s" % topic, topic], data="secret alt", private=True).text
        p2 = publish(self.hub, [topic], data="public 2").text
        allowed = [p1, secret, secret_alt, p2]
        with SSEClient(self.hub, self.q(topic), self.auth([topic]) + [("Last-Event-ID", "earliest")]) as sub:
            self.assertEqual([e.id for e in sub.wait_events(4)], allowed)
        # A token for another topic: the public ones only, not even the secret ids.
        with SSEClient(self.hub, self.q(topic), self.auth(["access/0"]) + [("Last-Event-ID", "earliest")]) as sub:
            sub.wait_events(2)
            sub.read_for(0.3)
            self.assertEqual([e.id for e in sub.events], [p1, p2])
            self.assertNotIn(secret.encode(), sub.body_bytes())
        # Resuming after p1 with a token that may not see the private ones.
        with SSEClient(self.hub, self.q(topic), self.auth(["access/0"]) + [("Last-Event-ID", p1)]) as sub:
            self.assertEqual(sub.header("Mercure-Last-Event-ID"), p1)
            sub.wait_events(1)
            sub.read_for(0.3)
            self.assertEqual([e.id for e in sub.events], [p2])
            self.assertNotIn(b"secret", sub.body_bytes())
        # Resuming from a private id (learnt earlier, token since narrowed): nothing private follows.
        with SSEClient(self.hub, self.q(topic), self.auth(["access/0"]) + [("Last-Event-ID", secret)]) as sub:
            self.assertIn(sub.header("Mercure-Last-Event-ID"), (secret, "earliest"))
            sub.wait_events(1)
            sub.read_for(0.3)
            self.assertEqual([e.id for e in sub.events][-1:], [p2])
            self.assertNotIn(b"secret", sub.body_bytes())
            self.assertNotIn(secret_alt.encode(), sub.body_bytes())

    def test_resume_racing_with_publishes(self):
        """A thread publishes 200 updates back to back while the subscriber
        drops its connection every 25 events and resumes from the last id it
        received: the union of all connections has every id once, in order."""
        topic = self.topic("race")
        total = 200
        published = []
        errors = []

        def publisher():
            p = Publisher(self.hub)
            try:
                for i in range(total):
                    published.append(p.publish([topic], data="r%d" % i))
            except Exception as e:  # reported below
                errors.append(e)
            finally:
                p.close()

        received = []
        raced = []  # publishes acknowledged while a resume was being set up
        sub = SSEClient(self.hub, self.q(topic), self.auth())
        thread = threading.Thread(target=publisher)
        thread.start()
        deadline = time.time() + 40
        try:
            while time.time() < deadline:
                target = len(sub.events) + 25
                if len(published) == total:
                    if not (received and received[-1] == published[-1]):
                        sub.wait_id(published[-1], timeout=10)
                    sub.read_for(0.3)
                    received += [e.id for e in sub.events]
                    break
                limit = time.time() + 10
                while len(sub.events) < target and time.time() < limit:
                    if len(published) == total and (any(e.id == published[-1] for e in sub.events)
                                                    or received[-1:] == published[-1:]):
                        break
                    sub.wait_events(target, timeout=0.1)
                sub.close()
                received += [e.id for e in sub.events]
                self.assertTrue(received, "nothing received on the first connection")
                before = len(published)
                sub = SSEClient(self.hub, self.q(topic), self.auth() + [("Last-Event-ID", received[-1])])
                raced.append(len(published) - before)
                self.assertEqual(sub.header("Mercure-Last-Event-ID"), received[-1])
        finally:
            sub.close()
            thread.join(30)
        self.assertFalse(errors, errors)
        self.assertEqual(len(published), total)
        sys.stderr.write("[race: %d resumes, publishes acknowledged during each resume: %r]\n"
                         % (len(raced), raced))
        self.assertGreaterEqual(len(raced), 2, "too few resumes to race")
        self.assertEqual(len(received), len(set(received)), "duplicates across the resumes: %d received, %d "
                         "distinct" % (len(received), len(set(received))))
        self.assertEqual(received, published, "every id exactly once, in publish order")


class ReconnectMemory(ReconnectBase):
    hub_transport = "memory"


class ReconnectLmdb(ReconnectBase):
    hub_transport = "lmdb"


class ReconnectRedis(ReconnectBase):
    hub_transport = "redis"


del ReconnectBase

class RetentionBase(HubTestCase):
    hub_args = ("--history_size", "5")

    def test_resume_from_an_evicted_id_replays_nothing(self):
        topic = "retention/%d" % time.monotonic_ns()
        ids = [publish(self.hub, [topic], data="k%d" % i).text for i in range(12)]
        auth = [("Authorization", "Bearer " + subscriber_token(["*"]))]
        q = "topic=" + php_urlencode(topic)
        with SSEClient(self.hub, q, auth + [("Last-Event-ID", ids[1])]) as sub:
            self.assertEqual(sub.header("Mercure-Last-Event-ID"), "earliest")
            live = publish(self.hub, [topic], data="live").text
            self.assertEqual([e.id for e in sub.wait_events(1)], [live])
            sub.read_for(0.2)
            self.assertEqual([e.id for e in sub.events], [live])
        # What is kept is still served, and earliest means what is kept.
        with SSEClient(self.hub, q, auth + [("Last-Event-ID", ids[9])]) as sub:
            self.assertEqual(sub.header("Mercure-Last-Event-ID"), ids[9])
            self.assertEqual([e.id for e in sub.wait_events(3)], ids[10:] + [live])
        with SSEClient(self.hub, q, auth + [("Last-Event-ID", "earliest")]) as sub:
            sub.wait_events(5)
            sub.read_for(0.2)
            self.assertEqual([e.id for e in sub.events], ids[8:] + [live])


class RetentionMemory(RetentionBase):
    hub_transport = "memory"


class RetentionLmdb(RetentionBase):
    hub_transport = "lmdb"


class RetentionRedis(RetentionBase):
    hub_transport = "redis"


del RetentionBase


class BigReplayBase(HubTestCase):
    """A replay far larger than subscriber_queue_limit is paced, not cut off;
    live updates published during it follow without gap or duplicate."""
    hub_args = ("--subscriber_queue_limit", "64KiB")

    def test_replay_larger_than_the_queue_limit(self):
        topic = "big/%d" % time.monotonic_ns()
        p = Publisher(self.hub)
        try:
            ids = [p.publish([topic], data=("%04d" % i) + "z" * 8000) for i in range(300)]
        finally:
            p.close()
        before = metric(self.hub, "quicksilver_slow_subscriber_disconnects_total") or 0
        live = []
        errors = []

        def more():
            q = Publisher(self.hub)
            try:
                for i in range(50):
                    live.append(q.publish([topic], data="live%d" % i))
            except Exception as e:  # reported below
                errors.append(e)
            finally:
                q.close()

        auth = [("Authorization", "Bearer " + subscriber_token([topic])), ("Last-Event-ID", "earliest")]
        with SSEClient(self.hub, "topic=" + php_urlencode(topic), auth) as sub:
            t = threading.Thread(target=more)
            t.start()
            sub.wait_events(20, timeout=10)
            t.join(30)
            self.assertFalse(errors, errors)
            sub.wait_events(350, timeout=30)
            sub.read_for(0.2)
            got = [e.id for e in sub.events]
            self.assertFalse(sub.eof or sub.http.complete, "the replaying subscriber was cut off after %d events"
                             % len(got))
            self.assertEqual(len(got), 350)
            self.assertEqual(got, ids + live)
        self.assertEqual(metric(self.hub, "quicksilver_slow_subscriber_disconnects_total") or 0, before)


class BigReplayMemory(BigReplayBase):
    hub_transport = "memory"


class BigReplayLmdb(BigReplayBase):
    hub_transport = "lmdb"


class BigReplayRedis(BigReplayBase):
    hub_transport = "redis"


del BigReplayBase


if __name__ == "__main__":
    main()
