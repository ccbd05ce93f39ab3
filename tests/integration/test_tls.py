# SPDX-License-Identifier: MIT
"""HTTPS end to end (issue 14), in every MPM this build has of prefork, worker and event: one
`Listen = https://…` beside a plain one, the main server and two virtual hosts each with a
certificate of its own (made here with `openssl req`), chosen by SNI (curl --resolve, openssl
s_client -servername, python's ssl); 421 when Host names another site than SNI did; session
resumption (s_client -sess_out/-sess_in says "Reused") for TLS 1.3 and 1.2, before and after a
reload; TLS 1.1 refused to a client that offers it; a reload with a mismatched key refused with
file:line while the old certificate serves on; a ClientHello in 1-byte TCP segments; CGI's HTTPS
variables; the access log's %{SSL_PROTOCOL}x; a 10 MB file (the read-and-write path: this kernel
has no kTLS) and a POST body over TLS; `mpmd -t`'s certificate checks.
"""
import hashlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import mpmdtest
from mpmdtest import (BINARY, MODULE_DIR, MPM, OPENSSL, Server, add_site, build_has_tls, cert_bundle, cert_fingerprint,
                      free_port, make_cert, s_client, tls_context, tls_get, tls_request_segmented, wait_for)

MPMCTL = os.environ.get("MPMCTL_BINARY", "build/src/supervisor/mpmctl")
CURL = shutil.which("curl")

