/* SPDX-License-Identifier: MIT */
/* proxy-handler.c — the reverse proxy (handler.h): a request under a ProxyPass prefix goes to its
 * upstream over HTTP/1.1, and the upstream's answer comes back to the client.
 *
 * start() writes the upstream request head (the target from the configuration only, the path the
 * router normalised and re-encoded, hop-by-hop fields removed, X-Forwarded-* or Forwarded added)
 * and takes a connection from the thread's pool (upstream.h). The request body is streamed as it
 * comes (on_body): a chunked body is decoded by the connection and re-framed here, never copied
 * as it was; when the upstream does not take it fast enough the connection stops reading the
 * client (handler.h's back-pressure). produce() then reads the answer through the engine's own
 * strict parser in response mode: a head that frames its body twice or badly, a bad chunk, bytes
 * after the end, anything that cannot be relayed exactly is a 502 while nothing was sent, and cuts
 * the client's connection after. The body is relayed in bounded pieces (one read at a time: the
 * connection sends each before the next read, so a slow client slows the upstream), re-framed for
 * the client (Content-Length as it was, else chunked on HTTP/1.1, else the close). The upstream
 * connection goes back to the pool only after a response that was framed correctly and read to
 * its end. A request whose reused connection was closed before any answer is sent again on a new
 * one when its method is idempotent and it had no body (RFC 9112 §9.3.1).
 *
 * WebSocket: where the target says upgrade=websocket, a GET with Upgrade: websocket passes its
 * handshake on; an upstream's 101 is relayed and the connection becomes a tunnel (handler.h), idle
 * for at most the upstream timeout. A 101 nobody asked for is a 502.
 *
 * https:// targets: the same exchange over the connection's TLS session (upstream.h); a failed
 * handshake or verification is a 502 logged with OpenSSL's reason, never retried. Under
 * ProxyPreserveHost the SNI and the name checked are the Host that goes upstream (Apache's rule),
 * through a copy of the target kept with the exchange. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http/date.h"
#include "http/handler.h"
#include "http/headers.h"
#include "http/proxy-config.h"
#include "http/server-logs.h"
#include "shared/log.h"
#include "shared/time-util.h"

#define PROXY_IN_SIZE (32 * 1024)   /* a read from the upstream; also the largest response head */
#define PROXY_HEAD_FIELDS 100       /* fields of a response head */
#define PROXY_INTERIM_MAX 8         /* 1xx heads before the final one */
#define PROXY_POOL_MAX 32           /* exchange blocks a thread keeps for reuse */

typedef enum ProxyPhase {
        PROXY_SEND,      /* the request (head, body) goes upstream (the first phase: 0) */
        PROXY_QUEUED,    /* every connection to the upstream is busy: waiting for one (acquire=) */
        PROXY_RECV_HEAD, /* the response head comes */
        PROXY_BODY,      /* its body is relayed */
        PROXY_TUNNEL,    /* the 101 is out: the connection relays bytes both ways */
        PROXY_DONE,
} ProxyPhase;

typedef struct ProxyExchange {
        struct ProxyExchange *next_free;
        HttpUpstreamConn *up;
        HttpUpstreamWaiter *waiter; /* PROXY_QUEUED */
        usec_t acquire_deadline;
        const HttpUpstreamTarget *target; /* the configuration's, or host_target */
        HttpUpstreamTarget host_target;   /* ProxyPreserveHost on https://: the target named by the Host */
        char tls_name[HTTP_UPSTREAM_TLS_NAME_MAX];
        usec_t timeout;
        ProxyPhase phase;
        HttpMethod method;
        bool idempotent;
        bool body_chunked;   /* the request body is re-framed chunked */
        bool body_started;   /* a byte of the body was given: no retry */
        bool body_ended;     /* the last chunk is written */
        bool upgrade;        /* a WebSocket handshake went upstream (upgrade=websocket) */
        int retries;

        /* what goes upstream: head, then body pieces */
        char *req;
        size_t req_len, req_sent, req_size, head_len;

        /* what comes back */
        char in[PROXY_IN_SIZE];
        size_t in_len, in_off;
        HttpParser parser;
        HttpResponseHead head;
        HttpHeader fields[PROXY_HEAD_FIELDS];
        HttpParserLimits limits;
        HttpResponseFraming framing;
        HttpChunked chunked;
        uint64_t remaining;
        int interim;
        bool head_out, upstream_eof, after_end, cut, complete;
        bool client_chunked; /* the body goes to the client chunked */
        bool keep_alive;
        int status;
        uint64_t body_bytes;
        char *client_head; /* kept with the exchange for the next response (grown when short) */
        size_t client_head_len, client_head_size;
        char *lines; /* the fields gathered for client_head, kept as it is */
        size_t lines_size;
        char chunk_line[24];
} ProxyExchange;

typedef struct ProxyHandler {
        HttpHandler base;
        ProxyExchange *x;
} ProxyHandler;

_Static_assert(sizeof(ProxyHandler) <= HTTP_HANDLER_SPACE, "the proxy handler's state must fit the request block");

static _Thread_local ProxyExchange *exchange_pool;
static _Thread_local unsigned exchange_pool_len;

static ProxyExchange *exchange_get(void) {
        ProxyExchange *x = exchange_pool;
        char *req = NULL, *client_head = NULL, *lines = NULL;
        size_t req_size = 0, client_head_size = 0, lines_size = 0;

        if (x) {
                exchange_pool = x->next_free;
                exchange_pool_len--;
                req = x->req;
                req_size = x->req_size;
                client_head = x->client_head;
                client_head_size = x->client_head_size;
                lines = x->lines;
                lines_size = x->lines_size;
        } else {
                x = malloc(sizeof(*x));
                if (!x)
                        return NULL;
        }
        memset(x, 0, offsetof(ProxyExchange, in));
        x->req = req;
        x->req_size = req_size;
        x->in_len = x->in_off = 0;
        x->interim = 0;
        x->head_out = x->upstream_eof = x->after_end = x->cut = x->complete = false;
        x->client_chunked = x->keep_alive = false;
        x->status = 0;
        x->body_bytes = 0;
        x->client_head = client_head;
        x->client_head_size = client_head_size;
        x->client_head_len = 0;
        x->lines = lines;
        x->lines_size = lines_size;
        return x;
}

