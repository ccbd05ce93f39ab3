/* SPDX-License-Identifier: MIT */
/* Tests of the MIME table: loading a mime.types file the test writes (comments, blank lines, tabs,
 * a type without extensions, later lines winning), case-insensitive lookups with and without a
 * dot, AddType overriding, what add() refuses, unknown extensions, a missing file, growth past
 * thousands of entries, and the system's /etc/mime.types when present. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/macro.h"
#include "http/mime.h"

static MimeTable *table;
static char types_file[64];

static void table_setup(void) {
        cr_assert_eq(mime_table_new(&table), 0);
        cr_assert_not_null(table);
}

static void table_teardown(void) {
        table = mime_table_free(table);
        if (types_file[0])
                (void) unlink(types_file);
}

static void write_types(const char *content) {
        int fd;

        strcpy(types_file, "/tmp/mpmd-test-mime-XXXXXX");
        fd = mkostemp(types_file, O_CLOEXEC);
        cr_assert_geq(fd, 0);
        cr_assert_eq(write(fd, content, strlen(content)), (ssize_t) strlen(content));
        close(fd);
}

static const char sample[] =
        "# mime.types written by the test\n"
        "\n"
        "text/html\t\t\t\thtml htm shtml\n"
        "text/css\tcss\n"
        "   \t  \n"
        "application/javascript js mjs # a comment after the extensions\n"
        "image/png png\n"
        "#image/gif gif\n"
        "application/x-no-extensions\n"
        "application/octet-stream bin\n"
        "application/x-later bin\n"
        "text/plain txt\r\n"
        "image/svg+xml svg svgz";

Test(mime, load_and_lookup, .init = table_setup, .fini = table_teardown) {
        write_types(sample);
        /* html htm shtml css js mjs png bin bin txt svg svgz */
        cr_assert_eq(mime_table_load(table, types_file), 12);

        cr_assert_str_eq(mime_table_lookup(table, "html"), "text/html");
        cr_assert_str_eq(mime_table_lookup(table, "htm"), "text/html");
        cr_assert_str_eq(mime_table_lookup(table, "shtml"), "text/html");
        cr_assert_str_eq(mime_table_lookup(table, "css"), "text/css");
        cr_assert_str_eq(mime_table_lookup(table, "js"), "application/javascript");
        cr_assert_str_eq(mime_table_lookup(table, "mjs"), "application/javascript");
        cr_assert_str_eq(mime_table_lookup(table, "png"), "image/png");
        /* CRLF line ends and a last line without newline. */
        cr_assert_str_eq(mime_table_lookup(table, "txt"), "text/plain");
        cr_assert_str_eq(mime_table_lookup(table, "svgz"), "image/svg+xml");
        /* Later lines win, as in Apache. */
        cr_assert_str_eq(mime_table_lookup(table, "bin"), "application/x-later");
}

Test(mime, comments_are_not_entries, .init = table_setup, .fini = table_teardown) {
        write_types(sample);
        cr_assert_geq(mime_table_load(table, types_file), 0);
        cr_assert_null(mime_table_lookup(table, "gif"));
        cr_assert_null(mime_table_lookup(table, "#"));
        cr_assert_null(mime_table_lookup(table, "a"));
        cr_assert_null(mime_table_lookup(table, "comment"));
        cr_assert_null(mime_table_lookup(table, "application/x-no-extensions"));
}

Test(mime, no_charset_added, .init = table_setup, .fini = table_teardown) {
        write_types(sample);
        cr_assert_geq(mime_table_load(table, types_file), 0);
        cr_assert_null(strchr(mime_table_lookup(table, "html"), ';'));
        cr_assert_null(strchr(mime_table_lookup(table, "js"), ';'));
}

Test(mime, case_insensitive, .init = table_setup, .fini = table_teardown) {
        write_types("Text/HTML HTML Htm\nimage/png png\n");
        cr_assert_eq(mime_table_load(table, types_file), 3);
        cr_assert_str_eq(mime_table_lookup(table, "html"), "Text/HTML", "the type is kept as written");
        cr_assert_str_eq(mime_table_lookup(table, "HTML"), "Text/HTML");
        cr_assert_str_eq(mime_table_lookup(table, "hTm"), "Text/HTML");
        cr_assert_str_eq(mime_table_lookup(table, "PNG"), "image/png");
        cr_assert_str_eq(mime_table_lookup(table, ".PnG"), "image/png");
}

Test(mime, unknown, .init = table_setup, .fini = table_teardown) {
        cr_assert_null(mime_table_lookup(table, "html"), "an empty table knows nothing");
        cr_assert_eq(mime_table_add(table, "text/html", "html"), 0);
        cr_assert_null(mime_table_lookup(table, "htmlx"));
        cr_assert_null(mime_table_lookup(table, "htm"));
        cr_assert_null(mime_table_lookup(table, ""));
        cr_assert_null(mime_table_lookup(table, "."));
        cr_assert_null(mime_table_lookup(NULL, "html"));
}

