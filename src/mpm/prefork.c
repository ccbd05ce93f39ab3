/* SPDX-License-Identifier: MIT */
/* prefork.c — the prefork MPM: single-threaded worker processes, one connection at a time each,
 * with Apache's spare-server maintenance. Directives, defaults and clamping are Apache 2.4's. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpm/accept.h"
#include "mpm/conn-driver.h"
#include "mpm/socket-io.h"
#include "http/server-logs.h"
#include "http/upstream.h"
#include "shared/log.h"
#include "mpm/maintain.h"
#include "mpm/mpm.h"
#include "mpm/scoreboard.h"
#include "shared/time-util.h"

#define PREFORK_SERVER_LIMIT_MAX 200000 /* Apache's MAX_SERVER_LIMIT */
/* Connections a worker takes in a row without epoll_wait, when they are waiting: few enough that a
 * stop request (seen by epoll_wait) is never long unnoticed. */
#define PREFORK_ACCEPT_BURST 16

typedef struct PreforkConfig {
        uint32_t start_servers;
        uint32_t min_spare_servers;
        uint32_t max_spare_servers;
        uint32_t server_limit;
        uint32_t max_request_workers;
        uint32_t max_connections_per_child;
} PreforkConfig;

#define PF(field) offsetof(PreforkConfig, field)

static const ConfItem prefork_directives[] = {
        { "StartServers", CONF_UINT, PF(start_servers), "5", 1, PREFORK_SERVER_LIMIT_MAX,
          .expect = "a number of processes from 1 to 200000" },
        { "MinSpareServers", CONF_UINT, PF(min_spare_servers), "5", 1, PREFORK_SERVER_LIMIT_MAX,
          .expect = "a number of processes from 1 to 200000" },
        { "MaxSpareServers", CONF_UINT, PF(max_spare_servers), "10", 1, PREFORK_SERVER_LIMIT_MAX,
          .expect = "a number of processes from 1 to 200000" },
        { "ServerLimit", CONF_UINT, PF(server_limit), "256", 1, PREFORK_SERVER_LIMIT_MAX, .flags = CONF_RESTART_ONLY,
          .expect = "a number of processes from 1 to 200000" },
        { "MaxRequestWorkers", CONF_UINT, PF(max_request_workers), "256", 1, PREFORK_SERVER_LIMIT_MAX,
          .expect = "a number of processes from 1 to 200000" },
        { "MaxConnectionsPerChild", CONF_UINT, PF(max_connections_per_child), "0", 0, UINT32_MAX,
          .expect = "a number of connections, 0 for no limit" },
        CONF_TABLE_END,
};

static int prefork_check_config(void *config, ConfErrors *errors, ConfErrors *warnings) {
        PreforkConfig *c = config;

        /* Apache's clamping, reported so that an operator sees what is really in force. */
        if (c->max_request_workers > c->server_limit) {
                conf_errors_add(warnings, "[prefork]", 0,
                                "MaxRequestWorkers %u is larger than ServerLimit %u, lowering it to %u",
                                c->max_request_workers, c->server_limit, c->server_limit);
                c->max_request_workers = c->server_limit;
        }
        if (c->max_spare_servers <= c->min_spare_servers) {
                conf_errors_add(warnings, "[prefork]", 0,
                                "MaxSpareServers %u is not above MinSpareServers %u, raising it to %u",
                                c->max_spare_servers, c->min_spare_servers, c->min_spare_servers + 1);
                c->max_spare_servers = c->min_spare_servers + 1;
        }
        if (c->start_servers > c->max_request_workers) {
                conf_errors_add(warnings, "[prefork]", 0,
                                "StartServers %u is larger than MaxRequestWorkers %u, lowering it to %u",
                                c->start_servers, c->max_request_workers, c->max_request_workers);
                c->start_servers = c->max_request_workers;
        }
        return 0;
}

static unsigned prefork_process_limit(const void *config) {
        return ((const PreforkConfig *) config)->server_limit;
}

static unsigned prefork_workers_per_process(const void *config) {
        return 1;
}

static unsigned prefork_capacity(const Generation *g) {
        return ((const PreforkConfig *) g->mpm_config)->max_request_workers;
}

/* ---- supervisor side ------------------------------------------------------------------------ */

static int prefork_start(Generation *g) {
        const PreforkConfig *c = g->mpm_config;
        return mpm_spare_start(g, c->start_servers, c->max_request_workers);
}

static void prefork_maintain(Generation *g, const ScoreboardView *v, usec_t now) {
        const PreforkConfig *c = g->mpm_config;

        if (now < g->spawn_not_before)
                return;
        mpm_spare_maintain(g, v, &(MpmSpareLimits) {
                .idle_per_process = 1,
                .min_spare = c->min_spare_servers,
                .max_spare = c->max_spare_servers,
                .max_processes = c->max_request_workers,
                .retire_only_idle = true,
        });
}

