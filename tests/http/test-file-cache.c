/* SPDX-License-Identifier: MIT */
/* The open-file cache: hits within the validity, revalidation after it, changed and removed files,
 * LRU eviction, the entry and fd bounds, scopes, and the root it never leaves. The clock is a
 * number the tests choose. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "docroot.h"
#include "http/file-cache.h"

#define VALID USEC_PER_SEC
#define T0 (100 * USEC_PER_SEC)

static char *root, *other;
static int root_fd = -1, other_fd = -1;

static void put(const char *dir, const char *name, const char *content) {
        docroot_add_text(dir, name, content);
}

static void put_big(const char *name, size_t size, char fill) {
        char *buf = malloc(size);
        cr_assert_not_null(buf);
        memset(buf, fill, size);
        docroot_add_file(root, name, buf, size, 0644);
        free(buf);
}

static void setup(void) {
        root = docroot_new("fcache");
        other = docroot_new("fcache-o");
        root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        other_fd = open(other, O_PATH | O_DIRECTORY | O_CLOEXEC);
        cr_assert(root_fd >= 0 && other_fd >= 0);
        put(root, "a.txt", "alpha\n");
        put(other, "a.txt", "other alpha\n");
}

static void teardown(void) {
        close(root_fd);
        close(other_fd);
        docroot_remove(root);
        docroot_remove(other);
        root = other = NULL;
}

TestSuite(file_cache, .init = setup, .fini = teardown);

static void assert_data(const FileCacheEntry *e, const char *want) {
        cr_assert_not_null(e->data);
        cr_assert_eq((size_t) e->st.st_size, strlen(want));
        cr_assert(memcmp(e->data, want, strlen(want)) == 0, "got %.*s", (int) e->st.st_size, e->data);
}

Test(file_cache, hit_within_validity_needs_no_file) {
        FileCache *fc;
        const FileCacheEntry *e;
        FileCacheStats s;
        char p[512];

        cr_assert_eq(file_cache_new(8, 4, VALID, &fc), 0);
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/a.txt", T0, &e), 0);
        assert_data(e, "alpha\n");
        cr_assert_eq(e->fd, -1, "a small file is held as bytes, not as an fd");
        cr_assert_eq(e->etag[0], '"', "%s", e->etag);

        /* Gone from the disk, but still trusted for the validity. */
        snprintf(p, sizeof(p), "%s/a.txt", root);
        cr_assert_eq(unlink(p), 0);
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/a.txt", T0 + VALID - 1, &e), 0);
        assert_data(e, "alpha\n");
        file_cache_stats(fc, &s);
        cr_assert_eq(s.hits, 1);
        cr_assert_eq(s.misses, 1);
        cr_assert_eq(s.revalidations, 0);

        /* After it, the removal is seen and the entry dropped. */
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/a.txt", T0 + VALID, &e), -ENOENT);
        file_cache_stats(fc, &s);
        cr_assert_eq(s.entries, 0);
        file_cache_free(fc);
}

Test(file_cache, expiry_revalidates_and_keeps_an_unchanged_file) {
        FileCache *fc;
        const FileCacheEntry *e, *e2;
        FileCacheStats s;

        cr_assert_eq(file_cache_new(8, 4, VALID, &fc), 0);
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/a.txt", T0, &e), 0);
        file_cache_entry_set_lines(e, "X-Test: 1\r\n", 11);
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/a.txt", T0 + 2 * VALID, &e2), 0);
        cr_assert_eq(e, e2);
        assert_data(e2, "alpha\n");
        cr_assert_eq(e2->lines_len, 11, "an unchanged file keeps its prebuilt lines");
        file_cache_stats(fc, &s);
        cr_assert_eq(s.revalidations, 1);
        cr_assert_eq(s.changes, 0);
        /* Trusted again for a full period from the revalidation. */
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/a.txt", T0 + 3 * VALID - 1, &e2), 0);
        file_cache_stats(fc, &s);
        cr_assert_eq(s.revalidations, 1);
        file_cache_free(fc);
}

