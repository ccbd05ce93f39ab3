/* SPDX-License-Identifier: MIT */
/* mpm.h — the Multi-Processing Module interface.
 *
 * An MPM decides how many worker processes (and threads) exist and what each does; the supervisor
 * does the forking, watching and killing for it (MpmHost, the spawn API) so that no MPM touches
 * sd-event or pidfds. One const MpmOps table per MPM. Its directives live in its own section
 * ([prefork], [worker], …) and are parsed by the loader from ops->directives into a struct of
 * ops->config_size bytes that the MPM alone interprets.
 *
 * Supervisor side: start() once per generation, maintain() once a second with a validated copy of
 * the scoreboard, drain() to let a generation finish. Child side: worker_main() runs in a freshly
 * forked, already sandboxed process and returns its exit status. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "shared/conf-table.h"
#include "mpm/sandbox.h"
#include "mpm/scoreboard.h"

#define MPM_MAGIC_NUMBER 2026120805u /* module ABI: a module built for another version is refused */

enum {
        MPM_FORKED = 1u << 0,   /* several processes */
        MPM_THREADED = 1u << 1, /* several threads per process */
        MPM_PER_USER = 1u << 2, /* processes run as per-site users */
};

typedef struct HttpServer HttpServer;
typedef struct Generation Generation;

typedef struct Listener {
        int fd;
        char *name;    /* "127.0.0.1:8080" or the systemd socket name */
        uint16_t port; /* its local port, looked up once (0: unknown) */
        bool tls;      /* HTTPS: Listen = https://ADDR:PORT, or systemd's "https" / "vhost-https:NAME" */
        bool proxy_protocol; /* each connection starts with a PROXY header (RemoteIPProxyProtocol) */
} Listener;

/* Is a Listen value or a listener's name TLS: "https://ADDR:PORT", or the systemd socket names "https"
 * and "vhost-https:NAME" (mpmd-vhost-https@NAME.socket)? The one rule: the supervisor marks its
 * Listener.tls by it, and the certificate store (tls-store.h) and the configuration check know the
 * TLS listeners of a configuration from its Listen values alone. */
#define LISTEN_HTTPS_PREFIX "https://"
static inline bool listener_name_is_tls(const char *name) {
        return name && (strncmp(name, LISTEN_HTTPS_PREFIX, strlen(LISTEN_HTTPS_PREFIX)) == 0 ||
                        strcmp(name, "https") == 0 || strncmp(name, "vhost-https:", 12) == 0);
}

/* What a worker process is given. Everything here belongs to its generation. */
typedef struct WorkerContext {
        const Generation *generation;
        unsigned slot;             /* index of this process in the generation's process table */
        ScoreboardProcess *board;  /* this process's own scoreboard segment, writable */
        int stop_fd;               /* signalfd: SIGTERM = finish gracefully, SIGINT = stop now */
        int ready_fd;              /* write the slot number (uint32_t) here once accepting, then close */
} WorkerContext;

/* What the process forked into one slot becomes: the supervisor fills in the default (the server's
 * User and Group, the MPM's sandbox profile, every listener, document root and log kept open) and
 * an MPM with per-slot roles (perchild) changes it in child_plan(). Descriptors not kept are closed
 * before the sandbox is applied; stdio, the stop signalfd and the readiness pipe are always kept. */
#define MPM_CHILD_KEEP_MAX 64
typedef struct MpmChildPlan {
        SandboxPolicy policy;
        const char *role;     /* for log lines and the process title: "worker", "pool NAME", … */
        bool keep_listeners;  /* every listener of the generation */
        bool keep_site_roots; /* every site's DocumentRoot */
        bool keep_logs;       /* every CustomLog of the generation */
        bool reopen_in_loop;  /* SIGUSR1 (reopened logs) arrives on stop_fd, and the loop calls
                               * mpm_worker_reopen_logs(); otherwise a handler adopts the files */
        int cgi_fd;           /* the CGI launcher socket this process sends to (kept open); -1: none */
        int keep_fds[MPM_CHILD_KEEP_MAX]; /* and these */
        size_t n_keep_fds;
} MpmChildPlan;

