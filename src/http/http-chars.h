/* SPDX-License-Identifier: MIT */
/* http-chars.h — the byte classes of RFC 9110/9112 the parsers share (parser.c, chunked.c): token
 * characters, whitespace, field-value bytes. ASCII only, never the locale. */
#pragma once

#include <stdbool.h>

static const bool tchar_table[256] = {
        ['0' ... '9'] = true, ['A' ... 'Z'] = true, ['a' ... 'z'] = true,
        ['!'] = true, ['#'] = true, ['$'] = true, ['%'] = true, ['&'] = true, ['\''] = true,
        ['*'] = true, ['+'] = true, ['-'] = true, ['.'] = true, ['^'] = true, ['_'] = true,
        ['`'] = true, ['|'] = true, ['~'] = true,
};

static inline bool char_is_tchar(unsigned char c) {
        return tchar_table[c];
}

static inline bool char_is_ws(unsigned char c) {
        return c == ' ' || c == '\t';
}

/* field-vchar and obs-text: a field value byte other than SP and HTAB. */
static inline bool char_is_field_vchar(unsigned char c) {
        return c > 0x20 && c != 0x7f;
}
