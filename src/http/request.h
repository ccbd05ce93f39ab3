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
        usec_t now;      /* CLOCK_REALTIME */
        usec_t now_mono; /* CLOCK_MONOTONIC, for caches */
        /* Room the handler may copy a small body into (r->body then points there); it lives as long as
         * the response. NULL/0: none. */
        char *body_buf;
        size_t body_buf_size;
} HttpRequest;
