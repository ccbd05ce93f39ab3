# SPDX-License-Identifier: MIT
"""perchild: per-site limits without cgroups (issue 19). Each site's CGI programs run under
RLIMIT_NPROC = MaxProcesses, RLIMIT_AS = MemoryMax and RLIMIT_CPU = MaxProgramSeconds, set by the
site's launcher before the exec; a program that double-forks with setsid stays the launcher's (a
child subreaper) and is killed at CGITimeout; after mpmctl stop no process of any site remains;
each site's programs get a TMPDIR of their own (0700, the site's).

Needs root, setpriv and useradd, like test_perchild.py, whose PerchildServer it reuses."""
import os
import re
import shutil
import socket
import subprocess
import threading
import unittest

from mpmdtest import alive, children, descendants_named, read_response, wait_for
from test_perchild import MPMCTL, SITE_USERS, PerchildServer, create_users, load_line, perchild_available, status

# Forks children that wait, until a fork fails; then holds them a while so that the test can probe
# the other site meanwhile, and reports.
FORK_SCRIPT = r"""#!/usr/bin/python3
import errno, os, signal, sys, time
kids, err = [], None
for i in range(400):
    try:
        pid = os.fork()
    except OSError as e:
        err = errno.errorcode.get(e.errno, e.errno)
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    kids.append(pid)
time.sleep(2)
for pid in kids:
    os.kill(pid, signal.SIGKILL)
for pid in kids:
    os.waitpid(pid, 0)
print("Content-Type: text/plain\n")
print(f"forked {len(kids)} error {err}")
"""

# Maps 512 MiB without touching it (no CPU time spent: site b's MaxProgramSeconds is 1), or with
# ?touch allocates it as Python would.
ALLOC_SCRIPT = r"""#!/usr/bin/python3
import errno, mmap, os
if os.environ.get("QUERY_STRING") == "touch":
    try:
        b = bytearray(512 * 1024 * 1024)
        r = f"allocated {len(b)}"
    except MemoryError:
        r = "MemoryError"
else:
    try:
        m = mmap.mmap(-1, 512 * 1024 * 1024)
        r = f"mapped {len(m)}"
    except OSError as e:
        r = "mmap " + errno.errorcode.get(e.errno, str(e.errno))
print("Content-Type: text/plain\n")
print(r)
"""

# The burner is a child, so that the program itself can say how it ended.
CPU_SCRIPT = r"""#!/usr/bin/python3
import os, signal, sys
ignore = os.environ.get("QUERY_STRING") == "ignore"
pid = os.fork()
if pid == 0:
    if ignore:
        signal.signal(signal.SIGXCPU, signal.SIG_IGN)
    while True:
        pass
_, st = os.waitpid(pid, 0)
print("Content-Type: text/plain\n")
print(f"signal {os.WTERMSIG(st) if os.WIFSIGNALED(st) else 'none'}")
"""

# Leaves a daemon behind (fork, setsid, fork) and answers at once with its pid.
DAEMON_SCRIPT = r"""#!/usr/bin/python3
import os, sys, time
r, w = os.pipe()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.write(w, str(os.getpid()).encode())
        os.close(w)
        time.sleep(120)
        os._exit(0)
    os._exit(0)
os.close(w)
pid = os.read(r, 32).decode()
print("Content-Type: text/plain\n")
print(f"daemon {pid}")
"""

TMPDIR_SCRIPT = r"""#!/usr/bin/python3
import os, stat
d = os.environ.get("TMPDIR", "")
st = os.stat(d)
print("Content-Type: text/plain\n")
print(f"{d} {stat.S_IMODE(st.st_mode):o} {st.st_uid} {st.st_gid}")
print(open("/proc/self/limits").read())
"""

SLEEP_SCRIPT = "#!/bin/sh\nsleep 2\nprintf 'Content-Type: text/plain\\n\\ndone\\n'\n"

SCRIPTS = {"sleep.sh": SLEEP_SCRIPT, "fork.py": FORK_SCRIPT, "alloc.py": ALLOC_SCRIPT, "cpu.py": CPU_SCRIPT, "daemon.py": DAEMON_SCRIPT,
           "tmpdir.py": TMPDIR_SCRIPT}

CGI_TIMEOUT = 3
KILL_GRACE = 2  # the launcher's, from SIGTERM to SIGKILL