static void exchange_put(ProxyExchange *x) {
        if (exchange_pool_len >= PROXY_POOL_MAX || x->req_size > 256 * 1024 || x->client_head_size > 64 * 1024) {
                free(x->client_head);
                free(x->lines);
                free(x->req);
                free(x);
                return;
        }
        x->next_free = exchange_pool;
        exchange_pool = x;
        exchange_pool_len++;
}

static void proxy_error(HttpResponse *resp, int status, bool close) {
        http_response_done(resp);
        http_response_init(resp);
        http_response_set_error(resp, status);
        resp->close = close;
}

/* ---- the request upstream --------------------------------------------------------------------- */

/* A buffer kept with the exchange, at least size bytes (it only grows). */
static bool buf_reserve(char **buf, size_t *have, size_t size) {
        if (*have >= size)
                return true;
        char *p = realloc(*buf, size);
        if (!p)
                return false;
        *buf = p;
        *have = size;
        return true;
}

static bool req_reserve(ProxyExchange *x, size_t more) {
        if (x->req_len + more <= x->req_size)
                return true;
        size_t size = MAX(x->req_size * 2, x->req_len + more + 1024);
        char *p = realloc(x->req, size);
        if (!p)
                return false;
        x->req = p;
        x->req_size = size;
        return true;
}

static void req_put(ProxyExchange *x, const void *p, size_t n) {
        memcpy(x->req + x->req_len, p, n);
        x->req_len += n;
}

static void req_puts(ProxyExchange *x, const char *s) {
        req_put(x, s, strlen(s));
}

/* Fields a proxy never passes on (RFC 9110 §7.6.1), and those it writes itself. */
static bool is_hop_by_hop(const char *buf, HttpSpan name) {
        static const char *const names[] = {
                "Connection", "Keep-Alive", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length",
        };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (http_span_eq_ci(buf, name, names[i]))
                        return true;
        /* Proxy-Authorization, Proxy-Connection, Proxy-Authenticate, and Proxy (httpoxy) */
        return name.len >= 5 && strncasecmp(buf + name.off, "Proxy", 5) == 0 &&
               (name.len == 5 || buf[name.off + 5] == '-');
}

/* Does a field of that name list token (comma-separated, any case)? */
static bool header_has_token_n(const char *buf, const HttpHeader *fields, uint32_t n, const char *field,
                               const char *token, size_t token_len) {
        for (uint32_t i = 0; i < n; i++) {
                if (!http_span_eq_ci(buf, fields[i].name, field))
                        continue;
                const char *p = buf + fields[i].value.off, *end = p + fields[i].value.len;
                while (p < end) {
                        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
                                p++;
                        const char *t = p;
                        while (p < end && *p != ',' && *p != ' ' && *p != '\t')
                                p++;
                        if ((size_t) (p - t) == token_len && strncasecmp(t, token, token_len) == 0)
                                return true;
                }
        }
        return false;
}

static bool header_has_token(const char *buf, const HttpHeader *fields, uint32_t n, const char *field,
                             const char *token) {
        return header_has_token_n(buf, fields, n, field, token, strlen(token));
}

/* Is name one of the tokens of the Connection fields (which name more hop-by-hop fields)? */
static bool named_by_connection(const char *buf, const HttpHeader *fields, uint32_t n, HttpSpan name) {
        return header_has_token_n(buf, fields, n, "Connection", buf + name.off, name.len);
}

/* The rest of the normalised path, %-encoded where a path cannot hold the byte as it is. */
static void req_put_path(ProxyExchange *x, const char *p, size_t n) {
        static const char hex[] = "0123456789ABCDEF";
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) p[i];
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    strchr("/-._~!$&'()*+,;=:@", c))
                        x->req[x->req_len++] = (char) c;
                else {
                        x->req[x->req_len++] = '%';
                        x->req[x->req_len++] = hex[c >> 4];
                        x->req[x->req_len++] = hex[c & 15];
                }
        }
}

/* The Host that goes upstream under ProxyPreserveHost: the client's, else ServerName ("" when none). */
static const char *proxy_client_host(const HttpRequest *q, size_t *ret_len) {
        const HttpRequestHead *h = q->head;
        const char *host = h->has_host ? q->buf + h->host.off : (q->site->cfg->server_name ? q->site->cfg->server_name : "");

        *ret_len = h->has_host ? h->host.len : strlen(host);
        return host;
}

