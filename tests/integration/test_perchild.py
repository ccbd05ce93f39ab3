# SPDX-License-Identifier: MIT
"""perchild: each site's pool runs as the site's user with nothing else; the dispatcher routes the shared
socket by Host; `mpmctl audit` proves it per process and fails when a check is broken on purpose.

Needs root (it creates two site users and starts mpmd as root) and a build with the perchild MPM
(-Dmpm=perchild, or mpm_perchild.so among the shared MPMs). The supervisor runs under `setpriv` with
exactly the capability bounding set of units/mpmd-perchild.service.in, as systemd would start it."""
import json
import os
import pwd
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import mpmdtest
from mpmdtest import (remove_users, BINARY, MODULE_DIR, MPM, SOURCE_ROOT, Server, alive, children, free_port, read_response,
                      MpmdSocket, descendants_named, wait_for)

MPMCTL = os.environ.get("MPMCTL_BINARY", "build/src/supervisor/mpmctl")
SITE_USERS = ("mpmdtpa", "mpmdtpb")
DISPATCH_USER = "mpmd-dispatch"


# Run as site A or B through CGI: tries everything a compromised site would try against the other and
# prints one line per attempt, "NAME denied ERRNO" or "NAME ALLOWED". argv-free: the targets come in
# the query string (other=ROOT_OF_THE_OTHER_SITE&pid=A_PID_OF_THE_OTHER_POOL).
ATTACK_SCRIPT = r"""#!/usr/bin/python3
import ctypes, errno, os, socket, signal, urllib.parse

q = dict(urllib.parse.parse_qsl(os.environ.get("QUERY_STRING", "")))
other, pid = q["other"], int(q["pid"])
libc = ctypes.CDLL("libc.so.6", use_errno=True)
out = []

def attempt(name, fn):
    try:
        r = fn()
        out.append(f"{name} ALLOWED {r!r}")
    except OSError as e:
        out.append(f"{name} denied {errno.errorcode.get(e.errno, e.errno)}")

def ptrace():
    if libc.ptrace(16, pid, None, None) != 0:  # PTRACE_ATTACH
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))

def setuid0():
    if libc.setuid(0) != 0:  # the raw call: Python's os.setuid would say the same
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))

attempt("read-other-file", lambda: open(os.path.join(other, "private.txt")).read())
attempt("write-other-root", lambda: open(os.path.join(other, "planted.html"), "w").write("x"))
attempt("signal-other-pool", lambda: os.kill(pid, signal.SIGTERM))
attempt("ptrace-other-pool", ptrace)
attempt("setuid-0", setuid0)
attempt("raw-socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
with open("/proc/self/status") as f:
    st = dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)
out.append(f"uid {st['Uid'].split()[0]}")
out.append(f"CapEff {st['CapEff']} CapBnd {st['CapBnd']} NoNewPrivs {st['NoNewPrivs']} Seccomp {st['Seccomp']}")
own = os.environ["DOCUMENT_ROOT"]
out.append("own-file " + open(os.path.join(own, "private.txt")).read().strip())
print("Content-Type: text/plain\n")
print("\n".join(out))
"""


def perchild_available():
    if MODULE_DIR:
        return os.path.exists(os.path.join(MODULE_DIR, "mpm_perchild.so"))
    return MPM == "perchild"


def load_line():
    if not MODULE_DIR:
        return ""
    return f"LoadModule = mpm_perchild_module {os.path.join(MODULE_DIR, 'mpm_perchild.so')}\n"


def unit_bounding_set():
    """CapabilityBoundingSet= of the shipped perchild unit, as setpriv --bounding-set wants it."""
    with open(os.path.join(SOURCE_ROOT, "units", "mpmd-perchild.service.in")) as f:
        caps = next(line.split("=", 1)[1].split() for line in f if line.startswith("CapabilityBoundingSet="))
    return "-all," + ",".join("+" + c.lower().removeprefix("cap_") for c in caps)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def tree_processes(pid):
    """Every process of the tree under pid, pid included, each as (pid, uid, comm, parent); those
    that end while read are left out."""
    out = []
    for p in [pid] + mpmdtest.descendants(pid):
        try:
            st = status(p)
            out.append((p, int(st["Uid"].split()[0]), st["Name"], int(st["PPid"])))
        except (OSError, KeyError):
            pass
    return out


