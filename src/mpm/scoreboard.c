/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shared/macro.h"
#include "mpm/scoreboard.h"

/* Copied out of shared memory this many slots at a time: a bounded stack buffer, so that reading a
 * segment can never fail for lack of memory and never reads a slot twice. */
#define SCOREBOARD_COPY_CHUNK 64

bool worker_state_is_valid(uint8_t s) {
        switch (s) {
        case WS_OPEN:
        case WS_STARTING:
        case WS_READY:
        case WS_READ:
        case WS_WRITE:
        case WS_KEEPALIVE:
        case WS_CLOSING:
        case WS_LOGGING:
        case WS_GRACEFUL:
        case WS_IDLE_KILL:
                return true;
        default:
                return false;
        }
}

/* Apache's mod_status: every live state but waiting, starting and idle cleanup is busy; a slot
 * gracefully finishing its request is busy too (BusyWorkers includes GracefulWorkers). */
bool worker_state_is_busy(uint8_t s) {
        switch (s) {
        case WS_READ:
        case WS_WRITE:
        case WS_KEEPALIVE:
        case WS_CLOSING:
        case WS_LOGGING:
        case WS_GRACEFUL:
                return true;
        default:
                return false;
        }
}

/* A keep-alive slot counts as busy (mod_status), so busy > keepalive is what says that a worker
 * is doing more than waiting: a process of one slot (prefork) or all of whose busy threads wait
 * shows 'K'. */
char scoreboard_slot_letter(ProcessState state, const ProcessScore *s) {
        switch (state) {
        case PROCESS_FREE:
                return '.';
        case PROCESS_STARTING:
                return 'S';
        case PROCESS_STOPPING:
                return 'G';
        case PROCESS_RUNNING:
                break;
        }
        if (!s->valid)
                return '?';
        if (s->busy > s->keepalive)
                return 'W';
        return s->keepalive > 0 ? 'K' : '_';
}

size_t scoreboard_segment_size(unsigned n_workers) {
        size_t page = (size_t) sysconf(_SC_PAGESIZE), sz;

        if (n_workers > SCOREBOARD_WORKERS_MAX)
                return 0;
        sz = sizeof(ScoreboardProcess) + (size_t) n_workers * sizeof(WorkerScore);
        /* Whole pages: the memfd and both mappings cover exactly this many bytes. */
        return (sz + page - 1) / page * page;
}

