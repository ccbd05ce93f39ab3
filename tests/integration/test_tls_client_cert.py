# SPDX-License-Identifier: MIT
"""Client certificates (mod_ssl's SSLVerifyClient, SSLCACertificateFile, SSLVerifyDepth), per site,
in the MPM this build runs: one `Listen = https://…` with the main server (localhost, no client
certificates), admin.test (require), opt.test (optional), any.test (optional_no_ca, no CA file) and
deep.test (require, SSLVerifyDepth 2), each chosen by SNI. Client certificates come from two test
CAs (python's ssl and openssl s_client present them); a program sees mod_ssl's SSL_CLIENT_*
variables; a refused handshake (no certificate, another CA's, a chain too long) fails with an alert
and a line at info in the refusing site's error log; a client without SNI cannot reach a site that
asks for certificates by its Host (421); a session made where no certificate was asked for never
resumes where one is required (across sites, and across a reload that turns verification on);
%{SSL_CLIENT_VERIFY}x and %{SSL_CLIENT_S_DN}x in the access log; `mpmd -t` and reload errors at
their file:line. Under perchild (a perchild build, as root) the CA file is root's only and the
site's pool, sandboxed as its user, verifies all the same: it gets the bytes with its material.
"""
import os
import pwd
import re
import shutil
import ssl
import tempfile
import unittest

import mpmdtest
from mpmdtest import (BINARY, MPM, OPENSSL, build_has_tls, cert_bundle, make_ca, make_cert, make_client_cert,
                      read_response, s_client, tls_context, tls_get, wait_for)
from test_tls import TlsServer, cgi_env, error_line, line_of, pair, run_t, write_scripts

NO_TLS = "" if build_has_tls() else "this mpmd was built without TLS (-Dtls=disabled, or no libssl-dev)"
SERIAL = 0x1A2B3C
SITES = {"admin": "require", "opt": "optional", "any": "optional_no_ca", "deep": "require"}


class Certs:
    """Server certificates (self-signed, as test_tls's), two client CAs and their clients: alice
    (CA one), mallory (CA two), carol (an intermediate of CA one)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mpmd-mtls-certs-")
        os.chmod(self.dir, 0o755)
        self.servers = {"main": make_cert(self.dir, ["localhost"], "ec")}
        for name in SITES:
            self.servers[name] = make_cert(self.dir, [f"{name}.test"], "ec")
        self.bundle = cert_bundle(self.dir, [c[0] for c in self.servers.values()])
        self.ca = make_ca(self.dir, "Client CA One")
        self.other_ca = make_ca(self.dir, "Client CA Two")
        self.intermediate = make_ca(self.dir, "Client Intermediate", signer=self.ca)
        self.alice = make_client_cert(self.dir, self.ca, "alice", serial=SERIAL)
        self.mallory = make_client_cert(self.dir, self.other_ca, "mallory")
        self.carol = make_client_cert(self.dir, self.intermediate, "carol", chain=True)
        # The bundle mpmd trusts: root's only, as a CA file in /etc/ssl may be.
        self.ca_file = os.path.join(self.dir, "client-cas.pem")
        shutil.copy(self.ca[0], self.ca_file)
        os.chmod(self.ca_file, 0o600)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def client_context(cert=None, maximum=None, cafile=None):
    ctx = tls_context(cafile, maximum=maximum)
    if cert:
        ctx.load_cert_chain(cert[0], cert[1])
    return ctx


ENV_CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
env
"""


def vhost_sections(certs, roots, ca_file):
    out = ""
    for name, level in SITES.items():
        out += (f"\n[VirtualHost {name}]\nServerName = {name}.test\nDocumentRoot = {roots[name]}\n"
                + pair(certs.servers[name]) + f"SSLVerifyClient = {level}\n")
        if name != "any":
            out += f"SSLCACertificateFile = {ca_file}\n"
        if name == "deep":
            out += "SSLVerifyDepth = 2\n"
    return out