Test(file_cache, changed_file_is_seen_after_the_validity) {
        FileCache *fc;
        const FileCacheEntry *e;
        char etag[64];
        FileCacheStats s;

        cr_assert_eq(file_cache_new(8, 4, VALID, &fc), 0);
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/a.txt", T0, &e), 0);
        file_cache_entry_set_lines(e, "X-Test: 1\r\n", 11);
        snprintf(etag, sizeof(etag), "%s", e->etag);
        put(root, "a.txt", "beta, longer\n");

        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/a.txt", T0 + VALID / 2, &e), 0);
        assert_data(e, "alpha\n");
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/a.txt", T0 + VALID, &e), 0);
        assert_data(e, "beta, longer\n");
        cr_assert_str_neq(e->etag, etag);
        cr_assert_eq(e->lines_len, 0, "the caller's lines are rebuilt for the new file");
        file_cache_stats(fc, &s);
        cr_assert_eq(s.changes, 1);
        file_cache_free(fc);
}

Test(file_cache, least_recently_used_is_evicted) {
        FileCache *fc;
        const FileCacheEntry *e;
        FileCacheStats s;

        put(root, "b.txt", "b");
        put(root, "c.txt", "c");
        cr_assert_eq(file_cache_new(2, 4, VALID, &fc), 0);
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/a.txt", T0, &e), 0);
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/b.txt", T0, &e), 0);
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/a.txt", T0, &e), 0); /* a is now the newest */
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/c.txt", T0, &e), 0); /* b goes */
        file_cache_stats(fc, &s);
        cr_assert_eq(s.evictions, 1);
        cr_assert_eq(s.misses, 3);

        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/a.txt", T0, &e), 0);
        file_cache_stats(fc, &s);
        cr_assert_eq(s.misses, 3, "a stayed");
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/b.txt", T0, &e), 0);
        file_cache_stats(fc, &s);
        cr_assert_eq(s.misses, 4, "b was evicted");
        file_cache_free(fc);
}

Test(file_cache, entries_and_fds_are_bounded) {
        FileCache *fc;
        const FileCacheEntry *e;
        FileCacheStats s;
        char name[32];

        for (int i = 0; i < 10; i++) {
                snprintf(name, sizeof(name), "f%d", i);
                put(root, name, name);
        }
        put_big("big1", FILE_CACHE_DATA_MAX + 1, 'x');
        put_big("big2", FILE_CACHE_DATA_MAX + 100, 'y');

        cr_assert_eq(file_cache_new(3, 1, VALID, &fc), 0);
        for (int i = 0; i < 10; i++) {
                char path[40];
                snprintf(path, sizeof(path), "/f%d", i);
                cr_assert_eq(file_cache_lookup(fc, 1, root_fd, path, T0, &e), 0);
                assert_data(e, path + 1);
        }
        file_cache_stats(fc, &s);
        cr_assert_eq(s.entries, 3);
        cr_assert_eq(s.evictions, 7);

        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/big1", T0, &e), 0);
        cr_assert_null(e->data);
        cr_assert(e->fd >= 0, "a larger file is held open");
        char c;
        cr_assert_eq(pread(e->fd, &c, 1, 0), 1);
        cr_assert_eq(c, 'x');
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/big2", T0, &e), 0);
        cr_assert_eq(e->st.st_size, FILE_CACHE_DATA_MAX + 100);
        file_cache_stats(fc, &s);
        cr_assert_eq(s.fds, 1, "at most max_fds descriptors");
        cr_assert(s.entries <= 3);
        file_cache_free(fc);
}

Test(file_cache, scopes_and_roots_are_separate) {
        FileCache *fc;
        const FileCacheEntry *e;

        cr_assert_eq(file_cache_new(8, 4, VALID, &fc), 0);
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/a.txt", T0, &e), 0);
        assert_data(e, "alpha\n");
        cr_assert_eq(file_cache_lookup(fc, 2, other_fd, "/a.txt", T0, &e), 0);
        assert_data(e, "other alpha\n");
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/a.txt", T0, &e), 0);
        assert_data(e, "alpha\n");
        file_cache_free(fc);
}

