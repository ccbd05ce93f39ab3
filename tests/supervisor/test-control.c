/* SPDX-License-Identifier: MIT */
/* The control socket's dispatch (control-socket.h): a request names a command of the table as a
 * whole, so "stop" and "stop --now" are two commands and a prefix or an extension is none. */
#include <criterion/criterion.h>

#include "supervisor/control-socket.h"
#include "shared/macro.h"

static void handler_a(void *userdata, ControlClient *c) {
}

static void handler_b(void *userdata, ControlClient *c) {
}

static const ControlCommand table[] = {
        { "stop", handler_a, 0 },
        { "stop --now", handler_b, 0 },
        { "reload", handler_b, CONTROL_DEFERRED },
};

Test(control, a_request_is_looked_up_whole) {
        cr_assert_eq(control_command_find(table, ELEMENTSOF(table), "stop"), &table[0]);
        cr_assert_eq(control_command_find(table, ELEMENTSOF(table), "stop --now"), &table[1]);
        cr_assert_eq(control_command_find(table, ELEMENTSOF(table), "reload")->flags, CONTROL_DEFERRED);
        cr_assert_null(control_command_find(table, ELEMENTSOF(table), "sto"));
        cr_assert_null(control_command_find(table, ELEMENTSOF(table), "stop now"));
        cr_assert_null(control_command_find(table, ELEMENTSOF(table), ""));
        cr_assert_null(control_command_find(table, 0, "stop"));
}
