/* SPDX-License-Identifier: MIT */
/* generation.c — a generation's life as the supervisor sees it: built from a configuration (its
 * sites, logs, sockets, status segments, CGI launcher sockets and channels), started, its workers'
 * readiness read and checked, their exits booked (and replaced or backed off), maintained once a
 * second, drained when replaced, freed when its last process is gone.
 *
 * It forks through spawn.c, never the other way round: spawn.c calls back only through
 * sg->on_child_exit, set here. What a generation's events mean for the whole server (a reload
 * commits or is refused, the first start fails, the server may be done) is the supervisor's to
 * decide: it is told through s->hooks (supervisor-state.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "http/access-log.h"
#include "build-config.h"
#include "supervisor/auth-files.h"
#include "supervisor/cgi-host.h"
#include "shared/fd-pass.h"
#include "supervisor/generation-status.h"
#include "mpm/log-channel.h"
#include "shared/log.h"
#include "shared/message-ids.h"
#include "mpm/maintain.h"
#include "mpm/sandbox.h"
#include "http/server-logs.h"
#include "http/server.h"
#include "supervisor/site-failure.h"
#include "supervisor/site-paths.h"
#include "shared/strv.h"
#include "supervisor/supervisor-state.h"
#include "shared/time-util.h"
#if HAVE_TLS
#include "mpm/tls-store.h"
#include "mpm/tls-ticket-keys.h"
#endif

unsigned generation_count(const SupGeneration *sg, ProcessState state) {
        unsigned n = 0;
        for (unsigned i = 0; i < sg->g.n_procs; i++)
                if (sg->g.procs[i].state == state)
                        n++;
        return n;
}

unsigned generation_alive(const SupGeneration *sg) {
        return sg->g.n_procs - generation_count(sg, PROCESS_FREE);
}

/* Its workers and its CGI launcher: a generation is done when both are gone. */
static bool generation_cgi_running(const SupGeneration *sg) {
        for (size_t i = 0; i < sg->n_cgi; i++)
                if (cgi_host_running(&sg->cgi[i]))
                        return true;
        return false;
}

bool generation_finished(const SupGeneration *sg) {
        return generation_alive(sg) == 0 && !generation_cgi_running(sg);
}

void generation_cgi_finish(SupGeneration *sg, bool now) {
        for (size_t i = 0; i < sg->n_cgi; i++)
                if (cgi_host_running(&sg->cgi[i]) && (now || !sg->cgi[i].finishing))
                        cgi_host_finish(&sg->cgi[i], now);
}

/* Once a finishing generation has no worker left, nobody can send its launcher a request: let it
 * end the programs still running and exit. */
void generation_cgi_finish_if_idle(SupGeneration *sg) {
        if (sg->g.draining && generation_alive(sg) == 0)
                generation_cgi_finish(sg, false);
}

static int generation_slot_of(const SupGeneration *sg, pid_t pid) {
        for (unsigned i = 0; i < sg->g.n_procs; i++)
                if (sg->g.procs[i].state != PROCESS_FREE && sg->g.procs[i].pid == pid)
                        return (int) i;
        return -1;
}

/* A worker that breaks the protocol is not trusted to serve: it is killed and, like any worker
 * that ended, replaced. */
static void generation_kill_misbehaving(SupGeneration *sg, unsigned slot, const char *what) {
        ProcessSlot *p = &sg->g.procs[slot];

        log_error("generation %u: worker %u (pid %d) %s; killing it", sg->g.number, slot, (int) p->pid, what);
        (void) kill(p->pid, SIGKILL);
        p->state = PROCESS_STOPPING;
        sg->misbehaved[slot] = true; /* replaced with the back-off of a failed start */
}

void generation_maintain(SupGeneration *sg, usec_t now) {
        ProcessScore *scores = calloc(sg->g.n_procs, sizeof(*scores));
        ScoreboardView v;

        if (!scores)
                return;
        generation_scoreboard_view(sg, &v, scores, now);
        /* A segment that fails validation twice in a row (not a read racing a write) belongs to a
         * worker that scribbles on what the supervisor reads: it is ignored, and its worker goes. */
        for (unsigned i = 0; i < sg->g.n_procs; i++) {
                const ProcessSlot *p = &sg->g.procs[i];
                bool bad = (p->state == PROCESS_RUNNING || p->state == PROCESS_STARTING) && sg->g.boards[i] &&
                           !scores[i].valid;
                sg->invalid_ticks[i] = bad ? (uint8_t) MIN(sg->invalid_ticks[i] + 1, 2) : 0;
                if (sg->invalid_ticks[i] >= 2) {
                        sg->invalid_ticks[i] = 0;
                        generation_kill_misbehaving(sg, i, "wrote an invalid scoreboard segment");
                }
        }
        sg->g.ops->maintain(&sg->g, &v, now);
        generation_status_publish(sg, scores);
        free(scores);
}

