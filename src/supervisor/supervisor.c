/* SPDX-License-Identifier: MIT */
/* supervisor.c — the supervisor's loop (supervisor.h): signals, the one-second tick and the
 * watchdog; which generation serves (the first start, a reload that commits or is abandoned, the
 * answer to `mpmctl reload` once the old workers stopped accepting); graceful and hard stops; the
 * reopened logs. Generations themselves are generation.c's; this file only decides between them. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <string.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "build-config.h"
#include "supervisor/agent-check.h"
#include "supervisor/config.h"
#include "supervisor/control.h"
#include "supervisor/generation-status.h"
#include "supervisor/listeners.h"
#include "shared/log.h"
#include "shared/message-ids.h"
#include "mpm/maintain.h"
#include "supervisor/privileges.h"
#include "http/server-logs.h"
#include "supervisor/site-failure.h"
#include "supervisor/supervisor-state.h"
#include "supervisor/supervisor.h"
#include "shared/time-util.h"
#if HAVE_TLS
#include "mpm/tls-store.h"
#include "mpm/tls-ticket-keys.h"
#endif

#define MAINTAIN_INTERVAL_USEC (1 * USEC_PER_SEC)
#define STARTUP_TIMEOUT_USEC (30 * USEC_PER_SEC)
#define RELOAD_QUIESCE_MAX_USEC (2 * USEC_PER_SEC)
#define RELOAD_QUIESCE_POLL_USEC (5 * USEC_PER_MSEC)
/* reopen-logs: how long every process has to take its new files, looked at this often. */
#define LOGS_ADOPT_MAX_USEC (5 * USEC_PER_SEC)
#define LOGS_ADOPT_POLL_USEC (5 * USEC_PER_MSEC)

static void supervisor_answer_reload_waiters(Supervisor *s, bool ok, const char *why);
static void supervisor_abandon_reload(Supervisor *s, const char *why);
static AgentState supervisor_agent_state(void *userdata, unsigned *ret_percent);
static void supervisor_answer_quiesce_waiters(Supervisor *s);

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

static void supervisor_send_ready(Supervisor *s) {
        if (s->ready_sent)
                return;
        s->ready_sent = true;
        sd_notify(false, "READY=1");
        log_info_fields(LOG_FIELDS(.message_id = MPMD_MESSAGE_STARTED, .generation = s->current->g.number),
                        "generation %u ready: MPM %s, %u worker processes accepting", s->current->g.number,
                        s->current->g.ops->name, generation_count(s->current, PROCESS_RUNNING));
        supervisor_update_status(s);
}

static void supervisor_commit_reload(Supervisor *s);

/* ListenBacklog for the sockets mpmd bound, at start and when a reload commits (listeners.h).
 * Those of socket units keep their Backlog=: a different one is worth a notice, not a failure. */
static void supervisor_apply_backlog(Supervisor *s, const Config *c) {
        const char *name = NULL;
        unsigned theirs = 0;
        int r = listener_set_backlog(&s->listeners, (int) c->listen_backlog, &name, &theirs);

        if (r < 0)
                log_warning_errno(r, "Cannot set ListenBacklog = %u on %s (it keeps its backlog): %m",
                                  (unsigned) c->listen_backlog, name);
        else if (r > 0)
                log_notice("ListenBacklog = %u does not apply to the sockets systemd passes: %s has %u (its "
                           "unit's Backlog=)%s",
                           (unsigned) c->listen_backlog, name, theirs, r > 1 ? ", and others differ too" : "");
}

/* The supervisor's own error log is the [Server] ErrorLog of the newest generation: the one a
 * reload is starting, else the serving one. Its processes inherit it when they are forked. */
static const char *error_log_of(const SupGeneration *sg) {
        return sg && sg->config->site.error_log ? sg->config->site.error_log : "stderr";
}

static const char *supervisor_error_log(const Supervisor *s) {
        return error_log_of(s->pending ? s->pending : s->current);
}

