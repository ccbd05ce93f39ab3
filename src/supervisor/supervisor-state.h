/* SPDX-License-Identifier: MIT */
/* supervisor-state.h — the supervisor's state, shared by its own files only: the Supervisor (one
 * sd-event loop, its sockets, its generations) and each generation as the supervisor keeps it.
 * supervisor.c runs the loop (reload, stop, signals, the tick, reopened logs); generation.c builds,
 * starts, drains and frees generations and books their workers' readiness and exits; spawn.c forks
 * the workers the MPMs ask for; control.c answers the control socket's commands; generation-status.c
 * reads the scoreboards and publishes the status; site-failure.c and site-paths.c keep one site's
 * failure its own. The calls go one way, supervisor.c → generation.c → spawn.c: what goes back up
 * goes through function pointers (SupGeneration.on_child_exit, Supervisor.hooks). Nothing outside
 * src/supervisor includes this. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "supervisor/cgi-host.h"
#include "supervisor/config.h"
#include "supervisor/control-socket.h"
#include "supervisor/listeners.h"
#include "mpm/mpm.h"
#include "http/status.h"
#include "supervisor/supervisor.h"

typedef struct Supervisor Supervisor;
typedef struct SupGeneration SupGeneration;

/* What a generation tells the supervisor (generation.c calls them; supervisor.c implements them). */
typedef struct SupervisorHooks {
        /* sg's processes have all started and one accepts (once per generation). */
        void (*ready)(SupGeneration *sg);
        /* A worker of sg exited as one that cannot start (spawn_is_fatal_exit), and it was not a
         * site's own pool. true: the supervisor dealt with it (a refused reload, a failed start)
         * and sg is not to be looked at any more in this event. */
        bool (*cannot_start)(SupGeneration *sg);
        /* A process of sg has exited and been booked: a stopping supervisor may be done. */
        void (*exited)(SupGeneration *sg);
} SupervisorHooks;

/* A hand-off socketpair of the supervisor's (MpmHost.handoff), shared by the generations that use
 * its key; closed when the last one is freed. */
typedef struct SupHandoff {
        char *key;
        int fds[2];
        unsigned users;
        struct SupHandoff *next;
} SupHandoff;

/* CPU time in clock ticks, as /proc/PID/stat has it: a process's own (all its threads) and that of
 * the children it waited for (generation-status.c). */
typedef struct CpuTicks {
        uint64_t utime, stime, cutime, cstime;
} CpuTicks;

/* A generation as the supervisor keeps it: the MPM's view plus what only the supervisor holds. */
struct SupGeneration {
        Generation g;
        Supervisor *sup;
        sd_event_child_handler_t on_child_exit; /* generation.c's, for the workers spawn.c forks */
        Config *config;
        unsigned workers_per_process;
        int ready_channel[2];
        sd_event_source *ready_source;
        sd_event_source **children; /* per slot */
        bool announced_ready;
        usec_t drain_deadline;
        HttpStatusData *status;          /* published once a second; workers see status_ro */
        const HttpStatusData *status_ro;
        ProcessScore retired;            /* what exited workers had served */
        /* Status groups (MpmOps.status_groups), made before the generation's first fork: per group
         * the writable mapping (g.status_groups has the read-only ones) and what its exited workers
         * had served; per slot its group (-1: none). slot_group NULL: no groups (yet). */
        HttpStatusData **group_status;
        ProcessScore *group_retired;
        int *slot_group;
        ScoreboardTrust *trust;          /* per slot: its counters accepted so far (scoreboard.h) */
        int log_channel[2];              /* [0] ours, [1] the workers': reopened logs (log-channel.h) */
        int errlog_channel[2];           /* the same for processes without the access logs: the error log */
        uint32_t logs_epoch;             /* how many times the logs were reopened */
        bool *takes_logs;                /* per slot: the process holds the logs and adopts new ones */
        uint8_t *invalid_ticks;          /* per slot: maintenance passes in a row its segment was invalid */
        bool *misbehaved;                /* per slot: killed for breaking the protocol (counts as a failure) */
        /* Per site (g.http->sites[i]) that this generation could not serve (g.site_failed): how many
         * times in a row, and when its paths are tried again. */
        unsigned *site_failures;
        usec_t *site_retry_at;
        /* CGI launchers: [0] runs as the server's User (when a site without a User of its own has a
         * ScriptAlias), [1 + i] as site i's own User (per-user MPMs, when that site has one). */
        CgiHost *cgi;
        size_t n_cgi;
        SupHandoff **handoffs;       /* the hand-off sockets it uses (MpmHost.handoff) */
        size_t n_handoffs;
        struct SupGeneration *next; /* older generations still draining */
};

