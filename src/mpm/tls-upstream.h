/* SPDX-License-Identifier: MIT */
/* tls-upstream.h — the client side of https:// upstreams (upstream.h's HttpUpstreamTlsOps), with
 * OpenSSL, which does the handshake, the verification and the record layer; nothing of TLS is
 * written here.
 *
 * Client contexts: one SSL_CTX per distinct (SSLProxyCACertificateFile, SSLProxyVerify,
 * SSLProxyMachineCertificateFile) of a configuration, built by the supervisor while it loads the
 * configuration (so a CA file that does not load, or a client certificate file that is not one, is
 * a file:line error of `mpmd -t` and of the reload, which then changes nothing) and inherited by
 * every worker it forks; the CA certificates are read whole into the context's store then, never
 * looked up on disk later (a sandboxed worker could not, and a CA directory would be read per
 * handshake). They are public data: key custody (tls-custody.h) does not concern them.
 *
 * A client certificate (SSLProxyMachineCertificateFile) is one PEM file with the certificate, the
 * certificates of its chain and its private key, in any order: the certificate is the one the key
 * matches, the others are sent as its chain. It is read once per file with the supervisor's rights
 * (the file may be root's only) and is checked as a site's certificate is: a key that is missing,
 * encrypted or matches none of the certificates, or a certificate that expired, is an error; one not
 * valid yet or expiring within 14 days a warning. The key is parsed in the process that builds the
 * contexts and inherited with them, so a per-user MPM, whose supervisor must never hold a parsed key
 * (tls-custody.h), refuses the directive (tls-setup.c).
 *
 * Sessions: OpenSSL reads and writes the upstream socket itself (its socket BIO): an upstream
 * connection is the handler's alone, which reads until EAGAIN before it waits (handler.h), and
 * OpenSSL answers "want read" only after its own read saw EAGAIN, so no readiness is lost under an
 * edge-triggered loop. SNI and the name checked are the target's (HttpUpstreamTls: the URL's host,
 * or the client's Host under ProxyPreserveHost; an IP address is checked as an address and sends no
 * SNI); TLS 1.2 at least, ALPN http/1.1, no renegotiation. Each thread keeps
 * the last session ticket per (context, name), so a new connection to the same upstream resumes
 * instead of verifying the chain again. */
#pragma once

#include <stdbool.h>

#include "http/upstream.h"
#include "shared/conf-table.h"

typedef struct TlsUpstreamClients TlsUpstreamClients;

TlsUpstreamClients *tls_upstream_clients_new(void);
TlsUpstreamClients *tls_upstream_clients_free(TlsUpstreamClients *l);

/* What a client context is made of: one context per distinct triple. */
typedef struct TlsUpstreamClientSpec {
        const char *ca_file;         /* SSLProxyCACertificateFile; NULL: the system's (OpenSSL's default file) */
        bool verify;                 /* SSLProxyVerify require */
        const ConfLine *client_cert; /* SSLProxyMachineCertificateFile; NULL: no client certificate */
        const char *section;         /* "[Server]", "[VirtualHost NAME]"…: for messages about client_cert */
} TlsUpstreamClientSpec;

/* The client context for spec, made once per triple: 0 with *ret (for HttpUpstreamTls.client),
 * -EINVAL with *ret_error (malloc'd: what is wrong with the CA file, for the caller to say at its
 * ProxyPass line) or with *ret_error NULL (the client certificate: its errors added once per file,
 * "FILE:LINE: [Section] SSLProxyMachineCertificateFile: PATH: what", to errors; its warnings to
 * warnings), -ENOMEM. */
int tls_upstream_clients_get(TlsUpstreamClients *l, const TlsUpstreamClientSpec *spec, void **ret, char **ret_error,
                             ConfErrors *errors, ConfErrors *warnings);

extern const HttpUpstreamTlsOps tls_upstream_ops;
