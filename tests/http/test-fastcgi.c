/* SPDX-License-Identifier: MIT */
/* Tests of the FastCGI records: the encoder's PARAMS at the 127/128 boundary of the length
 * encoding, pairs and STDIN spanning records and lent buffers of every small size, padding; the
 * decoder over a responder's answer split at every byte, END_REQUEST's statuses, and each stream
 * it must refuse. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/macro.h"
#include "http/fastcgi.h"

#define ID 0x1234

/* ---- encoder ---- */

Test(fastcgi, begin_and_abort_request) {
        uint8_t b[16];
        static const uint8_t expect[16] = { 1, 1, 0x12, 0x34, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0 };

        memset(b, 0xff, sizeof b);
        cr_assert_eq(fcgi_write_begin_request(b, sizeof b, ID, FCGI_RESPONDER, true), 16);
        cr_assert(memcmp(b, expect, 16) == 0);
        cr_assert_eq(fcgi_write_begin_request(b, sizeof b, ID, FCGI_RESPONDER, false), 16);
        cr_assert_eq(b[10], 0);
        cr_assert_eq(fcgi_write_begin_request(b, 15, ID, FCGI_RESPONDER, true), -ENOBUFS);
        cr_assert_eq(fcgi_write_abort_request(b, 8, 7), 8);
        cr_assert(memcmp(b, (const uint8_t[]) { 1, 2, 0, 7, 0, 0, 0, 0 }, 8) == 0);
        cr_assert_eq(fcgi_write_abort_request(b, 7, 7), -ENOBUFS);
}

/* Everything one stream wrote, taken apart again: the content of its records concatenated. */
typedef struct Records {
        uint8_t *content;
        size_t content_len;
        unsigned n_records;
        bool ended; /* the last record was empty, and only the last */
} Records;

static Records records_parse(const uint8_t *b, size_t len, uint8_t type, bool padded) {
        Records r = { .content = malloc(len + 1) };
        size_t pos = 0;

        cr_assert_not_null(r.content);
        while (pos < len) {
                FcgiHeader h;

                cr_assert_leq(pos + FCGI_HEADER_LEN, len, "a header cut off at %zu", pos);
                cr_assert_not(r.ended, "a record after the empty one");
                fcgi_header_read(b + pos, &h);
                cr_assert_eq(h.version, 1);
                cr_assert_eq(h.type, type);
                cr_assert_eq(h.request_id, ID);
                cr_assert_eq(b[pos + 7], 0, "reserved byte");
                pos += FCGI_HEADER_LEN;
                cr_assert_leq(pos + h.content_length + h.padding_length, len);
                if (padded)
                        cr_assert_eq((h.content_length + h.padding_length) % 8, 0, "record not 8-byte aligned");
                else
                        cr_assert_eq(h.padding_length, 0);
                memcpy(r.content + r.content_len, b + pos, h.content_length);
                r.content_len += h.content_length;
                pos += h.content_length + h.padding_length;
                r.n_records++;
                if (h.content_length == 0)
                        r.ended = true;
        }
        return r;
}

typedef struct Pair {
        size_t name_len, value_len;
        char name_fill, value_fill;
} Pair;

static char *fill(size_t n, char c) {
        char *s = malloc(n + 1);

        cr_assert_not_null(s);
        for (size_t i = 0; i < n; i++)
                s[i] = (char) (c + (char) (i % 7));
        return s;
}

static const Pair pairs[] = {
        { 0, 0, 'a', 'b' },     { 1, 1, 'a', 'b' },       { 127, 127, 'c', 'd' }, { 128, 128, 'e', 'f' },
        { 127, 128, 'g', 'h' }, { 11, 300, 'i', 'j' },    { 15, 70000, 'k', 'l' }, { 65535, 1, 'm', 'n' },
        { 129, 0, 'o', 'p' },   { 3, 131072, 'q', 'r' },
};

