/* SPDX-License-Identifier: MIT */
/* Require and Basic authentication: the lines' parsing, any-of semantics, IPv4 and IPv6 networks,
 * the configuration check, the Authorization field's parsing, and the router's step over a memory
 * connection (401 with WWW-Authenticate, 403, the log lines fail2ban reads, path sections). */
#include <criterion/criterion.h>
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docroot.h"
#include "http/access.h"
#include "http/conn.h"
#include "http/server.h"
#include "http/site-config.h"
#include "memory-io.h"
#include "shared/log.h"

static const ConfItem *row(const char *key) {
        const ConfItem *it = conf_table_find(http_site_directives, key);
        cr_assert_not_null(it, "%s", key);
        return it;
}

static int apply(HttpSiteConfig *cfg, const char *key, const char *value, bool replace, char **ret_error) {
        ConfApplyContext ctx = { .file = "/etc/mpmd/test.conf", .line = 7, .replace_list = replace };
        *ret_error = NULL;
        return conf_item_apply_at(row(key), cfg, value, &ctx, ret_error);
}

static void apply_ok(HttpSiteConfig *cfg, const char *key, const char *value, bool replace) {
        char *why = NULL;
        cr_assert_eq(apply(cfg, key, value, replace, &why), 0, "%s = %s: %s", key, value, why ? why : "?");
}

static void require_refused(const char *value, const char *want) {
        HttpRequire r = {};
        char *why = NULL;

        cr_assert_eq(http_require_add(&r, value, true, "f", 1, &why), -EINVAL, "taken: %s", value);
        cr_assert_not_null(strstr(why, want), "\"%s\" lacks \"%s\"", why, want);
        cr_assert_eq(r.n, 0);
        free(why);
}

static HttpRequire require_of(const char *const *lines) {
        HttpRequire r = {};
        char *why = NULL;

        for (size_t i = 0; lines[i]; i++)
                cr_assert_eq(http_require_add(&r, lines[i], i == 0, "f", (unsigned) i + 1, &why), 0, "%s: %s", lines[i],
                             why);
        return r;
}

Test(access, require_lines_parse) {
        HttpRequire r = require_of((const char *const[]) { "all granted", "ALL Denied", "ip 10.0.0.0/8 2001:db8::/32 ::1",
                                                           "valid-user", "user alice bob", NULL });
        cr_assert_eq(r.n, 5);
        cr_assert_eq(r.lines[0].kind, HTTP_REQUIRE_ALL_GRANTED);
        cr_assert_eq(r.lines[1].kind, HTTP_REQUIRE_ALL_DENIED);
        cr_assert_eq(r.lines[2].kind, HTTP_REQUIRE_IP);
        cr_assert_eq(r.lines[2].n_nets, 3);
        cr_assert_eq(r.lines[2].nets[1].bits, 32);
        cr_assert_eq(r.lines[2].line, 3);
        cr_assert_eq(r.lines[3].kind, HTTP_REQUIRE_VALID_USER);
        cr_assert_str_eq(r.lines[4].users[1], "bob");
        cr_assert(http_require_wants_user(&r));
        char *shown = http_access_format_require(NULL, &r);
        cr_assert_str_eq(shown, "all granted; all denied; ip 10.0.0.0/8 2001:db8::/32 ::1/128; valid-user; user alice bob");
        free(shown);
        http_require_done(&r);

        require_refused("", "needs a condition");
        require_refused("all", "all granted");
        require_refused("all allowed", "all granted");
        require_refused("ip", "addresses or networks");
        require_refused("ip 10.0.0.0/33", "10.0.0.0/33");
        require_refused("ip 2001:db8::/129", "not an address");
        require_refused("ip example.org", "not an address");
        require_refused("valid-user alice", "takes nothing");
        require_refused("user", "names of users");
        require_refused("not ip 10.0.0.1", "not supported");
        require_refused("group admins", "unknown condition");
}

