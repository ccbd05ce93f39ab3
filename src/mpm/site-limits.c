/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mpm/site-limits.h"

const char *const site_limits_keys[SITE_LIMITS_N_KEYS] = {
        [SITE_LIMIT_MAX_PROCESSES] = "MaxProcesses",
        [SITE_LIMIT_MEMORY_MAX] = "MemoryMax",
        [SITE_LIMIT_MAX_PROGRAM_SECONDS] = "MaxProgramSeconds",
        [SITE_LIMIT_CPU_WEIGHT] = "CPUWeight",
};

int site_limits_parse_memory_max(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                                 char **ret_error) {
        uint64_t v;

        if (parse_size(value, &v) < 0)
                return -EINVAL; /* the type's own message */
        if (v > 0 && v < SITE_LIMITS_MEMORY_MIN) {
                *ret_error = strdup("expected at least 16M, or 0 for no limit");
                return *ret_error ? -EINVAL : -ENOMEM;
        }
        return 0;
}

int site_limits_check(const SiteLimits *l, const char **ret_key) {
        if (l->memory_max > 0 && l->memory_max < SITE_LIMITS_MEMORY_MIN) {
                *ret_key = "MemoryMax";
                return -EINVAL;
        }
        return 0;
}

void site_limits_copy_key(SiteLimits *dst, const SiteLimits *src, SiteLimitKey k) {
        switch (k) {
        case SITE_LIMIT_MAX_PROCESSES:
                dst->max_processes = src->max_processes;
                break;
        case SITE_LIMIT_MEMORY_MAX:
                dst->memory_max = src->memory_max;
                break;
        case SITE_LIMIT_MAX_PROGRAM_SECONDS:
                dst->max_program_seconds = src->max_program_seconds;
                break;
        case SITE_LIMIT_CPU_WEIGHT:
                dst->cpu_weight = src->cpu_weight;
                break;
        case SITE_LIMITS_N_KEYS:
                break;
        }
}

size_t site_limits_rlimits(const SiteLimits *l, SiteRlimit ret[static 3]) {
        size_t n = 0;

        if (l->max_processes > 0)
                ret[n++] = (SiteRlimit) { RLIMIT_NPROC, { l->max_processes, l->max_processes } };
        if (l->memory_max > 0)
                ret[n++] = (SiteRlimit) { RLIMIT_AS, { l->memory_max, l->memory_max } };
        if (l->max_program_seconds > 0)
                /* The hard limit a little above: SIGXCPU first, which a program may catch to end
                 * cleanly, then SIGKILL. */
                ret[n++] = (SiteRlimit) { RLIMIT_CPU,
                                          { l->max_program_seconds,
                                            (rlim_t) l->max_program_seconds + SITE_LIMITS_CPU_GRACE_SEC } };
        return n;
}

int site_limits_apply(const SiteLimits *l) {
        SiteRlimit r[3];
        size_t n = site_limits_rlimits(l, r);

        for (size_t i = 0; i < n; i++) {
                struct rlimit cur;

                /* Never above what we have: an unprivileged process cannot raise a hard limit, and a
                 * lower one from the unit (LimitNPROC=, LimitAS=) stays in force. */
                if (getrlimit(r[i].resource, &cur) < 0)
                        return -errno;
                if (cur.rlim_max != RLIM_INFINITY && r[i].value.rlim_max > cur.rlim_max)
                        r[i].value.rlim_max = cur.rlim_max;
                if (r[i].value.rlim_cur > r[i].value.rlim_max)
                        r[i].value.rlim_cur = r[i].value.rlim_max;
                if (setrlimit(r[i].resource, &r[i].value) < 0)
                        return -errno;
        }
        return 0;
}

static void format_size(uint64_t v, char *buf, size_t size) {
        static const char units[] = "KMG";
        int u = -1;

        while (u < 2 && v >= 1024 && v % 1024 == 0) {
                v /= 1024;
                u++;
        }
        if (u < 0)
                snprintf(buf, size, "%" PRIu64, v);
        else
                snprintf(buf, size, "%" PRIu64 "%c", v, units[u]);
}

void site_limits_format(const SiteLimits *l, char *buf, size_t size) {
        char mem[32];
        int n = 0;

        buf[0] = 0;
        if (l->max_processes > 0)
                n += snprintf(buf + n, size - (size_t) n, "MaxProcesses=%" PRIu32, l->max_processes);
        if (l->memory_max > 0 && (size_t) n < size) {
                format_size(l->memory_max, mem, sizeof(mem));
                n += snprintf(buf + n, size - (size_t) n, "%sMemoryMax=%s", n > 0 ? " " : "", mem);
        }
        if (l->max_program_seconds > 0 && (size_t) n < size)
                n += snprintf(buf + n, size - (size_t) n, "%sMaxProgramSeconds=%" PRIu32, n > 0 ? " " : "",
                              l->max_program_seconds);
        if (n == 0)
                snprintf(buf, size, "none");
}
