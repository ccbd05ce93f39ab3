/* SPDX-License-Identifier: MIT */
/* config-apply.c — the entries, in file order, into the structs of their sections ([Server], each
 * [VirtualHost NAME], the MPM's section, and other MPMs' sections, which are checked but not used),
 * then inheritance: a virtual host takes every engine key it does not set from [Server]. Later
 * files override scalar keys and extend list keys (each row's merge rule, conf-table.h). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/path.h"
#include "supervisor/config-loader.h"

/* ---- applying entries --------------------------------------------------------------------- */

/* Continuation lines join the value of their key (config-read.c): a text or a list reads on, a
 * number or a switch would only become a bad value, so those say what went wrong. */
static bool type_takes_continuation(ConfType t) {
        return t == CONF_STRING || t == CONF_STRV || t == CONF_LINES || t == CONF_CUSTOM;
}

static void apply_entry(Loader *l, const Entry *e, const ConfItem *table, const ConfItem *item, void *base,
                        KeySource *keys) {
        KeySource *k = &keys[item - table];
        const char *file = file_name(l, e->file);
        _cleanup_free_ char *why = NULL;
        ConfApplyContext ctx = { .file = file, .line = e->line };
        int r;

        if (e->cont_line != 0 && !type_takes_continuation(item->type)) {
                load_error(l, file, e->cont_line,
                           "%s %s: a continuation line is only allowed for keys that take text or a list", l->label,
                           item->key);
                return;
        }
        if (item->type == CONF_STRV || item->type == CONF_LINES || (item->flags & CONF_LIST))
                /* The first occurrence replaces the default; a later file replaces a CONF_LIST_REPLACE
                 * list (and extends it within itself); otherwise lists grow. */
                ctx.replace_list = k->file == 0 || ((item->flags & CONF_LIST_REPLACE) && k->file != e->file + 1);
        else if (k->file == e->file + 1) {
                load_error(l, file, e->line, "%s %s: already set at line %u of this file; remove one of the two",
                           l->label, item->key, k->line);
                return;
        }

        r = conf_item_apply_at(item, base, e->value, &ctx, &why);
        if (r == -ENOMEM)
                l->oom = true;
        else if (r < 0)
                load_error(l, file, e->line, "%s %s: %s", l->label, item->key, why ? why : "bad value");
        *k = (KeySource) { .file = e->file + 1, .line = e->line };
}

/* The tables a key may come from, and where each puts its values in the section being read. */
typedef struct KeyTable {
        const ConfItem *table;
        unsigned contexts; /* what its rows with contexts 0 allow */
        void *base;        /* the struct of this section; NULL: the table has no place in it */
        KeySource *keys;
        const char *mpm_name; /* an MPM's table: its section's name */
} KeyTable;

enum { KT_SERVER, KT_VHOST, KT_SITE, KT_MPM, _KT_MAX };

static unsigned section_context(const Loader *l) {
        switch (l->kind) {
        case SECTION_SERVER:
                return CONF_CTX_SERVER;
        case SECTION_VHOST:
                return CONF_CTX_VHOST;
        case SECTION_PATH:
                return CONF_CTX_PATH;
        default:
                return CONF_CTX_MPM;
        }
}

static void key_tables(Loader *l, KeyTable t[static _KT_MAX]) {
        Config *c = l->config;
        unsigned ctx = section_context(l);
        ConfigVhost *v = ctx == CONF_CTX_VHOST ? &c->vhosts[l->index] : NULL;
        VhostKeys *vk = v ? &l->vhost_keys[l->index] : NULL;

        t[KT_SERVER] = (KeyTable) { config_directives, CONF_CTX_SERVER, ctx == CONF_CTX_SERVER ? c : NULL,
                                    l->server_keys };
        t[KT_VHOST] = (KeyTable) { vhost_directives, CONF_CTX_VHOST, v, vk ? vk->own : NULL };
        t[KT_SITE] = (KeyTable) { http_site_directives, HTTP_SITE_CTX,
                                  v ? (void *) &v->site : ctx == CONF_CTX_SERVER ? (void *) &c->site : NULL,
                                  vk ? vk->site : l->site_keys };
        if (ctx == CONF_CTX_PATH) {
                t[KT_SITE].base = &c->locations[l->index].site;
                t[KT_SITE].keys = l->location_keys[l->index];
        }
        if (l->kind == SECTION_OTHER_MPM) {
                OtherMpm *o = &l->others[l->index];

                t[KT_MPM] = (KeyTable) { o->ops && o->ops->directives ? o->ops->directives : empty_directives,
                                         CONF_CTX_MPM, o->config, o->keys, mpm_section_names[l->index] };
        } else
                t[KT_MPM] = (KeyTable) { c->mpm ? l->mpm_table : empty_directives, CONF_CTX_MPM,
                                         ctx == CONF_CTX_MPM ? c->mpm_config : NULL, l->mpm_keys,
                                         c->mpm ? c->mpm->name : NULL };
}