int scoreboard_segment_create(unsigned generation, unsigned n_workers) {
        _cleanup_close_ int fd = -1;
        size_t size = scoreboard_segment_size(n_workers);
        ScoreboardProcess *p;

        if (size == 0)
                return -EINVAL;

        fd = memfd_create("mpmd-scoreboard", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        if (ftruncate(fd, (off_t) size) < 0)
                return -errno;

        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        p->magic = SCOREBOARD_MAGIC;
        p->generation = generation;
        p->n_workers = n_workers;
        for (unsigned i = 0; i < n_workers; i++)
                p->workers[i].state = WS_OPEN;
        (void) munmap(p, size);

        /* A worker holds this fd until it has mapped it: it must never be able to shrink the
         * segment under the supervisor's mapping (SIGBUS in the supervisor) or grow it. */
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
                return -errno;

        return TAKE_FD(fd);
}

ScoreboardProcess *scoreboard_segment_map(int fd, unsigned n_workers, bool writable) {
        size_t size = scoreboard_segment_size(n_workers);
        void *p;

        if (fd < 0 || size == 0) {
                errno = EINVAL;
                return NULL;
        }
        p = mmap(NULL, size, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
        return p == MAP_FAILED ? NULL : p;
}

void scoreboard_segment_unmap(ScoreboardProcess *p, unsigned n_workers) {
        size_t size = scoreboard_segment_size(n_workers);

        if (p && size > 0)
                (void) munmap(p, size);
}

static uint64_t add_saturating(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

void scoreboard_process_read(const ScoreboardProcess *seg, unsigned generation, unsigned n_workers,
                             ProcessScore *ret) {
        WorkerScore chunk[SCOREBOARD_COPY_CHUNK];
        ScoreboardProcess head;
        ProcessScore s = {};

        *ret = (ProcessScore) {};
        if (!seg || n_workers > SCOREBOARD_WORKERS_MAX)
                return;

        /* Every byte is read exactly once, into memory the supervisor owns, and only the copy is
         * judged and used: the worker may change the segment at any moment. n_workers in the
         * segment is compared with, never used instead of, the count the supervisor created. */
        memcpy(&head, seg, sizeof(head));
        if (head.magic != SCOREBOARD_MAGIC || head.generation != generation || head.n_workers != n_workers)
                return;

        for (unsigned base = 0; base < n_workers; base += SCOREBOARD_COPY_CHUNK) {
                unsigned n = MIN(n_workers - base, (unsigned) SCOREBOARD_COPY_CHUNK);

                memcpy(chunk, &seg->workers[base], n * sizeof(WorkerScore));
                for (unsigned i = 0; i < n; i++) {
                        const WorkerScore *w = &chunk[i];

                        if (!worker_state_is_valid(w->state))
                                return;
                        if (w->state == WS_READY)
                                s.ready++;
                        else if (w->state == WS_STARTING)
                                s.starting++;
                        else if (w->state == WS_OPEN)
                                s.open++;
                        if (worker_state_is_busy(w->state))
                                s.busy++;
                        if (w->state == WS_KEEPALIVE)
                                s.keepalive++;
                        if (w->state == WS_GRACEFUL)
                                s.graceful++;
                        /* A valid letter is one of HTTP_STATUS_WORKER_LETTERS (and never 0). */
                        s.by_state[strchr(HTTP_STATUS_WORKER_LETTERS, w->state) - HTTP_STATUS_WORKER_LETTERS]++;
                        /* Display only: never a size, an index or a limit. */
                        s.requests = add_saturating(s.requests, w->requests);
                        s.bytes = add_saturating(s.bytes, w->bytes);
                        s.duration_usec = add_saturating(s.duration_usec, w->duration_usec);
                        s.connections = add_saturating(s.connections, w->connections);
                        s.tls_connections = add_saturating(s.tls_connections, w->tls_connections);
                        s.ktls_connections = add_saturating(s.ktls_connections, w->ktls_connections);
                        s.tls_hellos_refused = add_saturating(s.tls_hellos_refused, w->tls_hellos_refused);
                        s.tls_names_unrecognized = add_saturating(s.tls_names_unrecognized, w->tls_names_unrecognized);
                        s.proxy_refused = add_saturating(s.proxy_refused, w->proxy_refused);
                        for (unsigned b = 0; b <= HTTP_STATUS_DURATION_BUCKETS; b++)
                                s.duration_buckets[b] = add_saturating(s.duration_buckets[b], w->duration_buckets[b]);
                }
        }

        s.connections_open = head.connections_open;
        s.valid = true;
        *ret = s;
}

/* The bounds a reading is held to. They are far above what any honest process reaches, so that
 * an honest one is never clamped, and still make a forged counter useless for inflating the
 * server's totals (or wrapping them):
 * - requests and connections: a slot counts one per request or connection, and no thread ends
 *   more than 1,000,000 a second (1 us each; the fastest servers manage some 100,000 per core).
 *   They earn credit at that rate per slot since the previous reading, kept for at most one
 *   second, so that a reading right after another still takes a burst, and a process that lay
 *   still for an hour cannot pour an hour's worth in at once.
 * - bytes: added in one step when a response ends, which may be long after the first of them
 *   was sent; so the bound is on the total since the fork: 100 GB a second per process (beyond
 *   any network interface, loopback included).
 * - TLS connections: each is one of the connections, counted when its handshake completes; the
 *   kTLS ones are some of those: at most the accepted connections, and the accepted TLS ones.
 *   A dispatcher's refused ClientHellos and unrecognized names are each one of its connections,
 *   and no connection is both: together at most the accepted connections.
 * - durations: each request ended lasted at most as long as the process has lived, so the total
 *   is at most the accepted requests times the time since the fork.
 * - the duration histogram: each bucket never goes back, and together they hold at most the
 *   accepted requests (a bucket is counted with its request, never without one). (Wall time times threads would
 *   not hold for an event loop, whose single slot serves many requests at once.) */
#define TRUST_REQUESTS_PER_USEC 1u     /* per slot: 1,000,000 a second */
#define TRUST_CONNECTIONS_PER_USEC 1u  /* per slot: 1,000,000 a second */
#define TRUST_CREDIT_USEC USEC_PER_SEC /* credit kept for requests and connections */
#define TRUST_BYTES_PER_USEC 100000u   /* per process: 100 GB a second */

static uint64_t mul_saturating(uint64_t a, uint64_t b) {
        uint64_t r;
        return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

void scoreboard_trust_init(ScoreboardTrust *t, usec_t started) {
        *t = (ScoreboardTrust) { .started = started, .last = started };
}

/* One counter: the reading, against what was accepted and the most it may reach now. */
static unsigned trust_counter(uint64_t *accepted, uint64_t *reading, uint64_t limit, unsigned clamped_bit) {
        unsigned r = 0;

        if (*reading < *accepted) {
                *reading = *accepted;
                return SCOREBOARD_WENT_BACK;
        }
        if (*reading > limit && *reading > *accepted) {
                *reading = MAX(limit, *accepted);
                r = clamped_bit;
        }
        *accepted = *reading;
        return r;
}

/* A counter that earns credit with time: at most credit may be added now; what is added is spent. */
static unsigned trust_credited(uint64_t *accepted, uint64_t *credit, uint64_t *reading, unsigned clamped_bit) {
        uint64_t before = *accepted;
        unsigned r = trust_counter(accepted, reading, add_saturating(before, *credit), clamped_bit);

        *credit -= *accepted - before;
        return r;
}

unsigned scoreboard_trust_accept(ScoreboardTrust *t, unsigned n_workers, usec_t now, ProcessScore *ps) {
        usec_t elapsed = now > t->last ? now - t->last : 0, age = now > t->started ? now - t->started : 0;
        uint64_t slots = MAX(n_workers, 1u);
        uint64_t cap = mul_saturating(slots, TRUST_CREDIT_USEC);
        unsigned r = 0;

        if (now > t->last)
                t->last = now;
        t->request_credit = MIN(cap, add_saturating(t->request_credit,
                                                    mul_saturating(elapsed, slots * TRUST_REQUESTS_PER_USEC)));
        t->connection_credit = MIN(cap, add_saturating(t->connection_credit,
                                                       mul_saturating(elapsed, slots * TRUST_CONNECTIONS_PER_USEC)));
        r |= trust_credited(&t->requests, &t->request_credit, &ps->requests, SCOREBOARD_CLAMPED_REQUESTS);
        r |= trust_credited(&t->connections, &t->connection_credit, &ps->connections,
                            SCOREBOARD_CLAMPED_CONNECTIONS);
        r |= trust_counter(&t->tls_connections, &ps->tls_connections, t->connections,
                           SCOREBOARD_CLAMPED_CONNECTIONS);
        r |= trust_counter(&t->ktls_connections, &ps->ktls_connections, t->tls_connections,
                           SCOREBOARD_CLAMPED_CONNECTIONS);
        r |= trust_counter(&t->tls_hellos_refused, &ps->tls_hellos_refused, t->connections,
                           SCOREBOARD_CLAMPED_CONNECTIONS);
        r |= trust_counter(&t->tls_names_unrecognized, &ps->tls_names_unrecognized,
                           t->connections - t->tls_hellos_refused, SCOREBOARD_CLAMPED_CONNECTIONS);
        r |= trust_counter(&t->proxy_refused, &ps->proxy_refused, t->connections, SCOREBOARD_CLAMPED_CONNECTIONS);
        r |= trust_counter(&t->bytes, &ps->bytes, mul_saturating(age, TRUST_BYTES_PER_USEC), SCOREBOARD_CLAMPED_BYTES);
        r |= trust_counter(&t->duration_usec, &ps->duration_usec, mul_saturating(t->requests, age),
                           SCOREBOARD_CLAMPED_DURATION);

        uint64_t held = 0;
        for (unsigned b = 0; b <= HTTP_STATUS_DURATION_BUCKETS; b++)
                held = add_saturating(held, t->duration_buckets[b]);
        uint64_t room = t->requests > held ? t->requests - held : 0;
        for (unsigned b = 0; b <= HTTP_STATUS_DURATION_BUCKETS; b++) {
                uint64_t before = t->duration_buckets[b];
                r |= trust_counter(&t->duration_buckets[b], &ps->duration_buckets[b], add_saturating(before, room),
                                   SCOREBOARD_CLAMPED_HISTOGRAM);
                room -= t->duration_buckets[b] - before;
        }
        return r;
}
