/* SPDX-License-Identifier: MIT */
/* parser.h — the incremental, strict HTTP/1.1 request-head parser (RFC 9112, parser.c); the
 * chunked body decoder, which shares its limits, is chunked.h (chunked.c), included at the end.
 *
 * Contract: neither allocates nor does I/O. The caller keeps the head in one buffer starting at
 * its first byte and calls http_parser_feed() with the whole buffer each time bytes were appended;
 * the parser resumes at the byte where it stopped (it never rescans). Everything it finds is
 * reported as offsets into that buffer (HttpSpan), so the caller may move the buffer between calls
 * as long as its contents are kept. Results:
 *   HTTP_PARSE_DONE (1)   the head is complete; head->head_len bytes belong to it;
 *   HTTP_PARSE_AGAIN (0)  more bytes needed;
 *   < 0                   the request is rejected: the value is the negated HTTP status to answer
 *                         (-400, -414, -431, -501, -505 …); parser->error names the reason.
 * Semantic checks that need the whole head (Host, Content-Length vs Transfer-Encoding …) run
 * before HTTP_PARSE_DONE is returned, so a DONE head is one the server may act on.
 *
 * Response mode (http_parser_init_response(), for the head an upstream answers a proxy with): the
 * same contract and the same field-line states, after a status line instead of a request line.
 * Every rejection is -502 (the upstream's answer is bad; it is never relayed), with the reason in
 * parser->error. How the body is framed depends on the request too: http_response_framing(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct HttpSpan {
        uint32_t off;
        uint32_t len;
} HttpSpan;

typedef struct HttpHeader {
        HttpSpan name;
        HttpSpan value; /* leading and trailing whitespace (SP, HTAB) removed */
} HttpHeader;

typedef enum HttpMethod {
        HTTP_METHOD_UNKNOWN, /* a valid token we do not implement → 501 from the server */
        HTTP_METHOD_GET,
        HTTP_METHOD_HEAD,
        HTTP_METHOD_POST,
        HTTP_METHOD_PUT,
        HTTP_METHOD_DELETE,
        HTTP_METHOD_OPTIONS,
        HTTP_METHOD_TRACE,
        HTTP_METHOD_CONNECT,
        HTTP_METHOD_PATCH,
        _HTTP_METHOD_MAX,
} HttpMethod;

/* May a request of method m be sent again, to an upstream that may have seen it (RFC 9110 §9.2.2;
 * TRACE left out: mpmd answers it 405 itself)? */
static inline bool http_method_idempotent(HttpMethod m) {
        return m == HTTP_METHOD_GET || m == HTTP_METHOD_HEAD || m == HTTP_METHOD_OPTIONS || m == HTTP_METHOD_PUT ||
               m == HTTP_METHOD_DELETE;
}

typedef enum HttpTargetForm {
        HTTP_TARGET_ORIGIN,    /* /path?query */
        HTTP_TARGET_ABSOLUTE,  /* http://authority/path?query */
        HTTP_TARGET_AUTHORITY, /* host:port, CONNECT only */
        HTTP_TARGET_ASTERISK,  /* *, OPTIONS only */
} HttpTargetForm;

typedef struct HttpParserLimits {
        uint32_t request_line; /* LimitRequestLine: longest request line, without CRLF → 414 */
        uint32_t field_size;   /* LimitRequestFieldSize: longest header line, without CRLF → 431 */
        uint32_t fields;       /* LimitRequestFields: most header lines → 431 */
} HttpParserLimits;

typedef struct HttpRequestHead {
        HttpMethod method;
        HttpSpan method_span;
        HttpTargetForm target_form;
        HttpSpan target;    /* the raw request-target */
        HttpSpan authority; /* absolute-form and authority-form only */
        HttpSpan path;      /* origin-form and absolute-form: from '/' up to '?' (raw, still %-encoded) */
        HttpSpan query;     /* without the '?'; len 0 when absent */
        bool has_query;
        uint8_t version_minor; /* HTTP/1.0 → 0, HTTP/1.1 → 1; major is always 1 */

        HttpHeader *headers; /* storage provided by the caller, capacity limits->fields */
        uint32_t n_headers;

        /* Derived when the head is complete. */
        HttpSpan host; /* the Host field value (or the absolute-form authority, which wins) */
        bool has_host;
        bool has_content_length;
        uint64_t content_length;
        bool chunked;         /* Transfer-Encoding: chunked (the only coding accepted) */
        bool conn_close;      /* Connection: close */
        bool conn_keep_alive; /* Connection: keep-alive */
        bool expect_continue; /* Expect: 100-continue */
        bool expect_other;    /* Expect with any other expectation → 417 from the server */
        uint32_t head_len;    /* bytes from the first byte of the request line through the final CRLF */
} HttpRequestHead;

