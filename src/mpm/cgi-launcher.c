/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgi-launcher.h"
#include "cgi.h"
#include "log.h"
#include "path.h"
#include "time-util.h"

#define CGI_WIRE_MAGIC UINT32_C(0x6367696c) /* "cgil" */
#define CGI_WIRE_FDS 6                      /* script, dir, stdin, stdout, stderr, reply */
#define CGI_WIRE_ARGV_MAX (8 * 1024)
/* What one SOCK_SEQPACKET message may carry; well under the default socket buffer (208 KiB). */
#define CGI_WIRE_MESSAGE_MAX (sizeof(CgiWireRequest) + CGI_ENV_MAX + CGI_WIRE_ARGV_MAX)
#define CGI_KILL_GRACE_DEFAULT (2 * USEC_PER_SEC)
#define CGI_MAX_PROGRAMS_DEFAULT 1024
#define CGI_REPLY_TIMEOUT_DEFAULT (10 * USEC_PER_SEC)

enum { FD_SCRIPT, FD_DIR, FD_STDIN, FD_STDOUT, FD_STDERR, FD_REPLY };

typedef struct CgiWireRequest {
        uint32_t magic;
        uint32_t argc;
        uint32_t envc;
        uint32_t strings_len; /* argv then env strings, each NUL-terminated, follow the header */
        uint64_t timeout_usec;
} CgiWireRequest;

typedef struct CgiWireReply {
        int32_t error; /* 0 or -errno */
        int32_t pid;
} CgiWireReply;

/* ---- the client --------------------------------------------------------------------------- */

static int wait_fd(int fd, short events, usec_t deadline) {
        for (;;) {
                struct pollfd p = { .fd = fd, .events = events };
                int r = poll(&p, 1, usec_to_timeout_ms(deadline, now_usec(CLOCK_MONOTONIC)));

                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return -ETIMEDOUT;
                return 0;
        }
}

