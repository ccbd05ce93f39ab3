/* SPDX-License-Identifier: MIT */
/* `mpmctl audit`: parsing the supervisor's process list and judging /proc status texts. */
#include <criterion/criterion.h>
#include <errno.h>
#include <criterion/parameterized.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shared/macro.h"
#include "supervisor/audit.h"

/* A perchild pool process as the sandbox leaves it: site ids, nothing else. */
static const char pool_status[] = "Name:\tmpmd\n"
                                  "PPid:\t100\n"
                                  "Uid:\t1001\t1001\t1001\t1001\n"
                                  "Gid:\t1001\t1001\t1001\t1001\n"
                                  "Groups:\t1001 \n"
                                  "CapInh:\t0000000000000000\n"
                                  "CapPrm:\t0000000000000000\n"
                                  "CapEff:\t0000000000000000\n"
                                  "CapBnd:\t0000000000000000\n"
                                  "CapAmb:\t0000000000000000\n"
                                  "NoNewPrivs:\t1\n"
                                  "Seccomp:\t2\n";

static const AuditProcess pool = { .pid = 200, .uid = 1001, .gid = 1001, .profile = "pool", .role = "pool a.test" };
static const AuditExpect pool_expect = { .uid = 1001, .gid = 1001, .parent = 100 };

/* A status text with one line replaced: the way a broken sandbox would look. */
static void status_with_text(const char *base, const char *key, const char *line, ProcStatus *ret) {
        char text[1024];
        const char *at = strstr(base, key);
        const char *eol = strchr(at, '\n') + 1;

        cr_assert_lt(strlen(base) + strlen(line), sizeof(text));
        snprintf(text, sizeof(text), "%.*s%s%s", (int) (at - base), base, line, eol);
        cr_assert_eq(proc_status_parse(text, ret), 0, "%s", text);
}

static void status_with(const char *key, const char *line, ProcStatus *ret) {
        status_with_text(pool_status, key, line, ret);
}

Test(audit, parses_process_lines) {
        AuditProcess p;

        cr_assert_eq(audit_process_parse("1234 1001 1002 pool pool a.test", &p), 0);
        cr_assert_eq(p.pid, 1234);
        cr_assert_eq(p.uid, 1001);
        cr_assert_eq(p.gid, 1002);
        cr_assert_str_eq(p.profile, "pool");
        cr_assert_str_eq(p.role, "pool a.test");
        cr_assert_str_eq(p.connect, ""); /* an older mpmd says nothing of it */
        cr_assert_eq(audit_process_parse("1 0 0 - supervisor", &p), 0);
        cr_assert(audit_process_is_supervisor(&p));
        cr_assert_not(audit_process_is_supervisor(&pool));
}

/* What a filter lets a process connect with, as the supervisor says it, before the role. */
Test(audit, parses_what_a_process_may_connect) {
        static const char *const good[][2] = {
                {"1234 1001 1002 pool connect=- pool a.test", "-"},
                {"1234 1001 1002 pool connect=unix pool a.test", "unix"},
                {"1234 1001 1002 event connect=unix,inet,inet6 worker", "unix,inet,inet6"},
                {"1234 1001 1002 event connect=inet6,inet worker", "inet6,inet"},
                {"1 0 0 - connect=any supervisor", "any"},
        };
        AuditProcess p;

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                cr_assert_eq(audit_process_parse(good[i][0], &p), 0, "refused \"%s\"", good[i][0]);
                cr_assert_str_eq(p.connect, good[i][1]);
        }
        cr_assert_str_eq(p.role, "supervisor");
        cr_assert_eq(audit_process_parse("1234 1001 1002 pool connect=unix pool a.test", &p), 0);
        cr_assert_str_eq(p.role, "pool a.test");
}

/* Inline text, not pointers: criterion runs each case in a new process of this (PIE) binary. */
typedef struct BadLine {
        char text[64];
} BadLine;

/* The table's CONNECT column and the JSON's connect: the families, "-" / [] for none, "any" / null
 * for no filter, "?" / null when the supervisor did not say. */
