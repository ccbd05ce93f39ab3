/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the configuration loader. The input becomes mpmd.conf in a private folder
 * (after a line "#--conf.d--" the rest becomes conf.d/10-fuzz.conf, so merging is fuzzed too) and
 * config_load() reads it as mpmd -t would, without touching the filesystem beyond it or loading
 * modules. It must never crash or leak; a failure must come with at least one error, a success
 * with a complete Config that config_check_reload() finds identical to itself.
 *
 * The built-in MPM is a small stand-in with the shape of a real one (a section of its own, a
 * restart-only key, a check that rejects and one that clamps), so that the fuzzer links only the
 * loader and not the supervisor and MPM code that mpm.c would drag in. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/config.h"
#include "mpm/mpm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct FakeMpmConfig {
        uint32_t start_servers;
        uint32_t server_limit;
        usec_t idle_timeout;
        bool spare;
} FakeMpmConfig;

#define FAKE(field) offsetof(FakeMpmConfig, field)

static const ConfItem fake_directives[] = {
        { "StartServers", CONF_UINT, FAKE(start_servers), "2", 0, 1024, .expect = "a number from 0 to 1024" },
        { "ServerLimit", CONF_UINT, FAKE(server_limit), "16", 1, 1024, .flags = CONF_RESTART_ONLY,
          .expect = "a number from 1 to 1024" },
        { "IdleTimeout", CONF_USEC, FAKE(idle_timeout), "10", 0, 3600 * USEC_PER_SEC, .expect = "a time" },
        { "Spare", CONF_BOOL, FAKE(spare), "On", .expect = "On or Off" },
        CONF_TABLE_END,
};

static int fake_check_config(void *config, ConfErrors *errors, ConfErrors *warnings) {
        FakeMpmConfig *c = config;

        if (c->server_limit < 2 && !c->spare) {
                conf_errors_add(errors, NULL, 0, "[event] ServerLimit: 2 or more without Spare");
                return -EINVAL;
        }
        if (c->start_servers > c->server_limit) {
                conf_errors_add(warnings, NULL, 0, "[event] StartServers: clamped to ServerLimit");
                c->start_servers = c->server_limit;
        }
        return 0;
}

static const MpmOps fake_mpm = {
        .name = "event",
        .magic = MPM_MAGIC_NUMBER,
        .flags = MPM_FORKED,
        .directives = fake_directives,
        .config_size = sizeof(FakeMpmConfig),
        .check_config = fake_check_config,
};

/* What src/mpm/mpm.c provides in the real binary. */
const MpmOps *const mpm_builtin[] = { &fake_mpm, NULL };

const MpmOps *mpm_find_builtin(const char *name) {
        for (const MpmOps *const *m = mpm_builtin; *m; m++)
                if (strcmp((*m)->name, name) == 0)
                        return *m;
        return NULL;
}

static char dir[PATH_MAX], main_file[PATH_MAX + 16], confd[PATH_MAX + 16], confd_file[PATH_MAX + 32];

static void setup(void) {
        /* TMPDIR: run-fuzzer points it at a folder it removes afterwards. */
        const char *tmp = getenv("TMPDIR");

        snprintf(dir, sizeof(dir), "%s/mpmd-fuzz-config-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
        if (!mkdtemp(dir))
                abort();
        snprintf(main_file, sizeof(main_file), "%s/mpmd.conf", dir);
        snprintf(confd, sizeof(confd), "%s/conf.d", dir);
        snprintf(confd_file, sizeof(confd_file), "%s/10-fuzz.conf", confd);
        if (mkdir(confd, 0700) < 0)
                abort();
}

static void write_file(const char *path, const uint8_t *data, size_t size) {
        FILE *f = fopen(path, "we");

        if (!f)
                abort();
        if (size > 0 && fwrite(data, 1, size, f) != size)
                abort();
        if (fclose(f) != 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char marker[] = "\n#--conf.d--\n";
        const ConfigLoadOptions opts = {
                .builtin_mpm = &fake_mpm,
                .load_modules = false,
                .check_filesystem = false,
        };
        ConfErrors errors = {}, warnings = {}, reload = {};
        Config *c = NULL;

        if (!dir[0])
                setup();

        const uint8_t *split = memmem(data, size, marker, strlen(marker));
        if (split) {
                size_t head = (size_t) (split - data) + 1;
                write_file(main_file, data, head);
                write_file(confd_file, split + strlen(marker), size - head - (strlen(marker) - 1));
        } else {
                write_file(main_file, data, size);
                (void) unlink(confd_file);
        }

        int r = config_load(main_file, &opts, &c, &errors, &warnings);
        if (r < 0) {
                /* A refusal always says why. */
                if (c || errors.n == 0 || !errors.msgs || !errors.msgs[0] || !errors.msgs[0][0])
                        abort();
        } else {
                if (r != 0 || !c || c->mpm != &fake_mpm || !c->mpm_config)
                        abort();
                if (config_check_reload(c, c, &reload) != 0 || reload.n != 0)
                        abort();
        }
        for (size_t i = 0; i < errors.n; i++)
                if (!errors.msgs[i])
                        abort();

        config_free(c);
        conf_errors_done(&errors);
        conf_errors_done(&warnings);
        conf_errors_done(&reload);
        return 0;
}
