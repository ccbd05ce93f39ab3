/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shared/macro.h"
#include "mpm/sandbox.h"

/* Capability numbers are probed up to this bound: the kernel may know more than our headers. */
#define SANDBOX_CAP_PROBE_MAX 64

/* clang-format off */
static const char *const sandbox_profile_table[_SANDBOX_PROFILE_MAX] = {
        [SANDBOX_PROFILE_WORKER] = "worker",
        [SANDBOX_PROFILE_PREFORK] = "prefork",
        [SANDBOX_PROFILE_EVENT] = "event",
        [SANDBOX_PROFILE_POOL] = "pool",
        [SANDBOX_PROFILE_DISPATCHER] = "dispatcher",
        [SANDBOX_PROFILE_CGI_LAUNCHER] = "cgi-launcher",
};
/* clang-format on */

const char *sandbox_profile_to_string(SandboxProfile p) {
        return (unsigned) p < ELEMENTSOF(sandbox_profile_table) ? sandbox_profile_table[p] : NULL;
}

/* clang-format off */

/* Denied with EPERM to every profile: the calls that change identity or privileges, inspect or
 * write other processes, or reach into the kernel's global state. personality and
 * prctl(PR_SET_DUMPABLE) are handled apart. An allow-list would refuse them anyway; naming them
 * keeps the answer EPERM, which says "forbidden" where ENOSYS would say "unknown". */
static const char *const sandbox_denied_common[] = {
        "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
        "setfsuid", "setfsgid", "capset",
        "ptrace", "process_vm_readv", "process_vm_writev",
        "mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
        "bpf", "keyctl", "add_key", "request_key",
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
        "perf_event_open", "userfaultfd",
        "swapon", "swapoff", "reboot", "acct", "quotactl",
        /* The new mount API: mounting without mount(). The kernel itself refuses fsopen, fsmount,
         * fspick and move_mount to a process without CAP_SYS_ADMIN in its user namespace, but not
         * open_tree (a copy of a mount) nor fsconfig and mount_setattr on a descriptor in hand;
         * and the list must hold even for a process that got into a namespace of its own. */
        "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
        /* io_uring: its requests (open, connect, socket …) run in the kernel without passing
         * through this filter. */
        "io_uring_setup", "io_uring_enter", "io_uring_register",
        /* Another process's descriptors (ptrace access is enough), and memory hidden from the
         * kernel's own view, which no web program needs. */
        "pidfd_getfd", "memfd_secret",
};

/* The namespace flags of clone. CLONE_NEWTIME sits in clone's exit-signal byte, where it names
 * no valid signal and makes no namespace (only unshare and clone3 take it, both refused): it is
 * refused all the same, so the rule does not depend on that. */
static const unsigned long sandbox_clone_namespaces[] = {
        CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWIPC, CLONE_NEWUTS,
        CLONE_NEWCGROUP, CLONE_NEWTIME,
};

/* The socket families a CGI program may open: local sockets and IP (a database, an upstream).
 * Netlink, packet, vsock, alg, bluetooth … are kernel interfaces, not web ones. */
static const uint32_t sandbox_cgi_families[] = { AF_UNIX, AF_INET, AF_INET6 };

/* The upstream families by name, in the order `mpmctl audit` shows them. */
static const struct {
        uint32_t family;
        const char *name;
} sandbox_family_names[] = { {AF_UNIX, "unix"}, {AF_INET, "inet"}, {AF_INET6, "inet6"} };

/* Also EPERM for every allow-listed role: none runs a program or starts a process (threads are
 * clone with CLONE_THREAD, ruled on apart). */
static const char *const sandbox_denied_serving[] = {
        "execve", "execveat", "fork", "vfork",
};

/* What every allow-listed role does: serve connections on descriptors it was given, read files
 * and /proc/self/status, write logs, adopt reopened logs (SIGUSR1: recvmsg with SCM_RIGHTS, dup3),
 * sleep in epoll or poll, and what the C library and the sanitizer runtimes do on its behalf
 * (malloc, localtime_r, qsort's sysinfo, abort, the alternate signal stack). Calls with
 * arguments worth checking (prctl, personality, tgkill, prlimit64, socket, socketpair, clone,
 * the dispatcher's openat) are ruled on in seccomp_filter_serving(). */
