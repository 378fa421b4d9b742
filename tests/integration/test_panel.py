"""The endpoints of the operator's panel (src/api/panel.c): GET /panel/hub
says what the page needs to know; POST /panel/token explains a token for
each role with this hub's keys, refuses what is not a small form (415, 400,
413), is rate limited (429 with Retry-After), never logs the token, and
both are gone with --no-ui. The page itself is tested in a browser
(tests/browser/panel.test.js)."""
import json
import os
import sys
import time
import unittest
import urllib.parse

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubtest import (SUB_SECRET, Hub, legacy_token, main, publisher_token, request,  # noqa: E402
                     subscriber_token)

FORM = [("Content-Type", "application/x-www-form-urlencoded")]


def check(hub, token, topics=(), headers=FORM):
    body = urllib.parse.urlencode([("token", token)] + [("topic", t) for t in topics]).encode()
    return request(hub, "POST", "/panel/token", headers, body)


class PanelTest(unittest.TestCase):
    def setUp(self):
        self.hubs = []

    def tearDown(self):
        for h in self.hubs:
            h.kill()

    def start(self, *args):
        h = Hub(list(args) + ["--log_level", "debug"])
        self.hubs.append(h)
        return h

    def test_panel_hub_says_where_the_metrics_and_the_subscriptions_are(self):
        hub = self.start("--subscriptions")
        r = request(hub, "GET", "/panel/hub")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "application/json")
        self.assertEqual(r.header("Content-Security-Policy"), "default-src 'self'")
        doc = r.json()
        self.assertEqual((doc["hub_url"], doc["hub_path"], doc["resource_identifier"]),
                         (hub.hub_url, "/.well-known/mercure", hub.hub_url), doc)
        self.assertEqual((doc["metrics"], doc["subscriptions"], doc["publisher_keys"], doc["subscriber_keys"]),
                         ("/metrics", True, 1, 1), doc)
        self.assertEqual(request(hub, "POST", "/panel/hub", body=b"").status, 405)
        # With admin_listen, /metrics is not on the public address: the page must not poll it there.
        admin = self.start("--admin_listen", "127.0.0.1:0")
        doc = request(admin, "GET", "/panel/hub").json()
        self.assertEqual((doc["metrics"], doc["subscriptions"]), (None, False), doc)
        self.assertEqual(request(admin, "GET", "/metrics").status, 404)
        for h in (hub, admin):
            self.assertEqual(h.stop(), 0, h.stderr()[-3000:])

    def test_token_check_explains_each_role_and_never_logs_the_token(self):
        hub = self.start()
        token = publisher_token(topics=["https://example.com/books/{id}"])
        r = check(hub, token, ["https://example.com/books/1", "https://example.com/users/1"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Cache-Control"), "no-store")
        doc = r.json()
        self.assertEqual(doc["resource_identifier"], hub.hub_url)
        pub = doc["publisher"]
        self.assertEqual((pub["accepted"], pub["key"], pub["key_count"], pub["alg"], pub["legacy_key"]),
                         (True, 1, 1, "HS256", True), pub)
        self.assertEqual(pub["rules"], "legacy rules: exp optional, aud, typ and iss not checked")
        # A legacy selector: the topic itself or a URI Template.
        self.assertEqual(pub["grants"]["publish"], [{"type": "topic", "pattern": "https://example.com/books/{id}"}])
        self.assertEqual([(t["topic"], t["allowed"], t["grant"]) for t in pub["topics"]],
                         [("https://example.com/books/1", True, 1), ("https://example.com/users/1", False, 0)])
        # Signed with the publisher key only: the subscriber key refuses it, and says why.
        sub = doc["subscriber"]
        self.assertEqual(sub["accepted"], False, sub)
        self.assertIn("signature", sub["reason"])

        reader = subscriber_token(["https://example.com/books/{id}", "https://example.com/users/1"])
        doc = check(hub, reader, ["https://example.com/users/1"]).json()
        self.assertEqual(doc["subscriber"]["accepted"], True, doc)
        self.assertEqual(doc["subscriber"]["topics"], [{"topic": "https://example.com/users/1", "allowed": True,
                                                       "grant": 2}])
        expired = legacy_token(SUB_SECRET, subscribe=["*"], exp_in=-30)
        doc = check(hub, expired).json()
        self.assertRegex(doc["subscriber"]["reason"], r"^expired since \d{4}-\d\d-\d\dT[\d:]+Z \((29|3\d) s ago\)$")
        self.assertEqual(hub.stop(), 0, hub.stderr()[-3000:])
        log = hub.stderr()
        self.assertIn("panel token check remote=127.0.0.1 publisher=accepted subscriber=refused topics=2", log)
        for t in (token, reader, expired):
            self.assertNotIn(t, log)
            # Not even the signature alone.
            self.assertNotIn(t.rsplit(".", 1)[1], log)

    def test_token_check_refuses_what_is_not_a_small_form(self):
        hub = self.start("--max_token_size", "1KiB")
        token = publisher_token()
        r = check(hub, token, headers=[("Content-Type", "text/plain")])
        self.assertEqual(r.status, 415, r)
        self.assertIn("application/x-www-form-urlencoded", r.text)
        r = request(hub, "POST", "/panel/token", FORM, b"topic=x")
        self.assertEqual((r.status, r.text), (400, "the form has no token field (token=...)\n"))
        r = check(hub, token, ["t%d" % i for i in range(17)])
        self.assertEqual((r.status, r.text), (400, "at most 16 topics\n"))
        # Past max_token_size and the room for the topics: refused before any parsing.
        r = request(hub, "POST", "/panel/token", FORM, b"token=" + b"a" * (1024 + 16 * 4096 + 1024))
        self.assertEqual(r.status, 413, r)
        r = request(hub, "GET", "/panel/token")
        self.assertEqual((r.status, r.header("Allow")), (405, "POST"))
        # A token over max_token_size inside the limit of the form: the verifier says so.
        doc = check(hub, "a" * 2000).json()
        self.assertIn("large", doc["publisher"]["reason"])
        self.assertEqual(hub.stop(), 0, hub.stderr()[-3000:])

    def test_token_checks_are_rate_limited(self):
        hub = self.start()
        token = publisher_token()
        # A burst of 10 passes; then 5 a second: checks sent faster than that meet a 429.
        statuses = []
        while len(statuses) < 100 and (not statuses or statuses[-1].status == 200):
            statuses.append(check(hub, token))
        codes = [r.status for r in statuses]
        self.assertEqual(codes[:10], [200] * 10, codes)
        self.assertEqual(codes[-1], 429, codes)
        refused = statuses[-1]
        self.assertEqual(refused.header("Retry-After"), "1")
        self.assertEqual(refused.text, "too many token checks: try again in a second\n")
        time.sleep(1.1)
        self.assertEqual(check(hub, token).status, 200)
        self.assertEqual(hub.stop(), 0, hub.stderr()[-3000:])

    def test_no_ui_serves_no_panel(self):
        hub = self.start("--no-ui")
        for method, path in (("GET", "/panel/hub"), ("GET", "/panel.js"), ("GET", "/")):
            self.assertEqual(request(hub, method, path).status, 404, path)
        self.assertEqual(check(hub, publisher_token()).status, 404)
        self.assertEqual(hub.stop(), 0, hub.stderr()[-3000:])


if __name__ == "__main__":
    main()
