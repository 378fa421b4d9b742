"""What the hub logs: with log_format json every line is one JSON object
(time, level, message, fields); the access log records publishes and
subscription starts and ends at info with the remote address, the status,
the topic count and the subscriber id; no token, cookie or private update
data ever reaches the log, in either format, even at debug."""
import json
import os
import re
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hubtest  # noqa: E402
from hubtest import (Hub, SSEClient, legacy_token, leaked_secrets, php_urlencode, publish, publisher_token,  # noqa: E402
                     subscriber_token)

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class Run:
    """One hub run that publishes and subscribes every way a token travels,
    and is refused a few times; `secrets` are the tokens and private data it
    sent, `lines` the hub's log once it stopped."""

    def __init__(self, test, log_format):
        stamp = str(time.monotonic_ns())
        self.private_data = "private-payload-" + stamp
        self.topic_a = "https://example.com/logs/a/" + stamp
        self.topic_b = "https://example.com/logs/b/" + stamp
        self.refused_topic = "https://example.com/logs/refused/" + stamp
        header_token = subscriber_token([self.topic_a])
        cookie_token = subscriber_token([self.topic_b])
        query_token = subscriber_token([self.topic_a, self.topic_b])
        narrow_publisher = publisher_token(topics=[self.topic_a])
        wrong_key = publisher_token(secret="not-the-hub-key-but-long-enough-1234")
        cookie_and_header = legacy_token(hubtest.SUB_SECRET, subscribe=[self.topic_a])
        self.secrets = [header_token, cookie_token, query_token, narrow_publisher, wrong_key, cookie_and_header,
                        publisher_token()]

        hub = Hub(["--log_format", log_format, "--log_level", "debug"])
        try:
            q = "topic=" + php_urlencode(self.topic_a) + "&topic=" + php_urlencode(self.topic_b)
            subs = [SSEClient(hub, q, [("Authorization", "Bearer " + header_token)]),
                    SSEClient(hub, q, [("Cookie", "theme=dark; mercureAuthorization=" + cookie_token)]),
                    SSEClient(hub, q + "&authorization=" + query_token)]
            for s in subs:
                test.assertEqual(s.status, 200, s.body_bytes())
            r = publish(hub, [self.topic_a, self.topic_b], data=self.private_data, private=True)
            test.assertEqual(r.status, 200, r)
            for s in subs:
                test.assertEqual(s.next_event().data, self.private_data)
                s.close()
            # Refusals: a topic the token does not cover, a key that is not the hub's.
            r = publish(hub, [self.topic_a, self.refused_topic], data=self.private_data, private=True,
                        token=narrow_publisher)
            test.assertEqual(r.status, 403, r)
            r = publish(hub, [self.topic_a], data=self.private_data, token=wrong_key)
            test.assertEqual(r.status, 401, r)
            with SSEClient(hub, q, [("Authorization", "Bearer " + wrong_key),
                                    ("Cookie", "mercureAuthorization=" + cookie_and_header)]) as s:
                test.assertEqual(s.status, 401, s.body_bytes())
            # The ends are logged when the hub sees the closes.
            deadline = time.time() + 10
            while hub.stderr().count("subscription ended") < 3 and time.time() < deadline:
                time.sleep(0.02)
        finally:
            rc = hub.stop()
        test.assertEqual(rc, 0, hub.stderr()[-3000:])
        self.lines = hub.stderr().splitlines()


class JsonLogTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hub_run = Run(cls(), "json")
        cls.records = []
        for n, line in enumerate(cls.hub_run.lines, 1):
            try:
                cls.records.append(json.loads(line))
            except ValueError as e:
                raise AssertionError("log line %d is not JSON (%s): %r" % (n, e, line))

    def find(self, message):
        return [r for r in self.records if r["message"] == message]

    def test_every_line_is_an_object_with_time_level_message_and_fields(self):
        self.assertGreater(len(self.records), 5)
        for r in self.records:
            self.assertEqual(sorted(r), ["fields", "level", "message", "time"], r)
            self.assertRegex(r["time"], TIME)
            self.assertIn(r["level"], ("debug", "info", "warn", "error"))
            self.assertIsInstance(r["message"], str)
            self.assertIsInstance(r["fields"], dict)

    def test_publishes_are_logged_at_info_with_status_and_topic_count(self):
        ok = self.find("publish")
        self.assertEqual(len(ok), 1, ok)
        self.assertEqual(ok[0]["level"], "info")
        self.assertEqual(ok[0]["fields"], {"remote": "127.0.0.1", "status": 200, "topics": 2, "private": "true",
                                           "answered": "true"})
        refused = self.find("publish refused")
        self.assertEqual(sorted(r["fields"]["status"] for r in refused), [401, 403], refused)
        forbidden = [r for r in refused if r["fields"]["status"] == 403][0]
        self.assertEqual(forbidden["fields"]["error"], "insufficient_scope")
        # The decisive detail: the first topic the token does not cover.
        self.assertEqual(forbidden["fields"]["reason"],
                         "the token does not grant publishing to topic `%s`" % self.hub_run.refused_topic)

    def test_subscription_starts_and_ends_name_the_same_subscribers(self):
        started = self.find("subscription started")
        ended = self.find("subscription ended")
        self.assertEqual(len(started), 3, started)
        for r in started:
            self.assertEqual(r["level"], "info")
            self.assertEqual(r["fields"]["remote"], "127.0.0.1")
            self.assertEqual(r["fields"]["status"], 200)
            self.assertEqual(r["fields"]["topics"], 2)
            self.assertIsInstance(r["fields"]["subscriber"], int)
        self.assertEqual(sorted(r["fields"]["subscriber"] for r in started),
                         sorted(r["fields"]["subscriber"] for r in ended))
        for r in ended:
            self.assertIsInstance(r["fields"]["duration_ms"], int)
            self.assertGreaterEqual(r["fields"]["duration_ms"], 0)
        refused = self.find("subscribe refused")
        self.assertEqual([r["fields"]["status"] for r in refused], [401], refused)

    def test_no_token_cookie_or_private_data_in_any_line(self):
        self.assertEqual(leaked_secrets("\n".join(self.hub_run.lines), self.hub_run.secrets), [])
        for line in self.hub_run.lines:
            self.assertNotIn(self.hub_run.private_data, line)
            self.assertNotIn("mercureAuthorization=", line)
            self.assertNotIn("theme=dark", line)


class TextLogTest(unittest.TestCase):
    def test_text_lines_carry_the_same_fields_and_no_secret(self):
        run = Run(self, "text")
        text = "\n".join(run.lines)
        self.assertRegex(text, r"\d{4}-\d\d-\d\dT[\d:.]+Z info  publish remote=127\.0\.0\.1 status=200 topics=2 ")
        self.assertEqual(len(re.findall(r" subscription started remote=\S+ subscriber=\d+ status=200 topics=2",
                                        text)), 3, text[-3000:])
        self.assertIn('publish refused remote=127.0.0.1 status=403 error=insufficient_scope reason="the token '
                      'does not grant publishing to topic `%s`"' % run.refused_topic, text)
        self.assertEqual(leaked_secrets(text, run.secrets), [])
        self.assertNotIn(run.private_data, text)
        self.assertNotIn("mercureAuthorization=", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
