"""Shared helpers for the integration tests: start and stop the real hub
binary, mint tokens the way symfony/mercure and draft-08 issuers do, publish
with the exact Symfony wire format, and read Server-Sent Events streams from
raw sockets (HTTP/1.1 chunked decoding and the SSE parser are here, so the
tests see the bytes the hub really sends).

Also used by tests/crash, tests/integration_subscriptions and
bench/resume_bench.py (they add this folder to sys.path).

Standard library only. The binary is $QS_BINARY, or build-integ/quicksilver
beside the sources when unset.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HUB_PATH = "/.well-known/mercure"
PUB_SECRET = "integration-publisher-secret-!ChangeThis!"
SUB_SECRET = "integration-subscriber-secret-!ChangeThis!"
UUID7_ID = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
START_TIMEOUT = 20.0


def binary(build="build-integ"):
    """$QS_BINARY, else <build>/quicksilver beside the sources."""
    path = os.environ.get("QS_BINARY")
    if path:
        return path
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", build, "quicksilver"))


def hub_env(extra=None):
    env = dict(os.environ)
    # A leak or an ASan/UBSan report must show in the exit status.
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:exitcode=23")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    # The hub must not pick keys up from the environment of whoever runs the tests.
    for name in list(env):
        if name.startswith("QUICKSILVER_") or name.startswith("MERCURE_"):
            del env[name]
    if extra:
        env.update(extra)
    return env


# ---------------------------------------------------------------- the process

class Hub:
    """One running hub process. `args` are extra command-line flags.

    `workers` None leaves the hub's default; `history` is an LMDB history
    path the caller owns (it outlives the process, for restarts), else
    `transport` "lmdb" makes a temporary one; `binary_path` overrides
    binary(). `opened` is (updates, last_seq) from the "lmdb history open"
    line, when the hub logged one."""

    def __init__(self, args=(), keys=True, transport="memory", workers=2, env=None, wait=True,
                 history=None, binary_path=None, start_timeout=START_TIMEOUT, redis=None, stream=None):
        cmd = [binary_path or binary(), "--listen", "127.0.0.1:0"]
        if workers is not None:
            cmd += ["--workers", str(workers)]
        self.tmpdir = None
        if history is not None:
            cmd += ["--transport", "lmdb", "--history_path", history]
        elif transport == "memory":
            cmd += ["--transport", "memory"]
        elif transport == "redis":
            if redis is None:
                raise ValueError("transport redis needs a RedisServer")
            cmd += ["--transport", "redis", "--redis_url", redis.url, "--redis_stream", stream or "mercure"]
        elif transport == "lmdb" and "--history_path" not in args:
            self.tmpdir = tempfile.mkdtemp(prefix="qs-integ-")
            cmd += ["--transport", "lmdb", "--history_path", os.path.join(self.tmpdir, "history.lmdb"),
                    "--lmdb_map_size", "64MiB"]
        if keys:
            cmd += ["--publisher_jwt", PUB_SECRET, "--subscriber_jwt", SUB_SECRET]
        # SIGTERM stops at once unless a test asks for a drain (test_drain.py does).
        if not any(str(a).startswith("--drain_timeout") for a in args):
            cmd += ["--drain_timeout", "0"]
        cmd += list(args)
        self.cmd = cmd
        self.lines = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.port = None
        self.hub_url = None
        self.opened = None
        self.ssl_context = None  # set to an ssl.SSLContext to talk HTTPS to a hub started with tls_cert
        self.returncode = None
        self.start_timeout = start_timeout
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=hub_env(env))
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()
        if wait:
            self.wait_ready()

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
                u = re.search(r"\(hub (\S+?),", line)
                self.hub_url = u.group(1) if u else "http://127.0.0.1:%d%s" % (self.port, HUB_PATH)
                self.ready.set()
        self.proc.stderr.close()
        self.ready.set()

    def wait_ready(self):
        self.ready.wait(self.start_timeout)
        if self.port is None:
            self.kill()
            raise RuntimeError("hub did not start: %r\n%s" % (self.cmd, self.stderr()))

    def stderr(self):
        with self.lock:
            return "".join(self.lines)

    def alive(self):
        return self.proc.poll() is None

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Graceful stop; returns the exit code (None when it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait_exit(timeout)

    def cleanup(self):
        if self.tmpdir and self.proc.poll() is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def wait_exit(self, timeout=15.0):
        """Waits for the process to end by itself (after a signal already sent);
        returns the exit code, or None when it had to be killed."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.reader.join(5)
            return None
        self.reader.join(5)
        self.returncode = self.proc.returncode
        self.cleanup()
        return self.returncode

    def kill(self):
        """SIGKILL (kill -9): the process gets no chance to clean up."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
            self.reader.join(5)
        self.cleanup()

    @property
    def addr(self):
        return ("127.0.0.1", self.port)


def free_port():
    """A loopback TCP port nobody listens on now."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def stop_process(proc, timeout=10):
    """Stops a process this test started (a subprocess.Popen, or None), by
    its PID: SIGTERM, then SIGKILL if it is still there after `timeout` s."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


class RedisServer:
    """Debian's redis-server on a free loopback port, with its files in a
    temporary directory; started and stopped (by its PID) by the tests.
    `appendonly` turns on the append-only file with appendfsync always, so a
    restart (even after kill -9) keeps every acknowledged write."""

    def __init__(self, appendonly=False, args=()):
        self.dir = tempfile.mkdtemp(prefix="qs-redis-")
        self.port = free_port()
        self.appendonly = appendonly
        self.args = list(args)
        self.proc = None
        # The free port may be taken between free_port() and Redis' bind by
        # a test running beside this one: then another port.
        for attempt in range(3):
            try:
                self.start()
                return
            except RuntimeError:
                if attempt == 2 or "Address already in use" not in self.log():
                    shutil.rmtree(self.dir, ignore_errors=True)
                    raise
                os.unlink(os.path.join(self.dir, "redis.log"))
                self.port = free_port()

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def start(self, timeout=10.0):
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(exe):
            raise RuntimeError("redis-server is missing: run scripts/install-deps.sh --test")
        cmd = [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir, "--save", "",
               "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "always",
               "--daemonize", "no", "--protected-mode", "no", "--logfile", os.path.join(self.dir, "redis.log")]
        cmd += self.args
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited with %r:\n%s" % (self.proc.returncode, self.log()))
            try:
                if self.command("PING") == b"+PONG\r\n":
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("redis-server did not answer on port %d:\n%s" % (self.port, self.log()))

    def log(self):
        try:
            with open(os.path.join(self.dir, "redis.log"), encoding="utf-8", errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def command(self, *args, timeout=5.0):
        """One command in RESP; returns the raw reply bytes (enough for tests)."""
        payload = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            payload += b"$%d\r\n%s\r\n" % (len(a), a)
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(payload)
            data = b""
            while not data.endswith(b"\r\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data

    def call(self, *args, timeout=5.0):
        """One command in RESP; returns the parsed reply (bytes, int, list or
        None; an error reply raises RuntimeError). With a `password`
        attribute, AUTH goes first on the same connection."""
        password = getattr(self, "password", None)
        commands = ([("AUTH", password)] if password else []) + [args]
        payload = b""
        for command in commands:
            payload += b"*%d\r\n" % len(command)
            for a in command:
                a = a.encode() if isinstance(a, str) else (b"%d" % a if isinstance(a, int) else a)
                payload += b"$%d\r\n%s\r\n" % (len(a), a)
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(payload)
            reader = sock.makefile("rb")

            def parse():
                line = reader.readline()
                if not line.endswith(b"\r\n"):
                    raise RuntimeError("redis closed the connection")
                kind, rest = line[:1], line[1:-2]
                if kind == b"+":
                    return rest
                if kind == b"-":
                    raise RuntimeError(rest.decode())
                if kind == b":":
                    return int(rest)
                if kind == b"$":
                    n = int(rest)
                    if n < 0:
                        return None
                    data = reader.read(n + 2)
                    return data[:-2]
                if kind == b"*":
                    n = int(rest)
                    return None if n < 0 else [parse() for _ in range(n)]
                raise RuntimeError("unexpected RESP reply %r" % line)

            if password:
                parse()  # AUTH's +OK (a refusal raises)
            return parse()

    def stop(self):
        """SIGTERM, by PID (Redis writes its files and exits)."""
        stop_process(self.proc)

    def kill(self):
        """SIGKILL, by PID: nothing is flushed beyond what appendfsync did."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_binary(args, timeout=15, env=None):
    """Runs the binary to completion (for --help, bad flags...)."""
    return subprocess.run([binary()] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout, env=hub_env(env))


