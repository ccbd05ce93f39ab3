/* SPDX-License-Identifier: MIT */
/* scoreboard.h — per-process shared-memory status segments.
 *
 * Each worker process gets its own memfd segment, created by the supervisor before the fork: the
 * worker maps it read-write, the supervisor maps it read-only. So a worker can only ever scribble
 * on its own segment, and the supervisor treats every byte it reads as hostile: it copies the
 * segment, validates each field against what it knows itself (the size it created, the states that
 * exist), and never takes a pid, an index, a size or a pointer from it (Apache CVE-2019-0211). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/status.h"
#include "shared/macro.h"

#define SCOREBOARD_MAGIC 0x6d706d64u /* "mpmd" */
/* Upper bound on worker slots in one segment (Apache's ThreadLimit tops out at 20000). */
#define SCOREBOARD_WORKERS_MAX 65536u

/* Apache's mod_status letters. */
typedef enum WorkerState {
        WS_OPEN = '.',      /* no thread in this slot */
        WS_STARTING = 'S',
        WS_READY = '_',     /* waiting for a connection */
        WS_READ = 'R',      /* reading a request */
        WS_WRITE = 'W',     /* sending a reply */
        WS_KEEPALIVE = 'K', /* waiting for the next request on a kept-alive connection */
        WS_CLOSING = 'C',
        WS_LOGGING = 'L',
        WS_GRACEFUL = 'G',  /* finishing before exit */
        WS_IDLE_KILL = 'I',
} WorkerState;

typedef struct WorkerScore {
        uint8_t state; /* WorkerState */
        uint8_t method[15];
        uint64_t requests;
        uint64_t bytes;
        uint64_t connections;
        char vhost[48];
        uint64_t duration_usec; /* summed over the requests served */
        /* The requests served, by how long each took (http_status_duration_bucket()). */
        uint64_t duration_buckets[HTTP_STATUS_DURATION_BUCKETS + 1];
        /* Connections whose TLS handshake completed, and those of them with kTLS. */
        uint64_t tls_connections, ktls_connections;
        /* perchild's dispatcher: connections closed for their ClientHello (malformed, too long, not
         * complete by the deadline), and those refused with unrecognized_name (a name no site takes). */
        uint64_t tls_hellos_refused, tls_names_unrecognized;
        /* perchild's dispatcher: connections on a RemoteIPProxyProtocol listener closed unread, from a
         * peer not in RemoteIPTrustedProxy or for a malformed PROXY header. */
        uint64_t proxy_refused;
} WorkerScore;

typedef struct ScoreboardProcess {
        uint32_t magic;
        uint32_t generation;
        uint32_t n_workers; /* written by the supervisor at creation; informative only */
        uint32_t connections_open; /* event: connections held now */
        uint32_t connections_keepalive;
        uint32_t accepting; /* 1 while the process accepts new connections */
        uint32_t logs_epoch; /* the log channel's epoch whose files it writes (log-channel.h) */
        WorkerScore workers[];
} ScoreboardProcess;

/* Create a segment for n_workers threads: returns a sealed-size memfd (O_CLOEXEC) or -errno
 * (-EINVAL above SCOREBOARD_WORKERS_MAX). Every slot starts WS_OPEN. */
int scoreboard_segment_create(unsigned generation, unsigned n_workers);
/* Bytes of a segment for n_workers, whole pages; 0 when n_workers exceeds SCOREBOARD_WORKERS_MAX. */
size_t scoreboard_segment_size(unsigned n_workers);
/* Map a segment; writable for the worker, read-only for the supervisor. NULL on failure. */
ScoreboardProcess *scoreboard_segment_map(int fd, unsigned n_workers, bool writable);
void scoreboard_segment_unmap(ScoreboardProcess *p, unsigned n_workers);

/* What the supervisor learned from one segment, after validation. */
typedef struct ProcessScore {
        bool valid; /* false: the segment was corrupt; counts below are zero */
        unsigned ready, busy, keepalive, starting, graceful, open;
        uint64_t requests, bytes, connections, duration_usec;
        uint64_t tls_connections, ktls_connections;
        uint64_t tls_hellos_refused, tls_names_unrecognized;
        uint64_t proxy_refused;
        uint64_t duration_buckets[HTTP_STATUS_DURATION_BUCKETS + 1]; /* summed over the slots */
        unsigned by_state[HTTP_STATUS_WORKER_STATES];                /* slots, by HTTP_STATUS_WORKER_LETTERS */
        uint32_t connections_open;
} ProcessScore;

