/* SPDX-License-Identifier: MIT */
/* status-view.c — see status-view.h. */
#include <stdint.h>
#include <string.h>

#include "supervisor/status-view.h"

static uint64_t add64(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* The sums below come from segments the workers write: saturate rather than wrap. */
static uint32_t add32(uint32_t a, uint64_t b) {
        return b > UINT32_MAX - a ? UINT32_MAX : (uint32_t) (a + b);
}

void status_view_fill(HttpStatusData *d, const StatusSource *src, int group, const ProcessScore *retired) {
        unsigned n = 0;

        d->total_accesses = retired->requests;
        d->total_bytes = retired->bytes;
        d->total_duration_usec = retired->duration_usec;
        d->tls = src->tls;
        d->tls_conns = retired->tls_connections;
        d->ktls_conns = retired->ktls_connections;
        d->tls_hellos_refused = retired->tls_hellos_refused;
        d->tls_names_unrecognized = retired->tls_names_unrecognized;
        d->proxy_refused = retired->proxy_refused;
        memcpy(d->duration_buckets, retired->duration_buckets, sizeof(d->duration_buckets));
        memset(d->workers_by_state, 0, sizeof(d->workers_by_state));
        d->busy = d->idle = d->graceful = d->processes = d->stopping = 0;
        d->conns_total = d->conns_keepalive = d->conns_writing = d->conns_closing = 0;
        for (unsigned i = 0; i < src->n_procs; i++) {
                const ProcessSlot *p = &src->procs[i];
                const ProcessScore *s = &src->scores[i];

                if (group >= 0 && (!src->slot_group || src->slot_group[i] != group))
                        continue;
                if (n < HTTP_STATUS_SLOTS_MAX)
                        d->scoreboard[n++] = scoreboard_slot_letter(p->state, s);
                if (p->state == PROCESS_FREE)
                        continue;
                d->processes++;
                if (p->state == PROCESS_STOPPING)
                        d->stopping++;
                if (!s->valid)
                        continue;
                d->total_accesses = add64(d->total_accesses, s->requests);
                d->total_bytes = add64(d->total_bytes, s->bytes);
                d->total_duration_usec = add64(d->total_duration_usec, s->duration_usec);
                d->tls_conns = add64(d->tls_conns, s->tls_connections);
                d->ktls_conns = add64(d->ktls_conns, s->ktls_connections);
                d->tls_hellos_refused = add64(d->tls_hellos_refused, s->tls_hellos_refused);
                d->tls_names_unrecognized = add64(d->tls_names_unrecognized, s->tls_names_unrecognized);
                d->proxy_refused = add64(d->proxy_refused, s->proxy_refused);
                for (unsigned b = 0; b <= HTTP_STATUS_DURATION_BUCKETS; b++)
                        d->duration_buckets[b] = add64(d->duration_buckets[b], s->duration_buckets[b]);
                for (unsigned k = 0; k < HTTP_STATUS_WORKER_STATES; k++)
                        d->workers_by_state[k] = add32(d->workers_by_state[k], s->by_state[k]);
                d->busy = add32(d->busy, s->busy);
                d->idle = add32(d->idle, s->ready);
                d->conns_keepalive = add32(d->conns_keepalive, s->keepalive);
                d->conns_total = add32(d->conns_total, s->connections_open);
        }
        d->graceful = d->stopping;
        d->n_slots = n;
}

size_t status_view_board(const StatusSource *src, char *buf, size_t size) {
        size_t n = 0;

        if (size == 0)
                return 0;
        for (unsigned i = 0; i < src->n_procs && n < size - 1; i++)
                buf[n++] = scoreboard_slot_letter(src->procs[i].state, &src->scores[i]);
        buf[n] = 0;
        return n;
}
