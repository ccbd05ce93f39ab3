/* SPDX-License-Identifier: MIT */
/* sandbox-families.h — which upstream socket families a process's sandbox lets it connect with
 * (SandboxPolicy.upstream_families), worked out from the configuration of the sites it serves.
 *
 * A prefork, worker or event process serves every site of its generation, so it gets what any of
 * them needs; a perchild pool serves its own sites alone (its one site, or for the default pool the
 * sites without a User), so that a site with a reverse proxy opens connect() to no other site's
 * pool. A site counts with its path sections (http_site_upstream_families(), proxy-config.h). The
 * dispatcher, the CGI launcher and the supervisor's helpers take none. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct HttpServer HttpServer;

/* The families (1u << AF_*) the upstreams of s's sites need. site_group NULL: every site; else
 * only the sites i with site_group[i] == group (a perchild pool's, site_group being its site →
 * pool table). */
uint32_t sandbox_families_of_sites(const HttpServer *s, const size_t *site_group, size_t group);
