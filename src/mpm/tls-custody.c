/* SPDX-License-Identifier: MIT */
/* tls-custody.c — a site's certificate and key bytes in a sealed memfd, and the certificate check
 * in a child of its own (tls-custody.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpm/tls-custody.h"
#include "shared/macro.h"

#define MATERIAL_MAGIC "MPMDTLS2"
#define MATERIAL_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
#define CHECK_REPORT_MAX (1024 * 1024)
#define MATERIAL_MISSING UINT64_MAX /* a file that could not be read (its error given) */

#define MATERIAL_FILES (2 * HTTP_TLS_CERTS_MAX + 1)
#define MATERIAL_CA (2 * HTTP_TLS_CERTS_MAX) /* the index of the CA bundle's length */

typedef struct MaterialHeader {
        char magic[8];
        uint32_t n_pairs;
        uint32_t has_ca;              /* 1: a CA bundle (SSLCACertificateFile) follows the pairs */
        uint64_t len[MATERIAL_FILES]; /* cert 0, key 0, cert 1, key 1, CA bundle */
} MaterialHeader;

int tls_key_path(const ConfLine *key, const char *section, char **ret, ConfErrors *errors) {
        size_t plen = strlen(HTTP_TLS_CREDENTIAL_PREFIX);
        const char *dir;

        if (strncmp(key->value, HTTP_TLS_CREDENTIAL_PREFIX, plen) != 0) {
                *ret = strdup(key->value);
                return *ret ? 0 : -ENOMEM;
        }
        dir = getenv("CREDENTIALS_DIRECTORY");
        if (!dir || dir[0] != '/') {
                conf_errors_add(
                        errors, key->file, key->line,
                        "%s SSLCertificateKeyFile: %s: $CREDENTIALS_DIRECTORY is not set: systemd sets it for a "
                        "unit with LoadCredential=%s:PATH",
                        section, key->value, key->value + plen);
                return -EINVAL;
        }
        if (asprintf(ret, "%s/%s", dir, key->value + plen) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* Open one file of a pair for copying: a regular file of a sane size. 0 and *ret_fd, *ret_size;
 * -EINVAL with the error added. */
static int material_open(const char *path, const ConfLine *where, const char *section, const char *key,
                         int *ret_fd, uint64_t *ret_size, ConfErrors *errors) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        struct stat st;

        if (fd < 0 || fstat(fd, &st) < 0) {
                conf_errors_add(errors, where->file, where->line, "%s %s: %s: %s", section, key, path,
                                strerror(errno));
                return -EINVAL;
        }
        if (!S_ISREG(st.st_mode) || st.st_size > TLS_MATERIAL_FILE_MAX) {
                conf_errors_add(errors, where->file, where->line, "%s %s: %s: %s", section, key, path,
                                !S_ISREG(st.st_mode) ? "not a regular file" : "larger than 1 MiB: not a PEM file");
                return -EINVAL;
        }
        *ret_size = (uint64_t) st.st_size;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Copy size bytes of in to out's position: sendfile(), in the kernel, so that the bytes never enter
 * this process's memory. -EIO when the file was shorter than it said (changed while read). */
static int material_copy(int out, int in, uint64_t size) {
        uint64_t done = 0;

        while (done < size) {
                ssize_t n = sendfile(out, in, NULL, (size_t) MIN(size - done, (uint64_t) 0x7ffff000));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO;
                done += (uint64_t) n;
        }
        return 0;
}

int tls_material_seal(const TlsStoreSite *site, int *ret_fd, ConfErrors *errors) {
        const HttpTlsConfig *t = &site->cfg->tls;
        int in[MATERIAL_FILES] = {-1, -1, -1, -1, -1};
        MaterialHeader h = {.magic = MATERIAL_MAGIC};
        _cleanup_close_ int fd = -1;
        char name[250];
        size_t n = MIN(MIN(t->certificates.n, t->keys.n), (size_t) HTTP_TLS_CERTS_MAX);
        int r = 0, k;

        *ret_fd = -1;
        /* A file that cannot be read is marked missing, its error given: the others are still
         * sealed, so that the check says what is wrong with them too. */
        for (size_t i = 0; i < n; i++) {
                const ConfLine *cert = &t->certificates.lines[i], *key = &t->keys.lines[i];
                _cleanup_free_ char *path = NULL;

                h.len[2 * i] = h.len[2 * i + 1] = MATERIAL_MISSING;
                if (material_open(cert->value, cert, site->section, "SSLCertificateFile", &in[2 * i], &h.len[2 * i],
                                  errors) < 0)
                        r = -EINVAL;
                k = tls_key_path(key, site->section, &path, errors);
                if (k == -ENOMEM) {
                        r = k;
                        goto finish;
                }
                if (k < 0 || material_open(path, key, site->section, "SSLCertificateKeyFile", &in[2 * i + 1],
                                           &h.len[2 * i + 1], errors) < 0)
                        r = -EINVAL;
        }
        h.n_pairs = (uint32_t) n;
        /* The CA bundle is no secret, but it travels with the rest: a pool, sandboxed as the site's
         * user, may not be able to open it, and every process must verify against the bytes the
         * check read. */
        if (t->ca_file.n > 0) {
                const ConfLine *ca = &t->ca_file.lines[0];

                h.has_ca = 1;
                h.len[MATERIAL_CA] = MATERIAL_MISSING;
                if (material_open(ca->value, ca, site->section, "SSLCACertificateFile", &in[MATERIAL_CA],
                                  &h.len[MATERIAL_CA], errors) < 0)
                        r = -EINVAL;
        }
        snprintf(name, sizeof(name), TLS_MATERIAL_NAME_PREFIX "%s", site->name ? site->name : site->section);
        fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0 || write(fd, &h, sizeof(h)) != (ssize_t) sizeof(h)) {
                r = -errno;
                goto finish;
        }
        for (size_t i = 0; i < MATERIAL_FILES; i++) {
                if (in[i] < 0)
                        continue;
                k = material_copy(fd, in[i], h.len[i]);
                if (k < 0) {
                        bool is_ca = i == MATERIAL_CA;
                        const ConfLine *l = is_ca        ? &t->ca_file.lines[0]
                                            : i % 2 == 0 ? &t->certificates.lines[i / 2]
                                                         : &t->keys.lines[i / 2];
                        conf_errors_add(errors, l->file, l->line, "%s %s: %s: cannot be read: %s", site->section,
                                        is_ca        ? "SSLCACertificateFile"
                                        : i % 2 == 0 ? "SSLCertificateFile"
                                                     : "SSLCertificateKeyFile",
                                        l->value, k == -EIO ? "it changed while it was read" : strerror(-k));
                        goto finish; /* the lengths are wrong now: no material at all */
                }
        }
        /* Sealed before any other process can see it: what was checked is what is served. */
        if (fcntl(fd, F_ADD_SEALS, MATERIAL_SEALS) < 0) {
                r = -errno;
                goto finish;
        }
        *ret_fd = TAKE_FD(fd);
finish:
        for (size_t i = 0; i < ELEMENTSOF(in); i++)
                safe_close(in[i]);
        return *ret_fd < 0 && r == 0 ? -EINVAL : r;
}

int tls_material_map(int fd, TlsMaterial *ret) {
        const MaterialHeader *h;
        struct stat st;
        uint64_t total = sizeof(MaterialHeader);
        size_t off = sizeof(MaterialHeader);
        void *p;
        int seals;

        *ret = (TlsMaterial){};
        seals = fcntl(fd, F_GET_SEALS);
        if (seals < 0 || (seals & MATERIAL_SEALS) != MATERIAL_SEALS || fstat(fd, &st) < 0 ||
            (size_t) st.st_size < sizeof(MaterialHeader))
                return -EBADMSG;
        p = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        h = p;
        if (memcmp(h->magic, MATERIAL_MAGIC, sizeof(h->magic)) != 0 || h->n_pairs > HTTP_TLS_CERTS_MAX || h->has_ca > 1)
                goto bad;
        for (uint32_t i = 0; i < MATERIAL_FILES; i++) {
                if (h->len[i] == MATERIAL_MISSING)
                        continue;
                if ((i < MATERIAL_CA && i >= 2 * h->n_pairs) || (i == MATERIAL_CA && !h->has_ca)) {
                        if (h->len[i] != 0)
                                goto bad;
                        continue;
                }
                if (h->len[i] > TLS_MATERIAL_FILE_MAX)
                        goto bad;
                total += h->len[i];
        }
        if (total != (uint64_t) st.st_size)
                goto bad;
        for (uint32_t i = 0; i < h->n_pairs; i++) {
                TlsMaterialPair *pair = &ret->pairs[i];
                if (h->len[2 * i] != MATERIAL_MISSING) {
                        pair->cert = (const char *) p + off;
                        pair->cert_len = (size_t) h->len[2 * i];
                        off += pair->cert_len;
                }
                if (h->len[2 * i + 1] != MATERIAL_MISSING) {
                        pair->key = (const char *) p + off;
                        pair->key_len = (size_t) h->len[2 * i + 1];
                        off += pair->key_len;
                }
        }
        ret->has_ca = h->has_ca;
        if (h->has_ca && h->len[MATERIAL_CA] != MATERIAL_MISSING) {
                ret->ca = (const char *) p + off;
                ret->ca_len = (size_t) h->len[MATERIAL_CA];
        }
        ret->map = p;
        ret->size = (size_t) st.st_size;
        ret->n_pairs = h->n_pairs;
        return 0;
bad:
        munmap(p, (size_t) st.st_size);
        return -EBADMSG;
}

void tls_material_unmap(TlsMaterial *m) {
        if (m->map)
                munmap(m->map, m->size);
        *m = (TlsMaterial){};
}

/* ---- the check in a child ------------------------------------------------------------------ */

/* The child's report: each message as its kind ('E' error, 'W' warning), its text and a NUL; then
 * 'R' and the result as text. */
static int report_write(int fd, char kind, const char *text) {
        size_t len = strlen(text) + 1;

        if (write(fd, &kind, 1) != 1)
                return -errno;
        for (size_t done = 0; done < len;) {
                ssize_t n = write(fd, text + done, len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -errno;
                done += (size_t) n;
        }
        return 0;
}

_noreturn_ static void check_child(int fd, int (*check)(void *, ConfErrors *, ConfErrors *), void *userdata) {
        ConfErrors e = {}, w = {};
        char result[16];
        int r;

        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        (void) prctl(PR_SET_DUMPABLE, 0); /* it holds every site's key: no core, no ptrace by its uid */
        r = check(userdata, &e, &w);
        for (size_t i = 0; i < e.n; i++)
                if (report_write(fd, 'E', e.msgs[i]) < 0)
                        _exit(3);
        for (size_t i = 0; i < w.n; i++)
                if (report_write(fd, 'W', w.msgs[i]) < 0)
                        _exit(3);
        snprintf(result, sizeof(result), "%d", r);
        _exit(report_write(fd, 'R', result) < 0 ? 3 : 0);
}

/* Add what the child said; its result, or -EBADMSG when the report is not whole. */
static int report_apply(const char *buf, size_t len, ConfErrors *errors, ConfErrors *warnings) {
        for (size_t off = 0; off < len;) {
                const char *text = buf + off + 1, *end = memchr(text, 0, len - off - 1);
                char kind = buf[off];

                if (off + 1 >= len || !end)
                        return -EBADMSG;
                if (kind == 'R') {
                        long r = strtol(text, NULL, 10);
                        return end + 1 == buf + len && (r == 0 || r == -EINVAL || r == -ENOMEM) ? (int) r : -EBADMSG;
                }
                if (kind != 'E' && kind != 'W')
                        return -EBADMSG;
                conf_errors_add(kind == 'E' ? errors : warnings, NULL, 0, "%s", text);
                off = (size_t) (end + 1 - buf);
        }
        return -EBADMSG;
}

int tls_check_in_child(int (*check)(void *userdata, ConfErrors *errors, ConfErrors *warnings), void *userdata,
                       ConfErrors *errors, ConfErrors *warnings) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, size = 0;
        int pipefd[2], status, r;
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                safe_close(pipefd[0]);
                safe_close(pipefd[1]);
                return r;
        }
        if (pid == 0) {
                safe_close(pipefd[0]);
                check_child(pipefd[1], check, userdata);
        }
        safe_close(pipefd[1]);
        for (;;) {
                if (len == size) {
                        char *grown = size < CHECK_REPORT_MAX ? realloc(buf, size + 4096) : NULL;
                        if (!grown)
                                break; /* too much: the report is not whole, said below */
                        buf = grown;
                        size += 4096;
                }
                ssize_t n = read(pipefd[0], buf + len, size - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t) n;
        }
        safe_close(pipefd[0]);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        r = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? report_apply(buf, len, errors, warnings) : -EBADMSG;
        if (r != -EBADMSG)
                return r;
        if (WIFSIGNALED(status))
                conf_errors_add(errors, NULL, 0, "HTTPS: the check of the certificates (process %d) was killed by signal %d",
                                (int) pid, WTERMSIG(status));
        else
                conf_errors_add(errors, NULL, 0, "HTTPS: the check of the certificates (process %d) ended without its report",
                                (int) pid);
        return -EINVAL;
}

/* ---- one file, sealed whole ---------------------------------------------------------------- */

int tls_material_seal_file(const char *path, const char *name, int *ret_fd) {
        _cleanup_close_ int in = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        *ret_fd = -1;
        if (in < 0 || fstat(in, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADF;
        if (st.st_size > TLS_MATERIAL_FILE_MAX)
                return -EFBIG;
        fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        /* In the kernel: the key's bytes never enter this process's memory. */
        r = material_copy(fd, in, (uint64_t) st.st_size);
        if (r < 0)
                return r;
        if (fcntl(fd, F_ADD_SEALS, MATERIAL_SEALS) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int tls_material_map_file(int fd, void **ret_map, size_t *ret_size) {
        struct stat st;
        void *p;
        int seals;

        *ret_map = NULL;
        *ret_size = 0;
        seals = fcntl(fd, F_GET_SEALS);
        if (seals < 0 || (seals & MATERIAL_SEALS) != MATERIAL_SEALS || fstat(fd, &st) < 0 ||
            st.st_size > TLS_MATERIAL_FILE_MAX)
                return -EBADMSG;
        if (st.st_size == 0)
                return 0;
        p = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        *ret_map = p;
        *ret_size = (size_t) st.st_size;
        return 0;
}
