/* SPDX-License-Identifier: MIT */
/* cgi-stderr.h — what a CGI program writes to its stderr, made fit for an error log: cut into
 * lines, each escaped and bounded, and a rate limit on how many lines get there.
 *
 * A program's stderr is the tenant's text in a file the operator (and tools that parse it) trusts.
 * So a line keeps nothing that could pass for another line or another writer: no newline (each
 * line of the program is one line of the log, behind the prefix the launcher writes), no control
 * byte (a terminal's escape sequence, a carriage return that hides what came before), no byte
 * above 0x7e (C1 controls, bidi overrides), and a backslash doubled so the escapes read one way.
 * Apache's ap_escape_logitem() writes the same: \" is left alone here (the error log does not
 * quote), \b \n \r \t \v by name, any other as \xhh. A line longer than CGI_STDERR_LINE_MAX
 * escaped bytes is cut there, CGI_STDERR_CUT_MARKER appended, and the rest of it until its newline
 * is dropped. A trailing \r (a CRLF line) is dropped with its newline; empty lines are skipped.
 *
 * The limit is a token bucket: rate lines a second, burst at most at once. A line that finds the
 * bucket empty is dropped and counted, so the caller can say how many in one line of its own.
 *
 * Pure: no I/O, no clock (callers pass CLOCK_MONOTONIC microseconds), no allocation. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"

#define CGI_STDERR_LINE_MAX 1024 /* escaped bytes of one line, the marker not counted */
#define CGI_STDERR_CUT_MARKER " [line cut]"

typedef struct CgiStderrLines {
        char line[CGI_STDERR_LINE_MAX + sizeof(CGI_STDERR_CUT_MARKER)];
        size_t len;
        bool cr;  /* the last byte taken was \r, not yet written: it may end a CRLF line */
        bool cut; /* the current line was cut: drop bytes until its newline */
        bool done; /* the line in .line was handed out: start a new one with the next byte */
} CgiStderrLines;

#define CGI_STDERR_LINES_INIT ((CgiStderrLines) {})

/* Take bytes from *data (advancing it and *n) until a line is complete: returns 1 with the escaped
 * line (no newline, NUL-terminated, valid until the next call) in *ret and its length in *ret_len;
 * 0 when every byte was taken and no line is complete yet. */
int cgi_stderr_lines_take(CgiStderrLines *l, const char **data, size_t *n, const char **ret, size_t *ret_len);

/* At the end of the stream: the last line if it had no newline (1), else 0. */
int cgi_stderr_lines_finish(CgiStderrLines *l, const char **ret, size_t *ret_len);

typedef struct CgiStderrRate {
        unsigned rate;   /* lines per second */
        unsigned burst;  /* the bucket's size, in lines */
        uint64_t tokens; /* in millionths of a line: one line costs USEC_PER_SEC */
        usec_t last;     /* when tokens was brought up to date; 0: never (the bucket starts full) */
        uint64_t dropped; /* lines refused since cgi_stderr_rate_take_dropped() */
} CgiStderrRate;

void cgi_stderr_rate_init(CgiStderrRate *r, unsigned rate, unsigned burst);

/* May one more line be written now? Does not take it. */
bool cgi_stderr_rate_check(CgiStderrRate *r, usec_t now);
/* Take one line's token (after cgi_stderr_rate_check() said yes). */
void cgi_stderr_rate_take(CgiStderrRate *r);
/* Count one line refused. */
void cgi_stderr_rate_drop(CgiStderrRate *r);
/* How many lines were refused since the last call; resets the count. */
uint64_t cgi_stderr_rate_take_dropped(CgiStderrRate *r);
/* When the next line will be allowed (now if it already is). */
usec_t cgi_stderr_rate_next(const CgiStderrRate *r, usec_t now);
