"""admin_listen: /healthz, /readyz and /metrics on an address of their own,
no longer on the public one; the admin address keeps answering during a
drain, so /readyz shows it while the public port accepts nothing new; an
admin port equal to the public one is refused at start."""
import http.client
import os
import re
import signal
import socket
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hubtest  # noqa: E402
from hubtest import SSEClient, php_urlencode, request, run_binary, subscriber_token  # noqa: E402


def admin_port(hub, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = re.search(r"admin endpoints \(/healthz, /readyz, /metrics\) at http://127\.0\.0\.1:(\d+)/",
                      hub.stderr())
        if m:
            return int(m.group(1))
        time.sleep(0.02)
    raise AssertionError("no admin address in the log:\n" + hub.stderr()[-3000:])


def get(port, path, method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


class AdminListen(unittest.TestCase):
    def start(self, *args):
        hub = hubtest.Hub(["--admin_listen", "127.0.0.1:0"] + list(args))
        self.addCleanup(hub.kill)
        return hub, admin_port(hub)

    def test_operator_endpoints_move_to_the_admin_address(self):
        hub, port = self.start()
        self.assertNotEqual(port, hub.port)
        self.assertEqual(get(port, "/healthz"), (200, "ok\n"))
        self.assertEqual(get(port, "/readyz"), (200, "ready\n"))
        status, metrics = get(port, "/metrics")
        self.assertEqual(status, 200, metrics)
        self.assertRegex(metrics, r"(?m)^quicksilver_connections \d+$")
        # Nothing else there: not the hub, not the page.
        for path in (hubtest.HUB_PATH + "?topic=x", "/", "/robots.txt"):
            status, text = get(port, path)
            self.assertEqual(status, 404, path)
            self.assertIn("this address serves /healthz, /readyz and /metrics", text)
        # The public address no longer serves them, and still is the hub.
        for path in ("/healthz", "/readyz", "/metrics"):
            self.assertEqual(request(hub, "GET", path).status, 404, path)
        topic = "https://example.test/admin/1"
        with SSEClient(hub, "topic=" + php_urlencode(topic),
                       [("Authorization", "Bearer " + subscriber_token([topic]))]) as s:
            self.assertEqual(s.status, 200, s.body_bytes())
            r = hubtest.publish(hub, [topic], data="x")
            self.assertEqual(r.status, 200, r)
            self.assertEqual([e.data for e in s.wait_events(1)], ["x"])
        # The metrics count what the public address did.
        status, metrics = get(port, "/metrics")
        m = re.search(r"(?m)^quicksilver_deliveries_total (\d+)$", metrics)
        self.assertTrue(m and int(m.group(1)) >= 1, metrics)
        self.assertEqual(hub.stop(), 0, hub.stderr()[-3000:])

    def test_readyz_on_the_admin_address_shows_the_drain(self):
        hub, port = self.start("--drain_timeout", "3s")
        topic = "https://example.test/admin/drain"
        sub = SSEClient(hub, "topic=" + php_urlencode(topic), [("Authorization", "Bearer " + subscriber_token([topic]))])
        self.addCleanup(sub.close)
        self.assertEqual(sub.status, 200)
        self.assertEqual(get(port, "/readyz"), (200, "ready\n"))
        hub.send_signal(signal.SIGTERM)
        deadline = time.time() + 10
        while "draining: 1 event streams" not in hub.stderr():
            self.assertLess(time.time(), deadline, hub.stderr()[-3000:])
            time.sleep(0.02)
        # A new connection to the admin address, while the public one accepts none.
        status, text = get(port, "/readyz")
        self.assertEqual(status, 503, text)
        self.assertIn("draining", text)
        self.assertEqual(get(port, "/healthz"), (200, "ok\n"))
        with self.assertRaises(OSError):
            socket.create_connection(hub.addr, timeout=2).close()
        self.assertTrue(sub.wait_ended(timeout=10))
        self.assertEqual(hub.wait_exit(15), 0, hub.stderr()[-3000:])
        # Gone with the hub.
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()

    def test_admin_port_equal_to_the_public_one_is_refused(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        p = run_binary(["--listen", "127.0.0.1:%d" % port, "--admin_listen", "127.0.0.1:%d" % port,
                        "--transport", "memory", "--publisher_jwt", hubtest.PUB_SECRET,
                        "--subscriber_jwt", hubtest.SUB_SECRET])
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"admin_listen: port %d is also listen's" % port, p.stderr)

    def test_malformed_admin_listen_exits_2(self):
        p = run_binary(["--admin_listen", "localhost", "--transport", "memory"])
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"admin_listen", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
