/* SPDX-License-Identifier: MIT */
/* The certificate store (tls-store.h): what building it checks (pairs, keys, cipher lists, the
 * default site of each TLS listener, credentials) with the file:line of the directive, the
 * warnings (expiry, names), and what a client sees: real handshakes in-process over a socketpair
 * choose the certificate by SNI, refuse an unknown name under SSLStrictSNIVHostCheck, pick ALPN,
 * keep a site's protocol versions and its tickets to itself. The certificates are made here. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/site-config.h"
#include "mpm/tls-store.h"
#include "shared/strv.h"

#define LISTENER "https://127.0.0.1:443"
#define CONF "test.conf"

static char dir[] = "/tmp/mpmd-test-tls-store-XXXXXX";

static void setup(void) {
        cr_assert_not_null(mkdtemp(dir));
        unsetenv("CREDENTIALS_DIRECTORY");
}

static void teardown(void) {
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void) system(cmd);
}

TestSuite(tls_store, .init = setup, .fini = teardown);

/* ---- certificates, made in-process ------------------------------------------------------------- */

typedef enum KeyKind { KEY_EC, KEY_RSA } KeyKind;

/* DIR/NAME.crt and DIR/NAME.key: a self-signed certificate for names (its SANs, the first also
 * its CN), valid from days_from to days_to (days from now, and ten minutes). */
static void make_cert(const char *name, KeyKind kind, const char *const *names, long days_from, long days_to) {
        EVP_PKEY *pkey = kind == KEY_EC ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
        X509 *x = X509_new();
        X509_NAME *subject;
        X509_EXTENSION *ext;
        char path[256], san[512] = "";
        FILE *f;

        cr_assert_not_null(pkey);
        cr_assert_not_null(x);
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), (long) random());
        X509_gmtime_adj(X509_getm_notBefore(x), days_from * 86400);
        X509_gmtime_adj(X509_getm_notAfter(x), days_to * 86400 + 600); /* whole days from now on */
        X509_set_pubkey(x, pkey);
        subject = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, (const unsigned char *) names[0], -1, -1, 0);
        X509_set_issuer_name(x, subject);
        for (size_t i = 0; names[i]; i++) {
                strcat(san, i ? ",DNS:" : "DNS:");
                strcat(san, names[i]);
        }
        ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
        cr_assert_not_null(ext);
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
        cr_assert(X509_sign(x, pkey, EVP_sha256()) > 0);

        snprintf(path, sizeof(path), "%s/%s.crt", dir, name);
        f = fopen(path, "w");
        cr_assert_not_null(f);
        PEM_write_X509(f, x);
        fclose(f);
        snprintf(path, sizeof(path), "%s/%s.key", dir, name);
        f = fopen(path, "w");
        cr_assert_not_null(f);
        PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
        fclose(f);
        X509_free(x);
        EVP_PKEY_free(pkey);
}

#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

static char *file_in_dir(const char *name, const char *ext) {
        char *p;

        cr_assert(asprintf(&p, "%s/%s.%s", dir, name, ext) > 0);
        return p;
}

/* ---- sites, configured through their rows -------------------------------------------------------- */

typedef struct TestSite {
        HttpSiteConfig cfg;
        unsigned line; /* the next line of CONF */
} TestSite;

static void site_init(TestSite *s, const char *server_name) {
        memset(s, 0, sizeof(*s));
        cr_assert_eq(conf_table_defaults(http_site_directives, &s->cfg), 0);
        s->line = 10;
        if (server_name) {
                s->cfg.server_name = strdup(server_name);
                s->cfg.document_root = strdup("/");
        }
}

/* Apply "KEY = value" as line s->line of CONF; returns that line. */
static unsigned site_set(TestSite *s, const char *key, const char *value) {
        const ConfItem *it = conf_table_find(http_site_directives, key);
        ConfApplyContext ctx = {.file = CONF, .line = s->line};
        _cleanup_free_ char *why = NULL;
        ConfLines *l;

        cr_assert_not_null(it, "%s", key);
        l = (ConfLines *) ((char *) &s->cfg + it->offset);
        ctx.replace_list = it->type == CONF_LINES ? l->n == 0 : it->type == CONF_CUSTOM;
        cr_assert_eq(conf_item_apply_at(it, &s->cfg, value, &ctx, &why), 0, "%s = %s: %s", key, value, why);
        return s->line++;
}

static void site_set_pair(TestSite *s, const char *name) {
        _cleanup_free_ char *crt = file_in_dir(name, "crt"), *key = file_in_dir(name, "key");

        site_set(s, "SSLCertificateFile", crt);
        site_set(s, "SSLCertificateKeyFile", key);
}

static void site_done(TestSite *s) {
        conf_table_free(http_site_directives, &s->cfg);
}

typedef struct Build {
        TlsStore *store;
        ConfErrors errors, warnings;
        int r;
} Build;

