/* SPDX-License-Identifier: MIT */
/* worker.c — the worker MPM: processes × threads, a connection served by one thread from its first
 * byte to its close. Apache httpd's directives, defaults and clamping; spare threads are kept
 * between MinSpareThreads and MaxSpareThreads by starting or retiring whole processes of
 * ThreadsPerChild threads (Apache's rule, counted in threads). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpm/accept.h"
#include "mpm/conn-driver.h"
#include "mpm/socket-io.h"
#include "shared/log.h"
#include "mpm/maintain.h"
#include "mpm/mpm.h"
#include "http/server-logs.h"
#include "http/upstream.h"
#include "shared/time-util.h"

#define WORKER_SERVER_LIMIT_MAX 20000
#define WORKER_THREAD_LIMIT_MAX 20000
/* Connections a thread takes in a row without epoll_wait while they are waiting and no stop was
 * asked for. */
#define WORKER_ACCEPT_BURST 64

typedef struct WorkerConfig {
        uint32_t start_servers;
        uint32_t server_limit;
        uint32_t threads_per_child;
        uint32_t thread_limit;
        uint32_t min_spare_threads;
        uint32_t max_spare_threads;
        uint32_t max_request_workers;
        uint32_t max_connections_per_child;
} WorkerConfig;

#define WK(field) offsetof(WorkerConfig, field)

static const ConfItem worker_directives[] = {
        { "StartServers", CONF_UINT, WK(start_servers), "3", 1, WORKER_SERVER_LIMIT_MAX,
          .expect = "a number of processes from 1 to 20000" },
        { "ServerLimit", CONF_UINT, WK(server_limit), "16", 1, WORKER_SERVER_LIMIT_MAX, .flags = CONF_RESTART_ONLY,
          .expect = "a number of processes from 1 to 20000" },
        { "ThreadsPerChild", CONF_UINT, WK(threads_per_child), "25", 1, WORKER_THREAD_LIMIT_MAX,
          .expect = "a number of threads from 1 to 20000" },
        { "ThreadLimit", CONF_UINT, WK(thread_limit), "64", 1, WORKER_THREAD_LIMIT_MAX, .flags = CONF_RESTART_ONLY,
          .expect = "a number of threads from 1 to 20000" },
        { "MinSpareThreads", CONF_UINT, WK(min_spare_threads), "75", 1, UINT32_MAX / 2,
          .expect = "a number of threads" },
        { "MaxSpareThreads", CONF_UINT, WK(max_spare_threads), "250", 1, UINT32_MAX / 2,
          .expect = "a number of threads" },
        { "MaxRequestWorkers", CONF_UINT, WK(max_request_workers), "400", 1, UINT32_MAX / 2,
          .expect = "a number of threads" },
        { "MaxConnectionsPerChild", CONF_UINT, WK(max_connections_per_child), "0", 0, UINT32_MAX,
          .expect = "a number of connections, 0 for no limit" },
        CONF_TABLE_END,
};

/* Apache's worker.c clamping, each reported. */
static int worker_check_config(void *config, ConfErrors *errors, ConfErrors *warnings) {
        WorkerConfig *c = config;

        if (c->threads_per_child > c->thread_limit) {
                conf_errors_add(warnings, "[worker]", 0, "ThreadsPerChild %u is larger than ThreadLimit %u, lowering it",
                                c->threads_per_child, c->thread_limit);
                c->threads_per_child = c->thread_limit;
        }
        if (c->max_request_workers < c->threads_per_child) {
                conf_errors_add(warnings, "[worker]", 0,
                                "MaxRequestWorkers %u is less than ThreadsPerChild %u, raising it to %u",
                                c->max_request_workers, c->threads_per_child, c->threads_per_child);
                c->max_request_workers = c->threads_per_child;
        }
        if (c->max_request_workers % c->threads_per_child) {
                uint32_t v = c->max_request_workers / c->threads_per_child * c->threads_per_child;
                conf_errors_add(warnings, "[worker]", 0,
                                "MaxRequestWorkers %u is not a multiple of ThreadsPerChild %u, lowering it to %u",
                                c->max_request_workers, c->threads_per_child, v);
                c->max_request_workers = v;
        }
        if (c->max_request_workers / c->threads_per_child > c->server_limit) {
                uint32_t v = c->server_limit * c->threads_per_child;
                conf_errors_add(warnings, "[worker]", 0,
                                "MaxRequestWorkers %u needs more than ServerLimit %u processes, lowering it to %u",
                                c->max_request_workers, c->server_limit, v);
                c->max_request_workers = v;
        }
        if (c->max_spare_threads < c->min_spare_threads + c->threads_per_child) {
                uint32_t v = c->min_spare_threads + c->threads_per_child;
                conf_errors_add(warnings, "[worker]", 0,
                                "MaxSpareThreads %u is less than MinSpareThreads + ThreadsPerChild, raising it to %u",
                                c->max_spare_threads, v);
                c->max_spare_threads = v;
        }
        if (c->start_servers > c->max_request_workers / c->threads_per_child) {
                uint32_t v = c->max_request_workers / c->threads_per_child;
                conf_errors_add(warnings, "[worker]", 0,
                                "StartServers %u needs more than MaxRequestWorkers %u threads, lowering it to %u",
                                c->start_servers, c->max_request_workers, v);
                c->start_servers = v;
        }
        return 0;
}

