"""What the tests that install into this machine share (test_deb.py,
test_container.py): the checkout's paths, the integration tests' helpers
(hubtest), running a command as root (directly, or through sudo -n), and an
exclusive lock on a file under /tmp, which keeps runs from several checkouts
on one machine apart."""
import fcntl
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import hubtest  # noqa: E402,F401  (re-exported)


def sudo():
    """The prefix that runs a command as root: nothing when this process is
    root, else sudo -n (which fails instead of asking for a password)."""
    return [] if os.geteuid() == 0 else ["sudo", "-n"]


class MachineLock:
    """An exclusive flock on `path` (created when missing), for the whole
    machine: acquire() waits while another process holds it. Also a context
    manager. The lock goes with the process if release() is never called."""

    def __init__(self, path):
        self.path = path
        self.file = None

    def acquire(self):
        self.file = open(self.path, "a")
        fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def release(self):
        if self.file is None:
            return
        try:
            fcntl.flock(self.file, fcntl.LOCK_UN)
        finally:
            self.file.close()
            self.file = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
