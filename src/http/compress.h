/* SPDX-License-Identifier: MIT */
/* compress.h — the static files' directives (Options for listings, PrecompressedFiles, the
 * on-the-fly Compression keys), content negotiation of Accept-Encoding, and the gzip stream.
 *
 * Contract: the rows parse every value once, at load, into HttpFilesConfig; what the static handler
 * reads then needs no splitting (Options excepted: its lines are kept in order, the inherited
 * ones first, so that Apache's "+Indexes"/"-Indexes" modify what a wider section gave; they are
 * checked at load and evaluated only where a directory has no index, see http_files_indexes()).
 * http_accept_encoding_parse() reads one field value per RFC 9110 §12.5.3 without allocating;
 * http_accept_encoding_choose() picks a coding among those the server can offer. HttpGzip wraps
 * one zlib deflate stream (gzip wrapper, windowBits 31): about 256 KiB of zlib state at memLevel 8
 * plus nothing else; the caller owns the buffers. Nothing here logs or does I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/conf-table.h"

/* Content codings mpmd knows. */
typedef enum HttpCoding {
        HTTP_CODING_IDENTITY,
        HTTP_CODING_GZIP,
        HTTP_CODING_BR,
        _HTTP_CODING_MAX,
} HttpCoding;

/* The token of a coding ("gzip"), the sidecar's suffix (".gz") and the ETag's ("-gz"). */
const char *http_coding_name(HttpCoding c);
const char *http_coding_suffix(HttpCoding c);

/* PrecompressedFiles: the codings whose sidecars are looked for, in the server's order of
 * preference (as written). n == 0: off. Plain data. */
typedef struct HttpPrecompressed {
        uint8_t codings[_HTTP_CODING_MAX];
        uint8_t n;
} HttpPrecompressed;

typedef enum HttpCompression {
        HTTP_COMPRESSION_OFF,
        HTTP_COMPRESSION_GZIP,
        _HTTP_COMPRESSION_MAX,
} HttpCompression;

typedef struct HttpFilesConfig {
        ConfLines options;               /* Options lines, the inherited ones first (checked at load) */
        HttpPrecompressed precompressed; /* PrecompressedFiles */
        int compression;                 /* Compression: HttpCompression */
        char **compression_types;        /* CompressionTypes: media types, lower case, no parameters */
        uint32_t compression_min_length; /* CompressionMinLength: bytes */
        uint32_t compression_level;      /* CompressionLevel: 1..9 */
} HttpFilesConfig;

#define HTTP_COMPRESSION_TYPES_DEFAULT                                                                  \
        "text/html text/plain text/css text/javascript application/javascript application/json "        \
        "image/svg+xml application/xml"

/* Options: is Indexes on after these lines (in order: a line without +/- sets, one with them
 * modifies)? The lines were checked by the row. */
bool http_files_indexes(const HttpFilesConfig *f);

/* Check one Options value: "None", "Indexes", or "+Indexes"/"-Indexes" (all words with a sign or
 * none). Apache's other options are refused with what mpmd does instead. 0 or -EINVAL with
 * *ret_error (malloc'd), -ENOMEM. */
int http_options_check(const char *value, char **ret_error);

/* Should a response of this media type (parameters allowed, "text/html; charset=utf-8") and
 * length be compressed on the fly, by f (the client's wish aside)? */
bool http_files_compressible(const HttpFilesConfig *f, const char *type, uint64_t length);

/* One Accept-Encoding field value: the weight (0..1000) the client gives each coding. */
typedef struct HttpAcceptEncoding {
        uint16_t q[_HTTP_CODING_MAX];
} HttpAcceptEncoding;

/* Parse value[0..n) (value NULL: the request has no Accept-Encoding, so identity alone). A coding
 * not named takes "*"'s weight, else 0; identity is acceptable unless "identity;q=0" or "*;q=0"
 * without an identity entry excludes it. "x-gzip" is gzip (RFC 9110 §8.4.1.3). Codings and
 * parameter names are case-insensitive; parameters other than q are ignored. A malformed value
 * (bad token, bad q) is -EINVAL and *ret is identity alone, as if the field were absent. */
int http_accept_encoding_parse(const char *value, size_t n, HttpAcceptEncoding *ret);

/* The coding to send among offer[0..n) (the server's order of preference) and identity: the
 * highest weight wins, a tie goes to the earlier offer, identity last. HTTP_CODING_IDENTITY
 * when no offer is acceptable (also when identity itself is not: mpmd sends it then, as nginx). */
