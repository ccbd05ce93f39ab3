/* SPDX-License-Identifier: MIT */
/* supervisor.h — the supervisor: one sd-event loop that owns the listening sockets, the
 * generations (one loaded configuration each, with its worker processes), signals, the one-second
 * maintenance tick and the state reported to systemd.
 *
 * It never parses network bytes. Workers are forked through the spawn API it offers MPMs
 * (MpmHost); their readiness comes through a pipe, their exits through child event sources, their
 * status through scoreboard segments it maps read-only and validates. */
#pragma once

#include "supervisor/config.h"

typedef struct SupervisorOptions {
        const char *config_file;
        ConfigLoadOptions load; /* how a reload reads the configuration: as at start */
} SupervisorOptions;

/* Run until stopped; returns the process exit status. Takes ownership of config. */
int supervisor_run(const SupervisorOptions *opts, Config *config);
