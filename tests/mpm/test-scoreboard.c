/* SPDX-License-Identifier: MIT */
/* Tests of the scoreboard: a segment as created (size, seals, close-on-exec, initial slots), a
 * worker's writes seen through the supervisor's read-only mapping, that mapping refusing writes,
 * the seals refusing every size change, the counts per state letter, each way a segment is judged
 * corrupt, saturating sums, the segment's own n_workers never used as a bound (a guard page right
 * after the segment), and a fuzz run of 10,000 random and mutated segments, plus a writer that
 * scribbles while the supervisor reads; then what a reading may add to the counters accepted so far
 * (honest counts whole, a decrease ignored, a forgery clamped to the bounds). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/macro.h"
#include "mpm/scoreboard.h"

static const char valid_states[] = { WS_OPEN,      WS_STARTING, WS_READY,   WS_READ,    WS_WRITE,
                                     WS_KEEPALIVE, WS_CLOSING,  WS_LOGGING, WS_GRACEFUL, WS_IDLE_KILL };

static size_t page_size(void) {
        return (size_t) sysconf(_SC_PAGESIZE);
}

/* A read-only mapping of fd followed by an inaccessible page: any read past the size the
 * supervisor computed faults. */
typedef struct Guarded {
        void *base;
        size_t size;
        ScoreboardProcess *seg;
} Guarded;

