/* SPDX-License-Identifier: MIT */
/* maintain.h — how many worker processes to start or retire this second, and how long to wait
 * before restarting a worker that keeps crashing.
 *
 * Pure arithmetic on numbers the caller took from its own process table and from a validated
 * scoreboard view: no I/O, no clock, no logging. The caller calls spare_decide() once a second
 * (Apache's rule) and acts on the answer; the only state carried between calls is the spawn rate. */
#pragma once

#include <stdbool.h>

#include "shared/macro.h"

/* Exit codes of a worker process. FATAL means "restarting me will not help" (bad configuration,
 * sandbox refused): the supervisor stops respawning, like Apache's APEXIT_CHILDFATAL and nginx's
 * exit code 2. */
#define WORKER_EXIT_OK 0
#define WORKER_EXIT_FATAL 2

/* The spawn rate doubles each second of shortage up to this many processes per second. */
#define SPARE_SPAWN_RATE_MAX 32u
/* Crash back-off ceiling. */
#define SPAWN_BACKOFF_MAX_USEC (60 * USEC_PER_SEC)

typedef struct SpareState {
        unsigned spawn_rate; /* processes that may be started at the next shortage, 1..32 */
} SpareState;

void spare_state_init(SpareState *s);

typedef struct SpareDecision {
        unsigned spawn;  /* processes to start now */
        unsigned retire; /* idle processes to stop gracefully now (0 or 1) */
        bool at_limit;   /* short of spares but no slot or process left: "reached MaxRequestWorkers" */
} SpareDecision;

/* One second of spare maintenance.
 *   idle              idle processes (prefork) or idle threads (worker, event), starting ones included
 *   active_processes  processes alive and not stopping
 *   idle_per_process  idle units a new process brings: 1 for prefork, ThreadsPerChild otherwise
 *   min_spare, max_spare  MinSpareServers/MaxSpareServers or MinSpareThreads/MaxSpareThreads
 *   max_processes     the total limit on active processes
 *   free_slots        process slots that may be filled now (free and not backed off)
 * When idle < min_spare: start enough processes to reach min_spare, at most the current rate, at
 * most max_processes - active_processes and free_slots; the rate then doubles (1, 2, 4 … 32). When
 * idle > max_spare: retire one process, unless that would drop idle below min_spare. Otherwise, or
 * when the limit leaves no room, the rate goes back to 1. */
SpareDecision spare_decide(SpareState *s, unsigned idle, unsigned active_processes, unsigned idle_per_process,
                           unsigned min_spare, unsigned max_spare, unsigned max_processes, unsigned free_slots);

/* Delay before respawning a slot whose process died this many times in a row before becoming
 * ready: 0, then 1 s, 2 s, 4 s … capped at SPAWN_BACKOFF_MAX_USEC. */
usec_t spawn_backoff_usec(unsigned consecutive_crashes);

/* exit_status is the exit code of a process that exited (WEXITSTATUS, si_status of CLD_EXITED),
 * not a raw wait status. True when it asks not to be restarted. */
bool spawn_is_fatal_exit(int exit_status);
