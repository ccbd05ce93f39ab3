/* SPDX-License-Identifier: MIT */
/* mpm_hostile.c — a test-only MPM module whose first HostileSlots workers attack the supervisor
 * through the only two channels a worker has to it: the readiness pipe and its own scoreboard
 * segment. Never installed; built as a loadable module in builds with shared MPMs and loaded by the
 * stress suite with LoadModule = mpm_hostile_module PATH.
 *
 * [hostile] StartServers processes, one connection at a time each (prefork's loop). Of the first
 * HostileSlots, the even slots write garbage down the readiness channel before they say they are
 * ready (random words, slot numbers out of range, the numbers of their siblings' slots, a 3-byte
 * write out of step with the 4-byte records); the odd slots say ready honestly and then write
 * random bytes over their whole scoreboard segment every 20 ms. Neither serves: every request must
 * reach an honest worker, so a client sees nothing of the attack. The supervisor must log each,
 * replace the worker, and keep serving with the honest ones. The next ForgingSlots workers keep
 * their segment valid but forge its counters every 20 ms, near 2^64 and now and then back to 0:
 * the supervisor must count only what is plausible and say so once, without killing them. The last
 * FailingSlots workers die before they are ready, every time (abort()): the supervisor must back
 * them off. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpm/conn-driver.h"
#include "shared/log.h"
#include "mpm/maintain.h"
#include "mpm/mpm.h"
#include "mpm/scoreboard.h"
#include "http/server-logs.h"
#include "mpm/socket-io.h"
#include "shared/time-util.h"

#define HOSTILE_SCRIBBLE_MSEC 20

typedef struct HostileConfig {
        uint32_t start_servers;
        uint32_t hostile_slots;
        uint32_t forging_slots;
        uint32_t failing_slots;
} HostileConfig;

#define HC(field) offsetof(HostileConfig, field)

static const ConfItem hostile_directives[] = {
        { "StartServers", CONF_UINT, HC(start_servers), "3", 1, 64, .expect = "a number of processes from 1 to 64" },
        { "HostileSlots", CONF_UINT, HC(hostile_slots), "1", 0, 64, .expect = "a number of slots from 0 to 64" },
        { "ForgingSlots", CONF_UINT, HC(forging_slots), "0", 0, 64, .expect = "a number of slots from 0 to 64" },
        { "FailingSlots", CONF_UINT, HC(failing_slots), "0", 0, 64, .expect = "a number of slots from 0 to 64" },
        CONF_TABLE_END,
};

static int hostile_check_config(void *config, ConfErrors *errors, ConfErrors *warnings) {
        HostileConfig *c = config;

        /* At least one honest worker, or there is nobody left to show that serving goes on. */
        if (c->hostile_slots + c->forging_slots + c->failing_slots >= c->start_servers) {
                conf_errors_add(errors, "[hostile]", 0,
                                "HostileSlots %u, ForgingSlots %u and FailingSlots %u leave no honest worker of "
                                "StartServers %u",
                                c->hostile_slots, c->forging_slots, c->failing_slots, c->start_servers);
                return -EINVAL;
        }
        return 0;
}

static unsigned hostile_process_limit(const void *config) {
        return ((const HostileConfig *) config)->start_servers;
}

static unsigned hostile_workers_per_process(const void *config) {
        return 1;
}

static int hostile_start(Generation *g) {
        return mpm_spawn_first(g, ((const HostileConfig *) g->mpm_config)->start_servers);
}

static void hostile_maintain(Generation *g, const ScoreboardView *v, usec_t now) {
        if (g->draining || now < g->spawn_not_before)
                return;
        for (unsigned i = 0; i < g->n_procs; i++)
                if (g->procs[i].state == PROCESS_FREE && g->host->spawn(g, i) < 0)
                        break;
}

static void random_fill(void *p, size_t n) {
        uint8_t *b = p;

        while (n > 0) {
                ssize_t k = getrandom(b, n, GRND_NONBLOCK);
                if (k <= 0) {
                        /* No entropy yet: any bytes will do, these are not secrets. */
                        for (size_t i = 0; i < n; i++)
                                b[i] = (uint8_t) random();
                        return;
                }
                b += k;
                n -= (size_t) k;
        }
}

/* Everything a worker could send down the readiness pipe that is not its own honest slot number. */
static void hostile_pipe_garbage(const WorkerContext *ctx) {
        const Generation *g = ctx->generation;
        uint32_t words[32];
        uint8_t three[3];

        random_fill(words, sizeof(words));
        (void) !write(ctx->ready_fd, words, sizeof(words));
        for (unsigned i = 0; i < g->n_procs && i < ELEMENTSOF(words); i++)
                words[i] = i == ctx->slot ? UINT32_MAX : i; /* claim to be every sibling */
        (void) !write(ctx->ready_fd, words, MIN(g->n_procs, (unsigned) ELEMENTSOF(words)) * sizeof(uint32_t));
        words[0] = g->n_procs;
        words[1] = UINT32_MAX;
        words[2] = 0x80000000u;
        (void) !write(ctx->ready_fd, words, 3 * sizeof(uint32_t));
        random_fill(three, sizeof(three));
        (void) !write(ctx->ready_fd, three, sizeof(three)); /* out of step with the 4-byte records */
}

