/* SPDX-License-Identifier: MIT */
/* event.c — the event MPM: a fixed set of single-threaded processes, each one epoll loop over many
 * connections. A connection waiting for its next request costs no thread and, between requests,
 * no buffer (the engine releases them); writes that would block are finished by the loop when the
 * socket becomes writable. Each process bounds the connections it holds (WorkerConnections, as
 * nginx's worker_connections): at the bound it closes its oldest idle keep-alive connection to make
 * room, and when none is idle it stops accepting until one ends, so new connections wait in the
 * kernel's backlog instead of being queued without bound. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "build-config.h"
#include "mpm/proxy-io.h"
#include "mpm/accept.h"
#include "mpm/conn-driver.h"
#include "mpm/event.h"
#include "shared/fd-pass.h"
#include "shared/log.h"
#include "mpm/maintain.h"
#include "mpm/mpm.h"
#include "http/server-logs.h"
#include "http/upstream.h"
#include "mpm/socket-io.h"
#include "shared/time-util.h"
#if HAVE_TLS
#include "mpm/tls-io.h"
#else
typedef struct TlsIo TlsIo;
#endif

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

static unsigned event_capacity(const Generation *g) {
        const EventConfig *c = g->mpm_config;
        return event_processes(c) * c->worker_connections;
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
        SOURCE_HANDOFF,
        SOURCE_STOP,
        SOURCE_CONN,
        SOURCE_HANDLER, /* a descriptor a connection's handler waits on (a CGI program's output, the launcher) */
        SOURCE_UPSTREAM, /* a kept-alive upstream socket, watched from its first wait to its close */
} EventSourceKind;

typedef struct EventSource {
        EventSourceKind kind;
        const Listener *listener;
        uint16_t local_port; /* of the listener, looked up once rather than per connection */
        bool deferred;       /* TCP_DEFER_ACCEPT: an accepted connection has its request bytes */
        uint8_t slot;        /* SOURCE_HANDLER: which of its connection's handler_source it is */
} EventSource;

struct EventConn;

/* A kept-alive upstream connection's socket (HttpHandler.wait_slot): in the set edge-triggered, for
 * both directions, from the first wait on it until it is closed, so that a proxied request costs
 * no epoll_ctl (nginx keeps its upstream sockets the same way). Whoever waits on it now is waiter;
 * an edge that comes while nobody waits for its direction is kept (pending_*), and the next wait
 * for that direction runs again at once instead of waiting for an edge that came already. One per
 * descriptor number, kept by the loop (EventLoop.upstreams) and found again through the upstream
 * connection's driver_slot: a socket closed and its number reused comes back here as new. */
typedef struct EventUpstream {
        EventSource source; /* first: epoll's data.ptr points here */
        struct EventLoop *loop; /* NULL: not in the set (any more) */
        int fd;
        struct EventConn *waiter;
        bool want_write;
        bool pending_in, pending_out;
} EventUpstream;

typedef struct EventConn {
        EventSource source; /* first: epoll's data.ptr points here */
        int fd;
        /* With EPOLLET, a read that returned less than asked for drained the socket: the next one
         * would only say EAGAIN, so it is not made until epoll reports input again. */
        bool readable;
        bool hup; /* the peer's end of stream (or an error) was reported: reads never block again */
        /* Handed off: the socket's O_NONBLOCK is not yet confirmed (see loop_receive_handoff()).
         * Reads and writes say MSG_DONTWAIT themselves; sendfile, which cannot, looks first. */
        bool check_nonblock;
        bool closed; /* closed in this batch of events: freed after it, its later events ignored */
        HttpConn *http;
        /* TLS over event_io (tls-io.h): the engine talks to it, it to event_io, so the readable
         * bookkeeping above sees every byte. NULL: a plain connection. */
        TlsIo *tls;
        ProxyIo *proxy; /* the PROXY header under everything else (proxy-io.h); NULL: none */
        bool tls_counted; /* its completed handshake is in the scoreboard */
        HttpConnPhase phase;
        /* epoll's data.ptr for what its handler waits on: the two are used in turn, one wait after
         * the other, so that an event of the wait before (still in the batch being handled) is not
         * taken for one of the current wait (see wait_fired). */
        EventSource handler_source[2];
        unsigned wait_slot; /* the one the current wait uses */
        /* What the handler waits on (HTTP_CONN_WANT_FD_*), registered until the next call into the
         * engine: it may be a duplicate of a socket that stays open elsewhere, or an upstream
         * connection that goes back to a pool, so closing it would not take it out of the set. -1:
         * none. */
        int wait_fd;
        /* Its one event came (EPOLLONESHOT): the descriptor is disarmed but still in the set, and
         * is left there; whoever waits on it next re-arms it with EPOLL_CTL_MOD (a kept-alive
         * upstream connection: one system call per request instead of an ADD and a DEL). */
        bool wait_fired;
        EventUpstream *wait_upstream; /* wait_fd is a kept upstream socket: waited on through it */
        char *listener_name; /* owned, for a handed-off connection on a listener we do not know */
        struct EventLoop *loop;
        struct EventConn *prev, *next;
} EventConn;

