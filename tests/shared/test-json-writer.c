/* SPDX-License-Identifier: MIT */
/* Tests of the JSON writer: the punctuation it puts, and the escaping of every string, byte by byte
 * (quotes, backslashes, control bytes, UTF-8 passed through, invalid UTF-8 replaced). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "shared/json-writer.h"

/* The text of one string value. */
static void assert_string(const char *in, size_t len, const char *want) {
        JsonWriter w;
        const char *out = NULL;

        json_writer_init(&w);
        json_string_len(&w, in, len);
        cr_assert_eq(json_writer_finish(&w, &out), 0);
        cr_assert_str_eq(out, want, "the string of %zu bytes \"%s\"", len, in);
        json_writer_done(&w);
}

typedef struct StringCase {
        const char *in;
        size_t len;
        const char *want;
} StringCase;

#define CASE(in, want) { in, sizeof(in) - 1, want }

/* A table in one test: criterion's parameters would need every string in its own shared memory. */
Test(json_writer, escaping) {
        static const StringCase cases[] = {
                CASE("", "\"\""),
                CASE("plain", "\"plain\""),
                CASE("say \"hi\"", "\"say \\\"hi\\\"\""),
                CASE("C:\\dir\\", "\"C:\\\\dir\\\\\""),
                CASE("a\nb\tc\r", "\"a\\u000ab\\u0009c\\u000d\""),
                CASE("\x01\x1f", "\"\\u0001\\u001f\""),
                CASE("nul\0in", "\"nul\\u0000in\""),
                CASE("\x7f", "\"\x7f\""),                         /* DEL is not a control byte to JSON */
                CASE("caf\xc3\xa9", "\"caf\xc3\xa9\""),             /* 2 bytes */
                CASE("\xe2\x82\xac 5", "\"\xe2\x82\xac 5\""),       /* 3 bytes */
                CASE("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""),   /* 4 bytes */
                CASE("x\xffy", "\"x\\ufffdy\""),                    /* never a UTF-8 byte */
                CASE("\xc3", "\"\\ufffd\""),                        /* cut short at the end */
                CASE("\xc3(", "\"\\ufffd(\""),                      /* a lead without its continuation */
                CASE("\xc0\xaf", "\"\\ufffd\\ufffd\""),             /* overlong '/' */
                CASE("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""),  /* a surrogate */
                CASE("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""), /* above U+10FFFF */
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                assert_string(cases[i].in, cases[i].len, cases[i].want);
}

Test(json_writer, keys_are_escaped_too) {
        JsonWriter w;
        const char *out = NULL;

        json_writer_init(&w);
        json_object_begin(&w);
        json_key(&w, "a\"b\\");
        json_int(&w, 1);
        json_object_end(&w);
        cr_assert_eq(json_writer_finish(&w, &out), 0);
        cr_assert_str_eq(out, "{\"a\\\"b\\\\\":1}");
        json_writer_done(&w);
}

Test(json_writer, nesting_commas_and_scalars) {
        JsonWriter w;
        const char *out = NULL;

        json_writer_init(&w);
        json_object_begin(&w);
        json_key(&w, "n");
        json_int(&w, -42);
        json_key(&w, "big");
        json_uint(&w, UINT64_MAX);
        json_key(&w, "list");
        json_array_begin(&w);
        json_bool(&w, true);
        json_bool(&w, false);
        json_null(&w);
        json_string(&w, NULL);
        json_array_begin(&w);
        json_array_end(&w);
        json_object_begin(&w);
        json_object_end(&w);
        json_array_end(&w);
        json_key(&w, "s");
        json_string(&w, "x");
        json_object_end(&w);
        cr_assert_eq(json_writer_finish(&w, &out), 0);
        cr_assert_str_eq(out, "{\"n\":-42,\"big\":18446744073709551615,\"list\":[true,false,null,null,[],{}],\"s\":\"x\"}");
        json_writer_done(&w);
}

Test(json_writer, grows_past_its_first_buffer) {
        JsonWriter w;
        const char *out = NULL;
        char big[5000];

        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        json_writer_init(&w);
        json_array_begin(&w);
        json_string(&w, big);
        json_string(&w, big);
        json_array_end(&w);
        cr_assert_eq(json_writer_finish(&w, &out), 0);
        cr_assert_eq(strlen(out), 2 * (sizeof(big) - 1 + 2) + 3);
        cr_assert_eq(out[sizeof(big) + 1], '"');
        cr_assert_eq(out[sizeof(big) + 2], ',');
        json_writer_done(&w);
}

Test(json_writer, unbalanced_is_an_error) {
        JsonWriter w;
        const char *out = NULL;

        json_writer_init(&w);
        json_object_begin(&w);
        cr_assert_eq(json_writer_finish(&w, &out), -EBADMSG);
        json_writer_done(&w);

        json_writer_init(&w);
        json_array_end(&w);
        cr_assert_eq(json_writer_finish(&w, &out), -EBADMSG);
        json_writer_done(&w);
}

Test(json_writer, too_deep_is_an_error_that_sticks) {
        JsonWriter w;
        const char *out = NULL;

        json_writer_init(&w);
        for (int i = 0; i < JSON_DEPTH_MAX + 2; i++)
                json_array_begin(&w);
        for (int i = 0; i < JSON_DEPTH_MAX + 2; i++)
                json_array_end(&w);
        cr_assert_eq(json_writer_finish(&w, &out), -E2BIG);
        json_writer_done(&w);
}
