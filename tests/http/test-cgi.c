/* SPDX-License-Identifier: MIT */
/* Tests of the CGI pieces without I/O: the ScriptAlias check and match, the environment a program
 * gets (every variable from a real parsed request, httpoxy and the other fields kept out, nothing
 * from our own environment), and the program's output head fed whole, split at every byte, and each
 * way it can be refused. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/cgi.h"
#include "shared/macro.h"
#include "http/parser.h"
#include "shared/strv.h"

static const HttpParserLimits limits = { .request_line = 8190, .field_size = 8190, .fields = 100 };

typedef struct Fixture {
        HttpRequestHead head;
        HttpHeader headers[100];
        HttpSiteConfig cfg;
        HttpSite site;
        HttpRequest q;
        char env[CGI_ENV_MAX];
        size_t env_len, env_count;
} Fixture;

static void fixture_parse(Fixture *f, const char *req) {
        HttpParser p;

        *f = (Fixture) {};
        http_parser_init(&p, &f->head, f->headers, &limits);
        cr_assert_eq(http_parser_feed(&p, req, strlen(req)), HTTP_PARSE_DONE, "request: %s", req);
        f->cfg.document_root = (char *) "/srv/www/";
        f->cfg.server_name = (char *) "canonical.example";
        f->site.cfg = &f->cfg;
        f->q = (HttpRequest) { .head = &f->head, .buf = req, .site = &f->site };
}

static CgiEnvParams params_for(Fixture *f) {
        return (CgiEnvParams) {
                .request = &f->q,
                .server_software = "mpmd",
                .scheme = "http",
                .remote_addr = "192.0.2.7",
                .remote_port = 50123,
                .server_addr = "198.51.100.1",
                .server_port = 8080,
                .script_name = "/cgi-bin/env.sh",
                .script_name_len = strlen("/cgi-bin/env.sh"),
                .script_filename = "/srv/cgi/env.sh",
                .path_info = "",
        };
}

static void fixture_env(Fixture *f, const CgiEnvParams *p) {
        cr_assert_eq(cgi_env_build(p, f->env, sizeof(f->env), &f->env_len, &f->env_count), 0);
}

/* The value of NAME in the block, or NULL. Also checks the block's shape: count strings, each with
 * a '=', no name twice. */
static const char *env_get(const Fixture *f, const char *name) {
        const char *found = NULL;
        size_t n = 0, len = strlen(name);

        for (const char *s = f->env; s < f->env + f->env_len; s += strlen(s) + 1, n++) {
                cr_assert_not_null(strchr(s, '='), "no '=' in \"%s\"", s);
                if (strncmp(s, name, len) == 0 && s[len] == '=') {
                        cr_assert_null(found, "%s given twice", name);
                        found = s + len + 1;
                }
        }
        cr_assert_eq(n, f->env_count);
        return found;
}

static void assert_env(const Fixture *f, const char *name, const char *value) {
        const char *v = env_get(f, name);

        cr_assert_not_null(v, "%s missing", name);
        cr_assert_str_eq(v, value, "%s", name);
}

