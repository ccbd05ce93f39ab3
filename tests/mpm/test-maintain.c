/* SPDX-License-Identifier: MIT */
/* Tests of the spare-worker arithmetic: scenarios of successive one-second ticks (the spawn rate
 * doubling 1, 2, 4 … 32 during a shortage and falling back to 1 when it ends or the limit is hit,
 * spawning only what reaches MinSpare, retiring one process above MaxSpare, the process limit and
 * the free slots as hard bounds, threads per process for worker/event), the crash back-off
 * sequence and the fatal exit code. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <limits.h>
#include <stdio.h>

#include "shared/macro.h"
#include "mpm/maintain.h"

typedef struct Tick {
        unsigned idle, active, per_process, min_spare, max_spare, max_processes, free_slots;
        unsigned spawn, retire;
        bool at_limit;
        unsigned rate_after; /* SpareState.spawn_rate once the tick is done */
} Tick;

#define TICKS_MAX 12

typedef struct Scenario {
        char name[64];
        unsigned n_ticks;
        Tick ticks[TICKS_MAX];
} Scenario;

/* prefork with MinSpare min, MaxSpare max, 256 processes allowed, plenty of free slots */
#define PF(idle, active, min, max, spawn, retire, rate) \
        { idle, active, 1, min, max, 256, 256, spawn, retire, false, rate }

