/* SPDX-License-Identifier: MIT */
/* Tests of config_load() with LoadModule and the MPM's own section (config-modules.c): which MPM,
 * modules that cannot be opened or were built for another version, an MPM's check_config. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-config.h"
#include "config-fixture.h"

TestSuite(config, .init = config_fixture_setup, .fini = config_fixture_teardown);

/* ---- the MPM ------------------------------------------------------------------------------ */

Test(config, no_loadmodule_and_no_builtin_mpm) {
        ConfigLoadOptions o = {};
        Config *c = (Config *) 1;

        write_file("@/mpmd.conf", "[Server]\nListen = x\n");
        cr_assert_eq(load("@/mpmd.conf", &o, &c), -EINVAL);
        cr_assert_null(c);
        assert_messages(&errors, 1, "@/mpmd.conf: mpmd: Configuration error: No MPM loaded.");
}

Test(config, two_loadmodules) {
        ConfigLoadOptions o = {};
        Config *c = (Config *) 1;

        write_file("@/mpmd.conf", "[Server]\nListen = x\nLoadModule = mpm_event_module /usr/lib/mpmd/mpm_event.so\n");
        write_file("@/conf.d/10.conf", "[Server]\nloadmodule = mpm_worker_module /usr/lib/mpmd/mpm_worker.so\n");
        cr_assert_eq(load("@/mpmd.conf", &o, &c), -EINVAL);
        cr_assert_null(c);
        assert_messages(&errors, 3, "@/mpmd.conf: mpmd: Configuration error: More than one MPM loaded.",
                        "@/mpmd.conf:3: [Server] LoadModule: mpm_event_module is loaded here",
                        "@/conf.d/10.conf:2: [Server] LoadModule: mpm_worker_module is loaded here");
}

