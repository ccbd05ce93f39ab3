# SPDX-License-Identifier: MIT
"""CGI (RFC 3875) through ScriptAlias, in whichever MPM this build runs: the program's environment,
its stdin, its output relayed with the right framing, its errors, its time limit and its stderr."""
import os
import pwd
import shutil
import socket
import tempfile
import time
import unittest

from mpmdtest import Server, read_response, worker_user

SCRIPTS = {
    "env.sh": """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
echo "uid=$(id -u)"
env
""",
    "echo.sh": """#!/bin/sh
printf 'Content-Type: application/octet-stream\\r\\nX-Length: %s\\r\\n\\r\\n' "$CONTENT_LENGTH"
cat
""",
    "sized.sh": """#!/bin/sh
printf 'Content-Type: text/plain\\r\\nContent-Length: 6\\r\\n\\r\\nsized\\n'
""",
    "big.sh": """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
head -c 1048576 /dev/zero | tr '\\0' 'x'
""",
    "status.sh": """#!/bin/sh
printf 'Status: 404 Gone Fishing\\r\\nContent-Type: text/plain\\r\\nX-From-Script: yes\\r\\n\\r\\nnot here\\n'
""",
    "redirect.sh": """#!/bin/sh
printf 'Location: http://example.org/elsewhere\\r\\n\\r\\n'
""",
    "garbage.sh": """#!/bin/sh
printf 'this is not a header\\n\\nbody\\n'
""",
    "silent.sh": """#!/bin/sh
exit 0
""",
    "stderr.sh": """#!/bin/sh
echo "note from the script: $REQUEST_METHOD" >&2
printf 'Status: 204\\r\\n\\r\\n'
""",
    "slow.sh": """#!/bin/sh
sleep 30
printf 'Content-Type: text/plain\\r\\n\\r\\nlate\\n'
""",
    "limits.sh": """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n%s %s\\n' "$(ulimit -Sn)" "$(ulimit -Hn)"
""",
    "noexec.sh": """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\nshould not run\\n'
""",
}


class CgiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cgi_dir = tempfile.mkdtemp(prefix="mpmd-cgi-")
        os.chmod(cls.cgi_dir, 0o755)
        for name, text in SCRIPTS.items():
            path = os.path.join(cls.cgi_dir, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o644 if name == "noexec.sh" else 0o755)
        os.mkdir(os.path.join(cls.cgi_dir, "sub"))
        os.chmod(os.path.join(cls.cgi_dir, "sub"), 0o755)
        os.environ["MPMD_TEST_SECRET"] = "server-environment-must-not-leak"
        cls.vhost_log = os.path.join(cls.cgi_dir, "..", os.path.basename(cls.cgi_dir) + "-v.log")
        cls.server = Server(server_keys=f"ScriptAlias = /cgi-bin/ {cls.cgi_dir}\nCGITimeout = 2\n"
                                        "LimitRequestBody = 200000\n",
                            vhosts=f"[VirtualHost v]\nServerName = v.test\nErrorLog = {cls.vhost_log}\n")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.cgi_dir, ignore_errors=True)
        if os.path.exists(cls.vhost_log):
            os.unlink(cls.vhost_log)
        os.environ.pop("MPMD_TEST_SECRET", None)

    def env_of(self, response):
        self.assertEqual(response.status, 200, response.body)
        env = {}
        for line in response.body.decode().splitlines():
            k, sep, v = line.partition("=")
            if sep:
                env[k] = v
        return env

    def test_programs_get_the_descriptor_limit_select_can_use(self):
        # mpmd raises its own soft limit to the hard one; a program (perhaps one using select(),
        # whose sets stop at FD_SETSIZE) gets 1024 back, as systemd gives its services.
        soft, hard = self.server.get("/cgi-bin/limits.sh").body.decode().split()
        self.assertLessEqual(int(soft), 1024)
        with open(f"/proc/{self.server.pid}/limits") as f:
            mine = next(line.split()[4] for line in f if line.startswith("Max open files"))
        self.assertEqual(hard, mine if mine != "unlimited" else "unlimited")

    def test_environment_is_rfc3875_and_nothing_of_the_server(self):
        r = self.server.get("/cgi-bin/env.sh/extra/path?a=b&c", headers="X-Test: one\r\nProxy: http://evil/\r\n")
        env = self.env_of(r)
        self.assertEqual(env["GATEWAY_INTERFACE"], "CGI/1.1")
        self.assertEqual(env["REQUEST_METHOD"], "GET")
        self.assertEqual(env["QUERY_STRING"], "a=b&c")
        self.assertEqual(env["SCRIPT_NAME"], "/cgi-bin/env.sh")
        self.assertEqual(env["SCRIPT_FILENAME"], os.path.join(self.cgi_dir, "env.sh"))
        self.assertEqual(env["PATH_INFO"], "/extra/path")
        self.assertEqual(env["REQUEST_URI"], "/cgi-bin/env.sh/extra/path?a=b&c")
        self.assertEqual(env["SERVER_PROTOCOL"], "HTTP/1.1")
        self.assertEqual(env["SERVER_PORT"], str(self.server.port))
        self.assertEqual(env["SERVER_ADDR"], "127.0.0.1")
        self.assertEqual(env["REMOTE_ADDR"], "127.0.0.1")
        self.assertEqual(env["HTTP_X_TEST"], "one")
        self.assertNotIn("HTTP_PROXY", env)  # httpoxy
        self.assertNotIn("MPMD_TEST_SECRET", env)
        self.assertNotIn("NOTIFY_SOCKET", env)
        user = worker_user()
        if user:
            self.assertEqual(env["uid"], str(pwd.getpwnam(user).pw_uid))

    def test_body_with_content_length_reaches_stdin(self):
        body = bytes(range(256)) * 400  # 102,400 bytes, every byte value
        with self.server.connect() as s:
            s.sendall(b"POST /cgi-bin/echo.sh HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
            r = read_response(s)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("x-length"), str(len(body)))
        self.assertEqual(r.body, body)

    def test_chunked_body_is_spooled_with_its_length(self):
        with self.server.connect() as s:
            s.sendall(b"POST /cgi-bin/echo.sh HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
            r = read_response(s)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("x-length"), "11")
        self.assertEqual(r.body, b"hello world")

    def test_expect_100_continue_is_answered_before_the_body(self):
        with self.server.connect() as s:
            s.sendall(b"POST /cgi-bin/echo.sh HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                      b"Content-Length: 4\r\nExpect: 100-continue\r\n\r\n")
            interim = read_response(s)
            self.assertEqual(interim.status, 100)
            s.sendall(b"ping")
            r = read_response(s)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"ping")

    def test_unframed_output_is_chunked_and_the_connection_stays_open(self):
        with self.server.connect() as s:
            s.sendall(b"GET /cgi-bin/big.sh HTTP/1.1\r\nHost: localhost\r\n\r\n")
            r = read_response(s)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("transfer-encoding"), "chunked")
            self.assertEqual(r.body, b"x" * 1048576)
            s.sendall(b"GET /cgi-bin/sized.sh HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            r = read_response(s)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-length"), "6")
        self.assertEqual(r.body, b"sized\n")

    def test_http10_output_is_delimited_by_close(self):
        with self.server.connect() as s:
            s.sendall(b"GET /cgi-bin/big.sh HTTP/1.0\r\nHost: localhost\r\n\r\n")
            r = read_response(s)
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("transfer-encoding"))
        self.assertEqual(r.header("connection"), "close")
        self.assertEqual(len(r.body), 1048576)

    def test_pipelined_cgi_requests_are_answered_in_order(self):
        with self.server.connect() as s:
            s.sendall(b"GET /cgi-bin/sized.sh HTTP/1.1\r\nHost: localhost\r\n\r\n"
                      b"POST /cgi-bin/echo.sh HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc"
                      b"GET /cgi-bin/status.sh HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            first, second, third = read_response(s), read_response(s), read_response(s)
        self.assertEqual((first.status, first.body), (200, b"sized\n"))
        self.assertEqual((second.status, second.body), (200, b"abc"))
        self.assertEqual(third.status, 404)

    def test_status_and_fields_from_the_script(self):
        r = self.server.get("/cgi-bin/status.sh")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.reason, "Gone Fishing")
        self.assertEqual(r.header("x-from-script"), "yes")
        self.assertEqual(r.body, b"not here\n")
        r = self.server.get("/cgi-bin/redirect.sh")
        self.assertEqual(r.status, 302)
        self.assertEqual(r.header("location"), "http://example.org/elsewhere")

    def test_head_gets_no_body(self):
        r = self.server.get("/cgi-bin/sized.sh", method="HEAD")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"")

    def test_bad_output_is_500_and_logged(self):
        r = self.server.get("/cgi-bin/garbage.sh")
        self.assertEqual(r.status, 500)
        r = self.server.get("/cgi-bin/silent.sh")
        self.assertEqual(r.status, 500)
        log = self.wait_log("Premature end of script headers")
        self.assertIn("malformed header from script", log)
        # Error lines carry their level, their virtual host and the client.
        self.assertRegex(log, r"\[error\] .*\[vhost localhost\] \[client 127\.0\.0\.1:\d+\] "
                              r"malformed header from script")

    def test_a_vhost_with_its_own_errorlog_gets_its_lines_and_its_programs_stderr(self):
        r = self.server.get("/cgi-bin/garbage.sh", host="v.test")
        self.assertEqual(r.status, 500)
        r = self.server.get("/cgi-bin/stderr.sh", host="v.test", method="PATCH")
        self.assertEqual(r.status, 204)
        deadline = time.monotonic() + 10
        log = ""
        while time.monotonic() < deadline:
            with open(self.vhost_log) as f:
                log = f.read()
            if "note from the script: PATCH" in log and "malformed header" in log:
                break
            time.sleep(0.1)
        self.assertIn("note from the script: PATCH", log)
        self.assertRegex(log, r"\[error\] .*\[vhost v\] \[client 127\.0\.0\.1:\d+\] malformed header from script")
        self.assertNotIn("note from the script: PATCH", self.server.error_log())

    def test_missing_directory_and_unexecutable_scripts(self):
        self.assertEqual(self.server.get("/cgi-bin/nope.sh").status, 404)
        self.assertEqual(self.server.get("/cgi-bin/sub").status, 403)
        self.assertEqual(self.server.get("/cgi-bin/../cgi-bin/sized.sh").status, 200)
        self.assertEqual(self.server.get("/cgi-bin/noexec.sh").status, 500)
        self.assertIn("permission denied", self.wait_log("cannot execute the script"))

    def test_stderr_goes_to_the_error_log(self):
        r = self.server.get("/cgi-bin/stderr.sh", method="DELETE")
        self.assertEqual(r.status, 204)
        self.wait_log("note from the script: DELETE")

    def test_cgitimeout_gives_504(self):
        start = time.monotonic()
        r = self.server.get("/cgi-bin/slow.sh")
        self.assertEqual(r.status, 504)
        self.assertLess(time.monotonic() - start, 20)  # CGITimeout is 2 s; bounds a hang only
        self.wait_log("Script timed out before returning headers")

    def test_chunked_body_over_limit_is_413(self):
        chunk = b"%x\r\n%s\r\n" % (100000, b"y" * 100000)
        for path in (b"/cgi-bin/echo.sh", b"/index.html"):
            with self.server.connect() as s:
                s.sendall(b"POST " + path + b" HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n")
                try:
                    for _ in range(3):
                        s.sendall(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                r = read_response(s)
            self.assertEqual(r.status, 413, path)

    def wait_log(self, needle, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.server.error_log()
            if needle in log:
                return log
            time.sleep(0.1)
        self.fail(f"no {needle!r} in the error log:\n{self.server.error_log()[-3000:]}")


class AddHandlerTest(unittest.TestCase):
    """AddHandler = cgi-script .cgi: files with the extension under DocumentRoot run; the rest is static."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(server_keys="AddHandler = cgi-script .cgi\n", files={
            "index.html": "<h1>static</h1>\n",
            "app/hello.cgi": SCRIPTS["env.sh"],
            "app/noexec.cgi": SCRIPTS["noexec.sh"],
            "app/echo.cgi": SCRIPTS["echo.sh"],
            "app/notes.txt": "plain\n",
        })
        for name in ("hello.cgi", "echo.cgi"):
            os.chmod(os.path.join(cls.server.root, "app", name), 0o755)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_script_by_extension_runs_with_path_info(self):
        r = self.server.get("/app/hello.cgi/more?x=1")
        self.assertEqual(r.status, 200, r.body)
        env = dict(line.split("=", 1) for line in r.body.decode().splitlines() if "=" in line)
        self.assertEqual(env["SCRIPT_NAME"], "/app/hello.cgi")
        self.assertEqual(env["PATH_INFO"], "/more")
        self.assertEqual(env["QUERY_STRING"], "x=1")
        self.assertEqual(env["SCRIPT_FILENAME"], os.path.join(self.server.root, "app", "hello.cgi"))

    def test_post_body_reaches_the_script(self):
        with self.server.connect() as s:
            s.sendall(b"POST /app/echo.cgi HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                      b"Content-Length: 5\r\n\r\nhello")
            r = read_response(s)
        self.assertEqual((r.status, r.body), (200, b"hello"))

    def test_other_files_stay_static(self):
        r = self.server.get("/app/notes.txt")
        self.assertEqual((r.status, r.body), (200, b"plain\n"))
        self.assertEqual(self.server.get("/").body, b"<h1>static</h1>\n")
        self.assertEqual(self.server.get("/app/missing.cgi").status, 404)
        self.assertEqual(self.server.get("/app/noexec.cgi").status, 500)


if __name__ == "__main__":
    unittest.main()
