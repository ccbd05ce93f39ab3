/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "mpm/conn-driver.h"
#include "mpm/mpm.h"
#include "http/server-logs.h"
#include "mpm/socket-io.h"
#include "shared/time-util.h"

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

int conn_driver_read_stop(int fd) {
        struct signalfd_siginfo si;
        ssize_t n = read(fd, &si, sizeof(si));
        return n == (ssize_t) sizeof(si) ? (int) si.ssi_signo : 0;
}

void conn_driver_serve(const HttpServer *server, int fd, const HttpConnInfo *info, WorkerScore *score,
                       ConnDriverStop *stop) {
        DriverState d = { .server = server, .score = score };
        HttpConn *c;
        usec_t now = now_usec(CLOCK_MONOTONIC);

        c = http_conn_new(server, &socket_io, &fd, info, now);
        if (!c) {
                safe_close(fd);
                return;
        }
        if (score) {
                score->connections++;
                score->state = WS_READ;
        }
        http_conn_set_observer(c, &driver_observer, &d);
        if (stop && *stop->stopping)
                http_conn_drain(c, now, DRAIN_GRACE_USEC);

        for (;;) {
                HttpConnWant w = http_conn_run(c, now);
                if (w == HTTP_CONN_DONE)
                        break;

                /* What a handler waits on (a CGI program's output, the launcher's answer or its full
                 * queue) is waited for instead of the client. */
                bool handler = w == HTTP_CONN_WANT_FD_READ || w == HTTP_CONN_WANT_FD_WRITE;
                bool out = w == HTTP_CONN_WANT_WRITE || w == HTTP_CONN_WANT_FD_WRITE;
                struct pollfd p[2] = {
                        { .fd = handler ? http_conn_wait_fd(c) : fd, .events = out ? POLLOUT : POLLIN },
                        { .fd = stop && !*stop->stopping ? stop->fd : -1, .events = POLLIN },
                };
                /* Wake at least once a second so buffered access log lines reach the file. */
                usec_t wake = MIN(http_conn_deadline(c), now + USEC_PER_SEC);
                int k = poll(p, 2, usec_to_timeout_ms(wake, now));
                now = now_usec(CLOCK_MONOTONIC);
                (void) http_server_flush_logs(server, now);
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
        safe_close(fd);
        (void) http_server_flush_logs(server, now_usec(CLOCK_MONOTONIC));
        if (score)
                score->state = WS_READY;
}
