/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/date.h"
#include "http/headers.h"
#include "http/http-chars.h"

/* ---- parsing ------------------------------------------------------------------------------ */

static const char *const action_names[_HTTP_HEADER_ACTION_MAX] = {
        [HTTP_HEADER_SET] = "set",     [HTTP_HEADER_APPEND] = "append",         [HTTP_HEADER_ADD] = "add",
        [HTTP_HEADER_MERGE] = "merge", [HTTP_HEADER_SETIFEMPTY] = "setifempty", [HTTP_HEADER_UNSET] = "unset",
};

/* What the connection writes itself, or what would break the framing: a Header line that named
 * them would either be overwritten or corrupt the response. Server is ServerTokens' business. */
static const char *const owned_fields[] = {
        "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Date", "Server", "Upgrade", "Trailer",
};

static const char *skip_ws(const char *p) {
        return p + strspn(p, " \t");
}

static size_t word_len(const char *p) {
        return strcspn(p, " \t");
}

static bool word_is(const char *p, size_t n, const char *w) {
        return n == strlen(w) && strncasecmp(p, w, n) == 0;
}

/* The value as written: the rest of the line, or a quoted string. *ret malloc'd. */
static int parse_value(const char *s, char **ret, size_t *ret_len, char **ret_error) {
        size_t n = strlen(s);
        char *v, *o;

        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
        v = malloc(n + 1);
        if (!v)
                return -ENOMEM;
        if (s[0] != '"') {
                memcpy(v, s, n);
                o = v + n;
        } else {
                const char *p = s + 1;

                o = v;
                for (;;) {
                        if (*p == '\0') {
                                free(v);
                                return conf_parse_error(ret_error, "the value's closing quote is missing (a ';' after "
                                                                   "a space starts a comment: write \"a; b\")");
                        }
                        if (*p == '"')
                                break;
                        if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                                p++;
                        *o++ = *p++;
                }
                if (*skip_ws(p + 1) != '\0') {
                        free(v);
                        return conf_parse_error(ret_error,
                                                "text after the value's closing quote: %s "
                                                "(conditions such as env= or expr= are not supported)",
                                                skip_ws(p + 1));
                }
        }
        *o = '\0';
        for (const unsigned char *c = (const unsigned char *) v; *c; c++)
                if ((*c < 0x20 && *c != '\t') || *c == 0x7f) {
                        unsigned char bad = *c;

                        free(v);
                        return conf_parse_error(ret_error, "the value contains a control character (0x%02x)", bad);
                }
        *ret = v;
        *ret_len = (size_t) (o - v);
        return 0;
}

int http_header_edit_parse(const char *s, HttpHeaderEdit *ret, char **ret_error) {
        HttpHeaderEdit e = {.action = _HTTP_HEADER_ACTION_MAX};
        const char *p = skip_ws(s);
        size_t n = word_len(p);
        int r;

        if (word_is(p, n, "always") || word_is(p, n, "onsuccess")) {
                e.always = n == strlen("always");
                p = skip_ws(p + n);
                n = word_len(p);
        }
        for (int a = 0; a < _HTTP_HEADER_ACTION_MAX; a++)
                if (word_is(p, n, action_names[a]))
                        e.action = (HttpHeaderAction) a;
        if (e.action == _HTTP_HEADER_ACTION_MAX)
                return conf_parse_error(
                        ret_error, "expected set, append, add, merge, setifempty or unset, got \"%.*s\"", (int) n, p);
        p = skip_ws(p + n);
        n = word_len(p);
        if (n == 0)
                return conf_parse_error(ret_error, "a header name is missing after %s", action_names[e.action]);
        for (size_t i = 0; i < n; i++)
                if (!char_is_tchar((unsigned char) p[i]))
                        return conf_parse_error(ret_error,
                                                "\"%.*s\" is not a header name (letters, digits and "
                                                "!#$%%&'*+-.^_`|~ only)",
                                                (int) n, p);
        for (size_t i = 0; i < ELEMENTSOF(owned_fields); i++)
                if (word_is(p, n, owned_fields[i]))
                        return conf_parse_error(ret_error, "%s is written by the server itself and cannot be %s",
                                                owned_fields[i], e.action == HTTP_HEADER_UNSET ? "unset" : "set");
        e.name = strndup(p, n);
        if (!e.name)
                return -ENOMEM;
        e.name_len = n;
        p = skip_ws(p + n);
        if (e.action == HTTP_HEADER_UNSET) {
                if (*p != '\0') {
                        r = conf_parse_error(ret_error, "unset takes no value, got \"%s\"", p);
                        goto fail;
                }
        } else {
                if (*p == '\0') {
                        r = conf_parse_error(ret_error, "%s %s needs a value", action_names[e.action], e.name);
                        goto fail;
                }
                r = parse_value(p, &e.value, &e.value_len, ret_error);
                if (r < 0)
                        goto fail;
        }
        *ret = e;
        return 0;
fail:
        free(e.name);
        return r;
}