class ClientCertServing:
    """The tests, over one server for the class; the subclasses say how it runs."""

    @classmethod
    def make_server(cls):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        if NO_TLS:
            raise unittest.SkipTest(NO_TLS)
        if not OPENSSL:
            raise unittest.SkipTest("the openssl command is not installed")
        cls.certs = Certs()
        try:
            cls.srv = cls.make_server()
        except BaseException:
            cls.certs.remove()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.certs.remove()

    def get(self, sni, cert=None, path="/cgi-bin/env.sh", host=None, maximum=None):
        return tls_get(self.srv.tls_port, path, sni=sni, host=host,
                       context=client_context(cert, maximum, self.certs.bundle))

    def refused(self, sni, cert=None, maximum=None):
        """The handshake fails: an alert during it (TLS 1.2), or at the first read (TLS 1.3, where the
        client's certificate is judged after the client thinks it is done). No response either way."""
        with self.assertRaises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
            r = self.get(sni, cert, maximum=maximum)
            self.fail(f"{sni} answered {r.status} without a client certificate it accepts")

    # -- require -------------------------------------------------------------------------------------
    def test_require_with_a_good_certificate_shows_it_to_the_program(self):
        for maximum in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            r = self.get("admin.test", self.certs.alice, maximum=maximum)
            self.assertEqual(r.status, 200, maximum)
            env = cgi_env(r.body)
            self.assertEqual(env.get("SSL_CLIENT_VERIFY"), "SUCCESS", maximum)
            self.assertEqual(env.get("SSL_CLIENT_S_DN"), "CN=alice,O=mpmd tests")
            self.assertEqual(env.get("SSL_CLIENT_I_DN"), "CN=Client CA One,O=mpmd tests")
            self.assertEqual(env.get("SSL_CLIENT_M_SERIAL"), f"{SERIAL:X}")
            self.assertRegex(env.get("SSL_CLIENT_V_END", ""), r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4} GMT$")
            self.assertEqual(env.get("HTTPS"), "on")

    def test_require_without_a_certificate_fails_the_handshake_and_says_why(self):
        for maximum in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            self.refused("admin.test", maximum=maximum)
        self.srv.wait_log(r"\[vhost admin\] \[client 127\.0\.0\.1:\d+\] TLS handshake refused: the client sent no "
                          r"certificate")

    def test_require_with_another_cas_certificate_fails(self):
        for maximum in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            self.refused("admin.test", self.certs.mallory, maximum=maximum)
        self.srv.wait_log(r"\[vhost admin\] .*TLS handshake refused: the client's certificate does not verify: "
                          r"unable to get local issuer certificate")

    def test_verify_depth_counts_the_issuers_as_apache(self):
        # carol's issuer is an intermediate of CA one: two issuers up to the CA file's, over
        # admin.test's SSLVerifyDepth 1, within deep.test's 2.
        self.refused("admin.test", self.certs.carol)
        self.srv.wait_log(r"\[vhost admin\] .*does not verify: certificate chain too long")
        r = self.get("deep.test", self.certs.carol)
        self.assertEqual(r.status, 200)
        env = cgi_env(r.body)
        self.assertEqual(env.get("SSL_CLIENT_VERIFY"), "SUCCESS")
        self.assertEqual(env.get("SSL_CLIENT_I_DN"), "CN=Client Intermediate,O=mpmd tests")
        self.assertEqual(self.get("deep.test", self.certs.alice).status, 200)

    # -- optional, optional_no_ca --------------------------------------------------------------------
    def test_optional_without_a_certificate_is_none(self):
        r = self.get("opt.test")
        self.assertEqual(r.status, 200)
        env = cgi_env(r.body)
        self.assertEqual(env.get("SSL_CLIENT_VERIFY"), "NONE")
        self.assertNotIn("SSL_CLIENT_S_DN", env)
        r = self.get("opt.test", self.certs.alice)
        self.assertEqual(cgi_env(r.body).get("SSL_CLIENT_VERIFY"), "SUCCESS")
        # As mod_ssl: optional lets a client without a certificate in, not one whose certificate fails.
        self.refused("opt.test", self.certs.mallory)

    def test_optional_no_ca_lets_an_unknown_issuer_through_and_says_so(self):
        r = self.get("any.test", self.certs.mallory)
        self.assertEqual(r.status, 200)
        env = cgi_env(r.body)
        self.assertTrue(env.get("SSL_CLIENT_VERIFY", "").startswith("FAILED:"), env.get("SSL_CLIENT_VERIFY"))
        self.assertEqual(env.get("SSL_CLIENT_S_DN"), "CN=mallory,O=mpmd tests")
        self.assertEqual(cgi_env(self.get("any.test").body).get("SSL_CLIENT_VERIFY"), "NONE")

    # -- per site --------------------------------------------------------------------------------------
    def test_sni_picks_the_site_that_asks(self):
        """One listener: the main server asks for nothing, admin.test for a certificate."""
        r = self.get("localhost")
        self.assertEqual(r.status, 200)
        self.assertEqual(cgi_env(r.body).get("SSL_CLIENT_VERIFY"), "NONE")
        # A client with a certificate is not asked for it where no site wants one.
        r = self.get("localhost", self.certs.alice)
        self.assertEqual(cgi_env(r.body).get("SSL_CLIENT_VERIFY"), "NONE")
        self.refused("admin.test")
        rc, out = s_client(self.srv.tls_port, sni="admin.test", stdin=b"")
        self.assertRegex(out, r"Acceptable client certificate CA names\s+O ?= ?mpmd tests, CN ?= ?Client CA One",
                         out[-3000:])

    def test_host_of_a_verifying_site_over_another_sites_handshake_is_421(self):
        """Without SNI the handshake is the default site's, which asked for no certificate (perchild's
        dispatcher, which routes by SNI, refuses a client without one before)."""
        try:
            r = self.get(None, self.certs.alice, host="admin.test")
            self.assertEqual(r.status, 421)
        except ssl.SSLError as e:
            if MPM != "perchild" or "UNRECOGNIZED_NAME" not in str(e):
                raise
        r = self.get("localhost", self.certs.alice, host="admin.test")
        self.assertEqual(r.status, 421)
        r = self.get("admin.test", self.certs.alice, host="localhost")
        self.assertEqual(r.status, 421)

    # -- resumption ------------------------------------------------------------------------------------
    def session_of(self, ctx, sni):
        s = mpmdtest.tls_connect(self.srv.tls_port, sni=sni, context=ctx)
        with s:
            s.sendall(f"GET / HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n".encode())
            self.assertEqual(read_response(s).status, 200)
            return s.session  # TLS 1.3's ticket came after the handshake, read with the response

    def resumed(self, ctx, sni, session, cert_expected=True):
        """(session reused?, SSL_CLIENT_VERIFY) of a connection to sni offering session."""
        import socket
        raw = socket.create_connection(("127.0.0.1", self.srv.tls_port), timeout=10)
        with ctx.wrap_socket(raw, server_hostname=sni, session=session) as s:
            s.sendall(f"GET /cgi-bin/env.sh HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n".encode())
            r = read_response(s)
            self.assertEqual(r.status, 200)
            return s.session_reused, cgi_env(r.body).get("SSL_CLIENT_VERIFY")

    def test_a_session_of_the_open_site_never_resumes_where_a_certificate_is_required(self):
        for maximum in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = client_context(self.certs.alice, maximum, self.certs.bundle)
            # The control: sessions do resume, on the site that made them, the certificate kept.
            sess = self.session_of(ctx, "localhost")
            self.assertEqual(self.resumed(ctx, "localhost", sess), (True, "NONE"), maximum)
            sess = self.session_of(ctx, "admin.test")
            self.assertEqual(self.resumed(ctx, "admin.test", sess), (True, "SUCCESS"), maximum)
            # The open site's session on admin.test: a full handshake, which asks for the certificate.
            sess = self.session_of(ctx, "localhost")
            self.assertEqual(self.resumed(ctx, "admin.test", sess), (False, "SUCCESS"), maximum)
            # And a client without one is refused, session or not.
            bare = client_context(None, maximum, self.certs.bundle)
            sess = self.session_of(bare, "localhost")
            with self.assertRaises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
                self.resumed(bare, "admin.test", sess)

    # -- the access log --------------------------------------------------------------------------------
    def test_access_log_has_the_verification_and_the_subject(self):
        self.get("admin.test", self.certs.alice, path="/")
        self.get("opt.test", path="/")
        wait_for(lambda: re.search(r'^admin\.test SUCCESS "CN=alice,O=mpmd tests"$', self.access_log("admin"), re.M),
                 what="the admin.test line in the access log")
        wait_for(lambda: re.search(r'^opt\.test NONE "-"$', self.access_log("opt"), re.M),
                 what="the opt.test line in the access log")

    def access_log(self, site):
        try:
            with open(getattr(self.srv, "access_logs", {}).get(site, self.srv.access_log)) as f:
                return f.read()
        except OSError:
            return ""


