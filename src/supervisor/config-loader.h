/* SPDX-License-Identifier: MIT */
/* config-loader.h — the state config_load() shares between its parts (private to src/supervisor/config*.c).
 *
 * The loader runs in steps, one file each: config-read.c reads the files into entries (inih behind
 * our own line reader), config-modules.c finds the MPM (LoadModule or the built-in one),
 * config-apply.c applies the entries section by section and fills in what virtual hosts inherit,
 * config-check.c checks the result as a whole (identities, files, site names, site limits, server
 * names) and compares two configurations on reload. config.c holds the tables of the supervisor's
 * own keys and config_load() itself, which calls the steps in order. Every step reports through
 * load_error()/load_warning() and never stops at the first problem. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "supervisor/config.h"

/* The supervisor's own [Server] keys, the keys only a [VirtualHost] has, an empty table (an MPM
 * without directives) and the section names of every MPM of the project (config.c). */
extern const ConfItem config_directives[];
extern const ConfItem vhost_directives[];
extern const ConfItem empty_directives[];
#define CONFIG_N_MPM_SECTIONS 4
extern const char *const mpm_section_names[CONFIG_N_MPM_SECTIONS];

#define LOAD_MODULE "LoadModule"

typedef struct KeySource {
        unsigned file; /* index into Config.files + 1; 0: never set, the value is the default */
        unsigned line;
} KeySource;

typedef enum EntryMark {
        ENTRY_PLAIN,
        ENTRY_INCLUDE_BEGIN, /* an included file follows: it starts in the section of the Include line */
        ENTRY_INCLUDE_END,   /* back in the including file: its section again */
} EntryMark;

typedef struct Entry {
        unsigned file; /* index into Config.files */
        unsigned unit; /* the main file or a conf.d file with what it includes; a unit starts outside any section */
        EntryMark mark;
        unsigned line;
        char *section; /* a "[section]" line: its name, and key and value are NULL */
        char *key;
        char *value;
        unsigned cont_line; /* the first indented line joined to value (inih's multi-line rule); 0: none */
        bool broken; /* a "[section" line (reported): the keys below it belong nowhere */
        bool skip;   /* the value could not be expanded (reported): neither applied nor complained about again */
} Entry;

typedef enum LineKind {
        LINE_IGNORED,
        LINE_SECTION,
        LINE_KEY,
        LINE_CONTINUATION,
} LineKind;

typedef enum ReadSection {
        READ_TOP,    /* before the first section of a main or conf.d file */
        READ_SERVER, /* in [Server] */
        READ_OTHER,
} ReadSection;

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
        bool cont_refused;  /* cont_key is Include or Define, which take one line */
        bool in_quotes;     /* the value read so far has an open '"' (its continuation lines are inside) */
        unsigned depth;     /* 0: a main or conf.d file; n: included through n Include lines */
        ReadSection section; /* where Define may be written */
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
        SECTION_PATH, /* [Location …]: index into config->locations */
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
        unsigned unit;
        char **including; /* the canonical paths of the files being read, outermost first (Include) */
        char **defines;   /* NAME, VALUE, NAME, VALUE...: -D, then Define lines in reading order */

        KeySource *server_keys; /* config_directives */
        KeySource *site_keys;
        VhostKeys *vhost_keys; /* parallel to config->vhosts */
        KeySource **location_keys; /* parallel to config->locations: http_site_directives */
        const ConfItem *mpm_table;
        KeySource *mpm_keys;
        unsigned mpm_errors;
        OtherMpm others[CONFIG_N_MPM_SECTIONS];

        /* the section of the entry being resolved */
        SectionKind kind;
        size_t index; /* vhost or others[] */
        char *label;  /* "[Server]", "[VirtualHost NAME]", "[prefork]", "[Location /p/]" */
} Loader;

void load_error(Loader *l, const char *file, unsigned line, const char *fmt, ...) _printf_(4, 5);
void load_warning(Loader *l, const char *file, unsigned line, const char *fmt, ...) _printf_(4, 5);

static inline bool strv_isempty(char *const *l) {
        return !l || !l[0];
}

static inline const char *file_name(const Loader *l, unsigned file) {
        return l->config->files[file];
}

/* Where a key got its value: the line that set it, or the main file for a default. */
static inline void key_source(const Loader *l, const KeySource *k, const char **ret_file, unsigned *ret_line) {
        if (k->file == 0) {
                *ret_file = l->config->main_file;
                *ret_line = 0;
        } else {
                *ret_file = file_name(l, k->file - 1);
                *ret_line = k->line;
        }
}

static inline size_t row_of(const ConfItem *table, const char *key) {
        return (size_t) (conf_table_find(table, key) - table);
}

/* config-read.c: the main file, then conf.d/ beside it; Include lines read their files where they
 * stand; Define lines and -D (opts->defines) give the ${NAME} that every later value may use. */
#define CONFIG_INCLUDE_MAX_DEPTH 16
void read_defines_from_options(Loader *l);
void read_file(Loader *l, const char *path);
void read_confd(Loader *l, const char *main_file);

/* config-modules.c: LoadModule lines, then the MPM they (or the build) name. */
void collect_modules(Loader *l);
void resolve_mpm(Loader *l);
void *mpm_config_new(Loader *l, const MpmOps *ops, const ConfItem *table);

/* config-apply.c: every entry into its section's struct, then what virtual hosts inherit, then what
 * path sections inherit (each from its enclosing section) and each site's list of them. */
void apply_entries(Loader *l);
void inherit_vhosts(Loader *l);
void inherit_locations(Loader *l);

/* config-check.c: the configuration as a whole. */
void check_listen(Loader *l);
void check_remote_ip(Loader *l);
void check_site_keys(Loader *l);
void resolve_log_formats(Loader *l);
void check_filesystem(Loader *l);
void check_mpm(Loader *l);
void resolve_site_limits(Loader *l);
void check_mpm_site_names(Loader *l);
void check_site_identities(Loader *l);
void check_server_names(Loader *l);
void check_startup(Loader *l); /* opts->check_startup: mpmd -t */
/* HTTPS: certificate and key lines paired, TLS listeners refused where they cannot be served
 * (opts->tls); then, with check_filesystem and no error so far, the certificate store built into
 * config->tls, which checks every certificate and key (build_tls). */
void check_tls(Loader *l);
void build_tls(Loader *l);
