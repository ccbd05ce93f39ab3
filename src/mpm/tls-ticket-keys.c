/* SPDX-License-Identifier: MIT */
/* tls-ticket-keys.c — the rings of session ticket keys (tls-ticket-keys.h): their schedule (pure
 * arithmetic on times), their shared memory written under a sequence counter by the supervisor, and
 * the OpenSSL callbacks the workers run. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mpm/tls-ticket-keys.h"
#include "shared/macro.h"

/* ---- the schedule ------------------------------------------------------------------------ */

usec_t tls_ticket_period(usec_t lifetime) {
        return MAX(lifetime / 4, TLS_TICKET_PERIOD_MIN_USEC);
}

static usec_t add_saturating(usec_t a, usec_t b) {
        return a > USEC_INFINITY - b ? USEC_INFINITY : a + b;
}

bool tls_ticket_key_needed(const TlsTicketKeyTimes *t, usec_t now) {
        return t->retired == USEC_INFINITY || now < add_saturating(t->retired, t->lifetime);
}

static void schedule_add(TlsTicketSchedule *s, unsigned slot, usec_t now) {
        s->slots[slot] = (TlsTicketKeyTimes) {
                .created = now,
                .rotate_at = add_saturating(now, tls_ticket_period(s->lifetime)),
                .retired = USEC_INFINITY,
                .lifetime = s->lifetime,
        };
        s->used |= 1u << slot;
        s->current = slot;
}

void tls_ticket_schedule_init(TlsTicketSchedule *s, usec_t lifetime, usec_t now, TlsTicketStep *step) {
        *s = (TlsTicketSchedule) { .lifetime = lifetime };
        schedule_add(s, 0, now);
        *step = (TlsTicketStep) { .added = 0 };
}

void tls_ticket_schedule_set_lifetime(TlsTicketSchedule *s, usec_t lifetime) {
        s->lifetime = lifetime;
        if (s->used & (1u << s->current))
                s->slots[s->current].lifetime = MAX(s->slots[s->current].lifetime, lifetime);
}

usec_t tls_ticket_schedule_next(const TlsTicketSchedule *s) {
        usec_t next = USEC_INFINITY;

        for (unsigned i = 0; i < TLS_TICKET_RING_KEYS; i++) {
                const TlsTicketKeyTimes *t = &s->slots[i];
                if (!(s->used & (1u << i)))
                        continue;
                next = MIN(next, t->retired == USEC_INFINITY ? t->rotate_at : add_saturating(t->retired, t->lifetime));
        }
        return next;
}

usec_t tls_ticket_schedule_step(TlsTicketSchedule *s, usec_t now, TlsTicketStep *step) {
        *step = (TlsTicketStep) { .added = -1 };

        /* CLOCK_REALTIME went back: a time ahead of now would keep a key (or its turn to encrypt)
         * for as long as the jump. Taken as made now: it lives a lifetime (or a period) from here. */
        for (unsigned i = 0; i < TLS_TICKET_RING_KEYS; i++) {
                TlsTicketKeyTimes *t = &s->slots[i];
                if (!(s->used & (1u << i)))
                        continue;
                if (t->created > now) {
                        t->rotate_at =
                                add_saturating(now, MIN(t->rotate_at - t->created, tls_ticket_period(t->lifetime)));
                        t->created = now;
                }
                if (t->retired != USEC_INFINITY && t->retired > now)
                        t->retired = now;
        }

        /* Past use: no ticket they encrypted is valid any more. */
        for (unsigned i = 0; i < TLS_TICKET_RING_KEYS; i++)
                if ((s->used & (1u << i)) && !tls_ticket_key_needed(&s->slots[i], now)) {
                        s->used &= ~(1u << i);
                        step->dropped |= 1u << i;
                }

        if (!(s->used & (1u << s->current)))
                /* Not reached (the current key is always needed); a ring without keys starts again. */
                s->used = 0;
        else if (now < s->slots[s->current].rotate_at)
                return tls_ticket_schedule_next(s);
        else
                /* It encrypted until now, however late this step is: tickets of just now are its. */
                s->slots[s->current].retired = now;

        int slot = -1;
        for (unsigned i = 0; i < TLS_TICKET_RING_KEYS && slot < 0; i++)
                if (!(s->used & (1u << i)))
                        slot = (int) i;
        if (slot < 0) {
                /* Full (lifetimes that shrank leave long-lived keys behind): the retired key that
                 * expires first goes, its tickets get a full handshake. Never the one just retired. */
                usec_t first = USEC_INFINITY;
                for (unsigned i = 0; i < TLS_TICKET_RING_KEYS; i++) {
                        usec_t end = add_saturating(s->slots[i].retired, s->slots[i].lifetime);
                        if (i != s->current && (slot < 0 || end < first)) {
                                slot = (int) i;
                                first = end;
                        }
                }
                s->used &= ~(1u << slot);
                step->dropped |= 1u << slot;
        }
        schedule_add(s, (unsigned) slot, now);
        step->added = slot;
        return tls_ticket_schedule_next(s);
}

