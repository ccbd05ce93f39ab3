# SPDX-License-Identifier: MIT
"""Serving a static site over real sockets: bytes, methods, statuses, keep-alive."""
import os
import time
import unittest

from mpmdtest import Server, read_response

INDEX = "<h1>hello from mpmd</h1>\n"


class ServeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files={
            "index.html": INDEX,
            "docs/a.txt": "alpha\n",
            "docs/index.html": "docs index\n",
            "style.css": "body{}\n",
            "noindex/x.bin": b"\x00\x01",
        }, mpm_section="[prefork]\nStartServers = 2\nMinSpareServers = 1\nMaxSpareServers = 3\n")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_index_bytes(self):
        r = self.srv.get("/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body.decode(), INDEX)
        self.assertEqual(r.header("content-length"), str(len(INDEX)))
        self.assertEqual(r.header("content-type"), "text/html")
        self.assertEqual(r.header("server"), "mpmd")
        self.assertIn("GMT", r.header("date"))
        self.assertIn("GMT", r.header("last-modified"))
        self.assertTrue(r.header("etag").startswith('"'))

    def test_head_has_headers_no_body(self):
        with self.srv.connect() as s:
            s.sendall(b"HEAD /docs/a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
                      b"GET /docs/a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            head = read_response(s, head_request=True)
            get = read_response(s)
        self.assertEqual(head.status, 200)
        self.assertEqual(head.header("content-length"), "6")
        self.assertEqual(head.body, b"")
        # the next response starts right after the head: no body bytes were sent for HEAD
        self.assertEqual(get.body, b"alpha\n")

    def test_404(self):
        r = self.srv.get("/nope.html")
        self.assertEqual(r.status, 404)
        self.assertIn(b"Not Found", r.body)

    def test_directory_redirect(self):
        r = self.srv.get("/docs")
        self.assertEqual(r.status, 301)
        self.assertEqual(r.header("location"), "/docs/")
        r = self.srv.get("/docs?x=1")
        self.assertEqual(r.header("location"), "/docs/?x=1")
        r = self.srv.get("/docs/")
        self.assertEqual((r.status, r.body), (200, b"docs index\n"))

    def test_directory_without_index_is_forbidden(self):
        self.assertEqual(self.srv.get("/noindex/").status, 403)

    def test_method_not_allowed(self):
        r = self.srv.request("POST /docs/a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n"
                             "Connection: close\r\n\r\nabc")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("allow"), "GET, HEAD, OPTIONS")
        self.assertEqual(self.srv.get("/", method="DELETE").status, 405)

    def test_unknown_method(self):
        self.assertEqual(self.srv.get("/", method="BREW").status, 501)

    def test_keep_alive_two_requests(self):
        with self.srv.connect() as s:
            s.sendall(b"GET /docs/a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
            first = read_response(s)
            s.sendall(b"GET /style.css HTTP/1.1\r\nHost: localhost\r\n\r\n")
            second = read_response(s)
        self.assertEqual((first.status, first.body), (200, b"alpha\n"))
        self.assertIsNone(first.header("connection"))
        self.assertEqual((second.status, second.body), (200, b"body{}\n"))
        self.assertEqual(second.header("content-type"), "text/css")

    def test_idle_keep_alive_connection_lives_until_its_timeout(self):
        """KeepAliveTimeout is 5 s: a connection idle for 2.5 s still carries the next request."""
        with self.srv.connect() as s:
            s.sendall(b"GET /docs/a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
            self.assertEqual(read_response(s).status, 200)
            time.sleep(2.5)  # the idle time under test, not a wait for the server
            s.sendall(b"GET /docs/a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
            self.assertEqual(read_response(s).body, b"alpha\n")

    def test_connection_close_is_honoured(self):
        with self.srv.connect() as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            r = read_response(s)
            self.assertEqual(r.header("connection"), "close")
            self.assertEqual(s.recv(10), b"")  # closed after the response

    def test_http10_closes_by_default(self):
        with self.srv.connect() as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
            r = read_response(s)
            self.assertEqual(r.status, 200)
            self.assertEqual(s.recv(10), b"")

    def test_traversal_refused(self):
        for path in ("/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/docs/..%2f..%2fetc/passwd"):
            r = self.srv.get(path)
            self.assertIn(r.status, (400, 403, 404), path)
            self.assertNotIn(b"root:", r.body)

    def test_symlink_out_of_root_refused(self):
        link = os.path.join(self.srv.root, "passwd")
        if not os.path.lexists(link):
            os.symlink("/etc/passwd", link)
        r = self.srv.get("/passwd")
        self.assertIn(r.status, (403, 404))
        self.assertNotIn(b"root:", r.body)

    def test_unreadable_file_is_forbidden(self):
        if os.geteuid() != 0:
            self.skipTest("workers run as the invoking user, who owns the file")
        path = os.path.join(self.srv.root, "secret.txt")
        with open(path, "w") as f:
            f.write("secret\n")
        os.chmod(path, 0o600)  # root's; workers run as an unprivileged user
        r = self.srv.get("/secret.txt")
        self.assertEqual(r.status, 403)
        self.assertNotIn(b"secret", r.body)

    def test_workers_hold_no_privilege(self):
        for pid in self.srv.workers():
            with open(f"/proc/{pid}/status") as f:
                status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
            if os.geteuid() == 0:
                self.assertNotEqual(status["Uid"].split()[0], "0")
            for cap in ("CapEff", "CapPrm", "CapAmb"):
                self.assertEqual(int(status[cap], 16), 0, cap)
            self.assertEqual(status["NoNewPrivs"], "1")
            self.assertEqual(status["Seccomp"], "2")

    def test_bad_request_gets_400_and_close(self):
        with self.srv.connect() as s:
            s.sendall(b"GET / HTTP/1.1\nHost: x\n\n")
            r = read_response(s)
            self.assertEqual(r.status, 400)
            self.assertEqual(r.header("connection"), "close")

    def test_missing_host_is_400(self):
        self.assertEqual(self.srv.request("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").status, 400)



class RequestReadTimeoutTest(unittest.TestCase):
    """RequestReadTimeout body=: a body that stalls gets 408 and the connection ends."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(server_keys="RequestReadTimeout = header=20-40,MinRate=500 body=1\n")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_slow_body_gets_408_and_close(self):
        with self.srv.connect() as s:
            s.sendall(b"POST /index.html HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789")
            start = time.monotonic()
            r = read_response(s, timeout=10)
            waited = time.monotonic() - start
            self.assertEqual(r.status, 408)
            self.assertEqual(r.header("connection"), "close")
            self.assertGreater(waited, 0.5, "not before body=1 ran out")
            self.assertLess(waited, 8, "long before TimeOut (60 s)")
            s.settimeout(5)
            self.assertEqual(s.recv(100), b"", "closed after the 408")

    def test_whole_body_in_time_is_answered_and_kept_alive(self):
        with self.srv.connect() as s:
            s.sendall(b"POST /index.html HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n0123456789")
            r = read_response(s)
            self.assertEqual(r.status, 405)
            s.sendall(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
            self.assertEqual(read_response(s).status, 200)


if __name__ == "__main__":
    unittest.main()
