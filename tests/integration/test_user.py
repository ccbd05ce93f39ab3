# SPDX-License-Identifier: MIT
"""Who the processes run as: root without User is refused; an ordinary user runs everything as itself."""
import os
import pwd
import shutil
import subprocess
import tempfile
import unittest

from mpmdtest import BINARY, free_port, load_module_line, read_response
import socket
import time


@unittest.skipUnless(os.geteuid() == 0, "needs root to start mpmd as root and as another user")
class UserTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mpmd-user-")
        os.chmod(self.dir, 0o755)
        with open(os.path.join(self.dir, "index.html"), "w") as f:
            f.write("as a user\n")
        os.chmod(os.path.join(self.dir, "index.html"), 0o644)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "mpmd.conf")
        with open(self.conf, "w") as f:
            f.write(f"[Server]\nServerName = localhost\nListen = 127.0.0.1:{self.port}\nDocumentRoot = {self.dir}\n"
                    f"ControlSocket = {self.dir}/control\n{load_module_line()}")
        os.chmod(self.conf, 0o644)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_root_without_user_is_refused(self):
        p = subprocess.run([BINARY, "-f", self.conf], capture_output=True, text=True, timeout=20)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("needs a User", p.stderr)

    @unittest.skipUnless(shutil.which("setpriv"), "needs setpriv (util-linux)")
    def test_ordinary_user_runs_as_itself(self):
        nobody = pwd.getpwnam("nobody")
        os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)  # its control socket goes here
        proc = subprocess.Popen(["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                                 "--clear-groups", BINARY, "-f", self.conf],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    s = socket.create_connection(("127.0.0.1", self.port), timeout=2)
                    break
                except OSError:
                    self.assertLess(time.monotonic(), deadline, "mpmd did not start as nobody")
                    time.sleep(0.1)
            with s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                r = read_response(s)
            self.assertEqual((r.status, r.body), (200, b"as a user\n"))
            with open(f"/proc/{proc.pid}/status") as f:
                uid_line = next(line for line in f if line.startswith("Uid:"))
            self.assertEqual(uid_line.split()[1:], [str(nobody.pw_uid)] * 4)
        finally:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=10)


if __name__ == "__main__":
    unittest.main()