Test(file_cache, never_leaves_the_root) {
        FileCache *fc;
        const FileCacheEntry *e;
        char link[512], target[512];

        snprintf(target, sizeof(target), "%s/a.txt", other);
        snprintf(link, sizeof(link), "%s/out", root);
        cr_assert_eq(symlink(target, link), 0);
        cr_assert_eq(file_cache_new(8, 4, VALID, &fc), 0);
        cr_assert_lt(file_cache_lookup(fc, 1, root_fd, "/out", T0, &e), 0);

        /* A cached file replaced by a link out of the root is refused once revalidated. */
        char p[512];
        snprintf(p, sizeof(p), "%s/a.txt", root);
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/a.txt", T0, &e), 0);
        cr_assert_eq(unlink(p), 0);
        cr_assert_eq(symlink(target, p), 0);
        cr_assert_lt(file_cache_lookup(fc, 1, root_fd, "/a.txt", T0 + VALID, &e), 0);
        file_cache_free(fc);
}

Test(file_cache, directories_are_not_cached) {
        FileCache *fc;
        const FileCacheEntry *e;
        char d[512];

        snprintf(d, sizeof(d), "%s/dir", root);
        cr_assert_eq(mkdir(d, 0755), 0);
        cr_assert_eq(file_cache_new(8, 4, VALID, &fc), 0);
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/dir", T0, &e), -EISDIR);
        file_cache_free(fc);
}

/* Directory indexes: the directory /d/ of the root, the names tried in order. */
static char *const index_names[] = { (char *) "index.html", (char *) "index.htm", NULL };

static void index_dir(void) {
        char d[512];
        snprintf(d, sizeof(d), "%s/d", root);
        cr_assert_eq(mkdir(d, 0755), 0);
}

static void index_unlink(const char *name) {
        char p[512];
        snprintf(p, sizeof(p), "%s/d/%s", root, name);
        cr_assert_eq(unlink(p), 0);
}

Test(file_cache, index_is_kept_with_the_file) {
        FileCache *fc;
        const FileCacheEntry *e, *f;
        const char *name = NULL;
        FileCacheStats s;

        index_dir();
        put(root, "d/index.html", "home\n");
        cr_assert_eq(file_cache_new(8, 4, VALID, &fc), 0);
        cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/d/", index_names, T0, &e, &name), 0);
        cr_assert_str_eq(name, "index.html");
        assert_data(e, "home\n");
        file_cache_stats(fc, &s);
        cr_assert_eq(s.index_resolutions, 1);
        cr_assert_eq(s.index_hits, 0);

        /* The second time neither the directory nor a name is opened: a hit of both entries. */
        cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/d/", index_names, T0 + VALID - 1, &e, &name), 0);
        assert_data(e, "home\n");
        cr_assert_str_eq(name, "index.html");
        file_cache_stats(fc, &s);
        cr_assert_eq(s.index_resolutions, 1);
        cr_assert_eq(s.index_hits, 1);
        cr_assert_eq(s.hits, 1);
        cr_assert_eq(s.misses, 1);
        cr_assert_eq(s.entries, 2);

        /* The file chosen is the entry a request naming it gets. */
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/d/index.html", T0, &f), 0);
        cr_assert_eq(f, e);
        /* Another scope resolves its own. */
        cr_assert_eq(file_cache_lookup_index(fc, 2, root_fd, "/d/", index_names, T0, &e, &name), 0);
        file_cache_stats(fc, &s);
        cr_assert_eq(s.index_resolutions, 2);
        file_cache_free(fc);
}