/* "[Server]", "[VirtualHost NAME]" or "[perchild]", joined with " or ": where a row may be written. */
static char *describe_contexts(const KeyTable *t, const ConfItem *item) {
        unsigned ctx = item->contexts != 0 ? item->contexts : t->contexts;
        char *s = NULL;
        int r;

        r = asprintf(&s, "%s%s%s%s%s%s%s%s", ctx & CONF_CTX_SERVER ? "[Server]" : "",
                     (ctx & CONF_CTX_SERVER) && (ctx & CONF_CTX_VHOST) ? " or " : "",
                     ctx & CONF_CTX_VHOST ? "[VirtualHost NAME]" : "",
                     ctx & CONF_CTX_PATH ? " or [Location …]" : "",
                     (ctx & (CONF_CTX_SERVER | CONF_CTX_VHOST)) && (ctx & CONF_CTX_MPM) ? " or " : "",
                     ctx & CONF_CTX_MPM ? "[" : "", ctx & CONF_CTX_MPM ? (t->mpm_name ? t->mpm_name : "MPM") : "",
                     ctx & CONF_CTX_MPM ? "]" : "");
        return r < 0 ? NULL : s;
}

static void not_allowed(Loader *l, const Entry *e, const char *where) {
        /* Apache takes SSLVerifyClient and the like per directory, with a renegotiation once the
         * request's path is known; here the handshake is the site's, which SNI chose. */
        bool per_site = section_context(l) == CONF_CTX_PATH && strncasecmp(e->key, "SSL", 3) == 0;

        load_error(l, file_name(l, e->file), e->line, "%s is not allowed in %s (it belongs in %s)%s", e->key, l->label,
                   where ? where : "another section",
                   per_site ? ": TLS settings apply per site, to the handshake that SNI chose the site for, before any "
                              "request path is known (mpmd does not renegotiate); give the path a [VirtualHost] of its "
                              "own"
                            : "");
}

/* The nearest key this section takes, for a typo: "KeepAliveTimout" → KeepAliveTimeout. */
static void unknown_key(Loader *l, const Entry *e, const KeyTable t[static _KT_MAX]) {
        unsigned ctx = section_context(l), best = UINT_MAX;
        const char *suggestion = NULL;

        for (size_t i = 0; i < _KT_MAX; i++) {
                const char *s;

                if (!t[i].base)
                        continue;
                s = conf_table_suggest(t[i].table, t[i].contexts, ctx, e->key, &best);
                if (s)
                        suggestion = s;
        }
        if (ctx == CONF_CTX_SERVER) {
                unsigned d = conf_distance(e->key, LOAD_MODULE);

                if (d <= 2 && d < best)
                        suggestion = LOAD_MODULE;
        }
        if (suggestion)
                load_error(l, file_name(l, e->file), e->line, "unknown key \"%s\" in %s (did you mean %s?)", e->key,
                           l->label, suggestion);
        else
                load_error(l, file_name(l, e->file), e->line, "unknown key \"%s\" in %s", e->key, l->label);
}

/* A key is applied by the first table whose row allows this section; a key that only other
 * sections allow is refused with where it belongs. Returns whether it was applied. */
