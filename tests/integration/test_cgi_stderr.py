# SPDX-License-Identifier: MIT
"""A CGI program's stderr is a pipe its launcher relays to the error log, never the log file itself: the
program holds nothing but stdin, stdout and that pipe; what it writes arrives prefixed with its virtual
host and escaped, it cannot truncate the log, and a program that writes as fast as it can is held to a
rate. And after `mpmctl reopen-logs`, under perchild with two sites, every process (pools, CGI launchers,
dispatcher) writes to the new files and nothing more to the renamed ones.

The first class runs in whichever MPM this build tests; the second needs root and the perchild MPM
(as test_perchild.py, whose server it reuses)."""
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import mpmdtest
from mpmdtest import Server, read_response

SCRIPTS = {
    # Every descriptor the program holds, "N TARGET" a line.
    "fds.py": """#!/usr/bin/python3
import os
out = []
for fd in sorted(int(n) for n in os.listdir("/proc/self/fd")):
    try:
        out.append(f"{fd} {os.readlink(f'/proc/self/fd/{fd}')}")
    except OSError:
        pass  # the directory listdir itself had open
print("Content-Type: text/plain\\n")
print("\\n".join(out))
""",
    # What would pass for another writer's line, a terminal escape as the last (partial) line, and every
    # way to empty the file behind stderr.
    "forge.py": """#!/usr/bin/python3
import os, sys
os.write(2, b"fake [error] line\\n\\x1b[31m")
for attempt in (lambda: os.ftruncate(2, 0), lambda: os.truncate("/proc/self/fd/2", 0),
                lambda: open("/proc/self/fd/2", "w").close()):
    try:
        attempt()
    except OSError:
        pass
sys.stdout.write("Status: 204\\r\\n\\r\\n")
""",
    # Answers at once and closes stdout, then writes stderr lines as fast as it can until it is killed.
    "spew.sh": """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\nspewing\\n'
exec 1>&-
yes 'spew spew spew spew spew spew spew spew spew spew spew spew' >&2
""",
}


def install_scripts(directory, names=SCRIPTS):
    for name in names:
        path = os.path.join(directory, name)
        with open(path, "w") as f:
            f.write(SCRIPTS[name])
        os.chmod(path, 0o755)


def spewing():
    """Is spew.sh's `yes` still running?"""
    for p in os.listdir("/proc"):
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if f.read().startswith(b"yes\0spew"):
                    return True
        except OSError:
            continue
    return False


wait_for = mpmdtest.wait_for


class CgiStderrTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cgi_dir = tempfile.mkdtemp(prefix="mpmd-cgi-stderr-")
        os.chmod(cls.cgi_dir, 0o755)
        install_scripts(cls.cgi_dir)
        # CGITimeout bounds the spewer; the server's error log is the only one (no vhost has its own).
        cls.server = Server(server_keys=f"ScriptAlias = /cgi-bin/ {cls.cgi_dir}\nCGITimeout = 3\n")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.cgi_dir, ignore_errors=True)

    def log_bytes(self):
        with open(self.server.log, "rb") as f:
            return f.read()

    def test_the_program_holds_only_stdio_and_stderr_is_a_pipe(self):
        r = self.server.get("/cgi-bin/fds.py")
        self.assertEqual(r.status, 200, r.body)
        fds = dict(line.split(" ", 1) for line in r.body.decode().splitlines() if line)
        script = os.path.realpath(os.path.join(self.cgi_dir, "fds.py"))
        log = os.path.realpath(self.server.log)
        self.assertRegex(fds.get("2", ""), r"^pipe:\[\d+\]$", fds)
        self.assertRegex(fds.get("1", ""), r"^pipe:\[\d+\]$", fds)
        self.assertNotEqual(fds["1"], fds["2"], "stderr is a pipe of its own, not stdout's")
        for fd, target in fds.items():
            self.assertNotEqual(target, log, f"the program holds the error log as fd {fd}")
            # Beyond stdio, only the script itself: a #! interpreter reads it through /dev/fd/N.
            if fd not in ("0", "1", "2"):
                self.assertEqual(target, script, f"fd {fd} is {target}: {fds}")

    def test_a_forged_line_arrives_prefixed_and_escaped_and_the_log_is_not_truncated(self):
        before = self.log_bytes()
        r = self.server.get("/cgi-bin/forge.py")
        self.assertEqual(r.status, 204, r.body)
        # The partial last line is written once the program is gone.
        log = wait_for(lambda: (lambda b: b if b"\\x1b[31m" in b else None)(self.log_bytes()), what="the last line")
        self.assertTrue(log.startswith(before), "the program emptied or rewrote the error log")
        self.assertGreater(len(log), len(before))
        new = log[len(before):].decode()
        self.assertRegex(new, r"\[error\] .*\[vhost localhost\] \[client 127\.0\.0\.1:\d+\] cgi stderr \(pid \d+\): "
                              r"fake \[error\] line\n")
        self.assertRegex(new, r"\[vhost localhost\] \[client 127\.0\.0\.1:\d+\] cgi stderr \(pid \d+\): \\x1b\[31m\n")
        self.assertNotIn("\x1b", new)
        for line in new.splitlines():
            self.assertFalse(line.startswith("fake"), f"a line of the program's own: {line!r}")

    def test_a_program_that_spews_is_rate_limited_and_the_server_stays_responsive(self):
        before = len(self.log_bytes())
        start = time.monotonic()
        r = self.server.get("/cgi-bin/spew.sh")
        self.assertEqual(r.status, 200, r.body)
        # While it writes: the server answers (bounded generously: catches a hang, measures nothing).
        for _ in range(5):
            t = time.monotonic()
            self.assertEqual(self.server.get("/index.html").status, 200)
            self.assertLess(time.monotonic() - t, 5)
        # CGITimeout (3 s, and the launcher's 1 s margin) ends it; the last line says what was dropped.
        wait_for(lambda: b"line(s) dropped" in self.log_bytes()[before:] and not spewing(), timeout=30,
                 what="the spewer's end")
        # its final report: the launcher's last "dropped" line has no mark of its own to wait for (and
        # missing it would only leave lines uncounted), so this one stays a moment
        time.sleep(0.5)
        took = time.monotonic() - start
        new = self.log_bytes()[before:].decode()
        spew = sum(1 for line in new.splitlines() if "cgi stderr (pid" in line and "): spew spew" in line)
        dropped = sum(int(m) for m in re.findall(r"cgi stderr rate limit \(pid \d+\): (\d+) line\(s\) dropped", new))
        # A burst of 100, then 20 a second (the defaults).
        self.assertGreaterEqual(spew, 100)
        self.assertLessEqual(spew, 100 + 20 * (took + 1), f"{spew} lines in {took:.1f} s")
        self.assertGreater(dropped, 0)
        # Unlimited, `yes` writes megabytes a second.
        self.assertLess(len(new), 200_000)


# ---- logrotate under perchild ---------------------------------------------------------------------------

try:
    import pwd
    import test_perchild
    from test_perchild import PerchildServer, DISPATCH_USER, perchild_available
except ImportError:  # pragma: no cover
    test_perchild = None
else:
    # Users of our own: test_perchild.py, which may run at the same time, deletes and creates its own.
    SITE_USERS = test_perchild.SITE_USERS = ("mpmdtsa", "mpmdtsb")

MPMCTL = os.environ.get("MPMCTL_BINARY", "build/src/supervisor/mpmctl")


class RotatingPerchildServer(PerchildServer):
    """Two sites as in test_perchild; site a with its own CustomLog and ErrorLog (in a directory of its
    user's: its pool opens them), site b with its own CustomLog and the server's ErrorLog; the main server
    with a CustomLog the supervisor opens."""

    def __init__(self):
        super().__init__()
        self.logs = {}
        for name in ("a", "b"):
            d = os.path.join(self.dir, f"logs-{name}")
            os.mkdir(d)
            pw = self.sites[name][1]
            os.chown(d, pw.pw_uid, pw.pw_gid)
            os.chmod(d, 0o755)
            self.logs[f"{name}-access"] = os.path.join(d, "access.log")
            install_scripts(self.cgi_dirs[name], ["forge.py"])
        self.logs["a-error"] = os.path.join(self.dir, "logs-a", "error.log")
        self.logs["server-access"] = os.path.join(self.dir, "access.log")
        self.logs["server-error"] = self.log
        with open(self.conf) as f:
            conf = f.read()
        conf = conf.replace("LogLevel = debug\n", f"LogLevel = debug\nCustomLog = {self.logs['server-access']} common\n", 1)
        conf = conf.replace("PoolProcesses = 3\n", f"PoolProcesses = 3\nCustomLog = {self.logs['a-access']} common\n"
                                                   f"ErrorLog = {self.logs['a-error']}\n", 1)
        conf = conf.replace(f"Group = {SITE_USERS[1]}\n", f"Group = {SITE_USERS[1]}\n"
                                                          f"CustomLog = {self.logs['b-access']} common\n", 1)
        with open(self.conf, "w") as f:
            f.write(conf)


