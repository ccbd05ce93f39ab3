# SPDX-License-Identifier: MIT
"""Virtual hosts, byte ranges and the access log over real sockets.

Name-based virtual hosts: the Host field picks the site (case-insensitive, port ignored, *.wildcard
aliases), an unknown Host gets the main server, and the choice is made per request, not per
connection. Ranges: 206 with the exact bytes (through sendfile for a large file), multipart, 416.
The access log: combined lines for every request, none lost at a graceful stop, and a line for a
response the client aborted (a static file, a CGI program's chunked reply) with the bytes that went out.
"""
import datetime
import os
import re
import signal
import socket
import struct
import time
import unittest

from mpmdtest import MPM, Server, add_site, needs_host_fallback, read_response

MAIN = "main site\n"
SITE_A = "site A\n"
SITE_B = "site B\n"
BIG = bytes((i * 7 + i // 251) % 256 for i in range(1024 * 1024))
TEXT = b"0123456789abcdefghijklmnopqrstuvwxyz"


class VhostTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files={"index.html": MAIN, "big.bin": BIG, "text.txt": TEXT}, start=False)
        a = add_site(cls.srv, "a", {"index.html": SITE_A, "only-a.txt": "a\n"})
        b = add_site(cls.srv, "b", {"index.html": SITE_B})
        with open(cls.srv.conf, "a") as f:
            f.write(f"\n[VirtualHost a]\nServerName = a.example\nServerAlias = www.a.example\nDocumentRoot = {a}\n"
                    f"\n[VirtualHost b]\nServerName = b.example\nServerAlias = *.example.net\nDocumentRoot = {b}\n")
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def body(self, host, path="/"):
        r = self.srv.get(path, host=host)
        self.assertEqual(r.status, 200, f"Host {host}: {r.status}")
        return r.body.decode()

    # -- virtual hosts ----------------------------------------------------------------------------
    def test_host_selects_the_site(self):
        self.assertEqual(self.body("a.example"), SITE_A)
        self.assertEqual(self.body("b.example"), SITE_B)
        self.assertEqual(self.body("www.a.example"), SITE_A)
        self.assertEqual(self.body("localhost"), MAIN)

    def test_host_is_case_insensitive_and_port_is_ignored(self):
        self.assertEqual(self.body("A.Example"), SITE_A)
        self.assertEqual(self.body(f"a.example:{self.srv.port}"), SITE_A)
        self.assertEqual(self.body("B.EXAMPLE:80"), SITE_B)
        self.assertEqual(self.body("a.example."), SITE_A)

    def test_wildcard_alias(self):
        self.assertEqual(self.body("foo.example.net"), SITE_B)
        self.assertEqual(self.body("x.y.EXAMPLE.NET:8080"), SITE_B)
        # the wildcard needs a label before the dot
        if MPM != "perchild":
            self.assertEqual(self.body("example.net"), MAIN)

    @needs_host_fallback
    def test_unknown_host_gets_the_main_server(self):
        self.assertEqual(self.body("nobody.invalid"), MAIN)
        self.assertEqual(self.body("127.0.0.1"), MAIN)

    def test_sites_do_not_share_files(self):
        self.assertEqual(self.srv.get("/only-a.txt", host="a.example").status, 200)
        self.assertEqual(self.srv.get("/only-a.txt", host="b.example").status, 404)
        self.assertEqual(self.srv.get("/only-a.txt", host="localhost").status, 404)

    def test_keep_alive_connection_selects_per_request(self):
        with self.srv.connect() as s:
            for host, want in (("a.example", SITE_A), ("b.example", SITE_B), ("localhost", MAIN),
                               ("A.EXAMPLE", SITE_A)):
                s.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                r = read_response(s)
                self.assertEqual((r.status, r.body.decode()), (200, want), f"Host {host}")
                self.assertNotEqual(r.header("connection"), "close")

    def test_pipelined_requests_to_two_sites(self):
        with self.srv.connect() as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: b.example\r\n\r\n"
                      b"GET / HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n")
            self.assertEqual(read_response(s).body.decode(), SITE_B)
            self.assertEqual(read_response(s).body.decode(), SITE_A)

    # -- ranges -----------------------------------------------------------------------------------
    def test_single_range(self):
        r = self.srv.get("/text.txt", headers="Range: bytes=10-19\r\n")
        self.assertEqual(r.status, 206)
        self.assertEqual(r.header("content-range"), "bytes 10-19/36")
        self.assertEqual(r.body, TEXT[10:20])
        self.assertEqual(r.header("accept-ranges"), "bytes")

    def test_suffix_and_open_ranges(self):
        r = self.srv.get("/text.txt", headers="Range: bytes=-4\r\n")
        self.assertEqual((r.status, r.body), (206, TEXT[-4:]))
        r = self.srv.get("/text.txt", headers="Range: bytes=30-\r\n")
        self.assertEqual((r.status, r.body), (206, TEXT[30:]))

    def test_large_range_is_exact(self):
        # A 1 MB file: the range goes out with sendfile from an offset.
        r = self.srv.get("/big.bin", headers="Range: bytes=100001-900000\r\n")
        self.assertEqual(r.status, 206)
        self.assertEqual(r.header("content-range"), f"bytes 100001-900000/{len(BIG)}")
        self.assertEqual(len(r.body), 800000)
        self.assertEqual(r.body, BIG[100001:900001])

    def test_multipart_ranges(self):
        r = self.srv.get("/big.bin", headers="Range: bytes=0-9,500000-599999\r\n")
        self.assertEqual(r.status, 206)
        m = re.fullmatch(r"multipart/byteranges; boundary=(\S+)", r.header("content-type"))
        self.assertTrue(m, r.header("content-type"))
        boundary = m.group(1).encode()
        parts = r.body.split(b"--" + boundary)
        self.assertEqual(parts[0], b"")
        self.assertEqual(parts[-1], b"--\r\n")
        got = []
        for part in parts[1:-1]:
            head, _, data = part.partition(b"\r\n\r\n")
            fields = dict(line.split(": ", 1) for line in head.decode().strip().split("\r\n"))
            self.assertEqual(fields["Content-Type"], "application/octet-stream")
            a, b = re.fullmatch(r"bytes (\d+)-(\d+)/1048576", fields["Content-Range"]).groups()
            data = data[:-2] if data.endswith(b"\r\n") else data
            got.append((int(a), int(b), data))
        self.assertEqual([(a, b) for a, b, _ in got], [(0, 9), (500000, 599999)])
        for a, b, data in got:
            self.assertEqual(data, BIG[a:b + 1])

    def test_unsatisfiable_range(self):
        r = self.srv.get("/text.txt", headers="Range: bytes=36-\r\n")
        self.assertEqual(r.status, 416)
        self.assertEqual(r.header("content-range"), "bytes */36")

    def test_if_range_mismatch_sends_the_whole_file(self):
        r = self.srv.get("/text.txt", headers='Range: bytes=0-1\r\nIf-Range: "stale"\r\n')
        self.assertEqual((r.status, r.body), (200, TEXT))
        etag = self.srv.get("/text.txt").header("etag")
        r = self.srv.get("/text.txt", headers=f"Range: bytes=0-1\r\nIf-Range: {etag}\r\n")
        self.assertEqual((r.status, r.body), (206, TEXT[:2]))


