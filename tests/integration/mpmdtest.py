# SPDX-License-Identifier: MIT
"""mpmdtest — start the real mpmd binary for integration tests.

Each Server gets a fresh folder with a generated configuration, a document root and a port chosen at
run time. mpmd runs in its own process group with a captured NOTIFY_SOCKET, so the tests see the exact
sd_notify datagrams and know when it is ready; whatever happens, the whole group is killed at the end.
"""
import ipaddress
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


# perchild answers 421 to a request whose Host names no site (mpmd-mpm(7)): the tests of Apache's
# rule, which gives it to the main server, are for the other MPMs.
needs_host_fallback = unittest.skipIf(MPM == "perchild", "under perchild a Host that names no site gets 421 "
                                      "(Apache's fallback to the main server is [perchild] DefaultSite's)")


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


def descendants(pid):
    """Every process below pid, from /proc."""
    found, pending = [], [pid]
    while pending:
        for c in children(pending.pop()):
            pending.append(c)
            found.append(c)
    return found


def descendants_named(pid, name):
    """The descendants of pid whose command name (/proc/PID/comm) is name: e.g. the `sleep` a CGI
    script runs shows that the script was executed and ran past what comes before it."""
    found = []
    for c in descendants(pid):
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


def libcrypt_line(user, password, prefix):
    """A "user:hash" line of another method ($y$ yescrypt, $6$ SHA-512), made by libcrypt itself (as
    mkpasswd(1) would)."""
    import ctypes
    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    setting = lib.crypt_gensalt(prefix.encode(), 0, None, 0)
    return f"{user}:{lib.crypt(password.encode(), setting).decode()}"


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
        self.bounding_set = None  # setpriv --bounding-set= around it all (the unit's, for perchild)
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
        bounded = ["setpriv", f"--bounding-set={self.bounding_set}"] if self.bounding_set else []
        self.proc = subprocess.Popen(bounded + self.wrapper + [BINARY, "-f", self.conf], env=env, stdin=subprocess.DEVNULL,
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


# -- TLS ----------------------------------------------------------------------------------------------
# Certificates made by the tests with the openssl command (never shipped ones), and a client from
# python's ssl module. OpenSSL 3.0's `req -x509` has no way to put notAfter in the past, so an expired
# certificate is self-signed by `openssl ca`, which takes -startdate and -enddate.

OPENSSL = shutil.which("openssl")


def build_has_tls():
    """Whether the mpmd under test was built with TLS (-Dtls): its build's build-config.h says so.
    True when that file cannot be found (an installed binary): the tests then say what fails."""
    build_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(BINARY))))
    try:
        with open(os.path.join(build_root, "build-config.h")) as f:
            return re.search(r"^#define HAVE_TLS 1$", f.read(), re.M) is not None
    except OSError:
        return True

_CA_CONF = """[ca]
default_ca = selfsign
[selfsign]
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = anything
copy_extensions = copy
unique_subject = no
[anything]
commonName = supplied
"""


def _openssl(*args, cwd=None):
    p = subprocess.run([OPENSSL, *args], capture_output=True, text=True, timeout=60, cwd=cwd)
    if p.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: {p.stdout}{p.stderr}")
    return p.stdout


def make_cert(directory, names, kind="ec", days=365, expired=False, tag=None, crl_uri=None):
    """A self-signed certificate for names (the first is the subject's CN; all are subjectAltNames,
    DNS names or IP addresses) and its key, in directory: kind "ec" (ECDSA P-256) or "rsa" (RSA 2048); valid
    for days from now, or (expired=True) a month in 2020. Returns (certificate path, key path), both
    readable by everyone (the workers of a root mpmd run as nobody; the supervisor reads the key).
    crl_uri: a CRL distribution point to name (never fetched), for scanners that rate a certificate
    without one."""
    if not OPENSSL:
        raise unittest.SkipTest("the openssl command is not installed")
    names = [names] if isinstance(names, str) else list(names)
    base = os.path.join(directory, tag or f"{names[0]}-{kind}{'-expired' if expired else ''}-{days}")
    cert, key = base + ".crt", base + ".key"
    newkey = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if kind == "ec"
              else ["-newkey", "rsa:2048"])
    def alt_name(n):
        try:
            ipaddress.ip_address(n)
            return f"IP:{n}"
        except ValueError:
            return f"DNS:{n}"
    subject = ["-subj", f"/CN={names[0]}", "-addext", "subjectAltName=" + ",".join(alt_name(n) for n in names)]
    if crl_uri:
        subject += ["-addext", f"crlDistributionPoints=URI:{crl_uri}"]
    if not expired:
        _openssl("req", "-x509", *newkey, "-nodes", "-keyout", key, "-out", cert, "-days", str(days),
                 "-sha256", *subject)
    else:
        ca_dir = base + ".ca"
        os.makedirs(ca_dir, exist_ok=True)
        with open(os.path.join(ca_dir, "ca.cnf"), "w") as f:
            f.write(_CA_CONF.format(dir=ca_dir))
        open(os.path.join(ca_dir, "index.txt"), "w").close()
        with open(os.path.join(ca_dir, "serial"), "w") as f:
            f.write("01\n")
        csr = base + ".csr"
        # A CA's basic constraint, as `req -x509` gives the others: so that a client that trusts it
        # (a proxy's CA file) refuses it for its dates, not for what it is.
        _openssl("req", "-new", *newkey, "-nodes", "-keyout", key, "-out", csr, *subject,
                 "-addext", "basicConstraints=critical,CA:TRUE")
        _openssl("ca", "-config", os.path.join(ca_dir, "ca.cnf"), "-selfsign", "-keyfile", key, "-in", csr,
                 "-out", cert, "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-batch",
                 "-notext")
    os.chmod(cert, 0o644)
    os.chmod(key, 0o644)
    return cert, key


