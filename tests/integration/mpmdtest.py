# SPDX-License-Identifier: MIT
"""mpmdtest — start the real mpmd binary for integration tests.

Each Server gets a fresh folder with a generated configuration, a document root and a port chosen at
run time. mpmd runs in its own process group with a captured NOTIFY_SOCKET, so the tests see the exact
sd_notify datagrams and know when it is ready; whatever happens, the whole group is killed at the end.
"""
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

BINARY = os.environ.get("MPMD_BINARY", "build/src/supervisor/mpmd")
SOURCE_ROOT = os.environ.get("MPMD_SOURCE_ROOT", os.getcwd())
MPM = os.environ.get("MPMD_BUILD_MPM", "event")
MODULE_DIR = os.environ.get("MPMD_MODULE_DIR")  # set when MPMs are shared modules


def load_module_line(mpm=MPM):
    """The LoadModule line a configuration needs in a build with shared MPMs ("" otherwise)."""
    if not MODULE_DIR:
        return ""
    return f"LoadModule = mpm_{mpm}_module {os.path.join(MODULE_DIR, f'mpm_{mpm}.so')}\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_user():
    """Workers of a root mpmd need an unprivileged user."""
    if os.geteuid() != 0:
        return None
    for name in ("nobody", "daemon"):
        try:
            return pwd.getpwnam(name).pw_name
        except KeyError:
            continue
    raise unittest.SkipTest("no unprivileged user to run workers as")


def create_users(site_users, dispatch_user="mpmd-dispatch"):
    """Fresh site users (uid >= 1000, a group each) and the dispatcher's user if it is missing, for
    the perchild tests; returns the names created, for remove_users()."""
    created = []
    for user in site_users:
        subprocess.run(["userdel", user], capture_output=True)
        subprocess.run(["useradd", "-M", "-U", "-K", "UID_MIN=1000", "-s", "/usr/sbin/nologin", user], check=True)
        created.append(user)
        assert pwd.getpwnam(user).pw_uid >= 1000
    try:
        pwd.getpwnam(dispatch_user)
    except KeyError:
        subprocess.run(["useradd", "-r", "-M", "-U", "-s", "/usr/sbin/nologin", dispatch_user], check=True)
        created.append(dispatch_user)
    return created


def remove_users(created):
    for user in created:
        subprocess.run(["userdel", user], capture_output=True)


def test_seed(what):
    """The seed of a randomised test: MPMD_TEST_SEED when it is set (to replay a failure), else a new
    one. Printed either way, so that a failure's log says how to replay it."""
    env = os.environ.get("MPMD_TEST_SEED")
    seed = int(env) if env else time.time_ns() % 10**9
    print(f"{what}: seed {seed} (replay with MPMD_TEST_SEED={seed})", file=sys.stderr, flush=True)
    return seed


def wait_for(predicate, timeout=20, what="the condition"):
    """Poll predicate until it returns something true (returned), or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} never held within {timeout} s")


def accepted(sock):
    """Whether the server has accepted the connection of sock (a connected TCP client socket): its end
    in /proc/net/tcp{,6} has an inode once accept() gave it a file; in the listen backlog it has 0."""
    local_port = sock.getsockname()[1]
    server_port = sock.getpeername()[1]
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if (int(fields[1].rsplit(":", 1)[1], 16) == server_port
                    and int(fields[2].rsplit(":", 1)[1], 16) == local_port):
                return fields[9] != "0"
    return False


def wait_accepted(sock, timeout=10):
    """Wait until a worker has accepted sock's connection (instead of sleeping a moment after
    connecting: a signal sent before the accept finds no request in progress)."""
    wait_for(lambda: accepted(sock), timeout, "the server accepting the connection")


def children(pid):
    """Direct children of pid, from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry))
    return sorted(out)


