# SPDX-License-Identifier: MIT
"""perchild: a site's own paths are opened with the site's own rights, never by root following the
site's symlinks (issue 12, item 2); one site whose paths or logs are broken affects only itself
(item 3).

Needs root (it creates two site users and starts mpmd as root, under the perchild unit's capability
bounding set, as test_perchild.py does) and a build with the perchild MPM."""
import json
import os
import pwd
import shutil
import socket
import subprocess
import time
import unittest

import mpmdtest
from mpmdtest import Server, free_port, read_response
from test_perchild import MPMCTL, DISPATCH_USER, load_line, perchild_available, unit_bounding_set

# Users of their own: test_perchild.py (perhaps running at the same time) creates and deletes its own.
SITE_USERS = ("mpmdtsa", "mpmdtsb")


def chown(path, user, group=None):
    pw = pwd.getpwnam(user)
    gid = pwd.getpwnam(group).pw_gid if group else pw.pw_gid
    os.chown(path, pw.pw_uid, gid, follow_symlinks=False)


def write(path, text, mode=0o644, owner=None):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    if owner:
        chown(path, owner)


class TwoSites(Server):
    """mpmd with perchild and two sites, a (own socket and the shared one) and b (the shared one), whose
    homes the test lays out; started as root with the unit's bounding set (no CAP_DAC_*)."""

    def __init__(self, home_a_mode=0o755, home_a_owner=None, home_b_mode=0o755, home_b_owner=None,
                 extra_a="", extra_b=""):
        super().__init__(start=False)
        self.bounding_set = unit_bounding_set()  # started as the shipped unit starts it
        self.port_a = free_port()   # only a's pool holds it
        self.port_ab = free_port()  # a and b: the dispatcher's
        self.control = os.path.join(self.dir, "control")
        self.homes = {}
        for name, user, mode, owner in (("a", SITE_USERS[0], home_a_mode, home_a_owner),
                                        ("b", SITE_USERS[1], home_b_mode, home_b_owner)):
            home = os.path.join(self.dir, f"home-{name}")
            htdocs = os.path.join(home, "htdocs")
            os.mkdir(home)
            os.mkdir(htdocs)
            os.chmod(htdocs, 0o755)
            chown(htdocs, user)
            write(os.path.join(htdocs, "index.html"), f"site {name}\n", owner=user)
            write(os.path.join(htdocs, "config.inc"), f"secret of {name}\n", owner=user)
            os.makedirs(os.path.join(home, "logs"))
            chown(os.path.join(home, "logs"), user)
            # owner (user, group) of the home; default: the site's own user and group
            o_user, o_group = owner or (user, user)
            chown(home, o_user, o_group)
            os.chmod(home, mode)
            self.homes[name] = home
        self.extra = {"a": extra_a, "b": extra_b}
        self.write_conf()

    def htdocs(self, site):
        return os.path.join(self.homes[site], "htdocs")

    def access_log(self, site):
        return os.path.join(self.homes[site], "logs", "access.log")

    def write_conf(self):
        with open(self.conf, "w") as f:
            f.write(f"[Server]\nServerName = localhost\nListen = 127.0.0.1:{self.port}\nDocumentRoot = {self.root}\n"
                    f"ErrorLog = {self.log}\nLogLevel = debug\nUser = nobody\nControlSocket = {self.control}\n"
                    f"{load_line()}\n[perchild]\nStartServers = 1\n")
            for name, user in zip(("a", "b"), SITE_USERS):
                listen = f"Listen = 127.0.0.1:{self.port_a}\n" if name == "a" else ""
                listen += f"Listen = 127.0.0.1:{self.port_ab}\n"
                f.write(f"\n[VirtualHost {name}]\nServerName = {name}.test\nDocumentRoot = {self.htdocs(name)}\n"
                        f"User = {user}\nGroup = {user}\n{listen}"
                        f"CustomLog = {self.access_log(name)} %h %r %>s\n{self.extra[name]}")

    def get_site(self, site, path, port=None):
        return self.get_on(self.port_ab if port is None else port, path, f"{site}.test")

    def get_on(self, port, path, host):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            return read_response(s)

    def mpmctl(self, *args, timeout=60):
        return subprocess.run([MPMCTL, "-s", self.control, *args], capture_output=True, text=True, timeout=timeout)


@unittest.skipUnless(os.geteuid() == 0, "needs root: creates users and starts mpmd as root")
@unittest.skipUnless(shutil.which("setpriv") and shutil.which("useradd"), "needs setpriv and useradd")
@unittest.skipUnless(perchild_available(), "mpmd was built without the perchild MPM")
class SitesBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.created = mpmdtest.create_users(SITE_USERS, DISPATCH_USER)

    @classmethod
    def tearDownClass(cls):
        mpmdtest.remove_users(cls.created)

    def server(self, **kw):
        srv = TwoSites(**kw)
        self.addCleanup(srv.stop)
        return srv



