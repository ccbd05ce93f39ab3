# SPDX-License-Identifier: MIT
"""mpmd as systemd drives it, without a systemd: sockets passed by name (systemd-socket-activate), the
exact sd_notify datagrams, reload under traffic through mpmctl and signals, graceful stop.

What systemd does is imitated with its own tools where they exist (systemd-socket-activate passes
named sockets exactly as a socket unit does) and with a datagram socket standing in for
$NOTIFY_SOCKET (mpmdtest.Server captures it)."""
import fcntl
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

import mpmdtest
from mpmdtest import MpmdSocket, Server, alive, free_port, read_response, wait_accepted, wait_for

SOCKET_ACTIVATE = shutil.which("systemd-socket-activate")
MPMCTL = os.environ.get("MPMCTL_BINARY",
                        os.path.join(os.path.dirname(os.path.abspath(mpmdtest.BINARY)), "mpmctl"))


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def http_get(port, host="localhost", path="/"):
    """One GET on a new connection to 127.0.0.1:port."""
    with MpmdSocket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(("127.0.0.1", port))
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        return read_response(s)


class SystemdServer(Server):
    """A Server whose Listen= lines and control socket are ours to choose, started either on its own
    (it binds its address) or under systemd-socket-activate with named sockets."""

    def __init__(self, listen=None, **kw):
        super().__init__(start=False, **kw)
        self.control = os.path.join(self.dir, "control")
        with open(self.conf) as f:
            text = f.read()
        if listen is not None:
            # The harness binds 127.0.0.1:port; socket activation replaces that with names.
            text = text.replace(f"Listen = 127.0.0.1:{self.port}\n", "".join(f"Listen = {v}\n" for v in listen))
        text = text.replace("[Server]\n", f"[Server]\nControlSocket = {self.control}\n", 1)
        with open(self.conf, "w") as f:
            f.write(text)
        self.ports = {}
        self._reader = None

    # mpmd blocks in sd_notify() when nobody reads the datagram socket (a queue of
    # net.unix.max_dgram_qlen, often 10, fills with STATUS= lines in seconds). systemd always
    # reads; so does this thread, the only reader, keeping the datagrams in arrival order.
    def drain_notify(self):
        if self._reader is None and self.notify_sock is not None:
            self._reader = threading.Thread(target=self._read_notify, args=(self.notify_sock,), daemon=True)
            self._reader.start()
        time.sleep(0.02)

    def _read_notify(self, sock):
        while True:
            try:
                self.notifications.append(sock.recv(4096).decode())
            except socket.timeout:
                continue
            except OSError:
                return

    def wait_datagram(self, predicate, since=0, timeout=10):
        """The first datagram after index since for which predicate holds, or None in time."""
        deadline = time.monotonic() + timeout
        while True:
            self.drain_notify()
            for m in self.notifications[since:]:
                if predicate(m):
                    return m
            if time.monotonic() > deadline:
                return None

    def spawn(self, argv, **kw):
        """Start argv (which ends up exec'ing mpmd) in its own process group with a captured
        $NOTIFY_SOCKET, passed as -E for systemd-socket-activate, which hands on no environment
        of its own but PATH, TERM, USER and HOME."""
        self.notify_path = os.path.join(self.dir, "notify")
        self.notify_sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify_sock.bind(self.notify_path)
        self.notify_sock.settimeout(0.2)
        if argv[0] == SOCKET_ACTIVATE:
            argv = [argv[0], "-E", f"NOTIFY_SOCKET={self.notify_path}"] + argv[1:]
        else:
            kw["env"] = dict(kw.get("env", os.environ), NOTIFY_SOCKET=self.notify_path)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True, **kw)

    def start_activated(self, names, wait_ready=True):
        """Run mpmd under systemd-socket-activate with one socket per name, in the order given.
        The tool numbers the sockets from fd 3 in the order of the -l options and gives them the
        names of the --fdname options in their order ($LISTEN_FDNAMES, ":"-separated: a name can
        hold no ":", hence "vhost@a" for the configuration's "vhost:a").
        Like systemd, the tool execs mpmd only when the first connection arrives; that connection
        is made here and its request answered, so it is also the check that a queued connection
        survives the start. Returns that first response."""
        if not SOCKET_ACTIVATE:
            raise unittest.SkipTest("systemd-socket-activate is not installed (package systemd)")
        cmd = [SOCKET_ACTIVATE]
        for name in names:
            self.ports[name] = free_port()
            cmd += ["-l", f"127.0.0.1:{self.ports[name]}", f"--fdname={name}"]
        self.spawn(cmd + [mpmdtest.BINARY, "-f", self.conf])
        first = self.ports["http" if "http" in names else names[0]]
        deadline = time.monotonic() + 10
        while True:
            try:
                s = MpmdSocket(socket.AF_INET, socket.SOCK_STREAM)
                s.settimeout(10)
                s.connect(("127.0.0.1", first))
                break
            except OSError:
                s.close()
                if self.proc.poll() is not None and not wait_ready:
                    # mpmd was started by an earlier attempt's connection and has already exited
                    # (a start that must fail): the caller judges its exit status and output.
                    return None
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"systemd-socket-activate did not listen: {self.output()}")
                time.sleep(0.05)
        if not wait_ready:
            s.close()
            return None
        with s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            self.wait_notify("READY=1", timeout=20)
            return read_response(s)

    def mpmctl(self, *args, timeout=60):
        return subprocess.run([MPMCTL, "-s", self.control, *args], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)

    def datagrams_since(self, start):
        self.drain_notify()
        return self.notifications[start:]


