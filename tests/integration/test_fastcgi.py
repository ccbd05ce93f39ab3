# SPDX-License-Identifier: MIT
"""FastCGI to Debian's php-fpm, in each of prefork, worker and event this build can run:
AddHandler proxy: and SetHandler (in [Location] sections), GET, POST bodies (with a length, chunked,
an upload over 1 MB), a front controller (FallbackResource), PATH_INFO and query strings from the
file system walk, a missing script (404, php-fpm not asked), php-fpm down (502), a slow script (504
at ProxyTimeout), kept-alive connections reused (php-fpm's own count of accepted connections), PHP's
stderr in the site's error log, CVE-2019-11043's %0a payload, and the configuration's errors at
their file:line."""
import base64
import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import mpmdtest
import phpfpm
from mpmdtest import BINARY, MPM, MODULE_DIR, Server, libcrypt_line, read_response

PAGES = {
    # What php-fpm was told, as JSON.
    "env.php": """<?php
header("Content-Type: application/json");
$keys = ["SCRIPT_FILENAME", "SCRIPT_NAME", "PATH_INFO", "PATH_TRANSLATED", "DOCUMENT_ROOT", "REQUEST_URI",
         "QUERY_STRING", "REQUEST_METHOD", "CONTENT_LENGTH", "CONTENT_TYPE", "HTTP_X_TEST", "HTTPS",
         "GATEWAY_INTERFACE", "SERVER_PROTOCOL", "HTTP_PROXY", "PHP_SELF", "REMOTE_USER", "AUTH_TYPE",
         "HTTP_AUTHORIZATION", "PHP_AUTH_PW"];
$out = [];
foreach ($keys as $k) { $out[$k] = array_key_exists($k, $_SERVER) ? $_SERVER[$k] : null; }
$out["GET"] = $_GET;
echo json_encode($out);
""",
    "post.php": """<?php
$body = file_get_contents("php://input");
header("Content-Type: text/plain");
echo strlen($body), " ", md5($body), " ", $_SERVER["CONTENT_LENGTH"] ?? "none";
""",
    "upload.php": """<?php
header("Content-Type: text/plain");
$f = $_FILES["f"];
echo $f["error"], " ", $f["size"], " ", md5_file($f["tmp_name"]);
""",
    "stderr.php": """<?php
error_log("fcgi-stderr-marker " . $_GET["n"]);
header("Content-Type: text/plain");
echo "logged\\n";
""",
    "status.php": """<?php
header("Status: 201 Created");
header("X-From-Php: yes");
echo "made\\n";
""",
    "big.php": """<?php
header("Content-Type: application/octet-stream");
for ($i = 0; $i < 256; $i++) { echo str_repeat(chr(65 + $i % 26), 8192); }
""",
    "slow/sleep.php": """<?php
sleep(6);
echo "late\\n";
""",
    "nap.php": """<?php
usleep(1500000);
echo "napped\\n";
""",
    "app/index.php": """<?php
header("Content-Type: application/json");
echo json_encode(["front" => true, "SCRIPT_NAME" => $_SERVER["SCRIPT_NAME"],
                  "REQUEST_URI" => $_SERVER["REQUEST_URI"], "PATH_INFO" => $_SERVER["PATH_INFO"] ?? null]);
""",
    "set/index.php": """<?php
header("Content-Type: text/plain");
echo "set ", $_SERVER["SCRIPT_NAME"], " ", $_SERVER["PATH_INFO"] ?? "-", "\\n";
""",
    "set/page.html": "<p>static under SetHandler</p>\n",
    "set/static/file.txt": "kept out of php-fpm\n",
    "down/x.php": "<?php echo 'never';\n",
    "hello.txt": "plain text\n",
    "short/pid.php": "<?php echo getmypid();\n",
    "tcp/post.php": """<?php
$body = file_get_contents("php://input");
header("Content-Type: text/plain");
echo "tcp ", $_SERVER["SCRIPT_NAME"], " ", strlen($body), " ", md5($body);
""",
    "fake/any.php": "<?php // answered by the test's own responder\n",
    "busy/any.php": "<?php // answered by the test's own responder\n",
    "bad/any.php": "<?php // answered by the test's own responder\n",
    # The connection from mpmd this php-fpm child answers on: its socket's inode (fd 0 is the pool's
    # listening socket, which php-fpm moves there).
    "conn.php": """<?php
header("Content-Type: text/plain");
$out = [];
foreach (scandir("/proc/self/fd") as $fd) {
    if ($fd === "." || $fd === ".." || $fd === "0") continue;
    $t = @readlink("/proc/self/fd/$fd");
    if ($t !== false && strncmp($t, "socket:", 7) === 0) $out[] = $t;
}
sort($out);
echo getmypid(), " ", implode(",", $out);
""",
}