static Scenario scenarios[] = {
        { "rate doubles to 32 and stays there while the shortage lasts", 8, {
                PF(0, 10, 100, 200, 1, 0, 2),
                PF(0, 11, 100, 200, 2, 0, 4),
                PF(0, 13, 100, 200, 4, 0, 8),
                PF(0, 17, 100, 200, 8, 0, 16),
                PF(0, 25, 100, 200, 16, 0, 32),
                PF(0, 41, 100, 200, 32, 0, 32),
                PF(0, 73, 100, 200, 32, 0, 32),
                PF(0, 105, 100, 200, 32, 0, 32),
        } },
        { "idle 0 of min 5: spawn only what is missing", 5, {
                PF(0, 0, 5, 10, 1, 0, 2),
                PF(0, 1, 5, 10, 2, 0, 4),
                PF(0, 3, 5, 10, 4, 0, 8),
                PF(0, 7, 5, 10, 5, 0, 16),
                PF(2, 12, 5, 10, 3, 0, 32),
        } },
        { "starting processes count as idle: the shortage closes", 4, {
                PF(0, 0, 5, 10, 1, 0, 2),
                PF(1, 1, 5, 10, 2, 0, 4),
                PF(3, 3, 5, 10, 2, 0, 8),
                PF(5, 5, 5, 10, 0, 0, 1),
        } },
        { "the end of a shortage resets the rate", 6, {
                PF(0, 0, 50, 100, 1, 0, 2),
                PF(0, 1, 50, 100, 2, 0, 4),
                PF(0, 3, 50, 100, 4, 0, 8),
                PF(60, 63, 50, 100, 0, 0, 1),
                PF(0, 63, 50, 100, 1, 0, 2),
                PF(0, 64, 50, 100, 2, 0, 4),
        } },
        { "above MaxSpare: one process a second", 5, {
                PF(14, 20, 5, 10, 0, 1, 1),
                PF(13, 19, 5, 10, 0, 1, 1),
                PF(11, 17, 5, 10, 0, 1, 1),
                PF(10, 16, 5, 10, 0, 0, 1),
                PF(7, 16, 5, 10, 0, 0, 1),
        } },
        { "retiring also resets the rate", 3, {
                PF(0, 0, 50, 60, 1, 0, 2),
                PF(0, 1, 50, 60, 2, 0, 4),
                PF(70, 70, 50, 60, 0, 1, 1),
        } },
        { "exactly MinSpare or MaxSpare: nothing to do", 2, {
                PF(5, 5, 5, 10, 0, 0, 1),
                PF(10, 10, 5, 10, 0, 0, 1),
        } },
        { "never more processes than the limit", 5, {
                { 0, 250, 1, 100, 200, 256, 256, 1, 0, false, 2 },
                { 0, 251, 1, 100, 200, 256, 256, 2, 0, false, 4 },
                { 0, 253, 1, 100, 200, 256, 256, 3, 0, false, 8 },
                { 0, 256, 1, 100, 200, 256, 256, 0, 0, true, 1 },
                { 0, 255, 1, 100, 200, 256, 256, 1, 0, false, 2 },
        } },
        { "above the limit already (smaller limit after reload)", 1, {
                { 0, 300, 1, 5, 10, 256, 256, 0, 0, true, 1 },
        } },
        { "free slots bound the spawn", 4, {
                { 0, 0, 1, 100, 200, 256, 256, 1, 0, false, 2 },
                { 0, 1, 1, 100, 200, 256, 256, 2, 0, false, 4 },
                { 0, 3, 1, 100, 200, 256, 3, 3, 0, false, 8 },
                { 0, 6, 1, 100, 200, 256, 0, 0, 0, true, 1 },
        } },
        { "worker: processes of 25 threads up to MinSpareThreads 75", 4, {
                { 0, 0, 25, 75, 250, 16, 16, 1, 0, false, 2 },
                { 25, 1, 25, 75, 250, 16, 16, 2, 0, false, 4 },
                { 60, 3, 25, 75, 250, 16, 16, 1, 0, false, 8 },
                { 85, 4, 25, 75, 250, 16, 16, 0, 0, false, 1 },
        } },
        { "worker: one process retired above MaxSpareThreads", 3, {
                { 300, 14, 25, 75, 250, 16, 16, 0, 1, false, 1 },
                { 275, 13, 25, 75, 250, 16, 16, 0, 1, false, 1 },
                { 250, 12, 25, 75, 250, 16, 16, 0, 0, false, 1 },
        } },
        { "worker: no retirement that would fall under MinSpare", 2, {
                { 260, 11, 25, 240, 250, 16, 16, 0, 0, false, 1 },
                { 266, 11, 25, 240, 250, 16, 16, 0, 1, false, 1 },
        } },
        { "worker: ServerLimit reached", 2, {
                { 10, 16, 25, 75, 250, 16, 16, 0, 0, true, 1 },
                { 10, 15, 25, 75, 250, 16, 1, 1, 0, false, 2 },
        } },
        { "MaxSpare below MinSpare: capacity wins", 2, {
                PF(4, 4, 10, 3, 1, 0, 2),
                PF(12, 12, 10, 3, 0, 1, 1),
        } },
        { "no process to retire", 1, {
                PF(20, 0, 5, 10, 0, 0, 1),
        } },
        { "idle_per_process 0 is taken as 1", 2, {
                { 0, 0, 0, 3, 10, 256, 256, 1, 0, false, 2 },
                { 0, 1, 0, 3, 10, 256, 256, 2, 0, false, 4 },
        } },
};

ParameterizedTestParameters(maintain, scenario) {
        return cr_make_param_array(Scenario, scenarios, ELEMENTSOF(scenarios));
}

ParameterizedTest(Scenario *sc, maintain, scenario) {
        SpareState s;

        spare_state_init(&s);
        cr_assert_eq(s.spawn_rate, 1);
        for (unsigned i = 0; i < sc->n_ticks; i++) {
                const Tick *t = &sc->ticks[i];
                SpareDecision d = spare_decide(&s, t->idle, t->active, t->per_process, t->min_spare,
                                               t->max_spare, t->max_processes, t->free_slots);
                cr_assert_eq(d.spawn, t->spawn, "%s, tick %u: spawn %u, expected %u", sc->name, i, d.spawn,
                             t->spawn);
                cr_assert_eq(d.retire, t->retire, "%s, tick %u: retire %u, expected %u", sc->name, i,
                             d.retire, t->retire);
                cr_assert_eq(d.at_limit, t->at_limit, "%s, tick %u: at_limit %d", sc->name, i, d.at_limit);
                cr_assert_eq(s.spawn_rate, t->rate_after, "%s, tick %u: rate %u, expected %u", sc->name, i,
                             s.spawn_rate, t->rate_after);
                /* Invariants whatever the case says. */
                cr_assert(d.spawn == 0 || d.retire == 0, "%s, tick %u: spawn and retire at once", sc->name, i);
                cr_assert_leq(d.spawn, SPARE_SPAWN_RATE_MAX);
                cr_assert_leq(d.spawn, t->free_slots);
                cr_assert_leq(t->active + d.spawn, MAX(t->max_processes, t->active));
        }
}

