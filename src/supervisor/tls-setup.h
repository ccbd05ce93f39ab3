/* SPDX-License-Identifier: MIT */
/* tls-setup.h — HTTPS for the loader (config.h, ConfigTls): the certificate store of a loaded
 * configuration (src/mpm/tls-store.h) built from its sites, [Server] first, then the virtual hosts
 * in file order. In a build without TLS it has none, and the loader refuses HTTPS. */
#pragma once

#include "supervisor/config.h"

extern const ConfigTls supervisor_tls;

/* "OpenSSL 3.0.19 27 Jan 2026", or NULL when mpmd was built without TLS. */
const char *supervisor_tls_version(void);
