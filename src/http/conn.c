/* SPDX-License-Identifier: MIT */
/* conn.c — the connection and one request's life (conn.h): the request blocks and their pool, the
 * public API, the state loop, and the request's path through the layers once the protocol has its
 * head: request.c routes it, the handler chosen there answers (start, body, produce, finish), and
 * the protocol (http1.c) sends what it answered. Nothing here builds a byte of framing, and nothing
 * here knows a particular handler. */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/conn-internal.h"
#include "http/remote-ip.h"
#include "shared/log.h"
#include "http/server-logs.h"
#include "http/static.h"
#include "shared/time-util.h"

#define REQUEST_POOL_MAX 64 /* request blocks a thread keeps for reuse */

_Static_assert(OUT_BUFFER_SIZE - OUT_BODY_ROOM >= HTTP_RESPONSE_HEADERS_MAX + 1024,
               "the head of a response with a small body must fit in front of it");

static _Thread_local ConnRequest *request_pool;
static _Thread_local unsigned request_pool_len;

void conn_set_phase(HttpConn *c, HttpConnPhase p) {
        if (c->phase == p)
                return;
        c->phase = p;
        if (c->obs && c->obs->phase)
                c->obs->phase(c->obs_userdata, p);
}

static void conn_log_message(const HttpConn *c, const HttpSite *site, int level, const char *message) {
        char client[80];

        if (!c->obs || !c->obs->error)
                return;
        /* The request's client when a trusted proxy named it (remote-ip.h), as Apache's mod_remoteip
         * logs it: what fail2ban bans must be the client, not the proxy. Else the peer, an IPv6
         * address in brackets, so that its port is not read as its last group (fail2ban's <HOST>
         * takes "[2001:db8::1]:443" apart; "2001:db8::1:443" it cannot). */
        if (c->rq && c->rq->client[0])
                (void) snprintf(client, sizeof(client), "%s", c->rq->client);
        else {
                bool v6 = strchr(c->info.peer, ':') != NULL;
                (void) snprintf(client, sizeof(client), "%s%s%s:%u", v6 ? "[" : "",
                                c->info.peer[0] ? c->info.peer : "-", v6 ? "]" : "", c->info.peer_port);
        }
        c->obs->error(c->obs_userdata, site, level, client, message);
}

/* A line for the site's error log, through the driver. */
void conn_error(const HttpConn *c, int level, const char *fmt, ...) {
        char message[512];
        va_list ap;

        if (!c->obs || !c->obs->error)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        conn_log_message(c, c->site, level, message);
}

void conn_log_tls_refusal(const HttpConn *c) {
        size_t site = HTTP_TLS_SITE_UNKNOWN;
        char why[256];

        if (!c->io->tls_refused || !c->io->tls_refused(c->io_ctx, why, sizeof(why), &site))
                return;
        /* The site whose SSLVerifyClient refused it: the one SNI chose, not the default. */
        conn_log_message(c, site < c->server->n_sites ? &c->server->sites[site] : c->site, LOG_PRI_INFO, why);
}

const HttpSite *conn_default_site(const HttpConn *c) {
        return http_server_select(c->server, c->info.listener_name, NULL, 0);
}

/* What a handler may ask of the connection (request.h). */
/* The site of the request, which the router may have chosen a moment ago (an authentication
 * failure is logged while the request is routed): its error log, where fail2ban reads it. */
static void conn_request_log(void *conn, int level, const char *message) {
        const HttpConn *c = conn;
        conn_log_message(c, c->rq && c->rq->req.site ? c->rq->req.site : c->site, level, message);
}

static int conn_request_local_address(void *conn, char *buf, size_t size) {
        HttpConn *c = conn;

        if (!c->local_address[0]) {
                if (!c->io->local_address)
                        return -EOPNOTSUPP;
                int r = c->io->local_address(c->io_ctx, c->local_address, sizeof(c->local_address));
                if (r < 0) {
                        c->local_address[0] = 0;
                        return r;
                }
        }
        if (strlen(c->local_address) >= size)
                return -ENOSPC;
        strcpy(buf, c->local_address);
        return 0;
}

static bool conn_request_tls_info(void *conn, HttpTlsInfo *ret) {
        const HttpConn *c = conn;
        return c->io->tls_info && c->io->tls_info(c->io_ctx, ret);
}

static const HttpRequestConn conn_request_ops = {
        .log = conn_request_log,
        .local_address = conn_request_local_address,
        .tls_info = conn_request_tls_info,
};

