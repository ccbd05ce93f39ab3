# SPDX-License-Identifier: MIT
"""upstream_server — an HTTP/1.1 application server for the reverse-proxy tests (test_proxy.py).

It runs in threads of the test process (so a test reads what it received directly), on a loopback
port chosen at run time or on a unix socket, and does what the request's path asks. The behaviour
is the first path segment that names one (so "/up/echo" and "/x/y/echo/z" both echo); the segments
after it are its arguments, the query its options:

  echo              200 with a JSON account of the request as it arrived: method, target, version,
                    every header line as received (in order, duplicates kept), the body (decoded)
                    and the body's bytes as framed on the wire, the connection's id and how many
                    requests it has carried (so a test sees hop-by-hop removal, X-Forwarded-*,
                    Forwarded, Host, re-framed chunked bodies and connection reuse)
  chunked           a chunked answer of ?n= chunks (default 5)
  status/NNN        that status; 204 and 304 without a body, others with a short one
  slow              ?head=S seconds before the head, ?body=S between the two halves of the body
  close-mid-body    a head promising 100000 bytes (?chunked=1: a chunked one), 1000 of them, close
  close-after       an answer (keep-alive, no Connection: close) and the connection closed at once
  drop-next         an answer; the next request read on this connection is closed without one
                    (what an upstream closing an idle keep-alive connection as it is reused does)
  bad/KIND          a broken answer: cl-te (Content-Length and chunked), two-cl (two different
                    lengths), chunk-size (not hex), chunk-overflow (a size past 64 bits), trailing
                    (a second answer after the end of the first), status-line, space-colon
                    ("X-Bad : 1"), cl-sign (Content-Length: +5), bare-lf (header lines ending in LF)
  unframed          no Content-Length and no chunking: the body ends at the close
  big               ?bytes=N (default 100 MB) streamed with Content-Length, in 64 KiB writes (how
                    much has been written so far is in notes["big_sent"])
  upload            reads the body at ?rate= bytes/s (default 65536) for ?slow= seconds, then at
                    full speed; answers {"bytes": N, "sha256": H} (the count so far: notes["upload_read"])
  redirect          ?status= (302), Location: ?to=, Content-Location: ?cl= when given
  hop-response      an answer carrying hop-by-hop fields (Connection: X-Up-Hop, X-Up-Hop, Keep-Alive,
                    Upgrade, Proxy-Authenticate, Trailer) next to an end-to-end one (X-Kept)
  ws                a WebSocket echo (RFC 6455): the handshake, then masked client frames echoed
                    back unmasked (text, binary; ping gets pong; close is answered and ends it);
                    without "Upgrade: websocket" a 426 that says so

HEAD gets the head of what GET would get. A request with both Content-Length and Transfer-Encoding
is recorded as such and refused with 400 (the tests assert it never arrives: mpmd refuses it).

Run alone for a manual look: python3 upstream_server.py [--port N | --unix PATH].
"""
import base64
import hashlib
import json
import os
import socket
import sys
import threading
import time
import urllib.parse

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class UpstreamConnection:
    def __init__(self, server, sock, conn_id):
        self.server, self.sock, self.id = server, sock, conn_id
        self.buf = b""
        self.requests = 0
        self.drop_next = False
        self.tls_name = None    # TLS: the SNI of its handshake (None: none sent)
        self.tls_client = None  # TLS: the commonName of the client's certificate (None: none shown)

    # -- reading ----------------------------------------------------------------------------------
    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def read_until(self, needle, limit=1 << 20):
        while needle not in self.buf:
            if len(self.buf) > limit:
                raise ValueError("line too long")
            self.fill()
        i = self.buf.index(needle) + len(needle)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_request(self):
        head = self.read_until(b"\r\n\r\n")
        lines = head[:-4].decode("latin-1").split("\r\n")
        method, target, version = (lines[0].split(" ", 2) + ["", ""])[:3]
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append([name, value.strip(" \t")])
        return {"method": method, "target": target, "version": version, "header_lines": lines[1:],
                "headers": headers, "raw_head": head.decode("latin-1")}

    def read_body(self, req, behaviour):
        """The request's body, decoded, and its bytes as they were framed. upload reads on its own."""
        names = {}
        for k, v in req["headers"]:
            names.setdefault(k.lower(), []).append(v)
        te = ",".join(names.get("transfer-encoding", [])).lower()
        cl = names.get("content-length")
        if te and cl:
            req["smuggling"] = True
        if behaviour == "upload":
            return
        raw, body = b"", b""
        if "chunked" in te:
            while True:
                line = self.read_until(b"\r\n")
                raw += line
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while True:
                        t = self.read_until(b"\r\n")
                        raw += t
                        if t == b"\r\n":
                            break
                    break
                data = self.read_exact(size + 2)
                raw += data
                body += data[:size]
        elif cl:
            raw = body = self.read_exact(int(cl[0]))
        req["body"] = body.decode("latin-1")
        req["raw_body"] = raw.decode("latin-1")

    # -- writing ----------------------------------------------------------------------------------
    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode("latin-1"))

    def respond(self, req, status=200, reason="OK", headers=(), body=b"", close=False):
        if isinstance(body, str):
            body = body.encode()
        head = f"HTTP/1.1 {status} {reason}\r\n"
        for k, v in headers:
            head += f"{k}: {v}\r\n"
        if status not in (204, 304) and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers):
            head += f"Content-Length: {len(body)}\r\n"
        if close:
            head += "Connection: close\r\n"
        head += "\r\n"
        self.send(head.encode("latin-1") + (b"" if req["method"] == "HEAD" or status in (204, 304) else body))

    # -- the connection's life --------------------------------------------------------------------
    def serve(self):
        try:
            while True:
                try:
                    req = self.read_request()
                except (EOFError, ConnectionError, OSError, ValueError):
                    return
                self.requests += 1
                req["conn"] = self.id
                req["conn_requests"] = self.requests
                url = urllib.parse.urlsplit(req["target"])
                segments = url.path.split("/")
                behaviour, args = "echo", []
                for i, s in enumerate(segments):
                    if s in BEHAVIOURS:
                        behaviour, args = s, segments[i + 1:]
                        break
                req["behaviour"] = behaviour
                query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
                if self.drop_next:
                    req["dropped"] = True
                    self.server.record(req)
                    return
                try:
                    self.read_body(req, behaviour)
                except (EOFError, ConnectionError, OSError, ValueError):
                    req["incomplete"] = True
                    self.server.record(req)
                    return
                self.server.record(req)
                if req.get("smuggling"):
                    self.respond(req, 400, "Bad Request", body="both Content-Length and Transfer-Encoding\n",
                                 close=True)
                    return
                keep = BEHAVIOURS[behaviour](self, req, args, query)
                wants_close = any(k.lower() == "connection" and "close" in v.lower() for k, v in req["headers"])
                if keep is False or wants_close:
                    return
        except (ConnectionError, OSError):
            return
        finally:
            try:
                self.sock.close()
            except OSError:
                pass
            self.server.closed(self)


