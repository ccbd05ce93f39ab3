/* SPDX-License-Identifier: MIT */
/* request.h — one request in context, as a handler sees it: the parsed head (spans into buf), the
 * site it was routed to, and its path decoded and normalised (never outside the DocumentRoot). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"
#include "parser.h"
#include "server.h"

typedef struct HttpRequest {
        const HttpServer *server;
        const HttpSite *site;
        const HttpRequestHead *head;
        const char *buf;  /* the bytes the head's spans point into */
        const char *path; /* decoded, dot segments removed, starts with '/', NUL-terminated */
        size_t path_len;
        usec_t now; /* CLOCK_REALTIME */
} HttpRequest;
