# SPDX-License-Identifier: MIT
"""perchild and the reverse proxy: a site's pool connects to its own upstreams, as the site's user,
and only a site with an upstream may connect at all (the seccomp filter is built from each pool's
configuration). Site A proxies /app/ to an HTTP server on loopback and /theirs/ to a unix socket
that belongs to site B (mode 0600): A's pool gets 502 there (EACCES), B's gets through. Site B has
no ProxyPass of its own except that socket; a site without any (the main server's default pool) may
not connect (mpmctl audit shows CONNECT "-" for it). Site A also proxies /tls/ to an https://
upstream whose CA file only root may read: the supervisor reads it with the configuration, and A's
pool, sandboxed under A's user, verifies the upstream with it.

Needs root and a build with the perchild MPM (as test_perchild.py)."""
import json
import os
import pwd
import shutil
import ssl
import tempfile
import unittest

from mpmdtest import build_has_tls, make_cert, remove_users
from test_perchild import SITE_USERS, PerchildServer, create_users, perchild_available
from upstream_server import Upstream


@unittest.skipUnless(os.geteuid() == 0, "needs root: creates users and starts mpmd as root")
@unittest.skipUnless(shutil.which("setpriv") and shutil.which("useradd"), "needs setpriv and useradd")
@unittest.skipUnless(perchild_available(), "mpmd was built without the perchild MPM")
class PerchildProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.created = create_users()
        cls.srv = cls.up = cls.b_up = None
        cls.dir = tempfile.mkdtemp(prefix="mpmd-perchild-proxy-")
        os.chmod(cls.dir, 0o755)
        try:
            cls.up = Upstream()
            cls.tls_up = None
            tls_lines = ""
            if build_has_tls():
                cert, key = make_cert(cls.dir, ["localhost"], tag="up")
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(cert, key)
                cls.tls_up = Upstream(tls=ctx)
                ca = os.path.join(cls.dir, "ca.pem")
                shutil.copy(cert, ca)
                os.chmod(ca, 0o600)  # root's alone
                tls_lines = (f"SSLProxyCACertificateFile = {ca}\n"
                             f"ProxyPass = /tls/ https://localhost:{cls.tls_up.port}/up/\n")
            sock = os.path.join(cls.dir, "b.sock")
            cls.b_up = Upstream(unix_path=sock)
            b_pw = pwd.getpwnam(SITE_USERS[1])
            os.chown(sock, b_pw.pw_uid, b_pw.pw_gid)
            os.chmod(sock, 0o600)
            cls.sock = sock
            srv = PerchildServer()
            cls.srv = srv
            with open(srv.conf) as f:
                text = f.read()
            for name, lines in (("a", f"ProxyPass = /app/ http://{cls.up.authority}/up/\n"
                                      f"ProxyPass = /theirs/ unix:{sock}|http://b/up/\n" + tls_lines),
                                ("b", f"ProxyPass = /theirs/ unix:{sock}|http://b/up/\n")):
                line = f"ScriptAlias = /cgi-bin/ {srv.cgi_dirs[name]}\n"
                assert line in text
                text = text.replace(line, line + lines, 1)
            with open(srv.conf, "w") as f:
                f.write(text)
            srv.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.srv:
            cls.srv.stop()
        for u in (cls.up, cls.b_up, getattr(cls, "tls_up", None)):
            if u:
                u.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)
        remove_users(cls.created)

    def test_site_a_reaches_its_upstream_on_its_own_socket(self):
        # (Site B's requests below come through the dispatcher: a proxied request is served by the
        # pool it is handed to, as any other.)
        srv = self.srv
        for i in range(3):
            r = srv.get_on(srv.port_a, f"/app/echo?from=a{i}", "a.test")
            self.assertEqual(r.status, 200, r.body + srv.error_log()[-2000:].encode())
            self.assertEqual(json.loads(r.body)["target"], f"/up/echo?from=a{i}")
        # Kept alive per pool process: never more upstream connections than requests.
        self.assertLessEqual(self.up.connections, 3)

    def test_site_a_reaches_its_https_upstream_from_its_sandboxed_pool(self):
        if not self.tls_up:
            self.skipTest("this mpmd was built without TLS")
        srv = self.srv
        for i in range(3):
            r = srv.get_on(srv.port_a, f"/tls/echo?from=a{i}", "a.test")
            self.assertEqual(r.status, 200, r.body + srv.error_log()[-2000:].encode())
            self.assertEqual(json.loads(r.body)["target"], f"/up/echo?from=a{i}")
        self.assertIn("localhost", self.tls_up.tls_names)
        self.assertEqual(self.tls_up.tls_failed, 0)
        # Site B has no such prefix: its pool never speaks to that upstream.
        self.assertEqual(srv.get_on(srv.port, "/tls/echo?from=b", "b.test").status, 404)
        self.assertEqual(self.tls_up.requests_for("from=b"), [])

    def test_site_b_has_no_app_prefix(self):
        r = self.srv.get_on(self.srv.port, "/app/echo?from=b", "b.test")
        self.assertEqual(r.status, 404)
        self.assertEqual(self.up.requests_for("from=b"), [])

    def test_a_unix_upstream_of_site_b_is_out_of_site_a_s_reach(self):
        srv = self.srv
        r = srv.get_on(srv.port_a, "/theirs/echo?who=a", "a.test")
        self.assertEqual(r.status, 502, r.body)
        srv.wait_log(rf"cannot connect to the upstream unix:{self.sock}\|http://b/up/: Permission denied")
        self.assertEqual(self.b_up.requests_for("who=a"), [])
        r = srv.get_on(srv.port, "/theirs/echo?who=b", "b.test")
        self.assertEqual(r.status, 200, r.body + srv.error_log()[-2000:].encode())
        self.assertEqual(len(self.b_up.requests_for("who=b")), 1)

    def test_only_pools_with_upstreams_may_connect(self):
        out = self.srv.audit()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        rows = {}
        for line in out.stdout.splitlines():
            f = line.split()
            if len(f) >= 8 and f[0] == "pool":
                rows.setdefault(f[1], set()).add(f[-2])
            elif len(f) >= 7 and f[0] == "dispatcher":
                rows.setdefault("dispatcher", set()).add(f[-2])
        self.assertEqual(rows.get("a"), {"unix,inet"}, out.stdout)
        self.assertEqual(rows.get("b"), {"unix"}, out.stdout)
        self.assertEqual(rows.get("[Server]"), {"-"}, out.stdout)
        self.assertEqual(rows.get("dispatcher"), {"-"}, out.stdout)


if __name__ == "__main__":
    unittest.main()
