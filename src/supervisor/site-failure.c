/* SPDX-License-Identifier: MIT */
/* site-failure.c — one site's failure stays its own: a per-user MPM's site that its generation
 * cannot serve with a pool of its own is marked failed there, keeps an older generation's pool or
 * is answered with 503 by stand-ins, and is retried with a back-off; the other sites and a reload
 * go on.
 *
 * Under a per-user MPM (perchild) a site's own paths and logs are the site's to break: a tenant can
 * put a directory, a FIFO or a dangling symlink where its CustomLog or DocumentRoot should be. That
 * must stop only that site, never the others, never a reload. So:
 *
 *  - When a generation is built, each such site's paths are opened (and its logs tried) as the site
 *    (site-open.h). A failure marks the site in that generation: g.site_failed[i] says why. The
 *    generation is still built and started for every other site.
 *  - A site's pool process that exits fatally before it became ready (MpmOps.slot_site() says
 *    whose it is) marks its site the same way; it does not stop the start, nor abandon a reload.
 *  - A failed site whose pool ran in an older generation (a reload) keeps that pool: g.site_kept[i]
 *    is set, the new generation starts no pool for it, and when the new generation takes over, the
 *    old one drains everything but that pool's slots (slot_kept), which it keeps maintaining. The
 *    shared sockets' connections reach the kept pool because the hand-off socket of a site's pool
 *    belongs to the supervisor, not to a generation (supervisor_handoff()): every generation's
 *    dispatchers send a site's connections to the same socket, read by whichever pool of that site
 *    runs. The site's dedicated sockets were always shared by the generations. A later reload
 *    that starts the site's pool retires the kept one; one that still cannot keeps it again.
 *  - A failed site without a serving older pool (the first start, or a site that never started)
 *    gets a stand-in pool: the same processes, as the site's user, that answer 503 to every request
 *    on its sockets and hand-offs (HttpSite.unavailable). Its paths are tried again with a growing
 *    back-off (the tick); once they open, the stand-ins are replaced by the real pool.
 *  - STATUS= and `mpmctl status` name every failed site and why; `mpmctl reload` answers PARTIAL
 *    (mpmctl exits 4) when some site does not run the new configuration.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/log.h"
#include "shared/macro.h"
#include "mpm/maintain.h"
#include "http/server.h"
#include "supervisor/generation-status.h"
#include "supervisor/site-failure.h"
#include "supervisor/site-paths.h"
#include "shared/strv.h"
#include "shared/time-util.h"

static bool generation_slot_is_site(const SupGeneration *sg, unsigned slot, size_t site) {
        return sg->g.ops->slot_site && sg->g.ops->slot_site(&sg->g, slot) == (int) site;
}

/* Stop site's processes in sg (stand-ins about to be replaced, or a pool another one replaces). */
static void generation_stop_site(SupGeneration *sg, size_t site, bool graceful) {
        for (unsigned i = 0; i < sg->g.n_procs; i++)
                if (generation_slot_is_site(sg, i, site)) {
                        sg->g.slot_kept[i] = false;
                        supervisor_host.stop(&sg->g, i, graceful);
                }
}

int site_failure_find_site(const SupGeneration *sg, const char *name) {
        for (size_t i = 1; i < sg->g.http->n_sites; i++)
                if (sg->g.site_users[i].user && strcmp(sg->g.http->sites[i].name, name) == 0)
                        return (int) i;
        return -1;
}

/* Does a generation other than except run a real pool (not a stand-in) for the site called name,
 * one that will go on serving? */
static bool supervisor_site_served_by_older(Supervisor *s, const SupGeneration *except, const char *name) {
        SupGeneration *gens[2] = { s->current, s->draining };

        for (size_t k = 0; k < 2; k++)
                for (SupGeneration *o = gens[k]; o; o = k == 0 ? NULL : o->next) {
                        int site = o == except ? -1 : site_failure_find_site(o, name);
                        if (site < 0 || o->g.site_failed[site] || o->g.site_kept[site])
                                continue;
                        for (unsigned i = 0; i < o->g.n_procs; i++)
                                if (generation_slot_is_site(o, i, (size_t) site) &&
                                    o->g.procs[i].state == PROCESS_RUNNING && (o == s->current || o->g.slot_kept[i]))
                                        return true;
                }
        return false;
}

