/* SPDX-License-Identifier: MIT */
/* access.c — Require, AuthType, AuthName, AuthUserFile and the router's access step (access.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/access.h"
#include "http/request.h"
#include "http/response.h"
#include "http/site-config.h"
#include "shared/log.h"
#include "shared/strv.h"

#define WORD_SPACE " \t\r\n\f\v"

const char *const http_auth_type_names[] = { "None", "Basic", NULL };

/* ---- Require ------------------------------------------------------------------------------ */

static void require_line_done(HttpRequireLine *l) {
        free(l->nets);
        strv_free(l->users);
        free(l->file);
        *l = (HttpRequireLine) {};
}

void http_require_done(HttpRequire *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n; i++)
                require_line_done(&r->lines[i]);
        free(r->lines);
        *r = (HttpRequire) {};
}

/* The words of value; NULL on -ENOMEM. */
static char **words_of(const char *value) {
        char **w = calloc(1, sizeof(char *));
        const char *p = value;

        if (!w)
                return NULL;
        while (*(p += strspn(p, WORD_SPACE))) {
                size_t n = strcspn(p, WORD_SPACE);
                char *x = strndup(p, n);
                if (!x || strv_push(&w, x) < 0) {
                        free(x);
                        strv_free(w);
                        return NULL;
                }
                free(x);
                p += n;
        }
        return w;
}

static int require_line_parse(const char *value, const char *file, unsigned line, HttpRequireLine *ret,
                              char **ret_error) {
        _cleanup_strv_free_ char **w = words_of(value);
        HttpRequireLine l = { .line = line };
        size_t n;

        if (!w)
                return -ENOMEM;
        n = strv_length(w);
        if (n == 0)
                return conf_parse_error(ret_error, "needs a condition, such as all granted or valid-user");
        const char *what = w[0];
        if (strcasecmp(what, "all") == 0) {
                if (n != 2 || (strcasecmp(w[1], "granted") != 0 && strcasecmp(w[1], "denied") != 0))
                        return conf_parse_error(ret_error, "expected \"all granted\" or \"all denied\"");
                l.kind = strcasecmp(w[1], "granted") == 0 ? HTTP_REQUIRE_ALL_GRANTED : HTTP_REQUIRE_ALL_DENIED;
        } else if (strcasecmp(what, "ip") == 0) {
                if (n < 2)
                        return conf_parse_error(ret_error, "ip needs addresses or networks, such as 192.0.2.0/24 2001:db8::/32");
                l.kind = HTTP_REQUIRE_IP;
                l.nets = calloc(n - 1, sizeof(HttpNetmask));
                if (!l.nets)
                        return -ENOMEM;
                for (size_t i = 1; i < n; i++)
                        if (http_netmask_parse(w[i], &l.nets[l.n_nets++]) < 0) {
                                free(l.nets);
                                return conf_parse_error(ret_error,
                                              "\"%s\" is not an address or a network (ADDRESS/BITS, IPv4 or IPv6)", w[i]);
                        }
        } else if (strcasecmp(what, "valid-user") == 0) {
                if (n != 1)
                        return conf_parse_error(ret_error, "valid-user takes nothing after it (\"user NAME…\" names users)");
                l.kind = HTTP_REQUIRE_VALID_USER;
        } else if (strcasecmp(what, "user") == 0) {
                if (n < 2)
                        return conf_parse_error(ret_error, "user needs the names of users");
                l.kind = HTTP_REQUIRE_USER;
                l.users = strv_copy(w + 1);
                if (!l.users)
                        return -ENOMEM;
        } else if (strcasecmp(what, "not") == 0)
                return conf_parse_error(ret_error, "\"not\" is not supported (several Require lines grant if any of them does)");
        else
                return conf_parse_error(ret_error,
                              "unknown condition \"%s\" (expected all granted, all denied, ip, valid-user or user)", what);

        l.file = strdup(file ? file : "");
        if (!l.file) {
                require_line_done(&l);
                return -ENOMEM;
        }
        *ret = l;
        return 0;
}

