/* SPDX-License-Identifier: MIT */
/* Tests of config_load(): files written into a fresh folder, loaded, and the resulting Config or the
 * exact messages an operator would read checked: reading (config-read.c), sections and inheritance
 * (config-apply.c), checks (config-check.c), Include and Define. The MPM and its modules are in
 * test-config-modules.c, what a start would find (mpmd -t) and HTTPS in test-config-startup.c. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-config.h"
#include "config-fixture.h"
#include "supervisor/config-loader.h"
#include "shared/strv.h"

TestSuite(config, .init = config_fixture_setup, .fini = config_fixture_teardown);

/* ---- site limits -------------------------------------------------------------------------- */

/* The MPM's section gives every site's defaults; a [VirtualHost] overrides key by key, 0 included. */
Test(config, site_limits_defaults_and_overrides) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080\nDocumentRoot = @\n"
                                 "[fake]\nMemoryMax = 512M\n"
                                 "[VirtualHost x]\nServerName = x.test\nMaxProcesses = 0\nMaxProgramSeconds = 5\n"
                                 "[VirtualHost y]\nServerName = y.test\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        cr_assert_eq(c->limits.max_processes, 512);
        cr_assert_eq(c->limits.memory_max, UINT64_C(512) << 20);
        cr_assert_eq(c->limits.max_program_seconds, 60);
        cr_assert_eq(c->vhosts[0].limits.max_processes, 0);
        cr_assert_eq(c->vhosts[0].limits.memory_max, UINT64_C(512) << 20);
        cr_assert_eq(c->vhosts[0].limits.max_program_seconds, 5);
        cr_assert_eq(c->vhosts[1].limits.max_processes, 512);
        cr_assert_eq(c->vhosts[1].limits.max_program_seconds, 60);
        cr_assert_eq(warnings.n, 0, "%s", joined(&warnings));
        config_free(c);
}

Test(config, site_limits_errors_name_file_and_line) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080\nDocumentRoot = @\n"
                                 "[fake]\nMemoryMax = 1M\n"
                                 "[VirtualHost x]\nServerName = x.test\nMemoryMax = 4K\nMaxProcesses = -1\n"
                                 "CPUWeight = 100\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), -EINVAL);
        cr_assert(has_message(&errors, "@/mpmd.conf:5: [fake] MemoryMax: expected at least 16M, or 0 for no limit"),
                  "%s", joined(&errors));
        cr_assert(has_message(&errors,
                              "@/mpmd.conf:8: [VirtualHost x] MemoryMax: expected at least 16M, or 0 for no limit"),
                  "%s", joined(&errors));
        cr_assert(has_message(&errors, "@/mpmd.conf:9: [VirtualHost x] MaxProcesses: expected a number of processes "
                                       "from 1 to 4194304, or 0 for no limit, got \"-1\""),
                  "%s", joined(&errors));
        cr_assert(has_message(&warnings, "@/mpmd.conf:10: [VirtualHost x] CPUWeight: needs cgroup v2, which this mpmd "
                                         "does not use yet: no CPU weighting is applied"),
                  "%s", joined(&warnings));
}

/* ---- a good configuration ----------------------------------------------------------------- */

Test(config, good_file_with_confd_overrides) {
        Config *c = NULL;
        const FakeConfig *fc;

        /* A section of an MPM this binary does not link: its keys are nobody's to check. */
        const char *absent = mpm_find_builtin("perchild") ? "event" : "perchild";
        char absent_section[64];
        snprintf(absent_section, sizeof(absent_section), "[%s]\nThisMpmIsNotBuiltIn = so nothing here is checked\n",
                 absent);

        cr_assert_eq(mkdir(at("@/htdocs"), 0755), 0);
        write_file("@/conf.d/05-absent.conf", absent_section);
        write_file("@/mpmd.conf",
                   "; the main file\n"
                   "# another comment\n"
                   "[Server]\n"
                   "Listen = 127.0.0.1:8080\n"
                   "DocumentRoot = @/htdocs\n"
                   "KeepAliveTimeout = 5\n"
                   "DirectoryIndex = index.html index.htm\n"
                   "ServerAlias = a.example ; inline comment\n"
                   "   b.example c.example ; a comment in a continuation line\n"
                   "\n"
                   "   d.example\n"
                   "loglevel = Info\n"
                   "LimitRequestBody = 8M\n"
                   "\n"
                   "[fake]\n"
                   "ServerLimit = 32\n"
                   "Hooks = one\n"
                   "  two\n"
                   "\n"
                   "[prefork]\n"
                   "StartServers = 3\n");
        /* BOM, lower-case section name */
        write_file("@/conf.d/10-a.conf", "\xEF\xBB\xBF[server]\n"
                                         "KeepAliveTimeout = 10\n"
                                         "Listen = 127.0.0.1:8081\n"
                                         "DirectoryIndex = default.html\n"
                                         "DirectoryIndex = x.html\n"
                                         "[fake]\n"
                                         "Hooks = three\n");
        /* CRLF line ends */
        write_file("@/conf.d/20-b.conf", "[Server]\r\nKeepAliveTimeout = 20\r\nListen = 127.0.0.1:8082\r\n");
        write_file("@/conf.d/30-c.conf.disabled", "[Server]\nKeepAliveTimeout = 30\n");
        write_file("@/conf.d/.40-hidden.conf", "[Server]\nKeepAliveTimeout = 40\n");
        cr_assert_eq(mkdir(at("@/conf.d/50-folder.conf"), 0755), 0);

        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        assert_messages(&errors, 0);
        assert_messages(&warnings, 0);

        cr_assert_eq(strv_length(c->files), 4);
        cr_assert_str_eq(c->main_file, at("@/mpmd.conf"));
        cr_assert_str_eq(c->files[0], at("@/mpmd.conf"));
        cr_assert_str_eq(c->files[1], at("@/conf.d/05-absent.conf"));
        cr_assert_str_eq(c->files[2], at("@/conf.d/10-a.conf"));
        cr_assert_str_eq(c->files[3], at("@/conf.d/20-b.conf"));

        /* a scalar: the last file wins, silently */
        cr_assert_eq(c->site.keep_alive_timeout, 20 * USEC_PER_SEC);
        /* a list: extended in file order */
        cr_assert_eq(strv_length(c->listen), 3);
        cr_assert_str_eq(c->listen[0], "127.0.0.1:8080");
        cr_assert_str_eq(c->listen[1], "127.0.0.1:8081");
        cr_assert_str_eq(c->listen[2], "127.0.0.1:8082");
        /* a CONF_LIST_REPLACE list: replaced by a later file, extended within it */
        cr_assert_eq(strv_length(c->site.directory_index), 2);
        cr_assert_str_eq(c->site.directory_index[0], "default.html");
        cr_assert_str_eq(c->site.directory_index[1], "x.html");
        /* continuation lines, comments cut */
        cr_assert_eq(strv_length(c->site.server_alias), 4);
        cr_assert_str_eq(c->site.server_alias[0], "a.example");
        cr_assert_str_eq(c->site.server_alias[1], "b.example");
        cr_assert_str_eq(c->site.server_alias[2], "c.example");
        cr_assert_str_eq(c->site.server_alias[3], "d.example");
        cr_assert_str_eq(c->site.document_root, at("@/htdocs"));
        cr_assert_eq(c->site.limit_request_body, 8 * 1024 * 1024);
        cr_assert_eq(c->log_level, LOG_LEVEL_INFO);

        /* defaults of the supervisor's table */
        cr_assert_str_eq(c->control_socket, "/run/mpmd/control");
        cr_assert_eq(c->graceful_shutdown_timeout, 10 * USEC_PER_SEC);
        cr_assert_eq(c->graceful_reload_timeout, 30 * USEC_PER_SEC);
        cr_assert_eq(c->min_uid, 1000);
        cr_assert_eq(c->min_gid, 1000);
        cr_assert_null(c->pid_file);
        cr_assert_null(c->user);
        cr_assert_eq(c->uid, (uid_t) -1);
        cr_assert_eq(c->gid, (gid_t) -1);

        /* the MPM's section */
        cr_assert_eq(c->mpm, &fake_mpm);
        fc = c->mpm_config;
        cr_assert_eq(fc->server_limit, 32);
        cr_assert_eq(fc->max_request_workers, 16);
        cr_assert_eq(strv_length(fc->hooks), 3);
        cr_assert_str_eq(fc->hooks[1], "two");
        cr_assert_str_eq(fc->hooks[2], "three");
        cr_assert_eq(c->n_modules, 0);
        cr_assert_eq(c->n_vhosts, 0);
        config_free(c);
}

