/* SPDX-License-Identifier: MIT */
/* Tests of the worker sandbox. Each sandbox is applied in a child forked for the purpose, which
 * then probes what it can still do and reports the first surprise through a pipe: root dropping to
 * nobody (ids, groups, every capability set empty, no_new_privs, not dumpable and unable to become
 * so again, not even with a high bit set in prctl's option, Seccomp 2, every denied call answering
 * EPERM where the kernel alone would have answered otherwise, personality flags refused but the
 * query allowed), each role's filter (what it needs works: epoll, reading files, memfd + write +
 * SCM_RIGHTS over an AF_UNIX socketpair, pipes, poll, threads for the worker MPM, fork and exec for
 * the CGI launcher; what it must not do fails with the intended errno: EPERM for execve and fork,
 * EAFNOSUPPORT for AF_PACKET and AF_INET sockets, ENOSYS for calls no allow-list names), abort()
 * still ending in SIGABRT and the x32 ABI killing the caller under every profile, the ways out
 * refused by every profile without killing (clone with each namespace flag, clone3 with ENOSYS,
 * the new mount API, io_uring, pidfd_getfd, memfd_secret, and each socket family but AF_UNIX,
 * AF_INET and AF_INET6: EPERM for the CGI launcher, EAFNOSUPPORT for the serving roles), the
 * launcher's programs still forking, spawning, starting threads and opening IP sockets, the dispatcher's
 * extra denials (exec, open for writing, openat2, io_uring, unlink), policies refused before
 * anything changes (uid 0, gid 0, uid -1, group root, a root process keeping its ids), an
 * unprivileged process (bounding set left as it is, or emptied when it still holds CAP_SETPCAP
 * with kept and ambient capabilities), and /proc/PID/status read back for the caller, for a
 * sandboxed child seen from its parent, for a process that is gone, and by the parser on a table
 * of good and malformed texts. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/io_uring.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/sockios.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/macro.h"
#include "mpm/sandbox.h"

#define NOBODY 65534

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

/* ---- running a probe in a child ---- */

typedef struct Probe {
        char msg[512];
} Probe;

_printf_(2, 3) static bool probe_fail(Probe *p, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
        va_end(ap);
        return false;
}

#define CHECK(p, cond, ...)                                      \
        do {                                                     \
                if (!(cond))                                     \
                        return probe_fail((p), __VA_ARGS__);     \
        } while (0)

/* errno after a call that must fail, as a number to compare. */
#define FAILS_WITH(call, err) ((call) < 0 && errno == (err))

typedef bool (*ProbeFn)(Probe *p, void *userdata);

/* Runs fn in a forked child; the test fails with the child's message unless fn returned true. */
static void run_in_child(ProbeFn fn, void *userdata) {
        int pipefd[2];
        char buf[sizeof(((Probe *) NULL)->msg) + 1] = {};
        size_t len = 0;
        int status;
        pid_t pid;

        cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                Probe p = {};
                bool ok;

                close(pipefd[0]);
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                ok = fn(&p, userdata);
                if (!ok && !p.msg[0])
                        snprintf(p.msg, sizeof(p.msg), "probe failed without a message");
                (void) !write(pipefd[1], p.msg, strlen(p.msg));
                _exit(ok ? 0 : 1);
        }
        close(pipefd[1]);
        for (;;) {
                ssize_t n = read(pipefd[0], buf + len, sizeof(buf) - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t) n;
        }
        close(pipefd[0]);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status), "child died (status 0x%x): %s", status, buf);
        cr_assert_eq(WEXITSTATUS(status), 0, "%s", buf);
}

static void skip_unless_root(void) {
        if (geteuid() != 0)
                cr_skip_test("needs root to change ids and drop the bounding set");
}

static bool caps_empty(void) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};

        if (capget(&h, d) < 0)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(d); i++)
                if (d[i].effective || d[i].permitted || d[i].inheritable)
                        return false;
        return true;
}

static uint64_t bounding_set_now(void) {
        uint64_t set = 0;
        for (unsigned cap = 0; cap < 64; cap++) {
                int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
                if (r < 0)
                        break;
                if (r > 0)
                        set |= 1ull << cap;
        }
        return set;
}

/* The calls the brief denies to every profile. Called with all-zero arguments, which without the
 * filter would mostly fail otherwise (EFAULT, EINVAL, ESRCH, EBADF) or succeed (unshare(0),
 * setfsuid(0) answers the old id, ptrace(TRACEME)): only the filter answers EPERM for them all.
 * Harmless either way for a process without any capability. */
static const char *const denied_everywhere[] = {
        "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid",
        "setfsgid", "capset", "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2",
        "pivot_root", "chroot", "unshare", "setns", "bpf", "keyctl", "add_key", "request_key", "kexec_load",
        "kexec_file_load", "init_module", "finit_module", "delete_module", "perf_event_open", "userfaultfd",
        "swapon", "swapoff", "reboot", "acct", "quotactl",
};

static bool probe_denied_list(Probe *p) {
        for (size_t i = 0; i < ELEMENTSOF(denied_everywhere); i++) {
                int nr = seccomp_syscall_resolve_name(denied_everywhere[i]);
                long r;

                if (nr < 0)
                        continue; /* not a call on this architecture */
                errno = 0;
                r = syscall(nr, 0, 0, 0, 0, 0, 0);
                CHECK(p, r == -1 && errno == EPERM, "%s(0, …) answered %ld, errno %d (%m)", denied_everywhere[i], r,
                      errno);
        }
        return true;
}

/* What every sandboxed process must show, whatever its profile. */
static bool probe_common(Probe *p, uid_t uid, gid_t gid, bool bounding_empty) {
        uid_t ru, eu, su;
        gid_t rg, eg, sg;
        ProcStatus st;
        int r;

        CHECK(p, getresuid(&ru, &eu, &su) == 0 && ru == uid && eu == uid && su == uid,
              "uids %u/%u/%u, expected %u", ru, eu, su, uid);
        CHECK(p, getresgid(&rg, &eg, &sg) == 0 && rg == gid && eg == gid && sg == gid,
              "gids %u/%u/%u, expected %u", rg, eg, sg, gid);
        CHECK(p, getuid() == uid, "getuid() = %u", getuid());

        /* Refused by the kernel already for an unprivileged uid ... */
        CHECK(p, FAILS_WITH(setuid(0), EPERM), "setuid(0): %m");
        /* ... and these only by the filter: a no-op id change is allowed to anyone. */
        CHECK(p, FAILS_WITH(setresuid((uid_t) -1, (uid_t) -1, (uid_t) -1), EPERM),
              "setresuid(-1, -1, -1) was not refused: %m");
        CHECK(p, FAILS_WITH(setresgid((gid_t) -1, (gid_t) -1, (gid_t) -1), EPERM),
              "setresgid(-1, -1, -1) was not refused: %m");
        CHECK(p, FAILS_WITH(setgroups(0, NULL), EPERM), "setgroups: %m");
        CHECK(p, FAILS_WITH(ptrace(PTRACE_TRACEME, 0, NULL, NULL), EPERM), "ptrace(TRACEME): %m");
        CHECK(p, FAILS_WITH(unshare(CLONE_NEWUSER), EPERM), "unshare(CLONE_NEWUSER): %m");
        CHECK(p, FAILS_WITH(unshare(CLONE_NEWNS), EPERM), "unshare(CLONE_NEWNS): %m");
        CHECK(p, FAILS_WITH(mount("none", "/tmp", "tmpfs", 0, NULL), EPERM), "mount: %m");
        CHECK(p, FAILS_WITH(umount2("/proc", MNT_DETACH), EPERM), "umount2: %m");
        CHECK(p, FAILS_WITH(chroot("/"), EPERM), "chroot: %m");
        CHECK(p, FAILS_WITH(syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0), EPERM), "keyctl: %m");
        CHECK(p, FAILS_WITH(syscall(SYS_bpf, 0, NULL, 0), EPERM), "bpf: %m");
        CHECK(p, FAILS_WITH(syscall(SYS_userfaultfd, 0), EPERM), "userfaultfd: %m");
        static const unsigned long personas[] = {
                ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, PER_LINUX32, 1, 0x80000000ul, 0x7ffffffful,
                0xfffffffeul, 0x100000000ul, 0xfffffffffffffffful,
        };
        for (size_t i = 0; i < ELEMENTSOF(personas); i++)
                CHECK(p, FAILS_WITH(syscall(SYS_personality, personas[i]), EPERM), "personality(0x%lx): %m",
                      personas[i]);
        r = personality(0xffffffff);
        CHECK(p, r == PER_LINUX, "the personality query answered %d: %m", r);
        CHECK(p, personality(PER_LINUX) == PER_LINUX, "personality(PER_LINUX): %m");

        CHECK(p, caps_empty(), "capget shows capabilities");
        if (!probe_denied_list(p))
                return false;
        if (bounding_empty)
                CHECK(p, bounding_set_now() == 0, "bounding set 0x%llx", (unsigned long long) bounding_set_now());
        CHECK(p, prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_BIND_SERVICE, 0, 0) == 0, "ambient set");
        CHECK(p, prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1, "no_new_privs not set");
        CHECK(p, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0, "still dumpable");
        CHECK(p, FAILS_WITH(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), EPERM), "could make itself dumpable again: %m");
        /* The kernel reads the option as an int: a bit above 31 must not slip past the rule. */
        CHECK(p, FAILS_WITH(syscall(SYS_prctl, (1ul << 32) | PR_SET_DUMPABLE, 1, 0, 0, 0), EPERM),
              "PR_SET_DUMPABLE with a high bit set: %m");
        CHECK(p, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0, "dumpable again");

        r = proc_status_read(0, &st);
        CHECK(p, r == 0, "proc_status_read: %s", strerror(-r));
        CHECK(p, st.cap_eff == 0 && st.cap_prm == 0 && st.cap_inh == 0 && st.cap_amb == 0,
              "status caps eff %llx prm %llx inh %llx amb %llx", (unsigned long long) st.cap_eff,
              (unsigned long long) st.cap_prm, (unsigned long long) st.cap_inh, (unsigned long long) st.cap_amb);
        if (bounding_empty)
                CHECK(p, st.cap_bnd == 0, "status CapBnd %llx", (unsigned long long) st.cap_bnd);
        CHECK(p, st.no_new_privs == 1, "status NoNewPrivs %d", st.no_new_privs);
        CHECK(p, st.seccomp == 2, "status Seccomp %d", st.seccomp);
        for (unsigned i = 0; i < _PROC_ID_MAX; i++)
                CHECK(p, st.uid[i] == uid && st.gid[i] == gid, "status id %u: %u/%u", i, st.uid[i], st.gid[i]);
        return true;
}

