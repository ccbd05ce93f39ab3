/* SPDX-License-Identifier: MIT */
/* sandbox-families.c — the upstream families of a process's sites, for its seccomp filter: the
 * one place where the configuration decides what the sandbox lets a worker connect to. */
#include "mpm/sandbox-families.h"
#include "http/proxy-config.h"
#include "http/server.h"

uint32_t sandbox_families_of_sites(const HttpServer *s, const size_t *site_group, size_t group) {
        uint32_t families = 0;

        for (size_t i = 0; s && i < s->n_sites; i++)
                if (!site_group || site_group[i] == group)
                        families |= http_site_upstream_families(s->sites[i].cfg);
        return families;
}