MAIN = "main site\n"
SITE_A = "site A\n"
SITE_B = "site B\n"
BIG = os.urandom(10 * 1024 * 1024)
ENV_CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
env
"""
ECHO_CGI = """#!/bin/sh
printf 'Content-Type: application/octet-stream\\r\\n\\r\\n'
cat
"""
REQUEST = "GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
NO_TLS = "" if build_has_tls() else "this mpmd was built without TLS (-Dtls=disabled, or no libssl-dev)"


def tls_mpms():
    """prefork, worker and event, those this build can run: every shared module, else the one linked in."""
    wanted = ("prefork", "worker", "event")
    shared = [m for m in os.environ.get("MPMD_SHARED_MPMS", "").split(",") if m]
    if MODULE_DIR and shared:
        return [m for m in shared if m in wanted]
    return [MPM] if MPM in wanted else []


def run_t(conf):
    p = subprocess.run([BINARY, "-t", "-f", conf], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def error_line(test, out, conf, lines, pattern):
    """out has an error "CONF:LINE: …" at one of lines whose text matches pattern (an unknown key,
    or any other complaint about the line, is not the check's)."""
    lines = [lines] if isinstance(lines, int) else lines
    found = [m.group(0) for m in re.finditer(rf"^{re.escape(conf)}:({'|'.join(map(str, lines))}):.*$", out, re.M)]
    test.assertTrue(any(re.search(pattern, f) and "unknown key" not in f for f in found),
                    f"no line {conf}:{lines}: matching {pattern!r} in:\n{out}")


def line_of(conf, text):
    """The 1-based line number of the first line of conf containing text."""
    with open(conf) as f:
        for n, line in enumerate(f, 1):
            if text in line:
                return n
    raise AssertionError(f"{text!r} is not in {conf}")


class Certs:
    """The certificates of a test class, in a folder of their own: localhost (the main server, ECDSA
    and RSA side by side), a.test (with the alias www.a.test) and b.test."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mpmd-tls-certs-")
        os.chmod(self.dir, 0o755)
        self.main = make_cert(self.dir, ["localhost"], "ec")
        self.main_rsa = make_cert(self.dir, ["localhost"], "rsa")
        self.a = make_cert(self.dir, ["a.test", "www.a.test"], "ec")
        self.b = make_cert(self.dir, ["b.test"], "ec")
        self.bundle = cert_bundle(self.dir, [self.main[0], self.main_rsa[0], self.a[0], self.b[0]])

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class TlsServer(Server):
    """mpmd running mpm, with a control socket, a plain listener (self.port) and a TLS one
    (self.tls_port) in [Server]; server_tls and vhosts give the certificates."""

    def __init__(self, mpm, server_tls, vhosts="", server_keys="", start=True, **kw):
        self.mpm = mpm
        self.tls_port = free_port()
        self.control_dir = tempfile.mkdtemp(prefix="mpmd-tls-ctl-")
        self.control = os.path.join(self.control_dir, "control")
        keys = (f"ControlSocket = {self.control}\nListen = https://127.0.0.1:{self.tls_port}\n" + server_tls
                + server_keys)
        super().__init__(server_keys=keys, vhosts=vhosts, start=False, **kw)
        default_line = mpmdtest.load_module_line()
        if default_line:
            with open(self.conf) as f:
                text = f.read()
            with open(self.conf, "w") as f:
                f.write(text.replace(default_line, mpmdtest.load_module_line(mpm), 1))
        elif mpm != MPM:
            raise AssertionError(f"this build links {MPM}; it cannot run {mpm}")
        if start:
            self.start()

    def mpmctl(self, *args):
        p = subprocess.run([MPMCTL, "-s", self.control, *args], capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout + p.stderr

    def stop(self):
        super().stop()
        shutil.rmtree(self.control_dir, ignore_errors=True)


def pair(cert_key):
    cert, key = cert_key
    return f"SSLCertificateFile = {cert}\nSSLCertificateKeyFile = {key}\n"


def write_scripts(directory):
    for name, text in (("env.sh", ENV_CGI), ("echo.sh", ECHO_CGI)):
        path = os.path.join(directory, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)


def cgi_env(body):
    out = {}
    for line in body.decode(errors="replace").splitlines():
        k, sep, v = line.partition("=")
        if sep:
            out[k] = v
    return out


class TlsServing:
    """The tests of one MPM (the subclasses below name it): one server for the class."""
    mpm = None

    @classmethod
    def setUpClass(cls):
        if not OPENSSL:
            raise unittest.SkipTest("the openssl command is not installed")
        cls.certs = Certs()
        cls.cgi_dir = tempfile.mkdtemp(prefix="mpmd-tls-cgi-")
        os.chmod(cls.cgi_dir, 0o755)
        write_scripts(cls.cgi_dir)
        cls.srv = TlsServer(cls.mpm, pair(cls.certs.main) + pair(cls.certs.main_rsa),
                            server_keys=f"ScriptAlias = /cgi-bin/ {cls.cgi_dir}\nLimitRequestBody = 2000000\n",
                            files={"index.html": MAIN, "big.bin": BIG}, start=False)
        cls.access_log = os.path.join(cls.srv.dir, "access.log")
        a = add_site(cls.srv, "a", {"index.html": SITE_A})
        b = add_site(cls.srv, "b", {"index.html": SITE_B})
        with open(cls.srv.conf) as f:
            conf = f.read()
        conf = conf.replace("LogLevel = debug\n",
                            f"LogLevel = debug\nCustomLog = {cls.access_log} %{{Host}}i %r %>s %{{SSL_PROTOCOL}}x\n", 1)
        conf += (f"\n[VirtualHost a]\nServerName = a.test\nServerAlias = www.a.test\nDocumentRoot = {a}\n"
                 + pair(cls.certs.a)
                 + f"\n[VirtualHost b]\nServerName = b.test\nDocumentRoot = {b}\n" + pair(cls.certs.b))
        with open(cls.srv.conf, "w") as f:
            f.write(conf)
        try:
            cls.srv.start()
        except BaseException:
            cls.srv.stop()
            cls.certs.remove()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.certs.remove()
        shutil.rmtree(cls.cgi_dir, ignore_errors=True)

    def get(self, path="/", sni=None, host=None, **kw):
        return tls_get(self.srv.tls_port, path, sni=sni, host=host, cafile=self.certs.bundle, **kw)

    # -- SNI ----------------------------------------------------------------------------------------
    def test_sni_selects_the_site_and_its_certificate(self):
        for name, body, cert in (("a.test", SITE_A, self.certs.a), ("b.test", SITE_B, self.certs.b),
                                 ("www.a.test", SITE_A, self.certs.a)):
            r = self.get(sni=name)
            self.assertEqual(r.status, 200, name)
            self.assertEqual(r.body.decode(), body, name)
            self.assertEqual(r.fingerprint, cert_fingerprint(cert[0]), f"{name} got the certificate of {r.cert_cn}")

    @unittest.skipUnless(CURL, "curl is not installed")
    def test_curl_resolve(self):
        port = self.srv.tls_port
        for name, body, cert in (("a.test", SITE_A, self.certs.a), ("b.test", SITE_B, self.certs.b)):
            # --cacert with only this site's certificate: curl verifies the chain and the name, so
            # another site's certificate fails the request.
            p = subprocess.run([CURL, "-sS", "--resolve", f"{name}:{port}:127.0.0.1", "--cacert", cert[0],
                                f"https://{name}:{port}/"], capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, body)

    def test_s_client_servername_shows_the_site_subject(self):
        for name in ("a.test", "b.test"):
            rc, out = s_client(self.srv.tls_port, sni=name)
            self.assertRegex(out, rf"subject=CN ?= ?{re.escape(name)}\b", out[-3000:])

    def test_no_sni_or_an_unknown_name_gets_the_default_site(self):
        # The default site of the address, as for Host: the main server here (it has a DocumentRoot).
        for sni in (None, "unknown.test"):
            r = self.get(sni=sni, host="localhost")
            self.assertEqual(r.status, 200, sni)
            self.assertEqual(r.body.decode(), MAIN, sni)
            self.assertEqual(r.cert_cn, "localhost", sni)
        rc, out = s_client(self.srv.tls_port)
        self.assertRegex(out, r"subject=CN ?= ?localhost\b", out[-3000:])

    def test_ecdsa_and_rsa_certificates_side_by_side(self):
        """Two pairs in [Server]: a TLS 1.2 client that takes only RSA suites gets the RSA one."""
        for suites, cert in (("ECDHE-RSA-AES128-GCM-SHA256", self.certs.main_rsa),
                             ("ECDHE-ECDSA-AES128-GCM-SHA256", self.certs.main)):
            ctx = tls_context(self.certs.bundle, maximum=ssl.TLSVersion.TLSv1_2)
            ctx.set_ciphers(suites)
            r = tls_get(self.srv.tls_port, sni="localhost", context=ctx)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.fingerprint, cert_fingerprint(cert[0]), suites)

    def test_host_of_another_site_than_sni_is_421(self):
        r = self.get(sni="a.test", host="b.test")
        self.assertEqual(r.status, 421)
        r = self.get(sni="b.test", host="localhost")
        self.assertEqual(r.status, 421)
        # The same site by another of its names, or with a port, is no mismatch.
        self.assertEqual(self.get(sni="a.test", host="www.a.test").body.decode(), SITE_A)
        self.assertEqual(self.get(sni="a.test", host=f"A.TEST:{self.srv.tls_port}").body.decode(), SITE_A)

    def test_421_on_a_second_request_of_a_kept_alive_connection(self):
        """The check is per request: a connection made for a.test may ask for a.test again, never b.test."""
        with mpmdtest.tls_connect(self.srv.tls_port, sni="a.test", cafile=self.certs.bundle) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
            self.assertEqual(mpmdtest.read_response(s).body.decode(), SITE_A)
            s.sendall(b"GET / HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n")
            self.assertEqual(mpmdtest.read_response(s).status, 421)

    def test_plain_and_tls_listeners_serve_the_same_site(self):
        self.assertEqual(self.srv.get("/", host="a.test").body.decode(), SITE_A)
        self.assertEqual(self.get(sni="a.test").body.decode(), SITE_A)
        self.assertEqual(self.srv.get("/", host="b.test").body.decode(), SITE_B)
        self.assertEqual(self.get(sni="b.test").body.decode(), SITE_B)
        # The plain listener stays plain: a ClientHello there is no HTTP request.
        # The plain listener stays plain: a ClientHello there gets no ServerHello (a TLS record
        # starts with 22, a handshake), whatever else it gets.
        obj, _, _, hello = mpmdtest.client_hello("a.test")
        with socket.create_connection(("127.0.0.1", self.srv.port), timeout=5) as s:
            s.sendall(hello)
            try:
                data = s.recv(4096)
            except (socket.timeout, ConnectionResetError):
                data = b""
        self.assertFalse(data.startswith(b"\x16"), data[:80])

    # -- versions -------------------------------------------------------------------------------------
    def test_tls12_and_tls13_offered(self):
        for version, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
            ctx = tls_context(self.certs.bundle, minimum=version, maximum=version)
            r = tls_get(self.srv.tls_port, sni="a.test", context=ctx)
            self.assertEqual(r.status, 200, name)
            self.assertEqual(r.protocol, name)

    def test_tls11_refused(self):
        # OpenSSL 3's default client refuses 1.1 itself: SECLEVEL=0 makes it offer it.
        rc, out = s_client(self.srv.tls_port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", sni="a.test")
        self.assertNotEqual(rc, 0, out[-3000:])
        self.assertNotRegex(out, r"New, TLSv1(\.1)?, Cipher is [A-Z]")
        # The same client with TLS 1.2 is served, so the refusal is the version's.
        rc, out = s_client(self.srv.tls_port, "-tls1_2", "-cipher", "DEFAULT@SECLEVEL=0", sni="a.test")
        self.assertEqual(rc, 0, out[-3000:])
        self.assertIn("New, TLSv1.2, Cipher is ", out)

    # -- resumption -----------------------------------------------------------------------------------
    def resume(self, version, sni="a.test", reload_between=False):
        """A session made by one s_client, offered by a second: its "Reused"/"New" line."""
        d = tempfile.mkdtemp(prefix="mpmd-tls-sess-")
        try:
            sess = os.path.join(d, "session.pem")
            request = REQUEST.format(host=sni).encode()
            # -ign_eof: read until the server closes (Connection: close), so that TLS 1.3's tickets,
            # sent after the handshake, are in the session written.
            rc, out = s_client(self.srv.tls_port, version, "-ign_eof", "-sess_out", sess, sni=sni, stdin=request)
            self.assertRegex(out, rf"New, {re.escape(version_name(version))}", out[-3000:])
            self.assertIn("HTTP/1.1 200", out)
            self.assertTrue(os.path.getsize(sess) > 0, "s_client wrote no session")
            if reload_between:
                rc, msg = self.srv.mpmctl("reload")
                self.assertEqual(rc, 0, msg)
            rc, out = s_client(self.srv.tls_port, version, "-ign_eof", "-sess_in", sess, sni=sni, stdin=request)
            self.assertIn("HTTP/1.1 200", out)
            m = re.search(r"^(New|Reused), (TLSv[\d.]+)", out, re.M)
            self.assertIsNotNone(m, out[-3000:])
            return m.group(1), m.group(2)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_session_resumption_tls13(self):
        self.assertEqual(self.resume("-tls1_3"), ("Reused", "TLSv1.3"))

    def test_session_resumption_tls12(self):
        self.assertEqual(self.resume("-tls1_2"), ("Reused", "TLSv1.2"))

    def test_session_resumption_across_a_reload(self):
        """The supervisor keeps the ticket keys across a reload (Debian's nginx does not)."""
        self.assertEqual(self.resume("-tls1_3", reload_between=True), ("Reused", "TLSv1.3"))
        self.assertEqual(self.resume("-tls1_2", reload_between=True), ("Reused", "TLSv1.2"))
        self.assertEqual(self.get(sni="b.test").body.decode(), SITE_B)

    # -- the transport --------------------------------------------------------------------------------
    def test_client_hello_in_one_byte_segments(self):
        r = tls_request_segmented(self.srv.tls_port, REQUEST.format(host="b.test"), sni="b.test",
                                  context=tls_context(self.certs.bundle))
        self.assertGreater(r.hello_bytes, 100)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body.decode(), SITE_B)

    def test_ten_megabytes_arrive_intact(self):
        # No kTLS on this kernel: the file goes through the bounded buffer.
        r = self.get("/big.bin", sni="localhost", timeout=60)
        self.assertEqual(r.status, 200)
        self.assertEqual(int(r.header("content-length")), len(BIG))
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), hashlib.sha256(BIG).hexdigest())

    def test_ten_megabytes_with_a_slow_reader(self):
        """The write path waits for the socket (want write) instead of failing or spinning."""
        with mpmdtest.tls_connect(self.srv.tls_port, sni="localhost", cafile=self.certs.bundle, timeout=60) as s:
            s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            time.sleep(2)  # 10 MB fill both sockets' buffers: the server must wait, not drop the rest
            r = mpmdtest.read_response(s, timeout=60)
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), hashlib.sha256(BIG).hexdigest())

    def test_range_over_tls(self):
        r = self.get("/big.bin", sni="localhost", headers="Range: bytes=1000000-1000099\r\n")
        self.assertEqual(r.status, 206)
        self.assertEqual(r.body, BIG[1000000:1000100])

    def test_post_body_to_cgi(self):
        body = os.urandom(300000)
        r = self.get("/cgi-bin/echo.sh", sni="a.test", method="POST", body=body, timeout=30)
        self.assertEqual(r.status, 200)
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), hashlib.sha256(body).hexdigest())

    # -- what the layers above see ---------------------------------------------------------------------
    def test_cgi_https_variables(self):
        env = cgi_env(self.get("/cgi-bin/env.sh", sni="a.test").body)
        self.assertEqual(env.get("HTTPS"), "on", env)
        self.assertEqual(env.get("SSL_PROTOCOL"), "TLSv1.3", env)
        self.assertEqual(env.get("SSL_TLS_SNI"), "a.test", env)
        self.assertTrue(env.get("SSL_CIPHER"), env)
        self.assertEqual(env.get("SERVER_PORT"), str(self.srv.tls_port), env)
        ctx = tls_context(self.certs.bundle, maximum=ssl.TLSVersion.TLSv1_2)
        env = cgi_env(tls_get(self.srv.tls_port, "/cgi-bin/env.sh", sni="b.test", context=ctx).body)
        self.assertEqual(env.get("SSL_PROTOCOL"), "TLSv1.2", env)
        self.assertEqual(env.get("SSL_TLS_SNI"), "b.test", env)
        # Without SNI there is no SSL_TLS_SNI; a plain request has none of them.
        env = cgi_env(self.get("/cgi-bin/env.sh", sni=None, host="localhost").body)
        self.assertEqual(env.get("HTTPS"), "on", env)
        self.assertNotIn("SSL_TLS_SNI", env)
        env = cgi_env(self.srv.get("/cgi-bin/env.sh").body)
        for k in ("HTTPS", "SSL_PROTOCOL", "SSL_CIPHER", "SSL_TLS_SNI"):
            self.assertNotIn(k, env)

    def test_access_log_ssl_protocol(self):
        tag = f"/log-{time.time_ns()}"
        self.assertEqual(self.get(tag + "-tls", sni="a.test").status, 404)
        self.assertEqual(self.srv.get(tag + "-plain", host="a.test").status, 404)

        def lines():
            try:
                with open(self.access_log) as f:
                    return [line for line in f if tag in line]
            except FileNotFoundError:
                return []
        got = wait_for(lambda: len(lines()) == 2 and lines(), what="the two access log lines")
        by = {("tls" if "-tls " in line else "plain"): line.rstrip("\n") for line in got}
        self.assertTrue(by["tls"].endswith(" 404 TLSv1.3"), by)
        self.assertTrue(by["plain"].endswith(" 404 -"), by)


