/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/cgi-exchange.h"
#include "http/cgi.h"
#include "http/date.h"
#include "http/headers.h"
#include "http/response.h"

typedef enum CgiBodyMode {
        CGI_BODY_NONE,    /* head only */
        CGI_BODY_LENGTH,  /* the program's Content-Length */
        CGI_BODY_CHUNKED, /* HTTP/1.1 without a length */
        CGI_BODY_CLOSE,   /* HTTP/1.0 without a length: ends when the connection closes */
} CgiBodyMode;

struct CgiExchange {
        uint8_t version_minor;
        bool head_only;
        bool keep_alive;
        char date[HTTP_DATE_LEN + 1];
        char *server_line;
        size_t server_line_len;
        char *scheme;
        char *host;
        size_t host_len;
        const HttpHeadersConfig *headers;
        time_t now;

        CgiHeadParser parser;
        CgiHead head;
        char in[CGI_HEAD_MAX + 1]; /* one byte past the limit, so that the parser sees it passed */
        size_t in_len;

        char *out; /* the response head */
        size_t out_len, out_size;
        char chunk[24]; /* the current chunk's size line */

        int status;
        CgiBodyMode mode;
        uint64_t remaining; /* CGI_BODY_LENGTH: body bytes still to come */
        uint64_t body_bytes;
        bool head_sent;
        bool done;
        int result; /* a final error, returned again by every later call */
        const char *error;
};

static const char last_chunk[] = "0\r\n\r\n";
static const char crlf[] = "\r\n";

CgiExchange *cgi_exchange_new(const CgiExchangeContext *ctx) {
        CgiExchange *x = calloc(1, sizeof(*x));

        if (!x)
                return NULL;
        x->version_minor = ctx->version_minor;
        x->head_only = ctx->head_only;
        x->keep_alive = ctx->keep_alive;
        x->headers = ctx->headers;
        x->now = ctx->now;
        if (ctx->date)
                snprintf(x->date, sizeof(x->date), "%s", ctx->date);
        x->server_line = malloc(ctx->server_line_len + 1);
        x->scheme = strdup(ctx->scheme ? ctx->scheme : "http");
        x->host = malloc(ctx->host_len + 1);
        if (!x->server_line || !x->scheme || !x->host)
                return cgi_exchange_free(x);
        if (ctx->server_line_len > 0)
                memcpy(x->server_line, ctx->server_line, ctx->server_line_len);
        x->server_line_len = ctx->server_line_len;
        if (ctx->host_len > 0)
                memcpy(x->host, ctx->host, ctx->host_len);
        x->host_len = ctx->host_len;
        cgi_head_parser_init(&x->parser, &x->head);
        return x;
}

CgiExchange *cgi_exchange_free(CgiExchange *x) {
        if (!x)
                return NULL;
        free(x->server_line);
        free(x->scheme);
        free(x->host);
        free(x->out);
        free(x);
        return NULL;
}

static void output_push(CgiOutput *o, const void *p, size_t n) {
        if (n == 0)
                return;
        o->iov[o->n_iov++] = (struct iovec) { .iov_base = (void *) p, .iov_len = n };
        o->len += n;
}

static int exchange_fail(CgiExchange *x, int r, const char *why) {
        x->result = r;
        x->error = why;
        return r;
}

