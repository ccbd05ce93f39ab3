/* SPDX-License-Identifier: MIT */
/* mime.h — the extension → media type table behind Content-Type (TypesConfig and AddType).
 *
 * Contract: a MimeTable maps file extensions, compared case-insensitively (ASCII) and stored without
 * their leading '.', to media types, stored as given: no charset is added here, the caller decides.
 * A later entry for an extension replaces an earlier one, both within a file and across calls, as in
 * Apache's mod_mime. Lookups are a hash probe, so the ~2000 extensions of /etc/mime.types cost the
 * same as ten. The table is built once and then only read; it does no locking. */
#pragma once

typedef struct MimeTable MimeTable;

int mime_table_new(MimeTable **ret);
MimeTable *mime_table_free(MimeTable *t); /* accepts NULL; returns NULL */

/* Read a file in the /etc/mime.types format: "type ext ext …" per line, '#' starts a comment,
 * blank lines and lines with a type but no extension are ignored, as are entries add() refuses.
 * Returns the number of extensions added (≥ 0), -ENOENT when the file is missing (the caller
 * decides whether that matters), or another -errno. */
int mime_table_load(MimeTable *t, const char *path);

/* AddType: map ext (with or without one leading '.') to type, replacing any earlier mapping.
 * -EINVAL if type has no '/' or holds control bytes (it ends up in a header), or ext is empty or
 * holds '/', whitespace or control bytes. */
int mime_table_add(MimeTable *t, const char *type, const char *ext);

/* The type for ext (with or without one leading '.'), case-insensitive; NULL when unknown. */
const char *mime_table_lookup(const MimeTable *t, const char *ext);
