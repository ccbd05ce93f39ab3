/* SPDX-License-Identifier: MIT */
/* static-handler.c — the static handler's vtable (handler.h): a thin adapter over static.c, which
 * finds the file (DirectoryIndex, the file cache), has request processing's conditional.c decide
 * the conditionals and ranges, and fills the response; the connection sends it (a small file in the same write as its head, a larger one
 * with sendfile). Nothing here allocates or makes a syscall on that path: the hot path stays static.c's.
 *
 * The one exception is a file compressed on the fly that does not fit the connection's body room
 * (Compression = gzip): then the handler frames the response itself, as CGI's does. start() takes
 * the head lines static.c prepared and allocates a GzipStream (the zlib state, 256 KiB, and 32 KiB
 * of buffers: what such a request costs while it runs); produce() sends the head, then reads the
 * file and hands out one compressed chunk per call (Transfer-Encoding: chunked, or the body up to
 * the connection's close for an HTTP/1.0 client); finish() frees it all, whether the response
 * completed or the request was abandoned. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "http/compress.h"
#include "http/date.h"
#include "http/handler.h"
#include "http/respond.h"
#include "http/static.h"
#include "shared/log.h"

#define GZIP_STREAM_BUF (16 * 1024)

typedef struct GzipStream {
        HttpGzip *gz;
        int fd;
        off_t off;             /* read so far */
        size_t in_off, in_len; /* in[in_off..in_len) not yet taken by zlib */
        bool eof, head_sent, head_only, chunked, keep_alive, complete;
        uint64_t body_bytes; /* compressed bytes sent, framing excluded */
        size_t head_len;
        char chunk[24];
        char head[HTTP_RESPONSE_HEADERS_MAX + 512];
        char in[GZIP_STREAM_BUF];
        char out[GZIP_STREAM_BUF];
} GzipStream;

typedef struct StaticHandler {
        HttpHandler base;
        GzipStream *stream; /* NULL: start() answered with a response */
} StaticHandler;

_Static_assert(sizeof(StaticHandler) <= HTTP_HANDLER_SPACE, "the static handler's state must fit the request block");

static const char crlf_last_chunk[] = "\r\n0\r\n\r\n";

static GzipStream *gzip_stream_free(GzipStream *s) {
        if (!s)
                return NULL;
        http_gzip_free(s->gz);
        safe_close(s->fd);
        free(s);
        return NULL;
}

static void static_error(HttpResponse *resp, int status) {
        http_response_done(resp);
        http_response_init(resp);
        http_response_set_error(resp, status);
}

static int static_handler_start(HttpHandler *h, HttpResponse *resp) {
        StaticHandler *sh = (StaticHandler *) h;
        HttpRequest *q = h->request;
        HttpStaticStream st = { .fd = -1 };
        GzipStream *s;

        sh->stream = NULL;
        if (http_static_serve_stream(q, resp, &st) == 0)
                return HTTP_HANDLER_RESPOND;
        /* The head is ours to write: the response step (Header, Expires*) applies here, as
         * http1.c applies it to the heads it writes. */
        resp->status = 200;
        http_respond(q, resp);
        if (resp->headers_overflow) {
                safe_close(st.fd);
                static_error(resp, 500);
                return HTTP_HANDLER_RESPOND;
        }

        s = malloc(sizeof(*s));
        if (!s || http_gzip_new(st.level, &s->gz) < 0) {
                free(s);
                safe_close(st.fd);
                static_error(resp, 500);
                return HTTP_HANDLER_RESPOND;
        }
        s->fd = st.fd;
        s->off = 0;
        s->in_off = s->in_len = 0;
        s->eof = s->head_sent = s->complete = false;
        s->head_only = q->head->method == HTTP_METHOD_HEAD;
        s->chunked = q->head->version_minor >= 1;
        s->keep_alive = false;
        s->body_bytes = 0;
        sh->stream = s;
        h->deadline = q->now_mono + q->cfg->timeout;
        /* No body is wanted: the connection drops one if it comes, then calls produce(). */
        return HTTP_HANDLER_READ_BODY;
}

