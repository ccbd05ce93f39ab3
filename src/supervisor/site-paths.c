/* SPDX-License-Identifier: MIT */
/* site-paths.c — whose rights open a site's paths when a generation is built: under a per-user MPM
 * with a root supervisor, a site with a User of its own has its DocumentRoot, ScriptAlias and Alias
 * directories and log files opened as that user (site-open.h); a failure is the site's own and
 * marks it failed instead of stopping the generation. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/access-log.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "http/server.h"
#include "supervisor/site-open.h"
#include "supervisor/site-paths.h"
#include "shared/strv.h"

/* A per-user MPM's site with a User of its own: its paths are the site's to change, so a root
 * supervisor opens them only as that user (site-open.h). Otherwise they are the operator's, opened
 * with the supervisor's rights as they always were. */
bool site_paths_are_its_own(const Config *config, const ConfigVhost *v) {
        return (config->mpm->flags & MPM_PER_USER) && v->user && geteuid() == 0;
}

/* Open v's DocumentRoot, ScriptAlias and Alias directories as its user, and try its own log files
 * the same way (its pool opens them, as the site). Returns 0 with *ret_root and ret_alias[] (the
 * directories of http_site_n_dirs(), in its order) set; or -errno with *ret_why (malloc'd) saying which of the site's paths failed
 * and why: the site's own failure; or -errno with *ret_why NULL when we could not act as the site at
 * all (logged). */
int site_paths_open_as_site(const ConfigVhost *v, const HttpSiteConfig *main_cfg, int *ret_root, int *ret_alias,
                            char **ret_why) {
        const HttpSiteConfig *cfg = &v->site;
        size_t n_alias = http_site_n_dirs(cfg), n = 0;
        _cleanup_free_ SiteOpenPath *paths = calloc(n_alias + 3, sizeof(SiteOpenPath));
        _cleanup_free_ int *fds = calloc(n_alias + 3, sizeof(int));
        static const char *const keys[] = { [0] = "DocumentRoot", [1] = "ScriptAlias", [2] = "CustomLog",
                                            [3] = "ErrorLog", [4] = "Alias" };
        _cleanup_free_ uint8_t *key_of = calloc(n_alias + 3, 1);
        SiteOpenFailure failure;
        int r;

        *ret_why = NULL;
        if (!paths || !fds || !key_of)
                return -ENOMEM;
        if (cfg->document_root)
                paths[n++] = (SiteOpenPath) { cfg->document_root, SITE_OPEN_DIRECTORY };
        for (size_t i = 0; i < n_alias; i++) {
                key_of[n] = i < cfg->script_alias.n ? 1 : 4;
                paths[n++] = (SiteOpenPath) { http_site_dir_path(cfg, i), SITE_OPEN_DIRECTORY };
        }
        /* The files its pool will open (server-logs.c's rule: an ErrorLog of its own unless it is
         * stderr or the main server's). */
        if (cfg->custom_log.path) {
                key_of[n] = 2;
                paths[n++] = (SiteOpenPath) { cfg->custom_log.path, SITE_OPEN_LOG };
        }
        if (cfg->error_log && strcmp(cfg->error_log, "stderr") != 0 &&
            !(main_cfg->error_log && strcmp(cfg->error_log, main_cfg->error_log) == 0)) {
                key_of[n] = 3;
                paths[n++] = (SiteOpenPath) { cfg->error_log, SITE_OPEN_LOG };
        }
        SiteIdentity id = { .user = v->user, .uid = v->uid, .gid = v->gid };
        r = site_open_as(&id, paths, n, fds, &failure);
        if (r < 0 && failure.index >= n)
                /* Not the site's doing: we cannot take its identity (a missing capability, …). */
                return log_error_errno(r, "Cannot take the identity of virtual host %s (user %s) to open its paths%s%s%s: %m",
                                       v->name, v->user, failure.step[0] ? ": sandbox step \"" : "", failure.step,
                                       failure.step[0] ? "\" failed" : "");
        if (r < 0) {
                const SiteOpenPath *f = &paths[failure.index];
                if (asprintf(ret_why, "%s %s: cannot open it as user %s: %s", keys[key_of[failure.index]], f->path,
                             v->user, f->kind == SITE_OPEN_LOG ? access_log_strerror(r) : strerror(-r)) < 0)
                        *ret_why = NULL;
                return *ret_why ? r : -ENOMEM;
        }
        size_t k = 0;
        *ret_root = cfg->document_root ? fds[k++] : -1;
        for (size_t i = 0; i < n_alias; i++)
                ret_alias[i] = fds[k++];
        return 0;
}

/* A site of a per-user MPM with a User of its own: its paths opened as the site. When they cannot
 * be, the site is added without them and marked failed: that is its own problem, and the others
 * still start (see "one site's failure stays its own", site-failure.c). */
int site_paths_add_site(SupGeneration *sg, size_t site, const ConfigVhost *v) {
        size_t n_alias = http_site_n_dirs(&v->site);
        _cleanup_free_ int *alias = malloc(MAX(n_alias, (size_t) 1) * sizeof(int));
        const char *failed = NULL;
        char *why = NULL;
        int root = -1, r;

        if (!alias)
                return -ENOMEM;
        for (size_t i = 0; i < n_alias; i++)
                alias[i] = -1;
        r = site_paths_open_as_site(v, &sg->config->site, &root, alias, &why);
        if (r < 0 && !why)
                return r;
        if (r < 0) {
                log_error("%s:%u: [VirtualHost %s] %s; the site's pool cannot start", v->source.file, v->source.line,
                          v->name, why);
                sg->g.site_failed[site] = why;
        }
        r = http_server_add_site_opened(sg->g.http, v->name, &v->site, v->listen, root, alias, &failed);
        if (r < 0)
                return log_error_errno(r, "Cannot set up virtual host %s (%s): %m", v->name, failed);
        return 0;
}
