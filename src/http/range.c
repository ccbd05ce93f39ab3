/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "http/range.h"

/* A range-spec as written, before it meets the representation's length. */
typedef struct RangeSpec {
        bool suffix;   /* "-N": the last N bytes */
        bool open;     /* "A-": from A to the end */
        uint64_t a, b; /* first and last, or the suffix length in a */
} RangeSpec;

static bool is_ows(char c) {
        return c == ' ' || c == '\t';
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* 1*DIGIT; saturates at UINT64_MAX: a position that large is past any file, which the caller
 * handles as unsatisfiable (first) or as the end (last, suffix). */
static bool parse_number(const char **p, const char *end, uint64_t *ret) {
        const char *s = *p;
        uint64_t v = 0;

        if (s >= end || !is_digit(*s))
                return false;
        for (; s < end && is_digit(*s); s++) {
                unsigned d = (unsigned) (*s - '0');
                v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
        }
        *p = s;
        *ret = v;
        return true;
}

/* One range-spec at *p (OWS already skipped); false on a syntax error. */
static bool parse_spec(const char **p, const char *end, RangeSpec *ret) {
        RangeSpec spec = {};

        if (*p < end && **p == '-') {
                (*p)++;
                spec.suffix = true;
                if (!parse_number(p, end, &spec.a))
                        return false;
        } else {
                if (!parse_number(p, end, &spec.a) || *p >= end || **p != '-')
                        return false;
                (*p)++;
                if (*p < end && is_digit(**p)) {
                        if (!parse_number(p, end, &spec.b) || spec.b < spec.a)
                                return false; /* last before first: invalid (RFC 9110 §14.1.1) */
                } else
                        spec.open = true;
        }
        *ret = spec;
        return true;
}

/* The bytes a spec selects, or false when it selects none of length bytes (length > 0). */
static bool spec_resolve(const RangeSpec *s, uint64_t length, HttpRange *ret) {
        if (s->suffix) {
                if (s->a == 0)
                        return false;
                ret->first = s->a >= length ? 0 : length - s->a;
                ret->last = length - 1;
                return true;
        }
        if (s->a >= length)
                return false;
        ret->first = s->a;
        ret->last = s->open || s->b >= length ? length - 1 : s->b;
        return true;
}

static int range_cmp(const void *x, const void *y) {
        const HttpRange *a = x, *b = y;
        return a->first < b->first ? -1 : a->first > b->first;
}

/* RFC 9110 §14.2: a server may ignore many overlapping ranges or ranges that together ask for more
 * than the whole: both only cost the server, and are the shape of range amplification attacks.
 * Returns 1 (abusive), 0, or -ENOMEM. */
static int ranges_abusive(const HttpRange *ranges, size_t n, uint64_t length) {
        _cleanup_free_ HttpRange *sorted = NULL;
        uint64_t total = 0, reach;
        unsigned overlaps = 0;

        for (size_t i = 0; i < n; i++) {
                total += ranges[i].last - ranges[i].first + 1;
                if (total > length)
                        return 1;
        }
        if (n < 2)
                return 0;
        sorted = reallocarray(NULL, n, sizeof(*sorted));
        if (!sorted)
                return -ENOMEM;
        memcpy(sorted, ranges, n * sizeof(*sorted));
        qsort(sorted, n, sizeof(*sorted), range_cmp);
        reach = sorted[0].last;
        for (size_t i = 1; i < n; i++) {
                if (sorted[i].first <= reach && ++overlaps > HTTP_RANGE_MAX_OVERLAPS)
                        return 1;
                reach = MAX(reach, sorted[i].last);
        }
        return 0;
}

int http_range_parse(const char *value, size_t len, uint64_t length, uint32_t max_ranges, HttpRange **ret_ranges,
                     size_t *ret_n) {
        _cleanup_free_ HttpRange *ranges = NULL;
        const char *p = value, *end = value + len;
        size_t n = 0, cap = 0, specs = 0;
        int r;

        *ret_ranges = NULL;
        *ret_n = 0;
        if (max_ranges == 0 || length == 0)
                return HTTP_RANGE_IGNORE;
        /* The unit is case-insensitive (RFC 9110 §14.1); only bytes is known here. */
        if (len < 6 || strncasecmp(value, "bytes=", 6) != 0)
                return HTTP_RANGE_IGNORE;
        p += 6;

        for (;;) {
                RangeSpec spec;
                HttpRange range;

                /* 1#range-spec: empty list elements and OWS around commas are allowed. */
                while (p < end && (is_ows(*p) || *p == ','))
                        p++;
                if (p >= end)
                        break;
                if (!parse_spec(&p, end, &spec))
                        return HTTP_RANGE_IGNORE;
                while (p < end && is_ows(*p))
                        p++;
                if (p < end && *p != ',')
                        return HTTP_RANGE_IGNORE;
                if (++specs > max_ranges)
                        return HTTP_RANGE_IGNORE;
                if (!spec_resolve(&spec, length, &range))
                        continue;
                if (n == cap) {
                        size_t c = cap ? cap * 2 : 4;
                        HttpRange *a = reallocarray(ranges, MIN(c, (size_t) max_ranges), sizeof(*a));
                        if (!a)
                                return -ENOMEM;
                        ranges = a;
                        cap = MIN(c, (size_t) max_ranges);
                }
                ranges[n++] = range;
        }
        if (specs == 0)
                return HTTP_RANGE_IGNORE;
        if (n == 0)
                return HTTP_RANGE_UNSATISFIABLE;
        r = ranges_abusive(ranges, n, length);
        if (r < 0)
                return r;
        if (r)
                return HTTP_RANGE_IGNORE;

        *ret_ranges = TAKE_PTR(ranges);
        *ret_n = n;
        return HTTP_RANGE_PARTIAL;
}

void http_range_boundary(char out[static 21]) {
        static const char hex[] = "0123456789abcdef";
        uint8_t bytes[10];

        /* Clients find parts by the boundary, so it must not be guessable from the content; the
         * fallback (no entropy yet at early boot) still differs per process and call. */
        if (getrandom(bytes, sizeof(bytes), GRND_NONBLOCK) != (ssize_t) sizeof(bytes)) {
                static _Thread_local uint64_t counter;
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                uint64_t a = (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
                uint64_t b = ((uint64_t) getpid() << 32) ^ ++counter;
                memcpy(bytes, &a, 8);
                memcpy(bytes + 8, &b, 2);
        }
        for (size_t i = 0; i < sizeof(bytes); i++) {
                out[2 * i] = hex[bytes[i] >> 4];
                out[2 * i + 1] = hex[bytes[i] & 15];
        }
        out[20] = 0;
}

int http_range_multipart(const HttpRange *ranges, size_t n, uint64_t length, const char *content_type,
                         const char *boundary, char **ret_text, HttpBodyPiece **ret_pieces, size_t *ret_n_pieces) {
        _cleanup_free_ HttpBodyPiece *pieces = NULL;
        _cleanup_free_ char *text = NULL;
        size_t blen = strlen(boundary), tlen = strlen(content_type);
        /* "\r\n--B\r\nContent-Type: T\r\nContent-Range: bytes A-B/L\r\n\r\n" with three 20-digit numbers */
        size_t part_max = 2 + 2 + blen + 2 + 14 + tlen + 2 + 21 + 3 * 20 + 2 + 2 + 2;
        size_t size = n * part_max + 2 + 2 + blen + 2 + 2 + 1, used = 0, k = 0;

        pieces = calloc(2 * n + 1, sizeof(*pieces));
        text = malloc(size);
        if (!pieces || !text)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                int m = snprintf(text + used, size - used,
                                 "%s--%s\r\nContent-Type: %s\r\nContent-Range: bytes %llu-%llu/%llu\r\n\r\n",
                                 i == 0 ? "" : "\r\n", boundary, content_type,
                                 (unsigned long long) ranges[i].first, (unsigned long long) ranges[i].last,
                                 (unsigned long long) length);
                /* size counts every byte of every part's head. */
                assert(m >= 0 && (size_t) m < size - used);
                pieces[k++] = (HttpBodyPiece) { .mem = text + used, .len = (uint64_t) m };
                pieces[k++] = (HttpBodyPiece) {
                        .off = (off_t) ranges[i].first,
                        .len = ranges[i].last - ranges[i].first + 1,
                };
                used += (size_t) m;
        }
        int m = snprintf(text + used, size - used, "\r\n--%s--\r\n", boundary);
        if (m < 0 || (size_t) m >= size - used)
                return -ENOBUFS;
        pieces[k++] = (HttpBodyPiece) { .mem = text + used, .len = (uint64_t) m };

        *ret_text = TAKE_PTR(text);
        *ret_pieces = TAKE_PTR(pieces);
        *ret_n_pieces = k;
        return 0;
}