# Site b's MaxProgramSeconds, and the CPU-seconds a program that ignores SIGXCPU gets before the
# kernel's SIGKILL: the hard RLIMIT_CPU is the soft one plus SITE_LIMITS_CPU_GRACE_SEC (site-limits.h).
CPU_SECONDS_B = 1
CPU_HARD_B = CPU_SECONDS_B + 5
# How long cpu.py may take to answer: its CPU-seconds are wall seconds only on an idle core; on a
# loaded machine (2 cores shared with other builds) 6 CPU-seconds took more than the 10 s of an
# ordinary read, so the bound is the CPU it needs plus generous slack. It is larger than site b's
# CGITimeout (the default, 60 s) on purpose: were RLIMIT_CPU not enforced, the burner would spin
# until CGITimeout ends its group with SIGTERM, and that 504 arrives (and fails the test) within it.
CPU_READ_TIMEOUT = CPU_HARD_B + 60


class LimitsServer(PerchildServer):
    """Site a: the [perchild] defaults given here, CGITimeout 3 s; site b overrides some of them."""

    def __init__(self):
        super().__init__(perchild_keys="MaxProcesses = 40\nMemoryMax = 256M\nMaxProgramSeconds = 30\n")
        with open(self.conf) as f:
            conf = f.read()
        conf = conf.replace("PoolProcesses = 3\n", f"PoolProcesses = 3\nCGITimeout = {CGI_TIMEOUT}\n")
        # [VirtualHost b] is the last section.
        conf += f"MaxProcesses = 100\nMemoryMax = 0\nMaxProgramSeconds = {CPU_SECONDS_B}\n"
        with open(self.conf, "w") as f:
            f.write(conf)
        for site in ("a", "b"):
            for name, text in SCRIPTS.items():
                path = os.path.join(self.cgi_dirs[site], name)
                with open(path, "w") as f:
                    f.write(text)
                os.chmod(path, 0o755)

    def get(self, site, path, timeout=None):
        """GET path from site; timeout: the bound on connecting and on each read, if not get_on()'s."""
        port, host = (self.port_a, "a.test") if site == "a" else (self.port, "b.test")
        if timeout is None:
            return self.get_on(port, path, host)
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            return read_response(s, timeout=timeout)

    def graceful_stop(self):
        p = subprocess.run([MPMCTL, "-s", self.control, "stop"], capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"mpmctl stop: {p.stdout}{p.stderr}")
        self.proc.wait(timeout=60)


def site_strays(uid):
    """Processes of uid that are neither a pool process nor a launcher: what programs left."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            st = status(int(entry))
        except OSError:
            continue
        if int(st["Uid"].split()[0]) == uid and st["Name"] not in ("mpmd", "mpmd-cgi") and st["State"][0] != "Z":
            out.append(int(entry))
    return out


def kill_strays():
    """Whatever a failed test left of the sites' programs, found by their uid."""
    import pwd
    for user in SITE_USERS:
        try:
            uid = pwd.getpwnam(user).pw_uid
        except KeyError:
            continue
        for pid in site_strays(uid):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass


