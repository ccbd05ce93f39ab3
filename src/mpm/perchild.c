/* SPDX-License-Identifier: MIT */
/* perchild.c — the perchild MPM: every [VirtualHost] with User= and Group= is served by a pool of
 * processes running as that site's user, each pool an event loop (event.h); the sites without a
 * User share one default pool under [Server] User. A socket that only one pool's sites are reached
 * through belongs to that pool alone; the others (the shared sockets) are held by the dispatchers,
 * unprivileged processes that pass each connection to the pool of the site its first request
 * names (dispatch.h).
 *
 * The supervisor forks every process; child_plan() says what each slot becomes, so that before it
 * reads a byte a process holds exactly its own descriptors (a pool: its dedicated sockets, its end
 * of its hand-off socket, its own sites' DocumentRoots; a dispatcher: the shared sockets and the
 * sending end of every pool's hand-off socket) and runs under its own ids and sandbox profile.
 * In a pool every other site is foreign: a request for it gets 421 and the connection closes.
 *
 * Slots: the dispatchers first, then each pool's processes in a row. Each pool is kept at its
 * size ([perchild] StartServers, or PoolProcesses of its section); a process that ends is replaced, with a back-off per slot. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpm/dispatch.h"
#include "mpm/event.h"
#include "shared/log.h"
#include "mpm/maintain.h"
#include "mpm/mpm.h"
#include "mpm/sandbox-families.h"
#include "http/access.h"
#include "http/server-logs.h"
#include "http/server.h"
#include "mpm/site-limits.h"
#include "shared/strv.h"
#include "build-config.h"
#if HAVE_TLS
#include "mpm/tls-store.h"
#include "mpm/tls-upstream.h"
#endif

#define PERCHILD_SERVER_LIMIT_MAX 4096
#define PERCHILD_DEFAULT_POOL_ROLE "pool [Server]"

typedef struct PerchildConfig {
        uint32_t dispatchers;
        char *dispatcher_user;
        uint32_t dispatcher_connections;
        uint32_t dispatcher_connections_per_client;
        uint32_t pool_processes;
        uint32_t server_limit;
        uint32_t worker_connections;
        uint32_t max_connections_per_child;
        char *default_site; /* the [VirtualHost] that takes names no site has; NULL: 421 */
        SiteLimits limits;  /* every site's CGI limits; a [VirtualHost] overrides each key */
} PerchildConfig;

#define PC(field) offsetof(PerchildConfig, field)

static const ConfItem perchild_directives[] = {
        { "Dispatchers", CONF_UINT, PC(dispatchers), "1", 1, 64,
          .expect = "a number of dispatcher processes from 1 to 64" },
        { "DispatcherUser", CONF_STRING, PC(dispatcher_user), "mpmd-dispatch",
          .expect = "a user name (not root, not a site's user)" },
        { "DispatcherConnections", CONF_UINT, PC(dispatcher_connections), "10240", 1, 1000000,
          .expect = "a number of connections per dispatcher from 1 to 1000000" },
        { "DispatcherConnectionsPerClient", CONF_UINT, PC(dispatcher_connections_per_client), "64", 0, 1000000,
          .expect = "a number of connections from 0 (no bound) to 1000000" },
        /* Per pool; a [VirtualHost] overrides it with PoolProcesses. */
        { "StartServers", CONF_UINT, PC(pool_processes), "2", 1, 1024,
          .expect = "a number of processes per pool from 1 to 1024" },
        { "ServerLimit", CONF_UINT, PC(server_limit), "256", 1, PERCHILD_SERVER_LIMIT_MAX,
          .flags = CONF_RESTART_ONLY, .expect = "a number of processes from 1 to 4096" },
        { "WorkerConnections", CONF_UINT, PC(worker_connections), "10240", 1, 1000000,
          .expect = "a number of connections per pool process from 1 to 1000000" },
        { "MaxConnectionsPerChild", CONF_UINT, PC(max_connections_per_child), "0", 0, UINT32_MAX,
          .expect = "a number of connections, 0 for no limit" },
        { "DefaultSite", CONF_STRING, PC(default_site), NULL, .flags = CONF_SITE_NAME,
          .expect = "the NAME of a [VirtualHost NAME]" },
        /* Defaults of every site; a [VirtualHost] overrides each (site-limits.h). */
        SITE_LIMITS_ROWS(PC(limits), true),
        CONF_TABLE_END,
};

