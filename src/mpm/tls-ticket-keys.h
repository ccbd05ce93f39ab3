/* SPDX-License-Identifier: MIT */
/* tls-ticket-keys.h — session ticket keys, made by the supervisor in memory (never written to
 * disk), one ring per site, in shared memory the workers inherit read-only when they fork.
 *
 * A ring holds the key that encrypts new tickets and the previous ones that still decrypt: a key
 * is made every lifetime/4 (SSLSessionTicketLifetime) and kept until no ticket it encrypted can
 * still be valid. The supervisor keeps the rings across reloads (they are found by site name), so
 * a session made before `systemctl reload` resumes after it; a site's tickets are encrypted with
 * its own ring only, so a ticket of site A never resumes on site B. Workers read a ring under a
 * sequence counter: the supervisor's rotation never blocks them and they never see half a key.
 *
 * Memory: each ring is a one-page memfd of its own, so that a process can keep one site's ring and
 * unmap the others (tls_ticket_keys_forget(), for perchild's pools). The supervisor maps it twice:
 * read-write with MADV_DONTFORK, so that no forked process ever has the writable mapping (nothing
 * to drop after the fork, nothing left behind if a child forgets), and read-only; then the memfd is
 * sealed (F_SEAL_FUTURE_WRITE, no resizing) and closed. The read-only mapping, the only one children
 * inherit, was made after the seal, so the kernel cleared its VM_MAYWRITE: mprotect() cannot make
 * it writable, and with the descriptor closed there is nothing to map anew either. A worker can
 * read its sites' keys (it must, to encrypt) but never change them for another process.
 *
 * Which ring a connection uses: OpenSSL calls the ticket callbacks of the SSL's initial context
 * (the listener's default site), not of the one SNI switched to; these callbacks therefore look up
 * the ring of the SSL's current context (SSL_get_SSL_CTX). OpenSSL 3.0 decrypts a ticket (TLS 1.2
 * SessionTicket, TLS 1.3 pre_shared_key) before it calls the servername callback, so only a switch
 * made in the ClientHello callback is seen at that point (the store's is). As a second guard, each
 * ticket carries the SNI of the handshake that made its session (OpenSSL's ticket application
 * data: the session's own host name is kept only when a servername callback acknowledged it), and
 * resumes only when the ClientHello names the same (RFC 6066 §3: another name, or none, gets a
 * full handshake): whichever callback switches sites, a ticket is never taken by another site
 * than the one whose name it was issued for. Every refusal (an unknown key name, a key past use,
 * another name) is a full handshake, never an error. */
#pragma once

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

#include "shared/time-util.h"

typedef struct TlsTicketKeys TlsTicketKeys; /* the supervisor's: every site's ring */
typedef struct TlsTicketRing TlsTicketRing; /* one site's, in shared memory */

#define TLS_TICKET_RING_KEYS 8        /* steady state: the current key and the 4 or 5 it replaced */
#define TLS_TICKET_NAME_SIZE 16       /* OpenSSL's key name, the first bytes of every ticket */
#define TLS_TICKET_NAME_PREFIX_SIZE 8 /* of which the ring's own, distinct from every other ring's */
#define TLS_TICKET_PERIOD_MIN_USEC (1 * USEC_PER_SEC)

int tls_ticket_keys_new(TlsTicketKeys **ret);
/* Wipes every key (OPENSSL_cleanse) and unmaps the rings. */
TlsTicketKeys *tls_ticket_keys_free(TlsTicketKeys *k);

/* The ring of site_name (created with a fresh key for that lifetime when new; a changed lifetime
 * applies from the next rotation). The ring is marked as used by the generation given to the last
 * tls_ticket_keys_begin_generation(). NULL on failure (no memory, no randomness). */
TlsTicketRing *tls_ticket_keys_ring(TlsTicketKeys *k, const char *site_name, usec_t lifetime, usec_t now);

/* Supervisor: make new keys where a ring's rotation time has come, drop keys past use; returns when
 * it must be called next (CLOCK_REALTIME usec; USEC_INFINITY: no ring). A clock that went back is
 * taken as it is: no key lives longer than lifetime + lifetime/4 counted from it. */
usec_t tls_ticket_keys_rotate(TlsTicketKeys *k, usec_t now);

/* Supervisor, around each generation's tls_store_attach_tickets(): the rings asked for from now on
 * belong to generation; tls_ticket_keys_release() wipes and unmaps those that no generation from
 * oldest_live on asked for (a site gone from the configuration, once the generations that served it
 * have all finished). */
