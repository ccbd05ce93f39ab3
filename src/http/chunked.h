/* SPDX-License-Identifier: MIT */
/* chunked.h — the chunked transfer coding (RFC 9112 §7.1) of a request body, decoded in place by
 * a byte-driven state machine: any split of the input gives the same result. Included by
 * parser.h, whose limits it shares. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "http/parser.h"

/* Chunked transfer coding (RFC 9112 §7.1), decoded in place. */
typedef struct HttpChunked {
        uint32_t state;
        uint64_t remaining; /* data bytes left in the current chunk */
        uint32_t line_len;  /* length of the current size/extension/trailer line */
        uint32_t trailer_fields;
        int32_t result;    /* once complete or rejected, every later feed returns this again */
        const char *error; /* static string naming why the body was rejected */
} HttpChunked;

void http_chunked_init(HttpChunked *d);

/* Decode buf[0..len). The decoded data is written compactly to the start of buf (it never overtakes
 * the input). *ret_consumed is how many input bytes were used, *ret_data how many data bytes are
 * now at buf[0..*ret_data). Returns 1 when the last chunk and the trailer section are complete
 * (bytes after it are not consumed), 0 when more input is needed, or a negated status (-400, -413
 * for a chunk size that overflows 63 bits) on error. Trailer fields are checked and discarded; a
 * size line, extension or trailer line longer than limits->field_size or more trailer lines than
 * limits->fields is an error (-431 for trailers, -400 for size lines). */
int http_chunked_feed(HttpChunked *d, const HttpParserLimits *limits, char *buf, size_t len, size_t *ret_consumed,
                      size_t *ret_data);
