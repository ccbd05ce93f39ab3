/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "build-config.h"
#include "access-log.h"
#include "cgi-host.h"
#include "cgi-launcher.h"
#include "config.h"
#include "control.h"
#include "generation-status.h"
#include "listeners.h"
#include "log.h"
#include "maintain.h"
#include "log-channel.h"
#include "privileges.h"
#include "sandbox.h"
#include "server-logs.h"
#include "server.h"
#include "site-failure.h"
#include "site-paths.h"
#include "status.h"
#include "strv.h"
#include "supervisor-state.h"
#include "supervisor.h"
#include "time-util.h"

#define MAINTAIN_INTERVAL_USEC (1 * USEC_PER_SEC)
#define STARTUP_TIMEOUT_USEC (30 * USEC_PER_SEC)
#define RELOAD_QUIESCE_MAX_USEC (2 * USEC_PER_SEC)
#define RELOAD_QUIESCE_POLL_USEC (5 * USEC_PER_MSEC)

static void generation_free(SupGeneration *sg);
static int supervisor_reload(Supervisor *s, ConfErrors *errors_out);
static void supervisor_answer_reload_waiters(Supervisor *s, bool ok, const char *why);
static void supervisor_abandon_reload(Supervisor *s, const char *why);
static void supervisor_hard_stop(Supervisor *s);

/* ---- generations ---------------------------------------------------------------------------- */

static unsigned generation_count(const SupGeneration *sg, ProcessState state) {
        unsigned n = 0;
        for (unsigned i = 0; i < sg->g.n_procs; i++)
                if (sg->g.procs[i].state == state)
                        n++;
        return n;
}

static unsigned generation_alive(const SupGeneration *sg) {
        return sg->g.n_procs - generation_count(sg, PROCESS_FREE);
}

/* Its workers and its CGI launcher: a generation is done when both are gone. */
static bool generation_cgi_running(const SupGeneration *sg) {
        for (size_t i = 0; i < sg->n_cgi; i++)
                if (cgi_host_running(&sg->cgi[i]))
                        return true;
        return false;
}

static bool generation_finished(const SupGeneration *sg) {
        return generation_alive(sg) == 0 && !generation_cgi_running(sg);
}

static void generation_cgi_finish(SupGeneration *sg, bool now) {
        for (size_t i = 0; i < sg->n_cgi; i++)
                if (cgi_host_running(&sg->cgi[i]) && (now || !sg->cgi[i].finishing))
                        cgi_host_finish(&sg->cgi[i], now);
}

/* Once a finishing generation has no worker left, nobody can send its launcher a request: let it
 * end the programs still running and exit. */
