"""The container image (Containerfile), built and run on this machine with
Debian's podman. No image registry is reachable, so the Debian bookworm base
image is made here from Debian's archive with mmdebstrap and imported as
localhost/debian:bookworm. Then: podman build (the Debian package built in
the first stage, installed in the second), the image's configuration (user,
health check, port, volume, stop signal), podman run with the keys in the
reference hub's MERCURE_* variables and a named volume, a publish and a
subscription with curl through the published port on 127.0.0.1, the health
check (podman healthcheck run), the hub running as a user other than root,
podman stop with a subscriber connected (SIGTERM: a graceful stop, in
seconds, exit status 0), and a second container on the same volume replaying
the update from the LMDB history.

Time: the base image is made once (a minute or two) and reused while
localhost/debian:bookworm exists (it is left in place for the next run); the
image build takes about two minutes on a busy two-core machine, the rest less
than one. Every step has its own timeout, so the test ends within the ctest
TIMEOUT (tests/package/CMakeLists.txt) whatever happens.

Runs as root (or through sudo -n). Cleanup removes only what this run made:
its image tag, its containers, its volume and its temporary files.

Two settings make podman work in sandboxes as well as on plain hosts:
--runtime runc, since crun refuses hybrid cgroup hierarchies ("cgroups in
hybrid mode not supported, drop all controllers from cgroupv2"), and explicit
--ulimit values no higher than this process's own limits, since podman
otherwise asks for limits that only CAP_SYS_RESOURCE may grant.
"""
import json
import os
import queue
import resource
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from pkgtest import ROOT, MachineLock, hubtest, sudo  # noqa: E402

BASE = "localhost/debian:bookworm"
BASE_LOCK = "/tmp/quicksilver-container-base.lock"
PUB_KEY = "container-publisher-secret-!ChangeThis!"
SUB_KEY = "container-subscriber-secret-!ChangeThis!"
TOPIC = "https://example.com/container/1"
STOP_TIMEOUT = 30  # podman stop's grace period; the hub must take far less


def log(message):
    sys.stderr.write("[container] %s\n" % message)
    sys.stderr.flush()


