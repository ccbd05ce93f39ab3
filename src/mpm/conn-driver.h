/* SPDX-License-Identifier: MIT */
/* conn-driver.h — serve one accepted connection to its end, waiting with poll(): the driver of the
 * process-per-connection and thread-per-connection MPMs (prefork, worker). It updates the worker's
 * scoreboard slot as the connection moves between reading, writing and keep-alive, and watches
 * stop_fd so a graceful stop lets the current request finish and closes an idle connection after a
 * short grace. */
#pragma once

#include <stdbool.h>

#include "http/conn.h"
#include "mpm/mpm.h"
#include "mpm/scoreboard.h"

typedef struct ConnDriverStop {
        int fd;         /* readable when the process was asked to stop; -1: none */
        bool *stopping; /* set to true by the driver when it saw the request (shared with the caller) */
        bool is_signalfd; /* fd is the process's signalfd (read it: SIGINT stops at once); otherwise an
                           * fd that stays readable for every thread, left unread */
} ConnDriverStop;

/* Serve fd (non-blocking, owned: closed on return), described by info (socket_accept()). */
void conn_driver_serve(const HttpServer *server, int fd, const HttpConnInfo *info, WorkerScore *score,
                       ConnDriverStop *stop);

/* The same for a connection accepted on l of generation g: over TLS when l is a TLS listener (with
 * g's certificate store; a TLS listener without one, or a build without TLS, closes it unserved
 * rather than speak plain HTTP there). A TLS connection whose handshake completes is counted in
 * score's tls_connections (and ktls_connections). */
void conn_driver_serve_accepted(const Generation *g, const Listener *l, int fd, const HttpConnInfo *info,
                                WorkerScore *score, ConnDriverStop *stop);

/* Read one pending signal from a signalfd; returns the signal number or 0. */
int conn_driver_read_stop(int fd);