typedef struct EventLoop {
        const Generation *g;
        const EventLoopSpec *spec;
        ScoreboardProcess *board;
        int ep;
        EventSource *listeners;
        EventSource handoff;
        EventSource stop;
        EventConn *conns; /* most recently active first */
        EventConn *closed; /* closed during this batch of events, freed after it */
        unsigned n_conns, n_idle;
        bool accepting;
        bool stopping;
        AcceptPause pause; /* at the descriptor limit (accept.h) */
        uint64_t accepted;
        EventUpstream **upstreams; /* by descriptor number */
        size_t n_upstreams;
} EventLoop;

static ssize_t event_io_read(void *ctx, void *buf, size_t n) {
        EventConn *c = ctx;
        ssize_t k;

        if (!c->readable)
                return HTTP_IO_WANT_READ;
        k = recv(c->fd, buf, n, MSG_DONTWAIT);
        if (k < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                        c->readable = false;
                        return HTTP_IO_WANT_READ;
                }
                return -errno;
        }
        if (k > 0 && (size_t) k < n && !c->hup)
                c->readable = false;
        return k;
}

static ssize_t event_io_writev(void *ctx, const struct iovec *iov, int n) {
        EventConn *c = ctx;
        struct msghdr mh = { .msg_iov = (struct iovec *) iov, .msg_iovlen = (size_t) n };
        /* MSG_NOSIGNAL: a peer that went away is an error, not a SIGPIPE. */
        ssize_t k = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (k < 0)
                return errno == EWOULDBLOCK ? HTTP_IO_WANT_WRITE : -errno;
        return k;
}

/* O_NONBLOCK on a handed-off socket, once, before its first sendfile: the one call here whose
 * blocking follows the descriptor's status flags rather than a flag of its own. */
