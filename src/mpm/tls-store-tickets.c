/* SPDX-License-Identifier: MIT */
/* tls-store-tickets.c — tls_store_attach_tickets() (tls-store.h): each site's context encrypts its
 * tickets with the ring of its own name (tls-ticket-keys.h), so that a ticket of one site never
 * resumes on another. A file of its own so that the store links without the ticket keys. */
#include <errno.h>

#include "mpm/tls-store-internal.h"
#include "mpm/tls-ticket-keys.h"

int tls_store_attach_tickets(TlsStore *s, struct TlsTicketKeys *keys, usec_t now) {
        if (!s)
                return 0;
        for (size_t i = 0; i < s->n_sites; i++) {
                StoreSite *site = &s->sites[i];
                TlsTicketRing *ring;
                int r;

                /* A site with SSLSessionTickets Off issues none (SSL_OP_NO_TICKET, no TLS 1.3
                 * tickets) but gets a ring all the same: as a listener's default site its context
                 * is the one whose callbacks OpenSSL calls for the sites SNI moves a connection to. */
                if (!site->ctx)
                        continue;
                /* by section: unique in a configuration, the same across reloads */
                ring = tls_ticket_keys_ring(keys, site->section, site->ticket_lifetime, now);
                if (!ring)
                        return -ENOMEM;
                r = tls_ticket_ring_attach(site->ctx, ring);
                if (r < 0)
                        return r;
        }
        return 0;
}
