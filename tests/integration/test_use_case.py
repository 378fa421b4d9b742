"""The USE-CASE flow end to end, with the exact wire format of symfony/mercure
(legacy JWT claim, PHP urlencode form body, mercureAuthorization cookie,
topic= selectors) and of a browser EventSource with credentials (CORS)."""
import json
import os
import select
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubtest import (HUB_PATH, PUB_SECRET, SUB_SECRET, UUID7_ID, HubTestCase, SSEClient, draft08_token, jwt_hs256,
                     legacy_token, main, php_urlencode, publish, publisher_token, request, subscriber_token,
                     symfony_body)

APP_ORIGIN = "https://app.example.test"
# What PHP json_encode() produces by default: "\/" for "/", \uXXXX for non-ASCII.
PHP_JSON = ('{"myData":"some new data","url":"https:\\/\\/example.test\\/a?b=c&d=e+f%20g",'
            '"name":"Ren\\u00e9e \\u2603","tilde":"~x","quote":"a\\"b"}')


def cookie(token):
    return ("Cookie", "mercureAuthorization=" + token)


class UseCase(HubTestCase):
    hub_args = ("--cors_origins", APP_ORIGIN)

    def browser_subscribe(self, topic, token, extra=()):
        """new EventSourcePolyfill(hubUrl + "?topic=" + topic, {withCredentials: true})."""
        headers = [("Origin", APP_ORIGIN), cookie(token), ("Referer", APP_ORIGIN + "/dashboard")]
        headers += list(extra)
        return SSEClient(self.hub, "topic=" + php_urlencode(topic).replace("+", "%20"), headers)

    def test_private_update_reaches_the_authorized_cookie_subscriber_byte_exact(self):
        with self.browser_subscribe("access/42", subscriber_token(["access/42"])) as sub:
            self.assertEqual(sub.status, 200, sub.body_bytes())
            self.assertEqual(sub.header("Content-Type").split(";")[0].strip(), "text/event-stream")
            self.assertEqual(sub.header("X-Accel-Buffering"), "no")
            self.assertIn("no-cache", sub.header("Cache-Control") or "")
            self.assertEqual(sub.header("Access-Control-Allow-Origin"), APP_ORIGIN)
            self.assertEqual(sub.header("Access-Control-Allow-Credentials"), "true")
            self.assertTrue(sub.body_bytes().startswith(b":\n"), "stream must open with ':\\n': %r"
                            % sub.body_bytes()[:40])

            r = publish(self.hub, ["access/42"], data=PHP_JSON, private=True)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("Content-Type"), "text/plain; charset=utf-8")
            uid = r.text
            self.assertRegex(uid, UUID7_ID)

            events = sub.wait_events(1)
            self.assertEqual(len(events), 1, "events: %r" % events)
            self.assertEqual(events[0].data, PHP_JSON)
            self.assertEqual(events[0].id, uid)
            self.assertEqual(events[0].raw, ("id: %s\ndata: %s\n\n" % (uid, PHP_JSON)).encode("utf-8"))
            self.assertIsNone(events[0].type, "no event: line without a type")
            self.assertEqual(json.loads(events[0].data)["url"], "https://example.test/a?b=c&d=e+f%20g")

    def test_private_update_does_not_reach_other_users(self):
        mine = self.browser_subscribe("access/42", subscriber_token(["access/42"]))
        # Another user asking for access/42 with a token for access/43 only.
        snooper = self.browser_subscribe("access/42", subscriber_token(["access/43"]))
        # Another user on its own topic.
        other = self.browser_subscribe("access/43", subscriber_token(["access/43"]))
        try:
            for s in (mine, snooper, other):
                self.assertEqual(s.status, 200, s.body_bytes())
            secret = publish(self.hub, ["access/42"], data='{"secret":1}', private=True).text
            # A public marker after it: whoever sees the marker first never got the secret.
            marker = publish(self.hub, ["access/42", "access/43"], data='{"marker":1}').text
            self.assertEqual([e.id for e in mine.wait_events(2)], [secret, marker])
            self.assertEqual([(e.id, e.data) for e in snooper.wait_events(1)], [(marker, '{"marker":1}')])
            self.assertEqual([(e.id, e.data) for e in other.wait_events(1)], [(marker, '{"marker":1}')])
            time.sleep(0.2)
            snooper.read_for(0.2)
            self.assertEqual(len(snooper.events), 1, snooper.events)
        finally:
            for s in (mine, snooper, other):
                s.close()

    def test_anonymous_subscriber_refused_with_401(self):
        with SSEClient(self.hub, "topic=access%2F42", [("Origin", APP_ORIGIN)]) as sub:
            self.assertChallenge(sub, 401)
            self.assertTrue(sub.body_bytes().strip(), "a refusal has a body saying why")
            # Browsers can only read the status cross-origin when CORS headers are there.
            self.assertEqual(sub.header("Access-Control-Allow-Origin"), APP_ORIGIN)

    def test_publisher_token_without_publish_claim_gets_403(self):
        no_publish = legacy_token(PUB_SECRET, mercure={"subscribe": ["*"]})
        r = publish(self.hub, ["access/42"], data="{}", private=True, token=no_publish)
        self.assertChallenge(r, 403, "insufficient_scope")
        empty_publish = legacy_token(PUB_SECRET, publish=[], subscribe=["*"])
        r = publish(self.hub, ["access/42"], data="{}", private=True, token=empty_publish)
        self.assertChallenge(r, 403, "insufficient_scope")
        other_topic = legacy_token(PUB_SECRET, publish=["access/41"])
        r = publish(self.hub, ["access/42"], data="{}", private=True, token=other_topic)
        self.assertChallenge(r, 403, "insufficient_scope")
        # One ungranted alternate topic is enough to refuse.
        r = publish(self.hub, ["access/41", "access/42"], data="{}", private=True, token=other_topic)
        self.assertChallenge(r, 403, "insufficient_scope")

    def test_symfony_publisher_token_variants(self):
        topic = "access/42"
        with self.browser_subscribe(topic, subscriber_token([topic])) as sub:
            ids = []
            # URI template publish selector.
            t1 = legacy_token(PUB_SECRET, publish=["access/{id}"])
            ids.append(self.assertPublished(publish(self.hub, [topic], data="a", private=True, token=t1)))
            # Integer exp and no subscribe member.
            t2 = legacy_token(PUB_SECRET, mercure={"publish": ["*"]}, extra={"exp": int(time.time() + 600)})
            ids.append(self.assertPublished(publish(self.hub, [topic], data="b", private=True, token=t2)))
            # The namespaced claim form, which wins over "mercure".
            t3 = jwt_hs256({"typ": "JWT", "alg": "HS256"},
                           {"exp": time.time() + 600, "https://mercure.rocks/": {"publish": ["access/42"]}},
                           PUB_SECRET)
            ids.append(self.assertPublished(publish(self.hub, [topic], data="c", private=True, token=t3)))
            self.assertEqual([e.id for e in sub.wait_events(3)], ids)

    def test_multiline_data_becomes_several_data_lines(self):
        topic = "access/42"
        with self.browser_subscribe(topic, subscriber_token([topic])) as sub:
            data = "line1\nline2\r\nline3\rline4"
            uid = self.assertPublished(publish(self.hub, [topic], data=data, private=True))
            events = sub.wait_events(1)
            self.assertEqual(len(events), 1, events)
            self.assertEqual(events[0].data_lines, ["line1", "line2", "line3", "line4"])
            self.assertEqual(events[0].raw,
                             ("id: %s\ndata: line1\ndata: line2\ndata: line3\ndata: line4\n\n" % uid).encode())
            # Field injection attempt: the injected lines stay data.
            evil = "x\nid: forged\nevent: mercure\n\ndata: y"
            uid2 = self.assertPublished(publish(self.hub, [topic], data=evil, private=True))
            events = sub.wait_events(2)
            self.assertEqual(len(events), 2, events)
            self.assertEqual(events[1].id, uid2)
            self.assertIsNone(events[1].type)
            self.assertEqual(events[1].data_lines, ["x", "id: forged", "event: mercure", "", "data: y"])

    def test_empty_data_is_an_empty_data_line(self):
        topic = "access/42"
        with self.browser_subscribe(topic, subscriber_token([topic])) as sub:
            uid = self.assertPublished(publish(self.hub, [topic], data="", private=True))
            events = sub.wait_events(1)
            self.assertEqual(len(events), 1, events)
            self.assertEqual(events[0].data, "")
            self.assertEqual(events[0].raw, ("id: %s\ndata: \n\n" % uid).encode())

    def test_alternate_topics(self):
        book = "https://example.test/books/1"
        token = subscriber_token(["access/42"])
        # Subscribed to the canonical topic; authorized by the alternate one.
        by_canonical = self.browser_subscribe(book, token)
        by_alternate = self.browser_subscribe("access/42", token)
        by_template = self.browser_subscribe("https://example.test/books/{id}", token)
        unauthorized = self.browser_subscribe(book, subscriber_token(["access/43"]))
        try:
            uid = self.assertPublished(publish(self.hub, [book, "access/42"], data="both", private=True))
            marker = self.assertPublished(publish(self.hub, [book, "access/42"], data="public"))
            for s in (by_canonical, by_alternate, by_template):
                self.assertEqual([(e.id, e.data) for e in s.wait_events(2)], [(uid, "both"), (marker, "public")])
            self.assertEqual([e.id for e in unauthorized.wait_events(1)], [marker])
        finally:
            for s in (by_canonical, by_alternate, by_template, unauthorized):
                s.close()

    def test_publish_id_is_honoured(self):
        topic = "access/42"
        with self.browser_subscribe(topic, subscriber_token([topic])) as sub:
            wanted = "https://example.test/events/%d" % time.monotonic_ns()
            r = publish(self.hub, [topic], data="x", private=True, id=wanted)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.text, wanted)
            events = sub.wait_events(1)
            self.assertEqual([(e.id, e.data) for e in events], [(wanted, "x")])

    def test_type_and_retry(self):
        topic = "access/42"
        with self.browser_subscribe(topic, subscriber_token([topic])) as sub:
            uid = self.assertPublished(publish(self.hub, [topic], data='{"n":1}', private=True,
                                               type="order.updated", retry=5000))
            events = sub.wait_events(1)
            self.assertEqual(len(events), 1, events)
            ev = events[0]
            self.assertEqual((ev.id, ev.type, ev.retry, ev.data), (uid, "order.updated", "5000", '{"n":1}'))
            lines = ev.raw.decode().split("\n")
            self.assertEqual(sorted(lines[:-2]), sorted(["event: order.updated", "retry: 5000", "id: " + uid,
                                                         'data: {"n":1}']), ev.raw)
            self.assertEqual(lines[-3:], ['data: {"n":1}', "", ""], ev.raw)

    def test_topics_with_spaces_and_unicode(self):
        topic = "room 1/caf\u00e9 & co+"
        token = subscriber_token([topic])
        plus = "topic=" + php_urlencode(topic)  # space as +
        pct = "topic=" + php_urlencode(topic).replace("+", "%20")
        with SSEClient(self.hub, plus, [cookie(token)]) as a, SSEClient(self.hub, pct, [cookie(token)]) as b:
            uid = self.assertPublished(publish(self.hub, [topic], data="\u2603 snow", private=True))
            for sub in (a, b):
                self.assertEqual([(e.id, e.data) for e in sub.wait_events(1)], [(uid, "\u2603 snow")])

    def test_uri_template_selectors_in_query_and_token(self):
        token = subscriber_token(["access/{id}"])
        with SSEClient(self.hub, "topic=access%2F%7Bid%7D", [cookie(token)]) as sub:
            self.assertEqual(sub.status, 200, sub.body_bytes())
            a = self.assertPublished(publish(self.hub, ["access/7"], data="seven", private=True))
            self.assertPublished(publish(self.hub, ["access/7/x"], data="not matched", private=True))
            b = self.assertPublished(publish(self.hub, ["access/8"], data="eight", private=True))
            sub.wait_events(2)
            sub.read_for(0.2)
            self.assertEqual([(e.id, e.data) for e in sub.events], [(a, "seven"), (b, "eight")])

    def test_large_multiline_json_byte_exact(self):
        rows = ['{"row":%d,"text":"%s"}' % (i, "x\u00e9" * 50) for i in range(2000)]
        data = "[\n" + ",\n".join(rows) + "\n]"
        self.assertLess(len(data.encode()), 1024 * 1024 - 4096)
        with self.browser_subscribe("access/42", subscriber_token(["access/42"])) as sub:
            uid = self.assertPublished(publish(self.hub, ["access/42"], data=data, private=True))
            events = sub.wait_events(1, timeout=20)
            self.assertEqual(len(events), 1)
            self.assertEqual(events[0].data, data)
            self.assertEqual(events[0].raw, ("id: %s\n" % uid).encode() +
                             "".join("data: %s\n" % line for line in data.split("\n")).encode() + b"\n")

    def test_empty_id_is_treated_as_absent(self):
        with self.browser_subscribe("access/42", subscriber_token(["access/42"])) as sub:
            body = b"topic=access%2F42&data=x&private=on&id="
            r = publish(self.hub, None, body=body)
            self.assertEqual(r.status, 200, r)
            self.assertRegex(r.text, UUID7_ID)
            self.assertEqual([e.id for e in sub.wait_events(1)], [r.text])

    def test_cors_preflight_for_publish(self):
        r = request(self.hub, "OPTIONS", HUB_PATH,
                    [("Origin", APP_ORIGIN), ("Access-Control-Request-Method", "POST"),
                     ("Access-Control-Request-Headers", "authorization,cache-control")])
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), APP_ORIGIN)
        methods = [m.strip() for m in (r.header("Access-Control-Allow-Methods") or "").upper().split(",")]
        self.assertIn("POST", methods, r)
        allowed = [h.strip().lower() for h in (r.header("Access-Control-Allow-Headers") or "").split(",")]
        self.assertIn("authorization", allowed, r)
        self.assertIn("cache-control", allowed, r)

    def test_cors_preflight_and_credentials(self):
        r = request(self.hub, "OPTIONS", HUB_PATH + "?topic=access%2F42",
                    [("Origin", APP_ORIGIN), ("Access-Control-Request-Method", "GET"),
                     ("Access-Control-Request-Headers", "last-event-id")])
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), APP_ORIGIN)
        self.assertEqual(r.header("Access-Control-Allow-Credentials"), "true")
        methods = (r.header("Access-Control-Allow-Methods") or "").upper()
        self.assertIn("GET", [m.strip() for m in methods.split(",")], r)
        allowed = [h.strip().lower() for h in (r.header("Access-Control-Allow-Headers") or "").split(",")]
        self.assertIn("last-event-id", allowed, r)

    def test_cors_reflected_origin_varies_on_origin(self):
        with self.browser_subscribe("access/42", subscriber_token(["access/42"])) as r:
            self.assertEqual(r.header("Access-Control-Allow-Origin"), APP_ORIGIN, r.http.headers)
            vary = " ".join(r.all("Vary")).lower()
            self.assertIn("origin", vary, "a reflected origin needs Vary: Origin: %r" % r.http.headers)

    def test_cors_unknown_origin_gets_no_allow_origin(self):
        with SSEClient(self.hub, "topic=access%2F42", [("Origin", "https://evil.example"),
                                                       cookie(subscriber_token(["access/42"]))]) as sub:
            self.assertIsNone(sub.header("Access-Control-Allow-Origin"), sub.http.headers)
            self.assertIsNone(sub.header("Access-Control-Allow-Credentials"), sub.http.headers)
        r = request(self.hub, "OPTIONS", HUB_PATH,
                    [("Origin", "https://evil.example"), ("Access-Control-Request-Method", "GET")])
        self.assertIsNone(r.header("Access-Control-Allow-Origin"), r)
        r = request(self.hub, "OPTIONS", HUB_PATH,
                    [("Origin", APP_ORIGIN + ".evil.example"), ("Access-Control-Request-Method", "GET")])
        self.assertIsNone(r.header("Access-Control-Allow-Origin"), r)

    def test_every_token_carrier_works(self):
        topic = "access/42"
        token = subscriber_token([topic])
        q = "topic=access%2F42"
        clients = [
            SSEClient(self.hub, q, [("Authorization", "Bearer " + token)]),
            SSEClient(self.hub, q, [("Cookie", "__Secure-mercure_access_token=" + token)]),
            SSEClient(self.hub, q, [("Cookie", "theme=dark; mercureAuthorization=" + token + "; lang=fr")]),
            SSEClient(self.hub, q + "&authorization=" + token),
        ]
        try:
            for c in clients:
                self.assertEqual(c.status, 200, c.body_bytes())
            uid = self.assertPublished(publish(self.hub, [topic], data="carried", private=True))
            for i, c in enumerate(clients):
                self.assertEqual([(e.id, e.data) for e in c.wait_events(1)], [(uid, "carried")], "client %d" % i)
        finally:
            for c in clients:
                c.close()

    def test_draft08_tokens_side_by_side(self):
        aud = self.hub.hub_url
        pub = draft08_token(PUB_SECRET, aud, ["publish"], ["*"])
        sub_token = draft08_token(SUB_SECRET, aud, ["subscribe"], ["access/42"])
        with SSEClient(self.hub, "match=access%2F42", [("Authorization", "Bearer " + sub_token)]) as modern, \
                self.browser_subscribe("access/42", subscriber_token(["access/42"])) as legacy:
            self.assertEqual(modern.status, 200, modern.body_bytes())
            uid = self.assertPublished(publish(self.hub, ["access/42"], data="d8", private=True, token=pub))
            self.assertEqual([e.id for e in modern.wait_events(1)], [uid])
            self.assertEqual([e.id for e in legacy.wait_events(1)], [uid])
        wrong_aud = draft08_token(PUB_SECRET, "https://other.example/.well-known/mercure", ["publish"], ["*"])
        r = publish(self.hub, ["access/42"], data="x", token=wrong_aud)
        self.assertChallenge(r, 401, "invalid_token")

    def test_draft08_urlpattern_grant_and_matcher(self):
        aud = self.hub.hub_url
        sub_token = draft08_token(SUB_SECRET, aud, ["subscribe"], ["https://example.test/books/:id"],
                                  match_type="urlpattern")
        q = "match_urlpattern=" + php_urlencode("https://example.test/books/*")
        with SSEClient(self.hub, q, [("Cookie", "__Secure-mercure_access_token=" + sub_token)]) as sub:
            self.assertEqual(sub.status, 200, sub.body_bytes())
            a = self.assertPublished(publish(self.hub, ["https://example.test/books/1"], data="b1", private=True))
            self.assertPublished(publish(self.hub, ["https://example.test/books/1/reviews"], data="nested",
                                         private=True))  # matcher yes, grant no
            self.assertPublished(publish(self.hub, ["https://example.test/authors/1"], data="author"))
            b = self.assertPublished(publish(self.hub, ["https://example.test/books/2"], data="b2"))
            sub.wait_events(2)
            sub.read_for(0.2)
            self.assertEqual([(e.id, e.data) for e in sub.events], [(a, "b1"), (b, "b2")])

    def test_curl_publisher(self):
        """curl as the publisher: -d fields, a large body with Expect: 100-continue, a chunked upload."""
        url = "http://127.0.0.1:%d%s" % (self.hub.port, HUB_PATH)
        auth = "Authorization: Bearer " + publisher_token()
        with self.browser_subscribe("access/42", subscriber_token(["access/42"])) as sub:
            p = subprocess.run(["curl", "-sS", "--max-time", "10", "-H", auth, "-d", "topic=access/42",
                                "-d", 'data={"hello":"world"}', "-d", "private=on", url],
                               capture_output=True, timeout=20)
            self.assertEqual(p.returncode, 0, p.stderr)
            first = p.stdout.decode()
            self.assertRegex(first, UUID7_ID)
            body = "topic=access%2F42&private=on&data=" + "y" * 200000
            p = subprocess.run(["curl", "-sS", "-v", "--max-time", "10", "-H", auth, "-H", "Expect: 100-continue",
                                "--data-binary", "@-", url], input=body.encode(), capture_output=True, timeout=20)
            self.assertEqual(p.returncode, 0, p.stderr)
            second = p.stdout.decode()
            self.assertRegex(second, UUID7_ID)
            self.assertIn(b"< HTTP/1.1 100 Continue", p.stderr, "no interim 100 Continue (curl waited 1s)")
            p = subprocess.run(["curl", "-sS", "--max-time", "10", "-H", auth, "-H", "Transfer-Encoding: chunked",
                                "--data-binary", "@-", url], input=b"topic=access%2F42&private=on&data=chunked",
                               capture_output=True, timeout=20)
            self.assertEqual(p.returncode, 0, p.stderr)
            third = p.stdout.decode()
            self.assertRegex(third, UUID7_ID)
            events = sub.wait_events(3)
            self.assertEqual([(e.id, len(e.data)) for e in events],
                             [(first, len('{"hello":"world"}')), (second, 200000), (third, len("chunked"))])

    def test_curl_subscriber_with_cookie(self):
        """curl as the real client: -N streams, --cookie like the browser's."""
        url = "http://127.0.0.1:%d%s?topic=access%%2F42" % (self.hub.port, HUB_PATH)
        proc = subprocess.Popen(["curl", "-sS", "-N", "-i", "--max-time", "20", "-H", "Origin: " + APP_ORIGIN,
                                 "--cookie", "mercureAuthorization=" + subscriber_token(["access/42"]), url],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out = b""
            deadline = time.time() + 10
            while b"\r\n\r\n:\n" not in out and time.time() < deadline:
                ready, _, _ = select.select([proc.stdout], [], [], 0.2)
                if ready:
                    chunk = os.read(proc.stdout.fileno(), 65536)
                    if not chunk:
                        break
                    out += chunk
            self.assertIn(b"\r\n\r\n:\n", out, "curl did not see the stream open: %r" % out)
            uid = self.assertPublished(publish(self.hub, ["access/42"], data=PHP_JSON, private=True))
            want = ("id: %s\ndata: %s\n\n" % (uid, PHP_JSON)).encode()
            deadline = time.time() + 10
            while want not in out and time.time() < deadline:
                ready, _, _ = select.select([proc.stdout], [], [], 0.2)
                if ready:
                    chunk = os.read(proc.stdout.fileno(), 65536)
                    if not chunk:
                        break
                    out += chunk
            self.assertIn(want, out)
            self.assertTrue(out.startswith(b"HTTP/1.1 200"), out[:100])
            self.assertIn(b"access-control-allow-credentials: true", out.lower())
        finally:
            proc.kill()
            proc.wait()


class AnonymousAllowed(HubTestCase):
    """With --anonymous: anonymous subscribers get public updates only, live and on replay."""
    hub_args = ("--anonymous",)

    def test_anonymous_gets_public_updates_only(self):
        topic = "access/%d" % time.monotonic_ns()
        q = "topic=" + php_urlencode(topic)
        with SSEClient(self.hub, q) as anon, \
                SSEClient(self.hub, q, [cookie(subscriber_token([topic]))]) as user:
            self.assertEqual(anon.status, 200, anon.body_bytes())
            secret = self.assertPublished(publish(self.hub, [topic], data="secret", private=True))
            public = self.assertPublished(publish(self.hub, [topic], data="public"))
            self.assertEqual([e.id for e in user.wait_events(2)], [secret, public])
            self.assertEqual([(e.id, e.data) for e in anon.wait_events(1)], [(public, "public")])
            anon.read_for(0.2)
            self.assertEqual(len(anon.events), 1, anon.events)
        with SSEClient(self.hub, q + "&lastEventID=earliest") as replay:
            replay.wait_events(1)
            replay.read_for(0.3)
            self.assertEqual([e.id for e in replay.events], [public])
            self.assertNotIn(b"secret", replay.body_bytes())

    def test_private_is_presence_only(self):
        topic = "presence/%d" % time.monotonic_ns()
        with SSEClient(self.hub, "topic=" + php_urlencode(topic)) as anon:
            for value in ("", "off", "false", "0"):
                body = ("topic=%s&data=%s&private=%s" % (php_urlencode(topic), value or "empty", value)).encode()
                self.assertEqual(publish(self.hub, None, body=body).status, 200)
            body = ("topic=%s&data=bare&private" % php_urlencode(topic)).encode()
            self.assertEqual(publish(self.hub, None, body=body).status, 200)
            marker = self.assertPublished(publish(self.hub, [topic], data="marker"))
            self.assertEqual([(e.id, e.data) for e in anon.wait_events(1)], [(marker, "marker")],
                             "private=<anything> must make the update private")

    def test_invalid_token_still_refused_when_anonymous(self):
        bad = subscriber_token(["*"], secret="wrong-wrong-wrong-wrong-wrong-wrong")
        with SSEClient(self.hub, "topic=x", [cookie(bad)]) as s:
            self.assertChallenge(s, 401, "invalid_token")


class TokenPresentation(HubTestCase):
    hub_args = ("--publish_origins", APP_ORIGIN + ",https://*.partner.test")

    def test_authorization_header_wins_over_cookie(self):
        topic = "access/42"
        good = subscriber_token([topic])
        bad = subscriber_token([topic], secret="wrong-wrong-wrong-wrong-wrong-wrong")
        with SSEClient(self.hub, "topic=access%2F42", [("Authorization", "Bearer " + good), cookie(bad)]) as s:
            self.assertEqual(s.status, 200, s.body_bytes())
            uid = self.assertPublished(publish(self.hub, [topic], data="x", private=True))
            self.assertEqual([e.id for e in s.wait_events(1)], [uid])
        with SSEClient(self.hub, "topic=access%2F42", [("Authorization", "Bearer " + bad), cookie(good)]) as s:
            self.assertChallenge(s, 401, "invalid_token")

    def test_bearer_scheme_is_case_insensitive(self):
        token = subscriber_token(["access/42"])
        for scheme in ("bearer", "BEARER"):
            with SSEClient(self.hub, "topic=access%2F42", [("Authorization", scheme + " " + token)]) as s:
                self.assertEqual(s.status, 200, (scheme, s.body_bytes()))

    def test_cookie_publish_needs_an_allowed_origin(self):
        body = symfony_body(["access/42"], "x")
        jar = cookie(publisher_token())
        form = ("Content-Type", "application/x-www-form-urlencoded")
        r = request(self.hub, "POST", HUB_PATH, [jar, form], body)
        self.assertEqual(r.status, 400, "cookie publish without Origin/Referer: %r" % r)
        self.assertChallenge(r, 400, "invalid_request")
        r = request(self.hub, "POST", HUB_PATH, [jar, form, ("Origin", APP_ORIGIN)], body)
        self.assertEqual(r.status, 200, "cookie publish from an allowed origin: %r" % r)
        r = request(self.hub, "POST", HUB_PATH, [jar, form, ("Referer", APP_ORIGIN + "/page?x=1")], body)
        self.assertEqual(r.status, 200, "cookie publish with an allowed Referer: %r" % r)
        # A bearer publish is not subject to the origin check.
        r = publish(self.hub, ["access/42"], "x", headers=[("Origin", "https://evil.example")])
        self.assertEqual(r.status, 200, r)

    def test_cookie_publish_origin_wildcard_entry(self):
        """publish_origins entries may hold one * wildcard (reference hub, digest 1.5.5)."""
        body = symfony_body(["access/42"], "x")
        jar = cookie(publisher_token())
        form = ("Content-Type", "application/x-www-form-urlencoded")
        r = request(self.hub, "POST", HUB_PATH, [jar, form, ("Origin", "https://shop.partner.test")], body)
        self.assertEqual(r.status, 200, "https://*.partner.test should allow https://shop.partner.test: %r" % r)
        r = request(self.hub, "POST", HUB_PATH, [jar, form, ("Origin", "http://shop.partner.test")], body)
        self.assertNotEqual(r.status, 200, "the scheme is part of the entry: %r" % r)

    def test_cookie_publish_from_a_disallowed_origin_is_400_invalid_request(self):
        """Reference hub (digest 1.5.5): Origin/Referer not in publish_origins -> 400 invalid_request."""
        body = symfony_body(["access/42"], "x")
        jar = cookie(publisher_token())
        form = ("Content-Type", "application/x-www-form-urlencoded")
        r = request(self.hub, "POST", HUB_PATH, [jar, form, ("Origin", "https://evil.example")], body)
        self.assertNotEqual(r.status, 200, r)
        self.assertChallenge(r, 400, "invalid_request")
        r = request(self.hub, "POST", HUB_PATH, [jar, form, ("Referer", "https://evil.example/x")], body)
        self.assertChallenge(r, 400, "invalid_request")


class TokenExpiry(HubTestCase):
    def test_subscription_closed_no_later_than_token_exp(self):
        token = subscriber_token(["access/42"], exp_in=2)
        with SSEClient(self.hub, "topic=access%2F42", [cookie(token)]) as s:
            self.assertEqual(s.status, 200, s.body_bytes())
            t0 = time.time()
            self.assertTrue(s.wait_ended(timeout=6), "the stream outlived its token's exp")
            self.assertLess(time.time() - t0, 4.5)
            # Nothing private after exp.
            publish(self.hub, ["access/42"], data="late", private=True)
            s.read_for(0.3)
            self.assertEqual(s.events, [])


class UseCaseRedis(UseCase):
    """The use case, unchanged, on one node of the redis transport (a real
    redis-server started for the class; test_cluster.py has several nodes)."""
    hub_transport = "redis"


if __name__ == "__main__":
    main()
