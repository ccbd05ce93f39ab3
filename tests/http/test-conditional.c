/* SPDX-License-Identifier: MIT */
/* Conditional requests and ranges (conditional.h) as a table: a request head and a
 * representation's validators in, the status decided (and the ranges of a 206) out. The cases
 * follow RFC 9110 §13.2.2's precedence, so a reordering or a dropped rule changes an answer. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "http/conditional.h"
#include "http/parser.h"

#define ETAG "\"1a-d-5f\""
#define LM 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT */
#define LM_TEXT "Sun, 06 Nov 1994 08:49:37 GMT"
#define BEFORE "Sat, 05 Nov 1994 08:49:37 GMT"
#define AFTER "Mon, 07 Nov 1994 08:49:37 GMT"

/* Arrays, not pointers: criterion copies parameters into the process that runs the test. */
typedef struct CondCase {
        char method[8];
        char fields[256]; /* header lines, each ending in \r\n */
        bool no_etag;     /* the representation has no ETag */
        bool no_date;     /* nor a Last-Modified */
        uint32_t max_ranges;
        int status;
        char ranges[32]; /* "first-last,…" for 206 */
} CondCase;

static const CondCase cond_cases[] = {
        /* nothing conditional */
        { "GET", "", false, false, 200, 200, "" },
        { "HEAD", "Accept: */*\r\n", false, false, 200, 200, "" },
        /* If-None-Match: weak comparison; 304 for GET and HEAD, 412 for anything else */
        { "GET", "If-None-Match: " ETAG "\r\n", false, false, 200, 304, "" },
        { "HEAD", "If-None-Match: " ETAG "\r\n", false, false, 200, 304, "" },
        { "GET", "If-None-Match: W/" ETAG "\r\n", false, false, 200, 304, "" },
        { "GET", "If-None-Match: \"x\", " ETAG "\r\n", false, false, 200, 304, "" },
        { "GET", "If-None-Match: *\r\n", false, false, 200, 304, "" },
        { "GET", "If-None-Match: \"x\"\r\n", false, false, 200, 200, "" },
        { "POST", "If-None-Match: " ETAG "\r\n", false, false, 200, 412, "" },
        { "GET", "If-None-Match: " ETAG "\r\n", true, false, 200, 200, "" },
        /* If-Match: strong comparison, before If-None-Match */
        { "GET", "If-Match: " ETAG "\r\n", false, false, 200, 200, "" },
        { "GET", "If-Match: W/" ETAG "\r\n", false, false, 200, 412, "" },
        { "GET", "If-Match: \"x\"\r\n", false, false, 200, 412, "" },
        { "GET", "If-Match: *\r\n", false, false, 200, 200, "" },
        { "GET", "If-Match: *\r\n", true, false, 200, 200, "" },
        { "GET", "If-Match: " ETAG "\r\n", true, false, 200, 412, "" },
        { "GET", "If-Match: \"x\"\r\nIf-None-Match: " ETAG "\r\n", false, false, 200, 412, "" },
        { "GET", "If-Match: " ETAG "\r\nIf-None-Match: " ETAG "\r\n", false, false, 200, 304, "" },
        /* If-Unmodified-Since only without If-Match */
        { "GET", "If-Unmodified-Since: " BEFORE "\r\n", false, false, 200, 412, "" },
        { "GET", "If-Unmodified-Since: " LM_TEXT "\r\n", false, false, 200, 200, "" },
        { "GET", "If-Unmodified-Since: " AFTER "\r\n", false, false, 200, 200, "" },
        { "GET", "If-Unmodified-Since: yesterday\r\n", false, false, 200, 200, "" },
        { "GET", "If-Unmodified-Since: " BEFORE "\r\n", false, true, 200, 200, "" },
        { "GET", "If-Match: " ETAG "\r\nIf-Unmodified-Since: " BEFORE "\r\n", false, false, 200, 200, "" },
        { "GET", "If-Unmodified-Since: " BEFORE "\r\nIf-None-Match: " ETAG "\r\n", false, false, 200, 412, "" },
        /* If-Modified-Since only without If-None-Match, and only for GET and HEAD */
        { "GET", "If-Modified-Since: " LM_TEXT "\r\n", false, false, 200, 304, "" },
        { "GET", "If-Modified-Since: " AFTER "\r\n", false, false, 200, 304, "" },
        { "GET", "If-Modified-Since: " BEFORE "\r\n", false, false, 200, 200, "" },
        { "GET", "If-Modified-Since: not a date\r\n", false, false, 200, 200, "" },
        { "GET", "If-Modified-Since: " AFTER "\r\n", false, true, 200, 200, "" },
        { "POST", "If-Modified-Since: " AFTER "\r\n", false, false, 200, 200, "" },
        { "GET", "If-None-Match: \"x\"\r\nIf-Modified-Since: " AFTER "\r\n", false, false, 200, 200, "" },
        /* Range, after every precondition */
        { "GET", "Range: bytes=0-4\r\n", false, false, 200, 206, "0-4" },
        { "HEAD", "Range: bytes=0-4\r\n", false, false, 200, 206, "0-4" },
        { "GET", "Range: bytes=0-1,5-6\r\n", false, false, 200, 206, "0-1,5-6" },
        { "GET", "Range: bytes=200-\r\n", false, false, 200, 416, "" },
        { "GET", "Range: bytes=0-4\r\n", false, false, 0, 200, "" },
        { "GET", "Range: lines=1-2\r\n", false, false, 200, 200, "" },
        { "POST", "Range: bytes=0-4\r\n", false, false, 200, 200, "" },
        { "GET", "Range: bytes=0-4\r\nIf-None-Match: " ETAG "\r\n", false, false, 200, 304, "" },
        { "GET", "Range: bytes=0-4\r\nIf-Match: \"x\"\r\n", false, false, 200, 412, "" },
        { "GET", "Range: bytes=200-\r\nIf-Modified-Since: " LM_TEXT "\r\n", false, false, 200, 304, "" },
        /* If-Range: the exact strong tag or the exact date, else the whole representation */
        { "GET", "Range: bytes=0-4\r\nIf-Range: " ETAG "\r\n", false, false, 200, 206, "0-4" },
        { "GET", "Range: bytes=0-4\r\nIf-Range: \"x\"\r\n", false, false, 200, 200, "" },
        { "GET", "Range: bytes=0-4\r\nIf-Range: W/" ETAG "\r\n", false, false, 200, 200, "" },
        { "GET", "Range: bytes=0-4\r\nIf-Range: " ETAG "\r\n", true, false, 200, 200, "" },
        { "GET", "Range: bytes=0-4\r\nIf-Range: " LM_TEXT "\r\n", false, false, 200, 206, "0-4" },
        { "GET", "Range: bytes=0-4\r\nIf-Range: " AFTER "\r\n", false, false, 200, 200, "" },
        { "GET", "Range: bytes=0-4\r\nIf-Range: " LM_TEXT "\r\n", false, true, 200, 200, "" },
        { "GET", "Range: bytes=200-\r\nIf-Range: \"x\"\r\n", false, false, 200, 200, "" },
        { "GET", "If-Range: " ETAG "\r\n", false, false, 200, 200, "" },
};

