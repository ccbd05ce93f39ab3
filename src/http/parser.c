/* SPDX-License-Identifier: MIT */
/* parser.c — the strict request-head parser of parser.h (the chunked decoder is chunked.c).
 *
 * Both are byte-driven state machines: every state looks at exactly one byte and the whole state
 * lives in the HttpParser / HttpChunked object, so a request split at any byte boundary gives the
 * same result as the request fed whole, and a feed never looks again at bytes an earlier feed
 * accepted. Two checks read a finished piece once more, each exactly once: the request-target is
 * classified (origin, absolute, authority, asterisk) when its terminating SP arrives, and the
 * fields that need the whole head (Host, Content-Length, Transfer-Encoding, …) are interpreted
 * when the empty line arrives. Both are bounded by the configured limits. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "shared/hex.h"
#include "http/http-chars.h"
#include "shared/macro.h"
#include "http/parser.h"

/* RFC 9112 §2.2 lets a server skip "at least one" empty line before the request line; a client
 * that sends more than a few is not a browser working around an old bug. */
#define MAX_LEADING_EMPTY_LINES 8U
/* 19 decimal digits always fit in uint64_t; a longer Content-Length is not a body we would take. */
#define MAX_CONTENT_LENGTH_DIGITS 19U

enum {
        PS_START,      /* before the request line: a method byte or an empty line */
        PS_START_LF,   /* LF of a leading empty line */
        PS_METHOD,
        PS_TARGET_START,
        PS_TARGET,
        PS_VERSION, /* aux: index into "HTTP/d.d" */
        PS_LINE_LF, /* LF ending the request line */
        PS_FIELD_START,
        PS_FIELD_NAME,
        PS_FIELD_VALUE_START, /* OWS after the colon */
        PS_FIELD_VALUE,       /* mark: one past the last non-whitespace byte */
        PS_FIELD_LF,
        PS_END_LF, /* LF of the empty line that ends the head */
        PS_STATUS_VERSION, /* response mode: aux is the index into "HTTP/1.d " */
        PS_STATUS_CODE,    /* aux: digits so far */
        PS_STATUS_REASON,
        PS_DONE,
        PS_FAILED,
};

/* reg-name without pct-encoded (RFC 3986 §3.2.2): unreserved and sub-delims. */
static const bool regname_table[256] = {
        ['0' ... '9'] = true, ['A' ... 'Z'] = true, ['a' ... 'z'] = true,
        ['-'] = true, ['.'] = true, ['_'] = true, ['~'] = true,
        ['!'] = true, ['$'] = true, ['&'] = true, ['\''] = true, ['('] = true, [')'] = true,
        ['*'] = true, ['+'] = true, [','] = true, [';'] = true, ['='] = true,
};

static const char *const http_method_table[_HTTP_METHOD_MAX] = {
        [HTTP_METHOD_GET] = "GET",         [HTTP_METHOD_HEAD] = "HEAD",     [HTTP_METHOD_POST] = "POST",
        [HTTP_METHOD_PUT] = "PUT",         [HTTP_METHOD_DELETE] = "DELETE", [HTTP_METHOD_OPTIONS] = "OPTIONS",
        [HTTP_METHOD_TRACE] = "TRACE",     [HTTP_METHOD_CONNECT] = "CONNECT", [HTTP_METHOD_PATCH] = "PATCH",
};

static bool char_is_digit(unsigned char c) {
        return c >= '0' && c <= '9';
}