def fastcgi_mpms():
    wanted = ("prefork", "worker", "event")
    shared = [m for m in os.environ.get("MPMD_SHARED_MPMS", "").split(",") if m]
    if MODULE_DIR and shared:
        return [m for m in shared if m in wanted]
    return [MPM] if MPM in wanted else []


def post(srv, path, body, headers="", chunked=False):
    with srv.connect() as s:
        if chunked:
            head = (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n{headers}"
                    "Connection: close\r\n\r\n").encode()
            data = b""
            for i in range(0, len(body), 7000):
                piece = body[i:i + 7000]
                data += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
            s.sendall(head + data + b"0\r\n\r\n")
        else:
            s.sendall(f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(body)}\r\n{headers}"
                      "Connection: close\r\n\r\n".encode() + body)
        return read_response(s, timeout=30)


PAGES["private/env.php"] = PAGES["env.php"]  # behind Basic authentication ([Location /private/])
PAGES["api/env.php"] = PAGES["env.php"]  # an API that checks its own tokens ([Location /api/] CGIPassAuth)


class FastCgiBase:
    mpm = None

    @classmethod
    def setUpClass(cls):
        base = os.path.join(tempfile.gettempdir(), f"mpmd-fcgi-{os.getpid()}-{cls.mpm}")
        # "short": each child exits after one request, closing the connection mpmd keeps.
        cls.fpm = phpfpm.PhpFpm([phpfpm.Pool("www", base + ".sock"),
                                 phpfpm.Pool("short", base + "-short.sock", extra="pm.max_requests = 1\n"),
                                 phpfpm.Pool("tcp", f"127.0.0.1:{mpmdtest.free_port()}"),
                                 phpfpm.Pool("queue", f"127.0.0.1:{mpmdtest.free_port()}")])
        cls.sock = cls.fpm.pools[0].sock
        cls.short_sock = cls.fpm.pools[1].sock
        cls.tcp_address = cls.fpm.pools[2].sock
        cls.queue_address = cls.fpm.pools[3].sock
        cls.fake = phpfpm.FakeResponder(base + "-fake.sock", close_second=True)
        cls.busy = phpfpm.FakeResponder(base + "-busy.sock", protocol_status=2)
        cls.bad = phpfpm.FakeResponder(base + "-bad.sock", stdout=b"this is no header\r\n\r\nbody")
        cls.htpasswd = base + ".htpasswd"
        with open(cls.htpasswd, "w") as f:
            f.write(libcrypt_line("carol", "pw-of-carol", "$y$") + "\n")
        os.chmod(cls.htpasswd, 0o644)
        try:
            target = f'"proxy:unix:{cls.sock}|fcgi://localhost"'
            cls.srv = Server(files=PAGES, start=False, server_keys=(
                f"AddHandler = {target} .php\nDirectoryIndex = index.php index.html\n"), config_extra=(
                f"\n[Location /app/]\nFallbackResource = /app/index.php\n"
                f"\n[Location /set/]\nSetHandler = {target}\n"
                f"\n[Location /set/static/]\nSetHandler = none\n"
                f"\n[Location /private/]\nAuthType = Basic\nAuthName = staff\nAuthUserFile = {cls.htpasswd}\n"
                f"Require = valid-user\n"
                f"\n[Location /api/]\nCGIPassAuth = On\n"
                f"\n[Location /slow/]\nProxyTimeout = 2\n"
                f"\n[Location /short/]\nSetHandler = proxy:unix:{cls.short_sock}|fcgi://localhost\n"
                f"\n[Location /fake/]\nSetHandler = proxy:unix:{cls.fake.path}|fcgi://localhost\n"
                f"\n[Location /tcp/]\nSetHandler = proxy:fcgi://{cls.tcp_address}\n"
                f"\n[Location /busy/]\nSetHandler = proxy:unix:{cls.busy.path}|fcgi://localhost\n"
                f"\n[Location /bad/]\nSetHandler = proxy:unix:{cls.bad.path}|fcgi://localhost\n"
                f"\n[Location /down/]\nSetHandler = proxy:unix:{cls.fpm.dir}/nobody-listens.sock|fcgi://localhost\n"))
            default_line = mpmdtest.load_module_line()
            with open(cls.srv.conf) as f:
                text = f.read()
            if default_line:
                text = text.replace(default_line, mpmdtest.load_module_line(cls.mpm), 1)
            # ProxyPass to a responder, mod_proxy_fcgi's way: the target's path names the files.
            root = f"DocumentRoot = {cls.srv.root}\n"
            text = text.replace(root, root + f"ProxyPass = /pp/ fcgi://{cls.tcp_address}{cls.srv.root}/\n"
                                f"ProxyPass = /ppu/ unix:{cls.sock}|fcgi://localhost{cls.srv.root}/\n", 1)
            with open(cls.srv.conf, "w") as f:
                f.write(text)
            cls.srv.start()
        except BaseException:
            cls.fpm.stop()
            for f in (cls.fake, cls.busy, cls.bad):
                f.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.fpm.stop()
        for f in (cls.fake, cls.busy, cls.bad):
            f.stop()

    def get(self, path, headers=""):
        return self.srv.get(path, headers=headers)

    def env(self, path, headers=""):
        r = self.get(path, headers=headers)
        self.assertEqual(r.status, 200, r.body[:500])
        return json.loads(r.body)

    # -- GET and the parameters --------------------------------------------------------------------
    def test_cgipassauth_gives_the_credentials_to_an_api_that_checks_them(self):
        e = self.env("/api/env.php", headers="Authorization: Bearer abc.def\r\n")
        self.assertEqual(e["HTTP_AUTHORIZATION"], "Bearer abc.def")
        e = self.env("/env.php", headers="Authorization: Bearer abc.def\r\n")
        self.assertIsNone(e["HTTP_AUTHORIZATION"], "without CGIPassAuth, as Apache")

    def test_the_user_basic_authentication_let_in_is_remote_user(self):
        r = self.get("/private/env.php")
        self.assertEqual(r.status, 401, r.body[:200])
        creds = base64.b64encode(b"carol:pw-of-carol").decode()
        e = self.env("/private/env.php", headers=f"Authorization: Basic {creds}\r\n")
        self.assertEqual((e["REMOTE_USER"], e["AUTH_TYPE"]), ("carol", "Basic"))
        self.assertIsNone(e["HTTP_AUTHORIZATION"], "the credentials stay with mpmd, as in Apache")
        self.assertIsNone(e["PHP_AUTH_PW"])
        e = self.env("/env.php", headers=f"Authorization: Basic {creds}\r\n")
        self.assertIsNone(e["REMOTE_USER"], "no Require asked for a user here")
        self.assertIsNone(e["AUTH_TYPE"])

    def test_get_a_page_with_its_parameters(self):
        e = self.env("/env.php?a=1&b=two", headers="X-Test: hello\r\nProxy: http://evil/\r\n")
        root = os.path.realpath(self.srv.root)
        self.assertEqual(e["SCRIPT_NAME"], "/env.php")
        self.assertEqual(os.path.realpath(e["SCRIPT_FILENAME"]), os.path.join(root, "env.php"))
        self.assertIsNone(e["PATH_INFO"], "PATH_INFO is absent when empty")
        self.assertEqual(e["REQUEST_URI"], "/env.php?a=1&b=two")
        self.assertEqual(e["QUERY_STRING"], "a=1&b=two")
        self.assertEqual(e["GET"], {"a": "1", "b": "two"})
        self.assertEqual(e["REQUEST_METHOD"], "GET")
        self.assertEqual(e["HTTP_X_TEST"], "hello")
        self.assertIsNone(e["HTTP_PROXY"], "httpoxy: the Proxy header is not passed on")
        self.assertIsNone(e["HTTPS"])
        self.assertEqual(e["GATEWAY_INTERFACE"], "CGI/1.1")
        self.assertEqual(os.path.realpath(e["DOCUMENT_ROOT"]), root)

    def test_path_info_comes_from_the_file_system(self):
        e = self.env("/env.php/a/b%20c?x=y")
        self.assertEqual(e["SCRIPT_NAME"], "/env.php")
        self.assertEqual(e["PATH_INFO"], "/a/b c")
        self.assertEqual(os.path.realpath(os.path.dirname(e["PATH_TRANSLATED"])),
                         os.path.join(os.path.realpath(self.srv.root), "a"))
        self.assertEqual(e["QUERY_STRING"], "x=y")
        self.assertEqual(e["PHP_SELF"], "/env.php/a/b c")

    def test_status_and_headers_of_the_script_reach_the_client(self):
        r = self.get("/status.php")
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.header("X-From-Php"), "yes")
        self.assertEqual(r.body, b"made\n")

    def test_a_tcp_responder(self):
        body = os.urandom(300 * 1024)
        r = post(self.srv, "/tcp/post.php", body, headers="Content-Type: application/octet-stream\r\n")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body.decode(), f"tcp /tcp/post.php {len(body)} {hashlib.md5(body).hexdigest()}")
        r = self.get("/tcp/post.php")
        self.assertEqual(r.status, 200, r.body)

    def test_a_large_response_arrives_whole(self):
        r = self.get("/big.php")
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.body), 256 * 8192)
        self.assertEqual(r.body[:3], b"AAA")

    def test_head_gets_no_body(self):
        with self.srv.connect() as s:
            s.sendall(b"HEAD /status.php HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            r = read_response(s, head_request=True)
        self.assertEqual(r.status, 201)
        self.assertEqual(r.body, b"")

    def test_other_files_stay_static(self):
        r = self.get("/hello.txt")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"plain text\n")

    # -- request bodies ------------------------------------------------------------------------------
    def test_post_with_a_body(self):
        body = b"name=value&other=" + b"x" * 5000
        r = post(self.srv, "/post.php", body, headers="Content-Type: application/x-www-form-urlencoded\r\n")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body.decode(), f"{len(body)} {hashlib.md5(body).hexdigest()} {len(body)}")

    def test_a_body_larger_than_the_buffers_streams_through(self):
        body = os.urandom(3 * 1024 * 1024)
        r = post(self.srv, "/post.php", body, headers="Content-Type: application/octet-stream\r\n")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body.decode(), f"{len(body)} {hashlib.md5(body).hexdigest()} {len(body)}")

    def test_a_chunked_body_is_sent_with_its_length(self):
        body = os.urandom(200 * 1024)
        r = post(self.srv, "/post.php", body, headers="Content-Type: application/octet-stream\r\n", chunked=True)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body.decode(), f"{len(body)} {hashlib.md5(body).hexdigest()} {len(body)}")

    def test_an_upload_over_one_megabyte(self):
        data = os.urandom(1536 * 1024)
        boundary = "mpmdboundary7f3a"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"f\"; filename=\"up.bin\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        r = post(self.srv, "/upload.php", body, headers=f"Content-Type: multipart/form-data; boundary={boundary}\r\n")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body.decode(), f"0 {len(data)} {hashlib.md5(data).hexdigest()}")

    # -- routing -------------------------------------------------------------------------------------
    def test_front_controller_takes_what_maps_to_nothing(self):
        r = self.get("/app/blog/2024/hello-world?p=3")
        self.assertEqual(r.status, 200, r.body)
        e = json.loads(r.body)
        self.assertTrue(e["front"])
        self.assertEqual(e["SCRIPT_NAME"], "/app/index.php")
        self.assertEqual(e["REQUEST_URI"], "/app/blog/2024/hello-world?p=3")
        # A missing .php under the front controller goes to it too.
        r = self.get("/app/missing.php")
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(json.loads(r.body)["front"])

    def test_sethandler_in_a_location_sends_every_request(self):
        r = self.get("/set/index.php/x/y")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body, b"set /set/index.php /x/y\n")
        r = self.get("/set/")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body, b"set /set/index.php -\n", "a directory takes its DirectoryIndex file")
        # Whatever the name: php-fpm itself refuses what is not .php (security.limit_extensions).
        r = self.get("/set/page.html")
        self.assertEqual(r.status, 403, r.body)
        # SetHandler = none drops the inherited handler.
        r = self.get("/set/static/file.txt")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body, b"kept out of php-fpm\n")

    def test_a_missing_script_is_404_without_asking_php_fpm(self):
        before = phpfpm.accepted_connections(self.sock)
        for path in ("/nosuch.php", "/nosuch.php/more", "/set/nosuch"):
            r = self.get(path)
            self.assertEqual(r.status, 404, (path, r.body))
        r = post(self.srv, "/nosuch.php", b"a=b")
        self.assertEqual(r.status, 404, r.body)
        self.assertEqual(phpfpm.accepted_connections(self.sock), before + 1, "php-fpm was asked")

    def test_cve_2019_11043_payload_never_reaches_php_fpm(self):
        # nginx with fastcgi_split_path_info ^(.+?\.php)(/.*)$ and this path left PATH_INFO empty,
        # which php-fpm < 7.3.11 underflowed on. Here the path is decoded first: a control
        # character in it is a 400, before any script is looked for.
        before = phpfpm.accepted_connections(self.sock)
        payload = "/env.php/PHP_VALUE%0Asession.auto_start=1;;;?" + "Q" * 1500
        r = self.get(payload, headers="D-Pisos: 8" + "=" * 1000 + "D\r\nEbut: mamku tvoyu\r\n")
        self.assertEqual(r.status, 400, r.body)
        self.assertEqual(phpfpm.accepted_connections(self.sock), before + 1, "php-fpm was asked")
        # Without the newline, the same path gives the PATH_INFO the disk says.
        e = self.env("/env.php/PHP_VALUE%20session.auto_start=1;;;?" + "Q" * 100)
        self.assertEqual(e["SCRIPT_NAME"], "/env.php")
        self.assertEqual(e["PATH_INFO"], "/PHP_VALUE session.auto_start=1;;;")

    # -- errors --------------------------------------------------------------------------------------
    def test_proxypass_to_a_responder_names_the_script_by_the_target_path(self):
        for prefix in ("/pp/", "/ppu/"):
            e = self.env(f"{prefix}env.php?a=1")
            self.assertEqual(e["SCRIPT_FILENAME"], os.path.join(self.srv.root, "env.php"))
            self.assertEqual(e["SCRIPT_NAME"], f"{prefix}env.php")
            self.assertIsNone(e["PATH_INFO"])
            self.assertEqual(e["REQUEST_URI"], f"{prefix}env.php?a=1")
            self.assertEqual(e["GET"], {"a": "1"})
        body = os.urandom(200000)
        r = post(self.srv, "/pp/post.php", body)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body.decode(), f"{len(body)} {hashlib.md5(body).hexdigest()} {len(body)}")
        # Dot segments never climb out of the target's path: the router removed them first.
        e = self.env("/pp/a/../env.php")
        self.assertEqual(e["SCRIPT_FILENAME"], os.path.join(self.srv.root, "env.php"))

    def test_requests_wait_in_the_queue_for_a_free_responder_connection(self):
        if self.mpm != "event":
            self.skipTest("max= is per thread: only one event loop serves every connection in this test")
        srv = Server(files=PAGES, start=False, mpm_section="[event]\nStartServers = 1\n", server_keys=(
            f"ProxyPass = /q/ fcgi://{self.queue_address}/ max=1 queue=1 acquire=20000\n"))
        with open(srv.conf) as f:
            text = f.read()
        text = text.replace(f"fcgi://{self.queue_address}/", f"fcgi://{self.queue_address}{srv.root}/")
        default_line = mpmdtest.load_module_line()
        if default_line:
            text = text.replace(default_line, mpmdtest.load_module_line("event"), 1)
        with open(srv.conf, "w") as f:
            f.write(text)
        srv.start()
        try:
            results = {}

            def one(tag, path):
                r = srv.get(path)
                results[tag] = (r.status, r.body, time.monotonic())

            a = threading.Thread(target=one, args=("a", "/q/nap.php"))
            a.start()
            time.sleep(0.4)
            b = threading.Thread(target=one, args=("b", "/q/hello.txt.php"))
            b.start()
            time.sleep(0.4)
            self.assertNotIn("b", results)
            one("c", "/q/nap.php")
            self.assertEqual(results["c"][0], 503, "a full queue (queue=1) answers at once")
            self.assertNotIn("a", results)
            a.join(20)
            b.join(20)
            self.assertEqual(results["a"][:2], (200, b"napped\n"))
            # b waited for a's connection and was then sent on it (php-fpm's answer for a missing
            # script is its own 404: b reached the responder).
            self.assertEqual(results["b"][0], 404, results["b"][1])
            self.assertGreaterEqual(results["b"][2], results["a"][2] - 0.05)
            srv.wait_log(r"FastCGI: fcgi://.* all 1 connections of this thread are busy \(max=\) and its queue "
                         r"is full \(queue=\)")
        finally:
            srv.stop()

    def test_php_fpm_down_is_502_with_a_log_line(self):
        r = self.get("/down/x.php")
        self.assertEqual(r.status, 502, r.body)
        self.srv.wait_log(r"FastCGI: cannot connect to unix:.*nobody-listens\.sock.*: No such file or directory")

    def test_an_overloaded_responder_is_503(self):
        r = self.get("/busy/any.php")
        self.assertEqual(r.status, 503, r.body)
        self.srv.wait_log(r"FastCGI: unix:.*-busy\.sock\|fcgi://localhost refused the request \(overloaded\)")

    def test_a_malformed_answer_is_502(self):
        r = self.get("/bad/any.php")
        self.assertEqual(r.status, 502, r.body)
        self.srv.wait_log(r"FastCGI: malformed header from script")

    def test_a_slow_script_is_504_at_proxy_timeout(self):
        start = time.monotonic()
        r = self.get("/slow/sleep.php")
        took = time.monotonic() - start
        self.assertEqual(r.status, 504, r.body)
        self.assertLess(took, 5.5, "answered at ProxyTimeout (2 s), not when the script ended (6 s)")
        self.srv.wait_log(r"FastCGI: timeout waiting for unix:.*\(ProxyTimeout 2 s\)")

    def test_stderr_lands_in_the_error_log(self):
        n = str(time.monotonic_ns())
        r = self.get(f"/stderr.php?n={n}")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body, b"logged\n")
        self.srv.wait_log(rf"FastCGI: PHP message: fcgi-stderr-marker {n}")

    # -- connections ---------------------------------------------------------------------------------
    def test_keep_alive_connections_are_reused(self):
        seen = []
        n = 20
        with self.srv.connect() as s:
            for i in range(n):
                close = "Connection: close\r\n" if i == n - 1 else ""
                s.sendall(f"GET /conn.php HTTP/1.1\r\nHost: localhost\r\n{close}\r\n".encode())
                r = read_response(s)
                self.assertEqual(r.status, 200, r.body)
                seen.append(r.body.decode())
        for i in range(5):
            r = self.get("/conn.php")
            self.assertEqual(r.status, 200, r.body)
            seen.append(r.body.decode())
        # One connection per thread that served these at most; without reuse there would be 25
        # (each accept() a new socket).
        self.assertLessEqual(len(set(seen)), 8, seen)
        self.assertTrue(all(" socket:[" in x for x in seen), seen)


    def test_a_kept_connection_the_responder_closed_is_not_an_error(self):
        # Each child of the "short" pool serves one request and exits: the connection mpmd kept for
        # it is closed, before it is taken again or while the next request is on it (then the
        # request is sent again on a fresh one, once: GET cannot do anything twice).
        pids = []
        with self.srv.connect() as s:
            for i in range(12):
                close = "Connection: close\r\n" if i == 11 else ""
                s.sendall(f"GET /short/pid.php HTTP/1.1\r\nHost: localhost\r\n{close}\r\n".encode())
                r = read_response(s)
                self.assertEqual(r.status, 200, r.body + self.srv.error_log()[-1500:].encode())
                pids.append(r.body)
        self.assertEqual(len(set(pids)), 12, "each request had a child of its own")


    def test_a_request_is_sent_again_only_when_that_is_safe(self):
        # The responder reads the second request on a kept connection and closes it unanswered.
        # All on one client connection: under prefork another would be another process, with a
        # pool of its own.
        s = self.srv.connect()
        self.addCleanup(s.close)

        def send(method, body=b"", close=False):
            length = f"Content-Length: {len(body)}\r\n" if body else ""
            end = "Connection: close\r\n" if close else ""
            s.sendall(f"{method} /fake/any.php HTTP/1.1\r\nHost: localhost\r\n{length}{end}\r\n".encode() + body)
            return read_response(s)

        before = self.fake.connections
        first, second = send("GET"), send("GET")
        self.assertEqual((first.status, second.status), (200, 200), second.body)
        conn = first.body.split()[1]
        self.assertEqual(first.body, b"conn " + conn + b" request 1")
        # GET is idempotent and nothing of the answer came: sent again on a fresh connection.
        self.assertEqual(second.body, f"conn {int(conn) + 1} request 1".encode())
        self.assertEqual(self.fake.connections, before + 2)
        # The fresh connection was kept: a POST is its second request, which the responder drops.
        # Its body went out as it came: it is not sent twice, the client gets 502.
        r = send("POST", b"a=1")
        self.assertEqual(r.status, 502, r.body)
        if (r.header("connection") or "").lower() == "close":
            s.close()
            s = self.srv.connect()
        r = send("GET", close=True)
        self.assertEqual((r.status, r.body), (200, f"conn {int(conn) + 2} request 1".encode()))
        self.srv.wait_log(r"FastCGI: the responder closed the connection before FCGI_END_REQUEST")