@unittest.skipUnless(os.geteuid() == 0, "needs root: creates users and starts mpmd as root")
@unittest.skipUnless(shutil.which("setpriv") and shutil.which("useradd"), "needs setpriv and useradd")
@unittest.skipUnless(perchild_available(), "mpmd was built without the perchild MPM")
class PerchildLimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.created = create_users()
        cls.srv = LimitsServer()
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.graceful_stop()  # the launchers remove their TMPDIRs
        finally:
            cls.srv.stop()
            kill_strays()

    def test_forks_past_max_processes_get_eagain_and_the_other_site_answers(self):
        srv = self.srv
        result = {}
        t = threading.Thread(target=lambda: result.update(r=srv.get("a", "/cgi-bin/fork.py")), daemon=True)
        t.start()
        uid_a = srv.uid_of("a")
        # While site a's program holds every process it could make, site b serves, CGI included.
        wait_for(lambda: len(site_strays(uid_a)) >= 20, timeout=20, what="site a's program forking")
        r = srv.get("b", "/index.html")
        self.assertEqual((r.status, r.body), (200, b"site b\n"))
        r = srv.get("b", "/cgi-bin/tmpdir.py")
        self.assertEqual(r.status, 200, r.body)
        t.join(timeout=30)
        m = re.search(r"forked (\d+) error (\S+)", result["r"].body.decode())
        self.assertIsNotNone(m, result["r"].body)
        self.assertEqual(m.group(2), "EAGAIN", result["r"].body)
        self.assertLess(int(m.group(1)), 40)
        # And site a itself recovers once they are gone.
        self.assertEqual(srv.get("a", "/cgi-bin/tmpdir.py").status, 200)

    def test_allocation_past_memory_max_fails_and_the_pool_serves_on(self):
        srv = self.srv
        r = srv.get("a", "/cgi-bin/alloc.py?touch")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body.strip(), b"MemoryError")
        r = srv.get("a", "/cgi-bin/alloc.py")
        self.assertEqual(r.body.strip(), b"mmap ENOMEM")
        self.assertEqual(srv.get("a", "/index.html").body, b"site a\n")
        self.assertEqual(srv.get("a", "/cgi-bin/tmpdir.py").status, 200)
        # MemoryMax = 0 in [VirtualHost b]: no limit there.
        r = srv.get("b", "/cgi-bin/alloc.py")
        self.assertEqual(r.body.strip(), b"mapped 536870912", f"{r.status}: {srv.error_log()[-2000:]}")

    def test_limits_in_force_per_site(self):
        a = self.srv.get("a", "/cgi-bin/tmpdir.py").body.decode()
        b = self.srv.get("b", "/cgi-bin/tmpdir.py").body.decode()
        self.assertRegex(a, r"Max processes\s+40\s+40 ")
        self.assertRegex(a, r"Max address space\s+268435456\s+268435456 ")
        self.assertRegex(a, r"Max cpu time\s+30\s+35 ")
        self.assertRegex(b, r"Max processes\s+100\s+100 ")
        self.assertRegex(b, r"Max address space\s+unlimited\s+unlimited ")
        self.assertRegex(b, r"Max cpu time\s+1\s+6 ")

    def test_cpu_past_max_program_seconds_is_killed(self):
        # Site b: MaxProgramSeconds = 1. SIGXCPU at 1 s of CPU, SIGKILL 5 s later for one that ignores it.
        # The reads wait CPU_READ_TIMEOUT, not 10 s: burning the CPU may take long on a loaded machine.
        r = self.srv.get("b", "/cgi-bin/cpu.py", timeout=CPU_READ_TIMEOUT)
        self.assertEqual(r.body.strip(), b"signal 24", r.body)  # SIGXCPU
        r = self.srv.get("b", "/cgi-bin/cpu.py?ignore", timeout=CPU_READ_TIMEOUT)
        self.assertEqual(r.body.strip(), b"signal 9", r.body)  # SIGKILL

    def test_double_forked_daemon_is_gone_after_cgi_timeout(self):
        srv = self.srv
        r = srv.get("a", "/cgi-bin/daemon.py")
        self.assertEqual(r.status, 200, r.body)
        pid = int(r.body.split()[1])
        self.assertEqual(int(status(pid)["Uid"].split()[0]), srv.uid_of("a"))
        wait_for(lambda: not alive(pid), timeout=CGI_TIMEOUT + KILL_GRACE + 10, what=f"daemon {pid} gone")
        wait_for(lambda: not site_strays(srv.uid_of("a")), timeout=10, what="no stray process of site a")

    def test_audit_shows_the_limits_in_force(self):
        srv = self.srv
        launcher = srv.wait_pool(srv.uid_of("a"), n=1, comm="mpmd-cgi")[0]
        t = threading.Thread(target=srv.get, args=("a", "/cgi-bin/sleep.sh"), daemon=True)
        t.start()
        wait_for(lambda: children(launcher), timeout=10, what="the program running")
        # past its exec: the script runs its sleep
        wait_for(lambda: descendants_named(launcher, "sleep"), timeout=10, what="sleep.sh running its sleep")
        p = srv.audit()
        t.join(timeout=10)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"(?m)^  limits of pid %d \(cgi launcher a\): MaxProcesses=40 \(rlimit, " % launcher)
        self.assertRegex(p.stdout, r"(?m)^  limits of pid \d+ \(cgi program of cgi launcher a\): "
                                   r"MaxProcesses=40 MemoryMax=256M MaxProgramSeconds=30 \(rlimit\); cgroup: none")
        self.assertRegex(p.stdout, r"(?m)^  limits of pid \d+ \(cgi launcher b\): MaxProcesses=100 \(rlimit")

    def test_tmpdir_is_the_sites_own(self):
        seen = {}
        for site in ("a", "b"):
            r = self.srv.get(site, "/cgi-bin/tmpdir.py")
            self.assertEqual(r.status, 200, r.body)
            d, mode, uid, gid = r.body.decode().splitlines()[0].split()
            self.assertEqual(mode, "700")
            self.assertEqual(int(uid), self.srv.uid_of(site))
            self.assertEqual(int(gid), self.srv.sites[site][1].pw_gid)
            self.assertTrue(d.startswith(f"/tmp/mpmd-site-{site}-"), d)
            seen[site] = d
        self.assertNotEqual(seen["a"], seen["b"])


