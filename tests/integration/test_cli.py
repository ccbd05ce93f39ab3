# SPDX-License-Identifier: MIT
"""The command line: -t, -S, -l, -V, -h and argument errors."""
import os
import shutil
import subprocess
import tempfile
import unittest

from mpmdtest import BINARY, MODULE_DIR, load_module_line


def run(*args):
    p = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


class CliTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mpmd-cli-")
        self.conf = os.path.join(self.dir, "mpmd.conf")

    def write(self, text, name="mpmd.conf"):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
            if name == "mpmd.conf" and load_module_line():
                # at the end, so the line numbers the tests expect stay the same
                f.write("\n[Server]\n" + load_module_line())
            if name == "mpmd.conf" and os.geteuid() == 0:
                # mpmd -t as root, as its start, needs a User (CliStartupCheckTest)
                f.write("\n[Server]\nUser = nobody\n")
        return path

    def test_good_config(self):
        self.write(f"[Server]\nListen = 127.0.0.1:1\nDocumentRoot = {self.dir}\n")
        rc, out, err = run("-t", "-f", self.conf)
        self.assertEqual(rc, 0, err)
        self.assertIn("Syntax OK", err)
        rc, out, err = run("-t", "-q", "-f", self.conf)
        self.assertEqual((rc, err), (0, ""))

    def test_bad_config_names_file_and_line(self):
        self.write(f"[Server]\nListen = 127.0.0.1:1\nDocumentRoot = {self.dir}\nKeepAliveTimeout = soon\n"
                   "NoSuchKey = 1\n")
        mpm = os.environ.get("MPMD_BUILD_MPM", "event")
        self.write(f"[{mpm}]\nServerLimit = 0\n", "conf.d/50-x.conf")
        rc, out, err = run("-t", "-f", self.conf)
        self.assertNotEqual(rc, 0)
        self.assertNotIn("Syntax OK", err)
        self.assertIn(f"{self.conf}:4:", err)
        self.assertIn("KeepAliveTimeout", err)
        self.assertIn(f"{self.conf}:5:", err)
        self.assertIn("NoSuchKey", err)
        self.assertIn(os.path.join(self.dir, "conf.d/50-x.conf") + ":2:", err)
        self.assertIn("ServerLimit", err)

    def test_messages_say_the_fix(self):
        long_line = "ServerAlias = " + " ".join(["a%03d.example" % i for i in range(20)])
        self.write(f"[Server]\nListen = 127.0.0.1:1\nDocumentRoot = {self.dir}\nKeepAliveTimout = 5\n"
                   f"[VirtualHost a]\nPidFile = /run/x.pid\n{long_line}\n")
        rc, out, err = run("-t", "-f", self.conf)
        self.assertNotEqual(rc, 0)
        self.assertIn(f'{self.conf}:4: unknown key "KeepAliveTimout" in [Server] (did you mean KeepAliveTimeout?)',
                      err)
        self.assertIn(f"{self.conf}:6: PidFile is not allowed in [VirtualHost a] (it belongs in [Server])", err)
        self.assertIn(f"{self.conf}:7: line too long ({len(long_line)} bytes, max 199 bytes): split the value over "
                      "indented continuation lines", err)

    def test_continuation_lines_and_conflicting_names(self):
        aliases = "\n".join("    a%03d.example b%03d.example" % (i, i) for i in range(20))  # 540 bytes in all
        self.write(f"[Server]\nListen = 127.0.0.1:1\nDocumentRoot = {self.dir}\n"
                   f"[VirtualHost a]\nServerName = a.example\nServerAlias = www.a.example\n{aliases}\n"
                   "[VirtualHost b]\nServerName = WWW.A.example\n")
        rc, out, err = run("-t", "-f", self.conf)
        self.assertEqual(rc, 0, err)
        self.assertIn("Syntax OK", err)
        self.assertIn(f'mpmd: warning: {self.conf}:28: [VirtualHost b] ServerName: conflicting server name '
                      f'"WWW.A.example" on the same address as [VirtualHost a] ({self.conf}:6): requests for it go '
                      "to [VirtualHost a]", err)
        rc, out, err = run("-S", "-f", self.conf)
        self.assertEqual(rc, 0, err)
        self.assertIn("b019.example", out)

    def test_missing_document_root(self):
        self.write(f"[Server]\nListen = 127.0.0.1:1\nDocumentRoot = /nonexistent/mpmd\n")
        rc, out, err = run("-t", "-f", self.conf)
        self.assertNotEqual(rc, 0)
        self.assertIn(f"{self.conf}:3:", err)
        self.assertIn("/nonexistent/mpmd", err)

    def test_missing_file(self):
        rc, out, err = run("-t", "-f", os.path.join(self.dir, "absent.conf"))
        self.assertNotEqual(rc, 0)
        self.assertIn("absent.conf", err)

    def test_list_modules(self):
        rc, out, err = run("-l")
        self.assertEqual(rc, 0)
        self.assertTrue(out.startswith("Compiled in modules:\n"))
        if MODULE_DIR:
            self.assertIn("  mod_so.c\n", out)
        else:
            self.assertIn(f"  {os.environ.get('MPMD_BUILD_MPM', 'event')}.c\n", out)

    def test_version(self):
        rc, out, err = run("-V")
        self.assertEqual(rc, 0)
        self.assertIn("Server version: mpmd/", out)
        self.assertIn("Server MPM:", out)
        self.assertIn("forked:", out)

    def test_dump(self):
        self.write(f"[Server]\nListen = 127.0.0.1:1\nDocumentRoot = {self.dir}\n"
                   f"[VirtualHost a.example]\nServerName = a.example\nDocumentRoot = {self.dir}\n")
        rc, out, err = run("-S", "-f", self.conf)
        self.assertEqual(rc, 0, err)
        self.assertIn("127.0.0.1:1", out)
        self.assertIn("a.example", out)

    def test_usage_errors_exit_2(self):
        for args in (["-x"], ["-f"], ["extra"]):
            rc, out, err = run(*args)
            self.assertEqual(rc, 2, args)
            self.assertIn("Usage: mpmd", err)

    def test_help(self):
        rc, out, err = run("-h")
        self.assertEqual(rc, 0)
        self.assertIn("Usage: mpmd", out)


