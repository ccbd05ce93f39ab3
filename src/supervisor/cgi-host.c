/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor/cgi-host.h"
#include "mpm/cgi-launcher.h"
#include "mpm/log-channel.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "mpm/maintain.h"

/* A launcher that lived at least this long was not failing to start. */
#define CGI_HOST_HEALTHY_USEC (1 * USEC_PER_SEC)

int cgi_host_init(CgiHost *h, unsigned generation, const char *site, const SiteLimits *limits) {
        *h = CGI_HOST_NULL;
        h->generation = generation;
        snprintf(h->role, sizeof(h->role), "cgi launcher%s%s", site ? " " : "", site ? site : "");
        snprintf(h->tmp_name, sizeof(h->tmp_name), "mpmd-%s%s", site ? "site-" : "cgi", site ? site : "");
        if (limits)
                h->limits = *limits;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, h->sock) < 0 ||
            socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, h->log_channel) < 0)
                return -errno;
        /* Where the launcher says which error log it writes (log_channel_report_to()): a segment of
         * no worker slot, sealed like a worker's, mapped read-only here. */
        h->report_fd = scoreboard_segment_create(generation, 0);
        if (h->report_fd < 0)
                return h->report_fd;
        h->report = scoreboard_segment_map(h->report_fd, 0, false);
        if (!h->report)
                return -errno;
        return 0;
}

static int on_launcher_exit(sd_event_source *src, const siginfo_t *si, void *userdata) {
        CgiHost *h = userdata;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        bool failed = si->si_code != CLD_EXITED || si->si_status != 0;

        h->child = sd_event_source_unref(h->child);
        h->pid = 0;
        if (h->finishing) {
                log_debug("generation %u: CGI launcher finished", h->generation);
                return 0;
        }
        if (now - h->started < CGI_HOST_HEALTHY_USEC)
                h->failures++;
        else
                h->failures = 0;
        h->not_before = now + spawn_backoff_usec(h->failures);
        log_full_errno(failed ? LOG_PRI_ERR : LOG_PRI_WARNING, 0,
                       "generation %u: CGI launcher (pid %d) %s %d; starting it again%s", h->generation,
                       (int) si->si_pid, si->si_code == CLD_EXITED ? "exited with status" : "was killed by signal",
                       si->si_status, h->failures > 0 ? " after a back-off" : "");
        return 0;
}

static int cmp_int(const void *a, const void *b) {
        return *(const int *) a - *(const int *) b;
}

/* Close every descriptor above stderr but the n of keep (sorted here). */
static int close_all_except(int *keep, size_t n) {
        unsigned from = 3;

        qsort(keep, n, sizeof(int), cmp_int);
        for (size_t i = 0; i <= n; i++) {
                if (i < n && keep[i] < (int) from)
                        continue;
                unsigned to = i < n ? (unsigned) keep[i] : ~0U;
                if (to > from && close_range(from, to - 1, 0) < 0)
                        return -1;
                if (i < n)
                        from = (unsigned) keep[i] + 1;
        }
        return 0;
}

_noreturn_ static void launcher_child(CgiHost *h, const SandboxPolicy *policy, void (*prepare)(void *userdata),
                                      void *userdata) {
        const char *step = NULL;
        sigset_t all;
        int r;

        log_set_tag(h->role);
        /* In ps and /proc/PID/comm, told apart from the workers. */
        (void) prctl(PR_SET_NAME, "mpmd-cgi");
        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (prepare)
                prepare(userdata);
        /* Only stdio, the error log, the launcher's end and its log channel survive (and its report
         * page, mapped writable below and closed). */
        int keep[] = { h->sock[0], log_get_fd(), h->log_channel[1], h->report_fd }, log_fd = log_get_fd();
        if (close_all_except(keep, ELEMENTSOF(keep)) < 0) {
                log_error_errno(errno, "Cannot close inherited descriptors: %m");
                _exit(WORKER_EXIT_FATAL);
        }
        ScoreboardProcess *report = scoreboard_segment_map(h->report_fd, 0, true);
        h->report_fd = safe_close(h->report_fd);
        /* SIGUSR1 (blocked, as in the supervisor) is read from the launcher's signalfd. */
        if (!report || log_channel_attach(h->log_channel[1], h->logs_epoch, &log_fd, 1) < 0)
                _exit(WORKER_EXIT_FATAL);
        log_channel_report_to(&report->logs_epoch);
        r = sandbox_apply(policy, &step);
        if (r < 0) {
                log_error_errno(r, "Sandbox step \"%s\" failed, refusing to start programs: %m", step ? step : "?");
                _exit(WORKER_EXIT_FATAL);
        }
        sigfillset(&all);
        sigdelset(&all, SIGUSR1); /* its default would end the launcher: it stays blocked */
        sigprocmask(SIG_UNBLOCK, &all, NULL);
        r = cgi_launcher_main(h->sock[0], &(CgiLauncherOptions) { .limits = h->limits, .tmp_name = h->tmp_name });
        if (r < 0)
                log_error_errno(r, "The CGI launcher failed: %m");
        _exit(r < 0 ? WORKER_EXIT_FATAL : WORKER_EXIT_OK);
}

