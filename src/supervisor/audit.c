/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/audit.h"
#include "shared/conf-table.h"
#include "shared/macro.h"
#include "supervisor/privileges.h"

#define CAP_BIT(c) (UINT64_C(1) << (c))

/* The next space-separated field of *p, strictly parsed as a number up to max. */
static int field_uint(const char **p, uint64_t max, uint64_t *ret) {
        char buf[24];
        const char *end = strchr(*p, ' ');
        size_t n = end ? (size_t) (end - *p) : strlen(*p);

        if (n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, *p, n);
        buf[n] = 0;
        if (parse_uint64(buf, ret) < 0 || *ret > max)
                return -EINVAL;
        *p += n + (end ? 1 : 0);
        return 0;
}

/* The families a filter lets a process connect with, as the supervisor writes them. */
static const char *const connect_families[] = {"unix", "inet", "inet6"};

static bool connect_valid(const char *text) {
        unsigned seen = 0;

        if (strcmp(text, "-") == 0 || strcmp(text, "any") == 0)
                return true;
        for (const char *s = text;;) {
                size_t len = strcspn(s, ","), i;

                for (i = 0; i < ELEMENTSOF(connect_families); i++)
                        if (len == strlen(connect_families[i]) && memcmp(s, connect_families[i], len) == 0)
                                break;
                if (i == ELEMENTSOF(connect_families) || (seen & (1u << i)))
                        return false;
                seen |= 1u << i;
                if (s[len] == 0)
                        return true;
                s += len + 1;
        }
}

int audit_process_parse(const char *line, AuditProcess *ret) {
        AuditProcess p = {};
        uint64_t pid, uid, gid;
        const char *s = line, *end;

        /* (uid_t) -1 is "no id" to the kernel: never a valid plan. */
        if (field_uint(&s, INT32_MAX, &pid) < 0 || pid == 0 || field_uint(&s, UINT32_MAX - 1, &uid) < 0 ||
            field_uint(&s, UINT32_MAX - 1, &gid) < 0)
                return -EINVAL;
        end = strchr(s, ' ');
        if (!end || end == s || (size_t) (end - s) >= sizeof(p.profile))
                return -EINVAL;
        memcpy(p.profile, s, (size_t) (end - s));
        s = end + 1;
        if (strncmp(s, "connect=", 8) == 0) {
                s += 8;
                end = strchr(s, ' ');
                if (!end || (size_t) (end - s) >= sizeof(p.connect))
                        return -EINVAL;
                memcpy(p.connect, s, (size_t) (end - s));
                if (!connect_valid(p.connect))
                        return -EINVAL;
                s = end + 1;
        }
        if (*s == 0 || strlen(s) >= sizeof(p.role) || strpbrk(s, "\n\r\t"))
                return -EINVAL;
        strcpy(p.role, s);
        p.pid = (pid_t) pid;
        p.uid = (uid_t) uid;
        p.gid = (gid_t) gid;
        *ret = p;
        return 0;
}

bool audit_process_is_supervisor(const AuditProcess *p) {
        return strcmp(p->role, "supervisor") == 0;
}

uint64_t audit_supervisor_allowed(uid_t uid) {
        /* What the supervisor keeps at start (privileges.h), and what units/mpmd-perchild.service
         * grants it; units/mpmd.service runs it as a user of its own with nothing. */
        return privileges_needed(uid == 0);
}

int audit_caps_parse(const char *list, uint64_t *ret) {
        _cleanup_free_ char *copy = strdup(list);
        uint64_t mask = 0;
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, " ,", &save); w; w = strtok_r(NULL, " ,", &save)) {
                cap_value_t c;
                if (cap_from_name(w, &c) < 0 || c < 0 || c >= 64)
                        return -EINVAL;
                mask |= CAP_BIT(c);
        }
        *ret = mask;
        return 0;
}