@unittest.skipUnless(os.geteuid() == 0, "needs root: creates users and starts mpmd as root")
@unittest.skipUnless(shutil.which("setpriv") and shutil.which("useradd"), "needs setpriv and useradd")
@unittest.skipUnless(test_perchild and perchild_available(), "mpmd was built without the perchild MPM")
class PerchildReopenLogsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.created = mpmdtest.create_users(SITE_USERS, DISPATCH_USER)
        cls.srv = RotatingPerchildServer()
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        mpmdtest.remove_users(cls.created)

    def read(self, path):
        try:
            with open(path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def traffic(self, tag):
        """A plain request and a CGI request for each site (a on its own socket, b through the dispatcher),
        and a malformed one the dispatcher answers and logs itself."""
        srv = self.srv
        self.assertEqual(srv.get_on(srv.port_a, f"/index.html?{tag}", "a.test").status, 200)
        self.assertEqual(srv.get_on(srv.port, f"/index.html?{tag}", "b.test").status, 200)
        self.assertEqual(srv.get_on(srv.port, f"/index.html?{tag}", "localhost").status, 200)
        self.assertEqual(srv.get_on(srv.port_a, f"/cgi-bin/forge.py?{tag}", "a.test").status, 204)
        self.assertEqual(srv.get_on(srv.port, f"/cgi-bin/forge.py?{tag}", "b.test").status, 204)
        self.assertEqual(srv.request(b"GET /\x01 HTTP/1.1\r\nHost: b.test\r\n\r\n").status, 400)

    def wait_lines(self, tag):
        """Every file has the lines of this round of traffic."""
        logs = self.srv.logs
        want = {
            "a-access": f"/index.html?{tag}",
            "b-access": f"/index.html?{tag}",
            "server-access": f"/index.html?{tag}",
            # What each site's programs wrote (relayed by its launcher, CgiStderrTest checks how).
            "a-error": "fake [error] line",
            "server-error": "fake [error] line",
        }
        for key, needle in want.items():
            wait_for(lambda: needle in self.read(logs[key]), what=f"{needle} in {key}: {self.read(logs[key])}")
        # The dispatcher's own line (LogLevel debug): "answered 400 to a connection".
        wait_for(lambda: re.search(r"dispatcher \d+: answered 400", self.read(logs["server-error"])),
                 what="the dispatcher's line in the server's error log")

    def test_after_reopen_logs_every_process_writes_the_new_files(self):
        srv = self.srv
        self.traffic("before")
        self.wait_lines("before")
        time.sleep(1.2)  # the access logs are flushed once a second

        for path in srv.logs.values():
            os.rename(path, path + ".1")
        r = subprocess.run([MPMCTL, "-s", srv.control, "reopen-logs"], capture_output=True, text=True, timeout=30)
        # Answered once every process (pools, dispatcher, CGI launchers) has adopted its files.
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        sizes = {key: os.path.getsize(path + ".1") for key, path in srv.logs.items()}

        self.traffic("after")
        self.wait_lines("after")
        time.sleep(1.5)  # and any line that would still go to an old file has been flushed
        for key, path in srv.logs.items():
            old = self.read(path + ".1")
            self.assertEqual(os.path.getsize(path + ".1"), sizes[key],
                             f"{key}: the renamed file still grows: {old[sizes[key]:]!r}")
            self.assertNotIn("?after", old, key)


if __name__ == "__main__":
    unittest.main()