def write_tree(srv):
    cgi = os.path.join(srv.dir, "cgi-bin")
    os.mkdir(cgi)
    os.chmod(cgi, 0o755)
    path = os.path.join(cgi, "env.sh")
    with open(path, "w") as f:
        f.write(ENV_CGI)
    os.chmod(path, 0o755)
    roots = {}
    for name in SITES:
        roots[name] = mpmdtest.add_site(srv, name, {"index.html": f"{name}\n"})
    return cgi, roots


ACCESS_FORMAT = '%{Host}i %{SSL_CLIENT_VERIFY}x "%{SSL_CLIENT_S_DN}x"'


@unittest.skipIf(MPM == "perchild", "the perchild build runs PerchildClientCerts")
class ClientCerts(ClientCertServing, unittest.TestCase):
    @classmethod
    def make_server(cls):
        srv = TlsServer(MPM, pair(cls.certs.servers["main"]), start=False)
        srv.access_log = os.path.join(srv.dir, "access.log")
        cgi, roots = write_tree(srv)
        with open(srv.conf) as f:
            conf = f.read()
        conf = conf.replace("LogLevel = debug\n", f"LogLevel = debug\nScriptAlias = /cgi-bin/ {cgi}/\n"
                            f"CustomLog = {srv.access_log} {ACCESS_FORMAT}\n", 1)
        conf += vhost_sections(cls.certs, roots, cls.certs.ca_file)
        with open(srv.conf, "w") as f:
            f.write(conf)
        try:
            srv.start()
        except BaseException:
            srv.stop()
            raise
        return srv