def _newkey(kind):
    return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if kind == "ec" else ["-newkey", "rsa:2048"]


def make_ca(directory, name, kind="ec", signer=None, days=365):
    """A CA for client certificates (make_client_cert()): CN=name, basicConstraints CA:TRUE, keyCertSign;
    self-signed, or (signer: a make_ca() pair) an intermediate signed by signer. Returns (certificate
    path, key path), readable by everyone. Leaves make_cert()'s server certificates as they are."""
    if not OPENSSL:
        raise unittest.SkipTest("the openssl command is not installed")
    base = os.path.join(directory, "ca-" + re.sub(r"[^A-Za-z0-9.-]", "_", name))
    cert, key = base + ".crt", base + ".key"
    ext = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    if signer is None:
        _openssl("req", "-x509", *_newkey(kind), "-nodes", "-keyout", key, "-out", cert, "-days", str(days),
                 "-sha256", "-subj", f"/O=mpmd tests/CN={name}", *ext)
    else:
        csr, extfile = base + ".csr", base + ".ext"
        _openssl("req", "-new", *_newkey(kind), "-nodes", "-keyout", key, "-out", csr,
                 "-subj", f"/O=mpmd tests/CN={name}")
        with open(extfile, "w") as f:
            f.write("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
        _openssl("x509", "-req", "-in", csr, "-CA", signer[0], "-CAkey", signer[1], "-set_serial", "2",
                 "-days", str(days), "-sha256", "-extfile", extfile, "-out", cert)
    os.chmod(cert, 0o644)
    os.chmod(key, 0o644)
    return cert, key


def make_client_cert(directory, ca, cn, kind="ec", days=365, serial=0x1A2B3C, chain=False):
    """A client certificate for /O=mpmd tests/CN=cn (extendedKeyUsage clientAuth) signed by ca (a
    make_ca() pair) with the given serial. chain: the certificate file holds ca's certificate after
    the leaf (for a client to send an intermediate). Returns (certificate path, key path)."""
    if not OPENSSL:
        raise unittest.SkipTest("the openssl command is not installed")
    base = os.path.join(directory, "client-" + re.sub(r"[^A-Za-z0-9.-]", "_", cn) + f"-{kind}")
    cert, key, csr, extfile = base + ".crt", base + ".key", base + ".csr", base + ".ext"
    _openssl("req", "-new", *_newkey(kind), "-nodes", "-keyout", key, "-out", csr, "-subj", f"/O=mpmd tests/CN={cn}")
    with open(extfile, "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n")
    _openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-set_serial", str(serial),
             "-days", str(days), "-sha256", "-extfile", extfile, "-out", cert)
    if chain:
        with open(cert, "a") as out, open(ca[0]) as f:
            out.write(f.read())
    os.chmod(cert, 0o644)
    os.chmod(key, 0o644)
    return cert, key


def cert_fingerprint(cert_path):
    """The SHA-256 fingerprint of a PEM certificate, as hex (the same as tls_get()'s)."""
    import hashlib
    import ssl
    with open(cert_path) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


def cert_bundle(directory, certs, name="bundle.pem"):
    """One CA file trusting every certificate of certs (each is self-signed, so its own anchor)."""
    path = os.path.join(directory, name)
    with open(path, "w") as out:
        for c in certs:
            with open(c) as f:
                out.write(f.read())
    return path


class TlsResponse(Response):
    """A Response with what the handshake showed: the peer's certificate (DER and its subject's
    CN), the protocol version and cipher python's ssl negotiated."""
    cert_der = None
    cert_cn = None
    protocol = None
    cipher = None

    @property
    def fingerprint(self):
        import hashlib
        return hashlib.sha256(self.cert_der).hexdigest() if self.cert_der else None


