/* SPDX-License-Identifier: MIT */
/* Tests of config_load() as `mpmd -t` and a start see it (check_startup): log folders, Listen
 * values, users; and HTTPS: the SSL* keys and the certificate store built with the configuration. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-config.h"
#include "config-fixture.h"
#include "supervisor/listeners.h"
#include "supervisor/tls-setup.h"
#if HAVE_TLS
#include "mpm/tls-store.h"
#endif
#include "shared/strv.h"

TestSuite(config, .init = config_fixture_setup, .fini = config_fixture_teardown);

/* ---- what a start would find (check_startup, mpmd -t) ------------------------------------- */

Test(config, startup_log_folders_must_exist) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080\nUser = nobody\nDocumentRoot = @\n"
                                 "ErrorLog = @/nope/error.log\nCustomLog = @/logs/access.log combined\n"
                                 "[VirtualHost x]\nServerName = x.test\nCustomLog = @ combined\n");
        cr_assert_eq(load_for_start("@/mpmd.conf", &fake_mpm, &c), -EINVAL);
        assert_messages(&errors, 3,
                        "@/mpmd.conf:6: [Server] CustomLog: @/logs/access.log: the folder @/logs: No such file or "
                        "directory",
                        "@/mpmd.conf:5: [Server] ErrorLog: @/nope/error.log: the folder @/nope: No such file or "
                        "directory",
                        "@/mpmd.conf:9: [VirtualHost x] CustomLog: @: Is a directory");
        /* Without check_startup (a start, a reload), the loader leaves these to the open itself. */
        conf_errors_done(&errors);
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        config_free(c);
}

Test(config, startup_listen_values_must_be_addresses_or_names) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nUser = nobody\nListen = 127.0.0.1:0\n  *:65536\n  http\n  8080\n"
                                 "  [::1]:443\nDocumentRoot = @\n[VirtualHost x]\nServerName = x.test\n"
                                 "Listen = 10.0.0:80\n  vhost:x\n");
        cr_assert_eq(load_for_start("@/mpmd.conf", &fake_mpm, &c), -EINVAL);
        assert_messages(&errors, 3,
                        "@/mpmd.conf:3: [Server] Listen: \"127.0.0.1:0\" is not an address: expected ADDR:PORT, "
                        "[V6]:PORT, *:PORT or PORT with a port from 1 to 65535, or a systemd socket name",
                        "@/mpmd.conf:3: [Server] Listen: \"*:65536\" is not an address: expected ADDR:PORT, "
                        "[V6]:PORT, *:PORT or PORT with a port from 1 to 65535, or a systemd socket name",
                        "@/mpmd.conf:11: [VirtualHost x] Listen: \"10.0.0:80\" is not an address: expected "
                        "ADDR:PORT, [V6]:PORT, *:PORT or PORT with a port from 1 to 65535, or a systemd socket name");
}

Test(config, startup_a_vhost_user_the_mpm_ignores_is_a_warning) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080\nUser = nobody\nDocumentRoot = @\n"
                                 "[VirtualHost x]\nServerName = x.test\nUser = nobody\nGroup = nogroup\n");
        cr_assert_eq(load_for_start("@/mpmd.conf", &fake_mpm, &c), 0, "%s", joined(&errors));
        assert_messages(&warnings, 1,
                        "@/mpmd.conf:7: [VirtualHost x] User: ignored by MPM fake: only perchild runs a site as a "
                        "user of its own; its requests are served as the [Server] User");
        config_free(c);
        conf_errors_done(&warnings);
        cr_assert_eq(load_for_start("@/mpmd.conf", &fake_per_user_mpm, &c), 0, "%s", joined(&errors));
        cr_assert_eq(warnings.n, 0, "%s", joined(&warnings));
        config_free(c);
}

Test(config, startup_as_root_without_user_is_an_error) {
        Config *c = NULL;

        if (geteuid() != 0)
                cr_skip_test("needs root");
        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080\nDocumentRoot = @\n");
        cr_assert_eq(load_for_start("@/mpmd.conf", &fake_mpm, &c), -EINVAL);
        assert_messages(&errors, 1,
                        "@/mpmd.conf: running as root needs a User (and Group) for the workers: mpmd never serves a "
                        "request as root");
}