/* ---- request blocks ------------------------------------------------------------------------- */

/* The handler's last call: ret filled for a handler that framed its own response, NULL when the
 * request is abandoned or was answered with a response. */
static void conn_handler_end(ConnRequest *rq, HttpHandlerResult *ret) {
        HttpHandler *h = rq->handler;

        if (!h)
                return;
        rq->handler = NULL;
        if (h->type->finish)
                h->type->finish(h, ret);
}

void conn_request_reset(HttpConn *c, ConnRequest *rq) {
        conn_handler_end(rq, NULL);
        http_parser_init(&rq->parser, &rq->head, rq->headers, &c->site->limits);
        http_response_init(&rq->resp);
        rq->body_left = rq->body_discarded = rq->body_received = rq->body_max = 0;
        rq->body_chunked = rq->body_wanted = false;
        rq->body_wait = 0;
        rq->cont = NULL;
        rq->cont_len = 0;
        rq->hout = (HttpOutput) {};
        rq->hout_last = rq->hout_deadline_set = false;
        rq->out_len = rq->out_sent = rq->mem_len = rq->mem_sent = 0;
        rq->mem_body = NULL;
        rq->file_left = 0;
        rq->keep_alive = rq->send_body = rq->linger = false;
        rq->body_bytes = rq->wire_out = rq->wire_in_body = 0;
        rq->head_out = 0;
        rq->logged = false;
        rq->method[0] = 0;
}

void conn_request_put(ConnRequest *rq) {
        if (!rq)
                return;
        conn_handler_end(rq, NULL);
        http_response_done(&rq->resp);
        if (rq->in != rq->in_inline)
                free(rq->in);
        rq->in = rq->in_inline;
        rq->in_size = sizeof(rq->in_inline);
        rq->in_len = 0;
        if (request_pool_len >= REQUEST_POOL_MAX) {
                free(rq->headers);
                free(rq);
                return;
        }
        rq->next_free = request_pool;
        request_pool = rq;
        request_pool_len++;
}

/* A request block for c, empty and ready for a new head. */
ConnRequest *conn_request_get(HttpConn *c) {
        uint32_t fields = c->server->max_header_fields ? c->server->max_header_fields : 1;
        ConnRequest *rq = request_pool;

        if (rq) {
                request_pool = rq->next_free;
                request_pool_len--;
        } else {
                rq = malloc(sizeof(*rq));
                if (!rq)
                        return NULL;
                rq->headers = NULL;
                rq->headers_cap = 0;
                rq->in = rq->in_inline;
                rq->in_size = sizeof(rq->in_inline);
                rq->in_len = 0;
                rq->handler = NULL;
                http_response_init(&rq->resp);
        }
        if (rq->headers_cap < fields) {
                HttpHeader *h = reallocarray(rq->headers, fields, sizeof(HttpHeader));
                if (!h) {
                        conn_request_put(rq);
                        return NULL;
                }
                rq->headers = h;
                rq->headers_cap = fields;
        }
        conn_request_reset(c, rq);
        return rq;
}

/* ---- the API -------------------------------------------------------------------------------- */

HttpConn *http_conn_new(const HttpServer *server, const HttpIo *io, void *io_ctx, const HttpConnInfo *info,
                        usec_t now) {
        HttpConn *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        c->server = server;
        c->io = io;
        c->io_ctx = io_ctx;
        if (info)
                c->info = *info;
        c->site = conn_default_site(c);
        if (!c->site)
                return http_conn_free(c);
        c->state = CONN_READ_HEAD;
        c->phase = HTTP_PHASE_READ;
        c->head_started = now;
        c->deadline = http1_stage_deadline(c, &c->site->read_timeout.header, now, 0, now);
        return c;
}

HttpConn *http_conn_free(HttpConn *c) {
        if (!c)
                return NULL;
        /* A worker that stops (or drops the connection) with a response under way. */
        conn_request_aborted(c, c->now);
        conn_request_put(c->rq);
        free(c);
        return NULL;
}

void http_conn_set_observer(HttpConn *c, const HttpConnObserver *obs, void *userdata) {
        c->obs = obs;
        c->obs_userdata = userdata;
}

usec_t http_conn_deadline(const HttpConn *c) {
        return c->deadline;
}

HttpConnPhase http_conn_phase(const HttpConn *c) {
        return c->phase;
}

