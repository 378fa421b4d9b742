"""Active subscriptions through the real binary (Mercure draft, Active
Subscriptions; legacy 0.x / reference compatibility shapes): subscription
events seen by watchers, the subscription API, its authorization, its cursor
agreeing with the events, disconnects without FIN, and what a restart does.

Standard library only. The binary is $QS_BINARY (ctest sets it), else
build-subs/quicksilver beside the sources.
"""
import os
import queue
import random
import re
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import hubtest  # noqa: E402
from hubtest import HUB_PATH, SUB_SECRET  # noqa: E402

NS = HUB_PATH + "/subscriptions"
UUID4_URN = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def enc(value):
    """Percent-encodes every byte except A-Z a-z 0-9 - . _ ~ (uppercase hex)."""
    return urllib.parse.quote(value, safe="-._~")


def start_hub(args=(), history=None, workers=2):
    """A hubtest.Hub without heartbeats, in memory or on the LMDB `history`."""
    return hubtest.Hub(["--heartbeat", "0"] + list(args), history=history, workers=workers,
                       binary_path=hubtest.binary("build-subs"))


# ---------------------------------------------------------------- tokens (subscribers')

def legacy_token(subscribe=(), payload=None):
    return hubtest.legacy_token(SUB_SECRET, subscribe=subscribe, payload=payload)


def draft_token(hub, subscribe, match_type="urlpattern", payload=None):
    return hubtest.draft08_token(SUB_SECRET, hub.hub_url, ["subscribe"], subscribe, match_type=match_type,
                                 payload=payload)


# ---------------------------------------------------------------- HTTP

def get(hub, path, token=None, headers=(), method="GET"):
    h = list(dict(headers).items())
    if token:
        h.append(("Authorization", "Bearer " + token))
    # An empty body where one is expected, as http.client's request() sends it.
    body = b"" if method in ("POST", "PUT", "PATCH") else None
    return hubtest.request(hub, method, path, h, body)


def publish(hub, topic, data, private=False):
    r = hubtest.publish(hub, [topic], data, private=private)
    assert r.status == 200, (r.status, r.text)
    return r.text.strip()


class SSEClient(hubtest.SSEClient):
    """hubtest's raw-socket subscriber, read by a thread from the response
    head on: the events that carry data are queued in `queue`."""

    def __init__(self, hub, query, token=None, last_event_id=None):
        headers = []
        if token:
            headers.append(("Authorization", "Bearer " + token))
        if last_event_id is not None:
            headers.append(("Last-Event-ID", last_event_id))
        super().__init__(hub, query, headers)
        self.queue = queue.Queue()
        self.closed = threading.Event()
        self.stopping = False
        self.reader = None
        if self.status == 200:
            self.reader = threading.Thread(target=self._run, daemon=True)
            self.reader.start()

    def _run(self):
        # Short reads, so that abort() can stop the reader first: on Linux a
        # close() does not end a recv() blocked in another thread, and the
        # socket would only really close when that recv returns.
        taken = 0
        try:
            while not self.stopping and not self.eof:
                self._pump(time.time() + 0.1)
                for e in self.sse.events[taken:]:
                    if e.data is not None:
                        self.queue.put(e)
                taken = len(self.sse.events)
        except (OSError, ValueError):
            pass
        finally:
            self.closed.set()

    def next(self, timeout=5.0):
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no event within %.1f s" % timeout)

    def expect_none(self, wait=0.5):
        try:
            e = self.queue.get(timeout=wait)
        except queue.Empty:
            return
        raise AssertionError("unexpected event: %s %s" % (e.id, e.data))

    def close(self):
        """Graceful close (FIN)."""
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def abort(self):
        """Abortive close: SO_LINGER 0 makes close() send a RST, no FIN."""
        self.stopping = True
        if self.reader:
            self.reader.join(5)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def subscriptions_of(events):
    """Keyed by document id: the latest document."""
    return {e.json()["id"]: e.json() for e in events}


# ---------------------------------------------------------------- tests

