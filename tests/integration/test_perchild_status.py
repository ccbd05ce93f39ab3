# SPDX-License-Identifier: MIT
"""server-status under perchild: a site's page shows its own pool only (its requests, its processes, its
scoreboard), the main server's shows the whole server, a site without a User of its own sees the default
pool's; a request handed over by the dispatcher is counted once.

Needs root, like test_perchild.py (it creates the two site users and starts mpmd as root)."""
import os
import pwd
import shutil
import time
import unittest

from mpmdtest import wait_for
from test_status import parse_metrics
from test_perchild import DISPATCH_USER, PerchildServer, create_users, perchild_available, remove_users

# The supervisor publishes once a second: wait long enough for two publications.
PUBLISHED = 2.5


def auto(response):
    lines = response.body.decode().rstrip("\n").split("\n")
    return dict(line.split(": ", 1) for line in lines[1:])


class StatusServer(PerchildServer):
    """test_perchild's server (a: 3 processes on a socket of its own; b: 2 behind the dispatcher; the
    default pool: 2) with ServerStatus on every site, and c, a site without a User (the default pool's)."""

    def __init__(self):
        super().__init__()
        self.root_c = os.path.join(self.dir, "c")
        os.mkdir(self.root_c)
        os.chmod(self.root_c, 0o755)
        with open(os.path.join(self.root_c, "index.html"), "w") as f:
            f.write("site c\n")
        with open(self.conf) as f:
            conf = f.read()
        # [Server]'s site keys are every virtual host's unless it sets its own.
        conf = conf.replace("[Server]\n", "[Server]\nServerStatus = /server-status\nServerStatusAllow = 127.0.0.0/8\n", 1)
        conf += f"\n[VirtualHost c]\nServerName = c.test\nDocumentRoot = {self.root_c}\n"
        with open(self.conf, "w") as f:
            f.write(conf)

    def status(self, host, port=None):
        r = self.get_on(port or self.port, "/server-status?auto", host)
        assert r.status == 200, (host, r.status, r.body)
        return auto(r)

    def hits(self, host, n, port=None):
        for _ in range(n):
            r = self.get_on(port or self.port, "/index.html", host)
            assert r.status == 200, (host, r.status)