static bool apply_key(Loader *l, const Entry *e) {
        unsigned ctx = section_context(l);
        _cleanup_free_ char *where = NULL;
        KeyTable t[_KT_MAX];

        key_tables(l, t);
        for (size_t i = 0; i < _KT_MAX; i++) {
                const ConfItem *item = conf_table_find(t[i].table, e->key);

                if (!item)
                        continue;
                if (t[i].base && t[i].keys && conf_item_allowed(item, t[i].contexts, ctx)) {
                        unsigned before = l->n_errors;

                        apply_entry(l, e, t[i].table, item, t[i].base, t[i].keys);
                        return l->n_errors == before;
                }
                if (!where) {
                        where = describe_contexts(&t[i], item);
                        if (!where)
                                l->oom = true;
                }
        }
        if (strcasecmp(e->key, LOAD_MODULE) == 0) {
                if (ctx == CONF_CTX_SERVER)
                        return true; /* collected before this pass */
                not_allowed(l, e, "[Server]");
        } else if (where)
                not_allowed(l, e, where);
        else
                unknown_key(l, e, t);
        return false;
}

static int vhost_add(Loader *l, const Entry *e, const char *name) {
        Config *c = l->config;
        size_t n_site = conf_table_size(http_site_directives) + 1;
        ConfigVhost *grown;
        VhostKeys *grown_keys;

        grown = realloc(c->vhosts, (c->n_vhosts + 1) * sizeof(ConfigVhost));
        if (!grown)
                return -ENOMEM;
        c->vhosts = grown;
        grown_keys = realloc(l->vhost_keys, (c->n_vhosts + 1) * sizeof(VhostKeys));
        if (!grown_keys)
                return -ENOMEM;
        l->vhost_keys = grown_keys;
        l->vhost_keys[c->n_vhosts] = (VhostKeys) {
                .own = calloc(conf_table_size(vhost_directives) + 1, sizeof(KeySource)),
                .site = calloc(n_site, sizeof(KeySource)),
        };
        /* site stays zeroed: what the vhost does not set comes from [Server] afterwards. */
        c->vhosts[c->n_vhosts] = (ConfigVhost) {
                .name = strdup(name),
                .source = { .file = strdup(file_name(l, e->file)), .line = e->line },
                .uid = (uid_t) -1,
                .gid = (gid_t) -1,
        };
        l->index = c->n_vhosts++;
        if (!l->vhost_keys[l->index].own || !l->vhost_keys[l->index].site || !c->vhosts[l->index].name ||
            !c->vhosts[l->index].source.file)
                return -ENOMEM;
        return 0;
}

/* [Location /prefix/] or [Location NAME /prefix/]: the words after "Location". The prefix is
 * matched against normalised paths, so it must be written normalised (no "//", "." or "..", no
 * %-escapes): one that would never match is refused rather than silently ignored. */
static int location_add(Loader *l, const Entry *e, const char *words) {
        const char *file = file_name(l, e->file), *space = words + strcspn(words, " \t");
        _cleanup_free_ char *vhost = NULL, *prefix = NULL;
        Config *c = l->config;
        char normal[PATH_MAX];
        size_t normal_len;

        if (*space) {
                vhost = strndup(words, (size_t) (space - words));
                prefix = strdup(space + strspn(space, " \t"));
        } else
                prefix = strdup(words);
        if (!prefix || (*space && !vhost))
                return -ENOMEM;
        if (prefix[0] != '/' || strpbrk(prefix, " \t")) {
                load_error(l, file, e->line,
                           "[%s]: expected [Location /PATH] or [Location NAME /PATH] (the path last, starting with '/')",
                           e->section);
                return 0;
        }
        if (strchr(prefix, '%') || http_path_normalize(prefix, strlen(prefix), normal, sizeof(normal), &normal_len) < 0 ||
            strcmp(normal, prefix) != 0) {
                load_error(l, file, e->line,
                           "[%s]: write the path as requests are matched: decoded, without %%-escapes, \"//\", \".\" "
                           "or \"..\" segments",
                           e->section);
                return 0;
        }
        for (size_t i = 0; i < c->n_locations; i++) {
                const ConfigLocation *o = &c->locations[i];
                if (strcmp(o->prefix, prefix) == 0 && (!o->vhost == !vhost) &&
                    (!vhost || strcasecmp(o->vhost, vhost) == 0)) {
                        load_error(l, file, e->line, "%s is defined twice: here and at %s:%u", o->label,
                                   o->source.file, o->source.line);
                        return 0;
                }
        }

        ConfigLocation *grown = realloc(c->locations, (c->n_locations + 1) * sizeof(ConfigLocation));
        if (!grown)
                return -ENOMEM;
        c->locations = grown;
        KeySource **grown_keys = realloc(l->location_keys, (c->n_locations + 1) * sizeof(KeySource *));
        if (!grown_keys)
                return -ENOMEM;
        l->location_keys = grown_keys;
        l->location_keys[c->n_locations] = calloc(conf_table_size(http_site_directives) + 1, sizeof(KeySource));
        /* site stays zeroed: what the section does not set comes from the enclosing one afterwards. */
        ConfigLocation *loc = &c->locations[c->n_locations];
        *loc = (ConfigLocation) { .source = { .file = strdup(file), .line = e->line } };
        l->index = c->n_locations++;
        if (asprintf(&loc->label, "[Location %s%s%s]", vhost ? vhost : "", vhost ? " " : "", prefix) < 0)
                loc->label = NULL;
        loc->vhost = TAKE_PTR(vhost);
        loc->prefix = TAKE_PTR(prefix);
        if (!l->location_keys[l->index] || !loc->source.file || !loc->label)
                return -ENOMEM;
        l->kind = SECTION_PATH;
        l->label = strdup(loc->label);
        return l->label ? 0 : -ENOMEM;
}

