/* SPDX-License-Identifier: MIT */
/* mpmctl: talk to a running mpmd over its control socket. `mpmctl reload` blocks until the new
 * configuration serves (exit 0), serves but not for every site (exit 4: perchild sites whose pool
 * cannot start, named on stderr) or the reload failed (exit 1, the reasons on stderr), so it can be
 * systemd's ExecReload=. `mpmctl audit` checks every process of the service against what it must
 * be (audit.h), prints a table, and exits 1 on any failure. `status --json` and `audit --json` say
 * the same as one JSON object (shared/json-writer.h) for scripts.
 * Exit status: 0 done, 1 refused (mpmd answered with an error) or failed, 2 usage, 3 not running (no
 * socket, or nothing listening on it), 4 partial reload, 5 permission denied (the socket, or the
 * supervisor's peer check, refused this user): scripts and systemd tell "start it" from "sudo". */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "supervisor/audit.h"
#include "build-config.h"
#include "shared/conf-table.h"
#include "shared/json-writer.h"
#include "shared/macro.h"

#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3
#define EXIT_PARTIAL 4 /* reload: the new configuration serves, but not every site runs it */
#define EXIT_DENIED 5  /* mpmd runs, but this user may not control it */
#define REPLY_TIMEOUT_MS (5 * 60 * 1000) /* a reload waits for workers; bounded, never forever */
#define AUDIT_PROCESSES_MAX 8192
#define AUDIT_PROGRAMS_MAX 1024 /* per CGI launcher */
#define AUDIT_PINS_MAX 32

static void usage(FILE *f) {
        fprintf(f,
                "Usage: mpmctl [-s SOCKET] reload | status [--json] | stop [--now] | reopen-logs | drain | undrain\n"
                "       mpmctl [-s SOCKET] audit [--json] [--expect-uid ROLE=UID]… [--supervisor-caps LIST]\n"
                "       mpmctl -h | -V\n"
                "  -s, --socket SOCKET  the control socket (default %s)\n"
                "  -h, --help           show this help\n"
                "  -V, --version        show the version\n"
                "Exit status: 0 done (audit: every process passed), 1 refused or failed (audit: a process\n"
                "failed), 2 usage, 3 mpmd not running, 4 reload partial, 5 permission denied.\n",
                DEFAULT_CONTROL_SOCKET);
}

/* The option getopt_long() just refused, as written: a long one is its word (a refused long option
 * always moves optind past itself; a short one inside a cluster does not), a short one its letter. */
static const char *bad_option(char *argv[], int before) {
        static char buf[3] = "-?";

        if (optind > before && optind > 1 && strncmp(argv[optind - 1], "--", 2) == 0)
                return argv[optind - 1];
        buf[1] = (char) optopt;
        return buf;
}

/* Why connect() failed, said as what it means for the user: mpmd not running (3), or running but not
 * theirs to control (5). The control socket is created mode 0600 and the supervisor answers only
 * root and its own effective user (control-socket.c): that is whom the message names. */
static int connect_failed(const char *path, int err) {
        struct stat st;

        if (err == EACCES || err == EPERM) {
                bool seen = stat(path, &st) == 0;
                struct passwd *pw = seen ? getpwuid(st.st_uid) : NULL;
                if (seen && st.st_uid == 0)
                        fprintf(stderr, "mpmctl: permission denied on %s: run as root (mpmd runs as root and "
                                "answers only root)\n", path);
                else if (pw)
                        fprintf(stderr,
                                "mpmctl: permission denied on %s: run as root or as %s, the user mpmd runs as\n",
                                path, pw->pw_name);
                else
                        fprintf(stderr, "mpmctl: permission denied on %s: run as root or as the user mpmd runs as\n",
                                path);
                return EXIT_DENIED;
        }
        if (err == ENOENT || err == ECONNREFUSED)
                fprintf(stderr, "mpmctl: cannot reach mpmd at %s: mpmd is not running (%s)\n", path,
                        err == ENOENT ? "no socket there" : "the socket refuses connections: left by a stopped mpmd");
        else
                fprintf(stderr, "mpmctl: cannot reach mpmd at %s: %s\n", path, strerror(err));
        return EXIT_UNREACHABLE;
}

typedef int (*ReplyLine)(void *userdata, const char *text);

/* Send command and hand each message of the answer (the first without its "OK"/"ERROR" word) to
 * on_line. Returns EXIT_SUCCESS when the answer began with OK. */