def load_tests(loader, tests, pattern):
    suite = unittest.TestSuite()
    for mpm in fastcgi_mpms():
        cls = type(f"FastCgi_{mpm}", (FastCgiBase, unittest.TestCase), {"mpm": mpm})
        suite.addTests(loader.loadTestsFromTestCase(cls))
    suite.addTests(loader.loadTestsFromTestCase(ConfigTest))
    return suite


class ConfigTest(unittest.TestCase):
    """Errors are refused with their file:line and say what is wrong."""

    def check(self, keys):
        d = tempfile.mkdtemp(prefix="mpmd-fcgi-conf-")
        try:
            conf = os.path.join(d, "mpmd.conf")
            with open(conf, "w") as f:
                user = mpmdtest.worker_user()
                f.write(f"[Server]\nListen = 127.0.0.1:{mpmdtest.free_port()}\nDocumentRoot = {d}\n"
                        f"{'User = ' + user + chr(10) if user else ''}{mpmdtest.load_module_line()}{keys}")
            p = subprocess.run([BINARY, "-t", "-f", conf], capture_output=True, text=True, timeout=60)
            return p.returncode, p.stdout + p.stderr, conf
        finally:
            shutil.rmtree(d, ignore_errors=True)

    @staticmethod
    def line(n):
        """The file line of the n-th line of keys (1-based)."""
        return 3 + (1 if mpmdtest.worker_user() else 0) + mpmdtest.load_module_line().count("\n") + n

    def test_good_lines_pass(self):
        rc, out, _ = self.check('AddHandler = "proxy:unix:/run/php/php8.2-fpm.sock|fcgi://localhost" .php\n'
                                "AddHandler = cgi-script .cgi\n"
                                "SetHandler = proxy:fcgi://127.0.0.1:9000\n[Location /x/]\nSetHandler = none\n")
        self.assertEqual(rc, 0, out)

    def test_a_target_of_the_wrong_protocol(self):
        rc, out, conf = self.check("\nSetHandler = proxy:http://127.0.0.1:8080/\n")
        self.assertNotEqual(rc, 0)
        self.assertRegex(out, rf"{conf}:{self.line(2)}: .*SetHandler")

    def test_an_unknown_handler(self):
        rc, out, conf = self.check("AddHandler = php-script .php\n")
        self.assertNotEqual(rc, 0)
        self.assertRegex(out, rf"{conf}:{self.line(1)}: .*unknown handler \"php-script\"")
        rc, out, conf = self.check("SetHandler = server-info\n")
        self.assertNotEqual(rc, 0)
        self.assertRegex(out, rf"{conf}:{self.line(1)}: .*unknown handler \"server-info\"")

    def test_a_handler_without_extensions(self):
        rc, out, conf = self.check("AddHandler = proxy:fcgi://127.0.0.1:9000\n")
        self.assertNotEqual(rc, 0)
        self.assertRegex(out, rf"{conf}:{self.line(1)}: .*needs at least one extension")


if __name__ == "__main__":
    unittest.main()
