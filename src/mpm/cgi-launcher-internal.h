/* SPDX-License-Identifier: MIT */
/* cgi-launcher-internal.h — the launcher process's state, shared by the files it is made of and by
 * nothing else: cgi-launcher.c (its loop), cgi-launcher-start.c (starting one program),
 * cgi-launcher-program.c (a program's record and its stderr) and cgi-launcher-reap.c (process
 * groups, orphans, deadlines, reaping). One Launcher lives on cgi_launcher_main()'s stack; the
 * process has one thread, so none of this is locked. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "mpm/cgi-stderr.h"
#include "mpm/site-limits.h"
#include "shared/macro.h"

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

/* What a request's strings say (pointers into msg): argv, envp, the site's name, the client's. */
typedef struct LaunchStrings {
        char **argv, **envp;
        const char *site, *client;
} LaunchStrings;

/* (cgi-launcher.c) Set the timer to the earliest deadline of every program and orphan, and the end
 * of every stderr pause; disarm it when there is none. Call after any of them changed. */
void launcher_arm_timer(Launcher *l);