static void output_push(HttpOutput *o, const void *p, size_t n) {
        if (n == 0)
                return;
        o->iov[o->n_iov++] = (struct iovec) { .iov_base = (void *) p, .iov_len = n };
        o->len += n;
}

static int gzip_stream_head(GzipStream *s, const HttpRequest *q, HttpResponse *resp, HttpOutput *out) {
        HttpHeadWriter w;

        /* HTTP/1.0 has no chunks: the body ends with the connection. */
        s->keep_alive = q->keep_alive && s->chunked;
        http_head_begin(&w, s->head, sizeof(s->head), 200, NULL, 0, http_date_now(q->now), q->server->server_line,
                        q->server->server_line_len);
        http_head_put(&w, resp->headers, resp->headers_len);
        http_head_end(&w, 200, s->chunked ? HTTP_FRAMING_CHUNKED : HTTP_FRAMING_CLOSE, 0, s->keep_alive,
                      q->head->version_minor);
        if (!http_head_fits(&w)) {
                static_error(resp, 500);
                return HTTP_HANDLER_RESPOND;
        }
        s->head_len = w.len;
        s->head_sent = true;
        resp->status = 200;
        output_push(out, s->head, s->head_len);
        if (s->head_only) {
                s->complete = true;
                return HTTP_HANDLER_DONE;
        }
        return HTTP_HANDLER_OUTPUT;
}

static int static_handler_produce(HttpHandler *h, HttpResponse *resp, HttpOutput *out, usec_t now) {
        GzipStream *s = ((StaticHandler *) h)->stream;

        *out = (HttpOutput) {};
        if (!s->head_sent)
                return gzip_stream_head(s, h->request, resp, out);

        for (;;) {
                size_t taken, made;
                int r;

                if (!s->eof && s->in_off == s->in_len) {
                        ssize_t k = pread(s->fd, s->in, sizeof(s->in), s->off);
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k < 0) {
                                /* The head is out: all that is left is to cut the body short. */
                                http_request_log(h->request, LOG_PRI_ERR, "reading the file to compress: %m");
                                s->keep_alive = false;
                                return HTTP_HANDLER_DONE;
                        }
                        s->in_off = 0;
                        s->in_len = (size_t) k;
                        s->off += k;
                        s->eof = k == 0;
                }
                r = http_gzip_compress(s->gz, s->in + s->in_off, s->in_len - s->in_off, s->out, sizeof(s->out), s->eof,
                                       &taken, &made);
                if (r < 0) {
                        http_request_log(h->request, LOG_PRI_ERR, "gzip failed");
                        s->keep_alive = false;
                        return HTTP_HANDLER_DONE;
                }
                s->in_off += taken;
                if (made > 0) {
                        s->body_bytes += made;
                        if (s->chunked) {
                                int n = snprintf(s->chunk, sizeof(s->chunk), "%zx\r\n", made);
                                output_push(out, s->chunk, (size_t) n);
                        }
                        output_push(out, s->out, made);
                        if (s->chunked)
                                output_push(out, crlf_last_chunk, r == 1 ? sizeof(crlf_last_chunk) - 1 : 2);
                } else if (r == 1 && s->chunked)
                        output_push(out, crlf_last_chunk + 2, sizeof(crlf_last_chunk) - 3);
                if (r == 1) {
                        s->complete = true;
                        return HTTP_HANDLER_DONE;
                }
                if (made > 0)
                        return HTTP_HANDLER_OUTPUT;
        }
}

static void static_handler_finish(HttpHandler *h, HttpHandlerResult *ret) {
        StaticHandler *sh = (StaticHandler *) h;
        GzipStream *s = sh->stream;

        if (s && ret) {
                ret->status = 200;
                ret->body_bytes = s->body_bytes;
                ret->keep_alive = s->keep_alive && s->complete;
        }
        sh->stream = gzip_stream_free(s);
}

const HttpHandlerType http_static_handler = {
        .name = "static",
        .size = sizeof(StaticHandler),
        .start = static_handler_start,
        .produce = static_handler_produce,
        .finish = static_handler_finish,
};
