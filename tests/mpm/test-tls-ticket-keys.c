/* SPDX-License-Identifier: MIT */
/* Tests of the session ticket keys (tls-ticket-keys.h): the schedule's arithmetic (the period, when
 * a key is made, how long the ones it replaced are kept, a changed lifetime, clock jumps both ways,
 * a full ring, and a long run of random steps that never leaves a ring without its current key);
 * the rings (one per site name, distinct name prefixes, dropped once no live generation uses them);
 * the memory a forked process inherits (read-only, and mprotect cannot change that; no writable
 * mapping at all); the sequence counter (a forked reader sees only whole keys while the supervisor
 * rotates in a loop); and real resumptions between an OpenSSL client and server in this process,
 * over a socketpair: TLS 1.2 and 1.3 sessions resume on their own site, never on another one, be
 * the SNI switch made in the servername callback (after OpenSSL took the ticket) or in the
 * ClientHello callback; a ticket made before a rotation resumes after it and is renewed with the
 * new key; one older than lifetime + a period does not; a site's ticket carries its own lifetime. */
#include <criterion/criterion.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpm/tls-ticket-keys.h"
#include "shared/macro.h"
#include "shared/time-util.h"

#define SEC USEC_PER_SEC
#define HOUR (3600 * SEC)
#define T0 ((usec_t) 1800000000 * SEC) /* any fixed CLOCK_REALTIME */

static unsigned popcount(uint32_t m) {
        return (unsigned) __builtin_popcount(m);
}

/* ---- the schedule ------------------------------------------------------------------------ */

Test(ticket_schedule, period_is_a_quarter_with_a_floor) {
        cr_assert_eq(tls_ticket_period(HOUR), 900 * SEC);
        cr_assert_eq(tls_ticket_period(300 * SEC), 75 * SEC);
        cr_assert_eq(tls_ticket_period(2 * SEC), TLS_TICKET_PERIOD_MIN_USEC);
        cr_assert_eq(tls_ticket_period(0), TLS_TICKET_PERIOD_MIN_USEC);
}

Test(ticket_schedule, rotation_due_every_period) {
        TlsTicketSchedule s;
        TlsTicketStep st;

        tls_ticket_schedule_init(&s, HOUR, T0, &st);
        cr_assert_eq(st.added, 0);
        cr_assert_eq(s.used, 1u);
        cr_assert_eq(tls_ticket_schedule_next(&s), T0 + 900 * SEC);

        /* Not yet: nothing changes. */
        cr_assert_eq(tls_ticket_schedule_step(&s, T0 + 900 * SEC - 1, &st), T0 + 900 * SEC);
        cr_assert_eq(st.added, -1);
        cr_assert_eq(st.dropped, 0u);

        /* Due: a new key encrypts, the old one is retired now and kept a lifetime. */
        usec_t next = tls_ticket_schedule_step(&s, T0 + 900 * SEC, &st);
        cr_assert_eq(st.added, 1);
        cr_assert_eq(st.dropped, 0u);
        cr_assert_eq(s.current, 1u);
        cr_assert_eq(s.slots[0].retired, T0 + 900 * SEC);
        cr_assert_eq(s.slots[1].created, T0 + 900 * SEC);
        cr_assert_eq(next, T0 + 1800 * SEC);
}

Test(ticket_schedule, retired_key_kept_lifetime_after_retirement) {
        TlsTicketSchedule s;
        TlsTicketStep st;
        usec_t p = 900 * SEC;

        tls_ticket_schedule_init(&s, HOUR, T0, &st);
        for (unsigned i = 1; i <= 4; i++) {
                tls_ticket_schedule_step(&s, T0 + i * p, &st);
                cr_assert_eq(st.dropped, 0u, "rotation %u drops nothing", i);
        }
        /* Key 0, retired at T0 + p, encrypted tickets valid until T0 + p + lifetime. */
        cr_assert(tls_ticket_key_needed(&s.slots[0], T0 + p + HOUR - 1));
        cr_assert_not(tls_ticket_key_needed(&s.slots[0], T0 + p + HOUR));
        cr_assert_eq(s.used, 0x1fu);
        tls_ticket_schedule_step(&s, T0 + p + HOUR - 1, &st);
        cr_assert_eq(st.dropped, 0u);
        tls_ticket_schedule_step(&s, T0 + p + HOUR, &st);
        cr_assert_eq(st.dropped, 1u, "key 0 goes at retirement + lifetime, with the rotation due then");
        cr_assert_eq(st.added, 0, "and its slot is reused");
}

Test(ticket_schedule, steady_state_fits_the_ring) {
        TlsTicketSchedule s;
        TlsTicketStep st;
        usec_t now = T0, next;

        tls_ticket_schedule_init(&s, HOUR, now, &st);
        for (unsigned i = 0; i < 200; i++) {
                next = tls_ticket_schedule_step(&s, now, &st);
                cr_assert_gt(next, now);
                cr_assert_leq(popcount(s.used), 6u);
                now = next;
        }
        cr_assert_geq(popcount(s.used), 5u, "the current key and those of the last lifetime");
}

