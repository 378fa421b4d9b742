#!/usr/bin/env python3
"""Crash test: kill -9 the hub while several clients publish, restart it on
the same LMDB history and check that every acknowledged update (a 200 with
its id, sent once the update is durable with --durability sync) is replayed
exactly once, in acknowledgement order per publisher, with no duplicate id.

Each variant runs 3 kill/restart cycles on one history:

    life 1: publish from THREADS keep-alive connections, kill -9 after 0.5-2 s
    life 2: restart; subscribe with Last-Event-ID: earliest, publish a marker,
            read the replay up to the marker and check it; publish again, kill -9
    ...
    life 4: check, then SIGTERM (exit status 0: no leak or sanitizer report)

Variants: default workers, 4 publishers; --workers 2, 4 publishers;
--workers 2 --commit_interval 20ms, 16 publishers (big batches at the kill).
Checks after each restart: no duplicate id; every acknowledged id replayed,
with its data; per publisher, contiguous and in acknowledgement order (an
unanswered in-flight publish may appear once, after them, and must then stay);
publication lives in order; ids of a later life sort after earlier ones; the
update count logged at start-up equals the replay.

Standard library only; the binary is $QS_BINARY. Prints "N passed, M failed";
the exit status is non-zero on failure. QS_CRASH_SEED fixes the random kill times;
QS_CRASH_EXTRA_ARGS adds hub flags (for instance "--durability async
--commit_interval 200ms", which must make the test fail: a self-check).
"""
import http.client
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crashlib  # noqa: E402
from crashlib import UUID7, Hub  # noqa: E402
from hubtest import Publisher, Results  # noqa: E402

CYCLES = 3
THREADS = 4
TOPIC = "https://example.com/crash/%d"
MARKER_TOPIC = "https://example.com/crash/marker"
PUB_RE = re.compile(r"^c(\d+)-t(\d+)-n(\d+)$")
MARKER_RE = re.compile(r"^marker-(\d+)$")


class PublisherThread(threading.Thread):
    """Publishes c<cycle>-t<tid>-n<n> one at a time until the connection breaks."""

    def __init__(self, hub, cycle, tid, stop):
        super().__init__(daemon=True)
        self.hub, self.cycle, self.tid, self.stop = hub, cycle, tid, stop
        self.acked = []      # [(n, id)] in acknowledgement order
        self.in_flight = None  # n of the publish that got no answer
        self.errors = []

    def run(self):
        pub = Publisher(self.hub, timeout=crashlib.TIMEOUT)
        n = 0
        try:
            while not self.stop.is_set():
                data = "c%d-t%d-n%d" % (self.cycle, self.tid, n)
                self.in_flight = n
                try:
                    status, body = pub.post(TOPIC % self.tid, data)
                except (OSError, http.client.HTTPException):
                    return  # the hub was killed
                if status != 200:
                    self.errors.append("publish %s: status %d %r" % (data, status, body[:200]))
                    return
                body = body.strip()
                if not UUID7.match(body):
                    self.errors.append("publish %s: body %r is not a UUIDv7 URN" % (data, body))
                self.acked.append((n, body))
                self.in_flight = None
                n += 1
        finally:
            pub.close()


class History:
    """What the test knows was published on one history path."""

    def __init__(self):
        self.acked = {}       # (cycle, tid) -> [(n, id)]
        self.in_flight = {}   # (cycle, tid) -> n with no answer (maybe durable, maybe not)
        self.markers = {}     # cycle -> id
        self.life_of_id = {}  # id -> process life (1-based) that generated it

    def acked_ids(self):
        out = set(self.markers.values())
        for items in self.acked.values():
            out.update(i for _, i in items)
        return out


def publish_and_kill(hub, cycle, hist, rng, life, nthreads):
    stop = threading.Event()
    threads = [PublisherThread(hub, cycle, t, stop) for t in range(nthreads)]
    for t in threads:
        t.start()
    delay = rng.uniform(0.5, 2.0)
    time.sleep(delay)
    hub.kill()  # kill -9
    stop.set()
    problems = []
    for t in threads:
        t.join(30)
        if t.is_alive():
            problems.append("publisher thread %d did not stop after the kill" % t.tid)
        hist.acked[(cycle, t.tid)] = list(t.acked)
        if t.in_flight is not None:
            hist.in_flight[(cycle, t.tid)] = t.in_flight
        for _, i in t.acked:
            hist.life_of_id[i] = life
        problems.extend(t.errors)
    total = sum(len(t.acked) for t in threads)
    print("     cycle %d: killed after %.2f s, %d publishes acknowledged (%s)" % (
        cycle, delay, total, ", ".join(str(len(t.acked)) for t in threads)), flush=True)
    if total == 0:
        problems.append("no publish was acknowledged before the kill")
    return problems