static void retired_add(ProcessScore *r, const ScoreboardTrust *t) {
        r->requests += t->requests;
        r->bytes += t->bytes;
        r->duration_usec += t->duration_usec;
        r->tls_connections += t->tls_connections;
        r->ktls_connections += t->ktls_connections;
        r->tls_hellos_refused += t->tls_hellos_refused;
        r->tls_names_unrecognized += t->tls_names_unrecognized;
        r->proxy_refused += t->proxy_refused;
        for (unsigned b = 0; b <= HTTP_STATUS_DURATION_BUCKETS; b++)
                r->duration_buckets[b] += t->duration_buckets[b];
}

static int on_child_exit(sd_event_source *src, const siginfo_t *si, void *userdata) {
        SupGeneration *sg = userdata;
        Generation *g = &sg->g;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        unsigned slot;

        for (slot = 0; slot < g->n_procs; slot++)
                if (sg->children[slot] == src)
                        break;
        if (slot == g->n_procs)
                return 0;

        ProcessSlot *p = &g->procs[slot];
        bool was_ready = p->state == PROCESS_RUNNING || p->state == PROCESS_STOPPING;
        bool asked = p->state == PROCESS_STOPPING;

        /* Still a zombie: sd-event reaps it once this returns. */
        generation_status_reaped(sg, p->pid);
        sg->children[slot] = sd_event_source_unref(sg->children[slot]);
        bool failed_start = (!was_ready && !asked) || sg->misbehaved[slot];
        sg->misbehaved[slot] = false;
        if (si->si_code == CLD_EXITED && si->si_status == WORKER_EXIT_OK)
                log_debug("generation %u: worker %u (pid %d) exited", g->number, slot, (int) si->si_pid);
        else if (si->si_code == CLD_EXITED && spawn_is_fatal_exit(si->si_status))
                log_error("generation %u: worker %u (pid %d) could not start (see above)", g->number, slot,
                          (int) si->si_pid);
        else if (!asked || si->si_code != CLD_KILLED || si->si_status != SIGKILL) {
                /* perchild: a site's pool is "pool NAME"; "pool [Server]" is the main server's. */
                const char *vhost = strncmp(p->role, "pool ", 5) == 0 && p->role[5] != '[' ? p->role + 5 : NULL;
                log_warning_fields(LOG_FIELDS(.message_id = MPMD_MESSAGE_WORKER_CRASHED, .generation = g->number,
                                              .vhost = vhost),
                                   "generation %u: worker %u (pid %d) %s %d%s", g->number, slot, (int) si->si_pid,
                                   si->si_code == CLD_EXITED ? "exited with status" : "was killed by signal",
                                   si->si_status, g->draining || sg->sup->stopping ? "" : "; replacing it");
        }
        if (failed_start) {
                p->start_failures++;
                p->spawn_not_before = now + spawn_backoff_usec(p->start_failures);
                g->start_failures++;
                g->spawn_not_before = now + spawn_backoff_usec(g->start_failures);
                if (!g->draining && !sg->sup->stopping)
                        log_warning("generation %u: %u worker start(s) failed in a row; next attempt in %llu s",
                                    g->number, g->start_failures,
                                    (unsigned long long) (spawn_backoff_usec(g->start_failures) / USEC_PER_SEC));
        }
        if (g->boards[slot]) {
                /* What it served, as far as it is plausible (an invalid last reading: what was
                 * accepted before), goes to the totals of its views. */
                ProcessScore last;
                int k = sg->slot_group ? sg->slot_group[slot] : -1;
                generation_read_slot(sg, slot, now, &last);
                retired_add(&sg->retired, &sg->trust[slot]);
                if (k >= 0)
                        retired_add(&sg->group_retired[k], &sg->trust[slot]);
        }
        p->state = PROCESS_FREE;
        p->pid = 0;
        if (g->boards[slot]) {
                scoreboard_segment_unmap(g->boards[slot], sg->workers_per_process);
                g->boards[slot] = NULL;
        }
        generation_cgi_finish_if_idle(sg);

        int site = g->ops->slot_site ? g->ops->slot_site(g, slot) : -1;
        if (site >= 0 && failed_start && si->si_code == CLD_EXITED && spawn_is_fatal_exit(si->si_status) &&
            !sg->sup->stopping && !g->draining) {
                /* A site's own pool: its failure is that site's alone. */
                site_failure_mark(sg, (size_t) site, strdup("its pool could not start (the error log says why)"),
                                       now);
                generation_check_ready(sg);
                generation_maintain(sg, now);
                return 0;
        }
        /* The supervisor decides what a generation that cannot start means: a refused reload,
         * or a start that fails. */
        if (si->si_code == CLD_EXITED && spawn_is_fatal_exit(si->si_status) && sg->sup->hooks->cannot_start(sg))
                return 0;
        if (!sg->sup->stopping && !g->draining)
                generation_check_ready(sg);
        if (!sg->sup->stopping && (sg == sg->sup->current || (g->draining && generation_keeps_pools(sg))))
                generation_maintain(sg, now);
        sg->sup->hooks->exited(sg);
        return 0;
}