Test(ticket_schedule, changed_lifetime_applies_from_next_rotation) {
        TlsTicketSchedule s;
        TlsTicketStep st;

        tls_ticket_schedule_init(&s, HOUR, T0, &st);
        tls_ticket_schedule_set_lifetime(&s, 4 * HOUR);
        cr_assert_eq(tls_ticket_schedule_next(&s), T0 + 900 * SEC, "the current key keeps its rotation time");
        cr_assert_eq(s.slots[0].lifetime, 4 * HOUR, "it now encrypts tickets of 4 h: kept for them");
        tls_ticket_schedule_step(&s, T0 + 900 * SEC, &st);
        cr_assert_eq(tls_ticket_schedule_next(&s), T0 + 900 * SEC + HOUR, "the new key's period is 4 h / 4");
        cr_assert(tls_ticket_key_needed(&s.slots[0], T0 + 900 * SEC + 4 * HOUR - 1));

        /* Shorter: the current key is still kept for the longer lifetime it encrypted under. */
        tls_ticket_schedule_set_lifetime(&s, 60 * SEC);
        cr_assert_eq(s.slots[s.current].lifetime, 4 * HOUR);
        tls_ticket_schedule_step(&s, T0 + 900 * SEC + HOUR, &st);
        cr_assert_eq(s.slots[s.current].lifetime, 60 * SEC);
        cr_assert_eq(tls_ticket_schedule_next(&s), T0 + 900 * SEC + HOUR + 15 * SEC);
}

Test(ticket_schedule, clock_back_keeps_nothing_forever) {
        TlsTicketSchedule s;
        TlsTicketStep st;
        usec_t p = 900 * SEC, back = T0 - 10 * 24 * HOUR;

        tls_ticket_schedule_init(&s, HOUR, T0, &st);
        tls_ticket_schedule_step(&s, T0 + p, &st);
        tls_ticket_schedule_step(&s, T0 + 2 * p, &st);
        cr_assert_eq(popcount(s.used), 3u);

        /* Ten days back: the current key is kept and keeps encrypting for at most a period. */
        usec_t next = tls_ticket_schedule_step(&s, back, &st);
        cr_assert_eq(st.dropped, 0u);
        cr_assert_eq(st.added, -1);
        cr_assert(s.used & (1u << s.current));
        cr_assert_leq(next, back + p);
        cr_assert_leq(s.slots[s.current].rotate_at, back + p);

        /* A lifetime and a period later, the keys of before the jump are all gone. */
        usec_t now = back;
        while (now < back + p + HOUR)
                now = tls_ticket_schedule_step(&s, now, &st);
        tls_ticket_schedule_step(&s, now, &st);
        for (unsigned i = 0; i < TLS_TICKET_RING_KEYS; i++)
                if (s.used & (1u << i))
                        cr_assert_geq(s.slots[i].created, back, "slot %u: made before the jump, still kept", i);
}

Test(ticket_schedule, clock_forward_makes_one_key_and_keeps_the_last) {
        TlsTicketSchedule s;
        TlsTicketStep st;
        usec_t p = 900 * SEC, ahead = T0 + 10 * 24 * HOUR;

        tls_ticket_schedule_init(&s, HOUR, T0, &st);
        tls_ticket_schedule_step(&s, T0 + p, &st);
        unsigned last = s.current;
        tls_ticket_schedule_step(&s, ahead, &st);
        cr_assert_eq(st.dropped, 1u, "the key retired ten days ago goes");
        cr_assert_geq(st.added, 0);
        cr_assert_eq(popcount(s.used), 2u, "one new key, however many periods were missed");
        cr_assert(s.used & (1u << last), "the key that encrypted until now is kept");
        cr_assert_eq(s.slots[last].retired, ahead);
        cr_assert(tls_ticket_key_needed(&s.slots[last], ahead + HOUR - 1));
}

Test(ticket_schedule, full_ring_drops_the_key_that_expires_first) {
        TlsTicketSchedule s;
        TlsTicketStep st;

        /* Long-lived keys, then a much shorter lifetime: rotations come faster than keys expire. */
        tls_ticket_schedule_init(&s, 24 * HOUR, T0, &st);
        usec_t now = T0;
        for (unsigned i = 0; i < 3; i++)
                now = tls_ticket_schedule_step(&s, now, &st);
        tls_ticket_schedule_set_lifetime(&s, 4 * SEC);
        for (unsigned i = 0; i < 5; i++)
                now = tls_ticket_schedule_step(&s, now, &st);
        cr_assert_eq(popcount(s.used), TLS_TICKET_RING_KEYS);
        now = tls_ticket_schedule_step(&s, now, &st);
        /* The 24-h keys outlive the 4-s ones: one of the short ones (not the one just retired, nor
         * the 24-h keys) makes room. */
        cr_assert_eq(popcount(st.dropped), 1u);
        unsigned gone = (unsigned) __builtin_ctz(st.dropped);
        cr_assert_eq((int) gone, st.added);
        cr_assert_eq(s.slots[gone].lifetime, 4 * SEC);
        for (unsigned i = 0; i < TLS_TICKET_RING_KEYS; i++)
                cr_assert(s.used & (1u << i));
}

Test(ticket_schedule, random_steps_never_lose_the_current_key) {
        TlsTicketSchedule s;
        TlsTicketStep st;
        usec_t now = T0;
        unsigned seed = 14;

        tls_ticket_schedule_init(&s, HOUR, now, &st);
        for (unsigned i = 0; i < 100000; i++) {
                long delta = (long) (rand_r(&seed) % 2000) - 200; /* seconds, mostly forward */
                if (rand_r(&seed) % 50 == 0)
                        tls_ticket_schedule_set_lifetime(&s, (usec_t) (1 + rand_r(&seed) % 7200) * SEC);
                now = delta < 0 && now < (usec_t) -delta * SEC ? now : now + (usec_t) delta * SEC;
                unsigned before = s.current;
                bool had = s.used & (1u << before);
                usec_t next = tls_ticket_schedule_step(&s, now, &st);
                cr_assert(s.used & (1u << s.current), "step %u: no current key", i);
                cr_assert(had && !(st.dropped & (1u << before)), "step %u: the current key was dropped", i);
                cr_assert_gt(next, now, "step %u", i);
                for (unsigned j = 0; j < TLS_TICKET_RING_KEYS; j++)
                        if (s.used & (1u << j)) {
                                cr_assert_leq(s.slots[j].created, now);
                                if (j != s.current)
                                        cr_assert_leq(s.slots[j].retired, now);
                        }
        }
}