int http_require_add(HttpRequire *r, const char *value, bool replace, const char *file, unsigned line,
                     char **ret_error) {
        HttpRequireLine l;
        int k;

        *ret_error = NULL;
        k = require_line_parse(value, file, line, &l, ret_error);
        if (k < 0)
                return k;
        size_t keep = replace ? 0 : r->n;
        HttpRequireLine *grown = reallocarray(replace ? NULL : r->lines, keep + 1, sizeof(HttpRequireLine));
        if (!grown) {
                require_line_done(&l);
                return -ENOMEM;
        }
        if (replace) {
                http_require_done(r);
        }
        grown[keep] = l;
        r->lines = grown;
        r->n = keep + 1;
        return 0;
}

bool http_require_wants_user(const HttpRequire *r) {
        for (size_t i = 0; i < r->n; i++)
                if (r->lines[i].kind == HTTP_REQUIRE_VALID_USER || r->lines[i].kind == HTTP_REQUIRE_USER)
                        return true;
        return false;
}

HttpAccessVerdict http_require_evaluate(const HttpRequire *r, const char *peer, const char *user) {
        bool user_line = false;

        if (r->n == 0)
                return HTTP_ACCESS_GRANTED;
        for (size_t i = 0; i < r->n; i++) {
                const HttpRequireLine *l = &r->lines[i];
                switch (l->kind) {
                case HTTP_REQUIRE_ALL_GRANTED:
                        return HTTP_ACCESS_GRANTED;
                case HTTP_REQUIRE_ALL_DENIED:
                        break;
                case HTTP_REQUIRE_IP:
                        for (size_t j = 0; j < l->n_nets; j++)
                                if (http_netmask_contains(&l->nets[j], peer))
                                        return HTTP_ACCESS_GRANTED;
                        break;
                case HTTP_REQUIRE_VALID_USER:
                        user_line = true;
                        if (user)
                                return HTTP_ACCESS_GRANTED;
                        break;
                case HTTP_REQUIRE_USER:
                        user_line = true;
                        STRV_FOREACH(u, l->users)
                                if (user && strcmp(*u, user) == 0)
                                        return HTTP_ACCESS_GRANTED;
                        break;
                }
        }
        /* Apache answers 401 too when a user was verified but is not one of those named: the client
         * may try other credentials. */
        return user_line ? HTTP_ACCESS_UNAUTHORIZED : HTTP_ACCESS_DENIED;
}

int http_access_parse_require(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                              char **ret_error) {
        return http_require_add(field, value, ctx->replace_list, ctx->file, ctx->line, ret_error);
}

/* A user condition needs a way to know users: said at the Require line, with the config's file:line. */
int http_access_check_require(const ConfItem *item, const void *field, char **ret_error) {
        const HttpRequire *r = field;
        const HttpAccessConfig *a = container_of(r, HttpAccessConfig, require);

        for (size_t i = 0; i < r->n; i++) {
                const HttpRequireLine *l = &r->lines[i];
                if (l->kind != HTTP_REQUIRE_VALID_USER && l->kind != HTTP_REQUIRE_USER)
                        continue;
                if (a->auth_type != HTTP_AUTH_BASIC || !a->user_file.path || !a->auth_name)
                        return conf_parse_error(ret_error,
                                      "%s needs AuthType Basic, AuthName and AuthUserFile in the same section or one it "
                                      "inherits from",
                                      l->kind == HTTP_REQUIRE_USER ? "user" : "valid-user");
        }
        return 0;
}