/* The soft value of one "Max ..." line: 0 for unlimited. */
static int limits_line(const char *text, const char *name, uint64_t *ret) {
        const char *p = text;
        size_t n = strlen(name);

        for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                if (strncmp(p, name, n) == 0 && p[n] == ' ')
                        break;
        if (!p || !*p)
                return -EBADMSG;
        p += n;
        while (*p == ' ')
                p++;
        if (strncmp(p, "unlimited", 9) == 0 && (p[9] == ' ' || p[9] == '\n' || p[9] == 0)) {
                *ret = 0;
                return 0;
        }
        char num[24];
        size_t len = strcspn(p, " \n");
        if (len == 0 || len >= sizeof(num))
                return -EBADMSG;
        memcpy(num, p, len);
        num[len] = 0;
        return parse_uint64(num, ret) < 0 ? -EBADMSG : 0;
}

int audit_limits_parse(const char *text, SiteLimits *ret) {
        uint64_t nproc, as, cpu;

        if (limits_line(text, "Max processes", &nproc) < 0 || limits_line(text, "Max address space", &as) < 0 ||
            limits_line(text, "Max cpu time", &cpu) < 0 || nproc > UINT32_MAX || cpu > UINT32_MAX)
                return -EBADMSG;
        *ret = (SiteLimits) { .max_processes = (uint32_t) nproc, .memory_max = as, .max_program_seconds = (uint32_t) cpu };
        return 0;
}

/* /proc/PID/NAME into buf (NUL-terminated, cut at size - 1): its length, -ENOENT when the process
 * is gone, or -errno. */
static ssize_t proc_read(pid_t pid, const char *name, char *buf, size_t size) {
        char path[64];
        size_t len = 0;
        ssize_t n = 0;
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT || errno == ESRCH ? -ENOENT : -errno;
        while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
                len += (size_t) n;
        if (n < 0)
                n = errno == ESRCH ? -ENOENT : -errno;
        close(fd);
        buf[len] = 0;
        return n < 0 ? n : (ssize_t) len;
}

int audit_read_limits(pid_t pid, SiteLimits *ret) {
        char buf[4096];
        ssize_t n = proc_read(pid, "limits", buf, sizeof(buf));

        return n < 0 ? (int) n : audit_limits_parse(buf, ret);
}

int audit_read_ppid(pid_t pid, pid_t *ret) {
        char buf[4096];
        ssize_t n = proc_read(pid, "status", buf, sizeof(buf));

        if (n <= 0)
                return n == 0 ? -EBADMSG : (int) n;
        const char *line = strstr(buf, "\nPPid:\t");
        uint64_t v;
        if (!line)
                return -EBADMSG;
        line += strlen("\nPPid:\t");
        char num[16];
        size_t len = strcspn(line, "\n");
        if (len == 0 || len >= sizeof(num))
                return -EBADMSG;
        memcpy(num, line, len);
        num[len] = 0;
        if (parse_uint64(num, &v) < 0 || v > INT32_MAX)
                return -EBADMSG;
        *ret = (pid_t) v;
        return 0;
}

int audit_list_children(pid_t parent, pid_t *ret, size_t max) {
        DIR *d = opendir("/proc");
        struct dirent *de;
        size_t n = 0;

        if (!d)
                return -errno;
        while ((de = readdir(d)) && n < max) {
                uint64_t v;
                pid_t ppid;
                if (parse_uint64(de->d_name, &v) < 0 || v == 0 || v > INT32_MAX)
                        continue;
                if (audit_read_ppid((pid_t) v, &ppid) == 0 && ppid == parent)
                        ret[n++] = (pid_t) v;
        }
        closedir(d);
        return (int) n;
}

int audit_read_fd_target(pid_t pid, int fd, char *buf, size_t size) {
        char path[64];
        ssize_t n;

        if (size == 0)
                return -ENOBUFS;
        snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int) pid, fd);
        n = readlink(path, buf, size - 1);
        if (n < 0)
                return errno == ENOENT || errno == ESRCH ? -ENOENT : -errno;
        buf[n] = 0;
        return 0;
}

