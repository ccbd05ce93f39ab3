# SPDX-License-Identifier: MIT
"""Slow TLS handshakes, slowloris's TLS form: 1,000 connections each send half a ClientHello, then
one more byte every 2 s (TimeOut keeps its default, longer than the header deadline, so only the
header deadline can end them), for at most MPMD_STRESS_SLOW_SECONDS (30) plus the header deadline's 20 s, while a probe
makes a new HTTPS connection and asks for a page every 100 ms. The handshake counts against the
request-head deadline (issue 14), so mpmd closes the attack's connections as it closes
slowloris's; the probe is never refused.

The event MPM only, for the reason test_slow.py gives: prefork and worker hold a process or thread
per connection until its deadline, by design."""
import resource
import select
import socket
import threading
import time
import unittest

from stress import SLOW_SECONDS, StressServer, figure, mpms

import mpmdtest  # stress.py put tests/integration on the path
from mpmdtest import OPENSSL, build_has_tls, cert_bundle, free_port, make_cert

CONNECTIONS = 1000
TRICKLE_S = 2
# The header deadline is 20 s, longer while bytes come at 500 bytes/s; a byte every 2 s never
# extends it. 20 s more than the attack lasts lets every connection meet it.
DEADLINE_S = 20


class Probe(threading.Thread):
    """A new HTTPS connection and one GET every 100 ms; counts what failed and the slowest."""

    def __init__(self, port, cafile, seconds):
        super().__init__(daemon=True)
        self.port, self.cafile, self.seconds = port, cafile, seconds
        self.stop = threading.Event()  # the attack is over
        self.ok = self.failed = 0
        self.max_ms = 0.0
        self.errors = []

    def run(self):
        start = time.monotonic()
        end = start + self.seconds
        while time.monotonic() < end and not self.stop.is_set():
            t0 = time.monotonic()
            try:
                r = mpmdtest.tls_get(self.port, "/index.html", sni="localhost", cafile=self.cafile, timeout=5)
                if r.status == 200:
                    self.ok += 1
                else:
                    self.failed += 1
                    self.errors.append(f"{t0 - start:.1f} s: status {r.status}")
            except (OSError, ValueError) as e:
                self.failed += 1
                self.errors.append(f"{t0 - start:.1f} s: {e!r}")
            self.max_ms = max(self.max_ms, (time.monotonic() - t0) * 1000)
            time.sleep(max(0.0, 0.1 - (time.monotonic() - t0)))


def attack(port, hello, seconds):
    """Open CONNECTIONS connections with half of hello each, trickle a byte every TRICKLE_S to each,
    and watch for the server closing them. Returns (opened, peak open, closed by the server, open at
    the end, seconds when half had been closed or None)."""
    half = len(hello) // 2
    ep = select.epoll()
    conns = {}
    opened = closed = peak = 0
    t0 = time.monotonic()
    half_closed_at = None
    for _ in range(CONNECTIONS):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(hello[:half])
        except OSError:
            s.close()
            continue
        s.setblocking(False)
        conns[s.fileno()] = [s, half]
        ep.register(s.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
        opened += 1
    peak = len(conns)
    next_trickle = time.monotonic() + TRICKLE_S
    end = t0 + seconds
    while time.monotonic() < end and conns:
        for fd, _ev in ep.poll(0.5):
            c = conns.get(fd)
            if not c:
                continue
            try:
                data = c[0].recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                continue  # an alert before the close; the close follows
            ep.unregister(fd)
            c[0].close()
            del conns[fd]
            closed += 1
            if half_closed_at is None and closed >= opened // 2:
                half_closed_at = time.monotonic() - t0
        if time.monotonic() >= next_trickle:
            next_trickle += TRICKLE_S
            for c in list(conns.values()):
                if c[1] < len(hello) - 1:  # never the last byte: the hello stays incomplete
                    try:
                        c[0].send(hello[c[1]:c[1] + 1])
                        c[1] += 1
                    except OSError:
                        pass
    left = len(conns)
    for c in conns.values():
        c[0].close()
    ep.close()
    return opened, peak, closed, left, half_closed_at


@unittest.skipUnless(build_has_tls(), "this mpmd was built without TLS")
@unittest.skipUnless(OPENSSL, "the openssl command is not installed")
@unittest.skipUnless("event" in mpms(), "the event MPM is not in this build")
class SlowHandshakeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, 16384) if hard != resource.RLIM_INFINITY else 16384
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        cls.tls_port = free_port()
        certs = None
        srv = StressServer("event", server_keys=f"Listen = https://127.0.0.1:{cls.tls_port}\n",
                           start=False)
        try:
            cert, key = make_cert(srv.dir, ["localhost"], "ec")
            certs = cert_bundle(srv.dir, [cert])
            with open(srv.conf) as f:
                conf = f.read()
            with open(srv.conf, "w") as f:
                f.write(conf.replace("[Server]\n", f"[Server]\nSSLCertificateFile = {cert}\n"
                                                   f"SSLCertificateKeyFile = {key}\n", 1))
            srv.start()
            _, _, _, hello = mpmdtest.client_hello("localhost")
            seconds = SLOW_SECONDS + DEADLINE_S
            probe = Probe(cls.tls_port, certs, seconds)
            probe.start()
            try:
                cls.result = attack(cls.tls_port, hello, seconds)
            finally:
                probe.stop.set()
                probe.join(timeout=30)
            cls.probe = probe
            cls.alive = srv.proc.poll() is None
            cls.after = mpmdtest.tls_get(cls.tls_port, "/index.html", sni="localhost", cafile=certs).status
            cls.log = srv.error_log()
        finally:
            srv.stop()
        opened, peak, closed, left, half_at = cls.result
        figure("tls-slow-handshake", seconds=seconds, connections=CONNECTIONS, opened=opened, peak_open=peak,
               closed_by_server=closed, open_at_end=left, half_closed_after_s=half_at, hello_bytes=len(hello),
               probe_ok=probe.ok, probe_failed=probe.failed, probe_max_ms=round(probe.max_ms, 1))

    def test_probe_served(self):
        self.assertTrue(self.alive, "mpmd died")
        self.assertEqual(self.probe.failed, 0, f"the probe failed: {self.probe.errors[:10]}; error log:\n"
                         + "\n".join(line for line in self.log.splitlines() if "[debug]" not in line)[-4000:])
        # It ran as long as the attack: until the header deadline had closed the attack's connections.
        self.assertGreater(self.probe.ok, DEADLINE_S * 5, "the probe hardly ran")
        self.assertEqual(self.after, 200)

    def test_half_hellos_closed_by_the_header_deadline(self):
        opened, peak, closed, left, half_at = self.result
        self.assertGreater(opened, CONNECTIONS // 2, "the attack never got going")
        self.assertGreater(closed, opened * 9 // 10, f"mpmd kept the half handshakes: {self.result}")
        # By the header deadline (20 s from the connection), not before: the handshake counts
        # against it, and a byte every 2 s does not extend it.
        self.assertIsNotNone(half_at, f"mpmd kept the half handshakes: {self.result}")
        self.assertGreater(half_at, DEADLINE_S / 2, f"closed before the header deadline: {self.result}")


if __name__ == "__main__":
    unittest.main()