/* sites[0] is [Server], sites[1…] vhosts "v1", "v2", … with listen NULL unless given. */
static void build(Build *b, TestSite *sites, size_t n, char **server_listen, char **const *vhost_listen) {
        TlsStoreSite in[8];
        char sections[8][32];

        cr_assert_leq(n, 8);
        for (size_t i = 0; i < n; i++) {
                if (i == 0)
                        snprintf(sections[i], sizeof(sections[i]), "[Server]");
                else
                        snprintf(sections[i], sizeof(sections[i]), "[VirtualHost v%zu]", i);
                in[i] = (TlsStoreSite){
                        .name = i == 0 ? sites[i].cfg.server_name : sections[i],
                        .section = sections[i],
                        .cfg = &sites[i].cfg,
                        .listen = i > 0 && vhost_listen ? vhost_listen[i - 1] : NULL,
                        .listen_file = CONF,
                        .listen_line = i == 0 ? 2 : (unsigned) (100 + i),
                };
        }
        *b = (Build){};
        b->r = tls_store_new(in, n, server_listen, &b->store, &b->errors, &b->warnings);
}

static void build_done(Build *b) {
        tls_store_free(b->store);
        conf_errors_done(&b->errors);
        conf_errors_done(&b->warnings);
}

static bool has_message(const ConfErrors *e, const char *prefix, const char *part) {
        for (size_t i = 0; i < e->n; i++)
                if (strncmp(e->msgs[i], prefix, strlen(prefix)) == 0 && strstr(e->msgs[i], part))
                        return true;
        return false;
}

static void print_messages(const char *what, const ConfErrors *e) {
        for (size_t i = 0; i < e->n; i++)
                cr_log_info("%s: %s", what, e->msgs[i]);
}

#define assert_message(e, prefix, part)                                                        \
        do {                                                                                   \
                print_messages(#e, e);                                                         \
                cr_assert(has_message(e, prefix, part), "no message \"%s…%s\"", prefix, part); \
        } while (0)

/* ---- handshakes over a socketpair ------------------------------------------------------------------ */

typedef struct Client {
        SSL_CTX *ctx;
        SSL *ssl;
        SSL *server;
        int fds[2];
        int alert_received; /* the alert description the client read; -1: none */
        bool done;
} Client;

static void on_client_info(const SSL *ssl, int where, int ret) {
        Client *c = SSL_get_app_data(ssl);

        if ((where & SSL_CB_READ_ALERT) && c->alert_received < 0)
                c->alert_received = ret & 0xff;
}

typedef struct ClientOptions {
        const char *sni;
        int max_version;           /* 0: any */
        const char *sigalgs;       /* NULL: OpenSSL's */
        const char *ciphers;       /* TLS 1.2 cipher list, in the client's order; NULL: OpenSSL's */
        const unsigned char *alpn; /* wire format */
        unsigned alpn_len;
        SSL_SESSION *session; /* to resume */
} ClientOptions;

/* Handshake a client against a server SSL from tls_store_new_ssl(); returns whether it completed. */
static bool handshake(Client *c, const TlsStore *store, const ClientOptions *o) {
        bool client_done = false, server_done = false, client_failed = false, server_failed = false, failed;

        memset(c, 0, sizeof(*c));
        c->alert_received = -1;
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, c->fds), 0);
        c->server = tls_store_new_ssl(store, LISTENER);
        cr_assert_not_null(c->server);
        SSL_set_fd(c->server, c->fds[0]);
        SSL_set_accept_state(c->server);

        c->ctx = SSL_CTX_new(TLS_client_method());
        cr_assert_not_null(c->ctx);
        if (o->max_version)
                SSL_CTX_set_max_proto_version(c->ctx, o->max_version);
        c->ssl = SSL_new(c->ctx);
        SSL_set_app_data(c->ssl, c);
        SSL_set_info_callback(c->ssl, on_client_info);
        if (o->sni)
                SSL_set_tlsext_host_name(c->ssl, o->sni);
        if (o->sigalgs)
                cr_assert(SSL_set1_sigalgs_list(c->ssl, o->sigalgs));
        if (o->ciphers)
                cr_assert(SSL_set_cipher_list(c->ssl, o->ciphers));
        if (o->alpn)
                cr_assert_eq(SSL_set_alpn_protos(c->ssl, o->alpn, o->alpn_len), 0);
        if (o->session)
                SSL_set_session(c->ssl, o->session);
        SSL_set_fd(c->ssl, c->fds[1]);
        SSL_set_connect_state(c->ssl);

        /* Until each side is done or has failed: a client reads the alert of a server that failed. */
        for (int i = 0; i < 100 && !((client_done || client_failed) && (server_done || server_failed)); i++) {
                if (!client_done && !client_failed) {
                        int r = SSL_do_handshake(c->ssl);
                        if (r == 1)
                                client_done = true;
                        else if (SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ)
                                client_failed = true;
                }
                if (!server_done && !server_failed) {
                        int r = SSL_do_handshake(c->server);
                        if (r == 1)
                                server_done = true;
                        else if (SSL_get_error(c->server, r) != SSL_ERROR_WANT_READ)
                                server_failed = true;
                }
        }
        failed = !client_done || !server_done;
        if (failed) {
                unsigned long e;
                while ((e = ERR_get_error()) != 0) {
                        char buf[256];
                        ERR_error_string_n(e, buf, sizeof(buf));
                        cr_log_info("handshake: %s", buf);
                }
        }
        ERR_clear_error();
        c->done = client_done && server_done && !failed;
        return c->done;
}