/* Encode the pairs into buffers of `bufsize` bytes, the way a connection would send them. */
static size_t params_encode(uint8_t *out, size_t bufsize, bool pad, const Pair *p, size_t n) {
        _cleanup_free_ uint8_t *buf = malloc(bufsize);
        FcgiStream s;
        size_t out_len = 0;

        cr_assert_not_null(buf);
        fcgi_stream_init(&s, FCGI_PARAMS, ID, pad);
        fcgi_stream_set_buffer(&s, buf, bufsize);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *name = fill(p[i].name_len, p[i].name_fill);
                _cleanup_free_ char *value = fill(p[i].value_len, p[i].value_fill);
                unsigned rounds = 0;
                int r;

                while ((r = fcgi_params_add(&s, name, p[i].name_len, value, p[i].value_len)) == 0) {
                        size_t k = fcgi_stream_flush(&s);

                        cr_assert_gt(k, 0, "buffer of %zu bytes: full, yet nothing to send", bufsize);
                        memcpy(out + out_len, buf, k);
                        out_len += k;
                        fcgi_stream_set_buffer(&s, buf, bufsize);
                        cr_assert_lt(++rounds, 1000000);
                }
                cr_assert_eq(r, 1);
        }
        while (fcgi_stream_end(&s) == 0) {
                size_t k = fcgi_stream_flush(&s);

                memcpy(out + out_len, buf, k);
                out_len += k;
                fcgi_stream_set_buffer(&s, buf, bufsize);
        }
        size_t k = fcgi_stream_flush(&s);
        memcpy(out + out_len, buf, k);
        return out_len + k;
}

static void params_check(const uint8_t *b, size_t len, bool pad, const Pair *p, size_t n, size_t bufsize) {
        Records r = records_parse(b, len, FCGI_PARAMS, pad);
        size_t pos = 0;

        cr_assert(r.ended, "buffer %zu: no empty PARAMS at the end", bufsize);
        for (size_t i = 0; i < n; i++) {
                FcgiPair got;
                int64_t k = fcgi_pair_parse((const char *) r.content + pos, r.content_len - pos, &got);
                _cleanup_free_ char *name = fill(p[i].name_len, p[i].name_fill);
                _cleanup_free_ char *value = fill(p[i].value_len, p[i].value_fill);

                cr_assert_gt(k, 0, "buffer %zu: pair %zu does not parse", bufsize, i);
                cr_assert_eq(got.name_len, p[i].name_len);
                cr_assert_eq(got.value_len, p[i].value_len);
                cr_assert(memcmp(got.name, name, got.name_len) == 0);
                cr_assert(memcmp(got.value, value, got.value_len) == 0);
                pos += (size_t) k;
        }
        cr_assert_eq(pos, r.content_len, "buffer %zu: bytes after the last pair", bufsize);
        free(r.content);
}

Test(fastcgi, params_length_encoding) {
        uint8_t out[1024];
        static const Pair p[] = { { 127, 128, 'a', 'b' } };
        size_t len = params_encode(out, sizeof out, false, p, 1);

        /* One record of 1 + 4 + 127 + 128 bytes, then the empty one. */
        cr_assert_eq(len, 8 + 260 + 8);
        cr_assert_eq(out[4] << 8 | out[5], 260);
        cr_assert_eq(out[8], 127, "a length of 127 takes one byte");
        cr_assert(memcmp(out + 9, (const uint8_t[]) { 0x80, 0, 0, 128 }, 4) == 0, "128 takes four, high bit set");
        params_check(out, len, false, p, 1, sizeof out);

        FcgiPair got;
        const uint8_t big[] = { 0x80, 0, 0, 1, 0x81, 0x00, 0x00, 0x00 };
        cr_assert_eq(fcgi_pair_parse((const char *) big, sizeof big, &got), 0, "16 MB of value is not here");
        const uint8_t cut[] = { 0x80, 0, 0 };
        cr_assert_eq(fcgi_pair_parse((const char *) cut, sizeof cut, &got), 0);
}

Test(fastcgi, params_big_buffer) {
        size_t bufsize = 1 << 20;
        _cleanup_free_ uint8_t *out = malloc(2 * bufsize);

        cr_assert_not_null(out);
        for (int pad = 0; pad <= 1; pad++) {
                size_t len = params_encode(out, bufsize, pad, pairs, ELEMENTSOF(pairs));
                Records r = records_parse(out, len, FCGI_PARAMS, pad);

                /* 65535 + 1 + a pair beyond 128 KB: records are cut at 65535 bytes. */
                cr_assert_geq(r.n_records, 5);
                free(r.content);
                params_check(out, len, pad, pairs, ELEMENTSOF(pairs), bufsize);
        }
}