typedef struct PerchildPool {
        char role[64];        /* "pool NAME", or PERCHILD_DEFAULT_POOL_ROLE */
        const MpmSiteUser *user; /* the site's identity; NULL: the default pool ([Server] User) */
        int site;             /* the index of its one site in http->sites; -1: the default pool */
        unsigned first_slot, n_slots;
        int handoff[2];       /* [0] the dispatchers' sending end, [1] the pool's; -1 without dispatchers */
        Listener *listeners;  /* the sockets dedicated to this pool's sites */
        size_t n_listeners;
} PerchildPool;

typedef struct PerchildState {
        PerchildPool *pools; /* [0] is the default pool */
        size_t n_pools;
        size_t *site_pool;   /* per http->sites[i] */
        Listener *shared;    /* the sockets the dispatchers hold */
        size_t n_shared;
        int *send_fds;       /* handoff[0] of each pool, for the dispatchers */
        unsigned n_dispatchers;
        unsigned n_slots;    /* dispatchers + every pool's processes */
        bool change_ids;
        uid_t dispatcher_uid;
        gid_t dispatcher_gid;
} PerchildState;

static int perchild_check_config(void *config, ConfErrors *errors, ConfErrors *warnings) {
        PerchildConfig *c = config;

        if (c->dispatchers + c->pool_processes > c->server_limit) {
                conf_errors_add(errors, "[perchild]", 0,
                                "ServerLimit %u leaves no room for %u dispatcher(s) and one pool of StartServers %u",
                                c->server_limit, c->dispatchers, c->pool_processes);
                return -EINVAL;
        }
        return 0;
}

static const SiteLimits *perchild_site_limits(const void *config) {
        return &((const PerchildConfig *) config)->limits;
}

static unsigned perchild_process_limit(const void *config) {
        return ((const PerchildConfig *) config)->server_limit;
}

static unsigned perchild_workers_per_process(const void *config) {
        return 1;
}

/* Every pool's processes, each with WorkerConnections; the dispatchers only pass connections on. */
static unsigned perchild_capacity(const Generation *g) {
        const PerchildState *st = g->mpm_state;
        if (!st)
                return 0;
        return (st->n_slots - st->n_dispatchers) * ((const PerchildConfig *) g->mpm_config)->worker_connections;
}

/* ---- supervisor side ------------------------------------------------------------------------ */

static void perchild_free_state(Generation *g) {
        PerchildState *st = g->mpm_state;

        if (!st)
                return;
        /* The hand-off sockets are the supervisor's (MpmHost.handoff). */
        for (size_t i = 0; i < st->n_pools; i++)
                free(st->pools[i].listeners);
        free(st->pools);
        free(st->site_pool);
        free(st->shared);
        free(st->send_fds);
        free(st);
        g->mpm_state = NULL;
}

/* The selection rule of http_server_select(), per site: can a request on this socket reach it? A
 * socket named by some site's Listen= is dedicated to the sites that name it; the main server is
 * never reached through a dedicated socket. */
static bool site_reachable(const HttpServer *s, size_t site, const char *listener_name) {
        bool dedicated = false;

        for (size_t i = 0; i < s->n_sites && !dedicated; i++)
                dedicated = s->sites[i].listen && strv_contains(s->sites[i].listen, listener_name);
        if (s->sites[site].listen)
                return strv_contains(s->sites[site].listen, listener_name);
        return !dedicated;
}

