/* SPDX-License-Identifier: MIT */
/* Tests of the per-client connection counts: keys per family (IPv4, IPv4-mapped IPv6 the same
 * client, IPv6 by /64, AF_UNIX not counted), counts up and down, and a long random run of adds and
 * removes over many addresses checked against a plain array, through growth and backward-shift
 * deletion. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "mpm/client-table.h"
#include "shared/macro.h"

static ClientKey key4(const char *a) {
        struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(1234) };
        ClientKey k;
        cr_assert_eq(inet_pton(AF_INET, a, &in.sin_addr), 1);
        cr_assert(client_key_from((struct sockaddr *) &in, sizeof(in), &k));
        return k;
}

static ClientKey key6(const char *a) {
        struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(1234) };
        ClientKey k;
        cr_assert_eq(inet_pton(AF_INET6, a, &in6.sin6_addr), 1);
        cr_assert(client_key_from((struct sockaddr *) &in6, sizeof(in6), &k));
        return k;
}

Test(client_table, keys_per_family) {
        ClientKey a = key4("192.0.2.1"), b = key4("192.0.2.2");
        cr_assert_neq(memcmp(&a, &b, sizeof(a)), 0);
        ClientKey m = key6("::ffff:192.0.2.1");
        cr_assert_eq(memcmp(&a, &m, sizeof(a)), 0, "an IPv4-mapped address is that IPv4 client");
        ClientKey p1 = key6("2001:db8:1:2::1"), p2 = key6("2001:db8:1:2:ffff:eeee:dddd:cccc");
        cr_assert_eq(memcmp(&p1, &p2, sizeof(p1)), 0, "one /64 is one client");
        ClientKey p3 = key6("2001:db8:1:3::1");
        cr_assert_neq(memcmp(&p1, &p3, sizeof(p1)), 0);

        struct sockaddr_un un = { .sun_family = AF_UNIX };
        ClientKey k;
        cr_assert_not(client_key_from((struct sockaddr *) &un, sizeof(un), &k));
        struct sockaddr_in short_in = { .sin_family = AF_INET };
        cr_assert_not(client_key_from((struct sockaddr *) &short_in, 4, &k), "a truncated address");
}

Test(client_table, counts_up_and_down) {
        ClientTable *t = client_table_new();
        ClientKey a = key4("198.51.100.7"), b = key6("2001:db8::9");

        cr_assert_not_null(t);
        cr_assert_eq(client_table_add(t, &a), 1);
        cr_assert_eq(client_table_add(t, &a), 2);
        cr_assert_eq(client_table_add(t, &b), 1);
        cr_assert_eq(client_table_count(t, &a), 2);
        cr_assert_eq(client_table_size(t), 2);
        client_table_remove(t, &a);
        client_table_remove(t, &a);
        client_table_remove(t, &a); /* already gone: ignored */
        cr_assert_eq(client_table_count(t, &a), 0);
        cr_assert_eq(client_table_count(t, &b), 1);
        cr_assert_eq(client_table_size(t), 1);
        client_table_free(t);
        client_table_free(NULL);
}

/* Many addresses, many operations, against a reference array: growth, collisions and the backward
 * shift of deletions must never lose or merge a count. */
Test(client_table, random_run_matches_a_reference) {
        enum { N_ADDR = 3000, OPS = 200000 };
        static unsigned ref[N_ADDR];
        ClientTable *t = client_table_new();
        size_t live = 0;

        cr_assert_not_null(t);
        srand(12345);
        for (unsigned op = 0; op < OPS; op++) {
                unsigned i = (unsigned) rand() % N_ADDR;
                struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000000u + i) };
                ClientKey k;
                cr_assert(client_key_from((struct sockaddr *) &in, sizeof(in), &k));
                /* More removes than adds in the second half: the table empties again. */
                bool add = op < OPS / 2 ? rand() % 3 != 0 : rand() % 3 == 0;
                if (add) {
                        cr_assert_eq(client_table_add(t, &k), (int) ++ref[i]);
                        if (ref[i] == 1)
                                live++;
                } else {
                        client_table_remove(t, &k);
                        if (ref[i] > 0 && --ref[i] == 0)
                                live--;
                }
                if (op % 997 == 0)
                        for (unsigned j = 0; j < N_ADDR; j++) {
                                struct sockaddr_in jn = { .sin_family = AF_INET,
                                                          .sin_addr.s_addr = htonl(0x0a000000u + j) };
                                ClientKey kj;
                                cr_assert(client_key_from((struct sockaddr *) &jn, sizeof(jn), &kj));
                                cr_assert_eq(client_table_count(t, &kj), ref[j], "address %u after op %u", j, op);
                        }
                cr_assert_eq(client_table_size(t), live);
        }
        client_table_free(t);
}