Test(fastcgi, params_every_small_buffer) {
        /* Short pairs through every buffer size from the smallest that holds a record on. */
        static const Pair p[] = {
                { 9, 13, 'a', 'b' }, { 128, 3, 'c', 'd' }, { 0, 127, 'e', 'f' }, { 200, 200, 'g', 'h' },
        };
        /* A buffer of 16 with padding carries one content byte in 16. */
        _cleanup_free_ uint8_t *out = malloc(1 << 16);

        cr_assert_not_null(out);
        for (int pad = 0; pad <= 1; pad++)
                for (size_t bufsize = pad ? 16 : 9; bufsize <= 600; bufsize++) {
                        size_t len = params_encode(out, bufsize, pad, p, ELEMENTSOF(p));

                        params_check(out, len, pad, p, ELEMENTSOF(p), bufsize);
                }
}

Test(fastcgi, params_refused) {
        FcgiStream s;
        uint8_t b[64];

        fcgi_stream_init(&s, FCGI_PARAMS, ID, false);
        fcgi_stream_set_buffer(&s, b, sizeof b);
        cr_assert_eq(fcgi_params_add(&s, "x", (size_t) FCGI_MAX_PAIR_LENGTH + 1, "y", 1), -E2BIG);
        cr_assert_eq(fcgi_params_add(&s, "x", 1, "y", (size_t) FCGI_MAX_PAIR_LENGTH + 1), -E2BIG);
        cr_assert_eq(s.len, 0, "nothing written for a refused pair");
        cr_assert_eq(fcgi_stream_end(&s), 1);
        cr_assert_eq(fcgi_params_add(&s, "x", 1, "y", 1), -EINVAL, "a pair after the end");
        fcgi_stream_init(&s, FCGI_STDIN, ID, false);
        fcgi_stream_set_buffer(&s, b, sizeof b);
        cr_assert_eq(fcgi_params_add(&s, "x", 1, "y", 1), -EINVAL);
        /* A buffer too small for a header and a byte takes nothing, and says so. */
        fcgi_stream_init(&s, FCGI_PARAMS, ID, false);
        fcgi_stream_set_buffer(&s, b, 8);
        cr_assert_eq(fcgi_params_add(&s, "x", 1, "y", 1), 0);
        cr_assert_eq(fcgi_stream_flush(&s), 0);
}

Test(fastcgi, stdin_records) {
        size_t body_len = 200000;
        _cleanup_free_ char *body = fill(body_len, 'A');
        _cleanup_free_ uint8_t *out = malloc(body_len * 16 + 64); /* buffers of 16 bytes: one content byte each */
        static const size_t sizes[] = { 9, 16, 17, 100, 4096, 65543, 65544, 1 << 20 };

        cr_assert_not_null(out);
        for (int pad = 0; pad <= 1; pad++)
                for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                        size_t bufsize = sizes[i], given = 0, out_len = 0;
                        _cleanup_free_ uint8_t *buf = malloc(bufsize);
                        FcgiStream s;

                        if (pad && bufsize < 16)
                                continue;
                        fcgi_stream_init(&s, FCGI_STDIN, ID, pad);
                        fcgi_stream_set_buffer(&s, buf, bufsize);
                        /* The body arrives in client-sized pieces of 1000 bytes. */
                        while (given < body_len) {
                                size_t k = fcgi_stream_write(&s, body + given, MIN(1000, body_len - given));

                                given += k;
                                if (k == 0) {
                                        size_t n = fcgi_stream_flush(&s);
                                        memcpy(out + out_len, buf, n);
                                        out_len += n;
                                        fcgi_stream_set_buffer(&s, buf, bufsize);
                                }
                        }
                        while (fcgi_stream_end(&s) == 0) {
                                size_t n = fcgi_stream_flush(&s);
                                memcpy(out + out_len, buf, n);
                                out_len += n;
                                fcgi_stream_set_buffer(&s, buf, bufsize);
                        }
                        size_t n = fcgi_stream_flush(&s);
                        memcpy(out + out_len, buf, n);
                        out_len += n;
                        cr_assert_eq(fcgi_stream_write(&s, "x", 1), 0, "no STDIN after its end");

                        Records r = records_parse(out, out_len, FCGI_STDIN, pad);
                        cr_assert(r.ended);
                        cr_assert_eq(r.content_len, body_len, "buffer %zu: %zu bytes", bufsize, r.content_len);
                        cr_assert(memcmp(r.content, body, body_len) == 0);
                        if (bufsize == 1 << 20)
                                cr_assert_eq(r.n_records, 5, "200000 bytes are 4 records of at most 65535 and the end");
                        free(r.content);
                }
}