/* ---- rings ------------------------------------------------------------------------------- */

Test(ticket_rings, one_ring_per_site_with_its_own_prefix) {
        TlsTicketKeys *k = NULL;
        TlsTicketKeyInfo a[TLS_TICKET_RING_KEYS], b[TLS_TICKET_RING_KEYS];
        unsigned ca, cb;
        usec_t now = now_usec(CLOCK_REALTIME);

        cr_assert_eq(tls_ticket_keys_new(&k), 0);
        TlsTicketRing *ra = tls_ticket_keys_ring(k, "a.example", HOUR, now);
        TlsTicketRing *rb = tls_ticket_keys_ring(k, "b.example", HOUR, now);
        cr_assert_not_null(ra);
        cr_assert_not_null(rb);
        cr_assert_neq(ra, rb);
        cr_assert_eq(tls_ticket_keys_ring(k, "a.example", HOUR, now + SEC), ra, "found again by name");
        cr_assert_eq(tls_ticket_keys_count(k), 2u);

        cr_assert_eq(tls_ticket_ring_inspect(ra, a, &ca), 1);
        cr_assert_eq(tls_ticket_ring_inspect(rb, b, &cb), 1);
        cr_assert_eq(ca, 0u);
        cr_assert_eq(a[0].created, now);
        cr_assert_neq(memcmp(a[0].name, b[0].name, TLS_TICKET_NAME_PREFIX_SIZE), 0);
        cr_assert_neq(a[0].fingerprint, b[0].fingerprint);

        /* Rotation keeps the prefix: a name says which ring it belongs to. */
        usec_t next = tls_ticket_keys_rotate(k, now + 900 * SEC);
        cr_assert_eq(next, now + 1800 * SEC);
        cr_assert_eq(tls_ticket_ring_inspect(ra, b, &ca), 3);
        cr_assert_eq(ca, 1u);
        cr_assert_eq(memcmp(b[0].name, b[1].name, TLS_TICKET_NAME_PREFIX_SIZE), 0);
        cr_assert_neq(memcmp(b[0].name, b[1].name, TLS_TICKET_NAME_SIZE), 0);
        cr_assert_eq(b[0].fingerprint, a[0].fingerprint, "the old key is unchanged");
        tls_ticket_keys_free(k);
}

Test(ticket_rings, dropped_once_no_live_generation_uses_them) {
        TlsTicketKeys *k = NULL;
        usec_t now = now_usec(CLOCK_REALTIME);

        cr_assert_eq(tls_ticket_keys_new(&k), 0);
        tls_ticket_keys_begin_generation(k, 1);
        TlsTicketRing *a = tls_ticket_keys_ring(k, "a", HOUR, now);
        cr_assert_not_null(tls_ticket_keys_ring(k, "gone", HOUR, now));
        tls_ticket_keys_begin_generation(k, 2); /* a reload without "gone" */
        cr_assert_eq(tls_ticket_keys_ring(k, "a", HOUR, now), a);
        tls_ticket_keys_release(k, 1); /* generation 1 still drains */
        cr_assert_eq(tls_ticket_keys_count(k), 2u);
        tls_ticket_keys_release(k, 2);
        cr_assert_eq(tls_ticket_keys_count(k), 1u);
        cr_assert_eq(tls_ticket_keys_ring(k, "a", HOUR, now), a, "a site that stays keeps its keys");
        tls_ticket_keys_free(k);
}

/* ---- the memory forked processes inherit ------------------------------------------------- */

typedef struct Mapping {
        uintptr_t start, end;
        char perms[5];
} Mapping;

static size_t ticket_mappings(Mapping *ret, size_t max) {
        FILE *f = fopen("/proc/self/maps", "re");
        char line[512];
        size_t n = 0;

        cr_assert_not_null(f);
        while (fgets(line, sizeof(line), f))
                if (strstr(line, "mpmd-ticket-keys") && n < max) {
                        cr_assert_eq(sscanf(line, "%lx-%lx %4s", &ret[n].start, &ret[n].end, ret[n].perms), 3);
                        n++;
                }
        fclose(f);
        return n;
}

Test(ticket_memory, children_inherit_read_only_and_cannot_change_it) {
        TlsTicketKeys *k = NULL;
        Mapping m[8];

        cr_assert_eq(tls_ticket_keys_new(&k), 0);
        cr_assert_not_null(tls_ticket_keys_ring(k, "a", HOUR, now_usec(CLOCK_REALTIME)));
        cr_assert_not_null(tls_ticket_keys_ring(k, "b", HOUR, now_usec(CLOCK_REALTIME)));
        cr_assert_eq(ticket_mappings(m, ELEMENTSOF(m)), 4u, "the supervisor maps each ring twice");

        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                size_t n = ticket_mappings(m, ELEMENTSOF(m));
                if (n != 2)
                        _exit(10); /* one mapping per ring, the writable one not inherited */
                for (size_t i = 0; i < n; i++) {
                        if (strcmp(m[i].perms, "r--s") != 0)
                                _exit(11);
                        if (mprotect((void *) m[i].start, m[i].end - m[i].start, PROT_READ | PROT_WRITE) == 0)
                                _exit(12);
                        if (errno != EACCES)
                                _exit(13);
                }
                _exit(0);
        }
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status), "child died of signal %d", WTERMSIG(status));
        cr_assert_eq(WEXITSTATUS(status), 0, "child check %d failed", WEXITSTATUS(status));
        tls_ticket_keys_free(k);
        cr_assert_eq(ticket_mappings(m, ELEMENTSOF(m)), 0u, "freed: unmapped");
}