@unittest.skipUnless(MPM == "perchild", "a perchild build runs these")
class PerchildClientCerts(ClientCertServing, unittest.TestCase):
    """The same under perchild: each site a pool of its own user; the CA file (0600 root) reaches the
    pools in their sealed material."""

    @classmethod
    def make_server(cls):
        from test_perchild import SITE_USERS, create_users, perchild_available, unit_bounding_set
        if not perchild_available():
            raise unittest.SkipTest("no perchild MPM in this build")
        if os.geteuid() != 0:
            raise unittest.SkipTest("perchild's site users need root")
        cls.created = create_users()
        srv = TlsServer("perchild", pair(cls.certs.servers["main"]), start=False)
        srv.access_log = os.path.join(srv.dir, "access.log")
        cgi, roots = write_tree(srv)
        users = dict(zip(SITES, (SITE_USERS * 4)[:len(SITES)]))
        with open(srv.conf) as f:
            conf = f.read()
        conf = conf.replace("LogLevel = debug\n", f"LogLevel = debug\nScriptAlias = /cgi-bin/ {cgi}/\n"
                            f"CustomLog = {srv.access_log} {ACCESS_FORMAT}\n", 1)
        sections = vhost_sections(cls.certs, roots, cls.certs.ca_file)
        # A site of its own user logs where its own CustomLog says (mpmd-mpm(7)), as that user.
        srv.access_logs = {}
        for name, user in users.items():
            logs = os.path.join(srv.dir, f"logs-{name}")
            os.mkdir(logs)
            pw = pwd.getpwnam(user)
            os.chown(logs, pw.pw_uid, pw.pw_gid)
            srv.access_logs[name] = os.path.join(logs, "access.log")
            sections = sections.replace(f"[VirtualHost {name}]\n", f"[VirtualHost {name}]\nUser = {user}\nGroup = {user}\n"
                                        f"CustomLog = {srv.access_logs[name]} {ACCESS_FORMAT}\n")
        conf += sections
        with open(srv.conf, "w") as f:
            f.write(conf)
        srv.bounding_set = unit_bounding_set()
        try:
            srv.start()
        except BaseException:
            srv.stop()
            raise
        return srv

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        from mpmdtest import remove_users
        remove_users(getattr(cls, "created", []))


# -- reload and `mpmd -t` ------------------------------------------------------------------------------

