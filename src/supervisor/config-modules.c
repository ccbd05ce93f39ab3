/* SPDX-License-Identifier: MIT */
/* config-modules.c — the MPM: LoadModule lines (collected before anything else is applied, since
 * the MPM decides which section names are valid and what its keys mean), dlopen() of the module or
 * the built-in MPM, and the MPM's configuration struct with its defaults. */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "supervisor/config-loader.h"


/* "mpm_event_module" → "event"; NULL when the name is not of that form. */
static char *module_mpm_name(const char *module) {
        size_t n = strlen(module);

        if (n <= strlen("mpm_") + strlen("_module") || strncmp(module, "mpm_", 4) != 0 ||
            strcmp(module + n - strlen("_module"), "_module") != 0)
                return NULL;
        return strndup(module + 4, n - strlen("mpm_") - strlen("_module"));
}

static bool module_is(const ConfigModule *m, const char *mpm_name) {
        _cleanup_free_ char *name = module_mpm_name(m->name);

        return name && strcmp(name, mpm_name) == 0;
}

void collect_modules(Loader *l) {
        Config *c = l->config;
        bool saved[CONFIG_INCLUDE_MAX_DEPTH + 1] = {};
        unsigned unit = 0, depth = 0;
        bool in_server = false;

        for (size_t i = 0; i < l->n_entries; i++) {
                const Entry *e = &l->entries[i];
                _cleanup_free_ char *name = NULL, *path = NULL;
                const char *v = e->value ? e->value : "", *p;
                ConfigModule *grown;
                size_t n;

                /* The sections as apply_entries() walks them (units, Include's saved section). */
                if (e->unit != unit) {
                        unit = e->unit;
                        in_server = false;
                }
                if (e->mark == ENTRY_INCLUDE_BEGIN) {
                        if (depth < ELEMENTSOF(saved))
                                saved[depth] = in_server;
                        depth++;
                        continue;
                }
                if (e->mark == ENTRY_INCLUDE_END) {
                        if (depth > 0 && --depth < ELEMENTSOF(saved))
                                in_server = saved[depth];
                        continue;
                }
                if (e->section) {
                        in_server = !e->broken && strcasecmp(e->section, "Server") == 0;
                        continue;
                }
                if (!in_server || e->skip || strcasecmp(e->key, LOAD_MODULE) != 0)
                        continue;
                if (e->cont_line != 0) {
                        load_error(l, file_name(l, e->file), e->cont_line,
                                   "[Server] " LOAD_MODULE ": a continuation line is only allowed for keys that take "
                                   "text or a list");
                        continue;
                }

                /* NAME PATH, two words */
                p = v + strspn(v, " \t");
                n = strcspn(p, " \t");
                name = strndup(p, n);
                p += n;
                p += strspn(p, " \t");
                n = strcspn(p, " \t");
                path = strndup(p, n);
                if (!name || !path) {
                        l->oom = true;
                        return;
                }
                if (name[0] == '\0' || path[0] != '/' || p[n + strspn(p + n, " \t")] != '\0') {
                        load_error(l, file_name(l, e->file), e->line,
                                   "[Server] " LOAD_MODULE ": expected a module name and an absolute path, got \"%s\"",
                                   v);
                        continue;
                }
                grown = realloc(c->modules, (c->n_modules + 1) * sizeof(ConfigModule));
                if (!grown) {
                        l->oom = true;
                        return;
                }
                c->modules = grown;
                c->modules[c->n_modules] = (ConfigModule) {
                        .name = TAKE_PTR(name),
                        .path = TAKE_PTR(path),
                        .source = { .file = strdup(file_name(l, e->file)), .line = e->line },
                };
                if (!c->modules[c->n_modules++].source.file)
                        l->oom = true;
        }
}

