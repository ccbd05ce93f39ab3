# SPDX-License-Identifier: MIT
"""The PROXY protocol under perchild (RemoteIPProxyProtocol, issue 18): the dispatcher closes a peer
not in RemoteIPTrustedProxy before reading a byte, learns the header's length from what it peeked,
routes by the Host (or, on https, the SNI) that follows it and hands the connection on with the
header still unread; the site's pool takes it as the other MPMs do, so the access log's %a and a CGI
program's REMOTE_ADDR are the header's client. v1 and v2 headers written by hand, 1-byte segments, a
malformed header and none at all (closed unanswered, and counted: `mpmctl status`'s proxy refused),
a header and then nothing (a silent close at the head deadline), DispatcherConnectionsPerClient not
applied to the proxy, a site's dedicated PROXY socket (its pool accepts it itself), and HTTPS after
the header.

Needs root (site users, mpmd started as root) and a build with the perchild MPM; the https cases
need TLS too."""
import os
import pwd
import re
import shutil
import socket
import subprocess
import time
import unittest

from mpmdtest import (Server, TlsPump, build_has_tls, client_hello, free_port, read_response, remove_users, tls_context,
                      wait_for)
from test_perchild import MPMCTL, SITE_USERS, create_users, load_line, perchild_available, unit_bounding_set
from test_remote_ip import exchange, v1, v2

ADDR_CGI = "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n%s %s\\n' \"$REMOTE_ADDR\" \"$REMOTE_PORT\"\n"


def req(path, host, extra=b""):
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n".encode() + extra + b"\r\n"


class PerchildProxyServer(Server):
    """perchild as root: the main server and sites a.test and b.test (each a pool of its own user with
    its own access log, "%a %U %>s"; a has a CGI program printing REMOTE_ADDR and REMOTE_PORT) behind
    the shared PROXY socket self.port, the shared https PROXY socket self.tls_port (with TLS), a
    shared plain socket self.plain_port, and b's dedicated PROXY socket self.port_b."""

    def __init__(self, certs=None):
        super().__init__(start=False)
        self.bounding_set = unit_bounding_set()  # started as the shipped unit starts it
        self.plain_port = free_port()
        self.port_b = free_port()
        self.tls_port = free_port() if certs else None
        self.roots, self.logs = {}, {}
        cgi = os.path.join(self.dir, "cgi")
        os.mkdir(cgi)
        os.chmod(cgi, 0o755)
        with open(os.path.join(cgi, "addr"), "w") as f:
            f.write(ADDR_CGI)
        os.chmod(os.path.join(cgi, "addr"), 0o755)
        for name, user in zip(("a", "b"), SITE_USERS):
            pw = pwd.getpwnam(user)
            root = os.path.join(self.dir, name)
            os.mkdir(root)
            os.chmod(root, 0o755)
            with open(os.path.join(root, "index.html"), "w") as f:
                f.write(f"site {name}\n")
            os.chmod(os.path.join(root, "index.html"), 0o644)
            logs = os.path.join(self.dir, f"logs-{name}")
            os.mkdir(logs)
            os.chown(logs, pw.pw_uid, pw.pw_gid)
            os.chmod(logs, 0o755)
            self.roots[name] = root
            self.logs[name] = os.path.join(logs, "access.log")
        proxied = [f"127.0.0.1:{self.port}", f"127.0.0.1:{self.port_b}"]
        listen = f"127.0.0.1:{self.port} 127.0.0.1:{self.plain_port}"
        tls = ""
        if certs:
            proxied.append(f"https://127.0.0.1:{self.tls_port}")
            listen += f" https://127.0.0.1:{self.tls_port}"
            tls = f"SSLCertificateFile = {certs.main[0]}\nSSLCertificateKeyFile = {certs.main[1]}\n"
        self.control = os.path.join(self.dir, "control")
        with open(self.conf, "w") as f:
            f.write(f"[Server]\nServerName = localhost\nListen = {listen}\nDocumentRoot = {self.root}\n"
                    f"ErrorLog = {self.log}\nLogLevel = debug\nUser = nobody\nControlSocket = {self.control}\n"
                    f"RemoteIPProxyProtocol = {' '.join(proxied)}\nRemoteIPTrustedProxy = 127.0.0.1\n"
                    # a short header deadline for a connection that sends its header and stops
                    "RequestReadTimeout = header=2\n"
                    f"{tls}{load_line()}\n[perchild]\nStartServers = 1\nDispatcherConnectionsPerClient = 2\n")
            for name, user in zip(("a", "b"), SITE_USERS):
                f.write(f"\n[VirtualHost {name}]\nServerName = {name}.test\nDocumentRoot = {self.roots[name]}\n"
                        f"User = {user}\nGroup = {user}\nCustomLog = {self.logs[name]} \"%a %U %>s\"\n")
                # Both on the shared sockets (a site naming a socket takes it from those that do
                # not), b on one of its own too.
                if name == "a":
                    f.write(f"Listen = {listen}\nScriptAlias = /cgi-bin/ {cgi}\n")
                else:
                    f.write(f"Listen = {listen} 127.0.0.1:{self.port_b}\n")
                if certs:
                    cert, key = getattr(certs, name)
                    f.write(f"SSLCertificateFile = {cert}\nSSLCertificateKeyFile = {key}\n")

    def refused(self):
        """The dispatchers' PROXY refusals as `mpmctl status` shows them."""
        p = subprocess.run([MPMCTL, "-s", self.control, "status"], capture_output=True, text=True, timeout=60)
        m = re.search(r"^proxy refused: (\d+)$", p.stdout, re.M)
        if p.returncode != 0 or not m:
            raise AssertionError(p.stdout + p.stderr)
        return int(m.group(1))

    def logged(self, site, path):
        """(client, status) of the access log line of path in site's log (each test its own path)."""
        def find():
            try:
                with open(self.logs[site]) as f:
                    for line in f:
                        client, p, status = line.split()
                        if p == path:
                            return client, int(status)
            except OSError:
                pass
            return None
        return wait_for(find, timeout=10, what=f"the access log line of {path} in site {site}'s log")