/* A generation is ready once none of its processes is still starting and one accepts: the first
 * one tells systemd, a reload's takes over. Checked when a worker reports and when one exits (a
 * sibling that dies while starting must not hold the announcement back). */
void generation_check_ready(SupGeneration *sg) {
        Supervisor *s = sg->sup;

        if (sg->announced_ready || generation_count(sg, PROCESS_STARTING) > 0 ||
            generation_count(sg, PROCESS_RUNNING) == 0)
                return;
        sg->announced_ready = true;
        s->hooks->ready(sg);
}

/* Workers send their slot number (4 bytes) once they accept. The kernel says who sent it; the
 * number must be the sender's own slot. */
static int on_worker_ready(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        SupGeneration *sg = userdata;

        for (int k = 0; k < 64; k++) {
                uint32_t slot = UINT32_MAX;
                struct ucred cred;
                size_t n_fds;
                /* Nobody should send us descriptors: fd_pass closes what came (max_fds 0). */
                ssize_t n = fd_pass_receive_cred(fd, &slot, sizeof(slot), NULL, 0, &n_fds, &cred, MSG_DONTWAIT);

                if (n == -EAGAIN || (n < 0 && n != -EBADMSG))
                        break;
                int from = cred.pid > 0 ? generation_slot_of(sg, cred.pid) : -1;
                if (from < 0) {
                        log_warning("generation %u: readiness message from pid %d, not one of its workers; ignored",
                                    sg->g.number, cred.pid > 0 ? (int) cred.pid : -1);
                        continue;
                }
                if (sg->misbehaved[from])
                        continue; /* already killed for it: the rest of what it sent is not read */
                if (n != sizeof(slot) || slot != (uint32_t) from) { /* -EBADMSG: cut */
                        generation_kill_misbehaving(sg, (unsigned) from, "sent garbage on its readiness channel");
                        continue;
                }
                if (sg->g.procs[from].state != PROCESS_STARTING)
                        continue;
                sg->g.procs[from].state = PROCESS_RUNNING;
                int site = sg->g.ops->slot_site ? sg->g.ops->slot_site(&sg->g, (unsigned) from) : -1;
                if (site >= 0 && !sg->g.site_failed[site])
                        sg->site_failures[site] = 0; /* its real pool serves */
                sg->g.procs[from].start_failures = 0;
                sg->g.procs[from].spawn_not_before = 0;
                sg->g.start_failures = 0;
                sg->g.spawn_not_before = 0;
        }
        generation_check_ready(sg);
        return 0;
}

/* A launcher socket for each identity CGI programs run under: the server's User for the sites
 * without one of their own, and (per-user MPMs) each site's own User. No process yet. */
