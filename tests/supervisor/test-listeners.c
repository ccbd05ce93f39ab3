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

Test(listeners, https_values_are_addresses) {
        cr_assert(listen_value_is_address("https://127.0.0.1:8443"));
        cr_assert(listen_value_is_address("https://[::1]:8443"));
        cr_assert(listen_value_is_address("https://*:443"));
        cr_assert(listen_value_is_address("https://443"));
        cr_assert(listen_value_is_address("127.0.0.1:8080"), "a plain address still is one");
        cr_assert_not(listen_value_is_address("https://"));
        cr_assert_not(listen_value_is_address("https://localhost:443"));
        cr_assert_not(listen_value_is_address("https://127.0.0.1:0"));
        cr_assert_not(listen_value_is_address("https"), "a socket name");
        cr_assert_not(listen_value_is_address("vhost-https:a.example"));
        cr_assert_not(listen_value_is_address("http://127.0.0.1:80"), "only https:// marks a listener");
}

Test(listeners, an_https_listen_binds_its_address_under_the_name_as_written) {
        ListenerSet set = {};
        const char *failed = NULL;
        char tls[64], plain[64];
        unsigned port = free_port(), port2 = free_port();

        snprintf(tls, sizeof(tls), "https://127.0.0.1:%u", port);
        snprintf(plain, sizeof(plain), "127.0.0.1:%u", port2);
        char *listen[] = { tls, plain, NULL };
        cr_assert_eq(listener_set_ensure(&set, listen, 5, &failed), 0, "%s", failed ? failed : "");
        cr_assert_eq(set.n, 2);
        cr_assert_str_eq(set.items[0].name, tls);
        cr_assert(set.items[0].tls);
        cr_assert_eq(set.items[0].port, port, "bound to the address after https://");
        cr_assert_eq(backlog_of(set.items[0].fd), 5);
        cr_assert_str_eq(set.items[1].name, plain);
        cr_assert_not(set.items[1].tls);
        cr_assert_eq(listener_set_find(&set, tls), &set.items[0], "a vhost's Listen finds it by the same value");

        /* Ensured again (a reload): the same socket, nothing bound twice. */
        cr_assert_eq(listener_set_ensure(&set, listen, 5, &failed), 0);
        cr_assert_eq(set.n, 2);
        listener_set_done(&set);
}

Test(listeners, an_https_ipv6_listen_binds) {
        ListenerSet set = {};
        const char *failed = NULL;
        char tls[64];
        int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
        socklen_t len = sizeof(a);

        if (probe < 0 || bind(probe, (struct sockaddr *) &a, sizeof(a)) < 0)
                cr_skip_test("no IPv6 loopback here");
        cr_assert_eq(getsockname(probe, (struct sockaddr *) &a, &len), 0);
        unsigned port = ntohs(a.sin6_port);
        close(probe);
        snprintf(tls, sizeof(tls), "https://[::1]:%u", port);
        char *listen[] = { tls, NULL };
        cr_assert_eq(listener_set_ensure(&set, listen, 5, &failed), 0, "%s", failed ? failed : "");
        cr_assert(set.items[0].tls);
        cr_assert_eq(set.items[0].port, port);
        listener_set_done(&set);
}

Test(listeners, systemd_socket_names) {
        static const struct {
                const char *fdname, *name;
                bool tls;
        } cases[] = {
                { "https", "https", true },
                { "vhost-https@a.example", "vhost-https:a.example", true },
                { "vhost@a.example", "vhost:a.example", false },
                { "http", "http", false },
                { "unknown", "http", false },
                { NULL, "http", false },
                { "vhost-https@", "vhost-https@", false }, /* no site named: not a per-site socket */
                /* an https:// address mpmd bound and kept in the fd store, back under its own name */
                { "addr-https_//127.0.0.1_8443", "https://127.0.0.1:8443", true },
                { "addr-127.0.0.1_8080", "127.0.0.1:8080", false },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *name = listener_name_from_fdname(cases[i].fdname);
                cr_assert_str_eq(name, cases[i].name, "%s", cases[i].fdname ? cases[i].fdname : "(none)");
                cr_assert_eq(listener_name_is_tls(name), cases[i].tls, "%s", name);
                free(name);
        }
}
