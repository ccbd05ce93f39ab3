# SPDX-License-Identifier: MIT
"""Conformance: replay other projects' request tests against one running mpmd over real sockets.

Two corpora from ../shared/corpora (MPMD_CORPORA), neither written on this project:
  llhttp/*.md             Node.js's HTTP parser tests: every `type: request` case must behave as
                          llhttp says; `request-lenient-*` cases (llhttp's opt-in leniency) must be
                          rejected, since mpmd is strict.
  apache-http-strict.json Apache httpd's http_strict.t table, strict column.

Each case goes over a fresh connection exactly as written (no Connection: close added), then the
write side is shut down so that a request missing its end gets an answer or a close. What a server
can show: rejected input gets a 4xx (or a close), never a 2xx; accepted input gets a response;
pipelined input gets one response per request, in order.

Where mpmd answers differently, DEVIATIONS below names the case, the exact statuses mpmd sends
instead, and why: every difference is a decision on record. A case that fails and is not listed
fails the test; so does a listed case that no longer deviates or deviates differently.
"""
import json
import os
import re
import socket
import time
import unittest

from mpmdtest import MPM, SOURCE_ROOT, Server

CORPORA = os.environ.get("MPMD_CORPORA") or os.path.join(SOURCE_ROOT, "..", "shared", "corpora")
CASE_TIMEOUT = 10  # seconds for one case: answers and close; only a hang comes near it

# -- deviations ------------------------------------------------------------------------------------
# case name → (the final statuses mpmd sends, in order; () for a close without a response, why).

NO_HOST = ("an HTTP/1.1 request without Host: RFC 9112 §3.2 says a server MUST answer 400; llhttp does not "
           "look at Host. (The test replays the case with a Host field added: it must then pass.)")
NOT_HTTP = ("not HTTP: llhttp also parses ICE and RTSP; for mpmd a request-line whose version is not "
            "HTTP/DIGIT.DIGIT (RFC 9112 §2.3) is invalid, and RFC 9112 §3 says to answer it with 400")
HTTP_09 = ("no version (HTTP/0.9): RFC 9112 has no HTTP/0.9; the request-line is invalid and RFC 9112 §3 "
           "says to answer it with 400 rather than guess")
ASTERISK = ("the asterisk-form target is only for OPTIONS (RFC 9112 §3.2.4); M-SEARCH * is SSDP, which "
            "travels over UDP, not an HTTP/1.1 request → 400")
FRAGMENT = ("a fragment: no request-target form has one (RFC 9112 §3.2, origin-form = absolute-path "
            "[ \"?\" query ]; fragments stay in the client), so mpmd rejects '#' with 400 (issue 3)")
USERINFO = ("userinfo in an absolute-form target: RFC 9110 §4.2.4 says a recipient SHOULD treat it as an "
            "error → 400")
