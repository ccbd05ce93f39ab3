# SPDX-License-Identifier: MIT
"""MPMs as shared modules: LoadModule picks exactly one; none, two, or a foreign module is an error
that names the file and line, at start and in -t."""
import os
import shutil
import subprocess
import tempfile
import unittest

from mpmdtest import BINARY, MODULE_DIR, Server

SHARED = [m for m in os.environ.get("MPMD_SHARED_MPMS", "").split(",") if m]


def run(*args):
    p = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


@unittest.skipUnless(MODULE_DIR, "this build links its MPM statically (-Dmpms_shared= is empty)")
class ModulesTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mpmd-modules-")
        self.conf = os.path.join(self.dir, "mpmd.conf")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def module(self, mpm):
        return os.path.join(MODULE_DIR, f"mpm_{mpm}.so")

    def write(self, load_lines):
        with open(self.conf, "w") as f:
            f.write(f"[Server]\nListen = 127.0.0.1:1\nDocumentRoot = {self.dir}\n{load_lines}")
            if os.geteuid() == 0:  # mpmd -t as root, as its start, needs a User
                f.write("\n[Server]\nUser = nobody\n")

    def test_one_module_is_fine(self):
        for mpm in SHARED:
            self.write(f"LoadModule = mpm_{mpm}_module {self.module(mpm)}\n")
            rc, out = run("-t", "-f", self.conf)
            self.assertEqual(rc, 0, out)
            self.assertIn("Syntax OK", out)

    def test_no_mpm(self):
        self.write("")
        rc, out = run("-t", "-f", self.conf)
        self.assertNotEqual(rc, 0)
        self.assertIn("mpmd: Configuration error: No MPM loaded.", out)

    def test_two_mpms_name_each_line(self):
        if len(SHARED) < 2:
            self.skipTest("needs two MPM modules")
        a, b = SHARED[:2]
        self.write(f"LoadModule = mpm_{a}_module {self.module(a)}\nLoadModule = mpm_{b}_module {self.module(b)}\n")
        rc, out = run("-t", "-f", self.conf)
        self.assertNotEqual(rc, 0)
        self.assertIn("mpmd: Configuration error: More than one MPM loaded.", out)
        self.assertIn(f"{self.conf}:4:", out)
        self.assertIn(f"{self.conf}:5:", out)

    def test_missing_file_and_wrong_symbol(self):
        self.write("LoadModule = mpm_event_module /nonexistent/mpm_event.so\n")
        rc, out = run("-t", "-f", self.conf)
        self.assertNotEqual(rc, 0)
        self.assertIn(f"{self.conf}:4:", out)
        self.assertIn("/nonexistent/mpm_event.so", out)
        mpm = SHARED[0]
        self.write(f"LoadModule = mpm_nothing_module {self.module(mpm)}\n")
        rc, out = run("-t", "-f", self.conf)
        self.assertNotEqual(rc, 0)
        self.assertIn("mpm_nothing_module", out)

    @unittest.skipUnless(shutil.which("cc"), "needs a C compiler to build a foreign module")
    def test_module_for_another_version_is_refused(self):
        src = os.path.join(self.dir, "old.c")
        so = os.path.join(self.dir, "mpm_old.so")
        with open(src, "w") as f:
            # The first two fields of MpmOps: name, then the magic number of the module ABI.
            f.write('struct { const char *name; unsigned magic; } mpm_old_module = { "old", 19990101u };\n')
        subprocess.run(["cc", "-shared", "-fPIC", "-o", so, src], check=True)
        self.write(f"LoadModule = mpm_old_module {so}\n")
        rc, out = run("-t", "-f", self.conf)
        self.assertNotEqual(rc, 0)
        self.assertIn("built for another mpmd version", out)
        self.assertIn(f"{self.conf}:4:", out)

    def test_serves_with_the_loaded_mpm(self):
        with Server() as srv:  # mpmdtest adds the LoadModule line of MPMD_BUILD_MPM
            self.assertEqual(srv.get("/").status, 200)
            rc, out = run("-t", "-f", srv.conf)
            self.assertEqual(rc, 0, out)


if __name__ == "__main__":
    unittest.main()