@unittest.skipUnless(os.geteuid() == 0, "needs root: creates users and starts mpmd as root")
@unittest.skipUnless(shutil.which("setpriv") and shutil.which("useradd"), "needs setpriv and useradd")
@unittest.skipUnless(perchild_available(), "mpmd was built without the perchild MPM")
class PerchildStatusTest(unittest.TestCase):
    def setUp(self):
        # A server per test: each one counts requests from zero.
        self.created = create_users()
        self.srv = StatusServer()
        self.srv.start()
        self.srv.wait_pool(self.srv.uid_of("a"), n=3)
        self.srv.wait_pool(self.srv.uid_of("b"), n=2)

    def tearDown(self):
        self.srv.stop()
        remove_users(self.created)

    def test_a_site_sees_its_own_pool_only(self):
        srv = self.srv
        srv.hits("a.test", 5, port=srv.port_a)
        srv.hits("b.test", 7)  # through the dispatcher
        srv.hits("c.test", 2)  # the default pool, through the dispatcher
        time.sleep(PUBLISHED)

        a = srv.status("a.test", port=srv.port_a)
        self.assertEqual(int(a["Total Accesses"]), 5, a)
        self.assertEqual(int(a["Processes"]), 3, a)
        self.assertEqual(len(a["Scoreboard"]), 3, a)  # a's pool: PoolProcesses = 3
        self.assertEqual(int(a["BusyWorkers"]) + int(a["IdleWorkers"]), 3, a)
        self.assertEqual(a["CPUUser"], "0.00", "the server's CPU time is not a tenant's to see")

        b = srv.status("b.test")
        self.assertEqual(int(b["Total Accesses"]), 7, b)
        self.assertEqual(int(b["Processes"]), 2, b)
        self.assertEqual(len(b["Scoreboard"]), 2, b)

        # A site without a User of its own is served by the default pool and sees that pool: its
        # own requests and the main server's, no tenant's.
        c = srv.status("c.test")
        self.assertEqual(int(c["Total Accesses"]), 2, c)
        self.assertEqual(int(c["Processes"]), 2, c)
        self.assertEqual(len(c["Scoreboard"]), 2, c)

    def test_a_sites_metrics_are_its_pools(self):
        srv = self.srv
        srv.hits("a.test", 5, port=srv.port_a)
        srv.hits("b.test", 7)
        time.sleep(PUBLISHED)
        r = srv.get_on(srv.port_a, "/server-status?metrics", "a.test")
        self.assertEqual(r.status, 200, r.body)
        m, _ = parse_metrics(r.body.decode())
        self.assertEqual(m["mpmd_requests_total"], 5, m)
        self.assertEqual(m["mpmd_request_duration_seconds_count"], 5, m)
        self.assertEqual(m['mpmd_request_duration_seconds_bucket{le="+Inf"}'], 5, m)
        self.assertEqual(m['mpmd_processes{state="all"}'], 3, m)
        # The server's CPU time and reloads are not a tenant's to see.
        self.assertEqual(m['mpmd_cpu_seconds_total{mode="user"}'], 0, m)
        r = srv.get_on(srv.port, "/server-status?metrics", "localhost")
        everything, _ = parse_metrics(r.body.decode())
        self.assertGreaterEqual(everything["mpmd_requests_total"], 12, everything)

        # The main server's view has it: printed to 1/100 s, a server just started may not have used
        # that much yet, so it serves until it has.
        def server_cpu():
            srv.hits("localhost", 50)
            m, _ = parse_metrics(srv.get_on(srv.port, "/server-status?metrics", "localhost").body.decode())
            return m['mpmd_cpu_seconds_total{mode="user"}'] + m['mpmd_cpu_seconds_total{mode="system"}']
        wait_for(lambda: server_cpu() > 0, timeout=60, what="the server's CPU time in the main server's metrics")

    def test_the_main_server_sees_everything_and_a_dispatched_request_counts_once(self):
        srv = self.srv
        before = srv.status("localhost")
        srv.hits("a.test", 5, port=srv.port_a)
        srv.hits("b.test", 7)
        srv.hits("c.test", 3)
        srv.hits("localhost", 4)
        time.sleep(PUBLISHED)
        after = srv.status("localhost")
        # Each request once, the status request before them included (counted once it ended, as
        # Apache counts it and as mpmd counts it under the other MPMs).
        self.assertEqual(int(after["Total Accesses"]) - int(before["Total Accesses"]), 5 + 7 + 3 + 4 + 1,
                         (before, after))
        # Every process: the dispatcher, a's 3, b's 2, the default pool's 2.
        self.assertEqual(int(after["Processes"]), 8, after)
        self.assertEqual(len(after["Scoreboard"].strip(".")), 8, after)

    def test_each_site_status_request_is_counted_in_its_own_pool(self):
        srv = self.srv
        first = srv.status("b.test")
        time.sleep(PUBLISHED)
        second = srv.status("b.test")
        self.assertEqual(int(second["Total Accesses"]) - int(first["Total Accesses"]), 1, (first, second))
        self.assertEqual(int(srv.status("a.test", port=srv.port_a)["Total Accesses"]), 0)

    def test_a_pool_maps_its_own_status_only(self):
        srv = self.srv

        def segments(pid):
            """The status segments pid maps: {inode: writable}."""
            with open(f"/proc/{pid}/maps") as f:
                rows = [line.split() for line in f if "mpmd-status" in line]
            return {row[4]: row[1][1] == "w" for row in rows}

        pools = {site: srv.wait_pool(srv.uid_of(site), n=n) for site, n in (("a", 3), ("b", 2))}
        default = srv.wait_pool(pwd.getpwnam("nobody").pw_uid, n=2)
        dispatcher = srv.wait_pool(pwd.getpwnam(DISPATCH_USER).pw_uid, n=1)
        seen = {}
        for name, pids in list(pools.items()) + [("default", default)]:
            maps = [segments(pid) for pid in pids]
            self.assertTrue(all(m == maps[0] for m in maps), (name, maps))
            self.assertFalse(any(maps[0].values()), f"{name} may not write its status")
            seen[name] = set(maps[0])
        # A tenant's pool: its own segment; the default pool: its own and the server's.
        self.assertEqual(len(seen["a"]), 1, seen)
        self.assertEqual(len(seen["b"]), 1, seen)
        self.assertEqual(len(seen["default"]), 2, seen)
        self.assertFalse(seen["a"] & seen["b"] or seen["a"] & seen["default"] or seen["b"] & seen["default"], seen)
        # The dispatcher shows no status page and holds none.
        self.assertEqual(segments(dispatcher[0]), {})


if __name__ == "__main__":
    unittest.main()
