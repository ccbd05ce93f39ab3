/* SPDX-License-Identifier: MIT */
/* The SSL* rows (tls-config.h) as the loader applies them (conf_item_apply_at with a file:line):
 * every key's default, Apache's forms of SSLProtocol and SSLCipherSuite, the values refused and
 * what they say, where each value was written, and the copy a [VirtualHost] inherits. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "http/site-config.h"

static HttpSiteConfig cfg;

static void setup(void) {
        cr_assert_eq(conf_table_defaults(http_site_directives, &cfg), 0);
}

static void teardown(void) {
        conf_table_free(http_site_directives, &cfg);
}

TestSuite(tls_config, .init = setup, .fini = teardown);

static const ConfItem *row(const char *key) {
        const ConfItem *it = conf_table_find(http_site_directives, key);

        cr_assert_not_null(it, "no row %s", key);
        return it;
}

/* Apply value as line of "site.conf"; returns the result, *ret_error kept for the caller. */
static int apply(const char *key, const char *value, unsigned line, bool replace, char **ret_error) {
        ConfApplyContext ctx = {.file = "site.conf", .line = line, .replace_list = replace};

        return conf_item_apply_at(row(key), &cfg, value, &ctx, ret_error);
}

static void apply_ok(const char *key, const char *value, unsigned line, bool replace) {
        char *why = NULL;

        cr_assert_eq(apply(key, value, line, replace, &why), 0, "%s = %s: %s", key, value, why ? why : "");
        free(why);
}

static void apply_fails(const char *key, const char *value, const char *part) {
        char *why = NULL;

        cr_assert_eq(apply(key, value, 7, true, &why), -EINVAL, "%s = %s was accepted", key, value);
        cr_assert_not_null(why, "%s = %s: no reason", key, value);
        cr_assert_not_null(strstr(why, part), "%s = %s: \"%s\" does not say \"%s\"", key, value, why, part);
        free(why);
}

static char *formatted(const char *key) {
        return conf_item_format(row(key), &cfg);
}

/* ---- defaults ------------------------------------------------------------------------------- */

Test(tls_config, defaults_are_mozilla_intermediate) {
        _cleanup_free_ char *p = formatted("SSLProtocol");

        cr_assert_eq(cfg.tls.certificates.n, 0);
        cr_assert_eq(cfg.tls.keys.n, 0);
        cr_assert_eq(cfg.tls.protocols.mask, HTTP_TLS_V1_2 | HTTP_TLS_V1_3);
        cr_assert_null(cfg.tls.protocols.file);
        cr_assert_str_eq(p, "TLSv1.2 TLSv1.3");
        cr_assert_str_eq(cfg.tls.ciphers.tls12, HTTP_TLS_CIPHERS_TLS12_DEFAULT);
        cr_assert_str_eq(cfg.tls.ciphers.tls13, HTTP_TLS_CIPHERS_TLS13_DEFAULT);
        cr_assert_null(cfg.tls.ciphers.tls12_file);
        cr_assert_null(cfg.tls.ciphers.tls13_file);
        cr_assert(cfg.tls.honor_cipher_order); /* testssl.sh rates no server order HIGH */
        cr_assert(cfg.tls.session_tickets);
        cr_assert_eq(cfg.tls.ticket_lifetime, 3600 * USEC_PER_SEC);
        cr_assert_not(cfg.tls.strict_sni);
}

/* ---- certificates and keys ------------------------------------------------------------------ */

Test(tls_config, certificate_and_key_lines_keep_their_place) {
        apply_ok("SSLCertificateFile", "/etc/ssl/ec.pem", 3, true);
        apply_ok("SSLCertificateKeyFile", "/etc/ssl/private/ec.key", 4, true);
        apply_ok("SSLCertificateFile", "/etc/ssl/rsa.pem", 5, false);
        apply_ok("SSLCertificateKeyFile", "credential:mpmd-rsa", 6, false);
        cr_assert_eq(cfg.tls.certificates.n, 2);
        cr_assert_str_eq(cfg.tls.certificates.lines[1].value, "/etc/ssl/rsa.pem");
        cr_assert_str_eq(cfg.tls.certificates.lines[1].file, "site.conf");
        cr_assert_eq(cfg.tls.certificates.lines[1].line, 5);
        cr_assert_eq(cfg.tls.keys.n, 2);
        cr_assert_str_eq(cfg.tls.keys.lines[1].value, "credential:mpmd-rsa");
        cr_assert_eq(cfg.tls.keys.lines[1].line, 6);
}

