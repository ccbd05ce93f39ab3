/* SPDX-License-Identifier: MIT */
/* time-util.h — clocks in microseconds. */
#pragma once

#include <time.h>

#include "shared/macro.h"

usec_t now_usec(clockid_t clock);
usec_t timespec_to_usec(const struct timespec *ts);
int usec_to_timeout_ms(usec_t deadline, usec_t now); /* for poll(): -1 when infinite, 0 when past */