@unittest.skipUnless(os.geteuid() == 0, "needs root: creates users and starts mpmd as root")
@unittest.skipUnless(shutil.which("setpriv") and shutil.which("useradd"), "needs setpriv and useradd")
@unittest.skipUnless(perchild_available(), "mpmd was built without the perchild MPM")
class SitePathsTest(SitesBase):
    """Item 2: a site's paths are opened as the site."""

    def assert_not_leaked(self, srv, path, secret):
        """After A's docroot became a symlink and the operator reloaded, A never serves what lies there."""
        p = srv.mpmctl("reload")
        for port in (srv.port_ab, srv.port_a):
            r = srv.get_site("a", path, port)
            self.assertNotIn(secret, r.body, f"site a served another's file after the reload: {p.stderr}")
        return p

    def test_symlink_into_another_sites_0750_home_is_not_followed_as_root(self):
        # B's home belongs to root and B's group, 0750: B may enter it, A may not; root may, as its owner.
        srv = self.server(home_b_mode=0o750, home_b_owner=("root", SITE_USERS[1]))
        srv.start()
        self.assertEqual(srv.get_site("b", "/config.inc").body, b"secret of b\n")
        self.assertEqual(srv.get_site("a", "/", srv.port_a).body, b"site a\n")
        # Site A's CGI does this to its own home.
        old = srv.htdocs("a") + ".old"
        os.rename(srv.htdocs("a"), old)
        os.symlink(srv.htdocs("b"), srv.htdocs("a"))
        p = self.assert_not_leaked(srv, "/config.inc", b"secret of b")
        # The reload does not apply to site a, and says why, naming the path.
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn(srv.htdocs("a"), p.stderr)
        self.assertIn("Permission denied", p.stderr)
        # B is not disturbed.
        self.assertEqual(srv.get_site("b", "/config.inc").body, b"secret of b\n")

    def test_file_beneath_a_root_only_directory_is_not_served(self):
        srv = self.server()
        hidden = os.path.join(srv.dir, "root-only")
        os.mkdir(hidden)
        os.chmod(hidden, 0o700)
        os.mkdir(os.path.join(hidden, "pub"))
        os.chmod(os.path.join(hidden, "pub"), 0o755)
        write(os.path.join(hidden, "pub", "file.txt"), "root's file\n", mode=0o644)
        srv.start()
        shutil.rmtree(srv.htdocs("a"))
        os.symlink(os.path.join(hidden, "pub"), srv.htdocs("a"))
        p = self.assert_not_leaked(srv, "/file.txt", b"root's file")
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn(srv.htdocs("a"), p.stderr)

    def test_site_in_a_0750_home_of_its_group_starts_and_serves(self):
        # Owned by nobody, group the site's: only the site (through its group) may enter, not root
        # without CAP_DAC_READ_SEARCH, as the hardened unit runs it.
        srv = self.server(home_a_mode=0o750, home_a_owner=("nobody", SITE_USERS[0]))
        srv.start()
        self.assertEqual(srv.get_site("a", "/", srv.port_a).body, b"site a\n")
        self.assertEqual(srv.get_site("a", "/config.inc").body, b"secret of a\n")
        self.assertEqual(srv.get_site("b", "/").body, b"site b\n")
        p = srv.mpmctl("reload")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(srv.get_site("a", "/", srv.port_a).body, b"site a\n")


def wait_for(predicate, timeout=30, what="the condition"):
    return mpmdtest.wait_for(predicate, timeout, what)