char *http_access_format_require(const ConfItem *item, const void *field) {
        const HttpRequire *r = field;
        size_t size = 1;
        char *s, *p;

        if (r->n == 0)
                return strdup("all granted (default)");
        for (size_t i = 0; i < r->n; i++)
                size += 64 + r->lines[i].n_nets * 64 + (r->lines[i].users ? strv_length(r->lines[i].users) : 0) * 256;
        s = p = malloc(size);
        if (!s)
                return NULL;
        *p = 0;
        for (size_t i = 0; i < r->n; i++) {
                const HttpRequireLine *l = &r->lines[i];
                static const char *const names[] = { "all granted", "all denied", "ip", "valid-user", "user" };
                p += sprintf(p, "%s%s", i ? "; " : "", names[l->kind]);
                for (size_t j = 0; j < l->n_nets; j++) {
                        char a[64];
                        (void) inet_ntop(l->nets[j].family, l->nets[j].addr, a, sizeof(a));
                        p += sprintf(p, " %s/%u", a, l->nets[j].bits);
                }
                STRV_FOREACH(u, l->users)
                        p += snprintf(p, 258, " %.255s", *u);
        }
        return s;
}

int http_access_copy_require(const ConfItem *item, void *dst, const void *src) {
        const HttpRequire *from = src;
        HttpRequire copy = {};

        if (from->n > 0) {
                copy.lines = calloc(from->n, sizeof(HttpRequireLine));
                if (!copy.lines)
                        return -ENOMEM;
        }
        for (; copy.n < from->n; copy.n++) {
                const HttpRequireLine *a = &from->lines[copy.n];
                HttpRequireLine *b = &copy.lines[copy.n];

                *b = (HttpRequireLine) { .kind = a->kind, .n_nets = a->n_nets, .line = a->line, .file = strdup(a->file) };
                if (a->n_nets) {
                        b->nets = malloc(a->n_nets * sizeof(HttpNetmask));
                        if (b->nets)
                                memcpy(b->nets, a->nets, a->n_nets * sizeof(HttpNetmask));
                }
                if (a->users)
                        b->users = strv_copy(a->users);
                if (!b->file || (a->n_nets && !b->nets) || (a->users && !b->users)) {
                        copy.n++;
                        http_require_done(&copy);
                        return -ENOMEM;
                }
        }
        http_require_done(dst);
        *(HttpRequire *) dst = copy;
        return 0;
}

void http_access_done_require(const ConfItem *item, void *field) {
        http_require_done(field);
}

/* ---- AuthName ------------------------------------------------------------------------------ */

/* The realm goes into a quoted-string of WWW-Authenticate: quotes around it are removed (Apache's
 * form), and what could end or break that string is refused. */
int http_access_parse_auth_name(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                                char **ret_error) {
        size_t n = strlen(value);
        char *realm;

        *ret_error = NULL;
        if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
                value++;
                n -= 2;
        }
        if (n == 0)
                return conf_parse_error(ret_error, "needs a realm");
        for (size_t i = 0; i < n; i++)
                if (value[i] == '"' || value[i] == '\\' || (unsigned char) value[i] < 0x20 || value[i] == 0x7f)
                        return conf_parse_error(ret_error, "a realm cannot hold '\"', '\\' or control characters");
        realm = strndup(value, n);
        if (!realm)
                return -ENOMEM;
        free(*(char **) field);
        *(char **) field = realm;
        return 0;
}

char *http_access_format_auth_name(const ConfItem *item, const void *field) {
        const char *s = *(char *const *) field;
        char *out;

        if (!s)
                return strdup("(none)");
        return asprintf(&out, "\"%s\"", s) < 0 ? NULL : out;
}

int http_access_copy_auth_name(const ConfItem *item, void *dst, const void *src) {
        const char *s = *(char *const *) src;
        char *copy = NULL;

        if (s && !(copy = strdup(s)))
                return -ENOMEM;
        free(*(char **) dst);
        *(char **) dst = copy;
        return 0;
}

void http_access_done_auth_name(const ConfItem *item, void *field) {
        free(*(char **) field);
        *(char **) field = NULL;
}

/* ---- AuthUserFile -------------------------------------------------------------------------- */

static void user_file_done(HttpAuthUserFile *f) {
        free(f->path);
        free(f->file);
        http_htpasswd_table_free(f->table);
        *f = (HttpAuthUserFile) {};
}

