/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http/access-log.h"
#include "shared/fd-pass.h"
#include "shared/macro.h"
#include "mpm/sandbox.h"
#include "supervisor/site-open.h"
#include "shared/time-util.h"

/* One answer per path, in order: the result (0 or -errno) and, for a directory, its descriptor. */
typedef struct SiteOpenAnswer {
        uint32_t index; /* n: about the helper itself, with step */
        int32_t result;
        char step[32];
} SiteOpenAnswer;

static int answer_send(int sock, uint32_t index, int result, int fd, const char *step) {
        SiteOpenAnswer a = { .index = index, .result = result };
        if (step)
                snprintf(a.step, sizeof(a.step), "%s", step);
        ssize_t k = fd_pass_send(sock, &a, sizeof(a), &fd, fd >= 0 ? 1 : 0, 0);
        return k < 0 ? (int) k : 0;
}

static int open_one(const SiteOpenPath *p) {
        int fd;

        switch (p->kind) {
        case SITE_OPEN_DIRECTORY:
                fd = open(p->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
                return fd < 0 ? -errno : fd;
        case SITE_OPEN_LOG:
                return access_log_open_file(p->path);
        case SITE_OPEN_FILE:
                fd = open(p->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                return fd < 0 ? -errno : fd;
        }
        return -EINVAL;
}

_noreturn_ static void helper_child(int sock, const SiteIdentity *id, const SiteOpenPath *paths, size_t n) {
        SandboxPolicy policy = {
                .change_ids = true,
                .uid = id->uid,
                .gid = id->gid,
                .user_name = id->user,
                .profile = SANDBOX_PROFILE_POOL,
        };

        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* Nothing of the supervisor's but the answer socket (and stderr, for nothing: the parent
         * reports). */
        if (sock != 3) {
                if (dup2(sock, 3) < 0)
                        _exit(1);
                sock = 3;
        }
        if (close_range(4, UINT_MAX, 0) < 0)
                _exit(1);
        const char *step = NULL;
        int r = sandbox_apply(&policy, &step);
        if (r < 0) {
                (void) answer_send(sock, (uint32_t) n, r, -1, step);
                _exit(1);
        }
        for (size_t i = 0; i < n; i++) {
                int fd = open_one(&paths[i]);
                r = answer_send(sock, (uint32_t) i, fd < 0 ? fd : 0, paths[i].kind != SITE_OPEN_LOG ? fd : -1, NULL);
                if (r < 0 || fd < 0)
                        _exit(r < 0 ? 1 : 0); /* the first failure ends it: the caller needs no more */
                close(fd); /* sent (the parent holds its own copy), or only checked */
        }
        _exit(0);
}

/* Wait for the next answer until deadline; returns 0, -ETIMEDOUT or -errno. */
static int answer_recv(int sock, usec_t deadline, SiteOpenAnswer *ret, int *ret_fd) {
        size_t n_fds;
        int fd = -1;

        *ret_fd = -1;
        for (;;) {
                usec_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline)
                        return -ETIMEDOUT;
                struct pollfd pfd = { .fd = sock, .events = POLLIN };
                int k = poll(&pfd, 1, (int) MIN((deadline - now + 999) / 1000, (usec_t) INT_MAX));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k > 0)
                        break;
        }
        /* At most one descriptor per answer: fd_pass closes any extra, and all of a cut one. */
        ssize_t n = fd_pass_receive(sock, ret, sizeof(*ret), &fd, 1, &n_fds, MSG_DONTWAIT);
        if (n < 0)
                return (int) n;
        if (n == 0) {
                safe_close(fd);
                return -EPIPE; /* the helper ended without answering */
        }
        if ((size_t) n != sizeof(*ret)) {
                safe_close(fd);
                return -EBADMSG;
        }
        *ret_fd = fd;
        return 0;
}

int site_open_as(const SiteIdentity *id, const SiteOpenPath *paths, size_t n, int *ret_fds,
                 SiteOpenFailure *ret_failure) {
        int sv[2], r = 0;
        size_t got = 0;
        pid_t pid;

        *ret_failure = (SiteOpenFailure) { .index = n };
        for (size_t i = 0; i < n; i++)
                ret_fds[i] = -1;
        if (n == 0)
                return 0;
        if (id->uid == 0 || id->gid == 0 || id->uid == (uid_t) -1 || id->gid == (gid_t) -1)
                return -EPERM;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(sv[0]);
                close(sv[1]);
                return r;
        }
        if (pid == 0) {
                close(sv[0]);
                helper_child(sv[1], id, paths, n);
        }
        close(sv[1]);

        usec_t deadline = now_usec(CLOCK_MONOTONIC) + SITE_OPEN_TIMEOUT_USEC;
        while (got < n) {
                SiteOpenAnswer a;
                int fd;
                r = answer_recv(sv[0], deadline, &a, &fd);
                if (r < 0)
                        break;
                if (a.index == n && a.result < 0) { /* the helper could not take the site's identity */
                        a.step[sizeof(a.step) - 1] = 0;
                        snprintf(ret_failure->step, sizeof(ret_failure->step), "%s", a.step);
                        safe_close(fd);
                        r = a.result;
                        break;
                }
                /* Answers come in order; anything else is a broken helper. */
                bool wants_fd = a.result == 0 && paths[got].kind != SITE_OPEN_LOG;
                if (a.index != got || a.result > 0 || wants_fd != (fd >= 0)) {
                        safe_close(fd);
                        r = -EBADMSG;
                        break;
                }
                if (a.result < 0) {
                        ret_failure->index = got;
                        r = a.result;
                        break;
                }
                ret_fds[got++] = fd;
        }
        close(sv[0]);
        if (r == -ETIMEDOUT)
                (void) kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        if (r < 0)
                for (size_t i = 0; i < n; i++)
                        ret_fds[i] = safe_close(ret_fds[i]);
        return r;
}
