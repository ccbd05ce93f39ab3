/* SPDX-License-Identifier: MIT */
/* Tests of the CGI exchange: program output in, exact client bytes out — Content-Length passed
 * through, chunked framing on HTTP/1.1, close-delimited on HTTP/1.0, HEAD and 204, redirects,
 * refused heads, too much or too little body, reads split at every byte, and 100 Continue. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/cgi-exchange.h"
#include "http/cgi.h"
#include "shared/macro.h"

#define DATE "Sun, 06 Nov 1994 08:49:37 GMT"
#define SERVER "Server: mpmd\r\n"
#define HEAD_START(status) "HTTP/1.1 " status "\r\nDate: " DATE "\r\n" SERVER

typedef struct Sink {
        char buf[64 * 1024];
        size_t len;
} Sink;

static void sink_take(Sink *s, const CgiOutput *o) {
        size_t total = 0;

        for (int i = 0; i < o->n_iov; i++) {
                cr_assert_leq(s->len + o->iov[i].iov_len, sizeof(s->buf));
                memcpy(s->buf + s->len, o->iov[i].iov_base, o->iov[i].iov_len);
                s->len += o->iov[i].iov_len;
                total += o->iov[i].iov_len;
        }
        cr_assert_eq(total, o->len);
        s->buf[s->len] = 0;
}

static CgiExchange *exchange(uint8_t minor, bool head_only, bool keep_alive) {
        CgiExchangeContext ctx = {
                .version_minor = minor,
                .head_only = head_only,
                .keep_alive = keep_alive,
                .date = DATE,
                .server_line = SERVER,
                .server_line_len = strlen(SERVER),
                .scheme = "http",
                .host = "www.example.org:8080",
                .host_len = strlen("www.example.org:8080"),
        };
        CgiExchange *x = cgi_exchange_new(&ctx);
        cr_assert_not_null(x);
        return x;
}

/* Feed the program's output in reads of at most step bytes (0: each piece given), then EOF; returns
 * the last result. Every output is appended to s. */
static int run(CgiExchange *x, const char *const *reads, size_t step, Sink *s) {
        CgiOutput o;
        int r = CGI_EXCHANGE_AGAIN;

        for (size_t i = 0; reads[i] && r == CGI_EXCHANGE_AGAIN; i++) {
                size_t len = strlen(reads[i]);
                size_t at = 0;
                do {
                        size_t n = step == 0 ? len - at : MIN(step, len - at);
                        r = cgi_exchange_feed(x, reads[i] + at, n, &o);
                        if (r >= 0 || r == -EMSGSIZE)
                                sink_take(s, &o);
                        at += n;
                } while (at < len && r == CGI_EXCHANGE_AGAIN);
        }
        if (r == CGI_EXCHANGE_AGAIN) {
                r = cgi_exchange_eof(x, &o);
                if (r >= 0)
                        sink_take(s, &o);
        }
        return r;
}

#define READS(...) ((const char *const[]) { __VA_ARGS__, NULL })

Test(cgi_exchange, chunked_on_http11) {
        CgiExchange *x = exchange(1, false, true);
        Sink s = {};

        cr_assert_eq(run(x, READS("Content-Type: text/plain\r\n\r\nhel", "lo world", "!"), 0, &s),
                     CGI_EXCHANGE_DONE);
        cr_assert_str_eq(s.buf, HEAD_START("200 OK") "Content-Type: text/plain\r\n"
                                                     "Transfer-Encoding: chunked\r\n\r\n"
                                                     "3\r\nhel\r\n"
                                                     "8\r\nlo world\r\n"
                                                     "1\r\n!\r\n"
                                                     "0\r\n\r\n");
        cr_assert_eq(cgi_exchange_status(x), 200);
        cr_assert(cgi_exchange_keep_alive(x));
        cr_assert_eq(cgi_exchange_body_bytes(x), 12);
        cr_assert_null(cgi_exchange_error(x));
        cgi_exchange_free(x);
}

Test(cgi_exchange, content_length_passed_through) {
        CgiExchange *x = exchange(1, false, true);
        Sink s = {};

        /* DONE as soon as the length is reached, before EOF. */
        cr_assert_eq(run(x, READS("Status: 201 Created\nContent-Length: 5\nContent-Type: a/b\nX-Y: z\n\nab", "cde"),
                         0, &s),
                     CGI_EXCHANGE_DONE);
        cr_assert_str_eq(s.buf, HEAD_START("201 Created") "Content-Type: a/b\r\nX-Y: z\r\n"
                                                          "Content-Length: 5\r\n\r\nabcde");
        cr_assert_eq(cgi_exchange_status(x), 201);
        cgi_exchange_free(x);
}