/* A reload that names another ErrorLog opens it before the new generation forks anything, so that
 * its workers and CGI launchers inherit it. log_open() keeps the old file when the new one cannot
 * be opened: then the reload is refused, with the reason in errors. */
static int supervisor_move_error_log(const char *from, const char *to, const char *file, ConfErrors *errors) {
        int r;

        if (strcmp(from, to) == 0)
                return 0;
        log_notice("reload: the error log moves to %s", to);
        r = log_open(to);
        if (r < 0) {
                conf_errors_add(errors, file, 0, "ErrorLog %s: cannot open it: %s (the error log stays %s)", to,
                                strerror(-r), from);
                return r;
        }
        log_notice("reload: the error log moved here from %s", from);
        return 0;
}

/* A reload that moved the error log did not happen after all: back to the serving generation's. */
static void supervisor_restore_error_log(Supervisor *s, const char *moved_to) {
        const char *target = error_log_of(s->current);
        int r;

        if (strcmp(moved_to, target) == 0)
                return;
        log_notice("reload failed: the error log returns to %s", target);
        r = log_open(target);
        if (r < 0)
                log_error_errno(r, "Cannot reopen the error log %s, staying with %s: %m", target, moved_to);
        else
                log_notice("the error log is back from %s, where the failed reload logged why", moved_to);
}

/* ---- session ticket keys -------------------------------------------------------------------- */

#if HAVE_TLS
/* Right after a generation is built, before it forks: each TLS site's context encrypts its tickets
 * with its site's ring, found by name (a vhost that stays keeps its keys: sessions made before a
 * reload resume after it), made for a new site. */
static int supervisor_attach_tickets(Supervisor *s, SupGeneration *sg) {
        TlsStore *store = sg->g.tls ? sg->g.tls : sg->g.tls_sealed; /* sealed: the pools attach them */
        int r;

        if (!store)
                return 0;
        tls_ticket_keys_begin_generation(s->tickets, sg->g.number);
        r = tls_store_attach_tickets(store, s->tickets, now_usec(CLOCK_REALTIME));
        if (r < 0)
                return log_error_errno(r, "generation %u: cannot set up the session ticket keys: %m", sg->g.number);
        s->tickets_due = 0; /* a new ring may be due before the others: the next tick asks */
        return 0;
}

/* From the tick: a rotation is at most a second late (the shortest period is a second). */
static void supervisor_rotate_tickets(Supervisor *s) {
        usec_t now = now_usec(CLOCK_REALTIME);

        if (!s->tickets)
                return;
        if (now >= s->tickets_due || now < s->tickets_checked)
                s->tickets_due = tls_ticket_keys_rotate(s->tickets, now);
        s->tickets_checked = now;
}

/* The rings of sites no live generation serves are wiped and unmapped: each generation marked the
 * rings it uses, and generation numbers only grow. */
static void supervisor_release_tickets(Supervisor *s) {
        unsigned oldest = UINT_MAX;

        if (!s->tickets)
                return;
        if (s->current)
                oldest = MIN(oldest, s->current->g.number);
        if (s->pending)
                oldest = MIN(oldest, s->pending->g.number);
        for (SupGeneration *g = s->draining; g; g = g->next)
                oldest = MIN(oldest, g->g.number);
        if (oldest != UINT_MAX)
                tls_ticket_keys_release(s->tickets, oldest);
}
#endif

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
        if (strcmp(result, "ok") == 0)
                s->reloads_ok++;
        else if (strncmp(result, "partial", 7) == 0)
                s->reloads_partial++;
        else
                s->reloads_failed++;
        supervisor_update_status(s);
}

/* A reload that names another AgentCheck (or none) listens there before it is taken, so that an
 * address it cannot bind refuses the reload and the agent goes on answering where it was. */
