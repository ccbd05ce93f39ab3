/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/file-cache.h"
#include "http/path.h"

typedef enum NodeKind {
        NODE_FILE,  /* a regular file: e holds it */
        NODE_INDEX, /* a directory's index resolution: index_path / index_error, e unused */
} NodeKind;

typedef struct CacheNode {
        FileCacheEntry e; /* first: the public view is a pointer to the node */
        struct CacheNode *hash_next;
        struct CacheNode *lru_prev, *lru_next; /* most recently used at the head */
        uint64_t scope;
        uint64_t hash;
        usec_t validated;
        NodeKind kind;
        char *path;
        /* NODE_INDEX: the names it was resolved with (the caller's list), the position of the one
         * chosen and its path (directory + name), or no path and why none was chosen: -ENOENT (no
         * index) or another error that index_error_stable() keeps. */
        char *const *index_names;
        size_t index_pos;
        char *index_path;
        int index_error;
} CacheNode;

/* A path that is not there (-ENOENT, -ENOTDIR), kept for the validity like a file: small, in a
 * table and a least-recently-used list of its own, so that missing paths (which anyone can ask for
 * by the million) only ever push out other missing paths, never a file. */
typedef struct MissingNode {
        struct MissingNode *hash_next;
        struct MissingNode *lru_prev, *lru_next;
        uint64_t scope;
        uint64_t hash;
        usec_t validated;
        int error;
        char path[];
} MissingNode;

struct FileCache {
        CacheNode **buckets;
        size_t n_buckets; /* a power of two */
        CacheNode *lru_head, *lru_tail;
        size_t n_entries, max_entries;
        size_t n_fds, max_fds;
        MissingNode **missing_buckets;
        size_t n_missing_buckets; /* a power of two */
        MissingNode *missing_head, *missing_tail;
        size_t n_missing, max_missing;
        usec_t valid;
        FileCacheStats stats;
};

/* FNV-1a over the scope and the path. */
static uint64_t cache_hash(uint64_t scope, const char *path) {
        uint64_t h = UINT64_C(14695981039346656037);

        for (unsigned i = 0; i < 8; i++) {
                h ^= (scope >> (i * 8)) & 0xff;
                h *= UINT64_C(1099511628211);
        }
        for (const unsigned char *p = (const unsigned char *) path; *p; p++) {
                h ^= *p;
                h *= UINT64_C(1099511628211);
        }
        return h;
}

int file_cache_new(size_t max_entries, size_t max_fds, usec_t valid, FileCache **ret) {
        FileCache *fc;
        size_t n = 16;

        if (max_entries == 0)
                return -EINVAL;
        while (n < max_entries * 2)
                n *= 2;
        fc = calloc(1, sizeof(*fc));
        if (!fc)
                return -ENOMEM;
        fc->buckets = calloc(n, sizeof(CacheNode *));
        if (!fc->buckets) {
                free(fc);
                return -ENOMEM;
        }
        fc->n_buckets = n;
        fc->max_missing = MAX(max_entries / FILE_CACHE_MISSING_SHARE, (size_t) 1);
        for (n = 16; n < fc->max_missing * 2;)
                n *= 2;
        fc->missing_buckets = calloc(n, sizeof(MissingNode *));
        if (!fc->missing_buckets) {
                free(fc->buckets);
                free(fc);
                return -ENOMEM;
        }
        fc->n_missing_buckets = n;
        fc->max_entries = max_entries;
        fc->max_fds = max_fds;
        fc->valid = valid;
        *ret = fc;
        return 0;
}

static void node_clear(FileCache *fc, CacheNode *n) {
        if (n->e.fd >= 0)
                fc->n_fds--;
        n->e.fd = safe_close(n->e.fd);
        n->e.data = mfree((char *) n->e.data);
        n->e.lines_len = 0;
}

static void lru_unlink(FileCache *fc, CacheNode *n) {
        if (n->lru_prev)
                n->lru_prev->lru_next = n->lru_next;
        else
                fc->lru_head = n->lru_next;
        if (n->lru_next)
                n->lru_next->lru_prev = n->lru_prev;
        else
                fc->lru_tail = n->lru_prev;
        n->lru_prev = n->lru_next = NULL;
}