static int control_call(const char *path, const char *command, ReplyLine on_line, void *userdata) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char reply[4097];
        int status = EXIT_FAILURE;
        bool first = true;
        _cleanup_close_ int fd = -1;

        if (strlen(path) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "mpmctl: socket path too long: %s\n", path);
                return EXIT_USAGE;
        }
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                fprintf(stderr, "mpmctl: cannot create a socket: %s\n", strerror(errno));
                return EXIT_FAILURE;
        }
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return connect_failed(path, errno);
        if (send(fd, command, strlen(command), MSG_NOSIGNAL) < 0) {
                fprintf(stderr, "mpmctl: cannot send to %s: %s\n", path, strerror(errno));
                return EXIT_UNREACHABLE;
        }
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, REPLY_TIMEOUT_MS) <= 0) {
                        fprintf(stderr, "mpmctl: no answer from mpmd\n");
                        return EXIT_FAILURE;
                }
                ssize_t n = recv(fd, reply, sizeof(reply) - 1, 0);
                if (n <= 0)
                        break;
                reply[n] = 0;
                const char *text = reply;
                if (first) {
                        first = false;
                        if (strncmp(reply, "OK", 2) == 0) {
                                status = EXIT_SUCCESS;
                                text = reply[2] == ' ' || reply[2] == '\n' ? reply + 3 : reply + 2;
                        } else if (strncmp(reply, "PARTIAL", 7) == 0) {
                                /* A reload that applies, but not to every site (those named keep
                                 * their previous pool, or answer 503): said on stderr. */
                                status = EXIT_PARTIAL;
                                text = reply[7] == ' ' ? reply + 8 : reply + 7;
                        } else if (strncmp(reply, "ERROR", 5) == 0) {
                                text = reply[5] == ' ' ? reply + 6 : reply + 5;
                                /* The peer check of control-socket.c, for a socket whose mode let
                                 * this user connect: the same answer as the mode's own refusal. */
                                if (strncmp(text, "permission denied", 17) == 0)
                                        status = EXIT_DENIED;
                        }
                }
                if (status != EXIT_SUCCESS) {
                        if (*text)
                                fprintf(stderr, "%s\n", text);
                } else if (on_line(userdata, text) < 0)
                        return EXIT_FAILURE;
        }
        if (first) {
                fprintf(stderr, "mpmctl: mpmd closed the connection without an answer\n");
                return EXIT_FAILURE;
        }
        return status;
}

static int print_line(void *userdata, const char *text) {
        if (*text)
                printf("%s\n", text);
        return 0;
}

/* ---- status --json ------------------------------------------------------------------------------ */

/* The text answer of "status" (control.c) is "KEY: VALUE" lines meant for a person; --json says
 * the same for a script, parsed here so the text stays the one format the server speaks. The key
 * becomes snake_case ("old generations' processes" -> "old_generations_processes"); a value is a
 * number when it is one: "N" -> N, "N s" -> key_seconds N, "N (a N, b N)" -> {"total": N, "a": N,
 * "b": N}, "a N, b N" -> {"a": N, "b": N}; anything else a string, "none" null. "failed …" lines
 * (sites whose pool cannot start) gather in "failed", an array of strings. A key the server adds
 * later comes through by the same rules. */

static bool parse_number(const char *s, size_t n, uint64_t *ret) {
        char b[32];

        if (n == 0 || n >= sizeof(b))
                return false;
        memcpy(b, s, n);
        b[n] = 0;
        return parse_uint64(b, ret) >= 0;
}

/* "a N, b N, c N" (each name a word, each number whole) as members of the open object; false,
 * writing nothing, when the text is not that. */
static bool json_counts(JsonWriter *w, const char *s, size_t n, bool write) {
        size_t i = 0;

        while (i < n) {
                size_t sp = i;
                while (sp < n && s[sp] != ' ' && s[sp] != ',')
                        sp++;
                if (sp == i || sp >= n || s[sp] != ' ')
                        return false;
                size_t end = sp + 1;
                while (end < n && s[end] != ',')
                        end++;
                uint64_t v;
                if (!parse_number(s + sp + 1, end - sp - 1, &v))
                        return false;
                if (write) {
                        char key[64];
                        snprintf(key, sizeof(key), "%.*s", (int) (sp - i), s + i);
                        json_key(w, key);
                        json_uint(w, v);
                }
                i = end;
                if (i < n) {
                        if (i + 1 >= n || s[i + 1] != ' ')
                                return false;
                        i += 2;
                }
        }
        return n > 0;
}

