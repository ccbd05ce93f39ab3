/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "date.h"
#include "path.h"
#include "request.h"
#include "response.h"
#include "server-logs.h"
#include "static.h"
#include "status.h"
#include "time-util.h"

#define IN_BUFFER_INITIAL 4096
#define OUT_BUFFER_SIZE (16 * 1024)  /* a response head plus a small file in one write */
#define SMALL_FILE_MAX (OUT_BUFFER_SIZE - 1024)
#define DISCARD_BODY_MAX (1024 * 1024) /* a larger unwanted body closes the connection instead */
#define HTTP_STATUS_PAGE_MAX (16 * 1024)
#define LINGER_USEC (2 * USEC_PER_SEC)
#define HEADER_TIMEOUT_USEC (20 * USEC_PER_SEC) /* RequestReadTimeout header=20-40,MinRate=500 */
#define HEADER_TIMEOUT_MAX_USEC (40 * USEC_PER_SEC)
#define HEADER_MIN_RATE 500

/* What one state function achieved: changed state (go on), would block, or finished. */
typedef enum ConnStep {
        STEP_CONTINUE,
        STEP_WANT_READ,
        STEP_WANT_WRITE,
        STEP_DONE,
} ConnStep;

typedef enum ConnState {
        CONN_READ_HEAD,
        CONN_WRITE,
        CONN_DISCARD_BODY,
        CONN_LINGER,
        CONN_CLOSED,
} ConnState;

struct HttpConn {
        const HttpServer *server;
        const HttpIo *io;
        void *io_ctx;
        HttpConnInfo info;
        const HttpConnObserver *obs;
        void *obs_userdata;

        ConnState state;
        HttpConnPhase phase;
        usec_t deadline;
        unsigned requests;
        bool draining;
        bool shut_down;

        /* input: request bytes; the current request starts at in[0] */
        char *in;
        size_t in_len, in_size;
        HttpParser parser;
        HttpRequestHead head;
        HttpHeader *headers;
        usec_t head_started;
        const HttpSite *site; /* for limits and timeouts of the current request */

        /* the request body we discard after answering */
        uint64_t body_left;
        bool body_chunked;
        HttpChunked chunked;
        uint64_t body_discarded;

        /* output */
        HttpResponse resp;
        char *out;
        size_t out_len, out_sent;
        const char *mem_body; /* a memory body sent after out[] */
        size_t mem_len, mem_sent;
        off_t file_off;
        uint64_t file_left;
        bool keep_alive;
        bool send_body;
        uint64_t body_bytes;
        char method[16];
};

static void conn_set_phase(HttpConn *c, HttpConnPhase p) {
        if (c->phase == p)
                return;
        c->phase = p;
        if (c->obs && c->obs->phase)
                c->obs->phase(c->obs_userdata, p);
}

static const HttpSite *conn_default_site(const HttpConn *c) {
        return http_server_select(c->server, c->info.listener_name, NULL, 0);
}

static const HttpSiteConfig *conn_cfg(const HttpConn *c) {
        return c->site->cfg;
}

static void conn_start_head(HttpConn *c) {
        http_parser_init(&c->parser, &c->head, c->headers, &c->site->limits);
}

/* Buffers exist while a request is in flight; an idle kept-alive connection holds none, so ten
 * thousand of them cost little more than their sockets. */
static int conn_buffers_ensure(HttpConn *c) {
        if (!c->headers) {
                c->headers = calloc(c->server->max_header_fields ? c->server->max_header_fields : 1,
                                    sizeof(HttpHeader));
                if (!c->headers)
                        return -ENOMEM;
                c->parser.head = &c->head;
                c->head.headers = c->headers;
        }
        if (!c->in) {
                c->in_size = IN_BUFFER_INITIAL;
                c->in = malloc(c->in_size);
                if (!c->in)
                        return -ENOMEM;
        }
        if (!c->out) {
                c->out = malloc(OUT_BUFFER_SIZE);
                if (!c->out)
                        return -ENOMEM;
        }
        return 0;
}

