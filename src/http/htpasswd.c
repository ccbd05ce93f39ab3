/* SPDX-License-Identifier: MIT */
/* htpasswd.c — AuthUserFile tables, verification and the per-thread cache (htpasswd.h). */
#include <crypt.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/htpasswd.h"
#include "shared/conf-table.h"

/* ---- parsing -------------------------------------------------------------------------------- */

static atomic_uint_fast64_t table_serial;

static const char *const strong_prefixes[] = { "$2y$", "$2b$", "$5$", "$6$", "$y$" };

/* Why an entry's hash is refused, or NULL when it is one we take. */
static const char *hash_refusal(const char *hash) {
        if (strncmp(hash, "$apr1$", 6) == 0 || strncmp(hash, "$1$", 3) == 0)
                return "an MD5 hash ($apr1$), which is too weak";
        if (strncmp(hash, "{SHA}", 5) == 0)
                return "an unsalted SHA-1 hash ({SHA}), which is too weak";
        if (strncmp(hash, "$2a$", 4) == 0 || strncmp(hash, "$2x$", 4) == 0)
                return "an old bcrypt variant ($2a$ or $2x$)";
        bool strong = false;
        for (size_t i = 0; i < ELEMENTSOF(strong_prefixes); i++)
                if (strncmp(hash, strong_prefixes[i], strlen(strong_prefixes[i])) == 0)
                        strong = true;
        if (!strong)
                return hash[0] == '$' ? "a hash of a method mpmd does not take"
                                      : "a DES crypt hash or a plain password, which is too weak";
        /* The form, judged without the cost of a run: the setting (all before the last '$', and bcrypt's
         * cost and salt) by crypt_checksalt(), the hash after it in crypt's alphabet. libxcrypt calls
         * $5$ "legacy" (SHA-256 rather than SHA-512): still a salted, iterated hash, taken. */
        char setting[128];
        size_t n = strlen(hash), k;
        if (strncmp(hash, "$2", 2) == 0) {
                if (n != 60 || hash[6] != '$' || hash[4] < '0' || hash[4] > '3' || hash[5] < '0' || hash[5] > '9' ||
                    (hash[4] - '0') * 10 + (hash[5] - '0') < 4 || (hash[4] - '0') * 10 + (hash[5] - '0') > 31)
                        return "not a well-formed bcrypt hash (60 characters, a cost from 04 to 31)";
                k = 29;
        } else {
                const char *last = strrchr(hash, '$');
                k = (size_t) (last - hash) + 1;
                if (k == n)
                        return "not a well-formed hash of its method (no hash after the salt)";
        }
        if (k >= sizeof(setting))
                return "not a well-formed hash of its method";
        memcpy(setting, hash, k);
        setting[k] = 0;
        if (strspn(hash + k, "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != n - k ||
            (crypt_checksalt(setting) != CRYPT_SALT_OK && crypt_checksalt(setting) != CRYPT_SALT_METHOD_LEGACY))
                return "not a well-formed hash of its method";
        return NULL;
}

static int entry_compare(const void *a, const void *b) {
        return strcmp(((const HttpHtpasswdEntry *) a)->user, ((const HttpHtpasswdEntry *) b)->user);
}

void http_htpasswd_table_wipe(HttpHtpasswdTable *t) {
        if (!t)
                return;
        for (size_t i = 0; i < t->n; i++) {
                HttpHtpasswdEntry *e = &t->entries[i];
                explicit_bzero(e->user, strlen(e->user));
                explicit_bzero(e->hash, e->hash_len);
                free(e->user);
                free(e->hash);
        }
        if (t->entries)
                explicit_bzero(t->entries, t->n * sizeof(*t->entries));
        free(t->entries);
        if (t->dummy) {
                explicit_bzero(t->dummy, strlen(t->dummy));
                free(t->dummy);
        }
        t->entries = NULL;
        t->n = 0;
        t->dummy = NULL;
}

HttpHtpasswdTable *http_htpasswd_table_free(HttpHtpasswdTable *t) {
        http_htpasswd_table_wipe(t);
        free(t);
        return NULL;
}

static int table_add(HttpHtpasswdTable *t, size_t *allocated, const char *user, size_t user_len, const char *hash,
                     size_t hash_len) {
        if (t->n == *allocated) {
                size_t n = *allocated ? *allocated * 2 : 16;
                HttpHtpasswdEntry *grown = calloc(n, sizeof(*grown));
                if (!grown)
                        return -ENOMEM;
                if (t->entries) {
                        memcpy(grown, t->entries, t->n * sizeof(*grown));
                        explicit_bzero(t->entries, t->n * sizeof(*grown));
                        free(t->entries);
                }
                t->entries = grown;
                *allocated = n;
        }
        HttpHtpasswdEntry *e = &t->entries[t->n];
        e->user = strndup(user, user_len);
        e->hash = strndup(hash, hash_len);
        e->hash_len = hash_len;
        if (!e->user || !e->hash) {
                free(e->user);
                free(e->hash);
                *e = (HttpHtpasswdEntry) {};
                return -ENOMEM;
        }
        t->n++;
        return 0;
}

int http_htpasswd_parse(const char *text, size_t len, HttpHtpasswdTable **ret, unsigned *ret_line, char **ret_error) {
        _cleanup_(http_htpasswd_table_freep) HttpHtpasswdTable *t = calloc(1, sizeof(*t));
        char hash[512];
        size_t allocated = 0;
        unsigned line = 0;
        int r;

        *ret_line = 0;
        *ret_error = NULL;
        if (!t)
                return -ENOMEM;
        for (const char *p = text, *end = text + len; p < end;) {
                const char *eol = memchr(p, '\n', (size_t) (end - p));
                size_t n = eol ? (size_t) (eol - p) : (size_t) (end - p);
                const char *next = eol ? eol + 1 : end;

                line++;
                while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
                        n--;
                /* Apache's mod_authn_file skips blank lines and comments. */
                if (n == 0 || p[0] == '#') {
                        p = next;
                        continue;
                }
                const char *colon = memchr(p, ':', n);
                *ret_line = line;
                if (memchr(p, '\0', n))
                        return conf_parse_error(ret_error, "a NUL byte: not an htpasswd file");
                if (!colon || colon == p)
                        return conf_parse_error(ret_error, "expected \"user:hash\" (as `htpasswd -B` writes it)");
                size_t user_len = (size_t) (colon - p), hash_len = n - user_len - 1;
                for (size_t i = 0; i < user_len; i++)
                        if ((unsigned char) p[i] < 0x20 || p[i] == 0x7f)
                                return conf_parse_error(ret_error, "a user name with a control character");
                if (user_len >= HTTP_USER_MAX)
                        return conf_parse_error(ret_error, "a user name longer than %d bytes", HTTP_USER_MAX - 1);
                if (hash_len == 0 || hash_len >= sizeof(hash))
                        return conf_parse_error(ret_error, "user %.*s: %s; write the entry again with `htpasswd -B`",
                                                (int) user_len, p, hash_len == 0 ? "no password hash" : "a hash too long");
                memcpy(hash, colon + 1, hash_len);
                hash[hash_len] = 0;
                const char *why = hash_refusal(hash);
                if (why) {
                        explicit_bzero(hash, sizeof(hash));
                        return conf_parse_error(ret_error,
                                                "user %.*s: %s; write the entry again with `htpasswd -B FILE %.*s` "
                                                "(bcrypt)",
                                                (int) user_len, p, why, (int) user_len, p);
                }
                r = table_add(t, &allocated, p, user_len, hash, hash_len);
                explicit_bzero(hash, sizeof(hash));
                if (r < 0)
                        return r;
                if (t->n == 1) {
                        t->dummy = strdup(t->entries[0].hash);
                        if (!t->dummy)
                                return -ENOMEM;
                }
                p = next;
        }
        *ret_line = 0;
        if (t->n > 1) /* an empty file has no array: qsort may not be given NULL */
                qsort(t->entries, t->n, sizeof(*t->entries), entry_compare);
        for (size_t i = 1; i < t->n; i++)
                if (strcmp(t->entries[i - 1].user, t->entries[i].user) == 0)
                        return conf_parse_error(ret_error, "user %s is given twice", t->entries[i].user);
        t->serial = atomic_fetch_add(&table_serial, 1) + 1;
        *ret = TAKE_PTR(t);
        return 0;
}

int http_htpasswd_load_fd(int fd, HttpHtpasswdTable **ret, unsigned *ret_line, char **ret_error) {
        struct stat st;
        char *buf;
        size_t len = 0;
        int r;

        *ret_line = 0;
        *ret_error = NULL;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return conf_parse_error(ret_error, "not a regular file");
        if ((uint64_t) st.st_size > HTTP_HTPASSWD_FILE_MAX)
                return conf_parse_error(ret_error, "larger than %u MiB", HTTP_HTPASSWD_FILE_MAX >> 20);
        /* Our own buffer, not stdio's: it is wiped before it goes back to the heap. */
        size_t size = (size_t) st.st_size + 1;
        buf = malloc(size);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, buf + len, size - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        r = -errno;
                        goto done;
                }
                if (k == 0)
                        break;
                len += (size_t) k;
                if (len == size) {
                        /* The file grew while read: no more than the limit. */
                        r = conf_parse_error(ret_error, "changed while it was read");
                        goto done;
                }
        }
        r = http_htpasswd_parse(buf, len, ret, ret_line, ret_error);
