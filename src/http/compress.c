/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "http/compress.h"
#include "http/http-chars.h"
#include "shared/strv.h"

static const char *const coding_names[_HTTP_CODING_MAX] = { "identity", "gzip", "br" };
static const char *const coding_suffixes[_HTTP_CODING_MAX] = { "", ".gz", ".br" };
static const char *const coding_etag_suffixes[_HTTP_CODING_MAX] = { "", "-gz", "-br" };

const char *const http_compression_names[] = { "Off", "gzip", NULL };

const char *http_coding_name(HttpCoding c) {
        return c < _HTTP_CODING_MAX ? coding_names[c] : NULL;
}

const char *http_coding_suffix(HttpCoding c) {
        return c < _HTTP_CODING_MAX ? coding_suffixes[c] : NULL;
}

/* ---- Options ------------------------------------------------------------------------------ */

#define WORD_SPACE " \t\r\n\f\v"

/* Apache's options that mpmd has no switch for, and what it does instead. */
static const struct {
        const char *name;
        const char *instead;
} options_refused[] = {
        { "FollowSymLinks", "mpmd always follows symbolic links that stay beneath the root and never one that leaves it" },
        { "SymLinksIfOwnerMatch", "mpmd always follows symbolic links that stay beneath the root and never one that leaves it" },
        { "ExecCGI", "programs run as CGI through ScriptAlias or AddHandler cgi-script" },
        { "Includes", "mpmd has no server-side includes" },
        { "IncludesNOEXEC", "mpmd has no server-side includes" },
        { "MultiViews", "mpmd does no content negotiation by file name; PrecompressedFiles serves .br/.gz sidecars" },
        { "All", "the only option mpmd has is Indexes: write Options = Indexes" },
};

/* Apply one checked Options line to *on. */
static int options_apply(const char *value, bool *on, char **ret_error) {
        const char *p = value;
        int signs = -1; /* unknown yet; 1: words with + or -, 0: without */
        bool v = *on, reset = false;

        while (*(p += strspn(p, WORD_SPACE))) {
                size_t n = strcspn(p, WORD_SPACE);
                char sign = *p == '+' || *p == '-' ? *p : 0;
                const char *w = sign ? p + 1 : p;
                size_t wn = sign ? n - 1 : n;
                int s = sign != 0;

                if (signs >= 0 && s != signs)
                        return conf_parse_error(ret_error, "either all options start with + or -, or none does "
                                                           "(as Apache's)");
                signs = s;
                if (wn == 7 && strncasecmp(w, "Indexes", 7) == 0) {
                        if (!sign && !reset) {
                                v = false;
                                reset = true;
                        }
                        v = sign != '-';
                } else if (wn == 4 && strncasecmp(w, "None", 4) == 0 && !sign) {
                        v = false;
                        reset = true;
                } else {
                        for (size_t i = 0; i < ELEMENTSOF(options_refused); i++)
                                if (strlen(options_refused[i].name) == wn &&
                                    strncasecmp(options_refused[i].name, w, wn) == 0)
                                        return conf_parse_error(ret_error, "%s is not supported: %s",
                                                                options_refused[i].name, options_refused[i].instead);
                        return conf_parse_error(ret_error, "unknown option \"%.*s\" (expected None, Indexes, +Indexes "
                                                           "or -Indexes)", (int) n, p);
                }
                p += n;
        }
        if (signs < 0)
                return conf_parse_error(ret_error, "expected None, Indexes, +Indexes or -Indexes");
        *on = v;
        return 0;
}

int http_options_check(const char *value, char **ret_error) {
        bool on = false;

        *ret_error = NULL;
        return options_apply(value, &on, ret_error);
}

int http_files_parse_options(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                             char **ret_error) {
        return http_options_check(value, ret_error);
}

bool http_files_indexes(const HttpFilesConfig *f) {
        bool on = false;

        for (size_t i = 0; i < f->options.n; i++) {
                _cleanup_free_ char *error = NULL;
                (void) options_apply(f->options.lines[i].value, &on, &error);
        }
        return on;
}

/* ---- PrecompressedFiles, CompressionTypes --------------------------------------------------- */

