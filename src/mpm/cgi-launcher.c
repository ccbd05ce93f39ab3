/* SPDX-License-Identifier: MIT */
/* cgi-launcher.c — the launcher's loop (cgi-launcher.h): take launch requests off the socket, have
 * them started (cgi-launcher-start.h) and answer each on its reply socket; signals, the one timer of
 * every deadline, and the programs' stderr pipes, all in one epoll loop. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "mpm/cgi-launcher.h"
#include "mpm/cgi-launcher-internal.h"
#include "mpm/cgi-launcher-program.h"
#include "mpm/cgi-launcher-reap.h"
#include "mpm/cgi-launcher-start.h"
#include "mpm/cgi-wire.h"
#include "shared/fd-pass.h"
#include "mpm/log-channel.h"
#include "shared/log.h"
#include "shared/time-util.h"

#define CGI_KILL_GRACE_DEFAULT (2 * USEC_PER_SEC)
#define CGI_MAX_PROGRAMS_DEFAULT 1024
#define CGI_STDERR_RATE_DEFAULT 20   /* lines a second, per program */
#define CGI_STDERR_BURST_DEFAULT 100

static void launcher_reply(int fd, int error, pid_t pid) {
        CgiWireReply a = { .error = error, .pid = pid };

        /* The client may have given up (timeout): nothing to do about a failed send. */
        (void) send(fd, &a, sizeof(a), MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Split the strings of a request into argv and envp (one allocation) and the two names. */
static int launcher_parse(const char *msg, size_t len, CgiWireRequest *ret_h, LaunchStrings *ret) {
        CgiWireRequest h;
        const char *p, *end, *names[2];
        char **v;

        if (len < sizeof(h))
                return -EBADMSG;
        memcpy(&h, msg, sizeof(h));
        if (h.magic != CGI_WIRE_MAGIC || h.argc == 0 || h.strings_len != len - sizeof(h) ||
            h.argc + (size_t) h.envc + 2 > len)
                return -EBADMSG;
        v = calloc((size_t) h.argc + h.envc + 2, sizeof(char *));
        if (!v)
                return -ENOMEM;
        p = msg + sizeof(h);
        end = msg + len;
        for (size_t i = 0; i < (size_t) h.argc + h.envc + 2; i++) {
                const char *nul = memchr(p, 0, (size_t) (end - p));
                if (!nul) {
                        free(v);
                        return -EBADMSG;
                }
                /* argv, NULL, envp, NULL in one array; then the two names */
                if (i < (size_t) h.argc + h.envc)
                        v[i < h.argc ? i : i + 1] = (char *) p;
                else
                        names[i - h.argc - h.envc] = p;
                p = nul + 1;
        }
        if (p != end) {
                free(v);
                return -EBADMSG;
        }
        *ret_h = h;
        *ret = (LaunchStrings) { .argv = v, .envp = v + h.argc + 1, .site = names[0], .client = names[1] };
        return 0;
}

void launcher_arm_timer(Launcher *l) {
        usec_t next = USEC_INFINITY;
        struct itimerspec its = {};

        for (size_t i = 0; i < l->n_programs; i++)
                next = MIN(next, MIN(l->programs[i]->deadline, l->programs[i]->err_resume));
        for (size_t i = 0; i < l->n_orphans; i++)
                next = MIN(next, l->orphans[i].deadline);
        if (next != USEC_INFINITY) {
                if (next == 0)
                        next = 1; /* 0 would disarm */
                its.it_value.tv_sec = (time_t) (next / USEC_PER_SEC);
                its.it_value.tv_nsec = (long) (next % USEC_PER_SEC) * 1000;
        }
        (void) timerfd_settime(l->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Take one message off the socket. Returns 1 when one was handled, 0 when none is waiting, -EPIPE
 * when every peer is gone. */
static int launcher_receive(Launcher *l) {
        static char msg[CGI_WIRE_MESSAGE_MAX + 1];
        int fds[CGI_WIRE_FDS] = { -1, -1, -1, -1, -1, -1 }, r;
        size_t n_fds = 0;
        CgiWireRequest h;
        LaunchStrings s = {};
        pid_t pid = 0;
        ssize_t n;

        n = fd_pass_receive(l->sock, msg, sizeof(msg), fds, CGI_WIRE_FDS, &n_fds, MSG_DONTWAIT);
        if (n == -EAGAIN)
                return 0;
        if (n == -EBADMSG) {
                log_warning("cgi launcher: refused a request cut in transit (longer than %zu bytes or too many fds)",
                            (size_t) CGI_WIRE_MESSAGE_MAX);
                return 1;
        }
        if (n < 0)
                return (int) n;
        if (n == 0)
                return -EPIPE;
        if (n_fds < CGI_WIRE_FDS - 1) {
                /* Without the first five fds there is no reply socket to answer on. */
                log_warning("cgi launcher: refused a malformed request (%zd bytes, %zu fds)", n, n_fds);
                fd_pass_close_all(fds, n_fds);
                return 1;
        }

        r = launcher_parse(msg, (size_t) n, &h, &s);
        if (r >= 0 && n_fds != ((h.flags & CGI_WIRE_ERROR_LOG) ? CGI_WIRE_FDS : CGI_WIRE_FDS - 1))
                r = -EBADMSG;
        if (r >= 0)
                r = launcher_start(l, &h, &s, fds, &pid);
        launcher_reply(fds[FD_REPLY], r, pid);
        free(s.argv); /* envp is part of the same array, the names point into msg */
        for (int i = 0; i < CGI_WIRE_FDS; i++)
                safe_close(fds[i]);
        return 1;
}

static void launcher_signals(Launcher *l) {
        struct signalfd_siginfo si;

        while (read(l->signal_fd, &si, sizeof(si)) == (ssize_t) sizeof(si))
                if (si.ssi_signo == SIGTERM)
                        launcher_drain(l);
                else if (si.ssi_signo == SIGUSR1) {
                        /* The logs were reopened (log-channel.h): our error log is the new file now.
                         * A running program's own site ErrorLog stays the file it started with. */
                        int r = log_channel_receive();
                        if (r < 0)
                                log_warning_errno(r, "Cannot adopt the reopened error log: %m");
                }
        launcher_reap(l);
}

int cgi_launcher_main(int sock, const CgiLauncherOptions *opt) {
        Launcher l = {
                .sock = sock,
                .epoll_fd = -1,
                .signal_fd = -1,
                .timer_fd = -1,
                .tmpdir_fd = -1,
                .kill_grace = opt && opt->kill_grace > 0 ? opt->kill_grace : CGI_KILL_GRACE_DEFAULT,
                .max_programs = opt && opt->max_programs > 0 ? opt->max_programs : CGI_MAX_PROGRAMS_DEFAULT,
                .stderr_rate = opt && opt->stderr_rate > 0 ? opt->stderr_rate : CGI_STDERR_RATE_DEFAULT,
                .stderr_burst = opt && opt->stderr_burst > 0 ? opt->stderr_burst : CGI_STDERR_BURST_DEFAULT,
                .pid = getpid(),
                .limits = opt ? opt->limits : (SiteLimits) {},
        };
        struct epoll_event ev;
        sigset_t mask;
        int r = 0;

        /* Programs must not inherit the socket, whatever the supervisor created it with. */
        if (fcntl(sock, F_SETFD, FD_CLOEXEC) < 0)
                return -errno;
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                return -errno;
        /* MaxProcesses on ourselves too: a site at its limit gets no new program (-EBUSY, a 503),
         * and `mpmctl audit` can read it from our /proc/PID/limits. */
        if (l.limits.max_processes > 0) {
                r = site_limits_apply(&(SiteLimits) { .max_processes = l.limits.max_processes });
                if (r < 0)
                        return r;
        }
        if (opt && opt->tmp_name) {
                r = launcher_tmpdir_create(&l, opt->tmp_name);
                if (r < 0)
                        log_error_errno(r, "Cannot create the programs' TMPDIR under /tmp, they get none: %m");
        }
        /* A client that gave up closes its reply socket: a write to it must not kill us. */
        if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
                return -errno;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGUSR1);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;

        l.signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        l.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        l.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (l.signal_fd < 0 || l.timer_fd < 0 || l.epoll_fd < 0) {
                r = -errno;
                goto finish;
        }
        /* data.ptr: the address of one of these three fields, or a Program. */
        ev = (struct epoll_event) { .events = EPOLLIN, .data.ptr = &l.sock };
        if (epoll_ctl(l.epoll_fd, EPOLL_CTL_ADD, sock, &ev) < 0)
                goto fail_errno;
        ev = (struct epoll_event) { .events = EPOLLIN, .data.ptr = &l.signal_fd };
        if (epoll_ctl(l.epoll_fd, EPOLL_CTL_ADD, l.signal_fd, &ev) < 0)
                goto fail_errno;
        ev = (struct epoll_event) { .events = EPOLLIN, .data.ptr = &l.timer_fd };
        if (epoll_ctl(l.epoll_fd, EPOLL_CTL_ADD, l.timer_fd, &ev) < 0)
                goto fail_errno;

        while (!l.draining || l.n_programs > 0 || l.n_orphans > 0) {
                struct epoll_event events[8];
                int n = epoll_wait(l.epoll_fd, events, (int) ELEMENTSOF(events), -1);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        goto fail_errno;
                for (int i = 0; i < n; i++) {
                        void *src = events[i].data.ptr;

                        if (src == &l.signal_fd)
                                launcher_signals(&l);
                        else if (src == &l.timer_fd)
                                launcher_timeouts(&l);
                        else if (src == &l.sock) {
                                if (l.draining)
                                        continue;
                                /* A few at a time, so that timeouts and signals are not starved. */
                                for (int k = 0; k < 16; k++) {
                                        int q = launcher_receive(&l);
                                        if (q == -EPIPE || (q < 0 && q != -ENOMEM)) {
                                                /* Every worker of the generation is gone: so is
                                                 * anyone to read the programs' output. */
                                                launcher_drain(&l);
                                                break;
                                        }
                                        if (q == 0)
                                                break;
                                }
                        } else {
                                /* A program's stderr. Reaping (in this same batch) frees programs,
                                 * but only after taking them out of the epoll set, and an fd out of
                                 * the set is not reported by a later epoll_wait; within this batch,
                                 * check it is still one of ours. */
                                Program *p = src;
                                bool known = false;
                                for (size_t k = 0; k < l.n_programs && !known; k++)
                                        known = l.programs[k] == p;
                                if (known && p->err_fd >= 0 && p->err_watched)
                                        program_stderr_read(&l, p, now_usec(CLOCK_MONOTONIC));
                        }
                }
        }
        launcher_reap(&l);
        goto finish;

fail_errno:
        r = -errno;
finish:
        for (size_t i = 0; i < l.n_programs; i++) {
                launcher_signal_group(l.programs[i], SIGKILL);
                program_free(&l, l.programs[i]);
        }
        launcher_kill_all(&l);
        launcher_tmpdir_remove(&l);
        free(l.programs);
        free(l.orphans);
        for (size_t i = 0; i < l.n_sites; i++)
                free(l.sites[i].name);
        free(l.sites);
        safe_close(l.epoll_fd);
        safe_close(l.signal_fd);
        safe_close(l.timer_fd);
        return r;
}