# ---------------------------------------------------------------- tokens

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# Every token minted here, so that a test class can check that none reached the log.
MINTED_TOKENS = set()


def jwt_hs256(header, claims, secret):
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    c = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = (h + "." + c).encode()
    sig = hmac.new(secret.encode() if isinstance(secret, str) else secret, signing_input, hashlib.sha256).digest()
    token = h + "." + c + "." + b64url(sig)
    MINTED_TOKENS.add(token)
    return token


def leaked_secrets(log_text, secrets=None):
    """The tokens (minted here, or `secrets`) whose claims or signature
    segment appears in `log_text`: the hub must never log a token or a
    cookie, whole or cut short."""
    found = []
    for secret in sorted(MINTED_TOKENS if secrets is None else secrets):
        segments = secret.split(".")[1:]
        if secret in log_text or any(len(s) >= 16 and s in log_text for s in segments):
            found.append(secret)
    return found


def php_exp(seconds=3600):
    """lcobucci/jwt formats exp as a float with microseconds."""
    return round(time.time() + seconds, 6)


def legacy_token(secret, publish=None, subscribe=None, exp_in=3600, mercure=None, extra=None, payload=None):
    """The symfony/mercure LcobucciFactory shape: header {"typ":"JWT","alg":"HS256"}."""
    claims = {"exp": php_exp(exp_in)}
    if mercure is None:
        mercure = {"publish": list(publish or []), "subscribe": list(subscribe or [])}
        if payload is not None:
            mercure["payload"] = payload
    claims["mercure"] = mercure
    if extra:
        claims.update(extra)
    return jwt_hs256({"typ": "JWT", "alg": "HS256"}, claims, secret)


