# SPDX-License-Identifier: MIT
"""https:// upstreams (issue 16: "TLS upstreams"), in whichever MPM this build runs: the reverse
proxy over TLS to upstream_server's Python upstream, which serves with certificates the test makes.

What a client, the upstream and the operator see: requests, chunked and large bodies both ways and a
WebSocket tunnel pass over TLS; SNI is the URL's host (none for an IP address); the connection is kept
alive and reused, and a new one resumes the thread's last session; verification is on by default: a
certificate for another name, one no trusted CA signed, an expired one, and an upstream that does not
speak TLS are each a 502 with the reason in the error log, and the server goes on serving;
SSLProxyVerify none and SSLProxyCheckPeerName Off relax what they say and nothing more;
SSLProxyCACertificateFile that does not load is a file:line error of mpmd -t.

Client certificates (SSLProxyMachineCertificateFile): an upstream that requires one gets the
configured certificate with its chain (the upstream trusts only the root), refuses a request
without one or with one from another CA (502, the reason in the error log); a file that is missing,
holds no key, a key that does not match, or an expired certificate is a file:line error of mpmd -t,
in every MPM (perchild checks it in a child of its supervisor: test_perchild_proxy.py).

ProxyPreserveHost On (Apache's rule): the client's Host, without its port, is the SNI and the name
the certificate must carry; a Host the certificate does not cover is a 502, an IP address sends no
SNI and is checked as an address; a pooled connection verified for one name never serves another.
"""
import base64
import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import unittest

import mpmdtest
from mpmdtest import BINARY, MPM, Server, build_has_tls, free_port, make_cert, read_response
from upstream_server import Upstream, ws_accept, ws_frame, ws_read_frame

NO_TLS = "" if build_has_tls() else "this mpmd was built without TLS (-Dtls=disabled, or no libssl-dev)"
# One event loop per process: every request of a test goes through one upstream pool (and one
# thread's session cache).
ONE_LOOP = MPM in ("event",)
MPM_SECTIONS = {
    "event": "[event]\nStartServers = 1\n",
    "worker": "[worker]\nStartServers = 1\nServerLimit = 1\nThreadsPerChild = 8\nMaxRequestWorkers = 8\n"
              "MinSpareThreads = 1\nMaxSpareThreads = 8\n",
    "prefork": "[prefork]\nStartServers = 2\nMinSpareServers = 1\nMaxSpareServers = 4\nMaxRequestWorkers = 8\n",
}


def server_context(cert, key, client_ca=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(client_ca)
    return ctx


def openssl(*args):
    p = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)}: {p.stderr}")


def make_client_chain(directory, tag):
    """A root CA, an intermediate CA it signed, and a client certificate (CN mpmd-TAG) the
    intermediate signed. Returns (root certificate, machine file: the client certificate, the
    intermediate and the key in one PEM file, as SSLProxyMachineCertificateFile takes it, mode 0600)."""
    base = os.path.join(directory, tag)
    ext = base + ".ext"
    with open(ext, "w") as f:
        f.write("[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
                "[client]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=clientAuth\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", base + "-root.key", "-out", base + "-root.crt", "-days", "30",
            "-subj", f"/CN={tag} root CA")
    for name, signer, section in (("inter", "root", "ca"), ("client", "inter", "client")):
        openssl("req", "-new", *ec, "-keyout", f"{base}-{name}.key", "-out", f"{base}-{name}.csr",
                "-subj", f"/CN=mpmd-{tag}" if name == "client" else f"/CN={tag} intermediate CA")
        openssl("x509", "-req", "-in", f"{base}-{name}.csr", "-CA", f"{base}-{signer}.crt", "-CAkey",
                f"{base}-{signer}.key", "-CAcreateserial", "-out", f"{base}-{name}.crt", "-days", "30",
                "-extfile", ext, "-extensions", section)
    machine = base + "-machine.pem"
    with open(machine, "w") as out:
        for part in ("client.crt", "inter.crt", "client.key"):
            with open(f"{base}-{part}") as f:
                out.write(f.read())
    os.chmod(machine, 0o600)  # the supervisor reads it; the workers never open it
    return base + "-root.crt", machine


