/* SPDX-License-Identifier: MIT */
/* Tests of the request-head parser and the chunked decoder: a table of requests, each also fed at
 * every split point and one byte at a time; limits that must trip early; pipelining; chunked bodies
 * fed whole, split and byte by byte. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/macro.h"
#include "http/parser.h"

/* Small limits so the table can reach 414 and 431 with short requests. */
static const HttpParserLimits table_limits = { .request_line = 64, .field_size = 64, .fields = 8 };
/* Apache httpd's defaults. */
static const HttpParserLimits default_limits = { .request_line = 8190, .field_size = 8190, .fields = 100 };

#define MAX_FIELDS 128

/* Parameters are copied between processes by criterion, so everything is stored inline. */
typedef struct Case {
        char name[48];
        char req[400];
        uint32_t len;
        int expect; /* HTTP_PARSE_DONE or the negated status */
        HttpMethod method;
        uint8_t minor;
        HttpTargetForm form;
        char path[48];
        bool has_query;
        char query[32];
        char host[48]; /* "" → has_host must be false */
        bool has_cl;
        uint64_t cl;
        bool chunked, close, keep_alive, cont, expect_other;
        uint32_t n_headers;
        char field[24]; /* optional: a field to look up and its expected value */
        char value[48];
} Case;

#define REQ(s) .req = s, .len = sizeof(s) - 1
#define FAIL(n, s, status) { .name = n, REQ(s), .expect = -(status) }
#define H11 " HTTP/1.1\r\nHost: a\r\n"
#define CL(n) .has_cl = true, .cl = (n)