Test(config, section_names_are_not_cut) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = x\n"
                                  "[VirtualHost a-very-long-host-name-of-more-than-fifty-bytes.example.org]\n"
                                  "ServerName = long.example.org\n"
                                  "[VIRTUALHOST   short]\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        cr_assert_eq(c->n_vhosts, 2);
        cr_assert_str_eq(c->vhosts[0].name, "a-very-long-host-name-of-more-than-fifty-bytes.example.org");
        cr_assert_str_eq(c->vhosts[0].site.server_name, "long.example.org");
        cr_assert_str_eq(c->vhosts[0].source.file, at("@/mpmd.conf"));
        cr_assert_eq(c->vhosts[0].source.line, 3);
        cr_assert_str_eq(c->vhosts[1].name, "short");
        config_free(c);
}

Test(config, a_semicolon_inside_quotes_is_no_comment) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = x\n"
                                  "AuthName = \"a ; b\" ; a comment\n"
                                  "[VirtualHost two]\n"
                                  "ServerName = two.example\n"
                                  "AuthName = \"x ;\n"
                                  "    y ; z\" ; a comment in a continuation line\n"
                                  "[VirtualHost three]\n"
                                  "ServerName = three.example\n"
                                  "AuthName = plain ; a comment\n"
                                  "Header = set Content-Security-Policy \"default-src 'self' ; img-src *\" ; why\n"
                                  "Header = set X-Quoted \"a \\\" ; b\" ; \\\" does not close\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        const HttpHeaderEdits *h = &c->vhosts[1].site.headers.header;
        cr_assert_eq(h->n, 2);
        cr_assert_str_eq(h->items[0].value, "default-src 'self' ; img-src *");
        cr_assert_str_eq(h->items[1].value, "a \" ; b");
        cr_assert_str_eq(c->site.access.auth_name, "a ; b");
        cr_assert_str_eq(c->vhosts[0].site.access.auth_name, "x ; y ; z");
        cr_assert_str_eq(c->vhosts[1].site.access.auth_name, "plain");
        config_free(c);

        write_file("@/mpmd.conf", "[Server]\nListen = x\nAuthName = \"a\x1f b\"\n");
        cr_assert_lt(load("@/mpmd.conf", NULL, &c), 0);
        cr_assert(has_message(&errors, "@/mpmd.conf:3: line contains a control (0x1f) byte"), "%s", joined(&errors));
}

Test(config, vhosts_inherit_server_keys_they_do_not_set) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[VirtualHost a]\n"
                                  "ServerName = a.example\n"
                                  "[VirtualHost b]\n"
                                  "KeepAliveTimeout = 7\n"
                                  "DirectoryIndex = b.html\n"
                                  "Listen = 127.0.0.1:9000\n"
                                  "User = b\n");
        /* [Server] comes in a later file than the vhosts */
        write_file("@/conf.d/10.conf", "[Server]\n"
                                       "Listen = 127.0.0.1:8080\n"
                                       "KeepAliveTimeout = 42\n"
                                       "DirectoryIndex = home.html\n"
                                       "ServerName = main.example\n"
                                       "User = nobody\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        cr_assert_eq(c->n_vhosts, 2);

        cr_assert_eq(c->site.keep_alive_timeout, 42 * USEC_PER_SEC);
        cr_assert_eq(c->vhosts[0].site.keep_alive_timeout, 42 * USEC_PER_SEC);
        cr_assert_str_eq(c->vhosts[0].site.server_name, "a.example");
        cr_assert_str_eq(c->vhosts[0].site.directory_index[0], "home.html");
        cr_assert_neq(c->vhosts[0].site.directory_index, c->site.directory_index); /* a deep copy */
        cr_assert_neq(c->vhosts[0].site.directory_index[0], c->site.directory_index[0]);
        cr_assert_str_eq(c->vhosts[0].site.error_log, "stderr"); /* [Server]'s default */
        /* Listen and User are a vhost's own */
        cr_assert_null(c->vhosts[0].listen);
        cr_assert_null(c->vhosts[0].user);

        cr_assert_eq(c->vhosts[1].site.keep_alive_timeout, 7 * USEC_PER_SEC);
        cr_assert_eq(strv_length(c->vhosts[1].site.directory_index), 1);
        cr_assert_str_eq(c->vhosts[1].site.directory_index[0], "b.html");
        cr_assert_str_eq(c->vhosts[1].site.server_name, "main.example");
        cr_assert_str_eq(c->vhosts[1].listen[0], "127.0.0.1:9000");
        cr_assert_str_eq(c->vhosts[1].user, "b");
        config_free(c);
}

Test(config, a_listen_of_a_vhost_is_enough) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nTimeOut = 5\n[VirtualHost a]\nListen = vhost:a\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        cr_assert_null(c->listen);
        config_free(c);
}

/* ---- one error each ----------------------------------------------------------------------- */

typedef struct ErrorCase {
        char content[256];
        char message[240];
} ErrorCase;

/* Parameters hold their strings inline: criterion 2.4.1 runs each case in a re-executed PIE
 * binary, where a pointer into the parent's image (a string literal) is not valid. */
