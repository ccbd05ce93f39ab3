# SPDX-License-Identifier: MIT
"""Require and Basic authentication over real sockets (issue 15), in each MPM this build runs: 401
with WWW-Authenticate, 403, any-of Require lines, the status page and CGI behind the check, weak
password files refused at `mpmd -t`, a reload with a broken file keeping the running config, and the
failed attempts' log lines read by fail2ban (fail2ban-regex with the shipped filter).

Password files are made with `htpasswd -B` (apache2-utils) when it is there, else with python's
crypt module."""
import base64
import os
import re
import shutil
import subprocess
import tempfile
import unittest
import warnings

import mpmdtest
from mpmdtest import BINARY, MODULE_DIR, MPM, Server, libcrypt_line

HTPASSWD = shutil.which("htpasswd")
FAIL2BAN_REGEX = shutil.which("fail2ban-regex")
MPMCTL = os.environ.get("MPMCTL_BINARY", "build/src/supervisor/mpmctl")
FILTER = os.path.join(mpmdtest.SOURCE_ROOT, "conf", "fail2ban", "mpmd-auth.conf")


def auth_mpms():
    """prefork, worker and event, those this build can run: every shared module, else the one linked in."""
    wanted = ("prefork", "worker", "event")
    shared = [m for m in os.environ.get("MPMD_SHARED_MPMS", "").split(",") if m]
    if MODULE_DIR and shared:
        return [m for m in shared if m in wanted]
    return [MPM] if MPM in wanted else []


def bcrypt_line(user, password, cost=5):
    """A "user:hash" line as `htpasswd -B` writes it."""
    if HTPASSWD:
        p = subprocess.run([HTPASSWD, "-nbB", "-C", str(cost), user, password], capture_output=True, text=True,
                           check=True)
        return p.stdout.strip()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    return f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << cost))}"


def basic(user, password):
    return "Authorization: Basic " + base64.b64encode(f"{user}:{password}".encode()).decode() + "\r\n"


CGI = "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\ncgi ran as %s (%s)\\n' \"$REMOTE_USER\" \"$AUTH_TYPE\"\n"


class AuthServer(Server):
    """[Server] open; vhost priv (Basic, valid-user; the status page and a CGI directory behind it), lan
    (Require ip of networks the test is not in), mixed (ip 127.0.0.0/8 or valid-user), users (user bob)."""

    def __init__(self, mpm, htpasswd_text=None):
        self.mpm = mpm
        work = tempfile.mkdtemp(prefix="mpmd-auth-")
        os.chmod(work, 0o755)
        self.work = work
        self.htpasswd = os.path.join(work, "htpasswd")
        with open(self.htpasswd, "w") as f:
            f.write(htpasswd_text if htpasswd_text is not None else
                    bcrypt_line("alice", "s3cret") + "\n" + bcrypt_line("bob", "hunter2") + "\n" +
                    libcrypt_line("yves", "yes-pw", "$y$") + "\n" + libcrypt_line("shaun", "sha-pw", "$6$") + "\n")
        os.chmod(self.htpasswd, 0o644)  # read by the supervisor; workers never open it
        cgi = os.path.join(work, "cgi")
        os.mkdir(cgi)
        os.chmod(cgi, 0o755)
        with open(os.path.join(cgi, "who"), "w") as f:
            f.write(CGI)
        os.chmod(os.path.join(cgi, "who"), 0o755)
        self.control = os.path.join(work, "control")
        auth = (f"AuthType = Basic\nAuthName = \"Private area\"\nAuthUserFile = {self.htpasswd}\n")
        self.priv_log = os.path.join(work, "priv-access.log")
        vhosts = (f"\n[VirtualHost priv]\nServerName = priv.test\n{auth}Require = valid-user\n"
                  f"CustomLog = {self.priv_log} authlog\n"
                  f"ServerStatus = /server-status\nScriptAlias = /cgi-bin/ {cgi}\n"
                  f"\n[VirtualHost lan]\nServerName = lan.test\nRequire = ip 10.0.0.0/8\nRequire = ip 2001:db8::/32\n"
                  f"\n[VirtualHost mixed]\nServerName = mixed.test\n{auth}Require = ip 127.0.0.0/8\nRequire = valid-user\n"
                  f"\n[VirtualHost users]\nServerName = users.test\n{auth}Require = user bob\n")
        # a LogFormat after the CustomLog that names it, as in a conf.d file read later
        vhosts += '\n[Server]\nLogFormat = "%u %>s \\"%r\\"" authlog\n'
        super().__init__(server_keys=f"ControlSocket = {self.control}\n", vhosts=vhosts, start=False)
        if MODULE_DIR:
            # the configuration loads this test's MPM, not the build's default one
            with open(self.conf) as f:
                text = f.read()
            text = text.replace(mpmdtest.load_module_line(), mpmdtest.load_module_line(mpm))
            with open(self.conf, "w") as f:
                f.write(text)

    def stop(self):
        super().stop()
        shutil.rmtree(self.work, ignore_errors=True)