def publisher_token(secret=PUB_SECRET, topics=("*",), **kw):
    return legacy_token(secret, publish=list(topics), subscribe=[], **kw)


def subscriber_token(topics, secret=SUB_SECRET, **kw):
    return legacy_token(secret, publish=[], subscribe=list(topics), **kw)


def draft08_token(secret, aud, actions, matches, exp_in=3600, match_type=None, payload=None):
    topics = []
    for m in matches:
        t = {"match": m}
        if match_type:
            t["match_type"] = match_type
        topics.append(t)
    detail = {"type": "https://mercure.rocks/authorization-detail", "actions": list(actions), "topics": topics}
    if payload is not None:
        detail["payload"] = payload
    claims = {"aud": aud, "exp": int(time.time() + exp_in), "authorization_details": [detail]}
    return jwt_hs256({"alg": "HS256", "typ": "at+jwt"}, claims, secret)


# ---------------------------------------------------------------- publishing

def php_urlencode(value):
    """PHP urlencode(): space -> '+', everything but [A-Za-z0-9_.-] -> %XX (so '~' -> %7E)."""
    out = []
    for b in value.encode("utf-8"):
        c = chr(b)
        if (b < 128 and c.isalnum()) or c in "_.-":
            out.append(c)
        elif c == " ":
            out.append("+")
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def symfony_body(topics, data="", private=False, id=None, type=None, retry=None):
    """symfony/mercure Internal/QueryBuilder: topic..., data (always), private=on, id, type, retry."""
    if isinstance(topics, str):
        topics = [topics]
    fields = [("topic", t) for t in topics]
    fields.append(("data", data if data is not None else ""))
    if private:
        fields.append(("private", "on"))
    for name, value in (("id", id), ("type", type), ("retry", retry)):
        if value is not None:
            fields.append((name, str(value)))
    return "&".join(k + "=" + php_urlencode(v) for k, v in fields).encode("ascii")


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value)
        self.body = body

    def header(self, name):
        values = self.all(name)
        return values[0] if values else None

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<%d %s %r %r>" % (self.status, self.reason, self.headers, self.body[:300])


