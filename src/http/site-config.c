/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/access-log.h"
#include "http/site-config.h"
#include "shared/strv.h"

/* ---- RequestReadTimeout ------------------------------------------------------------------- */

#define READ_TIMEOUT_MAX_SEC 86400

/* "N" or "N-M" seconds, then nothing or ",MinRate=R". */
static int read_timeout_stage_parse(const char *v, HttpReadTimeoutStage *ret, const char **ret_error) {
        _cleanup_free_ char *copy = strdup(v);
        HttpReadTimeoutStage st = {};
        uint64_t t, m = 0, rate = 0;
        char *comma, *dash;

        if (!copy)
                return -ENOMEM;
        comma = strchr(copy, ',');
        if (comma) {
                *comma++ = 0;
                if (strncasecmp(comma, "MinRate=", 8) != 0 || parse_uint64(comma + 8, &rate) < 0 ||
                    rate > UINT32_MAX) {
                        *ret_error = "RequestReadTimeout: expected \",MinRate=BYTES-PER-SECOND\" after a stage's timeout";
                        return -EINVAL;
                }
                if (rate == 0) {
                        *ret_error = "RequestReadTimeout: MinRate must be larger than 0";
                        return -EINVAL;
                }
        }
        dash = strchr(copy, '-');
        if (dash)
                *dash++ = 0;
        if (parse_uint64(copy, &t) < 0 || t > READ_TIMEOUT_MAX_SEC || (dash && (parse_uint64(dash, &m) < 0 ||
                                                                               m > READ_TIMEOUT_MAX_SEC))) {
                *ret_error = "RequestReadTimeout: a stage's timeout must be seconds (0 to 86400) or a range such as 20-40";
                return -EINVAL;
        }
        if (dash && m <= t) {
                *ret_error = "RequestReadTimeout: a stage's maximum must be larger than its timeout";
                return -EINVAL;
        }
        if (dash && rate == 0) {
                *ret_error = "RequestReadTimeout: a timeout range needs MinRate";
                return -EINVAL;
        }
        if (t > 0)
                st = (HttpReadTimeoutStage) {
                        .timeout = t * USEC_PER_SEC,
                        .max = m * USEC_PER_SEC,
                        .min_rate = (uint32_t) rate,
                };
        *ret = st;
        return 0;
}

