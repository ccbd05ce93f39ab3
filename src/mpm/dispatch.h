/* SPDX-License-Identifier: MIT */
/* dispatch.h — the perchild dispatcher: routes the connections of shared sockets to the pool of the
 * site they ask for, without ever reading a byte of them.
 *
 * dispatch_run() is one epoll loop in an unprivileged, sandboxed process. It accepts from the
 * shared listeners, looks at each connection's request head with MSG_PEEK (so the pool later reads
 * the original bytes itself), parses it with the engine's parser under the engine's limits and
 * header deadline (RequestReadTimeout header=, TimeOut) of the listener's default site, selects the
 * site with http_server_select() and passes the descriptor to that site's pool (SCM_RIGHTS, one
 * EventHandoff per message, MSG_DONTWAIT). A connection from a listener that defers accepts
 * (TCP_DEFER_ACCEPT) is looked at as it is accepted: one whose head is all there is passed on (or
 * answered) without ever entering the epoll set. It never blocks on anyone:
 *   a malformed head     the status the engine would give (400, 414, 431, 501, 505 …), then close
 *   too slow a head      408 once part of a head came, or a silent close when nothing came
 *   a saturated pool     503 when its hand-off socket says EAGAIN
 * and it answers these itself (Date, Server, Connection: close, Apache's short page), draining what
 * the client sent so the answer is not lost to a reset. On a TLS listener (Listener.tls) it peeks
 * the ClientHello instead (client-hello.h: across TCP segments and TLS records, at most
 * CLIENT_HELLO_WIRE_MAX bytes, under the same deadline) and routes by its server_name as by Host
 * (http_server_route(): an unknown name or none goes to DefaultSite); it never terminates TLS nor
 * holds a key, the pool does the handshake:
 *   a malformed hello    closed without a word (and one too long, or not complete by the
 *                        deadline), counted in the scoreboard's tls_hellos_refused
 *   a name nobody takes  a fatal unrecognized_name alert, counted in tls_names_unrecognized
 *   a saturated pool     a fatal internal_error alert
 * On a listener named in RemoteIPProxyProtocol (Listener.proxy_protocol) a PROXY header comes first:
 * a peer not in RemoteIPTrustedProxy is closed before a byte is read, a malformed header is closed
 * (both counted in the scoreboard's proxy_refused), and what follows the header is routed as above;
 * the header is left unread for the pool, whose proxy_io takes it (proxy-io.h). DispatcherConnections-
 * PerClient does not count such a listener's peer (the proxy speaks for many clients).
 * It holds at most max_connections at once and stops accepting at the bound. SIGTERM: stop accepting, finish the connections held; SIGINT:
 * stop now. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mpm/mpm.h"
#include "http/server.h"

typedef struct DispatchSpec {
        const Listener *listeners; /* the shared sockets */
        size_t n_listeners;
        const int *pool_fds;       /* the sending end of each pool's SOCK_SEQPACKET hand-off socket */
        size_t n_pools;
        const size_t *site_pool;   /* per http->sites[i]: the index into pool_fds of its pool */
        uint32_t max_connections;  /* connections being examined at once */
        uint32_t max_per_client;   /* of those, whose head is still being read, per client; 0: no bound */
} DispatchSpec;

/* Run until stopped; returns WORKER_EXIT_OK or WORKER_EXIT_FATAL. */
int dispatch_run(const WorkerContext *ctx, const DispatchSpec *spec);

/* Build the complete answer the dispatcher gives for status (Date, Server from s, Connection:
 * close, the engine's error page; no body when head_only). Writes at most size bytes to buf and
 * returns the length of the whole answer, which may exceed size (as snprintf). */
size_t dispatch_error_response(const HttpServer *s, int status, bool head_only, usec_t now_realtime, char *buf,
                               size_t size);