def version_name(flag):
    return {"-tls1_2": "TLSv1.2", "-tls1_3": "TLSv1.3"}[flag]


for _mpm in ("prefork", "worker", "event"):
    _cls = type(f"TlsServing_{_mpm}", (TlsServing, unittest.TestCase), {"mpm": _mpm})
    _cls = unittest.skipIf(NO_TLS, NO_TLS)(_cls)
    globals()[_cls.__name__] = unittest.skipUnless(_mpm in tls_mpms(), f"the {_mpm} MPM is not in this build")(_cls)


class TlsReload:
    """A reload with a mismatched pair is refused with file:line and the old certificate serves on;
    a good new pair is then taken at the next reload."""
    mpm = None

    def setUp(self):
        if not OPENSSL:
            self.skipTest("the openssl command is not installed")
        self.certs = Certs()
        self.addCleanup(self.certs.remove)
        self.srv = TlsServer(self.mpm, pair(self.certs.main), start=False)
        self.addCleanup(self.srv.stop)
        a = add_site(self.srv, "a", {"index.html": SITE_A})
        with open(self.srv.conf, "a") as f:
            f.write(f"\n[VirtualHost a]\nServerName = a.test\nDocumentRoot = {a}\n" + pair(self.certs.a))
        self.srv.start()

    def fingerprint(self, cafile):
        r = tls_get(self.srv.tls_port, sni="a.test", cafile=cafile)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body.decode(), SITE_A)
        return r.fingerprint

    def set_key(self, key):
        with open(self.srv.conf) as f:
            conf = f.read()
        conf = re.sub(r"(\[VirtualHost a\][^\[]*?SSLCertificateKeyFile = ).*\n", lambda m: m.group(1) + key + "\n",
                      conf, flags=re.S)
        with open(self.srv.conf, "w") as f:
            f.write(conf)

    def test_reload_with_a_mismatched_key_is_refused_and_the_old_certificate_serves(self):
        old = cert_fingerprint(self.certs.a[0])
        self.assertEqual(self.fingerprint(self.certs.bundle), old)
        # b's key is a good key, of another certificate: only the pair is wrong.
        self.set_key(self.certs.b[1])
        line = line_of(self.srv.conf, f"SSLCertificateKeyFile = {self.certs.b[1]}")
        rc, out = self.srv.mpmctl("reload")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("reload refused", out)
        error_line(self, out, self.srv.conf, (line, line - 1), r"(?i)match")
        self.assertEqual(self.fingerprint(self.certs.bundle), old)
        self.assertEqual(self.srv.proc.poll(), None)

        # A good new pair (certbot's renewal, then its deploy hook's reload) is taken.
        new = make_cert(self.certs.dir, ["a.test"], "ec", days=90, tag="a-renewed")
        with open(self.srv.conf) as f:
            conf = f.read().replace(self.certs.a[0], new[0])
        with open(self.srv.conf, "w") as f:
            f.write(conf)
        self.set_key(new[1])
        rc, out = self.srv.mpmctl("reload")
        self.assertEqual(rc, 0, out)
        bundle = cert_bundle(self.certs.dir, [self.certs.bundle, new[0]], "bundle2.pem")
        wait_for(lambda: self.fingerprint(bundle) == cert_fingerprint(new[0]), what="the renewed certificate served")

    def test_reload_with_an_unreadable_certificate_is_refused(self):
        with open(self.srv.conf) as f:
            conf = f.read().replace(self.certs.a[0], "/nonexistent/a.crt")
        with open(self.srv.conf, "w") as f:
            f.write(conf)
        line = line_of(self.srv.conf, "SSLCertificateFile = /nonexistent/a.crt")
        rc, out = self.srv.mpmctl("reload")
        self.assertNotEqual(rc, 0, out)
        error_line(self, out, self.srv.conf, line, "/nonexistent/a.crt")
        self.assertEqual(self.fingerprint(self.certs.bundle), cert_fingerprint(self.certs.a[0]))


