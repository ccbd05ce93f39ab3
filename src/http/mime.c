/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/macro.h"
#include "http/mime.h"

/* Open addressing with linear probing: entries are never removed, so no tombstones are needed.
 * The table is kept at most half full so probe chains stay short. */
#define MIME_TABLE_MIN_SLOTS 64

typedef struct MimeEntry {
        char *ext; /* lower case; one allocation holding ext, NUL, type, NUL; NULL = free slot */
        const char *type;
} MimeEntry;

struct MimeTable {
        MimeEntry *slots;
        size_t n_slots; /* a power of two */
        size_t n_entries;
};

static char ascii_lower(char c) {
        return c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
}

/* FNV-1a over the lower-cased bytes, so that lookups need no lower-cased copy of the key. */
static uint64_t ext_hash(const char *ext) {
        uint64_t h = UINT64_C(14695981039346656037);

        for (; *ext; ext++) {
                h ^= (unsigned char) ascii_lower(*ext);
                h *= UINT64_C(1099511628211);
        }
        return h;
}

static bool ext_equal(const char *stored, const char *ext) {
        for (; *stored && *ext; stored++, ext++)
                if (*stored != ascii_lower(*ext))
                        return false;
        return *stored == *ext;
}

static const char *ext_strip_dot(const char *ext) {
        return ext[0] == '.' ? ext + 1 : ext;
}

static MimeEntry *table_find(MimeEntry *slots, size_t n_slots, const char *ext) {
        size_t mask = n_slots - 1;

        for (size_t i = ext_hash(ext) & mask;; i = (i + 1) & mask)
                if (!slots[i].ext || ext_equal(slots[i].ext, ext))
                        return &slots[i];
}

static int table_grow(MimeTable *t) {
        size_t n = t->n_slots * 2;
        MimeEntry *slots;

        slots = calloc(n, sizeof(MimeEntry));
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_slots; i++)
                if (t->slots[i].ext)
                        *table_find(slots, n, t->slots[i].ext) = t->slots[i];
        free(t->slots);
        t->slots = slots;
        t->n_slots = n;
        return 0;
}

int mime_table_new(MimeTable **ret) {
        _cleanup_free_ MimeTable *t = NULL;

        t = calloc(1, sizeof(MimeTable));
        if (!t)
                return -ENOMEM;
        t->slots = calloc(MIME_TABLE_MIN_SLOTS, sizeof(MimeEntry));
        if (!t->slots)
                return -ENOMEM;
        t->n_slots = MIME_TABLE_MIN_SLOTS;
        *ret = TAKE_PTR(t);
        return 0;
}

MimeTable *mime_table_free(MimeTable *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_slots; i++)
                free(t->slots[i].ext);
        free(t->slots);
        free(t);
        return NULL;
}

static bool type_valid(const char *type) {
        /* The type is sent verbatim in Content-Type: no CR/LF or other control bytes. Parameters
         * ("text/html; charset=utf-8") are allowed, as AddType allows them. */
        if (!strchr(type, '/') || type[0] == ' ')
                return false;
        for (const char *p = type; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return false;
        return true;
}

static bool ext_valid(const char *ext) {
        if (*ext == 0)
                return false;
        for (const char *p = ext; *p; p++)
                if ((unsigned char) *p <= 0x20 || *p == 0x7f || *p == '/')
                        return false;
        return true;
}

int mime_table_add(MimeTable *t, const char *type, const char *ext) {
        size_t ext_len, type_len;
        MimeEntry *e;
        char *buf;

        if (!t || !type || !ext)
                return -EINVAL;
        ext = ext_strip_dot(ext);
        if (!type_valid(type) || !ext_valid(ext))
                return -EINVAL;

        if ((t->n_entries + 1) * 2 > t->n_slots) {
                int r = table_grow(t);
                if (r < 0)
                        return r;
        }

        ext_len = strlen(ext);
        type_len = strlen(type);
        buf = malloc(ext_len + 1 + type_len + 1);
        if (!buf)
                return -ENOMEM;
        for (size_t i = 0; i < ext_len; i++)
                buf[i] = ascii_lower(ext[i]);
        buf[ext_len] = 0;
        memcpy(buf + ext_len + 1, type, type_len + 1);

        e = table_find(t->slots, t->n_slots, buf);
        if (e->ext)
                free(e->ext);
        else
                t->n_entries++;
        e->ext = buf;
        e->type = buf + ext_len + 1;
        return 0;
}

const char *mime_table_lookup(const MimeTable *t, const char *ext) {
        const MimeEntry *e;

        if (!t || !ext)
                return NULL;
        ext = ext_strip_dot(ext);
        if (*ext == 0)
                return NULL;
        e = table_find(t->slots, t->n_slots, ext);
        return e->ext ? e->type : NULL;
}

static void file_closep(FILE **f) {
        if (*f)
                fclose(*f);
}

int mime_table_load(MimeTable *t, const char *path) {
        _cleanup_(file_closep) FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t line_size = 0;
        ssize_t k;
        int n = 0;

        if (!t || !path)
                return -EINVAL;

        f = fopen(path, "re");
        if (!f)
                return -errno;

        while ((k = getline(&line, &line_size, f)) >= 0) {
                char *save = NULL, *type, *ext, *hash;

                hash = memchr(line, '#', (size_t) k);
                if (hash)
                        *hash = 0;

                type = strtok_r(line, " \t\r\n\v\f", &save);
                if (!type)
                        continue;
                while ((ext = strtok_r(NULL, " \t\r\n\v\f", &save))) {
                        int r = mime_table_add(t, type, ext);
                        if (r == -ENOMEM)
                                return r;
                        if (r >= 0 && n < INT32_MAX)
                                n++;
                }
        }
        if (ferror(f))
                return errno > 0 ? -errno : -EIO;
        return n;
}
