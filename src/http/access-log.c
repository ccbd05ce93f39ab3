/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/access-log.h"
#include "http/date.h"
#include "http/path.h"

/* ---- formats ------------------------------------------------------------------------------- */

typedef enum ItemType {
        ITEM_LITERAL,
        ITEM_REMOTE_HOST,   /* %h %a */
        ITEM_CONN_PEER,     /* %{c}h %{c}a */
        ITEM_DASH,          /* %l: no identd */
        ITEM_USER,          /* %u */
        ITEM_TIME,          /* %t, %{begin:}t, %{end:}t */
        ITEM_TIME_STRFTIME, /* %{FORMAT}t: strftime(3), local time */
        ITEM_TIME_SEC,      /* %{sec}t: since the epoch */
        ITEM_TIME_MSEC,     /* %{msec}t */
        ITEM_TIME_USEC,     /* %{usec}t */
        ITEM_TIME_MSEC_FRAC, /* %{msec_frac}t: the milliseconds of the second, 3 digits */
        ITEM_TIME_USEC_FRAC, /* %{usec_frac}t: 6 digits */
        ITEM_REQUEST_LINE,  /* %r */
        ITEM_STATUS,        /* %s %>s %<s */
        ITEM_BYTES_CLF,     /* %b */
        ITEM_BYTES,         /* %B */
        ITEM_BYTES_OUT,     /* %O (mod_logio) */
        ITEM_BYTES_IN,      /* %I (mod_logio) */
        ITEM_CONN_STATUS,   /* %X */
        ITEM_DURATION_USEC, /* %D %{us}T */
        ITEM_DURATION_MSEC, /* %{ms}T */
        ITEM_DURATION_SEC,  /* %T %{s}T */
        ITEM_VHOST,         /* %v */
        ITEM_LOCAL_PORT,    /* %p %{canonical}p %{local}p */
        ITEM_REMOTE_PORT,   /* %{remote}p */
        ITEM_HEADER_IN,     /* %{Name}i */
        ITEM_HEADER_OUT,    /* %{Name}o */
        ITEM_URL_PATH,      /* %U */
        ITEM_QUERY,         /* %q */
        ITEM_METHOD,        /* %m */
        ITEM_PROTOCOL,      /* %H */
        ITEM_PID,           /* %P */
        ITEM_SSL_VAR,       /* %{SSL_*}x (mod_ssl): one of ssl_vars */
} ItemType;

typedef struct FormatItem {
        ItemType type;
        char *arg;      /* literal text, a header name or a strftime format */
        size_t arg_len; /* its length; ITEM_SSL_VAR: the index in ssl_vars */
        bool at_end;    /* a time: when the response ended ("end:"), not when the request began */
} FormatItem;

/* %{FORMAT}t: room for one time as strftime writes it */
#define TIME_FORMAT_MAX 128
#define TIME_TEXT_MAX 512

/* %{NAME}x: the mod_ssl variables an entry carries, each a string of AccessLogEntry (NULL: "-"). */
static const struct {
        const char *name;
        size_t offset;
} ssl_vars[] = {
        { "SSL_PROTOCOL", offsetof(AccessLogEntry, ssl_protocol) },
        { "SSL_CIPHER", offsetof(AccessLogEntry, ssl_cipher) },
        { "SSL_CLIENT_VERIFY", offsetof(AccessLogEntry, ssl_client_verify) },
        { "SSL_CLIENT_S_DN", offsetof(AccessLogEntry, ssl_client_s_dn) },
};

struct AccessLogFormat {
        FormatItem *items;
        size_t n_items;
};

