/* SPDX-License-Identifier: MIT */
/* sandbox.h — what a worker, a perchild pool, the dispatcher or the CGI launcher does to itself
 * after the fork and before it touches a socket. Reading back what a process holds (/proc/PID/status)
 * is proc-status.h's, in src/shared, so that mpmctl needs none of this.
 *
 * sandbox_apply() runs in a freshly forked, still single-threaded child and takes these steps in
 * this fixed order, each checked; the first that fails stops everything and is named:
 *   "policy"        refuse a policy that would leave a root process (uid or gid 0, or no id change
 *                   while running as uid 0) before anything is changed
 *   "bounding set"  empty the capability bounding set (done first, while CAP_SETPCAP is still held;
 *                   without CAP_SETPCAP it can only be left as it is, allowed when change_ids is false)
 *   "setgroups" "setresgid" "setresuid"   only with change_ids: the user's groups, then gid, then uid
 *   "ambient set" "capabilities"          clear the ambient, permitted, effective, inheritable sets
 *   "no_new_privs" "dumpable"             no_new_privs on, dumpable off
 *   "seccomp"       load the profile's filter (libseccomp, below)
 *   "verify"        read everything back (ids, capget, prctl, /proc/self/status Seccomp: 2)
 *
 * Every serving role's filter is an allow-list: the calls that role makes (those of the C library
 * and of the sanitizer runtimes included) pass, any other answers ENOSYS, so that a path nobody
 * foresaw fails like a call this kernel lacks instead of killing the process and its connections.
 * Only the CGI launcher keeps a deny list, as it runs arbitrary programs that inherit its filter.
 * On every profile, the calls that would regain or use a privilege answer EPERM: every set*id and
 * capset call, ptrace, mount and the new mount API (fsopen fsconfig fsmount fspick move_mount
 * open_tree mount_setattr), namespaces (unshare, setns, and clone with any CLONE_NEW* flag),
 * io_uring, pidfd_getfd, memfd_secret, bpf, perf_event_open, userfaultfd, keyrings, module and
 * kexec loading, personality flags and making itself dumpable again; clone3, whose flags a filter
 * cannot read, answers ENOSYS, so that the C library falls back to clone. The serving roles also
 * get EPERM for execve and for a clone that starts a process, and EAFNOSUPPORT for a socket of any
 * family but those of their upstreams (below); socketpair() only makes AF_UNIX SOCK_SEQPACKET
 * pairs (the CGI launcher's requests). The CGI launcher's programs get EPERM for any socket family
 * but AF_UNIX, AF_INET and AF_INET6.
 *
 * Upstreams (a reverse proxy, php-fpm): connect() is allowed only to a process whose policy names
 * upstream families, and socket() only of those families, SOCK_STREAM, with the protocol 0 (or
 * IPPROTO_TCP): AF_INET/AF_INET6 where a site has a TCP upstream, AF_UNIX where one has a unix
 * socket. A process without them connects nowhere (connect() answers ENOSYS, as any call off the
 * list). The filter cannot read the address behind connect()'s pointer, so it decides which kinds
 * of peer, never which peer: the destinations are the unit's IPAddressAllow= and file permissions
 * (mpmd-mpm(7)). No refusal kills: a program sees an errno and carries on. These rules do not depend
 * on the unit's RestrictNamespaces= or SystemCallFilter=. A filter applies to the calling thread
 * and to every thread or process it creates later, so call sandbox_apply() before starting
 * threads. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "shared/proc-status.h"

typedef enum SandboxProfile {
        SANDBOX_PROFILE_WORKER,       /* worker MPM processes: the serving allow-list, and threads
                                       * (clone with CLONE_THREAD, futex, rseq, set_robust_list) */
        SANDBOX_PROFILE_PREFORK,      /* prefork processes: the serving allow-list, single-threaded */
        SANDBOX_PROFILE_EVENT,        /* event processes: the same list as prefork */
        SANDBOX_PROFILE_POOL,         /* a perchild pool (the event engine): the same list as prefork */
        SANDBOX_PROFILE_DISPATCHER,   /* the perchild dispatcher: the serving allow-list without
                                       * memfd, pipes or AF_UNIX sockets of its own; open for reading
                                       * only (open for writing/creating/truncating, unlink, rename,
                                       * mkdir, link, chmod, chown, truncate and io_uring, whose
                                       * requests would bypass the filter, answer EPERM; openat2,
                                       * whose flags a filter cannot see, ENOSYS, so callers fall back
                                       * to openat) */
        SANDBOX_PROFILE_CGI_LAUNCHER, /* the CGI launcher: a deny list (the EPERM calls above, clone3,
                                       * socket families) on top of "allow", as it forks and execs
                                       * arbitrary CGI programs */
        _SANDBOX_PROFILE_MAX,
} SandboxProfile;

const char *sandbox_profile_to_string(SandboxProfile p);

typedef struct SandboxPolicy {
        bool change_ids;       /* switch to uid/gid: needs CAP_SETUID, CAP_SETGID and CAP_SETPCAP (root) */
        uid_t uid;             /* with change_ids: never 0 */
        gid_t gid;             /* with change_ids: never 0 */
        const char *user_name; /* supplementary groups of this user via getgrouplist; NULL: gid only */
        SandboxProfile profile;
        /* The socket families (a bit set of 1u << AF_UNIX, AF_INET, AF_INET6) of the upstreams of
         * the sites this process serves (sandbox-families.h); 0: no connect(). Serving profiles
         * but the dispatcher only. */
        uint32_t upstream_families;
} SandboxPolicy;

/* The families a policy may name in upstream_families. */
#define SANDBOX_UPSTREAM_FAMILIES ((UINT32_C(1) << AF_UNIX) | (UINT32_C(1) << AF_INET) | (UINT32_C(1) << AF_INET6))

/* The families whose sockets a process under profile with upstream_families may make and connect:
 * upstream_families for a serving role, every family the CGI launcher's programs may open for it.
 * As text for `mpmctl audit` ("unix,inet,inet6", "-" for none) into buf; returns buf. */
#define SANDBOX_CONNECT_TEXT_MAX sizeof("unix,inet,inet6")
uint32_t sandbox_connect_families(SandboxProfile profile, uint32_t upstream_families);
char *sandbox_connect_format(uint32_t families, char buf[static SANDBOX_CONNECT_TEXT_MAX]);

/* Returns 0, or -errno with *ret_failed_step (if not NULL) naming the step above that failed.
 * -EPERM "policy" leaves the process untouched, as does -EINVAL "policy" (upstream_families with
 * another family, or given to the dispatcher or the CGI launcher); after any other failure the process is in an
 * unknown state and must _exit(). */
int sandbox_apply(const SandboxPolicy *p, const char **ret_failed_step);
