/* SPDX-License-Identifier: MIT */
/* client-table.h — how many connections each client address holds, for the dispatcher's bound on
 * heads still being read per client. An IPv4 address counts as itself, an IPv6 address by its /64
 * (one subscriber's prefix: counting single IPv6 addresses would let one client take any number).
 * Open addressing with linear probing, a per-table random seed (a client cannot pick addresses that
 * all collide), growing as needed; no entry for an address that holds nothing. Not thread-safe. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct ClientKey {
        uint8_t bytes[16]; /* IPv4 as ::ffff:a.b.c.d, IPv6 with its last 64 bits zeroed */
} ClientKey;

typedef struct ClientTable ClientTable;

ClientTable *client_table_new(void);
ClientTable *client_table_free(ClientTable *t);

/* The key of a peer address; false for a family that has none (AF_UNIX: not counted). */
bool client_key_from(const struct sockaddr *sa, socklen_t len, ClientKey *ret);

/* One more connection for key: returns the count now, or -ENOMEM (nothing changed). */
int client_table_add(ClientTable *t, const ClientKey *key);
/* One fewer; the entry goes at zero. An unknown key is ignored. */
void client_table_remove(ClientTable *t, const ClientKey *key);
unsigned client_table_count(const ClientTable *t, const ClientKey *key);
/* Addresses that hold at least one connection. */
size_t client_table_size(const ClientTable *t);
