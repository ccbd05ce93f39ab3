/* SPDX-License-Identifier: MIT */
/* ListenBacklog on the listening sockets (listeners.h): the sockets mpmd binds get it, at bind and
 * again later (a reload), and those systemd passed keep theirs but are counted when it differs. The
 * backlog a socket has is read back as `ss -l` shows it: TCP_INFO's tcpi_sacked of a listener. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "supervisor/listeners.h"

static unsigned backlog_of(int fd) {
        struct tcp_info info = {};
        socklen_t len = sizeof(info);

        cr_assert_eq(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len), 0);
        cr_assert_eq(info.tcpi_state, TCP_LISTEN);
        return info.tcpi_sacked;
}

/* A loopback port nobody listens on right now. */
static unsigned free_port(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        cr_assert(fd >= 0);
        cr_assert_eq(bind(fd, (struct sockaddr *) &a, sizeof(a)), 0);
        cr_assert_eq(getsockname(fd, (struct sockaddr *) &a, &len), 0);
        close(fd);
        return ntohs(a.sin_port);
}

/* A listening socket as systemd would pass one, named name. */
static void add_passed(ListenerSet *set, const char *name, int backlog) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        cr_assert(fd >= 0);
        cr_assert_eq(bind(fd, (struct sockaddr *) &a, sizeof(a)), 0);
        cr_assert_eq(listen(fd, backlog), 0);
        set->items = reallocarray(set->items, set->n + 1, sizeof(Listener));
        cr_assert_not_null(set->items);
        set->items[set->n++] = (Listener) { .fd = fd, .name = strdup(name) };
}

Test(listeners, a_bound_socket_gets_the_backlog_and_a_new_one_later) {
        ListenerSet set = {};
        const char *failed = NULL, *name = NULL;
        unsigned theirs = 0;
        char addr[32];

        snprintf(addr, sizeof(addr), "127.0.0.1:%u", free_port());
        char *listen[] = { addr, NULL };
        cr_assert_eq(listener_set_ensure(&set, listen, 7, &failed), 0, "%s", failed ? failed : "");
        cr_assert_eq(set.n, 1);
        cr_assert_eq(backlog_of(set.items[0].fd), 7);

        cr_assert_eq(listener_set_backlog(&set, 9, &name, &theirs), 0);
        cr_assert_eq(backlog_of(set.items[0].fd), 9);
        listener_set_done(&set);
}

Test(listeners, a_socket_from_systemd_keeps_its_backlog_and_is_counted_when_it_differs) {
        ListenerSet set = {};
        const char *name = NULL;
        unsigned theirs = 0;

        add_passed(&set, "vhost:a", 9);
        add_passed(&set, "http", 5);
        add_passed(&set, "vhost:b", 6);
        cr_assert_eq(listener_set_backlog(&set, 9, &name, &theirs), 2);
        cr_assert_str_eq(name, "http");
        cr_assert_eq(theirs, 5);
        cr_assert_eq(backlog_of(set.items[1].fd), 5);
        cr_assert_eq(backlog_of(set.items[2].fd), 6);
        listener_set_done(&set);
}
