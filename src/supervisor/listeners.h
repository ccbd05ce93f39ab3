/* SPDX-License-Identifier: MIT */
/* listeners.h — the listening sockets: taken from systemd by name (sd_listen_fds_with_names), or
 * bound by mpmd itself from Listen= addresses when it runs without socket activation.
 *
 * A Listen value is an address (127.0.0.1:8080, [::1]:8080, *:80, 8080), the same after "https://"
 * for a TLS listener (https://127.0.0.1:8443, https://[::1]:8443), or a socket name handed over by
 * systemd ("http", "vhost:example.org", and the TLS ones "https", "vhost-https:example.org"). systemd
 * cannot pass a name containing ":", so a socket named "vhost@NAME" (mpmd-vhost@NAME.socket) is
 * known as "vhost:NAME", "vhost-https@NAME" (mpmd-vhost-https@NAME.socket) as "vhost-https:NAME";
 * one without a name ("unknown") as "http". A listener's name is the value as written, and it is
 * TLS when listener_name_is_tls() (mpm.h) says so. Listeners live in the supervisor across
 * generations: a reload reuses the same sockets, so queued connections are never lost. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "mpm/mpm.h"

typedef struct ListenerSet {
        Listener *items;
        size_t n;
} ListenerSet;

/* Parse "ADDR:PORT" / "[V6]:PORT" / "PORT" / "*:PORT", each also after "https://"; false when value
 * is not an address (then it may be a socket name). */
bool listen_value_is_address(const char *value);

/* Bind and listen on an address (as listen_value_is_address takes it), non-blocking, SO_REUSEADDR,
 * "*:PORT" both families; defer_accept: TCP_DEFER_ACCEPT (for HTTP, whose client speaks first).
 * The socket, or -errno. */
int listener_bind_address(const char *value, int backlog, bool defer_accept);

/* The configuration's name for a socket systemd passed under fdname (malloc'd; NULL: no memory). */
char *listener_name_from_fdname(const char *fdname);

/* Make sure every value in listen has a socket in set: inherited ones by name, others bound now
 * (SO_REUSEADDR, listen() with backlog: ListenBacklog, non-blocking). Returns 0 or -errno with
 * *ret_failed naming the value. */
int listener_set_ensure(ListenerSet *set, char *const *listen, int backlog, const char **ret_failed);

/* Give every socket of set that mpmd bound (now, or before a restart: the fd store's) the queue
 * length backlog: listen() again on a listening socket only changes its backlog (Linux), and the
 * connections already queued stay. Sockets of socket units are left alone, their Backlog= is
 * systemd's: returns how many TCP ones have another backlog than backlog would give (the kernel
 * caps it at net.core.somaxconn), *ret_name and *ret_backlog saying the first one's; or -errno
 * with *ret_name naming the socket listen() failed on. */
int listener_set_backlog(ListenerSet *set, int backlog, const char **ret_name, unsigned *ret_backlog);

/* Take the sockets systemd passed (LISTEN_FDS), checking each is a listening stream socket.
 * Returns how many, or -errno with *ret_error (to free) saying which socket and why. */
int listener_set_inherit(ListenerSet *set, char **ret_error);

/* Close the sockets of addresses (those mpmd bound, now or before a restart: the fd store's) that
 * are not among served, and take them out of systemd's fd store (FDSTOREREMOVE=1), so that an
 * address the configuration no longer names stops accepting connections nobody serves. Sockets of
 * socket units are kept: systemd owns them. Only while no other generation uses the set: at start. */
void listener_set_drop_unserved(ListenerSet *set, const Listener *served, size_t n_served);

const Listener *listener_set_find(const ListenerSet *set, const char *name);
void listener_set_done(ListenerSet *set);
