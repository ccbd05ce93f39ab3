/* SPDX-License-Identifier: MIT */
/* config-auth.c — the configuration check of the AuthUserFile files (config-auth.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/access.h"
#include "http/htpasswd.h"
#include "shared/macro.h"
#include "shared/strv.h"
#include "supervisor/config-auth.h"
#include "supervisor/config.h"

/* Each file once, however many sections name it (seen: the paths checked so far). */
static void check_site(Loader *l, const char *label, const HttpSiteConfig *site, char ***seen) {
        for (size_t i = 0; i < 1 + site->locations.n; i++) {
                const HttpSiteConfig *cfg = i == 0 ? site : site->locations.items[i - 1].cfg;
                const HttpAuthUserFile *f = &cfg->access.user_file;
                _cleanup_(http_htpasswd_table_freep) HttpHtpasswdTable *t = NULL;
                _cleanup_free_ char *why = NULL;
                unsigned line = 0;
                int r;

                /* A vhost or a path section that inherited the file names it again: once is enough. */
                if (!f->path || strv_contains(*seen, f->path))
                        continue;
                if (strv_push(seen, f->path) < 0) {
                        l->oom = true;
                        return;
                }
                _cleanup_close_ int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (fd < 0) {
                        load_error(l, f->file, f->line, "%s AuthUserFile %s: %s", label, f->path, strerror(errno));
                        continue;
                }
                r = http_htpasswd_load_fd(fd, &t, &line, &why);
                if (r == -ENOMEM)
                        l->oom = true;
                else if (r < 0)
                        load_error(l, f->path, line, "%s%s (AuthUserFile at %s:%u)", why ? "" : "cannot read it: ",
                                   why ? why : strerror(-r), f->file, f->line);
        }
}

void auth_files_check(Loader *l) {
        _cleanup_strv_free_ char **seen = NULL;
        Config *c = l->config;

        check_site(l, "[Server]", &c->site, &seen);
        for (size_t i = 0; i < c->n_vhosts; i++) {
                ConfigVhost *v = &c->vhosts[i];
                _cleanup_free_ char *label = NULL;

                /* A perchild site's own file is not looked at with our rights: its pool's start does. */
                if (config_site_paths_are_its_own(c, v))
                        continue;
                if (asprintf(&label, "[VirtualHost %s]", v->name) < 0) {
                        l->oom = true;
                        return;
                }
                check_site(l, label, &v->site, &seen);
        }
}
