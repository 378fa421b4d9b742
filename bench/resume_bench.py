#!/usr/bin/env python3
"""Resume benchmark of the real hub on an LMDB history (Python 3 standard
library only; build the hub in Release).

1. Fill: start the hub on a fresh history and publish --updates updates over
   --procs processes x --conns keep-alive connections (one publish in flight
   per connection: the hub answers a connection's publishes one at a time, each
   once durable, so concurrency comes from connections; group commit batches
   them).
2. Resume latency: time from sending the GET with Last-Event-ID to receiving
   the first replayed event, --samples times each, from the newest entry (the
   newest-but-one id, so exactly one update is replayed) and from the oldest
   entry (everything after it is replayed); p50/p99. Plus a few full replays
   from the oldest entry (time to the last update).
3. Durable publishes/s with 8 concurrent publishers (8 processes, one
   connection each, one publish in flight), for --pub-seconds; then 8
   publishers x --conns connections each.

Usage:
    python3 bench/resume_bench.py --binary build-crash-rel/quicksilver [--updates 1000000]
"""
import argparse
import multiprocessing
import os
import re
import selectors
import shutil
import socket
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import hubtest  # noqa: E402
from hubtest import HUB_PATH  # noqa: E402


def pub_token():
    return hubtest.publisher_token(exp_in=36000)


def sub_token():
    return hubtest.subscriber_token(["*"], exp_in=36000)


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * (len(v) - 1)))))
    return v[k]


# ---------------------------------------------------------------- the hub

def start_hub(binary, history, extra):
    return hubtest.Hub(["--history_size", "0"] + extra, history=history, workers=None, binary_path=binary,
                       start_timeout=30)


def rss_mib(hub, field="VmRSS:"):
    """VmRSS counts the mapped history file too; RssAnon is the heap."""
    try:
        with open("/proc/%d/status" % hub.proc.pid) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


class Probe(threading.Thread):
    """While running: the hub's peak anonymous memory (polled every 5 ms) and
    the latency of publishes sent one after another on fresh connections."""

    def __init__(self, hub):
        super().__init__(daemon=True)
        self.hub = hub
        self.stop = threading.Event()
        self.peak_anon = 0.0
        self.pub_lat = []

    def run(self):
        def mem():
            while not self.stop.is_set():
                self.peak_anon = max(self.peak_anon, rss_mib(self.hub, "RssAnon:"))
                time.sleep(0.005)
        t = threading.Thread(target=mem, daemon=True)
        t.start()
        while not self.stop.is_set():
            t0 = time.perf_counter()
            publish_one(self.hub, "https://example.com/bench/probe", "probe")
            self.pub_lat.append(time.perf_counter() - t0)
            time.sleep(0.01)
        t.join()



# ---------------------------------------------------------------- publishing

def publish_request(token, topic, data):
    body = hubtest.symfony_body(topic, data)
    return ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n"
            % (HUB_PATH, token, len(body))).encode() + body


