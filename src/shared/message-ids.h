/* SPDX-License-Identifier: MIT */
/* message-ids.h — the journal MESSAGE_IDs of mpmd's events, fixed forever: `journalctl
 * MESSAGE_ID=…` finds every occurrence of an event across versions, so an id is never changed or
 * reused (a new event gets a new one: `systemd-id128 new`). Documented in mpmd(8), JOURNAL. */
#pragma once

#define MPMD_MESSAGE_STARTED        "734a66498f594b8d9df02399e9710c7f" /* first generation ready */
#define MPMD_MESSAGE_RELOAD_DONE    "d1bed4c033c04cffb0b9f367fb5bbb8d" /* a new generation serves */
#define MPMD_MESSAGE_RELOAD_REFUSED "6ba1ed4a4eac416181f958131be9fe59" /* bad configuration, nothing changed */
#define MPMD_MESSAGE_STOPPING       "6905de7476704380ac1c858229cbb89e" /* graceful or immediate stop */
#define MPMD_MESSAGE_WORKER_CRASHED "f47bc92a93cc4c28969984b78c561f95" /* died of a signal or an unexpected exit */