static int event_conn_ensure_nonblock(EventConn *c) {
        if (!c->check_nonblock)
                return 0;
        int flags = fcntl(c->fd, F_GETFL);
        if (flags < 0)
                return -errno;
        if (!(flags & O_NONBLOCK) && fcntl(c->fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;
        c->check_nonblock = false;
        return 0;
}

static ssize_t event_io_sendfile(void *ctx, int in_fd, off_t *offset, size_t n) {
        EventConn *c = ctx;
        int r = event_conn_ensure_nonblock(c);
        if (r < 0)
                return r;
        ssize_t k = sendfile(c->fd, in_fd, offset, n);

        if (k < 0)
                return errno == EWOULDBLOCK ? HTTP_IO_WANT_WRITE : -errno;
        return k;
}

static int event_io_shutdown(void *ctx) {
        EventConn *c = ctx;
        return shutdown(c->fd, SHUT_WR) < 0 ? -errno : 0;
}

static ssize_t event_io_unsent(void *ctx) {
        EventConn *c = ctx;
        return socket_unsent(c->fd);
}

static void event_io_reset(void *ctx) {
        EventConn *c = ctx;
        socket_reset_on_close(c->fd);
}

static int event_io_local_address(void *ctx, char *buf, size_t size) {
        EventConn *c = ctx;
        return socket_local_address(c->fd, buf, size);
}

static const HttpIo event_io = {
        .read = event_io_read,
        .writev = event_io_writev,
        .sendfile = event_io_sendfile,
        .shutdown = event_io_shutdown,
        .unsent = event_io_unsent,
        .reset = event_io_reset,
        .local_address = event_io_local_address,
};

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
        w->duration_buckets[http_status_duration_bucket(duration)]++;
        strncpy((char *) w->method, method, sizeof(w->method) - 1);
        strncpy(w->vhost, vhost, sizeof(w->vhost) - 1);
}

static void conn_error(void *userdata, const HttpSite *site, int level, const char *client, const char *message) {
        EventConn *c = userdata;
        mpm_log_site(c->loop->g->http, site, level, client, message);
}

static const HttpConnObserver event_observer = {
        .phase = conn_phase,
        .request_done = conn_request_done,
        .error = conn_error,
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

static TlsIo *event_conn_free_tls(TlsIo *t) {
#if HAVE_TLS
        tls_io_free(t);
#endif
        return NULL;
}

static void event_conn_free(EventConn *c) {
        http_conn_free(c->http);
        event_conn_free_tls(c->tls);
        proxy_io_free(c->proxy);
        /* close() removes it from the epoll set as well, because this process holds the only
         * descriptor of the connection: the dispatcher closes its copy once the hand-off is sent
         * (and takes it out of its own epoll set first, see dispatch.c), nothing here dups it, and
         * pools fork nothing. */
        safe_close(c->fd);
        free(c->listener_name);
        free(c);
}

/* Before any call into the engine, which may close it or give it to another connection: the
 * descriptor the handler waited on must not report to this connection any more. Armed, it leaves
 * the set; its event came, it is disarmed already (EPOLLONESHOT reports nothing more, not even
 * EPOLLHUP, until re-armed) and stays: closing it takes it out, and the next wait on it re-arms
 * it with its own data.ptr. */
static void loop_unwatch_handler(EventLoop *l, EventConn *c) {
        if (c->wait_upstream) {
                /* It stays in the set, reporting to nobody until the next wait. */
                c->wait_upstream->waiter = NULL;
                c->wait_upstream = NULL;
                c->wait_fd = -1;
                return;
        }
        if (c->wait_fd < 0)
                return;
        if (!c->wait_fired)
                (void) epoll_ctl(l->ep, EPOLL_CTL_DEL, c->wait_fd, NULL);
        c->wait_fd = -1;
        c->wait_fired = false;
        c->wait_slot ^= 1;
}

/* Close now, free after the batch: an event for c (its socket's, its CGI pipe's) may still be
 * waiting in the batch being handled. */
static void loop_close(EventLoop *l, EventConn *c) {
        loop_unwatch_handler(l, c);
        if (c->phase == HTTP_PHASE_IDLE)
                l->n_idle--;
        loop_list_remove(l, c);
        c->http = http_conn_free(c->http);
        c->tls = event_conn_free_tls(c->tls);
        c->fd = safe_close(c->fd);
        c->closed = true;
        c->next = l->closed;
        l->closed = c;
        l->n_conns--;
}

static void loop_free_closed(EventLoop *l) {
        while (l->closed) {
                EventConn *c = l->closed;
                l->closed = c->next;
                event_conn_free(c);
        }
}

static void loop_set_accepting(EventLoop *l, bool on) {
        if (l->accepting == on)
                return;
        for (size_t i = 0; i < l->spec->n_listeners; i++) {
                if (on) {
                        struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &l->listeners[i] };
                        (void) epoll_ctl(l->ep, EPOLL_CTL_ADD, l->spec->listeners[i].fd, &ev);
                } else
                        (void) epoll_ctl(l->ep, EPOLL_CTL_DEL, l->spec->listeners[i].fd, NULL);
        }
        if (l->spec->handoff_fd >= 0) {
                /* Not read while full: the sender's next message then fails with EAGAIN and it
                 * answers 503 itself. */
                if (on) {
                        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &l->handoff };
                        (void) epoll_ctl(l->ep, EPOLL_CTL_ADD, l->spec->handoff_fd, &ev);
                } else
                        (void) epoll_ctl(l->ep, EPOLL_CTL_DEL, l->spec->handoff_fd, NULL);
        }
        l->accepting = on;
        l->board->accepting = on;
}

