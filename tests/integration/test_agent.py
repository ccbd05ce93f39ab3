# SPDX-License-Identifier: MIT
"""mpmd as HAProxy's agent (AgentCheck) and its health page, over real sockets.

The agent writes one line per connection and closes: "ready up N%" with N the share of idle
capacity, "drain" after `mpmctl drain` (kept across a reload, until `mpmctl undrain`), "maint" while
stopping, "down" while no worker accepts (every worker gone and the supervisor unable to fork their
replacements, as when the unit's TasksMax= is reached: a pids cgroup of the test's own). `ServerStatus?health`
answers 200 while serving, drained included, and 503 while stopping.
A flood of agent connections gets every line and leaves the supervisor answering its control socket.
"""
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

from mpmdtest import BINARY, MPM, children, free_port, wait_for
from test_reload_config import ControlledServer, mpmctl, set_key


def agent_line(port, timeout=5):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        data = b""
        while True:
            chunk = s.recv(64)
            if not chunk:
                return data.decode()
            data += chunk


class AgentTest(unittest.TestCase):
    def setUp(self):
        self.agent_port = free_port()
        # One event process with 10 connection slots: five connections held are half of it.
        section = "[event]\nStartServers = 1\nWorkerConnections = 10\n" if MPM == "event" else ""
        self.srv = ControlledServer(server_keys=f"AgentCheck = 127.0.0.1:{self.agent_port}\n"
                                    "ServerStatus = /server-status\nKeepAliveTimeout = 60\n",
                                    mpm_section=section)

    def tearDown(self):
        self.srv.stop()

    def health(self):
        return self.srv.get("/server-status?health")

    def test_ready_with_the_idle_share(self):
        self.assertRegex(agent_line(self.agent_port), r"^ready up (100|[1-9][0-9]?)%\n$")
        if MPM != "event":
            return
        wait_for(lambda: agent_line(self.agent_port) == "ready up 100%\n", what="an idle node at 100 %")
        held = []
        try:
            for _ in range(5):
                s = self.srv.connect()
                s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                s.recv(4096)
                held.append(s)
            # The scoreboard is read at most every 100 ms, and the workers publish as they go.
            wait_for(lambda: agent_line(self.agent_port) == "ready up 50%\n", what="5 of 10 slots in use: 50 %")
        finally:
            for s in held:
                s.close()
        wait_for(lambda: agent_line(self.agent_port) == "ready up 100%\n", what="100 % once they closed")

    def test_drain_is_kept_across_a_reload_until_undrain(self):
        rc, out = mpmctl(self.srv, "drain")
        self.assertEqual(rc, 0, out)
        self.assertEqual(agent_line(self.agent_port), "drain\n")
        rc, out = mpmctl(self.srv, "status")
        self.assertIn("state: running, drained", out)
        r = self.health()
        self.assertEqual((r.status, r.body), (200, b"drained\n"), "a drained node still passes its health check")
        self.assertIn(b"NodeState: drained", self.srv.get("/server-status?auto").body)
        rc, out = mpmctl(self.srv, "reload")
        self.assertEqual(rc, 0, out)
        self.assertEqual(agent_line(self.agent_port), "drain\n", "a reload does not undrain")
        self.assertEqual(self.health().body, b"drained\n", "the new generation's health page, at once")
        rc, out = mpmctl(self.srv, "undrain")
        self.assertEqual(rc, 0, out)
        self.assertRegex(agent_line(self.agent_port), r"^ready up \d+%\n$")
        wait_for(lambda: self.health().body == b"serving\n", what="serving again")

    def test_a_reload_is_not_a_drain(self):
        stop = threading.Event()
        lines = []

        def poll():
            while not stop.is_set():
                lines.append(agent_line(self.agent_port))
                time.sleep(0.01)
        t = threading.Thread(target=poll)
        t.start()
        try:
            for _ in range(3):
                rc, out = mpmctl(self.srv, "reload")
                self.assertEqual(rc, 0, out)
        finally:
            stop.set()
            t.join()
        self.assertTrue(lines)
        self.assertEqual([x for x in lines if not x.startswith("ready up ")], [], "every answer during reloads")

    def test_a_reload_moves_the_agent_or_is_refused_where_it_cannot_listen(self):
        def refused(port):
            try:
                agent_line(port, timeout=2)
            except OSError:
                return True
            return False
        moved = free_port()
        set_key(self.srv, "AgentCheck", f"127.0.0.1:{moved}")
        rc, out = mpmctl(self.srv, "reload")
        self.assertEqual(rc, 0, out)
        self.assertRegex(agent_line(moved), r"^ready up \d+%\n$")
        self.assertTrue(refused(self.agent_port), "the old address is closed once the reload is taken")
        # An address it cannot bind refuses the reload: the agent stays where it was.
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        try:
            set_key(self.srv, "AgentCheck", f"127.0.0.1:{busy.getsockname()[1]}")
            rc, out = mpmctl(self.srv, "reload")
            self.assertNotEqual(rc, 0, out)
            self.assertIn(f"AgentCheck = 127.0.0.1:{busy.getsockname()[1]}: cannot listen there", out)
            self.assertIn(f"the agent stays at 127.0.0.1:{moved}", out)
        finally:
            busy.close()
        self.assertRegex(agent_line(moved), r"^ready up \d+%\n$")
        # None: no agent after the reload.
        with open(self.srv.conf) as f:
            text = f.read()
        with open(self.srv.conf, "w") as f:
            f.write("".join(line for line in text.splitlines(keepends=True) if not line.startswith("AgentCheck")))
        rc, out = mpmctl(self.srv, "reload")
        self.assertEqual(rc, 0, out)
        self.assertTrue(refused(moved))
        self.assertEqual(self.srv.get("/").status, 200)

    def test_maint_and_503_while_stopping(self):
        # A request in flight keeps the graceful stop going: its head is not complete.
        s = self.srv.connect()
        s.sendall(b"GET /server-status?health HTTP/1.1\r\nHost: localhost\r\n")
        k = self.srv.connect()
        k.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        k.recv(4096)
        os.kill(self.srv.pid, signal.SIGTERM)
        wait_for(lambda: agent_line(self.agent_port) == "maint\n", what="maint while stopping")
        # The kept-alive connection is still served during the graceful stop.
        k.sendall(b"GET /server-status?health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = k.recv(4096)
            if not chunk:
                break
            data += chunk
        self.assertTrue(data.startswith(b"HTTP/1.1 503 "), data[:200])
        self.assertTrue(data.endswith(b"stopping\n"), data[-200:])
        s.close()
        k.close()

    def test_a_flood_of_agent_connections_is_answered_and_control_still_works(self):
        n = 2000
        got = []

        def hammer():
            for _ in range(n // 4):
                try:
                    got.append(agent_line(self.agent_port, timeout=10))
                except OSError as e:
                    got.append(repr(e))
        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        t0 = time.monotonic()
        rc, out = mpmctl(self.srv, "status")
        took = time.monotonic() - t0
        for t in threads:
            t.join()
        self.assertEqual(rc, 0, out)
        self.assertLess(took, 10, "the control socket answered during the flood")
        self.assertEqual(len(got), n)
        self.assertEqual([x for x in got if not x.startswith("ready up ")], [])


def pids_cgroup():
    """A new pids cgroup below this process's own (cgroup v1's pids hierarchy, or v2 with the pids
    controller delegated), or None when there is none to write."""
    with open("/proc/self/cgroup") as f:
        lines = [line.rstrip("\n").split(":", 2) for line in f]
    candidates = [("/sys/fs/cgroup/pids", path) for _, ctrl, path in lines if "pids" in ctrl.split(",")]
    candidates += [(root, path) for _, ctrl, path in lines if ctrl == ""
                   for root in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup")]
    for root, path in candidates:
        parent = os.path.join(root, path.lstrip("/"))
        d = os.path.join(parent, f"mpmd-agent-test-{os.getpid()}")
        try:
            os.mkdir(d)
        except OSError:
            continue
        if os.path.exists(os.path.join(d, "pids.max")):
            return d
        os.rmdir(d)
    return None


def threads_of(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(line.split()[1] for line in f if line.startswith("Threads:")))


class AgentDownTest(unittest.TestCase):
    """`down` end to end: every worker ends (SIGKILL here; a crash, the OOM killer) while the
    supervisor cannot fork, because its cgroup's pids.max (systemd's TasksMax=) is reached. No
    worker accepts until the limit is lifted; then the supervisor's next maintenance starts them."""

    def setUp(self):
        self.cgroup = pids_cgroup()
        if not self.cgroup:
            self.skipTest("needs a pids cgroup to create (root, cgroup v1 pids or a delegated v2 pids controller)")
        self.agent_port = free_port()
        section = "[event]\nStartServers = 1\n" if MPM == "event" else ""
        self.srv = ControlledServer(server_keys=f"AgentCheck = 127.0.0.1:{self.agent_port}\n", mpm_section=section,
                                    start=False)
        # The supervisor enters the cgroup before it execs: everything it forks is counted there.
        self.srv.wrapper = ["sh", "-c", f'echo $$ > {self.cgroup}/cgroup.procs && exec "$@"', "sh"]
        self.srv.start()

    def tearDown(self):
        self.set_max("max")
        self.srv.stop()
        for _ in range(50):
            try:
                os.rmdir(self.cgroup)
                break
            except OSError:
                time.sleep(0.1)

    def set_max(self, value):
        with open(os.path.join(self.cgroup, "pids.max"), "w") as f:
            f.write(f"{value}\n")

    def test_down_while_no_worker_can_start_then_ready(self):
        wait_for(lambda: agent_line(self.agent_port).startswith("ready up "), what="ready at first")
        workers = children(self.srv.pid)
        self.assertTrue(workers, "the supervisor has workers")
        # Room for the supervisor's own tasks only: the workers it has keep running, a fork fails.
        self.set_max(threads_of(self.srv.pid))
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: agent_line(self.agent_port) == "down\n", what="down once every worker is gone")
        # It stays down while the forks fail (the supervisor retries every second), and says why.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            self.assertEqual(agent_line(self.agent_port), "down\n")
            self.assertEqual(children(self.srv.pid), [])
            time.sleep(0.2)
        self.assertIn("fork failed", self.srv.error_log())
        with self.assertRaises(OSError, msg="nobody accepts on the HTTP port"):
            with socket.create_connection(("127.0.0.1", self.srv.port), timeout=2) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                if not s.recv(64):
                    raise ConnectionResetError("closed unanswered")
        self.set_max("max")
        wait_for(lambda: agent_line(self.agent_port) == "ready up 100%\n", what="ready up 100% once workers start")
        self.assertEqual(self.srv.get("/").status, 200)


class AgentPerchildDownTest(unittest.TestCase):
    """perchild: its dispatchers accept on the shared sockets but serve nothing themselves; with
    every pool gone (and none able to start: pids.max) the node serves no request, so the agent
    says down though a dispatcher runs."""

    def setUp(self):
        from test_perchild import PerchildServer, create_users, perchild_available
        if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("setpriv"):
            self.skipTest("needs root, useradd and setpriv (perchild's site users)")
        if not perchild_available():
            self.skipTest("mpmd was built without the perchild MPM")
        self.cgroup = pids_cgroup()
        if not self.cgroup:
            self.skipTest("needs a pids cgroup to create (root, cgroup v1 pids or a delegated v2 pids controller)")
        self.created = create_users()
        self.agent_port = free_port()
        self.srv = PerchildServer()
        with open(self.srv.conf) as f:
            conf = f.read()
        with open(self.srv.conf, "w") as f:
            f.write(conf.replace("[Server]\n", f"[Server]\nAgentCheck = 127.0.0.1:{self.agent_port}\n", 1))
        self.srv.wrapper = ["sh", "-c", f'echo $$ > {self.cgroup}/cgroup.procs && exec "$@"', "sh"]
        self.srv.start()

    def tearDown(self):
        from mpmdtest import remove_users
        if not getattr(self, "cgroup", None):
            return
        with open(os.path.join(self.cgroup, "pids.max"), "w") as f:
            f.write("max\n")
        if getattr(self, "srv", None):
            self.srv.stop()
        if getattr(self, "created", None) is not None:
            remove_users(self.created)
        for _ in range(50):
            try:
                os.rmdir(self.cgroup)
                break
            except OSError:
                time.sleep(0.1)

    def test_down_while_no_pool_runs_though_the_dispatcher_does(self):
        import pwd
        from test_perchild import DISPATCH_USER
        wait_for(lambda: agent_line(self.agent_port).startswith("ready up "), what="ready at first")
        dispatchers = self.srv.processes(pwd.getpwnam(DISPATCH_USER).pw_uid)
        pools = [p for uid in (pwd.getpwnam("nobody").pw_uid, self.srv.uid_of("a"), self.srv.uid_of("b"))
                 for p in self.srv.processes(uid)]
        self.assertTrue(dispatchers and pools, (dispatchers, pools))
        with open(os.path.join(self.cgroup, "pids.current")) as f:
            current = int(f.read())
        with open(os.path.join(self.cgroup, "pids.max"), "w") as f:
            f.write(f"{current - sum(threads_of(p) for p in pools)}\n")
        for pid in pools:
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: agent_line(self.agent_port) == "down\n", what="down once every pool is gone")
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            self.assertEqual(agent_line(self.agent_port), "down\n")
            time.sleep(0.2)
        self.assertEqual(self.srv.processes(pwd.getpwnam(DISPATCH_USER).pw_uid), dispatchers, "the dispatcher runs")
        with open(os.path.join(self.cgroup, "pids.max"), "w") as f:
            f.write("max\n")
        wait_for(lambda: agent_line(self.agent_port) == "ready up 100%\n", what="ready up 100% once the pools start")
        self.assertEqual(self.srv.get_on(self.srv.port, "/index.html", "b.test").body, b"site b\n")


class AgentConfigTest(unittest.TestCase):
    def test_a_bad_agentcheck_value_is_refused_with_file_and_line(self):
        srv = ControlledServer(server_keys="AgentCheck = localhost:99999\n", start=False)
        try:
            p = subprocess.run([BINARY, "-t", "-f", srv.conf], capture_output=True, text=True, timeout=30)
            self.assertNotEqual(p.returncode, 0)
            self.assertRegex(p.stderr + p.stdout,
                             r"mpmd\.conf:\d+: \[Server\] AgentCheck: expected ADDR:PORT or \[V6\]:PORT with a port "
                             r"from 1 to 65535")
        finally:
            srv.stop()

    def test_an_address_in_use_fails_the_start(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        srv = ControlledServer(server_keys=f"AgentCheck = 127.0.0.1:{port}\n", start=False)
        try:
            p = subprocess.run([BINARY, "-f", srv.conf], capture_output=True, text=True, timeout=30)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(f"AgentCheck = 127.0.0.1:{port}: cannot listen there", srv.error_log())
        finally:
            busy.close()
            srv.stop()


if __name__ == "__main__":
    unittest.main()