def verify_replay(problems, hub, cycle, hist, life):
    """Subscribe from earliest, publish a marker, read up to it, check."""
    s = crashlib.subscribe(hub, "topic=*", last_event_id="earliest")
    try:
        if s.status != 200:
            problems.append("subscribe status %d" % s.status)
            return
        if s.header("Mercure-Last-Event-ID") != "earliest":
            problems.append("Mercure-Last-Event-ID %r, expected 'earliest'" %
                            s.header("Mercure-Last-Event-ID"))
        status, marker_id = crashlib.publish(hub, MARKER_TOPIC, "marker-%d" % cycle)
        if status != 200:
            problems.append("marker publish status %d %r" % (status, marker_id))
            return
        events = []
        deadline = time.monotonic() + 90
        got_marker = False
        while time.monotonic() < deadline:
            ev = crashlib.next_update(s, 10)
            if ev is None:
                break
            if ev.id == marker_id:
                got_marker = True
                if (ev.data or "") != "marker-%d" % cycle:
                    problems.append("marker %s came with data %r" % (marker_id, ev.data or ""))
                break
            events.append(ev)
        if not got_marker:
            problems.append("the marker %s never arrived (%d events read, eof=%s)" %
                            (marker_id, len(events), s.eof or s.http.complete))
    finally:
        s.close()

    hist.markers[cycle] = marker_id
    hist.life_of_id[marker_id] = life
    check_events(problems, events, cycle, hist, hub)


def check_events(problems, events, cycle, hist, hub):
    ids = [e.id for e in events]
    # 1. No duplicate id at all.
    seen = {}
    for pos, i in enumerate(ids):
        if i is None:
            problems.append("event #%d has no id (data %r)" % (pos, events[pos].data or ""))
            continue
        if i in seen:
            problems.append("duplicate id %s at #%d and #%d (data %r)" %
                            (i, seen[i], pos, events[pos].data or ""))
        else:
            seen[i] = pos

    # 2. Every acknowledged id is replayed (markers of earlier cycles included).
    expected = hist.acked_ids() - {hist.markers[cycle]}
    missing = [i for i in expected if i not in seen]
    if missing:
        lost = []
        for key, items in sorted(hist.acked.items()):
            for n, i in items:
                if i in missing:
                    lost.append("c%d-t%d-n%d=%s" % (key[0], key[1], n, i))
        lost += ["marker %s" % i for c, i in hist.markers.items() if i in missing]
        problems.append("%d acknowledged updates lost (of %d): %s" %
                        (len(missing), len(expected), ", ".join(sorted(lost)[:10])))

    # 3. Each event is one that was sent, with the id it was acknowledged with;
    #    per publisher the updates come in acknowledgement order, contiguous
    #    from n0, with at most the unanswered in-flight publish after them.
    id_of = {}
    for (c, t), items in hist.acked.items():
        for n, i in items:
            id_of[(c, t, n)] = i
    per_thread = {}
    ranks = []
    unanswered_durable = 0
    for pos, ev in enumerate(events):
        data = ev.data or ""
        m = PUB_RE.match(data)
        if m:
            c, t, n = (int(g) for g in m.groups())
            per_thread.setdefault((c, t), []).append(n)
            want = id_of.get((c, t, n))
            if want is None:
                if hist.in_flight.get((c, t)) != n:
                    problems.append("#%d %r (id %s) was never published" % (pos, data, ev.id))
                else:
                    # Durable but unanswered: fine once; remember its id so a later
                    # replay must show it again (it is in history now).
                    hist.acked.setdefault((c, t), []).append((n, ev.id))
                    hist.life_of_id[ev.id] = c
                    del hist.in_flight[(c, t)]
                    id_of[(c, t, n)] = ev.id
                    unanswered_durable += 1
            elif want != ev.id:
                problems.append("#%d %r has id %s, acknowledged as %s" % (pos, data, ev.id, want))
            ranks.append((2 * c, pos))
            continue
        m = MARKER_RE.match(data)
        if m:
            c = int(m.group(1))
            if hist.markers.get(c) != ev.id:
                problems.append("#%d marker %r with id %s, acknowledged as %s" %
                                (pos, data, ev.id, hist.markers.get(c)))
            ranks.append((2 * c + 1, pos))
            continue
        problems.append("#%d unexpected event data %r id %s" % (pos, data, ev.id))
    for key, ns in sorted(per_thread.items()):
        if ns != list(range(len(ns))):
            bad = next(k for k in range(len(ns)) if ns[k] != k)
            problems.append("publisher c%d-t%d: replay order %s... breaks at #%d (n=%d, expected %d)" %
                            (key[0], key[1], ns[max(0, bad - 3):bad + 3], bad, ns[bad], bad))

    # 4. Publishing lives come in order: cycle 1 updates, marker 1, cycle 2 updates...
    for (r1, p1), (r2, p2) in zip(ranks, ranks[1:]):
        if r2 < r1:
            problems.append("event #%d (rank %d) replayed after #%d (rank %d): history order "
                            "does not follow publication order" % (p2, r2, p1, r1))
            break

    # 5. Hub-generated ids of a later process life sort after those of earlier lives.
    lives = {}
    for ev in events:
        life = hist.life_of_id.get(ev.id)
        if life is not None:
            lo, hi = lives.get(life, (ev.id, ev.id))
            lives[life] = (min(lo, ev.id), max(hi, ev.id))
    order = sorted(lives)
    for a, b in zip(order, order[1:]):
        if not lives[a][1] < lives[b][0]:
            problems.append("ids after restart %d do not sort after the ones before: max %s >= min %s" %
                            (a, lives[a][1], lives[b][0]))

    # 6. Per publisher thread, the acknowledged ids increase (UUIDv7 string order).
    for key, items in sorted(hist.acked.items()):
        for (n1, i1), (n2, i2) in zip(items, items[1:]):
            if not i1 < i2:
                problems.append("publisher c%d-t%d: id of n%d %s does not sort after n%d %s" %
                                (key[0], key[1], n2, i2, n1, i1))
                break

    # 7. The store's own count at start-up agrees with what was replayed.
    if hub.opened is not None and hub.opened[0] != len(events):
        problems.append("history opened with updates=%d, %d replayed" % (hub.opened[0], len(events)))

    print("     replayed %d updates (%d acknowledged before; %d unanswered in-flight publishes "
          "turned out durable)" % (len(events), len(expected), unanswered_durable), flush=True)


