"""What the crash and resume tests add to tests/integration/hubtest.py (which
starts the hub, mints tokens, publishes, reads Server-Sent Events and prints
the results): the hub on an LMDB history the test keeps across restarts, with
the hub's default worker count and longer timeouts, and subscriptions to all
topics.

Python 3 standard library only. The binary is $QS_BINARY, else
build-crash/quicksilver beside the sources.
"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import hubtest  # noqa: E402
from hubtest import UUID7_ID as UUID7  # noqa: E402,F401 - re-exported for the tests

TIMEOUT = 30.0  # start, stop, publishes and reads: a sanitized hub replaying a long history is slow


def binary():
    return hubtest.binary("build-crash")


class Hub(hubtest.Hub):
    """One hub process on the LMDB history `history_path`. `args` are extra flags."""

    def __init__(self, history_path, args=()):
        super().__init__(args, history=history_path, workers=None, binary_path=binary(), start_timeout=TIMEOUT)

    def stop(self, timeout=TIMEOUT):
        """SIGTERM; returns the exit status (None when it had to be killed)."""
        return super().stop(timeout=timeout)


def subscribe(hub, query="topic=*", last_event_id=None):
    """A hubtest.SSEClient with a token for every topic (and Last-Event-ID)."""
    headers = [("Authorization", "Bearer " + hubtest.subscriber_token(["*"]))]
    if last_event_id is not None:
        headers.append(("Last-Event-ID", last_event_id))
    return hubtest.SSEClient(hub, query, headers, timeout=TIMEOUT)


def next_update(stream, timeout):
    """The next event with an id or data (a block of only `event:` or
    `retry:` is passed over), or None after `timeout` seconds or at the end."""
    while True:
        ev = stream.next_event(timeout)
        if ev is None or ev.id is not None or ev.data is not None:
            return ev


def publish(hub, topic, data, id=None):
    """On a fresh connection; returns (status, body without surrounding white space)."""
    r = hubtest.publish(hub, [topic], data, id=id, timeout=TIMEOUT)
    return r.status, r.text.strip()