int http_files_parse_precompressed(const ConfItem *item, void *field, const char *value,
                                   const ConfApplyContext *ctx, char **ret_error) {
        HttpPrecompressed pc = {};
        const char *p = value;

        *ret_error = NULL;
        while (*(p += strspn(p, WORD_SPACE))) {
                size_t n = strcspn(p, WORD_SPACE);
                HttpCoding c;

                if (n == 2 && strncasecmp(p, "br", 2) == 0)
                        c = HTTP_CODING_BR;
                else if (n == 4 && strncasecmp(p, "gzip", 4) == 0)
                        c = HTTP_CODING_GZIP;
                else if ((n == 4 && strncasecmp(p, "None", 4) == 0) || (n == 3 && strncasecmp(p, "Off", 3) == 0)) {
                        if (pc.n > 0 || p[n + strspn(p + n, WORD_SPACE)])
                                return conf_parse_error(ret_error, "None stands alone");
                        break;
                } else
                        return conf_parse_error(ret_error, "unknown coding \"%.*s\" (expected br and/or gzip, or None)",
                                                (int) n, p);
                for (size_t i = 0; i < pc.n; i++)
                        if (pc.codings[i] == c)
                                return conf_parse_error(ret_error, "%s is given twice", coding_names[c]);
                pc.codings[pc.n++] = (uint8_t) c;
                p += n;
        }
        memcpy(field, &pc, sizeof(pc));
        return 0;
}

char *http_files_format_precompressed(const ConfItem *item, const void *field) {
        HttpPrecompressed pc;
        char buf[32] = "";

        memcpy(&pc, field, sizeof(pc));
        if (pc.n == 0)
                return strdup("None");
        for (size_t i = 0; i < pc.n && i < _HTTP_CODING_MAX; i++) {
                if (i > 0)
                        strcat(buf, " ");
                strcat(buf, coding_names[pc.codings[i] < _HTTP_CODING_MAX ? pc.codings[i] : 0]);
        }
        return strdup(buf);
}

/* A media type: type "/" subtype, both tokens, no parameters. */
static bool media_type_valid(const char *p, size_t n) {
        const char *slash = memchr(p, '/', n);

        if (!slash || slash == p || slash == p + n - 1)
                return false;
        for (size_t i = 0; i < n; i++)
                if (p + i != slash && !char_is_tchar((unsigned char) p[i]))
                        return false;
        return true;
}

int http_files_parse_type(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                          char **ret_error) {
        const char *p = value;

        *ret_error = NULL;
        while (*(p += strspn(p, WORD_SPACE))) {
                size_t n = strcspn(p, WORD_SPACE);
                if (!media_type_valid(p, n))
                        return conf_parse_error(ret_error, "\"%.*s\" is not a media type such as text/html", (int) n, p);
                p += n;
        }
        return 0;
}

bool http_files_compressible(const HttpFilesConfig *f, const char *type, uint64_t length) {
        size_t n;

        if (f->compression != HTTP_COMPRESSION_GZIP || length < f->compression_min_length || !type)
                return false;
        n = strcspn(type, "; \t");
        STRV_FOREACH(t, f->compression_types)
                if (strlen(*t) == n && strncasecmp(*t, type, n) == 0)
                        return true;
        return false;
}

/* ---- Accept-Encoding (RFC 9110 §12.5.3) ------------------------------------------------------ */

