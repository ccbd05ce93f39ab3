# SPDX-License-Identifier: MIT
"""Reload under load: a client that never retries sees no failure while mpmd is reloaded 20 times,
once a second (mpmctl reload), for every MPM this build can run."""
import time
import unittest

from stress import Load, StressServer, failures_text, figure, mpms, run_load
from mpmdtest import wait_for  # noqa: E402 (stress puts it on the path)

RELOADS = 20
CONNECTIONS = 32
BASELINE_SECONDS = 8


class ReloadUnderLoadTest(unittest.TestCase):
    def test_twenty_reloads_lose_no_request(self):
        for mpm in mpms():
            with self.subTest(mpm=mpm):
                self.reload_under_load(mpm)

    def reload_under_load(self, mpm):
        with StressServer(mpm) as srv:
            base = run_load(srv.port, duration=BASELINE_SECONDS, connections=CONNECTIONS)
            self.assertEqual(base["failed"], 0, "without reloads: " + failures_text(base))

            served = int(srv.status()["requests"])
            load = Load(srv.port, duration=RELOADS + 3, connections=CONNECTIONS)
            wait_for(lambda: int(srv.status()["requests"]) >= served + 200, timeout=20, what="the load under way")
            timeline = []
            try:
                for i in range(RELOADS):
                    t0 = time.monotonic()
                    r = srv.mpmctl("reload")
                    t1 = time.monotonic()
                    timeline.append((t0, t1, r.stdout.strip()))
                    self.assertEqual(r.returncode, 0, f"reload {i + 1}: {r.stdout}{r.stderr}")
                    time.sleep(max(0.0, 1.0 - (t1 - t0)))  # a reload a second: the rate under test
            finally:
                res = load.result()
            status = srv.status()
            figure(f"reload-{mpm}", requests=res["requests"], failed=res["failed"], rps=res["rps"],
                   p50_ms=res["p50_us"] / 1000, p99_ms=res["p99_us"] / 1000, max_ms=res["max_us"] / 1000,
                   baseline_p50_ms=base["p50_us"] / 1000, baseline_p99_ms=base["p99_us"] / 1000,
                   p99_ratio=round(res["p99_us"] / max(base["p99_us"], 1), 2),
                   reload_max_ms=round(max(t1 - t0 for t0, t1, _ in timeline) * 1000))
            if res["failed"]:
                # What the client saw, next to when each reload ran and which generation it made.
                lines = [f"t={t0:.6f}..{t1:.6f} {out}" for t0, t1, out in timeline]
                self.fail(f"{mpm}: {failures_text(res)}\nreloads (CLOCK_MONOTONIC):\n" + "\n".join(lines) +
                          f"\nerror log tail:\n{srv.error_log()[-4000:]}")
            self.assertEqual(status["generation"], str(RELOADS + 1))
            self.assertEqual(status["last reload"], "ok")
            # Loosely: no request waited for anything like a hang.
            self.assertLess(res["max_us"], 5_000_000, f"{mpm}: the slowest request took {res['max_us']} us")
            self.assertGreater(res["ok"], RELOADS * 10, "the load hardly ran")


if __name__ == "__main__":
    unittest.main()