/* Under a per-user MPM run as root, a site's own logs are opened as its user: judged by the mode and
 * owner of the folder for that user, and only a warning (the site fails, not the start). */
Test(config, startup_a_sites_own_log_folder_must_be_writable_by_its_user) {
        Config *c = NULL;

        if (geteuid() != 0)
                cr_skip_test("needs root");
        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080\nUser = nobody\nDocumentRoot = @\n"
                                 "CustomLog = @/rootonly/main.log combined\n"
                                 "[VirtualHost x]\nServerName = x.test\nUser = nobody\nGroup = nogroup\n"
                                 "CustomLog = @/rootonly/x.log combined\nErrorLog = @/nobody/x-error.log\n"
                                 "[VirtualHost y]\nServerName = y.test\nUser = nobody\nGroup = nogroup\n");
        cr_assert_eq(mkdir(at("@/rootonly"), 0755), 0);
        cr_assert_eq(mkdir(at("@/nobody"), 0755), 0);
        cr_assert_eq(chown(at("@/nobody"), 65534, 65534), 0);
        cr_assert_eq(load_for_start("@/mpmd.conf", &fake_per_user_mpm, &c), 0, "%s", joined(&errors));
        /* y does not take [Server]'s CustomLog (per_user_sites_do_not_inherit_the_server_access_log):
         * only x's own log is the site's to open. */
        assert_messages(&warnings, 1,
                        "@/mpmd.conf:10: [VirtualHost x] CustomLog: @/rootonly/x.log cannot be created: the folder "
                        "@/rootonly is not writable by user nobody, who opens it");
        config_free(c);
        /* The same folder is root's to write when the supervisor (root) opens the log itself. */
        conf_errors_done(&warnings);
        cr_assert_eq(load_for_start("@/mpmd.conf", &fake_mpm, &c), 0, "%s", joined(&errors));
        cr_assert(!strstr(joined(&warnings), "CustomLog"), "%s", joined(&warnings));
        config_free(c);
}

/* Under a per-user MPM a site with a User of its own does not take [Server]'s access log (its pool
 * would write every site's file as the tenant); one without a User, and every site of another MPM,
 * do. */
Test(config, per_user_sites_do_not_inherit_the_server_access_log) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080\nUser = nobody\nDocumentRoot = @\n"
                                 "CustomLog = @/access.log combined\n"
                                 "[VirtualHost own]\nServerName = own.test\nUser = nobody\nGroup = nogroup\n"
                                 "[VirtualHost logs]\nServerName = logs.test\nUser = nobody\nGroup = nogroup\n"
                                 "CustomLog = @/logs.log common\n"
                                 "[VirtualHost shared]\nServerName = shared.test\n");
        cr_assert_eq(load_for_start("@/mpmd.conf", &fake_per_user_mpm, &c), 0, "%s", joined(&errors));
        cr_assert_str_eq(c->site.custom_log.path, at("@/access.log"));
        cr_assert_null(c->vhosts[0].site.custom_log.path);
        cr_assert_str_eq(c->vhosts[1].site.custom_log.path, at("@/logs.log"));
        cr_assert_str_eq(c->vhosts[2].site.custom_log.path, at("@/access.log"));
        config_free(c);
        conf_errors_done(&warnings);
        cr_assert_eq(load_for_start("@/mpmd.conf", &fake_mpm, &c), 0, "%s", joined(&errors));
        cr_assert_str_eq(c->vhosts[0].site.custom_log.path, at("@/access.log"));
        config_free(c);
}
/* ---- HTTPS: the SSL* keys and the certificate store ------------------------------------------ */