static int perchild_plan_pools(Generation *g, const PerchildConfig *cfg, PerchildState *st) {
        const HttpServer *s = g->http;

        st->pools = calloc(s->n_sites, sizeof(PerchildPool));
        st->site_pool = calloc(s->n_sites, sizeof(size_t));
        if (!st->pools || !st->site_pool)
                return -ENOMEM;
        st->n_pools = 1;
        snprintf(st->pools[0].role, sizeof(st->pools[0].role), "%s", PERCHILD_DEFAULT_POOL_ROLE);
        st->pools[0].site = -1;
        for (size_t i = 1; i < s->n_sites; i++) {
                const MpmSiteUser *u = &g->site_users[i];
                if (!u->user)
                        continue; /* shares the default pool */
                PerchildPool *p = &st->pools[st->n_pools];
                p->user = u;
                p->site = (int) i;
                snprintf(p->role, sizeof(p->role), "pool %s", s->sites[i].name);
                st->site_pool[i] = st->n_pools++;
        }
        for (size_t i = 0; i < st->n_pools; i++) {
                PerchildPool *p = &st->pools[i];
                p->handoff[0] = p->handoff[1] = -1;
                p->n_slots = p->user && p->user->processes > 0 ? p->user->processes : cfg->pool_processes;
        }
        return 0;
}

/* A socket through which one pool's sites alone are reached goes to that pool; any other is shared. */
static int perchild_plan_listeners(Generation *g, PerchildState *st) {
        const HttpServer *s = g->http;

        st->shared = calloc(MAX(g->n_listeners, (size_t) 1), sizeof(Listener));
        for (size_t i = 0; i < st->n_pools; i++)
                st->pools[i].listeners = calloc(MAX(g->n_listeners, (size_t) 1), sizeof(Listener));
        for (size_t i = 0; i < st->n_pools; i++)
                if (!st->pools[i].listeners)
                        return -ENOMEM;
        if (!st->shared)
                return -ENOMEM;
        for (size_t l = 0; l < g->n_listeners; l++) {
                const Listener *L = &g->listeners[l];
                size_t owner = SIZE_MAX;
                bool shared = false;
                for (size_t i = 0; i < s->n_sites && !shared; i++) {
                        if (!site_reachable(s, i, L->name))
                                continue;
                        if (owner == SIZE_MAX)
                                owner = st->site_pool[i];
                        else if (owner != st->site_pool[i])
                                shared = true;
                }
                if (shared || owner == SIZE_MAX)
                        st->shared[st->n_shared++] = *L;
                else {
                        PerchildPool *p = &st->pools[owner];
                        p->listeners[p->n_listeners++] = *L;
                }
        }
        return 0;
}

static int perchild_resolve_dispatcher(const PerchildConfig *cfg, PerchildState *st) {
        struct passwd *pw;

        if (!st->change_ids)
                return 0; /* not root: every process runs as the caller */
        errno = 0;
        pw = getpwnam(cfg->dispatcher_user);
        if (!pw)
                return log_error_errno(errno > 0 ? errno : ENOENT,
                                       "[perchild] DispatcherUser %s: no such user (systemd-sysusers creates it "
                                       "from mpmd.conf in sysusers.d)",
                                       cfg->dispatcher_user);
        if (pw->pw_uid == 0 || pw->pw_gid == 0) {
                log_error("[perchild] DispatcherUser %s is root; the dispatcher never runs as root",
                          cfg->dispatcher_user);
                return -EPERM;
        }
        st->dispatcher_uid = pw->pw_uid;
        st->dispatcher_gid = pw->pw_gid;
        return 0;
}

/* On a shared socket a name no site has is not given to whichever site comes first (a tenant's
 * pool, which would get another site's visitors and their cookies): DefaultSite's, or 421. Set
 * before any fork, so that the dispatchers and every pool route alike. */
