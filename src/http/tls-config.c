/* SPDX-License-Identifier: MIT */
/* tls-config.c — the rows of the SSL* keys (tls-config.h): the form of each value, judged as it is
 * read; what only OpenSSL can judge is judged by the certificate store (src/mpm/tls-store.c). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/tls-config.h"

#define WORD_SPACE " \t\r\n\f\v"

/* ---- SSLCertificateFile, SSLCertificateKeyFile ------------------------------------------------- */

/* Each line one file; a line of a list that already has HTTP_TLS_CERTS_MAX is refused here, where its
 * file:line is known. The loader stores the line after this judged it. */
static int check_count(const ConfLines *l, const ConfApplyContext *ctx, const char *what, char **ret_error) {
        if (!ctx->replace_list && l->n >= HTTP_TLS_CERTS_MAX)
                return conf_parse_error(ret_error,
                              "at most %d %s (an ECDSA and an RSA one, paired in order); the first is at %s:%u",
                              HTTP_TLS_CERTS_MAX, what, l->lines[0].file, l->lines[0].line);
        return 0;
}

static bool has_space(const char *s) {
        return s[strcspn(s, WORD_SPACE)] != '\0';
}

int http_tls_parse_certificate(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                               char **ret_error) {
        if (value[0] != '/' || has_space(value))
                return conf_parse_error(ret_error, "\"%s\" is not an absolute path", value);
        return check_count(field, ctx, "certificates", ret_error);
}

int http_tls_parse_key(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                       char **ret_error) {
        size_t plen = strlen(HTTP_TLS_CREDENTIAL_PREFIX);

        if (strncmp(value, HTTP_TLS_CREDENTIAL_PREFIX, plen) == 0) {
                const char *name = value + plen;

                /* $CREDENTIALS_DIRECTORY/NAME: a file name, nothing that could leave the folder. */
                if (name[0] == '\0' || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
                    has_space(name))
                        return conf_parse_error(ret_error,
                                      "\"%s\": a credential is named by a plain file name, as LoadCredential=NAME:PATH "
                                      "gives it",
                                      value);
        } else if (value[0] != '/' || has_space(value))
                return conf_parse_error(ret_error, "\"%s\" is neither an absolute path nor credential:NAME", value);
        return check_count(field, ctx, "keys", ret_error);
}

/* ---- SSLCACertificateFile, SSLVerifyClient ----------------------------------------------------- */

int http_tls_parse_ca_file(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                           char **ret_error) {
        const ConfLines *l = field;

        if (value[0] != '/' || has_space(value))
                return conf_parse_error(ret_error, "\"%s\" is not an absolute path", value);
        /* One bundle: a second line would leave which one counts to the reader's guess. */
        if (!ctx->replace_list && l->n >= 1)
                return conf_parse_error(ret_error, "given once (one PEM file may hold many CAs); it is at %s:%u",
                                        l->lines[0].file, l->lines[0].line);
        return 0;
}

static const char *const verify_names[_HTTP_TLS_VERIFY_MAX] = {
        [HTTP_TLS_VERIFY_NONE] = "none",
        [HTTP_TLS_VERIFY_OPTIONAL] = "optional",
        [HTTP_TLS_VERIFY_REQUIRE] = "require",
        [HTTP_TLS_VERIFY_OPTIONAL_NO_CA] = "optional_no_ca",
};

const char *http_tls_verify_mode_to_string(int mode) {
        return mode >= 0 && mode < _HTTP_TLS_VERIFY_MAX ? verify_names[mode] : NULL;
}

void http_tls_verify_done(HttpTlsVerify *v) {
        if (!v)
                return;
        free(v->file);
        *v = (HttpTlsVerify){};
}

int http_tls_verify_parse(const char *value, const char *file, unsigned line, HttpTlsVerify *ret, char **ret_error) {
        int mode = -1;

        *ret_error = NULL;
        for (int i = 0; i < _HTTP_TLS_VERIFY_MAX && mode < 0; i++)
                if (strcasecmp(value, verify_names[i]) == 0)
                        mode = i;
        if (mode < 0)
                return conf_parse_error(ret_error, "\"%s\": expected none, optional, require or optional_no_ca", value);
        *ret = (HttpTlsVerify){.mode = mode, .line = line};
        if (file) {
                ret->file = strdup(file);
                if (!ret->file)
                        return -ENOMEM;
        }
        return 0;
}

int http_tls_parse_verify(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                          char **ret_error) {
        HttpTlsVerify v;
        int r;

        r = http_tls_verify_parse(value, ctx->file, ctx->line, &v, ret_error);
        if (r < 0)
                return r;
        http_tls_verify_done(field);
        *(HttpTlsVerify *) field = v;
        return 0;
}

