# SPDX-License-Identifier: MIT
"""Static files' extras (issue 15) over real sockets, in every MPM this build has of prefork, worker,
event and perchild (as root, the sites in perchild's default pool): Options Indexes listings (hostile names, dotfiles, symlinks out of the root, off → 403),
PrecompressedFiles sidecars (chosen, not chosen, stale, Range and 304 on the sidecar), and gzip on
the fly (small with Content-Length, large chunked, HTTP/1.0, HEAD, never for a Range)."""
import gzip
import os
import random
import re
import subprocess
import tempfile
import time
import unittest

import mpmdtest
from mpmdtest import BINARY, MODULE_DIR, MPM, Server, read_response

HOSTILE = ["<script>alert(1)", 'a"b', "%41", "a:b", "sp ace", "&amp;"]
JS = b"function f() { return 'the original javascript'; }\n" * 20
CSS = b"body { color: black; } /* the stylesheet itself */\n" * 20
PAGE = ("<p>a small page, compressed whole</p>\n" * 60).encode()   # ~2.3 KB: fits the body room


def big_page():
    rnd = random.Random(15)
    words = ["mpmd", "gzip", "chunk", "html", "<div>", "</div>", "stream", "zlib", "deflate", "window"]
    return "".join(rnd.choice(words) + (" " if rnd.random() < 0.9 else "\n") for _ in range(60000)).encode()


BIG = big_page()  # ~340 KB: streamed in chunks


def file_mpms():
    wanted = ("prefork", "worker", "event", "perchild")
    shared = [m for m in os.environ.get("MPMD_SHARED_MPMS", "").split(",") if m]
    if MODULE_DIR and shared:
        return [m for m in shared if m in wanted]
    return [MPM] if MPM in wanted else []


class FilesServer(Server):
    def __init__(self, mpm, start=True, **kw):
        super().__init__(start=False, **kw)
        default_line = mpmdtest.load_module_line()
        if default_line:
            with open(self.conf) as f:
                text = f.read()
            with open(self.conf, "w") as f:
                f.write(text.replace(default_line, mpmdtest.load_module_line(mpm), 1))
        elif mpm != MPM:
            raise AssertionError(f"this build links {MPM}; it cannot run {mpm}")
        if mpm == "perchild":
            # The dispatcher's user (made if missing and left in place, as the perchild tests and
            # the bench share it); the sites here have no User of their own: the default pool.
            mpmdtest.create_users([])
        if start:
            self.start()