static void json_status_value(JsonWriter *w, const char *key, const char *v) {
        size_t n = strlen(v);
        const char *paren = strstr(v, " (");
        uint64_t x;
        char k[96];

        if (parse_number(v, n, &x)) {
                json_key(w, key);
                json_uint(w, x);
        } else if (n > 2 && strcmp(v + n - 2, " s") == 0 && parse_number(v, n - 2, &x)) {
                snprintf(k, sizeof(k), "%s_seconds", key);
                json_key(w, k);
                json_uint(w, x);
        } else if (paren && v[n - 1] == ')' && parse_number(v, (size_t) (paren - v), &x) &&
                   json_counts(w, paren + 2, n - (size_t) (paren - v) - 3, false)) {
                json_key(w, key);
                json_object_begin(w);
                json_key(w, "total");
                json_uint(w, x);
                json_counts(w, paren + 2, n - (size_t) (paren - v) - 3, true);
                json_object_end(w);
        } else if (json_counts(w, v, n, false)) {
                json_key(w, key);
                json_object_begin(w);
                json_counts(w, v, n, true);
                json_object_end(w);
        } else {
                json_key(w, key);
                if (strcmp(v, "none") == 0)
                        json_null(w);
                else
                        json_string(w, v);
        }
}

typedef struct StatusJson {
        JsonWriter *w;
        char **failed;
        size_t n_failed;
        bool bad;
} StatusJson;

static int status_json_line(void *userdata, const char *text) {
        StatusJson *j = userdata;

        /* One message; its lines are the keys (the first message carries them all after "OK\n"). */
        for (const char *line = text; *line;) {
                size_t len = strcspn(line, "\n");
                _cleanup_free_ char *l = strndup(line, len);
                if (!l)
                        return -ENOMEM;
                line += len + (line[len] == '\n');
                if (!*l)
                        continue;
                if (strncmp(l, "failed ", 7) == 0) {
                        char **f = realloc(j->failed, (j->n_failed + 1) * sizeof(char *));
                        if (!f)
                                return -ENOMEM;
                        j->failed = f;
                        j->failed[j->n_failed++] = TAKE_PTR(l);
                        continue;
                }
                char *colon = strstr(l, ": ");
                if (!colon || colon == l) {
                        fprintf(stderr, "mpmctl: cannot parse the status line \"%s\"\n", l);
                        j->bad = true;
                        continue;
                }
                *colon = 0;
                char key[64];
                size_t k = 0;
                for (const char *c = l; *c && k + 1 < sizeof(key); c++)
                        if (*c == ' ' || *c == '-')
                                key[k++] = '_';
                        else if (*c != '\'')
                                key[k++] = *c;
                key[k] = 0;
                json_status_value(j->w, key, colon + 2);
        }
        return 0;
}

static int status_json_main(const char *path) {
        JsonWriter w;
        StatusJson j = { .w = &w };
        const char *out;
        int r;

        json_writer_init(&w);
        json_object_begin(&w);
        r = control_call(path, "status", status_json_line, &j);
        if (r == EXIT_SUCCESS) {
                json_key(&w, "failed");
                json_array_begin(&w);
                for (size_t i = 0; i < j.n_failed; i++)
                        json_string(&w, j.failed[i] + 7);
                json_array_end(&w);
                json_object_end(&w);
                if (json_writer_finish(&w, &out) < 0) {
                        fprintf(stderr, "mpmctl: out of memory\n");
                        r = EXIT_FAILURE;
                } else if (j.bad)
                        r = EXIT_FAILURE;
                else
                        printf("%s\n", out);
        }
        for (size_t i = 0; i < j.n_failed; i++)
                free(j.failed[i]);
        free(j.failed);
        json_writer_done(&w);
        return r;
}

/* ---- audit ---------------------------------------------------------------------------------- */

typedef struct AuditPin {
        const char *role;
        uid_t uid;
} AuditPin;

typedef struct AuditRun {
        char mpm[32];
        AuditProcess *procs;
        size_t n_procs;
        bool bad_line;
} AuditRun;

