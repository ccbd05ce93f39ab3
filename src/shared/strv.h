/* SPDX-License-Identifier: MIT */
/* strv.h — NULL-terminated lists of malloc'd strings, the representation of list directives. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

size_t strv_length(char *const *l);
char **strv_free(char **l); /* frees l and every string; accepts NULL; returns NULL */
int strv_push(char ***l, const char *s); /* appends a copy of s; 0 or -ENOMEM */
char **strv_copy(char *const *l); /* deep copy; NULL for NULL or on -ENOMEM */
bool strv_contains(char *const *l, const char *s);
/* s split on whitespace (space, tab, CR, LF, FF, VT) into a list, empty for a blank s; NULL only
 * on -ENOMEM. */
char **strv_split_words(const char *s);

static inline void strv_freep(char ***l) {
        strv_free(*l);
}
#define _cleanup_strv_free_ __attribute__((cleanup(strv_freep)))

#define STRV_FOREACH(s, l) for (char *const *s = (l); s && *s; s++)