/* Let the client take the TLS 1.3 tickets that follow the handshake, and keep its session. */
static SSL_SESSION *client_session(Client *c) {
        char byte;

        cr_assert_eq(SSL_write(c->server, "x", 1), 1);
        cr_assert_eq(SSL_read(c->ssl, &byte, 1), 1);
        return SSL_get1_session(c->ssl);
}

static void client_done(Client *c) {
        /* A connection freed without close_notify makes its session unresumable (OpenSSL). */
        if (c->done) {
                (void) SSL_shutdown(c->ssl);
                (void) SSL_shutdown(c->server);
        }
        SSL_free(c->ssl);
        SSL_free(c->server);
        SSL_CTX_free(c->ctx);
        close(c->fds[0]);
        close(c->fds[1]);
}

/* The first DNS name of the certificate the client was shown. */
static char *peer_cn(const Client *c) {
        X509 *x = SSL_get1_peer_certificate(c->ssl);
        char cn[256] = "";

        if (!x)
                return strdup("(none)");
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
        X509_free(x);
        return strdup(cn);
}

static int peer_key_type(const Client *c) {
        X509 *x = SSL_get1_peer_certificate(c->ssl);
        int t = x ? EVP_PKEY_get_base_id(X509_get0_pubkey(x)) : 0;

        X509_free(x);
        return t;
}

/* ---- a server and two vhosts ---------------------------------------------------------------------- */

typedef struct ThreeSites {
        TestSite s[3];
        Build b;
} ThreeSites;

/* [Server] a.example, vhost b.example (alias *.b.example), vhost c.example: each its own
 * certificate; all on LISTENER. */
static void three_sites(ThreeSites *t, bool strict) {
        char *listen[] = {(char *) LISTENER, NULL};

        make_cert("a", KEY_EC, NAMES("a.example"), -1, 365);
        make_cert("b", KEY_EC, NAMES("b.example", "*.b.example"), -1, 365);
        make_cert("c", KEY_RSA, NAMES("c.example"), -1, 365);
        site_init(&t->s[0], "a.example");
        site_set_pair(&t->s[0], "a");
        if (strict)
                site_set(&t->s[0], "SSLStrictSNIVHostCheck", "On");
        site_init(&t->s[1], "b.example");
        site_set(&t->s[1], "ServerAlias", "*.b.example");
        site_set_pair(&t->s[1], "b");
        site_init(&t->s[2], "c.example");
        site_set_pair(&t->s[2], "c");
        build(&t->b, t->s, 3, listen, NULL);
        print_messages("error", &t->b.errors);
        cr_assert_eq(t->b.r, 0);
        cr_assert_not_null(t->b.store);
        cr_assert_eq(t->b.errors.n, 0);
        print_messages("warning", &t->b.warnings);
        cr_assert_eq(t->b.warnings.n, 0);
}

static void three_sites_done(ThreeSites *t) {
        build_done(&t->b);
        for (size_t i = 0; i < 3; i++)
                site_done(&t->s[i]);
}

static void assert_served(const TlsStore *store, const char *sni, const char *expected_cn) {
        Client c;
        _cleanup_free_ char *cn = NULL;

        cr_assert(handshake(&c, store, &(ClientOptions){.sni = sni}), "handshake with SNI %s", sni ? sni : "(none)");
        cn = peer_cn(&c);
        cr_assert_str_eq(cn, expected_cn, "SNI %s", sni ? sni : "(none)");
        client_done(&c);
}

Test(tls_store, sni_chooses_the_certificate) {
        ThreeSites t;

        three_sites(&t, false);
        assert_served(t.b.store, "a.example", "a.example");
        assert_served(t.b.store, "b.example", "b.example");
        assert_served(t.b.store, "www.B.example", "b.example"); /* an alias, any case */
        assert_served(t.b.store, "c.example", "c.example");
        three_sites_done(&t);
}

Test(tls_store, no_sni_or_unknown_name_get_the_default_site) {
        ThreeSites t;

        three_sites(&t, false);
        assert_served(t.b.store, NULL, "a.example");
        assert_served(t.b.store, "unknown.example", "a.example");
        three_sites_done(&t);
}

Test(tls_store, strict_sni_refuses_an_unknown_name_with_unrecognized_name) {
        ThreeSites t;
        Client c;

        three_sites(&t, true);
        cr_assert_not(handshake(&c, t.b.store, &(ClientOptions){.sni = "unknown.example"}));
        cr_assert_eq(c.alert_received, SSL_AD_UNRECOGNIZED_NAME, "alert %d", c.alert_received);
        client_done(&c);
        /* Known names and clients without SNI still get their site. */
        assert_served(t.b.store, "c.example", "c.example");
        assert_served(t.b.store, NULL, "a.example");
        three_sites_done(&t);
}