@unittest.skipUnless(os.geteuid() == 0, "needs root: creates users and starts mpmd as root")
@unittest.skipUnless(shutil.which("setpriv") and shutil.which("useradd"), "needs setpriv and useradd")
@unittest.skipUnless(perchild_available(), "mpmd was built without the perchild MPM")
class PerchildLimitsStopTest(unittest.TestCase):
    def test_nothing_of_any_site_outlives_mpmd(self):
        create_users()
        srv = LimitsServer()
        try:
            srv.start()
            daemons, dirs = [], []
            for site in ("a", "b"):
                dirs.append(srv.get(site, "/cgi-bin/tmpdir.py").body.decode().split()[0])
                daemons.append(int(srv.get(site, "/cgi-bin/daemon.py").body.split()[1]))
            # One still running too.
            strays_b = len(site_strays(srv.uid_of("b")))
            threading.Thread(target=lambda: srv.get("b", "/cgi-bin/fork.py"), daemon=True).start()
            wait_for(lambda: len(site_strays(srv.uid_of("b"))) > strays_b, timeout=10, what="fork.py running")
            self.assertTrue(all(alive(p) for p in daemons[1:]))  # b: CGITimeout 60 s
            srv.graceful_stop()
            for site in ("a", "b"):
                self.assertEqual(site_strays(srv.uid_of(site)), [], f"site {site}")
            for d in dirs:
                self.assertFalse(os.path.exists(d), d)
        finally:
            srv.stop()
            kill_strays()


class LimitsConfigTest(unittest.TestCase):
    def check(self, perchild="", vhost=""):
        import tempfile
        from mpmdtest import BINARY, free_port
        d = tempfile.mkdtemp(prefix="mpmd-limits-conf-")
        try:
            conf = os.path.join(d, "mpmd.conf")
            with open(conf, "w") as f:
                f.write(f"[Server]\nListen = 127.0.0.1:{free_port()}\nDocumentRoot = {d}\n{load_line()}\n"
                        f"[perchild]\n{perchild}\n[VirtualHost x]\nServerName = x.test\n{vhost}")
                if os.geteuid() == 0:  # mpmd -t as root, as its start, needs a User
                    f.write("\n[Server]\nUser = nobody\n")
            return subprocess.run([BINARY, "-t", "-f", conf], capture_output=True, text=True, timeout=20), conf
        finally:
            shutil.rmtree(d, ignore_errors=True)

    @unittest.skipUnless(perchild_available(), "mpmd was built without the perchild MPM")
    def test_bad_values_name_file_and_line(self):
        p, conf = self.check(perchild="MemoryMax = 8M\n", vhost="MaxProcesses = lots\nMaxProgramSeconds = 90000\n")
        self.assertNotEqual(p.returncode, 0)
        k = load_line().count("\n")  # the LoadModule line of a build with shared MPMs, or none
        self.assertIn(f"{conf}:{6 + k}: [perchild] MemoryMax: expected at least 16M, or 0 for no limit", p.stderr)
        self.assertRegex(p.stderr, re.escape(conf) + rf":{10 + k}: \[VirtualHost x\] MaxProcesses: .*\"lots\"")
        self.assertRegex(p.stderr, re.escape(conf) + rf":{11 + k}: \[VirtualHost x\] MaxProgramSeconds: .*90000")

    @unittest.skipUnless(perchild_available(), "mpmd was built without the perchild MPM")
    def test_cpu_weight_is_accepted_with_a_warning(self):
        p, conf = self.check(vhost="CPUWeight = 200\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("CPUWeight: needs cgroup v2", p.stderr)


if __name__ == "__main__":
    unittest.main()