int http_conn_wait_fd(const HttpConn *c) {
        if (!c->rq || !c->rq->handler)
                return -1;
        if (c->state == CONN_HANDLER || c->state == CONN_TUNNEL || (c->state == CONN_READ_BODY && c->rq->body_wait))
                return c->rq->handler->wait_fd;
        return -1;
}

bool http_conn_watch_client(const HttpConn *c) {
        return c->state == CONN_TUNNEL && c->rq && c->rq->tun_watch_client;
}

int http_conn_cgi_fd(const HttpConn *c) {
        return http_conn_wait_fd(c);
}

void **http_conn_wait_slot(const HttpConn *c) {
        if (http_conn_wait_fd(c) < 0 || c->state == CONN_TUNNEL)
                return NULL;
        return c->rq->handler->wait_slot;
}

/* ---- a request's path through the layers ---------------------------------------------------- */

void conn_answer_error(HttpConn *c, int status, bool close, usec_t now) {
        HttpResponse *r = &c->rq->resp;

        /* Whatever the handler held (a spooled body, a program) is of no use now. */
        conn_handler_end(c->rq, NULL);
        http_response_done(r);
        http_response_init(r);
        http_response_set_error(r, status);
        r->close = close;
        if (status == 405 || status == 501)
                http_response_add_header(r, "Allow", HTTP_STATIC_ALLOW);
        http1_start_write(c, now);
}

void conn_fail(HttpConn *c, int status, usec_t now) {
        c->rq->linger = true;
        conn_answer_error(c, status, true, now);
}

/* Who the client is (remote-ip.h): the PROXY header's source once it has come, then for a request
 * from a trusted peer the address RemoteIPHeader names (rq->client, "" otherwise). */
static void conn_find_client(HttpConn *c, ConnRequest *rq, bool head_parsed) {
        const HttpRemoteIpConfig *ri = c->server->n_sites > 0 ? &c->server->sites[0].cfg->remote_ip : NULL;

        rq->client[0] = 0;
        if (!c->peer_proxied && c->io->proxied_peer &&
            c->io->proxied_peer(c->io_ctx, c->info.peer, sizeof(c->info.peer), &c->info.peer_port))
                c->peer_proxied = true;
        if (!head_parsed || !ri || !ri->header || !http_networks_contain(&ri->trusted, c->info.peer))
                return;
        /* Several fields of the name are one list (RFC 9110 §5.3) whose end, the nearest hops, is in
         * the last one: that is the one read. */
        const HttpHeader *last = NULL;
        for (uint32_t i = 0; i < rq->head.n_headers; i++)
                if (http_span_eq_ci(rq->in, rq->head.headers[i].name, ri->header))
                        last = &rq->head.headers[i];
        if (last && !http_remote_ip_from_header(ri, rq->in + last->value.off, last->value.len, rq->client,
                                                sizeof(rq->client)))
                rq->client[0] = 0;
}