/* The head of the upstream request. */
static int proxy_build_head(ProxyExchange *x, const HttpRequest *q, const HttpProxyConfig *pc, const char *rest,
                            size_t rest_len) {
        const HttpRequestHead *h = q->head;
        const char *buf = q->buf;
        const HttpUpstreamTarget *t = x->target;
        HttpTlsInfo tls;
        const char *proto = http_request_tls_info(q, &tls) ? "https" : "http";
        size_t host_len;
        const char *host = proxy_client_host(q, &host_len);

        /* An upper bound: every field once, the path three times over (encoding), our fields. */
        size_t need = (size_t) h->head_len + 3 * (t->path_len + rest_len) + t->authority_len + 3 * host_len + 512 +
                      strlen(q->peer);
        if (!req_reserve(x, need))
                return -ENOMEM;
        x->req_len = 0;
        req_put(x, buf + h->method_span.off, h->method_span.len);
        req_puts(x, " ");
        /* "/app/" + "x", or "/app" + "/x": one slash where the two meet. */
        req_put(x, t->path, t->path_len);
        if (t->path_len > 0 && t->path[t->path_len - 1] == '/' && rest_len > 0 && rest[0] == '/') {
                rest++;
                rest_len--;
        }
        req_put_path(x, rest, rest_len);
        if (h->has_query) {
                req_puts(x, "?");
                req_put(x, buf + h->query.off, h->query.len);
        }
        req_puts(x, " HTTP/1.1\r\nHost: ");
        if (pc->preserve_host && host_len > 0)
                req_put(x, host, host_len);
        else
                req_put(x, t->authority, t->authority_len);
        req_puts(x, "\r\n");

        /* A WebSocket handshake (RFC 6455 §4.1) passes where the target allows it: its Upgrade
         * and Connection are hop-by-hop, so they are written again here. */
        x->upgrade = t->limits.upgrade_websocket && h->method == HTTP_METHOD_GET &&
                     header_has_token(buf, h->headers, h->n_headers, "Upgrade", "websocket") &&
                     header_has_token(buf, h->headers, h->n_headers, "Connection", "upgrade");
        if (x->upgrade)
                req_puts(x, "Upgrade: websocket\r\nConnection: Upgrade\r\n");

        const HttpHeader *xff = NULL, *fwd = NULL;
        for (uint32_t i = 0; i < h->n_headers; i++) {
                HttpSpan name = h->headers[i].name;
                if (is_hop_by_hop(buf, name) || named_by_connection(buf, h->headers, h->n_headers, name) ||
                    http_span_eq_ci(buf, name, "Host") || http_span_eq_ci(buf, name, "Expect"))
                        continue;
                if (pc->add_headers) {
                        /* X-Forwarded-For grows by one hop (the last field holds the end of the
                         * list); Host and Proto are ours, the client's are not passed. */
                        if (http_span_eq_ci(buf, name, "X-Forwarded-For")) {
                                xff = &h->headers[i];
                                continue;
                        }
                        if (http_span_eq_ci(buf, name, "X-Forwarded-Host") ||
                            http_span_eq_ci(buf, name, "X-Forwarded-Proto"))
                                continue;
                }
                if (pc->add_forwarded && http_span_eq_ci(buf, name, "Forwarded")) {
                        fwd = &h->headers[i];
                        continue;
                }
                req_put(x, buf + name.off, name.len);
                req_puts(x, ": ");
                req_put(x, buf + h->headers[i].value.off, h->headers[i].value.len);
                req_puts(x, "\r\n");
        }
        bool v6 = strchr(q->peer, ':') != NULL;
        if (pc->add_headers) {
                req_puts(x, "X-Forwarded-For: ");
                if (xff && xff->value.len > 0) {
                        req_put(x, buf + xff->value.off, xff->value.len);
                        req_puts(x, ", ");
                }
                req_puts(x, q->peer);
                req_puts(x, "\r\n");
                if (host_len > 0) {
                        req_puts(x, "X-Forwarded-Host: ");
                        req_put(x, host, host_len);
                        req_puts(x, "\r\n");
                }
                req_puts(x, "X-Forwarded-Proto: ");
                req_puts(x, proto);
                req_puts(x, "\r\n");
        }
        if (pc->add_forwarded) {
                /* RFC 7239 §4: an IPv6 address is quoted with its brackets; the host is quoted
                 * (it may hold a ':'). */
                req_puts(x, "Forwarded: ");
                if (fwd && fwd->value.len > 0) {
                        req_put(x, buf + fwd->value.off, fwd->value.len);
                        req_puts(x, ", ");
                }
                req_puts(x, v6 ? "for=\"[" : "for=");
                req_puts(x, q->peer);
                req_puts(x, v6 ? "]\"" : "");
                if (host_len > 0) {
                        req_puts(x, ";host=\"");
                        req_put(x, host, host_len);
                        req_puts(x, "\"");
                }
                req_puts(x, ";proto=");
                req_puts(x, proto);
                req_puts(x, "\r\n");
        }
        if (h->chunked) {
                req_puts(x, "Transfer-Encoding: chunked\r\n");
                x->body_chunked = true;
        } else if (h->has_content_length) {
                char cl[48];
                snprintf(cl, sizeof(cl), "Content-Length: %llu\r\n", (unsigned long long) h->content_length);
                req_puts(x, cl);
        }
        if (t->limits.disable_reuse)
                req_puts(x, "Connection: close\r\n");
        req_puts(x, "\r\n");
        x->head_len = x->req_len;
        return 0;
}

/* What an upstream call that answered -EAGAIN waits for (TLS may read to write, or write to read). */
static int proxy_want(const ProxyExchange *x) {
        return x->up->want_write ? HTTP_HANDLER_WAIT_WRITE : HTTP_HANDLER_WAIT_READ;
}

/* Send what is buffered. 0 when all of it went, HTTP_HANDLER_WAIT_WRITE (or _READ: a TLS
 * handshake), or -errno (-ECONNREFUSED and the like while still connecting; -EPROTO: TLS). */
static int proxy_flush(ProxyExchange *x) {
        while (x->req_sent < x->req_len) {
                ssize_t n = http_upstream_send(x->up, x->req + x->req_sent, x->req_len - x->req_sent);
                if (n == -EAGAIN)
                        return proxy_want(x);
                if (n < 0)
                        return (int) n;
                x->req_sent += (size_t) n;
        }
        /* The head is kept while a retry may still need it (no body was given); body pieces go. */
        if (x->body_started) {
                x->req_len = x->req_sent = 0;
        }
        return 0;
}

static void proxy_log_send_error(const HttpRequest *q, const ProxyExchange *x, int r) {
        if (r == -EPROTO && x->target == &x->host_target)
                http_request_log(q, LOG_PRI_ERR, "no TLS session with the upstream %s as %s (ProxyPreserveHost): %s",
                                 x->target->url, x->tls_name, http_upstream_error(x->up, r));
        else if (r == -EPROTO)
                http_request_log(q, LOG_PRI_ERR, "no TLS session with the upstream %s: %s", x->target->url,
                                 http_upstream_error(x->up, r));
        else if (x->up && x->up->connecting)
                http_request_log(q, LOG_PRI_ERR, "cannot connect to the upstream %s: %s", x->target->url,
                                 http_upstream_error(x->up, r));
        else
                http_request_log(q, LOG_PRI_ERR, "cannot send the request to the upstream %s: %s", x->target->url,
                                 http_upstream_error(x->up, r));
}