static void hostile_scribble(const WorkerContext *ctx) {
        random_fill(ctx->board, scoreboard_segment_size(ctx->generation->ops->workers_per_process(
                                        ctx->generation->mpm_config)));
}

/* A valid segment with counters no worker could reach, or lower than before. Back to 0 every
 * seventh time: the supervisor reads once a second, 50 of these 20 ms steps, and a pattern whose
 * length divides 50 would show it the same phase at every reading. */
static void hostile_forge(WorkerScore *score, unsigned *tick) {
        uint64_t v = (*tick)++ % 7 == 6 ? 0 : UINT64_MAX - 7;

        score->requests = v;
        score->bytes = v;
        score->duration_usec = v;
        score->connections = v;
}

static int hostile_worker_main(const WorkerContext *ctx) {
        const Generation *g = ctx->generation;
        const HostileConfig *c = g->mpm_config;
        bool hostile = ctx->slot < c->hostile_slots;
        bool lies_on_pipe = hostile && ctx->slot % 2 == 0;
        bool forges = !hostile && ctx->slot < c->hostile_slots + c->forging_slots;
        unsigned tick = 0;
        WorkerScore *score = &ctx->board->workers[0];
        bool stopping = false;
        ConnDriverStop stop = { .fd = ctx->stop_fd, .stopping = &stopping, .is_signalfd = true };
        int ep;

        ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0)
                return log_error_errno(errno, "epoll_create1 failed: %m"), WORKER_EXIT_FATAL;
        for (size_t i = 0; !hostile && !forges && i < g->n_listeners; i++) {
                struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.u64 = i };
                if (epoll_ctl(ep, EPOLL_CTL_ADD, g->listeners[i].fd, &ev) < 0)
                        return log_error_errno(errno, "Cannot watch listener %s: %m", g->listeners[i].name),
                               WORKER_EXIT_FATAL;
        }
        struct epoll_event sev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, ctx->stop_fd, &sev) < 0)
                return log_error_errno(errno, "Cannot watch the stop signal: %m"), WORKER_EXIT_FATAL;

        if (ctx->slot >= c->start_servers - c->failing_slots) {
                /* A worker that can never start, as one with a broken module would: it dies before
                 * it is ready, every time, and is not the fatal exit status that asks for a stop. */
                log_error("failing worker: dying before it is ready, on purpose");
                abort();
        }
        if (lies_on_pipe) {
                log_notice("hostile worker: writing garbage to the readiness channel");
                hostile_pipe_garbage(ctx);
        } else if (hostile)
                log_notice("hostile worker: writing garbage over the scoreboard");
        else if (forges)
                log_notice("hostile worker: forging the scoreboard's counters");
        score->state = WS_READY;
        ctx->board->accepting = 1;
        worker_context_notify_ready(ctx);

        while (!stopping) {
                struct epoll_event ev[8];
                int n = epoll_wait(ep, ev, (int) ELEMENTSOF(ev), hostile || forges ? HOSTILE_SCRIBBLE_MSEC : 1000);
                (void) http_server_flush_logs(g->http, now_usec(CLOCK_MONOTONIC));
                if (hostile)
                        hostile_scribble(ctx);
                if (forges)
                        hostile_forge(score, &tick);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        log_error_errno(errno, "epoll_wait failed: %m");
                        break;
                }
                for (int i = 0; i < n; i++) {
                        if (ev[i].data.u64 == UINT64_MAX) {
                                (void) conn_driver_read_stop(ctx->stop_fd);
                                stopping = true;
                                continue;
                        }
                        const Listener *l = &g->listeners[ev[i].data.u64];
                        HttpConnInfo info;
                        int fd = socket_accept(l->fd, l->name, l->port, &info);
                        if (fd < 0)
                                continue;
                        conn_driver_serve(g->http, fd, &info, score, &stop);
                }
        }
        if (!hostile) {
                ctx->board->accepting = 0;
                score->state = WS_GRACEFUL;
        }
        (void) http_server_flush_logs(g->http, USEC_INFINITY);
        close(ep);
        return WORKER_EXIT_OK;
}

/* The one symbol the module exports, looked up by LoadModule's name; declared for -Wmissing-declarations. */
extern const MpmOps mpm_hostile_module;
const MpmOps mpm_hostile_module = {
        .name = "hostile",
        .magic = MPM_MAGIC_NUMBER,
        .flags = MPM_FORKED,
        .directives = hostile_directives,
        .config_size = sizeof(HostileConfig),
        .check_config = hostile_check_config,
        .process_limit = hostile_process_limit,
        .workers_per_process = hostile_workers_per_process,
        .start = hostile_start,
        .maintain = hostile_maintain,
        .worker_main = hostile_worker_main,
};
