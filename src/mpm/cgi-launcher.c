/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpm/cgi-launcher.h"
#include "mpm/cgi-wire.h"
#include "mpm/cgi-stderr.h"
#include "http/cgi.h"
#include "shared/fd-pass.h"
#include "mpm/log-channel.h"
#include "shared/log.h"
#include "http/path.h"
#include "shared/time-util.h"

#define CGI_KILL_GRACE_DEFAULT (2 * USEC_PER_SEC)
#define CGI_MAX_PROGRAMS_DEFAULT 1024

/* ---- the launcher ------------------------------------------------------------------------- */

/* A program's stderr is read here, in the launcher, not in the worker that asked for the program:
 * the launcher holds every program for its whole life (a program may close stdout and go on
 * writing to stderr, long after the worker answered 504 and forgot the request), it has one epoll
 * loop with nothing slow in it, and it runs as the site's user anyway. In a worker it would be a
 * second descriptor per request in every MPM's loop, and prefork and worker serve one connection
 * per thread, blocking. Each read is one non-blocking read() of at most CGI_STDERR_READ bytes, so
 * a program that writes without pause shares the loop with the others; when its lines exceed the
 * rate limit the pipe is left unread for a while (the program blocks on it, it does not spin the
 * launcher), and what was dropped is said in one line. */
#define CGI_STDERR_READ (16 * 1024)
#define CGI_STDERR_RATE_DEFAULT 20   /* lines a second, per program */
#define CGI_STDERR_BURST_DEFAULT 100
#define CGI_STDERR_SITE_FACTOR 3     /* a site's programs together: three programs' worth */
#define CGI_STDERR_PAUSE_MIN (100 * USEC_PER_MSEC)
#define CGI_STDERR_REPORT_EVERY USEC_PER_SEC
#define CGI_STDERR_DRAIN_MAX (64 * 1024) /* read after the program's group is gone */
#define CGI_STDERR_SITES_MAX 256

typedef enum ProgramState {
        PROGRAM_RUNNING,
        PROGRAM_TERMINATING, /* SIGTERM sent to the group */
        PROGRAM_KILLED,      /* SIGKILL sent */
} ProgramState;

typedef struct SiteRate {
        char *name;
        CgiStderrRate rate;
} SiteRate;

typedef struct Program {
        pid_t pgid; /* the program's pid: setsid made it its group's leader */
        bool leader_reaped;
        ProgramState state;
        usec_t deadline;   /* CLOCK_MONOTONIC: the next step of the timeout */
        int err_fd;        /* the read end of its stderr pipe, non-blocking; -1 once ended */
        bool err_watched;  /* err_fd is in the epoll set (not paused by the rate limit) */
        usec_t err_resume; /* paused until then; USEC_INFINITY: not paused */
        int log_fd;        /* the site's own ErrorLog; -1: the launcher's own error log */
        char *site, *client;
        size_t site_rate;  /* index in Launcher.sites */
        CgiStderrRate rate;
        usec_t last_report;
        CgiStderrLines lines;
} Program;

/* A process reparented to the launcher that is not a program's leader (cgi-launcher.h). */
typedef struct Orphan {
        pid_t pid; /* our child until reaped: its pid (and group, if it leads one) cannot be reused */
        ProgramState state;
        usec_t deadline;
} Orphan;

typedef struct Launcher {
        int sock, epoll_fd, signal_fd, timer_fd;
        pid_t pid;
        SiteLimits limits;
        char *tmpdir;     /* the programs' TMPDIR, NULL without */
        int tmpdir_fd;    /* open on it, flock()ed while we live: how a stale one is told apart */
        char *tmpdir_env; /* "TMPDIR=..." */
        Orphan *orphans;
        size_t n_orphans;
        usec_t kill_grace;
        unsigned max_programs;
        unsigned stderr_rate, stderr_burst;
        Program **programs;
        size_t n_programs;
        SiteRate *sites;
        size_t n_sites;
        bool draining;
} Launcher;

