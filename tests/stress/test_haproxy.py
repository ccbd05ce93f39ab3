# SPDX-License-Identifier: MIT
"""Several mpmd nodes behind HAProxy, with mpmd as HAProxy's agent: the shipped recipe
(examples/haproxy/, tools/rolling-reload) under load, loopback only.

Three nodes on 127.0.0.2, 127.0.0.3 and 127.0.0.4 (the same port; no namespaces needed), HAProxy on
127.0.0.1 with the example's configuration (addresses and ports rewritten), the non-retrying load
client with keep-alive and new connections and POST bodies:
  - tools/rolling-reload over the three nodes, three times: 0 failed requests;
  - kill -9 of one node's whole process tree: at most the requests it had in flight fail, HAProxy
    marks it down within its check interval, and once started again it is back in rotation;
  - a reload with a broken configuration on one node: rolling-reload stops there, that node keeps
    serving its old configuration (drained), the nodes after it are untouched.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import unittest

from stress import MPMCTL, Load, StressServer, failures_text, figure
from mpmdtest import SOURCE_ROOT, free_port, wait_for

HAPROXY = shutil.which("haproxy")
EXAMPLES = os.path.join(SOURCE_ROOT, "examples", "haproxy")
ROLLING = os.path.join(SOURCE_ROOT, "tools", "rolling-reload")
NODES = ("127.0.0.2", "127.0.0.3", "127.0.0.4")


class Node(StressServer):
    def __init__(self, addr, port, agent_port):
        self.addr = addr
        with open(os.path.join(EXAMPLES, "mpmd-node.conf")) as f:
            keys = f.read().split("[Server]\n", 1)[1]
        keys = keys.replace("AgentCheck = *:8081", f"AgentCheck = {addr}:{agent_port}")
        super().__init__(server_keys=keys, start=False, files={"index.html": f"node {addr}\n"})
        with open(self.conf) as f:
            text = f.read()
        text = text.replace(f"Listen = 127.0.0.1:{self.port}", f"Listen = {addr}:{port}")
        with open(self.conf, "w") as f:
            f.write(text)
        self.port = port
        self.start(notify=True)

    def restart(self):
        """Start again after a kill: a fresh notify socket, the same configuration."""
        self._notify_stop = True
        self._notify_thread.join(timeout=2)
        self.notify_sock.close()
        os.unlink(self.notify_path)
        self.notifications = []
        self.start(notify=True)

    def mpmctl_command(self):
        return f"{MPMCTL} -s {self.control}"

    def generation(self):
        out = subprocess.run([MPMCTL, "-s", self.control, "status"], capture_output=True, text=True).stdout
        m = re.search(r"^generation: (\d+)", out, re.M)
        return int(m.group(1)) if m else None

    def get_direct(self, path="/"):
        with socket.create_connection((self.addr, self.port), timeout=5) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return data
                data += chunk


@unittest.skipUnless(HAPROXY, "needs haproxy")
class HAProxyTest(unittest.TestCase):
    def setUp(self):
        self.dir = os.path.join("/tmp", f"mpmd-haproxy-{os.getpid()}-{id(self)}")
        os.makedirs(self.dir)
        self.port = free_port()
        self.agent_port = free_port()
        self.nodes = []
        for addr in NODES:
            self.nodes.append(Node(addr, self.port, self.agent_port))
        self.front = free_port()
        self.stats = os.path.join(self.dir, "haproxy.sock")
        with open(os.path.join(EXAMPLES, "haproxy.cfg")) as f:
            cfg = f.read()
        cfg = cfg.replace("log /dev/log local0", "log stderr format raw local0 warning")
        cfg = cfg.replace("/run/haproxy/admin.sock", self.stats)
        cfg = cfg.replace("bind :80", f"bind 127.0.0.1:{self.front}")
        cfg = cfg.replace("agent-port 8081", f"agent-port {self.agent_port}")
        for i, addr in enumerate(NODES):
            cfg = cfg.replace(f"192.0.2.1{i + 1}:80", f"{addr}:{self.port}")
        self.cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(self.cfg, "w") as f:
            f.write(cfg)
        with open(os.path.join(self.dir, "haproxy.log"), "w") as log:
            self.haproxy = subprocess.Popen([HAPROXY, "-db", "-f", self.cfg], stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        wait_for(lambda: all(self.status(f"web{i + 1}").startswith("UP") for i in range(3)), timeout=30,
                 what="HAProxy to see every node UP")

    def tearDown(self):
        if self.haproxy.poll() is None:
            os.killpg(self.haproxy.pid, signal.SIGKILL)
            self.haproxy.wait()
        for n in self.nodes:
            n.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def stat_rows(self):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(self.stats)
            s.sendall(b"show stat\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        lines = data.decode().splitlines()
        names = lines[0][2:].split(",")
        return [dict(zip(names, line.split(","))) for line in lines[1:] if line]

    def status(self, server):
        try:
            for row in self.stat_rows():
                if row["pxname"] == "mpmd" and row["svname"] == server:
                    return row["status"]
        except OSError:
            return ""
        return ""

    def rolling(self, *nodes):
        args = [ROLLING, "-S", self.stats, "--timeout", "60"] + [f"web{i + 1}={self.nodes[i].mpmctl_command()}"
                                                                 for i in nodes]
        return subprocess.run(args, capture_output=True, text=True, timeout=300)

    def load(self, duration):
        return Load(self.front, duration=duration, connections=24, per_conn=50, close_pct=30, post_pct=20,
                    post_size=4096, timeout=20)

    def test_rolling_reloads_under_load_lose_nothing(self):
        load = self.load(duration=600)
        try:
            time.sleep(1)
            t0 = time.monotonic()
            for round in range(3):
                p = self.rolling(0, 1, 2)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            took = time.monotonic() - t0
        finally:
            load.proc.send_signal(signal.SIGINT)
        r = load.result()
        figure("haproxy_rolling_reload", rounds=3, nodes=3, seconds=f"{took:.1f}", requests=r["requests"],
               failed=r["failed"])
        self.assertGreater(r["requests"], 1000)
        self.assertEqual(r["failed"], 0, failures_text(r))
        for n in self.nodes:
            self.assertEqual(n.generation(), 4, "three reloads each")

    def test_a_node_killed_costs_only_its_requests_in_flight(self):
        load = self.load(duration=600)
        try:
            time.sleep(2)
            victim = self.nodes[1]
            t0 = time.monotonic()
            os.killpg(victim.proc.pid, signal.SIGKILL)
            victim.proc.wait()
            wait_for(lambda: self.status("web2").startswith("DOWN"), timeout=30, what="HAProxy to mark web2 down")
            down_after = time.monotonic() - t0
            time.sleep(2)  # the load goes on over the others
            victim.restart()
            t1 = time.monotonic()
            wait_for(lambda: self.status("web2").startswith("UP"), timeout=30, what="web2 back in rotation")
            up_after = time.monotonic() - t1
            served_before = victim.get_direct("/server-status?auto")
            time.sleep(2)
        finally:
            load.proc.send_signal(signal.SIGINT)
        r = load.result()
        figure("haproxy_node_killed", requests=r["requests"], failed=r["failed"], down_s=f"{down_after:.1f}",
               up_s=f"{up_after:.1f}")
        # 24 client connections: a node had at most that many requests in flight.
        self.assertLessEqual(r["failed"], 24, failures_text(r))
        self.assertLess(down_after, 10)
        m = re.search(rb"Total Accesses: (\d+)", victim.get_direct("/server-status?auto"))
        before = re.search(rb"Total Accesses: (\d+)", served_before)
        self.assertGreater(int(m.group(1)), int(before.group(1)), "web2 serves again after its restart")

    def test_a_broken_configuration_stops_the_rolling_reload_there(self):
        broken = self.nodes[1]
        with open(broken.conf, "a") as f:
            f.write("\n[Server]\nNoSuchKey = 1\n")
        load = self.load(duration=600)
        try:
            time.sleep(1)
            p = self.rolling(0, 1, 2)
        finally:
            load.proc.send_signal(signal.SIGINT)
        r = load.result()
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("web2: reload failed", p.stderr)
        self.assertIn("NoSuchKey", p.stderr)
        self.assertEqual(r["failed"], 0, failures_text(r))
        self.assertEqual(self.nodes[0].generation(), 2, "web1 was reloaded")
        self.assertEqual(broken.generation(), 1, "web2 kept its configuration")
        self.assertEqual(self.nodes[2].generation(), 1, "web3 was not touched")
        self.assertTrue(self.status("web2").startswith("DRAIN"), self.status("web2"))
        self.assertTrue(self.status("web3").startswith("UP"))
        self.assertIn(b"node 127.0.0.3", broken.get_direct("/"), "web2 still serves, directly")


if __name__ == "__main__":
    unittest.main()
