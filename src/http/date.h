/* SPDX-License-Identifier: MIT */
/* date.h — HTTP dates (RFC 9110 §5.6.7) and the access log's timestamp.
 *
 * Contract: HTTP dates are always GMT and written and read without the C locale or TZ, with our
 * own calendar arithmetic (proleptic Gregorian, no leap seconds), so a worker's environment cannot
 * change what goes on the wire. Only http_log_time_format() uses local time, as Apache's %t does.
 * The one piece of state is http_date_now()'s per-thread cache. */
#pragma once

#include <stddef.h>
#include <time.h>

#include "shared/macro.h"

#define HTTP_DATE_LEN 29 /* strlen("Sun, 06 Nov 1994 08:49:37 GMT") */
#define HTTP_LOG_TIME_LEN 28 /* strlen("[10/Oct/2000:13:55:36 -0700]") */

/* Write t as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") and a NUL. Returns HTTP_DATE_LEN, or
 * -ERANGE when the year falls outside 0000…9999 (the format has four digits). */
int http_date_format(time_t t, char out[static 30]);

/* Parse s[0..len) as an IMF-fixdate, or one of the obsolete forms recipients must accept: RFC 850
 * ("Sunday, 06-Nov-94 08:49:37 GMT", a two-digit year read as the one within 50 years of today)
 * and asctime ("Sun Nov  6 08:49:37 1994"). Names are case-sensitive as the grammar says; the
 * weekday must be a valid name but is not checked against the date (as Apache). Nothing may
 * precede or follow the date. Returns 0, or -EINVAL for anything else (including a 31 Feb). */
int http_date_parse(const char *s, size_t len, time_t *ret);

/* The Date header value for the second now_realtime_usec falls in. The string lives in a
 * thread-local buffer, reformatted only when the second changes, and stays valid until the next
 * call in the same thread. */
const char *http_date_now(usec_t now_realtime_usec);

/* Apache's %t, "[10/Oct/2000:13:55:36 -0700]", in local time with its numeric UTC offset. out gets
 * the string and a NUL. Returns HTTP_LOG_TIME_LEN, -ENOBUFS when n is too small, -EOVERFLOW when t
 * cannot be represented in local time. */
int http_log_time_format(time_t t, char *out, size_t n);
