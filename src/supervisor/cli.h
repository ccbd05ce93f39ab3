/* SPDX-License-Identifier: MIT */
/* cli.h — the mpmd command line: parsing it, and the informational actions (-t, -S, -l, -V, -h)
 * that print and exit without binding or spawning anything. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "supervisor/config.h"

typedef enum CliAction {
        CLI_RUN,
        CLI_TEST_CONFIG,  /* -t */
        CLI_DUMP_VHOSTS,  /* -S */
        CLI_LIST_MODULES, /* -l */
        CLI_VERSION,      /* -V */
        CLI_HELP,         /* -h */
} CliAction;

typedef struct CliOptions {
        CliAction action;
        const char *config_file;
        bool quiet; /* -q: -t prints only errors */
        char **defines; /* -D NAME[=VALUE], in order (ConfigLoadOptions.defines); the caller frees it */
} CliOptions;

/* Returns 0, or -EINVAL after printing what was wrong (the caller prints usage and exits 2). */
int cli_parse(int argc, char *argv[], CliOptions *ret);
void cli_usage(FILE *f);
void cli_list_modules(FILE *f);
void cli_version(FILE *f);
void cli_dump_vhosts(FILE *f, const Config *c);