/* The record of upstream socket fd for a wait through *slot (HttpHandler.wait_slot), put in the
 * set when it is not there yet; NULL when that fails (then it is waited on as any descriptor). */
static EventUpstream *loop_upstream(EventLoop *l, int fd, void **slot) {
        EventUpstream *u = *slot;

        if (u && u->loop == l && u->fd == fd)
                return u;
        if ((size_t) fd >= l->n_upstreams) {
                size_t n = MAX((size_t) fd + 1, l->n_upstreams * 2);
                EventUpstream **grown = reallocarray(l->upstreams, n, sizeof(*grown));
                if (!grown)
                        return NULL;
                memset(grown + l->n_upstreams, 0, (n - l->n_upstreams) * sizeof(*grown));
                l->upstreams = grown;
                l->n_upstreams = n;
        }
        u = l->upstreams[fd];
        if (!u) {
                u = malloc(sizeof(*u));
                if (!u)
                        return NULL;
                l->upstreams[fd] = u;
        }
        *u = (EventUpstream) { .source.kind = SOURCE_UPSTREAM, .fd = fd };
        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = u };
        int r = epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev);
        if (r < 0 && errno == EEXIST) /* there one-shot (see below): it becomes ours */
                r = epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev);
        if (r < 0)
                return NULL;
        u->loop = l;
        *slot = u;
        return u;
}

/* Run one connection as far as its I/O allows; closes it when it is done. */
static void loop_run(EventLoop *l, EventConn *c, usec_t now) {
        loop_unwatch_handler(l, c);
        HttpConnWant w = http_conn_run(c->http, now);
        bool upstream_wait = false;
        /* A kept upstream socket: the edge of what it waits for may have come while nobody
         * waited (pending): then it runs again at once, and reads or writes until EAGAIN. */
        while (w == HTTP_CONN_WANT_FD_READ || w == HTTP_CONN_WANT_FD_WRITE) {
                void **slot = http_conn_wait_slot(c->http);
                int fd = http_conn_wait_fd(c->http);
                EventUpstream *u = slot ? loop_upstream(l, fd, slot) : NULL;
                if (!u)
                        break;
                bool write = w == HTTP_CONN_WANT_FD_WRITE;
                bool *pending = write ? &u->pending_out : &u->pending_in;
                if (*pending) {
                        *pending = false;
                        w = http_conn_run(c->http, now);
                        continue;
                }
                u->waiter = c;
                u->want_write = write;
                c->wait_upstream = u;
                c->wait_fd = fd;
                upstream_wait = true;
                break;
        }
#if HAVE_TLS
        if (c->tls && !c->tls_counted && tls_io_handshake_done(c->tls)) {
                c->tls_counted = true;
                l->board->workers[0].tls_connections++;
                if (tls_io_ktls(c->tls))
                        l->board->workers[0].ktls_connections++;
        }
#endif

        if (!upstream_wait && (w == HTTP_CONN_WANT_FD_READ || w == HTTP_CONN_WANT_FD_WRITE)) {
                /* What else the handler waits on (a program's pipe, the CGI launcher's socket, a
                 * tunnelled upstream) is watched for one event (EPOLLONESHOT): armed, it leaves the
                 * set before the next call into the engine (loop_unwatch_handler), which may close
                 * it or give it to another connection; it never reports to this one after that. */
                int fd = http_conn_wait_fd(c->http);
                if ((size_t) fd < l->n_upstreams && l->upstreams[fd])
                        l->upstreams[fd]->loop = NULL; /* one-shot from now on: no longer ours */
                struct epoll_event ev = {
                        .events = (w == HTTP_CONN_WANT_FD_READ ? EPOLLIN : EPOLLOUT) | EPOLLONESHOT,
                        .data.ptr = &c->handler_source[c->wait_slot],
                };
                /* One whose event came is in the set already, disarmed (see
                 * loop_unwatch_handler); a new descriptor is not: ENOENT, then ADD. */
                int r = epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev);
                if (r < 0 && errno == ENOENT)
                        r = epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev);
                if (r < 0) {
                        log_warning_errno(errno, "Cannot watch what a request waits on: %m");
                        w = HTTP_CONN_DONE;
                } else
                        c->wait_fd = fd;
        }
        if (w == HTTP_CONN_DONE)
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

