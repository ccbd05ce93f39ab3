/* SPDX-License-Identifier: MIT */
/* cgi-host.h — the supervisor's side of a generation's CGI launcher (src/mpm/cgi-launcher.h): the
 * socket its workers send launch requests on, the launcher process, its restart and its end.
 *
 * The launcher is forked by the supervisor, never by a worker, so that workers keep a seccomp filter
 * without execve. It runs as the workers' user under the launcher's sandbox profile. While its
 * generation serves, a launcher that ends is started again (with the same exponential back-off as
 * a worker that cannot start). When the generation has no worker left, the supervisor drops its
 * copy of the workers' end of the socket and asks the launcher to finish: it kills the process
 * groups of the programs still running and exits; the generation is freed only after that, so no
 * CGI program outlives the configuration that started it.
 *
 * The launcher keeps only its socket, its error log (the server's ErrorLog, or stderr) and its end
 * of a log channel of its own, on which the supervisor hands it the reopened error log; the
 * programs get none of them (cgi-launcher.h). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "mpm/sandbox.h"
#include "mpm/scoreboard.h"
#include "mpm/site-limits.h"
#include "shared/time-util.h"

typedef struct CgiHost {
        int sock[2];           /* [0] the launcher's end, [1] the end every worker inherits */
        pid_t pid;             /* 0 when not running */
        sd_event_source *child;
        unsigned failures;     /* exits in a row within a second of starting */
        usec_t started;
        usec_t not_before;
        bool finishing;        /* asked to finish: not restarted */
        unsigned generation;   /* for log lines */
        int log_channel[2];    /* [0] ours, [1] the launcher's: its reopened error log (log-channel.h) */
        uint32_t logs_epoch;   /* how many times the error log was reopened; a new launcher starts here */
        int report_fd;         /* a one-page scoreboard segment the launcher reports its adopted epoch in */
        const ScoreboardProcess *report; /* ours, read-only */
        /* What the running launcher was started as, for `mpmctl audit`. */
        char role[64];         /* "cgi launcher", or "cgi launcher SITE" for a site's own */
        uid_t uid;
        gid_t gid;
        SandboxProfile profile;
        SiteLimits limits;     /* its programs' limits (site-limits.h) */
        char tmp_name[80];     /* its programs' TMPDIR is /tmp/TMP_NAME-XXXXXX (cgi-launcher.h) */
} CgiHost;

#define CGI_HOST_NULL ((CgiHost) { .sock = { -1, -1 }, .log_channel = { -1, -1 }, .report_fd = -1 })

/* Create the socket pair; no process yet. site: the site whose own user the launcher runs as, NULL
 * for the server's; limits: its programs' (NULL: none). 0 or -errno. */
int cgi_host_init(CgiHost *h, unsigned generation, const char *site, const SiteLimits *limits);

/* Fork the launcher unless it runs, is finishing or is backed off. prepare() runs first in the child
 * (the supervisor drops its own state there); the child then keeps only stdio and its socket end,
 * applies policy and serves. 0, -EAGAIN (backed off) or -errno. */
int cgi_host_start(CgiHost *h, sd_event *event, const SandboxPolicy *policy, void (*prepare)(void *userdata),
                   void *userdata);

/* The generation has no workers left (or is stopping): close the workers' end here and ask the
 * launcher to finish (SIGTERM), or kill it at once when now is true. */
void cgi_host_finish(CgiHost *h, bool now);

bool cgi_host_running(const CgiHost *h);

/* The supervisor reopened its error log, now error_log_fd: hand it to the launcher (which puts it
 * under its own log's number) and tell it with SIGUSR1. 0, or -errno when it could not be told. */
int cgi_host_reopen_logs(CgiHost *h, int error_log_fd);

/* The running launcher has adopted the error log last handed to it (or none runs). */
bool cgi_host_logs_adopted(const CgiHost *h);

/* In a forked process: drop the supervisor's mapping of the launcher's report page. */
void cgi_host_forget(CgiHost *h);

/* The workers' end, -1 when there is no launcher socket. */
int cgi_host_worker_fd(const CgiHost *h);

/* Kill (SIGKILL) what still runs, close everything. */
void cgi_host_done(CgiHost *h);
