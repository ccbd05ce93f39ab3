# SPDX-License-Identifier: MIT
"""Response headers, expiry and error documents (issue 15) over real sockets, in every MPM this build
has of prefork, worker and event.

Header: [Server]'s Strict-Transport-Security is kept in a virtual host that adds a Header of its own;
"always" lines reach a 404 and a 400, the others do not; a CGI program's head is edited (set, unset)
and its own 404 keeps its body. Expires*: Expires and Cache-Control max-age by type and by default,
also on a 304. ErrorDocument: a local file with the status kept (and HEAD without its body), a
redirect to a URL, a text, a missing file giving the plain error and a line in the error log, the
500 of a CGI program that wrote nothing. Path sections add their Header lines after their site's,
their ExpiresByType and ErrorDocument per type and status. And mpmd -t refuses bad lines with
file:line.
"""
import email.utils
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import mpmdtest
from mpmdtest import BINARY, MODULE_DIR, MPM, Server, add_site

HSTS = "max-age=63072000; includeSubDomains"
ERROR_404 = "<h1>not here, sorry</h1>\n"
CSS = "body { color: red }\n"
# A long policy over continuation lines (the loader joins them with one space), about 1,500 bytes.
CSP_PARTS = ["default-src 'self';"] + [f"img-src https://img{i:03d}.example.org;" for i in range(45)] + \
    ["frame-ancestors 'none'"]
CSP = " ".join(CSP_PARTS)
SCRIPTS = {
    "hdr.sh": "#!/bin/sh\nprintf 'Content-Type: text/plain\\nX-Powered-By: sh\\nX-Frame-Options: SAMEORIGIN\\n\\nok\\n'\n",
    "own404.sh": "#!/bin/sh\nprintf 'Status: 404 Not Found\\nContent-Type: text/plain\\n\\nthe program says 404\\n'\n",
    "silent.sh": "#!/bin/sh\nexit 1\n",
}


def mpms():
    wanted = ("prefork", "worker", "event")
    shared = [m for m in os.environ.get("MPMD_SHARED_MPMS", "").split(",") if m]
    if MODULE_DIR and shared:
        return [m for m in shared if m in wanted]
    return [MPM] if MPM in wanted else []


def config_for(srv, mpm, text):
    default_line = mpmdtest.load_module_line()
    if default_line:
        text = text.replace(default_line, mpmdtest.load_module_line(mpm), 1)
    elif mpm != MPM:
        raise AssertionError(f"this build links {MPM}; it cannot run {mpm}")
    return text


