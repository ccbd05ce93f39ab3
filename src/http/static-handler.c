/* SPDX-License-Identifier: MIT */
/* static-handler.c — the static handler's vtable (handler.h): a thin adapter over static.c, which
 * finds the file (DirectoryIndex, the file cache), has request processing's conditional.c decide
 * the conditionals and ranges, and fills the response; the connection sends it (a small file in the same write as its head, a larger one
 * with sendfile). Nothing here allocates or makes a syscall: the hot path stays static.c's. */
#include "http/handler.h"
#include "http/static.h"

static int static_handler_start(HttpHandler *h, HttpResponse *resp) {
        http_static_serve(h->request, resp);
        return HTTP_HANDLER_RESPOND;
}

const HttpHandlerType http_static_handler = {
        .name = "static",
        .size = sizeof(HttpHandler),
        .start = static_handler_start,
};
