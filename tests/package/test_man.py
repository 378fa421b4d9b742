"""The manual page docs/quicksilver.1 (generated from the options table,
installed as quicksilver(1)) renders with man -l, without groff warnings,
and lists every option --help lists."""
import os
import re
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import hubtest  # noqa: E402

MAN_PAGE = os.path.join(ROOT, "docs", "quicksilver.1")


class ManPage(unittest.TestCase):
    def render(self):
        env = dict(os.environ, MANWIDTH="100", MAN_KEEP_FORMATTING="", LC_ALL="C.UTF-8")
        env.pop("MANPAGER", None)
        r = subprocess.run(["man", "--warnings", "-l", MAN_PAGE], capture_output=True, text=True, env=env,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr.strip(), "", "groff warnings:\n" + r.stderr)
        # Overstrikes (bold, underline) when a pager-less man keeps them.
        return re.sub(r".\x08", "", r.stdout)

    def test_renders_every_option_of_help(self):
        text = self.render()
        self.assertRegex(text, r"^QUICKSILVER\(1\)")
        for heading in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SIGNALS", "FILES"):
            self.assertRegex(text, r"(?m)^%s$" % heading)
        help_text = hubtest.run_binary(["--help"]).stdout.decode()
        flags = set(re.findall(r"(?m)^  --(?:\[no-\])?([a-z_]+)", help_text))
        self.assertGreater(len(flags), 40, help_text)
        missing = sorted(f for f in flags if not re.search(r"(?m)^\s+--%s\b" % f, text))
        self.assertEqual(missing, [], "options of --help missing from the man page")
        # Each option's default and environment variable are there too, unhyphenated.
        words = " ".join(text.split())
        self.assertIn("Default: 25s. Environment: QUICKSILVER_HEARTBEAT.", words)
        self.assertIn("QUICKSILVER_PUBLISHER_JWT or MERCURE_PUBLISHER_JWT_KEY.", words)
        self.assertNotIn("\u2010", text, "a hyphenated word")


if __name__ == "__main__":
    unittest.main(verbosity=2)
