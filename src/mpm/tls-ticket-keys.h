/* SPDX-License-Identifier: MIT */
/* tls-ticket-keys.h — session ticket keys, made by the supervisor in memory (never written to
 * disk), one ring per site, in shared memory the workers inherit read-only when they fork.
 *
 * A ring holds the key that encrypts new tickets and the previous ones that still decrypt: a key
 * is made every lifetime/4 (SSLSessionTicketLifetime) and kept until no ticket it encrypted can
 * still be valid. The supervisor keeps the rings across reloads (they are found by site name), so
 * a session made before `systemctl reload` resumes after it; a site's tickets are encrypted with
 * its own ring only, so a ticket of site A never resumes on site B. Workers read a ring under a
 * sequence counter: the supervisor's rotation never blocks them and they never see half a key. */
#pragma once

#include <openssl/ssl.h>
#include <stdbool.h>

#include "shared/time-util.h"

typedef struct TlsTicketKeys TlsTicketKeys; /* the supervisor's: every site's ring */
typedef struct TlsTicketRing TlsTicketRing; /* one site's, in shared memory */

int tls_ticket_keys_new(TlsTicketKeys **ret);
TlsTicketKeys *tls_ticket_keys_free(TlsTicketKeys *k);

/* The ring of site_name (created with fresh keys for that lifetime when new; a changed lifetime
 * applies from the next rotation). NULL on failure. */
TlsTicketRing *tls_ticket_keys_ring(TlsTicketKeys *k, const char *site_name, usec_t lifetime, usec_t now);

/* Supervisor: make new keys where a ring's rotation time has come, drop keys past use; returns when
 * it must be called next (CLOCK_REALTIME usec). */
usec_t tls_ticket_keys_rotate(TlsTicketKeys *k, usec_t now);

/* Make ctx encrypt and decrypt its tickets with ring's keys (SSL_CTX_set_tlsext_ticket_key_evp_cb)
 * and give them ring's lifetime. 0 or -errno. */
int tls_ticket_ring_attach(SSL_CTX *ctx, TlsTicketRing *ring);
