/* SPDX-License-Identifier: MIT */
/* conf-table.h — declarative configuration tables and strict value parsers.
 *
 * Every module that has directives owns a table of ConfItem rows ({key, type, offset, default, min,
 * max}, and where a type needs it, the row's own parse and check callbacks, as nginx's
 * ngx_command_t set/post and systemd's config_parse_* per row); the configuration loader only
 * looks keys up in those tables and calls conf_item_apply_at(). A row also says in which sections
 * it may be written (contexts) and, for a list, whether a later file or a narrower section
 * replaces or extends it. Defaults are written as text and go through the same parser as the
 * files, so a table row reads like the manual. Numbers are parsed strictly: the whole string, no
 * sign, no spaces, range-checked. Errors are collected, never printed here: the caller decides. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"
#include "shared/strv.h"

typedef enum ConfType {
        CONF_STRING, /* any non-empty string */
        CONF_PATH,   /* an absolute path */
        CONF_STRV,   /* a list: each occurrence appends its whitespace-separated words */
        CONF_UINT,   /* unsigned decimal, min..max → uint32_t */
        CONF_SIZE,   /* bytes, optional K/M/G suffix (powers of 1024), min..max → uint64_t */
        CONF_USEC,   /* seconds, or a number with suffix ms/s/min, min..max (in usec) → usec_t */
        CONF_BOOL,   /* On/Off, yes/no, true/false, 1/0 (any case) → bool */
        CONF_ENUM,   /* one of names[] (any case) → int, the index */
        CONF_LINES,  /* a directive written on several lines: each line one ConfLine with its file:line */
        CONF_CUSTOM, /* the row's parse() stores item->size bytes of plain data; format() shows them */
        _CONF_TYPE_MAX,
} ConfType;

enum {
        CONF_RESTART_ONLY = 1u << 0, /* cannot change on reload: reported, not applied */
        CONF_LIST_REPLACE = 1u << 1, /* CONF_STRV: a later file replaces instead of extending */
        CONF_SITE_NAME = 1u << 2,    /* CONF_STRING: names a [VirtualHost] (the loader knows them) */
        /* CONF_LINES: a narrower section ([VirtualHost] under [Server]) appends its lines to the ones
         * it inherits; without it, a section that gives the key replaces the inherited list.
         * CONF_CUSTOM with a merge(): the row's merge() combines the two values. */
        CONF_LIST_APPEND_INHERITED = 1u << 3,
        /* CONF_CUSTOM: a list written on several lines. The loader passes ctx->replace_list as for a
         * CONF_STRV (the first occurrence replaces the default; with CONF_LIST_REPLACE a later file
         * replaces) and lets the key repeat within a file; the row's parse() adds or replaces. */
        CONF_LIST = 1u << 4,
};

/* Where a row may be written (ConfItem.contexts). 0 in a row: the context of the section its table
 * belongs to (the loader knows: an MPM's table is for its section). */
enum {
        CONF_CTX_SERVER = 1u << 0, /* [Server] */
        CONF_CTX_VHOST = 1u << 1,  /* [VirtualHost NAME] */
        CONF_CTX_MPM = 1u << 2,    /* the MPM's own section, such as [perchild] */
        CONF_CTX_PATH = 1u << 3,   /* a path section: [Location /prefix/], [Location NAME /prefix/] */
};

/* One line of a CONF_LINES directive, in file order. file is "" for a default. */
typedef struct ConfLine {
        char *value;
        char *file;
        unsigned line;
} ConfLine;

typedef struct ConfLines {
        ConfLine *lines;
        size_t n;
} ConfLines;

/* Where a value comes from, and how a list takes it. */
typedef struct ConfApplyContext {
        const char *file; /* NULL: a default or a caller's own value */
        unsigned line;
        bool replace_list; /* CONF_STRV, CONF_LINES: this occurrence replaces what the list held */
} ConfApplyContext;

typedef struct ConfItem ConfItem;

/* A row's parser. For CONF_CUSTOM it stores the value into field (item->size bytes); for the other
 * types it only judges the value before the type stores it (field holds the value so far, e.g. the
 * list a ScriptAlias line is added to). 0, -EINVAL with *ret_error (malloc'd, may stay NULL: "bad
 * value"), or -ENOMEM. */
typedef int (*ConfParse)(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                         char **ret_error);
/* A row's check of its complete value, once every file is read and inherited: 0, or -EINVAL with
 * *ret_error (malloc'd, may stay NULL), or -ENOMEM. */
typedef int (*ConfCheck)(const ConfItem *item, const void *field, char **ret_error);
/* CONF_CUSTOM: the value as a file would write it (malloc'd; NULL on -ENOMEM). */
typedef char *(*ConfFormat)(const ConfItem *item, const void *field);
/* CONF_CUSTOM that owns memory (a list): deep-copy src over dst (dst holds a value or zeroes, and
 * keeps it on failure): 0 or -ENOMEM; and free what field owns, leaving zeroes. */
typedef int (*ConfCopy)(const ConfItem *item, void *dst, const void *src);
typedef void (*ConfDone)(const ConfItem *item, void *field);
/* CONF_CUSTOM with CONF_LIST_APPEND_INHERITED: a narrower section gave the key, field holds its own
 * value and parent the enclosing section's (complete, already inherited). Combine them in field as
 * the row's rule says (the parent's entries first, an own entry overriding one of the parent's…):
 * 0, or -ENOMEM with field unchanged. */
typedef int (*ConfMerge)(const ConfItem *item, void *field, const void *parent);