static void lru_push_front(FileCache *fc, CacheNode *n) {
        n->lru_next = fc->lru_head;
        n->lru_prev = NULL;
        if (fc->lru_head)
                fc->lru_head->lru_prev = n;
        fc->lru_head = n;
        if (!fc->lru_tail)
                fc->lru_tail = n;
}

static void node_remove(FileCache *fc, CacheNode *n) {
        CacheNode **p = &fc->buckets[n->hash & (fc->n_buckets - 1)];

        while (*p != n)
                p = &(*p)->hash_next;
        *p = n->hash_next;
        lru_unlink(fc, n);
        node_clear(fc, n);
        free(n->path);
        free(n->index_path);
        free(n);
        fc->n_entries--;
}

static void missing_remove(FileCache *fc, MissingNode *m) {
        MissingNode **p = &fc->missing_buckets[m->hash & (fc->n_missing_buckets - 1)];

        while (*p != m)
                p = &(*p)->hash_next;
        *p = m->hash_next;
        if (m->lru_prev)
                m->lru_prev->lru_next = m->lru_next;
        else
                fc->missing_head = m->lru_next;
        if (m->lru_next)
                m->lru_next->lru_prev = m->lru_prev;
        else
                fc->missing_tail = m->lru_prev;
        free(m);
        fc->n_missing--;
}

FileCache *file_cache_free(FileCache *fc) {
        if (!fc)
                return NULL;
        while (fc->lru_head)
                node_remove(fc, fc->lru_head);
        while (fc->missing_head)
                missing_remove(fc, fc->missing_head);
        free(fc->missing_buckets);
        free(fc->buckets);
        free(fc);
        return NULL;
}

void file_cache_etag_format(const struct stat *st, char *out, size_t n) {
        unsigned long long mtime = (unsigned long long) st->st_mtim.tv_sec * 1000000ULL +
                                   (unsigned long long) st->st_mtim.tv_nsec / 1000;
        snprintf(out, n, "\"%llx-%llx-%llx\"", (unsigned long long) st->st_ino, (unsigned long long) st->st_size,
                 mtime);
}

static bool stat_same(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
               a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec &&
               a->st_mode == b->st_mode;
}

/* Open path and fill n from it: the bytes of a small file, the fd of a larger one. On error n is
 * left cleared. */
static int node_load(FileCache *fc, CacheNode *n, int root_fd, const char *path) {
        struct stat st;
        int fd = http_path_open(root_fd, path, O_RDONLY | O_NONBLOCK, &st);

        if (fd < 0)
                return fd;
        if (S_ISDIR(st.st_mode) || !S_ISREG(st.st_mode)) {
                safe_close(fd);
                return S_ISDIR(st.st_mode) ? -EISDIR : -EBADFD;
        }
        if (st.st_size <= FILE_CACHE_DATA_MAX) {
                size_t size = (size_t) st.st_size;
                char *data = malloc(size ? size : 1);
                size_t got = 0;

                if (!data) {
                        safe_close(fd);
                        return -ENOMEM;
                }
                while (got < size) {
                        ssize_t k = pread(fd, data + got, size - got, (off_t) got);
                        if (k <= 0)
                                break;
                        got += (size_t) k;
                }
                safe_close(fd);
                if (got != size) {
                        /* It shrank while we read it: not a consistent copy. */
                        free(data);
                        return -EAGAIN;
                }
                n->e.data = data;
        } else {
                if (fc->n_fds >= fc->max_fds) {
                        /* Make room by dropping the least recently used entry that holds an fd. */
                        CacheNode *v = fc->lru_tail;
                        while (v && (v->e.fd < 0 || v == n))
                                v = v->lru_prev;
                        if (!v) {
                                safe_close(fd);
                                return -EAGAIN;
                        }
                        node_remove(fc, v);
                        fc->stats.evictions++;
                }
                n->e.fd = fd;
                fc->n_fds++;
        }
        n->e.st = st;
        file_cache_etag_format(&st, n->e.etag, sizeof(n->e.etag));
        n->e.lines_len = 0;
        return 0;
}