static void section_enter(Loader *l, const Entry *e) {
        const char *name = e->section, *file = file_name(l, e->file);
        const size_t vh = strlen("VirtualHost"), lo = strlen("Location");
        Config *c = l->config;
        int r = 0;

        l->label = mfree(l->label);
        l->kind = SECTION_SKIP;
        if (e->broken)
                return;

        if (strcasecmp(name, "Server") == 0) {
                l->kind = SECTION_SERVER;
                r = asprintf(&l->label, "[Server]");
        } else if (strncasecmp(name, "VirtualHost", vh) == 0 &&
                   (name[vh] == '\0' || isspace((unsigned char) name[vh]))) {
                const char *vname = name + vh + strspn(name + vh, " \t");

                if (vname[0] == '\0') {
                        load_error(l, file, e->line, "[%s] needs a name: [VirtualHost NAME]", name);
                        return;
                }
                for (size_t i = 0; i < c->n_vhosts; i++)
                        if (strcasecmp(c->vhosts[i].name, vname) == 0) {
                                load_error(l, file, e->line, "[VirtualHost %s] is defined twice: here and at %s:%u",
                                           vname, c->vhosts[i].source.file, c->vhosts[i].source.line);
                                return;
                        }
                if (vhost_add(l, e, vname) < 0) {
                        l->oom = true;
                        return;
                }
                l->kind = SECTION_VHOST;
                r = asprintf(&l->label, "[VirtualHost %s]", vname);
        } else if (strncasecmp(name, "Location", lo) == 0 && (name[lo] == '\0' || isspace((unsigned char) name[lo]))) {
                if (location_add(l, e, name + lo + strspn(name + lo, " \t")) < 0)
                        l->oom = true;
                return;
        } else if (c->mpm && strcmp(name, c->mpm->name) == 0) {
                l->kind = SECTION_MPM;
                r = asprintf(&l->label, "[%s]", name);
        } else {
                for (size_t i = 0; i < CONFIG_N_MPM_SECTIONS; i++) {
                        OtherMpm *o = &l->others[i];

                        if (strcmp(name, mpm_section_names[i]) != 0)
                                continue;
                        /* Tuning for an MPM not in use: checked when we know its keys, never applied. */
                        if (!o->looked_up) {
                                o->looked_up = true;
                                o->ops = mpm_find_builtin(name);
                                if (o->ops) {
                                        const ConfItem *t = o->ops->directives ? o->ops->directives : empty_directives;

                                        o->config = mpm_config_new(l, o->ops, t);
                                        o->keys = calloc(conf_table_size(t) + 1, sizeof(KeySource));
                                        if (!o->keys)
                                                l->oom = true;
                                }
                        }
                        l->kind = SECTION_OTHER_MPM;
                        l->index = i;
                        r = asprintf(&l->label, "[%s]", name);
                        break;
                }
                if (l->kind == SECTION_SKIP)
                        load_error(l, file, e->line,
                                   "unknown section [%s]; expected [Server], [VirtualHost NAME], [Location /PATH] or an "
                                   "MPM section",
                                   name);
        }
        if (r < 0) {
                l->label = NULL;
                l->kind = SECTION_SKIP;
                l->oom = true;
        }
}

