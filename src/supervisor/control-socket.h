/* SPDX-License-Identifier: MIT */
/* control-socket.h — the control socket that mpmctl(8) talks to: its transport and its dispatch.
 *
 * A Unix SOCK_SEQPACKET socket: one request per message ("reload", "status", "stop", "stop --now",
 * "reopen-logs", "processes"), answered by one or more messages and then end of stream. "processes"
 * answers "OK MPM" and one line per process, "PID UID GID PROFILE ROLE" as planned at its fork (the
 * supervisor first, in the same message, with profile "-"), which `mpmctl audit` checks. The first word of the
 * first answer is "OK" or "ERROR". Only peers with uid 0 or the supervisor's own uid are answered
 * (SO_PEERCRED). A reply may be deferred: "reload" is answered when the new generation accepts or
 * the reload failed, so `mpmctl reload` (and systemctl reload) is synchronous. The commands
 * themselves are a table (ControlCommand) given by the caller (the supervisor's: control.c); a
 * command that is not in it is answered "ERROR unknown command". */
#pragma once

#include <stddef.h>
#include <systemd/sd-event.h>

typedef struct ControlServer ControlServer;
typedef struct ControlClient ControlClient;

typedef enum ControlCommandFlags {
        /* The handler keeps the client and finishes it later (control_client_finish()); without it
         * the exchange ends when the handler returns. */
        CONTROL_DEFERRED = 1u << 0,
} ControlCommandFlags;

typedef struct ControlCommand {
        const char *name; /* the whole request, as mpmctl sends it ("stop --now") */
        void (*handler)(void *userdata, ControlClient *client);
        unsigned flags; /* ControlCommandFlags */
} ControlCommand;

/* The command called name in table (n entries), or NULL. */
const ControlCommand *control_command_find(const ControlCommand *table, size_t n, const char *name);

int control_server_new(sd_event *event, const char *path, const ControlCommand *table, size_t n_commands,
                       void *userdata, ControlServer **ret);
ControlServer *control_server_free(ControlServer *s);

void control_client_reply(ControlClient *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ends the exchange and frees the client. */
void control_client_finish(ControlClient *c);
