# SPDX-License-Identifier: MIT
"""Slow clients (slowhttptest): slowloris, slow body and slow read, 1,000 connections each for
MPMD_STRESS_SLOW_SECONDS (30), while a probe asks for a page every 100 ms on a new connection. The
probe never fails, and the attack's connections are closed by mpmd's deadlines (the header deadline
of 20-40 s, TimeOut between body or write progress, MinSendRate for a response taken too slowly), not
held for as long as the attacker likes.

The event MPM only: a process or thread per connection (prefork, worker) is held by each attack
connection until its deadline, as in Apache's; 1,000 of them take every worker by design."""
import csv
import os
import resource
import shutil
import subprocess
import tempfile
import threading
import unittest

from stress import SLOW_SECONDS, Load, StressServer, failures_text, figure, mpms

SLOWHTTPTEST = shutil.which("slowhttptest")
CONNECTIONS = 1000
# TimeOut bounds the wait between two pieces of a body or two writes that made progress; the
# attacks send or read every 10 s, so 5 s closes them (slowloris meets the header deadline).
SERVER_KEYS = "TimeOut = 5\n"


def attack_args(mode, url, prefix):
    common = ["-c", str(CONNECTIONS), "-r", "200", "-l", str(SLOW_SECONDS), "-g", "-o", prefix, "-p", "3"]
    if mode == "slowloris":
        return ["-H", "-i", "10", "-u", url + "index.html"] + common
    if mode == "slow-body":
        return ["-B", "-i", "10", "-s", "8192", "-u", url + "index.html"] + common
    return ["-X", "-k", "3", "-n", "1", "-z", "32", "-w", "512", "-y", "1024", "-u", url + "big.bin"] + common


def read_stats(prefix):
    """slowhttptest's CSV: per second, closed/pending/connected/service available."""
    rows = []
    with open(prefix + ".csv") as f:
        for row in csv.DictReader(f):
            rows.append({k.strip().lower(): v.strip() for k, v in row.items() if k})
    return rows


def established(port):
    """Server-side ESTABLISHED TCP connections on the local port, from /proc/net/tcp{,6}."""
    n = 0
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        n += 1
        except OSError:
            continue
    return n


class ConnectionSampler(threading.Thread):
    """Counts the server's established connections twice a second: slowhttptest's own figures miss
    a slow-read connection the server reset (it never reads far enough to notice)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.samples, self.stop = port, [], threading.Event()

    def run(self):
        while not self.stop.wait(0.5):
            self.samples.append(established(self.port))


def attack(mode):
    """Run one attack with the probe beside it; returns the figures."""
    with StressServer("event", server_keys=SERVER_KEYS) as srv, tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, mode)
        probe = Load(srv.port, duration=SLOW_SECONDS + 3, connections=1, close_pct=100, post_pct=0,
                     interval_ms=100, timeout=5)
        sampler = ConnectionSampler(srv.port)
        sampler.start()
        try:
            run = subprocess.run([SLOWHTTPTEST] + attack_args(mode, f"http://127.0.0.1:{srv.port}/", prefix),
                                 stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                 timeout=SLOW_SECONDS + 120)
        except BaseException:
            probe.kill()
            raise
        finally:
            sampler.stop.set()
            sampler.join()
        res = probe.result()
        rows = read_stats(prefix)
        if not rows:
            raise AssertionError(f"slowhttptest wrote no statistics: {run.stdout[-2000:]}{run.stderr[-2000:]}")
        out = {
            "probe": res,
            "peak": max(int(r.get("connected", 0)) for r in rows),
            "closed": int(rows[-1].get("closed", 0)),
            "last": rows[-3:],
            "alive": srv.proc.poll() is None,
            "server_peak": max(sampler.samples, default=0),
            "server_end": sampler.samples[-1] if sampler.samples else 0,
        }
        figure(f"slow-{mode}", seconds=SLOW_SECONDS, connections=CONNECTIONS, peak_connected=out["peak"],
               closed_by_server=out["closed"], connected_at_end=rows[-1].get("connected"),
               attack_seconds=rows[-1].get("seconds"), probe_requests=res["requests"],
               probe_failed=res["failed"], probe_p99_ms=res["p99_us"] / 1000, probe_max_ms=res["max_us"] / 1000,
               server_established_peak=out["server_peak"], server_established_at_end=out["server_end"])
        return out


@unittest.skipUnless(SLOWHTTPTEST, "slowhttptest is not installed (Debian package slowhttptest)")
@unittest.skipUnless("event" in mpms(), "the event MPM is not in this build")
class SlowClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # 1,000 connections need as many descriptors in mpmd and in the attacker.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, 16384) if hard != resource.RLIM_INFINITY else 16384
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        cls.runs = {mode: attack(mode) for mode in ("slowloris", "slow-body", "slow-read")}

    def check_probe(self, mode):
        r = self.runs[mode]
        self.assertTrue(r["alive"], "mpmd died")
        self.assertEqual(r["probe"]["failed"], 0, f"{mode}: the probe failed: " + failures_text(r["probe"]))
        self.assertGreater(r["probe"]["ok"], SLOW_SECONDS * 5, "the probe hardly ran")
        self.assertGreater(r["peak"], CONNECTIONS // 2, f"{mode}: the attack never got going: {r['last']}")

    def check_closed(self, mode):
        # The deadlines close them: most of the attack's connections end during the run.
        r = self.runs[mode]
        self.assertGreater(r["closed"], r["peak"] // 2, f"{mode}: mpmd kept the attack's connections: {r['last']}")

    def test_slowloris_probe_served(self):
        self.check_probe("slowloris")

    def test_slowloris_closed_by_header_deadline(self):
        self.check_closed("slowloris")

    def test_slow_body_probe_served(self):
        self.check_probe("slow-body")

    def test_slow_body_closed_by_timeout(self):
        self.check_closed("slow-body")

    def test_slow_read_probe_served(self):
        self.check_probe("slow-read")

    # A reader taking 32 bytes a second makes progress every second, so TimeOut alone never ends it:
    # MinSendRate (500 bytes/s, from TimeOut after the response started) does.
    def test_slow_read_closed_by_min_send_rate(self):
        # Counted on the server's side: mpmd resets these connections, and slowhttptest, reading 32
        # bytes at a time, never gets far enough to see it.
        r = self.runs["slow-read"]
        self.assertGreater(r["server_peak"], CONNECTIONS // 2, f"the attack never got going: {r['last']}")
        self.assertLess(r["server_end"], r["server_peak"] // 2, f"mpmd kept the attack's connections: {r}")


if __name__ == "__main__":
    unittest.main()