static const char *const sandbox_allowed_common[] = {
        /* descriptors */
        "read", "readv", "pread64", "write", "writev", "lseek", "close", "dup", "dup3", "fcntl",
        "fstat", "newfstatat", "statx", "readlink", "readlinkat",
        "getdents64", /* Options Indexes: a directory's listing (src/http/listing.c) */
        /* sockets it was given or accepted */
        "accept4", "recvfrom", "recvmsg", "sendto", "sendmsg", "sendfile", "shutdown",
        "getsockopt", "setsockopt", "getsockname", "getpeername",
        /* waiting and time */
        "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll",
        "clock_gettime", "clock_getres", "gettimeofday", "time", "clock_nanosleep", "nanosleep",
        "restart_syscall",
        /* signals: the stop signalfd, SIGUSR1, SIGPIPE ignored, abort() */
        "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "signalfd4", "sigaltstack",
        /* memory */
        "brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "futex",
        /* reading its own state */
        "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid",
        "getresgid", "getgroups", "capget", "uname", "sysinfo", "sched_getaffinity", "sched_yield",
        "getrandom",
        "exit", "exit_group",
};

/* The roles that open and write files (logs of a site's own pool, a CGI request body spooled to
 * a memfd) and talk to the CGI launcher (a socketpair per request, fds passed with SCM_RIGHTS). */
static const char *const sandbox_allowed_files[] = {
        "openat", "openat2", "memfd_create", "ftruncate", "pipe2",
};

/* A threaded process's threads start, park and end with these; clone itself is ruled on apart
 * and clone3 is left out: its flags sit behind a pointer, and its ENOSYS makes the C library
 * fall back to clone, whose flags the filter can read. */
static const char *const sandbox_allowed_threads[] = {
        "set_robust_list", "rseq", "eventfd2",
};

/* The dispatcher only accepts, peeks and passes fds on: it runs no program and changes no file.
 * (io_uring, whose requests would open files behind the filter's back, every profile refuses.) */
static const char *const sandbox_denied_dispatcher[] = {
        "creat",
        "truncate", "unlink", "unlinkat", "rename", "renameat", "renameat2",
        "mkdir", "mkdirat", "rmdir", "link", "linkat", "symlink", "symlinkat", "mknod", "mknodat",
        "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat",
};

/* clang-format on */

/* open flags that write, create or truncate (O_TMPFILE needs O_WRONLY or O_RDWR). */
static const int sandbox_write_open_flags[] = { O_WRONLY, O_RDWR, O_CREAT, O_TRUNC };

uint32_t sandbox_connect_families(SandboxProfile profile, uint32_t upstream_families) {
        return profile == SANDBOX_PROFILE_CGI_LAUNCHER ? SANDBOX_UPSTREAM_FAMILIES : upstream_families;
}

char *sandbox_connect_format(uint32_t families, char buf[static SANDBOX_CONNECT_TEXT_MAX]) {
        size_t len = 0;

        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(sandbox_family_names); i++)
                if (families & (UINT32_C(1) << sandbox_family_names[i].family))
                        len += (size_t) snprintf(buf + len, SANDBOX_CONNECT_TEXT_MAX - len, "%s%s", len ? "," : "",
                                                 sandbox_family_names[i].name);
        if (len == 0)
                snprintf(buf, SANDBOX_CONNECT_TEXT_MAX, "-");
        return buf;
}

static int step_failed(const char **ret_failed_step, const char *step, int r) {
        if (ret_failed_step)
                *ret_failed_step = step;
        return r;
}

static void cap_freep(cap_t *c) {
        if (*c)
                (void) cap_free(*c);
}

static void seccomp_releasep(scmp_filter_ctx *ctx) {
        if (*ctx)
                seccomp_release(*ctx);
}

static int policy_check(const SandboxPolicy *p) {
        uid_t ruid, euid, suid;

        if (!p || (unsigned) p->profile >= _SANDBOX_PROFILE_MAX)
                return -EINVAL;
        /* The dispatcher asks no upstream anything, and the CGI launcher's deny list already lets
         * its programs connect: neither takes families. */
        if (p->upstream_families & ~SANDBOX_UPSTREAM_FAMILIES)
                return -EINVAL;
        if (p->upstream_families &&
            (p->profile == SANDBOX_PROFILE_DISPATCHER || p->profile == SANDBOX_PROFILE_CGI_LAUNCHER))
                return -EINVAL;
        if (p->change_ids) {
                /* -1 would mean "leave unchanged" to setresuid(): it would keep us root. */
                if (p->uid == (uid_t) -1 || p->gid == (gid_t) -1)
                        return -EINVAL;
                if (p->uid == 0 || p->gid == 0)
                        return -EPERM;
                return 0;
        }
        /* Without an id change, a process running as root would stay root: its capabilities go,
         * but it would still own every root-owned file. */
        if (getresuid(&ruid, &euid, &suid) < 0)
                return -errno;
        if (ruid == 0 || euid == 0 || suid == 0)
                return -EPERM;
        return 0;
}