/* A [VirtualHost] takes every SSL* key it does not set from [Server]; one it sets is its own. */
Test(config, tls_keys_are_inherited_by_vhosts) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080\nDocumentRoot = @\n"
                                 "SSLProtocol = TLSv1.3\nSSLCertificateFile = /etc/ssl/a.pem\n"
                                 "SSLCertificateKeyFile = credential:a-key\nSSLSessionTicketLifetime = 600\n"
                                 "SSLCipherSuite = TLSv1.3 TLS_AES_256_GCM_SHA384\n"
                                 "[VirtualHost x]\nServerName = x.test\n"
                                 "[VirtualHost y]\nServerName = y.test\nSSLProtocol = all\nSSLStrictSNIVHostCheck = On\n"
                                 "SSLCertificateFile = /etc/ssl/y.pem\nSSLCertificateKeyFile = /etc/ssl/y.key\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        cr_assert_eq(c->site.tls.protocols.mask, HTTP_TLS_V1_3);
        cr_assert_eq(c->vhosts[0].site.tls.protocols.mask, HTTP_TLS_V1_3, "x inherits SSLProtocol");
        cr_assert_str_eq(c->vhosts[0].site.tls.protocols.file, at("@/mpmd.conf"));
        cr_assert_eq(c->vhosts[0].site.tls.protocols.line, 4, "where [Server] wrote it");
        cr_assert_eq(c->vhosts[0].site.tls.certificates.n, 1);
        cr_assert_str_eq(c->vhosts[0].site.tls.certificates.lines[0].value, "/etc/ssl/a.pem");
        cr_assert_str_eq(c->vhosts[0].site.tls.keys.lines[0].value, "credential:a-key");
        cr_assert_eq(c->vhosts[0].site.tls.ticket_lifetime, 600 * USEC_PER_SEC);
        cr_assert_str_eq(c->vhosts[0].site.tls.ciphers.tls13, "TLS_AES_256_GCM_SHA384");
        cr_assert_not(c->vhosts[0].site.tls.strict_sni);
        cr_assert_eq(c->vhosts[1].site.tls.protocols.mask, HTTP_TLS_V1_2 | HTTP_TLS_V1_3);
        cr_assert(c->vhosts[1].site.tls.strict_sni);
        cr_assert_eq(c->vhosts[1].site.tls.certificates.n, 1, "y's own certificate replaces [Server]'s");
        cr_assert_str_eq(c->vhosts[1].site.tls.certificates.lines[0].value, "/etc/ssl/y.pem");
        cr_assert_eq(c->vhosts[1].site.tls.ticket_lifetime, 600 * USEC_PER_SEC);
        cr_assert_null(c->tls, "not built without check_filesystem");
        cr_assert_eq(config_check_reload(c, c, &errors), 0);
        config_free(c);
}

Test(config, tls_key_errors_name_file_and_line) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080\nDocumentRoot = @\n"
                                 "SSLProtocol = SSLv3 TLSv1.2\n"
                                 "SSLCertificateKeyFile = credential:../etc/shadow\n"
                                 "SSLCipherSuite = TLSv1.3\n"
                                 "SSLSessionTicketLifetime = 10\n"
                                 "[VirtualHost x]\nServerName = x.test\nSSLProtocol = -TLSv1.2\n"
                                 "SSLCertificateFile = /a.pem\nSSLCertificateFile = /b.pem\nSSLCertificateFile = /c.pem\n"
                                 "[fake]\nSSLProtocol = all\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), -EINVAL);
        assert_messages(&errors, 8,
                        "@/mpmd.conf:4: [Server] SSLProtocol: SSLv3 is broken and not supported; use TLSv1.2 TLSv1.3",
                        "@/mpmd.conf:5: [Server] SSLCertificateKeyFile: \"credential:../etc/shadow\": a credential is "
                        "named by a plain file name, as LoadCredential=NAME:PATH gives it",
                        "@/mpmd.conf:6: [Server] SSLCipherSuite: needs a cipher list after TLSv1.3",
                        "@/mpmd.conf:7: [Server] SSLSessionTicketLifetime: expected a time from 60 s to 7 days (604800 "
                        "s), got \"10\"",
                        "@/mpmd.conf:10: [VirtualHost x] SSLProtocol: \"-TLSv1.2\" leaves no protocol enabled",
                        "@/mpmd.conf:13: [VirtualHost x] SSLCertificateFile: at most 2 certificates (an ECDSA and an "
                        "RSA one, paired in order); the first is at @/mpmd.conf:11",
                        "@/mpmd.conf:15: SSLProtocol is not allowed in [fake] (it belongs in [Server] or "
                        "[VirtualHost NAME])",
                        "@/mpmd.conf:11: [VirtualHost x] SSLCertificateFile: 2 SSLCertificateFile and 0 "
                        "SSLCertificateKeyFile lines: they pair in order, one key for each certificate");
}