def run_variant(results, name, args, rng, nthreads=THREADS):
    tmp = tempfile.mkdtemp(prefix="qs-crash-")
    history = os.path.join(tmp, "h")
    hist = History()
    hub = None
    try:
        life = 1
        hub = Hub(history, args)
        for cycle in range(1, CYCLES + 1):
            results.run("%s: cycle %d publish + kill -9" % (name, cycle),
                        lambda problems: problems.extend(publish_and_kill(hub, cycle, hist, rng, life, nthreads)))
            life += 1
            hub = Hub(history, args)
            results.run("%s: cycle %d replay after restart" % (name, cycle),
                        verify_replay, hub, cycle, hist, life)
            if not hub.alive():
                break

        def clean_stop(problems):
            code = hub.stop()
            if code != 0:
                problems.append("SIGTERM exit status %r\n%s" % (code, hub.stderr()[-4000:]))
        results.run("%s: graceful stop after the last replay" % name, clean_stop)
    finally:
        if hub is not None and hub.alive():
            hub.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    seed = int(os.environ.get("QS_CRASH_SEED", str(int(time.time() * 1000) % 1000000)))
    rng = random.Random(seed)
    print("binary %s, seed %d (QS_CRASH_SEED)" % (crashlib.binary(), seed), flush=True)
    if not os.path.exists(crashlib.binary()):
        print("no binary at %s" % crashlib.binary())
        return 1
    start = time.monotonic()
    results = Results()
    extra = os.environ.get("QS_CRASH_EXTRA_ARGS", "").split()
    # history_size 0: nothing may be evicted, every acknowledged update must stay.
    run_variant(results, "default workers", ["--history_size", "0"] + extra, rng)
    run_variant(results, "--workers 2", ["--history_size", "0", "--workers", "2"] + extra, rng)
    # Long group commits: many publishes wait in each batch when the kill comes.
    run_variant(results, "--workers 2 --commit_interval 20ms, 16 publishers",
                ["--history_size", "0", "--workers", "2", "--commit_interval", "20ms"] + extra, rng, 16)
    print("%.1f s" % (time.monotonic() - start))
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
