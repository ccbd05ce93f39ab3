/* SPDX-License-Identifier: MIT */
/* handler.h — what serves a request once it is routed: an object with a small vtable, its state
 * behind a base struct (HttpHandler first, as in h2o), so that a new kind of content (redirect,
 * alias, error document, FastCGI, proxy) is one new file and a line in request.c's router,
 * without touching the connection or the protocol.
 *
 * Life of a handler (the connection calls, in this order):
 *   start()    the head is in, the body not yet: answer at once (HTTP_HANDLER_RESPOND, resp filled)
 *              or ask for the body (HTTP_HANDLER_READ_BODY);
 *   on_body()  the request body, decoded, in pieces as it comes (only after READ_BODY). A handler
 *              that streams the body on (a proxy, FastCGI) takes each piece whole and, when it
 *              cannot pass it on at once, answers HTTP_HANDLER_WAIT_WRITE (or _WAIT_READ) on
 *              h->wait_fd until h->deadline: the connection reads no more of the body until then
 *              and calls on_body(h, NULL, 0), which answers 0 once the handler can take more (or
 *              waits again). That is the back-pressure from the upstream to the client;
 *   produce()  the body is in: answer (RESPOND), or hand over response bytes already framed
 *              (HTTP_HANDLER_OUTPUT, then HTTP_HANDLER_DONE with the last of them), or wait
 *              (HTTP_HANDLER_WAIT_READ / _WAIT_WRITE on h->wait_fd, until h->deadline), and is
 *              called again when that is done;
 *              Or, once its 101 (Switching Protocols) is out, HTTP_HANDLER_TUNNEL: the connection
 *              then carries bytes both ways between the client and h->tunnel_upstream (its
 *              socket h->wait_fd), itself, until
 *              either side closes or nothing passes for h->tunnel_idle (RFC 9110 §7.8: a
 *              WebSocket behind a proxy); produce() is not called again;
 *   timeout()  h->deadline passed while it waited;
 *   finish()   always last, exactly once: the request is over (ret filled for a handler that
 *              produced output itself) or abandoned (ret NULL). It frees what the handler holds.
 * A handler never blocks and never touches framing or the client's connection: the connection
 * sends what it answers. Its state lives in the request block (at most HTTP_HANDLER_SPACE bytes,
 * no allocation per request); it may log through http_request_log(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"
#include "http/request.h"
#include "http/response.h"

/* Room for a handler's state in the request block. */
#define HTTP_HANDLER_SPACE 192

enum {
        HTTP_HANDLER_RESPOND,    /* resp holds the answer: the connection frames and sends it */
        HTTP_HANDLER_READ_BODY,  /* (start) hand the body to on_body(), then call produce() */
        HTTP_HANDLER_OUTPUT,     /* (produce) send *out as it is, then call produce() again */
        HTTP_HANDLER_DONE,       /* (produce) send *out: the response is complete */
        HTTP_HANDLER_WAIT_READ,  /* (produce) wait for wait_fd to be readable, then call produce() */
        HTTP_HANDLER_WAIT_WRITE, /* (produce) wait for wait_fd to be writable, then call produce() */
        HTTP_HANDLER_TUNNEL,     /* (produce) the 101 is out: relay bytes between the client and wait_fd */
};

/* A response the handler framed itself, for the access log and the connection's next step. */
typedef struct HttpHandlerResult {
        int status;
        uint64_t body_bytes; /* framing excluded */
        bool keep_alive;     /* false: the connection closes after it */
} HttpHandlerResult;

typedef struct HttpHandler HttpHandler;

typedef struct HttpHandlerType {
        const char *name;
        size_t size; /* of its state, HttpHandler first; at most HTTP_HANDLER_SPACE */
        int (*start)(HttpHandler *h, HttpResponse *resp);
        /* 0, HTTP_HANDLER_WAIT_READ/_WRITE (the piece is taken: wait, then on_body(h, NULL, 0)), or the
         * negative status to answer instead (-500: the body could not be kept; the connection
         * closes after it). NULL: the handler never asks for a body. */
        int (*on_body)(HttpHandler *h, const char *data, size_t n);
        /* now is CLOCK_MONOTONIC. NULL: start() always answers. */
        int (*produce)(HttpHandler *h, HttpResponse *resp, HttpOutput *out, usec_t now);
        /* RESPOND with resp (504 when no output was produced yet), or -ETIMEDOUT: the connection
         * closes. NULL: it closes. */
        int (*timeout)(HttpHandler *h, HttpResponse *resp);
        void (*finish)(HttpHandler *h, HttpHandlerResult *ret); /* may be NULL */
} HttpHandlerType;

struct HttpHandler {
        const HttpHandlerType *type;
        HttpRequest *request;
        int wait_fd;        /* with WAIT_READ/WAIT_WRITE; owned by the handler */
        usec_t deadline;    /* of the wait (CLOCK_MONOTONIC) */
        uint64_t body_max;  /* with READ_BODY: decoded bytes allowed, more is 413; 0: LimitRequestBody */
        usec_t tunnel_idle; /* with TUNNEL: the tunnel closes after this long without a byte */
        struct HttpUpstreamConn *tunnel_upstream; /* with TUNNEL: wait_fd's transport (TLS or plain) */
        /* With WAIT_READ/WAIT_WRITE, optional: wait_fd is a kept-alive upstream connection that the
         * handler always reads and writes until EAGAIN before it waits on it (or waits only right
         * after it sent, when nothing can have come yet), and this is where the driver may keep its
         * own record of that socket (HttpUpstreamConn.driver_slot: NULL when new, the driver's after).
         * An event loop then keeps the socket in its set from the first wait to its close, edge-
         * triggered, instead of adding and taking it out for each wait. NULL: a plain descriptor. */
        void **wait_slot;
};

extern const HttpHandlerType http_static_handler; /* static-handler.c */
extern const HttpHandlerType http_status_handler; /* status.c */
extern const HttpHandlerType http_cgi_handler;    /* cgi-handler.c */
extern const HttpHandlerType http_proxy_handler;  /* proxy-handler.c */
extern const HttpHandlerType http_fastcgi_handler; /* fastcgi-handler.c */
