/* SPDX-License-Identifier: MIT */
/* cgi.h — the Common Gateway Interface (RFC 3875) without any I/O: which ScriptAlias a request path
 * falls under, the environment a CGI program gets, and the parser for the head of its output.
 *
 * Contract: nothing here allocates state that outlives a call, does I/O, logs or keeps globals.
 * The environment holds only what RFC 3875 and Apache httpd's mod_cgi define, built from the request
 * alone: nothing of the server's own environment reaches a program. The output parser is incremental
 * in the style of parser.h (the caller keeps the head in one buffer and feeds it whole each time;
 * results are spans into it) and never scans a byte twice. Errors follow Apache's wording so that an
 * operator recognises them: "malformed header from script", "Premature end of script headers". */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/parser.h"
#include "http/request.h"
#include "http/site-config.h"

/* ---- ScriptAlias -------------------------------------------------------------------------- */

/* The list itself is parsed and checked by its row (site-config.h: http_script_alias_add()). */

typedef struct CgiAliasMatch {
        const char *url;       /* the ScriptAlias URL path, e.g. "/cgi-bin/" (points into cfg) */
        size_t url_len;
        const char *directory; /* its directory, e.g. "/srv/cgi-bin/" (points into cfg) */
        const char *rest;      /* what follows the URL path in the request path (points into path) */
        size_t rest_len;
        size_t index;          /* which of cfg->script_alias.items: HttpSite.script_alias_fds[index] */
} CgiAliasMatch;

/* Does the normalized request path (http_path_normalize()) fall under one of the site's ScriptAlias
 * URL paths? The longest match wins (Apache takes the first in file order; with nested aliases the
 * longest is the only useful reading). Returns true and fills *ret. */
bool cgi_script_alias_match(const HttpSiteConfig *cfg, const char *path, size_t path_len, CgiAliasMatch *ret);

/* ---- AddHandler cgi-script ---------------------------------------------------------------- */

/* The extensions were parsed and checked by their row (site-config.h: http_cgi_handlers_add()). */

/* Could the normalized path name a file with one of the site's CGI extensions, as its last component
 * or followed by more path (PATH_INFO)? No system call: the cheap test before a look on disk. */
bool cgi_handler_may_match(const HttpSiteConfig *cfg, const char *path, size_t path_len);

/* Does name[0..len) (a script found on disk) end in one of the site's CGI extensions? Extensions
 * compare without regard to case, as Apache's. */
bool cgi_handler_match(const HttpSiteConfig *cfg, const char *name, size_t len);

/* ---- the environment ---------------------------------------------------------------------- */

/* Large enough for any request the default limits admit with room to spare; a bigger one gets 500. */
#define CGI_ENV_MAX (96 * 1024)

typedef struct CgiEnvParams {
        const HttpRequest *request;  /* head, buf, and site->cfg (DocumentRoot, ServerName) */
        const char *server_software; /* SERVER_SOFTWARE, e.g. "mpmd" (what the Server header says) */
        const char *scheme;          /* REQUEST_SCHEME: "http" */
        const char *remote_addr;     /* the peer, as text */
        uint16_t remote_port;
        const char *server_addr;     /* the local address the connection came in on, as text */
        uint16_t server_port;        /* its port */
        const char *script_name;     /* the URL path naming the script, decoded: "/cgi-bin/env.sh" */
        size_t script_name_len;
        const char *script_filename; /* the script's absolute file name: "/srv/cgi-bin/env.sh" */
        const char *path_info;       /* the decoded rest of the path after the script: "" or "/a/b" */
        size_t path_info_len;
        bool has_body;               /* the program reads a request body on stdin */
        uint64_t content_length;     /* with has_body: its exact length (a chunked body is spooled first) */
} CgiEnvParams;

