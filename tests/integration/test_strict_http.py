"""HTTP that a front proxy cannot be smuggled through, and no connection held
forever: every malformed HTTP/1.x request gets its status (400, 505) and a
close at once; every incomplete state (request line, headers, body, HTTP/2
header block, TLS handshake, idle keep-alive, HTTP/2 session without
streams) is closed within its timeout, while other clients keep publishing
and subscribing."""
import os
import shutil
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubtest import (HUB_PATH, Hub, HubTestCase, SSEClient, main, metric, php_urlencode, publish,
                     publisher_token, subscriber_token)
from test_tls import client_context, make_certificate

HEADER_TIMEOUT = 1.5
IDLE_TIMEOUT = 2.5
# What an immediate refusal may take on a loaded CI machine.
PROMPT = 1.0
# What a timeout may take beyond its setting (the sweep runs a few times per
# shortest timeout, the linger after a 408 is bounded).
MARGIN = 2.5

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


class Exchange:
    """What the hub did with some bytes: the first status it answered (None
    when none), whether it closed the connection, and how long that took."""

    def __init__(self, status, closed, elapsed, raw):
        self.status, self.closed, self.elapsed, self.raw = status, closed, elapsed, raw

    def __repr__(self):
        return "status=%r closed=%r after %.2f s, received %r" % (self.status, self.closed, self.elapsed,
                                                                   self.raw[:200])


def exchange(hub, data, wait=10.0, keep_sending=None):
    """Sends `data`, then reads until the hub closes or `wait` seconds pass."""
    s = socket.create_connection(hub.addr, timeout=wait)
    start = time.monotonic()
    raw = b""
    closed = False
    try:
        try:
            s.sendall(data)
        except OSError:
            pass
        deadline = start + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            raw += chunk
    finally:
        s.close()
    elapsed = time.monotonic() - start
    status = None
    if raw.startswith(b"HTTP/"):
        try:
            status = int(raw.split(b" ", 2)[1])
        except (IndexError, ValueError):
            pass
    return Exchange(status, closed, elapsed, raw)