static int read_timeout_words_parse(const char *s, HttpReadTimeout *rt, const char **ret_error) {
        _cleanup_free_ char *copy = strdup(s);
        char *save = NULL;
        int r;

        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                HttpReadTimeoutStage *st;
                if (strncasecmp(w, "header=", 7) == 0)
                        st = &rt->header;
                else if (strncasecmp(w, "body=", 5) == 0)
                        st = &rt->body;
                else if (strncasecmp(w, "handshake=", 10) == 0) {
                        *ret_error = "RequestReadTimeout: handshake= is not supported (mpmd has no TLS)";
                        return -EINVAL;
                } else {
                        *ret_error = "RequestReadTimeout: expected header=N[-M][,MinRate=R] and/or body=N[-M][,MinRate=R]";
                        return -EINVAL;
                }
                r = read_timeout_stage_parse(strchr(w, '=') + 1, st, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int http_read_timeout_parse(const char *s, HttpReadTimeout *ret, const char **ret_error) {
        HttpReadTimeout rt;
        int r;

        r = read_timeout_words_parse(HTTP_READ_TIMEOUT_DEFAULT, &rt, ret_error);
        if (r < 0)
                return r;
        if (s) {
                r = read_timeout_words_parse(s, &rt, ret_error);
                if (r < 0)
                        return r;
        }
        *ret = rt;
        return 0;
}

static int parse_read_timeout(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                              char **ret_error) {
        const char *why = NULL, *prefix = "RequestReadTimeout: ";
        HttpReadTimeout rt;
        int r;

        r = http_read_timeout_parse(value, &rt, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                /* The loader's message names the key already. */
                if (why && strncmp(why, prefix, strlen(prefix)) == 0)
                        why += strlen(prefix);
                *ret_error = strdup(why ? why : "invalid");
                return *ret_error ? -EINVAL : -ENOMEM;
        }
        memcpy(field, &rt, sizeof(rt));
        return 0;
}

static int format_stage(char **s, const char *name, const HttpReadTimeoutStage *st) {
        if (st->timeout == 0)
                return asprintf(s, "%s=0", name);
        if (st->max > 0)
                return asprintf(s, "%s=%llu-%llu,MinRate=%u", name, st->timeout / USEC_PER_SEC,
                                st->max / USEC_PER_SEC, st->min_rate);
        if (st->min_rate > 0)
                return asprintf(s, "%s=%llu,MinRate=%u", name, st->timeout / USEC_PER_SEC, st->min_rate);
        return asprintf(s, "%s=%llu", name, st->timeout / USEC_PER_SEC);
}

static char *format_read_timeout(const ConfItem *item, const void *field) {
        _cleanup_free_ char *header = NULL, *body = NULL;
        HttpReadTimeout rt;
        char *s;

        memcpy(&rt, field, sizeof(rt));
        if (format_stage(&header, "header", &rt.header) < 0 || format_stage(&body, "body", &rt.body) < 0 ||
            asprintf(&s, "%s %s", header, body) < 0)
                return NULL;
        return s;
}

/* ---- ScriptAlias, AddHandler, CustomLog: parsed line by line into their lists ------------- */

#define WORD_SPACE " \t\r\n\f\v"


/* The words of l joined by single spaces, as a file would write them. */
static char *words_join(char *const *l) {
        size_t n = 1;
        char *s, *p;

        STRV_FOREACH(w, l)
                n += strlen(*w) + 1;
        s = malloc(n);
        if (!s)
                return NULL;
        p = s;
        *p = '\0';
        STRV_FOREACH(w, l)
                p = stpcpy(stpcpy(p, p == s ? "" : " "), *w);
        return s;
}

/* value split on whitespace into *ret, a list that is never NULL (a blank value: no words).
 * 0 or -ENOMEM. */
static int split_words(const char *value, char ***ret) {
        *ret = strv_split_words(value);
        return *ret ? 0 : -ENOMEM;
}

static const char *source_file(const HttpConfSource *s) {
        return s->file && s->file[0] ? s->file : "(built in)";
}

static int source_set(HttpConfSource *s, const char *file, unsigned line) {
        *s = (HttpConfSource) { .file = strdup(file ? file : ""), .line = line };
        return s->file ? 0 : -ENOMEM;
}

static void script_alias_free(HttpScriptAlias *a) {
        free(a->url);
        free(a->directory);
        free(a->source.file);
}

void http_script_aliases_done(HttpScriptAliases *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                script_alias_free(&l->items[i]);
        free(l->items);
        *l = (HttpScriptAliases) {};
}

static const HttpScriptAlias *script_alias_find(const HttpScriptAliases *l, size_t n, const char *url) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(l->items[i].url, url) == 0)
                        return &l->items[i];
        return NULL;
}

/* ScriptAlias URL-PATH DIRECTORY (several pairs when continued over lines): the URL paths and
 * directories well formed, no URL path given twice for the site. The pairs of the line are judged
 * all before any is added, so that a refused line leaves the list as it was. */
int http_script_alias_add(HttpScriptAliases *l, const char *value, bool replace, const char *file, unsigned line,
                          char **ret_error) {
        _cleanup_strv_free_ char **w = NULL;
        size_t n, keep = replace ? 0 : l->n;
        HttpScriptAlias *grown;
        int r;

        *ret_error = NULL;
        r = split_words(value, &w);
        if (r < 0)
                return r;
        n = strv_length(w);
        if (n % 2 != 0)
                return conf_parse_error(ret_error, "needs a URL path and a directory; \"%s\" has no directory", w[n - 1]);
        for (size_t i = 0; i < n; i += 2) {
                const char *url = w[i], *dir = w[i + 1];
                const HttpScriptAlias *twice;

                if (url[0] != '/' || url[strlen(url) - 1] != '/')
                        return conf_parse_error(ret_error, "\"%s\" is not a URL path starting and ending with '/'", url);
                if (dir[0] != '/')
                        return conf_parse_error(ret_error, "%s: \"%s\" is not an absolute directory", url, dir);
                twice = script_alias_find(l, keep, url);
                if (twice)
                        return conf_parse_error(ret_error, "%s is given twice (first at %s:%u)", url, source_file(&twice->source),
                                      twice->source.line);
                for (size_t j = 0; j < i; j += 2)
                        if (strcmp(w[j], url) == 0)
                                return conf_parse_error(ret_error, "%s is given twice", url);
        }

        grown = reallocarray(replace ? NULL : l->items, keep + n / 2 + 1, sizeof(HttpScriptAlias));
        if (!grown)
                return -ENOMEM;
        if (!replace)
                l->items = grown;
        for (size_t i = 0; i < n; i += 2) {
                HttpScriptAlias *a = &grown[keep + i / 2];

                *a = (HttpScriptAlias) { .url = strdup(w[i]), .url_len = strlen(w[i]), .directory = strdup(w[i + 1]) };
                if (!a->url || !a->directory || source_set(&a->source, file, line) < 0) {
                        for (size_t j = 0; j <= i / 2; j++)
                                script_alias_free(&grown[keep + j]);
                        if (replace)
                                free(grown);
                        return -ENOMEM;
                }
        }
        if (replace) {
                http_script_aliases_done(l);
                l->items = grown;
        }
        l->n = keep + n / 2;
        return 0;
}

