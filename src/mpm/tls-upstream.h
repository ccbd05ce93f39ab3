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
 * valid yet or expiring within 14 days a warning. Its bytes are first copied into a sealed memfd
 * with sendfile() (tls-custody.h), then parsed from there, in the process that builds the contexts,
 * whose workers inherit them.
 *
 * Key custody (a per-user MPM, whose supervisor forks every pool and must never hold a parsed key):
 * a *sealed* list (tls_upstream_clients_new_sealed()) builds the same contexts without the client
 * certificates and keeps each file's memfd ("mpmd-tls-proxy:PATH") for the configuration's life;
 * tls_upstream_clients_check_sealed() makes the same check, with the same messages, in a forked
 * child; each pool loads the files its own sites name into its own copies of the contexts
 * (tls_upstream_clients_open_pool()), so that in a pool the contexts of another site's targets
 * show no certificate, and the pool closes the memfds.
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
/* The list of a per-user MPM's supervisor (key custody, above). */
TlsUpstreamClients *tls_upstream_clients_new_sealed(void);
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

/* A sealed list, once every context is made: the client certificates parsed and given to their
 * contexts in a forked child (tls-custody.h), its errors and warnings added here as
 * tls_upstream_clients_get() adds them in a list that is not sealed. 0 (also for a list that is
 * not sealed), -EINVAL, -ENOMEM. */
int tls_upstream_clients_check_sealed(TlsUpstreamClients *l, ConfErrors *errors, ConfErrors *warnings);

/* A sealed list's client certificate files, i from 0 while it returns true: the path (as written)
 * and its memfd (-1: none, its file did not read; or taken in this process). For the supervisor,
 * which passes to each pool the memfds of the files its sites name, and no other. */
bool tls_upstream_clients_sealed_file(const TlsUpstreamClients *l, size_t i, const char **ret_path, int *ret_fd);

/* In a pool process, on its copy of the list: parse the files own() says are its sites' from their
 * memfds, give them to the contexts that use them, and close those memfds; the numbers of the
 * others (closed before the sandbox) are forgotten. Errors added (none for a checked file but
 * -ENOMEM). 0 (a list that is not sealed: nothing to do), -EINVAL, -ENOMEM. */
int tls_upstream_clients_open_pool(TlsUpstreamClients *l, bool (*own)(const char *path, void *userdata),
                                   void *userdata, ConfErrors *errors);

/* In a process that proxies nothing (perchild's dispatchers): forget the memfd numbers. */
void tls_upstream_clients_forget_sealed(TlsUpstreamClients *l);

extern const HttpUpstreamTlsOps tls_upstream_ops;