/* Returns 1 when every bit is clear afterwards, 0 when bits remain because CAP_SETPCAP is missing. */
static int bounding_set_drop(void) {
        bool left = false;

        for (unsigned long cap = 0; cap < SANDBOX_CAP_PROBE_MAX; cap++) {
                int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
                if (r < 0) {
                        if (errno == EINVAL) /* past the last capability this kernel knows */
                                break;
                        return -errno;
                }
                if (r == 0)
                        continue;
                if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
                        if (errno != EPERM)
                                return -errno;
                        left = true;
                }
        }
        return !left;
}

static int groups_resolve(const SandboxPolicy *p, gid_t **ret, size_t *ret_n) {
        _cleanup_free_ gid_t *list = NULL;
        long max = sysconf(_SC_NGROUPS_MAX);
        int n = 16;

        if (max <= 0)
                max = 65536;
        if (!p->user_name) {
                list = malloc(sizeof(gid_t));
                if (!list)
                        return -ENOMEM;
                list[0] = p->gid;
                n = 1;
        } else
                for (;;) {
                        gid_t *grown = realloc(list, (size_t) n * sizeof(gid_t));
                        int m = n;

                        if (!grown)
                                return -ENOMEM;
                        list = grown;
                        if (getgrouplist(p->user_name, p->gid, list, &m) >= 0) {
                                n = m;
                                break;
                        }
                        /* m is now the count needed. A second miss means the group database
                         * grew in between: try again, but never past the kernel's limit. */
                        if (m <= n)
                                return -EIO;
                        if (m > max)
                                return -E2BIG;
                        n = m;
                }

        if (n > max)
                return -E2BIG;
        for (int i = 0; i < n; i++)
                if (list[i] == 0)
                        return -EPERM; /* membership in group root is a root privilege */

        *ret = TAKE_PTR(list);
        *ret_n = (size_t) n;
        return 0;
}

/* Calls younger than some libseccomp releases. Where the library does not know a name, its
 * x86_64 number still gets the rule, so that an older library leaves no hole in a deny list.
 * (Debian 12's 2.5.4 knows them all.) */
#if defined(__x86_64__) && !defined(__ILP32__)
static const struct {
        const char *name;
        int nr;
} sandbox_x86_64_numbers[] = {
        {"io_uring_setup", 425}, {"io_uring_enter", 426}, {"io_uring_register", 427}, {"open_tree", 428},
        {"move_mount", 429},     {"fsopen", 430},         {"fsconfig", 431},          {"fsmount", 432},
        {"fspick", 433},         {"clone3", 435},         {"pidfd_getfd", 438},       {"mount_setattr", 442},
        {"memfd_secret", 447},
};
#endif

static int syscall_resolve(const char *name) {
        int nr = seccomp_syscall_resolve_name(name);

#if defined(__x86_64__) && !defined(__ILP32__)
        if (nr == __NR_SCMP_ERROR)
                for (size_t i = 0; i < ELEMENTSOF(sandbox_x86_64_numbers); i++)
                        if (strcmp(sandbox_x86_64_numbers[i].name, name) == 0)
                                return sandbox_x86_64_numbers[i].nr;
#endif
        return nr;
}

static int seccomp_add(scmp_filter_ctx ctx, const char *name, uint32_t action, unsigned n_cmp,
                       const struct scmp_arg_cmp *cmp) {
        int nr = syscall_resolve(name), r;

        if (nr == __NR_SCMP_ERROR)
                return 0; /* neither libseccomp nor the table above knows it: no such call here */
        r = seccomp_rule_add_array(ctx, action, nr, n_cmp, cmp);
        /* A negative number is a pseudo-syscall: the call does not exist on this architecture. */
        if (r < 0 && nr < 0)
                return 0;
        return r;
}