Test(access, any_line_grants) {
        HttpRequire r = require_of((const char *const[]) { "ip 192.0.2.0/24", "ip 2001:db8:1::/48", NULL });
        cr_assert_eq(http_require_evaluate(&r, "192.0.2.77", NULL), HTTP_ACCESS_GRANTED);
        cr_assert_eq(http_require_evaluate(&r, "::ffff:192.0.2.1", NULL), HTTP_ACCESS_GRANTED, "IPv4 on a dual-stack socket");
        cr_assert_eq(http_require_evaluate(&r, "2001:db8:1:ffff::9", NULL), HTTP_ACCESS_GRANTED);
        cr_assert_eq(http_require_evaluate(&r, "2001:db8:2::1", NULL), HTTP_ACCESS_DENIED);
        cr_assert_eq(http_require_evaluate(&r, "192.0.3.1", NULL), HTTP_ACCESS_DENIED);
        cr_assert_eq(http_require_evaluate(&r, "", NULL), HTTP_ACCESS_DENIED);
        http_require_done(&r);

        r = require_of((const char *const[]) { "ip 127.0.0.1", "user alice", NULL });
        cr_assert_eq(http_require_evaluate(&r, "127.0.0.1", NULL), HTTP_ACCESS_GRANTED, "the ip line grants alone");
        cr_assert_eq(http_require_evaluate(&r, "10.1.1.1", NULL), HTTP_ACCESS_UNAUTHORIZED);
        cr_assert_eq(http_require_evaluate(&r, "10.1.1.1", "alice"), HTTP_ACCESS_GRANTED);
        cr_assert_eq(http_require_evaluate(&r, "10.1.1.1", "bob"), HTTP_ACCESS_UNAUTHORIZED);
        http_require_done(&r);

        r = require_of((const char *const[]) { "all denied", NULL });
        cr_assert_eq(http_require_evaluate(&r, "127.0.0.1", "alice"), HTTP_ACCESS_DENIED);
        http_require_done(&r);
        HttpRequire none = {};
        cr_assert_eq(http_require_evaluate(&none, "127.0.0.1", NULL), HTTP_ACCESS_GRANTED, "the default");
}

Test(access, user_lines_need_basic_and_a_file) {
        HttpSiteConfig cfg = {};
        char *why = NULL;

        cr_assert_eq(conf_table_defaults(http_site_directives, &cfg), 0);
        apply_ok(&cfg, "Require", "valid-user", true);
        cr_assert_eq(conf_item_check(row("Require"), &cfg, &why), -EINVAL);
        cr_assert_not_null(strstr(why, "AuthType Basic"), "%s", why);
        free(why);
        apply_ok(&cfg, "AuthType", "Basic", false);
        apply_ok(&cfg, "AuthName", "\"Staff only\"", false);
        cr_assert_str_eq(cfg.access.auth_name, "Staff only", "quotes removed");
        cr_assert_eq(conf_item_check(row("Require"), &cfg, &why), -EINVAL);
        free(why);
        apply_ok(&cfg, "AuthUserFile", "/etc/mpmd/htpasswd", false);
        cr_assert_eq(conf_item_check(row("Require"), &cfg, &why), 0);
        cr_assert_eq(apply(&cfg, "AuthUserFile", "relative/path", false, &why), -EINVAL);
        free(why);
        cr_assert_eq(apply(&cfg, "AuthName", "a\"b", false, &why), -EINVAL);
        free(why);
        cr_assert_eq(apply(&cfg, "AuthType", "Digest", false, &why), -EINVAL);
        free(why);

        /* a copy (a section that inherits) has the path, never the table */
        HttpSiteConfig copy = {};
        cfg.access.user_file.table = calloc(1, sizeof(HttpHtpasswdTable));
        cr_assert_eq(conf_item_copy(row("AuthUserFile"), &copy, &cfg), 0);
        cr_assert_str_eq(copy.access.user_file.path, "/etc/mpmd/htpasswd");
        cr_assert_null(copy.access.user_file.table);
        cr_assert_eq(conf_item_copy(row("Require"), &copy, &cfg), 0);
        cr_assert_eq(copy.access.require.n, 1);
        conf_table_free(http_site_directives, &copy);
        conf_table_free(http_site_directives, &cfg);
}

