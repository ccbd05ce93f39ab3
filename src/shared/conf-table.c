/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shared/conf-table.h"

#define KIB UINT64_C(1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)
#define USEC_PER_MINUTE (60 * USEC_PER_SEC)

/* ---- errors ------------------------------------------------------------------------------- */

void conf_errors_addv(ConfErrors *e, const char *file, unsigned line, const char *fmt, va_list ap) {
        _cleanup_free_ char *what = NULL;
        char *msg = NULL, **grown;
        int r;

        if (!e)
                return;
        if (vasprintf(&what, fmt, ap) < 0)
                return;
        if (!file)
                msg = TAKE_PTR(what);
        else {
                if (line == 0)
                        r = asprintf(&msg, "%s: %s", file, what);
                else
                        r = asprintf(&msg, "%s:%u: %s", file, line, what);
                if (r < 0)
                        return;
        }
        grown = realloc(e->msgs, (e->n + 2) * sizeof(char *));
        if (!grown) {
                free(msg);
                return;
        }
        grown[e->n++] = msg;
        grown[e->n] = NULL;
        e->msgs = grown;
}

int conf_parse_error(char **ret_error, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(ret_error, fmt, ap);
        va_end(ap);
        if (r < 0) {
                *ret_error = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}

void conf_errors_add(ConfErrors *e, const char *file, unsigned line, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        conf_errors_addv(e, file, line, fmt, ap);
        va_end(ap);
}

void conf_errors_done(ConfErrors *e) {
        if (!e)
                return;
        for (size_t i = 0; i < e->n; i++)
                free(e->msgs[i]);
        free(e->msgs);
        *e = (ConfErrors) {};
}

/* ---- parsers ------------------------------------------------------------------------------ */

typedef struct Unit {
        const char *suffix; /* compared case-insensitively */
        uint64_t factor;
} Unit;

/* A non-empty run of decimal digits, then one of units' suffixes, nothing else. The suffix is
 * checked first so that "99999999999999999999x" is -EINVAL (garbage) rather than -ERANGE. */
static int parse_with_units(const char *s, const Unit *units, size_t n_units, uint64_t *ret) {
        const char *suffix;
        uint64_t v = 0;
        size_t u;

        if (!s)
                return -EINVAL;
        suffix = s + strspn(s, "0123456789");
        if (suffix == s)
                return -EINVAL;
        for (u = 0; u < n_units; u++)
                if (strcasecmp(suffix, units[u].suffix) == 0)
                        break;
        if (u == n_units)
                return -EINVAL;
        for (const char *q = s; q < suffix; q++) {
                unsigned d = (unsigned) (*q - '0');

                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        if (units[u].factor != 0 && v > UINT64_MAX / units[u].factor)
                return -ERANGE;
        *ret = v * units[u].factor;
        return 0;
}

int parse_uint64(const char *s, uint64_t *ret) {
        static const Unit units[] = { { "", 1 } };

        return parse_with_units(s, units, ELEMENTSOF(units), ret);
}

int parse_size(const char *s, uint64_t *ret) {
        static const Unit units[] = { { "", 1 }, { "K", KIB }, { "M", MIB }, { "G", GIB } };

        return parse_with_units(s, units, ELEMENTSOF(units), ret);
}

int parse_usec(const char *s, usec_t *ret) {
        static const Unit units[] = {
                { "", USEC_PER_SEC },
                { "s", USEC_PER_SEC },
                { "ms", USEC_PER_MSEC },
                { "min", USEC_PER_MINUTE },
        };
        uint64_t u;
        int r;

        r = parse_with_units(s, units, ELEMENTSOF(units), &u);
        if (r < 0)
                return r;
        /* USEC_INFINITY means "never" elsewhere; a file cannot ask for it by accident. */
        if (u == USEC_INFINITY)
                return -ERANGE;
        *ret = u;
        return 0;
}

int parse_boolean(const char *s) {
        static const char *const yes[] = { "1", "yes", "true", "on" };
        static const char *const no[] = { "0", "no", "false", "off" };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        return -EINVAL;
}

/* ---- formatting --------------------------------------------------------------------------- */

static char *format_size(uint64_t v) {
        char *s = NULL;
        int r;

        if (v != 0 && v % GIB == 0)
                r = asprintf(&s, "%lluG", (unsigned long long) (v / GIB));
        else if (v != 0 && v % MIB == 0)
                r = asprintf(&s, "%lluM", (unsigned long long) (v / MIB));
        else if (v != 0 && v % KIB == 0)
                r = asprintf(&s, "%lluK", (unsigned long long) (v / KIB));
        else
                r = asprintf(&s, "%llu", (unsigned long long) v);
        return r < 0 ? NULL : s;
}

static char *format_usec(usec_t v) {
        char *s = NULL;
        int r;

        if (v == 0)
                r = asprintf(&s, "0");
        else if (v % USEC_PER_MINUTE == 0)
                r = asprintf(&s, "%llumin", v / USEC_PER_MINUTE);
        else if (v % USEC_PER_SEC == 0)
                r = asprintf(&s, "%llus", v / USEC_PER_SEC);
        else if (v % USEC_PER_MSEC == 0)
                r = asprintf(&s, "%llums", v / USEC_PER_MSEC);
        else
                r = asprintf(&s, "%lluus", v); /* not writable in a file, but never hide a value */
        return r < 0 ? NULL : s;
}

static char *strv_join_words(char *const *l) {
        size_t n = 0;
        char *s, *p;

        STRV_FOREACH(w, l)
                n += strlen(*w) + 1;
        s = malloc(n + 1);
        if (!s)
                return NULL;
        p = s;
        *p = '\0';
        STRV_FOREACH(w, l) {
                if (p != s)
                        *p++ = ' ';
                p = stpcpy(p, *w);
        }
        return s;
}

/* Values come from files a person edits: quote them so that stray spaces and control characters
 * are visible in a message. */
static char *quote_value(const char *v) {
        size_t n = strlen(v);
        char *s = malloc(n * 4 + 3), *p;

        if (!s)
                return NULL;
        p = s;
        *p++ = '"';
        for (const unsigned char *c = (const unsigned char *) v; *c; c++) {
                if (*c == '"' || *c == '\\') {
                        *p++ = '\\';
                        *p++ = (char) *c;
                } else if (*c < 0x20 || *c == 0x7f)
                        p += sprintf(p, "\\x%02x", *c);
                else
                        *p++ = (char) *c;
        }
        *p++ = '"';
        *p = '\0';
        return s;
}

/* A row without bounds (min and max both 0) takes anything its type can hold. */
static bool item_unbounded(const ConfItem *item) {
        return item->min == 0 && item->max == 0;
}

static uint64_t item_max(const ConfItem *item) {
        uint64_t max = item_unbounded(item) ? UINT64_MAX : item->max;

        return item->type == CONF_UINT ? MIN(max, (uint64_t) UINT32_MAX) : max;
}

/* What a good value looks like, when the table row does not say it in its own words. */
static char *describe_expected(const ConfItem *item) {
        _cleanup_free_ char *lo = NULL, *hi = NULL;
        char *s = NULL;
        int r = 0;

        if (item->expect)
                return strdup(item->expect);
        switch (item->type) {
        case CONF_STRING:
                return strdup("a non-empty value");
        case CONF_PATH:
                return strdup("an absolute path");
        case CONF_STRV:
                return strdup("a list of words");
        case CONF_UINT:
                r = asprintf(&s, "a number from %llu to %llu", (unsigned long long) item->min,
                             (unsigned long long) item_max(item));
                break;
        case CONF_SIZE:
                if (item_unbounded(item))
                        return strdup("a size in bytes (K, M, G suffixes)");
                lo = format_size(item->min);
                hi = format_size(item->max);
                if (!lo || !hi)
                        return NULL;
                r = asprintf(&s, "a size in bytes from %s to %s (K, M, G suffixes)", lo, hi);
                break;
        case CONF_USEC:
                if (item_unbounded(item))
                        return strdup("a time (seconds, or with ms, s, min)");
                lo = format_usec(item->min);
                hi = format_usec(item->max);
                if (!lo || !hi)
                        return NULL;
                r = asprintf(&s, "a time from %s to %s (seconds, or with ms, s, min)", lo, hi);
                break;
        case CONF_BOOL:
                return strdup("On or Off");
        case CONF_LINES:
                return strdup("a non-empty value");
        case CONF_ENUM: {
                size_t n = 0;
                char *p;

                for (const char *const *name = item->names; name && *name; name++)
                        n += strlen(*name) + 2;
                s = malloc(n + sizeof("one of "));
                if (!s)
                        return NULL;
                p = stpcpy(s, "one of ");
                for (const char *const *name = item->names; name && *name; name++) {
                        if (name != item->names)
                                p = stpcpy(p, ", ");
                        p = stpcpy(p, *name);
                }
                return s;
        }
        default:
                return strdup("a valid value");
        }
        return r < 0 ? NULL : s;
}

static int bad_value(const ConfItem *item, const char *value, char **ret_error) {
        _cleanup_free_ char *expected = NULL, *quoted = NULL;

        if (!ret_error)
                return -EINVAL;
        expected = describe_expected(item);
        quoted = quote_value(value);
        if (!expected || !quoted || asprintf(ret_error, "expected %s, got %s", expected, quoted) < 0) {
                *ret_error = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}

/* ---- tables ------------------------------------------------------------------------------- */

const ConfItem *conf_table_find(const ConfItem *table, const char *key) {
        for (const ConfItem *i = table; i && i->key; i++)
                if (strcasecmp(i->key, key) == 0)
                        return i;
        return NULL;
}

size_t conf_table_size(const ConfItem *table) {
        size_t n = 0;

        for (const ConfItem *i = table; i && i->key; i++)
                n++;
        return n;
}

bool conf_item_allowed(const ConfItem *item, unsigned table_contexts, unsigned context) {
        return ((item->contexts != 0 ? item->contexts : table_contexts) & context) != 0;
}

unsigned conf_distance(const char *a, const char *b) {
        size_t na = strlen(a), nb = strlen(b);
        _cleanup_free_ unsigned *d = NULL;

        /* Directive names are short: a full (na+1)×(nb+1) matrix, the optimal string alignment
         * variant of Damerau–Levenshtein (a swap of two neighbours costs 1, as a typo does). */
        if (na > 256 || nb > 256)
                return UINT_MAX;
        d = malloc((na + 1) * (nb + 1) * sizeof(unsigned));
        if (!d)
                return UINT_MAX;
#define D(i, j) d[(i) * (nb + 1) + (j)]
        for (size_t i = 0; i <= na; i++)
                D(i, 0) = (unsigned) i;
        for (size_t j = 0; j <= nb; j++)
                D(0, j) = (unsigned) j;
        for (size_t i = 1; i <= na; i++)
                for (size_t j = 1; j <= nb; j++) {
                        int ca = tolower((unsigned char) a[i - 1]), cb = tolower((unsigned char) b[j - 1]);
                        unsigned best = MIN(D(i - 1, j) + 1, D(i, j - 1) + 1);

                        best = MIN(best, D(i - 1, j - 1) + (ca == cb ? 0u : 1u));
                        if (i > 1 && j > 1 && ca == tolower((unsigned char) b[j - 2]) &&
                            tolower((unsigned char) a[i - 2]) == cb)
                                best = MIN(best, D(i - 2, j - 2) + 1);
                        D(i, j) = best;
                }
        return D(na, nb);
#undef D
}

const char *conf_table_suggest(const ConfItem *table, unsigned table_contexts, unsigned context, const char *key,
                               unsigned *best_distance) {
        size_t n = strlen(key);
        unsigned limit = n <= 4 ? 1 : n <= 8 ? 2 : 3;
        const char *best = NULL;

        for (const ConfItem *i = table; i && i->key; i++) {
                unsigned dist;

                if (!conf_item_allowed(i, table_contexts, context))
                        continue;
                dist = conf_distance(key, i->key);
                if (dist <= limit && dist < *best_distance) {
                        *best_distance = dist;
                        best = i->key;
                }
        }
        return best;
}

static void *field(const ConfItem *item, void *base) {
        return (char *) base + item->offset;
}

static const void *field_const(const ConfItem *item, const void *base) {
        return (const char *) base + item->offset;
}

static int apply_strv(char ***l, const char *value, bool replace) {
        char **words = NULL;
        const char *p = value;

        while (*(p += strspn(p, " \t\r\n\f\v"))) {
                size_t n = strcspn(p, " \t\r\n\f\v");
                _cleanup_free_ char *w = strndup(p, n);

                if (!w || strv_push(&words, w) < 0) {
                        strv_free(words);
                        return -ENOMEM;
                }
                p += n;
        }
        if (replace || !*l) {
                strv_free(*l);
                *l = words;
                return 0;
        }
        STRV_FOREACH(w, words)
                if (strv_push(l, *w) < 0) {
                        strv_free(words);
                        return -ENOMEM;
                }
        strv_free(words);
        return 0;
}

void conf_lines_done(ConfLines *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++) {
                free(l->lines[i].value);
                free(l->lines[i].file);
        }
        free(l->lines);
        *l = (ConfLines) {};
}

int conf_lines_append(ConfLines *l, const char *value, const char *file, unsigned line) {
        ConfLine *grown = reallocarray(l->lines, l->n + 1, sizeof(ConfLine));
        ConfLine *n;

        if (!grown)
                return -ENOMEM;
        l->lines = grown;
        n = &l->lines[l->n];
        *n = (ConfLine) { .value = strdup(value), .file = strdup(file ? file : ""), .line = line };
        if (!n->value || !n->file) {
                free(n->value);
                free(n->file);
                return -ENOMEM;
        }
        l->n++;
        return 0;
}

static int lines_copy(ConfLines *dst, const ConfLines *src) {
        ConfLines copy = {};

        for (size_t i = 0; i < src->n; i++)
                if (conf_lines_append(&copy, src->lines[i].value, src->lines[i].file, src->lines[i].line) < 0) {
                        conf_lines_done(&copy);
                        return -ENOMEM;
                }
        conf_lines_done(dst);
        *dst = copy;
        return 0;
}

int conf_item_apply(const ConfItem *item, void *base, const char *value, bool replace_list, char **ret_error) {
        ConfApplyContext ctx = { .replace_list = replace_list };

        return conf_item_apply_at(item, base, value, &ctx, ret_error);
}

int conf_item_apply_at(const ConfItem *item, void *base, const char *value, const ConfApplyContext *ctx,
                       char **ret_error) {
        static const ConfApplyContext none = {};
        bool replace_list;
        void *f = field(item, base);
        uint64_t v;
        int r;

        if (ret_error)
                *ret_error = NULL;
        if (!value)
                value = "";
        if (!ctx)
                ctx = &none;
        replace_list = ctx->replace_list;

        if (item->type == CONF_CUSTOM && (!item->parse || !item->format || item->size == 0))
                return -EINVAL; /* a table's mistake: tests check every table */
        if (item->parse) {
                _cleanup_free_ char *why = NULL;

                r = item->parse(item, f, value, ctx, &why);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        if (why && ret_error) {
                                *ret_error = TAKE_PTR(why);
                                return -EINVAL;
                        }
                        return bad_value(item, value, ret_error);
                }
                if (item->type == CONF_CUSTOM)
                        return 0;
        }

        switch (item->type) {
        case CONF_STRING:
        case CONF_PATH: {
                char *copy;

                if (value[0] == '\0' || (item->type == CONF_PATH && value[0] != '/'))
                        return bad_value(item, value, ret_error);
                copy = strdup(value);
                if (!copy)
                        return -ENOMEM;
                free(*(char **) f);
                *(char **) f = copy;
                return 0;
        }
        case CONF_STRV:
                return apply_strv((char ***) f, value, replace_list);
        case CONF_UINT:
        case CONF_SIZE:
        case CONF_USEC: {
                if (item->type == CONF_UINT)
                        r = parse_uint64(value, &v);
                else if (item->type == CONF_SIZE)
                        r = parse_size(value, &v);
                else {
                        usec_t u = 0;

                        r = parse_usec(value, &u);
                        v = u;
                }
                if (r < 0 || v < item->min || v > item_max(item))
                        return bad_value(item, value, ret_error);
                if (item->type == CONF_UINT)
                        *(uint32_t *) f = (uint32_t) v;
                else if (item->type == CONF_SIZE)
                        *(uint64_t *) f = v;
                else
                        *(usec_t *) f = v;
                return 0;
        }
        case CONF_BOOL:
                r = parse_boolean(value);
                if (r < 0)
                        return bad_value(item, value, ret_error);
                *(bool *) f = r;
                return 0;
        case CONF_ENUM:
                for (size_t i = 0; item->names && item->names[i]; i++)
                        if (strcasecmp(value, item->names[i]) == 0) {
                                *(int *) f = (int) i;
                                return 0;
                        }
                return bad_value(item, value, ret_error);
        case CONF_LINES:
                if (value[strspn(value, " \t")] == '\0')
                        return bad_value(item, value, ret_error);
                if (replace_list)
                        conf_lines_done((ConfLines *) f);
                return conf_lines_append((ConfLines *) f, value, ctx->file, ctx->line);
        default:
                return -EINVAL;
        }
}

int conf_item_check(const ConfItem *item, const void *base, char **ret_error) {
        if (ret_error)
                *ret_error = NULL;
        if (!item->check)
                return 0;
        return item->check(item, field_const(item, base), ret_error);
}

int conf_item_merge_inherited(const ConfItem *item, void *base, const void *parent) {
        ConfLines *own = field(item, base), merged = {};
        const ConfLines *from = field_const(item, parent);

        if (item->type == CONF_CUSTOM && (item->flags & CONF_LIST_APPEND_INHERITED))
                return item->merge ? item->merge(item, field(item, base), field_const(item, parent)) : -EINVAL;
        if (item->type != CONF_LINES || !(item->flags & CONF_LIST_APPEND_INHERITED) || from->n == 0)
                return 0;
        if (lines_copy(&merged, from) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < own->n; i++)
                if (conf_lines_append(&merged, own->lines[i].value, own->lines[i].file, own->lines[i].line) < 0) {
                        conf_lines_done(&merged);
                        return -ENOMEM;
                }
        conf_lines_done(own);
        *own = merged;
        return 0;
}

static void item_zero(const ConfItem *item, void *base) {
        void *f = field(item, base);

        switch (item->type) {
        case CONF_STRING:
        case CONF_PATH:
                *(char **) f = NULL;
                break;
        case CONF_STRV:
                *(char ***) f = NULL;
                break;
        case CONF_UINT:
                *(uint32_t *) f = 0;
                break;
        case CONF_SIZE:
                *(uint64_t *) f = 0;
                break;
        case CONF_USEC:
                *(usec_t *) f = 0;
                break;
        case CONF_BOOL:
                *(bool *) f = false;
                break;
        case CONF_ENUM:
                *(int *) f = 0;
                break;
        case CONF_LINES:
                *(ConfLines *) f = (ConfLines) {};
                break;
        case CONF_CUSTOM:
                memset(f, 0, item->size);
                break;
        default:
                break;
        }
}

int conf_table_defaults(const ConfItem *table, void *base) {
        for (const ConfItem *i = table; i && i->key; i++) {
                _cleanup_free_ char *error = NULL;
                int r;

                /* The struct may hold anything: a field is zeroed before the default goes in. */
                item_zero(i, base);
                if (!i->default_value)
                        continue;
                r = conf_item_apply(i, base, i->default_value, true, &error);
                if (r < 0)
                        return r == -ENOMEM ? r : -EINVAL;
        }
        return 0;
}

void conf_table_free(const ConfItem *table, void *base) {
        if (!base)
                return;
        for (const ConfItem *i = table; i && i->key; i++) {
                void *f = field(i, base);

                if (i->type == CONF_STRING || i->type == CONF_PATH) {
                        free(*(char **) f);
                        *(char **) f = NULL;
                } else if (i->type == CONF_STRV)
                        *(char ***) f = strv_free(*(char ***) f);
                else if (i->type == CONF_LINES)
                        conf_lines_done((ConfLines *) f);
                else if (i->type == CONF_CUSTOM && i->done)
                        i->done(i, f);
        }
}

int conf_item_copy(const ConfItem *item, void *dst, const void *src) {
        void *d = field(item, dst);
        const void *s = field_const(item, src);

        switch (item->type) {
        case CONF_STRING:
        case CONF_PATH: {
                const char *from = *(char *const *) s;
                char *copy = NULL;

                if (from) {
                        copy = strdup(from);
                        if (!copy)
                                return -ENOMEM;
                }
                free(*(char **) d);
                *(char **) d = copy;
                return 0;
        }
        case CONF_STRV: {
                char *const *from = *(char **const *) s;
                char **copy = NULL;

                if (from) {
                        copy = strv_copy(from);
                        if (!copy)
                                return -ENOMEM;
                }
                strv_free(*(char ***) d);
                *(char ***) d = copy;
                return 0;
        }
        case CONF_UINT:
                *(uint32_t *) d = *(const uint32_t *) s;
                return 0;
        case CONF_SIZE:
                *(uint64_t *) d = *(const uint64_t *) s;
                return 0;
        case CONF_USEC:
                *(usec_t *) d = *(const usec_t *) s;
                return 0;
        case CONF_BOOL:
                *(bool *) d = *(const bool *) s;
                return 0;
        case CONF_ENUM:
                *(int *) d = *(const int *) s;
                return 0;
        case CONF_LINES:
                return lines_copy((ConfLines *) d, (const ConfLines *) s);
        case CONF_CUSTOM:
                if (item->copy)
                        return item->copy(item, d, s);
                memcpy(d, s, item->size);
                return 0;
        default:
                return -EINVAL;
        }
}

char *conf_item_format(const ConfItem *item, const void *base) {
        const void *f = field_const(item, base);
        char *s = NULL;
        int r;

        switch (item->type) {
        case CONF_STRING:
        case CONF_PATH: {
                const char *v = *(char *const *) f;

                return strdup(v ? v : "(unset)");
        }
        case CONF_STRV: {
                char *const *l = *(char **const *) f;

                return l && l[0] ? strv_join_words(l) : strdup("(empty)");
        }
        case CONF_UINT:
                r = asprintf(&s, "%u", *(const uint32_t *) f);
                return r < 0 ? NULL : s;
        case CONF_SIZE:
                return format_size(*(const uint64_t *) f);
        case CONF_USEC:
                return format_usec(*(const usec_t *) f);
        case CONF_BOOL:
                return strdup(*(const bool *) f ? "On" : "Off");
        case CONF_ENUM: {
                int v = *(const int *) f;

                for (int i = 0; item->names && item->names[i]; i++)
                        if (i == v)
                                return strdup(item->names[i]);
                r = asprintf(&s, "%d", v);
                return r < 0 ? NULL : s;
        }
        case CONF_LINES: {
                const ConfLines *l = f;
                size_t n = 0;
                char *p;

                if (l->n == 0)
                        return strdup("(empty)");
                /* one line each, as the file has them */
                for (size_t i = 0; i < l->n; i++)
                        n += strlen(l->lines[i].value) + 2;
                s = malloc(n + 1);
                if (!s)
                        return NULL;
                p = s;
                for (size_t i = 0; i < l->n; i++)
                        p = stpcpy(stpcpy(p, i > 0 ? "; " : ""), l->lines[i].value);
                return s;
        }
        case CONF_CUSTOM:
                return item->format ? item->format(item, f) : strdup("?");
        default:
                return strdup("?");
        }
}

static bool streq_null(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

bool conf_item_equal(const ConfItem *item, const void *a, const void *b) {
        const void *fa = field_const(item, a), *fb = field_const(item, b);

        switch (item->type) {
        case CONF_STRING:
        case CONF_PATH:
                return streq_null(*(char *const *) fa, *(char *const *) fb);
        case CONF_STRV: {
                char *const *la = *(char **const *) fa, *const *lb = *(char **const *) fb;
                size_t n = strv_length(la);

                if (n != strv_length(lb))
                        return false;
                for (size_t i = 0; i < n; i++)
                        if (strcmp(la[i], lb[i]) != 0)
                                return false;
                return true;
        }
        case CONF_UINT:
                return *(const uint32_t *) fa == *(const uint32_t *) fb;
        case CONF_SIZE:
                return *(const uint64_t *) fa == *(const uint64_t *) fb;
        case CONF_USEC:
                return *(const usec_t *) fa == *(const usec_t *) fb;
        case CONF_BOOL:
                return *(const bool *) fa == *(const bool *) fb;
        case CONF_ENUM:
                return *(const int *) fa == *(const int *) fb;
        case CONF_LINES: {
                const ConfLines *la = fa, *lb = fb;

                if (la->n != lb->n)
                        return false;
                for (size_t i = 0; i < la->n; i++)
                        if (strcmp(la->lines[i].value, lb->lines[i].value) != 0)
                                return false;
                return true; /* where a line was written does not change what it means */
        }
        case CONF_CUSTOM: {
                /* Plain data may hold padding: two values are the same when they read the same. */
                _cleanup_free_ char *a_text = conf_item_format(item, a), *b_text = conf_item_format(item, b);

                return a_text && b_text && strcmp(a_text, b_text) == 0;
        }
        default:
                return false;
        }
}