void conn_on_head(HttpConn *c, int r, usec_t now) {
        ConnRequest *rq = c->rq;
        struct timespec ts;

        conn_find_client(c, rq, r >= 0);
        clock_gettime(CLOCK_REALTIME, &ts);
        rq->req = (HttpRequest) {
                .server = c->server,
                .site = c->site,
                .head = &rq->head,
                .buf = rq->in,
                .now = timespec_to_usec(&ts),
                .now_mono = now,
                .root_fd = -1,
                .body_buf = rq->out + OUT_BUFFER_SIZE - OUT_BODY_ROOM,
                .body_buf_size = OUT_BODY_ROOM,
                .listener_name = c->info.listener_name,
                .peer = rq->client[0] ? rq->client : c->info.peer,
                .conn_peer = c->info.peer,
                .peer_port = c->info.peer_port,
                .local_port = c->info.local_port,
                .conn_ops = &conn_request_ops,
                .conn = c,
        };
        rq->body_left = 0;
        rq->body_chunked = false;
        rq->body_discarded = rq->body_received = 0;
        if (r < 0) {
                /* Nothing after a bad head can be trusted: answer and close. The method stays as
                 * parsed (UNKNOWN if the error came first), so a HEAD gets its 400 without a body. */
                rq->head.head_len = (uint32_t) rq->in_len;
                snprintf(rq->method, sizeof(rq->method), "-");
                conn_error(c, LOG_PRI_INFO, "request head rejected with status %d", -r);
                conn_fail(c, -r, now);
                return;
        }

        snprintf(rq->method, sizeof(rq->method), "%.*s",
                 (int) MIN(rq->head.method_span.len, sizeof(rq->method) - 1), rq->in + rq->head.method_span.off);
        const HttpHandlerType *t = http_request_route(&rq->req, &rq->resp);
        c->site = rq->req.site;
        http1_body_init(c);

        int k = HTTP_HANDLER_RESPOND;
        if (t) {
                assert(t->size >= sizeof(HttpHandler) && t->size <= HTTP_HANDLER_SPACE);
                HttpHandler *h = (HttpHandler *) rq->handler_space;
                *h = (HttpHandler) { .type = t, .request = &rq->req, .wait_fd = -1, .deadline = USEC_INFINITY };
                rq->handler = h;
                k = t->start(h, &rq->resp);
        }
        if (k == HTTP_HANDLER_READ_BODY) {
                assert(rq->handler->type->produce);
                rq->body_wanted = true;
                if (rq->handler->body_max > 0)
                        rq->body_max = rq->handler->body_max;
                if (!rq->body_chunked && rq->body_left == 0) {
                        conn_on_body_end(c, now);
                        return;
                }
                rq->cont_len = http_continue_line(&rq->head, &rq->cont);
                http1_start_body(c, now);
                return;
        }
        assert(k == HTTP_HANDLER_RESPOND);
        if (rq->body_chunked || rq->body_left > 0) {
                /* Nobody here wants a request body: it is read and dropped before the answer, so the
                 * connection can carry the next request and a body that stalls gets its 408. Unless it
                 * is too large to be worth it, the answer closes anyway, or the client is waiting for
                 * a 100 Continue it will never get: then answer now and close. */
                if (rq->head.expect_continue || rq->body_left > DISCARD_BODY_MAX || rq->resp.close) {
                        rq->resp.close = true;
                        rq->linger = true;
                } else {
                        http1_start_body(c, now);
                        return;
                }
        }
        http1_start_write(c, now);
}

int conn_on_body(HttpConn *c, const char *p, size_t n) {
        HttpHandler *h = c->rq->handler;

        return h && h->type->on_body ? h->type->on_body(h, p, n) : 0;
}

void conn_on_body_end(HttpConn *c, usec_t now) {
        ConnRequest *rq = c->rq;

        if (!rq->body_wanted) {
                http1_start_write(c, now);
                return;
        }
        /* The input may have moved while the body came (a larger buffer). */
        rq->req.buf = rq->in;
        rq->req.keep_alive = http1_keep_alive(c, &rq->resp);
        rq->hout = (HttpOutput) {};
        rq->hout_last = rq->hout_deadline_set = false;
        c->state = CONN_HANDLER;
        conn_set_phase(c, HTTP_PHASE_WRITE);
}

/* The access log's line for the request, once. */
static void conn_log_access(HttpConn *c, usec_t now, char conn_status) {
        ConnRequest *rq = c->rq;

        if (rq->logged)
                return;
        rq->logged = true;
        if (!http_server_site_logs(c->server, c->site))
                return;
        rq->req.buf = rq->in;
        rq->req.site = c->site;
        HttpAccessFields f = {
                .request = &rq->req,
                .buf_len = MIN((size_t) rq->head.head_len, rq->in_len),
                .head_parsed = !(rq->method[0] == '-' && rq->method[1] == 0),
                .status = rq->resp.status,
                .body_bytes = rq->body_bytes,
                .bytes_out = rq->wire_out,
                .bytes_in = (uint64_t) rq->head.head_len + rq->wire_in_body,
                .conn_status = conn_status,
                .response = &rq->resp,
                .duration = now > c->head_started ? now - c->head_started : 0,
        };
        http_request_log_access(&f);
}

void conn_request_logged(HttpConn *c, usec_t now) {
        ConnRequest *rq = c->rq;

        conn_handler_end(rq, NULL);
        conn_log_access(c, now, rq->keep_alive ? '+' : '-');
        http1_finish_request(c, now);
}