for _mpm in ("prefork", "worker", "event"):
    _cls = type(f"TlsReload_{_mpm}", (TlsReload, unittest.TestCase), {"mpm": _mpm})
    _cls = unittest.skipIf(NO_TLS, NO_TLS)(_cls)
    globals()[_cls.__name__] = unittest.skipUnless(_mpm in tls_mpms(), f"the {_mpm} MPM is not in this build")(_cls)


@unittest.skipIf(NO_TLS, NO_TLS)
@unittest.skipUnless(OPENSSL, "the openssl command is not installed")
@unittest.skipUnless(tls_mpms(), "no MPM of prefork, worker and event in this build")
class StrictSniTest(unittest.TestCase):
    def test_unknown_name_refused_with_an_alert(self):
        certs = Certs()
        self.addCleanup(certs.remove)
        srv = TlsServer(tls_mpms()[-1], pair(certs.main) + "SSLStrictSNIVHostCheck = On\n",
                        vhosts=f"[VirtualHost a]\nServerName = a.test\n{pair(certs.a)}")
        self.addCleanup(srv.stop)
        self.assertEqual(tls_get(srv.tls_port, sni="a.test", cafile=certs.bundle).cert_cn, "a.test")
        self.assertEqual(tls_get(srv.tls_port, sni="localhost", cafile=certs.bundle).cert_cn, "localhost")
        with self.assertRaises(ssl.SSLError):
            tls_get(srv.tls_port, sni="unknown.test", cafile=certs.bundle)


