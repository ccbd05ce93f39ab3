/* SPDX-License-Identifier: MIT */
/* spawn.c — the spawn API the supervisor offers MPMs: fork a worker into a slot of a generation,
 * give it only what its plan keeps (MpmChildPlan), apply its sandbox and run the MPM's worker_main;
 * stop one gracefully or at once; the hand-off sockets MPMs share between generations. It knows
 * generations only as data: a worker's exit goes to sg->on_child_exit (generation.c), never to a
 * function of the generation code by name. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor/auth-files.h"
#include "supervisor/cgi-host.h"
#include "mpm/cgi-launcher.h"
#include "supervisor/generation-status.h"
#include "mpm/log-channel.h"
#include "shared/log.h"
#include "mpm/maintain.h"
#include "mpm/sandbox.h"
#include "mpm/sandbox-families.h"
#include "http/server-logs.h"
#include "supervisor/supervisor-state.h"
#include "shared/time-util.h"

static int close_all_but(const int *keep, size_t n) {
        /* keep[] is sorted ascending. Everything else goes, so a worker holds nothing of the
         * supervisor's: no control socket, no pidfd of a sibling, no event loop. */
        int from = 3;
        for (size_t i = 0; i <= n; i++) {
                int to = i < n ? keep[i] - 1 : INT_MAX;
                if (to >= from && close_range((unsigned) from, (unsigned) to, 0) < 0)
                        return -errno;
                if (i < n)
                        from = keep[i] + 1;
        }
        return 0;
}

static int cmp_int(const void *a, const void *b) {
        return *(const int *) a - *(const int *) b;
}

static void generation_forget(SupGeneration *g) {
        size_t size = HTTP_STATUS_SEGMENT_SIZE;

        if (!g)
                return;
        /* The writable status mappings are the supervisor's alone. */
        if (g->status)
                munmap(g->status, size);
        g->status = NULL;
        for (unsigned k = 0; g->group_status && k < g->g.n_status_groups; k++) {
                if (g->group_status[k])
                        munmap(g->group_status[k], size);
                g->group_status[k] = NULL;
        }
        for (unsigned i = 0; i < g->g.n_procs; i++)
                if (g->g.boards[i]) {
                        scoreboard_segment_unmap(g->g.boards[i], g->workers_per_process);
                        g->g.boards[i] = NULL;
                }
        for (size_t i = 0; i < g->n_cgi; i++)
                cgi_host_forget(&g->cgi[i]);
}

static void generation_forget_status(SupGeneration *g) {
        if (!g)
                return;
        if (g->status_ro)
                munmap((void *) g->status_ro, HTTP_STATUS_SEGMENT_SIZE);
        g->status_ro = NULL;
        for (size_t i = 0; g->g.http && i < g->g.http->n_sites; i++)
                g->g.http->sites[i].status = NULL;
        if (g->g.http)
                g->g.http->status = NULL;
        for (unsigned k = 0; g->g.status_groups && k < g->g.n_status_groups; k++) {
                if (g->g.status_groups[k])
                        munmap((void *) g->g.status_groups[k], HTTP_STATUS_SEGMENT_SIZE);
                g->g.status_groups[k] = NULL;
        }
}

void worker_forget_status(Supervisor *s, const SupGeneration *keep) {
        if (s->current != keep)
                generation_forget_status(s->current);
        if (s->pending != keep)
                generation_forget_status(s->pending);
        for (SupGeneration *g = s->draining; g; g = g->next)
                if (g != keep)
                        generation_forget_status(g);
}

/* In a new worker: drop what the supervisor holds of every generation. */
void worker_forget_supervisor(Supervisor *s) {
        generation_forget(s->current);
        generation_forget(s->pending);
        for (SupGeneration *g = s->draining; g; g = g->next)
                generation_forget(g);
}

