# SPDX-License-Identifier: MIT
"""server-status: Apache's ?auto keys in Apache's order, ?json, HTML, and the address check."""
import json
import time
import unittest

from mpmdtest import Server

AUTO_KEYS = ["ServerVersion", "ServerMPM", "Server Built", "CurrentTime", "RestartTime",
             "ParentServerConfigGeneration", "ParentServerMPMGeneration", "ServerUptimeSeconds",
             "ServerUptime", "Load1", "Load5", "Load15", "Total Accesses", "Total kBytes",
             "Total Duration", "CPUUser", "CPUSystem", "CPUChildrenUser", "CPUChildrenSystem", "CPULoad",
             "Uptime", "ReqPerSec", "BytesPerSec", "BytesPerReq", "DurationPerReq", "BusyWorkers",
             "GracefulWorkers", "IdleWorkers", "Processes", "Stopping", "ConnsTotal", "ConnsAsyncWriting",
             "ConnsAsyncKeepAlive", "ConnsAsyncClosing", "Scoreboard"]


def parse_auto(body):
    lines = body.decode().rstrip("\n").split("\n")
    return lines[0], [tuple(line.split(": ", 1)) for line in lines[1:]]


class StatusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(server_keys="ServerStatus = /server-status\n",
                         files={"index.html": "x" * 1000})

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_auto_keys_in_apache_order_and_counts(self):
        for _ in range(25):
            self.assertEqual(self.srv.get("/").status, 200)
        deadline = time.monotonic() + 5
        while True:
            r = self.srv.get("/server-status?auto")
            self.assertEqual(r.status, 200)
            self.assertTrue(r.header("content-type").startswith("text/plain"))
            name, pairs = parse_auto(r.body)
            values = dict(pairs)
            if int(values["Total Accesses"]) >= 25 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        self.assertEqual(name, "localhost")
        self.assertEqual([k for k, _ in pairs], AUTO_KEYS)
        self.assertGreaterEqual(int(values["Total Accesses"]), 25)
        self.assertGreaterEqual(int(values["Total kBytes"]), 24)
        self.assertTrue(values["ServerVersion"].startswith("mpmd/"))
        self.assertEqual(values["ParentServerConfigGeneration"], "1")
        board = values["Scoreboard"]
        self.assertTrue(board and set(board) <= set("_SRWKDCLGI.?"), board)
        self.assertEqual(int(values["Processes"]), len(self.srv.workers()))

    def test_json(self):
        r = self.srv.get("/server-status?json")
        self.assertEqual(r.status, 200)
        d = json.loads(r.body)
        self.assertEqual(d["generation"], 1)
        self.assertIn(d["mpm"], ("event", "worker", "prefork", "perchild"))
        self.assertIn("scoreboard", d)

    def test_html(self):
        r = self.srv.get("/server-status")
        self.assertEqual(r.status, 200)
        self.assertIn(b"mpmd server status", r.body)

    def test_workers_cannot_write_what_the_supervisor_publishes(self):
        for pid in self.srv.workers():
            with open(f"/proc/{pid}/maps") as f:
                maps = [line for line in f if "mpmd-status" in line or "mpmd-scoreboard" in line]
            status = [m for m in maps if "mpmd-status" in m]
            self.assertTrue(status, "the worker maps the status segment")
            self.assertFalse([m for m in status if m.split()[1][1] == "w"], status)
            # exactly one scoreboard segment, its own, is writable
            self.assertEqual(len([m for m in maps if "mpmd-scoreboard" in m]), 1, maps)

    def test_other_paths_unaffected(self):
        self.assertEqual(self.srv.get("/server-status-not").status, 404)


class StatusDeniedTest(unittest.TestCase):
    def test_not_in_allow_list(self):
        with Server(server_keys="ServerStatus = /server-status\nServerStatusAllow = 10.0.0.0/8\n") as srv:
            self.assertEqual(srv.get("/server-status?auto").status, 403)

    def test_off_by_default(self):
        with Server() as srv:
            self.assertEqual(srv.get("/server-status").status, 404)


if __name__ == "__main__":
    unittest.main()