def body_of(out):
    return out.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in out else b""


@unittest.skipUnless(os.geteuid() == 0, "needs root: creates users and starts mpmd as root")
@unittest.skipUnless(shutil.which("setpriv") and shutil.which("useradd"), "needs setpriv and useradd")
@unittest.skipUnless(perchild_available(), "mpmd was built without the perchild MPM")
class PerchildRemoteIpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.created = create_users()
        cls.certs = None
        if build_has_tls():
            from test_perchild_tls import Certs
            cls.certs = Certs()
        cls.srv = PerchildProxyServer(cls.certs)
        try:
            cls.srv.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        remove_users(cls.created)
        if cls.certs:
            shutil.rmtree(cls.certs.dir, ignore_errors=True)

    def test_v2_header_routes_by_host_and_names_the_client(self):
        for site, client in (("a", "192.0.2.8"), ("b", "192.0.2.9")):
            out = exchange(self.srv.port, v2(client, 4243) + req("/index.html", f"{site}.test"))
            self.assertTrue(out.startswith(b"HTTP/1.1 200 "), out[:300])
            self.assertEqual(body_of(out), f"site {site}\n".encode())
            out = exchange(self.srv.port, v2(client, 4243) + req(f"/v2-{site}", f"{site}.test"))
            self.assertTrue(out.startswith(b"HTTP/1.1 404 "), out[:300])
            self.assertEqual(self.srv.logged(site, f"/v2-{site}"), (client, 404))

    def test_v1_header_names_the_client(self):
        out = exchange(self.srv.port, v1("198.51.100.4", 5555) + req("/v1-b", "b.test"))
        self.assertTrue(out.startswith(b"HTTP/1.1 404 "), out[:300])
        self.assertEqual(self.srv.logged("b", "/v1-b"), ("198.51.100.4", 404))

    def test_cgi_sees_the_client(self):
        with socket.create_connection(("127.0.0.1", self.srv.port), timeout=10) as s:
            s.sendall(v2("192.0.2.33", 3333) + req("/cgi-bin/addr", "a.test"))
            r = read_response(s)
        self.assertEqual((r.status, r.body), (200, b"192.0.2.33 3333\n"), "the header's client and port are REMOTE_ADDR/PORT")
        # v1, and keep-alive: the second request on the connection still has the header's client
        with socket.create_connection(("127.0.0.1", self.srv.port), timeout=10) as s:
            s.sendall(v1("198.51.100.77", 7070) + b"GET /cgi-bin/addr HTTP/1.1\r\nHost: a.test\r\n\r\n")
            self.assertEqual(read_response(s).body, b"198.51.100.77 7070\n")
            s.sendall(b"GET /cgi-bin/addr HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
            self.assertEqual(read_response(s).body, b"198.51.100.77 7070\n")

    def test_header_and_head_in_1_byte_segments(self):
        for name, header in (("v1", v1("198.51.100.5", 5151)), ("v2", v2("192.0.2.55", 5252))):
            data = header + req(f"/split-{name}", "a.test")
            with socket.create_connection(("127.0.0.1", self.srv.port), timeout=10) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for i in range(len(data)):
                    s.sendall(data[i:i + 1])
                    time.sleep(0.002)
                r = read_response(s)
            self.assertEqual(r.status, 404, name)
            client = "198.51.100.5" if name == "v1" else "192.0.2.55"
            self.assertEqual(self.srv.logged("a", f"/split-{name}"), (client, 404), name)

    def test_an_untrusted_peer_is_closed_unread(self):
        # From 127.0.0.5, not in RemoteIPTrustedProxy (127.0.0.1); also on b's dedicated socket
        # (its pool's proxy_io refuses it: not a dispatcher's count).
        before = self.srv.refused()
        self.assertEqual(exchange(self.srv.port, v2("192.0.2.7", 1) + req("/", "a.test"), source="127.0.0.5"), b"")
        wait_for(lambda: self.srv.refused() >= before + 1, what="the refusal counted")
        for port in (self.srv.port, self.srv.port_b):
            self.assertEqual(exchange(port, v2("192.0.2.7", 1) + req("/index.html", "a.test"), source="127.0.0.5"),
                             b"", port)
        # the plain shared socket serves that peer
        out = exchange(self.srv.plain_port, req("/index.html", "a.test"), source="127.0.0.5")
        self.assertEqual(body_of(out), b"site a\n")

    def test_a_malformed_or_missing_header_is_closed_unanswered(self):
        bad = bytearray(v2("192.0.2.7", 1))
        bad[12] = 0x11  # version 1 in a v2 header
        before = self.srv.refused()
        cases = (req("/index.html", "a.test"), b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 80\r\n" + req("/", "a.test"),
                 bytes(bad) + req("/", "a.test"), b"PROXY " + b"x" * 200)
        for data in cases:
            self.assertEqual(exchange(self.srv.port, data), b"", data[:40])
        wait_for(lambda: self.srv.refused() >= before + len(cases), what="each refusal counted")
        # and the listener still serves the next one
        self.assertEqual(body_of(exchange(self.srv.port, v2("192.0.2.9", 1) + req("/", "b.test"))), b"site b\n")

    def test_a_bad_head_after_the_header_is_answered(self):
        out = exchange(self.srv.port, v2("192.0.2.10", 1) + b"GET / HTTP/1.1\r\nHost: a.test\r\nBad Field: x\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400 "), out[:200])

    def test_a_header_then_nothing_is_closed_silently(self):
        # Nothing of a head came (only the header): closed at the deadline without a 408.
        for data in (v2("192.0.2.11", 1), v2("192.0.2.11", 1)[:10]):
            start = time.monotonic()
            self.assertEqual(exchange(self.srv.port, data, timeout=30), b"")
            self.assertLess(time.monotonic() - start, 25)
        # part of a head after it: 408, as for any slow head
        out = exchange(self.srv.port, v2("192.0.2.11", 1) + b"GET / HTTP/1.1\r\n", timeout=30)
        self.assertTrue(out.startswith(b"HTTP/1.1 408 "), out[:200])

    def test_the_per_client_bound_does_not_count_the_proxy(self):
        # DispatcherConnectionsPerClient = 2: four unfinished heads from the proxy are all held.
        socks = []
        try:
            for i in range(4):
                s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
                s.sendall(v2(f"192.0.2.{100 + i}", 1) + b"GET /index.html HTTP/1.1\r\n")
                socks.append(s)
            time.sleep(0.3)
            for s in socks:
                s.sendall(b"Host: b.test\r\nConnection: close\r\n\r\n")
                self.assertEqual(read_response(s).body, b"site b\n")
        finally:
            for s in socks:
                s.close()

    def test_a_sites_dedicated_proxy_socket(self):
        out = exchange(self.srv.port_b, v2("192.0.2.44", 4444) + req("/dedicated-b", "b.test"))
        self.assertTrue(out.startswith(b"HTTP/1.1 404 "), out[:300])
        self.assertEqual(self.srv.logged("b", "/dedicated-b"), ("192.0.2.44", 404))

    def test_https_after_the_header_routes_by_sni(self):
        if not self.certs:
            self.skipTest("built without TLS")
        for site, client in (("a", "192.0.2.71"), ("b", "192.0.2.72")):
            raw = socket.create_connection(("127.0.0.1", self.srv.tls_port), timeout=10)
            raw.sendall(v2(client, 7777))
            with tls_context(self.certs.bundle).wrap_socket(raw, server_hostname=f"{site}.test") as s:
                s.sendall(req(f"/tls-{site}", f"{site}.test"))
                r = read_response(s)
            self.assertEqual(r.status, 404, site)
            self.assertEqual(self.srv.logged(site, f"/tls-{site}"), (client, 404))
        # The header and the ClientHello in 1-byte segments.
        obj, incoming, outgoing, hello = client_hello("a.test", tls_context(self.certs.bundle))
        data = v1("198.51.100.73", 7373) + hello
        with socket.create_connection(("127.0.0.1", self.srv.tls_port), timeout=30) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(len(data)):
                s.send(data[i:i + 1])
                time.sleep(0.001)
            pump = TlsPump(s, obj, incoming, outgoing)
            pump.handshake()
            pump.sendall(req("/tls-split", "a.test"))
            self.assertEqual(read_response(pump, timeout=30).status, 404)
        self.assertEqual(self.srv.logged("a", "/tls-split"), ("198.51.100.73", 404))
        # an untrusted peer on the https socket
        self.assertEqual(exchange(self.srv.tls_port, v2("192.0.2.7", 1) + b"\x16\x03\x01", source="127.0.0.5"), b"")


if __name__ == "__main__":
    unittest.main()