static int generation_cgi_init(SupGeneration *sg) {
        const HttpServer *http = sg->g.http;
        bool per_user = sg->g.ops->flags & MPM_PER_USER;
        int r;

        sg->cgi = calloc(1 + http->n_sites, sizeof(CgiHost));
        sg->g.site_cgi_fds = malloc(MAX(http->n_sites, (size_t) 1) * sizeof(int));
        if (!sg->cgi || !sg->g.site_cgi_fds)
                return -ENOMEM;
        sg->n_cgi = 1 + http->n_sites;
        for (size_t i = 0; i < sg->n_cgi; i++)
                sg->cgi[i] = CGI_HOST_NULL;
        for (size_t i = 0; i < http->n_sites; i++) {
                bool own = per_user && i > 0 && sg->g.site_users[i].user; /* [0]: the default pool */
                size_t k = own ? 1 + i : 0;

                sg->g.site_cgi_fds[i] = -1;
                if (http->sites[i].cfg->script_alias.n == 0 && !http->sites[i].cfg->add_handler.extensions)
                        continue;
                if (cgi_host_worker_fd(&sg->cgi[k]) < 0) {
                        /* site i is [VirtualHost] i - 1; the server's launcher takes the MPM's defaults */
                        r = cgi_host_init(&sg->cgi[k], sg->g.number, own ? http->sites[i].name : NULL,
                                          own ? &sg->config->vhosts[i - 1].limits : &sg->config->limits);
                        if (r < 0)
                                return r;
                }
                if (own)
                        sg->g.site_cgi_fds[i] = cgi_host_worker_fd(&sg->cgi[k]);
        }
        sg->g.cgi_fd = cgi_host_worker_fd(&sg->cgi[0]);
        return 0;
}

