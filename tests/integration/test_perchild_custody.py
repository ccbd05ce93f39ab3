# SPDX-License-Identifier: MIT
"""perchild key custody (issue 20): no process but the supervisor ever has another site's private key.

Two sites, a and b, each with its own EC P-256 key (readable by root only) and a dedicated
`Listen = https://127.0.0.1:PORT`; a third plain site c shares the main server's socket, so that a
dispatcher runs. After handshakes and requests to both, every process of mpmd's tree is read as root
(the writable mappings of /proc/PID/maps, their bytes from /proc/PID/mem) and each site's private
scalar searched, big-endian (as in DER) and little-endian (OpenSSL's BIGNUM: 64-bit limbs, least
significant first, each little-endian, which is the whole reversal). Positive control: a's scalar is
found in a's pool processes, or the test fails (the search would prove nothing); it is never in b's
pool, the dispatcher, a CGI launcher or a running CGI program, and likewise for b. Also: `mpmctl
audit` passes and flags a planted violation (a CGI program holding a key file open); a ticket of a
is refused by b; a's session resumes after a reload.

Needs root and a build with the perchild MPM and TLS."""
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import mpmdtest
from mpmdtest import (BINARY, OPENSSL, Server, build_has_tls, free_port, make_cert, read_response,
                      remove_users, s_client, tls_connect, tls_get, wait_for)
from test_perchild import MPMCTL, load_line, perchild_available, tree_processes, unit_bounding_set

SITE_USERS = ("mpmdtca", "mpmdtcb", "mpmdtcc")
DISPATCH_USER = "mpmd-dispatch"
SLEEP_CGI = "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nsleeping\\n'\nexec sleep 30\n"
# Holds a copy of the site's key open while it sleeps: a violation `mpmctl audit` must see.
HOLD_KEY_CGI = ("#!/bin/sh\nexec 3< \"$DOCUMENT_ROOT/../held.key\"\n"
                "printf 'Content-Type: text/plain\\r\\n\\r\\nholding\\n'\nexec sleep 30\n")


def private_scalar(key):
    """The 32-byte private value of an EC P-256 key, big-endian, from `openssl ec -text -noout`."""
    out = subprocess.run([OPENSSL, "ec", "-in", key, "-text", "-noout"], capture_output=True, text=True,
                         check=True).stdout
    m = re.search(r"priv:\s*\n((?:\s+[0-9a-f:]+\n)+)", out)
    raw = bytes.fromhex(re.sub(r"[\s:]", "", m.group(1)))
    raw = raw.lstrip(b"\0")
    assert len(raw) <= 32, raw.hex()
    return raw.rjust(32, b"\0")


def limbs_le(be):
    """OpenSSL's BIGNUM of be on a 64-bit machine: 8-byte limbs, least significant first, each little-endian."""
    limbs = [be[i:i + 8] for i in range(0, len(be), 8)][::-1]
    return b"".join(limb[::-1] for limb in limbs)


CHUNK = 16 << 20
# The sanitizer build's shadow memory: terabytes of writable address space, never a heap. Nothing
# else of mpmd's comes near this (the plain build's largest writable mapping is some megabytes).
SKIP_ABOVE = 16 << 30


def writable_memory_has(pid, needles):
    """Which of needles occur in pid's writable mappings (read through /proc/PID/mem, in chunks
    that overlap by a needle's length, so that none is missed at a boundary)."""
    found = set()
    overlap = max(len(n) for n in needles)
    with open(f"/proc/{pid}/maps") as f:
        maps = f.read().splitlines()
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for line in maps:
            fields = line.split()
            if "w" not in fields[1] or (len(fields) > 5 and fields[5] in ("[vvar]", "[vsyscall]")):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if end - start > SKIP_ABOVE:
                continue
            for off in range(start, end, CHUNK):
                try:
                    mem.seek(off)
                    data = mem.read(min(CHUNK + overlap, end - off))
                except OSError:
                    continue
                for n in needles:
                    if n in data:
                        found.add(n)
    return found



