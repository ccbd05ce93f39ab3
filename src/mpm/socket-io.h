/* SPDX-License-Identifier: MIT */
/* socket-io.h — the HttpIo of a real non-blocking TCP socket: recv, writev, sendfile, shutdown, its
 * local address.
 * The io context is a pointer to the int fd. */
#pragma once

#include "conn.h"

extern const HttpIo socket_io;

/* The local address of a connected socket as text ("127.0.0.1", "::1"). 0 or -errno. */
int socket_local_address(int fd, char *buf, size_t size);

/* Bytes written to a TCP socket and not yet acknowledged (SIOCOUTQ), or -errno. */
ssize_t socket_unsent(int fd);

/* SO_LINGER 0: close() then sends a reset and drops what is still queued. */
void socket_reset_on_close(int fd);

/* Describe an accepted socket for the engine (peer address, ports). */
void socket_conn_info(int fd, const char *listener_name, HttpConnInfo *ret);
