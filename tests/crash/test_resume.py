#!/usr/bin/env python3
"""Reconnection through the real binary on an LMDB history, across restarts.

One history; three process lives: the first is stopped with SIGTERM, the
second with kill -9. In every life (after each restart) the same checks run
against everything published so far on topic T:

- resume from the newest entry: Mercure-Last-Event-ID is that id, nothing is
  replayed, the next live update comes first;
- resume from the oldest entry: the header is that id, every later update of
  T is replayed once, in order (updates of other topics are not);
- resume from a middle entry, from a publisher-chosen id, with the
  last_event_id query parameter, and from `earliest`;
- resume from an unknown id: the header is `earliest`, nothing is replayed;
- new hub-generated ids (UUIDv7) sort after every id generated before the
  restart.

Standard library only; the binary is $QS_BINARY. Prints "N passed, M failed".
"""
import os
import shutil
import sys
import tempfile
import urllib.parse
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crashlib  # noqa: E402
from crashlib import UUID7, Hub  # noqa: E402
from hubtest import Results  # noqa: E402

T = "https://example.com/resume/t"
OTHER = "https://example.com/resume/other"
MARK = "https://example.com/resume/mark/%d"


class State:
    def __init__(self):
        self.t_events = []     # [(id, data)] published on T, in order
        self.hub_ids = []      # hub-generated ids, in publication order (all topics)
        self.marks = 0


def publish(problems, hub, topic, data, id=None):
    status, body = crashlib.publish(hub, topic, data, id=id)
    if status != 200:
        problems.append("publish %s %r: status %d %r" % (topic, data, status, body))
        return None
    if id is not None and body != id:
        problems.append("publish with id %r answered %r" % (id, body))
    if id is None and not UUID7.match(body):
        problems.append("hub-generated id %r is not a UUIDv7 URN" % body)
    return body


def resume(problems, hub, st, cursor, expect_header, expect_replay, query_param=False):
    """Subscribe to T (and a fresh marker topic) with `cursor`; check the
    header, then read until the marker published after the headers arrives."""
    st.marks += 1
    mark_topic = MARK % st.marks
    query = "topic=%s&topic=%s" % (urllib.parse.quote(T, safe=""), urllib.parse.quote(mark_topic, safe=""))
    if query_param:
        query += "&last_event_id=" + urllib.parse.quote(cursor, safe="")
        s = crashlib.subscribe(hub, query)
    else:
        s = crashlib.subscribe(hub, query, last_event_id=cursor)
    try:
        if s.status != 200:
            problems.append("status %d" % s.status)
            return
        got_header = s.header("Mercure-Last-Event-ID")
        if got_header != expect_header:
            problems.append("Mercure-Last-Event-ID %r, expected %r" % (got_header, expect_header))
        mark_id = publish(problems, hub, mark_topic, "mark-%d" % st.marks)
        events = []
        while True:
            ev = crashlib.next_update(s, 10)
            if ev is None:
                problems.append("the marker never arrived (%d events before)" % len(events))
                break
            if ev.id == mark_id:
                break
            events.append((ev.id, ev.data or ""))
        if events != expect_replay:
            problems.append("replayed %d events, expected %d; first differences: %s" % (
                len(events), len(expect_replay),
                [(i, a, b) for i, (a, b) in enumerate(zip(events, expect_replay)) if a != b][:3]
                or (events[len(expect_replay):][:3] if len(events) > len(expect_replay)
                    else expect_replay[len(events):][:3])))
    finally:
        s.close()


def publish_batch(problems, hub, st, life, count=5):
    """Publish `count` updates on T (one of them with a chosen id) and a few on
    another topic; new hub ids must sort after every earlier one."""
    before = max(st.hub_ids) if st.hub_ids else None
    for k in range(count):
        if k == 2:
            cid = "custom-life%d-%d" % (life, k)
            publish(problems, hub, T, "life%d-%d" % (life, k), id=cid)
            st.t_events.append((cid, "life%d-%d" % (life, k)))
        else:
            i = publish(problems, hub, T, "life%d-%d" % (life, k))
            st.t_events.append((i, "life%d-%d" % (life, k)))
            st.hub_ids.append(i)
        if k % 2 == 1:
            st.hub_ids.append(publish(problems, hub, OTHER, "other-life%d-%d" % (life, k)))
    new = [i for i in st.hub_ids if i is not None]
    for a, b in zip(new, new[1:]):
        if not a < b:
            problems.append("hub id %s does not sort after the one published before it, %s" % (b, a))
    if before is not None:
        first_new = st.t_events[-count][0]
        if not before < first_new:
            problems.append("first id after the restart %s does not sort after %s" % (first_new, before))


def run_life(results, hub, st, life):
    name = "life %d" % life
    ev = st.t_events
    custom = [k for k, (i, _) in enumerate(ev) if not UUID7.match(i)]
    results.run("%s: resume from the newest entry" % name, resume, hub, st, ev[-1][0], ev[-1][0], [])
    results.run("%s: resume from the oldest entry" % name, resume, hub, st, ev[0][0], ev[0][0], ev[1:])
    mid = len(ev) // 2
    results.run("%s: resume from a middle entry" % name, resume, hub, st, ev[mid][0], ev[mid][0], ev[mid + 1:])
    results.run("%s: resume from a publisher-chosen id" % name, resume, hub, st,
                ev[custom[0]][0], ev[custom[0]][0], ev[custom[0] + 1:])
    results.run("%s: resume with the last_event_id query parameter" % name, resume, hub, st,
                ev[1][0], ev[1][0], ev[2:], True)
    results.run("%s: resume from earliest" % name, resume, hub, st, "earliest", "earliest", ev)
    unknown = "urn:uuid:" + str(uuid.uuid4())
    results.run("%s: resume from an unknown id" % name, resume, hub, st, unknown, "earliest", [])
    results.run("%s: resume from an empty Last-Event-ID" % name, resume, hub, st, "", "earliest", [])


def main():
    print("binary %s" % crashlib.binary(), flush=True)
    if not os.path.exists(crashlib.binary()):
        print("no binary at %s" % crashlib.binary())
        return 1
    results = Results()
    st = State()
    tmp = tempfile.mkdtemp(prefix="qs-resume-")
    history = os.path.join(tmp, "h")
    args = ["--history_size", "0"]
    hub = None
    try:
        hub = Hub(history, args)
        results.run("life 1: publish", publish_batch, hub, st, 1, 10)
        run_life(results, hub, st, 1)

        def graceful(problems):
            code = hub.stop()
            if code != 0:
                problems.append("SIGTERM exit status %r\n%s" % (code, hub.stderr()[-3000:]))
        results.run("life 1: SIGTERM", graceful)

        hub = Hub(history, args)
        run_life(results, hub, st, 2)
        results.run("life 2: new ids after a SIGTERM restart sort after the old ones",
                    publish_batch, hub, st, 2)
        run_life(results, hub, st, 2)
        hub.kill()  # kill -9

        hub = Hub(history, args)
        run_life(results, hub, st, 3)
        results.run("life 3: new ids after a kill -9 restart sort after the old ones",
                    publish_batch, hub, st, 3)
        run_life(results, hub, st, 3)
        results.run("life 3: SIGTERM", graceful)
    finally:
        if hub is not None and hub.alive():
            hub.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
