/* SPDX-License-Identifier: MIT */
/* respond.h — the response step of request processing: what the configuration changes in a
 * response the engine frames, just before its head is written (http1.c).
 *
 * In this order: ErrorDocument (an error the engine or a handler answered becomes the site's own
 * document, a redirect to it, or its text), then the expiry (ExpiresActive, ExpiresByType,
 * ExpiresDefault) and the Header lines (headers.h). The settings are those of the request's path
 * (q->cfg); a request rejected before it was routed (a bad request line, 408, 414…) has none, and
 * takes its site's (the listener's default site): its "Header always" lines apply to a 400 as in
 * Apache. A CGI program's own output does not pass here: the CGI exchange applies the Header and
 * expiry lines itself (cgi-exchange.h), and ErrorDocument never replaces what a program wrote. */
#pragma once

#include "http/request.h"
#include "http/response.h"

/* Apply the response step to r. A header block that no longer fits sets r->headers_overflow (the
 * caller answers a plain 500); a response that overflowed already is left alone. A local error
 * document that cannot be opened leaves the plain error and one line in the site's error log. */
void http_respond(const HttpRequest *q, HttpResponse *r);
