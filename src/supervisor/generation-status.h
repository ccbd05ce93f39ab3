/* SPDX-License-Identifier: MIT */
/* generation-status.h — a generation's status segments (status.h): written by the supervisor alone,
 * sealed, mapped read-only by its workers (g.http->status, g.status_groups). The server's view
 * shows every process; a status group's shows that group's slots only, so a tenant's status page
 * never carries another tenant's figures. And the reading of the scoreboards the status is made of:
 * every segment validated and its counters held to what is plausible (scoreboard.h). */
#pragma once

#include "mpm/mpm.h"
#include "supervisor/supervisor-state.h"

/* The server's segment of sg (sg->status, sg->status_ro); 0 or -errno. */
int generation_status_create(SupGeneration *sg);
/* The segments of the status groups, once the MPM's state exists (before the first fork; all or
 * nothing, a no-op when made already or without groups); 0 or -errno. */
int generation_status_groups_create(SupGeneration *sg);
/* Unmap every status segment of sg; safe on a generation with none. */
void generation_status_free(SupGeneration *sg);
/* Publish scores (per slot, validated this pass) to the server's segment and each group's. */
void generation_status_publish(SupGeneration *sg, const ProcessScore *scores);

/* A worker of sg exited and is not reaped yet (its sd-event child handler runs before the loop reaps
 * it): add its CPU time, and its children's, to what the status page counts (sg->sup->reaped_cpu).
 * pid is the supervisor's record of the process (ProcessSlot.pid, siginfo), never a scoreboard's. */
void generation_status_reaped(SupGeneration *sg, pid_t pid);

/* Read slot's segment into ps: validated, its counters clamped to what is plausible (a process that
 * reports the implausible is logged once). ps->valid false: the segment failed validation. */
void generation_read_slot(SupGeneration *sg, unsigned slot, usec_t now, ProcessScore *ps);
/* Read every slot of sg into scores (n_procs entries) and sum them up in v. */
void generation_scoreboard_view(SupGeneration *sg, ScoreboardView *v, ProcessScore *scores, usec_t now);
/* Tell systemd (STATUS=) what the serving generation does. */
void supervisor_update_status(Supervisor *s);

/* The node's state (drained, stopping: status.h) written into every status segment of every
 * generation now, not at the next tick: a health check right after `mpmctl drain` or a stop sees
 * it, and a stopping supervisor publishes nothing else. */
void supervisor_publish_node_state(Supervisor *s);