Test(cgi_env, every_variable_of_a_post) {
        static const char req[] = "POST /cgi-bin/env.sh/a%20b/c?x=1&y=%41 HTTP/1.1\r\n"
                                  "Host: www.example.org:8443\r\n"
                                  "User-Agent: test/1.0\r\n"
                                  "Content-Type: application/x-www-form-urlencoded\r\n"
                                  "Content-Length: 11\r\n"
                                  "X-Forwarded-For: 203.0.113.9\r\n"
                                  "Accept: text/html\r\n"
                                  "accept: text/plain\r\n"
                                  "\r\n";
        Fixture f;

        fixture_parse(&f, req);
        CgiEnvParams p = params_for(&f);
        p.path_info = "/a b/c";
        p.path_info_len = strlen(p.path_info);
        p.has_body = true;
        p.content_length = 11;
        fixture_env(&f, &p);

        static const char *const expect[][2] = {
                { "GATEWAY_INTERFACE", "CGI/1.1" },
                { "SERVER_SOFTWARE", "mpmd" },
                { "SERVER_NAME", "www.example.org" },
                { "SERVER_PORT", "8443" },
                { "SERVER_ADDR", "198.51.100.1" },
                { "SERVER_PROTOCOL", "HTTP/1.1" },
                { "REQUEST_METHOD", "POST" },
                { "REQUEST_URI", "/cgi-bin/env.sh/a%20b/c?x=1&y=%41" },
                { "REQUEST_SCHEME", "http" },
                { "QUERY_STRING", "x=1&y=%41" },
                { "SCRIPT_NAME", "/cgi-bin/env.sh" },
                { "SCRIPT_FILENAME", "/srv/cgi/env.sh" },
                { "PATH_INFO", "/a b/c" },
                { "PATH_TRANSLATED", "/srv/www/a b/c" },
                { "DOCUMENT_ROOT", "/srv/www/" },
                { "REMOTE_ADDR", "192.0.2.7" },
                { "REMOTE_PORT", "50123" },
                { "CONTENT_LENGTH", "11" },
                { "CONTENT_TYPE", "application/x-www-form-urlencoded" },
                { "HTTP_HOST", "www.example.org:8443" },
                { "HTTP_USER_AGENT", "test/1.0" },
                { "HTTP_X_FORWARDED_FOR", "203.0.113.9" },
                { "HTTP_ACCEPT", "text/html, text/plain" },
                { "PATH", "/usr/local/bin:/usr/bin:/bin" },
        };
        for (size_t i = 0; i < ELEMENTSOF(expect); i++)
                assert_env(&f, expect[i][0], expect[i][1]);
        /* Exactly these: nothing else, no HTTP_CONTENT_LENGTH or HTTP_CONTENT_TYPE. */
        cr_assert_eq(f.env_count, ELEMENTSOF(expect));
        /* GATEWAY_INTERFACE first, PATH last: the documented order. */
        cr_assert_str_eq(f.env, "GATEWAY_INTERFACE=CGI/1.1");
}

Test(cgi_env, get_without_body_or_path_info) {
        static const char req[] = "GET /cgi-bin/env.sh HTTP/1.0\r\nContent-Type: text/plain\r\n\r\n";
        Fixture f;

        fixture_parse(&f, req);
        CgiEnvParams p = params_for(&f);
        fixture_env(&f, &p);
        assert_env(&f, "QUERY_STRING", ""); /* always there, even empty */
        assert_env(&f, "SERVER_PROTOCOL", "HTTP/1.0");
        /* No Host: the canonical name and the local port. */
        assert_env(&f, "SERVER_NAME", "canonical.example");
        assert_env(&f, "SERVER_PORT", "8080");
        assert_env(&f, "REQUEST_METHOD", "GET");
        cr_assert_null(env_get(&f, "PATH_INFO"));
        cr_assert_null(env_get(&f, "PATH_TRANSLATED"));
        cr_assert_null(env_get(&f, "CONTENT_LENGTH"));
        cr_assert_null(env_get(&f, "CONTENT_TYPE"));
        cr_assert_null(env_get(&f, "HTTP_CONTENT_TYPE"));
}

Test(cgi_env, ipv6_host_and_no_port) {
        Fixture f;

        fixture_parse(&f, "GET /x HTTP/1.1\r\nHost: [2001:db8::1]:81\r\n\r\n");
        CgiEnvParams p = params_for(&f);
        fixture_env(&f, &p);
        assert_env(&f, "SERVER_NAME", "[2001:db8::1]");
        assert_env(&f, "SERVER_PORT", "81");

        fixture_parse(&f, "GET /x HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n");
        p = params_for(&f);
        fixture_env(&f, &p);
        assert_env(&f, "SERVER_NAME", "[2001:db8::1]");
        assert_env(&f, "SERVER_PORT", "8080");
}

Test(cgi_env, httpoxy_auth_and_spoofable_names_are_dropped) {
        static const char req[] = "GET /cgi-bin/x HTTP/1.1\r\n"
                                  "Host: a\r\n"
                                  "Proxy: http://evil.example:3128/\r\n"
                                  "Authorization: Basic dXNlcjpwdw==\r\n"
                                  "Proxy-Authorization: Basic eDp5\r\n"
                                  "X_Forwarded_For: 10.0.0.1\r\n"
                                  "X.Dot: 1\r\n"
                                  "Content-Length: 0\r\n"
                                  "X-Odd: a;b|c$(d)`e'\"f\\g\r\n"
                                  "\r\n";
        Fixture f;

        fixture_parse(&f, req);
        CgiEnvParams p = params_for(&f);
        p.has_body = true;
        p.content_length = 0;
        fixture_env(&f, &p);
        cr_assert_null(env_get(&f, "HTTP_PROXY"));
        cr_assert_null(env_get(&f, "HTTP_AUTHORIZATION"));
        cr_assert_null(env_get(&f, "HTTP_PROXY_AUTHORIZATION"));
        cr_assert_null(env_get(&f, "HTTP_X_FORWARDED_FOR"));
        cr_assert_null(env_get(&f, "HTTP_X.DOT"));
        cr_assert_null(env_get(&f, "HTTP_X_DOT"));
        cr_assert_null(env_get(&f, "HTTP_CONTENT_LENGTH"));
        assert_env(&f, "CONTENT_LENGTH", "0");
        /* Shell metacharacters pass as they are: quoting is the program's business. */
        assert_env(&f, "HTTP_X_ODD", "a;b|c$(d)`e'\"f\\g");
        assert_env(&f, "HTTP_HOST", "a");
}