char *http_tls_format_verify(const ConfItem *item, const void *field) {
        const char *name = http_tls_verify_mode_to_string(((const HttpTlsVerify *) field)->mode);

        return strdup(name ? name : "?");
}

int http_tls_copy_verify(const ConfItem *item, void *dst, const void *src) {
        const HttpTlsVerify *from = src;
        HttpTlsVerify copy = {.mode = from->mode, .line = from->line};

        if (from->file) {
                copy.file = strdup(from->file);
                if (!copy.file)
                        return -ENOMEM;
        }
        http_tls_verify_done(dst);
        *(HttpTlsVerify *) dst = copy;
        return 0;
}

void http_tls_done_verify(const ConfItem *item, void *field) {
        http_tls_verify_done(field);
}

/* ---- SSLProtocol -------------------------------------------------------------------------------- */

static const struct {
        const char *name;
        unsigned mask;
} protocol_names[] = {
        {"TLSv1", HTTP_TLS_V1_0},
        {"TLSv1.1", HTTP_TLS_V1_1},
        {"TLSv1.2", HTTP_TLS_V1_2},
        {"TLSv1.3", HTTP_TLS_V1_3},
        /* TLS 1.0 and 1.1 are deprecated (RFC 8996): only when named. */
        {"all", HTTP_TLS_V1_2 | HTTP_TLS_V1_3},
};

void http_tls_protocols_done(HttpTlsProtocols *p) {
        if (!p)
                return;
        free(p->file);
        *p = (HttpTlsProtocols){};
}

int http_tls_protocols_parse(const char *value, const char *file, unsigned line, HttpTlsProtocols *ret,
                             char **ret_error) {
        _cleanup_free_ char *copy = strdup(value);
        unsigned mask = 0;
        char *save = NULL;
        bool any = false;

        *ret_error = NULL;
        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, WORD_SPACE, &save); w; w = strtok_r(NULL, WORD_SPACE, &save)) {
                char action = 0;
                unsigned this = 0;
                bool found = false;

                if (w[0] == '+' || w[0] == '-')
                        action = *w++;
                if (strcasecmp(w, "SSLv2") == 0 || strcasecmp(w, "SSLv3") == 0)
                        return conf_parse_error(ret_error, "%s is broken and not supported; use TLSv1.2 TLSv1.3", w);
                for (size_t i = 0; i < ELEMENTSOF(protocol_names) && !found; i++)
                        if (strcasecmp(w, protocol_names[i].name) == 0) {
                                this = protocol_names[i].mask;
                                found = true;
                        }
                if (!found)
                        return conf_parse_error(ret_error,
                                      "unknown protocol \"%s\" (expected all, TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3, each "
                                      "with + or - before it if wanted)",
                                      w);
                /* Apache lets a word without + or - replace what came before (and warns);
                 * here it adds, so that "TLSv1.2 TLSv1.3" means both, as it reads. */
                if (action == '-')
                        mask &= ~this;
                else
                        mask |= this;
                any = true;
        }
        if (!any)
                return conf_parse_error(ret_error, "needs at least one protocol, such as TLSv1.2 TLSv1.3");
        if (mask == 0)
                return conf_parse_error(ret_error, "\"%s\" leaves no protocol enabled", value);

        *ret = (HttpTlsProtocols){.mask = mask, .line = line};
        if (file) {
                ret->file = strdup(file);
                if (!ret->file)
                        return -ENOMEM;
        }
        return 0;
}

char *http_tls_protocols_format(unsigned mask) {
        char buf[64] = "";

        for (size_t i = 0; i < 4; i++)
                if (mask & protocol_names[i].mask) {
                        if (buf[0])
                                strcat(buf, " ");
                        strcat(buf, protocol_names[i].name);
                }
        return strdup(buf);
}

int http_tls_parse_protocols(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                             char **ret_error) {
        HttpTlsProtocols p;
        int r;

        r = http_tls_protocols_parse(value, ctx->file, ctx->line, &p, ret_error);
        if (r < 0)
                return r;
        http_tls_protocols_done(field);
        *(HttpTlsProtocols *) field = p;
        return 0;
}

char *http_tls_format_protocols(const ConfItem *item, const void *field) {
        return http_tls_protocols_format(((const HttpTlsProtocols *) field)->mask);
}

int http_tls_copy_protocols(const ConfItem *item, void *dst, const void *src) {
        const HttpTlsProtocols *from = src;
        HttpTlsProtocols copy = {.mask = from->mask, .line = from->line};

        if (from->file) {
                copy.file = strdup(from->file);
                if (!copy.file)
                        return -ENOMEM;
        }
        http_tls_protocols_done(dst);
        *(HttpTlsProtocols *) dst = copy;
        return 0;
}

void http_tls_done_protocols(const ConfItem *item, void *field) {
        http_tls_protocols_done(field);
}

/* ---- SSLCipherSuite ----------------------------------------------------------------------------- */