/* Write the environment as consecutive NUL-terminated "NAME=value" strings into buf[0..size) (the
 * form cgi_launch() carries and execve() wants once split). Variables, in this order:
 * GATEWAY_INTERFACE=CGI/1.1, SERVER_SOFTWARE, SERVER_NAME and SERVER_PORT (the Host header's name and
 * port, else ServerName and the local port: Apache's UseCanonicalName Off), SERVER_ADDR,
 * SERVER_PROTOCOL, REQUEST_METHOD, REQUEST_URI (the request-target as sent), REQUEST_SCHEME ("https"
 * over TLS, whatever scheme says), over TLS mod_ssl's HTTPS=on, SSL_PROTOCOL, SSL_CIPHER and
 * SSL_TLS_SNI (when the client sent a name; http_request_tls_info()), SSL_CLIENT_VERIFY (NONE,
 * SUCCESS or FAILED:reason) and, when the client presented a certificate, SSL_CLIENT_S_DN,
 * SSL_CLIENT_I_DN, SSL_CLIENT_M_SERIAL and SSL_CLIENT_V_END (mod_ssl's names and forms), QUERY_STRING
 * (always, maybe empty), SCRIPT_NAME, SCRIPT_FILENAME, PATH_INFO and PATH_TRANSLATED
 * (DocumentRoot + PATH_INFO; both only when PATH_INFO is not empty), DOCUMENT_ROOT, REMOTE_ADDR,
 * REMOTE_PORT, CONTENT_LENGTH and CONTENT_TYPE (with a body; CONTENT_TYPE when the header is there),
 * then HTTP_<NAME> for each request header field (upper-cased, '-' → '_'; repeated fields joined with
 * ", "), except: Proxy (httpoxy, CVE-2016-5385), Content-Length and Content-Type (they have their own
 * variables), Authorization and Proxy-Authorization (Apache without CGIPassAuth), and names with any
 * character but letters, digits and '-' (so "X_Foo" cannot pose as "X-Foo", as Apache 2.4), and
 * finally PATH=/usr/local/bin:/usr/bin:/bin. Values are copied byte for byte: the parser already
 * admitted them as field values. Returns 0 and sets *ret_len (bytes, every NUL included) and
 * *ret_count (strings), or -ENOBUFS when size is too small. */
int cgi_env_build(const CgiEnvParams *p, char *buf, size_t size, size_t *ret_len, size_t *ret_count);

/* ---- the program's output head ------------------------------------------------------------ */

#define CGI_HEAD_MAX (16 * 1024)    /* head, blank line included; more is an error (Apache: 8 KB lines) */
#define CGI_HEAD_FIELDS_MAX 100     /* fields passed through to the client */

typedef struct CgiHead {
        int status;     /* from Status:, 200–599; 0 when absent */
        HttpSpan reason; /* from Status:, after the code; len 0 when absent */
        bool has_content_type;
        HttpSpan content_type;
        bool has_location;
        bool location_local; /* starts with '/': a path on this server, otherwise an absolute URL */
        HttpSpan location;
        bool has_content_length;
        uint64_t content_length;
        HttpHeader fields[CGI_HEAD_FIELDS_MAX]; /* every other field, in order, to be passed on */
        uint32_t n_fields;
        uint32_t head_len; /* bytes of the head, the blank line included */
} CgiHead;

typedef struct CgiHeadParser {
        CgiHead *head;
        const char *error; /* static: why the head was refused */

        /* private */
        uint32_t pos;        /* next byte to look at */
        uint32_t line_start; /* first byte of the current line */
        int32_t result;      /* once done or refused, every later feed returns it again */
} CgiHeadParser;

void cgi_head_parser_init(CgiHeadParser *p, CgiHead *head);

/* Parse buf[0..len), the program's output from its first byte; call again with the whole buffer
 * when more arrived. Lines end in LF or CRLF. Returns 1 when the blank line ending the head was
 * found (head->head_len bytes belong to it, the rest is body), 0 when more is needed, or:
 *   -EBADMSG  a malformed line (no colon, a bad name or value, a continuation line, a bare CR), a
 *             bad Status (not 200–599 as three digits, optionally followed by a space and a reason),
 *             Content-Length (digits only) or Location (an absolute URL or a path starting with
 *             '/'), one of Status, Content-Type, Location or Content-Length given twice, too many
 *             fields, or a head with none of Content-Type, Location and Status;
 *   -E2BIG    no blank line within CGI_HEAD_MAX bytes.
 * Connection, Keep-Alive, Transfer-Encoding, Date, Server and Upgrade are dropped: the server
 * frames and dates the response itself. */
int cgi_head_parser_feed(CgiHeadParser *p, const char *buf, size_t len);

/* The program's output ended: 0 when the head was complete, else -ENODATA ("Premature end of script
 * headers") or the error feed() returned. */
int cgi_head_parser_eof(CgiHeadParser *p);
