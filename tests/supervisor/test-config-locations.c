/* SPDX-License-Identifier: MIT */
/* Tests of path sections in config_load() (config-apply.c): [Location /p/] and [Location NAME /p/],
 * where keys may be written, what a section inherits (from the enclosing path section, else its
 * site, which inherits from [Server]), and the site's list of sections that the engine matches. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config-fixture.h"
#include "http/site-config.h"

TestSuite(config, .init = config_fixture_setup, .fini = config_fixture_teardown);

static const HttpSiteConfig *at_path(const HttpSiteConfig *site, const char *path) {
        return http_site_config_at_path(site, path, strlen(path));
}

Test(config, a_path_section_of_the_main_server_and_of_a_vhost) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = x\nDirectoryIndex = index.html\n"
                                  "[Location /docs/]\nDirectoryIndex = start.html\n"
                                  "[VirtualHost shop]\nServerName = shop.example\n"
                                  "[Location shop /cart]\nDefaultType = text/plain\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        cr_assert_eq(c->n_locations, 2);
        cr_assert_eq(c->site.locations.n, 1);
        cr_assert_str_eq(at_path(&c->site, "/docs/a")->directory_index[0], "start.html");
        cr_assert_str_eq(at_path(&c->site, "/doc")->directory_index[0], "index.html");
        /* The vhost's section is its own: the main server's path is not affected by it. */
        cr_assert_eq(at_path(&c->site, "/cart"), &c->site);
        const HttpSiteConfig *shop = &c->vhosts[0].site;
        cr_assert_eq(shop->locations.n, 1);
        cr_assert_str_eq(at_path(shop, "/cart")->default_type, "text/plain");
        cr_assert_str_eq(at_path(shop, "/cart/x")->default_type, "text/plain");
        cr_assert_eq(at_path(shop, "/cartx"), shop, "a prefix without '/' ends at a segment boundary");
        /* What the section did not set is its site's, the site's inherited from [Server]. */
        cr_assert_str_eq(at_path(shop, "/cart")->directory_index[0], "index.html");
        cr_assert_str_eq(at_path(shop, "/cart")->server_name, "shop.example");
        config_free(c);
}

Test(config, a_path_section_inherits_from_the_enclosing_one_and_the_longest_wins) {
        Config *c = NULL;

        /* Written inner first: the order in the files does not matter, only the prefixes. */
        write_file("@/mpmd.conf", "[Server]\nListen = x\n"
                                  "[Location /a/b/]\nDefaultType = text/b\n"
                                  "[Location /a/]\nDefaultType = text/a\nDirectoryIndex = a.html\n"
                                  "[Location /a/b/c/]\nDirectorySlash = Off\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        const HttpSiteConfig *abc = at_path(&c->site, "/a/b/c/d");
        cr_assert_str_eq(abc->default_type, "text/b");
        cr_assert_str_eq(abc->directory_index[0], "a.html");
        cr_assert_not(abc->directory_slash);
        cr_assert_str_eq(at_path(&c->site, "/a/b/x")->default_type, "text/b");
        cr_assert(at_path(&c->site, "/a/b/x")->directory_slash);
        cr_assert_str_eq(at_path(&c->site, "/a/x")->default_type, "text/a");
        cr_assert_str_eq(at_path(&c->site, "/x")->default_type, "application/octet-stream");
        /* The engine's list: longest first. */
        cr_assert_str_eq(c->site.locations.items[0].prefix, "/a/b/c/");
        cr_assert_str_eq(c->site.locations.items[2].prefix, "/a/");
        config_free(c);
}

Test(config, path_sections_are_matched_case_sensitively) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = x\n[Location /Admin/]\nDefaultType = text/plain\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        cr_assert_neq(at_path(&c->site, "/Admin/x"), &c->site);
        cr_assert_eq(at_path(&c->site, "/admin/x"), &c->site);
        config_free(c);
}

Test(config, path_section_errors_say_what_and_where) {
        Config *c = (Config *) 1;

        write_file("@/mpmd.conf", "[Server]\nListen = x\n"
                                  "[Location]\n"
                                  "[Location admin]\n"
                                  "[Location /a//b/]\n"
                                  "[Location /%61dmin/]\n"
                                  "[Location /x/../y/]\n"
                                  "[Location /ok/]\nKeepAlive = Off\nListen = y\nDirectoryIndex = i.html\n"
                                  "[Location /ok/]\n"
                                  "[Location nosuch /p/]\n"
                                  "[Location a b /p/]\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), -EINVAL);
        cr_assert_null(c);
        const char *path_msg = "write the path as requests are matched: decoded, without %-escapes, \"//\", \".\" or "
                               "\"..\" segments";
        char m5[256], m6[256], m7[256];
        snprintf(m5, sizeof(m5), "@/mpmd.conf:5: [Location /a//b/]: %s", path_msg);
        snprintf(m6, sizeof(m6), "@/mpmd.conf:6: [Location /%%61dmin/]: %s", path_msg);
        snprintf(m7, sizeof(m7), "@/mpmd.conf:7: [Location /x/../y/]: %s", path_msg);
        assert_messages(&errors, 10,
                        "@/mpmd.conf:3: [Location]: expected [Location /PATH] or [Location NAME /PATH] (the path "
                        "last, starting with '/')",
                        "@/mpmd.conf:4: [Location admin]: expected [Location /PATH] or [Location NAME /PATH] (the "
                        "path last, starting with '/')",
                        m5, m6, m7,
                        "@/mpmd.conf:9: KeepAlive is not allowed in [Location /ok/] (it belongs in [Server] or "
                        "[VirtualHost NAME])",
                        "@/mpmd.conf:10: Listen is not allowed in [Location /ok/] (it belongs in [Server])",
                        "@/mpmd.conf:12: [Location /ok/] is defined twice: here and at @/mpmd.conf:8",
                        "@/mpmd.conf:14: [Location a b /p/]: expected [Location /PATH] or [Location NAME /PATH] "
                        "(the path last, starting with '/')",
                        "@/mpmd.conf:13: [Location nosuch /p/]: there is no [VirtualHost nosuch]");
}

Test(config, a_vhost_named_in_a_later_file_has_its_path_sections) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = x\n");
        write_file("@/conf.d/10-paths.conf", "[Location Blog /wp-admin/]\nDirectoryIndex = index.php\n");
        write_file("@/conf.d/20-blog.conf", "[VirtualHost blog]\nServerName = blog.example\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        cr_assert_str_eq(at_path(&c->vhosts[0].site, "/wp-admin/")->directory_index[0], "index.php");
        config_free(c);
}
