/* SPDX-License-Identifier: MIT */
/* tls-custody.c: a site's files sealed into a memfd and read back from it, and the check in a child
 * whose errors come back (and whose crash is an error, not a pass). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mpm/tls-custody.h"
#include "shared/macro.h"

static char dir[] = "/tmp/mpmd-custody-XXXXXX";
static char cert_path[128], key_path[128];

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f);
        fputs(text, f);
        fclose(f);
}

static void setup(void) {
        cr_assert_not_null(mkdtemp(dir));
        snprintf(cert_path, sizeof(cert_path), "%s/a.crt", dir);
        snprintf(key_path, sizeof(key_path), "%s/a.key", dir);
        write_file(cert_path, "-----BEGIN CERTIFICATE-----\nchain\n");
        write_file(key_path, "-----BEGIN PRIVATE KEY-----\nsecret\n");
}

static void teardown(void) {
        unlink(cert_path);
        unlink(key_path);
        rmdir(dir);
}

TestSuite(tls_custody, .init = setup, .fini = teardown);

static HttpSiteConfig cfg;
static ConfLine certs[1], keys[1];

static TlsStoreSite site_with(const char *cert, const char *key) {
        certs[0] = (ConfLine){ .value = (char *) cert, .file = (char *) "mpmd.conf", .line = 7 };
        keys[0] = (ConfLine){ .value = (char *) key, .file = (char *) "mpmd.conf", .line = 8 };
        cfg.tls.certificates = (ConfLines){ .lines = certs, .n = 1 };
        cfg.tls.keys = (ConfLines){ .lines = keys, .n = 1 };
        return (TlsStoreSite){ .name = "a", .section = "[VirtualHost a]", .cfg = &cfg };
}

Test(tls_custody, sealed_material_holds_the_files_bytes) {
        TlsStoreSite site = site_with(cert_path, key_path);
        ConfErrors errors = {};
        TlsMaterial m;
        char link[64], target[256] = {};
        int fd = -1;

        cr_assert_eq(tls_material_seal(&site, &fd, &errors), 0);
        cr_assert_eq(errors.n, 0);
        /* Sealed against writes, growth, shrinking and new seals: */
        cr_assert_eq(fcntl(fd, F_GET_SEALS), F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
        cr_assert_eq(write(fd, "x", 1), -1);
        cr_assert_eq(errno, EPERM);
        cr_assert_eq(ftruncate(fd, 0), -1);
        /* Named so that `mpmctl audit` knows it. */
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        cr_assert_gt(readlink(link, target, sizeof(target) - 1), 0);
        cr_assert_str_eq(target, "/memfd:" TLS_MATERIAL_NAME_PREFIX "a (deleted)");

        cr_assert_eq(tls_material_map(fd, &m), 0);
        cr_assert_eq(m.n_pairs, 1);
        cr_assert_eq(m.pairs[0].cert_len, strlen("-----BEGIN CERTIFICATE-----\nchain\n"));
        cr_assert_eq(memcmp(m.pairs[0].cert, "-----BEGIN CERTIFICATE-----\nchain\n", m.pairs[0].cert_len), 0);
        cr_assert_eq(memcmp(m.pairs[0].key, "-----BEGIN PRIVATE KEY-----\nsecret\n", m.pairs[0].key_len), 0);
        tls_material_unmap(&m);
        close(fd);
}

Test(tls_custody, a_missing_file_is_an_error_at_its_line_and_marked_missing) {
        TlsStoreSite site = site_with(cert_path, "/nonexistent/a.key");
        ConfErrors errors = {};
        TlsMaterial m;
        int fd = -1;

        cr_assert_eq(tls_material_seal(&site, &fd, &errors), -EINVAL);
        cr_assert_eq(errors.n, 1);
        cr_assert_str_eq(errors.msgs[0], "mpmd.conf:8: [VirtualHost a] SSLCertificateKeyFile: /nonexistent/a.key: No "
                                         "such file or directory");
        /* The certificate is there still, for the check to judge it. */
        cr_assert_geq(fd, 0);
        cr_assert_eq(tls_material_map(fd, &m), 0);
        cr_assert_not_null(m.pairs[0].cert);
        cr_assert_null(m.pairs[0].key);
        tls_material_unmap(&m);
        close(fd);
        conf_errors_done(&errors);
}

