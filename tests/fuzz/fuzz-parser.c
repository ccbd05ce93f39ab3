/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the request-head parser and the chunked decoder. Each input is parsed whole
 * and byte by byte; both must agree (the parser is incremental), and a DONE head's spans must lie
 * inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static HttpHeader h1[100], h2[100];
        const HttpParserLimits limits = { .request_line = 8190, .field_size = 8190, .fields = 100 };
        HttpRequestHead a, b;
        HttpParser p, q;
        int whole, split = HTTP_PARSE_AGAIN;
        const char *buf = (const char *) data;

        if (size > 65536)
                return 0;
        http_parser_init(&p, &a, h1, &limits);
        whole = http_parser_feed(&p, buf, size);

        http_parser_init(&q, &b, h2, &limits);
        for (size_t n = 1; n <= size && split == HTTP_PARSE_AGAIN; n++)
                split = http_parser_feed(&q, buf, n);
        if (size == 0)
                split = whole;
        if (whole != split)
                abort();
        if (whole == HTTP_PARSE_DONE) {
                if (a.head_len > size || a.head_len != b.head_len || a.n_headers != b.n_headers)
                        abort();
                for (uint32_t i = 0; i < a.n_headers; i++)
                        if ((uint64_t) a.headers[i].value.off + a.headers[i].value.len > size)
                                abort();
        }

        /* The same bytes as a chunked body. */
        char *copy = malloc(size + 1);
        if (!copy)
                return 0;
        memcpy(copy, data, size);
        HttpChunked d;
        size_t consumed = 0, out = 0;
        http_chunked_init(&d);
        int r = http_chunked_feed(&d, &limits, copy, size, &consumed, &out);
        if (consumed > size || out > consumed || r > 1)
                abort();
        free(copy);
        return 0;
}
