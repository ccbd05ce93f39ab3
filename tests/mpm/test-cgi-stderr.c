/* SPDX-License-Identifier: MIT */
/* Tests of what a CGI program's stderr becomes before it reaches an error log: lines split at
 * newlines whatever the chunks, control and non-ASCII bytes escaped as Apache's ap_escape_logitem
 * does, an over-long line cut with a marker (never inside an escape), a partial last line given
 * at the end, and the token bucket that bounds how many lines get through. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "mpm/cgi-stderr.h"

/* Every line of input (fed in chunks of chunk bytes), joined with "|", the last partial one too. */
static char *lines_of(const char *in, size_t in_len, size_t chunk) {
        static char out[16384];
        CgiStderrLines l = CGI_STDERR_LINES_INIT;
        const char *line;
        size_t len, used = 0;

        out[0] = 0;
        for (size_t off = 0; off < in_len; off += chunk) {
                const char *p = in + off;
                size_t n = MIN(chunk, in_len - off);
                while (cgi_stderr_lines_take(&l, &p, &n, &line, &len) == 1) {
                        cr_assert_eq(strlen(line), len);
                        used += (size_t) snprintf(out + used, sizeof(out) - used, "%s%s", used ? "|" : "", line);
                }
                cr_assert_eq(n, 0);
        }
        if (cgi_stderr_lines_finish(&l, &line, &len) == 1)
                used += (size_t) snprintf(out + used, sizeof(out) - used, "%s%s", used ? "|" : "", line);
        cr_assert_eq(cgi_stderr_lines_finish(&l, &line, &len), 0, "finish gives the last line once");
        return out;
}

/* Arrays, not pointers: criterion runs each case in a new process, where the parent's addresses of
 * string literals mean nothing. */
typedef struct LineCase {
        char in[64];
        size_t in_len; /* 0: strlen(in) */
        char want[96];
} LineCase;

static LineCase line_cases[] = {
        { "one\ntwo\n", 0, "one|two" },
        { "no newline at the end", 0, "no newline at the end" },
        { "fake [error] line\n\x1b[31m", 0, "fake [error] line|\\x1b[31m" },
        { "crlf\r\nline\r\n", 0, "crlf|line" },
        { "hidden\rshown\n", 0, "hidden\\rshown" },
        { "\n\n\r\nafter empty lines\n", 0, "after empty lines" },
        { "tab\there\\back\n", 0, "tab\\there\\\\back" },
        { "bell\a del\x7f nul\0 end\n", 20, "bell\\x07 del\\x7f nul\\x00 end" },
        { "utf8 \xc3\xa9 c1 \xc2\x9b bidi \xe2\x80\xae\n", 0,
          "utf8 \\xc3\\xa9 c1 \\xc2\\x9b bidi \\xe2\\x80\\xae" },
        { "\b\v\f\n", 0, "\\b\\v\\x0c" },
        { "trailing cr at the end\r", 0, "trailing cr at the end" },
};

ParameterizedTestParameters(cgi_stderr, lines) {
        return cr_make_param_array(LineCase, line_cases, ELEMENTSOF(line_cases));
}

ParameterizedTest(LineCase *c, cgi_stderr, lines) {
        size_t len = c->in_len ? c->in_len : strlen(c->in);

        /* Whole, and byte by byte: a line never depends on how the pipe chunked it. */
        cr_assert_str_eq(lines_of(c->in, len, len), c->want);
        cr_assert_str_eq(lines_of(c->in, len, 1), c->want);
        cr_assert_str_eq(lines_of(c->in, len, 3), c->want);
}

Test(cgi_stderr, a_long_line_is_cut_with_a_marker_and_its_rest_dropped) {
        static char in[3 * CGI_STDERR_LINE_MAX + 16];
        size_t n = 0;

        memset(in, 'a', 3 * CGI_STDERR_LINE_MAX);
        n = 3 * CGI_STDERR_LINE_MAX;
        memcpy(in + n, "\nnext\n", 6);
        n += 6;
        for (size_t chunk = 1; chunk <= n; chunk *= 7) {
                const char *out = lines_of(in, n, chunk);
                const char *bar = strchr(out, '|');
                cr_assert_not_null(bar);
                cr_assert_eq((size_t) (bar - out), CGI_STDERR_LINE_MAX + strlen(CGI_STDERR_CUT_MARKER));
                cr_assert_eq(strncmp(bar - strlen(CGI_STDERR_CUT_MARKER), CGI_STDERR_CUT_MARKER,
                                     strlen(CGI_STDERR_CUT_MARKER)),
                             0);
                cr_assert_str_eq(bar + 1, "next", "the rest of the long line is dropped, the next line kept");
        }
}