typedef struct Why {
        char *buf;
        size_t size, len;
        bool failed;
} Why;

static void why_add(Why *w, const char *fmt, ...) _printf_(2, 3);
static void why_add(Why *w, const char *fmt, ...) {
        va_list ap;
        int n;

        w->failed = true;
        if (w->len + 3 >= w->size)
                return;
        if (w->len > 0) {
                memcpy(w->buf + w->len, "; ", 3);
                w->len += 2;
        }
        va_start(ap, fmt);
        n = vsnprintf(w->buf + w->len, w->size - w->len, fmt, ap);
        va_end(ap);
        if (n > 0)
                w->len = MIN(w->len + (size_t) n, w->size - 1);
}

static void check_ids(Why *w, const char *what, const unsigned *ids, unsigned expected) {
        for (int i = 0; i < _PROC_ID_MAX; i++)
                if (ids[i] != expected) {
                        why_add(w, "%s %u/%u/%u/%u, expected %u", what, ids[PROC_ID_REAL], ids[PROC_ID_EFFECTIVE],
                                ids[PROC_ID_SAVED], ids[PROC_ID_FS], expected);
                        return;
                }
}

static void check_caps(Why *w, const char *name, uint64_t have, uint64_t allowed) {
        if (have & ~allowed)
                why_add(w, "%s %016llx has %016llx beyond %016llx", name, (unsigned long long) have,
                        (unsigned long long) (have & ~allowed), (unsigned long long) allowed);
}

bool audit_check(const AuditProcess *p, const AuditExpect *e, const ProcStatus *st, pid_t ppid, char *why,
                 size_t why_size) {
        Why w = { .buf = why, .size = why_size };
        unsigned ids[_PROC_ID_MAX];

        if (why_size > 0)
                why[0] = 0;
        if (audit_process_is_supervisor(p)) {
                /* Whatever ids it runs as, it may never hold more than it needs; it passes nothing
                 * on through exec (inheritable, ambient) and can gain nothing by one. */
                bool root = false;
                for (int i = 0; i < _PROC_ID_MAX; i++)
                        root = root || st->uid[i] == 0;
                /* A process that is not root, holds nothing and has no_new_privs cannot use its
                 * bounding set: only CAP_SETPCAP, which it lacks, could change it. */
                if (root || st->no_new_privs != 1 || (st->cap_prm & ~e->bounding_allowed))
                        check_caps(&w, "CapBnd", st->cap_bnd, e->bounding_allowed);
                check_caps(&w, "CapPrm", st->cap_prm, e->bounding_allowed);
                check_caps(&w, "CapEff", st->cap_eff, e->bounding_allowed);
                check_caps(&w, "CapAmb", st->cap_amb, 0);
                check_caps(&w, "CapInh", st->cap_inh, 0);
                if (st->no_new_privs != 1)
                        why_add(&w, "NoNewPrivs %d, expected 1", st->no_new_privs);
                return !w.failed;
        }

        for (int i = 0; i < _PROC_ID_MAX; i++)
                ids[i] = (unsigned) st->uid[i];
        check_ids(&w, "uid", ids, (unsigned) e->uid);
        for (int i = 0; i < _PROC_ID_MAX; i++)
                ids[i] = (unsigned) st->gid[i];
        check_ids(&w, "gid", ids, (unsigned) e->gid);
        if (e->uid == 0 || st->uid[PROC_ID_EFFECTIVE] == 0)
                why_add(&w, "runs as root");
        if (e->gid == 0 || st->gid[PROC_ID_EFFECTIVE] == 0)
                why_add(&w, "runs with gid 0");
        if (st->n_groups > PROC_STATUS_GROUPS_MAX)
                why_add(&w, "%zu supplementary groups, more than can be checked", st->n_groups);
        for (size_t i = 0; i < MIN(st->n_groups, (size_t) PROC_STATUS_GROUPS_MAX); i++) {
                gid_t g = st->groups[i];
                bool ok = g != 0 && g == e->gid;
                for (size_t k = 0; !ok && g != 0 && k < e->n_groups; k++)
                        ok = e->groups[k] == g;
                if (!ok)
                        why_add(&w, "supplementary group %u is not the user's", (unsigned) g);
        }
        check_caps(&w, "CapEff", st->cap_eff, 0);
        check_caps(&w, "CapPrm", st->cap_prm, 0);
        check_caps(&w, "CapBnd", st->cap_bnd, 0);
        check_caps(&w, "CapAmb", st->cap_amb, 0);
        check_caps(&w, "CapInh", st->cap_inh, 0);
        if (st->no_new_privs != 1)
                why_add(&w, "NoNewPrivs %d, expected 1", st->no_new_privs);
        if (st->seccomp != 2)
                why_add(&w, "Seccomp %d, expected 2 (a filter)", st->seccomp);
        if (e->parent > 0 && ppid != e->parent)
                why_add(&w, "parent %d is not the supervisor %d", (int) ppid, (int) e->parent);
        return !w.failed;
}

