# SPDX-License-Identifier: MIT
"""The command line: -t, -S, -l, -V, -h and argument errors, their long forms; mpmctl's options,
exit codes and --json."""
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

from mpmdtest import BINARY, MODULE_DIR, MPM, Server, load_module_line

MPMCTL = os.environ.get("MPMCTL_BINARY", "build/src/supervisor/mpmctl")


def run(*args):
    p = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


class CliTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mpmd-cli-")
        self.conf = os.path.join(self.dir, "mpmd.conf")

    def write(self, text, name="mpmd.conf"):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
            if name == "mpmd.conf" and load_module_line():
                # at the end, so the line numbers the tests expect stay the same
                f.write("\n[Server]\n" + load_module_line())
            if name == "mpmd.conf" and os.geteuid() == 0:
                # mpmd -t as root, as its start, needs a User (CliStartupCheckTest)
                f.write("\n[Server]\nUser = nobody\n")
        return path

    def test_good_config(self):
        self.write(f"[Server]\nListen = 127.0.0.1:1\nDocumentRoot = {self.dir}\n")
        rc, out, err = run("-t", "-f", self.conf)
        self.assertEqual(rc, 0, err)
        self.assertIn("Syntax OK", err)
        rc, out, err = run("-t", "-q", "-f", self.conf)
        self.assertEqual((rc, err), (0, ""))

    def test_the_shipped_examples_pass_as_they_are(self):
        # conf.d/*.example as an administrator copies them: only the site folders are made (the
        # TLS one needs certificates, which test_tls covers).
        src = os.path.join(os.environ.get("MPMD_SOURCE_ROOT", "."), "conf.d")
        for name in ("vhost.conf.example", "php-fpm.conf.example", "proxy.conf.example"):
            with open(os.path.join(src, name)) as f:
                text = f.read()
            for root in sorted(set(re.findall(r"^DocumentRoot = (\S+)$", text, re.M))):
                made = os.path.join(self.dir, root.strip("/").replace("/", "_"))
                os.makedirs(made, exist_ok=True)
                text = text.replace(root, made)
            self.write(f"[Server]\nListen = 127.0.0.1:1\nDocumentRoot = {self.dir}\n"
                       f"Include = conf.d/{name}\n")
            self.write(text, name=f"conf.d/{name}")
            rc, out, err = run("-t", "-f", self.conf)
            self.assertEqual(rc, 0, f"{name}: {err}")
            self.assertIn("Syntax OK", err, name)

    def test_bad_config_names_file_and_line(self):
        self.write(f"[Server]\nListen = 127.0.0.1:1\nDocumentRoot = {self.dir}\nKeepAliveTimeout = soon\n"
                   "NoSuchKey = 1\n")
        mpm = os.environ.get("MPMD_BUILD_MPM", "event")
        self.write(f"[{mpm}]\nServerLimit = 0\n", "conf.d/50-x.conf")
        rc, out, err = run("-t", "-f", self.conf)
        self.assertNotEqual(rc, 0)
        self.assertNotIn("Syntax OK", err)
        self.assertIn(f"{self.conf}:4:", err)
        self.assertIn("KeepAliveTimeout", err)
        self.assertIn(f"{self.conf}:5:", err)
        self.assertIn("NoSuchKey", err)
        self.assertIn(os.path.join(self.dir, "conf.d/50-x.conf") + ":2:", err)
        self.assertIn("ServerLimit", err)

    def test_messages_say_the_fix(self):
        long_line = "ServerAlias = " + " ".join(["a%03d.example" % i for i in range(20)])
        self.write(f"[Server]\nListen = 127.0.0.1:1\nDocumentRoot = {self.dir}\nKeepAliveTimout = 5\n"
                   f"[VirtualHost a]\nPidFile = /run/x.pid\n{long_line}\n")
        rc, out, err = run("-t", "-f", self.conf)
        self.assertNotEqual(rc, 0)
        self.assertIn(f'{self.conf}:4: unknown key "KeepAliveTimout" in [Server] (did you mean KeepAliveTimeout?)',
                      err)
        self.assertIn(f"{self.conf}:6: PidFile is not allowed in [VirtualHost a] (it belongs in [Server])", err)
        self.assertIn(f"{self.conf}:7: line too long ({len(long_line)} bytes, max 199 bytes): split the value over "
                      "indented continuation lines", err)

    def test_continuation_lines_and_conflicting_names(self):
        aliases = "\n".join("    a%03d.example b%03d.example" % (i, i) for i in range(20))  # 540 bytes in all
        self.write(f"[Server]\nListen = 127.0.0.1:1\nDocumentRoot = {self.dir}\n"
                   f"[VirtualHost a]\nServerName = a.example\nServerAlias = www.a.example\n{aliases}\n"
                   "[VirtualHost b]\nServerName = WWW.A.example\n")
        rc, out, err = run("-t", "-f", self.conf)
        self.assertEqual(rc, 0, err)
        self.assertIn("Syntax OK", err)
        self.assertIn(f'mpmd: warning: {self.conf}:28: [VirtualHost b] ServerName: conflicting server name '
                      f'"WWW.A.example" on the same address as [VirtualHost a] ({self.conf}:6): requests for it go '
                      "to [VirtualHost a]", err)
        rc, out, err = run("-S", "-f", self.conf)
        self.assertEqual(rc, 0, err)
        self.assertIn("b019.example", out)

    def test_missing_document_root(self):
        self.write(f"[Server]\nListen = 127.0.0.1:1\nDocumentRoot = /nonexistent/mpmd\n")
        rc, out, err = run("-t", "-f", self.conf)
        self.assertNotEqual(rc, 0)
        self.assertIn(f"{self.conf}:3:", err)
        self.assertIn("/nonexistent/mpmd", err)

    def test_missing_file(self):
        rc, out, err = run("-t", "-f", os.path.join(self.dir, "absent.conf"))
        self.assertNotEqual(rc, 0)
        self.assertIn("absent.conf", err)

    def test_list_modules(self):
        rc, out, err = run("-l")
        self.assertEqual(rc, 0)
        self.assertTrue(out.startswith("Compiled in modules:\n"))
        if MODULE_DIR:
            self.assertIn("  mod_so.c\n", out)
        else:
            self.assertIn(f"  {os.environ.get('MPMD_BUILD_MPM', 'event')}.c\n", out)

    def test_version(self):
        rc, out, err = run("-V")
        self.assertEqual(rc, 0)
        self.assertIn("Server version: mpmd/", out)
        self.assertIn("Server MPM:", out)
        self.assertIn("forked:", out)

    def test_dump(self):
        self.write(f"[Server]\nListen = 127.0.0.1:1\nDocumentRoot = {self.dir}\n"
                   f"[VirtualHost a.example]\nServerName = a.example\nDocumentRoot = {self.dir}\n")
        rc, out, err = run("-S", "-f", self.conf)
        self.assertEqual(rc, 0, err)
        self.assertIn("127.0.0.1:1", out)
        self.assertIn("a.example", out)

    def test_usage_errors_exit_2(self):
        for args in (["-x"], ["-f"], ["extra"]):
            rc, out, err = run(*args)
            self.assertEqual(rc, 2, args)
            self.assertIn("Usage: mpmd", err)

    def test_help(self):
        for arg in ("-h", "--help"):
            rc, out, err = run(arg)
            self.assertEqual((rc, err), (0, ""), arg)
            self.assertIn("Usage: mpmd", out)
            self.assertIn("--config FILE", out)

    def test_long_options_are_the_short_ones(self):
        self.write(f"[Server]\nListen = 127.0.0.1:1\nDocumentRoot = {self.dir}\n"
                   f"[VirtualHost a.example]\nServerName = a.example\nDocumentRoot = {self.dir}\n")
        for short, long in ((["-t", "-f", self.conf], ["--test", "--config", self.conf]),
                            (["-t", "-q", "-f", self.conf], ["--test", "--quiet", f"--config={self.conf}"]),
                            (["-S", "-f", self.conf], ["--dump-vhosts", "--config", self.conf]),
                            (["-l"], ["--list-modules"])):
            self.assertEqual(run(*short), run(*long), long)
        rc, out, err = run("--version")
        self.assertEqual(rc, 0)
        self.assertIn("Server version: mpmd/", out)

    def test_bad_long_options_exit_2_naming_the_option(self):
        for args, named in ((["--no-such-option"], "--no-such-option"), (["--config"], "--config"),
                            (["--help=yes"], "--help=yes"), (["-t", "-x"], "-x")):
            rc, out, err = run(*args)
            self.assertEqual((rc, out), (2, ""), args)
            self.assertIn("Usage: mpmd", err)
            self.assertIn(f"mpmd: {'unknown option' if args != ['--config'] else 'option'} {named}", err.splitlines()[0])