/* A loop whose plan has reopen_in_loop read SIGUSR1 from stop_fd: adopt the files the supervisor
 * reopened (the error log, and its access logs for a process that holds them), and when own_logs,
 * reopen those this process opened itself (a perchild site's pool, with the site's rights). */
void mpm_worker_reopen_logs(const Generation *g, bool own_logs);

/* Called by worker_main once it accepts connections: tells the supervisor (readiness pipe). */
void worker_context_notify_ready(const WorkerContext *ctx);

/* The spawn API the supervisor offers an MPM. */
typedef struct MpmHost {
        /* Fork a worker into slot of g; in the child, ops->worker_main runs after the sandbox is
         * in place. Returns 0 or -errno (-EAGAIN while spawning is backed off after failures). */
        int (*spawn)(Generation *g, unsigned slot);
        /* Ask the worker in slot to finish gracefully (true) or stop now (false). */
        void (*stop)(Generation *g, unsigned slot, bool graceful);
        /* The hand-off socketpair (SOCK_SEQPACKET, close-on-exec) called key: the supervisor's,
         * kept while any generation uses it, so that the same key (one site's pool) gets the same
         * socket in every generation: [0] to send, [1] to receive. g uses it until it is freed; the
         * descriptors must not be closed by the MPM. Returns 0 or -errno. */
        int (*handoff)(Generation *g, const char *key, int ret_fds[2]);
} MpmHost;

/* ProcessState: scoreboard.h (its letter is the scoreboard's). */
/* Supervisor's record of one worker process; the scoreboard never overrides it. */
typedef struct ProcessSlot {
        ProcessState state;
        pid_t pid;
        usec_t started;
        /* What the process was planned to be (MpmChildPlan, recorded at the fork), for `mpmctl
         * audit`: the kernel's view of the process is checked against these. */
        char role[64];
        uid_t uid;
        gid_t gid;
        SandboxProfile profile;
        uint32_t upstream_families; /* its SandboxPolicy's: the families it may connect with */
        /* MPM_PER_USER: the crash back-off is per slot, so that one site's pool that cannot start
         * never holds back the replacement of another site's processes. */
        unsigned start_failures;
        usec_t spawn_not_before;
} ProcessSlot;

/* The identity a site's processes would run as (perchild): User and Group of its section. */
typedef struct MpmSiteUser {
        const char *user; /* NULL: the section has no User (the site shares the server's pool) */
        uid_t uid;        /* (uid_t) -1 when not set */
        gid_t gid;        /* (gid_t) -1 when not set */
        unsigned processes; /* perchild: PoolProcesses of the section; 0: the MPM's default */
} MpmSiteUser;