class PlainHttpServer:
    """An HTTP server without TLS, as nginx or Apache answer a ClientHello on a plain port: a 400 in
    plain text, then the close."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with c:
                c.settimeout(5)
                try:
                    c.recv(4096)
                    c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

    def stop(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def echo_of(r):
    if r.status != 200:
        raise AssertionError(f"expected the upstream's echo, got {r.status}: {r.body[:300]!r}")
    return json.loads(r.body)


def run_t(conf):
    p = subprocess.run([BINARY, "-t", "-f", conf], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


@unittest.skipIf(NO_TLS, NO_TLS)
class ProxyTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="mpmd-proxy-tls-")
        os.chmod(cls.dir, 0o755)
        good = make_cert(cls.dir, ["localhost", "127.0.0.1"], tag="good")
        other = make_cert(cls.dir, ["other.test"], tag="other")
        # Subjects of their own: a CA file is searched by subject, and one trusted certificate
        # would hide another of the same subject.
        expired = make_cert(cls.dir, ["expired.localhost", "localhost"], expired=True, tag="expired")
        untrusted = make_cert(cls.dir, ["localhost"], tag="untrusted")
        named = make_cert(cls.dir, ["pres.test", "pres-alt.test", "127.0.0.1"], tag="named")
        cls.client_root, cls.machine = make_client_chain(cls.dir, "client")
        _, cls.wrong_machine = make_client_chain(cls.dir, "stranger")
        cls.ca = os.path.join(cls.dir, "ca.pem")
        with open(cls.ca, "w") as out:
            for c in (good[0], other[0], expired[0], named[0]):
                with open(c) as f:
                    out.write(f.read())
        os.chmod(cls.ca, 0o644)
        cls.ups = {}
        try:
            cls.ups = {
                "good": Upstream(tls=server_context(*good)),
                "other": Upstream(tls=server_context(*other)),
                "expired": Upstream(tls=server_context(*expired)),
                "untrusted": Upstream(tls=server_context(*untrusted)),
                "plain": PlainHttpServer(),
                "unix": Upstream(unix_path=os.path.join(cls.dir, "up.sock"), tls=server_context(*good)),
                "mtls": Upstream(tls=server_context(*good, client_ca=cls.client_root)),
                "named": Upstream(tls=server_context(*named)),
            }
            u = {k: v.port for k, v in cls.ups.items()}
            conf = (f"SSLProxyCACertificateFile = {cls.ca}\n"
                    f"ProxyPass = /s/ https://localhost:{u['good']}/up/\n"
                    f"ProxyPass = /ip/ https://127.0.0.1:{u['good']}/up/\n"
                    f"ProxyPass = /fresh/ https://localhost:{u['good']}/up/ disablereuse=On\n"
                    f"ProxyPass = /ws/ https://localhost:{u['good']}/up/ws/ upgrade=websocket\n"
                    f"ProxyPass = /sock/ unix:{cls.ups['unix'].unix_path}|https://localhost/up/\n"
                    f"ProxyPass = /other/ https://localhost:{u['other']}/up/\n"
                    f"ProxyPass = /expired/ https://localhost:{u['expired']}/up/\n"
                    f"ProxyPass = /untrusted/ https://localhost:{u['untrusted']}/up/\n"
                    f"ProxyPass = /plain/ https://localhost:{u['plain']}/up/\n"
                    f"ProxyPass = /nocert/ https://localhost:{u['mtls']}/up/\n")
            vhosts = ("[VirtualHost lax]\nServerName = lax.test\nSSLProxyVerify = none\n"
                      f"ProxyPass = /untrusted/ https://localhost:{u['untrusted']}/up/\n\n"
                      "[VirtualHost anyname]\nServerName = anyname.test\nSSLProxyCheckPeerName = Off\n"
                      f"ProxyPass = /other/ https://localhost:{u['other']}/up/\n"
                      f"ProxyPass = /untrusted/ https://localhost:{u['untrusted']}/up/\n\n")
            vhosts += ("[VirtualHost client]\nServerName = client.test\n"
                       f"SSLProxyMachineCertificateFile = {cls.machine}\n"
                       f"ProxyPass = /c/ https://localhost:{u['mtls']}/up/\n"
                       # the same upstream, another client certificate: a context of its own
                       "[VirtualHost stranger]\nServerName = stranger.test\n"
                       f"SSLProxyMachineCertificateFile = {cls.wrong_machine}\n"
                       f"ProxyPass = /c/ https://localhost:{u['mtls']}/up/\n\n")
            # The URL names localhost, which the "named" certificate does not: only the Host can pass.
            vhosts += ("[VirtualHost pres]\nServerName = pres.test\n"
                       "ServerAlias = pres-alt.test pres-bad.test 127.0.0.1\nProxyPreserveHost = On\n"
                       f"ProxyPass = /p/ https://localhost:{u['named']}/up/\n\n")
            cls.srv = Server(server_keys=conf, mpm_section=MPM_SECTIONS.get(MPM, ""), vhosts=vhosts)
        except BaseException:
            for v in cls.ups.values():
                v.stop()
            shutil.rmtree(cls.dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        for v in cls.ups.values():
            v.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def get(self, path, host="localhost", method="GET", headers=""):
        return self.srv.get(path, host=host, method=method, headers=headers)

    def assert_refused(self, path, reason, host="localhost"):
        r = self.get(path, host=host)
        self.assertEqual(r.status, 502, r.body[:300])
        self.srv.wait_log(reason)
        # The server goes on serving, here and over TLS to the good upstream.
        self.assertEqual(self.get("/index.html").status, 200)
        self.assertEqual(self.get("/s/echo").status, 200)

    # -- requests over TLS ------------------------------------------------------------------------
    def test_a_request_reaches_the_upstream_over_tls_with_sni(self):
        up = self.ups["good"]
        up.reset()
        e = echo_of(self.get("/s/echo?x=1"))
        self.assertEqual(e["target"], "/up/echo?x=1")
        self.assertIn("localhost", up.tls_names)
        self.assertEqual(up.tls_failed, 0)
        self.assertIn(["Host", f"localhost:{up.port}"], [list(h) for h in e["headers"]])

    def test_an_ip_address_target_is_checked_as_an_address_and_sends_no_sni(self):
        up = self.ups["good"]
        before = list(up.tls_names)
        e = echo_of(self.get("/ip/echo"))
        self.assertEqual(e["target"], "/up/echo")
        self.assertNotIn("127.0.0.1", up.tls_names[len(before):])

    def test_a_unix_socket_https_target(self):
        up = self.ups["unix"]
        e = echo_of(self.get("/sock/echo"))
        self.assertEqual(e["target"], "/up/echo")
        self.assertIn("localhost", up.tls_names)

    def test_connections_are_kept_alive_and_reused(self):
        up = self.ups["good"]
        with self.srv.connect() as s:
            seen = []
            for i in range(6):
                s.sendall(f"GET /s/echo?n={i} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
                seen.append(echo_of(read_response(s)))
        self.assertGreater(max(e["conn_requests"] for e in seen), 1, "no upstream connection carried two requests")

    @unittest.skipUnless(ONE_LOOP, "one event loop holds every request's session cache only in the event MPM")
    def test_a_new_connection_resumes_the_session(self):
        up = self.ups["good"]
        before = up.tls_resumed
        for i in range(4):
            self.assertEqual(self.get(f"/fresh/echo?n={i}").status, 200)
        self.assertGreaterEqual(up.tls_resumed - before, 2, "new upstream connections did not resume the session")

    def test_bodies_stream_both_ways(self):
        n = 3 * 1024 * 1024 + 17
        r = self.get(f"/s/big?bytes={n}")
        self.assertEqual(r.status, 200)
        block = bytes(range(256)) * 256
        expect = (block * (n // len(block) + 1))[:n]
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), hashlib.sha256(expect).hexdigest())
        body = os.urandom(1024 * 1024 + 3)
        with self.srv.connect() as s:
            s.sendall(f"POST /s/upload?rate=100000000 HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(body)}\r\n"
                      "Connection: close\r\n\r\n".encode() + body)
            r = read_response(s)
        self.assertEqual(r.status, 200, r.body[:200])
        self.assertEqual(json.loads(r.body), {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()})
        # chunked, both ways
        with self.srv.connect() as s:
            s.sendall(b"POST /s/echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
                      b"Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
            e = echo_of(read_response(s))
        self.assertEqual(e["body"], "hello world")
        r = self.get("/s/chunked?n=7")
        self.assertEqual(r.status, 200)

    def test_websocket_over_tls(self):
        key = base64.b64encode(os.urandom(16)).decode()
        with socket.create_connection(("127.0.0.1", self.srv.port), timeout=10) as s:
            s.sendall(f"GET /ws/chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
            buf = b""
            while b"\r\n\r\n" not in buf:
                k = s.recv(4096)
                if not k:
                    break
                buf += k
            head, _, rest = buf.partition(b"\r\n\r\n")
            self.assertIn(b" 101 ", head.split(b"\r\n")[0], head)
            self.assertIn(f"sec-websocket-accept: {ws_accept(key)}".lower().encode(), head.lower())
            pending = [rest]

            def read_exact(n):
                while len(pending[0]) < n:
                    k = s.recv(65536)
                    if not k:
                        raise EOFError
                    pending[0] += k
                out, pending[0] = pending[0][:n], pending[0][n:]
                return out

            s.sendall(ws_frame(1, b"hello", mask=os.urandom(4)))
            self.assertEqual(ws_read_frame(read_exact)[:2], (1, b"hello"))
            big = os.urandom(70000)
            s.sendall(ws_frame(2, big, mask=os.urandom(4)))
            self.assertEqual(ws_read_frame(read_exact)[:2], (2, big))
            s.sendall(ws_frame(8, (1000).to_bytes(2, "big"), mask=os.urandom(4)))
            self.assertEqual(ws_read_frame(read_exact)[0], 8)

    # -- verification -----------------------------------------------------------------------------
    def test_a_certificate_for_another_name_is_502(self):
        self.assert_refused("/other/echo", r"(?i)upstream https://localhost:\d+/up/: the certificate was refused: "
                                           r"hostname mismatch")

    def test_an_expired_certificate_is_502(self):
        self.assert_refused("/expired/echo", r"(?i)upstream https://localhost:\d+/up/: the certificate was refused: "
                                             r"certificate has expired")

    def test_a_certificate_no_trusted_ca_signed_is_502(self):
        self.assertEqual(self.ups["untrusted"].requests_for("/up/"), [])
        self.assert_refused("/untrusted/echo", r"(?i)upstream https://localhost:\d+/up/: the certificate was refused: "
                                               r"self[- ]signed")
        self.assertEqual(self.ups["untrusted"].requests_for("/up/"), [], "a request went to an unverified upstream")

    def test_an_upstream_without_tls_is_502(self):
        self.assert_refused("/plain/echo", r"(?i)no TLS session with the upstream https://localhost:\d+/up/: .*"
                                           r"(wrong version number|packet length too long|record layer failure)")
        self.assertGreater(self.ups["plain"].connections, 0)

    def test_sslproxyverify_none_accepts_any_certificate(self):
        e = echo_of(self.get("/untrusted/echo", host="lax.test"))
        self.assertEqual(e["target"], "/up/echo")

    def test_sslproxycheckpeername_off_accepts_another_name_but_not_an_unknown_ca(self):
        e = echo_of(self.get("/other/echo", host="anyname.test"))
        self.assertEqual(e["target"], "/up/echo")
        self.assertEqual(self.get("/untrusted/echo", host="anyname.test").status, 502)

    # -- client certificates (SSLProxyMachineCertificateFile) ---------------------------------------
    def test_a_client_certificate_with_its_chain_is_accepted_by_an_upstream_that_requires_one(self):
        up = self.ups["mtls"]
        for i in range(3):
            e = echo_of(self.get(f"/c/echo?n={i}", host="client.test"))
            self.assertEqual(e["target"], f"/up/echo?n={i}")
            self.assertEqual(e["tls_client"], "mpmd-client")

    def test_without_a_client_certificate_an_upstream_that_requires_one_is_502(self):
        self.assert_refused("/nocert/echo", r"(?i)no TLS session with the upstream https://localhost:\d+/up/: the "
                                            r"upstream asks for a client certificate \(SSLProxyMachineCertificateFile\)")

    def test_a_client_certificate_of_another_ca_is_502(self):
        self.assert_refused("/c/echo", r"(?i)no TLS session with the upstream https://localhost:\d+/up/: the upstream "
                                       r"refused the client certificate .*unknown ca", host="stranger.test")
        # The other vhost's certificate still passes: each has its own context.
        self.assertEqual(echo_of(self.get("/c/echo", host="client.test"))["tls_client"], "mpmd-client")

    # -- ProxyPreserveHost: the Host is the SNI and the name checked ---------------------------------
    def test_preserved_host_is_the_sni_and_the_name_checked(self):
        e = echo_of(self.get("/p/echo", host="pres.test"))
        self.assertEqual(e["tls_name"], "pres.test")
        self.assertIn(["Host", "pres.test"], [list(h) for h in e["headers"]])
        # The port is not part of the name; case and a final dot do not make another one.
        e = echo_of(self.get("/p/echo", host="Pres-Alt.test:8443"))
        self.assertEqual(e["tls_name"], "pres-alt.test")
        self.assertIn(["Host", "Pres-Alt.test:8443"], [list(h) for h in e["headers"]])

    def test_a_preserved_host_the_certificate_does_not_name_is_502(self):
        self.assert_refused("/p/echo", r"(?i)no TLS session with the upstream https://localhost:\d+/up/ as pres-bad.test "
                                       r"\(ProxyPreserveHost\): the certificate was refused: hostname mismatch",
                            host="pres-bad.test")

    def test_a_preserved_ip_address_host_sends_no_sni_and_is_checked_as_an_address(self):
        e = echo_of(self.get("/p/echo", host=f"127.0.0.1:{self.srv.port}"))
        self.assertIsNone(e["tls_name"])

    def test_pooled_connections_never_cross_names(self):
        seen = {}
        with self.srv.connect() as s:
            for i in range(12):
                host = ("pres.test", "pres-alt.test", "pres-bad.test")[i % 3]
                s.sendall(f"GET /p/echo?n={i} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                r = read_response(s)
                if host == "pres-bad.test":
                    self.assertEqual(r.status, 502)
                    continue
                e = echo_of(r)
                self.assertEqual(e["tls_name"], host, f"request {i} for {host} went over a connection for another name")
                seen.setdefault(e["conn"], set()).add(host)
        self.assertTrue(all(len(v) == 1 for v in seen.values()), seen)
        if ONE_LOOP:
            self.assertLess(len(seen), 8, f"connections were not reused per name: {seen}")


@unittest.skipIf(NO_TLS, NO_TLS)
class ProxyTlsConfigTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mpmd-proxy-tls-t-")
        self.conf = os.path.join(self.dir, "mpmd.conf")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, keys):
        with open(self.conf, "w") as f:
            f.write(f"[Server]\nServerName = localhost\nListen = 127.0.0.1:{free_port()}\nDocumentRoot = {self.dir}\n"
                    f"{mpmdtest.load_module_line()}")
            user = mpmdtest.worker_user()
            if user:
                f.write(f"User = {user}\n")
            f.write(keys)

    def line_of(self, text):
        with open(self.conf) as f:
            for n, line in enumerate(f, 1):
                if text in line:
                    return n
        raise AssertionError(text)

    def test_a_ca_file_that_does_not_load_is_an_error_at_the_proxypass_line(self):
        bad = os.path.join(self.dir, "not-pem.txt")
        with open(bad, "w") as f:
            f.write("not a certificate\n")
        for ca in (os.path.join(self.dir, "missing.pem"), bad):
            self.write(f"SSLProxyCACertificateFile = {ca}\nProxyPass = /a/ https://localhost:8443/\n")
            rc, out = run_t(self.conf)
            self.assertNotEqual(rc, 0, out)
            line = self.line_of("ProxyPass")
            self.assertRegex(out, rf"(?m)^{re.escape(self.conf)}:{line}: .*SSLProxyCACertificateFile {re.escape(ca)}: "
                                  r"cannot load its CA certificates")

    def test_bad_values_are_errors_at_their_line(self):
        self.write("SSLProxyVerify = sometimes\nSSLProxyCheckPeerName = maybe\n")
        rc, out = run_t(self.conf)
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, rf"(?m)^{re.escape(self.conf)}:{self.line_of('SSLProxyVerify')}: .*require or none")
        self.assertRegex(out, rf"(?m)^{re.escape(self.conf)}:{self.line_of('SSLProxyCheckPeerName')}: .*On or Off")

    def test_a_good_configuration_passes_and_shows_the_settings(self):
        self.write("SSLProxyVerify = none\nProxyPass = /a/ https://localhost:8443/ max=4\n")
        rc, out = run_t(self.conf)
        self.assertEqual(rc, 0, out)

    def test_a_client_certificate_file_that_cannot_serve_is_an_error_at_its_line(self):
        good_cert, good_key = make_cert(self.dir, ["mpmd-client"], tag="client")
        other_cert, other_key = make_cert(self.dir, ["someone-else"], tag="else")
        old_cert, old_key = make_cert(self.dir, ["mpmd-old"], expired=True, tag="old")
        encrypted_key = os.path.join(self.dir, "encrypted.key")
        openssl("pkey", "-in", good_key, "-aes256", "-passout", "pass:secret", "-out", encrypted_key)

        def pem(name, *parts):
            path = os.path.join(self.dir, name)
            with open(path, "w") as out:
                for p in parts:
                    with open(p) as f:
                        out.write(f.read())
            return path

        cases = [
            (os.path.join(self.dir, "missing.pem"), "No such file or directory"),
            (pem("no-key.pem", good_cert), "holds no private key"),
            (pem("key-only.pem", good_key), "holds no PEM certificate"),
            (pem("mismatch.pem", good_cert, other_key), "its private key does not match its certificate"),
            (pem("two-keys.pem", good_cert, good_key, other_key), "more than one private key"),
            (pem("encrypted.pem", good_cert, encrypted_key), "encrypted with a pass phrase"),
            (pem("expired.pem", old_cert, old_key), "expired on 2020-02-01"),
        ]
        for path, why in cases:
            with self.subTest(why=why):
                self.write(f"SSLProxyMachineCertificateFile = {path}\nProxyPass = /a/ https://localhost:8443/\n"
                           "ProxyPass = /b/ https://localhost:8444/\n")
                rc, out = run_t(self.conf)
                self.assertNotEqual(rc, 0, out)
                line = self.line_of("SSLProxyMachineCertificateFile")
                m = re.findall(rf"(?m)^{re.escape(self.conf)}:{line}: \[Server\] SSLProxyMachineCertificateFile: "
                               rf"{re.escape(path)}:? .*{why}", out)
                self.assertEqual(len(m), 1, out)  # once, however many targets need it

        # Good: the certificate, then its key (either order), and a relative path is refused.
        self.write(f"SSLProxyMachineCertificateFile = {pem('good.pem', good_key, good_cert)}\n"
                   "ProxyPass = /a/ https://localhost:8443/\n")
        rc, out = run_t(self.conf)
        self.assertEqual(rc, 0, out)
        self.write("SSLProxyMachineCertificateFile = client.pem\n")
        rc, out = run_t(self.conf)
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, rf"(?m)^{re.escape(self.conf)}:{self.line_of('SSLProxyMachineCertificateFile')}: "
                              r".*not an absolute path")


if __name__ == "__main__":
    unittest.main()
