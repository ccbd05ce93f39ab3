/* SPDX-License-Identifier: MIT */
/* config-fixture.c — what the tests of config_load() share (config-fixture.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-fixture.h"
#include "supervisor/listeners.h"
#include "shared/strv.h"

/* ---- a fake MPM ---------------------------------------------------------------------------- */


const ConfItem fake_directives[] = {
        { "ServerLimit", CONF_UINT, FK(server_limit), "16", 1, 1000, .flags = CONF_RESTART_ONLY,
          .expect = "a number of processes from 1 to 1000" },
        { "MaxRequestWorkers", CONF_UINT, FK(max_request_workers), "16", 1, 1000,
          .expect = "a number of processes from 1 to 1000" },
        { "Hooks", CONF_STRV, FK(hooks), NULL, .expect = "names" },
        SITE_LIMITS_ROWS(FK(limits), true),
        CONF_TABLE_END,
};

static int fake_check_config(void *config, ConfErrors *ret_errors, ConfErrors *ret_warnings) {
        FakeConfig *c = config;

        if (c->server_limit == 999) {
                conf_errors_add(ret_errors, "[fake]", 0, "ServerLimit 999 is not allowed by this MPM");
                return -EINVAL;
        }
        if (c->max_request_workers > c->server_limit) {
                conf_errors_add(ret_warnings, "[fake]", 0,
                                "MaxRequestWorkers %u is larger than ServerLimit %u, lowering it to %u",
                                c->max_request_workers, c->server_limit, c->server_limit);
                c->max_request_workers = c->server_limit;
        }
        return 0;
}

static unsigned fake_process_limit(const void *config) {
        return ((const FakeConfig *) config)->server_limit;
}

static const SiteLimits *fake_site_limits(const void *config) {
        return &((const FakeConfig *) config)->limits;
}

const MpmOps fake_mpm = {
        .name = "fake",
        .magic = MPM_MAGIC_NUMBER,
        .directives = fake_directives,
        .config_size = sizeof(FakeConfig),
        .check_config = fake_check_config,
        .process_limit = fake_process_limit,
        .site_limits = fake_site_limits,
};

/* ---- fixture ------------------------------------------------------------------------------ */

char dir[PATH_MAX];
ConfErrors errors, warnings;
static char *expanded[64];
static size_t n_expanded;

void config_fixture_setup(void) {
        strcpy(dir, "/tmp/mpmd-test-config-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

void config_fixture_teardown(void) {
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        conf_errors_done(&errors);
        conf_errors_done(&warnings);
        for (size_t i = 0; i < n_expanded; i++)
                free(expanded[i]);
        n_expanded = 0;
}

/* s with every "@" replaced by the test's folder; freed by the fixture. */
const char *at(const char *s) {
        size_t n = 0;
        char *r, *p;

        for (const char *c = s; *c; c++)
                n += *c == '@' ? strlen(dir) : 1;
        r = p = malloc(n + 1);
        cr_assert_not_null(r);
        for (const char *c = s; *c; c++)
                p = *c == '@' ? stpcpy(p, dir) : (*p = *c, p + 1);
        *p = '\0';
        cr_assert_lt(n_expanded, sizeof(expanded) / sizeof(expanded[0]));
        expanded[n_expanded++] = r;
        return r;
}

const char *write_file(const char *name, const char *content) {
        const char *path = at(name);
        char parent[PATH_MAX];
        FILE *f;

        snprintf(parent, sizeof(parent), "%s", path);
        *strrchr(parent, '/') = '\0';
        (void) mkdir(parent, 0755);
        f = fopen(path, "we");
        cr_assert_not_null(f, "%s: %s", path, strerror(errno));
        fputs(at(content), f);
        cr_assert_eq(fclose(f), 0);
        return path;
}

int load(const char *main_name, const ConfigLoadOptions *opts, Config **ret) {
        ConfigLoadOptions fake = { .builtin_mpm = &fake_mpm };

        return config_load(at(main_name), opts ? opts : &fake, ret, &errors, &warnings);
}

char *joined(const ConfErrors *e) {
        static char buf[8192];
        char *p = buf;

        buf[0] = '\0';
        for (size_t i = 0; i < e->n; i++)
                p += snprintf(p, (size_t) (buf + sizeof(buf) - p), "\n  %s", e->msgs[i]);
        return buf;
}

/* The messages, exactly and in this order. */
void assert_messages(const ConfErrors *e, size_t n, ...) {
        va_list ap;

        cr_assert_eq(e->n, n, "expected %zu messages, got %zu:%s", n, e->n, joined(e));
        va_start(ap, n);
        for (size_t i = 0; i < n; i++)
                cr_assert_str_eq(e->msgs[i], at(va_arg(ap, const char *)));
        va_end(ap);
}

bool has_message(const ConfErrors *e, const char *msg) {
        return strv_contains(e->msgs, at(msg));
}

const MpmOps fake_per_user_mpm = {
        .name = "fake",
        .magic = MPM_MAGIC_NUMBER,
        .flags = MPM_PER_USER,
        .directives = fake_directives,
        .config_size = sizeof(FakeConfig),
        .check_config = fake_check_config,
        .process_limit = fake_process_limit,
        .site_limits = fake_site_limits,
};

int load_for_start(const char *main_name, const MpmOps *mpm, Config **ret) {
        ConfigLoadOptions o = { .builtin_mpm = mpm, .check_filesystem = true, .check_startup = true,
                                .listen_is_address = listen_value_is_address };

        return config_load(at(main_name), &o, ret, &errors, &warnings);
}
