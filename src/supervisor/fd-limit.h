/* SPDX-License-Identifier: MIT */
/* fd-limit.h — the descriptor limit mpmd and every process it starts run with.
 *
 * fd_limit_raise() lifts the soft RLIMIT_NOFILE to the hard limit (capped at fs.nr_open, which
 * the kernel will not go past), at start, before the first fork, so that every worker, pool,
 * dispatcher and CGI launcher inherits it. systemd leaves services a soft limit of 1024 for the
 * sake of programs that use select(), which cannot watch a descriptor above 1023; mpmd uses epoll
 * only, so it takes what the hard limit allows, as systemd.exec(5) advises such programs to.
 *
 * fd_limit_check() adds a warning for each connection bound of the configuration that cannot
 * fit below that limit: [event] and [perchild] WorkerConnections (a connection holds its socket
 * and, while a file is sent, the file: 2 descriptors), [perchild] DispatcherConnections (the
 * socket only, until it is handed on: 1), each next to FD_LIMIT_RESERVED descriptors a
 * process holds of its own (listeners, logs, document roots, channels to the supervisor). */
#pragma once

#include <sys/resource.h>

#include "shared/conf-table.h"
#include "supervisor/config.h"

#define FD_LIMIT_RESERVED 64

/* Returns 0 and the soft limit now in force in *ret_limit, or -errno when it cannot be read. A limit
 * that cannot be raised (a seccomp filter forbidding it) is left as it is and returned. */
int fd_limit_raise(rlim_t *ret_limit);

/* The warnings for the MPM's connection keys of c against limit (RLIM_INFINITY: none). */
void fd_limit_check(const Config *c, rlim_t limit, ConfErrors *warnings);
