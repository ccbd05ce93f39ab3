/* SPDX-License-Identifier: MIT */
/* config.c — reading the files (inih, through our own line reader), then resolving what they say.
 *
 * Debian's libinih cuts lines at 199 bytes and reports only the first bad line of a file, so the
 * reader sees every line first: it counts lines itself, reports over-long and malformed lines, and
 * hands inih an empty line instead so that nothing is reported twice or half-parsed. inih's handler
 * only records entries. Resolution runs in two passes over those entries: LoadModule lines first
 * (the MPM decides which section names are valid and what its keys mean), then everything else in
 * file order, so later files override or extend what earlier ones said. */
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cgi.h"
#include "config.h"
#include "server-logs.h"
#include "site-limits.h"
#include "strv.h"

static const char *const log_level_names[] = {
        "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug", NULL,
};

const char *log_level_to_string(int l) {
        if (l < 0 || (size_t) l >= ELEMENTSOF(log_level_names) - 1)
                return NULL;
        return log_level_names[l];
}

#define CFG(field) offsetof(Config, field)

/* The supervisor's own [Server] keys. The engine's keys are http_site_directives. */
static const ConfItem config_directives[] = {
        { "Listen", CONF_STRV, CFG(listen), NULL,
          .expect = "addresses (ADDR:PORT, [V6]:PORT) or systemd socket names" },
        { "User", CONF_STRING, CFG(user), NULL, .expect = "a user name" },
        { "Group", CONF_STRING, CFG(group), NULL, .expect = "a group name" },
        { "LogLevel", CONF_ENUM, CFG(log_level), "warn", .names = log_level_names,
          .expect = "one of emerg, alert, crit, error, warn, notice, info, debug" },
        { "PidFile", CONF_PATH, CFG(pid_file), NULL, .expect = "an absolute path" },
        { "GracefulShutdownTimeout", CONF_USEC, CFG(graceful_shutdown_timeout), "10", 0, 3600 * USEC_PER_SEC,
          .expect = "a time from 0 to 3600 s" },
        { "GracefulReloadTimeout", CONF_USEC, CFG(graceful_reload_timeout), "30", 0, 3600 * USEC_PER_SEC,
          .expect = "a time from 0 to 3600 s" },
        { "ControlSocket", CONF_PATH, CFG(control_socket), "/run/mpmd/control", .expect = "an absolute path" },
        { "MinUID", CONF_UINT, CFG(min_uid), "1000", 0, UINT32_MAX - 1, .expect = "a user id" },
        { "MinGID", CONF_UINT, CFG(min_gid), "1000", 0, UINT32_MAX - 1, .expect = "a group id" },
        CONF_TABLE_END,
};

#define VH(field) offsetof(ConfigVhost, field)

/* What a [VirtualHost] may set besides the engine's keys. Not inherited from [Server]. */
static const ConfItem vhost_directives[] = {
        { "Listen", CONF_STRV, VH(listen), NULL,
          .expect = "addresses (ADDR:PORT, [V6]:PORT) or systemd socket names" },
        { "User", CONF_STRING, VH(user), NULL, .expect = "a user name" },
        { "Group", CONF_STRING, VH(group), NULL, .expect = "a group name" },
        { "PoolProcesses", CONF_UINT, VH(pool_processes), "0", 0, 1024,
          .expect = "a number of processes from 1 to 1024, or 0 for [perchild] StartServers" },
        /* The site's CGI limits: a key not set here takes the MPM's default ([perchild]). */
        SITE_LIMITS_ROWS(VH(limits), false),
        CONF_TABLE_END,
};

static const ConfItem empty_directives[] = { CONF_TABLE_END };

/* Section names of every MPM of the project: a file may carry tuning for several of them. */
static const char *const mpm_section_names[] = { "prefork", "worker", "event", "perchild" };

#define LOAD_MODULE "LoadModule"

static char *mfree_str(char *p) {
        free(p);
        return NULL;
}

static bool strv_isempty(char *const *l) {
        return !l || !l[0];
}

typedef struct KeySource {
        unsigned file; /* index into Config.files + 1; 0: never set, the value is the default */
        unsigned line;
} KeySource;

typedef struct Entry {
        unsigned file; /* index into Config.files */
        unsigned line;
        char *section; /* a "[section]" line: its name, and key and value are NULL */
        char *key;
        char *value;
        bool continuation;
        bool broken; /* a "[section" line (reported): the keys below it belong nowhere */
} Entry;

typedef enum LineKind {
        LINE_IGNORED,
        LINE_SECTION,
        LINE_KEY,
        LINE_CONTINUATION,
} LineKind;

typedef struct Reader {
        FILE *f;
        const char *path;
        unsigned file;
        unsigned line;
        char *buf;
        size_t size;
        LineKind kind;
        bool inih_has_prev; /* mirrors inih's prev_name: an indented line then continues a key */
        char *cont_key;     /* the key continuation lines belong to; NULL: drop them (already reported) */
        unsigned cont_line;
} Reader;

