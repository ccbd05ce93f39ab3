/* SPDX-License-Identifier: MIT */
/* Tests of HTTP dates: formatting known instants and the edges of the four-digit year, agreement
 * with the C library's calendar over a spread of instants, parsing the three forms RFC 9110 names
 * (including the RFC 850 two-digit year window), refusing everything else, the per-thread Date
 * cache refreshing on a new second, and the access log's local time with its offset. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/date.h"
#include "shared/macro.h"

#define RFC_EXAMPLE 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT, the example of RFC 9110 */

/* ---- http_date_format ---- */

typedef struct FormatCase {
        long long t;
        char out[32]; /* "" → -ERANGE */
} FormatCase;

static FormatCase format_cases[] = {
        { RFC_EXAMPLE, "Sun, 06 Nov 1994 08:49:37 GMT" },
        { 0, "Thu, 01 Jan 1970 00:00:00 GMT" },
        { -1, "Wed, 31 Dec 1969 23:59:59 GMT" },
        { 951782400, "Tue, 29 Feb 2000 00:00:00 GMT" },
        { 951868800, "Wed, 01 Mar 2000 00:00:00 GMT" },
        { 2147483648LL, "Tue, 19 Jan 2038 03:14:08 GMT" },
        { -62167219200LL, "Sat, 01 Jan 0000 00:00:00 GMT" },
        { 253402300799LL, "Fri, 31 Dec 9999 23:59:59 GMT" },
        { -62167219201LL, "" },
        { 253402300800LL, "" },
};

ParameterizedTestParameters(date_format, known) {
        return cr_make_param_array(FormatCase, format_cases, ELEMENTSOF(format_cases));
}

ParameterizedTest(FormatCase *c, date_format, known) {
        char out[30];
        int r;

        r = http_date_format((time_t) c->t, out);
        if (!c->out[0]) {
                cr_assert_eq(r, -ERANGE, "%lld → %d", c->t, r);
                return;
        }
        cr_assert_eq(r, HTTP_DATE_LEN, "%lld → %d", c->t, r);
        cr_assert_str_eq(out, c->out);
}

/* A deterministic spread of instants from year 0 to 9999, negative ones included. */
static time_t spread(unsigned i) {
        static const long long lo = -62167219200LL, hi = 253402300799LL;
        unsigned long long x = (i + 1) * 6364136223846793005ULL + 1442695040888963407ULL;

        x ^= x >> 29;
        return (time_t) (lo + (long long) (x % (unsigned long long) (hi - lo + 1)));
}

Test(date_format, agrees_with_libc) {
        char out[30], want[64], day[8];
        struct tm tm;

        for (unsigned i = 0; i < 20000; i++) {
                time_t t = spread(i);

                cr_assert_not_null(gmtime_r(&t, &tm));
                /* The C locale's names; %Y would not pad years below 1000. */
                strftime(day, sizeof(day), "%a", &tm);
                snprintf(want, sizeof(want), "%s, %02d ", day, tm.tm_mday);
                strftime(want + strlen(want), 8, "%b ", &tm);
                snprintf(want + strlen(want), 40, "%04d %02d:%02d:%02d GMT", tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                         tm.tm_sec);

                cr_assert_eq(http_date_format(t, out), HTTP_DATE_LEN);
                cr_assert_str_eq(out, want, "t=%lld", (long long) t);
        }
}

Test(date_format, ignores_locale) {
        static const char *const locales[] = { "de_DE.UTF-8", "fr_FR.UTF-8", "es_ES.UTF-8", "de_DE", "fr_FR" };
        char out[30], log[32];
        bool found = false;

        for (size_t i = 0; i < ELEMENTSOF(locales) && !found; i++)
                found = setlocale(LC_ALL, locales[i]) != NULL;
        if (!found)
                cr_skip_test("no non-English locale installed to switch to");

        setenv("TZ", "UTC0", 1);
        tzset();
        cr_assert_eq(http_date_format(RFC_EXAMPLE, out), HTTP_DATE_LEN);
        cr_assert_str_eq(out, "Sun, 06 Nov 1994 08:49:37 GMT");
        cr_assert_eq(http_log_time_format(RFC_EXAMPLE, log, sizeof(log)), HTTP_LOG_TIME_LEN);
        cr_assert_str_eq(log, "[06/Nov/1994:08:49:37 +0000]");
}

/* ---- http_date_parse ---- */