Test(file_cache, replaced_created_and_removed_index_is_seen_after_the_validity) {
        FileCache *fc;
        const FileCacheEntry *e;
        const char *name = NULL;

        index_dir();
        put(root, "d/index.html", "old\n");
        cr_assert_eq(file_cache_new(8, 4, VALID, &fc), 0);
        cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/d/", index_names, T0, &e, &name), 0);

        /* Replaced: the old bytes within the validity, the new ones after it. */
        index_unlink("index.html");
        put(root, "d/index.html", "new index\n");
        cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/d/", index_names, T0 + VALID / 2, &e, &name), 0);
        assert_data(e, "old\n");
        cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/d/", index_names, T0 + VALID, &e, &name), 0);
        assert_data(e, "new index\n");

        /* Removed with the second name present: the second name from then on. */
        put(root, "d/index.htm", "second\n");
        index_unlink("index.html");
        cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/d/", index_names, T0 + VALID + 1, &e, &name), 0);
        assert_data(e, "new index\n");
        cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/d/", index_names, T0 + 2 * VALID, &e, &name), 0);
        cr_assert_str_eq(name, "index.htm");
        assert_data(e, "second\n");

        /* The first name created again wins again, once the choice is revalidated. */
        put(root, "d/index.html", "back\n");
        cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/d/", index_names, T0 + 3 * VALID - 1, &e, &name), 0);
        cr_assert_str_eq(name, "index.htm");
        cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/d/", index_names, T0 + 3 * VALID, &e, &name), 0);
        cr_assert_str_eq(name, "index.html");
        assert_data(e, "back\n");

        /* All gone: "no index", kept for the validity like the rest, then seen created again. */
        index_unlink("index.html");
        index_unlink("index.htm");
        cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/d/", index_names, T0 + 4 * VALID, &e, &name),
                     -ENOENT);
        put(root, "d/index.htm", "late\n");
        cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/d/", index_names, T0 + 5 * VALID - 1, &e, &name),
                     -ENOENT);
        cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/d/", index_names, T0 + 5 * VALID, &e, &name), 0);
        assert_data(e, "late\n");
        file_cache_free(fc);
}

Test(file_cache, index_passes_over_what_is_not_a_regular_file) {
        FileCache *fc;
        const FileCacheEntry *e;
        const char *name = NULL;
        char p[512];

        index_dir();
        snprintf(p, sizeof(p), "%s/d/index.html", root);
        cr_assert_eq(mkdir(p, 0755), 0);
        cr_assert_eq(file_cache_new(8, 4, VALID, &fc), 0);
        /* Only a directory of that name: no index, and not its error. */
        cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/d/", index_names, T0, &e, &name), -ENOENT);
        put(root, "d/index.htm", "htm\n");
        cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/d/", index_names, T0 + VALID, &e, &name), 0);
        cr_assert_str_eq(name, "index.htm");
        assert_data(e, "htm\n");
        file_cache_free(fc);
}

Test(file_cache, index_links_are_followed_only_beneath_the_root) {
        FileCache *fc;
        const FileCacheEntry *e;
        const char *name = NULL;
        char link[512], target[512];

        index_dir();
        snprintf(target, sizeof(target), "%s/a.txt", other);
        snprintf(link, sizeof(link), "%s/d/index.html", root);
        cr_assert_eq(symlink(target, link), 0);
        cr_assert_eq(file_cache_new(8, 4, VALID, &fc), 0);
        /* Refused as opening it is (-EACCES), twice: the refusal is kept, never the file. */
        cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/d/", index_names, T0, &e, &name), -EACCES);
        cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/d/", index_names, T0 + 1, &e, &name), -EACCES);
        /* The next name is served in its place. */
        put(root, "d/index.htm", "htm\n");
        cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/d/", index_names, T0 + VALID, &e, &name), 0);
        cr_assert_str_eq(name, "index.htm");

        /* A link that stays beneath the root is followed. */
        cr_assert_eq(unlink(link), 0);
        cr_assert_eq(symlink("../a.txt", link), 0);
        cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/d/", index_names, T0 + 2 * VALID, &e, &name), 0);
        cr_assert_str_eq(name, "index.html");
        assert_data(e, "alpha\n");

        /* ... until it is turned to point out of the root. */
        cr_assert_eq(unlink(link), 0);
        cr_assert_eq(symlink(target, link), 0);
        cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/d/", index_names, T0 + 3 * VALID, &e, &name), 0);
        cr_assert_str_eq(name, "index.htm");
        file_cache_free(fc);
}

Test(file_cache, index_of_what_is_not_a_directory) {
        FileCache *fc;
        const FileCacheEntry *e;
        const char *name = NULL;
        FileCacheStats s;

        cr_assert_eq(file_cache_new(8, 4, VALID, &fc), 0);
        cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/missing/", index_names, T0, &e, &name), -ENOTDIR);
        cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/a.txt/", index_names, T0, &e, &name), -ENOTDIR);
        file_cache_stats(fc, &s);
        cr_assert_eq(s.entries, 0, "a directory's own error is not kept");
        file_cache_free(fc);
}