@unittest.skipUnless(os.geteuid() == 0, "needs root: creates users and starts mpmd as root")
@unittest.skipUnless(shutil.which("setpriv") and shutil.which("useradd"), "needs setpriv and useradd")
@unittest.skipUnless(perchild_available(), "mpmd was built without the perchild MPM")
class SiteFailureTest(SitesBase):
    """Item 3: a site whose own log (or path) is broken stops only itself."""

    def break_log(self, srv, how):
        path = srv.access_log("a")
        if os.path.lexists(path):
            os.unlink(path)
        if how == "dir":
            os.mkdir(path)
        elif how == "fifo":
            os.mkfifo(path)
        chown(path, SITE_USERS[0])

    def fix_log(self, srv):
        path = srv.access_log("a")
        if os.path.isdir(path) and not os.path.islink(path):
            os.rmdir(path)
        elif os.path.lexists(path):
            os.unlink(path)

    def assert_503(self, srv, port):
        r = srv.get_site("a", "/", port)
        self.assertEqual(r.status, 503, r.body)
        self.assertEqual(r.header("Retry-After"), "10")

    def test_cold_start_with_a_broken_log_serves_the_others_and_retries(self):
        for how in ("dir", "fifo"):
            with self.subTest(how=how):
                srv = self.server()
                self.break_log(srv, how)
                srv.start()  # READY=1: the other sites serve
                self.assertEqual(srv.get_site("b", "/").body, b"site b\n")
                self.assert_503(srv, srv.port_a)   # its own socket: the stand-in
                self.assert_503(srv, srv.port_ab)  # through the dispatcher
                st = srv.mpmctl("status")
                self.assertEqual(st.returncode, 0, st.stderr)
                self.assertRegex(st.stdout, r"failed site a: CustomLog .*access.log: cannot open it as user "
                                            + SITE_USERS[0] + r": (Is a directory|not a regular file)")
                # For a script: the same sites, in "failed" of status --json.
                js = srv.mpmctl("status", "--json")
                self.assertEqual(js.returncode, 0, js.stderr)
                failed = json.loads(js.stdout)["failed"]
                self.assertEqual([f for f in st.stdout.splitlines() if f.startswith("failed ")],
                                 ["failed " + f for f in failed])
                self.assertRegex(failed[0], r"^site a: CustomLog ")
                wait_for(lambda: any("site a: CustomLog" in m for m in srv.notifications), what="STATUS= naming site a")
                # Fixed by its owner: the site is tried again and served, without a reload.
                self.fix_log(srv)
                wait_for(lambda: srv.get_site("a", "/", srv.port_a).status == 200, what="site a served again")
                self.assertEqual(srv.get_site("a", "/").body, b"site a\n")
                self.assertNotIn("failed site a", srv.mpmctl("status").stdout)
                srv.stop()

    def test_reload_with_a_broken_log_keeps_the_sites_old_pool(self):
        for how in ("dir", "fifo"):
            with self.subTest(how=how):
                srv = self.server()
                for site in ("a", "b"):
                    write(os.path.join(srv.htdocs(site), "other.html"), f"other {site}\n", owner=SITE_USERS[0 if site == "a" else 1])
                srv.start()
                old_a = set(self.pool_pids(srv, 0))
                self.assertTrue(old_a)
                # The new configuration changes both sites; site a's CGI broke its log meanwhile.
                srv.extra = {"a": "DirectoryIndex = other.html\n", "b": "DirectoryIndex = other.html\n"}
                srv.write_conf()
                self.break_log(srv, how)
                p = srv.mpmctl("reload", timeout=60)
                self.assertEqual(p.returncode, 4, p.stdout + p.stderr)
                self.assertRegex(p.stderr, r"site a: CustomLog .*access.log: cannot open it as user " + SITE_USERS[0])
                self.assertIn("its previous pool serves it", p.stderr)
                self.assertNotIn("site b", p.stderr)
                # b runs the new configuration; a its old one, from its old pool, on both paths.
                self.assertEqual(srv.get_site("b", "/").body, b"other b\n")
                for port in (srv.port_a, srv.port_ab):
                    r = srv.get_site("a", "/", port)
                    self.assertEqual((r.status, r.body), (200, b"site a\n"), port)
                self.assertEqual(set(self.pool_pids(srv, 0)), old_a, "site a's pool was replaced")
                self.assertIn("failed site a", srv.mpmctl("status").stdout)
                # A second reload while still broken: the same pool still serves.
                p = srv.mpmctl("reload", timeout=60)
                self.assertEqual(p.returncode, 4, p.stdout + p.stderr)
                time.sleep(0.5)  # what is tested: the refused reload replaces nothing, now or a moment later
                self.assertEqual(srv.get_site("a", "/", srv.port_ab).body, b"site a\n")
                self.assertEqual(set(self.pool_pids(srv, 0)), old_a)
                # Fixed: the reload applies to every site.
                self.fix_log(srv)
                p = srv.mpmctl("reload", timeout=60)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                for port in (srv.port_a, srv.port_ab):
                    self.assertEqual(srv.get_site("a", "/", port).body, b"other a\n")
                self.assertNotIn("failed site", srv.mpmctl("status").stdout)
                wait_for(lambda: not (set(self.pool_pids(srv, 0)) & old_a), what="the old pool of site a to go")
                srv.stop()

    def pool_pids(self, srv, k):
        uid = pwd.getpwnam(SITE_USERS[k]).pw_uid
        out = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/status") as f:
                    st = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
            except OSError:
                continue
            if st.get("Name") == "mpmd" and int(st["Uid"].split()[0]) == uid and int(st["PPid"]) == srv.pid:
                out.append(int(pid))
        return out


if __name__ == "__main__":
    unittest.main()