Test(ticket_memory, a_write_through_the_inherited_mapping_faults) {
        TlsTicketKeys *k = NULL;
        Mapping m[4];

        cr_assert_eq(tls_ticket_keys_new(&k), 0);
        cr_assert_not_null(tls_ticket_keys_ring(k, "a", HOUR, now_usec(CLOCK_REALTIME)));
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                if (ticket_mappings(m, ELEMENTSOF(m)) != 1)
                        _exit(10);
                *(volatile uint64_t *) m[0].start = 1;
                _exit(0);
        }
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "status %#x", status);
        tls_ticket_keys_free(k);
}

Test(ticket_memory, forget_keeps_one_ring) {
        TlsTicketKeys *k = NULL;
        TlsTicketKeyInfo info[TLS_TICKET_RING_KEYS];
        unsigned cur;
        Mapping m[8];

        cr_assert_eq(tls_ticket_keys_new(&k), 0);
        TlsTicketRing *a = tls_ticket_keys_ring(k, "a", HOUR, now_usec(CLOCK_REALTIME));
        TlsTicketRing *b = tls_ticket_keys_ring(k, "b", HOUR, now_usec(CLOCK_REALTIME));
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                tls_ticket_keys_forget(k, (const TlsTicketRing *[]){b}, 1);
                if (ticket_mappings(m, ELEMENTSOF(m)) != 1)
                        _exit(10);
                if (tls_ticket_ring_inspect(a, info, &cur) != -ENXIO || tls_ticket_ring_inspect(b, info, &cur) != 1)
                        _exit(11);
                tls_ticket_keys_free(k); /* in a child: nothing of the supervisor's written */
                _exit(ticket_mappings(m, ELEMENTSOF(m)) == 0 ? 0 : 12);
        }
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
        cr_assert_eq(tls_ticket_ring_inspect(a, info, &cur), 1, "the supervisor's ring is intact");
        tls_ticket_keys_free(k);
}

/* A forked process that frees what it inherited unmaps its own mappings and writes nothing: the
 * writable mapping was never its. */
Test(ticket_memory, freed_in_a_child) {
        TlsTicketKeys *k = NULL;
        TlsTicketKeyInfo info[TLS_TICKET_RING_KEYS];
        unsigned cur;
        Mapping m[4];

        cr_assert_eq(tls_ticket_keys_new(&k), 0);
        TlsTicketRing *a = tls_ticket_keys_ring(k, "a", HOUR, now_usec(CLOCK_REALTIME));
        cr_assert_eq(tls_ticket_ring_inspect(a, info, &cur), 1);
        uint64_t fingerprint = info[0].fingerprint;
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                tls_ticket_keys_free(k);
                _exit(ticket_mappings(m, ELEMENTSOF(m)) == 0 ? 0 : 10);
        }
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
        cr_assert_eq(tls_ticket_ring_inspect(a, info, &cur), 1);
        cr_assert_eq(info[0].fingerprint, fingerprint, "the child wiped nothing");
        tls_ticket_keys_free(k);
}

/* ---- the sequence counter ---------------------------------------------------------------- */

/* The supervisor rotates as fast as it can and records every key it published (its own reads are
 * whole: it is the writer); a forked reader records every key it saw. Each key seen must be one
 * that was published: a torn read would show a fingerprint (a hash of the whole key) never made. */
#define SEEN_SLOTS (1u << 18) /* an open-addressing set of fingerprints (0: empty) */
typedef struct Seen {
        uint64_t fingerprint[SEEN_SLOTS];
        uint64_t n, reads, failed;
} Seen;

static void seen_add(Seen *s, uint64_t fp) {
        for (uint64_t i = fp % SEEN_SLOTS;; i = (i + 1) % SEEN_SLOTS) {
                if (s->fingerprint[i] == fp)
                        return;
                if (s->fingerprint[i] == 0 && s->n < SEEN_SLOTS / 2) {
                        s->fingerprint[i] = fp;
                        s->n++;
                        return;
                }
                if (s->fingerprint[i] == 0)
                        return;
        }
}

static bool seen_has(const Seen *s, uint64_t fp) {
        for (uint64_t i = fp % SEEN_SLOTS; s->fingerprint[i] != 0; i = (i + 1) % SEEN_SLOTS)
                if (s->fingerprint[i] == fp)
                        return true;
        return false;
}