Test(cgi_env, remote_user_and_auth_type_only_when_authenticated) {
        static const char req[] = "GET /cgi-bin/x HTTP/1.1\r\nHost: a\r\nAuthorization: Basic Ym9iOmh1bnRlcjI=\r\n\r\n";
        Fixture f;

        fixture_parse(&f, req);
        CgiEnvParams p = params_for(&f);
        fixture_env(&f, &p);
        cr_assert_null(env_get(&f, "REMOTE_USER"), "no Require asked for a user");
        cr_assert_null(env_get(&f, "AUTH_TYPE"));
        snprintf(f.q.user, sizeof(f.q.user), "bob");
        fixture_env(&f, &p);
        assert_env(&f, "REMOTE_USER", "bob");
        assert_env(&f, "AUTH_TYPE", "Basic");
        cr_assert_null(env_get(&f, "HTTP_AUTHORIZATION"), "the password stays with the server");
}

Test(cgi_env, credentials_only_with_cgipassauth) {
        static const char req[] = "GET /api/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer t0ken\r\n"
                                  "Proxy-Authorization: Basic eDp5\r\n\r\n";
        HttpSiteConfig path = {};
        Fixture f;

        fixture_parse(&f, req);
        CgiEnvParams p = params_for(&f);
        fixture_env(&f, &p);
        cr_assert_null(env_get(&f, "HTTP_AUTHORIZATION"));
        f.cfg.cgi_pass_auth = true; /* the site's */
        fixture_env(&f, &p);
        assert_env(&f, "HTTP_AUTHORIZATION", "Bearer t0ken");
        assert_env(&f, "HTTP_PROXY_AUTHORIZATION", "Basic eDp5");
        /* a path section's setting is the one for its paths */
        f.q.cfg = &path;
        fixture_env(&f, &p);
        cr_assert_null(env_get(&f, "HTTP_AUTHORIZATION"), "the path section says Off");
        path.cgi_pass_auth = true;
        f.cfg.cgi_pass_auth = false;
        fixture_env(&f, &p);
        assert_env(&f, "HTTP_AUTHORIZATION", "Bearer t0ken");
}