static int seccomp_add_all(scmp_filter_ctx ctx, const char *const *names, size_t n, uint32_t action) {
        for (size_t i = 0; i < n; i++) {
                int r = seccomp_add(ctx, names[i], action, 0, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The kernel reads some arguments as a 32-bit int and drops the upper half, while libseccomp
 * compares all 64 bits: a rule on such an argument must look at the low word only, or a caller
 * could set a high bit to slip past it. "Low word == value" is a masked comparison; "low word !=
 * value" is not one comparison, so it is built as 32 rules, one per bit that differs from value. */
static int seccomp_add_low32(scmp_filter_ctx ctx, const char *name, uint32_t action, unsigned arg, uint32_t value,
                             bool equal) {
        if (equal) {
                struct scmp_arg_cmp eq = {arg, SCMP_CMP_MASKED_EQ, UINT32_MAX, value};
                return seccomp_add(ctx, name, action, 1, &eq);
        }
        for (unsigned i = 0; i < 32; i++) {
                uint32_t bit = UINT32_C(1) << i;
                struct scmp_arg_cmp differs = {arg, SCMP_CMP_MASKED_EQ, bit, (value & bit) ^ bit};
                int r = seccomp_add(ctx, name, action, 1, &differs);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* personality(PER_LINUX) and the query personality(0xffffffff) stay allowed; any flag
 * (ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC …) would weaken the next exec. libseccomp takes one
 * comparison per argument in a rule, so "neither 0 nor 0xffffffff" is built from rules it can
 * express: a value with bits above 31 (which the kernel ignores, refused anyway), and a 32-bit
 * value that is neither all zeros nor all ones, which always has some bit i set while the bit
 * after it, (i + 1) mod 32, is clear. */
static int seccomp_deny_personality(scmp_filter_ctx ctx, uint32_t action) {
        struct scmp_arg_cmp high = SCMP_A0(SCMP_CMP_GT, UINT32_MAX);
        int r;

        r = seccomp_add(ctx, "personality", action, 1, &high);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < 32; i++) {
                uint64_t set = 1ull << i, clear = 1ull << ((i + 1) % 32);
                struct scmp_arg_cmp pair = SCMP_A0(SCMP_CMP_MASKED_EQ, set | clear, set);

                r = seccomp_add(ctx, "personality", action, 1, &pair);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* "Low word is none of these" for a short list of small values (socket families): a low word
 * with any bit at or above the first power of two past the largest value (one rule per bit), or
 * one of the values below that power that is not in the list (one rule each). */
static int seccomp_add_low32_except(scmp_filter_ctx ctx, const char *name, uint32_t action, unsigned arg,
                                    const uint32_t *values, size_t n) {
        uint32_t max = 0;
        unsigned bits = 0;
        int r;

        for (size_t i = 0; i < n; i++)
                max = MAX(max, values[i]);
        while (bits < 32 && (UINT64_C(1) << bits) <= max)
                bits++;
        for (unsigned i = bits; i < 32; i++) {
                uint32_t bit = UINT32_C(1) << i;
                struct scmp_arg_cmp high = {arg, SCMP_CMP_MASKED_EQ, bit, bit};

                r = seccomp_add(ctx, name, action, 1, &high);
                if (r < 0)
                        return r;
        }
        for (uint32_t v = 0; v < (UINT32_C(1) << bits); v++) {
                bool listed = false;

                for (size_t i = 0; i < n && !listed; i++)
                        listed = values[i] == v;
                if (listed)
                        continue;
                r = seccomp_add_low32(ctx, name, action, arg, v, true);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The type argument of socket() and socketpair(): the type, under SOCK_NONBLOCK and SOCK_CLOEXEC
 * (the kernel refuses any other flag bit). */
#define SANDBOX_SOCK_TYPE_MASK 0xf

/* The clone flags argument: the first everywhere but on s390, whose clone takes the stack first. */
#if defined(__s390__) || defined(__s390x__)
#define SANDBOX_CLONE_FLAGS_ARG 1
#else
#define SANDBOX_CLONE_FLAGS_ARG 0
#endif

/* What every profile refuses with EPERM, the CGI launcher's deny list included. */
static int seccomp_deny_privileges(scmp_filter_ctx ctx) {
        const uint32_t deny = SCMP_ACT_ERRNO(EPERM);
        int r;

        r = seccomp_add_all(ctx, sandbox_denied_common, ELEMENTSOF(sandbox_denied_common), deny);
        if (r < 0)
                return r;
        /* In a user namespace of its own a process holds every capability over it, and with them
         * mounts, raw sockets and the kernel code behind them: no clone that makes a namespace.
         * One rule per flag; the kernel reads the low 32 bits, which the masks cover. */
        for (size_t i = 0; i < ELEMENTSOF(sandbox_clone_namespaces); i++) {
                uint64_t f = sandbox_clone_namespaces[i];
                struct scmp_arg_cmp ns = {SANDBOX_CLONE_FLAGS_ARG, SCMP_CMP_MASKED_EQ, f, f};

                r = seccomp_add(ctx, "clone", deny, 1, &ns);
                if (r < 0)
                        return r;
        }
        r = seccomp_deny_personality(ctx, deny);
        if (r < 0)
                return r;
        /* Dumpable stays off: back on, any other process of the same uid could read this one's
         * memory through /proc/PID/mem or attach to it. */
        return seccomp_add_low32(ctx, "prctl", deny, 0, PR_SET_DUMPABLE, true);
}

static bool profile_is_threaded(SandboxProfile profile) {
        return profile == SANDBOX_PROFILE_WORKER;
}

/* The sockets of a serving role. It serves the sockets it was given; of its own it makes the CGI
 * launcher's per-request socketpair (not the dispatcher, which asks it nothing), and, where its
 * sites have upstreams, a stream socket of each upstream family and connect() on it.
 *
 * The filter cannot see which family the socket behind connect()'s descriptor has, only which
 * sockets could be made: connect() on the sockets a worker holds anyway does not reach anyone new
 * (a listening or accepted TCP socket answers EISCONN, a stream or seqpacket socketpair EISCONN),
 * so what it can connect is decided by socket() alone. Hence socket(AF_UNIX) only where a site
 * has a unix upstream (socketpair() is a call of its own), and socketpair() of SOCK_SEQPACKET
 * only: a datagram pair could be connect()ed, or sendto() without connect(), to any named
 * datagram socket (the journal's, syslog's). */
static int seccomp_allow_sockets(scmp_filter_ctx ctx, bool dispatcher, uint32_t upstream_families) {
        const uint32_t allow = SCMP_ACT_ALLOW, no_family = SCMP_ACT_ERRNO(EAFNOSUPPORT);
        static const uint32_t upstream_order[] = {AF_UNIX, AF_INET, AF_INET6};
        uint32_t families[ELEMENTSOF(upstream_order)];
        size_t n = 0;
        int r;

        struct scmp_arg_cmp not_unix = SCMP_A0(SCMP_CMP_NE, AF_UNIX);
        r = seccomp_add(ctx, "socketpair", no_family, 1, &not_unix);
        if (r < 0)
                return r;
        if (!dispatcher) {
                struct scmp_arg_cmp pair[] = {SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
                                              SCMP_A1(SCMP_CMP_MASKED_EQ, SANDBOX_SOCK_TYPE_MASK, SOCK_SEQPACKET),
                                              SCMP_A2(SCMP_CMP_EQ, 0)};
                r = seccomp_add(ctx, "socketpair", allow, ELEMENTSOF(pair), pair);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < ELEMENTSOF(upstream_order); i++)
                if (!dispatcher && (upstream_families & (UINT32_C(1) << upstream_order[i])))
                        families[n++] = upstream_order[i];
        if (n == 0)
                /* connect() stays off the list: ENOSYS, as for any call the role does not make. */
                return seccomp_add(ctx, "socket", no_family, 0, NULL);

        /* Any other family: a value above 32 bits (the kernel would read its low word, which the
         * allow rules below compare in full), or a low word that is none of them. */
        struct scmp_arg_cmp high = SCMP_A0(SCMP_CMP_GT, UINT32_MAX);
        r = seccomp_add(ctx, "socket", no_family, 1, &high);
        if (r < 0)
                return r;
        r = seccomp_add_low32_except(ctx, "socket", no_family, 0, families, n);
        if (r < 0)
                return r;
        /* A stream socket with the family's own protocol (0, or TCP by name): no datagrams, no SCTP
         * nor MPTCP. Other types and protocols of these families answer ENOSYS. */
        for (size_t i = 0; i < n; i++) {
                static const uint64_t ip_protocols[] = {0, IPPROTO_TCP};
                size_t n_protocols = families[i] == AF_UNIX ? 1 : ELEMENTSOF(ip_protocols);

                for (size_t j = 0; j < n_protocols; j++) {
                        struct scmp_arg_cmp stream[] = {
                                SCMP_A0(SCMP_CMP_EQ, families[i]),
                                SCMP_A1(SCMP_CMP_MASKED_EQ, SANDBOX_SOCK_TYPE_MASK, SOCK_STREAM),
                                SCMP_A2(SCMP_CMP_EQ, ip_protocols[j])};
                        r = seccomp_add(ctx, "socket", allow, ELEMENTSOF(stream), stream);
                        if (r < 0)
                                return r;
                }
        }
        /* What connecting needs besides: getsockopt(SO_ERROR) once a non-blocking connect() is
         * writable, setsockopt(TCP_NODELAY), getpeername: already on the list, for the sockets it
         * serves. No bind() nor listen(): the kernel picks the local port. A request waiting for a
         * free upstream connection waits on an eventfd of its own (upstream.h's queue). */
        r = seccomp_add(ctx, "eventfd2", allow, 0, NULL);
        if (r < 0)
                return r;
        return seccomp_add(ctx, "connect", allow, 0, NULL);
}

/* The allow-list of a serving role, on top of seccomp_deny_privileges(). */
static int seccomp_allow_serving(scmp_filter_ctx ctx, SandboxProfile profile, uint32_t upstream_families) {
        const uint32_t allow = SCMP_ACT_ALLOW, deny = SCMP_ACT_ERRNO(EPERM);
        bool dispatcher = profile == SANDBOX_PROFILE_DISPATCHER;
        int r;

        r = seccomp_add_all(ctx, sandbox_denied_serving, ELEMENTSOF(sandbox_denied_serving), deny);
        if (r < 0)
                return r;
        r = seccomp_add_all(ctx, sandbox_allowed_common, ELEMENTSOF(sandbox_allowed_common), allow);
        if (r < 0)
                return r;

        /* A new process (clone without CLONE_THREAD) is refused like fork; a thread only where
         * the role has threads, and never one with a namespace flag (refused with EPERM by
         * seccomp_deny_privileges(): the rules for one call must not overlap with different
         * answers, so this one excludes what those match). */
        uint64_t namespaces = 0;
        for (size_t i = 0; i < ELEMENTSOF(sandbox_clone_namespaces); i++)
                namespaces |= sandbox_clone_namespaces[i];
        struct scmp_arg_cmp process = {SANDBOX_CLONE_FLAGS_ARG, SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0};
        r = seccomp_add(ctx, "clone", deny, 1, &process);
        if (r < 0)
                return r;
        if (profile_is_threaded(profile)) {
                struct scmp_arg_cmp thread = {SANDBOX_CLONE_FLAGS_ARG, SCMP_CMP_MASKED_EQ, CLONE_THREAD | namespaces,
                                              CLONE_THREAD};
                r = seccomp_add(ctx, "clone", allow, 1, &thread);
                if (r < 0)
                        return r;
                r = seccomp_add_all(ctx, sandbox_allowed_threads, ELEMENTSOF(sandbox_allowed_threads), allow);
                if (r < 0)
                        return r;
        }

        /* prctl but PR_SET_DUMPABLE (PR_CAPBSET_READ, PR_GET_NO_NEW_PRIVS … for the verify step
         * and mpmctl audit's view of it), and the two personality calls that change nothing. */
        r = seccomp_add_low32(ctx, "prctl", allow, 0, PR_SET_DUMPABLE, false);
        if (r < 0)
                return r;
        struct scmp_arg_cmp persona_linux = SCMP_A0(SCMP_CMP_EQ, PER_LINUX);
        struct scmp_arg_cmp persona_query = SCMP_A0(SCMP_CMP_EQ, UINT32_MAX);
        r = seccomp_add(ctx, "personality", allow, 1, &persona_linux);
        if (r < 0)
                return r;
        r = seccomp_add(ctx, "personality", allow, 1, &persona_query);
        if (r < 0)
                return r;

        /* abort() and raise() signal the caller's own thread group, nobody else's. */
        struct scmp_arg_cmp own_pid = SCMP_A0(SCMP_CMP_EQ, (uint64_t) getpid());
        r = seccomp_add(ctx, "tgkill", allow, 1, &own_pid);
        if (r < 0)
                return r;
        /* MinSendRate asks a socket how much of a response its peer has not acknowledged
         * (SIOCOUTQ): that ioctl and no other. */
        struct scmp_arg_cmp outq = SCMP_A1(SCMP_CMP_EQ, SIOCOUTQ);
        r = seccomp_add(ctx, "ioctl", allow, 1, &outq);
        if (r < 0)
                return r;
        /* getrlimit() (the C library, the sanitizers' stack size): reading its own limits only. */
        struct scmp_arg_cmp rlimit_read[] = {SCMP_A0(SCMP_CMP_EQ, 0), SCMP_A2(SCMP_CMP_EQ, 0)};
        r = seccomp_add(ctx, "prlimit64", allow, ELEMENTSOF(rlimit_read), rlimit_read);
        if (r < 0)
                return r;

        r = seccomp_allow_sockets(ctx, dispatcher, upstream_families);
        if (r < 0)
                return r;

        if (!dispatcher)
                return seccomp_add_all(ctx, sandbox_allowed_files, ELEMENTSOF(sandbox_allowed_files), allow);

        /* The dispatcher opens for reading only (/proc/self/status, to verify itself). openat2,
         * whose flags sit behind a pointer the filter cannot read, is left out: its ENOSYS makes
         * callers fall back to openat, whose flags it can. */
        r = seccomp_add_all(ctx, sandbox_denied_dispatcher, ELEMENTSOF(sandbox_denied_dispatcher), deny);
        if (r < 0)
                return r;
        uint64_t write_flags = 0;
        for (size_t i = 0; i < ELEMENTSOF(sandbox_write_open_flags); i++) {
                uint64_t f = (uint64_t) sandbox_write_open_flags[i];
                struct scmp_arg_cmp open_cmp = SCMP_A1(SCMP_CMP_MASKED_EQ, f, f);
                struct scmp_arg_cmp openat_cmp = SCMP_A2(SCMP_CMP_MASKED_EQ, f, f);

                r = seccomp_add(ctx, "open", deny, 1, &open_cmp);
                if (r < 0)
                        return r;
                r = seccomp_add(ctx, "openat", deny, 1, &openat_cmp);
                if (r < 0)
                        return r;
                write_flags |= f;
        }
        struct scmp_arg_cmp read_only = SCMP_A2(SCMP_CMP_MASKED_EQ, write_flags, 0);
        return seccomp_add(ctx, "openat", allow, 1, &read_only);
}

/* The CGI launcher's additions to its deny list. */
static int seccomp_deny_launcher(scmp_filter_ctx ctx) {
        static const char *const socket_calls[] = {"socket", "socketpair"};
        int r;

        /* clone3's flags sit behind a pointer no filter can read. ENOSYS says "not on this
         * kernel", and the C library falls back to clone (fork, posix_spawn, pthread_create),
         * whose flags seccomp_deny_privileges() reads. (The serving roles' allow-lists leave
         * clone3 out, which answers the same.) */
        r = seccomp_add(ctx, "clone3", SCMP_ACT_ERRNO(ENOSYS), 0, NULL);
        if (r < 0)
                return r;
        /* Its programs open sockets of their own, but only of the families a web program uses.
         * The kernel reads the family as an int: the rules look at the low word only, so a high
         * bit hides nothing. */
        for (size_t i = 0; i < ELEMENTSOF(socket_calls); i++) {
                r = seccomp_add_low32_except(ctx, socket_calls[i], SCMP_ACT_ERRNO(EPERM), 0, sandbox_cgi_families,
                                             ELEMENTSOF(sandbox_cgi_families));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int seccomp_filter_load(SandboxProfile profile, uint32_t upstream_families) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        bool deny_list = profile == SANDBOX_PROFILE_CGI_LAUNCHER;
        int r;

        /* A serving role gets an allow-list: what it does not need answers ENOSYS, which a caller
         * takes for "not on this kernel" and works around (clone3, openat2) or reports, where a
         * killed process would take its connections with it. The CGI launcher runs arbitrary
         * programs, which inherit its filter: it keeps a deny list on top of "allow". Calls of
         * another architecture (i386 or x32 from an x86_64 process) hit libseccomp's bad-arch
         * action and kill the thread, so they bypass neither. */
        ctx = seccomp_init(deny_list ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO(ENOSYS));
        if (!ctx)
                return -ENOMEM;
        /* no_new_privs is a step of its own, checked before: the library must not quietly set it
         * and hide that the step was skipped. Without it the kernel refuses the filter. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (r < 0)
                return r;
        /* The kernel's errno rather than libseccomp's catch-all -ECANCELED, for the log line. */
        (void) seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);

        r = seccomp_deny_privileges(ctx);
        if (r < 0)
                return r;
        r = deny_list ? seccomp_deny_launcher(ctx) : seccomp_allow_serving(ctx, profile, upstream_families);
        if (r < 0)
                return r;

        return seccomp_load(ctx);
}

static bool groups_match(const gid_t *want, size_t n_want) {
        gid_t have[PROC_STATUS_GROUPS_MAX];
        int n = getgroups(ELEMENTSOF(have), have);

        /* The kernel sorts and getgrouplist does not: compare as sets, both ways. */
        if (n < 0)
                return false;
        for (int i = 0; i < n; i++) {
                bool found = false;
                for (size_t j = 0; j < n_want && !found; j++)
                        found = have[i] == want[j];
                if (!found)
                        return false;
        }
        for (size_t j = 0; j < n_want; j++) {
                bool found = false;
                for (int i = 0; i < n && !found; i++)
                        found = have[i] == want[j];
                if (!found)
                        return false;
        }
        return true;
}

static bool verify(const SandboxPolicy *p, const gid_t *groups, size_t n_groups, bool bounding_clear) {
        struct __user_cap_header_struct head = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
        uid_t ru, eu, su;
        gid_t rg, eg, sg;
        ProcStatus st;

        if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
                return false;
        if (ru == 0 || eu == 0 || su == 0)
                return false;
        if (p->change_ids) {
                if (ru != p->uid || eu != p->uid || su != p->uid)
                        return false;
                if (rg != p->gid || eg != p->gid || sg != p->gid)
                        return false;
                if (n_groups > PROC_STATUS_GROUPS_MAX) {
                        /* Too many to read back here; the count at least must match. */
                        if ((size_t) getgroups(0, NULL) != n_groups)
                                return false;
                } else if (!groups_match(groups, n_groups))
                        return false;
        }

        if (capget(&head, data) < 0)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(data); i++)
                if (data[i].effective || data[i].permitted || data[i].inheritable)
                        return false;

        for (unsigned long cap = 0; cap < SANDBOX_CAP_PROBE_MAX; cap++) {
                int r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
                if (r < 0 && errno == EINVAL)
                        break;
                if (r != 0)
                        return false;
                if (bounding_clear && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 0)
                        return false;
        }

        if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1 || prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
                return false;

        /* The kernel's own account, as `mpmctl audit` will read it. */
        if (proc_status_read(0, &st) < 0)
                return false;
        if (st.seccomp != 2 || st.no_new_privs != 1)
                return false;
        if (st.cap_inh != 0 || st.cap_prm != 0 || st.cap_eff != 0 || st.cap_amb != 0)
                return false;
        if (bounding_clear && st.cap_bnd != 0)
                return false;
        for (unsigned i = 0; i < _PROC_ID_MAX; i++) {
                if (st.uid[i] == 0)
                        return false;
                if (p->change_ids && (st.uid[i] != p->uid || st.gid[i] != p->gid))
                        return false;
        }
        return true;
}

int sandbox_apply(const SandboxPolicy *p, const char **ret_failed_step) {
        _cleanup_free_ gid_t *groups = NULL;
        _cleanup_(cap_freep) cap_t empty = NULL;
        size_t n_groups = 0;
        bool bounding_clear;
        int r;

        if (ret_failed_step)
                *ret_failed_step = NULL;

        r = policy_check(p);
        if (r < 0)
                return step_failed(ret_failed_step, "policy", r);
        /* Resolved before anything changes: a missing user leaves the process untouched. */
        if (p->change_ids) {
                r = groups_resolve(p, &groups, &n_groups);
                if (r < 0)
                        return step_failed(ret_failed_step, "setgroups", r);
        }

        /* Before the id change: dropping from the bounding set needs CAP_SETPCAP, which the
         * setresuid() below takes away. */
        r = bounding_set_drop();
        if (r < 0)
                return step_failed(ret_failed_step, "bounding set", r);
        bounding_clear = r > 0;
        /* Bits we cannot drop are harmless once no_new_privs is set and we are not root, the
         * unprivileged case; a process about to change ids must be able to drop them. */
        if (!bounding_clear && p->change_ids)
                return step_failed(ret_failed_step, "bounding set", -EPERM);

        if (p->change_ids) {
                if (setgroups(n_groups, groups) < 0)
                        return step_failed(ret_failed_step, "setgroups", -errno);
                if (setresgid(p->gid, p->gid, p->gid) < 0)
                        return step_failed(ret_failed_step, "setresgid", -errno);
                if (setresuid(p->uid, p->uid, p->uid) < 0)
                        return step_failed(ret_failed_step, "setresuid", -errno);
        }

        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
                return step_failed(ret_failed_step, "ambient set", -errno);

        empty = cap_init();
        if (!empty)
                return step_failed(ret_failed_step, "capabilities", -ENOMEM);
        /* Holding nothing already (an unprivileged service), there is nothing to clear: capset() may
         * itself be forbidden there (SystemCallFilter=~@privileged). */
        cap_t current = cap_get_proc();
        bool holds = !current || cap_compare(current, empty) != 0;
        cap_free(current);
        if (holds && cap_set_proc(empty) < 0)
                return step_failed(ret_failed_step, "capabilities", -errno);

        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return step_failed(ret_failed_step, "no_new_privs", -errno);
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return step_failed(ret_failed_step, "dumpable", -errno);

        r = seccomp_filter_load(p->profile, p->upstream_families);
        if (r < 0)
                return step_failed(ret_failed_step, "seccomp", r);

        if (!verify(p, groups, n_groups, bounding_clear))
                return step_failed(ret_failed_step, "verify", -EPERM);

        return 0;
}