@unittest.skipIf(NO_TLS, NO_TLS)
class ClientCertReload(unittest.TestCase):
    """A reload that turns verification on: sessions of before do not skip it; a reload with a bad CA
    file changes nothing."""

    def setUp(self):
        if not OPENSSL:
            self.skipTest("the openssl command is not installed")
        if MPM == "perchild":
            self.skipTest("PerchildClientCerts covers perchild; this server has no site users")
        self.certs = Certs()
        self.srv = TlsServer(MPM, pair(self.certs.servers["main"]), start=False)
        self.addCleanup(self.certs.remove)
        self.addCleanup(self.srv.stop)
        cgi, roots = write_tree(self.srv)
        with open(self.srv.conf) as f:
            conf = f.read()
        conf = conf.replace("LogLevel = debug\n", f"LogLevel = debug\nScriptAlias = /cgi-bin/ {cgi}/\n", 1)
        conf += (f"\n[VirtualHost admin]\nServerName = admin.test\nDocumentRoot = {roots['admin']}\n"
                 + pair(self.certs.servers["admin"]) + f"SSLCACertificateFile = {self.certs.ca_file}\n"
                 + "SSLVerifyClient = none\n")
        with open(self.srv.conf, "w") as f:
            f.write(conf)
        self.srv.start()

    def set_verify(self, value):
        with open(self.srv.conf) as f:
            conf = re.sub(r"^SSLVerifyClient = .*$", f"SSLVerifyClient = {value}", f.read(), flags=re.M)
        with open(self.srv.conf, "w") as f:
            f.write(conf)

    def verify_of(self, ctx, session=None):
        import socket
        raw = socket.create_connection(("127.0.0.1", self.srv.tls_port), timeout=10)
        with ctx.wrap_socket(raw, server_hostname="admin.test", session=session) as s:
            s.sendall(b"GET /cgi-bin/env.sh HTTP/1.1\r\nHost: admin.test\r\nConnection: close\r\n\r\n")
            r = read_response(s)
            self.assertEqual(r.status, 200)
            return s.session, s.session_reused, cgi_env(r.body).get("SSL_CLIENT_VERIFY")

    def test_sessions_of_before_a_reload_that_requires_certificates_get_a_full_handshake(self):
        for maximum in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            self.set_verify("none")
            rc, out = self.srv.mpmctl("reload")
            self.assertEqual(rc, 0, out)
            bare = client_context(None, maximum, self.certs.bundle)
            sess, _, verify = self.verify_of(bare)
            self.assertEqual(verify, "NONE")
            _, reused, _ = self.verify_of(bare, sess)
            self.assertTrue(reused, "the control: a session resumes while nothing changed")
            sess, _, _ = self.verify_of(bare)
            self.set_verify("require")
            rc, out = self.srv.mpmctl("reload")
            self.assertEqual(rc, 0, out)
            wait_for(lambda: self.refuses(bare), what="admin.test requiring a certificate")
            with self.assertRaises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
                self.verify_of(bare, sess)
            alice = client_context(self.certs.alice, maximum, self.certs.bundle)
            _, reused, verify = self.verify_of(alice)
            self.assertEqual((reused, verify), (False, "SUCCESS"))

    def refuses(self, ctx):
        try:
            self.verify_of(ctx)
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            return True
        return False

    def test_reload_with_a_missing_ca_file_is_refused_and_nothing_changes(self):
        self.set_verify("require")
        rc, out = self.srv.mpmctl("reload")
        self.assertEqual(rc, 0, out)
        alice = client_context(self.certs.alice, None, self.certs.bundle)
        wait_for(lambda: self.refuses(client_context(None, None, self.certs.bundle)), what="require in force")
        with open(self.srv.conf) as f:
            conf = f.read().replace(self.certs.ca_file, "/nonexistent/cas.pem")
        with open(self.srv.conf, "w") as f:
            f.write(conf)
        self.set_verify("optional")
        line = line_of(self.srv.conf, "SSLCACertificateFile = /nonexistent/cas.pem")
        rc, out = self.srv.mpmctl("reload")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("reload refused", out)
        error_line(self, out, self.srv.conf, line, r"SSLCACertificateFile: /nonexistent/cas\.pem: No such file")
        # Still require, with the old bundle.
        self.assertTrue(self.refuses(client_context(None, None, self.certs.bundle)))
        self.assertEqual(self.verify_of(alice)[2], "SUCCESS")


def user_line():
    user = mpmdtest.worker_user()
    return f"User = {user}\n" if user else ""