static void generation_cgi_finish_if_idle(SupGeneration *sg) {
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

/* Read slot's segment (validated, then its counters held to what is plausible: scoreboard.h). A
 * process that reports the implausible is said so once; what it reports is clamped, not trusted. */
static void generation_read_slot(SupGeneration *sg, unsigned slot, usec_t now, ProcessScore *ps) {
        const ProcessSlot *p = &sg->g.procs[slot];
        unsigned clamped;

        scoreboard_process_read(sg->g.boards[slot], sg->g.number, sg->workers_per_process, ps);
        if (!ps->valid)
                return;
        clamped = scoreboard_trust_accept(&sg->trust[slot], sg->workers_per_process, now, ps);
        if (clamped && !sg->trust[slot].warned) {
                static const struct {
                        unsigned bit;
                        const char *what;
                } what[] = {
                        { SCOREBOARD_WENT_BACK, "counters going back" },
                        { SCOREBOARD_CLAMPED_REQUESTS, "too many requests" },
                        { SCOREBOARD_CLAMPED_CONNECTIONS, "too many connections" },
                        { SCOREBOARD_CLAMPED_BYTES, "too many bytes" },
                        { SCOREBOARD_CLAMPED_DURATION, "too long durations" },
                };
                char list[128] = "";
                size_t n = 0;

                for (size_t i = 0; i < ELEMENTSOF(what); i++)
                        if ((clamped & what[i].bit) && n < sizeof(list))
                                n += (size_t) snprintf(list + n, sizeof(list) - n, "%s%s", n ? ", " : "",
                                                       what[i].what);
                sg->trust[slot].warned = true;
                log_warning("generation %u: worker %u (pid %d) misbehaves: its scoreboard reports the "
                            "implausible (%s); only what it could have served is counted",
                            sg->g.number, slot, (int) p->pid, list);
        }
}

static void scoreboard_view_build(SupGeneration *sg, ScoreboardView *v, ProcessScore *scores, usec_t now) {
        *v = (ScoreboardView) { .n_procs = sg->g.n_procs, .procs = scores };
        for (unsigned i = 0; i < sg->g.n_procs; i++) {
                ProcessScore *ps = &scores[i];
                *ps = (ProcessScore) {};
                if (sg->g.procs[i].state == PROCESS_FREE || !sg->g.boards[i])
                        continue;
                generation_read_slot(sg, i, now, ps);
                if (!ps->valid) {
                        v->invalid++;
                        continue;
                }
                v->ready += ps->ready;
                v->busy += ps->busy;
                v->keepalive += ps->keepalive;
                v->starting += ps->starting;
                v->requests += ps->requests;
                v->bytes += ps->bytes;
        }
}

static void generation_maintain(SupGeneration *sg, usec_t now) {
        ProcessScore *scores = calloc(sg->g.n_procs, sizeof(*scores));
        ScoreboardView v;

        if (!scores)
                return;
        scoreboard_view_build(sg, &v, scores, now);
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

void supervisor_update_status(Supervisor *s) {
        SupGeneration *sg = s->current;
        ProcessScore *scores;
        ScoreboardView v;

        if (!sg)
                return;
        scores = calloc(sg->g.n_procs, sizeof(*scores));
        if (!scores)
                return;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        scoreboard_view_build(sg, &v, scores, now);
        char failing[96] = "";
        if (sg->g.start_failures > 0)
                snprintf(failing, sizeof(failing), "; %u worker start(s) failed in a row, next attempt in %llu s",
                         sg->g.start_failures,
                         (unsigned long long) (sg->g.spawn_not_before > now
                                                       ? (sg->g.spawn_not_before - now + USEC_PER_SEC - 1) / USEC_PER_SEC
                                                       : 0));
        _cleanup_free_ char *sites = site_failure_describe(s, "; ");
        sd_notifyf(false,
                   "STATUS=generation %u, MPM %s: %u processes, %u busy, %u idle workers, %llu requests%s%s%s%s%s",
                   sg->g.number, sg->g.ops->name, generation_alive(sg), v.busy, v.ready,
                   (unsigned long long) v.requests, failing, sites ? "; " : "", sites ? sites : "",
                   s->last_reload ? "; last reload: " : "", s->last_reload ? s->last_reload : "");
        free(scores);
}

static void supervisor_check_done(Supervisor *s) {
        if (!s->stopping)
                return;
        if (s->current && !generation_finished(s->current))
                return;
        if (s->pending && !generation_finished(s->pending))
                return;
        for (SupGeneration *g = s->draining; g; g = g->next)
                if (!generation_finished(g))
                        return;
        log_info("all workers have exited, stopping");
        sd_event_exit(s->event, 0);
}

static void generation_check_ready(SupGeneration *sg);
static bool generation_keeps_pools(const SupGeneration *sg);

static void retired_add(ProcessScore *r, const ScoreboardTrust *t) {
        r->requests += t->requests;
        r->bytes += t->bytes;
        r->duration_usec += t->duration_usec;
}

int supervisor_on_child_exit(sd_event_source *src, const siginfo_t *si, void *userdata) {
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

        sg->children[slot] = sd_event_source_unref(sg->children[slot]);
        bool failed_start = (!was_ready && !asked) || sg->misbehaved[slot];
        sg->misbehaved[slot] = false;
        if (si->si_code == CLD_EXITED && si->si_status == WORKER_EXIT_OK)
                log_debug("generation %u: worker %u (pid %d) exited", g->number, slot, (int) si->si_pid);
        else if (si->si_code == CLD_EXITED && spawn_is_fatal_exit(si->si_status))
                log_error("generation %u: worker %u (pid %d) could not start (see above)", g->number, slot,
                          (int) si->si_pid);
        else if (!asked || si->si_code != CLD_KILLED || si->si_status != SIGKILL)
                log_warning("generation %u: worker %u (pid %d) %s %d%s", g->number, slot, (int) si->si_pid,
                            si->si_code == CLD_EXITED ? "exited with status" : "was killed by signal",
                            si->si_status, g->draining || sg->sup->stopping ? "" : "; replacing it");
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
        if (sg == sg->sup->pending && si->si_code == CLD_EXITED && spawn_is_fatal_exit(si->si_status)) {
                supervisor_abandon_reload(sg->sup, "a worker of the new configuration could not start");
                return 0;
        }
        if (sg == sg->sup->current && !sg->sup->ready_sent && si->si_code == CLD_EXITED &&
            spawn_is_fatal_exit(si->si_status)) {
                /* The first generation cannot start: fail the start now, clearly, rather than let
                 * systemd wait for a READY=1 that will never come. */
                log_error("workers cannot start; stopping (fix the error above and start again)");
                sg->sup->exit_status = EXIT_FAILURE;
                sd_notifyf(false, "STATUS=workers cannot start\nERRNO=%d", EPERM);
                supervisor_hard_stop(sg->sup);
                return 0;
        }
        if (!sg->sup->stopping && !g->draining)
                generation_check_ready(sg);
        if (!sg->sup->stopping && (sg == sg->sup->current || (g->draining && generation_keeps_pools(sg))))
                generation_maintain(sg, now);
        supervisor_check_done(sg->sup);
        return 0;
}

static void supervisor_send_ready(Supervisor *s) {
        if (s->ready_sent)
                return;
        s->ready_sent = true;
        sd_notify(false, "READY=1");
        log_info("generation %u ready: MPM %s, %u worker processes accepting", s->current->g.number,
                 s->current->g.ops->name, generation_count(s->current, PROCESS_RUNNING));
        supervisor_update_status(s);
}

static void supervisor_commit_reload(Supervisor *s);

/* A generation is ready once none of its processes is still starting and one accepts: the first
 * one tells systemd, a reload's takes over. Checked when a worker reports and when one exits (a
 * sibling that dies while starting must not hold the announcement back). */
static void generation_check_ready(SupGeneration *sg) {
        Supervisor *s = sg->sup;

        if (sg->announced_ready || generation_count(sg, PROCESS_STARTING) > 0 ||
            generation_count(sg, PROCESS_RUNNING) == 0)
                return;
        sg->announced_ready = true;
        if (sg == s->current)
                supervisor_send_ready(s);
        else if (sg == s->pending)
                supervisor_commit_reload(s);
}

/* Workers send their slot number (4 bytes) once they accept. The kernel says who sent it; the
 * number must be the sender's own slot. */
static int on_worker_ready(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        SupGeneration *sg = userdata;

        for (int k = 0; k < 64; k++) {
                union {
                        struct cmsghdr align;
                        char buf[CMSG_SPACE(sizeof(struct ucred))];
                } control;
                uint32_t slot = UINT32_MAX;
                struct iovec iov = { .iov_base = &slot, .iov_len = sizeof(slot) };
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                                     .msg_controllen = sizeof(control.buf) };
                struct ucred *cred = NULL;
                ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

                if (n < 0)
                        break;
                for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
                        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS &&
                            cm->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
                                cred = (struct ucred *) CMSG_DATA(cm);
                        else if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
                                /* Nobody should send us descriptors: close what came. */
                                int *fds = (int *) CMSG_DATA(cm);
                                for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
                                        close(fds[i]);
                        }
                int from = cred ? generation_slot_of(sg, cred->pid) : -1;
                if (from < 0) {
                        log_warning("generation %u: readiness message from pid %d, not one of its workers; ignored",
                                    sg->g.number, cred ? (int) cred->pid : -1);
                        continue;
                }
                if (sg->misbehaved[from])
                        continue; /* already killed for it: the rest of what it sent is not read */
                if (n != sizeof(slot) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || slot != (uint32_t) from) {
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
                if (!http->sites[i].cfg->script_alias && !http->sites[i].cfg->add_handler)
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
static int generation_new(Supervisor *s, Config *config, SupGeneration **ret) {
        SupGeneration *sg = calloc(1, sizeof(*sg));
        const char *failed = NULL;
        int r;

        if (!sg)
                return -ENOMEM;
        sg->sup = s;
        sg->config = config;
        sg->ready_channel[0] = sg->ready_channel[1] = -1;
        sg->log_channel[0] = sg->log_channel[1] = -1;
        sg->errlog_channel[0] = sg->errlog_channel[1] = -1;
        sg->g.cgi_fd = -1;
        sg->g.number = ++s->next_generation;
        sg->g.ops = config->mpm;
        sg->g.mpm_config = config->mpm_config;
        sg->g.host = &supervisor_host;
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
        r = listener_set_ensure(&s->listeners, config->listen, &failed);
        for (size_t i = 0; r >= 0 && i < config->n_vhosts; i++)
                r = listener_set_ensure(&s->listeners, config->vhosts[i].listen, &failed);
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
                if (named)
                        sg->g.listeners[sg->g.n_listeners++] = s->listeners.items[i];
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

static void generation_free(SupGeneration *sg) {
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
        config_free(sg->config);
        free(sg);
}

static void generation_stop_all(SupGeneration *sg, bool graceful) {
        sg->g.draining = true;
        for (unsigned i = 0; i < sg->g.n_procs; i++)
                supervisor_host.stop(&sg->g, i, graceful);
}

/* Replaced: stop everything but the site pools it keeps for newer generations (g.slot_kept). */
static void generation_drain(SupGeneration *sg, bool graceful) {
        sg->g.draining = true;
        for (unsigned i = 0; i < sg->g.n_procs; i++)
                if (!sg->g.slot_kept[i])
                        supervisor_host.stop(&sg->g, i, graceful);
}

static bool generation_keeps_pools(const SupGeneration *sg) {
        for (unsigned i = 0; i < sg->g.n_procs; i++)
                if (sg->g.slot_kept[i])
                        return true;
        return false;
}

/* new takes over: which site pools of the older generations go on serving (those of the sites new
 * keeps elsewhere, g.site_kept), and which are now replaced. */
static void supervisor_settle_kept_pools(Supervisor *s, SupGeneration *old, SupGeneration *new) {
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

static void launcher_prepare(void *userdata) {
        worker_forget_supervisor(userdata);
        worker_forget_status(userdata, NULL); /* it shows no status page */
}

/* The CGI launchers of a serving generation: started with it, started again when one ended. A
 * failure is logged and retried; meanwhile CGI requests get 503 and everything else is served. */
static void generation_cgi_start(SupGeneration *sg) {
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

static int generation_start(SupGeneration *sg) {
        generation_cgi_start(sg);
        return sg->g.ops->start(&sg->g);
}

/* ---- reload --------------------------------------------------------------------------------- */

static void supervisor_answer_reload_waiters(Supervisor *s, bool ok, const char *why) {
        for (size_t i = 0; i < s->n_reload_waiters; i++) {
                ControlClient *c = s->reload_waiters[i];
                if (ok)
                        control_client_reply(c, "OK generation %u is serving the new configuration",
                                             s->current->g.number);
                else
                        control_client_reply(c, "ERROR %s", why);
                control_client_finish(c);
        }
        s->n_reload_waiters = 0;
}

static void supervisor_set_reload_result(Supervisor *s, const char *result) {
        free(s->last_reload);
        s->last_reload = strdup(result);
        supervisor_update_status(s);
}

static void supervisor_abandon_reload(Supervisor *s, const char *why) {
        SupGeneration *sg = s->pending;

        log_error("reload abandoned: %s; generation %u keeps serving", why, s->current->g.number);
        s->pending = NULL;
        generation_stop_all(sg, false);
        /* Its workers are reaped through the draining list. */
        sg->drain_deadline = 0;
        sg->next = s->draining;
        s->draining = sg;
        sd_notify(false, "READY=1");
        supervisor_set_reload_result(s, why);
        supervisor_answer_reload_waiters(s, false, why);
}

/* Can a process of this older generation still take a new connection? A worker clears its
 * scoreboard's accepting flag once it has left its accept loop for good (a starting one is waited
 * for until it exits: it may not have seen the stop yet). The flag is one aligned word that the
 * worker may scribble on; the worst a lie does is hold the answer until the bound. */
static bool generation_quiet(const SupGeneration *sg) {
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

static void supervisor_answer_quiesce_waiters(Supervisor *s) {
        /* PARTIAL: some site does not run the new configuration (mpmctl exits 4 and names it). */
        _cleanup_free_ char *failed = s->current && s->current->g.number == s->quiesce_generation
                                              ? site_failure_describe(s, "\n")
                                              : NULL;
        for (size_t i = 0; i < s->n_quiesce_waiters; i++) {
                if (failed)
                        control_client_reply(s->quiesce_waiters[i],
                                             "PARTIAL generation %u is serving the new configuration, but not for "
                                             "every site:\n%s",
                                             s->quiesce_generation, failed);
                else
                        control_client_reply(s->quiesce_waiters[i], "OK generation %u is serving the new configuration",
                                             s->quiesce_generation);
                control_client_finish(s->quiesce_waiters[i]);
        }
        s->n_quiesce_waiters = 0;
        s->quiesce_timer = sd_event_source_disable_unref(s->quiesce_timer);
}

static int on_quiesce_check(sd_event_source *src, uint64_t usec, void *userdata) {
        Supervisor *s = userdata;
        bool quiet = true;

        for (SupGeneration *g = s->draining; g && quiet; g = g->next)
                quiet = generation_quiet(g);
        if (!quiet && now_usec(CLOCK_MONOTONIC) < s->quiesce_deadline) {
                /* A time source is one-shot: arm it again. */
                (void) sd_event_source_set_time_relative(src, RELOAD_QUIESCE_POLL_USEC);
                (void) sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
                return 0;
        }
        if (!quiet)
                log_warning("reload: an old worker still reports accepting after %llu ms; answering anyway",
                            (unsigned long long) (RELOAD_QUIESCE_MAX_USEC / USEC_PER_MSEC));
        supervisor_answer_quiesce_waiters(s);
        return 0;
}

/* mpmctl reload returns only when a connection made after it returns can reach only the new
 * generation: the old workers were told to stop, but each finishes the accept batch it was woken
 * for. Poll their scoreboards briefly (bounded), then answer. */
static void supervisor_quiesce_and_answer(Supervisor *s) {
        int r;

        if (s->n_reload_waiters == 0)
                return;
        if (s->n_quiesce_waiters > 0)
                supervisor_answer_quiesce_waiters(s); /* an older reload's callers: answer them now */
        memcpy(s->quiesce_waiters, s->reload_waiters, s->n_reload_waiters * sizeof(ControlClient *));
        s->n_quiesce_waiters = s->n_reload_waiters;
        s->n_reload_waiters = 0;
        s->quiesce_generation = s->current->g.number;
        s->quiesce_deadline = now_usec(CLOCK_MONOTONIC) + RELOAD_QUIESCE_MAX_USEC;
        r = sd_event_add_time_relative(s->event, &s->quiesce_timer, CLOCK_MONOTONIC, 0, 0, on_quiesce_check, s);
        if (r < 0) {
                log_warning_errno(r, "Cannot wait for the old workers to stop accepting: %m");
                supervisor_answer_quiesce_waiters(s);
        }
}

/* The new generation accepts: the old one drains, finishing what it does. */
static void supervisor_commit_reload(Supervisor *s) {
        SupGeneration *old = s->current;
        usec_t now = now_usec(CLOCK_MONOTONIC);

        s->current = s->pending;
        s->pending = NULL;
        old->drain_deadline = now + s->current->config->graceful_reload_timeout;
        supervisor_settle_kept_pools(s, old, s->current);
        generation_drain(old, true);
        old->next = s->draining;
        s->draining = old;
        log_notice("reload: generation %u serves, generation %u finishes its requests", s->current->g.number,
                   old->g.number);
        sd_notify(false, "READY=1");
        _cleanup_free_ char *failed = site_failure_describe(s, "; ");
        if (failed) {
                log_warning("reload: generation %u serves, but not for every site: %s", s->current->g.number, failed);
                _cleanup_free_ char *why = NULL;
                supervisor_set_reload_result(s, asprintf(&why, "partial: %s", failed) >= 0 ? why : "partial");
        } else
                supervisor_set_reload_result(s, "ok");
        supervisor_quiesce_and_answer(s);
}

/* Parse and check the whole configuration; on any error nothing changes. Returns 0 when the new
 * generation was started (it takes over once ready), or -errno with the errors logged and copied
 * to errors_out when given. */
static int supervisor_reload(Supervisor *s, ConfErrors *errors_out) {
        ConfErrors errors = {}, warnings = {};
        Config *c = NULL;
        int r;

        if (s->stopping)
                return -ESHUTDOWN;
        if (s->pending)
                return -EBUSY;

        log_notice("reloading the configuration from %s", s->opts->config_file);
        r = config_load(s->opts->config_file, &s->opts->load, &c, &errors, &warnings);
        if (r >= 0)
                r = config_check_reload(s->current->config, c, &errors);
        for (size_t i = 0; i < warnings.n; i++)
                log_warning("%s", warnings.msgs[i]);
        if (r < 0) {
                for (size_t i = 0; i < errors.n; i++)
                        log_error("%s", errors.msgs[i]);
                log_error("reload refused: %zu error%s; generation %u keeps serving unchanged", errors.n,
                          errors.n == 1 ? "" : "s", s->current->g.number);
                char *why = NULL;
                if (asprintf(&why, "reload failed: %s", errors.n > 0 ? errors.msgs[0] : "error") >= 0) {
                        supervisor_set_reload_result(s, why);
                        free(why);
                }
                config_free(c);
                if (errors_out)
                        *errors_out = errors;
                else
                        conf_errors_done(&errors);
                conf_errors_done(&warnings);
                return -EINVAL;
        }
        conf_errors_done(&errors);
        conf_errors_done(&warnings);

        sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%llu", now_usec(CLOCK_MONOTONIC));
        r = generation_new(s, c, &s->pending);
        if (r >= 0) {
                site_failure_settle(s->pending);
                s->pending->g.inherited_processes = s->current ? generation_count(s->current, PROCESS_RUNNING) : 0;
                r = generation_start(s->pending);
                if (r < 0) {
                        s->pending->g.draining = true;
                        supervisor_abandon_reload(s, "the new workers could not be started");
                        return r;
                }
        } else {
                s->pending = NULL;
                sd_notify(false, "READY=1");
                supervisor_set_reload_result(s, "reload failed: the new generation could not be built");
                return r;
        }
        s->pending_deadline = now_usec(CLOCK_MONOTONIC) + STARTUP_TIMEOUT_USEC;
        return 0;
}

/* ---- signals and the tick ------------------------------------------------------------------- */

static void supervisor_hard_stop(Supervisor *s) {
        log_notice("stopping now: killing every worker");
        if (s->pending) {
                generation_stop_all(s->pending, false);
                generation_cgi_finish(s->pending, true);
        }
        if (s->current) {
                generation_stop_all(s->current, false);
                generation_cgi_finish(s->current, true);
        }
        for (SupGeneration *g = s->draining; g; g = g->next) {
                generation_stop_all(g, false);
                generation_cgi_finish(g, true);
        }
        s->stopping = true;
        supervisor_check_done(s);
}

static void supervisor_graceful_stop(Supervisor *s) {
        usec_t timeout = s->current ? s->current->config->graceful_shutdown_timeout : 0;

        if (s->stopping) {
                supervisor_hard_stop(s);
                return;
        }
        s->stopping = true;
        sd_notify(false, "STOPPING=1");
        log_notice("graceful stop: letting workers finish (at most %llu s)",
                   (unsigned long long) (timeout / USEC_PER_SEC));
        s->stop_deadline = now_usec(CLOCK_MONOTONIC) + timeout;
        if (s->pending)
                generation_stop_all(s->pending, false);
        if (s->current)
                generation_stop_all(s->current, true);
        for (SupGeneration *g = s->draining; g; g = g->next)
                generation_stop_all(g, true);
        supervisor_check_done(s);
}

/* The generation's logs: open every access log anew here (the supervisor's rights), then hand the
 * files to each running process (log-channel.h): the error log (which supervisor_reopen_logs()
 * reopened already) to every one, workers, pools, dispatchers and CGI launchers alike, and the
 * access logs to those that hold the supervisor's; a perchild site's pool reopens its own logs
 * itself when it is told. */
static int generation_reopen_logs(SupGeneration *sg) {
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

static int supervisor_reopen_logs(Supervisor *s) {
        const char *target = s->current ? s->current->config->site.error_log : "stderr";
        int r = log_open(target), k;
        if (r < 0)
                log_error_errno(r, "Cannot reopen the error log %s: %m", target);
        if (s->current && (k = generation_reopen_logs(s->current)) < 0 && r >= 0)
                r = k;
        if (s->pending && (k = generation_reopen_logs(s->pending)) < 0 && r >= 0)
                r = k;
        for (SupGeneration *g = s->draining; g; g = g->next)
                if ((k = generation_reopen_logs(g)) < 0 && r >= 0)
                        r = k;
        if (r >= 0)
                log_info("log files reopened");
        return r;
}

static int on_signal(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata) {
        Supervisor *s = userdata;

        switch (si->ssi_signo) {
        case SIGTERM:
        case SIGWINCH:
                supervisor_graceful_stop(s);
                break;
        case SIGINT:
                supervisor_hard_stop(s);
                break;
        case SIGUSR1:
                (void) supervisor_reopen_logs(s);
                break;
        case SIGHUP:
                (void) supervisor_reload(s, NULL);
                break;
        default:
                break;
        }
        return 0;
}

/* Old generations: kill what outlives its drain bound, forget what has exited. */
static void supervisor_reap_draining(Supervisor *s, usec_t now) {
        for (SupGeneration **p = &s->draining; *p;) {
                SupGeneration *g = *p;
                generation_cgi_finish_if_idle(g);
                if (generation_finished(g)) {
                        *p = g->next;
                        log_debug("generation %u has finished", g->g.number);
                        generation_free(g);
                        continue;
                }
                if (g->drain_deadline > 0 && now >= g->drain_deadline) {
                        log_warning("generation %u: GracefulReloadTimeout reached, killing its %u worker(s)",
                                    g->g.number, generation_alive(g));
                        g->drain_deadline = 0;
                        generation_drain(g, false);
                        if (!generation_keeps_pools(g))
                                generation_cgi_finish(g, true);
                }
                if (generation_keeps_pools(g))
                        generation_maintain(g, now); /* the site pools it keeps stay filled */
                p = &g->next;
        }
}

/* WATCHDOG=1 only while the loop runs (we are here) and the serving generation has workers that
 * accepted: a supervisor whose workers all died or hang in start-up stops petting, and systemd acts. */
static int on_watchdog(sd_event_source *src, uint64_t usec, void *userdata) {
        Supervisor *s = userdata;

        if (s->current && generation_count(s->current, PROCESS_RUNNING) > 0)
                sd_notify(false, "WATCHDOG=1");
        else
                log_warning("watchdog: no worker accepts connections, not reporting healthy");
        sd_event_source_set_time(src, usec + s->watchdog_usec / 2);
        return 0;
}

static int on_tick(sd_event_source *src, uint64_t usec, void *userdata) {
        Supervisor *s = userdata;
        usec_t now = now_usec(CLOCK_MONOTONIC);

        /* A drain or a reload may outlast the unit's timeouts: ask for what it still needs. */
        if (s->stopping && s->stop_deadline > now)
                sd_notifyf(false, "EXTEND_TIMEOUT_USEC=%llu", s->stop_deadline - now + 5 * USEC_PER_SEC);
        else if (s->pending && s->pending_deadline > now)
                sd_notifyf(false, "EXTEND_TIMEOUT_USEC=%llu", s->pending_deadline - now + 5 * USEC_PER_SEC);

        if (s->stopping && s->stop_deadline > 0 && now >= s->stop_deadline) {
                log_warning("GracefulShutdownTimeout reached with workers still busy");
                s->stop_deadline = 0;
                supervisor_hard_stop(s);
        }
        if (s->pending && now >= s->pending_deadline)
                supervisor_abandon_reload(s, "the new workers did not become ready in time");
        if (s->pending)
                generation_maintain(s->pending, now);
        if (s->current && !s->stopping) {
                site_failure_retry(s->current, now);
                generation_cgi_start(s->current);
                generation_maintain(s->current, now);
                supervisor_update_status(s);
                if (!s->ready_sent && now - s->current->g.procs[0].started > STARTUP_TIMEOUT_USEC &&
                    generation_count(s->current, PROCESS_RUNNING) > 0)
                        supervisor_send_ready(s);
        }
        if (!s->stopping)
                supervisor_reap_draining(s, now);
        else {
                /* A CGI launcher may be the last process to end, and its exit is no worker's: look
                 * once a second whether everything is gone. */
                if (s->current)
                        generation_cgi_finish_if_idle(s->current);
                if (s->pending)
                        generation_cgi_finish_if_idle(s->pending);
                supervisor_check_done(s);
        }
        sd_event_source_set_time(src, usec + MAINTAIN_INTERVAL_USEC);
        return 0;
}

/* ---- the control socket --------------------------------------------------------------------- */

static void control_status(Supervisor *s, ControlClient *c) {
        SupGeneration *sg = s->current;
        ProcessScore *scores = sg ? calloc(sg->g.n_procs, sizeof(*scores)) : NULL;
        ScoreboardView v = {};
        char board[512];
        size_t nb = 0;
        unsigned draining = 0;

        if (!sg || !scores) {
                control_client_reply(c, "ERROR no generation is running");
                free(scores);
                return;
        }
        scoreboard_view_build(sg, &v, scores, now_usec(CLOCK_MONOTONIC));
        for (unsigned i = 0; i < sg->g.n_procs && nb < sizeof(board) - 1; i++) {
                const ProcessSlot *p = &sg->g.procs[i];
                board[nb++] = p->state == PROCESS_FREE     ? '.'
                              : p->state == PROCESS_STARTING ? 'S'
                              : p->state == PROCESS_STOPPING ? 'G'
                              : !scores[i].valid             ? '?'
                              : scores[i].busy > 0           ? 'W'
                              : scores[i].keepalive > 0      ? 'K'
                                                             : '_';
        }
        board[nb] = 0;
        for (SupGeneration *g = s->draining; g; g = g->next)
                draining += generation_alive(g);
        _cleanup_free_ char *failed = site_failure_describe(s, "\nfailed ");
        control_client_reply(c,
                             "OK\npid: %d\ngeneration: %u\nmpm: %s\nuptime: %llu s\nprocesses: %u (starting %u, "
                             "stopping %u)\nworkers: busy %u, idle %u, keepalive %u\nrequests: %llu\nbytes: %llu\n"
                             "invalid scoreboard segments: %u\nold generations' processes: %u\n"
                             "last reload: %s\nstate: %s\nscoreboard: %s%s%s",
                             (int) getpid(), sg->g.number, sg->g.ops->name,
                             (unsigned long long) ((now_usec(CLOCK_MONOTONIC) - s->started) / USEC_PER_SEC),
                             generation_alive(sg), generation_count(sg, PROCESS_STARTING),
                             generation_count(sg, PROCESS_STOPPING), v.busy, v.ready, v.keepalive,
                             (unsigned long long) v.requests, (unsigned long long) v.bytes, v.invalid, draining,
                             s->last_reload ? s->last_reload : "none",
                             s->stopping ? "stopping" : s->pending ? "reloading" : "running", board,
                             failed ? "\nfailed " : "", failed ? failed : "");
        free(scores);
}

/* `processes`: for `mpmctl audit`, "OK MPM", then one line per process, "PID UID GID PROFILE ROLE":
 * the supervisor first (profile "-"), then every process of every generation as planned at its fork. */
static void control_processes_of(const SupGeneration *sg, ControlClient *c) {
        for (unsigned i = 0; sg && i < sg->g.n_procs; i++) {
                const ProcessSlot *p = &sg->g.procs[i];
                if (p->state != PROCESS_FREE)
                        control_client_reply(c, "%d %u %u %s %s", (int) p->pid, (unsigned) p->uid, (unsigned) p->gid,
                                             sandbox_profile_to_string(p->profile), p->role);
        }
        for (size_t i = 0; sg && i < sg->n_cgi; i++) {
                const CgiHost *h = &sg->cgi[i];
                if (cgi_host_running(h))
                        control_client_reply(c, "%d %u %u %s %s", (int) h->pid, (unsigned) h->uid, (unsigned) h->gid,
                                             sandbox_profile_to_string(h->profile), h->role);
        }
}

static void control_processes(Supervisor *s, ControlClient *c) {
        control_client_reply(c, "OK %s\n%d %u %u - supervisor", s->current ? s->current->g.ops->name : "-",
                             (int) getpid(), (unsigned) getuid(), (unsigned) getgid());
        control_processes_of(s->current, c);
        control_processes_of(s->pending, c);
        for (const SupGeneration *g = s->draining; g; g = g->next)
                control_processes_of(g, c);
}

static void on_control_command(void *userdata, ControlClient *c, const char *command) {
        Supervisor *s = userdata;

        if (strcmp(command, "reload") == 0) {
                ConfErrors errors = {};
                if (s->n_reload_waiters >= ELEMENTSOF(s->reload_waiters)) {
                        control_client_reply(c, "ERROR too many reloads waiting");
                        control_client_finish(c);
                        return;
                }
                if (s->pending) {
                        /* Join the reload in progress: its outcome is this call's too. */
                        s->reload_waiters[s->n_reload_waiters++] = c;
                        return;
                }
                int r = supervisor_reload(s, &errors);
                if (r == -EINVAL) {
                        control_client_reply(c, "ERROR reload refused, the running configuration is unchanged:");
                        for (size_t i = 0; i < errors.n; i++)
                                control_client_reply(c, "%s", errors.msgs[i]);
                        conf_errors_done(&errors);
                } else if (r == -ESHUTDOWN)
                        control_client_reply(c, "ERROR mpmd is stopping");
                else if (r < 0)
                        control_client_reply(c, "ERROR reload failed: %s", strerror(-r));
                else {
                        s->reload_waiters[s->n_reload_waiters++] = c;
                        return;
                }
        } else if (strcmp(command, "status") == 0)
                control_status(s, c);
        else if (strcmp(command, "processes") == 0)
                control_processes(s, c);
        else if (strcmp(command, "stop") == 0) {
                control_client_reply(c, "OK stopping gracefully");
                supervisor_graceful_stop(s);
        } else if (strcmp(command, "stop --now") == 0) {
                control_client_reply(c, "OK stopping now");
                s->stopping = true;
                supervisor_hard_stop(s);
        } else if (strcmp(command, "reopen-logs") == 0) {
                int r = supervisor_reopen_logs(s);
                if (r < 0)
                        control_client_reply(c, "ERROR cannot reopen the logs: %s", strerror(-r));
                else
                        control_client_reply(c, "OK logs reopened");
        } else
                control_client_reply(c, "ERROR unknown command \"%s\"", command);
        control_client_finish(c);
}

static const ControlHandler control_handler = {
        .command = on_control_command,
};

int supervisor_run(const SupervisorOptions *opts, Config *config) {
        Supervisor s = { .opts = opts, .started = now_usec(CLOCK_MONOTONIC) };
        char *inherit_error = NULL;
        sigset_t mask;
        int r;

        r = sd_event_default(&s.event);
        if (r < 0)
                return log_error_errno(r, "Cannot create the event loop: %m"), EXIT_FAILURE;

        sigemptyset(&mask);
        for (int sig = 1; sig < _NSIG; sig++)
                if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGUSR1 || sig == SIGWINCH ||
                    sig == SIGCHLD)
                        sigaddset(&mask, sig);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGWINCH };
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++) {
                r = sd_event_add_signal(s.event, NULL, sigs[i], on_signal, &s);
                if (r < 0) {
                        log_error_errno(r, "Cannot watch signal %d: %m", sigs[i]);
                        goto out;
                }
        }

        r = listener_set_inherit(&s.listeners, &inherit_error);
        if (r < 0) {
                log_error_errno(r, "Sockets from systemd: %s", inherit_error ? inherit_error : "%m");
                free(inherit_error);
                goto out;
        }

        r = generation_new(&s, config, &s.current);
        config = NULL; /* owned by the generation now, also on failure */
        if (r < 0)
                goto out;
        /* Its sockets are bound: a port below 1024 needs no more binding (privileges.h). */
        r = privileges_drop_bind();
        if (r < 0) {
                log_error_errno(r, "Cannot drop CAP_NET_BIND_SERVICE: %m");
                goto out;
        }
        site_failure_settle(s.current);
        r = generation_start(s.current);
        if (r < 0) {
                log_error_errno(r, "MPM %s failed to start: %m", s.current->g.ops->name);
                goto out;
        }

        const char *control_path = s.current->config->control_socket;
        r = control_server_new(s.event, control_path, &control_handler, &s, &s.control);
        if (r < 0)
                /* Serving matters more than being controllable: say so and go on. */
                log_warning_errno(r, "No control socket at %s (mpmctl will not reach this mpmd): %m", control_path);

        r = sd_event_add_time_relative(s.event, &s.tick, CLOCK_MONOTONIC, MAINTAIN_INTERVAL_USEC, 0, on_tick, &s);
        if (r < 0)
                goto out;
        (void) sd_event_source_set_enabled(s.tick, SD_EVENT_ON);

        if (sd_watchdog_enabled(false, &s.watchdog_usec) > 0 && s.watchdog_usec > 0) {
                r = sd_event_add_time_relative(s.event, &s.watchdog, CLOCK_MONOTONIC, s.watchdog_usec / 2, 0,
                                               on_watchdog, &s);
                if (r < 0)
                        goto out;
                (void) sd_event_source_set_enabled(s.watchdog, SD_EVENT_ON);
        }

        r = sd_event_loop(s.event);
out:
        if (r < 0)
                sd_notifyf(false, "ERRNO=%d", -r);
        /* Before the generations go: the answer names the current one's failed sites. */
        supervisor_answer_quiesce_waiters(&s);
        if (s.current) {
                generation_stop_all(s.current, false);
                generation_free(s.current);
                s.current = NULL;
        }
        if (s.pending) {
                generation_stop_all(s.pending, false);
                generation_free(s.pending);
                s.pending = NULL;
        }
        free(s.last_reload);
        for (size_t i = 0; i < s.n_reload_waiters; i++) {
                control_client_reply(s.reload_waiters[i], "ERROR mpmd stopped");
                control_client_finish(s.reload_waiters[i]);
        }
        control_server_free(s.control);
        while (s.draining) {
                SupGeneration *next = s.draining->next;
                generation_free(s.draining);
                s.draining = next;
        }
        config_free(config);
        listener_set_done(&s.listeners);
        sd_event_source_unref(s.tick);
        sd_event_source_unref(s.watchdog);
        sd_event_unref(s.event);
        return r < 0 ? EXIT_FAILURE : s.exit_status;
}