void http_header_edit_done(HttpHeaderEdit *e) {
        if (!e)
                return;
        free(e->name);
        free(e->value);
        *e = (HttpHeaderEdit){};
}

typedef struct ExpiryUnit {
        const char *name; /* singular; the plural adds an 's' */
        uint64_t seconds;
} ExpiryUnit;

static const ExpiryUnit expiry_units[] = {
        {"year", 365 * 86400}, {"month", 30 * 86400}, {"week", 7 * 86400}, {"day", 86400},
        {"hour", 3600},        {"minute", 60},        {"second", 1},
};

int http_expiry_parse(const char *s, HttpExpiry *ret, char **ret_error) {
        HttpExpiry x = {.set = true};
        _cleanup_free_ char *copy = NULL;
        char *p;
        size_t n = strlen(s);
        uint64_t v;

        s = skip_ws(s);
        n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
        if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
                s++;
                n -= 2;
        }
        copy = strndup(s, n);
        if (!copy)
                return -ENOMEM;
        p = copy;

        /* Apache's short form: A or M and seconds. */
        if ((p[0] == 'A' || p[0] == 'M') && p[1] >= '0' && p[1] <= '9') {
                if (parse_uint64(p + 1, &v) < 0 || v > UINT32_MAX)
                        return conf_parse_error(ret_error, "expected A or M and a number of seconds, got \"%s\"", p);
                *ret = (HttpExpiry){.set = true, .modification = p[0] == 'M', .seconds = v};
                return 0;
        }

        const char *w = skip_ws(p);
        size_t k = word_len(w);
        if (word_is(w, k, "access") || word_is(w, k, "now"))
                x.modification = false;
        else if (word_is(w, k, "modification"))
                x.modification = true;
        else
                return conf_parse_error(ret_error, "expected access, now or modification first, got \"%s\"", s);
        w = skip_ws(w + k);
        k = word_len(w);
        if (word_is(w, k, "plus")) {
                w = skip_ws(w + k);
                k = word_len(w);
        }
        if (k == 0)
                return conf_parse_error(ret_error, "expected a number and a unit (such as \"1 month\"), got \"%s\"", s);
        while (k > 0) {
                char num[24];
                const ExpiryUnit *unit = NULL;

                if (k >= sizeof(num))
                        return conf_parse_error(ret_error, "\"%.*s\" is not a number", (int) k, w);
                memcpy(num, w, k);
                num[k] = '\0';
                if (parse_uint64(num, &v) < 0)
                        return conf_parse_error(ret_error, "expected a number, got \"%s\"", num);
                w = skip_ws(w + k);
                k = word_len(w);
                for (size_t i = 0; i < ELEMENTSOF(expiry_units); i++) {
                        size_t un = strlen(expiry_units[i].name);
                        if ((k == un || (k == un + 1 && (w[un] == 's' || w[un] == 'S'))) &&
                            strncasecmp(w, expiry_units[i].name, un) == 0)
                                unit = &expiry_units[i];
                }
                if (!unit)
                        return conf_parse_error(ret_error,
                                                "expected a unit (years, months, weeks, days, hours, "
                                                "minutes, seconds) after %s, got \"%.*s\"",
                                                num, (int) k, w);
                if (v > UINT32_MAX / unit->seconds || x.seconds + v * unit->seconds > UINT32_MAX)
                        return conf_parse_error(ret_error, "more than %u seconds", UINT32_MAX);
                x.seconds += v * unit->seconds;
                w = skip_ws(w + k);
                k = word_len(w);
        }
        *ret = x;
        return 0;
}