static int parse_script_alias(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                              char **ret_error) {
        return http_script_alias_add(field, value, ctx->replace_list, ctx->file, ctx->line, ret_error);
}

static int copy_script_alias(const ConfItem *item, void *dst, const void *src) {
        const HttpScriptAliases *from = src;
        HttpScriptAliases copy = {};

        if (from->n > 0) {
                copy.items = calloc(from->n, sizeof(HttpScriptAlias));
                if (!copy.items)
                        return -ENOMEM;
        }
        for (; copy.n < from->n; copy.n++) {
                const HttpScriptAlias *a = &from->items[copy.n];
                HttpScriptAlias *b = &copy.items[copy.n];

                *b = (HttpScriptAlias) { .url = strdup(a->url), .url_len = a->url_len, .directory = strdup(a->directory) };
                if (!b->url || !b->directory || source_set(&b->source, a->source.file, a->source.line) < 0) {
                        copy.n++;
                        http_script_aliases_done(&copy);
                        return -ENOMEM;
                }
        }
        http_script_aliases_done(dst);
        *(HttpScriptAliases *) dst = copy;
        return 0;
}

static void done_script_alias(const ConfItem *item, void *field) {
        http_script_aliases_done(field);
}

/* "URL DIR URL DIR": where each pair was written does not change what it means. */
static char *format_script_alias(const ConfItem *item, const void *field) {
        const HttpScriptAliases *l = field;
        _cleanup_strv_free_ char **w = NULL;

        if (l->n == 0)
                return strdup("(empty)");
        for (size_t i = 0; i < l->n; i++)
                if (strv_push(&w, l->items[i].url) < 0 || strv_push(&w, l->items[i].directory) < 0)
                        return NULL;
        return words_join(w);
}

static void fcgi_extension_free(HttpFcgiExtension *e) {
        free(e->extension);
        http_upstream_target_done(&e->target);
        *e = (HttpFcgiExtension) {};
}

void http_cgi_handlers_done(HttpCgiHandlers *h) {
        if (!h)
                return;
        h->extensions = strv_free(h->extensions);
        for (size_t i = 0; i < h->n_fcgi; i++)
                fcgi_extension_free(&h->fcgi[i]);
        h->fcgi = mfree(h->fcgi);
        h->n_fcgi = 0;
}

/* An extension named again (by either handler) leaves the list it was in. */
static void cgi_handlers_forget(HttpCgiHandlers *h, const char *ext) {
        for (size_t i = 0; h->extensions && h->extensions[i];)
                if (strcasecmp(h->extensions[i], ext) == 0) {
                        free(h->extensions[i]);
                        memmove(&h->extensions[i], &h->extensions[i + 1],
                                (strv_length(h->extensions + i + 1) + 1) * sizeof(char *));
                } else
                        i++;
        for (size_t i = 0; i < h->n_fcgi;)
                if (strcasecmp(h->fcgi[i].extension, ext) == 0) {
                        fcgi_extension_free(&h->fcgi[i]);
                        memmove(&h->fcgi[i], &h->fcgi[i + 1], (h->n_fcgi - i - 1) * sizeof(HttpFcgiExtension));
                        h->n_fcgi--;
                } else
                        i++;
}