# -- behaviours: each answers one request; False ends the connection ---------------------------------

def b_echo(c, req, args, query):
    account = {k: req[k] for k in ("method", "target", "version", "header_lines", "headers", "body", "raw_body",
                                   "conn", "conn_requests")}
    account["tls_name"], account["tls_client"] = c.tls_name, c.tls_client
    c.respond(req, 200, headers=[("Content-Type", "application/json"), ("X-Upstream-Conn", str(c.id))],
              body=json.dumps(account))


def b_chunked(c, req, args, query):
    n = int(query.get("n", 5))
    c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n")
    if req["method"] == "HEAD":
        return True
    for i in range(n):
        piece = f"chunk {i}\n".encode()
        c.send(b"%x;ext=%d\r\n%s\r\n" % (len(piece), i, piece))
    c.send(b"0\r\nX-Upstream-Trailer: t\r\n\r\n")


def b_status(c, req, args, query):
    code = int(args[0]) if args and args[0].isdigit() else 200
    headers = [("X-Status", str(code))]
    if code == 304:
        headers.append(("ETag", '"v1"'))
    if code == 204 or code == 304:
        c.respond(req, code, "No Content" if code == 204 else "Not Modified", headers=headers)
    else:
        c.respond(req, code, "Status", headers=headers, body=f"status {code}\n")


def b_slow(c, req, args, query):
    time.sleep(float(query.get("head", 0)))
    body = b"a" * 500 + b"b" * 500
    c.send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body))
    if req["method"] == "HEAD":
        return True
    c.send(body[:500])
    time.sleep(float(query.get("body", 0)))
    c.send(body[500:])


def b_close_mid_body(c, req, args, query):
    if query.get("chunked"):
        c.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n" + b"x" * 1000 + b"\r\n")
    else:
        c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
    time.sleep(0.2)
    return False


