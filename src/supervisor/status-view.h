/* SPDX-License-Identifier: MIT */
/* status-view.h — what the status page shows, made from the supervisor's process table and the
 * validated scoreboard: of every process (the server's view), or of one status group's only (under
 * perchild a pool's: what that pool's sites see, MpmOps.status_group). Pure: no clock, no shared
 * memory; the caller publishes the result (status.h) and adds what is not per process (CPU time,
 * the generation, the start time). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "mpm/mpm.h"
#include "http/status.h"

typedef struct StatusSource {
        const ProcessSlot *procs;   /* the generation's process table */
        const ProcessScore *scores; /* per slot, validated (and clamped) this pass */
        const int *slot_group;      /* per slot, its group (-1: none); NULL: no groups */
        unsigned n_procs;
        bool tls; /* the generation has TLS listeners: the status page shows TLSConns in ?auto */
} StatusSource;

/* Fill d's counters (the duration histogram's too), workers (and by state), processes, connections
 * and scoreboard letters (one per slot, in slot order) from the slots of group, or of every slot
 * with group < 0; retired is what the processes of that view that have exited had served. The rest
 * of d is left alone. */
void status_view_fill(HttpStatusData *d, const StatusSource *src, int group, const ProcessScore *retired);

/* The scoreboard line of `mpmctl status`: one letter per slot (scoreboard_slot_letter(), the same as
 * the status page's), as many as fit in size - 1 bytes, NUL-terminated; returns the letters written. */
size_t status_view_board(const StatusSource *src, char *buf, size_t size);