static Guarded guarded_map(int fd, unsigned n_workers) {
        Guarded g = { .size = scoreboard_segment_size(n_workers) };

        g.base = mmap(NULL, g.size + page_size(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        cr_assert_neq(g.base, MAP_FAILED);
        g.seg = mmap(g.base, g.size, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
        cr_assert_eq((void *) g.seg, g.base);
        return g;
}

static void guarded_unmap(Guarded *g) {
        munmap(g->base, g->size + page_size());
}

/* ---- creation, mapping, seals ---- */

Test(scoreboard, segment_created_sealed_and_open) {
        const unsigned n = 25;
        int fd = scoreboard_segment_create(7, n);
        struct stat st;

        cr_assert_geq(fd, 0, "create: %s", strerror(-fd));
        cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "the segment fd must be close-on-exec");
        cr_assert_eq(fstat(fd, &st), 0);
        cr_assert_eq((size_t) st.st_size, scoreboard_segment_size(n));
        cr_assert_eq(st.st_size % (off_t) page_size(), 0);
        cr_assert_geq((size_t) st.st_size, sizeof(ScoreboardProcess) + n * sizeof(WorkerScore));
        cr_assert_eq(fcntl(fd, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);

        ScoreboardProcess *ro = scoreboard_segment_map(fd, n, false);
        cr_assert_not_null(ro);
        cr_assert_eq(ro->magic, SCOREBOARD_MAGIC);
        cr_assert_eq(ro->generation, 7);
        cr_assert_eq(ro->n_workers, n);
        for (unsigned i = 0; i < n; i++)
                cr_assert_eq(ro->workers[i].state, WS_OPEN, "slot %u", i);

        ProcessScore ps;
        scoreboard_process_read(ro, 7, n, &ps);
        cr_assert(ps.valid);
        cr_assert_eq(ps.open, n);
        cr_assert_eq(ps.ready + ps.busy + ps.starting + ps.keepalive + ps.graceful, 0);
        scoreboard_segment_unmap(ro, n);
        close(fd);
}

Test(scoreboard, too_many_workers_refused) {
        cr_assert_eq(scoreboard_segment_size(SCOREBOARD_WORKERS_MAX + 1), 0);
        cr_assert_eq(scoreboard_segment_create(1, SCOREBOARD_WORKERS_MAX + 1), -EINVAL);
        cr_assert_null(scoreboard_segment_map(-1, 1, false));
        cr_assert_eq(errno, EINVAL);
}

Test(scoreboard, worker_writes_supervisor_reads) {
        const unsigned n = 3;
        int fd = scoreboard_segment_create(2, n);
        cr_assert_geq(fd, 0);
        ScoreboardProcess *rw = scoreboard_segment_map(fd, n, true);
        ScoreboardProcess *ro = scoreboard_segment_map(fd, n, false);
        cr_assert_not_null(rw);
        cr_assert_not_null(ro);
        cr_assert_neq((void *) rw, (void *) ro);

        rw->workers[0].state = WS_READY;
        rw->workers[1].state = WS_WRITE;
        rw->workers[1].requests = 41;
        rw->workers[1].bytes = 1000;
        rw->workers[2].state = WS_KEEPALIVE;
        rw->workers[2].requests = 1;
        rw->workers[2].connections = 5;
        rw->connections_open = 9;

        cr_assert_eq(ro->workers[1].state, WS_WRITE);
        ProcessScore ps;
        scoreboard_process_read(ro, 2, n, &ps);
        cr_assert(ps.valid);
        cr_assert_eq(ps.ready, 1);
        cr_assert_eq(ps.busy, 2);
        cr_assert_eq(ps.keepalive, 1);
        cr_assert_eq(ps.open, 0);
        cr_assert_eq(ps.requests, 42);
        cr_assert_eq(ps.bytes, 1000);
        cr_assert_eq(ps.connections, 5);
        cr_assert_eq(ps.connections_open, 9);

        /* A worker of another generation writing into a recycled slot's segment is not counted. */
        scoreboard_process_read(ro, 3, n, &ps);
        cr_assert_not(ps.valid);
        scoreboard_segment_unmap(rw, n);
        scoreboard_segment_unmap(ro, n);
        close(fd);
}

/* The supervisor's mapping is read-only: the write below faults. */
Test(scoreboard, read_only_mapping_refuses_writes, .signal = SIGSEGV) {
        int fd = scoreboard_segment_create(1, 1);
        cr_assert_geq(fd, 0);
        ScoreboardProcess *ro = scoreboard_segment_map(fd, 1, false);
        cr_assert_not_null(ro);
        volatile uint8_t *state = &ro->workers[0].state;
        *state = WS_READY;
        cr_assert_fail("a write through the read-only mapping succeeded");
}

Test(scoreboard, seals_refuse_size_changes) {
        const unsigned n = 4;
        int fd = scoreboard_segment_create(1, n);
        off_t size = (off_t) scoreboard_segment_size(n);
        struct stat st;

        cr_assert_geq(fd, 0);
        cr_assert_eq(ftruncate(fd, size / 2), -1);
        cr_assert_eq(errno, EPERM);
        cr_assert_eq(ftruncate(fd, 0), -1);
        cr_assert_eq(errno, EPERM);
        cr_assert_eq(ftruncate(fd, size * 2), -1);
        cr_assert_eq(errno, EPERM);
        cr_assert_eq(fallocate(fd, 0, size, (off_t) page_size()), -1);
        cr_assert_eq(errno, EPERM);
        /* Nor can a worker add seals of its own (F_SEAL_WRITE would freeze the segment). */
        cr_assert_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
        cr_assert_eq(errno, EPERM);
        cr_assert_eq(fstat(fd, &st), 0);
        cr_assert_eq(st.st_size, size);
        close(fd);
}

/* ---- counting ---- */

typedef struct CountCase {
        char name[32];
        char states[16];
        unsigned ready, busy, keepalive, starting, graceful, open;
} CountCase;

static CountCase count_cases[] = {
        { "all ready", "____", 4, 0, 0, 0, 0, 0 },
        { "every letter", "._SRWKCLGI", 1, 6, 1, 1, 1, 1 },
        { "keepalive is busy", "KK_", 1, 2, 2, 0, 0, 0 },
        { "graceful is busy", "G.", 0, 1, 0, 0, 1, 1 },
        { "idle kill counts nowhere", "I", 0, 0, 0, 0, 0, 0 },
        { "starting", "SS..", 0, 0, 0, 2, 0, 2 },
        { "reading writing closing logging", "RWCL", 0, 4, 0, 0, 0, 0 },
};

ParameterizedTestParameters(scoreboard, counts) {
        return cr_make_param_array(CountCase, count_cases, ELEMENTSOF(count_cases));
}

ParameterizedTest(CountCase *c, scoreboard, counts) {
        unsigned n = (unsigned) strlen(c->states);
        int fd = scoreboard_segment_create(5, n);
        cr_assert_geq(fd, 0);
        ScoreboardProcess *rw = scoreboard_segment_map(fd, n, true);
        cr_assert_not_null(rw);
        for (unsigned i = 0; i < n; i++)
                rw->workers[i].state = (uint8_t) c->states[i];

        ProcessScore ps;
        scoreboard_process_read(rw, 5, n, &ps);
        cr_assert(ps.valid, "%s", c->name);
        cr_assert_eq(ps.ready, c->ready, "%s: ready %u", c->name, ps.ready);
        cr_assert_eq(ps.busy, c->busy, "%s: busy %u", c->name, ps.busy);
        cr_assert_eq(ps.keepalive, c->keepalive, "%s: keepalive %u", c->name, ps.keepalive);
        cr_assert_eq(ps.starting, c->starting, "%s: starting %u", c->name, ps.starting);
        cr_assert_eq(ps.graceful, c->graceful, "%s: graceful %u", c->name, ps.graceful);
        cr_assert_eq(ps.open, c->open, "%s: open %u", c->name, ps.open);
        scoreboard_segment_unmap(rw, n);
        close(fd);
}

Test(scoreboard, state_predicates) {
        for (unsigned c = 0; c < 256; c++) {
                bool known = memchr(valid_states, (int) c, sizeof(valid_states)) != NULL;
                cr_assert_eq(worker_state_is_valid((uint8_t) c), known, "state 0x%02x", c);
                cr_assert(!worker_state_is_busy((uint8_t) c) || known, "unknown 0x%02x counted busy", c);
        }
        cr_assert(worker_state_is_busy(WS_KEEPALIVE));
        cr_assert_not(worker_state_is_busy(WS_READY));
        cr_assert_not(worker_state_is_busy(WS_OPEN));
        cr_assert_not(worker_state_is_busy(WS_STARTING));
}

Test(scoreboard, sums_saturate) {
        const unsigned n = 70; /* more than one copy chunk */
        int fd = scoreboard_segment_create(1, n);
        cr_assert_geq(fd, 0);
        ScoreboardProcess *rw = scoreboard_segment_map(fd, n, true);
        cr_assert_not_null(rw);
        for (unsigned i = 0; i < n; i++) {
                rw->workers[i].state = WS_READY;
                rw->workers[i].requests = UINT64_MAX / 2;
                rw->workers[i].bytes = 1;
                rw->workers[i].connections = UINT64_MAX;
        }
        ProcessScore ps;
        scoreboard_process_read(rw, 1, n, &ps);
        cr_assert(ps.valid);
        cr_assert_eq(ps.ready, n);
        cr_assert_eq(ps.requests, UINT64_MAX);
        cr_assert_eq(ps.bytes, n);
        cr_assert_eq(ps.connections, UINT64_MAX);
        scoreboard_segment_unmap(rw, n);
        close(fd);
}

/* ---- corruption ---- */

typedef enum Corruption {
        CORRUPT_MAGIC,
        CORRUPT_GENERATION,
        CORRUPT_N_WORKERS_SMALLER,
        CORRUPT_N_WORKERS_HUGE,
        CORRUPT_STATE_FIRST,
        CORRUPT_STATE_LAST,
        CORRUPT_STATE_ZERO,
        CORRUPT_STATE_D, /* mod_status's DNS letter: mpmd never does lookups */
} Corruption;

static Corruption corruptions[] = {
        CORRUPT_MAGIC,       CORRUPT_GENERATION, CORRUPT_N_WORKERS_SMALLER, CORRUPT_N_WORKERS_HUGE,
        CORRUPT_STATE_FIRST, CORRUPT_STATE_LAST, CORRUPT_STATE_ZERO,        CORRUPT_STATE_D,
};

ParameterizedTestParameters(scoreboard, corrupt_segment_invalid) {
        return cr_make_param_array(Corruption, corruptions, ELEMENTSOF(corruptions));
}

ParameterizedTest(Corruption *c, scoreboard, corrupt_segment_invalid) {
        const unsigned n = 100;
        int fd = scoreboard_segment_create(9, n);
        cr_assert_geq(fd, 0);
        ScoreboardProcess *rw = scoreboard_segment_map(fd, n, true);
        cr_assert_not_null(rw);
        Guarded g = guarded_map(fd, n);
        for (unsigned i = 0; i < n; i++) {
                rw->workers[i].state = WS_READY;
                rw->workers[i].requests = 3;
        }

        ProcessScore ps;
        scoreboard_process_read(g.seg, 9, n, &ps);
        cr_assert(ps.valid, "the intact segment must be valid");

        switch (*c) {
        case CORRUPT_MAGIC:
                rw->magic ^= 1;
                break;
        case CORRUPT_GENERATION:
                rw->generation = 10;
                break;
        case CORRUPT_N_WORKERS_SMALLER:
                rw->n_workers = n - 1;
                break;
        case CORRUPT_N_WORKERS_HUGE:
                /* Trusting this would read far past the guard page. */
                rw->n_workers = UINT32_MAX;
                break;
        case CORRUPT_STATE_FIRST:
                rw->workers[0].state = 'x';
                break;
        case CORRUPT_STATE_LAST:
                rw->workers[n - 1].state = 0xff;
                break;
        case CORRUPT_STATE_ZERO:
                rw->workers[50].state = 0;
                break;
        case CORRUPT_STATE_D:
                rw->workers[64].state = 'D';
                break;
        }

        memset(&ps, 0xa5, sizeof(ps));
        scoreboard_process_read(g.seg, 9, n, &ps);
        cr_assert_not(ps.valid, "corruption %d not detected", (int) *c);
        cr_assert_eq(ps.ready + ps.busy + ps.keepalive + ps.starting + ps.graceful + ps.open, 0);
        cr_assert_eq(ps.requests + ps.bytes + ps.connections, 0);
        cr_assert_eq(ps.connections_open, 0);
        guarded_unmap(&g);
        scoreboard_segment_unmap(rw, n);
        close(fd);
}

/* ---- fuzz ---- */

static uint64_t rng_state;

static uint64_t rng_next(void) {
        /* xorshift64*: fixed seed, the same run every time. */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 0x2545f4914f6cdd1dull;
}

static void rng_fill(void *p, size_t n) {
        uint8_t *b = p;
        for (size_t i = 0; i < n; i++)
                b[i] = (uint8_t) (rng_next() >> 56);
}

/* What a correct reader must conclude, computed from the raw bytes independently. */
static bool oracle_valid(const uint8_t *raw, unsigned generation, unsigned n) {
        uint32_t head[3];

        memcpy(head, raw, sizeof(head));
        if (head[0] != SCOREBOARD_MAGIC || head[1] != generation || head[2] != n)
                return false;
        for (unsigned i = 0; i < n; i++) {
                uint8_t s = raw[offsetof(ScoreboardProcess, workers) + i * sizeof(WorkerScore) +
                                offsetof(WorkerScore, state)];
                if (!memchr(valid_states, s, sizeof(valid_states)))
                        return false;
        }
        return true;
}

/* Fills real segments (read back through a guarded read-only mapping) iterations times, spread
 * over several sizes, and checks every verdict and count against the oracle. */
static void fuzz_run(unsigned iterations, bool noise_only, unsigned *ret_valid, unsigned *ret_invalid) {
        static const unsigned sizes[] = { 0, 1, 4, 25, 64, 65, 200 };
        const unsigned generation = 0x1234;

        *ret_valid = *ret_invalid = 0;
        for (unsigned s = 0; s < ELEMENTSOF(sizes); s++) {
                unsigned n = sizes[s];
                int fd = scoreboard_segment_create(generation, n);
                cr_assert_geq(fd, 0);
                ScoreboardProcess *rw = scoreboard_segment_map(fd, n, true);
                cr_assert_not_null(rw);
                Guarded g = guarded_map(fd, n);
                size_t size = scoreboard_segment_size(n);
                unsigned share = iterations / ELEMENTSOF(sizes) + (s < iterations % ELEMENTSOF(sizes));

                for (unsigned iter = 0; iter < share; iter++) {
                        unsigned mode = noise_only ? 0 : 1 + (unsigned) (rng_next() % 3);

                        /* 0: pure noise. 1: the right header over noise. 2: the right header and
                         * known letters, half the time with one bit of one state flipped. 3: known
                         * letters but one header byte off. */
                        rng_fill(rw, size);
                        if (mode >= 1) {
                                rw->magic = SCOREBOARD_MAGIC;
                                rw->generation = generation;
                                rw->n_workers = n;
                        }
                        if (mode >= 2)
                                for (unsigned i = 0; i < n; i++)
                                        rw->workers[i].state =
                                                (uint8_t) valid_states[rng_next() % sizeof(valid_states)];
                        if (mode == 2 && n > 0 && rng_next() % 2)
                                rw->workers[rng_next() % n].state ^= (uint8_t) (1u << (rng_next() % 8));
                        if (mode == 3)
                                ((uint8_t *) rw)[rng_next() % 12] ^= (uint8_t) (1u + rng_next() % 255);

                        bool expect = oracle_valid((const uint8_t *) rw, generation, n);
                        ProcessScore ps;
                        memset(&ps, 0x5a, sizeof(ps));
                        scoreboard_process_read(g.seg, generation, n, &ps);
                        cr_assert_eq(ps.valid, expect, "n=%u iteration %u mode %u", n, iter, mode);
                        if (!ps.valid) {
                                cr_assert_eq(ps.ready + ps.busy + ps.keepalive + ps.starting + ps.graceful + ps.open,
                                             0);
                                cr_assert_eq(ps.requests + ps.bytes + ps.connections, 0);
                                (*ret_invalid)++;
                                continue;
                        }
                        unsigned ready = 0, open = 0, busy = 0;
                        for (unsigned i = 0; i < n; i++) {
                                ready += rw->workers[i].state == WS_READY;
                                open += rw->workers[i].state == WS_OPEN;
                                busy += strchr("RWKCLG", rw->workers[i].state) != NULL;
                        }
                        cr_assert_eq(ps.ready, ready);
                        cr_assert_eq(ps.open, open);
                        cr_assert_eq(ps.busy, busy);
                        (*ret_valid)++;
                }
                guarded_unmap(&g);
                scoreboard_segment_unmap(rw, n);
                close(fd);
        }
}

Test(scoreboard, fuzz_random_bytes) {
        unsigned valid, invalid;

        rng_state = 0x9e3779b97f4a7c15ull;
        fuzz_run(10000, true, &valid, &invalid);
        cr_assert_eq(valid + invalid, 10000);
        /* A random 12-byte header matching by chance is a 2^-96 event. */
        cr_assert_eq(valid, 0);
}

Test(scoreboard, fuzz_mutated_segments) {
        unsigned valid, invalid;

        rng_state = 0x5eed5eed5eed5eedull;
        fuzz_run(10000, false, &valid, &invalid);
        cr_assert_eq(valid + invalid, 10000);
        /* Both verdicts must have been exercised, or the run proved nothing. */
        cr_assert_gt(valid, 1000);
        cr_assert_gt(invalid, 5000);
}

/* A worker scribbling while the supervisor reads: every read is either rejected or consistent. */
Test(scoreboard, concurrent_scribbler) {
        const unsigned n = 64;
        int fd = scoreboard_segment_create(3, n);
        cr_assert_geq(fd, 0);
        ScoreboardProcess *ro = scoreboard_segment_map(fd, n, false);
        cr_assert_not_null(ro);

        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                ScoreboardProcess *rw = scoreboard_segment_map(fd, n, true);
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (!rw)
                        _exit(1);
                rng_state = 42;
                for (;;) {
                        unsigned i = (unsigned) (rng_next() % n);
                        uint64_t r = rng_next();
                        rw->workers[i].state = (r & 0xff) < 250 ? (uint8_t) valid_states[r % sizeof(valid_states)]
                                                                : (uint8_t) (r >> 8);
                        if ((r & 0xffff) == 7)
                                rng_fill(rw->workers, n * sizeof(WorkerScore));
                        if ((r & 0xffff) == 9)
                                for (unsigned k = 0; k < n; k++)
                                        rw->workers[k].state = WS_READY;
                }
        }

        unsigned valid = 0;
        for (unsigned k = 0; k < 20000; k++) {
                ProcessScore ps;
                scoreboard_process_read(ro, 3, n, &ps);
                if (ps.valid) {
                        cr_assert_leq(ps.ready + ps.busy + ps.starting + ps.open, n);
                        cr_assert_leq(ps.keepalive + ps.graceful, ps.busy);
                        valid++;
                } else
                        cr_assert_eq(ps.ready + ps.busy + ps.starting + ps.open, 0);
        }
        kill(pid, SIGKILL);
        cr_assert_eq(waitpid(pid, NULL, 0), pid);
        (void) valid;
        scoreboard_segment_unmap(ro, n);
        close(fd);
}

/* ---- what a reading may add (scoreboard_trust_accept) ---- */

#define T0 ((usec_t) 1000 * USEC_PER_SEC) /* the fork, on some monotonic clock */

static ProcessScore reading(uint64_t requests, uint64_t bytes, uint64_t duration, uint64_t connections) {
        return (ProcessScore) { .valid = true, .requests = requests, .bytes = bytes, .duration_usec = duration,
                                .connections = connections };
}

Test(scoreboard_trust, honest_counts_are_taken_whole) {
        ScoreboardTrust t;
        ProcessScore ps;

        scoreboard_trust_init(&t, T0);
        /* 20,000 requests a second, 1 MB each, 5 ms each, on 25 threads: nothing near the bounds. */
        for (unsigned s = 1; s <= 10; s++) {
                ps = reading(20000ull * s, 20000ull * s << 20, 20000ull * s * 5000, 2000ull * s);
                cr_assert_eq(scoreboard_trust_accept(&t, 25, T0 + s * USEC_PER_SEC, &ps), 0, "second %u", s);
                cr_assert_eq(ps.requests, 20000ull * s);
                cr_assert_eq(ps.bytes, 20000ull * s << 20);
                cr_assert_eq(ps.duration_usec, 20000ull * s * 5000);
                cr_assert_eq(ps.connections, 2000ull * s);
        }
        /* A reading a moment after another still takes what came meanwhile (credit is kept). */
        ps = reading(200100, 200000ull << 20, 200000ull * 5000, 20000);
        cr_assert_eq(scoreboard_trust_accept(&t, 25, T0 + 10 * USEC_PER_SEC + 10, &ps), 0);
        cr_assert_eq(ps.requests, 200100);
}

Test(scoreboard_trust, a_long_response_is_counted_when_it_ends) {
        ScoreboardTrust t;
        ProcessScore ps;

        scoreboard_trust_init(&t, T0);
        ps = reading(0, 0, 0, 1);
        cr_assert_eq(scoreboard_trust_accept(&t, 1, T0 + 3600 * USEC_PER_SEC - 10, &ps), 0);
        /* One download of 1 TB that took an hour ends, 10 us after the previous reading. */
        ps = reading(1, 1ull << 40, 3600 * USEC_PER_SEC, 1);
        cr_assert_eq(scoreboard_trust_accept(&t, 1, T0 + 3600 * USEC_PER_SEC, &ps), 0);
        cr_assert_eq(ps.bytes, 1ull << 40);
        cr_assert_eq(ps.duration_usec, 3600 * USEC_PER_SEC);
}

Test(scoreboard_trust, counters_never_go_back) {
        ScoreboardTrust t;
        ProcessScore ps;

        scoreboard_trust_init(&t, T0);
        ps = reading(100, 5000, 700, 10);
        cr_assert_eq(scoreboard_trust_accept(&t, 1, T0 + USEC_PER_SEC, &ps), 0);
        ps = reading(3, 0, 0, 0);
        cr_assert_eq(scoreboard_trust_accept(&t, 1, T0 + 2 * USEC_PER_SEC, &ps), SCOREBOARD_WENT_BACK);
        cr_assert_eq(ps.requests, 100);
        cr_assert_eq(ps.bytes, 5000);
        cr_assert_eq(ps.duration_usec, 700);
        cr_assert_eq(ps.connections, 10);
        /* Growth is judged from what was accepted, not from the lower reading. */
        ps = reading(101, 5000, 700, 10);
        cr_assert_eq(scoreboard_trust_accept(&t, 1, T0 + 3 * USEC_PER_SEC, &ps), 0);
        cr_assert_eq(ps.requests, 101);
}

Test(scoreboard_trust, forged_counts_are_clamped_to_the_bounds) {
        ScoreboardTrust t;
        ProcessScore ps;

        scoreboard_trust_init(&t, T0);
        /* 2 slots, 1 s after the fork: 2,000,000 requests and connections, 100 GB, at most. */
        ps = reading(UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX);
        cr_assert_eq(scoreboard_trust_accept(&t, 2, T0 + USEC_PER_SEC, &ps),
                     SCOREBOARD_CLAMPED_REQUESTS | SCOREBOARD_CLAMPED_BYTES | SCOREBOARD_CLAMPED_DURATION |
                             SCOREBOARD_CLAMPED_CONNECTIONS);
        cr_assert_eq(ps.requests, 2000000);
        cr_assert_eq(ps.connections, 2000000);
        cr_assert_eq(ps.bytes, 100000000000ull);
        cr_assert_eq(ps.duration_usec, 2000000 * USEC_PER_SEC, "each request at most as long as the process lived");
        cr_assert_eq(t.requests, 2000000);

        /* Half a second later the same lie adds half a second's worth. */
        ps = reading(UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX);
        cr_assert_neq(scoreboard_trust_accept(&t, 2, T0 + 3 * USEC_PER_SEC / 2, &ps), 0);
        cr_assert_eq(ps.requests, 3000000);
        cr_assert_eq(ps.bytes, 150000000000ull);

        /* A process that lay still for an hour gets one second's worth of requests, not an hour's. */
        ps = reading(UINT64_MAX, 0, 0, 0);
        cr_assert(scoreboard_trust_accept(&t, 2, T0 + 3600 * USEC_PER_SEC, &ps) & SCOREBOARD_CLAMPED_REQUESTS);
        cr_assert_eq(ps.requests, 5000000);
}

Test(scoreboard_trust, no_time_no_growth) {
        ScoreboardTrust t;
        ProcessScore ps;

        scoreboard_trust_init(&t, T0);
        ps = reading(1, 1, 1, 1);
        cr_assert_eq(scoreboard_trust_accept(&t, 4, T0, &ps),
                     SCOREBOARD_CLAMPED_REQUESTS | SCOREBOARD_CLAMPED_BYTES | SCOREBOARD_CLAMPED_DURATION |
                             SCOREBOARD_CLAMPED_CONNECTIONS);
        cr_assert_eq(ps.requests + ps.bytes + ps.duration_usec + ps.connections, 0);
        /* A clock that goes back gives no credit either. */
        ps = reading(1, 0, 0, 0);
        cr_assert_eq(scoreboard_trust_accept(&t, 4, T0 - USEC_PER_SEC, &ps), SCOREBOARD_CLAMPED_REQUESTS);
        cr_assert_eq(ps.requests, 0);
}

Test(scoreboard_trust, random_lies_stay_within_the_bounds) {
        ScoreboardTrust t;
        uint64_t prev = 0;
        usec_t now = T0;

        rng_state = 0x7157ed5eedull;
        scoreboard_trust_init(&t, T0);
        for (unsigned k = 0; k < 10000; k++) {
                uint64_t r = rng_next();
                ProcessScore ps = reading(rng_next() >> (r & 63), rng_next(), rng_next() >> (r & 31), rng_next());
                now += (r >> 8) % (2 * USEC_PER_SEC);
                (void) scoreboard_trust_accept(&t, 3, now, &ps);
                cr_assert_geq(ps.requests, prev);
                cr_assert_leq(ps.requests, 3 * (now - T0) + 3 * USEC_PER_SEC);
                cr_assert_leq(ps.bytes, 100000 * (now - T0));
                cr_assert_leq((unsigned __int128) ps.duration_usec, (unsigned __int128) ps.requests * (now - T0));
                cr_assert_leq(ps.connections, 3 * (now - T0) + 3 * USEC_PER_SEC);
                prev = ps.requests;
        }
}

Test(scoreboard, states_and_duration_buckets_are_summed) {
        const unsigned n = 3;
        int fd = scoreboard_segment_create(2, n);
        cr_assert_geq(fd, 0);
        ScoreboardProcess *rw = scoreboard_segment_map(fd, n, true);
        ScoreboardProcess *ro = scoreboard_segment_map(fd, n, false);
        cr_assert(rw && ro);

        rw->workers[0].state = WS_READ;
        rw->workers[1].state = WS_READ;
        rw->workers[2].state = WS_CLOSING;
        rw->workers[0].duration_buckets[http_status_duration_bucket(1000)] = 2;        /* 1 ms: le 0.005 */
        rw->workers[1].duration_buckets[http_status_duration_bucket(5000)] = 3;        /* 5 ms: le 0.005 too */
        rw->workers[1].duration_buckets[http_status_duration_bucket(60 * USEC_PER_SEC)] = 1; /* +Inf */

        ProcessScore ps;
        scoreboard_process_read(ro, 2, n, &ps);
        cr_assert(ps.valid);
        cr_assert_eq(ps.by_state[strchr(HTTP_STATUS_WORKER_LETTERS, 'R') - HTTP_STATUS_WORKER_LETTERS], 2);
        cr_assert_eq(ps.by_state[strchr(HTTP_STATUS_WORKER_LETTERS, 'C') - HTTP_STATUS_WORKER_LETTERS], 1);
        cr_assert_eq(ps.by_state[strchr(HTTP_STATUS_WORKER_LETTERS, '_') - HTTP_STATUS_WORKER_LETTERS], 0);
        cr_assert_eq(ps.duration_buckets[0], 5);
        cr_assert_eq(ps.duration_buckets[HTTP_STATUS_DURATION_BUCKETS], 1);
        cr_assert_eq(http_status_duration_bucket(5001), 1);
        cr_assert_eq(http_status_duration_bucket(10 * USEC_PER_SEC), HTTP_STATUS_DURATION_BUCKETS - 1);
        scoreboard_segment_unmap(rw, n);
        scoreboard_segment_unmap(ro, n);
        close(fd);
}

Test(scoreboard_trust, the_histogram_holds_no_more_than_the_requests) {
        ScoreboardTrust t;
        ProcessScore ps;

        scoreboard_trust_init(&t, T0);
        ps = reading(10, 0, 0, 1);
        ps.duration_buckets[0] = 4;
        ps.duration_buckets[3] = 6;
        cr_assert_eq(scoreboard_trust_accept(&t, 1, T0 + USEC_PER_SEC, &ps), 0);
        cr_assert_eq(ps.duration_buckets[0] + ps.duration_buckets[3], 10);
        /* A forged bucket beyond what was served is held to the requests; none goes back. */
        ps = reading(12, 0, 0, 1);
        ps.duration_buckets[0] = 4;
        ps.duration_buckets[3] = 6;
        ps.duration_buckets[5] = UINT64_MAX;
        cr_assert_eq(scoreboard_trust_accept(&t, 1, T0 + 2 * USEC_PER_SEC, &ps), SCOREBOARD_CLAMPED_HISTOGRAM);
        cr_assert_eq(ps.duration_buckets[5], 2);
        ps = reading(12, 0, 0, 1);
        ps.duration_buckets[0] = 1;
        cr_assert_eq(scoreboard_trust_accept(&t, 1, T0 + 3 * USEC_PER_SEC, &ps), SCOREBOARD_WENT_BACK);
        cr_assert_eq(ps.duration_buckets[0], 4);
        cr_assert_eq(ps.duration_buckets[5], 2);
}

Test(scoreboard, tls_connections_are_summed_and_held_to_the_connections) {
        const unsigned n = 2;
        int fd = scoreboard_segment_create(4, n);
        ScoreboardProcess *rw = scoreboard_segment_map(fd, n, true);
        ProcessScore ps;
        ScoreboardTrust t;

        cr_assert_not_null(rw);
        rw->workers[0].state = WS_READY;
        rw->workers[1].state = WS_READY;
        rw->workers[0].connections = 10;
        rw->workers[0].tls_connections = 6;
        rw->workers[0].ktls_connections = 1;
        rw->workers[1].connections = 5;
        rw->workers[1].tls_connections = 4;
        scoreboard_process_read(rw, 4, n, &ps);
        cr_assert(ps.valid);
        cr_assert_eq(ps.tls_connections, 10);
        cr_assert_eq(ps.ktls_connections, 1);

        scoreboard_trust_init(&t, T0);
        cr_assert_eq(scoreboard_trust_accept(&t, n, T0 + USEC_PER_SEC, &ps), 0, "an honest reading");
        cr_assert_eq(ps.tls_connections, 10);
        cr_assert_eq(ps.ktls_connections, 1);

        /* A pool that claims more TLS connections than connections, or more kTLS than TLS ones. */
        rw->workers[1].tls_connections = 1000;
        rw->workers[1].ktls_connections = 500;
        scoreboard_process_read(rw, 4, n, &ps);
        cr_assert_eq(scoreboard_trust_accept(&t, n, T0 + 2 * USEC_PER_SEC, &ps), SCOREBOARD_CLAMPED_CONNECTIONS);
        cr_assert_eq(ps.tls_connections, 15, "at most the connections");
        cr_assert_eq(ps.ktls_connections, 15, "at most the TLS ones");
        scoreboard_segment_unmap(rw, n);
        close(fd);
}

Test(scoreboard, dispatcher_hello_counters_are_summed_and_held_to_the_connections) {
        const unsigned n = 1;
        int fd = scoreboard_segment_create(4, n);
        ScoreboardProcess *rw = scoreboard_segment_map(fd, n, true);
        ProcessScore ps;
        ScoreboardTrust t;

        cr_assert_not_null(rw);
        rw->workers[0].state = WS_READY;
        rw->workers[0].connections = 10;
        rw->workers[0].tls_hellos_refused = 4;
        rw->workers[0].tls_names_unrecognized = 3;
        scoreboard_process_read(rw, 4, n, &ps);
        cr_assert(ps.valid);
        scoreboard_trust_init(&t, T0);
        cr_assert_eq(scoreboard_trust_accept(&t, n, T0 + USEC_PER_SEC, &ps), 0, "an honest reading");
        cr_assert_eq(ps.tls_hellos_refused, 4);
        cr_assert_eq(ps.tls_names_unrecognized, 3);

        /* A dispatcher that claims more refusals than it had connections: no connection is both. */
        rw->workers[0].tls_hellos_refused = 8;
        rw->workers[0].tls_names_unrecognized = 900;
        scoreboard_process_read(rw, 4, n, &ps);
        cr_assert_eq(scoreboard_trust_accept(&t, n, T0 + 2 * USEC_PER_SEC, &ps), SCOREBOARD_CLAMPED_CONNECTIONS);
        cr_assert_eq(ps.tls_hellos_refused, 8);
        cr_assert_eq(ps.tls_names_unrecognized, 3, "what was accepted, nothing more: 10 connections, 8 refused");
        rw->workers[0].tls_hellos_refused = 2;
        scoreboard_process_read(rw, 4, n, &ps);
        cr_assert_eq(scoreboard_trust_accept(&t, n, T0 + 3 * USEC_PER_SEC, &ps) & SCOREBOARD_WENT_BACK,
                     SCOREBOARD_WENT_BACK);
        cr_assert_eq(ps.tls_hellos_refused, 8, "never back");

        /* PROXY refusals: up to the connections, never more. */
        rw->workers[0].tls_hellos_refused = 8;
        rw->workers[0].tls_names_unrecognized = 3;
        rw->workers[0].proxy_refused = 6;
        scoreboard_process_read(rw, 4, n, &ps);
        cr_assert_eq(scoreboard_trust_accept(&t, n, T0 + 4 * USEC_PER_SEC, &ps), 0);
        cr_assert_eq(ps.proxy_refused, 6);
        rw->workers[0].proxy_refused = 11;
        scoreboard_process_read(rw, 4, n, &ps);
        cr_assert_eq(scoreboard_trust_accept(&t, n, T0 + 5 * USEC_PER_SEC, &ps), SCOREBOARD_CLAMPED_CONNECTIONS);
        cr_assert_eq(ps.proxy_refused, 10, "at most the 10 connections");
        scoreboard_segment_unmap(rw, n);
        close(fd);
}