ParameterizedTestParameters(config, one_error) {
        static ErrorCase cases[] = {
                { "[Server]\nListen = x\n[Foo]\nBar = 1\n",
                  "@/mpmd.conf:3: unknown section [Foo]; expected [Server], [VirtualHost NAME], [Location /PATH] or an MPM section" },
                { "[Server]\nListen = x\n[Prefork]\n",
                  "@/mpmd.conf:3: unknown section [Prefork]; expected [Server], [VirtualHost NAME], [Location /PATH] or an MPM section" },
                { "[Server]\nListen = x\nFoo = 1\n", "@/mpmd.conf:3: unknown key \"Foo\" in [Server]" },
                { "[Server]\nListen = x\nServerLimit = 3\n",
                  "@/mpmd.conf:3: ServerLimit is not allowed in [Server] (it belongs in [fake])" },
                { "[Server]\nListen = x\n[VirtualHost a]\nPidFile = /run/x.pid\n",
                  "@/mpmd.conf:4: PidFile is not allowed in [VirtualHost a] (it belongs in [Server])" },
                { "[Server]\nListen = x\n[fake]\nKeepAlive = On\n",
                  "@/mpmd.conf:4: KeepAlive is not allowed in [fake] (it belongs in [Server] or [VirtualHost NAME])" },
                { "[Server]\nListen = x\n[fake]\nFoo = 1\n", "@/mpmd.conf:4: unknown key \"Foo\" in [fake]" },
                { "[Server]\nListen = x\n[fake]\nNoSuchKey = 1\n",
                  "@/mpmd.conf:4: unknown key \"NoSuchKey\" in [fake]" },
                { "[Server]\nListen = x\nKeepAlive = maybe\n",
                  "@/mpmd.conf:3: [Server] KeepAlive: expected On or Off, got \"maybe\"" },
                { "[Server]\nListen = x\nLimitRequestFields = 0\n",
                  "@/mpmd.conf:3: [Server] LimitRequestFields: expected a number from 1 to 32767, got \"0\"" },
                { "[Server]\nListen = x\nKeepAliveTimeout = 3601\n",
                  "@/mpmd.conf:3: [Server] KeepAliveTimeout: expected a time from 1ms to 3600 s, got \"3601\"" },
                { "[Server]\nListen = x\nLogLevel = verbose\n",
                  "@/mpmd.conf:3: [Server] LogLevel: expected one of emerg, alert, crit, error, warn, notice, info, "
                  "debug, got \"verbose\"" },
                { "[Server]\nListen = x\nPidFile = mpmd.pid\n",
                  "@/mpmd.conf:3: [Server] PidFile: expected an absolute path, got \"mpmd.pid\"" },
                { "[Server]\nListen = x\n[VirtualHost a]\nDocumentRoot = htdocs\n",
                  "@/mpmd.conf:4: [VirtualHost a] DocumentRoot: expected an absolute path to a directory, got "
                  "\"htdocs\"" },
                { "[Server]\nListen = x\n[fake]\nServerLimit = 1001\n",
                  "@/mpmd.conf:4: [fake] ServerLimit: expected a number of processes from 1 to 1000, got \"1001\"" },
                { "[Server]\nListen = x\nDocumentRoot /srv/www\n",
                  "@/mpmd.conf:3: expected \"Key = value\" or \"[Section]\"" },
                { "[Server]\nListen = x\nListen 127.0.0.1:80\n",
                  "@/mpmd.conf:3: expected \"Key = value\" or \"[Section]\"" },
                /* the keys below a broken section line are not applied anywhere */
                { "[Server]\nListen = x\n[fake\nServerLimit = 1001\n",
                  "@/mpmd.conf:3: expected \"Key = value\" or \"[Section]\"" },
                { "[Server]\nListen = x\n= value\n", "@/mpmd.conf:3: expected \"Key = value\" or \"[Section]\"" },
                { "[Server]\nListen = x\n[VirtualHost a]\n[VirtualHost A]\n",
                  "@/mpmd.conf:4: [VirtualHost A] is defined twice: here and at @/mpmd.conf:3" },
                { "[Server]\nListen = x\n[VirtualHost]\nTimeOut = 5\n",
                  "@/mpmd.conf:3: [VirtualHost] needs a name: [VirtualHost NAME]" },
                { "[Server]\nListen = x\nTimeOut = 5\nTimeOut = 6\n",
                  "@/mpmd.conf:4: [Server] TimeOut: already set at line 3 of this file; remove one of the two" },
                { "[Server]\nTimeOut = 5\nListen = x\n[Server]\ntimeout = 6\n",
                  "@/mpmd.conf:5: [Server] TimeOut: already set at line 2 of this file; remove one of the two" },
                { "[Server]\nListen = x\nTimeOut = 5\n  6\n",
                  "@/mpmd.conf:4: [Server] TimeOut: a continuation line is only allowed for keys that take text or a list" },
                { "[Server]\nListen = x\n  TimeOut = 5\n",
                  "@/mpmd.conf:3: this indented line would continue Listen of line 2: write \"Key = value\" lines "
                  "without indentation" },
                { "[Server]\nListen = x\nServerAlias = a\n  NotAKeyOfOurs = 5\n",
                  "@/mpmd.conf:4: this indented line would continue ServerAlias of line 3: write \"Key = value\" "
                  "lines without indentation" },
                { "[Server]\nListen = x\nServerAlias = a\n  timeout=5\n",
                  "@/mpmd.conf:4: this indented line would continue ServerAlias of line 3: write \"Key = value\" "
                  "lines without indentation" },
                { "TimeOut = 5\n[Server]\nListen = x\n",
                  "@/mpmd.conf:1: TimeOut: a key before the first section; expected [Server], [VirtualHost NAME] or an "
                  "MPM section above it" },
                { "[Server]\nTimeOut = 5\n",
                  "@/mpmd.conf: [Server] Listen: at least one Listen address or socket name is required" },
                { "[Server]\nListen = x\n[fake]\nServerLimit = 999\n", "[fake]: ServerLimit 999 is not allowed by this MPM" },
                { "[Server]\nListen = x\nLoadModule = mpm_fake_module\n",
                  "@/mpmd.conf:3: [Server] LoadModule: expected a module name and an absolute path, got "
                  "\"mpm_fake_module\"" },
                { "[Server]\nListen = x\nLoadModule = mpm_fake_module /a.so\n  /b.so\n",
                  "@/mpmd.conf:4: [Server] LoadModule: a continuation line is only allowed for keys that take text or a "
                  "list" },
                { "[Server]\nListen = x\n[VirtualHost a]\nLoadModule = mpm_fake_module /a.so\n",
                  "@/mpmd.conf:4: LoadModule is not allowed in [VirtualHost a] (it belongs in [Server])" },
                { "[Server]\nListen = x\nServerName = a\0b\n", "@/mpmd.conf:3: line contains a NUL byte" },
                /* did you mean: the nearest key this section takes, whatever the case */
                { "[Server]\nListen = x\nKeepAliveTimout = 5\n",
                  "@/mpmd.conf:3: unknown key \"KeepAliveTimout\" in [Server] (did you mean KeepAliveTimeout?)" },
                { "[Server]\nListen = x\ndocumentroot2 = /srv\n",
                  "@/mpmd.conf:3: unknown key \"documentroot2\" in [Server] (did you mean DocumentRoot?)" },
                { "[Server]\nListen = x\n[VirtualHost a]\nPoolProceses = 2\n",
                  "@/mpmd.conf:4: unknown key \"PoolProceses\" in [VirtualHost a] (did you mean PoolProcesses?)" },
                { "[Server]\nListen = x\n[fake]\nServerLimt = 3\n",
                  "@/mpmd.conf:4: unknown key \"ServerLimt\" in [fake] (did you mean ServerLimit?)" },
                /* not a key a [VirtualHost] may have */
                { "[Server]\nListen = x\n[VirtualHost a]\nPidFle = /run/x.pid\n",
                  "@/mpmd.conf:4: unknown key \"PidFle\" in [VirtualHost a]" },
                { "[Server]\nListen = x\n[VirtualHost a]\nMinUID = 5\n",
                  "@/mpmd.conf:4: MinUID is not allowed in [VirtualHost a] (it belongs in [Server])" },
                { "[Server]\nListen = x\nPoolProcesses = 5\n",
                  "@/mpmd.conf:3: PoolProcesses is not allowed in [Server] (it belongs in [VirtualHost NAME])" },
                /* each ScriptAlias line is judged where it is */
                { "[Server]\nListen = x\nScriptAlias = /a/ /srv/a\nScriptAlias = /b/\nServerName = x\n",
                  "@/mpmd.conf:4: [Server] ScriptAlias: needs a URL path and a directory; \"/b/\" has no directory" },
                { "[Server]\nListen = x\nScriptAlias = /a/ /srv/a\nServerName = x\nScriptAlias = /a/ /srv/b\n",
                  "@/mpmd.conf:5: [Server] ScriptAlias: /a/ is given twice (first at @/mpmd.conf:3)" },
                /* one access log per site: a second line in the same file does not become its format */
                { "[Server]\nListen = x\nCustomLog = /var/log/a.log common\nServerName = x\n"
                  "CustomLog = /var/log/b.log common\n",
                  "@/mpmd.conf:5: [Server] CustomLog: a site has one access log, given already at @/mpmd.conf:3" },
                { "[Server]\nListen = x\nAddHandler = cgi-script .cgi\nAddHandler = .pl\n",
                  "@/mpmd.conf:4: [Server] AddHandler: \".pl\" comes before a handler name" },
                { "[Server]\nListen = x\nRequestReadTimeout = header=20\n  body=x\n",
                  "@/mpmd.conf:3: [Server] RequestReadTimeout: a stage's timeout must be seconds (0 to 86400) or a "
                  "range such as 20-40" },
        };
        return cr_make_param_array(ErrorCase, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(ErrorCase *t, config, one_error) {
        Config *c = (Config *) 1;
        const char *path = at("@/mpmd.conf");
        size_t len = strlen(t->content);
        FILE *f;

        /* written by hand: a case may hold a NUL byte (after its first string) */
        if (strstr(t->message, "NUL"))
                len += 1 + strlen(t->content + len + 1);
        f = fopen(path, "we");
        cr_assert_not_null(f);
        cr_assert_eq(fwrite(t->content, 1, len, f), len);
        cr_assert_eq(fclose(f), 0);

        cr_assert_eq(load("@/mpmd.conf", NULL, &c), -EINVAL, "%s", t->content);
        cr_assert_null(c);
        assert_messages(&errors, 1, t->message);
}

Test(config, a_line_of_300_bytes_is_an_error_and_reading_goes_on) {
        char line[301];
        char content[512];
        Config *c = (Config *) 1;

        memset(line, 'a', 300);
        memcpy(line, "ServerAlias = ", strlen("ServerAlias = "));
        line[300] = '\0';
        snprintf(content, sizeof(content), "[Server]\nListen = x\n%s\nFoo = 1\n", line);
        write_file("@/mpmd.conf", content);
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), -EINVAL);
        cr_assert_null(c);
        assert_messages(&errors, 2,
                        "@/mpmd.conf:3: line too long (300 bytes, max 199 bytes): split the value over indented "
                        "continuation lines",
                        "@/mpmd.conf:4: unknown key \"Foo\" in [Server]");
}