static unsigned worker_process_limit(const void *config) {
        return ((const WorkerConfig *) config)->server_limit;
}

static unsigned worker_workers_per_process(const void *config) {
        return ((const WorkerConfig *) config)->threads_per_child;
}

static unsigned worker_capacity(const Generation *g) {
        return ((const WorkerConfig *) g->mpm_config)->max_request_workers;
}

/* ---- supervisor side ------------------------------------------------------------------------ */

static int worker_start(Generation *g) {
        const WorkerConfig *c = g->mpm_config;
        return mpm_spare_start(g, c->start_servers, c->max_request_workers / c->threads_per_child);
}

static void worker_maintain(Generation *g, const ScoreboardView *v, usec_t now) {
        const WorkerConfig *c = g->mpm_config;

        if (now < g->spawn_not_before)
                return;
        mpm_spare_maintain(g, v, &(MpmSpareLimits) {
                .idle_per_process = c->threads_per_child,
                .min_spare = c->min_spare_threads,
                .max_spare = c->max_spare_threads,
                .max_processes = c->max_request_workers / c->threads_per_child,
                .retire_only_idle = false,
        });
}

/* ---- worker side: ThreadsPerChild threads, each accepting and serving ----------------------- */

typedef struct WorkerProcess {
        const WorkerContext *ctx;
        const WorkerConfig *cfg;
        int stop_event; /* eventfd: readable for every thread once the process is told to stop */
        bool stopping;  /* set (atomically) before stop_event: checked before every accept */
        unsigned accepting_threads; /* threads still in their accept loop (atomic) */
        uint64_t served;
        pthread_mutex_t lock;
        AcceptPause accept; /* at the descriptor limit every thread pauses (accept.h) */
} WorkerProcess;

typedef struct WorkerThread {
        WorkerProcess *process;
        unsigned index;
        pthread_t thread;
} WorkerThread;

static bool worker_process_count(WorkerProcess *p) {
        bool last;

        pthread_mutex_lock(&p->lock);
        p->served++;
        last = p->cfg->max_connections_per_child > 0 && p->served >= p->cfg->max_connections_per_child;
        pthread_mutex_unlock(&p->lock);
        if (last) {
                uint64_t one = 1;
                (void) !write(p->stop_event, &one, sizeof(one));
        }
        return last;
}

static void *worker_thread_main(void *userdata) {
        WorkerThread *t = userdata;
        WorkerProcess *p = t->process;
        const Generation *g = p->ctx->generation;
        WorkerScore *score = &p->ctx->board->workers[t->index];
        bool stopping = false;
        ConnDriverStop stop = { .fd = p->stop_event, .stopping = &stopping, .is_signalfd = false };
        int ep = epoll_create1(EPOLL_CLOEXEC);

        if (ep < 0)
                return NULL;
        /* One epoll set per thread, the listeners exclusive in each: a connection wakes one thread. */
        for (size_t i = 0; i < g->n_listeners; i++) {
                struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.u64 = i };
                (void) epoll_ctl(ep, EPOLL_CTL_ADD, g->listeners[i].fd, &ev);
        }
        struct epoll_event sev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
        (void) epoll_ctl(ep, EPOLL_CTL_ADD, p->stop_event, &sev);
        score->state = WS_READY;

        bool watching = true; /* the listeners are in ep (accept.h: out while the process pauses) */
        while (!stopping) {
                struct epoll_event ev[4];
                /* A thread that keeps idle upstream connections wakes up to close them at their ttl. */
                int timeout = accept_pause_watch(&p->accept, ep, g->listeners, g->n_listeners, &watching,
                                                 http_upstream_pool_has_idle() ? 1000 : -1);
                int n = epoll_wait(ep, ev, (int) ELEMENTSOF(ev), timeout);
                http_upstream_pool_sweep(now_usec(CLOCK_MONOTONIC));
                /* A listener event we were woken for is always accepted, even when the stop came in
                 * the same batch: with EPOLLEXCLUSIVE no other process was woken for that
                 * connection. It is then served drained (Connection: close). */
                for (int i = 0; i < n; i++)
                        if (ev[i].data.u64 == UINT64_MAX || __atomic_load_n(&p->stopping, __ATOMIC_ACQUIRE))
                                stopping = true;
                bool paused = false;
                for (int i = 0; i < n && !paused; i++) {
                        if (ev[i].data.u64 == UINT64_MAX)
                                continue;
                        const Listener *l = &g->listeners[ev[i].data.u64];
                        /* Under load the next connection is usually waiting already: take more
                         * before going back to epoll_wait, as long as no stop was asked for. */
                        for (unsigned k = 0; k < WORKER_ACCEPT_BURST && (k == 0 || !stopping); k++) {
                                struct sockaddr_storage peer;
                                HttpConnInfo info;
                                int fd = mpm_accept(&p->accept, l, now_usec(CLOCK_MONOTONIC), 0, &peer, NULL);
                                if (fd < 0) {
                                        /* Out of descriptors: every thread of the process pauses
                                         * (the next pass takes the listeners out of its set). */
                                        paused = fd == -EMFILE || fd == -ENFILE;
                                        break;
                                }
                                socket_conn_info_from(&peer, l->name, l->port, &info);
                                conn_driver_serve_accepted(g, l, fd, &info, score, &stop);
                                if (worker_process_count(p) || __atomic_load_n(&p->stopping, __ATOMIC_ACQUIRE))
                                        stopping = true;
                        }
                }
        }
        score->state = WS_GRACEFUL;
        close(ep);
        /* The last thread out of its accept loop tells the supervisor that this process takes no
         * more connections: a reload is answered only then. */
        if (__atomic_sub_fetch(&p->accepting_threads, 1, __ATOMIC_ACQ_REL) == 0)
                __atomic_store_n(&p->ctx->board->accepting, 0, __ATOMIC_RELEASE);
        return NULL;
}

