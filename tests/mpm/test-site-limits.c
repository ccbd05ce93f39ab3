/* SPDX-License-Identifier: MIT */
/* The site limits (site-limits.h): which rlimits a SiteLimits turns into, their values (the CPU hard
 * limit above the soft one), what applying them does to a process, the check and the log text. */
#include <criterion/criterion.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/conf-table.h"
#include "mpm/site-limits.h"

Test(site_limits, zero_means_no_rlimit) {
        SiteRlimit r[3];

        cr_assert_eq(site_limits_rlimits(&(SiteLimits) { .cpu_weight = 100 }, r), 0);
}

Test(site_limits, each_key_its_rlimit) {
        SiteLimits l = { .max_processes = 40, .memory_max = UINT64_C(256) << 20, .max_program_seconds = 2 };
        SiteRlimit r[3];

        cr_assert_eq(site_limits_rlimits(&l, r), 3);
        cr_assert_eq(r[0].resource, RLIMIT_NPROC);
        cr_assert_eq(r[0].value.rlim_cur, 40);
        cr_assert_eq(r[0].value.rlim_max, 40);
        cr_assert_eq(r[1].resource, RLIMIT_AS);
        cr_assert_eq(r[1].value.rlim_cur, UINT64_C(256) << 20);
        cr_assert_eq(r[2].resource, RLIMIT_CPU);
        cr_assert_eq(r[2].value.rlim_cur, 2);
        cr_assert_eq(r[2].value.rlim_max, 2 + SITE_LIMITS_CPU_GRACE_SEC);
}

Test(site_limits, applied_in_a_child_and_never_above_the_hard_limit) {
        pid_t pid = fork();

        cr_assert_geq(pid, 0);
        if (pid == 0) {
                struct rlimit as = { UINT64_C(512) << 20, UINT64_C(512) << 20 }, got;

                /* A hard limit already lower than MemoryMax stays. */
                if (setrlimit(RLIMIT_AS, &as) < 0)
                        _exit(10);
                if (site_limits_apply(&(SiteLimits) { .memory_max = UINT64_C(1) << 30, .max_program_seconds = 7 }) < 0)
                        _exit(11);
                if (getrlimit(RLIMIT_AS, &got) < 0 || got.rlim_cur != as.rlim_cur || got.rlim_max != as.rlim_max)
                        _exit(12);
                if (getrlimit(RLIMIT_CPU, &got) < 0 || got.rlim_cur != 7 || got.rlim_max != 7 + SITE_LIMITS_CPU_GRACE_SEC)
                        _exit(13);
                _exit(0);
        }
        int st;
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
}

Test(site_limits, memory_floor) {
        const char *key = NULL;

        cr_assert_eq(site_limits_check(&(SiteLimits) { .memory_max = UINT64_C(8) << 20 }, &key), -EINVAL);
        cr_assert_str_eq(key, "MemoryMax");
        cr_assert_eq(site_limits_check(&(SiteLimits) { .memory_max = 0 }, &key), 0);
        cr_assert_eq(site_limits_check(&(SiteLimits) { .memory_max = SITE_LIMITS_MEMORY_MIN }, &key), 0);
}

Test(site_limits, format) {
        char buf[128];

        site_limits_format(&(SiteLimits) { .max_processes = 512, .memory_max = UINT64_C(1) << 30, .max_program_seconds = 60 },
                           buf, sizeof(buf));
        cr_assert_str_eq(buf, "MaxProcesses=512 MemoryMax=1G MaxProgramSeconds=60");
        site_limits_format(&(SiteLimits) { .memory_max = 1536 }, buf, sizeof(buf));
        cr_assert_str_eq(buf, "MemoryMax=1536");
        site_limits_format(&(SiteLimits) {}, buf, sizeof(buf));
        cr_assert_str_eq(buf, "none");
}

/* The rows parse strictly, with the documented defaults. */
typedef struct Holder {
        int pad;
        SiteLimits l;
} Holder;

static const ConfItem rows[] = {
        SITE_LIMITS_ROWS(offsetof(Holder, l), true),
        CONF_TABLE_END,
};

Test(site_limits, table_defaults_and_strict_values) {
        Holder h = {};
        char *why = NULL;

        cr_assert_eq(conf_table_defaults(rows, &h), 0);
        cr_assert_eq(h.l.max_processes, 512);
        cr_assert_eq(h.l.memory_max, UINT64_C(1) << 30);
        cr_assert_eq(h.l.max_program_seconds, 60);
        cr_assert_eq(h.l.cpu_weight, 0);
        cr_assert_eq(conf_item_apply(conf_table_find(rows, "MemoryMax"), &h, "256M", false, &why), 0);
        cr_assert_eq(h.l.memory_max, UINT64_C(256) << 20);
        cr_assert_eq(conf_item_apply(conf_table_find(rows, "MaxProcesses"), &h, "12x", false, &why), -EINVAL);
        free(why);
        why = NULL;
        cr_assert_eq(conf_item_apply(conf_table_find(rows, "MaxProgramSeconds"), &h, "86401", false, &why), -EINVAL);
        free(why);
        why = NULL;
        cr_assert_eq(conf_item_apply(conf_table_find(rows, "CPUWeight"), &h, "10001", false, &why), -EINVAL);
        free(why);
}