/* ---- the rows ----------------------------------------------------------------------------- */

static void edits_done(HttpHeaderEdits *l) {
        for (size_t i = 0; i < l->n; i++)
                http_header_edit_done(&l->items[i]);
        free(l->items);
        *l = (HttpHeaderEdits){};
}

static int edit_copy(HttpHeaderEdit *dst, const HttpHeaderEdit *src) {
        *dst = *src;
        dst->name = strdup(src->name);
        dst->value = src->value ? strdup(src->value) : NULL;
        if (!dst->name || (src->value && !dst->value)) {
                http_header_edit_done(dst);
                return -ENOMEM;
        }
        return 0;
}

/* The edits of a then of b, deep-copied, into *ret. */
static int edits_concat(const HttpHeaderEdits *a, const HttpHeaderEdits *b, HttpHeaderEdits *ret) {
        HttpHeaderEdits c = {};
        size_t n = a->n + b->n;

        if (n > 0) {
                c.items = calloc(n, sizeof(HttpHeaderEdit));
                if (!c.items)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                if (edit_copy(&c.items[i], i < a->n ? &a->items[i] : &b->items[i - a->n]) < 0) {
                        edits_done(&c);
                        return -ENOMEM;
                }
                c.n++;
        }
        *ret = c;
        return 0;
}

int http_headers_parse_header(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                              char **ret_error) {
        HttpHeaderEdits *l = field;
        HttpHeaderEdit e, *grown;
        int r;

        r = http_header_edit_parse(value, &e, ret_error);
        if (r < 0)
                return r;
        if (ctx->replace_list)
                edits_done(l);
        grown = reallocarray(l->items, l->n + 1, sizeof(HttpHeaderEdit));
        if (!grown) {
                http_header_edit_done(&e);
                return -ENOMEM;
        }
        l->items = grown;
        l->items[l->n++] = e;
        return 0;
}

/* Quoted so that the text reads back as the same line. */
static void put_quoted(FILE *f, const char *v) {
        fputc('"', f);
        for (; *v; v++) {
                if (*v == '"' || *v == '\\')
                        fputc('\\', f);
                fputc(*v, f);
        }
        fputc('"', f);
}

char *http_headers_format_header(const ConfItem *item, const void *field) {
        const HttpHeaderEdits *l = field;
        char *s = NULL;
        size_t n = 0;
        FILE *f;

        if (l->n == 0)
                return strdup("(empty)");
        f = open_memstream(&s, &n);
        if (!f)
                return NULL;
        for (size_t i = 0; i < l->n; i++) {
                const HttpHeaderEdit *e = &l->items[i];

                fprintf(f, "%s%s%s %s", i > 0 ? "; " : "", e->always ? "always " : "", action_names[e->action],
                        e->name);
                if (e->value) {
                        fputc(' ', f);
                        put_quoted(f, e->value);
                }
        }
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}

int http_headers_copy_header(const ConfItem *item, void *dst, const void *src) {
        HttpHeaderEdits copy;
        static const HttpHeaderEdits none = {};

        if (edits_concat(src, &none, &copy) < 0)
                return -ENOMEM;
        edits_done(dst);
        *(HttpHeaderEdits *) dst = copy;
        return 0;
}

void http_headers_done_header(const ConfItem *item, void *field) {
        edits_done(field);
}

int http_headers_merge_header(const ConfItem *item, void *field, const void *parent) {
        HttpHeaderEdits merged;

        /* Apache's mod_headers: the enclosing section's lines, then this one's. */
        if (edits_concat(parent, field, &merged) < 0)
                return -ENOMEM;
        edits_done(field);
        *(HttpHeaderEdits *) field = merged;
        return 0;
}

