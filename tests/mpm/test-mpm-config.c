/* SPDX-License-Identifier: MIT */
/* Each MPM's directives after its check_config(): Apache's defaults, and Apache's clamping rules
 * with a warning that says what is really in force. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/conf-table.h"
#include "mpm/mpm.h"

extern const MpmOps mpm_prefork_module, mpm_worker_module, mpm_event_module;

typedef struct ClampCase {
        const char *mpm;
        const char *set;    /* "Key=value Key=value" */
        const char *expect; /* "Key=value …" after check_config() */
        const char *warning; /* a substring of the one warning expected; NULL: no warning */
} ClampCase;

static const MpmOps *ops_of(const char *name) {
        if (strcmp(name, "prefork") == 0)
                return &mpm_prefork_module;
        if (strcmp(name, "worker") == 0)
                return &mpm_worker_module;
        return &mpm_event_module;
}

static uint32_t value_of(const MpmOps *ops, const void *config, const char *key) {
        const ConfItem *item = conf_table_find(ops->directives, key);
        cr_assert_not_null(item, "%s has no %s", ops->name, key);
        return *(const uint32_t *) ((const char *) config + item->offset);
}

/* Apply "K=V K=V" to config; each must be accepted by the table. */
static void apply(const MpmOps *ops, void *config, const char *list) {
        char *copy = strdup(list), *save = NULL;

        for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
                char *eq = strchr(w, '=');
                char *error = NULL;
                cr_assert_not_null(eq);
                *eq = 0;
                const ConfItem *item = conf_table_find(ops->directives, w);
                cr_assert_not_null(item, "%s has no %s", ops->name, w);
                cr_assert_eq(conf_item_apply(item, config, eq + 1, true, &error), 0, "%s=%s: %s", w, eq + 1,
                             error ? error : "");
                free(error);
        }
        free(copy);
}

static const ClampCase cases[] = {
        /* Defaults stand as they are. */
        { "prefork", "", "StartServers=5 MinSpareServers=5 MaxSpareServers=10 ServerLimit=256 MaxRequestWorkers=256",
          NULL },
        { "worker", "", "StartServers=3 ServerLimit=16 ThreadsPerChild=25 ThreadLimit=64 MinSpareThreads=75 "
          "MaxSpareThreads=250 MaxRequestWorkers=400", NULL },
        /* prefork */
        { "prefork", "ServerLimit=10 MaxRequestWorkers=50", "MaxRequestWorkers=10", "lowering it to 10" },
        { "prefork", "MinSpareServers=8 MaxSpareServers=8", "MaxSpareServers=9", "raising it to 9" },
        { "prefork", "StartServers=40 MaxRequestWorkers=20", "StartServers=20", "lowering it to 20" },
        /* worker */
        { "worker", "ThreadsPerChild=100 ThreadLimit=64 MaxRequestWorkers=640", "ThreadsPerChild=64 MaxRequestWorkers=640",
  "lowering it" },
        { "worker", "ThreadsPerChild=25 MaxRequestWorkers=10 StartServers=1", "MaxRequestWorkers=25", "raising it to 25" },
        { "worker", "ThreadsPerChild=25 MaxRequestWorkers=110", "MaxRequestWorkers=100", "lowering it to 100" },
        { "worker", "ServerLimit=2 ThreadsPerChild=25 MaxRequestWorkers=400 StartServers=2", "MaxRequestWorkers=50",
          "lowering it to 50" },
        { "worker", "MinSpareThreads=75 MaxSpareThreads=80 ThreadsPerChild=25", "MaxSpareThreads=100",
          "raising it to 100" },
        { "worker", "StartServers=10 ThreadsPerChild=25 MaxRequestWorkers=100", "StartServers=4",
          "lowering it to 4" },
        /* event */
        { "event", "StartServers=20 ServerLimit=4", "StartServers=4", "lowering it to 4" },
        { "event", "StartServers=2 ServerLimit=4", "StartServers=2", NULL },
};

static void check_case(const ClampCase *c) {
        const MpmOps *ops = ops_of(c->mpm);
        void *config = calloc(1, ops->config_size);
        ConfErrors errors = {}, warnings = {};

        cr_assert_eq(conf_table_defaults(ops->directives, config), 0);
        apply(ops, config, c->set);
        cr_assert_eq(ops->check_config(config, &errors, &warnings), 0);
        cr_assert_eq(errors.n, 0);

        char *copy = strdup(c->expect), *save = NULL;
        for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
                char *eq = strchr(w, '=');
                *eq = 0;
                cr_assert_eq(value_of(ops, config, w), strtoul(eq + 1, NULL, 10), "%s [%s] %s: %u, expected %s",
                             c->mpm, c->set, w, value_of(ops, config, w), eq + 1);
        }
        free(copy);
        if (c->warning) {
                cr_assert_eq(warnings.n, 1, "%s [%s]: %zu warnings", c->mpm, c->set, warnings.n);
                cr_assert(strstr(warnings.msgs[0], c->warning), "%s", warnings.msgs[0]);
                cr_assert(strncmp(warnings.msgs[0], "[", 1) == 0, "names its section: %s", warnings.msgs[0]);
        } else
                cr_assert_eq(warnings.n, 0, "%s [%s]: %s", c->mpm, c->set, warnings.n ? warnings.msgs[0] : "");
        conf_errors_done(&errors);
        conf_errors_done(&warnings);
        conf_table_free(ops->directives, config);
        free(config);
}

/* A loop rather than a parameterized test: criterion runs each parameter in a new process, where
 * pointers to these strings would not hold. */
Test(mpm_config, clamp) {
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                check_case(&cases[i]);
}