/* The answer to "processes": "MPM\nSUPERVISOR-LINE" first, then one process a message. */
static int audit_collect(void *userdata, const char *text) {
        AuditRun *a = userdata;
        const char *line = text;

        if (a->mpm[0] == 0) {
                const char *nl = strchr(text, '\n');
                if (!nl || nl == text || (size_t) (nl - text) >= sizeof(a->mpm)) {
                        a->bad_line = true;
                        return 0;
                }
                memcpy(a->mpm, text, (size_t) (nl - text));
                line = nl + 1;
        }
        if (a->n_procs >= AUDIT_PROCESSES_MAX)
                return -E2BIG;
        if (audit_process_parse(line, &a->procs[a->n_procs]) < 0) {
                fprintf(stderr, "mpmctl: cannot parse the process line \"%s\"\n", line);
                a->bad_line = true;
                return 0;
        }
        a->n_procs++;
        return 0;
}

/* The groups a user may hold: its getgrouplist(). */
static size_t user_groups(uid_t uid, gid_t gid, gid_t *groups, size_t max) {
        struct passwd *pw = getpwuid(uid);
        int n = (int) max;

        if (!pw || getgrouplist(pw->pw_name, gid, groups, &n) < 0)
                return 0;
        return (size_t) n;
}

/* The limits a launcher or a program runs under, into row->limits: a note, never a FAIL. A
 * launcher holds only MaxProcesses itself; its programs get all three at their exec. */
static void audit_limits(AuditRow *row, bool program) {
        SiteLimits l;
        char text[160];

        if (audit_read_limits(row->p.pid, &l) < 0)
                return;
        if (!program)
                l = (SiteLimits) { .max_processes = l.max_processes };
        site_limits_format(&l, text, sizeof(text));
        snprintf(row->limits, sizeof(row->limits), "%s (rlimit%s); cgroup: none, not used by this mpmd (note)", text,
                 program ? "" : ", its programs get MemoryMax and MaxProgramSeconds at their exec");
}

/* Check one process into row. program: a CGI program (not in the plan), whose standard output and
 * error are checked as well. */
static AuditResult audit_one(const AuditProcess *p, AuditExpect *e, bool program, AuditRow *row) {
        gid_t groups[PROC_STATUS_GROUPS_MAX];
        char targets[3][PATH_MAX], why_stdio[512];
        const char *t[3] = {};
        pid_t ppid = 0;
        int r;

        *row = (AuditRow) { .p = *p };
        e->n_groups = user_groups(e->uid, e->gid, groups, ELEMENTSOF(groups));
        e->groups = groups;
        r = proc_status_read(p->pid, &row->st);
        if (r >= 0)
                r = audit_read_ppid(p->pid, &ppid);
        for (int fd = 0; program && r >= 0 && fd < 3; fd++) {
                int k = audit_read_fd_target(p->pid, fd, targets[fd], sizeof(targets[fd]));
                if (k == 0)
                        t[fd] = targets[fd];
                else if (k != -ENOENT)
                        r = k;
        }
        if (r == -ENOENT)
                /* Replaced (or, a program, finished) between the list and now. */
                return row->result = AUDIT_GONE;
        if (r < 0) {
                snprintf(row->why, sizeof(row->why), "cannot read /proc/%d: %s", (int) p->pid, strerror(-r));
                return row->result = AUDIT_FAILED;
        }
        row->have_status = true;
        bool pass = audit_check(p, e, &row->st, ppid, row->why, sizeof(row->why));
        if (program && !audit_check_program_stdio(t, why_stdio, sizeof(why_stdio))) {
                size_t len = strlen(row->why);
                snprintf(row->why + len, sizeof(row->why) - len, "%s%s", pass ? "" : "; ", why_stdio);
                pass = false;
        }
        char why_keys[512];
        if (audit_custody(p, why_keys, sizeof(why_keys)) == 0) { /* gone since: its verdict stands */
                size_t len = strlen(row->why);
                snprintf(row->why + len, sizeof(row->why) - len, "%s%s", pass ? "" : "; ", why_keys);
                pass = false;
        }
        if (program || strcmp(p->profile, "cgi-launcher") == 0)
                audit_limits(row, program);
        return row->result = pass ? AUDIT_PASSED : AUDIT_FAILED;
}