bool audit_check_program_stdio(const char *const targets[3], char *why, size_t why_size) {
        Why w = { .buf = why, .size = why_size };
        static const char *const names[3] = { "stdin", "stdout", "stderr" };

        if (why_size > 0)
                why[0] = 0;
        for (int fd = 1; fd <= 2; fd++)
                if (!targets[fd] || strncmp(targets[fd], "pipe:", 5) != 0)
                        why_add(&w, "%s is %s, not a pipe", names[fd], targets[fd] ? targets[fd] : "closed");
        return !w.failed;
}

/* ---- key custody --------------------------------------------------------------------------- */

#define AUDIT_MATERIAL_TARGET "/memfd:mpmd-tls:" /* tls-custody.h's TLS_MATERIAL_NAME_PREFIX */
/* and its TLS_PROXY_MATERIAL_NAME_PREFIX: a client certificate to upstreams, with its key */
#define AUDIT_PROXY_MATERIAL_TARGET "/memfd:mpmd-tls-proxy:"
#define AUDIT_CUSTODY_FDS_MAX 4096
#define AUDIT_KEY_HEAD 4096

/* Does text begin (after blank lines or a comment line or two, as some tools write) a PEM private
 * key: "-----BEGIN PRIVATE KEY-----", "-----BEGIN EC PRIVATE KEY-----", "… ENCRYPTED PRIVATE KEY"? */
static bool text_is_private_key(const char *head, size_t len) {
        const char *begin = "-----BEGIN ";

        for (size_t off = 0; off < len;) {
                const char *nl = memchr(head + off, '\n', len - off);
                size_t line = nl ? (size_t) (nl - (head + off)) : len - off;

                if (line >= strlen(begin) && memcmp(head + off, begin, strlen(begin)) == 0) {
                        const char *tail = "PRIVATE KEY-----";
                        size_t t = strlen(tail), l = line;
                        while (l > 0 && head[off + l - 1] == '\r')
                                l--;
                        return l >= t && memcmp(head + off + l - t, tail, t) == 0;
                }
                if (!nl)
                        break;
                off += line + 1;
        }
        return false;
}

AuditFdKind audit_fd_classify(const char *target, const char *head, size_t head_len) {
        if (strncmp(target, AUDIT_MATERIAL_TARGET, strlen(AUDIT_MATERIAL_TARGET)) == 0 ||
            strncmp(target, AUDIT_PROXY_MATERIAL_TARGET, strlen(AUDIT_PROXY_MATERIAL_TARGET)) == 0)
                return AUDIT_FD_TLS_MATERIAL;
        if (head && text_is_private_key(head, head_len))
                return AUDIT_FD_PRIVATE_KEY;
        return AUDIT_FD_OTHER;
}

