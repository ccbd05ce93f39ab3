/* SPDX-License-Identifier: MIT */
/* Range parsing as a table (what a Range field asks of a file of a given length) and the
 * multipart/byteranges body built from ranges. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "http/range.h"

/* Arrays, not pointers: criterion copies parameters into the process that runs the test. */
typedef struct RangeCase {
        char value[64];
        uint64_t length;
        uint32_t max_ranges;
        int result;
        char ranges[64]; /* "first-last,…" for PARTIAL */
} RangeCase;

static const RangeCase range_cases[] = {
        /* single ranges */
        { "bytes=0-4", 100, 200, HTTP_RANGE_PARTIAL, "0-4" },
        { "bytes=0-0", 100, 200, HTTP_RANGE_PARTIAL, "0-0" },
        { "bytes=99-99", 100, 200, HTTP_RANGE_PARTIAL, "99-99" },
        { "bytes=5-", 100, 200, HTTP_RANGE_PARTIAL, "5-99" },
        { "bytes=-5", 100, 200, HTTP_RANGE_PARTIAL, "95-99" },
        { "bytes=-100", 100, 200, HTTP_RANGE_PARTIAL, "0-99" },
        { "bytes=-1000", 100, 200, HTTP_RANGE_PARTIAL, "0-99" },
        { "bytes=90-1000", 100, 200, HTTP_RANGE_PARTIAL, "90-99" },
        { "bytes=0-99999999999999999999999", 100, 200, HTTP_RANGE_PARTIAL, "0-99" },
        { "BYTES=1-2", 100, 200, HTTP_RANGE_PARTIAL, "1-2" },
        { "Bytes=1-2", 100, 200, HTTP_RANGE_PARTIAL, "1-2" },
        /* several, in the order asked; OWS and empty list elements are allowed */
        { "bytes=0-1,5-6", 100, 200, HTTP_RANGE_PARTIAL, "0-1,5-6" },
        { "bytes=50-59,0-9", 100, 200, HTTP_RANGE_PARTIAL, "50-59,0-9" },
        { "bytes=0-1, 5-6 ,\t-2", 100, 200, HTTP_RANGE_PARTIAL, "0-1,5-6,98-99" },
        { "bytes=,0-1,,5-6,", 100, 200, HTTP_RANGE_PARTIAL, "0-1,5-6" },
        /* unsatisfiable members are dropped; none left is 416 */
        { "bytes=0-1,200-300", 100, 200, HTTP_RANGE_PARTIAL, "0-1" },
        { "bytes=100-", 100, 200, HTTP_RANGE_UNSATISFIABLE, "" },
        { "bytes=100-200", 100, 200, HTTP_RANGE_UNSATISFIABLE, "" },
        { "bytes=-0", 100, 200, HTTP_RANGE_UNSATISFIABLE, "" },
        { "bytes=200-300,-0", 100, 200, HTTP_RANGE_UNSATISFIABLE, "" },
        { "bytes=99999999999999999999999-", 100, 200, HTTP_RANGE_UNSATISFIABLE, "" },
        /* invalid syntax or another unit: the field is ignored */
        { "bytes=5-4", 100, 200, HTTP_RANGE_IGNORE, "" },
        { "bytes=0-1,5-4", 100, 200, HTTP_RANGE_IGNORE, "" },
        { "bytes=", 100, 200, HTTP_RANGE_IGNORE, "" },
        { "bytes=,", 100, 200, HTTP_RANGE_IGNORE, "" },
        { "bytes=-", 100, 200, HTTP_RANGE_IGNORE, "" },
        { "bytes=a-b", 100, 200, HTTP_RANGE_IGNORE, "" },
        { "bytes=1", 100, 200, HTTP_RANGE_IGNORE, "" },
        { "bytes=+1-2", 100, 200, HTTP_RANGE_IGNORE, "" },
        { "bytes=1-2-3", 100, 200, HTTP_RANGE_IGNORE, "" },
        { "bytes=0x10-20", 100, 200, HTTP_RANGE_IGNORE, "" },
        { "bytes = 1-2", 100, 200, HTTP_RANGE_IGNORE, "" },
        { "bytes=1 -2", 100, 200, HTTP_RANGE_IGNORE, "" },
        { "bytes=1-2;x", 100, 200, HTTP_RANGE_IGNORE, "" },
        { "items=0-5", 100, 200, HTTP_RANGE_IGNORE, "" },
        { "bytes 0-5", 100, 200, HTTP_RANGE_IGNORE, "" },
        { "", 100, 200, HTTP_RANGE_IGNORE, "" },
        /* MaxRanges: more ranges than allowed, or ranges off */
        { "bytes=0-1,3-4,6-7", 100, 3, HTTP_RANGE_PARTIAL, "0-1,3-4,6-7" },
        { "bytes=0-1,3-4,6-7,9-10", 100, 3, HTTP_RANGE_IGNORE, "" },
        { "bytes=0-1", 100, 0, HTTP_RANGE_IGNORE, "" },
        /* abuse: more than two overlaps, or more bytes than the file */
        { "bytes=0-9,5-14", 100, 200, HTTP_RANGE_PARTIAL, "0-9,5-14" },
        { "bytes=0-9,5-14,8-20", 100, 200, HTTP_RANGE_PARTIAL, "0-9,5-14,8-20" },
        { "bytes=0-9,5-14,8-20,1-2", 100, 200, HTTP_RANGE_IGNORE, "" },
        { "bytes=1-1,1-1,1-1,1-1", 100, 200, HTTP_RANGE_IGNORE, "" },
        { "bytes=0-9,10-19,20-29", 100, 200, HTTP_RANGE_PARTIAL, "0-9,10-19,20-29" },
        { "bytes=0-,0-", 100, 200, HTTP_RANGE_IGNORE, "" },
        { "bytes=0-60,40-99", 100, 200, HTTP_RANGE_IGNORE, "" },
        /* an empty file has no bytes to give */
        { "bytes=0-5", 0, 200, HTTP_RANGE_IGNORE, "" },
        { "bytes=-5", 0, 200, HTTP_RANGE_IGNORE, "" },
};