/* ---- root dropping to nobody ---- */

static bool probe_worker(Probe *p, void *userdata) {
        const char *user = userdata;
        SandboxPolicy pol = {
                .change_ids = true, .uid = NOBODY, .gid = NOBODY, .user_name = user,
                .profile = SANDBOX_PROFILE_WORKER,
        };
        const char *step = "unset";
        gid_t groups[8];
        int r, n, fd;

        r = sandbox_apply(&pol, &step);
        CHECK(p, r == 0, "sandbox_apply: %s at step %s", strerror(-r), step ? step : "(null)");
        CHECK(p, step == NULL, "step %s named on success", step);
        if (!probe_common(p, NOBODY, NOBODY, true))
                return false;

        n = getgroups(ELEMENTSOF(groups), groups);
        CHECK(p, n == 1 && groups[0] == NOBODY, "%d supplementary groups, first %u", n, n > 0 ? groups[0] : 0);

        /* What a worker may and may not do beyond that is the business of the role tests below. */
        fd = open("/dev/null", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        CHECK(p, fd >= 0, "a worker cannot open its log for writing: %m");
        close(fd);
        return true;
}

Test(sandbox, worker_as_nobody_with_user_groups) {
        skip_unless_root();
        run_in_child(probe_worker, "nobody");
}

Test(sandbox, worker_as_nobody_gid_only) {
        skip_unless_root();
        run_in_child(probe_worker, NULL);
}

static bool probe_gid_only(Probe *p, void *userdata) {
        SandboxPolicy pol = { .change_ids = true, .uid = NOBODY, .gid = 12345, .profile = SANDBOX_PROFILE_POOL };
        const char *step = NULL;
        gid_t groups[8];
        int r = sandbox_apply(&pol, &step), n;

        CHECK(p, r == 0, "sandbox_apply: %s at %s", strerror(-r), step);
        n = getgroups(ELEMENTSOF(groups), groups);
        CHECK(p, n == 1 && groups[0] == 12345, "root's groups survived: %d groups, first %u", n,
              n > 0 ? groups[0] : 0);
        return probe_common(p, NOBODY, 12345, true);
}

Test(sandbox, pool_without_user_name_has_only_its_gid) {
        skip_unless_root();
        run_in_child(probe_gid_only, NULL);
}

/* ---- the dispatcher ---- */

static bool probe_dispatcher(Probe *p, void *userdata) {
        SandboxPolicy pol = {
                .change_ids = true, .uid = NOBODY, .gid = NOBODY, .profile = SANDBOX_PROFILE_DISPATCHER,
        };
        struct open_how how = { .flags = O_RDONLY | O_CLOEXEC };
        char *argv[] = { (char *) "true", NULL };
        const char *step = NULL;
        int r, fd;

        r = sandbox_apply(&pol, &step);
        CHECK(p, r == 0, "sandbox_apply: %s at %s", strerror(-r), step);
        if (!probe_common(p, NOBODY, NOBODY, true))
                return false;

        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        CHECK(p, fd >= 0, "open for reading refused: %m");
        close(fd);
        fd = openat(AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        CHECK(p, fd >= 0, "openat for reading refused: %m");
        close(fd);
        CHECK(p, FAILS_WITH(open("/dev/null", O_WRONLY | O_CLOEXEC), EPERM), "open O_WRONLY: %m");
        CHECK(p, FAILS_WITH(open("/dev/null", O_RDWR | O_CLOEXEC), EPERM), "open O_RDWR: %m");
        CHECK(p, FAILS_WITH(open("/dev/null", O_RDONLY | O_TRUNC | O_CLOEXEC), EPERM), "open O_TRUNC: %m");
        CHECK(p, FAILS_WITH(open("/tmp/mpmd-dispatcher-must-not-create", O_RDONLY | O_CREAT | O_CLOEXEC, 0600),
                            EPERM),
              "open O_CREAT: %m");
        CHECK(p, FAILS_WITH(syscall(SYS_open, "/dev/null", O_WRONLY | O_CLOEXEC), EPERM), "raw open: %m");
        CHECK(p, FAILS_WITH(creat("/tmp/mpmd-dispatcher-must-not-create", 0600), EPERM), "creat: %m");
        CHECK(p, FAILS_WITH(syscall(SYS_openat2, AT_FDCWD, "/dev/null", &how, sizeof(how)), ENOSYS),
              "openat2: %m");
        /* ENOENT without the filter: EPERM proves the filter answered. */
        CHECK(p, FAILS_WITH(unlink("/nonexistent/mpmd-test"), EPERM), "unlink: %m");
        CHECK(p, FAILS_WITH(mkdir("/nonexistent/mpmd-test", 0700), EPERM), "mkdir: %m");
        CHECK(p, FAILS_WITH(rename("/nonexistent/a", "/nonexistent/b"), EPERM), "rename: %m");
        CHECK(p, FAILS_WITH(syscall(SYS_io_uring_setup, 1, NULL), EPERM), "io_uring_setup: %m");
        CHECK(p, FAILS_WITH(execve("/bin/true", argv, environ), EPERM), "execve: %m");
        CHECK(p, FAILS_WITH(syscall(SYS_execveat, AT_FDCWD, "/bin/true", argv, environ, 0), EPERM), "execveat: %m");
        return true;
}

Test(sandbox, dispatcher_cannot_exec_or_write) {
        skip_unless_root();
        run_in_child(probe_dispatcher, NULL);
}

/* ---- what each role's filter lets through ---- */

typedef struct RoleCase {
        char name[16];
        int profile;
        bool threads;  /* starts threads */
        bool files;    /* opens files for writing, memfd, pipes, AF_UNIX socketpairs (the CGI client side) */
        bool programs; /* forks and execs: the CGI launcher's deny list */
} RoleCase;

static RoleCase role_cases[] = {
        {"worker", SANDBOX_PROFILE_WORKER, true, true, false},
        {"prefork", SANDBOX_PROFILE_PREFORK, false, true, false},
        {"event", SANDBOX_PROFILE_EVENT, false, true, false},
        {"pool", SANDBOX_PROFILE_POOL, false, true, false},
        {"dispatcher", SANDBOX_PROFILE_DISPATCHER, false, false, false},
        {"cgi-launcher", SANDBOX_PROFILE_CGI_LAUNCHER, true, true, true},
};

/* As root the role drops to nobody, as the supervisor does; an ordinary user keeps its ids. */
static bool role_apply(Probe *p, const RoleCase *c) {
        bool root = geteuid() == 0;
        SandboxPolicy pol = {
                .change_ids = root,
                .uid = NOBODY,
                .gid = NOBODY,
                .profile = (SandboxProfile) c->profile,
        };
        const char *step = NULL;
        uid_t uid = root ? NOBODY : getuid();
        gid_t gid = root ? NOBODY : getgid();
        int r = sandbox_apply(&pol, &step);

        CHECK(p, r == 0, "%s: sandbox_apply: %s at %s", c->name, strerror(-r), step ? step : "(null)");
        return probe_common(p, uid, gid, root);
}

static void *thread_main(void *userdata) {
        *(bool *) userdata = true;
        return NULL;
}

/* A memfd (a request body spooled for a CGI program) passed over an AF_UNIX SOCK_SEQPACKET pair
 * with SCM_RIGHTS, as a worker hands it to the CGI launcher, and read back on the other side. */
static bool probe_cgi_client(Probe *p, const RoleCase *c) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        char data[8] = {}, byte = 'x';
        struct iovec iov = {&byte, 1};
        struct msghdr msg = {
                .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf)};
        struct cmsghdr *cm;
        int memfd, sv[2], pipefd[2], fd, got;

        memfd = memfd_create("mpmd-test-body", MFD_CLOEXEC);
        CHECK(p, memfd >= 0, "%s: memfd_create: %m", c->name);
        CHECK(p, write(memfd, "hello", 5) == 5, "%s: write to the memfd: %m", c->name);
        CHECK(p, lseek(memfd, 0, SEEK_SET) == 0, "%s: lseek: %m", c->name);
        CHECK(p, ftruncate(memfd, 5) == 0, "%s: ftruncate: %m", c->name);

        CHECK(p, socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0, "%s: socketpair: %m", c->name);
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &memfd, sizeof(int));
        CHECK(p, sendmsg(sv[0], &msg, MSG_NOSIGNAL) == 1, "%s: sendmsg SCM_RIGHTS: %m", c->name);
        memset(&control, 0, sizeof(control));
        msg.msg_controllen = sizeof(control.buf);
        CHECK(p, recvmsg(sv[1], &msg, MSG_CMSG_CLOEXEC) == 1, "%s: recvmsg: %m", c->name);
        cm = CMSG_FIRSTHDR(&msg);
        CHECK(p, cm && cm->cmsg_type == SCM_RIGHTS, "%s: no descriptor came", c->name);
        memcpy(&got, CMSG_DATA(cm), sizeof(int));
        CHECK(p, pread(got, data, sizeof(data), 0) == 5 && memcmp(data, "hello", 5) == 0,
              "%s: the passed memfd does not read back: %m", c->name);
        close(got);
        close(sv[0]);
        close(sv[1]);
        close(memfd);

        CHECK(p, pipe2(pipefd, O_CLOEXEC) == 0, "%s: pipe2: %m", c->name);
        CHECK(p, write(pipefd[1], "x", 1) == 1, "%s: write to a pipe: %m", c->name);
        CHECK(p, poll(&(struct pollfd){.fd = pipefd[0], .events = POLLIN}, 1, 1000) == 1, "%s: poll: %m", c->name);
        close(pipefd[0]);
        close(pipefd[1]);

        /* Its logs (a site's own pool opens them itself), and a file under a DocumentRoot. */
        fd = openat(AT_FDCWD, "/dev/null", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        CHECK(p, fd >= 0, "%s: openat for writing: %m", c->name);
        close(fd);
        fd = (int) syscall(SYS_openat2, AT_FDCWD, "/dev/null", &(struct open_how){.flags = O_RDONLY | O_CLOEXEC},
                           sizeof(struct open_how));
        CHECK(p, fd >= 0, "%s: openat2: %m", c->name);
        close(fd);
        return true;
}

