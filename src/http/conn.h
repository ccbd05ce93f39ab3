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
 * Layers, from the transport up (a layer calls into the one below through its interface):
 *   io.h         the transport (HttpIo), a plain socket or memory today;
 *   http1.c      HTTP/1 framing: heads, bodies, keep-alive, pipelining, lingering close, deadlines;
 *   conn.c       this file's API: the connection and one request's life, driving the handler;
 *   request.c    request processing: the site, the normalised path, which handler, log fields;
 *   handler.h    handlers as objects (static, status, cgi), each in a file of its own.
 *
 * A handler that waits (CGI: the launcher's answer, the program's output, or the launcher's full
 * queue) never blocks: the connection answers HTTP_CONN_WANT_FD_READ or _FD_WRITE and the driver
 * waits for http_conn_wait_fd() as well as for the deadline. Past CGITimeout without a response head
 * the client gets 504. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "http/io.h"
#include "shared/macro.h"
#include "http/server.h"

typedef enum HttpConnWant {
        HTTP_CONN_WANT_READ,     /* the client's connection readable */
        HTTP_CONN_WANT_WRITE,    /* the client's connection writable */
        HTTP_CONN_WANT_FD_READ,  /* http_conn_wait_fd() readable: a handler waits (a CGI program's
                                  * output, the CGI launcher's answer) */
        HTTP_CONN_WANT_FD_WRITE, /* http_conn_wait_fd() writable: a handler waits (the CGI launcher's
                                  * queue is full) */
        HTTP_CONN_DONE,          /* close the connection and free it */
        HTTP_CONN_WANT_CGI = HTTP_CONN_WANT_FD_READ, /* its older name */
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

/* With HTTP_CONN_WANT_FD_READ or _FD_WRITE: the descriptor to wait on, the handler's. -1 when the
 * handler waits for nothing. Each wait may name another descriptor (which may even reuse the number
 * of an earlier, closed one): watch it anew after every such answer. The engine may close it in
 * any later http_conn_run(), http_conn_timeout() or http_conn_free(): a driver that registered it
 * with epoll takes it out before calling them, since for HTTP_CONN_WANT_FD_WRITE it is a duplicate
 * of a descriptor that stays open elsewhere (closing it would not take it out of the set). */
int http_conn_wait_fd(const HttpConn *c);
/* Its older name. */
int http_conn_cgi_fd(const HttpConn *c);
/* With the same answers: the handler's HttpHandler.wait_slot for that descriptor (a kept-alive
 * upstream connection the driver may keep watching), or NULL. */
void **http_conn_wait_slot(const HttpConn *c);
/* While it waits on http_conn_wait_fd(), must the client's socket be watched for reading too? A
 * tunnel (after a 101) waits on both sides at once. A driver that keeps the client's socket in its
 * epoll set all along (the event MPM) needs nothing more. */
bool http_conn_watch_client(const HttpConn *c);