class SubscriptionsTest(unittest.TestCase):
    def setUp(self):
        self.hubs = []
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            try:
                c.close()
            except OSError:
                pass
        for hub in self.hubs:
            code = hub.stop()
            self.assertEqual(code, 0, "hub exit status %r\n%s" % (code, "".join(hub.lines[-40:])))

    def start(self, *args, **kw):
        hub = start_hub(*args, **kw)
        self.hubs.append(hub)
        return hub

    def client(self, hub, query, **kw):
        c = SSEClient(hub, query, **kw)
        self.clients.append(c)
        return c

    def watcher_token(self, hub, full_url=False):
        pattern = (hub.hub_url.split(HUB_PATH)[0] if full_url else "") + NS + "/*"
        return draft_token(hub, [pattern, NS])

    def assert_event_doc(self, e, subscriber=None, active=True):
        doc = e.json()
        # Legacy-form documents (with "topic") come without an event type, as
        # 0.x presence clients listen with onmessage; draft-08 ones are `mercure`.
        self.assertEqual(e.type, None if "topic" in doc else "mercure")
        self.assertEqual(doc["type"], "subscription")
        self.assertIs(doc["active"], active)
        self.assertRegex(doc["subscriber"], UUID4_URN)
        if subscriber:
            self.assertEqual(doc["subscriber"], subscriber)
        return doc

    def test_watchers_see_joins_and_leaves_with_payloads_and_the_api_agrees(self):
        hub = self.start(["--subscriptions", "--anonymous"])
        # Two watchers: a relative URL pattern, and the absolute hub-URL form.
        watcher = self.client(hub, "match_urlpattern=" + enc(NS + "/*"), token=self.watcher_token(hub))
        self.assertEqual(watcher.status, 200)
        own = self.assert_event_doc(watcher.next())  # its own start
        self.assertEqual(own["match_type"], "urlpattern")
        self.assertEqual(own["match"], NS + "/*")
        full = hub.hub_url.split(HUB_PATH)[0] + NS + "/*"
        watcher2 = self.client(hub, "match_urlpattern=" + enc(full), token=self.watcher_token(hub, full_url=True))
        self.assertEqual(watcher2.status, 200)
        own2 = self.assert_event_doc(watcher.next())
        self.assertEqual(own2["match"], full)
        self.assertEqual(self.assert_event_doc(watcher2.next())["id"], own2["id"])

        # Alice: draft-08 exact matcher, payload from her authorization detail.
        alice_token = draft_token(hub, ["https://example.com/a"], match_type="exact", payload={"name": "alice"})
        alice = self.client(hub, "match=" + enc("https://example.com/a"), token=alice_token)
        ea = watcher.next()
        a = self.assert_event_doc(ea)
        self.assertEqual(a["match_type"], "exact")
        self.assertEqual(a["match"], "https://example.com/a")
        self.assertEqual(a["payload"], {"name": "alice"})
        self.assertEqual(a["id"], "%s/exact/%s/%s" % (NS, enc("https://example.com/a"), enc(a["subscriber"])))
        self.assertEqual(watcher2.next().data, ea.data)

        # Bob: legacy topic= selector, legacy token with mercure.payload: the legacy document.
        bob_token = legacy_token(subscribe=["access/42"], payload={"name": "bob"})
        bob = self.client(hub, "topic=" + enc("access/42"), token=bob_token)
        eb = watcher.next()
        b = self.assert_event_doc(eb)
        self.assertEqual(b["id"], "%s/%s/%s" % (NS, enc("access/42"), enc(b["subscriber"])))
        self.assertEqual(b["topic"], "access/42")
        self.assertNotIn("match_type", b)
        self.assertEqual(b["payload"], {"name": "bob"})
        self.assertNotEqual(a["subscriber"], b["subscriber"])
        watcher2.next()

        # The API: the collection, with the cursor of the last event.
        token = self.watcher_token(hub)
        r = get(hub, NS, token)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("content-type"), "application/json")
        self.assertEqual(r.header("cache-control"), "must-revalidate")
        self.assertEqual(r.header("link"), '<%s>; rel="mercure"; last-event-id="%s"; type="mercure"; '
                         'content-type="application/json"' % (HUB_PATH, eb.id))
        self.assertEqual(r.header("etag"), '"%s"' % eb.id)
        doc = r.json()
        self.assertEqual(doc["id"], NS)
        self.assertEqual(doc["type"], "subscriptions")
        self.assertEqual([s["id"] for s in doc["subscriptions"]], [own["id"], own2["id"], a["id"], b["id"]])
        self.assertEqual(doc["subscriptions"][2], a)
        self.assertEqual(doc["subscriptions"][3], b)
        # Revalidation.
        r304 = get(hub, NS, token, headers={"If-None-Match": r.header("etag")})
        self.assertEqual(r304.status, 304)
        self.assertEqual(r304.body, b"")
        # Per matcher, one subscription, and the legacy routes.
        path = "%s/exact/%s" % (NS, enc("https://example.com/a"))
        r = get(hub, path, token)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["id"], path)
        self.assertEqual(r.json()["subscriptions"], [a])
        self.assertEqual(get(hub, "%s/urlpattern/%s" % (NS, enc("https://example.com/a")), token).json()
                         ["subscriptions"], [])
        r = get(hub, a["id"], token)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body.decode(), ea.data)  # the event's document, byte for byte
        self.assertEqual(r.header("etag"), '"%s"' % eb.id)
        self.assertEqual(get(hub, "%s/%s" % (NS, enc("access/42")), token).json()["subscriptions"], [b])
        self.assertEqual(get(hub, b["id"], token).json(), b)
        self.assertEqual(get(hub, "%s/exact/%s/%s" % (NS, enc("https://example.com/a"), enc("urn:uuid:nope")),
                             token).status, 404)
        self.assertEqual(get(hub, "%s/bogus/x/y" % NS, token).status, 400)
        self.assertEqual(get(hub, "%s/exact/%%zz" % NS, token).status, 400)
        self.assertEqual(get(hub, NS + "/a/b/c/d", token).status, 404)
        self.assertEqual(get(hub, NS, token, method="POST").status, 405)

        # Alice leaves cleanly; Bob's connection is reset (no FIN).
        alice.close()
        ended = self.assert_event_doc(watcher.next(), a["subscriber"], active=False)
        self.assertEqual(ended, dict(a, active=False))
        bob.abort()
        ended = self.assert_event_doc(watcher.next(), b["subscriber"], active=False)
        self.assertEqual(ended, dict(b, active=False))
        self.assertEqual(get(hub, a["id"], token).status, 404)
        self.assertEqual([s["id"] for s in get(hub, NS, token).json()["subscriptions"]], [own["id"], own2["id"]])

    def test_the_api_needs_a_token_granting_the_path_and_events_need_a_grant(self):
        hub = self.start(["--subscriptions", "--anonymous"])
        # No token: 401 even though anonymous subscribers are allowed.
        r = get(hub, NS)
        self.assertEqual(r.status, 401)
        self.assertTrue(r.header("www-authenticate").startswith("Bearer"))
        # A token for something else: 403 insufficient_scope.
        other = draft_token(hub, ["https://example.com/*"])
        r = get(hub, NS, other)
        self.assertEqual(r.status, 403)
        self.assertIn('error="insufficient_scope"', r.header("www-authenticate"))
        # The answer names the path the token's selectors must match.
        self.assertEqual(r.text.strip(), "the token grants subscribing to no selector matching `%s`" % NS)
        # A grant on the collection only does not open the per-matcher paths.
        exact = draft_token(hub, [NS], match_type="exact")
        self.assertEqual(get(hub, NS, exact).status, 200)
        self.assertEqual(get(hub, NS + "/exact/x", exact).status, 403)
        # A legacy URI Template grant (as 0.x clients use) covers the legacy routes.
        tpl = legacy_token(subscribe=[NS + "{/topic}{/subscriber}"])
        self.assertEqual(get(hub, NS + "/" + enc("access/42"), tpl).status, 200)
        self.assertEqual(get(hub, NS + "/" + enc("access/42") + "/" + enc("urn:uuid:x"), tpl).status, 404)
        # 0.x clients may put the token in the legacy `authorization` query parameter.
        self.assertEqual(get(hub, NS + "/" + enc("access/42") + "?authorization=" + tpl).status, 200)
        self.assertEqual(get(hub, NS + "/" + enc("access/42") + "?authorization=" + other).status, 403)
        self.assertEqual(get(hub, NS + "/" + enc("access/42") + "?authorization=" + tpl[:-4] + "AAAA").status, 401)

        # Watchers without a grant get no subscription events (they are private).
        marker = "https://example.com/marker"
        anon = self.client(hub, "match_urlpattern=%s&match=%s" % (enc(NS + "/*"), enc(marker)))
        wrong = self.client(hub, "match_urlpattern=%s&match=%s" % (enc(NS + "/*"), enc(marker)), token=other)
        self.client(hub, "match=" + enc("https://example.com/x"))
        mid = publish(hub, marker, "after the join")
        for w in (anon, wrong):
            e = w.next()
            self.assertEqual((e.id, e.type), (mid, None), e.data)

    def test_api_then_events_from_the_cursor_miss_nothing_and_repeat_nothing(self):
        self.check_reconciliation(self.start(["--subscriptions", "--anonymous"], workers=3))

    def test_reconciliation_holds_with_lmdb_group_commit(self):
        # With LMDB an event is durable only after its group commit: the API
        # must not hand out a cursor older than what its registry reflects.
        folder = tempfile.mkdtemp(prefix="qs-subs-")
        self.addCleanup(shutil.rmtree, folder, True)
        hub = self.start(["--subscriptions", "--anonymous", "--commit_interval", "20ms"],
                         history=os.path.join(folder, "h.lmdb"), workers=3)
        self.check_reconciliation(hub)

    def check_reconciliation(self, hub):
        token = self.watcher_token(hub)
        stop = threading.Event()
        errors = []

        def churn():
            rnd = random.Random(7)
            live = []
            try:
                while not stop.is_set():
                    if live and (len(live) > 6 or rnd.random() < 0.45):
                        c = live.pop(rnd.randrange(len(live)))
                        c.abort() if rnd.random() < 0.5 else c.close()
                    else:
                        q = "match=" + enc("https://example.com/%d" % rnd.randrange(5))
                        if rnd.random() < 0.3:
                            q += "&topic=" + enc("legacy/%d" % rnd.randrange(3))
                        live.append(SSEClient(hub, q))
                for c in live:
                    c.close()
            except Exception as exc:  # reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=churn) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        checks = []
        for _ in range(5):
            r = get(hub, NS, token)
            self.assertEqual(r.status, 200)
            cursor = re.search(r'last-event-id="([^"]*)"', r.header("link")).group(1)
            state = {s["id"]: s for s in r.json()["subscriptions"]}
            follower = self.client(hub, "match_urlpattern=" + enc(NS + "/*"), token=token, last_event_id=cursor)
            self.assertEqual(follower.status, 200)
            checks.append((state, follower))
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(30)
        self.assertEqual(errors, [])
        time.sleep(0.5)
        final = {s["id"]: s for s in get(hub, NS, token).json()["subscriptions"]}
        for state, follower in checks:
            applied = 0
            while True:
                try:
                    e = follower.queue.get(timeout=0.3)
                except queue.Empty:
                    break
                d = e.json()
                if d["active"]:
                    self.assertNotIn(d["id"], state, "seen twice: " + e.data)
                    state[d["id"]] = d
                else:
                    self.assertIn(d["id"], state, "end of a subscription never seen: " + e.data)
                    del state[d["id"]]
                applied += 1
            self.assertGreater(applied, 0)
            self.assertEqual(set(state), set(final))

    def test_feature_off_has_no_routes_and_no_events(self):
        hub = self.start(["--anonymous"])
        token = draft_token(hub, [NS + "/*", NS])
        self.assertEqual(get(hub, NS, token).status, 404)
        self.assertEqual(get(hub, NS + "/exact/x/y", token).status, 404)
        watcher = self.client(hub, "match_urlpattern=" + enc(NS + "/*"), token=token)
        self.client(hub, "match=x")
        watcher.expect_none(0.5)

    def test_a_restart_ends_the_subscriptions_of_the_previous_run(self):
        # Decision (subscriptions.h): subscriptions do not survive the process;
        # at start-up the hub publishes `active: false` for every subscription
        # its (LMDB) history shows as still active, whether the previous
        # process was killed or stopped.
        folder = tempfile.mkdtemp(prefix="qs-subs-")
        self.addCleanup(shutil.rmtree, folder, True)
        history = os.path.join(folder, "history.lmdb")
        hub = start_hub(["--subscriptions"], history=history)
        token = self.watcher_token(hub)
        watcher = SSEClient(hub, "match_urlpattern=" + enc(NS + "/*"), token=token)
        own = self.assert_event_doc(watcher.next())
        user = SSEClient(hub, "match=" + enc("https://example.com/a"), token=legacy_token(subscribe=["*"]))
        joined = watcher.next()
        a = self.assert_event_doc(joined)
        hub.kill()  # SIGKILL: nothing announced
        watcher.close()
        user.close()

        hub = self.start(["--subscriptions"], history=history)
        token = self.watcher_token(hub)
        self.assertEqual(get(hub, NS, token).json()["subscriptions"], [])
        follower = self.client(hub, "match_urlpattern=" + enc(NS + "/*"), token=token, last_event_id=joined.id)
        self.assertEqual(follower.header("Mercure-Last-Event-ID"), joined.id)
        ends = {}
        for _ in range(2):
            d = follower.next().json()
            if not d["active"]:
                ends[d["id"]] = d
        self.assertEqual(ends, {own["id"]: dict(own, active=False), a["id"]: dict(a, active=False)})
        # A graceful stop leaves the same state, and the next start ends it the same way.
        follower_doc = self.assert_event_doc(follower.next())
        self.assertEqual(follower_doc["active"], True)
        code = hub.stop()
        self.hubs.remove(hub)
        self.assertEqual(code, 0)
        hub = self.start(["--subscriptions"], history=history)
        follower2 = self.client(hub, "match_urlpattern=" + enc(NS + "/*"), token=self.watcher_token(hub),
                                last_event_id=joined.id)
        seen = [follower2.next().json() for _ in range(5)]
        ended = [d for d in seen if d["id"] == follower_doc["id"]]
        self.assertEqual([d["active"] for d in ended], [True, False])


if __name__ == "__main__":
    hubtest.main()