static bool probe_role(Probe *p, void *userdata) {
        const RoleCase *c = userdata;
        struct timespec ts;
        struct rlimit rl;
        char buf[64];
        pthread_t thread;
        bool ran = false;
        int fd, epfd, r;

        if (!role_apply(p, c))
                return false;

        /* What every role does: an epoll loop, reading a file, the clock, randomness, limits. */
        epfd = epoll_create1(EPOLL_CLOEXEC);
        CHECK(p, epfd >= 0, "%s: epoll_create1: %m", c->name);
        fd = openat(AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        CHECK(p, fd >= 0, "%s: openat for reading: %m", c->name);
        CHECK(p, epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &(struct epoll_event){.events = EPOLLIN}) < 0 && errno == EPERM,
              "%s: epoll_ctl on a regular file: %m", c->name); /* the kernel's EPERM: the call went through */
        CHECK(p, read(fd, buf, sizeof(buf)) > 0, "%s: read: %m", c->name);
        close(fd);
        CHECK(p, poll(&(struct pollfd){.fd = epfd, .events = POLLIN}, 1, 0) == 0, "%s: poll: %m", c->name);
        close(epfd);
        CHECK(p, clock_gettime(CLOCK_REALTIME, &ts) == 0, "%s: clock_gettime: %m", c->name);
        CHECK(p, getrandom(buf, 16, 0) == 16, "%s: getrandom: %m", c->name);
        CHECK(p, getrlimit(RLIMIT_NOFILE, &rl) == 0, "%s: getrlimit: %m", c->name);
        /* SIOCOUTQ (MinSendRate) reaches the kernel, which finds no socket here. */
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        CHECK(p, fd >= 0, "%s: open /dev/null: %m", c->name);
        CHECK(p, FAILS_WITH(ioctl(fd, SIOCOUTQ, &r), ENOTTY), "%s: ioctl(SIOCOUTQ): %m", c->name);
        if (!c->programs)
                /* Any other ioctl, such as pushing input into a terminal, never does. */
                CHECK(p, FAILS_WITH(ioctl(fd, TIOCSTI, "x"), ENOSYS), "%s: ioctl(TIOCSTI): %m", c->name);
        close(fd);

        if (c->files) {
                if (!probe_cgi_client(p, c))
                        return false;
        } else {
                CHECK(p, FAILS_WITH(memfd_create("mpmd-test", MFD_CLOEXEC), ENOSYS), "%s: memfd_create: %m", c->name);
                CHECK(p, FAILS_WITH(pipe2((int[2]){}, O_CLOEXEC), ENOSYS), "%s: pipe2: %m", c->name);
                CHECK(p, FAILS_WITH(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, (int[2]){}), ENOSYS),
                      "%s: socketpair(AF_UNIX): %m", c->name);
        }

        r = pthread_create(&thread, NULL, thread_main, &ran);
        if (c->threads) {
                CHECK(p, r == 0, "%s: pthread_create: %s", c->name, strerror(r));
                CHECK(p, pthread_join(thread, NULL) == 0 && ran, "%s: the thread did not run", c->name);
        } else
                CHECK(p, r != 0 && !ran, "%s: a single-threaded role started a thread", c->name);

        if (c->programs) {
                /* The launcher forks and execs; its programs inherit ids and filter. */
                char *argv[] = {(char *) "true", NULL};
                int status;
                pid_t pid = fork();

                CHECK(p, pid >= 0, "%s: fork: %m", c->name);
                if (pid == 0) {
                        ProcStatus st;
                        if (proc_status_read(0, &st) < 0 || st.seccomp != 2 ||
                            !FAILS_WITH(setresuid((uid_t) -1, (uid_t) -1, (uid_t) -1), EPERM))
                                _exit(3);
                        execve("/bin/true", argv, environ);
                        _exit(4);
                }
                CHECK(p, waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "%s: a forked program escaped the filter or could not exec (status 0x%x)", c->name, status);
                CHECK(p, FAILS_WITH(unlink("/nonexistent/mpmd-test"), ENOENT), "%s: unlink: %m", c->name);
                return true;
        }

        /* Outside every serving allow-list. EPERM where the refusal is deliberate ... */
        char *argv[] = {(char *) "true", NULL};
        CHECK(p, FAILS_WITH(execve("/bin/true", argv, environ), EPERM), "%s: execve: %m", c->name);
        CHECK(p, FAILS_WITH(syscall(SYS_execveat, AT_FDCWD, "/bin/true", argv, environ, 0), EPERM), "%s: execveat: %m",
              c->name);
        CHECK(p, FAILS_WITH(fork(), EPERM), "%s: fork: %m", c->name);
        /* ... EAFNOSUPPORT for a network socket of its own (the kernel alone would have answered
         * EPERM to AF_PACKET without CAP_NET_RAW, and made the AF_INET one) ... */
        CHECK(p, FAILS_WITH(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0), EAFNOSUPPORT), "%s: socket(AF_PACKET): %m",
              c->name);
        CHECK(p, FAILS_WITH(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), EAFNOSUPPORT), "%s: socket(AF_INET): %m",
              c->name);
        CHECK(p, FAILS_WITH(syscall(SYS_socket, (1ul << 32) | AF_UNIX, SOCK_STREAM, 0), EAFNOSUPPORT),
              "%s: socket with a high bit set: %m", c->name);
        /* ... and ENOSYS for everything nobody listed: signalling another process, raising a limit,
         * unlink (EPERM for the dispatcher, whose list names it). */
        CHECK(p, FAILS_WITH(kill(getppid(), 0), ENOSYS), "%s: kill: %m", c->name);
        CHECK(p, FAILS_WITH(syscall(SYS_tgkill, getppid(), getppid(), 0), ENOSYS), "%s: tgkill of another: %m",
              c->name);
        CHECK(p, FAILS_WITH(setrlimit(RLIMIT_NOFILE, &rl), ENOSYS), "%s: setrlimit: %m", c->name);
        CHECK(p, FAILS_WITH(unlink("/nonexistent/mpmd-test"), c->files ? ENOSYS : EPERM), "%s: unlink: %m", c->name);
        CHECK(p, FAILS_WITH(syscall(SYS_clone3, NULL, 0), ENOSYS), "%s: clone3: %m", c->name);
        return true;
}