static void launcher_reply(int fd, int error, pid_t pid) {
        CgiWireReply a = { .error = error, .pid = pid };

        /* The client may have given up (timeout): nothing to do about a failed send. */
        (void) send(fd, &a, sizeof(a), MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Async-signal-safe: runs between fork() and exec. fds: script, dir, stdin, stdout (the request's),
 * err: the write end of the stderr pipe. */
static _noreturn_ void launcher_child(const Launcher *l, const int *fds, int err, char **argv, char **envp,
                                     int err_pipe) {
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        int from[5] = { fds[FD_SCRIPT], fds[FD_DIR], fds[FD_STDIN], fds[FD_STDOUT], err };
        int moved[5], e, r;
        sigset_t none;

        if (setsid() < 0)
                goto fail;
        /* The leader at least dies with a launcher that is killed outright (its orphans are killed
         * by the launcher itself, which a SIGKILL does not let run). */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                goto fail;
        if (getppid() != l->pid)
                _exit(127);
        r = site_limits_apply(&l->limits);
        if (r < 0) {
                errno = -r;
                goto fail;
        }
        for (int sig = 1; sig < NSIG; sig++)
                (void) sigaction(sig, &dfl, NULL); /* SIGKILL, SIGSTOP and the RT signals libc keeps fail */
        sigemptyset(&none);
        if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
                goto fail;

        /* Move every fd above 2 first, so the dup2()s below cannot overwrite one not yet moved. Every
         * other descriptor of the launcher (the site's error log, its own, the other programs'
         * pipes, its sockets) is close-on-exec: the program gets 0, 1 and 2 and nothing else. */
        for (int i = 0; i < 5; i++) {
                moved[i] = fcntl(from[i], F_DUPFD_CLOEXEC, 3);
                if (moved[i] < 0)
                        goto fail;
        }
        if (dup2(moved[2], 0) < 0 || dup2(moved[3], 1) < 0 || dup2(moved[4], 2) < 0)
                goto fail;
        if (fchdir(moved[1]) < 0)
                goto fail;
        /* mpmd runs with its hard descriptor limit as the soft one; a program may use select(),
         * whose sets end at FD_SETSIZE: it gets that soft limit back, as systemd gives a service,
         * and may raise it itself. */
        struct rlimit nofile;
        if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur > FD_SETSIZE) {
                nofile.rlim_cur = FD_SETSIZE;
                (void) setrlimit(RLIMIT_NOFILE, &nofile);
        }

        syscall(SYS_execveat, moved[0], "", argv, envp, AT_EMPTY_PATH);
        if (errno == ENOENT) {
                /* A #! script: the interpreter opens /dev/fd/N, which a close-on-exec fd does not
                 * survive. Only then does the program inherit the fd. */
                if (fcntl(moved[0], F_SETFD, 0) < 0)
                        goto fail;
                syscall(SYS_execveat, moved[0], "", argv, envp, AT_EMPTY_PATH);
        }
fail:
        e = errno;
        (void) !write(err_pipe, &e, sizeof(e));
        _exit(127);
}

/* What a request's strings say (pointers into msg): argv, envp, the site's name, the client's. */
typedef struct LaunchStrings {
        char **argv, **envp;
        const char *site, *client;
} LaunchStrings;

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

static void launcher_arm_timer(Launcher *l) {
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

/* ---- the programs' stderr ----------------------------------------------------------------- */

/* One line about program p in its site's error log (or ours), in the error log's own format. */
static void program_log(const Program *p, const char *what, const char *text) {
        if (p->log_fd >= 0)
                log_to_fd(p->log_fd, LOG_PRI_ERR, "[vhost %s] [client %s] %s (pid %d): %s", p->site, p->client, what,
                          (int) p->pgid, text);
        else
                log_error("[vhost %s] [client %s] %s (pid %d): %s", p->site, p->client, what, (int) p->pgid, text);
}

static size_t launcher_site_rate(Launcher *l, const char *site) {
        for (size_t i = 0; i < l->n_sites; i++)
                if (strcmp(l->sites[i].name, site) == 0)
                        return i;
        if (l->n_sites < CGI_STDERR_SITES_MAX) {
                SiteRate *grown = realloc(l->sites, (l->n_sites + 1) * sizeof(SiteRate));
                char *name = strdup(site);
                if (grown)
                        l->sites = grown;
                if (grown && name) {
                        l->sites[l->n_sites].name = name;
                        cgi_stderr_rate_init(&l->sites[l->n_sites].rate, l->stderr_rate * CGI_STDERR_SITE_FACTOR,
                                             l->stderr_burst * CGI_STDERR_SITE_FACTOR);
                        return l->n_sites++;
                }
                free(name);
        }
        /* No room (never with a real configuration: one entry per site): share the last one. */
        return l->n_sites > 0 ? l->n_sites - 1 : SIZE_MAX;
}

static void program_report_dropped(Program *p, usec_t now, bool force) {
        char text[128];

        if (p->rate.dropped == 0 || (!force && now < p->last_report + CGI_STDERR_REPORT_EVERY))
                return;
        snprintf(text, sizeof(text), "%llu line(s) dropped, more than %u a second",
                 (unsigned long long) cgi_stderr_rate_take_dropped(&p->rate), p->rate.rate);
        program_log(p, "cgi stderr rate limit", text);
        p->last_report = now;
}

/* One line: written when both the program's and its site's bucket allow it, else counted. */
static bool program_line(Launcher *l, Program *p, const char *line, usec_t now) {
        CgiStderrRate *site = p->site_rate < l->n_sites ? &l->sites[p->site_rate].rate : NULL;

        if (!cgi_stderr_rate_check(&p->rate, now) || (site && !cgi_stderr_rate_check(site, now))) {
                cgi_stderr_rate_drop(&p->rate);
                return false;
        }
        cgi_stderr_rate_take(&p->rate);
        if (site)
                cgi_stderr_rate_take(site);
        program_log(p, "cgi stderr", line);
        return true;
}

/* Feed bytes read from the pipe; false when a line was dropped (the rate limit is reached). */
static bool program_feed(Launcher *l, Program *p, const char *data, size_t n, usec_t now) {
        const char *line;
        size_t len;
        bool all = true;

        while (cgi_stderr_lines_take(&p->lines, &data, &n, &line, &len) == 1)
                all = program_line(l, p, line, now) && all;
        return all;
}

static void program_unwatch(Launcher *l, Program *p) {
        /* Explicitly: a child forked a moment ago holds a copy of the descriptor until its exec, and
         * epoll forgets a description only when its last copy is closed. */
        if (p->err_watched)
                (void) epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, p->err_fd, NULL);
        p->err_watched = false;
}

static int program_watch(Launcher *l, Program *p) {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = p };

        if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, p->err_fd, &ev) < 0)
                return -errno;
        p->err_watched = true;
        p->err_resume = USEC_INFINITY;
        return 0;
}

