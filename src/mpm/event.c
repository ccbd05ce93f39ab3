/* SPDX-License-Identifier: MIT */
/* event.c — the event MPM: a fixed set of single-threaded processes, each one epoll loop over many
 * connections. A connection waiting for its next request costs no thread and, between requests,
 * no buffer (the engine releases them); writes that would block are finished by the loop when the
 * socket becomes writable. Each process bounds the connections it holds (WorkerConnections, as
 * nginx's worker_connections): at the bound it closes its oldest idle keep-alive connection to make
 * room, and when none is idle it stops accepting until one ends, so new connections wait in the
 * kernel's backlog instead of being queued without bound. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn-driver.h"
#include "log.h"
#include "maintain.h"
#include "mpm.h"
#include "server-logs.h"
#include "socket-io.h"
#include "time-util.h"

#define EVENT_SERVER_LIMIT_MAX 1024
#define EVENT_DRAIN_GRACE_USEC (1 * USEC_PER_SEC)
#define EVENT_SWEEP_USEC (250 * USEC_PER_MSEC)
#define EVENT_ACCEPT_BATCH 64

typedef struct EventConfig {
        uint32_t start_servers; /* 0: one process per online CPU */
        uint32_t server_limit;
        uint32_t worker_connections;
        uint32_t max_connections_per_child;
} EventConfig;

#define EV(field) offsetof(EventConfig, field)

static const ConfItem event_directives[] = {
        { "StartServers", CONF_UINT, EV(start_servers), "0", 0, EVENT_SERVER_LIMIT_MAX,
          .expect = "a number of processes from 1 to 1024, or 0 for one per CPU" },
        { "ServerLimit", CONF_UINT, EV(server_limit), "16", 1, EVENT_SERVER_LIMIT_MAX, .flags = CONF_RESTART_ONLY,
          .expect = "a number of processes from 1 to 1024" },
        { "WorkerConnections", CONF_UINT, EV(worker_connections), "10240", 1, 1000000,
          .expect = "a number of connections per process from 1 to 1000000" },
        { "MaxConnectionsPerChild", CONF_UINT, EV(max_connections_per_child), "0", 0, UINT32_MAX,
          .expect = "a number of connections, 0 for no limit" },
        CONF_TABLE_END,
};

static unsigned event_processes(const EventConfig *c) {
        if (c->start_servers > 0)
                return MIN(c->start_servers, c->server_limit);
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return (unsigned) MIN(n > 0 ? (unsigned long) n : 1UL, (unsigned long) c->server_limit);
}

static int event_check_config(void *config, ConfErrors *errors, ConfErrors *warnings) {
        EventConfig *c = config;

        if (c->start_servers > c->server_limit) {
                conf_errors_add(warnings, "[event]", 0, "StartServers %u is larger than ServerLimit %u, lowering it to %u",
                                c->start_servers, c->server_limit, c->server_limit);
                c->start_servers = c->server_limit;
        }
        return 0;
}

static unsigned event_process_limit(const void *config) {
        return ((const EventConfig *) config)->server_limit;
}

static unsigned event_workers_per_process(const void *config) {
        return 1;
}

/* ---- supervisor side: a fixed number of processes, each replaced when it ends --------------- */

static int event_start(Generation *g) {
        return mpm_spawn_first(g, event_processes(g->mpm_config));
}

static void event_maintain(Generation *g, const ScoreboardView *v, usec_t now) {
        unsigned want = event_processes(g->mpm_config);

        if (g->draining || now < g->spawn_not_before)
                return;
        for (unsigned i = 0; i < want && i < g->n_procs; i++)
                if (g->procs[i].state == PROCESS_FREE && g->host->spawn(g, i) < 0)
                        break;
}

/* ---- worker side: the loop ------------------------------------------------------------------ */

typedef enum EventSourceKind {
        SOURCE_LISTENER,
        SOURCE_STOP,
        SOURCE_CONN,
} EventSourceKind;

typedef struct EventSource {
        EventSourceKind kind;
        const Listener *listener;
} EventSource;

typedef struct EventConn {
        EventSource source; /* first: epoll's data.ptr points here */
        int fd;
        HttpConn *http;
        HttpConnPhase phase;
        struct EventLoop *loop;
        struct EventConn *prev, *next;
} EventConn;

typedef struct EventLoop {
        const Generation *g;
        const EventConfig *cfg;
        ScoreboardProcess *board;
        int ep;
        EventSource *listeners;
        EventSource stop;
        EventConn *conns; /* most recently active first */
        unsigned n_conns, n_idle;
        bool accepting;
        bool stopping;
        uint64_t accepted;
} EventLoop;

static void loop_update_board(EventLoop *l) {
        l->board->connections_open = l->n_conns;
        l->board->connections_keepalive = l->n_idle;
        l->board->workers[0].state = l->stopping ? WS_GRACEFUL : l->n_conns > l->n_idle ? WS_WRITE : WS_READY;
}

