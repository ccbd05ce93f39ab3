/* SPDX-License-Identifier: MIT */
/* control.h — the control socket that mpmctl(8) talks to.
 *
 * A Unix SOCK_SEQPACKET socket: one request per message ("reload", "status", "stop", "stop --now",
 * "reopen-logs", "processes"), answered by one or more messages and then end of stream. "processes"
 * answers "OK MPM" and one line per process, "PID UID GID PROFILE ROLE" as planned at its fork (the
 * supervisor first, in the same message, with profile "-"), which `mpmctl audit` checks. The first word of the
 * first answer is "OK" or "ERROR". Only peers with uid 0 or the supervisor's own uid are answered
 * (SO_PEERCRED). A reply may be deferred: "reload" is answered when the new generation accepts or
 * the reload failed, so `mpmctl reload` (and systemctl reload) is synchronous. */
#pragma once

#include <systemd/sd-event.h>

typedef struct ControlServer ControlServer;
typedef struct ControlClient ControlClient;

typedef struct ControlHandler {
        /* Handle one command; reply now with control_client_reply()+control_client_finish(), or keep
         * the client and finish it later. */
        void (*command)(void *userdata, ControlClient *client, const char *command);
} ControlHandler;

int control_server_new(sd_event *event, const char *path, const ControlHandler *h, void *userdata,
                       ControlServer **ret);
ControlServer *control_server_free(ControlServer *s);

void control_client_reply(ControlClient *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ends the exchange and frees the client. */
void control_client_finish(ControlClient *c);
