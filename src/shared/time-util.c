/* SPDX-License-Identifier: MIT */
#include <limits.h>

#include "shared/time-util.h"

usec_t timespec_to_usec(const struct timespec *ts) {
        return (usec_t) ts->tv_sec * USEC_PER_SEC + (usec_t) ts->tv_nsec / 1000;
}

usec_t now_usec(clockid_t clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return timespec_to_usec(&ts);
}

int usec_to_timeout_ms(usec_t deadline, usec_t now) {
        if (deadline == USEC_INFINITY)
                return -1;
        if (deadline <= now)
                return 0;
        usec_t ms = (deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
        return ms > INT_MAX ? INT_MAX : (int) ms;
}