Test(tls_config, at_most_two_pairs) {
        char *why = NULL;

        apply_ok("SSLCertificateFile", "/a.pem", 3, true);
        apply_ok("SSLCertificateFile", "/b.pem", 4, false);
        cr_assert_eq(apply("SSLCertificateFile", "/c.pem", 5, false, &why), -EINVAL);
        cr_assert_not_null(strstr(why, "at most 2 certificates"), "%s", why);
        cr_assert_not_null(strstr(why, "site.conf:3"), "%s", why);
        free(why);
        cr_assert_eq(cfg.tls.certificates.n, 2, "the refused line is not kept");
        /* A new file's first line replaces. */
        apply_ok("SSLCertificateFile", "/c.pem", 9, true);
        cr_assert_eq(cfg.tls.certificates.n, 1);
}

Test(tls_config, bad_paths_and_credentials) {
        apply_fails("SSLCertificateFile", "cert.pem", "not an absolute path");
        apply_fails("SSLCertificateFile", "", "not an absolute path");
        apply_fails("SSLCertificateKeyFile", "private/key.pem", "neither an absolute path nor credential:NAME");
        apply_fails("SSLCertificateKeyFile", "credential:", "plain file name");
        apply_fails("SSLCertificateKeyFile", "credential:../shadow", "plain file name");
        apply_fails("SSLCertificateKeyFile", "credential:a/b", "plain file name");
        apply_fails("SSLCertificateKeyFile", "credential:..", "plain file name");
}

/* ---- SSLProtocol ---------------------------------------------------------------------------- */

/* The text in the case itself: criterion hands a case to the test process as bytes. */
typedef struct ProtocolCase {
        char value[48];
        unsigned mask;
} ProtocolCase;