static int worker_worker_main(const WorkerContext *ctx) {
        const WorkerConfig *cfg = ctx->generation->mpm_config;
        WorkerProcess p = { .ctx = ctx, .cfg = cfg, .lock = PTHREAD_MUTEX_INITIALIZER };
        WorkerThread *threads = calloc(cfg->threads_per_child, sizeof(WorkerThread));
        unsigned started = 0;

        accept_pause_init(&p.accept);
        p.stop_event = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (!threads || p.stop_event < 0)
                return log_error_errno(errno, "Cannot set up the worker threads: %m"), WORKER_EXIT_FATAL;
        p.accepting_threads = cfg->threads_per_child;
        __atomic_store_n(&ctx->board->accepting, 1, __ATOMIC_RELEASE);
        for (unsigned i = 0; i < cfg->threads_per_child; i++) {
                threads[i] = (WorkerThread) { .process = &p, .index = i };
                int r = pthread_create(&threads[i].thread, NULL, worker_thread_main, &threads[i]);
                if (r != 0) {
                        log_error_errno(r, "Cannot start thread %u: %m", i);
                        if (__atomic_sub_fetch(&p.accepting_threads, cfg->threads_per_child - i, __ATOMIC_ACQ_REL) == 0)
                                __atomic_store_n(&ctx->board->accepting, 0, __ATOMIC_RELEASE);
                        break;
                }
                started++;
        }
        if (started == 0)
                return WORKER_EXIT_FATAL;
        worker_context_notify_ready(ctx);

        /* The main thread waits for the supervisor's word and passes it on to every thread. It also
         * writes the access log lines the threads buffered, at least once a second: a thread waiting
         * for a connection does not wake up for that. */
        for (;;) {
                struct pollfd fds[2] = {
                        { .fd = ctx->stop_fd, .events = POLLIN },
                        { .fd = p.stop_event, .events = POLLIN },
                };
                int k = poll(fds, 2, 1000);
                (void) http_server_flush_logs(ctx->generation->http, now_usec(CLOCK_MONOTONIC));
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (fds[1].revents & POLLIN)
                        break; /* a thread reached MaxConnectionsPerChild */
                int sig = (fds[0].revents & POLLIN) ? conn_driver_read_stop(ctx->stop_fd) : 0;
                if (sig == SIGINT) {
                        (void) http_server_flush_logs(ctx->generation->http, USEC_INFINITY);
                        _exit(WORKER_EXIT_OK); /* stop now */
                }
                if (sig == SIGTERM)
                        break;
        }
        uint64_t one = 1;
        __atomic_store_n(&p.stopping, true, __ATOMIC_RELEASE);
        (void) !write(p.stop_event, &one, sizeof(one));
        for (unsigned i = 0; i < started; i++)
                pthread_join(threads[i].thread, NULL);
        (void) http_server_flush_logs(ctx->generation->http, USEC_INFINITY);
        free(threads);
        close(p.stop_event);
        accept_pause_done(&p.accept);
        return WORKER_EXIT_OK;
}

const MpmOps mpm_worker_module = {
        .name = "worker",
        .magic = MPM_MAGIC_NUMBER,
        .flags = MPM_FORKED | MPM_THREADED,
        .directives = worker_directives,
        .config_size = sizeof(WorkerConfig),
        .check_config = worker_check_config,
        .process_limit = worker_process_limit,
        .workers_per_process = worker_workers_per_process,
        .capacity = worker_capacity,
        .start = worker_start,
        .maintain = worker_maintain,
        .free_state = mpm_spare_free_state,
        .worker_main = worker_worker_main,
        .sandbox_profile = SANDBOX_PROFILE_WORKER,
};