void http_tls_ciphers_done(HttpTlsCiphers *c) {
        if (!c)
                return;
        free(c->tls12);
        free(c->tls13);
        free(c->tls12_file);
        free(c->tls13_file);
        *c = (HttpTlsCiphers){};
}

static int ciphers_copy(HttpTlsCiphers *dst, const HttpTlsCiphers *src) {
        HttpTlsCiphers copy = {.tls12_line = src->tls12_line, .tls13_line = src->tls13_line};

        copy.tls12 = src->tls12 ? strdup(src->tls12) : NULL;
        copy.tls13 = src->tls13 ? strdup(src->tls13) : NULL;
        copy.tls12_file = src->tls12_file ? strdup(src->tls12_file) : NULL;
        copy.tls13_file = src->tls13_file ? strdup(src->tls13_file) : NULL;
        if ((src->tls12 && !copy.tls12) || (src->tls13 && !copy.tls13) || (src->tls12_file && !copy.tls12_file) ||
            (src->tls13_file && !copy.tls13_file)) {
                http_tls_ciphers_done(&copy);
                return -ENOMEM;
        }
        http_tls_ciphers_done(dst);
        *dst = copy;
        return 0;
}

/* Is word the first word of value (then whitespace or its end)? Sets *ret_rest to what follows. */
static bool starts_with_word(const char *value, const char *word, const char **ret_rest) {
        size_t n = strlen(word);

        if (strncasecmp(value, word, n) != 0 || (value[n] && !strchr(WORD_SPACE, value[n])))
                return false;
        *ret_rest = value + n + strspn(value + n, WORD_SPACE);
        return true;
}

int http_tls_ciphers_set(HttpTlsCiphers *c, const char *value, bool replace, const char *file, unsigned line,
                         char **ret_error) {
        _cleanup_free_ char *list = NULL, *where = NULL;
        HttpTlsCiphers n = {};
        const char *rest = value + strspn(value, WORD_SPACE);
        bool tls13 = false, ssl = false;
        size_t len;

        *ret_error = NULL;
        if (starts_with_word(rest, "TLSv1.3", &rest))
                tls13 = true;
        else
                ssl = starts_with_word(rest, "SSL", &rest); /* Apache's name for TLS up to 1.2 */
        len = strlen(rest);
        while (len > 0 && strchr(WORD_SPACE, rest[len - 1]))
                len--;
        if (len == 0)
                return conf_parse_error(ret_error, "needs a cipher list%s", tls13 ? " after TLSv1.3" : ssl ? " after SSL" : "");
        /* OpenSSL's lists are words joined by ':' (or ','): a space inside is a second argument,
         * which Apache's form does not have. */
        if (memchr(rest, ' ', len) || memchr(rest, '\t', len))
                return conf_parse_error(ret_error,
                              "\"%.*s\": one list, its ciphers joined by ':' (\"TLSv1.3 \" before it for TLS 1.3 "
                              "suites)",
                              (int) len, rest);
        list = strndup(rest, len);
        where = file ? strdup(file) : NULL;
        if (!list || (file && !where))
                return -ENOMEM;

        if (replace) {
                n.tls12 = strdup(HTTP_TLS_CIPHERS_TLS12_DEFAULT);
                n.tls13 = strdup(HTTP_TLS_CIPHERS_TLS13_DEFAULT);
                if (!n.tls12 || !n.tls13) {
                        http_tls_ciphers_done(&n);
                        return -ENOMEM;
                }
        } else if (ciphers_copy(&n, c) < 0)
                return -ENOMEM;
        if (tls13) {
                free(n.tls13);
                free(n.tls13_file);
                n.tls13 = TAKE_PTR(list);
                n.tls13_file = TAKE_PTR(where);
                n.tls13_line = line;
        } else {
                free(n.tls12);
                free(n.tls12_file);
                n.tls12 = TAKE_PTR(list);
                n.tls12_file = TAKE_PTR(where);
                n.tls12_line = line;
        }
        http_tls_ciphers_done(c);
        *c = n;
        return 0;
}

int http_tls_parse_ciphers(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                           char **ret_error) {
        return http_tls_ciphers_set(field, value, ctx->replace_list, ctx->file, ctx->line, ret_error);
}

char *http_tls_format_ciphers(const ConfItem *item, const void *field) {
        const HttpTlsCiphers *c = field;
        char *s;

        return asprintf(&s, "%s; TLSv1.3 %s", c->tls12 ? c->tls12 : "", c->tls13 ? c->tls13 : "") < 0 ? NULL : s;
}

int http_tls_copy_ciphers(const ConfItem *item, void *dst, const void *src) {
        return ciphers_copy(dst, src);
}

void http_tls_done_ciphers(const ConfItem *item, void *field) {
        http_tls_ciphers_done(field);
}