/* One loaded configuration: its MPM settings, its engine, its sockets and its processes. */
struct Generation {
        unsigned number;
        const struct MpmOps *ops;
        const void *mpm_config;
        HttpServer *http;
        MpmSiteUser *site_users; /* one per http->sites[i]; [0] is [Server]'s User and Group */
        /* Per-user MPMs, one per http->sites[i]: why this generation cannot serve the site with a
         * pool of its own (a path or log of the site's that cannot be opened as the site, or a pool
         * that could not start); NULL when it can. Such a site's pool runs as a stand-in that
         * answers 503 (HttpSite.unavailable), unless site_kept[i]: then the pool of an older
         * generation serves it and this generation starts none (see supervisor.c, "one site's
         * failure stays its own"). Set by the supervisor before the processes fork. */
        char **site_failed;
        bool *site_kept;
        /* Per slot: a site's pool process that keeps serving while its generation drains, because
         * the newer generations could not start that site; the MPM keeps these slots filled. */
        bool *slot_kept;
        int cgi_fd;              /* workers send CGI launch requests here (cgi-launcher.h); -1: no CGI */
        int *site_cgi_fds;       /* per site: its own User's launcher (per-user MPMs); -1: none */
        Listener *listeners;
        size_t n_listeners;
        /* The certificates, keys and TLS settings of the sites (tls-store.h); NULL when no listener
         * is TLS or the build has no TLS. Built before workers fork; read-only in them. Per-user
         * MPMs: NULL in the supervisor, the dispatchers and the CGI launchers; in a site's pool, the
         * pool's own store (its sites only), made from tls_sealed when the pool starts. */
        struct TlsStore *tls;
        /* Per-user MPMs: the sealed store (tls-store.h, key custody): each site's material as a
         * sealed memfd, no parsed key; the supervisor's, for the generation's life. NULL elsewhere. */
        struct TlsStore *tls_sealed;
        /* The client contexts of the https:// ProxyPass targets (tls-upstream.h), the
         * configuration's, which the targets point into; NULL without any. Read-only in workers,
         * but for a per-user MPM's: there the supervisor's list is sealed (no client certificate
         * loaded, each file's memfd kept for the generation's life) and a site's pool loads its own
         * sites' client certificates into its copy when it starts. */
        struct TlsUpstreamClients *tls_upstreams;
        ProcessSlot *procs;
        ScoreboardProcess **boards; /* read-only mappings, one per slot, NULL when free */
        unsigned n_procs;           /* the table's size: ServerLimit */
        void *mpm_state;            /* the MPM's own supervisor-side state */
        /* Workers that died before accepting, in a row: no spawn before spawn_not_before, so a
         * worker that cannot start never becomes a fork loop. Reset when one becomes ready. */
        unsigned start_failures;
        usec_t spawn_not_before;
        bool draining;
        /* At a reload: how many processes the generation it replaces was running. An MPM that
         * grows with load starts with as many, so that the load it takes over is not queued while
         * it ramps up from StartServers (0 at the first start). */
        unsigned inherited_processes;
        const MpmHost *host;
        /* The status segments of the status groups (MpmOps.status_groups), read-only: [k] holds
         * group k's processes only. NULL without groups; http->status is the server's. */
        const struct HttpStatusData **status_groups;
        unsigned n_status_groups;
};

