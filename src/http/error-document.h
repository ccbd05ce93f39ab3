/* SPDX-License-Identifier: MIT */
/* error-document.h — ErrorDocument (Apache's core directive): what the engine answers instead of its
 * own short page for an error status it gives itself.
 *
 * "ErrorDocument = STATUS /path" serves that file, beneath the site's DocumentRoot, with the status
 * kept and the file's media type; "= STATUS http://…" answers a 302 to that URL; "= STATUS "text""
 * answers with that text (text/html, as Apache); "= STATUS default" brings back the plain page in a
 * narrower section. Only 4xx and 5xx statuses, and never a URL for 401 (the client would lose the
 * challenge). A narrower section replaces, status by status, what a wider one set. Each line is
 * parsed once at load; the response step (respond.h) looks a status up. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "shared/conf-table.h"

typedef enum HttpErrorDocumentKind {
        HTTP_ERROR_DOCUMENT_DEFAULT,  /* the engine's own page */
        HTTP_ERROR_DOCUMENT_LOCAL,    /* a file beneath the DocumentRoot: value is its normalised path */
        HTTP_ERROR_DOCUMENT_REDIRECT, /* 302 to value, an http(s) URL */
        HTTP_ERROR_DOCUMENT_TEXT,     /* value is the body */
} HttpErrorDocumentKind;

typedef struct HttpErrorDocument {
        int status;
        HttpErrorDocumentKind kind;
        char *value;
        size_t value_len;
        char *file; /* where it was written, for the error log; "" when not from a file */
        unsigned line;
} HttpErrorDocument;

typedef struct HttpErrorDocuments {
        HttpErrorDocument *items;
        size_t n;
} HttpErrorDocuments;

/* The document for status, or NULL (also for one set back to default). */
const HttpErrorDocument *http_error_document_find(const HttpErrorDocuments *d, int status);

/* Parse one line "STATUS DOCUMENT" and add it to d (replacing d's line for that status; with
 * replace, d is emptied first). 0, -EINVAL with *ret_error (malloc'd), or -ENOMEM. */
int http_error_document_add(HttpErrorDocuments *d, const char *value, bool replace, const char *file,
                            unsigned line, char **ret_error);
void http_error_documents_done(HttpErrorDocuments *d);

int http_error_document_parse_row(const ConfItem *item, void *field, const char *value,
                                  const ConfApplyContext *ctx, char **ret_error);
char *http_error_document_format_row(const ConfItem *item, const void *field);
int http_error_document_copy_row(const ConfItem *item, void *dst, const void *src);
void http_error_document_done_row(const ConfItem *item, void *field);
int http_error_document_merge_row(const ConfItem *item, void *field, const void *parent);

#define HTTP_ERROR_DOCUMENT_ROWS(base, ctx)                                                                     \
        { "ErrorDocument", CONF_CUSTOM, (base), NULL, .flags = CONF_LIST | CONF_LIST_APPEND_INHERITED,           \
          .contexts = (ctx), .parse = http_error_document_parse_row, .format = http_error_document_format_row,  \
          .copy = http_error_document_copy_row, .done = http_error_document_done_row,                           \
          .merge = http_error_document_merge_row, .size = sizeof(HttpErrorDocuments),                           \
          .expect = "a 4xx or 5xx status and a local path, an http(s) URL, \"text\" or default" }