def descendants_named(pid, name):
    """The descendants of pid whose command name (/proc/PID/comm) is name: e.g. the `sleep` a CGI
    script runs shows that the script was executed and ran past what comes before it."""
    found, todo = [], [pid]
    while todo:
        for c in children(todo.pop()):
            todo.append(c)
            try:
                with open(f"/proc/{c}/comm") as f:
                    if f.read().strip() == name:
                        found.append(c)
            except OSError:
                pass
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return stat[stat.rindex(")") + 2] != "Z"
    except OSError:
        return False


class Response:
    def __init__(self, status, reason, headers, body, raw_head):
        self.status, self.reason, self.headers, self.body, self.raw_head = status, reason, headers, body, raw_head

    def header(self, name):
        return self.headers.get(name.lower())


def read_response(sock, head_request=False, timeout=10):
    """Read one HTTP/1.1 response from sock (Content-Length or chunked framing, or to EOF)."""
    sock.settimeout(timeout)
    buf = getattr(sock, "_mpmd_pending", b"")
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before a response head: %r" % buf)
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.1 (\d{3}) ?(.*)", lines[0])
    if not m:
        raise ValueError("bad status line %r" % lines[0])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    status = int(m.group(1))
    if head_request or status in (204, 304) or 100 <= status < 200:
        body, rest2 = b"", rest
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            while b"\r\n" not in rest:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("connection closed in a chunk size line")
                rest += chunk
            line, _, rest = rest.partition(b"\r\n")
            size = int(line.split(b";")[0], 16)
            if size == 0:
                while not rest.startswith(b"\r\n") and b"\r\n\r\n" not in rest:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("connection closed in the trailers")
                    rest += chunk
                rest2 = rest[2:] if rest.startswith(b"\r\n") else rest.partition(b"\r\n\r\n")[2]
                break
            while len(rest) < size + 2:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("connection closed in a chunk")
                rest += chunk
            if rest[size:size + 2] != b"\r\n":
                raise ValueError("chunk not followed by CRLF")
            body += rest[:size]
            rest = rest[size + 2:]
    elif "content-length" in headers:
        n = int(headers["content-length"])
        while len(rest) < n:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed in a body")
            rest += chunk
        body, rest2 = rest[:n], rest[n:]
    else:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        body, rest2 = rest, b""
    try:
        sock._mpmd_pending = rest2  # bytes of the next response, for MpmdSocket
    except AttributeError:
        pass  # a plain socket: the caller reads one response
    return Response(status, m.group(2), headers, body, head)


class MpmdSocket(socket.socket):
    """A socket that can carry bytes read past one response to the next read_response()."""
    _mpmd_pending = b""