Test(audit, table_and_json_show_what_a_process_may_connect) {
        static const char *const lines[] = {
                "1 0 0 - connect=any supervisor",
                "10 1001 1001 pool connect=unix,inet pool a.test",
                "11 1002 1002 pool connect=- pool b.test",
                "12 1003 1003 event worker",
        };
        static const char *const want_json[] = {"null", "[\"unix\",\"inet\"]", "[]", "null"};
        static const char *const want_cell[] = {" any ", " unix,inet ", " - ", " ? "};
        AuditRow rows[ELEMENTSOF(lines)] = {};
        char *table = NULL;
        size_t table_len = 0;

        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                cr_assert_eq(audit_process_parse(lines[i], &rows[i].p), 0);
                rows[i].result = AUDIT_PASSED;
        }
        FILE *f = open_memstream(&table, &table_len);
        cr_assert_not_null(f);
        audit_table_print(f, rows, ELEMENTSOF(rows));
        cr_assert_eq(fclose(f), 0);
        cr_assert(strstr(table, " SECCOMP  CONNECT    VERDICT\n"), "%s", table);
        char *line = strchr(table, '\n') + 1;
        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                char *end = strchr(line, '\n');
                cr_assert_not_null(end);
                *end = 0;
                cr_assert(strstr(line, want_cell[i]), "row %zu: \"%s\"", i, line);
                line = end + 1;
        }
        free(table);

        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                JsonWriter w;
                const char *text;
                char want[64];

                json_writer_init(&w);
                audit_row_json(&w, &rows[i]);
                cr_assert_eq(json_writer_finish(&w, &text), 0);
                snprintf(want, sizeof(want), "\"connect\":%s,", want_json[i]);
                cr_assert(strstr(text, want), "row %zu: %s", i, text);
                json_writer_done(&w);
        }
}

ParameterizedTestParameters(audit, rejects_bad_lines) {
        static BadLine bad[] = {
                { "" },
                { "0 1 1 pool x" },            /* pid 0 */
                { "-5 1 1 pool x" },           /* sign */
                { "12 1 1 pool" },             /* no role */
                { "12 1 1  x" },               /* empty profile */
                { "12 4294967295 1 pool x" },  /* (uid_t) -1 */
                { "12 1x 1 pool x" },          /* not a number */
                { "12 1 1 pool x\ty" },        /* control character in the role */
                { "99999999999 1 1 pool x" },  /* beyond pid_t */
                { "12 1 1 pool connect= x" },          /* no families */
                { "12 1 1 pool connect=netlink x" },   /* not an upstream family */
                { "12 1 1 pool connect=unix,unix x" }, /* twice */
                { "12 1 1 pool connect=unix, x" },     /* an empty name */
                { "12 1 1 pool connect=unix" },        /* no role */
        };
        return cr_make_param_array(BadLine, bad, sizeof(bad) / sizeof(bad[0]));
}

ParameterizedTest(BadLine *line, audit, rejects_bad_lines) {
        AuditProcess p;
        cr_assert_eq(audit_process_parse(line->text, &p), -EINVAL, "accepted \"%s\"", line->text);
}

Test(audit, sandboxed_pool_passes) {
        ProcStatus st;
        char why[256];

        cr_assert_eq(proc_status_parse(pool_status, &st), 0);
        cr_assert(audit_check(&pool, &pool_expect, &st, 100, why, sizeof(why)), "%s", why);
}

typedef struct BrokenCase {
        char key[16];
        char line[64];
        char reason[32]; /* what the FAIL must name */
} BrokenCase;