static void conn_phase(void *userdata, HttpConnPhase phase) {
        EventConn *c = userdata;
        if (c->phase == HTTP_PHASE_IDLE)
                c->loop->n_idle--;
        if (phase == HTTP_PHASE_IDLE)
                c->loop->n_idle++;
        c->phase = phase;
}

static void conn_request_done(void *userdata, const char *vhost, const char *method, int status, uint64_t bytes,
                                usec_t duration) {
        EventConn *c = userdata;
        WorkerScore *w = &c->loop->board->workers[0];

        w->requests++;
        w->bytes += bytes;
        w->duration_usec += duration;
        strncpy((char *) w->method, method, sizeof(w->method) - 1);
        strncpy(w->vhost, vhost, sizeof(w->vhost) - 1);
}

static const HttpConnObserver event_observer = {
        .phase = conn_phase,
        .request_done = conn_request_done,
};

static void loop_list_remove(EventLoop *l, EventConn *c) {
        if (c->prev)
                c->prev->next = c->next;
        else
                l->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
}

static void loop_list_push_front(EventLoop *l, EventConn *c) {
        c->next = l->conns;
        if (l->conns)
                l->conns->prev = c;
        l->conns = c;
}

static void loop_close(EventLoop *l, EventConn *c) {
        if (c->phase == HTTP_PHASE_IDLE)
                l->n_idle--;
        loop_list_remove(l, c);
        http_conn_free(c->http);
        /* close() removes it from the epoll set as well: no epoll_ctl needed. */
        safe_close(c->fd);
        free(c);
        l->n_conns--;
}

static void loop_set_accepting(EventLoop *l, bool on) {
        if (l->accepting == on)
                return;
        for (size_t i = 0; i < l->g->n_listeners; i++) {
                if (on) {
                        struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &l->listeners[i] };
                        (void) epoll_ctl(l->ep, EPOLL_CTL_ADD, l->g->listeners[i].fd, &ev);
                } else
                        (void) epoll_ctl(l->ep, EPOLL_CTL_DEL, l->g->listeners[i].fd, NULL);
        }
        l->accepting = on;
        l->board->accepting = on;
}

/* Run one connection as far as its I/O allows; closes it when it is done. */
static void loop_run(EventLoop *l, EventConn *c, usec_t now) {
        if (http_conn_run(c->http, now) == HTTP_CONN_DONE)
                loop_close(l, c);
        else if (l->conns != c) {
                /* Most recently active first, so the idle ones gather at the tail for shedding. */
                loop_list_remove(l, c);
                loop_list_push_front(l, c);
        }
}

/* At the bound: close the idle keep-alive connection that has waited longest. */
static bool loop_shed_idle(EventLoop *l) {
        EventConn *c = l->conns;

        if (!c)
                return false;
        while (c->next)
                c = c->next;
        for (; c; c = c->prev)
                if (c->phase == HTTP_PHASE_IDLE) {
                        loop_close(l, c);
                        return true;
                }
        return false;
}

static void loop_accept(EventLoop *l, const Listener *listener, usec_t now) {
        for (int k = 0; k < EVENT_ACCEPT_BATCH; k++) {
                if (l->n_conns >= l->cfg->worker_connections && !loop_shed_idle(l)) {
                        loop_set_accepting(l, false);
                        return;
                }
                int fd = accept4(listener->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EMFILE || errno == ENFILE) {
                                /* Out of descriptors: pause accepting until a connection ends rather
                                 * than spin on a socket that stays readable. */
                                log_warning_errno(errno, "accept on %s: %m; pausing accepts", listener->name);
                                loop_set_accepting(l, false);
                        }
                        return;
                }
                EventConn *c = calloc(1, sizeof(*c));
                HttpConnInfo info;
                if (!c) {
                        close(fd);
                        return;
                }
                c->source.kind = SOURCE_CONN;
                c->fd = fd;
                c->loop = l;
                c->phase = HTTP_PHASE_READ;
                socket_conn_info(fd, listener->name, &info);
                c->http = http_conn_new(l->g->http, &socket_io, &c->fd, &info, now);
                struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c };
                if (!c->http || epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
                        http_conn_free(c->http);
                        close(fd);
                        free(c);
                        continue;
                }
                http_conn_set_observer(c->http, &event_observer, c);
                l->board->workers[0].connections++;
                loop_list_push_front(l, c);
                l->n_conns++;
                l->accepted++;
                if (l->stopping)
                        http_conn_drain(c->http, now, EVENT_DRAIN_GRACE_USEC);
                /* The request may already be there (it often is on loopback). */
                loop_run(l, c, now);
                if (l->cfg->max_connections_per_child > 0 && l->accepted >= l->cfg->max_connections_per_child) {
                        log_debug("accepted MaxConnectionsPerChild (%u) connections, finishing",
                                  l->cfg->max_connections_per_child);
                        l->stopping = true;
                        loop_set_accepting(l, false);
                        return;
                }
        }
}

