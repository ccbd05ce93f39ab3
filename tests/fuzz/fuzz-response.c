/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the parser's response mode, the framing decision and the chunked decoder over
 * what follows the head. The first byte picks the request method (GET, HEAD, CONNECT, POST); the
 * rest is the upstream's answer, parsed whole and byte by byte (both must agree). A DONE head's
 * spans lie inside the input, and every shorter prefix of it, parsed fresh, is AGAIN. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void span_check(HttpSpan s, size_t size) {
        if ((uint64_t) s.off + s.len > size)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static HttpHeader h1[100], h2[100], h3[100];
        static const HttpMethod methods[4] = { HTTP_METHOD_GET, HTTP_METHOD_HEAD, HTTP_METHOD_CONNECT,
                                               HTTP_METHOD_POST };
        const HttpParserLimits limits = { .request_line = 8190, .field_size = 8190, .fields = 100 };
        HttpResponseHead a, b, c;
        HttpParser p, q, r;
        int whole, split = HTTP_PARSE_AGAIN;

        if (size < 1 || size > 65536)
                return 0;
        HttpMethod method = methods[data[0] & 3];
        const char *buf = (const char *) data + 1;
        size--;

        http_parser_init_response(&p, &a, h1, &limits);
        whole = http_parser_feed(&p, buf, size);
        if (whole != HTTP_PARSE_AGAIN && whole != HTTP_PARSE_DONE && whole != -502)
                abort();
        if (whole < 0 && !p.error)
                abort();

        http_parser_init_response(&q, &b, h2, &limits);
        for (size_t n = 1; n <= size && split == HTTP_PARSE_AGAIN; n++)
                split = http_parser_feed(&q, buf, n);
        if (size == 0)
                split = whole;
        if (whole != split)
                abort();
        if (whole != HTTP_PARSE_DONE)
                return 0;

        if (a.head_len > size || a.head_len != b.head_len || a.n_headers != b.n_headers || a.status != b.status)
                abort();
        if (a.status < 100 || a.status > 599 || a.version_minor > 1)
                abort();
        span_check(a.reason, a.head_len);
        for (uint32_t i = 0; i < a.n_headers; i++) {
                span_check(a.headers[i].name, a.head_len);
                span_check(a.headers[i].value, a.head_len);
        }
        /* Any prefix of a DONE head is AGAIN: all of them when short, else the longest. */
        for (size_t k = a.head_len < 512 ? 0 : a.head_len - 1; k < a.head_len; k++) {
                http_parser_init_response(&r, &c, h3, &limits);
                if (http_parser_feed(&r, buf, k) != HTTP_PARSE_AGAIN)
                        abort();
        }

        HttpResponseFraming f;
        const char *why = NULL;
        int fr = http_response_framing(method, &a, &f, &why);
        if (fr != 0 && (fr != -EBADMSG || !why))
                abort();
        if (fr == 0 && a.has_content_length && a.chunked)
                abort();
        if (fr != 0)
                return 0;

        size_t rest = size - a.head_len;
        if (f.kind == HTTP_UPSTREAM_BODY_LENGTH) {
                bool after;
                uint64_t take = http_response_body_take(f.length, rest, &after);

                if (take > rest || after != (f.length < rest))
                        abort();
        } else if (f.kind == HTTP_UPSTREAM_BODY_CHUNKED) {
                char *copy = malloc(rest + 1);
                HttpChunked d;
                size_t consumed = 0, out = 0;

                if (!copy)
                        return 0;
                memcpy(copy, buf + a.head_len, rest);
                http_chunked_init(&d);
                int cr = http_chunked_feed(&d, &limits, copy, rest, &consumed, &out);
                if (consumed > rest || out > consumed || cr > 1 || (cr < 0 && !d.error))
                        abort();
                free(copy);
        }
        return 0;
}