_noreturn_ static void worker_child(SupGeneration *sg, unsigned slot, int memfd, const MpmChildPlan *plan) {
        Generation *g = &sg->g;
        sigset_t mask;
        int stop_fd, keep[1024];
        size_t n_keep = 0;
        char tag[32];

        snprintf(tag, sizeof(tag), "%s %u", plan->role, slot);
        log_set_tag(tag);
        auth_files_forget_other_generations(sg);
        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (plan->reopen_in_loop)
                sigaddset(&mask, SIGUSR1);
        stop_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (stop_fd < 0)
                _exit(WORKER_EXIT_FATAL);
        /* SIGUSR1 adopts reopened logs (supervisor.c, generation_reopen_logs), set up while every
         * signal is still blocked: the error log first, then the access logs of a process that holds
         * the supervisor's. A process without them gets the error log alone on a channel of its
         * own, so that no message for one kind is taken by the other. */
        int log_fds[LOG_CHANNEL_FDS_MAX], log_sock = plan->keep_logs ? sg->log_channel[1] : sg->errlog_channel[1];
        size_t n_logs = 1;
        log_fds[0] = log_get_fd();
        if (plan->keep_logs)
                n_logs += MIN(http_server_logs_fds(g->http, log_fds + 1, ELEMENTSOF(log_fds) - 1),
                              ELEMENTSOF(log_fds) - 1);
        if ((plan->reopen_in_loop ? log_channel_attach : log_channel_install)(log_sock, sg->logs_epoch, log_fds,
                                                                               n_logs) < 0)
                _exit(WORKER_EXIT_FATAL);
        /* Everything but the stop signals back to defaults; those stay blocked for the signalfd. */
        sigset_t unblock;
        sigfillset(&unblock);
        sigdelset(&unblock, SIGTERM);
        sigdelset(&unblock, SIGINT);
        if (plan->reopen_in_loop)
                sigdelset(&unblock, SIGUSR1);
        sigprocmask(SIG_UNBLOCK, &unblock, NULL);
        signal(SIGPIPE, SIG_IGN);

        worker_forget_supervisor(sg->sup);
        generation_forget(sg); /* idempotent: in case it is not linked in yet */
        worker_forget_status(sg->sup, sg); /* an older generation's status is not this one's to show */
        ScoreboardProcess *board = scoreboard_segment_map(memfd, sg->workers_per_process, true);
        if (!board) {
                log_error_errno(errno, "Cannot map the scoreboard: %m");
                _exit(WORKER_EXIT_FATAL);
        }
        log_channel_report_to(&board->logs_epoch); /* `mpmctl reopen-logs` waits for it */

        keep[n_keep++] = STDIN_FILENO;
        keep[n_keep++] = STDOUT_FILENO;
        keep[n_keep++] = STDERR_FILENO;
        if (log_get_fd() > STDERR_FILENO)
                keep[n_keep++] = log_get_fd(); /* ErrorLog as a file */
        keep[n_keep++] = stop_fd;
        keep[n_keep++] = sg->ready_channel[1];
        for (size_t i = 0; plan->keep_listeners && i < g->n_listeners && n_keep < ELEMENTSOF(keep) - 1; i++)
                keep[n_keep++] = g->listeners[i].fd;
        for (size_t i = 0; plan->keep_site_roots && i < g->http->n_sites; i++) {
                const HttpSite *site = &g->http->sites[i];
                if (site->root_fd >= 0 && n_keep < ELEMENTSOF(keep) - 1)
                        keep[n_keep++] = site->root_fd;
                for (size_t j = 0; j < site->n_script_alias_fds && n_keep < ELEMENTSOF(keep) - 1; j++)
                        keep[n_keep++] = site->script_alias_fds[j];
                for (size_t j = 0; j < site->n_alias_fds && n_keep < ELEMENTSOF(keep) - 1; j++)
                        keep[n_keep++] = site->alias_fds[j];
        }
        if (plan->keep_logs)
                n_keep += http_server_logs_fds(g->http, keep + n_keep, ELEMENTSOF(keep) - 1 - n_keep);
        keep[n_keep++] = log_sock;
        for (size_t i = 0; i < plan->n_keep_fds && n_keep < ELEMENTSOF(keep) - 1; i++)
                keep[n_keep++] = plan->keep_fds[i];
        if (plan->cgi_fd >= 0)
                keep[n_keep++] = plan->cgi_fd;
        /* The others are closed below: their numbers may be reused by anything. */
        g->cgi_fd = plan->cgi_fd;
        for (size_t i = 0; g->site_cgi_fds && i < g->http->n_sites; i++)
                g->site_cgi_fds[i] = -1;
        qsort(keep + 3, n_keep - 3, sizeof(int), cmp_int);
        /* Skip 0..2 in the list: close_all_but starts at 3. */
        if (close_all_but(keep + 3, n_keep - 3) < 0) {
                log_error_errno(errno, "Cannot close inherited descriptors: %m");
                _exit(WORKER_EXIT_FATAL);
        }

        const char *step = NULL;
        int r = sandbox_apply(&plan->policy, &step);
        if (r < 0) {
                log_error_errno(r, "Sandbox step \"%s\" failed, refusing to serve: %m", step ? step : "?");
                _exit(WORKER_EXIT_FATAL);
        }

        if (g->cgi_fd >= 0) {
                HttpCgiLauncher launcher;
                cgi_launcher_client(&g->cgi_fd, &launcher);
                http_server_set_cgi_launcher(g->http, &launcher);
        }

        WorkerContext ctx = {
                .generation = g,
                .slot = slot,
                .board = board,
                .stop_fd = stop_fd,
                .ready_fd = sg->ready_channel[1],
        };
        _exit(g->ops->worker_main(&ctx));
}