/* The entry is older than valid: is the file still the one we hold? */
static int node_revalidate(FileCache *fc, CacheNode *n, int root_fd, usec_t now) {
        struct stat st;
        int fd;

        fc->stats.revalidations++;
        fd = http_path_open(root_fd, n->path, O_RDONLY | O_NONBLOCK, &st);
        if (fd < 0)
                return fd;
        safe_close(fd);
        if (!stat_same(&st, &n->e.st)) {
                int r;

                fc->stats.changes++;
                node_clear(fc, n);
                r = node_load(fc, n, root_fd, n->path);
                if (r < 0)
                        return r;
        }
        n->validated = now;
        return 0;
}

static CacheNode *node_find(FileCache *fc, NodeKind kind, uint64_t scope, const char *path, uint64_t h) {
        for (CacheNode *n = fc->buckets[h & (fc->n_buckets - 1)]; n; n = n->hash_next)
                if (n->hash == h && n->kind == kind && n->scope == scope && strcmp(n->path, path) == 0)
                        return n;
        return NULL;
}

static bool node_fresh(const FileCache *fc, const CacheNode *n, usec_t now) {
        /* A clock that went back (now < validated) makes the entry stale rather than trusted longer. */
        return now >= n->validated && now < n->validated + fc->valid;
}

static void node_touch(FileCache *fc, CacheNode *n) {
        if (fc->lru_head != n) {
                lru_unlink(fc, n);
                lru_push_front(fc, n);
        }
}

/* Make room for one more entry by evicting the least recently used one, unless that is keep (an
 * entry the caller is about to return, which must stay valid): -ENOBUFS then. */
static int node_make_room(FileCache *fc, const CacheNode *keep) {
        if (fc->n_entries < fc->max_entries)
                return 0;
        if (!fc->lru_tail || fc->lru_tail == keep)
                return -ENOBUFS;
        node_remove(fc, fc->lru_tail);
        fc->stats.evictions++;
        return 0;
}

static CacheNode *node_alloc(NodeKind kind, const char *path) {
        CacheNode *n = calloc(1, sizeof(*n));

        if (!n)
                return NULL;
        n->e.fd = -1;
        n->kind = kind;
        n->path = strdup(path);
        if (!n->path)
                return mfree(n);
        return n;
}

static void node_link(FileCache *fc, CacheNode *n, uint64_t scope, uint64_t h, usec_t now) {
        CacheNode **bucket = &fc->buckets[h & (fc->n_buckets - 1)];

        n->scope = scope;
        n->hash = h;
        n->validated = now;
        n->hash_next = *bucket;
        *bucket = n;
        lru_push_front(fc, n);
        fc->n_entries++;
}

static MissingNode *missing_find(FileCache *fc, uint64_t scope, const char *path, uint64_t h) {
        for (MissingNode *m = fc->missing_buckets[h & (fc->n_missing_buckets - 1)]; m; m = m->hash_next)
                if (m->hash == h && m->scope == scope && strcmp(m->path, path) == 0)
                        return m;
        return NULL;
}

/* Only "nothing is there": what any client may learn by asking, and what a new file ends. Never a
 * refusal (-EACCES, -EPERM), a link out of the root or in a loop (-EXDEV, -ELOOP), or a passing
 * failure (-EMFILE, -ENOMEM …): those are answered afresh each time, as before negative entries. */
static bool missing_cacheable(int r) {
        return r == -ENOENT || r == -ENOTDIR;
}

/* Remember that path is missing (r) as of now; the least recently used missing path makes room,
 * never a file. Out of memory, it is simply not remembered. */
static void missing_add(FileCache *fc, uint64_t scope, const char *path, uint64_t h, int r, usec_t now) {
        size_t len = strlen(path);
        MissingNode *m;

        if (fc->n_missing >= fc->max_missing) {
                missing_remove(fc, fc->missing_tail);
                fc->stats.missing_evictions++;
        }
        m = malloc(sizeof(*m) + len + 1);
        if (!m)
                return;
        memcpy(m->path, path, len + 1);
        m->scope = scope;
        m->hash = h;
        m->validated = now;
        m->error = r;
        m->hash_next = fc->missing_buckets[h & (fc->n_missing_buckets - 1)];
        fc->missing_buckets[h & (fc->n_missing_buckets - 1)] = m;
        m->lru_prev = NULL;
        m->lru_next = fc->missing_head;
        if (fc->missing_head)
                fc->missing_head->lru_prev = m;
        fc->missing_head = m;
        if (!fc->missing_tail)
                fc->missing_tail = m;
        fc->n_missing++;
}