static Case cases[] = {
        /* Valid heads. */
        { .name = "simple GET", REQ("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), .expect = 1,
          .method = HTTP_METHOD_GET, .minor = 1, .path = "/", .host = "example.com", .n_headers = 1 },
        { .name = "path and query", REQ("GET /a/b%20c?x=1&y=2" H11 "\r\n"), .expect = 1, .method = HTTP_METHOD_GET,
          .minor = 1, .path = "/a/b%20c", .has_query = true, .query = "x=1&y=2", .host = "a",
          .n_headers = 1 },
        { .name = "empty query", REQ("GET /? HTTP/1.1\r\nHost: a\r\n\r\n"), .expect = 1, .method = HTTP_METHOD_GET,
          .minor = 1, .path = "/", .has_query = true, .host = "a", .n_headers = 1 },
        { .name = "HTTP/1.0 without Host", REQ("GET /x HTTP/1.0\r\n\r\n"), .expect = 1, .method = HTTP_METHOD_GET,
          .minor = 0, .path = "/x" },
        { .name = "HTTP/1.0 empty Host", REQ("GET / HTTP/1.0\r\nHost:\r\n\r\n"), .expect = 1,
          .method = HTTP_METHOD_GET, .path = "/", .n_headers = 1, .field = "host", .value = "" },
        { .name = "HTTP/1.2 served as 1.1", REQ("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), .expect = 1,
          .method = HTTP_METHOD_GET, .minor = 1, .path = "/", .host = "a", .n_headers = 1 },
        { .name = "leading empty lines", REQ("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), .expect = 1,
          .method = HTTP_METHOD_GET, .minor = 1, .path = "/", .host = "a", .n_headers = 1 },
        { .name = "lowercase method", REQ("get / HTTP/1.1\r\nHost: a\r\n\r\n"), .expect = 1,
          .method = HTTP_METHOD_UNKNOWN, .minor = 1, .path = "/", .host = "a", .n_headers = 1 },
        { .name = "unknown method", REQ("BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n"), .expect = 1,
          .method = HTTP_METHOD_UNKNOWN, .minor = 1, .path = "/pot", .host = "a", .n_headers = 1 },
        { .name = "HEAD", REQ("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"), .expect = 1, .method = HTTP_METHOD_HEAD,
          .minor = 1, .path = "/", .host = "a", .n_headers = 1 },
        { .name = "POST with length", REQ("POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"), .expect = 1,
          .method = HTTP_METHOD_POST, .minor = 1, .path = "/f", .host = "a", CL(5), .n_headers = 2 },
        { .name = "PUT zero length", REQ("PUT /f HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"), .expect = 1,
          .method = HTTP_METHOD_PUT, .minor = 1, .path = "/f", .host = "a", CL(0), .n_headers = 2 },
        { .name = "DELETE", REQ("DELETE /f HTTP/1.1\r\nHost: a\r\n\r\n"), .expect = 1, .method = HTTP_METHOD_DELETE,
          .minor = 1, .path = "/f", .host = "a", .n_headers = 1 },
        { .name = "TRACE", REQ("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n"), .expect = 1, .method = HTTP_METHOD_TRACE,
          .minor = 1, .path = "/", .host = "a", .n_headers = 1 },
        { .name = "PATCH", REQ("PATCH / HTTP/1.1\r\nHost: a\r\n\r\n"), .expect = 1, .method = HTTP_METHOD_PATCH,
          .minor = 1, .path = "/", .host = "a", .n_headers = 1 },
        { .name = "OPTIONS asterisk", REQ("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), .expect = 1,
          .method = HTTP_METHOD_OPTIONS, .minor = 1, .form = HTTP_TARGET_ASTERISK, .host = "a",
          .n_headers = 1 },
        { .name = "CONNECT authority", REQ("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
          .expect = 1, .method = HTTP_METHOD_CONNECT, .minor = 1, .form = HTTP_TARGET_AUTHORITY,
          .host = "example.com:443", .n_headers = 1 },
        { .name = "absolute wins over Host", REQ("GET http://example.com/x?y HTTP/1.1\r\nHost: other\r\n\r\n"),
          .expect = 1, .method = HTTP_METHOD_GET, .minor = 1, .form = HTTP_TARGET_ABSOLUTE, .path = "/x",
          .has_query = true, .query = "y", .host = "example.com", .n_headers = 1 },
        { .name = "absolute https no path", REQ("GET HTTPS://example.com:8443 HTTP/1.1\r\nHost: x\r\n\r\n"),
          .expect = 1, .method = HTTP_METHOD_GET, .minor = 1, .form = HTTP_TARGET_ABSOLUTE, .path = "",
          .host = "example.com:8443", .n_headers = 1 },
        { .name = "absolute without Host", REQ("GET http://[::1]:80/ HTTP/1.1\r\n\r\n"), .expect = 1,
          .method = HTTP_METHOD_GET, .minor = 1, .form = HTTP_TARGET_ABSOLUTE, .path = "/", .host = "[::1]:80",
          },
        { .name = "duplicate identical CL", REQ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n"
                                                "Content-Length: 7\r\n\r\n"),
          .expect = 1, .method = HTTP_METHOD_POST, .minor = 1, .path = "/", .host = "a", CL(7), .n_headers = 3 },
        { .name = "CL list identical", REQ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7 , 7\r\n\r\n"),
          .expect = 1, .method = HTTP_METHOD_POST, .minor = 1, .path = "/", .host = "a", CL(7), .n_headers = 2 },
        { .name = "CL 19 digits", REQ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9999999999999999999\r\n\r\n"),
          .expect = 1, .method = HTTP_METHOD_POST, .minor = 1, .path = "/", .host = "a",
          CL(UINT64_C(9999999999999999999)), .n_headers = 2 },
        { .name = "chunked", REQ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"), .expect = 1,
          .method = HTTP_METHOD_POST, .minor = 1, .path = "/", .host = "a", .chunked = true,
          .n_headers = 2 },
        { .name = "chunked uppercase", REQ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  CHUNKED \r\n\r\n"),
          .expect = 1, .method = HTTP_METHOD_POST, .minor = 1, .path = "/", .host = "a", .chunked = true,
          .n_headers = 2, .field = "transfer-encoding", .value = "CHUNKED" },
        { .name = "chunked, empty elements",
          REQ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked ,\r\n\r\n"),
          .expect = 1, .method = HTTP_METHOD_POST, .minor = 1, .path = "/", .host = "a", .chunked = true,
          .n_headers = 2 },
        { .name = "Connection close", REQ("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"), .expect = 1,
          .method = HTTP_METHOD_GET, .minor = 1, .path = "/", .host = "a", .close = true,
          .n_headers = 2 },
        { .name = "Connection keep-alive list", REQ("GET / HTTP/1.0\r\nConnection: Upgrade, Keep-Alive\r\n\r\n"),
          .expect = 1, .method = HTTP_METHOD_GET, .path = "/", .keep_alive = true, .n_headers = 1 },
        { .name = "Expect 100-continue", REQ("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
                                             "Content-Length: 3\r\n\r\n"),
          .expect = 1, .method = HTTP_METHOD_PUT, .minor = 1, .path = "/", .host = "a", CL(3), .cont = true,
          .n_headers = 3 },
        { .name = "Expect other", REQ("GET / HTTP/1.1\r\nHost: a\r\nExpect: tea\r\n\r\n"), .expect = 1,
          .method = HTTP_METHOD_GET, .minor = 1, .path = "/", .host = "a", .expect_other = true,
          .n_headers = 2 },
        { .name = "value trimmed", REQ("GET / HTTP/1.1\r\nHost: a\r\nX-A: \t v  w \t\r\n\r\n"), .expect = 1,
          .method = HTTP_METHOD_GET, .minor = 1, .path = "/", .host = "a", .n_headers = 2,
          .field = "x-a", .value = "v  w" },
        { .name = "obs-text in value", REQ("GET / HTTP/1.1\r\nHost: a\r\nX-A: caf\xc3\xa9\r\n\r\n"), .expect = 1,
          .method = HTTP_METHOD_GET, .minor = 1, .path = "/", .host = "a", .n_headers = 2,
          .field = "X-A", .value = "caf\xc3\xa9" },
        { .name = "empty value", REQ("GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n"), .expect = 1,
          .method = HTTP_METHOD_GET, .minor = 1, .path = "/", .host = "a", .n_headers = 2,
          .field = "x-empty", .value = "" },
        { .name = "Host IPv6 and port", REQ("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"), .expect = 1,
          .method = HTTP_METHOD_GET, .minor = 1, .path = "/", .host = "[::1]:8080", .n_headers = 1 },
        { .name = "Host reg-name chars", REQ("GET / HTTP/1.1\r\nHost: a-b.c_d~e!$&'()*+,;=:80\r\n\r\n"), .expect = 1,
          .method = HTTP_METHOD_GET, .minor = 1, .path = "/", .host = "a-b.c_d~e!$&'()*+,;=:80",
          .n_headers = 1 },
        { .name = "Host dotted quad", REQ("GET / HTTP/1.1\r\nHost: 10.0.255.1:8080\r\n\r\n"), .expect = 1,
          .method = HTTP_METHOD_GET, .minor = 1, .path = "/", .host = "10.0.255.1:8080", .n_headers = 1 },
        { .name = "Host absolute name", REQ("GET / HTTP/1.1\r\nHost: 0xabc.example.\r\n\r\n"), .expect = 1,
          .method = HTTP_METHOD_GET, .minor = 1, .path = "/", .host = "0xabc.example.", .n_headers = 1 },
        { .name = "Host digits then letters", REQ("GET / HTTP/1.1\r\nHost: 1e100.net\r\n\r\n"), .expect = 1,
          .method = HTTP_METHOD_GET, .minor = 1, .path = "/", .host = "1e100.net", .n_headers = 1 },

        /* Request line. */
        FAIL("slash in method", "G/T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("space in method", "G ET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("NUL in method", "G\0T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("CR in method", "G\rT / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("TAB in method", "G\tT / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("FF in method", "G\fT / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("TAB separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
        FAIL("space before version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("fragment", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("8-bit in target", "GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("control in target", "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("DEL in target", "GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("authority-form for GET", "GET a:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("asterisk for GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("origin-form for CONNECT", "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("CONNECT without port", "CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("ftp scheme", "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("empty authority", "GET http:/// HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("userinfo", "GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("HTTP/1.11", "GET / HTTP/1.11\r\nHost: a\r\n\r\n", 400),
        FAIL("HTTP/10.0", "GET / HTTP/10.0\r\nHost: a\r\n\r\n", 400),
        FAIL("HTTP/1.", "GET / HTTP/1.\r\nHost: a\r\n\r\n", 400),
        FAIL("lowercase version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("HTTP/0.9", "GET /\r\n\r\n", 400),
        FAIL("HTTP/0.9 version", "GET / HTTP/0.9\r\n\r\n", 400),
        FAIL("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        FAIL("HTTP/3.0", "GET / HTTP/3.0\r\n\r\n", 505),
        FAIL("nine empty lines", "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("request line too long",
             "GET /0123456789012345678901234567890123456789012345678901234 HTTP/1.1\r\nHost: a\r\n\r\n", 414),

        /* Line ends. */
        FAIL("bare LF everywhere", "GET / HTTP/1.1\nHost: a\n\n", 400),
        FAIL("bare LF ending head", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400),
        FAIL("bare LF leading line", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        FAIL("bare CR in request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400),
        FAIL("bare CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400),
        FAIL("bare CR ending head", "GET / HTTP/1.1\r\nHost: a\r\n\rX", 400),

        /* Header fields. */
        FAIL("space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
        FAIL("TE with space before colon", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", 400),
        FAIL("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),
        FAIL("whitespace first line", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400),
        FAIL("empty name", "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400),
        FAIL("no colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A\r\n\r\n", 400),
        FAIL("NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400),
        FAIL("DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400),
        FAIL("control in value", "GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[0m\r\n\r\n", 400),
        FAIL("bad name byte", "GET / HTTP/1.1\r\nHost: a\r\nX(: v\r\n\r\n", 400),
        FAIL("field too long", "GET / HTTP/1.1\r\nHost: a\r\nX: "
                               "01234567890123456789012345678901234567890123456789012345678901\r\n\r\n", 431),
        FAIL("too many fields", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\n"
                                "G: 7\r\nH: 8\r\n\r\n", 431),

        /* Body length: the request-smuggling classics. */
        FAIL("CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
             400),
        FAIL("TE xchunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 400),
        FAIL("TE chunked, identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
             400),
        FAIL("TE chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                                 "Transfer-Encoding: chunked\r\n\r\n", 400),
        FAIL("TE identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 400),
        FAIL("TE empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 400),
        FAIL("TE quoted", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400),
        FAIL("TE malformed before chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: x@y, chunked\r\n\r\n",
             400),
        FAIL("TE parameter", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip;q=1, chunked\r\n\r\n", 400),
        FAIL("TE gzip then chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
                                     "Transfer-Encoding: chunked\r\n\r\n", 501),
        FAIL("TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        FAIL("CL 5 and 6", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
        FAIL("CL list 5, 6", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", 400),
        FAIL("CL +5", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400),
        FAIL("CL -1", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
        FAIL("CL 0x5", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", 400),
        FAIL("CL 5 5", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\n", 400),
        FAIL("CL empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400),
        FAIL("CL 20 digits", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n", 400),

        /* Host. */
        FAIL("no Host", "GET / HTTP/1.1\r\n\r\n", 400),
        FAIL("two Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
        FAIL("two Host 1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        FAIL("empty Host 1.1", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 400),
        FAIL("Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
        FAIL("Host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
        FAIL("Host bad port", "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", 400),
        FAIL("Host port too big", "GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n", 400),
        FAIL("Host unclosed IPv6", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400),
        FAIL("Host userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400),
        FAIL("Host bad pct", "GET / HTTP/1.1\r\nHost: a%4\r\n\r\n", 400),
        FAIL("Host pct-encoded", "GET / HTTP/1.1\r\nHost: %3127.0.0.1\r\n\r\n", 400),
        FAIL("Host hex IPv4", "GET / HTTP/1.1\r\nHost: 0x7f.1\r\n\r\n", 400),
        FAIL("Host hex last label", "GET / HTTP/1.1\r\nHost: a.0x1f\r\n\r\n", 400),
        FAIL("Host one number", "GET / HTTP/1.1\r\nHost: 017700000001\r\n\r\n", 400),
        FAIL("Host leading zero octet", "GET / HTTP/1.1\r\nHost: 127.01.0.1\r\n\r\n", 400),
        FAIL("Host octet over 255", "GET / HTTP/1.1\r\nHost: 256.1.1.1\r\n\r\n", 400),
        FAIL("Host three octets", "GET / HTTP/1.1\r\nHost: 127.0.1\r\n\r\n", 400),
        FAIL("Host five octets", "GET / HTTP/1.1\r\nHost: 1.2.3.4.5\r\n\r\n", 400),
        FAIL("Host numeric top-level", "GET / HTTP/1.1\r\nHost: example.123\r\n\r\n", 400),
        FAIL("Host quad with trailing dot", "GET / HTTP/1.1\r\nHost: 1.2.3.4.\r\n\r\n", 400),
        FAIL("Host empty label", "GET / HTTP/1.1\r\nHost: 1..3.4\r\n\r\n", 400),
        FAIL("Host name with empty label", "GET / HTTP/1.1\r\nHost: b..test\r\n\r\n", 400),
        FAIL("Host two trailing dots", "GET / HTTP/1.1\r\nHost: b.test..\r\n\r\n", 400),
        FAIL("Host leading dot", "GET / HTTP/1.1\r\nHost: .b.test\r\n\r\n", 400),
        FAIL("Host only a dot", "GET / HTTP/1.1\r\nHost: .\r\n\r\n", 400),
        FAIL("absolute-form empty label", "GET http://b.test../ HTTP/1.1\r\nHost: b.test\r\n\r\n", 400),
        FAIL("absolute-form hex host", "GET http://0x7f.1/ HTTP/1.1\r\nHost: 0x7f.1\r\n\r\n", 400),
        FAIL("Host only port", "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", 400),
        FAIL("Connection malformed", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close;x\r\n\r\n", 400),
};

ParameterizedTestParameters(parser, table) {
        return cr_make_param_array(Case, cases, ELEMENTSOF(cases));
}

typedef struct Parsed {
        HttpParser p;
        HttpRequestHead head;
        HttpHeader headers[MAX_FIELDS];
        int r;
} Parsed;

static void parsed_init(Parsed *x, const HttpParserLimits *limits) {
        http_parser_init(&x->p, &x->head, x->headers, limits);
}

/* The request is copied to a heap buffer of exactly its size so valgrind and ASan see any read past
 * what was fed. */
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

static void assert_case(const Case *c, const char *buf, const Parsed *x) {
        const HttpRequestHead *h = &x->head;

        cr_assert_eq(x->r, c->expect, "%s: got %d, expected %d (%s)", c->name, x->r, c->expect,
                     x->p.error ? x->p.error : "no error");
        if (c->expect < 0) {
                cr_assert_not_null(x->p.error, "%s: no reason given", c->name);
                return;
        }

        cr_assert_eq(h->method, c->method, "%s: method", c->name);
        cr_assert_eq(h->version_minor, c->minor, "%s: version", c->name);
        cr_assert_eq(h->target_form, c->form, "%s: target form", c->name);
        cr_assert_eq(h->head_len, c->len, "%s: head_len %u, expected %u", c->name, h->head_len, c->len);
        if (c->form == HTTP_TARGET_ORIGIN || c->form == HTTP_TARGET_ABSOLUTE)
                assert_span(buf, h->path, c->path, "path", c->name);
        cr_assert_eq(h->has_query, c->has_query, "%s: has_query", c->name);
        assert_span(buf, h->query, c->query, "query", c->name);
        cr_assert_eq(h->has_host, c->host[0] != '\0', "%s: has_host", c->name);
        if (h->has_host)
                assert_span(buf, h->host, c->host, "host", c->name);
        cr_assert_eq(h->has_content_length, c->has_cl, "%s: has_content_length", c->name);
        if (c->has_cl)
                cr_assert_eq(h->content_length, c->cl, "%s: content_length", c->name);
        cr_assert_eq(h->chunked, c->chunked, "%s: chunked", c->name);
        cr_assert_eq(h->conn_close, c->close, "%s: conn_close", c->name);
        cr_assert_eq(h->conn_keep_alive, c->keep_alive, "%s: conn_keep_alive", c->name);
        cr_assert_eq(h->expect_continue, c->cont, "%s: expect_continue", c->name);
        cr_assert_eq(h->expect_other, c->expect_other, "%s: expect_other", c->name);
        cr_assert_eq(h->n_headers, c->n_headers, "%s: n_headers %u", c->name, h->n_headers);
        if (c->field[0]) {
                const HttpHeader *f = http_head_find(h, buf, c->field);

                cr_assert_not_null(f, "%s: no field %s", c->name, c->field);
                assert_span(buf, f->value, c->value, "field value", c->name);
        }
}

/* Two parses of the same bytes must agree on every result field. */
static void assert_same(const Case *c, const Parsed *a, const Parsed *b, const char *how) {
        cr_assert_eq(a->r, b->r, "%s: %s gives %d, whole gives %d", c->name, how, b->r, a->r);
        if (a->r != HTTP_PARSE_DONE)
                return;
        HttpRequestHead ha = a->head, hb = b->head;
        ha.headers = hb.headers = NULL;
        cr_assert(memcmp(&ha, &hb, sizeof ha) == 0, "%s: %s gives a different head", c->name, how);
        cr_assert(memcmp(a->headers, b->headers, sizeof(HttpHeader) * a->head.n_headers) == 0,
                  "%s: %s gives different fields", c->name, how);
}

ParameterizedTest(Case *c, parser, table) {
        _cleanup_free_ char *buf = dup_exact(c->req, c->len);
        _cleanup_free_ Parsed *whole = calloc(1, sizeof(Parsed)), *part = calloc(1, sizeof(Parsed));

        cr_assert(whole && part);

        parsed_init(whole, &table_limits);
        whole->r = http_parser_feed(&whole->p, buf, c->len);
        assert_case(c, buf, whole);
        /* A finished parser keeps its answer. */
        cr_assert_eq(http_parser_feed(&whole->p, buf, c->len), whole->r, "%s: result not sticky", c->name);

        /* Every split point: the first k bytes, then everything. Before the end only AGAIN or the
         * final error may come out. */
        for (uint32_t k = 0; k <= c->len; k++) {
                char what[32];

                parsed_init(part, &table_limits);
                part->r = http_parser_feed(&part->p, buf, k);
                cr_assert(part->r == HTTP_PARSE_AGAIN || part->r == whole->r,
                          "%s: first %u bytes give %d", c->name, k, part->r);
                if (part->r == HTTP_PARSE_AGAIN)
                        part->r = http_parser_feed(&part->p, buf, c->len);
                snprintf(what, sizeof what, "split at %u", k);
                assert_same(c, whole, part, what);
        }

        /* One byte at a time, each time from a buffer of exactly the bytes received so far. */
        parsed_init(part, &table_limits);
        part->r = HTTP_PARSE_AGAIN;
        for (uint32_t n = 1; n <= c->len && part->r == HTTP_PARSE_AGAIN; n++) {
                _cleanup_free_ char *prefix = dup_exact(c->req, n);

                part->r = http_parser_feed(&part->p, prefix, n);
        }
        assert_same(c, whole, part, "byte by byte");
        if (part->r == HTTP_PARSE_DONE)
                assert_case(c, buf, part);
}

/* ---- limits: long input is cut off as soon as the limit is passed ---- */

static char *build_repeat(const char *head, char fill, size_t n_fill, const char *tail, size_t *ret_len) {
        size_t a = strlen(head), b = strlen(tail);
        char *s = malloc(a + n_fill + b);

        cr_assert_not_null(s);
        memcpy(s, head, a);
        memset(s + a, fill, n_fill);
        memcpy(s + a + n_fill, tail, b);
        *ret_len = a + n_fill + b;
        return s;
}

/* Feed in 1 KB steps as a socket would deliver; return how many bytes had arrived at the answer. */
static size_t feed_in_steps(Parsed *x, const char *buf, size_t len, size_t step) {
        for (size_t n = MIN(step, len);; n = MIN(n + step, len)) {
                x->r = http_parser_feed(&x->p, buf, n);
                if (x->r != HTTP_PARSE_AGAIN || n == len)
                        return n;
        }
}

Test(parser, long_target_is_414_early) {
        size_t len, fed;
        _cleanup_free_ char *s = build_repeat("GET /", 'a', 100 * 1024, " HTTP/1.1\r\nHost: a\r\n\r\n", &len);
        _cleanup_free_ Parsed *x = calloc(1, sizeof(Parsed));

        parsed_init(x, &default_limits);
        fed = feed_in_steps(x, s, len, 1024);
        cr_assert_eq(x->r, -414, "got %d", x->r);
        cr_assert_str_eq(x->p.error, "request line too long");
        cr_assert_leq(fed, default_limits.request_line + 1024, "rejected only after %zu bytes", fed);
        cr_assert_eq(x->p.pos, default_limits.request_line, "stopped at %u", x->p.pos);
}

Test(parser, request_line_at_limit_is_accepted) {
        size_t len;
        /* "GET /" + fill + " HTTP/1.1" is exactly 64 bytes. */
        _cleanup_free_ char *s = build_repeat("GET /", 'a', 64 - 14, " HTTP/1.1\r\nHost: a\r\n\r\n", &len);
        _cleanup_free_ Parsed *x = calloc(1, sizeof(Parsed));

        parsed_init(x, &table_limits);
        cr_assert_eq(http_parser_feed(&x->p, s, len), HTTP_PARSE_DONE, "%s", x->p.error);
        cr_assert_eq(x->head.path.len, 64 - 13);

        _cleanup_free_ char *t = build_repeat("GET /", 'a', 64 - 13, " HTTP/1.1\r\nHost: a\r\n\r\n", &len);
        parsed_init(x, &table_limits);
        cr_assert_eq(http_parser_feed(&x->p, t, len), -414);
}

Test(parser, many_header_lines_are_431_early) {
        const size_t n_lines = 10000;
        size_t len = 0, fed;
        char *s = malloc(64 + n_lines * 8);
        _cleanup_free_ Parsed *x = calloc(1, sizeof(Parsed));

        cr_assert_not_null(s);
        len += (size_t) sprintf(s, "GET / HTTP/1.1\r\nHost: a\r\n");
        for (size_t i = 0; i < n_lines; i++)
                len += (size_t) sprintf(s + len, "X: %03zu\r\n", i % 1000);
        len += (size_t) sprintf(s + len, "\r\n");

        parsed_init(x, &default_limits);
        fed = feed_in_steps(x, s, len, 1024);
        cr_assert_eq(x->r, -431, "got %d", x->r);
        cr_assert_str_eq(x->p.error, "too many header fields");
        cr_assert_lt(fed, len / 10, "rejected only after %zu of %zu bytes", fed, len);
        cr_assert_eq(x->head.n_headers, default_limits.fields);
        free(s);
}

Test(parser, long_header_value_is_431_early) {
        size_t len, fed;
        _cleanup_free_ char *s = build_repeat("GET / HTTP/1.1\r\nHost: a\r\nX-Big: ", 'v', 100 * 1024, "\r\n\r\n",
                                              &len);
        _cleanup_free_ Parsed *x = calloc(1, sizeof(Parsed));

        parsed_init(x, &default_limits);
        fed = feed_in_steps(x, s, len, 1024);
        cr_assert_eq(x->r, -431, "got %d", x->r);
        cr_assert_str_eq(x->p.error, "header field too long");
        cr_assert_leq(fed, 64 + default_limits.field_size + 1024, "rejected only after %zu bytes", fed);
}

Test(parser, long_header_name_is_431) {
        size_t len;
        _cleanup_free_ char *s = build_repeat("GET / HTTP/1.1\r\nHost: a\r\nX", 'n', 100, ": v\r\n\r\n", &len);
        _cleanup_free_ Parsed *x = calloc(1, sizeof(Parsed));

        parsed_init(x, &table_limits);
        cr_assert_eq(http_parser_feed(&x->p, s, len), -431);
}

/* ---- pipelining and the result protocol ---- */

Test(parser, pipelined_requests) {
        static const char two[] = "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
                                  "POST /two?q HTTP/1.1\r\nHost: b\r\nContent-Length: 3\r\n\r\nabc";
        _cleanup_free_ Parsed *x = calloc(1, sizeof(Parsed));
        const char *buf = two, *second;
        size_t len = sizeof two - 1;

        parsed_init(x, &default_limits);
        cr_assert_eq(http_parser_feed(&x->p, buf, len), HTTP_PARSE_DONE);
        cr_assert_eq(x->head.head_len, strlen("GET /one HTTP/1.1\r\nHost: a\r\n\r\n"));
        assert_span(buf, x->head.path, "/one", "path", "first");
        cr_assert_eq(x->head.has_content_length, false);

        second = buf + x->head.head_len;
        len -= x->head.head_len;
        parsed_init(x, &default_limits);
        cr_assert_eq(http_parser_feed(&x->p, second, len), HTTP_PARSE_DONE);
        cr_assert_eq(x->head.method, HTTP_METHOD_POST);
        assert_span(second, x->head.path, "/two", "path", "second");
        assert_span(second, x->head.query, "q", "query", "second");
        assert_span(second, x->head.host, "b", "host", "second");
        cr_assert_eq(x->head.content_length, 3);
        /* The body is not part of the head. */
        cr_assert_eq(x->head.head_len, len - 3);
        cr_assert_eq(memcmp(second + x->head.head_len, "abc", 3), 0);
}

Test(parser, leading_empty_lines_count_in_head_len) {
        static const char req[] = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
        _cleanup_free_ Parsed *x = calloc(1, sizeof(Parsed));

        parsed_init(x, &default_limits);
        cr_assert_eq(http_parser_feed(&x->p, req, sizeof req - 1), HTTP_PARSE_DONE);
        cr_assert_eq(x->head.head_len, sizeof req - 1);
        cr_assert_eq(x->head.method_span.off, 4);
        cr_assert_eq(x->head.target.off, 8);
}

Test(parser, incomplete_head_is_again) {
        static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n";
        _cleanup_free_ Parsed *x = calloc(1, sizeof(Parsed));

        parsed_init(x, &default_limits);
        cr_assert_eq(http_parser_feed(&x->p, req, sizeof req - 1), HTTP_PARSE_AGAIN);
        cr_assert_eq(http_parser_feed(&x->p, req, sizeof req - 1), HTTP_PARSE_AGAIN);
        cr_assert_eq(x->p.pos, sizeof req - 1);
        cr_assert_null(x->p.error);
}

Test(parser, error_reasons) {
        static const struct {
                const char *req;
                const char *reason;
        } t[] = {
                { "GET / HTTP/1.1\nHost: a\r\n\r\n", "bare LF in request head" },
                { "G/T / HTTP/1.1\r\n\r\n", "invalid method token" },
                { "GET /#x HTTP/1.1\r\n\r\n", "fragment in request target" },
                { "GET / HTTP/2.0\r\n\r\n", "HTTP version not supported" },
                { "GET / HTTP/1.1\r\nA : b\r\n\r\n", "whitespace between header name and colon" },
                { "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", "obsolete line folding in header" },
                { "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 request without Host" },
                { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                  "both Content-Length and Transfer-Encoding" },
        };
        _cleanup_free_ Parsed *x = calloc(1, sizeof(Parsed));

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                parsed_init(x, &default_limits);
                cr_assert_lt(http_parser_feed(&x->p, t[i].req, strlen(t[i].req)), 0);
                cr_assert_str_eq(x->p.error, t[i].reason);
        }
}

/* ---- helpers ---- */

Test(parser, head_find_and_span_eq) {
        static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\nX-One: 1\r\nx-one: 2\r\n\r\n";
        _cleanup_free_ Parsed *x = calloc(1, sizeof(Parsed));
        const HttpHeader *f;

        parsed_init(x, &default_limits);
        cr_assert_eq(http_parser_feed(&x->p, req, sizeof req - 1), HTTP_PARSE_DONE);
        f = http_head_find(&x->head, req, "X-ONE");
        cr_assert_not_null(f);
        assert_span(req, f->value, "1", "first match", "find");
        cr_assert_null(http_head_find(&x->head, req, "X-On"));
        cr_assert_null(http_head_find(&x->head, req, "X-One-"));

        cr_assert(http_span_eq_ci(req, x->head.method_span, "get"));
        cr_assert(http_span_eq_ci(req, x->head.method_span, "GET"));
        cr_assert_not(http_span_eq_ci(req, x->head.method_span, "GE"));
        cr_assert_not(http_span_eq_ci(req, x->head.method_span, "GETS"));
        cr_assert(http_span_eq_ci("", (HttpSpan) { 0, 0 }, ""));
}

Test(parser, method_names) {
        cr_assert_str_eq(http_method_to_string(HTTP_METHOD_GET), "GET");
        cr_assert_str_eq(http_method_to_string(HTTP_METHOD_OPTIONS), "OPTIONS");
        cr_assert_str_eq(http_method_to_string(HTTP_METHOD_PATCH), "PATCH");
        cr_assert_null(http_method_to_string(HTTP_METHOD_UNKNOWN));
        cr_assert_null(http_method_to_string(_HTTP_METHOD_MAX));

        /* Every name maps back to its method through the parser. */
        for (HttpMethod m = HTTP_METHOD_GET; m < _HTTP_METHOD_MAX; m++) {
                char req[128];
                _cleanup_free_ Parsed *x = calloc(1, sizeof(Parsed));
                int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: a\r\n\r\n", http_method_to_string(m),
                                 m == HTTP_METHOD_CONNECT ? "a:1" : m == HTTP_METHOD_OPTIONS ? "*" : "/");

                parsed_init(x, &default_limits);
                cr_assert_eq(http_parser_feed(&x->p, req, (size_t) n), HTTP_PARSE_DONE, "%s: %s", req, x->p.error);
                cr_assert_eq(x->head.method, m);
        }
}

/* ---- chunked ---- */

typedef struct Decoded {
        int r;
        size_t consumed; /* input bytes used, including those of the pieces before the last */
        size_t data_len;
        char data[512];
        const char *error;
} Decoded;

/* Decodes as a connection would: input arrives in pieces (first bytes, then step bytes at a time),
 * each call gets the unconsumed input plus the new piece, decoded bytes are taken out after it. */
static Decoded chunked_decode(const char *in, size_t len, const HttpParserLimits *limits, size_t first, size_t step) {
        Decoded out = { 0 };
        HttpChunked d;
        _cleanup_free_ char *buf = malloc(len + 1);
        size_t have = 0, given = 0;

        cr_assert_not_null(buf);
        http_chunked_init(&d);
        for (unsigned call = 0;; call++) {
                size_t piece = MIN(call == 0 ? first : step, len - given), consumed, data;

                memcpy(buf + have, in + given, piece);
                have += piece;
                given += piece;

                out.r = http_chunked_feed(&d, limits, buf, have, &consumed, &data);
                cr_assert_leq(consumed, have);
                cr_assert_leq(data, consumed, "data %zu overtakes input %zu", data, consumed);
                cr_assert_leq(out.data_len + data, sizeof out.data);
                memcpy(out.data + out.data_len, buf, data);
                out.data_len += data;
                out.consumed += consumed;
                memmove(buf, buf + consumed, have - consumed);
                have -= consumed;
                if (out.r != 0 || given == len)
                        break;
        }
        out.error = d.error;
        return out;
}

typedef struct ChunkCase {
        char name[40];
        char body[200];
        uint32_t len;
        int expect;
        char data[64];  /* decoded data when expect == 1 */
        uint32_t used;  /* bytes of body consumed when expect == 1 (the rest is the next request) */
} ChunkCase;

#define BODY(s) .body = s, .len = sizeof(s) - 1
#define CFAIL(n, s, status) { .name = n, BODY(s), .expect = -(status) }

static ChunkCase chunk_cases[] = {
        { .name = "simple", BODY("5\r\nhello\r\n0\r\n\r\n"), .expect = 1, .data = "hello", .used = 15 },
        { .name = "two chunks hex", BODY("3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n"), .expect = 1,
          .data = "abc0123456789", .used = 28 },
        { .name = "uppercase and zeros", BODY("00B\r\nhello world\r\n000\r\n\r\n"), .expect = 1,
          .data = "hello world", .used = 25 },
        { .name = "extensions", BODY("4;a=b;c\r\nwiki\r\n5 ; n = \"q\\\"x\" ;m=t\r\npedia\r\n0;last\r\n\r\n"),
          .expect = 1, .data = "wikipedia", .used = 53 },
        { .name = "trailers", BODY("2\r\nok\r\n0\r\nX-Sum: 1234\r\nX-Other:\tv \r\n\r\nNEXT"), .expect = 1,
          .data = "ok", .used = 38 },
        { .name = "empty body", BODY("0\r\n\r\n"), .expect = 1, .data = "", .used = 5 },
        { .name = "data with CRLF inside", BODY("4\r\n\r\n\r\n\r\n0\r\n\r\n"), .expect = 1, .data = "\r\n\r\n",
          .used = 14 },
        CFAIL("0x5", "0x5\r\nhello\r\n0\r\n\r\n", 400),
        CFAIL("-5", "-5\r\nhello\r\n0\r\n\r\n", 400),
        CFAIL("leading space", " 5\r\nhello\r\n0\r\n\r\n", 400),
        CFAIL("trailing space", "5 \r\nhello\r\n0\r\n\r\n", 400),
        CFAIL("empty size", "\r\nhello\r\n0\r\n\r\n", 400),
        CFAIL("17 hex digits", "10000000000000000\r\n", 413),
        CFAIL("17 digits, leading zero", "00000000000000005\r\nhello\r\n0\r\n\r\n", 413),
        CFAIL("above 2^63", "8000000000000000\r\n", 413),
        CFAIL("missing CRLF after data", "5\r\nhelloX\r\n0\r\n\r\n", 400),
        CFAIL("LF only after data", "5\r\nhello\n0\r\n\r\n", 400),
        CFAIL("bare LF after size", "5\nhello\r\n0\r\n\r\n", 400),
        CFAIL("bare CR after size", "5\rhello\r\n0\r\n\r\n", 400),
        CFAIL("bare LF at end", "5\r\nhello\r\n0\r\n\n", 400),
        CFAIL("bare LF in extension", "5;a\nhello\r\n0\r\n\r\n", 400),
        CFAIL("bad extension name", "5;=b\r\nhello\r\n0\r\n\r\n", 400),
        CFAIL("bad extension value", "5;a=b@c\r\nhello\r\n0\r\n\r\n", 400),
        CFAIL("NUL in quoted extension", "5;a=\"\0\"\r\nhello\r\n0\r\n\r\n", 400),
        CFAIL("whitespace before CRLF", "5;a=b \r\nhello\r\n0\r\n\r\n", 400),
        CFAIL("trailer obs-fold", "0\r\nX: a\r\n b\r\n\r\n", 400),
        CFAIL("trailer space before colon", "0\r\nX : a\r\n\r\n", 400),
        CFAIL("trailer NUL", "0\r\nX: a\0\r\n\r\n", 400),
        CFAIL("trailer bare LF", "0\r\nX: a\n\r\n", 400),
        CFAIL("too many trailers", "0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\nI: 9\r\n\r\n",
              431),
        CFAIL("trailer too long",
              "0\r\nX: 0123456789012345678901234567890123456789012345678901234567890123456789\r\n\r\n",
              431),
        CFAIL("size line too long", "5;a=0123456789012345678901234567890123456789012345678901234567890\r\n", 400),
};

ParameterizedTestParameters(chunked, table) {
        return cr_make_param_array(ChunkCase, chunk_cases, ELEMENTSOF(chunk_cases));
}

static void assert_decoded(const ChunkCase *c, const Decoded *a, const char *how) {
        cr_assert_eq(a->r, c->expect, "%s (%s): got %d, expected %d (%s)", c->name, how, a->r, c->expect,
                     a->error ? a->error : "no error");
        if (c->expect < 0) {
                cr_assert_not_null(a->error, "%s: no reason", c->name);
                return;
        }
        cr_assert_null(a->error);
        cr_assert_eq(a->data_len, strlen(c->data), "%s (%s): %zu data bytes", c->name, how, a->data_len);
        cr_assert(memcmp(a->data, c->data, a->data_len) == 0, "%s (%s): data \"%.*s\"", c->name, how,
                  (int) a->data_len, a->data);
        cr_assert_eq(a->consumed, c->used, "%s (%s): consumed %zu", c->name, how, a->consumed);
}

ParameterizedTest(ChunkCase *c, chunked, table) {
        Decoded whole = chunked_decode(c->body, c->len, &table_limits, c->len, c->len);

        assert_decoded(c, &whole, "whole");
        for (size_t k = 0; k <= c->len; k++) {
                char how[32];
                Decoded split = chunked_decode(c->body, c->len, &table_limits, k, c->len);

                snprintf(how, sizeof how, "split at %zu", k);
                assert_decoded(c, &split, how);
        }
        Decoded bytes = chunked_decode(c->body, c->len, &table_limits, 1, 1);
        assert_decoded(c, &bytes, "byte by byte");
}

Test(chunked, in_place_and_sticky) {
        char buf[] = "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\nGET";
        HttpChunked d;
        size_t consumed, data;

        http_chunked_init(&d);
        cr_assert_eq(http_chunked_feed(&d, &default_limits, buf, sizeof buf - 1, &consumed, &data), 1);
        cr_assert_eq(data, 5);
        cr_assert_eq(memcmp(buf, "abcde", 5), 0);
        cr_assert_eq(consumed, sizeof buf - 1 - 3);
        cr_assert_eq(memcmp(buf + consumed, "GET", 3), 0, "bytes after the body must be left alone");

        cr_assert_eq(http_chunked_feed(&d, &default_limits, buf + consumed, 3, &consumed, &data), 1);
        cr_assert_eq(consumed, 0);
        cr_assert_eq(data, 0);
}

Test(chunked, error_is_sticky) {
        char buf[] = "zz\r\n";
        HttpChunked d;
        size_t consumed, data;

        http_chunked_init(&d);
        cr_assert_eq(http_chunked_feed(&d, &default_limits, buf, 4, &consumed, &data), -400);
        cr_assert_str_eq(d.error, "invalid chunk size");
        cr_assert_eq(http_chunked_feed(&d, &default_limits, buf, 4, &consumed, &data), -400);
}

Test(chunked, largest_size_is_accepted) {
        /* 7fffffffffffffff is the largest size; the decoder must wait for its data. */
        char buf[] = "7fffffffffffffff\r\nab";
        HttpChunked d;
        size_t consumed, data;

        http_chunked_init(&d);
        cr_assert_eq(http_chunked_feed(&d, &default_limits, buf, sizeof buf - 1, &consumed, &data), 0);
        cr_assert_eq(consumed, sizeof buf - 1);
        cr_assert_eq(data, 2);
        cr_assert_eq(d.remaining, UINT64_C(0x7fffffffffffffff) - 2);
}