static void proxy_wait(ProxyHandler *s, usec_t now) {
        ProxyExchange *x = s->x;
        usec_t t = x->timeout;

        if (x->waiter) {
                s->base.wait_fd = x->waiter->fd;
                s->base.wait_slot = NULL;
                s->base.deadline = x->acquire_deadline;
                return;
        }
        if (x->up->connecting && x->target->limits.connection_timeout)
                t = x->target->limits.connection_timeout;
        s->base.wait_fd = x->up->fd;
        /* Read and written until EAGAIN before each wait, or waited on right after a send. */
        s->base.wait_slot = &x->up->driver_slot;
        s->base.deadline = now + t;
}

/* A new connection for the same request (the reused one was closed under it). */
static int proxy_retry(ProxyHandler *s, usec_t now) {
        ProxyExchange *x = s->x;

        x->up = http_upstream_release(x->up, false, now);
        x->retries++;
        int r = http_upstream_acquire(x->target, now, &x->up);
        if (r < 0)
                return r;
        x->req_sent = 0;
        x->req_len = x->head_len;
        x->body_ended = false;
        x->in_len = x->in_off = 0;
        x->phase = PROXY_SEND;
        http_parser_init_response(&x->parser, &x->head, x->fields, &x->limits);
        return 0;
}

/* The router removed every "." and ".." segment between slashes; a decoded backslash is a
 * separator too to some upstreams (Windows, frameworks that normalise it), and there "..\" would
 * climb out of the target's path. Such a path is refused rather than guessed at. */
static bool path_has_backslash_dot_segment(const char *p, size_t n) {
        if (!memchr(p, '\\', n))
                return false;
        size_t start = 0;
        for (size_t i = 0; i <= n; i++)
                if (i == n || p[i] == '/' || p[i] == '\\') {
                        size_t len = i - start;
                        if ((len == 1 && p[start] == '.') || (len == 2 && p[start] == '.' && p[start + 1] == '.'))
                                return true;
                        start = i + 1;
                }
        return false;
}

static int proxy_start(HttpHandler *h, HttpResponse *resp) {
        ProxyHandler *s = (ProxyHandler *) h;
        const HttpRequest *q = h->request;
        const HttpProxyConfig *pc = &q->cfg->proxy;
        const char *rest;
        size_t rest_len;

        s->x = NULL;
        const HttpProxyPass *p = http_proxy_pass_match(&pc->pass, q->path, q->path_len, &rest, &rest_len);
        if (!p) {
                proxy_error(resp, 500, false);
                return HTTP_HANDLER_RESPOND;
        }
        if (path_has_backslash_dot_segment(q->path, q->path_len)) {
                http_request_log(q, LOG_PRI_ERR, "a proxied path with a \\.. segment is refused: %s", q->path);
                proxy_error(resp, 400, false);
                return HTTP_HANDLER_RESPOND;
        }
        ProxyExchange *x = exchange_get();
        if (!x) {
                proxy_error(resp, 500, false);
                return HTTP_HANDLER_RESPOND;
        }
        s->x = x;
        x->target = &p->target;
        if (pc->preserve_host && p->target.tls.enabled) {
                size_t host_len;
                const char *host = proxy_client_host(q, &host_len);
                if (http_upstream_target_for_host(&p->target, host, host_len, &x->host_target, x->tls_name) == 0)
                        x->target = &x->host_target;
        }
        x->timeout = http_proxy_timeout(pc, x->target, q->site->cfg->timeout);
        x->method = q->head->method;
        x->idempotent = http_method_idempotent(x->method);
        x->limits = (HttpParserLimits) { .request_line = 8190, .field_size = 8190, .fields = PROXY_HEAD_FIELDS };
        http_parser_init_response(&x->parser, &x->head, x->fields, &x->limits);
        if (proxy_build_head(x, q, pc, rest, rest_len) < 0) {
                http_request_log(q, LOG_PRI_ERR, "out of memory for the upstream request");
                proxy_error(resp, 500, false);
                return HTTP_HANDLER_RESPOND;
        }

        bool has_body = q->head->chunked || (q->head->has_content_length && q->head->content_length > 0);
        int r = x->idempotent && !has_body ? http_upstream_acquire_retryable(x->target, q->now_mono, &x->up)
                                           : http_upstream_acquire(x->target, q->now_mono, &x->up);
        if (r == -EBUSY) {
                /* Wait in the queue (request bodies wait too: the connection reads no more of one). */
                r = http_upstream_wait(x->target, &x->waiter);
                if (r < 0) {
                        http_request_log(q, LOG_PRI_ERR,
                                         "the upstream %s has all its %u connections busy (max=) and %s",
                                         x->target->url, x->target->limits.max,
                                         r == -EBUSY ? "its queue is full (queue=)" : "no room to wait");
                        proxy_error(resp, 503, false);
                        return HTTP_HANDLER_RESPOND;
                }
                x->phase = PROXY_QUEUED;
                x->acquire_deadline = q->now_mono + (x->target->limits.acquire ? x->target->limits.acquire : x->timeout);
                proxy_wait(s, q->now_mono);
                return HTTP_HANDLER_READ_BODY;
        }
        if (r == -EAGAIN) {
                /* A unix socket's listen queue is full. */
                http_request_log(q, LOG_PRI_ERR, "the upstream %s does not take connections now: %s", x->target->url,
                                 strerror(-r));
                proxy_error(resp, 503, false);
                return HTTP_HANDLER_RESPOND;
        }
        if (r < 0) {
                http_request_log(q, LOG_PRI_ERR, "cannot connect to the upstream %s: %s", x->target->url, strerror(-r));
                proxy_error(resp, 502, false);
                return HTTP_HANDLER_RESPOND;
        }
        proxy_wait(s, q->now_mono);
        return HTTP_HANDLER_READ_BODY;
}

/* PROXY_QUEUED, its eventfd readable (or a spurious call): 0 with x->up (phase PROXY_SEND),
 * -EAGAIN to wait on, or the status to answer (502: the new connection failed). */
