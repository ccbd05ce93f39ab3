/* SPDX-License-Identifier: MIT */
/* tls-store.h — a generation's certificate store: one OpenSSL SSL_CTX per site that has a
 * certificate (HttpSiteConfig.tls), with its chains and keys loaded, its protocol versions and
 * ciphers set, ALPN (the one place the application protocol is chosen: "http/1.1" now, "h2" later)
 * and SNI: the ClientHello callback moves a connection to the context of the site its name
 * selects among the sites reachable on the listener (http_server_select()'s rule), the listener's
 * default site otherwise, or refuses it with unrecognized_name under SSLStrictSNIVHostCheck. It
 * runs before OpenSSL chooses the version and looks up the session to resume, so that both are
 * the chosen site's (SSL_set_SSL_CTX() in the servername callback would come after them).
 *
 * Built by the supervisor from a loaded configuration (at `mpmd -t`, at start and at each reload),
 * before workers fork, with the supervisor's rights (a key file, or systemd's credential, need not
 * be readable by the workers' user); read-only afterwards: workers inherit it. Building it is the
 * check of every certificate: a chain that does not parse, a key that does not match it, a cipher
 * list OpenSSL does not know, a TLS listener whose default site has no certificate are errors with
 * the file:line of the directive; expiry within 14 days, or a certificate that does not cover
 * ServerName/ServerAlias, are warnings. A reload whose store cannot be built changes nothing.
 *
 * Key custody (per-user MPMs, tls-custody.h): the supervisor of a perchild server forks every
 * process, which would inherit every site's key from an open store. There it makes a *sealed* store
 * instead (tls_store_new_sealed()): each site's certificate and key bytes in a sealed memfd, copied
 * in the kernel, never parsed in the supervisor; the check runs in a child of its own. A pool makes
 * its own open store from it (tls_store_open_pool()): contexts for its own sites only, from their
 * memfds, which it then closes. A store that is not sealed is built the same way (sealed memfds,
 * parsed from there), in the process that calls tls_store_new().
 *
 * Session tickets: each site's context encrypts tickets with the keys of its own ring
 * (tls-ticket-keys.h), so a ticket of site A never resumes on site B; no session-ID cache. Each
 * site's session ID context is its own too (a digest of its section), so that even a ticket
 * another site's keys could open does not resume there. Mind that OpenSSL calls the ticket key
 * callback of the context a connection began with (the listener's default site's: the SSL's
 * session_ctx) also after SNI moved it: the callback finds the site's keys from
 * SSL_get_SSL_CTX(ssl), which is the chosen site's by the time any ticket is opened or made. */
#pragma once

#include <openssl/ssl.h>

#include "http/server.h"
#include "http/site-config.h"
#include "mpm/mpm.h"
#include "shared/conf-table.h"

typedef struct TlsStore TlsStore;
struct TlsTicketKeys;

/* A site as the store sees it: what its configuration says, nothing opened. sites[0] is the main
 * server, the rest the [VirtualHost]s in order, as in HttpServer. */
typedef struct TlsStoreSite {
        const char *name;          /* the vhost's name, or the main server's ServerName */
        const char *section;       /* "[Server]" or "[VirtualHost NAME]", for messages */
        const HttpSiteConfig *cfg; /* ServerName, ServerAlias and tls */
        char *const *listen;       /* the listeners only this site receives; NULL: every one */
        /* Where its Listen was written (sites[0]: the [Server] Listen, server_listen), for the
         * error of a TLS listener whose default site has no certificate; NULL: nowhere known. */
        const char *listen_file;
        unsigned listen_line;
} TlsStoreSite;

/* A certificate's dates, by one rule for every certificate mpmd presents (a site's, key
 * SSLCertificateFile; a client certificate to upstreams, SSLProxyMachineCertificateFile): expired
 * is an error at where's line (refused_by, "clients" or "upstreams", refuse it; a reload keeps the
 * certificate that still works), expiring within TLS_EXPIRY_WARNING_DAYS or not valid yet a
 * warning. 0 or -EINVAL. */
#define TLS_EXPIRY_WARNING_DAYS 14
int tls_check_cert_dates(X509 *leaf, const ConfLine *where, const char *section, const char *key,
                         const char *refused_by, ConfErrors *errors, ConfErrors *warnings);

