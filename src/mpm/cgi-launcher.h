/* SPDX-License-Identifier: MIT */
/* cgi-launcher.h — the process that starts CGI programs for the workers of one generation (or one
 * perchild pool), and the calls workers make to it.
 *
 * Why a process of its own: workers may be threaded and their seccomp filter has no execve, so they
 * never fork a program. The supervisor forks one launcher per generation and pool, running as the
 * workers' user under the deny-list sandbox, and hands it one end of a SOCK_SEQPACKET socketpair
 * whose other end all workers of the generation inherit (messages are atomic, so any number of
 * senders is fine). Each launch is one message: a header, argv and environment strings, the site's
 * name and the client's address, and five or six fds by SCM_RIGHTS (script, its directory, stdin,
 * stdout, a reply socket the client made for this request alone, so that replies never cross
 * between workers, and the site's own ErrorLog when it has one).
 *
 * The launcher forks; the child starts its own session (setsid: the program and everything it
 * starts form one process group), puts stdin, stdout and the write end of a new pipe on 0/1/2,
 * enters the script's directory (as Apache does), resets signal dispositions and mask, and calls
 * execveat(script_fd, "", AT_EMPTY_PATH). The program holds no other descriptor: in particular
 * never a log file, which it could fill with lines that look like anyone's, or truncate. The
 * launcher reads the pipe in its loop and writes each line to the site's ErrorLog (or its own, the
 * server's) as "[vhost NAME] [client ADDR] cgi stderr (pid N): LINE", escaped, cut and
 * rate-limited per program and per site (cgi-stderr.h), with one line saying how many were dropped;
 * a partial last line is written when the program's group is gone. SIGUSR1 makes it adopt a
 * reopened error log (log-channel.h, log_channel_attach() done by its caller). The
 * launcher answers with the pid, or with the errno of a failed exec (learned through a close-on-exec
 * pipe). It kills a program's whole process group when CGITimeout passes (SIGTERM, then SIGKILL
 * kill_grace later), reaps everything (it is a child subreaper, so orphaned grandchildren come back
 * to it), and on SIGTERM or when every peer of its socket is gone it does the same to every group
 * still running and exits.
 *
 * A process that left its program's group (setsid, then its parent exited) is reparented to the
 * launcher, an orphan: which program started it cannot be told any more, so it is given the latest
 * deadline of the programs the launcher knows when it finds it (those running and those whose group
 * just ended), or none when there are none, and is then killed like a group (SIGTERM, SIGKILL).
 * Orphans are looked for in /proc/self/task/TID/children whenever a child exits, a deadline passes
 * and at drain; at exit every child left is killed and reaped until none remains, so nothing a
 * program starts outlives the launcher (unless the launcher itself is SIGKILLed: then a program's
 * leader dies with it, PR_SET_PDEATHSIG, but what it left behind is not, and systemd's cgroup is
 * the last net). Each program gets the site's limits (site-limits.h) and TMPDIR, a directory of
 * the launcher's own, flock()ed while it lives; at start a launcher removes the unlocked ones of
 * its name and user that earlier launchers, killed outright, left. One epoll loop over the socket, a signalfd, a timerfd and the programs'
 * stderr pipes; no threads.
 *
 * The launcher is four files over one private header (cgi-launcher-internal.h): cgi-launcher.c its
 * loop, cgi-launcher-start.c starting one program (and TMPDIR), cgi-launcher-program.c a program's
 * record and stderr, cgi-launcher-reap.c process groups, orphans, deadlines and reaping. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "http/cgi-run.h"
#include "shared/macro.h"
#include "mpm/site-limits.h"

/* ---- the launcher process ----------------------------------------------------------------- */

typedef struct CgiLauncherOptions {
        usec_t kill_grace;     /* from SIGTERM to SIGKILL for a process group; 0: 2 s */
        unsigned max_programs; /* running at once; more are refused with -EBUSY; 0: 1024 */
        unsigned stderr_rate;  /* stderr lines a second a program may log; 0: 20 (a site: 3 times that) */
        unsigned stderr_burst; /* and at once; 0: 100 (a site: 3 times that) */
        SiteLimits limits;     /* set on each program before its exec (site-limits.h); MaxProcesses
                                * on the launcher too, so that its own forks count against it */
        const char *tmp_name;  /* the programs' TMPDIR: a fresh 0700 directory /tmp/TMP_NAME-XXXXXX,
                                * removed at exit; NULL: no TMPDIR of ours */
} CgiLauncherOptions;

/* Serve launch requests arriving on sock until SIGTERM or until all peers of sock are gone; then kill
 * what still runs, reap it and return 0 (or -errno when the loop could not be set up). Blocks SIGTERM,
 * SIGCHLD and SIGUSR1 for its own use and makes the process a child subreaper: call it in a freshly forked
 * process and _exit() with its result. */
int cgi_launcher_main(int sock, const CgiLauncherOptions *opt);

/* ---- what a worker calls ------------------------------------------------------------------ */

/* (cgi-launch-client.c) Have the launcher behind launcher_sock start a program, without waiting
 * for it or for its queue: send the request and return the reply socket (non-blocking,
 * close-on-exec; the caller closes it), which becomes readable when the launcher has answered. The
 * caller's fds are only lent and were duplicated into the message: they may be closed at once (the
 * stdout write end must be, or the read end never sees EOF). Returns -EAGAIN (the launcher's queue
 * is full: wait for launcher_sock to be writable and send again), -E2BIG (argv and environment too
 * large for one message), -ECONNRESET (the launcher is gone), or another -errno. */
int cgi_launch_send(int launcher_sock, const CgiLaunchRequest *req);

/* The launcher's answer on the reply socket: 0 and *ret_pid (the program's pid, which is also its
 * process group), -EAGAIN (not there yet), or: the exec's error (-EACCES: no execute permission,
 * -ENOENT: a missing interpreter, -ENOEXEC …), -EBUSY (the launcher is draining or at max_programs),
 * -ECONNRESET (the launcher closed the request unanswered), or another -errno. */
int cgi_launch_receive(int reply, pid_t *ret_pid);

/* Both, blocking: send (waiting while the queue is full), wait for the answer, all within
 * req->reply_timeout (0: 10 s; else -ETIMEDOUT), and receive it. For callers that may block (tests,
 * tools). */
int cgi_launch(int launcher_sock, const CgiLaunchRequest *req, pid_t *ret_pid);

/* The engine's launcher (http_server_set_cgi_launcher()) that sends to *launcher_sock; its wait_fd()
 * is *launcher_sock, for the engine to wait on when its queue is full. */
void cgi_launcher_client(int *launcher_sock, HttpCgiLauncher *ret);