Test(config, a_line_of_199_bytes_is_whole_and_200_is_too_long) {
        char line[201], content[512];
        Config *c = NULL;

        memset(line, 'b', 199);
        memcpy(line, "ServerAlias = ", strlen("ServerAlias = "));
        line[199] = '\0';
        snprintf(content, sizeof(content), "[Server]\nListen = x\n%s\n", line);
        write_file("@/mpmd.conf", content);
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        cr_assert_eq(strlen(c->site.server_alias[0]), 199 - strlen("ServerAlias = "));
        cr_assert_null(c->site.server_alias[1]);
        config_free(c);

        memset(line, 'b', 200);
        memcpy(line, "ServerAlias = ", strlen("ServerAlias = "));
        line[200] = '\0';
        snprintf(content, sizeof(content), "[Server]\nListen = x\n%s\n", line);
        write_file("@/mpmd.conf", content);
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), -EINVAL);
        assert_messages(&errors, 1,
                        "@/mpmd.conf:3: line too long (200 bytes, max 199 bytes): split the value over indented "
                        "continuation lines");
}

/* inih's multi-line rule: an indented line continues the key above; the parts join with one space
 * into one value, so a value longer than a line can be written at all. */
Test(config, continuation_lines_join_into_one_value) {
        char content[2048], part[3][120];
        Config *c = NULL;

        for (size_t i = 0; i < 3; i++) {
                memset(part[i], 'a' + (int) i, sizeof(part[i]) - 1);
                part[i][sizeof(part[i]) - 1] = '\0';
        }
        snprintf(content, sizeof(content),
                 "[Server]\nListen = x\n"
                 "DefaultType = text/html;\n"
                 "    charset=utf-8\n"
                 "ServerStatus = /%s\n"
                 "  %s\n"
                 "\t%s ; a comment is not part of it\n"
                 "RequestReadTimeout = header=10\n"
                 "                     body=5,MinRate=100\n"
                 "[VirtualHost v]\n"
                 "ServerAlias = v.example\n"
                 "   w.example\n",
                 part[0], part[1], part[2]);
        write_file("@/mpmd.conf", content);
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        cr_assert_str_eq(c->site.default_type, "text/html; charset=utf-8");
        cr_assert_eq(strlen(c->site.server_status), 1 + 3 * 119 + 2, "longer than a line may be");
        cr_assert(strncmp(c->site.server_status, "/aaa", 4) == 0);
        cr_assert_eq(c->site.server_status[120], ' ');
        cr_assert_eq(c->site.server_status[121], 'b');
        cr_assert_eq(c->site.server_status[strlen(c->site.server_status) - 1], 'c');
        cr_assert_eq(c->site.read_timeout.header.timeout, 10 * USEC_PER_SEC);
        cr_assert_eq(c->site.read_timeout.body.timeout, 5 * USEC_PER_SEC);
        cr_assert_eq(c->site.read_timeout.body.min_rate, 100);
        cr_assert_eq(strv_length(c->vhosts[0].site.server_alias), 2);
        cr_assert_str_eq(c->vhosts[0].site.server_alias[1], "w.example");
        /* parsed once, inherited as parsed */
        cr_assert_eq(c->vhosts[0].site.read_timeout.body.min_rate, 100);
        config_free(c);
}

/* A value only continuation lines can hold: the error at the key's line names the form. */
Test(config, a_value_of_300_bytes_fits_over_continuation_lines) {
        char content[1024], a[151], b[151];
        Config *c = NULL;

        memset(a, 'x', 150);
        a[150] = '\0';
        memset(b, 'y', 150);
        b[150] = '\0';
        snprintf(content, sizeof(content), "[Server]\nListen = x\nServerStatus = /%s%s\n", a, b);
        write_file("@/mpmd.conf", content);
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), -EINVAL);
        assert_messages(&errors, 1,
                        "@/mpmd.conf:3: line too long (316 bytes, max 199 bytes): split the value over indented "
                        "continuation lines");
        conf_errors_done(&errors);

        snprintf(content, sizeof(content), "[Server]\nListen = x\nServerStatus = /%s\n  %s\n", a, b);
        write_file("@/mpmd.conf", content);
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        cr_assert_eq(strlen(c->site.server_status), 302);
        config_free(c);
}

/* AddType is written line by line: each line an entry with its place; later files add lines, and a
 * [VirtualHost] adds its own to [Server]'s. */
Test(config, add_type_lines_keep_their_place) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = x\nAddType = text/x-a .a\n[VirtualHost v]\n"
                                  "AddType = text/x-v .v .w\n[VirtualHost w]\n");
        write_file("@/conf.d/10.conf", "[Server]\nAddType = text/x-c .c\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        cr_assert_eq(c->site.add_type.n, 2);
        cr_assert_str_eq(c->site.add_type.lines[0].value, "text/x-a .a");
        cr_assert_str_eq(c->site.add_type.lines[0].file, at("@/mpmd.conf"));
        cr_assert_eq(c->site.add_type.lines[0].line, 3);
        cr_assert_str_eq(c->site.add_type.lines[1].file, at("@/conf.d/10.conf"));
        cr_assert_eq(c->site.add_type.lines[1].line, 2);
        cr_assert_eq(c->vhosts[0].site.add_type.n, 3);
        cr_assert_str_eq(c->vhosts[0].site.add_type.lines[0].value, "text/x-a .a");
        cr_assert_str_eq(c->vhosts[0].site.add_type.lines[2].value, "text/x-v .v .w");
        cr_assert_eq(c->vhosts[0].site.add_type.lines[2].line, 5);
        cr_assert_eq(c->vhosts[1].site.add_type.n, 2, "w inherits [Server]'s");
        cr_assert_eq(config_check_reload(c, c, &errors), 0);
        config_free(c);
}

