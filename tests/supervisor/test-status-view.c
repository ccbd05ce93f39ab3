/* SPDX-License-Identifier: MIT */
/* What a status page shows: the server's view (every slot) and a status group's (its slots only,
 * under perchild a pool's: what its sites see), made from a process table and validated scores. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "supervisor/status-view.h"

/* A dispatcher (no group), pool 0 (slots 1-2), pool 1 (slots 3-5, one of them free), pool 2 (6). */
static const ProcessSlot procs[] = {
        { .state = PROCESS_RUNNING }, { .state = PROCESS_RUNNING }, { .state = PROCESS_STARTING },
        { .state = PROCESS_RUNNING }, { .state = PROCESS_FREE },    { .state = PROCESS_STOPPING },
        { .state = PROCESS_RUNNING },
};
static const int groups[] = { -1, 0, 0, 1, 1, 1, 2 };
static const ProcessScore scores[] = {
        { .valid = true, .ready = 1, .connections = 50, .connections_open = 4 },
        { .valid = true, .ready = 1, .requests = 10, .bytes = 1000, .duration_usec = 100, .connections_open = 1 },
        { .valid = true, .starting = 1 },
        { .valid = true, .busy = 1, .requests = 7, .bytes = 700, .duration_usec = 70, .connections_open = 3 },
        {},
        { .valid = true, .busy = 1, .keepalive = 1, .requests = 2, .bytes = 200, .duration_usec = 20,
          .connections_open = 1 },
        { .valid = false }, /* a corrupt segment: its counts are not taken */
};
static const StatusSource src = { .procs = procs, .scores = scores, .slot_group = groups, .n_procs = 7 };

static void fill(HttpStatusData *d, int group, const ProcessScore *retired) {
        memset(d, 0x55, sizeof(*d)); /* what was there before must not show through */
        d->cpu_user = 1.5;
        status_view_fill(d, &src, group, retired);
        cr_assert_eq(d->cpu_user, 1.5, "CPU time is the caller's to fill");
}

Test(status_view, a_group_shows_its_own_slots_only) {
        const ProcessScore retired = { .requests = 100, .bytes = 10000, .duration_usec = 1000 };
        HttpStatusData d;

        fill(&d, 1, &retired);
        cr_assert_eq(d.total_accesses, 100 + 7 + 2);
        cr_assert_eq(d.total_bytes, 10000 + 700 + 200);
        cr_assert_eq(d.total_duration_usec, 1000 + 70 + 20);
        cr_assert_eq(d.processes, 2);
        cr_assert_eq(d.stopping, 1);
        cr_assert_eq(d.graceful, 1);
        cr_assert_eq(d.busy, 2);
        cr_assert_eq(d.idle, 0);
        cr_assert_eq(d.conns_total, 4);
        cr_assert_eq(d.conns_keepalive, 1);
        cr_assert_eq(d.n_slots, 3);
        cr_assert_eq(memcmp(d.scoreboard, "W.G", 3), 0, "%.*s", (int) d.n_slots, d.scoreboard);

        fill(&d, 0, &(ProcessScore) {});
        cr_assert_eq(d.total_accesses, 10);
        cr_assert_eq(d.processes, 2);
        cr_assert_eq(d.idle, 1);
        cr_assert_eq(d.n_slots, 2);
        cr_assert_eq(memcmp(d.scoreboard, "_S", 2), 0);

        fill(&d, 2, &(ProcessScore) {});
        cr_assert_eq(d.total_accesses, 0);
        cr_assert_eq(d.processes, 1);
        cr_assert_eq(d.n_slots, 1);
        cr_assert_eq(d.scoreboard[0], '?');

        /* A group with no slot: nothing at all. */
        fill(&d, 3, &(ProcessScore) {});
        cr_assert_eq(d.total_accesses + d.processes + d.n_slots + d.busy + d.idle + d.conns_total, 0);
}