@unittest.skipIf(NO_TLS, NO_TLS)
@unittest.skipUnless(OPENSSL, "the openssl command is not installed")
class ConfigTestTest(unittest.TestCase):
    """mpmd -t on certificates: errors with file:line fail it, warnings do not."""

    def setUp(self):
        self.certs = Certs()
        self.addCleanup(self.certs.remove)
        self.srv = None

    def conf(self, server_tls, vhosts=""):
        srv = Server(server_keys=f"Listen = https://127.0.0.1:{free_port()}\n" + server_tls, vhosts=vhosts,
                     start=False)
        self.addCleanup(srv.stop)
        return srv.conf

    def test_good_pair_passes_without_warnings(self):
        conf = self.conf(pair(self.certs.main))
        rc, out = run_t(conf)
        self.assertEqual(rc, 0, out)
        self.assertIn("Syntax OK", out)
        # No warning about the certificate (the descriptor limit of the machine may draw one).
        self.assertNotRegex(out, r"(?i)SSL|certificate|expir")

    def test_expiring_certificate_warns_and_passes(self):
        soon = make_cert(self.certs.dir, ["localhost"], "ec", days=5)
        conf = self.conf(pair(soon))
        rc, out = run_t(conf)
        self.assertEqual(rc, 0, out)
        self.assertIn("Syntax OK", out)
        self.assertRegex(out, r"(?i)expir", out)
        self.assertRegex(out, rf"{re.escape(conf)}:{line_of(conf, 'SSLCertificateFile')}:.*(?i:expir)")
        # 30 days left is no warning (the threshold is 14).
        later = make_cert(self.certs.dir, ["localhost"], "ec", days=30)
        rc, out = run_t(self.conf(pair(later)))
        self.assertEqual(rc, 0, out)
        self.assertNotRegex(out, r"(?i)expir")

    def test_expired_certificate_fails(self):
        old = make_cert(self.certs.dir, ["localhost"], "ec", expired=True)
        conf = self.conf(pair(old))
        rc, out = run_t(conf)
        self.assertNotEqual(rc, 0, out)
        error_line(self, out, conf, line_of(conf, "SSLCertificateFile"), r"(?i)expired")

    def test_mismatched_key_fails_naming_its_line(self):
        conf = self.conf(f"SSLCertificateFile = {self.certs.main[0]}\nSSLCertificateKeyFile = {self.certs.a[1]}\n")
        rc, out = run_t(conf)
        self.assertNotEqual(rc, 0, out)
        lines = (line_of(conf, "SSLCertificateFile"), line_of(conf, "SSLCertificateKeyFile"))
        error_line(self, out, conf, lines, r"(?i)match")
        self.assertNotIn("Syntax OK", out)

    def test_mismatched_key_in_a_virtual_host(self):
        conf = self.conf(pair(self.certs.main),
                         vhosts=f"[VirtualHost b]\nServerName = b.test\nSSLCertificateFile = {self.certs.b[0]}\n"
                                f"SSLCertificateKeyFile = {self.certs.a[1]}\n")
        rc, out = run_t(conf)
        self.assertNotEqual(rc, 0, out)
        error_line(self, out, conf, line_of(conf, "SSLCertificateKeyFile = " + self.certs.a[1]),
                   r"\[VirtualHost b\].*(?i:match)")

    def test_certificate_not_covering_server_name_warns(self):
        conf = self.conf(pair(self.certs.main),
                         vhosts=f"[VirtualHost c]\nServerName = c.test\n{pair(self.certs.b)}")
        rc, out = run_t(conf)
        self.assertEqual(rc, 0, out)
        self.assertIn("Syntax OK", out)
        self.assertRegex(out, rf"{re.escape(conf)}:\d+:.*c\.test")
        # A certificate that does cover its site's names says nothing.
        conf = self.conf(pair(self.certs.main), vhosts=f"[VirtualHost b]\nServerName = b.test\n{pair(self.certs.b)}")
        rc, out = run_t(conf)
        self.assertEqual(rc, 0, out)
        self.assertNotIn("b.test", out)

    def test_garbage_certificate_fails(self):
        junk = os.path.join(self.certs.dir, "junk.crt")
        with open(junk, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
        conf = self.conf(f"SSLCertificateFile = {junk}\nSSLCertificateKeyFile = {self.certs.main[1]}\n")
        rc, out = run_t(conf)
        self.assertNotEqual(rc, 0, out)
        error_line(self, out, conf, line_of(conf, "SSLCertificateFile"), re.escape(junk))

    def test_tls_listener_without_a_certificate_fails(self):
        conf = self.conf("")
        rc, out = run_t(conf)
        self.assertNotEqual(rc, 0, out)
        error_line(self, out, conf, line_of(conf, "Listen = https://"), r"(?i)certificate")

    def test_unknown_protocol_name_fails(self):
        conf = self.conf(pair(self.certs.main) + "SSLProtocol = TLSv1.2 TLSv9\n")
        rc, out = run_t(conf)
        self.assertNotEqual(rc, 0, out)
        error_line(self, out, conf, line_of(conf, "SSLProtocol"), "TLSv9")


if __name__ == "__main__":
    unittest.main()