/* The head of an upstream's response (RFC 9112 §4). */
typedef struct HttpResponseHead {
        uint8_t version_minor; /* HTTP/1.0 → 0, HTTP/1.1 → 1; nothing else is accepted */
        uint16_t status;       /* 100–599 */
        HttpSpan reason;       /* may be empty */

        HttpHeader *headers; /* storage provided by the caller, capacity limits->fields */
        uint32_t n_headers;

        /* Derived when the head is complete; what contradicts itself was rejected already. */
        bool has_content_length;
        uint64_t content_length;
        bool chunked;         /* Transfer-Encoding: chunked, the one coding a proxy accepts */
        bool conn_close;      /* Connection: close */
        bool conn_keep_alive; /* Connection: keep-alive */
        bool conn_upgrade;    /* Connection: upgrade (with 101) */
        uint32_t head_len;    /* bytes from the first byte of the status line through the final CRLF */
} HttpResponseHead;

enum {
        HTTP_PARSE_AGAIN = 0,
        HTTP_PARSE_DONE = 1,
};

typedef struct HttpParser {
        HttpRequestHead *head;      /* request mode, else NULL */
        HttpResponseHead *response; /* response mode, else NULL */
        const HttpParserLimits *limits;
        uint32_t header_capacity;
        const char *error; /* static string naming why the request was rejected */

        /* private: resumable state */
        uint32_t state;
        uint32_t pos;
        uint32_t mark;
        uint32_t line_start;
        uint32_t aux;
        uint8_t version_major;
        int32_t result; /* once DONE or rejected, every later feed returns this again */
} HttpParser;

/* Prepare to parse one request head; headers[] has room for limits->fields entries. */
void http_parser_init(HttpParser *p, HttpRequestHead *head, HttpHeader *headers, const HttpParserLimits *limits);

/* Prepare to parse one response head (limits->request_line bounds the status line). After a 1xx
 * other than 101 (HTTP_UPSTREAM_BODY_INTERIM) the final response follows: init again and parse from
 * buf + head_len (the caller bounds how many interim heads it takes, e.g. 8, as RFC 9110 §15.2
 * puts no limit on them). */
void http_parser_init_response(HttpParser *p, HttpResponseHead *head, HttpHeader *headers,
                               const HttpParserLimits *limits);

/* Parse buf[0..len): see the contract above. Leading empty lines (CRLF) before a request line are
 * skipped as RFC 9112 §2.2 allows; they count in head_len. */
int http_parser_feed(HttpParser *p, const char *buf, size_t len);

/* Case-insensitive lookup of a header by name; returns the first match or NULL. */
const HttpHeader *http_head_find(const HttpRequestHead *h, const char *buf, const char *name);
const HttpHeader *http_response_find(const HttpResponseHead *h, const char *buf, const char *name);

/* How a response's body ends (RFC 9112 §6.3), from the request's method and the response head. */
typedef enum HttpUpstreamBody {
        HTTP_UPSTREAM_BODY_NONE,    /* no body: HEAD, 204, 304; the response ends with its head */
        HTTP_UPSTREAM_BODY_LENGTH,  /* Content-Length bytes */
        HTTP_UPSTREAM_BODY_CHUNKED, /* the chunked coding: decode with HttpChunked (trailers dropped) */
        HTTP_UPSTREAM_BODY_CLOSE,   /* until the upstream closes (neither length nor chunked) */
        HTTP_UPSTREAM_BODY_INTERIM, /* 1xx other than 101: another head follows (see http_parser_init_response) */
        HTTP_UPSTREAM_BODY_SWITCH,  /* 101: valid only when the request asked for Upgrade (the caller checks);
                               * after its head the connection is a tunnel */
} HttpUpstreamBody;

typedef struct HttpResponseFraming {
        HttpUpstreamBody kind;
        uint64_t length; /* HTTP_UPSTREAM_BODY_LENGTH */
        /* The upstream connection may be pooled again after this response, provided it was read
         * exactly to its end and not one byte came after (see http_response_body_take). */
        bool reusable;
} HttpResponseFraming;

/* Decide the framing of a response to a request with this method. Returns 0, or -EBADMSG with
 * *ret_error naming why (the caller answers 502 and closes the upstream connection): a
 * Transfer-Encoding on a response that cannot have a body (1xx, 204), a response to CONNECT (a
 * proxy does not tunnel through CONNECT), a head that frames its body twice. */
int http_response_framing(HttpMethod method, const HttpResponseHead *h, HttpResponseFraming *ret,
                          const char **ret_error);

/* The rule for bytes after the end, on an upstream connection that carries one request at a time:
 * of `avail` bytes just read while `remaining` body bytes were due (0 once the body, or a body-less
 * response, is complete), returns how many belong to the response. When more arrived,
 * *ret_after_end is set: the upstream sent what nobody asked for, so the connection must be closed,
 * never reused, and those bytes never relayed. For chunked bodies the same holds for what follows
 * the decoder's end (http_chunked_feed() returning 1 with input left unconsumed). */
uint64_t http_response_body_take(uint64_t remaining, size_t avail, bool *ret_after_end);

/* Does span equal the NUL-terminated string s, ignoring ASCII case? */
bool http_span_eq_ci(const char *buf, HttpSpan span, const char *s);

/* The method's name; NULL for HTTP_METHOD_UNKNOWN (use head->method_span) and out-of-range values. */
const char *http_method_to_string(HttpMethod m);

/* The chunked decoder, which shares the limits above. */
#include "http/chunked.h"