def create_users():
    """The two site users (fresh) and the dispatcher's (if missing); returns the names created."""
    return mpmdtest.create_users(SITE_USERS, DISPATCH_USER)


class PerchildServer(Server):
    """mpmd with the perchild MPM, two sites with users of their own, started as root the way the unit does."""

    def __init__(self, bounding=None, error_log=None, perchild_keys=""):
        super().__init__(start=False)
        self.bounding_set = unit_bounding_set() if bounding is None else bounding  # as the unit starts it
        self.port_a = free_port()
        self.sites = {}
        self.cgi_dirs = {}
        for name, user in zip(("a", "b"), SITE_USERS):
            pw = pwd.getpwnam(user)
            root = os.path.join(self.dir, name)
            os.mkdir(root)
            with open(os.path.join(root, "index.html"), "w") as f:
                f.write(f"site {name}\n")
            with open(os.path.join(root, "private.txt"), "w") as f:
                f.write(f"secret of {name}\n")
            os.chmod(os.path.join(root, "private.txt"), 0o600)
            for path in (root, os.path.join(root, "index.html"), os.path.join(root, "private.txt")):
                os.chown(path, pw.pw_uid, pw.pw_gid)
            os.chmod(root, 0o755)
            # The CGI directory belongs to root: the site may run its programs, not change them.
            cgi = os.path.join(self.dir, f"cgi-{name}")
            os.mkdir(cgi)
            os.chmod(cgi, 0o755)
            with open(os.path.join(cgi, "attack.py"), "w") as f:
                f.write(ATTACK_SCRIPT)
            os.chmod(os.path.join(cgi, "attack.py"), 0o755)
            self.sites[name] = (root, pw)
            self.cgi_dirs[name] = cgi
        self.control = os.path.join(self.dir, "control")
        with open(self.conf, "w") as f:
            f.write(f"[Server]\nServerName = localhost\nListen = 127.0.0.1:{self.port}\nDocumentRoot = {self.root}\n"
                    f"ErrorLog = {error_log or self.log}\nLogLevel = debug\nUser = nobody\nControlSocket = {self.control}\n"
                    f"{load_line()}\n[perchild]\nStartServers = 2\n{perchild_keys}")
            f.write(f"\n[VirtualHost a]\nServerName = a.test\nDocumentRoot = {self.sites['a'][0]}\n"
                    f"User = {SITE_USERS[0]}\nGroup = {SITE_USERS[0]}\nListen = 127.0.0.1:{self.port_a}\n"
                    f"PoolProcesses = 3\nScriptAlias = /cgi-bin/ {self.cgi_dirs['a']}\n")
            f.write(f"\n[VirtualHost b]\nServerName = b.test\nDocumentRoot = {self.sites['b'][0]}\n"
                    f"User = {SITE_USERS[1]}\nGroup = {SITE_USERS[1]}\nScriptAlias = /cgi-bin/ {self.cgi_dirs['b']}\n")

    def uid_of(self, site):
        return self.sites[site][1].pw_uid

    def processes(self, uid, comm="mpmd"):
        """The supervisor's children running as uid: workers (comm mpmd) or CGI launchers (mpmd-cgi)."""
        return [p for p in children(self.pid) if int(status(p)["Uid"].split()[0]) == uid and status(p)["Name"] == comm]

    def wait_pool(self, uid, n=2, timeout=20, exclude=(), comm="mpmd"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = [p for p in self.processes(uid, comm) if p not in exclude]
            if len(pids) >= n:
                return pids
            time.sleep(0.1)
        raise AssertionError(f"pool of uid {uid} never had {n} new processes: {self.processes(uid)}")

    def get_on(self, port, path, host):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            return read_response(s)

    def audit(self, *args):
        return subprocess.run([MPMCTL, "-s", self.control, "audit", *args], capture_output=True, text=True,
                              timeout=30)

    def audit_json(self, *args):
        """`mpmctl audit --json`: the completed process, and its processes (each a dict) by role."""
        p = self.audit("--json", *args)
        procs = json.loads(p.stdout)["processes"] if p.stdout else []
        return p, procs


@unittest.skipUnless(os.geteuid() == 0, "needs root: creates users and starts mpmd as root")
@unittest.skipUnless(shutil.which("setpriv") and shutil.which("useradd"), "needs setpriv and useradd")
@unittest.skipUnless(perchild_available(), "mpmd was built without the perchild MPM")
class PerchildTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.created = create_users()
        cls.srv = PerchildServer()
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        remove_users(cls.created)

    # -- routing -------------------------------------------------------------------------------------
    def test_dedicated_socket_and_dispatcher_reach_the_right_site(self):
        srv = self.srv
        r = srv.get_on(srv.port_a, "/private.txt", "a.test")
        self.assertEqual((r.status, r.body), (200, b"secret of a\n"))
        r = srv.get_on(srv.port, "/private.txt", "b.test")
        self.assertEqual((r.status, r.body), (200, b"secret of b\n"))
        r = srv.get_on(srv.port, "/", "localhost")
        self.assertEqual((r.status, r.body), (200, b"<h1>hello</h1>\n"))
        # a.test has a socket of its own: on the shared one it is not there, and its pool never
        # sees the connection; nor does another site's pool (see below).
        r = srv.get_on(srv.port, "/private.txt", "a.test")
        self.assertEqual(r.status, 421)

    def test_a_name_no_site_has_is_answered_by_the_dispatcher(self):
        # Apache's rule would give these to the first site of the address (here the main server,
        # which in other configurations is a tenant's): under perchild they get 421 and no pool
        # sees them, unless DefaultSite names the site that takes them.
        srv = self.srv
        for head in (b"Host: nobody.test\r\n", b"Host: 127.0.0.1\r\n", b"Host: [::1]\r\n", b"Host: b.test.x\r\n",
                     b"Host: a.test\r\n", b""):
            with srv.connect() as s:
                version = b"1.1" if head else b"1.0"
                s.sendall(b"GET /index.html HTTP/" + version + b"\r\n" + head + b"\r\n")
                r = read_response(s)
                self.assertEqual(r.status, 421, head)
                self.assertEqual(r.header("connection"), "close")
                self.assertEqual(s.recv(100), b"", head)
        # "b.test." is b.test (a fully qualified name); "b.test.." is no name at all.
        self.assertEqual(srv.get_on(srv.port, "/index.html", "b.test.").status, 200)
        self.assertEqual(srv.get_on(srv.port, "/index.html", "b.test..").status, 400)
        # On a site's own socket Apache's rule stays: only that site's pool holds the socket.
        self.assertEqual(srv.get_on(srv.port_a, "/index.html", "nobody.test").body, b"site a\n")

    def test_default_site_takes_the_names_no_site_has(self):
        with PerchildServer(perchild_keys="DefaultSite = b\n") as other:
            other.start()
            for host in ("nobody.test", "127.0.0.1", "a.test"):
                r = other.get_on(other.port, "/index.html", host)
                self.assertEqual((r.status, r.body), (200, b"site b\n"), host)
            # A kept-alive connection of b's pool: a name no site has is b's, another site's is not.
            with other.connect() as s:
                for host, status in ((b"b.test", 200), (b"nobody.test", 200), (b"localhost", 421)):
                    s.sendall(b"GET /index.html HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
                    self.assertEqual(read_response(s).status, status, host)

    def test_default_site_must_name_a_virtual_host(self):
        bad = PerchildServer(perchild_keys="DefaultSite = nosuch\n")
        try:
            p = subprocess.run([BINARY, "-t", "-f", bad.conf], capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            with open(bad.conf) as f:
                line = f.read().splitlines().index("DefaultSite = nosuch") + 1
            self.assertIn(f"{bad.conf}:{line}: [perchild] DefaultSite: no [VirtualHost nosuch]", p.stderr)
        finally:
            bad.stop()

    def test_keepalive_request_for_another_site_gets_421(self):
        with self.srv.connect() as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: b.test\r\n\r\n")
            r = read_response(s)
            self.assertEqual((r.status, r.body), (200, b"site b\n"))
            s.sendall(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
            r = read_response(s)
            self.assertEqual(r.status, 421)
            self.assertEqual(r.header("connection"), "close")
            self.assertEqual(s.recv(100), b"")

    def test_malformed_head_through_the_dispatcher_gets_400(self):
        r = self.srv.request(b"GET /\x01 HTTP/1.1\r\nHost: b.test\r\n\r\n")
        self.assertEqual(r.status, 400)
        self.assertEqual(r.header("connection"), "close")
        self.assertEqual(r.header("server"), "mpmd")
        self.assertTrue(r.header("date"))
        r = self.srv.request(b"GET / HTTP/1.1\r\nHost: b.test\r\nNo colon here\r\n\r\n")
        self.assertEqual(r.status, 400)
        # The same request on a pool's own socket gets the same answer from the engine.
        with socket.create_connection(("127.0.0.1", self.srv.port_a), timeout=10) as s:
            s.sendall(b"GET /\x01 HTTP/1.1\r\nHost: a.test\r\n\r\n")
            self.assertEqual(read_response(s).status, 400)

    # -- what each process holds ---------------------------------------------------------------------
    def assert_sandboxed(self, pid, uid):
        st = status(pid)
        self.assertEqual(st["Uid"].split(), [str(uid)] * 4, pid)
        for cap in ("CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"):
            self.assertEqual(int(st[cap], 16), 0, f"{cap} of {pid}")
        self.assertEqual(st["NoNewPrivs"], "1")
        self.assertEqual(st["Seccomp"], "2")

    def test_pools_run_as_their_site_with_nothing(self):
        # a: its own PoolProcesses = 3; b: [perchild] StartServers = 2.
        for site, n in (("a", 3), ("b", 2)):
            uid = self.srv.uid_of(site)
            pids = self.srv.wait_pool(uid, n=n)
            self.assertEqual(len(pids), n)
            for pid in pids:
                self.assert_sandboxed(pid, uid)
                self.assertEqual(status(pid)["Gid"].split(), [str(self.srv.sites[site][1].pw_gid)] * 4)

    def test_dispatcher_runs_as_its_user_with_nothing(self):
        uid = pwd.getpwnam(DISPATCH_USER).pw_uid
        pids = self.srv.wait_pool(uid, n=1)
        self.assertEqual(len(pids), 1)
        self.assert_sandboxed(pids[0], uid)
        # It holds no document root at all: only sockets, its own plumbing and the error log it
        # writes to (opened by the supervisor, append-only).
        targets = [os.readlink(f"/proc/{pids[0]}/fd/{fd}") for fd in os.listdir(f"/proc/{pids[0]}/fd")]
        self.assertFalse([t for t in targets if t.startswith(self.srv.dir) and t != self.srv.log], targets)

    def dispatcher_pid(self, srv):
        return srv.wait_pool(pwd.getpwnam(DISPATCH_USER).pw_uid, n=1)[0]

    def test_a_client_cannot_hold_every_dispatcher_connection(self):
        # Slowloris from one address: beyond DispatcherConnectionsPerClient unfinished heads, its new
        # connections are refused at once; another client is served meanwhile.
        with PerchildServer(perchild_keys="DispatcherConnectionsPerClient = 8\n") as srv:
            srv.start()
            slow = []
            try:
                for _ in range(30):
                    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
                    s.sendall(b"GET /index.html HTTP/1.1\r\nHost: b.te")
                    slow.append(s)
                # The refused ones are readable (end of stream or reset); the others wait for a head.
                wait_for(lambda: len(select.select(slow, [], [], 0)[0]) >= 22, timeout=10,
                         what="the dispatcher refusing the connections past its share")
                refused = 0
                for s in slow:
                    s.settimeout(0.2)
                    try:
                        refused += s.recv(100) == b""
                    except ConnectionResetError:
                        refused += 1
                    except socket.timeout:
                        pass
                self.assertEqual(refused, 22)
                with socket.create_connection(("127.0.0.1", srv.port), timeout=10,
                                              source_address=("127.0.0.2", 0)) as other:
                    other.sendall(b"GET /index.html HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n")
                    self.assertEqual(read_response(other).body, b"site b\n")
                # Finishing its heads frees the client's share.
                for s in slow:
                    s.close()
                self.assertEqual(srv.get_on(srv.port, "/index.html", "b.test").status, 200)
                srv.wait_log(r"client 127\.0\.0\.1 holds DispatcherConnectionsPerClient \(8\) connections")
            finally:
                for s in slow:
                    s.close()

    def test_dispatcher_out_of_descriptors_pauses_and_recovers(self):
        # At the descriptor limit the dispatcher stops accepting for a while instead of spinning on
        # a listener that stays readable, says so once, and takes connections again when some end.
        with PerchildServer(perchild_keys="DispatcherConnectionsPerClient = 0\n") as srv:
            srv.wrapper = ["prlimit", "--nofile=64:64", "--"]
            srv.start()
            dispatcher = self.dispatcher_pid(srv)
            slow = []
            try:
                for _ in range(120):
                    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
                    s.sendall(b"GET /index.html HTTP/1.1\r\nHost: b.te")
                    slow.append(s)
                srv.wait_log(r"accept on \S+: Too many open files; pausing accepts")
                before = cpu_seconds(dispatcher)
                time.sleep(3)  # the period whose CPU time is measured: what is tested
                # Spinning costs a core; a paused dispatcher wakes a few times a second.
                self.assertLess(cpu_seconds(dispatcher) - before, 1.0)
                with open(srv.log) as f:
                    self.assertEqual(len(re.findall("pausing accepts", f.read())), 1)
                for s in slow:
                    s.close()
                slow = []
                r = srv.get_on(srv.port, "/index.html", "b.test")
                self.assertEqual((r.status, r.body), (200, b"site b\n"))
                srv.wait_log(r"accepting on \S+ again")
            finally:
                for s in slow:
                    s.close()

    def test_pool_a_holds_only_its_own_root(self):
        root_a, root_b = self.srv.sites["a"][0], self.srv.sites["b"][0]
        for pid in self.srv.wait_pool(self.srv.uid_of("a")):
            targets = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
            self.assertIn(root_a, targets)
            self.assertNotIn(root_b, targets)
            self.assertNotIn(self.srv.root, targets)
        # Nor can its user open B's file: the file is B's alone.
        r = subprocess.run(["setpriv", f"--reuid={self.srv.uid_of('a')}", f"--regid={self.srv.uid_of('a')}",
                            "--clear-groups", "cat", os.path.join(root_b, "private.txt")], capture_output=True)
        self.assertNotEqual(r.returncode, 0)
        # Asked for b.test, A's socket serves A (b.test is not reachable there), never B's file.
        r = self.srv.get_on(self.srv.port_a, "/private.txt", "b.test")
        self.assertEqual(r.body, b"secret of a\n")

    def test_cgi_runs_as_its_site_and_cannot_reach_the_other(self):
        srv = self.srv
        for me, other, port, host in (("a", "b", srv.port_a, "a.test"), ("b", "a", srv.port, "b.test")):
            victim = srv.wait_pool(srv.uid_of(other), n=1)[0]
            r = srv.get_on(port, f"/cgi-bin/attack.py?other={srv.sites[other][0]}&pid={victim}", host)
            self.assertEqual(r.status, 200, r.body)
            lines = dict(line.split(" ", 1) for line in r.body.decode().splitlines() if line)
            expect = {
                "read-other-file": "denied EACCES",       # 0600, the other site's user
                "write-other-root": "denied EACCES",      # 0755, the other site's user
                "signal-other-pool": "denied EPERM",      # another uid
                "ptrace-other-pool": "denied EPERM",      # another uid, and the filter
                "setuid-0": "denied EPERM",               # no capability, and the filter
                "raw-socket": "denied EPERM",             # no CAP_NET_RAW
            }
            for name, want in expect.items():
                self.assertEqual(lines.get(name), want, f"site {me}: {name}: {r.body.decode()}")
            self.assertEqual(lines["uid"], str(srv.uid_of(me)))
            self.assertEqual(lines["CapEff"], "0000000000000000 CapBnd 0000000000000000 NoNewPrivs 1 Seccomp 2")
            self.assertEqual(lines["own-file"], f"secret of {me}")
            self.assertTrue(alive(victim))
            self.assertFalse(os.path.exists(os.path.join(srv.sites[other][0], "planted.html")))

    def test_cgi_launchers_run_as_their_site_with_nothing(self):
        for site in ("a", "b"):
            uid = self.srv.uid_of(site)
            pids = self.srv.wait_pool(uid, n=1, comm="mpmd-cgi")
            self.assertEqual(len(pids), 1)
            self.assert_sandboxed(pids[0], uid)

    # -- audit ---------------------------------------------------------------------------------------
    def test_audit_passes(self):
        self.srv.wait_pool(self.srv.uid_of("a"), n=3)
        table = self.srv.audit()
        self.assertEqual(table.returncode, 0, table.stdout + table.stderr)
        self.assertRegex(table.stdout, r"(?m)^pool a +\d+ +%s +- +yes +filter +- +PASS$" % pwd.getpwuid(self.srv.uid_of("a")).pw_name)
        self.assertNotIn("FAIL", table.stdout)
        p, procs = self.srv.audit_json()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        roles = [x["role"] for x in procs if x["verdict"] == "PASS"]
        self.assertIn("supervisor", roles)
        self.assertEqual(roles.count("dispatcher"), 1)
        self.assertEqual(roles.count("pool a"), 3)
        self.assertEqual(roles.count("pool b"), 2)
        self.assertEqual(roles.count("pool [Server]"), 2)
        # The CGI launchers are processes of the service too, each under its site's user.
        self.assertEqual(roles.count("cgi launcher a"), 1)
        self.assertEqual(roles.count("cgi launcher b"), 1)
        launcher_a = [x for x in procs if x["role"] == "cgi launcher a"][0]
        self.assertEqual(launcher_a["uid"], [self.srv.uid_of("a")] * 4, p.stdout)
        # No site has an upstream: no pool nor the dispatcher may connect; CGI programs may.
        self.assertEqual({tuple(x["connect"]) for x in procs if x["role"].startswith(("pool ", "dispatcher"))}, {()})
        self.assertEqual(launcher_a["connect"], ["unix", "inet", "inet6"])

    def test_audit_checks_running_cgi_programs(self):
        # A program that is running shows up under its launcher, with the site's ids and sandbox
        # and its output and error on pipes; one that put a file of its own where its stderr was
        # fails (the audit cannot tell it from a log handed to it).
        srv = self.srv
        cgi = srv.cgi_dirs["a"]
        for name, redirect in (("linger.sh", ""), ("own-stderr.sh", 'exec 2>>"$DOCUMENT_ROOT/own.log"\n')):
            with open(os.path.join(cgi, name), "w") as f:
                f.write(f"#!/bin/sh\n{redirect}sleep 3\nprintf 'Content-Type: text/plain\\n\\ndone\\n'\n")
            os.chmod(os.path.join(cgi, name), 0o755)
        launcher = srv.wait_pool(srv.uid_of("a"), n=1, comm="mpmd-cgi")[0]
        for name, passes in (("linger.sh", True), ("own-stderr.sh", False)):
            t = threading.Thread(target=srv.get_on, args=(srv.port_a, f"/cgi-bin/{name}", "a.test"), daemon=True)
            t.start()
            deadline = time.monotonic() + 10
            while not children(launcher) and time.monotonic() < deadline:
                time.sleep(0.05)
            # The script's `sleep` runs once it is past its exec and its redirection.
            wait_for(lambda: descendants_named(launcher, "sleep"), timeout=10, what=f"{name} running its sleep")
            p = srv.audit()
            t.join(timeout=10)
            lines = re.findall(r'^cgi program of cgi launcher a .*$', p.stdout, re.M)
            self.assertEqual(len(lines), 1, p.stdout)
            self.assertRegex(lines[0], rf"^cgi program of cgi launcher a +\d+ +{pwd.getpwuid(srv.uid_of('a')).pw_name} ")
            if passes:
                self.assertTrue(lines[0].endswith(" PASS"), lines[0])
                self.assertEqual(p.returncode, 0, p.stdout)
                self.assertIn("(1 CGI program(s) among them): 0 failed", p.stdout)
            else:
                self.assertTrue(lines[0].endswith(" FAIL"), lines[0])
                self.assertRegex(p.stdout, r"(?m)^  cgi program of cgi launcher a \(pid \d+\): "
                                           r"stderr is /\S+/own\.log, not a pipe$")
                self.assertEqual(p.returncode, 1, p.stdout)

    def test_audit_fails_when_a_pool_is_not_what_the_operator_expects(self):
        # Pin pool b to A's uid: the audit must notice that B's processes run as someone else.
        p = self.srv.audit("--expect-uid", f"pool b={self.srv.uid_of('a')}")
        self.assertEqual(p.returncode, 1, p.stdout)
        fails = re.findall(r'^  (.+) \(pid \d+\): (.*)$', p.stdout[p.stdout.index("\nFailures:\n"):], re.M)
        self.assertEqual(sorted(r for r, _ in fails), ["pool b", "pool b"], p.stdout)
        self.assertIn(f"expected {self.srv.uid_of('a')}", fails[0][1])
        self.assertEqual(len(re.findall(r"(?m)^pool b .* FAIL$", p.stdout)), 2, p.stdout)
        j, procs = self.srv.audit_json("--expect-uid", f"pool b={self.srv.uid_of('a')}")
        self.assertEqual(j.returncode, 1, j.stdout)
        self.assertEqual(sorted(x["role"] for x in procs if x["verdict"] == "FAIL"), ["pool b", "pool b"])

    def test_audit_fails_for_a_supervisor_beyond_what_is_allowed(self):
        # Started as plain root with the full bounding set, the supervisor keeps what perchild needs
        # (test_privileges.py); an operator who allows it less sees it fail, and only it.
        with PerchildServer(bounding="+all") as loose:
            loose.start()
            loose.wait_pool(loose.uid_of("b"))
            p = loose.audit("--supervisor-caps", "CAP_SETUID CAP_SETGID CAP_KILL")
            self.assertEqual(p.returncode, 1, p.stdout)
            fails = re.findall(r'^  (.+) \(pid \d+\): (.*)$', p.stdout[p.stdout.index("\nFailures:\n"):], re.M)
            self.assertEqual([r for r, _ in fails], ["supervisor"], p.stdout)
            self.assertIn("CapBnd", fails[0][1])
            self.assertEqual(re.findall(r"(?m)^(.+?) +\d+ .* FAIL$", p.stdout), ["supervisor"], p.stdout)

    def test_supervisor_needs_cap_setpcap(self):
        # Without CAP_SETPCAP the bounding set cannot be emptied before the id change, and the
        # sandbox refuses to start a pool: the unit must keep it.
        bounding = ",".join(c for c in unit_bounding_set().split(",") if c != "+setpcap")
        # ErrorLog = stderr: the processes' messages come back through the supervisor's output.
        with PerchildServer(bounding=bounding, error_log="stderr") as weak:
            with self.assertRaises(AssertionError) as failed:
                weak.start()
            weak.proc.wait(timeout=20)
            self.assertNotEqual(weak.proc.returncode, 0)
            out = str(failed.exception)  # carries mpmd's output
            # The supervisor finds out when it opens a site's paths as the site (site-open.h), or
            # else when a pool starts.
            self.assertRegex(out, r'((pool|dispatcher) [^:]*: Sandbox step "bounding set" failed, refusing to serve|'
                                  r'identity of virtual host \w+ \(user \w+\) to open its paths: '
                                  r'sandbox step "bounding set" failed): Operation not permitted')

    # -- crashes do not spread -------------------------------------------------------------------
    def keep_requesting(self, port, host, stop, failures, served):
        while not stop.is_set():
            try:
                r = self.srv.get_on(port, "/", host)
                if r.status != 200:
                    failures.append(r.status)
                else:
                    served.append(1)
            except OSError as e:
                failures.append(str(e))
            time.sleep(0.02)

    def run_disturbance(self, victim_site, other_port, other_host, disturb):
        victim_uid = self.srv.uid_of(victim_site)
        before = self.srv.wait_pool(victim_uid)
        stop, failures, served = threading.Event(), [], []
        t = threading.Thread(target=self.keep_requesting, args=(other_port, other_host, stop, failures, served))
        t.start()
        try:
            wait_for(lambda: len(served) >= 5 or failures, timeout=10, what="the other site being served")
            victim = before[0]
            disturb(victim)
            deadline = time.monotonic() + 20
            while alive(victim) and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertFalse(alive(victim), "the disturbed process is still there")
            after = self.srv.wait_pool(victim_uid, n=len(before))
            self.assertNotIn(victim, after)
            n = len(served)
            wait_for(lambda: len(served) >= n + 10 or failures, timeout=10,
                     what="the other site still served after the replacement")
        finally:
            stop.set()
            t.join()
        self.assertEqual(failures, [])
        self.assertIsNone(self.srv.proc.poll(), "the supervisor died")
        r = self.srv.get_on(self.srv.port, "/", f"{victim_site}.test") if victim_site == "b" else \
            self.srv.get_on(self.srv.port_a, "/", "a.test")
        self.assertEqual((r.status, r.body), (200, f"site {victim_site}\n".encode()))

    def test_killing_a_pool_worker_disturbs_nothing_else(self):
        self.run_disturbance("a", self.srv.port, "b.test", lambda pid: os.kill(pid, signal.SIGKILL))

    def test_scribbling_on_a_scoreboard_disturbs_nothing_else(self):
        def scribble(pid):
            # The worker's own segment, through its memory: what a compromised pool could do.
            with open(f"/proc/{pid}/maps") as f:
                start = next(int(line.split("-")[0], 16) for line in f if "mpmd-scoreboard" in line)
            with open(f"/proc/{pid}/mem", "r+b", buffering=0) as mem:
                mem.seek(start)
                mem.write(b"\xff" * 256)
        self.run_disturbance("b", self.srv.port_a, "a.test", scribble)


@unittest.skipUnless(perchild_available(), "mpmd was built without the perchild MPM")
class PerchildConfigTest(unittest.TestCase):
    def check(self, vhost):
        d = tempfile.mkdtemp(prefix="mpmd-perchild-conf-")
        try:
            conf = os.path.join(d, "mpmd.conf")
            with open(conf, "w") as f:
                f.write(f"[Server]\nListen = 127.0.0.1:{free_port()}\nDocumentRoot = {d}\n{load_line()}\n"
                        f"[VirtualHost x]\nServerName = x.test\n{vhost}")
            return subprocess.run([BINARY, "-t", "-f", conf], capture_output=True, text=True, timeout=20)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_user_without_group_is_an_error(self):
        p = self.check("User = nobody\n")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("[VirtualHost x] User: MPM perchild needs User and Group together (Group is missing)", p.stderr)

    def test_root_site_is_an_error(self):
        p = self.check("User = root\nGroup = root\n")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('[VirtualHost x] User: "root" has uid 0, below MinUID 1000', p.stderr)
        # MinUID = 0 does not make root acceptable.
        p = self.check("User = root\nGroup = root\n[Server]\nMinUID = 0\nMinGID = 0\n")
        self.assertIn('[VirtualHost x] User: "root" is root; a site never runs as root', p.stderr)
        self.assertIn('[VirtualHost x] Group: "root" is gid 0', p.stderr)


if __name__ == "__main__":
    unittest.main()
