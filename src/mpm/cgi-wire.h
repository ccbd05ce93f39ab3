/* SPDX-License-Identifier: MIT */
/* cgi-wire.h — the CGI launcher's wire format, shared by its two sides and nothing else: the
 * client a worker calls (cgi-launch-client.c) and the launcher process (cgi-launcher.c). One
 * SOCK_SEQPACKET message per launch: a CgiWireRequest, then argv, the environment, the site's
 * name and the client's address as NUL-terminated strings, with the fds below attached
 * (SCM_RIGHTS); the answer, on the reply socket that came with it, is one CgiWireReply. */
#pragma once

#include <stdint.h>

#include "http/cgi.h"

#define CGI_WIRE_MAGIC UINT32_C(0x6367696c) /* "cgil" */
#define CGI_WIRE_FDS 6                      /* script, dir, stdin, stdout, reply, [the site's error log] */
#define CGI_WIRE_ARGV_MAX (8 * 1024)
#define CGI_WIRE_NAME_MAX 256                /* the site's name and the client's address, each */
/* What one SOCK_SEQPACKET message may carry; well under the default socket buffer (208 KiB). */
#define CGI_WIRE_MESSAGE_MAX (sizeof(CgiWireRequest) + CGI_ENV_MAX + CGI_WIRE_ARGV_MAX + 2 * CGI_WIRE_NAME_MAX)
#define CGI_WIRE_ERROR_LOG 1u                /* flags: the site's own ErrorLog is attached */

enum { FD_SCRIPT, FD_DIR, FD_STDIN, FD_STDOUT, FD_REPLY, FD_ERROR_LOG };

typedef struct CgiWireRequest {
        uint32_t magic;
        uint32_t argc;
        uint32_t envc;
        uint32_t strings_len; /* argv, env, the site's name and the client's, each NUL-terminated */
        uint64_t timeout_usec;
        uint32_t flags;       /* CGI_WIRE_ERROR_LOG */
        uint32_t reserved;
} CgiWireRequest;

typedef struct CgiWireReply {
        int32_t error; /* 0 or -errno */
        int32_t pid;
} CgiWireReply;