@unittest.skipUnless(os.geteuid() == 0, "needs root: creates users, starts mpmd as root, reads /proc/PID/mem")
@unittest.skipUnless(shutil.which("setpriv") and shutil.which("useradd"), "needs setpriv and useradd")
@unittest.skipUnless(perchild_available(), "mpmd was built without the perchild MPM")
@unittest.skipUnless(build_has_tls() and OPENSSL, "needs TLS in the build and the openssl command")
class PerchildCustodyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.created = mpmdtest.create_users(SITE_USERS, DISPATCH_USER)
        cls.srv = srv = Server(start=False)
        cls.keydir = tempfile.mkdtemp(prefix="mpmd-keys-")
        os.chmod(cls.keydir, 0o700)  # root's: no site can read the keys
        cls.ports, cls.keys, cls.scalars, cls.uids = {}, {}, {}, {}
        srv.control = os.path.join(srv.dir, "control")
        conf = (f"[Server]\nServerName = localhost\nListen = 127.0.0.1:{srv.port}\nDocumentRoot = {srv.root}\n"
                f"ErrorLog = {srv.log}\nLogLevel = debug\nUser = nobody\nControlSocket = {srv.control}\n"
                f"{load_line()}\n[perchild]\nStartServers = 2\n")
        for name, user in zip("abc", SITE_USERS):
            pw = pwd.getpwnam(user)
            cls.uids[name] = pw.pw_uid
            site = os.path.join(srv.dir, name)
            root, cgi = os.path.join(site, "htdocs"), os.path.join(site, "cgi")
            os.makedirs(root)
            os.makedirs(cgi)
            with open(os.path.join(root, "index.html"), "w") as f:
                f.write(f"site {name}\n")
            for script, text in (("sleep.cgi", SLEEP_CGI), ("hold.cgi", HOLD_KEY_CGI)):
                with open(os.path.join(cgi, script), "w") as f:
                    f.write(text)
                os.chmod(os.path.join(cgi, script), 0o755)
            for d in (site, root, cgi):
                os.chmod(d, 0o755)
            os.chown(root, pw.pw_uid, pw.pw_gid)
            conf += (f"\n[VirtualHost {name}]\nServerName = {name}.test\nDocumentRoot = {root}\nUser = {user}\n"
                     f"Group = {user}\nScriptAlias = /cgi-bin/ {cgi}/\n")
            if name == "c":
                continue  # plain, on the shared socket: the dispatcher's
            cert, key = make_cert(cls.keydir, f"{name}.test")
            os.chmod(key, 0o600)
            os.chown(key, 0, 0)
            cls.keys[name] = key
            cls.scalars[name] = private_scalar(key)
            cls.ports[name] = free_port()
            conf += (f"Listen = https://127.0.0.1:{cls.ports[name]}\nSSLCertificateFile = {cert}\n"
                     f"SSLCertificateKeyFile = {key}\n")
        # The planted violation's key: a's own, readable by a (as a careless operator might leave it).
        held = os.path.join(srv.dir, "a", "held.key")
        shutil.copy(cls.keys["a"], held)
        os.chown(held, cls.uids["a"], 0)
        with open(srv.conf, "w") as f:
            f.write(conf)
        srv.bounding_set = unit_bounding_set()
        srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        shutil.rmtree(cls.keydir, ignore_errors=True)
        remove_users(cls.created)

    def processes(self):
        return tree_processes(self.srv.pid)

    def get(self, name, path="/"):
        return tls_get(self.ports[name], path, sni=f"{name}.test")

    def start_cgi(self, name, script):
        """A request to a CGI program that sleeps: its connection (kept open), once the program runs."""
        s = tls_connect(self.ports[name], sni=f"{name}.test")
        s.sendall(f"GET /cgi-bin/{script} HTTP/1.1\r\nHost: {name}.test\r\n\r\n".encode())
        wait_for(lambda: any(comm == "sleep" and uid == self.uids[name] for _, uid, comm, _ in self.processes()),
                 what=f"{name}'s CGI program")
        return s

    def test_each_site_key_lives_in_its_own_pool_only(self):
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # handshakes and requests for a few seconds
            for name in "ab":
                r = self.get(name)
                self.assertEqual((r.status, r.body), (200, f"site {name}\n".encode()))
        conns = [self.start_cgi(name, "sleep.cgi") for name in "ab"]
        try:
            forms = {}
            for name, be in self.scalars.items():
                le = be[::-1]
                self.assertEqual(limbs_le(be), le)  # the limb order is the whole reversal
                forms[name] = (be, le)
            needles = [n for pair in forms.values() for n in pair]
            seen = {}
            for pid, uid, comm, ppid in self.processes():
                try:
                    seen[(pid, uid, comm, ppid)] = writable_memory_has(pid, needles)
                except (FileNotFoundError, ProcessLookupError):
                    pass
        finally:
            for c in conns:
                c.close()
        sup = self.srv.pid
        dispatch_uid = pwd.getpwnam(DISPATCH_USER).pw_uid
        kinds = {"dispatcher": 0, "pool a": 0, "pool b": 0, "cgi": 0}
        for (pid, uid, comm, ppid), found in seen.items():
            has = {name for name, pair in forms.items() if found & set(pair)}
            if pid == sup:
                continue  # allowed to hold them (it holds none parsed: not asserted)
            if uid == dispatch_uid:
                kinds["dispatcher"] += 1
                self.assertEqual(has, set(), f"dispatcher {pid} holds a site's key")
            elif comm == "mpmd" and ppid == sup and uid in (self.uids["a"], self.uids["b"]):
                mine = "a" if uid == self.uids["a"] else "b"
                kinds[f"pool {mine}"] += 1
                # The positive control: without it the search proves nothing.
                self.assertEqual(has, {mine}, f"pool {mine} process {pid} should hold its own key only")
            else:
                if comm != "mpmd":
                    kinds["cgi"] += 1
                self.assertEqual(has, set(), f"{comm} {pid} (uid {uid}) holds a site's key")
        self.assertEqual(kinds["pool a"], 2, kinds)
        self.assertEqual(kinds["pool b"], 2, kinds)
        self.assertGreaterEqual(kinds["dispatcher"], 1, kinds)
        self.assertGreaterEqual(kinds["cgi"], 4, kinds)  # two launchers and two programs at least

    def test_audit_passes_and_flags_a_held_key(self):
        p = subprocess.run([MPMCTL, "-s", self.srv.control, "audit"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        conn = self.start_cgi("a", "hold.cgi")
        try:
            p = subprocess.run([MPMCTL, "-s", self.srv.control, "audit"], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertRegex(p.stdout, r"fd 3 is a private key file \(.*/a/held\.key\)")
        finally:
            conn.close()

    def resume(self, port, sni, sess, out_sess=None):
        request = f"GET / HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n".encode()
        args = ["-tls1_3", "-ign_eof"] + (["-sess_out", out_sess] if out_sess else ["-sess_in", sess])
        rc, out = s_client(port, *args, sni=sni, stdin=request)
        self.assertIn("HTTP/1.1 200", out, out[-2000:])
        return re.search(r"^(New|Reused), TLSv1\.3", out, re.M).group(1)

    def test_a_ticket_of_a_is_refused_by_b_and_survives_a_reload(self):
        d = tempfile.mkdtemp(prefix="mpmd-sess-")
        try:
            sess = os.path.join(d, "a.pem")
            self.assertEqual(self.resume(self.ports["a"], "a.test", None, out_sess=sess), "New")
            self.assertEqual(self.resume(self.ports["a"], "a.test", sess), "Reused")  # the control
            # b's pool has no ring of a's: a full handshake, whatever name is offered.
            self.assertEqual(self.resume(self.ports["b"], "b.test", sess), "New")
            self.assertEqual(self.resume(self.ports["b"], "a.test", sess), "New")
            p = subprocess.run([MPMCTL, "-s", self.srv.control, "reload"], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertEqual(self.resume(self.ports["a"], "a.test", sess), "Reused")
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