Test(config, a_loadmodule_besides_another_builtin_mpm) {
        Config *c = (Config *) 1;

        write_file("@/mpmd.conf", "[Server]\nListen = x\nLoadModule = mpm_event_module /usr/lib/mpmd/mpm_event.so\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), -EINVAL);
        cr_assert_null(c);
        assert_messages(&errors, 2, "@/mpmd.conf: mpmd: Configuration error: More than one MPM loaded.",
                        "@/mpmd.conf:3: [Server] LoadModule: mpm_event_module is loaded here, and the fake MPM is "
                        "built in");
}

Test(config, a_loadmodule_of_the_builtin_mpm_is_a_warning) {
        ConfigLoadOptions o = { .builtin_mpm = &fake_mpm, .load_modules = true };
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = x\nLoadModule = mpm_fake_module /nonexistent/mpm_fake.so\n");
        cr_assert_eq(load("@/mpmd.conf", &o, &c), 0, "%s", joined(&errors));
        cr_assert_eq(c->mpm, &fake_mpm);
        cr_assert_eq(c->n_modules, 1);
        cr_assert_str_eq(c->modules[0].name, "mpm_fake_module");
        cr_assert_str_eq(c->modules[0].path, "/nonexistent/mpm_fake.so");
        cr_assert_str_eq(c->modules[0].source.file, at("@/mpmd.conf"));
        cr_assert_eq(c->modules[0].source.line, 3);
        assert_messages(&warnings, 1,
                        "@/mpmd.conf:3: [Server] LoadModule: mpm_fake_module is built into mpmd, the line has no effect");
        config_free(c);
}

Test(config, without_dlopen_a_loadmodule_names_a_builtin_mpm) {
        ConfigLoadOptions o = {};
        const ConfItem *start;
        const char *prefix;
        Config *c = NULL;
        char *v;

        const MpmOps *builtin = mpm_builtin[0];
        char text[256];
        if (!builtin)
                cr_skip_test("no MPM is built in (a build with shared MPMs)");
        snprintf(text, sizeof(text), "[Server]\nListen = x\nLoadModule = mpm_%s_module /nonexistent/mpm.so\n[%s]\nStartServers = 3\n",
                 builtin->name, builtin->name);
        write_file("@/mpmd.conf", text);
        cr_assert_eq(load("@/mpmd.conf", &o, &c), 0, "%s", joined(&errors));
        cr_assert_eq(c->mpm, builtin);
        start = conf_table_find(c->mpm->directives, "StartServers");
        cr_assert_not_null(start);
        v = conf_item_format(start, c->mpm_config);
        cr_assert_str_eq(v, "3");
        free(v);
        config_free(c);

        write_file("@/mpmd.conf", "[Server]\nListen = x\nLoadModule = mpm_nosuch_module /nonexistent/mpm_nosuch.so\n");
        cr_assert_eq(load("@/mpmd.conf", &o, &c), -EINVAL);
        cr_assert_eq(errors.n, 1, "%s", joined(&errors));
        /* which MPMs are built in depends on the build */
        prefix = at("@/mpmd.conf:3: [Server] LoadModule: unknown MPM module mpm_nosuch_module (built in: ");
        cr_assert(strncmp(errors.msgs[0], prefix, strlen(prefix)) == 0, "%s", errors.msgs[0]);
        cr_assert(strstr(errors.msgs[0], builtin->name), "%s", errors.msgs[0]);
}

Test(config, a_module_that_cannot_be_opened) {
        ConfigLoadOptions o = { .load_modules = true };
        Config *c = (Config *) 1;
        const char *prefix;

        write_file("@/mpmd.conf", "[Server]\nListen = x\nLoadModule = mpm_event_module @/missing.so\n");
        cr_assert_eq(load("@/mpmd.conf", &o, &c), -EINVAL);
        cr_assert_null(c);
        cr_assert_eq(errors.n, 1, "%s", joined(&errors));
        prefix = at("@/mpmd.conf:3: [Server] LoadModule: ");
        cr_assert(strncmp(errors.msgs[0], prefix, strlen(prefix)) == 0, "%s", errors.msgs[0]);
        cr_assert(strstr(errors.msgs[0], "No such file or directory"), "%s", errors.msgs[0]);
}

static bool have_cc(void) {
        return system("cc --version >/dev/null 2>&1") == 0;
}

/* Builds @/NAME.so from source with cc; extra: more cc arguments. */
static void build_module(const char *name, const char *source, const char *extra) {
        char cmd[2 * PATH_MAX + 512];
        int r;

        write_file(at("@/mod.c"), source);
        snprintf(cmd, sizeof(cmd), "cc -shared -fPIC %s -o %s/%s.so %s/mod.c", extra, dir, name, dir);
        r = system(cmd);
        cr_assert_eq(r, 0, "%s failed", cmd);
}

Test(config, a_module_built_for_another_version) {
        ConfigLoadOptions o = { .load_modules = true };
        Config *c = (Config *) 1;
        char expected[PATH_MAX + 256];

        if (!have_cc())
                cr_skip_test("no C compiler (cc) to build a module at run time");
        /* the ABI's first two fields, name and magic */
        build_module("old", "struct { const char *name; unsigned magic; } mpm_old_module = { \"old\", 20000101 };\n",
                     "");
        write_file("@/mpmd.conf", "[Server]\nListen = x\nLoadModule = mpm_old_module @/old.so\n");
        cr_assert_eq(load("@/mpmd.conf", &o, &c), -EINVAL);
        cr_assert_null(c);
        snprintf(expected, sizeof(expected),
                 "@/mpmd.conf:3: [Server] LoadModule: @/old.so was built for another mpmd version (magic 20000101, "
                 "expected %u)",
                 MPM_MAGIC_NUMBER);
        assert_messages(&errors, 1, expected);
}

Test(config, a_module_without_the_named_symbol) {
        ConfigLoadOptions o = { .load_modules = true };
        Config *c = (Config *) 1;
        const char *prefix;

        if (!have_cc())
                cr_skip_test("no C compiler (cc) to build a module at run time");
        build_module("other", "int something_else = 1;\n", "");
        write_file("@/mpmd.conf", "[Server]\nListen = x\nLoadModule = mpm_other_module @/other.so\n");
        cr_assert_eq(load("@/mpmd.conf", &o, &c), -EINVAL);
        prefix = at("@/mpmd.conf:3: [Server] LoadModule: @/other.so has no symbol mpm_other_module");
        cr_assert_eq(errors.n, 1, "%s", joined(&errors));
        cr_assert(strncmp(errors.msgs[0], prefix, strlen(prefix)) == 0, "%s", errors.msgs[0]);
}

Test(config, a_good_module_is_loaded_and_its_section_applied) {
        ConfigLoadOptions o = { .load_modules = true };
        const char *root = getenv("MPMD_SOURCE_ROOT");
        char extra[2 * PATH_MAX + 16];
        Config *c = NULL;
        char *v;

        if (!have_cc())
                cr_skip_test("no C compiler (cc) to build a module at run time");
        if (!root)
                cr_skip_test("MPMD_SOURCE_ROOT is not set: mpm.h is needed to build a module");
        snprintf(extra, sizeof(extra), "-I%s/src", root);
        build_module("tiny",
                     "#include <stddef.h>\n"
                     "#include \"mpm/mpm.h\"\n"
                     "typedef struct { uint32_t workers; } Tiny;\n"
                     "static const ConfItem d[] = {\n"
                     "        { \"Workers\", CONF_UINT, offsetof(Tiny, workers), \"4\", 1, 64 },\n"
                     "        CONF_TABLE_END,\n"
                     "};\n"
                     "const MpmOps mpm_tiny_module = {\n"
                     "        .name = \"tiny\", .magic = MPM_MAGIC_NUMBER, .directives = d, .config_size = sizeof(Tiny),\n"
                     "};\n",
                     extra);
        write_file("@/mpmd.conf", "[Server]\nListen = x\nLoadModule = mpm_tiny_module @/tiny.so\n[tiny]\nWorkers = 9\n");
        cr_assert_eq(load("@/mpmd.conf", &o, &c), 0, "%s", joined(&errors));
        cr_assert_str_eq(c->mpm->name, "tiny");
        v = conf_item_format(conf_table_find(c->mpm->directives, "workers"), c->mpm_config);
        cr_assert_str_eq(v, "9");
        free(v);
        config_free(c);
}

Test(config, check_config_clamps_with_a_warning) {
        Config *c = NULL;
        const FakeConfig *fc;

        write_file("@/mpmd.conf", "[Server]\nListen = x\n[fake]\nServerLimit = 8\nMaxRequestWorkers = 20\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        fc = c->mpm_config;
        cr_assert_eq(fc->max_request_workers, 8);
        assert_messages(&warnings, 1, "[fake]: MaxRequestWorkers 20 is larger than ServerLimit 8, lowering it to 8");
        cr_assert_eq(c->mpm->process_limit(c->mpm_config), 8);
        config_free(c);
}

Test(config, check_config_is_skipped_after_errors_in_its_section) {
        Config *c = (Config *) 1;

        write_file("@/mpmd.conf", "[Server]\nListen = x\n[fake]\nServerLimit = 0\nMaxRequestWorkers = 20\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), -EINVAL);
        assert_messages(&errors, 1,
                        "@/mpmd.conf:4: [fake] ServerLimit: expected a number of processes from 1 to 1000, got \"0\"");
        assert_messages(&warnings, 0);
}