/* Room for one more row at the end of rows; NULL when memory runs out. */
static AuditRow *audit_row_next(AuditRow **rows, size_t *n, size_t *allocated) {
        if (*n == *allocated) {
                size_t k = *allocated ? *allocated * 2 : 64;
                AuditRow *r = reallocarray(*rows, k, sizeof(AuditRow));
                if (!r)
                        return NULL;
                *rows = r;
                *allocated = k;
        }
        return &(*rows)[(*n)++];
}

static int audit_main(const char *path, int argc, char **argv) {
        AuditPin pins[AUDIT_PINS_MAX];
        size_t n_pins = 0;
        const char *caps = NULL;
        AuditRun a = {};
        AuditRow *rows = NULL, *row;
        size_t n_rows = 0, allocated = 0;
        unsigned failed = 0, gone = 0, programs = 0;
        bool json = false;
        pid_t supervisor = 0;
        int r;

        for (int i = 0; i < argc; i++) {
                if (strcmp(argv[i], "--expect-uid") == 0 && i + 1 < argc && n_pins < AUDIT_PINS_MAX) {
                        char *eq = strrchr(argv[++i], '=');
                        uint64_t v;
                        if (!eq || eq == argv[i] || parse_uint64(eq + 1, &v) < 0 || v >= UINT32_MAX) {
                                fprintf(stderr, "mpmctl: --expect-uid wants ROLE=UID, got \"%s\"\n", argv[i]);
                                return EXIT_USAGE;
                        }
                        *eq = 0;
                        pins[n_pins++] = (AuditPin) { .role = argv[i], .uid = (uid_t) v };
                } else if (strcmp(argv[i], "--supervisor-caps") == 0 && i + 1 < argc)
                        caps = argv[++i];
                else if (strcmp(argv[i], "--json") == 0)
                        json = true;
                else {
                        fprintf(stderr, "mpmctl: audit: unexpected argument \"%s\"\n", argv[i]);
                        usage(stderr);
                        return EXIT_USAGE;
                }
        }

        a.procs = calloc(AUDIT_PROCESSES_MAX, sizeof(AuditProcess));
        if (!a.procs)
                return EXIT_FAILURE;
        r = control_call(path, "processes", audit_collect, &a);
        if (r != EXIT_SUCCESS || a.bad_line || a.n_procs == 0) {
                free(a.procs);
                if (r == EXIT_SUCCESS)
                        fprintf(stderr, "mpmctl: mpmd answered no usable process list\n");
                return r == EXIT_SUCCESS ? EXIT_FAILURE : r;
        }

        uid_t supervisor_uid = 0;
        for (size_t i = 0; i < a.n_procs; i++)
                if (audit_process_is_supervisor(&a.procs[i])) {
                        supervisor = a.procs[i].pid;
                        supervisor_uid = a.procs[i].uid;
                }
        uint64_t allowed = audit_supervisor_allowed(supervisor_uid);
        if (caps && audit_caps_parse(caps, &allowed) < 0) {
                fprintf(stderr, "mpmctl: --supervisor-caps: not a list of capability names: \"%s\"\n", caps);
                free(a.procs);
                return EXIT_USAGE;
        }

        for (size_t i = 0; i < a.n_procs; i++) {
                const AuditProcess *p = &a.procs[i];
                AuditExpect e = {
                        .uid = p->uid,
                        .gid = p->gid,
                        .parent = supervisor,
                        .bounding_allowed = allowed,
                };

                for (size_t k = 0; k < n_pins; k++)
                        if (strcmp(pins[k].role, p->role) == 0)
                                e.uid = pins[k].uid;
                if (!(row = audit_row_next(&rows, &n_rows, &allocated)))
                        goto oom;
                AuditResult res = audit_one(p, &e, false, row);
                failed += res == AUDIT_FAILED;
                gone += res == AUDIT_GONE;
                if (res == AUDIT_GONE || strcmp(p->profile, "cgi-launcher") != 0)
                        continue;
                /* Its programs running now: the launcher's ids and sandbox, and pipes for output. */
                pid_t kids[AUDIT_PROGRAMS_MAX];
                int n = audit_list_children(p->pid, kids, ELEMENTSOF(kids));
                for (int k = 0; k < n; k++) {
                        AuditProcess prog = { .pid = kids[k], .uid = e.uid, .gid = p->gid };
                        AuditExpect pe = e;
                        snprintf(prog.profile, sizeof(prog.profile), "%s", p->profile);
                        snprintf(prog.connect, sizeof(prog.connect), "%s", p->connect);
                        snprintf(prog.role, sizeof(prog.role), "cgi program of %.*s", (int) sizeof(prog.role) - 16, p->role);
                        pe.parent = p->pid;
                        if (!(row = audit_row_next(&rows, &n_rows, &allocated)))
                                goto oom;
                        res = audit_one(&prog, &pe, true, row);
                        if (res == AUDIT_GONE)
                                n_rows--; /* a program that finished is not one of the service's any more */
                        programs += res != AUDIT_GONE;
                        failed += res == AUDIT_FAILED;
                }
        }
        unsigned audited = (unsigned) (a.n_procs + programs - gone);
        if (json) {
                JsonWriter w;
                const char *out;

                json_writer_init(&w);
                json_object_begin(&w);
                json_key(&w, "mpm");
                json_string(&w, a.mpm);
                json_key(&w, "processes");
                json_array_begin(&w);
                for (size_t i = 0; i < n_rows; i++)
                        audit_row_json(&w, &rows[i]);
                json_array_end(&w);
                json_key(&w, "audited");
                json_uint(&w, audited);
                json_key(&w, "cgi_programs");
                json_uint(&w, programs);
                json_key(&w, "failed");
                json_uint(&w, failed);
                json_key(&w, "gone");
                json_uint(&w, gone);
                json_object_end(&w);
                r = json_writer_finish(&w, &out);
                if (r >= 0)
                        printf("%s\n", out);
                json_writer_done(&w);
                if (r < 0)
                        goto oom;
        } else {
                audit_table_print(stdout, rows, n_rows);
                printf("\n%u process(es) of MPM %s (%u CGI program(s) among them): %u failed%s\n", audited, a.mpm,
                       programs, failed, gone ? ", some exited during the audit" : "");
        }
        free(rows);
        free(a.procs);
        return failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
oom:
        fprintf(stderr, "mpmctl: out of memory\n");
        free(rows);
        free(a.procs);
        return EXIT_FAILURE;
}

