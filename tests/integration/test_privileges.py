# SPDX-License-Identifier: MIT
"""What the supervisor keeps of the privileges it was started with, and the descriptor limit every process
inherits from it.

Started by hand as root with every capability, the supervisor must keep exactly CAP_SETUID CAP_SETGID
CAP_SETPCAP CAP_KILL (with every MPM: it starts its children under other users), CAP_NET_BIND_SERVICE only
until it has bound its sockets, empty inheritable and ambient sets, and no_new_privs; `mpmctl audit` then
passes. The soft RLIMIT_NOFILE is raised to the hard limit before the first fork, and a connection bound that
cannot fit below the limit is warned about at start and by `mpmd -t`.

The privilege tests need root (they create site users); the limit tests run as anyone."""
import json
import os
import pwd
import re
import resource
import shutil
import signal
import socket
import subprocess
import time
import unittest

import mpmdtest
from mpmdtest import BINARY, MODULE_DIR, MPM, Server, children, free_port

MPMCTL = os.environ.get("MPMCTL_BINARY", "build/src/supervisor/mpmctl")
# Names of this file's own: test_perchild.py creates and deletes its users, maybe at the same time.
SITE_USERS = ("mpmdtqa", "mpmdtqb")
DISPATCH_USER = "mpmdtqd"

CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_SETPCAP, CAP_NET_BIND_SERVICE = 5, 6, 7, 8, 10
ROOT_CAPS = (1 << CAP_KILL) | (1 << CAP_SETGID) | (1 << CAP_SETUID) | (1 << CAP_SETPCAP)


def mpm_available(mpm):
    if MODULE_DIR:
        return os.path.exists(os.path.join(MODULE_DIR, f"mpm_{mpm}.so"))
    return MPM == mpm


def load_line(mpm):
    if not MODULE_DIR:
        return ""
    return f"LoadModule = mpm_{mpm}_module {os.path.join(MODULE_DIR, f'mpm_{mpm}.so')}\n"


def status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def nofile(pid):
    """(soft, hard) of "Max open files" in /proc/PID/limits."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError(f"no open files line for {pid}")


def free_low_port():
    """A free port below 1024 on 127.0.0.1 (only root may bind one)."""
    for port in range(1023, 599, -1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise unittest.SkipTest("no free port below 1024")


def with_nofile(soft, hard):
    """preexec_fn: start mpmd with this descriptor limit."""
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class ConfiguredServer(Server):
    """A Server whose configuration is written here: the MPM, its section and the virtual hosts."""

    def __init__(self, mpm, server_keys="", sections="", listen=None, preexec=None):
        super().__init__(start=False)
        self.preexec = preexec
        self.control = os.path.join(self.dir, "control")
        user = "User = nobody\n" if os.geteuid() == 0 else ""
        with open(self.conf, "w") as f:
            f.write(f"[Server]\nServerName = localhost\nListen = 127.0.0.1:{listen or self.port}\n"
                    f"DocumentRoot = {self.root}\nErrorLog = {self.log}\nLogLevel = debug\n{user}"
                    f"ControlSocket = {self.control}\n{load_line(mpm)}{server_keys}\n{sections}")
        if listen:
            self.port = listen

    def start(self, notify=True, extra_env=None):
        real = subprocess.Popen
        preexec = self.preexec

        def popen(cmd, *a, **kw):
            if preexec:
                kw["preexec_fn"] = preexec
            return real(cmd, *a, **kw)
        subprocess.Popen = popen
        try:
            super().start(notify=notify, extra_env=extra_env)
        finally:
            subprocess.Popen = real

    def audit(self, *args):
        return subprocess.run([MPMCTL, "-s", self.control, "audit", *args], capture_output=True, text=True,
                              timeout=30)

    def terminate(self):
        """Stop gracefully and return everything mpmd wrote to stdout and stderr."""
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=30)
        return out.decode(errors="replace")


def check_config(conf, soft, hard):
    return subprocess.run([BINARY, "-t", "-f", conf], capture_output=True, text=True, timeout=30,
                          preexec_fn=with_nofile(soft, hard))


class SupervisorCapabilities:
    """Assertions shared by the MPMs' cases."""

    def assert_root_supervisor(self, pid):
        st = status(pid)
        self.assertEqual(st["Uid"].split(), ["0"] * 4)
        for cap in ("CapEff", "CapPrm", "CapBnd"):
            self.assertEqual(int(st[cap], 16), ROOT_CAPS, f"{cap} {st[cap]} of the supervisor")
        for cap in ("CapInh", "CapAmb"):
            self.assertEqual(int(st[cap], 16), 0, f"{cap} {st[cap]} of the supervisor")
        self.assertEqual(st["NoNewPrivs"], "1")

    def assert_audit_passes(self, srv, roles):
        # The table a person reads: the supervisor's row names what it holds.
        p = srv.audit()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"(?m)^ROLE +PID +USER +CAPS +NNP +SECCOMP +CONNECT +VERDICT$")
        self.assertRegex(p.stdout,
                         r"(?m)^supervisor +\d+ +root +cap_kill,cap_setgid,cap_setuid,cap_setpcap +yes +off +any +PASS$")
        # Every field, for the numbers: the same audit as JSON.
        j = srv.audit("--json")
        self.assertEqual(j.returncode, 0, j.stdout + j.stderr)
        procs = json.loads(j.stdout)["processes"]
        sup = [x for x in procs if x["role"] == "supervisor"]
        self.assertEqual(len(sup), 1, procs)
        self.assertEqual(sup[0]["verdict"], "PASS", sup)
        self.assertEqual(sup[0]["holds"], ["cap_kill", "cap_setgid", "cap_setuid", "cap_setpcap"])
        self.assertEqual([sup[0][k] for k in ("cap_effective", "cap_permitted", "cap_bounding", "cap_ambient",
                                              "cap_inheritable", "no_new_privs")], [0x1e0, 0x1e0, 0x1e0, 0, 0, True])
        for role, uid in roles:
            self.assertTrue([x for x in procs if x["role"] == role and x["uid"] == [uid] * 4 and x["verdict"] == "PASS"],
                            f"{role} uid {uid}: {procs}")
            user = pwd.getpwuid(uid).pw_name
            # No site has an upstream: no serving process may connect anywhere.
            self.assertRegex(p.stdout, rf"(?m)^{re.escape(role)} +\d+ +{re.escape(user)} +- +yes +filter +- +PASS$")
        return p.stdout


