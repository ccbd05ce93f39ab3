/* SPDX-License-Identifier: MIT */
/* request.h — one request in context, and request processing: the layer between the protocol
 * (http1.c), which produces a parsed head and consumes a response, and the handlers (handler.h).
 *
 * An HttpRequest is what a handler sees: the parsed head (spans into buf), the site it was routed
 * to, its path decoded and normalised (never outside the DocumentRoot), the client, and the few
 * things a handler may ask of the connection that carries it (a line for the error log, the local
 * address). http_request_route() is the one place that decides who serves a request: the virtual
 * host, the checks every request passes (methods, Expect, LimitRequestBody, perchild's foreign and
 * unavailable sites), the normalised target, then the status page, CGI (ScriptAlias, AddHandler),
 * FastCGI (SetHandler, AddHandler proxy:) or static files; the few answers that need no handler (errors, OPTIONS, TRACE) it gives itself.
 * Conditionals and ranges are request processing too (conditional.h): a handler that serves a
 * representation with validators (the static handler today) hands them over and gets 200, 206,
 * 304, 412 or 416 decided in one place. http_request_log_access() extracts the access log's fields once the answer is out. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"
#include "http/htpasswd.h"
#include "http/io.h"
#include "http/parser.h"
#include "http/response.h"
#include "http/server.h"

/* What a handler may ask of the connection. */
typedef struct HttpRequestConn {
        void (*log)(void *conn, int level, const char *message);     /* the site's error log */
        int (*local_address)(void *conn, char *buf, size_t size);    /* SERVER_ADDR; -errno */
        bool (*tls_info)(void *conn, HttpTlsInfo *ret);               /* HttpIo.tls_info; may be NULL */
} HttpRequestConn;

typedef struct HttpRequest {
        const HttpServer *server;
        const HttpSite *site;
        const HttpRequestHead *head;
        const char *buf;  /* the bytes the head's spans point into */
        /* decoded, dot segments removed, starts with '/', NUL-terminated: valid during the handler's
         * start() only (it is a per-thread buffer); later calls find it again with
         * http_request_path() */
        const char *path;
        size_t path_len;
        /* Set by the router once the path is known (NULL/-1 before). cfg: the settings that apply
         * to this path (http_site_config_at_path(): a path section's, else the site's); read the
         * keys a path section may set from here, the others are the same as site->cfg's. root_fd
         * and file_path: where the file the path names is looked for (the DocumentRoot and path, or
         * an Alias directory and what follows its prefix, starting with '/'). */
        const HttpSiteConfig *cfg;
        int root_fd;
        const char *file_path;
        size_t file_path_len;
        bool fallback; /* FallbackResource took it: path is the fallback's, which outlives start() */
        /* The FastCGI script the router found on disk when it chose FastCGI (fastcgi-handler.h),
         * so that the handler need not walk the path again; valid until start(), NULL otherwise. */
        const struct HttpFcgiScript *fcgi_script;
        usec_t now;      /* CLOCK_REALTIME */
        usec_t now_mono; /* CLOCK_MONOTONIC, for caches */
        /* Room the handler may copy a small body into (r->body then points there); it lives as long as
         * the response. NULL/0: none. */
        char *body_buf;
        size_t body_buf_size;

        /* the client and the connection */
        const char *listener_name;
        const char *peer; /* "127.0.0.1"; "" when unknown */
        const char *conn_peer; /* the connection's peer, which peer is unless RemoteIPHeader named the client */
        uint16_t peer_port;
        uint16_t local_port;
        bool keep_alive;  /* the connection's verdict before the handler answers (set before produce()) */
        /* The user Basic authentication verified for this request (Apache's r->user): CGI's and
         * FastCGI's REMOTE_USER, the access log's %u; "" when none was asked for or granted. */
        char user[HTTP_USER_MAX];
        const HttpRequestConn *conn_ops;
        void *conn;
} HttpRequest;

struct HttpHandlerType;

/* Decide who serves q (server, head, buf, listener_name, peer and site set: the listener's default
 * site). Sets q->site to the site the Host names, and q->path while it is routed; returns the
 * handler's type, or NULL when resp already holds the answer (an error, OPTIONS, TRACE). */
const struct HttpHandlerType *http_request_route(HttpRequest *q, HttpResponse *resp);

/* The request's path, decoded and normalised, into path[PATH_MAX]. Returns 0 or the status to
 * answer (404, 414, 400). */
int http_request_path(const HttpRequestHead *h, const char *buf, char *path, size_t *ret_len);

/* Did the request come over TLS (the handshake done)? Then *ret says how: the 421 check, CGI's
 * HTTPS variables, the access log's %{SSL_*}x. */
bool http_request_tls_info(const HttpRequest *q, HttpTlsInfo *ret);

/* A line for the site's error log, through the connection. */
void http_request_log(const HttpRequest *q, int level, const char *fmt, ...) _printf_(3, 4);

/* The access log's line for a request whose answer is out. */
typedef struct HttpAccessFields {
        const HttpRequest *request; /* server, site, buf, peer, ports; head only when head_parsed */
        size_t buf_len;             /* bytes of buf that belong to this request */
        bool head_parsed;           /* false: a rejected head, whose request line is all that is known */
        int status;
        uint64_t body_bytes;
        uint64_t bytes_out;   /* written to the transport for it, head included (%O) */
        uint64_t bytes_in;    /* read for it: head and body as received (%I) */
        char conn_status;     /* %X: 'X' aborted, '+' kept alive, '-' closed */
        const HttpResponse *response; /* the handler's header lines (%{…}o); may be NULL */
        usec_t duration;
} HttpAccessFields;

void http_request_log_access(const HttpAccessFields *f);