Test(fastcgi, header_for_writev) {
        uint8_t h[8];
        FcgiHeader got;

        fcgi_header_write(h, FCGI_STDIN, 0xfffe, 65535, 1);
        fcgi_header_read(h, &got);
        cr_assert_eq(got.version, 1);
        cr_assert_eq(got.type, FCGI_STDIN);
        cr_assert_eq(got.request_id, 0xfffe);
        cr_assert_eq(got.content_length, 65535);
        cr_assert_eq(got.padding_length, 1);
}

/* ---- decoder ---- */

/* Appends one record to a test stream. */
static size_t rec(uint8_t *out, uint8_t version, uint8_t type, uint16_t id, const void *content, uint16_t n,
                  uint8_t padding) {
        fcgi_header_write(out, type, id, n, padding);
        out[0] = version;
        if (n)
                memcpy(out + 8, content, n);
        memset(out + 8 + n, 0xee, padding);
        return 8 + (size_t) n + padding;
}

static size_t end_rec(uint8_t *out, uint16_t id, uint32_t app, uint8_t proto, uint8_t padding) {
        uint8_t body[8] = { (uint8_t) (app >> 24), (uint8_t) (app >> 16), (uint8_t) (app >> 8), (uint8_t) app, proto,
                            0xaa, 0xbb, 0xcc };

        return rec(out, 1, FCGI_END_REQUEST, id, body, 8, padding);
}

typedef struct Answer {
        int r;
        char out[4096], err[4096];
        size_t out_len, err_len;
        bool ended;
        uint32_t app_status;
        uint8_t protocol_status;
        unsigned events_after_end;
        const char *error;
} Answer;

/* Feed the stream in pieces: the first `first` bytes, then `step` at a time. The caller's buffer
 * holds only what the decoder has not consumed, which is nothing after every AGAIN. */
static Answer decode(const uint8_t *in, size_t len, size_t first, size_t step, uint64_t max_stderr) {
        Answer a = { 0 };
        FcgiDecoder d;
        size_t given = 0;

        fcgi_decoder_init(&d, ID, max_stderr);
        for (unsigned call = 0; given < len || call == 0; call++) {
                size_t piece = MIN(call == 0 ? first : step, len - given);
                _cleanup_free_ char *buf = malloc(piece + 1);
                size_t pos = 0;

                cr_assert_not_null(buf);
                memcpy(buf, in + given, piece);
                given += piece;
                for (;;) {
                        FcgiEvent ev;
                        size_t consumed;

                        a.r = fcgi_decoder_feed(&d, buf + pos, piece - pos, &consumed, &ev);
                        cr_assert_leq(consumed, piece - pos);
                        if (a.r < 0) {
                                a.error = d.error;
                                return a;
                        }
                        if (a.r == FCGI_DECODE_AGAIN) {
                                cr_assert_eq(consumed, piece - pos, "AGAIN with bytes left");
                                break;
                        }
                        if (a.ended)
                                a.events_after_end++;
                        switch (ev.type) {
                        case FCGI_EVENT_STDOUT:
                        case FCGI_EVENT_STDERR: {
                                char *to = ev.type == FCGI_EVENT_STDOUT ? a.out : a.err;
                                size_t *to_len = ev.type == FCGI_EVENT_STDOUT ? &a.out_len : &a.err_len;

                                cr_assert_gt(ev.len, 0, "an empty data event");
                                cr_assert(ev.data >= buf + pos && ev.data + ev.len <= buf + pos + consumed,
                                          "span outside what was consumed");
                                cr_assert_leq(*to_len + ev.len, sizeof a.out);
                                memcpy(to + *to_len, ev.data, ev.len);
                                *to_len += ev.len;
                                break;
                        }
                        case FCGI_EVENT_END:
                                a.ended = true;
                                a.app_status = ev.app_status;
                                a.protocol_status = ev.protocol_status;
                                cr_assert(fcgi_decoder_done(&d));
                                break;
                        }
                        pos += consumed;
                }
                if (piece == 0 && given == len)
                        break;
        }
        return a;
}

