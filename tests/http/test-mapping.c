/* SPDX-License-Identifier: MIT */
/* Alias, Redirect, FallbackResource and the .ht rule (src/http/mapping.h): the rows' parsing and
 * errors, prefix matching on segment boundaries, the Location a redirect builds (the rest of the path
 * re-encoded, the query appended), and when a fallback takes a request. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "docroot.h"
#include "http/mapping.h"
#include "http/site-config.h"

/* ---- parsing --------------------------------------------------------------------------------- */

typedef struct Bad {
        const char *value;
        const char *why; /* a piece of the message */
} Bad;

Test(mapping, alias_lines_are_refused_with_a_reason) {
        static const Bad cases[] = {
                { "/icons/", "URL prefix and a directory" },
                { "/icons/ /usr/share/icons /x", "one pair a line" },
                { "icons/ /usr/share/icons", "does not start with '/'" },
                { "/icons//x /usr/share/icons", "not a plain path" },
                { "/a/../b /usr/share/icons", "not a plain path" },
                { "/%69cons/ /usr/share/icons", "not a plain path" },
                { "/icons/ usr/share/icons", "not an absolute directory" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                HttpAliases l = {};
                char *why = NULL;
                cr_assert_eq(http_alias_add(&l, cases[i].value, true, "/etc/mpmd.conf", 3, &why), -EINVAL, "%s",
                             cases[i].value);
                cr_assert(why && strstr(why, cases[i].why), "%s: %s", cases[i].value, why);
                cr_assert_eq(l.n, 0);
                free(why);
        }
}

Test(mapping, an_alias_prefix_given_twice_names_the_first_line) {
        HttpAliases l = {};
        char *why = NULL;

        cr_assert_eq(http_alias_add(&l, "/icons/ /usr/share/icons", true, "/etc/a.conf", 3, &why), 0);
        cr_assert_eq(http_alias_add(&l, "/doc /usr/share/doc", false, "/etc/a.conf", 4, &why), 0);
        cr_assert_eq(http_alias_add(&l, "/icons/ /srv/other", false, "/etc/b.conf", 9, &why), -EINVAL);
        cr_assert_str_eq(why, "/icons/ is given twice (first at /etc/a.conf:3)");
        free(why);
        cr_assert_eq(l.n, 2);
        cr_assert_str_eq(l.items[1].url, "/doc");
        cr_assert_str_eq(l.items[1].directory, "/usr/share/doc");
        cr_assert_eq(l.items[1].line, 4);
        /* A blank first line of a section: none of its own. */
        cr_assert_eq(http_alias_add(&l, "  ", true, "/etc/b.conf", 1, &why), 0);
        cr_assert_eq(l.n, 0);
        http_aliases_done(&l);
        http_aliases_done(NULL);
}

Test(mapping, redirect_lines_take_apache_statuses) {
        static const struct {
                const char *value;
                int status;
                const char *prefix, *target;
        } good[] = {
                { "/old http://example.org/new", 302, "/old", "http://example.org/new" },
                { "permanent /old/ https://example.org/", 301, "/old/", "https://example.org/" },
                { "Temp /a /b", 302, "/a", "/b" },
                { "seeother /a /b", 303, "/a", "/b" },
                { "301 /a /b", 301, "/a", "/b" },
                { "307 /a /b", 307, "/a", "/b" },
                { "308 /a /b", 308, "/a", "/b" },
                { "gone /dead", 410, "/dead", NULL },
                { "410 /dead", 410, "/dead", NULL },
        };
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                HttpRedirects l = {};
                char *why = NULL;
                cr_assert_eq(http_redirect_add(&l, good[i].value, true, NULL, 0, &why), 0, "%s: %s", good[i].value,
                             why);
                cr_assert_eq(l.n, 1);
                cr_assert_eq(l.items[0].status, good[i].status, "%s", good[i].value);
                cr_assert_str_eq(l.items[0].prefix, good[i].prefix);
                if (good[i].target)
                        cr_assert_str_eq(l.items[0].target, good[i].target);
                else
                        cr_assert_null(l.items[0].target);
                http_redirects_done(&l);
        }
}

