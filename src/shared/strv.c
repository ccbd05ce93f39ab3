/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/strv.h"

size_t strv_length(char *const *l) {
        size_t n = 0;

        STRV_FOREACH(s, l)
                n++;
        return n;
}

char **strv_free(char **l) {
        STRV_FOREACH(s, l)
                free(*s);
        free(l);
        return NULL;
}

int strv_push(char ***l, const char *s) {
        size_t n = strv_length(*l);
        char *copy, **grown;

        copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        grown = realloc(*l, (n + 2) * sizeof(char *));
        if (!grown) {
                free(copy);
                return -ENOMEM;
        }
        grown[n] = copy;
        grown[n + 1] = NULL;
        *l = grown;
        return 0;
}

char **strv_copy(char *const *l) {
        size_t n = strv_length(l);
        char **copy;

        if (!l)
                return NULL;
        copy = calloc(n + 1, sizeof(char *));
        if (!copy)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                copy[i] = strdup(l[i]);
                if (!copy[i])
                        return strv_free(copy);
        }
        return copy;
}

bool strv_contains(char *const *l, const char *s) {
        STRV_FOREACH(i, l)
                if (strcmp(*i, s) == 0)
                        return true;
        return false;
}

char **strv_split_words(const char *s) {
        static const char space[] = " \t\r\n\f\v";
        char **words = calloc(1, sizeof(char *));

        if (!words)
                return NULL;
        while (*(s += strspn(s, space))) {
                size_t n = strcspn(s, space);
                char *w = strndup(s, n);

                if (!w || strv_push(&words, w) < 0) {
                        free(w);
                        return strv_free(words);
                }
                free(w);
                s += n;
        }
        return words;
}