static const char head[] = "Status: 200 OK\r\nContent-Type: text/html\r\n\r\n<p>hello";

static size_t good_answer(uint8_t *s) {
        size_t n = 0;

        n += rec(s + n, 1, FCGI_STDOUT, ID, head, sizeof head - 1, 3);
        n += rec(s + n, 1, FCGI_STDERR, ID, "PHP Notice: x", 13, 0);
        n += rec(s + n, 1, FCGI_STDOUT, ID, " world</p>", 10, 6);
        n += rec(s + n, 1, FCGI_GET_VALUES_RESULT, 0, "\x0e\x01" "FCGI_MPXS_CONNS0", 18, 6);
        n += rec(s + n, 1, FCGI_STDERR, ID, " and y", 6, 2);
        n += rec(s + n, 1, FCGI_STDERR, ID, NULL, 0, 0);
        n += rec(s + n, 1, FCGI_STDOUT, ID, NULL, 0, 7);
        n += end_rec(s + n, ID, 0x01020304, FCGI_REQUEST_COMPLETE, 5);
        return n;
}

static void assert_good(const Answer *a, const char *how) {
        static const char out[] = "Status: 200 OK\r\nContent-Type: text/html\r\n\r\n<p>hello world</p>";

        cr_assert_eq(a->r, FCGI_DECODE_AGAIN, "%s: %d (%s)", how, a->r, a->error ? a->error : "-");
        cr_assert_eq(a->out_len, sizeof out - 1, "%s: %zu bytes of stdout", how, a->out_len);
        cr_assert(memcmp(a->out, out, a->out_len) == 0, "%s: stdout", how);
        cr_assert_eq(a->err_len, 19, "%s: stderr", how);
        cr_assert(memcmp(a->err, "PHP Notice: x and y", 19) == 0);
        cr_assert(a->ended, "%s: no end", how);
        cr_assert_eq(a->app_status, 0x01020304);
        cr_assert_eq(a->protocol_status, FCGI_REQUEST_COMPLETE);
        cr_assert_eq(a->events_after_end, 0);
}

Test(fastcgi, decode_at_every_split) {
        uint8_t s[1024];
        size_t len = good_answer(s);
        char how[48];

        Answer whole = decode(s, len, len, len, 0);

        assert_good(&whole, "whole");
        for (size_t k = 0; k <= len; k++) {
                Answer a = decode(s, len, k, len, 0);

                snprintf(how, sizeof how, "split at %zu", k);
                assert_good(&a, how);
        }
        for (size_t step = 1; step <= 17; step++) {
                Answer a = decode(s, len, step, step, 0);

                snprintf(how, sizeof how, "%zu bytes at a time", step);
                assert_good(&a, how);
        }
}

Test(fastcgi, end_request_statuses) {
        static const uint8_t statuses[] = { FCGI_REQUEST_COMPLETE, FCGI_CANT_MPX_CONN, FCGI_OVERLOADED,
                                            FCGI_UNKNOWN_ROLE, 200 };
        uint8_t s[64];

        for (size_t i = 0; i < ELEMENTSOF(statuses); i++) {
                size_t len = end_rec(s, ID, 255, statuses[i], 0);
                Answer a = decode(s, len, 1, 1, 0);

                cr_assert_eq(a.r, FCGI_DECODE_AGAIN, "%s", a.error);
                cr_assert(a.ended);
                cr_assert_eq(a.protocol_status, statuses[i]);
                cr_assert_eq(a.app_status, 255);
                cr_assert_eq(a.out_len, 0);
        }
}