typedef struct VhostKeys {
        KeySource *own;  /* vhost_directives */
        KeySource *site; /* http_site_directives */
} VhostKeys;

typedef struct OtherMpm {
        bool looked_up;
        const MpmOps *ops; /* NULL: not built in, its section is not checked */
        void *config;      /* scratch: values are checked, never used */
        KeySource *keys;
} OtherMpm;

typedef enum SectionKind {
        SECTION_NONE, /* before the first section of a file */
        SECTION_SKIP, /* a bad section, already reported */
        SECTION_SERVER,
        SECTION_VHOST,
        SECTION_MPM,
        SECTION_OTHER_MPM,
} SectionKind;

typedef struct Loader {
        const ConfigLoadOptions *opts;
        Config *config;
        ConfErrors *errors, *warnings;
        unsigned n_errors;
        bool oom;

        Entry *entries;
        size_t n_entries;
        Reader reader;

        KeySource server_keys[ELEMENTSOF(config_directives)];
        KeySource *site_keys;
        VhostKeys *vhost_keys; /* parallel to config->vhosts */
        const ConfItem *mpm_table;
        KeySource *mpm_keys;
        unsigned mpm_errors;
        OtherMpm others[ELEMENTSOF(mpm_section_names)];

        /* the section of the entry being resolved */
        SectionKind kind;
        size_t index; /* vhost or others[] */
        char *label;  /* "[Server]", "[VirtualHost NAME]", "[prefork]" */
} Loader;

static void load_error(Loader *l, const char *file, unsigned line, const char *fmt, ...) _printf_(4, 5);
static void load_error(Loader *l, const char *file, unsigned line, const char *fmt, ...) {
        va_list ap;

        l->n_errors++;
        va_start(ap, fmt);
        conf_errors_addv(l->errors, file, line, fmt, ap);
        va_end(ap);
}

static void load_warning(Loader *l, const char *file, unsigned line, const char *fmt, ...) _printf_(4, 5);
static void load_warning(Loader *l, const char *file, unsigned line, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        conf_errors_addv(l->warnings, file, line, fmt, ap);
        va_end(ap);
}

static const char *file_name(const Loader *l, unsigned file) {
        return l->config->files[file];
}

/* Where a key got its value: the line that set it, or the main file for a default. */
static void key_source(const Loader *l, const KeySource *k, const char **ret_file, unsigned *ret_line) {
        if (k->file == 0) {
                *ret_file = l->config->main_file;
                *ret_line = 0;
        } else {
                *ret_file = file_name(l, k->file - 1);
                *ret_line = k->line;
        }
}

static char *strdup_trimmed(const char *s, size_t n) {
        while (n > 0 && isspace((unsigned char) *s)) {
                s++;
                n--;
        }
        while (n > 0 && isspace((unsigned char) s[n - 1]))
                n--;
        return strndup(s, n);
}

/* ---- reading ------------------------------------------------------------------------------ */

static int entry_add(Loader *l, const char *section, const char *key, const char *value, bool continuation,
                     bool broken) {
        Entry *grown, *e;

        grown = realloc(l->entries, (l->n_entries + 1) * sizeof(Entry));
        if (!grown)
                return -ENOMEM;
        l->entries = grown;
        e = &l->entries[l->n_entries];
        *e = (Entry) {
                .file = l->reader.file,
                .line = l->reader.line,
                .section = section ? strdup(section) : NULL,
                .key = key ? strdup(key) : NULL,
                .value = value ? strdup(value) : NULL,
                .continuation = continuation,
                .broken = broken,
        };
        l->n_entries++;
        if ((section && !e->section) || (key && !e->key) || (value && !e->value))
                return -ENOMEM;
        return 0;
}

/* inih's find_chars_or_comment() with INI_ALLOW_INLINE_COMMENTS and ";": the first of chars, or a
 * ';' that follows whitespace. Mirrored so that the reader classifies a line exactly as inih will. */
static char *find_chars_or_comment(char *s, const char *chars) {
        bool was_space = false;

        while (*s && (!chars || !strchr(chars, *s)) && !(was_space && *s == ';')) {
                was_space = isspace((unsigned char) *s);
                s++;
        }
        return s;
}

static void reader_forget_key(Reader *r) {
        r->cont_key = mfree_str(r->cont_key);
}

static void reader_bad_line(Loader *l, char *line) {
        load_error(l, l->reader.path, l->reader.line, "expected \"Key = value\" or \"[Section]\"");
        reader_forget_key(&l->reader);
        line[0] = '\0';
}

/* An indented "Key = value" continues the key above it (inih's multiline rule): almost always a
 * key indented by habit, which would silently become words of the previous list. */
static bool looks_like_key_line(const char *s) {
        if (!isalpha((unsigned char) *s))
                return false;
        while (isalnum((unsigned char) *s))
                s++;
        s += strspn(s, " \t");
        return *s == '=';
}