static int basic(const char *value, char *buf, size_t size, const char **u, const char **p) {
        return http_basic_credentials_parse(value, strlen(value), buf, size, u, p);
}

Test(access, authorization_field) {
        char buf[64];
        const char *u, *p;

        cr_assert_eq(basic("Basic YWxpY2U6czNjcmV0", buf, sizeof(buf), &u, &p), 0); /* alice:s3cret */
        cr_assert_str_eq(u, "alice");
        cr_assert_str_eq(p, "s3cret");
        cr_assert_eq(basic("basic   YWxpY2U6OmE=", buf, sizeof(buf), &u, &p), 0); /* alice::a */
        cr_assert_str_eq(u, "alice");
        cr_assert_str_eq(p, ":a", "the password may hold colons");
        cr_assert_eq(basic("Basic OnB3", buf, sizeof(buf), &u, &p), 0); /* ":pw": an empty user */
        cr_assert_str_eq(u, "");
        cr_assert_eq(basic("Bearer abc", buf, sizeof(buf), &u, &p), -EPROTONOSUPPORT);
        cr_assert_eq(basic("Basically YWxpY2U6czNjcmV0", buf, sizeof(buf), &u, &p), -EPROTONOSUPPORT);
        cr_assert_eq(basic("Basic", buf, sizeof(buf), &u, &p), -EINVAL);
        cr_assert_eq(basic("Basic YWxpY2U", buf, sizeof(buf), &u, &p), -EINVAL, "no colon (alice)");
        cr_assert_eq(basic("Basic YWxp!2U6czNjcmV0", buf, sizeof(buf), &u, &p), -EINVAL, "not base64");
        cr_assert_eq(basic("Basic YWxpY2U6czNjcmV0 x", buf, sizeof(buf), &u, &p), -EINVAL, "two words");
        cr_assert_eq(basic("Basic YQ==YQ==", buf, sizeof(buf), &u, &p), -EINVAL, "data after padding");
        cr_assert_eq(basic("Basic YR==", buf, sizeof(buf), &u, &p), -EINVAL, "bits left over");
        cr_assert_eq(basic("Basic YWxpY2UAOng=", buf, sizeof(buf), &u, &p), -EINVAL, "a NUL inside");
        cr_assert_eq(basic("Basic YQo6eA==", buf, sizeof(buf), &u, &p), -EINVAL, "a newline in the user"); /* "a\n:x" */

        static char huge[6 + 8000 + 1];
        size_t n = sizeof(huge) - 7;
        memcpy(huge, "Basic ", 6);
        memset(huge + 6, 'Q', n);
        huge[6 + n] = 0;
        cr_assert_eq(basic(huge, buf, sizeof(buf), &u, &p), -E2BIG);
}

/* ---- the router's step over a memory connection ---------------------------------------------- */

static char *root, *pwfile;
static HttpSiteConfig cfg, admin;
static HttpLocation admin_loc;
static HttpServer *server;
static char logged[4096];

static void on_error(void *userdata, const HttpSite *site, int level, const char *client, const char *message) {
        size_t n = strlen(logged);
        snprintf(logged + n, sizeof(logged) - n, "[client %s] %s\n", client, message);
}

static const HttpConnObserver observer = { .error = on_error };

static HttpHtpasswdTable *table_with(const char *user, const char *password) {
        char salt[CRYPT_GENSALT_OUTPUT_SIZE], *text, *why = NULL;
        struct crypt_data data = {};
        HttpHtpasswdTable *t;
        unsigned line;

        cr_assert_not_null(crypt_gensalt_rn("$2y$", 4, NULL, 0, salt, sizeof(salt)));
        cr_assert(asprintf(&text, "%s:%s\n", user, crypt_r(password, salt, &data)) > 0);
        cr_assert_eq(http_htpasswd_parse(text, strlen(text), &t, &line, &why), 0);
        free(text);
        return t;
}