/* Build a generation from config (taken over, also on failure). */
int generation_new(Supervisor *s, Config *config, SupGeneration **ret) {
        SupGeneration *sg = calloc(1, sizeof(*sg));
        const char *failed = NULL;
        int r;

        if (!sg)
                return -ENOMEM;
        sg->sup = s;
        sg->config = config;
        sg->on_child_exit = on_child_exit;
        sg->ready_channel[0] = sg->ready_channel[1] = -1;
        sg->log_channel[0] = sg->log_channel[1] = -1;
        sg->errlog_channel[0] = sg->errlog_channel[1] = -1;
        sg->g.cgi_fd = -1;
        sg->g.number = ++s->next_generation;
        sg->g.ops = config->mpm;
        sg->g.mpm_config = config->mpm_config;
        sg->g.host = &supervisor_host;
        /* The certificates config_load() loaded and checked (with our rights): the workers inherit
         * them with the generation; under a per-user MPM the store is sealed, and each pool opens
         * its own from it (key custody, tls-store.h). */
#if HAVE_TLS
        if (tls_store_is_sealed(config->tls))
                sg->g.tls_sealed = TAKE_PTR(config->tls);
#endif
        sg->g.tls = TAKE_PTR(config->tls);
        sg->g.tls_upstreams = config->tls_upstreams; /* the configuration's, freed with it */
        sg->g.n_procs = config->mpm->process_limit(config->mpm_config);
        sg->workers_per_process = config->mpm->workers_per_process(config->mpm_config);
        sg->g.procs = calloc(sg->g.n_procs, sizeof(ProcessSlot));
        sg->g.boards = calloc(sg->g.n_procs, sizeof(ScoreboardProcess *));
        sg->children = calloc(sg->g.n_procs, sizeof(sd_event_source *));
        sg->takes_logs = calloc(sg->g.n_procs, sizeof(bool));
        sg->invalid_ticks = calloc(sg->g.n_procs, sizeof(uint8_t));
        sg->misbehaved = calloc(sg->g.n_procs, sizeof(bool));
        sg->g.slot_kept = calloc(sg->g.n_procs, sizeof(bool));
        sg->g.site_failed = calloc(1 + config->n_vhosts, sizeof(char *));
        sg->g.site_kept = calloc(1 + config->n_vhosts, sizeof(bool));
        sg->site_failures = calloc(1 + config->n_vhosts, sizeof(unsigned));
        sg->site_retry_at = calloc(1 + config->n_vhosts, sizeof(usec_t));
        if (!sg->g.slot_kept || !sg->g.site_failed || !sg->g.site_kept || !sg->site_failures || !sg->site_retry_at) {
                r = -ENOMEM;
                goto fail;
        }
        sg->trust = calloc(sg->g.n_procs, sizeof(ScoreboardTrust));
        if (!sg->g.procs || !sg->g.boards || !sg->children || !sg->takes_logs || !sg->invalid_ticks ||
            !sg->misbehaved || !sg->trust) {
                r = -ENOMEM;
                goto fail;
        }

        r = http_server_new(MIME_TYPES_FILE, &sg->g.http);
        if (r < 0)
                goto fail;
        r = http_server_add_site(sg->g.http, config->site.server_name, &config->site, NULL, &failed);
        if (r < 0) {
                log_error_errno(r, "Cannot set up the main server (%s): %m", failed);
                goto fail;
        }
        for (size_t i = 0; i < config->n_vhosts; i++) {
                ConfigVhost *v = &config->vhosts[i];
                if (site_paths_are_its_own(config, v))
                        r = site_paths_add_site(sg, 1 + i, v);
                else {
                        r = http_server_add_site(sg->g.http, v->name, &v->site, v->listen, &failed);
                        if (r < 0)
                                log_error_errno(r, "Cannot set up virtual host %s (%s): %m", v->name, failed);
                }
                if (r < 0)
                        goto fail;
        }
        r = auth_files_load(sg);
        if (r < 0)
                goto fail;

        sg->g.site_users = calloc(sg->g.http->n_sites, sizeof(MpmSiteUser));
        if (!sg->g.site_users) {
                r = -ENOMEM;
                goto fail;
        }
        sg->g.site_users[0] = (MpmSiteUser) { .user = config->user, .uid = config->uid, .gid = config->gid };
        for (size_t i = 0; i < config->n_vhosts && i + 1 < sg->g.http->n_sites; i++)
                sg->g.site_users[i + 1] = (MpmSiteUser) {
                        .user = config->vhosts[i].user,
                        .uid = config->vhosts[i].uid,
                        .gid = config->vhosts[i].gid,
                        .processes = config->vhosts[i].pool_processes,
                };

        /* A per-user MPM's site with a User of its own opens its logs in its own processes, with the
         * site's rights: here, as root, a path the site can write could be a planted symlink. */
        for (size_t i = 1; (config->mpm->flags & MPM_PER_USER) && i < sg->g.http->n_sites; i++)
                http_server_set_foreign(sg->g.http, i, sg->g.site_users[i].user != NULL);
        /* Logs are opened here, before the workers exist and with the supervisor's rights; workers
         * inherit the descriptors. */
        r = http_server_open_logs(sg->g.http);
        if (r < 0) {
                const char *path = http_server_logs_failed(sg->g.http);
                log_error("Cannot open the log file %s: %s", path ? path : "?", access_log_strerror(r));
                goto fail;
        }

        /* The sockets: every Listen of the server and the virtual hosts. */
        r = listener_set_ensure(&s->listeners, config->listen, (int) config->listen_backlog, &failed);
        for (size_t i = 0; r >= 0 && i < config->n_vhosts; i++)
                r = listener_set_ensure(&s->listeners, config->vhosts[i].listen, (int) config->listen_backlog,
                                        &failed);
        if (r == -ENXIO) {
                log_error("Listen = %s: not an address, and systemd passed no socket of that name", failed);
                goto fail;
        }
        if (r < 0) {
                log_error_errno(r, "Cannot listen on %s: %m", failed);
                goto fail;
        }
        /* Only the sockets this configuration names: a socket systemd passes or stored for us that
         * no Listen= mentions any more is not served. A copy, as the set may grow on a later reload
         * while this generation still runs. */
        sg->g.listeners = calloc(s->listeners.n, sizeof(Listener));
        if (!sg->g.listeners) {
                r = -ENOMEM;
                goto fail;
        }
        for (size_t i = 0; i < s->listeners.n; i++) {
                const char *name = s->listeners.items[i].name;
                bool named = strv_contains(config->listen, name);
                for (size_t k = 0; !named && k < config->n_vhosts; k++)
                        named = strv_contains(config->vhosts[k].listen, name);
                if (named) {
                        Listener *gl = &sg->g.listeners[sg->g.n_listeners++];
                        *gl = s->listeners.items[i];
                        gl->proxy_protocol = strv_contains(config->site.remote_ip.proxy_protocol, name);
                }
                else
                        log_debug("socket %s is not named by any Listen= and is not served", name);
        }

        r = generation_status_create(sg);
        if (r < 0) {
                log_error_errno(r, "Cannot create the status segment: %m");
                goto fail;
        }
        sg->g.http->status = sg->status_ro;
        /* Every site is shown the server's status, unless its MPM's processes keep less. */
        for (size_t i = 0; i < sg->g.http->n_sites; i++)
                sg->g.http->sites[i].status = sg->status_ro;

        r = generation_cgi_init(sg);
        if (r < 0) {
                log_error_errno(r, "Cannot create the CGI launcher sockets: %m");
                goto fail;
        }

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sg->log_channel) < 0 ||
            socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sg->errlog_channel) < 0) {
                r = log_error_errno(errno, "Cannot create the log channel: %m");
                goto fail;
        }
        /* Datagrams with the sender's credentials (SO_PASSCRED): a worker can only ever say that it
         * itself is ready. The workers' end blocks, so a full channel delays them, never drops. */
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sg->ready_channel) < 0 ||
            setsockopt(sg->ready_channel[0], SOL_SOCKET, SO_PASSCRED, &(int) { 1 }, sizeof(int)) < 0 ||
            fcntl(sg->ready_channel[0], F_SETFL, O_NONBLOCK) < 0) {
                r = log_error_errno(errno, "Cannot create the readiness channel: %m");
                goto fail;
        }
        r = sd_event_add_io(s->event, &sg->ready_source, sg->ready_channel[0], EPOLLIN, on_worker_ready, sg);
        if (r < 0)
                goto fail;

        *ret = sg;
        return 0;
