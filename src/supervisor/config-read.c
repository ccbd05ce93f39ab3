/* SPDX-License-Identifier: MIT */
/* config-read.c — reading the files: inih, through our own line reader.
 *
 * Debian's libinih cuts lines at 199 bytes and reports only the first bad line of a file, so the
 * reader sees every line first: it counts lines itself, reports over-long and malformed lines, and
 * hands inih an empty line instead so that nothing is reported twice or half-parsed. inih's handler
 * only records entries (config-apply.c resolves them). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "supervisor/config-loader.h"
#include "shared/strv.h"

static char *mfree_str(char *p) {
        free(p);
        return NULL;
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

static int entry_add(Loader *l, const char *section, const char *key, const char *value, bool broken) {
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

static bool is_known_key(const char *name) {
        if (strcasecmp(name, LOAD_MODULE) == 0 || conf_table_find(config_directives, name) ||
            conf_table_find(vhost_directives, name) || conf_table_find(http_site_directives, name))
                return true;
        for (const MpmOps *const *m = mpm_builtin; *m; m++)
                if (conf_table_find((*m)->directives, name))
                        return true;
        return false;
}

/* An indented "Key = value" continues the key above it (inih's multiline rule): almost always a
 * key indented by habit, which would silently become words of the previous list. "Key = value"
 * written with spaces, or a known key however written, counts; a value's own "name=value" words
 * (charset=utf-8, body=20) continue it. */
static bool looks_like_key_line(const char *s) {
        const char *start = s;
        char name[64];
        size_t n, spaces;

        if (!isalpha((unsigned char) *s))
                return false;
        while (isalnum((unsigned char) *s))
                s++;
        n = (size_t) (s - start);
        spaces = strspn(s, " \t");
        s += spaces;
        if (*s != '=')
                return false;
        if (spaces > 0 || s[1] == ' ' || s[1] == '\t' || s[1] == '\0')
                return true;
        if (n >= sizeof(name))
                return false;
        memcpy(name, start, n);
        name[n] = '\0';
        return is_known_key(name);
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
                        if (entry_add(l, "", NULL, NULL, true) < 0)
                                l->oom = true;
                        reader_bad_line(l, line);
                        return;
                }
                name = strdup_trimmed(start + 1, (size_t) (end - start - 1));
                if (!name || entry_add(l, name, NULL, NULL, false) < 0)
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
                           "line too long (%zu bytes, max %zu bytes): split the value over indented continuation "
                           "lines",
                           len, max);
                reader_forget_key(r);
                return str;
        }
        memcpy(str, r->buf, len);
        str[len] = '\0';
        reader_classify(l, str);
        return str;
}

/* An indented line continues the key above it: inih hands it over as another value of the same
 * key. It joins the key's entry with a single space, so that a long value (a header, a list) can be
 * written over several lines and reads as one, with the line of its key. */
static int entry_continue(Loader *l, const char *value) {
        Entry *e = l->n_entries > 0 ? &l->entries[l->n_entries - 1] : NULL;
        char *joined;

        if (!e || !e->key || !e->value)
                return 0; /* cannot happen: the reader knows a key above (cont_key) */
        if (asprintf(&joined, "%s%s%s", e->value, e->value[0] && value[0] ? " " : "", value) < 0)
                return -ENOMEM;
        free(e->value);
        e->value = joined;
        if (e->cont_line == 0)
                e->cont_line = l->reader.line;
        return 0;
}

/* inih's section is ignored: it is cut at 49 bytes, and the reader recorded the whole name. */
static int reader_handler(void *user, const char *section, const char *name, const char *value) {
        Loader *l = user;
        Reader *r = &l->reader;
        int k;

        if (r->kind == LINE_CONTINUATION) {
                if (!r->cont_key)
                        return 1; /* continues a line already reported as bad */
                k = entry_continue(l, value ? value : "");
        } else
                k = entry_add(l, NULL, name, value, false);
        if (k < 0) {
                l->oom = true;
                return 0;
        }
        return 1;
}

void read_file(Loader *l, const char *path) {
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
void read_confd(Loader *l, const char *main_file) {
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