Test(cgi_exchange, close_delimited_on_http10) {
        CgiExchange *x = exchange(0, false, true);
        Sink s = {};

        cr_assert_eq(run(x, READS("Content-Type: text/plain\n\none ", "two"), 0, &s), CGI_EXCHANGE_DONE);
        cr_assert_str_eq(s.buf, HEAD_START("200 OK") "Content-Type: text/plain\r\nConnection: close\r\n\r\none two");
        cr_assert_not(cgi_exchange_keep_alive(x));
        cgi_exchange_free(x);
}

Test(cgi_exchange, http10_keep_alive_with_length) {
        CgiExchange *x = exchange(0, false, true);
        Sink s = {};

        cr_assert_eq(run(x, READS("Content-Type: a\nContent-Length: 2\n\nok"), 0, &s), CGI_EXCHANGE_DONE);
        cr_assert_str_eq(s.buf, HEAD_START("200 OK") "Content-Type: a\r\nContent-Length: 2\r\n"
                                                     "Connection: keep-alive\r\n\r\nok");
        cr_assert(cgi_exchange_keep_alive(x));
        cgi_exchange_free(x);
}

Test(cgi_exchange, caller_says_close) {
        CgiExchange *x = exchange(1, false, false);
        Sink s = {};

        cr_assert_eq(run(x, READS("Content-Type: a\n\nz"), 0, &s), CGI_EXCHANGE_DONE);
        cr_assert_str_eq(s.buf, HEAD_START("200 OK") "Content-Type: a\r\nTransfer-Encoding: chunked\r\n"
                                                     "Connection: close\r\n\r\n1\r\nz\r\n0\r\n\r\n");
        cr_assert_not(cgi_exchange_keep_alive(x));
        cgi_exchange_free(x);
}

Test(cgi_exchange, head_request_gets_the_head_only) {
        CgiExchange *x = exchange(1, true, true);
        Sink s = {};
        CgiOutput o;

        cr_assert_eq(run(x, READS("Content-Type: text/plain\n\nbody that must not be sent"), 0, &s),
                     CGI_EXCHANGE_DONE);
        cr_assert_str_eq(s.buf, HEAD_START("200 OK") "Content-Type: text/plain\r\n"
                                                     "Transfer-Encoding: chunked\r\n\r\n");
        /* More output is dropped. */
        cr_assert_eq(cgi_exchange_feed(x, "more", 4, &o), CGI_EXCHANGE_DONE);
        cr_assert_eq(o.len, 0);
        cr_assert_eq(cgi_exchange_eof(x, &o), CGI_EXCHANGE_DONE);
        cr_assert_eq(o.len, 0);
        cgi_exchange_free(x);
}

Test(cgi_exchange, no_body_statuses) {
        CgiExchange *x = exchange(1, false, true);
        Sink s = {};

        cr_assert_eq(run(x, READS("Status: 204 No Content\nContent-Length: 3\n\nabc"), 0, &s), CGI_EXCHANGE_DONE);
        cr_assert_str_eq(s.buf, HEAD_START("204 No Content") "\r\n");
        cgi_exchange_free(x);

        x = exchange(1, false, true);
        s = (Sink) {};
        cr_assert_eq(run(x, READS("Status: 304\n\n"), 0, &s), CGI_EXCHANGE_DONE);
        cr_assert_str_eq(s.buf, HEAD_START("304 Not Modified") "\r\n");
        cgi_exchange_free(x);
}

Test(cgi_exchange, redirects) {
        CgiExchange *x = exchange(1, false, true);
        Sink s = {};

        cr_assert_eq(run(x, READS("Location: https://elsewhere.example/x\n\n"), 0, &s), CGI_EXCHANGE_DONE);
        cr_assert_str_eq(s.buf, HEAD_START("302 Found") "Location: https://elsewhere.example/x\r\n"
                                                        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
        cgi_exchange_free(x);

        /* A local path becomes absolute for the host the client asked for. */
        x = exchange(1, false, true);
        s = (Sink) {};
        cr_assert_eq(run(x, READS("Location: /new/place?q=1\nContent-Length: 0\n\n"), 0, &s), CGI_EXCHANGE_DONE);
        cr_assert_str_eq(s.buf, HEAD_START("302 Found") "Location: http://www.example.org:8080/new/place?q=1\r\n"
                                                        "Content-Length: 0\r\n\r\n");
        cgi_exchange_free(x);

        /* Status wins over the implied 302. */
        x = exchange(1, false, true);
        s = (Sink) {};
        cr_assert_eq(run(x, READS("Status: 301 Moved Permanently\nLocation: /x\nContent-Length: 0\n\n"), 0, &s),
                     CGI_EXCHANGE_DONE);
        cr_assert_str_eq(s.buf, HEAD_START("301 Moved Permanently") "Location: http://www.example.org:8080/x\r\n"
                                                                    "Content-Length: 0\r\n\r\n");
        cgi_exchange_free(x);
}

Test(cgi_exchange, status_without_reason_gets_ours) {
        CgiExchange *x = exchange(1, false, true);
        Sink s = {};

        cr_assert_eq(run(x, READS("Status: 404\nContent-Type: text/plain\nContent-Length: 0\n\n"), 0, &s),
                     CGI_EXCHANGE_DONE);
        cr_assert_str_eq(s.buf, HEAD_START("404 Not Found") "Content-Type: text/plain\r\nContent-Length: 0\r\n\r\n");
        cgi_exchange_free(x);
}

Test(cgi_exchange, too_much_body_is_refused) {
        CgiExchange *x = exchange(1, false, true);
        Sink s = {};
        CgiOutput o;

        cr_assert_eq(run(x, READS("Content-Type: a\nContent-Length: 3\n\nabcdef"), 0, &s), -EMSGSIZE);
        cr_assert_str_eq(s.buf, HEAD_START("200 OK") "Content-Type: a\r\nContent-Length: 3\r\n\r\nabc");
        cr_assert_str_eq(cgi_exchange_error(x), "script output exceeds its Content-Length");
        cr_assert_eq(cgi_exchange_feed(x, "x", 1, &o), -EALREADY);
        cr_assert_eq(o.len, 0);
        cr_assert_eq(cgi_exchange_eof(x, &o), CGI_EXCHANGE_DONE);
        cgi_exchange_free(x);

        /* The extra byte in a later read, after the length was reached. */
        x = exchange(1, false, true);
        s = (Sink) {};
        cr_assert_eq(run(x, READS("Content-Type: a\nContent-Length: 1\n\n", "a"), 0, &s), CGI_EXCHANGE_DONE);
        cr_assert_eq(cgi_exchange_feed(x, "b", 1, &o), -EALREADY);
        cr_assert_eq(o.len, 0);
        cgi_exchange_free(x);
}

Test(cgi_exchange, short_body_is_reported) {
        CgiExchange *x = exchange(1, false, true);
        Sink s = {};

        cr_assert_eq(run(x, READS("Content-Type: a\nContent-Length: 10\n\nabc"), 0, &s), -EPIPE);
        cr_assert_str_eq(s.buf, HEAD_START("200 OK") "Content-Type: a\r\nContent-Length: 10\r\n\r\nabc");
        cr_assert(cgi_exchange_head_sent(x));
        cr_assert_not(cgi_exchange_keep_alive(x), "a cut response must close the connection");
        cr_assert_str_eq(cgi_exchange_error(x), "script output shorter than its Content-Length");
        cgi_exchange_free(x);
}

Test(cgi_exchange, refused_heads_send_nothing) {
        static const struct {
                const char *out;
                int expect;
                const char *error;
        } cases[] = {
                { "Content-Type text/plain\n\nbody", -EBADMSG, "malformed header from script" },
                { "X-Only: 1\n\n", -EBADMSG, "malformed header from script" },
                { "Content-Type: text/plain\n", -ENODATA, "Premature end of script headers" },
                { "", -ENODATA, "Premature end of script headers" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                CgiExchange *x = exchange(1, false, true);
                Sink s = {};

                cr_assert_eq(run(x, READS(cases[i].out), 0, &s), cases[i].expect, "%zu", i);
                cr_assert_eq(s.len, 0, "%zu", i);
                cr_assert_not(cgi_exchange_head_sent(x));
                cr_assert_not_null(strstr(cgi_exchange_error(x), cases[i].error), "%zu", i);
                cgi_exchange_free(x);
        }
}

Test(cgi_exchange, head_over_the_limit) {
        CgiExchange *x = exchange(1, false, true);
        char *big = malloc(CGI_HEAD_MAX + 2);
        CgiOutput o;
        int r = 0;

        memset(big, 'a', CGI_HEAD_MAX + 1);
        memcpy(big, "X-Big: ", 7);
        big[CGI_HEAD_MAX + 1] = 0;
        /* In reads of 1000 bytes: refused once the limit is passed, without waiting for EOF. */
        for (size_t at = 0; at < CGI_HEAD_MAX + 1 && r == 0; at += 1000)
                r = cgi_exchange_feed(x, big + at, MIN((size_t) 1000, CGI_HEAD_MAX + 1 - at), &o);
        cr_assert_eq(r, -E2BIG);
        cr_assert_eq(o.len, 0);
        cr_assert_not(cgi_exchange_head_sent(x));
        cr_assert_eq(cgi_exchange_eof(x, &o), -E2BIG);
        free(big);
        cgi_exchange_free(x);
}

/* The bytes the client gets do not depend on where the program's reads end, except for chunk
 * boundaries: with Content-Length (no chunks) they are identical for every split. */
Test(cgi_exchange, split_at_every_byte) {
        static const char out[] = "Content-Type: text/plain\r\nContent-Length: 11\r\nX-A: b\r\n\r\nhello world";
        static const char want[] = HEAD_START("200 OK") "Content-Type: text/plain\r\nX-A: b\r\n"
                                                        "Content-Length: 11\r\n\r\nhello world";

        for (size_t step = 1; step <= sizeof(out); step++) {
                CgiExchange *x = exchange(1, false, true);
                Sink s = {};

                cr_assert_eq(run(x, READS(out), step, &s), CGI_EXCHANGE_DONE, "step %zu", step);
                cr_assert_str_eq(s.buf, want, "step %zu", step);
                cgi_exchange_free(x);
        }
        for (size_t split = 0; split <= sizeof(out) - 1; split++) {
                CgiExchange *x = exchange(1, false, true);
                char a[sizeof(out)], b[sizeof(out)];
                Sink s = {};

                memcpy(a, out, split);
                a[split] = 0;
                strcpy(b, out + split);
                const char *const reads[] = { a, b, NULL };
                cr_assert_eq(run(x, split == 0 ? reads + 1 : reads, 0, &s), CGI_EXCHANGE_DONE, "split %zu", split);
                cr_assert_str_eq(s.buf, want, "split %zu", split);
                cgi_exchange_free(x);
        }
}

/* Chunked, byte by byte: one chunk per read, the data intact. */
Test(cgi_exchange, chunked_byte_by_byte) {
        CgiExchange *x = exchange(1, false, true);
        Sink s = {};

        cr_assert_eq(run(x, READS("Content-Type: a\n\nxyz"), 1, &s), CGI_EXCHANGE_DONE);
        cr_assert_str_eq(s.buf, HEAD_START("200 OK") "Content-Type: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                                     "1\r\nx\r\n1\r\ny\r\n1\r\nz\r\n0\r\n\r\n");
        cgi_exchange_free(x);
}

Test(cgi_exchange, large_chunk_size_in_hex) {
        CgiExchange *x = exchange(1, false, true);
        char body[300];
        Sink s = {};
        CgiOutput o;

        memset(body, 'q', sizeof(body));
        cr_assert_eq(cgi_exchange_feed(x, "Content-Type: a\n\n", 17, &o), CGI_EXCHANGE_AGAIN);
        sink_take(&s, &o);
        cr_assert_eq(cgi_exchange_feed(x, body, sizeof(body), &o), CGI_EXCHANGE_AGAIN);
        sink_take(&s, &o);
        /* Zero-copy: the data iovec points into what was fed. */
        bool found = false;
        for (int i = 0; i < o.n_iov; i++)
                found = found || o.iov[i].iov_base == body;
        cr_assert(found);
        cr_assert_not_null(strstr(s.buf, "\r\n\r\n12c\r\nqqq"));
        cgi_exchange_free(x);
}

Test(cgi_exchange, continue_response) {
        static const HttpParserLimits limits = { .request_line = 8190, .field_size = 8190, .fields = 100 };
        HttpRequestHead h;
        HttpHeader fields[100];
        HttpParser p;
        const char *bytes;
        static const char r11[] = "POST /cgi-bin/x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
        static const char r10[] = "POST /cgi-bin/x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
        static const char plain[] = "POST /cgi-bin/x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n";

        http_parser_init(&p, &h, fields, &limits);
        cr_assert_eq(http_parser_feed(&p, r11, strlen(r11)), HTTP_PARSE_DONE);
        size_t n = cgi_continue_response(&h, &bytes);
        cr_assert_eq(n, strlen("HTTP/1.1 100 Continue\r\n\r\n"));
        cr_assert_eq(memcmp(bytes, "HTTP/1.1 100 Continue\r\n\r\n", n), 0);

        http_parser_init(&p, &h, fields, &limits);
        cr_assert_eq(http_parser_feed(&p, r10, strlen(r10)), HTTP_PARSE_DONE);
        cr_assert_eq(cgi_continue_response(&h, &bytes), 0);

        http_parser_init(&p, &h, fields, &limits);
        cr_assert_eq(http_parser_feed(&p, plain, strlen(plain)), HTTP_PARSE_DONE);
        cr_assert_eq(cgi_continue_response(&h, &bytes), 0);
}