static int perchild_route_by_name(Generation *g, const PerchildConfig *cfg) {
        HttpServer *s = g->http;

        if (!cfg->default_site) {
                http_server_set_unmatched(s, SIZE_MAX);
                return 0;
        }
        for (size_t i = 1; i < s->n_sites; i++)
                if (strcmp(s->sites[i].name, cfg->default_site) == 0) {
                        http_server_set_unmatched(s, i);
                        return 0;
                }
        log_error("[perchild] DefaultSite: no [VirtualHost %s]", cfg->default_site);
        return -ENOENT;
}

static const PerchildPool *perchild_pool_of(const PerchildState *st, unsigned slot);

static int perchild_slot_site(const Generation *g, unsigned slot) {
        const PerchildState *st = g->mpm_state;
        const PerchildPool *p = st ? perchild_pool_of(st, slot) : NULL;
        return p ? p->site : -1;
}

/* The dispatchers pass connections on; the pools serve them. */
static bool perchild_slot_serves(const Generation *g, unsigned slot) {
        const PerchildState *st = g->mpm_state;
        return !st || slot >= st->n_dispatchers;
}

static bool perchild_slot_kept_elsewhere(const Generation *g, unsigned slot) {
        int site = perchild_slot_site(g, slot);
        return site >= 0 && g->site_kept && g->site_kept[site];
}