def request(hub, method, target, headers=(), body=None, timeout=10):
    """One request on a fresh connection; `headers` is a list of pairs (repeats allowed)."""
    if hub.ssl_context:
        conn = http.client.HTTPSConnection("localhost", hub.port, timeout=timeout, context=hub.ssl_context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=timeout)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for k, v in headers:
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, r.reason, list(r.getheaders()), data)
    finally:
        conn.close()


def read_response(sock, timeout=10):
    """Reads one HTTP/1.x response from `sock` until it is complete, the peer
    closes or resets the connection, or `timeout` seconds pass; returns the
    HTTPDecoder (its status is None when nothing came)."""
    dec = HTTPDecoder()
    deadline = time.time() + timeout
    while not dec.complete:
        sock.settimeout(max(0.01, deadline - time.time()))
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            dec.eof()
            break
        dec.feed(chunk)
    return dec


def raw_request(hub, data, timeout=10):
    """Sends raw bytes (errors while sending are ignored: the hub may answer
    and close early), then parses one response."""
    s = socket.create_connection(hub.addr, timeout=timeout)
    try:
        try:
            s.sendall(data)
        except OSError:
            pass
        dec = read_response(s, timeout)
        if dec.status is None:
            raise AssertionError("no response from the hub (received %r)" % bytes(dec.buf[:300]))
        return Response(dec.status, dec.reason, dec.headers, bytes(dec.body))
    finally:
        s.close()


def publish(hub, topics, data="", private=False, id=None, type=None, retry=None, token=None, headers=(),
            body=None, timeout=10):
    if token is None:
        token = publisher_token()
    h = [("Authorization", "Bearer " + token), ("Content-Type", "application/x-www-form-urlencoded")]
    h += list(headers)
    if body is None:
        body = symfony_body(topics, data, private, id, type, retry)
    return request(hub, "POST", HUB_PATH, h, body, timeout=timeout)


class Publisher:
    """Keep-alive publishing connection (fast, for bursts)."""

    def __init__(self, hub, token=None, timeout=10):
        self.hub = hub
        self.token = token or publisher_token()
        self.conn = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=timeout)

    def post(self, topics, data="", private=False, id=None, type=None, retry=None):
        """One publish; returns (status, body text) whatever the status (a
        broken connection raises OSError or http.client.HTTPException)."""
        body = symfony_body(topics, data, private, id, type, retry)
        self.conn.request("POST", HUB_PATH, body, {"Authorization": "Bearer " + self.token,
                                                   "Content-Type": "application/x-www-form-urlencoded"})
        r = self.conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace")

    def publish(self, topics, data="", private=False, id=None, type=None, retry=None):
        status, text = self.post(topics, data, private, id, type, retry)
        if status != 200:
            raise AssertionError("publish failed: %d %s" % (status, text))
        return text

    def close(self):
        self.conn.close()


class PublishFlood:
    """Publishes to one topic from a thread of its own, over one keep-alive
    connection, one publish at a time: `count` of them, or until stop().
    `acknowledged` lists the ids the hub answered, in order; `errors` holds
    what ended the flood early (a refused publish, a broken connection).
    `pause` seconds go between two publishes."""

    def __init__(self, hub, topic, count=None, data="flood%d", pause=0.0):
        self.hub, self.topic, self.count, self.data, self.pause = hub, topic, count, data, pause
        self.acknowledged = []
        self.errors = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        p = Publisher(self.hub)
        try:
            i = 0
            while not self._stop.is_set() and (self.count is None or i < self.count):
                self.acknowledged.append(p.publish([self.topic], data=self.data % i))
                i += 1
                if self.pause:
                    time.sleep(self.pause)
        except Exception as e:  # the test asserts on errors
            self.errors.append(e)
        finally:
            p.close()

    def start(self):
        self._thread.start()
        return self

    def join(self, timeout=60):
        """Waits for the flood to end by itself (`count` publishes, or an error)."""
        self._thread.join(timeout)

    def stop(self, timeout=60):
        """Ends the flood after the publish in progress."""
        self._stop.set()
        self._thread.join(timeout)


# ---------------------------------------------------------------- decoding