static int sup_spawn(Generation *g, unsigned slot) {
        SupGeneration *sg = container_of(g, SupGeneration, g);
        ProcessSlot *p;
        pid_t pid;
        int memfd, r;

        if (slot >= g->n_procs)
                return -EINVAL;
        p = &g->procs[slot];
        if (p->state != PROCESS_FREE)
                return -EBUSY;
        /* Each slot backs off on its own failures (a worker that lies or crashes while its siblings
         * serve keeps being delayed); the other MPMs also back off generation-wide, so that a worker
         * that cannot start never spreads over every free slot. A per-user MPM does not: one pool's
         * crashes must not stop the others. */
        usec_t not_before = p->spawn_not_before;
        if (!(g->ops->flags & MPM_PER_USER))
                not_before = MAX(not_before, g->spawn_not_before);
        if (now_usec(CLOCK_MONOTONIC) < not_before)
                return -EAGAIN;

        bool root = geteuid() == 0;
        MpmChildPlan plan = {
                .policy = {
                        .change_ids = root,
                        .uid = root ? sg->config->uid : getuid(),
                        .gid = root ? sg->config->gid : getgid(),
                        .user_name = root ? sg->config->user : NULL,
                        .profile = g->ops->sandbox_profile,
                        /* A worker serves every site of its generation: whatever upstream one has. */
                        .upstream_families = sandbox_families_of_sites(g->http, NULL, 0),
                },
                .role = "worker",
                .keep_listeners = true,
                .keep_site_roots = true,
                .keep_logs = true,
                .cgi_fd = g->cgi_fd,
        };
        if (g->ops->child_plan) {
                r = g->ops->child_plan(g, slot, &plan);
                if (r < 0)
                        return log_error_errno(r, "generation %u: cannot plan process %u: %m", g->number, slot);
        }

        r = generation_status_groups_create(sg);
        if (r < 0)
                return log_error_errno(r, "generation %u: cannot create the status segments: %m", g->number);

        memfd = scoreboard_segment_create(g->number, sg->workers_per_process);
        if (memfd < 0)
                return log_error_errno(memfd, "Cannot create a scoreboard segment: %m");
        if (g->boards[slot])
                scoreboard_segment_unmap(g->boards[slot], sg->workers_per_process);
        g->boards[slot] = scoreboard_segment_map(memfd, sg->workers_per_process, false);
        if (!g->boards[slot]) {
                r = -errno;
                close(memfd);
                return log_error_errno(r, "Cannot map a scoreboard segment: %m");
        }

        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(memfd);
                return log_error_errno(r, "fork failed: %m");
        }
        if (pid == 0)
                worker_child(sg, slot, memfd, &plan);
        sg->takes_logs[slot] = plan.keep_logs;

        close(memfd);
        *p = (ProcessSlot) {
                .state = PROCESS_STARTING,
                .pid = pid,
                .started = now_usec(CLOCK_MONOTONIC),
                .uid = plan.policy.change_ids ? plan.policy.uid : getuid(),
                .gid = plan.policy.change_ids ? plan.policy.gid : getgid(),
                .profile = plan.policy.profile,
                .upstream_families = plan.policy.upstream_families,
                .start_failures = p->start_failures,
                .spawn_not_before = p->spawn_not_before,
        };
        snprintf(p->role, sizeof(p->role), "%s", plan.role);
        scoreboard_trust_init(&sg->trust[slot], p->started);
        r = sd_event_add_child(sg->sup->event, &sg->children[slot], pid, WEXITED, sg->on_child_exit, sg);
        if (r < 0) {
                kill(pid, SIGKILL);
                return log_error_errno(r, "Cannot watch worker %d: %m", (int) pid);
        }
        /* The loop reaps it itself, so the slot is freed in sg->on_child_exit (generation.c). */
        (void) sd_event_source_set_child_process_own(sg->children[slot], true);
        log_debug("generation %u: spawned worker %u (pid %d)", g->number, slot, (int) pid);
        return 0;
}

