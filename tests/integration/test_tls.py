"""HTTPS (tls_cert, tls_key): publishing and subscribing over TLS with
Python's ssl module and curl (HTTP/1.1 and HTTP/2), ALPN, keep-alive, large events, plaintext sent
to the TLS port, a certificate replaced on SIGHUP, and unusable files refused
at start."""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubtest import HUB_PATH, Hub, SSEClient, main, publish, request, run_binary, subscriber_token


def make_certificate(folder, name, cn):
    """A self-signed P-256 certificate for localhost and 127.0.0.1 (openssl CLI)."""
    cert, key = os.path.join(folder, name + ".crt"), os.path.join(folder, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def client_context(cafile, alpn=None):
    ctx = ssl.create_default_context(cafile=cafile)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def peer_certificate(hub, cafile):
    with socket.create_connection(hub.addr, timeout=10) as raw:
        with client_context(cafile).wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.getpeercert(binary_form=True)


class Tls(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="qs-tls-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.cert, self.key = make_certificate(self.dir, "first", "quicksilver-first")
        self.hub = Hub(["--tls_cert", self.cert, "--tls_key", self.key])
        self.addCleanup(self.hub.kill)
        self.hub.ssl_context = client_context(self.cert)

    def test_hub_url_is_https_and_updates_flow(self):
        self.assertTrue(self.hub.hub_url.startswith("https://"), self.hub.hub_url)
        token = subscriber_token(["access/42"])
        with SSEClient(self.hub, "topic=access%2F42", [("Authorization", "Bearer " + token)]) as s:
            self.assertEqual(s.status, 200)
            big = "x" * 300000  # several TLS records, more than one write
            for data in ("small", big):
                self.assertEqual(publish(self.hub, ["access/42"], data, private=True).status, 200)
            self.assertEqual([e.data for e in s.wait_events(2)], ["small", big])

    def test_a_slow_reader_gets_everything_in_order(self):
        # A small receive buffer: the kernel takes little at a time, so
        # encrypted output waits in flight and the rest queues behind it.
        token = subscriber_token(["slow"])
        with SSEClient(self.hub, "topic=slow", [("Authorization", "Bearer " + token)], rcvbuf=4096) as s:
            self.assertEqual(s.status, 200)
            sent = ["%d:%s" % (i, "y" * 50000) for i in range(20)]
            for data in sent:
                self.assertEqual(publish(self.hub, ["slow"], data, private=True).status, 200)
            time.sleep(0.3)
            self.assertEqual([e.data for e in s.wait_events(len(sent), timeout=30)], sent)

    def test_alpn_prefers_h2_then_http11(self):
        for offered, chosen in ((["h2", "http/1.1"], "h2"), (["http/1.1"], "http/1.1")):
            with socket.create_connection(self.hub.addr, timeout=10) as raw:
                ctx = client_context(self.cert, offered)
                with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                    self.assertEqual(tls.selected_alpn_protocol(), chosen)
                    self.assertIn(tls.version(), ("TLSv1.2", "TLSv1.3"))

    def test_keep_alive_over_one_connection(self):
        import http.client
        conn = http.client.HTTPSConnection("localhost", self.hub.port, timeout=10, context=self.hub.ssl_context)
        try:
            for _ in range(3):
                conn.request("GET", "/healthz")
                r = conn.getresponse()
                r.read()
                self.assertEqual(r.status, 200)
        finally:
            conn.close()

    def test_curl_publishes_and_reads(self):
        url = "https://localhost:%d/healthz" % self.hub.port
        for flag, version in (("--http2", "2"), ("--http1.1", "1.1")):
            p = subprocess.run(["curl", "-sS", flag, "--cacert", self.cert, "-o", "/dev/null", "-w",
                                "%{http_code} %{http_version}", url], capture_output=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.decode(), "200 " + version)
        # Without the CA, curl refuses the self-signed certificate: it is really TLS.
        p = subprocess.run(["curl", "-sS", "-o", "/dev/null", url], capture_output=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)

    def test_plaintext_to_the_tls_port_is_closed_and_the_hub_goes_on(self):
        with socket.create_connection(self.hub.addr, timeout=10) as raw:
            raw.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            data = b""
            try:
                while True:
                    chunk = raw.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except ConnectionResetError:
                pass
            self.assertNotIn(b"HTTP/1.1 200", data)
        self.assertEqual(request(self.hub, "GET", "/healthz").status, 200)

    def test_sighup_replaces_the_certificate_for_new_connections(self):
        before = peer_certificate(self.hub, self.cert)
        cert2, key2 = make_certificate(self.dir, "second", "quicksilver-second")
        shutil.copy(cert2, self.cert)
        shutil.copy(key2, self.key)
        self.hub.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while "certificate reloaded" not in self.hub.stderr():
            self.assertLess(time.time(), deadline, self.hub.stderr()[-3000:])
            time.sleep(0.05)
        after = peer_certificate(self.hub, cert2)
        self.assertNotEqual(before, after)
        with open(cert2, "rb") as f:
            self.assertEqual(ssl.PEM_cert_to_DER_cert(f.read().decode()), after)
        # A certificate file that is gone keeps the current one.
        os.remove(self.cert)
        self.hub.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while "keeping the current certificate" not in self.hub.stderr():
            self.assertLess(time.time(), deadline, self.hub.stderr()[-3000:])
            time.sleep(0.05)
        self.assertEqual(peer_certificate(self.hub, cert2), after)


class TlsStart(unittest.TestCase):
    def test_unusable_files_are_refused_at_start(self):
        folder = tempfile.mkdtemp(prefix="qs-tls-")
        self.addCleanup(shutil.rmtree, folder, True)
        cert, key = make_certificate(folder, "a", "a")
        _, other_key = make_certificate(folder, "b", "b")
        cases = {
            "missing certificate": (os.path.join(folder, "missing.crt"), key, "tls_cert"),
            "key of another certificate": (cert, other_key, "tls_key"),
            "certificate given as key": (cert, cert, "tls_key"),
        }
        for name, (c, k, word) in cases.items():
            p = run_binary(["--listen", "127.0.0.1:0", "--transport", "memory", "--publisher_jwt", "x" * 32,
                            "--subscriber_jwt", "y" * 32, "--tls_cert", c, "--tls_key", k], timeout=20)
            self.assertEqual(p.returncode, 1, "%s: %r" % (name, p.stderr))
            self.assertIn(word, p.stderr.decode(), name)


if __name__ == "__main__":
    main()
