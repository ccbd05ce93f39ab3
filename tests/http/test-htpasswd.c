/* SPDX-License-Identifier: MIT */
/* AuthUserFile tables: the formats taken and refused (with the line and htpasswd -B named), the
 * verification, the cost of an unknown user, and the per-thread cache. */
#include <criterion/criterion.h>
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/htpasswd.h"

/* A hash of password with method prefix (e.g. "$2y$") at the smallest cost: made by libcrypt as
 * htpasswd or mkpasswd would. */
static char *hash_of(const char *prefix, const char *password) {
        char salt[CRYPT_GENSALT_OUTPUT_SIZE];
        struct crypt_data data = {};
        unsigned long cost = strcmp(prefix, "$2y$") == 0 || strcmp(prefix, "$2b$") == 0 ? 4 : 0;

        cr_assert_not_null(crypt_gensalt_rn(prefix, cost, NULL, 0, salt, sizeof(salt)), "gensalt %s", prefix);
        const char *h = crypt_r(password, salt, &data);
        cr_assert(h && h[0] != '*');
        return strdup(h);
}

static HttpHtpasswdTable *parse_ok(const char *text) {
        HttpHtpasswdTable *t = NULL;
        char *why = NULL;
        unsigned line = 99;

        int r = http_htpasswd_parse(text, strlen(text), &t, &line, &why);
        cr_assert_eq(r, 0, "parse: %s at line %u", why ? why : "?", line);
        cr_assert_null(why);
        return t;
}

static void parse_refused(const char *text, unsigned want_line, const char *want) {
        HttpHtpasswdTable *t = NULL;
        char *why = NULL;
        unsigned line = 0;

        cr_assert_eq(http_htpasswd_parse(text, strlen(text), &t, &line, &why), -EINVAL, "taken: %s", text);
        cr_assert_null(t);
        cr_assert_eq(line, want_line, "line %u, not %u: %s", line, want_line, why);
        cr_assert_not_null(strstr(why, want), "\"%s\" lacks \"%s\"", why, want);
        free(why);
}

Test(htpasswd, strong_methods_are_taken) {
        static const char *const methods[] = { "$2y$", "$2b$", "$5$", "$6$", "$y$" };
        for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
                char *h = hash_of(methods[i], "s3cret"), *text;
                cr_assert(asprintf(&text, "# a comment\n\nalice:%s\r\n", h) > 0);
                HttpHtpasswdTable *t = parse_ok(text);
                cr_assert_eq(t->n, 1);
                cr_assert_eq(http_htpasswd_check(t, "alice", "s3cret"), HTTP_HTPASSWD_OK, "%s", methods[i]);
                cr_assert_eq(http_htpasswd_check(t, "alice", "s3cre"), HTTP_HTPASSWD_MISMATCH, "%s", methods[i]);
                cr_assert_eq(http_htpasswd_check(t, "bob", "s3cret"), HTTP_HTPASSWD_NO_USER);
                http_htpasswd_table_free(t);
                free(text);
                free(h);
        }
}

Test(htpasswd, weak_and_broken_entries_are_refused_at_their_line) {
        char *good = hash_of("$2y$", "x"), *text;

        /* what htpasswd -m, -s, -d and -p write */
        cr_assert(asprintf(&text, "a:%s\nb:$apr1$Vd8pXk0Q$1QXJ7xUo3u1GkP3X2Bz3b1\n", good) > 0);
        parse_refused(text, 2, "htpasswd -B");
        free(text);
        parse_refused("b:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n", 1, "{SHA}");
        parse_refused("b:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n", 1, "htpasswd -B");
        parse_refused("c:abJnggxhB/yWI\n", 1, "DES crypt hash or a plain password");
        parse_refused("d:secret\n", 1, "htpasswd -B");
        parse_refused("e:$1$abcdefgh$0123456789012345678901\n", 1, "MD5");
        parse_refused("f:$2y$99$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQ\n", 1, "well-formed");
        parse_refused("\n\nno colon here\n", 3, "user:hash");
        parse_refused(":$5$x$y\n", 1, "user:hash");
        parse_refused("g:\n", 1, "no password hash");
        char long_name[HTTP_USER_MAX + 8];
        memset(long_name, 'n', HTTP_USER_MAX);
        cr_assert(asprintf(&text, "%.*s:%s\n", HTTP_USER_MAX, long_name, good) > 0);
        parse_refused(text, 1, "longer than 255 bytes");
        free(text);
        cr_assert(asprintf(&text, "%.*s:%s\n", HTTP_USER_MAX - 1, long_name, good) > 0);
        HttpHtpasswdTable *t = parse_ok(text);
        http_htpasswd_table_free(t);
        free(text);
        cr_assert(asprintf(&text, "u:%s\nu:%s\n", good, good) > 0);
        parse_refused(text, 0, "twice");
        free(text);
        free(good);
}

Test(htpasswd, empty_file_knows_nobody) {
        HttpHtpasswdTable *t = parse_ok("# nobody\n");
        uint64_t runs = http_htpasswd_crypt_runs();
        cr_assert_eq(http_htpasswd_verify(t, "alice", "x", 1), HTTP_HTPASSWD_NO_USER);
        cr_assert_eq(http_htpasswd_crypt_runs(), runs);
        http_htpasswd_table_free(t);
}

