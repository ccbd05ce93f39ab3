/* SPDX-License-Identifier: MIT */
/* socket-io.h — the HttpIo (io.h) of a real non-blocking TCP socket: read, writev, sendfile,
 * shutdown, its local address. A read that would block answers HTTP_IO_WANT_READ, a write or
 * sendfile HTTP_IO_WANT_WRITE: a plain socket never needs the other direction.
 * The io context is a pointer to the int fd. */
#pragma once

#include <stdint.h>
#include <sys/socket.h>

#include "http/conn.h"

extern const HttpIo socket_io;

/* The local address of a connected socket as text ("127.0.0.1", "::1"). 0 or -errno. */
int socket_local_address(int fd, char *buf, size_t size);

/* Bytes written to a TCP socket and not yet acknowledged (SIOCOUTQ), or -errno. */
ssize_t socket_unsent(int fd);

/* SO_LINGER 0: close() then sends a reset and drops what is still queued. */
void socket_reset_on_close(int fd);

/* The port of a socket address (0 for another family), and a socket's own local port (0 when
 * unknown): a listener's is looked up once, not per connection. */
uint16_t socket_sockaddr_port(const struct sockaddr_storage *ss);
uint16_t socket_local_port(int fd);

/* The engine's view of a connection from the peer address accept4() gave: no getpeername or
 * getsockname per connection. */
void socket_conn_info_from(const struct sockaddr_storage *peer, const char *listener_name, uint16_t local_port,
                           HttpConnInfo *ret);

/* accept4() a connection (non-blocking, close-on-exec) from listen_fd with that view of it.
 * Returns the fd or -errno. */
int socket_accept(int listen_fd, const char *listener_name, uint16_t local_port, HttpConnInfo *ret);