ParameterizedTestParameters(tls_config, protocol_forms) {
        static ProtocolCase cases[] = {
                {"all", HTTP_TLS_V1_2 | HTTP_TLS_V1_3},
                {"TLSv1.2 TLSv1.3", HTTP_TLS_V1_2 | HTTP_TLS_V1_3},
                {"TLSv1.3", HTTP_TLS_V1_3},
                {"+TLSv1.3", HTTP_TLS_V1_3},
                {"tlsv1.2", HTTP_TLS_V1_2},
                {"all -TLSv1.2", HTTP_TLS_V1_3},
                {"all -TLSv1.1", HTTP_TLS_V1_2 | HTTP_TLS_V1_3},
                {"all +TLSv1.1", HTTP_TLS_V1_1 | HTTP_TLS_V1_2 | HTTP_TLS_V1_3},
                {"TLSv1 TLSv1.2", HTTP_TLS_V1_0 | HTTP_TLS_V1_2},
                {"  TLSv1.2\t+TLSv1.3  ", HTTP_TLS_V1_2 | HTTP_TLS_V1_3},
        };
        return cr_make_param_array(ProtocolCase, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(ProtocolCase *c, tls_config, protocol_forms) {
        apply_ok("SSLProtocol", c->value, 12, false);
        cr_assert_eq(cfg.tls.protocols.mask, c->mask, "%s: %#x", c->value, cfg.tls.protocols.mask);
        cr_assert_str_eq(cfg.tls.protocols.file, "site.conf");
        cr_assert_eq(cfg.tls.protocols.line, 12);
}

Test(tls_config, protocol_errors) {
        apply_fails("SSLProtocol", "SSLv3", "SSLv3 is broken and not supported");
        apply_fails("SSLProtocol", "all +SSLv2", "SSLv2 is broken");
        apply_fails("SSLProtocol", "TLSv1.4", "unknown protocol \"TLSv1.4\"");
        apply_fails("SSLProtocol", "-TLSv1.2", "leaves no protocol enabled");
        apply_fails("SSLProtocol", "TLSv1.3 -TLSv1.3", "leaves no protocol enabled");
        apply_fails("SSLProtocol", "", "at least one protocol");
        cr_assert_eq(cfg.tls.protocols.mask, HTTP_TLS_V1_2 | HTTP_TLS_V1_3, "refused values change nothing");
}

Test(tls_config, protocol_format) {
        _cleanup_free_ char *p = NULL;

        apply_ok("SSLProtocol", "all +TLSv1", 3, false);
        p = formatted("SSLProtocol");
        cr_assert_str_eq(p, "TLSv1 TLSv1.2 TLSv1.3");
}

/* ---- SSLCipherSuite ------------------------------------------------------------------------- */

Test(tls_config, cipher_suite_forms) {
        /* The first line of a section replaces the default: both lists start from the defaults. */
        apply_ok("SSLCipherSuite", "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384", 20, true);
        cr_assert_str_eq(cfg.tls.ciphers.tls12, "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384");
        cr_assert_str_eq(cfg.tls.ciphers.tls12_file, "site.conf");
        cr_assert_eq(cfg.tls.ciphers.tls12_line, 20);
        cr_assert_str_eq(cfg.tls.ciphers.tls13, HTTP_TLS_CIPHERS_TLS13_DEFAULT);
        cr_assert_null(cfg.tls.ciphers.tls13_file);

        /* Apache 2.4's form for TLS 1.3, on a line of its own. */
        apply_ok("SSLCipherSuite", "TLSv1.3 TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256", 21, false);
        cr_assert_str_eq(cfg.tls.ciphers.tls13, "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
        cr_assert_eq(cfg.tls.ciphers.tls13_line, 21);
        cr_assert_str_eq(cfg.tls.ciphers.tls12, "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384",
                         "the TLS 1.2 list stays");

        /* "SSL LIST" is the TLS ≤ 1.2 list. */
        apply_ok("SSLCipherSuite", "SSL ECDHE-RSA-AES128-GCM-SHA256", 22, false);
        cr_assert_str_eq(cfg.tls.ciphers.tls12, "ECDHE-RSA-AES128-GCM-SHA256");
        cr_assert_eq(cfg.tls.ciphers.tls12_line, 22);
        cr_assert_eq(cfg.tls.ciphers.tls13_line, 21);
}

Test(tls_config, cipher_suite_errors) {
        apply_fails("SSLCipherSuite", "TLSv1.3 ", "needs a cipher list");
        apply_fails("SSLCipherSuite", "", "needs a cipher list");
        apply_fails("SSLCipherSuite", "SSL ", "needs a cipher list after SSL");
        apply_fails("SSLCipherSuite", "TLSv1.3", "needs a cipher list after TLSv1.3");
        apply_fails("SSLCipherSuite", "ssl", "needs a cipher list after SSL");
        apply_fails("SSLCipherSuite", "ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-AES256-GCM-SHA384", "joined by ':'");
        cr_assert_str_eq(cfg.tls.ciphers.tls12, HTTP_TLS_CIPHERS_TLS12_DEFAULT, "refused values change nothing");
}

/* ---- the switches --------------------------------------------------------------------------- */

Test(tls_config, switches_and_lifetime) {
        apply_ok("SSLHonorCipherOrder", "On", 3, false);
        apply_ok("SSLSessionTickets", "off", 4, false);
        apply_ok("SSLStrictSNIVHostCheck", "on", 5, false);
        apply_ok("SSLSessionTicketLifetime", "300", 6, false);
        cr_assert(cfg.tls.honor_cipher_order);
        cr_assert_not(cfg.tls.session_tickets);
        cr_assert(cfg.tls.strict_sni);
        cr_assert_eq(cfg.tls.ticket_lifetime, 300 * USEC_PER_SEC);
        apply_ok("SSLSessionTicketLifetime", "604800", 7, false);
        cr_assert_eq(cfg.tls.ticket_lifetime, 604800 * USEC_PER_SEC);
        apply_fails("SSLSessionTicketLifetime", "59", "60 s to 7 days");
        apply_fails("SSLSessionTicketLifetime", "604801", "60 s to 7 days");
        apply_fails("SSLHonorCipherOrder", "maybe", "On or Off");
}

/* ---- what a [VirtualHost] inherits ------------------------------------------------------------ */

Test(tls_config, copied_whole_and_freed_with_the_copy) {
        HttpSiteConfig vhost = {};

        apply_ok("SSLCertificateFile", "/etc/ssl/a.pem", 3, true);
        apply_ok("SSLProtocol", "TLSv1.3", 4, false);
        apply_ok("SSLCipherSuite", "TLSv1.3 TLS_AES_256_GCM_SHA384", 5, true);
        for (const ConfItem *it = http_site_directives; it->key; it++)
                cr_assert_eq(conf_item_copy(it, &vhost, &cfg), 0, "%s", it->key);
        conf_table_free(http_site_directives, &cfg);
        setup(); /* the original gone: the copy owns its own */
        cr_assert_eq(vhost.tls.certificates.n, 1);
        cr_assert_str_eq(vhost.tls.certificates.lines[0].value, "/etc/ssl/a.pem");
        cr_assert_eq(vhost.tls.protocols.mask, HTTP_TLS_V1_3);
        cr_assert_str_eq(vhost.tls.protocols.file, "site.conf");
        cr_assert_eq(vhost.tls.protocols.line, 4);
        cr_assert_str_eq(vhost.tls.ciphers.tls13, "TLS_AES_256_GCM_SHA384");
        cr_assert_eq(vhost.tls.ciphers.tls13_line, 5);
        cr_assert_str_eq(vhost.tls.ciphers.tls12, HTTP_TLS_CIPHERS_TLS12_DEFAULT);
        cr_assert(conf_item_equal(row("SSLCipherSuite"), &vhost, &vhost));
        cr_assert_not(conf_item_equal(row("SSLCipherSuite"), &vhost, &cfg));
        conf_table_free(http_site_directives, &vhost);
}

/* ---- client certificates ---------------------------------------------------------------------- */

Test(tls_config, client_verification_defaults_to_none) {
        _cleanup_free_ char *v = formatted("SSLVerifyClient");

        cr_assert_eq(cfg.tls.verify.mode, HTTP_TLS_VERIFY_NONE);
        cr_assert_null(cfg.tls.verify.file);
        cr_assert_str_eq(v, "none");
        cr_assert_eq(cfg.tls.verify_depth, 1); /* Apache's default */
        cr_assert_eq(cfg.tls.ca_file.n, 0);
}

Test(tls_config, client_verification_levels_keep_their_place) {
        static const struct {
                const char *value;
                int mode;
        } levels[] = {
                {"none", HTTP_TLS_VERIFY_NONE},
                {"optional", HTTP_TLS_VERIFY_OPTIONAL},
                {"REQUIRE", HTTP_TLS_VERIFY_REQUIRE},
                {"optional_no_ca", HTTP_TLS_VERIFY_OPTIONAL_NO_CA},
        };

        for (size_t i = 0; i < ELEMENTSOF(levels); i++) {
                apply_ok("SSLVerifyClient", levels[i].value, 10 + (unsigned) i, false);
                cr_assert_eq(cfg.tls.verify.mode, levels[i].mode, "%s", levels[i].value);
                cr_assert_str_eq(cfg.tls.verify.file, "site.conf");
                cr_assert_eq(cfg.tls.verify.line, 10 + i);
        }
        apply_fails("SSLVerifyClient", "yes", "expected none, optional, require or optional_no_ca");
        apply_fails("SSLVerifyClient", "2", "expected none, optional, require or optional_no_ca");
        cr_assert_eq(cfg.tls.verify.mode, HTTP_TLS_VERIFY_OPTIONAL_NO_CA, "a refused value changes nothing");
}

Test(tls_config, one_ca_bundle_and_a_depth) {
        char *why = NULL;

        apply_ok("SSLCACertificateFile", "/etc/ssl/clients.pem", 3, true);
        cr_assert_eq(cfg.tls.ca_file.n, 1);
        cr_assert_eq(cfg.tls.ca_file.lines[0].line, 3);
        cr_assert_eq(apply("SSLCACertificateFile", "/etc/ssl/more.pem", 4, false, &why), -EINVAL);
        cr_assert_not_null(strstr(why, "given once"), "%s", why);
        cr_assert_not_null(strstr(why, "site.conf:3"), "%s", why);
        free(why);
        apply_fails("SSLCACertificateFile", "clients.pem", "not an absolute path");
        apply_ok("SSLVerifyDepth", "0", 5, false);
        cr_assert_eq(cfg.tls.verify_depth, 0);
        apply_ok("SSLVerifyDepth", "10", 6, false);
        cr_assert_eq(cfg.tls.verify_depth, 10);
        apply_fails("SSLVerifyDepth", "101", "from 0 to 100");
        apply_fails("SSLVerifyDepth", "-1", "from 0 to 100");
}
