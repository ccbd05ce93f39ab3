/* SPDX-License-Identifier: MIT */
/* conditional.h — conditional requests and ranges (RFC 9110 §13, §14), part of request processing:
 * one place that decides, for any handler serving a representation with validators (static files
 * today; error documents, FastCGI and proxy responses later), whether the answer is the whole
 * representation (200), some ranges of it (206), 304, 412 or 416.
 *
 * Contract: the handler describes the selected representation (HttpValidators: its strong ETag,
 * its Last-Modified date, its length) and asks http_conditional_evaluate(). The request's
 * preconditions are evaluated in RFC 9110 §13.2.2 order — If-Match, else If-Unmodified-Since;
 * If-None-Match, else If-Modified-Since (GET and HEAD only); then Range, if If-Range still names
 * the representation — and the first that decides wins. Only the request's head and buf are read;
 * nothing is logged, and nothing is allocated except the list of ranges of a 206 (which the caller
 * frees). A request without Range makes no allocation and no call beyond the header lookups.
 * http_conditional_respond() writes the answer's status and the headers that RFC 9110 asks of a
 * 304 and a 416; http_conditional_respond_file_ranges() the body of a 206 taken from a file. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "http/range.h"
#include "http/request.h"
#include "http/response.h"

typedef struct HttpValidators {
        const char *etag;      /* the strong entity tag, quoted ("\"…\""); NULL: the representation has none */
        bool has_last_modified;
        time_t last_modified;  /* seconds, as Last-Modified says it */
        uint64_t length;       /* of the whole representation, for Range */
} HttpValidators;

typedef struct HttpConditional {
        int status;        /* 200, 206, 304, 412 or 416 */
        HttpRange *ranges; /* 206: malloc'd, n_ranges of them, in the order asked; else NULL */
        size_t n_ranges;
} HttpConditional;

/* RFC 9110 §13.2.2 steps 1 to 4 only: 0 to go on, or 304 or 412. */
int http_conditional_preconditions(const HttpRequest *q, const HttpValidators *v);

/* RFC 9110 §13.1.5: does If-Range (if any) still name the representation? An exact strong ETag, or
 * exactly its Last-Modified date; a weak tag, another date or neither: false. No If-Range: true. */
bool http_conditional_if_range(const HttpRequest *q, const HttpValidators *v);

/* The whole evaluation: preconditions, then Range (GET and HEAD only; max_ranges is MaxRanges, 0
 * turns ranges off) with If-Range. Fills *ret; returns 0 or -ENOMEM (ret->status is then 200: the
 * caller may serve the whole representation or answer 500). */
int http_conditional_evaluate(const HttpRequest *q, const HttpValidators *v, uint32_t max_ranges,
                              HttpConditional *ret);

/* Free the ranges of *c. */
void http_conditional_done(HttpConditional *c);

/* Answer a 304, 412 or 416 in r: the status, and for a 304 the ETag and Last-Modified the 200
 * would carry (RFC 9110 §15.4.5), for a 416 Content-Range with the length (§15.5.17). */
void http_conditional_respond(HttpResponse *r, int status, const HttpValidators *v);

/* Answer a 206 in r from the open file fd (the response takes it, also on failure) holding the
 * representation of v->length bytes whose media type is content_type: one range as Content-Type,
 * Content-Range and a file slice; several as multipart/byteranges. The caller has added the
 * validators. Returns 0, or -ENOMEM with r answering 500. */
int http_conditional_respond_file_ranges(HttpResponse *r, const HttpConditional *c, const HttpValidators *v,
                                         const char *content_type, int fd);
