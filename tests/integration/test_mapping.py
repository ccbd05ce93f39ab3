# SPDX-License-Identifier: MIT
"""Mapping URLs to files and redirects over real sockets, in prefork, worker and event (those this
build can run), and an Alias of a perchild site opened as the site's own user:

- Alias serves another directory under a URL prefix, beneath it only (no "..", no symlink out);
- Redirect with each status word, the rest of the path and the query appended, absolute Locations;
- FallbackResource to a static page and to a CGI program by extension (front controller);
- .ht* files answer 403 everywhere (they were served before)."""
import os
import re
import shutil
import socket
import subprocess
import unittest

import mpmdtest
from mpmdtest import (MODULE_DIR, MPM, Server, add_site, build_has_tls, free_port, make_cert, read_response,
                      tls_get)

SECRET_HTACCESS = "Require all denied  # secret-htaccess\n"
SECRET_HTPASSWD = "admin:$2y$05$secret-htpasswd-hash\n"

FRONT_CONTROLLER = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
echo "front controller"
echo "REQUEST_URI=$REQUEST_URI"
echo "SCRIPT_NAME=$SCRIPT_NAME"
echo "METHOD=$REQUEST_METHOD"
echo "BODY=$(cat)"
"""

SCRIPT = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\nscript alias ran\\n'
"""


def mapping_mpms():
    """prefork, worker and event, those this build can run: every shared module, else the one linked in."""
    wanted = ("prefork", "worker", "event")
    shared = [m for m in os.environ.get("MPMD_SHARED_MPMS", "").split(",") if m]
    if MODULE_DIR and shared:
        return [m for m in shared if m in wanted]
    return [MPM] if MPM in wanted else []


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def mkdirs(path):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o755)


class MappingServer(Server):
    """mpmd running mpm with the layout of the tests below."""

    def __init__(self, mpm):
        super().__init__(files={"index.html": "main site\n", ".htaccess": SECRET_HTACCESS,
                                "sub/.htpasswd": SECRET_HTPASSWD, "sub/page.html": "sub page\n",
                                "secret.txt": "docroot secret\n", "app/front.html": "app front\n",
                                "app/real.txt": "app real\n"}, start=False)
        d = self.dir
        # Alias directories
        self.icons = os.path.join(d, "icons")
        mkdirs(self.icons)
        write(os.path.join(self.icons, "a.png"), "icon a\n")
        write(os.path.join(self.icons, ".htaccess"), SECRET_HTACCESS)
        mkdirs(os.path.join(self.icons, "deep"))
        write(os.path.join(self.icons, "deep", "b.txt"), "deep b\n")
        write(os.path.join(d, "outside.txt"), "outside the alias\n")
        os.symlink("../outside.txt", os.path.join(self.icons, "up-link"))
        os.symlink("/etc/passwd", os.path.join(self.icons, "abs-link"))
        os.symlink("deep/b.txt", os.path.join(self.icons, "in-link"))
        self.doc = os.path.join(d, "doc")
        mkdirs(self.doc)
        write(os.path.join(self.doc, "readme.txt"), "doc readme\n")
        write(os.path.join(self.doc, "index.html"), "doc index\n")
        self.extra = os.path.join(d, "extra")
        mkdirs(self.extra)
        write(os.path.join(self.extra, "e.txt"), "vhost extra\n")
        self.cgi = os.path.join(d, "cgi")
        mkdirs(self.cgi)
        write(os.path.join(self.cgi, "run.sh"), SCRIPT, 0o755)
        # vhosts: fb (static fallback), app (CGI fallback), nofb (a fallback that is not there)
        fb = add_site(self, "fb", {"index.html": "fb index\n", "fallback.html": "the fallback page\n",
                                   "real.html": "a real page\n"})
        mkdirs(os.path.join(fb, "somedir"))
        write(os.path.join(fb, "somedir", "index.html"), "somedir index\n")
        app = add_site(self, "app", {"style.css": "body {}\n"})
        write(os.path.join(app, "index.cgi"), FRONT_CONTROLLER, 0o755)
        nofb = add_site(self, "nofb", {"index.html": "nofb\n"})
        with open(self.conf) as f:
            text = f.read()
        default_line = mpmdtest.load_module_line()
        if default_line:
            text = text.replace(default_line, mpmdtest.load_module_line(mpm), 1)
        elif mpm != MPM:
            raise AssertionError(f"this build links {MPM}; it cannot run {mpm}")
        server_keys = (f"Alias = /icons/ {self.icons}\nAlias = /doc {self.doc}\n"
                       f"ScriptAlias = /cgi-bin/ {self.cgi}\nAddHandler = cgi-script .cgi\n"
                       "Redirect = /old http://example.org/new\n"
                       "Redirect = permanent /perm /target-path\n"
                       "Redirect = seeother /so https://example.net/x\n"
                       "Redirect = 307 /t307 /x307\n"
                       "Redirect = 308 /t308 /x308\n"
                       "Redirect = gone /dead\n"
                       "Redirect = temp /icons/moved/ /icons/\n")
        self.tls_port = self.cert = None
        if build_has_tls():
            self.tls_port = free_port()
            self.cert, key = make_cert(d, ["localhost"])
            server_keys += (f"Listen = https://127.0.0.1:{self.tls_port}\n"
                            f"SSLCertificateFile = {self.cert}\nSSLCertificateKeyFile = {key}\n")
        text = text.replace("[Server]\n", "[Server]\n" + server_keys, 1)
        text += (f"\n[VirtualHost v]\nServerName = v.test\nDocumentRoot = {self.root}\n"
                 f"Alias = /extra/ {self.extra}\nRedirect = /vonly /elsewhere\n"
                 f"\n[VirtualHost fb]\nServerName = fb.test\nDocumentRoot = {fb}\nFallbackResource = /fallback.html\n"
                 f"\n[VirtualHost app]\nServerName = app.test\nDocumentRoot = {app}\nFallbackResource = /index.cgi\n"
                 f"\n[VirtualHost nofb]\nServerName = nofb.test\nDocumentRoot = {nofb}\n"
                 "FallbackResource = /not-there.html\n"
                 "\n[Location fb /static/]\nFallbackResource = disabled\n"
                 "\n[Location /app/]\nFallbackResource = /app/front.html\n"
                 "\n[Location /sa/]\nFallbackResource = /cgi-bin/run.sh\n")
        with open(self.conf, "w") as f:
            f.write(text)
        self.start()

    def raw(self, text):
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(text.encode("latin-1"))
            return read_response(s, head_request=text.startswith("HEAD "))