/* ---- the shared ring --------------------------------------------------------------------- */

typedef struct TlsTicketKey {
        uint8_t name[TLS_TICKET_NAME_SIZE]; /* the ring's prefix, then random */
        uint8_t aes[32];                    /* AES-256-CBC */
        uint8_t hmac[32];                   /* HMAC-SHA256 */
        uint64_t created;                   /* CLOCK_REALTIME usec */
} TlsTicketKey;

typedef struct TlsTicketPayload {
        uint64_t used;    /* bit i: keys[i] holds a key */
        uint64_t current; /* the slot that encrypts */
        TlsTicketKey keys[TLS_TICKET_RING_KEYS];
} TlsTicketPayload;

/* Copied a word at a time with atomic loads and stores: the reader's copy races with the writer by
 * design (the sequence counter tells it to discard what it read), and relaxed atomics are what
 * makes such a race defined. */
typedef union TlsTicketWords {
        TlsTicketPayload p;
        uint64_t w[sizeof(TlsTicketPayload) / sizeof(uint64_t)];
} TlsTicketWords;
_Static_assert(sizeof(TlsTicketPayload) % sizeof(uint64_t) == 0, "the payload is copied in words");

typedef struct TlsTicketShared {
        uint64_t seq; /* odd while the supervisor writes */
        TlsTicketWords u;
} TlsTicketShared;

/* The writer only copies some 700 bytes between two counter stores (the keys are made before), so
 * a reader that finds the ring being written spins a little; past that the writer was preempted
 * half way, and the reader yields the CPU (sched_yield, in every sandbox profile) until it is
 * done. After all the attempts (a supervisor stopped half way: a second or more) the reader gives
 * up: the ticket is neither issued nor resumed, a full handshake. */
#define RING_READ_SPINS 64u
#define RING_READ_ATTEMPTS (1u << 20)

struct TlsTicketRing {
        char *site;
        TlsTicketShared *rw;       /* the supervisor's, never inherited (MADV_DONTFORK) */
        const TlsTicketShared *ro; /* what forked processes read */
        size_t size;
        uint8_t prefix[TLS_TICKET_NAME_PREFIX_SIZE];
        TlsTicketSchedule schedule;
        unsigned generation; /* the newest generation that asked for it */
        TlsTicketRing *next;
};

struct TlsTicketKeys {
        TlsTicketRing *rings;
        unsigned generation;
        pid_t owner; /* the supervisor: the only process with the writable mappings */
};

static void ring_publish(TlsTicketShared *sh, const TlsTicketWords *next) {
        uint64_t seq = __atomic_load_n(&sh->seq, __ATOMIC_RELAXED);

        /* The odd count is seen before any word changes (the release fence orders it before the
         * stores below); the even one after all of them (a release store). */
        __atomic_store_n(&sh->seq, seq + 1, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_RELEASE);
        for (size_t i = 0; i < ELEMENTSOF(next->w); i++)
                __atomic_store_n(&sh->u.w[i], next->w[i], __ATOMIC_RELAXED);
        __atomic_store_n(&sh->seq, seq + 2, __ATOMIC_RELEASE);
}

/* A whole ring as it was between two of the supervisor's writes, or false. */
static bool ring_read(const TlsTicketShared *sh, TlsTicketWords *ret) {
        for (unsigned attempt = 0; attempt < RING_READ_ATTEMPTS; attempt++) {
                if (attempt >= RING_READ_SPINS)
                        (void) sched_yield();
                uint64_t before = __atomic_load_n(&sh->seq, __ATOMIC_ACQUIRE);
                if (before & 1)
                        continue;
                for (size_t i = 0; i < ELEMENTSOF(ret->w); i++)
                        ret->w[i] = __atomic_load_n(&sh->u.w[i], __ATOMIC_RELAXED);
                /* The words are read before the count is read again. */
                __atomic_thread_fence(__ATOMIC_ACQUIRE);
                if (__atomic_load_n(&sh->seq, __ATOMIC_RELAXED) == before)
                        return true;
        }
        OPENSSL_cleanse(ret, sizeof(*ret));
        return false;
}