/* The stream has ended (EOF, or the program's group is gone): its last line, what was dropped. */
static void program_stderr_end(Launcher *l, Program *p, usec_t now) {
        const char *line;
        size_t len;

        if (p->err_fd < 0)
                return;
        if (cgi_stderr_lines_finish(&p->lines, &line, &len) == 1)
                (void) program_line(l, p, line, now);
        program_report_dropped(p, now, true);
        program_unwatch(l, p);
        p->err_fd = safe_close(p->err_fd);
        p->err_resume = USEC_INFINITY;
}

/* Readable: one read, so that one program never holds the loop. */
static void program_stderr_read(Launcher *l, Program *p, usec_t now) {
        static char buf[CGI_STDERR_READ];
        ssize_t n = read(p->err_fd, buf, sizeof(buf));

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                program_stderr_end(l, p, now);
                return;
        }
        if (!program_feed(l, p, buf, (size_t) n, now)) {
                CgiStderrRate *site = p->site_rate < l->n_sites ? &l->sites[p->site_rate].rate : NULL;
                usec_t resume = MAX(now + CGI_STDERR_PAUSE_MIN, cgi_stderr_rate_next(&p->rate, now));
                if (site)
                        resume = MAX(resume, cgi_stderr_rate_next(site, now));
                program_unwatch(l, p);
                p->err_resume = resume;
                launcher_arm_timer(l);
        }
        program_report_dropped(p, now, false);
}

