/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "macro.h"
#include "scoreboard.h"

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
                        /* Display only: never a size, an index or a limit. */
                        s.requests = add_saturating(s.requests, w->requests);
                        s.bytes = add_saturating(s.bytes, w->bytes);
                        s.duration_usec = add_saturating(s.duration_usec, w->duration_usec);
                        s.connections = add_saturating(s.connections, w->connections);
                }
        }

        s.connections_open = head.connections_open;
        s.valid = true;
        *ret = s;
}
