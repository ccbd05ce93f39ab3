/* SPDX-License-Identifier: MIT */
/* generation-status.h — a generation's status segments (status.h): written by the supervisor alone,
 * sealed, mapped read-only by its workers (g.http->status, g.status_groups). The server's view
 * shows every process; a status group's shows that group's slots only, so a tenant's status page
 * never carries another tenant's figures. */
#pragma once

#include "mpm.h"
#include "supervisor-state.h"

/* The server's segment of sg (sg->status, sg->status_ro); 0 or -errno. */
int generation_status_create(SupGeneration *sg);
/* The segments of the status groups, once the MPM's state exists (before the first fork; all or
 * nothing, a no-op when made already or without groups); 0 or -errno. */
int generation_status_groups_create(SupGeneration *sg);
/* Unmap every status segment of sg; safe on a generation with none. */
void generation_status_free(SupGeneration *sg);
/* Publish scores (per slot, validated this pass) to the server's segment and each group's. */
void generation_status_publish(SupGeneration *sg, const ProcessScore *scores);
