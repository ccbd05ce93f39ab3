/* SPDX-License-Identifier: MIT */
/* json-writer.c — see json-writer.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/json-writer.h"

void json_writer_init(JsonWriter *w) {
        *w = (JsonWriter) { .first[0] = true };
}

void json_writer_done(JsonWriter *w) {
        free(w->buf);
        json_writer_init(w);
}

static void put(JsonWriter *w, const char *s, size_t n) {
        if (w->error < 0)
                return;
        if (w->len + n + 1 > w->size) {
                size_t size = w->size ? w->size : 256;
                while (size < w->len + n + 1)
                        size *= 2;
                char *b = realloc(w->buf, size);
                if (!b) {
                        w->error = -ENOMEM;
                        return;
                }
                w->buf = b;
                w->size = size;
        }
        memcpy(w->buf + w->len, s, n);
        w->len += n;
        w->buf[w->len] = 0;
}

static void puts_(JsonWriter *w, const char *s) {
        put(w, s, strlen(s));
}

/* Before any value or key: the comma that separates it from the one before, unless it is a key's
 * value or the first of its level. */
static void separate(JsonWriter *w) {
        if (w->after_key) {
                w->after_key = false;
                return;
        }
        if (!w->first[w->depth])
                put(w, ",", 1);
        w->first[w->depth] = false;
}

static void open_(JsonWriter *w, char c) {
        separate(w);
        if (w->depth + 1 >= JSON_DEPTH_MAX) {
                if (w->error == 0)
                        w->error = -E2BIG;
                return;
        }
        put(w, &c, 1);
        w->first[++w->depth] = true;
}

static void close_(JsonWriter *w, char c) {
        if (w->depth == 0) {
                if (w->error == 0)
                        w->error = -EBADMSG;
                return;
        }
        put(w, &c, 1);
        w->depth--;
}

void json_object_begin(JsonWriter *w) {
        open_(w, '{');
}

void json_object_end(JsonWriter *w) {
        close_(w, '}');
}

void json_array_begin(JsonWriter *w) {
        open_(w, '[');
}

void json_array_end(JsonWriter *w) {
        close_(w, ']');
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0 when it is not one: no
 * overlong forms, no surrogates, nothing above U+10FFFF (RFC 3629). */
static size_t utf8_valid(const unsigned char *s, size_t n) {
        size_t len;
        uint32_t cp;

        if (s[0] < 0xc2)
                return 0; /* a continuation byte, or the lead of an overlong 2-byte form */
        if (s[0] < 0xe0)
                len = 2, cp = s[0] & 0x1f;
        else if (s[0] < 0xf0)
                len = 3, cp = s[0] & 0x0f;
        else if (s[0] < 0xf5)
                len = 4, cp = s[0] & 0x07;
        else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

void json_escape(const char *str, size_t n, JsonEmit emit, void *userdata) {
        const unsigned char *s = (const unsigned char *) str;
        size_t run = 0; /* bytes that pass as they are, written in one go */

        emit(userdata, "\"", 1);
        for (size_t i = 0; i < n;) {
                char esc[8];
                const char *e = NULL;
                size_t k = 1;

                if (s[i] == '"')
                        e = "\\\"";
                else if (s[i] == '\\')
                        e = "\\\\";
                else if (s[i] < 0x20) {
                        snprintf(esc, sizeof(esc), "\\u%04x", s[i]);
                        e = esc;
                } else if (s[i] >= 0x80) {
                        k = utf8_valid(s + i, n - i);
                        if (k == 0) {
                                e = "\\ufffd";
                                k = 1;
                        }
                }
                if (e) {
                        if (run > 0)
                                emit(userdata, str + i - run, run);
                        run = 0;
                        emit(userdata, e, strlen(e));
                } else
                        run += k;
                i += k;
        }
        if (run > 0)
                emit(userdata, str + n - run, run);
        emit(userdata, "\"", 1);
}

static void writer_emit(void *userdata, const char *p, size_t n) {
        put(userdata, p, n);
}

static void put_string(JsonWriter *w, const char *str, size_t n) {
        json_escape(str, n, writer_emit, w);
}

void json_key(JsonWriter *w, const char *key) {
        separate(w);
        put_string(w, key, strlen(key));
        put(w, ":", 1);
        w->after_key = true;
}

void json_string_len(JsonWriter *w, const char *s, size_t len) {
        separate(w);
        put_string(w, s, len);
}

void json_string(JsonWriter *w, const char *s) {
        if (!s) {
                json_null(w);
                return;
        }
        json_string_len(w, s, strlen(s));
}

void json_int(JsonWriter *w, int64_t v) {
        char b[24];

        separate(w);
        snprintf(b, sizeof(b), "%" PRId64, v);
        puts_(w, b);
}

void json_uint(JsonWriter *w, uint64_t v) {
        char b[24];

        separate(w);
        snprintf(b, sizeof(b), "%" PRIu64, v);
        puts_(w, b);
}

void json_bool(JsonWriter *w, bool v) {
        separate(w);
        puts_(w, v ? "true" : "false");
}

void json_null(JsonWriter *w) {
        separate(w);
        puts_(w, "null");
}

int json_writer_finish(JsonWriter *w, const char **ret) {
        if (w->error < 0)
                return w->error;
        if (w->depth > 0)
                return -EBADMSG;
        put(w, "", 0); /* an empty text is still a NUL-terminated buffer */
        if (w->error < 0)
                return w->error;
        *ret = w->buf;
        return 0;
}