Test(ticket_seqlock, reader_sees_only_whole_keys, .timeout = 120) {
        TlsTicketKeys *k = NULL;
        TlsTicketKeyInfo info[TLS_TICKET_RING_KEYS];
        unsigned cur;
        const unsigned rotations = 100000;
        usec_t now = T0;

        Seen *child = mmap(NULL, sizeof(Seen), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        Seen *published = mmap(NULL, sizeof(Seen), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        volatile uint32_t *stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        cr_assert(child != MAP_FAILED && published != MAP_FAILED && (void *) stop != MAP_FAILED);

        cr_assert_eq(tls_ticket_keys_new(&k), 0);
        /* A 4-s lifetime: every rotation also drops a key, so slots are rewritten all the time. */
        TlsTicketRing *r = tls_ticket_keys_ring(k, "a", 4 * SEC, now);
        cr_assert_not_null(r);
        cr_assert_eq(tls_ticket_ring_inspect(r, info, &cur), 1);
        seen_add(published, info[0].fingerprint);

        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                while (!__atomic_load_n(stop, __ATOMIC_ACQUIRE)) {
                        int m = tls_ticket_ring_inspect(r, info, &cur);
                        child->reads++;
                        if (m < 0) {
                                child->failed++;
                                continue;
                        }
                        for (unsigned i = 0; i < TLS_TICKET_RING_KEYS; i++)
                                if (m & (1 << i))
                                        seen_add(child, info[i].fingerprint);
                }
                _exit(0);
        }
        for (unsigned i = 0; i < rotations; i++) {
                now = tls_ticket_keys_rotate(k, now);
                int mask = tls_ticket_ring_inspect(r, info, &cur);
                cr_assert_gt(mask, 0);
                for (unsigned j = 0; j < TLS_TICKET_RING_KEYS; j++)
                        if (mask & (1 << j))
                                seen_add(published, info[j].fingerprint);
        }
        __atomic_store_n(stop, 1, __ATOMIC_RELEASE);
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        cr_assert_gt(published->n, rotations / 2, "the supervisor did rotate (%llu keys)",
                     (unsigned long long) published->n);
        cr_assert_gt(child->n, 10u, "the reader saw keys change (%llu in %llu reads)", (unsigned long long) child->n,
                     (unsigned long long) child->reads);
        cr_assert_eq(child->failed, 0u, "a reader never gives up on a ring that is being written");
        uint64_t torn = 0;
        for (uint64_t i = 0; i < SEEN_SLOTS; i++)
                if (child->fingerprint[i] != 0 && !seen_has(published, child->fingerprint[i]))
                        torn++;
        cr_assert_eq(torn, 0u, "the reader saw %llu keys never published (torn reads) among %llu",
                     (unsigned long long) torn, (unsigned long long) child->n);
        tls_ticket_keys_free(k);
}

/* ---- resumption, client and server in this process ---------------------------------------- */

static EVP_PKEY *test_key;
static X509 *test_cert;

static void make_certificate(void) {
        test_key = EVP_EC_gen("P-256");
        cr_assert_not_null(test_key);
        test_cert = X509_new();
        cr_assert_not_null(test_cert);
        X509_set_version(test_cert, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(test_cert), 1);
        X509_gmtime_adj(X509_getm_notBefore(test_cert), -60);
        X509_gmtime_adj(X509_getm_notAfter(test_cert), 3600);
        X509_set_pubkey(test_cert, test_key);
        X509_NAME *name = X509_get_subject_name(test_cert);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *) "mpmd test", -1, -1, 0);
        X509_set_issuer_name(test_cert, name);
        cr_assert_gt(X509_sign(test_cert, test_key, EVP_sha256()), 0);
}

typedef enum SniSwitch {
        SWITCH_CLIENT_HELLO, /* SSL_CTX_set_client_hello_cb: before the ticket is taken (the store's) */
        SWITCH_SERVERNAME,   /* SSL_CTX_set_tlsext_servername_callback: after */
} SniSwitch;

typedef struct Site {
        const char *name;
        SSL_CTX *ctx;
        TlsTicketRing *ring;
} Site;

static TlsTicketKeys *keys;
static Site sites[3];
static SSL_CTX *client_ctx;

static SSL_CTX *site_ctx(const char *name, size_t len) {
        for (size_t i = 0; i < ELEMENTSOF(sites); i++)
                if (sites[i].name && strlen(sites[i].name) == len && strncasecmp(sites[i].name, name, len) == 0)
                        return sites[i].ctx;
        return NULL;
}

static int on_servername(SSL *ssl, int *alert, void *arg) {
        const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        SSL_CTX *ctx = name ? site_ctx(name, strlen(name)) : NULL;

        if (ctx && ctx != SSL_get_SSL_CTX(ssl))
                SSL_set_SSL_CTX(ssl, ctx);
        return SSL_TLSEXT_ERR_OK;
}

static int on_client_hello(SSL *ssl, int *alert, void *arg) {
        const unsigned char *p;
        size_t len;

        if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) || len < 5)
                return SSL_CLIENT_HELLO_SUCCESS;
        SSL_CTX *ctx = site_ctx((const char *) p + 5, (size_t) p[3] << 8 | p[4]);
        if (ctx && ctx != SSL_get_SSL_CTX(ssl))
                SSL_set_SSL_CTX(ssl, ctx);
        return SSL_CLIENT_HELLO_SUCCESS;
}

static SSL_CTX *server_ctx(TlsTicketRing *ring, long lifetime) {
        SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

        cr_assert_not_null(ctx);
        cr_assert_eq(SSL_CTX_use_certificate(ctx, test_cert), 1);
        cr_assert_eq(SSL_CTX_use_PrivateKey(ctx, test_key), 1);
        /* Tickets only: a session-ID cache would resume what the tickets must not. */
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        if (ring)
                cr_assert_eq(tls_ticket_ring_attach(ctx, ring), 0);
        cr_assert_eq(SSL_CTX_get_timeout(ctx), ring ? lifetime : SSL_CTX_get_timeout(ctx));
        return ctx;
}

