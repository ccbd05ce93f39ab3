/* SPDX-License-Identifier: MIT */
/* config-read.c — reading the files: inih, through our own line reader; Include, Define and ${NAME}.
 *
 * Debian's libinih cuts lines at 199 bytes and reports only the first bad line of a file, so the
 * reader sees every line first: it counts lines itself, reports over-long and malformed lines, and
 * hands inih an empty line instead so that nothing is reported twice or half-parsed. inih's handler
 * only records entries (config-apply.c resolves them).
 *
 * Include and Define are done here, while reading, because they change what is read: an Include
 * line reads the files its glob matches (Apache's IncludeOptional) right there, with a reader of
 * their own, and ${NAME} in a value is replaced by the last Define (or -D) of NAME read before it
 * (Apache's Define), so that the entries hold final values and every later step is unchanged. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <glob.h>
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
                .unit = l->unit,
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

/* inih ends a value at a ';' after white space, inside quotes too, so that a quoted header value
 * such as "default-src 'self' ; img-src *" would lose its end. inih has no option for quotes, so the
 * reader hides such a ';' from it as QUOTED_SEMICOLON (a control character, refused in a line) and
 * the handler puts it back. A '"' after a backslash neither opens nor closes (Apache's \"). */
#define QUOTED_SEMICOLON '\x1f'

static void hide_quoted_semicolons(char *value, bool *in_quotes) {
        bool was_space = false;

        for (char *s = value; *s; s++) {
                if (*s == '\\' && s[1]) {
                        s++;
                        was_space = false;
                        continue;
                }
                if (*s == '"')
                        *in_quotes = !*in_quotes;
                else if (*s == ';' && was_space && *in_quotes)
                        *s = QUOTED_SEMICOLON;
                was_space = isspace((unsigned char) *s);
        }
}