bool audit_custody_check(const AuditProcess *p, const int *fds, const char *const *targets, const AuditFdKind *kinds,
                         size_t n, char *why, size_t why_size) {
        Why w = { .buf = why, .size = why_size };

        if (why_size > 0)
                why[0] = 0;
        if (audit_process_is_supervisor(p))
                return true; /* it holds every site's material, to give each pool its own */
        for (size_t i = 0; i < n; i++) {
                if (kinds[i] == AUDIT_FD_TLS_MATERIAL)
                        why_add(&w, "fd %d is TLS material (%s): only the supervisor may hold it", fds[i], targets[i]);
                else if (kinds[i] == AUDIT_FD_PRIVATE_KEY)
                        why_add(&w, "fd %d is a private key file (%s)", fds[i], targets[i]);
        }
        return !w.failed;
}

/* The first bytes of pid's fd, when it is a regular file; 0 bytes otherwise. */
static size_t fd_head(pid_t pid, int fd, char *buf, size_t size) {
        char path[64];
        struct stat st;
        ssize_t n;
        int f;

        snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int) pid, fd);
        f = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (f < 0)
                return 0;
        n = fstat(f, &st) == 0 && S_ISREG(st.st_mode) ? pread(f, buf, size, 0) : 0;
        close(f);
        return n > 0 ? (size_t) n : 0;
}

int audit_custody(const AuditProcess *p, char *why, size_t why_size) {
        _cleanup_free_ int *fds = NULL;
        _cleanup_free_ char (*targets)[PATH_MAX] = NULL;
        _cleanup_free_ const char **ptrs = NULL;
        _cleanup_free_ AuditFdKind *kinds = NULL;
        char path[64], head[AUDIT_KEY_HEAD];
        struct dirent *de;
        size_t n = 0;
        bool pass;
        DIR *d;

        snprintf(path, sizeof(path), "/proc/%d/fd", (int) p->pid);
        d = opendir(path);
        if (!d)
                return errno == ENOENT || errno == ESRCH ? -ENOENT : -errno;
        fds = calloc(AUDIT_CUSTODY_FDS_MAX, sizeof(int));
        targets = calloc(AUDIT_CUSTODY_FDS_MAX, sizeof(*targets));
        ptrs = calloc(AUDIT_CUSTODY_FDS_MAX, sizeof(char *));
        kinds = calloc(AUDIT_CUSTODY_FDS_MAX, sizeof(AuditFdKind));
        if (!fds || !targets || !ptrs || !kinds) {
                closedir(d);
                return -ENOMEM;
        }
        while ((de = readdir(d)) && n < AUDIT_CUSTODY_FDS_MAX) {
                uint64_t v;
                size_t len;

                if (parse_uint64(de->d_name, &v) < 0 || v > INT32_MAX ||
                    audit_read_fd_target(p->pid, (int) v, targets[n], sizeof(targets[n])) < 0)
                        continue;
                fds[n] = (int) v;
                len = targets[n][0] == '/' ? fd_head(p->pid, fds[n], head, sizeof(head)) : 0;
                kinds[n] = audit_fd_classify(targets[n], head, len);
                explicit_bzero(head, sizeof(head)); /* perhaps a key: not kept */
                ptrs[n] = targets[n];
                n++;
        }
        closedir(d);
        pass = audit_custody_check(p, fds, ptrs, kinds, n, why, why_size);
        return pass ? 1 : 0;
}

/* The names of the capabilities in mask, ","-separated, into buf ("-" for none). */
static void cap_names(uint64_t mask, char *buf, size_t size) {
        size_t len = 0;

        snprintf(buf, size, "-");
        for (int c = 0, n = 0; c < 64; c++) {
                if (!(mask & CAP_BIT(c)))
                        continue;
                char *name = cap_to_name(c);
                int k = snprintf(buf + len, size - len, "%s%s", n++ > 0 ? "," : "", name ? name : "?");
                cap_free(name);
                if (k < 0 || (size_t) k >= size - len)
                        return;
                len += (size_t) k;
        }
}

static const char *seccomp_name(int mode) {
        return mode == 0 ? "off" : mode == 1 ? "strict" : mode == 2 ? "filter" : "?";
}