/* One of the two callbacks, never both: the store has the ClientHello callback alone (so OpenSSL
 * keeps no host name in the session), a server of the old school the servername callback alone. */
static void use_switch(SniSwitch how) {
        for (size_t i = 0; i < ELEMENTSOF(sites); i++) {
                SSL_CTX_set_client_hello_cb(sites[i].ctx, how == SWITCH_CLIENT_HELLO ? on_client_hello : NULL, NULL);
                if (how == SWITCH_SERVERNAME)
                        SSL_CTX_set_tlsext_servername_callback(sites[i].ctx, on_servername);
                else
                        SSL_CTX_set_tlsext_servername_callback(sites[i].ctx, NULL);
        }
}

/* Site a (a listener's default), b, and c without tickets keys; a 1-h lifetime, b's 10 min. */
static void setup_sites(void) {
        usec_t now = now_usec(CLOCK_REALTIME);

        make_certificate();
        cr_assert_eq(tls_ticket_keys_new(&keys), 0);
        sites[0] = (Site) { .name = "a.example", .ring = tls_ticket_keys_ring(keys, "a.example", HOUR, now) };
        sites[1] = (Site) { .name = "b.example", .ring = tls_ticket_keys_ring(keys, "b.example", 600 * SEC, now) };
        sites[2] = (Site) { .name = "c.example" };
        sites[0].ctx = server_ctx(sites[0].ring, 3600);
        sites[1].ctx = server_ctx(sites[1].ring, 600);
        sites[2].ctx = server_ctx(NULL, 0);
        client_ctx = SSL_CTX_new(TLS_client_method());
        cr_assert_not_null(client_ctx);
        SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL);
        use_switch(SWITCH_CLIENT_HELLO);
}

static void teardown_sites(void) {
        for (size_t i = 0; i < ELEMENTSOF(sites); i++)
                SSL_CTX_free(sites[i].ctx);
        SSL_CTX_free(client_ctx);
        tls_ticket_keys_free(keys);
        X509_free(test_cert);
        EVP_PKEY_free(test_key);
}

TestSuite(ticket_resumption, .init = setup_sites, .fini = teardown_sites, .timeout = 60);

typedef struct Result {
        bool reused;
        SSL_SESSION *session; /* the client's, with the ticket it got (to free) */
        SSL_CTX *site;        /* the server's context at the end */
} Result;