class CliTemplateAndStartupTest(unittest.TestCase):
    """Include, Define and -D; and what mpmd -t checks beyond the syntax (a start's view)."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mpmd-cli-tpl-")
        self.conf = os.path.join(self.dir, "mpmd.conf")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, text, name="mpmd.conf", user=True):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
            if name == "mpmd.conf":
                # at the end, so that the line numbers the tests expect stay the same
                if load_module_line():
                    f.write("\n[Server]\n" + load_module_line())
                if user:
                    f.write("\n[Server]\nUser = nobody\n")
        return path

    def test_include_define_and_D(self):
        self.write(f"Define = ROOT {self.dir}\n[Server]\nListen = 127.0.0.1:${{PORT}}\nDocumentRoot = ${{ROOT}}\n"
                   "Include = sites/*.conf\nInclude = none/*.conf\n")
        self.write("[VirtualHost a]\nServerName = a.${HOST}\n", "sites/a.conf")
        rc, out, err = run("-D", "PORT=8081", "-D", "HOST=example", "-S", "-f", self.conf)
        self.assertEqual(rc, 0, err)
        self.assertIn("  127.0.0.1:8081\n", out)
        self.assertIn("namevhost a.example", out)
        self.assertIn(os.path.join(self.dir, "sites/a.conf") + ":1)", out)
        rc, out, err = run("-t", "-D", "PORT=8081", "-f", self.conf)
        self.assertEqual(rc, 1)
        self.assertIn(os.path.join(self.dir, "sites/a.conf") + ":2: ${HOST} is not defined", err)
        rc, out, err = run("-t", "-D", "PORT=8081", "-D", "HOST", "-D", "2x=y", "-f", self.conf)
        self.assertIn("-D 2x=y: a name is letters, digits", err)

    def test_include_circle_names_the_chain(self):
        self.write(f"[Server]\nListen = 127.0.0.1:1\nDocumentRoot = {self.dir}\nInclude = a.conf\n")
        self.write("Include = mpmd.conf\n", "a.conf")
        rc, out, err = run("-t", "-f", self.conf)
        self.assertEqual(rc, 1)
        a = os.path.join(self.dir, "a.conf")
        self.assertIn(f"{a}:1: Include: {self.conf} is already being read ({os.path.realpath(self.conf)} -> "
                      f"{os.path.realpath(a)} -> {os.path.realpath(self.conf)})", err)

    def test_t_checks_log_folders_and_listen(self):
        self.write(f"[Server]\nListen = 127.0.0.1:70000\nDocumentRoot = {self.dir}\n"
                   "CustomLog = /nonexistent/mpmd/access.log combined\n")
        rc, out, err = run("-t", "-f", self.conf)
        self.assertEqual(rc, 1, err)
        self.assertNotIn("Syntax OK", err)
        self.assertIn(f'{self.conf}:2: [Server] Listen: "127.0.0.1:70000" is not an address', err)
        self.assertIn(f"{self.conf}:4: [Server] CustomLog: /nonexistent/mpmd/access.log: the folder /nonexistent/mpmd: "
                      "No such file or directory", err)

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_t_as_root_without_user_says_what_the_start_says(self):
        self.write(f"[Server]\nListen = 127.0.0.1:1\nDocumentRoot = {self.dir}\n", user=False)
        rc, out, err = run("-t", "-f", self.conf)
        self.assertEqual(rc, 1, err)
        self.assertIn(f"{self.conf}: running as root needs a User (and Group) for the workers: mpmd never serves a "
                      "request as root", err)
        self.assertNotIn("Syntax OK", err)

    def test_t_warns_about_a_vhost_user_the_mpm_ignores(self):
        self.write(f"[Server]\nListen = 127.0.0.1:1\nDocumentRoot = {self.dir}\n"
                   "[VirtualHost a]\nServerName = a.example\nUser = nobody\nGroup = nogroup\n")
        rc, out, err = run("-S", "-f", self.conf)
        mpm = [line.split()[1] for line in out.splitlines() if line.startswith("MPM: ")][0]
        if mpm == "perchild":
            self.skipTest("perchild honours a virtual host's User")
        rc, out, err = run("-t", "-f", self.conf)
        self.assertEqual(rc, 0, err)
        self.assertIn(f"mpmd: warning: {self.conf}:6: [VirtualHost a] User: ignored by MPM {mpm}: only perchild runs "
                      "a site as a user of its own", err)


if __name__ == "__main__":
    unittest.main()