int cgi_launch_send(int launcher_sock, const CgiLaunchRequest *req) {
        _cleanup_close_ int reply = -1, reply_peer = -1, null_in = -1, null_err = -1;
        _cleanup_free_ char *msg = NULL;
        usec_t deadline = now_usec(CLOCK_MONOTONIC) +
                          (req->reply_timeout > 0 ? req->reply_timeout : CGI_REPLY_TIMEOUT_DEFAULT);
        size_t argc = 0, argv_len = 0, len;
        int pair[2], r;

        if (!req->argv || !req->argv[0] || req->script_fd < 0 || req->dir_fd < 0 || req->stdout_fd < 0)
                return -EINVAL;
        for (; req->argv[argc]; argc++)
                argv_len += strlen(req->argv[argc]) + 1;
        if (argv_len > CGI_WIRE_ARGV_MAX || req->env_len > CGI_ENV_MAX)
                return -E2BIG;

        len = sizeof(CgiWireRequest) + argv_len + req->env_len;
        msg = malloc(len);
        if (!msg)
                return -ENOMEM;
        CgiWireRequest h = {
                .magic = CGI_WIRE_MAGIC,
                .argc = (uint32_t) argc,
                .envc = (uint32_t) req->env_count,
                .strings_len = (uint32_t) (argv_len + req->env_len),
                .timeout_usec = req->timeout,
        };
        memcpy(msg, &h, sizeof(h));
        char *p = msg + sizeof(h);
        for (size_t i = 0; i < argc; i++)
                p = stpcpy(p, req->argv[i]) + 1;
        if (req->env_len > 0)
                memcpy(p, req->env, req->env_len);

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) < 0)
                return -errno;
        reply = pair[0];
        reply_peer = pair[1];
        if (req->stdin_fd < 0) {
                null_in = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (null_in < 0)
                        return -errno;
        }
        if (req->stderr_fd < 0) {
                null_err = open("/dev/null", O_WRONLY | O_CLOEXEC | O_NOCTTY);
                if (null_err < 0)
                        return -errno;
        }

        int fds[CGI_WIRE_FDS] = {
                [FD_SCRIPT] = req->script_fd,
                [FD_DIR] = req->dir_fd,
                [FD_STDIN] = req->stdin_fd >= 0 ? req->stdin_fd : null_in,
                [FD_STDOUT] = req->stdout_fd,
                [FD_STDERR] = req->stderr_fd >= 0 ? req->stderr_fd : null_err,
                [FD_REPLY] = reply_peer,
        };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(fds))];
        } control = {};
        struct iovec iov = { .iov_base = msg, .iov_len = len };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = control.buf,
                .msg_controllen = sizeof(control.buf),
        };
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(fds));
        memcpy(CMSG_DATA(c), fds, sizeof(fds));

        for (;;) {
                if (sendmsg(launcher_sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
                        break;
                if (errno == EINTR)
                        continue;
                if (errno == EMSGSIZE)
                        return -E2BIG;
                if (errno == EPIPE || errno == ECONNREFUSED)
                        return -ECONNRESET;
                if (errno != EAGAIN)
                        return -errno;
                /* The launcher's queue is full: it is busy starting others. */
                r = wait_fd(launcher_sock, POLLOUT, deadline);
                if (r < 0)
                        return r;
        }
        /* Only the launcher may hold the other end now, so its exit (or its close) ends the wait. */
        return TAKE_FD(reply);
}

int cgi_launch_receive(int reply, pid_t *ret_pid) {
        CgiWireReply a;
        ssize_t n = recv(reply, &a, sizeof(a), MSG_DONTWAIT);

        if (n < 0)
                return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
        if (n != (ssize_t) sizeof(a))
                return -ECONNRESET; /* 0: the launcher closed our request unanswered */
        if (a.error < 0)
                return a.error;
        if (a.pid <= 0)
                return -EBADMSG;
        *ret_pid = a.pid;
        return 0;
}

int cgi_launch(int launcher_sock, const CgiLaunchRequest *req, pid_t *ret_pid) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) +
                          (req->reply_timeout > 0 ? req->reply_timeout : CGI_REPLY_TIMEOUT_DEFAULT);
        _cleanup_close_ int reply = cgi_launch_send(launcher_sock, req);
        int r;

        if (reply < 0)
                return reply;
        r = wait_fd(reply, POLLIN, deadline);
        if (r < 0)
                return r;
        r = cgi_launch_receive(reply, ret_pid);
        return r == -EAGAIN ? -ETIMEDOUT : r;
}

static int launcher_client_start(void *userdata, const struct CgiLaunchRequest *req) {
        return cgi_launch_send(*(const int *) userdata, req);
}

static int launcher_client_finish(void *userdata, int reply, pid_t *ret_pid) {
        return cgi_launch_receive(reply, ret_pid);
}

void cgi_launcher_client(int *launcher_sock, HttpCgiLauncher *ret) {
        *ret = (HttpCgiLauncher) {
                .start = launcher_client_start,
                .finish = launcher_client_finish,
                .userdata = launcher_sock,
        };
}

/* ---- the launcher ------------------------------------------------------------------------- */

typedef enum ProgramState {
        PROGRAM_RUNNING,
        PROGRAM_TERMINATING, /* SIGTERM sent to the group */
        PROGRAM_KILLED,      /* SIGKILL sent */
} ProgramState;

typedef struct Program {
        pid_t pgid; /* the program's pid: setsid made it its group's leader */
        bool leader_reaped;
        ProgramState state;
        usec_t deadline; /* CLOCK_MONOTONIC: the next step of the timeout */
} Program;

typedef struct Launcher {
        int sock, epoll_fd, signal_fd, timer_fd;
        usec_t kill_grace;
        unsigned max_programs;
        Program *programs;
        size_t n_programs;
        bool draining;
} Launcher;

