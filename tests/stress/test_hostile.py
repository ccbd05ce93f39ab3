# SPDX-License-Identifier: MIT
"""Hostile workers (tests/stress/mpm_hostile.c): of 4 slots, slot 0 writes garbage down the
readiness channel and slot 1 writes random bytes over its scoreboard segment every 20 ms; slots 2
and 3 are honest. The supervisor must log each, kill and replace the worker, and keep serving: the
attackers serve nothing, so the client must see no failure at all."""
import re
import time
import unittest

from stress import HOSTILE_MODULE, Load, StressServer, failures_text, figure

SECONDS = 10


@unittest.skipUnless(HOSTILE_MODULE, "needs the test MPM module (a build with -Dmpms_shared=)")
class HostileWorkerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        line = f"LoadModule = mpm_hostile_module {HOSTILE_MODULE}\n"
        cls.srv = StressServer("hostile", module_line=line, start=False,
                               mpm_section="[hostile]\nStartServers = 4\nHostileSlots = 2\n")
        cls.srv.ready_timeout = 45  # the supervisor's start-up bound is 30 s: a lie must not cost it
        t0 = time.monotonic()
        try:
            cls.srv.start()
            cls.ready_seconds = time.monotonic() - t0
            cls.res = Load(cls.srv.port, duration=SECONDS, connections=8).result()
            cls.status = cls.srv.status()
            cls.alive = cls.srv.proc.poll() is None
            time.sleep(0.5)  # the supervisor's last lines about the load; nothing marks the last one
            cls.log = cls.srv.error_log()
        finally:
            cls.srv.stop()
        # The supervisor names each worker it kills: distinct pids are replacements.
        cls.liars = set(re.findall(r"worker 0 \(pid (\d+)\) sent garbage on its readiness channel; killing it",
                                   cls.log))
        cls.scribblers = set(re.findall(r"worker 1 \(pid (\d+)\) wrote an invalid scoreboard segment; killing it",
                                        cls.log))
        cls.killed_pipe = len(re.findall(r"sent garbage on its readiness channel; killing it", cls.log))
        cls.killed_board = len(re.findall(r"wrote an invalid scoreboard segment; killing it", cls.log))
        figure("hostile", seconds=SECONDS, requests=cls.res["requests"], failed=cls.res["failed"],
               ready_s=round(cls.ready_seconds, 1), pipe_liars=len(cls.liars), killed_for_pipe=cls.killed_pipe,
               scribblers=len(cls.scribblers), killed_for_scoreboard=cls.killed_board,
               processes=cls.status.get("processes"))

    def test_supervisor_serves_on(self):
        self.assertTrue(self.alive, "the supervisor died")
        self.assertEqual(self.status["state"], "running")
        self.assertEqual(self.status["generation"], "1")
        self.assertEqual(self.res["failed"], 0, failures_text(self.res))
        self.assertGreater(self.res["ok"], 1000)

    def test_garbage_on_the_readiness_channel_does_not_delay_ready(self):
        self.assertLess(self.ready_seconds, 5)

    def test_liar_is_logged_killed_and_replaced(self):
        self.assertGreater(self.killed_pipe, 0, self.log[-3000:])
        self.assertGreaterEqual(len(self.liars), 2, "never replaced: " + self.log[-3000:])

    def test_liar_is_backed_off(self):
        self.assertLessEqual(self.killed_pipe, 8, f"{self.killed_pipe} liars forked in {SECONDS} s")

    def test_scribbler_is_logged_killed_and_replaced(self):
        self.assertGreater(self.killed_board, 0, self.log[-3000:])
        self.assertGreaterEqual(len(self.scribblers), 2, "never replaced: " + self.log[-3000:])


@unittest.skipUnless(HOSTILE_MODULE, "needs the test MPM module (a build with -Dmpms_shared=)")
class ForgedCountersTest(unittest.TestCase):
    """Slot 0 keeps its scoreboard segment valid but forges its counters every 20 ms (near 2^64, and
    now and then back to 0); slots 1 and 2 serve. The supervisor counts only what a worker could have
    served since it last looked, says so once per forging process, and does not kill it."""

    def test_forged_counters_are_clamped_and_said_once(self):
        line = f"LoadModule = mpm_hostile_module {HOSTILE_MODULE}\n"
        srv = StressServer("hostile", module_line=line, start=False,
                           mpm_section="[hostile]\nStartServers = 3\nHostileSlots = 0\nForgingSlots = 1\n")
        try:
            srv.start()
            t0 = time.monotonic()
            for _ in range(20):
                self.assertEqual(srv.get("/").status, 200)
            time.sleep(3)  # the period under test: several scoreboard reads, which clamp and say it once
            status = srv.status()
            seconds = time.monotonic() - t0 + 2  # and the time before t0 since the fork, generously
            log = srv.error_log()
        finally:
            srv.stop()
        requests = int(status["requests"])
        # 20 honest requests; the forger at most 1,000,000 a second of its life, plus one second's.
        self.assertGreaterEqual(requests, 20, status)
        self.assertLessEqual(requests, 20 + 1000000 * (seconds + 1), status)
        self.assertLessEqual(int(status["bytes"]), 100 * 10**9 * seconds + 10**6, status)
        said = re.findall(r"worker 0 \(pid (\d+)\) misbehaves: its scoreboard reports the implausible", log)
        self.assertEqual(len(said), 1, str(status) + log[-3000:])
        self.assertNotIn("killing it", log)
        self.assertEqual(status["processes"].split()[0], "3", status)


if __name__ == "__main__":
    unittest.main()
