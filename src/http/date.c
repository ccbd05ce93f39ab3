/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/date.h"

_Static_assert(sizeof(time_t) >= 8, "HTTP dates up to 9999 need a 64-bit time_t");

#define SECONDS_PER_DAY INT64_C(86400)
/* 9999-12-31T23:59:59Z, the last instant an IMF-fixdate can carry. */
#define HTTP_DATE_MAX INT64_C(253402300799)

static const char *const day_names[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const day_names_long[7] = { "Sunday",   "Monday", "Tuesday", "Wednesday",
                                               "Thursday", "Friday", "Saturday" };
static const char *const month_names[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Floor division and modulo: the C operators truncate towards zero, which is wrong before 1970. */
static int64_t floor_div(int64_t a, int64_t b) {
        return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int64_t floor_mod(int64_t a, int64_t b) {
        return a - floor_div(a, b) * b;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
        y -= m <= 2;
        int64_t era = floor_div(y, 400);
        int64_t yoe = y - era * 400;
        int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *ret_y, unsigned *ret_m, unsigned *ret_d) {
        z += 719468;
        int64_t era = floor_div(z, 146097);
        int64_t doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int64_t mp = (5 * doy + 2) / 153;
        unsigned m = (unsigned) (mp < 10 ? mp + 3 : mp - 9);

        *ret_d = (unsigned) (doy - (153 * mp + 2) / 5 + 1);
        *ret_m = m;
        *ret_y = yoe + era * 400 + (m <= 2);
}

static bool year_is_leap(int64_t y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(int64_t y, unsigned m) {
        static const unsigned days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        return m == 2 && year_is_leap(y) ? 29 : days[m - 1];
}

int http_date_format(time_t t, char out[static 30]) {
        int64_t days = floor_div(t, SECONDS_PER_DAY), secs = floor_mod(t, SECONDS_PER_DAY), y;
        unsigned m, d;

        civil_from_days(days, &y, &m, &d);
        if (y < 0 || y > 9999)
                return -ERANGE;

        /* 1970-01-01 was a Thursday. */
        snprintf(out, 30, "%s, %02u %s %04d %02d:%02d:%02d GMT", day_names[floor_mod(days + 4, 7)], d,
                 month_names[m - 1], (int) y, (int) (secs / 3600), (int) (secs / 60 % 60), (int) (secs % 60));
        return HTTP_DATE_LEN;
}

/* A tiny cursor over the input: every step either consumes exactly what it expects or fails. */
typedef struct Scan {
        const char *p, *end;
} Scan;

static bool scan_lit(Scan *s, const char *lit) {
        size_t n = strlen(lit);

        if ((size_t) (s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
                return false;
        s->p += n;
        return true;
}

static bool scan_digits(Scan *s, size_t n, unsigned *ret) {
        unsigned v = 0;

        if ((size_t) (s->end - s->p) < n)
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s->p[i] < '0' || s->p[i] > '9')
                        return false;
                v = v * 10 + (unsigned) (s->p[i] - '0');
        }
        s->p += n;
        *ret = v;
        return true;
}

/* Index of the name at the cursor, consumed; -1 if none matches. */
static int scan_name(Scan *s, const char *const *names, size_t n_names) {
        for (size_t i = 0; i < n_names; i++)
                if (scan_lit(s, names[i]))
                        return (int) i;
        return -1;
}

static bool scan_month(Scan *s, unsigned *ret) {
        int m = scan_name(s, month_names, ELEMENTSOF(month_names));
        if (m < 0)
                return false;
        *ret = (unsigned) m + 1;
        return true;
}

/* time-of-day = hour ":" minute ":" second; a leap second (60) is allowed, as in RFC 5322. */
static bool scan_time(Scan *s, unsigned *ret_h, unsigned *ret_min, unsigned *ret_sec) {
        return scan_digits(s, 2, ret_h) && scan_lit(s, ":") && scan_digits(s, 2, ret_min) && scan_lit(s, ":") &&
               scan_digits(s, 2, ret_sec) && *ret_h <= 23 && *ret_min <= 59 && *ret_sec <= 60;
}

typedef struct DateFields {
        int64_t year;
        unsigned month, day, hour, min, sec;
} DateFields;

/* IMF-fixdate = day-name "," SP day SP month SP year SP time-of-day SP "GMT" */
static bool parse_imf_fixdate(Scan s, DateFields *f) {
        unsigned y;

        if (scan_name(&s, day_names, ELEMENTSOF(day_names)) < 0 || !scan_lit(&s, ", ") ||
            !scan_digits(&s, 2, &f->day) || !scan_lit(&s, " ") || !scan_month(&s, &f->month) || !scan_lit(&s, " ") ||
            !scan_digits(&s, 4, &y) || !scan_lit(&s, " ") || !scan_time(&s, &f->hour, &f->min, &f->sec) ||
            !scan_lit(&s, " GMT"))
                return false;
        f->year = y;
        return s.p == s.end;
}

/* rfc850-date = day-name-l "," SP day "-" month "-" 2DIGIT SP time-of-day SP "GMT" */
static bool parse_rfc850(Scan s, DateFields *f) {
        unsigned yy;

        if (scan_name(&s, day_names_long, ELEMENTSOF(day_names_long)) < 0 || !scan_lit(&s, ", ") ||
            !scan_digits(&s, 2, &f->day) || !scan_lit(&s, "-") || !scan_month(&s, &f->month) || !scan_lit(&s, "-") ||
            !scan_digits(&s, 2, &yy) || !scan_lit(&s, " ") || !scan_time(&s, &f->hour, &f->min, &f->sec) ||
            !scan_lit(&s, " GMT") || s.p != s.end)
                return false;

        /* RFC 9110: a year that looks more than 50 years ahead is the latest past one with those
         * digits; symmetrically, one more than 50 years back belongs to the next century. */
        int64_t now_y;
        unsigned m, d;
        civil_from_days(floor_div(time(NULL), SECONDS_PER_DAY), &now_y, &m, &d);
        f->year = now_y - floor_mod(now_y, 100) + yy;
        if (f->year > now_y + 50)
                f->year -= 100;
        else if (f->year <= now_y - 50)
                f->year += 100;
        return true;
}

/* asctime-date = day-name SP month SP ( 2DIGIT / ( SP DIGIT ) ) SP time-of-day SP year */
static bool parse_asctime(Scan s, DateFields *f) {
        unsigned y;

        if (scan_name(&s, day_names, ELEMENTSOF(day_names)) < 0 || !scan_lit(&s, " ") || !scan_month(&s, &f->month) ||
            !scan_lit(&s, " "))
                return false;
        if (!scan_digits(&s, 2, &f->day) && !(scan_lit(&s, " ") && scan_digits(&s, 1, &f->day)))
                return false;
        if (!scan_lit(&s, " ") || !scan_time(&s, &f->hour, &f->min, &f->sec) || !scan_lit(&s, " ") ||
            !scan_digits(&s, 4, &y))
                return false;
        f->year = y;
        return s.p == s.end;
}

int http_date_parse(const char *s, size_t len, time_t *ret) {
        DateFields f = {};
        Scan scan;

        if (!s || !ret)
                return -EINVAL;
        scan = (Scan) { s, s + len };
        if (!parse_imf_fixdate(scan, &f) && !parse_rfc850(scan, &f) && !parse_asctime(scan, &f))
                return -EINVAL;
        if (f.day < 1 || f.day > month_days(f.year, f.month))
                return -EINVAL;

        *ret = (time_t) (days_from_civil(f.year, f.month, f.day) * SECONDS_PER_DAY + f.hour * 3600 + f.min * 60 +
                         f.sec);
        return 0;
}

const char *http_date_now(usec_t now_realtime_usec) {
        static _Thread_local struct {
                bool valid;
                time_t sec;
                char buf[HTTP_DATE_LEN + 1];
        } cache;
        time_t sec;

        /* A clock beyond year 9999 is broken; saying 9999 keeps the header well-formed. */
        sec = (time_t) MIN(now_realtime_usec / USEC_PER_SEC, (usec_t) HTTP_DATE_MAX);
        if (!cache.valid || cache.sec != sec) {
                (void) http_date_format(sec, cache.buf);
                cache.sec = sec;
                cache.valid = true;
        }
        return cache.buf;
}

int http_log_time_format(time_t t, char *out, size_t n) {
        struct tm tm;
        long off;

        if (!out || n < HTTP_LOG_TIME_LEN + 1)
                return -ENOBUFS;
        if (!localtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
                return -EOVERFLOW;

        off = tm.tm_gmtoff;
        snprintf(out, n, "[%02d/%s/%04d:%02d:%02d:%02d %c%02ld%02ld]", tm.tm_mday, month_names[tm.tm_mon],
                 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+', labs(off) / 3600,
                 labs(off) % 3600 / 60);
        return HTTP_LOG_TIME_LEN;
}
