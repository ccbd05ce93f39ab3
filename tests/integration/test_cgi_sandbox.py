# SPDX-License-Identifier: MIT
"""The CGI launcher's seccomp filter seen from a real CGI program: the ways into namespaces of its own
(where a program would hold every capability), the new mount API, io_uring, the descriptors of other
processes and the socket families no web program needs are each refused with an errno, and the program
lives on to say so; what CGI programs do (fork, threads, spawning, AF_UNIX/AF_INET/AF_INET6 sockets)
keeps working. Runs in whichever MPM this build tests: every MPM's CGI launcher has the same profile."""
import os
import shutil
import tempfile
import unittest

from mpmdtest import Server

# One line per attempt, "NAME denied ERRNO" or "NAME ALLOWED DETAIL". Raw calls through ctypes, as a
# program in any language can make them.
ESCAPE_SCRIPT = r"""#!/usr/bin/python3
import ctypes, errno, os, socket, struct, threading

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
out = []

SYS_clone, SYS_unshare, SYS_io_uring_setup, SYS_fsopen, SYS_fsconfig, SYS_fsmount = 56, 272, 425, 430, 431, 432
SYS_clone3, SYS_pidfd_getfd, SYS_memfd_secret, SYS_open_tree = 435, 438, 447, 428
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET, SIGCHLD = 0x00020000, 0x10000000, 0x40000000, 17
AF_VSOCK = 40

def sys(nr, *args):
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r

def attempt(name, fn):
    try:
        out.append(f"{name} ALLOWED {fn()!r}")
    except OSError as e:
        out.append(f"{name} denied {errno.errorcode.get(e.errno, e.errno)}")

def inside_namespaces():
    # The escalation of the report, run in the new namespaces: exit status bit 1 for a tmpfs mounted
    # with the new mount API, bit 2 for an AF_PACKET socket.
    got = 0
    try:
        fs = sys(SYS_fsopen, b"tmpfs", 0)
        sys(SYS_fsconfig, fs, 6, None, None, 0)  # FSCONFIG_CMD_CREATE
        sys(SYS_fsmount, fs, 0, 0)
        got |= 1
    except OSError:
        pass
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()
        got |= 2
    except OSError:
        pass
    return got

def child_made(pid):
    if pid == 0:
        os._exit(inside_namespaces())
    _, status = os.waitpid(pid, 0)
    got = os.waitstatus_to_exitcode(status)
    return "in new namespaces:" + ("".join([" mounted a tmpfs" if got & 1 else "", " AF_PACKET" if got & 2 else ""])
                                   or " nothing")

def clone_newuser():
    return child_made(sys(SYS_clone, CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0))

def clone3_newuser():
    args = struct.pack("=QQQQQQQQ", CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS, 0, 0, 0, SIGCHLD, 0, 0, 0)
    buf = ctypes.create_string_buffer(args, len(args))
    return child_made(sys(SYS_clone3, buf, len(args)))

def closed(fd):
    os.close(fd)
    return "a descriptor"

def io_uring_setup():
    params = ctypes.create_string_buffer(120)
    return closed(sys(SYS_io_uring_setup, 1, params))

def sock(family, kind):
    socket.socket(family, kind).close()
    return "a socket"

def fork_works():
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

def thread_works():
    ran = []
    t = threading.Thread(target=lambda: ran.append(1))
    t.start()
    t.join()
    return len(ran)

def spawn_works():
    return os.waitstatus_to_exitcode(os.waitpid(os.posix_spawn("/bin/true", ["true"], {}), 0)[1])

attempt("clone-newuser", clone_newuser)
attempt("clone3-newuser", clone3_newuser)
attempt("unshare-newuser", lambda: sys(SYS_unshare, CLONE_NEWUSER))
attempt("fsopen", lambda: closed(sys(SYS_fsopen, b"tmpfs", 0)))
attempt("open_tree", lambda: closed(sys(SYS_open_tree, -100, b"/", 0)))
attempt("io_uring_setup", io_uring_setup)
attempt("pidfd_getfd", lambda: closed(sys(SYS_pidfd_getfd, -1, 0, 0)))
attempt("memfd_secret", lambda: closed(sys(SYS_memfd_secret, 0)))
attempt("socket-packet", lambda: sock(socket.AF_PACKET, socket.SOCK_RAW))
attempt("socket-netlink", lambda: sock(socket.AF_NETLINK, socket.SOCK_RAW))
attempt("socket-vsock", lambda: sock(AF_VSOCK, socket.SOCK_STREAM))
attempt("socket-inet", lambda: sock(socket.AF_INET, socket.SOCK_STREAM))
attempt("socket-unix", lambda: sock(socket.AF_UNIX, socket.SOCK_STREAM))
attempt("fork", fork_works)
attempt("thread", thread_works)
attempt("posix_spawn", spawn_works)
with open("/proc/self/status") as f:
    st = dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)
out.append(f"Seccomp {st['Seccomp']}")
print("Content-Type: text/plain\n")
print("\n".join(out))
"""

REFUSED = {
    "clone-newuser": "EPERM",
    "clone3-newuser": "ENOSYS",  # the C library then falls back to clone, whose flags the filter reads
    "unshare-newuser": "EPERM",
    "fsopen": "EPERM",
    "open_tree": "EPERM",
    "io_uring_setup": "EPERM",
    "pidfd_getfd": "EPERM",
    "memfd_secret": "EPERM",
    "socket-packet": "EPERM",
    "socket-netlink": "EPERM",
    "socket-vsock": "EPERM",
}
ALLOWED = {
    "socket-inet": "'a socket'",
    "socket-unix": "'a socket'",
    "fork": "7",
    "thread": "1",
    "posix_spawn": "0",
}


class CgiSandboxTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cgi_dir = tempfile.mkdtemp(prefix="mpmd-cgi-sandbox-")
        os.chmod(cls.cgi_dir, 0o755)
        path = os.path.join(cls.cgi_dir, "escape.py")
        with open(path, "w") as f:
            f.write(ESCAPE_SCRIPT)
        os.chmod(path, 0o755)
        cls.server = Server(server_keys=f"ScriptAlias = /cgi-bin/ {cls.cgi_dir}\nCGITimeout = 20\n")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.cgi_dir, ignore_errors=True)

    def attempts(self):
        r = self.server.get("/cgi-bin/escape.py")
        self.assertEqual(r.status, 200, r.body)
        lines = r.body.decode().splitlines()
        self.assertIn("Seccomp 2", lines, r.body)
        result = {}
        for line in lines:
            name, _, rest = line.partition(" ")
            result[name] = rest
        return result, r.body.decode()

    def test_ways_out_of_the_sandbox_are_refused(self):
        result, body = self.attempts()
        for name, err in REFUSED.items():
            with self.subTest(name):
                self.assertEqual(result.get(name), f"denied {err}", body)

    def test_what_cgi_programs_do_still_works(self):
        result, body = self.attempts()
        for name, value in ALLOWED.items():
            with self.subTest(name):
                self.assertEqual(result.get(name), f"ALLOWED {value}", body)


if __name__ == "__main__":
    unittest.main()
