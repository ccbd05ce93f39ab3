/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "http/response.h"

void http_response_init(HttpResponse *r) {
        /* Everything but the header lines' room, which is only ever read up to headers_len: zeroing
         * 2 KB twice per request was the largest cost on a small file's path. */
        memset(r, 0, offsetof(HttpResponse, headers));
        memset((char *) r + offsetof(HttpResponse, headers_len), 0, sizeof(*r) - offsetof(HttpResponse, headers_len));
        r->status = 200;
        r->headers[0] = 0;
        r->file_fd = -1;
        r->pieces_fd = -1;
}

void http_response_done(HttpResponse *r) {
        r->file_fd = safe_close(r->file_fd);
        r->body_owned = mfree(r->body_owned);
        r->pieces = mfree(r->pieces);
        r->n_pieces = r->piece_next = 0;
        r->pieces_fd = safe_close(r->pieces_fd);
}

int http_response_add_header(HttpResponse *r, const char *name, const char *fmt, ...) {
        size_t room = sizeof(r->headers) - r->headers_len;
        int n, m;
        va_list ap;

        n = snprintf(r->headers + r->headers_len, room, "%s: ", name);
        if (n < 0 || (size_t) n >= room)
                goto overflow;
        va_start(ap, fmt);
        m = vsnprintf(r->headers + r->headers_len + n, room - n, fmt, ap);
        va_end(ap);
        if (m < 0 || (size_t) (n + m + 2) >= room)
                goto overflow;
        memcpy(r->headers + r->headers_len + n + m, "\r\n", 2);
        r->headers_len += n + m + 2;
        r->headers[r->headers_len] = 0; /* (n + m + 2) < room */
        return 0;

overflow:
        r->headers[r->headers_len] = 0;
        r->headers_overflow = true;
        return -ENOBUFS;
}

int http_response_add_lines(HttpResponse *r, const char *lines, size_t len) {
        if (len >= sizeof(r->headers) - r->headers_len) {
                r->headers_overflow = true;
                return -ENOBUFS;
        }
        memcpy(r->headers + r->headers_len, lines, len);
        r->headers_len += len;
        r->headers[r->headers_len] = 0;
        return 0;
}

typedef struct StatusInfo {
        int code;
        const char *reason;
        const char *explanation; /* for the error page */
        const char *line;        /* the status line, prebuilt */
} StatusInfo;

#define S(code, reason, explanation) { code, reason, explanation, "HTTP/1.1 " #code " " reason "\r\n" }

static const StatusInfo statuses[] = {
        S(100, "Continue", NULL),
        S(101, "Switching Protocols", NULL),
        S(200, "OK", NULL),
        S(204, "No Content", NULL),
        S(206, "Partial Content", NULL),
        S(301, "Moved Permanently", "The document has moved."),
        S(302, "Found", "The document has moved."),
        S(303, "See Other", "The answer to your request is located elsewhere."),
        S(304, "Not Modified", NULL),
        S(307, "Temporary Redirect", "The document has moved temporarily."),
        S(308, "Permanent Redirect", "The document has moved permanently."),
        S(400, "Bad Request", "Your browser sent a request that this server could not understand."),
        S(401, "Unauthorized", "This server could not verify that you are authorized to access the document requested."),
        S(403, "Forbidden", "You don't have permission to access this resource."),
        S(404, "Not Found", "The requested URL was not found on this server."),
        S(405, "Method Not Allowed", "The requested method is not allowed for this URL."),
        S(408, "Request Timeout", "Server timeout waiting for the HTTP request from the client."),
        S(410, "Gone", "The requested resource is no longer available on this server and there is no forwarding address. Please remove all references to this resource."),
        S(411, "Length Required", "A request of the requested method requires a valid Content-length."),
        S(412, "Precondition Failed", "The precondition on the request for this URL evaluated to false."),
        S(413, "Content Too Large", "The requested resource does not allow request data with this method, or the amount of data provided in the request exceeds the capacity limit."),
        S(414, "URI Too Long", "The requested URL's length exceeds the capacity limit for this server."),
        S(416, "Range Not Satisfiable", "None of the range-specifier values in the Range request-header field overlap the current extent of the selected resource."),
        S(417, "Expectation Failed", "The expectation given in the Expect request-header field could not be met by this server."),
        S(421, "Misdirected Request", "The client needs a new connection for this request as the requested host name does not match this connection."),
        S(431, "Request Header Fields Too Large", "Your browser sent a request whose header fields are too large for this server."),
        S(500, "Internal Server Error", "The server encountered an internal error and was unable to complete your request."),
        S(501, "Not Implemented", "The requested method is not supported by this server."),
        S(502, "Bad Gateway", "The proxy server received an invalid response from an upstream server."),
        S(503, "Service Unavailable", "The server is temporarily unable to service your request."),
        S(504, "Gateway Timeout", "The gateway did not receive a timely response from the upstream server."),
        S(505, "HTTP Version Not Supported", "The server does not support the HTTP version used in the request."),
};

static const StatusInfo *status_find(int status) {
        for (size_t i = 0; i < ELEMENTSOF(statuses); i++)
                if (statuses[i].code == status)
                        return &statuses[i];
        return NULL;
}

