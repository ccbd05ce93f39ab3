/* SPDX-License-Identifier: MIT */
/* site-failure.h — one site's failure stays its own (see site-failure.c): a per-user MPM's site
 * that its generation cannot serve with a pool of its own is marked in g.site_failed (why) and
 * either keeps its previous pool (g.site_kept, a reload) or is answered with 503 and retried. */
#pragma once

#include <stddef.h>

#include "supervisor/supervisor-state.h"

/* After generation_new(), once sg is current or pending: mark the sites whose paths could not be
 * opened (g.site_failed set while building). */
void site_failure_settle(SupGeneration *sg);
/* Site of sg cannot be served by sg's own pool, for why (taken over; NULL: out of memory): keep the
 * older pool serving it (a reload) or leave it to the stand-ins; logs and updates STATUS=. */
void site_failure_mark(SupGeneration *sg, size_t site, char *why, usec_t now);
/* Once a second, for the serving generation: try again the failed sites whose back-off is over. */
void site_failure_retry(SupGeneration *sg, usec_t now);
/* The index in sg of the site called name that has a User of its own, or -1. */
int site_failure_find_site(const SupGeneration *sg, const char *name);
/* "site a: WHY (…)" for every failed site of the serving generation, joined by sep (malloc'd);
 * NULL when none. */
char *site_failure_describe(const Supervisor *s, const char *sep);