int http_headers_parse_expiry(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                              char **ret_error) {
        HttpExpiry x;
        int r = http_expiry_parse(value, &x, ret_error);

        if (r < 0)
                return r;
        memcpy(field, &x, sizeof(x));
        return 0;
}

static char *format_expiry(const HttpExpiry *x) {
        char *s;

        if (!x->set)
                return strdup("(unset)");
        return asprintf(&s, "%s plus %llu seconds", x->modification ? "modification" : "access",
                        (unsigned long long) x->seconds) < 0
                       ? NULL
                       : s;
}

char *http_headers_format_expiry(const ConfItem *item, const void *field) {
        HttpExpiry x;

        memcpy(&x, field, sizeof(x));
        return format_expiry(&x);
}

static void by_type_done(HttpExpiresByType *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->items[i].type);
        free(l->items);
        *l = (HttpExpiresByType){};
}

static HttpExpiresType *by_type_find(const HttpExpiresByType *l, const char *type, size_t type_len) {
        for (size_t i = 0; i < l->n; i++)
                if (strlen(l->items[i].type) == type_len && strncasecmp(l->items[i].type, type, type_len) == 0)
                        return &l->items[i];
        return NULL;
}

static int by_type_add(HttpExpiresByType *l, const char *type, const HttpExpiry *x) {
        HttpExpiresType *t = by_type_find(l, type, strlen(type)), *grown;

        if (t) {
                t->expiry = *x;
                return 0;
        }
        grown = reallocarray(l->items, l->n + 1, sizeof(HttpExpiresType));
        if (!grown)
                return -ENOMEM;
        l->items = grown;
        l->items[l->n] = (HttpExpiresType){.type = strdup(type), .expiry = *x};
        if (!l->items[l->n].type)
                return -ENOMEM;
        l->n++;
        return 0;
}

int http_headers_parse_by_type(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                               char **ret_error) {
        HttpExpiresByType *l = field;
        const char *p = skip_ws(value), *slash;
        size_t n = word_len(p);
        char type[128];
        HttpExpiry x;
        int r;

        slash = memchr(p, '/', n);
        if (n == 0 || n >= sizeof(type) || !slash || slash == p || slash + 1 == p + n)
                return conf_parse_error(ret_error, "expected a media type such as text/html or image/*, got \"%.*s\"",
                                        (int) n, p);
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) p[i];
                if (!char_is_tchar(c) && c != '/')
                        return conf_parse_error(ret_error, "\"%.*s\" is not a media type", (int) n, p);
                type[i] = (char) (c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        type[n] = '\0';
        if (strchr(type, '*') && strcmp(strchr(type, '/'), "/*") != 0)
                return conf_parse_error(ret_error, "a wildcard is only allowed as the whole subtype (image/*)");
        r = http_expiry_parse(p + n, &x, ret_error);
        if (r < 0)
                return r;
        if (ctx->replace_list)
                by_type_done(l);
        return by_type_add(l, type, &x);
}

char *http_headers_format_by_type(const ConfItem *item, const void *field) {
        const HttpExpiresByType *l = field;
        char *s = NULL;
        size_t n = 0;
        FILE *f;

        if (l->n == 0)
                return strdup("(empty)");
        f = open_memstream(&s, &n);
        if (!f)
                return NULL;
        for (size_t i = 0; i < l->n; i++) {
                _cleanup_free_ char *x = format_expiry(&l->items[i].expiry);
                fprintf(f, "%s%s \"%s\"", i > 0 ? "; " : "", l->items[i].type, x ? x : "?");
        }
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}

static int by_type_merge_into(HttpExpiresByType *dst, const HttpExpiresByType *a, const HttpExpiresByType *b) {
        for (size_t i = 0; i < a->n; i++)
                if (by_type_add(dst, a->items[i].type, &a->items[i].expiry) < 0)
                        return -ENOMEM;
        for (size_t i = 0; i < b->n; i++)
                if (by_type_add(dst, b->items[i].type, &b->items[i].expiry) < 0)
                        return -ENOMEM;
        return 0;
}