static void setup(void) {
        const char *err = NULL;

        root = docroot_new("access");
        docroot_add_text(root, "index.html", "public\n");
        docroot_add_dir(root, "admin", 0755);
        docroot_add_text(root, "admin/index.html", "secret page\n");
        docroot_add_text(root, "open.txt", "open\n");
        cr_assert_eq(conf_table_defaults(http_site_directives, &cfg), 0);
        cfg.document_root = strdup(root);
        /* [Location /admin/]: Basic for alice; the site itself is open */
        cr_assert_eq(conf_table_defaults(http_site_directives, &admin), 0);
        admin.document_root = strdup(root);
        apply_ok(&admin, "Require", "valid-user", true);
        apply_ok(&admin, "AuthType", "Basic", false);
        apply_ok(&admin, "AuthName", "\"Admin area\"", false);
        apply_ok(&admin, "AuthUserFile", "/nonexistent/htpasswd", false);
        admin.access.user_file.table = table_with("alice", "s3cret");
        admin_loc = (HttpLocation) { .prefix = "/admin/", .prefix_len = 7, .cfg = &admin };
        cfg.locations = (HttpLocations) { .items = &admin_loc, .n = 1 };
        cr_assert_eq(http_server_new(NULL, &server), 0);
        cr_assert_eq(http_server_add_site(server, "main", &cfg, NULL, &err), 0);
        logged[0] = 0;
        (void) pwfile;
}

static void teardown(void) {
        http_server_free(server);
        cfg.locations = (HttpLocations) {};
        conf_table_free(http_site_directives, &admin);
        conf_table_free(http_site_directives, &cfg);
        docroot_remove(root);
}

TestSuite(route, .init = setup, .fini = teardown);

static char *exchange(const char *peer, const char *input) {
        MemoryIo m;
        HttpConnInfo info = { .peer_port = 40000 };

        snprintf(info.peer, sizeof(info.peer), "%s", peer);
        memory_io_init(&m, input, strlen(input), 0);
        HttpConn *c = http_conn_new(server, &memory_io, &m, &info, 1000);
        cr_assert_not_null(c);
        http_conn_set_observer(c, &observer, NULL);
        memory_io_run(c, &m);
        http_conn_free(c);
        char *out = strndup(m.out ? m.out : "", m.out_len);
        memory_io_done(&m);
        return out;
}

#define GET(path, extra) "GET " path " HTTP/1.1\r\nHost: x\r\n" extra "Connection: close\r\n\r\n"

Test(route, site_outside_the_section_is_open) {
        char *out = exchange("192.0.2.1", GET("/open.txt", ""));
        cr_assert(strncmp(out, "HTTP/1.1 200", 12) == 0, "%s", out);
        free(out);
}

Test(route, no_credentials_is_401_with_the_realm) {
        char *out = exchange("192.0.2.1", GET("/admin/", ""));
        cr_assert(strncmp(out, "HTTP/1.1 401 Unauthorized\r\n", 27) == 0, "%s", out);
        cr_assert_not_null(strstr(out, "\r\nWWW-Authenticate: Basic realm=\"Admin area\", charset=\"UTF-8\"\r\n"), "%s", out);
        cr_assert_null(strstr(out, "secret page"));
        cr_assert_eq(logged[0], 0, "a first request is not a failure: %s", logged);
        free(out);
}

Test(route, good_credentials_get_the_page) {
        char *out = exchange("192.0.2.1", GET("/admin/", "Authorization: Basic YWxpY2U6czNjcmV0\r\n"));
        cr_assert(strncmp(out, "HTTP/1.1 200", 12) == 0, "%s", out);
        cr_assert_not_null(strstr(out, "secret page"));
        free(out);
        /* the normalised path is matched: no way around the section */
        out = exchange("192.0.2.1", GET("/%61dmin//./index.html", ""));
        cr_assert(strncmp(out, "HTTP/1.1 401", 12) == 0, "%s", out);
        free(out);
}