ParameterizedTestParameters(sandbox, role_allows_what_it_needs_and_no_more) {
        return cr_make_param_array(RoleCase, role_cases, ELEMENTSOF(role_cases));
}

ParameterizedTest(RoleCase *c, sandbox, role_allows_what_it_needs_and_no_more) {
        run_in_child(probe_role, c);
}

/* Dying is what some calls must do: the status of a child that applied profile and then ran fn. */
static int status_after(SandboxProfile profile, void (*fn)(void)) {
        SandboxPolicy pol = {.change_ids = geteuid() == 0, .uid = NOBODY, .gid = NOBODY, .profile = profile};
        int status;
        pid_t pid = fork();

        cr_assert_geq(pid, 0);
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (sandbox_apply(&pol, NULL) < 0)
                        _exit(2);
                fn();
                _exit(0);
        }
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        return status;
}

static void call_abort(void) {
        /* abort() through the filter: tgkill of its own thread group. The core would be useless. */
        struct rlimit no_core = {};
        (void) setrlimit(RLIMIT_CORE, &no_core);
        abort();
}

/* A failed assertion still ends as SIGABRT, not as a hang or an exit. */
Test(sandbox, abort_still_kills_under_every_profile) {
        for (int profile = 0; profile < _SANDBOX_PROFILE_MAX; profile++) {
                int status = status_after(profile, call_abort);
                cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "%s: status 0x%x",
                          sandbox_profile_to_string(profile), status);
        }
}

#if defined(__x86_64__)
static void call_x32(void) {
        (void) syscall(0x40000000 | SYS_unshare, 0);
}

/* The same call through the x32 ABI is not a way around a list: it kills the caller. */
Test(sandbox, x32_abi_is_no_way_around_any_profile) {
        for (int profile = 0; profile < _SANDBOX_PROFILE_MAX; profile++) {
                int status = status_after(profile, call_x32);
                cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "%s: status 0x%x",
                          sandbox_profile_to_string(profile), status);
        }
}
#endif

/* ---- ways out: namespaces, the new mount API, io_uring, fds of others, other socket families ---- */

/* What a CGI program (or a worker taken over by a request) would try in order to get capabilities
 * back in a namespace of its own, or to reach kernel interfaces no web program needs. Each attempt
 * is made for real where that is harmless, else with arguments the kernel alone answers otherwise
 * than the filter (EINVAL, EBADF, a new descriptor): the errno then proves that the filter answered,
 * and the probe carrying on afterwards proves that it answered without killing the process.
 * fsopen, fsmount, fspick and move_mount are the exception: without CAP_SYS_ADMIN in its user
 * namespace the kernel says EPERM itself, and the clone cases are what keep a program from having
 * that namespace. */

typedef enum EscapeCall {
        ESCAPE_CLONE,      /* clone(arg | SIGCHLD): a new process in new namespaces */
        ESCAPE_CLONE_FLAG, /* clone(arg | CLONE_THREAD): EINVAL from the kernel alone (a thread
                            * without CLONE_SIGHAND), so nothing is ever created */
        ESCAPE_CLONE3,
        ESCAPE_UNSHARE,
        ESCAPE_SETNS,
        ESCAPE_FSOPEN,
        ESCAPE_FSCONFIG,
        ESCAPE_FSMOUNT,
        ESCAPE_FSPICK,
        ESCAPE_MOVE_MOUNT,
        ESCAPE_OPEN_TREE,
        ESCAPE_MOUNT_SETATTR,
        ESCAPE_IO_URING_SETUP,
        ESCAPE_IO_URING_ENTER,
        ESCAPE_IO_URING_REGISTER,
        ESCAPE_PIDFD_GETFD,
        ESCAPE_MEMFD_SECRET,
        ESCAPE_SOCKET,     /* socket(arg, type, 0) */
        ESCAPE_SOCKETPAIR, /* socketpair(arg, type, 0) */
} EscapeCall;

typedef struct Escape {
        char name[48];
        int call;     /* EscapeCall */
        uint64_t arg; /* clone flags or a socket family */
        int type;     /* the socket type */
        int launcher; /* the errno of the CGI launcher's deny list */
        int serving;  /* the errno of every serving role's allow-list */
} Escape;

#define CLONE_TRY(flag) {"clone(" #flag ")", ESCAPE_CLONE_FLAG, flag, 0, EPERM, EPERM}

static Escape escapes[] = {
        /* The report's recipe: a user namespace, and in it network and mount namespaces. */
        {"clone(NEWUSER|NEWNET|NEWNS)", ESCAPE_CLONE, CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS, 0, EPERM, EPERM},
        {"clone(NEWUSER)", ESCAPE_CLONE, CLONE_NEWUSER, 0, EPERM, EPERM},
        CLONE_TRY(CLONE_NEWUSER),
        CLONE_TRY(CLONE_NEWNS),
        CLONE_TRY(CLONE_NEWNET),
        CLONE_TRY(CLONE_NEWPID),
        CLONE_TRY(CLONE_NEWIPC),
        CLONE_TRY(CLONE_NEWUTS),
        CLONE_TRY(CLONE_NEWCGROUP),
        CLONE_TRY(CLONE_NEWTIME),
        /* A high bit the kernel drops must not hide the flag. */
        {"clone(NEWUSER) with bit 32 set", ESCAPE_CLONE_FLAG, (1ull << 32) | CLONE_NEWUSER, 0, EPERM, EPERM},
        /* ENOSYS: the C library takes clone3 for missing and falls back to clone. */
        {"clone3(NEWUSER)", ESCAPE_CLONE3, CLONE_NEWUSER, 0, ENOSYS, ENOSYS},
        {"clone3(0)", ESCAPE_CLONE3, 0, 0, ENOSYS, ENOSYS},
        {"unshare(NEWUSER)", ESCAPE_UNSHARE, CLONE_NEWUSER, 0, EPERM, EPERM},
        {"unshare(NEWNET)", ESCAPE_UNSHARE, CLONE_NEWNET, 0, EPERM, EPERM},
        {"setns", ESCAPE_SETNS, CLONE_NEWUSER, 0, EPERM, EPERM},
        {"fsopen", ESCAPE_FSOPEN, 0, 0, EPERM, EPERM},
        {"fsconfig", ESCAPE_FSCONFIG, 0, 0, EPERM, EPERM},
        {"fsmount", ESCAPE_FSMOUNT, 0, 0, EPERM, EPERM},
        {"fspick", ESCAPE_FSPICK, 0, 0, EPERM, EPERM},
        {"move_mount", ESCAPE_MOVE_MOUNT, 0, 0, EPERM, EPERM},
        {"open_tree", ESCAPE_OPEN_TREE, 0, 0, EPERM, EPERM},
        {"mount_setattr", ESCAPE_MOUNT_SETATTR, 0, 0, EPERM, EPERM},
        {"io_uring_setup", ESCAPE_IO_URING_SETUP, 0, 0, EPERM, EPERM},
        {"io_uring_enter", ESCAPE_IO_URING_ENTER, 0, 0, EPERM, EPERM},
        {"io_uring_register", ESCAPE_IO_URING_REGISTER, 0, 0, EPERM, EPERM},
        {"pidfd_getfd", ESCAPE_PIDFD_GETFD, 0, 0, EPERM, EPERM},
        {"memfd_secret", ESCAPE_MEMFD_SECRET, 0, 0, EPERM, EPERM},
        /* No serving role makes a network socket of its own: EAFNOSUPPORT there, as for AF_INET. */
        {"socket(AF_NETLINK)", ESCAPE_SOCKET, AF_NETLINK, SOCK_RAW, EPERM, EAFNOSUPPORT},
        {"socket(AF_PACKET)", ESCAPE_SOCKET, AF_PACKET, SOCK_RAW, EPERM, EAFNOSUPPORT},
        {"socket(AF_VSOCK)", ESCAPE_SOCKET, AF_VSOCK, SOCK_STREAM, EPERM, EAFNOSUPPORT},
        {"socket(AF_NETLINK) with bit 32 set", ESCAPE_SOCKET, (1ull << 32) | AF_NETLINK, SOCK_RAW, EPERM, EAFNOSUPPORT},
        {"socketpair(AF_NETLINK)", ESCAPE_SOCKETPAIR, AF_NETLINK, SOCK_RAW, EPERM, EAFNOSUPPORT},
};

