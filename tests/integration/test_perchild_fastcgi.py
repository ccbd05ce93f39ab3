# SPDX-License-Identifier: MIT
"""perchild and php-fpm: each site's backend is reachable only by that site. Debian's php-fpm runs two
pools, each as one site's user and listening on a socket only that user may connect to
(listen.owner = SITE, listen.mode = 0600, as conf.d/php-fpm.conf.example says); mpmd's pool of each
site connects as the site's uid. Each site's PHP runs as its own user; a request that site A's
configuration routes to B's socket gets 502 (A's pool is refused, EACCES in the log), and A's CGI
programs cannot connect to B's socket either.

Needs root, a build with the perchild MPM, and php-fpm (as test_perchild.py and test_fastcgi.py)."""
import os
import shutil
import unittest

import phpfpm
from mpmdtest import remove_users
from test_perchild import SITE_USERS, PerchildServer, create_users, perchild_available

WHO = """<?php
header("Content-Type: text/plain");
$uid = function_exists("posix_getuid") ? posix_getuid() : null;
if ($uid === null) {
    preg_match("/^Uid:\\\\s+(\\\\d+)/m", file_get_contents("/proc/self/status"), $m);
    $uid = (int) $m[1];
}
echo "uid ", $uid, " site ", basename($_SERVER["DOCUMENT_ROOT"]), "\\n";
"""

# A CGI program of site A: may it connect to the socket named in the query string?
CONNECT_SCRIPT = r"""#!/usr/bin/python3
import errno, os, socket
path = os.environ.get("QUERY_STRING", "")
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(path)
    result = "ALLOWED"
except OSError as e:
    result = "denied " + errno.errorcode.get(e.errno, str(e.errno))
print("Content-Type: text/plain\n")
print(result)
"""


@unittest.skipUnless(os.geteuid() == 0, "needs root: creates users and starts mpmd and php-fpm as root")
@unittest.skipUnless(shutil.which("setpriv") and shutil.which("useradd"), "needs setpriv and useradd")
@unittest.skipUnless(perchild_available(), "mpmd was built without the perchild MPM")
@unittest.skipUnless(phpfpm.PHP_FPM, "php-fpm is not installed (apt install php8.2-fpm)")
class PerchildFastCgiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.created = create_users()
        cls.fpm = None
        cls.srv = None
        try:
            cls.setup_servers()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def setup_servers(cls):
        fpm_dir = os.path.join("/tmp", f"mpmd-fpm-perchild-{os.getpid()}")
        os.makedirs(fpm_dir, exist_ok=True)
        os.chmod(fpm_dir, 0o755)
        cls.fpm_dir = fpm_dir
        cls.socks = {name: os.path.join(fpm_dir, f"{name}.sock") for name in ("a", "b")}
        cls.fpm = phpfpm.PhpFpm([phpfpm.Pool(name, cls.socks[name], user=user, group=user, listen_owner=user,
                                             listen_mode="0600")
                                 for name, user in zip(("a", "b"), SITE_USERS)])
        for name, user in zip(("a", "b"), SITE_USERS):
            st = os.stat(cls.socks[name])
            assert st.st_mode & 0o777 == 0o600, oct(st.st_mode)

        srv = PerchildServer()
        cls.srv = srv
        for name in ("a", "b"):
            root, pw = srv.sites[name]
            for path, text in (("who.php", WHO), ("cross/who.php", WHO)):
                full = os.path.join(root, path)
                os.makedirs(os.path.dirname(full), exist_ok=True)
                with open(full, "w") as f:
                    f.write(text)
                os.chown(full, pw.pw_uid, pw.pw_gid)
                os.chown(os.path.dirname(full), pw.pw_uid, pw.pw_gid)
                os.chmod(os.path.dirname(full), 0o755)
            script = os.path.join(srv.cgi_dirs[name], "connect.py")
            with open(script, "w") as f:
                f.write(CONNECT_SCRIPT)
            os.chmod(script, 0o755)
        with open(srv.conf) as f:
            text = f.read()
        for name in ("a", "b"):
            line = f"ScriptAlias = /cgi-bin/ {srv.cgi_dirs[name]}\n"
            assert line in text
            text = text.replace(line, line + f'AddHandler = "proxy:unix:{cls.socks[name]}|fcgi://localhost" .php\n', 1)
        # Site A's configuration sends /cross/ to B's socket: A's pool connects as A, and is refused.
        text += f"\n[Location a /cross/]\nSetHandler = proxy:unix:{cls.socks['b']}|fcgi://localhost\n"
        with open(srv.conf, "w") as f:
            f.write(text)
        srv.start()

    @classmethod
    def tearDownClass(cls):
        if cls.srv:
            cls.srv.stop()
        if cls.fpm:
            cls.fpm.stop()
        shutil.rmtree(getattr(cls, "fpm_dir", "/nonexistent"), ignore_errors=True)
        remove_users(cls.created)

    def test_each_site_runs_php_as_its_own_user(self):
        srv = self.srv
        r = srv.get_on(srv.port_a, "/who.php", "a.test")
        self.assertEqual(r.status, 200, r.body + srv.error_log()[-2000:].encode())
        self.assertEqual(r.body.decode(), f"uid {srv.uid_of('a')} site a\n")
        r = srv.get_on(srv.port, "/who.php", "b.test")
        self.assertEqual(r.status, 200, r.body + srv.error_log()[-2000:].encode())
        self.assertEqual(r.body.decode(), f"uid {srv.uid_of('b')} site b\n")
        self.assertNotEqual(srv.uid_of("a"), srv.uid_of("b"))

    def test_site_a_cannot_reach_site_b_s_backend(self):
        srv = self.srv
        r = srv.get_on(srv.port_a, "/cross/who.php", "a.test")
        self.assertEqual(r.status, 502, r.body)
        srv.wait_log(rf"FastCGI: cannot connect to unix:{self.socks['b']}\|fcgi://localhost: Permission denied")
        # B itself reaches the same script path through its own socket.
        r = srv.get_on(srv.port, "/cross/who.php", "b.test")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body.decode(), f"uid {srv.uid_of('b')} site b\n")

    def test_site_a_s_cgi_programs_cannot_connect_to_b_s_socket(self):
        srv = self.srv
        r = srv.get_on(srv.port_a, f"/cgi-bin/connect.py?{self.socks['b']}", "a.test")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body.decode().strip(), "denied EACCES")
        # Its own socket it may reach (it runs as A): the refusal is the socket's owner and mode.
        r = srv.get_on(srv.port_a, f"/cgi-bin/connect.py?{self.socks['a']}", "a.test")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body.decode().strip(), "ALLOWED")


if __name__ == "__main__":
    unittest.main()