/* The section an Include line stood in, put back at its end: a section an included file opens
 * ends with it (an Apache container cannot cross a file either). */
typedef struct SavedSection {
        SectionKind kind;
        size_t index;
        char *label;
} SavedSection;

void apply_entries(Loader *l) {
        SavedSection saved[CONFIG_INCLUDE_MAX_DEPTH + 1] = {};
        unsigned unit = 0, depth = 0;

        for (size_t i = 0; i < l->n_entries && !l->oom; i++) {
                const Entry *e = &l->entries[i];

                if (e->unit != unit) {
                        unit = e->unit;
                        l->kind = SECTION_NONE;
                }
                if (e->mark == ENTRY_INCLUDE_BEGIN) {
                        if (depth < ELEMENTSOF(saved)) {
                                saved[depth] = (SavedSection) { l->kind, l->index, l->label ? strdup(l->label) : NULL };
                                if (l->label && !saved[depth].label)
                                        l->oom = true;
                        }
                        depth++;
                        continue;
                }
                if (e->mark == ENTRY_INCLUDE_END) {
                        if (depth > 0 && --depth < ELEMENTSOF(saved)) {
                                free(l->label);
                                l->kind = saved[depth].kind;
                                l->index = saved[depth].index;
                                l->label = TAKE_PTR(saved[depth].label);
                        }
                        continue;
                }
                if (e->section) {
                        section_enter(l, e);
                        continue;
                }
                if (e->skip)
                        continue;
                switch (l->kind) {
                case SECTION_NONE:
                        load_error(l, file_name(l, e->file), e->line,
                                   "%s: a key before the first section; expected [Server], "
                                   "[VirtualHost NAME] or an MPM section above it",
                                   e->key);
                        break;
                case SECTION_SKIP:
                        break;
                case SECTION_SERVER:
                case SECTION_VHOST:
                case SECTION_PATH:
                        (void) apply_key(l, e);
                        break;
                case SECTION_MPM:
                        /* The MPM's own check is skipped after an error in its section. */
                        if (!apply_key(l, e))
                                l->mpm_errors++;
                        break;
                case SECTION_OTHER_MPM:
                        /* Tuning for an MPM not in use, checked only when it is built in. */
                        if (l->others[l->index].config && l->others[l->index].keys)
                                (void) apply_key(l, e);
                        break;
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(saved); i++)
                free(saved[i].label);
}

/* ---- after all files ---------------------------------------------------------------------- */

/* Under a per-user MPM a site with a User of its own writes its access log as that user, from its
 * own pool (site-open.h): [Server]'s log is not its to write. Sharing that file would let one
 * tenant's code forge or cut the lines of every other site, and the site's user could not open
 * it anyway. Such a site logs where its own CustomLog says, or nowhere. */
static bool vhost_inherits(const Config *c, const ConfigVhost *v, const ConfItem *it) {
        bool own_logs = c->mpm && (c->mpm->flags & MPM_PER_USER) && v->user;
        return !(own_logs && it->offset == offsetof(HttpSiteConfig, custom_log));
}

void inherit_vhosts(Loader *l) {
        Config *c = l->config;
        size_t n = conf_table_size(http_site_directives);

        for (size_t i = 0; i < c->n_vhosts; i++)
                for (size_t row = 0; row < n; row++) {
                        const ConfItem *it = &http_site_directives[row];
                        int r;

                        if (l->vhost_keys[i].site[row].file == 0 && !vhost_inherits(c, &c->vhosts[i], it))
                                continue;
                        /* A key the site gave keeps its own value, or adds to [Server]'s (the row's
                         * merge rule); one it did not give is [Server]'s. */
                        if (l->vhost_keys[i].site[row].file != 0)
                                r = conf_item_merge_inherited(it, &c->vhosts[i].site, &c->site);
                        else
                                r = conf_item_copy(it, &c->vhosts[i].site, &c->site);
                        if (r < 0)
                                l->oom = true;
                }
}

/* The config a path section inherits from: the longest other path section of the same site whose
 * prefix covers its own, else the site's. */
static const HttpSiteConfig *location_parent(const Config *c, const ConfigLocation *loc, const HttpSiteConfig *site) {
        const ConfigLocation *best = NULL;
        size_t len = strlen(loc->prefix);

        for (size_t i = 0; i < c->n_locations; i++) {
                const ConfigLocation *o = &c->locations[i];
                size_t olen = strlen(o->prefix);

                if (o == loc || !o->vhost != !loc->vhost || (o->vhost && strcasecmp(o->vhost, loc->vhost) != 0))
                        continue;
                if (olen < len && http_location_matches(o->prefix, olen, loc->prefix, len) &&
                    (!best || olen > strlen(best->prefix)))
                        best = o;
        }
        return best ? &best->site : site;
}

static HttpSiteConfig *location_site(Loader *l, const ConfigLocation *loc) {
        Config *c = l->config;

        if (!loc->vhost)
                return &c->site;
        for (size_t i = 0; i < c->n_vhosts; i++)
                if (strcasecmp(c->vhosts[i].name, loc->vhost) == 0)
                        return &c->vhosts[i].site;
        return NULL;
}

static int cmp_location_shortest(const void *a, const void *b) {
        const ConfigLocation *x = *(ConfigLocation *const *) a, *y = *(ConfigLocation *const *) b;
        size_t lx = strlen(x->prefix), ly = strlen(y->prefix);
        return lx < ly ? -1 : lx > ly;
}

static int cmp_location_longest(const void *a, const void *b) {
        const HttpLocation *x = a, *y = b;
        return x->prefix_len > y->prefix_len ? -1 : x->prefix_len < y->prefix_len;
}

/* Each path section takes what it does not set from its enclosing section (shorter ones first, so
 * an enclosing section is complete when its inner ones copy from it), then each site gets the
 * list of its path sections, longest prefix first. */
void inherit_locations(Loader *l) {
        Config *c = l->config;
        size_t n = conf_table_size(http_site_directives);
        _cleanup_free_ ConfigLocation **order = calloc(c->n_locations + 1, sizeof(ConfigLocation *));

        if (!order) {
                l->oom = true;
                return;
        }
        for (size_t i = 0; i < c->n_locations; i++)
                order[i] = &c->locations[i];
        if (c->n_locations > 1)
                qsort(order, c->n_locations, sizeof(ConfigLocation *), cmp_location_shortest);
        for (size_t i = 0; i < c->n_locations; i++) {
                ConfigLocation *loc = order[i];
                const KeySource *keys = l->location_keys[loc - c->locations];
                HttpSiteConfig *site = location_site(l, loc);

                if (!site) {
                        load_error(l, loc->source.file, loc->source.line, "%s: there is no [VirtualHost %s]", loc->label,
                                   loc->vhost);
                        continue;
                }
                const HttpSiteConfig *parent = location_parent(c, loc, site);
                for (size_t row = 0; row < n; row++) {
                        const ConfItem *it = &http_site_directives[row];
                        int r = keys[row].file != 0 ? conf_item_merge_inherited(it, &loc->site, parent)
                                                    : conf_item_copy(it, &loc->site, parent);
                        if (r < 0)
                                l->oom = true;
                }
                HttpLocations *list = &site->locations;
                HttpLocation *grown = reallocarray(list->items, list->n + 1, sizeof(HttpLocation));
                if (!grown) {
                        l->oom = true;
                        return;
                }
                list->items = grown;
                list->items[list->n++] = (HttpLocation) {
                        .prefix = loc->prefix, .prefix_len = strlen(loc->prefix), .cfg = &loc->site
                };
        }
        for (size_t i = 0; i <= c->n_vhosts; i++) {
                HttpLocations *list = i == 0 ? &c->site.locations : &c->vhosts[i - 1].site.locations;
                if (list->n > 1)
                        qsort(list->items, list->n, sizeof(HttpLocation), cmp_location_longest);
        }
}
