/* SPDX-License-Identifier: MIT */
/* upstream.h — the servers behind mpmd (an HTTP application server, php-fpm) and the connections
 * a worker keeps to them: the shared layer under the reverse proxy (proxy-handler.c) and FastCGI
 * (fastcgi-handler.c).
 *
 * A target is parsed once, from the configuration (never from a request: there is no open proxy),
 * in Apache's spelling: "http://HOST:PORT/PATH", "https://HOST:PORT/PATH", "fcgi://HOST:PORT", and
 * for a local socket "unix:/PATH|http://NAME/PATH" (or https://) or "unix:/PATH|fcgi://NAME" (mod_proxy's handler strings; NAME is
 * what the Host field gets). HOST is an address or a name resolved when the configuration is read
 * (a name that does not resolve is a file:line error, so a reload with a typo changes nothing).
 *
 * Connections: each thread that serves connections keeps its own pool of idle upstream
 * connections (no locks, as nginx's keepalive cache is per worker), keyed by the target's address
 * and protocol. A connection is handed out for one request at a time and given back only when the
 * response was framed correctly and read exactly to its end (the handler decides; a connection
 * with anything unread, or an error, is closed). Idle ones are closed after their ttl, or when the
 * upstream closed them (checked before reuse). At most max connections per target per thread are
 * open at once (busy and idle). A request beyond that waits in a bounded queue, first come first
 * served, for at most acquire= (Apache's parameter; nginx's upstream queue): a connection that
 * comes back is handed to the first waiter directly, and one that closes leaves its place to it.
 * A request that finds the queue full, or waits past acquire=, is answered 503.
 *
 * TLS (https:// targets): the engine links no TLS library; the process layer gives it the client
 * side through HttpUpstreamTlsOps (src/mpm/tls-upstream.c, OpenSSL), set once before workers start,
 * and a target's client context (the CA store and the verification it asks for) is built with the
 * configuration (the supervisor's, inherited by every worker). Handlers read and write an upstream
 * connection only through http_upstream_send() and http_upstream_recv(), which are the socket's
 * send and recv for plain targets, so that the same code serves both. Connections to a TLS target
 * are pooled apart from plain ones to the same address, and per client context and server name: a
 * connection verified for one name is never handed to a target that expects another. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "shared/macro.h"

typedef enum HttpUpstreamProtocol {
        HTTP_UPSTREAM_HTTP, /* HTTP/1.1 (proxy-handler.c) */
        HTTP_UPSTREAM_FCGI, /* FastCGI responder (fastcgi-handler.c) */
} HttpUpstreamProtocol;

/* Limits of one target: Apache's ProxyPass worker parameters (key=value after the URL). */
typedef struct HttpUpstreamLimits {
        uint32_t max;               /* max=: connections per thread, busy and idle (default 64) */
        usec_t ttl;                 /* ttl=: an idle connection is closed after this (default 60 s) */
        usec_t timeout;             /* timeout=: waiting for the upstream (0: ProxyTimeout) */
        usec_t connection_timeout;  /* connectiontimeout=: connecting (0: the timeout) */
        usec_t acquire;             /* acquire=MS: the longest wait for a free connection (0: the timeout) */
        uint32_t queue;             /* queue=: requests that may wait per thread (default 64; 0: none) */
        bool disable_reuse;         /* disablereuse=On: one request per connection */
        bool upgrade_websocket;     /* upgrade=websocket: Upgrade: websocket is tunnelled */
} HttpUpstreamLimits;

#define HTTP_UPSTREAM_MAX_DEFAULT 64
#define HTTP_UPSTREAM_TTL_DEFAULT (60 * USEC_PER_SEC)
#define HTTP_UPSTREAM_QUEUE_DEFAULT 64

/* TLS to an https:// target. */
typedef struct HttpUpstreamTls {
        bool enabled;        /* https:// */
        char *server_name;   /* SNI and the name the certificate must carry: the URL's host (NULL for an
                              * IP address, which is checked as an address); under ProxyPreserveHost
                              * the request's (http_upstream_target_for_host()) */
        char *server_ip;     /* the URL's host when it is an IP address (checked against the certificate) */
        bool check_peer_name; /* SSLProxyCheckPeerName (default On) */
        void *client;        /* the client context (tls-upstream.h), built with the configuration and
                              * owned by it; NULL until then (such a target cannot connect) */
} HttpUpstreamTls;

typedef struct HttpUpstreamTarget {
        char *url; /* as written (for messages and mpmd -S) */
        HttpUpstreamProtocol protocol;
        bool unix_socket;
        HttpUpstreamTls tls;
        struct sockaddr_storage addr;
        socklen_t addr_len;
        char *authority; /* "HOST:PORT" as written (the port only when written), or NAME */
        size_t authority_len;
        char *path; /* the URL's path, "/" when none; for HTTP, what replaces the matched prefix */
        size_t path_len;
        HttpUpstreamLimits limits;
} HttpUpstreamTarget;

