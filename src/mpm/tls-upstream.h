/* SPDX-License-Identifier: MIT */
/* tls-upstream.h — the client side of https:// upstreams (upstream.h's HttpUpstreamTlsOps), with
 * OpenSSL, which does the handshake, the verification and the record layer; nothing of TLS is
 * written here.
 *
 * Client contexts: one SSL_CTX per distinct (SSLProxyCACertificateFile, SSLProxyVerify) of a
 * configuration, built by the supervisor while it loads the configuration (so a CA file that does
 * not load is a file:line error of `mpmd -t` and of the reload, which then changes nothing) and
 * inherited by every worker it forks; the CA certificates are read whole into the context's store
 * then, never looked up on disk later (a sandboxed worker could not, and a CA directory would be read
 * per handshake). They are public data: key custody (tls-custody.h) does not concern them.
 *
 * Sessions: OpenSSL reads and writes the upstream socket itself (its socket BIO): an upstream
 * connection is the handler's alone, which reads until EAGAIN before it waits (handler.h), and
 * OpenSSL answers "want read" only after its own read saw EAGAIN, so no readiness is lost under an
 * edge-triggered loop. SNI and the name checked are the URL's host (an IP address is checked as an
 * address and sends no SNI); TLS 1.2 at least, ALPN http/1.1, no renegotiation. Each thread keeps
 * the last session ticket per (context, name), so a new connection to the same upstream resumes
 * instead of verifying the chain again. */
#pragma once

#include <stdbool.h>

#include "http/upstream.h"

typedef struct TlsUpstreamClients TlsUpstreamClients;

TlsUpstreamClients *tls_upstream_clients_new(void);
TlsUpstreamClients *tls_upstream_clients_free(TlsUpstreamClients *l);

/* The client context for ca_file (NULL: the system's, OpenSSL's default file) and verify, made
 * once per pair: 0 with *ret (for HttpUpstreamTls.client), -EINVAL with *ret_error (malloc'd: what
 * is wrong with the file), -ENOMEM. */
int tls_upstream_clients_get(TlsUpstreamClients *l, const char *ca_file, bool verify, void **ret, char **ret_error);

extern const HttpUpstreamTlsOps tls_upstream_ops;