Test(route, wrong_password_is_401_and_logged_as_apache_does) {
        char *out = exchange("192.0.2.9", GET("/admin/", "Authorization: Basic YWxpY2U6d3Jvbmc=\r\n")); /* alice:wrong */
        cr_assert(strncmp(out, "HTTP/1.1 401", 12) == 0, "%s", out);
        cr_assert_not_null(strstr(logged, "[client 192.0.2.9:40000] AH01617: user alice: authentication failure for "
                                          "\"/admin/\": Password Mismatch\n"),
                           "%s", logged);
        free(out);
}

Test(route, unknown_user_is_401_and_logged) {
        char *out = exchange("192.0.2.9", GET("/admin/", "Authorization: Basic bWFsbG9yeTpzM2NyZXQ=\r\n")); /* mallory */
        cr_assert(strncmp(out, "HTTP/1.1 401", 12) == 0, "%s", out);
        cr_assert_not_null(strstr(logged, "AH01618: user mallory not found: /admin/\n"), "%s", logged);
        free(out);
        logged[0] = 0;
        out = exchange("192.0.2.9", GET("/admin/", "Authorization: Negotiate abc\r\n"));
        cr_assert(strncmp(out, "HTTP/1.1 401", 12) == 0, "%s", out);
        cr_assert_not_null(strstr(logged, "AH01614: client used wrong authentication scheme: /admin/"), "%s", logged);
        free(out);
}

Test(route, a_user_name_cannot_forge_a_log_line) {
        /* a"b\ — a quote and a backslash in the user (control bytes are refused before): escaped */
        char *out = exchange("192.0.2.9", GET("/admin/", "Authorization: Basic YSJiXDp4\r\n"));
        cr_assert(strncmp(out, "HTTP/1.1 401", 12) == 0, "%s", out);
        free(out);
        cr_assert_not_null(strstr(logged, "user a\\x22b\\x5c not found"), "%s", logged);
}

Test(route, denied_is_403_and_ip_lines_grant) {
        char *why = NULL;
        /* the site itself: only 2001:db8::/32 and 127.0.0.0/8 */
        cr_assert_eq(apply(&cfg, "Require", "ip 2001:db8::/32", true, &why), 0);
        cr_assert_eq(apply(&cfg, "Require", "ip 127.0.0.0/8", false, &why), 0);
        char *out = exchange("192.0.2.1", GET("/open.txt", ""));
        cr_assert(strncmp(out, "HTTP/1.1 403", 12) == 0, "%s", out);
        cr_assert_not_null(strstr(logged, "AH01630: client denied by server configuration: /open.txt"), "%s", logged);
        free(out);
        out = exchange("2001:db8:5::1", GET("/open.txt", ""));
        cr_assert(strncmp(out, "HTTP/1.1 200", 12) == 0, "%s", out);
        free(out);
        out = exchange("2001:db9::1", GET("/open.txt", ""));
        cr_assert(strncmp(out, "HTTP/1.1 403", 12) == 0, "%s", out);
        /* the port apart from the address, as fail2ban reads it */
        cr_assert_not_null(strstr(logged, "[client [2001:db9::1]:40000] AH01630"), "%s", logged);
        free(out);
        out = exchange("127.3.3.3", GET("/open.txt", ""));
        cr_assert(strncmp(out, "HTTP/1.1 200", 12) == 0, "%s", out);
        free(out);
        /* the path section's own Require replaces the site's: a client of no listed network may log in */
        out = exchange("192.0.2.1", GET("/admin/", "Authorization: Basic YWxpY2U6czNjcmV0\r\n"));
        cr_assert(strncmp(out, "HTTP/1.1 200", 12) == 0, "%s", out);
        free(out);
}

Test(route, forgotten_tables_know_nobody) {
        http_access_forget_tables(&cfg);
        char *out = exchange("192.0.2.1", GET("/admin/", "Authorization: Basic YWxpY2U6czNjcmV0\r\n"));
        cr_assert(strncmp(out, "HTTP/1.1 401", 12) == 0, "%s", out);
        free(out);
}