HttpCoding http_accept_encoding_choose(const HttpAcceptEncoding *a, const uint8_t *offer, size_t n);

/* ETags per coding: the representation's ETag ("\"abc\"") with a suffix inside the quotes
 * ("\"abc-gz\""); weak adds "W/" (on-the-fly gzip, whose bytes depend on zlib's version). Returns
 * the length, or -ENOBUFS. */
int http_etag_for_coding(const char *etag, HttpCoding c, bool weak, char *out, size_t size);

/* The zlib mpmd runs with (zlibVersion()), for mpmd -V. */
const char *http_gzip_library_version(void);

/* A gzip stream. */
typedef struct HttpGzip HttpGzip;

/* A deflate stream at level (1..9) with the gzip wrapper, memLevel 8: -ENOMEM or 0. */
int http_gzip_new(int level, HttpGzip **ret);
HttpGzip *http_gzip_free(HttpGzip *g);
/* Start a new member with the same settings (and level), keeping zlib's memory. */
int http_gzip_reset(HttpGzip *g, int level);

/* Compress in[0..in_len) into out[0..out_size); finish: no more input follows. *ret_in and *ret_out
 * say how much was taken and written. Returns 1 when the stream is complete (only with finish),
 * 0 when more calls are needed (out full, or input taken), -EIO on a zlib error. */
int http_gzip_compress(HttpGzip *g, const void *in, size_t in_len, void *out, size_t out_size, bool finish,
                       size_t *ret_in, size_t *ret_out);

/* The most that in_len bytes can become (zlib's deflateBound()). */
size_t http_gzip_bound(HttpGzip *g, size_t in_len);

/* The whole of in compressed into out: its length, or -ENOBUFS when out is too small. */
int64_t http_gzip_compress_all(HttpGzip *g, const void *in, size_t in_len, void *out, size_t out_size);

/* The rows' callbacks. */
int http_files_parse_options(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                             char **ret_error);
int http_files_parse_precompressed(const ConfItem *item, void *field, const char *value,
                                   const ConfApplyContext *ctx, char **ret_error);
char *http_files_format_precompressed(const ConfItem *item, const void *field);
int http_files_parse_type(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                          char **ret_error);

extern const char *const http_compression_names[];

/* The rows of the static files' keys, for the table of the struct that holds an HttpFilesConfig at
 * offset base (site-config.c: HTTP_FILES_ROWS(SITE(files))). All may be written in [Server],
 * [VirtualHost] and path sections; a narrower section that gives a key replaces the inherited value,
 * except Options with +/- words, which modify it (Apache's rule). */
#define HTTP_FILES_AT(base, field) ((base) + offsetof(HttpFilesConfig, field))
#define HTTP_FILES_ROWS(base)                                                                                    \
        { "Options", CONF_LINES, HTTP_FILES_AT(base, options), NULL, .flags = CONF_LIST_APPEND_INHERITED,         \
          .contexts = HTTP_SITE_CTX_PATH, .parse = http_files_parse_options,                                     \
          .expect = "None, Indexes, +Indexes or -Indexes" },                                                    \
        { "PrecompressedFiles", CONF_CUSTOM, HTTP_FILES_AT(base, precompressed), NULL,                           \
          .contexts = HTTP_SITE_CTX_PATH, .parse = http_files_parse_precompressed,                               \
          .format = http_files_format_precompressed, .size = sizeof(HttpPrecompressed),                          \
          .expect = "br and/or gzip in order of preference, or None" },                                          \
        { "Compression", CONF_ENUM, HTTP_FILES_AT(base, compression), "Off", .names = http_compression_names,    \
          .contexts = HTTP_SITE_CTX_PATH, .expect = "gzip or Off" },                                            \
        { "CompressionTypes", CONF_STRV, HTTP_FILES_AT(base, compression_types), HTTP_COMPRESSION_TYPES_DEFAULT, \
          .flags = CONF_LIST_REPLACE, .contexts = HTTP_SITE_CTX_PATH, .parse = http_files_parse_type,            \
          .expect = "media types such as text/html text/css" },                                                 \
        { "CompressionMinLength", CONF_UINT, HTTP_FILES_AT(base, compression_min_length), "256", 0, 1u << 30,    \
          .contexts = HTTP_SITE_CTX_PATH, .expect = "a number of bytes from 0 to 1073741824" },                  \
        { "CompressionLevel", CONF_UINT, HTTP_FILES_AT(base, compression_level), "1", 1, 9,                      \
          .contexts = HTTP_SITE_CTX_PATH, .expect = "a number from 1 (fastest) to 9 (smallest)" }