int http_headers_copy_by_type(const ConfItem *item, void *dst, const void *src) {
        static const HttpExpiresByType none = {};
        HttpExpiresByType copy = {};

        if (by_type_merge_into(&copy, src, &none) < 0) {
                by_type_done(&copy);
                return -ENOMEM;
        }
        by_type_done(dst);
        *(HttpExpiresByType *) dst = copy;
        return 0;
}

void http_headers_done_by_type(const ConfItem *item, void *field) {
        by_type_done(field);
}

int http_headers_merge_by_type(const ConfItem *item, void *field, const void *parent) {
        HttpExpiresByType merged = {};

        /* The enclosing section's types, each replaced by this section's line for it, if any. */
        if (by_type_merge_into(&merged, parent, field) < 0) {
                by_type_done(&merged);
                return -ENOMEM;
        }
        by_type_done(field);
        *(HttpExpiresByType *) field = merged;
        return 0;
}

/* ---- applying ----------------------------------------------------------------------------- */

typedef struct Lines {
        char *buf;
        size_t len, size;
} Lines;

/* Every line of a header block ends with CRLF (the handlers' and the exchange's writers make them
 * so), and no value holds a bare LF (refused at load and by the CGI head parser): the LF ends it.
 * memchr, because this runs for every line of every response that has Header or Expires lines. */
static size_t line_end(const Lines *l, size_t p) {
        const char *e = memchr(l->buf + p, '\n', l->len - p);
        return e ? (size_t) (e - l->buf) + 1 : l->len;
}

/* The first line of name at or after from; SIZE_MAX when none. *ret_end: just after its CRLF. */
static size_t lines_find(const Lines *l, size_t from, const char *name, size_t name_len, size_t *ret_end) {
        for (size_t p = from; p < l->len;) {
                size_t end = line_end(l, p);
                if (end - p > name_len && l->buf[p + name_len] == ':' && strncasecmp(l->buf + p, name, name_len) == 0) {
                        *ret_end = end;
                        return p;
                }
                p = end;
        }
        return SIZE_MAX;
}

/* A line's value: after the colon and whitespace, before trailing whitespace and the CRLF. */
static const char *line_value(const Lines *l, size_t p, size_t end, size_t name_len, size_t *ret_len) {
        const char *v = l->buf + p + name_len + 1, *e = l->buf + end;

        if (e - v >= 2 && e[-2] == '\r' && e[-1] == '\n')
                e -= 2;
        while (v < e && char_is_ws((unsigned char) *v))
                v++;
        while (e > v && char_is_ws((unsigned char) e[-1]))
                e--;
        *ret_len = (size_t) (e - v);
        return v;
}

static int lines_insert(Lines *l, size_t at, const char *const *parts, const size_t *lens, size_t n_parts) {
        size_t n = 0;

        for (size_t i = 0; i < n_parts; i++)
                n += lens[i];
        if (n > l->size - l->len)
                return -ENOBUFS;
        memmove(l->buf + at + n, l->buf + at, l->len - at);
        for (size_t i = 0; i < n_parts; i++) {
                memcpy(l->buf + at, parts[i], lens[i]);
                at += lens[i];
        }
        l->len += n;
        return 0;
}

static int lines_add(Lines *l, const char *name, size_t name_len, const char *value, size_t value_len) {
        const char *parts[] = {name, ": ", value, "\r\n"};
        const size_t lens[] = {name_len, 2, value_len, 2};

        return lines_insert(l, l->len, parts, lens, ELEMENTSOF(parts));
}

/* ", value" at the end of the line p..end. */
static int lines_extend(Lines *l, size_t p, size_t end, size_t name_len, const char *value, size_t value_len) {
        size_t vlen, at;
        const char *v = line_value(l, p, end, name_len, &vlen);
        const char *parts[] = {", ", value};
        const size_t lens[] = {2, value_len};

        at = (size_t) (v - l->buf) + vlen;
        if (vlen == 0) /* an empty value takes the new one alone */
                return lines_insert(l, at, parts + 1, lens + 1, 1);
        return lines_insert(l, at, parts, lens, 2);
}