def mpmctl(*args, as_nobody=False):
    cmd = [MPMCTL, *args]
    if as_nobody:
        cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *cmd]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


class MpmctlOptionsTest(unittest.TestCase):
    def test_help_and_version(self):
        for arg in ("-h", "--help"):
            rc, out, err = mpmctl(arg)
            self.assertEqual((rc, err), (0, ""), arg)
            self.assertIn("Usage: mpmctl", out)
            self.assertIn("--socket SOCKET", out)
        for arg in ("-V", "--version"):
            rc, out, err = mpmctl(arg)
            self.assertEqual(rc, 0)
            self.assertRegex(out, r"^mpmctl \(mpmd\) \S+\n$")

    def test_usage_errors_exit_2_naming_what_is_wrong(self):
        for args, line in ((["--no-such-option", "status"], "mpmctl: unknown option --no-such-option"),
                           (["-x", "status"], "mpmctl: unknown option -x"),
                           (["--socket"], "mpmctl: option --socket needs an argument"),
                           ([], "mpmctl: no command given"),
                           (["frobnicate"], 'mpmctl: unknown command "frobnicate"'),
                           (["reload", "--json"], 'mpmctl: reload: unexpected argument "--json"'),
                           (["audit", "--bogus"], 'mpmctl: audit: unexpected argument "--bogus"')):
            rc, out, err = mpmctl(*args)
            self.assertEqual((rc, out), (2, ""), args)
            self.assertEqual(err.splitlines()[0], line, args)
            self.assertIn("Usage: mpmctl", err)

    def test_not_running_exits_3(self):
        d = tempfile.mkdtemp(prefix="mpmd-cli-")
        for args in (["-s", os.path.join(d, "control"), "status"], [f"--socket={d}/control", "audit"]):
            rc, out, err = mpmctl(*args)
            self.assertEqual(rc, 3, err)
            self.assertEqual(err, f"mpmctl: cannot reach mpmd at {d}/control: mpmd is not running (no socket there)\n")
        # A socket left behind by a mpmd that is gone: nothing listens on it.
        stale = os.path.join(d, "stale")
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.bind(stale)
        rc, out, err = mpmctl("-s", stale, "reload")
        self.assertEqual(rc, 3, err)
        self.assertIn("mpmd is not running (the socket refuses connections", err)


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"), "needs root and setpriv: runs mpmctl as nobody")
class MpmctlServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        d = tempfile.mkdtemp(prefix="mpmd-ctl-")
        os.chmod(d, 0o755)  # nobody reaches the socket itself, which is root's alone
        cls.control = os.path.join(d, "control")
        cls.srv = Server(server_keys=f"ControlSocket = {cls.control}\n")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_permission_denied_exits_5(self):
        rc, out, err = mpmctl("-s", self.control, "status", as_nobody=True)
        self.assertEqual(rc, 5, err)
        # The socket is root's (mode 0600) and the supervisor answers only root and its own user.
        self.assertEqual(err, f"mpmctl: permission denied on {self.control}: run as root (mpmd runs as root and "
                              "answers only root)\n")

    def test_refused_exits_1(self):
        # A reload of a configuration that does not parse: mpmd answers with an error, keeps serving.
        with open(self.srv.conf) as f:
            good = f.read()
        try:
            with open(self.srv.conf, "a") as f:
                f.write("\nNoSuchKey = 1\n")
            rc, out, err = mpmctl("-s", self.control, "reload")
        finally:
            with open(self.srv.conf, "w") as f:
                f.write(good)
        self.assertEqual(rc, 1, err)
        self.assertIn("reload refused", err)
        self.assertIn("NoSuchKey", err)
        self.assertEqual(mpmctl("-s", self.control, "status")[0], 0)

    def test_status_json_says_what_the_text_says(self):
        rc, text, err = mpmctl("-s", self.control, "status")
        self.assertEqual(rc, 0, err)
        rc, out, err = mpmctl("--socket", self.control, "status", "--json")
        self.assertEqual(rc, 0, err)
        j = json.loads(out)
        lines = dict(line.split(": ", 1) for line in text.splitlines())
        self.assertEqual(j["pid"], self.srv.pid)
        self.assertEqual(j["pid"], int(lines["pid"]))
        self.assertEqual(j["generation"], int(lines["generation"]))
        self.assertEqual(j["mpm"], lines["mpm"])
        self.assertIsInstance(j["uptime_seconds"], int)
        total, starting, stopping = map(int, re.fullmatch(r"(\d+) \(starting (\d+), stopping (\d+)\)",
                                                          lines["processes"]).groups())
        self.assertEqual(j["processes"], {"total": total, "starting": starting, "stopping": stopping})
        busy, idle, keepalive = map(int, re.fullmatch(r"busy (\d+), idle (\d+), keepalive (\d+)",
                                                      lines["workers"]).groups())
        self.assertEqual(j["workers"], {"busy": busy, "idle": idle, "keepalive": keepalive})
        self.assertEqual(j["invalid_scoreboard_segments"], int(lines["invalid scoreboard segments"]))
        self.assertEqual(j["old_generations_processes"], int(lines["old generations' processes"]))
        self.assertEqual(j["state"], lines["state"])
        self.assertEqual(j["scoreboard"], lines["scoreboard"])
        self.assertIsNone(j["last_reload"]) if lines["last reload"] == "none" else \
            self.assertEqual(j["last_reload"], lines["last reload"])
        self.assertEqual(j["failed"], [])
        self.assertIsInstance(j["requests"], int)
        self.assertIsInstance(j["bytes"], int)

    def test_audit_table_and_json_agree(self):
        rc, table, err = mpmctl("-s", self.control, "audit")
        self.assertEqual(rc, 0, table + err)
        rc, out, err = mpmctl("-s", self.control, "audit", "--json")
        self.assertEqual(rc, 0, out + err)
        j = json.loads(out)
        self.assertEqual(j["failed"], 0)
        rows = table.splitlines()
        self.assertRegex(rows[0], r"^ROLE +PID +USER +CAPS +NNP +SECCOMP +CONNECT +VERDICT$")
        body = rows[1:rows.index("")]
        self.assertEqual(len(body), len(j["processes"]), table)
        self.assertEqual(j["audited"], len(j["processes"]))
        self.assertRegex(table, rf"\n\n{j['audited']} process\(es\) of MPM {j['mpm']} \(0 CGI program\(s\) among "
                                r"them\): 0 failed\n$")
        for row, p in zip(body, j["processes"]):
            role, pid, user, caps, nnp, seccomp, connect, verdict = re.fullmatch(
                r"(.+?) +(\d+) +(\S+) +(\S+) +(yes|no) +(off|strict|filter) +(\S+) +(PASS|FAIL|GONE)", row).groups()
            self.assertEqual((role, int(pid), verdict), (p["role"], p["pid"], p["verdict"]), row)
            self.assertEqual(caps, ",".join(p["holds"]) or "-")
            self.assertEqual(nnp == "yes", p["no_new_privs"])
            self.assertEqual(["off", "strict", "filter"].index(seccomp), p["seccomp"])
            self.assertEqual(connect, "any" if p["connect"] is None else ",".join(p["connect"]) or "-")
            self.assertEqual(p["uid"][1], pwd.getpwnam(user).pw_uid)
        sup = j["processes"][0]
        self.assertEqual((sup["role"], sup["pid"], sup["uid"]), ("supervisor", self.srv.pid, [0] * 4))
        self.assertIsNone(sup["connect"])  # no filter
        # Without an upstream in the configuration no worker may connect anywhere.
        self.assertEqual([p["connect"] for p in j["processes"] if p["role"] == "worker"],
                         [[]] * len([p for p in j["processes"] if p["role"] == "worker"]))
        self.assertIsInstance(sup["cap_effective"], int)

    @unittest.skipIf(MPM == "perchild", "perchild's processes are pools and dispatchers: test_perchild pins them")
    def test_audit_fail_exits_1_with_its_reasons_below_the_table(self):
        # Pin the workers to a uid they do not run as: every worker fails, and says why.
        rc, table, err = mpmctl("-s", self.control, "audit", "--expect-uid", "worker=4242")
        self.assertEqual(rc, 1, table + err)
        workers = re.findall(r"(?m)^worker +(\d+) .* FAIL$", table)
        self.assertTrue(workers, table)
        reasons = table[table.index("\nFailures:\n"):]
        for pid in workers:
            self.assertRegex(reasons, rf"(?m)^  worker \(pid {pid}\): .*expected 4242")
        rc, out, err = mpmctl("-s", self.control, "audit", "--json", "--expect-uid", "worker=4242")
        self.assertEqual(rc, 1)
        j = json.loads(out)
        self.assertEqual(j["failed"], len(workers))
        self.assertTrue(all(any("expected 4242" in r for r in p["reasons"])
                            for p in j["processes"] if p["role"] == "worker"), j)