@unittest.skipUnless(os.geteuid() == 0, "needs root: starts mpmd as root with every capability")
@unittest.skipUnless(mpm_available("event"), "mpmd was built without the event MPM")
class EventAsRootTest(unittest.TestCase, SupervisorCapabilities):
    def test_supervisor_keeps_what_user_needs(self):
        with ConfiguredServer("event", sections="[event]\nStartServers = 2\n") as srv:
            srv.start()
            srv.wait_workers(lambda n: n == 2)
            self.assert_root_supervisor(srv.pid)
            nobody = pwd.getpwnam("nobody").pw_uid
            self.assert_audit_passes(srv, [("worker", nobody)])
            self.assertEqual(srv.get("/").status, 200)

    def test_low_port_is_bound_then_cap_net_bind_service_dropped(self):
        port = free_low_port()
        with ConfiguredServer("event", sections="[event]\nStartServers = 1\n", listen=port) as srv:
            srv.start()
            self.assertEqual(srv.get("/").status, 200)
            self.assert_root_supervisor(srv.pid)
            # A reload that needs another low port is refused: the supervisor cannot bind it any more.
            other = free_low_port()
            with open(srv.conf, "a") as f:
                f.write(f"\n[Server]\nListen = 127.0.0.1:{other}\n")
            p = subprocess.run([MPMCTL, "-s", srv.control, "reload"], capture_output=True, text=True, timeout=60)
            self.assertNotEqual(p.returncode, 0, p.stdout)
            self.assertIn("Permission denied", p.stdout + p.stderr)
            self.assertEqual(srv.get("/").status, 200)