static int supervisor_move_agent(Supervisor *s, const char *to, const char *file, ConfErrors *errors) {
        const char *from = s->current->config->agent_check;
        int r;

        s->agent_moves = false;
        if (streq_ptr(from, to))
                return 0;
        if (to) {
                r = agent_check_open(s->event, to, supervisor_agent_state, s, &s->pending_agent);
                if (r < 0) {
                        conf_errors_add(errors, file, 0, "AgentCheck = %s: cannot listen there: %s (the agent stays %s%s)",
                                        to, strerror(-r), from ? "at " : "off", from ? from : "");
                        return r;
                }
        }
        s->agent_moves = true;
        return 0;
}

/* The reload that moved the agent is not taken after all. */
static void supervisor_keep_agent(Supervisor *s) {
        s->pending_agent = agent_check_free(s->pending_agent);
        s->agent_moves = false;
}

static void supervisor_abandon_reload(Supervisor *s, const char *why) {
        SupGeneration *sg = s->pending;

        s->pending = NULL;
        supervisor_keep_agent(s);
        supervisor_restore_error_log(s, error_log_of(sg));
        log_set_max_level(s->current->config->log_level);
        log_error("reload abandoned: %s; generation %u keeps serving", why, s->current->g.number);
        generation_stop_all(sg, false);
        /* Its workers are reaped through the draining list. */
        sg->drain_deadline = 0;
        sg->next = s->draining;
        s->draining = sg;
        sd_notify(false, "READY=1");
        supervisor_set_reload_result(s, why);
        supervisor_answer_reload_waiters(s, false, why);
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
        supervisor_apply_backlog(s, s->current->config);
        if (s->agent_moves) {
                agent_check_free(s->agent);
                s->agent = TAKE_PTR(s->pending_agent);
                s->agent_moves = false;
                log_notice("reload: the agent answers %s%s", s->agent ? "at " : "nowhere now",
                           s->current->config->agent_check ? s->current->config->agent_check : "");
        }
        old->drain_deadline = now + s->current->config->graceful_reload_timeout;
        generation_settle_kept_pools(s, old, s->current);
        generation_drain(old, true);
        old->next = s->draining;
        s->draining = old;
        log_notice_fields(LOG_FIELDS(.message_id = MPMD_MESSAGE_RELOAD_DONE, .generation = s->current->g.number),
                          "reload: generation %u serves, generation %u finishes its requests", s->current->g.number,
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
int supervisor_reload(Supervisor *s, ConfErrors *errors_out) {
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
        if (r >= 0)
                r = supervisor_move_agent(s, c->agent_check, c->main_file, &errors);
        if (r >= 0)
                r = supervisor_move_error_log(supervisor_error_log(s),
                                              c->site.error_log ? c->site.error_log : "stderr", c->main_file,
                                              &errors);
        if (r < 0)
                supervisor_keep_agent(s);
        for (size_t i = 0; i < warnings.n; i++)
                log_warning_fields(LOG_FIELDS(.unlimited = true), "%s", warnings.msgs[i]);
        if (r < 0) {
                for (size_t i = 0; i < errors.n; i++)
                        log_error("%s", errors.msgs[i]);
                log_error_fields(LOG_FIELDS(.message_id = MPMD_MESSAGE_RELOAD_REFUSED, .generation = s->current->g.number),
                                 "reload refused: %zu error%s; generation %u keeps serving unchanged", errors.n,
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
        /* The new LogLevel from here on: the new generation's processes inherit it when they fork
         * (the old ones keep theirs); a reload that does not happen after all restores the old. */
        log_set_max_level(c->log_level);
        /* generation_new() frees c when it fails: what it opened as the error log, kept. */
        _cleanup_free_ char *c_error_log = strdup(c->site.error_log ? c->site.error_log : "stderr");
        r = generation_new(s, c, &s->pending);
#if HAVE_TLS
        if (r >= 0 && (r = supervisor_attach_tickets(s, s->pending)) < 0) {
                s->pending->g.draining = true;
                supervisor_abandon_reload(s, "the session ticket keys could not be set up");
                return r;
        }
#endif
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
                supervisor_keep_agent(s);
                supervisor_restore_error_log(s, c_error_log ? c_error_log : "");
                log_set_max_level(s->current->config->log_level);
                sd_notify(false, "READY=1");
                supervisor_set_reload_result(s, "reload failed: the new generation could not be built");
                return r;
        }
        s->pending_deadline = now_usec(CLOCK_MONOTONIC) + STARTUP_TIMEOUT_USEC;
        return 0;
}

/* ---- signals and the tick ------------------------------------------------------------------- */

void supervisor_hard_stop(Supervisor *s) {
        log_notice_fields(LOG_FIELDS(.message_id = MPMD_MESSAGE_STOPPING,
                                     .generation = s->current ? s->current->g.number : 0),
                          "stopping now: killing every worker");
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
        supervisor_publish_node_state(s);
        supervisor_check_done(s);
}

void supervisor_graceful_stop(Supervisor *s) {
        usec_t timeout = s->current ? s->current->config->graceful_shutdown_timeout : 0;

        if (s->stopping) {
                supervisor_hard_stop(s);
                return;
        }
        s->stopping = true;
        supervisor_publish_node_state(s);
        sd_notify(false, "STOPPING=1");
        log_notice_fields(LOG_FIELDS(.message_id = MPMD_MESSAGE_STOPPING,
                                     .generation = s->current ? s->current->g.number : 0),
                          "graceful stop: letting workers finish (at most %llu s)",
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

int supervisor_reopen_logs(Supervisor *s) {
        /* While a reload starts, the new generation's: the supervisor writes there already. */
        const char *target = supervisor_error_log(s);
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

/* What has not adopted the latest logs yet, every generation's: how many, named in buf. */
static unsigned supervisor_logs_pending(Supervisor *s, char *buf, size_t size) {
        size_t len = 0;
        unsigned n = 0;

        buf[0] = 0;
        if (s->current)
                n += generation_logs_pending(s->current, buf, size, &len);
        if (s->pending)
                n += generation_logs_pending(s->pending, buf, size, &len);
        for (SupGeneration *g = s->draining; g; g = g->next)
                n += generation_logs_pending(g, buf, size, &len);
        return n;
}

static void supervisor_answer_reopen_waiters(Supervisor *s, const char *pending) {
        for (size_t i = 0; i < s->n_reopen_waiters; i++) {
                if (pending)
                        control_client_reply(s->reopen_waiters[i],
                                             "ERROR logs reopened, but not adopted within %llu s by: %s",
                                             (unsigned long long) (LOGS_ADOPT_MAX_USEC / USEC_PER_SEC), pending);
                else
                        control_client_reply(s->reopen_waiters[i], "OK logs reopened");
                control_client_finish(s->reopen_waiters[i]);
        }
        s->n_reopen_waiters = 0;
        s->reopen_timer = sd_event_source_disable_unref(s->reopen_timer);
}

/* Each process adopts its files between two events of its own (or in its signal handler): look
 * again shortly until all have, or the bound is reached. */
static int on_reopen_check(sd_event_source *src, uint64_t usec, void *userdata) {
        Supervisor *s = userdata;
        char pending[2048];

        if (supervisor_logs_pending(s, pending, sizeof(pending)) == 0) {
                supervisor_answer_reopen_waiters(s, NULL);
                return 0;
        }
        if (now_usec(CLOCK_MONOTONIC) < s->reopen_deadline) {
                (void) sd_event_source_set_time_relative(src, LOGS_ADOPT_POLL_USEC);
                (void) sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
                return 0;
        }
        log_warning("reopen-logs: not adopted within %llu s by: %s",
                    (unsigned long long) (LOGS_ADOPT_MAX_USEC / USEC_PER_SEC), pending);
        supervisor_answer_reopen_waiters(s, pending);
        return 0;
}

void supervisor_reopen_logs_and_answer(Supervisor *s, ControlClient *c) {
        int r;

        if (s->n_reopen_waiters >= ELEMENTSOF(s->reopen_waiters)) {
                control_client_reply(c, "ERROR too many reopen-logs waiting");
                control_client_finish(c);
                return;
        }
        r = supervisor_reopen_logs(s);
        if (r < 0) {
                control_client_reply(c, "ERROR cannot reopen the logs: %s", strerror(-r));
                control_client_finish(c);
                return;
        }
        /* A later reopen's callers wait for the later epoch, and so do the earlier ones now. */
        s->reopen_waiters[s->n_reopen_waiters++] = c;
        s->reopen_deadline = now_usec(CLOCK_MONOTONIC) + LOGS_ADOPT_MAX_USEC;
        if (s->reopen_timer)
                return;
        r = sd_event_add_time_relative(s->event, &s->reopen_timer, CLOCK_MONOTONIC, 0, 0, on_reopen_check, s);
        if (r < 0) {
                log_warning_errno(r, "Cannot wait for the processes to adopt the reopened logs: %m");
                supervisor_answer_reopen_waiters(s, NULL);
        }
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
#if HAVE_TLS
        supervisor_rotate_tickets(s);
#endif
        if (!s->stopping) {
                supervisor_reap_draining(s, now);
#if HAVE_TLS
                supervisor_release_tickets(s);
#endif
        } else {
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

/* ---- what the generations tell ------------------------------------------------------------- */

static void on_generation_ready(SupGeneration *sg) {
        Supervisor *s = sg->sup;

        if (sg == s->current)
                supervisor_send_ready(s);
        else if (sg == s->pending)
                supervisor_commit_reload(s);
}

static bool on_generation_cannot_start(SupGeneration *sg) {
        Supervisor *s = sg->sup;

        if (sg == s->pending) {
                supervisor_abandon_reload(s, "a worker of the new configuration could not start");
                return true;
        }
        if (sg == s->current && !s->ready_sent) {
                /* The first generation cannot start: fail the start now, clearly, rather than let
                 * systemd wait for a READY=1 that will never come. */
                log_error("workers cannot start; stopping (fix the error above and start again)");
                s->exit_status = EXIT_FAILURE;
                sd_notifyf(false, "STATUS=workers cannot start\nERRNO=%d", EPERM);
                supervisor_hard_stop(s);
                return true;
        }
        return false;
}

static void on_generation_exited(SupGeneration *sg) {
        supervisor_check_done(sg->sup);
}

static const SupervisorHooks supervisor_hooks = {
        .ready = on_generation_ready,
        .cannot_start = on_generation_cannot_start,
        .exited = on_generation_exited,
};

/* Does a process of sg that serves requests run (accepting)? A perchild dispatcher alone does not
 * count: it accepts, but the connections it passes on wait for a pool. */
static bool supervisor_generation_serves(const SupGeneration *sg) {
        for (unsigned i = 0; i < sg->g.n_procs; i++)
                if (sg->g.procs[i].state == PROCESS_RUNNING &&
                    (!sg->g.ops->slot_serves || sg->g.ops->slot_serves(&sg->g, i)))
                        return true;
        return false;
}

/* What the load balancer's agent is told (agent-check.h): maint while stopping, drain while drained,
 * down while no process of the serving generation that serves requests accepts (every worker, or
 * under perchild every pool, is gone and not yet replaced), else the share of idle capacity. In
 * use is what each process holds: its busy and kept-alive workers, or its open connections (event,
 * perchild), whichever is more. */
static AgentState supervisor_agent_state(void *userdata, unsigned *ret_percent) {
        Supervisor *s = userdata;
        SupGeneration *sg = s->current;

        if (s->stopping)
                return AGENT_MAINT;
        if (s->drained)
                return AGENT_DRAIN;
        if (!sg || !supervisor_generation_serves(sg))
                return AGENT_DOWN;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        if (s->agent_read_at > 0 && now < s->agent_read_at + AGENT_CHECK_READ_INTERVAL_USEC) {
                *ret_percent = s->agent_percent;
                return AGENT_READY;
        }
        _cleanup_free_ ProcessScore *scores = calloc(sg->g.n_procs, sizeof(ProcessScore));
        if (!scores) {
                *ret_percent = 1;
                return AGENT_READY;
        }
        ScoreboardView v;
        generation_scoreboard_view(sg, &v, scores, now);
        unsigned in_use = 0, started = 0;
        for (unsigned i = 0; i < v.n_procs; i++) {
                unsigned workers = scores[i].busy + scores[i].keepalive;
                in_use += MAX(workers, (unsigned) scores[i].connections_open);
                started += scores[i].ready + workers;
        }
        unsigned capacity = sg->g.ops->capacity ? sg->g.ops->capacity(&sg->g) : started;
        *ret_percent = s->agent_percent = agent_check_percent(capacity, in_use);
        s->agent_read_at = now;
        return AGENT_READY;
}

int supervisor_run(const SupervisorOptions *opts, Config *config) {
        Supervisor s = { .opts = opts, .hooks = &supervisor_hooks, .started = now_usec(CLOCK_MONOTONIC) };
        char *inherit_error = NULL;
        bool config_error = false;
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

#if HAVE_TLS
        /* Before the first generation, and never again: reloads keep every site's keys. */
        r = tls_ticket_keys_new(&s.tickets);
        if (r < 0) {
                log_error_errno(r, "Cannot set up the session ticket keys: %m");
                goto out;
        }
#endif
        r = generation_new(&s, config, &s.current);
        config = NULL; /* owned by the generation now, also on failure */
        if (r == -ENXIO)
                /* A Listen value that names a socket systemd did not pass: the configuration's
                 * fault as much as a bad key, so exit as for one (78): systemd does not restart a
                 * start that cannot succeed (RestartPreventExitStatus=78 in mpmd.service). */
                config_error = true;
        if (r < 0)
                goto out;
#if HAVE_TLS
        r = supervisor_attach_tickets(&s, s.current);
        if (r < 0)
                goto out;
#endif
        listener_set_drop_unserved(&s.listeners, s.current->g.listeners, s.current->g.n_listeners);
        supervisor_apply_backlog(&s, s.current->config);
        if (s.current->config->agent_check) {
                /* Before the bind privilege goes, like the listeners. Not serving the agent would
                 * leave HAProxy's view of this node wrong: the start fails. */
                r = agent_check_open(s.event, s.current->config->agent_check, supervisor_agent_state, &s, &s.agent);
                if (r < 0) {
                        log_error_errno(r, "AgentCheck = %s: cannot listen there: %m", s.current->config->agent_check);
                        goto out;
                }
        }
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
        r = supervisor_control_open(&s, control_path);
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
        for (size_t i = 0; i < s.n_reopen_waiters; i++) {
                control_client_reply(s.reopen_waiters[i], "ERROR mpmd stopped");
                control_client_finish(s.reopen_waiters[i]);
        }
        sd_event_source_unref(s.reopen_timer);
        control_server_free(s.control);
        agent_check_free(s.agent);
        agent_check_free(s.pending_agent);
        while (s.draining) {
                SupGeneration *next = s.draining->next;
                generation_free(s.draining);
                s.draining = next;
        }
        config_free(config);
#if HAVE_TLS
        tls_ticket_keys_free(s.tickets); /* after every generation: wipes the keys */
#endif
        listener_set_done(&s.listeners);
        sd_event_source_unref(s.tick);
        sd_event_source_unref(s.watchdog);
        sd_event_unref(s.event);
        return r < 0 ? (config_error ? EX_CONFIG : EXIT_FAILURE) : s.exit_status;
}