class HTTPDecoder:
    """Incremental HTTP/1.1 response decoder: status line, headers, then the
    body (chunked, Content-Length or until EOF). `body` grows as data comes."""

    def __init__(self):
        self.buf = bytearray()
        self.status = None
        self.reason = None
        self.headers = []
        self.body = bytearray()
        self.complete = False  # the body ended as framed (terminal chunk / length reached)
        self.closed = False  # EOF seen
        self.mode = None
        self.remaining = 0
        self.chunk_state = "size"

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def eof(self):
        self.closed = True
        if self.mode == "eof":
            self.complete = True

    def feed(self, data):
        """Returns the body bytes newly decoded."""
        self.buf += data
        before = len(self.body)
        if self.status is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return b""
            head = bytes(self.buf[:end]).decode("latin-1")
            del self.buf[:end + 4]
            lines = head.split("\r\n")
            parts = lines[0].split(" ", 2)
            self.status = int(parts[1])
            self.reason = parts[2] if len(parts) > 2 else ""
            for line in lines[1:]:
                k, _, v = line.partition(":")
                self.headers.append((k.strip(), v.strip()))
            te = (self.header("Transfer-Encoding") or "").lower()
            cl = self.header("Content-Length")
            if "chunked" in te:
                self.mode = "chunked"
            elif cl is not None:
                self.mode = "length"
                self.remaining = int(cl)
                if self.remaining == 0:
                    self.complete = True
            else:
                self.mode = "eof"
        self._body()
        return bytes(self.body[before:])

    def _body(self):
        if self.mode == "length":
            n = min(self.remaining, len(self.buf))
            self.body += self.buf[:n]
            del self.buf[:n]
            self.remaining -= n
            if self.remaining == 0:
                self.complete = True
        elif self.mode == "eof":
            self.body += self.buf
            del self.buf[:]
        elif self.mode == "chunked":
            while not self.complete:
                if self.chunk_state == "size":
                    end = self.buf.find(b"\r\n")
                    if end < 0:
                        return
                    size = int(bytes(self.buf[:end]).split(b";")[0].strip(), 16)
                    del self.buf[:end + 2]
                    if size == 0:
                        self.chunk_state = "trailer"
                    elif self.buf[size:size + 2] == b"\r\n":
                        # The whole chunk is in (the usual case): one step, for long replays.
                        self.body += self.buf[:size]
                        del self.buf[:size + 2]
                    else:
                        self.remaining = size
                        self.chunk_state = "data"
                elif self.chunk_state == "data":
                    n = min(self.remaining, len(self.buf))
                    if n == 0:
                        return
                    self.body += self.buf[:n]
                    del self.buf[:n]
                    self.remaining -= n
                    if self.remaining == 0:
                        self.chunk_state = "crlf"
                elif self.chunk_state == "crlf":
                    if len(self.buf) < 2:
                        return
                    if bytes(self.buf[:2]) != b"\r\n":
                        raise AssertionError("bad chunk framing: %r" % bytes(self.buf[:20]))
                    del self.buf[:2]
                    self.chunk_state = "size"
                elif self.chunk_state == "trailer":
                    end = self.buf.find(b"\r\n")
                    if end < 0:
                        return
                    line = self.buf[:end]
                    del self.buf[:end + 2]
                    if not line:
                        self.complete = True


class Event:
    def __init__(self, fields, raw):
        self.id = fields.get("id")
        self.type = fields.get("event")
        self.retry = fields.get("retry")
        self.data_lines = fields.get("data", [])
        self.data = "\n".join(self.data_lines) if "data" in fields else None
        self.raw = raw  # the exact bytes of the event block, blank line included

    def json(self):
        return json.loads(self.data)

    def __repr__(self):
        return "<Event id=%r type=%r retry=%r data=%r>" % (self.id, self.type, self.retry, self.data)


_LINE_END = re.compile(rb"[\r\n]")


