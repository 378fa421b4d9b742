"""Process life: graceful SIGTERM/SIGINT with subscribers connected, key
reload on SIGHUP, --help,
--version, bad flags, the development key banner, and an LMDB history that
survives a restart."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubtest import (SUB_SECRET, Hub, SSEClient, main, php_urlencode, publish, publisher_token, request,
                     run_binary, subscriber_token)


class Lifecycle(unittest.TestCase):
    def setUp(self):
        self.hubs = []

    def tearDown(self):
        for h in self.hubs:
            h.kill()

    def start(self, *args, **kw):
        h = Hub(args, **kw)
        self.hubs.append(h)
        return h

    def graceful_stop_with_subscribers(self, sig):
        hub = self.start()
        topic = "access/42"
        token = subscriber_token([topic])
        subs = [SSEClient(hub, "topic=access%2F42", [("Cookie", "mercureAuthorization=" + token)]),
                SSEClient(hub, "match=access%2F42", [("Authorization", "Bearer " + token)]),
                SSEClient(hub, "topic=access%2F42&authorization=" + token)]
        try:
            for s in subs:
                self.assertEqual(s.status, 200)
            uid = publish(hub, [topic], data="before stop", private=True).text
            for s in subs:
                self.assertEqual([e.id for e in s.wait_events(1)], [uid])
            t0 = time.time()
            hub.send_signal(sig)
            for i, s in enumerate(subs):
                self.assertTrue(s.wait_closed(timeout=10), "subscriber %d still open after the signal" % i)
                self.assertFalse(s.reset, "subscriber %d: connection reset instead of a clean end" % i)
                self.assertTrue(s.http.complete, "subscriber %d: the chunked stream did not end with its last "
                                "chunk: %r" % (i, s.body_bytes()[-40:]))
                self.assertEqual([e.id for e in s.events], [uid])
            rc = hub.wait_exit(timeout=10)  # no second signal
            elapsed = time.time() - t0
            self.assertEqual(rc, 0, "exit code %r after %s\n%s" % (rc, sig, hub.stderr()[-6000:]))
            self.assertLess(elapsed, 5.0, "shutdown took %.1fs" % elapsed)
        finally:
            for s in subs:
                s.close()

    def wait_log(self, hub, text, count, timeout=10):
        deadline = time.time() + timeout
        while hub.stderr().count(text) < count:
            if time.time() > deadline:
                self.fail("no %r line (%d wanted) in:\n%s" % (text, count, hub.stderr()[-4000:]))
            time.sleep(0.05)

    def test_sighup_reloads_keys_and_keeps_streams(self):
        tmp = tempfile.mkdtemp(prefix="qs-reload-")
        self.addCleanup(shutil.rmtree, tmp, True)
        key_file = os.path.join(tmp, "publisher.key")
        old_key, new_key = "the-old-publisher-key-of-32-bytes-at-least", "the-new-publisher-key-of-32-bytes-at-least"
        with open(key_file, "w") as f:
            f.write(old_key)
        hub = self.start("--publisher_jwt", "@" + key_file, "--subscriber_jwt", SUB_SECRET, keys=False)
        old_token, new_token = publisher_token(secret=old_key), publisher_token(secret=new_key)
        with SSEClient(hub, "topic=access%2F42", [("Authorization", "Bearer " + subscriber_token(["access/42"]))]) as s:
            self.assertEqual(s.status, 200)
            self.assertEqual(publish(hub, ["access/42"], "before", token=old_token).status, 200)
            self.assertEqual(publish(hub, ["access/42"], "refused", token=new_token).status, 401)

            # The key file is rotated: after SIGHUP only the new key verifies.
            with open(key_file, "w") as f:
                f.write(new_key)
            hub.send_signal(signal.SIGHUP)
            self.wait_log(hub, "SIGHUP: keys reloaded", 1)
            self.assertEqual(publish(hub, ["access/42"], "refused", token=old_token).status, 401)
            self.assertEqual(publish(hub, ["access/42"], "after", token=new_token).status, 200)

            # A key that cannot be read leaves the current keys serving.
            os.remove(key_file)
            hub.send_signal(signal.SIGHUP)
            self.wait_log(hub, "keeping the current keys", 1)
            self.assertEqual(publish(hub, ["access/42"], "still", token=new_token).status, 200)

            # The stream opened before the reloads saw every accepted update.
            self.assertEqual([e.data for e in s.wait_events(3)], ["before", "after", "still"])
        self.assertTrue(hub.alive())

    def test_sigterm_ends_streams_cleanly_and_exits_0(self):
        self.graceful_stop_with_subscribers(signal.SIGTERM)

    def test_sigint_ends_streams_cleanly_and_exits_0(self):
        self.graceful_stop_with_subscribers(signal.SIGINT)

    def test_sigterm_under_load(self):
        """300 subscribers, a publish burst in flight, slow and half-open clients: SIGTERM still exits 0."""
        import socket
        import threading
        from hubtest import Publisher, subscribe_request
        hub = self.start("--workers", "2")
        topic = "load"
        token = subscriber_token([topic])
        req = subscribe_request(hub, "topic=load", [("Authorization", "Bearer " + token)])
        socks = []
        try:
            for i in range(300):
                s = socket.create_connection(hub.addr, timeout=10)
                if i % 50 == 0:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.sendall(req)
                socks.append(s)
            half = socket.create_connection(hub.addr, timeout=10)  # headers never finished
            half.sendall(b"GET /.well-known/mercure?topic=load HTTP/1.1\r\nHost: x\r\n")
            socks.append(half)
            body = socket.create_connection(hub.addr, timeout=10)  # publish body never finished
            body.sendall(("POST /.well-known/mercure HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                          "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
                          "topic=load&data=" % publisher_token()).encode())
            socks.append(body)
            deadline = time.time() + 20
            while time.time() < deadline:
                r = request(hub, "GET", "/metrics")
                if "mercure_subscribers_connected 300" in r.text:
                    break
                time.sleep(0.1)
            stop = threading.Event()

            def burst():
                p = Publisher(hub)
                try:
                    while not stop.is_set():
                        p.publish([topic], data="y" * 2000)
                except Exception:
                    pass  # the hub goes away under it
                finally:
                    p.close()

            t = threading.Thread(target=burst)
            t.start()
            time.sleep(0.5)
            t0 = time.time()
            hub.send_signal(signal.SIGTERM)
            rc = hub.wait_exit(timeout=15)
            elapsed = time.time() - t0
            stop.set()
            t.join(10)
            self.assertEqual(rc, 0, "exit code %r\n%s" % (rc, hub.stderr()[-6000:]))
            self.assertLess(elapsed, 8.0, "shutdown under load took %.1fs" % elapsed)
        finally:
            for s in socks:
                s.close()

    def test_sigterm_idle_hub_exits_0(self):
        hub = self.start()
        self.assertEqual(request(hub, "GET", "/healthz").status, 200)
        rc = hub.stop(timeout=10)
        self.assertEqual(rc, 0, hub.stderr()[-6000:])

    def test_sigterm_with_keepalive_client_idle(self):
        import http.client
        hub = self.start()
        conn = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=10)
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        r.read()
        self.assertEqual(r.status, 200)
        t0 = time.time()
        rc = hub.stop(timeout=10)
        conn.close()
        self.assertEqual(rc, 0, hub.stderr()[-6000:])
        self.assertLess(time.time() - t0, 5.0)

    def test_write_timeout_ends_streams_and_the_client_resumes(self):
        hub = self.start("--write_timeout", "1s")
        topic = "access/42"
        headers = [("Authorization", "Bearer " + subscriber_token([topic]))]
        s = SSEClient(hub, "topic=access%2F42", headers)
        try:
            uid = publish(hub, [topic], data="one").text
            self.assertEqual([e.id for e in s.wait_events(1)], [uid])
            t0 = time.time()
            self.assertTrue(s.wait_ended(timeout=5), "the stream outlived write_timeout")
            self.assertLess(time.time() - t0, 3.0)
        finally:
            s.close()
        missed = publish(hub, [topic], data="two").text
        with SSEClient(hub, "topic=access%2F42", headers + [("Last-Event-ID", uid)]) as again:
            self.assertEqual([(e.id, e.data) for e in again.wait_events(1)], [(missed, "two")])
        self.assertEqual(hub.stop(), 0, hub.stderr()[-6000:])

    def test_help_lists_options(self):
        p = run_binary(["--help"])
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout.decode()
        for name in ("--listen", "--publisher_jwt", "--subscriber_jwt", "anonymous", "--cors_origins",
                     "--publish_origins", "--heartbeat", "--workers", "--transport", "--history_path",
                     "--subscriber_queue_limit", "--max_request_body_size", "--config", "SIGHUP"):
            self.assertIn(name, out, "--help does not mention %s" % name)

    def test_version(self):
        p = run_binary(["--version"])
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout.decode()
        self.assertRegex(out, r"^quicksilver \d+\.\d+")
        # Each library's line shows the version installed on this machine (run-time
        # where the library reports one), as pkg-config knows it.
        libs = {"libuv": "libuv", "nghttp2": "libnghttp2", "OpenSSL": "openssl", "jansson": "jansson",
                "PCRE2": "libpcre2-8", "LMDB": "lmdb", "libidn2": "libidn2", "hiredis": "hiredis",
                "libcurl": "libcurl"}
        for name, pkg in libs.items():
            want = subprocess.run(["pkg-config", "--modversion", pkg], capture_output=True, check=True)
            self.assertRegex(out, r"(?m)^  %s +%s( |$)" % (name, re.escape(want.stdout.decode().strip())), out)
        self.assertRegex(out, r"(?m)^  llhttp +\d+\.\d+\.\d+ ", out)

    def test_unknown_flag_exits_2_with_a_message(self):
        p = run_binary(["--listen", "127.0.0.1:0", "--no-such-flag", "x"])
        self.assertEqual(p.returncode, 2, (p.stdout, p.stderr))
        self.assertIn(b"no-such-flag", p.stderr)

    def test_bad_values_exit_2(self):
        for args in (["--heartbeat", "5"], ["--transport", "bolt2"], ["--workers", "nine"],
                     ["--max_request_body_size", "lots"], ["--listen"]):
            p = run_binary(args)
            self.assertEqual(p.returncode, 2, "%r: %r" % (args, (p.stdout, p.stderr)))
            self.assertTrue(p.stderr.strip(), "%r: no message" % args)

    def test_development_key_banner_tokens_work(self):
        hub = self.start(keys=False)
        err = hub.stderr()
        pub = re.search(r"publisher token:\s+(\S+)", err)
        sub = re.search(r"subscriber token:\s+(\S+)", err)
        key = re.search(r"development key:\s+(\S+)", err)
        self.assertTrue(pub and sub and key, "no development banner:\n" + err)
        topic = "https://example.com/books/1"
        with SSEClient(hub, "topic=" + php_urlencode(topic), [("Authorization", "Bearer " + sub.group(1))]) as s:
            self.assertEqual(s.status, 200, s.body_bytes())
            r = publish(hub, [topic], data='{"hello":"world"}', private=True, token=pub.group(1))
            self.assertEqual(r.status, 200, r)
            self.assertEqual([(e.id, e.data) for e in s.wait_events(1)], [(r.text, '{"hello":"world"}')])
        # The key really is the key, and only it.
        own = publisher_token(secret=key.group(1))
        self.assertEqual(publish(hub, [topic], data="x", token=own).status, 200)
        self.assertEqual(publish(hub, [topic], data="x", token=publisher_token(secret="guess")).status, 401)
        # A second run gets another key.
        other = self.start(keys=False)
        self.assertEqual(publish(other, [topic], data="x", token=pub.group(1)).status, 401)
        for h in (hub, other):
            self.assertEqual(h.stop(), 0, h.stderr()[-6000:])

    def test_development_key_banner_is_a_json_line_with_log_format_json(self):
        hub = self.start("--log_format", "json", keys=False)
        records = []
        for line in hub.stderr().splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                self.fail("not a JSON line with log_format json: %r" % line)
        banners = [r for r in records if "publisher_token" in r.get("fields", {})]
        self.assertEqual(len(banners), 1, hub.stderr())
        banner = banners[0]
        self.assertEqual(banner["level"], "warn", banner)
        self.assertIn("development key", banner["message"])
        fields = banner["fields"]
        self.assertEqual(fields["hub"], hub.hub_url, fields)
        topic = "https://example.com/books/1"
        with SSEClient(hub, "topic=" + php_urlencode(topic),
                       [("Authorization", "Bearer " + fields["subscriber_token"])]) as s:
            self.assertEqual(s.status, 200, s.body_bytes())
            r = publish(hub, [topic], data="x", private=True, token=fields["publisher_token"])
            self.assertEqual(r.status, 200, r)
            self.assertEqual([e.data for e in s.wait_events(1)], ["x"])
        self.assertEqual(publish(hub, [topic], data="x", token=publisher_token(secret=fields["development_key"])).status,
                         200)
        self.assertEqual(hub.stop(), 0, hub.stderr()[-6000:])

    def test_lmdb_history_survives_restart(self):
        tmp = tempfile.mkdtemp(prefix="qs-integ-")
        try:
            args = ("--transport", "lmdb", "--history_path", os.path.join(tmp, "sub", "h.lmdb"),
                    "--lmdb_map_size", "64MiB")
            hub = self.start(*args, transport="lmdb")
            topic = "access/42"
            ids = [publish(hub, [topic], data="p%d" % i, private=(i == 2)).text for i in range(4)]
            self.assertEqual(hub.stop(), 0, hub.stderr()[-6000:])
            hub2 = self.start(*args, transport="lmdb")
            headers = [("Authorization", "Bearer " + subscriber_token([topic])), ("Last-Event-ID", ids[0])]
            with SSEClient(hub2, "topic=access%2F42", headers) as s:
                self.assertEqual(s.header("Mercure-Last-Event-ID"), ids[0])
                self.assertEqual([(e.id, e.data) for e in s.wait_events(3)],
                                 [(ids[1], "p1"), (ids[2], "p2"), (ids[3], "p3")])
                new = publish(hub2, [topic], data="after restart").text
                self.assertGreater(new, ids[3], "ids keep their time order across restarts")
                self.assertEqual([e.id for e in s.wait_events(4)], ids[1:] + [new])
            self.assertEqual(hub2.stop(), 0, hub2.stderr()[-6000:])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
