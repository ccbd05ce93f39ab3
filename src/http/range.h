/* SPDX-License-Identifier: MIT */
/* range.h — byte ranges (RFC 9110 §14): parsing a Range field against a representation's length,
 * and the multipart/byteranges body for several ranges.
 *
 * Contract: http_range_parse() decides what a Range field asks of a representation of a given
 * length: nothing usable (serve the whole representation with 200: a unit other than bytes, a
 * syntax error, more ranges than MaxRanges, more than two overlapping ranges, or ranges adding up
 * to more than the representation), ranges none of which can be satisfied (416), or a list of
 * satisfiable ranges in the order asked (206). Unsatisfiable ranges among satisfiable ones are
 * dropped, as RFC 9110 §14.1.1 allows. Neither function does I/O or keeps state; both allocate only
 * their results. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "http/response.h"

/* first..last, inclusive, both within the representation */
typedef struct HttpRange {
        uint64_t first, last;
} HttpRange;

typedef enum HttpRangeResult {
        HTTP_RANGE_IGNORE,        /* 200 with the whole representation */
        HTTP_RANGE_PARTIAL,       /* 206 with the ranges */
        HTTP_RANGE_UNSATISFIABLE, /* 416; its Content-Range gives only the length */
} HttpRangeResult;

/* More than this many ranges overlapping an earlier one make the set abusive (RFC 9110 §14.2). */
#define HTTP_RANGE_MAX_OVERLAPS 2

/* Parse the Range field value[0..len) ("bytes=0-99,-5") for a representation of length bytes;
 * max_ranges is MaxRanges (0: ranges are off, always IGNORE). Returns an HttpRangeResult; for
 * PARTIAL, *ret_ranges (malloc'd) holds *ret_n ranges. -ENOMEM on allocation failure. An empty
 * representation has no ranges to give: IGNORE. */
int http_range_parse(const char *value, size_t len, uint64_t length, uint32_t max_ranges, HttpRange **ret_ranges,
                     size_t *ret_n);

/* A boundary for multipart/byteranges: 20 random hex digits and a NUL. */
void http_range_boundary(char out[static 21]);

/* Build the multipart/byteranges body for ranges of a file of length bytes whose parts have the
 * media type content_type: every delimiter and part header goes into one malloc'd text
 * (*ret_text), and *ret_pieces (malloc'd, *ret_n_pieces = 2 * n + 1) alternates memory pieces into
 * that text with file pieces (off/len of each range), ending with the closing delimiter.
 * Returns 0 or -ENOMEM. */
int http_range_multipart(const HttpRange *ranges, size_t n, uint64_t length, const char *content_type,
                         const char *boundary, char **ret_text, HttpBodyPiece **ret_pieces, size_t *ret_n_pieces);