class CliTemplateAndStartupTest(unittest.TestCase):
    """Include, Define and -D; and what mpmd -t checks beyond the syntax (a start's view)."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mpmd-cli-tpl-")
        self.conf = os.path.join(self.dir, "mpmd.conf")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, text, name="mpmd.conf", user=True):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
            if name == "mpmd.conf":
                # at the end, so that the line numbers the tests expect stay the same
                if load_module_line():
                    f.write("\n[Server]\n" + load_module_line())
                if user:
                    f.write("\n[Server]\nUser = nobody\n")
        return path

    def test_include_define_and_D(self):
        self.write(f"Define = ROOT {self.dir}\n[Server]\nListen = 127.0.0.1:${{PORT}}\nDocumentRoot = ${{ROOT}}\n"
                   "Include = sites/*.conf\nInclude = none/*.conf\n")
        self.write("[VirtualHost a]\nServerName = a.${HOST}\n", "sites/a.conf")
        rc, out, err = run("-D", "PORT=8081", "-D", "HOST=example", "-S", "-f", self.conf)
        self.assertEqual(rc, 0, err)
        self.assertIn("  127.0.0.1:8081\n", out)
        self.assertIn("namevhost a.example", out)
        self.assertIn(os.path.join(self.dir, "sites/a.conf") + ":1)", out)
        rc, out, err = run("-t", "-D", "PORT=8081", "-f", self.conf)
        self.assertEqual(rc, 1)
        self.assertIn(os.path.join(self.dir, "sites/a.conf") + ":2: ${HOST} is not defined", err)
        rc, out, err = run("-t", "-D", "PORT=8081", "-D", "HOST", "-D", "2x=y", "-f", self.conf)
        self.assertIn("-D 2x=y: a name is letters, digits", err)

    def test_include_circle_names_the_chain(self):
        self.write(f"[Server]\nListen = 127.0.0.1:1\nDocumentRoot = {self.dir}\nInclude = a.conf\n")
        self.write("Include = mpmd.conf\n", "a.conf")
        rc, out, err = run("-t", "-f", self.conf)
        self.assertEqual(rc, 1)
        a = os.path.join(self.dir, "a.conf")
        self.assertIn(f"{a}:1: Include: {self.conf} is already being read ({os.path.realpath(self.conf)} -> "
                      f"{os.path.realpath(a)} -> {os.path.realpath(self.conf)})", err)

    def test_t_checks_log_folders_and_listen(self):
        self.write(f"[Server]\nListen = 127.0.0.1:70000\nDocumentRoot = {self.dir}\n"
                   "CustomLog = /nonexistent/mpmd/access.log combined\n")
        rc, out, err = run("-t", "-f", self.conf)
        self.assertEqual(rc, 1, err)
        self.assertNotIn("Syntax OK", err)
        self.assertIn(f'{self.conf}:2: [Server] Listen: "127.0.0.1:70000" is not an address', err)
        self.assertIn(f"{self.conf}:4: [Server] CustomLog: /nonexistent/mpmd/access.log: the folder /nonexistent/mpmd: "
                      "No such file or directory", err)

    def test_a_start_on_a_socket_systemd_did_not_pass_exits_78(self):
        # Not found before the start itself (mpmd -t cannot know which sockets systemd will pass):
        # the start fails as a configuration error does, 78, which mpmd.service does not restart.
        self.write(f"[Server]\nListen = vhost:nosuch\nDocumentRoot = {self.dir}\n"
                   f"ControlSocket = {self.dir}/control\n")
        env = {k: v for k, v in os.environ.items() if k not in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")}
        p = subprocess.run([BINARY, "-f", self.conf], capture_output=True, text=True, timeout=30, env=env)
        self.assertEqual(p.returncode, 78, p.stderr)
        self.assertIn("Listen = vhost:nosuch: not an address, and systemd passed no socket of that name", p.stderr)

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_t_as_root_without_user_says_what_the_start_says(self):
        self.write(f"[Server]\nListen = 127.0.0.1:1\nDocumentRoot = {self.dir}\n", user=False)
        rc, out, err = run("-t", "-f", self.conf)
        self.assertEqual(rc, 1, err)
        self.assertIn(f"{self.conf}: running as root needs a User (and Group) for the workers: mpmd never serves a "
                      "request as root", err)
        self.assertNotIn("Syntax OK", err)

    def test_t_warns_about_a_vhost_user_the_mpm_ignores(self):
        self.write(f"[Server]\nListen = 127.0.0.1:1\nDocumentRoot = {self.dir}\n"
                   "[VirtualHost a]\nServerName = a.example\nUser = nobody\nGroup = nogroup\n")
        rc, out, err = run("-S", "-f", self.conf)
        mpm = [line.split()[1] for line in out.splitlines() if line.startswith("MPM: ")][0]
        if mpm == "perchild":
            self.skipTest("perchild honours a virtual host's User")
        rc, out, err = run("-t", "-f", self.conf)
        self.assertEqual(rc, 0, err)
        self.assertIn(f"mpmd: warning: {self.conf}:6: [VirtualHost a] User: ignored by MPM {mpm}: only perchild runs "
                      "a site as a user of its own", err)


if __name__ == "__main__":
    unittest.main()
