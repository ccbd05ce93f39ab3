/* SPDX-License-Identifier: MIT */
/* control.c — the supervisor's control commands (control.h), one handler each in a table. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/control.h"
#include "supervisor/generation-status.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "mpm/sandbox.h"
#include "supervisor/site-failure.h"
#include "supervisor/status-view.h"
#include "supervisor/supervisor-state.h"
#include "shared/time-util.h"

static void control_status(void *userdata, ControlClient *c) {
        Supervisor *s = userdata;
        SupGeneration *sg = s->current;
        ProcessScore *scores = sg ? calloc(sg->g.n_procs, sizeof(*scores)) : NULL;
        ScoreboardView v = {};
        char board[512];
        unsigned draining = 0;

        if (!sg || !scores) {
                control_client_reply(c, "ERROR no generation is running");
                free(scores);
                return;
        }
        generation_scoreboard_view(sg, &v, scores, now_usec(CLOCK_MONOTONIC));
        status_view_board(&(StatusSource) { .procs = sg->g.procs, .scores = scores, .n_procs = sg->g.n_procs },
                          board, sizeof(board));
        for (SupGeneration *g = s->draining; g; g = g->next)
                draining += generation_alive(g);
        _cleanup_free_ char *failed = site_failure_describe(s, "\nfailed ");
        control_client_reply(c,
                             "OK\npid: %d\ngeneration: %u\nmpm: %s\nuptime: %llu s\nprocesses: %u (starting %u, "
                             "stopping %u)\nworkers: busy %u, idle %u, keepalive %u\nrequests: %llu\nbytes: %llu\n"
                             "tls hellos refused: %llu\ntls names unrecognized: %llu\nproxy refused: %llu\n"
                             "invalid scoreboard segments: %u\nold generations' processes: %u\n"
                             "last reload: %s\nstate: %s\nscoreboard: %s%s%s",
                             (int) getpid(), sg->g.number, sg->g.ops->name,
                             (unsigned long long) ((now_usec(CLOCK_MONOTONIC) - s->started) / USEC_PER_SEC),
                             generation_alive(sg), generation_count(sg, PROCESS_STARTING),
                             generation_count(sg, PROCESS_STOPPING), v.busy, v.ready, v.keepalive,
                             (unsigned long long) v.requests, (unsigned long long) v.bytes,
                             (unsigned long long) v.tls_hellos_refused, (unsigned long long) v.tls_names_unrecognized,
                             (unsigned long long) v.proxy_refused,
                             v.invalid, draining,
                             s->last_reload ? s->last_reload : "none",
                             s->stopping ? "stopping" : s->pending ? "reloading" : s->drained ? "running, drained" : "running", board,
                             failed ? "\nfailed " : "", failed ? failed : "");
        free(scores);
}

/* `processes`: for `mpmctl audit`, "OK MPM", then one line per process,
 * "PID UID GID PROFILE connect=FAMILIES ROLE": the supervisor first (profile "-", connect=any: it
 * has no filter), then every process of every generation as planned at its fork. */
static void control_processes_of(const SupGeneration *sg, ControlClient *c) {
        char connect[SANDBOX_CONNECT_TEXT_MAX];

        for (unsigned i = 0; sg && i < sg->g.n_procs; i++) {
                const ProcessSlot *p = &sg->g.procs[i];
                if (p->state != PROCESS_FREE)
                        control_client_reply(
                                c, "%d %u %u %s connect=%s %s", (int) p->pid, (unsigned) p->uid, (unsigned) p->gid,
                                sandbox_profile_to_string(p->profile),
                                sandbox_connect_format(sandbox_connect_families(p->profile, p->upstream_families),
                                                       connect),
                                p->role);
        }
        for (size_t i = 0; sg && i < sg->n_cgi; i++) {
                const CgiHost *h = &sg->cgi[i];
                if (cgi_host_running(h))
                        control_client_reply(c, "%d %u %u %s connect=%s %s", (int) h->pid, (unsigned) h->uid,
                                             (unsigned) h->gid, sandbox_profile_to_string(h->profile),
                                             sandbox_connect_format(sandbox_connect_families(h->profile, 0), connect),
                                             h->role);
        }
}

static void control_processes(void *userdata, ControlClient *c) {
        Supervisor *s = userdata;
        control_client_reply(c, "OK %s\n%d %u %u - connect=any supervisor", s->current ? s->current->g.ops->name : "-",
                             (int) getpid(), (unsigned) getuid(), (unsigned) getgid());
        control_processes_of(s->current, c);
        control_processes_of(s->pending, c);
        for (const SupGeneration *g = s->draining; g; g = g->next)
                control_processes_of(g, c);
}

/* `reload`: answered once the new generation serves (or the reload failed): supervisor.c keeps the
 * client among its reload waiters. */
static void control_reload(void *userdata, ControlClient *c) {
        Supervisor *s = userdata;
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
        if (r >= 0) {
                s->reload_waiters[s->n_reload_waiters++] = c;
                return;
        }
        if (r == -EINVAL) {
                control_client_reply(c, "ERROR reload refused, the running configuration is unchanged:");
                for (size_t i = 0; i < errors.n; i++)
                        control_client_reply(c, "%s", errors.msgs[i]);
                conf_errors_done(&errors);
        } else if (r == -ESHUTDOWN)
                control_client_reply(c, "ERROR mpmd is stopping");
        else
                control_client_reply(c, "ERROR reload failed: %s", strerror(-r));
        control_client_finish(c);
}

static void control_stop(void *userdata, ControlClient *c) {
        control_client_reply(c, "OK stopping gracefully");
        supervisor_graceful_stop(userdata);
}

static void control_stop_now(void *userdata, ControlClient *c) {
        Supervisor *s = userdata;

        control_client_reply(c, "OK stopping now");
        s->stopping = true;
        supervisor_hard_stop(s);
}

/* `reopen-logs`: answered once every process took its new files (supervisor.c). */
static void control_reopen_logs(void *userdata, ControlClient *c) {
        supervisor_reopen_logs_and_answer(userdata, c);
}

/* `drain` and `undrain`: the node keeps serving; only what the load balancer's agent says changes
 * (agent-check.h). Kept across reloads: it is the node's state. */
static void control_drain(void *userdata, ControlClient *c) {
        Supervisor *s = userdata;

        if (!s->drained)
                log_notice("drained: the load balancer's agent now says \"drain\" (mpmctl undrain ends it)");
        s->drained = true;
        supervisor_publish_node_state(s);
        control_client_reply(c, "OK drained%s", s->agent ? "" : " (no AgentCheck is configured: nobody is told)");
}

static void control_undrain(void *userdata, ControlClient *c) {
        Supervisor *s = userdata;

        if (s->drained)
                log_notice("undrained: the load balancer's agent says \"ready\" again");
        s->drained = false;
        supervisor_publish_node_state(s);
        control_client_reply(c, "OK undrained");
}

static const ControlCommand control_commands[] = {
        { "reload", control_reload, CONTROL_DEFERRED },
        { "status", control_status, 0 },
        { "processes", control_processes, 0 },
        { "stop", control_stop, 0 },
        { "stop --now", control_stop_now, 0 },
        { "reopen-logs", control_reopen_logs, CONTROL_DEFERRED },
        { "drain", control_drain, 0 },
        { "undrain", control_undrain, 0 },
};

int supervisor_control_open(Supervisor *s, const char *path) {
        return control_server_new(s->event, path, control_commands, ELEMENTSOF(control_commands), s, &s->control);
}
