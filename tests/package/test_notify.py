"""Readiness for systemd (Type=notify): the hub, started with NOTIFY_SOCKET
naming a datagram socket this test reads, sends READY=1 once it listens,
RELOADING=1 (with MONOTONIC_USEC) then READY=1 around a SIGHUP reload, and
STOPPING=1 on SIGTERM. A socket in the abstract namespace ("@name") works
too, and a NOTIFY_SOCKET that names nothing usable leaves the hub serving."""
import os
import signal
import socket
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import hubtest  # noqa: E402


class NotifySocket:
    """A bound AF_UNIX datagram socket: a path in a temporary folder, or an
    abstract name."""

    def __init__(self, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.tmpdir = None
        if abstract:
            name = "quicksilver-test-%d-%d" % (os.getpid(), time.monotonic_ns())
            self.sock.bind("\0" + name)
            self.name = "@" + name
        else:
            self.tmpdir = tempfile.mkdtemp(prefix="qs-notify-")
            self.name = os.path.join(self.tmpdir, "notify")
            self.sock.bind(self.name)

    def receive(self, timeout=20):
        """The next message as a dict of its assignments."""
        self.sock.settimeout(timeout)
        data = self.sock.recv(8192).decode()
        return dict(line.split("=", 1) for line in data.split("\n") if line)

    def close(self):
        self.sock.close()
        if self.tmpdir:
            os.unlink(self.name)
            os.rmdir(self.tmpdir)


class Notify(unittest.TestCase):
    def lifecycle(self, abstract):
        notify = NotifySocket(abstract)
        hub = hubtest.Hub(env={"NOTIFY_SOCKET": notify.name}, wait=False)
        try:
            ready = notify.receive()
            self.assertEqual(ready.get("READY"), "1", ready)
            # Ready means listening: the log line came first, and a connection is served.
            hub.wait_ready()
            r = hubtest.request(hub, "GET", "/healthz")
            self.assertEqual((r.status, r.text.strip()), (200, "ok"))

            before_us = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
            hub.send_signal(signal.SIGHUP)
            reloading = notify.receive()
            self.assertEqual(reloading.get("RELOADING"), "1", reloading)
            stamp = int(reloading["MONOTONIC_USEC"])
            self.assertGreaterEqual(stamp, before_us)
            self.assertLess(stamp, before_us + 20 * 1000 * 1000)
            self.assertEqual(notify.receive().get("READY"), "1")
            self.assertEqual(hubtest.request(hub, "GET", "/healthz").status, 200)

            hub.send_signal(signal.SIGTERM)
            stopping = notify.receive()
            self.assertEqual(stopping.get("STOPPING"), "1", stopping)
            self.assertEqual(hub.wait_exit(), 0, hub.stderr())
        finally:
            hub.kill()
            notify.close()

    def test_path_socket(self):
        self.lifecycle(abstract=False)

    def test_abstract_socket(self):
        self.lifecycle(abstract=True)

    def test_unusable_socket_keeps_the_hub_serving(self):
        for name in ("relative/notify", "/nonexistent-folder/notify"):
            hub = hubtest.Hub(env={"NOTIFY_SOCKET": name})
            try:
                deadline = time.time() + 10
                while "readiness message cannot be sent" not in hub.stderr() and time.time() < deadline:
                    time.sleep(0.05)
                self.assertIn("NOTIFY_SOCKET is set, but the readiness message cannot be sent", hub.stderr())
                self.assertEqual(hubtest.request(hub, "GET", "/healthz").status, 200)
                self.assertEqual(hub.stop(), 0, hub.stderr())
            finally:
                hub.kill()

    def test_without_notify_socket_nothing_is_sent(self):
        hub = hubtest.Hub()
        try:
            self.assertEqual(hubtest.request(hub, "GET", "/healthz").status, 200)
            self.assertEqual(hub.stop(), 0, hub.stderr())
            self.assertNotIn("NOTIFY_SOCKET", hub.stderr())
        finally:
            hub.kill()


if __name__ == "__main__":
    unittest.main(verbosity=2)
