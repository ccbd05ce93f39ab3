/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "build-config.h"
#include "http/compress.h"
#include "supervisor/cli.h"
#include "supervisor/config.h"
#include "supervisor/tls-setup.h"
#include "shared/log.h"
#include "shared/strv.h"

/* Each long option is the spelled-out short one: the switch below sees only the short letter. */
static const struct option cli_long_options[] = {
        { "config", required_argument, NULL, 'f' },
        { "define", required_argument, NULL, 'D' },
        { "test", no_argument, NULL, 't' },
        { "quiet", no_argument, NULL, 'q' },
        { "dump-vhosts", no_argument, NULL, 'S' },
        { "list-modules", no_argument, NULL, 'l' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        {}
};

/* The option getopt_long() just refused, as the user wrote it: a long one is the word itself (optopt
 * is 0 for an unknown one, the short letter for a known one misused), a short one its letter. A
 * refused long option always moves optind past itself; a short one inside a cluster does not. */
static const char *bad_option(char *argv[], int before, char buf[static 3]) {
        if (optind > before && optind > 1 && strncmp(argv[optind - 1], "--", 2) == 0)
                return argv[optind - 1];
        buf[0] = '-';
        buf[1] = (char) optopt;
        buf[2] = 0;
        return buf;
}

int cli_parse(int argc, char *argv[], CliOptions *ret) {
        CliOptions o = { .action = CLI_RUN, .config_file = DEFAULT_CONFIG_FILE };
        char buf[3];
        int c;

        optind = 0;
        opterr = 0;
        for (;;) {
                int before = optind;
                c = getopt_long(argc, argv, ":f:tqSlVhD:", cli_long_options, NULL);
                if (c < 0)
                        break;
                switch (c) {
                case 'f':
                        o.config_file = optarg;
                        break;
                case 't':
                        o.action = CLI_TEST_CONFIG;
                        break;
                case 'q':
                        o.quiet = true;
                        break;
                case 'S':
                        o.action = CLI_DUMP_VHOSTS;
                        break;
                case 'l':
                        o.action = CLI_LIST_MODULES;
                        break;
                case 'V':
                        o.action = CLI_VERSION;
                        break;
                case 'h':
                        o.action = CLI_HELP;
                        break;
                case 'D': /* NAME or NAME=VALUE, for ${NAME}; checked by config_load() */
                        if (strv_push(&o.defines, optarg) < 0) {
                                strv_free(o.defines);
                                return -ENOMEM;
                        }
                        break;
                case ':':
                        fprintf(stderr, "%smpmd: option %s needs an argument\n", log_stderr_prefix(LOG_PRI_ERR),
                                bad_option(argv, before, buf));
                        strv_free(o.defines);
                        return -EINVAL;
                default:
                        fprintf(stderr, "%smpmd: unknown option %s\n", log_stderr_prefix(LOG_PRI_ERR),
                                bad_option(argv, before, buf));
                        strv_free(o.defines);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "%smpmd: unexpected argument \"%s\"\n", log_stderr_prefix(LOG_PRI_ERR),
                        argv[optind]);
                strv_free(o.defines);
                return -EINVAL;
        }
        *ret = o;
        return 0;
}

void cli_usage(FILE *f) {
        fprintf(f,
                "Usage: mpmd [-f FILE] [-D NAME[=VALUE]]... [-t [-q]] [-S] [-l] [-V] [-h]\n"
                "  -f, --config FILE   configuration file (default %s); conf.d/*.conf beside it are read too\n"
                "  -D, --define NAME   define NAME (empty, or NAME=VALUE) for ${NAME} in the configuration\n"
                "  -t, --test          check the configuration and exit: \"Syntax OK\" or every error with file\n"
                "                      and line\n"
                "  -q, --quiet         with -t: print nothing when the configuration is good\n"
                "  -S, --dump-vhosts   show the listeners and virtual hosts of the configuration\n"
                "  -l, --list-modules  list the modules compiled in\n"
                "  -V, --version       show the version and build\n"
                "  -h, --help          show this help\n"
                "mpmd always runs in the foreground; under systemd it is socket-activated and reports its\n"
                "state with sd_notify. See mpmd(8) and mpmd.conf(5).\n",
                DEFAULT_CONFIG_FILE);
}

void cli_list_modules(FILE *f) {
        fprintf(f, "Compiled in modules:\n  core.c\n  http_core.c\n  mod_static.c\n  mod_status.c\n");
        if (supervisor_tls_version())
                fprintf(f, "  mod_tls.c\n"); /* HTTPS, with OpenSSL */
        if (!mpm_builtin[0])
                fprintf(f, "  mod_so.c\n"); /* the MPM comes from LoadModule */
        for (const MpmOps *const *m = mpm_builtin; *m; m++)
                fprintf(f, "  %s.c\n", (*m)->name);
}

void cli_version(FILE *f) {
        const MpmOps *m = mpm_find_builtin(BUILD_MPM);
        unsigned flags = m ? m->flags : 0;

        fprintf(f, "Server version: mpmd/%s (Linux)\n", PACKAGE_VERSION);
        fprintf(f, "Server built:   %s %s\n", __DATE__, __TIME__);
        fprintf(f, "Server MPM:     %s\n", m ? m->name : "(loaded at run time)");
        fprintf(f, "  threaded:     %s\n", flags & MPM_THREADED ? "yes (fixed thread count)" : "no");
        fprintf(f, "    forked:     %s\n", flags & MPM_FORKED ? "yes (variable process count)" : "no");
        /* The library mpmd runs with, which may be newer than the one it was built with. */
        fprintf(f, "TLS: %s\n", supervisor_tls_version() ? supervisor_tls_version() : "none (built without)");
        fprintf(f, "zlib: %s\n", http_gzip_library_version());
        fprintf(f, "Server compiled with....\n");
        fprintf(f, " -D DEFAULT_CONFIG_FILE=\"%s\"\n", DEFAULT_CONFIG_FILE);
        fprintf(f, " -D MODULEDIR=\"%s\"\n", MODULEDIR);
        fprintf(f, " -D MIME_TYPES_FILE=\"%s\"\n", MIME_TYPES_FILE);
        fprintf(f, " -D MPM_MAGIC_NUMBER=%u\n", MPM_MAGIC_NUMBER);
}

static void dump_site(FILE *f, const char *label, const HttpSiteConfig *site) {
        fprintf(f, "%s %s\n", label, site->server_name ? site->server_name : "(no ServerName)");
        fprintf(f, "         DocumentRoot: %s\n", site->document_root ? site->document_root : "(none)");
        STRV_FOREACH(a, site->server_alias)
                fprintf(f, "         alias %s\n", *a);
}

/* The path sections of the site named vhost (NULL: the main server), in the order they were read. */
static void dump_locations(FILE *f, const Config *c, const char *vhost) {
        for (size_t i = 0; i < c->n_locations; i++) {
                const ConfigLocation *loc = &c->locations[i];
                if (!loc->vhost != !vhost || (vhost && strcasecmp(loc->vhost, vhost) != 0))
                        continue;
                fprintf(f, "         path %s (%s:%u)\n", loc->prefix, loc->source.file, loc->source.line);
        }
}

void cli_dump_vhosts(FILE *f, const Config *c) {
        fprintf(f, "Listeners:\n");
        STRV_FOREACH(l, c->listen)
                fprintf(f, "  %s\n", *l);
        for (size_t i = 0; i < c->n_vhosts; i++)
                STRV_FOREACH(l, c->vhosts[i].listen)
                        fprintf(f, "  %s (only virtual host %s)\n", *l, c->vhosts[i].name);
        dump_site(f, "Main server:", &c->site);
        dump_locations(f, c, NULL);
        fprintf(f, "VirtualHost configuration:\n");
        if (c->n_vhosts == 0)
                fprintf(f, "  (none)\n");
        for (size_t i = 0; i < c->n_vhosts; i++) {
                const ConfigVhost *v = &c->vhosts[i];
                fprintf(f, "  [VirtualHost %s] (%s:%u)\n", v->name, v->source.file, v->source.line);
                dump_site(f, "         namevhost", &v->site);
                dump_locations(f, c, v->name);
                if (v->user)
                        fprintf(f, "         User %s Group %s\n", v->user, v->group ? v->group : v->user);
        }
        fprintf(f, "MPM: %s\n", c->mpm ? c->mpm->name : "(none)");
        fprintf(f, "User: %s  Group: %s\n", c->user ? c->user : "(the invoking user)",
                c->group ? c->group : (c->user ? c->user : "(the invoking group)"));
}