static void loop_sweep(EventLoop *l, usec_t now) {
        EventConn *next;

        for (EventConn *c = l->conns; c; c = next) {
                next = c->next;
                if (http_conn_deadline(c->http) <= now && http_conn_timeout(c->http, now) == HTTP_CONN_DONE)
                        loop_close(l, c);
        }
}

static void loop_begin_stop(EventLoop *l, usec_t now) {
        l->stopping = true;
        loop_set_accepting(l, false);
        for (EventConn *c = l->conns; c; c = c->next)
                http_conn_drain(c->http, now, EVENT_DRAIN_GRACE_USEC);
}

static int event_worker_main(const WorkerContext *ctx) {
        const Generation *g = ctx->generation;
        EventLoop l = {
                .g = g,
                .cfg = g->mpm_config,
                .board = ctx->board,
                .stop = { .kind = SOURCE_STOP },
        };
        usec_t next_sweep;

        l.ep = epoll_create1(EPOLL_CLOEXEC);
        l.listeners = calloc(g->n_listeners, sizeof(EventSource));
        if (l.ep < 0 || !l.listeners)
                return log_error_errno(errno, "Cannot set up the event loop: %m"), WORKER_EXIT_FATAL;
        for (size_t i = 0; i < g->n_listeners; i++)
                l.listeners[i] = (EventSource) { .kind = SOURCE_LISTENER, .listener = &g->listeners[i] };
        struct epoll_event sev = { .events = EPOLLIN, .data.ptr = &l.stop };
        if (epoll_ctl(l.ep, EPOLL_CTL_ADD, ctx->stop_fd, &sev) < 0)
                return log_error_errno(errno, "Cannot watch the stop signal: %m"), WORKER_EXIT_FATAL;
        loop_set_accepting(&l, true);
        if (!l.accepting)
                return log_error("Cannot watch the listening sockets"), WORKER_EXIT_FATAL;

        loop_update_board(&l);
        worker_context_notify_ready(ctx);
        next_sweep = now_usec(CLOCK_MONOTONIC) + EVENT_SWEEP_USEC;

        while (!l.stopping || l.n_conns > 0) {
                struct epoll_event ev[256];
                usec_t now = now_usec(CLOCK_MONOTONIC);
                int n = epoll_wait(l.ep, ev, (int) ELEMENTSOF(ev), usec_to_timeout_ms(next_sweep, now));
                if (n < 0 && errno != EINTR) {
                        log_error_errno(errno, "epoll_wait failed: %m");
                        break;
                }
                now = now_usec(CLOCK_MONOTONIC);
                for (int i = 0; i < n; i++) {
                        EventSource *src = ev[i].data.ptr;
                        switch (src->kind) {
                        case SOURCE_LISTENER:
                                /* Even if we stopped accepting earlier in this batch: with
                                 * EPOLLEXCLUSIVE no other process was woken for this connection.
                                 * A stopping loop serves it drained (Connection: close). */
                                loop_accept(&l, src->listener, now);
                                break;
                        case SOURCE_STOP: {
                                int sig = conn_driver_read_stop(ctx->stop_fd);
                                if (sig == SIGINT)
                                        goto out; /* stop now */
                                if (sig == SIGTERM && !l.stopping)
                                        loop_begin_stop(&l, now);
                                break;
                        }
                        case SOURCE_CONN:
                                loop_run(&l, (EventConn *) src, now);
                                break;
                        }
                }
                if (now >= next_sweep) {
                        loop_sweep(&l, now);
                        next_sweep = now + EVENT_SWEEP_USEC;
                }
                if (!l.accepting && !l.stopping && l.n_conns < l.cfg->worker_connections)
                        loop_set_accepting(&l, true);
                loop_update_board(&l);
                (void) http_server_flush_logs(g->http, now);
        }
out:
        while (l.conns)
                loop_close(&l, l.conns);
        (void) http_server_flush_logs(g->http, USEC_INFINITY);
        ctx->board->accepting = 0;
        ctx->board->workers[0].state = WS_GRACEFUL;
        free(l.listeners);
        close(l.ep);
        return WORKER_EXIT_OK;
}

const MpmOps mpm_event_module = {
        .name = "event",
        .magic = MPM_MAGIC_NUMBER,
        .flags = MPM_FORKED,
        .directives = event_directives,
        .config_size = sizeof(EventConfig),
        .check_config = event_check_config,
        .process_limit = event_process_limit,
        .workers_per_process = event_workers_per_process,
        .start = event_start,
        .maintain = event_maintain,
        .worker_main = event_worker_main,
};