/* The supervisor's own copy of its ring: it is the only writer. */
static void ring_copy_own(const TlsTicketRing *r, TlsTicketWords *ret) {
        for (size_t i = 0; i < ELEMENTSOF(ret->w); i++)
                ret->w[i] = __atomic_load_n(&r->rw->u.w[i], __ATOMIC_RELAXED);
}

static bool name_in_use(const TlsTicketKeys *k, const TlsTicketWords *words, const uint8_t *name) {
        for (const TlsTicketRing *r = k ? k->rings : NULL; r; r = r->next)
                if (memcmp(r->prefix, name, TLS_TICKET_NAME_PREFIX_SIZE) == 0)
                        return true;
        for (unsigned i = 0; words && i < TLS_TICKET_RING_KEYS; i++)
                if ((words->p.used & (1u << i)) && memcmp(words->p.keys[i].name, name, TLS_TICKET_NAME_SIZE) == 0)
                        return true;
        return false;
}

/* A key's secrets and name, made before the ring is written so that the writer holds the counter
 * odd for a copy only. 0 or -EIO (no randomness). */
static int key_make(const TlsTicketRing *r, const TlsTicketWords *words, usec_t now, TlsTicketKey *ret) {
        memcpy(ret->name, r->prefix, TLS_TICKET_NAME_PREFIX_SIZE);
        do {
                if (RAND_bytes(ret->name + TLS_TICKET_NAME_PREFIX_SIZE,
                               TLS_TICKET_NAME_SIZE - TLS_TICKET_NAME_PREFIX_SIZE) != 1)
                        return -EIO;
        } while (name_in_use(NULL, words, ret->name));
        if (RAND_priv_bytes(ret->aes, sizeof(ret->aes)) != 1 || RAND_priv_bytes(ret->hmac, sizeof(ret->hmac)) != 1) {
                OPENSSL_cleanse(ret, sizeof(*ret));
                return -EIO;
        }
        ret->created = now;
        return 0;
}

/* Apply a schedule step to the shared ring: wipe the dropped keys, put in the new one (made by the
 * caller). */
static void ring_apply(TlsTicketRing *r, const TlsTicketStep *step, const TlsTicketKey *added) {
        TlsTicketWords next;

        ring_copy_own(r, &next);
        for (unsigned i = 0; i < TLS_TICKET_RING_KEYS; i++)
                if (step->dropped & (1u << i))
                        OPENSSL_cleanse(&next.p.keys[i], sizeof(next.p.keys[i]));
        if (step->added >= 0)
                next.p.keys[step->added] = *added;
        next.p.used = r->schedule.used;
        next.p.current = r->schedule.current;
        ring_publish(r->rw, &next);
        OPENSSL_cleanse(&next, sizeof(next));
}

static TlsTicketRing *ring_free(TlsTicketRing *r, bool owner) {
        if (!r)
                return NULL;
        /* A forked process has no writable mapping (MADV_DONTFORK): the address is not its. */
        if (r->rw && owner) {
                TlsTicketWords zero = {};
                ring_publish(r->rw, &zero);
                munmap(r->rw, r->size);
        }
        if (r->ro)
                munmap((void *) r->ro, r->size);
        free(r->site);
        free(r);
        return NULL;
}