def take_response(buf):
    """(status, body, rest) of the first complete response in buf, or None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[:end])
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
    length = int(m.group(1)) if m else 0
    if len(buf) < end + 4 + length:
        return None
    status = int(head[9:12])
    return status, bytes(buf[end + 4:end + 4 + length]), end + 4 + length


def pump(port, count, conns, seconds, result_queue, tag):
    """Publish `count` updates (or for `seconds` when count is 0) over
    `conns` connections, one in flight each. Puts (done, errors, elapsed,
    latencies) on the queue."""
    token = pub_token()
    reqs = [publish_request(token, "https://example.com/bench/%s/%d" % (tag, c),
                            "x" * 100) for c in range(conns)]
    sel = selectors.DefaultSelector()
    state = {}
    sent = 0
    done = 0
    errors = 0
    latencies = []
    start = time.perf_counter()
    deadline = start + seconds if seconds else None
    for c in range(conns):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        state[s] = [c, bytearray(), 0.0]
        sel.register(s, selectors.EVENT_READ)

    def more():
        if deadline is not None:
            return time.perf_counter() < deadline
        return sent < count

    for s, st in state.items():
        if more():
            st[2] = time.perf_counter()
            s.sendall(reqs[st[0]])
            sent += 1
    open_conns = len(state)
    while done < sent:
        for key, _ in sel.select(timeout=30):
            s = key.fileobj
            st = state[s]
            data = s.recv(65536)
            if not data:
                raise RuntimeError("connection closed by the hub")
            st[1] += data
            while True:
                r = take_response(st[1])
                if r is None:
                    break
                status, _, used = r
                del st[1][:used]
                now = time.perf_counter()
                latencies.append(now - st[2])
                done += 1
                if status != 200:
                    errors += 1
                if more():
                    st[2] = now
                    s.sendall(reqs[st[0]])
                    sent += 1
    elapsed = time.perf_counter() - start
    for s in state:
        s.close()
    if len(latencies) > 20000:  # keep the queue small: a uniform subsample
        step = len(latencies) / 20000.0
        latencies = [latencies[int(i * step)] for i in range(20000)]
    result_queue.put((done, errors, elapsed, latencies))
    del open_conns


def run_publishers(port, procs, conns, total=0, seconds=0):
    q = multiprocessing.Queue()
    ps = []
    per = [total // procs + (1 if i < total % procs else 0) for i in range(procs)]
    start = time.perf_counter()
    for i in range(procs):
        p = multiprocessing.Process(target=pump, args=(port, per[i], conns, seconds, q, "p%d" % i))
        p.start()
        ps.append(p)
    results = [q.get() for _ in ps]
    elapsed = time.perf_counter() - start
    for p in ps:
        p.join()
    done = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    lat = [x for r in results for x in r[3]]
    return done, errors, elapsed, lat


def publish_one(hub, topic, data):
    """On a fresh connection; returns the id."""
    r = hubtest.publish(hub, [topic], data, token=pub_token())
    if r.status != 200:
        raise RuntimeError("publish: status %d" % r.status)
    return r.text.strip()


# ---------------------------------------------------------------- resuming

class SSE:
    """A subscription to every topic on a raw socket from Last-Event-ID:
    hubtest's decoder undoes the chunked framing as data comes; `text` is
    the event stream (trimmed by until())."""

    def __init__(self, hub, last_event_id, token):
        self.sock = socket.create_connection(hub.addr)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.req = hubtest.subscribe_request(hub, "topic=*", [("Authorization", "Bearer " + token),
                                                              ("Last-Event-ID", last_event_id)])
        self.http = hubtest.HTTPDecoder()
        self.text = bytearray()

    def send(self):
        self.t0 = time.perf_counter()
        self.sock.sendall(self.req)

    def _feed(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise RuntimeError("stream closed")
        self.text += self.http.feed(data)
        del self.http.body[:]  # kept in self.text only
        if self.http.status is not None and self.http.status != 200:
            raise RuntimeError("subscribe: %d %s" % (self.http.status, self.http.reason))
        if self.http.complete:
            raise RuntimeError("stream ended")

    def first_id(self):
        """Seconds from the GET to the first complete `id:` line, and the id."""
        while True:
            i = self.text.find(b"id: ")
            if i >= 0:
                nl = self.text.find(b"\n", i)
                if nl >= 0:
                    return time.perf_counter() - self.t0, bytes(self.text[i + 4:nl]).decode()
            self._feed()

    def until(self, needle):
        """Seconds from the GET until `needle` appears in the event text."""
        needle = needle.encode()
        while True:
            if needle in self.text:
                return time.perf_counter() - self.t0
            keep = len(needle) + 8
            if len(self.text) > (1 << 20):
                del self.text[:-keep]
            self._feed()

    def close(self):
        self.sock.close()


def resume_samples(hub, cursor, expect_first, n):
    token = sub_token()
    out = []
    for _ in range(n):
        s = SSE(hub, cursor, token)
        s.send()
        dt, first = s.first_id()
        s.close()
        if first != expect_first:
            raise RuntimeError("first replayed id %s, expected %s" % (first, expect_first))
        out.append(dt)
    return out


def ms(x):
    return "%.2f ms" % (x * 1000.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                                     "build-crash-rel", "quicksilver"))
    ap.add_argument("--updates", type=int, default=1000000)
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--conns", type=int, default=64, help="connections per publishing process")
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--full-replays", type=int, default=3)
    ap.add_argument("--pub-seconds", type=float, default=10.0)
    ap.add_argument("--dir", default=None, help="where the history goes (default: a temporary directory)")
    ap.add_argument("--hub-args", default="", help="extra hub flags")
    args = ap.parse_args()

    print("command: python3 %s" % " ".join(sys.argv), flush=True)
    tmp = tempfile.mkdtemp(prefix="qs-resume-bench-", dir=args.dir)
    history = os.path.join(tmp, "h")
    hub = start_hub(os.path.abspath(args.binary), history, args.hub_args.split())
    print("hub: %s" % " ".join(hub.cmd), flush=True)
    print("cores: %d, load average %.2f %.2f %.2f" % ((os.cpu_count(),) + os.getloadavg()), flush=True)
    try:
        # 1. Fill.
        oldest = publish_one(hub, "https://example.com/bench/first", "first")
        second = publish_one(hub, "https://example.com/bench/first", "second")
        fill = max(0, args.updates - 4)
        done, errors, elapsed, lat = run_publishers(hub.port, args.procs, args.conns, total=fill)
        before_last = publish_one(hub, "https://example.com/bench/last", "before-last")
        newest = publish_one(hub, "https://example.com/bench/last", "last")
        total = done + 4
        print("fill: %d updates (%d errors) in %.1f s = %.0f durable publishes/s "
              "(%d processes x %d connections); publish latency p50 %s p99 %s; hub RSS %.0f MiB"
              % (total, errors, elapsed, done / elapsed, args.procs, args.conns,
                 ms(pct(lat, 50)), ms(pct(lat, 99)), rss_mib(hub)), flush=True)
        size = sum(os.path.getsize(os.path.join(history, f)) for f in os.listdir(history))
        print("history: %s, %.0f MiB on disk" % (history, size / 1048576.0), flush=True)

        # 2. Resume latency.
        r_new = resume_samples(hub, before_last, newest, args.samples)
        print("resume from the newest entry (newest-but-one id, 1 update replayed), %d samples: "
              "p50 %s p99 %s (min %s max %s)" % (len(r_new), ms(pct(r_new, 50)), ms(pct(r_new, 99)),
                                                 ms(min(r_new)), ms(max(r_new))), flush=True)
        idle = Probe(hub)
        idle.start()
        time.sleep(2)
        idle.stop.set()
        idle.join()
        r_old = resume_samples(hub, oldest, second, args.samples)
        print("resume from the oldest entry (%d updates after it), first event, %d samples: "
              "p50 %s p99 %s (min %s max %s)" % (total - 1, len(r_old), ms(pct(r_old, 50)),
                                                 ms(pct(r_old, 99)), ms(min(r_old)), ms(max(r_old))),
              flush=True)
        # The cost of such a resume to the rest of the hub: memory, and the
        # latency of other clients' publishes meanwhile (then at rest).
        probe = Probe(hub)
        probe.start()
        resume_samples(hub, oldest, second, 5)
        probe.stop.set()
        probe.join()
        print("  during 5 more resumes from the oldest: hub anonymous memory peak %.0f MiB (before any "
              "resume from the oldest %.0f MiB); one publish every 10 ms on a fresh connection took p50 %s max %s "
              "(at rest before: p50 %s max %s)" % (
                  probe.peak_anon, idle.peak_anon, ms(pct(probe.pub_lat, 50)), ms(max(probe.pub_lat)),
                  ms(pct(idle.pub_lat, 50)), ms(max(idle.pub_lat))), flush=True)
        fulls = []
        for _ in range(args.full_replays):
            s = SSE(hub, oldest, sub_token())
            s.send()
            fulls.append(s.until("id: " + newest + "\n"))
            s.close()
        if fulls:
            print("full replay from the oldest entry (%d updates, to the newest): %s s" % (
                total - 1, ", ".join("%.2f" % f for f in fulls)), flush=True)

        # 3. Durable publishes/s, 8 concurrent publishers.
        done, errors, elapsed, lat = run_publishers(hub.port, 8, 1, seconds=args.pub_seconds)
        print("8 publishers x 1 connection (one publish in flight each), %.0f s: %d publishes "
              "(%d errors) = %.0f durable publishes/s; latency p50 %s p99 %s" % (
                  args.pub_seconds, done, errors, done / elapsed, ms(pct(lat, 50)), ms(pct(lat, 99))),
              flush=True)
        conns = max(1, args.conns // 2)
        done, errors, elapsed, lat = run_publishers(hub.port, 8, conns, seconds=args.pub_seconds)
        print("8 publishers x %d connections, %.0f s: %d publishes (%d errors) = %.0f durable "
              "publishes/s; latency p50 %s p99 %s" % (
                  conns, args.pub_seconds, done, errors, done / elapsed, ms(pct(lat, 50)),
                  ms(pct(lat, 99))), flush=True)
        print("load average at the end: %.2f %.2f %.2f" % os.getloadavg(), flush=True)
    finally:
        code = hub.stop(timeout=60)
        print("hub exit status %s" % code, flush=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
