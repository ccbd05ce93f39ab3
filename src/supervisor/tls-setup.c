/* SPDX-License-Identifier: MIT */
/* tls-setup.c — the certificate store of a configuration (tls-setup.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "build-config.h"
#include "supervisor/tls-setup.h"

#if HAVE_TLS
#include "mpm/tls-store.h"

static int build(const Config *c, const ConfigSource *listen_sources, struct TlsStore **ret, ConfErrors *errors,
                 ConfErrors *warnings) {
        size_t n = 1 + c->n_vhosts;
        TlsStoreSite *sites = calloc(n, sizeof(TlsStoreSite));
        char **sections = calloc(n, sizeof(char *));
        int r = 0;

        if (!sites || !sections) {
                r = -ENOMEM;
                goto finish;
        }
        sites[0] = (TlsStoreSite){
                .name = c->site.server_name,
                .section = "[Server]",
                .cfg = &c->site,
                .listen_file = listen_sources[0].file,
                .listen_line = listen_sources[0].line,
        };
        for (size_t i = 0; i < c->n_vhosts; i++) {
                const ConfigVhost *v = &c->vhosts[i];

                if (asprintf(&sections[1 + i], "[VirtualHost %s]", v->name) < 0) {
                        sections[1 + i] = NULL;
                        r = -ENOMEM;
                        goto finish;
                }
                sites[1 + i] = (TlsStoreSite){
                        .name = v->name,
                        .section = sections[1 + i],
                        .cfg = &v->site,
                        .listen = v->listen,
                        .listen_file = listen_sources[1 + i].file,
                        .listen_line = listen_sources[1 + i].line,
                };
        }
        /* Under a per-user MPM this process forks every site's pool: it must never hold a parsed
         * key, so the store is sealed (tls-store.h, key custody) and checked in a child. */
        if (c->mpm && (c->mpm->flags & MPM_PER_USER))
                r = tls_store_new_sealed(sites, n, c->listen, ret, errors, warnings);
        else
                r = tls_store_new(sites, n, c->listen, ret, errors, warnings);
finish:
        for (size_t i = 0; sections && i < n; i++)
                free(sections[i]);
        free(sections);
        free(sites);
        return r;
}

static struct TlsStore *store_free(struct TlsStore *s) {
        return tls_store_free(s);
}

const char *supervisor_tls_version(void) {
        return tls_library_version();
}
#else
const char *supervisor_tls_version(void) {
        return NULL;
}
#endif

const ConfigTls supervisor_tls = {
#if HAVE_TLS
        .build = build,
        .free = store_free,
#endif
};