/* Room for one more connection? At the bound, shed an idle one or stop taking new ones. */
static bool loop_make_room(EventLoop *l) {
        if (l->n_conns < l->spec->worker_connections || loop_shed_idle(l))
                return true;
        loop_set_accepting(l, false);
        return false;
}

/* Take a connected socket into the loop. With has_data (the listener defers accepts until bytes
 * arrive, or the dispatcher saw the head), it is served at once, and a connection that is answered
 * and closed in this pass never enters the epoll set; otherwise nothing is read now (that read
 * would mostly fail): it is registered edge-triggered, and epoll reports its request (already there
 * or not) with the next batch of events. handed_off: it came from a dispatcher, not from our own
 * accept4 (SOCK_NONBLOCK). listener: the one of ours it was accepted on (for a handed-off
 * connection, NULL on a plain listener, one with just its name and its TLS and PROXY flags on a TLS
 * or PROXY one: loop_receive_handoff()); a PROXY one gets proxy_io below everything else, a TLS one
 * the TLS transport with this process's store (under perchild the pool's), or the connection is
 * closed unserved. Takes ownership of fd; false when the loop
 * should stop taking more. */
static bool loop_adopt(EventLoop *l, int fd, const Listener *listener, const HttpConnInfo *info, char *owned_name,
                       bool has_data, bool handed_off, usec_t now) {
        EventConn *c = calloc(1, sizeof(*c));

        if (!c) {
                safe_close(fd);
                free(owned_name);
                return true;
        }
        c->source.kind = SOURCE_CONN;
        for (unsigned i = 0; i < 2; i++)
                c->handler_source[i] = (EventSource) { .kind = SOURCE_HANDLER, .slot = (uint8_t) i };
        c->wait_fd = -1;
        c->fd = fd;
        c->check_nonblock = handed_off;
        c->loop = l;
        c->phase = HTTP_PHASE_READ;
        c->listener_name = owned_name;
        const HttpIo *io = &event_io;
        void *io_ctx = c;
        if (listener && listener->proxy_protocol) {
                c->proxy = proxy_io_new(&event_io, c, info->peer, &l->g->http->sites[0].cfg->remote_ip.trusted);
                if (!c->proxy) {
                        event_conn_free(c);
                        return true;
                }
                io = &proxy_io;
                io_ctx = c->proxy;
        }
        if (listener && listener->tls) {
#if HAVE_TLS
                c->tls = tls_io_accept(l->g->tls, listener->name, io, io_ctx, fd, !c->proxy);
#endif
                if (!c->tls) {
                        event_conn_free(c);
                        return true;
                }
#if HAVE_TLS
                io = &tls_io;
                io_ctx = c->tls;
#endif
        }
        c->http = http_conn_new(l->g->http, io, io_ctx, info, now);
        if (!c->http) {
                event_conn_free(c);
                return true;
        }
        http_conn_set_observer(c->http, &event_observer, c);
        l->board->workers[0].connections++;
        loop_list_push_front(l, c);
        l->n_conns++;
        l->accepted++;
        if (l->stopping)
                http_conn_drain(c->http, now, EVENT_DRAIN_GRACE_USEC);
        if (has_data) {
                c->readable = true;
                loop_run(l, c, now);
        }
        if (!c->closed) {
                /* Whatever arrived since the last read is reported at once by the ADD itself. */
                struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c };
                if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
                        loop_close(l, c);
        }
        if (l->spec->max_connections_per_child > 0 && l->accepted >= l->spec->max_connections_per_child) {
                log_debug("accepted MaxConnectionsPerChild (%u) connections, finishing",
                          l->spec->max_connections_per_child);
                l->stopping = true;
                loop_set_accepting(l, false);
                return false;
        }
        return true;
}