ParameterizedTestParameters(range, parse) {
        return cr_make_param_array(RangeCase, range_cases, sizeof(range_cases) / sizeof(range_cases[0]));
}

ParameterizedTest(RangeCase *t, range, parse) {
        HttpRange *ranges = NULL;
        size_t n = 99;
        char got[256] = "";
        size_t used = 0;

        int r = http_range_parse(t->value, strlen(t->value), t->length, t->max_ranges, &ranges, &n);
        cr_assert_eq(r, t->result, "\"%s\" (length %llu, MaxRanges %u): got %d, want %d", t->value,
                     (unsigned long long) t->length, t->max_ranges, r, t->result);
        if (r != HTTP_RANGE_PARTIAL) {
                cr_assert_null(ranges);
                cr_assert_eq(n, 0);
                return;
        }
        for (size_t i = 0; i < n; i++)
                used += (size_t) snprintf(got + used, sizeof(got) - used, "%s%llu-%llu", i ? "," : "",
                                          (unsigned long long) ranges[i].first, (unsigned long long) ranges[i].last);
        cr_assert_str_eq(got, t->ranges, "\"%s\"", t->value);
        free(ranges);
}

Test(range, many_ranges_cost_no_more_than_max_ranges) {
        /* 100,000 ranges against MaxRanges 10: refused without looking at all of them. */
        size_t n = 100000;
        char *v = malloc(6 + n * 4 + 1);
        strcpy(v, "bytes=");
        for (size_t i = 0; i < n; i++)
                memcpy(v + 6 + i * 4, "1-1,", 4);
        v[6 + n * 4] = 0;
        HttpRange *ranges;
        size_t got;
        cr_assert_eq(http_range_parse(v, strlen(v), 100, 10, &ranges, &got), HTTP_RANGE_IGNORE);
        free(v);
}

Test(range, boundary_is_hex_and_differs) {
        char a[21], b[21];
        http_range_boundary(a);
        http_range_boundary(b);
        cr_assert_eq(strlen(a), 20);
        cr_assert_eq(strspn(a, "0123456789abcdef"), 20, "%s", a);
        cr_assert_str_neq(a, b);
}

Test(range, multipart_pieces) {
        const HttpRange ranges[] = { { 0, 4 }, { 10, 19 } };
        HttpBodyPiece *pieces;
        size_t n;
        char *text;
        char body[1024];
        size_t len = 0;
        const char *file = "0123456789abcdefghijklmnopqrstuvwxyz";

        cr_assert_eq(http_range_multipart(ranges, 2, 36, "text/plain", "XYZ", &text, &pieces, &n), 0);
        cr_assert_eq(n, 5);
        /* Assemble the body as the connection would, reading file pieces from the string. */
        for (size_t i = 0; i < n; i++) {
                const char *src = pieces[i].mem ? pieces[i].mem : file + pieces[i].off;
                cr_assert(len + pieces[i].len < sizeof(body));
                memcpy(body + len, src, pieces[i].len);
                len += pieces[i].len;
        }
        body[len] = 0;
        cr_assert_str_eq(body, "--XYZ\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-4/36\r\n\r\n"
                               "01234"
                               "\r\n--XYZ\r\nContent-Type: text/plain\r\nContent-Range: bytes 10-19/36\r\n\r\n"
                               "abcdefghij"
                               "\r\n--XYZ--\r\n");
        cr_assert_null(pieces[1].mem);
        cr_assert_eq(pieces[3].off, 10);
        cr_assert_eq(pieces[3].len, 10);
        free(text);
        free(pieces);
}
