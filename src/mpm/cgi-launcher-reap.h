/* SPDX-License-Identifier: MIT */
/* cgi-launcher-reap.h — how the launcher tracks and ends what it started: each program's process
 * group, signalled as a whole (CGITimeout: SIGTERM and SIGCONT, SIGKILL kill_grace later), and the
 * orphans a child subreaper is handed (processes that left their program's group), found in
 * /proc/self/task/TID/children and given the latest deadline of the programs known
 * (cgi-launcher.h). A program is forgotten once its leader is reaped and no member of its group
 * is left; nothing a program starts outlives launcher_kill_all(). */
#pragma once

#include "mpm/cgi-launcher-internal.h"

/* Send sig to p's whole process group. */
void launcher_signal_group(Program *p, int sig);

/* Reap every child that exited, find new orphans, forget (once their stderr is logged) the
 * programs whose group is gone, and re-arm the timer. */
void launcher_reap(Launcher *l);

/* The timer fired: resume paused stderr pipes, take the next step for every program and orphan
 * past its deadline, reap. */
void launcher_timeouts(Launcher *l);

/* Stop taking requests and end everything running (SIGTERM now, SIGKILL kill_grace later); the
 * loop ends when nothing is left. Once only. */
void launcher_drain(Launcher *l);

/* At exit: kill every child left and what it leads, and reap, until no child remains. */
void launcher_kill_all(Launcher *l);