static void loop_accept(EventLoop *l, const EventSource *src, usec_t now) {
        const Listener *listener = src->listener;

        for (int k = 0; k < EVENT_ACCEPT_BATCH; k++) {
                struct sockaddr_storage peer;
                HttpConnInfo info;

                if (!loop_make_room(l))
                        return;
                int fd = mpm_accept(&l->pause, listener, now, l->n_conns, &peer, NULL);
                if (fd < 0) {
                        /* Out of descriptors: the listeners leave the set until the pause is over
                         * (looked at after every batch, at least every sweep). */
                        if (fd == -EMFILE || fd == -ENFILE)
                                loop_set_accepting(l, false);
                        return;
                }
                socket_conn_info_from(&peer, listener->name, src->local_port, &info);
                if (!loop_adopt(l, fd, listener, &info, NULL, src->deferred, false, now))
                        return;
        }
}

/* The name a handed-off connection's listener goes by: one of ours when we know it (the pointer
 * must outlive the connection), else a copy the connection owns. *ret_port: the local port of the
 * listeners of that name, as looked up once when they were opened (the value our own accepts use),
 * or 0 when we know none or they disagree (several sockets of a systemd unit may share a name).
 * *ret_proxy: this generation names it in RemoteIPProxyProtocol (its connections start with a PROXY
 * header); a name it does not know is not one. */
static const char *loop_listener_name(const EventLoop *l, const char *name, char **ret_owned, uint16_t *ret_port,
                                      bool *ret_proxy) {
        const char *found = NULL;
        uint16_t port = 0;
        bool agree = true;

        *ret_owned = NULL;
        *ret_proxy = false;
        for (size_t i = 0; i < l->spec->n_listeners + l->g->n_listeners; i++) {
                const Listener *li = i < l->spec->n_listeners ? &l->spec->listeners[i]
                                                              : &l->g->listeners[i - l->spec->n_listeners];
                if (strcmp(li->name, name) != 0)
                        continue;
                if (!found) {
                        found = li->name;
                        port = li->port;
                } else if (li->port != port)
                        agree = false;
                *ret_proxy = *ret_proxy || li->proxy_protocol;
        }
        *ret_port = agree ? port : 0;
        if (found)
                return found;
        *ret_owned = strdup(name);
        return *ret_owned;
}

int event_handoff_receive(int sock, EventHandoff *ret, int *ret_fd) {
        int fd = -1;
        size_t n_fds;

        *ret = (EventHandoff) {};
        *ret_fd = -1;
        /* Exactly one descriptor is the protocol: fd_pass closes any extra, and a cut message. */
        ssize_t n = fd_pass_receive(sock, ret, sizeof(*ret), &fd, 1, &n_fds, MSG_DONTWAIT);
        if (n < 0 && n != -EBADMSG)
                return (int) n;
        if (n_fds == 0 || n != sizeof(*ret)) {
                log_warning("Dropping a malformed connection hand-off (%s%zd bytes%s)", n == -EBADMSG ? "cut, " : "",
                            n < 0 ? (ssize_t) 0 : n, n_fds == 0 ? ", no descriptor" : "");
                safe_close(fd);
                return n == 0 ? 0 : -EBADMSG; /* 0: the sender closed its end */
        }
        ret->listener_name[sizeof(ret->listener_name) - 1] = 0;
        *ret_fd = fd;
        return 1;
}

/* Receive one handed-off connection; false when there is none (or the loop is full).
 *
 * What the pool takes on the dispatcher's word (it is unprivileged, sandboxed, and the first to
 * parse what strangers send): the descriptor, and the listener's name, which picks the sites
 * reachable; a dispatcher that lied about either could as well have sent another connection.
 * Nothing else it says is believed where the pool can see for itself:
 *   the peer address   asked of the socket (getpeername). It is more than a log line: it decides
 *                      ServerStatusAllow and is a CGI program's REMOTE_ADDR; the dispatcher has no
 *                      socket() or connect() of its own, so the socket's answer is a real client's.
 *   the local port     the named listener's, as for our own accepts: it follows from the name, so
 *                      it gives a lying dispatcher nothing the name did not; asked of the socket
 *                      when the name does not settle it.
 *   O_NONBLOCK         not taken on its word (it accepts with SOCK_NONBLOCK, and the flag belongs
 *                      to the open file description, which SCM_RIGHTS passes): reads and writes
 *                      say MSG_DONTWAIT themselves, and sendfile, which cannot, sets the flag
 *                      first if missing (event_conn_ensure_nonblock()). A blocking socket cannot
 *                      stall the loop, and the common answer costs no fcntl. */