/* The group is gone: what it wrote last is still in the pipe (bounded: a descendant that left the
 * group may still hold the pipe and write on). */
static void program_stderr_drain(Launcher *l, Program *p, usec_t now) {
        static char buf[CGI_STDERR_READ];
        size_t total = 0;

        while (p->err_fd >= 0 && total < CGI_STDERR_DRAIN_MAX) {
                ssize_t n = read(p->err_fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                (void) program_feed(l, p, buf, (size_t) n, now);
                total += (size_t) n;
        }
        program_stderr_end(l, p, now);
}

static Program *program_free(Launcher *l, Program *p) {
        if (!p)
                return NULL;
        program_unwatch(l, p);
        safe_close(p->err_fd);
        safe_close(p->log_fd);
        free(p->site);
        free(p->client);
        free(p);
        return NULL;
}

static Program *program_new(Launcher *l, const LaunchStrings *s, int *log_fd) {
        Program *p = calloc(1, sizeof(*p));

        if (!p)
                return NULL;
        p->err_fd = -1;
        p->log_fd = -1;
        p->err_resume = USEC_INFINITY;
        p->deadline = USEC_INFINITY;
        p->site = strndup(s->site, CGI_WIRE_NAME_MAX);
        p->client = strndup(s->client, CGI_WIRE_NAME_MAX);
        if (!p->site || !p->client)
                return program_free(l, p);
        p->log_fd = TAKE_FD(*log_fd);
        p->site_rate = launcher_site_rate(l, p->site);
        cgi_stderr_rate_init(&p->rate, l->stderr_rate, l->stderr_burst);
        p->lines = CGI_STDERR_LINES_INIT;
        return p;
}

/* ---- starting and ending programs ---------------------------------------------------------- */

/* The request's environment with TMPDIR ours (whatever the request said): malloc'd, NULL on -ENOMEM.
 * Built before the fork: nothing between fork and exec allocates. */
static char **launcher_envp(const Launcher *l, char **envp) {
        size_t n = 0, k = 0;
        char **v;

        while (envp[n])
                n++;
        v = calloc(n + 2, sizeof(char *));
        if (!v)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (strncmp(envp[i], "TMPDIR=", 7) != 0)
                        v[k++] = envp[i];
        v[k] = l->tmpdir_env;
        return v;
}

static int launcher_start(Launcher *l, const CgiWireRequest *h, const LaunchStrings *s, int *fds, pid_t *ret_pid) {
        _cleanup_close_ int err_read = -1, err_write = -1, stderr_read = -1, stderr_write = -1;
        _cleanup_free_ char **envp = NULL;
        Program *p = NULL;
        int pipefd[2], e = 0, r;
        ssize_t n;
        pid_t pid;

        if (l->draining || l->n_programs >= l->max_programs)
                return -EBUSY; /* not -EAGAIN: to a client, that means "no answer yet" */
        Program **grown = realloc(l->programs, (l->n_programs + 1) * sizeof(Program *));
        if (!grown)
                return -ENOMEM;
        l->programs = grown;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        err_read = pipefd[0];
        err_write = pipefd[1];
        /* The program's stderr: a pipe of its own, never a log file. Only our end is non-blocking. */
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        stderr_read = pipefd[0];
        stderr_write = pipefd[1];
        if (fcntl(stderr_read, F_SETFL, O_NONBLOCK) < 0)
                return -errno;
        if (l->tmpdir_env) {
                envp = launcher_envp(l, s->envp);
                if (!envp)
                        return -ENOMEM;
        }
        p = program_new(l, s, &fds[FD_ERROR_LOG]);
        if (!p)
                return -ENOMEM;

        pid = fork();
        if (pid < 0) {
                /* EAGAIN: the site is at MaxProcesses (or the machine at its pid limit). Not -EAGAIN
                 * to the client, which reads that as "no answer yet". */
                r = errno == EAGAIN ? -EBUSY : -errno;
                program_free(l, p);
                return r;
        }
        if (pid == 0)
                launcher_child(l, fds, stderr_write, s->argv, envp ? envp : s->envp, err_write);
        err_write = safe_close(err_write);
        stderr_write = safe_close(stderr_write);

        /* EOF: the exec succeeded (the pipe closed with it); an int: the child's errno. */
        do
                n = read(err_read, &e, sizeof(e));
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t) sizeof(e)) {
                (void) waitpid(pid, NULL, 0);
                program_free(l, p);
                return e > 0 ? -e : -EIO;
        }

        usec_t now = now_usec(CLOCK_MONOTONIC);
        p->pgid = pid;
        p->state = PROGRAM_RUNNING;
        p->deadline = h->timeout_usec > 0 ? now + h->timeout_usec : USEC_INFINITY;
        p->err_fd = TAKE_FD(stderr_read);
        if (program_watch(l, p) < 0)
                /* Unread, the pipe fills and the program blocks on it until CGITimeout: rather
                 * read nothing at all than that. */
                p->err_fd = safe_close(p->err_fd);
        l->programs[l->n_programs++] = p;
        launcher_arm_timer(l);
        *ret_pid = pid;
        return 0;
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

