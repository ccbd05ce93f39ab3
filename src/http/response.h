/* SPDX-License-Identifier: MIT */
/* response.h — what a handler answers, before the connection turns it into bytes.
 *
 * A handler fills an HttpResponse: a status, extra header lines, and a body that is either memory
 * (owned elsewhere, alive until the response is sent) or a range of an open file (the response
 * owns the fd), or a list of pieces (memory and ranges of one open file, for multipart/byteranges).
 * The connection adds Date, Server, Content-Length and Connection itself, so no handler can get
 * framing wrong.
 *
 * The response head has one serializer (HttpHeadWriter below): the engine's responses, the CGI
 * exchange's (which frames a program's output) and the perchild dispatcher's own error answers all
 * go through it, so the status line, Date, Server, the framing field and Connection follow one set
 * of rules. It neither allocates nor fails: it counts what the head needs, as snprintf does. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "shared/macro.h"
#include "http/parser.h"

/* Room for a handler's lines and the configuration's (Header, Expires: a Content-Security-Policy
 * alone can take 1.5 KB). The connection builds the head in front of a small body in out[]: that
 * room bounds this (conn.c checks it at compile time). */
#define HTTP_RESPONSE_HEADERS_MAX 3072

/* One piece of a body in pieces: len bytes of memory at mem, or (mem NULL) of pieces_fd from off. */
typedef struct HttpBodyPiece {
        const char *mem;
        off_t off;
        uint64_t len;
} HttpBodyPiece;

typedef struct HttpResponse {
        int status;
        char headers[HTTP_RESPONSE_HEADERS_MAX]; /* "Name: value\r\n" lines */
        size_t headers_len;
        bool headers_overflow;

        const char *body; /* memory body */
        size_t body_len;
        char *body_owned; /* freed with the response: set body to it for a generated body */
        int file_fd; /* file body when >= 0: file_len bytes from file_off; owned */
        off_t file_off;
        uint64_t file_len;

        /* A body in pieces, sent in order, when n_pieces > 0 (body and file_fd then stay unused). The
         * array and pieces_fd are owned; memory pieces point into body_owned or static data.
         * piece_next is the connection's cursor while it writes them. */
        HttpBodyPiece *pieces;
        size_t n_pieces, piece_next;
        int pieces_fd;

        bool close; /* the handler wants the connection closed after this response */
} HttpResponse;

void http_response_init(HttpResponse *r);
void http_response_done(HttpResponse *r); /* closes file_fd and pieces_fd, frees what it owns */

/* Append one header line; returns -ENOBUFS when it does not fit (the response becomes a 500). */
int http_response_add_header(HttpResponse *r, const char *name, const char *fmt, ...) _printf_(3, 4);

/* Append prebuilt "Name: value\r\n" lines; -ENOBUFS when they do not fit (the response becomes a 500). */
int http_response_add_lines(HttpResponse *r, const char *lines, size_t len);

/* A complete error or redirect answer with Apache's short HTML body. Drops any header added before
 * except those added after the call. */
void http_response_set_error(HttpResponse *r, int status);

const char *http_status_reason(int status);

/* "HTTP/1.1 200 OK\r\n": the status line, prebuilt; *ret_len is its length. */
const char *http_status_line(int status, size_t *ret_len);

/* Length of the body the response carries (memory, file or pieces). */
uint64_t http_response_body_length(const HttpResponse *r);

/* Statuses whose responses never carry a body (1xx, 204, 304). */
bool http_status_has_no_body(int status);

/* "HTTP/1.1 100 Continue\r\n\r\n" when the request asked for it (Expect: 100-continue on
 * HTTP/1.1) and its body is wanted: returns its length and sets *ret, or 0 when nothing is to be
 * sent (an HTTP/1.0 client must not get a 1xx, RFC 9110 §15.2). */
size_t http_continue_line(const HttpRequestHead *h, const char **ret);

/* Response bytes already framed, to be written in order as they are (a CGI program's response as
 * the exchange frames it). The iovecs point into whoever produced them. */
#define HTTP_OUTPUT_IOV_MAX 6

typedef struct HttpOutput {
        struct iovec iov[HTTP_OUTPUT_IOV_MAX];
        int n_iov;
        size_t len; /* sum of the iovecs */
} HttpOutput;

/* ---- the response head -------------------------------------------------------------------- */

typedef enum HttpFraming {
        HTTP_FRAMING_LENGTH,  /* Content-Length: length */
        HTTP_FRAMING_CHUNKED, /* Transfer-Encoding: chunked */
        HTTP_FRAMING_CLOSE,   /* neither: the body ends when the connection closes */
} HttpFraming;

typedef struct HttpHeadWriter {
        char *buf;
        size_t size;
        size_t len; /* what the head needs so far, even past size: only the first size bytes are written */
} HttpHeadWriter;

/* Start a head in buf: the status line (reason NULL: the standard one, prebuilt), Date (date is
 * http_date_now()'s text) and the server_line ("Server: mpmd\r\n", HttpServer.server_line). */
void http_head_begin(HttpHeadWriter *w, char *buf, size_t size, int status, const char *reason, size_t reason_len,
                     const char *date, const char *server_line, size_t server_line_len);

/* Append bytes (header lines, or the body of a small answer after http_head_end()). */
void http_head_put(HttpHeadWriter *w, const void *p, size_t n);

/* End the head: the framing field unless the status has no body (1xx, 204, 304), then Connection:
 * close without keep_alive, Connection: keep-alive with it on HTTP/1.0, and the empty line. */
void http_head_end(HttpHeadWriter *w, int status, HttpFraming framing, uint64_t length, bool keep_alive,
                   uint8_t version_minor);

/* Did the whole head fit? */
static inline bool http_head_fits(const HttpHeadWriter *w) {
        return w->len <= w->size;
}