static bool is_ows(char c) {
        return c == ' ' || c == '\t';
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths. */
static int qvalue_parse(const char *p, size_t n, uint16_t *ret) {
        unsigned v, scale = 100;

        if (n == 0 || (p[0] != '0' && p[0] != '1'))
                return -EINVAL;
        v = (unsigned) (p[0] - '0') * 1000;
        if (n == 1) {
                *ret = (uint16_t) v;
                return 0;
        }
        if (p[1] != '.' || n > 5)
                return -EINVAL;
        for (size_t i = 2; i < n; i++, scale /= 10) {
                if (p[i] < '0' || p[i] > '9' || (p[0] == '1' && p[i] != '0'))
                        return -EINVAL;
                v += (unsigned) (p[i] - '0') * scale;
        }
        *ret = (uint16_t) v;
        return 0;
}

static int accept_encoding_parse(const char *s, size_t n, HttpAcceptEncoding *ret) {
        int given[_HTTP_CODING_MAX], star = -1;
        size_t i = 0;

        for (size_t c = 0; c < _HTTP_CODING_MAX; c++)
                given[c] = -1;
        while (i < n) {
                size_t tok, tok_len;
                uint16_t q = 1000;

                while (i < n && (is_ows(s[i]) || s[i] == ','))
                        i++;
                if (i >= n)
                        break;
                tok = i;
                while (i < n && char_is_tchar((unsigned char) s[i]))
                        i++;
                tok_len = i - tok;
                if (tok_len == 0)
                        return -EINVAL;
                /* parameters: *( OWS ";" OWS name "=" value ) */
                for (;;) {
                        size_t j = i, name, name_len, val, val_len;

                        while (j < n && is_ows(s[j]))
                                j++;
                        if (j >= n || s[j] != ';')
                                break;
                        j++;
                        while (j < n && is_ows(s[j]))
                                j++;
                        name = j;
                        while (j < n && char_is_tchar((unsigned char) s[j]))
                                j++;
                        name_len = j - name;
                        if (name_len == 0 || j >= n || s[j] != '=')
                                return -EINVAL;
                        j++;
                        val = j;
                        while (j < n && char_is_tchar((unsigned char) s[j]))
                                j++;
                        val_len = j - val;
                        if (val_len == 0)
                                return -EINVAL; /* quoted values exist for other fields, not here */
                        if (name_len == 1 && (s[name] == 'q' || s[name] == 'Q') && qvalue_parse(s + val, val_len, &q) < 0)
                                return -EINVAL;
                        i = j;
                }
                while (i < n && is_ows(s[i]))
                        i++;
                if (i < n && s[i] != ',')
                        return -EINVAL;

                if (tok_len == 1 && s[tok] == '*')
                        star = q;
                else
                        for (size_t c = 0; c < _HTTP_CODING_MAX; c++)
                                if ((strlen(coding_names[c]) == tok_len && strncasecmp(s + tok, coding_names[c], tok_len) == 0) ||
                                    (c == HTTP_CODING_GZIP && tok_len == 6 && strncasecmp(s + tok, "x-gzip", 6) == 0))
                                        /* Named twice: the larger weight, as no one means less by it. */
                                        given[c] = MAX(given[c], (int) q);
        }
        for (size_t c = 0; c < _HTTP_CODING_MAX; c++)
                ret->q[c] = (uint16_t) (given[c] >= 0 ? given[c] : star >= 0 ? star : c == HTTP_CODING_IDENTITY ? 1000 : 0);
        return 0;
}

int http_accept_encoding_parse(const char *value, size_t n, HttpAcceptEncoding *ret) {
        HttpAcceptEncoding a = {};
        int r;

        if (!value) {
                *ret = (HttpAcceptEncoding) { .q = { [HTTP_CODING_IDENTITY] = 1000 } };
                return 0;
        }
        r = accept_encoding_parse(value, n, &a);
        if (r < 0) {
                *ret = (HttpAcceptEncoding) { .q = { [HTTP_CODING_IDENTITY] = 1000 } };
                return r;
        }
        *ret = a;
        return 0;
}

HttpCoding http_accept_encoding_choose(const HttpAcceptEncoding *a, const uint8_t *offer, size_t n) {
        HttpCoding best = HTTP_CODING_IDENTITY;
        unsigned best_q = a->q[HTTP_CODING_IDENTITY];

        for (size_t i = n; i-- > 0;) {
                HttpCoding c = offer[i];
                /* >=: an earlier offer beats a later one and identity at the same weight. */
                if (c < _HTTP_CODING_MAX && c != HTTP_CODING_IDENTITY && a->q[c] > 0 && a->q[c] >= best_q) {
                        best = c;
                        best_q = a->q[c];
                }
        }
        return best;
}

int http_etag_for_coding(const char *etag, HttpCoding c, bool weak, char *out, size_t size) {
        size_t n = strlen(etag);
        int k;

        if (c == HTTP_CODING_IDENTITY)
                k = snprintf(out, size, "%s%s", weak ? "W/" : "", etag);
        else if (n >= 2 && etag[n - 1] == '"')
                k = snprintf(out, size, "%s%.*s%s\"", weak ? "W/" : "", (int) (n - 1), etag, coding_etag_suffixes[c]);
        else
                return -EINVAL;
        if (k < 0 || (size_t) k >= size)
                return -ENOBUFS;
        return k;
}

/* ---- gzip ------------------------------------------------------------------------------------ */

struct HttpGzip {
        z_stream z;
        int level;
};

/* windowBits 15 + 16: the gzip wrapper (header and CRC-32 trailer). memLevel 8 is zlib's default:
 * deflate's state is (1 << (15 + 2)) + (1 << (8 + 9)) bytes, 256 KiB, plus about 6 KiB. */
#define GZIP_WINDOW_BITS (15 + 16)
#define GZIP_MEM_LEVEL 8

const char *http_gzip_library_version(void) {
        return zlibVersion();
}

int http_gzip_new(int level, HttpGzip **ret) {
        HttpGzip *g = calloc(1, sizeof(*g));

        if (!g)
                return -ENOMEM;
        if (level < 1 || level > 9)
                level = 1;
        if (deflateInit2(&g->z, level, Z_DEFLATED, GZIP_WINDOW_BITS, GZIP_MEM_LEVEL, Z_DEFAULT_STRATEGY) != Z_OK) {
                free(g);
                return -ENOMEM;
        }
        g->level = level;
        *ret = g;
        return 0;
}

HttpGzip *http_gzip_free(HttpGzip *g) {
        if (!g)
                return NULL;
        deflateEnd(&g->z);
        free(g);
        return NULL;
}

int http_gzip_reset(HttpGzip *g, int level) {
        if (deflateReset(&g->z) != Z_OK)
                return -EIO;
        if (level != g->level) {
                /* Freshly reset, no input yet: deflateParams() has nothing to flush. */
                if (deflateParams(&g->z, level, Z_DEFAULT_STRATEGY) != Z_OK)
                        return -EIO;
                g->level = level;
        }
        return 0;
}

int http_gzip_compress(HttpGzip *g, const void *in, size_t in_len, void *out, size_t out_size, bool finish,
                       size_t *ret_in, size_t *ret_out) {
        int z;

        /* uInt is 32 bits: the callers' buffers are far smaller, but keep it true. */
        in_len = MIN(in_len, (size_t) UINT32_MAX);
        out_size = MIN(out_size, (size_t) UINT32_MAX);
        g->z.next_in = (Bytef *) in;
        g->z.avail_in = (uInt) in_len;
        g->z.next_out = out;
        g->z.avail_out = (uInt) out_size;
        z = deflate(&g->z, finish ? Z_FINISH : Z_NO_FLUSH);
        *ret_in = in_len - g->z.avail_in;
        *ret_out = out_size - g->z.avail_out;
        g->z.next_in = g->z.next_out = NULL;
        if (z == Z_STREAM_END)
                return 1;
        if (z == Z_OK || z == Z_BUF_ERROR) /* Z_BUF_ERROR: no progress possible, not fatal */
                return 0;
        return -EIO;
}

size_t http_gzip_bound(HttpGzip *g, size_t in_len) {
        return (size_t) deflateBound(&g->z, (uLong) in_len);
}

int64_t http_gzip_compress_all(HttpGzip *g, const void *in, size_t in_len, void *out, size_t out_size) {
        size_t used = 0, taken = 0;

        for (;;) {
                size_t a, b;
                int r = http_gzip_compress(g, (const char *) in + taken, in_len - taken, (char *) out + used,
                                           out_size - used, true, &a, &b);
                if (r < 0)
                        return r;
                taken += a;
                used += b;
                if (r == 1)
                        return (int64_t) used;
                if (used == out_size || (a == 0 && b == 0))
                        return -ENOBUFS;
        }
}