ParameterizedTestParameters(conditional, decisions) {
        return cr_make_param_array(CondCase, cond_cases, sizeof(cond_cases) / sizeof(cond_cases[0]));
}

static void parse(const char *text, HttpRequestHead *head, HttpHeader *headers) {
        static const HttpParserLimits limits = { .request_line = 8190, .field_size = 8190, .fields = 16 };
        HttpParser p;

        http_parser_init(&p, head, headers, &limits);
        cr_assert_eq(http_parser_feed(&p, text, strlen(text)), HTTP_PARSE_DONE, "%s: %s", text,
                     p.error ? p.error : "");
}

ParameterizedTest(const CondCase *c, conditional, decisions) {
        char text[512], got[64] = "";
        HttpRequestHead head;
        HttpHeader headers[16];
        HttpConditional d;

        snprintf(text, sizeof(text), "%s /f HTTP/1.1\r\nHost: a\r\n%s\r\n", c->method, c->fields);
        parse(text, &head, headers);
        HttpRequest q = { .head = &head, .buf = text };
        HttpValidators v = {
                .etag = c->no_etag ? NULL : ETAG,
                .has_last_modified = !c->no_date,
                .last_modified = LM,
                .length = 100,
        };

        cr_assert_eq(http_conditional_evaluate(&q, &v, c->max_ranges, &d), 0);
        for (size_t i = 0; i < d.n_ranges; i++)
                snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%llu-%llu", i ? "," : "",
                         (unsigned long long) d.ranges[i].first, (unsigned long long) d.ranges[i].last);
        cr_expect_eq(d.status, c->status, "%s %s: status %d, expected %d", c->method, c->fields, d.status,
                     c->status);
        cr_expect_str_eq(got, c->ranges, "%s %s: ranges %s", c->method, c->fields, got);
        cr_expect_eq(d.ranges != NULL, d.status == 206, "ranges are kept for a 206 only");
        http_conditional_done(&d);
}

static void respond(int status, const HttpValidators *v, HttpResponse *r) {
        http_response_init(r);
        http_conditional_respond(r, status, v);
        cr_assert_eq(r->status, status);
}

Test(conditional, a_304_carries_the_validators_and_a_416_the_length) {
        HttpValidators v = { .etag = ETAG, .has_last_modified = true, .last_modified = LM, .length = 100 };
        HttpResponse r;

        respond(304, &v, &r);
        cr_expect_str_eq(r.headers, "ETag: " ETAG "\r\nLast-Modified: " LM_TEXT "\r\n");
        cr_expect_eq(http_response_body_length(&r), 0);
        http_response_done(&r);

        v.etag = NULL;
        v.has_last_modified = false;
        respond(304, &v, &r);
        cr_expect_str_eq(r.headers, "", "no validators, none sent");
        http_response_done(&r);

        respond(416, &v, &r);
        cr_expect(strstr(r.headers, "Content-Range: bytes */100\r\n"), "%s", r.headers);
        http_response_done(&r);

        respond(412, &v, &r);
        cr_expect_null(strstr(r.headers, "ETag"), "%s", r.headers);
        http_response_done(&r);
}