class Responses:
    mpm = None

    @classmethod
    def setUpClass(cls):
        cls.cgi_dir = tempfile.mkdtemp(prefix="mpmd-resp-cgi-")
        os.chmod(cls.cgi_dir, 0o755)
        for name, text in SCRIPTS.items():
            path = os.path.join(cls.cgi_dir, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o755)
        server_keys = (
            f'Header = always set Strict-Transport-Security "{HSTS}"\n'
            "Header = set X-Content-Type-Options nosniff\n"
            "Header = unset X-Powered-By\n"
            f"ScriptAlias = /cgi-bin/ {cls.cgi_dir}\n"
            "ErrorDocument = 404 /errors/404.html\n"
            'ErrorDocument = 500 "Server trouble"\n'
            "ExpiresActive = On\n"
            'ExpiresByType = text/css "access plus 1 week"\n'
            'ExpiresDefault = "access plus 1 hour"\n')
        cls.srv = Server(server_keys=server_keys, start=False,
                         files={"index.html": "<h1>main</h1>\n", "style.css": CSS, "errors/404.html": ERROR_404,
                                "static/a.css": CSS})
        v = add_site(cls.srv, "v", {"index.html": "<h1>v</h1>\n", "style.css": CSS})
        os.mkdir(os.path.join(v, "api"))
        os.chmod(os.path.join(v, "api"), 0o755)
        with open(os.path.join(v, "api", "data.json"), "w") as f:
            f.write("{}\n")
        os.chmod(os.path.join(v, "api", "data.json"), 0o644)
        with open(cls.srv.conf) as f:
            text = config_for(cls.srv, cls.mpm, f.read())
        text += (f"\n[VirtualHost v]\nServerName = v.test\nDocumentRoot = {v}\n"
                 "Header = set X-Frame-Options DENY\n"
                 "ErrorDocument = 404 /nope.html\n"
                 "ErrorDocument = 403 https://example.org/denied\n"
                 'ErrorDocument = 405 "<p>not like that</p>"\n'
                 'ExpiresByType = text/css "access plus 2 days"\n'
                 'Header = always set Content-Security-Policy "' + "\n    ".join(CSP_PARTS) + '"\n'
                 "\n[Location /static/]\n"
                 "Header = merge Cache-Control immutable\n"
                 'ExpiresByType = text/css "access plus 1 year"\n'
                 'ErrorDocument = 404 "no such static file"\n'
                 "\n[Location v /api/]\n"
                 "Header = unset X-Frame-Options\n"
                 "Header = always set X-Api yes\n"
                 "ErrorDocument = 404 default\n")
        with open(cls.srv.conf, "w") as f:
            f.write(text)
        os.mkdir(os.path.join(v, "dir"))
        os.chmod(os.path.join(v, "dir"), 0o755)
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        shutil.rmtree(cls.cgi_dir, ignore_errors=True)

    def lines(self, r, name):
        return [line.partition(":")[2].strip() for line in r.raw_head.decode("latin-1").split("\r\n")
                if line.lower().startswith(name.lower() + ":")]

    def max_age(self, r):
        m = re.search(r"max-age=(\d+)", r.header("Cache-Control") or "")
        self.assertIsNotNone(m, r.raw_head)
        return int(m.group(1))

    def assert_expires_in(self, r, seconds):
        self.assertEqual(self.max_age(r), seconds, r.raw_head)
        expires = email.utils.parsedate_to_datetime(r.header("Expires")).timestamp()
        self.assertAlmostEqual(expires - time.time(), seconds, delta=5)

    # -- Header -------------------------------------------------------------------------------------
    def test_server_lines_apply_and_a_vhost_adds_its_own(self):
        r = self.srv.get("/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Strict-Transport-Security"), HSTS)
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        self.assertIsNone(r.header("X-Frame-Options"))
        r = self.srv.get("/", host="v.test")
        self.assertEqual(r.body, b"<h1>v</h1>\n")
        self.assertEqual(r.header("Strict-Transport-Security"), HSTS, "[Server]'s line kept in the vhost")
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        self.assertEqual(r.header("X-Frame-Options"), "DENY")

    def test_a_long_content_security_policy(self):
        self.assertGreater(len(CSP), 1500)
        for path in ("/", "/missing", "/cgi-bin/hdr.sh"):
            r = self.srv.get(path, host="v.test")
            self.assertEqual(r.header("Content-Security-Policy"), CSP, path)
        self.assertIsNone(self.srv.get("/").header("Content-Security-Policy"), "the vhost's only")

    def test_always_lines_reach_errors_and_the_others_do_not(self):
        r = self.srv.get("/missing")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.header("Strict-Transport-Security"), HSTS)
        self.assertIsNone(r.header("X-Content-Type-Options"))
        r = self.srv.request(b"NOT A REQUEST\r\n\r\n")
        self.assertEqual(r.status, 400)
        self.assertEqual(r.header("Strict-Transport-Security"), HSTS, "Apache's Header always on its 400")

    def test_a_cgi_head_is_edited(self):
        r = self.srv.get("/cgi-bin/hdr.sh", host="v.test")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body, b"ok\n")
        self.assertIsNone(r.header("X-Powered-By"), "unset removes the program's field")
        self.assertEqual(self.lines(r, "X-Frame-Options"), ["DENY"], "set replaces the program's")
        self.assertEqual(r.header("Strict-Transport-Security"), HSTS)
        self.assertEqual(self.max_age(r), 3600, "ExpiresDefault applies to a program's 200 too")

    def test_a_programs_own_error_is_not_replaced(self):
        r = self.srv.get("/cgi-bin/own404.sh")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.body, b"the program says 404\n", "no ErrorDocument over a program's output")
        self.assertEqual(r.header("Strict-Transport-Security"), HSTS)
        self.assertIsNone(r.header("X-Content-Type-Options"))

    def test_path_sections_add_to_their_site(self):
        r = self.srv.get("/static/a.css")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Cache-Control"), "max-age=31536000, immutable",
                         "the section's ExpiresByType, then its Header line after the expiry")
        self.assertEqual(r.header("Strict-Transport-Security"), HSTS, "[Server]'s lines in its path section")
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        r = self.srv.get("/static/nothing.css")
        self.assertEqual((r.status, r.body), (404, b"no such static file"))
        self.assertEqual(self.srv.get("/nothing.css").body.decode(), ERROR_404, "outside the section: [Server]'s")
        r = self.srv.get("/api/data.json", host="v.test")
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("X-Frame-Options"), "unset after the vhost's set")
        self.assertEqual(r.header("X-Api"), "yes")
        self.assertEqual(r.header("Strict-Transport-Security"), HSTS)
        self.assertEqual(self.srv.get("/", host="v.test").header("X-Frame-Options"), "DENY")
        r = self.srv.get("/api/none", host="v.test")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.header("X-Api"), "yes", "always: on the 404 too")
        self.assertIn(b"<title>404 Not Found</title>", r.body, "ErrorDocument 404 default in the section")

    # -- Expires* -----------------------------------------------------------------------------------
    def test_expires_by_type_and_default(self):
        self.assert_expires_in(self.srv.get("/style.css"), 7 * 86400)
        self.assert_expires_in(self.srv.get("/"), 3600)
        self.assert_expires_in(self.srv.get("/style.css", host="v.test"), 2 * 86400)
        self.assertIsNone(self.srv.get("/missing").header("Expires"), "not on errors")

    def test_not_modified_carries_cache_control(self):
        r = self.srv.get("/style.css")
        etag = r.header("ETag")
        self.assertTrue(etag)
        r = self.srv.get("/style.css", headers=f"If-None-Match: {etag}\r\n")
        self.assertEqual(r.status, 304)
        self.assert_expires_in(r, 7 * 86400)
        self.assertEqual(r.header("Strict-Transport-Security"), HSTS)
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")

    # -- ErrorDocument ------------------------------------------------------------------------------
    def test_a_local_document_keeps_the_status(self):
        r = self.srv.get("/missing")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.body.decode(), ERROR_404)
        self.assertEqual(r.header("Content-Type"), "text/html")
        r = self.srv.get("/missing", method="HEAD")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.header("Content-Length"), str(len(ERROR_404)))
        with self.srv.connect() as s:
            s.sendall(b"HEAD /missing HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        self.assertTrue(data.endswith(b"\r\n\r\n"), data)

    def test_a_url_redirects_and_a_text_is_the_body(self):
        r = self.srv.get("/dir/", host="v.test")
        self.assertEqual(r.status, 302, r.raw_head)
        self.assertEqual(r.header("Location"), "https://example.org/denied")
        r = self.srv.get("/index.html", host="v.test", method="DELETE")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.body, b"<p>not like that</p>")
        self.assertTrue(r.header("Allow"))

    def test_a_missing_document_gives_the_plain_error_and_a_log_line(self):
        r = self.srv.get("/missing", host="v.test")
        self.assertEqual(r.status, 404)
        self.assertIn(b"<title>404 Not Found</title>", r.body)
        self.srv.wait_log(r"ErrorDocument 404 /nope.html \(.*:\d+\) cannot be served")

    def test_the_500_of_a_silent_program(self):
        r = self.srv.get("/cgi-bin/silent.sh")
        self.assertEqual(r.status, 500)
        self.assertEqual(r.body, b"Server trouble")
        self.assertEqual(r.header("Strict-Transport-Security"), HSTS)


