/* SPDX-License-Identifier: MIT */
/* Options Indexes' listing: escaping of hostile names in text and links, the order, what is left
 * out (dotfiles, symlinks out of the root, FIFOs), the "../" link, and the cap on entries. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "docroot.h"
#include "http/listing.h"

Test(listing, escape_html) {
        char out[128];

        cr_assert_gt(http_listing_escape_html("<script>alert('x')&\"", out, sizeof(out)), 0);
        cr_assert_str_eq(out, "&lt;script&gt;alert(&#39;x&#39;)&amp;&quot;");
        cr_assert_eq(http_listing_escape_html("<<<<", out, 8), -ENOBUFS);
}

Test(listing, encode_href) {
        char out[128];

        cr_assert_gt(http_listing_encode_href("a\"b %41:<>/é", out, sizeof(out)), 0);
        cr_assert_str_eq(out, "a%22b%20%2541%3A%3C%3E%2F%C3%A9");
        cr_assert_gt(http_listing_encode_href("Az09-._~", out, sizeof(out)), 0);
        cr_assert_str_eq(out, "Az09-._~");
        cr_assert_eq(http_listing_encode_href("<<", out, 6), -ENOBUFS);
}

static int root_open(const char *root) {
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        return fd;
}

static const char *find(const char *body, const char *needle) {
        const char *p = strstr(body, needle);
        cr_assert_not_null(p, "no %s in:\n%s", needle, body);
        return p;
}

Test(listing, entries) {
        char *root = docroot_new("listing");
        char *body = NULL, fifo[4096];
        size_t len = 0;

        docroot_add_dir(root, "d", 0755);
        docroot_add_text(root, "d/b.txt", "bb");
        docroot_add_text(root, "d/B.txt", "B");
        docroot_add_text(root, "d/<img src=x onerror=alert(1)>", "x");
        docroot_add_text(root, "d/.secret", "s");
        docroot_add_dir(root, "d/zz", 0755);
        docroot_add_dir(root, "d/aa", 0755);
        docroot_add_symlink(root, "d/out", "/etc/passwd");
        docroot_add_symlink(root, "d/up", "../../..");
        docroot_add_symlink(root, "d/dangling", "nowhere");
        docroot_add_symlink(root, "d/in", "b.txt");
        snprintf(fifo, sizeof(fifo), "%s/d/fifo", root);
        cr_assert_eq(mkfifo(fifo, 0644), 0);
        docroot_set_mtime(root, "d/b.txt", 86400 * 365);

        int fd = root_open(root);
        cr_assert_eq(http_listing_build(fd, "/d/", "/d/", false, HTTP_LISTING_MAX, &body, &len), 0);
        cr_assert_eq(strlen(body), len);
        cr_assert_null(strstr(body, "<img"));
        find(body, "<a href=\"%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E\">&lt;img src=x onerror=alert(1)&gt;</a>");
        cr_assert_null(strstr(body, "secret"));
        cr_assert_null(strstr(body, "\"out\""), "a symlink out of the root is left out");
        cr_assert_null(strstr(body, "\"up"));
        cr_assert_null(strstr(body, "dangling"));
        cr_assert_null(strstr(body, "fifo"));
        find(body, "<a href=\"in\">in</a></td><td>"); /* shown as its target, a file of 2 bytes */
        find(body, "<title>Index of /d/</title>");
        /* order: ../, the directories, then the files in byte order (B before b) */
        const char *up = find(body, "href=\"../\""), *aa = find(body, "href=\"aa/\">aa/</a>"),
                   *zz = find(body, "href=\"zz/\""), *B = find(body, "href=\"B.txt\""), *b = find(body, "href=\"b.txt\""),
                   *img = find(body, "href=\"%3Cimg");
        cr_assert(up < aa && aa < zz && zz < img && img < B && B < b);
        find(body, ">b.txt</a></td><td>1971-01-01 00:00</td><td align=\"right\">2</td>");
        free(body);

        /* at the site's root: no "../" */
        cr_assert_eq(http_listing_build(fd, "/d/", "/", true, HTTP_LISTING_MAX, &body, &len), 0);
        cr_assert_null(strstr(body, "../"));
        free(body);

        /* never outside the root, and errors as the path module's */
        cr_assert_eq(http_listing_build(fd, "/d/up/", "/d/up/", false, HTTP_LISTING_MAX, &body, &len), -EACCES);
        cr_assert_eq(http_listing_build(fd, "/nope/", "/nope/", false, HTTP_LISTING_MAX, &body, &len), -ENOENT);
        cr_assert_eq(http_listing_build(fd, "/d/b.txt", "/d/b.txt", false, HTTP_LISTING_MAX, &body, &len), -ENOTDIR);
        close(fd);
        docroot_remove(root);
}

Test(listing, capped) {
        char *root = docroot_new("listing-cap");
        char *body = NULL, name[64];
        size_t len = 0, rows = 0;

        docroot_add_dir(root, "many", 0755);
        for (int i = 0; i < 250; i++) {
                snprintf(name, sizeof(name), "many/f%03d", i);
                docroot_add_text(root, name, "");
        }
        int fd = root_open(root);
        cr_assert_eq(http_listing_build(fd, "/many/", "/many/", false, 100, &body, &len), 0);
        for (const char *p = body; (p = strstr(p, "<tr><td><a href=\"f")); p++)
                rows++;
        cr_assert_eq(rows, 100);
        find(body, "Only the first 100 entries");
        free(body);
        cr_assert_eq(http_listing_build(fd, "/many/", "/many/", false, 1000, &body, &len), 0);
        cr_assert_null(strstr(body, "Only the first"));
        free(body);
        close(fd);
        docroot_remove(root);
}

/* The server's own cap: a directory past HTTP_LISTING_MAX is cut there, with the note. */
Test(listing, capped_at_the_servers_limit, .timeout = 60) {
        char *root = docroot_new("listing-big");
        char *body = NULL, name[64];
        size_t len = 0, rows = 0;

        docroot_add_dir(root, "big", 0755);
        for (int i = 0; i < HTTP_LISTING_MAX + 50; i++) {
                snprintf(name, sizeof(name), "big/f%05d", i);
                docroot_add_text(root, name, "");
        }
        int fd = root_open(root);
        cr_assert_eq(http_listing_build(fd, "/big/", "/big/", false, HTTP_LISTING_MAX, &body, &len), 0);
        for (const char *p = body; (p = strstr(p, "<tr><td><a href=\"f")); p++)
                rows++;
        cr_assert_eq(rows, HTTP_LISTING_MAX);
        find(body, "Only the first 10000 entries");
        free(body);
        close(fd);
        docroot_remove(root);
}
