"""Helpers of the crash and resume tests: run the real hub binary on an LMDB
history, mint HS256 tokens, publish over keep-alive connections and read
Server-Sent Events from a raw socket (chunked decoding and the SSE parser are
here, so the tests see the bytes the hub sends).

Python 3 standard library only. The binary is $QS_BINARY, else
build-crash/quicksilver beside the sources.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.parse

HUB_PATH = "/.well-known/mercure"
SECRET = "crash-test-secret-!ChangeThis!"
UUID7 = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
START_TIMEOUT = 30.0


def binary():
    path = os.environ.get("QS_BINARY")
    if path:
        return path
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "build-crash", "quicksilver"))


def hub_env():
    env = dict(os.environ)
    # A leak or a sanitizer report must show in the exit status of a graceful stop.
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:exitcode=23")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    for name in list(env):
        if name.startswith("QUICKSILVER_") or name.startswith("MERCURE_"):
            del env[name]
    return env


# ---------------------------------------------------------------- tokens

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwt_hs256(claims, secret=SECRET):
    h = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    c = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), (h + "." + c).encode(), hashlib.sha256).digest()
    return h + "." + c + "." + b64url(sig)


def publisher_token(secret=SECRET):
    return jwt_hs256({"exp": int(time.time()) + 3600, "mercure": {"publish": ["*"], "subscribe": []}}, secret)


def subscriber_token(secret=SECRET):
    return jwt_hs256({"exp": int(time.time()) + 3600, "mercure": {"publish": [], "subscribe": ["*"]}}, secret)


# ---------------------------------------------------------------- the process

class Hub:
    """One hub process on an LMDB history. `args` are extra flags."""

    def __init__(self, history_path, args=(), binary_path=None, secret=SECRET):
        self.cmd = [binary_path or binary(), "--listen", "127.0.0.1:0", "--transport", "lmdb",
                    "--history_path", history_path, "--publisher_jwt", secret,
                    "--subscriber_jwt", secret] + list(args)
        self.lines = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.port = None
        self.opened = None  # (updates, last_seq) from the "lmdb history open" line
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=hub_env())
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()
        self.ready.wait(START_TIMEOUT)
        if self.port is None:
            self.kill()
            raise RuntimeError("hub did not start: %r\n%s" % (self.cmd, self.stderr()))

    def _drain(self):
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace")
            with self.lock:
                self.lines.append(line)
            m = re.search(r"lmdb history open .*updates=(\d+) .*last_seq=(\d+)", line)
            if m and self.opened is None:
                self.opened = (int(m.group(1)), int(m.group(2)))
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if m and self.port is None:
                self.port = int(m.group(1))
                self.ready.set()
        self.proc.stderr.close()
        self.ready.set()

    def stderr(self):
        with self.lock:
            return "".join(self.lines)

    def alive(self):
        return self.proc.poll() is None

    def kill9(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.reader.join(5)

    kill = kill9

    def stop(self, timeout=30.0):
        """SIGTERM; returns the exit status (None when it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
                return None
        self.reader.join(5)
        return self.proc.returncode


# ---------------------------------------------------------------- publishing

class Publisher:
    """One keep-alive connection; publish() returns (status, body)."""

    def __init__(self, port, token=None, timeout=30.0):
        self.port = port
        self.token = token or publisher_token()
        self.timeout = timeout
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def publish(self, topic, data, id=None, private=False):
        fields = [("topic", topic), ("data", data)]
        if id is not None:
            fields.append(("id", id))
        if private:
            fields.append(("private", "on"))
        body = urllib.parse.urlencode(fields)
        self.conn.request("POST", HUB_PATH, body=body, headers={
            "Authorization": "Bearer " + self.token,
            "Content-Type": "application/x-www-form-urlencoded"})
        resp = self.conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")

    def close(self):
        self.conn.close()


def publish_once(port, topic, data, id=None):
    p = Publisher(port)
    try:
        return p.publish(topic, data, id=id)
    finally:
        p.close()


# ---------------------------------------------------------------- subscribing

class Stream:
    """A subscription read from a raw socket: status, headers (lower-case
    names), then events as dicts {"id", "data", "event"} via next_event()."""

    def __init__(self, port, query="topic=*", last_event_id=None, token=None, timeout=30.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        headers = ["GET %s?%s HTTP/1.1" % (HUB_PATH, query), "Host: 127.0.0.1:%d" % port,
                   "Accept: text/event-stream",
                   "Authorization: Bearer " + (token or subscriber_token())]
        if last_event_id is not None:
            headers.append("Last-Event-ID: " + last_event_id)
        self.sent_at = time.monotonic()
        self.sock.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
        self.raw = bytearray()
        self.text = bytearray()
        self.tpos = 0
        self.chunked = False
        self.eof = False
        self.headers = {}
        self.status = None
        self._read_head(timeout)

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            return False
        if not data:
            self.eof = True
            return False
        self.raw += data
        return True

    def _read_head(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.raw:
            if not self._recv(deadline):
                raise RuntimeError("no response head: %r" % bytes(self.raw[:200]))
        end = self.raw.index(b"\r\n\r\n")
        lines = bytes(self.raw[:end]).decode("latin-1").split("\r\n")
        del self.raw[:end + 4]
        self.status = int(lines[0].split(" ")[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self.chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        self._decode()

    def _decode(self):
        """Moves what arrived in self.raw (chunked or not) to self.text;
        both are bytearrays read from a position, compacted now and then,
        so that a long replay costs linear time."""
        if not self.chunked:
            self.text += self.raw
            del self.raw[:]
            return
        pos = 0
        while True:
            nl = self.raw.find(b"\r\n", pos)
            if nl < 0:
                break
            size = int(bytes(self.raw[pos:nl]).split(b";")[0], 16)
            if size == 0:
                self.eof = True
                pos = len(self.raw)
                break
            if len(self.raw) < nl + 2 + size + 2:
                break
            self.text += self.raw[nl + 2:nl + 2 + size]
            pos = nl + 2 + size + 2
        del self.raw[:pos]

    def next_event(self, timeout):
        """The next event, or None after `timeout` seconds (or at the end).
        The hub ends lines with LF (a CR before it is dropped)."""
        deadline = time.monotonic() + timeout
        while True:
            while True:
                end = self.text.find(b"\n\n", self.tpos)
                if end < 0:
                    break
                block = bytes(self.text[self.tpos:end])
                self.tpos = end + 2
                if self.tpos > (1 << 20):
                    del self.text[:self.tpos]
                    self.tpos = 0
                ev = {}
                data = []
                for line in block.decode("utf-8", "replace").split("\n"):
                    line = line.rstrip("\r")
                    if line.startswith(":") or not line:
                        continue
                    name, _, value = line.partition(":")
                    if value.startswith(" "):
                        value = value[1:]
                    if name == "data":
                        data.append(value)
                    else:
                        ev[name] = value
                if "id" in ev or data:
                    ev["data"] = "\n".join(data)
                    return ev
            if self.eof or not self._recv(deadline):
                return None
            self._decode()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- reporting

class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.failures = []

    def record(self, name, problems):
        if problems:
            self.failed += 1
            self.failures.append((name, problems))
            print("FAIL %s" % name, flush=True)
            for p in problems[:20]:
                print("     - %s" % p, flush=True)
            if len(problems) > 20:
                print("     - ... %d more" % (len(problems) - 20), flush=True)
        else:
            self.passed += 1
            print("ok   %s" % name, flush=True)

    def run(self, name, fn, *args):
        problems = []
        try:
            fn(problems, *args)
        except Exception as e:  # noqa: BLE001 - a test error is a failure
            import traceback
            problems.append("exception: %r\n%s" % (e, traceback.format_exc()))
        self.record(name, problems)

    def finish(self):
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)
        return 1 if self.failed else 0