class MappingChecks:
    """The checks, run against self.srv (one server per MPM, made by the class below)."""
    mpm = None

    @classmethod
    def setUpClass(cls):
        cls.srv = MappingServer(cls.mpm)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def get(self, path, host="localhost", **kw):
        return self.srv.get(path, host=host, **kw)

    # -- Alias ------------------------------------------------------------------------------------
    def test_alias_serves_its_directory(self):
        r = self.get("/icons/a.png")
        self.assertEqual((r.status, r.body), (200, b"icon a\n"))
        self.assertEqual(self.get("/icons/deep/b.txt").body, b"deep b\n")
        self.assertEqual(self.get("/icons/in-link").body, b"deep b\n", "a symlink inside the alias is followed")
        # "/doc" without a slash: "/doc" itself and what is under it, on a segment boundary
        self.assertEqual(self.get("/doc/readme.txt").body, b"doc readme\n")
        self.assertEqual(self.get("/doc/").body, b"doc index\n")
        r = self.get("/doc")
        self.assertEqual(r.status, 301, "a directory without its slash is redirected, as DocumentRoot's")
        self.assertTrue(r.header("Location").endswith("/doc/"), r.header("Location"))
        self.assertEqual(self.get("/docs/readme.txt").status, 404, "/doc does not cover /docs")
        # "/icons/" needs its slash; the DocumentRoot has nothing there
        self.assertEqual(self.get("/icons").status, 404)
        # two aliases' files of the same name are two cache entries
        self.assertEqual(self.get("/doc/index.html").body, b"doc index\n")
        self.assertEqual(self.get("/index.html").body, b"main site\n")
        self.assertEqual(self.get("/doc/index.html").body, b"doc index\n")

    def test_alias_never_leaves_its_directory(self):
        for path in ("/icons/up-link", "/icons/abs-link"):
            r = self.get(path)
            self.assertEqual(r.status, 403, path)
            self.assertNotIn(b"outside the alias", r.body)
            self.assertNotIn(b"root:", r.body)
        # ".." is resolved in the URL first: it lands on the DocumentRoot, never above the alias
        r = self.get("/icons/../secret.txt")
        self.assertEqual(r.body, b"docroot secret\n")
        r = self.get("/icons/%2e%2e/outside.txt")
        self.assertEqual(r.status, 404)
        self.assertNotIn(b"outside the alias", r.body)
        self.assertEqual(self.get("/icons/deep/../../outside.txt").status, 404)

    def test_a_vhost_adds_its_aliases_to_the_servers(self):
        self.assertEqual(self.get("/extra/e.txt", host="v.test").body, b"vhost extra\n")
        self.assertEqual(self.get("/icons/a.png", host="v.test").body, b"icon a\n")
        self.assertEqual(self.get("/extra/e.txt").status, 404, "the main server has no /extra/")

    # -- Redirect ---------------------------------------------------------------------------------
    def test_redirect_appends_the_rest_and_the_query(self):
        r = self.get("/old/page.html?x=1&y=2")
        self.assertEqual(r.status, 302)
        self.assertEqual(r.header("Location"), "http://example.org/new/page.html?x=1&y=2")
        self.assertIn(b"<title>302 Found</title>", r.body)
        self.assertEqual(self.get("/old").header("Location"), "http://example.org/new")
        self.assertEqual(self.get("/older").status, 404, "a prefix matches on segment boundaries")
        # matched on the normalised path
        self.assertEqual(self.get("/x/../%6fld//a").header("Location"), "http://example.org/new/a")

    def test_redirect_status_words(self):
        port = self.srv.port
        cases = [("/perm/a", 301, f"http://localhost:{port}/target-path/a"),
                 ("/so", 303, "https://example.net/x"),
                 ("/t307/q", 307, f"http://localhost:{port}/x307/q"),
                 ("/t308", 308, f"http://localhost:{port}/x308")]
        for path, status, location in cases:
            r = self.get(path, host=f"localhost:{port}")
            self.assertEqual(r.status, status, path)
            self.assertEqual(r.header("Location"), location, path)
        r = self.get("/dead/page")
        self.assertEqual(r.status, 410)
        self.assertIsNone(r.header("Location"))

    def test_a_path_target_is_made_absolute_without_host_from_server_name(self):
        r = self.srv.raw("GET /perm/x HTTP/1.0\r\n\r\n")
        self.assertEqual(r.status, 301)
        self.assertEqual(r.header("Location"), "http://localhost/target-path/x")

    def test_over_https_a_path_target_becomes_an_https_url(self):
        if not self.srv.tls_port:
            self.skipTest("this mpmd was built without TLS")
        port = self.srv.tls_port
        r = tls_get(port, "/perm/a?b=c", sni="localhost", host=f"localhost:{port}", cafile=self.srv.cert)
        self.assertEqual(r.status, 301)
        self.assertEqual(r.header("Location"), f"https://localhost:{port}/target-path/a?b=c")
        r = tls_get(port, "/old/x", sni="localhost", cafile=self.srv.cert)
        self.assertEqual(r.header("Location"), "http://example.org/new/x", "an absolute target is kept")

    def test_the_appended_rest_is_encoded_and_cannot_break_the_head(self):
        r = self.get("/old/caf%C3%A9%20x%3Fy")
        self.assertEqual(r.header("Location"), "http://example.org/new/caf%C3%A9%20x%3Fy")
        r = self.srv.raw("GET /old/%0d%0aX-Injected:%20yes HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        self.assertIsNone(r.header("X-Injected"))
        self.assertNotIn(b"\r\nX-Injected", r.raw_head)

    def test_redirect_runs_before_the_files_and_aliases(self):
        r = self.get("/icons/moved/a.png")
        self.assertEqual(r.status, 302)
        self.assertEqual(r.header("Location"), "http://localhost/icons/a.png")

    def test_a_vhost_adds_its_redirects_to_the_servers(self):
        self.assertEqual(self.get("/vonly/a", host="v.test").header("Location"), "http://v.test/elsewhere/a")
        self.assertEqual(self.get("/old", host="v.test").header("Location"), "http://example.org/new")
        self.assertEqual(self.get("/vonly/a").status, 404)

    # -- FallbackResource -------------------------------------------------------------------------
    def test_fallback_to_a_static_page(self):
        r = self.get("/no/such/page", host="fb.test")
        self.assertEqual((r.status, r.body), (200, b"the fallback page\n"))
        self.assertEqual(self.get("/real.html", host="fb.test").body, b"a real page\n")
        self.assertEqual(self.get("/somedir/", host="fb.test").body, b"somedir index\n", "a directory is there")
        self.assertEqual(self.get("/", host="fb.test").body, b"fb index\n")
        self.assertEqual(self.get("/no/such/page", host="fb.test", method="HEAD").status, 200)
        self.assertEqual(self.get("/no/such/page").status, 404, "the main server has no fallback")

    def test_fallback_to_a_cgi_program_by_extension(self):
        r = self.get("/blog/2024/hello?draft=1", host="app.test")
        self.assertEqual(r.status, 200, r.body)
        self.assertIn(b"front controller", r.body)
        self.assertIn(b"REQUEST_URI=/blog/2024/hello?draft=1\n", r.body)
        self.assertIn(b"SCRIPT_NAME=/index.cgi\n", r.body)
        body = "name=value"
        r = self.srv.raw(f"POST /api/items HTTP/1.1\r\nHost: app.test\r\nContent-Length: {len(body)}\r\n"
                         f"Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n\r\n{body}")
        self.assertEqual(r.status, 200, r.body)
        self.assertIn(b"METHOD=POST\n", r.body)
        self.assertIn(b"BODY=name=value\n", r.body)
        self.assertIn(b"REQUEST_URI=/api/items\n", r.body)
        self.assertEqual(self.get("/style.css", host="app.test").body, b"body {}\n")

    def test_the_nearest_path_section_sets_the_fallback(self):
        self.assertEqual(self.get("/app/route/1").body, b"app front\n")
        self.assertEqual(self.get("/app/real.txt").body, b"app real\n")
        self.assertEqual(self.get("/other/route").status, 404, "no fallback outside [Location /app/]")
        self.assertEqual(self.get("/static/missing.css", host="fb.test").status, 404, "disabled in /static/")
        self.assertEqual(self.get("/staticx/missing.css", host="fb.test").body, b"the fallback page\n")
        # a fallback under a ScriptAlias runs that program
        self.assertEqual(self.get("/sa/anything").body, b"script alias ran\n")

    def test_fallback_does_not_loop_or_reach_script_alias(self):
        self.assertEqual(self.get("/missing", host="nofb.test").status, 404)
        self.assertEqual(self.get("/cgi-bin/run.sh").body, b"script alias ran\n")
        self.assertEqual(self.get("/cgi-bin/missing.sh", host="fb.test").status, 404)

    # -- .ht ---------------------------------------------------------------------------------------
    def test_ht_files_are_never_served(self):
        for host, path in (("localhost", "/.htaccess"), ("localhost", "/sub/.htpasswd"),
                           ("localhost", "/icons/.htaccess"), ("localhost", "/.htaccess/"),
                           ("localhost", "/%2ehtaccess"), ("localhost", "/sub/./.htpasswd"),
                           ("v.test", "/.htaccess"), ("fb.test", "/.htnothere"),
                           ("localhost", "/cgi-bin/.htaccess")):
            r = self.get(path, host=host)
            self.assertEqual(r.status, 403, f"{host} {path}")
            self.assertNotIn(b"secret-ht", r.body)
        self.assertEqual(self.get("/.htaccess", method="HEAD").status, 403)
        self.assertEqual(self.get("/sub/page.html").body, b"sub page\n")


for _mpm in mapping_mpms():
    globals()[f"Mapping_{_mpm}"] = type(f"Mapping_{_mpm}", (MappingChecks, unittest.TestCase), {"mpm": _mpm})


def line_count(path):
    with open(path) as f:
        return sum(1 for _ in f)


class ConfigCheckTest(unittest.TestCase):
    """mpmd -t refuses bad mapping lines at their file:line."""

    def check(self, lines, after=""):
        srv = Server(start=False)
        self.addCleanup(srv.stop)
        with open(srv.conf) as f:
            text = f.read()
        text = text.replace("[Server]\n", "[Server]\n" + lines, 1) + after
        with open(srv.conf, "w") as f:
            f.write(text)
        p = subprocess.run([mpmdtest.BINARY, "-t", "-f", srv.conf], capture_output=True, text=True, timeout=60)
        return srv, p.returncode, p.stdout + p.stderr

    def test_bad_lines_are_refused_at_their_line(self):
        srv, rc, out = self.check(f"Alias = /icons/ {os.path.join('/nonexistent', 'icons')}\n"
                                  f"Alias = /icons/ /tmp\n"
                                  "Redirect = moved /a /b\n"
                                  "Redirect = gone /dead /target\n"
                                  "FallbackResource = index.php\n")
        self.assertNotEqual(rc, 0, out)
        for line, what in ((2, r"Alias /icons/: /nonexistent/icons: No such file or directory"),
                           (3, r"Alias: /icons/ is given twice \(first at .*:2\)"),
                           (4, r"Redirect: unknown status \"moved\""),
                           (5, r"Redirect: gone \(410\) takes no target"),
                           (6, r"FallbackResource: URL path \"index.php\" does not start with '/'")):
            self.assertRegex(out, rf"{re.escape(srv.conf)}:{line}: .*{what}", out)

    def test_alias_and_redirect_are_refused_in_a_path_section(self):
        srv, rc, out = self.check("", "\n[Location /x/]\nAlias = /y/ /tmp\nRedirect = /a /b\nFallbackResource = /i.html\n")
        self.assertNotEqual(rc, 0, out)
        base = line_count(srv.conf) - 4
        self.assertRegex(out, rf"{re.escape(srv.conf)}:{base + 2}: Alias is not allowed in \[Location /x/\]")
        self.assertRegex(out, rf"{re.escape(srv.conf)}:{base + 3}: Redirect is not allowed in \[Location /x/\]")
        self.assertNotRegex(out, rf"{re.escape(srv.conf)}:{base + 4}: ")

    def test_good_lines_pass(self):
        _, rc, out = self.check("Alias = /icons/ /tmp\nRedirect = permanent /a https://example.org/\n"
                                "FallbackResource = /index.html\n")
        self.assertEqual(rc, 0, out)


# -- perchild: a site's Alias directory is opened as the site ------------------------------------------

try:
    from test_perchild import DISPATCH_USER, perchild_available
    from test_perchild_paths import SITE_USERS, TwoSites, chown
except ImportError:  # pragma: no cover
    perchild_available = lambda: False  # noqa: E731


@unittest.skipUnless(os.geteuid() == 0, "needs root: creates users and starts mpmd as root")
@unittest.skipUnless(shutil.which("setpriv") and shutil.which("useradd"), "needs setpriv and useradd")
@unittest.skipUnless(perchild_available(), "mpmd was built without the perchild MPM")
class PerchildAliasTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.created = mpmdtest.create_users(SITE_USERS, DISPATCH_USER)

    @classmethod
    def tearDownClass(cls):
        mpmdtest.remove_users(cls.created)

    def test_a_sites_alias_directory_is_opened_as_its_user(self):
        # A directory only site a may enter: served through a's Alias (so it was opened as a; root,
        # without CAP_DAC_*, could not have). Root's own directory, which a may not enter: a's
        # pool cannot start (503), and the other site is served.
        base = os.path.join("/tmp", f"mpmd-alias-{os.getpid()}")
        own, root_only = os.path.join(base, "own"), os.path.join(base, "root-only")
        os.makedirs(own)
        os.chmod(base, 0o755)
        self.addCleanup(shutil.rmtree, base, True)
        write(os.path.join(own, "f.txt"), "a's private file\n")
        chown(os.path.join(own, "f.txt"), SITE_USERS[0])
        os.chmod(own, 0o700)
        chown(own, SITE_USERS[0])
        srv = TwoSites(extra_a=f"Alias = /priv/ {own}\n")
        self.addCleanup(srv.stop)
        srv.start()
        r = srv.get_site("a", "/priv/f.txt", srv.port_a)
        self.assertEqual((r.status, r.body), (200, b"a's private file\n"))
        self.assertEqual(srv.get_site("a", "/priv/f.txt").body, b"a's private file\n")
        self.assertEqual(srv.get_site("b", "/priv/f.txt").status, 404, "b has no such alias")
        srv.stop()

        os.makedirs(os.path.join(root_only, "pub"))
        os.chmod(root_only, 0o700)
        os.chmod(os.path.join(root_only, "pub"), 0o755)
        write(os.path.join(root_only, "pub", "r.txt"), "root's file\n")
        srv = TwoSites(extra_a=f"Alias = /r/ {os.path.join(root_only, 'pub')}\n")
        self.addCleanup(srv.stop)
        srv.start()
        r = srv.get_site("a", "/r/r.txt", srv.port_a)
        self.assertEqual(r.status, 503, r.body)
        self.assertNotIn(b"root's file", r.body)
        self.assertEqual(srv.get_site("b", "/").body, b"site b\n")
        srv.wait_log(r"Alias .*root-only/pub: cannot open it as user " + SITE_USERS[0])


if __name__ == "__main__":
    unittest.main()