/* Site of sg cannot be served by sg's own pool, for why (taken over; NULL: out of memory). */
void site_failure_mark(SupGeneration *sg, size_t site, char *why, usec_t now) {
        Supervisor *s = sg->sup;
        const char *name = sg->g.http->sites[site].name;

        free(sg->g.site_failed[site]);
        sg->g.site_failed[site] = why ? why : strdup("cannot start");
        sg->site_failures[site]++;
        sg->site_retry_at[site] = now + spawn_backoff_usec(sg->site_failures[site]);
        if (sg == s->pending && !sg->g.site_kept[site] && supervisor_site_served_by_older(s, sg, name)) {
                /* A reload: the site keeps the pool it has. */
                sg->g.site_kept[site] = true;
                generation_stop_site(sg, site, false);
                log_error("generation %u: site %s: %s; its pool of the previous configuration keeps serving it",
                          sg->g.number, name, sg->g.site_failed[site] ? sg->g.site_failed[site] : "?");
        } else if (!sg->g.site_kept[site])
                log_error("generation %u: site %s: %s; it is answered with 503, next attempt in %llu s", sg->g.number,
                          name, sg->g.site_failed[site] ? sg->g.site_failed[site] : "?",
                          (unsigned long long) (spawn_backoff_usec(sg->site_failures[site]) / USEC_PER_SEC));
        supervisor_update_status(s);
}

/* After generation_new(), once sg is current or pending: the sites whose paths could not be opened. */
void site_failure_settle(SupGeneration *sg) {
        usec_t now = now_usec(CLOCK_MONOTONIC);

        for (size_t i = 1; i < sg->g.http->n_sites; i++)
                if (sg->g.site_failed[i])
                        site_failure_mark(sg, i, TAKE_PTR(sg->g.site_failed[i]), now);
}

/* Once a second, for the serving generation: try again the sites answered by stand-ins. */
void site_failure_retry(SupGeneration *sg, usec_t now) {
        for (size_t i = 1; i < sg->g.http->n_sites && i <= sg->config->n_vhosts; i++) {
                if (!sg->g.site_failed[i] || sg->g.site_kept[i] || now < sg->site_retry_at[i])
                        continue;
                const ConfigVhost *v = &sg->config->vhosts[i - 1];
                size_t n_alias = http_site_n_dirs(&v->site);
                _cleanup_free_ int *alias = malloc(MAX(n_alias, (size_t) 1) * sizeof(int));
                char *why = NULL;
                int root = -1;
                if (!alias)
                        return;
                int r = site_paths_open_as_site(v, &sg->config->site, &root, alias, &why);
                if (r < 0) {
                        if (!why)
                                (void) asprintf(&why, "cannot act as the site's user: %s", strerror(-r));
                        site_failure_mark(sg, i, why, now);
                        continue;
                }
                http_server_site_set_dirs(sg->g.http, i, root, alias);
                log_notice("generation %u: site %s: its paths open now; starting its pool", sg->g.number, v->name);
                sg->g.site_failed[i] = mfree(sg->g.site_failed[i]);
                /* The stand-ins go; perchild starts the real pool in their slots. */
                generation_stop_site(sg, i, true);
                supervisor_update_status(sg->sup);
        }
}

/* "site a: WHY (answered with 503)" or "site a: WHY (its previous pool serves it)" for every site
 * the serving generation does not serve with a pool of its own, joined by sep; NULL when none. */
char *site_failure_describe(const Supervisor *s, const char *sep) {
        const SupGeneration *sg = s->current;
        char *out = NULL;

        for (size_t i = 1; sg && i < sg->g.http->n_sites; i++) {
                if (!sg->g.site_failed[i])
                        continue;
                char *more = NULL;
                if (asprintf(&more, "%s%ssite %s: %s (%s)", out ? out : "", out ? sep : "", sg->g.http->sites[i].name,
                             sg->g.site_failed[i],
                             sg->g.site_kept[i] ? "its previous pool serves it" : "answered with 503, retried") < 0)
                        break;
                free(out);
                out = more;
        }
        return out;
}