static int exchange_build_head(CgiExchange *x) {
        const CgiHead *h = &x->head;

        x->status = h->status != 0 ? h->status : h->has_location ? 302 : 200;

        if (x->head_only || http_status_has_no_body(x->status))
                x->mode = CGI_BODY_NONE;
        else if (h->has_content_length) {
                x->mode = CGI_BODY_LENGTH;
                x->remaining = h->content_length;
        } else if (x->version_minor >= 1)
                x->mode = CGI_BODY_CHUNKED;
        else {
                x->mode = CGI_BODY_CLOSE;
                x->keep_alive = false;
        }

        /* Every line of the program grows by at most two bytes (": " for ":", CRLF for LF); the
         * configuration's lines add at most what http_headers_growth_max() says; the rest is ours and
         * bounded. The program's fields are written as lines first, so that Header and Expires* edit
         * them as they edit the engine's own responses. */
        size_t growth = x->headers ? http_headers_growth_max(x->headers) : 0;
        size_t lines_size = 2 * (size_t) h->head_len + x->host_len + strlen(x->scheme) + 64 + growth;
        _cleanup_free_ char *lines = malloc(lines_size);
        x->out_size = lines_size + x->server_line_len + 256;
        x->out = malloc(x->out_size);
        if (!x->out || !lines)
                return exchange_fail(x, -ENOMEM, "out of memory");

        HttpHeadWriter w, lw = { .buf = lines, .size = lines_size };
        HttpFraming framing = h->has_content_length ? HTTP_FRAMING_LENGTH
                              : x->version_minor >= 1 ? HTTP_FRAMING_CHUNKED
                                                      : HTTP_FRAMING_CLOSE;
        if (h->has_location) {
                http_head_put(&lw, "Location: ", 10);
                if (h->location_local && x->host_len > 0) {
                        /* RFC 3875 §6.2.2 asks the server to fetch a local Location itself and answer
                         * with it; like a client redirect it is cheaper and plainer to let the client
                         * do that: a 302 to the same path on the host the client asked for. */
                        http_head_put(&lw, x->scheme, strlen(x->scheme));
                        http_head_put(&lw, "://", 3);
                        http_head_put(&lw, x->host, x->host_len);
                }
                http_head_put(&lw, x->in + h->location.off, h->location.len);
                http_head_put(&lw, crlf, 2);
        }
        if (h->has_content_type) {
                http_head_put(&lw, "Content-Type: ", 14);
                http_head_put(&lw, x->in + h->content_type.off, h->content_type.len);
                http_head_put(&lw, crlf, 2);
        }
        for (uint32_t i = 0; i < h->n_fields; i++) {
                http_head_put(&lw, x->in + h->fields[i].name.off, h->fields[i].name.len);
                http_head_put(&lw, ": ", 2);
                http_head_put(&lw, x->in + h->fields[i].value.off, h->fields[i].value.len);
                http_head_put(&lw, crlf, 2);
        }
        /* lines_size is an upper bound of the program's lines and of what the edits add. */
        assert(http_head_fits(&lw));
        if (x->headers) {
                int r = http_headers_apply(x->headers, x->status, x->status >= 400, x->now, NULL, lines, &lw.len,
                                           lines_size);
                assert(r >= 0);
                (void) r;
        }
        http_head_begin(&w, x->out, x->out_size, x->status, h->reason.len > 0 ? x->in + h->reason.off : NULL,
                        h->reason.len, x->date, x->server_line, x->server_line_len);
        http_head_put(&w, lines, lw.len);
        http_head_end(&w, x->status, framing, h->content_length, x->keep_alive, x->version_minor);
        /* out_size is an upper bound of what the head can need. */
        assert(http_head_fits(&w));
        x->out_len = w.len;
        x->head_sent = true;
        if (x->mode == CGI_BODY_NONE || (x->mode == CGI_BODY_LENGTH && x->remaining == 0))
                x->done = true;
        return 0;
}

/* Frame the body bytes a[0..an) then b[0..bn) (two pieces: what followed the head in its buffer, and
 * the rest of the same read). */