struct Supervisor {
        sd_event *event;
        const SupervisorOptions *opts;
        const SupervisorHooks *hooks;
        ListenerSet listeners;
        SupGeneration *current;
        SupGeneration *pending;  /* being started by a reload; becomes current once ready */
        usec_t pending_deadline;
        SupGeneration *draining; /* list of older generations finishing their work */
        SupHandoff *handoffs;
        char *last_reload;       /* "ok" or the first error of the last reload */
        ControlServer *control;
        ControlClient *reload_waiters[16]; /* mpmctl reload calls waiting for the outcome */
        size_t n_reload_waiters;
        /* A committed reload's callers, answered once no older generation takes connections. */
        ControlClient *quiesce_waiters[16];
        size_t n_quiesce_waiters;
        unsigned quiesce_generation;
        usec_t quiesce_deadline;
        sd_event_source *quiesce_timer;
        /* reopen-logs callers, answered once every process has taken its new files. */
        ControlClient *reopen_waiters[16];
        size_t n_reopen_waiters;
        usec_t reopen_deadline;
        sd_event_source *reopen_timer;
        usec_t started;
        CpuTicks reaped_cpu; /* of every worker reaped so far, of any generation (status page's CPU) */
        uint64_t reloads_ok, reloads_partial, reloads_failed; /* results of reloads so far (?metrics) */
        unsigned next_generation;
        /* `mpmctl drain`: still serving, but the load balancer's agent says "drain" (agent-check.h).
         * The node's, not a generation's: it outlives reloads until `mpmctl undrain`. */
        bool drained;
        struct AgentCheck *agent; /* AgentCheck; NULL: none */
        /* A reload that moves AgentCheck: the new listener, bound before the reload is taken (a
         * bind that fails refuses it), which replaces agent when the new generation takes over. */
        bool agent_moves;
        struct AgentCheck *pending_agent;
        usec_t agent_read_at;     /* the last scoreboard reading for it, CLOCK_MONOTONIC … */
        unsigned agent_percent;   /* … and its idle share: a flood of checks reads it once in 100 ms */
        bool stopping;
        bool ready_sent;
        int exit_status;
        usec_t stop_deadline;
        sd_event_source *tick;
        sd_event_source *watchdog;
        uint64_t watchdog_usec;
        /* Session ticket keys (tls-ticket-keys.h): made at start, kept across reloads, rotated from
         * the tick; NULL in a build without TLS. tickets_due and tickets_checked: CLOCK_REALTIME of
         * the next rotation and of the last look (a clock that went back is looked at at once). */
        struct TlsTicketKeys *tickets;
        usec_t tickets_due;
        usec_t tickets_checked;
};

/* spawn.c: the spawn API offered to MPMs (MpmHost), and what a forked process drops of the
 * supervisor (also used by the CGI launcher's fork). */
extern const MpmHost supervisor_host;
void worker_forget_supervisor(Supervisor *s);
/* The hand-off socket called key for g (MpmHost.handoff); supervisor_handoffs_release() when g goes. */
int supervisor_handoff(Generation *g, const char *key, int ret_fds[2]);
void supervisor_handoffs_release(SupGeneration *sg);

/* Also unmap the status segments of every generation but keep (NULL: of all): a process sees its
 * own generation's status only, and of that only what its MPM lets it keep (mpm_status_keep). */
void worker_forget_status(Supervisor *s, const SupGeneration *keep);

/* generation.c */
unsigned generation_count(const SupGeneration *sg, ProcessState state);
unsigned generation_alive(const SupGeneration *sg);
/* No worker and no CGI launcher left. */
bool generation_finished(const SupGeneration *sg);
/* Ask its CGI launchers to finish (now: kill them). */
void generation_cgi_finish(SupGeneration *sg, bool now);
/* A draining generation without workers: its launchers may finish. */
void generation_cgi_finish_if_idle(SupGeneration *sg);
/* (Re)start the CGI launchers of a serving generation. */
void generation_cgi_start(SupGeneration *sg);
/* Build a generation from config (taken over, also on failure): 0 or -errno, logged. */
int generation_new(Supervisor *s, Config *config, SupGeneration **ret);
void generation_free(SupGeneration *sg);
/* Start its CGI launchers and its MPM (which forks the first workers). */
int generation_start(SupGeneration *sg);
/* The once-a-second pass: read the scoreboards, kill the scribblers, let the MPM adjust, publish. */
void generation_maintain(SupGeneration *sg, usec_t now);
/* Tell the hooks when sg has become ready. */
void generation_check_ready(SupGeneration *sg);
/* Stop every process (graceful: SIGTERM, else SIGKILL). */
void generation_stop_all(SupGeneration *sg, bool graceful);
/* Replaced: stop everything but the site pools it keeps for newer generations. */
void generation_drain(SupGeneration *sg, bool graceful);
bool generation_keeps_pools(const SupGeneration *sg);
/* new takes over from old: which site pools of the older generations go on serving. */
void generation_settle_kept_pools(Supervisor *s, SupGeneration *old, SupGeneration *new);
/* No process of this older generation can take a new connection any more. */
bool generation_quiet(const SupGeneration *sg);
/* Reopen its access logs and hand every running process its files (the error log reopened before);
 * 0 or the first -errno. Bumps sg->logs_epoch: what each process acknowledges. */
int generation_reopen_logs(SupGeneration *sg);
/* How many of its running processes have not yet adopted the logs of its latest reopen (each
 * reports the epoch it took: log_channel_report_to()); each is named, ", "-separated, at buf + *len
 * (size bytes in all, *len advanced, always terminated). */
unsigned generation_logs_pending(const SupGeneration *sg, char *buf, size_t size, size_t *len);

/* supervisor.c, for the control commands (control.c). */
int supervisor_reload(Supervisor *s, ConfErrors *errors_out);
void supervisor_graceful_stop(Supervisor *s);
void supervisor_hard_stop(Supervisor *s);
int supervisor_reopen_logs(Supervisor *s);
/* `reopen-logs`: reopen, then answer c once every process has adopted its new files ("OK logs
 * reopened"), or after LOGS_ADOPT_MAX_USEC with an error naming those that did not. */
void supervisor_reopen_logs_and_answer(Supervisor *s, ControlClient *c);
