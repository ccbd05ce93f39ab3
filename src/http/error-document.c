/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/error-document.h"
#include "http/path.h"

const HttpErrorDocument *http_error_document_find(const HttpErrorDocuments *d, int status) {
        for (size_t i = 0; i < d->n; i++)
                if (d->items[i].status == status)
                        return d->items[i].kind == HTTP_ERROR_DOCUMENT_DEFAULT ? NULL : &d->items[i];
        return NULL;
}

static void document_done(HttpErrorDocument *e) {
        free(e->value);
        free(e->file);
        *e = (HttpErrorDocument){};
}

void http_error_documents_done(HttpErrorDocuments *d) {
        if (!d)
                return;
        for (size_t i = 0; i < d->n; i++)
                document_done(&d->items[i]);
        free(d->items);
        *d = (HttpErrorDocuments){};
}

static bool starts_with_ci(const char *s, const char *prefix) {
        return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* The document part of a line into e (kind, value). */
static int parse_document(HttpErrorDocument *e, const char *s, char **ret_error) {
        size_t n = strlen(s);
        char path[PATH_MAX];

        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
        for (size_t i = 0; i < n; i++)
                if (((unsigned char) s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
                        return conf_parse_error(ret_error, "the document contains a control character (0x%02x)",
                                                (unsigned char) s[i]);
        if (n == 0)
                return conf_parse_error(ret_error, "a document (a path, a URL or \"text\") is missing");
        if (n == 7 && strncasecmp(s, "default", 7) == 0) {
                e->kind = HTTP_ERROR_DOCUMENT_DEFAULT;
                e->value = strdup("");
                return e->value ? 0 : -ENOMEM;
        }
        if (s[0] == '/') {
                if (memchr(s, '?', n) || memchr(s, ' ', n) || memchr(s, '\t', n))
                        return conf_parse_error(ret_error,
                                                "a local document is a path without spaces or a query, "
                                                "got \"%.*s\"",
                                                (int) n, s);
                if (http_path_normalize(s, n, path, sizeof(path), &e->value_len) < 0 || path[e->value_len - 1] == '/')
                        return conf_parse_error(ret_error, "\"%.*s\" is not the path of a file", (int) n, s);
                e->kind = HTTP_ERROR_DOCUMENT_LOCAL;
                e->value = strdup(path);
                return e->value ? 0 : -ENOMEM;
        }
        if (starts_with_ci(s, "http://") || starts_with_ci(s, "https://")) {
                if (memchr(s, ' ', n) || memchr(s, '\t', n))
                        return conf_parse_error(ret_error, "a URL has no spaces, got \"%.*s\"", (int) n, s);
                if (e->status == 401)
                        return conf_parse_error(ret_error, "401 cannot redirect to a URL: the client would never "
                                                           "see the authentication challenge (use a local path)");
                e->kind = HTTP_ERROR_DOCUMENT_REDIRECT;
        } else {
                /* Apache: a quoted string, or anything else that is neither a path nor a URL. */
                if (s[0] == '"') {
                        s++;
                        n--;
                        if (n > 0 && s[n - 1] == '"')
                                n--;
                }
                e->kind = HTTP_ERROR_DOCUMENT_TEXT;
        }
        e->value = strndup(s, n);
        e->value_len = n;
        return e->value ? 0 : -ENOMEM;
}

static int documents_put(HttpErrorDocuments *d, HttpErrorDocument *e) {
        HttpErrorDocument *grown;

        for (size_t i = 0; i < d->n; i++)
                if (d->items[i].status == e->status) {
                        document_done(&d->items[i]);
                        d->items[i] = *e;
                        return 0;
                }
        grown = reallocarray(d->items, d->n + 1, sizeof(HttpErrorDocument));
        if (!grown)
                return -ENOMEM;
        d->items = grown;
        d->items[d->n++] = *e;
        return 0;
}

int http_error_document_add(HttpErrorDocuments *d, const char *value, bool replace, const char *file, unsigned line,
                            char **ret_error) {
        HttpErrorDocument e = {.line = line};
        const char *p = value + strspn(value, " \t");
        size_t n = strcspn(p, " \t");
        char num[8];
        uint64_t status;
        int r;

        if (n == 0 || n >= sizeof(num))
                return conf_parse_error(ret_error, "expected a status and a document, got \"%s\"", value);
        memcpy(num, p, n);
        num[n] = '\0';
        if (parse_uint64(num, &status) < 0 || status < 400 || status > 599)
                return conf_parse_error(ret_error, "expected an error status (400 to 599), got \"%s\"", num);
        e.status = (int) status;
        r = parse_document(&e, p + n + strspn(p + n, " \t"), ret_error);
        if (r < 0) {
                document_done(&e);
                return r;
        }
        e.file = strdup(file ? file : "");
        if (!e.file) {
                document_done(&e);
                return -ENOMEM;
        }
        if (replace)
                http_error_documents_done(d);
        r = documents_put(d, &e);
        if (r < 0)
                document_done(&e);
        return r;
}

int http_error_document_parse_row(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                                  char **ret_error) {
        return http_error_document_add(field, value, ctx->replace_list, ctx->file, ctx->line, ret_error);
}

char *http_error_document_format_row(const ConfItem *item, const void *field) {
        const HttpErrorDocuments *d = field;
        char *s = NULL;
        size_t n = 0;
        FILE *f;

        if (d->n == 0)
                return strdup("(empty)");
        f = open_memstream(&s, &n);
        if (!f)
                return NULL;
        for (size_t i = 0; i < d->n; i++) {
                const HttpErrorDocument *e = &d->items[i];
                const char *v = e->kind == HTTP_ERROR_DOCUMENT_DEFAULT ? "default" : e->value;

                fprintf(f, "%s%d %s%s%s", i > 0 ? "; " : "", e->status, e->kind == HTTP_ERROR_DOCUMENT_TEXT ? "\"" : "",
                        v, e->kind == HTTP_ERROR_DOCUMENT_TEXT ? "\"" : "");
        }
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}

static int document_copy(HttpErrorDocument *dst, const HttpErrorDocument *src) {
        *dst = *src;
        dst->value = strdup(src->value);
        dst->file = strdup(src->file);
        if (!dst->value || !dst->file) {
                document_done(dst);
                return -ENOMEM;
        }
        return 0;
}

/* a's documents, each replaced by b's for the same status, then b's others; into *ret. */
static int documents_merge(const HttpErrorDocuments *a, const HttpErrorDocuments *b, HttpErrorDocuments *ret) {
        HttpErrorDocuments m = {};

        for (size_t i = 0; i < a->n + b->n; i++) {
                HttpErrorDocument e;

                if (document_copy(&e, i < a->n ? &a->items[i] : &b->items[i - a->n]) < 0 || documents_put(&m, &e) < 0) {
                        document_done(&e);
                        http_error_documents_done(&m);
                        return -ENOMEM;
                }
        }
        *ret = m;
        return 0;
}

int http_error_document_copy_row(const ConfItem *item, void *dst, const void *src) {
        static const HttpErrorDocuments none = {};
        HttpErrorDocuments copy;

        if (documents_merge(src, &none, &copy) < 0)
                return -ENOMEM;
        http_error_documents_done(dst);
        *(HttpErrorDocuments *) dst = copy;
        return 0;
}

void http_error_document_done_row(const ConfItem *item, void *field) {
        http_error_documents_done(field);
}

int http_error_document_merge_row(const ConfItem *item, void *field, const void *parent) {
        HttpErrorDocuments merged;

        if (documents_merge(parent, field, &merged) < 0)
                return -ENOMEM;
        http_error_documents_done(field);
        *(HttpErrorDocuments *) field = merged;
        return 0;
}
