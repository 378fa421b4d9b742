"""The systemd unit debian/quicksilver.service: systemd-analyze verify
accepts it (with ExecStart pointing at the binary under test and without
looking for the man page, since the package may not be installed;
tests/package/test_deb.py verifies the installed unit as it is), and it keeps the settings deployment.md promises."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import hubtest  # noqa: E402

UNIT = os.path.join(ROOT, "debian", "quicksilver.service")


def settings(text):
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z]+)=(.*)$", line)
        if m:
            out.setdefault(m.group(1), []).append(m.group(2))
    return out


class Unit(unittest.TestCase):
    def test_systemd_analyze_verify(self):
        with open(UNIT) as f:
            text = f.read()
        binary = os.path.abspath(hubtest.binary())
        self.assertIn("ExecStart=/usr/bin/quicksilver ", text)
        text = text.replace("ExecStart=/usr/bin/quicksilver ", "ExecStart=%s " % binary)
        with tempfile.TemporaryDirectory(prefix="qs-unit-") as d:
            path = os.path.join(d, "quicksilver.service")
            with open(path, "w") as f:
                f.write(text)
            r = subprocess.run(["systemd-analyze", "verify", "--man=no", path], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stderr.strip(), "", "systemd-analyze verify warns:\n" + r.stderr)

    def test_service_settings(self):
        with open(UNIT) as f:
            s = settings(f.read())
        expected = {
            "Type": "notify", "User": "quicksilver", "ExecReload": "/bin/kill -HUP $MAINPID",
            "EnvironmentFile": "-/etc/default/quicksilver", "StateDirectory": "quicksilver",
            "NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes",
            "CapabilityBoundingSet": "", "AmbientCapabilities": "",
        }
        for key, value in expected.items():
            self.assertEqual(s.get(key), [value], key)
        self.assertGreaterEqual(int(s["LimitNOFILE"][0]), 65536)
        self.assertIn("--config /etc/quicksilver/quicksilver.conf", s["ExecStart"][0])


if __name__ == "__main__":
    unittest.main(verbosity=2)