Test(fastcgi, largest_record) {
        _cleanup_free_ uint8_t *s = malloc(70000);
        _cleanup_free_ char *big = fill(65535, 'x');
        size_t len;
        FcgiDecoder d;
        FcgiEvent ev;
        size_t consumed;

        cr_assert(s && big);
        len = rec(s, 1, FCGI_STDOUT, ID, big, 65535, 255);
        len += end_rec(s + len, ID, 0, 0, 0);
        fcgi_decoder_init(&d, ID, 0);
        cr_assert_eq(fcgi_decoder_feed(&d, (const char *) s, len, &consumed, &ev), FCGI_DECODE_EVENT);
        cr_assert_eq(ev.type, FCGI_EVENT_STDOUT);
        cr_assert_eq(ev.len, 65535);
        cr_assert_eq(ev.data, (const char *) s + 8, "a span of the caller's buffer, not a copy");
        cr_assert_eq(consumed, 8 + 65535);
        size_t rest = len - consumed;
        cr_assert_eq(fcgi_decoder_feed(&d, (const char *) s + consumed, rest, &consumed, &ev), FCGI_DECODE_EVENT);
        cr_assert_eq(ev.type, FCGI_EVENT_END);
        cr_assert_eq(consumed, rest, "padding of 255 and the end record consumed");
}

typedef struct BadCase {
        char name[48];
        uint8_t stream[256];
        uint32_t len;
        uint64_t max_stderr;
        char error[64];
} BadCase;

static BadCase bad_cases[64];

ParameterizedTestParameters(fastcgi, refused) {
        size_t n = 0, len;
        uint8_t *s;

#define BAD(nm, why)                                                  \
        (s = bad_cases[n].stream, snprintf(bad_cases[n].name, 48, "%s", nm), \
         snprintf(bad_cases[n].error, 64, "%s", why))
#define DONE_CASE() (bad_cases[n++].len = (uint32_t) len)

        BAD("version 2 header", "unsupported FastCGI version");
        len = rec(s, 2, FCGI_STDOUT, ID, "x", 1, 0);
        DONE_CASE();
        BAD("version 0 after good records", "unsupported FastCGI version");
        len = rec(s, 1, FCGI_STDOUT, ID, "abc", 3, 5);
        len += rec(s + len, 0, FCGI_STDOUT, ID, "x", 1, 0);
        DONE_CASE();
        BAD("another request id", "record for another request");
        len = rec(s, 1, FCGI_STDOUT, ID + 1, "x", 1, 0);
        DONE_CASE();
        BAD("END_REQUEST for another request", "record for another request");
        len = rec(s, 1, FCGI_STDOUT, ID, "x", 1, 0);
        len += end_rec(s + len, 1, 0, 0, 0);
        DONE_CASE();
        BAD("STDERR with id 0", "record for another request");
        len = rec(s, 1, FCGI_STDERR, 0, "x", 1, 0);
        DONE_CASE();
        BAD("STDIN from the application", "record type a responder does not send");
        len = rec(s, 1, FCGI_STDIN, ID, "x", 1, 0);
        DONE_CASE();
        BAD("BEGIN_REQUEST from the application", "record type a responder does not send");
        len = rec(s, 1, FCGI_BEGIN_REQUEST, ID, "\0\1\0\0\0\0\0\0", 8, 0);
        DONE_CASE();
        BAD("PARAMS from the application", "record type a responder does not send");
        len = rec(s, 1, FCGI_PARAMS, ID, NULL, 0, 0);
        DONE_CASE();
        BAD("type 0", "record type a responder does not send");
        len = rec(s, 1, 0, ID, NULL, 0, 0);
        DONE_CASE();
        BAD("type 200", "record type a responder does not send");
        len = rec(s, 1, 200, ID, NULL, 0, 0);
        DONE_CASE();
        BAD("UNKNOWN_TYPE", "the application did not know a record type we sent");
        len = rec(s, 1, FCGI_UNKNOWN_TYPE, 0, "\x0c\0\0\0\0\0\0\0", 8, 0);
        DONE_CASE();
        BAD("GET_VALUES_RESULT with an id", "management record with a request id");
        len = rec(s, 1, FCGI_GET_VALUES_RESULT, ID, NULL, 0, 0);
        DONE_CASE();
        BAD("END_REQUEST of 4 bytes", "FCGI_END_REQUEST body is not 8 bytes");
        len = rec(s, 1, FCGI_END_REQUEST, ID, "\0\0\0\0", 4, 0);
        DONE_CASE();
        BAD("END_REQUEST of 16 bytes", "FCGI_END_REQUEST body is not 8 bytes");
        len = rec(s, 1, FCGI_END_REQUEST, ID, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16, 0);
        DONE_CASE();
        BAD("bytes after END_REQUEST", "bytes after FCGI_END_REQUEST");
        len = end_rec(s, ID, 0, 0, 0);
        len += rec(s + len, 1, FCGI_STDOUT, ID, "late", 4, 0);
        DONE_CASE();
        BAD("a byte after padded END_REQUEST", "bytes after FCGI_END_REQUEST");
        len = end_rec(s, ID, 0, 0, 7);
        s[len++] = 1;
        DONE_CASE();
        BAD("STDOUT after its end", "FCGI_STDOUT after its end");
        len = rec(s, 1, FCGI_STDOUT, ID, "a", 1, 0);
        len += rec(s + len, 1, FCGI_STDOUT, ID, NULL, 0, 0);
        len += rec(s + len, 1, FCGI_STDOUT, ID, "b", 1, 0);
        DONE_CASE();
        BAD("STDERR after its end", "FCGI_STDERR after its end");
        len = rec(s, 1, FCGI_STDERR, ID, NULL, 0, 0);
        len += rec(s + len, 1, FCGI_STDERR, ID, "b", 1, 0);
        DONE_CASE();
        BAD("STDERR beyond the limit", "FCGI_STDERR beyond its limit");
        len = rec(s, 1, FCGI_STDERR, ID, "0123456789", 10, 0);
        len += rec(s + len, 1, FCGI_STDOUT, ID, "ok", 2, 0);
        len += rec(s + len, 1, FCGI_STDERR, ID, "0123456789", 10, 0);
        bad_cases[n].max_stderr = 15;
        DONE_CASE();
        /* A header claiming more content than will ever come is not an error, only incomplete:
         * the handler's timeout ends it. The oversized length a 16-bit field can hold is fine. */
        return cr_make_param_array(BadCase, bad_cases, n);
}

