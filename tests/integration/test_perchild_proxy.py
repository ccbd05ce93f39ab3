# SPDX-License-Identifier: MIT
"""perchild and the reverse proxy: a site's pool connects to its own upstreams, as the site's user,
and only a site with an upstream may connect at all (the seccomp filter is built from each pool's
configuration). Site A proxies /app/ to an HTTP server on loopback and /theirs/ to a unix socket
that belongs to site B (mode 0600): A's pool gets 502 there (EACCES), B's gets through. Site B has
no ProxyPass of its own except that socket; a site without any (the main server's default pool) may
not connect (mpmctl audit shows CONNECT "-" for it). Site A also proxies /tls/ to an https://
upstream whose CA file only root may read: the supervisor reads it with the configuration, and A's
pool, sandboxed under A's user, verifies the upstream with it.

Client certificates (SSLProxyMachineCertificateFile) under key custody: A and B each name a machine
file of their own (certificate, chain and key; root's alone, mode 0600, which neither site's user can
read). An upstream that takes only client certificates of A's CA sees A's subject from A's pool and
refuses B's (B's pool shows B's own, never A's); one that takes B's CA sees B's. The supervisor never
parses either key: it seals each file into a memfd ("mpmd-tls-proxy:PATH"), checks it in a child, and
only it holds the memfds; each pool loads its own sites' file at start. A memory scan (as
test_perchild_custody.py's) finds A's private scalar in every process of A's pool (the positive
control) and nowhere else: not in the supervisor, B's pool, the default pool, the dispatcher or a CGI
launcher; likewise B's. Respawned pools present the same certificate; a reload with a file that holds
no key is refused at its line and the old generation keeps presenting the old one; `mpmd -t` says
what is wrong with a file at its line (missing, no key, key mismatch, expired).

Needs root and a build with the perchild MPM (as test_perchild.py)."""
import json
import os
import pwd
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import unittest

from mpmdtest import BINARY, OPENSSL, build_has_tls, make_cert, remove_users, wait_for
from test_perchild import MPMCTL, SITE_USERS, PerchildServer, create_users, perchild_available, tree_processes
from test_perchild_custody import limbs_le, private_scalar, writable_memory_has
from test_proxy_tls import make_client_chain, server_context
from upstream_server import Upstream