static int cgi_handlers_copy(HttpCgiHandlers *dst, const HttpCgiHandlers *from) {
        HttpCgiHandlers copy = {};

        if (from->extensions) {
                copy.extensions = strv_copy(from->extensions);
                if (!copy.extensions)
                        return -ENOMEM;
        }
        if (from->n_fcgi > 0) {
                copy.fcgi = calloc(from->n_fcgi, sizeof(HttpFcgiExtension));
                if (!copy.fcgi) {
                        http_cgi_handlers_done(&copy);
                        return -ENOMEM;
                }
        }
        for (; copy.n_fcgi < from->n_fcgi; copy.n_fcgi++) {
                HttpFcgiExtension *e = &copy.fcgi[copy.n_fcgi];
                e->extension = strdup(from->fcgi[copy.n_fcgi].extension);
                if (!e->extension || http_upstream_target_copy(&e->target, &from->fcgi[copy.n_fcgi].target) < 0) {
                        free(e->extension);
                        e->extension = NULL;
                        http_cgi_handlers_done(&copy);
                        return -ENOMEM;
                }
        }
        *dst = copy;
        return 0;
}

/* AddHandler HANDLER .EXT…: each line names a handler and its extensions (Apache's syntax;
 * "cgi-script .a cgi-script .b" is the same as "cgi-script .a .b"). HANDLER is cgi-script or
 * proxy:URL, a FastCGI target (fastcgi-config.h). */
int http_cgi_handlers_add(HttpCgiHandlers *h, const char *value, bool replace, char **ret_error) {
        _cleanup_strv_free_ char **w = NULL;
        _cleanup_(http_cgi_handlers_done) HttpCgiHandlers n = {};
        HttpUpstreamTarget target = {};
        bool have_handler = false, have_ext = false, fcgi = false;
        const char *handler = NULL;
        int r;

        *ret_error = NULL;
        r = split_words(value, &w);
        if (r < 0)
                return r;
        if (!replace && cgi_handlers_copy(&n, h) < 0)
                return -ENOMEM;
        STRV_FOREACH(x, w) {
                if ((*x)[0] == '.') {
                        if (!have_handler)
                                r = conf_parse_error(ret_error, "\"%s\" comes before a handler name", *x);
                        else if ((*x)[1] == 0 || strchr(*x + 1, '.') || strchr(*x, '/'))
                                r = conf_parse_error(ret_error, "\"%s\" is not a file extension such as .cgi", *x);
                        if (r < 0)
                                goto fail;
                        cgi_handlers_forget(&n, *x);
                        if (fcgi) {
                                HttpFcgiExtension *grown = reallocarray(n.fcgi, n.n_fcgi + 1, sizeof(*grown));
                                if (!grown)
                                        goto nomem;
                                n.fcgi = grown;
                                HttpFcgiExtension *e = &n.fcgi[n.n_fcgi];
                                *e = (HttpFcgiExtension) { .extension = strdup(*x) };
                                if (!e->extension || http_upstream_target_copy(&e->target, &target) < 0) {
                                        free(e->extension);
                                        goto nomem;
                                }
                                n.n_fcgi++;
                        } else if (strv_push(&n.extensions, *x) < 0)
                                goto nomem;
                        have_ext = true;
                        continue;
                }
                HttpUpstreamTarget next = {};
                bool next_fcgi = strcmp(*x, "cgi-script") != 0;
                if (next_fcgi) {
                        r = http_fcgi_handler_word_parse(*x, &next, ret_error);
                        if (r == 0)
                                r = conf_parse_error(ret_error, "unknown handler \"%s\" (mpmd has cgi-script and "
                                                                "proxy:unix:/PATH|fcgi://NAME or proxy:fcgi://HOST:PORT)", *x);
                        if (r < 0)
                                goto fail;
                }
                if (have_handler && !have_ext) {
                        /* A handler right after a handler: the first has no extension (below). */
                        if (next_fcgi)
                                http_upstream_target_done(&next);
                        break;
                }
                if (fcgi)
                        http_upstream_target_done(&target);
                target = next;
                fcgi = next_fcgi;
                handler = *x;
                have_handler = true;
                have_ext = false;
        }
        if (have_handler && !have_ext) {
                r = conf_parse_error(ret_error, "%s needs at least one extension, such as %s", handler,
                                     fcgi ? ".php" : ".cgi");
                goto fail;
        }
        if (fcgi)
                http_upstream_target_done(&target);
        http_cgi_handlers_done(h);
        *h = n;
        n = (HttpCgiHandlers) {};
        return 0;

nomem:
        r = -ENOMEM;
fail:
        if (fcgi)
                http_upstream_target_done(&target);
        return r;
}

