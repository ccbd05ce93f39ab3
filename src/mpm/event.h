/* SPDX-License-Identifier: MIT */
/* event.h — the event MPM's loop as an engine other MPMs can run in their workers.
 *
 * event_loop_run() serves connections in the calling process, single-threaded, with one epoll set:
 * it accepts from the listeners it is given (EPOLLEXCLUSIVE, so processes sharing a socket are
 * woken one at a time) and adopts connections handed to it over a Unix socket (perchild: a process
 * that accepted a connection for a site it does not serve sends it to the one that does). It bounds
 * the connections it holds (worker_connections: at the bound it closes its oldest idle keep-alive
 * connection, and when none is idle it stops accepting and stops reading handoff_fd, so senders see
 * EAGAIN), updates the process's scoreboard segment, and finishes on the worker's stop signal:
 * SIGTERM lets requests in flight finish, SIGINT stops at once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mpm/mpm.h"

typedef struct EventLoopSpec {
        const Listener *listeners; /* accepted from (EPOLLEXCLUSIVE); may be a subset of the generation's */
        size_t n_listeners;
        int handoff_fd;            /* -1, or a SOCK_SEQPACKET Unix socket: each message is one EventHandoff as
                                    * data with exactly one connection fd attached (SCM_RIGHTS) */
        uint32_t worker_connections;
        uint32_t max_connections_per_child;
        bool reopen_own_logs;      /* SIGUSR1 on stop_fd (MpmChildPlan.reopen_in_loop): also reopen the logs this
                                    * process opened itself */
} EventLoopSpec;

typedef struct EventHandoff {
        char listener_name[64];    /* the listener the connection was accepted on (vhost selection uses it) */
} EventHandoff;

/* Receive one message of a hand-off socket (MSG_DONTWAIT): 1 with the connection in *ret_fd and
 * ret->listener_name NUL-terminated; 0 when the sender closed its end; -EAGAIN when nothing is
 * waiting; -EBADMSG when a message that was not exactly one EventHandoff with exactly one
 * descriptor was refused (logged; every descriptor it carried is closed); another -errno. */
int event_handoff_receive(int sock, EventHandoff *ret, int *ret_fd);

/* Run the event loop in a worker process until stopped; returns WORKER_EXIT_OK or WORKER_EXIT_FATAL. */
int event_loop_run(const WorkerContext *ctx, const EventLoopSpec *spec);
