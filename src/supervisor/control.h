/* SPDX-License-Identifier: MIT */
/* control.h — the supervisor's commands on its control socket (control-socket.h has the protocol):
 *   reload        answered when the new generation serves ("OK"/"PARTIAL") or the reload failed
 *   status        the serving generation: processes, workers, requests, the scoreboard letters
 *   processes     "OK MPM", then "PID UID GID PROFILE ROLE" per process, for `mpmctl audit`
 *   stop          graceful stop; "stop --now": kill every worker
 *   reopen-logs   reopen every log file, hand the new files to every process; answered once every
 *                 one has taken them (each reports the epoch it adopted), or after 5 s naming the
 *                 ones that did not
 * A command runs in the supervisor's loop: nothing here blocks but a bounded send. */
#pragma once

typedef struct Supervisor Supervisor;

/* Listen at path (s->control); 0 or -errno. */
int supervisor_control_open(Supervisor *s, const char *path);