static int parse_add_handler(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                             char **ret_error) {
        return http_cgi_handlers_add(field, value, ctx->replace_list, ret_error);
}

static int copy_add_handler(const ConfItem *item, void *dst, const void *src) {
        HttpCgiHandlers copy;
        int r = cgi_handlers_copy(&copy, src);

        if (r < 0)
                return r;
        http_cgi_handlers_done(dst);
        *(HttpCgiHandlers *) dst = copy;
        return 0;
}

static void done_add_handler(const ConfItem *item, void *field) {
        http_cgi_handlers_done(field);
}

/* "cgi-script .cgi .pl proxy:URL .php": each handler once, with its extensions. */
static char *format_add_handler(const ConfItem *item, const void *field) {
        const HttpCgiHandlers *h = field;
        _cleanup_strv_free_ char **w = NULL;
        bool *done = NULL;

        if ((!h->extensions || !h->extensions[0]) && h->n_fcgi == 0)
                return strdup("(empty)");
        if (h->extensions && h->extensions[0]) {
                if (strv_push(&w, "cgi-script") < 0)
                        return NULL;
                STRV_FOREACH(x, h->extensions)
                        if (strv_push(&w, *x) < 0)
                                return NULL;
        }
        if (h->n_fcgi > 0 && !(done = calloc(h->n_fcgi, sizeof(bool))))
                return NULL;
        for (size_t i = 0; i < h->n_fcgi; i++) {
                _cleanup_free_ char *word = NULL;
                if (done[i])
                        continue;
                if (asprintf(&word, "proxy:%s", h->fcgi[i].target.url) < 0 || strv_push(&w, word) < 0)
                        goto nomem;
                for (size_t j = i; j < h->n_fcgi; j++)
                        if (!done[j] && strcmp(h->fcgi[j].target.url, h->fcgi[i].target.url) == 0) {
                                done[j] = true;
                                if (strv_push(&w, h->fcgi[j].extension) < 0)
                                        goto nomem;
                        }
        }
        free(done);
        return words_join(w);
nomem:
        free(done);
        return NULL;
}

void http_custom_log_done(HttpCustomLog *c) {
        if (!c)
                return;
        free(c->path);
        free(c->format);
        free(c->source.file);
        *c = (HttpCustomLog) {};
}

/* CustomLog PATH FORMAT: an absolute path and a format that compiles, or a nickname (the file is
 * opened, and the format compiled again, when a generation starts: the compiled form belongs to the
 * logs). The format is the rest of the value after the path, as written. */
int http_custom_log_set(HttpCustomLog *c, const char *value, bool replace, const char *file, unsigned line,
                        char **ret_error) {
        const char *p = value + strspn(value, WORD_SPACE), *f;
        size_t path_len = strcspn(p, WORD_SPACE), format_len;
        _cleanup_free_ char *path = NULL, *format = NULL;
        HttpCustomLog n = {};
        AccessLogFormat *compiled = NULL;
        int r;

        *ret_error = NULL;
        if (path_len == 0) {
                if (replace)
                        http_custom_log_done(c); /* an empty value: the site does not log */
                return 0;
        }
        if (!replace && c->path)
                return conf_parse_error(ret_error, "a site has one access log, given already at %s:%u", source_file(&c->source),
                              c->source.line);
        f = p + path_len;
        f += strspn(f, WORD_SPACE);
        format_len = strlen(f);
        while (format_len > 0 && strchr(WORD_SPACE, f[format_len - 1]))
                format_len--;
        if (format_len == 0)
                return conf_parse_error(ret_error, "needs a path and a format");
        if (p[0] != '/')
                return conf_parse_error(ret_error, "\"%.*s\" is not an absolute path", (int) path_len, p);
        path = strndup(p, path_len);
        format = strndup(f, format_len);
        if (!path || !format)
                return -ENOMEM;
        /* One word without a '%' is a nickname, which a LogFormat line may define anywhere in the
         * files: the loader resolves it once they are read (Apache's nicknames otherwise). */
        if (strchr(format, '%') || strcspn(format, WORD_SPACE) != format_len) {
                r = access_log_format_compile(format, &compiled, ret_error);
                access_log_format_free(compiled);
                if (r < 0)
                        return r;
        }
        n = (HttpCustomLog) { .path = TAKE_PTR(path), .format = TAKE_PTR(format) };
        if (source_set(&n.source, file, line) < 0) {
                http_custom_log_done(&n);
                return -ENOMEM;
        }
        http_custom_log_done(c);
        *c = n;
        return 0;
}

