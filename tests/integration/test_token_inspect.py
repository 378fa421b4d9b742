"""`quicksilver token inspect` against each reason a hub refuses a token, the
tokens it accepts (legacy and draft-08), and the grant that decides a publish
or a private delivery for exact, URI Template and URL Pattern selectors; then
the refusals of a running hub, which give the same reasons."""
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hubtest  # noqa: E402
from hubtest import PUB_SECRET, SUB_SECRET  # noqa: E402

LISTEN = "127.0.0.1:4711"
HUB_URL = "http://127.0.0.1:4711/.well-known/mercure"
DETAIL = "https://mercure.rocks/authorization-detail"
ISSUER = "https://issuer.example"
ISSUER_SECRET = "issuer-secret-0123456789abcdef-!ChangeThis!"
SECRETS = (PUB_SECRET, SUB_SECRET, ISSUER_SECRET)


def sign(header, claims, secret, digest=hashlib.sha256):
    h = hubtest.b64url(json.dumps(header, separators=(",", ":")).encode())
    c = hubtest.b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), (h + "." + c).encode(), digest).digest()
    return h + "." + c + "." + hubtest.b64url(sig)


def draft08(actions, topics, secret=PUB_SECRET, aud=HUB_URL, exp_in=3600, header=None, **extra):
    claims = {"authorization_details": [{"type": DETAIL, "actions": actions, "topics": topics}]}
    if aud is not None:
        claims["aud"] = aud
    if exp_in is not None:
        claims["exp"] = int(time.time()) + exp_in
    claims.update(extra)
    return sign(header or {"alg": "HS256", "typ": "at+jwt"}, claims, secret)


def inspect(token, *args, stdin=None):
    cmd = [hubtest.binary(), "token", "inspect", "--listen", LISTEN, "--publisher_jwt", PUB_SECRET,
           "--subscriber_jwt", SUB_SECRET] + list(args) + [token]
    r = subprocess.run(cmd, input=stdin, capture_output=True, timeout=30, env=hubtest.hub_env(), text=True)
    out = r.stdout + r.stderr
    for secret in SECRETS:
        assert secret not in out, "a key was printed:\n" + out
    return r.returncode, out