/* A call that made a process: the child leaves at once, the parent reaps it and reports success. */
static long clone_outcome(long r) {
        if (r == 0)
                _exit(0);
        if (r > 0)
                (void) waitpid((pid_t) r, NULL, __WALL);
        return r;
}

/* A call that made a descriptor: closed, and reported as success. */
static long fd_outcome(long r) {
        if (r >= 0)
                close((int) r);
        return r;
}

static long escape_try(const Escape *e) {
        struct clone_args args = {.flags = e->arg, .exit_signal = SIGCHLD};
        struct io_uring_params params = {};
        int sv[2];

        switch ((EscapeCall) e->call) {
        case ESCAPE_CLONE:
                return clone_outcome(syscall(SYS_clone, e->arg | SIGCHLD, 0, 0, 0, 0));
        case ESCAPE_CLONE_FLAG:
                return clone_outcome(syscall(SYS_clone, e->arg | CLONE_THREAD, 0, 0, 0, 0));
        case ESCAPE_CLONE3:
                return clone_outcome(syscall(SYS_clone3, &args, sizeof(args)));
        case ESCAPE_UNSHARE:
                return syscall(SYS_unshare, e->arg);
        case ESCAPE_SETNS:
                return syscall(SYS_setns, -1, e->arg);
        case ESCAPE_FSOPEN:
                return fd_outcome(syscall(SYS_fsopen, "tmpfs", 0));
        case ESCAPE_FSCONFIG:
                return syscall(SYS_fsconfig, -1, 0, NULL, NULL, 0);
        case ESCAPE_FSMOUNT:
                return fd_outcome(syscall(SYS_fsmount, -1, 0, 0));
        case ESCAPE_FSPICK:
                return fd_outcome(syscall(SYS_fspick, AT_FDCWD, "/", 0));
        case ESCAPE_MOVE_MOUNT:
                return syscall(SYS_move_mount, -1, "", AT_FDCWD, "/tmp", 0);
        case ESCAPE_OPEN_TREE: /* an O_PATH descriptor of / without the filter */
                return fd_outcome(syscall(SYS_open_tree, AT_FDCWD, "/", O_CLOEXEC));
        case ESCAPE_MOUNT_SETATTR: /* EINVAL without the filter: flags no kernel knows */
                return syscall(SYS_mount_setattr, -1, "", 0xffffffffu, NULL, 0);
        case ESCAPE_IO_URING_SETUP: /* a ring without the filter */
                return fd_outcome(syscall(SYS_io_uring_setup, 1, &params));
        case ESCAPE_IO_URING_ENTER:
                return syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0);
        case ESCAPE_IO_URING_REGISTER:
                return syscall(SYS_io_uring_register, -1, 0, NULL, 0);
        case ESCAPE_PIDFD_GETFD:
                return fd_outcome(syscall(SYS_pidfd_getfd, -1, 0, 0));
        case ESCAPE_MEMFD_SECRET: /* a descriptor without the filter, where the kernel has it */
                return fd_outcome(syscall(SYS_memfd_secret, 0));
        case ESCAPE_SOCKET:
                return fd_outcome(syscall(SYS_socket, e->arg, e->type | SOCK_CLOEXEC, 0));
        case ESCAPE_SOCKETPAIR: {
                long r = syscall(SYS_socketpair, e->arg, e->type | SOCK_CLOEXEC, 0, sv);
                if (r == 0) {
                        close(sv[0]);
                        close(sv[1]);
                }
                return r;
        }
        }
        errno = EINVAL;
        return -1;
}

typedef struct EscapeRun {
        const Escape *escape;
        SandboxProfile profile;
} EscapeRun;

/* As root the profile drops to nobody, as the supervisor does; an ordinary user keeps its ids. */
static bool profile_apply(Probe *p, SandboxProfile profile) {
        bool root = geteuid() == 0;
        SandboxPolicy pol = {.change_ids = root, .uid = NOBODY, .gid = NOBODY, .profile = profile};
        const char *step = NULL;
        int r = sandbox_apply(&pol, &step);

        CHECK(p, r == 0, "%s: sandbox_apply: %s at %s", sandbox_profile_to_string(profile), strerror(-r),
              step ? step : "(null)");
        return true;
}

static bool probe_escape(Probe *p, void *userdata) {
        const EscapeRun *run = userdata;
        const Escape *e = run->escape;
        const char *role = sandbox_profile_to_string(run->profile);
        int want = run->profile == SANDBOX_PROFILE_CGI_LAUNCHER ? e->launcher : e->serving;
        long r;

        if (!profile_apply(p, run->profile))
                return false;
        errno = 0;
        r = escape_try(e);
        CHECK(p, r == -1 && errno == want, "%s: %s answered %ld, errno %d (%m), expected %s", role, e->name, r, errno,
              strerror(want));
        /* Returning at all is the other half: run_in_child() fails the test if the call killed it. */
        return true;
}

ParameterizedTestParameters(sandbox, escape_refused_by_every_profile) {
        return cr_make_param_array(Escape, escapes, ELEMENTSOF(escapes));
}

ParameterizedTest(Escape *e, sandbox, escape_refused_by_every_profile) {
        for (int profile = 0; profile < _SANDBOX_PROFILE_MAX; profile++)
                run_in_child(probe_escape, &(EscapeRun){e, (SandboxProfile) profile});
}

/* Every 32-bit family but AF_UNIX, AF_INET and AF_INET6 that a program could name to socket() or
 * socketpair(): the kernel knows about 46 today; every value below 256 and each single high bit,
 * the sign bit among them, stand for those it may learn. */
static bool probe_families(Probe *p, void *userdata) {
        SandboxProfile profile = *(const SandboxProfile *) userdata;
        const char *role = sandbox_profile_to_string(profile);
        int want = profile == SANDBOX_PROFILE_CGI_LAUNCHER ? EPERM : EAFNOSUPPORT;
        uint64_t families[256 + 24];
        size_t n = 0;

        for (uint64_t f = 0; f < 256; f++)
                if (f != AF_UNIX && f != AF_INET && f != AF_INET6)
                        families[n++] = f;
        for (unsigned bit = 8; bit < 32; bit++)
                families[n++] = 1ull << bit;
        if (!profile_apply(p, profile))
                return false;
        for (size_t i = 0; i < n; i++) {
                int sv[2];
                long r;

                errno = 0;
                r = fd_outcome(syscall(SYS_socket, families[i], SOCK_DGRAM | SOCK_CLOEXEC, 0));
                CHECK(p, r == -1 && errno == want, "%s: socket(%#llx) answered %ld, errno %d (%m)", role,
                      (unsigned long long) families[i], r, errno);
                errno = 0;
                r = syscall(SYS_socketpair, families[i], SOCK_DGRAM | SOCK_CLOEXEC, 0, sv);
                CHECK(p, r == -1 && errno == want, "%s: socketpair(%#llx) answered %ld, errno %d (%m)", role,
                      (unsigned long long) families[i], r, errno);
        }
        return true;
}