static int ring_map(TlsTicketRing *r) {
        _cleanup_close_ int fd = -1;
        void *p;

        r->size = ((sizeof(TlsTicketShared) + (size_t) sysconf(_SC_PAGESIZE) - 1) / (size_t) sysconf(_SC_PAGESIZE)) *
                  (size_t) sysconf(_SC_PAGESIZE);
        fd = memfd_create("mpmd-ticket-keys", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        if (ftruncate(fd, (off_t) r->size) < 0)
                return -errno;
        p = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        r->rw = p;
        /* Keys stay out of core dumps too. */
        if (madvise(p, r->size, MADV_DONTFORK) < 0 || madvise(p, r->size, MADV_DONTDUMP) < 0)
                return -errno;
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0)
                return -errno;
        p = mmap(NULL, r->size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        r->ro = p;
        (void) madvise(p, r->size, MADV_DONTDUMP);
        return 0;
}

static int ring_new(TlsTicketKeys *k, const char *site, usec_t lifetime, usec_t now, TlsTicketRing **ret) {
        TlsTicketRing *r = calloc(1, sizeof(*r));
        TlsTicketStep step;
        TlsTicketKey key;
        int e;

        if (!r)
                return -ENOMEM;
        r->site = strdup(site);
        if (!r->site) {
                free(r);
                return -ENOMEM;
        }
        e = ring_map(r);
        if (e < 0) {
                ring_free(r, true);
                return e;
        }
        do {
                if (RAND_bytes(r->prefix, sizeof(r->prefix)) != 1) {
                        ring_free(r, true);
                        return -EIO;
                }
        } while (name_in_use(k, NULL, r->prefix));
        tls_ticket_schedule_init(&r->schedule, lifetime, now, &step);
        e = key_make(r, NULL, now, &key);
        if (e < 0) {
                ring_free(r, true);
                return e;
        }
        ring_apply(r, &step, &key);
        OPENSSL_cleanse(&key, sizeof(key));
        *ret = r;
        return 0;
}

int tls_ticket_keys_new(TlsTicketKeys **ret) {
        TlsTicketKeys *k = calloc(1, sizeof(*k));

        if (!k)
                return -ENOMEM;
        k->owner = getpid();
        *ret = k;
        return 0;
}

TlsTicketKeys *tls_ticket_keys_free(TlsTicketKeys *k) {
        if (!k)
                return NULL;
        while (k->rings) {
                TlsTicketRing *next = k->rings->next;
                ring_free(k->rings, getpid() == k->owner);
                k->rings = next;
        }
        free(k);
        return NULL;
}

TlsTicketRing *tls_ticket_keys_ring(TlsTicketKeys *k, const char *site_name, usec_t lifetime, usec_t now) {
        TlsTicketRing *r;

        if (!k || !site_name)
                return NULL;
        for (r = k->rings; r; r = r->next)
                if (strcmp(r->site, site_name) == 0)
                        break;
        if (r) {
                if (lifetime != r->schedule.lifetime)
                        tls_ticket_schedule_set_lifetime(&r->schedule, lifetime);
        } else {
                if (ring_new(k, site_name, lifetime, now, &r) < 0)
                        return NULL;
                r->next = k->rings;
                k->rings = r;
        }
        r->generation = MAX(r->generation, k->generation);
        return r;
}

usec_t tls_ticket_keys_rotate(TlsTicketKeys *k, usec_t now) {
        usec_t next = USEC_INFINITY;

        for (TlsTicketRing *r = k ? k->rings : NULL; r; r = r->next) {
                TlsTicketSchedule s = r->schedule;
                TlsTicketStep step;
                TlsTicketKey key = {};
                usec_t due = tls_ticket_schedule_step(&s, now, &step);

                if (step.added >= 0) {
                        TlsTicketWords words;
                        int e;

                        ring_copy_own(r, &words);
                        e = key_make(r, &words, now, &key);
                        OPENSSL_cleanse(&words, sizeof(words));
                        if (e < 0) {
                                /* The current key goes on encrypting a little longer: try again
                                 * in a second rather than leave the ring without a key. */
                                next = MIN(next, add_saturating(now, USEC_PER_SEC));
                                continue;
                        }
                }
                r->schedule = s;
                if (step.added >= 0 || step.dropped != 0)
                        ring_apply(r, &step, &key);
                OPENSSL_cleanse(&key, sizeof(key));
                next = MIN(next, due);
        }
        return next;
}

void tls_ticket_keys_begin_generation(TlsTicketKeys *k, unsigned generation) {
        if (k)
                k->generation = generation;
}

void tls_ticket_keys_release(TlsTicketKeys *k, unsigned oldest_live) {
        for (TlsTicketRing **p = k ? &k->rings : NULL; p && *p;) {
                TlsTicketRing *r = *p;
                if (r->generation < oldest_live) {
                        *p = r->next;
                        ring_free(r, getpid() == k->owner);
                } else
                        p = &r->next;
        }
}

size_t tls_ticket_keys_count(const TlsTicketKeys *k) {
        size_t n = 0;

        for (const TlsTicketRing *r = k ? k->rings : NULL; r; r = r->next)
                n++;
        return n;
}

void tls_ticket_keys_forget(TlsTicketKeys *k, const TlsTicketRing *const *keep, size_t n_keep) {
        for (TlsTicketRing *r = k ? k->rings : NULL; r; r = r->next) {
                bool kept = false;
                for (size_t i = 0; i < n_keep && !kept; i++)
                        kept = keep[i] == r;
                if (!kept && r->ro) {
                        munmap((void *) r->ro, r->size);
                        r->ro = NULL;
                }
        }
}

int tls_ticket_ring_inspect(const TlsTicketRing *ring, TlsTicketKeyInfo ret[TLS_TICKET_RING_KEYS],
                            unsigned *ret_current) {
        TlsTicketWords w;
        int mask = 0;

        if (!ring || !ring->ro)
                return -ENXIO;
        if (!ring_read(ring->ro, &w))
                return -EAGAIN;
        for (unsigned i = 0; i < TLS_TICKET_RING_KEYS; i++) {
                unsigned char md[EVP_MAX_MD_SIZE];
                unsigned n = 0;

                ret[i] = (TlsTicketKeyInfo) { };
                if (!(w.p.used & (1u << i)))
                        continue;
                mask |= 1 << i;
                memcpy(ret[i].name, w.p.keys[i].name, TLS_TICKET_NAME_SIZE);
                ret[i].created = w.p.keys[i].created;
                if (EVP_Digest(&w.p.keys[i], sizeof(w.p.keys[i]), md, &n, EVP_sha256(), NULL) == 1 && n >= 8)
                        memcpy(&ret[i].fingerprint, md, sizeof(ret[i].fingerprint));
        }
        *ret_current = (unsigned) w.p.current;
        OPENSSL_cleanse(&w, sizeof(w));
        return mask;
}

/* ---- the OpenSSL callbacks (in the workers) ----------------------------------------------- */

static int ring_index = -1;
static pthread_once_t ring_index_once = PTHREAD_ONCE_INIT;

static void ring_index_init(void) {
        ring_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* The ring of the context the connection is on now, after any SNI switch. */
static const TlsTicketRing *ssl_ring(SSL *ssl) {
        if (ring_index < 0)
                return NULL;
        return SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ring_index);
}

static int key_use(const TlsTicketKey *key, unsigned char *iv, EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc) {
        OSSL_PARAM params[] = {
                OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *) key->hmac, sizeof(key->hmac)),
                OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                OSSL_PARAM_construct_end(),
        };

        if (EVP_MAC_CTX_set_params(hctx, params) != 1)
                return -1;
        if (enc)
                return EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, key->aes, iv) == 1 ? 0 : -1;
        return EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, key->aes, iv) == 1 ? 0 : -1;
}