/* The lookup; with_missing: consult and keep missing paths (file_cache_lookup), or not (the index
 * resolution, whose own entry already keeps what it found for the validity: a missing name seen
 * through another entry's older time would let a new index file wait for up to twice as long). */
static int cache_lookup(FileCache *fc, uint64_t scope, int root_fd, const char *path, usec_t now, bool with_missing,
                        const FileCacheEntry **ret) {
        uint64_t h = cache_hash(scope, path);
        CacheNode *n = node_find(fc, NODE_FILE, scope, path, h);
        MissingNode *m;
        int r;

        if (n) {
                if (!node_fresh(fc, n, now)) {
                        r = node_revalidate(fc, n, root_fd, now);
                        if (r < 0) {
                                node_remove(fc, n);
                                if (with_missing && missing_cacheable(r))
                                        missing_add(fc, scope, path, h, r, now);
                                return r;
                        }
                } else
                        fc->stats.hits++;
                node_touch(fc, n);
                *ret = &n->e;
                return 0;
        }

        m = missing_find(fc, scope, path, h);
        if (m) {
                if (with_missing && now >= m->validated && now < m->validated + fc->valid) {
                        fc->stats.missing_hits++;
                        if (fc->missing_head != m) {
                                /* To the head: a hot 404 outlives a trickle of one-off paths. */
                                m->lru_prev->lru_next = m->lru_next;
                                if (m->lru_next)
                                        m->lru_next->lru_prev = m->lru_prev;
                                else
                                        fc->missing_tail = m->lru_prev;
                                m->lru_prev = NULL;
                                m->lru_next = fc->missing_head;
                                fc->missing_head->lru_prev = m;
                                fc->missing_head = m;
                        }
                        return m->error;
                }
                /* Stale, or the index resolution is looking: the path is opened again below. */
                missing_remove(fc, m);
        }

        fc->stats.misses++;
        n = node_alloc(NODE_FILE, path);
        if (!n)
                return -ENOMEM;
        r = node_load(fc, n, root_fd, path);
        if (r < 0) {
                free(n->path);
                free(n);
                if (with_missing && missing_cacheable(r))
                        missing_add(fc, scope, path, h, r, now);
                return r;
        }
        /* Room is made only for a file that is there: a path that is not (or cannot be served)
         * pushes out no file. */
        (void) node_make_room(fc, NULL);
        node_link(fc, n, scope, h, now);
        *ret = &n->e;
        return 0;
}

int file_cache_lookup(FileCache *fc, uint64_t scope, int root_fd, const char *path, usec_t now,
                      const FileCacheEntry **ret) {
        return cache_lookup(fc, scope, root_fd, path, now, true, ret);
}

/* Errors of an index name that describe the tree rather than the moment (no file, no permission,
 * a link out of the root or in a loop), kept for the validity like a file; anything else (-EMFILE
 * …) is answered once and tried again next time. */
static bool index_error_stable(int r) {
        switch (-r) {
        case ENOENT:
        case ENOTDIR:
        case ENAMETOOLONG:
        case EACCES:
        case EPERM:
        case ELOOP:
                return true;
        default:
                return false;
        }
}

/* The directory itself, opened as the uncached handler opens it: its errors are the answer and
 * are not kept (a missing file is not either). -ENOENT is how "no index" is told, so a missing
 * directory, as much a 404, is -ENOTDIR; a path that opens as something else is -EBADFD. */
static int index_dir_check(int root_fd, const char *dir) {
        struct stat st;
        int fd = http_path_open(root_fd, dir, O_RDONLY | O_NONBLOCK, &st);

        if (fd < 0)
                return fd == -ENOENT ? -ENOTDIR : fd;
        safe_close(fd);
        return S_ISDIR(st.st_mode) ? 0 : -EBADFD;
}

