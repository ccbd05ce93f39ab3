# SPDX-License-Identifier: MIT
"""stress — what the stress tests share: an mpmd with a control socket and a chosen MPM, the C load
client (loadgen), and readings from /proc (RSS, CPU time, sockets held).

Everything runs on loopback ports chosen at run time; every process started here is killed at the
end of its test, and every test prints its figures (prefixed "FIGURE") so that a run shows them.
"""
import os
import random
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import mpmdtest  # noqa: E402
from mpmdtest import MODULE_DIR, MPM, Server, children  # noqa: E402,F401

LOADGEN = os.environ.get("MPMD_LOADGEN", os.path.join(os.path.dirname(os.path.abspath(mpmdtest.BINARY)),
                                                        "..", "..", "tests", "stress", "loadgen"))
MPMCTL = os.environ.get("MPMCTL_BINARY", os.path.join(os.path.dirname(os.path.abspath(mpmdtest.BINARY)), "mpmctl"))
HOSTILE_MODULE = os.environ.get("MPMD_HOSTILE_MODULE")
# CI may shorten the slow-client attacks; the figures in BENCHMARKS.md use 30 s.
SLOW_SECONDS = int(os.environ.get("MPMD_STRESS_SLOW_SECONDS", "30"))
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Per MPM: enough processes/threads for 32 kept-alive client connections (prefork and worker hold
# one process or thread per connection), small enough to start quickly 20 times in a row.
MPM_SECTIONS = {
    "prefork": "[prefork]\nStartServers = 40\nMinSpareServers = 8\nMaxSpareServers = 60\n"
               "ServerLimit = 96\nMaxRequestWorkers = 96\n",
    "worker": "[worker]\nStartServers = 2\nServerLimit = 8\nThreadsPerChild = 32\nThreadLimit = 32\n"
              "MinSpareThreads = 16\nMaxSpareThreads = 128\nMaxRequestWorkers = 256\n",
    "event": "[event]\nStartServers = 2\nServerLimit = 8\n",
}


def mpms():
    """The MPMs this build can run: every shared module, or the one linked in."""
    shared = os.environ.get("MPMD_SHARED_MPMS")
    if MODULE_DIR and shared:
        # perchild runs sites under their own users: its own tests (test_perchild.py) cover it.
        return [m for m in shared.split(",") if m in MPM_SECTIONS]
    return [MPM] if MPM in MPM_SECTIONS else []


def figure(name, **values):
    """One line of figures, easy to grep out of a test log."""
    print("FIGURE " + name + " " + " ".join(f"{k}={v}" for k, v in values.items()), flush=True)


class StressServer(Server):
    """mpmd with a control socket, running the MPM asked for (a LoadModule line in shared builds)."""

    def __init__(self, mpm=None, mpm_section=None, server_keys="", module_line=None, start=True, **kw):
        self.mpm = mpm or MPM
        if mpm_section is None:
            mpm_section = MPM_SECTIONS.get(self.mpm, "")
        super().__init__(start=False, mpm_section=mpm_section, server_keys=server_keys, **kw)
        self.control = os.path.join(self.dir, "control")
        with open(self.conf) as f:
            text = f.read()
        default_line = mpmdtest.load_module_line()
        if module_line is None:
            module_line = mpmdtest.load_module_line(self.mpm)
        if default_line:
            text = text.replace(default_line, module_line, 1)
        elif self.mpm != MPM:
            raise AssertionError(f"this build links {MPM}; it cannot run {self.mpm}")
        text = text.replace("[Server]\n", f"[Server]\nControlSocket = {self.control}\n", 1)
        with open(self.conf, "w") as f:
            f.write(text)
        for name, size in (("big.bin", 1 << 20),):
            path = os.path.join(self.root, name)
            with open(path, "wb") as f:
                f.write(os.urandom(size))
            os.chmod(path, 0o644)
        if start:
            self.start()

    ready_timeout = 20

    def wait_notify(self, needle, timeout=20):
        if needle == "READY=1":
            timeout = max(timeout, self.ready_timeout)
        return super().wait_notify(needle, timeout=timeout)

    def mpmctl(self, *args, timeout=60):
        return subprocess.run([MPMCTL, "-s", self.control, *args], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)

    def status(self):
        """mpmctl status as a dict of its "key: value" lines."""
        r = self.mpmctl("status")
        if r.returncode != 0:
            raise AssertionError(f"mpmctl status failed: {r.stdout}{r.stderr}")
        out = {}
        for line in r.stdout.splitlines():
            k, sep, v = line.partition(": ")
            if sep:
                out[k.strip()] = v.strip()
        return out


# ---- the load client ------------------------------------------------------------------------------

def loadgen_args(port, duration=None, requests=None, connections=32, per_conn=100, close_pct=20, post_pct=20,
                 post_size=1024, path="/index.html", post_status=405, timeout=10, interval_ms=0, host=None):
    args = [LOADGEN, "--port", str(port), "--connections", str(connections), "--per-conn", str(per_conn),
            "--close-pct", str(close_pct), "--post-pct", str(post_pct), "--post-size", str(post_size),
            "--path", path, "--post-status", str(post_status), "--timeout", str(timeout),
            "--interval-ms", str(interval_ms)]
    if host:
        args += ["--host", host]
    if requests:
        args += ["--requests", str(requests)]
    else:
        args += ["--duration", str(duration or 5)]
    return args


class Load:
    """loadgen running in the background; result() waits and parses its summary."""

    def __init__(self, port, **kw):
        if not os.access(LOADGEN, os.X_OK):
            raise AssertionError(f"no load client at {LOADGEN} (build tests/stress/loadgen)")
        self.proc = subprocess.Popen(loadgen_args(port, **kw), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)

    def result(self, timeout=300):
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("loadgen did not finish in time")
        if self.proc.returncode != 0:
            raise AssertionError(f"loadgen failed ({self.proc.returncode}): {err}")
        r = {"stderr": err}
        for line in out.splitlines():
            k, _, v = line.partition(" ")
            r[k] = float(v) if "." in v else int(v)
        return r

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def run_load(port, **kw):
    return Load(port, **kw).result()


def failures_text(r):
    kinds = ", ".join(f"{k[5:]} {r[k]}" for k in sorted(r) if k.startswith("fail_") and r[k])
    return f"{r['failed']} of {r['requests']} failed ({kinds or 'none'})\n{r['stderr']}"


# ---- /proc ------------------------------------------------------------------------------------------

def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(pid):
    return rss_kb(pid) + sum(rss_kb(c) for c in children(pid))


def cpu_seconds(pid):
    """User + system time of pid and its reaped children."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return sum(int(x) for x in fields[11:15]) / CLK_TCK


def tree_cpu_seconds(pid):
    return cpu_seconds(pid) + sum(cpu_seconds(c) for c in children(pid))


def sockets_held(pid):
    """TCP/Unix sockets open in pid (listeners included), from /proc/PID/fd: readable as root even
    for the sandboxed, non-dumpable workers."""
    n = 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    n += 1
            except OSError:
                continue
    except OSError:
        return 0
    return n


def age_seconds(pid):
    """How long pid has existed."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
    except OSError:
        return 0.0
    start = int(stat[stat.rindex(")") + 2:].split()[19]) / CLK_TCK
    return uptime - start


# The seed of every random choice of the stress tests (which worker to kill, the half heads' cuts):
# printed, and taken from MPMD_TEST_SEED to replay a run. loadgen prints its own (it reads
# MPMD_TEST_SEED too); a run's timing is never replayed, only its choices.
SEED = mpmdtest.test_seed("stress")
_rng = random.Random(SEED)


def pick(seq):
    return _rng.choice(list(seq))


def read_response_count(sock, n, timeout=30):
    """Read n responses with Content-Length framing; returns how many were 200 before the end of the
    stream or the timeout."""
    sock.settimeout(timeout)
    buf, ok, pos = b"", 0, 0
    deadline = time.monotonic() + timeout
    while ok < n and time.monotonic() < deadline:
        end = buf.find(b"\r\n\r\n", pos)
        if end < 0:
            buf = buf[pos:]
            pos = 0
            try:
                chunk = sock.recv(1 << 20)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            buf += chunk
            continue
        head = buf[pos:end]
        i = head.lower().find(b"content-length:")
        length = int(head[i + 15:].split(b"\r\n", 1)[0]) if i >= 0 else 0
        if len(buf) < end + 4 + length:
            try:
                chunk = sock.recv(1 << 20)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            buf += chunk
            continue
        if head.startswith(b"HTTP/1.1 200"):
            ok += 1
        pos = end + 4 + length
    return ok
