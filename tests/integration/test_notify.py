# SPDX-License-Identifier: MIT
"""sd_notify messages beyond readiness: the watchdog and the file descriptor store."""
import os
import time
import unittest

from mpmdtest import Server


class NotifyTest(unittest.TestCase):
    def test_self_bound_socket_goes_to_the_fd_store(self):
        with Server() as srv:
            msgs = "\n".join(srv.notifications)
            self.assertIn("FDSTORE=1", msgs)
            self.assertIn(f"FDNAME=addr-127.0.0.1_{srv.port}", msgs)

    def test_watchdog_is_petted_while_workers_run(self):
        srv = Server(start=False)
        try:
            # sd_watchdog_enabled() wants WATCHDOG_PID to be the service itself; without it the
            # variable is honoured for any pid.
            srv.start(extra_env={"WATCHDOG_USEC": "400000"})
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                srv.drain_notify()
                if sum(m.split("\n").count("WATCHDOG=1") for m in srv.notifications) >= 3:
                    break
            pets = sum(m.split("\n").count("WATCHDOG=1") for m in srv.notifications)
            self.assertGreaterEqual(pets, 3, srv.notifications)
        finally:
            srv.stop()

    def test_no_watchdog_without_the_variable(self):
        with Server() as srv:
            time.sleep(1.2)  # what is tested: no WATCHDOG=1 for a while (a watchdog would have petted)
            srv.drain_notify()
            self.assertFalse([m for m in srv.notifications if "WATCHDOG=1" in m])

    def test_status_line(self):
        with Server() as srv:
            deadline = time.monotonic() + 5
            status = None
            while time.monotonic() < deadline and not status:
                srv.drain_notify()
                status = next((m for m in srv.notifications if m.startswith("STATUS=generation 1")), None)
            self.assertIsNotNone(status, srv.notifications)
            self.assertIn("MPM", status)
            self.assertIn("requests", status)


if __name__ == "__main__":
    unittest.main()
