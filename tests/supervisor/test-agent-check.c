/* SPDX-License-Identifier: MIT */
/* The agent-check lines (agent-check.h): what HAProxy reads for each state, and the idle share. */
#include <criterion/criterion.h>
#include <string.h>

#include "supervisor/agent-check.h"

static const char *line(AgentState st, unsigned percent) {
        static char buf[AGENT_CHECK_LINE_MAX];
        size_t n = agent_check_format(st, percent, buf, sizeof(buf));
        cr_assert_eq(n, strlen(buf));
        return buf;
}

Test(agent_check, lines_per_state) {
        cr_assert_str_eq(line(AGENT_READY, 75), "ready up 75%\n");
        cr_assert_str_eq(line(AGENT_READY, 0), "ready up 1%\n", "never 0 %: a busy node still takes its share");
        cr_assert_str_eq(line(AGENT_READY, 250), "ready up 100%\n");
        cr_assert_str_eq(line(AGENT_DRAIN, 50), "drain\n");
        cr_assert_str_eq(line(AGENT_MAINT, 50), "maint\n");
        cr_assert_str_eq(line(AGENT_DOWN, 50), "down\n");
}

Test(agent_check, idle_share) {
        cr_assert_eq(agent_check_percent(100, 0), 100);
        cr_assert_eq(agent_check_percent(100, 25), 75);
        cr_assert_eq(agent_check_percent(2, 1), 50);
        cr_assert_eq(agent_check_percent(1000, 999), 1, "rounded down, but never 0 while a slot is free");
        cr_assert_eq(agent_check_percent(10, 10), 1);
        cr_assert_eq(agent_check_percent(10, 50), 1, "more in use than capacity (connections of an old generation)");
        cr_assert_eq(agent_check_percent(0, 0), 1, "no capacity known");
}