/* SSL_CTX_set_tlsext_ticket_key_evp_cb: 1 keys set, 2 set but renew the ticket (decrypted with a
 * key that no longer encrypts), 0 no ticket / unknown name (a full handshake), -1 error. */
static int ticket_key_cb(SSL *ssl, unsigned char *key_name, unsigned char *iv, EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx,
                         int enc) {
        const TlsTicketRing *ring = ssl_ring(ssl);
        TlsTicketWords w;
        int r = 0;

        if (!ring || !ring->ro || !ring_read(ring->ro, &w))
                return 0;
        if (enc) {
                unsigned cur = (unsigned) w.p.current;
                if (cur < TLS_TICKET_RING_KEYS && (w.p.used & (1u << cur)) && RAND_bytes(iv, 16) == 1) {
                        memcpy(key_name, w.p.keys[cur].name, TLS_TICKET_NAME_SIZE);
                        r = key_use(&w.p.keys[cur], iv, cctx, hctx, 1) < 0 ? -1 : 1;
                }
        } else
                for (unsigned i = 0; i < TLS_TICKET_RING_KEYS; i++)
                        if ((w.p.used & (1u << i)) &&
                            CRYPTO_memcmp(w.p.keys[i].name, key_name, TLS_TICKET_NAME_SIZE) == 0) {
                                r = key_use(&w.p.keys[i], iv, cctx, hctx, 0) < 0 ? -1 : i == w.p.current ? 1 : 2;
                                break;
                        }
        OPENSSL_cleanse(&w, sizeof(w));
        return r;
}

/* The ClientHello's host_name (RFC 6066 §3), read from the raw extension: at the time tickets are
 * decrypted OpenSSL has not parsed it yet. false: none (or malformed: OpenSSL refuses it later). */
static bool client_hello_sni(SSL *ssl, const unsigned char **ret, size_t *ret_len) {
        const unsigned char *p;
        size_t len, list, n;

        if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) != 1 || len < 5)
                return false;
        list = (size_t) p[0] << 8 | p[1];
        n = (size_t) p[3] << 8 | p[4];
        if (list != len - 2 || p[2] != TLSEXT_NAMETYPE_host_name || n == 0 || n > list - 3)
                return false;
        *ret = p + 5;
        *ret_len = n;
        return true;
}