static void conn_buffers_release(HttpConn *c) {
        c->headers = mfree(c->headers);
        c->in = mfree(c->in);
        c->in_size = 0;
        c->out = mfree(c->out);
}

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
        if (!c->site || conn_buffers_ensure(c) < 0)
                return http_conn_free(c);
        http_response_init(&c->resp);
        c->state = CONN_READ_HEAD;
        c->phase = HTTP_PHASE_READ;
        c->head_started = now;
        c->deadline = now + HEADER_TIMEOUT_USEC;
        conn_start_head(c);
        return c;
}

HttpConn *http_conn_free(HttpConn *c) {
        if (!c)
                return NULL;
        http_response_done(&c->resp);
        free(c->headers);
        free(c->in);
        free(c->out);
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

/* ---- building the response ------------------------------------------------------------------ */

static bool conn_wants_keep_alive(const HttpConn *c, const HttpResponse *r) {
        const HttpSiteConfig *cfg = conn_cfg(c);

        if (r->close || c->draining || !cfg->keep_alive || c->head.conn_close)
                return false;
        if (c->head.version_minor == 0 && !c->head.conn_keep_alive)
                return false;
        if (cfg->max_keep_alive_requests > 0 && c->requests + 1 >= cfg->max_keep_alive_requests)
                return false;
        return true;
}

/* Append to out[]; false when it does not fit. */
static bool out_append(HttpConn *c, const char *s, size_t n) {
        if (c->out_len + n > OUT_BUFFER_SIZE)
                return false;
        memcpy(c->out + c->out_len, s, n);
        c->out_len += n;
        return true;
}

static bool out_printf(HttpConn *c, const char *fmt, ...) _printf_(2, 3);
static bool out_printf(HttpConn *c, const char *fmt, ...) {
        size_t room = OUT_BUFFER_SIZE - c->out_len;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(c->out + c->out_len, room, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= room)
                return false;
        c->out_len += (size_t) n;
        return true;
}

/* Turn c->resp into bytes: the head in out[], a small file or memory body right behind it. */
static void conn_prepare_response(HttpConn *c, bool head_only, usec_t now_real) {
        HttpResponse *r = &c->resp;
        uint64_t length;
        bool ok;

        if (r->headers_overflow)
                http_response_set_error(r, 500);
        c->keep_alive = conn_wants_keep_alive(c, r);
        length = http_response_body_length(r);

        c->out_len = c->out_sent = 0;
        ok = out_printf(c, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: %s\r\n", r->status,
                        http_status_reason(r->status), http_date_now(now_real), c->server->server_header) &&
             out_append(c, r->headers, r->headers_len);
        if (ok && !http_status_has_no_body(r->status))
                ok = out_printf(c, "Content-Length: %llu\r\n", (unsigned long long) length);
        if (ok && !c->keep_alive)
                ok = out_append(c, "Connection: close\r\n", 19);
        else if (ok && c->head.version_minor == 0)
                ok = out_append(c, "Connection: keep-alive\r\n", 24);
        if (ok)
                ok = out_append(c, "\r\n", 2);
        if (!ok) {
                /* Cannot happen with the fixed header budget; answer plainly rather than send garbage. */
                c->out_len = 0;
                out_printf(c, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                c->keep_alive = false;
                r->file_fd = safe_close(r->file_fd);
                r->body_len = 0;
                length = 0;
        }

        c->send_body = !head_only && !http_status_has_no_body(r->status);
        c->body_bytes = c->send_body ? length : 0;
        c->mem_body = NULL;
        c->mem_len = c->mem_sent = 0;
        c->file_left = 0;
        if (!c->send_body) {
                c->resp.file_fd = safe_close(c->resp.file_fd);
                return;
        }
        if (r->file_fd >= 0) {
                c->file_off = r->file_off;
                c->file_left = r->file_len;
                /* A small file goes into the same write as its head. */
                if (r->file_len <= SMALL_FILE_MAX && c->out_len + r->file_len <= OUT_BUFFER_SIZE) {
                        ssize_t n = pread(r->file_fd, c->out + c->out_len, r->file_len, r->file_off);
                        if (n == (ssize_t) r->file_len) {
                                c->out_len += (size_t) n;
                                c->file_left = 0;
                                r->file_fd = safe_close(r->file_fd);
                        }
                }
        } else {
                c->mem_body = r->body;
                c->mem_len = r->body_len;
        }
}

static void conn_respond_error(HttpConn *c, int status, bool close) {
        http_response_done(&c->resp);
        http_response_init(&c->resp);
        http_response_set_error(&c->resp, status);
        c->resp.close = close;
        if (status == 405 || status == 501)
                http_response_add_header(&c->resp, "Allow", HTTP_STATIC_ALLOW);
}

/* ---- routing a request to its handler ------------------------------------------------------- */

static void conn_dispatch(HttpConn *c, usec_t now_real) {
        const HttpRequestHead *h = &c->head;
        static _Thread_local char path[PATH_MAX];
        HttpRequest q = {
                .server = c->server,
                .head = h,
                .buf = c->in,
                .now = now_real,
        };
        HttpResponse *r = &c->resp;
        size_t path_len = 0;
        int k;

        http_response_done(r);
        http_response_init(r);

        q.site = http_server_select(c->server, c->info.listener_name, h->has_host ? c->in + h->host.off : NULL,
                                    h->has_host ? h->host.len : 0);
        if (q.site)
                c->site = q.site;
        const HttpSiteConfig *cfg = conn_cfg(c);

        if (h->method == HTTP_METHOD_UNKNOWN)
                {
                conn_respond_error(c, 501, false);
                return;
        }
        if (h->expect_other)
                {
                conn_respond_error(c, 417, false);
                return;
        }
        if (cfg->limit_request_body > 0 && h->has_content_length && h->content_length > cfg->limit_request_body)
                {
                conn_respond_error(c, 413, true);
                return;
        }
        if (h->method == HTTP_METHOD_CONNECT || (h->method == HTTP_METHOD_TRACE && !cfg->trace_enable))
                {
                conn_respond_error(c, 405, false);
                return;
        }
        if (h->target_form == HTTP_TARGET_ASTERISK) {
                /* OPTIONS * : what the server as a whole allows. */
                r->status = 200;
                http_response_add_header(r, "Allow", HTTP_STATIC_ALLOW);
                return;
        }
        if (h->method == HTTP_METHOD_TRACE) {
                /* TraceEnable On: echo the request head back, as RFC 9110 §9.3.8 says. */
                r->status = 200;
                http_response_add_header(r, "Content-Type", "message/http");
                r->body = c->in;
                r->body_len = h->head_len;
                return;
        }

        if (h->path.len == 0) {
                /* absolute-form without a path: the root */
                path[0] = '/';
                path[1] = 0;
                path_len = 1;
        } else {
                k = http_path_normalize(c->in + h->path.off, h->path.len, path, sizeof(path), &path_len);
                if (k == -ENOENT)
                        {
                conn_respond_error(c, 404, false);
                return;
        }
                if (k == -ENAMETOOLONG)
                        {
                conn_respond_error(c, 414, false);
                return;
        }
                if (k < 0)
                        {
                conn_respond_error(c, 400, false);
                return;
        }
        }
        q.path = path;
        q.path_len = path_len;

        if (cfg->server_status && (h->method == HTTP_METHOD_GET || h->method == HTTP_METHOD_HEAD) &&
            strcmp(path, cfg->server_status) == 0) {
                r->body_owned = malloc(HTTP_STATUS_PAGE_MAX);
                if (!r->body_owned)
                        http_response_set_error(r, 500);
                else
                        http_status_serve(&q, c->info.peer, r->body_owned, HTTP_STATUS_PAGE_MAX, r);
                return;
        }

        switch (h->method) {
        case HTTP_METHOD_GET:
        case HTTP_METHOD_HEAD:
                http_static_serve(&q, r);
                break;
        case HTTP_METHOD_OPTIONS:
                r->status = 200;
                http_response_add_header(r, "Allow", HTTP_STATIC_ALLOW);
                break;
        default:
                conn_respond_error(c, 405, false);
                break;
        }
}

/* ---- the state machine ---------------------------------------------------------------------- */

static void conn_start_write(HttpConn *c, usec_t now) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        conn_prepare_response(c, c->head.method == HTTP_METHOD_HEAD, timespec_to_usec(&ts));
        c->state = CONN_WRITE;
        c->deadline = now + conn_cfg(c)->timeout;
        conn_set_phase(c, HTTP_PHASE_WRITE);
}

/* A request head is complete (r == DONE) or was rejected (r < 0): decide the answer. */
static void conn_on_head(HttpConn *c, int r, usec_t now) {
        struct timespec ts;

        c->body_left = 0;
        c->body_chunked = false;
        c->body_discarded = 0;
        if (r < 0) {
                /* Nothing after a bad head can be trusted: answer and close. The method stays as
                 * parsed (UNKNOWN if the error came first), so a HEAD gets its 400 without a body. */
                c->head.head_len = (uint32_t) c->in_len;
                snprintf(c->method, sizeof(c->method), "-");
                conn_respond_error(c, -r, true);
                conn_start_write(c, now);
                return;
        }

        snprintf(c->method, sizeof(c->method), "%.*s", (int) MIN(c->head.method_span.len, sizeof(c->method) - 1),
                 c->in + c->head.method_span.off);
        clock_gettime(CLOCK_REALTIME, &ts);
        conn_dispatch(c, timespec_to_usec(&ts));

        if (c->head.chunked)
                c->body_chunked = true;
        else if (c->head.has_content_length)
                c->body_left = c->head.content_length;

        if (c->body_chunked || c->body_left > 0) {
                /* Nobody here wants a request body: it is read and dropped after the answer so the
                 * connection can carry the next request, unless it is too large to be worth it or the
                 * client is still waiting for a 100 Continue it will never get. */
                if (c->head.expect_continue || c->body_left > DISCARD_BODY_MAX)
                        c->resp.close = true;
                if (c->body_chunked)
                        http_chunked_init(&c->chunked);
        }
        conn_start_write(c, now);
}

/* Remove the bytes of the request just answered; pipelined bytes move to the front. */
static void conn_consume_input(HttpConn *c, size_t n) {
        if (n >= c->in_len) {
                c->in_len = 0;
                return;
        }
        memmove(c->in, c->in + n, c->in_len - n);
        c->in_len -= n;
}

static void conn_finish_request(HttpConn *c, usec_t now) {
        if (c->obs && c->obs->request_done)
                c->obs->request_done(c->obs_userdata, c->site ? c->site->name : "", c->method, c->resp.status,
                                     c->body_bytes, now > c->head_started ? now - c->head_started : 0);
        c->requests++;
        http_response_done(&c->resp);

        if (!c->keep_alive) {
                /* An error answer is followed by a lingering close so the client can read it. */
                c->state = CONN_LINGER;
                c->deadline = now + LINGER_USEC;
                conn_set_phase(c, HTTP_PHASE_LINGER);
                return;
        }
        c->state = CONN_READ_HEAD;
        c->site = conn_default_site(c);
        conn_start_head(c);
        c->head_started = now;
        if (c->in_len > 0) {
                c->deadline = now + HEADER_TIMEOUT_USEC;
                conn_set_phase(c, HTTP_PHASE_READ);
        } else {
                c->deadline = now + conn_cfg(c)->keep_alive_timeout;
                conn_set_phase(c, HTTP_PHASE_IDLE);
                conn_buffers_release(c);
        }
}

static ssize_t conn_recv(HttpConn *c) {
        if (!c->in && conn_buffers_ensure(c) < 0)
                return -ENOMEM;
        if (c->in_len == c->in_size) {
                size_t limit = (size_t) c->server->max_head_size + 4096;
                size_t n = c->in_size * 2;
                char *p;

                if (c->in_size >= limit)
                        return -ENOBUFS;
                if (n > limit)
                        n = limit;
                p = realloc(c->in, n);
                if (!p)
                        return -ENOMEM;
                c->in = p;
                c->in_size = n;
        }
        return c->io->recv(c->io_ctx, c->in + c->in_len, c->in_size - c->in_len);
}

static ConnStep conn_read_head(HttpConn *c, usec_t now) {
        for (;;) {
                if (c->in_len > 0) {
                        int r = http_parser_feed(&c->parser, c->in, c->in_len);
                        if (r != HTTP_PARSE_AGAIN) {
                                conn_on_head(c, r, now);
                                return STEP_CONTINUE;
                        }
                }

                ssize_t n = conn_recv(c);
                if (n == -EAGAIN)
                        return STEP_WANT_READ;
                if (n == -ENOBUFS) {
                        conn_on_head(c, -431, now);
                        return STEP_CONTINUE;
                }
                if (n <= 0)
                        /* End of stream or a reset: between requests that is a normal close; within a
                         * head there is nobody left to answer. */
                        return STEP_DONE;
                if (c->phase == HTTP_PHASE_IDLE) {
                        c->head_started = now;
                        conn_set_phase(c, HTTP_PHASE_READ);
                }
                c->in_len += (size_t) n;
                /* The header deadline grows with the data received, up to its maximum. */
                usec_t extra = (usec_t) c->in_len / HEADER_MIN_RATE * USEC_PER_SEC;
                c->deadline = c->head_started + MIN(HEADER_TIMEOUT_USEC + extra, HEADER_TIMEOUT_MAX_USEC);
        }
}

/* ---- the access log ------------------------------------------------------------------------- */

static bool conn_log_request_header(const void *userdata, const char *name, size_t index, AccessLogText *ret) {
        const HttpConn *c = userdata;

        for (uint32_t i = 0; i < c->head.n_headers; i++) {
                const HttpHeader *h = &c->head.headers[i];
                if (http_span_eq_ci(c->in, h->name, name) && index-- == 0) {
                        *ret = (AccessLogText) { c->in + h->value.off, h->value.len };
                        return true;
                }
        }
        return false;
}

/* Fields the handler added ("Name: value\r\n" lines); Date, Server, Content-Length and Connection
 * are the connection's own and not among them. */
static bool conn_log_response_header(const void *userdata, const char *name, size_t index, AccessLogText *ret) {
        const HttpResponse *r = &((const HttpConn *) userdata)->resp;
        size_t nlen = strlen(name);

        for (const char *p = r->headers, *end = r->headers + r->headers_len; p < end;) {
                const char *eol = memmem(p, (size_t) (end - p), "\r\n", 2);
                if (!eol)
                        break;
                if ((size_t) (eol - p) > nlen + 1 && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0 &&
                    index-- == 0) {
                        const char *v = p + nlen + 1;
                        while (v < eol && *v == ' ')
                                v++;
                        *ret = (AccessLogText) { v, (size_t) (eol - v) };
                        return true;
                }
                p = eol + 2;
        }
        return false;
}

/* Called when the response is out and the request's bytes are still in in[]. */
static void conn_log_request(HttpConn *c, usec_t now) {
        const HttpRequestHead *h = &c->head;
        struct timespec ts;
        const char *line, *end = c->in + MIN((size_t) h->head_len, c->in_len);

        if (!http_server_site_logs(c->server, c->site))
                return;
        clock_gettime(CLOCK_REALTIME, &ts);
        usec_t duration = now > c->head_started ? now - c->head_started : 0;
        AccessLogEntry e = {
                .peer = c->info.peer[0] ? c->info.peer : NULL,
                .peer_port = c->info.peer_port,
                .local_port = c->info.local_port,
                .time = timespec_to_usec(&ts) - duration,
                .duration = duration,
                .vhost = c->site->cfg->server_name ? c->site->cfg->server_name : c->site->name,
                .status = c->resp.status,
                .bytes = c->body_bytes,
                .request_header = conn_log_request_header,
                .response_header = conn_log_response_header,
                .userdata = c,
        };

        /* The request line as received (after any empty lines before it), even from a rejected head. */
        for (line = c->in; line < end && (*line == '\r' || *line == '\n'); line++)
                ;
        size_t len = 0;
        while (line + len < end && line[len] != '\r' && line[len] != '\n')
                len++;
        if (len > 0)
                e.request_line = (AccessLogText) { line, len };
        if (strcmp(c->method, "-") != 0) {
                /* A head that parsed: its spans are good. The version is the line's last word. */
                const char *sp = memrchr(line, ' ', len);
                e.method = (AccessLogText) { c->in + h->method_span.off, h->method_span.len };
                if (sp)
                        e.protocol = (AccessLogText) { sp + 1, (size_t) (line + len - sp - 1) };
                if (h->path.len > 0)
                        e.path = (AccessLogText) { c->in + h->path.off, h->path.len };
                else
                        e.path = (AccessLogText) { h->target_form == HTTP_TARGET_ASTERISK ? "*" : "/", 1 };
                if (h->has_query)
                        e.query = (AccessLogText) { c->in + h->query.off, h->query.len };
        }
        http_server_log_request(c->server, c->site, &e);
}

static ConnStep conn_write(HttpConn *c, usec_t now) {
        HttpResponse *r = &c->resp;
        int file_fd = r->n_pieces > 0 ? r->pieces_fd : r->file_fd;

        while (c->out_sent < c->out_len || c->mem_sent < c->mem_len) {
                struct iovec iov[2];
                int n = 0;

                if (c->out_sent < c->out_len)
                        iov[n++] = (struct iovec) { c->out + c->out_sent, c->out_len - c->out_sent };
                if (c->mem_sent < c->mem_len)
                        iov[n++] = (struct iovec) { (char *) c->mem_body + c->mem_sent, c->mem_len - c->mem_sent };
                ssize_t k = c->io->writev(c->io_ctx, iov, n);
                if (k == -EAGAIN)
                        return STEP_WANT_WRITE;
                if (k < 0)
                        return STEP_DONE;
                size_t done = (size_t) k;
                size_t head_part = MIN(done, c->out_len - c->out_sent);
                c->out_sent += head_part;
                c->mem_sent += done - head_part;
                c->deadline = now + conn_cfg(c)->timeout;
        }

        while (c->file_left > 0) {
                ssize_t k;
                size_t chunk = c->file_left > (1u << 20) ? (1u << 20) : (size_t) c->file_left;

                if (c->io->sendfile)
                        k = c->io->sendfile(c->io_ctx, file_fd, &c->file_off, chunk);
                else {
                        /* No sendfile (tests, fuzzers): read into the output buffer and write that. */
                        if (chunk > OUT_BUFFER_SIZE)
                                chunk = OUT_BUFFER_SIZE;
                        ssize_t got = pread(file_fd, c->out, chunk, c->file_off);
                        if (got <= 0)
                                return STEP_DONE;
                        struct iovec iov = { c->out, (size_t) got };
                        k = c->io->writev(c->io_ctx, &iov, 1);
                        if (k > 0)
                                c->file_off += k;
                }
                if (k == -EAGAIN)
                        return STEP_WANT_WRITE;
                if (k <= 0)
                        /* The file shrank or the peer went away: the length promised cannot be kept. */
                        return STEP_DONE;
                c->file_left -= (uint64_t) k;
                c->deadline = now + conn_cfg(c)->timeout;
        }

        /* A body in pieces (multipart/byteranges): each is sent like a memory or file body in turn.
         * body_bytes is 0 for HEAD, bodiless statuses and a failed head, which send none. */
        if (c->body_bytes > 0 && r->piece_next < r->n_pieces) {
                const HttpBodyPiece *p = &r->pieces[r->piece_next++];
                if (p->mem) {
                        c->mem_body = p->mem;
                        c->mem_len = (size_t) p->len;
                        c->mem_sent = 0;
                } else {
                        c->file_off = p->off;
                        c->file_left = p->len;
                }
                return STEP_CONTINUE;
        }

        conn_log_request(c, now);
        conn_consume_input(c, c->head.head_len);
        if (c->body_chunked || c->body_left > 0) {
                c->state = CONN_DISCARD_BODY;
                conn_set_phase(c, HTTP_PHASE_READ);
        } else
                conn_finish_request(c, now);
        return STEP_CONTINUE;
}

/* Drop the request body that is already buffered; true when the whole body is gone. Returns a
 * negative status when the body is malformed. */
static int conn_discard_buffered(HttpConn *c) {
        if (!c->body_chunked) {
                size_t n = (size_t) MIN((uint64_t) c->in_len, c->body_left);
                conn_consume_input(c, n);
                c->body_left -= n;
                c->body_discarded += n;
                return c->body_left == 0;
        }

        size_t consumed = 0, data = 0;
        int r = http_chunked_feed(&c->chunked, &c->site->limits, c->in, c->in_len, &consumed, &data);
        /* The decoded data was written to the front of in[]; it is dropped along with the input it
         * came from, and the bytes after the consumed part are kept. */
        conn_consume_input(c, consumed);
        c->body_discarded += data;
        if (r < 0)
                return r;
        return r == 1;
}

static ConnStep conn_discard_body(HttpConn *c, usec_t now) {
        for (;;) {
                int r = conn_discard_buffered(c);
                if (r < 0 || c->body_discarded > DISCARD_BODY_MAX) {
                        /* A broken or endless body: the response is out, the connection ends. */
                        c->keep_alive = false;
                        c->body_chunked = false;
                        c->body_left = 0;
                        conn_finish_request(c, now);
                        return STEP_CONTINUE;
                }
                if (r == 1) {
                        c->body_chunked = false;
                        c->body_left = 0;
                        conn_finish_request(c, now);
                        return STEP_CONTINUE;
                }
                ssize_t n = conn_recv(c);
                if (n == -EAGAIN)
                        return STEP_WANT_READ;
                if (n <= 0)
                        return STEP_DONE;
                c->in_len += (size_t) n;
                c->deadline = now + conn_cfg(c)->timeout;
        }
}

static ConnStep conn_linger(HttpConn *c) {
        char scratch[4096];

        if (!c->shut_down) {
                c->shut_down = true;
                if (!c->io->shutdown_write || c->io->shutdown_write(c->io_ctx) < 0)
                        return STEP_DONE;
        }
        for (;;) {
                ssize_t n = c->io->recv(c->io_ctx, scratch, sizeof(scratch));
                if (n == -EAGAIN)
                        return STEP_WANT_READ;
                if (n <= 0)
                        return STEP_DONE;
        }
}

HttpConnWant http_conn_run(HttpConn *c, usec_t now) {
        for (;;) {
                ConnStep step;

                switch (c->state) {
                case CONN_READ_HEAD:
                        step = conn_read_head(c, now);
                        break;
                case CONN_WRITE:
                        step = conn_write(c, now);
                        break;
                case CONN_DISCARD_BODY:
                        step = conn_discard_body(c, now);
                        break;
                case CONN_LINGER:
                        step = conn_linger(c);
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
                case STEP_DONE:
                default:
                        c->state = CONN_CLOSED;
                        conn_set_phase(c, HTTP_PHASE_CLOSED);
                        return HTTP_CONN_DONE;
                }
        }
}

HttpConnWant http_conn_timeout(HttpConn *c, usec_t now) {
        switch (c->state) {
        case CONN_READ_HEAD:
                if (c->phase == HTTP_PHASE_READ && c->in_len > 0) {
                        /* Part of a request came, then nothing in time: tell the client, then close. */
                        conn_on_head(c, -408, now);
                        return http_conn_run(c, now);
                }
                break;
        default:
                break;
        }
        c->state = CONN_CLOSED;
        conn_set_phase(c, HTTP_PHASE_CLOSED);
        return HTTP_CONN_DONE;
}

void http_conn_drain(HttpConn *c, usec_t now, usec_t grace) {
        c->draining = true;
        if (c->state == CONN_READ_HEAD && c->phase == HTTP_PHASE_IDLE && now + grace < c->deadline)
                c->deadline = now + grace;
}