fail:
        generation_free(sg);
        return r;
}

/* Free the certificate store (its private keys cleared with it), or the sealed one (its memfds
 * closed). */
static void generation_forget_tls(SupGeneration *g) {
        if (!g || !g->config->tls_ops || !g->config->tls_ops->free)
                return;
        if (g->g.tls)
                g->config->tls_ops->free(g->g.tls);
        if (g->g.tls_sealed)
                g->config->tls_ops->free(g->g.tls_sealed);
        g->g.tls = g->g.tls_sealed = NULL;
}

void generation_free(SupGeneration *sg) {
        if (!sg)
                return;
        for (unsigned i = 0; i < sg->g.n_procs; i++) {
                if (sg->children && sg->children[i])
                        sd_event_source_unref(sg->children[i]);
                if (sg->g.boards && sg->g.boards[i])
                        scoreboard_segment_unmap(sg->g.boards[i], sg->workers_per_process);
        }
        if (sg->g.ops && sg->g.ops->free_state)
                sg->g.ops->free_state(&sg->g);
        supervisor_handoffs_release(sg);
        generation_status_free(sg);
        sd_event_source_unref(sg->ready_source);
        safe_close(sg->ready_channel[0]);
        safe_close(sg->ready_channel[1]);
        http_server_free(sg->g.http);
        free(sg->g.listeners);
        free(sg->g.procs);
        free(sg->g.site_users);
        for (size_t i = 0; i < sg->n_cgi; i++)
                cgi_host_done(&sg->cgi[i]);
        free(sg->cgi);
        free(sg->g.site_cgi_fds);
        free(sg->takes_logs);
        free(sg->invalid_ticks);
        free(sg->misbehaved);
        free(sg->g.slot_kept);
        for (size_t i = 0; sg->g.site_failed && i < 1 + sg->config->n_vhosts; i++)
                free(sg->g.site_failed[i]);
        free(sg->g.site_failed);
        free(sg->g.site_kept);
        free(sg->site_failures);
        free(sg->site_retry_at);
        free(sg->trust);
        safe_close(sg->log_channel[0]);
        safe_close(sg->log_channel[1]);
        safe_close(sg->errlog_channel[0]);
        safe_close(sg->errlog_channel[1]);
        free(sg->g.boards);
        free(sg->children);
        generation_forget_tls(sg);
        config_free(sg->config);
        free(sg);
}

void generation_stop_all(SupGeneration *sg, bool graceful) {
        sg->g.draining = true;
        for (unsigned i = 0; i < sg->g.n_procs; i++)
                supervisor_host.stop(&sg->g, i, graceful);
}

/* Replaced: stop everything but the site pools it keeps for newer generations (g.slot_kept). */
void generation_drain(SupGeneration *sg, bool graceful) {
        sg->g.draining = true;
        for (unsigned i = 0; i < sg->g.n_procs; i++)
                if (!sg->g.slot_kept[i])
                        supervisor_host.stop(&sg->g, i, graceful);
}