Test(mime, add_type_overrides, .init = table_setup, .fini = table_teardown) {
        write_types(sample);
        cr_assert_geq(mime_table_load(table, types_file), 0);

        /* AddType text/x-special .css — with the dot, as Apache configurations write it. */
        cr_assert_eq(mime_table_add(table, "text/x-special", ".css"), 0);
        cr_assert_str_eq(mime_table_lookup(table, "css"), "text/x-special");
        /* Without the dot, in another case: the same extension. */
        cr_assert_eq(mime_table_add(table, "application/x-httpd-php", "HTML"), 0);
        cr_assert_str_eq(mime_table_lookup(table, "html"), "application/x-httpd-php");
        cr_assert_str_eq(mime_table_lookup(table, "htm"), "text/html", "its siblings keep their type");
        /* A new extension, with parameters. */
        cr_assert_eq(mime_table_add(table, "text/plain; charset=utf-8", "md"), 0);
        cr_assert_str_eq(mime_table_lookup(table, "md"), "text/plain; charset=utf-8");
        cr_assert_str_eq(mime_table_lookup(table, ".md"), "text/plain; charset=utf-8");
}

Test(mime, add_refuses, .init = table_setup, .fini = table_teardown) {
        cr_assert_eq(mime_table_add(table, "texthtml", "html"), -EINVAL, "no slash");
        cr_assert_eq(mime_table_add(table, "text/html\r\nSet-Cookie: x=1", "html"), -EINVAL, "header injection");
        cr_assert_eq(mime_table_add(table, "", "html"), -EINVAL);
        cr_assert_eq(mime_table_add(table, "text/html", ""), -EINVAL);
        cr_assert_eq(mime_table_add(table, "text/html", "."), -EINVAL);
        cr_assert_eq(mime_table_add(table, "text/html", "a b"), -EINVAL);
        cr_assert_eq(mime_table_add(table, "text/html", "a/b"), -EINVAL);
        cr_assert_eq(mime_table_add(table, "text/html", "a\tb"), -EINVAL);
        cr_assert_null(mime_table_lookup(table, "html"), "nothing refused was added");
}

Test(mime, missing_file, .init = table_setup, .fini = table_teardown) {
        cr_assert_eq(mime_table_load(table, "/nonexistent/mime.types"), -ENOENT);
        /* The table is still usable. */
        cr_assert_eq(mime_table_add(table, "text/css", "css"), 0);
        cr_assert_str_eq(mime_table_lookup(table, "css"), "text/css");
}

Test(mime, many_entries, .init = table_setup, .fini = table_teardown) {
        char type[32], ext[16];

        /* Past several growths of the table; every entry must still be found, and overrides too. */
        for (int i = 0; i < 5000; i++) {
                snprintf(type, sizeof(type), "application/x-%d", i);
                snprintf(ext, sizeof(ext), "e%d", i);
                cr_assert_eq(mime_table_add(table, type, ext), 0);
        }
        for (int i = 0; i < 5000; i += 7) {
                snprintf(type, sizeof(type), "text/x-%d", i);
                snprintf(ext, sizeof(ext), "E%d", i);
                cr_assert_eq(mime_table_add(table, type, ext), 0);
        }
        for (int i = 0; i < 5000; i++) {
                snprintf(type, sizeof(type), i % 7 == 0 ? "text/x-%d" : "application/x-%d", i);
                snprintf(ext, sizeof(ext), "e%d", i);
                const char *t = mime_table_lookup(table, ext);
                cr_assert_not_null(t, "%s lost", ext);
                cr_assert_str_eq(t, type);
        }
        cr_assert_null(mime_table_lookup(table, "e5000"));
}

Test(mime, system_file, .init = table_setup, .fini = table_teardown) {
        int n;

        if (access("/etc/mime.types", R_OK) < 0)
                cr_skip_test("/etc/mime.types is not installed (package media-types)");
        n = mime_table_load(table, "/etc/mime.types");
        cr_assert_gt(n, 500, "only %d extensions", n);
        cr_assert_str_eq(mime_table_lookup(table, "html"), "text/html");
        cr_assert_str_eq(mime_table_lookup(table, "css"), "text/css");
        cr_assert_str_eq(mime_table_lookup(table, "png"), "image/png");
        cr_assert_str_eq(mime_table_lookup(table, "JPG"), "image/jpeg");
}

Test(mime, free_accepts_null) {
        cr_assert_null(mime_table_free(NULL));
}