static int proxy_take(ProxyHandler *s) {
        ProxyExchange *x = s->x;
        int r = http_upstream_wait_take(&x->waiter, x->target, &x->up);

        if (r == -EAGAIN)
                return r;
        x->phase = PROXY_SEND;
        if (r < 0) {
                x->up = NULL;
                http_request_log(s->base.request, LOG_PRI_ERR, "cannot connect to the upstream %s: %s", x->target->url,
                                 strerror(-r));
                return 502;
        }
        return 0;
}

static int proxy_on_body(HttpHandler *h, const char *data, size_t n) {
        ProxyHandler *s = (ProxyHandler *) h;
        ProxyExchange *x = s->x;
        usec_t now = now_usec(CLOCK_MONOTONIC);

        if (data && n > 0) {
                if (!req_reserve(x, n + 32))
                        return -500;
                if (x->body_chunked) {
                        char line[24];
                        int k = snprintf(line, sizeof(line), "%zx\r\n", n);
                        req_put(x, line, (size_t) k);
                }
                req_put(x, data, n);
                if (x->body_chunked)
                        req_put(x, "\r\n", 2);
                x->body_started = true;
        }
        if (x->phase == PROXY_QUEUED) {
                int t = proxy_take(s);
                if (t == -EAGAIN) {
                        proxy_wait(s, now);
                        return HTTP_HANDLER_WAIT_READ;
                }
                if (t > 0)
                        return -t;
        }
        int r = proxy_flush(x);
        if (r == HTTP_HANDLER_WAIT_WRITE || r == HTTP_HANDLER_WAIT_READ) {
                proxy_wait(s, now);
                return r;
        }
        if (r < 0) {
                proxy_log_send_error(h->request, x, r);
                return -502;
        }
        return 0;
}

/* ---- the answer ------------------------------------------------------------------------------- */

/* The client's head from the upstream's: its status and fields, without what is hop-by-hop or
 * ours, Location-like fields mapped back by ProxyPassReverse, the site's Header lines. */
