/* SPDX-License-Identifier: MIT */
/* tls-store-internal.h — the certificate store's own structures, shared by tls-store.c and
 * tls-store-tickets.c (which links the ticket keys, tls-ticket-keys.h) only. */
#pragma once

#include <openssl/ssl.h>
#include <stdbool.h>

#include "http/server.h"
#include "mpm/tls-store.h"

struct TlsTicketRing;
struct TlsTicketKeys;

typedef struct StoreSite {
        char *name;        /* the vhost's name, or the main server's ServerName (may be NULL) */
        char *section;     /* "[Server]", "[VirtualHost NAME]" */
        char *server_name; /* for SNI: http_server_select()'s names */
        char **aliases;
        char **listen; /* NULL: every listener not dedicated to some sites */
        bool has_document_root;
        HttpSiteKey key; /* the above, for the virtual host rule (http/server.h) */
        SSL_CTX *ctx;    /* NULL: the site has no certificate */
        /* What SSL_set_SSL_CTX() does not carry over to a connection moved here by SNI (the
         * rest is read back from ctx). */
        char *tls12, *tls13;
        bool session_tickets;
        bool strict_sni;
        usec_t ticket_lifetime;
        /* A sealed store's (tls-custody.h): the sealed memfd of the site's pairs (-1: none, or not
         * this process's), and the ring of ticket keys the supervisor made for it. */
        int material_fd;
        struct TlsTicketRing *ring;
} StoreSite;

typedef struct StoreListener {
        char *name;
        size_t default_site; /* index into sites: what a connection without a known name gets */
        const TlsStore *store;
} StoreListener;

struct TlsStore {
        StoreSite *sites; /* sites[0] is the main server */
        size_t n_sites;
        StoreListener *listeners; /* the TLS ones */
        size_t n_listeners;
        /* Sealed (the supervisor's, under a per-user MPM): no context and no parsed key, only each
         * site's material and ring. A pool's: contexts for its own sites only, and any_listener
         * for a connection on a listener it was not told of (the dispatcher chose the pool). */
        bool sealed;
        char **server_listen;             /* sealed: [Server]'s Listen, for the pools' stores */
        struct TlsTicketKeys *keys;       /* sealed: whose rings the sites' are */
        StoreListener *any_listener;      /* a pool's: name NULL, its first own site as default */
};