static int perchild_start(Generation *g) {
        const PerchildConfig *cfg = g->mpm_config;
        PerchildState *st = calloc(1, sizeof(*st));
        unsigned slot;
        int r;

        if (!st)
                return -ENOMEM;
        g->mpm_state = st;
        st->change_ids = geteuid() == 0;
        r = perchild_route_by_name(g, cfg);
        if (r < 0)
                return r;
        r = perchild_plan_pools(g, cfg, st);
        if (r >= 0)
                r = perchild_plan_listeners(g, st);
        if (r < 0)
                return r;
        if (st->n_shared > 0) {
                st->n_dispatchers = cfg->dispatchers;
                r = perchild_resolve_dispatcher(cfg, st);
                if (r < 0)
                        return r;
                st->send_fds = calloc(st->n_pools, sizeof(int));
                if (!st->send_fds)
                        return -ENOMEM;
                for (size_t i = 0; i < st->n_pools; i++) {
                        /* One per site's pool, the same in every generation: a site that keeps an
                         * older generation's pool (g->site_kept) gets its connections from this
                         * generation's dispatchers through it. Each end goes to one side only. */
                        r = g->host->handoff(g, st->pools[i].role, st->pools[i].handoff);
                        if (r < 0)
                                return log_error_errno(r, "Cannot create a pool's hand-off socket: %m");
                        st->send_fds[i] = st->pools[i].handoff[0];
                }
        }

        slot = st->n_dispatchers;
        for (size_t i = 0; i < st->n_pools; i++) {
                st->pools[i].first_slot = slot;
                slot += st->pools[i].n_slots;
        }
        st->n_slots = slot;
        if (st->n_slots > g->n_procs) {
                log_error("[perchild] %zu pool(s) and %u dispatcher(s) need %u processes, more than ServerLimit %u",
                          st->n_pools, st->n_dispatchers, st->n_slots, g->n_procs);
                return -E2BIG;
        }
        for (size_t i = 0; i < st->n_pools; i++)
                log_debug("perchild: %s: %u process(es), %zu socket(s) of its own", st->pools[i].role,
                          st->pools[i].n_slots, st->pools[i].n_listeners);
        log_debug("perchild: %u dispatcher(s) on %zu shared socket(s)", st->n_dispatchers, st->n_shared);
        /* A site an older generation's pool keeps serving gets no pool here (g->site_kept). */
        for (unsigned i = 0; i < st->n_slots; i++) {
                if (perchild_slot_kept_elsewhere(g, i))
                        continue;
                r = g->host->spawn(g, i);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void perchild_maintain(Generation *g, const ScoreboardView *v, usec_t now) {
        const PerchildState *st = g->mpm_state;

        if (!st)
                return;
        if (g->draining) {
                /* Only the pools it keeps for newer generations that could not start their site. */
                for (unsigned i = 0; i < st->n_slots && i < g->n_procs; i++)
                        if (g->procs[i].state == PROCESS_FREE && g->slot_kept && g->slot_kept[i])
                                (void) g->host->spawn(g, i);
                return;
        }
        /* Every slot is kept filled; the supervisor refuses a slot still backed off (-EAGAIN), which
         * holds back that slot only. */
        for (unsigned i = 0; i < st->n_slots && i < g->n_procs; i++)
                if (g->procs[i].state == PROCESS_FREE && !perchild_slot_kept_elsewhere(g, i))
                        (void) g->host->spawn(g, i);
}

static const PerchildPool *perchild_pool_of(const PerchildState *st, unsigned slot) {
        for (size_t i = 0; i < st->n_pools; i++)
                if (slot >= st->pools[i].first_slot && slot < st->pools[i].first_slot + st->pools[i].n_slots)
                        return &st->pools[i];
        return NULL;
}

/* Status groups: one per pool (the dispatchers are in none), so that a site's status page shows
 * its own pool only. */
static unsigned perchild_status_groups(const Generation *g) {
        const PerchildState *st = g->mpm_state;
        return st ? (unsigned) st->n_pools : 0;
}

static int perchild_status_group(const Generation *g, unsigned slot) {
        const PerchildState *st = g->mpm_state;
        const PerchildPool *p = st && slot < st->n_slots ? perchild_pool_of(st, slot) : NULL;
        return p ? (int) (p - st->pools) : -1;
}

static int plan_keep(MpmChildPlan *plan, int fd) {
        if (fd < 0)
                return 0;
        if (plan->n_keep_fds >= ELEMENTSOF(plan->keep_fds))
                return -E2BIG;
        plan->keep_fds[plan->n_keep_fds++] = fd;
        return 0;
}

#if HAVE_TLS
/* Does the site's section, or one of its path sections, name path as SSLProxyMachineCertificateFile? */
static bool site_names_client_cert(const HttpSiteConfig *cfg, const char *path) {
        const ConfLines *l = &cfg->proxy.tls_client_cert;

        if (l->n > 0 && strcmp(l->lines[0].value, path) == 0)
                return true;
        for (size_t i = 0; i < cfg->locations.n; i++) {
                l = &cfg->locations.items[i].cfg->proxy.tls_client_cert;
                if (l->n > 0 && strcmp(l->lines[0].value, path) == 0)
                        return true;
        }
        return false;
}

typedef struct PoolSites {
        const Generation *g;
        const PerchildState *st;
        const PerchildPool *pool;
} PoolSites;

/* Is path the client certificate of one of the pool's own sites? */
static bool pool_names_client_cert(const char *path, void *userdata) {
        const PoolSites *p = userdata;
        const HttpServer *s = p->g->http;

        for (size_t i = 0; i < s->n_sites; i++)
                if (&p->st->pools[p->st->site_pool[i]] == p->pool && site_names_client_cert(s->sites[i].cfg, path))
                        return true;
        return false;
}
#endif

static int perchild_child_plan(const Generation *g, unsigned slot, MpmChildPlan *plan) {
        const PerchildState *st = g->mpm_state;
        int r = 0;

        if (!st || slot >= st->n_slots)
                return -EINVAL;
        plan->keep_listeners = false;
        plan->keep_site_roots = false;
        plan->n_keep_fds = 0;
        /* Both loops read SIGUSR1 with their stop signals: a pool reopens its own logs there, which
         * a signal handler could not do safely. */
        plan->reopen_in_loop = true;

        if (slot < st->n_dispatchers) {
                plan->role = "dispatcher";
                plan->keep_logs = false;
                plan->cgi_fd = -1; /* it never runs a program, nor asks for one */
                plan->policy.profile = SANDBOX_PROFILE_DISPATCHER;
                plan->policy.upstream_families = 0; /* it passes connections on, to no upstream */
                if (st->change_ids) {
                        plan->policy.uid = st->dispatcher_uid;
                        plan->policy.gid = st->dispatcher_gid;
                        plan->policy.user_name = ((const PerchildConfig *) g->mpm_config)->dispatcher_user;
                }
                for (size_t i = 0; i < st->n_shared && r >= 0; i++)
                        r = plan_keep(plan, st->shared[i].fd);
                for (size_t i = 0; i < st->n_pools && r >= 0; i++)
                        r = plan_keep(plan, st->pools[i].handoff[0]);
                return r;
        }

        const PerchildPool *p = perchild_pool_of(st, slot);
        if (!p)
                return -EINVAL;
        plan->role = p->role;
        plan->policy.profile = SANDBOX_PROFILE_POOL;
        /* Its own sites' upstreams only: another site's proxy opens no connect() here. */
        plan->policy.upstream_families = sandbox_families_of_sites(g->http, st->site_pool, (size_t) (p - st->pools));
        /* The default pool writes the logs the supervisor opened (those of the sites without a User
         * of their own, and only those: see generation_new); a site's own pool opens its own. */
        plan->keep_logs = p->user == NULL;
        /* The generation's CGI launcher runs as the server's User, for the default pool; a site's
         * own pool sends to the launcher that runs as the site's user (set below), never to one
         * that runs as someone else. */
        plan->cgi_fd = p->user == NULL ? g->cgi_fd : -1;
        if (p->user && st->change_ids) {
                plan->policy.uid = p->user->uid;
                plan->policy.gid = p->user->gid;
                plan->policy.user_name = p->user->user;
        }
        for (size_t i = 0; i < p->n_listeners && r >= 0; i++)
                r = plan_keep(plan, p->listeners[i].fd);
        if (r >= 0)
                r = plan_keep(plan, p->handoff[1]);
        for (size_t i = 0; i < g->http->n_sites && r >= 0; i++) {
                const HttpSite *site = &g->http->sites[i];
                if (&st->pools[st->site_pool[i]] != p)
                        continue;
                if (p->user && g->site_cgi_fds && g->site_cgi_fds[i] >= 0)
                        plan->cgi_fd = g->site_cgi_fds[i];
                r = plan_keep(plan, site->root_fd);
#if HAVE_TLS
                /* Its own sites' certificates and keys, and no one else's (key custody, tls-store.h). */
                if (r >= 0)
                        r = plan_keep(plan, tls_store_material_fd(g->tls_sealed, i));
#endif
                for (size_t j = 0; j < site->n_script_alias_fds && r >= 0; j++)
                        r = plan_keep(plan, site->script_alias_fds[j]);
                for (size_t j = 0; j < site->n_alias_fds && r >= 0; j++)
                        r = plan_keep(plan, site->alias_fds[j]);
        }
#if HAVE_TLS
        /* The client certificates to upstreams its own sites name, and no one else's. */
        PoolSites mine = {.g = g, .st = st, .pool = p};
        const char *path;
        int fd;
        for (size_t i = 0; r >= 0 && tls_upstream_clients_sealed_file(g->tls_upstreams, i, &path, &fd); i++)
                if (fd >= 0 && pool_names_client_cert(path, &mine))
                        r = plan_keep(plan, fd);
#endif
        return r;
}

/* ---- child side ----------------------------------------------------------------------------- */

/* A pool keeps its own pool's status segment only, shown to its sites; the default pool also keeps
 * the server's, shown to the main server alone ([Server], the operator's own site). mine NULL: a
 * dispatcher, which shows none. */
static void perchild_status_select(const Generation *g, const PerchildState *st, const PerchildPool *mine) {
        HttpServer *s = g->http;
        int group = mine ? (int) (mine - st->pools) : -1;
        const struct HttpStatusData *own = group >= 0 && (unsigned) group < g->n_status_groups
                                                   ? g->status_groups[group]
                                                   : NULL;

        mpm_status_keep(g, group, mine == &st->pools[0]);
        for (size_t i = 1; i < s->n_sites; i++)
                s->sites[i].status = mine && &st->pools[st->site_pool[i]] == mine ? own : NULL;
}

/* What this process does not own is gone already (closed before the sandbox), and its number may
 * be reused: a foreign site's root becomes a descriptor of /dev/null, under which no path resolves
 * (ENOTDIR). Not -1: whether the main server has a DocumentRoot is part of the selection rule,
 * which must give the same site here as in the dispatcher and the supervisor. */
static int perchild_forget_foreign(const Generation *g, const PerchildState *st, const PerchildPool *mine) {
        HttpServer *s = g->http;
        int nothing = -1;

        for (size_t i = 0; i < s->n_sites; i++) {
                bool own = mine && &st->pools[st->site_pool[i]] == mine;
                http_server_set_foreign(s, i, !own);
                if (!own)
                        /* Closed before the sandbox: forgotten, never closed again (the numbers may be
                         * reused). A foreign site's requests get 421 before any ScriptAlias or Alias. */
                        s->sites[i].n_script_alias_fds = s->sites[i].n_alias_fds = 0;
                if (!own)
                        /* Another site's password hashes are no business of this pool's. */
                        http_access_forget_tables(s->sites[i].cfg);
                if (own || s->sites[i].root_fd < 0)
                        continue;
                if (nothing < 0) {
                        nothing = open("/dev/null", O_PATH | O_CLOEXEC);
                        if (nothing < 0)
                                return log_error_errno(errno, "Cannot open /dev/null: %m");
                }
                s->sites[i].root_fd = nothing;
        }
        return 0;
}

/* Before the pool reads a byte: its own certificate store, from the sealed memfds of its own sites
 * that the supervisor let it keep (child_plan), read with the site's ids already (a descriptor
 * needs no rights to be read); the memfds closed, the rings of the other sites' ticket keys
 * unmapped. From here on the process holds its own sites' keys and no one else's. The store is
 * this process's: the generation is its own copy (the supervisor's is untouched by a fork). */
static int perchild_pool_open_tls(const Generation *g, const PerchildState *st, const PerchildPool *mine) {
#if HAVE_TLS
        _cleanup_free_ bool *own = NULL;
        ConfErrors errors = {};
        TlsStore *store = NULL;
        int r;

        if (!g->tls_sealed)
                return 0;
        own = calloc(g->http->n_sites, sizeof(bool));
        if (!own)
                return log_error_errno(ENOMEM, "%s: cannot load its certificates: %m", mine->role);
        for (size_t i = 0; i < g->http->n_sites; i++)
                own[i] = &st->pools[st->site_pool[i]] == mine;
        r = tls_store_open_pool(g->tls_sealed, g->http, own, &store, &errors);
        for (size_t i = 0; i < errors.n; i++)
                log_error("%s", errors.msgs[i]);
        conf_errors_done(&errors);
        if (r >= 0)
                r = tls_store_attach_pool_tickets(store, g->tls_sealed);
        if (r < 0) {
                tls_store_free(store);
                return log_error_errno(r, "%s: cannot load its certificates: %m", mine->role);
        }
        ((Generation *) g)->tls = store;
#endif
        return 0;
}

/* Likewise its own sites' client certificates to upstreams (SSLProxyMachineCertificateFile), into
 * its copy of the contexts, from the memfds child_plan let it keep, which it closes: the contexts
 * of another site's targets stay without a certificate here. */
static int perchild_pool_open_upstreams(const Generation *g, const PerchildState *st, const PerchildPool *mine) {
#if HAVE_TLS
        PoolSites sites = {.g = g, .st = st, .pool = mine};
        ConfErrors errors = {};
        int r;

        r = tls_upstream_clients_open_pool(g->tls_upstreams, pool_names_client_cert, &sites, &errors);
        for (size_t i = 0; i < errors.n; i++)
                log_error("%s", errors.msgs[i]);
        conf_errors_done(&errors);
        if (r < 0)
                return log_error_errno(r, "%s: cannot load its client certificates to upstreams: %m", mine->role);
#endif
        return 0;
}

static int perchild_worker_main(const WorkerContext *ctx) {
        const Generation *g = ctx->generation;
        const PerchildConfig *cfg = g->mpm_config;
        const PerchildState *st = g->mpm_state;
        int r;

        if (ctx->slot < st->n_dispatchers) {
                DispatchSpec spec = {
                        .listeners = st->shared,
                        .n_listeners = st->n_shared,
                        .pool_fds = st->send_fds,
                        .n_pools = st->n_pools,
                        .site_pool = st->site_pool,
                        .max_connections = cfg->dispatcher_connections,
                        .max_per_client = cfg->dispatcher_connections_per_client,
                };
                http_server_logs_abandon(g->http);
#if HAVE_TLS
                tls_store_forget_sealed(g->tls_sealed); /* it never terminates TLS: no ticket keys */
                tls_upstream_clients_forget_sealed(g->tls_upstreams); /* nor proxies */
#endif
                if (perchild_forget_foreign(g, st, NULL) < 0)
                        return WORKER_EXIT_FATAL;
                perchild_status_select(g, st, NULL);
                return dispatch_run(ctx, &spec);
        }

        const PerchildPool *p = perchild_pool_of(st, ctx->slot);
        if (!p)
                return WORKER_EXIT_FATAL;
        if (perchild_pool_open_tls(g, st, p) < 0 || perchild_pool_open_upstreams(g, st, p) < 0)
                return WORKER_EXIT_FATAL;
        if (perchild_forget_foreign(g, st, p) < 0)
                return WORKER_EXIT_FATAL;
        perchild_status_select(g, st, p);
        if (p->user && g->site_failed && g->site_failed[p->site]) {
                /* A stand-in: the site cannot be served (the supervisor says why and retries);
                 * its connections get 503 rather than wait in a queue nobody reads. */
                http_server_logs_abandon(g->http);
                g->http->sites[p->site].unavailable = true;
        } else if (p->user) {
                /* Opened now, with the site's rights: a log path the site controls can only ever
                 * reach what the site itself may write. */
                http_server_logs_abandon(g->http);
                r = http_server_open_logs(g->http);
                if (r < 0) {
                        const char *path = http_server_logs_failed(g->http);
                        log_error("Cannot open the log file %s as user %s: %s", path ? path : "?", p->user->user,
                                  access_log_strerror(r));
                        return WORKER_EXIT_FATAL;
                }
        }
        EventLoopSpec spec = {
                .listeners = p->listeners,
                .n_listeners = p->n_listeners,
                .handoff_fd = p->handoff[1],
                .worker_connections = cfg->worker_connections,
                .max_connections_per_child = cfg->max_connections_per_child,
                .reopen_own_logs = p->user != NULL,
        };
        return event_loop_run(ctx, &spec);
}

const MpmOps mpm_perchild_module = {
        .name = "perchild",
        .magic = MPM_MAGIC_NUMBER,
        .flags = MPM_FORKED | MPM_PER_USER,
        .directives = perchild_directives,
        .config_size = sizeof(PerchildConfig),
        .check_config = perchild_check_config,
        .process_limit = perchild_process_limit,
        .site_limits = perchild_site_limits,
        .workers_per_process = perchild_workers_per_process,
        .capacity = perchild_capacity,
        .start = perchild_start,
        .maintain = perchild_maintain,
        .free_state = perchild_free_state,
        .worker_main = perchild_worker_main,
        .sandbox_profile = SANDBOX_PROFILE_POOL,
        .child_plan = perchild_child_plan,
        .slot_site = perchild_slot_site,
        .slot_serves = perchild_slot_serves,
        .status_groups = perchild_status_groups,
        .status_group = perchild_status_group,
};
