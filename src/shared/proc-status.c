/* SPDX-License-Identifier: MIT */
/* proc-status.c — see proc-status.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/macro.h"
#include "shared/proc-status.h"

enum {
        SEEN_UID = 1u << 0,
        SEEN_GID = 1u << 1,
        SEEN_GROUPS = 1u << 2,
        SEEN_CAPINH = 1u << 3,
        SEEN_CAPPRM = 1u << 4,
        SEEN_CAPEFF = 1u << 5,
        SEEN_CAPBND = 1u << 6,
        SEEN_CAPAMB = 1u << 7,
        SEEN_NNP = 1u << 8,
        SEEN_SECCOMP = 1u << 9,
        SEEN_REQUIRED = SEEN_UID | SEEN_GID | SEEN_GROUPS | SEEN_CAPINH | SEEN_CAPPRM | SEEN_CAPEFF |
                        SEEN_CAPBND | SEEN_CAPAMB,
};

static const char *skip_blanks(const char *p, const char *end) {
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        return p;
}

/* One number in [p, end) after optional blanks; digits only (no sign, no 0x), no overflow. */
static int number_next(const char **p, const char *end, unsigned base, uint64_t max, uint64_t *ret) {
        const char *q = skip_blanks(*p, end);
        uint64_t v = 0;
        bool any = false;

        for (; q < end && *q != ' ' && *q != '\t'; q++) {
                unsigned d;

                if (*q >= '0' && *q <= '9')
                        d = (unsigned) (*q - '0');
                else if (base == 16 && *q >= 'a' && *q <= 'f')
                        d = (unsigned) (*q - 'a' + 10);
                else if (base == 16 && *q >= 'A' && *q <= 'F')
                        d = (unsigned) (*q - 'A' + 10);
                else
                        return -EBADMSG;
                if (d > max || v > (max - d) / base)
                        return -EBADMSG;
                v = v * base + d;
                any = true;
        }
        if (!any)
                return -EBADMSG;
        *p = q;
        *ret = v;
        return 0;
}

static int numbers_exact(const char *p, const char *end, unsigned base, uint64_t max, uint64_t *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                int r = number_next(&p, end, base, max, &v[i]);
                if (r < 0)
                        return r;
        }
        return skip_blanks(p, end) == end ? 0 : -EBADMSG;
}

static int status_line_parse(ProcStatus *s, const char *line, const char *end, unsigned *seen) {
        static const struct {
                const char *key;
                unsigned bit;
                size_t offset;
        } caps[] = {
                { "CapInh", SEEN_CAPINH, offsetof(ProcStatus, cap_inh) },
                { "CapPrm", SEEN_CAPPRM, offsetof(ProcStatus, cap_prm) },
                { "CapEff", SEEN_CAPEFF, offsetof(ProcStatus, cap_eff) },
                { "CapBnd", SEEN_CAPBND, offsetof(ProcStatus, cap_bnd) },
                { "CapAmb", SEEN_CAPAMB, offsetof(ProcStatus, cap_amb) },
        };
        const char *colon = memchr(line, ':', (size_t) (end - line)), *v;
        size_t klen;
        uint64_t n[_PROC_ID_MAX];
        unsigned bit = 0;
        int r;

        if (!colon)
                return 0; /* not a "Key: value" line: not ours to judge */
        klen = (size_t) (colon - line);
        v = colon + 1;

#define KEY_IS(k) (klen == strlen(k) && memcmp(line, k, klen) == 0)
        if (KEY_IS("Uid") || KEY_IS("Gid")) {
                bool is_uid = line[0] == 'U';

                bit = is_uid ? SEEN_UID : SEEN_GID;
                if (*seen & bit)
                        return -EBADMSG;
                r = numbers_exact(v, end, 10, UINT32_MAX, n, _PROC_ID_MAX);
                if (r < 0)
                        return r;
                for (unsigned i = 0; i < _PROC_ID_MAX; i++) {
                        if (is_uid)
                                s->uid[i] = (uid_t) n[i];
                        else
                                s->gid[i] = (gid_t) n[i];
                }
        } else if (KEY_IS("Groups")) {
                bit = SEEN_GROUPS;
                if (*seen & bit)
                        return -EBADMSG;
                s->n_groups = 0;
                for (const char *p = skip_blanks(v, end); p < end; p = skip_blanks(p, end)) {
                        r = number_next(&p, end, 10, UINT32_MAX, &n[0]);
                        if (r < 0)
                                return r;
                        if (s->n_groups < PROC_STATUS_GROUPS_MAX)
                                s->groups[s->n_groups] = (gid_t) n[0];
                        s->n_groups++;
                }
        } else if (KEY_IS("NoNewPrivs") || KEY_IS("Seccomp")) {
                bool is_nnp = line[0] == 'N';

                bit = is_nnp ? SEEN_NNP : SEEN_SECCOMP;
                if (*seen & bit)
                        return -EBADMSG;
                r = numbers_exact(v, end, 10, is_nnp ? 1 : 2, n, 1);
                if (r < 0)
                        return r;
                if (is_nnp)
                        s->no_new_privs = (int) n[0];
                else
                        s->seccomp = (int) n[0];
        } else
                for (size_t i = 0; i < ELEMENTSOF(caps); i++) {
                        if (!KEY_IS(caps[i].key))
                                continue;
                        bit = caps[i].bit;
                        if (*seen & bit)
                                return -EBADMSG;
                        r = numbers_exact(v, end, 16, UINT64_MAX, n, 1);
                        if (r < 0)
                                return r;
                        memcpy((char *) s + caps[i].offset, &n[0], sizeof(uint64_t));
                        break;
                }
#undef KEY_IS

        *seen |= bit;
        return 0;
}

static int status_parse_buffer(const char *text, size_t len, ProcStatus *ret) {
        ProcStatus s = { .no_new_privs = -1, .seccomp = -1 };
        const char *p = text, *end = text + len;
        unsigned seen = 0;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *eol = nl ? nl : end;
                int r = status_line_parse(&s, p, eol, &seen);

                if (r < 0)
                        return r;
                p = nl ? nl + 1 : end;
        }
        if ((seen & SEEN_REQUIRED) != SEEN_REQUIRED)
                return -EBADMSG;
        *ret = s;
        return 0;
}

int proc_status_parse(const char *text, ProcStatus *ret) {
        if (!text || !ret)
                return -EINVAL;
        return status_parse_buffer(text, strlen(text), ret);
}

int proc_status_read(pid_t pid, ProcStatus *ret) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        char path[sizeof("/proc//status") + 3 * sizeof(pid_t)];
        size_t size = 4096, len = 0;

        if (!ret)
                return -EINVAL;
        if (pid <= 0)
                snprintf(path, sizeof(path), "/proc/self/status");
        else
                snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;

        /* The Groups line can be long (65536 groups): read whatever the kernel gives, growing. */
        for (;;) {
                ssize_t n;

                if (!buf || len == size) {
                        char *grown;

                        if (buf)
                                size *= 2;
                        if (size > 4u * 1024 * 1024)
                                return -EFBIG;
                        grown = realloc(buf, size);
                        if (!grown)
                                return -ENOMEM;
                        buf = grown;
                }
                n = read(fd, buf + len, size - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        /* A process that exited between open and read. */
                        return errno == ESRCH ? -ENOENT : -errno;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        return status_parse_buffer(buf, len, ret);
}
