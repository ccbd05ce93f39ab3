/* SPDX-License-Identifier: MIT */
/* client-table.c — see client-table.h. Deletion shifts the following entries of the probe run back
 * (no tombstones), so a table that sees millions of short connections never fills with dead slots. */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mpm/client-table.h"
#include "shared/macro.h"

#define CLIENT_TABLE_MIN 64

typedef struct ClientEntry {
        ClientKey key;
        uint32_t count; /* 0: a free slot */
} ClientEntry;

struct ClientTable {
        ClientEntry *slots;
        size_t n_slots; /* a power of two */
        size_t used;
        uint64_t seed[2];
};

ClientTable *client_table_new(void) {
        ClientTable *t = calloc(1, sizeof(*t));

        if (!t)
                return NULL;
        t->slots = calloc(CLIENT_TABLE_MIN, sizeof(ClientEntry));
        if (!t->slots)
                return mfree(t);
        t->n_slots = CLIENT_TABLE_MIN;
        /* A seed the client cannot know; without one (no entropy yet) the table still works. */
        if (getrandom(t->seed, sizeof(t->seed), GRND_NONBLOCK) != (ssize_t) sizeof(t->seed))
                t->seed[0] = (uint64_t) (uintptr_t) t, t->seed[1] = 0x9e3779b97f4a7c15ull;
        return t;
}

ClientTable *client_table_free(ClientTable *t) {
        if (t) {
                free(t->slots);
                free(t);
        }
        return NULL;
}

bool client_key_from(const struct sockaddr *sa, socklen_t len, ClientKey *ret) {
        *ret = (ClientKey) {};
        if (sa->sa_family == AF_INET && len >= (socklen_t) sizeof(struct sockaddr_in)) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
                ret->bytes[10] = ret->bytes[11] = 0xff;
                memcpy(ret->bytes + 12, &in->sin_addr, 4);
                return true;
        }
        if (sa->sa_family == AF_INET6 && len >= (socklen_t) sizeof(struct sockaddr_in6)) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
                static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };
                memcpy(ret->bytes, &in6->sin6_addr, 16);
                if (memcmp(ret->bytes, v4mapped, 12) != 0)
                        memset(ret->bytes + 8, 0, 8); /* the /64 */
                return true;
        }
        return false;
}

static size_t client_hash(const ClientTable *t, const ClientKey *k) {
        uint64_t a, b;

        memcpy(&a, k->bytes, 8);
        memcpy(&b, k->bytes + 8, 8);
        a = (a ^ t->seed[0]) * 0xff51afd7ed558ccdull;
        b = (b ^ t->seed[1]) * 0xc4ceb9fe1a85ec53ull;
        a ^= b ^ (a >> 29) ^ (b >> 31);
        a *= 0x9e3779b97f4a7c15ull;
        return (size_t) (a ^ (a >> 32));
}

static size_t client_find(const ClientTable *t, const ClientKey *k) {
        size_t mask = t->n_slots - 1, i = client_hash(t, k) & mask;

        while (t->slots[i].count > 0 && memcmp(&t->slots[i].key, k, sizeof(*k)) != 0)
                i = (i + 1) & mask;
        return i; /* the key's slot, or the free slot where it would go */
}

static int client_table_grow(ClientTable *t) {
        ClientEntry *old = t->slots;
        size_t n_old = t->n_slots;

        t->slots = calloc(n_old * 2, sizeof(ClientEntry));
        if (!t->slots) {
                t->slots = old;
                return -ENOMEM;
        }
        t->n_slots = n_old * 2;
        for (size_t i = 0; i < n_old; i++)
                if (old[i].count > 0)
                        t->slots[client_find(t, &old[i].key)] = old[i];
        free(old);
        return 0;
}

int client_table_add(ClientTable *t, const ClientKey *key) {
        size_t i = client_find(t, key);

        if (t->slots[i].count == 0) {
                /* At most half full, so that probe runs stay short. */
                if ((t->used + 1) * 2 > t->n_slots) {
                        int r = client_table_grow(t);
                        if (r < 0)
                                return r;
                        i = client_find(t, key);
                }
                t->slots[i].key = *key;
                t->used++;
        }
        if (t->slots[i].count >= INT32_MAX)
                return -EOVERFLOW;
        return (int) ++t->slots[i].count;
}

void client_table_remove(ClientTable *t, const ClientKey *key) {
        size_t mask = t->n_slots - 1, i = client_find(t, key), j;

        if (t->slots[i].count == 0 || --t->slots[i].count > 0)
                return;
        t->used--;
        /* Backward shift: move up every later entry of the run that may sit at i. */
        for (j = (i + 1) & mask; t->slots[j].count > 0; j = (j + 1) & mask) {
                size_t home = client_hash(t, &t->slots[j].key) & mask;
                /* j's entry may move to i when its home is not in the cyclic range (i, j]. */
                if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
                        t->slots[i] = t->slots[j];
                        i = j;
                }
        }
        t->slots[i] = (ClientEntry) {};
}

unsigned client_table_count(const ClientTable *t, const ClientKey *key) {
        return t->slots[client_find(t, key)].count;
}

size_t client_table_size(const ClientTable *t) {
        return t->used;
}