static void reader_classify(Loader *l, char *line) {
        Reader *r = &l->reader;
        char *start = line, *end;

        if (r->line == 1 && (unsigned char) start[0] == 0xEF && (unsigned char) start[1] == 0xBB &&
            (unsigned char) start[2] == 0xBF)
                start += 3;
        start += strspn(start, " \t\r\n\f\v");

        if (*start == '\0' || strchr(";#", *start)) {
                r->kind = LINE_IGNORED;
                return;
        }

        if (r->inih_has_prev && start > line) {
                /* inih keeps inline comments in continuation lines; a file's author does not mean that. */
                *find_chars_or_comment(start, NULL) = '\0';
                if (looks_like_key_line(start)) {
                        if (r->cont_key)
                                load_error(l, r->path, r->line,
                                           "this indented line would continue %s of line %u: write \"Key = value\" "
                                           "lines without indentation",
                                           r->cont_key, r->cont_line);
                        else
                                load_error(l, r->path, r->line,
                                           "this indented line would continue the line above: write \"Key = value\" "
                                           "lines without indentation");
                        reader_forget_key(r);
                        line[0] = '\0';
                        return;
                }
                r->kind = LINE_CONTINUATION;
                return;
        }

        if (*start == '[') {
                _cleanup_free_ char *name = NULL;

                end = find_chars_or_comment(start + 1, "]");
                if (*end != ']') {
                        /* Keys below it would otherwise land in the section above, with confusing errors. */
                        if (entry_add(l, "", NULL, NULL, false, true) < 0)
                                l->oom = true;
                        reader_bad_line(l, line);
                        return;
                }
                name = strdup_trimmed(start + 1, (size_t) (end - start - 1));
                if (!name || entry_add(l, name, NULL, NULL, false, false) < 0)
                        l->oom = true;
                r->kind = LINE_SECTION;
                r->inih_has_prev = false;
                reader_forget_key(r);
                return;
        }

        end = find_chars_or_comment(start, "=:");
        if (*end != '=' && *end != ':') {
                reader_bad_line(l, line);
                return;
        }
        {
                _cleanup_free_ char *key = strdup_trimmed(start, (size_t) (end - start));

                if (!key) {
                        l->oom = true;
                        return;
                }
                /* "Listen 127.0.0.1:80" (Apache's syntax) would otherwise become a key with a space. */
                if (key[0] == '\0' || key[strcspn(key, " \t")] != '\0') {
                        reader_bad_line(l, line);
                        return;
                }
                free(r->cont_key);
                r->cont_key = TAKE_PTR(key);
                r->cont_line = r->line;
        }
        r->inih_has_prev = true;
        r->kind = LINE_KEY;
}

/* inih's ini_reader: one physical line per call, so inih's line numbers are ours. */
static char *reader_read(char *str, int num, void *stream) {
        Loader *l = stream;
        Reader *r = &l->reader;
        size_t max = num > 1 ? (size_t) num - 1 : 0, len;
        ssize_t n;

        errno = 0;
        n = getline(&r->buf, &r->size, r->f);
        if (n < 0) {
                if (errno == ENOMEM)
                        l->oom = true;
                else if (ferror(r->f))
                        load_error(l, r->path, 0, "cannot read: %s", strerror(errno ? errno : EIO));
                return NULL;
        }
        r->line++;
        r->kind = LINE_IGNORED;
        len = (size_t) n;
        if (len > 0 && r->buf[len - 1] == '\n')
                len--;
        if (len > 0 && r->buf[len - 1] == '\r')
                len--;
        str[0] = '\0';
        if (memchr(r->buf, '\0', len)) {
                load_error(l, r->path, r->line, "line contains a NUL byte");
                reader_forget_key(r);
                return str;
        }
        if (len > max) {
                load_error(l, r->path, r->line,
                           "line is %zu bytes long, at most %zu are allowed: split the value over continuation "
                           "lines or repeated keys",
                           len, max);
                reader_forget_key(r);
                return str;
        }
        memcpy(str, r->buf, len);
        str[len] = '\0';
        reader_classify(l, str);
        return str;
}

/* inih's section is ignored: it is cut at 49 bytes, and the reader recorded the whole name. */
static int reader_handler(void *user, const char *section, const char *name, const char *value) {
        Loader *l = user;
        Reader *r = &l->reader;
        const char *key = name;
        bool continuation = false;

        if (r->kind == LINE_CONTINUATION) {
                if (!r->cont_key)
                        return 1; /* continues a line already reported as bad */
                key = r->cont_key;
                continuation = true;
        }
        if (entry_add(l, NULL, key, value, continuation, false) < 0) {
                l->oom = true;
                return 0;
        }
        return 1;
}