Test(cgi_stderr, a_cut_never_splits_an_escape) {
        static char in[CGI_STDERR_LINE_MAX + 8];

        /* One byte short of the limit, then an escape of four: it must not fit half. */
        memset(in, 'a', CGI_STDERR_LINE_MAX - 1);
        in[CGI_STDERR_LINE_MAX - 1] = 0x1b;
        in[CGI_STDERR_LINE_MAX] = '\n';
        const char *out = lines_of(in, CGI_STDERR_LINE_MAX + 1, CGI_STDERR_LINE_MAX + 1);
        cr_assert_eq(strlen(out), CGI_STDERR_LINE_MAX - 1 + strlen(CGI_STDERR_CUT_MARKER));
        cr_assert_null(strchr(out, '\\'));
}

Test(cgi_stderr, a_long_partial_last_line_is_cut_too) {
        static char in[2 * CGI_STDERR_LINE_MAX];

        memset(in, 'z', sizeof(in));
        const char *out = lines_of(in, sizeof(in), 100);
        cr_assert_eq(strlen(out), CGI_STDERR_LINE_MAX + strlen(CGI_STDERR_CUT_MARKER));
}

Test(cgi_stderr, the_bucket_allows_a_burst_then_the_rate) {
        CgiStderrRate r;
        usec_t t = 1000 * USEC_PER_SEC;
        unsigned allowed = 0;

        cgi_stderr_rate_init(&r, 10, 50);
        /* As fast as possible for one second of 100000 attempts: the burst and ten more. */
        for (unsigned i = 0; i < 100000; i++) {
                usec_t now = t + i * 10;
                if (cgi_stderr_rate_check(&r, now)) {
                        cgi_stderr_rate_take(&r);
                        allowed++;
                } else
                        cgi_stderr_rate_drop(&r);
        }
        cr_assert(allowed >= 50 + 9 && allowed <= 50 + 10, "allowed %u", allowed);
        cr_assert_eq(cgi_stderr_rate_take_dropped(&r), 100000 - allowed);
        cr_assert_eq(cgi_stderr_rate_take_dropped(&r), 0, "the count resets");
}

Test(cgi_stderr, an_empty_bucket_says_when_it_has_a_line_again) {
        CgiStderrRate r;
        usec_t t = 5 * USEC_PER_SEC;

        cgi_stderr_rate_init(&r, 4, 2);
        cr_assert_eq(cgi_stderr_rate_next(&r, t), t, "a fresh bucket is full");
        for (int i = 0; i < 2; i++) {
                cr_assert(cgi_stderr_rate_check(&r, t));
                cgi_stderr_rate_take(&r);
        }
        cr_assert_not(cgi_stderr_rate_check(&r, t));
        usec_t next = cgi_stderr_rate_next(&r, t);
        cr_assert_eq(next, t + USEC_PER_SEC / 4);
        cr_assert_not(cgi_stderr_rate_check(&r, next - 1));
        cr_assert(cgi_stderr_rate_check(&r, next));
        cr_assert_eq(cgi_stderr_rate_next(&r, next), next);
}

Test(cgi_stderr, an_idle_bucket_fills_up_to_its_burst_only) {
        CgiStderrRate r;
        usec_t t = 1;
        unsigned allowed = 0;

        cgi_stderr_rate_init(&r, 1000, 3);
        cr_assert(cgi_stderr_rate_check(&r, t));
        cgi_stderr_rate_take(&r);
        /* A day later: still no more than the burst at once. */
        t += 86400 * USEC_PER_SEC;
        while (cgi_stderr_rate_check(&r, t) && allowed < 100) {
                cgi_stderr_rate_take(&r);
                allowed++;
        }
        cr_assert_eq(allowed, 3);
}