int http_access_parse_user_file(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                                char **ret_error) {
        HttpAuthUserFile f = { .line = ctx->line };

        *ret_error = NULL;
        if (value[0] != '/' || value[strcspn(value, WORD_SPACE)] != '\0')
                return conf_parse_error(ret_error, "\"%s\" is not an absolute path", value);
        f.path = strdup(value);
        f.file = strdup(ctx->file ? ctx->file : "");
        if (!f.path || !f.file) {
                user_file_done(&f);
                return -ENOMEM;
        }
        user_file_done(field);
        *(HttpAuthUserFile *) field = f;
        return 0;
}

char *http_access_format_user_file(const ConfItem *item, const void *field) {
        const HttpAuthUserFile *f = field;
        return strdup(f->path ? f->path : "(none)");
}

/* The path and where it was written; the table is loaded for each config on its own. */
int http_access_copy_user_file(const ConfItem *item, void *dst, const void *src) {
        const HttpAuthUserFile *from = src;
        HttpAuthUserFile copy = { .line = from->line };

        if (from->path) {
                copy.path = strdup(from->path);
                copy.file = strdup(from->file ? from->file : "");
                if (!copy.path || !copy.file) {
                        user_file_done(&copy);
                        return -ENOMEM;
                }
        }
        user_file_done(dst);
        *(HttpAuthUserFile *) dst = copy;
        return 0;
}

void http_access_done_user_file(const ConfItem *item, void *field) {
        user_file_done(field);
}

void http_access_forget_tables(const HttpSiteConfig *cfg) {
        if (!cfg)
                return;
        http_htpasswd_table_wipe(cfg->access.user_file.table);
        for (size_t i = 0; i < cfg->locations.n; i++)
                http_htpasswd_table_wipe(cfg->locations.items[i].cfg->access.user_file.table);
}

/* ---- Authorization: Basic ------------------------------------------------------------------ */

