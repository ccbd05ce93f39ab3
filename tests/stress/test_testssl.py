# SPDX-License-Identifier: MIT
"""testssl.sh (Debian's package) against mpmd's DEFAULT TLS configuration: a listener, one ECDSA
certificate and its key, no other SSL* key, and the Header lines a site adds (HSTS and the security
headers, as in mpmd.conf(5)'s examples). Passes when testssl rates no finding MEDIUM or above;
the test prints testssl's closing line and its findings by severity.

Nothing leaves the machine: the target is 127.0.0.1 (no name to resolve, --nodns none), testssl's
--phone-out (CRL and OCSP fetches) stays off, and the certificate is trusted with --add-ca. The
certificate names 127.0.0.1 and a CRL distribution point (never fetched) so that testssl's
certificate checks judge the server's configuration, not the test's self-made certificate."""
import json
import os
import re
import shutil
import subprocess
import unittest

from stress import StressServer, figure, mpms

import mpmdtest  # stress.py put tests/integration on the path
from mpmdtest import OPENSSL, build_has_tls, free_port, make_cert

TESTSSL = shutil.which("testssl") or shutil.which("testssl.sh")


@unittest.skipUnless(build_has_tls(), "this mpmd was built without TLS")
@unittest.skipUnless(TESTSSL, "testssl.sh is not installed (Debian package testssl.sh)")
@unittest.skipUnless(OPENSSL, "the openssl command is not installed")
@unittest.skipUnless(mpms(), "no MPM to run")
class TestsslTest(unittest.TestCase):
    def test_default_configuration_has_no_high_or_critical_finding(self):
        tls_port = free_port()
        mpm = "event" if "event" in mpms() else mpms()[0]
        srv = StressServer(mpm, server_keys=f"Listen = https://127.0.0.1:{tls_port}\n", start=False)
        self.addCleanup(srv.stop)
        cert, key = make_cert(srv.dir, ["127.0.0.1", "localhost"], "ec", crl_uri="http://crl.invalid/test.crl")
        with open(srv.conf) as f:
            conf = f.read()
        with open(srv.conf, "w") as f:
            f.write(conf.replace("[Server]\n", f"[Server]\nSSLCertificateFile = {cert}\nSSLCertificateKeyFile = {key}\n"
                                 "Header = always set Strict-Transport-Security \"max-age=63072000; includeSubDomains\"\n"
                                 "Header = always set X-Content-Type-Options nosniff\n"
                                 "Header = always set X-Frame-Options DENY\n"
                                 "Header = always set Content-Security-Policy \"default-src 'self'\"\n", 1))
        srv.start()
        self.assertEqual(mpmdtest.tls_get(tls_port, "/", cafile=cert).status, 200)
        report = os.path.join(srv.dir, "testssl.json")
        p = subprocess.run([TESTSSL, "--quiet", "--color", "0", "--warnings", "batch", "--nodns", "none",
                            "--add-ca", cert, "--connect-timeout", "10", "--openssl-timeout", "10",
                            "--severity", "LOW", "--jsonfile", report, f"https://127.0.0.1:{tls_port}"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600,
                           cwd=srv.dir, env=dict(os.environ, TERM="dumb"))
        out = p.stdout + p.stderr
        done = re.search(r"^ *Done .*$", out, re.M)
        self.assertTrue(os.path.exists(report), f"testssl wrote no report ({p.returncode}):\n{out[-4000:]}")
        with open(report) as f:
            findings = json.load(f)
        by = {}
        for x in findings:
            by.setdefault(x.get("severity", "?"), []).append(x)
        summary = ", ".join(f"{len(by.get(s, []))} {s}" for s in ("CRITICAL", "HIGH", "MEDIUM", "LOW"))
        print(f"testssl: {done.group(0).strip() if done else '(no closing line)'}; findings: {summary}", flush=True)
        for x in findings:
            print(f"testssl: {x.get('severity')} {x.get('id')}: {x.get('finding')}", flush=True)
        figure("testssl", mpm=mpm, critical=len(by.get("CRITICAL", [])), high=len(by.get("HIGH", [])),
               medium=len(by.get("MEDIUM", [])), low=len(by.get("LOW", [])))
        self.assertIsNotNone(done, f"testssl did not finish ({p.returncode}):\n{out[-4000:]}")
        bad = [f"{x.get('severity')} {x.get('id')}: {x.get('finding')}" for x in findings
               if x.get("severity") in ("HIGH", "CRITICAL")]
        self.assertEqual(bad, [], "\n".join(bad))
        # With the headers a site sets (Header lines), nothing is left at MEDIUM either: no "HSTS not
        # offered", no missing security headers (the report holds LOW and above only).
        medium = [f"{x.get('id')}: {x.get('finding')}" for x in findings if x.get("severity") == "MEDIUM"]
        self.assertEqual(medium, [], "\n".join(medium))


if __name__ == "__main__":
    unittest.main()