static void sup_stop(Generation *g, unsigned slot, bool graceful) {
        ProcessSlot *p;

        if (slot >= g->n_procs)
                return;
        p = &g->procs[slot];
        if (p->state == PROCESS_FREE)
                return;
        if (graceful && p->state != PROCESS_STOPPING) {
                p->state = PROCESS_STOPPING;
                (void) kill(p->pid, SIGTERM);
        } else if (!graceful) {
                /* Asked to go: its death by SIGKILL is no crash to report. */
                p->state = PROCESS_STOPPING;
                (void) kill(p->pid, SIGKILL);
        }
}

int supervisor_handoff(Generation *g, const char *key, int ret_fds[2]) {
        SupGeneration *sg = container_of(g, SupGeneration, g);
        Supervisor *s = sg->sup;
        SupHandoff *h;

        for (h = s->handoffs; h; h = h->next)
                if (strcmp(h->key, key) == 0)
                        break;
        SupHandoff **grown = reallocarray(sg->handoffs, sg->n_handoffs + 1, sizeof(*grown));
        if (!grown)
                return -ENOMEM;
        sg->handoffs = grown;
        if (!h) {
                h = calloc(1, sizeof(*h));
                if (!h)
                        return -ENOMEM;
                h->key = strdup(key);
                if (!h->key || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, h->fds) < 0) {
                        int r = h->key ? -errno : -ENOMEM;
                        free(h->key);
                        free(h);
                        return r;
                }
                h->next = s->handoffs;
                s->handoffs = h;
        }
        h->users++;
        sg->handoffs[sg->n_handoffs++] = h;
        ret_fds[0] = h->fds[0];
        ret_fds[1] = h->fds[1];
        return 0;
}

void supervisor_handoffs_release(SupGeneration *sg) {
        Supervisor *s = sg->sup;

        for (size_t i = 0; i < sg->n_handoffs; i++) {
                SupHandoff *h = sg->handoffs[i];
                if (--h->users > 0)
                        continue;
                for (SupHandoff **p = &s->handoffs; *p; p = &(*p)->next)
                        if (*p == h) {
                                *p = h->next;
                                break;
                        }
                safe_close(h->fds[0]);
                safe_close(h->fds[1]);
                free(h->key);
                free(h);
        }
        sg->handoffs = mfree(sg->handoffs);
        sg->n_handoffs = 0;
}

const MpmHost supervisor_host = {
        .spawn = sup_spawn,
        .stop = sup_stop,
        .handoff = supervisor_handoff,
};