Test(sandbox, socket_families_but_unix_and_ip_refused) {
        for (int profile = 0; profile < _SANDBOX_PROFILE_MAX; profile++)
                run_in_child(probe_families, &(SandboxProfile){(SandboxProfile) profile});
}

/* What CGI programs do keep working under the launcher's filter: fork, threads and posix_spawn
 * (the C library tries clone3 first and falls back to clone on its ENOSYS), and their own
 * AF_UNIX, AF_INET and AF_INET6 sockets (a database, an upstream API). */
static bool probe_launcher_keeps_working(Probe *p, void *userdata) {
        bool ipv6 = *(const bool *) userdata;
        static const int families[] = {AF_UNIX, AF_INET, AF_INET6};
        char *argv[] = {(char *) "true", NULL};
        pthread_t thread;
        bool ran = false;
        int status, r, sv[2];
        pid_t pid;

        if (!profile_apply(p, SANDBOX_PROFILE_CGI_LAUNCHER))
                return false;

        pid = fork();
        CHECK(p, pid >= 0, "fork: %m");
        if (pid == 0)
                _exit(7);
        CHECK(p, waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 7,
              "the forked child did not run (status 0x%x)", status);

        r = pthread_create(&thread, NULL, thread_main, &ran);
        CHECK(p, r == 0, "pthread_create: %s", strerror(r));
        CHECK(p, pthread_join(thread, NULL) == 0 && ran, "the thread did not run");

        r = posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ);
        CHECK(p, r == 0, "posix_spawn: %s", strerror(r));
        CHECK(p, waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the spawned program failed (status 0x%x)", status);

        for (size_t i = 0; i < ELEMENTSOF(families); i++) {
                if (families[i] == AF_INET6 && !ipv6)
                        continue;
                int fd = socket(families[i], SOCK_STREAM | SOCK_CLOEXEC, 0);
                CHECK(p, fd >= 0, "socket(%d): %m", families[i]);
                close(fd);
        }
        CHECK(p, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair(AF_UNIX): %m");
        close(sv[0]);
        close(sv[1]);
        return true;
}

Test(sandbox, launcher_still_forks_spawns_threads_and_opens_ip_sockets) {
        int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ipv6 = fd >= 0;

        if (fd >= 0)
                close(fd);
        run_in_child(probe_launcher_keeps_working, &ipv6);
}

/* What the launcher does for the site limits under its own filter (cgi-launcher.h): become a child
 * subreaper, lower its rlimits and its programs' (site-limits.h), and read its children's list. */
static bool probe_launcher_limits(Probe *p, void *userdata) {
        struct rlimit cpu = { 30, 35 }, got;
        char path[64];
        int subreaper = 0, fd;

        if (!profile_apply(p, SANDBOX_PROFILE_CGI_LAUNCHER))
                return false;
        CHECK(p, prctl(PR_SET_CHILD_SUBREAPER, 1) == 0, "PR_SET_CHILD_SUBREAPER: %m");
        CHECK(p, prctl(PR_GET_CHILD_SUBREAPER, &subreaper) == 0 && subreaper == 1, "not a subreaper");
        CHECK(p, setrlimit(RLIMIT_CPU, &cpu) == 0, "setrlimit(RLIMIT_CPU): %m");
        CHECK(p, getrlimit(RLIMIT_CPU, &got) == 0 && got.rlim_cur == 30 && got.rlim_max == 35, "RLIMIT_CPU not set");
        snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int) getpid());
        fd = open(path, O_RDONLY | O_CLOEXEC);
        CHECK(p, fd >= 0, "%s: %m", path);
        close(fd);
        return true;
}

Test(sandbox, launcher_may_reap_orphans_and_set_limits) {
        run_in_child(probe_launcher_limits, NULL);
}

/* ---- refused policies ---- */

typedef struct Refusal {
        char name[48];
        bool change_ids;
        uid_t uid;
        gid_t gid;
        char user[16]; /* "" for none */
        int profile;
        int expect;
        char step[16];
} Refusal;

static Refusal refusals[] = {
        { "uid 0", true, 0, NOBODY, "", SANDBOX_PROFILE_WORKER, -EPERM, "policy" },
        { "gid 0", true, NOBODY, 0, "", SANDBOX_PROFILE_WORKER, -EPERM, "policy" },
        { "uid -1 (unchanged)", true, (uid_t) -1, NOBODY, "", SANDBOX_PROFILE_WORKER, -EINVAL, "policy" },
        { "gid -1 (unchanged)", true, NOBODY, (gid_t) -1, "", SANDBOX_PROFILE_WORKER, -EINVAL, "policy" },
        { "root keeping its ids", false, NOBODY, NOBODY, "", SANDBOX_PROFILE_WORKER, -EPERM, "policy" },
        { "unknown profile", true, NOBODY, NOBODY, "", 99, -EINVAL, "policy" },
};

typedef struct Snapshot {
        ProcStatus st;
        uint64_t bounding;
        int groups;
} Snapshot;

static bool snapshot_take(Probe *p, Snapshot *s) {
        int r = proc_status_read(0, &s->st);

        CHECK(p, r == 0, "proc_status_read: %s", strerror(-r));
        s->bounding = bounding_set_now();
        s->groups = getgroups(0, NULL);
        return true;
}

static bool probe_refusal(Probe *p, void *userdata) {
        const Refusal *c = userdata;
        SandboxPolicy pol = {
                .change_ids = c->change_ids, .uid = c->uid, .gid = c->gid,
                .user_name = c->user[0] ? c->user : NULL, .profile = (SandboxProfile) c->profile,
        };
        Snapshot before, after;
        const char *step = NULL;
        int r;

        if (!snapshot_take(p, &before))
                return false;
        r = sandbox_apply(&pol, &step);
        CHECK(p, r == c->expect, "%s: got %d (%s), expected %d", c->name, r, strerror(-r), c->expect);
        CHECK(p, step && strcmp(step, c->step) == 0, "%s: step %s, expected %s", c->name, step ? step : "(null)",
              c->step);
        if (!snapshot_take(p, &after))
                return false;
        /* Nothing changed: still root with every capability, no filter. */
        CHECK(p, memcmp(after.st.uid, before.st.uid, sizeof(before.st.uid)) == 0, "%s: uids changed", c->name);
        CHECK(p, memcmp(after.st.gid, before.st.gid, sizeof(before.st.gid)) == 0, "%s: gids changed", c->name);
        CHECK(p, after.groups == before.groups, "%s: groups changed", c->name);
        CHECK(p, after.st.cap_eff == before.st.cap_eff && after.st.cap_eff != 0, "%s: effective set changed",
              c->name);
        CHECK(p, after.bounding == before.bounding && after.bounding != 0, "%s: bounding set changed", c->name);
        CHECK(p, after.st.no_new_privs == 0 && after.st.seccomp == 0, "%s: nnp %d seccomp %d", c->name,
              after.st.no_new_privs, after.st.seccomp);
        return true;
}

ParameterizedTestParameters(sandbox, refused_policy_changes_nothing) {
        return cr_make_param_array(Refusal, refusals, ELEMENTSOF(refusals));
}

ParameterizedTest(Refusal *c, sandbox, refused_policy_changes_nothing) {
        skip_unless_root();
        run_in_child(probe_refusal, c);
}

/* A user listed as a member of group root would carry gid 0 as a supplementary group. The child
 * shows getgrouplist() such a group file through a private bind mount over /etc/group. */
static bool probe_group_root(Probe *p, void *userdata) {
        static const char group_file[] = "root:x:0:nobody\nnogroup:x:65534:\n";
        Refusal c = { "supplementary group root", true, NOBODY, NOBODY, "nobody", SANDBOX_PROFILE_WORKER, -EPERM,
                      "setgroups" };
        char path[] = "/tmp/mpmd-test-group-XXXXXX";
        gid_t g[8];
        int fd, n = ELEMENTSOF(g);
        bool ok;

        CHECK(p, unshare(CLONE_NEWNS) == 0, "unshare(CLONE_NEWNS): %m");
        CHECK(p, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0, "making / private: %m");
        fd = mkostemp(path, O_CLOEXEC);
        CHECK(p, fd >= 0, "mkostemp: %m");
        CHECK(p, write(fd, group_file, strlen(group_file)) == (ssize_t) strlen(group_file), "write: %m");
        close(fd);
        CHECK(p, mount(path, "/etc/group", NULL, MS_BIND, NULL) == 0, "bind mount over /etc/group: %m");
        (void) unlink(path);

        CHECK(p, getgrouplist("nobody", NOBODY, g, &n) >= 0, "getgrouplist: %m");
        ok = false;
        for (int i = 0; i < n; i++)
                ok = ok || g[i] == 0;
        CHECK(p, ok, "the group file was not used (%d groups)", n);
        return probe_refusal(p, &c);
}