DEVIATIONS = {
        # llhttp: requests without Host
        "llhttp/connection.md: Setting flag": ((400,), NO_HOST),
        "llhttp/connection.md: Restarting when keep-alive is explicitly": ((400,), NO_HOST),
        "llhttp/connection.md: Setting flag on `close`": ((400,), NO_HOST),
        "llhttp/connection.md: Setting flag on `close` followed by tab": ((400,), NO_HOST),
        "llhttp/connection.md: Sample": ((400,), NO_HOST),
        "llhttp/connection.md: Multiple tokens with folding and LWS": ((400,), NO_HOST),
        "llhttp/connection.md: Setting a flag and pausing": ((400,), NO_HOST),
        "llhttp/connection.md: Emitting part of body and pausing": ((400,), NO_HOST),
        "llhttp/content-length.md: `Content-Length` with zeroes": ((400,), NO_HOST),
        "llhttp/content-length.md: `Content-Length` with follow-up headers": ((400,), NO_HOST),
        "llhttp/finish.md: It should be safe to finish after GET request": ((400,), NO_HOST),
        "llhttp/method.md: REPORT request": ((400,), NO_HOST),
        "llhttp/pausing.md: on_message_begin": ((400,), NO_HOST),
        "llhttp/pausing.md: on_message_complete": ((400,), NO_HOST),
        "llhttp/pausing.md: on_protocol_complete": ((400,), NO_HOST),
        "llhttp/pausing.md: on_method_complete": ((400,), NO_HOST),
        "llhttp/pausing.md: on_url_complete": ((400,), NO_HOST),
        "llhttp/pausing.md: on_version_complete": ((400,), NO_HOST),
        "llhttp/pausing.md: on_header_field_complete": ((400,), NO_HOST),
        "llhttp/pausing.md: on_header_value_complete": ((400,), NO_HOST),
        "llhttp/pausing.md: on_headers_complete": ((400,), NO_HOST),
        "llhttp/pausing.md: on_chunk_header": ((400,), NO_HOST),
        "llhttp/pausing.md: on_chunk_extension_name": ((400,), NO_HOST),
        "llhttp/pausing.md: on_chunk_extension_value": ((400,), NO_HOST),
        "llhttp/pausing.md: on_chunk_complete": ((400,), NO_HOST),
        "llhttp/pipelining.md: Should parse multiple events": ((400,), NO_HOST),
        "llhttp/sample.md: Simple request": ((400,), NO_HOST),
        "llhttp/sample.md: Request with method starting with `H`": ((400,), NO_HOST),
        "llhttp/sample.md: DUMBPACK": ((400,), NO_HOST),
        "llhttp/sample.md: No headers and no body": ((400,), NO_HOST),
        "llhttp/sample.md: One header and no body": ((400,), NO_HOST),
        "llhttp/sample.md: Prefix newline": ((400,), NO_HOST),
        "llhttp/sample.md: Request starting with CRLF": ((400,), NO_HOST),
        "llhttp/sample.md: Extended Characters": ((400,), NO_HOST),
        "llhttp/sample.md: 255 ASCII in header value": ((400,), NO_HOST),
        "llhttp/transfer-encoding.md: Parse chunks with lowercase size": ((400,), NO_HOST),
        "llhttp/transfer-encoding.md: Parse chunks with uppercase size": ((400,), NO_HOST),
        "llhttp/transfer-encoding.md: POST with `Transfer-Encoding: chunked`": ((400,), NO_HOST),
        "llhttp/transfer-encoding.md: Two chunks and triple zero prefixed end chunk": ((400,), NO_HOST),
        "llhttp/transfer-encoding.md: Trailing headers": ((400,), NO_HOST),
        "llhttp/uri.md: Quotes in URI": ((400,), NO_HOST),
        "llhttp/uri.md: Query URL with question mark": ((400,), NO_HOST),
        "llhttp/uri.md: Query URL with vertical bar character": ((400,), NO_HOST),
        # llhttp: other protocols and forms
        "llhttp/method.md: SOURCE request with ICE": ((400,), NOT_HTTP),
        "llhttp/method.md: OPTIONS request with RTSP": ((400,), NOT_HTTP),
        "llhttp/method.md: ANNOUNCE request with RTSP": ((400,), NOT_HTTP),
        "llhttp/sample.md: No HTTP version": ((400,), HTTP_09),
        "llhttp/method.md: M-SEARCH request": ((400,), ASTERISK),
        "llhttp/uri.md: Fragment in URI": ((400,), FRAGMENT),
        "llhttp/transfer-encoding.md: POST with `chunked` as last transfer-encoding":
                ((400,), FRAGMENT + "; it has no Host either, and `deflate` would get 501 (RFC 9112 §6.1: a "
                 "coding the server does not implement)"),
        "llhttp/transfer-encoding.md: POST with `chunked` as last transfer-encoding (multiple headers)":
                ((400,), FRAGMENT + "; it has no Host either, and `deflate` would get 501 (RFC 9112 §6.1)"),
        "llhttp/uri.md: `host:port` and basic auth": ((400,), USERINFO + "; it has no Host field either"),
        # Apache http_strict.t, strict column
        r"apache/13: 'GET / HTTP/2.0\r\nHost: localhost\r\n\r\n'":
                ((505,), "RFC 9112 §2.3: a server can answer 505 to refuse a major version it does not support; "
                 "HTTP/2 never comes as a text request-line, so serving it as 1.1 (Apache) hides a broken client"),
        r"apache/39: 'GET / HTTP/1.0\r\r'":
                ((400,), "a bare CR in the request-line: RFC 9112 §2.2 says a recipient MUST treat the element as "
                 "invalid (or read the CR as SP), and §3 that an invalid request-line SHOULD get 400; Apache "
                 "drops the connection, mpmd says why"),
        r"apache/40: 'GET /\r\n'": ((400,), HTTP_09),
        r"apache/49: 'GET / HTTP/1.0\r\nHost: localhost:80 x\r\n\r'":
                ((), "the head never ends (the client closes before its last LF): mpmd judges Host once the "
                 "head is complete and closes an unfinished request at end of stream without an answer, "
                 "which RFC 9112 §8 allows (a server MAY send an error response)"),
}

