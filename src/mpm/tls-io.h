/* SPDX-License-Identifier: MIT */
/* tls-io.h — the HttpIo (http/io.h) of a TLS connection: OpenSSL over the plain transport of the
 * connection (socket-io.c's, or the event MPM's own), so that every MPM's readiness bookkeeping
 * stays the one it has. The handshake happens inside the first read or write (so it counts against
 * the request-head deadline, as Apache's mod_reqtimeout counts it); OpenSSL's "want read" and
 * "want write" become HTTP_IO_WANT_READ and HTTP_IO_WANT_WRITE, whichever direction the record
 * layer needs. sendfile is SSL_sendfile when OpenSSL enabled kTLS on the connection, otherwise the
 * file goes through a bounded buffer; shutdown sends close_notify before the TCP half-close. */
#pragma once

#include <openssl/ssl.h>

#include "http/io.h"

typedef struct TlsIo TlsIo;

extern const HttpIo tls_io; /* its ctx is a TlsIo */

/* Wrap inner (with its ctx) for a connection on fd; ssl from tls_store_new_ssl() is taken over,
 * also on failure. NULL on failure. */
TlsIo *tls_io_new(SSL *ssl, const HttpIo *inner, void *inner_ctx, int fd);
TlsIo *tls_io_free(TlsIo *t);

/* Has the handshake finished, and does the kernel do the record layer (kTLS)? For the counters. */
bool tls_io_handshake_done(const TlsIo *t);
bool tls_io_ktls(const TlsIo *t);