typedef struct MpmOps {
        const char *name; /* "prefork", "worker", "event", "perchild" */
        uint32_t magic;   /* MPM_MAGIC_NUMBER */
        unsigned flags;
        const ConfItem *directives; /* keys of section [name] */
        size_t config_size;
        /* Check and clamp the MPM's settings as Apache does; errors are fatal, clamps are
         * reported as warnings through warn (may be NULL). Returns 0 or -EINVAL. */
        int (*check_config)(void *config, ConfErrors *errors, ConfErrors *warnings);
        /* How many process slots a generation needs (the hard limit, ServerLimit). */
        unsigned (*process_limit)(const void *config);
        /* Optional: the defaults of the sites' CGI limits (site-limits.h) from the MPM's section;
         * NULL (or no hook): CGI programs run without limits of mpmd's. */
        const struct SiteLimits *(*site_limits)(const void *config);
        /* Scoreboard slots per process: 1 for prefork, ThreadLimit for threaded MPMs. */
        unsigned (*workers_per_process)(const void *config);
        /* Optional: how many requests (prefork, worker: MaxRequestWorkers) or connections (event,
         * perchild: WorkerConnections per serving process) g can hold at once, for the share of
         * idle capacity a load balancer's agent is told (agent-check.h). NULL: the workers started. */
        unsigned (*capacity)(const Generation *g);
        int (*start)(Generation *g);
        /* Once a second and whenever a worker exits; view is a validated copy. */
        void (*maintain)(Generation *g, const ScoreboardView *view, usec_t now);
        void (*free_state)(Generation *g);
        int (*worker_main)(const WorkerContext *ctx);
        /* The sandbox profile of the MPM's workers (SANDBOX_PROFILE_WORKER when 0 is not meant). */
        SandboxProfile sandbox_profile;
        /* Optional, runs in the supervisor before the fork: adjust *plan for slot. Returns 0 or
         * -errno (the spawn fails). */
        int (*child_plan)(const Generation *g, unsigned slot, MpmChildPlan *plan);
        /* Per-user MPMs: the site (index into http->sites) whose own pool slot belongs to, or -1
         * for a process of the whole server (a dispatcher, the default pool). A site's pool that
         * cannot start then affects only that site. */
        int (*slot_site)(const Generation *g, unsigned slot);
        /* Optional, both or neither: the processes fall in status groups (perchild: its pools) and
         * a group's sites are shown that group's status only (a segment per group, published from
         * the group's slots alone) besides the server-wide one; each process picks what it keeps
         * (mpm_status_keep). Called in the supervisor once start() has made the MPM's state, before
         * the generation's first fork: how many groups, then the group of each slot (-1: none).
         * Without them every process is shown the server-wide status. */
        unsigned (*status_groups)(const Generation *g);
        int (*status_group)(const Generation *g, unsigned slot);
        /* Optional: does the process in slot serve requests itself? false for one that only passes
         * them on (perchild's dispatchers): while none that serves runs, nothing is served, and the
         * load balancer's agent says down (agent-check.h). NULL: every process serves. */
        bool (*slot_serves)(const Generation *g, unsigned slot);
} MpmOps;

/* Supervisor-side helpers the MPMs share. */
/* Spawn into slots 0..n-1. */
int mpm_spawn_first(Generation *g, unsigned n);
/* Spawn up to n processes into free slots while fewer than max_active exist; returns how many. */
unsigned mpm_spawn_free(Generation *g, unsigned n, unsigned max_active);
/* Gracefully stop the running process in the highest slot (the table stays dense); with need_idle,
 * only one whose scoreboard shows an idle worker. */
void mpm_retire_highest(Generation *g, const ScoreboardView *v, bool need_idle);
/* For MPMs whose mpm_state is a SpareState (prefork, worker): allocate it, spawn StartServers, or
 * at a reload as many as the replaced generation ran (inherited_processes), at most max_processes. */
int mpm_spare_start(Generation *g, unsigned start_servers, unsigned max_processes);
void mpm_spare_free_state(Generation *g);

typedef struct MpmSpareLimits {
        unsigned idle_per_process; /* 1 for prefork, ThreadsPerChild for worker */
        unsigned min_spare, max_spare; /* MinSpareServers/MaxSpareServers or …Threads */
        unsigned max_processes;        /* active processes at most */
        bool retire_only_idle;         /* retire a process only when its scoreboard shows it idle */
} MpmSpareLimits;

/* Once a second: Apache's spare rule (maintain.h) over the generation's process table and a
 * validated scoreboard view; starts or retires processes. */
void mpm_spare_maintain(Generation *g, const ScoreboardView *v, const MpmSpareLimits *lim);

/* A line about a request for site's error log: its own ErrorLog file when it has one, else the
 * process's log (log.h). "[vhost NAME] [client ADDR:PORT] message", at level (LOG_PRI_*). */
typedef struct HttpSite HttpSite;
void mpm_log_site(const HttpServer *s, const HttpSite *site, int level, const char *client, const char *message);

/* In a worker process: unmap every status segment but group's (-1: none) and, unless server_wide,
 * the server's (http->status, then NULL), so that the process holds only what it may show. */
void mpm_status_keep(const Generation *g, int group, bool server_wide);

/* The MPMs linked into this binary (static build), NULL-terminated. */
extern const MpmOps *const mpm_builtin[];

const MpmOps *mpm_find_builtin(const char *name);