static void launcher_signal_group(Program *p, int sig) {
        /* Safe from pid reuse: a process group id stays allocated while any member lives, and the
         * leader's pid while it is unreaped, and both are checked before a group is forgotten. */
        (void) kill(-p->pgid, sig);
}

static bool launcher_group_gone(const Program *p) {
        return p->leader_reaped && kill(-p->pgid, 0) < 0 && errno == ESRCH;
}

static void orphan_signal(const Orphan *o, int sig) {
        /* Its group too: an orphan that called setsid leads one, and what it started is in it. */
        (void) kill(-o->pid, sig);
        (void) kill(o->pid, sig);
}

/* Our children, from /proc/self/task/TID/children (the launcher has one thread): up to max pids in
 * ret; returns how many, or -errno. */
static int launcher_children(const Launcher *l, pid_t *ret, size_t max) {
        static char buf[64 * 1024];
        char path[64];
        size_t len = 0, n = 0;
        ssize_t k;
        int fd;

        snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int) l->pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        while (len < sizeof(buf) - 1 && (k = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        int r = -errno;
                        close(fd);
                        return r;
                }
                len += (size_t) k;
        }
        close(fd);
        buf[len] = 0;
        for (char *p = buf, *end; *p && n < max; p = end) {
                long v = strtol(p, &end, 10);
                if (end == p)
                        break;
                if (v > 0)
                        ret[n++] = (pid_t) v;
        }
        return (int) n;
}

static bool launcher_is_leader(const Launcher *l, pid_t pid) {
        for (size_t i = 0; i < l->n_programs; i++)
                if (l->programs[i]->pgid == pid && !l->programs[i]->leader_reaped)
                        return true;
        return false;
}

static Orphan *launcher_orphan(Launcher *l, pid_t pid) {
        for (size_t i = 0; i < l->n_orphans; i++)
                if (l->orphans[i].pid == pid)
                        return &l->orphans[i];
        return NULL;
}

/* Children that are no program's leader and not yet known: orphans, with the latest deadline of the
 * programs still known (now, when there are none). */
static void launcher_find_orphans(Launcher *l, usec_t now) {
        static pid_t pids[8192];
        usec_t deadline = 0;
        int n = launcher_children(l, pids, ELEMENTSOF(pids));

        for (size_t i = 0; i < l->n_programs; i++)
                deadline = MAX(deadline, l->programs[i]->deadline);
        if (deadline == 0 || l->draining)
                deadline = l->draining ? now + l->kill_grace : now;
        for (int i = 0; i < n; i++) {
                if (launcher_is_leader(l, pids[i]) || launcher_orphan(l, pids[i]))
                        continue;
                Orphan *grown = realloc(l->orphans, (l->n_orphans + 1) * sizeof(Orphan));
                if (!grown) {
                        /* Rather end it now than lose track of it. */
                        (void) kill(-pids[i], SIGKILL);
                        (void) kill(pids[i], SIGKILL);
                        continue;
                }
                l->orphans = grown;
                l->orphans[l->n_orphans++] = (Orphan) { .pid = pids[i], .state = PROGRAM_RUNNING, .deadline = deadline };
                if (l->draining) {
                        Orphan *o = &l->orphans[l->n_orphans - 1];
                        orphan_signal(o, SIGTERM);
                        orphan_signal(o, SIGCONT);
                        o->state = PROGRAM_TERMINATING;
                }
        }
}

