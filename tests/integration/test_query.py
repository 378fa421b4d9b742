"""QUERY subscriptions (draft-08, Subscription): the matchers and the cursor
in a form-encoded body, in the query component, or in both (their union,
the query's last_event_id winning over the body's, the Last-Event-ID field
over both), over HTTP/1.1 (raw socket) and HTTP/2 (curl with prior
knowledge); the limits apply to the union; CORS preflights allow it."""
import os
import subprocess
import sys
import threading
import time
from urllib.parse import quote

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubtest import (HUB_PATH, HubTestCase, SSEClient, SSEParser, main, publish, request, subscriber_token)

APP_ORIGIN = "https://app.example.com"


def enc(value):
    return quote(value, safe="")


class Curl2:
    """An HTTP/2 (h2c, prior knowledge) QUERY subscription through curl."""

    def __init__(self, hub, query, body, headers=()):
        url = "http://127.0.0.1:%d%s%s" % (hub.port, HUB_PATH, "?" + query if query else "")
        cmd = ["curl", "-sS", "-N", "--http2-prior-knowledge", "-X", "QUERY", "-D", "-", "--max-time", "20",
               "-H", "Content-Type: application/x-www-form-urlencoded", "--data-binary", body]
        for k, v in headers:
            cmd += ["-H", "%s: %s" % (k, v)]
        self.proc = subprocess.Popen(cmd + [url], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out = b""
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):
            with self.lock:
                self.out += chunk

    def wait_for(self, needle, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if needle in self.out:
                    return True
            time.sleep(0.02)
        return False

    def head_and_events(self):
        with self.lock:
            head, _, body = self.out.partition(b"\r\n\r\n")
        parser = SSEParser()
        parser.feed(body)
        return head.decode("latin-1"), parser.events

    def close(self):
        self.proc.kill()
        self.proc.wait(5)
        self.reader.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()


class QuerySubscriptions(HubTestCase):
    hub_args = ("--cors_origins", APP_ORIGIN, "--max_matchers", "5")

    def auth(self, topics):
        return [("Authorization", "Bearer " + subscriber_token(topics))]

    def layouts(self, a, b):
        """(name, query, body) for matchers a and b: body only, query only, both."""
        return [("body only", "", "match=%s&match=%s" % (enc(a), enc(b))),
                ("query only", "match=%s&match=%s" % (enc(a), enc(b)), ""),
                ("both", "match=%s" % enc(a), "match=%s" % enc(b))]

    def test_http11_matchers_in_body_query_or_both(self):
        a, b = self.topic("a"), self.topic("b")
        for name, query, body in self.layouts(a, b):
            with SSEClient(self.hub, query, self.auth([a, b]), method="QUERY", body=body) as sub:
                self.assertEqual(sub.status, 200, "%s: %r" % (name, sub.body_bytes()))
                ids = [publish(self.hub, [t], data=t, private=True).text for t in (a, b)]
                got = [(e.id, e.data) for e in sub.wait_events(2)]
                self.assertEqual(got, list(zip(ids, [a, b])), name)

    def test_http2_matchers_in_body_query_or_both(self):
        a, b = self.topic("h2a"), self.topic("h2b")
        for name, query, body in self.layouts(a, b):
            sub = Curl2(self.hub, query, body, self.auth([a, b]))
            try:
                self.assertTrue(sub.wait_for(b"\r\n\r\n:"), "%s: no stream: %r" % (name, sub.out))
                ids = [publish(self.hub, [t], data=t, private=True).text for t in (a, b)]
                self.assertTrue(sub.wait_for(ids[1].encode()), "%s: events missing: %r" % (name, sub.out))
                head, events = sub.head_and_events()
                self.assertTrue(head.startswith("HTTP/2 200"), "%s: %s" % (name, head))
                self.assertEqual([(e.id, e.data) for e in events], list(zip(ids, [a, b])), name)
            finally:
                sub.close()

    def test_cursor_precedence_across_query_body_and_header(self):
        topic = self.topic("cursor")
        ids = [publish(self.hub, [topic], data="n%d" % i).text for i in range(4)]
        cases = [
            ("body cursor", "", "match=%s&last_event_id=%s" % (enc(topic), enc(ids[0])), (), ids[1:]),
            ("query cursor wins over body", "last_event_id=%s" % enc(ids[1]),
             "match=%s&last_event_id=%s" % (enc(topic), enc(ids[0])), (), ids[2:]),
            ("header wins over both", "last_event_id=%s" % enc(ids[1]),
             "match=%s&last_event_id=%s" % (enc(topic), enc(ids[0])), [("Last-Event-ID", ids[2])], ids[3:]),
        ]
        for name, query, body, headers, want in cases:
            with SSEClient(self.hub, query, list(headers) + self.auth([topic]), method="QUERY", body=body) as sub:
                self.assertEqual(sub.status, 200, "%s: %r" % (name, sub.body_bytes()))
                got = [e.id for e in sub.wait_events(len(want))]
                self.assertEqual(got, want, name)
                self.assertEqual(sub.header("Mercure-Last-Event-ID"), {
                    "body cursor": ids[0], "query cursor wins over body": ids[1],
                    "header wins over both": ids[2]}[name], name)
            # Over HTTP/2 too.
            sub = Curl2(self.hub, query, body, list(headers) + self.auth([topic]))
            try:
                self.assertTrue(sub.wait_for(want[-1].encode()), "%s (h2): %r" % (name, sub.out))
                _, events = sub.head_and_events()
                self.assertEqual([e.id for e in events], want, "%s (h2)" % name)
            finally:
                sub.close()

    def test_limits_apply_to_the_union(self):
        query = "&".join("match=q%d" % i for i in range(3))
        body = "&".join("match=b%d" % i for i in range(3))
        with SSEClient(self.hub, query, self.auth(["*"]), method="QUERY", body=body) as sub:
            self.assertEqual(sub.status, 400, "6 matchers over max_matchers=5: %r" % sub.body_bytes())
            self.assertIn(b"too many", sub.body_bytes().lower())
        with SSEClient(self.hub, "", self.auth(["*"]), method="QUERY", body="matches=x") as sub:
            self.assertEqual(sub.status, 400, "the reserved match prefix applies to the body")
        with SSEClient(self.hub, "", self.auth(["*"]), method="QUERY", body="match=a%0Ab") as sub:
            self.assertEqual(sub.status, 400, "value rules apply to the body")

    def test_body_must_be_form_encoded(self):
        with SSEClient(self.hub, "", self.auth(["*"]) + [("Content-Type", "application/json")], method="QUERY",
                       body='{"match": "x"}') as sub:
            self.assertEqual(sub.status, 415, "%r" % sub.body_bytes())
            self.assertIn(b"x-www-form-urlencoded", sub.body_bytes())

    def test_preflight_allows_query(self):
        r = request(self.hub, "OPTIONS", HUB_PATH,
                    [("Origin", APP_ORIGIN), ("Access-Control-Request-Method", "QUERY"),
                     ("Access-Control-Request-Headers", "content-type,last-event-id")])
        self.assertEqual(r.status, 204, r)
        methods = [m.strip() for m in (r.header("Access-Control-Allow-Methods") or "").split(",")]
        self.assertIn("QUERY", methods, r)
        r = request(self.hub, "DELETE", HUB_PATH)
        self.assertEqual(r.status, 405, r)
        self.assertIn("QUERY", r.header("Allow") or "", r)


if __name__ == "__main__":
    main()