/* An empty ScriptAlias, AddHandler or CustomLog is an empty list: a site's way not to inherit
 * [Server]'s. */
Test(config, an_empty_list_key_drops_what_a_site_would_inherit) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = x\nScriptAlias = /cgi-bin/ /srv/cgi/\nAddHandler = cgi-script .cgi\n"
                                  "CustomLog = /var/log/a.log common\n"
                                  "[VirtualHost v]\nScriptAlias =\nAddHandler =\nCustomLog =\n[VirtualHost w]\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        cr_assert_eq(c->site.script_alias.n, 1);
        cr_assert_eq(c->vhosts[0].site.script_alias.n, 0);
        cr_assert_null(c->vhosts[0].site.add_handler.extensions);
        cr_assert_null(c->vhosts[0].site.custom_log.path);
        cr_assert_str_eq(c->vhosts[1].site.custom_log.path, "/var/log/a.log");
        cr_assert_str_eq(c->vhosts[1].site.custom_log.format, "common");
        config_free(c);
}

/* LogFormat names a format anywhere in the files, before or after the CustomLog lines that use it;
 * a later one replaces a nickname (Apache's own too); an unknown nickname is an error at the
 * CustomLog line that gives it, and a bad LogFormat at its own line. */
Test(config, logformat_nicknames_resolve_after_reading) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = x\nCustomLog = /var/log/a.log mine\n"
                                  "[VirtualHost v]\nCustomLog = /var/log/v.log combined\n"
                                  "[VirtualHost w]\n"
                                  "[VirtualHost u]\nCustomLog = /var/log/u.log common\n");
        write_file("@/conf.d/10.conf", "[Server]\nLogFormat = \"%h \\\"%r\\\" %u\" mine\n"
                                       "LogFormat = \"%v %h %>s\" combined\nLogFormat = %h mine\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        cr_assert_str_eq(c->site.custom_log.format, "%h");
        cr_assert_str_eq(c->vhosts[0].site.custom_log.format, "\"%v %h %>s\"");
        cr_assert_str_eq(c->vhosts[1].site.custom_log.format, "%h", "w inherits [Server]'s, resolved too");
        cr_assert_str_eq(c->vhosts[2].site.custom_log.format, "common", "Apache's nickname, not redefined");
        cr_assert_eq(c->log_formats.n, 2);
        _cleanup_free_ char *text = conf_item_format(conf_table_find(config_directives, "LogFormat"), c);
        cr_assert_str_eq(text, "%h mine; \"%v %h %>s\" combined");
        config_free(c);
        c = NULL;

        write_file("@/conf.d/10.conf", "[Server]\nLogFormat = \"%h %Z\" bad\nLogFormat = \"%h\"\n"
                                       "LogFormat = \"%h\" two words\nLogFormat = \"%h no-quote-end mine\n"
                                       "LogFormat = %h na/me\n");
        write_file("@/mpmd.conf", "[Server]\nListen = x\nCustomLog = /var/log/a.log mien\n"
                                  "[VirtualHost w]\n"
                                  "[VirtualHost v]\nCustomLog = /var/log/v.log nope\n");
        cr_assert_lt(load("@/mpmd.conf", NULL, &c), 0);
        cr_assert(has_message(&errors, "@/mpmd.conf:3: [Server] CustomLog: unknown log format \"mien\": expected "
                                       "common, combined, vhost_combined, a LogFormat nickname or a format with % "
                                       "directives"), "%s", joined(&errors));
        cr_assert(has_message(&errors, "@/mpmd.conf:6: [VirtualHost v] CustomLog: unknown log format \"nope\": "
                                       "expected common, combined, vhost_combined, a LogFormat nickname or a format "
                                       "with % directives"), "%s", joined(&errors));
        cr_assert(has_message(&errors, "@/conf.d/10.conf:3: [Server] LogFormat: expected a format and its nickname, "
                                       "as in LogFormat = \"%h %u %t \\\"%r\\\" %>s %b\" mine"), "%s", joined(&errors));
        cr_assert(has_message(&errors, "@/conf.d/10.conf:4: [Server] LogFormat: one nickname after the format: a "
                                       "format with spaces goes in double quotes"), "%s", joined(&errors));
        cr_assert(has_message(&errors, "@/conf.d/10.conf:5: [Server] LogFormat: the format's closing '\"' is "
                                       "missing"), "%s", joined(&errors));
        cr_assert(has_message(&errors, "@/conf.d/10.conf:6: [Server] LogFormat: the nickname \"na/me\" is not a "
                                       "word of letters, digits, '_', '-' and '.'"), "%s", joined(&errors));
        cr_assert_eq(errors.n, 7, "%s", joined(&errors)); /* w's inherited one is [Server]'s, said once */
}

/* ScriptAlias, AddHandler and CustomLog are parsed as they are read, each entry with its file:line.
 * A [VirtualHost] that does not set one inherits [Server]'s (a copy: each is freed with its site),
 * one that does has only its own; ScriptAlias and AddHandler lines add up across files, a later
 * file's CustomLog replaces; and the reload check compares the parsed values. */