static const MpmOps *module_load(Loader *l, const ConfigModule *m) {
        const MpmOps *ops;
        void *h;

        /* RTLD_NODELETE: generations, their workers and their log lines point into the module's
         * data and code long after this Config is freed; it stays mapped for the process's life. */
        h = dlopen(m->path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
        if (!h) {
                load_error(l, m->source.file, m->source.line, "[Server] " LOAD_MODULE ": %s", dlerror());
                return NULL;
        }
        (void) dlerror();
        ops = dlsym(h, m->name);
        if (!ops) {
                const char *why = dlerror();

                load_error(l, m->source.file, m->source.line, "[Server] " LOAD_MODULE ": %s has no symbol %s%s%s",
                           m->path, m->name, why ? ": " : "", why ? why : "");
                dlclose(h);
                return NULL;
        }
        if (ops->magic != MPM_MAGIC_NUMBER) {
                load_error(l, m->source.file, m->source.line,
                           "[Server] " LOAD_MODULE ": %s was built for another mpmd version (magic %u, expected %u)",
                           m->path, (unsigned) ops->magic, (unsigned) MPM_MAGIC_NUMBER);
                dlclose(h);
                return NULL;
        }
        if (!ops->name || !ops->name[0]) {
                load_error(l, m->source.file, m->source.line, "[Server] " LOAD_MODULE ": %s: %s has no name",
                           m->path, m->name);
                dlclose(h);
                return NULL;
        }
        dlclose(h); /* only drops the reference: RTLD_NODELETE */
        return ops;
}

static const MpmOps *module_find_builtin(Loader *l, const ConfigModule *m) {
        _cleanup_free_ char *name = module_mpm_name(m->name);
        const MpmOps *ops = name ? mpm_find_builtin(name) : NULL;

        if (!ops) {
                size_t n = 0;
                char *list, *p;

                for (const MpmOps *const *b = mpm_builtin; *b; b++)
                        n += strlen((*b)->name) + 2;
                list = p = malloc(n + sizeof("(none)"));
                if (!list) {
                        l->oom = true;
                        return NULL;
                }
                *p = '\0';
                for (const MpmOps *const *b = mpm_builtin; *b; b++)
                        p = stpcpy(stpcpy(p, b == mpm_builtin ? "" : ", "), (*b)->name);
                load_error(l, m->source.file, m->source.line,
                           "[Server] " LOAD_MODULE ": unknown MPM module %s (built in: %s)", m->name,
                           list[0] ? list : "(none)");
                free(list);
        }
        return ops;
}

void resolve_mpm(Loader *l) {
        Config *c = l->config;
        const MpmOps *builtin = l->opts->builtin_mpm;

        if (c->n_modules == 0) {
                if (builtin)
                        c->mpm = builtin;
                else
                        load_error(l, c->main_file, 0, "mpmd: Configuration error: No MPM loaded.");
                return;
        }
        if (c->n_modules > 1 || (builtin && !module_is(&c->modules[0], builtin->name))) {
                load_error(l, c->main_file, 0, "mpmd: Configuration error: More than one MPM loaded.");
                for (size_t i = 0; i < c->n_modules; i++) {
                        const ConfigModule *m = &c->modules[i];

                        if (builtin)
                                load_error(l, m->source.file, m->source.line,
                                           "[Server] " LOAD_MODULE ": %s is loaded here, and the %s MPM is built in",
                                           m->name, builtin->name);
                        else
                                load_error(l, m->source.file, m->source.line,
                                           "[Server] " LOAD_MODULE ": %s is loaded here", m->name);
                }
                return;
        }
        if (builtin) {
                load_warning(l, c->modules[0].source.file, c->modules[0].source.line,
                             "[Server] " LOAD_MODULE ": %s is built into mpmd, the line has no effect",
                             c->modules[0].name);
                c->mpm = builtin;
        } else if (l->opts->load_modules)
                c->mpm = module_load(l, &c->modules[0]);
        else
                c->mpm = module_find_builtin(l, &c->modules[0]);
}

/* A struct described by table, with its defaults; NULL on -ENOMEM or a bad default. */
void *mpm_config_new(Loader *l, const MpmOps *ops, const ConfItem *table) {
        void *config = calloc(1, MAX(ops->config_size, (size_t) 1));

        if (!config) {
                l->oom = true;
                return NULL;
        }
        if (conf_table_defaults(table, config) < 0) {
                load_error(l, l->config->main_file, 0, "[%s]: the MPM's table of directives has a bad default",
                           ops->name);
                conf_table_free(table, config);
                free(config);
                return NULL;
        }
        return config;
}

