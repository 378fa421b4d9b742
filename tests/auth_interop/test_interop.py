"""Token verification against other implementations, through the real binary.

Every JWS algorithm is signed twice, by the `openssl` command line (ECDSA
DER converted to JOSE R || S here) and by Node's `crypto` (sign.js), each
with keys made by `openssl genpkey`; one trusted issuer per algorithm holds
the public key (PEM file, or the JWK Node exports). Then the refusals
(tampered, expired, not yet valid, wrong aud/iss/typ, unknown kid, algorithm
confusion), a JWK Set rotated under the hub by a local HTTP server, and a
subscriber whose token expires after 2 s: closed on time, it resumes without
loss with a new token and Last-Event-ID.
"""
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import hubtest  # noqa: E402

OPENSSL = os.environ.get("QS_OPENSSL") or shutil.which("openssl")
NODE = os.environ.get("QS_NODE") or shutil.which("node")
RESOURCE = "https://hub.example/.well-known/mercure"
ALGS = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
        "ES512", "EdDSA"]
TOPIC = "https://example.com/books/1"


def run(args, data=None):
    return subprocess.run(args, input=data, capture_output=True, check=True).stdout


def b64url(data):
    return hubtest.b64url(data)


def der_to_jose(der, size):
    """ECDSA-Sig-Value (DER SEQUENCE of two INTEGERs) to R || S (RFC 7518 §3.4)."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        value = der[i + 2:i + 2 + n].lstrip(b"\x00")
        out += value.rjust(size, b"\x00")
        i += 2 + n
    return out


class Keys:
    """Key files made by `openssl genpkey` in a temporary folder."""

    def __init__(self, folder):
        self.folder = folder
        self.private = {}
        self.public = {}
        self.secret = {}

        def genpkey(name, *opts):
            path = os.path.join(folder, name + ".pem")
            run([OPENSSL, "genpkey", "-out", path] + list(opts))
            pub = os.path.join(folder, name + ".pub.pem")
            run([OPENSSL, "pkey", "-in", path, "-pubout", "-out", pub])
            return path, pub

        rsa = genpkey("rsa", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
        curves = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
        for alg in ALGS:
            if alg.startswith("HS"):
                path = os.path.join(folder, alg + ".secret")
                with open(path, "w") as f:
                    f.write("interop-%s-secret-" % alg + os.urandom(8).hex())
                self.secret[alg] = path
            elif alg[:2] in ("RS", "PS"):
                self.private[alg], self.public[alg] = rsa
            elif alg == "EdDSA":
                self.private[alg], self.public[alg] = genpkey("ed25519", "-algorithm", "ED25519")
            else:
                self.private[alg], self.public[alg] = genpkey(
                    alg, "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:" + curves[alg])

    def read(self, path):
        with open(path) as f:
            return f.read()


def openssl_sign(keys, alg, signing_input):
    data = signing_input.encode()
    digest = "-sha" + alg[2:] if alg != "EdDSA" else None
    if alg.startswith("HS"):
        key = keys.read(keys.secret[alg]).encode().hex()
        return run([OPENSSL, "dgst", digest, "-mac", "HMAC", "-macopt", "hexkey:" + key, "-binary"], data)
    if alg == "EdDSA":
        path = os.path.join(keys.folder, "input.bin")
        with open(path, "wb") as f:
            f.write(data)
        return run([OPENSSL, "pkeyutl", "-sign", "-inkey", keys.private[alg], "-rawin", "-in", path])
    args = [OPENSSL, "dgst", digest, "-sign", keys.private[alg], "-binary"]
    if alg.startswith("PS"):
        args += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]
    sig = run(args, data)
    if alg.startswith("ES"):
        sig = der_to_jose(sig, {"ES256": 32, "ES384": 48, "ES512": 66}[alg])
    return sig


def node_batch(requests):
    out = run([NODE, os.path.join(HERE, "sign.js")], json.dumps(requests).encode())
    return json.loads(out)


def claims(iss, exp_in=600, aud=RESOURCE, **extra):
    c = {"iss": iss, "aud": aud, "exp": time.time() + exp_in,
         "authorization_details": [{"type": "https://mercure.rocks/authorization-detail",
                                    "actions": ["publish", "subscribe"], "topics": [{"match": "*"}]}]}
    c.update(extra)
    return c


def signing_input(header, payload):
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(payload, separators=(",", ":")).encode())
    return h + "." + p


def openssl_token(keys, alg, payload, kid=None, typ="at+jwt"):
    header = {"alg": alg, "typ": typ}
    if kid:
        header["kid"] = kid
    si = signing_input(header, payload)
    return si + "." + b64url(openssl_sign(keys, alg, si))


class JWKSServer:
    """Serves one JWK Set document, which the test replaces."""

    def __init__(self):
        self.doc = b'{"keys":[]}'
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(outer.doc)))
                self.end_headers()
                self.wfile.write(outer.doc)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def set_keys(self, jwks):
        self.doc = json.dumps({"keys": jwks}).encode()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class InteropTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.mkdtemp(prefix="qs-interop-")
        cls.keys = Keys(cls.folder)
        # JWKs exported by Node: one static (with a kid), two for the JWK Set.
        cls.jwks_keys = {}
        for name in ("jwks-a", "jwks-b"):
            path = os.path.join(cls.folder, name + ".pem")
            run([OPENSSL, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path])
            cls.jwks_keys[name] = path
        exported = node_batch([{"jwk": cls.keys.read(cls.keys.public["ES256"])},
                               {"jwk": cls.keys.read(cls.jwks_keys["jwks-a"])},
                               {"jwk": cls.keys.read(cls.jwks_keys["jwks-b"])}])
        static_jwk = dict(exported[0], kid="node-kid", alg="ES256")
        cls.jwk_path = os.path.join(cls.folder, "static.jwk.json")
        with open(cls.jwk_path, "w") as f:
            json.dump(static_jwk, f)
        cls.jwks_a = dict(exported[1], kid="a", use="sig")
        cls.jwks_b = dict(exported[2], kid="b", use="sig")
        cls.jwks = JWKSServer()
        cls.jwks.set_keys([cls.jwks_a])

        args = ["--resource_identifier", RESOURCE, "--jwks_unknown_kid_interval", "100ms",
                "--issuer", "https://jwk.example;jwt=@%s" % cls.jwk_path,
                "--issuer", "https://jwks.example;jwks_url=http://127.0.0.1:%d/jwks.json" % cls.jwks.port]
        for alg in ALGS:
            key = cls.keys.secret[alg] if alg.startswith("HS") else cls.keys.public[alg]
            args += ["--issuer", "https://%s.example;jwt=@%s;jwt_alg=%s" % (alg.lower(), key, alg)]
        cls.hub = hubtest.Hub(args)

    @classmethod
    def tearDownClass(cls):
        code = cls.hub.stop()
        cls.jwks.close()
        shutil.rmtree(cls.folder, ignore_errors=True)
        if code != 0:
            raise AssertionError("hub exited with %r:\n%s" % (code, cls.hub.stderr()))

    def publish_status(self, token):
        return hubtest.publish(self.hub, [TOPIC], data="x", token=token).status

    def test_openssl_tokens_of_every_algorithm(self):
        for alg in ALGS:
            token = openssl_token(self.keys, alg, claims("https://%s.example" % alg.lower()))
            self.assertEqual(self.publish_status(token), 200, "openssl %s: %s" % (alg, self.hub.stderr()[-400:]))

    def test_node_tokens_of_every_algorithm(self):
        inputs = []
        for alg in ALGS:
            key = self.keys.read(self.keys.secret[alg] if alg.startswith("HS") else self.keys.private[alg])
            si = signing_input({"alg": alg, "typ": "at+jwt"}, claims("https://%s.example" % alg.lower()))
            inputs.append({"alg": alg, "key": key, "input": si})
        for request, sig in zip(inputs, node_batch(inputs)):
            token = request["input"] + "." + sig
            self.assertEqual(self.publish_status(token), 200, "node %s" % request["alg"])

    def test_quicksilver_token_command_for_every_algorithm(self):
        for alg in ALGS:
            key = self.keys.secret[alg] if alg.startswith("HS") else self.keys.private[alg]
            r = hubtest.run_binary(["token", "--key", "@" + key, "--alg", alg, "--iss",
                                    "https://%s.example" % alg.lower(), "--aud", RESOURCE, "--publish", "*"])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(self.publish_status(r.stdout.decode().strip()), 200, "token command %s" % alg)

    def test_static_jwk_with_kid(self):
        ok = openssl_token(self.keys, "ES256", claims("https://jwk.example"), kid="node-kid")
        self.assertEqual(self.publish_status(ok), 200)
        no_kid = openssl_token(self.keys, "ES256", claims("https://jwk.example"))
        self.assertEqual(self.publish_status(no_kid), 200)
        unknown = openssl_token(self.keys, "ES256", claims("https://jwk.example"), kid="other")
        self.assertEqual(self.publish_status(unknown), 401)

    def test_refusals(self):
        es = "https://es256.example"
        good = openssl_token(self.keys, "ES256", claims(es))
        h, p, s = good.split(".")
        forged_claims = b64url(json.dumps(claims(es, exp_in=99999)).encode())
        rsa_pem = self.keys.read(self.keys.public["RS256"])
        hs_confusion = signing_input({"alg": "HS256", "typ": "at+jwt"}, claims("https://rs256.example"))
        hs_confusion += "." + node_batch([{"alg": "HS256", "key": rsa_pem, "input": hs_confusion}])[0]
        none = signing_input({"alg": "none", "typ": "at+jwt"}, claims(es)) + "."
        cases = {
            "tampered payload": h + "." + forged_claims + "." + s,
            "tampered signature": h + "." + p + "." + ("A" if s[0] != "A" else "B") + s[1:],
            "expired": openssl_token(self.keys, "ES256", claims(es, exp_in=-5)),
            "not yet valid": openssl_token(self.keys, "ES256", claims(es, nbf=time.time() + 3600)),
            "wrong aud": openssl_token(self.keys, "ES256", claims(es, aud="https://other.example/.well-known/mercure")),
            "no aud": openssl_token(self.keys, "ES256", {k: v for k, v in claims(es).items() if k != "aud"}),
            "no exp": openssl_token(self.keys, "ES256", {k: v for k, v in claims(es).items() if k != "exp"}),
            "another issuer's name": openssl_token(self.keys, "ES256", claims("https://es384.example")),
            "unknown issuer": openssl_token(self.keys, "ES256", claims("https://nobody.example")),
            "wrong typ": openssl_token(self.keys, "ES256", claims(es), typ="JWT"),
            "HS256 with the RSA public key as secret": hs_confusion,
            "alg none": none,
        }
        self.assertEqual(self.publish_status(good), 200)
        for name, token in cases.items():
            r = hubtest.publish(self.hub, [TOPIC], data="x", token=token)
            self.assertEqual(r.status, 401, name)
            self.assertIn('error="invalid_token"', r.header("WWW-Authenticate") or "", name)

    def test_jwks_rotation(self):
        iss = "https://jwks.example"

        def token(name, kid):
            si = signing_input({"alg": "ES256", "typ": "at+jwt", "kid": kid}, claims(iss))
            key = self.keys.read(self.jwks_keys[name])
            return si + "." + node_batch([{"alg": "ES256", "key": key, "input": si}])[0]

        self.assertEqual(self.publish_status(token("jwks-a", "a")), 200)
        self.jwks.set_keys([self.jwks_b])
        before = self.jwks.requests
        rotated = token("jwks-b", "b")
        # The first token with the new kid is refused and makes the hub fetch the set again.
        self.assertEqual(self.publish_status(rotated), 401)
        deadline = time.time() + 5
        while self.publish_status(rotated) != 200:
            self.assertLess(time.time(), deadline, "the rotated key was never fetched")
            time.sleep(0.05)
        self.assertGreater(self.jwks.requests, before)
        # Key a left the set: its tokens are refused now (a fresh token, not a cached one).
        self.assertEqual(self.publish_status(token("jwks-a", "a")), 401)
        self.jwks.set_keys([self.jwks_a])

    def test_expiring_subscriber_is_closed_on_time_and_resumes(self):
        iss = "https://es256.example"
        token_claims = claims(iss, exp_in=2.0)
        exp = token_claims["exp"]
        short = openssl_token(self.keys, "ES256", token_claims)
        sub = hubtest.SSEClient(self.hub, "topic=" + TOPIC, headers=[("Authorization", "Bearer " + short)])
        self.assertEqual(sub.status, 200)
        publisher = openssl_token(self.keys, "ES256", claims(iss))
        self.assertEqual(hubtest.publish(self.hub, [TOPIC], data="one", id="urn:e:1", token=publisher).status, 200)
        self.assertEqual([e.data for e in sub.wait_id("urn:e:1")], ["one"], self.hub.stderr()[-800:])
        self.assertTrue(sub.wait_ended(timeout=5), "still open after exp")
        closed = time.time()
        sub.close()
        # Never after exp; at most one hub tick (1 s with the default heartbeat) before it.
        self.assertLess(closed, exp + 0.25, "closed %.2f s after exp" % (closed - exp))
        self.assertGreater(closed, exp - 1.1, "closed %.2f s before exp" % (exp - closed))
        # Published while the subscriber is away.
        self.assertEqual(hubtest.publish(self.hub, [TOPIC], data="two", id="urn:e:2", token=publisher).status, 200)
        fresh = openssl_token(self.keys, "ES256", claims(iss))
        again = hubtest.SSEClient(self.hub, "topic=" + TOPIC,
                                  headers=[("Authorization", "Bearer " + fresh), ("Last-Event-ID", "urn:e:1")])
        self.assertEqual(again.status, 200)
        self.assertEqual([e.id for e in again.wait_id("urn:e:2")], ["urn:e:2"])
        again.close()

    def test_legacy_keys_from_pem_and_jwks_file(self):
        """publisher_jwt holding a PEM (inline, from the environment) and
        subscriber_jwks_url a file:// JWK Set: legacy tokens still work."""
        jwks_path = os.path.join(self.folder, "legacy.jwks.json")
        with open(jwks_path, "w") as f:
            json.dump({"keys": [dict(self.jwks_a, alg="ES256")]}, f)
        hub = hubtest.Hub(["--subscriber_jwks_url", "file://" + jwks_path, "--publisher_jwt_alg", "RS256"],
                          keys=False, env={"MERCURE_PUBLISHER_JWT_KEY": self.keys.read(self.keys.public["RS256"])})
        try:
            r = hubtest.run_binary(["token", "--legacy", "--key", "@" + self.keys.private["RS256"], "--alg", "RS256",
                                    "--publish", "*"])
            self.assertEqual(r.returncode, 0, r.stderr)
            legacy = r.stdout.decode().strip()
            self.assertEqual(hubtest.publish(hub, [TOPIC], data="x", token=legacy).status, 200)
            forged = openssl_token(self.keys, "ES256", claims("https://x"))
            self.assertEqual(hubtest.publish(hub, [TOPIC], data="x", token=forged).status, 401)
            si = signing_input({"alg": "ES256", "typ": "JWT", "kid": "a"},
                               {"exp": time.time() + 60, "mercure": {"subscribe": ["*"]}})
            key = self.keys.read(self.jwks_keys["jwks-a"])
            sub_token = si + "." + node_batch([{"alg": "ES256", "key": key, "input": si}])[0]
            sub = hubtest.SSEClient(hub, "topic=" + TOPIC, headers=[("Authorization", "Bearer " + sub_token)])
            self.assertEqual(sub.status, 200)
            sub.close()
        finally:
            self.assertEqual(hub.stop(), 0, hub.stderr())

    def test_connections_per_subject(self):
        hub = hubtest.Hub(["--max_connections_per_subject", "2", "--resource_identifier", RESOURCE,
                           "--issuer", "https://es256.example;jwt=@%s;jwt_alg=ES256" % self.keys.public["ES256"]])
        try:
            def token(sub):
                return openssl_token(self.keys, "ES256", claims("https://es256.example", sub=sub))

            alice = [hubtest.SSEClient(hub, "topic=" + TOPIC, headers=[("Authorization", "Bearer " + token("alice"))])
                     for _ in range(2)]
            self.assertEqual([c.status for c in alice], [200, 200])
            third = hubtest.SSEClient(hub, "topic=" + TOPIC, headers=[("Authorization", "Bearer " + token("alice"))])
            self.assertEqual(third.status, 429)
            third.close()
            bob = hubtest.SSEClient(hub, "topic=" + TOPIC, headers=[("Authorization", "Bearer " + token("bob"))])
            self.assertEqual(bob.status, 200)
            bob.close()
            alice[0].close()
            deadline = time.time() + 5
            while True:  # the hub sees the close asynchronously
                again = hubtest.SSEClient(hub, "topic=" + TOPIC,
                                          headers=[("Authorization", "Bearer " + token("alice"))])
                status = again.status
                again.close()
                if status == 200 or time.time() > deadline:
                    break
                time.sleep(0.05)
            self.assertEqual(status, 200)
            alice[1].close()

            # A token without `sub` is its own principal: the same token is
            # capped, another token without `sub` is not affected.
            anonymous_token = openssl_token(self.keys, "ES256", claims("https://es256.example"))
            other_token = openssl_token(self.keys, "ES256", claims("https://es256.example", jti="other"))
            same = [hubtest.SSEClient(hub, "topic=" + TOPIC, headers=[("Authorization", "Bearer " + anonymous_token)])
                    for _ in range(3)]
            self.assertEqual([c.status for c in same], [200, 200, 429])
            other = hubtest.SSEClient(hub, "topic=" + TOPIC, headers=[("Authorization", "Bearer " + other_token)])
            self.assertEqual(other.status, 200)
            for c in same + [other]:
                c.close()
        finally:
            self.assertEqual(hub.stop(), 0, hub.stderr())

    def test_metadata_lists_authorization_servers(self):
        r = hubtest.request(self.hub, "GET", "/.well-known/oauth-protected-resource/.well-known/mercure")
        doc = json.loads(r.body)
        self.assertEqual(doc["resource"], RESOURCE)
        self.assertEqual(doc["bearer_methods_supported"], ["header"])
        self.assertNotIn("authorization_servers", doc)  # no issuer is marked authorization_server


if __name__ == "__main__":
    if not NODE:
        print("node not found: the Node half is skipped", file=sys.stderr)
    unittest.main(verbosity=2)