def b_close_after(c, req, args, query):
    b_echo(c, req, args, query)
    c.sock.shutdown(socket.SHUT_RDWR)
    return False


def b_drop_next(c, req, args, query):
    b_echo(c, req, args, query)
    c.drop_next = True


BAD = {
    "cl-te": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "two-cl": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "chunk-size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "chunk-overflow": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1" + b"0" * 17 + b"5\r\nhello\r\n0\r\n\r\n",
    "trailing": (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
                 b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nX-Smuggled: yes\r\n\r\nsmuggled"),
    "status-line": b"HTTP/1.1 2000 Much Too OK\r\nContent-Length: 5\r\n\r\nhello",
    "space-colon": b"HTTP/1.1 200 OK\r\nX-Bad : 1\r\nContent-Length: 5\r\n\r\nhello",
    "cl-sign": b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
    "bare-lf": b"HTTP/1.1 200 OK\nContent-Length: 5\nX-Lf: 1\n\nhello",
}


def b_bad(c, req, args, query):
    c.send(BAD[args[0]])
    time.sleep(0.5)  # mpmd sees all of it before the close
    return False


def b_unframed(c, req, args, query):
    c.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + b"u" * 3000)
    return False


def b_big(c, req, args, query):
    n = int(query.get("bytes", 100 * 1024 * 1024))
    c.send(f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {n}\r\n\r\n")
    if req["method"] == "HEAD":
        return True
    block = bytes(range(256)) * 256  # 64 KiB
    sent = 0
    while sent < n:
        piece = block[:min(len(block), n - sent)]
        c.send(piece)
        sent += len(piece)
        c.server.note("big_sent", sent)


def b_upload(c, req, args, query):
    rate = int(query.get("rate", 65536))
    slow_until = time.monotonic() + float(query.get("slow", 0))
    names = {k.lower(): v for k, v in req["headers"]}
    h = hashlib.sha256()
    got = 0

    def take(n):
        nonlocal got
        # Never more than the rate allows while slow: read at most one tenth of a second's worth.
        while n > 0:
            want = min(n, 65536)
            if time.monotonic() < slow_until:
                want = min(want, max(1, rate // 10))
                time.sleep(0.1)
            if not c.buf:
                c.buf = c.sock.recv(want)
                if not c.buf:
                    raise EOFError
            piece, c.buf = c.buf[:want], c.buf[want:]
            h.update(piece)
            got += len(piece)
            n -= len(piece)
            c.server.note("upload_read", got)

    if "chunked" in names.get("transfer-encoding", "").lower():
        while True:
            size = int(c.read_until(b"\r\n").split(b";")[0], 16)
            if size == 0:
                while c.read_until(b"\r\n") != b"\r\n":
                    pass
                break
            take(size)
            c.read_exact(2)
    else:
        take(int(names.get("content-length", "0")))
    c.respond(req, 200, headers=[("Content-Type", "application/json")],
              body=json.dumps({"bytes": got, "sha256": h.hexdigest()}))


def b_redirect(c, req, args, query):
    headers = [("Location", query.get("to", "/"))]
    if "cl" in query:
        headers.append(("Content-Location", query["cl"]))
    code = int(query.get("status", 302))
    c.respond(req, code, "Found", headers=headers, body="moved\n")


def b_hop_response(c, req, args, query):
    c.respond(req, 200, headers=[("Connection", "X-Up-Hop"), ("X-Up-Hop", "secret"), ("Keep-Alive", "timeout=5"),
                                 ("Upgrade", "h2c"), ("Proxy-Authenticate", "Basic realm=x"), ("Trailer", "X-T"),
                                 ("X-Kept", "yes")], body="hop\n")


def ws_accept(key):
    return base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()


def ws_frame(opcode, payload, mask=None):
    """One frame, FIN set; masked with the 4 bytes of mask when given (a client's)."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([m | 127]) + n.to_bytes(8, "big")
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


def ws_read_frame(read_exact):
    """(opcode, payload, masked) of the next frame, read with read_exact(n)."""
    b0, b1 = read_exact(2)
    opcode, masked, n = b0 & 0x0F, bool(b1 & 0x80), b1 & 0x7F
    if n == 126:
        n = int.from_bytes(read_exact(2), "big")
    elif n == 127:
        n = int.from_bytes(read_exact(8), "big")
    mask = read_exact(4) if masked else None
    payload = read_exact(n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return opcode, payload, masked


def b_ws(c, req, args, query):
    names = {k.lower(): v for k, v in req["headers"]}
    if names.get("upgrade", "").lower() != "websocket" or "sec-websocket-key" not in names:
        c.respond(req, 426, "Upgrade Required", body="no websocket upgrade reached the upstream\n")
        return True
    c.send("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           f"Sec-WebSocket-Accept: {ws_accept(names['sec-websocket-key'])}\r\n\r\n")
    while True:
        try:
            opcode, payload, masked = ws_read_frame(c.read_exact)
        except (EOFError, OSError):
            return False
        if not masked:
            c.send(ws_frame(8, (1002).to_bytes(2, "big")))
            return False
        if opcode in (1, 2):
            c.send(ws_frame(opcode, payload))
        elif opcode == 9:
            c.send(ws_frame(10, payload))
        elif opcode == 8:
            c.send(ws_frame(8, payload))
            return False


BEHAVIOURS = {
    "echo": b_echo, "chunked": b_chunked, "status": b_status, "slow": b_slow, "close-mid-body": b_close_mid_body,
    "close-after": b_close_after, "drop-next": b_drop_next, "bad": b_bad, "unframed": b_unframed, "big": b_big,
    "upload": b_upload, "redirect": b_redirect, "hop-response": b_hop_response, "ws": b_ws,
}


class Upstream:
    """The server: on 127.0.0.1 at a port of the kernel's choosing (self.port), or on a unix socket
    at unix_path (readable and writable by everyone: mpmd's workers run as nobody)."""

    def __init__(self, unix_path=None, port=0, rcvbuf=None, tls=None):
        self.lock = threading.Lock()
        self.tls = tls          # an ssl.SSLContext (server side): every connection is TLS
        self.tls_names = []     # the SNI of each handshake, in order (None: none sent)
        self.tls_resumed = 0    # handshakes that resumed a session
        self.tls_failed = 0     # handshakes that failed (the client refused the certificate…)
        if tls:
            def on_sni(ssl_object, name, context):
                ssl_object.upstream_sni = name  # for the connection's own record
                with self.lock:
                    self.tls_names.append(name)
            tls.sni_callback = on_sni
        self.requests = []      # every request as read, in order
        self.connections = 0    # accepted so far
        self.open = {}          # id -> UpstreamConnection
        self.notes = {}
        self.unix_path = unix_path
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(unix_path)
            os.chmod(unix_path, 0o777)
            self.port = None
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", port))
            self.port = self.sock.getsockname()[1]
        if rcvbuf:  # accepted connections inherit it, and a fixed size turns autotuning off
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.listen(256)
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def authority(self):
        return f"127.0.0.1:{self.port}"

    def _accept(self):
        while not self.stopping:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                conn_id = self.connections
            threading.Thread(target=self._serve, args=(s, conn_id), daemon=True).start()

    def _serve(self, s, conn_id):
        if self.tls:
            # The handshake in the connection's own thread, so that a stalled one holds no other.
            s.settimeout(30)
            try:
                s = self.tls.wrap_socket(s, server_side=True)
            except (OSError, ValueError):
                with self.lock:
                    self.tls_failed += 1
                s.close()
                return
            s.settimeout(None)
            with self.lock:
                if s.session_reused:
                    self.tls_resumed += 1
        with self.lock:
            c = UpstreamConnection(self, s, conn_id)
            self.open[c.id] = c
        if self.tls:
            c.tls_name = getattr(s, "upstream_sni", None)
            peer = s.getpeercert() or {}
            c.tls_client = next((v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"), None)
        c.serve()

    def record(self, req):
        with self.lock:
            self.requests.append(req)

    def closed(self, c):
        with self.lock:
            self.open.pop(c.id, None)

    def note(self, key, value):
        with self.lock:
            self.notes[key] = value

    def reset(self):
        with self.lock:
            self.requests = []
            self.notes = {}

    def requests_for(self, needle):
        """The requests whose target contains needle."""
        with self.lock:
            return [r for r in self.requests if needle in r["target"]]

    def stop(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        with self.lock:
            conns = list(self.open.values())
        for c in conns:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self.unix_path:
            try:
                os.unlink(self.unix_path)
            except OSError:
                pass


def main(argv):
    if "--unix" in argv:
        up = Upstream(unix_path=argv[argv.index("--unix") + 1])
    else:
        up = Upstream(port=int(argv[argv.index("--port") + 1]) if "--port" in argv else 0)
    print(up.unix_path or up.port, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1:])
