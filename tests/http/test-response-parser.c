/* SPDX-License-Identifier: MIT */
/* Tests of the parser's response mode (an upstream's head, for the reverse proxy): a table of
 * responses, each also fed at every split point and one byte at a time; the framing decision of
 * RFC 9112 §6.3 by method and status; the bytes-after-the-end rule; chunked response bodies. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/macro.h"
#include "http/parser.h"

static const HttpParserLimits table_limits = { .request_line = 64, .field_size = 64, .fields = 8 };
static const HttpParserLimits default_limits = { .request_line = 8190, .field_size = 8190, .fields = 100 };

#define MAX_FIELDS 128

typedef struct RCase {
        char name[48];
        char resp[400];
        uint32_t len;
        int expect; /* HTTP_PARSE_DONE or -502 */
        uint8_t minor;
        uint16_t status;
        char reason[32];
        bool has_cl;
        uint64_t cl;
        bool chunked, close, keep_alive, upgrade;
        uint32_t n_headers;
        char reason_error[64]; /* for failures: parser->error, when the case pins it */
} RCase;

#define RESP(s) .resp = s, .len = sizeof(s) - 1
#define RFAIL(n, s, why) { .name = n, RESP(s), .expect = -502, .reason_error = why }
#define CL(n) .has_cl = true, .cl = (n)

