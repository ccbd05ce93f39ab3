/* SPDX-License-Identifier: MIT */
/* htpasswd.h — an AuthUserFile (Apache's htpasswd format, "user:hash" lines) and the verification
 * of a user's password against it.
 *
 * Contract:
 * - A table is parsed from a file's bytes once, when a generation is built (the supervisor reads
 *   the file, as the site's user where it is a perchild site's own: src/supervisor/auth-files.c);
 *   never per request. Only strong hashes are taken: bcrypt ($2y$, what `htpasswd -B` writes, and
 *   $2b$), SHA-crypt ($5$, $6$) and yescrypt ($y$). MD5 ($apr1$, $1$), {SHA}, DES crypt and plain
 *   entries are refused with the line and a message naming `htpasswd -B`. The bytes read are wiped
 *   (explicit_bzero) once parsed, so that a process forked later holds the hashes only where the
 *   table keeps them, and http_htpasswd_table_wipe() can take them out of a process entirely.
 * - Verification runs libcrypt's crypt_r() and compares in constant time. A user who is not in the
 *   table costs one crypt_r() as well (against the first entry's hash: the same method and cost), so
 *   a failure's time does not say whether the user exists.
 * - Verified credentials are remembered per thread (64 entries, 60 s, as mod_authn_socache does) so
 *   that a logged-in client does not cost a bcrypt run on every request of an event loop. The cache
 *   holds a keyed hash (SipHash-2-4, 128 bits, a random key per thread) of the table's serial and
 *   "user:password", never the password; an entry is good only for the table it was verified
 *   against (a reload's new table has a new serial). Failures are never cached. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"

/* Room for a user name of a user file, with its NUL: the loader refuses longer ones, as Apache's
 * htpasswd does (at most 255 bytes). */
#define HTTP_USER_MAX 256

typedef struct HttpHtpasswdEntry {
        char *user;
        char *hash;
        size_t hash_len;
} HttpHtpasswdEntry;

typedef struct HttpHtpasswdTable {
        HttpHtpasswdEntry *entries; /* sorted by user */
        size_t n;
        char *dummy; /* the first entry's hash, for the users who are not there; NULL when empty */
        uint64_t serial; /* unique per parsed table in this server's life, for the cache */
} HttpHtpasswdTable;

typedef enum HttpHtpasswdResult {
        HTTP_HTPASSWD_OK,
        HTTP_HTPASSWD_MISMATCH, /* the user is there, the password is not theirs */
        HTTP_HTPASSWD_NO_USER,
        HTTP_HTPASSWD_ERROR, /* crypt_r() failed (out of memory) */
} HttpHtpasswdResult;

#define HTTP_HTPASSWD_FILE_MAX (16u << 20)
#define HTTP_HTPASSWD_CACHE_ENTRIES 64
#define HTTP_HTPASSWD_CACHE_USEC (60 * USEC_PER_SEC)

/* Parse text[0..len) (the whole file). 0 and *ret; -EINVAL with *ret_line (1-based; 0: the file as
 * a whole) and *ret_error (malloc'd, without file or line); -ENOMEM. text is not changed: the
 * caller wipes it. */
int http_htpasswd_parse(const char *text, size_t len, HttpHtpasswdTable **ret, unsigned *ret_line, char **ret_error);

/* Read the file open at fd (a regular file, at most HTTP_HTPASSWD_FILE_MAX bytes) and parse it; the
 * buffer is wiped before it is freed. Errors as http_htpasswd_parse(); a read error is -errno with
 * *ret_line 0 and *ret_error NULL. */
int http_htpasswd_load_fd(int fd, HttpHtpasswdTable **ret, unsigned *ret_line, char **ret_error);

/* Take every user and hash out of t (wiped, then freed); t stays, empty (every user unknown). */
void http_htpasswd_table_wipe(HttpHtpasswdTable *t);
HttpHtpasswdTable *http_htpasswd_table_free(HttpHtpasswdTable *t);
static inline void http_htpasswd_table_freep(HttpHtpasswdTable **t) {
        http_htpasswd_table_free(*t);
}

/* Is password user's in t? The cache first (now: CLOCK_MONOTONIC), then crypt_r(); an OK from
 * crypt_r() is remembered. An empty table knows no user (and costs no crypt_r()). */
HttpHtpasswdResult http_htpasswd_verify(const HttpHtpasswdTable *t, const char *user, const char *password,
                                        usec_t now);

/* The same without the cache. */
HttpHtpasswdResult http_htpasswd_check(const HttpHtpasswdTable *t, const char *user, const char *password);

/* How many crypt_r() runs this thread made (tests: a cache hit costs none, an unknown user one). */
uint64_t http_htpasswd_crypt_runs(void);

/* Equal bytes, in a time that depends on n only. */
bool http_htpasswd_mem_equal(const void *a, const void *b, size_t n);