Test(cgi_env, nothing_from_our_environment) {
        Fixture f;

        setenv("MPMD_SECRET_FOR_TEST", "leak", 1);
        setenv("LD_PRELOAD", "/tmp/evil.so", 1);
        fixture_parse(&f, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        CgiEnvParams p = params_for(&f);
        fixture_env(&f, &p);
        cr_assert_null(env_get(&f, "MPMD_SECRET_FOR_TEST"));
        cr_assert_null(env_get(&f, "LD_PRELOAD"));
        cr_assert_null(memmem(f.env, f.env_len, "leak", 4));
        assert_env(&f, "PATH", "/usr/local/bin:/usr/bin:/bin");
}

Test(cgi_env, too_small_a_buffer) {
        Fixture f;
        char small[200];
        size_t len = 0, count = 0;

        fixture_parse(&f, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        CgiEnvParams p = params_for(&f);
        cr_assert_eq(cgi_env_build(&p, small, sizeof(small), &len, &count), -ENOBUFS);
        /* And the exact size it needs is enough. */
        fixture_env(&f, &p);
        cr_assert_eq(cgi_env_build(&p, small, 0, &len, &count), -ENOBUFS);
        char *exact = malloc(f.env_len);
        cr_assert_eq(cgi_env_build(&p, exact, f.env_len, &len, &count), 0);
        cr_assert_eq(len, f.env_len);
        cr_assert_eq(memcmp(exact, f.env, len), 0);
        free(exact);
}

/* ---- ScriptAlias ---------------------------------------------------------------------------- */

Test(cgi_alias, check) {
        static const struct {
                const char *value;
                const char *error; /* substring; NULL: valid */
        } cases[] = {
                { "/cgi-bin/ /srv/cgi/", NULL },
                { "/cgi-bin/ /srv/cgi/ /tools/ /srv/tools", NULL },
                { "/cgi-bin/", "has no directory" },
                { "/cgi-bin /srv/cgi/", "starting and ending with '/'" },
                { "cgi-bin/ /srv/cgi/", "starting and ending with '/'" },
                { "/cgi-bin/ srv/cgi/", "not an absolute directory" },
                { "/a/ /x /a/ /y", "given twice" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                HttpScriptAliases l = {};
                char *why = NULL;
                int r = http_script_alias_add(&l, cases[i].value, true, "/etc/mpmd.conf", 7, &why);

                if (!cases[i].error) {
                        cr_assert_eq(r, 0, "%s: %s", cases[i].value, why);
                        cr_assert_null(why);
                        cr_assert_gt(l.n, 0);
                } else {
                        cr_assert_eq(r, -EINVAL, "%s", cases[i].value);
                        cr_assert_not_null(strstr(why, cases[i].error), "%s: %s", cases[i].value, why);
                        cr_assert_eq(l.n, 0, "a refused line adds nothing");
                }
                free(why);
                http_script_aliases_done(&l);
        }
}

/* The pairs, their lengths and where each was written; a later line adds, a replacing one starts
 * over; a URL path given again is refused with where it was given first. */
Test(cgi_alias, parse_into_pairs) {
        HttpScriptAliases l = {};
        char *why = NULL;

        cr_assert_eq(http_script_alias_add(&l, "/cgi-bin/ /srv/cgi/  /tools/\t/srv/tools", true, "/etc/a.conf", 3, &why),
                     0);
        cr_assert_eq(http_script_alias_add(&l, "/x/ /srv/x", false, "/etc/conf.d/b.conf", 9, &why), 0);
        cr_assert_eq(l.n, 3);
        cr_assert_str_eq(l.items[0].url, "/cgi-bin/");
        cr_assert_eq(l.items[0].url_len, 9);
        cr_assert_str_eq(l.items[0].directory, "/srv/cgi/");
        cr_assert_str_eq(l.items[1].url, "/tools/");
        cr_assert_str_eq(l.items[1].directory, "/srv/tools");
        cr_assert_str_eq(l.items[1].source.file, "/etc/a.conf");
        cr_assert_eq(l.items[1].source.line, 3);
        cr_assert_str_eq(l.items[2].source.file, "/etc/conf.d/b.conf");
        cr_assert_eq(l.items[2].source.line, 9);

        cr_assert_eq(http_script_alias_add(&l, "/y/ /srv/y /tools/ /srv/other", false, "/etc/c.conf", 2, &why),
                     -EINVAL);
        cr_assert_str_eq(why, "/tools/ is given twice (first at /etc/a.conf:3)");
        free(why);
        cr_assert_eq(l.n, 3, "the refused line left the list as it was");

        cr_assert_eq(http_script_alias_add(&l, "/tools/ /srv/new", true, "/etc/c.conf", 4, &why), 0);
        cr_assert_eq(l.n, 1);
        cr_assert_str_eq(l.items[0].directory, "/srv/new");
        cr_assert_eq(http_script_alias_add(&l, "  ", true, "/etc/c.conf", 5, &why), 0);
        cr_assert_eq(l.n, 0, "an empty value empties the list");
        http_script_aliases_done(&l);
        http_script_aliases_done(NULL);
}

Test(cgi_handler, check) {
        static const struct {
                const char *value;
                const char *error; /* substring; NULL: valid */
        } cases[] = {
                { "cgi-script .cgi", NULL },
                { "cgi-script .cgi .pl cgi-script .py", NULL },
                { ".cgi", "comes before a handler name" },
                { "php-script .php", "unknown handler" },
                { "cgi-script", "needs at least one extension" },
                { "cgi-script cgi-script .cgi", "needs at least one extension" },
                { "cgi-script cgi", "unknown handler" },
                { "cgi-script .", "not a file extension" },
                { "cgi-script .tar.gz", "not a file extension" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                HttpCgiHandlers h = {};
                char *why = NULL;
                int r = http_cgi_handlers_add(&h, cases[i].value, true, &why);

                if (!cases[i].error)
                        cr_assert_eq(r, 0, "%s: %s", cases[i].value, why);
                else {
                        cr_assert_eq(r, -EINVAL, "%s", cases[i].value);
                        cr_assert_not_null(strstr(why, cases[i].error), "%s: %s", cases[i].value, why);
                        cr_assert_null(h.extensions);
                }
                free(why);
                http_cgi_handlers_done(&h);
        }
}

/* Only the extensions are kept; lines add to each other unless one replaces. */
Test(cgi_handler, parse_into_extensions) {
        HttpCgiHandlers h = {};
        char *why = NULL;

        cr_assert_eq(http_cgi_handlers_add(&h, "cgi-script .cgi .pl cgi-script .py", true, &why), 0);
        cr_assert_eq(http_cgi_handlers_add(&h, "cgi-script .sh", false, &why), 0);
        cr_assert_eq(strv_length(h.extensions), 4);
        cr_assert_str_eq(h.extensions[0], ".cgi");
        cr_assert_str_eq(h.extensions[2], ".py");
        cr_assert_str_eq(h.extensions[3], ".sh");
        cr_assert_eq(http_cgi_handlers_add(&h, "cgi-script .x", true, &why), 0);
        cr_assert_eq(strv_length(h.extensions), 1);
        cr_assert_eq(http_cgi_handlers_add(&h, "", true, &why), 0);
        cr_assert_null(h.extensions);
        http_cgi_handlers_done(&h);
}

Test(cgi_handler, match) {
        HttpSiteConfig cfg = {};
        char *why = NULL;

        cr_assert_eq(http_cgi_handlers_add(&cfg.add_handler, "cgi-script .cgi .pl", true, &why), 0);
        static const struct {
                const char *path;
                bool may;
        } cases[] = {
                { "/run.cgi", true },
                { "/dir/RUN.CGI", true },       /* extensions compare without case */
                { "/run.cgi/more/path", true }, /* PATH_INFO after the script */
                { "/a.pl", true },
                { "/run.cgi.txt", false },
                { "/runcgi", false },
                { "/dir.cgix/x", false },
                { "/", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                cr_assert_eq(cgi_handler_may_match(&cfg, cases[i].path, strlen(cases[i].path)), cases[i].may, "%s",
                             cases[i].path);
        cr_assert(cgi_handler_match(&cfg, "dir/run.cgi", 11));
        cr_assert(!cgi_handler_match(&cfg, "dir/run.sh", 10));
        http_cgi_handlers_done(&cfg.add_handler);
}

Test(cgi_alias, match_longest_prefix) {
        HttpSiteConfig cfg = {};
        CgiAliasMatch m;
        const char *path = "/cgi-bin/admin/run.sh/x";
        char *why = NULL;

        cr_assert_eq(http_script_alias_add(&cfg.script_alias, "/cgi-bin/ /srv/cgi/ /cgi-bin/admin/ /srv/admin/", true,
                                           NULL, 0, &why),
                     0);
        cr_assert(cgi_script_alias_match(&cfg, path, strlen(path), &m));
        cr_assert_str_eq(m.directory, "/srv/admin/");
        cr_assert_eq(m.url_len, strlen("/cgi-bin/admin/"));
        cr_assert_eq(m.rest_len, strlen("run.sh/x"));
        cr_assert_eq(strncmp(m.rest, "run.sh/x", m.rest_len), 0);
        cr_assert_eq(m.index, 1);

        path = "/cgi-bin/env.sh";
        cr_assert(cgi_script_alias_match(&cfg, path, strlen(path), &m));
        cr_assert_str_eq(m.directory, "/srv/cgi/");
        cr_assert_str_eq(m.rest, "env.sh");

        /* Without the trailing slash it is not under the alias (Apache's rule for "/cgi-bin/"). */
        cr_assert_not(cgi_script_alias_match(&cfg, "/cgi-bin", 8, &m));
        cr_assert_not(cgi_script_alias_match(&cfg, "/cgi-binx/a", 11, &m));
        cr_assert_not(cgi_script_alias_match(&cfg, "/index.html", 11, &m));
        http_script_aliases_done(&cfg.script_alias);
}

/* ---- the output head ------------------------------------------------------------------------ */

static int parse_whole(const char *out, CgiHead *h, CgiHeadParser *p) {
        cgi_head_parser_init(p, h);
        int r = cgi_head_parser_feed(p, out, strlen(out));
        if (r == 0)
                r = cgi_head_parser_eof(p);
        return r;
}

static bool span_is(const char *buf, HttpSpan s, const char *want) {
        return s.len == strlen(want) && memcmp(buf + s.off, want, s.len) == 0;
}

Test(cgi_head, fields_and_body_offset) {
        static const char out[] = "Status: 404 Not Here\r\n"
                                  "Content-Type: text/html; charset=utf-8\n"
                                  "Content-Length: 5\r\n"
                                  "X-Custom:   spaced value  \r\n"
                                  "Set-Cookie: a=1\r\n"
                                  "Set-Cookie: b=2\r\n"
                                  "Connection: keep-alive\r\n"
                                  "Transfer-Encoding: chunked\r\n"
                                  "Date: yesterday\r\n"
                                  "Server: evil\r\n"
                                  "Keep-Alive: timeout=5\r\n"
                                  "Upgrade: h2c\r\n"
                                  "\r\n"
                                  "hello";
        CgiHead h;
        CgiHeadParser p;

        cr_assert_eq(parse_whole(out, &h, &p), 1);
        cr_assert_eq(h.status, 404);
        cr_assert(span_is(out, h.reason, "Not Here"));
        cr_assert(h.has_content_type);
        cr_assert(span_is(out, h.content_type, "text/html; charset=utf-8"));
        cr_assert(h.has_content_length);
        cr_assert_eq(h.content_length, 5);
        cr_assert_not(h.has_location);
        cr_assert_eq(h.n_fields, 3, "hop-by-hop and our own fields are dropped");
        cr_assert(span_is(out, h.fields[0].name, "X-Custom"));
        cr_assert(span_is(out, h.fields[0].value, "spaced value"));
        cr_assert(span_is(out, h.fields[1].value, "a=1"));
        cr_assert(span_is(out, h.fields[2].value, "b=2"));
        cr_assert_str_eq(out + h.head_len, "hello");
}

Test(cgi_head, location_forms) {
        CgiHead h;
        CgiHeadParser p;

        cr_assert_eq(parse_whole("Location: https://example.org/x?y\n\n", &h, &p), 1);
        cr_assert(h.has_location);
        cr_assert_not(h.location_local);
        cr_assert_eq(h.status, 0);

        cr_assert_eq(parse_whole("Location: /local/path\r\n\r\n", &h, &p), 1);
        cr_assert(h.location_local);

        cr_assert_eq(parse_whole("Location: relative/path\r\n\r\n", &h, &p), -EBADMSG);
        cr_assert_not_null(strstr(p.error, "malformed header from script"));
        cr_assert_eq(parse_whole("Location: 1http://x/\r\n\r\n", &h, &p), -EBADMSG);
        cr_assert_eq(parse_whole("Location:\r\n\r\n", &h, &p), -EBADMSG);
}

Test(cgi_head, status_alone_and_plain_status) {
        CgiHead h;
        CgiHeadParser p;

        cr_assert_eq(parse_whole("Status: 204\r\n\r\n", &h, &p), 1);
        cr_assert_eq(h.status, 204);
        cr_assert_eq(h.reason.len, 0);
}

/* The same head fed one prefix at a time, split at every byte: the result never depends on where
 * reads end. */
Test(cgi_head, split_at_every_byte) {
        static const char out[] = "Content-Type: text/plain\r\nStatus: 201 Made\nX-A: 1\r\n\r\nbody";
        size_t len = sizeof(out) - 1;
        CgiHead whole;
        CgiHeadParser wp;

        cr_assert_eq(parse_whole(out, &whole, &wp), 1);
        for (size_t split = 0; split <= len; split++) {
                CgiHead h;
                CgiHeadParser p;
                int r;

                cgi_head_parser_init(&p, &h);
                r = cgi_head_parser_feed(&p, out, split);
                if (split < whole.head_len)
                        cr_assert_eq(r, 0, "split %zu", split);
                else
                        cr_assert_eq(r, 1, "split %zu", split);
                cr_assert_eq(cgi_head_parser_feed(&p, out, len), 1, "split %zu", split);
                cr_assert_eq(h.head_len, whole.head_len);
                cr_assert_eq(h.status, 201);
                cr_assert(span_is(out, h.reason, "Made"));
                cr_assert(span_is(out, h.content_type, "text/plain"));
                cr_assert_eq(h.n_fields, 1);
        }
        /* And one byte at a time. */
        CgiHead h;
        CgiHeadParser p;
        int r = 0;
        cgi_head_parser_init(&p, &h);
        for (size_t n = 1; n <= len && r == 0; n++)
                r = cgi_head_parser_feed(&p, out, n);
        cr_assert_eq(r, 1);
        cr_assert_eq(h.head_len, whole.head_len);
}

typedef struct BadHead {
        char name[40];
        char out[160];
        int expect;
        char error[48];
} BadHead;

static BadHead bad_heads[] = {
        { "no colon", "Content-Type text/plain\r\n\r\n", -EBADMSG, "malformed header from script" },
        { "space before colon", "Content-Type : text/plain\r\n\r\n", -EBADMSG, "malformed header" },
        { "continuation line", "Content-Type: text/plain\r\n folded\r\n\r\n", -EBADMSG, "malformed header" },
        { "empty name", ": x\r\nContent-Type: a\r\n\r\n", -EBADMSG, "malformed header" },
        { "bare CR", "Content-Type: a\rb\r\n\r\n", -EBADMSG, "bare CR" },
        { "control byte", "Content-Type: a\x01z\r\n\r\n", -EBADMSG, "bad byte" },
        { "status letters", "Status: abc\r\n\r\n", -EBADMSG, "bad Status" },
        { "status 4 digits", "Status: 2000\r\n\r\n", -EBADMSG, "bad Status" },
        { "status 1xx", "Status: 101 Switching\r\n\r\n", -EBADMSG, "bad Status" },
        { "status 600", "Status: 600\r\n\r\n", -EBADMSG, "bad Status" },
        { "status twice", "Status: 200\r\nStatus: 404\r\n\r\n", -EBADMSG, "twice" },
        { "content-length sign", "Content-Type: a\r\nContent-Length: +5\r\n\r\n", -EBADMSG, "Content-Length" },
        { "content-length empty", "Content-Type: a\r\nContent-Length:\r\n\r\n", -EBADMSG, "Content-Length" },
        { "content-length huge", "Content-Type: a\r\nContent-Length: 99999999999999999999\r\n\r\n", -EBADMSG,
          "Content-Length" },
        { "content-length twice", "Content-Type: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", -EBADMSG,
          "twice" },
        { "nothing useful", "X-Only: 1\r\n\r\n", -EBADMSG, "no Content-Type, Location or Status" },
        { "empty head", "\r\n", -EBADMSG, "no Content-Type" },
        { "premature end", "Content-Type: text/plain\r\n", -ENODATA, "Premature end of script headers" },
        { "no output", "", -ENODATA, "Premature end of script headers" },
        { "end without blank line", "Content-Type: text/plain\r\n\r", -ENODATA, "Premature end" },
};

ParameterizedTestParameters(cgi_head, refused) {
        return cr_make_param_array(BadHead, bad_heads, ELEMENTSOF(bad_heads));
}

ParameterizedTest(BadHead *c, cgi_head, refused) {
        CgiHead h;
        CgiHeadParser p;

        cr_assert_eq(parse_whole(c->out, &h, &p), c->expect, "%s", c->name);
        cr_assert_not_null(p.error, "%s", c->name);
        cr_assert_not_null(strstr(p.error, c->error), "%s: %s", c->name, p.error);
        /* Once refused, always refused. */
        cr_assert_eq(cgi_head_parser_feed(&p, c->out, strlen(c->out)), c->expect, "%s", c->name);
}

Test(cgi_head, too_long) {
        size_t n = CGI_HEAD_MAX + 100;
        char *out = malloc(n + 1);
        CgiHead h;
        CgiHeadParser p;

        /* Many short valid lines: the limit is on the head, not on a line. */
        size_t i = 0;
        i += (size_t) sprintf(out, "Content-Type: a\r\n");
        while (i + 8 < n)
                i += (size_t) sprintf(out + i, "X-A: 1\r\n");
        out[i] = 0;
        cgi_head_parser_init(&p, &h);
        cr_assert_eq(cgi_head_parser_feed(&p, out, i), -EBADMSG, "too many fields first");

        /* One long line. */
        memset(out, 'a', n);
        memcpy(out, "X-Long: ", 8);
        cgi_head_parser_init(&p, &h);
        cr_assert_eq(cgi_head_parser_feed(&p, out, CGI_HEAD_MAX), 0);
        cr_assert_eq(cgi_head_parser_feed(&p, out, n), -E2BIG);
        cr_assert_str_eq(p.error, "script head too long");
        cr_assert_eq(cgi_head_parser_eof(&p), -E2BIG);

        /* Exactly at the limit is still fine. */
        static const char tail[] = "\r\n\r\n";
        memset(out, 'a', CGI_HEAD_MAX);
        memcpy(out, "Content-Type: ", 14);
        memcpy(out + CGI_HEAD_MAX - 4, tail, 4);
        cgi_head_parser_init(&p, &h);
        cr_assert_eq(cgi_head_parser_feed(&p, out, CGI_HEAD_MAX), 1);
        cr_assert_eq(h.head_len, CGI_HEAD_MAX);
        out[CGI_HEAD_MAX - 4] = 'a'; /* one more byte before the blank line: over */
        memcpy(out + CGI_HEAD_MAX - 3, tail, 4);
        cgi_head_parser_init(&p, &h);
        cr_assert_eq(cgi_head_parser_feed(&p, out, CGI_HEAD_MAX + 1), -E2BIG);
        free(out);
}

/* Over TLS: mod_ssl's variables, from what the connection says of its handshake. */
static const char *fake_sni;
static bool fake_tls_info(void *conn, HttpTlsInfo *ret) {
        *ret = (HttpTlsInfo) { .protocol = "TLSv1.3", .cipher = "TLS_AES_128_GCM_SHA256", .sni = fake_sni };
        return true;
}

Test(cgi_env, https_variables_over_tls_only) {
        static const char req[] = "GET /cgi-bin/env.sh HTTP/1.1\r\nHost: www.example.org\r\n\r\n";
        static const HttpRequestConn tls_conn = { .tls_info = fake_tls_info };
        static const HttpRequestConn plain_conn = {};
        Fixture f;

        fixture_parse(&f, req);
        CgiEnvParams p = params_for(&f);
        fixture_env(&f, &p);
        cr_assert_null(env_get(&f, "HTTPS"), "a plain request");
        cr_assert_null(env_get(&f, "SSL_PROTOCOL"));
        assert_env(&f, "REQUEST_SCHEME", "http");
        f.q.conn_ops = &plain_conn; /* a connection that has no TLS to tell of */
        fixture_env(&f, &p);
        cr_assert_null(env_get(&f, "HTTPS"));

        fake_sni = "www.example.org";
        f.q.conn_ops = &tls_conn;
        fixture_env(&f, &p);
        assert_env(&f, "HTTPS", "on");
        assert_env(&f, "SSL_PROTOCOL", "TLSv1.3");
        assert_env(&f, "SSL_CIPHER", "TLS_AES_128_GCM_SHA256");
        assert_env(&f, "SSL_TLS_SNI", "www.example.org");
        assert_env(&f, "REQUEST_SCHEME", "https");

        fake_sni = NULL; /* a client that sent no name */
        fixture_env(&f, &p);
        assert_env(&f, "HTTPS", "on");
        cr_assert_null(env_get(&f, "SSL_TLS_SNI"));
}

/* The client's certificate: SSL_CLIENT_VERIFY over every TLS connection, the rest with a certificate. */
static bool fake_client_tls_info(void *conn, HttpTlsInfo *ret) {
        *ret = (HttpTlsInfo){
                .protocol = "TLSv1.3",
                .cipher = "TLS_AES_128_GCM_SHA256",
                .client_verify = "SUCCESS",
                .client_s_dn = "CN=alice,O=Example",
                .client_i_dn = "CN=Example CA,O=Example",
                .client_serial = "1A2B",
                .client_v_end = "Jan  1 00:00:00 2030 GMT",
        };
        return true;
}

Test(cgi_env, client_certificate_variables) {
        static const char req[] = "GET /cgi-bin/env.sh HTTP/1.1\r\nHost: www.example.org\r\n\r\n";
        static const HttpRequestConn cert_conn = {.tls_info = fake_client_tls_info};
        static const HttpRequestConn tls_conn = {.tls_info = fake_tls_info};
        Fixture f;

        fixture_parse(&f, req);
        CgiEnvParams p = params_for(&f);
        fixture_env(&f, &p);
        cr_assert_null(env_get(&f, "SSL_CLIENT_VERIFY"), "a plain request");

        f.q.conn_ops = &tls_conn; /* no certificate: mod_ssl's NONE, no names */
        fixture_env(&f, &p);
        assert_env(&f, "SSL_CLIENT_VERIFY", "NONE");
        cr_assert_null(env_get(&f, "SSL_CLIENT_S_DN"));
        cr_assert_null(env_get(&f, "SSL_CLIENT_M_SERIAL"));

        f.q.conn_ops = &cert_conn;
        fixture_env(&f, &p);
        assert_env(&f, "SSL_CLIENT_VERIFY", "SUCCESS");
        assert_env(&f, "SSL_CLIENT_S_DN", "CN=alice,O=Example");
        assert_env(&f, "SSL_CLIENT_I_DN", "CN=Example CA,O=Example");
        assert_env(&f, "SSL_CLIENT_M_SERIAL", "1A2B");
        assert_env(&f, "SSL_CLIENT_V_END", "Jan  1 00:00:00 2030 GMT");
}