Test(sandbox, supplementary_group_root_refused) {
        skip_unless_root();
        run_in_child(probe_group_root, NULL);
}

Test(sandbox, null_policy_refused) {
        const char *step = NULL;

        cr_assert_eq(sandbox_apply(NULL, &step), -EINVAL);
        cr_assert_str_eq(step, "policy");
}

/* ---- an already unprivileged process ---- */

static bool probe_unprivileged(Probe *p, void *userdata) {
        SandboxPolicy pol = { .change_ids = false, .profile = SANDBOX_PROFILE_WORKER };
        gid_t g = NOBODY;
        const char *step = NULL;
        uint64_t bounding;
        int r;

        /* As root, become nobody the ordinary way, sandbox not involved: the kernel clears the
         * permitted and effective sets, the bounding set stays and can no longer be changed. A
         * test run by an ordinary user is in that state already. */
        if (geteuid() == 0) {
                CHECK(p, setgroups(1, &g) == 0 && setresgid(NOBODY, NOBODY, NOBODY) == 0 &&
                                 setresuid(NOBODY, NOBODY, NOBODY) == 0,
                      "dropping to nobody: %m");
                CHECK(p, bounding_set_now() != 0, "the bounding set was already empty");
        }
        bounding = bounding_set_now();
        /* A process may make itself dumpable again; the sandbox must undo that. */
        CHECK(p, prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == 0, "PR_SET_DUMPABLE: %m");

        r = sandbox_apply(&pol, &step);
        CHECK(p, r == 0, "sandbox_apply: %s at %s", strerror(-r), step);
        if (!probe_common(p, getuid(), getgid(), false))
                return false;
        CHECK(p, bounding_set_now() == bounding, "the bounding set changed without CAP_SETPCAP");
        return true;
}

Test(sandbox, unprivileged_process_keeps_its_ids) {
        run_in_child(probe_unprivileged, NULL);
}

/* A non-root process that kept capabilities across its own setuid (PR_SET_KEEPCAPS), holds one
 * in its ambient set, and still has CAP_SETPCAP: everything goes, the bounding set included. */
static bool probe_kept_caps(Probe *p, void *userdata) {
        static const cap_value_t keep[] = { CAP_SETPCAP, CAP_NET_BIND_SERVICE };
        SandboxPolicy pol = { .change_ids = false, .profile = SANDBOX_PROFILE_WORKER };
        gid_t g = NOBODY;
        const char *step = NULL;
        ProcStatus st;
        cap_t caps;
        int r;

        CHECK(p, prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0, "PR_SET_KEEPCAPS: %m");
        CHECK(p, setgroups(1, &g) == 0 && setresgid(NOBODY, NOBODY, NOBODY) == 0 &&
                         setresuid(NOBODY, NOBODY, NOBODY) == 0,
              "dropping to nobody: %m");
        caps = cap_init();
        CHECK(p, caps != NULL, "cap_init: %m");
        CHECK(p, cap_set_flag(caps, CAP_PERMITTED, ELEMENTSOF(keep), keep, CAP_SET) == 0 &&
                         cap_set_flag(caps, CAP_EFFECTIVE, ELEMENTSOF(keep), keep, CAP_SET) == 0 &&
                         cap_set_flag(caps, CAP_INHERITABLE, ELEMENTSOF(keep), keep, CAP_SET) == 0,
              "cap_set_flag: %m");
        CHECK(p, cap_set_proc(caps) == 0, "cap_set_proc: %m");
        cap_free(caps);
        CHECK(p, prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0) == 0, "ambient raise: %m");
        CHECK(p, proc_status_read(0, &st) == 0, "status");
        CHECK(p, st.cap_eff != 0 && st.cap_prm != 0 && st.cap_inh != 0 && st.cap_amb != 0 && st.cap_bnd != 0,
              "the setup did not take: eff %llx amb %llx", (unsigned long long) st.cap_eff,
              (unsigned long long) st.cap_amb);

        r = sandbox_apply(&pol, &step);
        CHECK(p, r == 0, "sandbox_apply: %s at %s", strerror(-r), step);
        return probe_common(p, NOBODY, NOBODY, true);
}

Test(sandbox, unprivileged_process_loses_kept_capabilities) {
        skip_unless_root();
        run_in_child(probe_kept_caps, NULL);
}

static bool probe_unprivileged_change_ids(Probe *p, void *userdata) {
        SandboxPolicy pol = { .change_ids = true, .uid = 4242, .gid = 4242, .profile = SANDBOX_PROFILE_WORKER };
        gid_t g = NOBODY;
        const char *step = NULL;
        uid_t ru, eu, su;
        int r;

        CHECK(p, setgroups(1, &g) == 0 && setresgid(NOBODY, NOBODY, NOBODY) == 0 &&
                         setresuid(NOBODY, NOBODY, NOBODY) == 0,
              "dropping to nobody: %m");
        r = sandbox_apply(&pol, &step);
        CHECK(p, r == -EPERM, "an unprivileged process changed ids? %d", r);
        CHECK(p, step && strcmp(step, "bounding set") == 0, "step %s", step ? step : "(null)");
        CHECK(p, getresuid(&ru, &eu, &su) == 0 && ru == NOBODY && eu == NOBODY && su == NOBODY, "uid changed");
        return true;
}

Test(sandbox, unprivileged_process_cannot_change_ids) {
        skip_unless_root();
        run_in_child(probe_unprivileged_change_ids, NULL);
}

/* ---- /proc/PID/status ---- */