class Inspect(unittest.TestCase):
    def check(self, token, expected_rc, *texts, args=()):
        rc, out = inspect(token, *args)
        for text in texts:
            self.assertIn(text, out)
        self.assertEqual(rc, expected_rc, out)
        return out

    # ---- accepted

    def test_accepted_legacy_token(self):
        out = self.check(hubtest.legacy_token(PUB_SECRET, publish=["*"]), 0,
                         "format       legacy (mercure claim)",
                         "publisher    accepted by publisher key 1 of 1 (HS256, legacy key)",
                         "legacy rules: exp optional, aud, typ and iss not checked",
                         "publish   #1 topic       `*`")
        self.assertIn("subscriber   refused: wrong signature", out)

    def test_accepted_draft08_token(self):
        self.check(draft08(["subscribe"], [{"match": "https://example.com/books/1"}], secret=SUB_SECRET), 0,
                   "format       draft-08 (authorization_details)",
                   "subscriber   accepted by subscriber key 1 of 1 (HS256, legacy key)",
                   "draft-08 rules (legacy key): exp required, aud checked when present",
                   "subscribe #1 exact       `https://example.com/books/1`",
                   "expected aud `%s`" % HUB_URL)

    def test_token_from_standard_input(self):
        rc, out = inspect("-", "--publish", stdin=hubtest.legacy_token(PUB_SECRET, publish=["*"]) + "\n")
        self.assertEqual(rc, 0, out)
        self.assertIn("publisher    accepted", out)
        self.assertNotIn("subscriber", out)

    # ---- one test per refusal cause

    def test_wrong_key(self):
        self.check(hubtest.legacy_token("another-secret-entirely", publish=["*"]), 1,
                   "publisher    refused: wrong signature: no publisher HS256 key of this hub verifies it",
                   "grants       (of an unverified token)")

    def test_algorithm_not_allowed(self):
        token = sign({"alg": "HS384", "typ": "JWT"}, {"mercure": {"publish": ["*"]}}, PUB_SECRET, hashlib.sha384)
        self.check(token, 1, "refused: algorithm not allowed: the token is signed with HS384, the publisher keys "
                   "that apply accept HS256")

    def test_expired(self):
        token = hubtest.legacy_token(PUB_SECRET, publish=["*"], exp_in=-125)
        out = self.check(token, 1, "publisher    refused: expired since ")
        self.assertRegex(out, r"expired since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(2 min \d+ s ago\)")

    def test_not_yet_valid(self):
        token = hubtest.legacy_token(PUB_SECRET, publish=["*"], extra={"nbf": int(time.time()) + 7200})
        out = self.check(token, 1, "publisher    refused: not yet valid: nbf is ")
        self.assertRegex(out, r"\(in (1 h 59 min|2 h 0 min)\)")

    def test_aud_mismatch_names_the_expected_value(self):
        token = draft08(["publish"], [{"match": "*"}], aud="https://elsewhere.example/.well-known/mercure")
        self.check(token, 1, "publisher    refused: wrong aud: the token's aud is "
                   "`https://elsewhere.example/.well-known/mercure`, this hub expects `%s`" % HUB_URL)

    def test_resource_identifier_is_the_expected_aud(self):
        token = draft08(["publish"], [{"match": "*"}])
        self.check(token, 1, "this hub expects `https://hub.example/`",
                   args=("--resource_identifier", "https://hub.example/"))

    def test_typ_of_a_trusted_issuer_token(self):
        token = draft08(["publish"], [{"match": "*"}], secret=ISSUER_SECRET, iss=ISSUER,
                        header={"alg": "HS256", "typ": "JWT"})
        self.check(token, 1, "publisher    refused: wrong typ: the header says `JWT`, and keys of trusted "
                   "issuers apply the draft-08 rules, which need typ at+jwt",
                   args=("--issuer", "%s;jwt=%s" % (ISSUER, ISSUER_SECRET)))

    def test_accepted_by_a_trusted_issuer_key(self):
        token = draft08(["publish"], [{"match": "*"}], secret=ISSUER_SECRET, iss=ISSUER)
        self.check(token, 0, "publisher    accepted by publisher key 2 of 2 (HS256, of issuer `%s`)" % ISSUER,
                   "draft-08 rules: typ at+jwt, exp required, aud checked, trusted iss",
                   args=("--issuer", "%s;jwt=%s" % (ISSUER, ISSUER_SECRET)))

    def test_issuer_without_a_key_for_the_role(self):
        token = draft08(["publish"], [{"match": "*"}], secret=ISSUER_SECRET, iss=ISSUER)
        self.check(token, 1, "publisher    refused: the token's issuer `%s` has keys on this hub, but no "
                   "publisher key" % ISSUER,
                   args=("--publish", "--issuer", "%s;subscriber_jwt=%s" % (ISSUER, ISSUER_SECRET)))

    def test_unknown_kid(self):
        jwk = json.dumps({"kty": "oct", "alg": "HS256", "kid": "key-2026",
                          "k": hubtest.b64url(PUB_SECRET.encode())})
        token = sign({"alg": "HS256", "typ": "JWT", "kid": "key-2025"}, {"mercure": {"publish": ["*"]}},
                     PUB_SECRET)
        rc, out = inspect(token, "--publish", "--publisher_jwt", jwk)
        self.assertEqual(rc, 1, out)
        self.assertIn("publisher    refused: unknown kid: no publisher key has the kid `key-2025`", out)

    def test_legacy_and_draft08_rules_differ_on_exp(self):
        # The same legacy key: a legacy token may live forever, a draft-08 one may not.
        legacy = sign({"alg": "HS256", "typ": "JWT"}, {"mercure": {"publish": ["*"]}}, PUB_SECRET)
        self.check(legacy, 0, "legacy rules", args=("--publish",))
        self.check(draft08(["publish"], [{"match": "*"}], exp_in=None), 1,
                   "publisher    refused: missing exp: draft-08 tokens (with authorization_details) must expire",
                   args=("--publish",))

    def test_malformed_token(self):
        rc, out = inspect("not-a-token")
        self.assertEqual(rc, 1, out)
        self.assertIn("token        refused: ", out)

    def test_no_key_configured_is_a_configuration_error(self):
        r = subprocess.run([hubtest.binary(), "token", "inspect", "x.y.z"], capture_output=True, text=True,
                           timeout=30, env=hubtest.hub_env())
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("no key is configured", r.stderr)

    # ---- grant decisions

    def test_exact_selector(self):
        token = draft08(["publish", "subscribe"], [{"match": "https://example.com/a"}])
        self.check(token, 0, "publish to   `https://example.com/a`: allowed by publish grant #1 (exact "
                   "`https://example.com/a`)", args=("--publish", "--topic", "https://example.com/a"))
        self.check(token, 1, "publish to   `https://example.com/b`: refused: the token does not grant "
                   "publishing to this topic", args=("--publish", "--topic", "https://example.com/b"))

    def test_uri_template_selector(self):
        token = hubtest.legacy_token(PUB_SECRET, publish=["https://example.com/x", "https://example.com/books/{id}"])
        self.check(token, 0, "publish to   `https://example.com/books/42`: allowed by publish grant #2 (topic "
                   "`https://example.com/books/{id}`)", args=("--publish", "--topic", "https://example.com/books/42"))
        # A publish needs every topic: the second one is refused.
        self.check(token, 1, "publish to   `https://example.com/authors/1`: refused",
                   args=("--publish", "--topic", "https://example.com/books/1", "--topic",
                         "https://example.com/authors/1"))

    def test_url_pattern_selector(self):
        token = draft08(["subscribe"], [{"match": "https://example.com/books/:id", "match_type": "urlpattern"}],
                        secret=SUB_SECRET)
        self.check(token, 0, "private      `https://example.com/books/7`: delivered through subscribe grant #1 "
                   "(urlpattern `https://example.com/books/:id`)",
                   args=("--subscribe", "--topic", "https://example.com/books/7"))
        self.check(token, 1, "private      `https://example.com/books/7/reviews`: not delivered: no subscribe "
                   "grant of the token matches this topic",
                   args=("--subscribe", "--topic", "https://example.com/books/7/reviews"))
        # Private delivery needs any topic to be granted.
        self.check(token, 0, "an update with these topics is delivered",
                   args=("--subscribe", "--topic", "https://example.com/other", "--topic",
                         "https://example.com/books/7"))


