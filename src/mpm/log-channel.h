/* SPDX-License-Identifier: MIT */
/* log-channel.h — how workers get the access log files the supervisor reopened (SIGUSR1, logrotate).
 *
 * The logs are opened by the supervisor, often as root in a directory the workers could not create
 * a file in, and inherited across fork. To rotate them the supervisor opens every path anew,
 * swaps its own descriptors (dup3, same numbers), then sends each running worker one message on
 * the generation's log channel — a SOCK_SEQPACKET socketpair whose receiving end all its workers
 * share — carrying the new files (SCM_RIGHTS) and an epoch, and signals it with SIGUSR1. The
 * worker's handler, which only makes async-signal-safe calls (recvmsg, dup3, close), takes messages
 * until it finds one newer than its epoch and puts the files under its own log descriptors'
 * numbers. Lines still buffered go to the new file with the next flush. Workers forked after a
 * rotation inherited the new files and its epoch; a stale message (for a worker that died before
 * reading it) is dropped by whoever reads it. Each message is whole or absent (SEQPACKET), so many
 * workers can share the channel. Each process reports the epoch it adopted (log_channel_report_to()),
 * which is how the supervisor knows when every one has the new files. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "shared/fd-pass.h"

/* Every message goes through fd-pass.h: it carries at most FD_PASS_MAX files. */
#define LOG_CHANNEL_FDS_MAX FD_PASS_MAX

/* Supervisor side: one message with epoch and the n descriptors (n <= LOG_CHANNEL_FDS_MAX), without
 * blocking. 0 or -errno (-EAGAIN: the channel is full). */
int log_channel_send(int sock, uint32_t epoch, const int *fds, size_t n);

/* Worker side, once, in the fresh child before its sandbox: remember sock, the epoch the worker
 * starts at and the numbers of its log descriptors (in the order the supervisor sends them), and
 * install the SIGUSR1 handler. 0 or -errno. */
int log_channel_install(int sock, uint32_t epoch, const int *fds, size_t n);

/* The same without the handler, for a process that takes SIGUSR1 through its own signalfd (the
 * dispatcher, perchild's pools, the CGI launchers: they adopt the files in their loop, between
 * two events, and a pool reopens the logs it opened itself there too). Leaves the signal mask and
 * SIGUSR1's disposition alone. 0 or -errno. */
int log_channel_attach(int sock, uint32_t epoch, const int *fds, size_t n);

/* What the handler does, callable directly (tests, and the loops of log_channel_attach()): take messages until one newer than the
 * current epoch; adopt its files. Returns 1 when files were adopted, 0 when none was waiting,
 * -errno on a malformed message or a failed dup3. */
int log_channel_receive(void);

/* The epoch the worker's files belong to. */
uint32_t log_channel_epoch(void);

/* Publish the epoch to *word, now and whenever files are adopted, so that the supervisor can see
 * that the process took them (`mpmctl reopen-logs` waits for it): the worker's scoreboard segment,
 * or a CGI launcher's page of its own. Written atomically, from the handler too; NULL stops. */
void log_channel_report_to(uint32_t *word);
