/* SPDX-License-Identifier: MIT */
/* auth-files.c — loading the AuthUserFile tables of a generation (auth-files.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/access.h"
#include "http/htpasswd.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "supervisor/auth-files.h"
#include "supervisor/site-open.h"
#include "supervisor/site-paths.h"

/* The configs of a site that may name a file: the site's own, then its path sections'. The path
 * sections' configs are the configuration's (the loader built them); their tables are filled in
 * here, the one step that writes into them. */
static size_t site_configs(HttpSiteConfig *site, HttpSiteConfig **ret, size_t max) {
        size_t n = 0;

        if (n < max)
                ret[n++] = site;
        for (size_t i = 0; i < site->locations.n && n < max; i++)
                ret[n++] = (HttpSiteConfig *) site->locations.items[i].cfg;
        return n;
}

static size_t site_config_count(const HttpSiteConfig *site) {
        return 1 + site->locations.n;
}

/* Parse the file open at fd (closed here) into cfg. 0; -EINVAL with *ret_why (malloc'd: "PATH:LINE:
 * what (AuthUserFile at CONF:LINE)"); -ENOMEM. */
static int load_fd(HttpSiteConfig *cfg, int fd, char **ret_why) {
        _cleanup_close_ int owned = fd;
        HttpAuthUserFile *f = &cfg->access.user_file;
        _cleanup_free_ char *why = NULL;
        HttpHtpasswdTable *t = NULL;
        unsigned line = 0;
        int r;

        *ret_why = NULL;
        r = http_htpasswd_load_fd(owned, &t, &line, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                char where[32] = "";
                if (line > 0)
                        snprintf(where, sizeof(where), ":%u", line);
                if (asprintf(ret_why, "%s%s: %s (AuthUserFile at %s:%u)", f->path, where, why ? why : strerror(-r),
                             f->file ? f->file : "", f->line) < 0)
                        return -ENOMEM;
                return -EINVAL;
        }
        http_htpasswd_table_free(f->table);
        f->table = t;
        return 0;
}

/* With our rights: the operator's files. */
static int load_ours(HttpSiteConfig *site, char **ret_why) {
        size_t n = site_config_count(site);
        _cleanup_free_ HttpSiteConfig **cfgs = calloc(n, sizeof(*cfgs));
        int r;

        *ret_why = NULL;
        if (!cfgs)
                return -ENOMEM;
        n = site_configs(site, cfgs, n);
        for (size_t i = 0; i < n; i++) {
                const char *path = cfgs[i]->access.user_file.path;
                if (!path)
                        continue;
                int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (fd < 0) {
                        const HttpAuthUserFile *f = &cfgs[i]->access.user_file;
                        r = -errno;
                        return asprintf(ret_why, "%s: %s (AuthUserFile at %s:%u)", path, strerror(-r), f->file, f->line) < 0
                                       ? -ENOMEM
                                       : r;
                }
                r = load_fd(cfgs[i], fd, ret_why);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* As the site's user: every file of the site opened by one helper (site_open_as), then parsed. */
static int load_as_site(const ConfigVhost *v, char **ret_why) {
        HttpSiteConfig *site = (HttpSiteConfig *) &v->site;
        size_t n = site_config_count(site), k = 0;
        _cleanup_free_ HttpSiteConfig **cfgs = calloc(n, sizeof(*cfgs));
        _cleanup_free_ SiteOpenPath *paths = calloc(n, sizeof(*paths));
        _cleanup_free_ int *fds = calloc(n, sizeof(int));
        SiteOpenFailure failure;
        int r;

        *ret_why = NULL;
        if (!cfgs || !paths || !fds)
                return -ENOMEM;
        n = site_configs(site, cfgs, n);
        for (size_t i = 0; i < n; i++)
                if (cfgs[i]->access.user_file.path) {
                        cfgs[k] = cfgs[i];
                        paths[k++] = (SiteOpenPath) { cfgs[i]->access.user_file.path, SITE_OPEN_FILE };
                }
        if (k == 0)
                return 0;
        SiteIdentity id = { .user = v->user, .uid = v->uid, .gid = v->gid };
        r = site_open_as(&id, paths, k, fds, &failure);
        if (r < 0 && failure.index >= k)
                return log_error_errno(r, "Cannot take the identity of virtual host %s (user %s) to open its AuthUserFile: %m",
                                       v->name, v->user);
        if (r < 0) {
                const HttpAuthUserFile *f = &cfgs[failure.index]->access.user_file;
                return asprintf(ret_why, "%s: cannot open it as user %s: %s (AuthUserFile at %s:%u)", f->path, v->user,
                                strerror(-r), f->file, f->line) < 0
                               ? -ENOMEM
                               : -EINVAL;
        }
        for (size_t i = 0; i < k; i++) {
                /* Each descriptor is taken by load_fd(), also after a failure of an earlier one. */
                int q = r < 0 ? (close(fds[i]), 0) : load_fd(cfgs[i], fds[i], ret_why);
                if (q < 0)
                        r = q;
        }
        return r < 0 ? r : 0;
}

int auth_files_load(SupGeneration *sg) {
        Config *c = sg->config;
        char *why = NULL;
        int r;

        r = load_ours(&c->site, &why);
        if (r < 0 && why) {
                log_error("%s", why);
                free(why);
                return -EINVAL;
        }
        if (r < 0)
                return log_error_errno(r, "Cannot load the AuthUserFile of the main server: %m");
        for (size_t i = 0; i < c->n_vhosts; i++) {
                ConfigVhost *v = &c->vhosts[i];
                bool own = site_paths_are_its_own(c, v);

                r = own ? load_as_site(v, &why) : load_ours(&v->site, &why);
                if (r < 0 && !why)
                        return r == -ENOMEM ? log_error_errno(r, "Cannot load an AuthUserFile: %m") : r;
                if (r < 0 && !own) {
                        log_error("[VirtualHost %s] %s", v->name, why);
                        free(why);
                        return -EINVAL;
                }
                if (r < 0) {
                        /* The site's own file: its own failure, as with its other paths. */
                        log_error("[VirtualHost %s] %s; the site's pool cannot start", v->name, why);
                        if (!sg->g.site_failed[1 + i])
                                sg->g.site_failed[1 + i] = why;
                        else
                                free(why);
                        why = NULL;
                }
        }
        return 0;
}

/* ---- in a forked worker ------------------------------------------------------------------------ */

static void forget_config(const Config *c) {
        http_access_forget_tables(&c->site);
        for (size_t i = 0; i < c->n_vhosts; i++)
                http_access_forget_tables(&c->vhosts[i].site);
}

static void forget_generations(const Supervisor *s, const SupGeneration *own) {
        const SupGeneration *gens[2] = { s->current, s->pending };

        for (size_t i = 0; i < ELEMENTSOF(gens); i++)
                if (gens[i] && gens[i] != own)
                        forget_config(gens[i]->config);
        for (const SupGeneration *g = s->draining; g; g = g->next)
                if (g != own)
                        forget_config(g->config);
}

void auth_files_forget_other_generations(const SupGeneration *own) {
        forget_generations(own->sup, own);
}

void auth_files_forget_all(const Supervisor *s) {
        forget_generations(s, NULL);
}
