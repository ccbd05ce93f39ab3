# SPDX-License-Identifier: MIT
"""HTTPS under perchild (issue 20, routing by SNI): the dispatcher peeks the ClientHello of a shared
`Listen = https://…` (MSG_PEEK, never a byte consumed, never a key held), hands the connection to the
pool of the site its SNI names, and that pool does the handshake with its own store. ClientHellos in
1-byte TCP segments and across several TLS records (re-framed from python's ssl through a MemoryBIO,
the handshake finished through the same BIO), a 1.7 KB one; an unknown name with and without
DefaultSite, no name; a malformed and a >16 KB hello closed and counted (mpmctl status and
server-status); a hello that never completes closed at the header deadline; 421 for another site's
Host over TLS; sites on dedicated https sockets, served by their pool alone; session resumption per
site across `mpmctl reload`, and a ticket of a.test refused by b.test (a full handshake).

Needs root (site users, mpmd started as root) and a build with the perchild MPM and TLS."""
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from mpmdtest import (Server, build_has_tls, cert_bundle, cert_fingerprint, client_hello, free_port, make_cert,
                      read_response, remove_users, tls_context, tls_get, TlsPump, wait_for)
from test_perchild import MPMCTL, SITE_USERS, create_users, load_line, perchild_available, unit_bounding_set

REQUEST = "GET /index.html HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"


