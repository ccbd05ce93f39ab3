/* SPDX-License-Identifier: MIT */
/* TEMPORARY, branch `tickets` only — REMOVE before merging: a stand-in for the certificate store's
 * tls_store_attach_tickets() (tls-store.h, branch `tlsstore`) so that this branch links. On this
 * branch no generation has a store (Generation.tls is always NULL), so it is never called. */
#include <errno.h>

#include "mpm/tls-store.h"

int tls_store_attach_tickets(TlsStore *s, struct TlsTicketKeys *keys, usec_t now) {
        return -ENOSYS;
}