static RCase cases[] = {
        { .name = "200 with length", RESP("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), .expect = 1, .minor = 1,
          .status = 200, .reason = "OK", CL(5), .n_headers = 1 },
        { .name = "HTTP/1.0", RESP("HTTP/1.0 404 Not Found\r\n\r\n"), .expect = 1, .minor = 0, .status = 404,
          .reason = "Not Found" },
        { .name = "empty reason", RESP("HTTP/1.1 204 \r\n\r\n"), .expect = 1, .minor = 1, .status = 204 },
        { .name = "reason with spaces and tab", RESP("HTTP/1.1 500 Internal \tServer  Error\r\nX: y\r\n\r\n"),
          .expect = 1, .minor = 1, .status = 500, .reason = "Internal \tServer  Error", .n_headers = 1 },
        { .name = "obs-text reason", RESP("HTTP/1.1 200 D\xc3\xa9j\xc3\xa0\r\n\r\n"), .expect = 1, .minor = 1,
          .status = 200, .reason = "D\xc3\xa9j\xc3\xa0" },
        { .name = "chunked", RESP("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), .expect = 1,
          .minor = 1, .status = 200, .reason = "OK", .chunked = true, .n_headers = 1 },
        { .name = "chunked, empty elements", RESP("HTTP/1.1 200 OK\r\nTransfer-Encoding: , Chunked,\r\n\r\n"),
          .expect = 1, .minor = 1, .status = 200, .reason = "OK", .chunked = true, .n_headers = 1 },
        { .name = "identical CL list", RESP("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\n"),
          .expect = 1, .minor = 1, .status = 200, .reason = "OK", CL(3), .n_headers = 2 },
        { .name = "close and keep-alive", RESP("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n"), .expect = 1,
          .status = 200, .reason = "OK", .keep_alive = true, .n_headers = 1 },
        { .name = "Connection close", RESP("HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n"), .expect = 1,
          .minor = 1, .status = 200, .reason = "OK", .close = true, .n_headers = 1 },
        { .name = "101 upgrade", RESP("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                      "Connection: Upgrade\r\n\r\n"),
          .expect = 1, .minor = 1, .status = 101, .reason = "Switching Protocols", .upgrade = true,
          .n_headers = 2 },
        { .name = "100 continue", RESP("HTTP/1.1 100 Continue\r\n\r\n"), .expect = 1, .minor = 1, .status = 100,
          .reason = "Continue" },
        { .name = "599", RESP("HTTP/1.1 599 x\r\n\r\n"), .expect = 1, .minor = 1, .status = 599, .reason = "x" },
        { .name = "304 with CL", RESP("HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n"), .expect = 1,
          .minor = 1, .status = 304, .reason = "Not Modified", CL(1234), .n_headers = 1 },
        { .name = "CL 19 digits", RESP("HTTP/1.1 200 OK\r\nContent-Length: 9999999999999999999\r\n\r\n"),
          .expect = 1, .minor = 1, .status = 200, .reason = "OK", CL(UINT64_C(9999999999999999999)),
          .n_headers = 1 },

        /* Status line. */
        RFAIL("HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n", "invalid HTTP version in status line"),
        RFAIL("HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", "invalid HTTP version in status line"),
        RFAIL("HTTP/0.9", "HTTP/0.9 200 OK\r\n\r\n", "invalid HTTP version in status line"),
        RFAIL("lowercase version", "http/1.1 200 OK\r\n\r\n", "invalid HTTP version in status line"),
        RFAIL("HTTP/1.11", "HTTP/1.11 200 OK\r\n\r\n", "no space after the HTTP version"),
        RFAIL("leading empty line", "\r\nHTTP/1.1 200 OK\r\n\r\n", "invalid HTTP version in status line"),
        RFAIL("a body, no head", "<html>\r\n\r\n", "invalid HTTP version in status line"),
        RFAIL("status 99", "HTTP/1.1 99 OK\r\n\r\n", "invalid status code"),
        RFAIL("status 099", "HTTP/1.1 099 OK\r\n\r\n", "status code out of range"),
        RFAIL("status 600", "HTTP/1.1 600 OK\r\n\r\n", "status code out of range"),
        RFAIL("status abc", "HTTP/1.1 abc OK\r\n\r\n", "invalid status code"),
        RFAIL("status 2000", "HTTP/1.1 2000 OK\r\n\r\n", "invalid status code"),
        RFAIL("two spaces before status", "HTTP/1.1  200 OK\r\n\r\n", "invalid status code"),
        RFAIL("no reason SP", "HTTP/1.1 200\r\n\r\n", "no space after the status code"),
        RFAIL("CTL in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", "invalid byte in reason phrase"),
        RFAIL("DEL in reason", "HTTP/1.1 200 OK\x7f\r\n\r\n", "invalid byte in reason phrase"),
        RFAIL("NUL in reason", "HTTP/1.1 200 O\0K\r\n\r\n", "invalid byte in reason phrase"),
        RFAIL("bare LF status line", "HTTP/1.1 200 OK\nX: y\r\n\r\n", "bare LF in response head"),
        RFAIL("bare CR status line", "HTTP/1.1 200 OK\rX: y\r\n\r\n", "bare CR in response head"),
        RFAIL("status line too long",
              "HTTP/1.1 200 0123456789012345678901234567890123456789012345678901234567\r\n\r\n",
              "status line too long"),

        /* Field lines: the request parser's states. */
        RFAIL("obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "obsolete line folding in header"),
        RFAIL("space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n",
              "whitespace between header name and colon"),
        RFAIL("no colon", "HTTP/1.1 200 OK\r\nX\r\n\r\n", "header line without colon"),
        RFAIL("NUL in value", "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", "invalid byte in header value"),
        RFAIL("bare LF at end", "HTTP/1.1 200 OK\r\nX: a\r\n\n", "bare LF in response head"),
        RFAIL("field too long", "HTTP/1.1 200 OK\r\nX: 01234567890123456789012345678901234567890123456789"
                                "012345678901\r\n\r\n", "header field too long"),
        RFAIL("too many fields", "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\n"
                                 "H: 8\r\nI: 9\r\n\r\n", "too many header fields"),

        /* Framing: the smuggling and splitting cases. */
        RFAIL("CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
              "both Content-Length and Transfer-Encoding"),
        RFAIL("TE and CL", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
              "both Content-Length and Transfer-Encoding"),
        RFAIL("two different CLs", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
              "conflicting Content-Length values"),
        RFAIL("CL list 5, 6", "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", "conflicting Content-Length values"),
        RFAIL("CL -1", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"),
        RFAIL("CL +1", "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n", "invalid Content-Length"),
        RFAIL("CL 20 digits", "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n",
              "invalid Content-Length"),
        RFAIL("CL empty", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", "invalid Content-Length"),
        RFAIL("CL hex", "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", "invalid Content-Length"),
        RFAIL("TE chunked, gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
              "transfer coding other than chunked"),
        RFAIL("TE gzip, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
              "transfer coding other than chunked"),
        RFAIL("TE gzip then chunked fields", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
                                             "Transfer-Encoding: chunked\r\n\r\n",
              "transfer coding other than chunked"),
        RFAIL("TE identity", "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n",
              "transfer coding other than chunked"),
        RFAIL("TE chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
              "chunked applied more than once"),
        RFAIL("TE empty", "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n", "empty Transfer-Encoding"),
        RFAIL("TE quoted", "HTTP/1.1 200 OK\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", "malformed Transfer-Encoding"),
        RFAIL("TE in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
              "Transfer-Encoding in an HTTP/1.0 response"),
        RFAIL("Connection malformed", "HTTP/1.1 200 OK\r\nConnection: close;x\r\n\r\n", "malformed Connection"),
};

ParameterizedTestParameters(response, table) {
        return cr_make_param_array(RCase, cases, ELEMENTSOF(cases));
}

typedef struct Parsed {
        HttpParser p;
        HttpResponseHead head;
        HttpHeader headers[MAX_FIELDS];
        int r;
} Parsed;

static void parsed_init(Parsed *x, const HttpParserLimits *limits) {
        http_parser_init_response(&x->p, &x->head, x->headers, limits);
}

static char *dup_exact(const char *s, size_t n) {
        char *b = malloc(n ? n : 1);

        cr_assert_not_null(b);
        memcpy(b, s, n);
        return b;
}

static void assert_span(const char *buf, HttpSpan s, const char *expect, const char *what, const char *name) {
        cr_assert_eq(s.len, strlen(expect), "%s: %s length %u, expected \"%s\"", name, what, s.len, expect);
        cr_assert(memcmp(buf + s.off, expect, s.len) == 0, "%s: %s is \"%.*s\", expected \"%s\"", name, what,
                  (int) s.len, buf + s.off, expect);
}

static void assert_case(const RCase *c, const char *buf, const Parsed *x) {
        const HttpResponseHead *h = &x->head;

        cr_assert_eq(x->r, c->expect, "%s: got %d, expected %d (%s)", c->name, x->r, c->expect,
                     x->p.error ? x->p.error : "no error");
        if (c->expect < 0) {
                cr_assert_not_null(x->p.error, "%s: no reason given", c->name);
                if (c->reason_error[0])
                        cr_assert_str_eq(x->p.error, c->reason_error, "%s: reason \"%s\"", c->name, x->p.error);
                return;
        }
        cr_assert_null(x->p.error);
        cr_assert_eq(h->version_minor, c->minor, "%s: version", c->name);
        cr_assert_eq(h->status, c->status, "%s: status %u", c->name, h->status);
        assert_span(buf, h->reason, c->reason, "reason", c->name);
        cr_assert_eq(h->head_len, c->len, "%s: head_len %u, expected %u", c->name, h->head_len, c->len);
        cr_assert_eq(h->has_content_length, c->has_cl, "%s: has_content_length", c->name);
        if (c->has_cl)
                cr_assert_eq(h->content_length, c->cl, "%s: content_length", c->name);
        cr_assert_eq(h->chunked, c->chunked, "%s: chunked", c->name);
        cr_assert_eq(h->conn_close, c->close, "%s: conn_close", c->name);
        cr_assert_eq(h->conn_keep_alive, c->keep_alive, "%s: conn_keep_alive", c->name);
        cr_assert_eq(h->conn_upgrade, c->upgrade, "%s: conn_upgrade", c->name);
        cr_assert_eq(h->n_headers, c->n_headers, "%s: n_headers %u", c->name, h->n_headers);
        for (uint32_t i = 0; i < h->n_headers; i++)
                cr_assert_leq((uint64_t) h->headers[i].value.off + h->headers[i].value.len, c->len);
}

static void assert_same(const RCase *c, const Parsed *a, const Parsed *b, const char *how) {
        cr_assert_eq(a->r, b->r, "%s: %s gives %d, whole gives %d", c->name, how, b->r, a->r);
        if (a->r != HTTP_PARSE_DONE) {
                cr_assert_str_eq(a->p.error, b->p.error, "%s: %s gives another reason", c->name, how);
                return;
        }
        HttpResponseHead ha = a->head, hb = b->head;
        ha.headers = hb.headers = NULL;
        cr_assert(memcmp(&ha, &hb, sizeof ha) == 0, "%s: %s gives a different head", c->name, how);
        cr_assert(memcmp(a->headers, b->headers, sizeof(HttpHeader) * a->head.n_headers) == 0,
                  "%s: %s gives different fields", c->name, how);
}

ParameterizedTest(RCase *c, response, table) {
        _cleanup_free_ char *buf = dup_exact(c->resp, c->len);
        _cleanup_free_ Parsed *whole = calloc(1, sizeof(Parsed)), *part = calloc(1, sizeof(Parsed));

        cr_assert(whole && part);
        parsed_init(whole, &table_limits);
        whole->r = http_parser_feed(&whole->p, buf, c->len);
        assert_case(c, buf, whole);
        cr_assert_eq(http_parser_feed(&whole->p, buf, c->len), whole->r, "%s: result not sticky", c->name);

        for (uint32_t k = 0; k <= c->len; k++) {
                char what[32];

                parsed_init(part, &table_limits);
                part->r = http_parser_feed(&part->p, buf, k);
                /* Any prefix of a complete head is incomplete, never DONE. */
                cr_assert(part->r == HTTP_PARSE_AGAIN || (part->r == whole->r && (part->r < 0 || k == c->len)),
                          "%s: first %u bytes give %d", c->name, k, part->r);
                if (part->r == HTTP_PARSE_AGAIN)
                        part->r = http_parser_feed(&part->p, buf, c->len);
                snprintf(what, sizeof what, "split at %u", k);
                assert_same(c, whole, part, what);
        }

        parsed_init(part, &table_limits);
        part->r = HTTP_PARSE_AGAIN;
        for (uint32_t n = 1; n <= c->len && part->r == HTTP_PARSE_AGAIN; n++) {
                _cleanup_free_ char *prefix = dup_exact(c->resp, n);

                part->r = http_parser_feed(&part->p, prefix, n);
        }
        assert_same(c, whole, part, "byte by byte");
}

Test(response, request_mode_unchanged) {
        /* A response fed to the request parser is not a request, and the other way round. */
        static const char resp[] = "HTTP/1.1 200 OK\r\n\r\n", req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        HttpParser p;
        HttpRequestHead rq;
        HttpHeader f[8];
        _cleanup_free_ Parsed *x = calloc(1, sizeof(Parsed));

        http_parser_init(&p, &rq, f, &table_limits);
        cr_assert_eq(http_parser_feed(&p, resp, sizeof resp - 1), -400);
        cr_assert_null(p.response);
        parsed_init(x, &table_limits);
        cr_assert_eq(http_parser_feed(&x->p, req, sizeof req - 1), -502);
        cr_assert_null(x->p.head);
}

Test(response, find_field) {
        static const char resp[] = "HTTP/1.1 302 Found\r\nLocation: /x\r\nlocation: /y\r\n\r\nbody";
        _cleanup_free_ Parsed *x = calloc(1, sizeof(Parsed));
        const HttpHeader *f;

        parsed_init(x, &default_limits);
        cr_assert_eq(http_parser_feed(&x->p, resp, sizeof resp - 1), HTTP_PARSE_DONE);
        cr_assert_eq(x->head.head_len, sizeof resp - 1 - 4, "the body is not part of the head");
        f = http_response_find(&x->head, resp, "LOCATION");
        cr_assert_not_null(f);
        assert_span(resp, f->value, "/x", "first match", "find");
        cr_assert_null(http_response_find(&x->head, resp, "Content-Location"));
}

Test(response, long_field_cut_off_early) {
        size_t len = 64 * 1024;
        _cleanup_free_ char *s = malloc(len);
        _cleanup_free_ Parsed *x = calloc(1, sizeof(Parsed));
        int r = HTTP_PARSE_AGAIN;
        size_t fed = 0;

        cr_assert_not_null(s);
        memcpy(s, "HTTP/1.1 200 OK\r\nX: ", 20);
        memset(s + 20, 'v', len - 20);
        parsed_init(x, &default_limits);
        for (fed = 1024; fed <= len && r == HTTP_PARSE_AGAIN; fed += 1024)
                r = http_parser_feed(&x->p, s, fed);
        cr_assert_eq(r, -502);
        cr_assert_str_eq(x->p.error, "header field too long");
        cr_assert_leq(fed, 17 + default_limits.field_size + 2048, "rejected only after %zu bytes", fed);
}

/* 1xx: DONE with the interim status; the final head is parsed after it, from head_len on. */
Test(response, interim_then_final) {
        static const char resp[] = "HTTP/1.1 100 Continue\r\n\r\n"
                                   "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
                                   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        _cleanup_free_ Parsed *x = calloc(1, sizeof(Parsed));
        HttpResponseFraming f;
        const char *buf = resp;
        size_t len = sizeof resp - 1;
        unsigned interim = 0;

        for (;;) {
                parsed_init(x, &default_limits);
                cr_assert_eq(http_parser_feed(&x->p, buf, len), HTTP_PARSE_DONE, "%s", x->p.error);
                cr_assert_eq(http_response_framing(HTTP_METHOD_POST, &x->head, &f, NULL), 0);
                if (f.kind != HTTP_UPSTREAM_BODY_INTERIM)
                        break;
                interim++;
                buf += x->head.head_len;
                len -= x->head.head_len;
        }
        cr_assert_eq(interim, 2);
        cr_assert_eq(x->head.status, 200);
        cr_assert_eq(f.kind, HTTP_UPSTREAM_BODY_LENGTH);
        cr_assert_eq(f.length, 2);
        cr_assert_eq(len - x->head.head_len, 2);
}

/* ---- the framing decision ---- */

typedef struct FCase {
        char name[48];
        HttpMethod method;
        char resp[200];
        int kind; /* HttpUpstreamBody, or -1: the parser or the framing refuses (502) */
        uint64_t length;
        bool reusable;
} FCase;

#define FAILS -1

static FCase framing_cases[] = {
        { "GET 200 length", HTTP_METHOD_GET, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
          HTTP_UPSTREAM_BODY_LENGTH, 10, true },
        { "GET 200 length 0", HTTP_METHOD_GET, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
          HTTP_UPSTREAM_BODY_LENGTH, 0, true },
        { "GET 200 chunked", HTTP_METHOD_GET, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
          HTTP_UPSTREAM_BODY_CHUNKED, 0, true },
        { "GET 200 close-delimited", HTTP_METHOD_GET, "HTTP/1.1 200 OK\r\n\r\n", HTTP_UPSTREAM_BODY_CLOSE, 0, false },
        { "1.1 Connection close", HTTP_METHOD_GET, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n",
          HTTP_UPSTREAM_BODY_LENGTH, 1, false },
        { "1.0 length", HTTP_METHOD_GET, "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", HTTP_UPSTREAM_BODY_LENGTH, 1,
          false },
        { "1.0 keep-alive length", HTTP_METHOD_GET, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
                                                    "Content-Length: 1\r\n\r\n",
          HTTP_UPSTREAM_BODY_LENGTH, 1, true },
        { "1.0 keep-alive no length", HTTP_METHOD_GET, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n",
          HTTP_UPSTREAM_BODY_CLOSE, 0, false },
        { "HEAD with length", HTTP_METHOD_HEAD, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
          HTTP_UPSTREAM_BODY_NONE, 0, true },
        { "HEAD chunked", HTTP_METHOD_HEAD, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
          HTTP_UPSTREAM_BODY_NONE, 0, true },
        { "HEAD no length", HTTP_METHOD_HEAD, "HTTP/1.1 200 OK\r\n\r\n", HTTP_UPSTREAM_BODY_NONE, 0, true },
        { "204", HTTP_METHOD_DELETE, "HTTP/1.1 204 No Content\r\n\r\n", HTTP_UPSTREAM_BODY_NONE, 0, true },
        { "204 with CL 0", HTTP_METHOD_GET, "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
          HTTP_UPSTREAM_BODY_NONE, 0, true },
        { "204 chunked", HTTP_METHOD_GET, "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n", FAILS },
        { "304 with a body-looking CL", HTTP_METHOD_GET, "HTTP/1.1 304 Not Modified\r\nContent-Length: 500\r\n\r\n",
          HTTP_UPSTREAM_BODY_NONE, 0, true },
        { "100 interim", HTTP_METHOD_PUT, "HTTP/1.1 100 Continue\r\n\r\n", HTTP_UPSTREAM_BODY_INTERIM, 0, true },
        { "103 interim", HTTP_METHOD_GET, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
          HTTP_UPSTREAM_BODY_INTERIM, 0, true },
        { "100 chunked", HTTP_METHOD_PUT, "HTTP/1.1 100 Continue\r\nTransfer-Encoding: chunked\r\n\r\n", FAILS },
        { "101 switch", HTTP_METHOD_GET, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                         "Connection: upgrade\r\n\r\n",
          HTTP_UPSTREAM_BODY_SWITCH, 0, false },
        { "CONNECT 200", HTTP_METHOD_CONNECT, "HTTP/1.1 200 OK\r\n\r\n", FAILS },
        { "CONNECT 407", HTTP_METHOD_CONNECT, "HTTP/1.1 407 No\r\nContent-Length: 2\r\n\r\n",
          HTTP_UPSTREAM_BODY_LENGTH, 2, true },
        { "404 chunked to POST", HTTP_METHOD_POST, "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n",
          HTTP_UPSTREAM_BODY_CHUNKED, 0, true },
        { "CL and TE", HTTP_METHOD_GET, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
          FAILS },
        { "CL and TE on HEAD", HTTP_METHOD_HEAD, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                                                 "Transfer-Encoding: chunked\r\n\r\n", FAILS },
        { "conflicting CL", HTTP_METHOD_GET, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
          FAILS },
        { "chunked, gzip", HTTP_METHOD_GET, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", FAILS },
        { "TE identity", HTTP_METHOD_GET, "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n", FAILS },
};

ParameterizedTestParameters(framing, table) {
        return cr_make_param_array(FCase, framing_cases, ELEMENTSOF(framing_cases));
}

ParameterizedTest(FCase *c, framing, table) {
        _cleanup_free_ Parsed *x = calloc(1, sizeof(Parsed));
        HttpResponseFraming f;
        const char *why = NULL;
        int r;

        parsed_init(x, &default_limits);
        r = http_parser_feed(&x->p, c->resp, strlen(c->resp));
        if (r == HTTP_PARSE_DONE) {
                r = http_response_framing(c->method, &x->head, &f, &why);
                cr_assert(r == 0 || (r == -EBADMSG && why), "%s: framing gives %d", c->name, r);
        } else
                cr_assert_eq(r, -502, "%s: parser gives %d", c->name, r);

        if (c->kind == FAILS) {
                cr_assert_lt(r, 0, "%s: accepted as framing %d", c->name, r >= 0 ? (int) f.kind : -1);
                return;
        }
        cr_assert_eq(r, 0, "%s: refused (%s)", c->name, why ? why : x->p.error);
        cr_assert_eq((int) f.kind, c->kind, "%s: framing %d, expected %d", c->name, (int) f.kind, c->kind);
        cr_assert_eq(f.length, c->length, "%s: length", c->name);
        cr_assert_eq(f.reusable, c->reusable, "%s: reusable", c->name);
}

Test(framing, head_built_by_hand_is_checked_too) {
        HttpResponseHead h = { .version_minor = 1, .status = 200, .has_content_length = true, .chunked = true };
        HttpResponseFraming f;
        const char *why = NULL;

        cr_assert_eq(http_response_framing(HTTP_METHOD_GET, &h, &f, &why), -EBADMSG);
        cr_assert_str_eq(why, "both Content-Length and Transfer-Encoding");
        h = (HttpResponseHead) { .version_minor = 1, .status = 99 };
        cr_assert_eq(http_response_framing(HTTP_METHOD_GET, &h, &f, NULL), -EBADMSG);
}

/* ---- bytes after the end ---- */

Test(framing, bytes_after_a_length_body) {
        static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\n\r\n";
        _cleanup_free_ Parsed *x = calloc(1, sizeof(Parsed));
        HttpResponseFraming f;
        bool after;
        size_t avail;

        parsed_init(x, &default_limits);
        cr_assert_eq(http_parser_feed(&x->p, resp, sizeof resp - 1), HTTP_PARSE_DONE);
        cr_assert_eq(http_response_framing(HTTP_METHOD_GET, &x->head, &f, NULL), 0);
        cr_assert(f.reusable);
        avail = sizeof resp - 1 - x->head.head_len;
        cr_assert_eq(http_response_body_take(f.length, avail, &after), 5);
        cr_assert(after, "a second response nobody asked for is bytes after the end");

        /* Exactly the body: nothing after; in two reads, the second one ends it exactly. */
        cr_assert_eq(http_response_body_take(5, 5, &after), 5);
        cr_assert_not(after);
        cr_assert_eq(http_response_body_take(5, 3, &after), 3);
        cr_assert_not(after);
        cr_assert_eq(http_response_body_take(2, 2, &after), 2);
        cr_assert_not(after);
        /* After a body-less response (or a complete one) every byte is one too many. */
        cr_assert_eq(http_response_body_take(0, 1, &after), 0);
        cr_assert(after);
        cr_assert_eq(http_response_body_take(0, 0, &after), 0);
        cr_assert_not(after);
        cr_assert_eq(http_response_body_take(UINT64_MAX, 4096, &after), 4096);
        cr_assert_not(after);
}

/* ---- chunked response bodies: the request decoder, trailers and all ---- */

static int decode_body(const char *in, size_t len, const HttpParserLimits *limits, size_t step, size_t *ret_used,
                       char *out, size_t *ret_out, const char **ret_error) {
        _cleanup_free_ char *buf = malloc(len + 1);
        HttpChunked d;
        size_t have = 0, given = 0, used = 0, n_out = 0;
        int r = 0;

        cr_assert_not_null(buf);
        http_chunked_init(&d);
        while (r == 0 && given < len) {
                size_t piece = MIN(step, len - given), consumed, data;

                memcpy(buf + have, in + given, piece);
                have += piece;
                given += piece;
                r = http_chunked_feed(&d, limits, buf, have, &consumed, &data);
                memcpy(out + n_out, buf, data);
                n_out += data;
                used += consumed;
                memmove(buf, buf + consumed, have - consumed);
                have -= consumed;
        }
        *ret_used = used;
        *ret_out = n_out;
        *ret_error = d.error;
        return r;
}

Test(response_chunked, body_with_trailers_then_bytes_after_the_end) {
        static const char body[] = "4\r\nWiki\r\n6;note=\"x y\"\r\npedia \r\n0\r\nServer-Timing: db;dur=53\r\n"
                                   "X-Checksum: abc\r\n\r\nEXTRA";
        char out[64];

        for (size_t step = 1; step <= sizeof body - 1; step++) {
                size_t used, n;
                const char *why;
                int r = decode_body(body, sizeof body - 1, &default_limits, step, &used, out, &n, &why);

                cr_assert_eq(r, 1, "step %zu: %d (%s)", step, r, why);
                cr_assert_eq(n, 10);
                cr_assert(memcmp(out, "Wikipedia ", 10) == 0);
                /* What is left unconsumed after the end is bytes after the end: never relayed. */
                cr_assert_eq(sizeof body - 1 - used, 5, "step %zu: %zu left", step, sizeof body - 1 - used);
        }
}

typedef struct BodyCase {
        char name[40];
        char body[300];
        int expect;
        char reason[48];
} BodyCase;

static BodyCase body_cases[] = {
        { "hex overflow", "10000000000000000\r\n", -413, "chunk size too large" },
        { "2^63", "8000000000000000\r\n", -413, "chunk size too large" },
        { "0x10", "0x10\r\n0123456789abcdef\r\n0\r\n\r\n", -400, "invalid chunk size" },
        { "negative", "-1\r\nx\r\n0\r\n\r\n", -400, "invalid chunk size" },
        { "missing CRLF after data", "3\r\nabcd\r\n0\r\n\r\n", -400, "chunk data not followed by CRLF" },
        { "bare LF ending the body", "3\r\nabc\r\n0\r\n\n", -400, "bare LF in chunked body" },
        { "LF only", "3\nabc\r\n0\r\n\r\n", -400, "bare LF in chunked body" },
        { "ext without name", "3;=x\r\nabc\r\n0\r\n\r\n", -400, "invalid chunk extension" },
        { "ext bad quote", "3;a=\"x\r\nabc\r\n0\r\n\r\n", -400, "invalid chunk extension" },
        { "ext too long", "3;a=0123456789012345678901234567890123456789012345678901234567890123\r\nabc\r\n", -400,
          "chunk size line too long" },
        { "many extensions", "3;a;a;a;a;a;a;a;a;a;a;a;a;a;a;a;a;a;a;a;a;a;a;a;a;a;a;a;a;a;a;a;a\r\nabc\r\n", -400,
          "chunk size line too long" },
        { "trailer too long", "0\r\nX: 012345678901234567890123456789012345678901234567890123456789012\r\n\r\n",
          -431, "trailer field too long" },
        { "huge trailer section", "0\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\n\r\n",
          -431, "too many trailer fields" },
        { "trailer obs-fold", "0\r\nA: 1\r\n 2\r\n\r\n", -400, "obsolete line folding in trailer" },
};

ParameterizedTestParameters(response_chunked, bad) {
        return cr_make_param_array(BodyCase, body_cases, ELEMENTSOF(body_cases));
}

ParameterizedTest(BodyCase *c, response_chunked, bad) {
        size_t len = strlen(c->body);
        char out[400];

        for (size_t step = 1; step <= len; step++) {
                size_t used, n;
                const char *why;
                int r = decode_body(c->body, len, &table_limits, step, &used, out, &n, &why);

                cr_assert_eq(r, c->expect, "%s, step %zu: %d (%s)", c->name, step, r, why ? why : "-");
                cr_assert_str_eq(why, c->reason, "%s, step %zu: %s", c->name, step, why);
        }
}