void conn_request_aborted(HttpConn *c, usec_t now) {
        ConnRequest *rq = c->rq;

        if (!rq || rq->logged || (c->state != CONN_WRITE && c->state != CONN_HANDLER && c->state != CONN_READ_BODY))
                return;
        if (c->state == CONN_READ_BODY) {
                /* The client went (or the worker stopped) while the body came in: no answer went
                 * out. Logged as nginx does, 400 with nothing sent. */
                conn_error(c, LOG_PRI_INFO, "request body cut short: the connection closed before it was complete");
                rq->resp.status = 400;
                rq->body_bytes = 0;
        } else if (c->state == CONN_HANDLER) {
                /* The handler counted the body it framed; what is still in hout never went out. */
                HttpHandlerResult res = { .status = rq->resp.status };
                conn_handler_end(rq, &res);
                if (res.status > 0)
                        rq->resp.status = res.status;
                rq->body_bytes = res.body_bytes > rq->hout.len ? res.body_bytes - rq->hout.len : 0;
        } else
                /* What went out of out[] past the head, and of the body after it. */
                rq->body_bytes = rq->sent > rq->head_out ? MIN(rq->sent - rq->head_out, rq->body_bytes) : 0;
        rq->keep_alive = false;
        conn_handler_end(rq, NULL); /* one that answered with a response (static) ends without a result */
        conn_log_access(c, now, 'X');
        if (c->obs && c->obs->request_done)
                c->obs->request_done(c->obs_userdata, c->site ? c->site->name : "", rq->method, rq->resp.status,
                                     rq->body_bytes, now > c->head_started ? now - c->head_started : 0);
}

/* The handler's own response is out (or cut short): log it and go on with the connection. */
static void conn_handler_done(HttpConn *c, usec_t now) {
        ConnRequest *rq = c->rq;
        HttpHandlerResult res = { .status = rq->resp.status, .keep_alive = false };

        conn_handler_end(rq, &res);
        rq->resp.status = res.status;
        rq->body_bytes = res.body_bytes;
        rq->keep_alive = res.keep_alive;
        conn_request_logged(c, now);
}

void conn_tunnel_done(HttpConn *c, usec_t now) {
        ConnRequest *rq = c->rq;
        HttpHandlerResult res = { .status = 101, .body_bytes = rq->tun_bytes_down };

        conn_handler_end(rq, &res);
        rq->resp.status = res.status;
        rq->body_bytes = rq->tun_bytes_down;
        rq->keep_alive = false;
        conn_request_logged(c, now);
}

/* The handler produces framed output: send it as it comes, and wait with it when it waits. */
static ConnStep conn_handler_step(HttpConn *c, usec_t now) {
        ConnRequest *rq = c->rq;
        HttpHandler *h = rq->handler;

        for (;;) {
                ConnStep step;
                int r = http1_send_output(c, &rq->hout, now, &step);
                if (r == 0)
                        return step;
                if (r < 0)
                        return STEP_DONE; /* the client is gone; a program gets SIGPIPE */
                if (rq->hout_last) {
                        conn_handler_done(c, now);
                        return STEP_CONTINUE;
                }

                int k = h->type->produce(h, &rq->resp, &rq->hout, now);
                if (k == HTTP_HANDLER_RESPOND) {
                        http1_start_write(c, now);
                        return STEP_CONTINUE;
                }
                /* The handler's deadline holds from its start and while it waits; while its output
                 * goes out, TimeOut from the last progress. */
                if (k == HTTP_HANDLER_WAIT_READ || k == HTTP_HANDLER_WAIT_WRITE || !rq->hout_deadline_set) {
                        c->deadline = h->deadline;
                        rq->hout_deadline_set = true;
                }
                switch (k) {
                case HTTP_HANDLER_WAIT_READ:
                        return STEP_WANT_FD_READ;
                case HTTP_HANDLER_WAIT_WRITE:
                        return STEP_WANT_FD_WRITE;
                case HTTP_HANDLER_DONE:
                        rq->hout_last = true;
                        break;
                case HTTP_HANDLER_TUNNEL:
                        http1_start_tunnel(c, h->tunnel_upstream, h->tunnel_idle, now);
                        return STEP_CONTINUE;
                default:
                        assert(k == HTTP_HANDLER_OUTPUT);
                        break;
                }
        }
}

