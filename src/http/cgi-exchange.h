/* SPDX-License-Identifier: MIT */
/* cgi-exchange.h — one CGI response as a state machine: bytes from the program's stdout in, bytes for
 * the client out.
 *
 * Contract: no syscalls, no logging. The connection reads the program's stdout and hands every read
 * to cgi_exchange_feed(), then writes the iovecs it gets back, in order, before feeding again; at end
 * of output it calls cgi_exchange_eof(). Until the program's head is complete nothing is produced;
 * then the complete response head (status line, Date and Server from the caller, the program's
 * fields, the framing, Connection; written by the engine's one head serializer, response.h), then
 * the body:
 *   - the program gave Content-Length: its bytes as they are; more is refused, fewer is reported;
 *   - otherwise on HTTP/1.1: Transfer-Encoding: chunked, one chunk per read, the last chunk at EOF;
 *   - otherwise on HTTP/1.0: delimited by closing the connection (Connection: close);
 *   - HEAD, 204 and 304: the head only.
 * Output iovecs point into the exchange and into the data last fed (not copied once the head is
 * out), so that data must stay untouched until they are written. An error before the head went out
 * (cgi_exchange_head_sent() false) is for the caller to answer with 500; after it, the caller can
 * only close the connection. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <time.h>

#include "http/parser.h"
#include "http/response.h"

typedef struct CgiExchange CgiExchange;

typedef struct CgiExchangeContext {
        uint8_t version_minor;   /* of the request: 0 for HTTP/1.0, 1 for HTTP/1.1 */
        bool head_only;          /* a HEAD request */
        bool keep_alive;         /* the connection's own verdict; the exchange may only turn it off */
        const char *date;        /* the Date value (http_date_now()); copied at cgi_exchange_new() */
        const char *server_line; /* "Server: mpmd\r\n" (HttpServer.server_line); copied too */
        size_t server_line_len;
        const char *scheme;      /* "http": for a Location the program gave as a local path */
        const char *host;        /* the request's Host (or ServerName[:port]) for that Location */
        size_t host_len;
        /* The Header and Expires* lines of the request's path (respond.h), applied to the program's
         * fields; NULL: none. Must outlive the exchange. now: the request's time, for Expires. */
        const struct HttpHeadersConfig *headers;
        time_t now;
} CgiExchangeContext;

enum {
        CGI_EXCHANGE_AGAIN = 0, /* write the output, then feed more */
        CGI_EXCHANGE_DONE = 1,  /* write the output: the response is complete; stop reading the program */
};

/* The exchange's output is response bytes already framed (response.h). */
#define CGI_OUTPUT_IOV_MAX HTTP_OUTPUT_IOV_MAX
typedef HttpOutput CgiOutput;

/* NULL on -ENOMEM. The context's strings are copied. */
CgiExchange *cgi_exchange_new(const CgiExchangeContext *ctx);
CgiExchange *cgi_exchange_free(CgiExchange *x);

/* Take data[0..n) from the program's stdout; *ret gets what to send now (maybe nothing). Returns
 * CGI_EXCHANGE_AGAIN or CGI_EXCHANGE_DONE (with Content-Length once it is reached, at once for the
 * head-only answers: closing the program's stdout then sends it SIGPIPE, as with Apache), or:
 *   -EBADMSG, -E2BIG  the program's head is refused (cgi.h): answer 500, nothing was sent;
 *   -EMSGSIZE         the program wrote more than its Content-Length: *ret holds the bytes up to that
 *                     length (send them; the response is then complete), the rest was dropped;
 *   -EALREADY         fed after DONE (only possible with extra bytes): nothing to send.
 * cgi_exchange_error() says why in Apache's words. */
int cgi_exchange_feed(CgiExchange *x, const char *data, size_t n, CgiOutput *ret);

/* The program's stdout ended. Returns CGI_EXCHANGE_DONE with the last bytes in *ret (the last
 * chunk), or -ENODATA "Premature end of script headers" (answer 500), or -EPIPE when the body is
 * shorter than the program's Content-Length (the response is cut: close the connection). */
int cgi_exchange_eof(CgiExchange *x, CgiOutput *ret);

bool cgi_exchange_head_sent(const CgiExchange *x);
/* After the head: the status sent (for the access log), and whether the connection may stay open
 * (false when the body is close-delimited or the caller said so). */
int cgi_exchange_status(const CgiExchange *x);
bool cgi_exchange_keep_alive(const CgiExchange *x);
uint64_t cgi_exchange_body_bytes(const CgiExchange *x); /* body bytes sent, framing excluded */
const char *cgi_exchange_error(const CgiExchange *x);   /* static; NULL when none */

/* "HTTP/1.1 100 Continue\r\n\r\n" when the request asked for it (Expect: 100-continue on HTTP/1.1):
 * send it before reading the body to spool it for the program. Returns its length and sets *ret, or
 * 0 when nothing is to be sent (an HTTP/1.0 client must not get a 1xx, RFC 9110 §15.2). */
size_t cgi_continue_response(const HttpRequestHead *h, const char **ret);