class HubRefusals(unittest.TestCase):
    """The running hub answers the same reasons."""

    @classmethod
    def setUpClass(cls):
        cls.hub = hubtest.Hub()

    @classmethod
    def tearDownClass(cls):
        cls.hub.stop()

    def test_publish_names_the_first_topic_not_granted(self):
        token = hubtest.publisher_token(topics=["https://example.com/a"])
        body = "topic=%s&topic=%s&data=x" % (urllib.parse.quote("https://example.com/a", safe=""),
                                             urllib.parse.quote("https://example.com/b", safe=""))
        r = hubtest.publish(self.hub, None, token=token, body=body.encode())
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.text.strip(), "the token does not grant publishing to topic `https://example.com/b`")

    def test_wrong_aud_names_the_expected_one(self):
        token = draft08(["publish"], [{"match": "*"}], aud="https://elsewhere.example/")
        r = hubtest.publish(self.hub, ["https://example.com/a"], token=token)
        self.assertEqual(r.status, 401, r)
        self.assertIn("this hub expects `%s`" % self.hub.hub_url, r.text)

    def test_expired_says_since_when(self):
        r = hubtest.publish(self.hub, ["https://example.com/a"], token=hubtest.publisher_token(exp_in=-30))
        self.assertEqual(r.status, 401, r)
        self.assertRegex(r.text, r"^expired since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+ s ago\)")

    def test_cookie_hidden_by_the_authorization_header(self):
        good = hubtest.subscriber_token(["*"])
        bad = hubtest.subscriber_token(["*"], secret="not-the-subscriber-secret")
        r = hubtest.request(self.hub, "GET", hubtest.HUB_PATH + "?topic=x",
                            [("Authorization", "Bearer " + bad), ("Cookie", "mercureAuthorization=" + good)])
        self.assertEqual(r.status, 401, r)
        self.assertIn("wrong signature", r.text)
        self.assertIn("the mercureAuthorization cookie was ignored because the Authorization header carried a "
                      "token", r.text)
        # Without the cookie, no such remark.
        r = hubtest.request(self.hub, "GET", hubtest.HUB_PATH + "?topic=x", [("Authorization", "Bearer " + bad)])
        self.assertEqual(r.status, 401, r)
        self.assertNotIn("cookie", r.text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
