/* SPDX-License-Identifier: MIT */
/* conf-table.h — declarative configuration tables and strict value parsers.
 *
 * Every module that has directives owns a table of ConfItem rows ({section, key, type, offset,
 * default, min, max}); the configuration loader only looks keys up in those tables and calls
 * conf_item_apply(). Defaults are written as text and go through the same parser as the files, so
 * a table row reads like the manual. Numbers are parsed strictly: the whole string, no sign, no
 * spaces, range-checked. Errors are collected, never printed here: the caller decides. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "strv.h"

typedef enum ConfType {
        CONF_STRING, /* any non-empty string */
        CONF_PATH,   /* an absolute path */
        CONF_STRV,   /* a list: each occurrence appends its whitespace-separated words */
        CONF_UINT,   /* unsigned decimal, min..max → uint32_t */
        CONF_SIZE,   /* bytes, optional K/M/G suffix (powers of 1024), min..max → uint64_t */
        CONF_USEC,   /* seconds, or a number with suffix ms/s/min, min..max (in usec) → usec_t */
        CONF_BOOL,   /* On/Off, yes/no, true/false, 1/0 (any case) → bool */
        CONF_ENUM,   /* one of names[] (any case) → int, the index */
        _CONF_TYPE_MAX,
} ConfType;

enum {
        CONF_RESTART_ONLY = 1u << 0, /* cannot change on reload: reported, not applied */
        CONF_LIST_REPLACE = 1u << 1, /* CONF_STRV: a later file replaces instead of extending */
        CONF_SITE_NAME = 1u << 2,    /* CONF_STRING: names a [VirtualHost] (the loader knows them) */
};

typedef struct ConfItem {
        const char *key;
        ConfType type;
        size_t offset; /* into the struct the table describes */
        const char *default_value; /* text, parsed like a file's value; NULL: zero/NULL */
        uint64_t min, max;         /* CONF_UINT, CONF_SIZE, CONF_USEC (usec) */
        const char *const *names;  /* CONF_ENUM: NULL-terminated */
        unsigned flags;
        const char *expect; /* for messages: what a good value looks like, e.g. "a port 1-65535" */
} ConfItem;

/* A table is an array of rows ending with a row whose key is NULL. */
#define CONF_TABLE_END { .key = NULL }

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

/* The value of one row as a file would write it ("5s", "8K", "On", "a b"); malloc'd, NULL on
 * -ENOMEM. For messages such as "cannot change on reload (was X, now Y)". */
char *conf_item_format(const ConfItem *item, const void *base);
bool conf_item_equal(const ConfItem *item, const void *a, const void *b);

/* Strict parsers, usable on their own. All return 0 or -EINVAL/-ERANGE. */
int parse_uint64(const char *s, uint64_t *ret);           /* decimal digits only, no sign */
int parse_size(const char *s, uint64_t *ret);             /* 512, 8K, 1M, 1G (1024-based) */
int parse_usec(const char *s, usec_t *ret);               /* 5, 5s, 500ms, 2min */
int parse_boolean(const char *s);                         /* 1, 0, or -EINVAL */