class SSEParser:
    """text/event-stream parser (lines end with CRLF, LF or CR)."""

    def __init__(self):
        self.buf = bytearray()
        self.fields = {}
        self.block = bytearray()
        self.events = []
        self.comments = 0
        self.comment_texts = []

    def feed(self, data):
        self.buf += data
        new = []
        while True:
            m = _LINE_END.search(self.buf)
            if m is None:
                return new
            i = m.start()
            n = len(self.buf)
            if self.buf[i] == 13:
                if i + 1 == n:
                    return new  # wait: CR may be followed by LF
                end = i + 2 if self.buf[i + 1] == 10 else i + 1
            else:
                end = i + 1
            line = bytes(self.buf[:i]).decode("utf-8", "replace")
            self.block += self.buf[:end]
            del self.buf[:end]
            if line == "":
                if self.fields:
                    ev = Event(self.fields, bytes(self.block))
                    self.events.append(ev)
                    new.append(ev)
                self.fields = {}
                self.block = bytearray()
            elif line.startswith(":"):
                self.comments += 1
                self.comment_texts.append(line)
                if not self.fields:
                    self.block = bytearray()
            else:
                name, sep, value = line.partition(":")
                if sep and value.startswith(" "):
                    value = value[1:]
                if name == "data":
                    self.fields.setdefault("data", []).append(value)
                else:
                    self.fields[name] = value


# ---------------------------------------------------------------- subscribing

def subscribe_request(hub, query, headers=(), method="GET", body=None):
    """The bytes of a subscription request; `body` (str) is sent form-encoded (QUERY)."""
    target = HUB_PATH + ("?" + query if query else "")
    lines = ["%s %s HTTP/1.1" % (method, target), "Host: 127.0.0.1:%d" % hub.port, "Accept: text/event-stream",
             "Cache-Control: no-cache"]
    lines += ["%s: %s" % (k, v) for k, v in headers]
    payload = b""
    if body is not None:
        payload = body.encode("utf-8")
        if not any(k.lower() == "content-type" for k, _ in headers):
            lines.append("Content-Type: application/x-www-form-urlencoded")
        lines.append("Content-Length: %d" % len(payload))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + payload


class SSEClient:
    """A subscriber on a raw socket. The constructor returns once the response
    head is in (and, for a 200, the initial ':' comment that shows the
    subscription is live)."""

    def __init__(self, hub, query, headers=(), timeout=10, rcvbuf=None, wait_open=True, method="GET", body=None):
        self.hub = hub
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(hub.addr)
        if hub.ssl_context:
            self.sock = hub.ssl_context.wrap_socket(self.sock, server_hostname="localhost")
        self.sock.sendall(subscribe_request(hub, query, headers, method, body))
        self.http = HTTPDecoder()
        self.sse = SSEParser()
        self.eof = False
        self.reset = False
        self.taken = 0  # events handed out by next_event()
        if not wait_open:
            return
        deadline = time.time() + timeout
        while self.http.status is None and self._pump(deadline):
            pass
        if self.http.status is None:
            raise AssertionError("no response head to GET ?%s within %ss" % (query, timeout))
        if self.http.status == 200:
            while not self.body_bytes().startswith(b":") and self._pump(deadline):
                pass
        else:
            while not self.http.complete and self._pump(deadline):
                pass

    @property
    def status(self):
        return self.http.status

    def header(self, name):
        return self.http.header(name)

    def all(self, name):
        return self.http.all(name)

    def body_bytes(self):
        return bytes(self.http.body)

    @property
    def events(self):
        return self.sse.events

    def _pump(self, deadline):
        """Reads once; False on timeout or end of stream."""
        if self.eof:
            return False
        left = deadline - time.time()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            self.reset = True
            self.eof = True
            self.http.eof()
            return False
        except ssl.SSLEOFError:  # the TLS peer closed without close_notify
            data = b""
        if not data:
            self.eof = True
            self.http.eof()
            return False
        self.sse.feed(self.http.feed(data))
        return True

    def wait_events(self, n, timeout=10):
        """Reads until at least n events arrived in total; returns all events."""
        deadline = time.time() + timeout
        while len(self.sse.events) < n and self._pump(deadline):
            pass
        return list(self.sse.events)

    def next_event(self, timeout=10):
        """The first event next_event() has not returned yet, or None when
        none comes within `timeout` seconds (or the response ended)."""
        deadline = time.time() + timeout
        while self.taken >= len(self.sse.events) and not self.http.complete and self._pump(deadline):
            pass
        if self.taken >= len(self.sse.events):
            return None
        self.taken += 1
        return self.sse.events[self.taken - 1]

    def wait_id(self, event_id, timeout=10):
        deadline = time.time() + timeout
        while not any(e.id == event_id for e in self.sse.events) and self._pump(deadline):
            pass
        return list(self.sse.events)

    def read_for(self, seconds):
        deadline = time.time() + seconds
        while self._pump(deadline):
            pass
        return list(self.sse.events)

    def wait_comments(self, n, timeout):
        deadline = time.time() + timeout
        while self.sse.comments < n and self._pump(deadline):
            pass
        return self.sse.comments

    def wait_closed(self, timeout=10):
        deadline = time.time() + timeout
        while not self.eof and self._pump(deadline):
            pass
        return self.eof

    def wait_ended(self, timeout=10):
        """Until the response ends: its last chunk, or the connection closed."""
        deadline = time.time() + timeout
        while not (self.eof or self.http.complete) and self._pump(deadline):
            pass
        return self.eof or self.http.complete

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------- many subscribers at once

