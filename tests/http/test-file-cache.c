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