Test(config, tls_without_tls_in_the_build) {
        static const ConfigTls none = {}; /* what -Dtls=disabled gives */
        ConfigLoadOptions o = { .builtin_mpm = &fake_mpm, .tls = &none };
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080 https://127.0.0.1:8443\nDocumentRoot = @\n"
                                 "[VirtualHost x]\nServerName = x.test\nListen = vhost-https:x\n"
                                 "SSLCertificateFile = /a.pem\nSSLCertificateKeyFile = /a.key\n");
        cr_assert_eq(config_load(at("@/mpmd.conf"), &o, &c, &errors, &warnings), -EINVAL);
        assert_messages(&errors, 3,
                        "@/mpmd.conf:2: [Server] Listen: https://127.0.0.1:8443: mpmd was built without TLS "
                        "(-Dtls=disabled)",
                        "@/mpmd.conf:6: [VirtualHost x] Listen: vhost-https:x: mpmd was built without TLS "
                        "(-Dtls=disabled)",
                        "@/mpmd.conf:7: [VirtualHost x] SSLCertificateFile: mpmd was built without TLS "
                        "(-Dtls=disabled)");
}

/* A per-user MPM serves HTTPS too (perchild: the dispatcher routes by SNI, each pool terminates
 * its own sites' TLS): only a build without TLS refuses the listener. */
Test(config, tls_under_a_per_user_mpm) {
        ConfigLoadOptions o = { .builtin_mpm = &fake_per_user_mpm, .tls = &supervisor_tls };
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080\nDocumentRoot = @\n"
                                 "[VirtualHost x]\nServerName = x.test\nListen = https://127.0.0.1:8443\n");
        if (!supervisor_tls.build) {
                cr_assert_eq(config_load(at("@/mpmd.conf"), &o, &c, &errors, &warnings), -EINVAL);
                assert_messages(&errors, 1,
                                "@/mpmd.conf:6: [VirtualHost x] Listen: https://127.0.0.1:8443: mpmd was built without "
                                "TLS (-Dtls=disabled)");
                return;
        }
        cr_assert_eq(config_load(at("@/mpmd.conf"), &o, &c, &errors, &warnings), 0);
        assert_messages(&errors, 0);
        config_free(c);
}

#if HAVE_TLS
static void make_cert(const char *name, const char *host) {
        _cleanup_free_ char *cmd = NULL;

        cr_assert(asprintf(&cmd,
                 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 90 -subj /CN=%s "
                 "-addext subjectAltName=DNS:%s -keyout '%s/%s.key' -out '%s/%s.pem' 2>/dev/null",
                 host, host, dir, name, dir, name) > 0);
        cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* With check_filesystem (mpmd -t, a start, a reload), config_load() builds the store: every pair
 * checked, errors at their lines, and a store a generation takes over. */
Test(config, tls_store_built_with_the_configuration) {
        ConfigLoadOptions o = { .builtin_mpm = &fake_mpm, .check_filesystem = true, .tls = &supervisor_tls };
        Config *c = NULL;

        make_cert("a", "a.test");
        make_cert("x", "x.test");
        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080 https://127.0.0.1:8443\nDocumentRoot = @\n"
                                 "ServerName = a.test\nSSLCertificateFile = @/a.pem\nSSLCertificateKeyFile = @/a.key\n"
                                 "[VirtualHost x]\nServerName = x.test\nSSLCertificateFile = @/x.pem\n");
        /* x's certificate with the key it inherits from [Server]: the pair does not match. */
        cr_assert_eq(config_load(at("@/mpmd.conf"), &o, &c, &errors, &warnings), -EINVAL);
        assert_messages(&errors, 1,
                        "@/mpmd.conf:6: [VirtualHost x] SSLCertificateKeyFile: @/a.key does not match the certificate "
                        "@/x.pem (@/mpmd.conf:9)");
        conf_errors_done(&errors);

        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080 https://127.0.0.1:8443\nDocumentRoot = @\n"
                                 "ServerName = a.test\nSSLCertificateFile = @/a.pem\nSSLCertificateKeyFile = @/a.key\n"
                                 "[VirtualHost x]\nServerName = x.test\nSSLCertificateFile = @/x.pem\n"
                                 "SSLCertificateKeyFile = @/x.key\n");
        cr_assert_eq(config_load(at("@/mpmd.conf"), &o, &c, &errors, &warnings), 0, "%s", joined(&errors));
        cr_assert_not_null(c->tls);
        cr_assert_eq(warnings.n, 0, "%s", joined(&warnings));
        config_free(c);

        /* Without check_filesystem nothing is read. */
        o.check_filesystem = false;
        cr_assert_eq(config_load(at("@/mpmd.conf"), &o, &c, &errors, &warnings), 0, "%s", joined(&errors));
        cr_assert_null(c->tls);
        config_free(c);
}