# Cases that test what only a parser's callbacks can do, which no server can show.
NOT_SERVER_VISIBLE = {
        "skipBody": "llhttp's runner skips the body from a callback; a server must read the Content-Length bytes",
}

# -- reading the corpora -----------------------------------------------------------------------------


def llhttp_bytes(block):
    """An llhttp `http` block as the bytes it stands for (see shared/corpora/README.md)."""
    if block.endswith("\n"):
        block = block[:-1]
    block = block.replace("\\\n", "").replace("\n", "\r\n")
    out = bytearray()
    i = 0
    while i < len(block):
        if block[i] == "\\" and i + 1 < len(block):
            nxt = block[i + 1]
            if nxt in "rntf":
                out.append({"r": 13, "n": 10, "t": 9, "f": 12}[nxt])
                i += 2
                continue
            m = re.match(r"x([0-9a-fA-F]{1,2})", block[i + 1:])
            if m:
                out.append(int(m.group(1), 16))
                i += 1 + len(m.group(0))
                continue
            m = re.match(r"[0-7]{1,3}", block[i + 1:])
            if m:
                out.append(int(m.group(0), 8))
                i += 1 + len(m.group(0))
                continue
        out += block[i].encode("utf-8")
        i += 1
    return bytes(out)


class Message:
    """One request as llhttp's log tells it."""

    def __init__(self):
        self.method = ""
        self.url = ""
        self.head_complete = False
        self.complete = False
        self.version_end = None  # offset of the byte after the version: the request line's CRLF


class LlhttpCase:
    def __init__(self, name, kind, data, log):
        self.name, self.kind, self.data = name, kind, data
        self.messages = []
        self.error = None  # (code, reason) of a terminal error
        for line in log.strip().split("\n"):
            off, _, line = line.partition(" ")
            if line == "version complete":
                self.messages[-1].version_end = int(off[len("off="):])
            elif line == "message begin":
                self.messages.append(Message())
            elif m := re.match(r'len=\d+ span\[(method|url)\]="(.*)"$', line):
                setattr(self.messages[-1], m.group(1), getattr(self.messages[-1], m.group(1)) + m.group(2))
            elif line.startswith("headers complete"):
                self.messages[-1].head_complete = True
            elif line == "message complete":
                self.messages[-1].complete = True
            elif m := re.match(r'error code=(\d+) reason="(.*)"$', line):
                self.error = (int(m.group(1)), m.group(2))

    @property
    def lenient(self):
        return self.kind.startswith("request-lenient")

    def with_host(self):
        """The same bytes with "Host: localhost" after each request line llhttp found."""
        data = self.data
        for m in reversed(self.messages):
            at = m.version_end
            if at is None or data[at:at + 2] != b"\r\n":
                continue
            data = data[:at + 2] + b"Host: localhost\r\n" + data[at + 2:]
        return data


def llhttp_cases(folder):
    """Every request case of llhttp/*.md, named "llhttp/FILE: HEADING" (duplicates get #2 …).
    Returns (cases, [(name, why skipped)])."""
    cases, skipped, seen = [], [], {}
    pattern = re.compile(r"^(#+) ([^\n]*)$|^<!-- meta=(\{[^\n]*\}) -->$|^```(\w+)\n(.*?)^```$", re.M | re.S)
    for fn in sorted(os.listdir(folder)):
        if not fn.endswith(".md"):
            continue
        with open(os.path.join(folder, fn), encoding="utf-8") as f:
            text = f.read()
        heading, meta, http = None, None, None
        for m in pattern.finditer(text):
            if m.group(1):
                heading, meta, http = m.group(2).strip(), None, None
            elif m.group(3):
                meta = json.loads(m.group(3))
            elif m.group(4) == "http":
                http = m.group(5)
            elif m.group(4) == "log" and meta is not None and http is not None:
                if not meta.get("type", "").startswith("request"):
                    continue
                name = f"llhttp/{fn}: {heading}"
                seen[name] = seen.get(name, 0) + 1
                if seen[name] > 1:
                    name += f" #{seen[name]}"
                if "${" in http:
                    skipped.append((name, "built by a JavaScript expression"))
                    continue
                flags = [f for f in NOT_SERVER_VISIBLE if meta.get(f)]
                if flags:
                    skipped.append((name, NOT_SERVER_VISIBLE[flags[0]]))
                    continue
                cases.append(LlhttpCase(name, meta["type"], llhttp_bytes(http), m.group(5)))
    return cases, skipped