Test(sandbox, status_of_self_matches_the_kernel) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};
        gid_t groups[PROC_STATUS_GROUPS_MAX];
        uid_t ru, eu, su;
        gid_t rg, eg, sg;
        ProcStatus st;
        int n;

        cr_assert_eq(proc_status_read(0, &st), 0);
        cr_assert_eq(getresuid(&ru, &eu, &su), 0);
        cr_assert_eq(getresgid(&rg, &eg, &sg), 0);
        cr_assert_eq(st.uid[PROC_ID_REAL], ru);
        cr_assert_eq(st.uid[PROC_ID_EFFECTIVE], eu);
        cr_assert_eq(st.uid[PROC_ID_SAVED], su);
        cr_assert_eq(st.uid[PROC_ID_FS], eu);
        cr_assert_eq(st.gid[PROC_ID_REAL], rg);
        cr_assert_eq(st.gid[PROC_ID_EFFECTIVE], eg);
        cr_assert_eq(st.gid[PROC_ID_SAVED], sg);

        n = getgroups(ELEMENTSOF(groups), groups);
        if (n >= 0) {
                cr_assert_eq(st.n_groups, (size_t) n);
                for (int i = 0; i < n; i++)
                        cr_assert_eq(st.groups[i], groups[i], "group %d", i);
        }

        cr_assert_eq(capget(&h, d), 0);
        cr_assert_eq(st.cap_eff, (uint64_t) d[1].effective << 32 | d[0].effective);
        cr_assert_eq(st.cap_prm, (uint64_t) d[1].permitted << 32 | d[0].permitted);
        cr_assert_eq(st.cap_inh, (uint64_t) d[1].inheritable << 32 | d[0].inheritable);
        cr_assert_eq(st.cap_bnd, bounding_set_now());
        cr_assert_eq(st.cap_amb, 0);
        cr_assert_eq(st.no_new_privs, prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
        cr_assert_eq(st.seccomp, prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
        cr_assert_eq(proc_status_read(getpid(), &st), 0);
        cr_assert_eq(st.uid[PROC_ID_REAL], ru);
}

/* What `mpmctl audit` does: the parent reads a sandboxed child's status. */
Test(sandbox, status_of_sandboxed_child_seen_by_parent) {
        int ready[2], release[2];
        ProcStatus st;
        char c;
        int status;

        skip_unless_root();
        cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(release, O_CLOEXEC), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                SandboxPolicy pol = { .change_ids = true, .uid = NOBODY, .gid = NOBODY,
                                      .profile = SANDBOX_PROFILE_POOL };
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(ready[0]);
                close(release[1]);
                if (sandbox_apply(&pol, NULL) < 0)
                        _exit(1);
                (void) !write(ready[1], "r", 1);
                (void) !read(release[0], &c, 1);
                _exit(0);
        }
        close(ready[1]);
        close(release[0]);
        cr_assert_eq(read(ready[0], &c, 1), 1, "the child did not get sandboxed");

        int r = proc_status_read(pid, &st);
        close(release[1]);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert_eq(r, 0, "%s", strerror(-r));
        for (unsigned i = 0; i < _PROC_ID_MAX; i++) {
                cr_assert_eq(st.uid[i], NOBODY);
                cr_assert_eq(st.gid[i], NOBODY);
        }
        cr_assert_eq(st.n_groups, 1);
        cr_assert_eq(st.groups[0], NOBODY);
        cr_assert_eq(st.cap_inh | st.cap_prm | st.cap_eff | st.cap_bnd | st.cap_amb, 0);
        cr_assert_eq(st.no_new_privs, 1);
        cr_assert_eq(st.seccomp, 2);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(sandbox, status_of_gone_process) {
        ProcStatus st;
        pid_t pid = fork();

        cr_assert_geq(pid, 0);
        if (pid == 0)
                _exit(0);
        cr_assert_eq(waitpid(pid, NULL, 0), pid);
        cr_assert_eq(proc_status_read(pid, &st), -ENOENT);
        cr_assert_eq(proc_status_read(0, NULL), -EINVAL);
}

typedef struct ParseCase {
        char name[48];
        char text[1024];
        int expect;
} ParseCase;

#define IDS "Uid:\t1000\t1001\t1002\t1003\nGid:\t2000\t2001\t2002\t2003\n"
#define GROUPS "Groups:\t4 24 1000 \n"
#define CAPS                                                                                               \
        "CapInh:\t0000000000000000\nCapPrm:\t00000000000000ff\nCapEff:\t000001fffeffffff\n"               \
        "CapBnd:\tffffffffffffffff\nCapAmb:\t0000000000000400\n"
#define TAIL "NoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t3\n"

static ParseCase parse_cases[] = {
        { "complete", "Name:\tmpmd\nState:\tS (sleeping)\n" IDS "FDSize:\t64\n" GROUPS CAPS TAIL, 0 },
        { "no final newline", IDS GROUPS CAPS "NoNewPrivs:\t1\nSeccomp:\t2", 0 },
        { "without NoNewPrivs and Seccomp", IDS GROUPS CAPS, 0 },
        { "missing Uid", "Gid:\t2000\t2001\t2002\t2003\n" GROUPS CAPS TAIL, -EBADMSG },
        { "missing Groups", IDS CAPS TAIL, -EBADMSG },
        { "missing CapAmb",
          IDS GROUPS "CapInh:\t0\nCapPrm:\t0\nCapEff:\t0\nCapBnd:\t0\n" TAIL, -EBADMSG },
        { "three uids", "Uid:\t1\t2\t3\nGid:\t2000\t2001\t2002\t2003\n" GROUPS CAPS TAIL, -EBADMSG },
        { "five uids", "Uid:\t1\t2\t3\t4\t5\nGid:\t2000\t2001\t2002\t2003\n" GROUPS CAPS TAIL, -EBADMSG },
        { "negative uid", "Uid:\t-1\t2\t3\t4\nGid:\t2000\t2001\t2002\t2003\n" GROUPS CAPS TAIL, -EBADMSG },
        { "uid over 32 bits", "Uid:\t4294967296\t2\t3\t4\nGid:\t1\t2\t3\t4\n" GROUPS CAPS TAIL, -EBADMSG },
        { "uid with junk", "Uid:\t1x\t2\t3\t4\nGid:\t1\t2\t3\t4\n" GROUPS CAPS TAIL, -EBADMSG },
        { "duplicate Uid", IDS "Uid:\t0\t0\t0\t0\n" GROUPS CAPS TAIL, -EBADMSG },
        { "bad hex", IDS GROUPS "CapInh:\t00000000000000zz\nCapPrm:\t0\nCapEff:\t0\nCapBnd:\t0\nCapAmb:\t0\n" TAIL,
          -EBADMSG },
        { "hex over 64 bits",
          IDS GROUPS "CapInh:\t1ffffffffffffffff\nCapPrm:\t0\nCapEff:\t0\nCapBnd:\t0\nCapAmb:\t0\n" TAIL, -EBADMSG },
        { "empty cap", IDS GROUPS "CapInh:\t\nCapPrm:\t0\nCapEff:\t0\nCapBnd:\t0\nCapAmb:\t0\n" TAIL, -EBADMSG },
        { "0x prefix", IDS GROUPS "CapInh:\t0x1\nCapPrm:\t0\nCapEff:\t0\nCapBnd:\t0\nCapAmb:\t0\n" TAIL, -EBADMSG },
        { "Seccomp 3", IDS GROUPS CAPS "NoNewPrivs:\t1\nSeccomp:\t3\n", -EBADMSG },
        { "NoNewPrivs 2", IDS GROUPS CAPS "NoNewPrivs:\t2\nSeccomp:\t0\n", -EBADMSG },
        { "bad group", IDS "Groups:\t4 x 1000\n" CAPS TAIL, -EBADMSG },
        { "empty", "", -EBADMSG },
};

ParameterizedTestParameters(sandbox, status_parse) {
        return cr_make_param_array(ParseCase, parse_cases, ELEMENTSOF(parse_cases));
}

ParameterizedTest(ParseCase *c, sandbox, status_parse) {
        ProcStatus st;
        int r = proc_status_parse(c->text, &st);

        cr_assert_eq(r, c->expect, "%s: %d", c->name, r);
        if (r < 0)
                return;
        cr_assert_eq(st.uid[PROC_ID_REAL], 1000);
        cr_assert_eq(st.uid[PROC_ID_FS], 1003);
        cr_assert_eq(st.gid[PROC_ID_SAVED], 2002);
        cr_assert_eq(st.n_groups, 3);
        cr_assert_eq(st.groups[0], 4);
        cr_assert_eq(st.groups[2], 1000);
        cr_assert_eq(st.cap_inh, 0);
        cr_assert_eq(st.cap_prm, 0xff);
        cr_assert_eq(st.cap_eff, 0x1fffeffffffull);
        cr_assert_eq(st.cap_bnd, UINT64_MAX);
        cr_assert_eq(st.cap_amb, 0x400);
        if (strstr(c->text, "Seccomp")) {
                cr_assert_eq(st.no_new_privs, 1);
                cr_assert_eq(st.seccomp, 2);
        } else {
                cr_assert_eq(st.no_new_privs, -1);
                cr_assert_eq(st.seccomp, -1);
        }
}

Test(sandbox, status_parse_many_groups) {
        char text[2048];
        size_t len;
        ProcStatus st;

        len = (size_t) snprintf(text, sizeof(text), IDS "Groups:");
        for (unsigned g = 0; g < 70; g++)
                len += (size_t) snprintf(text + len, sizeof(text) - len, " %u", 100 + g);
        snprintf(text + len, sizeof(text) - len, "\n" CAPS);

        cr_assert_eq(proc_status_parse(text, &st), 0);
        cr_assert_eq(st.n_groups, 70);
        cr_assert_eq(st.groups[0], 100);
        cr_assert_eq(st.groups[PROC_STATUS_GROUPS_MAX - 1], 100 + PROC_STATUS_GROUPS_MAX - 1);
        cr_assert_eq(proc_status_parse(NULL, &st), -EINVAL);
}

Test(sandbox, profile_names) {
        cr_assert_str_eq(sandbox_profile_to_string(SANDBOX_PROFILE_WORKER), "worker");
        cr_assert_str_eq(sandbox_profile_to_string(SANDBOX_PROFILE_PREFORK), "prefork");
        cr_assert_str_eq(sandbox_profile_to_string(SANDBOX_PROFILE_EVENT), "event");
        cr_assert_str_eq(sandbox_profile_to_string(SANDBOX_PROFILE_POOL), "pool");
        cr_assert_str_eq(sandbox_profile_to_string(SANDBOX_PROFILE_DISPATCHER), "dispatcher");
        cr_assert_str_eq(sandbox_profile_to_string(SANDBOX_PROFILE_CGI_LAUNCHER), "cgi-launcher");
        cr_assert_null(sandbox_profile_to_string(_SANDBOX_PROFILE_MAX));
}