/* Build the store from the sites and the Listen values of the server (server_listen: the main
 * server's Listen, every listener a site without a Listen of its own is reachable on). TLS
 * listeners are those listener_name_is_tls() (mpm.h) says. Errors and warnings are added as
 * "FILE:LINE: [Section] Key: what"; returns 0 (*ret NULL when no site has a certificate and no
 * listener is TLS), -EINVAL (errors added) or -ENOMEM. Needs the rights that read the keys.
 * The store copies what it keeps of the sites (names, aliases, Listen): sites may go after. */
int tls_store_new(const TlsStoreSite *sites, size_t n_sites, char *const *server_listen, TlsStore **ret,
                  ConfErrors *errors, ConfErrors *warnings);
TlsStore *tls_store_free(TlsStore *s);

/* The same check as tls_store_new() (the same errors and warnings), made in a forked child, and a
 * sealed store: per site the sealed memfd of its material and what the pools need of its settings,
 * no SSL_CTX, no parsed key. For the supervisor of a per-user MPM. */
int tls_store_new_sealed(const TlsStoreSite *sites, size_t n_sites, char *const *server_listen, TlsStore **ret,
                         ConfErrors *errors, ConfErrors *warnings);
bool tls_store_is_sealed(const TlsStore *s);
/* A sealed store's memfd of site (as in sites[], HttpServer's order); -1: none. The supervisor
 * keeps it for the generation's life, so that a pool process started again gets the same bytes;
 * it passes it to the processes of the site's pool only. */
int tls_store_material_fd(const TlsStore *s, size_t site);

/* In a pool process: its own store from sealed, with a context for each site own[i] says (http:
 * the generation's sites, in sealed's order), loaded from the memfds it kept; SNI chooses among
 * them by the same rule, on any listener: a name the store was not told of is a connection the
 * dispatcher handed here, and gets the pool's first own site by default. *ret NULL when none of
 * its sites has a certificate. Takes the material: the own memfds are closed, and the numbers of
 * the others (closed before the sandbox) forgotten. 0, -EINVAL (errors added), -ENOMEM. */
int tls_store_open_pool(TlsStore *sealed, const HttpServer *http, const bool *own, TlsStore **ret,
                        ConfErrors *errors);

/* Supervisor, once per generation, before workers fork: make each site's context encrypt its
 * tickets with its own ring of keys, the ring of the site's section ("[Server]", "[VirtualHost
 * NAME]"), so that it is the same ring after a reload. A site with SSLSessionTickets Off issues
 * none, but is attached too (its context may be a listener's initial one). 0 or -errno. */
int tls_store_attach_tickets(TlsStore *s, struct TlsTicketKeys *keys, usec_t now);

/* In a pool process, after tls_store_open_pool(): attach the rings the supervisor made for the
 * pool's sites (the sealed store's) and unmap every other site's, so that the pool holds its own
 * ticket keys only. 0 or -errno. */
int tls_store_attach_pool_tickets(TlsStore *pool, const TlsStore *sealed);

/* In a process that serves no TLS (perchild's dispatchers): forget every ring of ticket keys and
 * the numbers of the material memfds (closed before the sandbox). */
void tls_store_forget_sealed(TlsStore *sealed);

/* A new server-side SSL for a connection accepted on the listener named listener_name, set up
 * with that listener's default context (SNI may move it to another site's), or NULL (no memory,
 * or a listener the store does not know; a pool's store knows every one, and NULL too). */
SSL *tls_store_new_ssl(const TlsStore *s, const char *listener_name);

/* The site (its index in sites[], HttpServer's order) whose context ssl has now: the one SNI chose,
 * or the listener's default; its settings made the handshake (SSLVerifyClient). SIZE_MAX for an
 * SSL that tls_store_new_ssl() did not make. */
size_t tls_store_ssl_site(const SSL *ssl);

/* The ALPN choice, the one place the application protocol is chosen: the server's preference
 * ("http/1.1"; "h2" comes first once mpmd speaks it) against the client's list (wire format).
 * Returns the chosen name (its length in *ret_len), or NULL when the client offers none of ours:
 * the handshake then goes on without ALPN, as nginx does. */
const unsigned char *tls_store_alpn_choose(const unsigned char *client, unsigned client_len, unsigned char *ret_len);

/* "mpmd -V": the library's version line. */
const char *tls_library_version(void);
