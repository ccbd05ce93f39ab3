/* SPDX-License-Identifier: MIT */
/* proc-status.h — the privilege lines of /proc/PID/status (ids, groups, capability sets,
 * NoNewPrivs, Seccomp), parsed strictly: what the kernel says a process holds. The sandbox reads
 * its own back after applying it (sandbox.h's "verify"); `mpmctl audit` reads every process's. No
 * logging, no state; nothing of the server needed, so mpmctl links it alone. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
        PROC_ID_REAL,
        PROC_ID_EFFECTIVE,
        PROC_ID_SAVED,
        PROC_ID_FS,
        _PROC_ID_MAX,
};

#define PROC_STATUS_GROUPS_MAX 64

/* The privilege lines of /proc/PID/status. */
typedef struct ProcStatus {
        uid_t uid[_PROC_ID_MAX]; /* indexed by PROC_ID_* */
        gid_t gid[_PROC_ID_MAX];
        size_t n_groups;            /* supplementary groups the process has */
        gid_t groups[PROC_STATUS_GROUPS_MAX]; /* the first MIN(n_groups, PROC_STATUS_GROUPS_MAX) */
        uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
        int no_new_privs; /* 0 or 1; -1 when the kernel does not report it */
        int seccomp;      /* 0 off, 1 strict, 2 filter; -1 when the kernel does not report it */
} ProcStatus;

/* Read /proc/PID/status (pid <= 0: the caller itself). -ENOENT when there is no such process,
 * -EBADMSG when a line is malformed or Uid, Gid, Groups or a Cap line is missing. */
int proc_status_read(pid_t pid, ProcStatus *ret);
/* The same parser on the text of a status file. */
int proc_status_parse(const char *text, ProcStatus *ret);