static bool loop_receive_handoff(EventLoop *l, usec_t now) {
        EventHandoff h;
        struct sockaddr_storage peer;
        socklen_t len = sizeof(peer);
        HttpConnInfo info;
        int fd;
        char *owned;
        uint16_t local_port;
        bool proxy;

        if (!loop_make_room(l))
                return false;
        int r = event_handoff_receive(l->spec->handoff_fd, &h, &fd);
        if (r <= 0)
                return r == -EBADMSG; /* a refused one: look for the next */
        const char *name = loop_listener_name(l, h.listener_name, &owned, &local_port, &proxy);
        if (getpeername(fd, (struct sockaddr *) &peer, &len) < 0)
                peer.ss_family = AF_UNSPEC;
        if (local_port == 0)
                local_port = socket_local_port(fd);
        socket_conn_info_from(&peer, name ? name : "", local_port, &info);
        /* A TLS listener's connection is served over TLS here: the dispatcher only peeked its
         * ClientHello, and the handshake is this pool's, with its own store. The flag comes from
         * the name (listener_name_is_tls(), the rule the supervisor marks listeners by), so that a
         * name this generation does not know (a newer generation's dispatcher, a site kept in an
         * older pool) is never served in plain text: its store does not know it either, and the
         * connection is closed unserved. On a listener this generation names in
         * RemoteIPProxyProtocol the dispatcher only peeked past the PROXY header: it is still in the
         * socket, and proxy_io takes it here as outside perchild, trusting only the peer the socket
         * names (never the dispatcher's word), so the client reaches the logs, Require ip and CGI. */
        Listener as = { .fd = -1, .name = (char *) name, .tls = listener_name_is_tls(name), .proxy_protocol = proxy };
        /* The dispatcher passes a connection on once it has seen its request head or ClientHello. */
        return loop_adopt(l, fd, as.tls || as.proxy_protocol ? &as : NULL, &info, owned, true, true, now);
}

static void loop_sweep(EventLoop *l, usec_t now) {
        EventConn *next;

        http_upstream_pool_sweep(now);
        for (EventConn *c = l->conns; c; c = next) {
                next = c->next;
                if (http_conn_deadline(c->http) > now)
                        continue;
                loop_unwatch_handler(l, c);
                if (http_conn_timeout(c->http, now) == HTTP_CONN_DONE)
                        loop_close(l, c);
        }
}

static void loop_begin_stop(EventLoop *l, usec_t now) {
        l->stopping = true;
        loop_set_accepting(l, false);
        for (EventConn *c = l->conns; c; c = c->next)
                http_conn_drain(c->http, now, EVENT_DRAIN_GRACE_USEC);
}