static void read_file(Loader *l, const char *path) {
        FILE *f;
        int r;

        f = fopen(path, "re");
        if (!f) {
                load_error(l, path, 0, "cannot open: %s", strerror(errno));
                return;
        }
        if (strv_push(&l->config->files, path) < 0) {
                fclose(f);
                l->oom = true;
                return;
        }
        free(l->reader.cont_key);
        l->reader = (Reader) {
                .f = f,
                .path = l->config->files[strv_length(l->config->files) - 1],
                .file = (unsigned) strv_length(l->config->files) - 1,
                .buf = l->reader.buf,
                .size = l->reader.size,
        };
        r = ini_parse_stream(reader_read, l, reader_handler, l);
        if (r == -2 || l->oom)
                l->oom = true;
        else if (r != 0)
                /* The reader hands inih only lines it accepts: this is a backstop, never ignored. */
                load_error(l, path, r > 0 ? (unsigned) r : 0, "the INI parser rejected this line (inih error %d)", r);
        l->reader.f = NULL;
        fclose(f);
}

static bool is_conf_name(const char *name) {
        size_t n = strlen(name);

        return name[0] != '.' && n > strlen(".conf") && strcmp(name + n - strlen(".conf"), ".conf") == 0;
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Every regular *.conf in the conf.d folder beside main_file, sorted by strcmp. */
static void read_confd(Loader *l, const char *main_file) {
        _cleanup_free_ char *dir = NULL;
        const char *slash = strrchr(main_file, '/');
        char **names = NULL;
        struct dirent *de;
        DIR *d;
        int r;

        if (!slash)
                r = asprintf(&dir, "conf.d");
        else
                r = asprintf(&dir, "%.*s/conf.d", (int) (slash - main_file), main_file);
        if (r < 0) {
                l->oom = true;
                return;
        }
        d = opendir(dir);
        if (!d) {
                if (errno != ENOENT)
                        load_error(l, dir, 0, "cannot read the folder: %s", strerror(errno));
                return;
        }
        while ((errno = 0, de = readdir(d))) {
                _cleanup_free_ char *path = NULL;
                struct stat st;

                if (!is_conf_name(de->d_name))
                        continue;
                if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
                        l->oom = true;
                        break;
                }
                /* Follows symlinks: linking files in from elsewhere is the usual way to enable them. */
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0) {
                        load_error(l, path, 0, "cannot open: %s", strerror(errno));
                        continue;
                }
                if (!S_ISREG(st.st_mode))
                        continue;
                if (strv_push(&names, path) < 0) {
                        l->oom = true;
                        break;
                }
        }
        if (errno != 0 && !l->oom)
                load_error(l, dir, 0, "cannot read the folder: %s", strerror(errno));
        closedir(d);
        if (names) /* qsort() may not be given NULL, even for nothing */
                qsort(names, strv_length(names), sizeof(char *), strcmp_ptr);
        STRV_FOREACH(p, names)
                read_file(l, *p);
        strv_free(names);
}

/* ---- the MPM ------------------------------------------------------------------------------ */

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

