/* SPDX-License-Identifier: MIT */
/* privileges.h — the supervisor gives up, at start, every privilege it does not need, whatever
 * started it (systemd with a hardened unit, or an operator's root shell).
 *
 * Running as root, the supervisor only ever uses root to start its children under other users
 * (the User= of the workers, each perchild site's User=, the dispatcher's user, the CGI launchers),
 * with every MPM. That takes exactly PRIVILEGES_ROOT_CAPS:
 *   CAP_SETUID CAP_SETGID  setgroups/setresgid/setresuid in each child (sandbox.h)
 *   CAP_SETPCAP            each child empties its bounding set before it changes ids
 *   CAP_KILL               signal children that run under other users' ids
 * Not running as root, it changes no ids and needs none of them.
 * CAP_NET_BIND_SERVICE, when it holds it, is kept until the first generation's sockets are bound
 * (a Listen= port below 1024 it binds itself), then dropped: a reload cannot add such a port.
 * Nothing else: no CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH (files are opened with root's own
 * permissions, as under units/mpmd-perchild.service), no CAP_CHOWN (it chowns nothing).
 *
 * privileges_restrict() empties the bounding set but for what is kept (it needs CAP_SETPCAP for
 * that; without it the bounding set stays as it is, which no_new_privs makes harmless for a process
 * that holds nothing), lowers the permitted and effective sets to what is kept, empties the
 * inheritable and ambient sets, sets no_new_privs (the supervisor never runs a program; it does
 * not stop the children's setresuid()), and reads everything back. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/capability.h>

#define PRIVILEGES_CAP_BIT(c) (UINT64_C(1) << (c))
#define PRIVILEGES_ROOT_CAPS                                                                                   \
        (PRIVILEGES_CAP_BIT(CAP_SETUID) | PRIVILEGES_CAP_BIT(CAP_SETGID) | PRIVILEGES_CAP_BIT(CAP_SETPCAP) | \
         PRIVILEGES_CAP_BIT(CAP_KILL))

/* What a supervisor running as root (or not) keeps once its sockets are bound. */
uint64_t privileges_needed(bool root);

/* Cut the process's capabilities down to privileges_needed(geteuid() == 0), plus
 * CAP_NET_BIND_SERVICE if keep_bind and it is held. Returns 0 or -errno (-EPERM when a set could not
 * be lowered, which leaves the process in an unknown state: the caller exits). */
int privileges_restrict(bool keep_bind);

/* Drop CAP_NET_BIND_SERVICE from every set, once the sockets are bound. Returns 0 or -errno. */
int privileges_drop_bind(void);