for _mpm in ("prefork", "worker", "event"):
    _cls = type(f"Responses_{_mpm}", (Responses, unittest.TestCase), {"mpm": _mpm})
    globals()[_cls.__name__] = unittest.skipUnless(_mpm in mpms(), f"the {_mpm} MPM is not in this build")(_cls)


class ConfigRefusals(unittest.TestCase):
    """mpmd -t names the file and line of a bad Header, Expires* or ErrorDocument line."""

    def test_bad_lines(self):
        d = tempfile.mkdtemp(prefix="mpmd-resp-t-")
        self.addCleanup(shutil.rmtree, d, True)
        cases = [
            ("Header = set Content-Length 5", "Content-Length is written by the server"),
            ("Header = set X-A \"open", "closing quote is missing"),
            ("Header = set Bad(Name) 1", "is not a header name"),
            ("ExpiresDefault = access plus 3 fortnights", "expected a unit"),
            ("ExpiresByType = html \"access plus 1 day\"", "media type"),
            ("ErrorDocument = 302 /x.html", "error status (400 to 599)"),
            ("ErrorDocument = 401 https://example.org/", "401 cannot redirect"),
        ]
        for line, want in cases:
            with self.subTest(line=line):
                conf = os.path.join(d, "mpmd.conf")
                with open(conf, "w") as f:
                    f.write(f"[Server]\nServerName = localhost\nListen = 127.0.0.1:{mpmdtest.free_port()}\n"
                            f"DocumentRoot = {d}\n{mpmdtest.load_module_line()}{line}\n")
                p = subprocess.run([BINARY, "-t", "-f", conf], capture_output=True, text=True, timeout=60)
                out = p.stdout + p.stderr
                self.assertNotEqual(p.returncode, 0, out)
                n = 6 if mpmdtest.load_module_line() else 5
                self.assertRegex(out, re.escape(conf) + f":{n}: .*" + re.escape(want), out)


if __name__ == "__main__":
    unittest.main()