static void launcher_reply(int fd, int error, pid_t pid) {
        CgiWireReply a = { .error = error, .pid = pid };

        /* The client may have given up (timeout): nothing to do about a failed send. */
        (void) send(fd, &a, sizeof(a), MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Async-signal-safe: runs between fork() and exec. */
static _noreturn_ void launcher_child(int *fds, char **argv, char **envp, int err_pipe) {
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        sigset_t none;
        int moved[CGI_WIRE_FDS], e;

        if (setsid() < 0)
                goto fail;
        for (int sig = 1; sig < NSIG; sig++)
                (void) sigaction(sig, &dfl, NULL); /* SIGKILL, SIGSTOP and the RT signals libc keeps fail */
        sigemptyset(&none);
        if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
                goto fail;

        /* Move every fd above 2 first, so the dup2()s below cannot overwrite one not yet moved. */
        for (int i = 0; i < CGI_WIRE_FDS; i++) {
                moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
                if (moved[i] < 0)
                        goto fail;
        }
        if (dup2(moved[FD_STDIN], 0) < 0 || dup2(moved[FD_STDOUT], 1) < 0 || dup2(moved[FD_STDERR], 2) < 0)
                goto fail;
        if (fchdir(moved[FD_DIR]) < 0)
                goto fail;

        syscall(SYS_execveat, moved[FD_SCRIPT], "", argv, envp, AT_EMPTY_PATH);
        if (errno == ENOENT) {
                /* A #! script: the interpreter opens /dev/fd/N, which a close-on-exec fd does not
                 * survive. Only then does the program inherit the fd. */
                if (fcntl(moved[FD_SCRIPT], F_SETFD, 0) < 0)
                        goto fail;
                syscall(SYS_execveat, moved[FD_SCRIPT], "", argv, envp, AT_EMPTY_PATH);
        }
fail:
        e = errno;
        (void) !write(err_pipe, &e, sizeof(e));
        _exit(127);
}

/* Split the strings of a request into argv and envp (pointers into msg). */
static int launcher_parse(const char *msg, size_t len, CgiWireRequest *ret_h, char ***ret_argv, char ***ret_envp) {
        CgiWireRequest h;
        const char *p, *end;
        char **v;

        if (len < sizeof(h))
                return -EBADMSG;
        memcpy(&h, msg, sizeof(h));
        if (h.magic != CGI_WIRE_MAGIC || h.argc == 0 || h.strings_len != len - sizeof(h) ||
            h.argc + (size_t) h.envc > len)
                return -EBADMSG;
        v = calloc((size_t) h.argc + h.envc + 2, sizeof(char *));
        if (!v)
                return -ENOMEM;
        p = msg + sizeof(h);
        end = msg + len;
        for (size_t i = 0; i < (size_t) h.argc + h.envc; i++) {
                const char *nul = memchr(p, 0, (size_t) (end - p));
                if (!nul) {
                        free(v);
                        return -EBADMSG;
                }
                /* argv, NULL, envp, NULL in one array */
                v[i < h.argc ? i : i + 1] = (char *) p;
                p = nul + 1;
        }
        if (p != end) {
                free(v);
                return -EBADMSG;
        }
        *ret_h = h;
        *ret_argv = v;
        *ret_envp = v + h.argc + 1;
        return 0;
}

static void launcher_arm_timer(Launcher *l) {
        usec_t next = USEC_INFINITY;
        struct itimerspec its = {};

        for (size_t i = 0; i < l->n_programs; i++)
                next = MIN(next, l->programs[i].deadline);
        if (next != USEC_INFINITY) {
                if (next == 0)
                        next = 1; /* 0 would disarm */
                its.it_value.tv_sec = (time_t) (next / USEC_PER_SEC);
                its.it_value.tv_nsec = (long) (next % USEC_PER_SEC) * 1000;
        }
        (void) timerfd_settime(l->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static int launcher_start(Launcher *l, const CgiWireRequest *h, char **argv, char **envp, int *fds,
                          pid_t *ret_pid) {
        _cleanup_close_ int err_read = -1, err_write = -1;
        int pipefd[2], e = 0;
        ssize_t n;
        pid_t pid;

        if (l->draining || l->n_programs >= l->max_programs)
                return -EBUSY; /* not -EAGAIN: to a client, that means "no answer yet" */
        Program *grown = realloc(l->programs, (l->n_programs + 1) * sizeof(Program));
        if (!grown)
                return -ENOMEM;
        l->programs = grown;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        err_read = pipefd[0];
        err_write = pipefd[1];

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                launcher_child(fds, argv, envp, err_write);
        err_write = safe_close(err_write);

        /* EOF: the exec succeeded (the pipe closed with it); an int: the child's errno. */
        do
                n = read(err_read, &e, sizeof(e));
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t) sizeof(e)) {
                (void) waitpid(pid, NULL, 0);
                return e > 0 ? -e : -EIO;
        }

        usec_t now = now_usec(CLOCK_MONOTONIC);
        l->programs[l->n_programs++] = (Program) {
                .pgid = pid,
                .state = PROGRAM_RUNNING,
                .deadline = h->timeout_usec > 0 ? now + h->timeout_usec : USEC_INFINITY,
        };
        launcher_arm_timer(l);
        *ret_pid = pid;
        return 0;
}

/* Take one message off the socket. Returns 1 when one was handled, 0 when none is waiting, -EPIPE
 * when every peer is gone. */
static int launcher_receive(Launcher *l) {
        static char msg[CGI_WIRE_MESSAGE_MAX + 1];
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int) * CGI_WIRE_FDS)];
        } control;
        struct iovec iov = { .iov_base = msg, .iov_len = sizeof(msg) };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = control.buf,
                .msg_controllen = sizeof(control.buf),
        };
        int fds[CGI_WIRE_FDS], n_fds = 0, r;
        CgiWireRequest h;
        char **argv = NULL, **envp = NULL;
        pid_t pid = 0;
        ssize_t n;

        n = recvmsg(l->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        if (n == 0)
                return -EPIPE;

        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        for (size_t i = 0; i < k; i++) {
                                int fd;
                                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                                if (n_fds < CGI_WIRE_FDS)
                                        fds[n_fds++] = fd;
                                else
                                        safe_close(fd);
                        }
                }

        if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || n_fds != CGI_WIRE_FDS) {
                /* Without all six fds there is no reply socket to answer on. */
                log_warning("cgi launcher: refused a malformed request (%zd bytes, %d fds)", n, n_fds);
                for (int i = 0; i < n_fds; i++)
                        safe_close(fds[i]);
                return 1;
        }

        r = launcher_parse(msg, (size_t) n, &h, &argv, &envp);
        if (r >= 0)
                r = launcher_start(l, &h, argv, envp, fds, &pid);
        launcher_reply(fds[FD_REPLY], r, pid);
        free(argv); /* envp is part of the same array */
        for (int i = 0; i < CGI_WIRE_FDS; i++)
                safe_close(fds[i]);
        return 1;
}

