# SPDX-License-Identifier: MIT
"""The client's address behind a load balancer (remote-ip.h), over real sockets.

A listener named by RemoteIPProxyProtocol takes a PROXY header (v1 text or v2 binary, HAProxy's
send-proxy / send-proxy-v2) before the request, from a RemoteIPTrustedProxy peer only: the access
log's %a is then the header's client. A connection without a header, with a malformed one, or from
an untrusted peer is closed unanswered. RemoteIPHeader (X-Forwarded-For) is believed from trusted
peers only, read right to left. HTTPS behind the PROXY header works (the header comes first), and
HAProxy itself with send-proxy-v2 is the real peer if it is installed.
"""
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import time
import unittest

from mpmdtest import Server, build_has_tls, free_port, make_cert, wait_for

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(src, sport, dst="127.0.0.1", dport=80, command=1):
    body = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return SIG + bytes([0x20 | command, 0x11]) + struct.pack("!H", len(body)) + body


def v1(src, sport, dst="127.0.0.1", dport=80):
    return f"PROXY TCP4 {src} {dst} {sport} {dport}\r\n".encode()


def exchange(port, data, source=None, host="127.0.0.1", timeout=5):
    s = socket.create_connection((host, port), timeout=timeout, source_address=(source, 0) if source else None)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


REQ = b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


class RemoteIpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.plain_port = free_port()
        cls.srv = Server(start=False)
        cls.proxied = f"127.0.0.1:{cls.srv.port}"
        cls.access = os.path.join(cls.srv.dir, "access.log")
        cls.cgi_dir = os.path.join(cls.srv.dir, "cgi")
        os.mkdir(cls.cgi_dir)
        os.chmod(cls.cgi_dir, 0o755)
        with open(os.path.join(cls.cgi_dir, "addr"), "w") as f:
            f.write("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n%s %s\\n' \"$REMOTE_ADDR\" \"$REMOTE_PORT\"\n")
        os.chmod(os.path.join(cls.cgi_dir, "addr"), 0o755)
        keys = (f"Listen = 127.0.0.1:{cls.plain_port} 127.0.0.2:{cls.plain_port}\n"
                f"ScriptAlias = /cgi-bin/ {cls.cgi_dir}\n"
                f"RemoteIPProxyProtocol = {cls.proxied}\n"
                "RemoteIPTrustedProxy = 127.0.0.1\n"
                "RemoteIPHeader = X-Forwarded-For\n"
                f"CustomLog = {cls.access} \"%a %{{c}}a %U %>s\"\n")
        cls.tls_port = None
        if build_has_tls():
            cls.tls_port = free_port()
            cert, key = make_cert(cls.srv.dir, ["localhost"])
            keys += (f"Listen = https://127.0.0.1:{cls.tls_port}\nRemoteIPProxyProtocol = https://127.0.0.1:{cls.tls_port}\n"
                     f"SSLCertificateFile = {cert}\nSSLCertificateKeyFile = {key}\n")
        with open(cls.srv.conf) as f:
            conf = f.read()
        conf = conf.replace("[Server]\n", "[Server]\n" + keys, 1)
        with open(cls.srv.conf, "w") as f:
            f.write(conf)
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def logged_line(self, path):
        """The client, the connection's peer and the status the access log has for path (each test
        asks for its own path)."""
        def find():
            try:
                with open(self.access) as f:
                    for line in f:
                        client, peer, p, status = line.split()
                        if p == path:
                            return client, peer, int(status)
            except OSError:
                pass
            return None
        wait_for(lambda: find() is not None, timeout=10, what=f"the access log line of {path}")
        return find()

    def logged(self, path):
        client, _, status = self.logged_line(path)
        return client, status

    def req(self, path, extra=b""):
        return f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n".encode() + extra + b"\r\n"

    def test_v2_header_names_the_client(self):
        out = exchange(self.srv.port, v2("192.0.2.7", 4242) + self.req("/index.html?v2"))
        self.assertTrue(out.startswith(b"HTTP/1.1 200 "), out[:200])
        # %U is the path without the query: each test's own path below
        out = exchange(self.srv.port, v2("192.0.2.8", 4243) + self.req("/v2-client"))
        self.assertTrue(out.startswith(b"HTTP/1.1 404 "), out[:200])
        # the PROXY header's client is the connection's too, as in mod_remoteip: %{c}a says it as well
        self.assertEqual(self.logged_line("/v2-client"), ("192.0.2.8", "192.0.2.8", 404))

    def test_v1_header_and_the_request_in_separate_segments(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        header = v1("198.51.100.4", 5555)
        for i in range(len(header)):
            s.sendall(header[i:i + 1])
            time.sleep(0.002)
        s.sendall(self.req("/v1-client"))
        out = s.recv(65536)
        s.close()
        self.assertTrue(out.startswith(b"HTTP/1.1 404 "), out[:200])
        self.assertEqual(self.logged("/v1-client"), ("198.51.100.4", 404))

    def test_cgi_sees_the_client(self):
        out = exchange(self.srv.port, v2("192.0.2.33", 3333) + self.req("/cgi-bin/addr"))
        self.assertTrue(out.startswith(b"HTTP/1.1 200 "), out[:300])
        self.assertIn(b"\r\n192.0.2.33 3333\n", out, "the PROXY header's client and port are REMOTE_ADDR and REMOTE_PORT")
        out = exchange(self.plain_port, self.req("/cgi-bin/addr", b"X-Forwarded-For: 203.0.113.60\r\n"))
        self.assertIn(b"\r\n203.0.113.60 ", out, "RemoteIPHeader's client is REMOTE_ADDR")

    def test_the_access_log_has_the_client_and_the_connections_peer(self):
        exchange(self.plain_port, self.req("/xff-peers", b"X-Forwarded-For: 203.0.113.61\r\n"))
        self.assertEqual(self.logged_line("/xff-peers"), ("203.0.113.61", "127.0.0.1", 404))
        exchange(self.plain_port, self.req("/no-xff-peers"))
        self.assertEqual(self.logged_line("/no-xff-peers"), ("127.0.0.1", "127.0.0.1", 404))

    def test_local_keeps_the_peer(self):
        out = exchange(self.srv.port, v2("0.0.0.0", 0, command=0) + self.req("/local-client"))
        self.assertTrue(out.startswith(b"HTTP/1.1 404 "), out[:200])
        self.assertEqual(self.logged("/local-client"), ("127.0.0.1", 404))

    def test_no_header_or_a_bad_one_is_closed_unanswered(self):
        self.assertEqual(exchange(self.srv.port, REQ), b"", "a plain request on a PROXY listener")
        self.assertEqual(exchange(self.srv.port, b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 80\r\n" + REQ), b"")
        bad = bytearray(v2("192.0.2.7", 1))
        bad[12] = 0x11
        self.assertEqual(exchange(self.srv.port, bytes(bad) + REQ), b"")
        # and the listener still serves the next one
        self.assertTrue(exchange(self.srv.port, v2("192.0.2.9", 1) + REQ).startswith(b"HTTP/1.1 200 "))

    def test_an_untrusted_peer_may_not_send_one(self):
        # From 127.0.0.5: not in RemoteIPTrustedProxy (127.0.0.1). The listener is on 127.0.0.1.
        self.assertEqual(exchange(self.srv.port, v2("192.0.2.7", 1) + REQ, source="127.0.0.5"), b"")

    def test_x_forwarded_for_from_a_trusted_peer(self):
        out = exchange(self.plain_port, self.req("/xff-trusted", b"X-Forwarded-For: 203.0.113.50, 127.0.0.1\r\n"))
        self.assertTrue(out.startswith(b"HTTP/1.1 404 "), out[:200])
        self.assertEqual(self.logged("/xff-trusted"), ("203.0.113.50", 404), "the trusted hop is skipped")
        exchange(self.plain_port, self.req("/xff-forged", b"X-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 203.0.113.51\r\n"))
        self.assertEqual(self.logged("/xff-forged"), ("203.0.113.51", 404), "the last field holds the nearest hop")

    def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(self):
        exchange(self.plain_port, self.req("/xff-untrusted", b"X-Forwarded-For: 203.0.113.52\r\n"), host="127.0.0.2",
                 source="127.0.0.2")
        self.assertEqual(self.logged("/xff-untrusted"), ("127.0.0.2", 404))

    def test_https_after_the_header(self):
        if not self.tls_port:
            self.skipTest("built without TLS")
        raw = socket.create_connection(("127.0.0.1", self.tls_port), timeout=5)
        raw.sendall(v2("192.0.2.77", 7777))
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(self.req("/tls-client"))
            out = s.recv(65536)
        self.assertTrue(out.startswith(b"HTTP/1.1 404 "), out[:200])
        self.assertEqual(self.logged("/tls-client"), ("192.0.2.77", 404))

    @unittest.skipUnless(shutil.which("haproxy"), "needs haproxy")
    def test_haproxy_send_proxy_v2(self):
        front = free_port()
        cfg = os.path.join(self.srv.dir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write("defaults\n  mode http\n  timeout connect 5s\n  timeout client 10s\n  timeout server 10s\n"
                    f"frontend f\n  bind 127.0.0.3:{front}\n  default_backend b\n"
                    f"backend b\n  server s1 127.0.0.1:{self.srv.port} send-proxy-v2\n")
        p = subprocess.Popen(["haproxy", "-db", "-f", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        try:
            def ask():
                try:
                    return exchange(front, self.req("/haproxy-client"), host="127.0.0.3", source="127.0.0.9")
                except OSError:
                    return b""
            wait_for(lambda: ask().startswith(b"HTTP/1.1 404 "), timeout=15, what="haproxy to forward")
        finally:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        self.assertEqual(self.logged("/haproxy-client")[0], "127.0.0.9")


class RemoteIpConfigTest(unittest.TestCase):
    def test_errors(self):
        srv = Server(start=False)
        try:
            with open(srv.conf) as f:
                conf = f.read()
            conf = conf.replace("[Server]\n", "[Server]\nRemoteIPProxyProtocol = 127.0.0.1:1\n"
                                "RemoteIPHeader = X-Forwarded-For\nRemoteIPTrustedProxy = 10.0.0.0/40\n", 1)
            with open(srv.conf, "w") as f:
                f.write(conf)
            from mpmdtest import BINARY
            p = subprocess.run([BINARY, "-t", "-f", srv.conf], capture_output=True, text=True, timeout=30)
            out = p.stdout + p.stderr
            self.assertNotEqual(p.returncode, 0)
            self.assertRegex(out, r"mpmd\.conf:\d+: \[Server\] RemoteIPTrustedProxy: \"10\.0\.0\.0/40\" is not an address")
            self.assertRegex(out, r"mpmd\.conf:\d+: \[Server\] RemoteIPProxyProtocol: \"127\.0\.0\.1:1\" is not one of "
                                  r"the Listen values")
            self.assertRegex(out, r"RemoteIPProxyProtocol needs RemoteIPTrustedProxy")
            self.assertRegex(out, r"RemoteIPHeader needs RemoteIPTrustedProxy")
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
