/* SPDX-License-Identifier: MIT */
/* site-paths.h — a per-user MPM's site with a User of its own, under a root supervisor, has its
 * paths opened as the site (site-open.h), never with the supervisor's rights: a symlink its user
 * plants leads only where that user could go. Any other site's paths are the operator's. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "supervisor/config.h"
#include "supervisor/supervisor-state.h"

/* Are v's paths opened as v's user (site_paths_add_site()) rather than with ours? */
bool site_paths_are_its_own(const Config *config, const ConfigVhost *v);
/* Open v's DocumentRoot, ScriptAlias and Alias directories as its user and try its log files: 0
 * with *ret_root and ret_alias[] (http_site_n_dirs() of them) set; -errno with *ret_why (malloc'd) when a path of the site's failed;
 * -errno with *ret_why NULL when we could not act as the site at all (logged). */
int site_paths_open_as_site(const ConfigVhost *v, const HttpSiteConfig *main_cfg, int *ret_root, int *ret_alias,
                            char **ret_why);
/* Add v to sg's server as site, its paths opened as the site; when they cannot be, without them and
 * marked failed (g.site_failed). 0, or -errno (logged) when the site cannot be added at all. */
int site_paths_add_site(SupGeneration *sg, size_t site, const ConfigVhost *v);
