/* SPDX-License-Identifier: MIT */
/* config-apply.c — the entries, in file order, into the structs of their sections ([Server], each
 * [VirtualHost NAME], the MPM's section, and other MPMs' sections, which are checked but not used),
 * then inheritance: a virtual host takes every engine key it does not set from [Server]. Later
 * files override scalar keys and extend list keys (each row's merge rule, conf-table.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config-loader.h"

/* ---- applying entries --------------------------------------------------------------------- */

static void apply_entry(Loader *l, const Entry *e, const ConfItem *table, const ConfItem *item, void *base,
                        KeySource *keys, unsigned *error_count) {
        KeySource *k = &keys[item - table];
        const char *file = file_name(l, e->file);
        _cleanup_free_ char *why = NULL;
        unsigned before = l->n_errors;
        bool replace = false;
        int r;

        if (e->continuation) {
                if (item->type != CONF_STRV) {
                        load_error(l, file, e->line, "%s %s: a continuation line is only allowed for list keys",
                                   l->label, item->key);
                        goto finish;
                }
        } else if (item->type == CONF_STRV)
                /* The first occurrence replaces the default; a later file replaces a CONF_LIST_REPLACE
                 * list (and extends it within itself); otherwise lists grow. */
                replace = k->file == 0 || ((item->flags & CONF_LIST_REPLACE) && k->file != e->file + 1);
        else if (k->file == e->file + 1) {
                load_error(l, file, e->line, "%s %s: already set at line %u of this file; remove one of the two",
                           l->label, item->key, k->line);
                goto finish;
        }

        r = conf_item_apply(item, base, e->value, replace, &why);
        if (r == -ENOMEM)
                l->oom = true;
        else if (r < 0)
                load_error(l, file, e->line, "%s %s: %s", l->label, item->key, why ? why : "bad value");
        if (!e->continuation)
                *k = (KeySource) { .file = e->file + 1, .line = e->line };
finish:
        if (error_count)
                *error_count += l->n_errors - before;
}

static void unknown_key(Loader *l, const Entry *e, const char *hint) {
        if (e->continuation)
                return; /* its first line was reported */
        load_error(l, file_name(l, e->file), e->line, "unknown key %s in %s%s", e->key, l->label, hint ? hint : "");
}

static void apply_server_key(Loader *l, const Entry *e) {
        Config *c = l->config;
        const ConfItem *item;

        if ((item = conf_table_find(config_directives, e->key)))
                apply_entry(l, e, config_directives, item, c, l->server_keys, NULL);
        else if ((item = conf_table_find(http_site_directives, e->key)))
                apply_entry(l, e, http_site_directives, item, &c->site, l->site_keys, NULL);
        else if (strcasecmp(e->key, LOAD_MODULE) == 0) {
                /* Collected before this pass. */
                if (e->continuation)
                        load_error(l, file_name(l, e->file), e->line,
                                   "[Server] " LOAD_MODULE ": a continuation line is only allowed for list keys");
        } else if (c->mpm && conf_table_find(l->mpm_table, e->key)) {
                _cleanup_free_ char *hint = NULL;

                if (asprintf(&hint, " (it belongs in [%s])", c->mpm->name) < 0) {
                        hint = NULL;
                        l->oom = true;
                }
                unknown_key(l, e, hint);
        } else
                unknown_key(l, e, NULL);
}

static void apply_vhost_key(Loader *l, const Entry *e) {
        ConfigVhost *v = &l->config->vhosts[l->index];
        VhostKeys *k = &l->vhost_keys[l->index];
        const ConfItem *item;

        if ((item = conf_table_find(vhost_directives, e->key)))
                apply_entry(l, e, vhost_directives, item, v, k->own, NULL);
        else if ((item = conf_table_find(http_site_directives, e->key)))
                apply_entry(l, e, http_site_directives, item, &v->site, k->site, NULL);
        else if (conf_table_find(config_directives, e->key) || strcasecmp(e->key, LOAD_MODULE) == 0)
                unknown_key(l, e, " (it is only allowed in [Server])");
        else
                unknown_key(l, e, NULL);
}

static void apply_mpm_key(Loader *l, const Entry *e, const ConfItem *table, void *config, KeySource *keys,
                          unsigned *error_count) {
        const ConfItem *item = conf_table_find(table, e->key);

        if (item) {
                apply_entry(l, e, table, item, config, keys, error_count);
                return;
        }
        if (!e->continuation && error_count)
                (*error_count)++;
        if (conf_table_find(config_directives, e->key) || conf_table_find(http_site_directives, e->key) ||
            strcasecmp(e->key, LOAD_MODULE) == 0)
                unknown_key(l, e, " (it belongs in [Server])");
        else
                unknown_key(l, e, NULL);
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

static void section_enter(Loader *l, const Entry *e) {
        const char *name = e->section, *file = file_name(l, e->file);
        const size_t vh = strlen("VirtualHost");
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
                                   "unknown section [%s]; expected [Server], [VirtualHost NAME] or an MPM section",
                                   name);
        }
        if (r < 0) {
                l->label = NULL;
                l->kind = SECTION_SKIP;
                l->oom = true;
        }
}

void apply_entries(Loader *l) {
        unsigned file = UINT32_MAX;

        for (size_t i = 0; i < l->n_entries && !l->oom; i++) {
                const Entry *e = &l->entries[i];

                if (e->file != file) {
                        file = e->file;
                        l->kind = SECTION_NONE;
                }
                if (e->section) {
                        section_enter(l, e);
                        continue;
                }
                switch (l->kind) {
                case SECTION_NONE:
                        if (!e->continuation)
                                load_error(l, file_name(l, e->file), e->line,
                                           "%s: a key before the first section; expected [Server], "
                                           "[VirtualHost NAME] or an MPM section above it",
                                           e->key);
                        break;
                case SECTION_SKIP:
                        break;
                case SECTION_SERVER:
                        apply_server_key(l, e);
                        break;
                case SECTION_VHOST:
                        apply_vhost_key(l, e);
                        break;
                case SECTION_MPM:
                        apply_mpm_key(l, e, l->mpm_table, l->config->mpm_config, l->mpm_keys, &l->mpm_errors);
                        break;
                case SECTION_OTHER_MPM: {
                        OtherMpm *o = &l->others[l->index];

                        if (o->config && o->keys)
                                apply_mpm_key(l, e, o->ops->directives ? o->ops->directives : empty_directives,
                                              o->config, o->keys, NULL);
                        break;
                }
                }
        }
}

/* ---- after all files ---------------------------------------------------------------------- */

void inherit_vhosts(Loader *l) {
        Config *c = l->config;
        size_t n = conf_table_size(http_site_directives);

        for (size_t i = 0; i < c->n_vhosts; i++)
                for (size_t row = 0; row < n; row++) {
                        if (l->vhost_keys[i].site[row].file != 0)
                                continue;
                        if (conf_item_copy(&http_site_directives[row], &c->vhosts[i].site, &c->site) < 0)
                                l->oom = true;
                }
}