@unittest.skipUnless(os.geteuid() == 0, "needs root: creates users and starts mpmd as root")
@unittest.skipUnless(shutil.which("useradd"), "needs useradd")
@unittest.skipUnless(mpm_available("perchild"), "mpmd was built without the perchild MPM")
class PerchildAsRootTest(unittest.TestCase, SupervisorCapabilities):
    @classmethod
    def setUpClass(cls):
        cls.created = mpmdtest.create_users(SITE_USERS, DISPATCH_USER)

    @classmethod
    def tearDownClass(cls):
        mpmdtest.remove_users(cls.created)

    def perchild_server(self):
        sections = f"[perchild]\nStartServers = 1\nDispatcherUser = {DISPATCH_USER}\n"
        srv = ConfiguredServer("perchild", sections=sections)
        for name, user in zip(("a", "b"), SITE_USERS):
            root = os.path.join(srv.dir, name)
            os.mkdir(root)
            with open(os.path.join(root, "index.html"), "w") as f:
                f.write(f"site {name}\n")
            os.chmod(root, 0o755)
            os.chmod(os.path.join(root, "index.html"), 0o644)
            with open(srv.conf, "a") as f:
                f.write(f"\n[VirtualHost {name}]\nServerName = {name}.test\nDocumentRoot = {root}\n"
                        f"User = {user}\nGroup = {user}\n")
        return srv

    def test_supervisor_keeps_what_perchild_needs(self):
        with self.perchild_server() as srv:
            srv.start()
            # one dispatcher, a process for [Server] and one per site
            srv.wait_workers(lambda n: n >= 4)
            self.assert_root_supervisor(srv.pid)
            uids = [("pool a", pwd.getpwnam(SITE_USERS[0]).pw_uid), ("pool b", pwd.getpwnam(SITE_USERS[1]).pw_uid),
                    ("dispatcher", pwd.getpwnam(DISPATCH_USER).pw_uid)]
            self.assert_audit_passes(srv, uids)
            self.assertEqual(srv.get("/", host="b.test").body, b"site b\n")
            # What it kept is enough to start the next generation under the sites' users.
            before = set(srv.workers())
            p = subprocess.run([MPMCTL, "-s", srv.control, "reload"], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            srv.wait_workers(lambda n: n >= 4 and not before & set(srv.workers()))
            self.assert_root_supervisor(srv.pid)
            self.assert_audit_passes(srv, uids)
            self.assertEqual(srv.get("/", host="a.test").body, b"site a\n")


@unittest.skipUnless(mpm_available("event"), "mpmd was built without the event MPM")
class DescriptorLimitTest(unittest.TestCase):
    def test_soft_limit_raised_to_hard_in_supervisor_and_workers(self):
        with ConfiguredServer("event", sections="[event]\nStartServers = 2\nWorkerConnections = 100\n",
                              preexec=with_nofile(256, 4096)) as srv:
            srv.start()
            workers = srv.wait_workers(lambda n: n == 2)
            self.assertEqual(nofile(srv.pid), (4096, 4096))
            for pid in workers:
                self.assertEqual(nofile(pid), (4096, 4096), f"worker {pid}")
            self.assertEqual(srv.get("/").status, 200)

    def test_worker_connections_above_the_limit_warns(self):
        # 2 descriptors a connection and 64 of its own: 2000 connections need 4064.
        sections = "[event]\nStartServers = 1\nWorkerConnections = 2000\n"
        with ConfiguredServer("event", sections=sections, preexec=with_nofile(256, 4000)) as srv:
            p = check_config(srv.conf, 256, 4000)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("mpmd: warning: [event] WorkerConnections = 2000 needs up to 4064 file descriptors per "
                          "process (2 per connection and 64 of its own), more than the limit of 4000", p.stderr)
            self.assertIn("connections past about 1968 wait", p.stderr)
            self.assertIn("Syntax OK", p.stderr)
            # The limit after raising counts, not the soft one it was started with.
            p = check_config(srv.conf, 256, 4064)
            self.assertNotIn("warning", p.stderr)
            # The same warning at start.
            srv.start()
            out = srv.terminate()
            self.assertIn("mpmd: warning: [event] WorkerConnections = 2000 needs up to 4064", out)

    @unittest.skipUnless(mpm_available("perchild"), "mpmd was built without the perchild MPM")
    def test_perchild_connection_keys_warn(self):
        sections = "[perchild]\nDispatcherConnections = 5000\nWorkerConnections = 100\n"
        with ConfiguredServer("perchild", sections=sections) as srv:
            p = check_config(srv.conf, 1024, 4096)
            self.assertEqual(p.returncode, 0, p.stderr)
            # The dispatcher holds a connection's socket only until it hands it on: 1 each.
            self.assertIn("[perchild] DispatcherConnections = 5000 needs up to 5064 file descriptors per process "
                          "(1 per connection", p.stderr)
            self.assertNotIn("WorkerConnections", p.stderr)
        sections = "[perchild]\nDispatcherConnections = 100\nWorkerConnections = 3000\n"
        with ConfiguredServer("perchild", sections=sections) as srv:
            p = check_config(srv.conf, 1024, 4096)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("[perchild] WorkerConnections = 3000 needs up to 6064", p.stderr)
            self.assertNotIn("DispatcherConnections", p.stderr)


if __name__ == "__main__":
    unittest.main()
