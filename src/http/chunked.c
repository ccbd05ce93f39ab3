/* SPDX-License-Identifier: MIT */
/* chunked.c — the chunked transfer coding's decoder (chunked.h, RFC 9112 §7.1): a byte-driven state
 * machine like the head parser (parser.c), decoding in place; extensions and trailer fields are
 * checked against the same limits and dropped. */
#include <stdint.h>
#include <string.h>

#include "http/chunked.h"
#include "shared/hex.h"
#include "http/http-chars.h"
#include "shared/macro.h"

#define MAX_CHUNK_SIZE_DIGITS 16U
#define MAX_CHUNK_SIZE ((uint64_t) INT64_MAX)

enum {
        CS_SIZE_START,
        CS_SIZE,
        CS_SIZE_WS,         /* BWS after the size: only ";" may follow */
        CS_EXT_NAME_START,  /* after ";", BWS allowed */
        CS_EXT_NAME,
        CS_EXT_NAME_WS,     /* BWS after a name: "=" or ";" */
        CS_EXT_VALUE_START, /* after "=", BWS allowed */
        CS_EXT_TOKEN,
        CS_EXT_QUOTED,
        CS_EXT_QUOTED_ESCAPE,
        CS_EXT_AFTER_VALUE, /* just after a closing quote */
        CS_EXT_WS,          /* BWS after a value: only ";" may follow */
        CS_SIZE_LF,
        CS_DATA,
        CS_DATA_CR,
        CS_DATA_LF,
        CS_TRAILER_START,
        CS_TRAILER_NAME,
        CS_TRAILER_VALUE,
        CS_TRAILER_LF,
        CS_END_LF,
        CS_DONE,
        CS_FAILED,
};

void http_chunked_init(HttpChunked *d) {
        *d = (HttpChunked) { .state = CS_SIZE_START };
}

static int chunked_reject(HttpChunked *d, int status, const char *reason) {
        d->state = CS_FAILED;
        d->result = -status;
        d->error = reason;
        return -status;
}

static bool chunked_in_size_line(uint32_t state) {
        return state <= CS_EXT_WS; /* CS_SIZE_START is 0 */
}

static bool chunked_in_trailer_line(uint32_t state) {
        return state == CS_TRAILER_NAME || state == CS_TRAILER_VALUE;
}

