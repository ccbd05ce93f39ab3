/* SPDX-License-Identifier: MIT */
/* tls-custody.h — how a site's certificates and private keys travel without being parsed on the
 * way: its "material", the bytes of its SSLCertificateFile and SSLCertificateKeyFile pairs, in a
 * sealed memfd of its own, and the check of a configuration's certificates in a short-lived child.
 *
 * Under a per-user MPM (perchild) the supervisor forks every process; whatever it has in memory
 * when it forks, a site's pool, the dispatchers and the CGI launchers have too (copy-on-write). So
 * it never parses a key: tls_material_seal() opens the files with its rights (a key may be root's
 * only; "credential:NAME" is systemd's $CREDENTIALS_DIRECTORY/NAME) and copies them into a memfd
 * with sendfile(), file to file in the kernel: the key bytes never pass through its own memory.
 * The memfd is sealed (no write, no resize, no new seal) before anyone reads it, so every process
 * that gets it reads the same bytes, which were checked: tls_check_in_child() runs the check (the
 * certificate store built from these memfds, tls-store.h) in a forked child that sends its
 * errors and warnings back through a pipe and exits, taking the parsed keys with it.
 *
 * Format of a material memfd: a fixed header (magic "MPMDTLS2", the number of pairs, whether a CA
 * bundle follows, then the length of each certificate chain and key, in pair order, and of the
 * bundle, as uint64 in host order: the memfd never leaves the machine), then the files' bytes in
 * that order. The bundle (SSLCACertificateFile, for client certificates) is no secret, but a pool
 * sandboxed as its site's user may not be able to open it: it comes the same way. Names:
 * "mpmd-tls:SITE", which is how `mpmctl audit` recognises one among a process's descriptors
 * (/proc/PID/fd shows "/memfd:mpmd-tls:SITE (deleted)"). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "http/tls-config.h"
#include "mpm/tls-store.h"
#include "shared/conf-table.h"

#define TLS_MATERIAL_NAME_PREFIX "mpmd-tls:"
#define TLS_MATERIAL_FILE_MAX (1024 * 1024) /* a chain or a key larger than this is not one */

/* The resolved path of an SSLCertificateKeyFile: the value, or $CREDENTIALS_DIRECTORY/NAME for
 * "credential:NAME" (an error added when systemd gave no credentials). 0, -EINVAL, -ENOMEM. */
int tls_key_path(const ConfLine *key, const char *section, char **ret, ConfErrors *errors);

/* Seal site's pairs into a new memfd (close-on-exec), opened with this process's rights. Errors
 * "FILE:LINE: [Section] SSLCertificateFile: PATH: why" for each file that cannot be read; such a
 * file is marked missing in the memfd, which is still made (*ret_fd), so that the others can be
 * checked. Returns 0, -EINVAL (errors added; *ret_fd -1 when there is no memfd at all) or -errno. */
int tls_material_seal(const TlsStoreSite *site, int *ret_fd, ConfErrors *errors);

typedef struct TlsMaterialPair {
        const void *cert, *key; /* NULL: the file could not be read when it was sealed */
        size_t cert_len, key_len;
} TlsMaterialPair;

/* A material memfd mapped read-only (its bytes are not copied): pairs point into it. */
typedef struct TlsMaterial {
        void *map;
        size_t size;
        TlsMaterialPair pairs[HTTP_TLS_CERTS_MAX];
        size_t n_pairs;
        bool has_ca;    /* SSLCACertificateFile was given */
        const void *ca; /* its bytes; NULL: none, or it could not be read when it was sealed */
        size_t ca_len;
} TlsMaterial;

/* Map fd; -EBADMSG when it is not a sealed material memfd as tls_material_seal() makes them. */
int tls_material_map(int fd, TlsMaterial *ret);
void tls_material_unmap(TlsMaterial *m);

/* Run check in a forked child and add its errors and warnings here, as if it had run in this
 * process; nothing the child allocated comes back. Returns check's result (0, -EINVAL, -ENOMEM),
 * or -EINVAL with an error added when the child ended otherwise (a signal, a crash). */
int tls_check_in_child(int (*check)(void *userdata, ConfErrors *errors, ConfErrors *warnings), void *userdata,
                       ConfErrors *errors, ConfErrors *warnings);

/* One file as a sealed memfd of its bytes alone (no header): an SSLProxyMachineCertificateFile,
 * the certificate, chain and key of a client certificate to upstreams (tls-upstream.h), which a
 * per-user MPM's pools get as they get a site's material. Named name (TLS_PROXY_MATERIAL_NAME_PREFIX
 * and the path, which is how `mpmctl audit` recognises one), copied with sendfile() and sealed as
 * tls_material_seal() does. 0 with *ret_fd, -EBADF (not a regular file), -EFBIG (larger than
 * TLS_MATERIAL_FILE_MAX), -EIO (the file changed while it was copied), or open()'s -errno. */
#define TLS_PROXY_MATERIAL_NAME_PREFIX "mpmd-tls-proxy:"
int tls_material_seal_file(const char *path, const char *name, int *ret_fd);

/* Map such a memfd read-only: 0 with *ret_map (NULL for an empty file) and *ret_size; -EBADMSG
 * when it is not sealed as tls_material_seal_file() seals, or -errno. */
int tls_material_map_file(int fd, void **ret_map, size_t *ret_size);