ParameterizedTestParameters(audit, broken_pool_fails) {
        static BrokenCase cases[] = {
                { "Uid:", "Uid:\t1001\t1001\t0\t1001\n", "uid 1001/1001/0/1001" },
                { "Uid:", "Uid:\t1002\t1002\t1002\t1002\n", "expected 1001" },
                { "Gid:", "Gid:\t0\t0\t0\t0\n", "gid 0" },
                { "Groups:", "Groups:\t1001 0\n", "supplementary group 0" },
                { "Groups:", "Groups:\t1001 27\n", "supplementary group 27" },
                { "CapBnd:", "CapBnd:\t000001ffffffffff\n", "CapBnd" },
                { "CapEff:", "CapEff:\t0000000000000001\n", "CapEff" },
                { "CapPrm:", "CapPrm:\t0000000000000080\n", "CapPrm" },
                { "CapAmb:", "CapAmb:\t0000000000000040\n", "CapAmb" },
                { "CapInh:", "CapInh:\t0000000000000040\n", "CapInh" },
                { "NoNewPrivs:", "NoNewPrivs:\t0\n", "NoNewPrivs 0" },
                { "Seccomp:", "Seccomp:\t0\n", "Seccomp 0" },
        };
        return cr_make_param_array(BrokenCase, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(BrokenCase *c, audit, broken_pool_fails) {
        ProcStatus st;
        char why[512];

        status_with(c->key, c->line, &st);
        cr_assert_not(audit_check(&pool, &pool_expect, &st, 100, why, sizeof(why)), "passed with %s", c->line);
        cr_assert(strstr(why, c->reason), "reason \"%s\" does not name \"%s\"", why, c->reason);
}

Test(audit, groups_of_the_user_pass_others_fail) {
        ProcStatus st;
        gid_t groups[] = { 1001, 3000 };
        AuditExpect e = pool_expect;
        char why[256];

        status_with("Groups:", "Groups:\t1001 3000\n", &st);
        cr_assert_not(audit_check(&pool, &e, &st, 100, why, sizeof(why)));
        e.groups = groups;
        e.n_groups = 2;
        cr_assert(audit_check(&pool, &e, &st, 100, why, sizeof(why)), "%s", why);
}

Test(audit, pinned_uid_and_parent) {
        ProcStatus st;
        AuditExpect e = pool_expect;
        char why[256];

        cr_assert_eq(proc_status_parse(pool_status, &st), 0);
        /* --expect-uid: what the operator knows overrides the supervisor's plan. */
        e.uid = 1002;
        cr_assert_not(audit_check(&pool, &e, &st, 100, why, sizeof(why)));
        cr_assert(strstr(why, "expected 1002"), "%s", why);
        /* A process the supervisor did not fork (another parent) is not one of its children. */
        cr_assert_not(audit_check(&pool, &pool_expect, &st, 1, why, sizeof(why)));
        cr_assert(strstr(why, "parent 1"), "%s", why);
        /* The same process planned as root fails even when the kernel agrees. */
        AuditProcess root_pool = pool;
        root_pool.uid = 0;
        e = pool_expect;
        e.uid = 0;
        status_with("Uid:", "Uid:\t0\t0\t0\t0\n", &st);
        cr_assert_not(audit_check(&root_pool, &e, &st, 100, why, sizeof(why)));
        cr_assert(strstr(why, "runs as root"), "%s", why);
}

Test(audit, supervisor_bounding_set) {
        static const char *text = "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n"
                                  "CapInh:\t0000000000000000\nCapPrm:\t00000000000001e0\n"
                                  "CapEff:\t00000000000001e0\nCapBnd:\t00000000000001e0\n"
                                  "CapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t0\n";
        static const char *unconfined = "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n"
                                        "CapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\n"
                                        "CapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\n"
                                        "CapAmb:\t0000000000000000\nNoNewPrivs:\t0\nSeccomp:\t0\n";
        AuditProcess sup;
        ProcStatus st;
        char why[512];
        AuditExpect e = { .bounding_allowed = audit_supervisor_allowed(0) };

        cr_assert_eq(audit_process_parse("100 0 0 - supervisor", &sup), 0);
        cr_assert_eq(proc_status_parse(text, &st), 0);
        /* CAP_SETGID 6, CAP_SETUID 7, CAP_SETPCAP 8, CAP_KILL 5: 0x1e0, with every MPM as root. */
        cr_assert(audit_check(&sup, &e, &st, 1, why, sizeof(why)), "%s", why);
        cr_assert_eq(proc_status_parse(unconfined, &st), 0);
        cr_assert_not(audit_check(&sup, &e, &st, 1, why, sizeof(why)));
        cr_assert(strstr(why, "CapBnd"), "%s", why);
        cr_assert(strstr(why, "CapPrm"), "%s", why);
        cr_assert(strstr(why, "NoNewPrivs 0, expected 1"), "%s", why);
        /* Not root, it needs nothing (units/mpmd.service). */
        e.bounding_allowed = audit_supervisor_allowed(1000);
        cr_assert_eq(proc_status_parse(text, &st), 0);
        cr_assert_not(audit_check(&sup, &e, &st, 1, why, sizeof(why)));
}

Test(audit, supervisor_passes_nothing_on_and_gains_nothing) {
        static const char *base = "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n"
                                  "CapInh:\t0000000000000000\nCapPrm:\t00000000000001e0\n"
                                  "CapEff:\t00000000000001e0\nCapBnd:\t00000000000001e0\n"
                                  "CapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t0\n";
        AuditExpect e = { .bounding_allowed = audit_supervisor_allowed(0) };
        AuditProcess sup;
        ProcStatus st;
        char why[512];

        cr_assert_eq(audit_process_parse("100 0 0 - supervisor", &sup), 0);
        /* Inheritable and ambient must be empty, even with capabilities it may hold. */
        status_with_text(base, "CapInh:", "CapInh:\t0000000000000080\n", &st);
        cr_assert_not(audit_check(&sup, &e, &st, 1, why, sizeof(why)));
        cr_assert(strstr(why, "CapInh"), "%s", why);
        status_with_text(base, "CapAmb:", "CapAmb:\t0000000000000080\n", &st);
        cr_assert_not(audit_check(&sup, &e, &st, 1, why, sizeof(why)));
        cr_assert(strstr(why, "CapAmb"), "%s", why);
        status_with_text(base, "NoNewPrivs:", "NoNewPrivs:\t0\n", &st);
        cr_assert_not(audit_check(&sup, &e, &st, 1, why, sizeof(why)));
        cr_assert(strstr(why, "NoNewPrivs"), "%s", why);
}

Test(audit, unprivileged_supervisor_bounding_set) {
        /* A developer's mpmd: not root, nothing held, no_new_privs, the full bounding set it cannot
         * drop without CAP_SETPCAP. */
        static const char *text = "Uid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nGroups:\t\n"
                                  "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\n"
                                  "CapEff:\t0000000000000000\nCapBnd:\t000001ffffffffff\n"
                                  "CapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t0\n";
        AuditExpect e = { .bounding_allowed = audit_supervisor_allowed(1000) };
        AuditProcess sup;
        ProcStatus st;
        char why[512];

        cr_assert_eq(audit_process_parse("100 1000 1000 - supervisor", &sup), 0);
        cr_assert_eq(proc_status_parse(text, &st), 0);
        cr_assert(audit_check(&sup, &e, &st, 1, why, sizeof(why)), "%s", why);
        /* Without no_new_privs an exec could use it. */
        status_with_text(text, "NoNewPrivs:", "NoNewPrivs:\t0\n", &st);
        cr_assert_not(audit_check(&sup, &e, &st, 1, why, sizeof(why)));
        cr_assert(strstr(why, "CapBnd"), "%s", why);
        /* Holding a capability, it is checked as a whole. */
        status_with_text(text, "CapPrm:", "CapPrm:\t0000000000000400\n", &st);
        cr_assert_not(audit_check(&sup, &e, &st, 1, why, sizeof(why)));
        cr_assert(strstr(why, "CapBnd"), "%s", why);
        cr_assert(strstr(why, "CapPrm"), "%s", why);
}

Test(audit, capability_lists) {
        uint64_t m;

        cr_assert_eq(audit_caps_parse("CAP_SETUID CAP_SETGID,cap_kill cap_setpcap", &m), 0);
        cr_assert_eq(m, audit_supervisor_allowed(0));
        cr_assert_eq(audit_caps_parse("", &m), 0);
        cr_assert_eq(m, 0);
        cr_assert_eq(audit_caps_parse("CAP_NOPE", &m), -EINVAL);
        cr_assert_eq(m & (1ULL << CAP_SYS_ADMIN), 0);
}

Test(audit, cgi_program_output_must_be_pipes) {
        char why[256];
        const char *good[3] = { "/memfd:mpmd-cgi-body (deleted)", "pipe:[123]", "pipe:[124]" };
        const char *to_log[3] = { "/dev/null", "pipe:[123]", "/var/log/mpmd/error.log" };
        const char *closed[3] = { "/dev/null", NULL, "pipe:[9]" };

        cr_assert(audit_check_program_stdio(good, why, sizeof(why)));
        cr_assert_str_empty(why);
        cr_assert_not(audit_check_program_stdio(to_log, why, sizeof(why)));
        cr_assert_str_eq(why, "stderr is /var/log/mpmd/error.log, not a pipe");
        cr_assert_not(audit_check_program_stdio(closed, why, sizeof(why)));
        cr_assert_str_eq(why, "stdout is closed, not a pipe");
}

/* /proc/PID/limits as the kernel writes it: the soft values, unlimited as 0. */
Test(audit, limits_parse) {
        static const char text[] =
                "Limit                     Soft Limit           Hard Limit           Units     \n"
                "Max cpu time              30                   35                   seconds   \n"
                "Max file size             unlimited            unlimited            bytes     \n"
                "Max processes             40                   40                   processes \n"
                "Max open files            1024                 524288               files     \n"
                "Max address space         268435456            268435456            bytes     \n";
        SiteLimits l;

        cr_assert_eq(audit_limits_parse(text, &l), 0);
        cr_assert_eq(l.max_processes, 40);
        cr_assert_eq(l.memory_max, 268435456);
        cr_assert_eq(l.max_program_seconds, 30);

        static const char none[] = "Max cpu time              unlimited            unlimited            seconds\n"
                                   "Max processes             unlimited            unlimited            processes\n"
                                   "Max address space         unlimited            unlimited            bytes\n";
        cr_assert_eq(audit_limits_parse(none, &l), 0);
        cr_assert_eq(l.max_processes + l.memory_max + l.max_program_seconds, 0);
        cr_assert_eq(audit_limits_parse("Max processes 12\n", &l), -EBADMSG);
        cr_assert_eq(audit_limits_parse("Max cpu time x\nMax processes 1\nMax address space 1\n", &l), -EBADMSG);
}

Test(audit, limits_of_this_process) {
        SiteLimits l;

        cr_assert_eq(audit_read_limits(getpid(), &l), 0);
        cr_assert_eq(audit_read_limits(0x7ffffff0, &l), -ENOENT);
}

/* Key custody: TLS material by its memfd name, a private key file by its text, wherever it lies. */
Test(audit, custody_classifies_descriptors) {
        static const char ec[] = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n";
        static const char pkcs8[] = "\n-----BEGIN PRIVATE KEY-----\r\nMIGHAgEA\n";
        static const char cert[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        static const char log[] = "GET / HTTP/1.1 200 said -----BEGIN PRIVATE KEY-----\n";

        cr_assert_eq(audit_fd_classify("/memfd:mpmd-tls:a (deleted)", NULL, 0), AUDIT_FD_TLS_MATERIAL);
        cr_assert_eq(audit_fd_classify("/memfd:mpmd-tls-proxy:/etc/mpmd/a.pem (deleted)", NULL, 0),
                     AUDIT_FD_TLS_MATERIAL);
        cr_assert_eq(audit_fd_classify("/memfd:mpmd-tlsx (deleted)", NULL, 0), AUDIT_FD_OTHER);
        cr_assert_eq(audit_fd_classify("/memfd:mpmd-status (deleted)", NULL, 0), AUDIT_FD_OTHER);
        cr_assert_eq(audit_fd_classify("/etc/ssl/a.key", ec, strlen(ec)), AUDIT_FD_PRIVATE_KEY);
        cr_assert_eq(audit_fd_classify("/run/credentials/mpmd.service/a", pkcs8, strlen(pkcs8)),
                     AUDIT_FD_PRIVATE_KEY);
        cr_assert_eq(audit_fd_classify("/etc/ssl/a.crt", cert, strlen(cert)), AUDIT_FD_OTHER);
        cr_assert_eq(audit_fd_classify("/var/log/a.log", log, strlen(log)), AUDIT_FD_OTHER);
        /* A head cut in the middle of the BEGIN line is no key (nothing to tell it by). */
        cr_assert_eq(audit_fd_classify("/etc/ssl/a.key", ec, 20), AUDIT_FD_OTHER);
        cr_assert_eq(audit_fd_classify("pipe:[123]", NULL, 0), AUDIT_FD_OTHER);
}

Test(audit, custody_fails_every_process_but_the_supervisor_that_holds_key_material) {
        const int fds[] = { 3, 7, 9 };
        const char *const targets[] = { "/srv/a/htdocs", "/memfd:mpmd-tls:b (deleted)", "/etc/ssl/b.key" };
        const AuditFdKind kinds[] = { AUDIT_FD_OTHER, AUDIT_FD_TLS_MATERIAL, AUDIT_FD_PRIVATE_KEY };
        AuditProcess a_pool, sup;
        char why[512];

        cr_assert_eq(audit_process_parse("200 1001 1001 pool connect=- pool a", &a_pool), 0);
        cr_assert_eq(audit_process_parse("100 0 0 - connect=any supervisor", &sup), 0);
        cr_assert(audit_custody_check(&a_pool, fds, targets, kinds, 1, why, sizeof(why)));
        cr_assert_str_empty(why);
        cr_assert_not(audit_custody_check(&a_pool, fds, targets, kinds, 3, why, sizeof(why)));
        cr_assert_str_eq(why, "fd 7 is TLS material (/memfd:mpmd-tls:b (deleted)): only the supervisor may hold it; "
                              "fd 9 is a private key file (/etc/ssl/b.key)");
        cr_assert(audit_custody_check(&sup, fds, targets, kinds, 3, why, sizeof(why)));
}

/* The same through /proc: this test process holding a memfd of that name fails, then passes. */
Test(audit, custody_reads_the_descriptors_of_a_process) {
        AuditProcess self = { .pid = getpid(), .role = "pool a" };
        char why[512];
        int fd;

        cr_assert_eq(audit_custody(&self, why, sizeof(why)), 1, "%s", why);
        fd = memfd_create("mpmd-tls:a", MFD_CLOEXEC);
        cr_assert_geq(fd, 0);
        cr_assert_eq(audit_custody(&self, why, sizeof(why)), 0);
        cr_assert(strstr(why, "is TLS material (/memfd:mpmd-tls:a (deleted))"), "%s", why);
        close(fd);
        cr_assert_eq(audit_custody(&self, why, sizeof(why)), 1, "%s", why);
}