def raise_fd_limit(want):
    """Raises this process's soft limit on open files towards `want` (a hub
    started afterwards inherits it); returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class RawSubscriber:
    """One subscription on a non-blocking socket of its own, read by
    pump_subscribers with hundreds of others on one selector."""

    def __init__(self, hub, request):
        self.sock = socket.create_connection(hub.addr, timeout=10)
        self.sock.sendall(request)
        self.sock.setblocking(False)
        self.http = HTTPDecoder()
        self.sse = SSEParser()
        self.eof = False       # the hub closed the connection
        self.ended_at = None   # time.time() when pump_subscribers saw the stream end
        self.read_ns = []      # per event: time.monotonic_ns() when it was read

    @property
    def opened(self):
        """The stream's headers and its opening comment have arrived."""
        return bytes(self.http.body).startswith(b":")


def open_subscribers(hub, requests, n):
    """Opens n RawSubscribers, the i-th sending requests[i % len(requests)];
    returns (selector, subscribers). The caller closes both."""
    sel = selectors.DefaultSelector()
    subs = []
    for i in range(n):
        s = RawSubscriber(hub, requests[i % len(requests)])
        subs.append(s)
        sel.register(s.sock, selectors.EVENT_READ, s)
    return sel, subs


def pump_subscribers(sel, until, timeout, tick=0.2, end_on_complete=False):
    """Reads every ready subscriber of `sel` until until() is true (returns
    True) or `timeout` seconds pass (returns False). A subscriber whose
    connection ends (with end_on_complete, also one whose response ended
    cleanly) leaves the selector, its socket closed."""
    deadline = time.time() + timeout
    while not until():
        left = deadline - time.time()
        if left <= 0:
            return False
        for key, _ in sel.select(min(left, tick)):
            s = key.data
            try:
                data = s.sock.recv(262144)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                data = b""
            if data:
                now = time.monotonic_ns()
                for _ in s.sse.feed(s.http.feed(data)):
                    s.read_ns.append(now)
            if not data or (end_on_complete and s.http.complete):
                s.eof = s.eof or not data
                if s.ended_at is None:
                    s.ended_at = time.time()
                sel.unregister(s.sock)
                s.sock.close()
    return True


# ---------------------------------------------------------------- assertions

def challenge_params(value):
    """Parses a `Bearer k="v", k2="v2"` challenge into (scheme, dict)."""
    if value is None:
        return None, {}
    scheme, _, rest = value.strip().partition(" ")
    params = dict(re.findall(r'([A-Za-z_]+)="((?:[^"\\]|\\.)*)"', rest))
    return scheme, params


def metric(hub, name):
    r = request(hub, "GET", "/metrics")
    if r.status != 200:
        raise AssertionError("/metrics answered %d" % r.status)
    m = re.search(r"^%s(?:\{[^}]*\})? ([0-9.e+]+)$" % re.escape(name), r.text, re.M)
    return float(m.group(1)) if m else None