done:
        explicit_bzero(buf, size);
        free(buf);
        return r;
}

/* ---- verification --------------------------------------------------------------------------- */

static _Thread_local uint64_t crypt_runs;

uint64_t http_htpasswd_crypt_runs(void) {
        return crypt_runs;
}

bool http_htpasswd_mem_equal(const void *a, const void *b, size_t n) {
        const volatile uint8_t *x = a, *y = b;
        uint8_t d = 0;

        for (size_t i = 0; i < n; i++)
                d |= x[i] ^ y[i];
        return d == 0;
}

/* crypt_r(password, setting) compared with expected (NULL: the answer is thrown away, only the
 * time is spent). 1 equal, 0 not, -ENOMEM. */
static int crypt_compare(const char *password, const char *setting, const char *expected, size_t expected_len) {
        struct crypt_data *data = calloc(1, sizeof(*data));
        int r;

        if (!data)
                return -ENOMEM;
        crypt_runs++;
        const char *out = crypt_r(password, setting, data);
        if (!out || out[0] == '*')
                r = 0;
        else
                r = expected && strlen(out) == expected_len && http_htpasswd_mem_equal(out, expected, expected_len);
        explicit_bzero(data, sizeof(*data));
        free(data);
        return r;
}

HttpHtpasswdResult http_htpasswd_check(const HttpHtpasswdTable *t, const char *user, const char *password) {
        if (!t || t->n == 0)
                return HTTP_HTPASSWD_NO_USER;
        HttpHtpasswdEntry key = { .user = (char *) user };
        const HttpHtpasswdEntry *e = bsearch(&key, t->entries, t->n, sizeof(*t->entries), entry_compare);
        /* An unknown user costs one run against the first entry's hash: the same method and cost. */
        int r = crypt_compare(password, e ? e->hash : t->dummy, e ? e->hash : NULL, e ? e->hash_len : 0);
        if (r < 0)
                return HTTP_HTPASSWD_ERROR;
        return !e ? HTTP_HTPASSWD_NO_USER : r ? HTTP_HTPASSWD_OK : HTTP_HTPASSWD_MISMATCH;
}

