# SPDX-License-Identifier: MIT
"""Ordinary traffic on every MPM, the way memory bugs show themselves: a Connection: close load and a
keep-alive load side by side, clients that send half a head and go, and requests that switch hosts
on a kept-alive connection (under perchild: through the dispatcher, between sites). Run in the
sanitizer build as well (tools/dev test runs this suite's "load" tests there), where a use-after-free
or a double free ends a process with abort().

A run fails on any failed request and on any process the supervisor saw end other than as asked (a
signal, or a non-zero exit): the perchild dispatcher's use-after-free of issue 12 cost connections
only, because the dispatcher was replaced at once; here it fails the test."""
import os
import random
import re
import shutil
import socket
import threading
import time
import unittest

from stress import SEED, Load, StressServer, failures_text, figure, mpms

import test_perchild
from mpmdtest import read_response

SECONDS = int(os.environ.get("MPMD_STRESS_LOAD_SECONDS", "6"))
CONNECTIONS = 24
# The lines the supervisor writes when a worker, a dispatcher, a pool or a CGI launcher ends badly.
DEATH = re.compile(r".*(was killed by signal|exited with status) \d+.*")
HEAD = b"GET /index.html HTTP/1.1\r\nHost: %s\r\nUser-Agent: half\r\nAccept: */*\r\n\r\n"


class Attackers:
    """Threads that run beside the load until stopped: half-sent heads on each port, and (with
    several hosts) keep-alive connections that switch hosts, checking every answer they get."""

    def __init__(self, ports, hosts, switch_port=None, switch_hosts=()):
        self.stop = threading.Event()
        self.errors = []
        self.counts = {"half": 0, "switch": 0}
        # Each thread's choices from the run's seed and its place (the ports change from run to run).
        self.threads = [threading.Thread(target=self.half_heads, args=(port, hosts, random.Random(f"{SEED}:half:{i}")),
                                         daemon=True) for i, port in enumerate(ports)]
        if switch_port:
            self.threads.append(threading.Thread(target=self.switch_hosts, args=(switch_port, switch_hosts),
                                                 daemon=True))
        for t in self.threads:
            t.start()

    def half_heads(self, port, hosts, rnd):
        while not self.stop.is_set():
            head = HEAD % rnd.choice(hosts).encode()
            cut = rnd.randrange(1, len(head) - 1)
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(head[:cut])
                    how = rnd.randrange(3)
                    if how == 1:
                        s.shutdown(socket.SHUT_WR)  # end of stream after part of a head
                    elif how == 2:
                        time.sleep(0.05)  # the attack itself: hold a moment, then reset
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")  # reset
            except OSError:
                pass
            self.counts["half"] += 1

    def switch_hosts(self, port, hosts):
        """hosts: (name, pool) pairs. The first request picks the connection's pool; a later one for
        another pool's site gets 421 and the connection ends; a name no site has (pool None) gets
        421 at once."""
        rnd = random.Random(f"{SEED}:switch")
        while not self.stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                    pool = None
                    for _ in range(8):
                        host, its_pool = rnd.choice(hosts)
                        pool = pool or its_pool
                        want = 200 if its_pool is not None and its_pool == pool else 421
                        s.sendall(HEAD % host.encode())
                        r = read_response(s)
                        self.counts["switch"] += 1
                        if r.status != want:
                            self.errors.append(f"Host {host}: {r.status}, not {want}")
                        if r.status == 421:
                            if s.recv(100) != b"":
                                self.errors.append("a 421 did not close the connection")
                            break
            except (OSError, ValueError) as e:
                if not self.stop.is_set():
                    self.errors.append(f"host switching: {e!r}")

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)
        return self.errors


def deaths(log_path):
    with open(log_path, errors="replace") as f:
        return [line.strip() for line in f if DEATH.match(line)]


class LoadTest(unittest.TestCase):
    def check(self, name, log, results, attackers):
        errors = attackers.finish()
        for label, r in results.items():
            figure(f"load {name} {label}", requests=r["requests"], failed=r["failed"], p99_us=r["p99_us"])
            self.assertEqual(r["failed"], 0, f"{name} {label}: {failures_text(r)}")
            self.assertGreater(r["requests"], 0)
        figure(f"load {name} attacks", **attackers.counts)
        self.assertGreater(attackers.counts["half"], 0)
        self.assertEqual(errors[:5], [])
        self.assertEqual(deaths(log), [], f"{name}: processes ended by themselves under load")

    def test_close_and_keepalive_load_on_each_mpm(self):
        for mpm in mpms():
            with self.subTest(mpm=mpm), StressServer(mpm=mpm) as srv:
                attackers = Attackers([srv.port], ["localhost", "127.0.0.1", "other.test"],
                                      switch_port=srv.port,
                                      switch_hosts=[("localhost", "all"), ("other.test", "all"), ("127.0.0.1", "all")])
                close = Load(srv.port, duration=SECONDS, connections=CONNECTIONS // 2, per_conn=1, close_pct=100,
                             post_pct=0)
                keep = Load(srv.port, duration=SECONDS, connections=CONNECTIONS // 2, per_conn=200, close_pct=0,
                            post_pct=10)
                results = {"close": close.result(), "keep-alive": keep.result()}
                self.check(mpm, srv.log, results, attackers)

    @unittest.skipUnless(os.geteuid() == 0, "perchild needs root: it creates site users")
    @unittest.skipUnless(shutil.which("setpriv") and shutil.which("useradd"), "needs setpriv and useradd")
    @unittest.skipUnless(test_perchild.perchild_available(), "mpmd was built without the perchild MPM")
    def test_close_and_keepalive_load_through_the_dispatcher(self):
        created = test_perchild.create_users()
        try:
            with test_perchild.PerchildServer() as srv:
                srv.start()
                # b.test and the server's own site are reached through the dispatcher; a.test also
                # has a socket of its own, which its pool alone holds.
                attackers = Attackers([srv.port, srv.port_a], ["b.test", "localhost", "a.test"],
                                      switch_port=srv.port,
                                      switch_hosts=[("b.test", "b"), ("localhost", "server"), ("unknown.test", None)])
                loads = {
                    "close b": Load(srv.port, duration=SECONDS, connections=CONNECTIONS // 2, per_conn=1,
                                    close_pct=100, post_pct=0, host="b.test"),
                    "keep-alive b": Load(srv.port, duration=SECONDS, connections=CONNECTIONS // 4, per_conn=200,
                                         close_pct=0, post_pct=10, host="b.test"),
                    "close server": Load(srv.port, duration=SECONDS, connections=CONNECTIONS // 4, per_conn=1,
                                         close_pct=100, post_pct=0),
                    "close a": Load(srv.port_a, duration=SECONDS, connections=CONNECTIONS // 4, per_conn=1,
                                    close_pct=100, post_pct=0, host="a.test"),
                }
                results = {k: v.result() for k, v in loads.items()}
                self.check("perchild", srv.log, results, attackers)
        finally:
            test_perchild.remove_users(created)


if __name__ == "__main__":
    unittest.main()