/* Reap every child that exited (program leaders and orphans handed to us as subreaper), find new
 * orphans, and forget programs whose whole group is gone, once what they wrote to stderr is
 * logged. */
static void launcher_reap(Launcher *l) {
        usec_t now = now_usec(CLOCK_MONOTONIC);

        for (;;) {
                pid_t pid = waitpid(-1, NULL, WNOHANG);
                Orphan *o;

                if (pid <= 0)
                        break;
                for (size_t i = 0; i < l->n_programs; i++)
                        if (l->programs[i]->pgid == pid)
                                l->programs[i]->leader_reaped = true;
                if ((o = launcher_orphan(l, pid)))
                        *o = l->orphans[--l->n_orphans];
        }
        /* Before the programs whose group just ended are forgotten: an orphan found now is most
         * likely one of theirs, and gets their deadline. */
        launcher_find_orphans(l, now);
        for (size_t i = 0; i < l->n_programs;)
                if (launcher_group_gone(l->programs[i])) {
                        program_stderr_drain(l, l->programs[i], now);
                        program_free(l, l->programs[i]);
                        l->programs[i] = l->programs[--l->n_programs];
                } else
                        i++;
        launcher_arm_timer(l);
}

static void launcher_timeouts(Launcher *l) {
        usec_t now = now_usec(CLOCK_MONOTONIC);
        uint64_t expirations;

        (void) !read(l->timer_fd, &expirations, sizeof(expirations));
        for (size_t i = 0; i < l->n_programs; i++) {
                Program *p = l->programs[i];

                if (p->err_fd >= 0 && !p->err_watched && p->err_resume <= now && program_watch(l, p) < 0)
                        program_stderr_end(l, p, now);
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
        for (size_t i = 0; i < l->n_orphans; i++) {
                Orphan *o = &l->orphans[i];

                if (o->deadline > now)
                        continue;
                if (o->state == PROGRAM_RUNNING) {
                        orphan_signal(o, SIGTERM);
                        orphan_signal(o, SIGCONT);
                        o->state = PROGRAM_TERMINATING;
                } else {
                        orphan_signal(o, SIGKILL);
                        o->state = PROGRAM_KILLED;
                }
                o->deadline = now + l->kill_grace;
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
                Program *p = l->programs[i];

                launcher_signal_group(p, SIGTERM);
                launcher_signal_group(p, SIGCONT);
                p->state = PROGRAM_TERMINATING;
                p->deadline = now + l->kill_grace;
        }
        for (size_t i = 0; i < l->n_orphans; i++) {
                Orphan *o = &l->orphans[i];

                orphan_signal(o, SIGTERM);
                orphan_signal(o, SIGCONT);
                o->state = PROGRAM_TERMINATING;
                o->deadline = now + l->kill_grace;
        }
        launcher_reap(l);
}

/* At exit: kill every child left and what it leads, and reap, until no child remains; the ones
 * still found in /proc each round (a descendant reparented a moment ago) are killed too. */
static void launcher_kill_all(Launcher *l) {
        static pid_t pids[8192];

        for (;;) {
                int n = launcher_children(l, pids, ELEMENTSOF(pids));

                for (int i = 0; i < n; i++) {
                        (void) kill(-pids[i], SIGKILL);
                        (void) kill(pids[i], SIGKILL);
                }
                for (size_t i = 0; i < l->n_orphans; i++)
                        orphan_signal(&l->orphans[i], SIGKILL);
                l->n_orphans = 0;
                /* Without /proc we cannot tell who is left: reap what is dead, never wait on a
                 * child nothing was sent. */
                pid_t pid = waitpid(-1, NULL, n < 0 ? WNOHANG : 0);
                if (pid < 0 && errno == EINTR)
                        continue;
                if (pid <= 0)
                        return; /* ECHILD: none left */
        }
}

/* ---- the programs' TMPDIR ------------------------------------------------------------------- */

static int rm_rf_at(int dfd, unsigned depth) {
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (depth > 64) {
                close(dfd);
                return -ELOOP;
        }
        d = fdopendir(dfd);
        if (!d) {
                r = -errno;
                close(dfd);
                return r;
        }
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) == 0)
                        continue;
                if (errno != EISDIR && errno != EPERM) {
                        r = -errno;
                        continue;
                }
                int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0) {
                        r = -errno;
                        continue;
                }
                int k = rm_rf_at(sub, depth + 1);
                if (k < 0)
                        r = k;
                else if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0)
                        r = -errno;
        }
        closedir(d);
        return r;
}