bool generation_keeps_pools(const SupGeneration *sg) {
        for (unsigned i = 0; i < sg->g.n_procs; i++)
                if (sg->g.slot_kept[i])
                        return true;
        return false;
}

/* new takes over: which site pools of the older generations go on serving (those of the sites new
 * keeps elsewhere, g.site_kept), and which are now replaced. */
void generation_settle_kept_pools(Supervisor *s, SupGeneration *old, SupGeneration *new) {
        SupGeneration *gens[2] = { old, s->draining };

        for (size_t k = 0; k < 2; k++)
                for (SupGeneration *o = gens[k]; o; o = k == 0 ? NULL : o->next) {
                        if (!o->g.ops->slot_site)
                                continue;
                        for (unsigned i = 0; i < o->g.n_procs; i++) {
                                int site = o->g.ops->slot_site(&o->g, i);
                                bool was = o == old || o->g.slot_kept[i];
                                bool keep = false;
                                if (site >= 0 && was && !o->g.site_failed[site] && !o->g.site_kept[site]) {
                                        int j = site_failure_find_site(new, o->g.http->sites[site].name);
                                        keep = j >= 0 && new->g.site_kept[j];
                                }
                                if (!keep && o->g.slot_kept[i])
                                        supervisor_host.stop(&o->g, i, true); /* its site's new pool serves */
                                o->g.slot_kept[i] = keep;
                        }
                }
}

/* A CGI launcher starts programs and never speaks TLS: it keeps no site's private key (the
 * certificate stores of every generation are freed in it, which clears the keys) and no ticket
 * keys. Under perchild a launcher runs as its site's user, whose programs must find nothing of
 * another site's in its memory. */
static void launcher_forget_tls(Supervisor *s) {
        generation_forget_tls(s->current);
        generation_forget_tls(s->pending);
        for (SupGeneration *g = s->draining; g; g = g->next)
                generation_forget_tls(g);
#if HAVE_TLS
        if (s->tickets)
                tls_ticket_keys_forget(s->tickets, NULL, 0);
#endif
}

static void launcher_prepare(void *userdata) {
        worker_forget_supervisor(userdata);
        worker_forget_status(userdata, NULL); /* it shows no status page */
        launcher_forget_tls(userdata);
        auth_files_forget_all(userdata);
}

/* The CGI launchers of a serving generation: started with it, started again when one ended. A
 * failure is logged and retried; meanwhile CGI requests get 503 and everything else is served. */
void generation_cgi_start(SupGeneration *sg) {
        bool root = geteuid() == 0;

        if (sg->g.draining)
                return;
        for (size_t i = 0; i < sg->n_cgi; i++) {
                /* [0]: the server's User; [1 + k]: site k's own. */
                const MpmSiteUser *u = i > 0 ? &sg->g.site_users[i - 1] : NULL;
                SandboxPolicy policy = {
                        .change_ids = root,
                        .uid = !root ? getuid() : u ? u->uid : sg->config->uid,
                        .gid = !root ? getgid() : u ? u->gid : sg->config->gid,
                        .user_name = !root ? NULL : u ? u->user : sg->config->user,
                        .profile = SANDBOX_PROFILE_CGI_LAUNCHER,
                };
                if (cgi_host_worker_fd(&sg->cgi[i]) < 0)
                        continue;
                int r = cgi_host_start(&sg->cgi[i], sg->sup->event, &policy, launcher_prepare, sg->sup);
                if (r < 0 && r != -EAGAIN)
                        log_error_errno(r, "generation %u: cannot start the CGI launcher%s%s: %m", sg->g.number,
                                        u ? " of " : "", u ? sg->g.http->sites[i - 1].name : "");
        }
}

int generation_start(SupGeneration *sg) {
        generation_cgi_start(sg);
        return sg->g.ops->start(&sg->g);
}

/* Can a process of this older generation still take a new connection? A worker clears its
 * scoreboard's accepting flag once it has left its accept loop for good (a starting one is waited
 * for until it exits: it may not have seen the stop yet). The flag is one aligned word that the
 * worker may scribble on; the worst a lie does is hold the answer until the bound. */
