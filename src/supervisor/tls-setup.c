/* SPDX-License-Identifier: MIT */
/* tls-setup.c — the certificate store of a configuration (tls-setup.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "build-config.h"
#include "supervisor/tls-setup.h"

#if HAVE_TLS
#include "http/proxy-config.h"
#include "mpm/tls-store.h"
#include "mpm/tls-upstream.h"
#include "shared/macro.h"

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

typedef struct UpstreamBuild {
        TlsUpstreamClients *clients;
        ConfErrors *errors, *warnings;
        bool per_user; /* a per-user MPM: no parsed key in this process (tls-custody.h) */
        int r;
} UpstreamBuild;

/* The https:// targets of one section get their context from its SSLProxy* settings. */
static void build_section_upstreams(UpstreamBuild *b, const char *section, HttpSiteConfig *cfg) {
        const HttpProxyConfig *pc = &cfg->proxy;
        const ConfLine *client_cert = pc->tls_client_cert.n > 0 ? &pc->tls_client_cert.lines[0] : NULL;

        for (size_t i = 0; i < pc->pass.n && b->r != -ENOMEM; i++) {
                HttpProxyPass *p = &pc->pass.items[i];
                _cleanup_free_ char *error = NULL;

                if (p->exclude || !p->target.tls.enabled)
                        continue;
                if (!b->clients) {
                        /* Under a per-user MPM this process forks every pool: the client
                         * certificates stay sealed here, each pool loads its own sites' (key
                         * custody, tls-upstream.h). */
                        b->clients = b->per_user ? tls_upstream_clients_new_sealed() : tls_upstream_clients_new();
                        if (!b->clients) {
                                b->r = -ENOMEM;
                                return;
                        }
                }
                TlsUpstreamClientSpec spec = {
                        .ca_file = pc->tls_ca_file,
                        .verify = pc->tls_verify == HTTP_PROXY_VERIFY_REQUIRE,
                        .client_cert = client_cert,
                        .section = section,
                };
                int r = tls_upstream_clients_get(b->clients, &spec, &p->target.tls.client, &error, b->errors,
                                                 b->warnings);
                if (r == -EINVAL && error)
                        conf_errors_add(b->errors, p->file, p->line, "ProxyPass %s: %s", p->target.url, error);
                if (r < 0)
                        b->r = r;
                p->target.tls.check_peer_name = pc->tls_check_peer_name;
        }
}

static int build_upstreams(Config *c, void **ret, ConfErrors *errors, ConfErrors *warnings) {
        UpstreamBuild b = {
                .errors = errors,
                .warnings = warnings,
                .per_user = c->mpm && (c->mpm->flags & MPM_PER_USER),
        };

        build_section_upstreams(&b, "[Server]", &c->site);
        for (size_t i = 0; i < c->n_vhosts && b.r != -ENOMEM; i++) {
                _cleanup_free_ char *section = NULL;
                if (asprintf(&section, "[VirtualHost %s]", c->vhosts[i].name) < 0) {
                        section = NULL;
                        b.r = -ENOMEM;
                        break;
                }
                build_section_upstreams(&b, section, &c->vhosts[i].site);
        }
        for (size_t i = 0; i < c->n_locations && b.r != -ENOMEM; i++)
                build_section_upstreams(&b, c->locations[i].label, &c->locations[i].site);
        if (b.r != -ENOMEM) {
                /* After every context: each file is checked once, in a child, whatever else failed. */
                int k = tls_upstream_clients_check_sealed(b.clients, errors, warnings);
                if (k < 0 && b.r >= 0)
                        b.r = k;
        }
        if (b.clients)
                /* Workers inherit it from this process (they fork after the configuration is read). */
                http_upstream_set_tls(&tls_upstream_ops);
        *ret = b.clients;
        return b.r;
}

static void upstreams_free(void *clients) {
        tls_upstream_clients_free(clients);
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
        .build_upstreams = build_upstreams,
        .free_upstreams = upstreams_free,
#endif
};