static void launcher_signal_group(Program *p, int sig) {
        /* Safe from pid reuse: a process group id stays allocated while any member lives, and the
         * leader's pid while it is unreaped, and both are checked before a group is forgotten. */
        (void) kill(-p->pgid, sig);
}

static bool launcher_group_gone(const Program *p) {
        return p->leader_reaped && kill(-p->pgid, 0) < 0 && errno == ESRCH;
}

/* Reap every child that exited (program leaders and orphans handed to us as subreaper) and forget
 * programs whose whole group is gone. */
static void launcher_reap(Launcher *l) {
        for (;;) {
                pid_t pid = waitpid(-1, NULL, WNOHANG);

                if (pid <= 0)
                        break;
                for (size_t i = 0; i < l->n_programs; i++)
                        if (l->programs[i].pgid == pid)
                                l->programs[i].leader_reaped = true;
        }
        for (size_t i = 0; i < l->n_programs;)
                if (launcher_group_gone(&l->programs[i]))
                        l->programs[i] = l->programs[--l->n_programs];
                else
                        i++;
        launcher_arm_timer(l);
}

static void launcher_timeouts(Launcher *l) {
        usec_t now = now_usec(CLOCK_MONOTONIC);
        uint64_t expirations;

        (void) !read(l->timer_fd, &expirations, sizeof(expirations));
        for (size_t i = 0; i < l->n_programs; i++) {
                Program *p = &l->programs[i];

                if (p->deadline > now)
                        continue;
                if (p->state == PROGRAM_RUNNING) {
                        launcher_signal_group(p, SIGTERM);
                        /* A stopped process would never act on SIGTERM. */
                        launcher_signal_group(p, SIGCONT);
                        p->state = PROGRAM_TERMINATING;
                } else {
                        launcher_signal_group(p, SIGKILL);
                        p->state = PROGRAM_KILLED;
                }
                p->deadline = now + l->kill_grace;
        }
        launcher_reap(l);
}

