/* SPDX-License-Identifier: MIT */
/* auth-files.h — the AuthUserFile tables of a configuration (http/access.h, http/htpasswd.h): read
 * and parsed when a generation is built, never per request, into every config that names a file
 * (a site's and each of its path sections'). A perchild site's own file (the site has a User of its
 * own) is opened as that user (site-open.h), so the site can only ever show us what it may read
 * itself; any other file is the operator's and opened with our rights.
 *
 * A broken file of the operator's stops the generation (a reload then keeps the running one); a
 * perchild site's own broken file is that site's failure (its pool does not start, the others do),
 * as with its other paths (site-paths.h). `mpmd -t` parses every file that is not a perchild site's
 * own (config-auth.h), with the password file's line in the error. */
#pragma once

#include "supervisor/supervisor-state.h"

/* Load the tables of sg->config's sites. 0, or -errno (logged) when the generation cannot start. */
int auth_files_load(SupGeneration *sg);

/* In a worker just forked from the supervisor: wipe the tables of every generation but own, which
 * the supervisor still holds for their own workers (a reload's new pools must not carry the
 * previous generation's hashes of other sites; own's foreign sites are perchild's to forget). */
void auth_files_forget_other_generations(const SupGeneration *own);

/* In a CGI launcher: it verifies no password, so it keeps no generation's tables (under perchild it
 * runs as a site's user, next to that site's programs). */
void auth_files_forget_all(const Supervisor *s);