def podman(args, check=True, timeout=120, **kw):
    cmd = sudo() + ["podman"] + args
    try:
        r = subprocess.run(cmd, stdin=kw.pop("stdin", subprocess.DEVNULL), capture_output=True, text=True,
                           timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("podman %s: no answer in %d s\n%s%s" % (" ".join(args), timeout, e.stdout or "",
                                                                    e.stderr or ""))
    if check and r.returncode != 0:
        raise AssertionError("podman %s exited %d\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def runtime_args():
    """The OCI runtime and the resource limits given to every container
    (build steps included): see the module comment."""
    _, nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
    if nofile == resource.RLIM_INFINITY or nofile > 1048576:
        nofile = 1048576
    return ["--runtime", "runc", "--ulimit", "nofile=%d:%d" % (nofile, nofile), "--ulimit", "nproc=4096:4096"]


def debian_sources():
    """The machine's own Debian archive entries, so the base image uses the
    mirror apt is configured with here; None for mmdebstrap's default
    (deb.debian.org, with the updates and security suites)."""
    for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        try:
            with open(path) as f:
                if any(line.strip() and not line.lstrip().startswith("#") for line in f):
                    return path
        except OSError:
            pass
    return None


def make_base_image():
    """localhost/debian:bookworm from Debian's archive, unless it exists.
    A lock file keeps two runs on one machine from making it twice."""
    with MachineLock(BASE_LOCK):
        if podman(["image", "exists", BASE], check=False).returncode == 0:
            log("reusing " + BASE)
            return
        start = time.monotonic()
        cmd = sudo() + ["mmdebstrap", "--quiet", "--variant=apt", "bookworm", "-"]
        sources = debian_sources()
        if sources:
            cmd.append(sources)
        with tempfile.TemporaryFile() as err:
            strap = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
            try:
                imported = podman(["import", "-", BASE], check=False, timeout=600, stdin=strap.stdout)
            finally:
                strap.stdout.close()
                try:
                    code = strap.wait(60)
                except subprocess.TimeoutExpired:
                    strap.kill()
                    code = strap.wait()
            err.seek(0)
            strap_err = err.read().decode("utf-8", "replace")
        if code != 0 or imported.returncode != 0:
            podman(["rmi", "-f", BASE], check=False)
            raise AssertionError("making %s failed: mmdebstrap exited %d, podman import %d\n%s%s%s" % (
                BASE, code, imported.returncode, strap_err, imported.stdout, imported.stderr))
        log("made %s in %.0f s" % (BASE, time.monotonic() - start))


class CurlSubscriber:
    """curl -N on the hub's subscription URL; lines are read as they come."""

    def __init__(self, port, token, last_event_id=None):
        cmd = ["curl", "-sS", "-N", "--max-time", "60", "-H", "Authorization: Bearer " + token]
        if last_event_id:
            cmd += ["-H", "Last-Event-ID: " + last_event_id]
        cmd.append("http://127.0.0.1:%d%s?topic=%s" % (port, hubtest.HUB_PATH, TOPIC))
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in iter(self.proc.stdout.readline, ""):
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next_line(self, timeout):
        """The next line, or None at the end of the stream; fails after
        timeout seconds."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("curl: nothing in %d s after %r" % (timeout, self.seen))
        if line is not None:
            self.seen.append(line)
        return line

    def wait_for(self, wanted, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            line = self.next_line(max(0.1, deadline - time.monotonic()))
            if line is None:
                raise AssertionError("the stream ended before %r: %r %s" % (wanted, self.seen, self.stderr()))
            if line == wanted:
                return

    def wait_end(self, timeout=15):
        deadline = time.monotonic() + timeout
        while self.next_line(max(0.1, deadline - time.monotonic())) is not None:
            pass
        return self.proc.wait(timeout)

    def stderr(self):
        return self.proc.stderr.read() if self.proc.poll() is not None else ""

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()
        self.proc.stderr.close()


class ContainerImage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        suffix = "%d-%d" % (os.getpid(), int(time.time()))
        cls.tag = "localhost/quicksilver-test:" + suffix
        cls.volume = "quicksilver-test-" + suffix
        cls.containers = []
        cls.built = False
        cls.volume_made = False
        cls.tmpdir = tempfile.mkdtemp(prefix="qs-container-")
        cls.iidfile = os.path.join(cls.tmpdir, "iid")
        make_base_image()
        start = time.monotonic()
        # docker format: the OCI format has no HEALTHCHECK. No layers: nothing
        # of the build stage is kept once the image is made.
        r = podman(["build", "--pull=never", "--network", "host", "--format", "docker", "--layers=false", "--force-rm"] + runtime_args() +
                   ["--build-arg", "BASE=" + BASE, "--iidfile", cls.iidfile, "-t", cls.tag, "-f",
                    os.path.join(ROOT, "Containerfile"), ROOT], check=False, timeout=1200)
        cls.built = podman(["image", "exists", cls.tag], check=False).returncode == 0
        if r.returncode != 0:
            raise AssertionError("podman build exited %d\n%s%s" % (r.returncode, r.stdout[-6000:], r.stderr[-6000:]))
        log("built %s in %.0f s" % (cls.tag, time.monotonic() - start))

    @classmethod
    def tearDownClass(cls):
        for name in cls.containers:
            podman(["rm", "--force", "--volumes", "--time", "0", name], check=False)
        if cls.volume_made:
            podman(["volume", "rm", "--force", cls.volume], check=False)
        if cls.built:
            podman(["rmi", "--force", cls.tag], check=False)
        for name in os.listdir(cls.tmpdir):
            os.unlink(os.path.join(cls.tmpdir, name))
        os.rmdir(cls.tmpdir)

    def run_hub(self, name):
        """A detached container of the image on the test's volume, its port
        3000 published on an ephemeral port of 127.0.0.1; returns that port
        once the hub listens."""
        self.__class__.containers.append(name)
        podman(["run", "--detach", "--name", name] + runtime_args() +
               ["--publish", "127.0.0.1::3000", "--volume", self.volume + ":/var/lib/quicksilver",
                "--env", "MERCURE_PUBLISHER_JWT_KEY=" + PUB_KEY, "--env", "MERCURE_SUBSCRIBER_JWT_KEY=" + SUB_KEY,
                self.tag], timeout=60)
        deadline = time.monotonic() + 30
        while "listening on 0.0.0.0:3000" not in self.logs(name):
            state = podman(["inspect", "--format", "{{.State.Status}}", name]).stdout.strip()
            self.assertEqual(state, "running", "the container stopped:\n" + self.logs(name))
            self.assertLess(time.monotonic(), deadline, "the hub did not listen in 30 s:\n" + self.logs(name))
            time.sleep(0.2)
        mapped = podman(["port", name, "3000/tcp"]).stdout.strip().splitlines()[0]
        host, port = mapped.rsplit(":", 1)
        self.assertEqual(host, "127.0.0.1")
        return int(port)

    def logs(self, name):
        r = podman(["logs", name], check=False)
        return r.stdout + r.stderr

    def publish(self, port, data):
        r = subprocess.run(["curl", "-sS", "--max-time", "10", "-w", "\n%{http_code}", "-H",
                            "Authorization: Bearer " + hubtest.publisher_token(PUB_KEY, [TOPIC]),
                            "--data-urlencode", "topic=" + TOPIC, "--data-urlencode", "data=" + data,
                            "http://127.0.0.1:%d%s" % (port, hubtest.HUB_PATH)],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 0, "curl: " + r.stderr)
        body, status = r.stdout.rsplit("\n", 1)
        self.assertEqual(status, "200", body)
        self.assertRegex(body, hubtest.UUID7_ID)
        return body

    def test_image(self):
        image = json.loads(podman(["image", "inspect", self.tag]).stdout)[0]
        config = image["Config"]
        self.assertEqual(config.get("User"), "quicksilver")
        self.assertIn("3000/tcp", config.get("ExposedPorts", {}))
        self.assertIn("/var/lib/quicksilver", config.get("Volumes", {}))
        self.assertIn(config.get("StopSignal"), ("SIGTERM", "15"))
        self.assertIn("QUICKSILVER_LISTEN=:3000", config.get("Env", []))
        health = image.get("Healthcheck") or config.get("Healthcheck") or {}
        self.assertIn("http://127.0.0.1:3000/healthz", " ".join(health.get("Test", [])),
                      "the image keeps its HEALTHCHECK")
        # The base and build stage left nothing heavy behind: no compiler in the image.
        r = podman(["run", "--rm", "--entrypoint", "sh"] + runtime_args() +
                   [self.tag, "-c", "command -v cc gcc dpkg-buildpackage || true; id -un"], timeout=60)
        self.assertEqual(r.stdout.strip(), "quicksilver")

        podman(["volume", "create", self.volume])
        self.__class__.volume_made = True
        first = "quicksilver-test-%d-a" % os.getpid()
        start = time.monotonic()
        port = self.run_hub(first)
        log("hub listening %.1f s after podman run" % (time.monotonic() - start))
        self.assertNotIn("development key", self.logs(first))

        # Not root: the hub's process, as the host sees it.
        pid = int(podman(["inspect", "--format", "{{.State.Pid}}", first]).stdout.strip())
        with open("/proc/%d/status" % pid) as f:
            uids = next(line for line in f if line.startswith("Uid:")).split()[1:]
        self.assertNotIn("0", uids, "the hub runs as root")
        self.assertEqual(podman(["exec", first, "id", "-un"]).stdout.strip(), "quicksilver")

        hc = podman(["healthcheck", "run", first], check=False)
        self.assertEqual(hc.returncode, 0, "health check: %s%s" % (hc.stdout, hc.stderr))
        status = podman(["inspect", "--format", "{{.State.Health.Status}}", first]).stdout.strip()
        self.assertEqual(status, "healthy")

        sub = CurlSubscriber(port, hubtest.subscriber_token([TOPIC], SUB_KEY))
        try:
            sub.next_line(10)  # the stream is open: the subscription is registered
            update_id = self.publish(port, "from the container")
            sub.wait_for("id: " + update_id)
            sub.wait_for("data: from the container")

            # SIGTERM with a subscriber connected: a graceful stop, well within the grace period.
            start = time.monotonic()
            podman(["stop", "--time", str(STOP_TIMEOUT), first], timeout=STOP_TIMEOUT + 30)
            stopped = time.monotonic() - start
            log("podman stop took %.1f s" % stopped)
            self.assertLess(stopped, 10, "the hub ignored SIGTERM until podman killed it")
            self.assertEqual(sub.wait_end(), 0, "the stream ended cleanly: " + sub.stderr())
        finally:
            sub.close()
        code = podman(["inspect", "--format", "{{.State.ExitCode}}", first]).stdout.strip()
        self.assertEqual(code, "0", self.logs(first))
        self.assertIn("SIGTERM received", self.logs(first))
        podman(["rm", "--volumes", first])
        self.__class__.containers.remove(first)

        # The history is in the volume: a new container replays the update.
        mount = json.loads(podman(["volume", "inspect", self.volume]).stdout)[0]["Mountpoint"]
        self.assertTrue(os.path.exists(os.path.join(mount, "quicksilver.lmdb")), "no history in the volume")
        second = "quicksilver-test-%d-b" % os.getpid()
        port = self.run_hub(second)
        sub = CurlSubscriber(port, hubtest.subscriber_token([TOPIC], SUB_KEY), last_event_id="earliest")
        try:
            sub.wait_for("id: " + update_id)
            sub.wait_for("data: from the container")
        finally:
            sub.close()
        podman(["stop", "--time", str(STOP_TIMEOUT), second], timeout=STOP_TIMEOUT + 30)
        self.assertEqual(podman(["inspect", "--format", "{{.State.ExitCode}}", second]).stdout.strip(), "0")


if __name__ == "__main__":
    unittest.main(verbosity=2)