static const char *verdict_name(AuditResult r) {
        return r == AUDIT_PASSED ? "PASS" : r == AUDIT_FAILED ? "FAIL" : "GONE";
}

/* The effective user's name; its number when it has none; all four ids when they differ. */
static void user_text(const ProcStatus *st, char *buf, size_t size) {
        const uid_t *u = st->uid;
        struct passwd *pw;

        if (u[0] != u[1] || u[0] != u[2] || u[0] != u[3])
                snprintf(buf, size, "%u/%u/%u/%u", (unsigned) u[0], (unsigned) u[1], (unsigned) u[2], (unsigned) u[3]);
        else if ((pw = getpwuid(u[PROC_ID_EFFECTIVE])))
                snprintf(buf, size, "%s", pw->pw_name);
        else
                snprintf(buf, size, "%u", (unsigned) u[PROC_ID_EFFECTIVE]);
}

typedef struct AuditCells {
        char pid[16], user[64], caps[512];
        const char *nnp, *seccomp, *connect;
} AuditCells;

static void audit_cells(const AuditRow *r, AuditCells *c) {
        snprintf(c->pid, sizeof(c->pid), "%d", (int) r->p.pid);
        c->connect = r->p.connect[0] ? r->p.connect : "?";
        if (!r->have_status) {
                snprintf(c->user, sizeof(c->user), "-");
                snprintf(c->caps, sizeof(c->caps), "-");
                c->nnp = c->seccomp = "-";
                return;
        }
        user_text(&r->st, c->user, sizeof(c->user));
        cap_names(r->st.cap_prm | r->st.cap_eff, c->caps, sizeof(c->caps));
        c->nnp = r->st.no_new_privs == 1 ? "yes" : r->st.no_new_privs == 0 ? "no" : "?";
        c->seccomp = seccomp_name(r->st.seccomp);
}

void audit_table_print(FILE *f, const AuditRow *rows, size_t n) {
        int w_role = (int) strlen("ROLE"), w_pid = (int) strlen("PID"), w_user = (int) strlen("USER"),
            w_caps = (int) strlen("CAPS"), w_connect = (int) strlen("CONNECT");
        AuditCells c;
        bool failed = false, limits = false;

        for (size_t i = 0; i < n; i++) {
                audit_cells(&rows[i], &c);
                w_role = MAX(w_role, (int) strlen(rows[i].p.role));
                w_pid = MAX(w_pid, (int) strlen(c.pid));
                w_user = MAX(w_user, (int) strlen(c.user));
                w_caps = MAX(w_caps, (int) strlen(c.caps));
                w_connect = MAX(w_connect, (int) strlen(c.connect));
        }
        fprintf(f, "%-*s  %*s  %-*s  %-*s  %-3s  %-7s  %-*s  %s\n", w_role, "ROLE", w_pid, "PID", w_user, "USER",
                w_caps, "CAPS", "NNP", "SECCOMP", w_connect, "CONNECT", "VERDICT");
        for (size_t i = 0; i < n; i++) {
                audit_cells(&rows[i], &c);
                fprintf(f, "%-*s  %*s  %-*s  %-*s  %-3s  %-7s  %-*s  %s\n", w_role, rows[i].p.role, w_pid, c.pid,
                        w_user, c.user, w_caps, c.caps, c.nnp, c.seccomp, w_connect, c.connect,
                        verdict_name(rows[i].result));
                failed |= rows[i].result == AUDIT_FAILED;
                limits |= rows[i].limits[0] != 0;
        }
        if (failed) {
                fputs("\nFailures:\n", f);
                for (size_t i = 0; i < n; i++)
                        if (rows[i].result == AUDIT_FAILED)
                                fprintf(f, "  %s (pid %d): %s\n", rows[i].p.role, (int) rows[i].p.pid,
                                        rows[i].why[0] ? rows[i].why : "?");
        }
        if (limits) {
                fputs("\nLimits:\n", f);
                for (size_t i = 0; i < n; i++)
                        if (rows[i].limits[0])
                                fprintf(f, "  limits of pid %d (%s): %s\n", (int) rows[i].p.pid, rows[i].p.role,
                                        rows[i].limits);
        }
}