static void reveal_quoted_semicolons(char *value) {
        for (char *s = value; (s = strchr(s, QUOTED_SEMICOLON)); s++)
                *s = ';';
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
        if (strcasecmp(name, LOAD_MODULE) == 0 || strcasecmp(name, "Include") == 0 || strcasecmp(name, "Define") == 0 ||
            conf_table_find(config_directives, name) || conf_table_find(vhost_directives, name) ||
            conf_table_find(http_site_directives, name))
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
                hide_quoted_semicolons(start, &r->in_quotes);
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
                r->section = strcasecmp(name, "Server") == 0 ? READ_SERVER : READ_OTHER;
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
                r->cont_refused = false;
        }
        r->in_quotes = false;
        hide_quoted_semicolons(end + 1, &r->in_quotes);
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
        if (memchr(r->buf, '\0', len) || memchr(r->buf, QUOTED_SEMICOLON, len)) {
                load_error(l, r->path, r->line, "line contains a %s byte",
                           memchr(r->buf, '\0', len) ? "NUL" : "control (0x1f)");
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

/* ---- Define and ${NAME} ------------------------------------------------------------------ */

static bool is_define_name(const char *s, size_t n) {
        if (n == 0 || !(isalpha((unsigned char) s[0]) || s[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && s[i] != '_')
                        return false;
        return true;
}

static const char *define_lookup(const Loader *l, const char *name, size_t n) {
        size_t len = strv_length(l->defines);

        /* The last definition wins: a Define overrides -D and an earlier Define, as in Apache. */
        for (size_t i = len; i >= 2; i -= 2)
                if (strlen(l->defines[i - 2]) == n && memcmp(l->defines[i - 2], name, n) == 0)
                        return l->defines[i - 1];
        return NULL;
}

static int define_set(Loader *l, const char *name, size_t n, const char *value) {
        _cleanup_free_ char *copy = strndup(name, n);

        if (!copy || strv_push(&l->defines, copy) < 0 || strv_push(&l->defines, value) < 0)
                return -ENOMEM;
        return 0;
}

/* ${NAME} becomes its value. As in Apache, there is no escape: a "$" not followed by "{", and a
 * "${" without its "}", stay as written. An undefined name is an error at the line being read
 * (Apache only warns and keeps the text, which then fails later, far from the cause). Returns 0,
 * -EINVAL (reported) or -ENOMEM. */
static int expand_value(Loader *l, const char *value, char **ret) {
        const Reader *r = &l->reader;
        _cleanup_free_ char *out = NULL;
        size_t size = 0;
        bool undefined = false;
        FILE *f;

        *ret = NULL;
        f = open_memstream(&out, &size);
        if (!f)
                return -ENOMEM;
        for (const char *p = value; *p;) {
                const char *close = p[0] == '$' && p[1] == '{' ? strchr(p + 2, '}') : NULL;
                const char *v;

                if (!close) {
                        fputc(*p++, f);
                        continue;
                }
                v = define_lookup(l, p + 2, (size_t) (close - p - 2));
                if (v)
                        fputs(v, f);
                else {
                        load_error(l, r->path, r->line, "${%.*s} is not defined", (int) (close - p - 2), p + 2);
                        undefined = true;
                }
                p = close + 1;
        }
        if (fclose(f) != 0 || !out)
                return -ENOMEM;
        if (undefined)
                return -EINVAL;
        *ret = TAKE_PTR(out);
        return 0;
}

/* -D NAME (empty value) or -D NAME=VALUE, before the first file: a Define in a file overrides it. */
void read_defines_from_options(Loader *l) {
        for (char *const *d = l->opts->defines; d && *d; d++) {
                size_t n = strcspn(*d, "=");

                if (!is_define_name(*d, n)) {
                        load_error(l, NULL, 0,
                                   "-D %s: a name is letters, digits and \"_\", not starting with a digit (-D NAME "
                                   "or -D NAME=VALUE)",
                                   *d);
                        continue;
                }
                if (define_set(l, *d, n, (*d)[n] == '=' ? *d + n + 1 : "") < 0)
                        l->oom = true;
        }
}

/* "Define = NAME VALUE": NAME is defined for every value read after this line, in any section and
 * any later file. Allowed at the top of a file and in [Server] only: it is not scoped to a section,
 * and in a [VirtualHost] it would read as if it were. */
static void read_define(Loader *l, const char *value) {
        const Reader *r = &l->reader;
        const char *v = value + strspn(value, " \t");
        size_t n = strcspn(v, " \t");
        _cleanup_free_ char *expanded = NULL;
        int k;

        if (r->section == READ_OTHER) {
                load_error(l, r->path, r->line,
                           "Define is allowed only before the first section of a file or in [Server]: a name is "
                           "defined for everything read after it, whatever the section");
                return;
        }
        if (!is_define_name(v, n)) {
                load_error(l, r->path, r->line,
                           "Define: expected \"Define = NAME VALUE\", NAME being letters, digits and \"_\", not "
                           "starting with a digit; got \"%s\"",
                           value);
                return;
        }
        k = expand_value(l, v + n + strspn(v + n, " \t"), &expanded);
        if (k == -ENOMEM)
                l->oom = true;
        if (k < 0)
                return;
        if (define_set(l, v, n, expanded) < 0)
                l->oom = true;
}

/* ---- Include ------------------------------------------------------------------------------ */

static void read_one(Loader *l, const char *path, unsigned depth);

static int entry_mark(Loader *l, EntryMark mark) {
        if (entry_add(l, NULL, NULL, NULL, false) < 0)
                return -ENOMEM;
        l->entries[l->n_entries - 1].mark = mark;
        return 0;
}

/* "a.conf -> b.conf -> a.conf": the files being read, then the one that would close the circle. */
static char *including_chain(const Loader *l, const char *last) {
        _cleanup_free_ char *s = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&s, &size);

        if (!f)
                return NULL;
        STRV_FOREACH(p, l->including)
                fprintf(f, "%s -> ", *p);
        fputs(last, f);
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(s);
}

static void read_included(Loader *l, const char *path, const char *from, unsigned line) {
        _cleanup_free_ char *canonical = NULL, *chain = NULL;
        struct stat st;

        if (stat(path, &st) < 0) {
                load_error(l, from, line, "Include: %s: %s", path, strerror(errno));
                return;
        }
        if (S_ISDIR(st.st_mode)) {
                load_error(l, from, line, "Include: %s is a directory: write %s/*.conf", path, path);
                return;
        }
        if (!S_ISREG(st.st_mode)) {
                load_error(l, from, line, "Include: %s is not a regular file", path);
                return;
        }
        canonical = realpath(path, NULL);
        if (!canonical) {
                load_error(l, from, line, "Include: %s: %s", path, strerror(errno));
                return;
        }
        if (strv_contains(l->including, canonical)) {
                chain = including_chain(l, canonical);
                load_error(l, from, line, "Include: %s is already being read (%s): a file cannot include itself",
                           path, chain ? chain : canonical);
                return;
        }
        if (l->reader.depth + 1 > CONFIG_INCLUDE_MAX_DEPTH) {
                chain = including_chain(l, canonical);
                load_error(l, from, line, "Include: more than %u levels of Include (%s)", CONFIG_INCLUDE_MAX_DEPTH,
                           chain ? chain : canonical);
                return;
        }
        if (strv_push(&l->including, canonical) < 0) {
                l->oom = true;
                return;
        }
        /* Each file starts in the section of the Include line, whatever the one before it opened. */
        if (entry_mark(l, ENTRY_INCLUDE_BEGIN) < 0)
                l->oom = true;
        read_one(l, path, l->reader.depth + 1);
        if (entry_mark(l, ENTRY_INCLUDE_END) < 0)
                l->oom = true;
        free(l->including[strv_length(l->including) - 1]);
        l->including[strv_length(l->including) - 1] = NULL;
}

/* "Include = GLOB" (Apache's IncludeOptional): the regular files the pattern matches, in lexical
 * order, read here as if their lines stood in place of this one; each starts in the section of the
 * Include line, and a section it opens ends with it. A pattern matching nothing is
 * fine, so that an empty folder of snippets is. A relative pattern is relative to the folder of the
 * main file (Apache's ServerRoot-relative rule, with that folder as the root). */
static void read_include(Loader *l, const char *value) {
        _cleanup_free_ char *expanded = NULL, *pattern = NULL;
        _cleanup_free_ char *from = strdup(l->reader.path);
        unsigned line = l->reader.line;
        const char *main_file = l->config->main_file, *slash = strrchr(main_file, '/');
        glob_t g = {};
        int k;

        if (!from) {
                l->oom = true;
                return;
        }
        k = expand_value(l, value, &expanded);
        if (k == -ENOMEM)
                l->oom = true;
        if (k < 0)
                return;
        if (expanded[0] == '\0') {
                load_error(l, from, line, "Include: expected a file name or a glob pattern (Include = conf.d/*.conf)");
                return;
        }
        if (expanded[0] == '/' || !slash)
                pattern = TAKE_PTR(expanded);
        else if (asprintf(&pattern, "%.*s/%s", (int) (slash - main_file), main_file, expanded) < 0) {
                pattern = NULL;
                l->oom = true;
                return;
        }
        k = glob(pattern, 0, NULL, &g);
        if (k == GLOB_NOMATCH)
                return;
        if (k == GLOB_NOSPACE) {
                l->oom = true;
                return;
        }
        if (k != 0) {
                load_error(l, from, line, "Include: %s: cannot read the folder: %s", pattern,
                           strerror(errno ? errno : EIO));
                globfree(&g);
                return;
        }
        for (size_t i = 0; i < g.gl_pathc && !l->oom; i++)
                read_included(l, g.gl_pathv[i], from, line);
        globfree(&g);
}

/* ---- the handler -------------------------------------------------------------------------- */

/* inih's section is ignored: it is cut at 49 bytes, and the reader recorded the whole name. */
static int reader_handler(void *user, const char *section, const char *name, const char *value) {
        Loader *l = user;
        Reader *r = &l->reader;
        _cleanup_free_ char *expanded = NULL;
        int k;

        if (value)
                reveal_quoted_semicolons((char *) value); /* inih's buffer, ours to change */
        if (r->kind == LINE_CONTINUATION) {
                if (!r->cont_key)
                        return 1; /* continues a line already reported as bad */
                if (r->cont_refused) {
                        load_error(l, r->path, r->line, "%s takes one line: a continuation line is not allowed",
                                   r->cont_key);
                        return 1;
                }
                k = expand_value(l, value ? value : "", &expanded);
                if (k == -EINVAL) {
                        if (l->n_entries > 0)
                                l->entries[l->n_entries - 1].skip = true;
                        return 1;
                }
                if (k >= 0)
                        k = entry_continue(l, expanded);
        } else if (strcasecmp(name, "Include") == 0 || strcasecmp(name, "Define") == 0) {
                r->cont_refused = true;
                if (strcasecmp(name, "Include") == 0)
                        read_include(l, value ? value : "");
                else
                        read_define(l, value ? value : "");
                return l->oom ? 0 : 1;
        } else {
                k = expand_value(l, value ? value : "", &expanded);
                if (k >= 0 || k == -EINVAL)
                        k = entry_add(l, NULL, name, k >= 0 ? expanded : value, false);
                else
                        return 0;
                if (k >= 0 && !expanded)
                        l->entries[l->n_entries - 1].skip = true;
        }
        if (k < 0) {
                l->oom = true;
                return 0;
        }
        return 1;
}

/* One file with a reader of its own; an included one (depth > 0) starts in the section of the
 * Include line, and the including file's reader is put back afterwards. */
static void read_one(Loader *l, const char *path, unsigned depth) {
        Reader outer = l->reader;
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
        if (depth == 0)
                free(outer.cont_key);
        l->reader = (Reader) {
                .f = f,
                .path = l->config->files[strv_length(l->config->files) - 1],
                .file = (unsigned) strv_length(l->config->files) - 1,
                .buf = outer.buf,
                .size = outer.size,
                .depth = depth,
                .section = depth > 0 ? outer.section : READ_TOP,
        };
        r = ini_parse_stream(reader_read, l, reader_handler, l);
        if (r == -2 || l->oom)
                l->oom = true;
        else if (r != 0)
                /* The reader hands inih only lines it accepts: this is a backstop, never ignored. */
                load_error(l, path, r > 0 ? (unsigned) r : 0, "the INI parser rejected this line (inih error %d)", r);
        fclose(f);
        if (depth > 0) {
                /* The buffer may have moved; the rest of the outer reader is as the Include line left it. */
                free(l->reader.cont_key);
                outer.buf = l->reader.buf;
                outer.size = l->reader.size;
                l->reader = outer;
        } else
                l->reader.f = NULL;
}

void read_file(Loader *l, const char *path) {
        _cleanup_free_ char *canonical = realpath(path, NULL);

        /* A new unit starts outside any section; the main file may not include itself either. */
        l->unit++;
        if (canonical && strv_push(&l->including, canonical) < 0) {
                l->oom = true;
                return;
        }
        read_one(l, path, 0);
        if (canonical) {
                free(l->including[strv_length(l->including) - 1]);
                l->including[strv_length(l->including) - 1] = NULL;
        }
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

