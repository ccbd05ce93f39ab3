/* SPDX-License-Identifier: MIT */
/* accept.c — see accept.h. */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>

#include "mpm/accept.h"
#include "shared/log.h"

void accept_pause_init(AcceptPause *p) {
        *p = (AcceptPause) {};
        pthread_mutex_init(&p->lock, NULL);
}

void accept_pause_done(AcceptPause *p) {
        pthread_mutex_destroy(&p->lock);
}

bool accept_pause_begin(AcceptPause *p, usec_t now, unsigned n_open) {
        bool began = !p->in_episode;

        if (began) {
                p->in_episode = true;
                p->since = now;
                p->periods = 0;
        } else if (now < p->until)
                return false; /* another thread (or listener) of the same pause: not a new period */
        p->periods++;
        p->until = now + ACCEPT_PAUSE_USEC;
        p->open_at_pause = n_open;
        return began;
}

bool accept_pause_over(const AcceptPause *p, usec_t now, unsigned n_open) {
        return !p->in_episode || now >= p->until || n_open < p->open_at_pause;
}

usec_t accept_pause_left(const AcceptPause *p, usec_t now) {
        return p->in_episode && now < p->until ? p->until - now : 0;
}

bool accept_pause_end(AcceptPause *p, usec_t now, unsigned *ret_periods, usec_t *ret_duration) {
        if (!p->in_episode)
                return false;
        *ret_periods = p->periods;
        *ret_duration = now > p->since ? now - p->since : 0;
        p->in_episode = false;
        p->periods = 0;
        p->until = 0;
        p->open_at_pause = 0;
        return true;
}

int mpm_accept(AcceptPause *p, const Listener *l, usec_t now, unsigned n_open, struct sockaddr_storage *ret_peer,
               socklen_t *ret_len) {
        struct sockaddr_storage scratch;
        socklen_t len = sizeof(scratch);
        struct sockaddr_storage *peer = ret_peer ? ret_peer : &scratch;
        int fd = accept4(l->fd, (struct sockaddr *) peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (ret_len)
                *ret_len = len;
        if (fd >= 0) {
                unsigned periods;
                usec_t duration;
                /* Read without the lock first: the common case is no episode at all. */
                if (!__atomic_load_n(&p->in_episode, __ATOMIC_RELAXED))
                        return fd;
                pthread_mutex_lock(&p->lock);
                bool ended = accept_pause_end(p, now, &periods, &duration);
                pthread_mutex_unlock(&p->lock);
                if (ended)
                        log_info("accepting on %s again after %u paused period(s) over %llu ms, %u connection(s) open",
                                 l->name, periods, (unsigned long long) (duration / USEC_PER_MSEC), n_open);
                return fd;
        }
        int r = errno == EWOULDBLOCK ? -EAGAIN : -errno;
        if (r == -EMFILE || r == -ENFILE) {
                pthread_mutex_lock(&p->lock);
                bool began = accept_pause_begin(p, now, n_open);
                pthread_mutex_unlock(&p->lock);
                if (began)
                        log_warning_errno(r, "accept on %s: %m; pausing accepts (descriptor limit reached) while "
                                          "%u connection(s) are open", l->name, n_open);
        }
        return r;
}

bool mpm_listener_deferred(int fd) {
        int v = 0;
        socklen_t len = sizeof(v);

        return getsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &v, &len) == 0 && v > 0;
}

int accept_pause_watch(AcceptPause *p, int ep, const Listener *ls, size_t n, bool *watching, int max_ms) {
        usec_t now = now_usec(CLOCK_MONOTONIC);

        pthread_mutex_lock(&p->lock);
        bool over = accept_pause_over(p, now, 0);
        usec_t left = accept_pause_left(p, now);
        pthread_mutex_unlock(&p->lock);

        if (over != *watching) {
                for (size_t i = 0; i < n; i++) {
                        struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.u64 = i };
                        (void) epoll_ctl(ep, over ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, ls[i].fd, &ev);
                }
                *watching = over;
        }
        if (over)
                return max_ms;
        usec_t ms = (left + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
        return (int) MIN(ms, max_ms < 0 ? (usec_t) INT_MAX : (usec_t) max_ms);
}