class Server:
    """One mpmd under test."""

    def __init__(self, config_extra="", server_keys="", mpm_section="", files=None, start=True,
                 notify=True, vhosts=""):
        self.dir = tempfile.mkdtemp(prefix="mpmd-test-")
        os.chmod(self.dir, 0o755)  # workers run as nobody when the tests run as root
        self.root = os.path.join(self.dir, "htdocs")
        os.mkdir(self.root)
        os.chmod(self.root, 0o755)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "mpmd.conf")
        self.log = os.path.join(self.dir, "error.log")
        self.proc = None
        self.notify_sock = None
        self.notifications = []
        self.wrapper = []  # a command the whole server runs under, e.g. ["prlimit", "--nofile=64:64", "--"]
        for path, content in (files or {"index.html": "<h1>hello</h1>\n"}).items():
            full = os.path.join(self.root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            mode = "wb" if isinstance(content, bytes) else "w"
            with open(full, mode) as f:
                f.write(content)
            os.chmod(full, 0o644)
            d = os.path.dirname(full)
            while d.startswith(self.root):
                os.chmod(d, 0o755)
                d = os.path.dirname(d)
        user = worker_user()
        with open(self.conf, "w") as f:
            f.write("[Server]\nServerName = localhost\n")
            f.write(f"Listen = 127.0.0.1:{self.port}\n")
            f.write(f"DocumentRoot = {self.root}\n")
            f.write(f"ErrorLog = {self.log}\nLogLevel = debug\n")
            if user:
                f.write(f"User = {user}\n")
            f.write(load_module_line())
            f.write(server_keys)
            f.write("\n")
            f.write(mpm_section)
            f.write("\n")
            f.write(vhosts)
            f.write(config_extra)
        if start:
            self.start(notify=notify)

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self, notify=True, extra_env=None):
        env = dict(os.environ)
        env.pop("LISTEN_FDS", None)
        env.pop("LISTEN_PID", None)
        if notify:
            self.notify_path = os.path.join(self.dir, "notify")
            self.notify_sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.notify_sock.bind(self.notify_path)
            self.notify_sock.settimeout(0.2)
            env["NOTIFY_SOCKET"] = self.notify_path
            # Read continuously: sd_notify() blocks mpmd once the socket's queue (10 datagrams)
            # is full, as a real systemd never lets it be.
            self._notify_stop = False
            self._notify_thread = threading.Thread(target=self._notify_reader, daemon=True)
            self._notify_thread.start()
        if extra_env:
            env.update(extra_env)
        self.proc = subprocess.Popen(self.wrapper + [BINARY, "-f", self.conf], env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        if notify:
            self.wait_notify("READY=1", timeout=20)
        else:
            self.wait_port()

    def wait_notify(self, needle, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in self.notifications:
                if needle in msg.split("\n"):
                    return msg
            self.drain_notify()
            if self.proc.poll() is not None and not any(needle in m.split("\n") for m in self.notifications):
                raise AssertionError(f"mpmd exited ({self.proc.returncode}) before {needle}: {self.output()}")
        raise AssertionError(f"no {needle} from mpmd within {timeout}s; got {self.notifications}; "
                             f"log: {self.error_log()}")

    def _notify_reader(self):
        while not self._notify_stop:
            try:
                self.notifications.append(self.notify_sock.recv(4096).decode())
            except (socket.timeout, BlockingIOError):
                continue
            except OSError:
                return

    def drain_notify(self):
        """The reader thread collects datagrams; this just lets a moment pass."""
        time.sleep(0.05)

    def wait_port(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise AssertionError(f"mpmd exited: {self.output()}")
                time.sleep(0.05)
        raise AssertionError("mpmd did not listen in time")

    def output(self):
        if self.proc and self.proc.poll() is not None and self.proc.stdout:
            return self.proc.stdout.read().decode(errors="replace")
        return ""

    def error_log(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def wait_log(self, pattern, timeout=20):
        """Wait until the error log has a line matching pattern (a regex); returns the match."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.error_log())
            if m:
                return m
            time.sleep(0.1)
        raise AssertionError(f"no line matching {pattern!r} in the error log:\n{self.error_log()[-3000:]}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        if self.notify_sock:
            self._notify_stop = True
            thread = getattr(self, "_notify_thread", None)  # subclasses may read on their own
            if thread:
                thread.join(timeout=2)
            self.notify_sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- processes --------------------------------------------------------------------------------
    @property
    def pid(self):
        return self.proc.pid

    def workers(self):
        return children(self.proc.pid)

    def wait_workers(self, predicate, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            w = self.workers()
            if predicate(len(w)):
                return w
            time.sleep(0.1)
        raise AssertionError(f"worker count never satisfied the condition; now {len(self.workers())}")

    # -- HTTP -------------------------------------------------------------------------------------
    def connect(self):
        s = MpmdSocket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(("127.0.0.1", self.port))
        return s

    def request(self, raw, head_request=False):
        with self.connect() as s:
            s.sendall(raw if isinstance(raw, bytes) else raw.encode())
            return read_response(s, head_request=head_request)

    def get(self, path, host="localhost", method="GET", headers=""):
        return self.request(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n\r\n",
                            head_request=(method == "HEAD"))