Test(htpasswd, unknown_user_costs_one_crypt_run_of_the_same_method) {
        char *h = hash_of("$2y$", "pw"), *text;
        cr_assert(asprintf(&text, "zed:%s\nalice:%s\n", h, h) > 0);
        HttpHtpasswdTable *t = parse_ok(text);

        /* the dummy is the file's first entry (same method and cost) */
        cr_assert_str_eq(t->dummy, h);
        uint64_t runs = http_htpasswd_crypt_runs();
        cr_assert_eq(http_htpasswd_check(t, "mallory", "pw"), HTTP_HTPASSWD_NO_USER, "the dummy's password grants nothing");
        cr_assert_eq(http_htpasswd_crypt_runs(), runs + 1);
        cr_assert_eq(http_htpasswd_check(t, "alice", "nope"), HTTP_HTPASSWD_MISMATCH);
        cr_assert_eq(http_htpasswd_crypt_runs(), runs + 2);
        http_htpasswd_table_free(t);
        free(text);
        free(h);
}

Test(htpasswd, cache_hits_expire_and_belong_to_their_table) {
        char *h = hash_of("$2y$", "pw"), *text;
        cr_assert(asprintf(&text, "alice:%s\n", h) > 0);
        HttpHtpasswdTable *t = parse_ok(text), *t2 = parse_ok(text);
        usec_t now = 1000 * USEC_PER_SEC;

        uint64_t runs = http_htpasswd_crypt_runs();
        cr_assert_eq(http_htpasswd_verify(t, "alice", "pw", now), HTTP_HTPASSWD_OK);
        cr_assert_eq(http_htpasswd_crypt_runs(), runs + 1);
        cr_assert_eq(http_htpasswd_verify(t, "alice", "pw", now + 30 * USEC_PER_SEC), HTTP_HTPASSWD_OK);
        cr_assert_eq(http_htpasswd_crypt_runs(), runs + 1, "a hit costs no crypt run");
        /* a wrong password is never a hit and never cached */
        cr_assert_eq(http_htpasswd_verify(t, "alice", "pW", now), HTTP_HTPASSWD_MISMATCH);
        cr_assert_eq(http_htpasswd_verify(t, "alice", "pW", now), HTTP_HTPASSWD_MISMATCH);
        cr_assert_eq(http_htpasswd_crypt_runs(), runs + 3);
        /* another table (a reload's) has its own entries */
        cr_assert_eq(http_htpasswd_verify(t2, "alice", "pw", now), HTTP_HTPASSWD_OK);
        cr_assert_eq(http_htpasswd_crypt_runs(), runs + 4);
        /* expired after 60 s */
        cr_assert_eq(http_htpasswd_verify(t, "alice", "pw", now + 61 * USEC_PER_SEC), HTTP_HTPASSWD_OK);
        cr_assert_eq(http_htpasswd_crypt_runs(), runs + 5);
        /* wiped: nobody, even with the cached password */
        http_htpasswd_table_wipe(t);
        cr_assert_eq(http_htpasswd_verify(t, "alice", "pw", now + 62 * USEC_PER_SEC), HTTP_HTPASSWD_NO_USER);
        http_htpasswd_table_free(t);
        http_htpasswd_table_free(t2);
        free(text);
        free(h);
}

Test(htpasswd, cache_holds_many_users_and_evicts) {
        char *h = hash_of("$2b$", "pw"), *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        for (int i = 0; i < HTTP_HTPASSWD_CACHE_ENTRIES + 8; i++)
                fprintf(f, "user%d:%s\n", i, h);
        fclose(f);
        HttpHtpasswdTable *t = parse_ok(text);
        usec_t now = 5000 * USEC_PER_SEC;
        char u[32];

        for (int i = 0; i < HTTP_HTPASSWD_CACHE_ENTRIES + 8; i++) {
                snprintf(u, sizeof(u), "user%d", i);
                cr_assert_eq(http_htpasswd_verify(t, u, "pw", now + (usec_t) i), HTTP_HTPASSWD_OK);
        }
        uint64_t runs = http_htpasswd_crypt_runs();
        /* the newest are there, the oldest were evicted */
        snprintf(u, sizeof(u), "user%d", HTTP_HTPASSWD_CACHE_ENTRIES + 7);
        cr_assert_eq(http_htpasswd_verify(t, u, "pw", now + 100), HTTP_HTPASSWD_OK);
        cr_assert_eq(http_htpasswd_crypt_runs(), runs);
        cr_assert_eq(http_htpasswd_verify(t, "user0", "pw", now + 100), HTTP_HTPASSWD_OK);
        cr_assert_eq(http_htpasswd_crypt_runs(), runs + 1);
        http_htpasswd_table_free(t);
        free(text);
        free(h);
}

Test(htpasswd, mem_equal) {
        cr_assert(http_htpasswd_mem_equal("abc", "abc", 3));
        cr_assert_not(http_htpasswd_mem_equal("abc", "abd", 3));
        cr_assert(http_htpasswd_mem_equal("", "", 0));
}
