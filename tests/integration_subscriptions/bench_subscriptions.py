"""Cost of active subscriptions: connects and disconnects N subscribers
(CONCURRENCY at a time) while a watcher follows the subscription events, with
the `subscriptions` feature on and off, and reports the hub's CPU time per
connect+disconnect cycle (from /proc) and the wall time.

Not a test: run by hand against a release build,
    python3 bench_subscriptions.py build-subs-rel/quicksilver [N]
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_subscriptions as t  # noqa: E402

CONCURRENCY = 200


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cycle(hub, n):
    request = ("GET %s?match=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" %
               (t.HUB_PATH, t.enc("https://example.com/room/1"))).encode()
    done = 0
    while done < n:
        batch = []
        for _ in range(min(CONCURRENCY, n - done)):
            s = socket.create_connection(("127.0.0.1", hub.port))
            s.sendall(request)
            batch.append(s)
        for s in batch:
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    raise RuntimeError("closed")
                buf += chunk
            assert buf.startswith(b"HTTP/1.1 200"), buf[:100]
        for s in batch:
            s.close()
        done += len(batch)


def run(feature, n):
    args = ["--anonymous"] + (["--subscriptions"] if feature else [])
    hub = t.start_hub(args, workers=2)
    try:
        watcher = t.SSEClient(hub, "match_urlpattern=" + t.enc(t.NS + "/*"), token=t.draft_token(hub, [t.NS + "/*"]))
        cycle(hub, 200)  # warm-up
        time.sleep(0.5)
        while not watcher.queue.empty():
            watcher.queue.get()
        cpu0, wall0 = cpu_seconds(hub.proc.pid), time.monotonic()
        cycle(hub, n)
        expected = 2 * n if feature else 0
        deadline = time.monotonic() + 60
        seen = 0
        while seen < expected and time.monotonic() < deadline:
            try:
                watcher.queue.get(timeout=1)
                seen += 1
            except Exception:
                pass
        time.sleep(0.5)
        cpu1, wall1 = cpu_seconds(hub.proc.pid), time.monotonic()
        watcher.close()
        return (cpu1 - cpu0) / n * 1e6, (wall1 - wall0), seen
    finally:
        hub.stop()


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else None
    if binary:
        os.environ["QS_BINARY"] = os.path.abspath(binary)
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    for feature in (False, True, False, True):
        us, wall, seen = run(feature, n)
        print("subscriptions %-3s  %d connect+disconnect: hub CPU %.1f us/cycle, wall %.2f s, watcher saw %d events"
              % ("on" if feature else "off", n, us, wall, seen))


if __name__ == "__main__":
    main()