class HubTestCase(unittest.TestCase):
    """Base class: one hub per class, checked alive after every test and
    stopped with SIGTERM at the end (exit code 0 asserted: with ASan a leak
    makes it non-zero)."""

    hub_args = ()
    hub_keys = True
    hub_transport = "memory"
    hub_workers = 2
    hub = None

    redis = None

    @classmethod
    def setUpClass(cls):
        if cls.hub_transport == "redis":
            cls.redis = RedisServer()
        cls.hub = Hub(cls.hub_args, keys=cls.hub_keys, transport=cls.hub_transport, workers=cls.hub_workers,
                      redis=cls.redis)

    @classmethod
    def tearDownClass(cls):
        if cls.hub is None:
            if cls.redis:
                cls.redis.close()
            return
        rc = cls.hub.stop()
        if cls.redis:
            cls.redis.close()
        if rc != 0:
            raise AssertionError("hub exit code after SIGTERM: %r (expected 0)\n--- stderr tail ---\n%s"
                                 % (rc, cls.hub.stderr()[-6000:]))
        leaked = leaked_secrets(cls.hub.stderr())
        if leaked:
            raise AssertionError("%d tokens the tests sent appear in the hub's log, e.g. %s"
                                 % (len(leaked), leaked[0]))

    def tearDown(self):
        if self.hub is not None and not self.hub.alive():
            self.fail("the hub died (exit %r)\n%s" % (self.hub.proc.returncode, self.hub.stderr()[-6000:]))

    # --- helpers

    def topic(self, prefix="t"):
        """A topic unique to this test."""
        return "%s/%s/%d" % (prefix, self.id().split(".")[-1], time.monotonic_ns())

    def assertPublished(self, r, msg=""):
        self.assertEqual(r.status, 200, "publish should succeed: %r %s" % (r, msg))
        return r.text

    def assertChallenge(self, r, status, error=None):
        """Status and WWW-Authenticate: Bearer with (or without) the error attribute."""
        self.assertEqual(r.status, status, "status: %r" % (r,))
        value = r.header("WWW-Authenticate")
        self.assertIsNotNone(value, "WWW-Authenticate missing on %d: %r" % (status, r))
        scheme, params = challenge_params(value)
        self.assertEqual(scheme.lower(), "bearer", "challenge scheme: %r" % value)
        if error is None:
            self.assertNotIn("error", params, "a missing token must get a bare challenge: %r" % value)
            self.assertIn("resource_metadata", params, "challenge without resource_metadata: %r" % value)
        else:
            self.assertEqual(params.get("error"), error, "challenge: %r" % value)

    def assertHubServes(self):
        """A normal publish + subscribe round trip still works."""
        topic = self.topic("alive")
        token = subscriber_token([topic])
        with SSEClient(self.hub, "topic=" + php_urlencode(topic),
                       [("Authorization", "Bearer " + token)]) as sub:
            self.assertEqual(sub.status, 200, "subscribe after the error cases: %r" % sub.body_bytes())
            r = publish(self.hub, [topic], data="still alive", private=True)
            uid = self.assertPublished(r)
            events = sub.wait_events(1, timeout=10)
            self.assertEqual([(e.id, e.data) for e in events], [(uid, "still alive")])


def report(passed, failed):
    """The last line of every test program."""
    print("%d passed, %d failed" % (passed, failed))
    sys.stdout.flush()


class Results:
    """For tests written as named checks rather than unittest cases: run()
    calls fn(problems, *args), where fn appends what is wrong to `problems`
    (an exception counts as a problem too); each check prints `ok` or `FAIL`
    with its problems, and finish() prints "N passed, M failed" and returns
    the exit status."""

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
        report(self.passed, self.failed)
        return 1 if self.failed else 0


def main():
    names = sys.argv[1:]
    module = sys.modules["__main__"]
    loader = unittest.defaultTestLoader
    suite = loader.loadTestsFromNames(names, module) if names else loader.loadTestsFromModule(module)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    bad = result.failures + result.errors + [(t, "") for t in result.unexpectedSuccesses]
    real = set(id(t) for t, _ in bad if isinstance(t, unittest.TestCase))
    fixtures = sum(1 for t, _ in bad if not isinstance(t, unittest.TestCase))  # setUpClass/tearDownClass
    failed = len(real) + fixtures
    passed = result.testsRun - len(real) - len(result.skipped)
    report(passed, failed)
    sys.exit(1 if failed else 0)