/* Each ticket carries, as OpenSSL's application data, the SNI of the handshake that made its
 * session ("" after the tag when there was none). Not SSL_SESSION_get0_hostname(): OpenSSL keeps
 * the name in the session only when a servername callback acknowledged it. */
#define TICKET_SNI_TAG "mpmd-sni:"
#define TICKET_SNI_MAX 255 /* a DNS name */

/* A resumed session must be for the name it was made for: the servername callback, which may move
 * the connection to another site, runs only after the ticket was taken. */
static bool ticket_name_matches(SSL *ssl, SSL_SESSION *sess) {
        const size_t tag = strlen(TICKET_SNI_TAG);
        const unsigned char *sni;
        const char *made_for;
        size_t n, len;
        void *data;

        if (SSL_SESSION_get0_ticket_appdata(sess, &data, &len) != 1 || len < tag ||
            memcmp(data, TICKET_SNI_TAG, tag) != 0)
                return false; /* not one of ours */
        made_for = (const char *) data + tag;
        len -= tag;
        if (!client_hello_sni(ssl, &sni, &n))
                return len == 0;
        return len == n && strncasecmp(made_for, (const char *) sni, n) == 0;
}

static SSL_TICKET_RETURN ticket_decrypted(SSL *ssl, SSL_SESSION *sess, const unsigned char *keyname, size_t keyname_len,
                                          SSL_TICKET_STATUS status, void *arg) {
        switch (status) {
        case SSL_TICKET_SUCCESS:
        case SSL_TICKET_SUCCESS_RENEW:
                if (!sess || !ticket_name_matches(ssl, sess))
                        return SSL_TICKET_RETURN_IGNORE_RENEW;
                return status == SSL_TICKET_SUCCESS ? SSL_TICKET_RETURN_USE : SSL_TICKET_RETURN_USE_RENEW;
        case SSL_TICKET_EMPTY:
        case SSL_TICKET_NO_DECRYPT:
                return SSL_TICKET_RETURN_IGNORE_RENEW;
        default:
                return SSL_TICKET_RETURN_ABORT;
        }
}

/* Before each ticket is made. A session's lifetime comes from the initial context (session_ctx):
 * the ticket gets that of the site it is issued by. And the SNI it is for: a resumed session keeps
 * the name it came with (checked equal to this ClientHello's; for TLS 1.2 OpenSSL no longer tells
 * the name sent once a session is resumed). Never fails the handshake: a ticket without the name
 * is one that resumes nowhere. */
static int ticket_generating(SSL *ssl, void *arg) {
        SSL_SESSION *sess = SSL_get0_session(ssl);
        char buf[sizeof(TICKET_SNI_TAG) + TICKET_SNI_MAX];
        const char *name;
        size_t len, n;
        void *data;

        if (!sess)
                return 1;
        (void) SSL_SESSION_set_timeout(sess, SSL_CTX_get_timeout(SSL_get_SSL_CTX(ssl)));
        if (SSL_session_reused(ssl) && SSL_SESSION_get0_ticket_appdata(sess, &data, &len) == 1 && len > 0)
                return 1;
        name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        n = name ? strlen(name) : 0;
        if (n > TICKET_SNI_MAX)
                n = 0; /* OpenSSL refuses such a name before this */
        len = strlen(TICKET_SNI_TAG);
        memcpy(buf, TICKET_SNI_TAG, len);
        if (n > 0)
                memcpy(buf + len, name, n);
        (void) SSL_SESSION_set1_ticket_appdata(sess, buf, len + n);
        return 1;
}

int tls_ticket_ring_attach(SSL_CTX *ctx, TlsTicketRing *ring) {
        long seconds;

        if (!ctx || !ring)
                return -EINVAL;
        (void) pthread_once(&ring_index_once, ring_index_init);
        if (ring_index < 0)
                return -ENOMEM;
        if (SSL_CTX_set_ex_data(ctx, ring_index, ring) != 1)
                return -ENOMEM;
        if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_cb) != 1)
                return -EINVAL;
        if (SSL_CTX_set_session_ticket_cb(ctx, ticket_generating, ticket_decrypted, NULL) != 1)
                return -EINVAL;
        seconds = (long) MIN(ring->schedule.lifetime / USEC_PER_SEC, (usec_t) LONG_MAX);
        SSL_CTX_set_timeout(ctx, MAX(seconds, 1L));
        return 0;
}