/* SSLCACertificateFile travels with the pairs: a pool sandboxed as its site's user may not open it. */
Test(tls_custody, the_ca_bundle_comes_with_the_pairs) {
        static ConfLine ca[1];
        TlsStoreSite site = site_with(cert_path, key_path);
        ConfErrors errors = {};
        TlsMaterial m;
        int fd = -1;

        cr_assert_eq(tls_material_seal(&site, &fd, &errors), 0);
        cr_assert_eq(tls_material_map(fd, &m), 0);
        cr_assert_not(m.has_ca, "no SSLCACertificateFile, no bundle");
        cr_assert_null(m.ca);
        tls_material_unmap(&m);
        close(fd);

        ca[0] = (ConfLine){ .value = cert_path, .file = (char *) "mpmd.conf", .line = 9 };
        cfg.tls.ca_file = (ConfLines){ .lines = ca, .n = 1 };
        cr_assert_eq(tls_material_seal(&site, &fd, &errors), 0);
        cr_assert_eq(errors.n, 0);
        cr_assert_eq(tls_material_map(fd, &m), 0);
        cr_assert(m.has_ca);
        cr_assert_eq(m.ca_len, strlen("-----BEGIN CERTIFICATE-----\nchain\n"));
        cr_assert_eq(memcmp(m.ca, "-----BEGIN CERTIFICATE-----\nchain\n", m.ca_len), 0);
        cr_assert_eq(memcmp(m.pairs[0].key, "-----BEGIN PRIVATE KEY-----\nsecret\n", m.pairs[0].key_len), 0);
        tls_material_unmap(&m);
        close(fd);

        /* A bundle that cannot be read: an error at its line, the rest still sealed and checked. */
        ca[0].value = (char *) "/nonexistent/cas.pem";
        cr_assert_eq(tls_material_seal(&site, &fd, &errors), -EINVAL);
        cr_assert_eq(errors.n, 1);
        cr_assert_str_eq(errors.msgs[0], "mpmd.conf:9: [VirtualHost a] SSLCACertificateFile: /nonexistent/cas.pem: No "
                                         "such file or directory");
        cr_assert_eq(tls_material_map(fd, &m), 0);
        cr_assert(m.has_ca);
        cr_assert_null(m.ca);
        cr_assert_not_null(m.pairs[0].cert);
        tls_material_unmap(&m);
        close(fd);
        conf_errors_done(&errors);
        cfg.tls.ca_file = (ConfLines){};
}

Test(tls_custody, an_unsealed_memfd_is_not_material) {
        TlsMaterial m;
        int fd = memfd_create("mpmd-tls:forged", MFD_CLOEXEC);

        cr_assert_geq(fd, 0);
        cr_assert_eq(write(fd, "MPMDTLS2", 8), 8);
        cr_assert_eq(tls_material_map(fd, &m), -EBADMSG);
        close(fd);
}

static int check_reports(void *userdata, ConfErrors *errors, ConfErrors *warnings) {
        *(int *) userdata = 42; /* the child's memory: never seen by the parent */
        conf_errors_add(errors, "mpmd.conf", 3, "[Server] SSLCertificateFile: %s", "bad");
        conf_errors_add(warnings, "mpmd.conf", 4, "expires soon");
        return -EINVAL;
}

static int check_passes(void *userdata, ConfErrors *errors, ConfErrors *warnings) {
        return 0;
}

static int check_crashes(void *userdata, ConfErrors *errors, ConfErrors *warnings) {
        conf_errors_add(errors, "mpmd.conf", 3, "half a report");
        raise(SIGKILL);
        return 0;
}

Test(tls_custody, the_check_in_a_child_reports_back) {
        ConfErrors errors = {}, warnings = {};
        int touched = 0;

        cr_assert_eq(tls_check_in_child(check_reports, &touched, &errors, &warnings), -EINVAL);
        cr_assert_eq(touched, 0);
        cr_assert_eq(errors.n, 1);
        cr_assert_str_eq(errors.msgs[0], "mpmd.conf:3: [Server] SSLCertificateFile: bad");
        cr_assert_eq(warnings.n, 1);
        cr_assert_str_eq(warnings.msgs[0], "mpmd.conf:4: expires soon");
        conf_errors_done(&errors);
        conf_errors_done(&warnings);

        cr_assert_eq(tls_check_in_child(check_passes, NULL, &errors, &warnings), 0);
        cr_assert_eq(errors.n + warnings.n, 0);

        cr_assert_eq(tls_check_in_child(check_crashes, NULL, &errors, &warnings), -EINVAL);
        cr_assert_eq(errors.n, 1);
        cr_assert(strstr(errors.msgs[0], "was killed by signal 9"), "%s", errors.msgs[0]);
        conf_errors_done(&errors);
}

/* A client certificate to upstreams: one file sealed whole, under its own name, read back as is. */
Test(tls_custody, one_file_sealed_whole) {
        static const char text[] = "-----BEGIN PRIVATE KEY-----\nsecret\n";
        char link[64], target[256] = {};
        void *map;
        size_t size;
        int fd = -1;

        cr_assert_eq(tls_material_seal_file(key_path, TLS_PROXY_MATERIAL_NAME_PREFIX "/etc/a.pem", &fd), 0);
        cr_assert_eq(fcntl(fd, F_GET_SEALS), F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
        cr_assert_eq(write(fd, "x", 1), -1);
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        cr_assert_gt(readlink(link, target, sizeof(target) - 1), 0);
        cr_assert_str_eq(target, "/memfd:" TLS_PROXY_MATERIAL_NAME_PREFIX "/etc/a.pem (deleted)");
        cr_assert_eq(tls_material_map_file(fd, &map, &size), 0);
        cr_assert_eq(size, strlen(text));
        cr_assert_eq(memcmp(map, text, size), 0);
        munmap(map, size);
        close(fd);

        cr_assert_eq(tls_material_seal_file("/nonexistent/a.pem", "x", &fd), -ENOENT);
        cr_assert_eq(fd, -1);
        cr_assert_eq(tls_material_seal_file(dir, "x", &fd), -EBADF);
        cr_assert_eq(fd, -1);
}

Test(tls_custody, an_unsealed_memfd_is_not_a_sealed_file) {
        void *map;
        size_t size;
        int fd = memfd_create(TLS_PROXY_MATERIAL_NAME_PREFIX "forged", MFD_CLOEXEC);

        cr_assert_geq(fd, 0);
        cr_assert_eq(write(fd, "-----BEGIN", 10), 10);
        cr_assert_eq(tls_material_map_file(fd, &map, &size), -EBADMSG);
        close(fd);
}
