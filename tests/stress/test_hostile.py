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
            time.sleep(0.5)
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


if __name__ == "__main__":
    unittest.main()
