/* SPDX-License-Identifier: MIT */
/* config-fixture.h — what the tests of config_load() share: a fake MPM (and its per-user twin),
 * a fresh folder per test with files written into it, and the loader's messages. "@" in file
 * contents and expected messages stands for that folder. Each test file declares
 *   TestSuite(config, .init = config_fixture_setup, .fini = config_fixture_teardown); */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "supervisor/config.h"

typedef struct FakeConfig {
        uint32_t server_limit;
        uint32_t max_request_workers;
        char **hooks;
        SiteLimits limits;
} FakeConfig;

#define FK(field) offsetof(FakeConfig, field)

extern const ConfItem fake_directives[];
extern const MpmOps fake_mpm;          /* a static build's MPM */
extern const MpmOps fake_per_user_mpm; /* the same with MPM_PER_USER, as perchild */

extern char dir[PATH_MAX];             /* the test's folder */
extern ConfErrors errors, warnings;    /* what the last load said; emptied by the fixture */

void config_fixture_setup(void);
void config_fixture_teardown(void);

/* s with every "@" replaced by the test's folder; freed by the fixture. */
const char *at(const char *s);
/* Write content (its "@" expanded) to the file name (expanded), making its folder; its path. */
const char *write_file(const char *name, const char *content);
/* config_load() of main_name with opts (NULL: the fake MPM built in, nothing else). */
int load(const char *main_name, const ConfigLoadOptions *opts, Config **ret);
/* mpmd -t's load: the file system and what a start would find, with mpm built in. */
int load_for_start(const char *main_name, const MpmOps *mpm, Config **ret);
/* The messages, one per line, for an assertion's text (a static buffer). */
char *joined(const ConfErrors *e);
/* The messages, exactly and in this order ("@" expanded). */
void assert_messages(const ConfErrors *e, size_t n, ...);
bool has_message(const ConfErrors *e, const char *msg);
