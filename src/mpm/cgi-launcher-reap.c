/* SPDX-License-Identifier: MIT */
/* cgi-launcher-reap.c — process groups, orphans, deadlines and reaping in the launcher
 * (cgi-launcher-reap.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpm/cgi-launcher-reap.h"
#include "mpm/cgi-launcher-program.h"
#include "shared/time-util.h"

void launcher_signal_group(Program *p, int sig) {
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
void launcher_reap(Launcher *l) {
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

void launcher_timeouts(Launcher *l) {
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

void launcher_drain(Launcher *l) {
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
void launcher_kill_all(Launcher *l) {
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