bool generation_quiet(const SupGeneration *sg) {
        for (unsigned i = 0; i < sg->g.n_procs; i++) {
                const ProcessSlot *p = &sg->g.procs[i];
                if (p->state == PROCESS_FREE || sg->g.slot_kept[i]) /* a kept pool goes on accepting */
                        continue;
                if (p->state == PROCESS_STARTING)
                        return false;
                if (sg->g.boards[i] && __atomic_load_n(&sg->g.boards[i]->accepting, __ATOMIC_ACQUIRE) != 0)
                        return false;
        }
        return true;
}
/* The generation's logs: open every access log anew here (the supervisor's rights), then hand the
 * files to each running process (log-channel.h): the error log (which supervisor_reopen_logs()
 * reopened already) to every one, workers, pools, dispatchers and CGI launchers alike, and the
 * access logs to those that hold the supervisor's; a perchild site's pool reopens its own logs
 * itself when it is told. */
int generation_reopen_logs(SupGeneration *sg) {
        int fds[LOG_CHANNEL_FDS_MAX], r;
        size_t n;
        unsigned told = 0, failed = 0;

        r = http_server_reopen_logs(sg->g.http);
        if (r < 0)
                log_error_errno(r, "generation %u: cannot reopen an access log (it keeps its old file): %m",
                                sg->g.number);
        fds[0] = log_get_fd();
        n = 1 + MIN(http_server_logs_fds(sg->g.http, fds + 1, ELEMENTSOF(fds) - 1), ELEMENTSOF(fds) - 1);
        sg->logs_epoch++;
        for (unsigned i = 0; i < sg->g.n_procs; i++) {
                const ProcessSlot *p = &sg->g.procs[i];
                if (p->state == PROCESS_FREE)
                        continue;
                int k = sg->takes_logs[i] ? log_channel_send(sg->log_channel[0], sg->logs_epoch, fds, n)
                                          : log_channel_send(sg->errlog_channel[0], sg->logs_epoch, fds, 1);
                if (k < 0) {
                        log_warning_errno(k, "generation %u: cannot pass the reopened logs to worker %d: %m",
                                          sg->g.number, (int) p->pid);
                        failed++;
                        continue;
                }
                if (kill(p->pid, SIGUSR1) == 0)
                        told++;
        }
        for (size_t i = 0; i < sg->n_cgi; i++) {
                int k = cgi_host_reopen_logs(&sg->cgi[i], log_get_fd());
                if (k < 0) {
                        log_warning_errno(k, "generation %u: cannot pass the reopened error log to the CGI launcher %d: %m",
                                          sg->g.number, (int) sg->cgi[i].pid);
                        failed++;
                } else if (cgi_host_running(&sg->cgi[i]))
                        told++;
        }
        log_debug("generation %u: %zu log(s) reopened, %u process(es) told, %u could not be", sg->g.number, n,
                  told, failed);
        return r;
}


/* One process that has not adopted the latest logs, appended to buf as "ROLE SLOT (pid PID)". */
static void pending_add(char *buf, size_t size, size_t *len, const char *what) {
        int n = snprintf(buf + *len, size - *len, "%s%s", *len > 0 ? ", " : "", what);
        if (n > 0)
                *len = MIN(*len + (size_t) n, size - 1);
}

unsigned generation_logs_pending(const SupGeneration *sg, char *buf, size_t size, size_t *len) {
        unsigned n = 0;
        char what[128];

        for (unsigned i = 0; i < sg->g.n_procs; i++) {
                const ProcessSlot *p = &sg->g.procs[i];
                /* A process is done with the reopen once its segment says the generation's epoch;
                 * one that has exited has nothing left to reopen. */
                if (p->state == PROCESS_FREE || !sg->g.boards[i] ||
                    __atomic_load_n(&sg->g.boards[i]->logs_epoch, __ATOMIC_ACQUIRE) == sg->logs_epoch)
                        continue;
                n++;
                snprintf(what, sizeof(what), "%s %u (pid %d) of generation %u", p->role, i, (int) p->pid, sg->g.number);
                pending_add(buf, size, len, what);
        }
        for (size_t i = 0; i < sg->n_cgi; i++) {
                const CgiHost *h = &sg->cgi[i];
                if (cgi_host_logs_adopted(h))
                        continue;
                n++;
                snprintf(what, sizeof(what), "%s (pid %d) of generation %u", h->role, (int) h->pid, sg->g.number);
                pending_add(buf, size, len, what);
        }
        return n;
}