static void json_ids(JsonWriter *w, const char *key, const unsigned *ids, size_t n) {
        json_key(w, key);
        json_array_begin(w);
        for (size_t i = 0; i < n; i++)
                json_uint(w, ids[i]);
        json_array_end(w);
}

void audit_row_json(JsonWriter *w, const AuditRow *r) {
        unsigned ids[MAX((size_t) _PROC_ID_MAX, (size_t) PROC_STATUS_GROUPS_MAX)];

        json_object_begin(w);
        json_key(w, "role");
        json_string(w, r->p.role);
        json_key(w, "pid");
        json_int(w, r->p.pid);
        json_key(w, "profile");
        json_string(w, r->p.profile);
        /* The families as a list ([] for none); null where no filter limits them (the supervisor)
         * or the supervisor did not say. */
        json_key(w, "connect");
        if (!r->p.connect[0] || strcmp(r->p.connect, "any") == 0)
                json_null(w);
        else {
                json_array_begin(w);
                for (const char *s = r->p.connect; strcmp(s, "-") != 0 && *s;) {
                        size_t len = strcspn(s, ",");
                        json_string_len(w, s, len);
                        s += len + (s[len] ? 1 : 0);
                }
                json_array_end(w);
        }
        json_key(w, "planned_uid");
        json_uint(w, r->p.uid);
        json_key(w, "planned_gid");
        json_uint(w, r->p.gid);
        if (r->have_status) {
                const ProcStatus *st = &r->st;
                char names[512];

                for (int i = 0; i < _PROC_ID_MAX; i++)
                        ids[i] = (unsigned) st->uid[i];
                json_ids(w, "uid", ids, _PROC_ID_MAX);
                for (int i = 0; i < _PROC_ID_MAX; i++)
                        ids[i] = (unsigned) st->gid[i];
                json_ids(w, "gid", ids, _PROC_ID_MAX);
                size_t n_groups = MIN(st->n_groups, (size_t) PROC_STATUS_GROUPS_MAX);
                for (size_t i = 0; i < n_groups; i++)
                        ids[i] = (unsigned) st->groups[i];
                json_ids(w, "groups", ids, n_groups);
                json_key(w, "cap_effective");
                json_uint(w, st->cap_eff);
                json_key(w, "cap_permitted");
                json_uint(w, st->cap_prm);
                json_key(w, "cap_bounding");
                json_uint(w, st->cap_bnd);
                json_key(w, "cap_ambient");
                json_uint(w, st->cap_amb);
                json_key(w, "cap_inheritable");
                json_uint(w, st->cap_inh);
                json_key(w, "holds");
                json_array_begin(w);
                cap_names(st->cap_prm | st->cap_eff, names, sizeof(names));
                for (char *save = NULL, *t = strtok_r(names, ",", &save); t && strcmp(t, "-") != 0;
                     t = strtok_r(NULL, ",", &save))
                        json_string(w, t);
                json_array_end(w);
                json_key(w, "no_new_privs");
                if (st->no_new_privs < 0)
                        json_null(w);
                else
                        json_bool(w, st->no_new_privs == 1);
                json_key(w, "seccomp");
                json_int(w, st->seccomp);
        }
        json_key(w, "verdict");
        json_string(w, verdict_name(r->result));
        json_key(w, "reasons");
        json_array_begin(w);
        for (const char *s = r->why; r->result == AUDIT_FAILED && *s;) {
                const char *end = strstr(s, "; ");
                size_t len = end ? (size_t) (end - s) : strlen(s);
                json_string_len(w, s, len);
                s += len + (end ? 2 : 0);
        }
        json_array_end(w);
        json_key(w, "limits");
        json_string(w, r->limits[0] ? r->limits : NULL);
        json_object_end(w);
}