class StrictHTTP1(HubTestCase):
    hub_args = ("--header_read_timeout", "%gs" % HEADER_TIMEOUT, "--idle_timeout", "%gs" % IDLE_TIMEOUT)

    def assertRefusedAtOnce(self, data, status, what):
        ex = exchange(self.hub, data)
        self.assertEqual(ex.status, status, "%s: %r" % (what, ex))
        self.assertTrue(ex.closed, "%s: the connection must be closed after the refusal: %r" % (what, ex))
        self.assertLess(ex.elapsed, PROMPT, "%s: refused too slowly: %r" % (what, ex))
        body = ex.raw.split(b"\r\n\r\n", 1)[-1]
        self.assertTrue(body.strip(), "%s: the refusal must say why: %r" % (what, ex))
        return ex

    # ------------------------------------------------------------ versions

    def test_http2_request_line_is_505(self):
        for data in (b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n",
                     b"POST /healthz HTTP/2.0\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
                     b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\nSM\r\n\r\n",
                     b"GET /healthz HTTP/2.0\r\n"):
            self.assertRefusedAtOnce(data, 505, repr(data))

    def test_other_versions_are_505(self):
        for v in (b"1.2", b"2.1", b"3.0", b"9.9"):
            self.assertRefusedAtOnce(b"GET /healthz HTTP/" + v + b"\r\nHost: x\r\n\r\n", 505, v.decode())

    def test_http09_form_is_400(self):
        self.assertRefusedAtOnce(b"GET /healthz\r\n\r\n", 400, "HTTP/0.9 request line")

    # ------------------------------------------------------------ request line

    def test_malformed_request_lines_are_400(self):
        for data in (b"GARBAGE\r\n\r\n",
                     b"GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                     b"GET /healthz  HTTP/1.1\r\nHost: x\r\n\r\n",
                     b" GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                     b"GET /healthz HTTP/1.1 \r\nHost: x\r\n\r\n",
                     b"\x00\x01\x02\x03\xff\xfe\r\n\r\n",
                     b"GET /hea\x7fz HTTP/1.1\r\nHost: x\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"[:-2] + b"\n"):
            self.assertRefusedAtOnce(data, 400, repr(data))

    def test_tls_client_hello_on_plaintext_port_is_400(self):
        hello = bytes.fromhex("16030100c4010000c00303") + os.urandom(32) + bytes.fromhex(
            "000004130113020100009300000010000e00000b6578616d706c652e636f6d")
        self.assertRefusedAtOnce(hello, 400, "TLS ClientHello")

    def test_unknown_method_is_501(self):
        # Well-formed request lines with a method the hub does not implement
        # (methods are case-sensitive).
        self.assertRefusedAtOnce(b"BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 501, "unknown method")
        self.assertRefusedAtOnce(b"get /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 501, "lower-case GET")

    # ------------------------------------------------------------ line endings

    def test_bare_cr_and_lf_are_400(self):
        for data in (b"GET /healthz HTTP/1.1\nHost: x\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nHost: x\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nHost: x\r\n\n",
                     b"GET /healthz HTTP/1.1\rHost: x\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\rc\r\n\r\n"):
            self.assertRefusedAtOnce(data, 400, repr(data))

    # ------------------------------------------------------------ fields

    def test_host_missing_or_repeated_is_400(self):
        self.assertRefusedAtOnce(b"GET /healthz HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 without Host")
        self.assertRefusedAtOnce(b"GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400, "two Host")
        self.assertRefusedAtOnce(b"GET /healthz HTTP/1.1\r\nHost: x\r\nhost: x\r\n\r\n", 400, "two Host, same")
        self.assertRefusedAtOnce(b"GET /healthz HTTP/1.1\r\nHost: x, y\r\n\r\n", 400, "Host list")
        self.assertRefusedAtOnce(b"GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "Host with a space")
        # HTTP/1.0 may omit it.
        ex = exchange(self.hub, b"GET /healthz HTTP/1.0\r\n\r\n")
        self.assertEqual(ex.status, 200, "HTTP/1.0 without Host: %r" % ex)

    def test_bad_field_names_are_400(self):
        for data in (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX Y: z\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A : z\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nHost: x\r\n: z\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nHost: x\r\nX(A): z\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n\r\n"):
            self.assertRefusedAtOnce(data, 400, repr(data))

    def test_obs_fold_is_400(self):
        self.assertRefusedAtOnce(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n", 400, "obs-fold")
        self.assertRefusedAtOnce(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\tc\r\n\r\n", 400,
                                 "obs-fold (tab)")
        self.assertRefusedAtOnce(b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n"
                                 b"0\r\n\r\n", 400, "obs-fold on Transfer-Encoding")
        self.assertRefusedAtOnce(b"GET /healthz HTTP/1.1\r\n Host: x\r\n\r\n", 400, "fold before any field")

    # ------------------------------------------------------------ framing

    def test_transfer_codings_before_chunked_are_400(self):
        for te in (b"gzip, chunked", b"chunked, chunked", b"identity, chunked", b"chunked;x=1", b"gzip",
                   b"chunked, gzip"):
            data = b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te + b"\r\n\r\n0\r\n\r\n"
            self.assertRefusedAtOnce(data, 400, "Transfer-Encoding: %s" % te.decode())
        data = (b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked"
                b"\r\n\r\n0\r\n\r\n")
        self.assertRefusedAtOnce(data, 400, "two Transfer-Encoding fields")

    def test_content_length_and_chunked_are_400(self):
        data = (b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"0\r\n\r\n")
        self.assertRefusedAtOnce(data, 400, "Content-Length with chunked")
        for cl in (b"5, 5", b"+5", b"-1", b"5 5", b"0x5"):
            data = b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: " + cl + b"\r\n\r\nabcde"
            self.assertRefusedAtOnce(data, 400, "Content-Length: %s" % cl.decode())
        data = b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nabcde"
        self.assertRefusedAtOnce(data, 400, "two Content-Length")

    def test_bad_chunk_framing_is_400(self):
        token = publisher_token()
        head = ("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
                % (HUB_PATH, token)).encode()
        body = b"topic=" + php_urlencode(self.topic("chunk")).encode() + b"&data=x"
        body = body[:44].ljust(44, b"x")
        cases = {
            "no CRLF after chunk data": b"2c\r\n" + body + b"XX5\r\nABCDE\r\n0\r\n\r\n",
            "LF only after chunk data": b"2c\r\n" + body + b"\n0\r\n\r\n",
            "bad chunk size": b"2g\r\n" + body + b"\r\n0\r\n\r\n",
            "chunk size with space": b"2c \r\n" + body + b"\r\n0\r\n\r\n",
            "bare LF after chunk size": b"2c\n" + body + b"\r\n0\r\n\r\n",
            "negative chunk size": b"-2c\r\n" + body + b"\r\n0\r\n\r\n",
            "huge chunk size": b"ffffffffffffffffff\r\n" + body + b"\r\n0\r\n\r\n",
            "bare LF after the last chunk": b"2c\r\n" + body + b"\r\n0\n\r\n",
        }
        for what, chunked in cases.items():
            self.assertRefusedAtOnce(head + chunked, 400, what)
        # The well-formed one is accepted.
        ex = exchange(self.hub, head + b"2c\r\n" + body + b"\r\n0\r\n\r\n", wait=3)
        self.assertEqual(ex.status, 200, "well-formed chunked publish: %r" % ex)

    # ------------------------------------------------------------ what must still work

    def test_strict_parsing_keeps_ordinary_requests(self):
        ok = [b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
              b"GET /healthz HTTP/1.1\r\nHOST: x:3000\r\nX-A:b\r\nX-B: \r\nX-C:\t c d \t\r\n\r\n",
              b"GET http://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n",
              b"GET /healthz HTTP/1.0\r\nConnection: close\r\n\r\n",
              b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\n"
              b"X-T: v\r\n\r\n",
              b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n"]
        for data in ok:
            ex = exchange(self.hub, data, wait=IDLE_TIMEOUT + MARGIN)
            self.assertIn(ex.status, (200, 405), "%r: %r" % (data, ex))

    def test_too_many_topics_is_400_with_reason(self):
        r = publish(self.hub, ["t/%d" % i for i in range(101)], data="x")
        self.assertEqual(r.status, 400, "101 topics: %r" % r)
        self.assertIn("topics", r.text.lower(), "the refusal must say why: %r" % r)

    def test_zz_hub_still_serves(self):
        self.assertHubServes()


class StuckConnections(HubTestCase):
    """Each kind of stuck connection, all at once, is closed within its
    timeout plus a margin while a publisher and a subscriber keep working."""
    hub_args = ("--header_read_timeout", "%gs" % HEADER_TIMEOUT, "--idle_timeout", "%gs" % IDLE_TIMEOUT)

    def test_every_stuck_state_is_closed_in_time(self):
        h2_headers_open = (H2_PREFACE + h2_frame(4, 0, 0) +
                           h2_frame(1, 0x1, 1, bytes([0x82, 0x86, 0x84])))  # HEADERS, END_STREAM, no END_HEADERS
        cases = {
            # name: (bytes, the timeout that must close it)
            "nothing sent": (b"", HEADER_TIMEOUT),
            "half a request line": (b"GET /healthz HT", HEADER_TIMEOUT),
            "headers never end": (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\r\n", HEADER_TIMEOUT),
            "body never comes": (b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
                                 HEADER_TIMEOUT),
            "chunked body never ends": (b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                        b"3\r\nabc\r\n", HEADER_TIMEOUT),
            "idle keep-alive": (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", IDLE_TIMEOUT),
            "h2 preface only": (H2_PREFACE, IDLE_TIMEOUT),
            "h2 half a preface": (H2_PREFACE[:10], HEADER_TIMEOUT),
            "h2 header block never ends": (h2_headers_open, HEADER_TIMEOUT),
            "h2 header block never ends, with CONTINUATION": (
                h2_headers_open + h2_frame(9, 0, 1, bytes([0x41, 0x01, 0x78])), HEADER_TIMEOUT),
            "h2 idle after a request": (H2_PREFACE + h2_frame(4, 0, 0) +
                                        h2_frame(1, 0x5, 1, bytes([0x82, 0x86, 0x84, 0x41, 0x01, 0x78])),
                                        IDLE_TIMEOUT),
        }
        results = {}

        def run(name, data, limit):
            results[name] = exchange(self.hub, data, wait=limit + MARGIN + 5)

        threads = [threading.Thread(target=run, args=(n, d, t)) for n, (d, t) in cases.items()]
        for t in threads:
            t.start()
        # Meanwhile, other clients are served at once.
        topic = self.topic("busy")
        with SSEClient(self.hub, "topic=" + php_urlencode(topic),
                       [("Authorization", "Bearer " + subscriber_token([topic]))]) as sub:
            self.assertEqual(sub.status, 200)
            sent = []
            end = time.monotonic() + IDLE_TIMEOUT + 1
            while time.monotonic() < end:
                t0 = time.monotonic()
                r = publish(self.hub, [topic], data="n%d" % len(sent), private=True)
                self.assertEqual(r.status, 200, r)
                self.assertLess(time.monotonic() - t0, PROMPT, "a publish waited behind stuck connections")
                sent.append(r.text)
                time.sleep(0.1)
            got = [e.id for e in sub.wait_events(len(sent), timeout=10)]
            self.assertEqual(got, sent, "the subscriber missed updates")
        for t in threads:
            t.join()
        for name, (data, limit) in cases.items():
            ex = results[name]
            self.assertTrue(ex.closed, "%s: still open after %.1f s: %r" % (name, ex.elapsed, ex))
            self.assertLess(ex.elapsed, limit + MARGIN, "%s: closed too late: %r" % (name, ex))
            self.assertGreater(ex.elapsed, limit * 0.8, "%s: closed before its timeout: %r" % (name, ex))
        self.assertEqual(metric(self.hub, "quicksilver_connections"), 1.0, "only the metrics request is left")


class StuckTls(unittest.TestCase):
    """On a TLS port: a handshake that never ends, a handshake with no request
    after it, and a kept-alive connection are each closed in time."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="qs-strict-tls-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.cert, _ = make_certificate(self.dir, "hub", "quicksilver-strict")
        key = os.path.join(self.dir, "hub.key")
        self.hub = Hub(["--tls_cert", self.cert, "--tls_key", key, "--header_read_timeout", "%gs" % HEADER_TIMEOUT,
                        "--idle_timeout", "%gs" % IDLE_TIMEOUT])
        self.addCleanup(self.hub.kill)

    def closed_after(self, sock, wait):
        start = time.monotonic()
        sock.settimeout(wait)
        try:
            while sock.recv(4096):
                pass
        except (socket.timeout, TimeoutError):
            return None
        except (ConnectionResetError, ssl.SSLError, OSError):
            pass
        return time.monotonic() - start

    def test_stuck_tls_connections_are_closed_in_time(self):
        wait = IDLE_TIMEOUT + MARGIN + 3
        # A ClientHello that never ends.
        raw = socket.create_connection(self.hub.addr)
        raw.sendall(bytes.fromhex("16030100c4010000c00303"))
        t = self.closed_after(raw, wait)
        raw.close()
        self.assertIsNotNone(t, "an unfinished handshake was held open")
        self.assertLess(t, HEADER_TIMEOUT + MARGIN, "an unfinished handshake was closed too late")
        # A handshake, then nothing: the request deadline runs from the accept.
        ctx = client_context(self.cert)
        raw = socket.create_connection(self.hub.addr)
        start = time.monotonic()
        tls = ctx.wrap_socket(raw, server_hostname="localhost")
        t = self.closed_after(tls, wait)
        tls.close()
        self.assertIsNotNone(t, "a TLS connection without a request was held open")
        self.assertLess(time.monotonic() - start, HEADER_TIMEOUT + MARGIN, "closed too late")
        # A request, then keep-alive idle.
        raw = socket.create_connection(self.hub.addr)
        tls = ctx.wrap_socket(raw, server_hostname="localhost")
        tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        self.assertTrue(tls.recv(4096).startswith(b"HTTP/1.1 200"))
        t = self.closed_after(tls, wait)
        tls.close()
        self.assertIsNotNone(t, "an idle TLS keep-alive connection was held open")
        self.assertLess(t, IDLE_TIMEOUT + MARGIN, "an idle TLS keep-alive connection was closed too late")
        self.assertGreater(t, IDLE_TIMEOUT * 0.8, "an idle TLS keep-alive connection was closed too early")
        self.assertEqual(self.hub.stop(), 0, self.hub.stderr()[-3000:])


if __name__ == "__main__":
    main()