static void lines_remove(Lines *l, const char *name, size_t name_len) {
        size_t end, p = 0;

        while ((p = lines_find(l, p, name, name_len, &end)) != SIZE_MAX) {
                memmove(l->buf + p, l->buf + end, l->len - end);
                l->len -= end - p;
        }
}

/* Is value one of the comma-separated elements of list? */
static bool list_contains(const char *list, size_t list_len, const char *value, size_t value_len) {
        const char *p = list, *e = list + list_len;

        while (p <= e) {
                const char *c = memchr(p, ',', (size_t) (e - p));
                const char *q = c ? c : e, *s = p;

                while (s < q && char_is_ws((unsigned char) *s))
                        s++;
                while (q > s && char_is_ws((unsigned char) q[-1]))
                        q--;
                if ((size_t) (q - s) == value_len && memcmp(s, value, value_len) == 0)
                        return true;
                if (!c)
                        break;
                p = c + 1;
        }
        return false;
}

static int edit_apply(Lines *l, const HttpHeaderEdit *e) {
        size_t end, p = lines_find(l, 0, e->name, e->name_len, &end), vlen;
        const char *v;

        switch (e->action) {
        case HTTP_HEADER_SET:
                lines_remove(l, e->name, e->name_len);
                return lines_add(l, e->name, e->name_len, e->value, e->value_len);
        case HTTP_HEADER_ADD:
                return lines_add(l, e->name, e->name_len, e->value, e->value_len);
        case HTTP_HEADER_SETIFEMPTY:
                return p == SIZE_MAX ? lines_add(l, e->name, e->name_len, e->value, e->value_len) : 0;
        case HTTP_HEADER_UNSET:
                lines_remove(l, e->name, e->name_len);
                return 0;
        case HTTP_HEADER_MERGE:
                for (size_t q = p; q != SIZE_MAX; q = lines_find(l, end, e->name, e->name_len, &end)) {
                        v = line_value(l, q, end, e->name_len, &vlen);
                        if (list_contains(v, vlen, e->value, e->value_len))
                                return 0;
                }
                if (p == SIZE_MAX)
                        return lines_add(l, e->name, e->name_len, e->value, e->value_len);
                (void) lines_find(l, p, e->name, e->name_len, &end);
                return lines_extend(l, p, end, e->name_len, e->value, e->value_len);
        case HTTP_HEADER_APPEND:
                if (p == SIZE_MAX)
                        return lines_add(l, e->name, e->name_len, e->value, e->value_len);
                return lines_extend(l, p, end, e->name_len, e->value, e->value_len);
        default:
                return 0;
        }
}

size_t http_headers_growth_max(const HttpHeadersConfig *h) {
        size_t n = 0;

        for (size_t i = 0; i < h->header.n; i++)
                n += h->header.items[i].name_len + h->header.items[i].value_len + 4;
        /* "Expires: " a date CRLF, and ", max-age=" a number (or a line of its own) */
        return n + (h->expires_active ? 128 : 0);
}

static const HttpExpiry *expiry_for(const HttpHeadersConfig *h, const char *type, size_t type_len) {
        const HttpExpiresType *t;
        const char *slash;
        char major[128];

        if (type_len > 0) {
                t = by_type_find(&h->expires_type, type, type_len);
                if (t)
                        return &t->expiry;
                slash = memchr(type, '/', type_len);
                if (slash && (size_t) (slash - type) + 3 <= sizeof(major)) {
                        size_t n = (size_t) (slash - type) + 1;
                        memcpy(major, type, n);
                        memcpy(major + n, "*", 2);
                        t = by_type_find(&h->expires_type, major, n + 1);
                        if (t)
                                return &t->expiry;
                }
        }
        return h->expires_default.set ? &h->expires_default : NULL;
}