Test(config, cgi_and_log_keys_are_parsed_with_their_place_and_inherited) {
        Config *c = NULL, *d = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = x\nScriptAlias = /cgi-bin/ /srv/cgi/\n"
                                  "AddHandler = cgi-script .cgi .PL\nCustomLog = /var/log/a.log %h  %r\n"
                                  "[VirtualHost v]\nScriptAlias = /v/ /srv/v\n  /w/ /srv/w\n[VirtualHost w]\n");
        write_file("@/conf.d/10.conf", "[Server]\nScriptAlias = /tools/ /srv/tools\nAddHandler = cgi-script .sh\n"
                                       "CustomLog = /var/log/b.log combined\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        cr_assert_eq(c->site.script_alias.n, 2);
        cr_assert_str_eq(c->site.script_alias.items[0].url, "/cgi-bin/");
        cr_assert_eq(c->site.script_alias.items[0].url_len, 9);
        cr_assert_str_eq(c->site.script_alias.items[0].directory, "/srv/cgi/");
        cr_assert_str_eq(c->site.script_alias.items[0].source.file, at("@/mpmd.conf"));
        cr_assert_eq(c->site.script_alias.items[0].source.line, 3);
        cr_assert_str_eq(c->site.script_alias.items[1].url, "/tools/");
        cr_assert_str_eq(c->site.script_alias.items[1].source.file, at("@/conf.d/10.conf"));
        cr_assert_eq(c->site.script_alias.items[1].source.line, 2);
        cr_assert_eq(strv_length(c->site.add_handler.extensions), 3);
        cr_assert_str_eq(c->site.add_handler.extensions[1], ".PL");
        cr_assert_str_eq(c->site.add_handler.extensions[2], ".sh");
        cr_assert_str_eq(c->site.custom_log.path, "/var/log/b.log");
        cr_assert_str_eq(c->site.custom_log.format, "combined");
        cr_assert_str_eq(c->site.custom_log.source.file, at("@/conf.d/10.conf"));
        cr_assert_eq(c->site.custom_log.source.line, 4);

        /* v: its own pairs only (a continuation line continues the value), [Server]'s others */
        cr_assert_eq(c->vhosts[0].site.script_alias.n, 2);
        cr_assert_str_eq(c->vhosts[0].site.script_alias.items[1].url, "/w/");
        cr_assert_eq(c->vhosts[0].site.script_alias.items[1].source.line, 7);
        cr_assert_eq(strv_length(c->vhosts[0].site.add_handler.extensions), 3);
        cr_assert_str_eq(c->vhosts[0].site.custom_log.path, "/var/log/b.log");
        /* w: everything [Server]'s, in storage of its own */
        cr_assert_eq(c->vhosts[1].site.script_alias.n, 2);
        cr_assert_neq(c->vhosts[1].site.script_alias.items, c->site.script_alias.items);
        cr_assert_str_eq(c->vhosts[1].site.script_alias.items[1].directory, "/srv/tools");
        cr_assert_neq(c->vhosts[1].site.custom_log.path, c->site.custom_log.path);
        cr_assert_str_eq(c->vhosts[1].site.custom_log.format, "combined");

        /* the parsed values compare as the file writes them: the same files are equal, another
         * format is not */
        const ConfItem *alias = conf_table_find(http_site_directives, "ScriptAlias");
        const ConfItem *handler = conf_table_find(http_site_directives, "AddHandler");
        const ConfItem *log = conf_table_find(http_site_directives, "CustomLog");
        cr_assert_eq(load("@/mpmd.conf", NULL, &d), 0, "%s", joined(&errors));
        cr_assert(conf_item_equal(alias, &c->site, &d->site));
        cr_assert(conf_item_equal(handler, &c->site, &d->site));
        cr_assert(conf_item_equal(log, &c->site, &d->site));
        _cleanup_free_ char *text = conf_item_format(alias, &c->site);
        cr_assert_str_eq(text, "/cgi-bin/ /srv/cgi/ /tools/ /srv/tools");
        _cleanup_free_ char *htext = conf_item_format(handler, &c->site);
        cr_assert_str_eq(htext, "cgi-script .cgi .PL .sh");
        config_free(d);
        d = NULL;
        write_file("@/conf.d/10.conf", "[Server]\nScriptAlias = /tools/ /srv/tools\nAddHandler = cgi-script .sh\n"
                                       "CustomLog = /var/log/b.log common\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &d), 0, "%s", joined(&errors));
        cr_assert(conf_item_equal(alias, &c->site, &d->site));
        cr_assert_not(conf_item_equal(log, &c->site, &d->site));
        cr_assert_not(conf_item_equal(alias, &c->site, &d->vhosts[0].site));
        cr_assert_eq(config_check_reload(c, d, &errors), 0);
        config_free(d);
        config_free(c);

        /* the format is the text after the path as written, not its words joined again */
        write_file("@/conf.d/10.conf", "");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        cr_assert_str_eq(c->site.custom_log.format, "%h  %r");
        cr_assert_eq(c->site.custom_log.source.line, 5);
        config_free(c);
}

/* nginx's "conflicting server name": the same name on one address, in two sites. */
Test(config, the_same_server_name_on_one_address_is_a_warning) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\n"
                                  "Listen = x\n"
                                  "ServerName = main.test\n"
                                  "[VirtualHost a]\n"
                                  "ServerName = a.test\n"
                                  "ServerAlias = www.a.test main.test\n"
                                  "[VirtualHost c]\n"
                                  "Listen = 127.0.0.1:9\n"
                                  "ServerName = a.test\n"
                                  "[VirtualHost d]\n"
                                  "Listen = 127.0.0.1:9\n"
                                  "ServerAlias = a.test\n");
        write_file("@/conf.d/10.conf", "[VirtualHost b]\nServerName = b.test\nServerAlias = WWW.A.test\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        assert_messages(&warnings, 3,
                        "@/mpmd.conf:12: [VirtualHost d] ServerAlias: conflicting server name \"a.test\" on the same "
                        "address as [VirtualHost c] (@/mpmd.conf:9): requests for it go to [VirtualHost c]",
                        "@/conf.d/10.conf:3: [VirtualHost b] ServerAlias: conflicting server name \"WWW.A.test\" on the "
                        "same address as [VirtualHost a] (@/mpmd.conf:6): requests for it go to [VirtualHost a]",
                        "@/mpmd.conf:3: [Server] ServerName: conflicting server name \"main.test\" on the same address "
                        "as [VirtualHost a] (@/mpmd.conf:6): requests for it go to [VirtualHost a]");
        config_free(c);

        /* distinct names, or the same name on other addresses, or one inherited: nothing */
        conf_errors_done(&warnings);
        write_file("@/mpmd.conf", "[Server]\nListen = x\nServerName = main.test\n"
                                  "[VirtualHost a]\nListen = 127.0.0.1:9\nServerName = main.test\n"
                                  "[VirtualHost b]\nServerAlias = b.test\n[VirtualHost c]\nServerAlias = c.test\n");
        write_file("@/conf.d/10.conf", "");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        assert_messages(&warnings, 0);
        config_free(c);
}