/* Apache's nicknames, as its default httpd.conf defines them. */
static const struct {
        const char *name;
        const char *format;
} nicknames[] = {
        { "common", "%h %l %u %t \"%r\" %>s %b" },
        { "combined", "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"" },
        { "vhost_combined", "%v:%p %h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"" },
};

AccessLogFormat *access_log_format_free(AccessLogFormat *f) {
        if (!f)
                return NULL;
        for (size_t i = 0; i < f->n_items; i++)
                free(f->items[i].arg);
        free(f->items);
        free(f);
        return NULL;
}

static void access_log_format_freep(AccessLogFormat **f) {
        access_log_format_free(*f);
}

static int format_add(AccessLogFormat *f, ItemType type, const char *arg, size_t arg_len) {
        FormatItem *items = reallocarray(f->items, f->n_items + 1, sizeof(*items));
        char *copy = NULL;

        if (!items)
                return -ENOMEM;
        f->items = items;
        if (arg) {
                copy = strndup(arg, arg_len);
                if (!copy)
                        return -ENOMEM;
        }
        f->items[f->n_items++] = (FormatItem) { type, copy, arg_len };
        return 0;
}

static int fail(char **ret_error, const char *fmt, ...) _printf_(2, 3);
static int fail(char **ret_error, const char *fmt, ...) {
        va_list ap;

        if (ret_error) {
                va_start(ap, fmt);
                if (vasprintf(ret_error, fmt, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return -EINVAL;
}

/* Literal text up to the next '%', with mod_log_config's escapes: \n \t \r \\ (any other backslash
 * stays as it is). */
static int compile_literal(AccessLogFormat *f, const char **p) {
        _cleanup_free_ char *text = malloc(strlen(*p) + 1);
        const char *s = *p;
        size_t n = 0;

        if (!text)
                return -ENOMEM;
        while (*s && *s != '%') {
                if (*s != '\\' || !s[1] || !strchr("\\ntr", s[1])) {
                        text[n++] = *s++;
                        continue;
                }
                text[n++] = s[1] == 'n' ? '\n' : s[1] == 't' ? '\t' : s[1] == 'r' ? '\r' : '\\';
                s += 2;
        }
        *p = s;
        return format_add(f, ITEM_LITERAL, text, n);
}

/* One directive after its '%': modifiers '<' '>', an optional {argument}, then the letter. */
static int compile_directive(AccessLogFormat *f, const char **p, char **ret_error) {
        const char *s = *p, *arg = NULL;
        size_t arg_len = 0;
        ItemType type;

        for (;; s++) {
                if (*s == '<' || *s == '>')
                        continue;
                if (*s == '{' && !arg) {
                        const char *close = strchr(s, '}');
                        if (!close)
                                return fail(ret_error, "log format: \"%%{\" without a closing \"}\"");
                        arg = s + 1;
                        arg_len = (size_t) (close - arg);
                        s = close;
                        continue;
                }
                break;
        }
        if ((*s >= '0' && *s <= '9') || *s == '!')
                return fail(ret_error, "log format: status conditions such as %%400,501{...}i are not supported");

        switch (*s) {
        case '%':
                *p = s + 1;
                return format_add(f, ITEM_LITERAL, "%", 1);
        case 'h':
        case 'a':
                /* {c}: the connection's peer, where RemoteIPHeader named another client (mod_remoteip's) */
                if (arg && !(arg_len == 1 && arg[0] == 'c'))
                        return fail(ret_error, "log format: %%{%.*s}%c: expected %%%c or %%{c}%c", (int) arg_len, arg, *s,
                                    *s, *s);
                type = arg ? ITEM_CONN_PEER : ITEM_REMOTE_HOST;
                break;
        case 'l':
                type = ITEM_DASH;
                break;
        case 'u':
                type = ITEM_USER;
                break;
        case 't': {
                /* Apache's: an optional begin: or end:, then sec, msec, usec, msec_frac, usec_frac or a
                 * strftime(3) format; nothing after the prefix is %t's own format. */
                bool at_end = false;
                if (arg && arg_len >= 6 && memcmp(arg, "begin:", 6) == 0) {
                        arg += 6;
                        arg_len -= 6;
                } else if (arg && arg_len >= 4 && memcmp(arg, "end:", 4) == 0) {
                        arg += 4;
                        arg_len -= 4;
                        at_end = true;
                }
                static const struct {
                        const char *name;
                        ItemType type;
                } units[] = {
                        { "sec", ITEM_TIME_SEC },             { "msec", ITEM_TIME_MSEC },
                        { "usec", ITEM_TIME_USEC },           { "msec_frac", ITEM_TIME_MSEC_FRAC },
                        { "usec_frac", ITEM_TIME_USEC_FRAC },
                };
                type = arg && arg_len > 0 ? ITEM_TIME_STRFTIME : ITEM_TIME;
                for (size_t i = 0; i < ELEMENTSOF(units) && type == ITEM_TIME_STRFTIME; i++)
                        if (arg_len == strlen(units[i].name) && memcmp(arg, units[i].name, arg_len) == 0)
                                type = units[i].type;
                if (type == ITEM_TIME_STRFTIME && arg_len > TIME_FORMAT_MAX)
                        return fail(ret_error, "log format: %%{...}t: a strftime format of at most %d bytes",
                                    TIME_FORMAT_MAX);
                *p = s + 1;
                int r = format_add(f, type, type == ITEM_TIME_STRFTIME ? arg : NULL, arg_len);
                if (r >= 0)
                        f->items[f->n_items - 1].at_end = at_end;
                return r;
        }
        case 'r':
                type = ITEM_REQUEST_LINE;
                break;
        case 's':
                type = ITEM_STATUS;
                break;
        case 'b':
                type = ITEM_BYTES_CLF;
                break;
        case 'B':
                type = ITEM_BYTES;
                break;
        case 'O':
                type = ITEM_BYTES_OUT;
                break;
        case 'I':
                type = ITEM_BYTES_IN;
                break;
        case 'X':
                type = ITEM_CONN_STATUS;
                break;
        case 'D':
                type = ITEM_DURATION_USEC;
                break;
        case 'T':
                if (!arg || (arg_len == 1 && arg[0] == 's'))
                        type = ITEM_DURATION_SEC;
                else if (arg_len == 2 && memcmp(arg, "ms", 2) == 0)
                        type = ITEM_DURATION_MSEC;
                else if (arg_len == 2 && memcmp(arg, "us", 2) == 0)
                        type = ITEM_DURATION_USEC;
                else
                        return fail(ret_error, "log format: %%{%.*s}T: the unit must be ms, us or s", (int) arg_len,
                                    arg);
                break;
        case 'v':
                type = ITEM_VHOST;
                break;
        case 'p':
                if (!arg || (arg_len == 9 && strncasecmp(arg, "canonical", 9) == 0) ||
                    (arg_len == 5 && strncasecmp(arg, "local", 5) == 0))
                        type = ITEM_LOCAL_PORT;
                else if (arg_len == 6 && strncasecmp(arg, "remote", 6) == 0)
                        type = ITEM_REMOTE_PORT;
                else
                        return fail(ret_error, "log format: %%{%.*s}p: expected canonical, local or remote",
                                    (int) arg_len, arg);
                break;
        case 'i':
        case 'o':
                if (!arg || arg_len == 0)
                        return fail(ret_error, "log format: %%%c needs a header name, as in %%{Referer}%c", *s, *s);
                type = *s == 'i' ? ITEM_HEADER_IN : ITEM_HEADER_OUT;
                break;
        case 'U':
                type = ITEM_URL_PATH;
                break;
        case 'q':
                type = ITEM_QUERY;
                break;
        case 'm':
                type = ITEM_METHOD;
                break;
        case 'H':
                type = ITEM_PROTOCOL;
                break;
        case 'P':
                type = ITEM_PID;
                break;
        case 'x':
                /* mod_ssl's variables; names compare as mod_ssl's do, without regard to case. */
                for (size_t i = 0; arg && i < ELEMENTSOF(ssl_vars); i++)
                        if (arg_len == strlen(ssl_vars[i].name) && strncasecmp(arg, ssl_vars[i].name, arg_len) == 0) {
                                *p = s + 1;
                                return format_add(f, ITEM_SSL_VAR, NULL, i);
                        }
                return fail(ret_error,
                            "log format: %%{%.*s}x: expected SSL_PROTOCOL, SSL_CIPHER, SSL_CLIENT_VERIFY or "
                            "SSL_CLIENT_S_DN",
                            (int) arg_len, arg ? arg : "");
        case '\0':
                return fail(ret_error, "log format ends with an incomplete %% directive");
        default:
                return fail(ret_error, "log format: unrecognized directive %%%c", *s);
        }
        *p = s + 1;
        if (type == ITEM_HEADER_IN || type == ITEM_HEADER_OUT)
                return format_add(f, type, arg, arg_len);
        return format_add(f, type, NULL, 0);
}

/* Is spec one double-quoted string, as Apache's configuration writes a format? Not when a quote
 * inside is unescaped: "%{Referer}i" "%{User-Agent}i" is a format with literal quotes. */
static bool is_quoted(const char *spec, size_t len) {
        if (len < 2 || spec[0] != '"' || spec[len - 1] != '"')
                return false;
        for (size_t i = 1; i < len - 1; i++) {
                if (spec[i] == '\\')
                        i++;
                else if (spec[i] == '"')
                        return false;
        }
        return true;
}

/* Drop the quotes of a quoted format and undo \" and \\ the way Apache's tokenizer does, leaving
 * other escapes to the format parser. */
static char *unquote(const char *spec) {
        size_t len = strlen(spec);
        char *out, *d;

        if (!is_quoted(spec, len))
                return strdup(spec);
        out = d = malloc(len);
        if (!out)
                return NULL;
        for (size_t i = 1; i < len - 1; i++) {
                if (spec[i] == '\\' && i + 1 < len - 1 && (spec[i + 1] == '"' || spec[i + 1] == '\\'))
                        i++;
                *d++ = spec[i];
        }
        *d = 0;
        return out;
}

int access_log_format_compile(const char *spec, AccessLogFormat **ret, char **ret_error) {
        _cleanup_(access_log_format_freep) AccessLogFormat *f = NULL;
        _cleanup_free_ char *text = NULL;
        const char *p;
        int r;

        if (ret_error)
                *ret_error = NULL;
        for (size_t i = 0; i < ELEMENTSOF(nicknames) && !text; i++)
                if (strcmp(spec, nicknames[i].name) == 0) {
                        text = strdup(nicknames[i].format);
                        if (!text)
                                return -ENOMEM;
                }
        if (!text) {
                if (!strchr(spec, '%'))
                        /* Apache would log the word itself on every line: likelier a misspelt nickname. */
                        return fail(ret_error,
                                    "unknown log format \"%s\": expected common, combined, vhost_combined, a "
                                    "LogFormat nickname or a format with %% directives",
                                    spec);
                text = unquote(spec);
                if (!text)
                        return -ENOMEM;
        }
        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        p = text;
        while (*p) {
                if (*p == '%') {
                        p++;
                        r = compile_directive(f, &p, ret_error);
                } else
                        r = compile_literal(f, &p);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(f);
        return 0;
}

/* ---- formatting a line --------------------------------------------------------------------- */

/* Output that counts what it could not store, so the caller learns the whole line's length. */
typedef struct Out {
        char *buf;
        size_t size, len;
} Out;

static void out_put(Out *o, const char *s, size_t n) {
        if (o->len < o->size)
                memcpy(o->buf + o->len, s, MIN(n, o->size - o->len));
        o->len += n;
}

static void out_str(Out *o, const char *s) {
        out_put(o, s, strlen(s));
}

static void out_u64(Out *o, unsigned long long v) {
        char num[24];
        int n = snprintf(num, sizeof(num), "%llu", v);
        out_put(o, num, (size_t) n);
}

static void out_fraction(Out *o, unsigned long long v, int digits) {
        char num[24];
        int n = snprintf(num, sizeof(num), "%0*llu", digits, v);
        out_put(o, num, (size_t) n);
}

static usec_t item_time(const FormatItem *it, const AccessLogEntry *e) {
        return it->at_end ? e->time + e->duration : e->time;
}

/* %{FORMAT}t: the format is the configuration's, checked for its length when compiled. */
static void out_strftime(Out *o, const char *format, usec_t when) {
        char text[TIME_TEXT_MAX];
        time_t secs = (time_t) (when / USEC_PER_SEC);
        struct tm tm;
        size_t n = 0;

        if (localtime_r(&secs, &tm)) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                n = strftime(text, sizeof(text), format, &tm);
#pragma GCC diagnostic pop
        }
        if (n == 0)
                out_put(o, "-", 1); /* empty, or longer than TIME_TEXT_MAX */
        else
                out_put(o, text, n);
}

/* ap_escape_logitem(): '"', '\' and every byte that is not printable ASCII, so a line can neither be
 * split nor have its quoted fields forged by what a client sends. */
static void out_escaped(Out *o, const char *s, size_t n) {
        static const char hex[] = "0123456789abcdef";
        size_t start = 0;

        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                char esc[4] = { '\\' };
                size_t k = 2;

                if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
                        continue;
                out_put(o, s + start, i - start);
                start = i + 1;
                switch (c) {
                case '\b':
                        esc[1] = 'b';
                        break;
                case '\n':
                        esc[1] = 'n';
                        break;
                case '\r':
                        esc[1] = 'r';
                        break;
                case '\t':
                        esc[1] = 't';
                        break;
                case '\v':
                        esc[1] = 'v';
                        break;
                case '\\':
                case '"':
                        esc[1] = (char) c;
                        break;
                default:
                        esc[1] = 'x';
                        esc[2] = hex[c >> 4];
                        esc[3] = hex[c & 15];
                        k = 4;
                        break;
                }
                out_put(o, esc, k);
        }
        out_put(o, s + start, n - start);
}

static void out_text(Out *o, AccessLogText t) {
        if (!t.ptr)
                out_put(o, "-", 1);
        else
                out_escaped(o, t.ptr, t.len);
}

/* %{Name}i: Apache merges repeated request fields into one value joined by ", ". %{Name}o: the
 * first field, except Set-Cookie, which is joined the same way; Content-Type without parameters. */
static void out_header(Out *o, const AccessLogEntry *e, const FormatItem *it) {
        bool in = it->type == ITEM_HEADER_IN;
        bool (*lookup)(const void *, const char *, size_t, AccessLogText *) = in ? e->request_header :
                                                                                   e->response_header;
        bool join = in || strcasecmp(it->arg, "Set-Cookie") == 0;
        AccessLogText v;
        size_t i;

        for (i = 0; lookup && lookup(e->userdata, it->arg, i, &v); i++) {
                if (i > 0)
                        out_put(o, ", ", 2);
                if (!in && strcasecmp(it->arg, "Content-Type") == 0) {
                        /* ap_field_noparam(): up to ';', trailing whitespace dropped */
                        const char *semi = memchr(v.ptr, ';', v.len);
                        if (semi)
                                v.len = (size_t) (semi - v.ptr);
                        while (v.len > 0 && (v.ptr[v.len - 1] == ' ' || v.ptr[v.len - 1] == '\t'))
                                v.len--;
                }
                out_escaped(o, v.ptr, v.len);
                if (!join) {
                        i++;
                        break;
                }
        }
        if (i == 0)
                out_put(o, "-", 1);
}

/* %U: r->uri in Apache is the decoded, normalised path; a path the server refused is logged raw. */
static void out_url_path(Out *o, AccessLogText path) {
        char decoded[PATH_MAX];
        size_t n;

        if (path.ptr && http_path_normalize(path.ptr, path.len, decoded, sizeof(decoded), &n) >= 0)
                out_escaped(o, decoded, n);
        else
                out_text(o, path);
}

size_t access_log_format_line(const AccessLogFormat *f, const AccessLogEntry *e, char *buf, size_t size) {
        Out o = { buf, size, 0 };
        char t[HTTP_LOG_TIME_LEN + 1];

        for (size_t i = 0; i < f->n_items; i++) {
                const FormatItem *it = &f->items[i];

                switch (it->type) {
                case ITEM_LITERAL:
                        out_put(&o, it->arg, it->arg_len);
                        break;
                case ITEM_REMOTE_HOST:
                        if (e->peer)
                                out_escaped(&o, e->peer, strlen(e->peer));
                        else
                                out_put(&o, "-", 1);
                        break;
                case ITEM_CONN_PEER: {
                        const char *peer = e->conn_peer ? e->conn_peer : e->peer;
                        if (peer)
                                out_escaped(&o, peer, strlen(peer));
                        else
                                out_put(&o, "-", 1);
                        break;
                }
                case ITEM_DASH:
                        out_put(&o, "-", 1);
                        break;
                case ITEM_USER:
                        if (e->user)
                                out_escaped(&o, e->user, strlen(e->user));
                        else
                                out_put(&o, "-", 1);
                        break;
                case ITEM_TIME:
                        if (http_log_time_format((time_t) (item_time(it, e) / USEC_PER_SEC), t, sizeof(t)) < 0)
                                out_put(&o, "-", 1);
                        else
                                out_str(&o, t);
                        break;
                case ITEM_TIME_STRFTIME:
                        out_strftime(&o, it->arg, item_time(it, e));
                        break;
                case ITEM_TIME_SEC:
                        out_u64(&o, item_time(it, e) / USEC_PER_SEC);
                        break;
                case ITEM_TIME_MSEC:
                        out_u64(&o, item_time(it, e) / USEC_PER_MSEC);
                        break;
                case ITEM_TIME_USEC:
                        out_u64(&o, item_time(it, e));
                        break;
                case ITEM_TIME_MSEC_FRAC:
                        out_fraction(&o, item_time(it, e) / USEC_PER_MSEC % 1000, 3);
                        break;
                case ITEM_TIME_USEC_FRAC:
                        out_fraction(&o, item_time(it, e) % USEC_PER_SEC, 6);
                        break;
                case ITEM_REQUEST_LINE:
                        out_text(&o, e->request_line);
                        break;
                case ITEM_STATUS:
                        out_u64(&o, (unsigned long long) e->status);
                        break;
                case ITEM_BYTES_CLF:
                        if (e->bytes == 0)
                                out_put(&o, "-", 1);
                        else
                                out_u64(&o, e->bytes);
                        break;
                case ITEM_BYTES:
                        out_u64(&o, e->bytes);
                        break;
                case ITEM_BYTES_OUT:
                        out_u64(&o, e->bytes_out);
                        break;
                case ITEM_BYTES_IN:
                        out_u64(&o, e->bytes_in);
                        break;
                case ITEM_CONN_STATUS:
                        out_put(&o, e->conn_status ? &e->conn_status : "-", 1);
                        break;
                case ITEM_DURATION_USEC:
                        out_u64(&o, e->duration);
                        break;
                case ITEM_DURATION_MSEC:
                        out_u64(&o, e->duration / USEC_PER_MSEC);
                        break;
                case ITEM_DURATION_SEC:
                        out_u64(&o, e->duration / USEC_PER_SEC);
                        break;
                case ITEM_VHOST:
                        if (e->vhost)
                                out_escaped(&o, e->vhost, strlen(e->vhost));
                        else
                                out_put(&o, "-", 1);
                        break;
                case ITEM_LOCAL_PORT:
                        out_u64(&o, e->local_port);
                        break;
                case ITEM_REMOTE_PORT:
                        out_u64(&o, e->peer_port);
                        break;
                case ITEM_HEADER_IN:
                case ITEM_HEADER_OUT:
                        out_header(&o, e, it);
                        break;
                case ITEM_URL_PATH:
                        out_url_path(&o, e->path);
                        break;
                case ITEM_QUERY:
                        if (e->query.ptr) {
                                out_put(&o, "?", 1);
                                out_escaped(&o, e->query.ptr, e->query.len);
                        }
                        break;
                case ITEM_METHOD:
                        out_text(&o, e->method);
                        break;
                case ITEM_PROTOCOL:
                        out_text(&o, e->protocol);
                        break;
                case ITEM_PID:
                        out_u64(&o, (unsigned long long) getpid());
                        break;
                case ITEM_SSL_VAR: {
                        const char *v = *(const char *const *) ((const char *) e + ssl_vars[it->arg_len].offset);

                        /* a name is the CA's text: escaped as a client's would be */
                        if (v)
                                out_escaped(&o, v, strlen(v));
                        else
                                out_put(&o, "-", 1);
                        break;
                }
                }
        }
        out_put(&o, "\n", 1);
        return o.len;
}

/* ---- the writer ---------------------------------------------------------------------------- */

/* The worker MPM's threads share their process's logs: a mutex, uncontended in the other MPMs.
 * Nobody holds it across a fork (the supervisor, which forks, is single-threaded). */
struct AccessLog {
        pthread_mutex_t lock;
        char *path;
        int fd;
        char *buf;
        size_t len;
        usec_t last_write;
};

int access_log_open_file(const char *path) {
        struct stat st;
        int fd, flags;

        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0)
                /* A FIFO without a reader (or a device without its driver) when opening for writing
                 * without blocking: either way not a log file. */
                return errno == ENXIO ? -ACCESS_LOG_ENOTREG : -errno;
        if (fstat(fd, &st) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        if (!S_ISREG(st.st_mode)) {
                close(fd);
                return S_ISDIR(st.st_mode) ? -EISDIR : -ACCESS_LOG_ENOTREG;
        }
        /* Appends to a regular file never wait on a reader: blocking writes, as before. */
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

const char *access_log_strerror(int r) {
        switch (-r) {
        case ACCESS_LOG_ENOTREG:
                return "not a regular file (a FIFO, a socket or a device)";
        case ELOOP:
                return "a symbolic link, which is not followed";
        default:
                return strerror(-r);
        }
}

int access_log_open(const char *path, AccessLog **ret) {
        AccessLog *l = calloc(1, sizeof(*l));

        if (!l)
                return -ENOMEM;
        pthread_mutex_init(&l->lock, NULL);
        l->fd = -1;
        l->path = strdup(path);
        l->buf = malloc(ACCESS_LOG_BUFFER_SIZE);
        if (!l->path || !l->buf) {
                access_log_free(l);
                return -ENOMEM;
        }
        l->fd = access_log_open_file(path);
        if (l->fd < 0) {
                int r = l->fd;
                access_log_free(l);
                return r;
        }
        *ret = l;
        return 0;
}

/* One write() per buffer where the kernel allows: an O_APPEND write of whole lines lands in one
 * piece even when other workers append to the same file. */
static int log_write_buffer(AccessLog *l) {
        size_t done = 0;
        int r = 0;

        while (done < l->len) {
                ssize_t n = write(l->fd, l->buf + done, l->len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = n < 0 ? -errno : -EIO;
                        break;
                }
                done += (size_t) n;
        }
        l->len = 0;
        return r;
}

AccessLog *access_log_free(AccessLog *l) {
        if (!l)
                return NULL;
        if (l->fd >= 0 && l->len > 0)
                (void) log_write_buffer(l);
        safe_close(l->fd);
        pthread_mutex_destroy(&l->lock);
        free(l->buf);
        free(l->path);
        free(l);
        return NULL;
}

static int log_append_locked(AccessLog *l, const AccessLogFormat *f, const AccessLogEntry *e) {
        size_t room = ACCESS_LOG_BUFFER_SIZE - l->len;
        size_t n = access_log_format_line(f, e, l->buf + l->len, room);
        int r = 0;

        if (n <= room) {
                l->len += n;
                return 0;
        }
        /* The line did not fit: write what is there and format it again at the start. */
        if (l->len > 0) {
                r = log_write_buffer(l);
                n = access_log_format_line(f, e, l->buf, ACCESS_LOG_BUFFER_SIZE);
        }
        if (n > ACCESS_LOG_BUFFER_SIZE) {
                n = ACCESS_LOG_BUFFER_SIZE;
                l->buf[n - 1] = '\n';
        }
        l->len = n;
        return r;
}

int access_log_append(AccessLog *l, const AccessLogFormat *f, const AccessLogEntry *e) {
        pthread_mutex_lock(&l->lock);
        int r = log_append_locked(l, f, e);
        pthread_mutex_unlock(&l->lock);
        return r;
}

int access_log_flush(AccessLog *l, usec_t now) {
        int r = 0;

        pthread_mutex_lock(&l->lock);
        if (l->len > 0 && (now == USEC_INFINITY || now >= l->last_write + USEC_PER_SEC)) {
                if (now != USEC_INFINITY)
                        l->last_write = now;
                r = log_write_buffer(l);
        }
        pthread_mutex_unlock(&l->lock);
        return r;
}

usec_t access_log_next_flush(const AccessLog *l) {
        pthread_mutex_t *lock = (pthread_mutex_t *) &l->lock;
        usec_t next;

        pthread_mutex_lock(lock);
        next = l->len == 0 ? USEC_INFINITY : l->last_write + USEC_PER_SEC;
        pthread_mutex_unlock(lock);
        return next;
}

size_t access_log_buffered(const AccessLog *l) {
        return l->len;
}

int access_log_reopen(AccessLog *l) {
        int r = access_log_flush(l, USEC_INFINITY);
        int fd = access_log_open_file(l->path);

        if (fd < 0)
                return fd;
        /* dup3() swaps the file under the same number atomically for threads that write meanwhile,
         * and keeps the number a forking caller has listed as one to keep. */
        if (dup3(fd, l->fd, O_CLOEXEC) < 0)
                r = -errno;
        safe_close(fd);
        return r;
}

const char *access_log_path(const AccessLog *l) {
        return l->path;
}

int access_log_fd(const AccessLog *l) {
        return l->fd;
}