def tls_context(cafile=None, minimum=None, maximum=None):
    """A client context that trusts cafile (no check of the host name: the tests compare the
    certificate they got with the one they expected)."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if cafile:
        ctx.load_verify_locations(cafile)
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if minimum:
        ctx.minimum_version = minimum
    if maximum:
        ctx.maximum_version = maximum
    return ctx


def tls_connect(port, sni=None, cafile=None, context=None, timeout=10):
    """A TLS connection to 127.0.0.1:port, the handshake done; sni None sends no server name."""
    ctx = context or tls_context(cafile)
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s = ctx.wrap_socket(raw, server_hostname=sni)
    except BaseException:
        raw.close()
        raise
    return s


def _tls_response(s, resp):
    r = TlsResponse(resp.status, resp.reason, resp.headers, resp.body, resp.raw_head)
    r.cert_der = s.getpeercert(binary_form=True)
    info = s.getpeercert() or {}
    for rdn in info.get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                r.cert_cn = v
    r.protocol = s.version()
    r.cipher = s.cipher()[0] if s.cipher() else None
    return r


def tls_request(port, raw, sni=None, cafile=None, context=None, head_request=False, timeout=10):
    """Send raw bytes over a new TLS connection and read one response (a TlsResponse)."""
    with tls_connect(port, sni=sni, cafile=cafile, context=context, timeout=timeout) as s:
        s.sendall(raw if isinstance(raw, bytes) else raw.encode())
        resp = read_response(s, head_request=head_request, timeout=timeout)
        return _tls_response(s, resp)


def tls_get(port, path="/", sni=None, host=None, cafile=None, context=None, method="GET", headers="", body=b"",
            timeout=10):
    """One request over HTTPS: SNI sni (None: none), Host host (default: sni, else localhost)."""
    host = host or sni or "localhost"
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n"
    if body:
        head += f"Content-Length: {len(body)}\r\n"
    raw = head.encode() + b"\r\n" + body
    return tls_request(port, raw, sni=sni, cafile=cafile, context=context, head_request=(method == "HEAD"),
                       timeout=timeout)


def s_client(port, *args, sni=None, stdin=b"", timeout=30):
    """openssl s_client against 127.0.0.1:port with args; returns (exit status, its output)."""
    if not OPENSSL:
        raise unittest.SkipTest("the openssl command is not installed")
    cmd = [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}"]
    cmd += ["-servername", sni] if sni else ["-noservername"]
    p = subprocess.run(cmd + list(args), input=stdin, capture_output=True, timeout=timeout)
    return p.returncode, (p.stdout + p.stderr).decode(errors="replace")


def client_hello(sni=None, context=None):
    """A ClientHello as python's ssl would send it, made in memory: returns (the TLS object, its
    incoming and outgoing BIOs, the ClientHello's bytes), to go on with tls_pump()."""
    import ssl
    ctx = context or tls_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_side=False, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return obj, incoming, outgoing, outgoing.read()


class TlsPump:
    """A TLS client over a socket through memory BIOs, so the test decides how the bytes go out:
    handshake() and sendall()/recv() as a socket's, for read_response()."""

    def __init__(self, sock, obj, incoming, outgoing):
        self.sock, self.obj, self.incoming, self.outgoing = sock, obj, incoming, outgoing

    def settimeout(self, t):
        self.sock.settimeout(t)

    def _flush(self):
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            self.incoming.write_eof()
        else:
            self.incoming.write(data)

    def handshake(self):
        import ssl
        while True:
            try:
                self.obj.do_handshake()
                self._flush()
                return
            except ssl.SSLWantReadError:
                self._flush()
                self._fill()

    def sendall(self, data):
        self.obj.write(data)
        self._flush()

    def recv(self, n):
        import ssl
        while True:
            try:
                return self.obj.read(n)
            except ssl.SSLWantReadError:
                self._flush()
                self._fill()
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""


def tls_request_segmented(port, raw, sni=None, context=None, segment=1, delay=0.002, timeout=20):
    """Send the ClientHello in TCP segments of `segment` bytes (TCP_NODELAY, `delay` seconds apart),
    finish the handshake and send raw; returns the response (a Response)."""
    obj, incoming, outgoing, hello = client_hello(sni, context)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(hello), segment):
            s.send(hello[i:i + segment])
            time.sleep(delay)
        pump = TlsPump(s, obj, incoming, outgoing)
        pump.handshake()
        pump.sendall(raw if isinstance(raw, bytes) else raw.encode())
        r = read_response(pump, timeout=timeout)
        r.protocol = obj.version()
        r.hello_bytes = len(hello)
        return r


def add_site(srv, name, files):
    """A document root inside the server's folder, readable by unprivileged workers."""
    root = os.path.join(srv.dir, name)
    os.mkdir(root)
    os.chmod(root, 0o755)
    for path, content in files.items():
        full = os.path.join(root, path)
        d = os.path.dirname(full)
        if not os.path.isdir(d):
            os.makedirs(d)
            while d != root:
                os.chmod(d, 0o755)
                d = os.path.dirname(d)
        with open(full, "wb" if isinstance(content, bytes) else "w") as f:
            f.write(content)
        os.chmod(full, 0o644)
    return root
