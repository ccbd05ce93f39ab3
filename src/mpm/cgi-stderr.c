/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "mpm/cgi-stderr.h"

/* The escaped form of c in out (at most 4 bytes); returns its length. */
static size_t escape_byte(unsigned char c, char out[static 4]) {
        static const char hex[] = "0123456789abcdef";
        char named = 0;

        switch (c) {
        case '\\':
                named = '\\';
                break;
        case '\b':
                named = 'b';
                break;
        case '\n':
                named = 'n';
                break;
        case '\r':
                named = 'r';
                break;
        case '\t':
                named = 't';
                break;
        case '\v':
                named = 'v';
                break;
        default:
                if (c >= 0x20 && c <= 0x7e) {
                        out[0] = (char) c;
                        return 1;
                }
                out[0] = '\\';
                out[1] = 'x';
                out[2] = hex[c >> 4];
                out[3] = hex[c & 0xf];
                return 4;
        }
        out[0] = '\\';
        out[1] = named;
        return 2;
}

static void lines_put(CgiStderrLines *l, unsigned char c) {
        char e[4];
        size_t k;

        if (l->cut)
                return;
        k = escape_byte(c, e);
        /* Whole escapes only: a cut never leaves half of one, which would read as something else. */
        if (l->len + k > CGI_STDERR_LINE_MAX) {
                l->cut = true;
                return;
        }
        memcpy(l->line + l->len, e, k);
        l->len += k;
}

static void lines_reset(CgiStderrLines *l) {
        *l = CGI_STDERR_LINES_INIT;
}

/* The line so far as the caller gets it; false when there is nothing to say (an empty line). */
static bool lines_end(CgiStderrLines *l, const char **ret, size_t *ret_len) {
        /* A \r right before the end belongs to the line ending (CRLF), not to the text. */
        l->cr = false;
        if (l->len == 0 && !l->cut) {
                lines_reset(l);
                return false;
        }
        if (l->cut) {
                memcpy(l->line + l->len, CGI_STDERR_CUT_MARKER, sizeof(CGI_STDERR_CUT_MARKER) - 1);
                l->len += sizeof(CGI_STDERR_CUT_MARKER) - 1;
        }
        l->line[l->len] = 0;
        l->done = true;
        *ret = l->line;
        *ret_len = l->len;
        return true;
}

int cgi_stderr_lines_take(CgiStderrLines *l, const char **data, size_t *n, const char **ret, size_t *ret_len) {
        while (*n > 0) {
                unsigned char c = (unsigned char) **data;

                if (l->done)
                        lines_reset(l);
                (*data)++;
                (*n)--;
                if (c == '\n') {
                        if (lines_end(l, ret, ret_len))
                                return 1;
                        continue;
                }
                if (l->cr) {
                        /* Not a line ending after all: the \r is text, escaped as any other. */
                        lines_put(l, '\r');
                        l->cr = false;
                }
                if (c == '\r')
                        l->cr = true;
                else
                        lines_put(l, c);
        }
        return 0;
}

int cgi_stderr_lines_finish(CgiStderrLines *l, const char **ret, size_t *ret_len) {
        if (l->done)
                lines_reset(l);
        return lines_end(l, ret, ret_len) ? 1 : 0;
}

/* ---- the rate limit ------------------------------------------------------------------------- */

void cgi_stderr_rate_init(CgiStderrRate *r, unsigned rate, unsigned burst) {
        *r = (CgiStderrRate) { .rate = rate, .burst = burst > 0 ? burst : 1 };
}

static void rate_refill(CgiStderrRate *r, usec_t now) {
        uint64_t full = (uint64_t) r->burst * USEC_PER_SEC;

        if (r->last == 0) {
                r->tokens = full;
                r->last = now > 0 ? now : 1;
                return;
        }
        if (now <= r->last)
                return;
        /* Capped before the product: a bucket idle for hours is simply full. */
        uint64_t elapsed = MIN(now - r->last, full);
        r->tokens = MIN(full, r->tokens + elapsed * r->rate);
        r->last = now;
}

bool cgi_stderr_rate_check(CgiStderrRate *r, usec_t now) {
        rate_refill(r, now);
        return r->tokens >= USEC_PER_SEC;
}

void cgi_stderr_rate_take(CgiStderrRate *r) {
        r->tokens = r->tokens >= USEC_PER_SEC ? r->tokens - USEC_PER_SEC : 0;
}

void cgi_stderr_rate_drop(CgiStderrRate *r) {
        r->dropped++;
}

uint64_t cgi_stderr_rate_take_dropped(CgiStderrRate *r) {
        uint64_t d = r->dropped;
        r->dropped = 0;
        return d;
}

usec_t cgi_stderr_rate_next(const CgiStderrRate *r, usec_t now) {
        if (r->last == 0 || r->tokens >= USEC_PER_SEC)
                return now;
        if (r->rate == 0)
                return USEC_INFINITY;
        usec_t at = r->last + (USEC_PER_SEC - r->tokens + r->rate - 1) / r->rate;
        return MAX(at, now);
}