/* ---- the cache: SipHash-2-4 with a 128-bit output (Aumasson and Bernstein) ------------------- */

#define ROTL(x, b) (uint64_t) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                        \
        do {                                                                                            \
                v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                               \
                v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                                  \
                v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                                  \
                v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                               \
        } while (0)

static uint64_t load64(const uint8_t *p) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
                v = (v << 8) | p[i];
        return v;
}

static void siphash128(const uint8_t key[16], const uint8_t *in, size_t len, uint8_t out[16]) {
        uint64_t k0 = load64(key), k1 = load64(key + 8);
        uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1 ^ 0xee,
                 v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
        uint64_t b = (uint64_t) len << 56, m;
        size_t i;

        for (i = 0; i + 8 <= len; i += 8) {
                m = load64(in + i);
                v3 ^= m;
                SIPROUND;
                SIPROUND;
                v0 ^= m;
        }
        for (size_t j = 0; i + j < len; j++)
                b |= (uint64_t) in[i + j] << (8 * j);
        v3 ^= b;
        SIPROUND;
        SIPROUND;
        v0 ^= b;
        v2 ^= 0xee;
        for (int r = 0; r < 4; r++)
                SIPROUND;
        m = v0 ^ v1 ^ v2 ^ v3;
        memcpy(out, &m, 8);
        v1 ^= 0xdd;
        for (int r = 0; r < 4; r++)
                SIPROUND;
        m = v0 ^ v1 ^ v2 ^ v3;
        memcpy(out + 8, &m, 8);
}