/* "max-age=N" into buf (32 bytes), without printf: it is on every response of an expiring type. */
static size_t max_age_format(char buf[static 32], uint64_t seconds) {
        char digits[24];
        size_t n = 0;

        do
                digits[n++] = (char) ('0' + seconds % 10);
        while ((seconds /= 10) > 0);
        memcpy(buf, "max-age=", 8);
        for (size_t i = 0; i < n; i++)
                buf[8 + i] = digits[n - 1 - i];
        buf[8 + n] = '\0';
        return 8 + n;
}

/* mod_expires: on a response that is not an error and has no Expires yet, the expiry for its media
 * type (else the default) as Expires and as max-age merged into Cache-Control. */
static int expires_apply(const HttpHeadersConfig *h, int status, time_t now, const char *media_type, Lines *l) {
        size_t end, p, type_len = 0, n;
        const char *type;
        const HttpExpiry *x;
        time_t base = now, expires;
        char date[32], age[32];

        /* Apache inserts its filter for a response the handler serves (200, and the 304 the same
         * request becomes); an error or a redirect the server answers itself gets none. */
        if (!h->expires_active || !((status >= 200 && status < 300) || status == 304))
                return 0;
        if (lines_find(l, 0, "Expires", 7, &end) != SIZE_MAX)
                return 0;
        type = http_header_lines_get(l->buf, l->len, "Content-Type", 12, &type_len);
        if (!type && media_type) {
                type = media_type;
                type_len = strlen(media_type);
        }
        if (type) {
                const char *semi = memchr(type, ';', type_len);
                if (semi)
                        type_len = (size_t) (semi - type);
                while (type_len > 0 && char_is_ws((unsigned char) type[type_len - 1]))
                        type_len--;
        }
        x = expiry_for(h, type, type ? type_len : 0);
        if (!x)
                return 0;
        if (x->modification) {
                size_t vlen;
                const char *v = http_header_lines_get(l->buf, l->len, "Last-Modified", 13, &vlen);
                /* No modification time: nothing to count from (Apache says nothing either). */
                if (!v || http_date_parse(v, vlen, &base) < 0)
                        return 0;
        }
        expires = base + (time_t) x->seconds;
        /* The same second's date for every response of it: formatted once per thread. */
        static _Thread_local time_t cached_expires = -1;
        static _Thread_local char cached_date[32];
        if (expires != cached_expires) {
                if (http_date_format(expires, cached_date) < 0)
                        return 0;
                cached_expires = expires;
        }
        memcpy(date, cached_date, sizeof(date));
        n = max_age_format(age, expires > now ? (uint64_t) (expires - now) : 0);
        p = lines_find(l, 0, "Cache-Control", 13, &end);
        int r = p == SIZE_MAX ? lines_add(l, "Cache-Control", 13, age, n) : lines_extend(l, p, end, 13, age, n);
        if (r < 0)
                return r;
        return lines_add(l, "Expires", 7, date, HTTP_DATE_LEN);
}

int http_headers_apply(const HttpHeadersConfig *h, int status, bool error, time_t now, const char *media_type,
                       char *buf, size_t *len, size_t size) {
        Lines l = {.buf = buf, .len = *len, .size = size};
        int r;

        r = expires_apply(h, status, now, media_type, &l);
        for (size_t i = 0; r >= 0 && i < h->header.n; i++)
                if (h->header.items[i].always || !error)
                        r = edit_apply(&l, &h->header.items[i]);
        *len = l.len;
        return r;
}

void http_header_lines_remove(char *buf, size_t *len, const char *name, size_t name_len) {
        Lines l = {.buf = buf, .len = *len, .size = *len};

        lines_remove(&l, name, name_len);
        *len = l.len;
}

const char *http_header_lines_get(const char *buf, size_t len, const char *name, size_t name_len, size_t *ret_len) {
        Lines l = {.buf = (char *) buf, .len = len, .size = len};
        size_t end, p = lines_find(&l, 0, name, name_len, &end);

        if (p == SIZE_MAX)
                return NULL;
        return line_value(&l, p, end, name_len, ret_len);
}