static int parse_custom_log(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                            char **ret_error) {
        return http_custom_log_set(field, value, ctx->replace_list, ctx->file, ctx->line, ret_error);
}

static int copy_custom_log(const ConfItem *item, void *dst, const void *src) {
        const HttpCustomLog *from = src;
        HttpCustomLog copy = {};

        if (from->path) {
                copy = (HttpCustomLog) { .path = strdup(from->path), .format = strdup(from->format) };
                if (!copy.path || !copy.format || source_set(&copy.source, from->source.file, from->source.line) < 0) {
                        http_custom_log_done(&copy);
                        return -ENOMEM;
                }
        }
        http_custom_log_done(dst);
        *(HttpCustomLog *) dst = copy;
        return 0;
}

static void done_custom_log(const ConfItem *item, void *field) {
        http_custom_log_done(field);
}

static char *format_custom_log(const ConfItem *item, const void *field) {
        const HttpCustomLog *c = field;
        char *s;

        if (!c->path)
                return strdup("(empty)");
        return asprintf(&s, "%s %s", c->path, c->format) < 0 ? NULL : s;
}

/* ---- the table ---------------------------------------------------------------------------- */

static const char *const server_tokens_names[] = { "Prod", "Full", NULL };

#define SITE(field) offsetof(HttpSiteConfig, field)