static int proxy_client_head(ProxyHandler *s) {
        ProxyExchange *x = s->x;
        const HttpRequest *q = s->base.request;
        const HttpResponseHead *rh = &x->head;
        const HttpHeadersConfig *hc = &q->cfg->headers;
        const char *in = x->in;
        HttpTlsInfo tls;
        const char *scheme = http_request_tls_info(q, &tls) ? "https" : "http";
        const char *host = q->head->has_host ? q->buf + q->head->host.off : q->site->cfg->server_name;
        size_t host_len = q->head->has_host ? q->head->host.len : host ? strlen(host) : 0;

        size_t lines_size = (size_t) rh->head_len + 1024 + host_len + http_headers_growth_max(hc);
        for (size_t i = 0; i < q->cfg->proxy.reverse.n; i++)
                lines_size += q->cfg->proxy.reverse.items[i].prefix_len * 3;
        /* The fields are gathered first (the status line comes before them, and its framing
         * fields after); both buffers stay with the exchange, and only grow. */
        size_t out_size = lines_size + q->server->server_line_len + 256;
        if (!buf_reserve(&x->lines, &x->lines_size, lines_size) ||
            !buf_reserve(&x->client_head, &x->client_head_size, out_size))
                return -ENOMEM;
        char *lines = x->lines;

        HttpHeadWriter lw = { .buf = lines, .size = lines_size }, w;
        for (uint32_t i = 0; i < rh->n_headers; i++) {
                HttpSpan name = rh->headers[i].name, value = rh->headers[i].value;
                if (is_hop_by_hop(in, name) || named_by_connection(in, rh->headers, rh->n_headers, name) ||
                    http_span_eq_ci(in, name, "Date") || http_span_eq_ci(in, name, "Server"))
                        continue;
                http_head_put(&lw, in + name.off, name.len);
                http_head_put(&lw, ": ", 2);
                char mapped[2048];
                size_t mapped_len;
                if ((http_span_eq_ci(in, name, "Location") || http_span_eq_ci(in, name, "Content-Location") ||
                     http_span_eq_ci(in, name, "URI")) &&
                    http_proxy_reverse_rewrite(&q->cfg->proxy.reverse, in + value.off, value.len, scheme, host ? host : "",
                                               host_len, mapped, sizeof(mapped), &mapped_len) > 0)
                        http_head_put(&lw, mapped, mapped_len);
                else
                        http_head_put(&lw, in + value.off, value.len);
                http_head_put(&lw, "\r\n", 2);
        }
        if (!http_head_fits(&lw))
                return -ENOBUFS;
        /* ExpiresByType reads the media type the upstream gave. */
        char media_type[128] = "";
        const HttpHeader *ct = http_response_find(rh, in, "Content-Type");
        if (ct && ct->value.len < sizeof(media_type)) {
                memcpy(media_type, in + ct->value.off, ct->value.len);
                media_type[ct->value.len] = 0;
                char *semi = strchr(media_type, ';');
                if (semi)
                        *semi = 0;
        }
        if (http_headers_apply(hc, rh->status, rh->status >= 400, (time_t) (q->now / USEC_PER_SEC),
                               media_type[0] ? media_type : NULL, lines, &lw.len, lines_size) < 0)
                return -ENOBUFS;

        if (x->framing.kind == HTTP_UPSTREAM_BODY_SWITCH) {
                /* The 101 of a WebSocket handshake: its own Upgrade and Connection, no framing. */
                http_head_begin(&w, x->client_head, out_size, 101, NULL, 0, http_date_now(q->now),
                                q->server->server_line, q->server->server_line_len);
                http_head_put(&w, lines, lw.len);
                http_head_put(&w, "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 43);
                if (!http_head_fits(&w))
                        return -ENOBUFS;
                x->client_head_len = w.len;
                x->status = 101;
                return 0;
        }

        /* How the body goes to the client. */
        HttpFraming framing = HTTP_FRAMING_LENGTH;
        uint64_t length = x->framing.length;
        x->keep_alive = q->keep_alive;
        switch (x->framing.kind) {
        case HTTP_UPSTREAM_BODY_NONE:
                /* HEAD: the length the upstream gave, or none; 204/304 write no framing field. */
                if (rh->has_content_length)
                        length = rh->content_length;
                else if (q->head->version_minor >= 1)
                        framing = HTTP_FRAMING_CHUNKED;
                else
                        framing = HTTP_FRAMING_CLOSE;
                break;
        case HTTP_UPSTREAM_BODY_LENGTH:
                break;
        default:
                if (q->head->version_minor >= 1) {
                        framing = HTTP_FRAMING_CHUNKED;
                        x->client_chunked = true;
                } else {
                        framing = HTTP_FRAMING_CLOSE;
                        x->keep_alive = false;
                }
                break;
        }
        if (framing == HTTP_FRAMING_CLOSE)
                x->keep_alive = false;
        http_head_begin(&w, x->client_head, out_size, rh->status, rh->reason.len > 0 ? in + rh->reason.off : NULL,
                        rh->reason.len, http_date_now(q->now), q->server->server_line, q->server->server_line_len);
        http_head_put(&w, lines, lw.len);
        http_head_end(&w, rh->status, framing, length, x->keep_alive, q->head->version_minor);
        if (!http_head_fits(&w))
                return -ENOBUFS;
        x->client_head_len = w.len;
        x->status = rh->status;
        return 0;
}

static void out_add(HttpOutput *out, const void *p, size_t n) {
        if (n == 0)
                return;
        out->iov[out->n_iov++] = (struct iovec) { (void *) p, n };
        out->len += n;
}

enum {
        BODY_MORE = 1, /* output (maybe none) and more to come */
        BODY_END = 2,  /* the body is complete */
        BODY_WAIT = 3, /* nothing to read now */
};

/* The next piece of the body into out (after anything already there). Returns BODY_*, or -EBADMSG
 * (a bad chunk), -EPIPE (the upstream closed early), -errno of a read. */
static int proxy_body_step(ProxyHandler *s, HttpOutput *out) {
        ProxyExchange *x = s->x;

        for (;;) {
                size_t avail = x->in_len - x->in_off;
                if (x->framing.kind == HTTP_UPSTREAM_BODY_NONE ||
                    (x->framing.kind == HTTP_UPSTREAM_BODY_LENGTH && x->remaining == 0)) {
                        if (avail > 0)
                                x->after_end = true;
                        return BODY_END;
                }
                if (avail == 0 && !x->upstream_eof) {
                        x->in_off = x->in_len = 0;
                        ssize_t n = http_upstream_recv(x->up, x->in, sizeof(x->in));
                        if (n == -EAGAIN)
                                return BODY_WAIT;
                        if (n < 0)
                                return (int) n;
                        if (n == 0)
                                x->upstream_eof = true;
                        x->in_len = (size_t) n;
                        avail = (size_t) n;
                }
                char *p = x->in + x->in_off;
                switch (x->framing.kind) {
                case HTTP_UPSTREAM_BODY_LENGTH: {
                        if (avail == 0)
                                return -EPIPE;
                        bool after = false;
                        size_t take = (size_t) http_response_body_take(x->remaining, avail, &after);
                        if (after)
                                x->after_end = true;
                        x->remaining -= take;
                        x->in_off = x->in_len; /* what came after the end is never relayed */
                        out_add(out, p, take);
                        x->body_bytes += take;
                        return x->remaining == 0 ? BODY_END : BODY_MORE;
                }
                case HTTP_UPSTREAM_BODY_CHUNKED: {
                        if (avail == 0)
                                return -EPIPE;
                        size_t consumed = 0, data = 0;
                        int r = http_chunked_feed(&x->chunked, &x->limits, p, avail, &consumed, &data);
                        if (r < 0)
                                return -EBADMSG;
                        x->in_off += consumed;
                        if (data > 0) {
                                if (x->client_chunked) {
                                        int k = snprintf(x->chunk_line, sizeof(x->chunk_line), "%zx\r\n", data);
                                        out_add(out, x->chunk_line, (size_t) k);
                                }
                                out_add(out, p, data);
                                if (x->client_chunked)
                                        out_add(out, "\r\n", 2);
                                x->body_bytes += data;
                        }
                        if (r == 1) {
                                if (x->in_off < x->in_len)
                                        x->after_end = true;
                                if (x->client_chunked)
                                        out_add(out, "0\r\n\r\n", 5);
                                return BODY_END;
                        }
                        if (data > 0)
                                return BODY_MORE;
                        continue;
                }
                default: /* HTTP_UPSTREAM_BODY_CLOSE */
                        if (avail == 0) {
                                if (x->client_chunked)
                                        out_add(out, "0\r\n\r\n", 5);
                                return BODY_END;
                        }
                        if (x->client_chunked) {
                                int k = snprintf(x->chunk_line, sizeof(x->chunk_line), "%zx\r\n", avail);
                                out_add(out, x->chunk_line, (size_t) k);
                        }
                        out_add(out, p, avail);
                        if (x->client_chunked)
                                out_add(out, "\r\n", 2);
                        x->body_bytes += avail;
                        x->in_off = x->in_len;
                        return BODY_MORE;
                }
        }
}

static const char *body_error(const ProxyExchange *x, int r) {
        switch (r) {
        case -EBADMSG:
                return "a bad chunk in the body";
        case -EPIPE:
                return "the connection closed before the end of the body";
        default:
                return http_upstream_error(x->up, r);
        }
}

/* The head is complete: decide the framing, then relay the head with what body came with it. */
static int proxy_head_done(ProxyHandler *s, HttpResponse *resp, HttpOutput *out) {
        ProxyExchange *x = s->x;
        const HttpRequest *q = s->base.request;
        const char *why = NULL;

        if (http_response_framing(x->method, &x->head, &x->framing, &why) < 0) {
                http_request_log(q, LOG_PRI_ERR, "the upstream %s answered with a bad head: %s", x->target->url, why);
                proxy_error(resp, 502, false);
                return HTTP_HANDLER_RESPOND;
        }
        bool tunnel = x->framing.kind == HTTP_UPSTREAM_BODY_SWITCH;
        if (tunnel && (!x->upgrade || !header_has_token(x->in, x->head.headers, x->head.n_headers, "Upgrade",
                                                        "websocket"))) {
                http_request_log(q, LOG_PRI_ERR, "the upstream %s switched protocols, which was not asked for",
                                 x->target->url);
                proxy_error(resp, 502, false);
                return HTTP_HANDLER_RESPOND;
        }
        x->remaining = x->framing.kind == HTTP_UPSTREAM_BODY_LENGTH ? x->framing.length : 0;
        http_chunked_init(&x->chunked);
        x->in_off = x->head.head_len;
        int r = proxy_client_head(s);
        if (r < 0) {
                http_request_log(q, LOG_PRI_ERR, "the upstream %s answered with a head too large to relay",
                                 x->target->url);
                proxy_error(resp, 502, false);
                return HTTP_HANDLER_RESPOND;
        }
        if (tunnel) {
                /* What the upstream sent after its 101 is the first of the tunnel's bytes. */
                *out = (HttpOutput) {};
                out_add(out, x->client_head, x->client_head_len);
                out_add(out, x->in + x->in_off, x->in_len - x->in_off);
                x->in_off = x->in_len;
                x->head_out = true;
                x->phase = PROXY_TUNNEL;
                return HTTP_HANDLER_OUTPUT;
        }
        /* The body bytes that came with the head are checked before anything is sent: a bad chunk
         * or bytes after the end there is a 502, not a relayed answer. */
        *out = (HttpOutput) {};
        out_add(out, x->client_head, x->client_head_len);
        bool no_body = x->framing.kind == HTTP_UPSTREAM_BODY_NONE ||
                       (x->framing.kind == HTTP_UPSTREAM_BODY_LENGTH && x->remaining == 0);
        if (x->in_off < x->in_len || no_body)
                r = proxy_body_step(s, out);
        else
                r = BODY_WAIT; /* the body follows: read once the head is out */
        if (r == BODY_END && x->after_end)
                r = -EMSGSIZE;
        if (r < 0 && r != -EPIPE) {
                http_request_log(q, LOG_PRI_ERR, "the upstream %s answered with %s", x->target->url,
                                 r == -EMSGSIZE ? "bytes after the end of its response" : body_error(x, r));
                *out = (HttpOutput) {};
                proxy_error(resp, 502, false);
                return HTTP_HANDLER_RESPOND;
        }
        x->head_out = true;
        x->phase = PROXY_BODY;
        if (r == BODY_END) {
                x->complete = true;
                x->phase = PROXY_DONE;
                return HTTP_HANDLER_DONE;
        }
        if (r == -EPIPE) {
                http_request_log(q, LOG_PRI_ERR, "the upstream %s: %s", x->target->url, body_error(x, r));
                x->cut = true;
                x->phase = PROXY_DONE;
                return HTTP_HANDLER_DONE;
        }
        return HTTP_HANDLER_OUTPUT;
}

static int proxy_produce(HttpHandler *h, HttpResponse *resp, HttpOutput *out, usec_t now) {
        ProxyHandler *s = (ProxyHandler *) h;
        ProxyExchange *x = s->x;
        const HttpRequest *q = h->request;
        int r;

        *out = (HttpOutput) {};
        for (;;) {
                switch (x->phase) {
                case PROXY_QUEUED:
                        r = proxy_take(s);
                        if (r == -EAGAIN) {
                                proxy_wait(s, now);
                                return HTTP_HANDLER_WAIT_READ;
                        }
                        if (r > 0) {
                                proxy_error(resp, r, false);
                                return HTTP_HANDLER_RESPOND;
                        }
                        continue;
                case PROXY_SEND:
                        if (x->body_chunked && !x->body_ended) {
                                if (!req_reserve(x, 5)) {
                                        proxy_error(resp, 500, false);
                                        return HTTP_HANDLER_RESPOND;
                                }
                                req_put(x, "0\r\n\r\n", 5);
                                x->body_ended = true;
                        }
                        r = proxy_flush(x);
                        if (r == HTTP_HANDLER_WAIT_WRITE || r == HTTP_HANDLER_WAIT_READ) {
                                proxy_wait(s, now);
                                return r;
                        }
                        if (r < 0) {
                                if (x->retries == 0 &&
                                    http_upstream_retry_allowed(x->up, x->idempotent, false, x->body_started) &&
                                    proxy_retry(s, now) == 0)
                                        continue;
                                proxy_log_send_error(q, x, r);
                                proxy_error(resp, 502, false);
                                return HTTP_HANDLER_RESPOND;
                        }
                        x->phase = PROXY_RECV_HEAD;
                        /* The answer cannot be there yet: wait for it rather than ask first (unless
                         * TLS read more than it gave while it sent: no readiness would come for it). */
                        if (http_upstream_pending(x->up))
                                continue;
                        proxy_wait(s, now);
                        return HTTP_HANDLER_WAIT_READ;
                case PROXY_RECV_HEAD: {
                        if (x->in_len > 0) {
                                int k = http_parser_feed(&x->parser, x->in, x->in_len);
                                if (k == HTTP_PARSE_DONE) {
                                        HttpResponseFraming f;
                                        const char *why;
                                        if (http_response_framing(x->method, &x->head, &f, &why) == 0 &&
                                            f.kind == HTTP_UPSTREAM_BODY_INTERIM) {
                                                /* 100 Continue and the like: the final head follows. */
                                                if (++x->interim > PROXY_INTERIM_MAX) {
                                                        http_request_log(q, LOG_PRI_ERR,
                                                                         "the upstream %s sent too many 1xx answers",
                                                                         x->target->url);
                                                        proxy_error(resp, 502, false);
                                                        return HTTP_HANDLER_RESPOND;
                                                }
                                                memmove(x->in, x->in + x->head.head_len, x->in_len - x->head.head_len);
                                                x->in_len -= x->head.head_len;
                                                http_parser_init_response(&x->parser, &x->head, x->fields, &x->limits);
                                                continue;
                                        }
                                        return proxy_head_done(s, resp, out);
                                }
                                if (k < 0) {
                                        http_request_log(q, LOG_PRI_ERR, "the upstream %s answered with a bad head: %s",
                                                         x->target->url, x->parser.error ? x->parser.error : "?");
                                        proxy_error(resp, 502, false);
                                        return HTTP_HANDLER_RESPOND;
                                }
                                if (x->in_len == sizeof(x->in)) {
                                        http_request_log(q, LOG_PRI_ERR,
                                                         "the upstream %s sent a response head larger than %d bytes",
                                                         x->target->url, PROXY_IN_SIZE);
                                        proxy_error(resp, 502, false);
                                        return HTTP_HANDLER_RESPOND;
                                }
                        }
                        ssize_t n = http_upstream_recv(x->up, x->in + x->in_len, sizeof(x->in) - x->in_len);
                        if (n == -EAGAIN) {
                                proxy_wait(s, now);
                                return proxy_want(x);
                        }
                        if (n <= 0) {
                                int e = (int) -n;
                                if (x->retries == 0 && x->in_len == 0 && e != EPROTO &&
                                    http_upstream_retry_allowed(x->up, x->idempotent, false, x->body_started) &&
                                    proxy_retry(s, now) == 0)
                                        continue;
                                if (e == EPROTO) {
                                        proxy_log_send_error(q, x, -e);
                                        proxy_error(resp, 502, false);
                                        return HTTP_HANDLER_RESPOND;
                                }
                                http_request_log(q, LOG_PRI_ERR, "the upstream %s closed the connection before %s%s%s",
                                                 x->target->url, x->in_len ? "the end of its head" : "answering",
                                                 e ? ": " : "", e ? strerror(e) : "");
                                proxy_error(resp, 502, false);
                                return HTTP_HANDLER_RESPOND;
                        }
                        x->in_len += (size_t) n;
                        continue;
                }
                case PROXY_BODY:
                        r = proxy_body_step(s, out);
                        if (r == BODY_WAIT) {
                                proxy_wait(s, now);
                                return proxy_want(x);
                        }
                        if (r == BODY_END) {
                                if (x->after_end)
                                        http_request_log(q, LOG_PRI_WARNING,
                                                         "the upstream %s sent bytes after the end of its response "
                                                         "(dropped, the connection closed)",
                                                         x->target->url);
                                x->complete = true;
                                x->phase = PROXY_DONE;
                                return HTTP_HANDLER_DONE;
                        }
                        if (r < 0) {
                                /* The head is out: all the client can learn is that the response is cut. */
                                http_request_log(q, LOG_PRI_ERR, "the upstream %s: %s", x->target->url, body_error(x, r));
                                x->cut = true;
                                x->phase = PROXY_DONE;
                                return HTTP_HANDLER_DONE;
                        }
                        if (out->len == 0)
                                continue;
                        return HTTP_HANDLER_OUTPUT;
                case PROXY_TUNNEL:
                        h->wait_fd = x->up->fd;
                        h->tunnel_upstream = x->up;
                        h->wait_slot = NULL; /* the tunnel watches it its own way */
                        h->tunnel_idle = x->timeout;
                        return HTTP_HANDLER_TUNNEL;
                default:
                        return HTTP_HANDLER_DONE;
                }
        }
}

static int proxy_timeout(HttpHandler *h, HttpResponse *resp) {
        ProxyHandler *s = (ProxyHandler *) h;
        ProxyExchange *x = s->x;

        if (x && x->phase == PROXY_QUEUED) {
                http_request_log(h->request, LOG_PRI_ERR,
                                 "no connection to the upstream %s became free in time (max=%u, acquire=)",
                                 x->target->url, x->target->limits.max);
                x->waiter = http_upstream_wait_cancel(x->waiter, now_usec(CLOCK_MONOTONIC));
                h->wait_fd = -1;
                proxy_error(resp, 503, true);
                return HTTP_HANDLER_RESPOND;
        }
        if (x && !x->head_out) {
                http_request_log(h->request, LOG_PRI_ERR, "the upstream %s did not %s in time (ProxyTimeout)",
                                 x->target->url,
                                 x->up && x->up->connecting ? "accept the connection"
                                 : x->phase == PROXY_SEND  ? "take the request"
                                                           : "answer");
                x->up = http_upstream_release(x->up, false, now_usec(CLOCK_MONOTONIC));
                h->wait_fd = -1;
                proxy_error(resp, 504, true);
                return HTTP_HANDLER_RESPOND;
        }
        http_request_log(h->request, LOG_PRI_ERR, "the upstream %s stopped sending its response (ProxyTimeout)",
                         x ? x->target->url : "?");
        return -ETIMEDOUT;
}

static void proxy_finish(HttpHandler *h, HttpHandlerResult *ret) {
        ProxyHandler *s = (ProxyHandler *) h;
        ProxyExchange *x = s->x;

        if (!x)
                return;
        bool reusable = ret && x->complete && !x->cut && !x->after_end && x->framing.reusable &&
                        !x->target->limits.disable_reuse && x->req_sent == x->req_len;
        if (ret && x->head_out) {
                ret->status = x->status;
                ret->body_bytes = x->body_bytes;
                ret->keep_alive = x->keep_alive && x->complete && !x->cut;
        }
        x->waiter = http_upstream_wait_cancel(x->waiter, now_usec(CLOCK_MONOTONIC));
        x->up = http_upstream_release(x->up, reusable, now_usec(CLOCK_MONOTONIC));
        h->wait_fd = -1;
        exchange_put(x);
        s->x = NULL;
}

const HttpHandlerType http_proxy_handler = {
        .name = "proxy",
        .size = sizeof(ProxyHandler),
        .start = proxy_start,
        .on_body = proxy_on_body,
        .produce = proxy_produce,
        .timeout = proxy_timeout,
        .finish = proxy_finish,
};
