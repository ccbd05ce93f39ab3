/* SPDX-License-Identifier: MIT */
/* agent-check.h — HAProxy's agent protocol (`agent-check agent-port N` on a server line), served
 * by the supervisor's own loop: on accept it writes one line with the node's state and closes; it
 * reads nothing. HAProxy then sets the server's state and weight from that line:
 *   "ready up N%\n"  serving, N the share of idle capacity, never below 1 % (a busy node still
 *                    takes its share of new sessions, as a node at 0 % would take none);
 *   "drain\n"        `mpmctl drain`: keep the sessions, send no new ones;
 *   "maint\n"        mpmd is stopping;
 *   "down\n"         no worker accepts (none started, or every one ended and none could be
 *                    started again yet); under perchild no pool does (a dispatcher only passes
 *                    connections on: MpmOps.slot_serves).
 * A reload is not a drain: the new generation serves, so the agent goes on saying ready (pushing
 * one configuration to every node must not take them all out of rotation).
 *
 * It never blocks the supervisor: the socket is non-blocking, a line of a few bytes always fits in
 * a new connection's send buffer (so a client that never reads costs nothing), and a flood is
 * bounded: at most AGENT_CHECK_ACCEPT_BURST connections per wake-up, at the loop's lowest priority,
 * so signals, children and the control socket come first; the rest wait in the listen queue. */
#pragma once

#include <stddef.h>
#include <systemd/sd-event.h>

#include "shared/time-util.h"

#define AGENT_CHECK_ACCEPT_BURST 32
#define AGENT_CHECK_LINE_MAX 32
#define AGENT_CHECK_READ_INTERVAL_USEC (100 * USEC_PER_MSEC) /* the scoreboard read at most so often */

typedef enum AgentState {
        AGENT_READY,
        AGENT_DRAIN,
        AGENT_MAINT,
        AGENT_DOWN,
} AgentState;

/* The line for state (percent: the idle share with AGENT_READY, clamped to 1..100) into buf
 * (AGENT_CHECK_LINE_MAX bytes); its length. */
size_t agent_check_format(AgentState state, unsigned percent, char *buf, size_t size);

/* The idle share in percent of capacity (what the MPM can serve at once) when in_use is taken,
 * clamped to 1..100; capacity 0 (unknown) is 1. */
unsigned agent_check_percent(unsigned capacity, unsigned in_use);

/* What the supervisor answers now: the state and, with AGENT_READY, the percent. */
typedef AgentState (*AgentCheckStateFn)(void *userdata, unsigned *ret_percent);

typedef struct AgentCheck AgentCheck;

/* Listen on address (ADDR:PORT, [V6]:PORT, as Listen; no TCP_DEFER_ACCEPT: the agent's client
 * sends nothing) and answer every connection from the loop event. -errno on failure. */
int agent_check_open(sd_event *event, const char *address, AgentCheckStateFn state, void *userdata,
                     AgentCheck **ret);
AgentCheck *agent_check_free(AgentCheck *a);