const ConfItem http_site_directives[] = {
        { "ServerName", CONF_STRING, SITE(server_name), NULL, .expect = "a host name" },
        { "ServerAlias", CONF_STRV, SITE(server_alias), NULL, .expect = "host names, *.wildcards allowed" },
        { "DocumentRoot", CONF_PATH, SITE(document_root), NULL, .expect = "an absolute path to a directory" },
        { "DirectoryIndex", CONF_STRV, SITE(directory_index), "index.html", .flags = CONF_LIST_REPLACE,
          .expect = "file names", .contexts = HTTP_SITE_CTX_PATH },
        { "DirectorySlash", CONF_BOOL, SITE(directory_slash), "On", .expect = "On or Off",
          .contexts = HTTP_SITE_CTX_PATH },
        { "DefaultType", CONF_STRING, SITE(default_type), "application/octet-stream", .expect = "a media type",
          .contexts = HTTP_SITE_CTX_PATH },
        { "AddType", CONF_LINES, SITE(add_type), NULL, .flags = CONF_LIST_APPEND_INHERITED,
          .expect = "a media type and extensions" },
        { "CustomLog", CONF_CUSTOM, SITE(custom_log), NULL, .flags = CONF_LIST | CONF_LIST_REPLACE,
          .parse = parse_custom_log, .format = format_custom_log, .copy = copy_custom_log, .done = done_custom_log,
          .size = sizeof(HttpCustomLog), .expect = "a path and a format (common, combined, vhost_combined or a %-format)" },
        { "ErrorLog", CONF_STRING, SITE(error_log), "stderr", .expect = "stderr or an absolute path" },
        { "KeepAlive", CONF_BOOL, SITE(keep_alive), "On", .expect = "On or Off" },
        { "KeepAliveTimeout", CONF_USEC, SITE(keep_alive_timeout), "5", 1 * USEC_PER_MSEC, 3600 * USEC_PER_SEC,
          .expect = "a time from 1ms to 3600 s" },
        { "MaxKeepAliveRequests", CONF_UINT, SITE(max_keep_alive_requests), "100", 0, 1000000,
          .expect = "a number from 0 (unlimited) to 1000000" },
        { "TimeOut", CONF_USEC, SITE(timeout), "60", 1 * USEC_PER_SEC, 3600 * USEC_PER_SEC,
          .expect = "a time from 1 to 3600 s" },
        { "MinSendRate", CONF_UINT, SITE(min_send_rate), "500", 0, 1u << 30,
          .expect = "bytes per second the client must take a response at, 0 for no minimum" },
        { "RequestReadTimeout", CONF_CUSTOM, SITE(read_timeout), HTTP_READ_TIMEOUT_DEFAULT, .parse = parse_read_timeout,
          .format = format_read_timeout, .size = sizeof(HttpReadTimeout),
          .expect = "header=N[-M][,MinRate=R] body=N[-M][,MinRate=R] (seconds; 0 turns a stage off)" },
        { "LimitRequestLine", CONF_UINT, SITE(limit_request_line), "8190", 64, 65536,
          .expect = "a number of bytes from 64 to 65536" },
        { "LimitRequestFieldSize", CONF_UINT, SITE(limit_request_field_size), "8190", 64, 65536,
          .expect = "a number of bytes from 64 to 65536" },
        { "LimitRequestFields", CONF_UINT, SITE(limit_request_fields), "100", 1, 32767,
          .expect = "a number from 1 to 32767" },
        { "LimitRequestBody", CONF_SIZE, SITE(limit_request_body), "1G", 0, UINT64_C(1) << 62,
          .expect = "a size in bytes (K, M, G suffixes), 0 for unlimited" },
        { "MaxRanges", CONF_UINT, SITE(max_ranges), "200", 0, 10000, .expect = "a number from 0 to 10000" },
        { "ServerTokens", CONF_ENUM, SITE(server_tokens), "Prod", .names = server_tokens_names,
          .expect = "Prod or Full" },
        { "TraceEnable", CONF_BOOL, SITE(trace_enable), "Off", .expect = "On or Off" },
        { "ServerStatus", CONF_STRING, SITE(server_status), NULL, .expect = "a path such as /server-status" },
        { "ServerStatusAllow", CONF_STRV, SITE(server_status_allow), "127.0.0.0/8 ::1", .flags = CONF_LIST_REPLACE,
          .expect = "addresses or networks (ADDR/BITS)" },
        { "ScriptAlias", CONF_CUSTOM, SITE(script_alias), NULL, .flags = CONF_LIST, .parse = parse_script_alias,
          .format = format_script_alias, .copy = copy_script_alias, .done = done_script_alias,
          .size = sizeof(HttpScriptAliases), .expect = "a URL path starting and ending with '/' and an absolute directory" },
        { "AddHandler", CONF_CUSTOM, SITE(add_handler), NULL, .flags = CONF_LIST, .parse = parse_add_handler,
          .format = format_add_handler, .copy = copy_add_handler, .done = done_add_handler,
          .size = sizeof(HttpCgiHandlers),
          .expect = "cgi-script or \"proxy:unix:/PATH|fcgi://NAME\" (or proxy:fcgi://HOST:PORT), then file extensions "
                    "such as .cgi or .php" },
        HTTP_FCGI_ROWS(SITE(set_handler)),
        { "CGITimeout", CONF_USEC, SITE(cgi_timeout), "60", 1 * USEC_PER_SEC, 86400 * USEC_PER_SEC,
          .expect = "a time from 1 s to 86400 s" },
        { "CGIPassAuth", CONF_BOOL, SITE(cgi_pass_auth), "Off", .expect = "On or Off", .contexts = HTTP_SITE_CTX_PATH },
        HTTP_TLS_ROWS(SITE(tls)),
        HTTP_HEADERS_ROWS(SITE(headers), HTTP_SITE_CTX_PATH),
        HTTP_ERROR_DOCUMENT_ROWS(SITE(error_documents), HTTP_SITE_CTX_PATH),
        HTTP_REMOTE_IP_ROWS(SITE(remote_ip)),
        HTTP_MAPPING_ROWS(SITE(mapping)),
        HTTP_ACCESS_ROWS(SITE(access)),
        HTTP_FILES_ROWS(SITE(files)),
        HTTP_PROXY_ROWS(SITE(proxy)),
        CONF_TABLE_END,
};

bool http_location_matches(const char *prefix, size_t prefix_len, const char *path, size_t path_len) {
        if (prefix_len == 0 || path_len < prefix_len || memcmp(prefix, path, prefix_len) != 0)
                return false;
        return prefix[prefix_len - 1] == '/' || path_len == prefix_len || path[prefix_len] == '/';
}

const HttpSiteConfig *http_site_config_at_path(const HttpSiteConfig *site, const char *path, size_t path_len) {
        for (size_t i = 0; i < site->locations.n; i++) {
                const HttpLocation *loc = &site->locations.items[i];
                if (http_location_matches(loc->prefix, loc->prefix_len, path, path_len))
                        return loc->cfg;
        }
        return site;
}
