# SPDX-License-Identifier: MIT
"""phpfpm — Debian's php-fpm (php8.2-fpm) started by a test, with its own php-fpm.conf in a
temporary directory and pools listening on unix sockets; stopped (its whole process group) at the
end whatever happened. The FastCGI tests (test_fastcgi.py, test_perchild_fastcgi.py) use it."""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

PHP_FPM = shutil.which("php-fpm8.2") or shutil.which("php-fpm")


def require_php_fpm():
    if not PHP_FPM:
        raise unittest.SkipTest("php-fpm is not installed (apt install php8.2-fpm; tools/dev installs it)")


class Pool:
    def __init__(self, name, sock, user=None, group=None, listen_owner=None, listen_mode="0666", extra=""):
        self.name, self.sock, self.user, self.group = name, sock, user, group
        self.listen_owner, self.listen_mode, self.extra = listen_owner, listen_mode, extra


class PhpFpm:
    """php-fpm -n -y CONF -F (-R as root): no php.ini, so nothing but what the pool says applies."""

    def __init__(self, pools):
        require_php_fpm()
        self.dir = tempfile.mkdtemp(prefix="mpmd-fpm-")
        os.chmod(self.dir, 0o755)
        self.pools = pools
        self.conf = os.path.join(self.dir, "php-fpm.conf")
        self.log = os.path.join(self.dir, "php-fpm.log")
        with open(self.conf, "w") as f:
            f.write(f"[global]\npid = {self.dir}/php-fpm.pid\nerror_log = {self.log}\ndaemonize = no\n"
                    "log_level = notice\n")
            for p in pools:
                f.write(f"\n[{p.name}]\nlisten = {p.sock}\nlisten.mode = {p.listen_mode}\n")
                if os.geteuid() == 0:
                    f.write(f"user = {p.user or 'nobody'}\ngroup = {p.group or 'nogroup'}\n")
                    if p.listen_owner:
                        f.write(f"listen.owner = {p.listen_owner}\nlisten.group = {p.group or p.listen_owner}\n")
                # static: the tests count on children being there; each keep-alive connection mpmd
                # holds takes one.
                f.write("pm = static\npm.max_children = 12\npm.status_path = /fpm-status\n"
                        "security.limit_extensions = .php\ncatch_workers_output = no\n"
                        "php_admin_value[upload_max_filesize] = 16M\nphp_admin_value[post_max_size] = 16M\n"
                        "php_admin_flag[log_errors] = on\nphp_admin_value[display_errors] = 0\n")
                f.write(p.extra)
        cmd = [PHP_FPM, "-n", "-d", "extension=posix", "-y", self.conf, "-F"]
        if os.geteuid() == 0:
            cmd.append("-R")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while not all(self._listening(p.sock) for p in pools):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                out = self.proc.stdout.read().decode(errors="replace") if self.proc.poll() is not None else ""
                self.stop()
                raise AssertionError(f"php-fpm did not start: {out}\n{self.read_log()}")
            time.sleep(0.05)

    @staticmethod
    def _listening(address):
        """A unix socket's path exists, or HOST:PORT takes a connection."""
        if address.startswith("/"):
            return os.path.exists(address)
        host, port = address.rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return True
        except OSError:
            return False

    def read_log(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# -- a FastCGI client of our own, to ask php-fpm's status page directly ------------------------------

def _record(rtype, content, request_id=1):
    return struct.pack(">BBHHBB", 1, rtype, request_id, len(content), 0, 0) + content


def _pair(name, value):
    def ln(n):
        return struct.pack(">B", n) if n < 128 else struct.pack(">I", n | 0x80000000)
    return ln(len(name)) + ln(len(value)) + name + value


def fcgi_request(sock_path, params, stdin=b"", timeout=10):
    """One request on a fresh connection: (stdout, stderr, protocol_status)."""
    body = b"".join(_pair(k.encode(), v.encode()) for k, v in params.items())
    msg = (_record(1, struct.pack(">HB5x", 1, 0)) + _record(4, body) + _record(4, b"")
           + (_record(5, stdin) if stdin else b"") + _record(5, b""))
    out, err, status = b"", b"", None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(sock_path)
        s.sendall(msg)
        buf = b""
        while status is None:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 8:
                _, rtype, _, clen, plen = struct.unpack(">BBHHB", buf[:7])
                if len(buf) < 8 + clen + plen:
                    break
                content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
                if rtype == 6:
                    out += content
                elif rtype == 7:
                    err += content
                elif rtype == 3:
                    status = content[4]
    return out, err, status


def accepted_connections(sock_path):
    """php-fpm's own count of the connections its pool accepted (pm.status_path), the status request
    itself included."""
    out, _, _ = fcgi_request(sock_path, {"SCRIPT_NAME": "/fpm-status", "SCRIPT_FILENAME": "/fpm-status",
                                         "REQUEST_URI": "/fpm-status?json", "QUERY_STRING": "json",
                                         "REQUEST_METHOD": "GET"})
    body = out.split(b"\r\n\r\n", 1)[-1]
    return json.loads(body)["accepted conn"]


# -- a responder of our own, for what php-fpm will not do on demand ---------------------------------

class FakeResponder:
    """A FastCGI responder on a unix socket that answers "Content-Type: text/plain" and
    "conn N request M" (N counts connections, M requests on it), keeping the connection when asked
    (FCGI_KEEP_CONN); with close_second, it reads a connection's second request whole and closes
    without a word, as a php-fpm child that exits just then; with protocol_status, it ends every
    request with that FCGI_END_REQUEST status (2: overloaded) and no output; with stdout, it answers
    those bytes instead."""

    def __init__(self, path, close_second=False, protocol_status=0, stdout=None):
        import threading
        self.path, self.close_second = path, close_second
        self.protocol_status, self.stdout = protocol_status, stdout
        self.connections = 0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.sock.listen(16)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        import threading
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._conn, args=(c, self.connections), daemon=True).start()

    @staticmethod
    def _read_request(c, buf):
        """Records until the empty FCGI_STDIN: (keep_conn, rest of buf), or None at EOF."""
        keep, done = False, False
        while not done:
            while len(buf) < 8 or len(buf) < 8 + struct.unpack(">H", buf[4:6])[0] + buf[6]:
                chunk = c.recv(65536)
                if not chunk:
                    return None
                buf += chunk
            rtype, clen, plen = buf[1], struct.unpack(">H", buf[4:6])[0], buf[6]
            content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
            if rtype == 1:
                keep = bool(content[2] & 1)
            elif rtype == 5 and clen == 0:
                done = True
        return keep, buf

    def _conn(self, c, n):
        buf, m = b"", 0
        with c:
            while True:
                got = self._read_request(c, buf)
                if got is None:
                    return
                keep, buf = got
                m += 1
                if self.close_second and m == 2:
                    return
                body = f"Content-Type: text/plain\r\n\r\nconn {n} request {m}".encode()
                if self.stdout is not None:
                    body = self.stdout
                out = _record(6, body) + _record(6, b"") if not self.protocol_status else b""
                c.sendall(out + _record(3, struct.pack(">IB3x", 0, self.protocol_status)))
                if not keep:
                    return

    def stop(self):
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass
