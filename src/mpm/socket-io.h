/* SPDX-License-Identifier: MIT */
/* socket-io.h — the HttpIo of a real non-blocking TCP socket: recv, writev, sendfile, shutdown.
 * The io context is a pointer to the int fd. */
#pragma once

#include "conn.h"

extern const HttpIo socket_io;

/* Describe an accepted socket for the engine (peer address, ports). */
void socket_conn_info(int fd, const char *listener_name, HttpConnInfo *ret);
