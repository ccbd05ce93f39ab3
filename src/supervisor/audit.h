/* SPDX-License-Identifier: MIT */
/* audit.h — `mpmctl audit`: does each process of a running mpmd hold only what it must?
 *
 * The supervisor says what each process was planned to be (control command "processes": pid,
 * uid, gid, sandbox profile, the socket families its filter lets it connect with, role); the kernel
 * says what it is (/proc/PID/status, read with proc_status_read(), proc-status.h). A process passes
 * when the kernel's view matches the plan and the rules of its role:
 *   supervisor   its permitted, effective and bounding sets within what it keeps at start
 *                (privileges.h: as root CAP_SETUID CAP_SETGID CAP_SETPCAP CAP_KILL, with every MPM;
 *                not root, nothing), its inheritable and ambient sets empty, NoNewPrivs 1. The
 *                bounding set of a supervisor that is not root, holds nothing and has NoNewPrivs is
 *                not held against it: it cannot drop it and nothing can use it.
 *   cgi program  (a running child of a CGI launcher, not in the plan: found in /proc) as any other
 *                process, with its launcher's ids and its launcher as its parent, and its standard
 *                output and error pipes (audit_check_program_stdio()).
 *   any other    real, effective, saved and filesystem ids all the planned uid and gid (never 0),
 *                supplementary groups only the user's own (never 0), every capability set empty
 *                including the bounding and ambient sets, NoNewPrivs 1, Seccomp 2 (a filter), and
 *                the supervisor as its parent.
 * Key custody, for every process: the supervisor alone may hold a descriptor of TLS material (the
 * sealed memfds "mpmd-tls:SITE" of tls-custody.h) or of a private key file (a regular file whose
 * text begins a PEM private key, found by its content, wherever it lies: the audit does not read
 * the configuration). A pool closes its own memfds once its store is loaded; the dispatchers, the
 * CGI launchers and their programs never have any (audit_custody_check()).
 * For a CGI launcher and each of its programs, the resource limits in force (site-limits.h) are
 * shown from /proc/PID/limits, with the mechanism (rlimit; cgroups are not used yet, which is a
 * note, not a FAIL).
 * An operator may pin a role to a uid of their own knowledge (--expect-uid ROLE=UID), which then
 * overrides the plan: that is how the audit catches a supervisor whose plan is itself wrong.
 * Parsing and checking do no I/O except audit_read_ppid(); nothing here prints except
 * audit_table_print() (for a person: a table of the processes, then the reasons of each FAIL) and
 * audit_row_json() (for a script: every field, numbers as numbers). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "shared/json-writer.h"
#include "shared/proc-status.h"
#include "mpm/site-limits.h"

#define AUDIT_ROLE_MAX 64
#define AUDIT_PROFILE_MAX 32
#define AUDIT_CONNECT_MAX 32

/* One line of the "processes" answer. */
typedef struct AuditProcess {
        pid_t pid;
        uid_t uid;
        gid_t gid;
        char profile[AUDIT_PROFILE_MAX]; /* "-" for the supervisor */
        char role[AUDIT_ROLE_MAX];       /* "supervisor", "dispatcher", "pool NAME", "worker" … */
        /* What its filter lets it make sockets of and connect() with, as planned (the kernel does
         * not show a filter's rules): "unix,inet,inet6" or part of it, "-" for nothing, "any" for
         * no filter (the supervisor); "" when the supervisor did not say (an older mpmd). */
        char connect[AUDIT_CONNECT_MAX];
} AuditProcess;

/* Parse "PID UID GID PROFILE [connect=FAMILIES] ROLE…" (single spaces; the role may contain
 * spaces). Numbers are strict: digits only, in range, pid > 0; FAMILIES is "-", "any" or names
 * of unix, inet, inet6 separated by commas, each once. Returns 0 or -EINVAL. */
int audit_process_parse(const char *line, AuditProcess *ret);

bool audit_process_is_supervisor(const AuditProcess *p);

/* What a process must be, beyond its own line. */
typedef struct AuditExpect {
        uid_t uid;               /* ids every id of the process must equal (the plan, or --expect-uid) */
        gid_t gid;
        const gid_t *groups;     /* the supplementary groups it may have; NULL, 0: only gid */
        size_t n_groups;
        pid_t parent;            /* its parent must be this pid; 0: not checked */
        uint64_t bounding_allowed; /* supervisor: the capability sets must stay within this mask */
} AuditExpect;

/* Check st (and the process's parent, ppid) against e for p's role. Returns true on PASS; on FAIL
 * writes every reason, "; "-separated, to why. */
bool audit_check(const AuditProcess *p, const AuditExpect *e, const ProcStatus *st, pid_t ppid, char *why,
                 size_t why_size);