struct ConfItem {
        const char *key;
        ConfType type;
        size_t offset; /* into the struct the table describes */
        const char *default_value; /* text, parsed like a file's value; NULL: zero/NULL */
        uint64_t min, max;         /* CONF_UINT, CONF_SIZE, CONF_USEC (usec) */
        const char *const *names;  /* CONF_ENUM: NULL-terminated */
        unsigned flags;
        const char *expect; /* for messages: what a good value looks like, e.g. "a port 1-65535" */
        unsigned contexts;  /* CONF_CTX_*: where the key may be written; 0: its table's section */
        ConfParse parse;    /* CONF_CUSTOM: required; other types: optional, judges each value */
        ConfCheck check;    /* optional: judges the complete value after loading */
        ConfFormat format;  /* CONF_CUSTOM: required */
        size_t size;        /* CONF_CUSTOM: bytes of the field (plain data: zeroed and copied bytewise) */
        ConfCopy copy;      /* CONF_CUSTOM: optional, for a value that owns memory (else bytewise) */
        ConfDone done;      /* CONF_CUSTOM: optional, with copy: frees what the value owns */
        ConfMerge merge;    /* CONF_CUSTOM with CONF_LIST_APPEND_INHERITED: required */
};

/* A table is an array of rows ending with a row whose key is NULL. */
#define CONF_TABLE_END { .key = NULL }

/* For a ConfParse or ConfCheck: *ret_error = the formatted message (malloc'd); returns -EINVAL,
 * or -ENOMEM (*ret_error NULL) when it cannot be made. */
int conf_parse_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);

/* A list of error messages, each already formatted as "FILE:LINE: [Section] Key: what". */
typedef struct ConfErrors {
        char **msgs;
        size_t n;
} ConfErrors;

/* msgs is kept NULL-terminated. e may be NULL (the message is dropped). file NULL: the message
 * alone; line 0 (a default, or the file as a whole): "FILE: what". */
void conf_errors_add(ConfErrors *e, const char *file, unsigned line, const char *fmt, ...) _printf_(4, 5);
void conf_errors_addv(ConfErrors *e, const char *file, unsigned line, const char *fmt, va_list ap) _printf_(4, 0);
void conf_errors_done(ConfErrors *e);

/* Find a row by key, case-insensitively (Apache's directives are case-insensitive). */
const ConfItem *conf_table_find(const ConfItem *table, const char *key);
size_t conf_table_size(const ConfItem *table);

/* May item be written in context (one CONF_CTX_* bit)? table_contexts: what a row with contexts 0
 * allows. */
bool conf_item_allowed(const ConfItem *item, unsigned table_contexts, unsigned context);

/* Case-insensitive edit distance (insertions, deletions, substitutions, swaps of neighbours). */
unsigned conf_distance(const char *a, const char *b);

/* The key of table nearest to key, for "did you mean …?": only rows allowed in context (as
 * conf_item_allowed()) and only within a small distance (1 for keys up to 4 characters, 2 up to 8,
 * 3 beyond). *best_distance (in/out) is what it must beat, so that several tables can be asked in
 * turn; start with UINT_MAX. NULL when none is near enough. */
const char *conf_table_suggest(const ConfItem *table, unsigned table_contexts, unsigned context, const char *key,
                               unsigned *best_distance);

/* Set every row of table in the struct at base to its default. Returns 0 or -EINVAL (a bad
 * default in a table is a programming error; tests check every table). */
int conf_table_defaults(const ConfItem *table, void *base);

/* Free what the rows of table own in the struct at base (strings and lists). */
void conf_table_free(const ConfItem *table, void *base);

/* Deep-copy the value of one row from src to dst (both structs described by the same table). */
int conf_item_copy(const ConfItem *item, void *dst, const void *src);

/* Parse value for item into the struct at base. replace_list: the first occurrence of a CONF_STRV
 * key in a new file replaces what earlier files gave (with CONF_LIST_REPLACE) — the loader decides.
 * On a bad value returns -EINVAL and sets *ret_error to a malloc'd sentence saying what was
 * expected ("expected a number from 1 to 20000, got \"abc\""). */
int conf_item_apply(const ConfItem *item, void *base, const char *value, bool replace_list, char **ret_error);
/* The same with where the value comes from: CONF_LINES keeps it with each line, a row's parse()
 * sees it. */
int conf_item_apply_at(const ConfItem *item, void *base, const char *value, const ConfApplyContext *ctx,
                       char **ret_error);

/* Run the row's check() on its complete value in the struct at base; 0 when the row has none. */
int conf_item_check(const ConfItem *item, const void *base, char **ret_error);

/* What a narrower section that gave the key keeps of its parent's value: with
 * CONF_LIST_APPEND_INHERITED the parent's lines go before its own (CONF_LINES), or the row's merge()
 * combines the two (CONF_CUSTOM); otherwise nothing changes. A section that did not give the key
 * takes conf_item_copy() instead. */
int conf_item_merge_inherited(const ConfItem *item, void *base, const void *parent);

void conf_lines_done(ConfLines *l);
int conf_lines_append(ConfLines *l, const char *value, const char *file, unsigned line);

/* The value of one row as a file would write it ("5s", "8K", "On", "a b"); malloc'd, NULL on
 * -ENOMEM. For messages such as "cannot change on reload (was X, now Y)". */
char *conf_item_format(const ConfItem *item, const void *base);
bool conf_item_equal(const ConfItem *item, const void *a, const void *b);

/* Strict parsers, usable on their own. All return 0 or -EINVAL/-ERANGE. */
int parse_uint64(const char *s, uint64_t *ret);           /* decimal digits only, no sign */
int parse_size(const char *s, uint64_t *ret);             /* 512, 8K, 1M, 1G (1024-based) */
int parse_usec(const char *s, usec_t *ret);               /* 5, 5s, 500ms, 2min */
int parse_boolean(const char *s);                         /* 1, 0, or -EINVAL */
