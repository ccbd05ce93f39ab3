/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "build-config.h"
#include "mpm/conn-driver.h"
#include "mpm/mpm.h"
#include "mpm/proxy-io.h"
#include "http/server-logs.h"
#include "http/upstream.h"
#include "mpm/socket-io.h"
#include "shared/time-util.h"
#if HAVE_TLS
#include "mpm/tls-io.h"
#else
typedef struct TlsIo TlsIo;
#endif

#define DRAIN_GRACE_USEC (1 * USEC_PER_SEC)

typedef struct DriverState {
        const HttpServer *server;
        WorkerScore *score;
} DriverState;

static void driver_phase(void *userdata, HttpConnPhase phase) {
        DriverState *d = userdata;
        static const uint8_t letters[] = {
                [HTTP_PHASE_IDLE] = WS_KEEPALIVE,
                [HTTP_PHASE_READ] = WS_READ,
                [HTTP_PHASE_WRITE] = WS_WRITE,
                [HTTP_PHASE_LINGER] = WS_CLOSING,
                [HTTP_PHASE_CLOSED] = WS_CLOSING,
        };
        if (d->score)
                d->score->state = letters[phase];
}

static void driver_request_done(void *userdata, const char *vhost, const char *method, int status, uint64_t bytes,
                                usec_t duration) {
        DriverState *d = userdata;
        if (!d->score)
                return;
        d->score->requests++;
        d->score->bytes += bytes;
        d->score->duration_usec += duration;
        d->score->duration_buckets[http_status_duration_bucket(duration)]++;
        strncpy((char *) d->score->method, method, sizeof(d->score->method) - 1);
        strncpy(d->score->vhost, vhost, sizeof(d->score->vhost) - 1);
}

static void driver_error(void *userdata, const HttpSite *site, int level, const char *client, const char *message) {
        DriverState *d = userdata;
        mpm_log_site(d->server, site, level, client, message);
}

static const HttpConnObserver driver_observer = {
        .phase = driver_phase,
        .request_done = driver_request_done,
        .error = driver_error,
};

/* A TLS connection is counted once its handshake is done; true once it is. */
static bool driver_count_tls(const TlsIo *tls, WorkerScore *score) {
#if HAVE_TLS
        if (!tls_io_handshake_done(tls))
                return false;
        if (score) {
                score->tls_connections++;
                if (tls_io_ktls(tls))
                        score->ktls_connections++;
        }
#endif
        return true;
}

int conn_driver_read_stop(int fd) {
        struct signalfd_siginfo si;
        ssize_t n = read(fd, &si, sizeof(si));
        return n == (ssize_t) sizeof(si) ? (int) si.ssi_signo : 0;
}

/* Serve the connection on fd through io (with io_ctx): the plain socket's, or TLS over it (tls,
 * then io_ctx). */
static void driver_serve(const HttpServer *server, int *fd, const HttpIo *io, void *io_ctx, const TlsIo *tls,
                         const HttpConnInfo *info, WorkerScore *score, ConnDriverStop *stop) {
        DriverState d = { .server = server, .score = score };
        HttpConn *c;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        bool tls_counted = !tls;

        c = http_conn_new(server, io, io_ctx, info, now);
        if (!c)
                return;
        if (score) {
                score->connections++;
                score->state = WS_READ;
        }
        http_conn_set_observer(c, &driver_observer, &d);
        if (stop && *stop->stopping)
                http_conn_drain(c, now, DRAIN_GRACE_USEC);

        for (;;) {
                HttpConnWant w = http_conn_run(c, now);
                if (!tls_counted)
                        tls_counted = driver_count_tls(tls, score);
                if (w == HTTP_CONN_DONE)
                        break;

                /* What a handler waits on (a CGI program's output, the launcher's answer or its full
                 * queue) is waited for instead of the client. */
                bool handler = w == HTTP_CONN_WANT_FD_READ || w == HTTP_CONN_WANT_FD_WRITE;
                bool out = w == HTTP_CONN_WANT_WRITE || w == HTTP_CONN_WANT_FD_WRITE;
                struct pollfd p[3] = {
                        { .fd = handler ? http_conn_wait_fd(c) : *fd, .events = out ? POLLOUT : POLLIN },
                        { .fd = stop && !*stop->stopping ? stop->fd : -1, .events = POLLIN },
                        /* A tunnel waits on both sides at once. */
                        { .fd = handler && http_conn_watch_client(c) ? *fd : -1, .events = POLLIN },
                };
                /* Wake at least once a second so buffered access log lines reach the file. */
                usec_t wake = MIN(http_conn_deadline(c), now + USEC_PER_SEC);
                int k = poll(p, 3, usec_to_timeout_ms(wake, now));
                now = now_usec(CLOCK_MONOTONIC);
                (void) http_server_flush_logs(server, now);
                http_upstream_pool_sweep(now);
                if (k < 0 && errno != EINTR)
                        break;
                if (p[1].revents & POLLIN) {
                        int sig = stop->is_signalfd ? conn_driver_read_stop(stop->fd) : SIGTERM;
                        *stop->stopping = true;
                        if (sig == SIGINT)
                                break; /* stop now */
                        http_conn_drain(c, now, DRAIN_GRACE_USEC);
                }
                if (now >= http_conn_deadline(c)) {
                        if (http_conn_timeout(c, now) == HTTP_CONN_DONE)
                                break;
                }
        }
        http_conn_free(c);
}

void conn_driver_serve(const HttpServer *server, int fd, const HttpConnInfo *info, WorkerScore *score,
                       ConnDriverStop *stop) {
        driver_serve(server, &fd, &socket_io, &fd, NULL, info, score, stop);
        safe_close(fd);
        (void) http_server_flush_logs(server, now_usec(CLOCK_MONOTONIC));
        if (score)
                score->state = WS_READY;
}

void conn_driver_serve_accepted(const Generation *g, const Listener *l, int fd, const HttpConnInfo *info,
                                WorkerScore *score, ConnDriverStop *stop) {
        if (!l->tls && !l->proxy_protocol) {
                conn_driver_serve(g->http, fd, info, score, stop);
                return;
        }
        /* The PROXY header first, straight over the socket (proxy-io.h); TLS over whatever is below. */
        const HttpIo *io = &socket_io;
        void *io_ctx = &fd;
        ProxyIo *p = NULL;
        if (l->proxy_protocol) {
                p = proxy_io_new(&socket_io, &fd, info->peer, &g->http->sites[0].cfg->remote_ip.trusted);
                if (!p)
                        goto done;
                io = &proxy_io;
                io_ctx = p;
        }
        if (!l->tls)
                driver_serve(g->http, &fd, io, io_ctx, NULL, info, score, stop);
#if HAVE_TLS
        else {
                /* The TLS transport over the plain one; the SSL is set up for this listener's sites. */
                TlsIo *t = tls_io_accept(g->tls, l->name, io, io_ctx, fd, !p);
                if (t)
                        driver_serve(g->http, &fd, &tls_io, t, t, info, score, stop);
                tls_io_free(t);
        }
#endif
done:
        proxy_io_free(p);
        safe_close(fd);
        (void) http_server_flush_logs(g->http, now_usec(CLOCK_MONOTONIC));
        if (score)
                score->state = WS_READY;
}
