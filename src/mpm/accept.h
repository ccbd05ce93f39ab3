/* SPDX-License-Identifier: MIT */
/* accept.h — taking connections off a listening socket, the same way in every MPM (prefork,
 * worker, event, perchild's dispatcher): accept4() non-blocking and close-on-exec with the peer's
 * address, and one policy at the descriptor limit.
 *
 * At EMFILE or ENFILE a listener stays readable, so an MPM that went on accepting would spin. It
 * stops accepting instead (each in its own waiting model: prefork and worker take the listeners
 * out of their epoll set and wait for the rest of the pause, event and the dispatcher take them out
 * of theirs and look again on their sweep timer) for ACCEPT_PAUSE_USEC (nginx: 500 ms), or until
 * one of the connections it held when it paused ends and frees a descriptor; then it tries again.
 * The backlog keeps the new connections meanwhile. An episode, from the first failed accept to the
 * next one that works, is logged twice whatever its length: "...; pausing accepts" when it begins
 * and "accepting on NAME again after N paused period(s)..." when it ends, never once per failure.
 *
 * AcceptPause is the episode's state. The accept_pause_*() calls are pure (no clock, no log) so
 * that the policy can be tested; mpm_accept() does the accept and the logging around them. One
 * AcceptPause per process: the worker MPM's threads share theirs (it has a lock). */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "mpm/mpm.h"
#include "shared/time-util.h"

#define ACCEPT_PAUSE_USEC (500 * USEC_PER_MSEC)

typedef struct AcceptPause {
        pthread_mutex_t lock;   /* the worker MPM's threads share one */
        bool in_episode;        /* a failed accept, and none has worked since */
        usec_t since;           /* when the episode began */
        usec_t until;           /* accepts are tried again from here */
        unsigned periods;       /* pauses in this episode */
        unsigned open_at_pause; /* connections held at the last pause: one fewer frees a descriptor */
} AcceptPause;

void accept_pause_init(AcceptPause *p);
void accept_pause_done(AcceptPause *p);

/* An accept failed at the descriptor limit at now, with n_open connections held: pause (a failure
 * during a pause, another thread's, is the same period). true when this began an episode (the one
 * line to log at its start). */
bool accept_pause_begin(AcceptPause *p, usec_t now, unsigned n_open);
/* May accepts be tried again: no pause, its time is over, or a connection it held has ended. */
bool accept_pause_over(const AcceptPause *p, usec_t now, unsigned n_open);
/* How long until the pause is over by time (0 when it is); for a poll or epoll_wait timeout. */
usec_t accept_pause_left(const AcceptPause *p, usec_t now);
/* An accept worked at now: true when that ended an episode, with its pauses and length. */
bool accept_pause_end(AcceptPause *p, usec_t now, unsigned *ret_periods, usec_t *ret_duration);

/* accept4() one connection from l (SOCK_NONBLOCK | SOCK_CLOEXEC), its peer in *ret_peer (*ret_len
 * bytes, either may be NULL), at now with n_open connections held. Returns the fd, -EAGAIN when
 * none is waiting, -EMFILE/-ENFILE when accepting must pause (accept_pause_over() says when to
 * try again), or another -errno (the connection was lost: go on). Logs the episodes. */
int mpm_accept(AcceptPause *p, const Listener *l, usec_t now, unsigned n_open, struct sockaddr_storage *ret_peer,
               socklen_t *ret_len);

/* Does the listening socket fd defer accepts until data arrives (TCP_DEFER_ACCEPT, which mpmd sets
 * on the sockets it binds)? Then a connection accepted from it has its first bytes already, and
 * reading at once beats waiting for epoll. Asked once per listener, not per connection. */
bool mpm_listener_deferred(int fd);

/* For an MPM that waits in epoll_wait() on a set of its own with the listeners in it (data.u64 =
 * their index, EPOLLEXCLUSIVE): take them out while paused and put them back when the pause is
 * over (*watching says where they are). Returns the timeout for epoll_wait(): max_ms (-1: none),
 * or the rest of the pause while paused. */
int accept_pause_watch(AcceptPause *p, int ep, const Listener *ls, size_t n, bool *watching, int max_ms);