Test(file_cache, index_in_a_cache_of_one_entry) {
        FileCache *fc;
        const FileCacheEntry *e;
        const char *name = NULL;

        index_dir();
        put(root, "d/index.html", "one\n");
        cr_assert_eq(file_cache_new(1, 1, VALID, &fc), 0);
        for (int i = 0; i < 3; i++) {
                cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/d/", index_names, T0 + i, &e, &name), 0);
                assert_data(e, "one\n");
        }
        file_cache_free(fc);
}

/* ---- missing paths (404s) ------------------------------------------------------------------- */

Test(file_cache, a_missing_path_is_kept_for_the_validity) {
        FileCache *fc;
        const FileCacheEntry *e;
        FileCacheStats s;

        cr_assert_eq(file_cache_new(8, 4, VALID, &fc), 0);
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/nope.html", T0, &e), -ENOENT);
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/nope.html", T0 + VALID - 1, &e), -ENOENT);
        /* A file named as a folder: ENOTDIR, as much a 404. */
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/a.txt/x", T0, &e), -ENOTDIR);
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/a.txt/x", T0 + 1, &e), -ENOTDIR);
        file_cache_stats(fc, &s);
        cr_assert_eq(s.misses, 2, "the second request for each opened nothing");
        cr_assert_eq(s.missing_hits, 2);
        cr_assert_eq(s.missing, 2);
        cr_assert_eq(s.entries, 0, "missing paths are not entries");
        /* Another scope has its own answer. */
        cr_assert_eq(file_cache_lookup(fc, 2, root_fd, "/nope.html", T0, &e), -ENOENT);
        file_cache_stats(fc, &s);
        cr_assert_eq(s.missing_hits, 2);
        file_cache_free(fc);
}

Test(file_cache, a_file_created_after_a_404_is_served_after_the_validity) {
        FileCache *fc;
        const FileCacheEntry *e;
        FileCacheStats s;

        cr_assert_eq(file_cache_new(8, 4, VALID, &fc), 0);
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/new.html", T0, &e), -ENOENT);
        put(root, "new.html", "fresh\n");
        /* Within the validity the kept 404 answers (the file is not looked at)... */
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/new.html", T0 + VALID - 1, &e), -ENOENT);
        /* ...after it, the file is found and served. */
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/new.html", T0 + VALID, &e), 0);
        assert_data(e, "fresh\n");
        file_cache_stats(fc, &s);
        cr_assert_eq(s.missing, 0, "the file's entry replaced the missing path");
        cr_assert_eq(s.entries, 1);
        /* A clock that went back trusts nothing kept. */
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/gone.html", T0 + 5 * VALID, &e), -ENOENT);
        put(root, "gone.html", "here\n");
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/gone.html", T0, &e), 0);
        file_cache_free(fc);
}

Test(file_cache, a_removed_file_is_then_kept_as_missing) {
        FileCache *fc;
        const FileCacheEntry *e;
        FileCacheStats s;
        char p[512];

        cr_assert_eq(file_cache_new(8, 4, VALID, &fc), 0);
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/a.txt", T0, &e), 0);
        snprintf(p, sizeof(p), "%s/a.txt", root);
        cr_assert_eq(unlink(p), 0);
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/a.txt", T0 + VALID, &e), -ENOENT);
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/a.txt", T0 + VALID + 1, &e), -ENOENT);
        file_cache_stats(fc, &s);
        cr_assert_eq(s.missing_hits, 1);
        cr_assert_eq(s.misses, 1);
        file_cache_free(fc);
}