COMBINED = re.compile(r'^(\S+) - - \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] "([^"]*)" (\d{3}) (\d+|-) '
                      r'"((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"$')


class AccessLogTest(unittest.TestCase):
    def test_rotation_moves_every_worker_to_the_new_file(self):
        """logrotate: rename, then SIGUSR1 (or mpmctl reopen-logs). The log directory is root's alone
        when the tests run as root, so workers (nobody) could not open the new file themselves:
        the supervisor opens it and hands it to them."""
        srv = Server(start=False, server_keys="KeepAlive = off\n")
        try:
            logdir = os.path.join(srv.dir, "logs")
            os.mkdir(logdir, 0o700)
            log = os.path.join(logdir, "access.log")
            with open(srv.conf) as f:
                conf = f.read()
            conf = conf.replace("[Server]\n", f"[Server]\nCustomLog = {log} %U\n", 1)
            with open(srv.conf, "w") as f:
                f.write(conf)
            srv.start()

            def lines(path):
                with open(path) as f:
                    return f.read().splitlines()

            def wait_for(path, want, timeout=10):
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline and not want <= set(lines(path)):
                    time.sleep(0.1)
                return set(lines(path))

            # Enough requests that every worker process serves some.
            for i in range(40):
                self.assertEqual(srv.get(f"/before-{i}").status, 404)
            before = {f"/before-{i}" for i in range(40)}
            self.assertEqual(wait_for(log, before) & before, before)
            os.rename(log, log + ".1")
            os.kill(srv.pid, signal.SIGUSR1)
            deadline = time.monotonic() + 10
            while not os.path.exists(log) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertTrue(os.path.exists(log), "SIGUSR1 did not create the new access log")
            time.sleep(0.3)  # the workers adopt the new file in their signal handler
            for i in range(40):
                self.assertEqual(srv.get(f"/after-{i}").status, 404)
            after = {f"/after-{i}" for i in range(40)}
            self.assertEqual(wait_for(log, after) & after, after, "a worker kept writing to the rotated file")
            self.assertEqual(set(lines(log + ".1")) & after, set())
            self.assertTrue(all(line.startswith("/before-") for line in lines(log + ".1")))
            self.assertNotIn("Sandbox", srv.error_log())
        finally:
            srv.stop()

    def test_combined_lines_survive_a_graceful_stop(self):
        srv = Server(start=False, files={"index.html": MAIN, "a.txt": "alpha\n"})
        try:
            log = os.path.join(srv.dir, "access.log")
            with open(srv.conf) as f:
                conf = f.read()
            # CustomLog belongs to [Server], whose keys come first in the generated file.
            conf = conf.replace("[Server]\n", f"[Server]\nCustomLog = {log} combined\n", 1)
            with open(srv.conf, "w") as f:
                f.write(conf)
            srv.start()

            self.assertEqual(srv.get("/", headers="Referer: http://ref.example/\r\n"
                                     "User-Agent: test-agent/1.0\r\n").status, 200)
            self.assertEqual(srv.get("/a.txt", method="HEAD").status, 200)
            self.assertEqual(srv.get("/nope?q=1", headers='User-Agent: say "hi"\r\n').status, 404)

            os.kill(srv.pid, signal.SIGTERM)
            srv.proc.wait(timeout=20)
            with open(log) as f:
                lines = f.read().splitlines()
            self.assertEqual(len(lines), 3, lines)
            parsed = {}
            for line in lines:
                m = COMBINED.match(line)
                self.assertTrue(m, f"not a combined line: {line!r}")
                parsed[m.group(3)] = m.groups()
            # Each worker process buffers its own lines: across processes the order is the order of
            # their flushes, so lines are found by their request.
            get = parsed["GET / HTTP/1.1"]
            self.assertEqual(get[0], "127.0.0.1")
            self.assertEqual(get[3:], ("200", str(len(MAIN)), "http://ref.example/", "test-agent/1.0"))
            self.assertEqual(parsed["HEAD /a.txt HTTP/1.1"][3:], ("200", "-", "-", "-"))
            nope = parsed["GET /nope?q=1 HTTP/1.1"]
            self.assertEqual(nope[3], "404")
            self.assertNotEqual(nope[4], "-", "the 404 page has a body")
            self.assertEqual(nope[6], 'say \\"hi\\"', "quotes in a field are escaped")
            # %t is local time with its offset: the same instant as now, give or take
            t = datetime.datetime.strptime(get[1], "%d/%b/%Y:%H:%M:%S %z").timestamp()
            self.assertLess(abs(t - time.time()), 120)
        finally:
            srv.stop()

    def wait_log_line(self, path, needle, timeout=15):
        """The access log buffers lines for up to a second in each worker: poll for the line."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(path):
                with open(path) as f:
                    lines = [line for line in f.read().splitlines() if needle in line]
                if lines:
                    return lines
            time.sleep(0.1)
        self.fail(f"no access log line for {needle} in {timeout} s")

    def read_part_and_close(self, port, path, want=256 * 1024, reset=False):
        """A client that reads the start of a response and goes away: close() with unread data (or
        SO_LINGER 0) resets the connection, so the server's next write fails."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        s.settimeout(10)
        s.connect(("127.0.0.1", port))
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        got = b""
        while len(got) < want:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        if reset:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        return got

    def test_aborted_responses_are_logged_with_the_bytes_sent(self):
        size = 256 * 1024 * 1024  # far more than the socket buffers hold
        srv = Server(start=False)
        try:
            log = os.path.join(srv.dir, "access.log")
            cgi_dir = os.path.join(srv.dir, "cgi")
            os.mkdir(cgi_dir, 0o755)
            script = os.path.join(cgi_dir, "stream.sh")
            with open(script, "w") as f:
                # No Content-Length: an HTTP/1.1 client gets it chunked.
                f.write("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n"
                        f"exec head -c {size} /dev/zero\n")
            os.chmod(script, 0o755)
            with open(os.path.join(srv.root, "huge.bin"), "wb") as f:
                f.truncate(size)
            os.chmod(os.path.join(srv.root, "huge.bin"), 0o644)
            with open(srv.conf) as f:
                conf = f.read()
            conf = conf.replace("[Server]\n", f"[Server]\nCustomLog = {log} %U%q %>s %b %O %X\n"
                                f"ScriptAlias = /cgi-bin/ {cgi_dir}/\n", 1)
            with open(srv.conf, "w") as f:
                f.write(conf)
            srv.start()

            got = self.read_part_and_close(srv.port, "/huge.bin")
            self.assertTrue(got.startswith(b"HTTP/1.1 200 "), got[:100])
            got = self.read_part_and_close(srv.port, "/cgi-bin/stream.sh", reset=True)
            self.assertTrue(got.startswith(b"HTTP/1.1 200 "), got[:100])
            self.assertIn(b"transfer-encoding: chunked", got[:1000].lower())

            for path in ("/huge.bin", "/cgi-bin/stream.sh"):
                lines = self.wait_log_line(log, path)
                self.assertEqual(len(lines), 1, lines)
                url, status, body, out, conn = lines[0].split()
                self.assertEqual((url, status, conn), (path, "200", "X"), lines[0])
                self.assertGreater(int(body), 0, lines[0])
                self.assertLess(int(body), size, lines[0])
                self.assertGreater(int(out), int(body), "%O counts the head too")
            # Complete responses: '+' kept alive, '-' closed after it.
            with srv.connect() as s:
                s.sendall(b"GET /index.html?kept HTTP/1.1\r\nHost: localhost\r\n\r\n")
                self.assertEqual(read_response(s).status, 200)
            self.assertEqual(srv.get("/index.html?closed").status, 200)
            self.assertTrue(self.wait_log_line(log, "/index.html?kept ")[0].endswith(" +"))
            self.assertTrue(self.wait_log_line(log, "/index.html?closed ")[0].endswith(" -"))
        finally:
            srv.stop()

    def test_a_request_body_cut_short_is_logged(self):
        """The client goes away in the middle of its body: nothing was answered, but the request is
        logged once (400, nothing sent, 'X'), with a line in the error log, as nginx does."""
        srv = Server(start=False)
        try:
            log = os.path.join(srv.dir, "access.log")
            with open(srv.conf) as f:
                conf = f.read()
            conf = conf.replace("[Server]\n", f"[Server]\nCustomLog = {log} %m %U %>s %b %X\n", 1)
            with open(srv.conf, "w") as f:
                f.write(conf)
            srv.start()
            with srv.connect() as s:
                s.sendall(b"POST /index.html?cut HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n"
                          + b"x" * 1000)
                time.sleep(0.3)  # the head is read and the body is being taken when the client goes
            lines = self.wait_log_line(log, "/index.html ")
            self.assertEqual(lines, ["POST /index.html 400 - X"])
            srv.wait_log("request body cut short")
            # The server is sane afterwards.
            self.assertEqual(srv.get("/index.html").status, 200)
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