/* A long shortage under random-looking but fixed inputs never breaks the bounds. */
Test(maintain, bounds_hold_over_many_ticks) {
        SpareState s;
        unsigned active = 0, max_seen_rate = 0;

        spare_state_init(&s);
        for (unsigned tick = 0; tick < 5000; tick++) {
                unsigned idle = (tick * 7919u) % 97u, free_slots = (tick * 31u) % 40u;
                unsigned max_processes = 150;
                SpareDecision d = spare_decide(&s, idle, active, 1, 50, 80, max_processes, free_slots);

                cr_assert_leq(d.spawn, free_slots);
                cr_assert_leq(active + d.spawn, max_processes);
                cr_assert_leq(d.retire, 1);
                if (idle >= 50)
                        cr_assert_eq(d.spawn, 0);
                else
                        cr_assert_leq(d.spawn, 50 - idle);
                max_seen_rate = MAX(max_seen_rate, s.spawn_rate);
                active = active + d.spawn - (d.retire && active > 0 ? 1 : 0);
                if (tick % 13 == 0 && active > 0)
                        active--; /* a process exits on its own */
        }
        cr_assert_leq(max_seen_rate, SPARE_SPAWN_RATE_MAX);
}

Test(maintain, zeroed_state_starts_at_one) {
        SpareState s = {};
        SpareDecision d = spare_decide(&s, 0, 0, 1, 10, 20, 100, 100);

        cr_assert_eq(d.spawn, 1);
        cr_assert_eq(s.spawn_rate, 2);
}

typedef struct BackoffCase {
        unsigned crashes;
        usec_t expect;
} BackoffCase;

static BackoffCase backoff_cases[] = {
        { 0, 0 },
        { 1, 1 * USEC_PER_SEC },
        { 2, 2 * USEC_PER_SEC },
        { 3, 4 * USEC_PER_SEC },
        { 4, 8 * USEC_PER_SEC },
        { 5, 16 * USEC_PER_SEC },
        { 6, 32 * USEC_PER_SEC },
        { 7, 60 * USEC_PER_SEC },
        { 8, 60 * USEC_PER_SEC },
        { 64, 60 * USEC_PER_SEC },
        { 65, 60 * USEC_PER_SEC },
        { UINT_MAX, 60 * USEC_PER_SEC },
};

ParameterizedTestParameters(maintain, backoff) {
        return cr_make_param_array(BackoffCase, backoff_cases, ELEMENTSOF(backoff_cases));
}

ParameterizedTest(BackoffCase *c, maintain, backoff) {
        usec_t got = spawn_backoff_usec(c->crashes);
        cr_assert_eq(got, c->expect, "%u crashes: %llu µs, expected %llu", c->crashes, got, c->expect);
}

Test(maintain, backoff_never_decreases) {
        for (unsigned n = 1; n < 1000; n++)
                cr_assert_geq(spawn_backoff_usec(n), spawn_backoff_usec(n - 1), "at %u", n);
        cr_assert_eq(SPAWN_BACKOFF_MAX_USEC, 60 * USEC_PER_SEC);
}

Test(maintain, fatal_exit_code) {
        cr_assert_eq(WORKER_EXIT_FATAL, 2);
        cr_assert_eq(WORKER_EXIT_OK, 0);
        cr_assert(spawn_is_fatal_exit(WORKER_EXIT_FATAL));
        cr_assert(spawn_is_fatal_exit(2));
        for (int code = -1; code <= 255; code++)
                if (code != 2)
                        cr_assert_not(spawn_is_fatal_exit(code), "exit code %d", code);
}