Test(tls_store, default_site_is_the_first_vhost_when_the_main_server_has_no_document_root) {
        char *listen[] = {(char *) LISTENER, NULL};
        TestSite s[2];
        Build b;

        make_cert("b", KEY_EC, NAMES("b.example"), -1, 365);
        site_init(&s[0], NULL); /* no ServerName, no DocumentRoot, no certificate */
        site_init(&s[1], "b.example");
        site_set_pair(&s[1], "b");
        build(&b, s, 2, listen, NULL);
        cr_assert_eq(b.r, 0);
        assert_served(b.store, NULL, "b.example");
        build_done(&b);
        site_done(&s[0]);
        site_done(&s[1]);
}

Test(tls_store, a_vhost_only_on_its_own_listener) {
        char *listen[] = {(char *) "https://127.0.0.1:8443", NULL};
        char *own[] = {(char *) LISTENER, NULL};
        char **const vlisten[] = {NULL, own};
        TestSite s[3];
        Build b;

        make_cert("a", KEY_EC, NAMES("a.example"), -1, 365);
        make_cert("b", KEY_EC, NAMES("b.example"), -1, 365);
        make_cert("c", KEY_EC, NAMES("c.example"), -1, 365);
        site_init(&s[0], "a.example");
        site_set_pair(&s[0], "a");
        site_init(&s[1], "b.example");
        site_set_pair(&s[1], "b");
        site_init(&s[2], "c.example");
        site_set_pair(&s[2], "c");
        build(&b, s, 3, listen, vlisten);
        print_messages("error", &b.errors);
        cr_assert_eq(b.r, 0);
        /* LISTENER is v2's alone: b.example and a.example are not reachable there. */
        assert_served(b.store, "b.example", "c.example");
        assert_served(b.store, "a.example", "c.example");
        assert_served(b.store, "c.example", "c.example");
        cr_assert_null(tls_store_new_ssl(b.store, "127.0.0.1:80"));
        build_done(&b);
        for (size_t i = 0; i < 3; i++)
                site_done(&s[i]);
}

Test(tls_store, ecdsa_and_rsa_side_by_side) {
        char *listen[] = {(char *) LISTENER, NULL};
        TestSite s;
        Build b;
        Client c;

        make_cert("ec", KEY_EC, NAMES("a.example"), -1, 365);
        make_cert("rsa", KEY_RSA, NAMES("a.example"), -1, 365);
        site_init(&s, "a.example");
        site_set_pair(&s, "ec");
        site_set_pair(&s, "rsa");
        build(&b, &s, 1, listen, NULL);
        print_messages("error", &b.errors);
        cr_assert_eq(b.r, 0);
        cr_assert(handshake(&c, b.store, &(ClientOptions){.sni = "a.example", .sigalgs = "ECDSA+SHA256"}));
        cr_assert_eq(peer_key_type(&c), EVP_PKEY_EC);
        client_done(&c);
        cr_assert(handshake(&c, b.store, &(ClientOptions){.sni = "a.example", .sigalgs = "rsa_pss_rsae_sha256"}));
        cr_assert_eq(peer_key_type(&c), EVP_PKEY_RSA);
        client_done(&c);
        build_done(&b);
        site_done(&s);
}