static int base64_value(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

int http_basic_credentials_parse(const char *value, size_t len, char *buf, size_t size, const char **ret_user,
                                 const char **ret_password) {
        size_t i = 0, out = 0, pad = 0;
        uint32_t acc = 0;
        unsigned nbits = 0;

        if (len < 5 || strncasecmp(value, "Basic", 5) != 0 || (len > 5 && value[5] != ' ' && value[5] != '\t'))
                return -EPROTONOSUPPORT;
        for (i = 5; i < len && (value[i] == ' ' || value[i] == '\t'); i++)
                ;
        if (i == len || size < 2)
                return -EINVAL;
        for (; i < len; i++) {
                char c = value[i];
                if (c == '=') {
                        pad++;
                        continue;
                }
                int v = base64_value(c);
                if (v < 0 || pad > 0)
                        return -EINVAL; /* not base64, or data after the padding */
                acc = (acc << 6) | (uint32_t) v;
                nbits += 6;
                if (nbits >= 8) {
                        nbits -= 8;
                        if (out + 2 >= size)
                                return -E2BIG;
                        buf[out++] = (char) ((acc >> nbits) & 0xff);
                }
        }
        if (pad > 2 || nbits >= 6 || (acc & ((1u << nbits) - 1)) != 0)
                return -EINVAL; /* a lone sixth of a byte, or bits left over that are not zero */
        char *colon = memchr(buf, ':', out);
        if (!colon || memchr(buf, '\0', out))
                return -EINVAL;
        for (char *p = buf; p < colon; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return -EINVAL;
        *colon = '\0';
        buf[out] = '\0';
        *ret_user = buf;
        *ret_password = colon + 1;
        return 0;
}

/* ---- the router's step --------------------------------------------------------------------- */

/* A user name as the log may show it: bytes that could end the line or fool a reader, as \xHH. */
static void log_escape(const char *s, char *out, size_t size) {
        size_t o = 0;

        for (; *s && o + 5 < size; s++) {
                unsigned char c = (unsigned char) *s;
                if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
                        o += (size_t) snprintf(out + o, size - o, "\\x%02x", c);
                else
                        out[o++] = (char) c;
        }
        out[o] = '\0';
}

static bool answer_401(const HttpAccessConfig *a, HttpResponse *r) {
        http_response_set_error(r, 401);
        http_response_add_header(r, "WWW-Authenticate", "Basic realm=\"%s\", charset=\"UTF-8\"",
                                 a->auth_name ? a->auth_name : "");
        return true;
}

bool http_access_check(HttpRequest *q, HttpResponse *r) {
        const HttpAccessConfig *a = &q->cfg->access;
        const HttpRequestHead *h = q->head;
        char creds[1024], shown[256];
        const char *user = NULL, *password = NULL;

        q->user[0] = '\0'; /* FallbackResource routes again: the check of the path served decides */
        if (a->require.n == 0)
                return false;
        /* Apache's order: the conditions that need no user first (an ip line grants without asking). */
        HttpAccessVerdict v = http_require_evaluate(&a->require, q->peer, NULL);
        if (v == HTTP_ACCESS_GRANTED)
                return false;
        if (v == HTTP_ACCESS_DENIED) {
                http_request_log(q, LOG_PRI_ERR, "AH01630: client denied by server configuration: %s", q->path);
                http_response_set_error(r, 403);
                return true;
        }
        if (a->auth_type != HTTP_AUTH_BASIC)
                return answer_401(a, r); /* not reached: the configuration check requires Basic */

        const HttpHeader *field = NULL;
        for (uint32_t i = 0; i < h->n_headers && !field; i++)
                if (http_span_eq_ci(q->buf, h->headers[i].name, "Authorization"))
                        field = &h->headers[i];
        if (!field)
                return answer_401(a, r); /* the first request of a session: nothing to log */

        int k = http_basic_credentials_parse(q->buf + field->value.off, field->value.len, creds, sizeof(creds), &user,
                                             &password);
        if (k == -EPROTONOSUPPORT) {
                http_request_log(q, LOG_PRI_ERR, "AH01614: client used wrong authentication scheme: %s", q->path);
                return answer_401(a, r);
        }
        if (k < 0) {
                http_request_log(q, LOG_PRI_ERR, "AH01613: invalid Basic credentials (%s): %s",
                                 k == -E2BIG ? "too long" : "not base64 of user:password", q->path);
                explicit_bzero(creds, sizeof(creds));
                return answer_401(a, r);
        }
        HttpHtpasswdResult res = http_htpasswd_verify(a->user_file.table, user, password, q->now_mono);
        log_escape(user, shown, sizeof(shown));
        explicit_bzero((char *) password, strlen(password));
        if (res == HTTP_HTPASSWD_NO_USER)
                http_request_log(q, LOG_PRI_ERR, "AH01618: user %s not found: %s", shown, q->path);
        else if (res == HTTP_HTPASSWD_MISMATCH)
                http_request_log(q, LOG_PRI_ERR, "AH01617: user %s: authentication failure for \"%s\": Password Mismatch",
                                 shown, q->path);
        else if (res == HTTP_HTPASSWD_ERROR) {
                explicit_bzero(creds, sizeof(creds));
                http_response_set_error(r, 500);
                return true;
        }
        if (res != HTTP_HTPASSWD_OK) {
                explicit_bzero(creds, sizeof(creds));
                return answer_401(a, r);
        }
        v = http_require_evaluate(&a->require, q->peer, user);
        if (v == HTTP_ACCESS_GRANTED) {
                /* It is an entry of the user file, whose names the loader keeps below HTTP_USER_MAX. */
                snprintf(q->user, sizeof(q->user), "%s", user);
                explicit_bzero(creds, sizeof(creds));
                return false;
        }
        explicit_bzero(creds, sizeof(creds));
        http_request_log(q, LOG_PRI_ERR, "AH01631: user %s: authorization failure for \"%s\": ", shown, q->path);
        return answer_401(a, r);
}