/* Validate a segment the supervisor created for n_workers threads of generation. seg may be the
 * live read-only mapping: the function copies it before judging it, and reads only the
 * scoreboard_segment_size(n_workers) bytes the supervisor itself computed. Invalid when the magic,
 * the generation or n_workers differ from what was created, or a state is not a known letter. */
void scoreboard_process_read(const ScoreboardProcess *seg, unsigned generation, unsigned n_workers,
                             ProcessScore *ret);

/* What the supervisor has accepted so far of one process's counters, to judge the next reading.
 * A segment is the worker's to write: a pool may forge its counters, and they are summed into the
 * server's totals. So a reading may only add what the process could have done since the previous
 * one (the bounds and why, in scoreboard.c); a counter never goes back (the old value is kept). */
typedef struct ScoreboardTrust {
        usec_t started; /* the fork (CLOCK_MONOTONIC): bytes and durations are bounded from here */
        usec_t last;    /* the previous reading: requests and connections earn credit from here */
        uint64_t requests, bytes, duration_usec, connections; /* accepted so far */
        uint64_t tls_connections, ktls_connections;
        uint64_t tls_hellos_refused, tls_names_unrecognized;
        uint64_t proxy_refused;
        uint64_t duration_buckets[HTTP_STATUS_DURATION_BUCKETS + 1];
        uint64_t request_credit, connection_credit;           /* what they may still add */
        bool warned;    /* the supervisor said once that the process reports the implausible */
} ScoreboardTrust;

/* What scoreboard_trust_accept() did not take. */
enum {
        SCOREBOARD_CLAMPED_REQUESTS = 1u << 0,
        SCOREBOARD_CLAMPED_BYTES = 1u << 1,
        SCOREBOARD_CLAMPED_DURATION = 1u << 2,
        SCOREBOARD_CLAMPED_CONNECTIONS = 1u << 3,
        SCOREBOARD_WENT_BACK = 1u << 4, /* a counter decreased */
        SCOREBOARD_CLAMPED_HISTOGRAM = 1u << 5, /* more requests in the buckets than were served */
};

/* A process forked at started (CLOCK_MONOTONIC usec), nothing accepted yet. */
void scoreboard_trust_init(ScoreboardTrust *t, usec_t started);
/* Judge a valid reading, taken at now, of a process with n_workers slots: each counter of *ps
 * becomes what is accepted (never less than before, never more than the bounds allow) and t
 * remembers it. Returns 0 when the reading was plausible, else the SCOREBOARD_* of what was not. */
unsigned scoreboard_trust_accept(ScoreboardTrust *t, unsigned n_workers, usec_t now, ProcessScore *ps);

typedef struct ScoreboardView {
        unsigned n_procs;
        ProcessScore *procs; /* n_procs entries, indexed like the generation's slots */
        unsigned ready, busy, keepalive, starting;
        unsigned invalid; /* segments that failed validation */
        uint64_t requests, bytes;
        uint64_t tls_hellos_refused, tls_names_unrecognized;
        uint64_t proxy_refused;
} ScoreboardView;

/* The supervisor's record of a process slot (mpm.h's ProcessSlot), kept here for its letter. */
typedef enum ProcessState {
        PROCESS_FREE,     /* no process in the slot */
        PROCESS_STARTING, /* forked, not yet accepting */
        PROCESS_RUNNING,  /* accepting */
        PROCESS_STOPPING, /* told to finish */
} ProcessState;

/* The one letter a process slot is shown as, by `mpmctl status` and by the status page alike: its
 * process state first ('.' free, 'S' starting, 'G' told to finish), then for a running one what its
 * validated scoreboard says: '?' invalid, 'W' when a worker reads or writes a request, 'K' when
 * every busy worker waits on a kept-alive connection, '_' idle. */
char scoreboard_slot_letter(ProcessState state, const ProcessScore *s);

/* One of the WorkerState letters above. */
bool worker_state_is_valid(uint8_t s);
/* Busy as mod_status counts it: R W K C L, and G (finishing its request before exit). */
bool worker_state_is_busy(uint8_t s);