Test(config, every_error_of_every_file_is_reported) {
        Config *c = (Config *) 1;

        write_file("@/mpmd.conf", "[Server]\n"
                                  "Listen = x\n"
                                  "Timeout = soon\n"
                                  "no equals sign\n"
                                  "[Nope]\n"
                                  "Ignored = 1\n"
                                  "[Server]\n"
                                  "MaxRanges = 10001\n"
                                  "Bogus = 1\n"
                                  "also no equals sign\n");
        write_file("@/conf.d/10.conf", "[Server]\nKeepAlive = sometimes\n[VirtualHost a]\nUser =\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), -EINVAL);
        cr_assert_null(c);
        cr_assert_eq(errors.n, 8, "%s", joined(&errors));
        cr_assert(has_message(&errors, "@/mpmd.conf:3: [Server] TimeOut: expected a time from 1 to 3600 s, got \"soon\""));
        cr_assert(has_message(&errors, "@/mpmd.conf:4: expected \"Key = value\" or \"[Section]\""));
        cr_assert(has_message(&errors, "@/mpmd.conf:5: unknown section [Nope]; expected [Server], [VirtualHost NAME], [Location /PATH] or "
                                       "an MPM section"));
        cr_assert(has_message(&errors, "@/mpmd.conf:8: [Server] MaxRanges: expected a number from 0 to 10000, got "
                                       "\"10001\""));
        cr_assert(has_message(&errors, "@/mpmd.conf:9: unknown key \"Bogus\" in [Server]"));
        cr_assert(has_message(&errors, "@/mpmd.conf:10: expected \"Key = value\" or \"[Section]\""));
        cr_assert(has_message(&errors, "@/conf.d/10.conf:2: [Server] KeepAlive: expected On or Off, got \"sometimes\""));
        cr_assert(has_message(&errors, "@/conf.d/10.conf:4: [VirtualHost a] User: expected a user name, got \"\""));
}

Test(config, a_scalar_set_again_in_a_later_file_overrides_silently) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = x\nTimeOut = 5\n");
        write_file("@/conf.d/a.conf", "[Server]\nTimeOut = 6\n");
        write_file("@/conf.d/b.conf", "[Server]\nTimeOut = 7\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        cr_assert_eq(c->site.timeout, 7 * USEC_PER_SEC);
        config_free(c);
}

Test(config, the_main_file_must_exist) {
        Config *c = (Config *) 1;

        write_file("@/conf.d/a.conf", "[Server]\nListen = x\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), -EINVAL);
        cr_assert_null(c);
        assert_messages(&errors, 1, "@/mpmd.conf: cannot open: No such file or directory");
}

/* ---- the file system ---------------------------------------------------------------------- */

Test(config, document_root_must_be_an_existing_directory) {
        ConfigLoadOptions o = { .builtin_mpm = &fake_mpm, .check_filesystem = true };
        Config *c = (Config *) 1;

        write_file("@/a-file", "");
        cr_assert_eq(mkdir(at("@/htdocs"), 0755), 0);
        write_file("@/mpmd.conf", "[Server]\nListen = x\nDocumentRoot = @/missing\n"
                                  "[VirtualHost a]\nDocumentRoot = @/htdocs\n"
                                  "[VirtualHost b]\n"
                                  "[VirtualHost c]\n");
        write_file("@/conf.d/10.conf", "[VirtualHost d]\nDocumentRoot = @/a-file\n");
        cr_assert_eq(load("@/mpmd.conf", &o, &c), -EINVAL);
        cr_assert_null(c);
        /* b and c inherit [Server]'s: it is reported once, where it was set */
        assert_messages(&errors, 2, "@/mpmd.conf:3: [Server] DocumentRoot: @/missing: No such file or directory",
                        "@/conf.d/10.conf:2: [VirtualHost d] DocumentRoot: @/a-file: Not a directory");

        /* the same files without the check load fine */
        conf_errors_done(&errors);
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        cr_assert_str_eq(c->vhosts[1].site.document_root, at("@/missing"));
        config_free(c);
}

Test(config, user_and_group_resolve) {
        ConfigLoadOptions o = { .builtin_mpm = &fake_mpm, .check_filesystem = true };
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = x\nUser = root\n");
        cr_assert_eq(load("@/mpmd.conf", &o, &c), 0, "%s", joined(&errors));
        cr_assert_eq(c->uid, 0);
        cr_assert_eq(c->gid, 0); /* root's primary group */
        config_free(c);

        write_file("@/mpmd.conf", "[Server]\nListen = x\nUser = root\nGroup = daemon\n");
        cr_assert_eq(load("@/mpmd.conf", &o, &c), 0, "%s", joined(&errors));
        cr_assert_eq(c->uid, 0);
        cr_assert_eq(c->gid, 1);
        config_free(c);
}

/* A missing ScriptAlias directory is reported at the line that names it, not at the key's last line. */
Test(config, a_missing_script_alias_directory_is_reported_at_its_line) {
        ConfigLoadOptions o = { .builtin_mpm = &fake_mpm, .check_filesystem = true };
        Config *c = (Config *) 1;

        write_file("@/mpmd.conf", "[Server]\nListen = x\nScriptAlias = /gone/ @/gone\nServerName = x\n"
                                  "ScriptAlias = /here/ @\n");
        cr_assert_eq(load("@/mpmd.conf", &o, &c), -EINVAL);
        cr_assert_null(c);
        assert_messages(&errors, 1, "@/mpmd.conf:3: [Server] ScriptAlias: @/gone: No such file or directory");
}

Test(config, site_keys_checked_whole_with_their_line) {
        Config *c = (Config *) 1;

        write_file("@/mpmd.conf", "[Server]\nListen = x\nRequestReadTimeout = header=abc\n"
                                  "CustomLog = /var/log/a.log %h %Q\n");
        write_file("@/conf.d/1.conf", "[VirtualHost v]\nServerName = v\nScriptAlias = cgi-bin /srv/cgi\n"
                                      "CustomLog = rel.log common\nRequestReadTimeout = body=20,MinRate=500\n"
                                      "[VirtualHost w]\nServerName = w\nScriptAlias = /cgi-bin/ /nonexistent/cgi\n"
                                      "AddHandler = php-script .php\n");
        ConfigLoadOptions o = { .builtin_mpm = &fake_mpm, .check_filesystem = true };
        cr_assert_eq(load("@/mpmd.conf", &o, &c), -EINVAL);
        cr_assert_null(c);
        cr_assert_eq(errors.n, 6, "%s", joined(&errors));
        const char *want[] = {
                "@/conf.d/1.conf:9: [VirtualHost w] AddHandler: unknown handler \"php-script\"",
                "@/mpmd.conf:4: [Server] CustomLog: ",
                "@/conf.d/1.conf:4: [VirtualHost v] CustomLog: \"rel.log\" is not an absolute path",
                "@/mpmd.conf:3: [Server] RequestReadTimeout: ",
                "@/conf.d/1.conf:3: [VirtualHost v] ScriptAlias: \"cgi-bin\" is not a URL path",
                "@/conf.d/1.conf:8: [VirtualHost w] ScriptAlias: /nonexistent/cgi: No such file or "
                "directory",
        };
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                const char *expected = at(want[i]);
                bool found = false;
                for (size_t k = 0; k < errors.n; k++)
                        found = found || strncmp(errors.msgs[k], expected, strlen(expected)) == 0;
                cr_assert(found, "no \"%s\" in:\n%s", expected, joined(&errors));
        }
}

Test(config, unknown_user_and_group_are_errors) {
        ConfigLoadOptions o = { .builtin_mpm = &fake_mpm, .check_filesystem = true };
        Config *c = (Config *) 1;

        write_file("@/mpmd.conf", "[Server]\nListen = x\nUser = no-such-user-mpmd\n");
        write_file("@/conf.d/1.conf", "[Server]\nGroup = no-such-group-mpmd\n[VirtualHost a]\nUser = root\n");
        cr_assert_eq(load("@/mpmd.conf", &o, &c), -EINVAL);
        cr_assert_null(c);
        assert_messages(&errors, 3, "@/mpmd.conf:3: [Server] User: no such user \"no-such-user-mpmd\"",
                        "@/conf.d/1.conf:2: [Server] Group: no such group \"no-such-group-mpmd\"",
                        "@/conf.d/1.conf:4: [VirtualHost a] User: \"root\" has uid 0, below MinUID 1000");
}

/* ---- reload ------------------------------------------------------------------------------- */

Test(config, restart_only_keys_cannot_change_on_reload) {
        Config *old = NULL, *new = NULL;

        write_file("@/a/mpmd.conf", "[Server]\nListen = x\n[fake]\nMaxRequestWorkers = 4\n");
        write_file("@/b/mpmd.conf", "[Server]\nListen = y\nTimeOut = 9\n[fake]\nServerLimit = 32\nMaxRequestWorkers = 8\n");
        cr_assert_eq(load("@/a/mpmd.conf", NULL, &old), 0, "%s", joined(&errors));
        cr_assert_eq(load("@/b/mpmd.conf", NULL, &new), 0, "%s", joined(&errors));

        cr_assert_eq(config_check_reload(old, old, &errors), 0);
        assert_messages(&errors, 0);
        cr_assert_eq(config_check_reload(old, new, &errors), -EINVAL);
        assert_messages(&errors, 1,
                        "@/b/mpmd.conf: [fake] ServerLimit cannot change on reload (was 16, now 32): restart mpmd to "
                        "apply it");
        config_free(old);
        config_free(new);
}

Test(config, the_mpm_cannot_change_on_reload) {
        ConfigLoadOptions o = {};
        Config *old = NULL, *new = NULL;

        write_file("@/a/mpmd.conf", "[Server]\nListen = x\n");
        const MpmOps *builtin = mpm_builtin[0];
        char text[256], expect[256];
        if (!builtin)
                cr_skip_test("no MPM is built in (a build with shared MPMs)");
        snprintf(text, sizeof(text), "[Server]\nListen = x\nLoadModule = mpm_%s_module /x/mpm.so\n", builtin->name);
        snprintf(expect, sizeof(expect),
                 "@/b/mpmd.conf: MPM cannot change on reload (was fake, now %s): restart mpmd to apply it", builtin->name);
        write_file("@/b/mpmd.conf", text);
        cr_assert_eq(load("@/a/mpmd.conf", NULL, &old), 0, "%s", joined(&errors));
        cr_assert_eq(load("@/b/mpmd.conf", &o, &new), 0, "%s", joined(&errors));
        cr_assert_eq(config_check_reload(old, new, &errors), -EINVAL);
        assert_messages(&errors, 1, expect);
        config_free(old);
        config_free(new);
}

Test(config, log_level_names) {
        cr_assert_str_eq(log_level_to_string(LOG_LEVEL_EMERG), "emerg");
        cr_assert_str_eq(log_level_to_string(LOG_LEVEL_ERR), "error");
        cr_assert_str_eq(log_level_to_string(LOG_LEVEL_WARNING), "warn");
        cr_assert_str_eq(log_level_to_string(LOG_LEVEL_DEBUG), "debug");
        cr_assert_null(log_level_to_string(LOG_LEVEL_DEBUG + 1));
        cr_assert_null(log_level_to_string(-1));
}

/* ---- Include, Define, ${NAME} ------------------------------------------------------------- */

/* Included files are read where the Include line stands, in lexical order, each starting in the
 * section of the line; a section they open ends with them. */
Test(config, include_reads_files_in_place_and_in_order) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080\nInclude = sites/*.conf\nDocumentRoot = @\n");
        write_file("@/sites/20-b.conf", "ServerName = b.test\n[VirtualHost b]\nServerName = b.test\n");
        write_file("@/sites/10-a.conf", "ServerName = a.test\n[VirtualHost a]\nServerName = a.test\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        cr_assert_str_eq(c->site.server_name, "b.test"); /* 20-b's first line is in [Server] too */
        cr_assert_str_eq(c->site.document_root, dir);    /* back in [Server] after the Include */
        cr_assert_eq(c->n_vhosts, 2);
        cr_assert_str_eq(c->vhosts[0].name, "a");
        cr_assert_str_eq(c->vhosts[1].name, "b");
        cr_assert_str_eq(c->vhosts[1].source.file, at("@/sites/20-b.conf"));
        cr_assert_eq(c->vhosts[1].source.line, 2);
        config_free(c);
}

