# SPDX-License-Identifier: MIT
"""What a reload applies besides the sites: ListenBacklog (the backlog of the sockets mpmd bound,
read back from `ss -ltn`, whose Send-Q column is a listening socket's backlog) and the [Server]
ErrorLog (the supervisor's own error log and the one the new generation's processes write to; a
file that cannot be opened refuses the reload and the old one keeps receiving lines)."""
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import mpmdtest
from mpmdtest import Server, wait_for
from test_systemd import SOCKET_ACTIVATE, SystemdServer

MPMCTL = os.environ.get("MPMCTL_BINARY", "build/src/supervisor/mpmctl")

# Writes its query string to stderr, which its launcher relays to the server's error log.
LOGGER = """#!/bin/sh
echo "stderr-tag $QUERY_STRING" >&2
printf 'Status: 204\\r\\n\\r\\n'
"""


def mpmctl(srv, *args):
    p = subprocess.run([MPMCTL, "-s", srv.control, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def set_key(srv, key, value):
    """Set (or replace) one key of [Server] in srv's configuration file."""
    with open(srv.conf) as f:
        conf = f.read()
    line = f"{key} = {value}\n"
    pattern = re.compile(rf"^{re.escape(key)} = .*\n", re.M)
    conf = pattern.sub(line, conf, count=1) if pattern.search(conf) else conf.replace("[Server]\n", "[Server]\n" + line, 1)
    with open(srv.conf, "w") as f:
        f.write(conf)


def somaxconn():
    with open("/proc/sys/net/core/somaxconn") as f:
        return int(f.read())


class ControlledServer(Server):
    def __init__(self, server_keys="", **kw):
        self.control_dir = tempfile.mkdtemp(prefix="mpmd-ctl-")
        self.control = os.path.join(self.control_dir, "control")
        super().__init__(server_keys=f"ControlSocket = {self.control}\n" + server_keys, **kw)

    def stop(self):
        super().stop()
        shutil.rmtree(self.control_dir, ignore_errors=True)


@unittest.skipUnless(shutil.which("ss"), "needs ss (iproute2) to read a socket's backlog")
class ListenBacklogTest(unittest.TestCase):
    def backlog(self, port):
        out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
        rows = [line.split() for line in out.splitlines() if line.strip()]
        self.assertEqual(len(rows), 1, out)
        return int(rows[0][2])  # State Recv-Q Send-Q Local Peer: Send-Q is the backlog

    def test_default_then_a_reload_relistens_with_the_new_backlog(self):
        with ControlledServer() as srv:
            self.assertEqual(self.backlog(srv.port), min(511, somaxconn()))
            set_key(srv, "ListenBacklog", "77")
            rc, out = mpmctl(srv, "reload")
            self.assertEqual(rc, 0, out)
            self.assertEqual(self.backlog(srv.port), 77)
            self.assertEqual(srv.get("/").status, 200)

    def test_set_at_start(self):
        with ControlledServer(server_keys="ListenBacklog = 3\n") as srv:
            self.assertEqual(self.backlog(srv.port), 3)

    @unittest.skipUnless(SOCKET_ACTIVATE, "needs systemd-socket-activate")
    def test_a_socket_from_systemd_keeps_its_backlog_with_a_notice(self):
        srv = SystemdServer(listen=["http"], server_keys="ListenBacklog = 42\n")
        self.addCleanup(srv.stop)
        self.assertEqual(srv.start_activated(["http"]).status, 200)
        theirs = self.backlog(srv.ports["http"])
        self.assertNotEqual(theirs, 42)
        srv.wait_log(rf"\[notice\] .*ListenBacklog = 42 does not apply to the sockets systemd passes: http has "
                     rf"{theirs} \(its unit's Backlog=\)")
        self.assertNotRegex(srv.error_log(), r"\[(error|warn)\]")

    def test_out_of_range_is_refused(self):
        srv = Server(start=False)
        try:
            for value in ("0", "65536", "-1", "12x"):
                set_key(srv, "ListenBacklog", value)
                p = subprocess.run([mpmdtest.BINARY, "-t", "-f", srv.conf], capture_output=True, text=True,
                                   timeout=30)
                self.assertNotEqual(p.returncode, 0, value)
                self.assertIn("ListenBacklog", p.stderr, value)
                self.assertIn("1 to 65535", p.stderr, value)
        finally:
            srv.stop()


class ReloadErrorLogTest(unittest.TestCase):
    def setUp(self):
        self.cgi_dir = tempfile.mkdtemp(prefix="mpmd-cgi-reload-")
        os.chmod(self.cgi_dir, 0o755)
        path = os.path.join(self.cgi_dir, "log.sh")
        with open(path, "w") as f:
            f.write(LOGGER)
        os.chmod(path, 0o755)
        self.srv = ControlledServer(server_keys=f"ScriptAlias = /cgi-bin/ {self.cgi_dir}\n")

    def tearDown(self):
        self.srv.stop()
        shutil.rmtree(self.cgi_dir, ignore_errors=True)

    def read(self, path):
        try:
            with open(path) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_line(self, tag, path):
        self.assertEqual(self.srv.get(f"/cgi-bin/log.sh?{tag}").status, 204)
        wait_for(lambda: f"stderr-tag {tag}" in self.read(path), what=f"{tag} in {path}: {self.read(path)[-2000:]}")

    def test_a_reload_moves_the_error_log_and_an_unopenable_one_is_refused(self):
        srv = self.srv
        a = srv.log
        b = os.path.join(srv.dir, "error-b.log")
        self.log_line("first", a)

        # A directory cannot be an ErrorLog: refused, and A stays the log.
        d = os.path.join(srv.dir, "a-directory")
        os.mkdir(d)
        set_key(srv, "ErrorLog", d)
        rc, out = mpmctl(srv, "reload")
        self.assertNotEqual(rc, 0, out)
        self.assertIn(f"ErrorLog {d}: cannot open it: Is a directory", out)
        self.assertIn("reload refused", out)
        self.assertRegex(self.read(a), r"ErrorLog .*a-directory: cannot open it")
        self.log_line("after-refused", a)

        set_key(srv, "ErrorLog", b)
        rc, out = mpmctl(srv, "reload")
        self.assertEqual(rc, 0, out)
        # The supervisor's own lines, and the new generation's CGI program's.
        self.assertIn("the error log moved here from " + a, self.read(b))
        wait_for(lambda: re.search(r"reload: generation \d+ serves", self.read(b)), what="the commit in B")
        self.log_line("second", b)
        self.assertNotIn("stderr-tag second", self.read(a))
        self.assertIn("reload: the error log moves to " + b, self.read(a))

        # And back: a reload to A again.
        set_key(srv, "ErrorLog", a)
        rc, out = mpmctl(srv, "reload")
        self.assertEqual(rc, 0, out)
        self.log_line("third", a)
        self.assertNotIn("stderr-tag third", self.read(b))

    def test_a_virtual_host_error_log_follows_the_reload(self):
        """A site's own ErrorLog is opened by each generation: a reload that changes it moves its
        programs' stderr to the new file."""
        srv = self.srv
        root = os.path.join(srv.dir, "site-v")
        os.mkdir(root)
        os.chmod(root, 0o755)
        v1, v2 = os.path.join(srv.dir, "v1.log"), os.path.join(srv.dir, "v2.log")

        def vhost(log):
            with open(srv.conf) as f:
                conf = f.read().split("\n[VirtualHost v]\n")[0]
            with open(srv.conf, "w") as f:
                f.write(conf + f"\n[VirtualHost v]\nServerName = v.test\nDocumentRoot = {root}\nErrorLog = {log}\n")

        vhost(v1)
        rc, out = mpmctl(srv, "reload")
        self.assertEqual(rc, 0, out)
        self.assertEqual(srv.get("/cgi-bin/log.sh?v-one", host="v.test").status, 204)
        wait_for(lambda: "stderr-tag v-one" in self.read(v1), what=f"v-one in {v1}")
        vhost(v2)
        rc, out = mpmctl(srv, "reload")
        self.assertEqual(rc, 0, out)
        self.assertEqual(srv.get("/cgi-bin/log.sh?v-two", host="v.test").status, 204)
        wait_for(lambda: "stderr-tag v-two" in self.read(v2), what=f"v-two in {v2}")
        self.assertNotIn("v-two", self.read(v1))
        self.assertNotIn("v-two", self.read(srv.log))


class ReloadLogLevelTest(unittest.TestCase):
    """LogLevel applies at reload, to the new workers' lines as to the supervisor's."""

    def cut_body(self, srv, tag):
        # A body cut short logs one line at level info, in the worker (conn.c).
        with srv.connect() as s:
            s.sendall(f"POST /{tag} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\nx".encode())
            time.sleep(0.2)

    def test_a_reload_changes_the_log_level(self):
        srv = ControlledServer()
        try:
            self.cut_body(srv, "at-debug")
            srv.wait_log("request body cut short")
            before = srv.error_log().count("request body cut short")
            set_key(srv, "LogLevel", "warn")
            code, out = mpmctl(srv, "reload")
            self.assertEqual(code, 0, out)
            self.cut_body(srv, "at-warn")
            self.assertEqual(srv.get("/index.html").status, 200)
            time.sleep(1.5)
            self.assertEqual(srv.error_log().count("request body cut short"), before,
                             "an info line was written after a reload to LogLevel = warn")
            set_key(srv, "LogLevel", "info")
            code, out = mpmctl(srv, "reload")
            self.assertEqual(code, 0, out)
            self.cut_body(srv, "at-info")
            wait_for(lambda: srv.error_log().count("request body cut short") == before + 1,
                     what="the info line after a reload to LogLevel = info")
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