/* ASCII only: header names and codings are not subject to the locale. */
static unsigned char char_lower(unsigned char c) {
        return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static HttpSpan span_make(uint32_t off, uint32_t len) {
        return (HttpSpan) { .off = off, .len = len };
}

static bool mem_eq_ci(const char *a, const char *b, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (char_lower((unsigned char) a[i]) != char_lower((unsigned char) b[i]))
                        return false;
        return true;
}

bool http_span_eq_ci(const char *buf, HttpSpan span, const char *s) {
        size_t n = strlen(s);

        return n == span.len && mem_eq_ci(buf + span.off, s, n);
}

static bool span_is_token(const char *buf, HttpSpan s) {
        if (s.len == 0)
                return false;
        for (uint32_t i = 0; i < s.len; i++)
                if (!char_is_tchar((unsigned char) buf[s.off + i]))
                        return false;
        return true;
}

const char *http_method_to_string(HttpMethod m) {
        if ((unsigned) m >= _HTTP_METHOD_MAX)
                return NULL;
        return http_method_table[m];
}

/* Methods are case-sensitive (RFC 9110 §9.1): "get" is a valid token naming no method we know. */
static HttpMethod method_from_span(const char *buf, HttpSpan s) {
        for (HttpMethod m = HTTP_METHOD_UNKNOWN + 1; m < _HTTP_METHOD_MAX; m++) {
                const char *name = http_method_table[m];

                if (strlen(name) == s.len && memcmp(buf + s.off, name, s.len) == 0)
                        return m;
        }
        return HTTP_METHOD_UNKNOWN;
}

static const HttpHeader *fields_find(const HttpHeader *fields, uint32_t n, const char *buf, const char *name) {
        for (uint32_t i = 0; i < n; i++)
                if (http_span_eq_ci(buf, fields[i].name, name))
                        return &fields[i];
        return NULL;
}

const HttpHeader *http_head_find(const HttpRequestHead *h, const char *buf, const char *name) {
        return fields_find(h->headers, h->n_headers, buf, name);
}

const HttpHeader *http_response_find(const HttpResponseHead *h, const char *buf, const char *name) {
        return fields_find(h->headers, h->n_headers, buf, name);
}

/* The elements of a comma-separated field value (RFC 9110 §5.6.1), OWS trimmed. Empty elements
 * are returned too; each caller decides whether they are harmless. */
typedef struct ListIter {
        uint32_t pos;
        uint32_t end;
        bool done;
} ListIter;

static ListIter list_iter(HttpSpan value) {
        return (ListIter) { .pos = value.off, .end = value.off + value.len };
}

static bool list_next(const char *buf, ListIter *it, HttpSpan *ret) {
        uint32_t i, a, b;

        if (it->done)
                return false;

        for (i = it->pos; i < it->end && buf[i] != ','; i++)
                ;
        for (a = it->pos; a < i && char_is_ws((unsigned char) buf[a]); a++)
                ;
        for (b = i; b > a && char_is_ws((unsigned char) buf[b - 1]); b--)
                ;
        *ret = span_make(a, b - a);

        if (i >= it->end)
                it->done = true;
        else
                it->pos = i + 1;
        return true;
}

/* A reg-name whose last label is a number is no DNS name (no top-level domain is numeric): it can
 * only mean an IPv4 address, and then only the dotted-decimal form is accepted. "0x7f.1",
 * "017700000001" or "127.01.0.1" would each be 127.0.0.1 to an inet_aton()-style reader and
 * something else to a proxy comparing names, so they are refused as Apache's strict mode does. */
static bool regname_is_unambiguous(const char *t, uint32_t n) {
        uint32_t end = n, start, labels = 0;

        if (end > 0 && t[end - 1] == '.')
                end--; /* an absolute name, "example.org." */
        for (start = end; start > 0 && t[start - 1] != '.'; start--)
                ;
        bool numeric = start < end;
        for (uint32_t i = start; i < end; i++)
                if (!char_is_digit((unsigned char) t[i]))
                        numeric = false;
        bool hex = end - start > 2 && t[start] == '0' && (t[start + 1] == 'x' || t[start + 1] == 'X');
        if (!numeric && !hex)
                return true;
        if (hex || end != n)
                return false;
        /* Exactly four decimal octets, each 0–255 without a leading zero. */
        for (uint32_t i = 0; i < n; labels++) {
                uint32_t value = 0, digits = 0;
                for (; i < n && t[i] != '.'; i++) {
                        if (!char_is_digit((unsigned char) t[i]) || ++digits > 3)
                                return false;
                        value = value * 10 + (uint32_t) (t[i] - '0');
                }
                if (digits == 0 || value > 255 || (digits > 1 && t[i - digits] == '0'))
                        return false;
                if (i < n && ++i == n)
                        return false; /* a trailing dot after a number */
        }
        return labels == 4;
}

/* uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2). No userinfo: RFC 9110 §4.2.4 asks us to
 * treat it as an error. The port, when present, must be a real port number. A host name is taken
 * as its bytes (no percent-decoding: a name spelled with %XX is refused, as by Apache's strict
 * mode, since two spellings of one name are what smuggling through a proxy needs). */
static bool authority_is_valid(const char *buf, HttpSpan s, bool require_port) {
        const char *t = buf + s.off;
        uint32_t n = s.len, i = 0, port = 0, digits = 0;

        if (n == 0)
                return false;

        if (t[0] == '[') {
                /* IPv6address (RFC 3986 §3.2.2), checked for real: "[4712::abcd::]" is not one.
                 * IPvFuture is not something a client of ours has a use for. */
                char literal[INET6_ADDRSTRLEN];
                struct in6_addr a;

                for (i = 1; i < n && (hex_digit_value((unsigned char) t[i]) >= 0 || t[i] == ':' || t[i] == '.'); i++)
                        ;
                if (i == 1 || i >= n || t[i] != ']' || i - 1 >= sizeof(literal))
                        return false;
                memcpy(literal, t + 1, i - 1);
                literal[i - 1] = 0;
                if (inet_pton(AF_INET6, literal, &a) != 1)
                        return false;
                i++;
        } else {
                while (i < n && t[i] != ':') {
                        if (t[i] == '%' || !regname_table[(unsigned char) t[i]])
                                return false;
                        /* An empty label (".x", "x..y", "x..") names nothing: refused, as by
                         * Apache's fix_hostname(), rather than compared as some other name. */
                        if (t[i] == '.' && (i == 0 || t[i - 1] == '.'))
                                return false;
                        i++;
                }
                if (i == 0 || !regname_is_unambiguous(t, i))
                        return false;
        }

        if (i == n)
                return !require_port;
        if (t[i] != ':')
                return false;
        for (i++; i < n; i++) {
                if (!char_is_digit((unsigned char) t[i]) || ++digits > 5)
                        return false;
                port = port * 10 + (uint32_t) (t[i] - '0');
        }
        if (port > 65535)
                return false;
        return digits > 0 || !require_port;
}

/* The field-line states serve both modes; their reasons name the kind of head. */
#define BARE_LF(p) ((p)->response ? "bare LF in response head" : "bare LF in request head")
#define BARE_CR(p) ((p)->response ? "bare CR in response head" : "bare CR in request head")

static int parser_reject(HttpParser *p, int status, const char *reason) {
        /* Whatever is wrong with an upstream's head, the client is told 502 Bad Gateway. */
        if (p->response)
                status = 502;
        p->state = PS_FAILED;
        p->result = -status;
        p->error = reason;
        return -status;
}

/* Splits [from, end) at the first '?' into path and query. */
static void target_split_query(HttpRequestHead *h, const char *buf, uint32_t from, uint32_t end) {
        const char *q = memchr(buf + from, '?', end - from);

        if (q) {
                uint32_t qoff = (uint32_t) (q - buf);

                h->path = span_make(from, qoff - from);
                h->query = span_make(qoff + 1, end - qoff - 1);
                h->has_query = true;
        } else
                h->path = span_make(from, end - from);
}

/* RFC 9112 §3.2: which of the four forms the target has, and whether the method allows it. */
static int target_classify(HttpParser *p, const char *buf) {
        HttpRequestHead *h = p->head;
        uint32_t off = h->target.off, end = h->target.off + h->target.len, scheme_len = 0;
        const char *t = buf + off;

        if (t[0] == '/') {
                if (h->method == HTTP_METHOD_CONNECT)
                        return parser_reject(p, 400, "CONNECT needs an authority-form target");
                h->target_form = HTTP_TARGET_ORIGIN;
                target_split_query(h, buf, off, end);
                return 0;
        }

        if (h->target.len == 1 && t[0] == '*') {
                if (h->method != HTTP_METHOD_OPTIONS)
                        return parser_reject(p, 400, "asterisk-form target without OPTIONS");
                h->target_form = HTTP_TARGET_ASTERISK;
                return 0;
        }

        if (h->target.len >= 7 && mem_eq_ci(t, "http://", 7))
                scheme_len = 7;
        else if (h->target.len >= 8 && mem_eq_ci(t, "https://", 8))
                scheme_len = 8;

        if (scheme_len > 0) {
                uint32_t a = off + scheme_len, i = a;

                if (h->method == HTTP_METHOD_CONNECT)
                        return parser_reject(p, 400, "CONNECT needs an authority-form target");
                while (i < end && buf[i] != '/' && buf[i] != '?')
                        i++;
                h->authority = span_make(a, i - a);
                if (!authority_is_valid(buf, h->authority, false))
                        return parser_reject(p, 400, "invalid authority in absolute-form target");
                h->target_form = HTTP_TARGET_ABSOLUTE;
                /* No path: an empty span at the end of the authority, which means "/". */
                target_split_query(h, buf, i, end);
                return 0;
        }

        if (h->method == HTTP_METHOD_CONNECT) {
                if (!authority_is_valid(buf, h->target, true))
                        return parser_reject(p, 400, "invalid authority-form target");
                h->target_form = HTTP_TARGET_AUTHORITY;
                h->authority = h->target;
                h->path = span_make(end, 0);
                return 0;
        }

        return parser_reject(p, 400, "invalid request target");
}

/* Content-Length = 1*DIGIT; a list is tolerated only when every member is the same number
 * (RFC 9110 §8.6). Sets *ret_invalid or *ret_conflict; keeps the first value seen. */
static void content_length_merge(const char *buf, HttpSpan value, bool *has, uint64_t *cl, bool *ret_invalid,
                                 bool *ret_conflict) {
        ListIter it = list_iter(value);
        HttpSpan e;

        while (list_next(buf, &it, &e)) {
                uint64_t v = 0;

                if (e.len == 0 || e.len > MAX_CONTENT_LENGTH_DIGITS) {
                        *ret_invalid = true;
                        return;
                }
                for (uint32_t i = 0; i < e.len; i++) {
                        unsigned char c = (unsigned char) buf[e.off + i];

                        if (!char_is_digit(c)) {
                                *ret_invalid = true;
                                return;
                        }
                        v = v * 10 + (c - '0');
                }
                if (*has && v != *cl)
                        *ret_conflict = true;
                *has = true;
                *cl = v;
        }
}

/* What a message's framing fields say: Transfer-Encoding, Content-Length, Connection. One reading
 * for requests and upstream responses, so that the two judge the same bytes the same way (a
 * smuggling attempt is a disagreement between two readers); each side then decides what it
 * refuses. */
typedef struct FramingFields {
        bool has_te, te_malformed, te_last_chunked, te_other;
        unsigned n_chunked;
        bool has_cl, cl_invalid, cl_conflict;
        uint64_t cl;
        bool conn_malformed, conn_close, conn_keep_alive, conn_upgrade;
} FramingFields;

/* Take field f into ff when it is one of the framing fields; false for any other field. */
static bool framing_field(const char *buf, const HttpHeader *f, FramingFields *ff) {
        ListIter it = list_iter(f->value);
        HttpSpan e;

        if (http_span_eq_ci(buf, f->name, "transfer-encoding")) {
                ff->has_te = true;
                while (list_next(buf, &it, &e)) {
                        if (e.len == 0)
                                continue;
                        /* Parameters or quotes on a coding are not something any client needs;
                         * refuse rather than guess what a proxy saw. */
                        if (!span_is_token(buf, e))
                                ff->te_malformed = true;
                        else if (http_span_eq_ci(buf, e, "chunked")) {
                                ff->n_chunked++;
                                ff->te_last_chunked = true;
                                continue;
                        } else
                                ff->te_other = true;
                        ff->te_last_chunked = false;
                }
                return true;
        }
        if (http_span_eq_ci(buf, f->name, "content-length")) {
                content_length_merge(buf, f->value, &ff->has_cl, &ff->cl, &ff->cl_invalid, &ff->cl_conflict);
                return true;
        }
        if (http_span_eq_ci(buf, f->name, "connection")) {
                while (list_next(buf, &it, &e)) {
                        if (e.len == 0)
                                continue;
                        if (!span_is_token(buf, e))
                                ff->conn_malformed = true;
                        else if (http_span_eq_ci(buf, e, "close"))
                                ff->conn_close = true;
                        else if (http_span_eq_ci(buf, e, "keep-alive"))
                                ff->conn_keep_alive = true;
                        else if (http_span_eq_ci(buf, e, "upgrade"))
                                ff->conn_upgrade = true;
                }
                return true;
        }
        return false;
}

/* The checks that need the whole head, in the order the contract lists them. */
static int head_finish(HttpParser *p, const char *buf) {
        HttpRequestHead *h = p->head;
        FramingFields ff = {};
        unsigned n_host = 0;
        const HttpHeader *host = NULL;

        for (uint32_t i = 0; i < h->n_headers; i++) {
                const HttpHeader *f = &h->headers[i];
                ListIter it = list_iter(f->value);
                HttpSpan e;

                if (framing_field(buf, f, &ff))
                        continue;
                if (http_span_eq_ci(buf, f->name, "host")) {
                        n_host++;
                        host = f;
                } else if (http_span_eq_ci(buf, f->name, "expect")) {
                        while (list_next(buf, &it, &e)) {
                                if (e.len == 0)
                                        continue;
                                if (http_span_eq_ci(buf, e, "100-continue"))
                                        h->expect_continue = true;
                                else
                                        h->expect_other = true;
                        }
                }
        }
        h->has_content_length = ff.has_cl;
        h->content_length = ff.cl;
        h->conn_close = ff.conn_close;
        h->conn_keep_alive = ff.conn_keep_alive;

        if (ff.has_te && h->version_minor == 0)
                return parser_reject(p, 400, "Transfer-Encoding in an HTTP/1.0 request");
        if (ff.has_te) {
                if (ff.te_malformed)
                        return parser_reject(p, 400, "malformed Transfer-Encoding");
                if (ff.n_chunked > 1)
                        return parser_reject(p, 400, "chunked applied more than once");
                /* RFC 9112 §6.3: without chunked last the body length cannot be determined. */
                if (!ff.te_last_chunked)
                        return parser_reject(p, 400, "Transfer-Encoding does not end in chunked");
                if (ff.te_other)
                        return parser_reject(p, 501, "unsupported transfer coding");
                h->chunked = true;
        }
        if (ff.cl_invalid)
                return parser_reject(p, 400, "invalid Content-Length");
        if (ff.cl_conflict)
                return parser_reject(p, 400, "conflicting Content-Length values");
        if (ff.has_te && h->has_content_length)
                return parser_reject(p, 400, "both Content-Length and Transfer-Encoding");

        if (n_host > 1)
                return parser_reject(p, 400, "more than one Host field");
        if (host) {
                if (host->value.len == 0) {
                        /* An HTTP/1.1 client always knows the authority it is talking to. */
                        if (h->version_minor >= 1)
                                return parser_reject(p, 400, "empty Host");
                } else if (!authority_is_valid(buf, host->value, false))
                        return parser_reject(p, 400, "invalid Host");
                else {
                        h->host = host->value;
                        h->has_host = true;
                }
        }
        /* RFC 9112 §3.2.2: the authority of the target wins over Host. */
        if (h->target_form == HTTP_TARGET_ABSOLUTE || h->target_form == HTTP_TARGET_AUTHORITY) {
                h->host = h->authority;
                h->has_host = true;
        }
        if (!h->has_host && h->version_minor >= 1)
                return parser_reject(p, 400, "HTTP/1.1 request without Host");

        if (ff.conn_malformed)
                return parser_reject(p, 400, "malformed Connection");

        p->state = PS_DONE;
        p->result = HTTP_PARSE_DONE;
        return HTTP_PARSE_DONE;
}

/* The response's checks that need the whole head. Unlike a server, a proxy relays what it accepts,
 * so every framing it could read two ways is refused here, whatever the request was: the
 * method-dependent part is http_response_framing(). */
static int response_finish(HttpParser *p, const char *buf) {
        HttpResponseHead *h = p->response;
        FramingFields ff = {};

        for (uint32_t i = 0; i < h->n_headers; i++)
                (void) framing_field(buf, &h->headers[i], &ff);
        h->has_content_length = ff.has_cl;
        h->content_length = ff.cl;
        h->conn_close = ff.conn_close;
        h->conn_keep_alive = ff.conn_keep_alive;
        h->conn_upgrade = ff.conn_upgrade;

        /* RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing. */
        if (ff.has_te && h->version_minor == 0)
                return parser_reject(p, 502, "Transfer-Encoding in an HTTP/1.0 response");
        if (ff.has_te) {
                if (ff.te_malformed)
                        return parser_reject(p, 502, "malformed Transfer-Encoding");
                /* A proxy re-frames the body as chunked itself: a coding it would have to pass on
                 * undecoded ("gzip, chunked") or could not find the end of ("chunked, gzip",
                 * "identity") is not relayed. */
                if (ff.te_other)
                        return parser_reject(p, 502, "transfer coding other than chunked");
                if (ff.n_chunked == 0)
                        return parser_reject(p, 502, "empty Transfer-Encoding");
                if (ff.n_chunked > 1)
                        return parser_reject(p, 502, "chunked applied more than once");
                h->chunked = true;
        }
        if (ff.cl_invalid)
                return parser_reject(p, 502, "invalid Content-Length");
        if (ff.cl_conflict)
                return parser_reject(p, 502, "conflicting Content-Length values");
        /* RFC 9112 §6.3 (3): the response-splitting case; two readers would disagree on the end. */
        if (ff.has_te && h->has_content_length)
                return parser_reject(p, 502, "both Content-Length and Transfer-Encoding");
        if (ff.conn_malformed)
                return parser_reject(p, 502, "malformed Connection");

        p->state = PS_DONE;
        p->result = HTTP_PARSE_DONE;
        return HTTP_PARSE_DONE;
}

static int framing_fail(const char **ret_error, const char *reason) {
        if (ret_error)
                *ret_error = reason;
        return -EBADMSG;
}

int http_response_framing(HttpMethod method, const HttpResponseHead *h, HttpResponseFraming *ret,
                          const char **ret_error) {
        /* RFC 9112 §9.3: 1.1 persists unless told otherwise, 1.0 only when it says keep-alive. */
        bool persistent = !h->conn_close && (h->version_minor >= 1 || h->conn_keep_alive);

        *ret = (HttpResponseFraming) { .kind = HTTP_UPSTREAM_BODY_NONE, .reusable = persistent };
        if (ret_error)
                *ret_error = NULL;

        /* The parser refuses this; a head built by other means must not get past either. */
        if (h->chunked && h->has_content_length)
                return framing_fail(ret_error, "both Content-Length and Transfer-Encoding");
        if (h->status < 100 || h->status > 599)
                return framing_fail(ret_error, "status code out of range");
        /* RFC 9110 §6.4.1: 1xx and 204 never have content, so a coding on them is a confused
         * upstream; reading a chunked body after them would take the next response's bytes. */
        if ((h->status < 200 || h->status == 204) && h->chunked)
                return framing_fail(ret_error, "Transfer-Encoding on a response without content");

        if (h->status == 101) {
                ret->kind = HTTP_UPSTREAM_BODY_SWITCH;
                ret->reusable = false;
                return 0;
        }
        if (h->status < 200) {
                ret->kind = HTTP_UPSTREAM_BODY_INTERIM;
                return 0;
        }
        /* RFC 9112 §6.3 (2): a 2xx to CONNECT is a tunnel, which the proxy never asks for. */
        if (method == HTTP_METHOD_CONNECT && h->status < 300)
                return framing_fail(ret_error, "a tunnel answered to CONNECT");
        /* RFC 9112 §6.3 (1): whatever the head says, these end with it. A Content-Length on them
         * describes the representation, not bytes to read. */
        if (method == HTTP_METHOD_HEAD || h->status == 204 || h->status == 304)
                return 0;
        if (h->chunked) {
                ret->kind = HTTP_UPSTREAM_BODY_CHUNKED;
                return 0;
        }
        if (h->has_content_length) {
                ret->kind = HTTP_UPSTREAM_BODY_LENGTH;
                ret->length = h->content_length;
                return 0;
        }
        /* RFC 9112 §6.3 (8): read until the upstream closes; the close is the end. */
        ret->kind = HTTP_UPSTREAM_BODY_CLOSE;
        ret->reusable = false;
        return 0;
}

uint64_t http_response_body_take(uint64_t remaining, size_t avail, bool *ret_after_end) {
        uint64_t take = MIN(remaining, (uint64_t) avail);

        *ret_after_end = take < (uint64_t) avail;
        return take;
}

void http_parser_init_response(HttpParser *p, HttpResponseHead *head, HttpHeader *headers,
                               const HttpParserLimits *limits) {
        *head = (HttpResponseHead) { .headers = headers };
        *p = (HttpParser) {
                .response = head,
                .limits = limits,
                .header_capacity = headers ? limits->fields : 0,
                .state = PS_STATUS_VERSION,
        };
}

void http_parser_init(HttpParser *p, HttpRequestHead *head, HttpHeader *headers, const HttpParserLimits *limits) {
        *head = (HttpRequestHead) { .headers = headers };
        *p = (HttpParser) {
                .head = head,
                .limits = limits,
                .header_capacity = headers ? limits->fields : 0,
                .state = PS_START,
        };
}

/* One step of the head machine for byte c at p->pos. Returns 0 to go on, or the final result. */
static int parser_step(HttpParser *p, const char *buf, unsigned char c) {
        HttpRequestHead *h = p->head; /* NULL in response mode: only the request line uses it */
        HttpResponseHead *rh = p->response;
        HttpHeader *fields = rh ? rh->headers : h->headers;
        uint32_t *n_fields = rh ? &rh->n_headers : &h->n_headers;
        const HttpParserLimits *lim = p->limits;
        uint32_t pos = p->pos;

        /* Length limits are checked on every byte so an endless line is cut off as soon as it has
         * grown past the limit, not when (if ever) its CRLF arrives. */
        if (c != '\r')
                switch (p->state) {
                case PS_METHOD:
                case PS_TARGET_START:
                case PS_TARGET:
                case PS_VERSION:
                case PS_STATUS_VERSION:
                case PS_STATUS_CODE:
                case PS_STATUS_REASON:
                        if (pos - p->line_start >= lim->request_line)
                                return parser_reject(p, 414, rh ? "status line too long" : "request line too long");
                        break;
                case PS_FIELD_NAME:
                case PS_FIELD_VALUE_START:
                case PS_FIELD_VALUE:
                        if (pos - p->line_start >= lim->field_size)
                                return parser_reject(p, 431, "header field too long");
                        break;
                default:
                        break;
                }

        switch (p->state) {

        case PS_START:
                if (c == '\r') {
                        if (++p->aux > MAX_LEADING_EMPTY_LINES)
                                return parser_reject(p, 400, "too many empty lines before the request line");
                        p->state = PS_START_LF;
                } else if (c == '\n')
                        return parser_reject(p, 400, BARE_LF(p));
                else if (char_is_tchar(c)) {
                        p->line_start = pos;
                        h->method_span.off = pos;
                        p->state = PS_METHOD;
                } else
                        return parser_reject(p, 400, "invalid method token");
                break;

        case PS_START_LF:
                if (c != '\n')
                        return parser_reject(p, 400, BARE_CR(p));
                p->state = PS_START;
                break;

        case PS_METHOD:
                if (c == ' ') {
                        h->method_span.len = pos - h->method_span.off;
                        h->method = method_from_span(buf, h->method_span);
                        p->state = PS_TARGET_START;
                } else if (c == '\n')
                        return parser_reject(p, 400, BARE_LF(p));
                else if (!char_is_tchar(c))
                        return parser_reject(p, 400, "invalid method token");
                break;

        case PS_TARGET_START:
        case PS_TARGET:
                if (c == ' ') {
                        int r;

                        if (p->state == PS_TARGET_START)
                                return parser_reject(p, 400, "extra whitespace in request line");
                        h->target.len = pos - h->target.off;
                        r = target_classify(p, buf);
                        if (r < 0)
                                return r;
                        p->aux = 0;
                        p->state = PS_VERSION;
                } else if (c == '#')
                        return parser_reject(p, 400, "fragment in request target");
                else if (c > 0x20 && c < 0x7f) {
                        if (p->state == PS_TARGET_START) {
                                h->target.off = pos;
                                p->state = PS_TARGET;
                        }
                } else if (c == '\n')
                        return parser_reject(p, 400, BARE_LF(p));
                else if (c == '\r' && p->state == PS_TARGET)
                        return parser_reject(p, 400, "request line without HTTP version");
                else
                        return parser_reject(p, 400, "invalid byte in request target");
                break;

        case PS_VERSION:
                /* "HTTP/" DIGIT "." DIGIT, then CRLF: HTTP/1.11, HTTP/10.0 and http/1.1 fail here. */
                if (c == '\n')
                        return parser_reject(p, 400, BARE_LF(p));
                if (p->aux < 5) {
                        if (c != (unsigned char) "HTTP/"[p->aux])
                                return parser_reject(p, 400, "invalid HTTP version");
                } else if (p->aux == 5 || p->aux == 7) {
                        if (!char_is_digit(c))
                                return parser_reject(p, 400, "invalid HTTP version");
                        if (p->aux == 5)
                                p->version_major = c - '0';
                        else
                                /* RFC 9110 §2.5: a higher minor version is served as the highest we
                                 * implement. */
                                h->version_minor = MIN(c - '0', 1);
                } else if (p->aux == 6) {
                        if (c != '.')
                                return parser_reject(p, 400, "invalid HTTP version");
                } else {
                        if (c != '\r')
                                return parser_reject(p, 400, "invalid HTTP version");
                        if (p->version_major == 0)
                                return parser_reject(p, 400, "invalid HTTP version");
                        if (p->version_major >= 2)
                                return parser_reject(p, 505, "HTTP version not supported");
                        p->state = PS_LINE_LF;
                }
                p->aux++;
                break;

        case PS_LINE_LF:
                if (c != '\n')
                        return parser_reject(p, 400, BARE_CR(p));
                p->line_start = pos + 1;
                p->state = PS_FIELD_START;
                break;

        case PS_FIELD_START:
                if (c == '\r') {
                        p->state = PS_END_LF;
                        break;
                }
                if (char_is_ws(c))
                        return parser_reject(p, 400, "obsolete line folding in header");
                if (c == '\n')
                        return parser_reject(p, 400, BARE_LF(p));
                if (!char_is_tchar(c))
                        return parser_reject(p, 400, "invalid header field name");
                if (*n_fields >= p->header_capacity)
                        return parser_reject(p, 431, "too many header fields");
                if (lim->field_size == 0)
                        return parser_reject(p, 431, "header field too long");
                fields[*n_fields] = (HttpHeader) { .name.off = pos };
                p->state = PS_FIELD_NAME;
                break;

        case PS_FIELD_NAME:
                if (c == ':') {
                        HttpHeader *f = &fields[*n_fields];

                        f->name.len = pos - f->name.off;
                        p->state = PS_FIELD_VALUE_START;
                } else if (char_is_ws(c))
                        return parser_reject(p, 400, "whitespace between header name and colon");
                else if (c == '\n')
                        return parser_reject(p, 400, BARE_LF(p));
                else if (c == '\r')
                        return parser_reject(p, 400, "header line without colon");
                else if (!char_is_tchar(c))
                        return parser_reject(p, 400, "invalid header field name");
                break;

        case PS_FIELD_VALUE_START:
        case PS_FIELD_VALUE: {
                HttpHeader *f = &fields[*n_fields];

                if (char_is_ws(c))
                        break;
                if (char_is_field_vchar(c)) {
                        if (p->state == PS_FIELD_VALUE_START) {
                                f->value.off = pos;
                                p->state = PS_FIELD_VALUE;
                        }
                        p->mark = pos + 1;
                } else if (c == '\r') {
                        if (p->state == PS_FIELD_VALUE_START)
                                f->value = span_make(pos, 0);
                        else
                                f->value.len = p->mark - f->value.off;
                        p->state = PS_FIELD_LF;
                } else if (c == '\n')
                        return parser_reject(p, 400, BARE_LF(p));
                else
                        return parser_reject(p, 400, "invalid byte in header value");
                break;
        }

        case PS_FIELD_LF:
                if (c != '\n')
                        return parser_reject(p, 400, BARE_CR(p));
                (*n_fields)++;
                p->line_start = pos + 1;
                p->state = PS_FIELD_START;
                break;

        case PS_END_LF:
                if (c != '\n')
                        return parser_reject(p, 400, BARE_CR(p));
                p->pos = pos + 1;
                if (rh) {
                        rh->head_len = pos + 1;
                        return response_finish(p, buf);
                }
                h->head_len = pos + 1;
                return head_finish(p, buf);

        case PS_STATUS_VERSION:
                /* "HTTP/1.0 " or "HTTP/1.1 ": an upstream we talk HTTP/1.1 to answers in 1.x, and a
                 * later minor version would be one whose framing we cannot know. */
                if (c == '\n')
                        return parser_reject(p, 502, BARE_LF(p));
                if (p->aux == 7) {
                        if (c != '0' && c != '1')
                                return parser_reject(p, 502, "invalid HTTP version in status line");
                        rh->version_minor = c - '0';
                } else if (c != (unsigned char) "HTTP/1.x "[p->aux])
                        return parser_reject(p, 502, p->aux == 8 ? "no space after the HTTP version"
                                                                 : "invalid HTTP version in status line");
                if (++p->aux == 9) {
                        p->aux = 0;
                        p->state = PS_STATUS_CODE;
                }
                break;

        case PS_STATUS_CODE:
                /* status-code = 3DIGIT, then SP even when the reason is empty (RFC 9112 §4). */
                if (p->aux < 3) {
                        if (!char_is_digit(c))
                                return parser_reject(p, 502, c == '\n' ? BARE_LF(p) : "invalid status code");
                        rh->status = (uint16_t) (rh->status * 10 + (c - '0'));
                        p->aux++;
                } else if (c == ' ') {
                        if (rh->status < 100 || rh->status > 599)
                                return parser_reject(p, 502, "status code out of range");
                        rh->reason = span_make(pos + 1, 0);
                        p->state = PS_STATUS_REASON;
                } else if (c == '\r')
                        return parser_reject(p, 502, "no space after the status code");
                else
                        return parser_reject(p, 502, c == '\n' ? BARE_LF(p) : "invalid status code");
                break;

        case PS_STATUS_REASON:
                /* reason-phrase = *( HTAB / SP / VCHAR / obs-text ) */
                if (c == '\r') {
                        rh->reason.len = pos - rh->reason.off;
                        p->state = PS_LINE_LF;
                } else if (c == '\n')
                        return parser_reject(p, 502, BARE_LF(p));
                else if (!char_is_ws(c) && !char_is_field_vchar(c))
                        return parser_reject(p, 502, "invalid byte in reason phrase");
                break;

        default:
                return parser_reject(p, 500, "parser in an impossible state");
        }

        return 0;
}

int http_parser_feed(HttpParser *p, const char *buf, size_t len) {
        if (p->state == PS_DONE || p->state == PS_FAILED)
                return p->result;

        /* Offsets are 32-bit; the limits stop any head long before that. */
        if (len > UINT32_MAX)
                len = UINT32_MAX;

        while (p->pos < len) {
                int r = parser_step(p, buf, (unsigned char) buf[p->pos]);

                if (r != 0)
                        return r;
                p->pos++;
        }
        return HTTP_PARSE_AGAIN;
}
