/* SPDX-License-Identifier: MIT */
/* mpmd: the supervisor's entry point. Parses the command line, loads and checks the configuration,
 * and either answers an informational option or runs the supervisor in the foreground. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "build-config.h"
#include "supervisor/cli.h"
#include "supervisor/config.h"
#include "supervisor/fd-limit.h"
#include "supervisor/listeners.h"
#include "shared/log.h"
#include "supervisor/privileges.h"
#include "supervisor/supervisor.h"
#include "supervisor/tls-setup.h"

#define EXIT_USAGE 2
/* A server start refused because of its configuration: EX_CONFIG, which systemd shows as
 * "78/CONFIG" and the units name in RestartPreventExitStatus= (restarting cannot fix it). mpmd -t
 * keeps 1 for errors, as apachectl configtest and nginx -t. */
#define EXIT_CONFIG EX_CONFIG

/* Under systemd each line carries its priority ("<3>"), so that journalctl -p err shows it. */
static void print_messages(const ConfErrors *e, int level, const char *prefix) {
        for (size_t i = 0; i < e->n; i++)
                fprintf(stderr, "%s%s%s\n", log_stderr_prefix(level), prefix, e->msgs[i]);
}

static int write_pid_file(const char *path) {
        FILE *f = fopen(path, "we");
        if (!f)
                return -errno;
        fprintf(f, "%d\n", (int) getpid());
        return fclose(f) == 0 ? 0 : -errno;
}

int main(int argc, char *argv[]) {
        static CliOptions o; /* static: the -D list it owns lives as long as the process (reloads read it) */
        Config *config = NULL;
        ConfErrors errors = {}, warnings = {};
        int r;

        if (cli_parse(argc, argv, &o) < 0) {
                cli_usage(stderr);
                return EXIT_USAGE;
        }
        switch (o.action) {
        case CLI_HELP:
                cli_usage(stdout);
                return EXIT_SUCCESS;
        case CLI_LIST_MODULES:
                cli_list_modules(stdout);
                return EXIT_SUCCESS;
        case CLI_VERSION:
                cli_version(stdout);
                return EXIT_SUCCESS;
        default:
                break;
        }

        /* Before anything is read, so that the configuration is checked (mpmd -t too) and loaded
         * with the rights the server keeps for its reloads; the soft limit before the first fork,
         * so that every process inherits it. */
        rlim_t fd_limit = RLIM_INFINITY;
        r = fd_limit_raise(&fd_limit);
        if (r < 0)
                fprintf(stderr, "%smpmd: warning: cannot read the descriptor limit (RLIMIT_NOFILE): %s\n",
                        log_stderr_prefix(LOG_PRI_WARNING), strerror(-r));
        r = privileges_restrict(true);
        if (r < 0) {
                fprintf(stderr, "%smpmd: cannot give up the privileges it does not need: %s\n",
                        log_stderr_prefix(LOG_PRI_ERR), strerror(-r));
                return EXIT_FAILURE;
        }

        ConfigLoadOptions lo = {
                .builtin_mpm = BUILD_MPM[0] ? mpm_find_builtin(BUILD_MPM) : NULL,
                .load_modules = true,
                .check_filesystem = true,
                .check_startup = o.action == CLI_TEST_CONFIG,
                .listen_is_address = listen_value_is_address,
                .defines = o.defines,
                .tls = &supervisor_tls,
        };
        r = config_load(o.config_file, &lo, &config, &errors, &warnings);
        if (r >= 0)
                fd_limit_check(config, fd_limit, &warnings);
        if (!o.quiet || r < 0)
                print_messages(&warnings, LOG_PRI_WARNING, "mpmd: warning: ");
        if (r < 0) {
                print_messages(&errors, LOG_PRI_ERR, "");
                fprintf(stderr, "%smpmd: %zu error%s in the configuration; nothing was started\n",
                        log_stderr_prefix(LOG_PRI_ERR), errors.n, errors.n == 1 ? "" : "s");
                sd_notifyf(false, "STATUS=configuration error: %s\nERRNO=%d", errors.n > 0 ? errors.msgs[0] : "",
                           EINVAL);
                conf_errors_done(&errors);
                conf_errors_done(&warnings);
                return o.action == CLI_RUN ? EXIT_CONFIG : EXIT_FAILURE;
        }
        conf_errors_done(&errors);
        conf_errors_done(&warnings);

        if (o.action == CLI_TEST_CONFIG) {
                if (!o.quiet)
                        fprintf(stderr, "Syntax OK\n");
                config_free(config);
                return EXIT_SUCCESS;
        }
        if (o.action == CLI_DUMP_VHOSTS) {
                cli_dump_vhosts(stdout, config);
                config_free(config);
                return EXIT_SUCCESS;
        }

        if (geteuid() == 0 && !config->user) {
                fprintf(stderr, "%smpmd: %s: running as root needs a User (and Group) for the workers: mpmd "
                                "never serves a request as root\n",
                        log_stderr_prefix(LOG_PRI_ERR), o.config_file);
                config_free(config);
                return EXIT_CONFIG;
        }

        log_set_max_level(config->log_level);
        r = log_open(config->site.error_log);
        if (r < 0) {
                fprintf(stderr, "%smpmd: cannot open ErrorLog %s: %s\n", log_stderr_prefix(LOG_PRI_ERR),
                        config->site.error_log, strerror(-r));
                config_free(config);
                return EXIT_FAILURE;
        }
        if (config->pid_file) {
                r = write_pid_file(config->pid_file);
                if (r < 0)
                        log_warning_errno(r, "Cannot write PidFile %s: %m", config->pid_file);
        }

        char *pid_file = config->pid_file ? strdup(config->pid_file) : NULL;
        SupervisorOptions so = { .config_file = o.config_file, .load = lo };
        r = supervisor_run(&so, config);
        if (pid_file)
                (void) unlink(pid_file);
        free(pid_file);
        return r;
}
