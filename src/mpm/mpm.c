/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shared/fd-pass.h"
#include "mpm/log-channel.h"
#include "shared/log.h"
#include "mpm/maintain.h"
#include "mpm/mpm.h"
#include "http/server-logs.h"
#include "http/server.h"
#include "http/status.h"

/* The static build links exactly one MPM; meson names its table (mpm_NAME_module). A build with
 * shared MPMs has none built in. */
#ifdef MPM_BUILTIN_MODULE
extern const MpmOps MPM_BUILTIN_MODULE;
#endif

const MpmOps *const mpm_builtin[] = {
#ifdef MPM_BUILTIN_MODULE
        &MPM_BUILTIN_MODULE,
#endif
        NULL,
};

const MpmOps *mpm_find_builtin(const char *name) {
        for (const MpmOps *const *m = mpm_builtin; *m; m++)
                if (strcmp((*m)->name, name) == 0)
                        return *m;
        return NULL;
}

void worker_context_notify_ready(const WorkerContext *ctx) {
        uint32_t slot = ctx->slot;

        if (ctx->ready_fd < 0)
                return;
        /* One datagram of 4 bytes (SEQPACKET, the kernel adds who sent it); the supervisor
         * validates the number. */
        (void) fd_pass_send(ctx->ready_fd, &slot, sizeof(slot), NULL, 0, 0);
        close(ctx->ready_fd);
}

int mpm_spawn_first(Generation *g, unsigned n) {
        for (unsigned i = 0; i < n && i < g->n_procs; i++) {
                int r = g->host->spawn(g, i);
                if (r < 0)
                        return r;
        }
        return 0;
}

unsigned mpm_spawn_free(Generation *g, unsigned n, unsigned max_active) {
        unsigned active = 0, spawned = 0;

        for (unsigned i = 0; i < g->n_procs; i++)
                if (g->procs[i].state != PROCESS_FREE)
                        active++;
        for (unsigned i = 0; i < g->n_procs && spawned < n && active < max_active; i++)
                if (g->procs[i].state == PROCESS_FREE && g->host->spawn(g, i) >= 0) {
                        spawned++;
                        active++;
                }
        return spawned;
}

void mpm_retire_highest(Generation *g, const ScoreboardView *v, bool need_idle) {
        for (unsigned i = g->n_procs; i-- > 0;) {
                if (g->procs[i].state != PROCESS_RUNNING)
                        continue;
                if (need_idle && !(i < v->n_procs && v->procs[i].valid && v->procs[i].ready > 0))
                        continue;
                g->host->stop(g, i, true);
                return;
        }
}

int mpm_spare_start(Generation *g, unsigned start_servers, unsigned max_processes) {
        SpareState *s = calloc(1, sizeof(*s));
        unsigned n = MAX(start_servers, MIN(g->inherited_processes, max_processes));

        if (!s)
                return -ENOMEM;
        spare_state_init(s);
        g->mpm_state = s;
        return mpm_spawn_first(g, n);
}

void mpm_spare_free_state(Generation *g) {
        free(g->mpm_state);
        g->mpm_state = NULL;
}

void mpm_spare_maintain(Generation *g, const ScoreboardView *v, const MpmSpareLimits *lim) {
        SpareState *s = g->mpm_state;
        unsigned active = 0, free_slots = 0, idle = 0;

        if (g->draining || !s)
                return;
        for (unsigned i = 0; i < g->n_procs; i++) {
                const ProcessSlot *p = &g->procs[i];
                if (p->state == PROCESS_FREE) {
                        free_slots++;
                        continue;
                }
                if (p->state == PROCESS_STOPPING)
                        continue;
                active++;
                /* A process still starting will be idle in a moment: count it, as Apache does. */
                if (p->state == PROCESS_STARTING)
                        idle += lim->idle_per_process;
                else if (i < v->n_procs && v->procs[i].valid)
                        idle += MIN(v->procs[i].ready, lim->idle_per_process);
        }

        SpareDecision d = spare_decide(s, idle, active, lim->idle_per_process, lim->min_spare, lim->max_spare,
                                       lim->max_processes, free_slots);
        mpm_spawn_free(g, d.spawn, lim->max_processes);
        for (unsigned k = 0; k < d.retire; k++)
                mpm_retire_highest(g, v, lim->retire_only_idle);
}

/* A segment this process may not show is unmapped, not merely left unused: a pool's process then
 * holds no other pool's figures, nor the server's, in its memory. */
static void status_forget(HttpServer *s, const HttpStatusData *d) {
        if (!d)
                return;
        for (size_t i = 0; i < s->n_sites; i++)
                if (s->sites[i].status == d)
                        s->sites[i].status = NULL;
        (void) munmap((void *) d, HTTP_STATUS_SEGMENT_SIZE);
}

void mpm_status_keep(const Generation *g, int group, bool server_wide) {
        for (unsigned k = 0; g->status_groups && k < g->n_status_groups; k++)
                if ((int) k != group) {
                        status_forget(g->http, g->status_groups[k]);
                        g->status_groups[k] = NULL;
                }
        if (!server_wide) {
                status_forget(g->http, g->http->status);
                g->http->status = NULL;
        }
}

void mpm_log_site(const HttpServer *s, const HttpSite *site, int level, const char *client, const char *message) {
        int fd = site ? http_server_site_error_fd(s, site) : -1;
        const char *name = site && site->name ? site->name : "-";

        if (fd >= 0)
                log_to_fd(fd, level, "[vhost %s] [client %s] %s", name, client ? client : "-", message);
        else
                log_full_errno(level, 0, "[vhost %s] [client %s] %s", name, client ? client : "-", message);
}

void mpm_worker_reopen_logs(const Generation *g, bool own_logs) {
        int r;

        /* Its own files first: adopting the supervisor's reports the epoch (log_channel_report_to()),
         * which says that everything was reopened. */
        if (own_logs && (r = http_server_reopen_logs(g->http)) < 0)
                log_warning_errno(r, "Cannot reopen a log file (it keeps its old file): %m");
        r = log_channel_receive();
        if (r < 0)
                log_warning_errno(r, "Cannot adopt the reopened logs: %m");
}