/* Under a per-user MPM the supervisor holds no parsed key: the same check runs in a child, whose
 * errors come back with their lines, and the store is sealed (each site's bytes in a sealed memfd). */
Test(config, tls_under_a_per_user_mpm_is_sealed_and_checked_in_a_child) {
        ConfigLoadOptions o = { .builtin_mpm = &fake_per_user_mpm, .check_filesystem = true, .tls = &supervisor_tls };
        Config *c = NULL;
        int fd;

        make_cert("a", "a.test");
        make_cert("x", "x.test");
        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080\nDocumentRoot = @\n"
                                 "[VirtualHost x]\nServerName = x.test\nListen = https://127.0.0.1:8443\n"
                                 "SSLCertificateFile = @/x.pem\nSSLCertificateKeyFile = @/a.key\n");
        cr_assert_eq(config_load(at("@/mpmd.conf"), &o, &c, &errors, &warnings), -EINVAL);
        assert_messages(&errors, 1,
                        "@/mpmd.conf:8: [VirtualHost x] SSLCertificateKeyFile: @/a.key does not match the certificate "
                        "@/x.pem (@/mpmd.conf:7)");
        conf_errors_done(&errors);

        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080\nDocumentRoot = @\n"
                                 "[VirtualHost x]\nServerName = x.test\nListen = https://127.0.0.1:8443\n"
                                 "SSLCertificateFile = @/x.pem\nSSLCertificateKeyFile = @/nonexistent.key\n");
        cr_assert_eq(config_load(at("@/mpmd.conf"), &o, &c, &errors, &warnings), -EINVAL);
        assert_messages(&errors, 1,
                        "@/mpmd.conf:8: [VirtualHost x] SSLCertificateKeyFile: @/nonexistent.key: No such file or "
                        "directory");
        conf_errors_done(&errors);

        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080\nDocumentRoot = @\n"
                                 "[VirtualHost x]\nServerName = x.test\nListen = https://127.0.0.1:8443\n"
                                 "SSLCertificateFile = @/x.pem\nSSLCertificateKeyFile = @/x.key\n");
        cr_assert_eq(config_load(at("@/mpmd.conf"), &o, &c, &errors, &warnings), 0, "%s", joined(&errors));
        cr_assert(tls_store_is_sealed(c->tls));
        cr_assert_eq(tls_store_material_fd(c->tls, 0), -1); /* [Server] has no certificate */
        fd = tls_store_material_fd(c->tls, 1);
        cr_assert_geq(fd, 0);
        cr_assert_eq(fcntl(fd, F_GET_SEALS) & (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL),
                     F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
        /* The store opens no context here: it has none for a listener. */
        cr_assert_null(tls_store_new_ssl(c->tls, "https://127.0.0.1:8443"));
        config_free(c);
}

Test(config, tls_listener_needs_a_certificate_for_its_default_site) {
        ConfigLoadOptions o = { .builtin_mpm = &fake_mpm, .check_filesystem = true, .tls = &supervisor_tls };
        Config *c = NULL;

        make_cert("x", "x.test");
        write_file("@/mpmd.conf", "[Server]\nListen = https://127.0.0.1:8443\nDocumentRoot = @\n"
                                 "[VirtualHost x]\nServerName = x.test\nSSLCertificateFile = @/x.pem\n"
                                 "SSLCertificateKeyFile = @/x.key\n");
        cr_assert_eq(config_load(at("@/mpmd.conf"), &o, &c, &errors, &warnings), -EINVAL);
        assert_messages(&errors, 1,
                        "@/mpmd.conf:2: [Server] Listen: https://127.0.0.1:8443 is HTTPS, but [Server], the site it "
                        "serves a client that names none of its sites, has no SSLCertificateFile");
}
#endif