/* ---- worker side ---------------------------------------------------------------------------- */

static int prefork_worker_main(const WorkerContext *ctx) {
        const Generation *g = ctx->generation;
        const PreforkConfig *c = g->mpm_config;
        WorkerScore *score = &ctx->board->workers[0];
        uint64_t served = 0;
        bool stopping = false;
        ConnDriverStop stop = { .fd = ctx->stop_fd, .stopping = &stopping, .is_signalfd = true };
        int ep;

        /* One epoll set per process with EPOLLEXCLUSIVE: a new connection wakes one idle worker, not
         * all of them (the accept mutex of Apache, without a lock). */
        ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0)
                return log_error_errno(errno, "epoll_create1 failed: %m"), WORKER_EXIT_FATAL;
        for (size_t i = 0; i < g->n_listeners; i++) {
                struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.u64 = i };
                if (epoll_ctl(ep, EPOLL_CTL_ADD, g->listeners[i].fd, &ev) < 0)
                        return log_error_errno(errno, "Cannot watch listener %s: %m", g->listeners[i].name),
                               WORKER_EXIT_FATAL;
        }
        struct epoll_event sev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, ctx->stop_fd, &sev) < 0)
                return log_error_errno(errno, "Cannot watch the stop signal: %m"), WORKER_EXIT_FATAL;

        score->state = WS_READY;
        ctx->board->accepting = 1;
        worker_context_notify_ready(ctx);

        AcceptPause pause;
        bool watching = true; /* the listeners are in ep (accept.h: out while paused) */
        accept_pause_init(&pause);
        while (!stopping) {
                struct epoll_event ev[8];
                int timeout = accept_pause_watch(&pause, ep, g->listeners, g->n_listeners, &watching, 1000);
                int n = epoll_wait(ep, ev, (int) ELEMENTSOF(ev), timeout);
                (void) http_server_flush_logs(g->http, now_usec(CLOCK_MONOTONIC));
                http_upstream_pool_sweep(now_usec(CLOCK_MONOTONIC));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        log_error_errno(errno, "epoll_wait failed: %m");
                        break;
                }
                /* A listener event we were woken for is always accepted, even when the stop came in
                 * the same batch: with EPOLLEXCLUSIVE no other process was woken for that
                 * connection. It is then served drained (Connection: close). */
                for (int i = 0; i < n; i++)
                        if (ev[i].data.u64 == UINT64_MAX) {
                                (void) conn_driver_read_stop(ctx->stop_fd);
                                stopping = true;
                        }
                bool paused = false;
                for (int i = 0; i < n && !paused; i++) {
                        if (ev[i].data.u64 == UINT64_MAX)
                                continue;
                        const Listener *l = &g->listeners[ev[i].data.u64];
                        /* Under load the next connection is usually waiting already: take a few
                         * more before going back to epoll_wait (which also sees a stop request). */
                        for (unsigned k = 0; k < PREFORK_ACCEPT_BURST && (k == 0 || !stopping); k++) {
                                struct sockaddr_storage peer;
                                HttpConnInfo info;
                                int fd = mpm_accept(&pause, l, now_usec(CLOCK_MONOTONIC), 0, &peer, NULL);
                                if (fd < 0) {
                                        /* Out of descriptors: the next pass waits with the listeners
                                         * out of the set, and other processes take the connections. */
                                        paused = fd == -EMFILE || fd == -ENFILE;
                                        break;
                                }
                                socket_conn_info_from(&peer, l->name, l->port, &info);
                                conn_driver_serve_accepted(g, l, fd, &info, score, &stop);
                                served++;
                                if (c->max_connections_per_child > 0 && served >= c->max_connections_per_child) {
                                        log_debug("served MaxConnectionsPerChild (%u) connections, exiting",
                                                  c->max_connections_per_child);
                                        stopping = true;
                                }
                        }
                }
        }
        ctx->board->accepting = 0;
        score->state = WS_GRACEFUL;
        (void) http_server_flush_logs(g->http, USEC_INFINITY);
        accept_pause_done(&pause);
        close(ep);
        return WORKER_EXIT_OK;
}

const MpmOps mpm_prefork_module = {
        .name = "prefork",
        .magic = MPM_MAGIC_NUMBER,
        .flags = MPM_FORKED,
        .directives = prefork_directives,
        .config_size = sizeof(PreforkConfig),
        .check_config = prefork_check_config,
        .process_limit = prefork_process_limit,
        .workers_per_process = prefork_workers_per_process,
        .capacity = prefork_capacity,
        .start = prefork_start,
        .maintain = prefork_maintain,
        .free_state = mpm_spare_free_state,
        .worker_main = prefork_worker_main,
        .sandbox_profile = SANDBOX_PROFILE_PREFORK,
};