class Files:
    mpm = None

    @classmethod
    def setUpClass(cls):
        files = {name_: b"hostile\n" for name_ in (f"list/{h}" for h in HOSTILE)}
        files.update({
            "index.html": "<h1>root</h1>\n",
            "list/a.txt": "alpha\n",
            "list/.hidden": "secret\n",
            "list/zdir/x.txt": "x\n",
            "list/adir/y.txt": "y\n",
            "pc/app.js": JS,
            "pc/app.js.gz": gzip.compress(b"from the gz sidecar\n"),
            "pc/app.js.br": b"BR-SIDECAR-BYTES",
            "pc/stale.css": CSS,
            "pc/stale.css.gz": gzip.compress(b"stale sidecar\n"),
            "gz/page.html": PAGE,
            "gz/big.html": BIG,
            "gz/tiny.html": b"<p>tiny</p>\n",
            "gz/image.png": BIG,
        })
        keys = ("Options = Indexes\nPrecompressedFiles = br gzip\nCompression = gzip\n"
                "CompressionLevel = 1\nHeader = set X-Files-Test yes\n")
        vhost = ("[VirtualHost off]\nServerName = off.test\nDocumentRoot = {root}\nOptions = -Indexes\n"
                 "PrecompressedFiles = None\nCompression = Off\n")
        cls.srv = FilesServer(cls.mpm, files=files, server_keys=keys, start=False)
        with open(cls.srv.conf, "a") as f:
            f.write(vhost.format(root=cls.srv.root))
        root = cls.srv.root
        os.symlink("/etc", os.path.join(root, "list", "escape"))
        os.symlink("a.txt", os.path.join(root, "list", "inlink"))
        old = time.time() - 3600
        os.utime(os.path.join(root, "pc", "stale.css.gz"), (old, old))
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def get(self, path, headers="", method="GET", host="localhost"):
        return self.srv.get(path, host=host, method=method, headers=headers)

    # -- listings ----------------------------------------------------------------------------------
    def test_listing_escapes_and_links(self):
        r = self.get("/list/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-type"), "text/html; charset=utf-8")
        body = r.body.decode()
        self.assertNotIn("<script>", body)
        self.assertIn('<a href="%3Cscript%3Ealert%281%29">&lt;script&gt;alert(1)</a>', body)
        self.assertIn('<a href="a%22b">a&quot;b</a>', body)
        self.assertIn('<a href="%2541">%41</a>', body)
        self.assertIn('<a href="a%3Ab">a:b</a>', body)
        self.assertIn('<a href="%26amp%3B">&amp;amp;</a>', body)
        self.assertIn('<a href="../">../</a>', body)
        # every link leads to the file it names
        for href in re.findall(r'href="([^"]+)"', body):
            if href.endswith("/"):
                continue
            got = self.get("/list/" + href)
            self.assertEqual(got.status, 200, href)

    def test_listing_sorted_sizes_no_dotfiles_no_escape(self):
        body = self.get("/list/").body.decode()
        names = re.findall(r'<a href="[^"]+">([^<]+)</a>', body)
        self.assertEqual(names[0], "../")
        dirs = [n for n in names[1:] if n.endswith("/")]
        self.assertEqual(dirs, ["adir/", "zdir/"])
        self.assertEqual(names[1:3], dirs)  # directories first
        files = names[3:]
        self.assertEqual(files, sorted(files, key=lambda n: n.encode()))
        self.assertNotIn(".hidden", body)
        self.assertNotIn("escape", body)  # a symlink out of the root is left out
        self.assertIn("inlink", body)     # one within is shown as its target
        self.assertRegex(body, r'>a\.txt</a></td><td>\d{4}-\d\d-\d\d \d\d:\d\d</td><td align="right">6</td>')

    def test_listing_head_has_no_body(self):
        with self.srv.connect() as s:
            s.sendall(b"HEAD /list/ HTTP/1.1\r\nHost: localhost\r\n\r\n"
                      b"GET /list/a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            head = read_response(s, head_request=True)
            nxt = read_response(s)
        self.assertEqual(head.status, 200)
        self.assertGreater(int(head.header("content-length")), 100)
        self.assertEqual(head.body, b"")
        self.assertEqual(nxt.body, b"alpha\n")

    def test_listing_twice_same(self):
        # the cached path must not answer differently from the uncached one
        self.assertEqual(self.get("/list/zdir/").status, 200)
        self.assertEqual(self.get("/list/zdir/").status, 200)

    def test_indexes_off_is_403(self):
        self.assertEqual(self.get("/list/", host="off.test").status, 403)
        self.assertEqual(self.get("/list/", host="off.test").status, 403)

    # -- precompressed sidecars --------------------------------------------------------------------
    def test_sidecar_chosen_by_preference(self):
        r = self.get("/pc/app.js", "Accept-Encoding: gzip, br\r\n")
        self.assertEqual(r.header("content-encoding"), "br")  # the server's order: br first
        self.assertEqual(r.body, b"BR-SIDECAR-BYTES")
        self.assertEqual(r.header("vary"), "Accept-Encoding")
        self.assertTrue(r.header("etag").endswith('-br"'), r.header("etag"))
        self.assertIn("javascript", r.header("content-type"))
        r = self.get("/pc/app.js", "Accept-Encoding: br;q=0.5, gzip\r\n")
        self.assertEqual(r.header("content-encoding"), "gzip")
        self.assertEqual(gzip.decompress(r.body), b"from the gz sidecar\n")
        self.assertTrue(r.header("etag").endswith('-gz"'), r.header("etag"))

    def test_sidecar_not_chosen(self):
        for ae in ("", "Accept-Encoding: identity\r\n", "Accept-Encoding: br;q=0, gzip;q=0\r\n",
                   "Accept-Encoding: deflate\r\n"):
            r = self.get("/pc/app.js", ae)
            self.assertIsNone(r.header("content-encoding"), ae)
            self.assertEqual(r.body, JS, ae)
            self.assertEqual(r.header("vary"), "Accept-Encoding", ae)

    def test_stale_sidecar_ignored(self):
        r = self.get("/pc/stale.css", "Accept-Encoding: gzip\r\n")
        # gzip made now, of the file itself, never the older sidecar
        self.assertEqual(r.header("content-encoding"), "gzip")
        self.assertEqual(gzip.decompress(r.body), CSS)

    def test_range_on_sidecar(self):
        with open(os.path.join(self.srv.root, "pc/app.js.gz"), "rb") as f:
            side = f.read()
        r = self.get("/pc/app.js", "Accept-Encoding: gzip\r\nRange: bytes=2-9\r\n")
        self.assertEqual(r.status, 206)
        self.assertEqual(r.header("content-encoding"), "gzip")
        self.assertEqual(r.body, side[2:10])
        self.assertEqual(r.header("content-range"), f"bytes 2-9/{len(side)}")

    def test_304_on_sidecar_etag(self):
        etag = self.get("/pc/app.js", "Accept-Encoding: gzip\r\n").header("etag")
        r = self.get("/pc/app.js", f"Accept-Encoding: gzip\r\nIf-None-Match: {etag}\r\n")
        self.assertEqual(r.status, 304)
        self.assertEqual(r.header("etag"), etag)
        self.assertEqual(r.header("vary"), "Accept-Encoding")
        # the identity representation's ETag is another one
        r = self.get("/pc/app.js", f"If-None-Match: {etag}\r\n")
        self.assertEqual(r.status, 200)
        self.assertNotEqual(r.header("etag"), etag)

    # -- gzip on the fly ---------------------------------------------------------------------------
    def test_gzip_small_has_length(self):
        r = self.get("/gz/page.html", "Accept-Encoding: gzip\r\n")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-encoding"), "gzip")
        self.assertEqual(int(r.header("content-length")), len(r.body))
        self.assertEqual(gzip.decompress(r.body), PAGE)
        self.assertEqual(r.header("vary"), "Accept-Encoding")
        self.assertTrue(r.header("etag").startswith('W/"') and r.header("etag").endswith('-gz"'))
        ident = self.get("/gz/page.html")
        self.assertEqual(ident.body, PAGE)
        self.assertEqual(ident.header("vary"), "Accept-Encoding")
        self.assertIsNone(ident.header("content-encoding"))

    def test_gzip_large_chunked_keep_alive(self):
        req = b"GET /gz/big.html HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n"
        with self.srv.connect() as s:
            s.sendall(req + req[:-2] + b"Connection: close\r\n\r\n")
            for _ in range(2):
                r = read_response(s, timeout=30)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header("transfer-encoding"), "chunked")
                self.assertIsNone(r.header("content-length"))
                self.assertEqual(r.header("content-encoding"), "gzip")
                self.assertEqual(r.header("vary"), "Accept-Encoding")
                self.assertEqual(gzip.decompress(r.body), BIG)
                self.assertLess(len(r.body), len(BIG) // 2)
                self.assertEqual(r.header("x-files-test"), "yes")  # the response step applies to the stream

    def test_gzip_http10_closes(self):
        with self.srv.connect() as s:
            s.sendall(b"GET /gz/big.html HTTP/1.0\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n")
            r = read_response(s, timeout=30)
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("transfer-encoding"))
        self.assertIsNone(r.header("content-length"))
        self.assertEqual(gzip.decompress(r.body), BIG)

    def test_gzip_head(self):
        with self.srv.connect() as s:
            s.sendall(b"HEAD /gz/big.html HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n"
                      b"GET /list/a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            head = read_response(s, head_request=True)
            nxt = read_response(s)
        self.assertEqual(head.status, 200)
        self.assertEqual(head.header("content-encoding"), "gzip")
        self.assertEqual(head.body, b"")
        self.assertEqual(nxt.body, b"alpha\n")

    def test_no_gzip_for_range_small_or_other_types(self):
        r = self.get("/gz/big.html", "Accept-Encoding: gzip\r\nRange: bytes=0-99\r\n")
        self.assertEqual(r.status, 206)
        self.assertIsNone(r.header("content-encoding"))
        self.assertEqual(r.body, BIG[:100])
        r = self.get("/gz/tiny.html", "Accept-Encoding: gzip\r\n")  # under CompressionMinLength
        self.assertIsNone(r.header("content-encoding"))
        r = self.get("/gz/image.png", "Accept-Encoding: gzip\r\n")  # not in CompressionTypes
        self.assertIsNone(r.header("content-encoding"))
        self.assertEqual(r.body, BIG)
        r = self.get("/gz/big.html", "Accept-Encoding: gzip;q=0\r\n")
        self.assertIsNone(r.header("content-encoding"))
        self.assertEqual(r.body, BIG)
        r = self.get("/gz/big.html", host="off.test", headers="Accept-Encoding: gzip\r\n")
        self.assertIsNone(r.header("content-encoding"))
        self.assertIsNone(r.header("vary"))


for _mpm in ("prefork", "worker", "event", "perchild"):
    _cls = type(f"Files_{_mpm}", (Files, unittest.TestCase), {"mpm": _mpm})
    _cls = unittest.skipUnless(_mpm in file_mpms(), f"the {_mpm} MPM is not in this build")(_cls)
    if _mpm == "perchild":
        _cls = unittest.skipUnless(os.geteuid() == 0, "perchild needs root")(_cls)
    globals()[_cls.__name__] = _cls


class FilesLocations(unittest.TestCase):
    """The keys in path sections: the nearest section that gives Options replaces, +/- modify what
    the enclosing one has; Compression and PrecompressedFiles per path."""

    @classmethod
    def setUpClass(cls):
        files = {
            "index.html": "<h1>root</h1>\n",
            "list/a.txt": "a\n",
            "dl/a.txt": "a\n",
            "dl/sub/b.txt": "b\n",
            "dl/private/c.txt": "c\n",
            "dl/big.html": BIG,
            "gz/big.html": BIG,
            "pc/app.js": JS,
            "pc/app.js.gz": gzip.compress(b"from the gz sidecar\n"),
            "other/app.js": JS,
            "other/app.js.gz": gzip.compress(b"from the gz sidecar\n"),
        }
        keys = "Options = None\nCompression = gzip\n"
        extra = ("\n[Location /dl/]\nOptions = +Indexes\nCompression = Off\n"
                 "\n[Location /dl/private/]\nOptions = -Indexes\n"
                 "\n[Location /pc/]\nPrecompressedFiles = gzip\n")
        cls.srv = Server(files=files, server_keys=keys, config_extra=extra)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_options_per_path(self):
        self.assertEqual(self.srv.get("/list/").status, 403)
        r = self.srv.get("/dl/")
        self.assertEqual(r.status, 200)
        self.assertIn(b'<a href="sub/">sub/</a>', r.body)
        self.assertEqual(self.srv.get("/dl/sub/").status, 200)       # inherited from /dl/
        self.assertEqual(self.srv.get("/dl/private/").status, 403)   # -Indexes of what /dl/ has
        self.assertEqual(self.srv.get("/dl//private/").status, 403)  # the normalised path decides
        self.assertEqual(self.srv.get("/dl/%70rivate/").status, 403)

    def test_compression_per_path(self):
        r = self.srv.get("/gz/big.html", headers="Accept-Encoding: gzip\r\n")
        self.assertEqual(r.header("content-encoding"), "gzip")
        self.assertEqual(gzip.decompress(r.body), BIG)
        r = self.srv.get("/dl/big.html", headers="Accept-Encoding: gzip\r\n")
        self.assertIsNone(r.header("content-encoding"))
        self.assertEqual(r.body, BIG)

    def test_precompressed_per_path(self):
        r = self.srv.get("/pc/app.js", headers="Accept-Encoding: gzip\r\n")
        self.assertEqual(gzip.decompress(r.body), b"from the gz sidecar\n")
        r = self.srv.get("/other/app.js", headers="Accept-Encoding: gzip\r\n")
        self.assertEqual(r.header("content-encoding"), "gzip")  # made now: no sidecars here
        self.assertEqual(gzip.decompress(r.body), JS)


class FilesConfig(unittest.TestCase):
    """Bad values are refused at mpmd -t with file:line and what to do instead."""

    def check(self, line, pattern):
        d = tempfile.mkdtemp(prefix="mpmd-files-t-")
        conf = os.path.join(d, "mpmd.conf")
        with open(conf, "w") as f:
            f.write(f"[Server]\nListen = 127.0.0.1:{mpmdtest.free_port()}\nDocumentRoot = {d}\n"
                    + mpmdtest.load_module_line() + line + "\n")
        p = subprocess.run([BINARY, "-t", "-f", conf], capture_output=True, text=True, timeout=60)
        out = p.stdout + p.stderr
        self.assertNotEqual(p.returncode, 0, out)
        self.assertRegex(out, rf"{re.escape(conf)}:\d+:.*{pattern}")

    def test_version_names_zlib(self):
        p = subprocess.run([BINARY, "-V"], capture_output=True, text=True, timeout=60)
        self.assertRegex(p.stdout, r"(?m)^zlib: 1\.\d+")

    def test_refused(self):
        self.check("Options = FollowSymLinks", "symbolic links")
        self.check("Options = ExecCGI", "ScriptAlias")
        self.check("Options = Indexes +Indexes", "all options start with")
        self.check("PrecompressedFiles = zstd", "unknown coding")
        self.check("Compression = brotli", "gzip or Off")
        self.check("CompressionLevel = 10", "1 .fastest")
        self.check("CompressionTypes = text", "not a media type")


if __name__ == "__main__":
    unittest.main()