int cgi_host_start(CgiHost *h, sd_event *event, const SandboxPolicy *policy, void (*prepare)(void *userdata),
                   void *userdata) {
        usec_t now = now_usec(CLOCK_MONOTONIC);
        pid_t pid;
        int r;

        if (h->pid > 0 || h->finishing || h->sock[0] < 0)
                return 0;
        if (now < h->not_before)
                return -EAGAIN;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                launcher_child(h, policy, prepare, userdata);
        h->pid = pid;
        h->started = now;
        h->uid = policy->change_ids ? policy->uid : getuid();
        h->gid = policy->change_ids ? policy->gid : getgid();
        h->profile = policy->profile;
        r = sd_event_add_child(event, &h->child, pid, WEXITED, on_launcher_exit, h);
        if (r < 0) {
                kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                h->pid = 0;
                return r;
        }
        (void) sd_event_source_set_child_process_own(h->child, true);
        log_debug("generation %u: started the CGI launcher (pid %d)", h->generation, (int) pid);
        return 0;
}

void cgi_host_finish(CgiHost *h, bool now) {
        h->finishing = true;
        /* With the workers gone, ours was the last copy of their end: the launcher sees its peers
         * gone and finishes even if the signal were lost. */
        h->sock[1] = safe_close(h->sock[1]);
        if (h->pid > 0)
                (void) kill(h->pid, now ? SIGKILL : SIGTERM);
}

int cgi_host_reopen_logs(CgiHost *h, int error_log_fd) {
        int r;

        h->logs_epoch++;
        if (h->pid <= 0 || h->log_channel[0] < 0)
                return 0; /* one started later inherits the new file and this epoch */
        r = log_channel_send(h->log_channel[0], h->logs_epoch, &error_log_fd, 1);
        if (r < 0)
                return r;
        return kill(h->pid, SIGUSR1) < 0 ? -errno : 0;
}

bool cgi_host_logs_adopted(const CgiHost *h) {
        if (h->pid <= 0 || !h->report)
                return true;
        return __atomic_load_n(&h->report->logs_epoch, __ATOMIC_ACQUIRE) == h->logs_epoch;
}

void cgi_host_forget(CgiHost *h) {
        if (h->report)
                scoreboard_segment_unmap((ScoreboardProcess *) h->report, 0);
        h->report = NULL;
}

bool cgi_host_running(const CgiHost *h) {
        return h->pid > 0;
}

int cgi_host_worker_fd(const CgiHost *h) {
        return h->sock[1];
}

void cgi_host_done(CgiHost *h) {
        if (h->pid > 0)
                (void) kill(h->pid, SIGKILL);
        /* Owned by the source: freeing it reaps the killed process. */
        h->child = sd_event_source_unref(h->child);
        h->pid = 0;
        h->sock[0] = safe_close(h->sock[0]);
        h->sock[1] = safe_close(h->sock[1]);
        h->log_channel[0] = safe_close(h->log_channel[0]);
        h->log_channel[1] = safe_close(h->log_channel[1]);
        cgi_host_forget(h);
        h->report_fd = safe_close(h->report_fd);
}