Test(status_view, the_server_view_shows_every_slot) {
        const ProcessScore retired = { .requests = 1 };
        HttpStatusData d;

        fill(&d, -1, &retired);
        cr_assert_eq(d.total_accesses, 1 + 10 + 7 + 2, "the dispatcher serves no request");
        cr_assert_eq(d.processes, 6);
        cr_assert_eq(d.busy, 2);
        cr_assert_eq(d.idle, 2);
        cr_assert_eq(d.conns_total, 4 + 1 + 3 + 1);
        cr_assert_eq(d.n_slots, 7);
        cr_assert_eq(memcmp(d.scoreboard, "__SW.G?", 7), 0, "%.*s", (int) d.n_slots, d.scoreboard);

        /* Without groups (the other MPMs) the server's view is the only one. */
        StatusSource plain = src;
        plain.slot_group = NULL;
        status_view_fill(&d, &plain, -1, &retired);
        cr_assert_eq(d.total_accesses, 20);
        status_view_fill(&d, &plain, 0, &(ProcessScore) {});
        cr_assert_eq(d.processes + d.n_slots, 0);
}

Test(status_view, sums_saturate) {
        ProcessSlot p[2] = { { .state = PROCESS_RUNNING }, { .state = PROCESS_RUNNING } };
        ProcessScore s[2] = {
                { .valid = true, .busy = UINT32_MAX, .requests = UINT64_MAX, .connections_open = UINT32_MAX },
                { .valid = true, .busy = 5, .requests = 5, .connections_open = 5 },
        };
        StatusSource two = { .procs = p, .scores = s, .n_procs = 2 };
        HttpStatusData d;

        status_view_fill(&d, &two, -1, &(ProcessScore) { .requests = 9 });
        cr_assert_eq(d.total_accesses, UINT64_MAX);
        cr_assert_eq(d.busy, UINT32_MAX);
        cr_assert_eq(d.conns_total, UINT32_MAX);
}

/* `mpmctl status` and the status page read a slot the same way: a prefork process (or a worker
 * process whose busy threads all wait) on a kept-alive connection is 'K' on both, not 'W'. */
Test(status_view, a_keepalive_slot_shows_k_on_both_boards) {
        static const ProcessSlot ka_procs[] = {
                { .state = PROCESS_RUNNING }, /* prefork: its one slot waits on a kept-alive connection */
                { .state = PROCESS_RUNNING }, /* worker: two threads wait, none reads or writes */
                { .state = PROCESS_RUNNING }, /* worker: one waits, one writes */
                { .state = PROCESS_RUNNING }, /* idle */
        };
        static const ProcessScore ka_scores[] = {
                { .valid = true, .busy = 1, .keepalive = 1 },
                { .valid = true, .busy = 2, .keepalive = 2, .ready = 1 },
                { .valid = true, .busy = 2, .keepalive = 1 },
                { .valid = true, .ready = 1 },
        };
        const StatusSource ka = { .procs = ka_procs, .scores = ka_scores, .n_procs = 4 };
        HttpStatusData d = {};
        char board[8];

        cr_assert_eq(status_view_board(&ka, board, sizeof(board)), 4);
        cr_assert_str_eq(board, "KKW_", "mpmctl status shows %s", board);
        status_view_fill(&d, &ka, -1, &(ProcessScore) {});
        cr_assert_eq(memcmp(d.scoreboard, board, 4), 0, "the status page shows %.4s, mpmctl status %s",
                     d.scoreboard, board);

        /* Bounded by the buffer, always terminated. */
        cr_assert_eq(status_view_board(&ka, board, 3), 2);
        cr_assert_str_eq(board, "KK");
}

Test(status_view, tls_connections_are_summed_with_the_retired_ones) {
        static const ProcessScore tls_scores[] = {
                { .valid = true, .connections = 9, .tls_connections = 7, .ktls_connections = 2 },
                { .valid = true, .connections = 4, .tls_connections = 4 },
                { .valid = false, .tls_connections = 1000 },
        };
        static const ProcessSlot tls_procs[] = {
                { .state = PROCESS_RUNNING }, { .state = PROCESS_STOPPING }, { .state = PROCESS_RUNNING },
        };
        StatusSource s = { .procs = tls_procs, .scores = tls_scores, .n_procs = 3, .tls = true };
        const ProcessScore retired = { .tls_connections = 100, .ktls_connections = 10 };
        HttpStatusData d;

        memset(&d, 0x55, sizeof(d));
        status_view_fill(&d, &s, -1, &retired);
        cr_assert_eq(d.tls, 1);
        cr_assert_eq(d.tls_conns, 100 + 7 + 4);
        cr_assert_eq(d.ktls_conns, 10 + 2);
        s.tls = false;
        status_view_fill(&d, &s, -1, &(ProcessScore) {});
        cr_assert_eq(d.tls, 0);
        cr_assert_eq(d.tls_conns, 11);
}