static int exchange_body(CgiExchange *x, const char *a, size_t an, const char *b, size_t bn, CgiOutput *o) {
        size_t total = an + bn;
        int k;

        if (total == 0)
                return x->done ? CGI_EXCHANGE_DONE : CGI_EXCHANGE_AGAIN;
        if (x->done) {
                if (x->mode == CGI_BODY_LENGTH)
                        return exchange_fail(x, -EALREADY, "script output exceeds its Content-Length");
                return CGI_EXCHANGE_DONE; /* head only: the body is dropped */
        }

        switch (x->mode) {
        case CGI_BODY_LENGTH:
                if (total > x->remaining) {
                        size_t a_take = (size_t) MIN((uint64_t) an, x->remaining);
                        size_t b_take = (size_t) MIN((uint64_t) bn, x->remaining - a_take);

                        output_push(o, a, a_take);
                        output_push(o, b, b_take);
                        x->body_bytes += a_take + b_take;
                        x->remaining = 0;
                        x->done = true;
                        return exchange_fail(x, -EMSGSIZE, "script output exceeds its Content-Length");
                }
                output_push(o, a, an);
                output_push(o, b, bn);
                x->body_bytes += total;
                x->remaining -= total;
                if (x->remaining == 0) {
                        x->done = true;
                        return CGI_EXCHANGE_DONE;
                }
                return CGI_EXCHANGE_AGAIN;
        case CGI_BODY_CHUNKED:
                k = snprintf(x->chunk, sizeof(x->chunk), "%zx\r\n", total);
                output_push(o, x->chunk, (size_t) k);
                output_push(o, a, an);
                output_push(o, b, bn);
                output_push(o, crlf, 2);
                x->body_bytes += total;
                return CGI_EXCHANGE_AGAIN;
        case CGI_BODY_CLOSE:
                output_push(o, a, an);
                output_push(o, b, bn);
                x->body_bytes += total;
                return CGI_EXCHANGE_AGAIN;
        case CGI_BODY_NONE:
        default:
                return CGI_EXCHANGE_DONE;
        }
}

int cgi_exchange_feed(CgiExchange *x, const char *data, size_t n, CgiOutput *ret) {
        int r;

        *ret = (CgiOutput) {};
        if (x->result < 0)
                return x->result == -EMSGSIZE ? -EALREADY : x->result;
        if (x->head_sent)
                return exchange_body(x, NULL, 0, data, n, ret);

        size_t take = MIN(n, sizeof(x->in) - x->in_len);
        memcpy(x->in + x->in_len, data, take);
        x->in_len += take;
        r = cgi_head_parser_feed(&x->parser, x->in, x->in_len);
        if (r < 0)
                return exchange_fail(x, r, x->parser.error);
        if (r == 0)
                return CGI_EXCHANGE_AGAIN; /* in[] has room: the parser refuses a head before it fills */

        r = exchange_build_head(x);
        if (r < 0)
                return r;
        output_push(ret, x->out, x->out_len);
        if (x->done && x->mode == CGI_BODY_NONE)
                return CGI_EXCHANGE_DONE;
        return exchange_body(x, x->in + x->head.head_len, x->in_len - x->head.head_len, data + take, n - take, ret);
}

int cgi_exchange_eof(CgiExchange *x, CgiOutput *ret) {
        *ret = (CgiOutput) {};
        if (x->result < 0)
                /* Too much output still made a complete response. */
                return x->result == -EMSGSIZE || x->result == -EALREADY ? CGI_EXCHANGE_DONE : x->result;
        if (!x->head_sent) {
                int r = cgi_head_parser_eof(&x->parser);
                return exchange_fail(x, r < 0 ? r : -ENODATA, x->parser.error);
        }
        if (x->done)
                return CGI_EXCHANGE_DONE;
        if (x->mode == CGI_BODY_LENGTH && x->remaining > 0)
                return exchange_fail(x, -EPIPE, "script output shorter than its Content-Length");
        if (x->mode == CGI_BODY_CHUNKED)
                output_push(ret, last_chunk, sizeof(last_chunk) - 1);
        x->done = true;
        return CGI_EXCHANGE_DONE;
}

bool cgi_exchange_head_sent(const CgiExchange *x) {
        return x->head_sent;
}

int cgi_exchange_status(const CgiExchange *x) {
        return x->status;
}

bool cgi_exchange_keep_alive(const CgiExchange *x) {
        return x->keep_alive && x->result != -EPIPE;
}

uint64_t cgi_exchange_body_bytes(const CgiExchange *x) {
        return x->body_bytes;
}

const char *cgi_exchange_error(const CgiExchange *x) {
        return x->error;
}

size_t cgi_continue_response(const HttpRequestHead *h, const char **ret) {
        return http_continue_line(h, ret);
}
