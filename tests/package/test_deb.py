"""The Debian package, end to end on this machine: build it with
scripts/build-deb.sh (dpkg-buildpackage), check it with lintian (no error),
install it with dpkg -i, verify the installed systemd unit, start the
installed binary as the quicksilver user with the installed configuration
(plus keys, through the reference hub's MERCURE_* variables), publish and
subscribe through it, then dpkg --purge and check that nothing is left.

This installs into the real system, as root (or through sudo -n). A lock file
keeps two runs on one machine apart, a hub package installed by someone else
is never touched (the test fails instead), and cleanup runs whatever
happens: the package is purged, and the quicksilver user removed when this
test created it.
"""
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from pkgtest import ROOT, MachineLock, hubtest, sudo  # noqa: E402

LOCK_PATH = "/tmp/quicksilver-package-test.lock"
CONFIG = "/etc/quicksilver/quicksilver.conf"
UNIT = "/lib/systemd/system/quicksilver.service"
STATE = "/var/lib/quicksilver"
OURS = [CONFIG, "/etc/quicksilver", "/etc/default/quicksilver", UNIT, "/usr/bin/quicksilver",
        "/usr/share/man/man1/quicksilver.1.gz", "/usr/share/doc/quicksilver", STATE]


def run(cmd, check=True, timeout=300, env=None):
    r = subprocess.run(sudo() + cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout, env=env)
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r


def installed(package="quicksilver"):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    return r.returncode == 0 and "installed" in r.stdout and "not-installed" not in r.stdout


def user_exists(name="quicksilver"):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def dpkg(args):
    """dpkg, waiting (up to 3 minutes) while another package manager holds
    its lock."""
    deadline = time.time() + 180
    while True:
        r = run(["dpkg"] + args, check=False)
        if r.returncode == 0 or "lock" not in r.stderr or time.time() > deadline:
            if r.returncode != 0:
                raise AssertionError("dpkg %s exited %d\n%s%s" % (" ".join(args), r.returncode, r.stdout,
                                                                    r.stderr))
            return r
        time.sleep(2)


class InstalledHub:
    """/usr/bin/quicksilver as the quicksilver user, on an ephemeral port of
    127.0.0.1; the attributes the hubtest clients need (port, addr,
    ssl_context, hub_url)."""

    def __init__(self, env):
        cmd = sudo() + ["env"] + ["%s=%s" % kv for kv in env.items()] + [
            "setpriv", "--reuid=quicksilver", "--regid=quicksilver", "--init-groups", "--",
            "/usr/bin/quicksilver", "--config", CONFIG, "--listen", "127.0.0.1:0", "--workers", "2"]
        self.lines = []
        self.port = None
        self.hub_url = None
        self.ssl_context = None
        self.ready = threading.Event()
        # A clean environment: only what the test sets reaches the hub.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, cwd="/", env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        threading.Thread(target=self._drain, daemon=True).start()
        self.ready.wait(30)
        if self.port is None:
            self.stop()
            raise AssertionError("the installed hub did not start:\n" + self.stderr())

    def _drain(self):
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            m = re.search(r"listening on 127\.0\.0\.1:(\d+) \(hub (\S+?),", line)
            if m and self.port is None:
                self.port, self.hub_url = int(m.group(1)), m.group(2)
                self.ready.set()
        self.ready.set()

    @property
    def addr(self):
        return ("127.0.0.1", self.port)

    def stderr(self):
        return "".join(self.lines)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # reaches the hub through sudo/env/setpriv
        try:
            code = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            code = None
        self.proc.stderr.close()
        return code


class DebianPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lock = MachineLock(LOCK_PATH).acquire()
        if installed():
            raise AssertionError("a quicksilver package is already installed on this machine: this test "
                                 "installs and purges its own, so it refuses to touch that one")
        cls.user_before = user_exists()
        cls.out = tempfile.mkdtemp(prefix="qs-deb-")
        r = subprocess.run([os.path.join(ROOT, "scripts", "build-deb.sh")], capture_output=True, text=True,
                           timeout=900, env=dict(os.environ, DEB_OUT=cls.out))
        if r.returncode != 0:
            raise AssertionError("build-deb.sh failed:\n" + r.stdout + r.stderr)
        cls.deb = r.stdout.strip().splitlines()[-1]

    @classmethod
    def tearDownClass(cls):
        try:
            if installed():
                dpkg(["--purge", "quicksilver"])
            if not cls.user_before and user_exists():
                run(["deluser", "--quiet", "--system", "quicksilver"], check=False)
            if not cls.user_before:
                run(["delgroup", "--quiet", "--system", "quicksilver"], check=False)
            shutil.rmtree(cls.out, ignore_errors=True)
        finally:
            cls.lock.release()

    def test_package(self):
        # The package as built: dependencies computed by dpkg-shlibdeps, lintian without error.
        info = subprocess.run(["dpkg-deb", "-f", self.deb, "Depends"], capture_output=True, text=True,
                              check=True).stdout
        for lib in ("libc6", "libuv1", "libssl3", "liblmdb0", "libnghttp2-14"):
            self.assertIn(lib + " (>=", info)
        lint = subprocess.run(["lintian", "--fail-on", "error", self.deb], capture_output=True, text=True,
                              timeout=300)
        self.assertEqual(lint.returncode, 0, "lintian:\n" + lint.stdout + lint.stderr)
        self.assertNotRegex(lint.stdout, r"(?m)^E: ")

        dpkg(["-i", self.deb])
        self.assertTrue(installed())
        for path in OURS:
            self.assertTrue(os.path.exists(path), path + " is not installed")
        conffiles = subprocess.run(["dpkg-query", "-W", "-f=${Conffiles}", "quicksilver"], capture_output=True,
                                   text=True, check=True).stdout
        self.assertIn(CONFIG, conffiles)
        self.assertIn("/etc/default/quicksilver", conffiles)
        user = pwd.getpwnam("quicksilver")
        self.assertLess(user.pw_uid, 1000, "a system user")
        st = os.stat(STATE)
        self.assertEqual(st.st_uid, user.pw_uid, STATE + " belongs to quicksilver")
        self.assertEqual(os.stat("/etc/default/quicksilver").st_mode & 0o777, 0o600)
        with open(CONFIG) as f:
            conf = f.read()
        self.assertIn("\nhistory_path /var/lib/quicksilver/quicksilver.lmdb\n", conf)
        self.assertNotRegex(conf, r"(?m)^(publisher|subscriber)_jwt\b", "no key in the configuration")
        self.assertNotRegex(conf, r"(?m)^(?!history_path )[a-z]", "every other setting commented")

        verify = run(["systemd-analyze", "verify", UNIT], check=False)
        self.assertEqual(verify.returncode, 0, "systemd-analyze verify:\n" + verify.stdout + verify.stderr)
        self.assertEqual(verify.stderr.strip(), "", "systemd-analyze verify warns:\n" + verify.stderr)

        # The installed hub, its configuration, keys from the environment.
        hub = InstalledHub({"MERCURE_PUBLISHER_JWT_KEY": hubtest.PUB_SECRET,
                            "MERCURE_SUBSCRIBER_JWT_KEY": hubtest.SUB_SECRET})
        try:
            self.assertNotIn("development key", hub.stderr())
            topic = "https://example.com/packaged/1"
            sub = hubtest.SSEClient(hub, "topic=" + topic,
                                    headers=[("Authorization", "Bearer " + hubtest.subscriber_token([topic]))])
            try:
                self.assertEqual(sub.status, 200)
                r = hubtest.publish(hub, [topic], data="from the package")
                self.assertEqual(r.status, 200, r.text + "\n" + hub.stderr())
                event = sub.next_event(10)
                self.assertEqual(event.data, "from the package")
            finally:
                sub.close()
        finally:
            code = hub.stop()
        self.assertEqual(code, 0, "the installed hub's exit status\n" + hub.stderr())
        self.assertTrue(os.path.exists(os.path.join(STATE, "quicksilver.lmdb")), "the history is in " + STATE)

        listed = subprocess.run(["dpkg", "-L", "quicksilver"], capture_output=True, text=True,
                                check=True).stdout.split()
        dpkg(["--purge", "quicksilver"])
        self.assertFalse(installed())
        left = [p for p in OURS if os.path.lexists(p)]
        left += [p for p in listed if os.path.lexists(p) and not os.path.isdir(p)]
        self.assertEqual(left, [], "left behind by dpkg --purge")


if __name__ == "__main__":
    unittest.main(verbosity=2)