ParameterizedTest(BadCase *c, fastcgi, refused) {
        for (size_t k = 0; k <= c->len; k++) {
                Answer a = decode(c->stream, c->len, k, 1 + k % 5, c->max_stderr);

                cr_assert_eq(a.r, -EPROTO, "%s, split %zu: %d", c->name, k, a.r);
                cr_assert_str_eq(a.error, c->error, "%s, split %zu: %s", c->name, k, a.error);
                cr_assert_not(a.ended && strcmp(c->error, "bytes after FCGI_END_REQUEST") != 0);
        }
}

Test(fastcgi, error_is_sticky_and_partial_is_again) {
        uint8_t s[64];
        size_t len = rec(s, 2, FCGI_STDOUT, ID, "x", 1, 0), consumed;
        FcgiDecoder d;
        FcgiEvent ev;

        fcgi_decoder_init(&d, ID, 0);
        cr_assert_eq(fcgi_decoder_feed(&d, (const char *) s, 7, &consumed, &ev), FCGI_DECODE_AGAIN);
        cr_assert_eq(consumed, 7);
        cr_assert_null(d.error);
        cr_assert_eq(fcgi_decoder_feed(&d, (const char *) s + 7, len - 7, &consumed, &ev), -EPROTO);
        cr_assert_eq(fcgi_decoder_feed(&d, (const char *) s, len, &consumed, &ev), -EPROTO);
        cr_assert_eq(consumed, 0);

        /* A header promising 100 bytes of which 10 came: the 10 are reported, then AGAIN. */
        len = rec(s, 1, FCGI_STDOUT, ID, "0123456789", 10, 0);
        s[4] = 0;
        s[5] = 100;
        fcgi_decoder_init(&d, ID, 0);
        cr_assert_eq(fcgi_decoder_feed(&d, (const char *) s, len, &consumed, &ev), FCGI_DECODE_EVENT);
        cr_assert_eq(ev.len, 10);
        cr_assert_eq(fcgi_decoder_feed(&d, (const char *) s + len, 0, &consumed, &ev), FCGI_DECODE_AGAIN);
        cr_assert_not(fcgi_decoder_done(&d));
}