# -- talking to the server ---------------------------------------------------------------------------


def exchange(port, data):
    """Send data on a fresh connection, half-close, read to EOF. Returns (bytes read, how it ended):
    "eof", "reset", or "timeout" when the server neither finished nor closed in CASE_TIMEOUT."""
    deadline = time.monotonic() + CASE_TIMEOUT
    with socket.create_connection(("127.0.0.1", port), timeout=CASE_TIMEOUT) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server rejected and closed before reading everything: its answer is still there
        got = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return got, "timeout"
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return got, "timeout"
            except ConnectionResetError:
                return got, "reset"
            if not chunk:
                return got, "eof"
            got += chunk


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def __repr__(self):
        return str(self.status)


def parse_replies(data, head_methods=()):
    """Split the bytes a server sent into responses. head_methods[i] is true when the i-th final
    response answers a HEAD (no body). Returns (replies, error or None). Interim 100 responses are
    dropped: they are not answers."""
    replies = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not data.startswith(b"HTTP/"):
            if replies and len(replies) <= len(head_methods) and head_methods[len(replies) - 1]:
                return replies, f"the {replies[-1].status} to a HEAD carries a body (RFC 9110 §9.3.2: " \
                                f"MUST NOT): {data[:120]!r}"
            return replies, f"not a response: {data[:200]!r}"
        if not sep:
            return replies, f"truncated response head {data[:200]!r}"
        lines = head.decode("latin-1").split("\r\n")
        m = re.fullmatch(r"HTTP/1\.1 (\d{3}) [^\r\n]*", lines[0])
        if not m:
            return replies, f"bad status line {lines[0][:200]!r}"
        status = int(m.group(1))
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if status == 100:
            data = rest
            continue
        is_head = len(replies) < len(head_methods) and head_methods[len(replies)]
        if is_head or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "chunked" in headers.get("transfer-encoding", ""):
            body = b""
            while True:
                size_line, sep, rest = rest.partition(b"\r\n")
                if not sep or not re.fullmatch(rb"[0-9a-fA-F]+(;.*)?", size_line):
                    return replies, f"bad or truncated chunked body after {body[:80]!r}"
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    break
                body += rest[:size]
                rest = rest[size + 2:]
            while True:  # the trailer section, up to its empty line
                line, sep, rest = rest.partition(b"\r\n")
                if not sep:
                    return replies, "truncated chunked trailer section"
                if not line:
                    break
        elif "content-length" in headers:
            if not headers["content-length"].isdigit():
                return replies, f"bad Content-Length {headers['content-length']!r}"
            n = int(headers["content-length"])
            if len(rest) < n:
                return replies, f"truncated body: {len(rest)} of {n} bytes"
            body, rest = rest[:n], rest[n:]
        else:
            body, rest = rest, b""
        replies.append(Reply(status, headers, body))
        data = rest
    return replies, None


def is_rejection(status):
    """A status that refuses the request as sent: any 4xx, 501 (an unknown transfer coding, RFC 9112
    §6.1) or 505 (an unsupported version)."""
    return 400 <= status < 500 or status in (501, 505)


def is_answer(status):
    """A status that shows the request was read as valid HTTP: anything but 400 (malformed), 505, a
    101 (mpmd never switches protocols) or a server error other than 501 (a method mpmd does not
    implement is still a request it understood)."""
    return status not in (101, 400, 505) and (status < 500 or status == 501)


# -- the server -----------------------------------------------------------------------------------------

# The targets the corpora ask for most, each with a body that names it, so that a success is possible
# and the order of pipelined answers can be checked.
FILES = {path: f"this is {path}\n" for path in (
    "index.html", "url", "test", "demo", "hello", "bye", "foo", "file.txt", "favicon.ico", "contacts",
    "dumbpack", "music/sweet/music", "images/my_dog.jpg", "get_one_header_no_body",
    "get_no_headers_no_body/world", "get_funky_content_length_body_hello", "test.cgi", "toto",
    "aaa", "bbb", "ccc", "with_", "forums/1/topics/2375", "post_identity_body_world",
    "chunked_w_unicorns_after_length", "post_chunked_all_your_base", "two_chunks_mult_zero_end",
    "chunked_w_trailing_headers")}