int event_loop_run(const WorkerContext *ctx, const EventLoopSpec *spec) {
        const Generation *g = ctx->generation;
        EventLoop l = {
                .g = g,
                .spec = spec,
                .board = ctx->board,
                .handoff = { .kind = SOURCE_HANDOFF },
                .stop = { .kind = SOURCE_STOP },
        };
        usec_t next_sweep;

        accept_pause_init(&l.pause);
        /* Keep freed memory instead of giving the top of the heap back to the kernel after every
         * connection and faulting it in again for the next one. */
        (void) mallopt(M_TRIM_THRESHOLD, 64 << 20);
        (void) mallopt(M_TOP_PAD, 1 << 20);

        l.ep = epoll_create1(EPOLL_CLOEXEC);
        l.listeners = calloc(MAX(spec->n_listeners, (size_t) 1), sizeof(EventSource));
        if (l.ep < 0 || !l.listeners)
                return log_error_errno(errno, "Cannot set up the event loop: %m"), WORKER_EXIT_FATAL;
        for (size_t i = 0; i < spec->n_listeners; i++)
                l.listeners[i] = (EventSource) {
                        .kind = SOURCE_LISTENER,
                        .listener = &spec->listeners[i],
                        .local_port = spec->listeners[i].port,
                        .deferred = mpm_listener_deferred(spec->listeners[i].fd),
                };
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
                                loop_accept(&l, src, now);
                                break;
                        case SOURCE_HANDOFF:
                                for (int k = 0; k < EVENT_ACCEPT_BATCH && l.accepting; k++)
                                        if (!loop_receive_handoff(&l, now))
                                                break;
                                break;
                        case SOURCE_STOP: {
                                int sig = conn_driver_read_stop(ctx->stop_fd);
                                if (sig == SIGUSR1)
                                        mpm_worker_reopen_logs(g, spec->reopen_own_logs);
                                if (sig == SIGINT)
                                        goto out; /* stop now */
                                if (sig == SIGTERM && !l.stopping)
                                        loop_begin_stop(&l, now);
                                break;
                        }
                        case SOURCE_UPSTREAM: {
                                EventUpstream *u = (EventUpstream *) src;
                                uint32_t e = ev[i].events;
                                bool in = e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
                                bool out = e & (EPOLLOUT | EPOLLHUP | EPOLLERR);
                                EventConn *c = u->waiter;
                                bool wanted = c && !c->closed && (u->want_write ? out : in);
                                /* The other direction's edge (or this one's, with nobody waiting) is kept. */
                                if (in && !(wanted && !u->want_write))
                                        u->pending_in = true;
                                if (out && !(wanted && u->want_write))
                                        u->pending_out = true;
                                if (wanted)
                                        loop_run(&l, c, now);
                                break;
                        }
                        case SOURCE_HANDLER: {
                                unsigned slot = src->slot;
                                EventConn *c = container_of(src - slot, EventConn, handler_source[0]);
                                if (c->closed)
                                        break;
                                if (c->wait_fd >= 0 && slot == c->wait_slot)
                                        c->wait_fired = true; /* disarmed by its one event */
                                loop_run(&l, c, now);
                                break;
                        }
                        case SOURCE_CONN: {
                                EventConn *c = (EventConn *) src;
                                if (c->closed)
                                        break;
                                if (ev[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                                        c->readable = true;
                                /* An end of stream that came with the data is reported once: the read
                                 * after a short one must still see it. */
                                if (ev[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                                        c->hup = true;
                                loop_run(&l, c, now);
                                break;
                        }
                        }
                }
                if (now >= next_sweep) {
                        loop_sweep(&l, now);
                        next_sweep = now + EVENT_SWEEP_USEC;
                }
                if (!l.accepting && !l.stopping && l.n_conns < spec->worker_connections &&
                    accept_pause_over(&l.pause, now, l.n_conns))
                        loop_set_accepting(&l, true);
                loop_free_closed(&l);
                loop_update_board(&l);
                (void) http_server_flush_logs(g->http, now);
        }
out:
        while (l.conns)
                loop_close(&l, l.conns);
        loop_free_closed(&l);
        for (size_t i = 0; i < l.n_upstreams; i++)
                free(l.upstreams[i]);
        free(l.upstreams);
        (void) http_server_flush_logs(g->http, USEC_INFINITY);
        ctx->board->accepting = 0;
        ctx->board->workers[0].state = WS_GRACEFUL;
        free(l.listeners);
        close(l.ep);
        accept_pause_done(&l.pause);
        return WORKER_EXIT_OK;
}

static int event_worker_main(const WorkerContext *ctx) {
        const Generation *g = ctx->generation;
        const EventConfig *cfg = g->mpm_config;
        EventLoopSpec spec = {
                .listeners = g->listeners,
                .n_listeners = g->n_listeners,
                .handoff_fd = -1,
                .worker_connections = cfg->worker_connections,
                .max_connections_per_child = cfg->max_connections_per_child,
        };

        return event_loop_run(ctx, &spec);
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
        .capacity = event_capacity,
        .start = event_start,
        .maintain = event_maintain,
        .worker_main = event_worker_main,
        .sandbox_profile = SANDBOX_PROFILE_EVENT,
};