void tls_ticket_keys_begin_generation(TlsTicketKeys *k, unsigned generation);
void tls_ticket_keys_release(TlsTicketKeys *k, unsigned oldest_live);
size_t tls_ticket_keys_count(const TlsTicketKeys *k); /* rings held */

/* In a forked process: unmap the read-only mapping of every ring but the n_keep of keep (perchild:
 * a pool's own sites'; none: every ring). A context attached to a forgotten ring issues no tickets
 * and resumes none. */
void tls_ticket_keys_forget(TlsTicketKeys *k, const TlsTicketRing *const *keep, size_t n_keep);

/* Make ctx encrypt and decrypt its tickets with ring's keys (SSL_CTX_set_tlsext_ticket_key_evp_cb,
 * SSL_CTX_set_session_ticket_cb) and give them ring's lifetime (SSL_CTX_set_timeout). Every site's
 * context of a listener must be attached (or have SSL_OP_NO_TICKET): the callbacks are those of the
 * initial context, the ring that of the current one. A context without a ring issues no ticket and
 * resumes none. 0 or -errno. */
int tls_ticket_ring_attach(SSL_CTX *ctx, TlsTicketRing *ring);

/* What this process sees of ring (one read under the sequence counter, as the callbacks read it),
 * without the secrets: per slot in use its name, creation time and a fingerprint of the whole key
 * (the first 8 bytes of its SHA-256: equal fingerprints, equal keys). Returns the mask of the slots
 * in use and *ret_current the one that encrypts; -EAGAIN: never read whole (a writer stopped half
 * way), -ENXIO: not mapped here. For tests and diagnostics. */
typedef struct TlsTicketKeyInfo {
        uint8_t name[TLS_TICKET_NAME_SIZE];
        usec_t created;
        uint64_t fingerprint;
} TlsTicketKeyInfo;
int tls_ticket_ring_inspect(const TlsTicketRing *ring, TlsTicketKeyInfo ret[TLS_TICKET_RING_KEYS],
                            unsigned *ret_current);

/* ---- the arithmetic, pure (tls-ticket-keys.c uses it; the unit tests check it) -------------- */

/* lifetime/4, at least TLS_TICKET_PERIOD_MIN_USEC. */
usec_t tls_ticket_period(usec_t lifetime);

typedef struct TlsTicketKeyTimes {
        usec_t created;   /* CLOCK_REALTIME */
        usec_t rotate_at; /* while current: when the next key takes over (created + its period) */
        usec_t retired;   /* when the next key took over; USEC_INFINITY while current */
        usec_t lifetime;  /* the longest lifetime of the tickets it encrypted */
} TlsTicketKeyTimes;

typedef struct TlsTicketSchedule {
        TlsTicketKeyTimes slots[TLS_TICKET_RING_KEYS];
        uint32_t used;    /* bit i: slots[i] holds a key */
        unsigned current; /* the slot that encrypts (when used != 0) */
        usec_t lifetime;  /* SSLSessionTicketLifetime, for the next key made */
} TlsTicketSchedule;

/* What one step changed: the keys to wipe and the slot that takes a new key (-1: none). */
typedef struct TlsTicketStep {
        uint32_t dropped;
        int added;
} TlsTicketStep;

/* A retired key is kept while a ticket it encrypted may still be valid: until retired + lifetime. */
bool tls_ticket_key_needed(const TlsTicketKeyTimes *t, usec_t now);
/* A schedule with its first key, made now (step->added is its slot). */
void tls_ticket_schedule_init(TlsTicketSchedule *s, usec_t lifetime, usec_t now, TlsTicketStep *step);
/* A reload's lifetime: the next key is made with it; the current one keeps its rotation time, and
 * is kept for the longer of both lifetimes (it encrypts tickets of the new one from now on). */
void tls_ticket_schedule_set_lifetime(TlsTicketSchedule *s, usec_t lifetime);
/* Bring s to now: times ahead of now are pulled back to it (the clock went back); when the current
 * key's rotation time has come it is retired now and one new key made (one, however late); retired
 * keys no longer needed are dropped, and when every slot is taken the one that expires first makes
 * room. Never drops the current key. Returns when to step again. */
usec_t tls_ticket_schedule_step(TlsTicketSchedule *s, usec_t now, TlsTicketStep *step);
/* When the schedule needs its next step (the current key's rotation, or a retired key's expiry). */
usec_t tls_ticket_schedule_next(const TlsTicketSchedule *s);