typedef struct HttpUpstreamConn HttpUpstreamConn;

/* The TLS client side, given by the process layer (NULL: none, https:// targets cannot connect). */
typedef struct HttpUpstreamTlsOps {
        /* A session for c (its fd connected or connecting) to t: c->tls set. 0 or -errno. */
        int (*start)(HttpUpstreamConn *c, const HttpUpstreamTarget *t);
        /* As http_upstream_send() and http_upstream_recv() below; the handshake happens inside. */
        ssize_t (*send)(HttpUpstreamConn *c, const void *buf, size_t len);
        ssize_t (*recv)(HttpUpstreamConn *c, void *buf, size_t len);
        /* Bytes already read from fd that recv() would return without reading it again. */
        bool (*pending)(const HttpUpstreamConn *c);
        /* No more to send: close_notify (best effort, it never waits). */
        void (*shutdown_write)(HttpUpstreamConn *c);
        /* What went wrong in the last failed call on this thread (a verification failure, an alert),
         * for the log; "" when nothing is known. */
        const char *(*error)(const HttpUpstreamConn *c);
        void (*free)(HttpUpstreamConn *c);
} HttpUpstreamTlsOps;

void http_upstream_set_tls(const HttpUpstreamTlsOps *ops);
bool http_upstream_has_tls(void);

/* Parse "URL [key=value …]" for protocol (a URL of the other protocol is refused). Returns 0, or
 * -EINVAL with *ret_error (malloc'd, says what is wrong without naming the key), or -ENOMEM. */
int http_upstream_target_parse(HttpUpstreamTarget *t, HttpUpstreamProtocol protocol, const char *value,
                               char **ret_error);
/* Parse only the key=value words in words[0..n) into l (used by the parser above). */
int http_upstream_limits_parse(HttpUpstreamLimits *l, char *const *words, size_t n, char **ret_error);
int http_upstream_target_copy(HttpUpstreamTarget *dst, const HttpUpstreamTarget *src);
void http_upstream_target_done(HttpUpstreamTarget *t);
/* "URL key=value …" as it would be written: malloc'd, NULL on -ENOMEM. */
char *http_upstream_target_format(const HttpUpstreamTarget *t);

#define HTTP_UPSTREAM_TLS_NAME_MAX 256 /* a host name (253) and its NUL, or an address */

/* ProxyPreserveHost on an https:// target, as Apache's mod_proxy: the SNI and the name checked are
 * the host of host (the Host field that goes upstream, "NAME[:PORT]" or "[V6][:PORT]"), its port
 * dropped, lowercased and without a final dot; an IP address is checked as an address and sends no
 * SNI. *ret: a copy of t that shares t's memory, with the names in name (the caller's, as long as
 * *ret is used). The pool keeps connections apart per name: one verified for a name is never
 * handed to a request for another. 0, or -EINVAL (t is plain, or host holds no host: keep t). */
int http_upstream_target_for_host(const HttpUpstreamTarget *t, const char *host, size_t host_len,
                                  HttpUpstreamTarget *ret, char name[static HTTP_UPSTREAM_TLS_NAME_MAX]);

/* The socket families the targets of a configuration need (a bit set of 1u << AF_*), for the
 * seccomp filter: AF_UNIX for unix: targets, AF_INET/AF_INET6 for the others. */
static inline uint32_t http_upstream_target_family(const HttpUpstreamTarget *t) {
        return 1u << t->addr.ss_family;
}

/* ---- the per-thread pool ---------------------------------------------------------------------- */

typedef struct HttpUpstreamConn {
        int fd;       /* non-blocking, close-on-exec */
        bool reused;  /* it served a request before: a close before any answer may be retried */
        bool connecting; /* connect() is in progress: wait for fd to be writable, then _connected() */
        bool want_write; /* after -EAGAIN from _send() or _recv(): wait for fd to be writable (TLS may
                          * need to write to read, or to read to write); else readable */
        void *driver_slot; /* the event loop's record of fd (HttpHandler.wait_slot); NULL when new */
        void *tls;         /* the TLS session of an https:// target (HttpUpstreamTlsOps); NULL: plain */
        /* private */
        struct HttpUpstreamConn *next;
        usec_t idle_since;
        usec_t key_ttl; /* the target's ttl= */
        struct HttpUpstreamKey *key;
} HttpUpstreamConn;

/* A connection to t for one request. Returns 0 (*ret is connected, or ret->connecting), or
 * -EBUSY (max connections are open, or requests already wait for one: see http_upstream_wait()),
 * or -errno from socket()/connect() (502; the
 * message is for the caller to log with the target's URL). A reused one may have been closed by
 * the upstream a moment ago: see http_upstream_retry_allowed(). */