HttpConnWant http_conn_run(HttpConn *c, usec_t now) {
        c->now = now;
        for (;;) {
                ConnStep step;

                switch (c->state) {
                case CONN_READ_HEAD:
                        step = http1_read_head(c, now);
                        break;
                case CONN_READ_BODY:
                        step = http1_read_body(c, now);
                        break;
                case CONN_HANDLER:
                        step = conn_handler_step(c, now);
                        break;
                case CONN_WRITE:
                        step = http1_write(c, now);
                        break;
                case CONN_LINGER:
                        step = http1_linger(c);
                        break;
                case CONN_TUNNEL:
                        step = http1_tunnel(c, now);
                        break;
                case CONN_CLOSED:
                default:
                        step = STEP_DONE;
                        break;
                }
                switch (step) {
                case STEP_CONTINUE:
                        continue;
                case STEP_WANT_READ:
                        return HTTP_CONN_WANT_READ;
                case STEP_WANT_WRITE:
                        return HTTP_CONN_WANT_WRITE;
                case STEP_WANT_FD_READ:
                        return HTTP_CONN_WANT_FD_READ;
                case STEP_WANT_FD_WRITE:
                        return HTTP_CONN_WANT_FD_WRITE;
                case STEP_DONE:
                default:
                        /* A write failed (EPIPE, ECONNRESET), the file shrank, the client went. */
                        conn_request_aborted(c, now);
                        c->state = CONN_CLOSED;
                        conn_set_phase(c, HTTP_PHASE_CLOSED);
                        return HTTP_CONN_DONE;
                }
        }
}

HttpConnWant http_conn_timeout(HttpConn *c, usec_t now) {
        c->now = now;
        switch (c->state) {
        case CONN_READ_HEAD:
                if (c->phase == HTTP_PHASE_READ && c->rq && c->rq->in_len > 0) {
                        /* Part of a request came, then nothing in time: tell the client, then close. */
                        conn_on_head(c, -408, now);
                        return http_conn_run(c, now);
                }
                break;
        case CONN_READ_BODY: {
                HttpHandler *h = c->rq->handler;
                if (c->rq->body_wait && h) {
                        /* The handler could not pass the body on in time (ProxyTimeout): its
                         * answer (504), and the rest of the body is not read. */
                        int status = 504;
                        if (h->type->timeout && h->type->timeout(h, &c->rq->resp) == HTTP_HANDLER_RESPOND &&
                            c->rq->resp.status >= 400)
                                status = c->rq->resp.status;
                        conn_fail(c, status, now);
                        return http_conn_run(c, now);
                }
                /* The body is too slow (RequestReadTimeout body=): 408 instead of the answer. */
                conn_fail(c, 408, now);
                return http_conn_run(c, now);
        }
        case CONN_HANDLER: {
                HttpHandler *h = c->rq->handler;
                if (now >= h->deadline) {
                        /* The handler's own deadline (CGITimeout): it may still answer (504). */
                        if (h->type->timeout && h->type->timeout(h, &c->rq->resp) == HTTP_HANDLER_RESPOND) {
                                http1_start_write(c, now);
                                return http_conn_run(c, now);
                        }
                        break;
                }
                conn_error(c, LOG_PRI_ERR, "client too slow to take the response (TimeOut)");
                if (c->io->reset)
                        c->io->reset(c->io_ctx);
                break;
        }
        case CONN_TUNNEL:
                /* Nothing passed either way for the tunnel's idle time: it ends as a tunnel does. */
                conn_error(c, LOG_PRI_INFO, "tunnel idle for too long, closing it");
                conn_tunnel_done(c, now);
                return http_conn_run(c, now);
        case CONN_WRITE:
                if (now < c->rq->idle_deadline) {
                        /* Not idle: the MinSendRate check is due. */
                        if (http1_send_rate_ok(c, now)) {
                                c->rq->rate_check = now + USEC_PER_SEC;
                                http1_write_deadline(c);
                                return HTTP_CONN_WANT_WRITE;
                        }
                        conn_error(c, LOG_PRI_INFO, "client takes the response slower than MinSendRate, resetting");
                } else
                        conn_error(c, LOG_PRI_INFO, "client took no part of the response for TimeOut, resetting");
                /* A plain close would leave the kernel sending what it holds at the client's pace,
                 * and the client holding the connection (nginx: reset_timedout_connection). */
                if (c->io->reset)
                        c->io->reset(c->io_ctx);
                break;
        default:
                break;
        }
        /* TimeOut, MinSendRate or the handler's own deadline cut the response short. */
        conn_request_aborted(c, now);
        c->state = CONN_CLOSED;
        conn_set_phase(c, HTTP_PHASE_CLOSED);
        return HTTP_CONN_DONE;
}

void http_conn_drain(HttpConn *c, usec_t now, usec_t grace) {
        c->draining = true;
        if (c->state == CONN_READ_HEAD && c->phase == HTTP_PHASE_IDLE && now + grace < c->deadline)
                c->deadline = now + grace;
}