@unittest.skipUnless(auth_mpms(), "this build runs none of prefork, worker, event")
class AuthTest(unittest.TestCase):
    def server(self, mpm, **kw):
        srv = AuthServer(mpm, **kw)
        self.addCleanup(srv.stop)
        return srv

    def each_mpm(self):
        for mpm in auth_mpms():
            with self.subTest(mpm=mpm):
                srv = self.server(mpm)
                srv.start()
                yield srv
                srv.stop()

    def test_basic_authentication(self):
        for srv in self.each_mpm():
            r = srv.get("/", host="priv.test")
            self.assertEqual(r.status, 401, r.body)
            self.assertEqual(r.header("WWW-Authenticate"), 'Basic realm="Private area", charset="UTF-8"')
            self.assertNotIn(b"hello", r.body)
            r = srv.get("/", host="priv.test", headers=basic("alice", "s3cret"))
            self.assertEqual((r.status, r.body), (200, b"<h1>hello</h1>\n"))
            # again on the same thread: the cache (no second bcrypt run is visible from here, but the
            # answer must be the same)
            self.assertEqual(srv.get("/", host="priv.test", headers=basic("alice", "s3cret")).status, 200)
            self.assertEqual(srv.get("/", host="priv.test", headers=basic("alice", "S3cret")).status, 401)
            # yescrypt and SHA-crypt, verified inside the workers' sandbox too
            self.assertEqual(srv.get("/", host="priv.test", headers=basic("yves", "yes-pw")).status, 200)
            self.assertEqual(srv.get("/", host="priv.test", headers=basic("yves", "no")).status, 401)
            self.assertEqual(srv.get("/", host="priv.test", headers=basic("shaun", "sha-pw")).status, 200)
            self.assertEqual(srv.get("/", host="priv.test", headers=basic("mallory", "s3cret")).status, 401)
            self.assertEqual(srv.get("/", host="priv.test", headers="Authorization: Basic !!!\r\n").status, 401)
            # the main server is open: priv's Require is priv's
            self.assertEqual(srv.get("/", host="localhost").status, 200)

    def test_status_page_and_cgi_are_behind_the_check(self):
        for srv in self.each_mpm():
            self.assertEqual(srv.get("/server-status?auto", host="priv.test").status, 401)
            r = srv.get("/server-status?auto", host="priv.test", headers=basic("bob", "hunter2"))
            self.assertEqual(r.status, 200, r.body)
            self.assertIn(b"Total Accesses", r.body)
            self.assertEqual(srv.get("/cgi-bin/who", host="priv.test").status, 401)
            r = srv.get("/cgi-bin/who", host="priv.test", headers=basic("bob", "hunter2"))
            self.assertEqual((r.status, r.body), (200, b"cgi ran as bob (Basic)\n"))

    def test_the_access_log_names_the_user_let_in(self):
        for srv in self.each_mpm():
            self.assertEqual(srv.get("/", host="priv.test", headers=basic("alice", "s3cret")).status, 200)
            self.assertEqual(srv.get("/", host="priv.test", headers=basic("alice", "wrong")).status, 401)
            self.assertEqual(srv.get("/", host="priv.test").status, 401)

            def lines():
                try:
                    with open(srv.priv_log) as f:
                        return f.read().splitlines()
                except FileNotFoundError:
                    return []
            mpmdtest.wait_for(lambda: len(lines()) >= 3, what="three lines in priv's access log")
            # each worker process writes its own lines: in any order
            self.assertEqual(sorted(lines()), ['- 401 "GET / HTTP/1.1"', '- 401 "GET / HTTP/1.1"',
                                               'alice 200 "GET / HTTP/1.1"'])

    def test_require_ip_any_of_and_user(self):
        for srv in self.each_mpm():
            r = srv.get("/", host="lan.test")
            self.assertEqual(r.status, 403, r.body)
            self.assertIsNone(r.header("WWW-Authenticate"), "no credentials can help")
            # 127.0.0.1 is in the ip line: no credentials asked
            self.assertEqual(srv.get("/", host="mixed.test").status, 200)
            # only bob
            self.assertEqual(srv.get("/", host="users.test", headers=basic("alice", "s3cret")).status, 401)
            self.assertEqual(srv.get("/", host="users.test", headers=basic("bob", "hunter2")).status, 200)
            srv.wait_log(r"\[client 127\.0\.0\.1:\d+\] AH01630: client denied by server configuration: /")

    @unittest.skipUnless(FAIL2BAN_REGEX, "fail2ban-regex is not installed (apt-get install fail2ban)")
    def test_failed_attempts_are_lines_fail2ban_reads(self):
        mpm = auth_mpms()[0]
        srv = self.server(mpm)
        srv.start()
        srv.get("/admin/", host="priv.test", headers=basic("alice", "wrong"))
        srv.get("/admin/", host="priv.test", headers=basic("mallory", "x"))
        srv.wait_log(r'AH01617: user alice: authentication failure for "/admin/": Password Mismatch')
        srv.wait_log(r"AH01618: user mallory not found: /admin/")
        filt = os.path.join(srv.work, "filter.d", "mpmd-auth.conf")
        os.makedirs(os.path.dirname(filt))
        shutil.copy(FILTER, filt)
        # the filter includes apache-auth.conf and its own includes: next to it, as in /etc/fail2ban
        for name in ("apache-auth.conf", "apache-common.conf", "common.conf"):
            shutil.copy(os.path.join("/etc/fail2ban/filter.d", name), os.path.dirname(filt))
        lines = [l for l in srv.error_log().splitlines() if "AH016" in l]
        self.assertEqual(len(lines), 2, lines)
        log = os.path.join(srv.work, "auth.log")
        with open(log, "w") as f:
            f.write("\n".join(lines) + "\n")
        p = subprocess.run([FAIL2BAN_REGEX, "-v", log, filt], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"Lines: 2 lines, 0 ignored, 2 matched, 0 missed", p.stdout)
        self.assertEqual(len(re.findall(r"^\|\s+127\.0\.0\.1\s", p.stdout, re.M)), 2, p.stdout)

    def test_a_vhosts_failures_go_to_its_own_error_log(self):
        mpm = auth_mpms()[0]
        srv = self.server(mpm)
        own = os.path.join(srv.work, "own-error.log")
        with open(srv.conf) as f:
            text = f.read()
        text = text.replace("[VirtualHost users]\n", f"[VirtualHost users]\nErrorLog = {own}\n", 1)
        with open(srv.conf, "w") as f:
            f.write(text)
        srv.start()
        srv.get("/", host="users.test", headers=basic("bob", "wrong"))
        mpmdtest.wait_for(lambda: os.path.exists(own) and "AH01617: user bob" in open(own).read(), timeout=10,
                 what="the failure in the vhost's own ErrorLog (where its fail2ban jail reads)")
        self.assertNotIn("AH01617: user bob", srv.error_log(), "not in the main server's")

    def test_weak_password_file_is_refused_at_check_and_reload(self):
        mpm = auth_mpms()[0]
        srv = self.server(mpm)
        srv.start()
        self.assertEqual(srv.get("/", host="priv.test", headers=basic("alice", "s3cret")).status, 200)
        # an MD5 entry, as `htpasswd -m` writes it, on line 5
        with open(srv.htpasswd, "a") as f:
            f.write("carol:$apr1$HOlyy8Hq$Wq0Yt.8Ri0N0YZvKGGQqW/\n")
        p = subprocess.run([BINARY, "-t", "-f", srv.conf], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout + p.stderr, re.escape(srv.htpasswd) + r":5: .*carol.*htpasswd -B")
        self.assertEqual((p.stdout + p.stderr).count(srv.htpasswd + ":5:"), 1, "once, though three sites name it")
        # a reload fails and the running configuration keeps serving, with the old users
        p = subprocess.run([MPMCTL, "-s", srv.control, "reload"], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("htpasswd -B", p.stdout + p.stderr)
        self.assertEqual(srv.get("/", host="priv.test", headers=basic("alice", "s3cret")).status, 200)
        self.assertEqual(srv.get("/", host="priv.test").status, 401)

    def test_path_sections_protect_a_part_of_a_site(self):
        files = {"index.html": "open\n", "admin/index.html": "admin page\n", "admin/css/a.css": "css\n",
                 "admin/public/x.txt": "public part\n"}
        for mpm in auth_mpms():
            with self.subTest(mpm=mpm):
                d = tempfile.mkdtemp(prefix="mpmd-auth-loc-")
                self.addCleanup(shutil.rmtree, d, True)
                htpasswd = os.path.join(d, "htpasswd")
                with open(htpasswd, "w") as f:
                    f.write(bcrypt_line("alice", "s3cret") + "\n")
                os.chmod(d, 0o755)
                os.chmod(htpasswd, 0o644)
                locations = (f"\n[Location /admin/]\nAuthType = Basic\nAuthName = \"Admin\"\n"
                             f"AuthUserFile = {htpasswd}\nRequire = valid-user\n"
                             # a narrower section that sets no Require keeps /admin/'s
                             f"\n[Location /admin/css/]\nDefaultType = text/css\n"
                             # one that sets its own replaces it
                             f"\n[Location /admin/public/]\nRequire = all granted\n"
                             f"\n[Location site /private]\nRequire = all denied\n")
                srv = Server(files=files, vhosts="\n[VirtualHost site]\nServerName = site.test\n",
                             config_extra=locations, start=False)
                self.addCleanup(srv.stop)
                if MODULE_DIR:
                    with open(srv.conf) as f:
                        text = f.read()
                    with open(srv.conf, "w") as f:
                        f.write(text.replace(mpmdtest.load_module_line(), mpmdtest.load_module_line(mpm)))
                srv.start()
                self.assertEqual(srv.get("/").status, 200)
                # "/admin" is not under [Location /admin/] (Apache's rule): the redirect to /admin/ shows nothing
                self.assertEqual(srv.get("/admin").status, 301)
                for path in ("/admin/", "/admin//index.html", "/%61dmin/", "/./admin/", "/x/../admin/",
                             "/admin/css/a.css"):
                    r = srv.get(path)
                    self.assertEqual(r.status, 401, f"{path}: {r.status} {r.body!r}")
                    self.assertNotIn(b"admin page", r.body)
                r = srv.get("/admin/", headers=basic("alice", "s3cret"))
                self.assertEqual((r.status, r.body), (200, b"admin page\n"))
                self.assertEqual(srv.get("/admin/public/x.txt").status, 200)
                # the vhost's section is the vhost's: the main server's /private is open (404), the vhost's 403
                self.assertEqual(srv.get("/private/x").status, 404)
                self.assertEqual(srv.get("/private/x", host="site.test").status, 403)
                self.assertEqual(srv.get("/admin/", host="site.test").status, 200, "the main server's section")
                srv.stop()

    def test_user_lines_need_a_user_file(self):
        d = tempfile.mkdtemp(prefix="mpmd-auth-t-")
        self.addCleanup(shutil.rmtree, d, True)
        conf = os.path.join(d, "mpmd.conf")
        with open(conf, "w") as f:
            f.write(f"[Server]\nListen = 127.0.0.1:{mpmdtest.free_port()}\nDocumentRoot = {d}\n"
                    f"{mpmdtest.load_module_line()}AuthType = Basic\nRequire = valid-user\n")
        p = subprocess.run([BINARY, "-t", "-f", conf], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(conf) as f:
            line = next(n for n, text in enumerate(f, 1) if text.startswith("Require"))
        self.assertRegex(p.stdout + p.stderr, re.escape(conf) + rf":{line}: .*Require.*AuthUserFile")


# ---- perchild: one site's password file stays with its own pool ---------------------------------------

OPEN_SCRIPT = r"""#!/usr/bin/python3
import os
path = os.environ.get("QUERY_STRING", "")
try:
    with open(path) as f:
        f.read()
    result = "ALLOWED"
except OSError as e:
    result = f"denied {e.errno}"
print("Content-Type: text/plain\r\n\r\n" + result)
"""


def process_memory_contains(pid, needle):
    """Whether any readable mapping of pid holds needle (bytes): read as root through /proc/PID/mem."""
    found = False
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for line in maps:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if "r" not in fields[1] or (len(fields) > 5 and fields[5] in ("[vvar]", "[vsyscall]")):
                continue
            # The sanitizer build reserves terabytes of shadow memory: a mapping of 1 GiB and more
            # holds no heap of ours (glibc's arenas are 64 MiB), and reading it would never end.
            if end - start >= 1 << 30:
                continue
            # In pieces that overlap by the needle's length, so a match across two is seen.
            pos, tail = start, b""
            while pos < end and not found:
                try:
                    mem.seek(pos)
                    chunk = mem.read(min(16 << 20, end - pos))
                except (OSError, ValueError, OverflowError):
                    break
                if not chunk:
                    break
                found = needle in tail + chunk
                tail = chunk[-(len(needle) - 1):] if len(needle) > 1 else b""
                pos += len(chunk)
    return found


try:
    from test_perchild_paths import SITE_USERS, SitesBase, TwoSites, chown, write
    from test_perchild import perchild_available
    PERCHILD = perchild_available()
except ImportError:  # pragma: no cover
    PERCHILD = False


@unittest.skipUnless(os.geteuid() == 0, "needs root: creates users and starts mpmd as root")
@unittest.skipUnless(shutil.which("setpriv") and shutil.which("useradd"), "needs setpriv and useradd")
@unittest.skipUnless(PERCHILD, "mpmd was built without the perchild MPM")
class PerchildAuthTest(SitesBase if PERCHILD else unittest.TestCase):
    """Site a asks for a password, site b does not; each site's AuthUserFile is its own user's (0600),
    opened as that user when the generation is built. b's hashes are not in a's pool, nor a's CGI's
    reach."""

    def pool_pids(self, srv, k, name="mpmd"):
        import pwd
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
            if st.get("Name") == name and int(st["Uid"].split()[0]) == uid and int(st["PPid"]) == srv.pid:
                out.append(int(pid))
        return out

    def request(self, srv, site, path, headers=""):
        import socket
        with socket.create_connection(("127.0.0.1", srv.port_ab), timeout=10) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {site}.test\r\n{headers}Connection: close\r\n\r\n".encode())
            return mpmdtest.read_response(sock)

    def test_each_sites_file_stays_with_its_pool(self):
        srv = self.server()
        lines = {"a": bcrypt_line("alice", "pw-of-a"), "b": bcrypt_line("bob", "pw-of-b")}
        files = {}
        for (k, name), user in zip(enumerate(("a", "b")), SITE_USERS):
            files[name] = os.path.join(srv.homes[name], "htpasswd")
            write(files[name], lines[name] + "\n", mode=0o600, owner=user)
        cgi = os.path.join(srv.dir, "cgi-a")
        os.mkdir(cgi)
        os.chmod(cgi, 0o755)
        with open(os.path.join(cgi, "open"), "w") as f:
            f.write(OPEN_SCRIPT)
        os.chmod(os.path.join(cgi, "open"), 0o755)
        auth = 'AuthType = Basic\nAuthName = "site {0}"\nAuthUserFile = {1}\n'
        # a: everything behind a password but its CGI directory... which is behind it too; b loads its
        # file (AuthType Basic) and asks nobody
        srv.extra = {"a": auth.format("a", files["a"]) + f"Require = valid-user\nScriptAlias = /cgi-bin/ {cgi}\n",
                     "b": auth.format("b", files["b"])}
        srv.write_conf()
        srv.start()

        self.assertEqual(self.request(srv, "a", "/").status, 401)
        self.assertEqual(self.request(srv, "a", "/", basic("alice", "pw-of-a")).status, 200)
        self.assertEqual(self.request(srv, "a", "/", basic("bob", "pw-of-b")).status, 401, "b's users are not a's")
        r = self.request(srv, "b", "/")
        self.assertEqual((r.status, r.body), (200, b"site b\n"), "a's Require does not apply to b")

        # a's CGI (as a's user) cannot read b's file, and can read a's own
        r = self.request(srv, "a", f"/cgi-bin/open?{files['b']}", basic("alice", "pw-of-a"))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body.strip(), b"denied 13")
        r = self.request(srv, "a", f"/cgi-bin/open?{files['a']}", basic("alice", "pw-of-a"))
        self.assertEqual(r.body.strip(), b"ALLOWED", "the control: the script can open a file")

        # the hashes themselves: b's is in b's pool and nowhere in a's
        hash_a = lines["a"].split(":", 1)[1].encode()
        hash_b = lines["b"].split(":", 1)[1].encode()
        pools_a, pools_b = self.pool_pids(srv, 0), self.pool_pids(srv, 1)
        self.assertTrue(pools_a and pools_b, (pools_a, pools_b))
        for pid in pools_b:
            self.assertTrue(process_memory_contains(pid, hash_b), f"b's pool {pid} lacks b's hash (the control)")
            self.assertFalse(process_memory_contains(pid, hash_a), f"b's pool {pid} holds a's hash")
        for pid in pools_a:
            self.assertTrue(process_memory_contains(pid, hash_a), f"a's pool {pid} lacks a's hash (the control)")
            self.assertFalse(process_memory_contains(pid, hash_b), f"a's pool {pid} holds b's hash")
        # a's CGI launcher (it ran the script above) verifies nothing: it holds no hash at all
        launchers = self.pool_pids(srv, 0, name="mpmd-cgi")
        self.assertTrue(launchers, "a's CGI launcher")
        for pid in launchers:
            self.assertFalse(process_memory_contains(pid, hash_a), f"a's CGI launcher {pid} holds a's hash")
            self.assertFalse(process_memory_contains(pid, hash_b), f"a's CGI launcher {pid} holds b's hash")

        # A reload that starts a new pool for a (its configuration changed) while the supervisor still
        # holds the previous generation's tables: the new pool has neither b's old hash nor its new one.
        lines["b"] = bcrypt_line("bob", "new-pw-of-b")
        write(files["b"], lines["b"] + "\n", mode=0o600, owner=SITE_USERS[1])
        hash_b2 = lines["b"].split(":", 1)[1].encode()
        srv.extra["a"] += "DirectoryIndex = index.html index.htm\n"
        srv.write_conf()
        p = srv.mpmctl("reload")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(self.request(srv, "b", "/").status, 200)
        self.assertEqual(self.request(srv, "a", "/", basic("alice", "pw-of-a")).status, 200)
        new_a = mpmdtest.wait_for(lambda: [pid for pid in self.pool_pids(srv, 0) if pid not in pools_a],
                                  what="a new pool for site a")
        for pid in new_a:
            self.assertTrue(process_memory_contains(pid, hash_a), f"a's new pool {pid} lacks a's hash (the control)")
            self.assertFalse(process_memory_contains(pid, hash_b), f"a's new pool {pid} holds b's old hash")
            self.assertFalse(process_memory_contains(pid, hash_b2), f"a's new pool {pid} holds b's new hash")


if __name__ == "__main__":
    unittest.main()