/* The directories of earlier launchers of the same name and user that ended without removing theirs
 * (killed outright): nobody holds their lock any more. One younger than a few seconds may be a
 * launcher's that has not locked it yet, and is left. */
static void launcher_tmpdir_clean_stale(const Launcher *l, const char *name) {
        usec_t now = now_usec(CLOCK_REALTIME);
        size_t n = strlen(name);
        struct dirent *de;
        DIR *d = opendir("/tmp");

        if (!d)
                return;
        while ((de = readdir(d))) {
                struct stat st;

                if (strncmp(de->d_name, name, n) != 0 || de->d_name[n] != '-' || strlen(de->d_name + n + 1) != 6 ||
                    strcmp(de->d_name, strrchr(l->tmpdir, '/') + 1) == 0)
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
                    st.st_uid != getuid() || (usec_t) st.st_mtim.tv_sec * USEC_PER_SEC + 10 * USEC_PER_SEC > now)
                        continue;
                int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        continue;
                if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
                        int sub = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                        if (sub >= 0 && rm_rf_at(sub, 0) >= 0)
                                (void) unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
                }
                close(fd);
        }
        closedir(d);
}

/* /tmp/NAME-XXXXXX, made by the launcher itself, so it is the site's own (mode 0700). NAME is
 * cleaned to letters, digits, '.', '-' and '_'. */
static int launcher_tmpdir_create(Launcher *l, const char *name) {
        char clean[80];
        size_t n = 0;

        for (; name[n] && n < sizeof(clean) - 1; n++) {
                char c = name[n];
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                          c == '-' || c == '_';
                clean[n] = ok ? c : '_';
        }
        clean[n] = 0;
        if (asprintf(&l->tmpdir, "/tmp/%s-XXXXXX", clean) < 0) {
                l->tmpdir = NULL;
                return -ENOMEM;
        }
        if (!mkdtemp(l->tmpdir)) {
                int r = -errno;
                l->tmpdir = mfree(l->tmpdir);
                return r;
        }
        l->tmpdir_fd = open(l->tmpdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (l->tmpdir_fd < 0 || flock(l->tmpdir_fd, LOCK_EX) < 0) {
                int r = -errno;
                l->tmpdir_fd = safe_close(l->tmpdir_fd);
                (void) rmdir(l->tmpdir);
                l->tmpdir = mfree(l->tmpdir);
                return r;
        }
        launcher_tmpdir_clean_stale(l, clean);
        if (asprintf(&l->tmpdir_env, "TMPDIR=%s", l->tmpdir) < 0) {
                l->tmpdir_env = NULL;
                (void) rmdir(l->tmpdir);
                l->tmpdir = mfree(l->tmpdir);
                return -ENOMEM;
        }
        return 0;
}

static void launcher_tmpdir_remove(Launcher *l) {
        if (!l->tmpdir)
                return;
        int fd = open(l->tmpdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int r = fd < 0 ? -errno : rm_rf_at(fd, 0);
        if (r >= 0 && rmdir(l->tmpdir) < 0)
                r = -errno;
        if (r < 0)
                log_warning_errno(r, "Cannot remove the programs' TMPDIR %s: %m", l->tmpdir);
        l->tmpdir = mfree(l->tmpdir);
        l->tmpdir_env = mfree(l->tmpdir_env);
        l->tmpdir_fd = safe_close(l->tmpdir_fd);
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