int http_upstream_acquire(const HttpUpstreamTarget *t, usec_t now, HttpUpstreamConn **ret);

/* The same for a request that can be sent again on a new connection when a reused one turns out
 * closed (http_upstream_retry_allowed(): idempotent, no body): a connection idle only a moment is
 * handed out without the system call that checks it is still open. */
int http_upstream_acquire_retryable(const HttpUpstreamTarget *t, usec_t now, HttpUpstreamConn **ret);

/* A place in the queue of t's address, for a request that got -EBUSY. fd becomes readable when
 * a connection is handed to it, or a place to open one is free: then http_upstream_wait_take().
 * The handler waits on fd until its deadline (limits.acquire, else its timeout). */
typedef struct HttpUpstreamWaiter {
        int fd; /* an eventfd, close-on-exec */
        /* private */
        struct HttpUpstreamWaiter *next, *prev;
        struct HttpUpstreamKey *key;
        HttpUpstreamConn *granted; /* a connection given back, handed over as it is */
        bool place;                /* a connection closed: this waiter may open one */
} HttpUpstreamWaiter;

/* Join the queue: 0 with *ret, -EBUSY when queue= requests already wait (or queue=0: 503), or
 * -errno (no descriptor for the eventfd: 503 too). */
int http_upstream_wait(const HttpUpstreamTarget *t, HttpUpstreamWaiter **ret);

/* After w->fd became readable: 0 with the connection in *ret (connected, or ret->connecting, as
 * from http_upstream_acquire(); the waiter is freed and *w set to NULL), -EAGAIN while its turn
 * has not come, or -errno when opening the connection failed (the waiter is freed: 502). */
int http_upstream_wait_take(HttpUpstreamWaiter **w, const HttpUpstreamTarget *t, HttpUpstreamConn **ret);

/* Leave the queue (timed out, or the request is over): what was handed to the waiter goes to the
 * next one, or back to the pool. Always returns NULL. */
HttpUpstreamWaiter *http_upstream_wait_cancel(HttpUpstreamWaiter *w, usec_t now);

/* Requests waiting for a connection to t's address on this thread (tests, status). */
unsigned http_upstream_pool_waiting(const HttpUpstreamTarget *t);

/* Bytes to and from the upstream over c's transport (TLS for an https:// target). n > 0, 0 at the
 * end of the stream (recv), -EAGAIN (wait: c->want_write says for what), -EPROTO (TLS: a failed
 * handshake or verification, an alert; http_upstream_error() says which), or another -errno. */
ssize_t http_upstream_send(HttpUpstreamConn *c, const void *buf, size_t len);
ssize_t http_upstream_recv(HttpUpstreamConn *c, void *buf, size_t len);
/* Is something already read that recv() returns without a new readiness of fd (TLS buffers)? A
 * handler that waits right after it sent asks this first. */
bool http_upstream_pending(const HttpUpstreamConn *c);
/* Nothing more goes upstream (a tunnel whose client closed): close_notify for TLS, then SHUT_WR. */
void http_upstream_shutdown_write(HttpUpstreamConn *c);
/* r (a negative return of the calls above) for the log: TLS's own reason for -EPROTO. */
const char *http_upstream_error(const HttpUpstreamConn *c, int r);

/* After fd became writable while connecting: 0, or the -errno connect() failed with. */
int http_upstream_connected(HttpUpstreamConn *c);

/* The request is over. reusable: the response was complete and exactly read, nothing is pending,
 * and the target allows reuse: the connection goes back to the pool; otherwise it is closed. Always
 * returns NULL. */
HttpUpstreamConn *http_upstream_release(HttpUpstreamConn *c, bool reusable, usec_t now);

/* Close the idle connections past their ttl (at most once a second does any work): the thread's
 * loop calls it on every wake-up, so an idle upstream connection (a php-fpm child it pins) is
 * given back in time even when no request comes. */
void http_upstream_pool_sweep(usec_t now);
/* Does this thread keep an idle connection (then its loop must wake up for the sweep)? */
bool http_upstream_pool_has_idle(void);

/* Close what this thread keeps idle (a worker that stops; tests). */
void http_upstream_pool_flush(void);
/* The addresses and names this thread keeps state for: one with a connection or a waiter, and at
 * most one more (tests). */
unsigned http_upstream_pool_keys(void);
/* Idle and busy connections this thread has open to the target at t's address (tests, status). */
unsigned http_upstream_pool_count(const HttpUpstreamTarget *t, unsigned *ret_idle);

/* May a request whose upstream connection failed be sent again on a fresh one? Only when the
 * connection was reused (an idle one the upstream closed as it was taken), nothing of the
 * response came, and the method is idempotent (RFC 9110 §9.2.2) with no body already streamed. */
bool http_upstream_retry_allowed(const HttpUpstreamConn *c, bool idempotent, bool response_started,
                                 bool body_sent);
