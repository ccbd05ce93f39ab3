/* SPDX-License-Identifier: MIT */
/* conn.h — one HTTP/1.1 connection as a state machine over pluggable I/O.
 *
 * The connection never blocks and never waits: http_conn_run() makes all the progress the I/O
 * allows and says what it waits for next (readable, writable, or done). Whoever drives it — a
 * prefork worker with poll(), an event loop with epoll, a unit test with a memory pipe, a fuzzer —
 * waits for that and for http_conn_deadline(), then calls http_conn_run() again. No processes,
 * signals or threads here: the same code runs under every MPM.
 *
 * Memory: a connection between requests holds no buffer (about 200 bytes in all); a request takes a
 * block (input, parsed head, response, output) from a per-thread pool when its first bytes arrive
 * and gives it back when answered. A request body nobody wants is read and dropped before the
 * answer (RequestReadTimeout body=: too slow → 408 and close). A connection that ends closes at once
 * unless the client may still be sending (an error answer, an unread body, pipelined bytes): then
 * it half-closes and drains for a while (lingering close).
 *
 * CGI (cgi-run.h): a request beneath a ScriptAlias has its body spooled into a memfd (answering
 * Expect: 100-continue first), then the program is started through the server's launcher and its
 * output is relayed as it comes; the driver then also waits for the program's pipe
 * (HTTP_CONN_WANT_CGI). Past CGITimeout without a response head the client gets 504.
 *
 * I/O callbacks return bytes done, -EAGAIN when they would block, 0 from recv at end of stream,
 * or another -errno. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "macro.h"
#include "server.h"

typedef struct HttpIo {
        ssize_t (*recv)(void *ctx, void *buf, size_t n);
        ssize_t (*writev)(void *ctx, const struct iovec *iov, int n);
        /* May be NULL: the engine then reads the file itself and writes it with writev. */
        ssize_t (*sendfile)(void *ctx, int in_fd, off_t *offset, size_t n);
        /* Half-close for lingering close; may be NULL. */
        int (*shutdown_write)(void *ctx);
        /* Bytes written but not yet acknowledged by the peer (SIOCOUTQ), for MinSendRate; may be
         * NULL (no rate is then enforced). */
        ssize_t (*unsent)(void *ctx);
        /* Make the coming close abortive (a reset that drops what the kernel still holds for the
         * client), for a client cut off for taking a response too slowly; may be NULL. */
        void (*reset)(void *ctx);
        /* The local address the connection came in on, as text (CGI's SERVER_ADDR); may be NULL. */
        int (*local_address)(void *ctx, char *buf, size_t size);
} HttpIo;

typedef enum HttpConnWant {
        HTTP_CONN_WANT_READ,
        HTTP_CONN_WANT_WRITE,
        HTTP_CONN_WANT_CGI, /* wait for http_conn_cgi_fd() to be readable (a CGI program's output) */
        HTTP_CONN_DONE,     /* close the connection and free it */
} HttpConnWant;

typedef enum HttpConnPhase {
        HTTP_PHASE_IDLE,      /* waiting for the first byte of a request (keep-alive) */
        HTTP_PHASE_READ,      /* reading a request head or body */
        HTTP_PHASE_WRITE,     /* sending a response */
        HTTP_PHASE_LINGER,    /* after an error: draining the client's bytes before closing */
        HTTP_PHASE_CLOSED,
} HttpConnPhase;

/* What the connection tells its driver, for the scoreboard and the access log. All optional. */
typedef struct HttpConnObserver {
        void (*phase)(void *userdata, HttpConnPhase phase);
        void (*request_done)(void *userdata, const char *vhost, const char *method, int status, uint64_t bytes,
                             usec_t duration);
        /* A line for the site's error log (LOG_PRI_* level): why a request failed. client is
         * "ADDR:PORT". */
        void (*error)(void *userdata, const HttpSite *site, int level, const char *client, const char *message);
} HttpConnObserver;

typedef struct HttpConnInfo {
        const char *listener_name; /* picks the sites reachable on it */
        char peer[64];             /* "127.0.0.1" */
        uint16_t peer_port;
        uint16_t local_port;
} HttpConnInfo;

typedef struct HttpConn HttpConn;

HttpConn *http_conn_new(const HttpServer *server, const HttpIo *io, void *io_ctx, const HttpConnInfo *info,
                        usec_t now);
HttpConn *http_conn_free(HttpConn *c);

void http_conn_set_observer(HttpConn *c, const HttpConnObserver *obs, void *userdata);

/* Make progress; now is CLOCK_MONOTONIC. */
HttpConnWant http_conn_run(HttpConn *c, usec_t now);

/* When the current wait ends (CLOCK_MONOTONIC); USEC_INFINITY for none. Past it, call
 * http_conn_timeout(). */
usec_t http_conn_deadline(const HttpConn *c);
HttpConnWant http_conn_timeout(HttpConn *c, usec_t now);

/* Graceful stop: the next response carries Connection: close; a connection idle in keep-alive is
 * closed after grace (so a request already on its way is still answered). */
void http_conn_drain(HttpConn *c, usec_t now, usec_t grace);

HttpConnPhase http_conn_phase(const HttpConn *c);

/* With HTTP_CONN_WANT_CGI: the pipe to wait on. A new program may have a new pipe (which may even
 * reuse the number of an earlier, closed one): watch it anew after every HTTP_CONN_WANT_CGI. -1
 * when no program runs. */
int http_conn_cgi_fd(const HttpConn *c);