static bool step_ok(SSL *ssl, int r) {
        int e = SSL_get_error(ssl, r);
        return r == 1 || e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

/* A handshake on a socketpair between a server SSL made with initial (the listener's default site)
 * and a client offering resume (NULL: none) with sni (NULL: none), at exactly version. */
static Result connect_once(SSL_CTX *initial, const char *sni, SSL_SESSION *resume, int version) {
        int sv[2];
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        SSL *s = SSL_new(initial), *c = SSL_new(client_ctx);
        cr_assert(s && c);
        SSL_set_fd(s, sv[0]);
        SSL_set_fd(c, sv[1]);
        SSL_set_accept_state(s);
        SSL_set_connect_state(c);
        cr_assert_eq(SSL_set_min_proto_version(c, version), 1);
        cr_assert_eq(SSL_set_max_proto_version(c, version), 1);
        if (sni)
                cr_assert_eq(SSL_set_tlsext_host_name(c, sni), 1);
        if (resume)
                cr_assert_eq(SSL_set_session(c, resume), 1);

        bool cdone = false, sdone = false;
        for (unsigned i = 0; i < 100 && !(cdone && sdone); i++) {
                int rc = cdone ? 1 : SSL_do_handshake(c), rs = sdone ? 1 : SSL_do_handshake(s);
                cr_assert(step_ok(c, rc), "client handshake failed: %s", ERR_error_string(ERR_get_error(), NULL));
                cr_assert(step_ok(s, rs), "server handshake failed: %s", ERR_error_string(ERR_get_error(), NULL));
                cdone = rc == 1;
                sdone = rs == 1;
        }
        cr_assert(cdone && sdone, "the handshake did not finish");
        cr_assert_eq(SSL_version(s), version);

        /* TLS 1.3 tickets come after the handshake: the client reads them with the data. */
        char byte = 'x';
        cr_assert_eq(SSL_write(s, &byte, 1), 1);
        int n = -1;
        for (unsigned i = 0; i < 100 && n != 1; i++) {
                n = SSL_read(c, &byte, 1);
                cr_assert(n == 1 || step_ok(c, n));
        }
        cr_assert_eq(n, 1);

        Result res = {
                .reused = SSL_session_reused(s),
                .session = SSL_get1_session(c),
                .site = SSL_get_SSL_CTX(s),
        };
        cr_assert_eq(res.reused, (bool) SSL_session_reused(c));
        /* Closed cleanly: OpenSSL marks the session of a connection freed without close_notify as
         * not resumable. */
        (void) SSL_shutdown(c);
        (void) SSL_shutdown(s);
        SSL_free(s);
        SSL_free(c);
        close(sv[0]);
        close(sv[1]);
        return res;
}

/* The key name a ticket was encrypted with: its first 16 bytes. */
static void ticket_name(SSL_SESSION *sess, uint8_t name[TLS_TICKET_NAME_SIZE]) {
        const unsigned char *t;
        size_t len;

        SSL_SESSION_get0_ticket(sess, &t, &len);
        cr_assert_geq(len, (size_t) TLS_TICKET_NAME_SIZE, "the session has a ticket");
        memcpy(name, t, TLS_TICKET_NAME_SIZE);
}

static void current_name(TlsTicketRing *ring, uint8_t name[TLS_TICKET_NAME_SIZE]) {
        TlsTicketKeyInfo info[TLS_TICKET_RING_KEYS];
        unsigned cur;

        cr_assert_gt(tls_ticket_ring_inspect(ring, info, &cur), 0);
        memcpy(name, info[cur].name, TLS_TICKET_NAME_SIZE);
}

static void resumes_on_own_site(int version) {
        Result first = connect_once(sites[0].ctx, "a.example", NULL, version);
        cr_assert_not(first.reused);
        cr_assert(SSL_SESSION_has_ticket(first.session));
        uint8_t name[TLS_TICKET_NAME_SIZE], cur[TLS_TICKET_NAME_SIZE];
        ticket_name(first.session, name);
        current_name(sites[0].ring, cur);
        cr_assert_eq(memcmp(name, cur, sizeof(name)), 0, "encrypted with a's current key");

        Result again = connect_once(sites[0].ctx, "a.example", first.session, version);
        cr_assert(again.reused, "a session of a resumes on a");
        Result no_sni = connect_once(sites[0].ctx, NULL, first.session, version);
        cr_assert_not(no_sni.reused, "a session made for a.example is not resumed without the name");
        SSL_SESSION_free(first.session);
        SSL_SESSION_free(again.session);
        SSL_SESSION_free(no_sni.session);
}

Test(ticket_resumption, tls13_resumes_on_its_site) {
        resumes_on_own_site(TLS1_3_VERSION);
}

Test(ticket_resumption, tls12_resumes_on_its_site) {
        resumes_on_own_site(TLS1_2_VERSION);
}

/* A session of a offered with the name of b on a's listener: OpenSSL takes the ticket while the
 * connection is still a's, then the switch to b comes; the ticket must not resume. And b's own
 * sessions stay b's. */
static void never_on_another_site(SniSwitch how, int version) {
        use_switch(how);
        Result a = connect_once(sites[0].ctx, "a.example", NULL, version);
        Result cross = connect_once(sites[0].ctx, "b.example", a.session, version);
        cr_assert_eq(cross.site, sites[1].ctx, "SNI moved the connection to b");
        cr_assert_not(cross.reused, "a session of a resumed on b");
        cr_assert(SSL_SESSION_has_ticket(cross.session), "b issued a ticket of its own");
        uint8_t name[TLS_TICKET_NAME_SIZE], cur[TLS_TICKET_NAME_SIZE];
        ticket_name(cross.session, name);
        current_name(sites[1].ring, cur);
        cr_assert_eq(memcmp(name, cur, sizeof(name)), 0, "b's ticket is encrypted with b's ring");

        /* b's session offered with a's name: not on a either. */
        Result back = connect_once(sites[0].ctx, "a.example", cross.session, version);
        cr_assert_eq(back.site, sites[0].ctx);
        cr_assert_not(back.reused, "a session of b resumed on a");
        SSL_SESSION_free(a.session);
        SSL_SESSION_free(cross.session);
        SSL_SESSION_free(back.session);
}

Test(ticket_resumption, tls13_not_on_another_site_servername_cb) {
        never_on_another_site(SWITCH_SERVERNAME, TLS1_3_VERSION);
}

Test(ticket_resumption, tls12_not_on_another_site_servername_cb) {
        never_on_another_site(SWITCH_SERVERNAME, TLS1_2_VERSION);
}

Test(ticket_resumption, tls13_not_on_another_site_client_hello_cb) {
        never_on_another_site(SWITCH_CLIENT_HELLO, TLS1_3_VERSION);
}

Test(ticket_resumption, tls12_not_on_another_site_client_hello_cb) {
        never_on_another_site(SWITCH_CLIENT_HELLO, TLS1_2_VERSION);
}

/* Switched in the ClientHello callback, before the ticket is taken: the ring used is the one of
 * the site SNI chose (the SSL's current context), not of the listener's default whose callbacks
 * OpenSSL calls; so b's sessions resume on b although the connection starts as a's. */
static void switched_site_resumes(int version) {
        use_switch(SWITCH_CLIENT_HELLO);
        Result b = connect_once(sites[0].ctx, "b.example", NULL, version);
        cr_assert_eq(b.site, sites[1].ctx);
        Result again = connect_once(sites[0].ctx, "b.example", b.session, version);
        cr_assert(again.reused, "b's session resumes on b when the connection starts on a's listener");
        SSL_SESSION_free(b.session);
        SSL_SESSION_free(again.session);
}

Test(ticket_resumption, tls13_switched_site_resumes) {
        switched_site_resumes(TLS1_3_VERSION);
}

Test(ticket_resumption, tls12_switched_site_resumes) {
        switched_site_resumes(TLS1_2_VERSION);
}

/* Two listeners whose default sites differ, no SNI: the ring is that of the listener's site. */
Test(ticket_resumption, not_on_another_listeners_site) {
        for (int v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
                Result a = connect_once(sites[0].ctx, NULL, NULL, v);
                Result b = connect_once(sites[1].ctx, NULL, a.session, v);
                cr_assert_not(b.reused, "version %#x: a's session resumed on b's listener", v);
                Result a2 = connect_once(sites[0].ctx, NULL, a.session, v);
                cr_assert(a2.reused, "version %#x", v);
                SSL_SESSION_free(a.session);
                SSL_SESSION_free(b.session);
                SSL_SESSION_free(a2.session);
        }
}

/* The ticket carries the lifetime of the site that issued it, not of the listener's default. */
Test(ticket_resumption, ticket_lifetime_is_the_sites) {
        for (int v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
                use_switch(SWITCH_CLIENT_HELLO);
                Result b = connect_once(sites[0].ctx, "b.example", NULL, v);
                cr_assert_eq(SSL_SESSION_get_ticket_lifetime_hint(b.session), 600ul, "version %#x", v);
                Result a = connect_once(sites[0].ctx, "a.example", NULL, v);
                cr_assert_eq(SSL_SESSION_get_ticket_lifetime_hint(a.session), 3600ul, "version %#x", v);
                SSL_SESSION_free(b.session);
                SSL_SESSION_free(a.session);
        }
}

/* A site whose context has no ring (its listener's default has one): no ticket, no resumption,
 * and the handshake still works. */
Test(ticket_resumption, context_without_ring_issues_none) {
        for (int v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
                use_switch(SWITCH_CLIENT_HELLO);
                Result c = connect_once(sites[0].ctx, "c.example", NULL, v);
                cr_assert_eq(c.site, sites[2].ctx);
                cr_assert_not(SSL_SESSION_has_ticket(c.session), "version %#x: a ticket without keys", v);
                SSL_SESSION_free(c.session);
        }
}

static void rotation_renews(int version) {
        usec_t now = now_usec(CLOCK_REALTIME);
        Result first = connect_once(sites[0].ctx, "a.example", NULL, version);
        uint8_t old_name[TLS_TICKET_NAME_SIZE], name[TLS_TICKET_NAME_SIZE], cur[TLS_TICKET_NAME_SIZE];
        ticket_name(first.session, old_name);

        /* Without a rotation a TLS 1.2 resumption issues no new ticket. */
        Result same = connect_once(sites[0].ctx, "a.example", first.session, version);
        cr_assert(same.reused);
        if (version == TLS1_2_VERSION)
                cr_assert_eq(same.session, first.session, "not renewed while its key is current");

        tls_ticket_keys_rotate(keys, now + 900 * SEC);
        current_name(sites[0].ring, cur);
        cr_assert_neq(memcmp(cur, old_name, sizeof(cur)), 0, "a new key encrypts");

        Result after = connect_once(sites[0].ctx, "a.example", first.session, version);
        cr_assert(after.reused, "a ticket of the previous key resumes");
        cr_assert(SSL_SESSION_has_ticket(after.session));
        ticket_name(after.session, name);
        cr_assert_eq(memcmp(name, cur, sizeof(name)), 0, "and is renewed with the new key");
        Result renewed = connect_once(sites[0].ctx, "a.example", after.session, version);
        cr_assert(renewed.reused);
        SSL_SESSION_free(first.session);
        SSL_SESSION_free(same.session);
        SSL_SESSION_free(after.session);
        SSL_SESSION_free(renewed.session);
}

Test(ticket_resumption, tls12_ticket_of_before_a_rotation_resumes_renewed) {
        rotation_renews(TLS1_2_VERSION);
}

Test(ticket_resumption, tls13_ticket_of_before_a_rotation_resumes_renewed) {
        rotation_renews(TLS1_3_VERSION);
}

/* a's first key retires at its rotation (now + 15 min) and goes a lifetime later: a ticket it
 * encrypted resumes up to then, not after. */
static void expires(int version) {
        usec_t now = now_usec(CLOCK_REALTIME), p = 900 * SEC;
        Result first = connect_once(sites[0].ctx, "a.example", NULL, version);

        tls_ticket_keys_rotate(keys, now + p);
        tls_ticket_keys_rotate(keys, now + p + HOUR - 1);
        Result last = connect_once(sites[0].ctx, "a.example", first.session, version);
        cr_assert(last.reused, "still within lifetime + a period of its key");
        tls_ticket_keys_rotate(keys, now + p + HOUR);
        Result gone = connect_once(sites[0].ctx, "a.example", first.session, version);
        cr_assert_not(gone.reused, "older than lifetime + a period: resumed");
        cr_assert(SSL_SESSION_has_ticket(gone.session), "a full handshake with a new ticket");
        SSL_SESSION_free(first.session);
        SSL_SESSION_free(last.session);
        SSL_SESSION_free(gone.session);
}

Test(ticket_resumption, tls12_ticket_past_lifetime_and_period_does_not_resume) {
        expires(TLS1_2_VERSION);
}

Test(ticket_resumption, tls13_ticket_past_lifetime_and_period_does_not_resume) {
        expires(TLS1_3_VERSION);
}

/* A reload: the rings are the supervisor's, looked up by name again; a context of the new
 * generation resumes the old one's sessions. */
Test(ticket_resumption, new_generation_resumes_old_sessions) {
        for (int v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
                Result first = connect_once(sites[0].ctx, "a.example", NULL, v);
                tls_ticket_keys_begin_generation(keys, 2);
                TlsTicketRing *ring = tls_ticket_keys_ring(keys, "a.example", HOUR, now_usec(CLOCK_REALTIME));
                cr_assert_eq(ring, sites[0].ring);
                SSL_CTX *reloaded = server_ctx(ring, 3600);
                Result again = connect_once(reloaded, "a.example", first.session, v);
                cr_assert(again.reused, "version %#x", v);
                SSL_CTX_free(reloaded);
                SSL_SESSION_free(first.session);
                SSL_SESSION_free(again.session);
        }
}