def site_files(root, text):
    write(os.path.join(root, "index.html"), text)
    os.chmod(root, 0o755)


# ---- socket activation ------------------------------------------------------------------------

class SocketActivationTest(unittest.TestCase):
    NAMES = ["http", "vhost@a", "vhost@b"]

    def make(self):
        srv = SystemdServer(listen=["http"], files={"index.html": "main\n"})
        self.addCleanup(srv.stop)
        vhosts = ""
        for name in ("a", "b"):
            root = os.path.join(srv.dir, f"site-{name}")
            site_files(root, f"site {name}\n")
            vhosts += (f"\n[VirtualHost {name}]\nServerName = {name}.test\nListen = vhost:{name}\n"
                       f"DocumentRoot = {root}\n")
        with open(srv.conf, "a") as f:
            f.write(vhosts)
        return srv

    def check_routing(self, order):
        srv = self.make()
        first = srv.start_activated(order)
        print(f"socket order {order}: fds {dict((n, 3 + i) for i, n in enumerate(order))}", file=sys.stderr)
        self.assertEqual(first.status, 200)
        self.assertEqual(first.body, b"main\n", "the connection queued before mpmd started")
        http = srv.ports["http"]
        # The main server's socket serves the main server, whatever Host names.
        self.assertEqual(http_get(http, "localhost").body, b"main\n")
        for host in ("a.test", "b.test"):
            r = http_get(http, host)
            if mpmdtest.MPM == "perchild":
                # a site's Host on a socket that is not the site's: 421, never the site (mpmd-mpm(7))
                self.assertEqual(r.status, 421, f"[VirtualHost {host[0]}] has Listen = vhost:{host[0]}")
            else:
                self.assertEqual(r.body, b"main\n",
                                 f"[VirtualHost {host[0]}] has Listen = vhost:{host[0]}: it must get nothing from "
                                 "socket http")
        # Each vhost socket feeds its own site only.
        for name in ("a", "b"):
            port = srv.ports[f"vhost@{name}"]
            self.assertEqual(http_get(port, f"{name}.test").body, f"site {name}\n".encode())
            for other in ("localhost", "a.test" if name == "b" else "b.test", "unknown.test"):
                self.assertEqual(http_get(port, other).body, f"site {name}\n".encode(),
                                 f"socket vhost:{name} with Host {other} must reach [VirtualHost {name}] only")

    def test_names_not_positions_decide(self):
        self.check_routing(list(self.NAMES))

    def test_shuffled_order(self):
        rng = random.Random(mpmdtest.test_seed("test_shuffled_order"))
        order = list(self.NAMES)
        while order == self.NAMES:
            rng.shuffle(order)
        self.check_routing(order)

    def test_reversed_order(self):
        self.check_routing(list(reversed(self.NAMES)))

    def test_ready_and_status_under_activation(self):
        srv = SystemdServer(listen=["http"])
        self.addCleanup(srv.stop)
        self.assertEqual(srv.start_activated(["http"]).status, 200)
        self.assertEqual(sum(m.split("\n").count("READY=1") for m in srv.notifications), 1, srv.notifications)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any("STATUS=generation 1" in m for m in srv.notifications):
            srv.drain_notify()
        self.assertTrue(any("STATUS=generation 1" in m for m in srv.notifications), srv.notifications)

    def test_unnamed_socket_feeds_main_server(self):
        """A socket unit without FileDescriptorName= passes the name "unknown"; it is the main server's."""
        srv = SystemdServer(listen=["http"], files={"index.html": "main\n"})
        self.addCleanup(srv.stop)
        if not SOCKET_ACTIVATE:
            self.skipTest("systemd-socket-activate is not installed")
        # Without --fdname the tool passes no LISTEN_FDNAMES: every socket is "unknown".
        port = free_port()
        srv.spawn([SOCKET_ACTIVATE, "-l", f"127.0.0.1:{port}", mpmdtest.BINARY, "-f", srv.conf])
        deadline = time.monotonic() + 10
        while True:
            try:
                r = http_get(port)
                break
            except OSError:
                if srv.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"no answer: {srv.output()} {srv.error_log()}")
                time.sleep(0.05)
        self.assertEqual(r.body, b"main\n")

    def failed_start(self, srv, timeout=20):
        try:
            rc = srv.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.fail(f"mpmd kept running with a bad socket; log: {srv.error_log()}")
        srv.drain_notify()
        return rc, srv.output() + srv.error_log()

    def test_datagram_socket_is_refused_by_name(self):
        srv = SystemdServer(listen=["http"])
        self.addCleanup(srv.stop)
        if not SOCKET_ACTIVATE:
            self.skipTest("systemd-socket-activate is not installed")
        port = free_port()
        srv.spawn([SOCKET_ACTIVATE, "--datagram", "-l", f"127.0.0.1:{port}", "--fdname=http",
                   mpmdtest.BINARY, "-f", srv.conf])
        # The tool execs mpmd when the first datagram arrives.
        deadline = time.monotonic() + 10
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            while srv.proc.poll() is None and time.monotonic() < deadline:
                u.sendto(b"x", ("127.0.0.1", port))
                if os.path.exists(srv.log):
                    break
                time.sleep(0.1)
        rc, out = self.failed_start(srv)
        self.assertNotEqual(rc, 0)
        self.assertIn('socket 3 named "http" is not a listening stream socket', out)
        self.assertFalse(any("READY=1" in m.split("\n") for m in srv.notifications), srv.notifications)
        self.assertTrue(any(re.search(r"^ERRNO=\d+$", m, re.M) for m in srv.notifications), srv.notifications)

    def test_non_listening_socket_among_good_ones_is_named(self):
        srv = SystemdServer(listen=["http"])
        self.addCleanup(srv.stop)
        good = socket.socket()
        good.bind(("127.0.0.1", 0))
        good.listen(8)
        bad = socket.socket()  # bound, never listening: systemd would never pass such a socket
        bad.bind(("127.0.0.1", 0))
        self.addCleanup(good.close)
        self.addCleanup(bad.close)

        def place_fds():
            # Through fds above 4 first, so that neither lands on the other's target.
            g = fcntl.fcntl(good.fileno(), fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(bad.fileno(), fcntl.F_DUPFD, 10)
            os.dup2(g, 3)
            os.dup2(b, 4)

        env = dict(os.environ, LISTEN_FDS="2", LISTEN_FDNAMES="http:vhost@a")
        # LISTEN_PID must be mpmd's own pid: the shell exports its $$ and becomes mpmd.
        srv.spawn(["sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"', mpmdtest.BINARY, "-f", srv.conf],
                  env=env, pass_fds=(3, 4), preexec_fn=place_fds)
        rc, out = self.failed_start(srv)
        self.assertNotEqual(rc, 0)
        self.assertIn('socket 4 named "vhost@a" is not a listening stream socket', out)

    def test_listen_name_that_systemd_did_not_pass(self):
        srv = SystemdServer(listen=["http", "vhost:missing"])
        self.addCleanup(srv.stop)
        srv.start_activated(["http"], wait_ready=False)
        rc, out = self.failed_start(srv)
        self.assertNotEqual(rc, 0)
        self.assertIn("Listen = vhost:missing", out)


# ---- the sd_notify protocol -------------------------------------------------------------------

def lines_of(datagram):
    return datagram.split("\n")


class NotifyProtocolTest(unittest.TestCase):
    def setUp(self):
        self.srv = SystemdServer()
        self.addCleanup(self.srv.stop)
        self.srv.start()

    def test_ready_once_and_serving(self):
        srv = self.srv
        ready = [m for m in srv.notifications if "READY=1" in lines_of(m)]
        self.assertEqual(len(ready), 1, srv.notifications)
        self.assertEqual(srv.get("/").status, 200, "READY=1 was sent before a worker accepted")
        self.assertFalse(any(l.startswith("RELOADING=") or l == "STOPPING=1"
                             for m in srv.notifications for l in lines_of(m)), srv.notifications)

    def test_sighup_reload_datagrams(self):
        srv = self.srv
        mark = len(srv.notifications)
        before = time.monotonic_ns() // 1000
        os.kill(srv.pid, signal.SIGHUP)
        deadline = time.monotonic() + 20
        msgs = []
        while time.monotonic() < deadline:
            msgs = srv.datagrams_since(mark)
            if any("READY=1" in lines_of(m) for m in msgs):
                break
        after = time.monotonic_ns() // 1000
        reloading = [i for i, m in enumerate(msgs) if "RELOADING=1" in lines_of(m)]
        ready = [i for i, m in enumerate(msgs) if "READY=1" in lines_of(m)]
        self.assertEqual(len(reloading), 1, msgs)
        self.assertEqual(len(ready), 1, msgs)
        self.assertLess(reloading[0], ready[0], "READY=1 must follow RELOADING=1")
        fields = dict(l.split("=", 1) for l in lines_of(msgs[reloading[0]]) if "=" in l)
        self.assertIn("MONOTONIC_USEC", fields, "RELOADING=1 and MONOTONIC_USEC= must share one datagram")
        usec = int(fields["MONOTONIC_USEC"])
        self.assertTrue(before <= usec <= after, (before, usec, after))
        self.assertEqual(srv.get("/").status, 200)
        # The status line follows the new generation.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if any(m.startswith("STATUS=generation 2") for m in srv.datagrams_since(mark)):
                break
        self.assertTrue(any(m.startswith("STATUS=generation 2") for m in srv.notifications[mark:]),
                        srv.notifications[mark:])

    def test_sighup_with_bad_config_reports_in_status(self):
        srv = self.srv
        write(os.path.join(srv.dir, "conf.d", "99-bad.conf"), "[Server]\nKeepAliveTimeout = soon\n")
        mark = len(srv.notifications)
        os.kill(srv.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        status = None
        while time.monotonic() < deadline and not status:
            status = next((m for m in srv.datagrams_since(mark) if "reload failed" in m), None)
        self.assertIsNotNone(status, srv.notifications[mark:])
        self.assertTrue(status.startswith("STATUS="), status)
        self.assertIn("99-bad.conf:2", status)
        # Nothing was replaced: no new generation, no READY=1 cycle, still serving.
        msgs = srv.notifications[mark:]
        self.assertFalse(any("STATUS=generation 2" in m for m in msgs), msgs)
        self.assertEqual(srv.get("/").status, 200)
        self.assertIn("99-bad.conf:2", srv.error_log())

    def test_stopping_on_sigterm(self):
        srv = self.srv
        workers = srv.workers()
        self.assertTrue(workers)
        mark = len(srv.notifications)
        os.kill(srv.pid, signal.SIGTERM)
        self.assertEqual(srv.proc.wait(timeout=15), 0, srv.output())
        stopping = srv.wait_datagram(lambda m: "STOPPING=1" in lines_of(m), since=mark, timeout=2)
        msgs = srv.notifications[mark:]
        self.assertIsNotNone(stopping, msgs)
        self.assertFalse(any("READY=1" in lines_of(m) for m in msgs), msgs)
        for pid in workers:
            self.assertFalse(alive(pid), f"worker {pid} outlived its supervisor")


# ---- reload, mpmctl, stop ---------------------------------------------------------------------

class Load(threading.Thread):
    """A client that keeps requesting: keep-alive connections of several sequential GETs, and new
    connections, alternately. Every request must get a 200 with the expected body."""

    def __init__(self, port, bodies):
        super().__init__(daemon=True)
        self.port, self.bodies = port, bodies
        self.ok = 0
        self.failures = []
        self.stop_event = threading.Event()

    def one_connection(self, n):
        with MpmdSocket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(("127.0.0.1", self.port))
            for i in range(n):
                last = i == n - 1
                s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n" + (b"Connection: close\r\n" if last else b"") +
                          b"\r\n")
                r = read_response(s)
                if r.status != 200 or r.body not in self.bodies:
                    self.failures.append(f"{r.status} {r.body!r}")
                else:
                    self.ok += 1
                if (r.header("connection") or "").lower() == "close":
                    return  # a draining worker says so; the client opens a new connection

    def run(self):
        k = 0
        while not self.stop_event.is_set():
            k += 1
            try:
                self.one_connection(1 if k % 2 else 10)
            except Exception as e:  # noqa: BLE001 — every kind of failure counts
                self.failures.append(f"{type(e).__name__}: {e}")

    def finish(self):
        self.stop_event.set()
        self.join(timeout=30)


def all_new_after_reload(srv, n=100):
    """Bodies of n new connections made right after `mpmctl reload` returned: the reload answers
    only once no old worker can take a connection, so every one must see the new content."""
    return {srv.get("/").body for _ in range(n)}


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.srv = SystemdServer(files={"index.html": "v1\n"})
        self.addCleanup(self.srv.stop)
        self.srv.start()

    def generation(self):
        r = self.srv.mpmctl("status")
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.search(r"^generation: (\d+)$", r.stdout, re.M)
        self.assertIsNotNone(m, r.stdout)
        return int(m.group(1))

    def test_reload_under_traffic_loses_nothing(self):
        srv = self.srv
        load = Load(srv.port, {b"v1\n"})
        load.start()
        try:
            wait_for(lambda: load.ok >= 20 or load.failures, timeout=10, what="the load being answered")
            for i in range(3):
                r = srv.mpmctl("reload")
                self.assertEqual(r.returncode, 0, f"reload {i + 1}: {r.stdout} {r.stderr}")
                self.assertRegex(r.stdout, rf"generation {i + 2} is serving")
                # traffic through the new generation (and the old one draining) before the next
                answered = load.ok
                wait_for(lambda: load.ok >= answered + 50 or load.failures, timeout=20,
                         what=f"the load answered after reload {i + 1}")
        finally:
            load.finish()
        print(f"load: {load.ok} requests answered, {len(load.failures)} failed", file=sys.stderr)
        self.assertEqual(load.failures, [])
        self.assertGreater(load.ok, 50, "the load generator hardly ran")
        self.assertEqual(self.generation(), 4)

    def test_reload_serves_new_document_root(self):
        srv = self.srv
        root2 = os.path.join(srv.dir, "htdocs2")
        site_files(root2, "v2\n")
        with open(srv.conf) as f:
            text = f.read()
        with open(srv.conf, "w") as f:
            f.write(text.replace(f"DocumentRoot = {srv.root}\n", f"DocumentRoot = {root2}\n"))
        self.assertEqual(srv.get("/").body, b"v1\n")
        r = srv.mpmctl("reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        # reload returns when the new generation accepts and no old worker takes connections.
        self.assertEqual(all_new_after_reload(srv), {b"v2\n"})

    def test_bad_reload_fails_and_changes_nothing(self):
        srv = self.srv
        bad = os.path.join(srv.dir, "conf.d", "99-bad.conf")
        write(bad, "[Server]\nKeepAliveTimeout = soon\n")
        # And a change that must not take effect, since the whole reload is refused.
        root2 = os.path.join(srv.dir, "htdocs2")
        site_files(root2, "v2\n")
        with open(srv.conf) as f:
            text = f.read()
        with open(srv.conf, "w") as f:
            f.write(text.replace(f"DocumentRoot = {srv.root}\n", f"DocumentRoot = {root2}\n"))
        load = Load(srv.port, {b"v1\n"})
        load.start()
        try:
            r = srv.mpmctl("reload")
        finally:
            load.finish()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"{bad}:2", r.stderr)
        self.assertIn("KeepAliveTimeout", r.stderr)
        self.assertEqual(srv.get("/").body, b"v1\n", "a refused reload must leave the old content serving")
        self.assertEqual(load.failures, [])
        self.assertEqual(self.generation(), 1)
        st = srv.mpmctl("status")
        self.assertRegex(st.stdout, r"last reload: reload failed: .*99-bad\.conf:2")
        os.unlink(bad)
        r = srv.mpmctl("reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(all_new_after_reload(srv), {b"v2\n"})

    def test_status_prints_generation_and_workers(self):
        r = self.srv.mpmctl("status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^generation: 1$")
        self.assertRegex(r.stdout, r"(?m)^workers: busy \d+, idle [1-9]\d*")
        self.assertRegex(r.stdout, rf"(?m)^pid: {self.srv.pid}$")

    def test_unreachable_control_socket(self):
        r = subprocess.run([MPMCTL, "-s", os.path.join(self.srv.dir, "nothing"), "status"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 3)
        self.assertIn("cannot reach mpmd", r.stderr)

    def test_stop_is_graceful(self):
        srv = self.srv
        workers = srv.workers()
        # A request in flight when the stop comes is still answered.
        s = srv.connect()
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")  # head not finished yet
        wait_accepted(s)
        mark = len(srv.notifications)
        r = srv.mpmctl("stop")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("stopping gracefully", r.stdout)
        s.sendall(b"Connection: close\r\n\r\n")
        resp = read_response(s)
        s.close()
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, b"v1\n")
        self.assertEqual(srv.proc.wait(timeout=15), 0)
        self.assertIsNotNone(srv.wait_datagram(lambda m: "STOPPING=1" in lines_of(m), since=mark, timeout=2),
                             srv.notifications[mark:])
        for pid in workers:
            self.assertFalse(alive(pid), f"worker {pid} outlived the stop")
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()

    def test_sigusr1_and_mpmctl_reopen_logs(self):
        srv = self.srv
        rotated = srv.log + ".1"
        os.rename(srv.log, rotated)
        os.kill(srv.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "log files reopened" not in srv.error_log():
            time.sleep(0.05)
        self.assertIn("log files reopened", srv.error_log(), "SIGUSR1 did not reopen ErrorLog")
        with open(rotated) as f:
            self.assertNotIn("log files reopened", f.read())
        os.rename(srv.log, rotated)
        r = srv.mpmctl("reopen-logs")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("logs reopened", r.stdout)
        self.assertIn("log files reopened", srv.error_log())

    def log_inode_of(self, pid):
        """The inode of the ErrorLog file that process pid holds open, or None."""
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in (self.srv.log, self.srv.log + " (deleted)"):
                    return os.stat(f"/proc/{pid}/fd/{fd}").st_ino
            except OSError:
                pass
        return None

    def test_reopen_logs_answers_once_every_worker_holds_the_new_file(self):
        # Nothing to wait for after the answer: every worker has its new ErrorLog by then.
        srv = self.srv
        workers = srv.workers()
        self.assertTrue(workers)
        os.rename(srv.log, srv.log + ".1")
        r = srv.mpmctl("reopen-logs")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        new = os.stat(srv.log).st_ino
        self.assertEqual({pid: self.log_inode_of(pid) for pid in workers}, {pid: new for pid in workers})

    def test_reopen_logs_names_a_worker_that_does_not_take_the_new_files(self):
        # A worker that cannot run (stopped) does not adopt them: after the bound (5 s) the answer
        # is an error naming it, and once it runs again the next reopen-logs succeeds.
        srv = self.srv
        stuck = srv.workers()[0]
        os.kill(stuck, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            r = srv.mpmctl("reopen-logs")
            waited = time.monotonic() - t0
        finally:
            os.kill(stuck, signal.SIGCONT)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        # (under perchild the worker is a site's pool: "pool a 0")
        self.assertRegex(r.stderr, rf"not adopted within 5 s by: (worker|pool \S+) \d+ \(pid {stuck}\) of generation \d+")
        self.assertGreater(waited, 4)
        r = srv.mpmctl("reopen-logs")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