@unittest.skipIf(NO_TLS, NO_TLS)
class ClientCertConfigErrors(unittest.TestCase):
    """`mpmd -t`: each mistake at its file:line."""

    @classmethod
    def setUpClass(cls):
        if not OPENSSL:
            raise unittest.SkipTest("the openssl command is not installed")
        cls.certs = Certs()
        cls.dir = tempfile.mkdtemp(prefix="mpmd-mtls-conf-")
        cls.not_pem = os.path.join(cls.dir, "not-a-bundle.pem")
        with open(cls.not_pem, "w") as f:
            f.write("just some text\n")

    @classmethod
    def tearDownClass(cls):
        cls.certs.remove()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def check(self, vhost_keys, pattern, marker, server_keys="", location=""):
        conf = os.path.join(self.dir, "mpmd.conf")
        root = self.dir
        with open(conf, "w") as f:
            f.write(f"[Server]\nServerName = localhost\nListen = https://127.0.0.1:{mpmdtest.free_port()}\n"
                    f"DocumentRoot = {root}\n{user_line()}{mpmdtest.load_module_line()}" + pair(self.certs.servers["main"])
                    + server_keys
                    + f"\n[VirtualHost admin]\nServerName = admin.test\nDocumentRoot = {root}\n"
                    + pair(self.certs.servers["admin"]) + vhost_keys + location)
        rc, out = run_t(conf)
        self.assertNotEqual(rc, 0, out)
        error_line(self, out, conf, line_of(conf, marker), pattern)
        return out

    def test_a_good_configuration_passes(self):
        conf = os.path.join(self.dir, "good.conf")
        with open(conf, "w") as f:
            f.write(f"[Server]\nServerName = localhost\nListen = https://127.0.0.1:{mpmdtest.free_port()}\n"
                    f"DocumentRoot = {self.dir}\n{user_line()}{mpmdtest.load_module_line()}" + pair(self.certs.servers["main"])
                    + f"\n[VirtualHost admin]\nServerName = admin.test\nDocumentRoot = {self.dir}\n"
                    + pair(self.certs.servers["admin"])
                    + f"SSLCACertificateFile = {self.certs.ca_file}\nSSLVerifyClient = require\nSSLVerifyDepth = 3\n")
        rc, out = run_t(conf)
        self.assertEqual(rc, 0, out)

    def test_missing_ca_file(self):
        self.check("SSLVerifyClient = require\nSSLCACertificateFile = /nonexistent/cas.pem\n",
                   r"\[VirtualHost admin\] SSLCACertificateFile: /nonexistent/cas\.pem: No such file",
                   "SSLCACertificateFile")

    def test_ca_file_without_certificates(self):
        self.check(f"SSLVerifyClient = require\nSSLCACertificateFile = {self.not_pem}\n",
                   r"SSLCACertificateFile: .*not-a-bundle\.pem holds no PEM certificate", "SSLCACertificateFile")

    def test_a_key_is_no_ca_bundle(self):
        self.check(f"SSLVerifyClient = optional\nSSLCACertificateFile = {self.certs.alice[1]}\n",
                   r"SSLCACertificateFile: .*holds no PEM certificate", "SSLCACertificateFile")

    def test_require_without_a_ca_file(self):
        for level in ("require", "optional"):
            self.check(f"SSLVerifyClient = {level}\n", rf"SSLVerifyClient: {level} needs SSLCACertificateFile",
                       "SSLVerifyClient")

    def test_require_inherited_from_the_server_without_a_ca_file(self):
        self.check("", r"\[Server\] SSLVerifyClient: require needs SSLCACertificateFile", "SSLVerifyClient",
                   server_keys="SSLVerifyClient = require\n")

    def test_an_unknown_level(self):
        self.check("SSLVerifyClient = sometimes\n", r"expected none, optional, require or optional_no_ca",
                   "SSLVerifyClient")

    def test_a_bad_depth(self):
        self.check("SSLVerifyDepth = deep\n", r"SSLVerifyDepth", "SSLVerifyDepth")

    def test_per_directory_verification_is_refused_as_per_site(self):
        out = self.check("", r"SSLVerifyClient is not allowed in \[Location /admin/\].*apply per site",
                         "SSLVerifyClient", location="\n[Location /admin/]\nSSLVerifyClient = require\n")
        self.assertIn("does not renegotiate", out)


if __name__ == "__main__":
    unittest.main()
