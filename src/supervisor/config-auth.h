/* SPDX-License-Identifier: MIT */
/* config-auth.h — the configuration check of the AuthUserFile files (http/htpasswd.h): at `mpmd -t`,
 * at start and at each reload, every file that is not a perchild site's own is parsed, each error
 * at the password file's line, each file once however many sections name it. A perchild site's own
 * file is not looked at with our rights: it is read as the site when the generation is built
 * (auth-files.h). Part of the loader, so that the configuration fuzzer links it alone. */
#pragma once

#include "supervisor/config-loader.h"

void auth_files_check(Loader *l);
