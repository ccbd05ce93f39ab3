# SPDX-License-Identifier: MIT
"""Path sections over real sockets: [Location /prefix/] and [Location NAME /prefix/].

The settings of a path section apply to every spelling of a path inside it: matching happens on the
normalised path (after %-decoding, merging of duplicate slashes and removal of dot segments), so
"/admin//f", "/%61dmin/f", "/./admin/f" and "/x/../admin/f" are all inside [Location /admin/]. The
observable setting here is DefaultType: a file without an extension is served with the section's
type. Other path-section keys (Require, Header, …) are tested with their features.
"""
import subprocess
import unittest

from mpmdtest import BINARY, Server, add_site

FILES = {"index.html": "main\n", "admin/f": "admin file\n", "admin/sub/g": "deep\n", "administrator/f": "other\n",
         "plain/f": "plain\n", "x/placeholder": "x\n"}


class LocationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files=FILES, start=False)
        shop = add_site(cls.srv, "shop", {"index.html": "shop\n", "admin/f": "shop admin\n"})
        with open(cls.srv.conf, "a") as f:
            f.write("\n[Location /admin]\nDefaultType = text/x-admin\n"
                    "\n[Location /admin/sub/]\nDirectoryIndex = g\n"
                    f"\n[VirtualHost shop]\nServerName = shop.example\nDocumentRoot = {shop}\n"
                    "\n[Location shop /admin/]\nDefaultType = text/x-shop\n")
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def content_type(self, path, host="localhost"):
        r = self.srv.get(path, host=host)
        self.assertEqual(r.status, 200, f"{path}: {r.status}")
        return r.headers.get("content-type")

    def test_the_section_applies_inside_its_prefix(self):
        self.assertEqual(self.content_type("/admin/f"), "text/x-admin")
        self.assertEqual(self.content_type("/plain/f"), "application/octet-stream")

    def test_a_prefix_without_slash_ends_at_a_segment(self):
        self.assertEqual(self.content_type("/administrator/f"), "application/octet-stream")

    def test_every_spelling_of_the_path_is_inside(self):
        for path in ("/admin//f", "//admin/f", "/%61dmin/f", "/%61%64%6d%69%6e/f", "/./admin/f", "/x/../admin/f",
                     "/admin/./f", "/admin/sub/../f", "/admin%2ff"):
            with self.subTest(path=path):
                r = self.srv.get(path)
                if r.status == 404 and "%2f" in path:
                    continue  # an encoded slash is no separator for the file system either
                self.assertEqual(r.status, 200, f"{path}: {r.status}")
                self.assertEqual(r.headers.get("content-type"), "text/x-admin", path)

    def test_matching_is_case_sensitive(self):
        self.assertEqual(self.srv.get("/ADMIN/f").status, 404)

    def test_an_inner_section_inherits_the_outer_one(self):
        r = self.srv.get("/admin/sub/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"deep\n")
        self.assertEqual(r.headers.get("content-type"), "text/x-admin")

    def test_a_vhost_section_is_that_site_only(self):
        self.assertEqual(self.content_type("/admin/f", host="shop.example"), "text/x-shop")
        self.assertEqual(self.content_type("/admin/f"), "text/x-admin")

    def test_dump_vhosts_lists_each_sites_path_sections(self):
        out = subprocess.run([BINARY, "-S", "-f", self.srv.conf], capture_output=True, text=True).stdout
        main, vhosts = out.split("VirtualHost configuration:")
        self.assertRegex(main, r"path /admin \(.*mpmd\.conf:\d+\)")
        self.assertRegex(main, r"path /admin/sub/ \(")
        self.assertRegex(vhosts, r"\[VirtualHost shop\][^\n]*\n(.*\n)*\s+path /admin/ \(")


if __name__ == "__main__":
    unittest.main()
