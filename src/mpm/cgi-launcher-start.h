/* SPDX-License-Identifier: MIT */
/* cgi-launcher-start.h — how the launcher starts one program, and the programs' TMPDIR
 * (cgi-launcher.h says why and what the program gets).
 *
 * launcher_start() forks a child that, async-signal-safe between fork and exec, starts its own
 * session, dies with the launcher (PR_SET_PDEATHSIG), takes the site's limits (site-limits.h),
 * resets its signals, holds stdin, stdout and a fresh stderr pipe on 0/1/2 and nothing else,
 * enters the script's directory and execs the script by its fd. The exec's errno comes back
 * through a close-on-exec pipe, so the call returns only once the program runs (or failed to);
 * the program is then one of l->programs, its stderr watched (cgi-launcher-program.h), its
 * deadline CGITimeout away. Nothing between fork and exec allocates. */
#pragma once

#include <sys/types.h>

#include "mpm/cgi-launcher-internal.h"
#include "mpm/cgi-wire.h"

/* Start the program a request asks for: fds are the request's (cgi-wire.h FD_*), lent; the site's
 * ErrorLog, fds[FD_ERROR_LOG], is taken over by the program's record. 0 and *ret_pid (its pid and
 * process group), -EBUSY (draining, at max_programs, or the site at MaxProcesses), the exec's
 * -errno, or another -errno. */
int launcher_start(Launcher *l, const CgiWireRequest *h, const LaunchStrings *s, int *fds, pid_t *ret_pid);

/* Make /tmp/NAME-XXXXXX (0700, NAME cleaned), flock() it for as long as the launcher lives, set
 * l->tmpdir, l->tmpdir_fd and l->tmpdir_env, and remove the unlocked directories of the same name
 * and user that launchers killed outright left. -errno: the programs get no TMPDIR of ours. */
int launcher_tmpdir_create(Launcher *l, const char *name);

/* Remove the directory and all in it (a warning when it cannot be); nothing without one. */
void launcher_tmpdir_remove(Launcher *l);