/* The capabilities a supervisor running as uid may hold (privileges_needed()). */
uint64_t audit_supervisor_allowed(uid_t uid);

/* Parse a list of capability names ("CAP_SETUID CAP_KILL", "cap_setuid,cap_kill"; empty: none)
 * into a mask. Returns 0 or -EINVAL for an unknown name. */
int audit_caps_parse(const char *list, uint64_t *ret);

/* The limits a process runs under, from the text of /proc/PID/limits: the soft values of
 * "Max processes", "Max address space" and "Max cpu time" as SiteLimits (unlimited: 0). Returns 0
 * or -EBADMSG when a line is missing or malformed. */
int audit_limits_parse(const char *text, SiteLimits *ret);

/* The same, read from /proc/PID/limits: 0, -ENOENT when the process is gone, -EBADMSG, -errno. */
int audit_read_limits(pid_t pid, SiteLimits *ret);

/* The PPid line of /proc/PID/status: 0 and *ret, -ENOENT when the process is gone, -EBADMSG. */
int audit_read_ppid(pid_t pid, pid_t *ret);

/* The pids whose parent is parent (a scan of /proc), at most max of them into ret; returns how many,
 * or -errno. */
int audit_list_children(pid_t parent, pid_t *ret, size_t max);

/* Where descriptor fd of pid leads (readlink of /proc/PID/fd/FD: "pipe:[N]", "/path", …) into buf;
 * 0, -ENOENT when the process or the descriptor is gone, or -errno. */
int audit_read_fd_target(pid_t pid, int fd, char *buf, size_t size);

/* A CGI program's standard output and error (targets[1], targets[2], from audit_read_fd_target())
 * must be pipes, which its pool and its launcher read: never a log file or another shared file the
 * program could write, truncate or forge lines in. Returns true on PASS; else the reasons in why. */
bool audit_check_program_stdio(const char *const targets[3], char *why, size_t why_size);

/* What a descriptor of a process is to key custody: from its target (audit_read_fd_target()) and,
 * for a regular file, the first bytes of its contents (head, may be NULL). */
typedef enum AuditFdKind {
        AUDIT_FD_OTHER,
        AUDIT_FD_TLS_MATERIAL, /* a sealed memfd of a site's certificates and keys, or of a client
                                * certificate to upstreams with its key */
        AUDIT_FD_PRIVATE_KEY,  /* a file whose text begins "-----BEGIN … PRIVATE KEY-----" */
} AuditFdKind;
AuditFdKind audit_fd_classify(const char *target, const char *head, size_t head_len);

/* Key custody for p (see above): every descriptor the process has, as fds[i] (number), targets[i]
 * and kinds[i]. True on PASS (always for the supervisor); else the reasons in why. */
bool audit_custody_check(const AuditProcess *p, const int *fds, const char *const *targets, const AuditFdKind *kinds,
                         size_t n, char *why, size_t why_size);

/* The same, read from /proc/PID/fd (a regular file's first bytes read through it, never shown):
 * 1 PASS, 0 FAIL (why), -ENOENT when the process is gone, or -errno. */
int audit_custody(const AuditProcess *p, char *why, size_t why_size);

typedef enum AuditResult {
        AUDIT_PASSED,
        AUDIT_FAILED,
        AUDIT_GONE, /* exited between the list and its check: neither */
} AuditResult;

/* One process as audited: its plan, what the kernel said, the verdict and its reasons, and for a
 * CGI launcher or program the limits it runs under. */
typedef struct AuditRow {
        AuditProcess p;
        ProcStatus st;
        bool have_status;  /* st was read; false for a process gone or whose /proc could not be read */
        AuditResult result;
        char why[1024];    /* a FAIL's reasons, "; "-separated */
        char limits[320];  /* "" when not shown */
} AuditRow;

/* The table, one row per process: role, pid, user (the effective uid's name, or the four ids when
 * they differ), caps (the names of the permitted and effective capabilities; "-" for none), nnp,
 * seccomp (off, strict, filter), connect (AuditProcess.connect; "?" when not said), verdict (PASS,
 * FAIL, GONE); below it each FAIL's reasons, then
 * the limits notes ("  limits of pid N (ROLE): …"). */
void audit_table_print(FILE *f, const AuditRow *rows, size_t n);

/* One row as a JSON object: role, pid, profile, connect (the families as an array, [] for none;
 * null for "any" or when not said), planned uid and gid, the four uids and gids, the
 * groups, the five capability sets as numbers and the held ones by name, no_new_privs, seccomp,
 * verdict, reasons (an array) and limits (null when not shown). */
void audit_row_json(JsonWriter *w, const AuditRow *row);
