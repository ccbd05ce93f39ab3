/* SPDX-License-Identifier: MIT */
/* json-writer.h — one JSON text written into a growing buffer, for tools that speak to scripts
 * (`mpmctl status --json`, `mpmctl audit --json`); its string escaping alone (json_escape) for the
 * status page's ?json.
 *
 * The writer puts the commas and the colons; the caller says what comes: begin/end of an object or
 * an array, a key (inside an object, before each value), a value. Strings are escaped as RFC 8259
 * asks: '"' and '\' with a backslash, every control byte below 0x20 as \u00XX; valid UTF-8 passes
 * through as it is, and each byte of an invalid sequence becomes U+FFFD, so the text is always
 * valid UTF-8 whatever the bytes were (a role or a path from a configuration file). Numbers are
 * integers, written in full.
 *
 * Errors are sticky: a call after a failure (-ENOMEM, or nesting beyond JSON_DEPTH_MAX) does
 * nothing, and json_writer_finish() reports the first one. Nothing checks that keys and values
 * alternate: a misuse writes invalid JSON, which the tests of each caller parse. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_DEPTH_MAX 32

typedef struct JsonWriter {
        char *buf;
        size_t len, size;
        unsigned depth;
        bool first[JSON_DEPTH_MAX]; /* nothing written yet at this level: no comma before the next */
        bool after_key;             /* a value follows its key: no comma */
        int error;
} JsonWriter;

void json_writer_init(JsonWriter *w);
void json_writer_done(JsonWriter *w); /* frees the buffer; accepts a writer never written to */

void json_object_begin(JsonWriter *w);
void json_object_end(JsonWriter *w);
void json_array_begin(JsonWriter *w);
void json_array_end(JsonWriter *w);
void json_key(JsonWriter *w, const char *key);
void json_string(JsonWriter *w, const char *s); /* NULL writes null */
void json_string_len(JsonWriter *w, const char *s, size_t len);
void json_int(JsonWriter *w, int64_t v);
void json_uint(JsonWriter *w, uint64_t v);
void json_bool(JsonWriter *w, bool v);
void json_null(JsonWriter *w);

/* The text written (NUL-terminated, owned by w) into *ret: 0, or the first error; -EBADMSG when
 * an object or an array is still open. */
int json_writer_finish(JsonWriter *w, const char **ret);

/* The escaping alone, for a writer with a buffer of its own (the status page, which allocates
 * nothing): the n bytes of s as one quoted JSON string, handed to emit in pieces. */
typedef void (*JsonEmit)(void *userdata, const char *p, size_t n);
void json_escape(const char *s, size_t n, JsonEmit emit, void *userdata);