Test(tls_store, alpn_http11_or_none) {
        static const unsigned char h11[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
        static const unsigned char other[] = {2, 'h', '2', 6, 's', 'p', 'd', 'y', '/', '3'};
        ThreeSites t;
        const unsigned char *p;
        unsigned len;
        Client c;

        three_sites(&t, false);
        cr_assert(handshake(&c, t.b.store, &(ClientOptions){.sni = "b.example", .alpn = h11, .alpn_len = sizeof(h11)}));
        SSL_get0_alpn_selected(c.ssl, &p, &len);
        cr_assert_eq(len, 8);
        cr_assert_eq(memcmp(p, "http/1.1", 8), 0);
        client_done(&c);
        /* Only protocols we do not speak: no ALPN, and the connection goes on (as nginx). */
        cr_assert(handshake(&c, t.b.store,
                            &(ClientOptions){.sni = "b.example", .alpn = other, .alpn_len = sizeof(other)}));
        SSL_get0_alpn_selected(c.ssl, &p, &len);
        cr_assert_eq(len, 0);
        client_done(&c);
        three_sites_done(&t);
}

Test(tls_store, protocols_of_the_default_and_of_a_vhost) {
        char *listen[] = {(char *) LISTENER, NULL};
        TestSite s[2];
        Build b;
        Client c;

        make_cert("a", KEY_EC, NAMES("a.example"), -1, 365);
        make_cert("b", KEY_EC, NAMES("b.example"), -1, 365);
        site_init(&s[0], "a.example");
        site_set_pair(&s[0], "a");
        site_init(&s[1], "b.example");
        site_set_pair(&s[1], "b");
        site_set(&s[1], "SSLProtocol", "TLSv1.3");
        build(&b, s, 2, listen, NULL);
        cr_assert_eq(b.r, 0);
        cr_assert(handshake(&c, b.store, &(ClientOptions){.sni = "a.example", .max_version = TLS1_2_VERSION}));
        cr_assert_eq(SSL_version(c.ssl), TLS1_2_VERSION);
        client_done(&c);
        /* The vhost allows TLS 1.3 only: a TLS 1.2 client naming it is refused. */
        cr_assert_not(handshake(&c, b.store, &(ClientOptions){.sni = "b.example", .max_version = TLS1_2_VERSION}));
        cr_assert_eq(c.alert_received, SSL_AD_PROTOCOL_VERSION, "alert %d", c.alert_received);
        client_done(&c);
        cr_assert(handshake(&c, b.store, &(ClientOptions){.sni = "b.example"}));
        cr_assert_eq(SSL_version(c.ssl), TLS1_3_VERSION);
        client_done(&c);
        /* TLS 1.1 is not offered by default. */
        cr_assert_not(handshake(&c, b.store, &(ClientOptions){.sni = "a.example", .max_version = TLS1_1_VERSION}));
        client_done(&c);
        build_done(&b);
        site_done(&s[0]);
        site_done(&s[1]);
}

static const char *negotiated_cipher(const TlsStore *store, const char *sni, const char *client_ciphers) {
        static char name[64];
        Client c;

        cr_assert(handshake(&c, store,
                            &(ClientOptions){.sni = sni, .max_version = TLS1_2_VERSION, .ciphers = client_ciphers}),
                  "SNI %s", sni);
        snprintf(name, sizeof(name), "%s", SSL_get_cipher_name(c.ssl));
        client_done(&c);
        return name;
}

/* A site chosen by SNI brings its own cipher list and order, not the default site's. */
Test(tls_store, cipher_list_and_order_of_the_site_sni_chose) {
        const char *client =
                "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305";
        char *listen[] = {(char *) LISTENER, NULL};
        TestSite s[3];
        Build b;

        make_cert("a", KEY_EC, NAMES("a.example"), -1, 365);
        make_cert("b", KEY_EC, NAMES("b.example"), -1, 365);
        make_cert("c", KEY_EC, NAMES("c.example"), -1, 365);
        site_init(&s[0], "a.example");
        site_set_pair(&s[0], "a");
        site_init(&s[1], "b.example");
        site_set_pair(&s[1], "b");
        site_set(&s[1], "SSLHonorCipherOrder", "On");
        site_init(&s[2], "c.example");
        site_set_pair(&s[2], "c");
        site_set(&s[2], "SSLCipherSuite", "ECDHE-ECDSA-CHACHA20-POLY1305");
        build(&b, s, 3, listen, NULL);
        cr_assert_eq(b.r, 0);
        /* The default: the client's order. */
        cr_assert_str_eq(negotiated_cipher(b.store, "a.example", client), "ECDHE-ECDSA-AES256-GCM-SHA384");
        /* b: the server's (Mozilla's list starts with AES128). */
        cr_assert_str_eq(negotiated_cipher(b.store, "b.example", client), "ECDHE-ECDSA-AES128-GCM-SHA256");
        /* c: its own list only. */
        cr_assert_str_eq(negotiated_cipher(b.store, "c.example", client), "ECDHE-ECDSA-CHACHA20-POLY1305");
        build_done(&b);
        for (size_t i = 0; i < 3; i++)
                site_done(&s[i]);
}

/* A ticket resumes on its own site, never on another site of the same listener. */
static void resumption(int max_version) {
        ThreeSites t;
        SSL_SESSION *sess;
        Client c;

        three_sites(&t, false);
        cr_assert(handshake(&c, t.b.store, &(ClientOptions){.sni = "b.example", .max_version = max_version}));
        sess = client_session(&c);
        cr_assert_not_null(sess);
        client_done(&c);

        cr_assert(handshake(&c, t.b.store,
                            &(ClientOptions){.sni = "b.example", .max_version = max_version, .session = sess}));
        cr_assert(SSL_session_reused(c.ssl), "the same site resumes");
        client_done(&c);
        cr_assert(handshake(&c, t.b.store,
                            &(ClientOptions){.sni = "c.example", .max_version = max_version, .session = sess}));
        cr_assert_not(SSL_session_reused(c.ssl), "another site does not");
        client_done(&c);
        cr_assert(handshake(&c, t.b.store,
                            &(ClientOptions){.sni = "a.example", .max_version = max_version, .session = sess}));
        cr_assert_not(SSL_session_reused(c.ssl), "nor the default site");
        client_done(&c);
        SSL_SESSION_free(sess);
        three_sites_done(&t);
}

Test(tls_store, tickets_stay_with_their_site_tls13) {
        resumption(0);
}

Test(tls_store, tickets_stay_with_their_site_tls12) {
        resumption(TLS1_2_VERSION);
}

Test(tls_store, session_tickets_off_issues_none) {
        char *listen[] = {(char *) LISTENER, NULL};
        SSL_SESSION *sess;
        TestSite s;
        Build b;
        Client c;

        make_cert("a", KEY_EC, NAMES("a.example"), -1, 365);
        site_init(&s, "a.example");
        site_set_pair(&s, "a");
        site_set(&s, "SSLSessionTickets", "Off");
        build(&b, &s, 1, listen, NULL);
        cr_assert_eq(b.r, 0);
        cr_assert(handshake(&c, b.store, &(ClientOptions){.sni = "a.example"}));
        sess = client_session(&c);
        client_done(&c);
        cr_assert(handshake(&c, b.store, &(ClientOptions){.sni = "a.example", .session = sess}));
        cr_assert_not(SSL_session_reused(c.ssl));
        client_done(&c);
        SSL_SESSION_free(sess);
        build_done(&b);
        site_done(&s);
}

#if TEST_TICKET_KEYS
#include "mpm/tls-ticket-keys.h"

/* With the supervisor's ticket keys attached: a ticket resumes on its own site only, and on a
 * store built anew with the same keys (a reload). */
Test(tls_store, ticket_rings_per_site_and_across_a_rebuild) {
        TlsTicketKeys *keys = NULL;
        SSL_SESSION *sess;
        ThreeSites t, again;
        Client c;

        cr_assert_eq(tls_ticket_keys_new(&keys), 0);
        three_sites(&t, false);
        cr_assert_eq(tls_store_attach_tickets(t.b.store, keys, now_usec(CLOCK_REALTIME)), 0);
        cr_assert(handshake(&c, t.b.store, &(ClientOptions){.sni = "b.example"}));
        sess = client_session(&c);
        client_done(&c);
        cr_assert(handshake(&c, t.b.store, &(ClientOptions){.sni = "b.example", .session = sess}));
        cr_assert(SSL_session_reused(c.ssl), "the same site resumes");
        client_done(&c);
        cr_assert(handshake(&c, t.b.store, &(ClientOptions){.sni = "c.example", .session = sess}));
        cr_assert_not(SSL_session_reused(c.ssl), "another site does not");
        client_done(&c);

        three_sites(&again, false);
        cr_assert_eq(tls_store_attach_tickets(again.b.store, keys, now_usec(CLOCK_REALTIME)), 0);
        cr_assert(handshake(&c, again.b.store, &(ClientOptions){.sni = "b.example", .session = sess}));
        cr_assert(SSL_session_reused(c.ssl), "the rebuilt store resumes it");
        client_done(&c);
        SSL_SESSION_free(sess);
        three_sites_done(&again);
        three_sites_done(&t);
        tls_ticket_keys_free(keys);
}
#endif

/* ---- what building checks ------------------------------------------------------------------------- */

Test(tls_store, mismatched_pair_is_an_error_at_the_key_line) {
        char *listen[] = {(char *) LISTENER, NULL};
        _cleanup_free_ char *crt = NULL, *key = NULL;
        TestSite s;
        unsigned line;
        char prefix[64];
        Build b;

        make_cert("a", KEY_EC, NAMES("a.example"), -1, 365);
        make_cert("other", KEY_EC, NAMES("a.example"), -1, 365);
        crt = file_in_dir("a", "crt");
        key = file_in_dir("other", "key");
        site_init(&s, "a.example");
        site_set(&s, "SSLCertificateFile", crt);
        line = site_set(&s, "SSLCertificateKeyFile", key);
        build(&b, &s, 1, listen, NULL);
        cr_assert_eq(b.r, -EINVAL);
        cr_assert_null(b.store);
        snprintf(prefix, sizeof(prefix), CONF ":%u: [Server] SSLCertificateKeyFile:", line);
        assert_message(&b.errors, prefix, "does not match the certificate");
        build_done(&b);
        site_done(&s);
}

Test(tls_store, an_rsa_key_for_an_ecdsa_certificate) {
        char *listen[] = {(char *) LISTENER, NULL};
        _cleanup_free_ char *crt = NULL, *key = NULL;
        TestSite s;
        unsigned line;
        char prefix[64];
        Build b;

        make_cert("a", KEY_EC, NAMES("a.example"), -1, 365);
        make_cert("r", KEY_RSA, NAMES("a.example"), -1, 365);
        crt = file_in_dir("a", "crt");
        key = file_in_dir("r", "key");
        site_init(&s, "a.example");
        site_set(&s, "SSLCertificateFile", crt);
        line = site_set(&s, "SSLCertificateKeyFile", key);
        build(&b, &s, 1, listen, NULL);
        cr_assert_eq(b.r, -EINVAL);
        snprintf(prefix, sizeof(prefix), CONF ":%u: [Server] SSLCertificateKeyFile:", line);
        assert_message(&b.errors, prefix, "does not match");
        build_done(&b);
        site_done(&s);
}

Test(tls_store, missing_and_broken_files) {
        char *listen[] = {(char *) LISTENER, NULL};
        _cleanup_free_ char *key = NULL, *junk = NULL;
        TestSite s;
        unsigned cline, kline;
        char prefix[64];
        Build b;
        FILE *f;

        make_cert("a", KEY_EC, NAMES("a.example"), -1, 365);
        key = file_in_dir("a", "key");
        junk = file_in_dir("junk", "crt");
        f = fopen(junk, "w");
        fputs("not a certificate\n", f);
        fclose(f);
        site_init(&s, "a.example");
        cline = site_set(&s, "SSLCertificateFile", junk);
        kline = site_set(&s, "SSLCertificateKeyFile", "/nonexistent/a.key");
        build(&b, &s, 1, listen, NULL);
        cr_assert_eq(b.r, -EINVAL);
        snprintf(prefix, sizeof(prefix), CONF ":%u: [Server] SSLCertificateFile:", cline);
        assert_message(&b.errors, prefix, "not a PEM certificate chain");
        build_done(&b);
        site_done(&s);

        site_init(&s, "a.example");
        cline = site_set(&s, "SSLCertificateFile", "/nonexistent/a.crt");
        kline = site_set(&s, "SSLCertificateKeyFile", key);
        build(&b, &s, 1, listen, NULL);
        cr_assert_eq(b.r, -EINVAL);
        snprintf(prefix, sizeof(prefix), CONF ":%u: [Server] SSLCertificateFile:", cline);
        assert_message(&b.errors, prefix, "No such file or directory");
        build_done(&b);
        site_done(&s);
        (void) kline;
}

Test(tls_store, unknown_cipher_lists_are_errors_at_their_line) {
        char *listen[] = {(char *) LISTENER, NULL};
        TestSite s;
        unsigned l12, l13;
        char prefix[64];
        Build b;

        make_cert("a", KEY_EC, NAMES("a.example"), -1, 365);
        site_init(&s, "a.example");
        site_set_pair(&s, "a");
        l12 = site_set(&s, "SSLCipherSuite", "NO-SUCH-CIPHER:NOR-THIS");
        s.line += 3;
        {
                const ConfItem *it = conf_table_find(http_site_directives, "SSLCipherSuite");
                ConfApplyContext ctx = {.file = CONF, .line = s.line};
                _cleanup_free_ char *why = NULL;

                l13 = s.line++;
                cr_assert_eq(conf_item_apply_at(it, &s.cfg, "TLSv1.3 TLS_NO_SUCH_SUITE", &ctx, &why), 0);
        }
        build(&b, &s, 1, listen, NULL);
        cr_assert_eq(b.r, -EINVAL);
        snprintf(prefix, sizeof(prefix), CONF ":%u: [Server] SSLCipherSuite:", l12);
        assert_message(&b.errors, prefix, "NO-SUCH-CIPHER");
        snprintf(prefix, sizeof(prefix), CONF ":%u: [Server] SSLCipherSuite:", l13);
        assert_message(&b.errors, prefix, "TLS_NO_SUCH_SUITE");
        build_done(&b);
        site_done(&s);
}

Test(tls_store, unpaired_lines) {
        char *listen[] = {(char *) LISTENER, NULL};
        _cleanup_free_ char *crt = NULL;
        TestSite s;
        char prefix[64];
        unsigned line;
        Build b;

        make_cert("a", KEY_EC, NAMES("a.example"), -1, 365);
        crt = file_in_dir("a", "crt");
        site_init(&s, "a.example");
        line = site_set(&s, "SSLCertificateFile", crt);
        build(&b, &s, 1, listen, NULL);
        cr_assert_eq(b.r, -EINVAL);
        snprintf(prefix, sizeof(prefix), CONF ":%u: [Server] SSLCertificateFile:", line);
        assert_message(&b.errors, prefix, "pair in order");
        build_done(&b);
        site_done(&s);
}

Test(tls_store, two_certificates_of_one_kind) {
        char *listen[] = {(char *) LISTENER, NULL};
        TestSite s;
        Build b;

        make_cert("a", KEY_EC, NAMES("a.example"), -1, 365);
        make_cert("b", KEY_EC, NAMES("a.example"), -1, 365);
        site_init(&s, "a.example");
        site_set_pair(&s, "a");
        site_set_pair(&s, "b");
        build(&b, &s, 1, listen, NULL);
        cr_assert_eq(b.r, -EINVAL);
        assert_message(&b.errors, CONF ":12: [Server] SSLCertificateFile:", "same kind of key");
        build_done(&b);
        site_done(&s);
}

Test(tls_store, a_tls_listener_whose_default_site_has_no_certificate) {
        char *listen[] = {(char *) "127.0.0.1:80", (char *) LISTENER, NULL};
        TestSite s[2];
        Build b;

        make_cert("b", KEY_EC, NAMES("b.example"), -1, 365);
        site_init(&s[0], "a.example"); /* has a DocumentRoot: the default, without a certificate */
        site_init(&s[1], "b.example");
        site_set_pair(&s[1], "b");
        build(&b, s, 2, listen, NULL);
        cr_assert_eq(b.r, -EINVAL);
        cr_assert_null(b.store);
        assert_message(&b.errors, CONF ":2: [Server] Listen: " LISTENER, "[Server]");
        assert_message(&b.errors, CONF ":2:", "has no SSLCertificateFile");
        build_done(&b);
        site_done(&s[0]);
        site_done(&s[1]);
}

Test(tls_store, no_https_no_store) {
        char *listen[] = {(char *) "127.0.0.1:80", NULL};
        TestSite s;
        Build b;

        site_init(&s, "a.example");
        build(&b, &s, 1, listen, NULL);
        cr_assert_eq(b.r, 0);
        cr_assert_null(b.store);
        cr_assert_eq(b.errors.n, 0);
        build_done(&b);
        site_done(&s);
}

Test(tls_store, expired_and_expiring_are_warnings) {
        char *listen[] = {(char *) LISTENER, NULL};
        TestSite s[4];
        Build b;

        make_cert("old", KEY_EC, NAMES("a.example"), -30, -2);
        make_cert("soon", KEY_EC, NAMES("b.example"), -30, 5);
        make_cert("fine", KEY_EC, NAMES("c.example"), -30, 20);
        make_cert("future", KEY_EC, NAMES("d.example"), 2, 300);
        site_init(&s[0], "a.example");
        site_set_pair(&s[0], "old");
        site_init(&s[1], "b.example");
        site_set_pair(&s[1], "soon");
        site_init(&s[2], "c.example");
        site_set_pair(&s[2], "fine");
        site_init(&s[3], "d.example");
        site_set_pair(&s[3], "future");
        build(&b, s, 4, listen, NULL);
        cr_assert_eq(b.r, 0, "warnings never fail");
        cr_assert_not_null(b.store);
        assert_message(&b.warnings, CONF ":10: [Server] SSLCertificateFile:", "expired on 20");
        assert_message(&b.warnings, CONF ":10: [VirtualHost v1] SSLCertificateFile:", "expires on 20");
        assert_message(&b.warnings, CONF ":10: [VirtualHost v1] SSLCertificateFile:", "in 5 days");
        assert_message(&b.warnings, CONF ":10: [VirtualHost v3] SSLCertificateFile:", "is not valid before 20");
        cr_assert_eq(b.warnings.n, 3);
        build_done(&b);
        for (size_t i = 0; i < 4; i++)
                site_done(&s[i]);
}

Test(tls_store, names_the_certificate_does_not_cover_are_warnings) {
        char *listen[] = {(char *) LISTENER, NULL};
        TestSite s;
        Build b;

        make_cert("a", KEY_EC, NAMES("a.example", "*.w.example"), -1, 365);
        site_init(&s, "www.a.example");
        site_set(&s, "ServerAlias", "a.example x.w.example *.w.example *.other.example");
        site_set_pair(&s, "a");
        build(&b, &s, 1, listen, NULL);
        cr_assert_eq(b.r, 0);
        assert_message(&b.warnings,
                       CONF ":11: [Server] SSLCertificateFile:", "does not cover ServerName www.a.example");
        assert_message(&b.warnings,
                       CONF ":11: [Server] SSLCertificateFile:", "does not cover ServerAlias *.other.example");
        cr_assert_eq(b.warnings.n, 2);
        build_done(&b);
        site_done(&s);
}

Test(tls_store, a_key_from_systemd_credentials) {
        char *listen[] = {(char *) LISTENER, NULL};
        _cleanup_free_ char *crt = NULL, *key = NULL, *cred = NULL;
        TestSite s;
        unsigned line;
        char prefix[64];
        Build b;

        make_cert("a", KEY_EC, NAMES("a.example"), -1, 365);
        crt = file_in_dir("a", "crt");
        key = file_in_dir("a", "key");
        cr_assert(asprintf(&cred, "%s/mpmd-key", dir) > 0);
        cr_assert_eq(rename(key, cred), 0);

        site_init(&s, "a.example");
        site_set(&s, "SSLCertificateFile", crt);
        line = site_set(&s, "SSLCertificateKeyFile", "credential:mpmd-key");
        snprintf(prefix, sizeof(prefix), CONF ":%u: [Server] SSLCertificateKeyFile:", line);

        /* Not under systemd: said so. */
        build(&b, &s, 1, listen, NULL);
        cr_assert_eq(b.r, -EINVAL);
        assert_message(&b.errors, prefix, "$CREDENTIALS_DIRECTORY is not set");
        build_done(&b);

        setenv("CREDENTIALS_DIRECTORY", dir, 1);
        build(&b, &s, 1, listen, NULL);
        print_messages("error", &b.errors);
        cr_assert_eq(b.r, 0);
        assert_served(b.store, "a.example", "a.example");
        build_done(&b);

        /* A credential the unit does not load. */
        cr_assert_eq(unlink(cred), 0);
        build(&b, &s, 1, listen, NULL);
        cr_assert_eq(b.r, -EINVAL);
        assert_message(&b.errors, prefix, "mpmd-key: No such file or directory");
        build_done(&b);
        unsetenv("CREDENTIALS_DIRECTORY");
        site_done(&s);
}

Test(tls_store, the_library_version) {
        cr_assert_eq(strncmp(tls_library_version(), "OpenSSL 3.", 10), 0, "%s", tls_library_version());
}

Test(tls_store, alpn_choice) {
        static const unsigned char both[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
        static const unsigned char none[] = {6, 's', 'p', 'd', 'y', '/', '3'};
        const unsigned char *p;
        unsigned char len = 0;

        p = tls_store_alpn_choose(both, sizeof(both), &len);
        cr_assert_not_null(p);
        cr_assert_eq(len, 8);
        cr_assert_eq(memcmp(p, "http/1.1", 8), 0);
        cr_assert_null(tls_store_alpn_choose(none, sizeof(none), &len));
        cr_assert_null(tls_store_alpn_choose(none, 0, &len));
}