Test(mapping, redirect_lines_are_refused_with_a_reason) {
        static const Bad cases[] = {
                { "/old", "temp needs a target" },
                { "permanent /old", "permanent needs a target" },
                { "gone /old /new", "gone (410) takes no target" },
                { "moved /old /new", "unknown status \"moved\"" },
                { "404 /old /new", "unknown status \"404\"" },
                { "permanent", "needs a URL prefix" },
                { "old /new", "unknown status" },
                { "/old ftp://example.org/", "neither an http:// or https:// URL nor an absolute path" },
                { "/old example.org/new", "neither" },
                { "/old //example.org/new", "neither" },
                { "/old http:///x", "neither" },
                { "/old/./x /new", "not a plain path" },
                { "/old /new/\x01", "holds a byte a Location cannot" },
                { "301 /a /b /c", "one redirect a line" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                HttpRedirects l = {};
                char *why = NULL;
                cr_assert_eq(http_redirect_add(&l, cases[i].value, true, "/etc/mpmd.conf", 3, &why), -EINVAL, "%s",
                             cases[i].value);
                cr_assert(why && strstr(why, cases[i].why), "%s: %s", cases[i].value, why);
                free(why);
        }
        HttpRedirects l = {};
        char *why = NULL;
        cr_assert_eq(http_redirect_add(&l, "/a /b", true, "/etc/a.conf", 2, &why), 0);
        cr_assert_eq(http_redirect_add(&l, "gone /a", false, "/etc/a.conf", 5, &why), -EINVAL);
        cr_assert_str_eq(why, "/a is given twice (first at /etc/a.conf:2)");
        free(why);
        http_redirects_done(&l);
}

Test(mapping, fallback_resource_is_a_file_path_or_disabled) {
        HttpFallback f = {};
        char *why = NULL;

        cr_assert_eq(http_fallback_set(&f, "/index.php", &why), 0);
        cr_assert_str_eq(f.path, "/index.php");
        cr_assert_eq(f.path_len, 10);
        cr_assert_eq(http_fallback_set(&f, "Disabled", &why), 0);
        cr_assert_null(f.path);
        static const Bad cases[] = {
                { "index.php", "does not start with '/'" },
                { "/app/", "names a directory" },
                { "/a/../index.php", "not a plain path" },
                { "/.htaccess", ".ht name" },
                { "/a /b", "one URL path" },
                { "", "one URL path" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                cr_assert_eq(http_fallback_set(&f, cases[i].value, &why), -EINVAL, "%s", cases[i].value);
                cr_assert(why && strstr(why, cases[i].why), "%s: %s", cases[i].value, why);
                free(why);
        }
        http_fallback_done(&f);
}

/* A [VirtualHost]'s lines come first, [Server]'s after them, except for a prefix it has itself. */
Test(mapping, a_sites_lines_are_added_to_the_servers) {
        HttpAliases server = {}, vhost = {};
        char *why = NULL;

        cr_assert_eq(http_alias_add(&server, "/icons/ /usr/share/icons", true, "/etc/mpmd.conf", 3, &why), 0);
        cr_assert_eq(http_alias_add(&server, "/doc/ /usr/share/doc", false, "/etc/mpmd.conf", 4, &why), 0);
        cr_assert_eq(http_alias_add(&vhost, "/doc/ /srv/v/doc", true, "/etc/conf.d/v.conf", 7, &why), 0);
        cr_assert_eq(http_aliases_merge(&vhost, &server), 0);
        cr_assert_eq(vhost.n, 2);
        cr_assert_str_eq(vhost.items[0].directory, "/srv/v/doc");
        cr_assert_str_eq(vhost.items[1].url, "/icons/");
        cr_assert_neq(vhost.items[1].url, server.items[0].url);
        http_aliases_done(&server);
        http_aliases_done(&vhost);

        HttpRedirects rs = {}, rv = {};
        cr_assert_eq(http_redirect_add(&rs, "/old /new", true, NULL, 0, &why), 0);
        cr_assert_eq(http_redirect_add(&rv, "gone /dead", true, NULL, 0, &why), 0);
        cr_assert_eq(http_redirects_merge(&rv, &rs), 0);
        cr_assert_eq(rv.n, 2);
        cr_assert_eq(rv.items[0].status, 410);
        cr_assert_str_eq(rv.items[1].target, "/new");
        http_redirects_done(&rs);
        http_redirects_done(&rv);
}

/* ---- matching -------------------------------------------------------------------------------- */

static HttpAliases aliases(const char *const *lines) {
        HttpAliases l = {};
        char *why = NULL;
        for (size_t i = 0; lines[i]; i++)
                cr_assert_eq(http_alias_add(&l, lines[i], i == 0, NULL, 0, &why), 0, "%s: %s", lines[i], why);
        return l;
}

static void assert_alias(const HttpAliases *l, const char *path, const char *url, const char *rest) {
        const char *got_rest = NULL;
        size_t index = 99, rest_len = 0;
        const HttpAlias *a = http_alias_match(l, path, strlen(path), &index, &got_rest, &rest_len);

        if (!url) {
                cr_assert_null(a, "%s matched %s", path, a ? a->url : "");
                return;
        }
        cr_assert_not_null(a, "%s matched nothing", path);
        cr_assert_str_eq(a->url, url, "%s", path);
        cr_assert_eq(&l->items[index], a);
        cr_assert_str_eq(got_rest, rest, "%s", path);
        cr_assert_eq(rest_len, strlen(rest));
}

Test(mapping, alias_prefixes_match_on_segment_boundaries_and_the_longest_wins) {
        static const char *const lines[] = { "/icons/ /usr/share/icons", "/doc /usr/share/doc",
                                             "/doc/api /srv/api", "/ /srv/everything", NULL };
        HttpAliases l = aliases(lines);

        assert_alias(&l, "/icons/a.png", "/icons/", "/a.png");
        assert_alias(&l, "/icons/", "/icons/", "/");
        assert_alias(&l, "/icons", "/", "/icons"); /* "/icons/" needs its slash (Apache) */
        assert_alias(&l, "/iconsx/a", "/", "/iconsx/a");
        assert_alias(&l, "/doc", "/doc", "/");
        assert_alias(&l, "/doc/", "/doc", "/");
        assert_alias(&l, "/doc/x/y", "/doc", "/x/y");
        assert_alias(&l, "/doc/api", "/doc/api", "/");
        assert_alias(&l, "/doc/api/v1", "/doc/api", "/v1");
        assert_alias(&l, "/doc/apix", "/doc", "/apix");
        assert_alias(&l, "/document", "/", "/document");
        http_aliases_done(&l);

        static const char *const two[] = { "/doc /usr/share/doc", NULL };
        l = aliases(two);
        assert_alias(&l, "/docs/x", NULL, NULL);
        assert_alias(&l, "/", NULL, NULL);
        http_aliases_done(&l);
}

Test(mapping, redirect_prefixes_match_on_segment_boundaries) {
        HttpRedirects l = {};
        char *why = NULL;

        cr_assert_eq(http_redirect_add(&l, "/old http://a/", true, NULL, 0, &why), 0);
        cr_assert_eq(http_redirect_add(&l, "/old/keep http://b/", false, NULL, 0, &why), 0);
        cr_assert_eq(http_redirect_add(&l, "/dir/ http://c/", false, NULL, 0, &why), 0);
        cr_assert_str_eq(http_redirect_match(&l, "/old", 4)->target, "http://a/");
        cr_assert_str_eq(http_redirect_match(&l, "/old/x", 6)->target, "http://a/");
        cr_assert_str_eq(http_redirect_match(&l, "/old/keep/x", 11)->target, "http://b/");
        cr_assert_str_eq(http_redirect_match(&l, "/old/keeper", 11)->target, "http://a/");
        cr_assert_null(http_redirect_match(&l, "/older", 6));
        cr_assert_null(http_redirect_match(&l, "/dir", 4));
        cr_assert_str_eq(http_redirect_match(&l, "/dir/", 5)->target, "http://c/");
        http_redirects_done(&l);
}

/* ---- the Location ---------------------------------------------------------------------------- */

static void assert_location(const char *line, const char *path, const char *query, const char *expect) {
        HttpRedirects l = {};
        char *why = NULL, out[512];
        size_t len = 0;

        cr_assert_eq(http_redirect_add(&l, line, true, NULL, 0, &why), 0, "%s: %s", line, why);
        cr_assert_eq(http_redirect_location(&l.items[0], path, strlen(path), query, query ? strlen(query) : 0, "https",
                                            "www.example.org:8443", 20, out, sizeof(out), &len),
                     0);
        cr_assert_str_eq(out, expect, "%s %s", line, path);
        cr_assert_eq(len, strlen(expect));
        http_redirects_done(&l);
}

Test(mapping, a_redirect_appends_the_rest_and_the_query) {
        assert_location("/one http://example.com/two", "/one/three", NULL, "http://example.com/two/three");
        assert_location("/one http://example.com/two", "/one", NULL, "http://example.com/two");
        assert_location("/one http://example.com/two", "/one", "a=1&b=2", "http://example.com/two?a=1&b=2");
        assert_location("/one/ http://example.com/two/", "/one/x/y.html", "q", "http://example.com/two/x/y.html?q");
        /* a target with its own query keeps it, and the client's is not added (Apache) */
        assert_location("/one http://example.com/?from=one", "/one", "a=1", "http://example.com/?from=one");
        /* a path target is made absolute with the request's scheme and host */
        assert_location("/old /new", "/old/page", "x=1", "https://www.example.org:8443/new/page?x=1");
        assert_location("permanent / https://example.net/", "/a/b", NULL, "https://example.net/a/b");
}

Test(mapping, the_appended_rest_is_percent_encoded_and_no_control_byte_gets_through) {
        /* decoded bytes that are not pchar: space, '?', '#', '%', '"', '<', CR, LF, non-ASCII */
        assert_location("/a http://x/b", "/a/s p?q#f%25\"<>", NULL, "http://x/b/s%20p%3Fq%23f%2525%22%3C%3E");
        assert_location("/a http://x/b", "/a/\r\nSet-Cookie: x=1", NULL, "http://x/b/%0D%0ASet-Cookie:%20x=1");
        assert_location("/a http://x/b", "/a/caf\xc3\xa9", NULL, "http://x/b/caf%C3%A9");
        /* pchar and '/' stay as they are */
        assert_location("/a http://x/b", "/a/-._~!$&'()*+,;=:@/z", NULL, "http://x/b/-._~!$&'()*+,;=:@/z");
        /* the query is passed as sent, but a byte that could break the header line is encoded */
        assert_location("/a http://x/b", "/a", "k=%41&\r\nX: 1", "http://x/b?k=%41&%0D%0AX:%201");
}

Test(mapping, a_location_too_long_for_the_buffer_is_refused) {
        HttpRedirects l = {};
        char *why = NULL, out[16];

        cr_assert_eq(http_redirect_add(&l, "/a http://example.org/b", true, NULL, 0, &why), 0);
        cr_assert_eq(http_redirect_location(&l.items[0], "/a/long", 7, NULL, 0, "http", "h", 1, out, sizeof(out), NULL),
                     -ENAMETOOLONG);
        http_redirects_done(&l);
}

/* ---- .ht and fallback ------------------------------------------------------------------------ */

Test(mapping, ht_names_are_found_in_any_segment) {
        static const char *const yes[] = { "/.htaccess", "/.htpasswd", "/sub/.htdigest", "/.ht", "/.htx/file",
                                           "/a/.htaccess/b", NULL };
        static const char *const no[] = { "/", "/htaccess", "/a.htaccess", "/.hta" + 1, "/x/.h", "/.HTACCESS",
                                          "/.h/t", NULL };
        for (size_t i = 0; yes[i]; i++)
                cr_assert(http_mapping_is_ht_name(yes[i], strlen(yes[i])), "%s", yes[i]);
        for (size_t i = 0; no[i]; i++)
                cr_assert_not(http_mapping_is_ht_name(no[i], strlen(no[i])), "%s", no[i]);
        /* the length is what counts, not a NUL */
        cr_assert_not(http_mapping_is_ht_name("/.htaccess", 3));
}

Test(mapping, a_fallback_takes_only_what_is_not_there) {
        char *root = docroot_new("mapping");
        HttpFallback f = {}, none = {};
        char *why = NULL;

        docroot_add_text(root, "page.html", "x");
        docroot_add_dir(root, "dir", 0755);
        docroot_add_symlink(root, "out", "/etc");
        int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        cr_assert_eq(http_fallback_set(&f, "/index.php", &why), 0);

        cr_assert(http_fallback_applies(&f, true, fd, "/missing"));
        cr_assert(http_fallback_applies(&f, true, fd, "/missing/deeper"));
        cr_assert(http_fallback_applies(&f, true, fd, "/page.html/more")); /* ENOTDIR */
        cr_assert_not(http_fallback_applies(&f, true, fd, "/page.html"));
        cr_assert_not(http_fallback_applies(&f, true, fd, "/dir"));
        cr_assert_not(http_fallback_applies(&f, true, fd, "/dir/"));
        cr_assert_not(http_fallback_applies(&f, true, fd, "/out/passwd"), "outside the root: 403, not the fallback");
        cr_assert_not(http_fallback_applies(&f, false, fd, "/missing"), "not GET, HEAD or POST");
        cr_assert_not(http_fallback_applies(&none, true, fd, "/missing"), "no FallbackResource");
        cr_assert_not(http_fallback_applies(&f, true, -1, "/missing"), "no root");

        close(fd);
        http_fallback_done(&f);
        docroot_remove(root);
}

/* The rows as the loader uses them: a row that is not allowed somewhere is refused there by the
 * loader; here, their contexts and that their defaults load. */
Test(mapping, the_rows_say_where_they_may_be_written) {
        const ConfItem *alias = conf_table_find(http_site_directives, "alias");
        const ConfItem *redirect = conf_table_find(http_site_directives, "Redirect");
        const ConfItem *fallback = conf_table_find(http_site_directives, "FallbackResource");

        cr_assert(alias && redirect && fallback);
        cr_assert_not(conf_item_allowed(alias, 0, CONF_CTX_PATH));
        cr_assert_not(conf_item_allowed(redirect, 0, CONF_CTX_PATH));
        cr_assert(conf_item_allowed(fallback, 0, CONF_CTX_PATH));
        cr_assert(conf_item_allowed(alias, 0, CONF_CTX_VHOST));

        HttpSiteConfig *cfg = calloc(1, sizeof(*cfg));
        cr_assert_eq(conf_table_defaults(http_site_directives, cfg), 0);
        cr_assert_eq(cfg->mapping.alias.n, 0);
        cr_assert_null(cfg->mapping.fallback.path);
        char *why = NULL;
        ConfApplyContext at = { .file = "/etc/mpmd.conf", .line = 12, .replace_list = true };
        cr_assert_eq(conf_item_apply_at(redirect, cfg, "permanent /old /new", &at, &why), 0);
        char *shown = conf_item_format(redirect, cfg);
        cr_assert_str_eq(shown, "301 /old /new");
        free(shown);
        conf_table_free(http_site_directives, cfg);
        free(cfg);
}