const char *http_status_line(int status, size_t *ret_len) {
        static _Thread_local char other[48];
        const StatusInfo *s = status_find(status);

        if (s) {
                *ret_len = strlen(s->line);
                return s->line;
        }
        int n = snprintf(other, sizeof(other), "HTTP/1.1 %d Unknown\r\n", status);
        *ret_len = n > 0 ? (size_t) n : 0;
        return other;
}

const char *http_status_reason(int status) {
        const StatusInfo *s = status_find(status);
        return s ? s->reason : "Unknown";
}

bool http_status_has_no_body(int status) {
        return (status >= 100 && status < 200) || status == 204 || status == 304;
}

size_t http_continue_line(const HttpRequestHead *h, const char **ret) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

        if (!h->expect_continue || h->version_minor == 0) {
                *ret = NULL;
                return 0;
        }
        *ret = cont;
        return sizeof(cont) - 1;
}

/* Built once per status and thread, so repeated error answers cost no formatting. */
static const char *error_page(int status, size_t *ret_len) {
        static _Thread_local char page[1024];
        static _Thread_local int page_status;
        static _Thread_local size_t page_len;
        const StatusInfo *s = status_find(status);

        if (page_status != status) {
                int n = snprintf(page, sizeof(page),
                                 "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n"
                                 "<html><head>\n<title>%d %s</title>\n</head><body>\n<h1>%s</h1>\n<p>%s</p>\n"
                                 "</body></html>\n",
                                 status, s ? s->reason : "Error", s ? s->reason : "Error",
                                 s && s->explanation ? s->explanation : "");
                page_len = n < 0 ? 0 : MIN((size_t) n, sizeof(page) - 1);
                page_status = status;
        }
        *ret_len = page_len;
        return page;
}

void http_response_set_error(HttpResponse *r, int status) {
        r->status = status;
        r->file_fd = safe_close(r->file_fd);
        r->pieces = mfree(r->pieces);
        r->n_pieces = r->piece_next = 0;
        r->pieces_fd = safe_close(r->pieces_fd);
        r->headers_len = 0;
        r->headers[0] = 0;
        r->headers_overflow = false;
        if (http_status_has_no_body(status)) {
                r->body = NULL;
                r->body_len = 0;
                return;
        }
        r->body = error_page(status, &r->body_len);
        http_response_add_header(r, "Content-Type", "text/html; charset=iso-8859-1");
}

uint64_t http_response_body_length(const HttpResponse *r) {
        if (r->n_pieces > 0) {
                uint64_t n = 0;
                for (size_t i = 0; i < r->n_pieces; i++)
                        n += r->pieces[i].len;
                return n;
        }
        return r->file_fd >= 0 ? r->file_len : r->body_len;
}

/* ---- the response head -------------------------------------------------------------------- */

/* Inlined where the length is a constant, so that most of a head is a few moves: the serializer is
 * on every response's path. */
static inline __attribute__((always_inline)) void head_put(HttpHeadWriter *w, const void *p, size_t n) {
        if (w->len + n <= w->size)
                memcpy(w->buf + w->len, p, n);
        else if (w->len < w->size)
                memcpy(w->buf + w->len, p, w->size - w->len);
        w->len += n;
}

void http_head_put(HttpHeadWriter *w, const void *p, size_t n) {
        if (n > 0)
                head_put(w, p, n);
}

static void head_put_uint(HttpHeadWriter *w, uint64_t v) {
        char buf[24];
        size_t i = sizeof(buf);

        do {
                buf[--i] = (char) ('0' + v % 10);
                v /= 10;
        } while (v > 0);
        head_put(w, buf + i, sizeof(buf) - i);
}

void http_head_begin(HttpHeadWriter *w, char *buf, size_t size, int status, const char *reason, size_t reason_len,
                     const char *date, const char *server_line, size_t server_line_len) {
        *w = (HttpHeadWriter) { .buf = buf, .size = size };
        if (reason) {
                /* A reason of the handler's own (a CGI program's Status line): the code as three digits. */
                char code[] = { 'H', 'T', 'T', 'P', '/', '1', '.', '1', ' ', (char) ('0' + status / 100 % 10),
                                (char) ('0' + status / 10 % 10), (char) ('0' + status % 10), ' ' };
                head_put(w, code, sizeof(code));
                head_put(w, reason, reason_len);
                head_put(w, "\r\n", 2);
        } else {
                size_t n;
                const char *line = http_status_line(status, &n);
                head_put(w, line, n);
        }
        head_put(w, "Date: ", 6);
        head_put(w, date, strlen(date));
        head_put(w, "\r\n", 2);
        head_put(w, server_line, server_line_len);
}

void http_head_end(HttpHeadWriter *w, int status, HttpFraming framing, uint64_t length, bool keep_alive,
                   uint8_t version_minor) {
        if (!http_status_has_no_body(status)) {
                if (framing == HTTP_FRAMING_LENGTH) {
                        head_put(w, "Content-Length: ", 16);
                        head_put_uint(w, length);
                        head_put(w, "\r\n", 2);
                } else if (framing == HTTP_FRAMING_CHUNKED)
                        head_put(w, "Transfer-Encoding: chunked\r\n", 28);
        }
        if (!keep_alive)
                head_put(w, "Connection: close\r\n", 19);
        else if (version_minor == 0)
                head_put(w, "Connection: keep-alive\r\n", 24);
        head_put(w, "\r\n", 2);
}