static void collect_modules(Loader *l) {
        Config *c = l->config;
        unsigned file = UINT32_MAX;
        bool in_server = false;

        for (size_t i = 0; i < l->n_entries; i++) {
                const Entry *e = &l->entries[i];
                _cleanup_free_ char *name = NULL, *path = NULL;
                const char *v = e->value ? e->value : "", *p;
                ConfigModule *grown;
                size_t n;

                if (e->file != file) {
                        file = e->file;
                        in_server = false;
                }
                if (e->section) {
                        in_server = !e->broken && strcasecmp(e->section, "Server") == 0;
                        continue;
                }
                if (!in_server || e->continuation || strcasecmp(e->key, LOAD_MODULE) != 0)
                        continue;

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

static void resolve_mpm(Loader *l) {
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
static void *mpm_config_new(Loader *l, const MpmOps *ops, const ConfItem *table) {
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
                .own = calloc(ELEMENTSOF(vhost_directives), sizeof(KeySource)),
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

        l->label = mfree_str(l->label);
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
                for (size_t i = 0; i < ELEMENTSOF(mpm_section_names); i++) {
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

static void apply_entries(Loader *l) {
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

static void inherit_vhosts(Loader *l) {
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

static void check_directory(Loader *l, const char *label, const KeySource *k, const char *path) {
        const char *file;
        unsigned line;
        struct stat st;

        key_source(l, k, &file, &line);
        if (stat(path, &st) < 0)
                load_error(l, file, line, "%s DocumentRoot: %s: %s", label, path, strerror(errno));
        else if (!S_ISDIR(st.st_mode))
                load_error(l, file, line, "%s DocumentRoot: %s: %s", label, path, strerror(ENOTDIR));
}

static size_t row_of(const ConfItem *table, const char *key) {
        return (size_t) (conf_table_find(table, key) - table);
}

/* Resolves User and Group of [Server] (ret_* may be NULL for a vhost, with min_id checks). */
static void check_identity(Loader *l, const char *label, const char *user, const KeySource *user_key,
                           const char *group, const KeySource *group_key, bool vhost, uid_t *ret_uid,
                           gid_t *ret_gid) {
        const Config *c = l->config;
        const char *file;
        unsigned line;
        uid_t uid = (uid_t) -1;
        gid_t gid = (gid_t) -1;

        if (user) {
                struct passwd *pw;

                key_source(l, user_key, &file, &line);
                errno = 0;
                pw = getpwnam(user);
                if (!pw) {
                        if (errno == 0 || errno == ENOENT || errno == ESRCH)
                                load_error(l, file, line, "%s User: no such user \"%s\"", label, user);
                        else
                                load_error(l, file, line, "%s User: cannot look up \"%s\": %s", label, user,
                                           strerror(errno));
                } else {
                        uid = pw->pw_uid;
                        gid = pw->pw_gid;
                        /* A site's own processes must not run as a system account (suexec's rule),
                         * and never as root, whatever MinUID says. */
                        if (vhost && uid < c->min_uid)
                                load_error(l, file, line, "%s User: \"%s\" has uid %u, below MinUID %u", label,
                                           user, (unsigned) uid, c->min_uid);
                        else if (vhost && uid == 0)
                                load_error(l, file, line, "%s User: \"%s\" is root; a site never runs as root",
                                           label, user);
                }
        }
        if (group) {
                struct group *gr;

                key_source(l, group_key, &file, &line);
                errno = 0;
                gr = getgrnam(group);
                if (!gr) {
                        if (errno == 0 || errno == ENOENT || errno == ESRCH)
                                load_error(l, file, line, "%s Group: no such group \"%s\"", label, group);
                        else
                                load_error(l, file, line, "%s Group: cannot look up \"%s\": %s", label, group,
                                           strerror(errno));
                } else {
                        gid = gr->gr_gid;
                        if (vhost && gid < c->min_gid)
                                load_error(l, file, line, "%s Group: \"%s\" has gid %u, below MinGID %u", label,
                                           group, (unsigned) gid, c->min_gid);
                        else if (vhost && gid == 0)
                                load_error(l, file, line, "%s Group: \"%s\" is gid 0; a site never runs as it",
                                           label, group);
                }
        }
        if (ret_uid)
                *ret_uid = uid;
        if (ret_gid)
                *ret_gid = gid;
}

/* Under a per-user MPM, the paths of a site with a User of its own are the site's: a root supervisor
 * opens them only as that user when it builds a generation (site-open.h), and says there what
 * fails. Looking at them here as root would both follow the site's symlinks and fail for a home
 * only the site may enter. */
bool config_site_paths_are_its_own(const Config *c, const ConfigVhost *v) {
        return c->mpm && (c->mpm->flags & MPM_PER_USER) && v->user && geteuid() == 0;
}

static void check_filesystem(Loader *l) {
        Config *c = l->config;
        size_t docroot = row_of(http_site_directives, "DocumentRoot");
        size_t user = row_of(config_directives, "User"), group = row_of(config_directives, "Group");
        size_t vuser = row_of(vhost_directives, "User"), vgroup = row_of(vhost_directives, "Group");

        if (c->site.document_root)
                check_directory(l, "[Server]", &l->site_keys[docroot], c->site.document_root);
        check_identity(l, "[Server]", c->user, &l->server_keys[user], c->group, &l->server_keys[group], false,
                       &c->uid, &c->gid);

        for (size_t i = 0; i < c->n_vhosts; i++) {
                ConfigVhost *v = &c->vhosts[i];
                VhostKeys *k = &l->vhost_keys[i];
                _cleanup_free_ char *label = NULL;

                if (asprintf(&label, "[VirtualHost %s]", v->name) < 0) {
                        l->oom = true;
                        return;
                }
                /* An inherited DocumentRoot was checked as [Server]'s; a site's own paths are not
                 * looked at with our rights at all (config_site_paths_are_its_own). */
                if (k->site[docroot].file != 0 && v->site.document_root && !config_site_paths_are_its_own(c, v))
                        check_directory(l, label, &k->site[docroot], v->site.document_root);
                check_identity(l, label, v->user, &k->own[vuser], v->group, &k->own[vgroup], true, &v->uid, &v->gid);
        }
}

/* CustomLog: a path and a format that compiles (the files are opened when a generation starts). */
/* A site key whose value only its module can judge as a whole: checked once the files are read, the
 * error placed at the line that set it. check() returns < 0 with *why (malloc'd, may stay NULL). */
typedef int (*SiteKeyCheck)(const HttpSiteConfig *cfg, char **why);

/* The checkers' texts may start with the key itself; the location already names it. */
static const char *site_key_why(const char *key, const char *why) {
        size_t n = strlen(key);

        if (!why)
                return "invalid";
        if (strncmp(why, key, n) == 0 && why[n] == ':' && why[n + 1] == ' ')
                return why + n + 2;
        return why;
}

/* on_disk: check() looks at the filesystem, which a site's own paths are not checked against here. */
static void check_site_key(Loader *l, const char *key, SiteKeyCheck check, bool on_disk) {
        Config *c = l->config;
        size_t row = row_of(http_site_directives, key);
        const char *file;
        unsigned line;
        char *why = NULL;

        if (check(&c->site, &why) < 0) {
                key_source(l, &l->site_keys[row], &file, &line);
                load_error(l, file, line, "[Server] %s: %s", key, site_key_why(key, why));
                why = mfree(why);
        }
        for (size_t i = 0; i < c->n_vhosts; i++) {
                const KeySource *k = &l->vhost_keys[i].site[row];
                if (k->file == 0) /* inherited: checked as [Server]'s */
                        continue;
                if (on_disk && config_site_paths_are_its_own(c, &c->vhosts[i]))
                        continue;
                if (check(&c->vhosts[i].site, &why) < 0) {
                        key_source(l, k, &file, &line);
                        load_error(l, file, line, "[VirtualHost %s] %s: %s", c->vhosts[i].name, key,
                                   site_key_why(key, why));
                        why = mfree(why);
                }
        }
}

static int check_custom_log(const HttpSiteConfig *cfg, char **why) {
        return cfg->custom_log ? http_site_log_check(cfg, why) : 0;
}

static int check_read_timeout(const HttpSiteConfig *cfg, char **why) {
        HttpReadTimeout t;
        const char *error = NULL;

        if (!cfg->request_read_timeout || http_read_timeout_parse(cfg->request_read_timeout, &t, &error) >= 0)
                return 0;
        *why = strdup(error ? error : "invalid");
        return -EINVAL;
}

static int check_script_alias(const HttpSiteConfig *cfg, char **why) {
        if (!cfg->script_alias)
                return 0;
        return cgi_script_alias_check(cfg, why);
}

static int check_add_handler(const HttpSiteConfig *cfg, char **why) {
        return cfg->add_handler ? cgi_add_handler_check(cfg, why) : 0;
}

/* The directories are opened when a generation is built: say now which one is missing. */
static int check_script_alias_directories(const HttpSiteConfig *cfg, char **why) {
        if (!cfg->script_alias || cgi_script_alias_check(cfg, why) < 0) {
                *why = mfree(*why); /* a bad list is reported by check_script_alias() */
                return 0;
        }
        for (char **p = cfg->script_alias; p[0] && p[1]; p += 2) {
                struct stat st;
                int e = stat(p[1], &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
                if (e != 0) {
                        if (asprintf(why, "%s: %s", p[1], strerror(e)) < 0)
                                *why = NULL;
                        return -EINVAL;
                }
        }
        return 0;
}

static void check_site_keys(Loader *l) {
        check_site_key(l, "CustomLog", check_custom_log, false);
        check_site_key(l, "RequestReadTimeout", check_read_timeout, false);
        check_site_key(l, "ScriptAlias", check_script_alias, false);
        check_site_key(l, "AddHandler", check_add_handler, false);
        if (l->opts->check_filesystem)
                check_site_key(l, "ScriptAlias", check_script_alias_directories, true);
}

static void check_listen(Loader *l) {
        const Config *c = l->config;

        if (!strv_isempty(c->listen))
                return;
        for (size_t i = 0; i < c->n_vhosts; i++)
                if (!strv_isempty(c->vhosts[i].listen))
                        return;
        load_error(l, c->main_file, 0, "[Server] Listen: at least one Listen address or socket name is required");
}

static void check_mpm(Loader *l) {
        Config *c = l->config;
        size_t before = l->errors ? l->errors->n : 0, added;
        int r;

        /* Clamping values that failed to parse would only add noise to the errors already given. */
        if (!c->mpm || !c->mpm_config || l->mpm_errors > 0 || !c->mpm->check_config)
                return;
        r = c->mpm->check_config(c->mpm_config, l->errors, l->warnings);
        added = l->errors ? l->errors->n - before : 0;
        /* Its errors are fatal whatever it returns; a failure without a message still gets one. */
        l->n_errors += (unsigned) added;
        if (r < 0 && added == 0)
                load_error(l, c->main_file, 0, "[%s]: the MPM rejected its settings", c->mpm->name);
}

/* An MPM key that names a site (CONF_SITE_NAME) must name a [VirtualHost] of this configuration. */
static void check_mpm_site_names(Loader *l) {
        const Config *c = l->config;

        if (!c->mpm || !c->mpm_config || l->mpm_errors > 0)
                return;
        for (const ConfItem *it = l->mpm_table; it->key; it++) {
                const char *name, *file;
                bool found = false;
                unsigned line;

                if (!(it->flags & CONF_SITE_NAME))
                        continue;
                name = *(char *const *) ((const char *) c->mpm_config + it->offset); /* a CONF_STRING */
                if (!name)
                        continue;
                for (size_t i = 0; i < c->n_vhosts && !found; i++)
                        found = strcmp(c->vhosts[i].name, name) == 0;
                if (found)
                        continue;
                key_source(l, &l->mpm_keys[it - l->mpm_table], &file, &line);
                load_error(l, file, line, "[%s] %s: no [VirtualHost %s] in the configuration", c->mpm->name,
                           it->key, name);
        }
}

/* Each site's CGI limits: what its section sets, the MPM's defaults for the rest (none without an
 * MPM that has them). Values the table's bounds cannot express are checked at the line that set
 * them; CPUWeight, which only a cgroup could enforce, is kept and warned about. */
static void resolve_site_limits(Loader *l) {
        Config *c = l->config;
        const SiteLimits *defaults = c->mpm && c->mpm_config && c->mpm->site_limits
                                             ? c->mpm->site_limits(c->mpm_config)
                                             : NULL;
        size_t first = row_of(vhost_directives, site_limits_keys[SITE_LIMIT_MAX_PROCESSES]);
        const char *key, *file;
        unsigned line;

        if (defaults) {
                c->limits = *defaults;
                for (SiteLimitKey k = 0; k < SITE_LIMITS_N_KEYS; k++) {
                        const ConfItem *it = conf_table_find(l->mpm_table, site_limits_keys[k]);
                        if (!it || l->mpm_keys[it - l->mpm_table].file == 0)
                                continue;
                        key_source(l, &l->mpm_keys[it - l->mpm_table], &file, &line);
                        if (k == SITE_LIMIT_MEMORY_MAX && site_limits_check(defaults, &key) < 0)
                                load_error(l, file, line, "[%s] MemoryMax: expected at least 16M, or 0 for no limit",
                                           c->mpm->name);
                        if (k == SITE_LIMIT_CPU_WEIGHT && defaults->cpu_weight > 0)
                                load_warning(l, file, line,
                                             "[%s] CPUWeight: needs cgroup v2, which this mpmd does not use yet: "
                                             "no CPU weighting is applied",
                                             c->mpm->name);
                }
        }
        for (size_t i = 0; i < c->n_vhosts; i++) {
                ConfigVhost *v = &c->vhosts[i];
                const KeySource *own = l->vhost_keys[i].own;
                SiteLimits set = v->limits;

                v->limits = c->limits;
                for (SiteLimitKey k = 0; k < SITE_LIMITS_N_KEYS; k++) {
                        const KeySource *ks = &own[first + k];
                        if (ks->file == 0)
                                continue;
                        site_limits_copy_key(&v->limits, &set, k);
                        key_source(l, ks, &file, &line);
                        if (k == SITE_LIMIT_MEMORY_MAX && site_limits_check(&set, &key) < 0)
                                load_error(l, file, line,
                                           "[VirtualHost %s] MemoryMax: expected at least 16M, or 0 for no limit",
                                           v->name);
                        if (k == SITE_LIMIT_CPU_WEIGHT && set.cpu_weight > 0)
                                load_warning(l, file, line,
                                             "[VirtualHost %s] CPUWeight: needs cgroup v2, which this mpmd does not "
                                             "use yet: no CPU weighting is applied",
                                             v->name);
                }
        }
}

/* An MPM that runs sites under their own ids (perchild) takes a site's identity whole: User and
 * Group together, or neither (the site then shares the [Server] User's pool). A User alone would
 * leave the gid to the passwd entry, which the operator did not name. */
static void check_site_identities(Loader *l) {
        const Config *c = l->config;
        size_t vuser = row_of(vhost_directives, "User"), vgroup = row_of(vhost_directives, "Group");

        if (!c->mpm || !(c->mpm->flags & MPM_PER_USER))
                return;
        for (size_t i = 0; i < c->n_vhosts; i++) {
                const ConfigVhost *v = &c->vhosts[i];
                const KeySource *k = v->user ? &l->vhost_keys[i].own[vuser] : &l->vhost_keys[i].own[vgroup];
                const char *file;
                unsigned line;

                if (!v->user == !v->group)
                        continue;
                key_source(l, k, &file, &line);
                load_error(l, file, line, "[VirtualHost %s] %s: MPM %s needs User and Group together (%s is missing)",
                           v->name, v->user ? "User" : "Group", c->mpm->name, v->user ? "Group" : "User");
        }
}

static void loader_done(Loader *l) {
        for (size_t i = 0; i < l->n_entries; i++) {
                free(l->entries[i].section);
                free(l->entries[i].key);
                free(l->entries[i].value);
        }
        free(l->entries);
        free(l->reader.buf);
        free(l->reader.cont_key);
        free(l->site_keys);
        for (size_t i = 0; l->config && i < l->config->n_vhosts; i++) {
                free(l->vhost_keys[i].own);
                free(l->vhost_keys[i].site);
        }
        free(l->vhost_keys);
        free(l->mpm_keys);
        for (size_t i = 0; i < ELEMENTSOF(l->others); i++) {
                OtherMpm *o = &l->others[i];

                if (o->config)
                        conf_table_free(o->ops->directives, o->config);
                free(o->config);
                free(o->keys);
        }
        free(l->label);
}

int config_load(const char *main_file, const ConfigLoadOptions *opts, Config **ret, ConfErrors *errors,
                ConfErrors *warnings) {
        static const ConfigLoadOptions no_options = {};
        Loader l = {
                .opts = opts ? opts : &no_options,
                .errors = errors,
                .warnings = warnings,
        };
        Config *c;
        int r;

        *ret = NULL;
        c = l.config = calloc(1, sizeof(Config));
        if (!c)
                return -ENOMEM;
        c->uid = (uid_t) -1;
        c->gid = (gid_t) -1;
        c->main_file = strdup(main_file);
        l.site_keys = calloc(conf_table_size(http_site_directives) + 1, sizeof(KeySource));
        if (!c->main_file || !l.site_keys || conf_table_defaults(config_directives, c) < 0 ||
            conf_table_defaults(http_site_directives, &c->site) < 0) {
                r = -ENOMEM;
                goto finish;
        }

        read_file(&l, main_file);
        if (strv_isempty(c->files)) { /* without the main file, conf.d would be read out of context */
                r = -EINVAL;
                goto finish;
        }
        read_confd(&l, main_file);
        if (l.oom) {
                r = -ENOMEM;
                goto finish;
        }

        collect_modules(&l);
        resolve_mpm(&l);
        if (c->mpm) {
                l.mpm_table = c->mpm->directives ? c->mpm->directives : empty_directives;
                l.mpm_keys = calloc(conf_table_size(l.mpm_table) + 1, sizeof(KeySource));
                c->mpm_config = mpm_config_new(&l, c->mpm, l.mpm_table);
                if (!l.mpm_keys)
                        l.oom = true;
                if (!c->mpm_config)
                        c->mpm = NULL; /* reported; the sections are still checked */
        }
        if (l.oom) {
                r = -ENOMEM;
                goto finish;
        }

        apply_entries(&l);
        inherit_vhosts(&l);
        check_listen(&l);
        check_site_keys(&l);
        if (l.opts->check_filesystem)
                check_filesystem(&l);
        check_mpm(&l);
        resolve_site_limits(&l);
        check_mpm_site_names(&l);
        check_site_identities(&l);

        r = l.oom ? -ENOMEM : l.n_errors > 0 ? -EINVAL : 0;
finish:
        loader_done(&l);
        if (r < 0) {
                config_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        conf_table_free(config_directives, c);
        conf_table_free(http_site_directives, &c->site);
        for (size_t i = 0; i < c->n_vhosts; i++) {
                ConfigVhost *v = &c->vhosts[i];

                free(v->name);
                free(v->source.file);
                conf_table_free(vhost_directives, v);
                conf_table_free(http_site_directives, &v->site);
        }
        free(c->vhosts);
        for (size_t i = 0; i < c->n_modules; i++) {
                free(c->modules[i].name);
                free(c->modules[i].path);
                free(c->modules[i].source.file);
        }
        free(c->modules);
        if (c->mpm_config && c->mpm)
                conf_table_free(c->mpm->directives, c->mpm_config);
        free(c->mpm_config);
        strv_free(c->files);
        free(c->main_file);
        free(c);
        return NULL;
}

/* ---- reload ------------------------------------------------------------------------------- */

static const char *mpm_describe(const Config *c) {
        if (!c->mpm)
                return "(none)";
        return c->mpm->name;
}

static unsigned check_restart_only(const ConfItem *table, const char *label, const void *old, const void *new,
                                   const char *file, ConfErrors *errors) {
        unsigned n = 0;

        for (const ConfItem *i = table; i && i->key; i++) {
                _cleanup_free_ char *was = NULL, *now = NULL;

                if (!(i->flags & CONF_RESTART_ONLY) || conf_item_equal(i, old, new))
                        continue;
                was = conf_item_format(i, old);
                now = conf_item_format(i, new);
                conf_errors_add(errors, file, 0,
                                "%s %s cannot change on reload (was %s, now %s): restart mpmd to apply it", label,
                                i->key, was ? was : "?", now ? now : "?");
                n++;
        }
        return n;
}

int config_check_reload(const Config *old, const Config *new, ConfErrors *errors) {
        _cleanup_free_ char *label = NULL;
        unsigned n = 0;

        if (old->mpm != new->mpm) {
                if (old->mpm && new->mpm && strcmp(old->mpm->name, new->mpm->name) == 0)
                        /* Same name, another module file: its table and struct may differ too. */
                        conf_errors_add(errors, new->main_file, 0,
                                        "MPM cannot change on reload (was %s from %s, now %s from %s): restart mpmd "
                                        "to apply it",
                                        old->mpm->name, old->n_modules > 0 ? old->modules[0].path : "mpmd",
                                        new->mpm->name, new->n_modules > 0 ? new->modules[0].path : "mpmd");
                else
                        conf_errors_add(errors, new->main_file, 0,
                                        "MPM cannot change on reload (was %s, now %s): restart mpmd to apply it",
                                        mpm_describe(old), mpm_describe(new));
                return -EINVAL;
        }
        n += check_restart_only(config_directives, "[Server]", old, new, new->main_file, errors);
        n += check_restart_only(http_site_directives, "[Server]", &old->site, &new->site, new->main_file, errors);
        if (new->mpm && old->mpm_config && new->mpm_config) {
                if (asprintf(&label, "[%s]", new->mpm->name) < 0)
                        return -ENOMEM;
                n += check_restart_only(new->mpm->directives, label, old->mpm_config, new->mpm_config,
                                        new->main_file, errors);
        }
        return n > 0 ? -EINVAL : 0;
}