static const struct option mpmctl_options[] = {
        { "socket", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        {}
};

int main(int argc, char *argv[]) {
        const char *path = DEFAULT_CONTROL_SOCKET;
        char command[64];
        int c;

        opterr = 0;
        /* "+": the options end at the command, whose own options ("--now", "--json") follow it. */
        for (;;) {
                int before = optind;
                c = getopt_long(argc, argv, "+:s:hV", mpmctl_options, NULL);
                if (c < 0)
                        break;
                switch (c) {
                case 's':
                        path = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return EXIT_SUCCESS;
                case 'V':
                        printf("mpmctl (mpmd) %s\n", PACKAGE_VERSION);
                        return EXIT_SUCCESS;
                case ':':
                        fprintf(stderr, "mpmctl: option %s needs an argument\n", bad_option(argv, before));
                        usage(stderr);
                        return EXIT_USAGE;
                default:
                        fprintf(stderr, "mpmctl: unknown option %s\n", bad_option(argv, before));
                        usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                fprintf(stderr, "mpmctl: no command given\n");
                usage(stderr);
                return EXIT_USAGE;
        }
        const char *verb = argv[optind];
        if (strcmp(verb, "audit") == 0)
                return audit_main(path, argc - optind - 1, argv + optind + 1);
        bool now = optind + 1 < argc && strcmp(argv[optind + 1], "--now") == 0;
        bool json = optind + 1 < argc && strcmp(argv[optind + 1], "--json") == 0;
        int extra = argc - optind - 1 - (now || json ? 1 : 0);
        if (strcmp(verb, "reload") != 0 && strcmp(verb, "status") != 0 && strcmp(verb, "stop") != 0 &&
            strcmp(verb, "reopen-logs") != 0 && strcmp(verb, "drain") != 0 && strcmp(verb, "undrain") != 0) {
                fprintf(stderr, "mpmctl: unknown command \"%s\"\n", verb);
                usage(stderr);
                return EXIT_USAGE;
        }
        if (extra > 0 || (now && strcmp(verb, "stop") != 0) || (json && strcmp(verb, "status") != 0)) {
                fprintf(stderr, "mpmctl: %s: unexpected argument \"%s\"\n", verb, argv[argc - 1]);
                usage(stderr);
                return EXIT_USAGE;
        }
        if (json)
                return status_json_main(path);
        snprintf(command, sizeof(command), "%s%s", verb, now ? " --now" : "");
        return control_call(path, command, print_line, NULL);
}
