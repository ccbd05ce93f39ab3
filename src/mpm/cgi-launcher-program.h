/* SPDX-License-Identifier: MIT */
/* cgi-launcher-program.h — one program's record in the launcher, and its stderr: the pipe is read
 * in the launcher's loop, cut into lines, rate-limited per program and per site (cgi-stderr.h) and
 * written to the site's ErrorLog (or the launcher's own) as
 * "[vhost NAME] [client ADDR] cgi stderr (pid N): LINE"; what was dropped is said in one line.
 * A program over its rate has its pipe left unread until l's timer says it may go on
 * (Program.err_resume, launcher_arm_timer()). */
#pragma once

#include <stddef.h>

#include "mpm/cgi-launcher-internal.h"

/* A record for the program a request asks for, not yet started: its site's and client's names
 * copied from s, and *log_fd (the site's ErrorLog, or -1) taken over. NULL: -ENOMEM. */
Program *program_new(Launcher *l, const LaunchStrings *s, int *log_fd);

/* Close its pipe and its log and free it (the process is not touched); accepts NULL, returns NULL. */
Program *program_free(Launcher *l, Program *p);

/* Put p->err_fd in the epoll set (and end a pause); -errno when it cannot be. */
int program_watch(Launcher *l, Program *p);

/* p->err_fd is readable: one read, logged; past the rate limit the pipe is paused. */
void program_stderr_read(Launcher *l, Program *p, usec_t now);

/* The stream has ended: log its last partial line and what was dropped, close the pipe. */
void program_stderr_end(Launcher *l, Program *p, usec_t now);

/* The program's group is gone: read what is left in the pipe (bounded), then end the stream. */
void program_stderr_drain(Launcher *l, Program *p, usec_t now);
