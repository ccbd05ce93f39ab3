/* SPDX-License-Identifier: MIT */
#include "mpm/maintain.h"

void spare_state_init(SpareState *s) {
        *s = (SpareState) { .spawn_rate = 1 };
}

SpareDecision spare_decide(SpareState *s, unsigned idle, unsigned active_processes, unsigned idle_per_process,
                           unsigned min_spare, unsigned max_spare, unsigned max_processes, unsigned free_slots) {
        SpareDecision d = {};
        unsigned rate = s->spawn_rate == 0 ? 1 : MIN(s->spawn_rate, SPARE_SPAWN_RATE_MAX);

        if (idle_per_process == 0)
                idle_per_process = 1;

        /* Shortage is looked at first, so that a configuration with max_spare < min_spare errs on
         * the side of capacity instead of retiring and respawning every other second. */
        if (idle < min_spare) {
                unsigned room = max_processes > active_processes ? max_processes - active_processes : 0;
                unsigned short_by = min_spare - idle;
                /* Round up: a process brings idle_per_process idle units at once. */
                unsigned needed = short_by / idle_per_process + (short_by % idle_per_process != 0);

                room = MIN(room, free_slots);
                if (room == 0) {
                        /* Nothing can be started; when room appears, start gently again. */
                        s->spawn_rate = 1;
                        d.at_limit = true;
                        return d;
                }
                d.spawn = MIN(MIN(rate, needed), room);
                s->spawn_rate = MIN(rate * 2, SPARE_SPAWN_RATE_MAX);
                return d;
        }

        s->spawn_rate = 1;
        /* Retiring a process takes all its idle units with it: never retire below min_spare, or
         * the next second would start it again. */
        if (idle > max_spare && active_processes > 0 && idle >= idle_per_process &&
            idle - idle_per_process >= min_spare)
                d.retire = 1;
        return d;
}

usec_t spawn_backoff_usec(unsigned consecutive_crashes) {
        if (consecutive_crashes == 0)
                return 0;
        /* 2^6 s already exceeds the cap; checking first keeps the shift defined. */
        if (consecutive_crashes > 6)
                return SPAWN_BACKOFF_MAX_USEC;
        return MIN((1ULL << (consecutive_crashes - 1)) * USEC_PER_SEC, SPAWN_BACKOFF_MAX_USEC);
}

bool spawn_is_fatal_exit(int exit_status) {
        return exit_status == WORKER_EXIT_FATAL;
}