Test(file_cache, missing_paths_are_bounded_and_never_push_out_a_file) {
        FileCache *fc;
        const FileCacheEntry *e;
        FileCacheStats s;
        char name[32], path[40];

        /* The cache full of files, then a flood of distinct missing paths. */
        for (int i = 0; i < 8; i++) {
                snprintf(name, sizeof(name), "hot%d", i);
                put(root, name, name);
        }
        cr_assert_eq(file_cache_new(8, 4, VALID, &fc), 0);
        for (int i = 0; i < 8; i++) {
                snprintf(path, sizeof(path), "/hot%d", i);
                cr_assert_eq(file_cache_lookup(fc, 1, root_fd, path, T0, &e), 0);
        }
        for (int i = 0; i < 5000; i++) {
                snprintf(path, sizeof(path), "/random-%d", i);
                cr_assert_eq(file_cache_lookup(fc, 1, root_fd, path, T0 + 1, &e), -ENOENT);
                if (i % 500 == 0)
                        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/hot0", T0 + 1, &e), 0);
        }
        file_cache_stats(fc, &s);
        cr_assert_eq(s.max_missing, 8 / FILE_CACHE_MISSING_SHARE);
        cr_assert_eq(s.missing, s.max_missing, "at most the budget of missing paths");
        cr_assert_eq(s.missing_evictions, 5000 - s.max_missing);
        cr_assert_eq(s.entries, 8, "every file still cached");
        cr_assert_eq(s.evictions, 0);
        uint64_t hits = s.hits;
        for (int i = 0; i < 8; i++) {
                snprintf(path, sizeof(path), "/hot%d", i);
                cr_assert_eq(file_cache_lookup(fc, 1, root_fd, path, T0 + 2, &e), 0);
                assert_data(e, path + 1);
        }
        file_cache_stats(fc, &s);
        cr_assert_eq(s.hits, hits + 8, "answered from the cache, not opened again");
        /* The most recently used missing paths are the ones kept: one asked for again stays. */
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/random-4998", T0 + 3, &e), -ENOENT);
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/another", T0 + 3, &e), -ENOENT);
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/random-4998", T0 + 3, &e), -ENOENT);
        file_cache_stats(fc, &s);
        cr_assert_eq(s.missing_hits, 2, "random-4998 was kept, random-4999 pushed out");
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/random-4999", T0 + 3, &e), -ENOENT);
        file_cache_stats(fc, &s);
        cr_assert_eq(s.missing_hits, 2);
        file_cache_free(fc);
}

Test(file_cache, errors_other_than_missing_are_not_kept) {
        FileCache *fc;
        const FileCacheEntry *e;
        FileCacheStats s;
        char link[512], target[512];

        /* A link out of the root (EXDEV under RESOLVE_BENEATH) and a link loop (ELOOP). */
        snprintf(target, sizeof(target), "%s/a.txt", other);
        snprintf(link, sizeof(link), "%s/out", root);
        cr_assert_eq(symlink(target, link), 0);
        docroot_add_symlink(root, "loop", "loop");
        cr_assert_eq(file_cache_new(8, 4, VALID, &fc), 0);
        for (int i = 0; i < 2; i++) {
                int r = file_cache_lookup(fc, 1, root_fd, "/out", T0 + i, &e);
                cr_assert(r < 0 && r != -ENOENT && r != -ENOTDIR, "%d", r);
                r = file_cache_lookup(fc, 1, root_fd, "/loop", T0 + i, &e);
                cr_assert(r < 0 && r != -ENOENT && r != -ENOTDIR, "%d", r);
        }
        file_cache_stats(fc, &s);
        cr_assert_eq(s.missing, 0);
        cr_assert_eq(s.missing_hits, 0);
        cr_assert_eq(s.misses, 4, "each looked at again");

        /* Put right, it is served at once. */
        cr_assert_eq(unlink(link), 0);
        put(root, "out", "in\n");
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/out", T0 + 2, &e), 0);
        assert_data(e, "in\n");
        file_cache_free(fc);
}

Test(file_cache, a_kept_404_of_an_index_name_does_not_hide_a_new_index) {
        FileCache *fc;
        const FileCacheEntry *e;
        const char *name = NULL;

        index_dir();
        cr_assert_eq(file_cache_new(8, 4, VALID, &fc), 0);
        /* The index name asked for directly: a 404 kept until T0 + VALID. */
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/d/index.html", T0, &e), -ENOENT);
        put(root, "d/index.html", "now\n");
        /* The directory's first resolution looks at the names themselves, as it did before missing
         * paths were kept: the new index is found (and its kept choice is not a 404 for VALID). */
        cr_assert_eq(file_cache_lookup_index(fc, 1, root_fd, "/d/", index_names, T0 + VALID / 2, &e, &name), 0);
        cr_assert_str_eq(name, "index.html");
        assert_data(e, "now\n");
        /* And the file's own entry now answers the direct request as well. */
        cr_assert_eq(file_cache_lookup(fc, 1, root_fd, "/d/index.html", T0 + VALID / 2, &e), 0);
        assert_data(e, "now\n");
        file_cache_free(fc);
}