static void launcher_drain(Launcher *l) {
        usec_t now = now_usec(CLOCK_MONOTONIC);

        if (l->draining)
                return;
        l->draining = true;
        (void) epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, l->sock, NULL);
        for (size_t i = 0; i < l->n_programs; i++) {
                Program *p = &l->programs[i];

                launcher_signal_group(p, SIGTERM);
                launcher_signal_group(p, SIGCONT);
                p->state = PROGRAM_TERMINATING;
                p->deadline = now + l->kill_grace;
        }
        launcher_reap(l);
}

static void launcher_signals(Launcher *l) {
        struct signalfd_siginfo si;

        while (read(l->signal_fd, &si, sizeof(si)) == (ssize_t) sizeof(si))
                if (si.ssi_signo == SIGTERM)
                        launcher_drain(l);
        launcher_reap(l);
}

int cgi_launcher_main(int sock, const CgiLauncherOptions *opt) {
        Launcher l = {
                .sock = sock,
                .epoll_fd = -1,
                .signal_fd = -1,
                .timer_fd = -1,
                .kill_grace = opt && opt->kill_grace > 0 ? opt->kill_grace : CGI_KILL_GRACE_DEFAULT,
                .max_programs = opt && opt->max_programs > 0 ? opt->max_programs : CGI_MAX_PROGRAMS_DEFAULT,
        };
        struct epoll_event ev;
        sigset_t mask;
        int r = 0;

        /* Programs must not inherit the socket, whatever the supervisor created it with. */
        if (fcntl(sock, F_SETFD, FD_CLOEXEC) < 0)
                return -errno;
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                return -errno;
        /* A client that gave up closes its reply socket: a write to it must not kill us. */
        if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
                return -errno;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;

        l.signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        l.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        l.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (l.signal_fd < 0 || l.timer_fd < 0 || l.epoll_fd < 0) {
                r = -errno;
                goto finish;
        }
        ev = (struct epoll_event) { .events = EPOLLIN, .data.fd = sock };
        if (epoll_ctl(l.epoll_fd, EPOLL_CTL_ADD, sock, &ev) < 0)
                goto fail_errno;
        ev = (struct epoll_event) { .events = EPOLLIN, .data.fd = l.signal_fd };
        if (epoll_ctl(l.epoll_fd, EPOLL_CTL_ADD, l.signal_fd, &ev) < 0)
                goto fail_errno;
        ev = (struct epoll_event) { .events = EPOLLIN, .data.fd = l.timer_fd };
        if (epoll_ctl(l.epoll_fd, EPOLL_CTL_ADD, l.timer_fd, &ev) < 0)
                goto fail_errno;

        while (!l.draining || l.n_programs > 0) {
                struct epoll_event events[8];
                int n = epoll_wait(l.epoll_fd, events, (int) ELEMENTSOF(events), -1);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        goto fail_errno;
                for (int i = 0; i < n; i++) {
                        int fd = events[i].data.fd;

                        if (fd == l.signal_fd)
                                launcher_signals(&l);
                        else if (fd == l.timer_fd)
                                launcher_timeouts(&l);
                        else if (fd == sock && !l.draining) {
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
                        }
                }
        }
        launcher_reap(&l);
        goto finish;

fail_errno:
        r = -errno;
finish:
        for (size_t i = 0; i < l.n_programs; i++)
                launcher_signal_group(&l.programs[i], SIGKILL);
        free(l.programs);
        safe_close(l.epoll_fd);
        safe_close(l.signal_fd);
        safe_close(l.timer_fd);
        return r;
}
