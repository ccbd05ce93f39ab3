/* SPDX-License-Identifier: MIT */
/* tls-store-tickets.c — tls_store_attach_tickets() (tls-store.h): each site's context encrypts its
 * tickets with the ring of its own name (tls-ticket-keys.h), so that a ticket of one site never
 * resumes on another; and under perchild, each pool keeps the rings of its own sites only. A file
 * of its own so that the store links without the ticket keys. */
#include <errno.h>
#include <stdlib.h>

#include "mpm/tls-store-internal.h"
#include "mpm/tls-ticket-keys.h"
#include "shared/macro.h"

int tls_store_attach_tickets(TlsStore *s, struct TlsTicketKeys *keys, usec_t now) {
        if (!s)
                return 0;
        if (s->sealed)
                s->keys = keys; /* the pools attach their sites' rings (tls_store_attach_pool_tickets) */
        for (size_t i = 0; i < s->n_sites; i++) {
                StoreSite *site = &s->sites[i];
                TlsTicketRing *ring;
                int r;

                /* A site with SSLSessionTickets Off issues none (SSL_OP_NO_TICKET, no TLS 1.3
                 * tickets) but gets a ring all the same: as a listener's default site its context
                 * is the one whose callbacks OpenSSL calls for the sites SNI moves a connection to. */
                if (!site->ctx && site->material_fd < 0)
                        continue;
                /* by section: unique in a configuration, the same across reloads */
                ring = tls_ticket_keys_ring(keys, site->section, site->ticket_lifetime, now);
                if (!ring)
                        return -ENOMEM;
                if (s->sealed) {
                        site->ring = ring; /* made here, before the fork: every pool maps the same */
                        continue;
                }
                r = tls_ticket_ring_attach(site->ctx, ring);
                if (r < 0)
                        return r;
        }
        return 0;
}

int tls_store_attach_pool_tickets(TlsStore *pool, const TlsStore *sealed) {
        _cleanup_free_ const TlsTicketRing **keep = NULL;
        size_t n_keep = 0;

        if (!sealed)
                return 0;
        keep = calloc(MAX(sealed->n_sites, (size_t) 1), sizeof(TlsTicketRing *));
        if (!keep)
                return -ENOMEM;
        for (size_t i = 0; pool && i < pool->n_sites && i < sealed->n_sites; i++) {
                int r;

                if (!pool->sites[i].ctx || !sealed->sites[i].ring)
                        continue;
                r = tls_ticket_ring_attach(pool->sites[i].ctx, sealed->sites[i].ring);
                if (r < 0)
                        return r;
                keep[n_keep++] = sealed->sites[i].ring;
        }
        /* Every other site's ring (of this generation's sites, and of older ones the supervisor
         * still keeps) is unmapped: this pool can neither make nor open another site's tickets. */
        tls_ticket_keys_forget(sealed->keys, keep, n_keep);
        return 0;
}

void tls_store_forget_sealed(TlsStore *sealed) {
        if (!sealed)
                return;
        tls_ticket_keys_forget(sealed->keys, NULL, 0);
        for (size_t i = 0; i < sealed->n_sites; i++)
                sealed->sites[i].material_fd = -1;
}