typedef struct CacheEntry {
        uint8_t digest[16];
        uint64_t serial; /* 0: empty */
        usec_t expires;
} CacheEntry;

static _Thread_local struct {
        bool keyed;
        uint8_t key[16];
        CacheEntry entries[HTTP_HTPASSWD_CACHE_ENTRIES];
} cache;

/* The digest of (serial, "user:password"); false when no key could be had (then no caching). */
static bool cache_digest(uint64_t serial, const char *user, const char *password, uint8_t out[16]) {
        size_t ul = strlen(user), pl = strlen(password), n = 8 + ul + 1 + pl;
        uint8_t stackbuf[512], *buf = n <= sizeof(stackbuf) ? stackbuf : malloc(n);

        if (!cache.keyed) {
                if (getrandom(cache.key, sizeof(cache.key), GRND_NONBLOCK) != sizeof(cache.key))
                        return false;
                cache.keyed = true;
        }
        if (!buf)
                return false;
        memcpy(buf, &serial, 8);
        memcpy(buf + 8, user, ul);
        buf[8 + ul] = ':';
        memcpy(buf + 9 + ul, password, pl);
        siphash128(cache.key, buf, n, out);
        explicit_bzero(buf, n);
        if (buf != stackbuf)
                free(buf);
        return true;
}

HttpHtpasswdResult http_htpasswd_verify(const HttpHtpasswdTable *t, const char *user, const char *password,
                                        usec_t now) {
        uint8_t digest[16];
        CacheEntry *victim = &cache.entries[0];
        bool have = false;

        if (!t || t->n == 0)
                return HTTP_HTPASSWD_NO_USER;
        have = cache_digest(t->serial, user, password, digest);
        for (size_t i = 0; have && i < HTTP_HTPASSWD_CACHE_ENTRIES; i++) {
                CacheEntry *e = &cache.entries[i];
                if (e->serial == t->serial && e->expires > now && http_htpasswd_mem_equal(e->digest, digest, 16))
                        return HTTP_HTPASSWD_OK;
                /* The slot to reuse: an empty or expired one, else the one nearest its end. */
                if (e->serial == 0 || e->expires <= now || (victim->serial != 0 && victim->expires > now &&
                                                            e->expires < victim->expires))
                        victim = e;
        }
        HttpHtpasswdResult r = http_htpasswd_check(t, user, password);
        if (r == HTTP_HTPASSWD_OK && have)
                *victim = (CacheEntry) { .serial = t->serial, .expires = now + HTTP_HTPASSWD_CACHE_USEC };
        if (r == HTTP_HTPASSWD_OK && have)
                memcpy(victim->digest, digest, 16);
        explicit_bzero(digest, sizeof(digest));
        return r;
}
