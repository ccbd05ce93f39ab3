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

#define STRV_FOREACH(s, l) for (char *const *s = (l); s && *s; s++)
