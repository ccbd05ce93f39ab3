/* SPDX-License-Identifier: MIT */
/* conditional.c — conditional requests and ranges (see conditional.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/conditional.h"
#include "http/date.h"

/* Does the If-None-Match / If-Match list contain etag? Weak comparison for If-None-Match. "*"
 * matches any current representation; a representation without a tag matches nothing else. */
static bool etag_list_matches(const char *list, size_t len, const char *etag, bool weak) {
        size_t elen = etag ? strlen(etag) : 0;
        size_t i = 0;

        while (i < len) {
                while (i < len && (list[i] == ' ' || list[i] == '\t' || list[i] == ','))
                        i++;
                if (i >= len)
                        break;
                if (list[i] == '*')
                        return true;
                bool is_weak = false;
                if (len - i >= 2 && list[i] == 'W' && list[i + 1] == '/') {
                        is_weak = true;
                        i += 2;
                }
                size_t start = i;
                if (i < len && list[i] == '"') {
                        i++;
                        while (i < len && list[i] != '"')
                                i++;
                        if (i < len)
                                i++;
                } else
                        while (i < len && list[i] != ',')
                                i++;
                if (etag && (weak || !is_weak) && i - start == elen && memcmp(list + start, etag, elen) == 0)
                        return true;
        }
        return false;
}

static const HttpHeader *find(const HttpRequest *q, const char *name) {
        return http_head_find(q->head, q->buf, name);
}

static bool get_or_head(const HttpRequest *q) {
        return q->head->method == HTTP_METHOD_GET || q->head->method == HTTP_METHOD_HEAD;
}

/* A date field that parses, against a representation that has a date; false otherwise (the field
 * is then ignored, as RFC 9110 §13.1.3 and §13.1.4 say). */
static bool header_date(const HttpRequest *q, const HttpHeader *h, const HttpValidators *v, time_t *ret) {
        return v->has_last_modified && http_date_parse(q->buf + h->value.off, h->value.len, ret) >= 0;
}

int http_conditional_preconditions(const HttpRequest *q, const HttpValidators *v) {
        const HttpHeader *h;
        time_t since;

        h = find(q, "If-Match");
        if (h) {
                if (!etag_list_matches(q->buf + h->value.off, h->value.len, v->etag, false))
                        return 412;
        } else if ((h = find(q, "If-Unmodified-Since")) && header_date(q, h, v, &since) && v->last_modified > since)
                return 412;

        h = find(q, "If-None-Match");
        if (h) {
                if (etag_list_matches(q->buf + h->value.off, h->value.len, v->etag, true))
                        return get_or_head(q) ? 304 : 412;
        } else if (get_or_head(q) && (h = find(q, "If-Modified-Since")) && header_date(q, h, v, &since) &&
                   v->last_modified <= since)
                return 304;
        return 0;
}

bool http_conditional_if_range(const HttpRequest *q, const HttpValidators *v) {
        const HttpHeader *h = find(q, "If-Range");
        time_t t;

        if (!h)
                return true;
        const char *s = q->buf + h->value.off;
        size_t len = h->value.len;
        if (len > 0 && s[0] == '"')
                return v->etag && len == strlen(v->etag) && memcmp(s, v->etag, len) == 0;
        if (len >= 2 && s[0] == 'W' && s[1] == '/')
                return false;
        return header_date(q, h, v, &t) && t == v->last_modified;
}

int http_conditional_evaluate(const HttpRequest *q, const HttpValidators *v, uint32_t max_ranges,
                              HttpConditional *ret) {
        const HttpHeader *h;
        int k;

        *ret = (HttpConditional) { .status = 200 };
        k = http_conditional_preconditions(q, v);
        if (k != 0) {
                ret->status = k;
                return 0;
        }
        if (!get_or_head(q))
                return 0;
        h = find(q, "Range");
        if (!h || !http_conditional_if_range(q, v))
                return 0;
        k = http_range_parse(q->buf + h->value.off, h->value.len, v->length, max_ranges, &ret->ranges,
                             &ret->n_ranges);
        if (k < 0)
                return k;
        if (k == HTTP_RANGE_UNSATISFIABLE)
                ret->status = 416;
        else if (k == HTTP_RANGE_PARTIAL)
                ret->status = 206;
        return 0;
}

void http_conditional_done(HttpConditional *c) {
        c->ranges = mfree(c->ranges);
        c->n_ranges = 0;
}

void http_conditional_respond(HttpResponse *r, int status, const HttpValidators *v) {
        char date[32];

        http_response_set_error(r, status);
        if (status == 304) {
                if (v->etag)
                        http_response_add_header(r, "ETag", "%s", v->etag);
                if (v->has_last_modified && http_date_format(v->last_modified, date) >= 0)
                        http_response_add_header(r, "Last-Modified", "%s", date);
        } else if (status == 416)
                http_response_add_header(r, "Content-Range", "bytes */%llu", (unsigned long long) v->length);
}

int http_conditional_respond_file_ranges(HttpResponse *r, const HttpConditional *c, const HttpValidators *v,
                                         const char *content_type, int fd) {
        char boundary[21];
        int k;

        r->status = 206;
        if (c->n_ranges == 1) {
                http_response_add_header(r, "Content-Type", "%s", content_type);
                http_response_add_header(r, "Content-Range", "bytes %llu-%llu/%llu",
                                         (unsigned long long) c->ranges[0].first,
                                         (unsigned long long) c->ranges[0].last, (unsigned long long) v->length);
                r->file_fd = fd;
                r->file_off = (off_t) c->ranges[0].first;
                r->file_len = c->ranges[0].last - c->ranges[0].first + 1;
                return 0;
        }

        http_range_boundary(boundary);
        k = http_range_multipart(c->ranges, c->n_ranges, v->length, content_type, boundary, &r->body_owned,
                                 &r->pieces, &r->n_pieces);
        if (k < 0) {
                safe_close(fd);
                http_response_set_error(r, 500);
                return k;
        }
        http_response_add_header(r, "Content-Type", "multipart/byteranges; boundary=%s", boundary);
        r->pieces_fd = fd;
        return 0;
}