typedef struct ParseCase {
        char name[40];
        char s[48];
        long long t; /* expected instant; ignored when bad */
        bool bad;
} ParseCase;

#define GOOD(n, str, v) { .name = n, .s = str, .t = v }
#define BAD(n, str) { .name = n, .s = str, .bad = true }

static ParseCase parse_cases[] = {
        GOOD("IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE),
        GOOD("RFC 850", "Sunday, 06-Nov-94 08:49:37 GMT", RFC_EXAMPLE),
        GOOD("asctime", "Sun Nov  6 08:49:37 1994", RFC_EXAMPLE),
        GOOD("asctime two-digit day", "Sun Nov 06 08:49:37 1994", RFC_EXAMPLE),
        GOOD("asctime day 16", "Wed Nov 16 08:49:37 1994", RFC_EXAMPLE + 10 * 86400),
        GOOD("epoch", "Thu, 01 Jan 1970 00:00:00 GMT", 0),
        GOOD("before epoch", "Wed, 31 Dec 1969 23:59:59 GMT", -1),
        GOOD("leap day", "Tue, 29 Feb 2000 00:00:00 GMT", 951782400),
        GOOD("leap day asctime", "Tue Feb 29 00:00:00 2000", 951782400),
        GOOD("after 2038", "Tue, 19 Jan 2038 03:14:08 GMT", 2147483648LL),
        GOOD("year 9999", "Fri, 31 Dec 9999 23:59:59 GMT", 253402300799LL),
        GOOD("leap second", "Sat, 31 Dec 2016 23:59:60 GMT", 1483228800),
        GOOD("weekday not checked", "Mon, 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE),
        GOOD("RFC 850 Wednesday", "Wednesday, 09-Nov-94 08:49:37 GMT", RFC_EXAMPLE + 3 * 86400),
        BAD("empty", ""),
        BAD("garbage", "garbage"),
        BAD("number", "784111777"),
        BAD("ISO 8601", "1994-11-06T08:49:37Z"),
        BAD("UTC instead of GMT", "Sun, 06 Nov 1994 08:49:37 UTC"),
        BAD("no zone", "Sun, 06 Nov 1994 08:49:37"),
        BAD("lower-case names", "sun, 06 nov 1994 08:49:37 GMT"),
        BAD("lower-case gmt", "Sun, 06 Nov 1994 08:49:37 gmt"),
        BAD("leading space", " Sun, 06 Nov 1994 08:49:37 GMT"),
        BAD("trailing space", "Sun, 06 Nov 1994 08:49:37 GMT "),
        BAD("trailing text", "Sun, 06 Nov 1994 08:49:37 GMT, x"),
        BAD("one-digit day", "Sun, 6 Nov 1994 08:49:37 GMT"),
        BAD("two-digit year", "Sun, 06 Nov 94 08:49:37 GMT"),
        BAD("no seconds", "Sun, 06 Nov 1994 08:49 GMT"),
        BAD("hour 24", "Sun, 06 Nov 1994 24:00:00 GMT"),
        BAD("minute 60", "Sun, 06 Nov 1994 08:60:00 GMT"),
        BAD("second 61", "Sun, 06 Nov 1994 08:49:61 GMT"),
        BAD("day 0", "Sun, 00 Nov 1994 08:49:37 GMT"),
        BAD("31 April", "Sat, 31 Apr 2021 00:00:00 GMT"),
        BAD("29 Feb not leap", "Thu, 29 Feb 2001 00:00:00 GMT"),
        BAD("29 Feb 1900", "Thu, 29 Feb 1900 00:00:00 GMT"),
        BAD("bad month", "Sun, 06 Xyz 1994 08:49:37 GMT"),
        BAD("bad weekday", "Xyz, 06 Nov 1994 08:49:37 GMT"),
        BAD("sign in year", "Sun, 06 Nov -994 08:49:37 GMT"),
        BAD("RFC 850 short weekday", "Sun, 06-Nov-94 08:49:37 GMT"),
        BAD("RFC 850 four-digit year", "Sunday, 06-Nov-1994 08:49:37 GMT"),
        BAD("RFC 850 no zone", "Sunday, 06-Nov-94 08:49:37"),
        BAD("asctime one space one digit", "Sun Nov 6 08:49:37 1994"),
        BAD("asctime with zone", "Sun Nov  6 08:49:37 1994 GMT"),
        BAD("asctime long weekday", "Sunday Nov  6 08:49:37 1994"),
        BAD("asctime two-digit year", "Sun Nov  6 08:49:37 94"),
};

ParameterizedTestParameters(date_parse, table) {
        return cr_make_param_array(ParseCase, parse_cases, ELEMENTSOF(parse_cases));
}

ParameterizedTest(ParseCase *c, date_parse, table) {
        time_t t = 12345;
        int r;

        r = http_date_parse(c->s, strlen(c->s), &t);
        if (c->bad) {
                cr_assert_eq(r, -EINVAL, "%s: \"%s\" accepted as %lld", c->name, c->s, (long long) t);
                cr_assert_eq(t, 12345, "%s: *ret written on failure", c->name);
                return;
        }
        cr_assert_eq(r, 0, "%s: \"%s\" → %d", c->name, c->s, r);
        cr_assert_eq((long long) t, c->t, "%s: \"%s\" → %lld, expected %lld", c->name, c->s, (long long) t, c->t);
}

Test(date_parse, only_len_bytes) {
        const char *s = "Sun, 06 Nov 1994 08:49:37 GMTxyz";
        time_t t;

        cr_assert_eq(http_date_parse(s, HTTP_DATE_LEN, &t), 0);
        cr_assert_eq(t, RFC_EXAMPLE);
        cr_assert_eq(http_date_parse(s, HTTP_DATE_LEN - 1, &t), -EINVAL);
        /* A NUL inside the span is not the end of the string. */
        cr_assert_eq(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", HTTP_DATE_LEN + 1, &t), -EINVAL);
}

Test(date_parse, round_trip) {
        char out[30], asc[32];
        struct tm tm;
        time_t t, back;

        for (unsigned i = 0; i < 20000; i++) {
                t = spread(i);
                cr_assert_eq(http_date_format(t, out), HTTP_DATE_LEN);
                cr_assert_eq(http_date_parse(out, HTTP_DATE_LEN, &back), 0, "%s", out);
                cr_assert_eq(back, t, "%s → %lld, expected %lld", out, (long long) back, (long long) t);

                /* The C library's asctime is the third form, for four-digit years. */
                cr_assert_not_null(gmtime_r(&t, &tm));
                if (tm.tm_year + 1900 < 1000)
                        continue;
                cr_assert_not_null(asctime_r(&tm, asc));
                cr_assert_eq(http_date_parse(asc, 24, &back), 0, "%.24s", asc);
                cr_assert_eq(back, t, "%.24s", asc);
        }
}

static int year_now(void) {
        time_t now = time(NULL);
        struct tm tm;

        cr_assert_not_null(gmtime_r(&now, &tm));
        return tm.tm_year + 1900;
}

static time_t jan_first(int year) {
        struct tm tm = { .tm_year = year - 1900, .tm_mday = 1 };
        return timegm(&tm);
}

Test(date_parse, rfc850_year_window) {
        char s[48];
        int y = year_now();
        time_t t;

        /* Ten years ahead: taken as is. */
        snprintf(s, sizeof(s), "Monday, 01-Jan-%02d 00:00:00 GMT", (y + 10) % 100);
        cr_assert_eq(http_date_parse(s, strlen(s), &t), 0);
        cr_assert_eq(t, jan_first(y + 10), "%s → %lld", s, (long long) t);

        /* Sixty years ahead is more than 50: the same digits forty years ago. */
        snprintf(s, sizeof(s), "Monday, 01-Jan-%02d 00:00:00 GMT", (y + 60) % 100);
        cr_assert_eq(http_date_parse(s, strlen(s), &t), 0);
        cr_assert_eq(t, jan_first(y - 40), "%s → %lld", s, (long long) t);

        /* Forty years ahead is within the window (from 2050 on this needs the next century). */
        snprintf(s, sizeof(s), "Monday, 01-Jan-%02d 00:00:00 GMT", (y + 40) % 100);
        cr_assert_eq(http_date_parse(s, strlen(s), &t), 0);
        cr_assert_eq(t, jan_first(y + 40), "%s → %lld", s, (long long) t);

        /* This year. */
        snprintf(s, sizeof(s), "Monday, 01-Jan-%02d 00:00:00 GMT", y % 100);
        cr_assert_eq(http_date_parse(s, strlen(s), &t), 0);
        cr_assert_eq(t, jan_first(y));
}

/* ---- http_date_now ---- */

#define AT(sec, usec) ((usec_t) (sec) * USEC_PER_SEC + (usec))

Test(date_now, refreshes_on_new_second) {
        const char *a, *b, *c, *d;

        a = http_date_now(AT(RFC_EXAMPLE, 0));
        cr_assert_str_eq(a, "Sun, 06 Nov 1994 08:49:37 GMT");

        /* Mark the cached string: a call within the same second must hand it back untouched,
         * which shows it was not formatted again. */
        ((char *) a)[0] = 'X';
        b = http_date_now(AT(RFC_EXAMPLE, 999999));
        cr_assert_eq(b, a);
        cr_assert_str_eq(b, "Xun, 06 Nov 1994 08:49:37 GMT");

        c = http_date_now(AT(RFC_EXAMPLE + 1, 0));
        cr_assert_str_eq(c, "Sun, 06 Nov 1994 08:49:38 GMT");

        /* A clock stepped back is a new second too. */
        d = http_date_now(AT(RFC_EXAMPLE - 3600, 500000));
        cr_assert_str_eq(d, "Sun, 06 Nov 1994 07:49:37 GMT");

        cr_assert_str_eq(http_date_now(AT(0, 1)), "Thu, 01 Jan 1970 00:00:00 GMT");
}

Test(date_now, broken_clock_stays_well_formed) {
        cr_assert_str_eq(http_date_now(USEC_INFINITY - 1), "Fri, 31 Dec 9999 23:59:59 GMT");
}

static void *other_thread(void *arg) {
        const char *s = http_date_now(AT(0, 0));
        return (void *) (strcmp(s, "Thu, 01 Jan 1970 00:00:00 GMT") == 0 && s != arg ? s : NULL);
}

Test(date_now, per_thread) {
        const char *mine = http_date_now(AT(RFC_EXAMPLE, 0));
        pthread_t th;
        void *theirs;

        cr_assert_eq(pthread_create(&th, NULL, other_thread, (void *) mine), 0);
        cr_assert_eq(pthread_join(th, &theirs), 0);
        cr_assert_not_null(theirs, "the other thread did not get its own buffer");
        cr_assert_str_eq(mine, "Sun, 06 Nov 1994 08:49:37 GMT", "another thread overwrote this one's date");
}

/* ---- http_log_time_format ---- */

typedef struct LogCase {
        char tz[40];
        long long t;
        char out[32];
} LogCase;

#define APACHE_EXAMPLE 971211336 /* 2000-10-10 20:55:36 UTC */

static LogCase log_cases[] = {
        { "XYZ+7", APACHE_EXAMPLE, "[10/Oct/2000:13:55:36 -0700]" },
        { "UTC0", APACHE_EXAMPLE, "[10/Oct/2000:20:55:36 +0000]" },
        { "IST-5:30", APACHE_EXAMPLE, "[11/Oct/2000:02:25:36 +0530]" },
        { "NST+3:30", APACHE_EXAMPLE, "[10/Oct/2000:17:25:36 -0330]" },
        /* Central European rules: summer time in October 2000, winter time in January. */
        { "CET-1CEST,M3.5.0,M10.5.0/3", APACHE_EXAMPLE, "[10/Oct/2000:22:55:36 +0200]" },
        { "CET-1CEST,M3.5.0,M10.5.0/3", 946684800, "[01/Jan/2000:01:00:00 +0100]" },
        { "UTC0", 0, "[01/Jan/1970:00:00:00 +0000]" },
};

ParameterizedTestParameters(log_time, table) {
        return cr_make_param_array(LogCase, log_cases, ELEMENTSOF(log_cases));
}

ParameterizedTest(LogCase *c, log_time, table) {
        char out[64];

        /* Each test runs in its own process, so changing TZ here touches no other test. */
        cr_assert_eq(setenv("TZ", c->tz, 1), 0);
        tzset();
        cr_assert_eq(http_log_time_format((time_t) c->t, out, sizeof(out)), HTTP_LOG_TIME_LEN);
        cr_assert_str_eq(out, c->out, "TZ=%s", c->tz);
}

Test(log_time, buffer_size) {
        char out[HTTP_LOG_TIME_LEN + 1];

        setenv("TZ", "XYZ+7", 1);
        tzset();
        cr_assert_eq(http_log_time_format(APACHE_EXAMPLE, out, sizeof(out) - 1), -ENOBUFS);
        cr_assert_eq(http_log_time_format(APACHE_EXAMPLE, out, sizeof(out)), HTTP_LOG_TIME_LEN);
        cr_assert_str_eq(out, "[10/Oct/2000:13:55:36 -0700]");
}
