/* SPDX-License-Identifier: MIT */
/* site-limits.h — the resource limits of one site's CGI programs, and the rlimit path that
 * enforces them.
 *
 * Keys: MaxProcesses, MemoryMax, MaxProgramSeconds, CPUWeight; [perchild] gives the defaults and a
 * [VirtualHost NAME] overrides each key for its own site (config.c resolves them). Without cgroups
 * the CGI launcher enforces them with rlimits set between fork and exec of each program
 * (site_limits_apply()): RLIMIT_NPROC counts the tasks of the real uid, which under perchild is the
 * site's alone (pools, launcher, programs); RLIMIT_AS bounds each program's address space;
 * RLIMIT_CPU its CPU time, SIGXCPU at the soft limit and SIGKILL a few seconds later. CPUWeight has
 * no rlimit equivalent: it is parsed and kept for the cgroup path, which is not built yet. A value
 * of 0 means no limit (for CPUWeight: not set). A cgroup path would take the same SiteLimits. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include "shared/conf-table.h"

typedef struct SiteLimits {
        uint32_t max_processes;       /* MaxProcesses: tasks of the site's uid; 0: none */
        uint64_t memory_max;          /* MemoryMax: address space of each program, bytes; 0: none */
        uint32_t max_program_seconds; /* MaxProgramSeconds: CPU seconds of each program; 0: none */
        uint32_t cpu_weight;          /* CPUWeight: cgroup v2 cpu.weight 1..10000; 0: not set */
} SiteLimits;

/* From RLIMIT_CPU's soft limit (SIGXCPU, which a program may catch) to its hard one (SIGKILL). */
#define SITE_LIMITS_CPU_GRACE_SEC 5

/* The rows of the four keys, with offsets into a SiteLimits at base_offset of the described struct
 * and the built-in defaults; an MPM's table and the vhost table are built from these. */
#define SITE_LIMITS_ROWS(base_offset, with_defaults)                                                       \
        { "MaxProcesses", CONF_UINT, (base_offset) + offsetof(SiteLimits, max_processes),                   \
          (with_defaults) ? "512" : NULL, 0, 1u << 22,                                                     \
          .expect = "a number of processes from 1 to 4194304, or 0 for no limit" },                         \
        { "MemoryMax", CONF_SIZE, (base_offset) + offsetof(SiteLimits, memory_max),                         \
          (with_defaults) ? "1G" : NULL, 0, UINT64_C(1) << 47, .parse = site_limits_parse_memory_max,      \
          .expect = "a size in bytes (K, M, G suffixes) of at least 16M, or 0 for no limit" },              \
        { "MaxProgramSeconds", CONF_UINT, (base_offset) + offsetof(SiteLimits, max_program_seconds),        \
          (with_defaults) ? "60" : NULL, 0, 86400,                                                         \
          .expect = "a number of CPU seconds from 1 to 86400, or 0 for no limit" },                         \
        { "CPUWeight", CONF_UINT, (base_offset) + offsetof(SiteLimits, cpu_weight), NULL, 0, 10000,        \
          .expect = "a weight from 1 to 10000 (cgroup v2 cpu.weight), or 0 for none" }

/* The keys, in the order of SITE_LIMITS_ROWS. */
typedef enum SiteLimitKey {
        SITE_LIMIT_MAX_PROCESSES,
        SITE_LIMIT_MEMORY_MAX,
        SITE_LIMIT_MAX_PROGRAM_SECONDS,
        SITE_LIMIT_CPU_WEIGHT,
        SITE_LIMITS_N_KEYS,
} SiteLimitKey;
extern const char *const site_limits_keys[SITE_LIMITS_N_KEYS];

/* A MemoryMax below this is refused: no interpreter even starts in less. */
#define SITE_LIMITS_MEMORY_MIN (UINT64_C(16) << 20)

/* MemoryMax's row parser: 0, or at least SITE_LIMITS_MEMORY_MIN (a bound the table's min cannot
 * say, since 0 means no limit). The type stores the value (conf-table.h, ConfParse). */
int site_limits_parse_memory_max(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                                 char **ret_error);

/* Check values the tables' bounds cannot express. Returns 0, or -EINVAL and *ret_key, the key at
 * fault (a static string). */
int site_limits_check(const SiteLimits *l, const char **ret_key);

/* Copy key k from src to dst. */
void site_limits_copy_key(SiteLimits *dst, const SiteLimits *src, SiteLimitKey k);

typedef struct SiteRlimit {
        int resource;
        struct rlimit value;
} SiteRlimit;

/* The rlimits that enforce l for a program, at most 3 in ret; returns how many. Pure. */
size_t site_limits_rlimits(const SiteLimits *l, SiteRlimit ret[static 3]);

/* Set them on the calling process. Async-signal-safe: for the child between fork and exec.
 * Returns 0 or -errno (the first that failed). */
int site_limits_apply(const SiteLimits *l);

/* "MaxProcesses=512 MemoryMax=1G MaxProgramSeconds=60" (the non-zero ones; "none" when all are 0)
 * into buf. For log lines and `mpmctl audit`. */
void site_limits_format(const SiteLimits *l, char *buf, size_t size);