/* Choose dir's index now, exactly as the uncached handler does: the names in order, each opened
 * beneath the root (through the cache, so the chosen file is cached too); the first regular file
 * wins, a name that does not exist or is not a regular file is passed over, and when none wins the
 * answer is the last other error, or -ENOENT. */
static int index_resolve(FileCache *fc, uint64_t scope, int root_fd, const char *dir, char *const *names,
                         usec_t now, const FileCacheEntry **ret_e, size_t *ret_pos) {
        char p[PATH_MAX];
        size_t pos = 0;
        int r = -ENOENT;

        for (char *const *name = names; name && *name; name++, pos++) {
                int n = snprintf(p, sizeof(p), "%s%s", dir, *name);
                if (n < 0 || (size_t) n >= sizeof(p))
                        continue;
                int k = cache_lookup(fc, scope, root_fd, p, now, false, ret_e);
                if (k == 0) {
                        *ret_pos = pos;
                        return 0;
                }
                if (k == -EAGAIN || k == -ENOMEM)
                        /* This name may be the index, the cache cannot tell now: not "passed over". */
                        return k;
                if (k != -ENOENT && k != -EISDIR && k != -EBADFD)
                        r = k;
        }
        return r;
}

int file_cache_lookup_index(FileCache *fc, uint64_t scope, int root_fd, const char *dir, char *const *names,
                            usec_t now, const FileCacheEntry **ret, const char **ret_name) {
        uint64_t h = cache_hash(scope, dir);
        CacheNode *d = node_find(fc, NODE_INDEX, scope, dir, h);
        const FileCacheEntry *e = NULL;
        size_t pos = 0;
        int r;

        if (d && d->index_names == names && node_fresh(fc, d, now)) {
                /* At the head, so that the file's own lookup below cannot evict it. */
                node_touch(fc, d);
                if (!d->index_path) {
                        fc->stats.index_hits++;
                        return d->index_error;
                }
                r = cache_lookup(fc, scope, root_fd, d->index_path, now, false, &e);
                if (r == 0) {
                        fc->stats.index_hits++;
                        *ret = e;
                        *ret_name = names[d->index_pos];
                        return 0;
                }
                if (r == -EAGAIN || r == -ENOMEM)
                        return r;
                /* The file it chose is gone or no longer a regular file: choose again, now. */
        }
        if (d)
                node_remove(fc, d);

        fc->stats.index_resolutions++;
        r = index_dir_check(root_fd, dir);
        if (r < 0)
                return r;
        r = index_resolve(fc, scope, root_fd, dir, names, now, &e, &pos);
        if (r < 0 && !index_error_stable(r))
                return r;

        /* Keep the choice; never at the cost of the file about to be returned. */
        if (node_make_room(fc, r == 0 ? (const CacheNode *) e : NULL) >= 0) {
                d = node_alloc(NODE_INDEX, dir);
                if (d && r == 0 && asprintf(&d->index_path, "%s%s", dir, names[pos]) < 0) {
                        d->index_path = NULL;
                        free(d->path);
                        d = mfree(d);
                }
                if (d) {
                        d->index_names = names;
                        d->index_pos = pos;
                        d->index_error = r;
                        node_link(fc, d, scope, h, now);
                }
        }
        if (r < 0)
                return r;
        *ret = e;
        *ret_name = names[pos];
        return 0;
}

void file_cache_entry_set_lines(const FileCacheEntry *e, const char *lines, size_t len) {
        /* The entry is the cache's; the caller got it const so it cannot change the file's data. */
        FileCacheEntry *w = (FileCacheEntry *) e;

        w->lines_len = MIN(len, sizeof(w->lines));
        memcpy(w->lines, lines, w->lines_len);
}

void file_cache_stats(const FileCache *fc, FileCacheStats *ret) {
        *ret = fc->stats;
        ret->entries = fc->n_entries;
        ret->fds = fc->n_fds;
        ret->missing = fc->n_missing;
        ret->max_missing = fc->max_missing;
}
