# SPDX-License-Identifier: MIT
"""server-status: Apache's ?auto keys in Apache's order, ?json, HTML, and the address check."""
import json
import os
import re
import signal
import time
import unittest

from mpmdtest import Server, needs_host_fallback, wait_for

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


MPM = os.environ.get("MPMD_BUILD_MPM", "event")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of pid, from /proc (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def burn(srv, connections=150, per_connection=100):
    """Pipelined requests for a small file, the last of each connection closing it: CPU time in the
    workers that serve them."""
    req = b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n"
    last = b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    for _ in range(connections):
        with srv.connect() as s:
            s.sendall(req * (per_connection - 1) + last)
            got = b""
            while chunk := s.recv(1 << 16):
                got += chunk
            assert got.count(b"HTTP/1.1 200 ") == per_connection, got[:200]


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

    def test_unknown_query_is_the_html_page(self):
        for query in ("jsonx", "autox", "nonsense", "refresh=5"):
            r = self.srv.get(f"/server-status?{query}")
            self.assertEqual(r.status, 200)
            self.assertTrue(r.header("content-type").startswith("text/html"), query)
            self.assertIn(b"mpmd server status", r.body)
        r = self.srv.get("/server-status?refresh=5&json")
        self.assertEqual(json.loads(r.body)["generation"], 1)

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


def auto_values(srv):
    r = srv.get("/server-status?auto")
    assert r.status == 200, r.status
    return dict(parse_auto(r.body)[1])


def server_cpu(values):
    return float(values["CPUUser"]) + float(values["CPUSystem"])


class StatusCpuTest(unittest.TestCase):
    """CPUUser and CPUSystem count the workers' time (live ones and exited ones) and the supervisor's."""

    def test_workers_cpu_is_counted(self):
        with Server(server_keys="ServerStatus = /server-status\n", files={"index.html": "x" * 100}) as srv:
            burn(srv)
            workers = sum(cpu_seconds(p) for p in srv.workers())
            self.assertGreaterEqual(workers, 0.02, "the burst cost the workers no measurable CPU")
            # Published once a second: wait for a publication that includes the burst.
            values = wait_for(lambda: (v := auto_values(srv)) and server_cpu(v) >= 0.9 * workers and v,
                              timeout=10, what=f"CPUUser+CPUSystem reaching the workers' {workers:.2f} s")
            own = cpu_seconds(srv.pid)
            self.assertGreater(server_cpu(values), own + 0.5 * workers, (values, own, workers))

    def test_retired_workers_cpu_stays_counted(self):
        section = f"[{MPM}]\nMaxConnectionsPerChild = 200\n"
        with Server(server_keys="ServerStatus = /server-status\n", files={"index.html": "x" * 100},
                    mpm_section=section) as srv:
            first = set(srv.workers())
            burn(srv)
            spent = sum(cpu_seconds(p) for p in first)
            self.assertGreaterEqual(spent, 0.02, "the burst cost the workers no measurable CPU")
            before = server_cpu(wait_for(lambda: (v := auto_values(srv)) and server_cpu(v) >= 0.9 * spent and v,
                                         timeout=10, what="the burst's CPU on the status page"))
            seen = [before]

            def retired():
                for _ in range(20):
                    self.assertEqual(srv.get("/index.html").status, 200)
                seen.append(server_cpu(auto_values(srv)))
                return not first & set(srv.workers())

            wait_for(retired, timeout=30, what="every first worker retired (MaxConnectionsPerChild)")
            time.sleep(1.5)  # a publication after the last exit
            seen.append(server_cpu(auto_values(srv)))
            self.assertEqual(seen, sorted(seen), "the CPU counter went back")
            self.assertGreaterEqual(seen[-1], 0.9 * spent, (seen, spent))


class StatusJsonEscapeTest(unittest.TestCase):
    @needs_host_fallback
    def test_server_name_with_quote_and_backslash(self):
        name = 'we"ird\\name<x>'
        with Server(server_keys="ServerStatus = /server-status\n", start=False) as srv:
            with open(srv.conf) as f:
                conf = f.read().replace("ServerName = localhost\n", f"ServerName = {name}\n", 1)
            with open(srv.conf, "w") as f:
                f.write(conf)
            srv.start()
            r = srv.get("/server-status?json")
            self.assertEqual(r.status, 200)
            self.assertEqual(json.loads(r.body)["server_name"], name)
            self.assertIn(b"we&quot;ird\\name&lt;x&gt;", srv.get("/server-status").body)


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$')


def parse_metrics(text):
    """Prometheus text format 0.0.4, strictly: every sample line `name{labels} value`, every family
    announced by HELP and TYPE before its samples. Returns {name{labels}: value}, {family: type}."""
    samples, types, helps = {}, {}, set()
    for line in text.rstrip("\n").split("\n"):
        if line.startswith("# HELP "):
            helps.add(line.split(" ")[2])
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram"), line
            types[name] = kind
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name = m.group(1)
        family = re.sub(r"_(bucket|sum|count)$", "", name) if re.sub(r"_(bucket|sum|count)$", "", name) in types \
            and types[re.sub(r"_(bucket|sum|count)$", "", name)] == "histogram" else name
        assert family in types and family in helps, f"{name} without HELP and TYPE before it"
        samples[name + (m.group(2) or "")] = float(m.group(3))
    return samples, types


class StatusMetricsTest(unittest.TestCase):
    def scrape(self, srv):
        r = srv.get("/server-status?metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("content-type").startswith("text/plain; version=0.0.4"), r.header("content-type"))
        return parse_metrics(r.body.decode())

    def check_histogram(self, m):
        le = [k for k in m if k.startswith("mpmd_request_duration_seconds_bucket")]
        self.assertEqual(le[-1], 'mpmd_request_duration_seconds_bucket{le="+Inf"}')
        counts = [m[k] for k in le]
        self.assertEqual(counts, sorted(counts), "buckets are cumulative")
        self.assertEqual(counts[-1], m["mpmd_request_duration_seconds_count"])
        self.assertEqual(m["mpmd_request_duration_seconds_count"], m["mpmd_requests_total"])

    def test_metrics_move_with_requests_and_reloads(self):
        with Server(server_keys="ServerStatus = /server-status\n", files={"index.html": "x" * 1000}) as srv:
            m, types = self.scrape(srv)
            self.assertEqual(types["mpmd_requests_total"], "counter")
            self.assertEqual(types["mpmd_request_duration_seconds"], "histogram")
            self.assertEqual(types["mpmd_workers"], "gauge")
            self.assertEqual(m["mpmd_generation"], 1)
            self.assertEqual(m['mpmd_reloads_total{result="ok"}'], 0)
            self.assertIn('mpmd_workers{state="idle"}', m)
            self.assertIn('mpmd_connections{state="total"}', m)
            for _ in range(30):
                self.assertEqual(srv.get("/index.html").status, 200)
            m = wait_for(lambda: (v := self.scrape(srv)[0]) and v["mpmd_requests_total"] >= 31 and v,
                         timeout=10, what="the requests counted")
            self.assertGreaterEqual(m["mpmd_sent_bytes_total"], 30 * 1000)
            self.assertGreaterEqual(m["mpmd_request_duration_seconds_sum"], 0)
            self.check_histogram(m)
            self.assertGreaterEqual(m['mpmd_request_duration_seconds_bucket{le="10"}'], 30)
            self.assertGreater(m['mpmd_workers{state="idle"}'] + m['mpmd_workers{state="reply"}'], 0)

            os.kill(srv.pid, signal.SIGHUP)
            m = wait_for(lambda: (v := self.scrape(srv)[0]) and v["mpmd_generation"] == 2 and v,
                         timeout=20, what="generation 2 serving")
            m = wait_for(lambda: (v := self.scrape(srv)[0]) and v['mpmd_reloads_total{result="ok"}'] == 1 and v,
                         timeout=10, what="the reload counted")
            self.assertEqual(m['mpmd_reloads_total{result="failed"}'], 0)
            for _ in range(5):
                self.assertEqual(srv.get("/index.html").status, 200)
            m = wait_for(lambda: (v := self.scrape(srv)[0]) and v["mpmd_requests_total"] >= 5 and v,
                         timeout=10, what="the new generation's requests counted")
            self.check_histogram(m)

            with open(srv.conf, "a") as f:
                f.write("\nNoSuchDirective = 1\n")
            os.kill(srv.pid, signal.SIGHUP)
            m = wait_for(lambda: (v := self.scrape(srv)[0]) and v['mpmd_reloads_total{result="failed"}'] == 1 and v,
                         timeout=10, what="the failed reload counted")
            self.assertEqual(m['mpmd_reloads_total{result="ok"}'], 1)
            self.assertEqual(m["mpmd_generation"], 2)


class StatusDeniedTest(unittest.TestCase):
    def test_not_in_allow_list(self):
        with Server(server_keys="ServerStatus = /server-status\nServerStatusAllow = 10.0.0.0/8\n") as srv:
            self.assertEqual(srv.get("/server-status?auto").status, 403)

    def test_off_by_default(self):
        with Server() as srv:
            self.assertEqual(srv.get("/server-status").status, 404)


if __name__ == "__main__":
    unittest.main()
