/* SPDX-License-Identifier: MIT */
/* site-open.h — open a site's own paths with the site's own rights, for a supervisor running as root.
 *
 * A site's DocumentRoot, ScriptAlias directories and log files are paths the site's user can
 * change: a symlink planted there must lead only where that user could go itself. Opening them as
 * root (even without CAP_DAC_*, root owns much and is in group 0) would hand the site whatever root
 * reaches. So they are opened in a short-lived child forked for the purpose: it closes everything
 * but its end of a socketpair, applies the pool's own sandbox (sandbox_apply(): the site's
 * supplementary groups, gid and uid, no capability in any set, no_new_privs, the pool's seccomp
 * filter, all verified), opens each path and sends each descriptor back with SCM_RIGHTS, then
 * exits. The supervisor needs no capability for it beyond the CAP_SETUID, CAP_SETGID and
 * CAP_SETPCAP it already holds to start pools, and no longer needs to traverse the sites' homes.
 *
 * The caller waits (the generation is being built, before anything changes); the wait is bounded
 * (SITE_OPEN_TIMEOUT_USEC) and a child that does not answer in time is killed. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#define SITE_OPEN_TIMEOUT_USEC (10 * 1000000ULL)

typedef enum SiteOpenKind {
        SITE_OPEN_DIRECTORY, /* O_PATH|O_DIRECTORY: a DocumentRoot or a ScriptAlias directory */
        SITE_OPEN_LOG,       /* access_log_open_file() (a regular file, no last symlink, never
                              * blocking), then closed: the site's pool opens its logs itself, as
                              * the site; this only finds out before anything starts */
        SITE_OPEN_FILE,      /* O_RDONLY, a file the supervisor reads (an AuthUserFile) */
} SiteOpenKind;

typedef struct SiteOpenPath {
        const char *path;
        SiteOpenKind kind;
} SiteOpenPath;

typedef struct SiteIdentity {
        const char *user; /* for its supplementary groups (getgrouplist) */
        uid_t uid;        /* never 0 */
        gid_t gid;        /* never 0 */
} SiteIdentity;

typedef struct SiteOpenFailure {
        size_t index;  /* the path that failed; n when the helper itself failed */
        char step[32]; /* then: the sandbox step that failed (sandbox.h), "" for another reason */
} SiteOpenFailure;

/* Open paths[0..n-1] as id. On success ret_fds[i] is the descriptor of each SITE_OPEN_DIRECTORY
 * and SITE_OPEN_FILE path (O_CLOEXEC) and -1 for the others. On failure nothing stays open, *ret_failure says what
 * failed and -errno is returned: -ETIMEDOUT when the helper did not answer in time. */
int site_open_as(const SiteIdentity *id, const SiteOpenPath *paths, size_t n, int *ret_fds,
                 SiteOpenFailure *ret_failure);