/* One step for byte c outside chunk data. Returns 0 to go on, 1 when done, or a negated status. */
static int chunked_step(HttpChunked *d, const HttpParserLimits *limits, unsigned char c) {
        int v;

        if (c != '\r') {
                if (chunked_in_size_line(d->state) && ++d->line_len > limits->field_size)
                        return chunked_reject(d, 400, "chunk size line too long");
                if (chunked_in_trailer_line(d->state) && ++d->line_len > limits->field_size)
                        return chunked_reject(d, 431, "trailer field too long");
        }

        switch (d->state) {

        case CS_SIZE_START:
        case CS_SIZE:
                v = hex_digit_value(c);
                if (v >= 0) {
                        if (d->state == CS_SIZE_START) {
                                d->remaining = 0;
                                d->state = CS_SIZE;
                        }
                        /* line_len counts the digits: the size starts the line. */
                        if (d->line_len > MAX_CHUNK_SIZE_DIGITS)
                                return chunked_reject(d, 413, "chunk size too large");
                        d->remaining = d->remaining * 16 + (uint64_t) v;
                        if (d->remaining > MAX_CHUNK_SIZE)
                                return chunked_reject(d, 413, "chunk size too large");
                } else if (d->state == CS_SIZE_START)
                        return chunked_reject(d, 400, c == '\n' ? "bare LF in chunked body" : "invalid chunk size");
                else if (c == '\r')
                        d->state = CS_SIZE_LF;
                else if (c == ';')
                        d->state = CS_EXT_NAME_START;
                else if (char_is_ws(c))
                        d->state = CS_SIZE_WS;
                else
                        return chunked_reject(d, 400, c == '\n' ? "bare LF in chunked body" : "invalid chunk size");
                break;

        case CS_SIZE_WS:
        case CS_EXT_WS:
                if (c == ';')
                        d->state = CS_EXT_NAME_START;
                else if (!char_is_ws(c))
                        return chunked_reject(d, 400, "invalid chunk extension");
                break;

        case CS_EXT_NAME_START:
                if (char_is_tchar(c))
                        d->state = CS_EXT_NAME;
                else if (!char_is_ws(c))
                        return chunked_reject(d, 400, "invalid chunk extension");
                break;

        case CS_EXT_NAME:
        case CS_EXT_NAME_WS:
                if (c == '=')
                        d->state = CS_EXT_VALUE_START;
                else if (c == ';')
                        d->state = CS_EXT_NAME_START;
                else if (char_is_ws(c))
                        d->state = CS_EXT_NAME_WS;
                else if (c == '\r' && d->state == CS_EXT_NAME)
                        d->state = CS_SIZE_LF;
                else if (!char_is_tchar(c) || d->state != CS_EXT_NAME)
                        return chunked_reject(d, 400, "invalid chunk extension");
                break;

        case CS_EXT_VALUE_START:
                if (c == '"')
                        d->state = CS_EXT_QUOTED;
                else if (char_is_tchar(c))
                        d->state = CS_EXT_TOKEN;
                else if (!char_is_ws(c))
                        return chunked_reject(d, 400, "invalid chunk extension");
                break;

        case CS_EXT_TOKEN:
                if (c == ';')
                        d->state = CS_EXT_NAME_START;
                else if (c == '\r')
                        d->state = CS_SIZE_LF;
                else if (char_is_ws(c))
                        d->state = CS_EXT_WS;
                else if (!char_is_tchar(c))
                        return chunked_reject(d, 400, "invalid chunk extension");
                break;

        case CS_EXT_QUOTED:
                /* qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text */
                if (c == '"')
                        d->state = CS_EXT_AFTER_VALUE;
                else if (c == '\\')
                        d->state = CS_EXT_QUOTED_ESCAPE;
                else if (!char_is_ws(c) && !char_is_field_vchar(c))
                        return chunked_reject(d, 400, "invalid chunk extension");
                break;

        case CS_EXT_QUOTED_ESCAPE:
                if (!char_is_ws(c) && !char_is_field_vchar(c))
                        return chunked_reject(d, 400, "invalid chunk extension");
                d->state = CS_EXT_QUOTED;
                break;

        case CS_EXT_AFTER_VALUE:
                if (c == ';')
                        d->state = CS_EXT_NAME_START;
                else if (c == '\r')
                        d->state = CS_SIZE_LF;
                else if (char_is_ws(c))
                        d->state = CS_EXT_WS;
                else
                        return chunked_reject(d, 400, "invalid chunk extension");
                break;

        case CS_SIZE_LF:
                if (c != '\n')
                        return chunked_reject(d, 400, "bare CR in chunked body");
                d->line_len = 0;
                d->state = d->remaining == 0 ? CS_TRAILER_START : CS_DATA;
                break;

        case CS_DATA_CR:
                if (c != '\r')
                        return chunked_reject(d, 400, "chunk data not followed by CRLF");
                d->state = CS_DATA_LF;
                break;

        case CS_DATA_LF:
                if (c != '\n')
                        return chunked_reject(d, 400, "chunk data not followed by CRLF");
                d->line_len = 0;
                d->state = CS_SIZE_START;
                break;

        case CS_TRAILER_START:
                if (c == '\r')
                        d->state = CS_END_LF;
                else if (char_is_ws(c))
                        return chunked_reject(d, 400, "obsolete line folding in trailer");
                else if (c == '\n')
                        return chunked_reject(d, 400, "bare LF in chunked body");
                else if (!char_is_tchar(c))
                        return chunked_reject(d, 400, "invalid trailer field name");
                else if (++d->trailer_fields > limits->fields)
                        return chunked_reject(d, 431, "too many trailer fields");
                else if (++d->line_len > limits->field_size)
                        return chunked_reject(d, 431, "trailer field too long");
                else
                        d->state = CS_TRAILER_NAME;
                break;

        case CS_TRAILER_NAME:
                if (c == ':')
                        d->state = CS_TRAILER_VALUE;
                else if (c == '\n')
                        return chunked_reject(d, 400, "bare LF in chunked body");
                else if (!char_is_tchar(c))
                        return chunked_reject(d, 400, "invalid trailer field name");
                break;

        case CS_TRAILER_VALUE:
                if (c == '\r')
                        d->state = CS_TRAILER_LF;
                else if (c == '\n')
                        return chunked_reject(d, 400, "bare LF in chunked body");
                else if (!char_is_ws(c) && !char_is_field_vchar(c))
                        return chunked_reject(d, 400, "invalid byte in trailer value");
                break;

        case CS_TRAILER_LF:
                if (c != '\n')
                        return chunked_reject(d, 400, "bare CR in chunked body");
                d->line_len = 0;
                d->state = CS_TRAILER_START;
                break;

        case CS_END_LF:
                if (c != '\n')
                        return chunked_reject(d, 400, "bare CR in chunked body");
                d->state = CS_DONE;
                d->result = 1;
                return 1;

        default:
                return chunked_reject(d, 500, "chunked decoder in an impossible state");
        }

        return 0;
}

int http_chunked_feed(HttpChunked *d, const HttpParserLimits *limits, char *buf, size_t len, size_t *ret_consumed,
                      size_t *ret_data) {
        size_t r = 0, w = 0;
        int ret = 0;

        if (d->state == CS_DONE || d->state == CS_FAILED) {
                *ret_consumed = 0;
                *ret_data = 0;
                return d->result;
        }

        while (r < len) {
                if (d->state == CS_DATA) {
                        size_t n = (size_t) MIN(d->remaining, (uint64_t) (len - r));

                        /* The output never overtakes the input: w <= r always. */
                        if (w != r)
                                memmove(buf + w, buf + r, n);
                        w += n;
                        r += n;
                        d->remaining -= n;
                        if (d->remaining == 0)
                                d->state = CS_DATA_CR;
                        continue;
                }

                ret = chunked_step(d, limits, (unsigned char) buf[r++]);
                if (ret != 0)
                        break;
        }

        *ret_consumed = r;
        *ret_data = w;
        return ret;
}