DISPATCH_USER = "mpmd-dispatch"


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
            cls.mtls = {}
            tls_lines = b_tls_lines = ""
            if build_has_tls():
                cert, key = make_cert(cls.dir, ["localhost"], tag="up")
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(cert, key)
                cls.tls_up = Upstream(tls=ctx)
                ca = os.path.join(cls.dir, "ca.pem")
                shutil.copy(cert, ca)
                os.chmod(ca, 0o600)  # root's alone
                cls.roots, cls.machines, cls.client_keys = {}, {}, {}
                for name in "ab":
                    # CN mpmd-pa, mpmd-pb; the machine file is root's alone (mode 0600)
                    cls.roots[name], cls.machines[name] = make_client_chain(cls.dir, f"p{name}")
                    cls.client_keys[name] = os.path.join(cls.dir, f"p{name}-client.key")
                    cls.mtls[name] = Upstream(tls=server_context(cert, key, client_ca=cls.roots[name]))
                tls_lines = (f"SSLProxyCACertificateFile = {ca}\n"
                             f"ProxyPass = /tls/ https://localhost:{cls.tls_up.port}/up/\n")
                for name, lines in (("a", "tls_lines"), ("b", "b_tls_lines")):
                    text = (f"SSLProxyMachineCertificateFile = {cls.machines[name]}\n"
                            f"ProxyPass = /mtls-a/ https://localhost:{cls.mtls['a'].port}/up/\n"
                            f"ProxyPass = /mtls-b/ https://localhost:{cls.mtls['b'].port}/up/\n")
                    if name == "a":
                        tls_lines += text
                    else:
                        b_tls_lines = f"SSLProxyCACertificateFile = {ca}\n" + text
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
                                ("b", f"ProxyPass = /theirs/ unix:{sock}|http://b/up/\n" + b_tls_lines)):
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
        for u in (cls.up, cls.b_up, getattr(cls, "tls_up", None), *getattr(cls, "mtls", {}).values()):
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
        # b's https:// targets (client certificates, below) need inet; without TLS it has its socket only.
        self.assertEqual(rows.get("b"), {"unix,inet"} if self.tls_up else {"unix"}, out.stdout)
        self.assertEqual(rows.get("[Server]"), {"-"}, out.stdout)
        self.assertEqual(rows.get("dispatcher"), {"-"}, out.stdout)

    # -- client certificates to upstreams under key custody ----------------------------------------
    def need_tls(self):
        if not self.tls_up:
            self.skipTest("this mpmd was built without TLS")

    def client_of(self, port, path, host, n=6):
        """The subject (CN) each of n requests showed the upstream: the set of them."""
        seen = set()
        for i in range(n):
            r = self.srv.get_on(port, f"{path}echo?from={host}{i}", host)
            self.assertEqual(r.status, 200, r.body + self.srv.error_log()[-2000:].encode())
            seen.add(json.loads(r.body)["tls_client"])
        return seen

    def assert_certificates_presented(self):
        srv = self.srv
        # a's pool shows a's certificate (with its chain: the upstream trusts only the root).
        self.assertEqual(self.client_of(srv.port_a, "/mtls-a/", "a.test"), {"mpmd-pa"})
        # b's pool shows b's own, to the upstream that takes b's CA...
        self.assertEqual(self.client_of(srv.port, "/mtls-b/", "b.test"), {"mpmd-pb"})
        # ...and never a's: the upstream that takes a's CA only refuses it.
        before = len(self.mtls["a"].requests_for("from=b.test"))
        r = srv.get_on(srv.port, "/mtls-a/echo?from=b.test-refused", "b.test")
        self.assertEqual(r.status, 502, r.body)
        srv.wait_log(r"upstream refused the client certificate \(SSLProxyMachineCertificateFile\)")
        self.assertEqual(len(self.mtls["a"].requests_for("from=b.test")), before)
        # a's certificate to b's upstream is refused likewise: each pool has its own only.
        self.assertEqual(srv.get_on(srv.port_a, "/mtls-b/echo?from=a.test-refused", "a.test").status, 502)

    def test_each_pool_presents_its_own_sites_client_certificate(self):
        self.need_tls()
        self.assert_certificates_presented()

    def test_the_machine_files_are_root_s_alone(self):
        self.need_tls()
        for name, path in self.machines.items():
            st = os.stat(path)
            self.assertEqual((st.st_uid, st.st_mode & 0o777), (0, 0o600), path)
            for user in SITE_USERS[:2]:
                p = subprocess.run(["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "cat", path],
                                   capture_output=True, text=True, timeout=30)
                self.assertNotEqual(p.returncode, 0, f"{user} could read {path}")
                self.assertIn("Permission denied", p.stderr)

    def processes(self):
        return tree_processes(self.srv.pid)

    def test_only_the_supervisor_holds_the_sealed_files(self):
        self.need_tls()
        holders = {}
        for pid, uid, comm, _ in self.processes():
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for fd in fds:
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("/memfd:mpmd-tls-proxy:"):
                    holders.setdefault(pid, set()).add(target)
        # The positive control: the supervisor keeps both files for the generation.
        self.assertEqual(holders.get(self.srv.pid),
                         {f"/memfd:mpmd-tls-proxy:{self.machines[n]} (deleted)" for n in "ab"}, holders)
        self.assertEqual(set(holders), {self.srv.pid}, holders)
        out = self.srv.audit()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    @unittest.skipUnless(OPENSSL, "needs the openssl command")
    def test_each_client_key_lives_in_its_own_pool_only(self):
        self.need_tls()
        self.assert_certificates_presented()
        forms = {}
        for name, key in self.client_keys.items():
            be = private_scalar(key)
            self.assertEqual(limbs_le(be), be[::-1])
            forms[name] = (be, be[::-1])
        needles = [n for pair in forms.values() for n in pair]
        uids = {name: self.srv.uid_of(name) for name in "ab"}
        dispatch_uid = pwd.getpwnam(DISPATCH_USER).pw_uid
        sup = self.srv.pid
        kinds = {"supervisor": 0, "pool a": 0, "pool b": 0, "dispatcher": 0, "other": 0}
        for pid, uid, comm, ppid in self.processes():
            try:
                found = writable_memory_has(pid, needles)
            except (FileNotFoundError, ProcessLookupError):
                continue
            has = {name for name, pair in forms.items() if found & set(pair)}
            if pid == sup:
                kinds["supervisor"] += 1
                self.assertEqual(has, set(), "the supervisor holds a parsed client key")
            elif comm == "mpmd" and ppid == sup and uid in uids.values():
                mine = "a" if uid == uids["a"] else "b"
                kinds[f"pool {mine}"] += 1
                # The positive control: without it the search proves nothing.
                self.assertEqual(has, {mine}, f"pool {mine} process {pid} should hold its own client key only")
            else:
                kinds["dispatcher" if uid == dispatch_uid else "other"] += 1
                self.assertEqual(has, set(), f"{comm} {pid} (uid {uid}) holds a client key")
        self.assertEqual(kinds["supervisor"], 1, kinds)
        self.assertEqual(kinds["pool a"], 3, kinds)  # PoolProcesses = 3
        self.assertEqual(kinds["pool b"], 2, kinds)
        self.assertGreaterEqual(kinds["dispatcher"], 1, kinds)
        self.assertGreaterEqual(kinds["other"], 4, kinds)  # the default pool and three CGI launchers

    def test_a_respawned_pool_presents_the_same_certificate(self):
        self.need_tls()
        srv = self.srv
        old = srv.wait_pool(srv.uid_of("a"), n=3)
        for pid in old:
            os.kill(pid, signal.SIGKILL)
        srv.wait_pool(srv.uid_of("a"), n=3, exclude=old)
        # Every process of a's pool is new: the supervisor's memfd gave them the same bytes.
        self.assertEqual(self.client_of(srv.port_a, "/mtls-a/", "a.test"), {"mpmd-pa"})

    def test_a_reload_with_a_file_that_cannot_serve_is_refused_at_its_line(self):
        self.need_tls()
        srv = self.srv
        with open(srv.conf) as f:
            good = f.read()
        cert_only = os.path.join(self.dir, "cert-only.pem")
        shutil.copy(os.path.join(self.dir, "pa-client.crt"), cert_only)
        os.chmod(cert_only, 0o600)
        line = f"SSLProxyMachineCertificateFile = {self.machines['a']}\n"
        bad = good.replace(line, f"SSLProxyMachineCertificateFile = {cert_only}\n", 1)
        n = bad[:bad.index(cert_only)].count("\n") + 1
        try:
            with open(srv.conf, "w") as f:
                f.write(bad)
            p = subprocess.run([MPMCTL, "-s", srv.control, "reload"], capture_output=True, text=True, timeout=60)
            self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertRegex(p.stdout + p.stderr,
                             rf"{re.escape(srv.conf)}:{n}: \[VirtualHost a\] SSLProxyMachineCertificateFile: "
                             rf"{re.escape(cert_only)}: holds no private key")
        finally:
            with open(srv.conf, "w") as f:
                f.write(good)
        # The old generation goes on presenting the certificate it checked.
        self.assertEqual(self.client_of(srv.port_a, "/mtls-a/", "a.test"), {"mpmd-pa"})

    def test_mpmd_t_says_what_is_wrong_with_a_file_at_its_line(self):
        self.need_tls()
        srv = self.srv
        with open(srv.conf) as f:
            good = f.read()
        d = tempfile.mkdtemp(prefix="mpmd-perchild-t-", dir=self.dir)
        other_cert, other_key = make_cert(d, ["someone-else"], tag="else")
        old_cert, old_key = make_cert(d, ["mpmd-old"], expired=True, tag="old")

        def pem(name, *parts):
            path = os.path.join(d, name)
            with open(path, "w") as out:
                for part in parts:
                    with open(part) as f:
                        out.write(f.read())
            os.chmod(path, 0o600)
            return path

        a_cert = os.path.join(self.dir, "pa-client.crt")
        cases = [
            (os.path.join(d, "missing.pem"), "No such file or directory"),
            (pem("no-key.pem", a_cert), "holds no private key"),
            (pem("mismatch.pem", a_cert, other_key), "its private key does not match its certificate"),
            (pem("expired.pem", old_cert, old_key), "expired on 2020-02-01"),
        ]
        conf = os.path.join(d, "mpmd.conf")
        line = f"SSLProxyMachineCertificateFile = {self.machines['b']}\n"
        for path, why in cases:
            with self.subTest(why=why):
                text = good.replace(line, f"SSLProxyMachineCertificateFile = {path}\n", 1)
                n = text[:text.index(path)].count("\n") + 1
                with open(conf, "w") as f:
                    f.write(text)
                p = subprocess.run([BINARY, "-t", "-f", conf], capture_output=True, text=True, timeout=60)
                out = p.stdout + p.stderr
                self.assertNotEqual(p.returncode, 0, out)
                m = re.findall(rf"(?m)^{re.escape(conf)}:{n}: \[VirtualHost b\] SSLProxyMachineCertificateFile: "
                               rf"{re.escape(path)}:? .*{why}", out)
                self.assertEqual(len(m), 1, out)  # once, however many targets need it
                self.assertNotIn("not available under the perchild MPM", out)
        with open(conf, "w") as f:
            f.write(good)
        p = subprocess.run([BINARY, "-t", "-f", conf], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