class PerchildTlsServer(Server):
    """perchild as root with a control socket and the main server (localhost) plus sites a.test and
    b.test, each a pool of its own user with a certificate of its own. shared: the sites are reached
    on the [Server] listeners (a plain one, self.port, and https, self.tls_port), through the
    dispatcher; otherwise each has a dedicated https socket (self.site_ports) only its pool holds."""

    def __init__(self, certs, shared=True, perchild_keys=""):
        super().__init__(start=False)
        self.bounding_set = unit_bounding_set()  # started as the shipped unit starts it
        self.tls_port = free_port()
        self.site_ports = {"a": free_port(), "b": free_port()}
        self.control = os.path.join(self.dir, "control")
        roots = {}
        for name, user in zip(("a", "b"), SITE_USERS):
            root = os.path.join(self.dir, name)
            os.mkdir(root)
            os.chmod(root, 0o755)
            with open(os.path.join(root, "index.html"), "w") as f:
                f.write(f"site {name}\n")
            os.chmod(os.path.join(root, "index.html"), 0o644)
            roots[name] = root
        with open(self.conf, "w") as f:
            f.write(f"[Server]\nServerName = localhost\nListen = 127.0.0.1:{self.port} https://127.0.0.1:{self.tls_port}\n"
                    f"DocumentRoot = {self.root}\nErrorLog = {self.log}\nLogLevel = debug\nUser = nobody\n"
                    f"ControlSocket = {self.control}\nServerStatus = /server-status\nServerStatusAllow = 127.0.0.0/8\n"
                    # a short header deadline for a hello that stops; MinRate lets a slow one go on
                    "RequestReadTimeout = header=2-20,MinRate=100\n"
                    f"SSLCertificateFile = {certs.main[0]}\nSSLCertificateKeyFile = {certs.main[1]}\n"
                    f"{load_line()}\n[perchild]\nStartServers = 1\n{perchild_keys}")
            for name, user in zip(("a", "b"), SITE_USERS):
                cert, key = getattr(certs, name)
                listen = "" if shared else f"Listen = https://127.0.0.1:{self.site_ports[name]}\n"
                f.write(f"\n[VirtualHost {name}]\nServerName = {name}.test\nDocumentRoot = {roots[name]}\n"
                        f"User = {user}\nGroup = {user}\n{listen}"
                        f"SSLCertificateFile = {cert}\nSSLCertificateKeyFile = {key}\n")

    def mpmctl(self, *args):
        p = subprocess.run([MPMCTL, "-s", self.control, *args], capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout + p.stderr

    def counters(self):
        """The dispatchers' counters as `mpmctl status` shows them."""
        rc, out = self.mpmctl("status")
        if rc != 0:
            raise AssertionError(out)
        refused = re.search(r"^tls hellos refused: (\d+)$", out, re.M)
        unrecognized = re.search(r"^tls names unrecognized: (\d+)$", out, re.M)
        if not refused or not unrecognized:
            raise AssertionError(out)
        return int(refused.group(1)), int(unrecognized.group(1))

    def status_auto(self, key=None, at_least=0):
        """server-status?auto as a dict, once its key shows at least at_least (published each second)."""
        got = {}

        def fresh():
            got.update(self._status_auto())
            return key is None or int(got.get(key, -1)) >= at_least
        wait_for(lambda: fresh() and got.get("Processes", "0") != "0", what=f"server-status with {key} >= {at_least}")
        return got

    def _status_auto(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(b"GET /server-status?auto HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            r = read_response(s)
        return dict(line.split(": ", 1) for line in r.body.decode().splitlines() if ": " in line)


class Certs:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mpmd-ptls-certs-")
        os.chmod(self.dir, 0o755)
        self.main = make_cert(self.dir, ["localhost"], "ec")
        self.a = make_cert(self.dir, ["a.test"], "ec")
        self.b = make_cert(self.dir, ["b.test"], "ec")
        self.bundle = cert_bundle(self.dir, [self.main[0], self.a[0], self.b[0]])

    def fingerprint(self, name):
        return cert_fingerprint(getattr(self, name)[0])


def reframe(hello, size):
    """The handshake message of a ClientHello (one record, as python's ssl writes it) re-framed into
    records of at most size bytes of fragment each: the same message, so the transcript is the same."""
    assert hello[0] == 22 and len(hello) == 5 + int.from_bytes(hello[3:5], "big"), "one record"
    message = hello[5:]
    return b"".join(hello[:3] + len(message[i:i + size]).to_bytes(2, "big") + message[i:i + size]
                    for i in range(0, len(message), size))


def request_with_hello(port, raw, hello_bytes, obj, incoming, outgoing, segment=None, delay=0.001, timeout=30):
    """Send hello_bytes (the ClientHello of obj, framed as the caller chose) in TCP segments of segment
    bytes (None: at once), finish the handshake through obj's BIOs and send raw: (response, obj)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        step = segment or len(hello_bytes)
        for i in range(0, len(hello_bytes), step):
            s.send(hello_bytes[i:i + step])
            if segment:
                time.sleep(delay)
        pump = TlsPump(s, obj, incoming, outgoing)
        pump.handshake()
        pump.sendall(raw.encode())
        return read_response(pump, timeout=timeout), obj


def big_alpn_context(n, length):
    """A client context offering n ALPN names of length bytes (and http/1.1): a ClientHello as long as
    one with post-quantum key shares, or longer."""
    ctx = tls_context()
    ctx.set_alpn_protocols([f"p{i:03d}".ljust(length, "x") for i in range(n)] + ["http/1.1"])
    return ctx


def closed_unanswered(port, data, timeout=10):
    """Send data and read to the end: True when the server closed without sending a byte."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        got = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except ConnectionResetError:
            pass
        return got == b""


def tls_alert(port, sni):
    """The ssl error a handshake with sni ends in (None when it completes)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with tls_context().wrap_socket(raw, server_hostname=sni):
                return None
    except ssl.SSLError as e:
        return str(e)


def sessions_of(port, sni, maximum):
    """Make a session on a connection to sni (the response read, so TLS 1.3's tickets are in it)."""
    ctx = tls_context(maximum=maximum)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni) as s:
            s.sendall(REQUEST.format(host=sni).encode())
            r = read_response(s)
            assert r.status == 200, r.status
            return ctx, s.session


def offer(ctx, session, port, sni):
    """Offer session to sni: (reused, the body, the certificate's fingerprint)."""
    import hashlib
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni, session=session) as s:
            s.sendall(REQUEST.format(host=sni).encode())
            r = read_response(s)
            return s.session_reused, r.body, hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


def needs_perchild_tls(cls):
    for ok, why in ((os.geteuid() == 0, "needs root: creates users and starts mpmd as root"),
                    (shutil.which("setpriv") and shutil.which("useradd"), "needs setpriv and useradd"),
                    (perchild_available(), "mpmd was built without the perchild MPM"),
                    (build_has_tls(), "mpmd was built without TLS")):
        cls = unittest.skipUnless(ok, why)(cls)
    return cls


class PerchildTlsCase(unittest.TestCase):
    """The users, certificates and server of one class of these tests: server_args says which."""
    server_args = {}

    @classmethod
    def setUpClass(cls):
        cls.created = create_users()
        cls.certs = Certs()
        cls.srv = PerchildTlsServer(cls.certs, **cls.server_args)
        try:
            cls.srv.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        remove_users(cls.created)
        shutil.rmtree(cls.certs.dir, ignore_errors=True)


@needs_perchild_tls
class PerchildTlsSharedTest(PerchildTlsCase):
    """Two sites and the main server behind one shared https socket: the dispatcher routes by SNI."""

    def get(self, sni, host=None, **kw):
        return tls_get(self.srv.tls_port, "/index.html", sni=sni, host=host, cafile=self.certs.bundle, **kw)

    def test_each_name_reaches_its_sites_pool_with_its_certificate(self):
        for sni, body, cert in (("a.test", b"site a\n", "a"), ("b.test", b"site b\n", "b"),
                                ("localhost", b"<h1>hello</h1>\n", "main"), ("A.TEST", b"site a\n", "a")):
            r = self.get(sni)
            self.assertEqual((r.status, r.body), (200, body), sni)
            self.assertEqual(r.fingerprint, self.certs.fingerprint(cert), sni)
        # Several requests on one kept-alive connection, and the plain socket beside it.
        with socket.create_connection(("127.0.0.1", self.srv.tls_port), timeout=10) as raw:
            with tls_context(self.certs.bundle).wrap_socket(raw, server_hostname="b.test") as s:
                for _ in range(3):
                    s.sendall(b"GET /index.html HTTP/1.1\r\nHost: b.test\r\n\r\n")
                    r = read_response(s)
                    self.assertEqual((r.status, r.body), (200, b"site b\n"))
        with socket.create_connection(("127.0.0.1", self.srv.port), timeout=10) as s:
            s.sendall(REQUEST.format(host="a.test").encode())
            self.assertEqual(read_response(s).body, b"site a\n")

    def test_the_status_page_counts_handshakes_and_shows_the_dispatcher_counters(self):
        self.get("a.test")
        st = self.srv.status_auto()
        for key in ("TLSConns", "TLSHellosRefused", "TLSNamesUnrecognized"):
            self.assertIn(key, st)
        self.assertGreaterEqual(int(st["TLSConns"]), 1)

    def test_hello_in_one_byte_segments(self):
        obj, incoming, outgoing, hello = client_hello("a.test")
        r, obj = request_with_hello(self.srv.tls_port, REQUEST.format(host="a.test"), hello, obj, incoming, outgoing,
                                    segment=1)
        self.assertEqual((r.status, r.body), (200, b"site a\n"))

    def test_hello_across_several_records(self):
        for size in (1, 7, 100):
            obj, incoming, outgoing, hello = client_hello("b.test")
            framed = reframe(hello, size)
            self.assertGreater(len(framed), len(hello))
            r, obj = request_with_hello(self.srv.tls_port, REQUEST.format(host="b.test"), framed, obj, incoming,
                                        outgoing)
            self.assertEqual((r.status, r.body), (200, b"site b\n"), size)

    def test_long_hello_in_records_and_one_byte_segments(self):
        obj, incoming, outgoing, hello = client_hello("a.test", big_alpn_context(52, 24))
        self.assertTrue(1500 <= len(hello) <= 1800, len(hello))
        r, obj = request_with_hello(self.srv.tls_port, REQUEST.format(host="a.test"), hello, obj, incoming, outgoing)
        self.assertEqual((r.status, r.body), (200, b"site a\n"))
        self.assertEqual(obj.selected_alpn_protocol(), "http/1.1")
        # The same size re-framed into records of 500 bytes, sent a byte at a time.
        obj, incoming, outgoing, hello = client_hello("a.test", big_alpn_context(52, 24))
        r, obj = request_with_hello(self.srv.tls_port, REQUEST.format(host="a.test"), reframe(hello, 500), obj,
                                    incoming, outgoing, segment=1, delay=0.0005)
        self.assertEqual((r.status, r.body), (200, b"site a\n"))

    def test_unknown_name_and_no_name_without_default_site_get_unrecognized_name(self):
        before = self.srv.counters()
        self.assertIn("UNRECOGNIZED_NAME", tls_alert(self.srv.tls_port, "nobody.test") or "completed")
        self.assertIn("UNRECOGNIZED_NAME", tls_alert(self.srv.tls_port, None) or "completed")
        wait_for(lambda: self.srv.counters()[1] >= before[1] + 2, what="two unrecognized names counted")
        self.assertEqual(self.srv.counters()[0], before[0], "an unknown name is no malformed hello")

    def test_malformed_and_oversized_hellos_are_closed_and_counted(self):
        before = self.srv.counters()[0]
        obj, incoming, outgoing, hello = client_hello("a.test")
        bad_version = hello[:9] + b"\x02\x00" + hello[11:]  # legacy_version 2.0
        too_long = b"\x16\x03\x01\x40\x00\x01" + (16385).to_bytes(3, "big") + b"\x03\x03" + b"\x00" * 100
        cases = [b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", bad_version, too_long, b"\x16\x03\x01\x00\x00"]
        for data in cases:
            self.assertTrue(closed_unanswered(self.srv.tls_port, data), data[:12])
        # A real client's hello of more than 16 KB (80 ALPN names of 250 bytes), in two records.
        obj, incoming, outgoing, hello = client_hello("a.test", big_alpn_context(80, 250))
        self.assertGreater(len(hello), 16384 + 5)
        self.assertTrue(closed_unanswered(self.srv.tls_port, hello))
        wait_for(lambda: self.srv.counters()[0] >= before + len(cases) + 1, what="the refused hellos counted")
        self.srv.status_auto("TLSHellosRefused", before + len(cases) + 1)

    def test_a_hello_that_never_completes_is_closed_at_the_deadline(self):
        before = self.srv.counters()[0]
        obj, incoming, outgoing, hello = client_hello("a.test")
        with socket.create_connection(("127.0.0.1", self.srv.tls_port), timeout=30) as s:
            s.sendall(hello[:40])
            start = time.monotonic()
            try:
                self.assertEqual(s.recv(100), b"")
            except ConnectionResetError:
                pass  # closed with the bytes unread: a reset, still no answer
            waited = time.monotonic() - start
        self.assertGreater(waited, 1.0)
        self.assertLess(waited, 15)
        wait_for(lambda: self.srv.counters()[0] >= before + 1, what="the stalled hello counted")

    def test_another_sites_host_over_tls_gets_421(self):
        for sni, host in (("a.test", "b.test"), ("a.test", "localhost"), ("b.test", "a.test"), ("a.test", "nobody.test")):
            r = self.get(sni, host=host)
            self.assertEqual(r.status, 421, (sni, host))
        # A request without Host goes to the site SNI chose.
        with socket.create_connection(("127.0.0.1", self.srv.tls_port), timeout=10) as raw:
            with tls_context(self.certs.bundle).wrap_socket(raw, server_hostname="b.test") as s:
                s.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
                self.assertEqual(read_response(s).body, b"site b\n")

    def test_resumption_per_site_across_a_reload_and_a_ticket_of_a_refused_by_b(self):
        for maximum in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            ctx, sess = sessions_of(self.srv.tls_port, "a.test", maximum)
            reused, body, _ = offer(ctx, sess, self.srv.tls_port, "a.test")
            self.assertEqual((reused, body), (True, b"site a\n"), maximum)
            reused, body, cert = offer(ctx, sess, self.srv.tls_port, "b.test")
            self.assertEqual((reused, body), (False, b"site b\n"), maximum)
            self.assertEqual(cert, self.certs.fingerprint("b"))
            ctx, sess = sessions_of(self.srv.tls_port, "a.test", maximum)
            rc, out = self.srv.mpmctl("reload")
            self.assertEqual(rc, 0, out)
            reused, body, _ = offer(ctx, sess, self.srv.tls_port, "a.test")
            self.assertEqual((reused, body), (True, b"site a\n"), maximum)


@needs_perchild_tls
class PerchildTlsDefaultSiteTest(PerchildTlsCase):
    """DefaultSite = b: a name no site has, or none, goes to b's pool."""
    server_args = {"perchild_keys": "DefaultSite = b\n"}

    def test_unknown_name_and_no_name_go_to_the_default_site(self):
        before = self.srv.counters()
        for sni, host in (("nobody.test", "nobody.test"), (None, "nobody.test"), ("nobody.test", "b.test")):
            r = tls_get(self.srv.tls_port, "/index.html", sni=sni, host=host)
            self.assertEqual((r.status, r.body), (200, b"site b\n"), (sni, host))
        # Known names keep their own sites; another site's Host on b's connection is not b's.
        self.assertEqual(tls_get(self.srv.tls_port, "/index.html", sni="a.test").body, b"site a\n")
        self.assertEqual(tls_get(self.srv.tls_port, "/index.html", sni="nobody.test", host="a.test").status, 421)
        self.assertEqual(self.srv.counters(), before, "nothing refused")

    def test_unknown_name_gets_the_default_sites_certificate(self):
        # The certificate shown for a name no site has is DefaultSite's: its pool's store holds
        # that site's keys only (key custody) and picks it by the dispatcher's rule.
        r = tls_get(self.srv.tls_port, "/index.html", sni="nobody.test", host="nobody.test")
        self.assertEqual(r.fingerprint, self.certs.fingerprint("b"))


@needs_perchild_tls
class PerchildTlsDedicatedTest(PerchildTlsCase):
    """Each site on an https socket of its own: accepted by its pool, no dispatcher in the way."""
    server_args = {"shared": False}

    def test_each_dedicated_socket_serves_its_site(self):
        for name in ("a", "b"):
            port = self.srv.site_ports[name]
            for sni in (f"{name}.test", None):
                r = tls_get(port, "/index.html", sni=sni, host=f"{name}.test", cafile=self.certs.bundle)
                self.assertEqual((r.status, r.body), (200, f"site {name}\n".encode()), (name, sni))
                self.assertEqual(r.fingerprint, self.certs.fingerprint(name))
            obj, incoming, outgoing, hello = client_hello(f"{name}.test")
            r, obj = request_with_hello(port, REQUEST.format(host=f"{name}.test"), reframe(hello, 50), obj, incoming,
                                        outgoing, segment=1)
            self.assertEqual(r.body, f"site {name}\n".encode())
        # The other site's name on a's socket: Apache's rule there, as for plain HTTP (only a is
        # reached on it, and b's pool never sees the connection).
        r = tls_get(self.srv.site_ports["a"], "/index.html", sni="a.test", host="b.test")
        self.assertEqual((r.status, r.body), (200, b"site a\n"))

    def test_resumption_across_a_reload_on_a_dedicated_socket(self):
        port = self.srv.site_ports["a"]
        ctx, sess = sessions_of(port, "a.test", ssl.TLSVersion.TLSv1_3)
        rc, out = self.srv.mpmctl("reload")
        self.assertEqual(rc, 0, out)
        reused, body, _ = offer(ctx, sess, port, "a.test")
        self.assertEqual((reused, body), (True, b"site a\n"))
        # a's ticket on b's socket: a full handshake with b's certificate.
        reused, body, cert = offer(ctx, sess, self.srv.site_ports["b"], "b.test")
        self.assertEqual((reused, body, cert), (False, b"site b\n", self.certs.fingerprint("b")))


if __name__ == "__main__":
    unittest.main()