def expected_body(method, url):
    """The body a GET of url must return, or None when the test does not know it."""
    if method != "GET":
        return None
    path = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*", "", url)
    path = re.split(r"[?#]", path)[0] or "/"
    if not path.startswith("/"):
        return None
    if path == "/":
        path = "/index.html"
    return FILES.get(path[1:])


# -- the checks ---------------------------------------------------------------------------------------


def check_llhttp(case, replies, error, ended):
    """None when mpmd did what llhttp's log says a server should show, else why not."""
    if error:
        return error
    if ended == "timeout":
        return f"no close within {CASE_TIMEOUT}s after the request was half-closed (got {replies})"
    complete = [m for m in case.messages if m.complete]
    if case.lenient:
        # mpmd is strict: it must not accept all that llhttp needed a leniency for. Accepting would
        # be answering every request llhttp began to read; anything less — a 400, a close before
        # the last of them (as after Connection: close) — refuses it, and nothing after the refusal
        # may succeed.
        heads = max(1, len(case.messages))
        if len(replies) >= heads and all(is_answer(r.status) for r in replies[:heads]):
            return f"accepted what llhttp accepts only leniently: {replies}"
        refused = next((i for i, r in enumerate(replies) if not is_answer(r.status)), len(replies))
        if any(200 <= r.status < 300 for r in replies[refused:]):
            return f"a success after the refusal: {replies}"
        return None
    for i, msg in enumerate(complete):
        if i >= len(replies):
            return f"{len(replies)} responses for {len(complete)} complete requests: {replies}"
        if not is_answer(replies[i].status):
            return f"request {i + 1} ({msg.method} {msg.url}) answered {replies[i].status}: {replies}"
        want = expected_body(msg.method, msg.url)
        if want is not None and replies[i].status == 200 and replies[i].body != want.encode():
            return f"request {i + 1} ({msg.method} {msg.url}) got the body {replies[i].body[:80]!r}: out of order?"
    extra = replies[len(complete):]
    code = case.error[0] if case.error else None
    if code in (22,):
        return None  # CONNECT/Upgrade: llhttp hands the rest over to a tunnel and parses no further
    if code == 5:
        # Data after Connection: close — RFC 9112 §9.6: the server MUST NOT process further requests.
        return f"answered after Connection: close: {replies}" if extra else None
    if code is not None:
        # llhttp rejects this message (21/23 pauses included: an h2 preface is not HTTP/1.1 here).
        if len(extra) > 1 or (extra and not is_rejection(extra[0].status)):
            return f"the rejected request got {extra}"
        return None
    tail = case.messages[-1] if case.messages and not case.messages[-1].complete else None
    if tail is None:
        return f"{len(replies)} responses for {len(complete)} requests: {replies}" if extra else None
    # An unfinished request at EOF: it may get an answer (or a close); a head the server never saw
    # end cannot have succeeded.
    if len(extra) > 1:
        return f"{len(extra)} answers for one unfinished request: {replies}"
    if extra and not tail.head_complete and 200 <= extra[0].status < 300:
        return f"the unfinished head got {extra[0].status}"
    return None


def check_apache(want, replies, error, ended):
    if error:
        return error
    if ended == "timeout":
        return f"no close within {CASE_TIMEOUT}s after the request was half-closed (got {replies})"
    if want is None:
        return None if not replies else f"expected a close without a response, got {replies}"
    if len(replies) != 1:
        return f"expected one response, got {replies}"
    status = replies[0].status
    if want == 0:
        return None if status >= 400 else f"expected an error status, got {status}"
    if want == 1:
        return None if 200 <= status < 300 else f"expected a success, got {status}"
    return None if status == want else f"expected {want}, got {status}"


def crash_lines(text):
    return [line for line in text.split("\n") if "killed by signal" in line or "exited with status" in line]


@unittest.skipUnless(os.path.isdir(CORPORA), f"conformance corpora not found at {CORPORA} "
                     "(MPMD_CORPORA; they live in shared/corpora next to the source tree)")
class ConformanceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        keys = "DirectoryIndex = index.html\nKeepAliveTimeout = 5\n"
        if MPM != "perchild":
            cls.srv = Server(files=FILES, server_keys=keys)
            return
        # perchild's dispatcher reads the heads first: replayed too, with the requests whose Host
        # names no site (HTTP/1.0 without one, an address) given to a site serving the same files,
        # as the other MPMs give them to the main server.
        cls.srv = Server(files=FILES, server_keys=keys, start=False)
        with open(cls.srv.conf, "a") as f:
            f.write(f"\n[perchild]\nDefaultSite = fallback\n\n[VirtualHost fallback]\nServerName = fallback.invalid\n"
                    f"DocumentRoot = {cls.srv.root}\n{keys}")
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def run_case(self, data, heads, check):
        """Replay one case; returns (why it fails or None, statuses, whether the exchange was sound)."""
        got, ended = exchange(self.srv.port, data)
        replies, error = parse_replies(got, heads)
        why = check(replies, error, ended)
        crashes = crash_lines(self.srv.error_log())
        if len(crashes) > self.crashes_seen:
            why = f"a worker died: {crashes[self.crashes_seen:]}" + (f"; {why}" if why else "")
            self.crashes_seen = len(crashes)
        return why, tuple(r.status for r in replies), error is None and ended == "eof"

    def replay(self, corpus, cases, skipped=()):
        """cases: (name, bytes, head_methods, check(replies, error, ended) → None or why, the bytes
        with a Host field added or None)."""
        passed, as_recorded, failures = 0, 0, []
        self.crashes_seen = len(crash_lines(self.srv.error_log()))
        prefix = cases[0][0].split("/")[0] + "/"
        names = {c[0] for c in cases} | {name for name, _ in skipped}
        failures += [f"{name}: listed in DEVIATIONS but names no case" for name in DEVIATIONS
                     if name.startswith(prefix) and name not in names]
        for name, data, heads, check, with_host in cases:
            why, statuses, sound = self.run_case(data, heads, check)
            deviation = DEVIATIONS.get(name)
            if why is None and deviation is None:
                passed += 1
            elif why is None:
                failures.append(f"{name}: listed in DEVIATIONS but behaves as the corpus says {statuses}")
            elif deviation is None:
                failures.append(f"{name}: {why}\n    sent {data[:300]!r}")
            elif not sound or statuses != deviation[0] or "worker died" in why:
                failures.append(f"{name}: deviates other than DEVIATIONS says ({deviation[0]}): {why}")
            elif deviation[1] is NO_HOST and with_host is not None and \
                    (host_why := self.run_case(with_host, heads, check)[0]) is not None:
                # The missing Host must be the only difference.
                failures.append(f"{name}: with a Host field added it still fails: {host_why}")
            else:
                passed += 1  # the recorded decision, exactly
                as_recorded += 1
        print(f"\n{corpus}: {passed} passed, {len(failures)} failed"
              + (f", {len(skipped)} skipped" if skipped else "")
              + f" ({as_recorded} of the passes as DEVIATIONS records)", flush=True)
        for name, why in skipped:
            print(f"  skip {name}: {why}", flush=True)
        for f in failures:
            print("  FAIL " + f, flush=True)
        self.assertIsNone(self.srv.proc.poll(), "mpmd exited during the replay")
        self.assertEqual(failures, [], f"{corpus}: {len(failures)} cases failed")

    def test_llhttp(self):
        cases, skipped = llhttp_cases(os.path.join(CORPORA, "llhttp"))
        self.assertGreater(len(cases), 100, "the llhttp corpus looks truncated")
        self.replay("llhttp", [
            (c.name, c.data, [m.method == "HEAD" for m in c.messages if m.complete],
             lambda replies, error, ended, c=c: check_llhttp(c, replies, error, ended), c.with_host())
            for c in cases], skipped)

    def test_apache_http_strict(self):
        with open(os.path.join(CORPORA, "apache-http-strict.json"), encoding="utf-8") as f:
            table = json.load(f)["cases"]
        self.assertGreater(len(table), 50, "the Apache table looks truncated")
        self.replay("apache-http-strict", [
            (f"apache/{i}: {c['request']!r}", c["request"].encode("latin-1"), [],
             lambda replies, error, ended, want=c["strict"]: check_apache(want, replies, error, ended), None)
            for i, c in enumerate(table)])


if __name__ == "__main__":
    unittest.main()