Test(config, include_matching_nothing_is_fine_and_confd_still_works) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080\nInclude = none/*.conf\nInclude = @/missing.conf\n"
                                 "DocumentRoot = @\n");
        write_file("@/conf.d/a.conf", "[Server]\nServerName = confd.test\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), 0, "%s", joined(&errors));
        cr_assert_str_eq(c->site.server_name, "confd.test");
        config_free(c);
}

Test(config, errors_in_an_included_file_name_it) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080\nDocumentRoot = @\n[VirtualHost x]\n"
                                 "Include = x.conf\n");
        write_file("@/x.conf", "ServerName = x.test\nKeepAliveTimeout = soon\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), -EINVAL);
        assert_messages(&errors, 1,
                        "@/x.conf:2: [VirtualHost x] KeepAliveTimeout: expected a time from 1ms to 3600 s, got \"soon\"");
}

Test(config, an_include_circle_is_an_error_naming_the_chain) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080\nDocumentRoot = @\nInclude = a.conf\n");
        write_file("@/a.conf", "Include = b.conf\n");
        write_file("@/b.conf", "Include = @/a.conf\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), -EINVAL);
        assert_messages(&errors, 1,
                        "@/b.conf:1: Include: @/a.conf is already being read (@/mpmd.conf -> @/a.conf -> @/b.conf -> "
                        "@/a.conf): a file cannot include itself");
}

Test(config, include_depth_is_bounded) {
        Config *c = NULL;
        char name[64], content[64];

        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080\nDocumentRoot = @\nInclude = 1.conf\n");
        for (int i = 1; i <= 20; i++) {
                snprintf(name, sizeof(name), "@/%d.conf", i);
                snprintf(content, sizeof(content), "Include = %d.conf\n", i + 1);
                write_file(name, content);
        }
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), -EINVAL);
        cr_assert_eq(errors.n, 1, "%s", joined(&errors));
        cr_assert(strstr(errors.msgs[0], at("@/16.conf:1: Include: more than 16 levels of Include (@/mpmd.conf -> @/1.conf")),
                  "%s", joined(&errors));
}

Test(config, include_of_a_folder_and_a_continuation_are_errors) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080\nDocumentRoot = @\nInclude = sub\n"
                                 "Include = x.conf\n  y.conf\n");
        write_file("@/sub/a.conf", "\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), -EINVAL);
        assert_messages(&errors, 2, "@/mpmd.conf:4: Include: @/sub is a directory: write @/sub/*.conf",
                        "@/mpmd.conf:6: Include takes one line: a continuation line is not allowed");
}

/* The loader reads LoadModule lines of included files in [Server] too. */
Test(config, a_loadmodule_in_an_included_file_counts) {
        Config *c = NULL;

        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080\nDocumentRoot = @\nInclude = mods.conf\n");
        write_file("@/mods.conf", "LoadModule = mpm_fake_module relative.so\n");
        cr_assert_eq(load("@/mpmd.conf", NULL, &c), -EINVAL);
        assert_messages(&errors, 1,
                        "@/mods.conf:1: [Server] LoadModule: expected a module name and an absolute path, got "
                        "\"mpm_fake_module relative.so\"");
}

Test(config, define_expands_in_later_values_and_files) {
        Config *c = NULL;
        char *const defines[] = { (char *) "NAME=cli.test", (char *) "EMPTY", NULL };
        ConfigLoadOptions o = { .builtin_mpm = &fake_mpm, .defines = defines };

        write_file("@/mpmd.conf", "Define = ROOT @\n[Server]\nDefine = PORT 8080\nListen = 127.0.0.1:${PORT}\n"
                                 "DocumentRoot = ${ROOT}${EMPTY}\nServerName = ${NAME}\nInclude = ${ROOT}/inc.conf\n"
                                 "ServerAlias = a.${NAME}\n  b.${NAME} $x ${unclosed\n");
        write_file("@/inc.conf", "Define = NAME file.test\n");
        write_file("@/conf.d/a.conf", "[VirtualHost v]\nServerName = v.${NAME}\n");
        cr_assert_eq(config_load(at("@/mpmd.conf"), &o, &c, &errors, &warnings), 0, "%s", joined(&errors));
        cr_assert_str_eq(c->listen[0], "127.0.0.1:8080");
        cr_assert_str_eq(c->site.document_root, dir);
        cr_assert_str_eq(c->site.server_name, "cli.test");
        cr_assert_str_eq(c->site.server_alias[0], "a.file.test");
        cr_assert_str_eq(c->site.server_alias[1], "b.file.test");
        cr_assert_str_eq(c->site.server_alias[2], "$x");
        cr_assert_str_eq(c->site.server_alias[3], "${unclosed");
        cr_assert_str_eq(c->vhosts[0].site.server_name, "v.file.test");
        config_free(c);
}

Test(config, an_undefined_name_is_an_error_at_its_line) {
        Config *c = NULL;
        char *const defines[] = { (char *) "9bad", NULL };
        ConfigLoadOptions o = { .builtin_mpm = &fake_mpm, .defines = defines };

        write_file("@/mpmd.conf", "[Server]\nListen = 127.0.0.1:8080\nDocumentRoot = @\nServerName = ${HOST}.test\n"
                                 "[VirtualHost x]\nDefine = A b\nServerName = x\n  ${NOPE}\n");
        write_file("@/conf.d/a.conf", "[Server]\nDefine = 1x y\n");
        cr_assert_eq(config_load(at("@/mpmd.conf"), &o, &c, &errors, &warnings), -EINVAL);
        assert_messages(&errors, 5,
                        "-D 9bad: a name is letters, digits and \"_\", not starting with a digit (-D NAME or -D "
                        "NAME=VALUE)",
                        "@/mpmd.conf:4: ${HOST} is not defined",
                        "@/mpmd.conf:6: Define is allowed only before the first section of a file or in [Server]: a "
                        "name is defined for everything read after it, whatever the section",
                        "@/mpmd.conf:8: ${NOPE} is not defined",
                        "@/conf.d/a.conf:2: Define: expected \"Define = NAME VALUE\", NAME being letters, digits and "
                        "\"_\", not starting with a digit; got \"1x y\"");
}
