/* SPDX-License-Identifier: MIT */
/* tls-io.h — the HttpIo (http/io.h) of a TLS connection: OpenSSL over the plain transport of the
 * connection (socket-io.c's, or the event MPM's own), so that every MPM's readiness bookkeeping
 * stays the one it has. The handshake happens inside the first read or write (so it counts against
 * the request-head deadline, as Apache's mod_reqtimeout counts it); OpenSSL's "want read" and
 * "want write" become HTTP_IO_WANT_READ and HTTP_IO_WANT_WRITE, whichever direction the record
 * layer needs (a read may have to write handshake records first, a write may have to read). sendfile
 * is SSL_sendfile when OpenSSL enabled kTLS on the connection, otherwise the file goes through a
 * bounded per-thread buffer; shutdown sends close_notify before the TCP half-close.
 *
 * Why the record layer talks to the inner HttpIo through a BIO of our own rather than to the
 * socket (SSL_set_fd): the event MPM's edge-triggered loop knows a socket is drained only because
 * its own read saw a short count or EAGAIN (event.c, EventConn.readable); a socket BIO would read
 * behind its back. Through the inner io every byte OpenSSL reads or writes passes the same
 * bookkeeping as a plain connection's, in every MPM. The price: OpenSSL never turns kTLS on for
 * such a BIO (BIO_get_ktls_send() is false). So where the kernel has the "tls" upper-layer protocol
 * (/proc/sys/net/ipv4/tcp_available_ulp), tls_io_accept() gives OpenSSL the socket itself
 * (tls_io_new_on_socket(), SSL_OP_ENABLE_KTLS from the store): that is safe for the event MPM too,
 * because OpenSSL answers "want read" only after its own read saw EAGAIN, so the next edge comes;
 * the plain transport's bookkeeping is simply not consulted. Then a file goes out with
 * SSL_sendfile when OpenSSL did enable kTLS (tls_io_ktls()), through the buffer otherwise.
 *
 * Repeating a call: after a wait the engine makes the same call again (io.h). SSL_write is made
 * with SSL_MODE_ENABLE_PARTIAL_WRITE (it returns after each record) and
 * SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER (the retry's bytes are equal, not necessarily at the same
 * address: iovecs coalesced into the per-thread buffer again); each SSL_write is at most one record
 * (16 KiB), so a small response's head and body go out as one record in one system call.
 *
 * Errors: a TLS alert or protocol error is -EPROTO, a failure of the inner transport its own
 * -errno; either way the connection is closed. The thread's OpenSSL error queue is emptied after
 * every failure, so that nothing of one connection is seen by the next. Nothing blocks. */
#pragma once

#include <openssl/ssl.h>
#include <stdbool.h>

#include "http/io.h"

/* The most one SSL_write takes: one TLS record's plaintext. */
#define TLS_IO_RECORD_MAX (16 * 1024)

typedef struct TlsIo TlsIo;

extern const HttpIo tls_io; /* its ctx is a TlsIo */

/* Wrap inner (with its ctx) for a connection on fd; ssl from tls_store_new_ssl() is taken over,
 * also on failure (server mode is set here). NULL on failure. The inner io and its ctx must
 * outlive the TlsIo. */
TlsIo *tls_io_new(SSL *ssl, const HttpIo *inner, void *inner_ctx, int fd);
/* The same with OpenSSL reading and writing fd itself (its socket BIO, the only one it turns kTLS
 * on for); inner serves shutdown's half-close, unsent, reset and local_address. */
TlsIo *tls_io_new_on_socket(SSL *ssl, const HttpIo *inner, void *inner_ctx, int fd);
TlsIo *tls_io_free(TlsIo *t);

/* Does the kernel offer kTLS ("tls" in /proc/sys/net/ipv4/tcp_available_ulp)? Read once. */
bool tls_io_kernel_has_ktls(void);

/* The TLS transport of a connection accepted on the listener named listener_name: an SSL from
 * store (tls_store_new_ssl(), set up with that listener's default site) over inner. NULL when there
 * is no store, the store does not know the listener, or no memory: the connection is then closed
 * unserved, never answered in plain text. inner_is_socket: inner reads fd as it is, so that
 * OpenSSL may take the socket itself for kTLS; false when a layer sits between (proxy-io.h). */
struct TlsStore;
TlsIo *tls_io_accept(const struct TlsStore *store, const char *listener_name, const HttpIo *inner, void *inner_ctx,
                     int fd, bool inner_is_socket);

/* Has the handshake finished, and does the kernel do the record layer (kTLS)? For the counters. */
bool tls_io_handshake_done(const TlsIo *t);
bool tls_io_ktls(const TlsIo *t);
